/* tv-tls.c — self-signed certificate generation (OpenSSL 3 EVP) and PEM loading.
 *
 * Why: WSS needs a certificate from the first start; generating one that clients
 * can pin as their CA file (CA:TRUE, self-signed) makes a fresh install usable
 * without any PKI. Everything crypto goes through OpenSSL; files are written
 * with g_file_set_contents_full (temp file + rename, so never half-written).
 * Thread: main thread at start-up.
 */
#define G_LOG_DOMAIN "tv-tls"

#include "server/tv-tls.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

G_DEFINE_QUARK (tv-server-tls-error-quark, tv_server_tls_error)

/* Sets @error from OpenSSL's error queue (and clears the queue). */
static void
set_ssl_error (GError **error, int code, const char *what)
{
  char buf[256] = "unknown OpenSSL error";
  unsigned long e = ERR_get_error ();
  if (e)
    ERR_error_string_n (e, buf, sizeof buf);
  ERR_clear_error ();
  g_set_error (error, TV_SERVER_TLS_ERROR, code, "%s: %s", what, buf);
}

static gboolean
add_ext (X509 *cert, X509V3_CTX *ctx, int nid, const char *value, GError **error)
{
  X509_EXTENSION *ext = X509V3_EXT_conf_nid (NULL, ctx, nid, value);
  if (!ext) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, OBJ_nid2sn (nid));
    return FALSE;
  }
  int ok = X509_add_ext (cert, ext, -1);
  X509_EXTENSION_free (ext);
  if (!ok) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, OBJ_nid2sn (nid));
    return FALSE;
  }
  return TRUE;
}

/* Returns: (transfer full) the contents of a memory BIO as a NUL-terminated string. */
static char *
bio_to_string (BIO *bio, gsize *len)
{
  char *data = NULL;
  long n = BIO_get_mem_data (bio, &data);
  *len = n > 0 ? (gsize) n : 0;
  return g_strndup (data, *len);
}

/* Generates key + certificate as PEM text. Returns FALSE with @error. */
static gboolean
generate (const char *hostname, char **cert_pem, gsize *cert_len, char **key_pem, gsize *key_len,
          GError **error)
{
  gboolean ok = FALSE;
  EVP_PKEY *pkey = NULL;
  X509 *cert = NULL;
  BIGNUM *serial = NULL;
  BIO *kbio = NULL, *cbio = NULL;
  unsigned char serial_bytes[16];
  X509V3_CTX v3;

  pkey = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
  if (!pkey) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "generating the P-256 key");
    goto out;
  }
  cert = X509_new ();
  if (!cert || !X509_set_version (cert, X509_VERSION_3)) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "creating the certificate");
    goto out;
  }
  /* Random positive 127-bit serial, as RFC 5280 asks for unpredictable serials. */
  if (RAND_bytes (serial_bytes, sizeof serial_bytes) != 1) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "random serial");
    goto out;
  }
  serial_bytes[0] &= 0x7f;
  serial_bytes[0] |= 0x01;
  serial = BN_bin2bn (serial_bytes, sizeof serial_bytes, NULL);
  if (!serial || !BN_to_ASN1_INTEGER (serial, X509_get_serialNumber (cert))) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "serial number");
    goto out;
  }
  /* Back-date by an hour so a client with a slightly slow clock accepts it.
   * The lifetime (notBefore to notAfter) stays exactly TV_SERVER_TLS_VALID_DAYS:
   * one second more than 825 days is a finding for scanners (testssl.sh rates
   * certificates issued after 2018-03-01 that live longer as MEDIUM), so both
   * ends are computed from one reading of the clock. */
  time_t now = time (NULL);
  if (!X509_time_adj_ex (X509_getm_notBefore (cert), 0, -3600, &now) ||
      !X509_time_adj_ex (X509_getm_notAfter (cert), TV_SERVER_TLS_VALID_DAYS, -3600, &now) ||
      !X509_set_pubkey (cert, pkey)) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "validity / public key");
    goto out;
  }
  X509_NAME *name = X509_get_subject_name (cert);
  if (!X509_NAME_add_entry_by_txt (name, "O", MBSTRING_ASC, (const unsigned char *) "Televisit", -1, -1, 0) ||
      !X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
                                   (const unsigned char *) "Televisit server (self-signed)", -1, -1, 0) ||
      !X509_set_issuer_name (cert, name)) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "subject name");
    goto out;
  }

  /* SAN text: the hostname was validated by tv-config as a DNS name or IP
   * literal, so it cannot inject further entries; check again to be safe. */
  GString *san = g_string_new ("DNS:localhost,IP:127.0.0.1,IP:::1");
  if (hostname && *hostname && g_ascii_strcasecmp (hostname, "localhost") != 0 &&
      !g_str_equal (hostname, "127.0.0.1") && !g_str_equal (hostname, "::1")) {
    if (strpbrk (hostname, ",:= \t") && !g_hostname_is_ip_address (hostname)) {
      g_string_free (san, TRUE);
      g_set_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_INVALID,
                   "hostname \"%s\" cannot go into a certificate", hostname);
      goto out;
    }
    g_string_append_printf (san, ",%s:%s", g_hostname_is_ip_address (hostname) ? "IP" : "DNS", hostname);
  }

  X509V3_set_ctx_nodb (&v3);
  X509V3_set_ctx (&v3, cert, cert, NULL, NULL, 0);
  gboolean ext_ok =
      add_ext (cert, &v3, NID_basic_constraints, "critical,CA:TRUE", error) &&
      add_ext (cert, &v3, NID_key_usage, "critical,digitalSignature,keyCertSign", error) &&
      add_ext (cert, &v3, NID_ext_key_usage, "serverAuth", error) &&
      add_ext (cert, &v3, NID_subject_key_identifier, "hash", error) &&
      add_ext (cert, &v3, NID_authority_key_identifier, "keyid:always", error) &&
      add_ext (cert, &v3, NID_subject_alt_name, san->str, error);
  g_string_free (san, TRUE);
  if (!ext_ok)
    goto out;

  if (!X509_sign (cert, pkey, EVP_sha256 ())) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "signing the certificate");
    goto out;
  }

  kbio = BIO_new (BIO_s_mem ());
  cbio = BIO_new (BIO_s_mem ());
  if (!kbio || !cbio ||
      !PEM_write_bio_PrivateKey (kbio, pkey, NULL, NULL, 0, NULL, NULL) ||
      !PEM_write_bio_X509 (cbio, cert)) {
    set_ssl_error (error, TV_SERVER_TLS_ERR_CRYPTO, "writing PEM");
    goto out;
  }
  *key_pem = bio_to_string (kbio, key_len);
  *cert_pem = bio_to_string (cbio, cert_len);
  ok = TRUE;

