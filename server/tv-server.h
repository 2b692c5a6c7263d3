/* tv-server.h — the TvServer object: one running televisit-server instance.
 *
 * Why: everything the daemon owns (configuration, session store, TLS material,
 * the libwebsockets context and its listening vhost, the table of live consult
 * rooms, the timers) hangs off one object instead of globals, so a process (or a
 * test) can run a server, stop it gracefully and free it.
 * Thread: the thread that owns @loop's GMainContext; every function must be
 * called from it.
 */
#pragma once

#include <glib.h>

#include "server/tv-config.h"

G_BEGIN_DECLS

#define TV_SERVER_ERROR (tv_server_error_quark ())
GQuark tv_server_error_quark (void);

typedef enum {
  TV_SERVER_ERR_DATA_DIR, /* data directory could not be created */
  TV_SERVER_ERR_STORE,    /* session store could not be opened */
  TV_SERVER_ERR_TLS,      /* certificate/key could not be generated or loaded */
  TV_SERVER_ERR_CONTEXT,  /* libwebsockets context could not be created (evlib_uv plugin?) */
  TV_SERVER_ERR_LISTEN,   /* could not listen on the address/port */
  TV_SERVER_ERR_TURN,     /* the TURN secret file could not be read */
} TvServerErrorCode;

typedef struct _TvServer TvServer;

/* tv_server_new:
 * Prepares the data directory, opens the store (DATA_DIR/televisit.db), loads or
 * generates the TLS material, creates the libwebsockets context on @loop
 * (GLib foreign loop) and starts listening. Does not print anything.
 * @config: (transfer full) a validated configuration.
 * @loop: the main loop that will run the server (a reference is taken).
 * Returns: (transfer full) the listening server, or NULL with @error
 * (TV_SERVER_ERROR) and everything released. */
TvServer *tv_server_new (TvServerConfig *config, GMainLoop *loop, GError **error);

/* Returns: the TCP port actually listened on (the real one when configured 0). */
guint tv_server_get_port (TvServer *server);

/* Returns: (transfer full) "wss://HOST:PORT/" with the configured listen address
 * (IPv6 in brackets) and the real port. */
char *tv_server_get_url (TvServer *server);

/* Returns: (transfer none) the configuration in use. */
const TvServerConfig *tv_server_get_config (TvServer *server);

/* Returns: (transfer none) the server's store (for API handlers and tests). */
struct _TvStore *tv_server_get_store (TvServer *server);

/* Returns: (transfer none) the HTTPS API router (server/tv-http.h). */
struct _TvHttp *tv_server_get_http (TvServer *server);

/* Returns: the number of open WebSocket connections / live consult rooms. */
guint tv_server_get_n_connections (TvServer *server);
guint tv_server_get_n_rooms (TvServer *server);

/* tv_server_shutdown:
 * Graceful stop: refuses new connections, closes the open connected interval of
 * every live consult in the store, sends error 5001 to every client and closes
 * their connections. Calls @done (once, from the main loop) when every
 * connection is gone or after a 3 s grace period, whichever comes first.
 * Calling it again while a shutdown is in progress does nothing. */
void tv_server_shutdown (TvServer *server, GSourceFunc done, gpointer user_data);

/* tv_server_free:
 * Destroys the lws context (dropping any connection still open, without store
 * writes), closes the store and frees the server. NULL accepted. */
void tv_server_free (TvServer *server);

G_END_DECLS
