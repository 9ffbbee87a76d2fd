/*
 * ferry receipt: write a signed inventory of the enclave store (each
 * channel's last sequence, every blob, every repository's refs) for
 * `ferry export --baseline` on the connected side, where a return path is
 * allowed.
 */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "fs.h"
#include "receipt.h"
#include "store.h"
#include "banned.h"

static const char receipt_usage[] = "ferry receipt [--store DIR] --key KEY -o FILE";

int cmd_receipt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *store = NULL, *keyfile = NULL, *outfile = NULL;
	ferry_store *st = NULL;
	ferry_key *key = NULL;
	ferry_buf buf = FERRY_BUF_INIT;
	int c, error, rc = FERRY_EXIT_OK;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'o': outfile = optarg; break;
		case 'h':
			printf("usage: %s\n\n"
			       "Write a signed inventory of the store (per channel its last\n"
			       "sequence; every blob; every repository's refs), signed with the\n"
			       "enclave's own KEY. Where a return path is allowed, give it to\n"
			       "'ferry export --baseline' on the connected side so the next\n"
			       "incremental bundle carries exactly what the enclave lacks.\n\n"
			       "  --store DIR  the store (default $FERRY_STORE or %s)\n"
			       "  --key KEY    the enclave's secret key\n"
			       "  -o FILE      where to write the receipt\n",
			       receipt_usage, FERRY_STORE_DEFAULT);
			return FERRY_EXIT_OK;
		default:
			return cli_usage_error(receipt_usage, "bad option");
		}
	}
	if (!keyfile || !outfile || optind != argc)
		return cli_usage_error(receipt_usage, "receipt needs --key and -o");
	if ((error = ferry_key_load(&key, keyfile)) < 0 ||
	    (error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_receipt_make(&buf, st, key, (int64_t)time(NULL))) < 0 ||
	    (error = ferry_fs_write_atomic(outfile, buf.ptr, buf.size, 0644)) < 0) {
		rc = cli_fail("receipt", error);
		goto done;
	}
	printf("wrote %s (signed by %s)\n", outfile, ferry_pubkey_id(ferry_key_public(key)));
done:
	ferry_buf_dispose(&buf);
	ferry_store_close(st);
	ferry_key_free(key);
	return rc;
}
