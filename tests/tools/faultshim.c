/*
 * faultshim: a counter-driven fault injector, loaded with LD_PRELOAD into
 * the ferry binary (and only into it: other programs it starts, such as
 * git, run unharmed). Every call of an interposed function that belongs to
 * a chosen class is counted; the Nth one fails the way a full or failing
 * disk or an exhausted heap makes it fail, once or from then on. Driven in
 * a loop over N by tests/fault/sweep.sh, it reaches every call site a run
 * makes, as SQLite's malloc and I/O tests and curl's torture tests do.
 *
 *   FERRY_FAULT=CLASSES:N[:MODE]   CLASSES is a comma list of
 *       alloc  malloc, calloc, realloc, strdup, strndup called from ferry's
 *              own code (not from the libraries it links)
 *       write  write, pwrite, writev on regular files, and fwrite, fflush,
 *              fclose on streams open for writing to them (never on
 *              standard input, output and error)
 *       sync   fsync, fdatasync, syncfs
 *       meta   open/openat/fopen for writing or creating, mkstemp, mkdtemp,
 *              mkdir, rename, renameat, renameat2, link, linkat, unlink, unlinkat
 *              (these two not with ENOSPC: removing needs no space),
 *              ftruncate, fallocate
 *       read   read, pread on regular files
 *   N = 0 counts and fails nothing. MODE is one of
 *       enospc (the default for write, meta), eio (sync, read), enomem
 *       (alloc), short (the Nth write of two bytes or more from ferry's
 *       own code writes half and says so: not an error, the result must be
 *       the same as without it; libraries keep their own rules, SQLite for
 *       one takes a short write to its shared memory file as an error);
 *       a trailing "+" (enospc+) makes every later call of the classes
 *       fail too, as a disk that stays full does.
 *   FERRY_FAULT_REPORT=FILE   appended at exit: "calls C", "sites S" (the
 *       distinct return addresses of counted calls), and at the fault
 *       "fault N CLASS FUNCTION MODULE+OFFSET".
 *   FERRY_FAULT_EXE=NAME      the program name to act in (default ferry).
 *   FERRY_FAULT_BACKTRACE=1   also write the stack at the fault to the
 *       report (addresses: `addr2line -f -e ferry OFFSET` names them).
 *
 * Not a part of ferry: a test tool, built only without sanitizers (their
 * runtimes must be loaded first and interpose the same functions).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum { C_ALLOC = 1, C_WRITE = 2, C_SYNC = 4, C_META = 8, C_READ = 16 };
enum { M_ERRNO, M_SHORT };

static int active;            /* this process is the one to act in */
static int classes;           /* classes counted */
static unsigned long target;  /* the call that fails, 0 for none */
static int mode = M_ERRNO;
static int fault_errno;       /* 0: the class's default */
static int persist;
static int backtraces;
static atomic_ulong calls;
static atomic_int fired;
static char report[4096];
static uintptr_t exe_lo, exe_hi; /* ferry's own executable segments */

#define SITES 65536
static _Atomic uintptr_t sites[SITES];

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_pread)(int, void *, size_t, off_t);
static size_t (*real_fwrite)(const void *, size_t, size_t, FILE *);
static int (*real_fflush)(FILE *);
static int (*real_fclose)(FILE *);
static FILE *(*real_fopen)(const char *, const char *);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_syncfs)(int);
static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_mkstemp)(char *);
static char *(*real_mkdtemp)(char *);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_ftruncate)(int, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, fd;

	if (!report[0])
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	fd = (int)syscall(SYS_openat, AT_FDCWD, report,
			  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)syscall(SYS_write, fd, line, (size_t)n);
	(void)syscall(SYS_close, fd);
}

static void note_site(uintptr_t ret)
{
	size_t i = (ret * 0x9E3779B97F4A7C15ull) >> 48;

	for (size_t probe = 0; probe < SITES; probe++, i = (i + 1) % SITES) {
		uintptr_t seen = atomic_load(&sites[i]);
		if (seen == ret)
			return;
		if (!seen && atomic_compare_exchange_strong(&sites[i], &seen, ret))
			return;
		if (seen == ret)
			return;
	}
}

