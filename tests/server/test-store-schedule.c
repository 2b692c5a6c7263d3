/* test-store-schedule.c — scheduling in the store (server/tv-store-schedule.h).
 *
 * What: the v3 migration of a v1 database with consults, tokens and
 * participation rows in it (nothing lost, nothing cascaded away); the v9
 * migration of a database the v8 code wrote (rows, integrity, foreign keys,
 * audit chain, the bounded overlap triggers; refused when a booked consult is
 * longer than the bound); the v10 migration of a v9 database with rows
 * (reminders_due of open reminders only, still used by its readers); availability
 * and exceptions; free slots with booked consults removed; booking with every
 * refusal (nothing written on any of them); the database constraints on their
 * own (raw SQL that tries to double-book is refused); threads with their own
 * connections racing for the same slots (one winner per slot); cancel,
 * reschedule (same id, new patient token, old one revoked) and no-show, each
 * with its refusals; and a crash inside a booking (child process _exit()s
 * mid-transaction: no half booking). The store takes "now" as an argument, so
 * a synthetic clock (2030) makes every case deterministic.
 * Thread: main thread (plus the racing threads of one test); alarm() watchdog.
 */
#define G_LOG_DOMAIN "test-store-schedule"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "server/tv-schedule.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-users.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-schema.h"
#include "tests/server/store-v8-dump.h"

#define WATCHDOG_S 60
#define MIN_US (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
#define HOUR_US (60 * MIN_US)

typedef struct {
  char *dir;
  char *path;
  TvStore *store;
  char *doctor;     /* Europe/Berlin, 30-minute slots, Mon-Fri 09:00-12:00 */
  char *doctor2;    /* UTC, 15-minute slots, Mon 08:00-10:00 */
  char *patient;
  char *patient2;
  char *scheduler;
} Fixture;

/* The synthetic clock: Monday 2030-01-07 is the booking day. */
static gint64
t (const char *rfc3339)
{
  gint64 us = 0;
  g_assert_true (tv_schedule_parse_rfc3339 (rfc3339, "t", &us, NULL));
  return us;
}
#define NOW t ("2030-01-01T12:00:00Z")

static char *
user_ok (TvStore *store, const char *username, const char *display, guint roles, const char *tz, guint slot)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvUser) u = NULL;
  g_assert_true (tv_store_user_create (store, username, display, roles, tz, slot, "$test$not-a-real-hash",
                                       NOW, &u, &error));
  g_assert_no_error (error);
  return g_strdup (u->id);
}

static void
set_hours (TvStore *store, const char *doctor, const TvWeeklyRange *r, gsize n)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_availability_set (store, doctor, r, n, NOW, &error));
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  alarm (WATCHDOG_S);   /* default SIGALRM action kills a stuck test: prove reports it */
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("tv-store-schedule-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "televisit.db", NULL);
  if (data != NULL)
    return;   /* the test opens the store itself */
  f->store = tv_store_open (f->path, &error);
  g_assert_no_error (error);
  f->doctor = user_ok (f->store, "dr.test", "Dr. Test Doctor", TV_ROLE_DOCTOR, "Europe/Berlin", 30);
  f->doctor2 = user_ok (f->store, "dr.other", "Dr. Other Test", TV_ROLE_DOCTOR, "UTC", 15);
  f->patient = user_ok (f->store, "pat.synthetic", "Pat Synthetic", TV_ROLE_PATIENT, NULL, 0);
  f->patient2 = user_ok (f->store, "sam.synthetic", "Sam Synthetic", TV_ROLE_PATIENT, NULL, 0);
  f->scheduler = user_ok (f->store, "front.desk", "Front Desk", TV_ROLE_SCHEDULER, NULL, 0);
  TvWeeklyRange week[5];
  for (guint d = 0; d < 5; d++)
    week[d] = (TvWeeklyRange) { d + 1, 9 * 60, 12 * 60 };
  set_hours (f->store, f->doctor, week, 5);
  TvWeeklyRange mon = { 1, 8 * 60, 10 * 60 };
  set_hours (f->store, f->doctor2, &mon, 1);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  tv_store_close (f->store);
  g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *p = g_build_filename (f->dir, name, NULL);
    g_remove (p);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
  g_free (f->doctor);
  g_free (f->doctor2);
  g_free (f->patient);
  g_free (f->patient2);
  g_free (f->scheduler);
  alarm (0);
}

/* ---- raw access to the file, to look behind the API ---------------------- */

static gint64
raw_int (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
  return v;
}

/* Runs @sql with foreign keys on; returns the extended result code. */
static int
raw_exec (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), ==, SQLITE_OK);
  sqlite3_extended_result_codes (db, 1);
  sqlite3_busy_timeout (db, 5000);
  sqlite3_exec (db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);
  sqlite3_close (db);
  return rc;
}

static gint64
count_consults (Fixture *f)
{
  return raw_int (f->path, "SELECT count(*) FROM consults");
}

static gint64
count_tokens (Fixture *f)
{
  return raw_int (f->path, "SELECT count(*) FROM join_tokens");
}

/* ---- booking helpers ----------------------------------------------------- */

typedef struct {
  TvConsult *consult;
  char *dtok;
  char *ptok;
} Booking;

static void
booking_clear (Booking *b)
{
  g_clear_pointer (&b->consult, tv_consult_free);
  g_clear_pointer (&b->dtok, g_free);
  g_clear_pointer (&b->ptok, g_free);
}

static void
book_ok (Fixture *f, const char *doctor, const char *patient, const char *start, Booking *b)
{
  g_autoptr (GError) error = NULL;
  memset (b, 0, sizeof *b);
  g_assert_true (tv_store_consult_book (f->store, doctor, patient, t (start), f->scheduler, NOW, &b->consult,
                                        &b->dtok, &b->ptok, &error));
  g_assert_no_error (error);
}

/* Booking must fail with @code and a message containing @needle, and write nothing. */
static void
book_refused (Fixture *f, const char *doctor, const char *patient, gint64 start, gint64 now, int code,
              const char *needle)
{
  gint64 consults = count_consults (f), tokens = count_tokens (f);
  g_autoptr (GError) error = NULL;
  TvConsult *c = NULL;
  char *d = NULL, *p = NULL;
  g_assert_false (tv_store_consult_book (f->store, doctor, patient, start, NULL, now, &c, &d, &p, &error));
  g_assert_error (error, TV_STORE_ERROR, code);
  if (strstr (error->message, needle) == NULL)
    g_error ("message \"%s\" does not mention \"%s\"", error->message, needle);
  g_assert_null (c);
  g_assert_null (d);
  g_assert_null (p);
  g_assert_cmpint (count_consults (f), ==, consults);
  g_assert_cmpint (count_tokens (f), ==, tokens);
}

static void
token_role (Fixture *f, const char *token, gint64 now, const char *consult_id, TvSigRole role)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  TvSigRole got;
  g_assert_true (tv_store_token_lookup (f->store, token, now, &id, &got, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, consult_id);
  g_assert_cmpint (got, ==, role);
}

static void
token_refused (Fixture *f, const char *token, gint64 now, int code)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  TvSigRole got;
  g_assert_false (tv_store_token_lookup (f->store, token, now, &id, &got, &error));
  g_assert_error (error, TV_STORE_ERROR, code);
}

