/* test-client-cli.c — televisit-client's command line and exit codes, on the real binary.
 *
 * Runs $TV_BUILD_DIR/televisit-client as a child process (GSubprocess) and
 * checks what a user or a script sees: the exit status, the flag named in the
 * error message, the --help sections, and the exit codes against a real server
 * started by the shared fixture (bad/expired token -> 3, nobody comes -> 4,
 * SIGTERM -> clean leave with 0). Every wait is on a child's exit or a stdout
 * line, under a watchdog; no sleeps. Only loopback traffic. Main thread.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "client/tv-client-options.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"

#define CHILD_TIMEOUT_MS 30000

/* A well-formed token that no store has issued (43 base64url characters). */
#define UNKNOWN_TOKEN "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

typedef TvTestClient Child;

static Child *
run_client (const char *const *args)
{
  return tv_test_client_run ("client", args, CHILD_TIMEOUT_MS);
}

static void
child_free (Child *c)
{
  tv_test_client_free (c);
}

/* ---- tests without a server ------------------------------------------------------ */

static void
test_help (void)
{
  const char *args[] = { "--help", NULL };
  const char *sections[] = { "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES" };
  const char *flags[] = { "--server", "--token", "--token-file", "--ca", "--insecure", "--test-media",
                          "--headless", "--duration", "--stats-json", "--peer-timeout", "--media-timeout", "--reconnect-window",
                          "--ice-address", "--stun", "--turn", "--latency", "--video-size", "--framerate",
                          "--video-bitrate", "--video-file", "--audio-file",
                          "--end-on-exit", "--chat", "--verbose",
                          "--version", "--help" };
  Child *c = run_client (args);
  g_autofree char *text = NULL;

  g_assert_cmpint (c->status, ==, 0);
  text = g_strconcat ("\n", c->out_text->str, NULL);
  /* Sections are unindented lines of their own, in man-page order. */
  for (gsize i = 0; i < G_N_ELEMENTS (sections); i++)
    {
      g_autofree char *line = g_strdup_printf ("\n%s\n", sections[i]);
      g_assert_nonnull (strstr (text, line));
      if (i > 0)
        {
          g_autofree char *prev = g_strdup_printf ("\n%s\n", sections[i - 1]);
          g_assert_true (strstr (text, prev) < strstr (text, line));
        }
    }
  /* Every documented exit code appears in EXIT STATUS, every option in OPTIONS. */
  for (int code = 0; code <= 6; code++)
    {
      g_autofree char *entry = g_strdup_printf ("\n    %d   ", code);
      g_assert_nonnull (strstr (text, entry));
    }
  for (gsize i = 0; i < G_N_ELEMENTS (flags); i++)
    g_assert_nonnull (strstr (text, flags[i]));
  child_free (c);
}

static void
test_version (void)
{
  const char *args[] = { "--version", NULL };
  Child *c = run_client (args);

  g_assert_cmpint (c->status, ==, 0);
  g_assert_true (g_str_has_prefix (c->out_text->str, "televisit-client "));
  child_free (c);
}

typedef struct {
  const char *args[12];
  const char *named;  /* must appear in stderr */
} BadCase;

#define OKS "--server", "wss://127.0.0.1:9/"
#define OKT "--token", UNKNOWN_TOKEN

