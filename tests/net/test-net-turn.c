/* test-net-turn.c — a consult through coturn, with the direct path blocked, on server-issued credentials.
 *
 * Why (issue 7, "TURN"): clients behind networks that let no UDP through
 * between them need a relay, and the relay must only serve our consults.
 * The server shares a secret with coturn (use-auth-secret) and hands each
 * client short-lived credentials in "joined" (ice_servers); the client gives
 * them to webrtcbin. Set-up: namespaces A (198.18.0.1: server, doctor) and B
 * (198.18.0.2: patient) from tests/common/tv-test-netns.h, plus a second
 * address 198.18.0.3 in A where coturn (Debian's `turnserver`, started here
 * from a temporary 0600 configuration: static-auth-secret, no-cli, no-tls,
 * no-dtls, its own relay-ip, min-port/max-port, log file, pid file and
 * database) listens and relays. nftables in both input hooks drop every UDP
 * datagram between the namespaces except to/from TURN's ports, so host
 * candidates cannot connect and only a relayed pair can.
 * 1) Right secret: both clients decode video; proof of the relay: coturn's
 *    log shows a successful allocation for the issued username
 *    "EXPIRY:CONSULT-ID" and relayed bytes for it, and the direct path is
 *    shown blocked (2).
 * 2) Wrong secret (a second server with another secret file): coturn refuses
 *    every allocation (no success in its log for that consult), the call never
 *    connects and both clients exit 5.
 *
 * Needs root, ip, nft and turnserver (skipped otherwise). Event-driven waits
 * under a watchdog; coturn dies with the test (PR_SET_PDEATHSIG) and the
 * namespaces are removed even if the test dies.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-netns.h"

#define EVENT_TIMEOUT_MS 30000
#define TURN_ADDR "198.18.0.3"
#define SERVER_ADDR "198.18.0.4"
#define TURN_PORT "3478"
#define RELAY_MIN "20000"
#define RELAY_MAX "20100"
#define SECRET "tv-test-turn-secret-7c1f0e9a5b2d4c68"
#define WRONG_SECRET "tv-test-not-the-secret-0000000000000"

static const char *real_build;

typedef struct {
  GSubprocess *proc;
  char *log_path;
} Turn;

static void
die_with_parent (gpointer data)
{
  /* The relay must not outlive a test that crashed or was killed. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static char *
read_text (const char *path)
{
  char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

static gboolean
turn_ready (gpointer data)
{
  Turn *t = data;
  g_autofree char *log = read_text (t->log_path);
  return strstr (log, "UDP listener opened on: " TURN_ADDR ":" TURN_PORT) != NULL
      && strstr (log, "Total General servers") != NULL;
}

static char *
write_private_file (const char *name, const char *text)
{
  char *path = g_build_filename (tv_test_tmpdir (), name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  return path;
}

static Turn *
turn_start (const char *ns)
{
  Turn *t = g_new0 (Turn, 1);
  const char *tmp = tv_test_tmpdir ();
  t->log_path = g_build_filename (tmp, "turn.log", NULL);
  g_autofree char *conf_text = g_strdup_printf ("listening-ip=" TURN_ADDR "\n"
                                                "relay-ip=" TURN_ADDR "\n"
                                                "listening-port=" TURN_PORT "\n"
                                                "min-port=" RELAY_MIN "\n"
                                                "max-port=" RELAY_MAX "\n"
                                                "realm=televisit.test\n"
                                                "use-auth-secret\n"
                                                "static-auth-secret=" SECRET "\n"
                                                "no-cli\nno-tls\nno-dtls\nno-tcp-relay\n"
                                                "log-file=%s\nsimple-log\nverbose\n"
                                                "pidfile=%s/turn.pid\nuserdb=%s/turndb\n",
                                                t->log_path, tmp, tmp);
  /* The secret stays out of the command line (ps). */
  g_autofree char *conf = write_private_file ("turnserver.conf", conf_text);
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                                 G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (l, die_with_parent, NULL, NULL);
  g_autoptr (GError) error = NULL;
  t->proc = g_subprocess_launcher_spawn (l, &error, "ip", "netns", "exec", ns, "turnserver", "-c", conf, NULL);
  g_assert_no_error (error);
  if (!tv_test_wait_until (turn_ready, t, EVENT_TIMEOUT_MS)) {
    g_autofree char *log = read_text (t->log_path);
    g_error ("turnserver did not open its UDP listener; its log:\n%s", log);
  }
  return t;
}

static void
turn_stop (Turn *t)
{
  g_subprocess_send_signal (t->proc, SIGTERM);
  g_assert_true (g_subprocess_wait (t->proc, NULL, NULL));
  g_object_unref (t->proc);
  g_free (t->log_path);
  g_free (t);
}

