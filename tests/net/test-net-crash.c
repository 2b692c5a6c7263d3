/* test-net-crash.c — kill -9 of the server during a live consult, then restart.
 *
 * Why (issue 7, "Crash safety, nothing lost", live consults): a server that
 * dies without a goodbye must not cost the consult anything. Two real
 * televisit-client processes hold a call; the server is SIGKILLed mid-call
 * and restarted on the same port and data directory after a few seconds of
 * downtime. Checked: both clients reconnect on their own (back-off, no help
 * from the test), rejoin and renegotiate; the consult goes on under the same
 * id (one consult in the store); its connected time counts the call before
 * the crash (the server checkpoints it, tv-store-live.h) and after it, but
 * not the downtime; every participation "join" has its "leave" (the server
 * records the crash's drops when it comes back); the database passes SQLite's
 * integrity check.
 *
 * Waits are event-driven: client stdout lines, child exits, store conditions
 * re-checked by tv_test_wait_until; a watchdog bounds the test.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>

#include "server/tv-consult-ws.h"
#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"

#define EVENT_TIMEOUT_MS 30000
#define BEFORE_CRASH_US (4 * G_USEC_PER_SEC) /* connected time before the kill, as the store shows it */
#define AFTER_RESTART_US (3 * G_USEC_PER_SEC)
#define SLACK_US (G_USEC_PER_SEC)             /* store/clock granularity, process scheduling */

typedef struct {
  const char *dir;
  const char *id;
  gint64 at_least;
  gint64 since_after;
} StoreWait;

static gboolean
connected_at_least (gpointer data)
{
  StoreWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  gint64 total = c->connected_us;
  if (c->media_up_since != 0)
    total += g_get_real_time () - c->media_up_since;
  return c->status == TV_CONSULT_IN_PROGRESS && total >= w->at_least;
}

/* A new connected interval opened after @since_after (media back after the restart). */
static gboolean
interval_reopened (gpointer data)
{
  StoreWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->media_up_since > w->since_after;
}

static gboolean
consult_completed (gpointer data)
{
  StoreWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == TV_CONSULT_COMPLETED;
}

static TvTestClient *
start_party (TvTestServer *srv, const char *name, const char *token, const char *stats, gboolean end_on_exit)
{
  const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--token", token, "--headless", "--test-media", "--ice-address", "127.0.0.1",
                         "--video-size", "320x240", "--stats-json", stats,
                         end_on_exit ? "--end-on-exit" : NULL, NULL };
  return tv_test_client_start (name, args);
}

