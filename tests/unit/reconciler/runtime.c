/*
 * The rollout health of live Kubernetes workloads, judged from the objects
 * `kubectl get -o json` shows, as `kubectl rollout status` judges them.
 */
#include <string.h>

#include "testlib.h"
#include "reconcile.h"

/* The object `json` is judged `want`, waiting for `why` (NULL: any). */
static void expect(const char *json, ferry_rollout want, const char *why)
{
	ferry_buf b = FERRY_BUF_INIT;
	json_error_t jerr;
	json_t *obj = json_loads(json, 0, &jerr);

	assert_non_null(obj);
	assert_int_equal(ferry_runtime__rollout(&b, obj), want);
	if (why)
		assert_string_equal(b.ptr ? b.ptr : "", why);
	ferry_buf_dispose(&b);
	json_decref(obj);
}

static void test_reconciler_runtime__deployment(void **state)
{
	(void)state;
	/* no controller has looked at it: the state an API server alone leaves */
	expect("{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"app\",\"generation\":1},"
	       "\"spec\":{\"replicas\":1}}",
	       FERRY_ROLLOUT_PROGRESSING, "generation 1 not yet observed by its controller");
	/* observed an older generation */
	expect("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":3},\"status\":{"
	       "\"observedGeneration\":2,\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":1}}",
	       FERRY_ROLLOUT_PROGRESSING, "generation 3 not yet observed by its controller");
	expect("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":3},"
	       "\"status\":{\"observedGeneration\":2,\"replicas\":3,\"updatedReplicas\":1}}",
	       FERRY_ROLLOUT_PROGRESSING, "1 of 3 new replicas updated");
	expect("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":2},"
	       "\"status\":{\"observedGeneration\":2,\"replicas\":3,\"updatedReplicas\":2,"
	       "\"availableReplicas\":2}}",
	       FERRY_ROLLOUT_PROGRESSING, "1 old replicas pending termination");
	expect("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":2},\"spec\":{\"replicas\":2},"
	       "\"status\":{\"observedGeneration\":2,\"replicas\":2,\"updatedReplicas\":2,"
	       "\"availableReplicas\":1}}",
	       FERRY_ROLLOUT_PROGRESSING, "1 of 2 updated replicas available");
	/* spec.replicas left out defaults to 1 */
	expect("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":1},\"status\":{"
	       "\"observedGeneration\":1,\"replicas\":1,\"updatedReplicas\":1,\"availableReplicas\":1}}",
	       FERRY_ROLLOUT_READY, "");
	expect("{\"kind\":\"Deployment\",\"metadata\":{\"generation\":4},\"status\":{"
	       "\"observedGeneration\":4,\"conditions\":["
	       "{\"type\":\"Available\",\"reason\":\"MinimumReplicasUnavailable\"},"
	       "{\"type\":\"Progressing\",\"reason\":\"ProgressDeadlineExceeded\"}]}}",
	       FERRY_ROLLOUT_FAILED, "exceeded its progress deadline");
}

static void test_reconciler_runtime__statefulset_daemonset(void **state)
{
	(void)state;
	expect("{\"kind\":\"StatefulSet\",\"metadata\":{\"generation\":1},\"spec\":{\"replicas\":2},"
	       "\"status\":{\"observedGeneration\":1,\"readyReplicas\":1}}",
	       FERRY_ROLLOUT_PROGRESSING, "1 of 2 pods ready");
	expect("{\"kind\":\"StatefulSet\",\"metadata\":{\"generation\":1},\"spec\":{\"replicas\":2},"
	       "\"status\":{\"observedGeneration\":1,\"readyReplicas\":2,\"updatedReplicas\":1,"
	       "\"currentRevision\":\"a\",\"updateRevision\":\"b\"}}",
	       FERRY_ROLLOUT_PROGRESSING, "1 of 2 pods at the new revision");
	expect("{\"kind\":\"StatefulSet\",\"metadata\":{\"generation\":1},\"spec\":{\"replicas\":2},"
	       "\"status\":{\"observedGeneration\":1,\"readyReplicas\":2,\"currentRevision\":\"b\","
	       "\"updateRevision\":\"b\"}}",
	       FERRY_ROLLOUT_READY, "");
	/* OnDelete: nothing rolls out by itself, nothing to wait for */
	expect("{\"kind\":\"StatefulSet\",\"metadata\":{\"generation\":1},"
	       "\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}",
	       FERRY_ROLLOUT_READY, "");
	expect("{\"kind\":\"DaemonSet\",\"metadata\":{\"generation\":1}}",
	       FERRY_ROLLOUT_PROGRESSING, "generation 1 not yet observed by its controller");
	expect("{\"kind\":\"DaemonSet\",\"metadata\":{\"generation\":1},\"status\":{"
	       "\"observedGeneration\":1,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,"
	       "\"numberAvailable\":2}}",
	       FERRY_ROLLOUT_PROGRESSING, "2 of 3 updated pods available");
	expect("{\"kind\":\"DaemonSet\",\"metadata\":{\"generation\":1},\"status\":{"
	       "\"observedGeneration\":1,\"desiredNumberScheduled\":3,\"updatedNumberScheduled\":3,"
	       "\"numberAvailable\":3}}",
	       FERRY_ROLLOUT_READY, "");
	/* anything else has no rollout */
	expect("{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}", FERRY_ROLLOUT_NONE, "");
	expect("{}", FERRY_ROLLOUT_NONE, NULL);
	assert_string_equal(ferry_rollout_name(FERRY_ROLLOUT_PROGRESSING), "progressing");
}

static void test_reconciler_runtime__health_skips_other_targets(void **state)
{
	ferry_reconcile_config cfg;
	ferry_stack stack;
	ferry_buf detail = FERRY_BUF_INIT;
	ferry_runtime_options dry = { 1, NULL };
	ferry_rollout st = FERRY_ROLLOUT_READY;
	char name[] = "web";

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	memset(&stack, 0, sizeof(stack));
	stack.name = name;
	stack.runtime = FERRY_RUNTIME_PODMAN;
	assert_int_equal(ferry_runtime_health(&st, &detail, &cfg, &stack, "f.yaml", 5, NULL), 0);
	assert_int_equal(st, FERRY_ROLLOUT_NONE);
	stack.runtime = FERRY_RUNTIME_KUBERNETES;
	assert_int_equal(ferry_runtime_health(&st, &detail, &cfg, &stack, "f.yaml", 5, &dry), 0);
	assert_int_equal(st, FERRY_ROLLOUT_NONE);
	assert_int_equal(detail.size, 0);
	ferry_buf_dispose(&detail);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconciler_runtime__deployment),
		cmocka_unit_test(test_reconciler_runtime__statefulset_daemonset),
		cmocka_unit_test(test_reconciler_runtime__health_skips_other_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
