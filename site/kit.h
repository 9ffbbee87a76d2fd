/*
 * The bootstrap kit: everything an empty Debian 12 enclave host needs to
 * become a site, in one directory to carry across the gap. The ferry
 * package and the packages it depends on, the trust root's public keys,
 * the first bundles, an offline install.sh and a README, and SHA256SUMS
 * with a minisign signature that stock `minisign -Vm SHA256SUMS -p KEY.pub`
 * checks before anything is installed.
 */
#ifndef FERRY_SITE_KIT_H
#define FERRY_SITE_KIT_H

#include <stddef.h>
#include <stdint.h>

#include "ferry/bundle.h"
#include "strv.h"

#define FERRY_KIT_OPTIONS_VERSION 1

typedef struct {
	unsigned version;
	const char *out;          /* the kit's directory: absent or empty */
	const char *deb;          /* the ferry package (*.deb) */
	const char *deps;         /* a directory of the dependencies' *.deb; NULL: none */
	const char *const *trust; /* public key files of the trust root */
	size_t ntrust;
	const char *const *bundles;  /* bundle files, each with its .minisig if present */
	size_t nbundles;
	const ferry_key *key;     /* signs SHA256SUMS; its public key is one of trust */
} ferry_kit_options;

#define FERRY_KIT_OPTIONS_INIT { FERRY_KIT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, \
				 NULL, 0, NULL }

typedef struct {
	ferry_strv files;         /* paths in the kit, as SHA256SUMS lists them */
	size_t ndeps;             /* dependency packages */
	uint64_t bytes;           /* their total size */
} ferry_kit_result;

/**
 * Write the kit into opts->out: debs/, trust/, bundles/, install.sh,
 * README, SHA256SUMS and SHA256SUMS.minisig. The caller initialises *out
 * zeroed and disposes of it. FERRY_EEXISTS when out is not empty;
 * FERRY_EINVALID for a package that is not a .deb, a key that does not
 * load, or a signing key outside the trust keys; FERRY_EIO.
 */
int ferry_kit_build(ferry_kit_result *out, const ferry_kit_options *opts);

void ferry_kit_result_dispose(ferry_kit_result *r);

#endif
