/* tv-password.c — scrypt password hashes (see tv-password.h).
 *
 * Why: OpenSSL 3's EVP_KDF "SCRYPT" does the memory-hard work; GLib does the
 * base64; this file only encodes parameters, checks the policy and compares in
 * constant time. Wrong passwords and malformed hashes are told apart so that a
 * corrupt row shows up in the logs instead of looking like a typo.
 * Thread: any.
 */
#define G_LOG_DOMAIN "tv-password"

#include "server/tv-password.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

G_DEFINE_QUARK (tv-password-error-quark, tv_password_error)

#define SALT_BYTES 16
#define HASH_BYTES 32
#define SCRYPT_R 8
#define SCRYPT_P 1
/* 128 * r * N bytes for N = 2^20 is 1 GiB; we never go above MAX_LN. */
#define MAXMEM_BYTES ((guint64) 1 << 31)

guint
tv_password_current_ln (void)
{
  const char *env = g_getenv ("TV_SCRYPT_LN");
  guint64 ln;
  if (env != NULL && g_ascii_string_to_unsigned (env, 10, TV_PASSWORD_MIN_LN, TV_PASSWORD_DEFAULT_LN, &ln, NULL))
    return (guint) ln;
  return TV_PASSWORD_DEFAULT_LN;
}

gboolean
tv_password_check_policy (const char *password, GError **error)
{
  if (password == NULL || !g_utf8_validate (password, -1, NULL)) {
    g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY, "password is not valid UTF-8 text");
    return FALSE;
  }
  if (strlen (password) > TV_PASSWORD_MAX_BYTES) {
    g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY, "password is longer than %d bytes",
                 TV_PASSWORD_MAX_BYTES);
    return FALSE;
  }
  if (g_utf8_strlen (password, -1) < TV_PASSWORD_MIN_CHARS) {
    g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY, "password is shorter than %d characters",
                 TV_PASSWORD_MIN_CHARS);
    return FALSE;
  }
  for (const char *p = password; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p))) {
      g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY, "password contains control characters");
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
tv_password_equal (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
  if (a_len != b_len)
    return FALSE;
  return CRYPTO_memcmp (a, b, a_len) == 0;
}

/* Derives @out_len bytes into @out. FALSE with CRYPTO on any OpenSSL failure. */
static gboolean
scrypt_derive (const char *password, const guint8 *salt, gsize salt_len, guint ln, guint32 r, guint32 p,
               guint8 *out, gsize out_len, GError **error)
{
  gboolean ok = FALSE;
  EVP_KDF *kdf = EVP_KDF_fetch (NULL, "SCRYPT", NULL);
  EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new (kdf) : NULL;
  if (kctx == NULL) {
    g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_CRYPTO, "OpenSSL has no SCRYPT KDF");
    goto out;
  }
  uint64_t n = (uint64_t) 1 << ln;
  uint64_t maxmem = MAXMEM_BYTES;
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_PASSWORD, (void *) password, strlen (password)),
    OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_SALT, (void *) salt, salt_len),
    OSSL_PARAM_construct_uint64 (OSSL_KDF_PARAM_SCRYPT_N, &n),
    OSSL_PARAM_construct_uint32 (OSSL_KDF_PARAM_SCRYPT_R, &r),
    OSSL_PARAM_construct_uint32 (OSSL_KDF_PARAM_SCRYPT_P, &p),
    OSSL_PARAM_construct_uint64 (OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
    OSSL_PARAM_construct_end (),
  };
  if (EVP_KDF_derive (kctx, out, out_len, params) != 1) {
    g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_CRYPTO, "scrypt failed (out of memory?)");
    goto out;
  }
  ok = TRUE;
out:
  EVP_KDF_CTX_free (kctx);
  EVP_KDF_free (kdf);
  return ok;
}