out:
  /* The memory BIO held the key in clear: wipe it before freeing. */
  if (kbio) {
    char *data = NULL;
    long n = BIO_get_mem_data (kbio, &data);
    if (n > 0 && data)
      OPENSSL_cleanse (data, (size_t) n);
    BIO_free (kbio);
  }
  BIO_free (cbio);
  BN_free (serial);
  X509_free (cert);
  EVP_PKEY_free (pkey);
  return ok;
}

void
tv_server_tls_free_key (char *key_pem, gsize len)
{
  if (!key_pem)
    return;
  OPENSSL_cleanse (key_pem, len);
  g_free (key_pem);
}

gboolean
tv_server_tls_load_pem (const char *cert_path, const char *key_path,
                        char **cert_pem, gsize *cert_len,
                        char **key_pem, gsize *key_len, GError **error)
{
  g_return_val_if_fail (cert_path && key_path && cert_pem && key_pem && cert_len && key_len, FALSE);

  gboolean ok = FALSE;
  char *c = NULL, *k = NULL;
  gsize clen = 0, klen = 0;
  BIO *bio = NULL;
  X509 *cert = NULL;
  EVP_PKEY *pkey = NULL;
  g_autoptr (GError) local = NULL;

  if (!g_file_get_contents (cert_path, &c, &clen, &local) ||
      !g_file_get_contents (key_path, &k, &klen, &local)) {
    g_set_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_IO, "%s", local->message);
    goto out;
  }
  if (clen > G_MAXINT || klen > G_MAXINT) {
    g_set_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_INVALID, "PEM file too large");
    goto out;
  }
  bio = BIO_new_mem_buf (c, (int) clen);
  cert = bio ? PEM_read_bio_X509 (bio, NULL, NULL, NULL) : NULL;
  BIO_free (bio);
  if (!cert) {
    g_autofree char *what = g_strdup_printf ("%s: not a PEM certificate", cert_path);
    set_ssl_error (error, TV_SERVER_TLS_ERR_INVALID, what);
    goto out;
  }
  bio = BIO_new_mem_buf (k, (int) klen);
  /* A NULL password callback with an empty passphrase: encrypted keys fail cleanly. */
  pkey = bio ? PEM_read_bio_PrivateKey (bio, NULL, NULL, (void *) "") : NULL;
  BIO_free (bio);
  if (!pkey) {
    g_autofree char *what = g_strdup_printf ("%s: not an unencrypted PEM private key", key_path);
    set_ssl_error (error, TV_SERVER_TLS_ERR_INVALID, what);
    goto out;
  }
  if (X509_check_private_key (cert, pkey) != 1) {
    ERR_clear_error ();
    g_set_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_INVALID,
                 "%s does not belong to the certificate %s", key_path, cert_path);
    goto out;
  }
  *cert_pem = g_steal_pointer (&c);
  *cert_len = clen;
  *key_pem = g_steal_pointer (&k);
  *key_len = klen;
  ok = TRUE;

