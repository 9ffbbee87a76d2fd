/*
 * `ferry kit build`: the bootstrap kit for an empty enclave host (see
 * kit.h). The connected side resolves the packages (appliance/kit-deps.sh
 * downloads the ferry package's dependency closure with apt); this file
 * lays the kit out, writes its install.sh and README, lists every file with
 * its SHA-256 in SHA256SUMS and signs that list in minisign's format with a
 * key of the trust root, so the enclave checks one signature with stock
 * minisign and every file with sha256sum before installing anything.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ferry/errors.h"
#include "buf.h"
#include "fs.h"
#include "hash.h"
#include "kit.h"
#include "members.h"
#include "minisig.h"
#include "banned.h"

#define SUMS "SHA256SUMS"

static const char install_sh[] =
	"#!/bin/sh\n"
	"# Install ferry on this Debian 12 host from the kit, without a network.\n"
	"# Check the kit's signature first, on this host if it has minisign or on\n"
	"# any machine that has:  minisign -Vm SHA256SUMS -p trust/KEY.pub\n"
	"# This script checks the signature when minisign is installed, checks\n"
	"# every file against SHA256SUMS, installs the packages in debs/ with apt\n"
	"# from the files alone (no repository, no download) and says what next.\n"
	"set -eu\n"
	"kit=$(cd \"$(dirname \"$0\")\" && pwd)\n"
	"cd \"$kit\"\n"
	"[ \"$(id -u)\" = 0 ] || { echo \"install.sh: run it as root\" >&2; exit 1; }\n"
	"if command -v minisign >/dev/null 2>&1; then\n"
	"\tok=\n"
	"\tfor pub in trust/*.pub; do\n"
	"\t\tminisign -Vqm SHA256SUMS -p \"$pub\" 2>/dev/null && ok=$pub && break\n"
	"\tdone\n"
	"\t[ -n \"$ok\" ] || { echo \"install.sh: SHA256SUMS is not signed by a key in trust/\" >&2; exit 2; }\n"
	"\techo \"install.sh: SHA256SUMS signed by $ok\"\n"
	"else\n"
	"\techo \"install.sh: no minisign here: check 'minisign -Vm SHA256SUMS -p trust/KEY.pub' elsewhere\"\n"
	"fi\n"
	"sha256sum --strict --quiet -c SHA256SUMS ||\n"
	"\t{ echo \"install.sh: the kit does not match SHA256SUMS: do not install it\" >&2; exit 2; }\n"
	"echo \"install.sh: every file matches SHA256SUMS\"\n"
	"export DEBIAN_FRONTEND=noninteractive\n"
	"# apt takes the packages from the files given; it reaches for no repository\n"
	"# unless a dependency is missing from debs/, and then fails naming it.\n"
	"# (Not --no-download: apt 2.6 counts copying a local file as a download.)\n"
	"apt-get install -y -q --no-install-recommends ./debs/*.deb\n"
	"echo \"install.sh: installed $(dpkg-query -W -f='${Package} ${Version}' ferry)\"\n"
	"keys=\n"
	"for pub in trust/*.pub; do keys=\"$keys --trust $kit/$pub\"; done\n"
	"echo \"next:\"\n"
	"echo \"  ferry site init$keys --name $(hostname)\"\n"
	"for b in bundles/*.tar; do\n"
	"\t[ -e \"$b\" ] || continue\n"
	"\techo \"  install -o ferry -m 0640 $kit/$b /var/spool/ferry/ && sudo -u ferry ferry import /var/spool/ferry/$(basename \"$b\")\"\n"
	"done\n";

static const char readme[] =
	"ferry bootstrap kit\n"
	"===================\n"
	"\n"
	"Everything an empty Debian 12 host needs to become a ferry site, with no\n"
	"network:\n"
	"\n"
	"  debs/          the ferry package and every package it needs that a\n"
	"                 minimal Debian 12 system lacks\n"
	"  trust/         the public keys of the site's trust root\n"
	"  bundles/       the first bundles to import (with their .minisig)\n"
	"  install.sh     checks the kit and installs debs/ with apt, offline\n"
	"  SHA256SUMS     the SHA-256 of every other file\n"
	"  SHA256SUMS.minisig\n"
	"                 its signature by a key in trust/\n"
	"\n"
	"1. Check the signature, with stock minisign (on this host if it has it,\n"
	"   or on any machine that has):\n"
	"\n"
	"     minisign -Vm SHA256SUMS -p trust/KEY.pub\n"
	"\n"
	"   Compare the key's id with what its owner told you, over a path you\n"
	"   trust: these keys become the site's trust root.\n"
	"\n"
	"2. Install, as root:  sh install.sh\n"
	"   It checks the signature again when minisign is there, every file\n"
	"   with sha256sum -c SHA256SUMS, then runs\n"
	"   apt-get install ./debs/*.deb (from the files, no repository).\n"
	"\n"
	"3. Set the site up (store, trust root, the mirror's TLS and\n"
	"   credentials, node configuration, services): ferry-site(1).\n"
	"\n"
	"     ferry site init --trust trust/KEY.pub --name HOSTNAME\n"
	"\n"
	"4. Import the first bundles as the user ferry (ferry-import(1)).\n"
	"\n"
	"Later versions of ferry travel like any other software: the next .deb as\n"
	"a file source in an ordinary bundle, taken out of the store with\n"
	"`ferry store get` and installed with apt. See installing.md in\n"
	"/usr/share/doc/ferry/guide/ once installed.\n";

void ferry_kit_result_dispose(ferry_kit_result *r)
{
	if (!r)
		return;
	ferry_strv_dispose(&r->files);
	memset(r, 0, sizeof(*r));
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Copy `from` to DIR/REL durably (a lock file renamed into place) and
 * record REL. */
