/*
 * `ferry site init`: from an installed package to a site that serves, in
 * one idempotent step. It creates the store and its trust root, the
 * mirror's TLS material (a local CA and a certificate it signs) and read
 * credentials, the settings that make ferry-mirror.service use them, the
 * node configuration that makes podman, CRI-O and containerd pull from the
 * mirror, the default configuration in /etc/ferry where it is missing, and
 * enables the services. Every file is written atomically with its mode.
 * Files it writes itself carry its mark and are rewritten when they must
 * change; anything else already there is the administrator's and is kept,
 * so a second run changes nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#include "ferry/errors.h"
#include "alloc.h"
#include "buf.h"
#include "catalog.h"
#include "fs.h"
#include "node_config.h"
#include "site.h"
#include "site_defaults.h"
#include "store.h"
#include "tls.h"
#include "trust.h"
#include "trust_root.h"
#include "banned.h"

extern char **environ;

/* The first line of every text file site init writes, so a later run knows
 * the file is its own to rewrite. */
#define MARK "# Written by ferry site init"

#define ETC "/etc/ferry"
#define TLS_DIR ETC "/tls"
#define CA_CERT TLS_DIR "/ca.pem"
#define CA_KEY TLS_DIR "/ca-key.pem"
#define MIRROR_CERT TLS_DIR "/mirror.pem"
#define MIRROR_KEY TLS_DIR "/mirror-key.pem"
#define HTPASSWD ETC "/mirror.htpasswd"
#define AUTH_JSON ETC "/mirror-auth.json"
#define MIRROR_ENV ETC "/mirror-site.env"
#define DROP_IN "/etc/systemd/system/ferry-mirror.service.d/50-ferry-site.conf"
#define REGISTRIES_CONF "/etc/containers/registries.conf.d/50-ferry-site.conf"
#define PULL_USER "pull"

/* The default configuration files of the services, written where missing. */
static const struct {
	const char *path, *what;
	const char *text;
} defaults[] = {
	{ ETC "/reconcile.yaml", "the reconciler's configuration", default_reconcile_yaml },
	{ ETC "/inbox.env", "the inbox's settings", default_inbox_env },
};

/* The services site init enables. */
static const char *const units[] = { "ferry-mirror.service", "ferry-reconcile.service",
				     "ferry-inbox.service" };

/* How a file already there is treated. */
typedef enum {
	KEEP,      /* anything there is kept */
	MANAGED,   /* rewritten when it carries MARK, else kept */
} policy;

typedef struct {
	const ferry_site_options *o;
	ferry_site_report *r;
	const char *root;     /* "" for "/" */
	const char *store;
	char *listen;         /* the mirror's ADDR:PORT */
	uid_t uid;            /* the service user, when running as root and it exists */
	gid_t gid;
	int chown_ok;
	ferry_strv registries;   /* registry names to mirror, sorted, unique */
	char *mirror;         /* host:port */
} site;

const char *ferry_site_state_name(ferry_site_state s)
{
	static const char *const names[] = { "wrote", "unchanged", "kept", "todo" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void ferry_site_report_dispose(ferry_site_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->items[i].path);
		free(r->items[i].note);
	}
	free(r->items);
	ferry_strv_dispose(&r->next);
	free(r->mirror);
	free(r->names);
	memset(r, 0, sizeof(*r));
}

static int report(site *s, const char *path, const char *what, ferry_site_state state,
		  const char *note_fmt, ...) __attribute__((format(printf, 5, 6)));

static int report(site *s, const char *path, const char *what, ferry_site_state state,
		  const char *note_fmt, ...)
{
	ferry_site_report *r = s->r;
	ferry_site_item *it;
	ferry_buf note = FERRY_BUF_INIT;
	int error;

	if ((error = FERRY_ALLOC_GROW(r->items, r->n + 1, r->alloc)) < 0)
		return error;
	if (note_fmt) {
		va_list ap;

		va_start(ap, note_fmt);
		error = ferry_buf_vprintf(&note, note_fmt, ap);
		va_end(ap);
		if (error < 0)
			return error;
	}
	it = &r->items[r->n];
	memset(it, 0, sizeof(*it));
	if (!(it->path = strdup(path))) {
		ferry_buf_dispose(&note);
		return ferry_error_oom();
	}
	it->what = what;
	it->state = state;
	it->note = note.size ? ferry_buf_detach(&note) : NULL;
	ferry_buf_dispose(&note);
	r->n++;
	if (state == FERRY_SITE_WROTE)
		r->changed = 1;
	return 0;
}

