/*
 * The console's pages (private.h): each reads what it shows from the store
 * (under the console's lock), the reconciler (its status and events) and
 * the inboxes' status files, and writes one HTML document. No page runs a
 * script; every value from outside goes through ferry_html's escaping.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "control.h"
#include "fs.h"
#include "inbox.h"
#include "json.h"
#include "private.h"
#include "seed.h"
#include "stacks.h"
#include "targets.h"
#include "util.h"
#include "banned.h"

const char ferry_console__css[] =
	"*{box-sizing:border-box}"
	"body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
	"color:#1b1f24;background:#f4f5f7}"
	"header{background:#14325c;color:#fff;display:flex;align-items:center;gap:1.5em;"
	"padding:.5em 1.2em;flex-wrap:wrap}"
	"header .brand{font-weight:700;letter-spacing:.04em}"
	"header nav a{color:#dfe8f5;text-decoration:none;padding:.35em .6em;border-radius:4px}"
	"header nav a.active,header nav a:hover,header nav a:focus{background:#2b5394;color:#fff}"
	"header .who{margin-left:auto;display:flex;gap:.6em;align-items:center}"
	"main{padding:1em 1.2em;max-width:1320px}"
	"h1{font-size:1.35em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.4em 0 .4em}"
	"table{border-collapse:collapse;width:100%;background:#fff;margin:.3em 0 1em}"
	"th,td{text-align:left;padding:.3em .55em;border-bottom:1px solid #e2e5ea;"
	"vertical-align:top}"
	"th{background:#eef1f5;font-weight:600}"
	"td.num{text-align:right;font-variant-numeric:tabular-nums}"
	"code,.mono{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:.92em}"
	".badge{display:inline-block;padding:0 .5em;border-radius:9px;font-size:.85em;"
	"font-weight:600;background:#e2e5ea}"
	".ok{background:#d6f0dc;color:#185c2a}.warn{background:#fff0c2;color:#6a4b00}"
	".bad{background:#fbd9d7;color:#8a1c13}.muted{color:#5b6470}"
	"tr.stale td{background:#fff6db}"
	".cards{display:flex;gap:.8em;flex-wrap:wrap;margin:.3em 0 1em}"
	".card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.5em .9em;"
	"min-width:9em}"
	".card b{display:block;font-size:1.5em}"
	"form.inline{display:inline}"
	"fieldset{background:#fff;border:1px solid #dde1e7;border-radius:6px;margin:.6em 0;"
	"padding:.6em .9em}"
	"label{display:block;margin:.3em 0}"
	"input[type=text],input[type=password]{padding:.35em;width:22em;max-width:100%;"
	"border:1px solid #a9b1bc;border-radius:4px}"
	"button{padding:.35em .9em;border:1px solid #14325c;background:#14325c;color:#fff;"
	"border-radius:4px;cursor:pointer}"
	"button.plain{background:#fff;color:#14325c}"
	"a:focus,button:focus,input:focus,select:focus{outline:3px solid #f0b400;"
	"outline-offset:1px}"
	"pre.diff{background:#fff;border:1px solid #dde1e7;padding:.6em;overflow:auto;"
	"max-height:36em}"
	".message{padding:.6em .9em;border-radius:6px;margin:.6em 0}"
	"td.pre{white-space:pre-wrap;word-break:break-word}"
	"td:first-child{white-space:nowrap}"
	"header .badge{background:#2b5394;color:#fff}"
	"table.facts th{width:14em}"
	"label.inline{display:inline-block;margin:.3em 1.2em .3em 0}"
	"label.inline input[type=text]{width:12em}"
	"@media (max-width:900px){main{padding:.6em}}";

/* ---- small formatters ------------------------------------------------------ */

static const char *when(char buf[32], int64_t t)
{
	if (t <= 0 || ferry_time_format(buf, 32, t) < 0)
		return "-";
	return buf;
}

static const char *age(char buf[32], int64_t seconds)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 120)
		snprintf(buf, 32, "%lld s", (long long)seconds);
	else if (seconds < 7200)
		snprintf(buf, 32, "%lld min", (long long)(seconds / 60));
	else if (seconds < 172800)
		snprintf(buf, 32, "%lld h", (long long)(seconds / 3600));
	else
		snprintf(buf, 32, "%lld d", (long long)(seconds / 86400));
	return buf;
}

static const char *query(const ferry_console_view *v, const char *key)
{
	const char *s = MHD_lookup_connection_value(v->conn, MHD_GET_ARGUMENT_KIND, key);

	return s && *s ? s : NULL;
}

/* ---- frame -------------------------------------------------------------------- */

void ferry_console__page_open(ferry_html *h, const ferry_console_view *v, const char *title,
			      const char *active)
{
	static const char *const tabs[][2] = {
		{ "/", "Overview" }, { "/store", "Store" }, { "/stacks", "Stacks" },
		{ "/audit", "Audit" },
	};
	size_t i;

	ferry_html_printf(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			  "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
			  "<title>%s · ferry console</title>"
			  "<link rel=\"stylesheet\" href=\"/console.css\"></head><body>", title);
	ferry_html_raw(h, "<header><span class=\"brand\">ferry console</span><nav>");
	for (i = 0; v && i < sizeof(tabs) / sizeof(tabs[0]); i++)
		ferry_html_printf(h, "<a href=\"%s\"%s>%s</a>", tabs[i][0],
				  !strcmp(tabs[i][1], active) ? " class=\"active\" aria-current=\"page\""
							      : "",
				  tabs[i][1]);
	ferry_html_raw(h, "</nav>");
	if (v)
		ferry_html_printf(h, "<span class=\"who\"><span>%s <span class=\"badge\">%s</span>"
				  "</span><form class=\"inline\" method=\"post\" action=\"/logout\">"
				  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
				  "<button class=\"plain\" type=\"submit\">Log out</button></form></span>",
				  v->s.user, ferry_role_name(v->s.role), v->s.csrf);
	ferry_html_printf(h, "</header><main><h1>%s</h1>", title);
}

void ferry_console__page_close(ferry_html *h)
{
	ferry_html_raw(h, "</main></body></html>\n");
}

void ferry_console__login_page(ferry_html *h, const char *message)
{
	ferry_console__page_open(h, NULL, "Log in", "");
	if (message)
		ferry_html_printf(h, "<p class=\"message bad\" role=\"alert\">%s</p>", message);
	ferry_html_raw(h, "<form method=\"post\" action=\"/login\"><fieldset>"
			  "<label>User <input type=\"text\" name=\"user\" autocomplete=\"username\" "
			  "autofocus required maxlength=\"64\"></label>"
			  "<label>Password <input type=\"password\" name=\"password\" "
			  "autocomplete=\"current-password\" required></label>"
			  "<button type=\"submit\">Log in</button></fieldset></form>");
	ferry_console__page_close(h);
}

/* ---- stacks' status ------------------------------------------------------------ */

/* The reconciler's status (one home for what a stack's state is), as JSON:
 * of stack `only`, or of every stack (NULL). */
