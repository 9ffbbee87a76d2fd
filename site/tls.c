/*
 * A local certificate authority and the mirror's server certificate, made
 * with OpenSSL's library (EVP keys, X509) so that a site needs no openssl
 * command and no outside CA: the CA signs one certificate whose subject
 * alternative names are the mirror's host names and addresses, and nodes
 * trust the CA's certificate. Keys are P-256, which every TLS stack the
 * container runtimes use accepts.
 */
#include <arpa/inet.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ferry/errors.h"
#include "tls.h"
#include "banned.h"

static int ssl_error(const char *what)
{
	return ferry_error_set(FERRY_EINVALID, "cannot %s (OpenSSL)", what);
}

static EVP_PKEY *new_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

/* Append what `bio` holds to `out`. */
static int bio_take(ferry_buf *out, BIO *bio)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);

	return n < 0 ? ssl_error("read PEM") : ferry_buf_put(out, p, (size_t)n);
}

static int put_pem(ferry_buf *cert, ferry_buf *key, X509 *x, EVP_PKEY *pk)
{
	BIO *c = BIO_new(BIO_s_mem()), *k = BIO_new(BIO_s_secmem());
	int error;

	if (!c || !k || !PEM_write_bio_X509(c, x) ||
	    !PEM_write_bio_PrivateKey(k, pk, NULL, NULL, 0, NULL, NULL))
		error = ssl_error("write PEM");
	else if ((error = bio_take(cert, c)) >= 0)
		error = bio_take(key, k);
	BIO_free(c);
	BIO_free_all(k);
	return error;
}

/* A certificate's common fields: a random positive serial, validity from
 * now for `days`, the subject's common name and its public key. */
static int start_cert(X509 *x, EVP_PKEY *pk, const char *cn, int days)
{
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	X509_NAME *name = X509_get_subject_name(x);
	int ok;

	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return ssl_error("draw a serial number");
	serial[0] &= 0x7f;
	serial[0] |= 0x40;
	ok = (bn = BN_bin2bn(serial, sizeof(serial), NULL)) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	     X509_set_version(x, 2) &&
	     X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
	     X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
					(const unsigned char *)"ferry site", -1, -1, 0) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)cn, -1, -1, 0) &&
	     X509_set_pubkey(x, pk);
	BN_free(bn);
	return ok ? 0 : ssl_error("fill in a certificate");
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);

	X509_EXTENSION_free(e);
	return ok ? 0 : ferry_error_set(FERRY_EINVALID, "cannot add extension '%s'", value);
}

int ferry_site_tls_make_ca(ferry_buf *cert, ferry_buf *key, const char *cn)
{
	EVP_PKEY *pk = new_key();
	X509 *x = X509_new();
	X509V3_CTX ctx;
	int error;

	if (!pk || !x) {
		error = ssl_error("make a key");
		goto done;
	}
	if ((error = start_cert(x, pk, cn, FERRY_SITE_CA_DAYS)) < 0 ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)))
		goto done;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if ((error = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) < 0 ||
	    (error = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign")) < 0 ||
	    (error = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) < 0)
		goto done;
	if (!X509_sign(x, pk, EVP_sha256())) {
		error = ssl_error("sign the CA certificate");
		goto done;
	}
	error = put_pem(cert, key, x, pk);
done:
	X509_free(x);
	EVP_PKEY_free(pk);
	return error;
}

/* "DNS:a,IP:1.2.3.4" for names. */
static int san_text(ferry_buf *out, const char *const *names, size_t n)
{
	unsigned char addr[16];
	size_t i;
	int error = 0;

	for (i = 0; i < n && !error; i++) {
		int ip = inet_pton(AF_INET, names[i], addr) == 1 ||
			 inet_pton(AF_INET6, names[i], addr) == 1;

		if (!*names[i] || strchr(names[i], ','))
			return ferry_error_set(FERRY_EINVALID, "invalid name '%s'", names[i]);
		error = ferry_buf_printf(out, "%s%s:%s", i ? "," : "", ip ? "IP" : "DNS",
					 names[i]);
	}
	return error;
}

