#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Every command's command line, read by one parser (cli/options.c): for
# every command and subcommand, --help (and -h) exits 0 and prints its
# usage, then every option the usage names; an unknown option exits 64
# naming it, and so does an unknown subcommand; options take the forms
# --opt=value, --opt value and -o value, and may follow the operands; and
# each usage agrees with the SYNOPSIS of the command's man page.
need jq
export FERRY_STORE=$T/no-store   # nothing here may touch a store

leaves=(keygen verify inspect export import receipt seed
	"trust init" "trust show" "trust create" "trust sign" "trust rotate"
	"store ls" "store gc" "store get" "store fsck"
	"target add" "target ls" "target show" "target rm" "target node-config"
	"mirror serve" "mirror node-config" "inbox run" "inbox once" "inbox status"
	"reconcile run" "reconcile sync" "reconcile status" "reconcile history"
	"reconcile rollback" "reconcile down" "reconcile reload" "reconcile suspend"
	"reconcile resume" "reconcile check"
	"site init" "kit build")
parents=(trust store target mirror reconcile inbox site kit)

# check_help WORDS: `ferry WORDS --help` prints the usage of `ferry WORDS`
# on stdout only, and exits 0; so does -h.
check_help() {
	expect_exit 0 "$FERRY" "$@" --help
	[ ! -s "$T/err" ] || { cat "$T/err" >&2; fail "'ferry $* --help' wrote to stderr"; }
	IFS= read -r first <"$T/out" || true
	case $first in
	"usage: ferry $*" | "usage: ferry $* "*) ;;
	*) cat "$T/out" >&2; fail "'ferry $* --help' does not start with 'usage: ferry $*'" ;;
	esac
	cp "$T/out" "$T/help"
	expect_exit 0 "$FERRY" "$@" -h
	cmp -s "$T/out" "$T/help" || fail "'ferry $* -h' differs from --help"
}

# check_options_described: every option in the usage of $T/help has a line.
check_options_described() {
	local opt
	sed '/^$/q' "$T/help" >"$T/usage"
	for opt in $(grep -oE -- '--[a-z][a-z-]*' "$T/usage" | sort -u); do
		grep -qE -- "^  (-[a-zA-Z], |    )?$opt( |\$)" "$T/help" ||
			{ cat "$T/help" >&2; fail "$1: $opt is in the usage but not described"; }
	done
	for opt in $(grep -oE -- '(^|[ [])-[a-zA-Z]( |]|$)' "$T/usage" | tr -d ' []' | sort -u); do
		grep -qE -- "^  $opt(,| |\$)" "$T/help" ||
			{ cat "$T/help" >&2; fail "$1: $opt is in the usage but not described"; }
	done
}

# check_bad_option WORDS: an unknown option is a usage error naming it.
check_bad_option() {
	expect_exit 64 "$FERRY" "$@" --no-such-option
	expect_err "ferry $*: bad option '--no-such-option'"
	expect_err "usage: ferry $*"
	[ ! -s "$T/out" ] || fail "'ferry $* --no-such-option' wrote to stdout"
	expect_exit 64 "$FERRY" "$@" -Z
	expect_err "ferry $*: bad option '-Z'"
}

for c in "${leaves[@]}"; do
	# shellcheck disable=SC2086 # the words of a subcommand
	check_help $c
	check_options_described "ferry $c --help"
	# shellcheck disable=SC2086
	check_bad_option $c
done
ok "every command and subcommand: --help and -h exit 0 with its usage and every option; an unknown option exits 64 naming it"

for c in "${parents[@]}"; do
	check_help "$c"
	for sub in $(sed -n '/^subcommands:$/,/^$/s/^  \([a-z-]*\) .*/\1/p' "$T/help"); do
		known=
		for leaf in "${leaves[@]}"; do [ "$leaf" != "$c $sub" ] || known=1; done
		[ -n "$known" ] || fail "'ferry $c' lists '$sub', which this test does not know"
		grep -q "^ *\(usage: \)\?ferry $c $sub\( \|\$\)" "$T/help" || fail "'ferry $c --help' lacks the usage of '$sub'"
	done
	for leaf in "${leaves[@]}"; do
		case $leaf in "$c "*) grep -q "^  ${leaf#"$c "} " "$T/help" ||
			fail "'ferry $c --help' does not list '${leaf#"$c "}'";; esac
	done
	check_bad_option "$c"
	expect_exit 64 "$FERRY" "$c" no-such-sub
	expect_err "ferry $c: unknown subcommand 'no-such-sub'"
	expect_err "usage: ferry $c"
	expect_exit 64 "$FERRY" "$c"
	expect_err "ferry $c: needs a subcommand"
done
ok "every command with subcommands lists them all in --help; an unknown or missing subcommand exits 64 naming it"

# ---- the forms of options and operands ------------------------------------
expect_exit 0 "$FERRY" keygen --output="$T/a"
expect_exit 0 "$FERRY" keygen --force -o "$T/a"
expect_exit 0 "$FERRY" keygen -f -o"$T/a"
[ -s "$T/a.key" ] && [ -s "$T/a.pub" ] || fail "keygen wrote no keys"
expect_exit 64 "$FERRY" keygen --force=yes -o "$T/b"
expect_err "bad option '--force': takes no value"
expect_exit 64 "$FERRY" keygen -o "$T/b" -- extra
expect_err "keygen needs -o PREFIX and nothing else"
[ ! -e "$T/b.key" ] || fail "a usage error wrote a key"
expect_exit 0 "$FERRY" trust init --store "$T/store" --key="$T/a.pub" --json
jq -e '.version == 1' "$T/out" >/dev/null || fail "trust init --json printed no root"
expect_exit 0 "$FERRY" trust show --json --store="$T/store"
jq -e '.version == 1' "$T/out" >/dev/null || fail "trust show --json printed no root"
expect_exit 0 "$FERRY" trust create -o "$T/root-v2.json" --version 2 --key "$T/a.pub" --sign "$T/a.key"
expect_exit 0 "$FERRY" trust rotate "$T/root-v2.json" --store "$T/store"
expect_out "trust root version 2"
expect_exit 64 "$FERRY" trust rotate --store "$T/store"
expect_err "ferry trust rotate: missing FILE"
expect_exit 64 "$FERRY" trust sign "$T/root-v2.json" "$T/other" --sign "$T/a.key"
expect_err "ferry trust sign: unexpected argument '$T/other'"
expect_exit 0 "$FERRY" store ls --json --store "$T/store"
jq -e '.blobs.count == 0' "$T/out" >/dev/null || fail "store ls --json"
ok "--opt=value, --opt value, -o value, -oVALUE and options after operands are read; -- ends options; operands are counted"

# ---- usage and man page SYNOPSIS agree --------------------------------------
for page in "$SRC"/docs/man/ferry*.md; do
	name=$(basename "$page" .md)
	cmd=${name#ferry}
	cmd=${cmd#-}
	sed -n '/^# SYNOPSIS/,/^# DESCRIPTION/p' "$page" | sed -n '/^```/,/^```/p' | sed '1d;$d' >"$T/man"
	# shellcheck disable=SC2086 # no words: ferry itself
	"$FERRY" $cmd --help >"$T/help"
	sed '/^$/q' "$T/help" | sed '/^$/d; s/^usage: //; s/^       //' >"$T/code"
	[ -s "$T/man" ] || fail "$page has no SYNOPSIS block"
	diff -u "$T/man" "$T/code" >&2 || fail "the SYNOPSIS of $name.md differs from 'ferry $cmd --help'"
done
ok "each man page's SYNOPSIS is the command's usage"
