/* test-net-crash-bookings.c — kill -9 of the server during concurrent HTTPS bookings and a live consult.
 *
 * Why (issue 7, "Crash safety, nothing lost"): a clinic's front desk books
 * and cancels while consults run; a server that dies without a goodbye must
 * lose no booking it acknowledged, invent none twice, and leave no consult
 * half-written. BOOKERS threads (one libcurl keep-alive connection each, as
 * a scheduler) book random 15-minute slots of two doctors for random
 * patients and cancel some of what they booked, while two real
 * televisit-client processes hold a call. After a minimum number of
 * acknowledged bookings, with the call connected for a few seconds (part
 * of it checkpointed in the store), while the bookers still run, the server is SIGKILLed
 * and restarted on the same port and data directory. Checked on the store:
 *  - every booking answered 201 is there (same doctor, patient and start),
 *    cancelled exactly when its cancel was answered 200 (or a cancel was in
 *    flight at the kill), and has exactly one audit row (written in the
 *    booking's transaction, tv-store-audit.h);
 *  - no two live consults of a doctor, or of a patient, overlap, and no
 *    slot is held twice;
 *  - PRAGMA integrity_check "ok", foreign_key_check empty, every completed
 *    or cancelled consult has its end time and reason, no interval left
 *    open after the end, the audit chain verifies;
 *  - the clients reconnect on their own and the consult goes on under the
 *    same id (one row); its connected time covers both parts, not the downtime.
 * Waits are event-driven (client stdout lines, counters, store conditions
 * re-checked by tv_test_wait_until) under a watchdog.
 * Threads: the main thread runs the test; BOOKERS worker threads only do
 * HTTP and append to mutex-protected lists.
 */
#define G_LOG_DOMAIN "tv-test"

#include <curl/curl.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>

#include "server/tv-consult-ws.h"
#include "server/tv-store-audit.h"
#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define EVENT_TIMEOUT_MS 30000
#define BOOKERS 32
#define N_PATIENTS 12
#define N_DOCTORS 2
#define DAYS 3                      /* slots on days +2 .. +2+DAYS-1 */
#define SLOTS_PER_DAY (24 * 4)      /* all-day hours, 15-minute slots */
#define MIN_ACKED 300               /* acknowledged bookings before the kill */
#define BEFORE_CRASH_US (3 * G_USEC_PER_SEC)   /* connected time in the store before the kill */
#define SLACK_US (G_USEC_PER_SEC)


typedef struct {
  char *id;
  char *doctor_id;
  char *patient_id;
  gint64 start_s;          /* unix seconds */
  gboolean cancel_sent;    /* a cancel was sent (answered or not) */
  gboolean cancel_acked;   /* ... and answered 200 */
} Booking;

typedef struct {
  GMutex lock;
  GPtrArray *acked;        /* Booking *, answered 201 */
  volatile gint stop;
  volatile gint n_acked, n_taken, n_transport, n_other, n_cancel_acked;
  char *base_url;          /* https://127.0.0.1:PORT */
  char *ca;
  char *token;             /* scheduler's session */
  char *doctors[N_DOCTORS];
  char *patients[N_PATIENTS];
  gint64 day0_s;           /* midnight UTC of day +2 */
} Load;

static void
booking_free (Booking *b)
{
  g_free (b->id);
  g_free (b->doctor_id);
  g_free (b->patient_id);
  g_free (b);
}

static size_t
collect (char *data, size_t size, size_t n, void *user)
{
  g_string_append_len (user, data, (gssize) (size * n));
  return size * n;
}

/* One POST on @curl; returns the HTTP status (0: transport failure) and the body in @out. */
static long
post (CURL *curl, const Load *load, const char *path, const char *body, GString *out)
{
  g_autofree char *url = g_strconcat (load->base_url, path, NULL);
  g_autofree char *auth = g_strconcat ("Authorization: Bearer ", load->token, NULL);
  struct curl_slist *hdr = curl_slist_append (NULL, auth);
  hdr = curl_slist_append (hdr, "Content-Type: application/json");
  g_string_truncate (out, 0);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, out);
  long status = 0;
  if (curl_easy_perform (curl) == CURLE_OK)
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all (hdr);
  return status;
}

