/* tv-ws-client.c — WSS client connections (libwebsockets 4.1 on the GLib main loop).
 *
 * Why: the desktop client, the load test and every server test talk to the
 * server through this one implementation of the transport, so the protocol
 * code above it only sees whole text messages and a single "closed" event.
 *
 * How: one lws context per TvWsHub, created with LWS_SERVER_OPTION_GLIB and a
 * foreign GMainLoop over the thread-default main context (the loop object is
 * only handed to lws; whoever owns the thread iterates the context). Each
 * TvWsClient is one lws client wsi; the wsi points back at it through the
 * "opaque user data". Outgoing messages wait in a bounded queue and are written
 * one per LWS_CALLBACK_CLIENT_WRITEABLE, as lws requires. Incoming fragments are
 * joined into whole messages (capped at 1 MiB).
 *
 * Lifetime: the struct lives until both its owner freed it and lws let go of the
 * wsi. tv_ws_client_free() from inside one of the client's own callbacks only
 * marks it; the dispatcher closes the wsi and frees the struct afterwards.
 *
 * Thread: everything runs on the thread that owns the hub's main context.
 */
#define G_LOG_DOMAIN "tv-ws"

#include "client/tv-ws-client.h"

#include <errno.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/tv-sig-message.h"

/* The agreed bound on queued outgoing messages per connection. */
#define TV_WS_QUEUE_MAX 256
/* Largest incoming message we assemble; well above the protocol's 64 KiB frames
 * so that a misbehaving server is noticed, not silently truncated. */
#define TV_WS_RX_MAX (1024 * 1024)
/* Name of our lws protocol handler (local only; the wire name is chosen per connection). */
#define TV_WS_LOCAL_PROTOCOL "tv-ws-client"

G_DEFINE_QUARK (tv-ws-error-quark, tv_ws_error)

typedef enum {
  TV_WS_STATE_CONNECTING,
  TV_WS_STATE_OPEN,
  TV_WS_STATE_CLOSING, /* close requested by us; waiting for the queue to drain */
  TV_WS_STATE_DEAD,    /* lws has let go of the wsi */
} TvWsState;

/* One queued outgoing frame; LWS_PRE bytes of headroom precede the payload as lws_write() requires. */
typedef struct {
  gsize len;
  gboolean binary;
  unsigned char buf[];
} TvWsFrame;

struct _TvWsHub {
  struct lws_context *context;
  GMainContext *main_context;
  GMainLoop *loop;      /* only handed to lws; never run by us */
  void *loops[1];       /* foreign_loops array given to lws */
  GList *clients;       /* every TvWsClient struct not yet destroyed */
  gboolean destroying;  /* inside tv_ws_hub_free(): no user callbacks */
  gboolean insecure;    /* skip certificate checks on every connection */
};

struct _TvWsClient {
  TvWsHub *hub;          /* NULL after the hub was freed */
  GList *link;           /* our node in hub->clients */
  struct lws *wsi;       /* NULL once lws is done with the connection */
  TvWsClientCallbacks cb;
  gpointer user_data;
  TvWsState state;
  gboolean freed;        /* the owner called tv_ws_client_free() */
  guint in_dispatch;     /* > 0 while one of the owner's callbacks runs */
  gboolean in_connect;   /* inside lws_client_connect_via_info(): failures are returned, not called back */
  gboolean closed_reported;
  gboolean established;   /* the WebSocket handshake completed */
  gboolean require_protocol; /* fail the handshake unless the server accepted @offered */
  gboolean got_peer_close;
  gboolean write_failed; /* the socket refused a write: only reading until it ends */
  int peer_close_code;
  char *offered;         /* subprotocol offered, NULL = none */
  char *protocol;        /* subprotocol the server accepted */
  GError *error;         /* why the connection failed / was closed by us, if not clean */
  GQueue queue;          /* of TvWsFrame* */
  GByteArray *rx;        /* message being assembled */
  gboolean rx_binary;
};

static void
tv_ws_frame_free (gpointer frame)
{
  g_free (frame);
}