static void
test_bad_flags (void)
{
  const char *tmp = tv_test_tmpdir ();
  g_autofree char *empty_tok = g_build_filename (tmp, "empty.tok", NULL);
  g_autofree char *not_pem = g_build_filename (tmp, "not.pem", NULL);
  const BadCase cases[] = {
    { { "--bogus", NULL }, "--bogus" },
    { { "--server", NULL }, "--server" },
    { { OKT, NULL }, "--server" },
    { { "--server", "http://127.0.0.1:9/", OKT, NULL }, "--server" },
    { { "--server", "ws://127.0.0.1:9/", OKT, NULL }, "--server" },
    { { "--server", "wss://", OKT, NULL }, "--server" },
    { { "--server", "wss://127.0.0.1:99999/", OKT, NULL }, "--server" },
    { { "--server", "wss://a%2Fb:443/", OKT, NULL }, "--server" },
    { { "--server", "wss://[fe80::1%25eth0]:443/", OKT, NULL }, "--server" },
    { { OKS, NULL }, "--token" },
    { { OKS, "--token", "short", NULL }, "--token" },
    { { OKS, "--token", "has spaces in it but is long", NULL }, "--token" },
    { { OKS, OKT, "--token-file", "/nonexistent/tok", NULL }, "--token" },
    { { OKS, "--token-file", "/nonexistent/tok", NULL }, "--token-file" },
    { { OKS, "--token-file", empty_tok, NULL }, "--token-file" },
    { { OKS, OKT, "--ca", "/nonexistent/ca.pem", NULL }, "--ca" },
    { { OKS, OKT, "--ca", not_pem, NULL }, "--ca" },
    { { OKS, OKT, "--duration", "abc", NULL }, "--duration" },
    { { OKS, OKT, "--duration", "0", NULL }, "--duration" },
    { { OKS, OKT, "--duration", "-4", NULL }, "--duration" },
    { { OKS, OKT, "--peer-timeout", "0", NULL }, "--peer-timeout" },
    { { OKS, OKT, "--peer-timeout", "99999999999", NULL }, "--peer-timeout" },
    { { OKS, OKT, "--media-timeout", "7200", NULL }, "--media-timeout" },
    { { OKS, OKT, "--latency", "5001", NULL }, "--latency" },
    { { OKS, OKT, "--latency", "1e3", NULL }, "--latency" },
    { { OKS, OKT, "--ice-address", "not-an-ip", NULL }, "--ice-address" },
    { { OKS, OKT, "--video-size", "640", NULL }, "--video-size" },
    { { OKS, OKT, "--video-size", "641x480", NULL }, "--video-size" },
    { { OKS, OKT, "--video-size", "8000x8000", NULL }, "--video-size" },
    { { OKS, OKT, "--video-size", "x480", NULL }, "--video-size" },
    { { OKS, OKT, "--framerate", "0", NULL }, "--framerate" },
    { { OKS, OKT, "--reconnect-window", "0", NULL }, "--reconnect-window" },
    { { OKS, OKT, "--framerate", "61", NULL }, "--framerate" },
    { { OKS, OKT, "--video-bitrate", "99", NULL }, "--video-bitrate" },
    { { OKS, OKT, "--video-bitrate", "8001", NULL }, "--video-bitrate" },
    { { OKS, OKT, "--video-file", not_pem, NULL }, "--video-file needs --test-media" },
    { { OKS, OKT, "--test-media", "--video-file", "/nonexistent/clip.y4m", NULL }, "--video-file" },
    { { OKS, OKT, "--test-media", "--audio-file", tmp, NULL }, "--audio-file" },
    { { OKS, OKT, "--stun", "http://stun.invalid", NULL }, "--stun" },
    { { OKS, OKT, "--turn", "stun://turn.invalid", NULL }, "--turn" },
    { { OKS, OKT, "--stats-json", "/nonexistent/dir/s.json", NULL }, "--stats-json" },
    { { OKS, OKT, "--chat", "", NULL }, "--chat" },
    { { OKS, OKT, "--chat", "tab\there", NULL }, "--chat" },
    { { OKS, OKT, "extra", NULL }, "extra" },
  };

  g_assert_true (g_file_set_contents (empty_tok, "\n", -1, NULL));
  g_assert_true (g_file_set_contents (not_pem, "hello\n", -1, NULL));
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Child *c = run_client (cases[i].args);
      g_test_message ("case %zu: %s -> %d", i, cases[i].args[0], c->status);
      g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_USAGE);
      g_assert_nonnull (strstr (c->err_text, cases[i].named));
      /* A usage error never connects. */
      g_assert_null (strstr (c->out_text->str, "connecting"));
      child_free (c);
    }
}

/* The token given on the command line must not be echoed anywhere. */
static void
test_token_not_printed (void)
{
  const char *args[] = { OKS, OKT, "--duration", "x", NULL };
  Child *c = run_client (args);

  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_USAGE);
  g_assert_null (strstr (c->err_text, UNKNOWN_TOKEN));
  g_assert_null (strstr (c->out_text->str, UNKNOWN_TOKEN));
  child_free (c);
}

/* A loopback port that is bound but not listening: connecting is refused, and
 * nobody else can take the port while we hold it. */
static GSocket *
closed_port (guint16 *port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, any, FALSE, &error));
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return sock;
}

static void
test_unreachable (void)
{
  guint16 port = 0;
  g_autoptr (GSocket) sock = closed_port (&port);
  g_autofree char *url = g_strdup_printf ("wss://127.0.0.1:%u/", port);
  const char *tmp = tv_test_tmpdir ();
  g_autofree char *tok = g_build_filename (tmp, "t.tok", NULL);
  g_autofree char *stats = g_build_filename (tmp, "s.json", NULL);
  const char *args[] = { "--server", url, "--token-file", tok, "--stats-json", stats, "--headless", "--test-media",
                         NULL };
  g_autoptr (JsonObject) obj = NULL;
  Child *c;

  /* --token-file, with a trailing newline as an editor would leave it. */
  g_assert_true (g_file_set_contents (tok, UNKNOWN_TOKEN "\n", -1, NULL));
  c = run_client (args);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_UNREACHABLE);
  g_assert_nonnull (strstr (c->out_text->str, "exit code=2"));
  child_free (c);

  /* The stats file is written on every exit, with the reason. */
  obj = tv_test_client_load_stats (stats);
  g_assert_cmpint (json_object_get_int_member (obj, "exit_code"), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (obj, "exit_reason"), ==, "unreachable");
  g_assert_cmpint (json_object_get_int_member (obj, "video_frames_decoded"), ==, 0);

}

