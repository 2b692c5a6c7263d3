/* tv-server-private.h — TvServer's fields, shared by tv-server.c and tv-consult-ws.c only.
 *
 * Why: the consult protocol code needs the server's store, room table and
 * connection set; other folders must go through tv-server.h.
 * Thread: main loop only.
 */
#pragma once

#include <glib.h>
#include <libwebsockets.h>

#include "server/tv-config.h"
#include "server/tv-server.h"
#include "server/tv-store.h"

G_BEGIN_DECLS

struct _TvServer {
  TvServerConfig *cfg;
  GMainLoop *loop;
  GMainContext *ctx;           /* the loop's context: our GSources attach here */
  TvStore *store;
  struct _TvHttp *http;        /* HTTPS API router (tv-http.h); routes from tv-api.c */
  struct _TvServerLws *lws_loop; /* lws context + its libuv loop on our GLib loop (tv-lws-glue.h) */
  struct lws_context *lws;     /* borrowed from lws_loop */
  struct lws_vhost *vhost;     /* borrowed from lws_loop */
  guint port;
  GHashTable *rooms;           /* consult id (owned by the room) -> TvServerRoom (owned) */
  GHashTable *conns;           /* set of open connections (owned by lws' session data) */
  guint next_conn_id;          /* for log lines: "conn 17" */
  struct _TvAddrLimits *addr_limits; /* per-client-address connection / rate limits (tv-addr-limit.h) */
  struct _TvHeapTrim *heap_trim; /* malloc_trim after the connection count moved (tv-heap-trim.h) */
  char *turn_secret;           /* TURN shared secret (cfg->turn_secret_file), NULL = no TURN; never logged */
  gint64 last_full_warning;    /* monotonic time of the last "max-connections reached" warning */
  guint refused_since_warning; /* handshakes refused for that reason since then */
  GSource *status_timer;       /* 1 s: consults ended by televisitctl */
  struct _TvReminders *reminders; /* reminder outbox sender (tv-reminders.h) */
  gboolean shutting_down;      /* refuse new connections; no more room logic */
  gboolean destroying;         /* lws_context_destroy running: closes are not departures */
  GSourceFunc shutdown_done;
  gpointer shutdown_data;
  GSource *shutdown_timer;     /* grace period */
  GSource *shutdown_idle;      /* reports "done" from a clean stack */
};

/* Called by tv-consult-ws.c when the last connection closed during a shutdown. */
void tv_server_private_connections_drained (TvServer *server);

G_END_DECLS
