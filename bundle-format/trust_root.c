/*
 * Trust roots as a value (see trust_root.h): building one from keys, which
 * checks the keys are distinct so that one private key under two ids never
 * counts twice towards a threshold; its JSON both ways; its signed file.
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "json.h"
#include "key.h"
#include "trust_root.h"
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

int ferry_trust_root_file_open(ferry_buf *payload, ferry_envelope_info *info,
			       const void *file, size_t len, const ferry_trust *trust)
{
	return ferry_envelope_open_type(payload, info, file, len, trust,
					FERRY_TRUST_ROOT_PAYLOAD_TYPE);
}