/* Options parsed in-process: the normalised values the session receives. */
static void
test_options_parse (void)
{
  g_autoptr (GError) error = NULL;
  char *argv[] = { "televisit-client", "--server", "wss://LOCALHOST:8443", "--token", UNKNOWN_TOKEN,
                   "--ice-address", "127.0.0.1", "--ice-address", "::1", "-v", "-v", "--latency", "0",
                   "--end-on-exit", "--video-size", "320x240", "--framerate", "15", NULL };
  g_autoptr (TvClientOptions) o = tv_client_options_parse (G_N_ELEMENTS (argv) - 1, argv, &error);

  g_assert_no_error (error);
  g_assert_nonnull (o);
  g_assert_cmpstr (o->server_url, ==, "wss://localhost:8443/");
  g_assert_cmpuint (g_strv_length (o->ice_addresses), ==, 2);
  g_assert_cmpint (o->verbosity, ==, 2);
  g_assert_cmpuint (o->peer_timeout_s, ==, TV_CLIENT_DEFAULT_PEER_TIMEOUT_S);
  g_assert_cmpuint (o->media_timeout_s, ==, TV_CLIENT_DEFAULT_MEDIA_TIMEOUT_S);
  g_assert_cmpuint (o->duration_s, ==, 0);
  g_assert_true (o->end_on_exit);
  g_assert_cmpuint (o->width, ==, 320);
  g_assert_cmpuint (o->height, ==, 240);
  g_assert_cmpuint (o->framerate, ==, 15);
  g_assert_false (o->insecure);
  g_assert_cmpuint (o->video_bitrate_kbps, ==, 0);
  g_assert_null (o->video_file);

  {
    g_autofree char *clip = g_build_filename (tv_test_tmpdir (), "clip.y4m", NULL);
    g_assert_true (g_file_set_contents (clip, "YUV4MPEG2 W2 H2\n", -1, NULL));
    char *argv3[] = { "televisit-client", "--server", "wss://127.0.0.1:8443", "--token", UNKNOWN_TOKEN,
                      "--test-media", "--video-file", clip, "--audio-file", clip, "--video-bitrate", "1700", NULL };
    g_autoptr (TvClientOptions) o3 = tv_client_options_parse (G_N_ELEMENTS (argv3) - 1, argv3, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (o3->video_file, ==, clip);
    g_assert_cmpstr (o3->audio_file, ==, clip);
    g_assert_cmpuint (o3->video_bitrate_kbps, ==, 1700);
  }

  {
    char *argv2[] = { "televisit-client", "--server", "wss://[::1]", "--token", UNKNOWN_TOKEN, NULL };
    g_autoptr (TvClientOptions) o2 = tv_client_options_parse (G_N_ELEMENTS (argv2) - 1, argv2, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (o2->server_url, ==, "wss://[::1]:443/");
  }
  {
    /* The path keeps its percent-encoding (decoded it would not be a URL). */
    char *argv3[] = { "televisit-client", "--server", "wss://example.test:8443/a%25b", "--token", UNKNOWN_TOKEN,
                      NULL };
    g_autoptr (TvClientOptions) o3 = tv_client_options_parse (G_N_ELEMENTS (argv3) - 1, argv3, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (o3->server_url, ==, "wss://example.test:8443/a%25b");
  }
}

/* ---- tests against a real server --------------------------------------------------- */

/* One server for all server-backed cases (each uses its own consult). */
static TvTestServer *server;

static TvTestServer *
get_server (void)
{
  if (server == NULL)
    server = tv_test_server_start (tv_test_tmpdir (), NULL);
  return server;
}

/* The argument vector of a client joining @srv with @token, plus @extra. */
static GStrv
client_args (TvTestServer *srv, const char *token, const char *const *extra)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  const char *base[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--token", token, "--headless", "--test-media", "--ice-address", "127.0.0.1", NULL };

  g_strv_builder_addv (b, base);
  if (extra != NULL)
    g_strv_builder_addv (b, (const char **) extra);
  return g_strv_builder_end (b);
}

/* Runs a client that must be refused with exit 3 and @reason. */
static void
expect_refused (const char *token, const char *reason)
{
  g_auto (GStrv) args = client_args (get_server (), token, NULL);
  Child *c = run_client ((const char *const *) args);
  g_autofree char *line = g_strdup_printf ("exit code=3 reason=%s\n", reason);

  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_JOIN_REFUSED);
  g_assert_nonnull (strstr (c->out_text->str, line));
  g_assert_null (strstr (c->out_text->str, "joined"));
  g_assert_null (strstr (c->err_text, token));
  child_free (c);
}

static void
test_bad_token (void)
{
  tv_test_watchdog_start (60, "bad token");
  expect_refused (UNKNOWN_TOKEN, "token-invalid");
  tv_test_watchdog_stop ();
}

/* With -v -v, logs grow on stderr but stdout still holds only event lines,
 * so scripts can parse it. */
static void
test_verbose_stdout_clean (void)
{
  const char *extra[] = { "-v", "-v", NULL };
  const char *events[] = { "connecting ", "exit code=", NULL };
  g_auto (GStrv) args = client_args (get_server (), UNKNOWN_TOKEN, extra);
  g_auto (GStrv) lines = NULL;
  Child *c;

  tv_test_watchdog_start (60, "verbose");
  c = run_client ((const char *const *) args);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_JOIN_REFUSED);
  g_assert_nonnull (strstr (c->err_text, "tv-client-INFO"));
  lines = g_strsplit (c->out_text->str, "\n", -1);
  for (char **l = lines; *l != NULL && **l != '\0'; l++)
    {
      gboolean known = FALSE;
      for (const char **e = events; *e != NULL; e++)
        known = known || g_str_has_prefix (*l, *e);
      if (!known)
        g_error ("unexpected stdout line: %s", *l);
    }
  child_free (c);
  tv_test_watchdog_stop ();
}

static void
test_expired_token (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;

  tv_test_watchdog_start (60, "expired token");
  tv_test_create_consult (tv_test_server_get_data_dir (get_server ()), "Dr. Test Doctor", "Pat Synthetic", 0,
                          &id, &dt, &pt);
  expect_refused (pt, "token-expired");
  expect_refused (dt, "token-expired");
  tv_test_watchdog_stop ();
}

static void
test_consult_ended (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  const char *dir = tv_test_server_get_data_dir (get_server ());

  tv_test_watchdog_start (60, "consult ended");
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt, &pt);
  tv_test_end_consult (dir, id, "ended-by-admin");
  expect_refused (pt, "consult-ended");
  tv_test_watchdog_stop ();
}

