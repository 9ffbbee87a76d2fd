/*
 * The console's HTML writer and form readers: outside text escaped for
 * markup (and for control bytes and invalid UTF-8 first), %.Ns cutting at a
 * character, a failed page remembered, URL encoding, form fields decoded
 * and malformed ones refused, cookies found among others.
 */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "html.h"
#include "ferry/errors.h"

static void test_console_html__escapes_markup_and_controls(void **state)
{
	ferry_html h = FERRY_HTML_INIT;

	(void)state;
	ferry_html_printf(&h, "<td>%s</td><td>%d %u %zu %lld</td>",
			  "<script>alert('x')</script> & \"q\"\x1b[2K\xff", -3, 4u, (size_t)5,
			  -6LL);
	assert_int_equal(h.error, 0);
	assert_string_equal(h.b.ptr, "<td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
				     "&quot;q&quot;\\x1b[2K\\xff</td><td>-3 4 5 -6</td>");
	ferry_html_dispose(&h);

	ferry_html_text(&h, NULL);
	ferry_html_raw(&h, "<b>");
	ferry_html_text(&h, "a<b");
	assert_string_equal(h.b.ptr, "<b>a&lt;b");
	ferry_html_dispose(&h);
}

static void test_console_html__precision_cuts_whole_characters(void **state)
{
	ferry_html h = FERRY_HTML_INIT;

	(void)state;
	/* "é" is two bytes: a cut in its middle backs off before it */
	ferry_html_printf(&h, "[%.3s][%.12s][%.2s]", "abé", "0123456789abcdef", "<<<");
	assert_int_equal(h.error, 0);
	assert_string_equal(h.b.ptr, "[ab][0123456789ab][&lt;&lt;]");
	ferry_html_dispose(&h);
}

static void test_console_html__failure_is_remembered(void **state)
{
	ferry_html h = FERRY_HTML_INIT;

	(void)state;
	h.b.limit = 8;
	ferry_html_raw(&h, "12345");
	ferry_html_raw(&h, "67890");   /* past the limit: the page is failed */
	assert_int_equal(h.error, FERRY_ETOOBIG);
	ferry_html_raw(&h, "x");
	assert_string_equal(h.b.ptr, "12345");
	assert_int_equal(h.error, FERRY_ETOOBIG);
	ferry_html_dispose(&h);
}

static void test_console_html__url(void **state)
{
	ferry_html h = FERRY_HTML_INIT;

	(void)state;
	ferry_html_url(&h, "web-1_a.b~/\"x y&<");
	assert_string_equal(h.b.ptr, "web-1_a.b~%2F%22x%20y%26%3C");
	ferry_html_dispose(&h);
}

static void test_console_html__form(void **state)
{
	static const char body[] = "csrf=ab12&reason=CHG-1%3A+approved%21&confirm=yes&empty=&flag";
	char *v;

	(void)state;
	assert_int_equal(ferry_form_value(&v, body, strlen(body), "reason"), 0);
	assert_string_equal(v, "CHG-1: approved!");
	free(v);
	assert_int_equal(ferry_form_value(&v, body, strlen(body), "csrf"), 0);
	assert_string_equal(v, "ab12");
	free(v);
	assert_int_equal(ferry_form_value(&v, body, strlen(body), "empty"), 0);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(ferry_form_value(&v, body, strlen(body), "flag"), 0);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(ferry_form_value(&v, body, strlen(body), "reaso"), FERRY_ENOTFOUND);
	assert_int_equal(ferry_form_value(&v, body, strlen(body), "missing"), FERRY_ENOTFOUND);
	assert_null(v);
	/* a body cut in the middle of a field reads only what is there */
	assert_int_equal(ferry_form_value(&v, body, 9, "csrf"), 0);
	assert_string_equal(v, "ab12");
	free(v);
	assert_int_equal(ferry_form_value(&v, "a=%zz", 5, "a"), FERRY_EINVALID);
	assert_int_equal(ferry_form_value(&v, "a=%4", 4, "a"), FERRY_EINVALID);
	assert_int_equal(ferry_form_value(&v, "a=x%00y", 7, "a"), FERRY_EINVALID);
	assert_int_equal(ferry_form_value(&v, "a=x\0y", 5, "a"), FERRY_EINVALID);
	assert_int_equal(ferry_form_value(&v, NULL, 0, "a"), FERRY_ENOTFOUND);
}

static void test_console_html__cookie(void **state)
{
	char v[16];

	(void)state;
	assert_int_equal(ferry_cookie_value(v, sizeof(v), "a=1; ferry_console=tok; b=2",
					    "ferry_console"), 0);
	assert_string_equal(v, "tok");
	assert_int_equal(ferry_cookie_value(v, sizeof(v), "xferry_console=evil", "ferry_console"),
			 FERRY_ENOTFOUND);
	assert_int_equal(ferry_cookie_value(v, sizeof(v), "ferry_console=0123456789abcdefXX",
					    "ferry_console"), FERRY_ENOTFOUND);
	assert_int_equal(ferry_cookie_value(v, sizeof(v), "", "ferry_console"), FERRY_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_console_html__escapes_markup_and_controls),
		cmocka_unit_test(test_console_html__precision_cuts_whole_characters),
		cmocka_unit_test(test_console_html__failure_is_remembered),
		cmocka_unit_test(test_console_html__url),
		cmocka_unit_test(test_console_html__form),
		cmocka_unit_test(test_console_html__cookie),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