/* Frees the struct itself. The wsi must already be detached (or the hub gone). */
static void
client_destroy (TvWsClient *ws)
{
  if (ws->hub != NULL)
    ws->hub->clients = g_list_delete_link (ws->hub->clients, ws->link);
  g_queue_clear_full (&ws->queue, tv_ws_frame_free);
  g_byte_array_unref (ws->rx);
  g_clear_error (&ws->error);
  g_free (ws->offered);
  g_free (ws->protocol);
  g_free (ws);
}

/* lws has finished with the connection (error before opening, or closed after).
 * Reports "closed" once to a live owner, then frees the struct if the owner
 * already let go of it. The wsi is never touched again. */
static void
client_finish (TvWsClient *ws, struct lws *wsi, const char *lws_error)
{
  gboolean report;

  if (wsi != NULL)
    lws_set_opaque_user_data (wsi, NULL);
  ws->wsi = NULL;

  if (ws->error == NULL) {
    if (!ws->established)
      ws->error = g_error_new (TV_WS_ERROR, TV_WS_ERR_CONNECT, "connection failed: %s",
                               lws_error != NULL ? lws_error : "unknown reason");
    else if (!ws->got_peer_close && ws->state != TV_WS_STATE_CLOSING)
      /* No close frame from the server and we did not ask to close: the link broke. */
      ws->error = g_error_new_literal (TV_WS_ERROR, TV_WS_ERR_CLOSED, "connection lost");
  }
  ws->state = TV_WS_STATE_DEAD;

  report = !ws->freed && !ws->closed_reported && !ws->in_connect &&
           (ws->hub == NULL || !ws->hub->destroying);
  if (report) {
    ws->closed_reported = TRUE;
    if (ws->cb.closed != NULL) {
      ws->in_dispatch++;
      ws->cb.closed (ws, ws->got_peer_close ? ws->peer_close_code : 0, ws->error, ws->user_data);
      ws->in_dispatch--;
    }
  }
  if (ws->freed && ws->in_dispatch == 0)
    client_destroy (ws);
}

