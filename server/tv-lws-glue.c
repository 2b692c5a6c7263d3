/* tv-lws-glue.c — libwebsockets context on the GLib main loop; lws logs into GLib.
 *
 * Why: isolates the lws event-loop and TLS set-up (foreign GLib loop via the
 * evlib_glib plugin, one explicit WSS vhost, TLS 1.2+ with strong ciphers) from
 * the protocol code. lws is single-threaded: all of it runs on the main loop.
 * Thread: the main loop's thread.
 */
#define G_LOG_DOMAIN "tv-lws"

#include "server/tv-lws-glue.h"
#include "server/tv-server.h"
#include "server/tv-tls.h"

#include <string.h>
#include <gio/gio.h>
#include <openssl/ssl.h>

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

struct lws_context *
tv_server_lws_context_new (const TvServerLwsParams *p, struct lws_vhost **vhost_out, GError **error)
{
  g_return_val_if_fail (p != NULL && p->loop != NULL && p->protocols != NULL, NULL);
  g_return_val_if_fail (p->cert_pem != NULL && p->key_pem != NULL, NULL);
  g_return_val_if_fail (vhost_out != NULL, NULL);

  struct lws_context_creation_info info;
  struct lws_context *ctx;
  struct lws_vhost *vh;
  void *loops[1] = { p->loop };

  memset (&info, 0, sizeof info);
  info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
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
                 "libwebsockets could not start on the GLib main loop; is the package "
                 "libwebsockets-evlib-glib installed? (apt-get install libwebsockets-evlib-glib)");
    return NULL;
  }

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
    lws_context_destroy (ctx);
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_LISTEN,
                 "cannot listen on %s port %u (address in use, not local, or TLS material rejected)",
                 p->listen, p->port);
    return NULL;
  }
  *vhost_out = vh;
  return ctx;
}
