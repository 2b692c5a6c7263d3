/* test-group-commit.c — bookings that arrive together share one COMMIT, and lose nothing for it.
 *
 * Why (issue 6, booking throughput): booking, cancelling and rescheduling
 * requests read in the same main-loop iteration run in ONE store write
 * transaction (tv_store_batch_begin), each in a savepoint, with every reply
 * held until the batch's COMMIT succeeded — one WAL sync for all instead of
 * one each. What must not change is checked here:
 *  - store: inside a batch a failing booking (slot taken) rolls back alone,
 *    its staged audit row with it; the others and their rows commit; reads
 *    in the batch (free slots, consult) see the batch's earlier changes; a
 *    COMMIT that fails ("fail:batch-commit") leaves none of the batch's
 *    changes nor rows, and the store works normally afterwards;
 *  - store: WAL checkpoints run on the store's checkpoint thread, and a
 *    database written while it checkpoints is whole after close and reopen;
 *  - store: the writer's own connection (tv_store_open_writer, the server's
 *    store writer thread): while its batch is open on another thread, reads
 *    on the first connection do not wait and see the last commit; a booking
 *    there waits for the COMMIT and loses the slot it took; the audit chain
 *    holds in commit order across both;
 *  - server, COMMIT fails: bookings sent at once get 201 (committed alone)
 *    or 500 "nothing was changed" — never a 201 for a booking that is not in
 *    the store — and every 500 leaves a 5xx audit row;
 *  - server, cancels and bookings of the same slots at once: one live
 *    consult per slot at most, every 201 is in the store with its 2xx row,
 *    every 409 slot_taken has its 4xx row, no request runs twice (a POST
 *    with an empty body is reported complete twice by lws), chain intact;
 *  - server, crash between a batch's changes and its COMMIT
 *    ("batch-before-commit", exit 99): every 201 a client received is in
 *    the store after the restart (an acknowledged booking is on disk).
 * Requests "at once" are a burst over warmed TLS connections
 * (tv-test-burst.h); whether several land in one iteration is up to the
 * scheduler, so the server cases repeat rounds until a batch of two or more
 * was seen (a 500 or a crash), under a watchdog. Synthetic people only;
 * traffic to 127.0.0.1 only.
 * Thread: main thread, and one writer thread in store/writer-connection.
 */
#define G_LOG_DOMAIN "test-group-commit"

#include <string.h>

#include <glib.h>

#include "server/tv-store-audit.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-users.h"
#include "tests/common/tv-test-burst.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define MAX_ROUNDS 15
#define BURST 12

/* ---- store ---------------------------------------------------------------- */

/* 2030-01-07 (a Monday) at @hour UTC: the booking day; NOW is a week before. */
static gint64
monday_at (int hour)
{
  g_autoptr (GDateTime) d = g_date_time_new_utc (2030, 1, 7, hour, 0, 0);
  return g_date_time_to_unix (d) * G_USEC_PER_SEC;
}
#define NOW (monday_at (12) - (gint64) 6 * 24 * 3600 * G_USEC_PER_SEC)

static char *
user_ok (TvStore *store, const char *username, guint roles, const char *tz, guint slot)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvUser) u = NULL;
  g_assert_true (tv_store_user_create (store, username, "Synthetic Person", roles, tz, slot, "$test$not-a-real-hash",
                                       NOW, &u, &error));
  g_assert_no_error (error);
  return g_strdup (u->id);
}

/* Rows of the audit trail with @action (and @outcome unless NULL), as committed. */
static gint64
audit_rows (const char *dir, const char *action, const char *outcome)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM audit WHERE action = '%s'"
                                          " AND (%d OR outcome = '%s')", action, outcome == NULL,
                                          outcome != NULL ? outcome : "");
  return tv_test_store_int (dir, sql);
}

