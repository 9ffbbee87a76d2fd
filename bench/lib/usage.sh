# Shared start of the standalone benchmarks (sourced with the script's name
# as $1 and its arguments after it): die() prefixes messages with the name,
# and -h/--help prints the script's header comment and exits.
BENCH_NAME=$1
shift
die() {
	echo "$BENCH_NAME: $*" >&2
	exit 1
}
case ${1:-} in
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit 0
	;;
esac
