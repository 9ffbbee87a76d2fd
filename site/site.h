/*
 * A site in one step: what `ferry site init` sets up on an enclave host
 * (the store and its trust root, the mirror's TLS material and read
 * credentials, the node configuration that makes container runtimes pull
 * from the mirror, the default configuration in /etc/ferry and the
 * services), each step idempotent and reported as an item.
 */
#ifndef FERRY_SITE_SITE_H
#define FERRY_SITE_SITE_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/bundle.h"
#include "strv.h"

/** What a step did. */
typedef enum {
	FERRY_SITE_WROTE = 0,    /* created or replaced a file, enabled a unit */
	FERRY_SITE_UNCHANGED,    /* already as it should be */
	FERRY_SITE_KEPT,         /* something of the administrator's is there: left alone */
	FERRY_SITE_TODO          /* cannot be done here: a next step says how */
} ferry_site_state;

typedef struct {
	char *path;              /* as seen on the host (without the root prefix) */
	const char *what;        /* static: "the site's CA", ... */
	ferry_site_state state;
	char *note;              /* NULL or one line */
} ferry_site_item;

typedef struct {
	ferry_site_item *items;
	size_t n, alloc;
	ferry_strv next;         /* the operator's next steps, one command or sentence each */
	char *mirror;            /* "host:port" clients pull from */
	char *names;             /* the mirror certificate's names, "DNS:a, IP Address:b" */
	int changed;             /* nonzero when some step wrote something */
} ferry_site_report;

#define FERRY_SITE_OPTIONS_VERSION 1

typedef struct {
	unsigned version;
	const char *root;        /* prefix every path is written under; NULL: "/" */
	const char *store;       /* NULL: FERRY_STORE_DEFAULT */
	const ferry_pubkey *const *keys;  /* the trust root's keys (a new store needs one) */
	size_t nkeys;
	unsigned threshold;      /* 0: 1 */
	int64_t expires;         /* the trust root's expiry (a new store needs it) */
	const char *const *names;   /* the mirror's host names and addresses; none: */
	size_t nnames;              /* this host's name and 127.0.0.1 */
	const char *listen;      /* the mirror's ADDR:PORT; NULL: 0.0.0.0:5000 */
	const char *const *registries;  /* registry names to mirror besides the store's */
	size_t nregistries;
	const char *user;        /* the service user; NULL: "ferry" */
	int enable_units;        /* run systemctl enable where systemd runs this root */
} ferry_site_options;

#define FERRY_SITE_OPTIONS_INIT { FERRY_SITE_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, \
				  NULL, 0, NULL, NULL, 0, NULL, 0 }

/**
 * Set up the site under opts->root, reporting each step in *out (which the
 * caller initialises zeroed and disposes of with ferry_site_report_dispose(),
 * also after a failure: it holds the steps done so far). Nothing existing is
 * overwritten but the files site init itself wrote (those carry its mark),
 * so a second run changes nothing. FERRY_EINVALID for a new store without
 * keys or a bad name; FERRY_EIO for files; the store's own errors.
 */
int ferry_site_init(ferry_site_report *out, const ferry_site_options *opts);

void ferry_site_report_dispose(ferry_site_report *r);

/** "wrote", "unchanged", "kept", "todo". */
const char *ferry_site_state_name(ferry_site_state s);

#endif
