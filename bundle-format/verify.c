/*
 * The public verification call (include/ferry/bundle.h): one file, read
 * once by the streaming reader with a trust that must be given, its
 * outcome copied into a result that holds no pointers so that programs
 * outside ferry need no knowledge of the manifest's types to use it.
 */
#include <stdio.h>
#include <string.h>

#include "ferry/bundle.h"
#include "ferry/errors.h"
#include "reader.h"
#include "banned.h"

static void describe(ferry_bundle_verify_result *out, const ferry_read_result *r)
{
	const ferry_manifest *m = r->manifest;

	out->bytes = r->bytes;
	out->nsigners = r->signatures.nsigners;
	memcpy(out->signers, r->signatures.signers, sizeof(out->signers));
	if (!m)
		return;
	snprintf(out->id, sizeof(out->id), "%s", m->id);
	snprintf(out->channel, sizeof(out->channel), "%s", m->channel);
	out->sequence = m->sequence;
	out->base_sequence = m->base_sequence;
	out->created = m->created;
	out->expires = m->expires;
	out->volume = r->volume;
	out->nvolumes = m->nvolumes;
	out->nmembers = m->nmembers;
}

int ferry_bundle_verify_file(ferry_bundle_verify_result *out, const char *path,
			     const ferry_trust *trust)
{
	ferry_read_options opts = FERRY_READ_OPTIONS_INIT;
	ferry_read_result r;
	int error;

	memset(out, 0, sizeof(*out));
	if (!trust || !trust->keys || trust->nkeys == 0 || trust->threshold == 0 ||
	    trust->threshold > trust->nkeys)
		return ferry_error_set(FERRY_EINVALID, "verifying '%s' needs 1 to %zu of "
				       "the trusted keys, and at least one key", path,
				       trust ? trust->nkeys : 0);
	opts.trust = trust;
	error = ferry_bundle_read(&r, path, &opts);
	describe(out, &r);
	ferry_read_result_dispose(&r);
	if (error < 0 && !strstr(ferry_error_last(), path))
		error = ferry_error_wrap(error, "'%s'", path);
	return error;
}
