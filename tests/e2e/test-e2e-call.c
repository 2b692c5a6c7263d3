/* test-e2e-call.c — the acceptance test: a whole consult through the real binaries.
 *
 * Starts the real televisit-server (shared fixture) on loopback with a fresh
 * data dir, creates a consult in its store, and runs two real televisit-client
 * processes (--headless --test-media --ice-address 127.0.0.1) that join, pair,
 * negotiate WebRTC through the server and exchange VP8 + Opus directly. Checks
 * what matters to the product: both clients exit 0, each decoded the other's
 * video and audio (from --stats-json), and the store shows the consult completed
 * with its connected time, start/end and the participation log. Cases: both
 * leave after --duration; the doctor ends the consult; the patient is killed
 * mid-call and a new patient process rejoins with the same token.
 *
 * Waits are event-driven (child exit via g_subprocess_wait_async, stdout lines,
 * store conditions re-checked by tv_test_wait_until) under a per-test watchdog.
 * Calls are kept to about 5 s: this runs in CI on 2 cores. Main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>

#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"

/* 5 s of connected call: the upper end of the CI budget, for frame-count
 * headroom when the encoder is starved (see VIDEO_SIZE). */
#define DURATION_S 5
#define EXIT_TIMEOUT_MS 45000       /* join + set-up + DURATION_S + leave, with a wide margin for CI */
#define EVENT_TIMEOUT_MS 30000
#define MIN_VIDEO_FRAMES 60         /* 5 s at 30 fps is ~140; leave room for a loaded machine */
#define MIN_AUDIO_BUFFERS 100       /* 20 ms Opus frames: ~240 in 5 s */
/* 320x240: VP8 at 640x480 costs ~15 ms of CPU per frame on the 2-core CI box,
 * so two clients encoding and decoding next to another test starve; a quarter
 * of the pixels keeps 30 fps. The resolution does not change what is tested. */
#define VIDEO_SIZE "320x240"

typedef struct {
  TvTestServer *srv;
  const char *dir;
  char *id;
  char *doctor_token;
  char *patient_token;
} Consult;

static void
consult_setup (Consult *c)
{
  c->srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  c->dir = tv_test_server_get_data_dir (c->srv);
  tv_test_create_consult (c->dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &c->id, &c->doctor_token,
                          &c->patient_token);
}

static void
consult_teardown (Consult *c)
{
  /* The server must have survived the whole consult. */
  g_assert_true (tv_test_server_is_running (c->srv));
  g_assert_cmpint (tv_test_server_stop (c->srv, 10000), ==, 0);
  tv_test_server_free (c->srv);
  g_free (c->id);
  g_free (c->doctor_token);
  g_free (c->patient_token);
}

/* Starts one party. The patient reads its token from a file (--token-file),
 * the doctor gets it on the command line: both ways are exercised. */
static TvTestClient *
start_party (Consult *c, const char *name, const char *token, const char *stats, const char *const *extra)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_auto (GStrv) args = NULL;
  const char *base[] = { "--server", tv_test_server_get_url (c->srv), "--ca", tv_test_server_get_cert_path (c->srv),
                         "--headless", "--test-media", "--ice-address", "127.0.0.1", "--video-size", VIDEO_SIZE,
                         "--stats-json", stats, NULL };

  g_strv_builder_addv (b, base);
  if (g_str_has_prefix (name, "patient"))
    {
      g_autofree char *file = g_strdup_printf ("%s/%s.token", tv_test_tmpdir (), name);
      g_assert_true (g_file_set_contents (file, token, -1, NULL));
      g_strv_builder_add_many (b, "--token-file", file, NULL);
    }
  else
    g_strv_builder_add_many (b, "--token", token, NULL);
  if (extra != NULL)
    g_strv_builder_addv (b, (const char **) extra);
  args = g_strv_builder_end (b);
  return tv_test_client_start (name, (const char *const *) args);
}

static char *
stats_path (const char *name)
{
  return g_strdup_printf ("%s/%s.json", tv_test_tmpdir (), name);
}

