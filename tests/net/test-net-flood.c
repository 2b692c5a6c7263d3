/* test-net-flood.c — a live consult survives a flood of hostile WebSocket clients.
 *
 * Why (issue 7, "Flood"): while a real consult runs (two televisit-client
 * processes exchanging VP8 + Opus on loopback), hundreds of WSS clients send
 * malformed, oversize and out-of-order frames, binary frames, bogus and
 * stolen tokens and ping floods. Each must get its protocol error code (or be
 * disconnected with the documented close code); the consult's clients must
 * keep decoding video (no freeze: their --stats-json video_max_gap_us), and
 * the per-address limits (--max-connections-per-address,
 * --max-message-rate-per-address) must hold. The flood comes from many
 * loopback addresses (127.0.X.Y, bound with TvWsConnectOptions.local_address)
 * so that the per-address limits apply per simulated host, as in production.
 *
 * Waits are event-driven (tv_test_wait_until, child exit) under a watchdog.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "server/tv-store.h"
#include "signaling/tv-sig-error.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"

#define CALL_S 16                 /* the consult's length: the flood runs inside it */
#define FLOOD_S 8                 /* hostile waves keep coming for this long */
#define EVENT_TIMEOUT_MS 30000
#define PER_ADDR_CONNS 40         /* --max-connections-per-address for this server */
#define PER_ADDR_RATE 400         /* --max-message-rate-per-address */
#define FLOOD_PER_KIND 50
#define PEERS_PER_ADDR 25         /* flood peers share addresses, under PER_ADDR_CONNS */
#define MAX_GAP_US (2 * G_USEC_PER_SEC)

typedef enum {
  KIND_GARBAGE,     /* not JSON, not an object, unknown type/field, messages before join */
  KIND_OVERSIZE,    /* a 70 000-byte text frame */
  KIND_BINARY,      /* a binary frame, then an answer before join */
  KIND_BAD_TOKEN,   /* join with a well-formed token nobody issued */
  KIND_STOLEN,      /* join with the consult's real tokens while both are in the call */
  KIND_PING_FLOOD,  /* 80 pings at once: past 50/s on one connection */
  N_KINDS
} Kind;

static const char *const kind_names[] = { "garbage", "oversize", "binary", "bad-token", "stolen", "ping-flood" };

typedef struct {
  TvTestPeer *peer;
  Kind kind;
  char *addr;
} Flooder;

static TvTestPeer *
peer_from (TvWsHub *hub, const char *url, const char *addr)
{
  TvWsConnectOptions opts = { 0 };
  opts.local_address = addr;
  return tv_test_peer_new (hub, url, &opts);
}

static TvTestClient *
start_party (TvTestServer *srv, const char *name, const char *token, const char *stats)
{
  g_autofree char *dur = g_strdup_printf ("%d", CALL_S);
  const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--token", token, "--headless", "--test-media", "--ice-address", "127.0.0.1",
                         "--video-size", "320x240", "--duration", dur, "--stats-json", stats, NULL };
  return tv_test_client_start (name, args);
}

/* Next messages until one of type "error": returns its code, counting the
 * pongs seen before it; -1 if the connection closed first or nothing came. */
static int
next_error (TvTestPeer *peer, guint *pongs)
{
  for (;;) {
    g_autoptr (JsonObject) m = tv_test_peer_next (peer, EVENT_TIMEOUT_MS);
    if (!m)
      return -1;
    const char *type = tv_test_json_str (m, "type");
    if (g_strcmp0 (type, "error") == 0)
      return (int) tv_test_json_int (m, "code", -1);
    if (g_strcmp0 (type, "pong") == 0 && pongs)
      (*pongs)++;
  }
}

static void
expect_closed_with (TvTestPeer *peer, int code, const char *what)
{
  if (!tv_test_peer_wait_closed (peer, EVENT_TIMEOUT_MS))
    g_error ("%s: not closed by the server", what);
  g_assert_cmpint (tv_test_peer_get_close_code (peer), ==, code);
}

