# Shared setup of the git benchmarks (sourced after `work` and `ferry_src`
# are set and the cleanup trap is installed): copies ferry into the scratch
# directory as $ferry and gives git a home of its own there, with no system
# configuration and an identity for commits.
cp "$ferry_src" "$work/ferry"
ferry=$work/ferry
export HOME=$work/home GIT_CONFIG_NOSYSTEM=1 TMPDIR=$work/tmp
mkdir -p "$HOME" "$TMPDIR"
git config --global user.name bench
git config --global user.email bench@example.com
