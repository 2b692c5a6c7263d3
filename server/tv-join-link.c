/* tv-join-link.c — the join-link key file and token derivation (see tv-join-link.h).
 *
 * Why: join tokens must be re-creatable for reminders and the patient's
 * upcoming visits without the store keeping them in clear; an HMAC under a
 * key that lives outside the database gives that. The key file is created
 * once, atomically (a temporary file linked into place, so a second process
 * starting at the same moment reads the winner's key), and refused when
 * group or others may read it.
 * Thread: any. A key's keyed HMAC context is only read after the key is
 * made (each token duplicates it), and each TvStore holds its own copy.
 */
#define G_LOG_DOMAIN "tv-join-link"

#include "server/tv-join-link.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

struct _TvJoinLinkKey {
  guint8 bytes[TV_JOIN_LINK_KEY_BYTES];
  /* HMAC-SHA256 keyed with @bytes, made once (key_prepare): a token
   * duplicates it instead of fetching HMAC and SHA-256 from the provider and
   * hashing the key again — HMAC () did all three per token, ~2.8 % of the
   * store writer thread under booking load (docs/BENCHMARKS.md). */
  EVP_MAC_CTX *hmac;
};

/* Domain separation: a key used for anything else never yields a join token. */
static const char DERIVE_LABEL[] = "televisit-join-v1";

void
tv_join_link_key_free (TvJoinLinkKey *key)
{
  if (key == NULL)
    return;
  EVP_MAC_CTX_free (key->hmac);   /* OpenSSL wipes the key material it holds */
  OPENSSL_cleanse (key->bytes, sizeof key->bytes);
  g_free (key);
}

/* The HMAC algorithm, fetched once for the process (fetched algorithms are
 * immutable and may be shared by threads). */
static EVP_MAC *
hmac_algorithm (void)
{
  static gsize once = 0;
  static EVP_MAC *mac = NULL;
  if (g_once_init_enter (&once)) {
    mac = EVP_MAC_fetch (NULL, OSSL_MAC_NAME_HMAC, NULL);
    g_once_init_leave (&once, 1);
  }
  return mac;
}

/* Makes @key's keyed HMAC-SHA256 context from its bytes. Aborts only when
 * libcrypto cannot (memory exhaustion, no default provider), as HMAC () did. */
static void
key_prepare (TvJoinLinkKey *key)
{
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
    OSSL_PARAM_construct_end (),
  };
  EVP_MAC *mac = hmac_algorithm ();
  key->hmac = mac != NULL ? EVP_MAC_CTX_new (mac) : NULL;
  if (key->hmac == NULL || !EVP_MAC_init (key->hmac, key->bytes, sizeof key->bytes, params))
    g_error ("OpenSSL HMAC-SHA256 set-up failed");
}

TvJoinLinkKey *
tv_join_link_key_dup (const TvJoinLinkKey *key)
{
  if (key == NULL)
    return NULL;
  TvJoinLinkKey *copy = g_new0 (TvJoinLinkKey, 1);
  memcpy (copy->bytes, key->bytes, sizeof copy->bytes);
  key_prepare (copy);
  return copy;
}

/* Reads an existing key file: regular, owner-only, exactly the key size.
 * Returns: (transfer full) the key; NULL with @error (G_FILE_ERROR). */
static TvJoinLinkKey *
key_read (const char *path, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "join-link key %s: %s", path, g_strerror (e));
    return NULL;
  }
  TvJoinLinkKey *key = NULL;
  struct stat sb;
  if (fstat (fd, &sb) != 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "join-link key %s: %s", path, g_strerror (e));
  } else if (!S_ISREG (sb.st_mode)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "join-link key %s is not a regular file", path);
  } else if ((sb.st_mode & 077) != 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                 "join-link key %s is readable or writable by group or others (mode %03o); chmod 600 it",
                 path, (unsigned) (sb.st_mode & 0777));
  } else if (sb.st_size != TV_JOIN_LINK_KEY_BYTES) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "join-link key %s must hold exactly %d bytes, has %jd",
                 path, TV_JOIN_LINK_KEY_BYTES, (intmax_t) sb.st_size);
  } else {
    key = g_new0 (TvJoinLinkKey, 1);
    gsize got = 0;
    while (got < sizeof key->bytes) {
      ssize_t n = read (fd, key->bytes + got, sizeof key->bytes - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        int e = n < 0 ? errno : EIO;
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "join-link key %s: %s", path,
                     n < 0 ? g_strerror (e) : "file shrank while reading");
        g_clear_pointer (&key, tv_join_link_key_free);
        break;
      }
      got += (gsize) n;
    }
    if (key != NULL)
      key_prepare (key);
  }
  close (fd);
  return key;
}

