/* tv-client-login.h — a doctor's HTTPS API login and logout for televisit-client.
 *
 * Doctor mode (--login) needs an API session token for the WebSocket "auth"
 * message; this gets one from POST /api/v1/login on the same host and port as
 * the --server URL, and ends it with POST /api/v1/logout on exit. libcurl does
 * the HTTP; the server certificate is checked exactly like the WSS connection
 * (--ca file, else the system store; --insecure disables the check). The
 * desktop window also reads a patient's upcoming visits (tv_client_api_get).
 * Blocking calls (at most TV_CLIENT_LOGIN_TIMEOUT_MS each), made from the
 * main thread before the main loop runs or after it stopped, or from a
 * worker thread (no shared state).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "client/tv-client-options.h"

G_BEGIN_DECLS

#define TV_CLIENT_LOGIN_TIMEOUT_MS 20000

/* tv_client_login:
 * Logs @username in with @password (neither is logged nor kept).
 * Returns: (transfer full) the session token (a credential: wipe before
 * freeing, never log), or NULL with *@code set and a message in @error:
 * TV_CLIENT_EXIT_JOIN_REFUSED for a refusal (wrong username or password,
 * account disabled, too many attempts), TV_CLIENT_EXIT_UNREACHABLE for a
 * transport or TLS failure or an unexpected reply. */
char *tv_client_login (const char *server_url, const char *ca_file, gboolean insecure, const char *username,
                       const char *password, TvClientExitCode *code, GError **error);

/* tv_client_api_get:
 * GET @path (e.g. "/api/v1/me/visits") with @session as the bearer token.
 * Returns: (transfer full) the JSON object of a 200 reply, or NULL with
 * *@status the HTTP status (0: transport or TLS failure) and @error. */
JsonNode *tv_client_api_get (const char *server_url, const char *ca_file, gboolean insecure, const char *session,
                             const char *path, long *status, GError **error);

/* tv_client_logout:
 * Ends @session (POST /api/v1/logout).
 * Returns: TRUE on 200, else FALSE with @error (the session then simply
 * expires on the server). */
gboolean tv_client_logout (const char *server_url, const char *ca_file, gboolean insecure, const char *session,
                           GError **error);

G_END_DECLS
