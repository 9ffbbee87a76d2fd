/*
 * The reconciler's audit trail: every cycle is an event recorded in the
 * store (store/stacks.h) and, when asked, written as a JSON line for a
 * SIEM.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "reconcile.h"
#include "util.h"
#include "banned.h"

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

int ferry_audit_record(ferry_store *st, FILE *stream, const ferry_store_stack_event *ev)
{
	int error = ferry_store_stack_event_add(st, ev);

	if (stream) {
		char when[32];
		json_t *o, *images = NULL;
		char *line;

		ferry_time_format(when, sizeof(when), ev->time);
		if (ev->images)
			images = json_loads(ev->images, 0, NULL);
		o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:s,s:b,s:o,s:o}",
			      "event", "reconcile", "time", when, "stack", ev->stack,
			      "trigger", ev->trigger, "actor", ev->actor, "source", ev->source,
			      "ref", opt_str(ev->ref), "revision", opt_str(ev->revision),
			      "images", images ? images : json_array(),
			      "bundle", opt_str(ev->bundle_id), "channel", opt_str(ev->channel),
			      "sequence", ev->sequence > 0 ? json_integer(ev->sequence) : json_null(),
			      "target", ev->runtime, "outcome", ev->outcome, "drift", ev->drift,
			      "detail", opt_str(ev->detail), "error", opt_str(ev->error));
		if (o && (line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
			fprintf(stream, "%s\n", line);
			fflush(stream);
			free(line);
		}
		json_decref(o);
	}
	return error;
}