out:
  X509_free (cert);
  EVP_PKEY_free (pkey);
  g_free (c);
  tv_server_tls_free_key (k, klen);
  return ok;
}

gboolean
tv_server_tls_ensure_self_signed (const char *tls_dir, const char *hostname,
                                  char **cert_path, char **key_path,
                                  gboolean *generated, GError **error)
{
  g_return_val_if_fail (tls_dir != NULL, FALSE);
  g_return_val_if_fail (cert_path != NULL && key_path != NULL, FALSE);

  g_autofree char *cpath = g_build_filename (tls_dir, "cert.pem", NULL);
  g_autofree char *kpath = g_build_filename (tls_dir, "key.pem", NULL);
  char *cert_pem = NULL, *key_pem = NULL;
  gsize cert_len = 0, key_len = 0;
  gboolean ok = FALSE;

  if (generated)
    *generated = FALSE;

  if (g_mkdir_with_parents (tls_dir, 0700) != 0) {
    int e = errno;
    g_set_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_IO,
                 "cannot create %s: %s", tls_dir, g_strerror (e));
    return FALSE;
  }

  if (g_file_test (cpath, G_FILE_TEST_EXISTS) && g_file_test (kpath, G_FILE_TEST_EXISTS)) {
    /* Reuse: but refuse files that do not load, rather than silently replacing
     * a certificate clients may have pinned. */
    g_autoptr (GError) local = NULL;
    if (!tv_server_tls_load_pem (cpath, kpath, &cert_pem, &cert_len, &key_pem, &key_len, &local)) {
      g_set_error (error, TV_SERVER_TLS_ERROR, local->code,
                   "%s (remove %s and %s to generate new ones)", local->message, cpath, kpath);
      return FALSE;
    }
    g_free (cert_pem);
    tv_server_tls_free_key (key_pem, key_len);
    *cert_path = g_steal_pointer (&cpath);
    *key_path = g_steal_pointer (&kpath);
    return TRUE;
  }

  /* Declared before the first goto: jumping past an initialised g_autoptr
   * would run its cleanup on garbage at return (clang refuses the jump). */
  g_autoptr (GError) local = NULL;
  if (!generate (hostname, &cert_pem, &cert_len, &key_pem, &key_len, error))
    goto out;

  /* Key first: a certificate on disk then always has its key next to it. */
  if (!g_file_set_contents_full (kpath, key_pem, (gssize) key_len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local) ||
      !g_file_set_contents_full (cpath, cert_pem, (gssize) cert_len,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0600, &local)) {
    g_set_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_IO, "%s", local->message);
    goto out;
  }
  g_info ("generated a self-signed certificate in %s (valid %d days)", tls_dir, TV_SERVER_TLS_VALID_DAYS);
  if (generated)
    *generated = TRUE;
  *cert_path = g_steal_pointer (&cpath);
  *key_path = g_steal_pointer (&kpath);
  ok = TRUE;

out:
  g_free (cert_pem);
  tv_server_tls_free_key (key_pem, key_len);
  return ok;
}

void
tv_server_tls_harden_ctx (gpointer ssl_ctx)
{
  SSL_CTX *ctx = ssl_ctx;
  g_return_if_fail (ctx != NULL);
  SSL_CTX_set_min_proto_version (ctx, TLS1_2_VERSION);
  SSL_CTX_set_options (ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                            SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* Key exchange groups. lws 4.1 calls SSL_CTX_set_tmp_ecdh(prime256v1) while it
   * loads the certificate, which in OpenSSL 3 leaves P-256 as the ONLY group: a
   * client offering X25519 (OpenSSL's and every browser's first choice) got a
   * HelloRetryRequest, and one offering only X25519 was refused. Each P-256
   * handshake also leaves two EC keys (ours and the peer's, each with its own
   * copy of the curve and Montgomery contexts, ~3 KB) on the SSL until it is
   * freed; X25519 keys are ~0.3 KB. This hook runs after lws' certificate load.
   * X25519 first, P-256 and P-384 still accepted. */
  if (SSL_CTX_set1_groups_list (ctx, TV_SERVER_TLS_GROUPS) != 1) {
    ERR_clear_error ();
    g_warning ("OpenSSL refused the key exchange groups " TV_SERVER_TLS_GROUPS "; keeping lws' P-256");
  }
}
