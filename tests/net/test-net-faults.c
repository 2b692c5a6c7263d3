/* test-net-faults.c — a consult across two network namespaces through an outage and sustained loss.
 *
 * Why (issue 7, "Network faults"): the doctor (and the server) run in one
 * namespace, the patient in another, joined by a veth pair
 * (tests/common/tv-test-netns.h). 1) All UDP between them is dropped for a
 * few seconds (nftables, input hooks of both namespaces) and restored: both
 * clients must report the media down and up again ("media disconnected" /
 * "media connected" on stdout, and "media" to the server, which closes and
 * reopens the consult's connected interval), the consult is not split (one
 * consult, no re-join), and video is decoded again after the link returns
 * (the time to media is reported). 2) 5 % random loss on the patient's side
 * for several seconds: decoded frames keep increasing (NACK/PLI recover).
 * 3) (own test case) an outage longer than the client's restart grace: the
 * kept ICE pair is not waited for; a client asks for a media restart, the
 * server tells both ("media-restart") and pairs them again, both build a new
 * peer connection that connects once the link is back. Checked: frames are
 * decoded again both ways on the new calls (time from the link's return to
 * the first frame reported), one consult row under the same id, no re-join,
 * and its connected time leaves the outage out.
 * 4) (own test case) the DTLS handshake loses datagrams before the call
 * starts (the first handshake datagrams into the patient's namespace are
 * dropped): DTLS completes only after a retransmission, one side or both a
 * second or more later. Neither side may send the media it made meanwhile
 * in one stale burst (webrtcbin 1.22 held it and let it go at once when its
 * keys came, docs/BENCHMARKS.md): both decode video, no remote video packet
 * reached a jitter buffer stale ("video_stale_packets" 0 in both
 * --stats-json), and media made before DTLS was up was dropped instead
 * ("packets_held_before_dtls" > 0).
 *
 * Needs root, ip and nft (skipped otherwise). Event-driven waits under a
 * watchdog; the namespaces are removed even if the test dies.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-netns.h"

#define EVENT_TIMEOUT_MS 30000
#define OUTAGE_MS 4000
#define LOSS_MS 6000
#define LONG_OUTAGE_MS 12000   /* > 2 s stall + 6 s restart grace of the client (tv-client-session.c) */

static const char *real_build;

static TvTestClient *
start_party (const char *ns, TvTestServer *srv, const char *name, const char *token, const char *stats,
             gboolean end_on_exit)
{
  const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--token", token, "--headless", "--test-media", "--video-size", "320x240",
                         "--stats-json", stats, end_on_exit ? "--end-on-exit" : NULL, NULL };
  g_setenv ("TV_TEST_NETNS", ns, TRUE);
  TvTestClient *c = tv_test_client_start (name, args);
  g_unsetenv ("TV_TEST_NETNS");
  return c;
}

typedef struct {
  gint64 until;
} Clock;

static gboolean
clock_passed (gpointer data)
{
  return g_get_monotonic_time () >= ((Clock *) data)->until;
}

/* Lets the call run for @ms (the scenario's length, not a synchronisation). */
static void
run_for (guint ms)
{
  Clock c = { g_get_monotonic_time () + (gint64) ms * 1000 };
  tv_test_wait_until (clock_passed, &c, ms + 1000);
}

static void
drop_udp (TvTestNetns *ns, gboolean on)
{
  const char *names[] = { tv_test_netns_name_a (ns), tv_test_netns_name_b (ns) };
  for (int i = 0; i < 2; i++)
    tv_test_netns_nft (names[i], on ? "add table inet tvfault\n"
                                      "add chain inet tvfault inp { type filter hook input priority 0; }\n"
                                      "add rule inet tvfault inp meta l4proto udp drop\n"
                                    : "delete table inet tvfault\n");
}

