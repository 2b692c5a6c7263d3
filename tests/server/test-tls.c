/* test-tls.c — self-signed certificate generation and PEM loading (tv-tls).
 *
 * Why: the generated certificate is what clients pin as their CA file, so it
 * must verify as a trust anchor for localhost / 127.0.0.1 / ::1 / the configured
 * hostname, use a P-256 key, be valid ~825 days, be written 0600 in a 0700
 * directory, and be reused (not regenerated) on the next start.
 * Thread: main thread; a SIGALRM watchdog fails a stuck run.
 */
#define G_LOG_DOMAIN "test-tls"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "server/tv-tls.h"

static char *tmpdir;

static X509 *
read_cert (const char *path)
{
  g_autofree char *pem = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &pem, &len, NULL));
  BIO *bio = BIO_new_mem_buf (pem, (int) len);
  X509 *cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL);
  BIO_free (bio);
  g_assert_nonnull (cert);
  return cert;
}

/* Verifies @cert with itself as the only trust anchor, for TLS server use,
 * checking @host (DNS name) or @ip. Returns the X509_V_* result. */
static int
verify_as_anchor (X509 *cert, const char *host, const char *ip)
{
  X509_STORE *store = X509_STORE_new ();
  X509_STORE_add_cert (store, cert);
  X509_STORE_CTX *ctx = X509_STORE_CTX_new ();
  X509_STORE_CTX_init (ctx, store, cert, NULL);
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param (ctx);
  X509_VERIFY_PARAM_set_purpose (param, X509_PURPOSE_SSL_SERVER);
  if (host)
    X509_VERIFY_PARAM_set1_host (param, host, 0);
  if (ip)
    X509_VERIFY_PARAM_set1_ip_asc (param, ip);
  int ok = X509_verify_cert (ctx);
  int err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error (ctx);
  X509_STORE_CTX_free (ctx);
  X509_STORE_free (store);
  return err;
}

static void
assert_mode (const char *path, int mode)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, mode);
}

static void
test_generate_and_reuse (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "gen", "tls", NULL);
  g_autofree char *cert_path = NULL, *key_path = NULL;
  g_autoptr (GError) error = NULL;
  gboolean generated = FALSE;

  g_assert_true (tv_server_tls_ensure_self_signed (dir, "consult.example.org", &cert_path, &key_path,
                                                   &generated, &error));
  g_assert_no_error (error);
  g_assert_true (generated);
  g_assert_true (g_str_has_suffix (cert_path, "/tls/cert.pem"));
  g_assert_true (g_str_has_suffix (key_path, "/tls/key.pem"));
  assert_mode (dir, 0700);
  assert_mode (cert_path, 0600);
  assert_mode (key_path, 0600);

  X509 *cert = read_cert (cert_path);
  /* v3, self-signed, P-256, SHA-256 signature. */
  g_assert_cmpint (X509_get_version (cert), ==, X509_VERSION_3);
  g_assert_cmpint (X509_NAME_cmp (X509_get_subject_name (cert), X509_get_issuer_name (cert)), ==, 0);
  EVP_PKEY *pub = X509_get0_pubkey (cert);
  g_assert_true (EVP_PKEY_is_a (pub, "EC"));
  char group[64] = "";
  size_t glen = 0;
  g_assert_true (EVP_PKEY_get_utf8_string_param (pub, "group", group, sizeof group, &glen));
  g_assert_cmpstr (group, ==, "prime256v1");
  g_assert_cmpint (X509_get_signature_nid (cert), ==, NID_ecdsa_with_SHA256);

  /* A lifetime of exactly 825 days (more is a scanner finding, see test-tls-scan). */
  int days = 0, secs = 0;
  g_assert_true (ASN1_TIME_diff (&days, &secs, X509_get0_notBefore (cert), X509_get0_notAfter (cert)));
  g_assert_cmpint (days, ==, 825);
  g_assert_cmpint (secs, ==, 0);

  /* CA:TRUE, keyCertSign, and the SANs. */
  g_assert_true (X509_check_ca (cert) >= 1);
  g_assert_true (X509_get_key_usage (cert) & KU_KEY_CERT_SIGN);
  g_assert_true (X509_get_key_usage (cert) & KU_DIGITAL_SIGNATURE);
  g_assert_cmpint (X509_check_host (cert, "localhost", 0, 0, NULL), ==, 1);
  g_assert_cmpint (X509_check_host (cert, "consult.example.org", 0, 0, NULL), ==, 1);
  g_assert_cmpint (X509_check_host (cert, "other.example.org", 0, 0, NULL), ==, 0);
  g_assert_cmpint (X509_check_ip_asc (cert, "127.0.0.1", 0), ==, 1);
  g_assert_cmpint (X509_check_ip_asc (cert, "::1", 0), ==, 1);
  g_assert_cmpint (X509_check_ip_asc (cert, "10.0.0.1", 0), ==, 0);

  /* A client using the file as its CA verifies the server. */
  g_assert_cmpint (verify_as_anchor (cert, "localhost", NULL), ==, X509_V_OK);
  g_assert_cmpint (verify_as_anchor (cert, NULL, "127.0.0.1"), ==, X509_V_OK);
  g_assert_cmpint (verify_as_anchor (cert, NULL, "::1"), ==, X509_V_OK);
  g_assert_cmpint (verify_as_anchor (cert, "consult.example.org", NULL), ==, X509_V_OK);
  g_assert_cmpint (verify_as_anchor (cert, "evil.example.org", NULL), !=, X509_V_OK);
  X509_free (cert);

  /* The key matches and loads. */
  char *cpem = NULL, *kpem = NULL;
  gsize clen = 0, klen = 0;
  g_assert_true (tv_server_tls_load_pem (cert_path, key_path, &cpem, &clen, &kpem, &klen, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (clen, ==, strlen (cpem));
  g_assert_nonnull (strstr (kpem, "PRIVATE KEY"));
  g_autofree char *first_cert = g_strdup (cpem);
  g_free (cpem);
  tv_server_tls_free_key (kpem, klen);

  /* Second start: the same files are reused, not regenerated. */
  g_autofree char *cert2 = NULL, *key2 = NULL;
  g_assert_true (tv_server_tls_ensure_self_signed (dir, "another.example.org", &cert2, &key2, &generated,
                                                   &error));
  g_assert_no_error (error);
  g_assert_false (generated);
  g_assert_cmpstr (cert2, ==, cert_path);
  g_autofree char *again = NULL;
  g_assert_true (g_file_get_contents (cert2, &again, NULL, NULL));
  g_assert_cmpstr (again, ==, first_cert);
}

static void
test_ip_hostname (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "ip", NULL);
  g_autofree char *cert_path = NULL, *key_path = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_server_tls_ensure_self_signed (dir, "198.18.0.1", &cert_path, &key_path, NULL, &error));
  g_assert_no_error (error);
  X509 *cert = read_cert (cert_path);
  g_assert_cmpint (X509_check_ip_asc (cert, "198.18.0.1", 0), ==, 1);
  g_assert_cmpint (X509_check_host (cert, "localhost", 0, 0, NULL), ==, 1);
  X509_free (cert);
}

