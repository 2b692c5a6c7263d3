/* test-e2e-dashboard.c — the doctor's queue in televisit-client (--login), end to end.
 *
 * Real server and real client binaries. A doctor and a patient account are
 * made through the store helpers and a consult is booked for the doctor
 * starting now (so it is on today's dashboard). The patient's client joins by
 * token and waits; the doctor's client logs in over HTTPS with a password
 * file, sees the patient in its queue (a queue-item line), admits the first
 * waiting patient (--admit auto --once), runs a 4 s call with frames decoded
 * both ways and ends the consult; the store then holds a completed consult
 * with its arrived/admitted times, and the doctor's API session is logged
 * out. CLI cases: a wrong password exits 3, a password file readable by
 * others, no password on stdin and contradicting flags exit 1 before
 * anything is sent.
 *
 * Waits are event-driven (child exit, stdout lines, store conditions) under a
 * watchdog. Main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define DURATION_S "4"
#define EXIT_TIMEOUT_MS 45000
#define EVENT_TIMEOUT_MS 30000
#define MIN_VIDEO_FRAMES 40
#define MIN_AUDIO_BUFFERS 80
#define VIDEO_SIZE "320x240"

static TvTestClient *
start_client (TvTestServer *srv, const char *name, const char *stats, const char *const *extra)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_auto (GStrv) args = NULL;
  const char *base[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--headless", "--test-media", "--ice-address", "127.0.0.1", "--video-size", VIDEO_SIZE,
                         NULL };

  g_strv_builder_addv (b, base);
  if (stats != NULL)
    {
      g_strv_builder_add (b, "--stats-json");
      g_strv_builder_add (b, stats);
    }
  g_strv_builder_addv (b, (const char **) extra);
  args = g_strv_builder_end (b);
  return tv_test_client_start (name, (const char *const *) args);
}

static void
assert_media (const char *path, const char *role, const char *exit_reason)
{
  g_autoptr (JsonObject) st = tv_test_client_load_stats (path);
  gint64 video = json_object_get_int_member (st, "video_frames_decoded");
  gint64 audio = json_object_get_int_member (st, "audio_buffers_decoded");

  g_test_message ("%s decoded %" G_GINT64_FORMAT " video frames, %" G_GINT64_FORMAT " audio buffers", role, video,
                  audio);
  g_assert_cmpstr (json_object_get_string_member (st, "role"), ==, role);
  g_assert_cmpint (json_object_get_int_member (st, "exit_code"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (st, "exit_reason"), ==, exit_reason);
  g_assert_cmpint (video, >=, MIN_VIDEO_FRAMES);
  g_assert_cmpint (audio, >=, MIN_AUDIO_BUFFERS);
}

static void
test_queue_admit_call (void)
{
  TvTestServer *srv;
  const char *dir;
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL, *doc_id = NULL, *pat_id = NULL, *pwfile = NULL;
  g_autofree char *dstats = g_strdup_printf ("%s/doctor.json", tv_test_tmpdir ());
  g_autofree char *pstats = g_strdup_printf ("%s/patient.json", tv_test_tmpdir ());
  g_autofree char *item = NULL, *joining = NULL;
  g_autoptr (TvConsult) waiting = NULL, done = NULL;
  TvTestClient *doctor, *patient;
  TvTestStatusWait w;

  tv_test_watchdog_start (120, "e2e dashboard");
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  dir = tv_test_server_get_data_dir (srv);
  doc_id = tv_test_create_user (dir, "dr.queue", "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
  pat_id = tv_test_create_user (dir, "pat.queue", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
  tv_test_book_now (dir, id, doc_id, pat_id);
  pwfile = tv_test_password_file ("doctor.pw", TV_TEST_PASSWORD "\n", 0600);

  /* The patient comes first and waits in the waiting room. */
  {
    const char *pextra[] = { "--token", ptok, "--duration", "60", NULL };
    patient = start_client (srv, "patient", pstats, pextra);
  }
  g_assert_true (tv_test_client_wait_lines (patient, "waiting room doctor_present=false", 1, EVENT_TIMEOUT_MS));
  w = (TvTestStatusWait) { dir, id, TV_CONSULT_WAITING };
  g_assert_true (tv_test_wait_until (tv_test_consult_has_status, &w, 5000));
  waiting = tv_test_get_consult (dir, id);

  /* The doctor logs in, sees the queue, admits the first waiting patient. */
  {
    const char *dextra[] = { "--login", "dr.queue", "--password-file", pwfile, "--admit", "auto", "--once",
                             "--duration", DURATION_S, "--end-on-exit", NULL };
    doctor = start_client (srv, "doctor", dstats, dextra);
  }
  item = g_strdup_printf ("queue-item n=1 time=");
  g_assert_true (tv_test_client_wait_lines (doctor, "logged in", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, "authed user=", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, item, 1, EVENT_TIMEOUT_MS));
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);
  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stdout:\n%s\ndoctor stderr:\n%s\npatient stderr:\n%s", doctor->out_text->str,
                    doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);

  /* What the doctor saw: the patient waiting, by name, in its queue. */
  {
    g_autofree char *want = g_strdup_printf ("status=waiting present=true waiting_since=");
    g_autofree char *tail = g_strdup_printf ("consult=%s patient=Pat Synthetic\n", id);
    g_assert_nonnull (strstr (doctor->out_text->str, "queue date="));
    g_assert_nonnull (strstr (doctor->out_text->str, want));
    g_assert_nonnull (strstr (doctor->out_text->str, tail));
  }
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "authed user="), ==, 1);
  joining = g_strdup_printf ("joining consult=%s", id);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, joining), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "admitting"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "paired peer=patient offerer=true"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "back to the queue"), ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "logged out"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "ended reason=ended-by-doctor"), ==, 1);
  /* The password and the API session never reach the output. */
  g_assert_null (strstr (doctor->out_text->str, TV_TEST_PASSWORD));
  g_assert_null (strstr (doctor->err_text, TV_TEST_PASSWORD));
  /* The patient's name is on the doctor's screen (stdout), never in its logs. */
  g_assert_null (strstr (doctor->err_text, "Pat Synthetic"));
  g_assert_null (strstr (doctor->err_text, "pat.queue"));
  assert_media (dstats, "doctor", "duration");
  assert_media (pstats, "patient", "ended");

  w = (TvTestStatusWait) { dir, id, TV_CONSULT_COMPLETED };
  g_assert_true (tv_test_wait_until (tv_test_consult_has_status, &w, 10000));
  done = tv_test_get_consult (dir, id);
  g_assert_cmpstr (done->end_reason, ==, "ended-by-doctor");
  g_assert_cmpint (done->arrived_at, >, 0);
  g_assert_cmpint (done->arrived_at, ==, waiting->arrived_at);
  g_assert_cmpint (done->arrived_at, <, done->admitted_at);
  g_assert_cmpint (done->admitted_at, <=, done->started_at);
  g_assert_cmpint (done->started_at, <=, done->ended_at);
  g_assert_cmpint (done->wait_us, ==, done->admitted_at - done->arrived_at);

  /* The client logged its API session out on exit: one session, ended. */
  {
    g_autofree char *all = g_strdup_printf ("SELECT COUNT(*) FROM sessions WHERE user_id = '%s'", doc_id);
    g_autofree char *open = g_strdup_printf ("SELECT COUNT(*) FROM sessions WHERE user_id = '%s' AND ended_at = 0",
                                             doc_id);
    g_assert_cmpint (tv_test_store_int (dir, all), ==, 1);
    g_assert_cmpint (tv_test_store_int (dir, open), ==, 0);
  }

  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

