/*
 * DSSE (Dead Simple Signing Envelope) with Ed25519. The signature covers
 * PAE = "DSSEv1" SP len(type) SP type SP len(body) SP body, so the payload
 * needs no canonical JSON. Verification checks the key id, then the
 * signature, and only then hands out the payload; a threshold counts
 * distinct keys, so one key signing twice counts once.
 */
#include <string.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "envelope.h"
#include "json.h"
#include "key.h"
#include "banned.h"

static int pae(ferry_buf *out, const char *type, const void *body, size_t len)
{
	int error;

	if ((error = ferry_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(type),
				      type, len)) < 0)
		return error;
	return ferry_buf_put(out, body, len);
}

static json_t *base64_string(const void *data, size_t len)
{
	size_t b64len = sodium_base64_encoded_len(len,
						  sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64len);
	json_t *s;

	if (!b64)
		return NULL;
	sodium_bin2base64(b64, b64len, data, len, sodium_base64_VARIANT_ORIGINAL);
	s = json_string(b64);
	free(b64);
	return s;
}

int ferry_envelope_sign(ferry_buf *out, const void *payload, size_t len,
			ferry_key *const *keys, size_t nkeys)
{
	return ferry_envelope_sign_type(out, FERRY_ENVELOPE_PAYLOAD_TYPE, payload,
					len, keys, nkeys);
}

int ferry_envelope_sign_type(ferry_buf *out, const char *payload_type,
			     const void *payload, size_t len,
			     ferry_key *const *keys, size_t nkeys)
{
	ferry_buf msg = FERRY_BUF_INIT;
	json_t *env = json_object(), *sigs = json_array(), *entry;
	unsigned char sig[64];
	size_t i, j;
	int error;

	if (!env || !sigs) {
		error = ferry_error_oom();
		goto done;
	}
	if (nkeys == 0 || nkeys > FERRY_ENVELOPE_MAX_SIGNATURES) {
		error = ferry_error_set(FERRY_EINVALID,
					"between 1 and %d signing keys are needed",
					FERRY_ENVELOPE_MAX_SIGNATURES);
		goto done;
	}
	if ((error = pae(&msg, payload_type, payload, len)) < 0)
		goto done;
	for (i = 0; i < nkeys; i++) {
		for (j = 0; j < i; j++)
			if (!memcmp(keys[j]->pub.keynum, keys[i]->pub.keynum,
				    FERRY_KEYNUM_BYTES))
				break;
		if (j < i) {
			error = ferry_error_set(FERRY_EINVALID,
						"key %s given twice", keys[i]->pub.id);
			goto done;
		}
		if ((error = ferry_key__sign(sig, keys[i], msg.ptr, msg.size)) < 0)
			goto done;
		entry = json_object();
		if (!entry || (error = ferry_json_append(sigs, entry)) < 0 ||
		    (error = ferry_json_set(entry, "keyid",
					    json_string(keys[i]->pub.id))) < 0 ||
		    (error = ferry_json_set(entry, "sig",
					    base64_string(sig, sizeof(sig)))) < 0) {
			error = error ? error : ferry_error_oom();
			goto done;
		}
	}
	if ((error = ferry_json_set(env, "payloadType", json_string(payload_type))) < 0 ||
	    (error = ferry_json_set(env, "payload", base64_string(payload, len))) < 0)
		goto done;
	error = ferry_json_set(env, "signatures", sigs);
	sigs = NULL;
	if (error == 0)
		error = ferry_json_dump(out, env);
done:
	json_decref(sigs);
	json_decref(env);
	ferry_buf_dispose(&msg);
	return error;
}