static int stack_status(json_t **out, ferry_console *c, const char *only)
{
	ferry_buf text = FERRY_BUF_INIT;
	int error;

	*out = NULL;
	if (!c->rc) {
		*out = json_array();
		return *out ? 0 : ferry_error_oom();
	}
	if ((error = ferry_reconciler_status_of(&text, c->rc, 1, only)) == 0)
		error = ferry_json_parse(out, text.ptr, text.size, "the stacks' status");
	ferry_buf_dispose(&text);
	return error;
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A stack's state for people: suspended, failed, frozen, drift, out of sync, in sync. */
static const char *stack_state(const json_t *st, const char **cls)
{
	const char *applied = str(st, "applied"), *desired = str(st, "desired");
	const char *last = str(st, "lastOutcome");

	*cls = "bad";
	if (json_is_true(json_object_get(st, "suspended"))) {
		*cls = "warn";
		return "suspended";
	}
	if (last && (!strcmp(last, "failed") || !strcmp(last, "rejected")))
		return "failed";
	*cls = "warn";
	if (last && !strcmp(last, "frozen"))
		return "frozen";
	if (json_is_true(json_object_get(st, "drift")))
		return "drift";
	if (!applied || !desired || strcmp(applied, desired))
		return "out of sync";
	*cls = "ok";
	return "in sync";
}

/* ---- overview ----------------------------------------------------------------- */

typedef struct {
	ferry_html *h;
	int64_t now, stale_after;
	size_t n, stale;
} channel_ctx;

static int channel_row(const ferry_store_channel *ch, void *payload)
{
	channel_ctx *x = payload;
	char t1[32], t2[32], a[32];
	int64_t last = ch->imported ? ch->imported : ch->created;
	int stale = x->now - last > x->stale_after;

	x->n++;
	x->stale += stale;
	ferry_html_printf(x->h, "<tr%s><td>%s%s</td><td class=\"num\">%llu</td>"
			  "<td class=\"mono\">%s</td><td>%s</td><td>%s</td><td>%s%s</td></tr>",
			  stale ? " class=\"stale\"" : "", ch->name,
			  stale ? " <span class=\"badge warn\">stale</span>" : "",
			  (unsigned long long)ch->sequence, ch->bundle_id, when(t1, ch->created),
			  when(t2, ch->imported), age(a, x->now - last), stale ? " ago" : " ago");
	return 0;
}

/* the last few audit entries with an outcome, newest first */
#define RECENT 10
typedef struct {
	int64_t id[RECENT], time[RECENT];
	char *text[RECENT];
	size_t n, next;
} recent_ctx;

static int recent_row(int64_t id, const ferry_store_audit_entry *e, void *payload)
{
	recent_ctx *x = payload;
	ferry_html row = FERRY_HTML_INIT;
	char t[32], seq[24] = "-";
	size_t slot = x->next;
	int error;

	if (e->channel)
		snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->sequence);
	ferry_html_printf(&row, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"num\">%s</td>"
			  "<td><span class=\"badge bad\">%s</span></td><td>%s</td></tr>",
			  when(t, e->time), e->event, e->channel ? e->channel : "-", seq,
			  e->outcome, e->reason ? e->reason : "");
	if (row.error) {
		error = row.error;
		ferry_html_dispose(&row);
		return error;
	}
	free(x->text[slot]);
	x->text[slot] = ferry_buf_detach(&row.b);
	x->id[slot] = id;
	x->time[slot] = e->time;
	x->next = (x->next + 1) % RECENT;
	if (x->n < RECENT)
		x->n++;
	return 0;
}

static int problems(ferry_html *h, ferry_console *c)
{
	ferry_store_event_filter alarms = { NULL, NULL, "alarm", 0 };
	ferry_store_event_filter rejected = { NULL, NULL, "rejected", 0 };
	recent_ctx x;
	size_t i;
	int error;

	memset(&x, 0, sizeof(x));
	pthread_mutex_lock(&c->lock);
	error = ferry_store_audit_query(c->st, &alarms, RECENT, recent_row, &x);
	pthread_mutex_unlock(&c->lock);
	if (!error) {
		recent_ctx y;

		memset(&y, 0, sizeof(y));
		pthread_mutex_lock(&c->lock);
		error = ferry_store_audit_query(c->st, &rejected, RECENT, recent_row, &y);
		pthread_mutex_unlock(&c->lock);
		ferry_html_raw(h, "<h2 id=\"rejections\">Alarms and rejected bundles</h2>");
		if (!x.n && !y.n) {
			ferry_html_raw(h, "<p class=\"muted\">None recorded.</p>");
		} else {
			ferry_html_raw(h, "<table><thead><tr><th>Time</th><th>Event</th>"
					  "<th>Channel</th><th>Sequence</th><th>Outcome</th>"
					  "<th>Reason</th></tr></thead><tbody>");
			/* newest first, both lists merged by time */
			while (x.n || y.n) {
				size_t xi = (x.next + RECENT - 1) % RECENT;
				size_t yi = (y.next + RECENT - 1) % RECENT;
				recent_ctx *from = !y.n || (x.n && x.time[xi] >= y.time[yi]) ? &x : &y;
				size_t at = from == &x ? xi : yi;

				ferry_html_raw(h, from->text[at]);
				free(from->text[at]);
				from->text[at] = NULL;
				from->next = at;
				from->n--;
			}
			ferry_html_raw(h, "</tbody></table>");
		}
		for (i = 0; i < RECENT; i++)
			free(y.text[i]);
	}
	for (i = 0; i < RECENT; i++)
		free(x.text[i]);
	return error;
}