/* Sends the next queued frame. Returns -1 when lws must close the connection. */
static int
client_write_one (TvWsClient *ws, struct lws *wsi)
{
  TvWsFrame *frame;

  if (ws->write_failed)
    return 0;
  frame = g_queue_pop_head (&ws->queue);

  if (frame != NULL) {
    int n = lws_write (wsi, frame->buf + LWS_PRE, frame->len, frame->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    gsize len = frame->len;

    g_free (frame);
    if (n < 0 || (gsize) n < len) {
      /* Typically the server closed on us (e.g. after a fatal error) while we
       * were still sending. What it sent before closing may still be unread in
       * our socket: closing now would throw away its last messages (the error
       * frame, the close frame). Stop writing, keep reading, and give the
       * connection a few seconds to end by itself. */
      g_debug ("write failed; draining what the server already sent");
      ws->write_failed = TRUE;
      g_queue_clear_full (&ws->queue, tv_ws_frame_free);
      lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, 3);
      return 0;
    }
  }
  if (!g_queue_is_empty (&ws->queue)) {
    lws_callback_on_writable (wsi);
    return 0;
  }
  if (ws->state == TV_WS_STATE_CLOSING) {
    /* Queue drained: start the closing handshake (lws sends the close frame). */
    lws_close_reason (wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
    return -1;
  }
  return 0;
}

/* Appends one received chunk; delivers the message when it is complete.
 * Returns -1 when lws must close the connection. */
static int
client_receive (TvWsClient *ws, struct lws *wsi, const void *in, gsize len)
{
  if (ws->rx->len == 0)
    ws->rx_binary = lws_frame_is_binary (wsi) != 0;
  if (len > TV_WS_RX_MAX - ws->rx->len) {
    g_debug ("incoming message over %d bytes: closing", TV_WS_RX_MAX);
    if (ws->error == NULL)
      ws->error = g_error_new (TV_WS_ERROR, TV_WS_ERR_CLOSED, "server sent a message over %d bytes", TV_WS_RX_MAX);
    lws_close_reason (wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, NULL, 0);
    return -1;
  }
  g_byte_array_append (ws->rx, in, (guint) len);
  if (!lws_is_final_fragment (wsi))
    return 0;

  if (ws->rx_binary) {
    /* Not part of the protocol; nothing above us can use it. */
    g_debug ("ignoring a binary message of %u bytes", ws->rx->len);
  } else if (ws->cb.message != NULL) {
    gsize mlen = ws->rx->len;

    g_byte_array_append (ws->rx, (const guint8 *) "", 1); /* NUL for the owner's convenience */
    ws->in_dispatch++;
    ws->cb.message (ws, (const char *) ws->rx->data, mlen, ws->user_data);
    ws->in_dispatch--;
  }
  g_byte_array_set_size (ws->rx, 0);
  return 0;
}

static int
tv_ws_lws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  TvWsClient *ws = wsi != NULL ? lws_get_opaque_user_data (wsi) : NULL;

  if (ws == NULL)
    return 0; /* vhost-level callbacks, or a connection we already let go of */

  switch (reason) {
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
    /* @in is lws's reason text; bounded by @len when lws gives one. */
    g_autofree char *why = in == NULL ? NULL : len > 0 ? g_strndup (in, len) : g_strdup (in);

    client_finish (ws, wsi, why);
    return 0;
  }

  case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH: {
    char proto[128];
    int n = lws_hdr_copy (wsi, proto, sizeof proto, WSI_TOKEN_PROTOCOL);

    g_clear_pointer (&ws->protocol, g_free);
    if (n > 0)
      ws->protocol = g_strndup (proto, (gsize) n);
    /* lws 4.1 accepts a response without Sec-WebSocket-Protocol even when we
     * offered one; we don't: the server must speak our protocol version. */
    if (ws->require_protocol && g_strcmp0 (ws->protocol, ws->offered) != 0) {
      ws->error = g_error_new (TV_WS_ERROR, TV_WS_ERR_CONNECT,
                               "server did not accept subprotocol %s", ws->offered);
      return 1;
    }
    return 0;
  }

  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    ws->established = TRUE;
    ws->state = ws->state == TV_WS_STATE_CLOSING ? TV_WS_STATE_CLOSING : TV_WS_STATE_OPEN;
    if (ws->freed)
      return -1;
    if (ws->cb.opened != NULL) {
      ws->in_dispatch++;
      ws->cb.opened (ws, ws->user_data);
      ws->in_dispatch--;
    }
    if (ws->freed)
      return -1;
    if (!g_queue_is_empty (&ws->queue) || ws->state == TV_WS_STATE_CLOSING)
      lws_callback_on_writable (wsi);
    return 0;

  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (ws->freed)
      return -1;
    if (client_receive (ws, wsi, in, len) < 0)
      return -1;
    return ws->freed ? -1 : 0;

  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (ws->freed)
      return -1;
    return client_write_one (ws, wsi);

  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    ws->got_peer_close = TRUE;
    ws->peer_close_code = len >= 2 ? (((const unsigned char *) in)[0] << 8) | ((const unsigned char *) in)[1]
                                   : LWS_CLOSE_STATUS_NO_STATUS;
    return 0; /* let lws echo the close */

  case LWS_CALLBACK_CLIENT_CLOSED:
  case LWS_CALLBACK_WSI_DESTROY:
    /* WSI_DESTROY only matters if lws ends a connection without the two above. */
    client_finish (ws, wsi, "closed");
    return 0;

  default:
    return 0;
  }
}

