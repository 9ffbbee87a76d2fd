# Shared setup of the single-host benchmarks (sourced after `work` and
# `ferry_src` are set): makes the scratch directory $work, which must be
# empty, and removes it on exit unless KEEP=1 (a `cleanup` the script
# defined first is used instead, and must remove it too); copies the ferry
# binary into it as $ferry, so a rebuild during the run does not mix
# builds; points HOME and TMPDIR inside it, away from the user's git config.
[ -x "$ferry_src" ] || { echo "build ferry first ($ferry_src)" >&2; exit 1; }
mkdir -p "$work"
[ -z "$(ls -A "$work")" ] || { echo "$work is not empty" >&2; exit 1; }
declare -F cleanup >/dev/null || cleanup() { [ -n "${KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
cp "$ferry_src" "$work/ferry"
ferry=$work/ferry
export HOME=$work/home GIT_CONFIG_NOSYSTEM=1 TMPDIR=$work/tmp
mkdir -p "$HOME" "$TMPDIR"