static int next_step(site *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int next_step(site *s, const char *fmt, ...)
{
	ferry_buf b = FERRY_BUF_INIT;
	va_list ap;
	int error;

	va_start(ap, fmt);
	error = ferry_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (error < 0 || (error = ferry_strv_push(&s->r->next, b.ptr)) < 0) {
		ferry_buf_dispose(&b);
		return error;
	}
	ferry_buf_dispose(&b);
	return 0;
}

/* ROOT + path into `out`. */
static int under(ferry_buf *out, const site *s, const char *path)
{
	ferry_buf_clear(out);
	return ferry_buf_printf(out, "%s%s", s->root, path);
}

static int parent_dir(const char *full)
{
	ferry_buf dir = FERRY_BUF_INIT;
	const char *slash = strrchr(full, '/');
	int error = 0;

	if (slash && slash != full) {
		if ((error = ferry_buf_put(&dir, full, (size_t)(slash - full))) >= 0)
			error = ferry_fs_mkdir_p(dir.ptr, 0755);
	}
	ferry_buf_dispose(&dir);
	return error;
}

/* Give `full` to root and the service group (group_readable) or leave it
 * root's; a no-op when not running as root or without the user. */
static int give(const site *s, const char *full, int to_user, int to_group)
{
	if (!s->chown_ok || (!to_user && !to_group))
		return 0;
	if (lchown(full, to_user ? s->uid : 0, s->gid) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot change the owner of '%s'", full);
	return 0;
}

/*
 * Put `text` at `path` (under the root) with `mode`, by policy; readable by
 * the service group when `group`. *state says what happened.
 */
static int put_file(ferry_site_state *state, site *s, const char *path, const char *text,
		    size_t len, mode_t mode, int group, policy p)
{
	ferry_buf full = FERRY_BUF_INIT, old = FERRY_BUF_INIT;
	int error;

	if ((error = under(&full, s, path)) < 0)
		goto done;
	error = ferry_fs_read_file(&old, full.ptr, 1 << 20);
	if (error == FERRY_ENOTFOUND) {
		*state = FERRY_SITE_WROTE;
	} else if (error < 0) {
		goto done;
	} else if (old.size == len && !memcmp(old.ptr, text, len)) {
		*state = FERRY_SITE_UNCHANGED;
	} else if (p == MANAGED && !strncmp(old.ptr ? old.ptr : "", MARK, strlen(MARK))) {
		*state = FERRY_SITE_WROTE;
	} else {
		*state = FERRY_SITE_KEPT;
	}
	error = 0;
	if (*state != FERRY_SITE_WROTE)
		goto done;
	if ((error = parent_dir(full.ptr)) < 0 ||
	    (error = ferry_fs_write_atomic(full.ptr, text, len, mode)) < 0 ||
	    (error = give(s, full.ptr, 0, group)) < 0)
		goto done;
done:
	if (old.ptr)   /* it may have been a key */
		sodium_memzero(old.ptr, old.size);
	ferry_buf_dispose(&old);
	ferry_buf_dispose(&full);
	return error;
}

/* put_file() and a report line. */
static int put_reported(site *s, const char *path, const char *what, const char *text,
			mode_t mode, int group, policy p)
{
	ferry_site_state st;
	int error;

	if ((error = put_file(&st, s, path, text, strlen(text), mode, group, p)) < 0)
		return error;
	return report(s, path, what, st, st == FERRY_SITE_KEPT ?
		      "exists and is not site init's: left as it is" : NULL);
}

/* ---- the service user ------------------------------------------------------ */

/* The user and its group from ROOT/etc/passwd (not the host's: --root may
 * name another system). */
static int find_user(site *s)
{
	ferry_buf path = FERRY_BUF_INIT;
	const char *user = s->o->user ? s->o->user : "ferry";
	struct passwd *pw;
	FILE *f;
	int error;

	if (geteuid() != 0)
		return 0;
	if ((error = under(&path, s, "/etc/passwd")) < 0)
		return error;
	if ((f = fopen(path.ptr, "re"))) {
		while ((pw = fgetpwent(f)))
			if (!strcmp(pw->pw_name, user)) {
				s->uid = pw->pw_uid;
				s->gid = pw->pw_gid;
				s->chown_ok = 1;
				break;
			}
		fclose(f);
	}
	ferry_buf_dispose(&path);
	if (!s->chown_ok)
		return next_step(s, "there is no user '%s' (the package makes it): files "
				 "stay root's; chown the store to the user the mirror runs as",
				 user);
	return 0;
}

/* chown -R of the store to the service user (nftw without following
 * links). */
static int chown_tree(const site *s, const char *dir)
{
	ferry_buf child = FERRY_BUF_INIT;
	DIR *d;
	struct dirent *e;
	int error = 0;

	if (lchown(dir, s->uid, s->gid) < 0)
		return ferry_error_set_errno(FERRY_EIO, "cannot change the owner of '%s'", dir);
	if (!(d = opendir(dir)))
		return errno == ENOTDIR ? 0 :
		       ferry_error_set_errno(FERRY_EIO, "cannot read '%s'", dir);
	while (!error && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		ferry_buf_clear(&child);
		if ((error = ferry_buf_printf(&child, "%s/%s", dir, e->d_name)) < 0)
			break;
		if (e->d_type == DT_DIR)
			error = chown_tree(s, child.ptr);
		else if (lchown(child.ptr, s->uid, s->gid) < 0)
			error = ferry_error_set_errno(FERRY_EIO, "cannot change the owner of '%s'",
						      child.ptr);
	}
	closedir(d);
	ferry_buf_dispose(&child);
	return error;
}

/* ---- the store -------------------------------------------------------------- */

static int make_store(site *s)
{
	ferry_buf full = FERRY_BUF_INIT, db = FERRY_BUF_INIT;
	ferry_store *st = NULL;
	ferry_trust_root *root = NULL;
	int error, fresh;

	if ((error = under(&full, s, s->store)) < 0 ||
	    (error = ferry_buf_printf(&db, "%s/%s", full.ptr, FERRY_STORE_DB)) < 0)
		goto done;
	fresh = !ferry_fs_exists(db.ptr);
	if (fresh && !s->o->nkeys) {
		error = ferry_error_set(FERRY_EINVALID, "'%s' holds no store: a new store needs "
					"the trust root's public keys (--trust KEY.pub)",
					full.ptr);
		goto done;
	}
	/* A store with a root is only read, so that a second run touches
	 * nothing (the write lock would rewrite its lock file and index). */
	if (!fresh && (error = ferry_store_open(&st, full.ptr, FERRY_STORE_READ, 0)) >= 0 &&
	    (error = ferry_trust_current(&root, st)) == FERRY_ENOTFOUND) {
		ferry_store_close(st);
		st = NULL;
	}
	if (!st && ((error = parent_dir(full.ptr)) < 0 ||
		    (error = ferry_fs_mkdir_p(full.ptr, 0750)) < 0 ||
		    (error = ferry_store_open(&st, full.ptr, FERRY_STORE_CREATE, 1)) < 0 ||
		    (error = ferry_trust_current(&root, st)) < 0) && error != FERRY_ENOTFOUND)
		goto done;
	if (error == FERRY_ENOTFOUND) {
		if (!s->o->nkeys) {
			error = ferry_error_set(FERRY_EINVALID, "the store '%s' has no trust root: "
						"give its public keys (--trust KEY.pub)", full.ptr);
			goto done;
		}
		if ((error = ferry_trust_root_new(&root, 1, s->o->expires,
						  s->o->threshold ? s->o->threshold : 1,
						  (ferry_pubkey **)s->o->keys, s->o->nkeys)) < 0 ||
		    (error = ferry_trust_init(st, root)) < 0)
			goto done;
		if ((error = report(s, s->store, "the store and its trust root", FERRY_SITE_WROTE,
				    "trust root version 1, %zu key(s), threshold %u",
				    s->o->nkeys, s->o->threshold ? s->o->threshold : 1)) < 0)
			goto done;
		fresh = 1;
	} else if (error < 0) {
		goto done;
	} else if ((error = report(s, s->store, "the store and its trust root",
				   FERRY_SITE_UNCHANGED, "trust root version %llu; --trust "
				   "keys are used only for a new store",
				   (unsigned long long)root->version)) < 0) {
		goto done;
	}
	if ((error = ferry_mirror_node_registries(&s->registries, st)) < 0)
		goto done;
	ferry_store_close(st);
	st = NULL;
	if (fresh && s->chown_ok)
		error = chown_tree(s, full.ptr);
done:
	ferry_trust_root_free(root);
	ferry_store_close(st);
	ferry_buf_dispose(&full);
	ferry_buf_dispose(&db);
	return error;
}

/* ---- TLS ---------------------------------------------------------------------- */

/* Read a file under the root, or FERRY_ENOTFOUND. */
static int read_under(ferry_buf *out, const site *s, const char *path)
{
	ferry_buf full = FERRY_BUF_INIT;
	int error;

	if ((error = under(&full, s, path)) >= 0)
		error = ferry_fs_read_file(out, full.ptr, 1 << 20);
	ferry_buf_dispose(&full);
	return error;
}

static int make_tls(site *s, const char *const *names, size_t nnames)
{
	ferry_buf ca = FERRY_BUF_INIT, cakey = FERRY_BUF_INIT;
	ferry_buf cert = FERRY_BUF_INIT, key = FERRY_BUF_INIT, have = FERRY_BUF_INIT;
	ferry_site_state st;
	int error, new_ca = 0;

	error = read_under(&ca, s, CA_CERT);
	if (error >= 0)
		error = read_under(&cakey, s, CA_KEY);
	if (error == FERRY_ENOTFOUND) {
		ferry_buf_clear(&ca);
		ferry_site_tls_wipe(&cakey);
		if ((error = ferry_site_tls_make_ca(&ca, &cakey, "ferry site CA")) < 0 ||
		    (error = put_file(&st, s, CA_KEY, cakey.ptr, cakey.size, 0600, 0, KEEP)) < 0 ||
		    (error = put_file(&st, s, CA_CERT, ca.ptr, ca.size, 0644, 0, KEEP)) < 0 ||
		    (error = report(s, CA_CERT, "the site's certificate authority",
				    FERRY_SITE_WROTE, "its key: " CA_KEY " (0600)")) < 0)
			goto done;
		new_ca = 1;
	} else if (error < 0) {
		goto done;
	} else if ((error = report(s, CA_CERT, "the site's certificate authority",
				   FERRY_SITE_UNCHANGED, NULL)) < 0) {
		goto done;
	}

	error = read_under(&have, s, MIRROR_CERT);
	if (error >= 0 && !new_ca) {
		if ((error = ferry_site_tls_names(&cert, have.ptr)) < 0 ||
		    (error = report(s, MIRROR_CERT, "the mirror's certificate",
				    FERRY_SITE_UNCHANGED, "names %s", cert.ptr)) < 0)
			goto done;
	} else if (error >= 0 || error == FERRY_ENOTFOUND) {
		ferry_buf_clear(&cert);
		if ((error = ferry_site_tls_make_server(&cert, &key, ca.ptr, cakey.ptr, names,
							nnames)) < 0 ||
		    (error = put_file(&st, s, MIRROR_KEY, key.ptr, key.size, 0640, 1, KEEP)) < 0)
			goto done;
		/* A key of the administrator's would not match the new certificate. */
		if (st == FERRY_SITE_KEPT) {
			error = ferry_error_set(FERRY_EEXISTS, "'%s' exists but '%s' does not: "
						"remove the key or put its certificate there",
						MIRROR_KEY, MIRROR_CERT);
			goto done;
		}
		if ((error = parent_dir(MIRROR_CERT)) < 0)
			goto done;
		{
			ferry_buf full = FERRY_BUF_INIT;

			if ((error = under(&full, s, MIRROR_CERT)) >= 0)
				error = ferry_fs_write_atomic(full.ptr, cert.ptr, cert.size, 0644);
			ferry_buf_dispose(&full);
			if (error < 0)
				goto done;
		}
		ferry_buf_clear(&have);
		if ((error = ferry_site_tls_names(&have, cert.ptr)) < 0 ||
		    (error = report(s, MIRROR_CERT, "the mirror's certificate", FERRY_SITE_WROTE,
				    "names %s; its key: " MIRROR_KEY " (0640, group of the "
				    "service user)", have.ptr)) < 0)
			goto done;
		ferry_buf_clear(&cert);
		if ((error = ferry_buf_puts(&cert, have.ptr)) < 0)
			goto done;
	} else {
		goto done;
	}
	s->r->names = ferry_buf_detach(&cert);
done:
	ferry_buf_dispose(&ca);
	ferry_site_tls_wipe(&cakey);
	ferry_buf_dispose(&cert);
	ferry_site_tls_wipe(&key);
	ferry_buf_dispose(&have);
	return error;
}

/* ---- read credentials ------------------------------------------------------- */

/*
 * The mirror's Basic auth (--htpasswd): one user, "pull", with a random
 * 192-bit password. Its argon2id hash uses libsodium's smallest cost: the
 * password is a random key, not a word to guess, and the mirror checks it
 * on every request. The clients' copy is a containers-auth.json(5) file.
 */
static int make_credentials(site *s)
{
	unsigned char raw[24];
	char pass[sodium_base64_ENCODED_LEN(24, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char hash[crypto_pwhash_STRBYTES];
	char b64[256];
	ferry_buf line = FERRY_BUF_INIT, userpass = FERRY_BUF_INIT, json = FERRY_BUF_INIT;
	ferry_buf full = FERRY_BUF_INIT;
	ferry_site_state st;
	int error;

	if ((error = under(&full, s, HTPASSWD)) < 0)
		goto done;
	if (ferry_fs_exists(full.ptr)) {
		error = report(s, HTPASSWD, "the mirror's read credentials", FERRY_SITE_UNCHANGED,
			       "clients' copy: " AUTH_JSON);
		goto done;
	}
	if (sodium_init() < 0) {
		error = ferry_error_set(FERRY_ERROR, "cannot initialise libsodium");
		goto done;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(pass, sizeof(pass), raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (crypto_pwhash_str_alg(hash, pass, strlen(pass), crypto_pwhash_OPSLIMIT_MIN,
				  crypto_pwhash_MEMLIMIT_MIN, crypto_pwhash_ALG_ARGON2ID13)) {
		error = ferry_error_set(FERRY_ENOMEM, "cannot hash the mirror's password");
		goto done;
	}
	if ((error = ferry_buf_printf(&userpass, PULL_USER ":%s", pass)) < 0)
		goto done;
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)userpass.ptr, userpass.size,
			  sodium_base64_VARIANT_ORIGINAL);
	if ((error = ferry_buf_printf(&json, "{\n  \"auths\": {\n    \"%s\": {\n"
				      "      \"auth\": \"%s\"\n    }\n  }\n}\n",
				      s->mirror, b64)) < 0 ||
	    (error = ferry_buf_printf(&line, PULL_USER ":%s\n", hash)) < 0 ||
	    (error = put_file(&st, s, AUTH_JSON, json.ptr, json.size, 0600, 0, KEEP)) < 0 ||
	    (error = put_file(&st, s, HTPASSWD, line.ptr, line.size, 0640, 1, KEEP)) < 0 ||
	    (error = report(s, HTPASSWD, "the mirror's read credentials", FERRY_SITE_WROTE,
			    "user '" PULL_USER "'; clients' copy (containers-auth.json): "
			    AUTH_JSON " (0600)")) < 0)
		goto done;
done:
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(pass, sizeof(pass));
	sodium_memzero(b64, sizeof(b64));
	ferry_site_tls_wipe(&userpass);
	ferry_site_tls_wipe(&json);
	ferry_buf_dispose(&line);
	ferry_buf_dispose(&full);
	return error;
}

/* ---- the mirror's service settings ------------------------------------------ */

static int mirror_settings(site *s)
{
	ferry_buf env = FERRY_BUF_INIT;
	int error;

	if ((error = ferry_buf_printf(&env, MARK ": the mirror's settings for the site,\n"
		"# read by ferry-mirror.service after mirror.env (" DROP_IN "),\n"
		"# so what is here wins. Options: ferry-mirror(1).\n"
		"FERRY_STORE=%s\nFERRY_MIRROR_LISTEN=%s\n"
		"FERRY_MIRROR_OPTIONS=--access-log - --tls-cert " MIRROR_CERT " --tls-key "
		MIRROR_KEY " --htpasswd " HTPASSWD "\n",
		s->store, s->listen)) < 0 ||
	    (error = put_reported(s, MIRROR_ENV, "the mirror's settings (TLS, credentials)",
				  env.ptr, 0644, 0, MANAGED)) < 0 ||
	    (error = put_reported(s, DROP_IN, "ferry-mirror.service reads them",
				  MARK "\n[Service]\nEnvironmentFile=" MIRROR_ENV "\n", 0644, 0,
				  MANAGED)) < 0)
		goto done;
done:
	ferry_buf_dispose(&env);
	return error;
}

/* ---- node configuration ------------------------------------------------------- */

static int node_config(site *s)
{
	ferry_mirror_node_options o = FERRY_MIRROR_NODE_OPTIONS_INIT;
	ferry_buf text = FERRY_BUF_INIT, path = FERRY_BUF_INIT, ca = FERRY_BUF_INIT;
	ferry_buf note = FERRY_BUF_INIT;
	size_t i;
	int error;

	o.mirror = s->mirror;
	o.ca = CA_CERT;
	o.registries = &s->registries;
	if ((error = ferry_buf_printf(&note, MARK ": pull through the site's mirror\n"
				      "# (its CA: /etc/containers/certs.d/%s/ca.crt, " CA_CERT
				      ";\n# its credentials: --authfile " AUTH_JSON ").",
				      s->mirror)) < 0)
		goto done;
	o.comment = note.ptr;
	if ((error = ferry_mirror_node_registries_conf(&text, &o)) < 0 ||
	    (error = put_reported(s, REGISTRIES_CONF, "podman and CRI-O pull from the mirror",
				  text.ptr, 0644, 0, MANAGED)) < 0)
		goto done;

	/* Podman, CRI-O and skopeo trust the CA for the mirror's host. */
	if ((error = read_under(&ca, s, CA_CERT)) < 0 ||
	    (error = ferry_buf_printf(&path, "/etc/containers/certs.d/%s/ca.crt",
				      s->mirror)) < 0 ||
	    (error = put_reported(s, path.ptr, "podman and CRI-O trust the site's CA", ca.ptr,
				  0644, 0, KEEP)) < 0)
		goto done;

	/* containerd: one hosts.toml for the mirror itself, one per registry
	 * name, each sending pulls to the mirror's path for that name. */
	for (i = 0; i <= s->registries.n; i++) {
		const char *name = i ? s->registries.v[i - 1] : NULL;

		ferry_buf_clear(&text);
		ferry_buf_clear(&path);
		if ((error = ferry_buf_printf(&path, "/etc/containerd/certs.d/%s/hosts.toml",
					      name ? name : s->mirror)) < 0 ||
		    (error = ferry_mirror_node_hosts_toml(&text, &o, name)) < 0 ||
		    (error = put_reported(s, path.ptr, name ? "containerd pulls it from the mirror"
					  : "containerd pulls from the mirror", text.ptr,
					  0644, 0, MANAGED)) < 0)
			goto done;
	}
done:
	ferry_buf_dispose(&text);
	ferry_buf_dispose(&path);
	ferry_buf_dispose(&ca);
	ferry_buf_dispose(&note);
	return error;
}

/* ---- defaults and units ------------------------------------------------------- */

/* The shipped default with the store's path where it names the default. */
static int default_text(ferry_buf *out, const site *s, const char *text)
{
	const char *line = "store: " FERRY_STORE_DEFAULT "\n";
	const char *at = strstr(text, line);

	if (!at || !strcmp(s->store, FERRY_STORE_DEFAULT))
		return ferry_buf_puts(out, text);
	return ferry_buf_printf(out, "%.*sstore: %s\n%s", (int)(at - text), text, s->store,
				at + strlen(line));
}

static int write_defaults(site *s)
{
	ferry_buf text = FERRY_BUF_INIT;
	size_t i;
	int error = 0;

	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]) && !error; i++) {
		ferry_buf_clear(&text);
		if ((error = default_text(&text, s, defaults[i].text)) >= 0)
			error = put_reported(s, defaults[i].path, defaults[i].what, text.ptr, 0644,
					     0, KEEP);
	}
	ferry_buf_dispose(&text);
	return error;
}

/* Run argv and wait; 0 when it exits 0. */
static int run(char *const argv[])
{
	pid_t pid;
	int status, rc;

	if ((rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ)) != 0) {
		errno = rc;
		return ferry_error_set_errno(FERRY_EIO, "cannot run %s", argv[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return ferry_error_set_errno(FERRY_EIO, "cannot wait for %s", argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return ferry_error_set(FERRY_ERROR, "'%s %s %s %s' failed", argv[0], argv[1],
				       argv[2], argv[3]);
	return 0;
}

static int enable_units(site *s)
{
	ferry_buf wants = FERRY_BUF_INIT, run_dir = FERRY_BUF_INIT;
	size_t i;
	int error = 0, systemd;

	if ((error = under(&run_dir, s, "/run/systemd/system")) < 0)
		goto done;
	systemd = !*s->root && s->o->enable_units && ferry_fs_exists(run_dir.ptr);
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && !error; i++) {
		ferry_buf_clear(&wants);
		if ((error = ferry_buf_printf(&wants, "%s/etc/systemd/system/multi-user.target."
					      "wants/%s", s->root, units[i])) < 0)
			break;
		if (ferry_fs_exists(wants.ptr)) {
			error = report(s, units[i], "enabled", FERRY_SITE_UNCHANGED, NULL);
		} else if (systemd) {
			char prog[] = "systemctl", verb[] = "enable", now[] = "--now";
			char *argv[] = { prog, verb, now, (char *)units[i], NULL };

			if ((error = run(argv)) >= 0)
				error = report(s, units[i], "enabled and started", FERRY_SITE_WROTE,
					       NULL);
		} else if ((error = report(s, units[i], "to enable", FERRY_SITE_TODO,
					   "systemd does not run this root")) >= 0) {
			error = *s->root ?
				next_step(s, "systemctl --root=%s enable %s", s->root, units[i]) :
				next_step(s, "systemctl enable --now %s", units[i]);
		}
	}
done:
	ferry_buf_dispose(&wants);
	ferry_buf_dispose(&run_dir);
	return error;
}

/* ---- the whole ---------------------------------------------------------------- */

/*
 * What an earlier run chose, for options not given again: the mirror's
 * address from mirror-site.env, its name from its certificate. Without
 * them a second run would move the mirror to the defaults.
 */
static int earlier_choices(site *s, ferry_buf *name)
{
	ferry_buf text = FERRY_BUF_INIT;
	const char *at, *key = "\nFERRY_MIRROR_LISTEN=";
	int error = 0;

	if (!s->o->listen && read_under(&text, s, MIRROR_ENV) >= 0 &&
	    !strncmp(text.ptr, MARK, strlen(MARK)) && (at = strstr(text.ptr, key))) {
		at += strlen(key);
		if (!(s->listen = strndup(at, strcspn(at, "\n"))))
			error = ferry_error_oom();
	}
	ferry_buf_clear(&text);
	if (!error && !s->o->nnames && read_under(&text, s, MIRROR_CERT) >= 0)
		error = ferry_site_tls_first_name(name, text.ptr);
	ferry_buf_dispose(&text);
	ferry_error_clear();
	return error == FERRY_ENOTFOUND ? 0 : error;
}

static int mirror_address(site *s, const char *first_name)
{
	const char *listen = s->listen;
	const char *colon = strrchr(listen, ':');
	ferry_buf b = FERRY_BUF_INIT;
	int error;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return ferry_error_set(FERRY_EINVALID, "invalid mirror address '%s' "
				       "(ADDR:PORT)", listen);
	if ((error = ferry_buf_printf(&b, "%s:%s", first_name, colon + 1)) < 0)
		return error;
	s->mirror = ferry_buf_detach(&b);
	return (s->r->mirror = strdup(s->mirror)) ? 0 : ferry_error_oom();
}

int ferry_site_init(ferry_site_report *out, const ferry_site_options *opts)
{
	site s;
	char host[256];
	const char *fallback[2];
	ferry_buf earlier = FERRY_BUF_INIT;
	const char *const *names = opts->names;
	size_t nnames = opts->nnames, i;
	int error;

	memset(&s, 0, sizeof(s));
	s.o = opts;
	s.r = out;
	s.root = opts->root && strcmp(opts->root, "/") ? opts->root : "";
	s.store = opts->store ? opts->store : FERRY_STORE_DEFAULT;
	if (s.store[0] != '/')
		return ferry_error_set(FERRY_EINVALID, "the store '%s' is not an absolute path",
				       s.store);
	if ((error = earlier_choices(&s, &earlier)) < 0)
		goto done;
	if (!s.listen && !(s.listen = strdup(opts->listen ? opts->listen : "0.0.0.0:5000"))) {
		error = ferry_error_oom();
		goto done;
	}
	if (!nnames && earlier.size) {
		/* The certificate exists and keeps its names. */
		fallback[0] = earlier.ptr;
		names = fallback;
		nnames = 1;
	} else if (!nnames) {
		if (gethostname(host, sizeof(host)) < 0) {
			error = ferry_error_set_errno(FERRY_EIO, "cannot read the host name");
			goto done;
		}
		host[sizeof(host) - 1] = '\0';
		fallback[0] = host;
		fallback[1] = "127.0.0.1";
		names = fallback;
		nnames = 2;
	}
	for (i = 0; i < opts->nregistries; i++)
		if ((error = ferry_mirror_node_registry_add(&s.registries, opts->registries[i],
							    strlen(opts->registries[i]))) < 0)
			goto done;
	if ((error = mirror_address(&s, names[0])) < 0 ||
	    (error = find_user(&s)) < 0 ||
	    (error = make_store(&s)) < 0)
		goto done;
	ferry_mirror_node_registries_sort(&s.registries);
	if ((error = make_tls(&s, names, nnames)) < 0 ||
	    (error = make_credentials(&s)) < 0 ||
	    (error = mirror_settings(&s)) < 0 ||
	    (error = node_config(&s)) < 0 ||
	    (error = write_defaults(&s)) < 0 ||
	    (error = enable_units(&s)) < 0)
		goto done;
	error = next_step(&s, "import the first bundle as the service user: sudo -u %s "
			  "ferry import --store %s BUNDLE.tar",
			  opts->user ? opts->user : "ferry", s.store);
	if (!error)
		error = next_step(&s, "check the mirror: curl --cacert " CA_CERT " -u "
				  PULL_USER ":PASSWORD https://%s/readyz (the password is in "
				  AUTH_JSON ")", s.mirror);
	if (!error)
		error = next_step(&s, "other nodes: copy " CA_CERT ", " REGISTRIES_CONF ", "
				  "/etc/containers/certs.d/%s/ and /etc/containerd/certs.d/ to "
				  "them, and " AUTH_JSON " where they pull", s.mirror);
done:
	ferry_strv_dispose(&s.registries);
	ferry_buf_dispose(&earlier);
	free(s.mirror);
	free(s.listen);
	return error;
}
