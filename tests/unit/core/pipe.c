/*
 * The one-worker pipe: chunks are consumed whole and in order (a put
 * larger than a slot is split, with `at` advancing), the ring never holds
 * more than its slots, the first consumer error is kept until a drain
 * returns it, later chunks are then dropped, and stop drains first.
 */
#include <errno.h>
#include <string.h>

#include "testlib.h"
#include "pipe.h"

typedef struct {
	unsigned char *seen;   /* bytes consumed, at their `at` */
	size_t total;          /* bytes consumed */
	uint64_t next_at;      /* the `at` the next chunk must have */
	int fd;                /* the fd every chunk must carry */
	size_t fail_after;     /* fail the chunk that passes this many bytes */
	size_t calls;
} sink;

static int consume(void *payload, const void *buf, size_t len, int fd, uint64_t at)
{
	sink *s = payload;

	s->calls++;
	if (fd != s->fd || at != s->next_at || len == 0 || len > FERRY_PIPE_SLOT)
		return EINVAL;
	if (s->fail_after && s->total + len > s->fail_after)
		return ENOSPC;
	memcpy(s->seen + at, buf, len);
	s->total += len;
	s->next_at = at + len;
	return 0;
}

static void test_core_pipe__in_order_and_split(void **state)
{
	size_t n = 5 * FERRY_PIPE_SLOT + 12345, i;
	unsigned char *data = malloc(n);
	sink s = { calloc(1, n), 0, 0, 7, 0, 0 };
	ferry_pipe *p;

	(void)state;
	assert_non_null(data);
	assert_non_null(s.seen);
	for (i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 31 + i / 977);
	assert_int_equal(ferry_pipe_start(&p, consume, &s), 0);
	ferry_pipe_put(p, 7, 0, data, 1000);                   /* small */
	ferry_pipe_put(p, 7, 1000, data + 1000, n - 1000);    /* split into slots */
	assert_int_equal(ferry_pipe_drain(p), 0);
	assert_int_equal(s.total, n);
	assert_memory_equal(s.seen, data, n);
	assert_int_equal(s.calls, 1 + (n - 1000 + FERRY_PIPE_SLOT - 1) / FERRY_PIPE_SLOT);
	ferry_pipe_stop(p);
	free(s.seen);
	free(data);
}

static void test_core_pipe__first_error_kept_then_cleared(void **state)
{
	size_t n = 3 * FERRY_PIPE_SLOT;
	unsigned char *data = calloc(1, n);
	sink s = { calloc(1, n), 0, 0, 3, FERRY_PIPE_SLOT + 1, 0 };
	ferry_pipe *p;

	(void)state;
	assert_non_null(data);
	assert_int_equal(ferry_pipe_start(&p, consume, &s), 0);
	ferry_pipe_put(p, 3, 0, data, n);
	assert_int_equal(ferry_pipe_drain(p), ENOSPC);
	/* the chunk after the failing one was dropped, not consumed */
	assert_int_equal(s.total, FERRY_PIPE_SLOT);
	assert_int_equal(s.calls, 2);
	assert_int_equal(ferry_pipe_drain(p), 0);   /* reported once */
	ferry_pipe_stop(p);
	free(s.seen);
	free(data);
}

static void test_core_pipe__stop_consumes_what_is_queued(void **state)
{
	unsigned char data[100] = { 1, 2, 3 };
	sink s = { calloc(1, sizeof(data)), 0, 0, 1, 0, 0 };
	ferry_pipe *p;

	(void)state;
	assert_int_equal(ferry_pipe_start(&p, consume, &s), 0);
	ferry_pipe_put(p, 1, 0, data, sizeof(data));
	ferry_pipe_stop(p);
	assert_int_equal(s.total, sizeof(data));
	assert_memory_equal(s.seen, data, sizeof(data));
	ferry_pipe_stop(NULL);
	free(s.seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_pipe__in_order_and_split),
		cmocka_unit_test(test_core_pipe__first_error_kept_then_cleared),
		cmocka_unit_test(test_core_pipe__stop_consumes_what_is_queued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