static void where(uintptr_t ret, char *out, size_t len)
{
	Dl_info info;

	if (dladdr((void *)ret, &info) && info.dli_fname) {
		const char *base = strrchr(info.dli_fname, '/');
		snprintf(out, len, "%s+0x%lx", base ? base + 1 : info.dli_fname,
			 (unsigned long)(ret - (uintptr_t)info.dli_fbase));
	} else {
		snprintf(out, len, "0x%lx", (unsigned long)ret);
	}
}

static void trace(void)
{
	void *frames[32];
	char site[256];
	int n = backtrace(frames, 32);

	for (int i = 2; i < n; i++) {
		where((uintptr_t)frames[i] - 1, site, sizeof(site));
		say("  at %s\n", site);
	}
}

/*
 * Count one call of class `cls` made from return address `ret`; nonzero
 * when it is to fail.
 */
static int hit(int cls, const char *fn, uintptr_t ret)
{
	unsigned long n;
	char site[256];

	if (!active || !(classes & cls))
		return 0;
	if ((cls == C_ALLOC || mode == M_SHORT) && (ret < exe_lo || ret >= exe_hi))
		return 0;
	n = atomic_fetch_add(&calls, 1) + 1;
	note_site(ret);
	if (!target || n < target)
		return 0;
	if (n > target && !persist)
		return 0;
	if (n == target) {
		atomic_store(&fired, 1);
		where(ret, site, sizeof(site));
		say("fault %lu %s %s %s\n", n,
		    cls == C_ALLOC ? "alloc" : cls == C_WRITE ? "write" :
		    cls == C_SYNC ? "sync" : cls == C_META ? "meta" : "read",
		    fn, site);
		if (backtraces)
			trace();
	}
	return 1;
}

static int err_for(int cls)
{
	if (fault_errno)
		return fault_errno;
	switch (cls) {
	case C_ALLOC: return ENOMEM;
	case C_SYNC:
	case C_READ: return EIO;
	default: return ENOSPC;
	}
}

static int regular(int fd)
{
	struct stat st;

	return fd > 2 && !syscall(SYS_fstat, fd, &st) && S_ISREG(st.st_mode);
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	/* the first object is the main program */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo, hi;
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		lo = info->dlpi_addr + ph->p_vaddr;
		hi = lo + ph->p_memsz;
		if (!exe_lo || lo < exe_lo)
			exe_lo = lo;
		if (hi > exe_hi)
			exe_hi = hi;
	}
	return 1;
}

#define RESOLVE(name) (*(void **)&real_##name = dlsym(RTLD_NEXT, #name))

__attribute__((constructor)) static void faultshim_init(void)
{
	const char *spec = getenv("FERRY_FAULT"), *exe = getenv("FERRY_FAULT_EXE");
	const char *rep = getenv("FERRY_FAULT_REPORT");
	char self[4096], list[256], *colon, *tok, *save;
	const char *base;
	ssize_t n;

	RESOLVE(write); RESOLVE(pwrite); RESOLVE(writev); RESOLVE(read);
	RESOLVE(pread); RESOLVE(fwrite); RESOLVE(fflush); RESOLVE(fclose);
	RESOLVE(fopen); RESOLVE(fsync); RESOLVE(fdatasync); RESOLVE(syncfs);
	RESOLVE(open); RESOLVE(openat); RESOLVE(mkstemp); RESOLVE(mkdtemp);
	RESOLVE(mkdir); RESOLVE(rename); RESOLVE(renameat); RESOLVE(renameat2); RESOLVE(link);
	RESOLVE(linkat); RESOLVE(unlink); RESOLVE(unlinkat); RESOLVE(ftruncate);
	RESOLVE(fallocate);

	if (!spec || !*spec)
		return;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	base = strrchr(self, '/');
	base = base ? base + 1 : self;
	if (strcmp(base, exe && *exe ? exe : "ferry"))
		return;
	backtraces = getenv("FERRY_FAULT_BACKTRACE") != NULL;
	if (rep && strlen(rep) < sizeof(report))
		strcpy(report, rep);

	snprintf(list, sizeof(list), "%s", spec);
	if (!(colon = strchr(list, ':')))
		return;
	*colon++ = '\0';
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "alloc")) classes |= C_ALLOC;
		else if (!strcmp(tok, "write")) classes |= C_WRITE;
		else if (!strcmp(tok, "sync")) classes |= C_SYNC;
		else if (!strcmp(tok, "meta")) classes |= C_META;
		else if (!strcmp(tok, "read")) classes |= C_READ;
	}
	target = strtoul(colon, &colon, 10);
	if (*colon == ':') {
		colon++;
		if (!strncmp(colon, "enospc", 6)) fault_errno = ENOSPC;
		else if (!strncmp(colon, "eio", 3)) fault_errno = EIO;
		else if (!strncmp(colon, "enomem", 6)) fault_errno = ENOMEM;
		else if (!strncmp(colon, "short", 5)) mode = M_SHORT;
		persist = strchr(colon, '+') != NULL;
	}
	dl_iterate_phdr(phdr_cb, NULL);
	active = 1;
}