static void inbox_section(ferry_html *h, ferry_console *c, int64_t now)
{
	size_t i, j;

	ferry_html_raw(h, "<h2 id=\"inbox\">Inbox</h2>");
	if (!c->inboxes.n)
		ferry_html_raw(h, "<p class=\"muted\">No inbox is shown (ferry console --inbox "
				  "DIR).</p>");
	for (i = 0; i < c->inboxes.n; i++) {
		ferry_buf path = FERRY_BUF_INIT, text = FERRY_BUF_INIT;
		json_t *o = NULL, *list;
		char a[32];

		ferry_html_printf(h, "<h3 class=\"mono\">%s</h3>", c->inboxes.v[i]);
		if (ferry_inbox_status_path(&path, c->inboxes.v[i]) < 0 ||
		    ferry_fs_read_file(&text, path.ptr, 8u << 20) < 0 ||
		    ferry_json_parse(&o, text.ptr, text.size, "the inbox status") < 0) {
			ferry_html_printf(h, "<p class=\"badge warn\">no status: %s</p>",
					  ferry_error_last());
			ferry_error_clear();
			goto next;
		}
		ferry_html_printf(h, "<p class=\"muted\">Updated %s (%s ago); %lld bundle(s) "
				  "waiting.</p>", str(o, "updated") ? str(o, "updated") : "?",
				  age(a, now - (int64_t)json_integer_value(json_object_get(
						  o, "updatedUnix"))),
				  (long long)json_integer_value(json_object_get(o, "waitingTotal")));
		if (str(o, "error"))
			ferry_html_printf(h, "<p class=\"message bad\">Last pass failed: %s</p>",
					  str(o, "error"));
		list = json_object_get(o, "waiting");
		if (json_array_size(list)) {
			ferry_html_raw(h, "<table><thead><tr><th>Waiting bundle</th><th>Channel</th>"
					  "<th>Sequence</th><th>State</th><th>Volumes</th>"
					  "<th>Missing volumes</th></tr></thead><tbody>");
			for (j = 0; j < json_array_size(list); j++) {
				json_t *w = json_array_get(list, j), *miss = json_object_get(w,
											    "missingVolumes");
				ferry_buf m = FERRY_BUF_INIT;
				size_t k;
				int bad = 0;

				for (k = 0; k < json_array_size(miss) && !bad; k++)
					bad = ferry_buf_printf(&m, "%s%lld", k ? ", " : "",
							       (long long)json_integer_value(
								       json_array_get(miss, k))) < 0;
				ferry_html_printf(h, "<tr><td class=\"mono\">%.16s</td><td>%s</td>"
						  "<td class=\"num\">%lld</td><td><span class=\"badge "
						  "warn\">%s</span></td><td class=\"num\">%lld of %lld"
						  "</td><td>%s</td></tr>",
						  str(w, "bundle"), str(w, "channel"),
						  (long long)json_integer_value(json_object_get(w,
									"sequence")),
						  str(w, "state"),
						  (long long)json_integer_value(json_object_get(w,
									"received")),
						  (long long)json_integer_value(json_object_get(w,
									"volumes")),
						  m.ptr ? m.ptr : "");
				ferry_buf_dispose(&m);
			}
			ferry_html_raw(h, "</tbody></table>");
		}
		list = json_object_get(o, "rejected");
		if (json_array_size(list)) {
			ferry_html_raw(h, "<table><thead><tr><th>Rejected</th><th>File</th>"
					  "<th>Reason</th></tr></thead><tbody>");
			for (j = json_array_size(list); j-- > 0;) {
				json_t *e = json_array_get(list, j);

				ferry_html_printf(h, "<tr><td>%s</td><td class=\"mono\">%s</td>"
						  "<td>%s</td></tr>",
						  str(e, "time") ? str(e, "time") : "",
						  str(e, "file") ? str(e, "file") : "",
						  str(e, "reason") ? str(e, "reason") : "");
			}
			ferry_html_raw(h, "</tbody></table>");
		}
next:
		json_decref(o);
		ferry_buf_dispose(&path);
		ferry_buf_dispose(&text);
	}
}

typedef struct {
	ferry_html *h;
	ferry_store *st;
	size_t n;
} target_ctx;

static int target_row(const ferry_store_target_row *t, void *payload)
{
	target_ctx *x = payload;
	ferry_seed_last last;
	char w[32];
	int error;

	x->n++;
	error = ferry_seed_last_result(&last, x->st, t->name);
	if (error < 0) {
		ferry_error_clear();
		ferry_html_printf(x->h, "<tr><td>%s</td><td>%s</td><td class=\"mono\">%s</td>"
				  "<td>-</td><td><span class=\"badge\">%s</span></td><td></td></tr>",
				  t->name, t->kind, t->url,
				  error == FERRY_ENOTFOUND ? "never seeded" : "unreadable");
		return 0;
	}
	ferry_html_printf(x->h, "<tr><td>%s</td><td>%s</td><td class=\"mono\">%s</td><td>%s</td>"
			  "<td><span class=\"badge %s\">%s</span></td><td>%s</td></tr>",
			  t->name, t->kind, t->url, when(w, last.time),
			  !strcmp(last.outcome, "seeded") ? "ok" : "bad", last.outcome,
			  last.detail);
	ferry_seed_last_dispose(&last);
	return 0;
}

int ferry_console__overview(ferry_html *h, ferry_console *c, const ferry_console_view *v)
{
	channel_ctx cx = { h, (int64_t)time(NULL), c->stale_after, 0, 0 };
	target_ctx tx = { h, c->st, 0 };
	json_t *stacks = NULL;
	static const char *const states[] = { "in sync", "out of sync", "drift", "failed",
					      "frozen", "suspended" };
	size_t counts[6] = { 0 }, i, j;
	char a[32];
	int error;

	ferry_console__page_open(h, v, "Overview", "Overview");

	ferry_html_printf(h, "<h2 id=\"channels\">Channels</h2><p class=\"muted\">A channel "
			  "with no import for %s is shown stale.</p>",
			  age(a, c->stale_after));
	ferry_html_raw(h, "<table><thead><tr><th>Channel</th><th>Sequence</th><th>Bundle</th>"
			  "<th>Created</th><th>Imported</th><th>Age</th></tr></thead><tbody>");
	pthread_mutex_lock(&c->lock);
	error = ferry_store_channel_foreach(c->st, channel_row, &cx);
	pthread_mutex_unlock(&c->lock);
	if (error < 0)
		return error;
	ferry_html_raw(h, "</tbody></table>");
	if (!cx.n)
		ferry_html_raw(h, "<p class=\"muted\">No bundle was imported yet.</p>");

	if ((error = problems(h, c)) < 0)
		return error;
	inbox_section(h, c, cx.now);

	ferry_html_raw(h, "<h2 id=\"targets\">Seed targets</h2><table><thead><tr><th>Target</th>"
			  "<th>Kind</th><th>URL</th><th>Last seed</th><th>Result</th>"
			  "<th>Detail</th></tr></thead><tbody>");
	pthread_mutex_lock(&c->lock);
	error = ferry_store_target_foreach(c->st, NULL, target_row, &tx);
	pthread_mutex_unlock(&c->lock);
	if (error < 0)
		return error;
	ferry_html_raw(h, "</tbody></table>");
	if (!tx.n)
		ferry_html_raw(h, "<p class=\"muted\">No seed target is configured.</p>");

	if ((error = stack_status(&stacks, c, NULL)) < 0)
		return error;
	for (i = 0; i < json_array_size(stacks); i++) {
		const char *cls, *s = stack_state(json_array_get(stacks, i), &cls);

		for (j = 0; j < 6; j++)
			if (!strcmp(s, states[j]))
				counts[j]++;
	}
	ferry_html_printf(h, "<h2 id=\"stacks\">Stacks</h2><div class=\"cards\">");
	for (j = 0; j < 6; j++)
		ferry_html_printf(h, "<div class=\"card\"><b>%zu</b>%s</div>", counts[j], states[j]);
	ferry_html_raw(h, "</div>");
	ferry_html_raw(h, "<table><thead><tr><th>Stack needing attention</th><th>State</th>"
			  "<th>Ref</th><th>Last outcome</th></tr></thead><tbody>");
	for (i = 0, j = 0; i < json_array_size(stacks) && j < FERRY_CONSOLE_ROWS; i++) {
		json_t *st = json_array_get(stacks, i);
		const char *cls, *s = stack_state(st, &cls);

		if (!strcmp(s, "in sync"))
			continue;
		j++;
		ferry_html_raw(h, "<tr><td><a href=\"/stacks/");
		ferry_html_url(h, str(st, "stack"));
		ferry_html_printf(h, "\">%s</a></td><td><span class=\"badge %s\">%s</span></td>"
				  "<td class=\"mono\">%s</td><td>%s</td></tr>", str(st, "stack"), cls,
				  s, str(st, "ref"),
				  str(st, "lastOutcome") ? str(st, "lastOutcome") : "-");
	}
	ferry_html_raw(h, "</tbody></table>");
	json_decref(stacks);
	ferry_console__page_close(h);
	return 0;
}