static void
send_script (Flooder *f, const char *doctor_token, const char *patient_token)
{
  TvTestPeer *p = f->peer;
  switch (f->kind) {
  case KIND_GARBAGE:
    tv_test_peer_send (p, "{not json");
    tv_test_peer_send (p, "[1,2,3]");
    tv_test_peer_send (p, "{\"type\":\"teleport\"}");
    tv_test_peer_send (p, "{\"type\":\"ping\",\"evil\":1}");
    tv_test_peer_send (p, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}");
    tv_test_peer_send (p, "{\"type\":\"media\",\"state\":\"connected\"}");
    break;
  case KIND_OVERSIZE: {
    gsize n = 70000;
    g_autofree char *big = g_malloc (n);
    memset (big, 'a', n);
    memcpy (big, "{\"type\":\"ping\",\"x\":\"", 20);
    big[n - 2] = '"';
    big[n - 1] = '}';
    tv_test_peer_send_raw (p, big, n, FALSE);
    break;
  }
  case KIND_BINARY:
    tv_test_peer_send_raw (p, "\x00\x01\x02\xff", 4, TRUE);
    tv_test_peer_send (p, "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}");
    break;
  case KIND_BAD_TOKEN:
    tv_test_peer_send (p, "{\"type\":\"join\",\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
    break;
  case KIND_STOLEN:
    tv_test_peer_sendf (p, "{\"type\":\"join\",\"token\":\"%s\"}",
                        (f->addr[strlen (f->addr) - 1] & 1) ? doctor_token : patient_token);
    break;
  case KIND_PING_FLOOD:
    for (int i = 0; i < 80; i++)
      tv_test_peer_sendf (p, "{\"type\":\"ping\",\"id\":%d}", i);
    break;
  case N_KINDS:
    break;
  }
}

static void
check_outcome (Flooder *f)
{
  TvTestPeer *p = f->peer;
  guint pongs = 0;
  switch (f->kind) {
  case KIND_GARBAGE:
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_BAD_JSON);
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_NOT_OBJECT);
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_UNKNOWN_TYPE);
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_UNKNOWN_FIELD);
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_NOT_JOINED);
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_NOT_JOINED);
    /* Non-fatal: the connection is still usable (and still unjoined). */
    tv_test_peer_sync (p);
    break;
  case KIND_OVERSIZE:
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_FRAME_TOO_LARGE);
    expect_closed_with (p, 1009, "oversize");
    break;
  case KIND_BINARY:
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_BINARY_FRAME);
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_NOT_JOINED);
    tv_test_peer_sync (p);
    break;
  case KIND_BAD_TOKEN:
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_TOKEN_INVALID);
    expect_closed_with (p, 1008, "bad token");
    break;
  case KIND_STOLEN:
    /* The rightful parties are connected: a second holder of a token gets nothing. */
    g_assert_cmpint (next_error (p, NULL), ==, TV_SIG_ERR_TOKEN_IN_USE);
    expect_closed_with (p, 1008, "stolen token");
    break;
  case KIND_PING_FLOOD:
    g_assert_cmpint (next_error (p, &pongs), ==, TV_SIG_ERR_RATE_LIMITED);
    /* 50 per connection at most; fewer when the address's budget ran out first. */
    g_assert_cmpuint (pongs, <=, 50);
    expect_closed_with (p, 1008, "ping flood");
    break;
  case N_KINDS:
    break;
  }
}

typedef struct {
  const char *dir;
  const char *id;
} StoreWait;

static gboolean
consult_completed (gpointer data)
{
  StoreWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == TV_CONSULT_COMPLETED;
}

static void
assert_call_smooth (const char *path, const char *role)
{
  g_autoptr (JsonObject) st = tv_test_client_load_stats (path);
  gint64 frames = json_object_get_int_member (st, "video_frames_decoded");
  /* video_max_gap_us comes from the media module's smoothness figures; -1
   * (not checked) with a media build that does not report it. */
  gint64 gap = tv_test_json_int (st, "video_max_gap_us", -1);
  gint64 audio = json_object_get_int_member (st, "audio_buffers_decoded");
  g_test_message ("%s: %" G_GINT64_FORMAT " video frames, %" G_GINT64_FORMAT " audio buffers decoded, "
                  "longest gap between frames %.0f ms",
                  role, frames, audio, gap / 1000.0);
  g_assert_cmpstr (json_object_get_string_member (st, "role"), ==, role);
  g_assert_cmpint (json_object_get_int_member (st, "calls"), ==, 1);
  /* CALL_S seconds at 30 fps is ~480; a starved 2-core box still does far more than this. */
  g_assert_cmpint (frames, >=, 10 * CALL_S);
  g_assert_cmpint (audio, >=, 20 * CALL_S);
  if (gap >= 0)
    g_assert_cmpint (gap, <, MAX_GAP_US);
}

