/*
 * Receipts (see receipt.h): an inventory read from the store's records in
 * one read transaction, so it is consistent.
 */
#include <string.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "envelope.h"
#include "json.h"
#include "receipt.h"
#include "util.h"
#include "banned.h"

static int add_channel(const ferry_store_channel *c, void *payload)
{
	return ferry_json_append(payload, json_pack("{s:s,s:I,s:s}", "channel", c->name,
						    "sequence", (json_int_t)c->sequence,
						    "bundle", c->bundle_id));
}

static int add_blob(const ferry_store_blob *b, void *payload)
{
	return ferry_json_append(payload, json_string(b->hex));
}

static int add_ref(const ferry_store_ref *r, void *payload)
{
	json_t *into = payload;
	size_t n = json_array_size(into);
	json_t *last = n ? json_array_get(into, n - 1) : NULL;

	if (!last || strcmp(json_string_value(json_object_get(last, "name")), r->repo)) {
		last = json_pack("{s:s,s:[]}", "name", r->repo, "refs");
		if (ferry_json_append(into, last) < 0)
			return FERRY_ENOMEM;
	}
	return ferry_json_append(json_object_get(last, "refs"),
				 json_pack("{s:s,s:s}", "name", r->name, "commit", r->commit));
}

int ferry_receipt_make(ferry_buf *out, ferry_store *st, const ferry_key *key,
		       int64_t now)
{
	ferry_buf body = FERRY_BUF_INIT;
	char when[32];
	json_t *o;
	int error;

	if ((error = ferry_time_format(when, sizeof(when), now)) < 0)
		return error;
	o = json_pack("{s:s,s:s,s:[],s:[],s:[]}", "_type", FERRY_RECEIPT_TYPE, "created",
		      when, "channels", "blobs", "repositories");
	if (!o)
		return ferry_error_oom();
	/* One read transaction: a consistent inventory. */
	if ((error = ferry_store_begin(st, 0)) < 0)
		goto done;
	if ((error = ferry_store_channel_foreach(st, add_channel,
						 json_object_get(o, "channels"))) == 0 &&
	    (error = ferry_store_blob_foreach(st, add_blob, json_object_get(o, "blobs"))) == 0)
		error = ferry_store_ref_foreach(st, NULL, add_ref,
						json_object_get(o, "repositories"));
	ferry_store_rollback(st);
	if (error)
		goto done;
	if ((error = ferry_json_dump(&body, o)) == 0)
		error = ferry_envelope_sign_type(out, FERRY_RECEIPT_PAYLOAD_TYPE, body.ptr,
						 body.size, (ferry_key *const *)&key, 1);
done:
	json_decref(o);
	ferry_buf_dispose(&body);
	return error;
}