static gboolean
has_event (GPtrArray *log, TvSigRole role, TvParticipationEvent ev)
{
  for (guint i = 0; i < log->len; i++)
    {
      TvParticipation *p = g_ptr_array_index (log, i);
      if (p->role == role && p->event == ev)
        return TRUE;
    }
  return FALSE;
}

static guint
count_role_events (GPtrArray *log, TvSigRole role, TvParticipationEvent ev)
{
  guint n = 0;
  for (guint i = 0; i < log->len; i++)
    {
      TvParticipation *p = g_ptr_array_index (log, i);
      n += p->role == role && p->event == ev;
    }
  return n;
}

static void
test_peer_never_came (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  const char *dir = tv_test_server_get_data_dir (get_server ());
  g_autofree char *stats = g_build_filename (tv_test_tmpdir (), "doctor.json", NULL);
  const char *extra[] = { "--peer-timeout", "2", "--stats-json", stats, NULL };
  g_auto (GStrv) args = NULL;
  g_autoptr (JsonObject) st = NULL;
  g_autoptr (TvConsult) consult = NULL;
  g_autoptr (GPtrArray) log = NULL;
  gint64 t0;
  Child *c;

  tv_test_watchdog_start (60, "peer never came");
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt, &pt);
  args = client_args (get_server (), dt, extra);
  t0 = g_get_monotonic_time ();
  c = run_client ((const char *const *) args);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_NO_PEER);
  /* It waited for the patient about --peer-timeout, not much less or more. */
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 15 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (c->out_text->str, "joined consult="));
  g_assert_nonnull (strstr (c->out_text->str, " role=doctor peer_present=false\n"));
  g_assert_nonnull (strstr (c->out_text->str, "waiting for the patient\n"));
  g_assert_nonnull (strstr (c->out_text->str, "exit code=4 reason=no-peer\n"));
  child_free (c);

  st = tv_test_client_load_stats (stats);
  g_assert_cmpstr (json_object_get_string_member (st, "role"), ==, "doctor");
  g_assert_cmpstr (json_object_get_string_member (st, "consult"), ==, id);
  g_assert_cmpint (json_object_get_int_member (st, "exit_code"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (st, "calls"), ==, 0);

  /* The doctor left cleanly; with no media ever, the consult stays scheduled. */
  consult = tv_test_get_consult (dir, id);
  g_assert_cmpint (consult->status, ==, TV_CONSULT_SCHEDULED);
  log = tv_test_get_participation (dir, id);
  g_assert_true (has_event (log, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN));
  g_assert_true (has_event (log, TV_SIG_ROLE_DOCTOR, TV_PART_LEAVE));
  g_assert_false (has_event (log, TV_SIG_ROLE_PATIENT, TV_PART_JOIN));
  tv_test_watchdog_stop ();
}