static char *
consult_id_of (const char *json)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  if (!json_parser_load_from_data (p, json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p)))
    return NULL;
  JsonObject *root = json_node_get_object (json_parser_get_root (p));
  JsonObject *c = json_object_has_member (root, "consult") ? json_object_get_object_member (root, "consult") : NULL;
  return c && json_object_has_member (c, "id") ? g_strdup (json_object_get_string_member (c, "id")) : NULL;
}

/* A booker: book a random slot; a third of the time cancel one of its own bookings. */
static gpointer
booker (gpointer data)
{
  Load *load = data;
  CURL *curl = curl_easy_init ();
  curl_easy_setopt (curl, CURLOPT_CAINFO, load->ca);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  g_autoptr (GRand) rnd = g_rand_new ();
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GPtrArray) mine = g_ptr_array_new ();   /* Booking * (owned by load->acked) */
  while (!g_atomic_int_get (&load->stop)) {
    if (mine->len > 0 && g_rand_int_range (rnd, 0, 3) == 0) {
      Booking *b = g_ptr_array_steal_index_fast (mine, (guint) g_rand_int_range (rnd, 0, (gint32) mine->len));
      g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s/cancel", b->id);
      g_mutex_lock (&load->lock);
      b->cancel_sent = TRUE;
      g_mutex_unlock (&load->lock);
      long st = post (curl, load, path, "{}", out);
      if (st == 200) {
        g_mutex_lock (&load->lock);
        b->cancel_acked = TRUE;
        g_mutex_unlock (&load->lock);
        g_atomic_int_inc (&load->n_cancel_acked);
      } else if (st == 0) {
        g_atomic_int_inc (&load->n_transport);   /* in flight at the kill: this booker is done */
        break;
      } else {
        g_atomic_int_inc (&load->n_other);
      }
      continue;
    }
    const char *doctor = load->doctors[g_rand_int_range (rnd, 0, N_DOCTORS)];
    const char *patient = load->patients[g_rand_int_range (rnd, 0, N_PATIENTS)];
    gint64 start = load->day0_s + (gint64) g_rand_int_range (rnd, 0, DAYS * SLOTS_PER_DAY) * 15 * 60;
    g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (start);
    g_autofree char *iso = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
    g_autofree char *body = g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}", doctor,
                                             patient, iso);
    long st = post (curl, load, "/api/v1/consults", body, out);
    if (st == 201) {
      Booking *b = g_new0 (Booking, 1);
      b->id = consult_id_of (out->str);
      b->doctor_id = g_strdup (doctor);
      b->patient_id = g_strdup (patient);
      b->start_s = start;
      g_mutex_lock (&load->lock);
      g_ptr_array_add (load->acked, b);
      g_mutex_unlock (&load->lock);
      g_ptr_array_add (mine, b);
      g_atomic_int_inc (&load->n_acked);
    } else if (st == 409) {
      g_atomic_int_inc (&load->n_taken);   /* slot taken (doctor or patient busy then) */
    } else if (st == 0) {
      g_atomic_int_inc (&load->n_transport);   /* in flight at the kill: this booker is done */
      break;
    } else {
      g_atomic_int_inc (&load->n_other);
    }
  }
  curl_easy_cleanup (curl);
  return NULL;
}

/* ---- waits ---------------------------------------------------------------- */

typedef struct {
  const char *dir;
  const char *id;
  gint64 at_least;
  gint64 since_after;
  Load *load;
} Wait;

static gboolean
acked_enough (gpointer data)
{
  Wait *w = data;
  return g_atomic_int_get (&w->load->n_acked) >= MIN_ACKED;
}

static gboolean
interval_reopened (gpointer data)
{
  Wait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->media_up_since > w->since_after;
}

static gboolean
connected_at_least (gpointer data)
{
  Wait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  gint64 total = c->connected_us + (c->media_up_since ? g_get_real_time () - c->media_up_since : 0);
  return c->status == TV_CONSULT_IN_PROGRESS && total >= w->at_least;
}

static gboolean
consult_completed (gpointer data)
{
  Wait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == TV_CONSULT_COMPLETED;
}

/* ---- store checks ------------------------------------------------------------ */

static gint64
sql_int (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  gint64 v = sqlite3_step (st) == SQLITE_ROW ? sqlite3_column_int64 (st, 0) : -1;
  sqlite3_finalize (st);
  return v;
}

