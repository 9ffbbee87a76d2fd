#!/usr/bin/env bash
# Seeding Gitea/Forgejo: ferry's REST calls go to a local responder that
# checks each one against Gitea's API description (tests/resources/gitea/)
# and logs it; git pushes go to git http-backend under lighttpd. Covers
# creating a missing organisation and repositories, the "already exists"
# answer (409), setting the default branch, registering a webhook once, and
# a refused token. No running Gitea was used.
. "$(dirname "$0")/../lib/test-lib.sh"
. "$SRC/tests/lib/git-server.sh"
need git jq curl
RESPONDER=${FERRY_GITEA_RESPONDER:-$SRC/build/tests/gitea-responder}
[ -x "$RESPONDER" ] || fail "gitea-responder not built"
SPEC=$SRC/tests/resources/gitea/gitea-api-subset.json
git_test_env

mkrepo() {
	git init -q -b main "$T/$1"
	printf '%s\n' "$1" >"$T/$1/README"
	git -C "$T/$1" add -A && git -C "$T/$1" commit -qm "$1"
	git -C "$T/$1" tag v1
}
mkrepo deploy
mkrepo tools
"$FERRY" keygen -o "$T/k" >/dev/null
printf 'channel: g\nsources:\n  - git: %s\n    name: platform/deploy\n  - git: %s\n    name: tools\n' \
	"$T/deploy" "$T/tools" >"$T/spec.yaml"
mkdir "$T/bundles"
"$FERRY" export -q --spec "$T/spec.yaml" --key "$T/k.key" --out "$T/bundles" --state "$T/state.db" \
	--cache "$T/cache" >/dev/null
"$FERRY" trust init --store "$T/store" --key "$T/k.pub" >/dev/null
"$FERRY" import -q --no-seed --store "$T/store" "$T"/bundles/*.tar

mkdir -p "$T/gitroot"
GIT_SERVER_PUSH=1 git_http_start "$T/gitroot"
"$RESPONDER" --spec "$SPEC" --token t0ken-abc --log "$T/api.log" --port-file "$T/api.port" \
	--user ferry-bot --race-repo infra/deploy --git-root "$T/gitroot" 2>"$T/responder.err" &
rpid=$!
at_exit "kill $rpid"
for _ in $(seq 1 100); do [ -s "$T/api.port" ] && break; sleep 0.05; done
[ -s "$T/api.port" ] || { cat "$T/responder.err"; fail "responder did not start"; }
API=http://127.0.0.1:$(cat "$T/api.port")

printf 't0ken-abc\n' >"$T/token"
"$FERRY" target add gitea --store "$T/store" --kind gitea --url "$API" --credentials "$T/token" \
	--git-url "$GIT_HTTP_URL" --rewrite platform/=gitea.site/infra/ \
	--webhook http://reconciler.enclave:9000/hooks/git >/dev/null
"$FERRY" seed --store "$T/store" --json -v >"$T/s1.json" 2>"$T/s1.err" ||
	{ cat "$T/s1.json" "$T/s1.err" "$T/api.log"; fail "seed failed"; }
! grep -q t0ken-abc "$T/s1.json" "$T/s1.err" || fail "the token was printed"
if grep INVALID "$T/api.log"; then fail "requests that do not match the description"; fi
expect_line() { grep -qF -- "$1" "$T/api.log" || { cat "$T/api.log" >&2; fail "no request '$1'"; }; }
expect_line 'GET /api/v1/user 200 ok'
expect_line 'GET /api/v1/orgs/infra 404 ok'
expect_line 'POST /api/v1/orgs 201 ok {"username":"infra","visibility":"public"}'
expect_line 'GET /api/v1/repos/infra/deploy 404 ok'
expect_line 'POST /api/v1/orgs/infra/repos 409 ok'
expect_line 'PATCH /api/v1/repos/infra/deploy 200 ok {"default_branch":"main"}'
expect_line 'POST /api/v1/user/repos 201 ok'
expect_line 'GET /api/v1/repos/infra/deploy/hooks 200 ok'
expect_line 'POST /api/v1/repos/infra/deploy/hooks 201 ok {"active":true,"config":{"content_type":"json","url":"http://reconciler.enclave:9000/hooks/git"},"events":["push"],"type":"gitea"}'
ok "every request matches the API description: org created, 409 'already exists' handled, default branch set, webhook registered"

for pair in "platform/deploy infra/deploy" "tools ferry-bot/tools"; do
	set -- $pair
	[ "$(git --git-dir "$T/store/git/$1.git" for-each-ref --format='%(objectname) %(refname)')" = \
	  "$(git --git-dir "$T/gitroot/$2.git" for-each-ref --format='%(objectname) %(refname)')" ] ||
		fail "$2: refs differ from the store"
	git --git-dir "$T/gitroot/$2.git" fsck --strict --no-progress >/dev/null 2>&1 || fail "$2: fsck"
done
[ "$(jq '.targets[0].repositoriesCreated' "$T/s1.json")" = 1 ] || fail "expected one repository created"
ok "refs pushed after the repositories exist; fsck --strict clean"

: >"$T/api.log"
"$FERRY" seed --store "$T/store" -q || fail "second seed failed"
if grep INVALID "$T/api.log"; then fail "invalid requests on the second seed"; fi
if grep -E '^(POST|PATCH) ' "$T/api.log"; then fail "the second seed changed something"; fi
ok "a second seed only reads: no organisation, repository or hook created twice"

printf 'wrong\n' >"$T/bad"
"$FERRY" target add gitea --replace --store "$T/store" --kind gitea --url "$API" \
	--credentials "$T/bad" --git-url "$GIT_HTTP_URL" >/dev/null
expect_exit 1 "$FERRY" seed --store "$T/store"
expect_err "Gitea refused the token (HTTP 401)"
! grep -q wrong "$T/out" "$T/err" || fail "the token was printed"
ok "a refused token fails clearly and is not printed"

# The responder itself rejects what the description does not allow.
curl -s -o /dev/null -H 'Authorization: token t0ken-abc' -H 'Content-Type: application/json' \
	-d '{"name":"x"}' "$API/api/v1/orgs"
grep -q "POST /api/v1/orgs 422 INVALID: body: required field 'username' missing" "$T/api.log" ||
	{ tail -3 "$T/api.log"; fail "the responder accepted a body without username"; }
curl -s -o /dev/null -H 'Authorization: token t0ken-abc' "$API/api/v1/user?access_token=x"
grep -q "INVALID: query parameter 'access_token' is not declared" "$T/api.log" ||
	fail "the responder accepted a deprecated query token"
ok "the responder rejects requests outside the description"