/* Everything between the namespaces dropped except the signaling's TCP
 * connection to @port: webrtcbin also gathers ICE-TCP candidates, and with
 * only UDP dropped a renegotiated call connects over TCP within the outage
 * (measured: media back ~0.1 s after the restart, 4 s before the link).
 * Explicit accepts: "tcp dport != P tcp sport != P drop" also dropped the
 * signaling's own packets with the nft of Debian 12 (seen, not understood). */
static void
drop_media (TvTestNetns *ns, guint port, gboolean on)
{
  const char *names[] = { tv_test_netns_name_a (ns), tv_test_netns_name_b (ns) };
  g_autofree char *script = g_strdup_printf ("add table inet tvfault\n"
                                             "add chain inet tvfault inp { type filter hook input priority 0; }\n"
                                             "add rule inet tvfault inp tcp dport %u accept\n"
                                             "add rule inet tvfault inp tcp sport %u accept\n"
                                             "add rule inet tvfault inp meta l4proto { tcp, udp } drop\n",
                                             port, port);
  for (int i = 0; i < 2; i++)
    tv_test_netns_nft (names[i], on ? script : "delete table inet tvfault\n");
}

/* One consult across the namespaces: the server and the doctor in A, the patient in B. */
typedef struct {
  TvTestNetns *ns;
  TvTestServer *srv;
  const char *dir;
  char *id;
  char *dstats, *pstats;
  TvTestClient *doctor, *patient;
  const char *nft_b; /* NULL, or nft rules for the patient's namespace before the clients start */
} Call;

