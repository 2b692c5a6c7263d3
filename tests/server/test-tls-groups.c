/* test-tls-groups.c — which key exchange the server's TLS negotiates with each kind of client.
 *
 * Why: lws 4.1 leaves P-256 as the server's only group (SSL_CTX_set_tmp_ecdh at
 * certificate load), so clients that lead with X25519 (OpenSSL's default and
 * every browser) needed a HelloRetryRequest, X25519-only clients were refused,
 * and every connection kept two P-256 keys (~3 KB) until it closed.
 * tv_server_tls_harden_ctx now offers TV_SERVER_TLS_GROUPS (X25519, P-256,
 * P-384). Asserts, against the real server on loopback, with in-process OpenSSL
 * clients that verify the server's certificate (the one clients pin): a default
 * client gets X25519 over TLS 1.3 without a retry; P-256-only and P-384-only
 * clients still connect (with those groups), and a client leading with a P-256
 * key share keeps it without a retry; TLS 1.2 clients get X25519 and a
 * forward-secret AEAD suite; TLS 1.3 clients get ChaCha20-Poly1305 (the
 * server's first suite: smaller record contexts per connection) and clients
 * offering only an AES-GCM suite still connect; a client offering only a group
 * outside the list is refused. Handshakes are blocking with a socket timeout, under a watchdog.
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "test-tls-groups"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server/tv-tls.h"
#include "tests/common/tv-test-fixture.h"

#define IO_TIMEOUT_S 10

static TvTestServer *srv;

typedef struct {
  gboolean ok;         /* handshake completed and the certificate verified */
  int group_nid;       /* SSL_get_negotiated_group() */
  int version;         /* SSL_version() */
  gboolean retried;    /* the server sent a HelloRetryRequest */
  char cipher[64];
} Result;

/* The message callback sees the HelloRetryRequest as a ServerHello whose
 * random is the fixed HRR value (RFC 8446 §4.1.3). */
static const unsigned char hrr_random[32] = {
  0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
  0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

static void
msg_cb (int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)
{
  Result *r = arg;
  const unsigned char *b = buf;
  /* Handshake header (type 2 = ServerHello, 3-byte length), version (2), random (32). */
  if (!write_p && content_type == SSL3_RT_HANDSHAKE && len >= 4 + 2 + 32 && b[0] == SSL3_MT_SERVER_HELLO &&
      memcmp (b + 6, hrr_random, sizeof hrr_random) == 0)
    r->retried = TRUE;
}

/* One handshake with @groups offered (NULL = OpenSSL's default list), at
 * most @max_version and the TLS 1.3 @suites (NULL = OpenSSL's default list). */
static Result
handshake (const char *groups, int max_version, const char *suites)
{
  Result r = { 0 };
  SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
  g_assert_nonnull (ctx);
  g_assert_cmpint (SSL_CTX_load_verify_locations (ctx, tv_test_server_get_cert_path (srv), NULL), ==, 1);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
  if (groups)
    g_assert_cmpint (SSL_CTX_set1_groups_list (ctx, groups), ==, 1);
  if (max_version)
    SSL_CTX_set_max_proto_version (ctx, max_version);
  if (suites)
    g_assert_cmpint (SSL_CTX_set_ciphersuites (ctx, suites), ==, 1);

  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (tv_test_server_get_port (srv)) };
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);

  SSL *ssl = SSL_new (ctx);
  g_assert_nonnull (ssl);
  SSL_set_fd (ssl, fd);
  SSL_set_tlsext_host_name (ssl, "localhost");
  g_assert_cmpint (SSL_set1_host (ssl, "localhost"), ==, 1); /* in the certificate's SAN */
  SSL_set_msg_callback (ssl, msg_cb);
  SSL_set_msg_callback_arg (ssl, &r);
  if (SSL_connect (ssl) == 1 && SSL_get_verify_result (ssl) == X509_V_OK) {
    r.ok = TRUE;
    r.group_nid = SSL_get_negotiated_group (ssl);
    r.version = SSL_version (ssl);
    g_strlcpy (r.cipher, SSL_get_cipher_name (ssl), sizeof r.cipher);
    SSL_shutdown (ssl);
  }
  ERR_clear_error ();
  SSL_free (ssl);
  close (fd);
  SSL_CTX_free (ctx);
  return r;
}