/* ---- store -------------------------------------------------------------------- */

typedef struct {
	ferry_html *h;
	size_t n;
} list_ctx;

static const char *media_type_name(const char *mt)
{
	static const char *const names[][2] = {
		{ "application/vnd.oci.image.manifest.v1+json", "OCI manifest" },
		{ "application/vnd.oci.image.index.v1+json", "OCI index" },
		{ "application/vnd.docker.distribution.manifest.v2+json", "Docker manifest" },
		{ "application/vnd.docker.distribution.manifest.list.v2+json", "Docker list" },
	};
	size_t i;

	for (i = 0; mt && i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(mt, names[i][0]))
			return names[i][1];
	return mt ? mt : "";
}

static int tag_row(const ferry_store_tag *t, void *payload)
{
	list_ctx *x = payload;
	char s[32], w[32];

	if (x->n++ >= FERRY_CONSOLE_ROWS)
		return 0;
	ferry_html_printf(x->h, "<tr><td class=\"mono\">%s</td><td class=\"mono\">%.19s</td>"
			  "<td>%s</td><td class=\"num\">%s</td><td>%s #%llu</td><td>%s</td></tr>",
			  t->reference, t->digest, media_type_name(t->media_type),
			  ferry_size_text(s, sizeof(s), t->size), t->channel, (unsigned long long)t->sequence,
			  when(w, t->created));
	return 0;
}

static int ref_row(const ferry_store_ref *r, void *payload)
{
	list_ctx *x = payload;
	char w[32];

	if (x->n++ >= FERRY_CONSOLE_ROWS)
		return 0;
	ferry_html_printf(x->h, "<tr><td class=\"mono\">%s</td><td class=\"mono\">%s</td>"
			  "<td class=\"mono\">%.12s</td><td>%s #%llu</td><td>%s</td></tr>",
			  r->repo, r->name, r->commit, r->channel, (unsigned long long)r->sequence,
			  when(w, r->created));
	return 0;
}

typedef struct {
	size_t tags, refs;
} seeded_count;

static int count_item(const char *item, void *payload)
{
	seeded_count *n = payload;

	if (!strncmp(item, "tag ", 4))
		n->tags++;
	else if (!strncmp(item, "ref ", 4))
		n->refs++;
	return 0;
}

typedef struct {
	ferry_html *h;
	ferry_store *st;
} seeded_ctx;

static int seeded_row(const ferry_store_target_row *t, void *payload)
{
	seeded_ctx *x = payload;
	seeded_count n = { 0, 0 };
	int error;

	if ((error = ferry_store_progress_foreach(x->st, t->name, "", count_item, &n)) < 0)
		return error;
	ferry_html_printf(x->h, "<tr><td>%s</td><td>%s</td><td class=\"num\">%zu</td>"
			  "<td class=\"num\">%zu</td></tr>", t->name, t->kind, n.tags, n.refs);
	return 0;
}

int ferry_console__store(ferry_html *h, ferry_console *c, const ferry_console_view *v)
{
	list_ctx tags = { h, 0 }, refs = { h, 0 };
	seeded_ctx sx = { h, c->st };
	uint64_t blobs = 0, bytes = 0;
	char s[32];
	int error;

	ferry_console__page_open(h, v, "Store", "Store");
	pthread_mutex_lock(&c->lock);
	error = ferry_store_blob_totals(&blobs, &bytes, c->st);
	if (!error) {
		ferry_html_printf(h, "<p class=\"mono\">%s</p><p>%llu blobs, %s.</p>", c->store,
				  (unsigned long long)blobs, ferry_size_text(s, sizeof(s), bytes));
		ferry_html_raw(h, "<h2 id=\"images\">Images, charts and files</h2><table><thead>"
				  "<tr><th>Reference</th><th>Digest</th><th>Type</th><th>Size</th>"
				  "<th>Brought by</th><th>Bundle created</th></tr></thead><tbody>");
		error = ferry_store_tag_foreach(c->st, tag_row, &tags);
	}
	if (!error) {
		ferry_html_raw(h, "</tbody></table>");
		if (tags.n > FERRY_CONSOLE_ROWS)
			ferry_html_printf(h, "<p class=\"muted\">%zu more not shown; 'ferry store ls' "
					  "lists them all.</p>", tags.n - FERRY_CONSOLE_ROWS);
		ferry_html_raw(h, "<h2 id=\"git\">Git repositories</h2><table><thead><tr>"
				  "<th>Repository</th><th>Ref</th><th>Commit</th><th>Brought by</th>"
				  "<th>Bundle created</th></tr></thead><tbody>");
		error = ferry_store_ref_foreach(c->st, NULL, ref_row, &refs);
	}
	if (!error) {
		ferry_html_raw(h, "</tbody></table>");
		if (refs.n > FERRY_CONSOLE_ROWS)
			ferry_html_printf(h, "<p class=\"muted\">%zu more not shown.</p>",
					  refs.n - FERRY_CONSOLE_ROWS);
		ferry_html_raw(h, "<h2 id=\"seeded\">Seeded to</h2><table><thead><tr>"
				  "<th>Target</th><th>Kind</th><th>Tags seeded</th>"
				  "<th>Refs seeded</th></tr></thead><tbody>");
		error = ferry_store_target_foreach(c->st, NULL, seeded_row, &sx);
		ferry_html_raw(h, "</tbody></table>");
	}
	pthread_mutex_unlock(&c->lock);
	if (error < 0)
		return error;
	ferry_console__page_close(h);
	return 0;
}

/* ---- stacks ------------------------------------------------------------------- */

