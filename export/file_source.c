/*
 * Files as OCI artifacts (see file_source.h). The files themselves are never
 * copied on the connected side: each is hashed where it lies and the bundle
 * writer streams it from there. Only the two small documents (the empty
 * config and the manifest) are written, into the export cache, because a
 * bundle member must be a file.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "ferry/errors.h"
#include "buf.h"
#include "descriptor.h"
#include "digest.h"
#include "file_source.h"
#include "fs.h"
#include "hash.h"
#include "json.h"
#include "oci.h"
#include "reference.h"
#include "strv.h"
#include "banned.h"

static const char *const file_options[] = { "tag", "artifact-type", NULL };

/* Write a small document into CACHE/files/<hex> (once) and add it as a blob. */
static int add_document(ferry_oci_content *c, const char *cache_dir, const char *text,
			int manifest, char hex[FERRY_SHA256_HEX_LEN + 1])
{
	ferry_buf dir = FERRY_BUF_INIT, path = FERRY_BUF_INIT;
	size_t len = strlen(text);
	int error;

	if ((error = ferry_sha256_hex(hex, text, len)) < 0 ||
	    (error = ferry_buf_printf(&dir, "%s/files", cache_dir)) < 0 ||
	    (error = ferry_fs_mkdir_p(dir.ptr, 0755)) < 0 ||
	    (error = ferry_buf_printf(&path, "%s/%s", dir.ptr, hex)) < 0)
		goto done;
	if (!ferry_fs_exists(path.ptr) &&
	    (error = ferry_fs_write_atomic(path.ptr, text, len, 0644)) < 0)
		goto done;
	error = ferry_oci_content_add_blob(c, hex, len, path.ptr, manifest);
done:
	ferry_buf_dispose(&dir);
	ferry_buf_dispose(&path);
	return error;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files `src` names, in name order: the file itself, or the regular
 * files of a directory (not its subdirectories). */
static int list_files(ferry_strv *out, const ferry_export_spec *spec, const ferry_source *src)
{
	ferry_buf path = FERRY_BUF_INIT;
	struct dirent *e;
	struct stat st;
	DIR *d = NULL;
	int error = 0;

	if (stat(src->location, &st) < 0)
		return ferry_source_error(spec, src, "cannot read '%s': %s", src->written,
					  strerror(errno));
	if (S_ISREG(st.st_mode))
		return ferry_strv_push(out, src->location);
	if (!S_ISDIR(st.st_mode))
		return ferry_source_error(spec, src, "'%s' is neither a file nor a directory",
					  src->written);
	if (!(d = opendir(src->location)))
		return ferry_source_error(spec, src, "cannot read '%s': %s", src->written,
					  strerror(errno));
	while (!error && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", src->location, e->d_name)) < 0)
			break;
		if (lstat(path.ptr, &st) < 0)
			error = ferry_source_error(spec, src, "cannot read '%s': %s", path.ptr,
						   strerror(errno));
		else if (S_ISDIR(st.st_mode))
			continue;   /* one level: a directory's own files */
		else if (!S_ISREG(st.st_mode))
			error = ferry_source_error(spec, src, "'%s' is not a regular file "
						   "(links and devices are not carried)",
						   path.ptr);
		else if (out->n >= FERRY_FILES_MAX)
			error = ferry_source_error(spec, src, "more than %d files",
						   FERRY_FILES_MAX);
		else
			error = ferry_strv_push(out, path.ptr);
	}
	closedir(d);
	ferry_buf_dispose(&path);
	if (!error && out->n == 0)
		error = ferry_source_error(spec, src, "'%s' holds no files", src->written);
	if (!error)
		qsort(out->v, out->n, sizeof(*out->v), by_name);
	return error;
}

/* One layer per file: the file's bytes, titled with its name. */
static int add_layer(json_t *layers, ferry_oci_content *c, const ferry_export_spec *spec,
		     const ferry_source *src, const char *file)
{
	const char *title = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	char hex[FERRY_SHA256_HEX_LEN + 1];
	uint64_t size;
	json_t *d;
	int error;

	if (!ferry_oci_title_valid(title))
		return ferry_source_error(spec, src, "file name '%.100s' cannot be carried (a "
					  "name starting with '.' or '-', or with control "
					  "characters)", title);
	if ((error = ferry_sha256_file(hex, &size, file)) < 0 ||
	    (error = ferry_oci_content_add_blob(c, hex, size, file, 0)) < 0)
		return error;
	d = ferry_oci_descriptor_new(FERRY_OCI_MT_FILE, hex, size);
	if (!d || json_object_set_new(d, "annotations",
				      json_pack("{s:s}", FERRY_OCI_TITLE, title)) < 0) {
		json_decref(d);
		return ferry_error_oom();
	}
	return ferry_json_append(layers, d);
}

int ferry_files_collect(ferry_oci_content *c, const char *cache_dir,
			const ferry_export_spec *spec, const ferry_source *src)
{
	const char *tag = NULL, *type = NULL;
	char config_hex[FERRY_SHA256_HEX_LEN + 1], manifest_hex[FERRY_SHA256_HEX_LEN + 1];
	ferry_strv files = FERRY_STRV_INIT;
	ferry_buf text = FERRY_BUF_INIT, ref = FERRY_BUF_INIT;
	json_t *manifest = NULL, *layers, *root = NULL;
	size_t i;
	int error;

	if ((error = ferry_source_check_options(spec, src, file_options)) < 0 ||
	    (error = ferry_source_option_string(&tag, spec, src, "tag")) < 0 ||
	    (error = ferry_source_option_string(&type, spec, src, "artifact-type")) < 0)
		return error;
	if (!src->name || !tag)
		return ferry_source_error(spec, src, "a file source needs 'name' and 'tag'");
	if (!ferry_reference_name_valid(src->name, strlen(src->name)) ||
	    !ferry_reference_tag_valid(tag))
		return ferry_source_error(spec, src, "'%s:%s' is not an OCI reference "
					  "(lowercase name, tag of letters, digits, '_', "
					  "'.', '-')", src->name, tag);
	if (type && (strlen(type) >= FERRY_OCI_MEDIA_TYPE_MAX || !strchr(type, '/')))
		return ferry_source_error(spec, src, "artifact-type '%.100s' is not a media "
					  "type", type);
	if ((error = list_files(&files, spec, src)) < 0 ||
	    (error = add_document(c, cache_dir, FERRY_OCI_EMPTY_JSON, 0, config_hex)) < 0)
		goto done;
	manifest = json_pack("{s:i,s:s,s:s,s:o,s:[]}", "schemaVersion", 2,
			     "mediaType", FERRY_OCI_MT_MANIFEST,
			     "artifactType", type ? type : FERRY_OCI_MT_FILES,
			     "config", ferry_oci_descriptor_new(FERRY_OCI_MT_EMPTY, config_hex,
								strlen(FERRY_OCI_EMPTY_JSON)),
			     "layers");
	if (!manifest || !(layers = json_object_get(manifest, "layers"))) {
		error = ferry_error_oom();
		goto done;
	}
	for (i = 0; i < files.n && !error; i++)
		error = add_layer(layers, c, spec, src, files.v[i]);
	if (error < 0 || (error = ferry_json_dump(&text, manifest)) < 0 ||
	    (error = add_document(c, cache_dir, text.ptr, 1, manifest_hex)) < 0 ||
	    (error = ferry_buf_printf(&ref, "%s:%s", src->name, tag)) < 0)
		goto done;
	root = ferry_oci_descriptor_new(FERRY_OCI_MT_MANIFEST, manifest_hex, text.size);
	if (!root || json_object_set_new(root, "artifactType",
					 json_string(type ? type : FERRY_OCI_MT_FILES)) < 0) {
		error = ferry_error_oom();
		goto done;
	}
	error = ferry_oci_content_add_root(c, ref.ptr, root);
done:
	json_decref(manifest);
	json_decref(root);
	ferry_strv_dispose(&files);
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&ref);
	return error;
}
