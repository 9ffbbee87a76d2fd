/*
 * Rendering deployment sources into the documents a target applies, and
 * reading those documents: every image reference (with where it is used),
 * the workloads and their containers, and the workload policy of targets
 * without admission control. The reconciler renders what it deploys with
 * it; export renders the deployments a spec names to find the images they
 * need (the image closure). Neither layer owns the other's concepts: the
 * caller describes what to render in a ferry_render_params.
 *
 * Module layout: render.c (renderers, the YAML walk, the policy), spawn.c
 * (child processes with argument vectors, never a shell).
 */
#ifndef FERRY_RENDER_RENDER_H
#define FERRY_RENDER_RENDER_H

#include <stddef.h>

#include "buf.h"

typedef enum {
	FERRY_FMT_MANIFESTS = 0,
	FERRY_FMT_KUSTOMIZE = 1,
	FERRY_FMT_HELM = 2,
	FERRY_FMT_COMPOSE = 3
} ferry_format;

/** The format named `name` ("manifests", "kustomize", "helm", "compose")
 *  in `*out`; FERRY_EINVALID for any other name. */
int ferry_render_format_parse(ferry_format *out, const char *name);
/** The format's name (static). */
const char *ferry_render_format_name(ferry_format f);

/*
 * The workload policy's rules (bits of ferry_render_params.workload_allow).
 * When the policy is on, every rendered workload is checked against them;
 * a rule is allowed only with a reason, which is then audited with each use.
 */
typedef enum {
	FERRY_RULE_PRIVILEGED = 1 << 0,    /* privileged containers */
	FERRY_RULE_HOST_NETWORK = 1 << 1,  /* hostNetwork, network_mode: host */
	FERRY_RULE_HOST_PID = 1 << 2,      /* hostPID, pid: host */
	FERRY_RULE_HOST_IPC = 1 << 3,      /* hostIPC, ipc: host */
	FERRY_RULE_HOST_PATH = 1 << 4,     /* hostPath volumes, bind mounts (outside host-paths) */
	FERRY_RULE_CAPABILITIES = 1 << 5,  /* capabilities.add, cap_add */
	FERRY_RULE_RUN_AS_ROOT = 1 << 6    /* runAsUser: 0, user: root */
} ferry_workload_rule;

/** The rule's name in configs and in events ("host-network"), or NULL. */
const char *ferry_workload_rule_name(ferry_workload_rule rule);
/** The rule named `name`, or 0. */
unsigned ferry_workload_rule_parse(const char *name);

/* What to render and how to read it. Every pointer is borrowed. */
typedef struct {
	const char *kind_word;    /* "stack", "deployment": in messages; NULL: "stack" */
	const char *name;         /* label value ferry.stack=<name>, and in messages */
	ferry_format format;
	const char *values;       /* helm: values file inside the directory */
	const char *chart;        /* helm: the chart (a directory or a .tgz) when
				     it is not the directory rendered */
	const char *release;      /* helm: release name (NULL: name) */
	const char *namespace_;   /* helm: --namespace, or NULL */
	const char *kubectl;      /* NULL: "kubectl" */
	const char *helm;         /* NULL: "helm" */
	int require_digests;      /* an image without a digest is FERRY_EVERIFY */
	int policy;               /* check the workload policy */
	unsigned workload_allow;  /* ferry_workload_rule bits allowed */
	char *const *host_paths;  /* directories hostPath and bind mounts may use */
	size_t nhost_paths;
} ferry_render_params;

typedef struct {
	char *kind, *name;        /* e.g. "Deployment", "web" */
	size_t ncontainers, alloc_containers, alloc_images;
	char **containers;        /* container names */
	char **images;            /* their image references */
} ferry_workload;

typedef struct {
	ferry_buf yaml;           /* the documents to apply, labels added */
	char **images;            /* every image reference, unique, in order */
	char **image_where;       /* where each is first used: "FILE: Kind/name" */
	size_t nimages, allocimages, allocwhere;
	ferry_workload *workloads;
	size_t nworkloads, allocworkloads;
	ferry_buf exceptions;     /* uses of the workload policy's exceptions */
	ferry_buf refusals;       /* what the workload policy refused */
	int refused;              /* nonzero when it refused anything */
	char *renderer;           /* helm: "helm v3.17.1+g980d8ac", the version
				     that rendered; NULL for the other formats */
} ferry_rendered;

void ferry_rendered_dispose(ferry_rendered *r);

/**
 * Render the sources in directory `dir` into `out` (initialised here; the
 * caller disposes it, also on failure): plain manifests (every *.yaml /
 * *.yml file of `dir`, sorted by name, kustomization files left out),
 * `kubectl kustomize dir`, `helm template` or a compose file. Helm renders
 * offline: `helm template RELEASE CHART --skip-tests --include-crds
 * [--values DIR/VALUES] [--namespace NS]`, where CHART is `p->chart` when
 * given, else `dir` when it holds a Chart.yaml, else its one subdirectory
 * that does (an OCI chart's layer unpacks as NAME/Chart.yaml); dependencies must be vendored under
 * the chart's charts/ (helm's own message says which is missing), and
 * `out->renderer` names the helm version (`helm version --short`). Every object
 * gets the label ferry.stack=<name>; pod templates also
 * ferry.workload=<name>. Images are collected from the containers,
 * initContainers and ephemeralContainers of Pods, of the pod templates of
 * Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs, and of
 * CronJobs' job templates, and from compose services' `image`.
 * Errors: FERRY_EUNSUPPORTED naming the renderer when it is not installed;
 * FERRY_EINVALID for malformed documents or a renderer that failed;
 * FERRY_ENOTFOUND when there is nothing to render; FERRY_EVERIFY for an
 * image without a digest under require_digests, or what the policy refused
 * (then `out->refused` is set).
 */
int ferry_render_dir(ferry_rendered *out, const ferry_render_params *p, const char *dir);

/**
 * Post-process multi-document YAML text (as ferry_render_dir does after
 * the renderer ran), appending to `out` (zero it before the first call):
 * labels, images, workloads, the digest check and the policy. `what` names
 * the input in messages and in image_where. Errors as ferry_render_dir.
 */
int ferry_render_text(ferry_rendered *out, const ferry_render_params *p,
		      const char *text, size_t len, const char *what);

/** Workloads as compact JSON (for the reconciler's state table); caller
 *  frees; NULL when out of memory. */
char *ferry_workloads_to_json(const ferry_rendered *r);

/* ---- child processes (spawn.c) ------------------------------------------ */

/**
 * Run argv[0] (looked up in PATH) with `argv`, the environment plus
 * `env_add` ("NAME=value", NULL-terminated, may be NULL), no shell. The
 * child's stdout and stderr are collected into `out` and `err` (either may
 * be NULL to discard; 64 MiB cap each). `*status` gets the exit status, or
 * 128 + signal. FERRY_ENOTFOUND when the program does not exist, FERRY_EIO
 * when it cannot be started.
 */
int ferry_spawn(int *status, ferry_buf *out, ferry_buf *err,
		const char *const *argv, const char *const *env_add);
/** Nonzero when `prog` is an executable found through PATH. */
int ferry_spawn_available(const char *prog);
/** Append argv as a shell-quoted command line (for --dry-run output). */
int ferry_spawn_format(ferry_buf *out, const char *const *argv);

#endif
