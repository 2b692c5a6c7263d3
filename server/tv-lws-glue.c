/* tv-lws-glue.c — libwebsockets context on the GLib main loop; lws logs into GLib.
 *
 * Why: isolates the lws event-loop and TLS set-up (one explicit WSS vhost, TLS
 * 1.2+ with strong ciphers) from the protocol code. lws is single-threaded: all
 * of it runs on the main loop.
 *
 * How lws meets the GLib loop: lws runs on a libuv loop of its own
 * (LWS_SERVER_OPTION_LIBUV + foreign_loops, the evlib_uv plugin), and that uv
 * loop is driven by ONE GSource on the process's GMainContext: it watches
 * uv_backend_fd() (an epoll fd, readable when any lws socket is), takes its
 * timeout from uv_backend_timeout(), and runs uv_run(UV_RUN_NOWAIT) when
 * dispatched. lws' GLib event library (evlib_glib) keeps one GSource per
 * connection instead, and GLib's poll() prepares and checks every one of them on
 * every loop iteration: with 2,000 clients that walk was half of the server's
 * CPU (docs/BENCHMARKS.md, "Signaling load on one GSource"). Now an iteration
 * costs what its active sockets cost. Everything else (timers, store, HTTP
 * deferred replies) stays on the GLib loop, which remains the only loop the
 * process runs.
 * Thread: the main loop's thread.
 */
#define G_LOG_DOMAIN "tv-lws"

#include "server/tv-lws-glue.h"
#include "server/tv-server.h"
#include "server/tv-tls.h"

#include <string.h>
#include <gio/gio.h>
#include <openssl/ssl.h>
#include <uv.h>

/* Upper bound of uv_run passes at tear-down for lws to close its handles (each
 * pass runs the close callbacks queued by the one before; 3-4 are needed). */
#define UV_CLOSE_PASSES 1000

/* _lws_plat_service_forced_tsi() is lws' "forced service" of connections with
 * data already read off the socket (TLS records decrypted but not yet consumed,
 * rx-flow buffers), declared for event-library plugins in
 * <libwebsockets/lws-eventlib-exports.h>. The 4.1 evlib_uv plugin runs it once
 * from a uv idle handle and then stops that handle even when data is still
 * pending: a 15 KB request body in one TLS record is read 4 KB at a time, and the
 * rest waited for the next socket event (the HTTPS request hung until its
 * timeout; test-http-auth /http-auth/router/body-limit). We call it ourselves
 * while lws says some is pending (lws_service_adjust_timeout() == 0), once per
 * GLib iteration, as lws' own poll loop does. */

struct _TvServerLws {
  uv_loop_t uv;
  GSource *source; /* (owned) UvSource, attached to the loop's context */
  struct lws_context *ctx;
  struct lws_vhost *vhost;
};

/* The GSource that runs the uv loop. */
typedef struct {
  GSource base;
  TvServerLws *lws;
  gpointer fd_tag; /* uv_backend_fd() watched for G_IO_IN */
} UvSource;

/* libuv applies uv_poll_start/stop to its epoll set only inside uv_run: a
 * change made from a GLib callback (a reply queued by an HTTP deferred handler
 * or a timer: lws_callback_on_writable) is not yet in the epoll set, so it
 * cannot wake the poll, and uv_backend_timeout() does not count it. The queue of
 * such changes is a private field of uv_loop_t, in the public header and part of
 * libuv 1.x's ABI (a two-pointer circular list, empty when it points at itself). */
static gboolean
uv_has_pending_watcher_changes (const uv_loop_t *uv)
{
  return uv->watcher_queue[0] != (const void *) &uv->watcher_queue;
}

/* lws' evlib_uv plugin calls uv_poll_start() on every lws_change_pollfd(),
 * also when the mask does not change, and libuv 1.44 turns each call into an
 * epoll_ctl DEL + ADD. Skipping those by defining uv_poll_start here (the
 * plugin's calls bind to the executable's definition) measured no change in
 * bookings/s or CPU per request (docs/BENCHMARKS.md, 2026-11-29 (4)) and was
 * removed: it would replace a library function for the whole process and
 * depend on libuv's internal use of its watcher fields. */

/* TRUE when lws holds input it has not delivered yet (see above). */
static gboolean
lws_has_buffered_input (TvServerLws *lws)
{
  return lws->ctx != NULL && lws_service_adjust_timeout (lws->ctx, 1, 0) == 0;
}