typedef struct {
  TvTestClient *client;
  const char *text;
} OutWait;

static gboolean
out_has (gpointer data)
{
  OutWait *w = data;
  return strstr (w->client->out_text->str, w->text) != NULL;
}

/* tv_test_client_start with a pipe on the child's stdin (the password and
 * the manual choices are typed there); the pipe belongs to the child's
 * GSubprocess. */
static TvTestClient *
start_client_stdin (TvTestServer *srv, const char *name, const char *const *extra, GOutputStream **stdin_pipe)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_auto (GStrv) args = NULL;
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  const char *base[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--headless", "--test-media", "--ice-address", "127.0.0.1", "--video-size", VIDEO_SIZE,
                         NULL };
  TvTestClient *c;

  g_strv_builder_addv (b, base);
  g_strv_builder_addv (b, (const char **) extra);
  args = g_strv_builder_end (b);
  c = tv_test_client_spawn (name, launcher, (const char *const *) args);
  *stdin_pipe = g_subprocess_get_stdin_pipe (c->proc);
  return c;
}

/* Types @text on the child's stdin (a few bytes: a pipe takes them at once). */
static void
type_line (GOutputStream *in, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (g_output_stream_write_all (in, text, strlen (text), NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_flush (in, NULL, &error));
}

/* --admit manual with the password on stdin: a wrong number is refused on
 * stderr, "1" admits; after the call the client returns to the queue (no
 * --once), shows the consult completed, and SIGTERM there exits 0 with a
 * logout. */
static void
test_manual_back_to_queue (void)
{
  TvTestServer *srv;
  const char *dir;
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL, *doc_id = NULL, *pat_id = NULL;
  g_autofree char *pstats = g_strdup_printf ("%s/patient.json", tv_test_tmpdir ());
  g_autofree char *joining = NULL, *completed = NULL, *open_sql = NULL;
  TvTestClient *doctor, *patient;
  GOutputStream *in = NULL;
  TvTestStatusWait w;

  tv_test_watchdog_start (120, "e2e dashboard manual");
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  dir = tv_test_server_get_data_dir (srv);
  doc_id = tv_test_create_user (dir, "dr.manual", "Dr. Test Doctor", TV_ROLE_DOCTOR, "Europe/Berlin", NULL);
  pat_id = tv_test_create_user (dir, "pat.manual", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
  tv_test_book_now (dir, id, doc_id, pat_id);

  {
    const char *pextra[] = { "--token", ptok, "--duration", "60", NULL };
    patient = start_client (srv, "patient", pstats, pextra);
  }
  g_assert_true (tv_test_client_wait_lines (patient, "waiting room doctor_present=false", 1, EVENT_TIMEOUT_MS));

  {
    const char *dextra[] = { "--login", "dr.manual", "--admit", "manual", "--duration", "2", "--end-on-exit", NULL };
    doctor = start_client_stdin (srv, "doctor", dextra, &in);
  }
  type_line (in, TV_TEST_PASSWORD "\n");
  g_assert_true (tv_test_client_wait_lines (doctor, "choose a patient", 1, EVENT_TIMEOUT_MS));
  type_line (in, "7\n");
  type_line (in, "1\n");
  joining = g_strdup_printf ("joining consult=%s", id);
  g_assert_true (tv_test_client_wait_lines (doctor, joining, 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, "back to the queue", 1, EXIT_TIMEOUT_MS));
  /* The second queue shows the consult done; nobody waits, nothing is asked. */
  g_assert_true (tv_test_client_wait_lines (doctor, "authed user=", 2, EVENT_TIMEOUT_MS));
  completed = g_strdup_printf ("status=completed present=false waiting_since=- consult=%s", id);
  {
    OutWait ow = { doctor, completed };
    g_assert_true (tv_test_wait_until (out_has, &ow, EVENT_TIMEOUT_MS));
  }
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);
  g_assert_cmpint (patient->status, ==, 0);
  w = (TvTestStatusWait) { dir, id, TV_CONSULT_COMPLETED };
  g_assert_true (tv_test_wait_until (tv_test_consult_has_status, &w, 10000));

  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  if (doctor->status != 0)
    g_test_message ("doctor stderr:\n%s", doctor->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_nonnull (strstr (doctor->err_text, "\"7\" is not a consult number of the queue (1..1)"));
  g_assert_nonnull (strstr (doctor->out_text->str, completed));
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "choose a patient"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, joining), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "admitting"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "exit code=0 reason=duration"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "exit code=0 reason=signal"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "logged out"), ==, 1);
  g_assert_null (strstr (doctor->out_text->str, TV_TEST_PASSWORD));
  g_assert_null (strstr (doctor->err_text, TV_TEST_PASSWORD));
  open_sql = g_strdup_printf ("SELECT COUNT(*) FROM sessions WHERE user_id = '%s' AND ended_at = 0", doc_id);
  g_assert_cmpint (tv_test_store_int (dir, open_sql), ==, 0);

  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* A wrong password: the login is refused, exit status 3, no WebSocket opened. */