/* A second client with a token already connected is refused (3); SIGTERM makes
 * the first one leave cleanly (0) and write its stats. */
static void
test_in_use_and_sigterm (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  const char *dir = tv_test_server_get_data_dir (get_server ());
  g_autofree char *stats = g_build_filename (tv_test_tmpdir (), "patient.json", NULL);
  const char *extra[] = { "--stats-json", stats, NULL };
  g_auto (GStrv) args = NULL;
  g_autoptr (JsonObject) st = NULL;
  g_autoptr (GPtrArray) log = NULL;
  Child *first;

  tv_test_watchdog_start (60, "in use and SIGTERM");
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt, &pt);
  args = client_args (get_server (), pt, extra);
  first = tv_test_client_start ("patient-1", (const char *const *) args);
  g_assert_true (tv_test_client_wait_lines (first, "waiting for the doctor", 1, 20000));

  expect_refused (pt, "token-in-use");

  tv_test_client_signal (first, SIGTERM);
  tv_test_client_wait_exit (first, 20000);
  g_assert_cmpint (first->status, ==, TV_CLIENT_EXIT_OK);
  g_assert_nonnull (strstr (first->out_text->str, "exit code=0 reason=signal\n"));
  child_free (first);

  st = tv_test_client_load_stats (stats);
  g_assert_cmpstr (json_object_get_string_member (st, "role"), ==, "patient");
  g_assert_cmpstr (json_object_get_string_member (st, "exit_reason"), ==, "signal");

  /* "leave" reached the server before the client exited. */
  log = tv_test_get_participation (dir, id);
  g_assert_true (has_event (log, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE));
  tv_test_watchdog_stop ();
}

/* Without a display, a windowed client fails at start-up with exit 5 and a
 * message, before it connects (so nobody waits for a call that cannot show). */
static void
test_no_display (void)
{
  const char *args[] = { OKS, OKT, "--test-media", NULL };
  Child *c;

  tv_test_watchdog_start (60, "no display");
  /* The children inherit our environment. */
  g_unsetenv ("DISPLAY");
  g_unsetenv ("WAYLAND_DISPLAY");
  c = run_client (args);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_MEDIA_FAILED);
  g_assert_nonnull (strstr (c->err_text, "display"));
  g_assert_null (strstr (c->out_text->str, "connecting"));
  child_free (c);
  tv_test_watchdog_stop ();
}

/* Builds "--server URL --token T --headless --test-media" plus @tls (NULL-terminated). */
static GStrv
tls_args (TvTestServer *srv, const char *const *tls)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  const char *base[] = { "--server", tv_test_server_get_url (srv), "--token", UNKNOWN_TOKEN, "--headless",
                         "--test-media", NULL };

  g_strv_builder_addv (b, base);
  g_strv_builder_addv (b, (const char **) tls);
  return g_strv_builder_end (b);
}

/* The server's self-signed certificate is not in the system store, nor in a
 * CA bundle that does not hold it: the TLS handshake fails, exit 2. */
static void
test_tls_untrusted (void)
{
  const char *none[] = { NULL };
  const char *bundle[] = { "--ca", "/etc/ssl/certs/ca-certificates.crt", NULL };
  g_auto (GStrv) a1 = tls_args (get_server (), none);
  Child *c;

  tv_test_watchdog_start (60, "tls untrusted");
  c = run_client ((const char *const *) a1);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_UNREACHABLE);
  g_assert_null (strstr (c->out_text->str, "joined"));
  child_free (c);

  if (g_file_test (bundle[1], G_FILE_TEST_EXISTS))
    {
      g_auto (GStrv) a2 = tls_args (get_server (), bundle);
      c = run_client ((const char *const *) a2);
      g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_UNREACHABLE);
      child_free (c);
    }
  tv_test_watchdog_stop ();
}

/* --insecure skips the certificate check (with a warning): the handshake
 * succeeds and the unknown token is refused by the server, exit 3. */
static void
test_insecure (void)
{
  const char *insecure[] = { "--insecure", NULL };
  g_auto (GStrv) args = tls_args (get_server (), insecure);
  Child *c;

  tv_test_watchdog_start (60, "insecure");
  c = run_client ((const char *const *) args);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_JOIN_REFUSED);
  g_assert_nonnull (strstr (c->err_text, "--insecure"));
  child_free (c);
  tv_test_watchdog_stop ();
}

static gboolean
on_incoming_close (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  guint *accepted = data;
  (*accepted)++;
  g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
  return TRUE;
}

/* Something listens on the port but is no Televisit server (it accepts and
 * hangs up): exit 2. */