int ferry_console__stacks(ferry_html *h, ferry_console *c, const ferry_console_view *v)
{
	json_t *stacks = NULL;
	size_t i;
	int error;

	if ((error = stack_status(&stacks, c, NULL)) < 0)
		return error;
	ferry_console__page_open(h, v, "Stacks", "Stacks");
	if (!c->rc)
		ferry_html_raw(h, "<p class=\"muted\">No reconciler config is given (ferry console "
				  "--config FILE).</p>");
	ferry_html_raw(h, "<table><thead><tr><th>Stack</th><th>State</th><th>Ref</th>"
			  "<th>Desired</th><th>Applied</th><th>Last sync</th><th>Auto-sync</th>"
			  "<th>Last outcome</th></tr></thead><tbody>");
	for (i = 0; i < json_array_size(stacks); i++) {
		json_t *st = json_array_get(stacks, i);
		const char *cls, *state = stack_state(st, &cls);

		ferry_html_raw(h, "<tr><td><a href=\"/stacks/");
		ferry_html_url(h, str(st, "stack"));
		ferry_html_printf(h, "\">%s</a></td><td><span class=\"badge %s\">%s</span></td>"
				  "<td class=\"mono\">%s</td>", str(st, "stack"), cls, state,
				  str(st, "ref"));
		ferry_html_printf(h, "<td class=\"mono\">%.12s</td><td class=\"mono\">%.12s</td>"
				  "<td>%s</td><td>%s</td><td>%s</td></tr>",
				  str(st, "desired") ? str(st, "desired") : "-",
				  str(st, "applied") ? str(st, "applied") : "-",
				  str(st, "lastSync") ? str(st, "lastSync") : "-",
				  json_is_true(json_object_get(st, "autoSync")) ? "on" : "off",
				  str(st, "lastOutcome") ? str(st, "lastOutcome") : "-");
	}
	ferry_html_raw(h, "</tbody></table>");
	json_decref(stacks);
	ferry_console__page_close(h);
	return 0;
}

/* The badge of a reconcile event's outcome. */
static const char *outcome_class(const char *outcome)
{
	if (!strcmp(outcome, "failed") || !strcmp(outcome, "rejected"))
		return "bad";
	if (!strcmp(outcome, "applied") || !strcmp(outcome, "unchanged") ||
	    !strcmp(outcome, "resumed"))
		return "ok";
	return "warn";
}

/* ---- one stack ------------------------------------------------------------------ */

typedef struct {
	char **rows;
	size_t n, alloc;
} rows;

static int rows_push(rows *r, ferry_html *row)
{
	char **grown;

	if (row->error)
		return row->error;
	if (r->n == r->alloc) {
		size_t alloc = r->alloc ? r->alloc * 2 : 64;

		if (!(grown = realloc(r->rows, alloc * sizeof(*grown))))
			return ferry_error_oom();
		r->rows = grown;
		r->alloc = alloc;
	}
	r->rows[r->n++] = ferry_buf_detach(&row->b);
	return 0;
}

static void rows_dispose(rows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->rows[i]);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

/* A table cell of at most `max` bytes of `text` (whole characters), its
 * line breaks kept. */
static void detail_cell(ferry_html *h, const char *lead, const char *text, size_t max)
{
	size_t n = text ? strlen(text) : 0;
	char *cut;

	ferry_html_raw(h, "<td class=\"pre\">");
	if (lead)
		ferry_html_text(h, lead);
	if (n > max)
		for (n = max; n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80; n--)
			;
	if (n && !(cut = strndup(text, n))) {
		h->error = h->error ? h->error : ferry_error_oom();
	} else if (n) {
		ferry_html_lines(h, cut);
		if (n < strlen(text))
			ferry_html_raw(h, " …");
		free(cut);
	}
	ferry_html_raw(h, "</td>");
}

static void event_html(ferry_html *row, const ferry_store_stack_event *ev, int with_stack)
{
	char t[32];
	const char *cls = outcome_class(ev->outcome);

	ferry_html_printf(row, "<tr><td>%s</td>", when(t, ev->time));
	if (with_stack) {
		ferry_html_raw(row, "<td><a href=\"/stacks/");
		ferry_html_url(row, ev->stack);
		ferry_html_printf(row, "\">%s</a></td>", ev->stack);
	}
	ferry_html_printf(row, "<td>%s</td><td>%s</td><td class=\"mono\">%.12s</td>"
			  "<td><span class=\"badge %s\">%s</span>%s</td><td>%s</td>", ev->trigger,
			  ev->actor, ev->revision ? ev->revision : "-", cls, ev->outcome,
			  ev->drift ? " <span class=\"badge warn\">drift</span>" : "",
			  ev->reason ? ev->reason : "");
	detail_cell(row, NULL, ev->error ? ev->error : ev->detail, 300);
	ferry_html_raw(row, "</tr>");
}

static int stack_event_row(const ferry_store_stack_event *ev, void *payload)
{
	ferry_html row = FERRY_HTML_INIT;
	int error;

	event_html(&row, ev, 0);
	if ((error = rows_push(payload, &row)) < 0)
		ferry_html_dispose(&row);
	return error;
}

static void action_form(ferry_html *h, const char *name, const char *csrf, const char *action,
			const char *label, const char *explain, int with_revision)
{
	ferry_html_raw(h, "<form method=\"post\" action=\"/stacks/");
	ferry_html_url(h, name);
	ferry_html_printf(h, "/%s\"><fieldset><legend>%s</legend><p class=\"muted\">%s</p>"
			  "<input type=\"hidden\" name=\"csrf\" value=\"%s\">", action, label, explain,
			  csrf);
	if (with_revision)
		ferry_html_printf(h, "<label>Revision (empty: the one applied before) "
				  "<input type=\"text\" name=\"to\" id=\"%s-to\" maxlength=\"64\" "
				  "pattern=\"[0-9a-f]{4,64}\"></label>", action);
	ferry_html_printf(h, "<label>Reason or change record <input type=\"text\" name=\"reason\" "
			  "id=\"%s-reason\" required maxlength=\"256\"></label>"
			  "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" "
			  "id=\"%s-confirm\" required> I confirm: %s stack %s</label>"
			  "<button type=\"submit\" id=\"%s-submit\">%s</button></fieldset></form>",
			  action, action, action, name, action, label);
}