/* ------------------------------------------------------------------------ */
/* Migration                                                                  */

/* The v1 schema as released (a database written by the first version). */
static const char V1_SCHEMA_AND_DATA[] =
  "CREATE TABLE consults (id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),"
  " doctor TEXT NOT NULL, patient TEXT NOT NULL, scheduled_start INTEGER NOT NULL CHECK (scheduled_start > 0),"
  " status TEXT NOT NULL CHECK (status IN ('scheduled', 'in-progress', 'completed', 'cancelled')),"
  " created_at INTEGER NOT NULL CHECK (created_at > 0), started_at INTEGER NOT NULL DEFAULT 0,"
  " ended_at INTEGER NOT NULL DEFAULT 0, connected_us INTEGER NOT NULL DEFAULT 0,"
  " media_up_since INTEGER NOT NULL DEFAULT 0, end_reason TEXT,"
  " CHECK ((status IN ('completed', 'cancelled')) = (end_reason IS NOT NULL)),"
  " CHECK (media_up_since = 0 OR status = 'in-progress')) STRICT;"
  "CREATE INDEX consults_by_start ON consults (scheduled_start);"
  "CREATE TABLE join_tokens (sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),"
  " consult_id TEXT NOT NULL REFERENCES consults (id) ON DELETE CASCADE,"
  " role TEXT NOT NULL CHECK (role IN ('doctor', 'patient')), expires_at INTEGER NOT NULL,"
  " created_at INTEGER NOT NULL, UNIQUE (consult_id, role)) STRICT;"
  "CREATE TABLE participation (id INTEGER PRIMARY KEY AUTOINCREMENT,"
  " consult_id TEXT NOT NULL REFERENCES consults (id) ON DELETE CASCADE, at INTEGER NOT NULL,"
  " role TEXT NOT NULL CHECK (role IN ('doctor', 'patient')),"
  " event TEXT NOT NULL CHECK (event IN ('join', 'leave', 'media-up', 'media-down')), detail TEXT) STRICT;"
  "CREATE INDEX participation_by_consult ON participation (consult_id, at, id);"
  "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at, started_at, ended_at,"
  " connected_us, end_reason) VALUES"
  " ('11111111-1111-4111-8111-111111111111', 'Dr. Test Doctor', 'Pat Synthetic', 1749988800000000,"
  "  'completed', 1749988000000000, 1749988900000000, 1749989900000000, 900000000, 'ended-by-doctor'),"
  " ('22222222-2222-4222-8222-222222222222', 'Dr. Test Doctor', 'Sam Synthetic', 1749999800000000,"
  "  'cancelled', 1749988000000000, 0, 1749990000000000, 0, 'cancelled-by-admin'),"
  " ('33333333-3333-4333-8333-333333333333', 'Dr. Test Doctor', 'Pat Synthetic', 1893456000000000,"
  "  'scheduled', 1749988000000000, 0, 0, 0, NULL);"
  /* sha256 of "token" as a stand-in: only the row's survival matters here */
  "INSERT INTO join_tokens VALUES"
  " ('3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0',"
  "  '33333333-3333-4333-8333-333333333333', 'patient', 4102444800000000, 1749988000000000);"
  "INSERT INTO participation (consult_id, at, role, event, detail) VALUES"
  " ('11111111-1111-4111-8111-111111111111', 1749988900000000, 'doctor', 'join', NULL),"
  " ('11111111-1111-4111-8111-111111111111', 1749989900000000, 'doctor', 'leave', 'ended');"
  "PRAGMA user_version = 1;";

static void
test_migrate_v1 (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (raw_exec (f->path, V1_SCHEMA_AND_DATA), ==, SQLITE_OK);
  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tv_store_schema_version (f->store), ==, TV_STORE_SCHEMA_VERSION);
  g_assert_cmpint (TV_STORE_SCHEMA_VERSION, >=, 3);

  /* every row survived the rebuild of consults (no cascade through the tokens / log) */
  g_assert_cmpint (count_consults (f), ==, 3);
  g_assert_cmpint (count_tokens (f), ==, 1);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM participation"), ==, 2);
  g_autoptr (TvConsult) done = NULL;
  g_assert_true (tv_store_consult_get (f->store, "11111111-1111-4111-8111-111111111111", &done, &error));
  g_assert_cmpint (done->status, ==, TV_CONSULT_COMPLETED);
  g_assert_cmpint (done->connected_us, ==, 900000000);
  g_assert_cmpstr (done->end_reason, ==, "ended-by-doctor");
  g_assert_null (done->doctor_id);
  g_assert_cmpint (done->scheduled_end, ==, 0);
  g_autoptr (TvConsult) cancelled = NULL;
  g_assert_true (tv_store_consult_get (f->store, "22222222-2222-4222-8222-222222222222", &cancelled, &error));
  g_assert_cmpint (cancelled->cancelled_at, ==, cancelled->ended_at);
  g_autoptr (GPtrArray) log = tv_store_participation_list (f->store, done->id, &error);
  g_assert_cmpuint (log->len, ==, 2);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  /* an old-style consult can still be cancelled (and records when) */
  g_assert_true (tv_store_consult_cancel (f->store, "33333333-3333-4333-8333-333333333333", "cancelled-by-admin",
                                          NOW, &error));
  g_autoptr (TvConsult) c3 = NULL;
  g_assert_true (tv_store_consult_get (f->store, "33333333-3333-4333-8333-333333333333", &c3, &error));
  g_assert_cmpint (c3->cancelled_at, ==, NOW);
  /* and the store still enforces foreign keys after the migration */
  g_assert_cmpint (raw_exec (f->path, "INSERT INTO join_tokens VALUES ("
                                      "'0000000000000000000000000000000000000000000000000000000000000000',"
                                      " '44444444-4444-4444-8444-444444444444', 'doctor', 1, 1)"),
                   ==, SQLITE_CONSTRAINT_FOREIGNKEY);
}

/* v8 -> v9 (server/tv-store-booking-schema.c) on a database the v8 code wrote
 * (tests/server/store-v8-dump.h): every row kept, integrity and foreign keys
 * hold, the audit chain still verifies, and the new overlap triggers refuse
 * what the old ones did while reading only the slots around the new one. */
#define V8_DOCTOR   "870e68b1-b578-4f36-9641-db4d84ab8d9a"
#define V8_PATIENT  "228fd1cf-1d76-4ce6-85e4-34bd8a98b781"
#define V8_PATIENT2 "275ad86e-91fa-4931-a0ea-34644c81e97b"

/* Inserts a consult of V8_DOCTOR booked from @start for @minutes, straight into
 * the table; returns the extended result code. */
static int
raw_booked (Fixture *f, const char *id, const char *start, gint64 minutes)
{
  g_autofree char *sql = g_strdup_printf (
    "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at, doctor_id, patient_id,"
    " scheduled_end) VALUES ('%s', 'Dr. Test Doctor', 'Pat Synthetic', %" G_GINT64_FORMAT ", 'scheduled', %"
    G_GINT64_FORMAT ", '" V8_DOCTOR "', '" V8_PATIENT2 "', %" G_GINT64_FORMAT ")",
    id, t (start), NOW, t (start) + minutes * MIN_US);
  return raw_exec (f->path, sql);
}