static int copy_in(ferry_kit_result *r, const char *dir, const char *rel, const char *from)
{
	ferry_lockfile lf = FERRY_LOCKFILE_INIT;
	ferry_buf to = FERRY_BUF_INIT;
	char buf[65536];
	ssize_t n;
	int fd = -1, error;
	struct stat st;

	if ((error = ferry_buf_printf(&to, "%s/%s", dir, rel)) < 0)
		goto done;
	if ((fd = open(from, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		error = ferry_error_set_errno(errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
					      "cannot open '%s'", from);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = ferry_error_set(FERRY_EINVALID, "'%s' is not a regular file", from);
		goto done;
	}
	if ((error = ferry_lockfile_open(&lf, to.ptr, 0644)) < 0)
		goto done;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", from);
			goto done;
		}
		if ((error = ferry_fs_write_all(lf.fd, buf, (size_t)n)) < 0)
			goto done;
	}
	if ((error = ferry_lockfile_commit(&lf)) < 0 ||
	    (error = ferry_strv_push(&r->files, rel)) < 0)
		goto done;
	r->bytes += (uint64_t)st.st_size;
done:
	ferry_lockfile_rollback(&lf);
	if (fd >= 0)
		close(fd);
	ferry_buf_dispose(&to);
	return error;
}

/* copy_in() as SUB/<base name of from>. */
static int copy_named(ferry_kit_result *r, const char *dir, const char *sub, const char *from)
{
	ferry_buf rel = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&rel, "%s/%s", sub, base_name(from))) >= 0)
		error = copy_in(r, dir, rel.ptr, from);
	ferry_buf_dispose(&rel);
	return error;
}

static int write_in(ferry_kit_result *r, const char *dir, const char *rel, const char *text,
		    mode_t mode)
{
	ferry_buf to = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&to, "%s/%s", dir, rel)) >= 0 &&
	    (error = ferry_fs_write_atomic(to.ptr, text, strlen(text), mode)) >= 0)
		error = ferry_strv_push(&r->files, rel);
	r->bytes += strlen(text);
	ferry_buf_dispose(&to);
	return error;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.deb files of `dir`, sorted, into debs/. */
static int copy_deps(ferry_kit_result *r, const char *out, const char *dir)
{
	ferry_strv names = FERRY_STRV_INIT;
	ferry_buf path = FERRY_BUF_INIT;
	struct dirent *e;
	DIR *d;
	size_t i;
	int error = 0;

	if (!(d = opendir(dir)))
		return ferry_error_set_errno(errno == ENOENT ? FERRY_ENOTFOUND : FERRY_EIO,
					     "cannot read '%s'", dir);
	while (!error && (e = readdir(d)))
		if (ends_with(e->d_name, ".deb") && e->d_name[0] != '.')
			error = ferry_strv_push(&names, e->d_name);
	closedir(d);
	if (error < 0)
		goto done;
	if (names.n)
		qsort(names.v, names.n, sizeof(char *), by_name);
	for (i = 0; i < names.n && !error; i++) {
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", dir, names.v[i])) >= 0 &&
		    (error = copy_named(r, out, "debs", path.ptr)) >= 0)
			r->ndeps++;
	}
done:
	ferry_strv_dispose(&names);
	ferry_buf_dispose(&path);
	return error;
}

/* A kit goes into a new or empty directory only. */
static int make_out(const char *out)
{
	DIR *d;
	struct dirent *e;
	int error = 0;

	if ((error = ferry_fs_mkdir_p(out, 0755)) < 0)
		return error;
	if (!(d = opendir(out)))
		return ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", out);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			error = ferry_error_set(FERRY_EEXISTS, "'%s' is not empty: a kit is "
						"written into a new directory", out);
			break;
		}
	closedir(d);
	return error;
}

