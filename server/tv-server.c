/* tv-server.c — the TvServer object: owns config, store, TLS material, lws context, rooms.
 *
 * Why: start-up order and tear-down in one place (data dir -> store -> TLS ->
 * listening context), and the graceful shutdown (5001 to clients, intervals
 * closed, wait for the connections to go and for the bookings already read to
 * be committed and answered) without any global state.
 * Thread: the main loop's thread.
 */
#define G_LOG_DOMAIN "tv-server"

#include "server/tv-server.h"
#include "server/tv-store-billing.h"
#include "server/tv-join-link.h"
#include "server/tv-server-private.h"
#include "server/tv-addr-limit.h"
#include "server/tv-api.h"
#include "server/tv-consult-ws.h"
#include "server/tv-heap-trim.h"
#include "server/tv-http.h"
#include "server/tv-lws-glue.h"
#include "server/tv-reminders.h"
#include "server/tv-store-seal.h"
#include "server/tv-tls.h"
#include "server/tv-turn.h"

#include <gio/gio.h>

G_DEFINE_QUARK (tv-server-error-quark, tv_server_error)

#define SHUTDOWN_GRACE_MS 3000
/* Give the heap's free pages back (tv-heap-trim.h) once the WSS connection
 * count moved by 16 (or 1/64 of the count, if more) since the last trim, as
 * soon as the loop has nothing more urgent: 2,000 clients arriving cost 40
 * trims of 0.04-0.45 ms (10 ms in all). */
#define HEAP_TRIM_STEP 16
#define HEAP_TRIM_DELAY_MS 0
/* The main loop's SQLite connection reads a few pages per request (a join, a
 * session lookup, a dashboard); a 16 MiB cache there grew by ~1.5 pages per
 * WSS join (0.8 KiB per client at 2,000) and is emptied anyway whenever the
 * store writer thread commits. 256 KiB (64 pages) holds the hot b-tree pages
 * and is reused instead of growing the heap (BENCHMARKS.md, "Memory per
 * connection: the main connection's SQLite cache"; 64 KiB measured no
 * different, "another allocator, a smaller main-connection cache"). The
 * writer thread's connection keeps 16 MiB for its group commits. */
#define MAIN_STORE_CACHE_KIB 256

static gboolean
on_status_tick (gpointer data)
{
  tv_server_consult_check_store (data);
  return G_SOURCE_CONTINUE;
}

