/*
 * Process-wide log sink. Formatting happens only after the level check, so a
 * disabled debug message costs one comparison.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "banned.h"

static ferry_log_sink current_sink;
static ferry_log_level current_level = FERRY_LOG_WARN;
static void *current_payload;

void ferry_log_set_sink(ferry_log_sink sink, ferry_log_level max_level,
			void *payload)
{
	current_sink = sink;
	current_level = max_level;
	current_payload = payload;
}

int ferry_log_enabled(ferry_log_level level)
{
	return current_sink && level <= current_level;
}

void ferry_log__write(ferry_log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	current_sink(level, msg, current_payload);
}

void ferry_log_stderr_sink(ferry_log_level level, const char *message,
			   void *payload)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	(void)payload;
	fprintf(stderr, "ferry: %s: %s\n", names[level], message);
}
