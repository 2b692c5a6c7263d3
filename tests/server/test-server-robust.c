/* test-server-robust.c — televisit-server as a daemon: command line, exit codes,
 * limits and recovery (complements the protocol suite in test-server-ws.c).
 *
 * Why: an operator meets the daemon through its flags, its exit status and its
 * one stdout line; a production server meets a full connection table, a store
 * that fails mid-consult and restarts after a crash. Each case checks what a
 * user or the store would see. Synthetic people only, loopback only.
 * Thread: main thread; every wait has a timeout and each case a watchdog.
 */
#define G_LOG_DOMAIN "tv-test-server-robust"

#include <signal.h>
#include <string.h>
#include <gio/gio.h>

#include "signaling/tv-sig-error.h"
#include "signaling/tv-sig-message.h"
#include "tests/common/tv-test-fixture.h"

#define WAIT_MS 5000

static char *
server_path (void)
{
  return g_build_filename (tv_test_build_dir (), "televisit-server", NULL);
}

/* Runs the server binary with @args to completion (it must exit by itself).
 * Returns: its exit status; *@out / *@err (transfer full) get its output. */
static int
run_server (const char *const *args, char **out, char **err)
{
  g_autofree char *bin = server_path ();
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, bin);
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc = g_subprocess_newv ((const char *const *) argv->pdata,
                                                    G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                        G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                    &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, out, err, &error));
  g_assert_no_error (error);
  return g_subprocess_get_exit_status (proc);
}

static void
test_cli_help_version (void)
{
  tv_test_watchdog_start (30, "cli-help-version");
  g_autofree char *out = NULL, *err = NULL;
  const char *help[] = { "--help", NULL };
  g_assert_cmpint (run_server (help, &out, &err), ==, 0);
  const char *sections[] = { "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION FILE",
                             "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES" };
  for (gsize i = 0; i < G_N_ELEMENTS (sections); i++)
    g_assert_nonnull (strstr (out, sections[i]));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  const char *version[] = { "--version", NULL };
  g_assert_cmpint (run_server (version, &out, &err), ==, 0);
  g_assert_true (g_str_has_prefix (out, "televisit-server "));
  tv_test_watchdog_stop ();
}

/* A bad value exits 1 before touching anything, with a message naming the key. */
static void
test_cli_bad_config (void)
{
  tv_test_watchdog_start (30, "cli-bad-config");
  const char *dir = tv_test_tmpdir ();
  g_autofree char *data = g_build_filename (dir, "never-created", NULL);
  struct {
    const char *flag;
    const char *value;
    const char *key;
  } cases[] = {
    { "--port", "70000", "port" },
    { "--listen", "not-an-address", "listen" },
    { "--join-timeout", "0", "join-timeout" },
    { "--log-level", "chatty", "log-level" },
    { "--cert", "/nonexistent/cert.pem", "cert" },
    { "--max-connections", "-5", "max-connections" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "--data-dir", data, cases[i].flag, cases[i].value, NULL };
    int status = run_server (args, &out, &err);
    g_test_message ("%s %s -> %d: %s", cases[i].flag, cases[i].value, status, err);
    g_assert_cmpint (status, ==, 1);
    g_assert_nonnull (strstr (err, cases[i].key));
    g_assert_cmpstr (out, ==, "");
  }
  g_assert_false (g_file_test (data, G_FILE_TEST_EXISTS));
  tv_test_watchdog_stop ();
}

/* stdout carries exactly the readiness line, also after a graceful stop;
 * the IPv6 form has brackets and the real port. */