static const struct lws_protocols tv_ws_protocols[] = {
  {
    .name = TV_WS_LOCAL_PROTOCOL,
    .callback = tv_ws_lws_callback,
    .per_session_data_size = 0,
    /* One protocol frame in one read where possible; larger ones arrive in chunks and are joined. */
    .rx_buffer_size = TV_SIG_MAX_FRAME_BYTES,
  },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* lws logs go through GLib (debug level: failures reach the owner as GErrors). */
static void
tv_ws_lws_log (int level, const char *line)
{
  gsize n = strlen (line);

  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  g_debug ("lws[%d]: %.*s", level, (int) n, line);
}

/* lws 4.1 accepts a missing or unreadable CA file silently (and then fails
 * every handshake with an opaque TLS error): check it up front instead. */
static gboolean
check_ca_file (const char *path, GError **error)
{
  BIO *bio = BIO_new_file (path, "r");
  guint n = 0;
  X509 *cert;

  if (bio == NULL) {
    int saved = errno;

    ERR_clear_error ();
    g_set_error (error, TV_WS_ERROR, TV_WS_ERR_CA_FILE, "cannot read the CA file %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  while ((cert = PEM_read_bio_X509 (bio, NULL, NULL, NULL)) != NULL) {
    n++;
    X509_free (cert);
  }
  ERR_clear_error (); /* the read that ends the loop always "fails" */
  BIO_free (bio);
  if (n == 0) {
    g_set_error (error, TV_WS_ERROR, TV_WS_ERR_CA_FILE, "no PEM certificate in the CA file %s", path);
    return FALSE;
  }
  return TRUE;
}

TvWsHub *
tv_ws_hub_new (const char *ca_file, gboolean insecure, GError **error)
{
  static gsize log_once = 0;
  struct lws_context_creation_info info;
  TvWsHub *hub;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_once_init_enter (&log_once)) {
    /* TV_WS_LWS_LOG=<lws level bits> (e.g. 15) shows more of lws, at GLib debug level. */
    const char *lv = g_getenv ("TV_WS_LWS_LOG");

    lws_set_log_level (lv != NULL ? atoi (lv) : LLL_ERR | LLL_WARN, tv_ws_lws_log);
    g_once_init_leave (&log_once, 1);
  }

  if (ca_file != NULL && !insecure && !check_ca_file (ca_file, error))
    return NULL;

  hub = g_new0 (TvWsHub, 1);
  hub->main_context = g_main_context_ref_thread_default ();
  hub->loop = g_main_loop_new (hub->main_context, FALSE);
  hub->loops[0] = hub->loop;

  memset (&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = tv_ws_protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_GLIB;
  info.foreign_loops = hub->loops;
  info.client_ssl_ca_filepath = ca_file;
  info.gid = -1;
  info.uid = -1;
  info.user = hub;

  hub->context = lws_create_context (&info);
  if (hub->context == NULL) {
    g_set_error (error, TV_WS_ERROR, TV_WS_ERR_CONTEXT,
                 "could not create the libwebsockets client context (is libwebsockets-evlib-glib installed?)");
    g_main_loop_unref (hub->loop);
    g_main_context_unref (hub->main_context);
    g_free (hub);
    return NULL;
  }
  if (insecure)
    g_message ("TLS certificate checks are disabled (insecure mode)");
  hub->insecure = insecure;
  return hub;
}

void
tv_ws_hub_free (TvWsHub *hub)
{
  GList *l;

  if (hub == NULL)
    return;
  hub->destroying = TRUE;
  /* Closes every connection; their lws callbacks run now and report nothing. */
  lws_context_destroy (hub->context);
  hub->context = NULL;
  /* Structs the owners still hold outlive the hub: detach them so that a later
   * tv_ws_client_free() only frees memory. */
  for (l = hub->clients; l != NULL; l = l->next) {
    TvWsClient *ws = l->data;

    ws->hub = NULL;
    ws->link = NULL;
    ws->wsi = NULL;
    ws->state = TV_WS_STATE_DEAD;
  }
  g_list_free (hub->clients);
  g_main_loop_unref (hub->loop);
  g_main_context_unref (hub->main_context);
  g_free (hub);
}

/* Splits @url into the parts lws wants. Returns FALSE with BAD_URL. */
static gboolean
parse_url (const char *url, gboolean allow_plain, gboolean *tls, char **host, int *port, char **path,
           GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local = NULL;
  const char *scheme;
  const char *p;
  const char *query;

  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local);
  if (uri == NULL) {
    g_set_error (error, TV_WS_ERROR, TV_WS_ERR_BAD_URL, "invalid URL: %s", local->message);
    return FALSE;
  }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "wss") == 0) {
    *tls = TRUE;
  } else if (allow_plain && g_ascii_strcasecmp (scheme, "ws") == 0) {
    *tls = FALSE;
  } else {
    g_set_error (error, TV_WS_ERROR, TV_WS_ERR_BAD_URL, "URL scheme must be wss://, not %s://", scheme);
    return FALSE;
  }
  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0') {
    g_set_error_literal (error, TV_WS_ERROR, TV_WS_ERR_BAD_URL, "URL has no host");
    return FALSE;
  }
  if (g_uri_get_user (uri) != NULL || g_uri_get_fragment (uri) != NULL) {
    g_set_error_literal (error, TV_WS_ERROR, TV_WS_ERR_BAD_URL, "URL must not have user info or a fragment");
    return FALSE;
  }
  *port = g_uri_get_port (uri);
  if (*port <= 0)
    *port = *tls ? 443 : 80;
  if (*port > 65535) {
    g_set_error_literal (error, TV_WS_ERROR, TV_WS_ERR_BAD_URL, "URL port out of range");
    return FALSE;
  }
  p = g_uri_get_path (uri);
  query = g_uri_get_query (uri);
  *host = g_strdup (g_uri_get_host (uri));
  *path = g_strdup_printf ("%s%s%s", p != NULL && p[0] != '\0' ? p : "/", query != NULL ? "?" : "",
                           query != NULL ? query : "");
  return TRUE;
}

