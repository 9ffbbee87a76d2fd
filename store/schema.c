/*
 * The schema of ferry.db and its migrations. Each step takes a store from
 * one version to the next and runs in the transaction that opens the store
 * for writing, so an interrupted upgrade leaves the old version whole.
 * Version 1 is the schema of the first releases (created with
 * `CREATE TABLE IF NOT EXISTS`, so a version 1 store passes through it
 * unchanged). Never edit a released step: add a new one.
 */
#include <stddef.h>

#include "private.h"

static const char v1[] =
	"CREATE TABLE IF NOT EXISTS meta ("
	"  key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS trust_roots ("
	"  version INTEGER PRIMARY KEY, body TEXT NOT NULL, installed INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS channels ("
	"  name TEXT PRIMARY KEY, sequence INTEGER NOT NULL,"
	"  bundle_id TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS imports ("
	"  id INTEGER PRIMARY KEY, bundle_id TEXT NOT NULL, channel TEXT NOT NULL,"
	"  sequence INTEGER NOT NULL, base_sequence INTEGER NOT NULL,"
	"  created INTEGER NOT NULL, expires INTEGER NOT NULL,"
	"  imported INTEGER NOT NULL, signers TEXT NOT NULL, files TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS blobs ("
	"  digest TEXT PRIMARY KEY, size INTEGER NOT NULL,"
	"  channel TEXT NOT NULL, sequence INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tags ("
	"  reference TEXT PRIMARY KEY, digest TEXT NOT NULL, media_type TEXT NOT NULL,"
	"  size INTEGER NOT NULL, channel TEXT NOT NULL, sequence INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS refs ("
	"  repo TEXT NOT NULL, ref TEXT NOT NULL, commit_id TEXT NOT NULL,"
	"  channel TEXT NOT NULL, sequence INTEGER NOT NULL,"
	"  PRIMARY KEY (repo, ref));"
	"CREATE TABLE IF NOT EXISTS audit ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, event TEXT NOT NULL,"
	"  bundle_id TEXT, channel TEXT, sequence INTEGER, signers TEXT,"
	"  outcome TEXT NOT NULL, reason TEXT);"
	"CREATE TABLE IF NOT EXISTS targets ("
	"  name TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL,"
	"  options TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS seed_progress ("
	"  target TEXT NOT NULL, item TEXT NOT NULL, state TEXT NOT NULL,"
	"  updated INTEGER NOT NULL, PRIMARY KEY (target, item));"
	"CREATE TABLE IF NOT EXISTS reconcile_events ("
	"  id INTEGER PRIMARY KEY, time INTEGER NOT NULL, stack TEXT NOT NULL,"
	"  trigger TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, ref TEXT,"
	"  revision TEXT, images TEXT, bundle_id TEXT, channel TEXT, sequence INTEGER,"
	"  target TEXT NOT NULL, outcome TEXT NOT NULL, drift INTEGER NOT NULL,"
	"  detail TEXT, error TEXT);"
	"CREATE INDEX IF NOT EXISTS reconcile_events_stack ON reconcile_events(stack, id);"
	"CREATE INDEX IF NOT EXISTS reconcile_events_revision ON reconcile_events(revision);"
	"CREATE INDEX IF NOT EXISTS reconcile_events_quiet ON reconcile_events(time)"
	"  WHERE outcome = 'unchanged' AND drift = 0;"
	"CREATE INDEX IF NOT EXISTS reconcile_events_provenance ON reconcile_events("
	"  revision, source, sequence) WHERE bundle_id IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS reconcile_state ("
	"  stack TEXT PRIMARY KEY, applied TEXT, previous TEXT, images TEXT, expected TEXT,"
	"  file TEXT, hold TEXT, drift TEXT, outcome TEXT, applied_time INTEGER,"
	"  last_cycle INTEGER, next_poll INTEGER);";

/* Version 2: lookups that version 1 answered by scanning. An import asks
 * whether a bundle id was seen and joins imports on (channel, sequence) to
 * judge moved tags and refs; provenance finds refs by commit. ferry 0.1.0
 * writes user_version 1 whenever it opens a store, so a store it touched
 * after an upgrade comes back here: the step must be safe to run twice. */
static const char v2[] =
	"CREATE INDEX IF NOT EXISTS imports_bundle ON imports(bundle_id);"
	"CREATE INDEX IF NOT EXISTS imports_channel ON imports(channel, sequence);"
	"CREATE INDEX IF NOT EXISTS refs_commit ON refs(repo, commit_id);";

/* Version 3: stacks an operator suspended (`ferry reconcile suspend`, or
 * `down`): the daemon leaves them alone until they are resumed. Like step
 * 2 it may run again on a store ferry 0.1.0 set back to version 1. */
static const char v3[] =
	"CREATE TABLE IF NOT EXISTS reconcile_suspended ("
	"  stack TEXT PRIMARY KEY, actor TEXT NOT NULL, reason TEXT,"
	"  time INTEGER NOT NULL);";

/* Version 4: the reason an operator gave for a sync, rollback, down or
 * suspension (the console asks for one), kept beside the event it
 * explains. A table of its own rather than a column, so that the step is
 * safe to run twice like steps 2 and 3. */
static const char v4[] =
	"CREATE TABLE IF NOT EXISTS reconcile_event_reasons ("
	"  event INTEGER PRIMARY KEY, reason TEXT NOT NULL);";

/* Version 5: each channel's image bindings as its bundles left them, which
 * an incremental bundle of format 2 changes and checks (bundle-format.md,
 * section 6.3). A store of format 1 bundles starts from its tags: every
 * such bundle bound every image of its channel. Only a store with no
 * bindings yet is filled, so the step is safe to run twice like the steps
 * before it (a second run must not bring back what bundles removed). */
static const char v5[] =
	"CREATE TABLE IF NOT EXISTS channel_images ("
	"  channel TEXT NOT NULL, reference TEXT NOT NULL, digest TEXT NOT NULL,"
	"  PRIMARY KEY (channel, reference));"
	"INSERT OR IGNORE INTO channel_images(channel, reference, digest)"
	"  SELECT channel, reference, digest FROM tags"
	"  WHERE NOT EXISTS (SELECT 1 FROM channel_images);"
	/* The layout view is rewritten only when marked behind (store.c):
	 * an older ferry kept no mark, so the first open rewrites it. */
	"INSERT OR IGNORE INTO meta(key, value) VALUES ('layout_view_stale', 1);";

const ferry_db_migration ferry_store__schema[] = {
	{ 1, v1 },
	{ 2, v2 },
	{ 3, v3 },
	{ 4, v4 },
	{ 5, v5 },
};
const size_t ferry_store__schema_steps =
	sizeof(ferry_store__schema) / sizeof(ferry_store__schema[0]);