/* Starts the server and both clients and waits for video both ways. */
static void
call_start (Call *call, const char *tag)
{
  call->ns = tv_test_netns_new ();
  g_setenv ("TV_BUILD_DIR", tv_test_netns_wrap_dir (real_build), TRUE);
  const char *srv_args[] = { "--listen", TV_TEST_NETNS_ADDR_A, "--hostname", TV_TEST_NETNS_ADDR_A, NULL };
  g_setenv ("TV_TEST_NETNS", tv_test_netns_name_a (call->ns), TRUE);
  call->srv = tv_test_server_start (tv_test_tmpdir (), srv_args);
  g_unsetenv ("TV_TEST_NETNS");
  if (call->nft_b)
    tv_test_netns_nft (tv_test_netns_name_b (call->ns), call->nft_b);
  call->dir = tv_test_server_get_data_dir (call->srv);
  g_autofree char *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (call->dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &call->id, &dtok, &ptok);
  g_autofree char *dname = g_strdup_printf ("doctor%s.json", tag), *pname = g_strdup_printf ("patient%s.json", tag);
  call->dstats = g_build_filename (tv_test_tmpdir (), dname, NULL);
  call->pstats = g_build_filename (tv_test_tmpdir (), pname, NULL);
  call->doctor = start_party (tv_test_netns_name_a (call->ns), call->srv, "doctor", dtok, call->dstats, TRUE);
  call->patient = start_party (tv_test_netns_name_b (call->ns), call->srv, "patient", ptok, call->pstats, FALSE);
  g_assert_true (tv_test_client_wait_lines (call->doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (call->patient, "first remote frame", 1, EVENT_TIMEOUT_MS));
}

/* The doctor ends the consult (--end-on-exit); both must exit 0. */
static void
call_end (Call *call)
{
  tv_test_client_signal (call->doctor, SIGTERM);
  tv_test_client_wait_exit (call->doctor, EVENT_TIMEOUT_MS);
  tv_test_client_wait_exit (call->patient, EVENT_TIMEOUT_MS);
  if (call->doctor->status != 0 || call->patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", call->doctor->err_text, call->patient->err_text);
  g_assert_cmpint (call->doctor->status, ==, 0);
  g_assert_cmpint (call->patient->status, ==, 0);
}

static void
call_free (Call *call)
{
  tv_test_server_free (call->srv);
  tv_test_client_free (call->doctor);
  tv_test_client_free (call->patient);
  g_setenv ("TV_BUILD_DIR", real_build, TRUE);
  tv_test_netns_free (call->ns);
  g_free (call->id);
  g_free (call->dstats);
  g_free (call->pstats);
}

static void
test_outage_and_loss (void)
{
  g_autofree char *reason = NULL;
  if (!tv_test_netns_available (&reason)) {
    g_test_skip (reason);
    return;
  }
  tv_test_watchdog_start (180, "network faults");
  Call call = { 0 };
  call_start (&call, "");
  TvTestNetns *ns = call.ns;
  TvTestServer *srv = call.srv;
  const char *dir = call.dir, *id = call.id, *dstats = call.dstats, *pstats = call.pstats;
  TvTestClient *doctor = call.doctor, *patient = call.patient;
  run_for (2000);

  /* 1. Outage. */
  drop_udp (ns, TRUE);
  gint64 down_at = g_get_monotonic_time ();
  g_assert_true (tv_test_client_wait_lines (doctor, "media disconnected", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "media disconnected", 1, EVENT_TIMEOUT_MS));
  g_test_message ("both told of the outage within %.2f s", (g_get_monotonic_time () - down_at) / 1e6);
  Clock rest = { down_at + OUTAGE_MS * 1000 };
  tv_test_wait_until (clock_passed, &rest, OUTAGE_MS + 1000);
  drop_udp (ns, FALSE);
  gint64 up_at = g_get_monotonic_time ();
  g_assert_true (tv_test_client_wait_lines (doctor, "media connected", 2, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "media connected", 2, EVENT_TIMEOUT_MS));
  g_test_message ("media reported back %.2f s after the link returned", (g_get_monotonic_time () - up_at) / 1e6);
  {
    g_autoptr (TvConsult) c = tv_test_get_consult (dir, id);
    g_assert_cmpint (c->status, ==, TV_CONSULT_IN_PROGRESS);
  }

  /* 2. Sustained 5 % loss on the patient's side. */
  tv_test_netns_nft (tv_test_netns_name_b (ns), "add table inet tvloss\n"
                                               "add chain inet tvloss inp { type filter hook input priority 0; }\n"
                                               "add rule inet tvloss inp meta l4proto udp numgen random mod 100 < 5 drop\n");
  run_for (LOSS_MS);
  tv_test_netns_nft (tv_test_netns_name_b (ns), "delete table inet tvloss\n");
  run_for (1000);

  call_end (&call);
  /* Not split: one pairing, one call each, no reconnect. */
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "paired "), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "paired "), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "connection lost"), ==, 0);

  const char *paths[] = { dstats, pstats };
  for (int i = 0; i < 2; i++) {
    g_autoptr (JsonObject) st = tv_test_client_load_stats (paths[i]);
    gint64 frames = json_object_get_int_member (st, "video_frames_decoded");
    gint64 last = tv_test_json_int (st, "last_remote_frame_us", -1);
    gint64 gap_end = tv_test_json_int (st, "video_max_gap_end_us", -1);
    g_test_message ("%s: %" G_GINT64_FORMAT " frames decoded; video back %.2f s after the link returned",
                    i ? "patient" : "doctor", frames, gap_end > 0 ? (gap_end - up_at) / 1e6 : -1.0);
    g_assert_cmpint (frames, >, 100);
    /* Frames kept coming through the lossy period, up to the end. */
    if (last > 0)
      g_assert_cmpint (last, >, up_at + (LOSS_MS) * 1000);
  }
  g_autoptr (GPtrArray) log = tv_test_get_participation (dir, id);
  guint downs = 0, ups = 0;
  for (guint i = 0; i < log->len; i++) {
    const TvParticipation *p = g_ptr_array_index (log, i);
    downs += p->event == TV_PART_MEDIA_DOWN;
    ups += p->event == TV_PART_MEDIA_UP;
  }
  g_assert_cmpuint (downs, >=, 2);
  g_assert_cmpuint (ups, >=, 4);

  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  call_free (&call);
  tv_test_watchdog_stop ();
}

