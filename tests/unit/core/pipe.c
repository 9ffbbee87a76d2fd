/*
 * The pipe: chunks are consumed whole and in order (a put larger than a
 * slot is split, with `at` advancing), the first consumer error is kept
 * until a drain returns it, later chunks are then dropped, and stop drains
 * first. With two consumers each sees every chunk, a slot is not refilled
 * before the slower one is past it, and one's error does not stop the
 * other.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "testlib.h"
#include "pipe.h"

typedef struct {
	unsigned char *seen;   /* bytes consumed, at their `at` */
	size_t total;          /* bytes consumed */
	uint64_t next_at;      /* the `at` the next chunk must have */
	int fd;                /* the fd every chunk must carry */
	size_t fail_after;     /* fail the chunk that passes this many bytes */
	size_t calls;
	long delay_ns;         /* sleep this long before each chunk */
} sink;

static int consume(void *payload, const void *buf, size_t len, int fd, uint64_t at)
{
	sink *s = payload;

	s->calls++;
	if (s->delay_ns) {
		struct timespec ts = { 0, s->delay_ns };

		nanosleep(&ts, NULL);
	}
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
	sink s = { calloc(1, n), 0, 0, 7, 0, 0, 0 };
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
	sink s = { calloc(1, n), 0, 0, 3, FERRY_PIPE_SLOT + 1, 0, 0 };
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
	sink s = { calloc(1, sizeof(data)), 0, 0, 1, 0, 0, 0 };
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

static unsigned char *pattern(size_t n)
{
	unsigned char *data = malloc(n);
	size_t i;

	assert_non_null(data);
	for (i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + i / 4093 + i / FERRY_PIPE_SLOT);
	return data;
}

static void test_core_pipe__two_consumers_see_every_chunk(void **state)
{
	/* More chunks than slots, and a slow consumer: a slot refilled before
	 * it was past would show as wrong bytes. */
	size_t n = (3 * FERRY_PIPE_SLOTS + 1) * FERRY_PIPE_SLOT + 77;
	unsigned char *data = pattern(n);
	sink fast = { calloc(1, n), 0, 0, 5, 0, 0, 0 };
	sink slow = { calloc(1, n), 0, 0, 5, 0, 0, 2000000 };
	ferry_pipe_fn fns[2] = { consume, consume };
	void *payloads[2] = { &fast, &slow };
	ferry_pipe *p;

	(void)state;
	assert_non_null(fast.seen);
	assert_non_null(slow.seen);
	assert_int_equal(ferry_pipe_start_many(&p, fns, payloads, 2), 0);
	ferry_pipe_put(p, 5, 0, data, n);
	assert_int_equal(ferry_pipe_drain(p), 0);
	assert_int_equal(fast.total, n);
	assert_int_equal(slow.total, n);
	assert_memory_equal(fast.seen, data, n);
	assert_memory_equal(slow.seen, data, n);
	ferry_pipe_stop(p);
	free(fast.seen);
	free(slow.seen);
	free(data);
}

static void test_core_pipe__one_consumer_fails_the_other_goes_on(void **state)
{
	size_t n = 4 * FERRY_PIPE_SLOT;
	unsigned char *data = pattern(n);
	sink ok = { calloc(1, n), 0, 0, 9, 0, 0, 0 };
	sink bad = { calloc(1, n), 0, 0, 9, 2 * FERRY_PIPE_SLOT + 1, 0, 0 };
	ferry_pipe_fn fns[2] = { consume, consume };
	void *payloads[2] = { &ok, &bad };
	ferry_pipe *p;

	(void)state;
	assert_int_equal(ferry_pipe_start_many(&p, fns, payloads, 2), 0);
	ferry_pipe_put(p, 9, 0, data, n);
	assert_int_equal(ferry_pipe_drain(p), ENOSPC);
	assert_int_equal(ok.total, n);
	assert_memory_equal(ok.seen, data, n);
	assert_int_equal(bad.total, 2 * FERRY_PIPE_SLOT);
	assert_int_equal(bad.calls, 3);   /* the fourth chunk was dropped */
	assert_int_equal(ferry_pipe_drain(p), 0);
	ferry_pipe_stop(p);
	free(ok.seen);
	free(bad.seen);
	free(data);
}

static void test_core_pipe__consumer_count_checked(void **state)
{
	ferry_pipe_fn fns[3] = { consume, consume, consume };
	sink s = { NULL, 0, 0, 0, 0, 0, 0 };
	void *payloads[3] = { &s, &s, &s };
	ferry_pipe *p = (ferry_pipe *)&s;

	(void)state;
	assert_int_equal(ferry_pipe_start_many(&p, fns, payloads, 0), FERRY_EINVALID);
	assert_null(p);
	assert_int_equal(ferry_pipe_start_many(&p, fns, payloads, 3), FERRY_EINVALID);
	assert_null(p);
	ferry_error_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_pipe__in_order_and_split),
		cmocka_unit_test(test_core_pipe__first_error_kept_then_cleared),
		cmocka_unit_test(test_core_pipe__stop_consumes_what_is_queued),
		cmocka_unit_test(test_core_pipe__two_consumers_see_every_chunk),
		cmocka_unit_test(test_core_pipe__one_consumer_fails_the_other_goes_on),
		cmocka_unit_test(test_core_pipe__consumer_count_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