/* Checks one party's --stats-json after a connected call. */
static void
assert_stats (const char *path, const char *role, const char *consult_id, guint64 min_video, guint64 min_audio,
              const char *exit_reason)
{
  g_autoptr (JsonObject) st = tv_test_client_load_stats (path);

  tv_test_client_assert_decoded (path, role, consult_id, (gint64) min_video, (gint64) min_audio);
  g_assert_cmpint (json_object_get_int_member (st, "exit_code"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (st, "exit_reason"), ==, exit_reason);
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

/* Waits for the store to show the consult completed, then checks its record. */
static TvConsult *
assert_completed (Consult *c, const char *reason, gint64 min_connected_us, gint64 max_connected_us)
{
  StoreWait w = { c->dir, c->id };
  TvConsult *rec;

  g_assert_true (tv_test_wait_until (consult_completed, &w, 10000));
  rec = tv_test_get_consult (c->dir, c->id);
  g_test_message ("consult %s: %s, connected %.2f s", rec->id, rec->end_reason, rec->connected_us / 1e6);
  g_assert_cmpstr (rec->end_reason, ==, reason);
  g_assert_cmpint (rec->started_at, >, 0);
  g_assert_cmpint (rec->ended_at, >=, rec->started_at);
  g_assert_cmpint (rec->media_up_since, ==, 0);
  g_assert_cmpint (rec->connected_us, >=, min_connected_us);
  g_assert_cmpint (rec->connected_us, <=, max_connected_us);
  /* Connected time cannot exceed the wall time between start and end. */
  g_assert_cmpint (rec->connected_us, <=, rec->ended_at - rec->started_at + G_USEC_PER_SEC);
  return rec;
}

static guint
count_events (GPtrArray *log, TvSigRole role, TvParticipationEvent ev, const char *detail)
{
  guint n = 0;

  for (guint i = 0; i < log->len; i++)
    {
      TvParticipation *p = g_ptr_array_index (log, i);
      if (p->role == role && p->event == ev && (detail == NULL || g_strcmp0 (p->detail, detail) == 0))
        n++;
    }
  return n;
}

/* Both parties: one join, one leave, at least one media-up. */
static void
assert_participation_basic (Consult *c)
{
  g_autoptr (GPtrArray) log = tv_test_get_participation (c->dir, c->id);
  TvSigRole roles[] = { TV_SIG_ROLE_DOCTOR, TV_SIG_ROLE_PATIENT };

  for (gsize i = 0; i < G_N_ELEMENTS (roles); i++)
    {
      g_assert_cmpuint (count_events (log, roles[i], TV_PART_JOIN, NULL), ==, 1);
      g_assert_cmpuint (count_events (log, roles[i], TV_PART_LEAVE, "left"), ==, 1);
      g_assert_cmpuint (count_events (log, roles[i], TV_PART_MEDIA_UP, NULL), >=, 1);
    }
}

static void
assert_exit_ok (TvTestClient *cl, const char *reason)
{
  g_autofree char *line = g_strdup_printf ("exit code=0 reason=%s\n", reason);

  if (cl->status != 0)
    g_test_message ("%s stderr:\n%s", cl->name, cl->err_text);
  g_assert_cmpint (cl->status, ==, 0);
  g_assert_nonnull (strstr (cl->out_text->str, line));
}

/* Doctor and patient both leave after --duration: the consult completes as "both-left". */
static void
test_both_leave (void)
{
  Consult c = { 0 };
  g_autofree char *dstats = stats_path ("doctor"), *pstats = stats_path ("patient");
  g_autofree char *dur = g_strdup_printf ("%d", DURATION_S);
  const char *extra[] = { "--duration", dur, NULL };
  g_autoptr (TvConsult) rec = NULL;
  TvTestClient *doctor, *patient;

  tv_test_watchdog_start (120, "e2e both leave");
  consult_setup (&c);
  doctor = start_party (&c, "doctor", c.doctor_token, dstats, extra);
  patient = start_party (&c, "patient", c.patient_token, pstats, extra);
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);

  assert_exit_ok (doctor, "duration");
  assert_exit_ok (patient, "duration");
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "paired peer=patient offerer=true"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "paired peer=doctor offerer=false"), ==, 1);
  assert_stats (dstats, "doctor", c.id, MIN_VIDEO_FRAMES, MIN_AUDIO_BUFFERS, "duration");
  assert_stats (pstats, "patient", c.id, MIN_VIDEO_FRAMES, MIN_AUDIO_BUFFERS, "duration");

  rec = assert_completed (&c, "both-left", 3 * G_USEC_PER_SEC, (DURATION_S + 5) * G_USEC_PER_SEC);
  assert_participation_basic (&c);

  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  consult_teardown (&c);
  tv_test_watchdog_stop ();
}