typedef struct {
  const char *dir;
  const char *id;
} ConsultWait;

static gboolean
consult_completed (gpointer data)
{
  ConsultWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == TV_CONSULT_COMPLETED;
}

static gboolean
media_reopened (gpointer data)
{
  ConsultWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->media_up_since != 0;
}

static void
test_outage_restart (void)
{
  g_autofree char *reason = NULL;
  if (!tv_test_netns_available (&reason)) {
    g_test_skip (reason);
    return;
  }
  tv_test_watchdog_start (120, "network outage with media restart");
  Call call = { 0 };
  call_start (&call, "-restart");
  TvTestNetns *ns = call.ns;
  TvTestServer *srv = call.srv;
  const char *dir = call.dir, *id = call.id, *dstats = call.dstats, *pstats = call.pstats;
  TvTestClient *doctor = call.doctor, *patient = call.patient;
  run_for (1000);

  /* All media paths dropped for longer than the restart grace: the restart
   * happens during the outage (the signaling connection is spared); the new
   * calls connect when the link returns. */
  guint port = tv_test_server_get_port (srv);
  drop_media (ns, port, TRUE);
  gint64 down_at = g_get_monotonic_time (), down_real = g_get_real_time ();
  if (!tv_test_client_wait_lines (doctor, "media restart by=", 1, EVENT_TIMEOUT_MS)
      || !tv_test_client_wait_lines (patient, "media restart by=", 1, EVENT_TIMEOUT_MS)) {
    g_autofree char *log_text = tv_test_server_read_stderr (srv);
    g_test_message ("server stderr:\n%s", log_text);
    g_assert_not_reached ();
  }
  g_test_message ("media restart announced %.2f s into the outage", (g_get_monotonic_time () - down_at) / 1e6);
  Clock rest = { down_at + LONG_OUTAGE_MS * 1000 };
  tv_test_wait_until (clock_passed, &rest, LONG_OUTAGE_MS + 1000);
  guint d_restarts = tv_test_client_count_lines (doctor, "media restart by="),
        p_restarts = tv_test_client_count_lines (patient, "media restart by=");
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "first remote frame"), ==, 1);   /* still down */
  drop_media (ns, port, FALSE);
  gint64 up_at = g_get_monotonic_time (), up_real = g_get_real_time ();
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 2, EVENT_TIMEOUT_MS));
  gint64 d_frame = g_get_monotonic_time ();
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 2, EVENT_TIMEOUT_MS));
  gint64 p_frame = g_get_monotonic_time ();
  g_test_message ("link back -> first decoded frame: doctor %.2f s, patient %.2f s (restarts during the outage: "
                  "%u seen by the doctor, %u by the patient)",
                  (d_frame - up_at) / 1e6, (p_frame - up_at) / 1e6, d_restarts, p_restarts);
  g_assert_true (tv_test_client_wait_lines (doctor, "media connected", 2, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "media connected", 2, EVENT_TIMEOUT_MS));
  ConsultWait w = { dir, id };
  g_assert_true (tv_test_wait_until (media_reopened, &w, EVENT_TIMEOUT_MS));
  run_for (2000);

  call_end (&call);
  /* Not split: one join each, no reconnect of the signaling. */
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "joined consult="), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "joined consult="), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "rejoined consult="), ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "connection lost"), ==, 0);
  g_assert_true (tv_test_wait_until (consult_completed, &w, 10000));

  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) all = tv_store_consult_list (store, &error);
  g_assert_cmpuint (all->len, ==, 1);
  g_autoptr (TvConsult) rec = tv_test_get_consult (dir, id);
  gint64 wall = rec->ended_at - rec->started_at, outage = up_real - down_real;
  g_test_message ("consult %s: connected %.2f s of %.2f s; outage %.2f s", rec->id, rec->connected_us / 1e6,
                  wall / 1e6, outage / 1e6);
  /* The interval closed within the stall watch (2 s) of the drop and reopened
   * after the link returned. */
  g_assert_cmpint (rec->connected_us, <=, wall - outage + 3 * G_USEC_PER_SEC);
  g_assert_cmpint (rec->connected_us, >, 2 * G_USEC_PER_SEC);
  g_clear_pointer (&store, tv_store_close);

  const char *paths[] = { dstats, pstats };
  for (int i = 0; i < 2; i++) {
    g_autoptr (JsonObject) st = tv_test_client_load_stats (paths[i]);
    gint64 last = tv_test_json_int (st, "last_remote_frame_us", -1);
    if (last > 0)
      g_assert_cmpint (last, >, up_at);   /* frames kept coming on the new call */
  }
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  g_autofree char *log_text = tv_test_server_read_stderr (srv);
  g_assert_nonnull (strstr (log_text, "media restart asked by the"));
  call_free (&call);
  tv_test_watchdog_stop ();
}