static int check_keys(const ferry_kit_options *o)
{
	const char *want = ferry_pubkey_id(ferry_key_public(o->key));
	ferry_pubkey *pub = NULL;
	size_t i;
	int error, found = 0;

	for (i = 0; i < o->ntrust; i++) {
		if ((error = ferry_pubkey_load(&pub, o->trust[i])) < 0)
			return error;
		found |= !strcmp(ferry_pubkey_id(pub), want);
		ferry_pubkey_free(pub);
		pub = NULL;
	}
	if (!found)
		return ferry_error_set(FERRY_EINVALID, "the signing key %s is not one of the "
				       "trust keys: the enclave checks the kit with them", want);
	return 0;
}

static int write_sums(ferry_kit_result *r, const ferry_kit_options *o)
{
	ferry_buf sums = FERRY_BUF_INIT, path = FERRY_BUF_INIT, sig = FERRY_BUF_INIT;
	char hex[FERRY_SHA256_HEX_LEN + 1], comment[256];
	size_t i;
	int error = 0;

	qsort(r->files.v, r->files.n, sizeof(char *), by_name);
	for (i = 0; i < r->files.n && !error; i++) {
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "%s/%s", o->out, r->files.v[i])) >= 0 &&
		    (error = ferry_sha256_file(hex, NULL, path.ptr)) >= 0)
			error = ferry_buf_printf(&sums, "%s  %s\n", hex, r->files.v[i]);
	}
	if (error < 0)
		goto done;
	snprintf(comment, sizeof(comment), "ferry kit %s, %zu files", base_name(o->deb),
		 r->files.n);
	ferry_buf_clear(&path);
	if ((error = ferry_buf_printf(&path, "%s/" SUMS, o->out)) < 0 ||
	    (error = ferry_fs_write_atomic(path.ptr, sums.ptr, sums.size, 0644)) < 0 ||
	    (error = ferry_buf_printf(&sig, "%s" FERRY_BUNDLE_SIGNATURE_SUFFIX, path.ptr)) < 0 ||
	    (error = ferry_minisig_sign_file(sig.ptr, o->key, path.ptr, comment)) < 0)
		goto done;
done:
	ferry_buf_dispose(&sums);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&sig);
	return error;
}

int ferry_kit_build(ferry_kit_result *out, const ferry_kit_options *o)
{
	ferry_buf sub = FERRY_BUF_INIT, sidecar = FERRY_BUF_INIT;
	const char *dirs[] = { "debs", "trust", "bundles" };
	size_t i;
	int error;

	if (!o->out || !o->deb || !o->key || !o->ntrust)
		return ferry_error_set(FERRY_EINVALID, "a kit needs a directory, the package, "
				       "a signing key and the trust keys");
	if (!ends_with(o->deb, ".deb"))
		return ferry_error_set(FERRY_EINVALID, "'%s' is not a Debian package (*.deb)",
				       o->deb);
	if ((error = check_keys(o)) < 0 || (error = make_out(o->out)) < 0)
		return error;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		ferry_buf_clear(&sub);
		if ((error = ferry_buf_printf(&sub, "%s/%s", o->out, dirs[i])) < 0 ||
		    (error = ferry_fs_mkdir_p(sub.ptr, 0755)) < 0)
			goto done;
	}
	if ((error = copy_named(out, o->out, "debs", o->deb)) < 0 ||
	    (o->deps && (error = copy_deps(out, o->out, o->deps)) < 0))
		goto done;
	for (i = 0; i < o->ntrust; i++)
		if ((error = copy_named(out, o->out, "trust", o->trust[i])) < 0)
			goto done;
	for (i = 0; i < o->nbundles; i++) {
		ferry_buf_clear(&sidecar);
		if ((error = copy_named(out, o->out, "bundles", o->bundles[i])) < 0 ||
		    (error = ferry_buf_printf(&sidecar, "%s" FERRY_BUNDLE_SIGNATURE_SUFFIX,
					      o->bundles[i])) < 0)
			goto done;
		if (ferry_fs_exists(sidecar.ptr) &&
		    (error = copy_named(out, o->out, "bundles", sidecar.ptr)) < 0)
			goto done;
	}
	if ((error = write_in(out, o->out, "install.sh", install_sh, 0755)) < 0 ||
	    (error = write_in(out, o->out, "README", readme, 0644)) < 0 ||
	    (error = write_sums(out, o)) < 0)
		goto done;
done:
	ferry_buf_dispose(&sub);
	ferry_buf_dispose(&sidecar);
	return error;
}
