/*
 * forge-bundle: write a signed bundle from an OCI image layout without any
 * of the exporter's checks, the way an insider holding a signing key
 * could. Every file in LAYOUT/blobs/sha256/ becomes a member (whatever it
 * holds), and every entry of LAYOUT/index.json with an
 * org.opencontainers.image.ref.name annotation becomes an image binding
 * with that reference, digest and media type, as written. The command
 * tests use it to build hostile content: chains deeper than the limit,
 * oversized indexes, false sizes, missing layers, tags bound to layers,
 * references outside the name grammar.
 *
 *   forge-bundle KEY OUT_DIR CHANNEL SEQUENCE LAYOUT [git:NAME=FILE]... [PREREQ_DIGEST...]
 *
 * git:NAME=FILE adds repository NAME carried by git bundle FILE (a file of
 * LAYOUT/blobs/sha256/, so a member), with the refs and prerequisites its
 * header lists.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ferry/bundle.h"
#include "ferry/errors.h"
#include "hash.h"
#include "manifest.h"
#include "oci.h"
#include "writer.h"

static int die(const char *what)
{
	fprintf(stderr, "forge-bundle: %s: %s\n", what, ferry_error_last());
	return 1;
}

/* Add repository "NAME=FILE": the refs of git bundle FILE's header. */
static int add_git(ferry_manifest *m, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[256], line[1024], hex[FERRY_SHA256_HEX_LEN + 1], digest[80];
	ferry_git_repo *r = NULL;
	uint64_t size;
	FILE *f;
	int first = 1;

	if (!eq || (size_t)(eq - arg) >= sizeof(name))
		return -1;
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if (ferry_sha256_file(hex, &size, eq + 1) < 0 || !(f = fopen(eq + 1, "rb")))
		return -1;
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (ferry_manifest_add_repo(&r, m, name, digest) < 0) {
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) && line[0] != '\n') {
		char *sp = strchr(line, ' ');

		if (line[0] == '-' && !first) {
			/* a prerequisite: "-<commit> [summary]" */
			line[strcspn(line, " \n")] = '\0';
			if (ferry_git_repo_add_prerequisite(r, line + 1) < 0) {
				fclose(f);
				return -1;
			}
			continue;
		}
		if (first || line[0] == '@' || !sp) {
			first = 0;
			continue;
		}
		*sp = '\0';
		sp[strcspn(sp + 1, "\n") + 1] = '\0';
		if (ferry_git_repo_add_ref(r, sp + 1, line, 0) < 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	ferry_manifest *m = NULL;
	ferry_key *key = NULL;
	ferry_member_source *src = NULL;
	char **files = NULL;
	ferry_write_options wo = FERRY_WRITE_OPTIONS_INIT;
	ferry_write_result res;
	char path[4096], member[4096], hex[FERRY_SHA256_HEX_LEN + 1], base[256];
	uint64_t size;
	json_t *index, *e;
	struct dirent *d;
	DIR *dir;
	size_t i, n = 0;
	int k;

	if (argc < 6) {
		fprintf(stderr, "usage: forge-bundle KEY OUT_DIR CHANNEL SEQUENCE LAYOUT "
			"[PREREQ_DIGEST...]\n");
		return 64;
	}
	if (ferry_key_load(&key, argv[1]) < 0)
		return die("key");
	if (ferry_manifest_new(&m, argv[3]) < 0)
		return die("manifest");
	m->sequence = strtoull(argv[4], NULL, 10);
	m->base_sequence = 0;
	m->created = (int64_t)time(NULL) - 60 + (int64_t)m->sequence;
	m->expires = m->created + 86400;
	for (k = 6; k < argc; k++) {
		char **grown;

		if (!strncmp(argv[k], "git:", 4)) {
			if (add_git(m, argv[k] + 4) < 0)
				return die(argv[k]);
			continue;
		}
		m->base_sequence = m->sequence - 1;
		grown = realloc(m->prereq_blobs, (m->nprereq_blobs + 1) * sizeof(char *));
		if (!grown)
			return 1;
		m->prereq_blobs = grown;
		m->prereq_blobs[m->nprereq_blobs++] = strdup(argv[k]);
	}
	snprintf(path, sizeof(path), "%s/blobs/sha256", argv[5]);
	if (!(dir = opendir(path)))
		return die("layout blobs");
	files = calloc(3, sizeof(*files));
	files[n++] = strdup(FERRY_OCI_LAYOUT_NAME);
	files[n++] = strdup(FERRY_OCI_INDEX_NAME);
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		files = realloc(files, (n + 1) * sizeof(*files));
		snprintf(member, sizeof(member), "blobs/sha256/%s", d->d_name);
		files[n++] = strdup(member);
	}
	closedir(dir);
	src = calloc(n, sizeof(*src));
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[5], files[i]);
		if (ferry_sha256_file(hex, &size, path) < 0 ||
		    ferry_manifest_add_member(m, files[i], size, hex) < 0)
			return die(path);
		src[i].file = strdup(path);
	}
	snprintf(path, sizeof(path), "%s/%s", argv[5], FERRY_OCI_INDEX_NAME);
	if (!(index = json_load_file(path, 0, NULL)))
		return die("index.json");
	json_array_foreach(json_object_get(index, "manifests"), i, e) {
		const char *ref = json_string_value(json_object_get(
			json_object_get(e, "annotations"), FERRY_OCI_REF_NAME));

		if (ref && ferry_manifest_add_image(m, ref,
						    json_string_value(json_object_get(e, "digest")),
						    json_string_value(json_object_get(e, "mediaType")))
			   < 0)
			return die(ref);
	}
	json_decref(index);
	if (ferry_manifest_single_volume(m) < 0)
		return die("volume");
	snprintf(base, sizeof(base), "ferry-%s-%06llu", argv[3], (unsigned long long)m->sequence);
	wo.out_dir = argv[2];
	wo.basename = base;
	wo.keys = &key;
	wo.nkeys = 1;
	if (ferry_bundle_write(&res, m, src, &wo) < 0)
		return die("write");
	printf("%s\n", res.paths[0]);
	ferry_write_result_dispose(&res);
	ferry_manifest_free(m);
	for (i = 0; i < n; i++) {
		free(files[i]);
		free((char *)src[i].file);
	}
	free(files);
	free(src);
	ferry_key_free(key);
	return 0;
}
