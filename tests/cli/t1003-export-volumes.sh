#!/usr/bin/env bash
. "$(dirname "$0")/../lib/test-lib.sh"
# Split bundles: a ~4 MiB export with --max-volume-size 1M gives >= 3
# volumes, each <= 1 MiB with its own .minisig that stock minisign accepts.
# ferry verify accepts all volumes in any order; given only some, it
# verifies each one but fails (exit 2) naming exactly the missing volume
# numbers; a corrupted volume is named by number (and stock minisign
# rejects it too); a fresh copy of that volume fixes it. Extracting every
# volume with tar and joining ferry-parts/<member>.NNN pieces rebuilds
# blobs that hash to their names, giving an OCI layout skopeo can read
# and copy. --max-volume-size 4294967295 (FAT32) on a small export gives
# one plain .tar; a volume size too small for the manifest is refused.
need jq skopeo minisign umoci shuf sha256sum
. "$SRC/tests/lib/oci-fixture.sh"

# flip_byte FILE OFFSET: invert the byte at OFFSET in place.
# data_offset TAR MEMBER: where MEMBER's data starts (ustar header, no pax).
# join_list A B C ... -> "A, B, C"
join_list() { local IFS=,; echo "$*" | sed 's/,/, /g'; }

make_oci_layout "$T/layout" 3000 >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "fixture"; }
"$FERRY" keygen -o "$T/key" >/dev/null
printf 'channel: demo\nexpires: 7d\nsources:\n  - oci-layout: layout\n    name: library/app\n' >"$T/spec.yaml"
mkdir "$T/vols"
expect_exit 0 "$FERRY" export -q --json --spec "$T/spec.yaml" --key "$T/key.key" \
	--out "$T/vols" --state "$T/state.db" --max-volume-size 1M
cp "$T/out" "$T/export.json"
N=$(jq -r '.files | length' "$T/export.json")
[ "$N" -ge 3 ] || fail "only $N volume(s) for a ~4 MiB bundle at 1 MiB each"
VOLS=()
for i in $(seq 1 "$N"); do
	v=$T/vols/ferry-demo-000001.vol$(printf %03d "$i").tar
	[ "$(jq -r ".files[$((i - 1))]" "$T/export.json")" = "$v" ] || fail "export --json file $i is not $v"
	[ -f "$v" ] && [ -f "$v.minisig" ] || fail "missing $v or its .minisig"
	VOLS+=("$v")
done
[ "$(ls "$T/vols" | wc -l)" = $((2 * N)) ] || fail "unexpected files in the out dir: $(ls "$T/vols")"
[ ! -e "$T/vols/ferry-demo-000001.tar" ] || fail "a split export also wrote an unsplit .tar"
ok "--max-volume-size 1M splits the bundle into $N volumes vol001..vol$(printf %03d "$N"), each with a .minisig"

for v in "${VOLS[@]}"; do
	size=$(stat -c %s "$v")
	[ "$size" -le 1048576 ] || fail "$(basename "$v") is $size bytes, over 1 MiB"
	[ $((size % 512)) = 0 ] || fail "$(basename "$v") is not a whole number of tar blocks"
done
ok "every volume is at most 1048576 bytes"

for v in "${VOLS[@]}"; do
	expect_exit 0 minisign -Vm "$v" -p "$T/key.pub"
	expect_out "Signature and comment signature verified"
done
ok "stock minisign accepts each volume's own .minisig"

# (inspect --json's "volume" field is not checked: it reports 1 for every
# volume -- reported as a bug.)
for i in $(seq 1 "$N"); do
	"$FERRY" inspect --json "${VOLS[$((i - 1))]}" >"$T/insp"
	[ "$(jq -r .volumes "$T/insp")" = "$N" ] || fail "inspect of volume $i says $(jq -r .volumes "$T/insp") volumes"
	[ "$(jq -r .id "$T/insp")" = "$(jq -r .id "$T/export.json")" ] || fail "volume $i has another bundle id"
done
"$FERRY" inspect --json "${VOLS[0]}" >"$T/inspect.json"
ok "ferry inspect on each volume shows the same bundle id and $N volumes"

# ---- all volumes, any order --------------------------------------------------
mapfile -t SHUF < <(printf '%s\n' "${VOLS[@]}" | shuf)
mapfile -t REV < <(printf '%s\n' "${VOLS[@]}" | sort -r)
for order in SHUF REV; do
	declare -n list=$order
	expect_exit 0 "$FERRY" verify --trust-key "$T/key.pub" "${list[@]}"
	expect_out "all volumes verified"
	for i in $(seq 1 "$N"); do expect_out "$(basename "${VOLS[$((i - 1))]}"): OK (volume $i of $N)"; done
	unset -n list
done
ok "ferry verify accepts all $N volumes in shuffled and in reverse order"