static void
test_wrong_password (void)
{
  TvTestServer *srv;
  g_autofree char *doc_id = NULL, *pwfile = NULL;
  g_autoptr (TvTestClient) c = NULL;

  tv_test_watchdog_start (60, "e2e dashboard wrong password");
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  doc_id = tv_test_create_user (tv_test_server_get_data_dir (srv), "dr.wrong", "Dr. Test Doctor", TV_ROLE_DOCTOR,
                                NULL, NULL);
  pwfile = tv_test_password_file ("wrong.pw", "not-the-password\n", 0600);
  {
    const char *extra[] = { "--login", "dr.wrong", "--password-file", pwfile, "--once", NULL };
    c = start_client (srv, "doctor", NULL, extra);
  }
  tv_test_client_wait_exit (c, EXIT_TIMEOUT_MS);
  g_assert_cmpint (c->status, ==, 3);
  g_assert_cmpuint (tv_test_client_count_lines (c, "exit code=3 reason=login-refused"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (c, "connecting"), ==, 0);
  g_assert_nonnull (strstr (c->err_text, "login refused"));
  g_assert_null (strstr (c->err_text, "not-the-password"));
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

/* A password file others may read: refused before anything is sent (exit 1);
 * the same for --password-file without --login and --login with --token. */
static void
test_password_file_checks (void)
{
  g_autofree char *open_file = tv_test_password_file ("open.pw", "synthetic\n", 0644);
  g_autofree char *ok_file = tv_test_password_file ("ok.pw", "synthetic\n", 0600);
  struct {
    const char *args[12];
    const char *message;
  } cases[] = {
    { { "--server", "wss://127.0.0.1:9", "--login", "dr.test", "--password-file", open_file, NULL },
      "--password-file" },
    { { "--server", "wss://127.0.0.1:9", "--password-file", ok_file, NULL }, "--password-file needs --login" },
    { { "--server", "wss://127.0.0.1:9", "--login", "dr.test", "--token", "AAAAAAAAAAAAAAAAAAAA", NULL },
      "--login excludes" },
    { { "--server", "wss://127.0.0.1:9", "--login", "dr test", "--password-file", ok_file, NULL }, "--login:" },
    { { "--server", "wss://127.0.0.1:9", "--token", "AAAAAAAAAAAAAAAAAAAA", "--once", NULL }, "--once needs" },
    /* No --password-file and nothing on stdin (an empty pipe, closed at once). */
    { { "--server", "wss://127.0.0.1:9", "--login", "dr.test", NULL }, "no password on stdin" },
  };

  tv_test_watchdog_start (60, "e2e dashboard cli");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      /* Each child gets its own stdin pipe, closed before it reads: an
       * explicit end of input. (Under `make check` a child once read a line
       * where /dev/null was meant, and went on to exit 5; the cause was not
       * found, so the input is made explicit instead.) */
      g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
        G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
      g_autoptr (TvTestClient) c = tv_test_client_spawn ("cli", launcher, cases[i].args);
      g_assert_true (g_output_stream_close (g_subprocess_get_stdin_pipe (c->proc), NULL, NULL));
      tv_test_client_wait_exit (c, EXIT_TIMEOUT_MS);
      g_test_message ("case %u: %s", i, c->err_text);
      if (c->status != 1)
        g_error ("case %u exited %d, not 1; its stderr: %s", i, c->status, c->err_text);
      g_assert_nonnull (strstr (c->err_text, cases[i].message));
      g_assert_cmpuint (tv_test_client_count_lines (c, "connecting"), ==, 0);
    }
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  /* Fast password hashing for the accounts, also in the server we start. */
  g_setenv ("TV_SCRYPT_LN", "10", FALSE);
  tv_test_init (&argc, &argv);
  g_test_add_func ("/e2e/dashboard/queue-admit-call", test_queue_admit_call);
  g_test_add_func ("/e2e/dashboard/manual-back-to-queue", test_manual_back_to_queue);
  g_test_add_func ("/e2e/dashboard/wrong-password", test_wrong_password);
  g_test_add_func ("/e2e/dashboard/password-file-checks", test_password_file_checks);
  return g_test_run ();
}