/* Books @patient at @start with a staged row @action; returns the consult id or NULL with @error. */
static char *
book (TvStore *store, const char *doctor, const char *patient, gint64 start, const char *action, GError **error)
{
  tv_store_audit_stage_local (store, action, "consult", NULL, NULL);
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *d = NULL, *p = NULL;
  gboolean ok = tv_store_consult_book (store, doctor, patient, start, NULL, NOW, &c, &d, &p, error);
  gboolean committed = tv_store_audit_unstage (store, NULL);
  g_assert_true (ok == committed);   /* the row is in exactly when the change is */
  return ok ? g_strdup (c->id) : NULL;
}

static gboolean
slot_is_free (TvStore *store, const char *doctor, gint64 start)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) slots = tv_store_free_slots (store, doctor, start, start + 60 * G_USEC_PER_SEC, NOW, &error);
  g_assert_no_error (error);
  return slots->len > 0;
}

static void
test_store_savepoints (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  TvStore *store = tv_test_store_open (dir);
  g_autofree char *doctor = user_ok (store, "dr.batch", TV_ROLE_DOCTOR, "UTC", 15);
  g_autofree char *p1 = user_ok (store, "pat.one", TV_ROLE_PATIENT, NULL, 0);
  g_autofree char *p2 = user_ok (store, "pat.two", TV_ROLE_PATIENT, NULL, 0);
  g_autofree char *p3 = user_ok (store, "pat.three", TV_ROLE_PATIENT, NULL, 0);
  TvWeeklyRange mon = { 1, 9 * 60, 12 * 60 };
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_availability_set (store, doctor, &mon, 1, NOW, &error));
  g_assert_no_error (error);
  gint64 nine = monday_at (9), ten = monday_at (10);

  g_assert_true (tv_store_batch_begin (store, &error));
  g_assert_no_error (error);
  g_assert_true (tv_store_in_batch (store));
  g_autofree char *a = book (store, doctor, p1, nine, "batch.a", &error);
  g_assert_no_error (error);
  g_assert_nonnull (a);
  g_assert_false (slot_is_free (store, doctor, nine));   /* a read in the batch sees it */
  g_autofree char *b = book (store, doctor, p2, nine, "batch.b", &error);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_SLOT_TAKEN);
  g_assert_null (b);
  g_clear_error (&error);
  g_autofree char *c = book (store, doctor, p3, ten, "batch.c", &error);
  g_assert_no_error (error);
  /* Cancelled and booked again within the same batch. */
  g_assert_true (tv_store_consult_cancel (store, a, "cancelled-by-scheduler", NOW, &error));
  g_assert_no_error (error);
  g_assert_true (slot_is_free (store, doctor, nine));
  g_autofree char *d = book (store, doctor, p2, nine, "batch.d", &error);
  g_assert_no_error (error);
  g_assert_true (tv_store_batch_commit (store, &error));
  g_assert_no_error (error);
  g_assert_false (tv_store_in_batch (store));
  tv_store_close (store);

  store = tv_test_store_open (dir);   /* what is on disk */
  g_autoptr (TvConsult) ca = NULL, cc = NULL, cd = NULL;
  g_assert_true (tv_store_consult_get (store, a, &ca, NULL));
  g_assert_cmpint (ca->status, ==, TV_CONSULT_CANCELLED);
  g_assert_true (tv_store_consult_get (store, c, &cc, NULL));
  g_assert_true (tv_store_consult_get (store, d, &cd, NULL));
  g_assert_cmpint (cd->status, ==, TV_CONSULT_SCHEDULED);
  g_assert_cmpint (audit_rows (dir, "batch.a", NULL), ==, 1);
  g_assert_cmpint (audit_rows (dir, "batch.b", NULL), ==, 0);
  g_assert_cmpint (audit_rows (dir, "batch.c", NULL), ==, 1);
  g_assert_cmpint (audit_rows (dir, "batch.d", NULL), ==, 1);
  tv_test_assert_audit_chain (store);
  tv_store_close (store);

  /* A COMMIT that fails: nothing of the batch, and the store goes on. */
  g_setenv ("TV_STORE_FAULT", "fail:batch-commit", TRUE);
  store = tv_test_store_open (dir);
  g_unsetenv ("TV_STORE_FAULT");
  g_autoptr (GPtrArray) before = tv_store_consult_list (store, NULL);
  gint64 eleven = monday_at (11);
  g_assert_true (tv_store_batch_begin (store, &error));
  g_autofree char *e = book (store, doctor, p1, eleven, "batch.e", &error);
  g_assert_nonnull (e);
  g_assert_false (tv_store_batch_commit (store, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_clear_error (&error);
  g_assert_false (tv_store_in_batch (store));
  g_autoptr (GPtrArray) after = tv_store_consult_list (store, NULL);
  g_assert_cmpuint (after->len, ==, before->len);
  g_assert_cmpint (audit_rows (dir, "batch.e", NULL), ==, 0);
  g_assert_true (slot_is_free (store, doctor, eleven));
  g_autofree char *f = book (store, doctor, p1, eleven, "alone.f", &error);   /* no batch: its own COMMIT */
  g_assert_no_error (error);
  g_assert_nonnull (f);
  g_assert_cmpint (audit_rows (dir, "alone.f", NULL), ==, 1);
  tv_test_assert_audit_chain (store);
  tv_store_close (store);
  tv_test_watchdog_stop ();
}

/* Runs one booking in a batch of its own; returns the consult id or NULL with @error. */
static char *
book_in_batch (TvStore *store, const char *doctor, const char *patient, gint64 start, const char *action,
               GError **error)
{
  g_autoptr (GError) local = NULL;
  g_assert_true (tv_store_batch_begin (store, &local));
  g_assert_no_error (local);
  char *id = book (store, doctor, patient, start, action, error);
  g_assert_true (tv_store_batch_commit (store, &local));
  g_assert_no_error (local);
  return id;
}

/* What a batch keeps from one booking to the next (the doctor, the patient,
 * the doctor's schedule: tv_store_private_lookup_*) never outlives a change of
 * it, whether made by another connection between batches or by this one. */
static void
test_store_lookups (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  TvStore *store = tv_test_store_open (dir);
  TvStore *other = tv_test_store_open (dir);   /* as televisitctl or the main loop's connection */
  g_autofree char *doctor = user_ok (store, "dr.kept", TV_ROLE_DOCTOR, "UTC", 15);
  g_autofree char *p1 = user_ok (store, "pat.kept.one", TV_ROLE_PATIENT, NULL, 0);
  g_autofree char *p2 = user_ok (store, "pat.kept.two", TV_ROLE_PATIENT, NULL, 0);
  TvWeeklyRange mon = { 1, 9 * 60, 12 * 60 };
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_availability_set (store, doctor, &mon, 1, NOW, &error));
  g_assert_no_error (error);

  g_autofree char *a = book_in_batch (store, doctor, p1, monday_at (9), "kept.a", &error);
  g_assert_no_error (error);
  /* Disabled by another connection: the next batch no longer books with them. */
  g_assert_true (tv_store_user_set_disabled (other, doctor, TRUE, NOW, &error));
  g_assert_no_error (error);
  g_autofree char *b = book_in_batch (store, doctor, p2, monday_at (10), "kept.b", &error);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_assert_null (b);
  g_clear_error (&error);
  g_assert_true (tv_store_user_set_disabled (other, doctor, FALSE, NOW, &error));
  g_assert_no_error (error);
  g_autofree char *c = book_in_batch (store, doctor, p2, monday_at (10), "kept.c", &error);
  g_assert_no_error (error);
  g_assert_nonnull (c);
  /* Hours changed by another connection: 11:00 is outside them now. */
  TvWeeklyRange short_day = { 1, 9 * 60, 11 * 60 };
  g_assert_true (tv_store_availability_set (other, doctor, &short_day, 1, NOW, &error));
  g_assert_no_error (error);
  g_autofree char *d = book_in_batch (store, doctor, p1, monday_at (11), "kept.d", &error);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  /* Hours changed by this connection, outside a batch: 11:00 is inside again. */
  g_assert_true (tv_store_availability_set (store, doctor, &mon, 1, NOW, &error));
  g_assert_no_error (error);
  g_autofree char *e = book_in_batch (store, doctor, p1, monday_at (11), "kept.e", &error);
  g_assert_no_error (error);
  g_assert_nonnull (e);
  /* The patient just booked, disabled by this connection inside the next batch: its next booking is refused. */
  gint64 quarter = 15 * 60 * G_USEC_PER_SEC;
  g_assert_true (tv_store_batch_begin (store, &error));
  g_assert_true (tv_store_user_set_disabled (store, p1, TRUE, NOW, &error));
  g_assert_no_error (error);
  g_autofree char *f = book (store, doctor, p1, monday_at (11) + 2 * quarter, "kept.f", &error);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (tv_store_batch_commit (store, &error));
  g_assert_no_error (error);
  /* The schedule just used, shortened by this connection between batches: 11:45 is outside it. */
  g_autofree char *g = book_in_batch (store, doctor, p2, monday_at (11) + quarter, "kept.g", &error);
  g_assert_no_error (error);
  g_assert_nonnull (g);
  g_assert_true (tv_store_availability_set (store, doctor, &short_day, 1, NOW, &error));
  g_assert_no_error (error);
  g_autofree char *h = book_in_batch (store, doctor, p2, monday_at (11) + 3 * quarter, "kept.h", &error);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  const char *const made[] = { "kept.a", "kept.c", "kept.e", "kept.g" }, *const refused[] = { "kept.b", "kept.d",
                                                                                            "kept.f", "kept.h" };
  for (guint i = 0; i < G_N_ELEMENTS (made); i++) {
    g_assert_cmpint (audit_rows (dir, made[i], NULL), ==, 1);
    g_assert_cmpint (audit_rows (dir, refused[i], NULL), ==, 0);
  }
  tv_store_close (other);
  tv_store_close (store);
  tv_test_watchdog_stop ();
}