static void
test_not_a_server (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autofree char *url = NULL;
  guint accepted = 0;
  Child *c;

  tv_test_watchdog_start (60, "not a server");
  g_socket_listener_add_address (G_SOCKET_LISTENER (service), addr, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &bound, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming_close), &accepted);
  g_socket_service_start (service);
  url = g_strdup_printf ("wss://127.0.0.1:%u/", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  {
    const char *args[] = { "--server", url, "--token", UNKNOWN_TOKEN, "--insecure", "--headless", "--test-media",
                           NULL };
    c = run_client (args);
  }
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_UNREACHABLE);
  g_assert_cmpuint (accepted, >=, 1);
  child_free (c);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  tv_test_watchdog_stop ();
}

/* The server dies while the doctor waits; a new server on the same port and
 * data dir comes up: the client reconnects with back-off and joins again. */
static void
test_reconnect (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  const char *dir = tv_test_tmpdir ();
  TvTestServer *srv, *srv2;
  g_autofree char *port = NULL;
  const char *extra[] = { "--peer-timeout", "60", NULL };
  const char *pin[3] = { "--port", NULL, NULL };
  g_auto (GStrv) args = NULL;
  g_autoptr (GPtrArray) log = NULL;
  Child *c;

  tv_test_watchdog_start (90, "reconnect");
  srv = tv_test_server_start (dir, NULL);
  port = g_strdup_printf ("%u", tv_test_server_get_port (srv));
  pin[1] = port;
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt, &pt);
  args = client_args (srv, dt, extra);
  c = tv_test_client_start ("doctor", (const char *const *) args);
  g_assert_true (tv_test_client_wait_lines (c, "waiting for the patient", 1, 20000));

  tv_test_server_kill (srv);
  g_assert_true (tv_test_client_wait_lines (c, "connection lost", 1, 20000));
  g_assert_true (tv_test_client_wait_lines (c, "reconnecting attempt=1 ", 1, 20000));
  srv2 = tv_test_server_start (dir, pin);
  g_assert_cmpuint (tv_test_server_get_port (srv2), ==, tv_test_server_get_port (srv));
  g_assert_true (tv_test_client_wait_lines (c, "rejoined consult=", 1, 30000));
  g_assert_true (tv_test_client_wait_lines (c, "waiting for the patient", 2, 5000));

  tv_test_client_signal (c, SIGTERM);
  tv_test_client_wait_exit (c, 20000);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_OK);
  child_free (c);

  log = tv_test_get_participation (dir, id);
  g_assert_cmpuint (count_role_events (log, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN), ==, 2);
  tv_test_server_free (srv2);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* ---- a TCP proxy that can go silent --------------------------------------------

 * Forwards loopback connections to the server. "Freezing" stops forwarding
 * on the connections open so far and closes their server side, while the
 * client side stays open and silent: what a client sees when its network
 * path dies without a reset. New connections are forwarded normally. */
typedef struct {
  GSocketService *service;
  guint16 port;
  guint16 target_port;
  GPtrArray *pipes;  /* Pipe* */
} Proxy;

typedef struct {
  GIOStream *down, *up;
  GCancellable *cancel;
  gboolean done;
} Pipe;

static void
pipe_free (Pipe *p)
{
  g_cancellable_cancel (p->cancel);
  while (!p->done)
    g_main_context_iteration (NULL, TRUE);
  g_io_stream_close (p->down, NULL, NULL);
  g_io_stream_close (p->up, NULL, NULL);
  g_object_unref (p->down);
  g_object_unref (p->up);
  g_object_unref (p->cancel);
  g_free (p);
}

static void
on_splice_done (GObject *src, GAsyncResult *res, gpointer data)
{
  Pipe *p = data;
  g_io_stream_splice_finish (res, NULL);
  p->done = TRUE;
}

static gboolean
on_proxy_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  Proxy *proxy = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  GSocketConnection *up = g_socket_client_connect_to_host (client, "127.0.0.1", proxy->target_port, NULL, &error);
  Pipe *p;

  if (up == NULL)
    {
      g_test_message ("proxy: cannot reach the server: %s", error->message);
      return TRUE;
    }
  p = g_new0 (Pipe, 1);
  p->down = G_IO_STREAM (g_object_ref (conn));
  p->up = G_IO_STREAM (up);
  p->cancel = g_cancellable_new ();
  g_io_stream_splice_async (p->down, p->up, G_IO_STREAM_SPLICE_NONE, G_PRIORITY_DEFAULT, p->cancel, on_splice_done,
                            p);
  g_ptr_array_add (proxy->pipes, p);
  return TRUE;
}

static Proxy *
proxy_new (guint16 target_port)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  Proxy *proxy = g_new0 (Proxy, 1);

  proxy->target_port = target_port;
  proxy->pipes = g_ptr_array_new_with_free_func ((GDestroyNotify) pipe_free);
  proxy->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (proxy->service), addr, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error);
  g_assert_no_error (error);
  proxy->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (proxy->service, "incoming", G_CALLBACK (on_proxy_incoming), proxy);
  g_socket_service_start (proxy->service);
  return proxy;
}

