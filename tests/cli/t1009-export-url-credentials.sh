#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# No secret rides in a URL. An export spec whose source URL has a user or a
# password part (https://ghp_TOKEN@host/repo.git, git://user:pw@host/x, a
# chart repository https://u:p@charts) is refused (exit 1) pointing to
# 'credentials', before anything is fetched or written, and the secret
# appears in no output (text or --json) and in no bundle or state file; an
# ssh:// login name (not a secret) is allowed past this check.
# 'ferry target add' refuses a URL with a user or password part the same
# way: the secret is not echoed, and is not in ferry.db ('target ls' shows
# nothing of it).
need sqlite3 grep
SECRET=ghp_s3cr3tT0k3nValue
"$FERRY" keygen -o "$T/k" >/dev/null
mkdir -p "$T/bundles"

# spec KIND URL: a one-source spec.
spec() { printf 'channel: creds\nsources:\n  - %s: "%s"\n    name: org/app\n' "$1" "$2" >"$T/spec.yaml"; }
# no_secret WHERE...: SECRET appears in none of the files or directories.
no_secret() {
	! grep -rqaF "$SECRET" "$@" 2>/dev/null || fail "the secret appears in: $(grep -rlaF "$SECRET" "$@")"
}
for url in "https://$SECRET@git.example.invalid/org/app.git" \
	"https://ferry:$SECRET@git.example.invalid/org/app.git" \
	"git://user:$SECRET@git.example.invalid/x" \
	"http://:$SECRET@git.example.invalid/x.git"; do
	spec git "$url"
	for v in "" --json; do
		expect_exit 1 "$FERRY" export $v --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
			--state "$T/state.db" --cache "$T/cache"
		expect_err "the URL holds a"
		expect_err "give credentials by reference under 'credentials'"
		no_secret "$T/out" "$T/err" "$T/bundles"
		[ ! -e "$T/state.db" ] || no_secret "$T/state.db"
	done
	ok "git source ${url%%$SECRET*}...: refused (text and --json), the secret printed nowhere"
done
spec chart "https://u:$SECRET@charts.example.invalid/stable"
expect_exit 1 "$FERRY" export --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
expect_err "the URL holds a password"
no_secret "$T/out" "$T/err" "$T/bundles"
ok "chart repository source with a password in the URL: refused"
spec git "ssh://git@127.0.0.1:1/org/app.git"
expect_exit 1 "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" \
	--state "$T/state.db" --cache "$T/cache"
! grep -qF "the URL holds" "$T/err" || fail "an ssh login name is refused as a credential"
ok "an ssh:// login name is not taken for a credential"

# ---- target add -----------------------------------------------------------------
S=$T/store
"$FERRY" trust init --store "$S" --key "$T/k.pub" >/dev/null
for t in "oci https://robot:$SECRET@registry.example.invalid" \
	"oci https://$SECRET@registry.example.invalid" \
	"git https://$SECRET@git.example.invalid" \
	"git git://u:$SECRET@git.example.invalid" \
	"gitea https://admin:$SECRET@gitea.example.invalid"; do
	read -r kind url <<<"$t"
	expect_exit 1 "$FERRY" target add site --store "$S" --kind "$kind" --url "$url"
	expect_err "the URL holds a"
	expect_err "--credentials FILE"
	no_secret "$T/out" "$T/err"
	no_secret "$S"
	expect_exit 0 "$FERRY" target ls --store "$S"
	no_secret "$T/out" "$T/err"
	ok "target add --kind $kind ${url%%$SECRET*}...: refused, the secret in no output and not in the store"
done
expect_exit 0 "$FERRY" target add site --store "$S" --kind git --url "ssh://git@git.example.invalid/org"
ok "target add: an ssh:// login name is allowed"