static gint64
schema_has (Fixture *f, const char *type, const char *name)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM sqlite_schema WHERE type = '%s' AND name = '%s'",
                                          type, name);
  return raw_int (f->path, sql);
}

/* Counts the rows of @n @tables into @before (each must hold some). */
static void
count_rows (Fixture *f, const char *const *tables, gsize n, gint64 *before)
{
  for (gsize i = 0; i < n; i++) {
    g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", tables[i]);
    before[i] = raw_int (f->path, sql);
    g_assert_cmpint (before[i], >, 0);
  }
}

/* After a migration: every table still holds @before rows, the file passes
 * the integrity and foreign-key checks, and the audit chain (@n_audit rows)
 * verifies. */
static void
assert_migrated_intact (Fixture *f, const char *const *tables, gsize n, const gint64 *before, gint64 n_audit)
{
  for (gsize i = 0; i < n; i++) {
    g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", tables[i]);
    g_assert_cmpint (raw_int (f->path, sql), ==, before[i]);
  }
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"),
                   ==, 0);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM pragma_foreign_key_check"), ==, 0);
  gint64 n_rows = 0, broken = -1;
  g_autofree char *reason = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_audit_verify (f->store, &n_rows, &broken, &reason, &error));
  g_assert_no_error (error);
  g_assert_cmpint (n_rows, ==, n_audit);
  g_assert_cmpint (broken, ==, 0);
}

static void
test_migrate_v8 (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (raw_exec (f->path, STORE_V8_DUMP), ==, SQLITE_OK);
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, 8);
  static const char *const tables[] = { "users", "user_roles", "consults", "join_tokens", "reminders", "audit",
                                        "availability" };
  gint64 before[G_N_ELEMENTS (tables)];
  count_rows (f, tables, G_N_ELEMENTS (tables), before);
  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tv_store_schema_version (f->store), ==, 10);   /* through v9 and v10 */
  g_assert_cmpint (TV_STORE_SCHEMA_VERSION, ==, 10);
  assert_migrated_intact (f, tables, G_N_ELEMENTS (tables), before, before[5]);
  g_assert_cmpint (schema_has (f, "trigger", "consults_booked_length_insert"), ==, 1);
  g_assert_cmpint (schema_has (f, "trigger", "consults_booked_length_update"), ==, 1);
  g_assert_cmpint (schema_has (f, "trigger", "consults_no_overlap_insert"), ==, 1);
  g_assert_cmpint (schema_has (f, "trigger", "consults_no_overlap_update"), ==, 1);
  g_assert_cmpint (schema_has (f, "index", "audit_by_user"), ==, 0);
  g_assert_cmpint (schema_has (f, "index", "audit_by_at"), ==, 0);
  g_assert_cmpint (schema_has (f, "index", "audit_by_patient"), ==, 1);

  /* the migrated consults still hold their slots (Mon 2030-06-03 08:00 and
   * 08:30, 30-minute slots): overlapping raw inserts are refused */
  g_assert_cmpint (raw_booked (f, "a0000000-0000-4000-8000-000000000001", "2030-06-03T08:15:00Z", 30), ==,
                   SQLITE_CONSTRAINT_TRIGGER);
  g_assert_cmpint (raw_booked (f, "a0000000-0000-4000-8000-000000000002", "2030-06-03T07:45:00Z", 30), ==,
                   SQLITE_CONSTRAINT_TRIGGER);
  /* ... and the free slot after them can be booked through the store */
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dt = NULL, *pt = NULL;
  g_assert_true (tv_store_consult_book (f->store, V8_DOCTOR, V8_PATIENT2, t ("2030-06-03T09:00:00Z"), NULL, NOW, &c,
                                        &dt, &pt, &error));
  g_assert_no_error (error);

  /* the length rule the triggers' lower bound rests on: at most 120 minutes */
  g_assert_cmpint (raw_booked (f, "a0000000-0000-4000-8000-000000000003", "2030-06-05T08:00:00Z", 121), ==,
                   SQLITE_CONSTRAINT_TRIGGER);
  g_autofree char *stretch = g_strdup_printf ("UPDATE consults SET scheduled_end = scheduled_start + 7200000001"
                                              " WHERE id = '%s'", c->id);
  g_assert_cmpint (raw_exec (f->path, stretch), ==, SQLITE_CONSTRAINT_TRIGGER);
  /* at the edge of the bound: a 120-minute consult 08:00-10:00 is seen by one
   * starting 110 minutes later, and one starting when it ends is free */
  g_assert_cmpint (raw_booked (f, "a0000000-0000-4000-8000-000000000004", "2030-06-05T08:00:00Z", 120), ==,
                   SQLITE_OK);
  g_assert_cmpint (raw_booked (f, "a0000000-0000-4000-8000-000000000005", "2030-06-05T09:50:00Z", 30), ==,
                   SQLITE_CONSTRAINT_TRIGGER);
  g_assert_cmpint (raw_booked (f, "a0000000-0000-4000-8000-000000000006", "2030-06-05T10:00:00Z", 30), ==,
                   SQLITE_OK);
  /* moving a consult onto another (the update trigger) is refused too */
  g_assert_cmpint (raw_exec (f->path, "UPDATE consults SET scheduled_start = scheduled_start - 600000000,"
                                      " scheduled_end = scheduled_end - 600000000"
                                      " WHERE id = 'a0000000-0000-4000-8000-000000000006'"),
                   ==, SQLITE_CONSTRAINT_TRIGGER);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM consults WHERE id LIKE 'a0000000-%'"), ==, 2);
}

/* A v8 database holding a booked consult longer than 120 minutes (the v8
 * triggers let one in): the step refuses, naming why, and changes nothing. */
static void
test_migrate_v8_refused (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (raw_exec (f->path, STORE_V8_DUMP), ==, SQLITE_OK);
  g_assert_cmpint (raw_exec (f->path, "UPDATE consults SET scheduled_end = scheduled_start + 9000000000"
                                      " WHERE scheduled_start = (SELECT max(scheduled_start) FROM consults"
                                      " WHERE doctor_id IS NOT NULL)"),
                   ==, SQLITE_OK);
  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_assert_null (f->store);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA);
  g_assert_nonnull (strstr (error->message, "booked_consult_longer_than_120_minutes"));
  g_assert_nonnull (strstr (error->message, "version 8"));
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, 8);
  g_assert_cmpint (schema_has (f, "index", "audit_by_user"), ==, 1);
  g_assert_cmpint (schema_has (f, "trigger", "consults_booked_length_insert"), ==, 0);
}

/* A v9 database with rows (the v8 dump taken through the v9 step, as the v9
 * code did it; one reminder left "sending" as by a server that died): v10
 * keeps every row and makes reminders_due hold the open reminders only, and
 * both of its readers still find theirs through it. */