static void
test_mismatch_and_garbage (void)
{
  g_autofree char *a = g_build_filename (tmpdir, "a", NULL);
  g_autofree char *b = g_build_filename (tmpdir, "b", NULL);
  g_autofree char *ca = NULL, *ka = NULL, *cb = NULL, *kb = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_server_tls_ensure_self_signed (a, NULL, &ca, &ka, NULL, &error));
  g_assert_true (tv_server_tls_ensure_self_signed (b, NULL, &cb, &kb, NULL, &error));

  char *cpem = NULL, *kpem = NULL;
  gsize clen = 0, klen = 0;
  g_assert_false (tv_server_tls_load_pem (ca, kb, &cpem, &clen, &kpem, &klen, &error));
  g_assert_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_INVALID);
  g_clear_error (&error);

  g_autofree char *junk = g_build_filename (tmpdir, "junk.pem", NULL);
  g_assert_true (g_file_set_contents (junk, "-----BEGIN CERTIFICATE-----\nnope\n", -1, NULL));
  g_assert_false (tv_server_tls_load_pem (junk, ka, &cpem, &clen, &kpem, &klen, &error));
  g_assert_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_INVALID);
  g_clear_error (&error);

  g_assert_false (tv_server_tls_load_pem ("/nonexistent/c.pem", ka, &cpem, &clen, &kpem, &klen, &error));
  g_assert_error (error, TV_SERVER_TLS_ERROR, TV_SERVER_TLS_ERR_IO);
  g_clear_error (&error);

  /* A corrupted certificate in the TLS directory is reported, not replaced. */
  g_assert_true (g_file_set_contents (ca, "garbage", -1, NULL));
  g_autofree char *c2 = NULL, *k2 = NULL;
  g_assert_false (tv_server_tls_ensure_self_signed (a, NULL, &c2, &k2, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "remove"));
  g_clear_error (&error);

  /* Only the key left (interrupted first start): generated again. */
  g_assert_cmpint (g_remove (ca), ==, 0);
  gboolean generated = FALSE;
  g_assert_true (tv_server_tls_ensure_self_signed (a, NULL, &c2, &k2, &generated, &error));
  g_assert_no_error (error);
  g_assert_true (generated);
}

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d) {
    const char *name;
    while ((name = g_dir_read_name (d))) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      rm_rf (child);
    }
    g_dir_close (d);
  }
  g_remove (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  alarm (60); /* watchdog */
  tmpdir = g_dir_make_tmp ("tv-test-tls-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);

  g_test_add_func ("/tls/generate-and-reuse", test_generate_and_reuse);
  g_test_add_func ("/tls/ip-hostname", test_ip_hostname);
  g_test_add_func ("/tls/mismatch-and-garbage", test_mismatch_and_garbage);
  int rc = g_test_run ();
  rm_rf (tmpdir);
  g_free (tmpdir);
  return rc;
}