/* Stops forwarding on every open connection; their server side is closed. */
static void
proxy_freeze (Proxy *proxy)
{
  for (guint i = 0; i < proxy->pipes->len; i++)
    {
      Pipe *p = g_ptr_array_index (proxy->pipes, i);
      g_cancellable_cancel (p->cancel);
      g_io_stream_close (p->up, NULL, NULL);
    }
}

static void
proxy_free (Proxy *proxy)
{
  g_socket_service_stop (proxy->service);
  g_socket_listener_close (G_SOCKET_LISTENER (proxy->service));
  g_ptr_array_unref (proxy->pipes);
  g_object_unref (proxy->service);
  g_free (proxy);
}

/* The path to the server goes silent (no FIN, no RST): the client notices by
 * its keep-alive, reconnects and joins again. */
static void
test_silent_drop (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  TvTestServer *srv = get_server ();
  Proxy *proxy;
  g_autofree char *url = NULL;
  const char *extra[] = { "--peer-timeout", "120", NULL };
  g_auto (GStrv) args = NULL;
  Child *c;

  tv_test_watchdog_start (90, "silent drop");
  tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt,
                          &pt);
  proxy = proxy_new (tv_test_server_get_port (srv));
  url = g_strdup_printf ("wss://127.0.0.1:%u/", proxy->port);
  args = client_args (srv, dt, extra);
  /* Point the client at the proxy instead of the server. */
  g_free (args[1]);
  args[1] = g_strdup (url);
  c = tv_test_client_start ("doctor", (const char *const *) args);
  g_assert_true (tv_test_client_wait_lines (c, "waiting for the patient", 1, 20000));

  proxy_freeze (proxy);
  /* Noticed within the keep-alive silence limit (10 s) plus a ping interval. */
  g_assert_true (tv_test_client_wait_lines (c, "connection lost", 1, 20000));
  g_assert_true (tv_test_client_wait_lines (c, "rejoined consult=", 1, 20000));

  tv_test_client_signal (c, SIGTERM);
  tv_test_client_wait_exit (c, 20000);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_OK);
  child_free (c);
  proxy_free (proxy);
  tv_test_watchdog_stop ();
}

/* The server dies and does not come back: exit 6 after --reconnect-window. */
static void
test_connection_lost (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  const char *dir = tv_test_tmpdir ();
  g_autofree char *stats = g_build_filename (dir, "lost.json", NULL);
  const char *extra[] = { "--reconnect-window", "3", "--stats-json", stats, NULL };
  g_auto (GStrv) args = NULL;
  g_autoptr (JsonObject) st = NULL;
  TvTestServer *srv;
  gint64 t0;
  Child *c;

  tv_test_watchdog_start (60, "connection lost");
  srv = tv_test_server_start (dir, NULL);
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt, &pt);
  args = client_args (srv, pt, extra);
  c = tv_test_client_start ("patient", (const char *const *) args);
  g_assert_true (tv_test_client_wait_lines (c, "waiting for the doctor", 1, 20000));

  tv_test_server_kill (srv);
  t0 = g_get_monotonic_time ();
  tv_test_client_wait_exit (c, 30000);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_CONNECTION_LOST);
  /* It kept trying for the whole window (back-off 0.5, 1, 1.5 s), no longer. */
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 3 * G_USEC_PER_SEC - 200000);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (tv_test_client_count_lines (c, "reconnecting attempt="), >=, 3);
  g_assert_nonnull (strstr (c->out_text->str, "exit code=6 reason=connection-lost\n"));
  child_free (c);
  st = tv_test_client_load_stats (stats);
  g_assert_cmpint (json_object_get_int_member (st, "exit_code"), ==, 6);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* The peer is a scripted WebSocket client that joins but never answers the
 * offer: the real client gives up after --media-timeout with exit 5. */