char *
tv_password_hash (const char *password, GError **error)
{
  guint8 salt[SALT_BYTES], hash[HASH_BYTES];
  guint ln = tv_password_current_ln ();
  if (!tv_password_check_policy (password, error))
    return NULL;
  if (RAND_bytes (salt, sizeof salt) != 1) {
    g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_CRYPTO, "OpenSSL RAND_bytes failed");
    return NULL;
  }
  if (!scrypt_derive (password, salt, sizeof salt, ln, SCRYPT_R, SCRYPT_P, hash, sizeof hash, error))
    return NULL;
  g_autofree char *salt64 = g_base64_encode (salt, sizeof salt);
  g_autofree char *hash64 = g_base64_encode (hash, sizeof hash);
  OPENSSL_cleanse (hash, sizeof hash);
  return g_strdup_printf ("$scrypt$ln=%u,r=%d,p=%d$%s$%s", ln, SCRYPT_R, SCRYPT_P, salt64, hash64);
}

/* Parses "name=<decimal>" with @min..@max. */
static gboolean
parse_param (const char *text, const char *name, guint64 min, guint64 max, guint64 *out)
{
  gsize nlen = strlen (name);
  if (strncmp (text, name, nlen) != 0 || text[nlen] != '=')
    return FALSE;
  return g_ascii_string_to_unsigned (text + nlen + 1, 10, min, max, out, NULL);
}

/* Strict base64: only the alphabet and padding, length a multiple of 4, and
 * exactly @want bytes once decoded (g_base64_decode itself skips junk). */
static guint8 *
decode_b64 (const char *text, gsize want)
{
  gsize len = strlen (text);
  if (len == 0 || len % 4 != 0)
    return NULL;
  for (gsize i = 0; i < len; i++) {
    char c = text[i];
    if (!g_ascii_isalnum (c) && c != '+' && c != '/' && !(c == '=' && i >= len - 2))
      return NULL;
  }
  gsize out_len = 0;
  guint8 *out = g_base64_decode (text, &out_len);
  if (out_len != want) {
    g_free (out);
    return NULL;
  }
  return out;
}

gboolean
tv_password_verify (const char *password, const char *encoded, GError **error)
{
  g_return_val_if_fail (password != NULL, FALSE);
  gboolean ok = FALSE;
  g_auto (GStrv) parts = NULL, params = NULL;
  g_autofree guint8 *salt = NULL, *want = NULL;
  guint8 got[HASH_BYTES];
  guint64 ln = 0, r = 0, p = 0;

  /* "", "scrypt", "ln=..,r=..,p=..", salt, hash */
  if (encoded != NULL)
    parts = g_strsplit (encoded, "$", -1);
  if (parts == NULL || g_strv_length (parts) != 5 || parts[0][0] != '\0' || strcmp (parts[1], "scrypt") != 0)
    goto malformed;
  params = g_strsplit (parts[2], ",", -1);
  if (g_strv_length (params) != 3 || !parse_param (params[0], "ln", TV_PASSWORD_MIN_LN, TV_PASSWORD_MAX_LN, &ln)
      || !parse_param (params[1], "r", 1, 32, &r) || !parse_param (params[2], "p", 1, 16, &p))
    goto malformed;
  salt = decode_b64 (parts[3], SALT_BYTES);
  want = decode_b64 (parts[4], HASH_BYTES);
  if (salt == NULL || want == NULL)
    goto malformed;
  /* Policy is not re-checked: an over-long password simply does not match. */
  if (strlen (password) > TV_PASSWORD_MAX_BYTES)
    return FALSE;
  if (!scrypt_derive (password, salt, SALT_BYTES, (guint) ln, (guint32) r, (guint32) p, got, sizeof got, error))
    return FALSE;
  ok = tv_password_equal (got, sizeof got, want, HASH_BYTES);
  OPENSSL_cleanse (got, sizeof got);
  return ok;

malformed:
  g_set_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_MALFORMED, "stored password hash is malformed");
  return FALSE;
}

char *
tv_password_generate (void)
{
  guint8 raw[16];
  if (RAND_bytes (raw, sizeof raw) != 1)
    return NULL;
  char *text = g_base64_encode (raw, sizeof raw);
  OPENSSL_cleanse (raw, sizeof raw);
  for (char *c = text; *c != '\0'; c++) {
    if (*c == '+')
      *c = '-';
    else if (*c == '/')
      *c = '_';
    else if (*c == '=') {
      *c = '\0';
      break;
    }
  }
  return text;
}
