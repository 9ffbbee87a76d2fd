/*
 * ferry error model: functions that can fail return 0 on success or one of
 * the negative codes below, and leave a one-line message describing the
 * problem in a thread-local slot read with ferry_error_last().
 */
#ifndef FERRY_ERRORS_H
#define FERRY_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

/** Outcomes callers branch on. */
typedef enum {
	FERRY_OK = 0,
	FERRY_ERROR = -1,        /**< generic failure (see the message) */
	FERRY_ENOTFOUND = -2,    /**< a named thing does not exist */
	FERRY_EEXISTS = -3,      /**< refusing to replace something that exists */
	FERRY_EINVALID = -4,     /**< malformed or hostile input */
	FERRY_ECORRUPT = -5,     /**< content does not match its digest or size */
	FERRY_EVERIFY = -6,      /**< signature, trust or policy check failed */
	FERRY_EUNSUPPORTED = -7, /**< a version or feature this build does not know */
	FERRY_ETOOBIG = -8,      /**< input exceeds a documented limit */
	FERRY_EIO = -9,          /**< the operating system reported an error */
	FERRY_ENOMEM = -10       /**< out of memory */
} ferry_error_code;

/**
 * Record `code` with a printf-style message as the thread's last error and
 * return `code`, so callers can write `return ferry_error_set(...)`.
 */
int ferry_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Like ferry_error_set(), appending ": strerror(errno)". */
int ferry_error_set_errno(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Prefix the last message: "<formatted>: <previous message>", recorded with
 * `code`, which is returned.
 */
int ferry_error_wrap(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Record FERRY_ENOMEM with the message "out of memory" and return
 * FERRY_ENOMEM: the one way an allocation failure is reported.
 */
int ferry_error_oom(void);

/** The thread's last message; never NULL (empty when none was set). */
const char *ferry_error_last(void);

/** The code recorded with the last message (FERRY_OK when none). */
int ferry_error_last_code(void);

/** Forget the last error. */
void ferry_error_clear(void);

/** A short name for a code, such as "verification failed". */
const char *ferry_error_name(int code);

#ifdef __cplusplus
}
#endif
#endif
