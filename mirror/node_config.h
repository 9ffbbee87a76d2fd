/*
 * Node configuration for the mirror itself: the containers-registries.conf
 * and containerd hosts.toml texts that make container runtimes pull from
 * the mirror, both for the mirror's own names and for names that keep
 * their upstream registry host (the store's "quay.io/org/app:v1" is served
 * as /v2/quay.io/org/app/...). `ferry mirror node-config` prints them and
 * `ferry site init` writes them; no seed target is involved.
 */
#ifndef FERRY_MIRROR_NODE_CONFIG_H
#define FERRY_MIRROR_NODE_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "store.h"
#include "strv.h"

typedef struct {
	unsigned version;
	const char *mirror;       /* required: "host[:port]" nodes reach the mirror at */
	int plain_http;           /* the mirror serves HTTP: insecure, http:// hosts */
	const char *ca;           /* the CA file containerd checks the mirror with
				     (a path on the node), or NULL */
	const char *comment;      /* opens every text ("# ..." lines, no final
				     newline), or NULL */
	const ferry_strv *registries;   /* upstream hosts the store's names keep
					   (ferry_mirror_node_registries), or NULL */
} ferry_mirror_node_options;

#define FERRY_MIRROR_NODE_OPTIONS_VERSION 1
#define FERRY_MIRROR_NODE_OPTIONS_INIT { FERRY_MIRROR_NODE_OPTIONS_VERSION, NULL, 0, NULL, \
					 NULL, NULL }

/**
 * Append to `out` a containers-registries.conf(5) drop-in: the mirror as a
 * registry, and for each upstream host a [[registry]] with prefix and
 * location the host and the mirror's path for it as its mirror. FERRY_EINVALID
 * for bad options, FERRY_ENOMEM.
 */
int ferry_mirror_node_registries_conf(ferry_buf *out, const ferry_mirror_node_options *o);

/**
 * Append to `out` containerd's hosts.toml for upstream host `registry`
 * (/etc/containerd/certs.d/<registry>/hosts.toml): pulls go to the mirror
 * under /v2/<registry> with override_path = true (containerd would
 * otherwise ask the mirror for /v2/<repository> without the host). With
 * `registry` NULL, the file for the mirror's own name. FERRY_EINVALID,
 * FERRY_ENOMEM.
 */
int ferry_mirror_node_hosts_toml(ferry_buf *out, const ferry_mirror_node_options *o,
				 const char *registry);

/**
 * Add registry host `name` (`len` bytes: letters, digits, '.', '-', ':')
 * to `out` unless it is there. FERRY_EINVALID names a bad one; FERRY_ENOMEM.
 */
int ferry_mirror_node_registry_add(ferry_strv *out, const char *name, size_t len);

/**
 * Add to `out` the registry hosts the store's references keep (the first
 * component of a name when it is a host: ferry_reference_host_len), each
 * once. Errors of ferry_store_tag_foreach, FERRY_ENOMEM.
 */
int ferry_mirror_node_registries(ferry_strv *out, ferry_store *st);

/** Sort `sv`'s strings (byte order), so texts come out in a stable order. */
void ferry_mirror_node_registries_sort(ferry_strv *sv);

#endif
