#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Full export of git repositories served by real servers on 127.0.0.1:
# git daemon (git://), git http-backend under lighttpd (http://), the same
# behind HTTP basic authentication (token by reference), and a local path.
# Each repository's git bundle blob, extracted with tar, is a bundle that
# stock git verifies and clones; the clone passes git fsck --strict, and
# every ref the manifest binds resolves to the bound commit in it.
need git jq tar lighttpd python3 sha256sum
. "$SRC/tests/lib/git-server.sh"
git_test_env

R=$T/repos
mkdir -p "$R/org"
make_repo() {   # make_repo NAME DEST: branches, tags, an annotated tag
	local w=$T/work/$1
	git init -q "$w"
	mkdir -p "$w/k8s"
	for i in 1 2 3; do
		printf 'replicas: %s\n' "$i" >"$w/k8s/deploy.yaml"
		git -C "$w" add -A && git -C "$w" commit -qm "$1 change $i"
	done
	git -C "$w" tag v1.0
	git -C "$w" tag -a v1.1 -m "release 1.1"
	git -C "$w" checkout -qb feature
	echo feature >"$w/feature.txt"
	git -C "$w" add -A && git -C "$w" commit -qm "$1 feature"
	git -C "$w" checkout -q main
	git clone -q --bare "$w" "$2"
}
make_repo app "$R/org/app.git"
make_repo web "$R/web.git"
make_repo secret "$R/secret.git"
make_repo local "$R/local.git"

git_daemon_start "$R"
TOKEN=s3cr3t-$RANDOM-token
git_http_start "$R" "$TOKEN"
printf '%s\n' "$TOKEN" >"$T/token"
printf 'wrong-token\n' >"$T/bad-token"

"$FERRY" keygen -o "$T/key" >/dev/null
mkdir -p "$T/bundles"
{
	echo "channel: git"
	echo "sources:"
	echo "  - git: $GIT_DAEMON_URL/org/app.git"
	echo "  - git: $GIT_HTTP_URL/web.git"
	echo "    refs: [main, \"refs/tags/v*\"]"
	echo "  - git: $GIT_HTTP_AUTH_URL/secret.git"
	echo "    name: team/secret"
	echo "    credentials:"
	echo "      token-file: token"
	echo "      username: ferry"
	echo "  - git: repos/local.git"
} >"$T/spec.yaml"
expect_exit 0 "$FERRY" export -q --json --spec "$T/spec.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/state.db" --cache "$T/cache"
grep -q "$TOKEN" "$T/out" "$T/err" && fail "the token appears in the output"
B=$T/bundles/ferry-git-000001.tar
[ "$(jq -r .repositories "$T/out")" = 4 ] || fail "export --json: $(cat "$T/out")"
ok "export of git://, http://, token-protected http:// and a local path (relative to the spec)"

"$FERRY" inspect --json "$B" >"$T/inspect.json"
[ "$(jq -r '[.repositories[].name] | join(" ")' "$T/inspect.json")" = "org/app git/web team/secret local" ] ||
	fail "repository names: $(jq -c '[.repositories[].name]' "$T/inspect.json")"
[ "$(jq -r '.repositories[] | select(.name == "git/web") | [.refs[].name] | join(" ")' "$T/inspect.json")" = \
	"refs/heads/main refs/tags/v1.0 refs/tags/v1.1" ] || fail "refs: selection for web"
[ "$(jq -r '.repositories[] | select(.name == "org/app") | [.refs[].name] | join(" ")' "$T/inspect.json")" = \
	"refs/heads/feature refs/heads/main refs/tags/v1.0 refs/tags/v1.1" ] || fail "default selection for org/app"
[ "$(jq -r '.baseSequence' "$T/inspect.json")" = 0 ] || fail "a first export is full"
[ "$(jq -r '[.repositories[].prerequisites | length] | add' "$T/inspect.json")" = 0 ] ||
	fail "full bundles have prerequisites"
[ "$(jq -r '[.sources[].kind] | unique | join(" ")' "$T/inspect.json")" = git ] || fail "sources list kind git"
ok "names derived from URLs (org/app, git/web, local) or given (team/secret); refs selected by pattern"

