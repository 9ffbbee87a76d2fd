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
#include "envelope.h"
#include "json.h"
#include "key.h"
#include "trust.h"
#include "util.h"
#include "banned.h"

int ferry_trust_root_new(ferry_trust_root **out, uint64_t version, int64_t expires,
			 unsigned threshold, ferry_pubkey *const *keys, size_t nkeys)
{
	ferry_trust_root *r;
	size_t i, j;

	if (nkeys == 0 || nkeys > FERRY_TRUST_MAX_KEYS)
		return ferry_error_set(FERRY_EINVALID, "a trust root needs 1 to %d keys",
				       FERRY_TRUST_MAX_KEYS);
	if (threshold == 0 || threshold > nkeys)
		return ferry_error_set(FERRY_EINVALID,
				       "threshold %u is not between 1 and the %zu key(s)",
				       threshold, nkeys);
	/* Distinct keys, by id and by key: one private key under two ids must
	 * not count twice towards a threshold. */
	for (i = 0; i < nkeys; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(keys[i]->id, keys[j]->id) ||
			    !memcmp(keys[i]->pk, keys[j]->pk, sizeof(keys[i]->pk)))
				return ferry_error_set(FERRY_EINVALID, "key %s given twice",
						       keys[i]->id);
	if (!(r = calloc(1, sizeof(*r))) || !(r->keys = calloc(nkeys, sizeof(*r->keys)))) {
		free(r);
		return ferry_error_oom();
	}
	for (i = 0; i < nkeys; i++) {
		if (!(r->keys[i] = malloc(sizeof(ferry_pubkey)))) {
			r->nkeys = i;
			ferry_trust_root_free(r);
			return ferry_error_oom();
		}
		*r->keys[i] = *keys[i];
	}
	r->nkeys = nkeys;
	r->version = version;
	r->expires = expires;
	r->threshold = threshold;
	*out = r;
	return 0;
}

void ferry_trust_root_free(ferry_trust_root *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nkeys; i++)
		ferry_pubkey_free(r->keys[i]);
	free(r->keys);
	free(r);
}

void ferry_trust_root_view(ferry_trust *out, const ferry_trust_root *r)
{
	out->keys = (const ferry_pubkey *const *)r->keys;
	out->nkeys = r->nkeys;
	out->threshold = r->threshold;
}

int ferry_trust_root_to_json(ferry_buf *out, const ferry_trust_root *r)
{
	char expires[32], b64[64];
	json_t *o, *keys;
	size_t i;
	int error = 0;

	if ((error = ferry_time_format(expires, sizeof(expires), r->expires)) < 0)
		return error;
	o = json_pack("{s:s,s:I,s:s,s:i,s:[]}", "_type", FERRY_TRUST_ROOT_TYPE,
		      "version", (json_int_t)r->version, "expires", expires,
		      "threshold", (int)r->threshold, "keys");
	if (!o)
		return ferry_error_oom();
	keys = json_object_get(o, "keys");
	for (i = 0; i < r->nkeys && !error; i++) {
		ferry_pubkey_to_base64(b64, r->keys[i]);
		error = ferry_json_append(keys, json_pack("{s:s,s:s}", "keyid",
							  r->keys[i]->id, "publicKey", b64));
	}
	if (!error)
		error = ferry_json_dump(out, o);
	json_decref(o);
	return error;
}

int ferry_trust_root_parse(ferry_trust_root **out, const void *json, size_t len)
{
	static const char what[] = "trust root";
	ferry_pubkey **keys = NULL;
	json_t *o = NULL, *arr, *e;
	const char *type, *expires;
	uint64_t version, threshold;
	int64_t exp;
	size_t i, n = 0;
	int error;

	if (len > FERRY_TRUST_ROOT_MAX_SIZE)
		return ferry_error_set(FERRY_ETOOBIG, "trust root is too large");
	if ((error = ferry_json_parse(&o, json, len, what)) < 0)
		return error;
	if ((error = ferry_json_get_string(&type, o, "_type", what)) < 0 ||
	    (error = ferry_json_get_u64(&version, o, "version", what)) < 0 ||
	    (error = ferry_json_get_string(&expires, o, "expires", what)) < 0 ||
	    (error = ferry_json_get_u64(&threshold, o, "threshold", what)) < 0 ||
	    (error = ferry_json_get_array(&arr, o, "keys", what)) < 0)
		goto done;
	if (strcmp(type, FERRY_TRUST_ROOT_TYPE)) {
		error = ferry_error_set(FERRY_EUNSUPPORTED, "unsupported trust root type '%.80s'",
					type);
		goto done;
	}
	if (version == 0 || threshold > FERRY_TRUST_MAX_KEYS ||
	    json_array_size(arr) > FERRY_TRUST_MAX_KEYS) {
		error = ferry_error_set(FERRY_EINVALID, "trust root: bad version, threshold "
					"or key count");
		goto done;
	}
	if ((error = ferry_time_parse(&exp, expires)) < 0)
		goto done;
	if (!(keys = calloc(json_array_size(arr) + 1, sizeof(*keys)))) {
		error = ferry_error_oom();
		goto done;
	}
	json_array_foreach(arr, i, e) {
		const char *id, *b64;

		if ((error = ferry_json_get_string(&id, e, "keyid", what)) < 0 ||
		    (error = ferry_json_get_string(&b64, e, "publicKey", what)) < 0 ||
		    (error = ferry_pubkey_from_base64(&keys[n], b64)) < 0)
			goto done;
		n++;
		if (strcmp(keys[n - 1]->id, id)) {
			error = ferry_error_set(FERRY_EINVALID,
						"trust root: key id %.20s does not match its key",
						id);
			goto done;
		}
	}
	error = ferry_trust_root_new(out, version, exp, (unsigned)threshold, keys, n);
done:
	for (i = 0; i < n; i++)
		ferry_pubkey_free(keys[i]);
	free(keys);
	json_decref(o);
	return error;
}

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
	if ((error = ferry_envelope_open_type(&payload, &info, file, len, NULL,
					      FERRY_TRUST_ROOT_PAYLOAD_TYPE)) < 0 ||
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
	if ((error = ferry_envelope_open_type(&verified, &info, file, len, &trust,
					      FERRY_TRUST_ROOT_PAYLOAD_TYPE)) < 0) {
		error = ferry_error_wrap(FERRY_EVERIFY,
					 "new trust root is not signed by the current keys");
		goto done;
	}
	ferry_buf_clear(&verified);
	ferry_trust_root_view(&trust, next);
	if ((error = ferry_envelope_open_type(&verified, &info, file, len, &trust,
					      FERRY_TRUST_ROOT_PAYLOAD_TYPE)) < 0) {
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

int ferry_trust_root_file(ferry_buf *out, const ferry_trust_root *root,
			  ferry_key *const *keys, size_t nkeys)
{
	ferry_buf body = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_trust_root_to_json(&body, root)) == 0)
		error = ferry_envelope_sign_type(out, FERRY_TRUST_ROOT_PAYLOAD_TYPE,
						 body.ptr, body.size, keys, nkeys);
	ferry_buf_dispose(&body);
	return error;
}
