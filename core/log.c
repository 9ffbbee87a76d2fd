/*
 * Process-wide log sink. Formatting happens only after the level check, so a
 * disabled debug message costs one comparison. Messages embed outside text,
 * so each is escaped (ferry_escape_bytes) before it reaches the sink: a sink
 * always gets one line with no control bytes.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "util.h"
#include <string.h>
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
	char raw[2048], msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	ferry_escape_bytes(msg, sizeof(msg), raw, strlen(raw));
	current_sink(level, msg, current_payload);
}

void ferry_log_stderr_sink(ferry_log_level level, const char *message,
			   void *payload)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	(void)payload;
	fprintf(stderr, "ferry: %s: %s\n", names[level], message);
}