static void
test_migrate_v9 (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (raw_exec (f->path, STORE_V8_DUMP), ==, SQLITE_OK);
  g_autofree char *v9 = g_strconcat ("BEGIN;", TV_STORE_BOOKING_SCHEMA_V9, "PRAGMA user_version = 9; COMMIT;", NULL);
  g_assert_cmpint (raw_exec (f->path, v9), ==, SQLITE_OK);
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, 9);
  g_assert_cmpint (raw_exec (f->path, "UPDATE reminders SET status = 'sending' WHERE id = 1"), ==, SQLITE_OK);
  static const char *const tables[] = { "users", "consults", "join_tokens", "reminders", "audit" };
  gint64 before[G_N_ELEMENTS (tables)];
  count_rows (f, tables, G_N_ELEMENTS (tables), before);
  gint64 open = raw_int (f->path, "SELECT count(*) FROM reminders WHERE status IN ('pending', 'sending')");
  gint64 closed = raw_int (f->path, "SELECT count(*) FROM reminders WHERE status NOT IN ('pending', 'sending')");
  g_assert_cmpint (open, >, 1);
  g_assert_cmpint (closed, >, 0);

  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tv_store_schema_version (f->store), ==, 10);
  assert_migrated_intact (f, tables, G_N_ELEMENTS (tables), before, before[4]);
  /* the index holds the open reminders, and nothing else */
  g_assert_cmpint (schema_has (f, "index", "reminders_due"), ==, 1);
  g_assert_cmpint (raw_int (f->path, "SELECT partial FROM pragma_index_list ('reminders') WHERE name = 'reminders_due'"),
                   ==, 1);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM pragma_index_info ('reminders_due')"), ==, 2);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM reminders INDEXED BY reminders_due"
                                     " WHERE status = 'pending' OR status = 'sending'"), ==, open);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'reminders_due'"
                                     " AND sql LIKE '%WHERE status = ''pending'' OR status = ''sending''%'"), ==, 1);
  /* its readers: the recovery at start and the due query */
  guint recovered = 0;
  g_assert_true (tv_store_reminders_recover (f->store, NOW, &recovered, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (recovered, ==, 1);
  g_autoptr (GPtrArray) due = tv_store_reminder_claim_due (f->store, G_MAXINT64, 100, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (due->len, ==, (guint) open);
  for (guint i = 1; i < due->len; i++)
    g_assert_cmpint (((TvReminder *) g_ptr_array_index (due, i - 1))->next_attempt_at, <=,
                     ((TvReminder *) g_ptr_array_index (due, i))->next_attempt_at);
  /* a cancel takes the consult's open reminders out of the index */
  const char *live = "9c333e24-63dd-4e33-a093-d446a63a05a6";
  g_assert_cmpint (raw_exec (f->path, "UPDATE reminders SET status = 'pending' WHERE status = 'sending'"), ==,
                   SQLITE_OK);
  g_assert_true (tv_store_consult_cancel (f->store, live, "cancelled-by-admin", NOW, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM reminders INDEXED BY reminders_due"
                                     " WHERE status = 'pending' OR status = 'sending'"),
                   ==, raw_int (f->path, "SELECT count(*) FROM reminders WHERE status IN ('pending', 'sending')"));
  g_autofree char *left = g_strdup_printf ("SELECT count(*) FROM reminders WHERE consult_id = '%s'"
                                           " AND status IN ('pending', 'sending')", live);
  g_assert_cmpint (raw_int (f->path, left), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Availability and exceptions                                                */

static void
test_availability (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) got = tv_store_availability_get (f->store, f->doctor, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got->len, ==, 5);
  g_assert_cmpuint (g_array_index (got, TvWeeklyRange, 0).weekday, ==, 1);
  g_assert_cmpuint (g_array_index (got, TvWeeklyRange, 4).end_min, ==, 720);

  /* replacing is all or nothing: an overlapping plan changes nothing */
  TvWeeklyRange bad[] = { { 2, 600, 700 }, { 2, 650, 800 } };
  g_assert_false (tv_store_availability_set (f->store, f->doctor, bad, 2, NOW, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_assert_nonnull (strstr (error->message, "overlap"));
  g_clear_error (&error);
  g_autoptr (GArray) same = tv_store_availability_get (f->store, f->doctor, &error);
  g_assert_cmpuint (same->len, ==, 5);

  TvWeeklyRange two[] = { { 3, 13 * 60, 17 * 60 }, { 3, 8 * 60, 12 * 60 } };
  set_hours (f->store, f->doctor, two, 2);
  g_autoptr (GArray) now = tv_store_availability_get (f->store, f->doctor, &error);
  g_assert_cmpuint (now->len, ==, 2);
  g_assert_cmpuint (g_array_index (now, TvWeeklyRange, 0).start_min, ==, 8 * 60);   /* ordered */
  set_hours (f->store, f->doctor, NULL, 0);
  g_autoptr (GArray) none = tv_store_availability_get (f->store, f->doctor, &error);
  g_assert_cmpuint (none->len, ==, 0);

  /* only doctors have hours */
  const char *not_doctors[] = { f->patient, f->scheduler, "00000000-0000-4000-8000-000000000000", NULL };
  for (guint i = 0; i < G_N_ELEMENTS (not_doctors); i++) {
    g_autoptr (GError) e = NULL;
    g_assert_false (tv_store_availability_set (f->store, not_doctors[i], two, 2, NOW, &e));
    g_assert_error (e, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
    g_clear_error (&e);
    g_assert_null (tv_store_availability_get (f->store, not_doctors[i], &e));
    g_assert_error (e, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  }
}

static void
test_exceptions (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  TvScheduleException off = { .kind = TV_EXCEPTION_OFF };
  g_assert_true (tv_schedule_parse_date ("2030-01-07", "date", &off.date, NULL));
  TvScheduleException extra = { .kind = TV_EXCEPTION_EXTRA, .start_min = 18 * 60, .end_min = 19 * 60 };
  g_assert_true (tv_schedule_parse_date ("2030-01-12", "date", &extra.date, NULL));
  g_autoptr (TvStoreException) a = NULL;
  g_autoptr (TvStoreException) b = NULL;
  g_assert_true (tv_store_exception_add (f->store, f->doctor, &off, NOW, &a, &error));
  g_assert_true (tv_store_exception_add (f->store, f->doctor, &extra, NOW, &b, &error));
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (a->id));

  /* the slots follow: Monday 7th off, Saturday 12th 18:00-19:00 extra */
  g_autoptr (GArray) slots = tv_store_free_slots (f->store, f->doctor, t ("2030-01-07T00:00:00+01:00"),
                                                  t ("2030-01-14T00:00:00+01:00"), NOW, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (slots->len, ==, 4 * 6 + 2);
  g_autofree char *first = tv_schedule_format_rfc3339 (g_array_index (slots, TvInterval, 0).start, NULL);
  g_assert_cmpstr (first, ==, "2030-01-08T08:00:00+00:00");

  GDate from, to;
  g_assert_true (tv_schedule_parse_date ("2030-01-10", "from", &from, NULL));
  g_assert_true (tv_schedule_parse_date ("2030-12-31", "to", &to, NULL));
  g_autoptr (GPtrArray) all = tv_store_exception_list (f->store, f->doctor, NULL, NULL, &error);
  g_autoptr (GPtrArray) later = tv_store_exception_list (f->store, f->doctor, &from, &to, &error);
  g_assert_cmpuint (all->len, ==, 2);
  g_assert_cmpuint (later->len, ==, 1);
  g_assert_cmpstr (((TvStoreException *) g_ptr_array_index (later, 0))->id, ==, b->id);

  /* invalid exceptions are refused: extra without hours */
  TvScheduleException bad = { .date = extra.date, .kind = TV_EXCEPTION_EXTRA };
  g_assert_false (tv_store_exception_add (f->store, f->doctor, &bad, NOW, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);

  /* another doctor cannot remove it; removing twice is NOT_FOUND */
  g_assert_false (tv_store_exception_remove (f->store, f->doctor2, a->id, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (tv_store_exception_remove (f->store, f->doctor, a->id, &error));
  g_assert_false (tv_store_exception_remove (f->store, f->doctor, a->id, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_autoptr (GArray) again = tv_store_free_slots (f->store, f->doctor, t ("2030-01-07T00:00:00+01:00"),
                                                  t ("2030-01-14T00:00:00+01:00"), NOW, &error);
  g_assert_cmpuint (again->len, ==, 5 * 6 + 2);
}

static void
test_free_slots (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Booking b;
  book_ok (f, f->doctor, f->patient, "2030-01-07T09:30:00+01:00", &b);
  g_autoptr (GArray) slots = tv_store_free_slots (f->store, f->doctor, t ("2030-01-07T00:00:00+01:00"),
                                                  t ("2030-01-08T00:00:00+01:00"), NOW, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (slots->len, ==, 5);
  for (guint i = 0; i < slots->len; i++)
    g_assert_cmpint (g_array_index (slots, TvInterval, i).start, !=, b.consult->scheduled_start);
  /* "now" in the middle of the morning: only later slots */
  g_autoptr (GArray) later = tv_store_free_slots (f->store, f->doctor, t ("2030-01-07T00:00:00+01:00"),
                                                  t ("2030-01-08T00:00:00+01:00"),
                                                  t ("2030-01-07T10:10:00+01:00"), &error);
  g_assert_cmpuint (later->len, ==, 3);   /* 10:30, 11:00, 11:30 */
  /* all in the past: empty, not an error */
  g_autoptr (GArray) past = tv_store_free_slots (f->store, f->doctor, t ("2030-01-07T00:00:00+01:00"),
                                                 t ("2030-01-08T00:00:00+01:00"), t ("2030-02-01T00:00:00Z"),
                                                 &error);
  g_assert_no_error (error);
  g_assert_cmpuint (past->len, ==, 0);
  /* range limits */
  g_assert_null (tv_store_free_slots (f->store, f->doctor, t ("2030-01-01T00:00:00Z"),
                                      t ("2030-02-15T00:00:00Z"), NOW, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_assert_null (tv_store_free_slots (f->store, f->patient, t ("2030-01-01T00:00:00Z"),
                                      t ("2030-01-02T00:00:00Z"), NOW, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  booking_clear (&b);
}

/* ------------------------------------------------------------------------ */
/* Booking                                                                    */

static void
test_book (Fixture *f, gconstpointer data)
{
  Booking b;
  book_ok (f, f->doctor, f->patient, "2030-01-07T10:00:00+01:00", &b);
  TvConsult *c = b.consult;
  g_assert_true (g_uuid_string_is_valid (c->id));
  g_assert_cmpint (c->scheduled_start, ==, t ("2030-01-07T09:00:00Z"));
  g_assert_cmpint (c->scheduled_end, ==, t ("2030-01-07T09:30:00Z"));
  g_assert_cmpint (c->status, ==, TV_CONSULT_SCHEDULED);

  /* the stored row says the same, with the users' display names */
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) got = NULL;
  g_assert_true (tv_store_consult_get (f->store, c->id, &got, &error));
  g_assert_cmpstr (got->doctor, ==, "Dr. Test Doctor");
  g_assert_cmpstr (got->patient, ==, "Pat Synthetic");
  g_assert_cmpstr (got->doctor_id, ==, f->doctor);
  g_assert_cmpstr (got->patient_id, ==, f->patient);
  g_assert_cmpstr (got->booked_by, ==, f->scheduler);
  g_assert_cmpint (got->scheduled_end, ==, c->scheduled_end);

  /* tokens: each role, valid from booking until the end + 1 h */
  token_role (f, b.dtok, NOW, c->id, TV_SIG_ROLE_DOCTOR);
  token_role (f, b.ptok, NOW, c->id, TV_SIG_ROLE_PATIENT);
  token_role (f, b.ptok, c->scheduled_end + HOUR_US - 1, c->id, TV_SIG_ROLE_PATIENT);
  token_refused (f, b.ptok, c->scheduled_end + HOUR_US, TV_STORE_ERR_TOKEN_EXPIRED);

  /* the patient's own booking (booked_by = the patient) */
  g_autoptr (TvConsult) own = NULL;
  g_autofree char *d2 = NULL, *p2 = NULL;
  g_assert_true (tv_store_consult_book (f->store, f->doctor, f->patient2, t ("2030-01-07T11:30:00+01:00"),
                                        f->patient2, NOW, &own, &d2, &p2, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (own->booked_by, ==, f->patient2);
  booking_clear (&b);
}

/* Booking on a DST change day: on 2030-10-27 Berlin's 02:00-03:00 happens
 * twice; both 02:30s are distinct slots, each bookable once. On 2030-03-31
 * 02:00-03:00 does not exist: 01:30 CET is followed directly by 03:00 CEST. */
static void
test_book_dst (Fixture *f, gconstpointer data)
{
  g_autofree char *night = user_ok (f->store, "dr.night", "Dr. Night Test", TV_ROLE_DOCTOR, "Europe/Berlin", 30);
  TvWeeklyRange sunday = { 7, 60, 240 };   /* 01:00-04:00 */
  set_hours (f->store, night, &sunday, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) fall = tv_store_free_slots (f->store, night, t ("2030-10-27T00:00:00+02:00"),
                                                 t ("2030-10-28T00:00:00+01:00"), NOW, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fall->len, ==, 8);   /* 4 real hours */
  Booking a, b;
  book_ok (f, night, f->patient, "2030-10-27T02:30:00+02:00", &a);
  book_ok (f, night, f->patient2, "2030-10-27T02:30:00+01:00", &b);
  g_assert_cmpint (b.consult->scheduled_start - a.consult->scheduled_start, ==, HOUR_US);
  book_refused (f, night, f->patient2, t ("2030-10-27T00:30:00Z"), NOW, TV_STORE_ERR_SLOT_TAKEN, "already booked");
  g_autoptr (GArray) spring = tv_store_free_slots (f->store, night, t ("2030-03-31T00:00:00+01:00"),
                                                   t ("2030-04-01T00:00:00+02:00"), NOW, &error);
  g_assert_cmpuint (spring->len, ==, 4);   /* 2 real hours */
  g_autofree char *second = tv_schedule_format_rfc3339 (g_array_index (spring, TvInterval, 2).start, NULL);
  g_assert_cmpstr (second, ==, "2030-03-31T01:00:00+00:00");   /* 03:00 CEST */
  /* with an explicit offset a wall time in the gap is still an instant: 02:30+01:00 is 03:30 CEST, a slot */
  g_assert_cmpint (g_array_index (spring, TvInterval, 3).start, ==, t ("2030-03-31T02:30:00+01:00"));
  book_refused (f, night, f->patient2, t ("2030-03-31T02:15:00+01:00"), NOW, TV_STORE_ERR_INVALID, "slot boundary");
  booking_clear (&a);
  booking_clear (&b);
}

static void
test_book_refusals (Fixture *f, gconstpointer data)
{
  Booking b;
  book_ok (f, f->doctor, f->patient, "2030-01-07T10:00:00+01:00", &b);
  gint64 slot = t ("2030-01-07T10:30:00+01:00");

  book_refused (f, f->doctor, f->patient2, t ("2030-01-07T10:00:00+01:00"), NOW, TV_STORE_ERR_SLOT_TAKEN,
                "already booked");
  /* the slot taken AND the patient busy (their own consult in it): the taken slot is named */
  book_refused (f, f->doctor, f->patient, t ("2030-01-07T10:00:00+01:00"), NOW, TV_STORE_ERR_SLOT_TAKEN,
                "already booked");
  /* taken by an overlapping consult that starts off the slot grid (written by hand: 10:40-11:10
   * Berlin): the booking's own INSERT meets it in the no-overlap trigger, still SLOT_TAKEN */
  g_autofree char *off_grid = g_strdup_printf (
      "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at, doctor_id, patient_id,"
      " scheduled_end) VALUES ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'D', 'P', %" G_GINT64_FORMAT
      ", 'scheduled', 1, '%s', '%s', %" G_GINT64_FORMAT ")",
      t ("2030-01-07T10:40:00+01:00"), f->doctor, f->patient2, t ("2030-01-07T11:10:00+01:00"));
  g_assert_cmpint (raw_exec (f->path, off_grid), ==, SQLITE_OK);
  book_refused (f, f->doctor, f->patient, t ("2030-01-07T10:30:00+01:00"), NOW, TV_STORE_ERR_SLOT_TAKEN,
                "already booked");
  g_assert_cmpint (raw_exec (f->path, "DELETE FROM consults WHERE id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'"),
                   ==, SQLITE_OK);
  book_refused (f, f->doctor, f->patient2, slot, slot, TV_STORE_ERR_INVALID, "past");
  book_refused (f, f->doctor, f->patient2, slot, slot + 1, TV_STORE_ERR_INVALID, "past");
  book_refused (f, f->doctor, f->patient2, t ("2030-01-07T10:10:00+01:00"), NOW, TV_STORE_ERR_INVALID,
                "slot boundary");
  book_refused (f, f->doctor, f->patient2, t ("2030-01-07T12:00:00+01:00"), NOW, TV_STORE_ERR_INVALID,
                "outside");
  book_refused (f, f->doctor, f->patient2, t ("2030-01-06T10:00:00+01:00"), NOW, TV_STORE_ERR_INVALID,
                "outside");   /* a Sunday */
  /* the patient is already with Dr. Other at 09:00Z (= 10:00 Berlin): overlapping consult */
  book_refused (f, f->doctor2, f->patient, t ("2030-01-07T09:15:00Z"), NOW, TV_STORE_ERR_CONFLICT,
                "patient already");
  /* who */
  book_refused (f, "00000000-0000-4000-8000-000000000000", f->patient2, slot, NOW, TV_STORE_ERR_NOT_FOUND,
                "no doctor");
  book_refused (f, f->patient, f->patient2, slot, NOW, TV_STORE_ERR_NOT_FOUND, "no doctor");
  book_refused (f, f->doctor, f->scheduler, slot, NOW, TV_STORE_ERR_NOT_FOUND, "no patient");
  book_refused (f, f->doctor, NULL, slot, NOW, TV_STORE_ERR_NOT_FOUND, "no patient");
  book_refused (f, f->doctor, f->doctor, slot, NOW, TV_STORE_ERR_INVALID, "different");
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_user_set_disabled (f->store, f->patient2, TRUE, NOW, &error));
  book_refused (f, f->doctor, f->patient2, slot, NOW, TV_STORE_ERR_NOT_FOUND, "no patient");
  book_refused (f, f->doctor, f->patient, 0, NOW, TV_STORE_ERR_INVALID, "positive");
  booking_clear (&b);
}

/* The constraints hold on their own, for a writer that skips the checks. */
static void
test_database_constraints (Fixture *f, gconstpointer data)
{
  Booking b;
  book_ok (f, f->doctor, f->patient, "2030-01-07T10:00:00+01:00", &b);
  g_autofree char *same_start = g_strdup_printf (
      "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at, doctor_id, patient_id,"
      " scheduled_end) VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'D', 'P', %" G_GINT64_FORMAT
      ", 'scheduled', 1, '%s', '%s', %" G_GINT64_FORMAT ")",
      b.consult->scheduled_start, f->doctor, f->patient2, b.consult->scheduled_end);
  int rc = raw_exec (f->path, same_start);
  g_assert_true (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_TRIGGER);
  g_autofree char *overlap = g_strdup_printf (
      "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at, doctor_id, patient_id,"
      " scheduled_end) VALUES ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'D', 'P', %" G_GINT64_FORMAT
      ", 'scheduled', 1, '%s', '%s', %" G_GINT64_FORMAT ")",
      b.consult->scheduled_start + 10 * MIN_US, f->doctor, f->patient2, b.consult->scheduled_end + 10 * MIN_US);
  g_assert_cmpint (raw_exec (f->path, overlap), ==, SQLITE_CONSTRAINT_TRIGGER);
  g_autofree char *move = g_strdup_printf (
      "UPDATE consults SET scheduled_start = scheduled_start - 600000000, scheduled_end = scheduled_end - 600000000"
      " WHERE id = '%s'", b.consult->id);
  g_assert_cmpint (raw_exec (f->path, move), ==, SQLITE_OK);   /* moving alone is fine */
  /* a cancelled consult holds nothing: the same slot can be taken again */
  g_assert_true (tv_store_consult_cancel (f->store, b.consult->id, "cancelled-by-scheduler", NOW, NULL));
  g_assert_cmpint (raw_exec (f->path, same_start), ==, SQLITE_OK);
  /* and reviving the cancelled one into the taken time is refused */
  g_autofree char *revive = g_strdup_printf ("UPDATE consults SET status = 'scheduled', end_reason = NULL"
                                             " WHERE id = '%s'", b.consult->id);
  g_assert_cmpint (raw_exec (f->path, revive), ==, SQLITE_CONSTRAINT_TRIGGER);
  booking_clear (&b);
}

/* Threads with their own connections (as separate processes would be) race
 * for the same three slots: exactly one booking per slot wins. */
typedef struct {
  const char *path;
  const char *doctor;
  const char *patient;
  gint64 start;
  gint result;   /* -1 ok, else the error code */
  GMutex *mutex;
  GCond *cond;
  gboolean *go;
} RaceArg;

static gpointer
race_thread (gpointer data)
{
  RaceArg *a = data;
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (a->path, &error);
  g_assert_no_error (error);
  g_mutex_lock (a->mutex);
  while (!*a->go)
    g_cond_wait (a->cond, a->mutex);
  g_mutex_unlock (a->mutex);
  TvConsult *c = NULL;
  char *d = NULL, *p = NULL;
  a->result = tv_store_consult_book (store, a->doctor, a->patient, a->start, NULL, NOW, &c, &d, &p, &error)
                ? -1 : error->code;
  tv_consult_free (c);
  g_free (d);
  g_free (p);
  tv_store_close (store);
  return NULL;
}

static void
test_race_connections (Fixture *f, gconstpointer data)
{
  enum { N = 12, SLOTS = 3 };
  const char *pats[] = { f->patient, f->patient2 };
  char *extra[N];
  /* more patients, so the patient-overlap rule does not decide the race */
  for (guint i = 0; i < N; i++) {
    g_autofree char *username = g_strdup_printf ("race.patient.%u", i);
    extra[i] = i < 2 ? g_strdup (pats[i]) : user_ok (f->store, username, "Race Synthetic", TV_ROLE_PATIENT, NULL, 0);
  }
  GMutex mutex;
  GCond cond;
  gboolean go = FALSE;
  g_mutex_init (&mutex);
  g_cond_init (&cond);
  RaceArg args[N];
  GThread *threads[N];
  for (guint i = 0; i < N; i++) {
    args[i] = (RaceArg) { f->path, f->doctor, extra[i], t ("2030-01-08T09:00:00+01:00") + (i % SLOTS) * 30 * MIN_US,
                          0, &mutex, &cond, &go };
    threads[i] = g_thread_new ("race", race_thread, &args[i]);
  }
  g_mutex_lock (&mutex);
  go = TRUE;
  g_cond_broadcast (&cond);
  g_mutex_unlock (&mutex);
  guint wins[SLOTS] = { 0 };
  for (guint i = 0; i < N; i++) {
    g_thread_join (threads[i]);
    if (args[i].result == -1)
      wins[i % SLOTS]++;
    else
      g_assert_cmpint (args[i].result, ==, TV_STORE_ERR_SLOT_TAKEN);
  }
  for (guint s = 0; s < SLOTS; s++)
    g_assert_cmpuint (wins[s], ==, 1);
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM consults WHERE doctor_id = '%s'"
                                          " AND status <> 'cancelled'", f->doctor);
  g_assert_cmpint (raw_int (f->path, sql), ==, SLOTS);
  for (guint i = 0; i < N; i++)
    g_free (extra[i]);
  g_mutex_clear (&mutex);
  g_cond_clear (&cond);
}

/* ------------------------------------------------------------------------ */
/* Cancel, reschedule, no-show                                                */

static void
test_cancel_frees_slot (Fixture *f, gconstpointer data)
{
  Booking b, again;
  book_ok (f, f->doctor, f->patient, "2030-01-07T10:00:00+01:00", &b);
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_consult_cancel (f->store, b.consult->id, "cancelled-by-patient", NOW + 1, &error));
  g_autoptr (TvConsult) c = NULL;
  g_assert_true (tv_store_consult_get (f->store, b.consult->id, &c, &error));
  g_assert_cmpint (c->status, ==, TV_CONSULT_CANCELLED);
  g_assert_cmpint (c->cancelled_at, ==, NOW + 1);
  g_assert_cmpstr (c->end_reason, ==, "cancelled-by-patient");
  book_ok (f, f->doctor, f->patient2, "2030-01-07T10:00:00+01:00", &again);
  g_assert_false (tv_store_consult_cancel (f->store, b.consult->id, "cancelled-by-patient", NOW + 2, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  booking_clear (&b);
  booking_clear (&again);
}

static void
test_reschedule (Fixture *f, gconstpointer data)
{
  Booking b, other;
  book_ok (f, f->doctor, f->patient, "2030-01-07T10:00:00+01:00", &b);
  book_ok (f, f->doctor, f->patient2, "2030-01-07T11:00:00+01:00", &other);
  g_autoptr (GError) error = NULL;
  const char *id = b.consult->id;

  /* refusals change nothing: time, tokens */
  struct { const char *start; gint64 now; int code; } bad[] = {
    { "2030-01-07T11:00:00+01:00", 0, TV_STORE_ERR_SLOT_TAKEN },
    { "2030-01-07T11:10:00+01:00", 0, TV_STORE_ERR_INVALID },
    { "2030-01-07T13:00:00+01:00", 0, TV_STORE_ERR_INVALID },
    { "2030-01-07T09:00:00+01:00", 1, TV_STORE_ERR_INVALID },   /* now after it: past */
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (TvConsult) out = NULL;
    g_autofree char *tok = NULL;
    gint64 now = bad[i].now ? t ("2030-01-07T09:30:00+01:00") : NOW;
    g_assert_false (tv_store_consult_reschedule (f->store, id, t (bad[i].start), now, &out, &tok, &error));
    g_assert_error (error, TV_STORE_ERROR, bad[i].code);
    g_clear_error (&error);
    g_assert_null (tok);
    token_role (f, b.ptok, NOW, id, TV_SIG_ROLE_PATIENT);
  }
  g_autoptr (TvConsult) still = NULL;
  g_assert_true (tv_store_consult_get (f->store, id, &still, &error));
  g_assert_cmpint (still->scheduled_start, ==, b.consult->scheduled_start);

  /* moving within its own slot's neighbourhood: the old slot does not block itself */
  g_autoptr (TvConsult) moved = NULL;
  g_autofree char *ptok = NULL;
  g_assert_true (tv_store_consult_reschedule (f->store, id, t ("2030-01-08T11:30:00+01:00"), NOW, &moved, &ptok,
                                              &error));
  g_assert_no_error (error);
  g_assert_cmpstr (moved->id, ==, id);
  g_assert_cmpint (moved->scheduled_start, ==, t ("2030-01-08T11:30:00+01:00"));
  g_assert_cmpint (moved->scheduled_end, ==, t ("2030-01-08T12:00:00+01:00"));
  token_refused (f, b.ptok, NOW, TV_STORE_ERR_TOKEN_UNKNOWN);    /* old one revoked */
  token_role (f, ptok, NOW, id, TV_SIG_ROLE_PATIENT);
  token_role (f, b.dtok, moved->scheduled_end + HOUR_US - 1, id, TV_SIG_ROLE_DOCTOR);   /* follows */
  g_assert_cmpint (count_tokens (f), ==, 4);

  /* the old slot is free again */
  Booking freed;
  book_ok (f, f->doctor, f->patient2, "2030-01-07T10:00:00+01:00", &freed);

  /* a cancelled consult cannot move; an unknown one is NOT_FOUND */
  g_assert_true (tv_store_consult_cancel (f->store, other.consult->id, "cancelled-by-scheduler", NOW, NULL));
  g_autoptr (TvConsult) o2 = NULL;
  g_autofree char *t2 = NULL;
  g_assert_false (tv_store_consult_reschedule (f->store, other.consult->id, t ("2030-01-09T09:00:00+01:00"), NOW,
                                               &o2, &t2, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_reschedule (f->store, "00000000-0000-4000-8000-000000000000",
                                               t ("2030-01-09T09:00:00+01:00"), NOW, &o2, &t2, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  booking_clear (&b);
  booking_clear (&other);
  booking_clear (&freed);
}

static void
test_no_show (Fixture *f, gconstpointer data)
{
  Booking b;
  book_ok (f, f->doctor, f->patient, "2030-01-07T10:00:00+01:00", &b);
  const char *id = b.consult->id;
  gint64 start = b.consult->scheduled_start;
  g_autoptr (GError) error = NULL;
  g_assert_false (tv_store_consult_no_show (f->store, id, start - 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_assert_nonnull (strstr (error->message, "not started"));
  g_clear_error (&error);
  g_assert_true (tv_store_consult_no_show (f->store, id, start + 5 * MIN_US, &error));
  g_assert_no_error (error);
  g_autoptr (TvConsult) c = NULL;
  g_assert_true (tv_store_consult_get (f->store, id, &c, &error));
  g_assert_cmpint (c->status, ==, TV_CONSULT_NO_SHOW);
  g_assert_cmpstr (tv_consult_status_to_string (c->status), ==, "no-show");
  g_assert_cmpint (c->no_show_at, ==, start + 5 * MIN_US);
  g_assert_cmpint (c->ended_at, ==, start + 5 * MIN_US);
  g_assert_false (tv_store_consult_no_show (f->store, id, start + 6 * MIN_US, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  /* no-show is final: no media, no cancel */
  g_assert_false (tv_store_consult_media_started (f->store, id, start + 7 * MIN_US, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_cancel (f->store, id, "cancelled-by-scheduler", start + 7 * MIN_US, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);

  /* a consult that took place cannot be a no-show */
  Booking done;
  book_ok (f, f->doctor, f->patient, "2030-01-07T11:00:00+01:00", &done);
  g_assert_true (tv_store_consult_media_started (f->store, done.consult->id, done.consult->scheduled_start, NULL));
  g_assert_false (tv_store_consult_no_show (f->store, done.consult->id, done.consult->scheduled_end, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  booking_clear (&b);
  booking_clear (&done);
}

static void
test_list_filtered (Fixture *f, gconstpointer data)
{
  Booking a, b, c;
  book_ok (f, f->doctor, f->patient, "2030-01-08T10:00:00+01:00", &a);
  book_ok (f, f->doctor, f->patient2, "2030-01-07T10:00:00+01:00", &b);
  book_ok (f, f->doctor2, f->patient, "2030-01-07T08:00:00Z", &c);
  g_assert_true (tv_store_consult_cancel (f->store, b.consult->id, "cancelled-by-patient", NOW, NULL));
  g_autoptr (GError) error = NULL;
  struct { TvConsultFilter filter; guint n; const char *first; } cases[] = {
    { { 0 }, 3, c.consult->id },
    { { .doctor_id = f->doctor }, 2, b.consult->id },
    { { .patient_id = f->patient }, 2, c.consult->id },
    { { .has_status = TRUE, .status = TV_CONSULT_CANCELLED }, 1, b.consult->id },
    { { .from = t ("2030-01-08T00:00:00Z") }, 1, a.consult->id },
    { { .to = t ("2030-01-08T00:00:00Z"), .doctor_id = f->doctor2 }, 1, c.consult->id },
    { { .limit = 1 }, 1, c.consult->id },
    { { .doctor_id = f->patient }, 0, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GPtrArray) got = tv_store_consult_list_filtered (f->store, &cases[i].filter, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (got->len, ==, cases[i].n);
    if (cases[i].first != NULL)
      g_assert_cmpstr (((TvConsult *) g_ptr_array_index (got, 0))->id, ==, cases[i].first);
  }
  booking_clear (&a);
  booking_clear (&b);
  booking_clear (&c);
}

/* A crash between the consult row and its tokens leaves no booking behind. */
static void
test_crash_book (Fixture *f, gconstpointer data)
{
  gint64 before = count_consults (f);
  tv_store_close (f->store);
  f->store = NULL;
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    g_setenv ("TV_STORE_FAULT", "book-after-consult", TRUE);
    TvStore *store = tv_store_open (f->path, NULL);
    TvConsult *c = NULL;
    char *d = NULL, *p = NULL;
    if (store != NULL)
      tv_store_consult_book (store, f->doctor, f->patient, t ("2030-01-07T10:00:00+01:00"), NULL, NOW, &c, &d,
                             &p, NULL);
    _exit (3);   /* not reached when the fault point fires */
  }
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 99);
  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (count_consults (f), ==, before);
  g_assert_cmpint (count_tokens (f), ==, 0);
  Booking b;
  book_ok (f, f->doctor, f->patient, "2030-01-07T10:00:00+01:00", &b);   /* the slot is still free */
  booking_clear (&b);
}

static void
test_injected_failure (Fixture *f, gconstpointer data)
{
  tv_store_close (f->store);
  g_setenv ("TV_STORE_FAULT", "fail:book,fail:reschedule,fail:availability-set", TRUE);
  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_unsetenv ("TV_STORE_FAULT");
  g_assert_no_error (error);
  TvConsult *c = NULL;
  char *d = NULL, *p = NULL;
  g_assert_false (tv_store_consult_book (f->store, f->doctor, f->patient, t ("2030-01-07T10:00:00+01:00"), NULL,
                                         NOW, &c, &d, &p, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_clear_error (&error);
  TvWeeklyRange r = { 1, 0, 60 };
  g_assert_false (tv_store_availability_set (f->store, f->doctor, &r, 1, NOW, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_assert_cmpint (count_consults (f), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("TV_STORE_FAULT");
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  g_test_add ("/store-schedule/migrate-v1", Fixture, "raw", fixture_setup, test_migrate_v1, fixture_teardown);
  g_test_add ("/store-schedule/migrate-v8", Fixture, "raw", fixture_setup, test_migrate_v8, fixture_teardown);
  g_test_add ("/store-schedule/migrate-v8-refused", Fixture, "raw", fixture_setup, test_migrate_v8_refused,
              fixture_teardown);
  g_test_add ("/store-schedule/migrate-v9", Fixture, "raw", fixture_setup, test_migrate_v9, fixture_teardown);
  ADD ("/store-schedule/availability", test_availability);
  ADD ("/store-schedule/exceptions", test_exceptions);
  ADD ("/store-schedule/free-slots", test_free_slots);
  ADD ("/store-schedule/book", test_book);
  ADD ("/store-schedule/book-dst", test_book_dst);
  ADD ("/store-schedule/book-refusals", test_book_refusals);
  ADD ("/store-schedule/database-constraints", test_database_constraints);
  ADD ("/store-schedule/race-connections", test_race_connections);
  ADD ("/store-schedule/cancel-frees-slot", test_cancel_frees_slot);
  ADD ("/store-schedule/reschedule", test_reschedule);
  ADD ("/store-schedule/no-show", test_no_show);
  ADD ("/store-schedule/list-filtered", test_list_filtered);
  ADD ("/store-schedule/crash-book", test_crash_book);
  ADD ("/store-schedule/injected-failure", test_injected_failure);
#undef ADD
  return g_test_run ();
}