/* Checks the whole file; returns the number of consult rows it looked at. */
static gint64
check_store_integrity (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "televisit.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (st, 0), ==, "ok");
  sqlite3_finalize (st);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA foreign_key_check", -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_DONE);   /* no dangling reference */
  sqlite3_finalize (st);
  /* No overlap among live consults of one doctor or one patient. */
  static const char *const overlaps[] = {
    "SELECT count(*) FROM consults a JOIN consults b ON a.doctor_id = b.doctor_id AND a.id < b.id"
    " WHERE a.status NOT IN ('cancelled') AND b.status NOT IN ('cancelled')"
    " AND a.scheduled_start < b.scheduled_end AND b.scheduled_start < a.scheduled_end",
    "SELECT count(*) FROM consults a JOIN consults b ON a.patient_id = b.patient_id AND a.id < b.id"
    " WHERE a.status NOT IN ('cancelled') AND b.status NOT IN ('cancelled')"
    " AND a.scheduled_start < b.scheduled_end AND b.scheduled_start < a.scheduled_end",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (overlaps); i++)
    g_assert_cmpint (sql_int (db, overlaps[i]), ==, 0);
  /* Nothing half-written: ended consults have their end; open intervals only in progress. */
  g_assert_cmpint (sql_int (db, "SELECT count(*) FROM consults WHERE status IN ('completed', 'cancelled', 'no-show')"
                                " AND (ended_at <= 0 OR end_reason IS NULL OR end_reason = '')"), ==, 0);
  g_assert_cmpint (sql_int (db, "SELECT count(*) FROM consults WHERE media_up_since != 0"
                                " AND status != 'in-progress'"), ==, 0);
  g_assert_cmpint (sql_int (db, "SELECT count(*) FROM consults WHERE status = 'cancelled' AND cancelled_at <= 0"),
                   ==, 0);
  g_assert_cmpint (sql_int (db, "SELECT count(*) FROM consults WHERE status IN ('in-progress', 'completed')"
                                " AND started_at <= 0"), ==, 0);
  gint64 rows = sql_int (db, "SELECT count(*) FROM consults");
  sqlite3_close (db);
  return rows;
}

/* Every acknowledged booking is in the store as acknowledged, with one audit row. */
static void
check_acked (const char *dir, Load *load, guint *n_cancelled_checked, guint *n_unacked_rows)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_test_store_open (dir);
  /* Every row: a limit of 0 would mean the first 10,000, and the bookers
   * (with their cancels and slot_taken refusals) write more than that. */
  g_autoptr (GPtrArray) audit = tv_store_audit_list (store, NULL, NULL, 0, 0, G_MAXINT, &error);
  g_assert_no_error (error);
  g_autoptr (GHashTable) booked_rows = g_hash_table_new (g_str_hash, g_str_equal);   /* id -> count */
  for (guint i = 0; i < audit->len; i++) {
    const TvAuditRow *r = g_ptr_array_index (audit, i);
    if (g_strcmp0 (r->action, "POST /api/v1/consults") == 0 && g_strcmp0 (r->outcome, "2xx") == 0)
      g_hash_table_insert (booked_rows, r->resource_id,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (booked_rows, r->resource_id)) + 1));
  }
  g_autoptr (GHashTable) acked_ids = g_hash_table_new (g_str_hash, g_str_equal);
  *n_cancelled_checked = 0;
  for (guint i = 0; i < load->acked->len; i++) {
    const Booking *b = g_ptr_array_index (load->acked, i);
    g_assert_nonnull (b->id);
    g_assert_false (g_hash_table_contains (acked_ids, b->id));   /* the server never handed out one id twice */
    g_hash_table_add (acked_ids, b->id);
    g_autoptr (TvConsult) c = NULL;
    if (!tv_store_consult_get (store, b->id, &c, &error))
      g_error ("acknowledged booking %s is missing after the crash: %s", b->id, error->message);
    g_assert_cmpstr (c->doctor_id, ==, b->doctor_id);
    g_assert_cmpstr (c->patient_id, ==, b->patient_id);
    g_assert_cmpint (c->scheduled_start, ==, b->start_s * G_USEC_PER_SEC);
    if (b->cancel_acked) {
      g_assert_cmpint (c->status, ==, TV_CONSULT_CANCELLED);
      (*n_cancelled_checked)++;
    } else if (!b->cancel_sent) {
      g_assert_cmpint (c->status, ==, TV_CONSULT_SCHEDULED);
    } else {
      g_assert_true (c->status == TV_CONSULT_SCHEDULED || c->status == TV_CONSULT_CANCELLED);
    }
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (booked_rows, b->id)), ==, 1);
  }
  /* Bookings committed but never acknowledged (the kill came between COMMIT
   * and the reply) are legitimate; they carry their audit row too. */
  *n_unacked_rows = 0;
  g_autoptr (GPtrArray) all = tv_store_consult_list (store, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < all->len; i++) {
    const TvConsult *c = g_ptr_array_index (all, i);
    if (c->doctor_id == NULL || g_hash_table_contains (acked_ids, c->id))
      continue;
    (*n_unacked_rows)++;
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (booked_rows, c->id)), ==, 1);
  }
  tv_test_assert_audit_chain (store);
}

