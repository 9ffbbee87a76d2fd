/*
 * Strict object checks (see git_check.h and docs/git-safety.md). The rules
 * follow git's fsck in --strict mode (where warnings are errors) and the
 * path rules git applies before it writes a file into a work tree
 * (verify_path, is_ntfs_dotgit, is_hfs_dotgit), re-implemented here over
 * raw object bytes so that export needs no git binary.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "git_check.h"
#include "util.h"
#include "banned.h"

/* ---- names ------------------------------------------------------------ */

/*
 * HFS+ ignores these code points when it compares names, so ".g\u200cit"
 * opens ".git" there. Returns the next significant code point (ASCII
 * folded to lower case), advancing *p; 0 at the end; -1 on bad UTF-8.
 */
static long next_hfs_char(const unsigned char **p)
{
	for (;;) {
		const unsigned char *s = *p;
		long cp;
		int n;

		if (!*s)
			return 0;
		if (*s < 0x80) {
			*p = s + 1;
			return tolower(*s);
		}
		if ((*s & 0xe0) == 0xc0) { cp = *s & 0x1f; n = 1; }
		else if ((*s & 0xf0) == 0xe0) { cp = *s & 0x0f; n = 2; }
		else if ((*s & 0xf8) == 0xf0) { cp = *s & 0x07; n = 3; }
		else
			return -1;
		s++;
		while (n--) {
			if ((*s & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (*s++ & 0x3f);
		}
		*p = s;
		if ((cp >= 0x200c && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff)
			continue;
		return cp;
	}
}

/* ".<word>" on HFS+: case-insensitive, ignorable code points skipped. */
static int is_hfs_dot(const char *name, const char *word)
{
	const unsigned char *p = (const unsigned char *)name;

	if (next_hfs_char(&p) != '.')
		return 0;
	for (; *word; word++)
		if (next_hfs_char(&p) != *word)
			return 0;
	return next_hfs_char(&p) == 0;
}

/* The rest of an NTFS name that NTFS ignores: trailing spaces and dots, or
 * an alternate data stream (":..."). */
static int ntfs_tail_ignored(const char *s)
{
	for (;; s++) {
		if (!*s || *s == ':' || *s == '\\')
			return 1;
		if (*s != ' ' && *s != '.')
			return 0;
	}
}

/*
 * ".<word>" as NTFS sees it: case-insensitive, with ignored trailing
 * characters, or as an 8.3 short name: the first six characters of word
 * followed by ~1..~4, or `shortprefix` (the name's hash-based short form)
 * followed by ~ and digits.
 */
static int is_ntfs_dot(const char *name, const char *word, const char *shortprefix)
{
	size_t wl = strlen(word), i;
	int tilde = 0;

	if (name[0] == '.' && !strncasecmp(name + 1, word, wl))
		return ntfs_tail_ignored(name + 1 + wl);
	if (!strncasecmp(name, word, 6) && name[6] == '~' && name[7] >= '1' &&
	    name[7] <= '4')
		return ntfs_tail_ignored(name + 8);
	for (i = 0; i < 8; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!c)
			return 0;
		if (tilde) {
			if (c < '0' || c > '9')
				return 0;
		} else if (c == '~') {
			i++;
			if (name[i] < '1' || name[i] > '9')
				return 0;
			tilde = 1;
		} else if (i >= 6 || c >= 0x80 || tolower(c) != shortprefix[i]) {
			return 0;
		}
	}
	return ntfs_tail_ignored(name + 8);
}

/* .git on NTFS: ".git" + ignored tail, or the short name "git~1". */
static int is_ntfs_dotgit(const char *name)
{
	if (name[0] == '.' && !strncasecmp(name + 1, "git", 3))
		return ntfs_tail_ignored(name + 4);
	if (!strncasecmp(name, "git~1", 5))
		return ntfs_tail_ignored(name + 5);
	return 0;
}

/*
 * Every name the checks above match starts with '.', with 'g' or '~' (NTFS
 * short names: "gitmod~1", "~1234567") or with a byte of a multi-byte
 * character (an ignorable code point before the dot, on HFS+): most names
 * of a tree are passed over here.
 */
static int may_be_dot_name(const char *name)
{
	unsigned char c = (unsigned char)name[0];

	return c == '.' || c == 'g' || c == 'G' || c == '~' || c >= 0x80;
}

int ferry_git_is_gitmodules(const char *name)
{
	return may_be_dot_name(name) &&
	       (is_hfs_dot(name, "gitmodules") || is_ntfs_dot(name, "gitmodules", "gi7eba"));
}

int ferry_git_is_gitattributes(const char *name)
{
	return may_be_dot_name(name) && (is_hfs_dot(name, "gitattributes") ||
					 is_ntfs_dot(name, "gitattributes", "gi7d29"));
}

const char *ferry_git_check_entry_name(const char *name, size_t len, unsigned mode)
{
	if (len == 0)
		return "empty name";
	if (memchr(name, '/', len))
		return "name contains '/'";
	if (!strcmp(name, "."))
		return "name is '.'";
	if (!strcmp(name, ".."))
		return "name is '..'";
	if (!may_be_dot_name(name))
		return NULL;
	if (!strcasecmp(name, ".git"))
		return "name is '.git'";
	if (is_ntfs_dotgit(name))
		return "name is '.git' on NTFS";
	if (is_hfs_dot(name, "git"))
		return "name is '.git' on HFS+";
	if (mode == FERRY_GIT_MODE_LINK && ferry_git_is_gitmodules(name))
		return ".gitmodules is a symbolic link";
	return NULL;
}

/* ---- trees ------------------------------------------------------------- */

static int parse_entry(const unsigned char **pp, const unsigned char *end,
		       ferry_git_tree_entry *e, int *zero_padded)
{
	const unsigned char *p = *pp, *nul;
	unsigned mode = 0;
	int digits = 0;

	*zero_padded = (p < end && *p == '0');
	while (p < end && *p != ' ') {
		if (*p < '0' || *p > '7' || ++digits > 7)
			return -1;
		mode = (mode << 3) | (unsigned)(*p++ - '0');
	}
	if (p >= end || digits == 0)
		return -1;
	p++;
	if (!(nul = memchr(p, '\0', (size_t)(end - p))) ||
	    (size_t)(end - nul - 1) < FERRY_GIT_RAWSZ)
		return -1;
	e->name = (const char *)p;
	e->namelen = (size_t)(nul - p);
	e->mode = mode;
	e->id = nul + 1;
	*pp = nul + 1 + FERRY_GIT_RAWSZ;
	return 0;
}

int ferry_git_tree_parse(const void *data, size_t len,
			 int (*fn)(const ferry_git_tree_entry *e, void *payload),
			 void *payload)
{
	const unsigned char *p = data, *end = p + len;
	ferry_git_tree_entry e;
	int zp, error;

	while (p < end) {
		if (parse_entry(&p, end, &e, &zp) < 0)
			return 1;
		if (fn && (error = fn(&e, payload)) != 0)
			return error;
	}
	return 0;
}

static int is_dir(unsigned mode)
{
	return mode == FERRY_GIT_MODE_TREE;
}

/* git's tree order: names compare as bytes, a tree's name as if it ended
 * in '/'. */
static int entry_cmp(const ferry_git_tree_entry *a, const ferry_git_tree_entry *b)
{
	size_t n = a->namelen < b->namelen ? a->namelen : b->namelen;
	int c = memcmp(a->name, b->name, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = a->namelen > n ? (unsigned char)a->name[n] : is_dir(a->mode) ? '/' : 0;
	cb = b->namelen > n ? (unsigned char)b->name[n] : is_dir(b->mode) ? '/' : 0;
	return (int)ca - (int)cb;
}

int ferry_git_tree_walk(const void *data, size_t len, const char **why,
			const char **entry,
			int (*fn)(const ferry_git_tree_entry *e, void *payload),
			void *payload)
{
	static const unsigned char null_id[FERRY_GIT_RAWSZ];
	const unsigned char *p = data, *end = p + len, *start = p;
	ferry_git_tree_entry e, prev = { NULL, 0, 0, NULL };
	const char *reason;
	int zp, have_prev = 0, error;

	*why = NULL;
	*entry = NULL;
	while (p < end) {
		if (parse_entry(&p, end, &e, &zp) < 0) {
			*why = "malformed tree";
			return 1;
		}
		*entry = e.name;
		if (zp) {
			*why = "zero-padded file mode";
			return 1;
		}
		if (e.mode != FERRY_GIT_MODE_TREE && e.mode != FERRY_GIT_MODE_BLOB &&
		    e.mode != FERRY_GIT_MODE_EXEC && e.mode != FERRY_GIT_MODE_LINK &&
		    e.mode != FERRY_GIT_MODE_GITLINK) {
			*why = "bad file mode";
			return 1;
		}
		if (!memcmp(e.id, null_id, sizeof(null_id))) {
			*why = "null object id";
			return 1;
		}
		if ((reason = ferry_git_check_entry_name(e.name, e.namelen, e.mode))) {
			*why = reason;
			return 1;
		}
		if (have_prev) {
			int c = entry_cmp(&prev, &e);

			if (prev.namelen == e.namelen && !memcmp(prev.name, e.name, e.namelen)) {
				*why = "duplicate entry";
				return 1;
			}
			if (c > 0) {
				*why = "entries not sorted";
				return 1;
			}
		}
		if (is_dir(e.mode) && have_prev && prev.namelen > e.namelen &&
		    !memcmp(prev.name, e.name, e.namelen)) {
			/* A file "x" sorts before "x-y" and the tree "x/" after
			 * it: look back over names that start with "x". */
			const unsigned char *q = start;
			ferry_git_tree_entry o;

			while (q < p - (e.namelen + 1 + FERRY_GIT_RAWSZ)) {
				if (parse_entry(&q, end, &o, &zp) < 0)
					break;
				if (o.namelen == e.namelen && !is_dir(o.mode) &&
				    !memcmp(o.name, e.name, e.namelen)) {
					*why = "duplicate entry";
					return 1;
				}
			}
		}
		if (fn && (error = fn(&e, payload)) != 0)
			return error;
		prev = e;
		have_prev = 1;
	}
	*entry = NULL;
	return 0;
}

/* ---- commits and tags ----------------------------------------------- */

/* The header (up to the blank line) has no NUL and is terminated. */
static const char *check_header(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return "NUL byte in the object header";
		if (buf[i] == '\n' && i + 1 < len && buf[i + 1] == '\n')
			return NULL;
	}
	if (len && buf[len - 1] == '\n')
		return NULL;
	return "unterminated object header";
}

static int hex_id(const char *p, const char *end, char term)
{
	int i;

	if (end - p < FERRY_GIT_HEXSZ + 1)
		return 0;
	for (i = 0; i < FERRY_GIT_HEXSZ; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return p[FERRY_GIT_HEXSZ] == term;
}

static int starts(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) >= n && !memcmp(p, word, n);
}

/* "Name <email> 1234567890 +0100\n" as git's fsck_ident wants it. */
static const char *check_ident(const char **pp, const char *end)
{
	const char *p = *pp, *nl = memchr(p, '\n', (size_t)(end - p)), *q;

	if (!nl)
		return "unterminated identity";
	if (*p == '<')
		return "missing name before email";
	p += strcspn(p, "<>\n");
	if (*p == '>')
		return "bad name";
	if (*p != '<')
		return "missing email";
	if (p[-1] != ' ')
		return "missing space before email";
	p++;
	p += strcspn(p, "<>\n");
	if (*p != '>')
		return "bad email";
	p++;
	if (*p != ' ')
		return "missing space before date";
	p++;
	if (*p == '0' && p[1] != ' ')
		return "zero-padded date";
	for (q = p; q < nl && *q >= '0' && *q <= '9'; q++)
		;
	if (q == p || q >= nl || *q != ' ')
		return "bad date";
	if (q - p > 19)
		return "date overflows";
	q++;
	if ((*q != '+' && *q != '-') || nl - q != 5 || !isdigit((unsigned char)q[1]) ||
	    !isdigit((unsigned char)q[2]) || !isdigit((unsigned char)q[3]) ||
	    !isdigit((unsigned char)q[4]))
		return "bad time zone";
	*pp = nl + 1;
	return NULL;
}

const char *ferry_git_check_commit(const void *data, size_t len, char *tree_hex)
{
	const char *p = data, *end = p + len, *why;

	if ((why = check_header(p, len)))
		return why;
	if (!starts(p, end, "tree "))
		return "missing tree";
	p += 5;
	if (!hex_id(p, end, '\n'))
		return "bad tree id";
	if (tree_hex) {
		memcpy(tree_hex, p, FERRY_GIT_HEXSZ);
		tree_hex[FERRY_GIT_HEXSZ] = '\0';
	}
	p += FERRY_GIT_HEXSZ + 1;
	while (starts(p, end, "parent ")) {
		p += 7;
		if (!hex_id(p, end, '\n'))
			return "bad parent id";
		p += FERRY_GIT_HEXSZ + 1;
	}
	if (!starts(p, end, "author "))
		return "missing author";
	p += 7;
	if ((why = check_ident(&p, end)))
		return why;
	if (starts(p, end, "author "))
		return "multiple authors";
	if (!starts(p, end, "committer "))
		return "missing committer";
	p += 10;
	return check_ident(&p, end);
}

const char *ferry_git_check_tag(const void *data, size_t len)
{
	return ferry_git_check_tag_target(data, len, NULL, NULL);
}

const char *ferry_git_check_tag_target(const void *data, size_t len, char *target_hex,
				       char *target_type)
{
	const char *p = data, *end = p + len, *nl, *why, *object, *type;

	if ((why = check_header(p, len)))
		return why;
	if (!starts(p, end, "object "))
		return "missing object";
	p += 7;
	if (!hex_id(p, end, '\n'))
		return "bad object id";
	object = p;
	p += FERRY_GIT_HEXSZ + 1;
	if (!starts(p, end, "type "))
		return "missing type";
	p += 5;
	if (!(nl = memchr(p, '\n', (size_t)(end - p))))
		return "bad type";
	if (!((nl - p == 6 && !memcmp(p, "commit", 6)) || (nl - p == 4 && !memcmp(p, "tree", 4)) ||
	      (nl - p == 4 && !memcmp(p, "blob", 4)) || (nl - p == 3 && !memcmp(p, "tag", 3))))
		return "bad type";
	type = p;
	p = nl + 1;
	if (!starts(p, end, "tag "))
		return "missing tag name";
	p += 4;
	if (!(nl = memchr(p, '\n', (size_t)(end - p))) || nl == p)
		return "bad tag name";
	p = nl + 1;
	if (starts(p, end, "tagger ")) {
		p += 7;
		if ((why = check_ident(&p, end)))
			return why;
	}
	if (target_hex) {
		memcpy(target_hex, object, FERRY_GIT_HEXSZ);
		target_hex[FERRY_GIT_HEXSZ] = '\0';
	}
	if (target_type) {
		size_t n = (size_t)((const char *)memchr(type, '\n', 7) - type);

		memcpy(target_type, type, n);
		target_type[n] = '\0';
	}
	return NULL;
}

/* ---- .gitmodules and .gitattributes ----------------------------------- */

/* A submodule name becomes a path under .git/modules/: no ".." component,
 * with '/' or '\' as separators. */
static int name_escapes(const char *name)
{
	const char *p = name;

	for (;;) {
		size_t n = strcspn(p, "/\\");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

/* Control characters, raw or %-encoded, let a URL smuggle lines into the
 * credential protocol. */
static int url_has_control(const char *url)
{
	const char *p;

	for (p = url; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 1;
		if (*p == '%' && ferry_hex_digit(p[1]) >= 0 && ferry_hex_digit(p[2]) >= 0) {
			int v = ferry_hex_digit(p[1]) * 16 + ferry_hex_digit(p[2]);

			if (v < 0x20 || v == 0x7f)
				return 1;
		}
	}
	return 0;
}

const char *ferry_git_check_gitmodules_entry(const char *name, const char *key,
					     const char *value)
{
	if (!*name)
		return "empty submodule name";
	if (name_escapes(name))
		return "submodule name has a '..' component";
	if (!value)
		return NULL;
	if (!strcmp(key, "url")) {
		if (value[0] == '-')
			return "submodule url starts with '-'";
		if (url_has_control(value))
			return "submodule url contains a control character";
	} else if (!strcmp(key, "path")) {
		if (value[0] == '-')
			return "submodule path starts with '-'";
	} else if (!strcmp(key, "update")) {
		if (value[0] == '!')
			return "submodule update runs a command ('!')";
	}
	return NULL;
}

const char *ferry_git_check_gitattributes(const void *data, size_t len)
{
	const char *p = data, *end = p + len;

	if (len > FERRY_GIT_ATTRIBUTES_MAX_SIZE)
		return ".gitattributes is too large";
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (n > FERRY_GIT_ATTRIBUTES_MAX_LINE)
			return ".gitattributes has a line that is too long";
		p += n + 1;
	}
	return NULL;
}

/* ---- .gitmodules parser --------------------------------------------- */

#define GM_MAX_TOKEN 4096

typedef struct {
	const char *p, *end;
} gm_in;

static int gm_peek(const gm_in *in)
{
	return in->p < in->end ? (unsigned char)*in->p : -1;
}

static void gm_skip_space(gm_in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\r'))
		in->p++;
}

static void gm_skip_line(gm_in *in)
{
	while (in->p < in->end && *in->p != '\n')
		in->p++;
	if (in->p < in->end)
		in->p++;
}

static int gm_put(char *buf, size_t *n, int c)
{
	if (*n + 1 >= GM_MAX_TOKEN)
		return -1;
	buf[(*n)++] = (char)c;
	buf[*n] = '\0';
	return 0;
}

/* "[section]", "[section "sub"]" or "[section.sub]" */
static const char *gm_section(gm_in *in, char *sect, char *sub, int *has_sub)
{
	size_t ns = 0, nb = 0;
	int c;

	sect[0] = sub[0] = '\0';
	*has_sub = 0;
	in->p++;
	while ((c = gm_peek(in)) >= 0 && (isalnum(c) || c == '-' || c == '.')) {
		if (c == '.') {
			/* old-style [section.sub]: the rest is the subsection */
			in->p++;
			*has_sub = 1;
			while ((c = gm_peek(in)) >= 0 && c != ']' && c != '\n') {
				if (gm_put(sub, &nb, tolower(c)) < 0)
					return "section name too long";
				in->p++;
			}
			break;
		}
		if (gm_put(sect, &ns, tolower(c)) < 0)
			return "section name too long";
		in->p++;
	}
	if (ns == 0)
		return "malformed section header";
	gm_skip_space(in);
	if (gm_peek(in) == '"') {
		in->p++;
		*has_sub = 1;
		for (;;) {
			c = gm_peek(in);
			if (c < 0 || c == '\n')
				return "unterminated subsection name";
			in->p++;
			if (c == '"')
				break;
			if (c == '\\') {
				c = gm_peek(in);
				if (c < 0 || c == '\n')
					return "unterminated subsection name";
				in->p++;
			}
			if (c == '\0')
				return "NUL in subsection name";
			if (gm_put(sub, &nb, c) < 0)
				return "subsection name too long";
		}
	}
	if (gm_peek(in) != ']')
		return "malformed section header";
	in->p++;
	return NULL;
}

/* value: quotes, escapes, comments, continuation lines */
static const char *gm_value(gm_in *in, char *val)
{
	size_t n = 0, keep = 0;
	int quoted = 0, c;

	gm_skip_space(in);
	for (;;) {
		c = gm_peek(in);
		if (c < 0 || c == '\n') {
			if (quoted)
				return "unterminated quoted value";
			if (c == '\n')
				in->p++;
			break;
		}
		in->p++;
		if (!quoted && (c == '#' || c == ';')) {
			gm_skip_line(in);
			break;
		}
		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (c == '\\') {
			c = gm_peek(in);
			if (c < 0)
				return "malformed escape";
			in->p++;
			switch (c) {
			case '\n': continue;            /* continuation */
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'b': c = '\b'; break;
			case '\\': case '"': break;
			default: return "malformed escape";
			}
			if (gm_put(val, &n, c) < 0)
				return "value too long";
			keep = n;
			continue;
		}
		if (c == '\0')
			return "NUL in value";
		if (!quoted && (c == ' ' || c == '\t' || c == '\r')) {
			if (n == 0)
				continue;
			if (gm_put(val, &n, c) < 0)
				return "value too long";
			continue;
		}
		if (gm_put(val, &n, c) < 0)
			return "value too long";
		keep = n;
	}
	val[keep] = '\0';   /* drop trailing unquoted blanks */
	return NULL;
}

const char *ferry_git_gitmodules_parse(const void *data, size_t len,
				       int (*fn)(const char *name, const char *key,
						 const char *value, void *payload),
				       void *payload, int *fn_error)
{
	char sect[GM_MAX_TOKEN], sub[GM_MAX_TOKEN], key[GM_MAX_TOKEN],
		val[GM_MAX_TOKEN];
	gm_in in;
	const char *why;
	int has_sub = 0, in_section = 0, c, error;
	size_t n;

	*fn_error = 0;
	if (len > FERRY_GIT_MODULES_MAX_SIZE)
		return ".gitmodules is too large";
	in.p = data;
	in.end = in.p + len;
	if (len >= 3 && !memcmp(in.p, "\xef\xbb\xbf", 3))
		in.p += 3;
	while (in.p < in.end) {
		gm_skip_space(&in);
		c = gm_peek(&in);
		if (c < 0)
			break;
		if (c == '\n') {
			in.p++;
			continue;
		}
		if (c == '#' || c == ';') {
			gm_skip_line(&in);
			continue;
		}
		if (c == '[') {
			if ((why = gm_section(&in, sect, sub, &has_sub)))
				return why;
			in_section = 1;
			continue;
		}
		if (!in_section || !isalpha(c))
			return "malformed line";
		n = 0;
		while ((c = gm_peek(&in)) >= 0 && (isalnum(c) || c == '-')) {
			if (gm_put(key, &n, tolower(c)) < 0)
				return "key too long";
			in.p++;
		}
		gm_skip_space(&in);
		c = gm_peek(&in);
		if (c == '=') {
			in.p++;
			if ((why = gm_value(&in, val)))
				return why;
		} else if (c < 0 || c == '\n' || c == '#' || c == ';') {
			gm_skip_line(&in);
			memcpy(val, "true", 5); /* a bare key is boolean true */
		} else {
			return "malformed line";
		}
		if (!strcmp(sect, "submodule") && has_sub &&
		    (error = fn(sub, key, val, payload)) != 0) {
			*fn_error = error;
			return NULL;
		}
	}
	return NULL;
}

static int special_gitmodules_cb(const char *name, const char *key, const char *value,
				 void *payload)
{
	const char **why = payload;

	*why = ferry_git_check_gitmodules_entry(name, key, value);
	return *why ? 1 : 0;
}

const char *ferry_git_check_special_blob(const char *name, unsigned mode, const void *data,
					 size_t len, char *why_buf, size_t why_size)
{
	const char *why, *fn_why = NULL;
	int fn_error = 0;

	if (mode == FERRY_GIT_MODE_LINK)
		return NULL;
	if (ferry_git_is_gitattributes(name))
		return ferry_git_check_gitattributes(data, len);
	if (!ferry_git_is_gitmodules(name))
		return NULL;
	why = ferry_git_gitmodules_parse(data, len, special_gitmodules_cb, &fn_why, &fn_error);
	if (fn_error)
		why = fn_why;
	if (!why)
		return NULL;
	snprintf(why_buf, why_size, ".gitmodules: %s", why);
	return why_buf;
}