int ferry_console__stack(ferry_html *h, ferry_console *c, const ferry_console_view *v,
			 const char *name)
{
	json_t *stacks = NULL, *st = NULL, *sus;
	ferry_store_stack_state state;
	rows ev = { 0 };
	const char *cls, *s;
	char title[300];
	size_t i;
	int error, suspended;

	if ((error = stack_status(&stacks, c, name)) < 0)
		return error;
	for (i = 0; i < json_array_size(stacks) && !st; i++)
		if (!strcmp(str(json_array_get(stacks, i), "stack"), name))
			st = json_array_get(stacks, i);
	if (!st) {
		json_decref(stacks);
		return FERRY_ENOTFOUND;
	}
	memset(&state, 0, sizeof(state));
	pthread_mutex_lock(&c->lock);
	error = ferry_store_stack_state_load(&state, c->st, name);
	if (!error)
		error = ferry_store_stack_event_foreach(c->st, name, 50, stack_event_row, &ev);
	pthread_mutex_unlock(&c->lock);
	if (error < 0)
		goto done;
	s = stack_state(st, &cls);
	suspended = json_is_true(json_object_get(st, "suspended"));
	snprintf(title, sizeof(title), "Stack %s", name);
	ferry_console__page_open(h, v, title, "Stacks");
	ferry_html_printf(h, "<table class=\"facts\"><tbody>"
			  "<tr><th>State</th><td><span class=\"badge %s\" id=\"state\">%s</span></td></tr>"
			  "<tr><th>Ref</th><td class=\"mono\">%s</td></tr>"
			  "<tr><th>Desired revision</th><td class=\"mono\">%s</td></tr>"
			  "<tr><th>Applied revision</th><td class=\"mono\">%s</td></tr>"
			  "<tr><th>Previous revision</th><td class=\"mono\">%s</td></tr>",
			  cls, s, str(st, "ref"), str(st, "desired") ? str(st, "desired") : "-",
			  str(st, "applied") ? str(st, "applied") : "-",
			  state.previous ? state.previous : "-");
	ferry_html_printf(h, "<tr><th>Rollback hold</th><td class=\"mono\">%s</td></tr>"
			  "<tr><th>Last sync</th><td>%s</td></tr><tr><th>Next poll</th><td>%s</td></tr>"
			  "<tr><th>Auto-sync</th><td>%s</td></tr><tr><th>Last outcome</th><td>%s</td></tr>"
			  "<tr><th>Drift</th><td>%s</td></tr>",
			  str(st, "hold") ? str(st, "hold") : "-",
			  str(st, "lastSync") ? str(st, "lastSync") : "-",
			  str(st, "nextPoll") ? str(st, "nextPoll") : "-",
			  json_is_true(json_object_get(st, "autoSync")) ? "on"
			  : "off (an operator syncs)",
			  str(st, "lastOutcome") ? str(st, "lastOutcome") : "-",
			  str(st, "driftDetail") ? str(st, "driftDetail") : "none");
	if (suspended && (sus = json_object_get(st, "suspension")))
		ferry_html_printf(h, "<tr><th>Suspended</th><td>by %s since %s: %s</td></tr>",
				  str(sus, "actor"), str(sus, "since"),
				  str(sus, "reason") ? str(sus, "reason") : "(no reason)");
	ferry_html_raw(h, "<tr><th>Images applied</th><td class=\"mono\">");
	{
		json_t *images = NULL;

		if (state.images && ferry_json_parse(&images, state.images, strlen(state.images),
						     "the images applied") == 0) {
			for (i = 0; i < json_array_size(images); i++)
				ferry_html_printf(h, "%s<br>", json_string_value(json_array_get(
							images, i)) ? json_string_value(
							json_array_get(images, i)) : "?");
		}
		if (!json_array_size(images))
			ferry_html_raw(h, "none");
		json_decref(images);
		ferry_error_clear();
	}
	ferry_html_raw(h, "</td></tr></tbody></table>");
	ferry_html_raw(h, "<p><a href=\"/stacks/");
	ferry_html_url(h, name);
	ferry_html_raw(h, "/plan\" id=\"plan\">Plan the next sync</a>: render the desired "
			  "revision, show the diff from what is applied, and check that every "
			  "image is where the runtime pulls it.</p>");

	ferry_html_raw(h, "<h2 id=\"actions\">Actions</h2>");
	if (v->s.role != FERRY_ROLE_OPERATOR) {
		ferry_html_raw(h, "<p class=\"muted\">Acting on a stack needs the operator "
				  "role.</p>");
	} else {
		action_form(h, name, v->s.csrf, "sync", "Sync",
			    "Apply the desired revision now (clears a rollback hold).", 0);
		if (suspended)
			action_form(h, name, v->s.csrf, "resume", "Resume",
				    "Let the daemon's polls and webhooks deploy the stack again.",
				    0);
		else
			action_form(h, name, v->s.csrf, "suspend", "Suspend",
				    "Hold the stack: polls and webhooks leave it alone until "
				    "it is resumed.", 0);
		action_form(h, name, v->s.csrf, "rollback", "Rollback",
			    "Apply an earlier recorded revision and hold it there.", 1);
	}

	ferry_html_raw(h, "<h2 id=\"history\">History</h2><table><thead><tr><th>Time</th>"
			  "<th>Trigger</th><th>Actor</th><th>Revision</th><th>Outcome</th>"
			  "<th>Reason</th><th>Detail</th></tr></thead><tbody>");
	for (i = ev.n; i-- > 0;)
		ferry_html_raw(h, ev.rows[i]);
	ferry_html_raw(h, "</tbody></table>");
	ferry_console__page_close(h);
done:
	rows_dispose(&ev);
	ferry_store_stack_state_dispose(&state);
	json_decref(stacks);
	return error;
}

#define PLAN_DIFF_SHOWN (1u << 20)

/* A plan's pre-flight (ferry_preflight_json) and diff lines, as a page. */
static void plan_body(ferry_html *h, const json_t *pre, const json_t *lines, int truncated)
{
	const json_t *images = json_object_get(pre, "images");
	size_t i, nimages = json_array_size(images);
	json_int_t missing = json_integer_value(json_object_get(pre, "missing"));

	ferry_html_printf(h, "<p>Desired revision <code>%s</code>",
			  str(pre, "revision") ? str(pre, "revision") : "?");
	if (str(pre, "channel"))
		ferry_html_printf(h, ", brought by channel %s #%lld", str(pre, "channel"),
				  (long long)json_integer_value(json_object_get(pre, "sequence")));
	ferry_html_printf(h, ". %zu image(s), <span class=\"badge %s\">%lld missing</span>, %lld "
			  "not checked.</p>", nimages, missing ? "bad" : "ok", (long long)missing,
			  (long long)json_integer_value(json_object_get(pre, "unchecked")));
	ferry_html_raw(h, "<h2 id=\"images\">Images</h2><table><thead><tr><th>Image</th>"
			  "<th>Used by</th><th>Status</th><th>Where</th><th>Why</th></tr></thead>"
			  "<tbody>");
	for (i = 0; i < nimages; i++) {
		const json_t *im = json_array_get(images, i);
		const char *status = str(im, "status") ? str(im, "status") : "?";

		ferry_html_printf(h, "<tr><td class=\"mono\">%s</td><td>%s</td><td><span "
				  "class=\"badge %s\">%s</span></td><td>%s</td><td>%s</td></tr>",
				  str(im, "image"), str(im, "where") ? str(im, "where") : "",
				  !strcmp(status, "present") ? "ok" : !strcmp(status, "missing") ? "bad"
				  : "warn", status, str(im, "place") ? str(im, "place") : "",
				  str(im, "why") ? str(im, "why") : "");
	}
	ferry_html_raw(h, "</tbody></table><h2 id=\"diff\">Diff of the rendered manifests</h2>");
	if (!json_array_size(lines)) {
		ferry_html_raw(h, "<p class=\"muted\">No change: the desired revision renders what "
				  "is applied.</p>");
		return;
	}
	if (truncated)
		ferry_html_raw(h, "<p class=\"muted\">The diff is cut: it is longer than a page "
				  "shows.</p>");
	ferry_html_raw(h, "<pre class=\"diff\">");
	for (i = 0; i < json_array_size(lines); i++) {
		ferry_html_text(h, json_string_value(json_array_get(lines, i)));
		ferry_html_raw(h, "\n");
	}
	ferry_html_raw(h, "</pre>");
}

