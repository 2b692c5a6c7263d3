/* tv-bench-load.c — signaling load client for `make bench` (issue 6, item 3).
 *
 * One program drives both servers the benchmark compares, so the client side
 * costs the same for both:
 *   televisit  N WSS connections (subprotocol televisit.v1), each sends `join`
 *              with its own token and waits for `joined`; then `ping`/`pong`.
 *   janus      N WSS connections (subprotocol janus-protocol), each does
 *              `create` + `attach` (janus.plugin.videocall) + `register`; then
 *              `keepalive`/`ack`.
 * After every connection is authenticated the server's RSS is read from
 * /proc/PID/status (minus the RSS before the first connection = memory per
 * connected client). Then each connection runs a closed loop (one request
 * outstanding, the next sent as soon as the answer arrives) for --duration
 * seconds; after --warmup seconds every round trip's latency is recorded.
 * The result is one JSON object on stdout.
 *
 * `tv-bench-load tokens` creates consults through the store API
 * (server/tv-store.h) and writes their join tokens, one a line, for the
 * televisit target. Tokens are credentials: they are only written to the
 * file the caller names (mode 0600), never printed.
 *
 * Raw libwebsockets on a libuv loop of its own (epoll), single thread: the
 * load client must not share the GLib loop machinery it is measuring, and must
 * cost as little as it can per round trip, since it shares the machine with
 * the server it drives (docs/BENCHMARKS.md, "Signaling load: a cheaper load
 * client"). Progress (phases; every 5 s, connections not yet authenticated
 * and the step they wait in) goes to stderr. Replies are parsed
 * with json-glib (one parser reused); requests are fixed templates with
 * integers printed into them.
 */
#define G_LOG_DOMAIN "tv-bench"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <uv.h> /* before libwebsockets.h, for its libuv declarations */
#include <libwebsockets.h>

#include "server/tv-store.h"

#define MAX_HANDSHAKES_IN_FLIGHT 64
#define MAX_MSG_BYTES 65536
#define AUTH_TIMEOUT_S 60
#define PROGRESS_EVERY_S 5

typedef enum { TARGET_TELEVISIT, TARGET_JANUS } Target;

typedef enum {
  CS_CONNECTING,
  CS_AUTH,        /* join sent (televisit) / create-attach-register in progress (janus) */
  CS_READY,       /* authenticated, idle */
  CS_WAITING,     /* a ping/keepalive is outstanding */
  CS_DEAD,
} ConnState;

typedef struct Bench Bench;

typedef struct {
  Bench *bench;
  guint index;
  struct lws *wsi;
  ConnState state;
  int janus_step;          /* 0 create, 1 attach, 2 register (waiting for the event) */
  gint64 session_id, handle_id;
  gboolean want_send;      /* a request is prepared in out[] */
  char out[LWS_PRE + 512];
  size_t out_len;
  gint64 sent_us;
  guint64 seq;
  gint64 next_send_us;     /* pacing: earliest time of the next round trip */
  lws_sorted_usec_list_t pace;
  GString *in;             /* fragments of the message being received */
  char source[16];         /* local address to bind, "" = any */
} Conn;

struct Bench {
  Target target;
  const char *url_host;
  int url_port;
  const char *ca_file;
  char **tokens;
  guint n;
  double duration_s, warmup_s;
  gint64 min_interval_us;  /* per connection, from --rate-per-conn; 0 = closed loop */
  int server_pid;
  struct lws_context *ctx;
  Conn *conns;
  guint next_to_connect, in_handshake;
  guint n_ready, n_failed, n_closed_early;
  gint64 phase_start_us, measure_from_us, measure_until_us, next_report_us;
  gboolean running_trips, stop;
  GArray *lat_us;          /* guint32 latencies in the measured window */
  guint64 trips_measured, trips_total, errors;
  JsonParser *parser;
  uv_loop_t uv;            /* the loop lws runs on (ours: info.foreign_loops) */
  lws_sorted_usec_list_t tick;
  long rss_before_kb, rss_after_kb;
  double auth_s;
  double client_cpu_start_s; /* our CPU time when the round trips started */
  long server_cpu_start_ticks;
};

static volatile sig_atomic_t interrupted;

static void
on_sigint (int sig)
{
  interrupted = 1;
}

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

