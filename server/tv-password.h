/* tv-password.h — password hashing for user accounts (scrypt via OpenSSL 3).
 *
 * Why: passwords are stored only as salted, memory-hard hashes, encoded with
 * their parameters so that verifying never depends on today's settings:
 *   $scrypt$ln=15,r=8,p=1$<base64 16-byte salt>$<base64 32-byte hash>
 * (N = 2^ln). Verification compares with CRYPTO_memcmp (constant time).
 * TEST-ONLY: the environment variable TV_SCRYPT_LN (10..15) lowers ln for new
 * hashes so test suites stay fast; never set it in production.
 * Thread: any (no shared state besides the environment read at each call).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_PASSWORD_ERROR (tv_password_error_quark ())
GQuark tv_password_error_quark (void);

typedef enum {
  TV_PASSWORD_ERR_POLICY,    /* the password is too short, too long or not text */
  TV_PASSWORD_ERR_MALFORMED, /* a stored hash string is not in the format above */
  TV_PASSWORD_ERR_CRYPTO,    /* OpenSSL failed (out of memory, KDF unavailable) */
} TvPasswordErrorCode;

#define TV_PASSWORD_DEFAULT_LN 15
#define TV_PASSWORD_MIN_LN     10   /* the floor for TV_SCRYPT_LN and for stored hashes */
#define TV_PASSWORD_MAX_LN     20   /* stored hashes above this are refused (memory) */
#define TV_PASSWORD_MIN_CHARS  8
#define TV_PASSWORD_MAX_BYTES  1024

/* tv_password_check_policy:
 * Returns: TRUE when @password is valid UTF-8 of at least TV_PASSWORD_MIN_CHARS
 * characters and at most TV_PASSWORD_MAX_BYTES bytes without control
 * characters; FALSE with POLICY (the message never repeats the password). */
gboolean tv_password_check_policy (const char *password, GError **error);

/* tv_password_hash:
 * Hashes @password with a fresh random 16-byte salt (RAND_bytes), N = 2^15
 * (or 2^TV_SCRYPT_LN), r = 8, p = 1. Checks the policy first.
 * Returns: (transfer full) the encoded hash, or NULL with @error (POLICY or CRYPTO). */
char *tv_password_hash (const char *password, GError **error);

/* tv_password_verify:
 * Recomputes the hash of @password with the parameters and salt of @encoded and
 * compares in constant time.
 * Returns: TRUE when it matches. FALSE with @error unset when it does not;
 * FALSE with @error (MALFORMED or CRYPTO) when @encoded cannot be used. */
gboolean tv_password_verify (const char *password, const char *encoded, GError **error);

/* tv_password_generate:
 * Returns: (transfer full) a random password: 16 bytes from RAND_bytes as
 * base64url (22 characters); NULL only if the random generator fails. */
char *tv_password_generate (void);

/* tv_password_equal:
 * Constant-time comparison (CRYPTO_memcmp) of two byte strings; different
 * lengths compare unequal (the length itself is not secret).
 * Returns: TRUE when equal. */
gboolean tv_password_equal (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len);

/* Returns: the ln (log2 N) new hashes get: TV_PASSWORD_DEFAULT_LN, or TV_SCRYPT_LN
 * when set to a number in TV_PASSWORD_MIN_LN..TV_PASSWORD_DEFAULT_LN. */
guint tv_password_current_ln (void);

G_END_DECLS