int ferry_console__plan(ferry_html *h, ferry_console *c, const ferry_console_view *v,
			const char *name)
{
	const ferry_stack *stack = c->cfg ? ferry_reconcile_config_stack(c->cfg, name) : NULL;
	json_t *req = NULL, *reply = NULL, *pre = NULL, *lines = NULL;
	char title[300], actor[FERRY_CONTROL_OPERATOR_MAX + 16];
	int error, truncated = 0;

	if (!stack)
		return FERRY_ENOTFOUND;
	snprintf(title, sizeof(title), "Plan of %s", name);
	snprintf(actor, sizeof(actor), "operator:%s", v->s.user);
	ferry_console__page_open(h, v, title, "Stacks");
	/* The daemon plans when it runs: it reads the applied manifests. */
	if (!(req = json_pack("{s:s,s:s,s:s}", "op", "plan", "actor", actor, "stack", name))) {
		error = ferry_error_oom();
	} else if (!ferry_console__control_enter(c)) {
		error = ferry_error_set(FERRY_ERROR, "busy: other requests to the reconciler are "
					"running; reload the page in a moment");
	} else {
		error = ferry_reconciler_control(&reply, c->rc, req, FERRY_CONSOLE_PLAN_TIMEOUT);
		if (error == FERRY_ENOTFOUND) {
			/* no daemon: the same plan, computed here */
			ferry_error_clear();
			if ((error = ferry_reconciler_plan_json(&reply, c->rc, stack,
								PLAN_DIFF_SHOWN)) == 0 &&
			    json_object_set_new(reply, "ok", json_true()) < 0)
				error = ferry_error_oom();
		}
		if (!error && !json_is_true(json_object_get(reply, "ok"))) {
			error = ferry_error_set(FERRY_ERROR, "%s", str(reply, "error")
						? str(reply, "error") : "the daemon failed");
		} else if (!error) {
			pre = json_incref(json_object_get(reply, "preflight"));
			lines = json_incref(json_object_get(reply, "diff"));
			truncated = json_is_true(json_object_get(reply, "truncated"));
		}
		ferry_console__control_leave(c);
	}
	if (error < 0)
		ferry_html_printf(h, "<p class=\"message bad\" role=\"alert\">The desired revision "
				  "cannot be planned: %s</p>", ferry_error_last());
	else
		plan_body(h, pre, lines, truncated);
	ferry_error_clear();
	ferry_html_raw(h, "<p><a href=\"/stacks/");
	ferry_html_url(h, name);
	ferry_html_raw(h, "\">Back to the stack</a></p>");
	ferry_console__page_close(h);
	json_decref(req);
	json_decref(reply);
	json_decref(pre);
	json_decref(lines);
	return 0;
}

void ferry_console__action_page(ferry_html *h, const ferry_console_view *v, const char *stack,
				const char *action, int ok, const char *outcome,
				const char *message)
{
	char title[300];

	snprintf(title, sizeof(title), "%s of %s", action, stack);
	ferry_console__page_open(h, v, title, "Stacks");
	if (ok)
		ferry_html_printf(h, "<p class=\"message ok\" role=\"status\" id=\"result\">%s: %s"
				  "</p>", stack, outcome);
	else
		ferry_html_printf(h, "<p class=\"message bad\" role=\"alert\" id=\"result\">%s "
				  "failed</p>", action);
	if (message && *message) {
		ferry_html_raw(h, "<pre class=\"diff\">");
		ferry_html_lines(h, message);
		ferry_html_raw(h, "</pre>");
	}
	ferry_html_raw(h, "<p><a href=\"/stacks/");
	ferry_html_url(h, stack);
	ferry_html_raw(h, "\">Back to the stack</a></p>");
	ferry_console__page_close(h);
}

/* ---- audit -------------------------------------------------------------------- */

typedef struct {
	const char *kind;
	ferry_store_event_filter f;
	int jsonl;
	struct arow {
		int64_t time;
		size_t seq;
		char *text;
	} *rows;
	size_t n, alloc;
} audit_ctx;

static int audit_push(audit_ctx *x, int64_t t, ferry_buf *text)
{
	if (x->n == x->alloc) {
		size_t alloc = x->alloc ? x->alloc * 2 : 256;
		struct arow *grown = realloc(x->rows, alloc * sizeof(*grown));

		if (!grown)
			return ferry_error_oom();
		x->rows = grown;
		x->alloc = alloc;
	}
	x->rows[x->n].time = t;
	x->rows[x->n].seq = x->n;
	x->rows[x->n].text = ferry_buf_detach(text);
	x->n++;
	return 0;
}

/* `o` (taken) as one JSON line into `row`; on failure `row` is disposed. */
static int json_line(ferry_html *row, json_t *o)
{
	int error = o ? ferry_json_dump_flags(&row->b, o, JSON_COMPACT | JSON_SORT_KEYS)
		      : ferry_error_oom();

	json_decref(o);
	if (error < 0 || (error = ferry_buf_puts(&row->b, "\n")) < 0)
		ferry_html_dispose(row);
	return error;
}

static int import_row(int64_t id, const ferry_store_audit_entry *e, void *payload)
{
	audit_ctx *x = payload;
	ferry_html row = FERRY_HTML_INIT;
	char t[32], seq[24];
	int error;

	(void)id;
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)e->sequence);
	if (!e->channel)
		snprintf(seq, sizeof(seq), "-");
	if (x->jsonl) {
		if ((error = json_line(&row, ferry_store_audit_json(e))) < 0)
			return error;
	} else {
		ferry_html_printf(&row, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
				  "<td class=\"num\">%s</td><td class=\"mono\">%.16s</td>"
				  "<td><span class=\"badge %s\">%s</span></td><td>%s</td></tr>",
				  when(t, e->time), "import", e->event,
				  e->channel ? e->channel : "-", seq,
				  e->bundle_id ? e->bundle_id : "",
				  !strcmp(e->outcome, "imported") || !strcmp(e->outcome, "installed")
				  ? "ok" : "bad", e->outcome, e->reason ? e->reason : "");
		if (row.error) {
			error = row.error;
			ferry_html_dispose(&row);
			return error;
		}
	}
	if ((error = audit_push(x, e->time, &row.b)) < 0)
		ferry_html_dispose(&row);
	return error;
}