/* Writes fresh random bytes to a temporary file next to @path and links it to
 * @path (fails with EEXIST when another process got there first).
 * Returns: TRUE when this call created @path, FALSE with *@exists set when it
 * already existed, FALSE with @error otherwise. */
static gboolean
key_create (const char *path, gboolean *exists, GError **error)
{
  *exists = FALSE;
  guint8 raw[TV_JOIN_LINK_KEY_BYTES];
  if (RAND_bytes (raw, sizeof raw) != 1) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "join-link key: OpenSSL RAND_bytes failed");
    return FALSE;
  }
  g_autofree char *tmp = g_strdup_printf ("%s.XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  gboolean ok = FALSE;
  int e = 0;
  if (fd < 0) {
    e = errno;
  } else {
    gsize done = 0;
    while (done < sizeof raw) {
      ssize_t n = write (fd, raw + done, sizeof raw - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        e = n < 0 ? errno : EIO;
        break;
      }
      done += (gsize) n;
    }
    if (done == sizeof raw && fsync (fd) != 0)
      e = errno;
    if (close (fd) != 0 && e == 0)
      e = errno;
    if (e == 0) {
      if (link (tmp, path) == 0)
        ok = TRUE;
      else if (errno == EEXIST)
        *exists = TRUE;
      else
        e = errno;
    }
    g_unlink (tmp);
  }
  OPENSSL_cleanse (raw, sizeof raw);
  if (e != 0)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot create join-link key %s: %s", path,
                 g_strerror (e));
  return ok;
}

TvJoinLinkKey *
tv_join_link_key_load_or_create (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    gboolean exists = FALSE;
    if (key_create (path, &exists, error))
      g_message ("created the join-link key %s", path);
    else if (!exists)
      return NULL;
  }
  return key_read (path, error);
}

char *
tv_join_link_base64url (const guint8 *raw, gsize len)
{
  char *text = g_base64_encode (raw, len);
  for (char *p = text; *p != '\0'; p++) {
    if (*p == '+') {
      *p = '-';
    } else if (*p == '/') {
      *p = '_';
    } else if (*p == '=') {
      *p = '\0';
      break;
    }
  }
  return text;
}

char *
tv_join_link_token (const TvJoinLinkKey *key, const char *consult_id, const char *role, gint64 issued_at)
{
  g_return_val_if_fail (key != NULL && consult_id != NULL && role != NULL, NULL);
  /* Fields NUL-separated: none of them can contain a NUL, so the message is
   * unambiguous. */
  g_autoptr (GByteArray) msg = g_byte_array_new ();
  char when[32];
  g_snprintf (when, sizeof when, "%" G_GINT64_FORMAT, issued_at);
  const char *fields[] = { DERIVE_LABEL, consult_id, role, when };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    g_byte_array_append (msg, (const guint8 *) fields[i], (guint) strlen (fields[i]) + 1);

  guint8 mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup (key->hmac);   /* keyed, nothing hashed yet */
  if (ctx == NULL || !EVP_MAC_update (ctx, msg->data, msg->len) || !EVP_MAC_final (ctx, mac, &mac_len, sizeof mac)
      || mac_len != 32)
    g_error ("OpenSSL HMAC-SHA256 failed");   /* only on memory exhaustion or a broken libcrypto */
  EVP_MAC_CTX_free (ctx);
  char *token = tv_join_link_base64url (mac, mac_len);
  OPENSSL_cleanse (mac, sizeof mac);
  g_assert (strlen (token) == TV_STORE_TOKEN_CHARS);
  return token;
}

gboolean
tv_join_link_attach (TvStore *store, const char *data_dir, GError **error)
{
  g_return_val_if_fail (store != NULL && data_dir != NULL, FALSE);
  g_autofree char *path = g_build_filename (data_dir, TV_JOIN_LINK_KEY_FILE, NULL);
  g_autoptr (TvJoinLinkKey) key = tv_join_link_key_load_or_create (path, error);
  if (key == NULL)
    return FALSE;
  tv_store_set_join_link_key (store, key);
  return TRUE;
}