/* The doctor leaves with --end-on-exit: the patient is told "ended" and exits 0. */
static void
test_doctor_ends (void)
{
  Consult c = { 0 };
  g_autofree char *dstats = stats_path ("doctor-ends"), *pstats = stats_path ("patient-ended");
  g_autofree char *dur = g_strdup_printf ("%d", DURATION_S);
  const char *dextra[] = { "--duration", dur, "--end-on-exit", NULL };
  /* The patient would stay much longer: only the doctor's "end" stops it. */
  const char *pextra[] = { "--duration", "60", NULL };
  g_autoptr (TvConsult) rec = NULL;
  TvTestClient *doctor, *patient;

  tv_test_watchdog_start (120, "e2e doctor ends");
  consult_setup (&c);
  patient = start_party (&c, "patient", c.patient_token, pstats, pextra);
  g_assert_true (tv_test_client_wait_lines (patient, "waiting for the doctor", 1, EVENT_TIMEOUT_MS));
  doctor = start_party (&c, "doctor", c.doctor_token, dstats, dextra);
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);

  assert_exit_ok (doctor, "duration");
  assert_exit_ok (patient, "ended");
  g_assert_cmpuint (tv_test_client_count_lines (patient, "ended reason=ended-by-doctor"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "ended reason=ended-by-doctor"), ==, 1);
  assert_stats (dstats, "doctor", c.id, MIN_VIDEO_FRAMES, MIN_AUDIO_BUFFERS, "duration");
  assert_stats (pstats, "patient", c.id, MIN_VIDEO_FRAMES, MIN_AUDIO_BUFFERS, "ended");

  rec = assert_completed (&c, "ended-by-doctor", 3 * G_USEC_PER_SEC, (DURATION_S + 5) * G_USEC_PER_SEC);
  {
    g_autoptr (GPtrArray) log = tv_test_get_participation (c.dir, c.id);
    g_assert_cmpuint (count_events (log, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL), ==, 1);
    g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_JOIN, NULL), ==, 1);
    g_assert_cmpuint (count_events (log, TV_SIG_ROLE_DOCTOR, TV_PART_MEDIA_UP, NULL), >=, 1);
    g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_MEDIA_UP, NULL), >=, 1);
    /* Ending closes both participations. */
    g_assert_cmpuint (count_events (log, TV_SIG_ROLE_DOCTOR, TV_PART_LEAVE, "ended"), ==, 1);
    g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE, "ended"), ==, 1);
  }

  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  consult_teardown (&c);
  tv_test_watchdog_stop ();
}

/* The patient's process is killed mid-call; a new patient process joins with
 * the same token, the pair renegotiates, and the consult completes once. */
static void
test_patient_killed_rejoins (void)
{
  Consult c = { 0 };
  g_autofree char *dstats = stats_path ("doctor-rejoin"), *p1stats = stats_path ("patient-killed");
  g_autofree char *p2stats = stats_path ("patient-rejoined");
  const char *p2extra[] = { "--duration", "3", NULL };
  g_autoptr (TvConsult) rec = NULL;
  g_autoptr (GPtrArray) log = NULL;
  g_autoptr (TvStore) store = NULL;
  g_autoptr (GPtrArray) all = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *db = NULL;
  TvTestClient *doctor, *patient1, *patient2;

  tv_test_watchdog_start (150, "e2e patient killed and rejoins");
  consult_setup (&c);
  doctor = start_party (&c, "doctor", c.doctor_token, dstats, NULL);
  patient1 = start_party (&c, "patient-1", c.patient_token, p1stats, NULL);

  /* Mid-call: both sides see the other's video. */
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient1, "first remote frame", 1, EVENT_TIMEOUT_MS));
  tv_test_client_signal (patient1, SIGKILL);
  tv_test_client_wait_exit (patient1, EVENT_TIMEOUT_MS);
  g_assert_cmpint (patient1->status, ==, -1);
  g_assert_cmpint (patient1->term_signal, ==, SIGKILL);

  /* The server notices the drop and tells the doctor, who waits for a new patient. */
  g_assert_true (tv_test_client_wait_lines (doctor, "peer-left role=patient reason=dropped", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, "waiting for the patient", 1, EVENT_TIMEOUT_MS));

  patient2 = start_party (&c, "patient-2", c.patient_token, p2stats, p2extra);
  g_assert_true (tv_test_client_wait_lines (patient2, "joined consult=", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 2, EVENT_TIMEOUT_MS));
  tv_test_client_wait_exit (patient2, EXIT_TIMEOUT_MS);
  assert_exit_ok (patient2, "duration");
  assert_stats (p2stats, "patient", c.id, 1, 1, "duration");

  /* The doctor saw the second patient leave; a signal makes it leave too. */
  g_assert_true (tv_test_client_wait_lines (doctor, "peer-left role=patient reason=left", 1, EVENT_TIMEOUT_MS));
  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  assert_exit_ok (doctor, "signal");
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "paired peer=patient offerer=true"), ==, 2);
  {
    g_autoptr (JsonObject) st = tv_test_client_load_stats (dstats);
    g_assert_cmpint (json_object_get_int_member (st, "calls"), ==, 2);
    g_assert_cmpint (json_object_get_int_member (st, "video_frames_decoded"), >, 0);
  }

  rec = assert_completed (&c, "both-left", 1 * G_USEC_PER_SEC, 60 * G_USEC_PER_SEC);

  /* One consult, not two; the patient joined twice (dropped, then left). */
  db = g_build_filename (c.dir, "televisit.db", NULL);
  store = tv_store_open (db, &error);
  g_assert_no_error (error);
  all = tv_store_consult_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 1);

  log = tv_test_get_participation (c.dir, c.id);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_JOIN, NULL), ==, 2);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE, "dropped"), ==, 1);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE, "left"), ==, 1);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_MEDIA_UP, NULL), >=, 2);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL), ==, 1);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_DOCTOR, TV_PART_LEAVE, NULL), ==, 1);

  tv_test_client_free (doctor);
  tv_test_client_free (patient1);
  tv_test_client_free (patient2);
  consult_teardown (&c);
  tv_test_watchdog_stop ();
}

