/* tv-tls.h — the server's TLS material: generate a self-signed certificate once, load PEMs.
 *
 * Why: the server is WSS only, and a fresh install must work without an
 * operator-provided certificate. On first start a P-256 key and a self-signed
 * X.509 v3 certificate (CA:TRUE so clients can pin the file as their CA) are
 * written to DIR/tls/ and reused afterwards.
 * Thread: main thread, at start-up (OpenSSL calls are thread-safe anyway).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_SERVER_TLS_ERROR (tv_server_tls_error_quark ())
GQuark tv_server_tls_error_quark (void);

typedef enum {
  TV_SERVER_TLS_ERR_IO,       /* file or directory could not be read/written */
  TV_SERVER_TLS_ERR_CRYPTO,   /* OpenSSL failed (message carries its reason) */
  TV_SERVER_TLS_ERR_INVALID,  /* PEM does not parse, or key does not match certificate */
} TvServerTlsErrorCode;

#define TV_SERVER_TLS_VALID_DAYS 825

/* tv_server_tls_ensure_self_signed:
 * Makes sure @tls_dir (created 0700 if missing) holds cert.pem and key.pem.
 * When both exist and the key matches the certificate they are reused (even if
 * @hostname changed); otherwise a new EC P-256 key and a self-signed SHA-256
 * certificate valid TV_SERVER_TLS_VALID_DAYS days are generated, with SAN
 * DNS:localhost, IP:127.0.0.1, IP:::1 and @hostname (DNS name or IP literal;
 * NULL or "localhost" adds nothing), CA:TRUE, keyUsage digitalSignature +
 * keyCertSign, extendedKeyUsage serverAuth. Both files are written atomically,
 * mode 0600, key first.
 * @generated: (out) (optional) TRUE when new files were written.
 * Returns: TRUE and (transfer full) *@cert_path, *@key_path; FALSE with @error,
 * and any previous files left as they were. */
gboolean tv_server_tls_ensure_self_signed (const char *tls_dir, const char *hostname,
                                           char **cert_path, char **key_path,
                                           gboolean *generated, GError **error);

/* tv_server_tls_load_pem:
 * Reads a certificate and its private key as PEM, checks both parse and that
 * the key belongs to the certificate.
 * Returns: TRUE with (transfer full) NUL-terminated *@cert_pem / *@key_pem and
 * their lengths (without the NUL); FALSE with @error (IO, INVALID). The caller
 * should wipe the key with tv_server_tls_free_key() when done. */
gboolean tv_server_tls_load_pem (const char *cert_path, const char *key_path,
                                 char **cert_pem, gsize *cert_len,
                                 char **key_pem, gsize *key_len, GError **error);

/* Zeroes and frees key material of @len bytes; NULL accepted. */
void tv_server_tls_free_key (char *key_pem, gsize len);

/* Cipher policy handed to libwebsockets: TLS 1.2 forward-secret AEAD suites
 * only, and the TLS 1.3 suites. The server's order decides (server
 * preference). TLS 1.3 prefers ChaCha20-Poly1305 (256-bit key, RFC 8446's
 * other AEAD): a connection keeps ~0.4 KB less for its life than with
 * AES-256-GCM (smaller record contexts, SHA-256 handshake state), and it seals
 * the small records of signaling faster (openssl speed, 64-byte records: 2.8x
 * AES-256-GCM; 16 KiB: 0.9x); AES-256-GCM and AES-128-GCM stay accepted
 * (docs/BENCHMARKS.md, "Memory per connection: malloc_trim after a connection
 * storm, ChaCha20-Poly1305 first"). */
#define TV_SERVER_TLS12_CIPHERS \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
#define TV_SERVER_TLS13_CIPHERS \
  "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"

/* Key exchange groups offered by the server, in its order of preference. */
#define TV_SERVER_TLS_GROUPS "X25519:P-256:P-384"

/* tv_server_tls_harden_ctx:
 * Applies the minimum protocol version (TLS 1.2), option flags and the key
 * exchange groups (TV_SERVER_TLS_GROUPS) to an OpenSSL SSL_CTX (passed as gpointer so this header needs no OpenSSL). */
void tv_server_tls_harden_ctx (gpointer ssl_ctx);

G_END_DECLS