static void
test_default_client_x25519 (void)
{
  Result r = handshake (NULL, 0, NULL);
  g_assert_true (r.ok);
  g_assert_cmpint (r.version, ==, TLS1_3_VERSION);
  g_assert_cmpint (r.group_nid, ==, NID_X25519);
  g_assert_false (r.retried);
}

static void
test_nist_clients_still_served (void)
{
  Result p256 = handshake ("P-256", 0, NULL);
  g_assert_true (p256.ok);
  g_assert_cmpint (p256.group_nid, ==, NID_X9_62_prime256v1);
  g_assert_false (p256.retried);

  Result p384 = handshake ("P-384", 0, NULL);
  g_assert_true (p384.ok);
  g_assert_cmpint (p384.group_nid, ==, NID_secp384r1);

  /* A client that sends its P-256 key share first (X25519 offered too) keeps
   * it: OpenSSL accepts any key share in the list rather than asking for
   * another one, so no client pays a HelloRetryRequest for our order. */
  Result pref = handshake ("P-256:X25519", 0, NULL);
  g_assert_true (pref.ok);
  g_assert_cmpint (pref.group_nid, ==, NID_X9_62_prime256v1);
  g_assert_false (pref.retried);
}

static void
test_tls12_client (void)
{
  Result r = handshake (NULL, TLS1_2_VERSION, NULL);
  g_assert_true (r.ok);
  g_assert_cmpint (r.version, ==, TLS1_2_VERSION);
  g_assert_cmpint (r.group_nid, ==, NID_X25519);
  /* Still one of TV_SERVER_TLS12_CIPHERS: ECDHE, AEAD. */
  g_assert_true (g_str_has_prefix (r.cipher, "ECDHE-"));
  g_assert_nonnull (strstr (TV_SERVER_TLS12_CIPHERS, r.cipher));
}

/* TLS 1.3: the server's order picks ChaCha20-Poly1305 for a client offering
 * OpenSSL's default list (AES-256-GCM first), and a client offering only
 * AES-256-GCM or only AES-128-GCM is still served with it. */
static void
test_tls13_suites (void)
{
  Result r = handshake (NULL, 0, NULL);
  g_assert_true (r.ok);
  g_assert_cmpstr (r.cipher, ==, "TLS_CHACHA20_POLY1305_SHA256");

  Result aes256 = handshake (NULL, 0, "TLS_AES_256_GCM_SHA384");
  g_assert_true (aes256.ok);
  g_assert_cmpint (aes256.version, ==, TLS1_3_VERSION);
  g_assert_cmpstr (aes256.cipher, ==, "TLS_AES_256_GCM_SHA384");

  Result aes128 = handshake (NULL, 0, "TLS_AES_128_GCM_SHA256");
  g_assert_true (aes128.ok);
  g_assert_cmpstr (aes128.cipher, ==, "TLS_AES_128_GCM_SHA256");
}

static void
test_group_outside_the_list_refused (void)
{
  Result r = handshake ("P-521", 0, NULL);
  g_assert_false (r.ok);
  g_assert_true (tv_test_server_is_running (srv));
}

static void
run_with_watchdog (gconstpointer data)
{
  void (*fn) (void) = (void (*) (void)) data;
  tv_test_watchdog_start (60, g_test_get_path ());
  fn ();
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_data_func ("/tls-groups/default-client-x25519", (gconstpointer) test_default_client_x25519,
                        run_with_watchdog);
  g_test_add_data_func ("/tls-groups/nist-clients-still-served", (gconstpointer) test_nist_clients_still_served,
                        run_with_watchdog);
  g_test_add_data_func ("/tls-groups/tls12-client", (gconstpointer) test_tls12_client, run_with_watchdog);
  g_test_add_data_func ("/tls-groups/tls13-suites", (gconstpointer) test_tls13_suites, run_with_watchdog);
  g_test_add_data_func ("/tls-groups/outside-the-list-refused", (gconstpointer) test_group_outside_the_list_refused,
                        run_with_watchdog);

  tv_test_watchdog_start (60, "server start");
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  tv_test_watchdog_stop ();
  int ret = g_test_run ();
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  return ret;
}
