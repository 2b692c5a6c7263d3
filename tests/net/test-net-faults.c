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

static void
test_outage_and_loss (void)
{
  g_autofree char *reason = NULL;
  if (!tv_test_netns_available (&reason)) {
    g_test_skip (reason);
    return;
  }
  tv_test_watchdog_start (180, "network faults");
  TvTestNetns *ns = tv_test_netns_new ();
  g_setenv ("TV_BUILD_DIR", tv_test_netns_wrap_dir (real_build), TRUE);

  const char *srv_args[] = { "--listen", TV_TEST_NETNS_ADDR_A, "--hostname", TV_TEST_NETNS_ADDR_A, NULL };
  g_setenv ("TV_TEST_NETNS", tv_test_netns_name_a (ns), TRUE);
  TvTestServer *srv = tv_test_server_start (tv_test_tmpdir (), srv_args);
  g_unsetenv ("TV_TEST_NETNS");
  const char *dir = tv_test_server_get_data_dir (srv);
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
  g_autofree char *dstats = g_build_filename (tv_test_tmpdir (), "doctor.json", NULL);
  g_autofree char *pstats = g_build_filename (tv_test_tmpdir (), "patient.json", NULL);

  TvTestClient *doctor = start_party (tv_test_netns_name_a (ns), srv, "doctor", dtok, dstats, TRUE);
  TvTestClient *patient = start_party (tv_test_netns_name_b (ns), srv, "patient", ptok, pstats, FALSE);
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 1, EVENT_TIMEOUT_MS));
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

  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EVENT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EVENT_TIMEOUT_MS);
  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);
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
  tv_test_server_free (srv);
  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  g_setenv ("TV_BUILD_DIR", real_build, TRUE);
  tv_test_netns_free (ns);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  real_build = g_strdup (tv_test_build_dir ());
  g_test_add_func ("/net/faults/outage-and-loss", test_outage_and_loss);
  return g_test_run ();
}
