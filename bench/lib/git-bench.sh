# Shared setup of the git benchmarks (sourced after `work` and `ferry_src`
# are set): the scratch directory of workdir.sh, and git with a home of its
# own there, no system configuration and an identity for commits.
. "$(dirname "${BASH_SOURCE[0]}")/workdir.sh"
git config --global user.name bench
git config --global user.email bench@example.com
