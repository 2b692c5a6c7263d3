/* test-e2e-waitroom.c — the waiting room end to end, through the real binaries.
 *
 * The patient's televisit-client joins first and waits in the consult's
 * waiting room; the doctor's client joins later and admits the patient
 * --admit-after 2 s; the two run a real VP8 + Opus call (--headless
 * --test-media on loopback) and the doctor ends it (--end-on-exit). Checks
 * what the issue asks for: the patient was told it waits and that the doctor
 * is ready, media flowed both ways, the consult is completed, and the store
 * holds arrived_at < admitted_at <= started_at <= ended_at with wait_us =
 * admitted_at - arrived_at covering the admit delay.
 *
 * Waits are event-driven (child exit, stdout lines, store conditions) under a
 * watchdog. Main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"

#define DURATION_S 4
#define ADMIT_AFTER_S 2
#define EXIT_TIMEOUT_MS 45000
#define EVENT_TIMEOUT_MS 30000
#define MIN_VIDEO_FRAMES 40
#define MIN_AUDIO_BUFFERS 80
#define VIDEO_SIZE "320x240"

static TvTestClient *
start_party (TvTestServer *srv, const char *name, const char *token, const char *stats, const char *const *extra)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_auto (GStrv) args = NULL;
  const char *base[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--headless", "--test-media", "--ice-address", "127.0.0.1", "--video-size", VIDEO_SIZE,
                         "--stats-json", stats, "--token", token, NULL };

  g_strv_builder_addv (b, base);
  if (extra != NULL)
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

typedef struct {
  const char *dir;
  const char *id;
  TvConsultStatus status;
} StatusWait;

static gboolean
has_status (gpointer data)
{
  StatusWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == w->status;
}

static void
test_wait_admit_call (void)
{
  TvTestServer *srv;
  const char *dir;
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  g_autofree char *dstats = g_strdup_printf ("%s/doctor.json", tv_test_tmpdir ());
  g_autofree char *pstats = g_strdup_printf ("%s/patient.json", tv_test_tmpdir ());
  g_autofree char *dur = g_strdup_printf ("%d", DURATION_S);
  g_autofree char *after = g_strdup_printf ("%d", ADMIT_AFTER_S);
  const char *dextra[] = { "--duration", dur, "--end-on-exit", "--admit", "auto", "--admit-after", after, NULL };
  const char *pextra[] = { "--duration", "60", NULL };
  g_autoptr (TvConsult) waiting = NULL, done = NULL;
  TvTestClient *doctor, *patient;
  StatusWait w;

  tv_test_watchdog_start (120, "e2e waiting room");
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  dir = tv_test_server_get_data_dir (srv);
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);

  /* The patient comes first and waits. */
  patient = start_party (srv, "patient", ptok, pstats, pextra);
  g_assert_true (tv_test_client_wait_lines (patient, "waiting room doctor_present=false", 1, EVENT_TIMEOUT_MS));
  g_assert_cmpuint (tv_test_client_count_lines (patient, "waiting for the doctor"), ==, 1);
  w = (StatusWait) { dir, id, TV_CONSULT_WAITING };
  g_assert_true (tv_test_wait_until (has_status, &w, 5000));
  waiting = tv_test_get_consult (dir, id);
  g_assert_cmpint (waiting->arrived_at, >, 0);
  g_assert_cmpint (waiting->admitted_at, ==, 0);

  /* The doctor joins, sees the patient waiting and admits after 2 s. */
  doctor = start_party (srv, "doctor", dtok, dstats, dextra);
  g_assert_true (tv_test_client_wait_lines (patient, "the doctor is ready", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, "patient waiting", 1, EVENT_TIMEOUT_MS));
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);

  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "admitting"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "paired peer=patient offerer=true"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "ended reason=ended-by-doctor"), ==, 1);
  assert_media (dstats, "doctor", "duration");
  assert_media (pstats, "patient", "ended");

  w = (StatusWait) { dir, id, TV_CONSULT_COMPLETED };
  g_assert_true (tv_test_wait_until (has_status, &w, 10000));
  done = tv_test_get_consult (dir, id);
  g_test_message ("waited %.2f s, connected %.2f s", done->wait_us / 1e6, done->connected_us / 1e6);
  g_assert_cmpstr (done->end_reason, ==, "ended-by-doctor");
  g_assert_cmpint (done->arrived_at, ==, waiting->arrived_at);
  g_assert_cmpint (done->arrived_at, <, done->admitted_at);
  g_assert_cmpint (done->admitted_at, <=, done->started_at);
  g_assert_cmpint (done->started_at, <=, done->ended_at);
  g_assert_cmpint (done->wait_us, ==, done->admitted_at - done->arrived_at);
  g_assert_cmpint (done->wait_us, >=, ADMIT_AFTER_S * G_USEC_PER_SEC);
  g_assert_cmpint (done->connected_us, >=, 2 * G_USEC_PER_SEC);

  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/e2e/waitroom/wait-admit-call", test_wait_admit_call);
  return g_test_run ();
}
