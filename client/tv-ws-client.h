/* tv-ws-client.h — WSS client connections on the GLib main loop (libwebsockets).
 *
 * A TvWsHub is one libwebsockets client context running on the thread-default
 * GMainContext's loop (LWS_SERVER_OPTION_GLIB foreign loop); it can carry many
 * connections (one for the desktop client, thousands for a load test). A
 * TvWsClient is one connection speaking the TV_SIG_SUBPROTOCOL. Sends are queued
 * (bounded) and written from the WRITEABLE callback only. All callbacks run on
 * the hub's main loop thread; all functions must be called from it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_WS_ERROR (tv_ws_error_quark ())
GQuark tv_ws_error_quark (void);

typedef enum {
  TV_WS_ERR_BAD_URL,     /* not wss://host:port[/path] */
  TV_WS_ERR_CONTEXT,     /* libwebsockets context could not be created (e.g. evlib_glib missing) */
  TV_WS_ERR_CONNECT,     /* connection/TLS/handshake failed */
  TV_WS_ERR_QUEUE_FULL,  /* send queue bound reached */
  TV_WS_ERR_CLOSED,      /* connection not open / lost */
  TV_WS_ERR_CA_FILE,     /* CA file unreadable or without a PEM certificate */
} TvWsErrorCode;

typedef struct _TvWsHub TvWsHub;
typedef struct _TvWsClient TvWsClient;

/* tv_ws_hub_new:
 * @ca_file: PEM file with the CA / self-signed server certificate to trust, or
 * NULL to use the system trust store. @insecure: accept any certificate (tests
 * and first-run only; logged as a warning).
 * Returns: (transfer full) a hub, or NULL with @error: TV_WS_ERR_CA_FILE (checked
 * up front unless @insecure), TV_WS_ERR_CONTEXT. */
TvWsHub *tv_ws_hub_new (const char *ca_file, gboolean insecure, GError **error);
/* Closes every connection still open (without callbacks) and destroys the context.
 * Clients not yet freed stay valid (dead) until tv_ws_client_free(). Not from
 * inside a client callback. NULL accepted. */
void tv_ws_hub_free (TvWsHub *hub);

typedef struct {
  void (*opened) (TvWsClient *ws, gpointer user_data);
  /* One complete text message (fragments joined), not NUL-terminated beyond @len
   * (a NUL is appended for convenience). */
  void (*message) (TvWsClient *ws, const char *data, gsize len, gpointer user_data);
  /* Called exactly once, unless the client was freed first or its hub was freed.
   * Connection failed before opening (@error TV_WS_ERR_CONNECT: refused, TLS,
   * handshake, subprotocol not accepted) or closed after opening: @error NULL
   * for a close handshake (either side), TV_WS_ERR_CLOSED when the connection
   * was lost without one; @close_code is the code the server sent in its close
   * frame, 0 if none. After this callback the TvWsClient is dead: free it
   * (from inside the callback is fine). Binary messages are never delivered. */
  void (*closed) (TvWsClient *ws, int close_code, const GError *error, gpointer user_data);
} TvWsClientCallbacks;

/* tv_ws_client_connect:
 * Starts connecting to @url ("wss://host:port/path"; the path defaults to "/").
 * Returns: (transfer full) the connection (callbacks follow), or NULL with
 * @error (BAD_URL, CONNECT) and no callback. */
TvWsClient *tv_ws_client_connect (TvWsHub *hub, const char *url, const TvWsClientCallbacks *callbacks,
                                  gpointer user_data, GError **error);

/* Options for tv_ws_client_connect_full(); zero-initialise ({ 0 }) for the defaults. */
typedef struct {
  /* Subprotocol offered in the handshake: NULL = TV_SIG_SUBPROTOCOL; "" = offer
   * none (tests: the server must refuse that handshake). */
  const char *subprotocol;
  /* Accept "ws://" URLs (plain TCP, no TLS). Tests only: the server must refuse. */
  gboolean allow_plain;
  /* Local IP address to connect from (bind before connect), NULL = any.
   * Tests use 127.0.0.N to appear as many client hosts on loopback. */
  const char *local_address;
} TvWsConnectOptions;

/* tv_ws_client_connect_full:
 * Like tv_ws_client_connect() with @options (NULL = defaults).
 * Returns: (transfer full) the connection, or NULL with @error and no callback. */
TvWsClient *tv_ws_client_connect_full (TvWsHub *hub, const char *url, const TvWsConnectOptions *options,
                                       const TvWsClientCallbacks *callbacks, gpointer user_data,
                                       GError **error);

/* tv_ws_client_get_protocol:
 * Returns: (transfer none) the subprotocol the server accepted (valid once
 * "opened" ran, until the client is freed), or NULL when none was negotiated
 * or the connection is not open yet. */
const char *tv_ws_client_get_protocol (TvWsClient *ws);

/* Returns: TRUE between the "opened" and the "closed" callbacks. */
gboolean tv_ws_client_is_open (TvWsClient *ws);

/* Returns: the number of messages queued and not yet handed to the socket. */
guint tv_ws_client_get_queued (TvWsClient *ws);

/* tv_ws_client_send:
 * Queues one text message (copied). At most 256 queued messages. Allowed while
 * still connecting: the queue is written once the WebSocket is open.
 * Returns: FALSE with QUEUE_FULL or CLOSED (closed, closing, or a write already
 * failed); nothing queued then. */
gboolean tv_ws_client_send (TvWsClient *ws, const char *text, GError **error);

/* tv_ws_client_send_raw:
 * For tests: queue raw bytes as one frame, @binary selects a binary frame.
 * Same bound and errors as tv_ws_client_send. */
gboolean tv_ws_client_send_raw (TvWsClient *ws, const void *data, gsize len, gboolean binary, GError **error);

/* Starts a clean close after the queue drains; "closed" follows. */
void tv_ws_client_close (TvWsClient *ws);

/* Frees a connection; if still open, it is dropped (no close frame: the server
 * sees a lost connection) without the closed callback. Safe from inside the
 * client's own callbacks. NULL accepted. */
void tv_ws_client_free (TvWsClient *ws);

G_END_DECLS
