/*
 * ferry receipt: write a signed inventory of the enclave store (each
 * channel's last sequence, every blob, every repository's refs) for
 * `ferry export --baseline` on the connected side, where a return path is
 * allowed.
 */
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "fs.h"
#include "receipt.h"
#include "store.h"
#include "banned.h"

enum { OPT_STORE = 1, OPT_KEY, OPT_OUTPUT };

static const cli_option receipt_options[] = {
	CLI_OPTION_STORE(OPT_STORE),
	{ "key", 0, "KEY", "the enclave's secret key", OPT_KEY },
	{ NULL, 'o', "FILE", "where to write the receipt", OPT_OUTPUT },
	CLI_OPTIONS_END
};

static const cli_command receipt_command = {
	.name = "receipt",
	.synopsis = "[--store DIR] --key KEY -o FILE",
	.description =
		"Write a signed inventory of the store (per channel its last\n"
		"sequence; every blob; every repository's refs), signed with the\n"
		"enclave's own KEY. Where a return path is allowed, give it to\n"
		"'ferry export --baseline' on the connected side so the next\n"
		"incremental bundle carries exactly what the enclave lacks.",
	.options = receipt_options,
};

int cmd_receipt(int argc, char **argv)
{
	const char *store = NULL, *keyfile = NULL, *outfile = NULL;
	ferry_store *st = NULL;
	ferry_key *key = NULL;
	ferry_buf buf = FERRY_BUF_INIT;
	cli_args a;
	int id, error, rc = FERRY_EXIT_OK;

	cli_args_init(&a, &receipt_command, argc, argv, NULL);
	while ((id = cli_args_next(&a)) > 0) {
		switch (id) {
		case OPT_STORE: store = a.value; break;
		case OPT_KEY: keyfile = a.value; break;
		case OPT_OUTPUT: outfile = a.value; break;
		}
	}
	if (id < 0)
		return a.exit;
	if (!keyfile || !outfile)
		return cli_args_error(&a, "needs --key and -o");
	if ((error = ferry_key_load(&key, keyfile)) < 0 ||
	    (error = ferry_store_open(&st, cli_store_path(store), FERRY_STORE_READ, 0)) < 0 ||
	    (error = ferry_receipt_make(&buf, st, key, (int64_t)time(NULL))) < 0 ||
	    (error = ferry_fs_write_output(outfile, buf.ptr, buf.size, 0644)) < 0) {
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