static void
test_cli_stdout_ipv6 (void)
{
  tv_test_watchdog_start (30, "cli-stdout-ipv6");
  const char *dir = tv_test_tmpdir ();
  g_autofree char *bin = server_path ();
  const char *argv[] = { bin, "--data-dir", dir, "--listen", "::1", "--port", "0", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                              G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                                    &error);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  /* Blocking read: the watchdog bounds it. */
  g_autofree char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_test_message ("readiness: %s", line);
  g_assert_true (g_str_has_prefix (line, "listening on wss://[::1]:"));
  g_assert_true (g_str_has_suffix (line, "/"));
  g_assert_false (g_str_has_suffix (line, ":0/"));

  g_subprocess_send_signal (proc, SIGTERM);
  g_autofree char *rest = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (rest); /* EOF: nothing else on stdout */
  g_assert_true (g_subprocess_wait (proc, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  tv_test_watchdog_stop ();
}

static void
test_cli_port_in_use (void)
{
  tv_test_watchdog_start (30, "cli-port-in-use");
  const char *dir = tv_test_tmpdir ();
  TvTestServer *srv = tv_test_server_start (dir, NULL);
  g_autofree char *port = g_strdup_printf ("%u", tv_test_server_get_port (srv));
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--data-dir", dir, "--listen", "127.0.0.1", "--port", port, NULL };
  int status = run_server (args, &out, &err);
  g_test_message ("second server: %d: %s", status, err);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, "cannot listen"));
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpint (tv_test_server_stop (srv, WAIT_MS), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* ---- a paired consult ---------------------------------------------------- */

typedef struct {
  char *id, *dtok, *ptok;
  TvTestPeer *doctor, *patient;
} Pair;

static void
pair_clear (Pair *p)
{
  tv_test_peer_free (p->doctor);
  tv_test_peer_free (p->patient);
  g_free (p->id);
  g_free (p->dtok);
  g_free (p->ptok);
  memset (p, 0, sizeof *p);
}

/* Both join, get paired, and complete offer/answer. */
static void
pair_connect (Pair *p, TvWsHub *hub, TvTestServer *srv)
{
  const char *url = tv_test_server_get_url (srv);
  p->doctor = tv_test_peer_connect (hub, url);
  p->patient = tv_test_peer_connect (hub, url);
  tv_test_peer_set_name (p->doctor, "doctor");
  tv_test_peer_set_name (p->patient, "patient");
  json_object_unref (tv_test_peer_join (p->doctor, p->dtok, "doctor"));
  json_object_unref (tv_test_peer_join (p->patient, p->ptok, "patient"));
  json_object_unref (tv_test_peer_expect (p->doctor, "peer-joined", 0));
  /* The patient waits until the doctor admits it (waiting room), unless the
   * consult had already started (a room re-created after a restart starts
   * admitted). */
  {
    JsonObject *next = tv_test_peer_next (p->patient, TV_TEST_TIMEOUT_MS);
    g_assert_nonnull (next);
    if (g_strcmp0 (tv_test_json_str (next, "type"), "waiting") == 0) {
      tv_test_peer_send (p->doctor, "{\"type\":\"admit\"}");
      json_object_unref (tv_test_peer_expect (p->patient, "paired", 0));
    } else {
      g_assert_cmpstr (tv_test_json_str (next, "type"), ==, "paired");
    }
    json_object_unref (next);
  }
  json_object_unref (tv_test_peer_expect (p->doctor, "paired", 0));
  tv_test_peer_send (p->doctor, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}");
  json_object_unref (tv_test_peer_expect (p->patient, "offer", 0));
  tv_test_peer_send (p->patient, "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"}");
  json_object_unref (tv_test_peer_expect (p->doctor, "answer", 0));
}

static void
pair_media_up (Pair *p)
{
  tv_test_peer_send (p->doctor, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_send (p->patient, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (p->doctor);
  tv_test_peer_sync (p->patient);
}

/* The store fails to complete the consult: the doctor gets 5000 and the call
 * goes on as before (relay still works, consult still open). */
static void
test_store_failure_end (void)
{
  tv_test_watchdog_start (30, "store-failure-end");
  const char *dir = tv_test_tmpdir ();
  Pair p = { 0 };
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &p.id, &p.dtok, &p.ptok);
  /* Only the server reads it; the fixture's own store handle is already made. */
  g_setenv ("TV_STORE_FAULT", "fail:complete", TRUE);
  TvTestServer *srv = tv_test_server_start (dir, NULL);
  g_unsetenv ("TV_STORE_FAULT");
  TvWsHub *hub = tv_test_hub_new (srv);

  pair_connect (&p, hub, srv);
  pair_media_up (&p);
  tv_test_peer_send (p.doctor, "{\"type\":\"end\"}");
  json_object_unref (tv_test_peer_expect_error_ref (p.doctor, TV_SIG_ERR_INTERNAL, "end"));
  tv_test_peer_sync (p.patient);
  g_autoptr (TvConsult) c = tv_test_get_consult (dir, p.id);
  g_assert_cmpint (c->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (c->media_up_since, !=, 0);
  /* Still paired: an ICE-restart offer is relayed. */
  tv_test_peer_send (p.doctor, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}");
  json_object_unref (tv_test_peer_expect (p.patient, "offer", 0));

  pair_clear (&p);
  tv_ws_hub_free (hub);
  g_assert_cmpint (tv_test_server_stop (srv, WAIT_MS), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* --max-connections N: the N+1th handshake is refused, a freed slot is reused. */
static void
test_max_connections (void)
{
  tv_test_watchdog_start (30, "max-connections");
  const char *dir = tv_test_tmpdir ();
  const char *args[] = { "--max-connections", "2", NULL };
  TvTestServer *srv = tv_test_server_start (dir, args);
  TvWsHub *hub = tv_test_hub_new (srv);
  const char *url = tv_test_server_get_url (srv);

  TvTestPeer *a = tv_test_peer_connect (hub, url);
  TvTestPeer *b = tv_test_peer_connect (hub, url);
  TvTestPeer *c = tv_test_peer_new (hub, url, NULL);
  g_assert_false (tv_test_peer_wait_open (c, WAIT_MS));
  tv_test_peer_free (c);

  tv_test_peer_close (a);
  g_assert_true (tv_test_peer_wait_closed (a, WAIT_MS));
  tv_test_peer_sync (b); /* the server has processed a's close by now */
  TvTestPeer *d = tv_test_peer_connect (hub, url);
  tv_test_peer_sync (d);

  tv_test_peer_free (a);
  tv_test_peer_free (b);
  tv_test_peer_free (d);
  tv_ws_hub_free (hub);
  g_assert_cmpint (tv_test_server_stop (srv, WAIT_MS), ==, 0);
  g_autofree char *log = tv_test_server_read_stderr (srv);
  g_assert_nonnull (strstr (log, "max-connections"));
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* The server is killed (no graceful stop) while media is connected: the store
 * keeps an open interval. The restarted server closes it without counting the
 * downtime, and the consult carries on and completes normally. */
static void
test_restart_after_kill (void)
{
  tv_test_watchdog_start (60, "restart-after-kill");
  const char *dir = tv_test_tmpdir ();
  Pair p = { 0 };
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &p.id, &p.dtok, &p.ptok);
  TvTestServer *srv = tv_test_server_start (dir, NULL);
  TvWsHub *hub = tv_test_hub_new (srv);
  pair_connect (&p, hub, srv);
  pair_media_up (&p);
  gint64 killed_at = g_get_real_time ();
  tv_test_server_kill (srv);
  tv_test_server_free (srv);
  g_assert_true (tv_test_peer_wait_closed (p.doctor, WAIT_MS));
  g_assert_true (tv_test_peer_wait_closed (p.patient, WAIT_MS));
  tv_test_peer_free (p.doctor);
  tv_test_peer_free (p.patient);
  p.doctor = p.patient = NULL;
  tv_ws_hub_free (hub);
  {
    g_autoptr (TvConsult) c = tv_test_get_consult (dir, p.id);
    g_assert_cmpint (c->status, ==, TV_CONSULT_IN_PROGRESS);
    g_assert_cmpint (c->media_up_since, !=, 0);
  }

  srv = tv_test_server_start (dir, NULL);
  hub = tv_test_hub_new (srv);
  pair_connect (&p, hub, srv);
  {
    g_autoptr (TvConsult) c = tv_test_get_consult (dir, p.id);
    g_assert_cmpint (c->media_up_since, ==, 0);
    /* Closed at the last moment the store knew of, not at the restart. */
    g_assert_cmpint (c->connected_us, <=, g_get_real_time () - killed_at);
  }
  pair_media_up (&p);
  {
    g_autoptr (TvConsult) c = tv_test_get_consult (dir, p.id);
    g_assert_cmpint (c->media_up_since, !=, 0);
  }
  tv_test_peer_send (p.doctor, "{\"type\":\"leave\"}");
  json_object_unref (tv_test_peer_expect (p.patient, "peer-left", 0));
  tv_test_peer_send (p.patient, "{\"type\":\"leave\"}");
  g_assert_true (tv_test_peer_wait_closed (p.patient, WAIT_MS));
  g_autoptr (TvConsult) c = tv_test_get_consult (dir, p.id);
  g_assert_cmpint (c->status, ==, TV_CONSULT_COMPLETED);
  g_assert_cmpstr (c->end_reason, ==, "both-left");
  g_assert_cmpint (c->media_up_since, ==, 0);

  pair_clear (&p);
  tv_ws_hub_free (hub);
  g_assert_cmpint (tv_test_server_stop (srv, WAIT_MS), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* Graceful stop with a live connected consult: both get 5001, the interval is
 * closed in the store, the consult stays open for after the restart. */
static void
test_shutdown_closes_interval (void)
{
  tv_test_watchdog_start (30, "shutdown-closes-interval");
  const char *dir = tv_test_tmpdir ();
  Pair p = { 0 };
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &p.id, &p.dtok, &p.ptok);
  TvTestServer *srv = tv_test_server_start (dir, NULL);
  TvWsHub *hub = tv_test_hub_new (srv);
  pair_connect (&p, hub, srv);
  pair_media_up (&p);

  g_assert_cmpint (kill (tv_test_server_get_pid (srv), SIGTERM), ==, 0);
  json_object_unref (tv_test_peer_expect_error (p.doctor, TV_SIG_ERR_SHUTTING_DOWN));
  json_object_unref (tv_test_peer_expect_error (p.patient, TV_SIG_ERR_SHUTTING_DOWN));
  g_assert_true (tv_test_peer_wait_closed (p.doctor, WAIT_MS));
  g_assert_true (tv_test_peer_wait_closed (p.patient, WAIT_MS));
  g_assert_cmpint (tv_test_server_stop (srv, WAIT_MS), ==, 0);
  g_autoptr (TvConsult) c = tv_test_get_consult (dir, p.id);
  g_assert_cmpint (c->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (c->media_up_since, ==, 0);

  pair_clear (&p);
  tv_ws_hub_free (hub);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/server-robust/cli/help-version", test_cli_help_version);
  g_test_add_func ("/server-robust/cli/bad-config-exits-1", test_cli_bad_config);
  g_test_add_func ("/server-robust/cli/stdout-one-line-ipv6", test_cli_stdout_ipv6);
  g_test_add_func ("/server-robust/cli/port-in-use-exits-1", test_cli_port_in_use);
  g_test_add_func ("/server-robust/store-failure-end", test_store_failure_end);
  g_test_add_func ("/server-robust/max-connections", test_max_connections);
  g_test_add_func ("/server-robust/restart-after-kill", test_restart_after_kill);
  g_test_add_func ("/server-robust/shutdown-closes-interval", test_shutdown_closes_interval);
  return g_test_run ();
}
