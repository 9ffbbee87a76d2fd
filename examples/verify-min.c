/*
 * ferry-verify-min: the smallest bundle verifier, written against the
 * public header alone (ferry/bundle.h) and linked with libferry-bundle
 * alone, to show what a site's own tooling needs to check media before it
 * trusts them: no network or git code. Usage:
 *
 *   ferry-verify-min [-t THRESHOLD] BUNDLE PUBKEY...
 *
 * Exit status as every ferry command: 0 verified, 1 failure, 2
 * verification failed, 64 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/bundle.h"
#include "ferry/errors.h"

static int usage(void)
{
	fprintf(stderr, "usage: ferry-verify-min [-t THRESHOLD] BUNDLE PUBKEY...\n");
	return 64;
}

int main(int argc, char **argv)
{
	ferry_bundle_verify_result res;
	ferry_pubkey *keys[FERRY_BUNDLE_MAX_SIGNERS];
	ferry_trust trust;
	unsigned long threshold = 1;
	size_t nkeys = 0, i;
	int arg = 1, error, rc;

	if (argc > 2 && !strcmp(argv[1], "-t")) {
		char *end;

		threshold = strtoul(argv[2], &end, 10);
		if (*end || !threshold)
			return usage();
		arg = 3;
	}
	if (argc - arg < 2 || (size_t)(argc - arg - 1) > FERRY_BUNDLE_MAX_SIGNERS)
		return usage();
	for (i = (size_t)arg + 1; i < (size_t)argc; i++) {
		if ((error = ferry_pubkey_load(&keys[nkeys], argv[i])) < 0) {
			fprintf(stderr, "ferry-verify-min: %s\n", ferry_error_last());
			rc = 1;
			goto done;
		}
		nkeys++;
	}
	trust.keys = (const ferry_pubkey *const *)keys;
	trust.nkeys = nkeys;
	trust.threshold = (unsigned)threshold;
	error = ferry_bundle_verify_file(&res, argv[arg], &trust);
	if (error < 0) {
		fprintf(stderr, "ferry-verify-min: FAILED: %s\n", ferry_error_last());
		rc = error == FERRY_EVERIFY || error == FERRY_ECORRUPT ||
		     error == FERRY_EINVALID || error == FERRY_ETOOBIG ||
		     error == FERRY_EUNSUPPORTED ? 2 : 1;
		goto done;
	}
	printf("%s: OK bundle %.16s channel %s sequence %llu volume %zu of %zu, "
	       "%zu members, signed by", argv[arg], res.id, res.channel,
	       (unsigned long long)res.sequence, res.volume + 1, res.nvolumes,
	       res.nmembers);
	for (i = 0; i < res.nsigners; i++)
		printf(" %s", res.signers[i]);
	putchar('\n');
	rc = 0;
done:
	for (i = 0; i < nkeys; i++)
		ferry_pubkey_free(keys[i]);
	return rc;
}
