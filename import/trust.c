/*
 * Trust roots (see trust.h). The rotation check follows TUF: the new root
 * must be signed by a threshold of the keys the store trusts now and by a
 * threshold of the keys it names, so neither an old key alone nor a new key
 * alone can take over the store.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "trust.h"
#include "banned.h"

int ferry_trust_current(ferry_trust_root **out, ferry_store *st)
{
	ferry_buf body = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_store_trust_root_latest(&body, st)) == 0)
		error = ferry_trust_root_parse(out, body.ptr, body.size);
	ferry_buf_dispose(&body);
	return error;
}

int ferry_trust_install(ferry_store *st, const ferry_trust_root *root)
{
	ferry_buf body = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_trust_root_to_json(&body, root)) == 0)
		error = ferry_store_trust_root_add(st, root->version, body.ptr, body.size);
	ferry_buf_dispose(&body);
	return error;
}

int ferry_trust_init(ferry_store *st, const ferry_trust_root *root)
{
	ferry_trust_root *cur = NULL;
	int error = ferry_trust_current(&cur, st);

	if (error == 0) {
		error = ferry_error_set(FERRY_EEXISTS,
					"store '%s' already has trust root version %llu; "
					"change it with 'ferry trust rotate'", ferry_store_root(st),
					(unsigned long long)cur->version);
		ferry_trust_root_free(cur);
		return error;
	}
	if (error != FERRY_ENOTFOUND)
		return error;
	if (root->version != 1)
		return ferry_error_set(FERRY_EINVALID, "the first trust root is version 1");
	if (root->expires <= (int64_t)time(NULL))
		return ferry_error_set(FERRY_EINVALID, "the trust root would already be expired");
	return ferry_trust_install(st, root);
}

int ferry_trust_rotate(ferry_trust_root **installed, ferry_store *st,
		       const void *file, size_t len, int64_t now)
{
	ferry_trust_root *next = NULL;
	int error;

	if ((error = ferry_trust_check_rotation(&next, st, file, len, now)) < 0)
		return error;
	if ((error = ferry_trust_install(st, next)) < 0) {
		ferry_trust_root_free(next);
		return error;
	}
	*installed = next;
	return 0;
}

int ferry_trust_check_rotation(ferry_trust_root **out, ferry_store *st,
			       const void *file, size_t len, int64_t now)
{
	ferry_trust_root *cur = NULL, *next = NULL;
	ferry_buf payload = FERRY_BUF_INIT, verified = FERRY_BUF_INIT;
	ferry_envelope_info info;
	ferry_trust trust;
	int error;

	if ((error = ferry_trust_current(&cur, st)) < 0)
		goto done;
	/* Read the claimed root to learn its keys, then check both sets. */
	if ((error = ferry_trust_root_file_open(&payload, &info, file, len, NULL)) < 0 ||
	    (error = ferry_trust_root_parse(&next, payload.ptr, payload.size)) < 0)
		goto done;
	if (next->version != cur->version + 1) {
		error = ferry_error_set(FERRY_EVERIFY,
					"trust root version %llu cannot follow version %llu "
					"(must be exactly one higher)",
					(unsigned long long)next->version,
					(unsigned long long)cur->version);
		goto done;
	}
	ferry_trust_root_view(&trust, cur);
	if ((error = ferry_trust_root_file_open(&verified, &info, file, len, &trust)) < 0) {
		error = ferry_error_wrap(FERRY_EVERIFY,
					 "new trust root is not signed by the current keys");
		goto done;
	}
	ferry_buf_clear(&verified);
	ferry_trust_root_view(&trust, next);
	if ((error = ferry_trust_root_file_open(&verified, &info, file, len, &trust)) < 0) {
		error = ferry_error_wrap(FERRY_EVERIFY,
					 "new trust root is not signed by its own keys");
		goto done;
	}
	if (next->expires <= now) {
		error = ferry_error_set(FERRY_EVERIFY, "new trust root has already expired");
		goto done;
	}
	*out = next;
	next = NULL;
done:
	ferry_trust_root_free(cur);
	ferry_trust_root_free(next);
	ferry_buf_dispose(&payload);
	ferry_buf_dispose(&verified);
	return error;
}