/* ---- server ----------------------------------------------------------------- */

typedef struct {
  char *dir;
  char *doctor;
  char *patient;
} Clinic;

/* A doctor open all day (UTC), a scheduler and a patient in a fresh data folder. */
static void
clinic_init (Clinic *c)
{
  c->dir = g_strdup (tv_test_tmpdir ());
  TvTestServer *server = tv_test_bookable_clinic (c->dir, "gc", &c->doctor, &c->patient);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);
}

static void
clinic_clear (Clinic *c)
{
  g_free (c->dir);
  g_free (c->doctor);
  g_free (c->patient);
}

/* Body booking the patient at HH:00 UTC, @days from today. */
static char *
book_body (const Clinic *c, guint days, guint hour)
{
  return tv_test_booking_body (c->doctor, c->patient, days, hour);
}

/* Sends BURST bookings at once, one per hour of the day @round + 2 days ahead;
 * with @tolerate a dropped connection is status 0. Returns: (transfer full) the run burst. */
static TvTestBurst *
burst_bookings (TvTestServer *server, const Clinic *c, const char *token, guint round, gboolean tolerate)
{
  TvTestBurst *burst = tv_test_burst_new (server);
  tv_test_burst_set_tolerate_transport_errors (burst, tolerate);
  for (guint i = 0; i < BURST; i++) {
    g_autofree char *body = book_body (c, 2 + round, i);
    tv_test_burst_add (burst, "POST", "/api/v1/consults", token, body);
  }
  tv_test_burst_run (burst, "/api/v1/me");
  return burst;
}