static gboolean
clock_passed (gpointer data)
{
  return g_get_monotonic_time () >= *(gint64 *) data;
}

static TvTestClient *
start_party (const char *ns, TvTestServer *srv, const char *name, const char *addr, const char *token,
             const char *stats, gboolean doctor, const char *media_timeout, const char *peer_timeout)
{
  const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--token", token, "--headless", "--test-media", "--video-size", "320x240",
                         "--ice-address", addr, "--media-timeout", media_timeout, "--peer-timeout", peer_timeout,
                         "--stats-json", stats, doctor ? "--end-on-exit" : NULL, NULL };
  g_setenv ("TV_TEST_NETNS", ns, TRUE);
  TvTestClient *c = tv_test_client_start (name, args);
  g_unsetenv ("TV_TEST_NETNS");
  return c;
}

static TvTestServer *
start_server (TvTestNetns *ns, const char *data_dir, const char *secret_file)
{
  const char *args[] = { "--listen", SERVER_ADDR, "--hostname", SERVER_ADDR,
                         "--turn-url", "turn:" TURN_ADDR ":" TURN_PORT "?transport=udp",
                         "--turn-secret-file", secret_file, "--turn-credential-ttl", "600",
                         "--stun", "stun:" TURN_ADDR ":" TURN_PORT, NULL };
  g_setenv ("TV_TEST_NETNS", tv_test_netns_name_a (ns), TRUE);
  TvTestServer *srv = tv_test_server_start (data_dir, args);
  g_unsetenv ("TV_TEST_NETNS");
  return srv;
}

/* Nothing at all between the two clients' addresses (UDP, and TCP too:
 * webrtcbin also offers ICE-TCP candidates), and only TURN's UDP ports
 * (listener, relay range) of the relay's address. The server has its own
 * address, so signaling (TCP) still passes. */
static void
block_direct_paths (TvTestNetns *ns)
{
  tv_test_netns_nft (tv_test_netns_name_a (ns),
                     "add table inet tvturn\n"
                     "add chain inet tvturn inp { type filter hook input priority 0; }\n"
                     "add counter inet tvturn direct_dropped\n"
                     "add rule inet tvturn inp ip saddr " TV_TEST_NETNS_ADDR_B " ip daddr " TV_TEST_NETNS_ADDR_A
                     " counter name direct_dropped drop\n"
                     "add rule inet tvturn inp ip saddr " TV_TEST_NETNS_ADDR_B " ip daddr " TURN_ADDR
                     " udp dport != { " TURN_PORT ", " RELAY_MIN "-" RELAY_MAX " } counter drop\n"
                     "add rule inet tvturn inp ip saddr " TV_TEST_NETNS_ADDR_B " ip daddr " TURN_ADDR
                     " meta l4proto != udp counter drop\n");
  tv_test_netns_nft (tv_test_netns_name_b (ns),
                     "add table inet tvturn\n"
                     "add chain inet tvturn inp { type filter hook input priority 0; }\n"
                     "add counter inet tvturn direct_dropped\n"
                     "add counter inet tvturn relayed\n"
                     "add rule inet tvturn inp ip saddr " TV_TEST_NETNS_ADDR_A " counter name direct_dropped drop\n"
                     "add rule inet tvturn inp ip saddr " TURN_ADDR " udp sport { " TURN_PORT ", " RELAY_MIN "-" RELAY_MAX
                     " } counter name relayed accept\n"
                     "add rule inet tvturn inp ip saddr " TURN_ADDR " udp sport != { " TURN_PORT ", " RELAY_MIN "-"
                     RELAY_MAX " } counter drop\n"
                     "add rule inet tvturn inp ip saddr " TURN_ADDR " meta l4proto != udp counter drop\n");
}

/* Bytes (or packets) counted so far by the named nftables counter of table
 * inet tvturn in namespace @ns (`nft -j`, parsed with json-glib). */
static guint64
nft_counter (const char *ns, const char *name, gboolean bytes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                                &error, "ip", "netns", "exec", ns, "nft", "-j", "list", "counter",
                                                "inet", "tvturn", name, NULL);
  g_assert_no_error (error);
  g_autofree char *out = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error));
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  JsonArray *items = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "nftables");
  for (guint i = 0; i < json_array_get_length (items); i++) {
    JsonObject *o = json_array_get_object_element (items, i);
    if (json_object_has_member (o, "counter"))
      return (guint64) json_object_get_int_member (json_object_get_object_member (o, "counter"),
                                                   bytes ? "bytes" : "packets");
  }
  g_error ("no counter %s in: %s", name, out);
  return 0;
}