/* Reads "VmRSS:" of @pid in kB; -1 if unreadable. */
static long
read_rss_kb (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  long kb = -1;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  for (char *line = text; line != NULL && *line != '\0';)
    {
      char *nl = strchr (line, '\n');
      if (g_str_has_prefix (line, "VmRSS:"))
        kb = strtol (line + 6, NULL, 10);
      line = nl ? nl + 1 : NULL;
    }
  return kb;
}

/* utime+stime of @pid and its threads, in clock ticks; -1 if unreadable.
 * The command name (field 2) may hold spaces: parse after the last ')'. */
static long
read_cpu_ticks (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  unsigned long ut = 0, st = 0;
  char *p;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  p = strrchr (text, ')');
  if (p == NULL
      || sscanf (p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (long) (ut + st);
}

static double
process_cpu_s (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- requests ---------------------------------------------------------- */

/* Writes the prepared request now; its latency counts from here. FALSE if
 * lws refused it (the connection is then closing). */
static gboolean
conn_write (Conn *c)
{
  c->want_send = FALSE;
  c->sent_us = now_us ();
  return lws_write (c->wsi, (unsigned char *) c->out + LWS_PRE, c->out_len, LWS_WRITE_TEXT) >= (int) c->out_len;
}

/* Prepares a request in c->out. Authentication steps wait for a WRITEABLE
 * callback. A round trip's ping/keepalive (@direct) is written at once when lws
 * holds no earlier output of this connection (lws_partial_buffered; a write the
 * socket does not take whole is kept by lws and finished on POLLOUT): asking
 * for POLLOUT, a poll pass and a WRITEABLE callback per round trip cost the
 * client ~2 us each time (docs/BENCHMARKS.md, "Signaling load: a cheaper load
 * client"), the same for both servers. Only called from lws' service thread
 * (its callbacks and timers). */
static void
conn_queue (Conn *c, gboolean direct, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
conn_queue (Conn *c, gboolean direct, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start (ap, fmt);
  n = g_vsnprintf (c->out + LWS_PRE, sizeof c->out - LWS_PRE, fmt, ap);
  va_end (ap);
  g_assert (n > 0 && (size_t) n < sizeof c->out - LWS_PRE); /* our own templates */
  c->out_len = (size_t) n;
  c->want_send = TRUE;
  if (direct && !lws_partial_buffered (c->wsi))
    {
      if (!conn_write (c))
        {
          c->bench->errors++;
          lws_set_timeout (c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
      return;
    }
  lws_callback_on_writable (c->wsi);
}

static void
send_trip (Conn *c)
{
  c->next_send_us = now_us () + c->bench->min_interval_us;
  c->seq++;
  c->state = CS_WAITING;
  if (c->bench->target == TARGET_TELEVISIT)
    conn_queue (c, TRUE, "{\"type\":\"ping\",\"id\":%" G_GUINT64_FORMAT "}", c->seq);
  else
    conn_queue (c, TRUE, "{\"janus\":\"keepalive\",\"session_id\":%" G_GINT64_FORMAT ",\"transaction\":\"k%"
                G_GUINT64_FORMAT "\"}", c->session_id, c->seq);
}

static void
start_auth (Conn *c)
{
  Bench *b = c->bench;

  c->state = CS_AUTH;
  if (b->target == TARGET_TELEVISIT)
    conn_queue (c, FALSE, "{\"type\":\"join\",\"token\":\"%s\"}", b->tokens[c->index]);
  else
    conn_queue (c, FALSE, "{\"janus\":\"create\",\"transaction\":\"c%u\"}", c->index);
}

static void
mark_ready (Conn *c)
{
  Bench *b = c->bench;

  c->state = CS_READY;
  b->n_ready++;
  if (b->running_trips)
    send_trip (c);
}

static void
mark_dead (Conn *c)
{
  Bench *b = c->bench;

  if (c->state == CS_DEAD)
    return;
  if (c->state == CS_CONNECTING)
    {
      b->in_handshake--;
      b->n_failed++;
    }
  else if (c->state == CS_AUTH)
    b->n_failed++;
  else
    {
      b->n_closed_early++;
      b->n_ready--;
    }
  c->state = CS_DEAD;
  c->wsi = NULL;
}

/* ---- replies ----------------------------------------------------------- */

static const char *
member_str (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
         ? json_node_get_string (n) : NULL;
}

static JsonObject *
member_obj (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static gint64
member_int (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64
         ? json_node_get_int (n) : 0;
}

static void
pace_due (lws_sorted_usec_list_t *sul)
{
  Conn *c = lws_container_of (sul, Conn, pace);
  if (c->state == CS_READY && c->bench->running_trips && !c->bench->stop)
    send_trip (c);
}

static void
trip_done (Conn *c)
{
  Bench *b = c->bench;
  gint64 t = now_us ();

  b->trips_total++;
  if (t >= b->measure_from_us && c->sent_us >= b->measure_from_us && t <= b->measure_until_us)
    {
      guint32 lat = (guint32) MIN (t - c->sent_us, (gint64) G_MAXUINT32);
      g_array_append_val (b->lat_us, lat);
      b->trips_measured++;
    }
  c->state = CS_READY;
  if (b->running_trips && !b->stop)
    {
      if (t >= c->next_send_us)
        send_trip (c);
      else
        lws_sul_schedule (b->ctx, 0, &c->pace, pace_due, c->next_send_us - t);
    }
}

static void
handle_televisit (Conn *c, JsonObject *o)
{
  const char *type = member_str (o, "type");

  if (type == NULL)
    return;
  if (c->state == CS_AUTH && (strcmp (type, "joined") == 0))
    mark_ready (c);
  else if (c->state == CS_WAITING && strcmp (type, "pong") == 0)
    trip_done (c);
  else if (strcmp (type, "error") == 0)
    {
      c->bench->errors++;
      if (c->bench->errors <= 5)
        g_printerr ("tv-bench-load: conn %u: server error %" G_GINT64_FORMAT " (%s)\n", c->index,
                    member_int (o, "code"), member_str (o, "message") ?: "");
    }
  /* peer-joined, paired, waiting, ... belong to the consult, not to the load. */
}

static void
handle_janus (Conn *c, JsonObject *o)
{
  const char *kind = member_str (o, "janus");

  if (kind == NULL)
    return;
  if (c->state == CS_AUTH)
    {
      if (strcmp (kind, "success") == 0 && c->janus_step == 0)
        {
          c->session_id = member_int (member_obj (o, "data"), "id");
          c->janus_step = 1;
          conn_queue (c, FALSE, "{\"janus\":\"attach\",\"session_id\":%" G_GINT64_FORMAT
                      ",\"plugin\":\"janus.plugin.videocall\",\"transaction\":\"a%u\"}", c->session_id, c->index);
        }
      else if (strcmp (kind, "success") == 0 && c->janus_step == 1)
        {
          c->handle_id = member_int (member_obj (o, "data"), "id");
          c->janus_step = 2;
          conn_queue (c, FALSE, "{\"janus\":\"message\",\"session_id\":%" G_GINT64_FORMAT ",\"handle_id\":%"
                      G_GINT64_FORMAT ",\"transaction\":\"r%u\",\"body\":{\"request\":\"register\","
                      "\"username\":\"bench-user-%u\"}}", c->session_id, c->handle_id, c->index, c->index);
        }
      else if (strcmp (kind, "event") == 0 && c->janus_step == 2)
        {
          JsonObject *data = member_obj (member_obj (member_obj (o, "plugindata"), "data"), "result");
          const char *ev = member_str (data, "event");
          if (ev != NULL && strcmp (ev, "registered") == 0)
            mark_ready (c);
          else
            {
              c->bench->errors++;
              g_printerr ("tv-bench-load: conn %u: register refused\n", c->index);
            }
        }
      else if (strcmp (kind, "error") == 0)
        {
          c->bench->errors++;
          if (c->bench->errors <= 5)
            g_printerr ("tv-bench-load: conn %u: janus error at step %d\n", c->index, c->janus_step);
        }
      return;
    }
  if (c->state == CS_WAITING && strcmp (kind, "ack") == 0)
    trip_done (c);
}

static void
handle_message (Conn *c, const char *data, size_t len)
{
  Bench *b = c->bench;
  JsonNode *root;

  if (!json_parser_load_from_data (b->parser, data, (gssize) len, NULL))
    {
      b->errors++;
      return;
    }
  root = json_parser_get_root (b->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      b->errors++;
      return;
    }
  if (b->target == TARGET_TELEVISIT)
    handle_televisit (c, json_node_get_object (root));
  else
    handle_janus (c, json_node_get_object (root));
}

/* ---- libwebsockets --------------------------------------------------- */

static void connect_more (Bench *b);

static int
callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  Conn *c = lws_get_opaque_user_data (wsi);

  switch (reason)
    {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (c == NULL)
        break;
      c->bench->in_handshake--;
      start_auth (c);
      connect_more (c->bench);
      break;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (c == NULL)
        break;
      if (c->bench->n_failed < 5)
        g_printerr ("tv-bench-load: conn %u: %.*s\n", c->index, in ? (int) MIN (len, 200) : 7,
                    in ? (const char *) in : "refused");
      mark_dead (c);
      connect_more (c->bench);
      break;

    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (c == NULL)
        break;
      if (c->in->len + len > MAX_MSG_BYTES)
        {
          c->bench->errors++;
          return -1;
        }
      g_string_append_len (c->in, in, (gssize) len);
      if (lws_is_final_fragment (wsi) && lws_remaining_packet_payload (wsi) == 0)
        {
          handle_message (c, c->in->str, c->in->len);
          g_string_truncate (c->in, 0);
        }
      break;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (c == NULL || !c->want_send)
        break;
      if (!conn_write (c))
        return -1;
      break;

    case LWS_CALLBACK_CLIENT_CLOSED:
      if (c == NULL)
        break;
      lws_set_opaque_user_data (wsi, NULL);
      mark_dead (c);
      break;

    default:
      break;
    }
  return 0;
}

static void
connect_one (Bench *b, Conn *c)
{
  struct lws_client_connect_info i;

  memset (&i, 0, sizeof i);
  i.context = b->ctx;
  i.address = b->url_host;
  i.port = b->url_port;
  i.path = "/";
  i.host = b->url_host;
  i.origin = b->url_host;
  i.ssl_connection = LCCSCF_USE_SSL;
  i.protocol = b->target == TARGET_TELEVISIT ? "televisit.v1" : "janus-protocol";
  i.local_protocol_name = "tv-bench-load";
  i.opaque_user_data = c;
  if (c->source[0] != '\0')
    i.iface = c->source;
  c->state = CS_CONNECTING;
  b->in_handshake++;
  c->wsi = lws_client_connect_via_info (&i);
  if (c->wsi == NULL)
    mark_dead (c);
}

/* Keeps at most MAX_HANDSHAKES_IN_FLIGHT connections in their TCP/TLS/WS
 * handshake: opening thousands at once only fills the listen backlog. */
static void
connect_more (Bench *b)
{
  while (b->next_to_connect < b->n && b->in_handshake < MAX_HANDSHAKES_IN_FLIGHT)
    connect_one (b, &b->conns[b->next_to_connect++]);
}

static const struct lws_protocols protocols[] = {
  { "tv-bench-load", callback, 0, MAX_MSG_BYTES, 0, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- phases ------------------------------------------------------------ */

/* Progress on stderr while connections are still being set up (every
 * PROGRESS_EVERY_S): which step the ones not yet authenticated are stuck in,
 * for whoever has to find out why a run hangs (tests/bench/test-bench-load
 * shows the tail of stderr when it kills a hung run). */
static void
report_auth_progress (Bench *b, gint64 t)
{
  guint authenticating = 0;

  for (guint i = 0; i < b->next_to_connect; i++)
    if (b->conns[i].state == CS_AUTH)
      authenticating++;
  g_printerr ("tv-bench-load: %.1f s: %u of %u authenticated, %u in the TLS/WebSocket handshake, %u sent "
              "their %s and wait for the answer, %u not started, %u failed, %u closed\n",
              (double) (t - b->phase_start_us) / G_USEC_PER_SEC, b->n_ready, b->n, b->in_handshake, authenticating,
              b->target == TARGET_TELEVISIT ? "join" : "create/attach/register", b->n - b->next_to_connect,
              b->n_failed, b->n_closed_early);
  b->next_report_us = t + PROGRESS_EVERY_S * G_USEC_PER_SEC;
}

static void
tick (lws_sorted_usec_list_t *sul)
{
  Bench *b = lws_container_of (sul, Bench, tick);
  gint64 t = now_us ();

  if (interrupted)
    b->stop = TRUE;
  if (!b->running_trips)
    {
      gboolean settled = b->next_to_connect == b->n && b->in_handshake == 0
                         && b->n_ready + b->n_failed + b->n_closed_early >= b->n;
      if (!settled && t >= b->next_report_us)
        report_auth_progress (b, t);
      if (settled || t - b->phase_start_us > AUTH_TIMEOUT_S * G_USEC_PER_SEC)
        {
          b->auth_s = (double) (t - b->phase_start_us) / G_USEC_PER_SEC;
          g_printerr ("tv-bench-load: %u of %u authenticated (%u failed, %u closed) in %.2f s%s; round trips "
                      "for %.1f s\n", b->n_ready, b->n, b->n_failed, b->n_closed_early, b->auth_s,
                      settled ? "" : " (gave up waiting for the rest)", b->duration_s);
          b->rss_after_kb = read_rss_kb (b->server_pid);
          b->server_cpu_start_ticks = read_cpu_ticks (b->server_pid);
          b->client_cpu_start_s = process_cpu_s ();
          b->running_trips = TRUE;
          b->measure_from_us = t + (gint64) (b->warmup_s * G_USEC_PER_SEC);
          b->measure_until_us = t + (gint64) (b->duration_s * G_USEC_PER_SEC);
          for (guint i = 0; i < b->n; i++)
            if (b->conns[i].state == CS_READY)
              send_trip (&b->conns[i]);
        }
    }
  else if (t >= b->measure_until_us)
    b->stop = TRUE;
  if (!b->stop)
    lws_sul_schedule (b->ctx, 0, &b->tick, tick, 20 * LWS_US_PER_MS);
  else
    uv_stop (&b->uv);
}

static int
cmp_u32 (const void *a, const void *b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;
  return x < y ? -1 : x > y;
}

static double
percentile_ms (GArray *sorted, double p)
{
  gsize idx;

  if (sorted->len == 0)
    return -1;
  idx = (gsize) (p * (sorted->len - 1) + 0.5);
  return g_array_index (sorted, guint32, idx) / 1000.0;
}

static void
print_result (Bench *b, double cpu_client_s, double cpu_server_s)
{
  double window = b->duration_s - b->warmup_s;
  g_autoptr (JsonBuilder) jb = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  guint connected = b->n_ready;

  qsort (b->lat_us->data, b->lat_us->len, sizeof (guint32), cmp_u32);
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "target");
  json_builder_add_string_value (jb, b->target == TARGET_TELEVISIT ? "televisit" : "janus");
  json_builder_set_member_name (jb, "clients");
  json_builder_add_int_value (jb, b->n);
  json_builder_set_member_name (jb, "authenticated");
  json_builder_add_int_value (jb, connected);
  json_builder_set_member_name (jb, "failed");
  json_builder_add_int_value (jb, b->n_failed);
  json_builder_set_member_name (jb, "closed_early");
  json_builder_add_int_value (jb, b->n_closed_early);
  json_builder_set_member_name (jb, "errors");
  json_builder_add_int_value (jb, (gint64) b->errors);
  json_builder_set_member_name (jb, "connect_auth_s");
  json_builder_add_double_value (jb, b->auth_s);
  json_builder_set_member_name (jb, "window_s");
  json_builder_add_double_value (jb, window);
  json_builder_set_member_name (jb, "round_trips");
  json_builder_add_int_value (jb, (gint64) b->trips_measured);
  json_builder_set_member_name (jb, "round_trips_per_s");
  json_builder_add_double_value (jb, window > 0 ? b->trips_measured / window : 0);
  json_builder_set_member_name (jb, "p50_ms");
  json_builder_add_double_value (jb, percentile_ms (b->lat_us, 0.50));
  json_builder_set_member_name (jb, "p99_ms");
  json_builder_add_double_value (jb, percentile_ms (b->lat_us, 0.99));
  json_builder_set_member_name (jb, "max_ms");
  json_builder_add_double_value (jb, percentile_ms (b->lat_us, 1.0));
  json_builder_set_member_name (jb, "server_rss_before_kb");
  json_builder_add_int_value (jb, b->rss_before_kb);
  json_builder_set_member_name (jb, "server_rss_after_kb");
  json_builder_add_int_value (jb, b->rss_after_kb);
  json_builder_set_member_name (jb, "rss_per_client_kb");
  json_builder_add_double_value (jb, connected > 0 && b->rss_before_kb >= 0 && b->rss_after_kb >= 0
                                     ? (double) (b->rss_after_kb - b->rss_before_kb) / connected : -1);
  json_builder_set_member_name (jb, "server_cpu_s");
  json_builder_add_double_value (jb, cpu_server_s);
  json_builder_set_member_name (jb, "client_cpu_s");
  json_builder_add_double_value (jb, cpu_client_s);
  json_builder_end_object (jb);
  root = json_builder_get_root (jb);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  puts (text);
  fflush (stdout);
}

static void
raise_nofile (guint need)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return;
  if (rl.rlim_cur < need + 64)
    {
      rl.rlim_cur = MIN (rl.rlim_max, (rlim_t) need + 1024);
      if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        g_printerr ("tv-bench-load: cannot raise RLIMIT_NOFILE: %s\n", g_strerror (errno));
    }
}

static char **
read_tokens (const char *path, guint need, GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *out = g_ptr_array_new ();

  if (!g_file_get_contents (path, &text, NULL, error))
    {
      g_ptr_array_free (out, TRUE);
      return NULL;
    }
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (tv_store_token_is_wellformed (g_strstrip (*l)))
      g_ptr_array_add (out, g_strdup (*l));
  if (out->len < need)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s holds %u tokens, %u needed", path, out->len, need);
      g_ptr_array_free (out, TRUE);
      return NULL;
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

/* ---- `tokens`: consults through the store API ------------------------- */

static int
make_tokens (const char *db, guint consults, const char *out_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_autoptr (GString) text = g_string_new (NULL);
  gint64 now = g_get_real_time ();

  if (store == NULL)
    {
      g_printerr ("tv-bench-load tokens: %s\n", error->message);
      return 2;
    }
  g_printerr ("tv-bench-load tokens: store open, creating %u consults\n", consults);
  for (guint i = 0; i < consults; i++)
    {
      g_autofree char *doctor = g_strdup_printf ("Dr. Load Test %u", i);
      g_autofree char *patient = g_strdup_printf ("Pat Synthetic %u", i);
      g_autofree char *dt = NULL, *pt = NULL;
      TvConsult *consult = NULL;

      if (!tv_store_consult_create (store, doctor, patient, now, now + 24 * G_TIME_SPAN_HOUR, now, &consult, &dt,
                                    &pt, &error))
        {
          g_printerr ("tv-bench-load tokens: %s\n", error->message);
          return 2;
        }
      tv_consult_free (consult);
      g_string_append_printf (text, "%s\n%s\n", dt, pt);
    }
  {
    int fd = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    gboolean ok = fd >= 0 && write (fd, text->str, text->len) == (ssize_t) text->len;
    if (fd >= 0)
      close (fd);
    if (!ok)
      {
        g_printerr ("tv-bench-load tokens: cannot write %s\n", out_path);
        return 2;
      }
  }
  g_printerr ("tv-bench-load tokens: %u consults created, %u tokens written\n", consults, 2 * consults);
  return 0;
}

static const char usage[] =
  "Usage:\n"
  "  tv-bench-load --target televisit|janus --url wss://HOST:PORT/ [--ca FILE]\n"
  "                [--tokens FILE] [--clients N] [--duration S] [--warmup S] [--server-pid PID]\n"
  "                [--rate-per-conn R] [--per-address K]\n"
  "  tv-bench-load tokens --db FILE --consults N --out FILE\n"
  "\n"
  "Signaling load client of `make bench` (docs/BENCHMARKS.md). Opens N WSS\n"
  "connections (at most 64 handshakes at a time), authenticates each one\n"
  "(televisit: join with one token per connection from --tokens, answered by\n"
  "joined; janus: create + attach janus.plugin.videocall + register), reads the\n"
  "server's RSS from /proc/PID/status, then keeps one round trip outstanding per\n"
  "connection (televisit: ping/pong; janus: keepalive/ack) for --duration seconds\n"
  "(default 15), recording latencies after --warmup seconds (default 3).\n"
  "--rate-per-conn R caps each connection at R round trips/s (default 40, under\n"
  "televisit's limit of 50 messages/s per connection; 0 = no cap); the cap only\n"
  "binds when a server answers faster than N*R round trips/s in all.\n"
  "--per-address K binds K connections to each source address 127.1.x.y\n"
  "(default 10, like 10 users behind one NAT; 0 = the kernel's choice, all from\n"
  "127.0.0.1), so per-address limits of a server apply as they would to users.\n"
  "Progress goes to stderr (phases, and every 5 s while connecting: how many\n"
  "connections wait in which step). Prints one JSON object: authenticated,\n"
  "round_trips_per_s, p50_ms, p99_ms, max_ms, rss_per_client_kb (RSS growth /\n"
  "authenticated connections), server_cpu_s and client_cpu_s over the\n"
  "round-trip phase, errors.\n"
  "`tokens` creates N consults in the store at --db and writes their 2N join\n"
  "tokens (doctor, patient) to --out, mode 0600.\n"
  "Exit status: 0 done (even if some connections failed: see the JSON), 1 usage,\n"
  "2 setup failure (no context, no tokens, store error), 3 no connection authenticated.\n";

int
main (int argc, char **argv)
{
  g_autofree char *target = NULL, *url = NULL, *ca = NULL, *tokens_path = NULL, *db = NULL, *out = NULL;
  int clients = 2000, server_pid = 0, consults = 0, rate_per_conn = 40, per_address = 10;
  double duration = 15, warmup = 3;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) octx = g_option_context_new (NULL);
  GOptionEntry entries[] = {
    { "target", 0, 0, G_OPTION_ARG_STRING, &target, "televisit or janus", NULL },
    { "url", 0, 0, G_OPTION_ARG_STRING, &url, "wss://HOST:PORT/", NULL },
    { "ca", 0, 0, G_OPTION_ARG_FILENAME, &ca, "PEM to trust", NULL },
    { "tokens", 0, 0, G_OPTION_ARG_FILENAME, &tokens_path, "token file (televisit)", NULL },
    { "clients", 0, 0, G_OPTION_ARG_INT, &clients, "connections", NULL },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration, "seconds of round trips", NULL },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup, "seconds not measured", NULL },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &server_pid, "server process for RSS/CPU", NULL },
    { "rate-per-conn", 0, 0, G_OPTION_ARG_INT, &rate_per_conn, "max round trips/s per connection", NULL },
    { "per-address", 0, 0, G_OPTION_ARG_INT, &per_address, "connections per 127.1.x.y source address", NULL },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "store (tokens)", NULL },
    { "consults", 0, 0, G_OPTION_ARG_INT, &consults, "consults to create (tokens)", NULL },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "token file to write (tokens)", NULL },
    { NULL }
  };
  struct lws_context_creation_info info;
  /* Static: lws' context stays reachable from here until the process exits,
   * which is how it ends (no lws_context_destroy(), see the end of main()). */
  static Bench b;
  g_autoptr (GUri) uri = NULL;
  long cpu_end;
  long hz = sysconf (_SC_CLK_TCK);

  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_set_description (octx, usage);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    {
      g_printerr ("tv-bench-load: %s\n%s", error->message, usage);
      return 1;
    }
  if (argc >= 2 && strcmp (argv[1], "tokens") == 0)
    {
      if (db == NULL || out == NULL || consults < 1 || consults > 1000000)
        {
          g_printerr ("tv-bench-load tokens: --db, --out and --consults 1..1000000 are required\n");
          return 1;
        }
      return make_tokens (db, (guint) consults, out);
    }
  if (argc != 1 || target == NULL || url == NULL || clients < 1 || clients > 100000 || duration <= 0
      || warmup < 0 || warmup >= duration || rate_per_conn < 0 || rate_per_conn > 1000000 || per_address < 0)
    {
      g_printerr ("%s", usage);
      return 1;
    }
  if (strcmp (target, "televisit") == 0)
    b.target = TARGET_TELEVISIT;
  else if (strcmp (target, "janus") == 0)
    b.target = TARGET_JANUS;
  else
    {
      g_printerr ("tv-bench-load: --target must be televisit or janus\n");
      return 1;
    }
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, &error);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "wss") != 0 || g_uri_get_port (uri) <= 0)
    {
      g_printerr ("tv-bench-load: --url must be wss://HOST:PORT/\n");
      return 1;
    }
  b.url_host = g_uri_get_host (uri);
  b.url_port = g_uri_get_port (uri);
  b.ca_file = ca;
  b.n = (guint) clients;
  b.duration_s = duration;
  b.warmup_s = warmup;
  b.server_pid = server_pid;
  b.min_interval_us = rate_per_conn > 0 ? G_USEC_PER_SEC / rate_per_conn : 0;
  if (b.target == TARGET_TELEVISIT)
    {
      if (tokens_path == NULL)
        {
          g_printerr ("tv-bench-load: --tokens is required for --target televisit\n");
          return 1;
        }
      b.tokens = read_tokens (tokens_path, b.n, &error);
      if (b.tokens == NULL)
        {
          g_printerr ("tv-bench-load: %s\n", error->message);
          return 2;
        }
    }

  signal (SIGPIPE, SIG_IGN);
  signal (SIGINT, on_sigint);
  signal (SIGTERM, on_sigint);
  raise_nofile (b.n);
  lws_set_log_level (LLL_ERR, NULL);

  memset (&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  /* A libuv loop (epoll) rather than lws' own poll() loop, which hands the
   * kernel all 2,000 sockets on every pass: ~5 % of this client's CPU against
   * our server and ~20 % against Janus (docs/BENCHMARKS.md, "Signaling load: a
   * cheaper load client"). The loop is ours (lws 4.1 exports its own loop only
   * from the evlib_uv plugin), run by main() until tick() stops it. */
  uv_loop_init (&b.uv);
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV;
  info.foreign_loops = (void *[]){ &b.uv };
  info.client_ssl_ca_filepath = ca;
  /* No fd_limit_per_thread: below the process's fd limit it makes lws find a
   * socket's connection by a linear search of its table on every event
   * (wsi_from_fd, 5.8 % of this client's CPU at 2,000 connections); without
   * it lws indexes its table by fd. raise_nofile made room for the connections. */
  info.timeout_secs = 30;
  b.ctx = lws_create_context (&info);
  if (b.ctx == NULL)
    {
      g_printerr ("tv-bench-load: cannot create the libwebsockets context\n");
      return 2;
    }
  b.conns = g_new0 (Conn, b.n);
  for (guint i = 0; i < b.n; i++)
    {
      b.conns[i].bench = &b;
      b.conns[i].index = i;
      b.conns[i].in = g_string_sized_new (256);
      b.conns[i].state = CS_DEAD;
      if (per_address > 0)
        {
          /* Loopback is all of 127.0.0.0/8: spread the clients over source
           * addresses like real users, so per-address limits see users. */
          guint k = i / (guint) per_address;
          g_snprintf (b.conns[i].source, sizeof b.conns[i].source, "127.1.%u.%u", k / 250, k % 250 + 1);
        }
    }
  b.parser = json_parser_new ();
  b.lat_us = g_array_sized_new (FALSE, FALSE, sizeof (guint32), 1 << 20);
  b.rss_before_kb = read_rss_kb (server_pid);
  b.phase_start_us = now_us ();
  b.next_report_us = b.phase_start_us + PROGRESS_EVERY_S * G_USEC_PER_SEC;
  g_printerr ("tv-bench-load: connecting %u clients to %s (%s)\n", b.n, url, target);

  connect_more (&b);
  lws_sul_schedule (b.ctx, 0, &b.tick, tick, 20 * LWS_US_PER_MS);
  b.client_cpu_start_s = process_cpu_s ();
  while (!b.stop)
    uv_run (&b.uv, UV_RUN_DEFAULT); /* until tick() calls uv_stop() */
  cpu_end = read_cpu_ticks (server_pid);
  g_printerr ("tv-bench-load: %s after %" G_GUINT64_FORMAT " round trips\n", interrupted ? "interrupted" : "done",
              b.trips_total);
  b.running_trips = FALSE;
  print_result (&b, process_cpu_s () - b.client_cpu_start_s,
                cpu_end >= 0 && b.server_cpu_start_ticks >= 0 ? (double) (cpu_end - b.server_cpu_start_ticks) / hz
                                                             : -1);
  /* No lws_context_destroy(): on a foreign uv loop lws 4.1 closes in stages
   * that need the loop run between them (server/tv-lws-glue.c does that); this
   * process exits now, and the kernel closes the sockets. The context stays
   * reachable from the static Bench, so a leak checker does not count it. */
  for (guint i = 0; i < b.n; i++)
    g_string_free (b.conns[i].in, TRUE);
  g_free (b.conns);
  g_strfreev (b.tokens);
  g_object_unref (b.parser);
  g_array_free (b.lat_us, TRUE);
  return b.n_ready + b.n_closed_early > 0 ? 0 : 3;
}
