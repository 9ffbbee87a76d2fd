#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Hostile repositories, hand-crafted with git hash-object --literally, are
# refused at export with an error naming the repository, the object, the
# entry and the rule (docs/git-safety.md); nothing is written. A clean
# repository with the same layout exports.
need git python3
. "$SRC/tests/lib/git-server.sh"
git_test_env
"$FERRY" keygen -o "$T/key" >/dev/null
mkdir -p "$T/bundles"

blob() { printf '%s' "$1" | git -C "$REPO" hash-object -w --stdin; }
# tree "MODE NAME OID"...: a raw tree object, exactly as given (no sorting)
tree() {
	python3 - "$@" <<'PY' | git -C "$REPO" hash-object -w --literally -t tree --stdin
import sys
out = b""
for e in sys.argv[1:]:
    mode, rest = e.split(" ", 1)
    name, oid = rest.rsplit(" ", 1)
    out += mode.encode() + b" " + name.encode("utf-8", "surrogateescape") + b"\0" + bytes.fromhex(oid)
sys.stdout.buffer.write(out)
PY
}
commit_raw() { printf '%b' "$1" | git -C "$REPO" hash-object -w --literally -t commit --stdin; }
commit() { commit_raw "tree $1\nauthor A U Thor <a@example.com> 1700000000 +0000\ncommitter A U Thor <a@example.com> 1700000000 +0000\n\nmsg\n"; }
N=0
# case NAME EXPECTED-MESSAGE: export $REPO (main = $TIP), expect refusal
case_() {
	local name=$1 want=$2
	git -C "$REPO" update-ref refs/heads/main "$TIP"
	printf 'channel: h%s\nsources:\n  - git: %s\n    name: hostile/%s\n' "$N" "${SERVED:-$REPO}" "$name" >"$T/spec.yaml"
	N=$((N + 1))
	expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" \
		--state "$T/state.db" --cache "$T/cache"
	expect_err "repository 'hostile/$name'"
	expect_err "$want"
	[ -z "$(ls "$T/bundles")" ] || fail "$name: files were written: $(ls "$T/bundles")"
	ok "$name refused: $(sed 's/^ferry export: //' "$T/err")"
}
fresh() { REPO=$T/r-$1; git init -q --bare "$REPO"; B=$(blob "content"); }

fresh ok
sub=$(tree "100644 a.yaml $B")
TIP=$(commit "$(tree "100644 .gitignore $B" "40000 k8s $sub")")
git -C "$REPO" update-ref refs/heads/main "$TIP"
printf 'channel: good\nsources:\n  - git: %s\n' "$REPO" >"$T/spec.yaml"
mkdir -p "$T/good"
expect_exit 0 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/good" \
	--state "$T/state.db" --cache "$T/cache"
ok "a clean crafted repository exports"

for name in .git .GIT .Git "git~1" "GIT~1" ".git " ".git." ".git..." ".git::\$INDEX_ALLOCATION" \
	$'.g\u200cit' $'.\ufeffgit' . .. "a/b"; do
	fresh dotgit
	sub=$(tree "100644 config $B")
	TIP=$(commit "$(tree "40000 $name $sub")")
	label=$(printf '%s' "$name" | od -An -c | tr -s ' ' | tr -d '\n' | sed 's/^ //')
	case "$name" in
	.) want="name is '.'" ;;
	..) want="name is '..'" ;;
	a/b) want="name contains '/'" ;;
	*) want="name is '.git'" ;;
	esac
	case_ "tree-${N}" "$want"
done

fresh link
TIP=$(commit "$(tree "120000 .gitmodules $B")")
case_ symlinked-gitmodules ".gitmodules is a symbolic link"
fresh link2
TIP=$(commit "$(tree "120000 GITMOD~1 $B")")
case_ symlinked-gitmodules-ntfs ".gitmodules is a symbolic link"

gm() { fresh gm; GM=$(blob "$1"); TIP=$(commit "$(tree "100644 .gitmodules $GM")"); }
gm $'[submodule "../../hooks"]\n\tpath = x\n\turl = https://example.com/x.git\n'
case_ gitmodules-name "submodule name has a '..' component"
gm $'[submodule "x"]\n\tpath = x\n\turl = -u./payload\n'
case_ gitmodules-url "submodule url starts with '-'"
gm $'[submodule "x"]\n\tpath = -x\n\turl = https://example.com/x.git\n'
case_ gitmodules-path "submodule path starts with '-'"
gm $'[submodule "x"]\n\tpath = x\n\turl = https://example.com/x%0a.git\n'
case_ gitmodules-url-newline "submodule url contains a control character"
gm $'[submodule "x"]\n\tpath = x\n\tupdate = !rm -rf /\n'
case_ gitmodules-update "submodule update runs a command"
gm $'[submodule "x"\n'
case_ gitmodules-malformed ".gitmodules: "

fresh modes
TIP=$(commit "$(tree "100664 a $B")")
case_ bad-mode "bad file mode"
fresh zero
TIP=$(commit "$(tree "0100644 a $B")")
case_ zero-padded "zero-padded file mode"
fresh unsorted
TIP=$(commit "$(tree "100644 b $B" "100644 a $B")")
case_ unsorted "entries not sorted"
fresh dup
TIP=$(commit "$(tree "100644 a $B" "100644 a $B")")
case_ duplicate "duplicate entry"
fresh dup2
sub=$(tree "100644 x $B")
TIP=$(commit "$(tree "100644 a $B" "100644 a-b $B" "40000 a $sub")")
case_ duplicate-file-and-dir "duplicate entry"

# libgit2 refuses these commits when it packs them itself (a local path),
# so they come from a git daemon, as from any remote server
git_daemon_start "$T"
served() { fresh "$1"; SERVED=$GIT_DAEMON_URL/r-$1; }
served commits
T0=$(tree "100644 a $B")
TIP=$(commit_raw "tree $T0\ncommitter A <a@example.com> 1700000000 +0000\n\nno author\n")
case_ no-author "missing author"
# (identities with a bad email or a zero-padded date, two authors: stock
# git servers refuse to send such commits at all; the unit tests in
# tests/unit/export/git_check.c cover those rules)

# deep in history, not at the tip: still refused
served history
bad=$(commit "$(tree "40000 .git $(tree "100644 config $B")")")
TIP=$(commit_raw "tree $(tree "100644 a $B")\nparent $bad\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n\nclean tip\n")
case_ in-history "name is '.git'"