/* ---- the test ------------------------------------------------------------------ */

static TvTestClient *
start_party (TvTestServer *srv, const char *name, const char *token, gboolean end_on_exit)
{
  const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--token", token, "--headless", "--test-media", "--ice-address", "127.0.0.1",
                         "--video-size", "320x240", end_on_exit ? "--end-on-exit" : NULL, NULL };
  return tv_test_client_start (name, args);
}

static void
test_kill9_bookings_and_consult (void)
{
  tv_test_watchdog_start (180, "kill -9 during bookings and a live consult");
  const char *dir = tv_test_tmpdir ();
  Load load = { 0 };
  g_mutex_init (&load.lock);
  load.acked = g_ptr_array_new_with_free_func ((GDestroyNotify) booking_free);
  for (int i = 0; i < N_DOCTORS; i++) {
    g_autofree char *u = g_strdup_printf ("dr.crash%d", i);
    load.doctors[i] = tv_test_create_user (dir, u, "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
  }
  for (int i = 0; i < N_PATIENTS; i++) {
    g_autofree char *u = g_strdup_printf ("pat.crash%d", i);
    load.patients[i] = tv_test_create_user (dir, u, "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  }
  g_autofree char *sched = tv_test_create_user (dir, "sam.desk", "Sam Scheduler", TV_ROLE_SCHEDULER, NULL, NULL);

  TvTestServer *srv = tv_test_server_start (dir, NULL);
  guint16 port = tv_test_server_get_port (srv);
  g_autofree char *port_s = g_strdup_printf ("%u", port);
  load.base_url = g_strdup_printf ("https://127.0.0.1:%u", port);
  load.ca = g_strdup (tv_test_server_get_cert_path (srv));
  for (int i = 0; i < N_DOCTORS; i++) {
    g_autofree char *u = g_strdup_printf ("dr.crash%d", i);
    tv_test_open_all_day (srv, u, load.doctors[i]);
  }
  load.token = tv_test_login (srv, "sam.desk", NULL);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) d2 = g_date_time_add_days (now, 2);
  g_autoptr (GDateTime) day0 = g_date_time_new_utc (g_date_time_get_year (d2), g_date_time_get_month (d2),
                                                    g_date_time_get_day_of_month (d2), 0, 0, 0);
  load.day0_s = g_date_time_to_unix (day0);

  /* The live consult. */
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
  TvTestClient *doctor = start_party (srv, "doctor", dtok, TRUE);
  TvTestClient *patient = start_party (srv, "patient", ptok, FALSE);
  g_assert_true (tv_test_client_wait_lines (doctor, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "first remote frame", 1, EVENT_TIMEOUT_MS));

  /* The front desk, while the call runs. */
  GThread *threads[BOOKERS];
  for (int i = 0; i < BOOKERS; i++)
    threads[i] = g_thread_new ("booker", booker, &load);
  Wait w = { dir, id, 0, 0, &load };
  g_assert_true (tv_test_wait_until (acked_enough, &w, EVENT_TIMEOUT_MS * 2));
  w.at_least = BEFORE_CRASH_US + TV_SERVER_CHECKPOINT_S * G_USEC_PER_SEC;   /* some of it checkpointed */
  g_assert_true (tv_test_wait_until (connected_at_least, &w, EVENT_TIMEOUT_MS));

  tv_test_server_kill (srv);
  gint64 killed_at = g_get_real_time ();
  g_atomic_int_set (&load.stop, 1);
  for (int i = 0; i < BOOKERS; i++)
    g_thread_join (threads[i]);
  g_autoptr (TvConsult) at_crash = tv_test_get_consult (dir, id);
  gint64 true_before = killed_at - at_crash->started_at;
  g_assert_cmpint (at_crash->media_up_since, !=, 0);
  g_test_message ("killed with %d bookings and %d cancels acknowledged (%d slots taken, %d requests in flight, "
                  "%d other) after %.2f s of call",
                  load.n_acked, load.n_cancel_acked, load.n_taken, load.n_transport, load.n_other,
                  true_before / 1e6);
  g_assert_cmpint (load.n_other, ==, 0);

  /* The clients retry on their own; restart on the same port and data. */
  g_assert_true (tv_test_client_wait_lines (doctor, "reconnecting attempt=2", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (patient, "reconnecting attempt=2", 1, EVENT_TIMEOUT_MS));
  const char *same_port[] = { "--port", port_s, NULL };
  TvTestServer *again = tv_test_server_start (dir, same_port);
  gint64 restarted_at = g_get_real_time ();

  /* The store as the restarted server sees it (bookings are not touched by the call). */
  gint64 consult_rows = check_store_integrity (dir);
  guint n_cancel_checked = 0, n_unacked = 0;
  check_acked (dir, &load, &n_cancel_checked, &n_unacked);
  g_test_message ("store after the crash: %u acknowledged bookings checked (%u acknowledged cancels), "
                  "%u committed but unacknowledged, %" G_GINT64_FORMAT " consult rows checked, integrity ok",
                  load.acked->len, n_cancel_checked, n_unacked, consult_rows);

  /* The consult goes on under the same id. */
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
  g_assert_cmpint (back->connected_us, <=, true_before + SLACK_US);
  w.at_least = back->connected_us + 2 * G_USEC_PER_SEC;
  g_assert_true (tv_test_wait_until (connected_at_least, &w, EVENT_TIMEOUT_MS));

  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EVENT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EVENT_TIMEOUT_MS);
  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);
  g_assert_true (tv_test_wait_until (consult_completed, &w, 10000));
  g_autoptr (TvConsult) rec = tv_test_get_consult (dir, id);
  gint64 expected = true_before + (rec->ended_at - media_back_at);
  g_test_message ("consult: connected %.2f s, expected %.2f s (%.2f before the crash + %.2f after), down %.2f s",
                  rec->connected_us / 1e6, expected / 1e6, true_before / 1e6,
                  (rec->ended_at - media_back_at) / 1e6, (restarted_at - killed_at) / 1e6);
  g_assert_cmpint (rec->connected_us, <=, expected + SLACK_US);
  /* At most one checkpoint period (plus the server's check cadence, which the
   * booking load can delay) of the call before the kill is lost. */
  g_assert_cmpint (rec->connected_us, >=, expected - (TV_SERVER_CHECKPOINT_S + 2) * G_USEC_PER_SEC);
  g_assert_cmpint (rec->connected_us, <=, rec->ended_at - rec->started_at - (restarted_at - killed_at));

  g_assert_cmpint (tv_test_server_stop (again, 10000), ==, 0);
  /* Once more after the clean stop: one row for the live consult, still consistent. */
  gint64 final_rows = check_store_integrity (dir);
  g_assert_cmpint (final_rows, ==, consult_rows);
  check_acked (dir, &load, &n_cancel_checked, &n_unacked);

  tv_test_server_free (again);
  tv_test_server_free (srv);
  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  for (int i = 0; i < N_DOCTORS; i++)
    g_free (load.doctors[i]);
  for (int i = 0; i < N_PATIENTS; i++)
    g_free (load.patients[i]);
  g_ptr_array_unref (load.acked);
  g_free (load.base_url);
  g_free (load.ca);
  g_free (load.token);
  g_mutex_clear (&load.lock);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  curl_global_init (CURL_GLOBAL_DEFAULT);
  tv_test_init (&argc, &argv);
  g_test_add_func ("/net/crash/kill9-bookings-and-consult", test_kill9_bookings_and_consult);
  int rc = g_test_run ();
  curl_global_cleanup ();
  return rc;
}
