/*
 * Writing a file artifact back out as files (see file_artifact.h). Two passes: the
 * first reads the manifest and checks every layer (title, uniqueness, blob
 * held with its size) so that a refusal writes nothing; the second streams
 * each blob to "<dir>/<title>.lock" with its hash checked on the way and
 * renames it over the title.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "catalog.h"
#include "digest.h"
#include "file_artifact.h"
#include "fs.h"
#include "hash.h"
#include "oci.h"
#include "reference.h"
#include "walk.h"
#include "banned.h"

#define COPY_CHUNK (1u << 20)

typedef struct {
	const char *title;      /* borrowed from the manifest */
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size;
} file_layer;

/* The manifest `reference` names: by tag from the catalog, or by digest. */
static int load_manifest(ferry_oci_document *doc, ferry_store *st, const char *reference)
{
	ferry_reference_parts parts;
	ferry_store_tag tag = { 0 };
	ferry_buf path = FERRY_BUF_INIT;
	const char *given = NULL;
	int error;

	if ((error = ferry_reference_split(&parts, reference)) < 0)
		return error;
	if (parts.digest) {
		memcpy(doc->hex, parts.hex, sizeof(doc->hex));
	} else {
		if ((error = ferry_store_tag_get(&tag, st, reference)) == FERRY_ENOTFOUND)
			return ferry_error_set(FERRY_ENOTFOUND, "the store has no '%s'",
					       reference);
		if (error < 0)
			return error;
		if (ferry_oci_digest_parse(doc->hex, tag.digest) < 0) {
			error = ferry_error_set(FERRY_ECORRUPT, "'%s' is bound to '%.80s', "
						"not a digest", reference, tag.digest);
			goto done;
		}
		given = tag.media_type;
	}
	if ((error = ferry_store_blob_path(&path, st, doc->hex)) < 0)
		goto done;
	if ((error = ferry_fs_read_file(&doc->body, path.ptr, FERRY_OCI_MANIFEST_MAX_SIZE)) < 0) {
		if (error == FERRY_ENOTFOUND)
			error = ferry_error_set(FERRY_ENOTFOUND, "the store has no '%s'",
						reference);
		goto done;
	}
	{
		char got[FERRY_SHA256_HEX_LEN + 1];

		if ((error = ferry_sha256_hex(got, doc->body.ptr, doc->body.size)) < 0)
			goto done;
		if (strcmp(got, doc->hex)) {
			error = ferry_error_set(FERRY_ECORRUPT, "the manifest of '%s' does not "
						"match its digest (damaged store: run "
						"'ferry store fsck')", reference);
			goto done;
		}
	}
	if ((error = ferry_oci_document_parse(doc, given, reference)) < 0)
		goto done;
	if (!ferry_oci_is_manifest(doc->media_type))
		error = ferry_error_set(FERRY_EINVALID, "'%s' is a %s, not a file artifact",
					reference, ferry_oci_is_index(doc->media_type)
					? "multi-platform index" : "document of another kind");
done:
	ferry_store_tag_dispose(&tag);
	ferry_buf_dispose(&path);
	return error;
}

/* Check every layer and list it; nothing is written yet. */
static int check_layers(file_layer **out, size_t *n, ferry_store *st,
			const ferry_oci_document *doc, const char *reference)
{
	ferry_oci_children it;
	ferry_oci_descriptor d;
	ferry_oci_role role;
	ferry_buf path = FERRY_BUF_INIT;
	file_layer *l = NULL;
	size_t count = 0, k;
	int error;

	*out = NULL;
	*n = 0;
	ferry_oci_children_init(&it, doc->json, doc->media_type, 0, reference);
	while ((error = ferry_oci_children_next(&d, &role, &it)) > 0) {
		const json_t *t = d.annotations ? json_object_get(d.annotations, FERRY_OCI_TITLE)
						: NULL;
		const char *title = json_string_value(t);
		struct stat s;
		void *grown;

		if (role != FERRY_OCI_LAYER)
			continue;
		if (!title) {
			error = ferry_error_set(FERRY_EINVALID, "'%s' is not a file artifact: "
						"layer %s has no title", reference, d.digest);
			break;
		}
		if (!ferry_oci_title_valid(title)) {
			error = ferry_error_set(FERRY_EINVALID, "'%s': layer %s has a title that "
						"cannot name a file", reference, d.digest);
			break;
		}
		for (k = 0; k < count; k++)
			if (!strcmp(l[k].title, title))
				break;
		if (k < count) {
			error = ferry_error_set(FERRY_EINVALID, "'%s': two layers are titled "
						"'%s'", reference, title);
			break;
		}
		ferry_buf_clear(&path);
		if ((error = ferry_store_blob_path(&path, st, d.hex)) < 0)
			break;
		if (stat(path.ptr, &s) < 0 || !S_ISREG(s.st_mode) ||
		    (uint64_t)s.st_size != d.size) {
			error = ferry_error_set(FERRY_ECORRUPT, "'%s': the store lacks file '%s' "
						"(%s) whole (damaged store: run 'ferry store "
						"fsck')", reference, title, d.digest);
			break;
		}
		if (!(grown = realloc(l, (count + 1) * sizeof(*l)))) {
			error = ferry_error_oom();
			break;
		}
		l = grown;
		l[count].title = title;
		memcpy(l[count].hex, d.hex, sizeof(l[count].hex));
		l[count].size = d.size;
		count++;
	}
	ferry_buf_dispose(&path);
	if (error == 0 && count == 0)
		error = ferry_error_set(FERRY_EINVALID, "'%s' carries no files", reference);
	if (error < 0) {
		free(l);
		return error;
	}
	*out = l;
	*n = count;
	return 0;
}