/* Milliseconds until the uv loop has work without any socket becoming ready:
 * 0 = now (idle handles, pending callbacks, closing handles, a due timer,
 * watcher changes to apply, lws input buffered), -1 = only when a socket is
 * ready. */
static int
uv_source_timeout (TvServerLws *lws)
{
  uv_loop_t *uv = &lws->uv;
  if (uv_has_pending_watcher_changes (uv) || lws_has_buffered_input (lws))
    return 0;
  if (!uv_loop_alive (uv))
    return -1; /* uv_backend_timeout() says 0 for a loop with nothing active */
  uv_update_time (uv);
  return uv_backend_timeout (uv);
}

static gboolean
uv_source_prepare (GSource *source, gint *timeout)
{
  UvSource *u = (UvSource *) source;
  *timeout = uv_source_timeout (u->lws);
  return *timeout == 0;
}

static gboolean
uv_source_check (GSource *source)
{
  UvSource *u = (UvSource *) source;
  if (g_source_query_unix_fd (source, u->fd_tag) & (G_IO_IN | G_IO_ERR | G_IO_HUP))
    return TRUE;
  return uv_source_timeout (u->lws) == 0;
}

static gboolean
uv_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  UvSource *u = (UvSource *) source;
  uv_run (&u->lws->uv, UV_RUN_NOWAIT);
  if (lws_has_buffered_input (u->lws))
    _lws_plat_service_forced_tsi (u->lws->ctx, 0);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs uv_source_funcs = {
  .prepare = uv_source_prepare,
  .check = uv_source_check,
  .dispatch = uv_source_dispatch,
};

static TvServerLogLevel glue_level = TV_SERVER_LOG_INFO;

/* lws lines end with '\n' and sometimes carry a timestamp prefix: strip the
 * newline and hand the rest to GLib so every log line goes through one writer. */
static void
lws_log_to_glib (int level, const char *line)
{
  gsize len = strlen (line);
  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  GLogLevelFlags gl;
  if (level & LLL_ERR)
    gl = G_LOG_LEVEL_WARNING; /* lws "errors" are per-connection events, not process faults */
  else if (level & LLL_WARN)
    gl = glue_level >= TV_SERVER_LOG_DEBUG ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_INFO;
  else if (level & LLL_NOTICE)
    gl = G_LOG_LEVEL_INFO;
  else
    gl = G_LOG_LEVEL_DEBUG;
  g_log (G_LOG_DOMAIN, gl, "%.*s", (int) len, line);
}

void
tv_server_lws_set_log_level (TvServerLogLevel level)
{
  int mask = LLL_ERR;
  glue_level = level;
  /* lws warns about every refused handshake or peer reset: only interesting when
   * debugging, so warnings start at "info" and arrive as GLib info messages. */
  if (level >= TV_SERVER_LOG_INFO)
    mask |= LLL_WARN;
  if (level >= TV_SERVER_LOG_DEBUG)
    mask |= LLL_NOTICE; /* LLL_INFO is per-frame chatter */
  lws_set_log_level (mask, lws_log_to_glib);
}