static void
test_flood_during_consult (void)
{
  g_autofree char *conns = g_strdup_printf ("%d", PER_ADDR_CONNS);
  g_autofree char *rate = g_strdup_printf ("%d", PER_ADDR_RATE);
  const char *args[] = { "--max-connections-per-address", conns, "--max-message-rate-per-address", rate, NULL };
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  g_autofree char *dstats = g_build_filename (tv_test_tmpdir (), "doctor.json", NULL);
  g_autofree char *pstats = g_build_filename (tv_test_tmpdir (), "patient.json", NULL);
  GPtrArray *flood = g_ptr_array_new ();

  tv_test_watchdog_start (240, "flood during a consult");
  TvTestServer *srv = tv_test_server_start (tv_test_tmpdir (), args);
  const char *dir = tv_test_server_get_data_dir (srv);
  const char *url = tv_test_server_get_url (srv);
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);

  TvTestClient *doctor = start_party (srv, "doctor", dtok, dstats);
  TvTestClient *patient = start_party (srv, "patient", ptok, pstats);
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 1, EVENT_TIMEOUT_MS));
  gint64 flood_start = g_get_monotonic_time ();

  TvWsHub *hub = tv_test_hub_new (srv);

  /* 1. Hundreds of hostile clients, each kind from its own block of addresses,
   * in waves until FLOOD_S seconds of the consult have passed. */
  guint waves = 0;
  while (waves < 2 || g_get_monotonic_time () - flood_start < FLOOD_S * G_USEC_PER_SEC) {
  waves++;
  for (int k = 0; k < N_KINDS; k++)
    for (int i = 0; i < FLOOD_PER_KIND; i++) {
      Flooder *f = g_new0 (Flooder, 1);
      f->kind = (Kind) k;
      /* Fresh addresses per wave: the server may not have seen the last
       * wave's connections go yet, and they would still count. */
      f->addr = g_strdup_printf ("127.%u.%d.%d", waves, 10 + k, 1 + i / PEERS_PER_ADDR);
      f->peer = peer_from (hub, url, f->addr);
      g_autofree char *name = g_strdup_printf ("%s #%d (%s)", kind_names[k], i, f->addr);
      tv_test_peer_set_name (f->peer, name);
      g_ptr_array_add (flood, f);
    }
  for (guint i = 0; i < flood->len; i++) {
    Flooder *f = g_ptr_array_index (flood, i);
    if (!tv_test_peer_wait_open (f->peer, EVENT_TIMEOUT_MS))
      g_error ("flood peer %u (%s from %s) did not open", i, kind_names[f->kind], f->addr);
  }
  for (guint i = 0; i < flood->len; i++)
    send_script (g_ptr_array_index (flood, i), dtok, ptok);
  for (guint i = 0; i < flood->len; i++)
    check_outcome (g_ptr_array_index (flood, i));
  for (guint i = 0; i < flood->len; i++) {
    Flooder *f = g_ptr_array_index (flood, i);
    tv_test_peer_free (f->peer);
    g_free (f->addr);
    g_free (f);
  }
  g_ptr_array_set_size (flood, 0);
  }
  g_test_message ("%u waves of %d flood clients answered with their error codes in %.1f s", waves,
                  N_KINDS * FLOOD_PER_KIND, (g_get_monotonic_time () - flood_start) / 1e6);

  /* 2. Per-address connection limit: PER_ADDR_CONNS open, the rest refused at
   * the handshake; a closed one frees its slot. */
  GPtrArray *many = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_test_peer_free);
  for (int i = 0; i < PER_ADDR_CONNS + 5; i++)
    g_ptr_array_add (many, peer_from (hub, url, "127.0.50.1"));
  guint open = 0, refused = 0;
  for (guint i = 0; i < many->len; i++) {
    if (tv_test_peer_wait_open (g_ptr_array_index (many, i), EVENT_TIMEOUT_MS))
      open++;
    else
      refused++;
  }
  g_test_message ("127.0.50.1: %u connections open, %u refused", open, refused);
  g_assert_cmpuint (open, ==, PER_ADDR_CONNS);
  g_assert_cmpuint (refused, ==, 5);
  /* Another address is not affected. */
  {
    g_autoptr (TvTestPeer) other = peer_from (hub, url, "127.0.50.2");
    g_assert_true (tv_test_peer_wait_open (other, EVENT_TIMEOUT_MS));
    tv_test_peer_sync (other);
  }
  for (guint i = 0; i < many->len; i++) {
    TvTestPeer *p = g_ptr_array_index (many, i);
    if (tv_test_peer_is_open (p)) {
      tv_test_peer_close (p);
      g_assert_true (tv_test_peer_wait_closed (p, EVENT_TIMEOUT_MS));
      break;
    }
  }
  {
    /* The server frees the slot when it sees the close; retry until it has. */
    gboolean reopened = FALSE;
    for (int attempt = 0; attempt < 20 && !reopened; attempt++) {
      g_autoptr (TvTestPeer) again = peer_from (hub, url, "127.0.50.1");
      reopened = tv_test_peer_wait_open (again, EVENT_TIMEOUT_MS);
    }
    g_assert_true (reopened);
  }
  g_ptr_array_unref (many);

  /* 3. Per-address message rate: 20 connections from one address, each
   * sending 30 pings at once (under the 50/s per connection), 600 in all:
   * past PER_ADDR_RATE the sender gets 4009 and is closed. */
  GPtrArray *rated = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_test_peer_free);
  for (int i = 0; i < 20; i++)
    g_ptr_array_add (rated, peer_from (hub, url, "127.0.51.1"));
  for (guint i = 0; i < rated->len; i++)
    g_assert_true (tv_test_peer_wait_open (g_ptr_array_index (rated, i), EVENT_TIMEOUT_MS));
  for (guint i = 0; i < rated->len; i++)
    for (int j = 0; j < 30; j++)
      tv_test_peer_sendf (g_ptr_array_index (rated, i), "{\"type\":\"ping\",\"id\":%d}", j);
  guint limited = 0, answered = 0;
  for (guint i = 0; i < rated->len; i++) {
    guint pongs = 0;
    TvTestPeer *p = g_ptr_array_index (rated, i);
    int code = next_error (p, &pongs);
    answered += pongs;
    if (code == TV_SIG_ERR_RATE_LIMITED) {
      limited++;
      expect_closed_with (p, 1008, "address over its rate");
    } else {
      g_assert_cmpint (code, ==, -1); /* all 30 answered, nothing else */
      g_assert_cmpuint (pongs, ==, 30);
    }
  }
  g_test_message ("127.0.51.1: %u pings answered, %u connections rate-limited", answered, limited);
  g_assert_cmpuint (limited, >, 0);
  /* The bucket holds PER_ADDR_RATE and refills at PER_ADDR_RATE/s while the
   * burst is read: allow a second's refill at most. */
  g_assert_cmpuint (answered, >=, PER_ADDR_RATE);
  g_assert_cmpuint (answered, <=, 2 * PER_ADDR_RATE);
  g_ptr_array_unref (rated);
  g_test_message ("flood over after %.1f s of the %d s consult", (g_get_monotonic_time () - flood_start) / 1e6,
                  CALL_S);

  /* 4. The consult went on: both parties leave at --duration, having decoded
   * video throughout. */
  tv_test_client_wait_exit (doctor, 90000);
  tv_test_client_wait_exit (patient, 90000);
  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "connection lost"), ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "connection lost"), ==, 0);
  assert_call_smooth (dstats, "doctor");
  assert_call_smooth (pstats, "patient");
  StoreWait w = { dir, id };
  g_assert_true (tv_test_wait_until (consult_completed, &w, 10000));
  g_autoptr (TvConsult) rec = tv_test_get_consult (dir, id);
  g_assert_cmpstr (rec->end_reason, ==, "both-left");
  g_assert_cmpint (rec->connected_us, >=, (CALL_S - 3) * G_USEC_PER_SEC);

  g_ptr_array_unref (flood);
  tv_ws_hub_free (hub);
  g_assert_true (tv_test_server_is_running (srv));
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/net/flood/during-consult", test_flood_during_consult);
  return g_test_run ();
}
