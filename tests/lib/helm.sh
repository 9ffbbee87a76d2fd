# Real helm for command tests, sourced after test-lib.sh (need helm first).
#   helm_setup                      helm's cache, config and data (registry
#                                   logins included) under $T/helm
#   helm_push_chart DIR OCI-URL     `helm package DIR` into $T, then `helm
#                                   push` it to OCI-URL (oci://HOST/REPO,
#                                   plain HTTP); sets HELM_CHART_TGZ (the
#                                   package) and HELM_CHART_DIGEST (the
#                                   manifest digest helm push printed)

helm_setup() {
	export HELM_CACHE_HOME=$T/helm/cache HELM_CONFIG_HOME=$T/helm/config HELM_DATA_HOME=$T/helm/data
}

helm_push_chart() {
	local out
	out=$(helm package -d "$T" "$1") || fail "helm package $1"
	HELM_CHART_TGZ=${out##*: }
	helm push "$HELM_CHART_TGZ" "$2" --plain-http >"$T/helm-push.log" 2>&1 ||
		{ cat "$T/helm-push.log" >&2; fail "helm push $HELM_CHART_TGZ $2"; }
	HELM_CHART_DIGEST=$(sed -n 's/^Digest: //p' "$T/helm-push.log")
	[ -n "$HELM_CHART_DIGEST" ] || fail "helm push printed no digest: $(cat "$T/helm-push.log")"
}