static void
test_media_timeout (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  TvTestServer *srv = get_server ();
  const char *extra[] = { "--media-timeout", "2", NULL };
  TvWsHub *hub;
  g_autoptr (TvTestPeer) patient = NULL;
  g_autoptr (JsonObject) joined = NULL, pj = NULL, paired = NULL, offer = NULL;
  g_auto (GStrv) args = NULL;
  Child *c;

  tv_test_watchdog_start (60, "media timeout");
  tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt,
                          &pt);
  hub = tv_test_hub_new (srv);
  patient = tv_test_peer_connect (hub, tv_test_server_get_url (srv));
  tv_test_peer_set_name (patient, "scripted patient");
  joined = tv_test_peer_join (patient, pt, "patient");
  json_object_unref (tv_test_peer_expect (patient, "waiting", 5000));

  /* The doctor client admits the waiting patient by itself (--admit auto). */
  args = client_args (srv, dt, extra);
  c = tv_test_client_start ("doctor", (const char *const *) args);
  pj = tv_test_peer_expect (patient, "doctor-ready", 20000);
  paired = tv_test_peer_expect (patient, "paired", 5000);
  g_assert_cmpint (tv_test_json_bool (paired, "offerer"), ==, 0);
  /* The doctor's offer is relayed to us; we never answer. */
  offer = tv_test_peer_expect (patient, "offer", 20000);
  g_assert_true (g_str_has_prefix (tv_test_json_str (offer, "sdp"), "v=0"));

  tv_test_client_wait_exit (c, 30000);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_MEDIA_FAILED);
  g_assert_nonnull (strstr (c->out_text->str, "exit code=5 reason=media-timeout\n"));
  child_free (c);
  g_clear_pointer (&patient, tv_test_peer_free);
  tv_ws_hub_free (hub);
  tv_test_watchdog_stop ();
}

/* A peer that sends garbage SDP must not crash the client: it refuses the
 * offer and exits 5. */
static void
test_bad_remote_sdp (void)
{
  g_autofree char *id = NULL, *dt = NULL, *pt = NULL;
  TvTestServer *srv = get_server ();
  TvWsHub *hub;
  g_autoptr (TvTestPeer) doctor = NULL;
  g_autoptr (JsonObject) joined = NULL, pj = NULL, paired = NULL, left = NULL;
  g_auto (GStrv) args = NULL;
  Child *c;

  tv_test_watchdog_start (60, "bad remote sdp");
  tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dt,
                          &pt);
  hub = tv_test_hub_new (srv);
  doctor = tv_test_peer_connect (hub, tv_test_server_get_url (srv));
  tv_test_peer_set_name (doctor, "scripted doctor");
  joined = tv_test_peer_join (doctor, dt, "doctor");

  args = client_args (srv, pt, NULL);
  c = tv_test_client_start ("patient", (const char *const *) args);
  pj = tv_test_peer_expect (doctor, "peer-joined", 20000);
  tv_test_peer_send (doctor, "{\"type\":\"admit\"}");
  paired = tv_test_peer_expect (doctor, "paired", 5000);
  g_assert_cmpint (tv_test_json_bool (paired, "offerer"), ==, 1);
  tv_test_peer_send (doctor, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\nthis is not a session description\\r\\n\"}");

  tv_test_client_wait_exit (c, 30000);
  g_assert_cmpint (c->status, ==, TV_CLIENT_EXIT_MEDIA_FAILED);
  g_assert_nonnull (strstr (c->out_text->str, "exit code=5 reason=bad-sdp\n"));
  /* It left cleanly: the server tells the doctor. */
  left = tv_test_peer_expect (doctor, "peer-left", 5000);
  g_assert_cmpstr (tv_test_json_str (left, "reason"), ==, "left");
  child_free (c);
  g_clear_pointer (&doctor, tv_test_peer_free);
  tv_ws_hub_free (hub);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  int rc;

  tv_test_init (&argc, &argv);

  g_test_add_func ("/client/cli/help", test_help);
  g_test_add_func ("/client/cli/version", test_version);
  g_test_add_func ("/client/cli/bad-flags", test_bad_flags);
  g_test_add_func ("/client/cli/token-not-printed", test_token_not_printed);
  g_test_add_func ("/client/cli/options-parse", test_options_parse);
  g_test_add_func ("/client/cli/unreachable", test_unreachable);
  g_test_add_func ("/client/cli/no-display", test_no_display);
  g_test_add_func ("/client/cli/not-a-server", test_not_a_server);
  g_test_add_func ("/client/cli/tls-untrusted", test_tls_untrusted);
  g_test_add_func ("/client/cli/insecure", test_insecure);
  g_test_add_func ("/client/cli/bad-token", test_bad_token);
  g_test_add_func ("/client/cli/verbose-stdout-clean", test_verbose_stdout_clean);
  g_test_add_func ("/client/cli/expired-token", test_expired_token);
  g_test_add_func ("/client/cli/consult-ended", test_consult_ended);
  g_test_add_func ("/client/cli/peer-never-came", test_peer_never_came);
  g_test_add_func ("/client/cli/in-use-and-sigterm", test_in_use_and_sigterm);
  g_test_add_func ("/client/cli/reconnect", test_reconnect);
  g_test_add_func ("/client/cli/connection-lost", test_connection_lost);
  g_test_add_func ("/client/cli/silent-drop", test_silent_drop);
  g_test_add_func ("/client/cli/media-timeout", test_media_timeout);
  g_test_add_func ("/client/cli/bad-remote-sdp", test_bad_remote_sdp);
  rc = g_test_run ();
  tv_test_server_free (server);
  return rc;
}