static const char *
reply_error_code (JsonNode *reply)
{
  return reply != NULL ? tv_test_http_error_code (reply) : NULL;
}

static gboolean
consult_exists (const char *dir, const char *id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM consults WHERE id = '%s'", id);
  return tv_test_store_int (dir, sql) == 1;
}

/* WAL checkpoints run on the store's checkpoint thread (tv-store-checkpoint.c),
 * not inside a COMMIT: write until the WAL passes its checkpoint size, wait for
 * the thread's checkpoint, keep writing while it may run, and every row is
 * there, intact, after the store is closed (thread joined) and reopened. */
/* The store writer's connection (tv_store_open_writer): a batch open on
 * another thread does not make this thread's reads wait (WAL: they see the
 * last commit), a write here waits for the batch's COMMIT and then decides
 * against what it committed (slot taken), and the audit chain stays in commit
 * order across both connections. */
typedef struct {
  TvStore *writer;
  char *doctor, *patient;
  char *booked;          /* the consult the writer booked (set before in_batch) */
  GMutex lock;
  GCond cond;
  gboolean in_batch;     /* under lock: the batch holds its booking, uncommitted */
  gboolean go;           /* under lock: commit now */
} WriterCase;

static gpointer
writer_case_thread (gpointer data)
{
  WriterCase *w = data;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_batch_begin (w->writer, &error));
  g_assert_no_error (error);
  w->booked = book (w->writer, w->doctor, w->patient, monday_at (9), "writer.a", &error);
  g_assert_no_error (error);
  g_mutex_lock (&w->lock);
  w->in_batch = TRUE;
  g_cond_broadcast (&w->cond);
  while (!w->go)
    g_cond_wait (&w->cond, &w->lock);
  g_mutex_unlock (&w->lock);
  g_assert_true (tv_store_batch_commit (w->writer, &error));
  g_assert_no_error (error);
  return NULL;
}

