/* tv-turn.h — short-lived TURN credentials (the "TURN REST API" scheme).
 *
 * Why: clients behind restrictive networks need a relay; a static TURN
 * password handed to every client would be a standing credential. The server
 * shares one secret with the TURN server (coturn: use-auth-secret,
 * static-auth-secret) and gives each client, in "joined", a username
 * "EXPIRY:CONSULT-ID" (EXPIRY in Unix seconds) and the password
 * base64(HMAC-SHA1(secret, username)); the TURN server recomputes it and
 * refuses it after EXPIRY. HMAC via OpenSSL, base64 via GLib.
 * Thread: any (pure functions besides reading the secret file).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* tv_server_turn_secret_ok:
 * Returns: TRUE when the first line of @text (surrounding white space
 * ignored) is 16..512 bytes of printable ASCII. */
gboolean tv_server_turn_secret_ok (const char *text);

/* tv_server_turn_secret_file_ok:
 * Returns: TRUE when @path is a regular file that neither its group nor
 * others may read (mode & 077 == 0: the secret mints credentials for
 * anyone who has it); otherwise FALSE with @error (G_IO_ERROR_PERMISSION_DENIED
 * for the mode, G_FILE_ERROR from stat). */
gboolean tv_server_turn_secret_file_ok (const char *path, GError **error);

/* tv_server_turn_read_secret:
 * Checks @path with tv_server_turn_secret_file_ok and reads the secret (the
 * first line, stripped) from it.
 * Returns: (transfer full) the secret, or NULL with @error (G_FILE_ERROR,
 * G_IO_ERROR_PERMISSION_DENIED, or G_IO_ERROR_INVALID_DATA when it is not a
 * valid secret). Wipe it when done (tv_server_turn_secret_free). */
char *tv_server_turn_read_secret (const char *path, GError **error);

/* Overwrites and frees a secret. NULL accepted. */
void tv_server_turn_secret_free (char *secret);

/* tv_server_turn_credentials:
 * Computes the credentials for one client: @username_out (transfer full)
 * "EXPIRY:@label" with EXPIRY = @now_s + @ttl_s, @password_out (transfer
 * full) the base64 HMAC-SHA1 of the username keyed with @secret.
 * @label: printable, no ':' (a consult id). Returns: FALSE only if OpenSSL
 * fails (outputs untouched). */
gboolean tv_server_turn_credentials (const char *secret, const char *label, gint64 now_s, guint ttl_s,
                                     char **username_out, char **password_out);

/* tv_server_ice_servers_new:
 * The "ice_servers" of one "joined" (signaling/tv-sig-message.h): one STUN
 * entry with @stun_urls (NULL or empty: none), and, when @turn_url and
 * @secret are set, one TURN entry with credentials from
 * tv_server_turn_credentials (@label, @now_s, @ttl_s).
 * Returns: (transfer full) (element-type TvSigIceServer) the entries, NULL
 * when there are none (or OpenSSL failed to make the credential: logged). */
GPtrArray *tv_server_ice_servers_new (const char *const *stun_urls, const char *turn_url, const char *secret,
                                      const char *label, gint64 now_s, guint ttl_s);

G_END_DECLS