static void
assert_integrity (const char *dir)
{
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_open_v2 (db, &h, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (h, "PRAGMA integrity_check", -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (st, 0), ==, "ok");
  sqlite3_finalize (st);
  sqlite3_close (h);
}

static void
test_kill9_live_consult (void)
{
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  g_autofree char *dstats = g_build_filename (tv_test_tmpdir (), "doctor.json", NULL);
  g_autofree char *pstats = g_build_filename (tv_test_tmpdir (), "patient.json", NULL);

  tv_test_watchdog_start (180, "kill -9 during a live consult");
  TvTestServer *srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  const char *dir = tv_test_server_get_data_dir (srv);
  g_autofree char *port = g_strdup_printf ("%u", tv_test_server_get_port (srv));
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);

  TvTestClient *doctor = start_party (srv, "doctor", dtok, dstats, TRUE);
  TvTestClient *patient = start_party (srv, "patient", ptok, pstats, FALSE);
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 1, EVENT_TIMEOUT_MS));

  /* Let the store show BEFORE_CRASH_US of connected time (checkpoints), then crash. */
  StoreWait w = { dir, id, BEFORE_CRASH_US + TV_SERVER_CHECKPOINT_S * G_USEC_PER_SEC, 0 };
  g_assert_true (tv_test_wait_until (connected_at_least, &w, EVENT_TIMEOUT_MS));
  tv_test_server_kill (srv);
  gint64 killed_at = g_get_real_time ();
  g_autoptr (TvConsult) at_crash = tv_test_get_consult (dir, id);
  g_assert_cmpint (at_crash->started_at, >, 0);
  /* What the call had really been connected for, and what the store holds. */
  gint64 true_before = killed_at - at_crash->started_at;
  gint64 stored_before = at_crash->connected_us;
  g_test_message ("killed after %.2f s connected; the store had %.2f s checkpointed (interval open since %.2f s "
                  "before the kill)",
                  true_before / 1e6, stored_before / 1e6,
                  at_crash->media_up_since ? (killed_at - at_crash->media_up_since) / 1e6 : 0.0);
  g_assert_cmpint (at_crash->media_up_since, !=, 0); /* the kill left the interval open */
  g_assert_cmpint (stored_before, >=, true_before - (TV_SERVER_CHECKPOINT_S + 1) * G_USEC_PER_SEC);

  /* Both clients notice on their own and keep retrying with back-off. */
  g_assert_true (tv_test_client_wait_lines (doctor, "reconnecting attempt=3", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "reconnecting attempt=3", 1, EVENT_TIMEOUT_MS));
  const char *same_port[] = { "--port", port, NULL };
  TvTestServer *again = tv_test_server_start (dir, same_port);
  gint64 restarted_at = g_get_real_time ();
  g_test_message ("server down for %.2f s", (restarted_at - killed_at) / 1e6);

  g_assert_true (tv_test_client_wait_lines (doctor, "rejoined consult=", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "rejoined consult=", 1, EVENT_TIMEOUT_MS));
  g_autofree char *same_id = g_strdup_printf ("rejoined consult=%s ", id);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, same_id), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, same_id), ==, 1);
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 2, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 2, EVENT_TIMEOUT_MS));
  w.since_after = restarted_at;
  g_assert_true (tv_test_wait_until (interval_reopened, &w, EVENT_TIMEOUT_MS));
  g_autoptr (TvConsult) back = tv_test_get_consult (dir, id);
  gint64 media_back_at = back->media_up_since;
  g_test_message ("media connected again %.2f s after the restart (%.2f s after the kill)",
                  (media_back_at - restarted_at) / 1e6, (media_back_at - killed_at) / 1e6);
  /* The restart closed the stale interval at its last checkpoint: nothing of
   * the downtime was added. */
  g_assert_cmpint (back->connected_us, <=, true_before + SLACK_US);
  g_assert_cmpint (back->connected_us, >=, stored_before);

  w.at_least = back->connected_us + AFTER_RESTART_US;
  g_assert_true (tv_test_wait_until (connected_at_least, &w, EVENT_TIMEOUT_MS));

  /* The doctor ends the consult (--end-on-exit); the patient is told. */
  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EVENT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EVENT_TIMEOUT_MS);
  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);
  g_assert_true (tv_test_wait_until (consult_completed, &w, 10000));

  /* The record: same consult, completed once, connected time = before + after, no downtime. */
  g_autoptr (TvConsult) rec = tv_test_get_consult (dir, id);
  gint64 true_after = rec->ended_at - media_back_at;
  gint64 expected = true_before + true_after;
  g_test_message ("consult %s: %s; connected %.2f s, expected %.2f s (%.2f before the crash + %.2f after); "
                  "wall time %.2f s", rec->id, rec->end_reason, rec->connected_us / 1e6, expected / 1e6,
                  true_before / 1e6, true_after / 1e6, (rec->ended_at - rec->started_at) / 1e6);
  g_assert_cmpstr (rec->end_reason, ==, "ended-by-doctor");
  g_assert_cmpint (rec->media_up_since, ==, 0);
  g_assert_cmpint (rec->connected_us, <=, expected + SLACK_US);
  g_assert_cmpint (rec->connected_us, >=, expected - (TV_SERVER_CHECKPOINT_S + 1) * G_USEC_PER_SEC);
  g_assert_cmpint (rec->connected_us, <=, rec->ended_at - rec->started_at - (restarted_at - killed_at));

  g_autoptr (GError) error = NULL;
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) all = tv_store_consult_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 1);

  /* Participation: per role, joins and leaves alternate, starting with a join. */
  g_autoptr (GPtrArray) log = tv_test_get_participation (dir, id);
  guint rows_checked = 0;
  const TvSigRole roles[] = { TV_SIG_ROLE_DOCTOR, TV_SIG_ROLE_PATIENT };
  for (gsize r = 0; r < G_N_ELEMENTS (roles); r++) {
    guint joins = 0, leaves = 0, dropped = 0;
    gboolean present = FALSE;
    gint64 prev = 0;
    for (guint i = 0; i < log->len; i++) {
      const TvParticipation *p = g_ptr_array_index (log, i);
      if (p->role != roles[r])
        continue;
      rows_checked++;
      g_assert_cmpint (p->at, >=, prev);
      prev = p->at;
      if (p->event == TV_PART_JOIN) {
        g_assert_false (present);
        present = TRUE;
        joins++;
      } else if (p->event == TV_PART_LEAVE) {
        g_assert_true (present);
        present = FALSE;
        leaves++;
        if (g_strcmp0 (p->detail, "dropped") == 0) {
          dropped++;
          /* Recorded at the last moment known before the crash, not at the restart. */
          g_assert_cmpint (p->at, <=, killed_at);
        }
      }
    }
    g_assert_false (present);
    g_assert_cmpuint (joins, ==, 2);
    g_assert_cmpuint (leaves, ==, 2);
    g_assert_cmpuint (dropped, ==, 1);
  }
  g_test_message ("%u participation rows checked, 1 consult row, integrity ok", rows_checked);
  g_clear_pointer (&store, tv_store_close);
  assert_integrity (dir);

  g_autofree char *log_text = tv_test_server_read_stderr (again);
  g_assert_nonnull (strstr (log_text, "left open by an unclean server stop"));

  g_assert_cmpint (tv_test_server_stop (again, 10000), ==, 0);
  tv_test_server_free (again);
  tv_test_server_free (srv);
  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/net/crash/kill9-live-consult", test_kill9_live_consult);
  return g_test_run ();
}