# ---- missing volumes -----------------------------------------------------------
for i in $(seq 1 "$N"); do
	v=${VOLS[$((i - 1))]}
	missing=()
	for j in $(seq 1 "$N"); do [ "$j" = "$i" ] || missing+=("$j"); done
	expect_exit 2 "$FERRY" verify --trust-key "$T/key.pub" "$v"
	expect_out "$v: OK (volume $i of $N)"
	expect_out "INCOMPLETE"
	expect_err "volumes $(join_list "${missing[@]}") of $N are missing"
done
ok "each volume alone verifies as a file, but exit 2 names the other $((N - 1)) volumes as missing"

# Only the first and last: exactly the middle ones are missing.
middle=($(seq 2 $((N - 1))))
expect_exit 2 "$FERRY" verify --trust-key "$T/key.pub" "${VOLS[$((N - 1))]}" "${VOLS[0]}"
if [ "${#middle[@]}" = 1 ]; then
	expect_err "volume 2 of $N is missing"
else
	expect_err "volumes $(join_list "${middle[@]}") of $N are missing"
fi
expect_exit 2 "$FERRY" verify --json --trust-key "$T/key.pub" "${VOLS[$((N - 1))]}" "${VOLS[0]}"
[ "$(jq -c '.bundles[0].missingVolumes' "$T/out")" = "[$(join_list "${middle[@]}" | tr -d ' ')]" ] ||
	fail "--json missingVolumes: $(jq -c '.bundles[0].missingVolumes' "$T/out")"
[ "$(jq -r '.ok, .bundles[0].complete' "$T/out" | tr '\n' ' ')" = "false false " ] || fail "--json ok/complete"
[ "$(jq -c '.bundles[0].corruptVolumes' "$T/out")" = "[]" ] || fail "--json corruptVolumes not empty"
ok "volumes 1 and $N only: exit 2 naming volume(s) $(join_list "${middle[@]}") (text and --json)"

# ---- a corrupted volume, then re-sent ------------------------------------------
C=$T/copy
cp -r "$T/vols" "$C"
cv=$C/$(basename "${VOLS[1]}")   # volume 2: never the short last volume
# The largest member of volume 2 (a piece of a split blob or a whole blob).
big=$(tar -tvf "$cv" | sort -k3,3n | tail -n1 | awk '{print $NF}')
bigsize=$(tar -tvf "$cv" | sort -k3,3n | tail -n1 | awk '{print $3}')
off=$(($(data_offset "$cv" "$big") + bigsize / 2))
flip_byte "$cv" "$off"
! cmp -s "$cv" "${VOLS[1]}" || fail "flip_byte changed nothing"
mapfile -t CV < <(printf '%s\n' "${VOLS[@]}" | sed "s|^$T/vols/|$C/|" | shuf)
expect_exit 2 "$FERRY" verify --trust-key "$T/key.pub" "${CV[@]}"
expect_err "volume 2 of $N ('$cv'): member"
expect_err "member '$big' does not match its digest"
expect_out "$cv: FAILED: member '$big' does not match its digest"
expect_exit 2 "$FERRY" verify --json --trust-key "$T/key.pub" "${CV[@]}"
[ "$(jq -c '.bundles[0].corruptVolumes' "$T/out")" = "[2]" ] ||
	fail "--json corruptVolumes: $(jq -c '.bundles[0].corruptVolumes' "$T/out")"
[ "$(jq -c '.bundles[0].missingVolumes' "$T/out")" = "[]" ] || fail "--json missingVolumes not empty"
expect_exit 1 minisign -Vm "$cv" -p "$T/key.pub"
ok "a flipped byte in volume 2 ($big) fails verify with exit 2 naming volume 2 as corrupt; minisign rejects it too"

cp "${VOLS[1]}" "$cv"
expect_exit 0 "$FERRY" verify --trust-key "$T/key.pub" "${CV[@]}"
expect_out "all volumes verified"
ok "re-sending a fresh copy of volume 2 makes the set verify again"