TvServer *
tv_server_new (TvServerConfig *config, GMainLoop *loop, GError **error)
{
  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (loop != NULL, NULL);

  TvServer *s = g_new0 (TvServer, 1);
  g_autoptr (GError) local = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *tls_dir = NULL;
  g_autofree char *cert_path = NULL, *key_path = NULL;
  char *cert_pem = NULL, *key_pem = NULL;
  gsize cert_len = 0, key_len = 0;

  s->cfg = config;
  s->loop = g_main_loop_ref (loop);
  s->ctx = g_main_context_ref (g_main_loop_get_context (loop));
  s->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) tv_server_room_free);
  s->conns = g_hash_table_new (g_direct_hash, g_direct_equal);
  s->addr_limits = tv_addr_limits_new (config->max_connections_per_address, config->max_message_rate_per_address);
  s->heap_trim = tv_heap_trim_new (s->ctx, HEAP_TRIM_STEP, HEAP_TRIM_DELAY_MS);

  if (config->turn_secret_file) {
    s->turn_secret = tv_server_turn_read_secret (config->turn_secret_file, &local);
    if (!s->turn_secret) {
      g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_TURN, "turn-secret-file: %s", local->message);
      goto fail;
    }
  }

  if (!tv_server_config_prepare_data_dir (config, &local)) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_DATA_DIR, "%s", local->message);
    goto fail;
  }

  db_path = g_build_filename (config->data_dir, "televisit.db", NULL);
  s->store = tv_store_open (db_path, &local);
  if (!s->store) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_STORE, "session store %s: %s", db_path, local->message);
    goto fail;
  }
  if (!tv_store_set_cache_limit (s->store, MAIN_STORE_CACHE_KIB, &local)) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_STORE, "session store %s: %s", db_path, local->message);
    goto fail;
  }
  if (!tv_join_link_attach (s->store, config->data_dir, &local)) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_DATA_DIR, "%s", local->message);
    goto fail;
  }
  /* Encryption at rest (tv-store-seal.h): load the key ring now, made on
   * first start, so a missing or group-readable file stops the start. */
  {
    g_autofree char *keys = config->data_key_file != NULL ? g_strdup (config->data_key_file)
                                                          : g_build_filename (config->data_dir, "keys", "data.keys", NULL);
    if (!tv_store_set_data_key_file (s->store, keys, &local)) {
      g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_STORE, "encryption at rest: %s", local->message);
      goto fail;
    }
  }

  /* The code table and scheme in force, kept in the store so televisitctl bills alike. */
  if (!tv_store_billing_configure (s->store, config->billing_scheme,
                                   config->billing_codes_text ? config->billing_codes_text
                                                              : tv_billing_codes_default_text (),
                                   g_get_real_time (), &local)) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_STORE, "billing: %s", local->message);
    goto fail;
  }

  s->http = tv_http_new (s->store, config);
  tv_server_api_register_all (s->http, s);

  if (config->cert) {
    cert_path = g_strdup (config->cert);
    key_path = g_strdup (config->key);
  } else {
    gboolean generated = FALSE;
    tls_dir = g_build_filename (config->data_dir, "tls", NULL);
    if (!tv_server_tls_ensure_self_signed (tls_dir, config->hostname, &cert_path, &key_path, &generated,
                                           &local)) {
      g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_TLS, "TLS: %s", local->message);
      goto fail;
    }
    if (generated)
      g_message ("generated a self-signed certificate: %s (clients can use it as their CA file)", cert_path);
  }
  if (!tv_server_tls_load_pem (cert_path, key_path, &cert_pem, &cert_len, &key_pem, &key_len, &local)) {
    g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_TLS, "TLS: %s", local->message);
    goto fail;
  }

  TvServerLwsParams params = {
    .loop = loop,
    .listen = config->listen,
    .port = config->port,
    .cert_pem = cert_pem,
    .cert_len = cert_len,
    .key_pem = key_pem,
    .key_len = key_len,
    .protocols = tv_server_consult_protocols (),
    .user = s,
    .max_connections = config->max_connections,
  };
  s->lws_loop = tv_server_lws_new (&params, &s->lws, &s->vhost, error);
  /* lws copied the PEMs into its SSL_CTX: wipe our copy of the key now. */
  g_free (cert_pem);
  tv_server_tls_free_key (key_pem, key_len);
  if (!s->lws_loop)
    goto fail;

  int port = lws_get_vhost_listen_port (s->vhost);
  s->port = port > 0 ? (guint) port : config->port;

  /* Reminder outbox sender (tv-reminders.h): join links point at public-url,
   * else at this server's name and port. */
  {
    const char *host = config->hostname != NULL ? config->hostname : "localhost";
    g_autofree char *base = config->reminders->public_url != NULL
                              ? g_strdup (config->reminders->public_url)
                              : g_strdup_printf ("https://%s:%u", host, s->port);
    g_autoptr (GUri) uri = g_uri_parse (base, G_URI_FLAGS_NONE, NULL);
    s->reminders = tv_reminders_new (s->store, config->reminders, base, uri != NULL ? g_uri_get_host (uri) : host,
                                     s->ctx, &local);
    if (s->reminders == NULL) {
      g_set_error (error, TV_SERVER_ERROR, TV_SERVER_ERR_STORE, "reminders: %s", local->message);
      goto fail;
    }
  }

  s->status_timer = g_timeout_source_new_seconds (1);
  g_source_set_callback (s->status_timer, on_status_tick, s, NULL);
  g_source_attach (s->status_timer, s->ctx);
  return s;

fail:
  s->cfg = NULL; /* the caller's config is freed below as promised, but only once */
  tv_server_free (s);
  tv_server_config_free (config);
  return NULL;
}

guint
tv_server_get_port (TvServer *server)
{
  g_return_val_if_fail (server != NULL, 0);
  return server->port;
}

char *
tv_server_get_url (TvServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  gboolean v6 = strchr (server->cfg->listen, ':') != NULL;
  return g_strdup_printf ("wss://%s%s%s:%u/", v6 ? "[" : "", server->cfg->listen, v6 ? "]" : "",
                          server->port);
}

TvStore *
tv_server_get_store (TvServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->store;
}

TvHttp *
tv_server_get_http (TvServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->http;
}

const TvServerConfig *
tv_server_get_config (TvServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->cfg;
}

guint
tv_server_get_n_connections (TvServer *server)
{
  g_return_val_if_fail (server != NULL, 0);
  return g_hash_table_size (server->conns);
}

guint
tv_server_get_n_rooms (TvServer *server)
{
  g_return_val_if_fail (server != NULL, 0);
  return g_hash_table_size (server->rooms);
}

static gboolean on_http_replied (gpointer data);

static gboolean
report_shutdown_done (gpointer data)
{
  TvServer *s = data;
  g_clear_pointer (&s->shutdown_idle, g_source_unref);
  /* The loop served HTTPS until now: a booking read after the drain was
   * reported is answered too, within the grace period (its timer still runs
   * unless it fired). */
  if (s->shutdown_timer != NULL && s->http != NULL && tv_http_replies_pending (s->http)) {
    tv_http_notify_when_replied (s->http, on_http_replied, s);
    return G_SOURCE_REMOVE;
  }
  if (s->shutdown_timer) {
    g_source_destroy (s->shutdown_timer);
    g_clear_pointer (&s->shutdown_timer, g_source_unref);
  }
  GSourceFunc done = s->shutdown_done;
  s->shutdown_done = NULL;
  if (done)
    done (s->shutdown_data);
  return G_SOURCE_REMOVE;
}

