/* tv-turn.c — short-lived TURN credentials (see tv-turn.h).
 *
 * Why: the REST API scheme that coturn's use-auth-secret understands, so the
 * TURN server needs no user database and a leaked credential expires.
 * Never logs the secret or a password.
 * Thread: any.
 */
#define G_LOG_DOMAIN "tv-turn"

#include "server/tv-turn.h"
#include "signaling/tv-sig-message.h"

#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>

#define SECRET_MIN 16
#define SECRET_MAX 512

/* Length of the first line of @text after stripping, with its start. */
static const char *
first_line (const char *text, gsize *len)
{
  while (*text == ' ' || *text == '\t' || *text == '\r' || *text == '\n')
    text++;
  gsize n = strcspn (text, "\r\n");
  while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
    n--;
  *len = n;
  return text;
}

gboolean
tv_server_turn_secret_ok (const char *text)
{
  g_return_val_if_fail (text != NULL, FALSE);
  gsize n;
  const char *s = first_line (text, &n);
  if (n < SECRET_MIN || n > SECRET_MAX)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isgraph (s[i]) && s[i] != ' ')
      return FALSE;
  return TRUE;
}

gboolean
tv_server_turn_secret_file_ok (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  GStatBuf st;
  if (g_stat (path, &st) != 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path, g_strerror (e));
    return FALSE;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not a regular file", path);
    return FALSE;
  }
  if ((st.st_mode & 077) != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "%s: readable or writable by group or others (mode %03o); chmod 600 it", path,
                 (unsigned) (st.st_mode & 0777));
    return FALSE;
  }
  return TRUE;
}

char *
tv_server_turn_read_secret (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  char *text = NULL;
  gsize text_len = 0;
  if (!tv_server_turn_secret_file_ok (path, error))
    return NULL;
  if (!g_file_get_contents (path, &text, &text_len, error))
    return NULL;
  char *secret = NULL;
  if (tv_server_turn_secret_ok (text)) {
    gsize n;
    const char *s = first_line (text, &n);
    secret = g_strndup (s, n);
  } else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                 "%s: not a TURN secret (one line of %d..%d printable characters)", path, SECRET_MIN,
                 SECRET_MAX);
  }
  OPENSSL_cleanse (text, text_len);
  g_free (text);
  return secret;
}

void
tv_server_turn_secret_free (char *secret)
{
  if (!secret)
    return;
  OPENSSL_cleanse (secret, strlen (secret));
  g_free (secret);
}

gboolean
tv_server_turn_credentials (const char *secret, const char *label, gint64 now_s, guint ttl_s,
                            char **username_out, char **password_out)
{
  g_return_val_if_fail (secret != NULL && label != NULL, FALSE);
  g_return_val_if_fail (username_out != NULL && password_out != NULL, FALSE);

  g_autofree char *username = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", now_s + (gint64) ttl_s, label);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!HMAC (EVP_sha1 (), secret, (int) strlen (secret), (const unsigned char *) username, strlen (username),
             mac, &mac_len))
    return FALSE;
  *password_out = g_base64_encode (mac, mac_len);
  *username_out = g_steal_pointer (&username);
  OPENSSL_cleanse (mac, sizeof mac);
  return TRUE;
}

GPtrArray *
tv_server_ice_servers_new (const char *const *stun_urls, const char *turn_url, const char *secret,
                           const char *label, gint64 now_s, guint ttl_s)
{
  g_autoptr (GPtrArray) servers = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_sig_ice_server_free);
  if (stun_urls && stun_urls[0]) {
    /* Only what the client's parser accepts (the server's --stun check is
     * looser: "stuns:", "stun://..."): a URL it refuses would make the whole
     * "joined" unreadable. At most TV_SIG_MAX_ICE_URLS per entry. */
    g_autoptr (GStrvBuilder) urls = g_strv_builder_new ();
    guint n = 0;
    for (guint i = 0; stun_urls[i] && n < TV_SIG_MAX_ICE_URLS; i++) {
      g_autofree char *scheme = NULL;
      if (strlen (stun_urls[i]) <= TV_SIG_MAX_ICE_URL_BYTES
          && tv_sig_ice_url_parse (stun_urls[i], &scheme, NULL, NULL, NULL) && g_str_equal (scheme, "stun")) {
        g_strv_builder_add (urls, stun_urls[i]);
        n++;
      } else {
        g_debug ("STUN URL %s not sent to clients (not stun:HOST[:PORT])", stun_urls[i]);
      }
    }
    if (n > 0) {
      TvSigIceServer *stun = tv_sig_ice_server_new ();
      stun->urls = g_strv_builder_end (urls);
      g_ptr_array_add (servers, stun);
    }
  }
  if (turn_url && secret && label) {
    TvSigIceServer *turn = tv_sig_ice_server_new ();
    if (tv_server_turn_credentials (secret, label, now_s, ttl_s, &turn->username, &turn->credential)) {
      turn->urls = g_new0 (char *, 2);
      turn->urls[0] = g_strdup (turn_url);
      g_ptr_array_add (servers, turn);
    } else {
      g_warning ("TURN credentials could not be computed (OpenSSL HMAC failed); joined without them");
      tv_sig_ice_server_free (turn);
    }
  }
  return servers->len ? g_steal_pointer (&servers) : NULL;
}