/* Lines of coturn's log that mention @needle and @also. */
static guint
count_log_lines (const char *log, const char *needle, const char *also)
{
  g_auto (GStrv) lines = g_strsplit (log, "\n", -1);
  guint n = 0;
  for (char **l = lines; *l; l++)
    n += strstr (*l, needle) != NULL && (also == NULL || strstr (*l, also) != NULL);
  return n;
}

static void
test_turn (void)
{
  g_autofree char *reason = NULL;
  g_autofree char *turnserver = g_find_program_in_path ("turnserver");
  if (!tv_test_netns_available (&reason)) {
    g_test_skip (reason);
    return;
  }
  if (!turnserver) {
    g_test_skip ("needs turnserver (Debian package coturn)");
    return;
  }
  tv_test_watchdog_start (240, "TURN");
  TvTestNetns *ns = tv_test_netns_new ();
  const char *a = tv_test_netns_name_a (ns), *b = tv_test_netns_name_b (ns);
  g_autofree char *err = NULL;
  const char *extra[] = { TURN_ADDR "/24", SERVER_ADDR "/24" };
  for (int i = 0; i < 2; i++)
    if (!tv_test_netns_run (a, (const char *[]){ "ip", "addr", "add", extra[i], "dev", "pe0", NULL }, &err))
      g_error ("cannot add %s: %s", extra[i], err);
  g_setenv ("TV_BUILD_DIR", tv_test_netns_wrap_dir (real_build), TRUE);

  Turn *turn = turn_start (a);
  block_direct_paths (ns);

  /* 1. The right secret: the call goes through the relay. */
  g_autofree char *secret_file = write_private_file ("turn-secret", SECRET "\n");
  g_autofree char *dir1 = g_build_filename (tv_test_tmpdir (), "srv-right", NULL);
  g_assert_cmpint (g_mkdir (dir1, 0700), ==, 0);
  TvTestServer *srv = start_server (ns, dir1, secret_file);
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok,
                          &ptok);
  g_autofree char *dstats = g_build_filename (tv_test_tmpdir (), "doctor.json", NULL);
  g_autofree char *pstats = g_build_filename (tv_test_tmpdir (), "patient.json", NULL);
  TvTestClient *doctor = start_party (a, srv, "doctor", TV_TEST_NETNS_ADDR_A, dtok, dstats, TRUE, "30", "60");
  TvTestClient *patient = start_party (b, srv, "patient", TV_TEST_NETNS_ADDR_B, ptok, pstats, FALSE, "30", "60");
  g_assert_true (tv_test_client_wait_lines (doctor, "ice server offered turn=" TURN_ADDR ":" TURN_PORT, 1,
                                            EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "ice server offered turn=" TURN_ADDR ":" TURN_PORT, 1,
                                            EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "ice server offered stun=" TURN_ADDR, 1, EVENT_TIMEOUT_MS));
  gint64 paired_at = g_get_monotonic_time ();
  if (!tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS) ||
      !tv_test_client_wait_lines (patient, "first remote frame", 1, EVENT_TIMEOUT_MS)) {
    g_autofree char *log = read_text (turn->log_path);
    g_error ("no media through the relay\ndoctor:\n%s%s\npatient:\n%s%s\ncoturn:\n%s", doctor->out_text->str,
             doctor->err_text ? doctor->err_text : "", patient->out_text->str,
             patient->err_text ? patient->err_text : "", log);
  }
  g_test_message ("first frames both ways %.2f s after joining", (g_get_monotonic_time () - paired_at) / 1e6);
  /* Frames keep flowing for a while (the scenario's length, not a synchronisation). */
  g_assert_true (tv_test_client_wait_lines (doctor, "media connected", 1, EVENT_TIMEOUT_MS));
  {
    gint64 until = g_get_monotonic_time () + 3 * G_USEC_PER_SEC;
    tv_test_wait_until (clock_passed, &until, 4000);
  }
  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EVENT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EVENT_TIMEOUT_MS);
  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);
  const char *paths[] = { dstats, pstats };
  for (int i = 0; i < 2; i++) {
    g_autoptr (JsonObject) st = tv_test_client_load_stats (paths[i]);
    gint64 frames = json_object_get_int_member (st, "video_frames_decoded");
    g_test_message ("%s: %" G_GINT64_FORMAT " frames decoded through the relay", i ? "patient" : "doctor", frames);
    g_assert_cmpint (frames, >, 30);
  }
  /* The relay carried it: allocations for this consult's issued username succeeded. */
  {
    g_autofree char *log = read_text (turn->log_path);
    g_autofree char *user = g_strdup_printf (":%s", id);
    guint allocs = count_log_lines (log, "ALLOCATE processed, success", user);
    guint perms = count_log_lines (log, "CREATE_PERMISSION processed, success", user)
                  + count_log_lines (log, "CHANNEL_BIND processed, success", user);
    g_test_message ("coturn: %u successful allocations, %u permissions/channels for *%s", allocs, perms, user);
    g_assert_cmpuint (allocs, >=, 1);
    g_assert_cmpuint (perms, >=, 1);
    /* The username is "EXPIRY:CONSULT-ID", EXPIRY = join time + the TTL (600 s). */
    const char *at = strstr (log, user);
    const char *start = at;
    while (start > log && g_ascii_isdigit (start[-1]))
      start--;
    g_assert_true (at != NULL && start < at);
    gint64 expiry = g_ascii_strtoll (start, NULL, 10);
    gint64 now = g_get_real_time () / G_USEC_PER_SEC;
    g_test_message ("issued username expires %" G_GINT64_FORMAT " s from now", expiry - now);
    g_assert_cmpint (expiry - now, >, 600 - 120);
    g_assert_cmpint (expiry - now, <=, 600);
  }
  /* Everything the patient received came from the relay's ports: nothing
   * from the doctor's address got in (its ICE checks were dropped). */
  {
    guint64 relayed = nft_counter (b, "relayed", TRUE);
    guint64 dropped_b = nft_counter (b, "direct_dropped", FALSE), dropped_a = nft_counter (a, "direct_dropped", FALSE);
    g_test_message ("patient's namespace: %" G_GUINT64_FORMAT " bytes in from the relay; direct packets dropped: "
                    "%" G_GUINT64_FORMAT " into the patient's, %" G_GUINT64_FORMAT " into the doctor's",
                    relayed, dropped_b, dropped_a);
    g_assert_cmpuint (relayed, >, 100000);
    g_assert_cmpuint (dropped_a + dropped_b, >, 0);
  }
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  tv_test_client_free (doctor);
  tv_test_client_free (patient);

  /* 2. A server with the wrong secret: coturn refuses, the call cannot connect. */
  g_autofree char *wrong_file = write_private_file ("turn-secret-wrong", WRONG_SECRET "\n");
  g_autofree char *dir2 = g_build_filename (tv_test_tmpdir (), "srv-wrong", NULL);
  g_assert_cmpint (g_mkdir (dir2, 0700), ==, 0);
  srv = start_server (ns, dir2, wrong_file);
  g_autofree char *id2 = NULL, *dtok2 = NULL, *ptok2 = NULL;
  tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id2,
                          &dtok2, &ptok2);
  doctor = start_party (a, srv, "doctor2", TV_TEST_NETNS_ADDR_A, dtok2, dstats, TRUE, "8", "3");
  patient = start_party (b, srv, "patient2", TV_TEST_NETNS_ADDR_B, ptok2, pstats, FALSE, "8", "3");
  tv_test_client_wait_exit (doctor, EVENT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EVENT_TIMEOUT_MS);
  /* Both media timeouts fire within milliseconds of each other. Whoever fails
   * first exits 5; if its departure reaches the other before that one's own
   * failure, the other is back to waiting for a peer and exits 4 when its
   * --peer-timeout runs out. Either way at least one reports the media failure. */
  g_assert_true (doctor->status == 5 || doctor->status == 4);
  g_assert_true (patient->status == 5 || patient->status == 4);
  g_assert_true (doctor->status == 5 || patient->status == 5);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "media connected"), ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "media connected"), ==, 0);
  {
    g_autofree char *log = read_text (turn->log_path);
    g_autofree char *user = g_strdup_printf (":%s", id2);
    guint tried = count_log_lines (log, "error 401", user);
    g_test_message ("coturn: %u requests refused (401) for the wrong-secret consult, none successful", tried);
    g_assert_cmpuint (tried, >=, 1);
    g_assert_cmpuint (count_log_lines (log, "ALLOCATE processed, success", user), ==, 0);
  }
  tv_test_server_stop (srv, 10000);
  tv_test_server_free (srv);
  tv_test_client_free (doctor);
  tv_test_client_free (patient);

  turn_stop (turn);
  g_setenv ("TV_BUILD_DIR", real_build, TRUE);
  tv_test_netns_free (ns);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  real_build = g_strdup (tv_test_build_dir ());
  g_test_add_func ("/net/turn/relay-only-with-issued-credentials", test_turn);
  return g_test_run ();
}