static int reconcile_row(const ferry_store_stack_event *ev, void *payload)
{
	audit_ctx *x = payload;
	ferry_html row = FERRY_HTML_INIT;
	int error;

	if (x->jsonl) {
		if ((error = json_line(&row, ferry_audit__event_json(ev, "event",
								     json_string("reconcile")))) < 0)
			return error;
	} else {
		char t[32];

		ferry_html_printf(&row, "<tr><td>%s</td><td>%s</td><td>%s</td><td>", when(t, ev->time),
				  "reconcile", ev->trigger);
		ferry_html_raw(&row, "<a href=\"/stacks/");
		ferry_html_url(&row, ev->stack);
		ferry_html_printf(&row, "\">%s</a></td><td>%s</td>"
				  "<td class=\"mono\">%.12s</td><td><span class=\"badge %s\">%s</span>"
				  "</td>", ev->stack, ev->actor, ev->revision ? ev->revision : "-",
				  outcome_class(ev->outcome), ev->outcome);
		if (ev->reason)
			ferry_html_printf(&row, "<td class=\"pre\">reason: %s</td>", ev->reason);
		else
			detail_cell(&row, NULL, ev->error ? ev->error : ev->detail, 200);
		ferry_html_raw(&row, "</tr>");
		if (row.error) {
			error = row.error;
			ferry_html_dispose(&row);
			return error;
		}
	}
	if ((error = audit_push(x, ev->time, &row.b)) < 0)
		ferry_html_dispose(&row);
	return error;
}

static int arow_cmp(const void *a, const void *b)
{
	const struct arow *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int parse_since(int64_t *out, const char *s, int64_t now)
{
	int64_t d;
	char full[32];

	*out = 0;
	if (!s)
		return 0;
	if (ferry_parse_duration(&d, s) == 0) {
		*out = now - d;
		return 0;
	}
	if (strlen(s) == 10) {
		snprintf(full, sizeof(full), "%sT00:00:00Z", s);
		s = full;
	}
	if (ferry_time_parse(out, s) == 0)
		return 0;
	return ferry_error_set(FERRY_EINVALID, "'since' is a duration (24h, 7d) or a date "
			       "(YYYY-MM-DD)");
}

static void filter_field(ferry_html *h, const char *name, const char *label, const char *value,
			 const char *hint)
{
	ferry_html_printf(h, "<label class=\"inline\">%s <input type=\"text\" name=\"%s\" "
			  "value=\"%s\" placeholder=\"%s\" maxlength=\"128\"></label>", label, name,
			  value ? value : "", hint);
}

static void query_arg(ferry_html *h, int *first, const char *key, const char *value)
{
	if (!value)
		return;
	ferry_html_printf(h, "%s%s=", *first ? "?" : "&amp;", key);
	ferry_html_url(h, value);
	*first = 0;
}

int ferry_console__audit(ferry_html *h, ferry_console *c, const ferry_console_view *v,
			 int jsonl)
{
	audit_ctx x;
	const char *since = query(v, "since");
	size_t i;
	int error, first = 1, bad_since = 0;

	memset(&x, 0, sizeof(x));
	x.kind = query(v, "kind");
	x.f.channel = query(v, "channel");
	x.f.stack = query(v, "stack");
	x.f.outcome = query(v, "outcome");
	x.jsonl = jsonl;
	if ((error = parse_since(&x.f.since, since, (int64_t)time(NULL))) < 0) {
		if (jsonl)
			return error;
		bad_since = 1;
		ferry_error_clear();
		error = 0;
		x.f.since = (int64_t)1 << 62;   /* nothing, rather than everything */
	}
	/* A page shows the newest rows of the two lists merged: the newest of
	 * each are enough. The export has them all. */
	pthread_mutex_lock(&c->lock);
	if ((!x.kind || !strcmp(x.kind, "import")) && !x.f.stack)
		error = ferry_store_audit_query(c->st, &x.f, jsonl ? FERRY_CONSOLE_EXPORT_MAX
								  : FERRY_CONSOLE_ROWS, import_row, &x);
	if (!error && (!x.kind || !strcmp(x.kind, "reconcile")))
		error = ferry_store_stack_event_query(c->st, &x.f, jsonl ? FERRY_CONSOLE_EXPORT_MAX
									: FERRY_CONSOLE_ROWS,
						      reconcile_row, &x);
	pthread_mutex_unlock(&c->lock);
	if (error < 0)
		goto done;
	/* both lists are in time order; merged, still in time order */
	if (x.n)
		qsort(x.rows, x.n, sizeof(*x.rows), arow_cmp);
	if (jsonl) {
		for (i = 0; i < x.n; i++)
			ferry_html_raw(h, x.rows[i].text);
		goto done;
	}
	ferry_console__page_open(h, v, "Audit", "Audit");
	if (bad_since)
		ferry_html_raw(h, "<p class=\"message bad\" role=\"alert\">Since is a duration "
				  "(24h, 7d) or a date (YYYY-MM-DD): nothing is shown.</p>");
	ferry_html_raw(h, "<form method=\"get\" action=\"/audit\" class=\"filters\"><fieldset>"
			  "<legend>Filter</legend><label class=\"inline\">Kind <select name=\"kind\">");
	ferry_html_printf(h, "<option value=\"\"%s>all</option><option value=\"import\"%s>import"
			  "</option><option value=\"reconcile\"%s>reconcile</option></select></label>",
			  !x.kind ? " selected" : "",
			  x.kind && !strcmp(x.kind, "import") ? " selected" : "",
			  x.kind && !strcmp(x.kind, "reconcile") ? " selected" : "");
	filter_field(h, "channel", "Channel", x.f.channel, "any");
	filter_field(h, "stack", "Stack", x.f.stack, "any");
	filter_field(h, "outcome", "Outcome", x.f.outcome, "any");
	filter_field(h, "since", "Since", since, "24h, 7d or 2026-01-31");
	ferry_html_raw(h, "<button type=\"submit\">Filter</button></fieldset></form>");
	ferry_html_raw(h, "<p><a id=\"export\" href=\"/audit.jsonl");
	query_arg(h, &first, "kind", x.kind);
	query_arg(h, &first, "channel", x.f.channel);
	query_arg(h, &first, "stack", x.f.stack);
	query_arg(h, &first, "outcome", x.f.outcome);
	query_arg(h, &first, "since", since);
	ferry_html_raw(h, "\">Export these events as JSON lines</a></p>");
	if (x.n > FERRY_CONSOLE_ROWS)
		ferry_html_printf(h, "<p class=\"muted\">The newest %d are shown; the export has "
				  "them all.</p>", FERRY_CONSOLE_ROWS);
	else
		ferry_html_printf(h, "<p class=\"muted\">%zu events.</p>", x.n);
	ferry_html_raw(h, "<table><thead><tr><th>Time</th><th>Kind</th><th>Event</th>"
			  "<th>Channel or stack</th><th>Sequence or actor</th><th>Bundle or revision</th>"
			  "<th>Outcome</th><th>Reason and detail</th></tr></thead><tbody>");
	for (i = x.n; i-- > 0 && x.n - i <= FERRY_CONSOLE_ROWS;)
		ferry_html_raw(h, x.rows[i].text);
	ferry_html_raw(h, "</tbody></table>");
	ferry_console__page_close(h);
done:
	for (i = 0; i < x.n; i++)
		free(x.rows[i].text);
	free(x.rows);
	return error;
}
