/*
 * Writes past the page cache (core/direct.h): whatever the chunking of the
 * caller, the file holds exactly the bytes given, at the offsets given;
 * from an unaligned start, on a file system without O_DIRECT (tmpfs) and
 * with the caller's aligned chunks written straight, the same.
 */
#define _GNU_SOURCE   /* O_DIRECT */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "direct.h"
#include "fs.h"
#include "testlib.h"

#define TOTAL (3u * FERRY_DIRECT_CHUNK + 12345u)

static unsigned char *pattern(void)
{
	/* C11: the size is a multiple of the alignment */
	size_t size = (TOTAL + 2 * FERRY_DIRECT_ALIGN - 1) / FERRY_DIRECT_ALIGN * FERRY_DIRECT_ALIGN;
	unsigned char *p = aligned_alloc(FERRY_DIRECT_ALIGN, size);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < TOTAL + FERRY_DIRECT_ALIGN; i++)
		p[i] = (unsigned char)(i * 131 + i / 4099);
	return p;
}

/* Write `data` to a new file in `dir` from `at`, in pieces of `step` bytes
 * (0: the whole at once), and check what the file holds. */
static void write_and_check(const char *dir, const unsigned char *data, uint64_t at,
			    size_t step)
{
	const char *path = test_path(dir, "f");
	ferry_direct d;
	ferry_buf got = FERRY_BUF_INIT;
	size_t done = 0;
	int fd;

	unlink(path);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ferry_direct_init(&d), 0);
	ferry_direct_begin(&d, fd, at);
	while (done < TOTAL) {
		size_t n = step && TOTAL - done > step ? step : TOTAL - done;

		assert_int_equal(ferry_direct_write(&d, data + done, n), 0);
		done += n;
	}
	assert_int_equal(ferry_direct_finish(&d), 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_DIRECT, 0);
	ferry_direct_dispose(&d);
	assert_int_equal(close(fd), 0);
	assert_int_equal(ferry_fs_read_file(&got, path, TOTAL + at + 1), 0);
	assert_int_equal(got.size, at + TOTAL);
	assert_memory_equal(got.ptr + at, data, TOTAL);
	ferry_buf_dispose(&got);
}

static void test_core_direct__writes_exactly_the_bytes(void **state)
{
	char *dir = test_mkdtemp();
	unsigned char *data = pattern();
	static const size_t steps[] = { 0, 1, 511, 4096, 65537, FERRY_DIRECT_CHUNK,
					FERRY_DIRECT_CHUNK + 3 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		write_and_check(dir, data, 0, steps[i]);          /* aligned start */
		write_and_check(dir, data + 1, 0, steps[i]);      /* unaligned buffer */
	}
	write_and_check(dir, data, 512, 4096);                /* unaligned start */
	write_and_check(dir, data, 8192, 100000);
	free(data);
	test_rmdir(dir);
}

/* tmpfs takes no O_DIRECT: the writes go through the cache. */
static void test_core_direct__without_o_direct(void **state)
{
	char dir[] = "/dev/shm/ferry-direct.XXXXXX";
	unsigned char *data = pattern();

	(void)state;
	if (!mkdtemp(dir)) {
		free(data);
		skip();
	}
	write_and_check(dir, data, 0, 70000);
	free(data);
	unlink(test_path(dir, "f"));
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_direct__writes_exactly_the_bytes),
		cmocka_unit_test(test_core_direct__without_o_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