static void
test_store_writer_connection (void)
{
  tv_test_watchdog_start (30, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  TvStore *store = tv_test_store_open (dir);
  g_autoptr (GError) error = NULL;

  TvStore *mem = tv_store_open (":memory:", &error);
  g_assert_no_error (error);
  g_assert_null (tv_store_open_writer (mem, &error));   /* no file to share */
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_clear_error (&error);
  tv_store_close (mem);

  WriterCase w = { 0 };
  g_mutex_init (&w.lock);
  g_cond_init (&w.cond);
  w.doctor = user_ok (store, "dr.writer", TV_ROLE_DOCTOR, "UTC", 15);
  w.patient = user_ok (store, "pat.writer", TV_ROLE_PATIENT, NULL, 0);
  g_autofree char *p2 = user_ok (store, "pat.main", TV_ROLE_PATIENT, NULL, 0);
  TvWeeklyRange mon = { 1, 9 * 60, 12 * 60 };
  g_assert_true (tv_store_availability_set (store, w.doctor, &mon, 1, NOW, &error));
  g_assert_no_error (error);
  w.writer = tv_store_open_writer (store, &error);
  g_assert_no_error (error);
  g_assert_nonnull (w.writer);

  GThread *t = g_thread_new ("test-writer", writer_case_thread, &w);
  g_mutex_lock (&w.lock);
  while (!w.in_batch)
    g_cond_wait (&w.cond, &w.lock);
  g_mutex_unlock (&w.lock);
  /* The batch holds the write lock: reads here go on, and see the last commit. */
  g_autoptr (TvConsult) none = NULL;
  g_assert_false (tv_store_consult_get (store, w.booked, &none, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (slot_is_free (store, w.doctor, monday_at (9)));
  g_mutex_lock (&w.lock);
  w.go = TRUE;
  g_cond_broadcast (&w.cond);
  g_mutex_unlock (&w.lock);
  /* A write here waits for the batch's COMMIT (busy timeout), then loses the slot. */
  g_autofree char *lost = book (store, w.doctor, p2, monday_at (9), "main.lost", &error);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_SLOT_TAKEN);
  g_assert_null (lost);
  g_clear_error (&error);
  g_autofree char *won = book (store, w.doctor, p2, monday_at (10), "main.b", &error);
  g_assert_no_error (error);
  g_thread_join (t);

  g_autoptr (TvConsult) c = NULL;
  g_assert_true (tv_store_consult_get (store, w.booked, &c, &error));
  g_assert_cmpint (c->status, ==, TV_CONSULT_SCHEDULED);
  g_assert_cmpint (audit_rows (dir, "writer.a", NULL), ==, 1);
  g_assert_cmpint (audit_rows (dir, "main.lost", NULL), ==, 0);
  g_assert_cmpint (audit_rows (dir, "main.b", NULL), ==, 1);
  g_assert_cmpint (tv_test_store_int (dir, "SELECT (SELECT seq FROM audit WHERE action = 'main.b')"
                                           " > (SELECT seq FROM audit WHERE action = 'writer.a')"), ==, 1);
  tv_test_assert_audit_chain (store);
  tv_store_close (w.writer);
  tv_store_close (store);
  g_free (w.doctor);
  g_free (w.patient);
  g_free (w.booked);
  g_mutex_clear (&w.lock);
  g_cond_clear (&w.cond);
  tv_test_watchdog_stop ();
}

static void
test_store_checkpoint_thread (void)
{
  tv_test_watchdog_start (60, g_test_get_path ());
  const char *dir = tv_test_tmpdir ();
  TvStore *store = tv_test_store_open (dir);
  g_autoptr (GError) error = NULL;
  gint64 made = 0;
  for (int batch = 0; batch < 400 && tv_store_wal_checkpoints (store) == 0; batch++) {
    g_assert_true (tv_store_batch_begin (store, &error));
    for (int i = 0; i < 200; i++, made++) {
      g_autoptr (TvConsult) c = NULL;
      g_autofree char *d = NULL, *p = NULL;
      g_assert_true (tv_store_consult_create (store, "Dr. Test Doctor", "Pat Synthetic", monday_at (9) + made,
                                              monday_at (20), NOW, &c, &d, &p, &error));
      g_assert_no_error (error);
    }
    g_assert_true (tv_store_batch_commit (store, &error));
    g_assert_no_error (error);
  }
  g_test_message ("%" G_GINT64_FORMAT " consults written", made);
  /* the thread was woken by the commit that crossed the size: wait for it */
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  while (tv_store_wal_checkpoints (store) == 0 && g_get_monotonic_time () < deadline)
    g_usleep (10 * 1000);
  g_assert_cmpint (tv_store_wal_checkpoints (store), >, 0);
  tv_store_close (store);

  g_autofree char *count = g_strdup_printf ("%" G_GINT64_FORMAT, made);
  g_autofree char *got = g_strdup_printf ("%" G_GINT64_FORMAT, tv_test_store_int (dir, "SELECT count(*) FROM consults"));
  g_assert_cmpstr (got, ==, count);
  g_assert_cmpint (tv_test_store_int (dir, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"),
                   ==, 0);
  store = tv_test_store_open (dir);
  g_autoptr (GPtrArray) all = tv_store_consult_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpint ((gint64) all->len, ==, made);
  tv_store_close (store);
  tv_test_watchdog_stop ();
}

static void
test_server_commit_fails (void)
{
  tv_test_watchdog_start (240, g_test_get_path ());
  Clinic c;
  clinic_init (&c);
  const char *env[] = { "TV_STORE_FAULT=fail:batch-commit", NULL };
  TvTestServer *server = tv_test_server_start_full (c.dir, NULL, env);
  g_autofree char *token = tv_test_login (server, "desk.gc", NULL);
  guint created = 0, failed = 0, round = 0;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (round = 0; round < MAX_ROUNDS && failed < 2; round++) {
    g_autoptr (TvTestBurst) burst = burst_bookings (server, &c, token, round, FALSE);
    for (guint i = 0; i < BURST; i++) {
      g_autoptr (JsonNode) reply = tv_test_burst_reply (burst, i);
      guint status = tv_test_burst_status (burst, i);
      if (status == 201) {
        created++;
        g_ptr_array_add (ids, g_strdup (tv_test_json_str (tv_test_http_object (reply, "consult"), "id")));
      } else if (status == 500 && g_strcmp0 (reply_error_code (reply), "internal") == 0) {
        failed++;
      } else {
        g_error ("round %u: expected 201 or 500 internal, got %u", round, status);
      }
    }
  }
  g_test_message ("%u round(s) of %u bookings at once: %u x 201 (alone), %u x 500 (in a failed batch)", round,
                  BURST, created, failed);
  g_assert_cmpuint (failed, >=, 2);   /* a batch of two or more formed and its COMMIT failed */
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);

  g_assert_cmpint (tv_test_store_int (c.dir, "SELECT count(*) FROM consults"), ==, created);
  for (guint i = 0; i < ids->len; i++)
    g_assert_true (consult_exists (c.dir, g_ptr_array_index (ids, i)));
  g_assert_cmpint (audit_rows (c.dir, "POST /api/v1/consults", "2xx"), ==, created);
  g_assert_cmpint (audit_rows (c.dir, "POST /api/v1/consults", "5xx"), ==, failed);
  {
    g_autoptr (TvStore) store = tv_test_store_open (c.dir);
    tv_test_assert_audit_chain (store);
  }
  clinic_clear (&c);
  tv_test_watchdog_stop ();
}

static void
test_server_cancel_and_book (void)
{
  tv_test_watchdog_start (240, g_test_get_path ());
  Clinic c;
  clinic_init (&c);
  TvTestServer *server = tv_test_server_start (c.dir, NULL);
  g_autofree char *token = tv_test_login (server, "desk.gc", NULL);
  enum { SLOTS = 4, PER_SLOT = 3 };
  guint created = 0, taken = 0, cancelled = 0;
  for (guint round = 0; round < 3; round++) {
    /* One consult per slot, then at once: its cancel and three new bookings of the slot. */
    char *held[SLOTS];
    for (guint s = 0; s < SLOTS; s++) {
      g_autofree char *body = book_body (&c, 2 + round, s);
      g_autoptr (JsonNode) reply = NULL;
      guint status = 0;
      tv_test_http (server, "POST", "/api/v1/consults", token, body, &status, &reply);
      g_assert_cmpuint (status, ==, 201);
      created++;
      held[s] = g_strdup (tv_test_json_str (tv_test_http_object (reply, "consult"), "id"));
    }
    g_autoptr (TvTestBurst) burst = tv_test_burst_new (server);
    for (guint s = 0; s < SLOTS; s++) {
      g_autofree char *cancel = g_strdup_printf ("/api/v1/consults/%s/cancel", held[s]);
      tv_test_burst_add (burst, "POST", cancel, token, NULL);   /* empty body */
      for (guint k = 0; k < PER_SLOT; k++) {
        g_autofree char *body = book_body (&c, 2 + round, s);
        tv_test_burst_add (burst, "POST", "/api/v1/consults", token, body);
      }
    }
    tv_test_burst_run (burst, "/api/v1/me");
    for (guint s = 0; s < SLOTS; s++) {
      guint base = s * (PER_SLOT + 1);
      g_assert_cmpuint (tv_test_burst_status (burst, base), ==, 200);
      cancelled++;
      guint wins = 0;
      for (guint k = 1; k <= PER_SLOT; k++) {
        g_autoptr (JsonNode) reply = tv_test_burst_reply (burst, base + k);
        guint status = tv_test_burst_status (burst, base + k);
        if (status == 201) {
          wins++;
          g_assert_true (consult_exists (c.dir, tv_test_json_str (tv_test_http_object (reply, "consult"), "id")));
        } else if (status != 409 || g_strcmp0 (reply_error_code (reply), "slot_taken") != 0) {
          g_error ("slot %u: expected 201 or 409 slot_taken, got %u", s, status);
        }
      }
      g_assert_cmpuint (wins, <=, 1);
      created += wins;
      taken += PER_SLOT - wins;
      g_free (held[s]);
    }
  }
  g_test_message ("%u consults booked, %u cancelled, %u x 409 slot_taken", created, cancelled, taken);
  tv_test_server_stop_replied_once (server, 10000);

  g_autofree char *per_slot = g_strdup_printf ("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM consults"
                                               " WHERE doctor_id = '%s' AND status <> 'cancelled'"
                                               " GROUP BY scheduled_start)", c.doctor);
  g_assert_cmpint (tv_test_store_int (c.dir, per_slot), <=, 1);
  g_assert_cmpint (tv_test_store_int (c.dir, "SELECT count(*) FROM consults"), ==, created);
  g_assert_cmpint (audit_rows (c.dir, "POST /api/v1/consults", "2xx"), ==, created);
  g_assert_cmpint (audit_rows (c.dir, "POST /api/v1/consults", "4xx"), ==, taken);
  g_assert_cmpint (audit_rows (c.dir, "POST /api/v1/consults/{id}/cancel", "2xx"), ==, cancelled);
  g_assert_cmpint (audit_rows (c.dir, "POST /api/v1/consults/{id}/cancel", "4xx"), ==, 0);
  {
    g_autoptr (TvStore) store = tv_test_store_open (c.dir);
    tv_test_assert_audit_chain (store);
  }
  clinic_clear (&c);
  tv_test_watchdog_stop ();
}

static void
test_server_crash_before_commit (void)
{
  tv_test_watchdog_start (240, g_test_get_path ());
  Clinic c;
  clinic_init (&c);
  const char *env[] = { "TV_STORE_FAULT=batch-before-commit", NULL };
  TvTestServer *server = tv_test_server_start_full (c.dir, NULL, env);
  g_autofree char *token = tv_test_login (server, "desk.gc", NULL);
  g_autoptr (GPtrArray) acked = g_ptr_array_new_with_free_func (g_free);
  guint round, lost = 0;
  for (round = 0; round < MAX_ROUNDS && lost == 0; round++) {
    g_autoptr (TvTestBurst) burst = burst_bookings (server, &c, token, round, TRUE);
    for (guint i = 0; i < BURST; i++) {
      g_autoptr (JsonNode) reply = tv_test_burst_reply (burst, i);
      guint status = tv_test_burst_status (burst, i);
      if (status == 201)
        g_ptr_array_add (acked, g_strdup (tv_test_json_str (tv_test_http_object (reply, "consult"), "id")));
      else if (status == 0)
        lost++;   /* no reply: the server died */
      else
        g_error ("round %u: expected 201 or no reply, got %u", round, status);
    }
  }
  g_test_message ("%u round(s): %u bookings acknowledged, %u without a reply when the batch crashed", round,
                  acked->len, lost);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 99);   /* it died inside a batch */
  g_assert_cmpuint (lost, >=, 2);
  tv_test_server_free (server);
  for (guint i = 0; i < acked->len; i++)
    g_assert_true (consult_exists (c.dir, g_ptr_array_index (acked, i)));
  {
    g_autoptr (TvStore) store = tv_test_store_open (c.dir);
    tv_test_assert_audit_chain (store);
  }
  clinic_clear (&c);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/group-commit/store/savepoints", test_store_savepoints);
  g_test_add_func ("/group-commit/store/checkpoint-thread", test_store_checkpoint_thread);
  g_test_add_func ("/group-commit/store/writer-connection", test_store_writer_connection);
  g_test_add_func ("/group-commit/store/lookups", test_store_lookups);
  g_test_add_func ("/group-commit/server/commit-fails", test_server_commit_fails);
  g_test_add_func ("/group-commit/server/cancel-and-book", test_server_cancel_and_book);
  g_test_add_func ("/group-commit/server/crash-before-commit", test_server_crash_before_commit);
  return g_test_run ();
}