/* Stream one blob to dir/title through its lock file, checking the hash. */
static int write_file(ferry_store *st, const file_layer *f, const char *dir)
{
	ferry_lockfile lf = FERRY_LOCKFILE_INIT;
	ferry_buf src = FERRY_BUF_INIT, dst = FERRY_BUF_INIT;
	ferry_sha256 *h = NULL;
	char got[FERRY_SHA256_HEX_LEN + 1];
	char *chunk = NULL;
	struct stat s;
	int in = -1, error;

	if ((error = ferry_store_blob_path(&src, st, f->hex)) < 0 ||
	    (error = ferry_buf_printf(&dst, "%s/%s", dir, f->title)) < 0)
		goto done;
	if (lstat(dst.ptr, &s) == 0 && !S_ISREG(s.st_mode)) {
		error = ferry_error_set(FERRY_EEXISTS, "'%s' exists and is not a regular file",
					dst.ptr);
		goto done;
	}
	if (!(chunk = malloc(COPY_CHUNK))) {
		error = ferry_error_oom();
		goto done;
	}
	if ((in = open(src.ptr, O_RDONLY | O_CLOEXEC)) < 0) {
		error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", src.ptr);
		goto done;
	}
	if ((error = ferry_sha256_new(&h)) < 0 ||
	    (error = ferry_lockfile_open(&lf, dst.ptr, 0644)) < 0)
		goto done;
	for (;;) {
		ssize_t n = read(in, chunk, COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", src.ptr);
			goto done;
		}
		if (n == 0)
			break;
		if ((error = ferry_sha256_update(h, chunk, (size_t)n)) < 0 ||
		    (error = ferry_fs_write_all(lf.fd, chunk, (size_t)n)) < 0)
			goto done;
	}
	if ((error = ferry_sha256_final_hex(h, got)) < 0)
		goto done;
	if (strcmp(got, f->hex)) {
		error = ferry_error_set(FERRY_ECORRUPT, "file '%s': the store's blob does not "
					"match its digest sha256:%s (damaged store: run 'ferry "
					"store fsck')", f->title, f->hex);
		goto done;
	}
	error = ferry_lockfile_commit(&lf);
done:
	ferry_lockfile_rollback(&lf);
	if (in >= 0)
		close(in);
	ferry_sha256_free(h);
	free(chunk);
	ferry_buf_dispose(&src);
	ferry_buf_dispose(&dst);
	return error;
}

int ferry_store_files_get(ferry_strv *written, ferry_store *st, const char *reference,
			  const char *dir)
{
	ferry_oci_document doc;
	file_layer *files = NULL;
	size_t n = 0, i;
	int error;

	memset(&doc, 0, sizeof(doc));
	if ((error = load_manifest(&doc, st, reference)) < 0 ||
	    (error = check_layers(&files, &n, st, &doc, reference)) < 0 ||
	    (error = ferry_fs_mkdir_p(dir, 0755)) < 0)
		goto done;
	for (i = 0; i < n && !error; i++)
		if ((error = write_file(st, &files[i], dir)) == 0)
			error = ferry_strv_push(written, files[i].title);
done:
	free(files);
	ferry_oci_document_dispose(&doc);
	return error;
}