TvWsClient *
tv_ws_client_connect_full (TvWsHub *hub, const char *url, const TvWsConnectOptions *options,
                           const TvWsClientCallbacks *callbacks, gpointer user_data, GError **error)
{
  static const TvWsConnectOptions defaults = { 0 };
  struct lws_client_connect_info cc;
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;
  struct lws *wsi = NULL;
  gboolean tls = TRUE;
  TvWsClient *ws;
  int port = 0;

  g_return_val_if_fail (hub != NULL && hub->context != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (options == NULL)
    options = &defaults;

  if (!parse_url (url, options->allow_plain, &tls, &host, &port, &path, error))
    return NULL;

  ws = g_new0 (TvWsClient, 1);
  ws->hub = hub;
  hub->clients = g_list_prepend (hub->clients, ws);
  ws->link = hub->clients;
  if (callbacks != NULL)
    ws->cb = *callbacks;
  ws->user_data = user_data;
  ws->state = TV_WS_STATE_CONNECTING;
  ws->rx = g_byte_array_new ();
  g_queue_init (&ws->queue);
  /* Our own protocol must be accepted; a test offering something else wants
   * to see what the server does, so nothing is enforced then. */
  ws->require_protocol = options->subprotocol == NULL;
  if (options->subprotocol == NULL)
    ws->offered = g_strdup (TV_SIG_SUBPROTOCOL);
  else if (options->subprotocol[0] != '\0')
    ws->offered = g_strdup (options->subprotocol);

  memset (&cc, 0, sizeof cc);
  cc.context = hub->context;
  cc.address = host;
  cc.port = port;
  cc.path = path;
  cc.host = host;
  cc.origin = host;
  cc.protocol = ws->offered;
  cc.local_protocol_name = TV_WS_LOCAL_PROTOCOL;
  cc.iface = options->local_address;
  cc.opaque_user_data = ws;
  cc.pwsi = &wsi;
  if (tls) {
    cc.ssl_connection = LCCSCF_USE_SSL;
    if (hub->insecure)
      cc.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                           LCCSCF_ALLOW_EXPIRED | LCCSCF_ALLOW_INSECURE;
  }

  /* lws may already fail inside this call (and call back with the wsi given
   * through pwsi); such a failure is returned here, not reported via "closed". */
  ws->in_connect = TRUE;
  ws->wsi = wsi = lws_client_connect_via_info (&cc);
  ws->in_connect = FALSE;
  if (wsi == NULL || ws->state == TV_WS_STATE_DEAD) {
    if (wsi != NULL)
      lws_set_opaque_user_data (wsi, NULL);
    if (ws->error != NULL) {
      g_propagate_error (error, ws->error);
      ws->error = NULL;
    } else {
      g_set_error (error, TV_WS_ERROR, TV_WS_ERR_CONNECT, "could not start connecting to %s:%d", host, port);
    }
    ws->wsi = NULL;
    client_destroy (ws);
    return NULL;
  }
  return ws;
}

TvWsClient *
tv_ws_client_connect (TvWsHub *hub, const char *url, const TvWsClientCallbacks *callbacks,
                      gpointer user_data, GError **error)
{
  return tv_ws_client_connect_full (hub, url, NULL, callbacks, user_data, error);
}

gboolean
tv_ws_client_send_raw (TvWsClient *ws, const void *data, gsize len, gboolean binary, GError **error)
{
  TvWsFrame *frame;

  g_return_val_if_fail (ws != NULL && !ws->freed, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((ws->state != TV_WS_STATE_CONNECTING && ws->state != TV_WS_STATE_OPEN) || ws->write_failed) {
    g_set_error_literal (error, TV_WS_ERROR, TV_WS_ERR_CLOSED, "connection is not open");
    return FALSE;
  }
  if (g_queue_get_length (&ws->queue) >= TV_WS_QUEUE_MAX) {
    g_set_error (error, TV_WS_ERROR, TV_WS_ERR_QUEUE_FULL, "send queue full (%d messages)", TV_WS_QUEUE_MAX);
    return FALSE;
  }
  if (len > G_MAXSIZE - sizeof (TvWsFrame) - LWS_PRE) {
    g_set_error_literal (error, TV_WS_ERROR, TV_WS_ERR_QUEUE_FULL, "message too large");
    return FALSE;
  }
  frame = g_malloc (sizeof (TvWsFrame) + LWS_PRE + len);
  frame->len = len;
  frame->binary = binary;
  if (len > 0)
    memcpy (frame->buf + LWS_PRE, data, len);
  g_queue_push_tail (&ws->queue, frame);
  if (ws->state == TV_WS_STATE_OPEN && ws->wsi != NULL)
    lws_callback_on_writable (ws->wsi);
  return TRUE;
}

gboolean
tv_ws_client_send (TvWsClient *ws, const char *text, GError **error)
{
  g_return_val_if_fail (text != NULL, FALSE);
  return tv_ws_client_send_raw (ws, text, strlen (text), FALSE, error);
}

void
tv_ws_client_close (TvWsClient *ws)
{
  g_return_if_fail (ws != NULL && !ws->freed);

  if (ws->state == TV_WS_STATE_OPEN) {
    ws->state = TV_WS_STATE_CLOSING;
    lws_callback_on_writable (ws->wsi);
  } else if (ws->state == TV_WS_STATE_CONNECTING) {
    /* Closes right after the handshake, once queued messages are out. */
    ws->state = TV_WS_STATE_CLOSING;
  }
}

void
tv_ws_client_free (TvWsClient *ws)
{
  if (ws == NULL || ws->freed)
    return;
  ws->freed = TRUE;
  memset (&ws->cb, 0, sizeof ws->cb);
  if (ws->in_dispatch > 0)
    return; /* the dispatcher closes the wsi and finishes the job */
  if (ws->wsi != NULL) {
    /* Dropped, not closed cleanly: no close frame; the struct goes on lws's
     * final callback for the wsi. */
    lws_set_timeout (ws->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  client_destroy (ws);
}

const char *
tv_ws_client_get_protocol (TvWsClient *ws)
{
  g_return_val_if_fail (ws != NULL, NULL);
  return ws->established ? ws->protocol : NULL;
}

gboolean
tv_ws_client_is_open (TvWsClient *ws)
{
  g_return_val_if_fail (ws != NULL, FALSE);
  return ws->established && (ws->state == TV_WS_STATE_OPEN || ws->state == TV_WS_STATE_CLOSING);
}

guint
tv_ws_client_get_queued (TvWsClient *ws)
{
  g_return_val_if_fail (ws != NULL, 0);
  return g_queue_get_length (&ws->queue);
}