/* Reports from an idle callback: the caller may be deep inside lws. */
static void
report_soon (TvServer *s)
{
  if (!s->shutdown_done || s->shutdown_idle)
    return;
  s->shutdown_idle = g_idle_source_new ();
  g_source_set_callback (s->shutdown_idle, report_shutdown_done, s, NULL);
  g_source_attach (s->shutdown_idle, s->ctx);
}

/* The HTTPS router has answered every booking, cancel and reschedule it had
 * (tv_http_notify_when_replied). */
static gboolean
on_http_replied (gpointer data)
{
  TvServer *s = data;
  if (g_hash_table_size (s->conns) == 0)
    report_soon (s);
  return G_SOURCE_REMOVE;
}

/* The WSS connections are gone. A booking committed as the signal came (in a
 * group commit, with the store writer) is still answered before the server
 * stops: without this its client never heard that it was stored
 * (test-writer-thread /writer-thread/sigterm-in-flight). Bounded by the grace
 * period like the connections. */
void
tv_server_private_connections_drained (TvServer *s)
{
  if (!s->shutdown_done || s->shutdown_idle)
    return;
  if (s->http != NULL)
    tv_http_notify_when_replied (s->http, on_http_replied, s);
  else
    report_soon (s);
}

static gboolean
on_shutdown_grace (gpointer data)
{
  TvServer *s = data;
  g_clear_pointer (&s->shutdown_timer, g_source_unref);
  g_message ("shutdown: %u connection(s) still open after the grace period; dropping them",
             g_hash_table_size (s->conns));
  if (s->http != NULL)
    tv_http_notify_when_replied (s->http, NULL, NULL);
  report_soon (s);
  return G_SOURCE_REMOVE;
}

void
tv_server_shutdown (TvServer *server, GSourceFunc done, gpointer user_data)
{
  g_return_if_fail (server != NULL);
  if (server->shutting_down)
    return;
  server->shutting_down = TRUE;
  server->shutdown_done = done;
  server->shutdown_data = user_data;
  if (server->status_timer) {
    g_source_destroy (server->status_timer);
    g_clear_pointer (&server->status_timer, g_source_unref);
  }
  g_message ("shutting down: %u connection(s), %u live consult(s)", g_hash_table_size (server->conns),
             g_hash_table_size (server->rooms));
  tv_server_consult_shutdown (server);
  /* The grace period bounds the wait for the WSS connections and for the
   * group commits' replies alike (report_shutdown_done stops it). */
  server->shutdown_timer = g_timeout_source_new (SHUTDOWN_GRACE_MS);
  g_source_set_callback (server->shutdown_timer, on_shutdown_grace, server, NULL);
  g_source_attach (server->shutdown_timer, server->ctx);
  if (g_hash_table_size (server->conns) == 0)
    tv_server_private_connections_drained (server);
}

static void
destroy_source (GSource **src)
{
  if (*src) {
    g_source_destroy (*src);
    g_clear_pointer (src, g_source_unref);
  }
}

void
tv_server_free (TvServer *server)
{
  if (!server)
    return;
  destroy_source (&server->status_timer);
  destroy_source (&server->shutdown_timer);
  destroy_source (&server->shutdown_idle);
  server->shutdown_done = NULL;
  if (server->http != NULL)
    tv_http_notify_when_replied (server->http, NULL, NULL);   /* closing lws below frees requests */
  if (server->lws_loop) {
    /* Connections still open are closed by lws now; they are not departures. */
    server->destroying = TRUE;
    g_clear_pointer (&server->lws_loop, tv_server_lws_free);
    server->lws = NULL;
    server->vhost = NULL;
  }
  g_clear_pointer (&server->rooms, g_hash_table_unref);
  g_clear_pointer (&server->conns, g_hash_table_unref);
  g_clear_pointer (&server->addr_limits, tv_addr_limits_free);
  g_clear_pointer (&server->heap_trim, tv_heap_trim_free);
  g_clear_pointer (&server->turn_secret, tv_server_turn_secret_free);
  g_clear_pointer (&server->http, tv_http_free);
  g_clear_pointer (&server->reminders, tv_reminders_free);
  g_clear_pointer (&server->store, tv_store_close);
  g_clear_pointer (&server->cfg, tv_server_config_free);
  g_clear_pointer (&server->ctx, g_main_context_unref);
  g_clear_pointer (&server->loop, g_main_loop_unref);
  g_free (server);
}