int ferry_site_tls_make_server(ferry_buf *cert, ferry_buf *key, const char *ca_cert,
			       const char *ca_key, const char *const *names, size_t nnames)
{
	BIO *cb = NULL, *kb = NULL;
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cak = NULL, *pk = NULL;
	ferry_buf san = FERRY_BUF_INIT;
	X509V3_CTX ctx;
	int error;

	if (!nnames)
		return ferry_error_set(FERRY_EINVALID, "a server certificate needs a name");
	cb = BIO_new_mem_buf(ca_cert, -1);
	kb = BIO_new_mem_buf(ca_key, -1);
	x = X509_new();
	pk = new_key();
	if (!cb || !kb || !x || !pk) {
		error = ssl_error("make a key");
		goto done;
	}
	if (!(ca = PEM_read_bio_X509(cb, NULL, NULL, NULL)) ||
	    !(cak = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)) ||
	    X509_check_private_key(ca, cak) != 1) {
		error = ferry_error_set(FERRY_EINVALID, "the CA's certificate and key do not "
					"belong together or cannot be read");
		goto done;
	}
	if ((error = start_cert(x, pk, names[0], FERRY_SITE_SERVER_DAYS)) < 0 ||
	    (error = san_text(&san, names, nnames)) < 0)
		goto done;
	if (!X509_set_issuer_name(x, X509_get_subject_name(ca))) {
		error = ssl_error("set the issuer");
		goto done;
	}
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	if ((error = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")) < 0 ||
	    (error = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature")) < 0 ||
	    (error = add_ext(x, &ctx, NID_ext_key_usage, "serverAuth")) < 0 ||
	    (error = add_ext(x, &ctx, NID_subject_key_identifier, "hash")) < 0 ||
	    (error = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always")) < 0 ||
	    (error = add_ext(x, &ctx, NID_subject_alt_name, san.ptr)) < 0)
		goto done;
	if (!X509_sign(x, cak, EVP_sha256())) {
		error = ssl_error("sign the server certificate");
		goto done;
	}
	error = put_pem(cert, key, x, pk);
done:
	ferry_buf_dispose(&san);
	BIO_free(cb);
	BIO_free(kb);
	X509_free(ca);
	X509_free(x);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(pk);
	return error;
}

int ferry_site_tls_names(ferry_buf *out, const char *cert)
{
	BIO *cb = BIO_new_mem_buf(cert, -1), *mb = BIO_new(BIO_s_mem());
	X509 *x = NULL;
	GENERAL_NAMES *gens = NULL;
	int error = 0, i;

	if (!cb || !mb || !(x = PEM_read_bio_X509(cb, NULL, NULL, NULL))) {
		error = ferry_error_set(FERRY_EINVALID, "cannot read a certificate");
		goto done;
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens) && !error; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (i)
			BIO_puts(mb, ", ");
		GENERAL_NAME_print(mb, (GENERAL_NAME *)g);
	}
	error = bio_take(out, mb);
done:
	GENERAL_NAMES_free(gens);
	X509_free(x);
	BIO_free(cb);
	BIO_free(mb);
	return error;
}

int ferry_site_tls_first_name(ferry_buf *out, const char *cert)
{
	BIO *cb = BIO_new_mem_buf(cert, -1);
	X509 *x = NULL;
	GENERAL_NAMES *gens = NULL;
	const GENERAL_NAME *g;
	char ip[64];
	int error;

	if (!cb || !(x = PEM_read_bio_X509(cb, NULL, NULL, NULL))) {
		error = ferry_error_set(FERRY_EINVALID, "cannot read a certificate");
		goto done;
	}
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (!gens || !sk_GENERAL_NAME_num(gens)) {
		error = ferry_error_set(FERRY_ENOTFOUND, "the certificate has no names");
		goto done;
	}
	g = sk_GENERAL_NAME_value(gens, 0);
	if (g->type == GEN_DNS) {
		error = ferry_buf_put(out, ASN1_STRING_get0_data(g->d.dNSName),
				      (size_t)ASN1_STRING_length(g->d.dNSName));
	} else if (g->type == GEN_IPADD &&
		   inet_ntop(ASN1_STRING_length(g->d.iPAddress) == 4 ? AF_INET : AF_INET6,
			     ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof(ip))) {
		error = ferry_buf_puts(out, ip);
	} else {
		error = ferry_error_set(FERRY_EINVALID, "the certificate's first name is "
					"neither a host name nor an address");
	}
done:
	GENERAL_NAMES_free(gens);
	X509_free(x);
	BIO_free(cb);
	return error;
}

void ferry_site_tls_wipe(ferry_buf *b)
{
	if (b->ptr)
		OPENSSL_cleanse(b->ptr, b->asize);
	ferry_buf_dispose(b);
}