static int decode_base64(ferry_buf *out, const char *b64, const char *what)
{
	size_t len = strlen(b64), binlen = 0;
	int error;

	if ((error = ferry_buf_grow(out, len)) < 0)
		return error;
	if (sodium_base642bin((unsigned char *)out->ptr + out->size, len, b64, len,
			      NULL, &binlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0)
		return ferry_error_set(FERRY_EINVALID, "envelope: %s is not base64",
				       what);
	out->size += binlen;
	out->ptr[out->size] = '\0';
	return 0;
}

static const ferry_pubkey *find_key(const ferry_trust *trust, const char *id)
{
	size_t i;

	for (i = 0; i < trust->nkeys; i++)
		if (!strcmp(trust->keys[i]->id, id))
			return trust->keys[i];
	return NULL;
}

/* Which keys signed and which are trusted, so the operator can tell a
 * bundle signed with the wrong key from one signed by too few. */
static int threshold_not_met(const ferry_trust *trust, const ferry_envelope_info *info)
{
	ferry_buf signed_by = FERRY_BUF_INIT, trusted = FERRY_BUF_INIT;
	size_t i;
	int error;

	for (i = 0; i < info->nsignatures; i++)
		ferry_buf_printf_best_effort(&signed_by, "%s%s", i ? ", " : "", info->listed[i]);
	for (i = 0; i < trust->nkeys; i++)
		ferry_buf_printf_best_effort(&trusted, "%s%s", i ? ", " : "", trust->keys[i]->id);
	error = ferry_error_set(FERRY_EVERIFY, "signature threshold %u not met: %zu of %zu "
				"signature(s) are from trusted keys (signed by %s; trusted: %s)",
				trust->threshold, info->nsigners, info->nsignatures,
				signed_by.ptr ? signed_by.ptr : "none",
				trusted.ptr ? trusted.ptr : "none");
	ferry_buf_dispose(&signed_by);
	ferry_buf_dispose(&trusted);
	return error;
}

int ferry_envelope_open(ferry_buf *payload, ferry_envelope_info *info,
			const void *data, size_t len, const ferry_trust *trust)
{
	return ferry_envelope_open_type(payload, info, data, len, trust,
					FERRY_ENVELOPE_PAYLOAD_TYPE);
}

int ferry_envelope_open_type(ferry_buf *payload, ferry_envelope_info *info,
			     const void *data, size_t len, const ferry_trust *trust,
			     const char *payload_type)
{
	ferry_buf body = FERRY_BUF_INIT, msg = FERRY_BUF_INIT, sig = FERRY_BUF_INIT;
	json_t *env = NULL, *sigs, *entry;
	const char *type, *b64, *keyid, *sigtext;
	size_t i, j, dups = 0;
	int error;

	memset(info, 0, sizeof(*info));
	if ((error = ferry_json_parse(&env, data, len, "envelope")) < 0)
		goto done;
	if (!json_is_object(env)) {
		error = ferry_error_set(FERRY_EINVALID, "envelope is not a JSON object");
		goto done;
	}
	if ((error = ferry_json_get_string(&type, env, "payloadType", "envelope")) < 0 ||
	    (error = ferry_json_get_string(&b64, env, "payload", "envelope")) < 0 ||
	    (error = ferry_json_get_array(&sigs, env, "signatures", "envelope")) < 0)
		goto done;
	if (json_object_size(env) != 3) {
		error = ferry_error_set(FERRY_EINVALID,
					"envelope has fields other than payloadType, "
					"payload and signatures");
		goto done;
	}
	if (strcmp(type, payload_type) != 0) {
		error = ferry_error_set(FERRY_EUNSUPPORTED,
					"unknown envelope version: payload type '%.100s' "
					"(expected '%s')",
					type, payload_type);
		goto done;
	}
	if (trust && trust->threshold == 0) {
		error = ferry_error_set(FERRY_EINVALID, "trust threshold must be at least 1");
		goto done;
	}
	if (json_array_size(sigs) == 0 ||
	    json_array_size(sigs) > FERRY_ENVELOPE_MAX_SIGNATURES) {
		error = ferry_error_set(FERRY_EINVALID,
					"envelope must carry between 1 and %d signatures",
					FERRY_ENVELOPE_MAX_SIGNATURES);
		goto done;
	}
	if ((error = decode_base64(&body, b64, "payload")) < 0 ||
	    (error = pae(&msg, type, body.ptr, body.size)) < 0)
		goto done;

	json_array_foreach(sigs, i, entry) {
		const ferry_pubkey *key;

		if ((error = ferry_json_get_string(&keyid, entry, "keyid",
						   "envelope signature")) < 0 ||
		    (error = ferry_json_get_string(&sigtext, entry, "sig",
						   "envelope signature")) < 0)
			goto done;
		if (strlen(keyid) != FERRY_KEYID_LEN ||
		    strspn(keyid, "0123456789ABCDEF") != FERRY_KEYID_LEN) {
			error = ferry_error_set(FERRY_EINVALID,
						"envelope signature %zu: malformed key id", i);
			goto done;
		}
		memcpy(info->listed[info->nsignatures++], keyid, FERRY_KEYID_LEN + 1);
		if (!trust || !(key = find_key(trust, keyid)))
			continue;
		ferry_buf_clear(&sig);
		if ((error = decode_base64(&sig, sigtext, "signature")) < 0)
			goto done;
		if (sig.size != 64 ||
		    ferry_pubkey__verify(key, (unsigned char *)sig.ptr, msg.ptr,
					 msg.size) != 0) {
			error = ferry_error_set(FERRY_EVERIFY,
						"signature from key %s does not verify",
						keyid);
			goto done;
		}
		for (j = 0; j < info->nsigners; j++)
			if (!strcmp(info->signers[j], keyid))
				break;
		if (j < info->nsigners) {
			dups++;
			continue;
		}
		memcpy(info->signers[info->nsigners++], keyid, FERRY_KEYID_LEN + 1);
	}
	if (trust && info->nsigners < trust->threshold) {
		if (dups && info->nsigners + dups >= trust->threshold)
			error = ferry_error_set(FERRY_EVERIFY,
						"signature threshold %u not met: %zu distinct "
						"trusted key(s) signed; a key that signs twice "
						"counts once",
						trust->threshold, info->nsigners);
		else
			error = threshold_not_met(trust, info);
		goto done;
	}
	ferry_buf_dispose(&msg);
	json_decref(env);
	env = NULL;
	if (!payload->size && (!payload->limit || body.size <= payload->limit)) {
		/* hand the decoded bytes over: no copy of a large payload */
		ferry_buf empty = FERRY_BUF_INIT;
		size_t limit = payload->limit;

		ferry_buf_dispose(payload);
		*payload = body;
		payload->limit = limit;
		body = empty;
	} else {
		error = ferry_buf_put(payload, body.ptr, body.size);
	}
done:
	json_decref(env);
	ferry_buf_dispose(&body);
	ferry_buf_dispose(&msg);
	ferry_buf_dispose(&sig);
	return error;
}

int ferry_envelope_add_signature(ferry_buf *out, const void *data, size_t len,
				 const char *payload_type, const ferry_key *key)
{
	ferry_buf body = FERRY_BUF_INIT, msg = FERRY_BUF_INIT;
	ferry_envelope_info info;
	json_t *env = NULL, *sigs;
	unsigned char sig[64];
	size_t i;
	int error;

	if ((error = ferry_envelope_open_type(&body, &info, data, len, NULL,
					      payload_type)) < 0)
		goto done;
	for (i = 0; i < info.nsignatures; i++)
		if (!strcmp(info.listed[i], key->pub.id)) {
			error = ferry_error_set(FERRY_EEXISTS, "key %s has signed already",
						key->pub.id);
			goto done;
		}
	if (info.nsignatures >= FERRY_ENVELOPE_MAX_SIGNATURES) {
		error = ferry_error_set(FERRY_ETOOBIG, "envelope has the most signatures allowed");
		goto done;
	}
	if ((error = ferry_json_parse(&env, data, len, "envelope")) < 0 ||
	    (error = pae(&msg, payload_type, body.ptr, body.size)) < 0 ||
	    (error = ferry_key__sign(sig, key, msg.ptr, msg.size)) < 0)
		goto done;
	sigs = json_object_get(env, "signatures");
	if ((error = ferry_json_append(sigs, json_pack("{s:s,s:o}", "keyid", key->pub.id,
						       "sig", base64_string(sig, 64)))) < 0)
		goto done;
	error = ferry_json_dump(out, env);
done:
	json_decref(env);
	ferry_buf_dispose(&body);
	ferry_buf_dispose(&msg);
	return error;
}
