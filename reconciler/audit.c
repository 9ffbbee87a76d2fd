/*
 * The reconciler's audit trail: every cycle is an event recorded in the
 * store (store/stacks.h) and, when asked, written as a JSON line for a
 * SIEM.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "json.h"
#include "reconcile.h"
#include "util.h"
#include "banned.h"

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *ferry_audit__event_json(const ferry_store_stack_event *ev, const char *lead,
				json_t *lead_value)
{
	char when[32];
	json_t *images = NULL;

	ferry_time_format(when, sizeof(when), ev->time);
	/* the image list is JSON text the reconciler stored; unreadable: none */
	if (ev->images && ferry_json_parse(&images, ev->images, strlen(ev->images),
					   "an event's image list") < 0)
		images = NULL;
	return json_pack("{s:o,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:b,s:o,s:o,s:o}",
			 lead, lead_value, "time", when, "stack", ev->stack,
			 "trigger", ev->trigger, "actor", ev->actor, "source", ev->source,
			 "ref", opt_str(ev->ref), "revision", opt_str(ev->revision),
			 "images", images ? images : json_array(),
			 "bundle", opt_str(ev->bundle_id), "channel", opt_str(ev->channel),
			 "sequence", ev->sequence > 0 ? json_integer(ev->sequence) : json_null(),
			 "target", ev->runtime, "outcome", ev->outcome, "drift", ev->drift,
			 "detail", opt_str(ev->detail), "error", opt_str(ev->error),
			 "reason", opt_str(ev->reason));
}

int ferry_reason_check(const char *reason)
{
	size_t len = reason ? strlen(reason) : 0;

	if (!len)
		return ferry_error_set(FERRY_EINVALID, "a reason is empty");
	if (len > FERRY_REASON_MAX)
		return ferry_error_set(FERRY_EINVALID, "a reason is longer than %d bytes",
				       FERRY_REASON_MAX);
	/* escaping lengthens text only for control bytes and invalid UTF-8 */
	if (ferry_escape_bytes(NULL, 0, reason, len) != len)
		return ferry_error_set(FERRY_EINVALID, "a reason holds control characters or "
				       "invalid UTF-8");
	return 0;
}

int ferry_audit_record(ferry_store *st, FILE *stream, const ferry_store_stack_event *ev)
{
	int error = ferry_store_stack_event_add(st, ev);

	if (stream) {
		json_t *o = ferry_audit__event_json(ev, "event", json_string("reconcile"));
		char *line;

		if (o && (line = ferry_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
			fprintf(stream, "%s\n", line);
			fflush(stream);
			free(line);
		}
		json_decref(o);
	}
	return error;
}
