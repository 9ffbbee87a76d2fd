/*
 * Library logging: libraries never print; they report through a sink that
 * the program installs. The level check happens before any formatting.
 */
#ifndef FERRY_CORE_LOG_H
#define FERRY_CORE_LOG_H

typedef enum {
	FERRY_LOG_ERROR = 0,
	FERRY_LOG_WARN = 1,
	FERRY_LOG_INFO = 2,
	FERRY_LOG_DEBUG = 3
} ferry_log_level;

typedef void (*ferry_log_sink)(ferry_log_level level, const char *message,
			       void *payload);

/** Install `sink` for messages at `max_level` or more severe (NULL: none). */
void ferry_log_set_sink(ferry_log_sink sink, ferry_log_level max_level,
			void *payload);
/** Nonzero when a message at `level` would reach the sink. */
int ferry_log_enabled(ferry_log_level level);
void ferry_log__write(ferry_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ferry_log(level, ...)                                   \
	do {                                                    \
		if (ferry_log_enabled(level))                   \
			ferry_log__write((level), __VA_ARGS__); \
	} while (0)

/** A sink that writes "ferry: <level>: message" lines to stderr. */
void ferry_log_stderr_sink(ferry_log_level level, const char *message,
			   void *payload);

#endif
