/*
 * Export baselines from enclave receipts (see baseline.h).
 */
#include <stdlib.h>
#include <string.h>

#include "ferry/errors.h"
#include "baseline.h"
#include "buf.h"
#include "envelope.h"
#include "fs.h"
#include "hash.h"
#include "json.h"
#include "manifest.h"
#include "banned.h"

#define W "receipt"

void ferry_export_receipt_dispose(ferry_export_receipt *r)
{
	free(r->digests);
	free(r->refs);
	json_decref(r->doc);
	memset(r, 0, sizeof(*r));
}

int ferry_export_receipt_parse(ferry_export_receipt *out, const void *payload, size_t len,
			       const char *channel, uint64_t last_sent)
{
	json_t *doc = NULL, *channels, *blobs, *repos, *e, *refs, *ref;
	const char **digests = NULL;
	ferry_sent_ref *sent = NULL;
	const char *type;
	size_t i, k, n = 0, nrefs = 0, cap = 0;
	uint64_t sequence = 0;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = ferry_json_parse(&doc, payload, len, W)) < 0 ||
	    (error = ferry_json_get_string(&type, doc, "_type", W)) < 0 ||
	    (error = ferry_json_get_array(&channels, doc, "channels", W)) < 0 ||
	    (error = ferry_json_get_array(&blobs, doc, "blobs", W)) < 0 ||
	    (error = ferry_json_get_array(&repos, doc, "repositories", W)) < 0)
		goto done;
	if (strcmp(type, FERRY_RECEIPT_TYPE)) {
		error = ferry_error_set(FERRY_EUNSUPPORTED, "unsupported receipt type '%.80s'",
					type);
		goto done;
	}
	json_array_foreach(channels, i, e) {
		const char *name;
		uint64_t seq;

		if ((error = ferry_json_get_string(&name, e, "channel", W)) < 0 ||
		    (error = ferry_json_get_u64(&seq, e, "sequence", W)) < 0)
			goto done;
		if (!strcmp(name, channel))
			sequence = seq;
	}
	if (sequence > last_sent) {
		error = ferry_error_set(FERRY_EINVALID,
					"receipt says the enclave holds sequence %llu of "
					"channel '%s', but this exporter sent only %llu",
					(unsigned long long)sequence, channel,
					(unsigned long long)last_sent);
		goto done;
	}
	if (!(digests = calloc(json_array_size(blobs) + 1, sizeof(*digests)))) {
		error = ferry_error_oom();
		goto done;
	}
	json_array_foreach(blobs, i, e) {
		const char *hex = json_string_value(e);

		if (!hex || !ferry_sha256_hex_valid(hex)) {
			error = ferry_error_set(FERRY_EINVALID, W ": malformed blob digest");
			goto done;
		}
		digests[n++] = hex;
	}
	json_array_foreach(repos, i, e) {
		const char *name;

		if ((error = ferry_json_get_string(&name, e, "name", W)) < 0 ||
		    (error = ferry_json_get_array(&refs, e, "refs", W)) < 0)
			goto done;
		json_array_foreach(refs, k, ref) {
			const char *rname, *commit;

			if ((error = ferry_json_get_string(&rname, ref, "name", W)) < 0 ||
			    (error = ferry_json_get_string(&commit, ref, "commit", W)) < 0)
				goto done;
			if (!ferry_git_ref_name_valid(rname) || !ferry_git_oid_valid(commit) ||
			    !ferry_git_repo_name_valid(name)) {
				error = ferry_error_set(FERRY_EINVALID, W ": malformed ref of '%.80s'",
							name);
				goto done;
			}
			if (nrefs == cap) {
				ferry_sent_ref *grown = realloc(sent, (cap = cap ? cap * 2 : 64) *
								     sizeof(*sent));
				if (!grown) {
					error = ferry_error_oom();
					goto done;
				}
				sent = grown;
			}
			sent[nrefs].repo = name;
			sent[nrefs].ref = rname;
			sent[nrefs++].commit = commit;
		}
	}
	out->sequence = sequence;
	out->digests = digests;
	out->ndigests = n;
	out->refs = sent;
	out->nrefs = nrefs;
	out->doc = doc;
	return 0;
done:
	free(digests);
	free(sent);
	json_decref(doc);
	return error;
}

int ferry_export_baseline(uint64_t *sequence, ferry_export_state *st,
			  const char *channel, uint64_t last_sent, const char *path,
			  const ferry_trust *trust)
{
	ferry_buf file = FERRY_BUF_INIT, payload = FERRY_BUF_INIT;
	ferry_envelope_info info;
	ferry_export_receipt r;
	int error;

	*sequence = 0;
	memset(&r, 0, sizeof(r));
	if ((error = ferry_fs_read_file(&file, path, FERRY_RECEIPT_MAX_SIZE)) < 0)
		goto done;
	if ((error = ferry_envelope_open_type(&payload, &info, file.ptr, file.size, trust,
					      FERRY_RECEIPT_PAYLOAD_TYPE)) < 0) {
		error = ferry_error_wrap(error, "receipt '%s'", path);
		goto done;
	}
	if ((error = ferry_export_receipt_parse(&r, payload.ptr, payload.size, channel,
						last_sent)) < 0)
		goto done;
	*sequence = r.sequence;
	error = ferry_export_state_rebase(st, channel, r.sequence, r.digests, r.ndigests,
					  r.refs, r.nrefs);
done:
	ferry_export_receipt_dispose(&r);
	ferry_buf_dispose(&file);
	ferry_buf_dispose(&payload);
	return error;
}