__attribute__((destructor)) static void faultshim_fini(void)
{
	size_t distinct = 0;

	if (!active)
		return;
	for (size_t i = 0; i < SITES; i++)
		distinct += atomic_load(&sites[i]) != 0;
	say("calls %lu\nsites %zu\nfired %d\n", (unsigned long)atomic_load(&calls),
	    distinct, atomic_load(&fired));
}

#define RET ((uintptr_t)__builtin_return_address(0))
#define FAIL(cls, fn, val)                                                       \
	do {                                                                     \
		if (hit(cls, fn, RET)) {                                         \
			errno = err_for(cls);                                    \
			return val;                                              \
		}                                                                \
	} while (0)

/* allocation, from ferry's own code */

void *malloc(size_t n)
{
	FAIL(C_ALLOC, "malloc", NULL);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	FAIL(C_ALLOC, "calloc", NULL);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	FAIL(C_ALLOC, "realloc", NULL);
	return __libc_realloc(p, n);
}

char *strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;

	FAIL(C_ALLOC, "strdup", NULL);
	if ((d = __libc_malloc(n)))
		memcpy(d, s, n);
	return d;
}

char *strndup(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *d;

	FAIL(C_ALLOC, "strndup", NULL);
	if ((d = __libc_malloc(n + 1))) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* writes to regular files */

static int short_write(size_t *n)
{
	if (*n < 2)
		return 0;
	*n /= 2;
	return 1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
	if (regular(fd) && hit(C_WRITE, "write", RET)) {
		if (mode == M_SHORT && short_write(&n))
			return real_write(fd, buf, n);
		errno = err_for(C_WRITE);
		return -1;
	}
	return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	if (regular(fd) && hit(C_WRITE, "pwrite", RET)) {
		if (mode == M_SHORT && short_write(&n))
			return real_pwrite(fd, buf, n, off);
		errno = err_for(C_WRITE);
		return -1;
	}
	return real_pwrite(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
	__attribute__((alias("pwrite")));

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (regular(fd) && hit(C_WRITE, "writev", RET)) {
		if (mode == M_SHORT && cnt > 0) {
			struct iovec one = iov[0];
			if (short_write(&one.iov_len))
				return real_writev(fd, &one, 1);
		}
		errno = err_for(C_WRITE);
		return -1;
	}
	return real_writev(fd, iov, cnt);
}

size_t fwrite(const void *buf, size_t size, size_t nmemb, FILE *f)
{
	if (__fwritable(f) && regular(fileno(f)) && mode != M_SHORT &&
	    hit(C_WRITE, "fwrite", RET)) {
		errno = err_for(C_WRITE);
		return 0;
	}
	return real_fwrite(buf, size, nmemb, f);
}

int fflush(FILE *f)
{
	if (f && __fwritable(f) && regular(fileno(f)) && mode != M_SHORT &&
	    hit(C_WRITE, "fflush", RET)) {
		errno = err_for(C_WRITE);
		return EOF;
	}
	return real_fflush(f);
}

int fclose(FILE *f)
{
	if (__fwritable(f) && regular(fileno(f)) && mode != M_SHORT &&
	    hit(C_WRITE, "fclose", RET)) {
		/* the stream is gone either way, as a failed close leaves it */
		int e = err_for(C_WRITE);
		(void)real_fclose(f);
		errno = e;
		return EOF;
	}
	return real_fclose(f);
}

/* reads from regular files */

ssize_t read(int fd, void *buf, size_t n)
{
	if (regular(fd))
		FAIL(C_READ, "read", -1);
	return real_read(fd, buf, n);
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	if (regular(fd))
		FAIL(C_READ, "pread", -1);
	return real_pread(fd, buf, n, off);
}
ssize_t pread64(int fd, void *buf, size_t n, off_t off)
	__attribute__((alias("pread")));

/* durability */

int fsync(int fd)
{
	FAIL(C_SYNC, "fsync", -1);
	return real_fsync(fd);
}

int fdatasync(int fd)
{
	FAIL(C_SYNC, "fdatasync", -1);
	return real_fdatasync(fd);
}

int syncfs(int fd)
{
	FAIL(C_SYNC, "syncfs", -1);
	return real_syncfs(fd);
}

/* metadata: files created, renamed, linked, removed, sized */

static int writing(int flags)
{
	return (flags & (O_CREAT | O_TRUNC)) || (flags & O_ACCMODE) != O_RDONLY;
}

/* The mode argument of open and openat: there only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(m, flags)                                                       \
	do {                                                                     \
		if (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE) { \
			va_list ap;                                              \
			va_start(ap, flags);                                     \
			(m) = va_arg(ap, mode_t);                                \
			va_end(ap);                                              \
		}                                                                \
	} while (0)

int open(const char *path, int flags, ...)
{
	mode_t m = 0;

	MODE_ARG(m, flags);
	if (writing(flags))
		FAIL(C_META, "open", -1);
	return real_open(path, flags, m);
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dir, const char *path, int flags, ...)
{
	mode_t m = 0;

	MODE_ARG(m, flags);
	if (writing(flags))
		FAIL(C_META, "openat", -1);
	return real_openat(dir, path, flags, m);
}
int openat64(int dir, const char *path, int flags, ...) __attribute__((alias("openat")));

FILE *fopen(const char *path, const char *how)
{
	if (strpbrk(how, "wa+"))
		FAIL(C_META, "fopen", NULL);
	return real_fopen(path, how);
}
FILE *fopen64(const char *path, const char *how) __attribute__((alias("fopen")));

int mkstemp(char *tmpl)
{
	FAIL(C_META, "mkstemp", -1);
	return real_mkstemp(tmpl);
}
int mkstemp64(char *tmpl) __attribute__((alias("mkstemp")));

char *mkdtemp(char *tmpl)
{
	FAIL(C_META, "mkdtemp", NULL);
	return real_mkdtemp(tmpl);
}

int mkdir(const char *path, mode_t m)
{
	FAIL(C_META, "mkdir", -1);
	return real_mkdir(path, m);
}

int rename(const char *from, const char *to)
{
	FAIL(C_META, "rename", -1);
	return real_rename(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	FAIL(C_META, "renameat", -1);
	return real_renameat(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	FAIL(C_META, "renameat2", -1);
	return real_renameat2(fd1, from, fd2, to, flags);
}

int link(const char *from, const char *to)
{
	FAIL(C_META, "link", -1);
	return real_link(from, to);
}

int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	FAIL(C_META, "linkat", -1);
	return real_linkat(fd1, from, fd2, to, flags);
}

/* Removing a file needs no space: a full disk never fails it. */
int unlink(const char *path)
{
	if (err_for(C_META) != ENOSPC)
		FAIL(C_META, "unlink", -1);
	return real_unlink(path);
}

int unlinkat(int dir, const char *path, int flags)
{
	if (err_for(C_META) != ENOSPC)
		FAIL(C_META, "unlinkat", -1);
	return real_unlinkat(dir, path, flags);
}

int ftruncate(int fd, off_t len)
{
	FAIL(C_META, "ftruncate", -1);
	return real_ftruncate(fd, len);
}
int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

int fallocate(int fd, int how, off_t off, off_t len)
{
	FAIL(C_META, "fallocate", -1);
	return real_fallocate(fd, how, off, len);
}
int fallocate64(int fd, int how, off_t off, off_t len) __attribute__((alias("fallocate")));