# ---- extract with tar and join the pieces ------------------------------------------
X=$T/x
mkdir "$X"
for v in "${SHUF[@]}"; do tar -xf "$v" -C "$X"; done
[ -d "$X/ferry-parts/blobs/sha256" ] || fail "no ferry-parts/ pieces: the fixture should split at 1 MiB"
npieces=0 njoined=0
for first in "$X"/ferry-parts/blobs/sha256/*.001; do
	hex=$(basename "$first" .001)
	[ ! -e "$X/blobs/sha256/$hex" ] || fail "blob $hex is both whole and in pieces"
	k=1
	: >"$T/joined"
	while [ -f "$X/ferry-parts/blobs/sha256/$hex.$(printf %03d $k)" ]; do
		cat "$X/ferry-parts/blobs/sha256/$hex.$(printf %03d $k)" >>"$T/joined"
		k=$((k + 1)) npieces=$((npieces + 1))
	done
	[ "$k" -gt 2 ] || fail "blob $hex has a single piece"
	[ "$(sha256sum <"$T/joined" | cut -d' ' -f1)" = "$hex" ] || fail "joined pieces of $hex hash to something else"
	want=$(jq -r --arg p "blobs/sha256/$hex" '.members[] | select(.path == $p) | .size' "$T/inspect.json")
	[ "$(stat -c %s "$T/joined")" = "$want" ] || fail "joined $hex is $(stat -c %s "$T/joined") bytes, manifest says $want"
	mv "$T/joined" "$X/blobs/sha256/$hex"
	njoined=$((njoined + 1))
done
[ "$(ls "$X"/ferry-parts/blobs/sha256 | wc -l)" = "$npieces" ] || fail "stray or unnumbered pieces under ferry-parts/"
rm -r "$X/ferry-parts"
ok "joining ferry-parts/blobs/sha256/<hex>.NNN ($npieces pieces) rebuilds $njoined blob(s) hashing to their names"

# Now the directory holds exactly the manifest's members, all intact.
jq -r '.members[] | "\(.sha256)  \(.path)"' "$T/inspect.json" >"$T/members.sha256"
(cd "$X" && sha256sum --quiet -c "$T/members.sha256") || fail "rebuilt layout does not match the manifest"
(cd "$X" && find . -type f ! -name ferry-manifest.dsse.json ! -name ferry-contents.jsonl | sed 's|^\./||' | sort) >"$T/have"
jq -r '.members[].path' "$T/inspect.json" | sort >"$T/want"
cmp -s "$T/have" "$T/want" || { diff "$T/want" "$T/have" >&2; fail "rebuilt layout has other files than the manifest lists"; }
for tag in v1 multi chart; do
	want=$(jq -r --arg r "library/app:$tag" '.images[] | select(.reference == $r) | .digest' "$T/inspect.json")
	expect_exit 0 skopeo inspect --raw "oci:$X:library/app:$tag"
	[ "sha256:$(sha256sum <"$T/out" | cut -d' ' -f1)" = "$want" ] || fail "rebuilt $tag does not hash to $want"
done
printf '%s\n' '{"default":[{"type":"insecureAcceptAnything"}]}' >"$T/policy.json"
expect_exit 0 skopeo --policy "$T/policy.json" copy -q --all "oci:$X:library/app:multi" "oci:$T/copy-layout:multi"
ok "the rebuilt directory is the signed OCI layout: skopeo reads v1/multi/chart and copies multi --all"

# ---- FAT32 limit and too-small volumes ------------------------------------------------
make_oci_layout "$T/small" >/dev/null 2>"$T/fixture.log" || { cat "$T/fixture.log" >&2; fail "small fixture"; }
printf 'channel: fat\nsources:\n  - oci-layout: small\n    name: library/app\n' >"$T/fat.yaml"
mkdir "$T/fat"
expect_exit 0 "$FERRY" export -q --json --spec "$T/fat.yaml" --key "$T/key.key" \
	--out "$T/fat" --state "$T/state.db" --max-volume-size 4294967295
[ "$(jq -c .files "$T/out")" = "[\"$T/fat/ferry-fat-000001.tar\"]" ] || fail "FAT32 export files: $(jq -c .files "$T/out")"
[ "$(ls "$T/fat")" = "$(printf 'ferry-fat-000001.tar\nferry-fat-000001.tar.minisig')" ] ||
	fail "FAT32 export wrote: $(ls "$T/fat")"
[ "$("$FERRY" inspect --json "$T/fat/ferry-fat-000001.tar" | jq -r .volumes)" = 1 ] || fail "FAT32 export is not 1 volume"
expect_exit 0 "$FERRY" verify -q --trust-key "$T/key.pub" "$T/fat/ferry-fat-000001.tar"
expect_exit 0 minisign -Vm "$T/fat/ferry-fat-000001.tar" -p "$T/key.pub"
ok "--max-volume-size 4294967295 on a small export gives one plain .tar that verifies"

mkdir "$T/tiny"
expect_exit 1 "$FERRY" export -q --spec "$T/fat.yaml" --key "$T/key.key" \
	--out "$T/tiny" --state "$T/state.db" --max-volume-size 1K
expect_err "volume size 1024 is too small"
[ -z "$(ls -A "$T/tiny")" ] || fail "a refused export left files: $(ls -A "$T/tiny")"
expect_exit 0 "$FERRY" export -q --json --spec "$T/fat.yaml" --key "$T/key.key" \
	--out "$T/tiny" --state "$T/state.db"
[ "$(jq -r .sequence "$T/out")" = 2 ] || fail "the refused export used up a sequence number"
ok "--max-volume-size 1K is refused (exit 1), writes nothing and uses no sequence number"

for bad in 0 1X -5 1.5M ''; do
	expect_exit 64 "$FERRY" export -q --spec "$T/fat.yaml" --key "$T/key.key" \
		--out "$T/tiny" --state "$T/state.db" --max-volume-size "$bad"
	expect_err "invalid --max-volume-size '$bad'"
done
ok "malformed --max-volume-size values exit 64"
