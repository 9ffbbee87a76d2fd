/*
 * A stack's rendering: the render part (render/render.h) renders and reads
 * the documents; this file says what a stack asks of it. The workload
 * policy runs on the podman and compose runtimes only, which have no
 * admission control of their own; a Kubernetes cluster enforces it at
 * admission instead.
 */
#include <string.h>

#include "reconcile.h"
#include "banned.h"

void ferry_stack_render_params(ferry_render_params *out, const ferry_reconcile_config *cfg,
			       const ferry_stack *stack)
{
	memset(out, 0, sizeof(*out));
	out->kind_word = "stack";
	out->name = stack->name;
	out->format = stack->format;
	out->values = stack->values;
	out->release = stack->release;
	out->namespace_ = stack->namespace_;
	out->kubectl = cfg->kubectl;
	out->helm = cfg->helm;
	out->require_digests = stack->require_digests;
	out->policy = stack->runtime != FERRY_RUNTIME_KUBERNETES;
	out->workload_allow = stack->workload_allow;
	out->host_paths = stack->host_paths;
	out->nhost_paths = stack->nhost_paths;
}

int ferry_stack_render(ferry_rendered *out, const ferry_reconcile_config *cfg,
		       const ferry_stack *stack, const char *dir)
{
	ferry_render_params p;
	ferry_buf chart = FERRY_BUF_INIT;
	int error;

	ferry_stack_render_params(&p, cfg, stack);
	/* a chart from the store: ferry_source_checkout wrote it here */
	if (stack->chart) {
		if ((error = ferry_buf_printf(&chart, "%s/%s", dir, FERRY_STACK_CHART_DIR)) < 0) {
			memset(out, 0, sizeof(*out));
			return error;
		}
		p.chart = chart.ptr;
	}
	error = ferry_render_dir(out, &p, dir);
	ferry_buf_dispose(&chart);
	return error;
}