mkdir "$T/x"
tar -xf "$B" -C "$T/x"
for name in org/app git/web team/secret local; do
	blob=$(jq -r --arg n "$name" '.repositories[] | select(.name == $n) | .bundle | sub("sha256:"; "")' \
		"$T/inspect.json")
	f=$T/x/blobs/sha256/$blob
	[ -f "$f" ] || fail "$name: no bundle member $blob"
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$blob" ] || fail "$name: bundle blob does not hash to its name"
	head -1 "$f" | grep -qx '# v2 git bundle' || fail "$name: not a v2 git bundle"
	c=$T/clone-${name//\//-}
	expect_exit 0 git clone -q --mirror "$f" "$c"
	expect_exit 0 git -C "$c" bundle verify "$f"
	expect_exit 0 git -C "$c" fsck --strict --no-progress
	src=$R/${name#git/}.git
	[ "$name" = team/secret ] && src=$R/secret.git
	jq -r --arg n "$name" '.repositories[] | select(.name == $n) | .refs[] | "\(.commit) \(.name)"' \
		"$T/inspect.json" >"$T/refs"
	[ -s "$T/refs" ] || fail "$name: no refs"
	while read -r commit ref; do
		[ "$(git -C "$c" rev-parse "$ref")" = "$commit" ] || fail "$name: $ref is not $commit in the clone"
		[ "$(git -C "$src" rev-parse "$ref")" = "$commit" ] || fail "$name: $ref differs from the server"
	done <"$T/refs"
	[ "$(git -C "$c" rev-parse 'refs/tags/v1.1^{commit}')" = "$(git -C "$c" rev-parse 'refs/tags/v1.0')" ] ||
		fail "$name: annotated tag lost"
	[ "$(git -C "$c" cat-file -t refs/tags/v1.1)" = tag ] || fail "$name: v1.1 is not an annotated tag"
	ok "$name: git clone of the extracted blob, bundle verify, fsck --strict, every ref = manifest = server"
done
git clone -q "$T/x/blobs/sha256/$(jq -r '.repositories[0].bundle | sub("sha256:"; "")' "$T/inspect.json")" \
	"$T/checkout" 2>/dev/null
[ "$(cat "$T/checkout/k8s/deploy.yaml")" = "replicas: 3" ] || fail "a clone of the bundle checks out main"
ok "git clone checks out the default branch (HEAD in the bundle)"

"$FERRY" inspect "$B" >"$T/inspect.txt"
grep -q '^repositories (4):' "$T/inspect.txt" || fail "inspect text lacks repositories"
grep -q "^  team/secret$" "$T/inspect.txt" || fail "inspect text lacks team/secret"
grep -q "refs/tags/v1.1$" "$T/inspect.txt" || fail "inspect text lacks refs"
ok "ferry inspect lists repositories, refs and bundle sizes"

# ---- credentials and spec errors -----------------------------------------------
one() {   # one URL [LINE...]: a one-source spec in $T/one.yaml
	local url=$1 l
	shift
	{
		echo "channel: one"
		echo "sources:"
		echo "  - git: $url"
		for l in "$@"; do echo "    $l"; done
	} >"$T/one.yaml"
}
run_one() { expect_exit "$1" "$FERRY" export -q --spec "$T/one.yaml" --key "$T/key.key" \
	--out "$T/bundles" --state "$T/one.db" --cache "${2:-$T/cache}"; }

one "$GIT_HTTP_AUTH_URL/secret.git"
run_one 1
expect_err "cannot fetch '$GIT_HTTP_AUTH_URL/secret.git'"
ok "a token-protected source without credentials fails, naming the URL"

one "$GIT_HTTP_AUTH_URL/secret.git" "credentials: {token-file: bad-token, username: ferry}"
run_one 1
expect_err "authentication failed (credentials from token-file)"
grep -q wrong-token "$T/err" "$T/out" && fail "the token appears in the message"
ok "a wrong token: authentication failed, the token is not printed"

one "$GIT_HTTP_AUTH_URL/secret.git" "credentials: {token-env: FERRY_TEST_TOKEN, username: ferry}"
FERRY_TEST_TOKEN=$TOKEN run_one 0 "$T/cache2"
run_one 1 "$T/cache3"
expect_err "environment variable 'FERRY_TEST_TOKEN' is not set"
ok "token-env: the token from the environment; unset, the export fails naming the variable"

one "http://ferry:$TOKEN@127.0.0.1:1/x.git"
run_one 1
expect_err "the URL holds a password"
one "$GIT_HTTP_URL/web.git" "credentials: {token: abc}"
run_one 1
expect_err "one.yaml:3: git source: credentials: unknown key 'token'"
one "$GIT_HTTP_URL/web.git" "credentials: {token-file: a, token-env: B}"
run_one 1
expect_err "give exactly one of token-file, token-env, ssh-key-file"
one "$GIT_HTTP_URL/web.git" "refs: [nothere]"
run_one 1
expect_err "ref 'nothere' does not exist"
one "$GIT_HTTP_URL/web.git" "tag: x"
run_one 1
expect_err "one.yaml:3: git source: unknown key 'tag'"
one "$GIT_HTTP_URL/nothere.git"
run_one 1
expect_err "cannot fetch '$GIT_HTTP_URL/nothere.git'"
ok "secrets in URLs, unknown or conflicting credential keys, missing refs, unknown keys, missing repositories: errors naming the line or URL"
