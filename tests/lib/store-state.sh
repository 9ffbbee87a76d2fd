# The state of a store as its readers see it, for the tests that interrupt
# or fail writers (sourced after test-lib.sh):
#   store_db_state STORE   the rows of ferry.db that make up the store's
#                          state, read through sqlite3 (which sees what is
#                          still in the WAL): no audit rows, no import
#                          time, no row ids, and not whether the layout
#                          view is behind (which the next writer mends)
store_db_state() {
	sqlite3 "$1/ferry.db" \
		"SELECT '== channels'" "SELECT name, sequence, bundle_id, created FROM channels ORDER BY name" \
		"SELECT '== tags'" "SELECT * FROM tags ORDER BY reference" \
		"SELECT '== refs'" "SELECT * FROM refs ORDER BY repo, ref" \
		"SELECT '== blobs'" "SELECT * FROM blobs ORDER BY digest" \
		"SELECT '== meta'" "SELECT * FROM meta WHERE key <> 'layout_view_stale' ORDER BY key" \
		"SELECT '== trust_roots'" "SELECT version, body, installed FROM trust_roots ORDER BY version" \
		"SELECT '== imports'" "SELECT bundle_id, channel, sequence, base_sequence, created, expires,
			signers FROM imports ORDER BY channel, sequence, bundle_id" ||
		fail "cannot read $1/ferry.db"
}