/* Packets the rule with a counter in table @table of namespace @ns matched. */
static guint64
nft_counted (const char *ns, const char *table)
{
  const char *argv[] = { "ip", "netns", "exec", ns, "nft", "list", "table", "inet", table, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                               &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  const char *at = strstr (out, "counter packets ");
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen ("counter packets "), NULL, 10);
}

static void
test_dtls_flight_lost (void)
{
  g_autofree char *reason = NULL;
  if (!tv_test_netns_available (&reason)) {
    g_test_skip (reason);
    return;
  }
  tv_test_watchdog_start (120, "DTLS flight lost");
  /* DTLS handshake records (content type 22, the first byte of the UDP
   * payload) into the patient's namespace are dropped until 400 bytes of them
   * have been: the first flight the patient is sent (a ClientHello, or a
   * ServerHello with the certificate) and perhaps its first retransmission.
   * STUN (first byte 0/1) and SRTP (128-191) pass. */
  Call call = { .nft_b = "add table inet tvdtls\n"
                         "add chain inet tvdtls inp { type filter hook input priority 0; }\n"
                         "add rule inet tvdtls inp meta l4proto udp @th,64,8 22 quota until 400 bytes counter drop\n" };
  call_start (&call, "-dtls");
  guint64 dropped = nft_counted (tv_test_netns_name_b (call.ns), "tvdtls");
  g_test_message ("DTLS handshake datagrams dropped: %" G_GUINT64_FORMAT, dropped);
  g_assert_cmpuint (dropped, >=, 1);
  run_for (3000);
  call_end (&call);

  const char *paths[] = { call.dstats, call.pstats };
  for (int i = 0; i < 2; i++) {
    g_autoptr (JsonObject) st = tv_test_client_load_stats (paths[i]);
    gint64 frames = json_object_get_int_member (st, "video_frames_decoded");
    gint64 stale = tv_test_json_int (st, "video_stale_packets", -1);
    gint64 held = tv_test_json_int (st, "packets_held_before_dtls", -1);
    g_test_message ("%s: %" G_GINT64_FORMAT " frames decoded, %" G_GINT64_FORMAT " stale video packets received, %"
                    G_GINT64_FORMAT " of its packets held back before DTLS", i ? "patient" : "doctor", frames, stale,
                    held);
    g_assert_cmpint (frames, >, 30);
    g_assert_cmpint (stale, ==, 0);
    g_assert_cmpint (held, >, 0);
  }
  g_assert_cmpint (tv_test_server_stop (call.srv, 10000), ==, 0);
  call_free (&call);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  real_build = g_strdup (tv_test_build_dir ());
  g_test_add_func ("/net/faults/outage-and-loss", test_outage_and_loss);
  g_test_add_func ("/net/faults/outage-restart", test_outage_restart);
  g_test_add_func ("/net/faults/dtls-flight-lost", test_dtls_flight_lost);
  return g_test_run ();
}
