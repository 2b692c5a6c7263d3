/* tv-lws-glue.h — libwebsockets on the GLib main loop, and lws logs into GLib logging.
 *
 * Why: the server (and nothing else) runs one lws context on the process's
 * GMainLoop: lws on a libuv loop of its own (LWS_SERVER_OPTION_LIBUV +
 * foreign_loops, the evlib_uv plugin) that one GSource drives (see
 * tv-lws-glue.c for why not one GSource per connection); keeping the context
 * set-up in one small file keeps the protocol code free of event-loop details.
 * Thread: the main loop's thread.
 */
#pragma once

#include <glib.h>
#include <libwebsockets.h>

#include "server/tv-config.h"

G_BEGIN_DECLS

typedef struct {
  GMainLoop *loop;                          /* the GLib loop whose context drives lws */
  const char *listen;                       /* IP literal; "0.0.0.0"/"::" = every address */
  guint port;                               /* 0 = any free port */
  const char *cert_pem;                     /* PEM in memory */
  gsize cert_len;
  const char *key_pem;
  gsize key_len;
  const struct lws_protocols *protocols;    /* terminated by an entry with NULL callback */
  gpointer user;                            /* lws_context_user() */
  guint max_connections;                    /* sizes lws' fd table */
} TvServerLwsParams;

/* The lws context, its vhost, and the libuv loop and GSource it runs on. */
typedef struct _TvServerLws TvServerLws;

/* tv_server_lws_new:
 * Creates the libuv loop, attaches its GSource to @params->loop's context, and
 * creates the lws context on it with its single WSS vhost, listening.
 * Returns: (transfer full) the handle (free with tv_server_lws_free) and, in
 * *@context and *@vhost, (transfer none) the lws context and vhost, valid until
 * then; or NULL with @error (TV_SERVER_ERROR: CONTEXT when lws could not start
 * on libuv — the message names the libwebsockets-evlib-uv package — or LISTEN
 * when the port could not be bound); nothing is left attached to the GLib loop
 * then. */
TvServerLws *tv_server_lws_new (const TvServerLwsParams *params, struct lws_context **context,
                                struct lws_vhost **vhost, GError **error);

/* tv_server_lws_free:
 * Destroys the lws context (every open connection is closed: the protocol
 * callbacks LWS_CALLBACK_CLOSED / WSI_DESTROY run from inside this call, so the
 * data they use must still be alive), then the GSource and the libuv loop.
 * NULL is ignored. */
void tv_server_lws_free (TvServerLws *lws);

/* tv_server_lws_set_log_level:
 * Routes libwebsockets' own log lines into GLib logging (domain "tv-lws"),
 * enabling lws levels according to @level (error: errors; warning: + warnings;
 * info: + notices; debug: + info). Call before creating a context. */
void tv_server_lws_set_log_level (TvServerLogLevel level);

G_END_DECLS