/* The server crashes mid-call and comes back on the same port and data dir:
 * both clients reconnect, rejoin with their tokens, renegotiate, and the
 * consult goes on in the store as the same consult. */
static void
test_server_restart (void)
{
  Consult c = { 0 };
  g_autofree char *dstats = stats_path ("doctor-restart"), *pstats = stats_path ("patient-restart");
  g_autofree char *port = NULL;
  const char *dextra[] = { "--end-on-exit", NULL };
  const char *pin[3] = { "--port", NULL, NULL };
  g_autoptr (TvConsult) rec = NULL;
  g_autoptr (GPtrArray) log = NULL;
  TvTestServer *first;
  TvTestClient *doctor, *patient;

  tv_test_watchdog_start (150, "e2e server restart");
  consult_setup (&c);
  port = g_strdup_printf ("%u", tv_test_server_get_port (c.srv));
  pin[1] = port;
  doctor = start_party (&c, "doctor", c.doctor_token, dstats, dextra);
  patient = start_party (&c, "patient", c.patient_token, pstats, NULL);
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 1, EVENT_TIMEOUT_MS));
  /* Audio too (asserted in the stats below): it can trail the first video
   * frame by tens of ms, and the drop ends this call at once. */
  g_assert_true (tv_test_client_wait_lines (doctor, "remote-audio sound", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "remote-audio sound", 1, EVENT_TIMEOUT_MS));

  /* Crash: no goodbye to anyone. */
  first = c.srv;
  tv_test_server_kill (first);
  g_assert_true (tv_test_client_wait_lines (doctor, "reconnecting attempt=", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "reconnecting attempt=", 1, EVENT_TIMEOUT_MS));
  c.srv = tv_test_server_start (c.dir, pin);

  g_assert_true (tv_test_client_wait_lines (doctor, "rejoined consult=", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "rejoined consult=", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 2, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 2, EVENT_TIMEOUT_MS));

  /* The doctor ends the consult (--end-on-exit); the patient is told. */
  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);
  assert_exit_ok (doctor, "signal");
  assert_exit_ok (patient, "ended");
  assert_stats (dstats, "doctor", c.id, 1, 1, "signal");
  assert_stats (pstats, "patient", c.id, 1, 1, "ended");

  rec = assert_completed (&c, "ended-by-doctor", 0, 120 * G_USEC_PER_SEC);
  log = tv_test_get_participation (c.dir, c.id);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL), ==, 2);
  g_assert_cmpuint (count_events (log, TV_SIG_ROLE_PATIENT, TV_PART_JOIN, NULL), ==, 2);

  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  tv_test_server_free (first);
  consult_teardown (&c);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);

  g_test_add_func ("/e2e/call/both-leave", test_both_leave);
  g_test_add_func ("/e2e/call/doctor-ends", test_doctor_ends);
  g_test_add_func ("/e2e/call/patient-killed-rejoins", test_patient_killed_rejoins);
  g_test_add_func ("/e2e/call/server-restart", test_server_restart);
  return g_test_run ();
}