TvServerLws *
tv_server_lws_new (const TvServerLwsParams *p, struct lws_context **context_out, struct lws_vhost **vhost_out,
                   GError **error)
{
  g_return_val_if_fail (p != NULL && p->loop != NULL && p->protocols != NULL, NULL);
  g_return_val_if_fail (p->cert_pem != NULL && p->key_pem != NULL, NULL);
  g_return_val_if_fail (context_out != NULL && vhost_out != NULL, NULL);

  struct lws_context_creation_info info;
  struct lws_context *ctx;
  struct lws_vhost *vh;
  TvServerLws *lws = g_new0 (TvServerLws, 1);
  int rc = uv_loop_init (&lws->uv);
  if (rc != 0) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_CONTEXT, "libuv loop: %s", uv_strerror (rc));
    g_free (lws);
    return NULL;
  }
  UvSource *u = (UvSource *) g_source_new (&uv_source_funcs, sizeof (UvSource));
  u->lws = lws;
  u->fd_tag = g_source_add_unix_fd (&u->base, uv_backend_fd (&lws->uv), G_IO_IN);
  g_source_set_name (&u->base, "libwebsockets (libuv)");
  g_source_attach (&u->base, g_main_loop_get_context (p->loop));
  lws->source = &u->base;

  void *loops[1] = { &lws->uv };
  memset (&info, 0, sizeof info);
  /* lws writes NULL here once the context is wholly freed (tv_server_lws_free). */
  info.pcontext = &lws->ctx;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                 LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.foreign_loops = loops;
  info.user = p->user;
  info.port = CONTEXT_PORT_NO_LISTEN;
  /* Dead peers (cable pulled) are found by TCP keepalive within ~90 s. */
  info.ka_time = 60;
  info.ka_probes = 3;
  info.ka_interval = 10;
  /* Own signal handling (g_unix_signal_add in main); keep lws out of it. */
  info.signal_cb = NULL;
  info.gid = -1;
  info.uid = -1;

  ctx = lws_create_context (&info);
  if (!ctx) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_CONTEXT,
                 "libwebsockets could not start on its libuv loop; is the package "
                 "libwebsockets-evlib-uv installed? (apt-get install libwebsockets-evlib-uv)");
    tv_server_lws_free (lws);
    return NULL;
  }
  lws->ctx = ctx;

  memset (&info, 0, sizeof info);
  g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (p->listen);
  gboolean any = addr && g_inet_address_get_is_any (addr);
  gboolean v4 = addr && g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV4;
  /* DO_SSL_GLOBAL_INIT again on the vhost: without it lws 4.1 silently serves
   * the vhost in plain text even with a certificate given. */
  info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  /* 0.0.0.0 means IPv4 only; "::" dual stack; a literal binds that address. */
  if (v4)
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.iface = any ? NULL : p->listen;
  info.port = (int) p->port;
  info.vhost_name = "televisit";
  info.protocols = p->protocols;
  info.user = p->user;
  info.server_ssl_cert_mem = p->cert_pem;
  info.server_ssl_cert_mem_len = (unsigned int) p->cert_len;
  info.server_ssl_private_key_mem = p->key_pem;
  info.server_ssl_private_key_mem_len = (unsigned int) p->key_len;
  info.ssl_cipher_list = TV_SERVER_TLS12_CIPHERS;
  info.tls1_3_plus_cipher_list = TV_SERVER_TLS13_CIPHERS;
  info.ssl_options_set = (long) (SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 |
                                 SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* WebSocket over HTTP/1.1 only. */
  info.alpn = "http/1.1";
  info.timeout_secs = 10;
  info.finalize = NULL;

  vh = lws_create_vhost (ctx, &info);
  if (!vh) {
    tv_server_lws_free (lws);
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_LISTEN,
                 "cannot listen on %s port %u (address in use, not local, or TLS material rejected)",
                 p->listen, p->port);
    return NULL;
  }
  lws->vhost = vh;
  *context_out = ctx;
  *vhost_out = vh;
  return lws;
}

static void
warn_open_handle (uv_handle_t *h, void *arg)
{
  if (!uv_is_closing (h)) {
    g_warning ("libuv handle of type %s still open after libwebsockets closed; closing it",
               uv_handle_type_name (uv_handle_get_type (h)));
    uv_close (h, NULL);
  }
}

void
tv_server_lws_free (TvServerLws *lws)
{
  if (lws == NULL)
    return;
  /* With a foreign libuv loop, lws_context_destroy() only starts closing the
   * connections' and its own uv handles; their close callbacks (which finish
   * each connection: LWS_CALLBACK_CLOSED, WSI_DESTROY) and the end of the
   * context run from the loop. Run it here, without waiting on sockets, until
   * nothing is left, then close the loop. */
  lws->vhost = NULL;
  /* With a foreign loop, 4.1 destroys in stages: the first call closes the
   * connections, a later call (once their handles are closed) frees the
   * context and writes NULL to lws->ctx (info.pcontext). */
  for (int stage = 0; lws->ctx != NULL && stage < 4; stage++) {
    lws_context_destroy (lws->ctx);
    for (int i = 0; i < UV_CLOSE_PASSES && uv_loop_alive (&lws->uv); i++)
      uv_run (&lws->uv, UV_RUN_NOWAIT);
  }
  if (lws->ctx != NULL) {
    g_warning ("libwebsockets context not wholly destroyed");
    lws->ctx = NULL;
  }
  if (uv_loop_alive (&lws->uv)) {
    uv_walk (&lws->uv, warn_open_handle, NULL);
    uv_run (&lws->uv, UV_RUN_NOWAIT);
  }
  if (lws->source != NULL) {
    g_source_destroy (lws->source);
    g_clear_pointer (&lws->source, g_source_unref);
  }
  int rc = uv_loop_close (&lws->uv);
  if (rc != 0) {
    /* Something still holds a handle on it: keeping the memory is safer than
     * freeing a loop libuv may still touch. */
    g_warning ("libuv loop not closed: %s", uv_strerror (rc));
    return;
  }
  g_free (lws);
}
