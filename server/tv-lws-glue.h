/* tv-lws-glue.h — libwebsockets on the GLib main loop, and lws logs into GLib logging.
 *
 * Why: the server (and nothing else) runs one lws context on the process's
 * GMainLoop (LWS_SERVER_OPTION_GLIB + foreign_loops, the evlib_glib plugin);
 * keeping the context set-up in one small file keeps the protocol code free of
 * event-loop details.
 * Thread: the main loop's thread.
 */
#pragma once

#include <glib.h>
#include <libwebsockets.h>

#include "server/tv-config.h"

G_BEGIN_DECLS

typedef struct {
  GMainLoop *loop;                          /* the loop lws attaches to (foreign loop) */
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

/* tv_server_lws_context_new:
 * Creates the context and its single WSS vhost, listening.
 * Returns: (transfer full) the context (free with lws_context_destroy) and
 * *@vhost, or NULL with @error (TV_SERVER_ERROR: CONTEXT when lws could not start
 * on the GLib loop — the message names the libwebsockets-evlib-glib package —
 * or LISTEN when the port could not be bound). */
struct lws_context *tv_server_lws_context_new (const TvServerLwsParams *params,
                                               struct lws_vhost **vhost, GError **error);

/* tv_server_lws_set_log_level:
 * Routes libwebsockets' own log lines into GLib logging (domain "tv-lws"),
 * enabling lws levels according to @level (error: errors; warning: + warnings;
 * info: + notices; debug: + info). Call before creating a context. */
void tv_server_lws_set_log_level (TvServerLogLevel level);

G_END_DECLS
