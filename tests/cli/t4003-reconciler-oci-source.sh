#!/usr/bin/env bash
# A stack whose source is an OCI artifact of the store (a manifest whose
# layers are tar.gz archives of deployment files): by tag it follows the
# tag, by digest ("name@sha256:...", a reference whose ':' belongs to the
# digest) it stays; its layers are checked out in order and rendered. A
# reference without tag or digest is refused in the config; a manifest that
# is not an image manifest is refused naming the stack.
. "$(dirname "$0")/../lib/test-lib.sh"
need jq tar gzip

L=$T/layout
mkdir -p "$L/blobs/sha256"
printf '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
printf '{"schemaVersion":2,"manifests":[]}' >"$L/index.json"
# put FILE: the blob into the layout; prints "sha256:<hex> <size>"
put() {
	local hex
	hex=$(sha256sum "$1" | cut -d' ' -f1)
	cp "$1" "$L/blobs/sha256/$hex"
	echo "sha256:$hex $(stat -c %s "$1")"
}
# artifact NAME REPLICAS: a manifest over one layer holding app/deployment.yaml,
# listed in index.json under ref.name NAME (none when NAME is empty); prints
# its digest.
artifact() {
	local name=$1 replicas=$2 cfg layer m
	rm -rf "$T/files" && mkdir -p "$T/files/app"
	cat >"$T/files/app/deployment.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: $replicas
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "mirror.local/library/web@sha256:$(printf '%064d' 1)"}]}
YAML
	tar -C "$T/files" -czf "$T/layer.tgz" app
	printf '{}' >"$T/cfg.json"
	cfg=$(put "$T/cfg.json")
	layer=$(put "$T/layer.tgz")
	jq -nc --arg cd "${cfg% *}" --argjson cs "${cfg#* }" --arg ld "${layer% *}" \
		--argjson ls "${layer#* }" '{schemaVersion: 2,
		mediaType: "application/vnd.oci.image.manifest.v1+json",
		artifactType: "application/vnd.example.deploy",
		config: {mediaType: "application/vnd.oci.empty.v1+json", digest: $cd, size: $cs},
		layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $ld,
			  size: $ls}]}' >"$T/m.json"
	m=$(put "$T/m.json")
	jq --arg d "${m% *}" --argjson s "${m#* }" --arg n "$name" \
		'.manifests += [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d,
		  size: $s} + (if $n == "" then {} else {annotations:
		  {"org.opencontainers.image.ref.name": $n}} end)]' "$L/index.json" >"$T/i.json"
	mv "$T/i.json" "$L/index.json"
	echo "${m% *}"
}

P=$(artifact "" 1)      # named by digest only
V1=$(artifact v1 2)
"$FERRY" keygen -o "$T/key" >/dev/null
printf 'channel: c\nsources:\n  - oci-layout: %s\n    name: deploy/web\n' "$L" >"$T/spec.yaml"
exp() { "$FERRY" export -q --spec "$T/spec.yaml" --key "$T/key.key" --out "$T/bundles" --state "$T/state.db" >/dev/null; }
mkdir -p "$T/bundles"
exp || fail "export"
"$FERRY" trust init --store "$T/store" --key "$T/key.pub" >/dev/null
"$FERRY" import -q --store "$T/store" "$T"/bundles/*.tar || fail "import"

cat >"$T/r.yaml" <<CFG
store: $T/store
kubernetes: {dry-run: true}
stacks:
  - {name: tagged, source: {oci: "deploy/web:v1", path: app}, target: kubernetes}
  - {name: pinned, source: {oci: "deploy/web@$P", path: app}, target: kubernetes}
CFG
R=("$FERRY" reconcile --config "$T/r.yaml")
"${R[@]}" status --json >"$T/status.json" || fail "status"
[ "$(jq -r '.[] | select(.stack == "tagged") | .desired' "$T/status.json")" = "$V1" ] ||
	fail "tagged: $(cat "$T/status.json")"
[ "$(jq -r '.[] | select(.stack == "pinned") | .desired' "$T/status.json")" = "$P" ] ||
	fail "pinned: $(cat "$T/status.json")"
ok "an oci source resolves by tag and by digest"

rendered() {   # STACK REPLICAS
	expect_exit 0 "${R[@]}" --dry-run sync "$1"
	f=$(sed -n 's/.* rendered to \([^ ]*\) .*/\1/p' "$T/out")
	[ -f "$f" ] || { cat "$T/out" "$T/err" >&2; fail "$1: no rendered file"; }
	grep -q "replicas: $2" "$f" || fail "$1: rendered $(cat "$f")"
}
rendered tagged 2
rendered pinned 1
ok "the artifact's layer is checked out and rendered"

# The tag moves; the digest stays.
V2=$(artifact v1 3)
jq --arg d "$V1" '.manifests |= map(select(.digest != $d))' "$L/index.json" >"$T/i.json"
mv "$T/i.json" "$L/index.json"
exp || fail "second export"
"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)" || fail "import 2"
"${R[@]}" status --json >"$T/status.json" || fail "status"
[ "$(jq -r '.[] | select(.stack == "tagged") | .desired' "$T/status.json")" = "$V2" ] || fail "the tag did not move"
[ "$(jq -r '.[] | select(.stack == "pinned") | .desired' "$T/status.json")" = "$P" ] || fail "the digest moved"
rendered tagged 3
ok "by tag the stack follows the tag ($V2); by digest it stays"

# An index is no artifact to check out.
jq -nc --arg d "$V2" --argjson s "$(stat -c %s "$L/blobs/sha256/${V2#sha256:}")" '{schemaVersion: 2,
	mediaType: "application/vnd.oci.image.index.v1+json", manifests: [{mediaType:
	"application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s}]}' >"$T/idx.json"
i=$(put "$T/idx.json")
jq --arg d "${i% *}" --argjson s "${i#* }" '.manifests += [{mediaType:
	"application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
	annotations: {"org.opencontainers.image.ref.name": "idx"}}]' "$L/index.json" >"$T/i.json"
mv "$T/i.json" "$L/index.json"
exp || fail "third export"
"$FERRY" import -q --store "$T/store" "$(ls "$T"/bundles/*.tar | sort | tail -n 1)" || fail "import 3"
printf 'store: %s\nkubernetes: {dry-run: true}\nstacks:\n  - {name: idx, source: {oci: "deploy/web:idx"}, target: kubernetes}\n' \
	"$T/store" >"$T/idx.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/idx.yaml" --dry-run sync idx
expect_err "stack 'idx': artifact manifest ${i% *} is not an image manifest (application/vnd.oci.image.index.v1+json)"
ok "an index is refused as an artifact, naming the stack"

printf 'stacks:\n  - name: x\n    source: {oci: "localhost:5000/web"}\n' >"$T/bad.yaml"
expect_exit 1 "$FERRY" reconcile --config "$T/bad.yaml" status
expect_err "bad.yaml:3: an oci source needs NAME:TAG or NAME@sha256:DIGEST, not 'localhost:5000/web'"
ok "a reference whose only ':' is a registry port is refused in the config"
