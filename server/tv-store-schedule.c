/* tv-store-schedule.c — availability, exceptions and booking in the SQLite store.
 *
 * Why: see tv-store-schedule.h. Booking must never give one doctor two
 * consults at the same time, even with many requests racing (several server
 * connections, televisitctl in another process). Three layers make sure:
 * every booking runs check-then-write inside BEGIN IMMEDIATE (the write lock
 * is taken before the slot is looked at, so no two bookings interleave); the
 * partial UNIQUE index consults_doctor_slot refuses a second live consult at
 * the same start; the consults_no_overlap_* triggers refuse any overlapping
 * interval (e.g. after a doctor changed their slot length; since schema v9
 * they look only at consults starting less than 120 minutes before, and the
 * consults_booked_length_* triggers keep every booked consult within that:
 * server/tv-store-booking-schema.c). A constraint failure is reported as
 * SLOT_TAKEN like the transactional check.
 *
 * Thread: the store's thread (a TvStore is used by one thread).
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-schedule.h"
#include "server/tv-store-private.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-users.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Schema v3                                                                  */

/* SQLite cannot change a table's CHECK constraints in place, so consults is
 * rebuilt (the documented create-copy-drop-rename procedure; the migration
 * runs with foreign keys off and checks them before committing). The new
 * status list already holds 'waiting' (waitroom, v4) so that step only needs
 * to add columns. A consult booked through the API has doctor_id and
 * scheduled_end; consults created by televisitctl (v1 style) have neither. */
const char TV_STORE_SCHEDULE_SCHEMA_V3[] =
  "CREATE TABLE consults_v3 ("
  "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),"
  "  doctor TEXT NOT NULL CHECK (length(CAST(doctor AS BLOB)) BETWEEN 1 AND 200),"
  "  patient TEXT NOT NULL CHECK (length(CAST(patient AS BLOB)) BETWEEN 1 AND 200),"
  "  scheduled_start INTEGER NOT NULL CHECK (scheduled_start > 0),"
  "  status TEXT NOT NULL CHECK (status IN"
  "    ('scheduled', 'waiting', 'in-progress', 'completed', 'cancelled', 'no-show')),"
  "  created_at INTEGER NOT NULL CHECK (created_at > 0),"
  "  started_at INTEGER NOT NULL DEFAULT 0 CHECK (started_at >= 0),"
  "  ended_at INTEGER NOT NULL DEFAULT 0 CHECK (ended_at >= 0),"
  "  connected_us INTEGER NOT NULL DEFAULT 0 CHECK (connected_us >= 0),"
  "  media_up_since INTEGER NOT NULL DEFAULT 0 CHECK (media_up_since >= 0),"
  "  end_reason TEXT,"
  "  doctor_id TEXT REFERENCES users (id),"
  "  patient_id TEXT REFERENCES users (id),"
  "  scheduled_end INTEGER NOT NULL DEFAULT 0"
  "    CHECK (scheduled_end = 0 OR scheduled_end > scheduled_start),"
  "  cancelled_at INTEGER NOT NULL DEFAULT 0 CHECK (cancelled_at >= 0),"
  "  no_show_at INTEGER NOT NULL DEFAULT 0 CHECK (no_show_at >= 0),"
  "  booked_by TEXT REFERENCES users (id),"
  "  CHECK ((status IN ('completed', 'cancelled', 'no-show')) = (end_reason IS NOT NULL)),"
  "  CHECK (media_up_since = 0 OR status = 'in-progress'),"
  "  CHECK ((doctor_id IS NULL) = (scheduled_end = 0)),"
  "  CHECK ((doctor_id IS NULL) = (patient_id IS NULL)),"
  "  CHECK ((no_show_at <> 0) = (status = 'no-show'))"
  ") STRICT;"
  "INSERT INTO consults_v3 (id, doctor, patient, scheduled_start, status, created_at, started_at,"
  "  ended_at, connected_us, media_up_since, end_reason, cancelled_at)"
  " SELECT id, doctor, patient, scheduled_start, status, created_at, started_at,"
  "  ended_at, connected_us, media_up_since, end_reason,"
  "  CASE WHEN status = 'cancelled' THEN ended_at ELSE 0 END FROM consults;"
  "DROP TABLE consults;"
  "ALTER TABLE consults_v3 RENAME TO consults;"
  "CREATE INDEX consults_by_start ON consults (scheduled_start);"
  "CREATE INDEX consults_by_doctor ON consults (doctor_id, scheduled_start) WHERE doctor_id IS NOT NULL;"
  "CREATE INDEX consults_by_patient ON consults (patient_id, scheduled_start) WHERE patient_id IS NOT NULL;"
  /* The no-double-booking constraint: one live consult per doctor and start. */
  "CREATE UNIQUE INDEX consults_doctor_slot ON consults (doctor_id, scheduled_start)"
  "  WHERE doctor_id IS NOT NULL AND status <> 'cancelled';"
  /* ... and no live consult overlapping another of the same doctor. */
  "CREATE TRIGGER consults_no_overlap_insert BEFORE INSERT ON consults"
  "  WHEN NEW.doctor_id IS NOT NULL AND NEW.status <> 'cancelled' BEGIN"
  "  SELECT RAISE (ABORT, 'slot taken: overlapping consult of the same doctor') WHERE EXISTS"
  "   (SELECT 1 FROM consults c WHERE c.doctor_id = NEW.doctor_id AND c.status <> 'cancelled'"
  "    AND c.scheduled_start < NEW.scheduled_end AND NEW.scheduled_start < c.scheduled_end);"
  "  END;"
  "CREATE TRIGGER consults_no_overlap_update"
  "  BEFORE UPDATE OF doctor_id, scheduled_start, scheduled_end, status ON consults"
  "  WHEN NEW.doctor_id IS NOT NULL AND NEW.status <> 'cancelled' BEGIN"
  "  SELECT RAISE (ABORT, 'slot taken: overlapping consult of the same doctor') WHERE EXISTS"
  "   (SELECT 1 FROM consults c WHERE c.doctor_id = NEW.doctor_id AND c.status <> 'cancelled'"
  "    AND c.id <> NEW.id"
  "    AND c.scheduled_start < NEW.scheduled_end AND NEW.scheduled_start < c.scheduled_end);"
  "  END;"
  "CREATE TABLE availability ("
  "  doctor_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
  "  weekday INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),"
  "  start_min INTEGER NOT NULL CHECK (start_min BETWEEN 0 AND 1439),"
  "  end_min INTEGER NOT NULL CHECK (end_min > start_min AND end_min <= 1440),"
  "  updated_at INTEGER NOT NULL CHECK (updated_at > 0),"
  "  PRIMARY KEY (doctor_id, weekday, start_min)"
  ") STRICT;"
  "CREATE TABLE availability_exceptions ("
  "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),"
  "  doctor_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
  "  date TEXT NOT NULL CHECK (length(date) = 10),"
  "  kind TEXT NOT NULL CHECK (kind IN ('off', 'extra')),"
  "  start_min INTEGER NOT NULL,"
  "  end_min INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL CHECK (created_at > 0),"
  "  CHECK ((kind = 'off' AND start_min = 0 AND end_min = 0)"
  "    OR (start_min >= 0 AND end_min > start_min AND end_min <= 1440))"
  ") STRICT;"
  "CREATE INDEX availability_exceptions_by_doctor ON availability_exceptions (doctor_id, date);";

/* ------------------------------------------------------------------------ */
/* Statements                                                                 */

static const char SQL_AVAIL_GET[] =
  "SELECT weekday, start_min, end_min FROM availability WHERE doctor_id = ?1"
  " ORDER BY weekday, start_min";
static const char SQL_AVAIL_DELETE[] =
  "DELETE FROM availability WHERE doctor_id = ?1";
static const char SQL_AVAIL_INSERT[] =
  "INSERT INTO availability (doctor_id, weekday, start_min, end_min, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_EXC_INSERT[] =
  "INSERT INTO availability_exceptions (id, doctor_id, date, kind, start_min, end_min, created_at)"
  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_EXC_COUNT[] =
  "SELECT count(*) FROM availability_exceptions WHERE doctor_id = ?1";
static const char SQL_EXC_LIST[] =
  "SELECT id, date, kind, start_min, end_min, created_at FROM availability_exceptions"
  " WHERE doctor_id = ?1 AND date >= ?2 AND date <= ?3 ORDER BY date, start_min, id";
static const char SQL_EXC_DELETE[] =
  "DELETE FROM availability_exceptions WHERE id = ?1 AND doctor_id = ?2";
/* Overlap queries: a consult booked on a doctor's schedule lasts one slot, at
 * most TV_STORE_SLOT_MINUTES_MAX, so one that overlaps [?2, ?3) starts after
 * ?5 = ?2 - that maximum. The bound keeps the index range to the slots around
 * the time asked about instead of the doctor's or patient's whole history
 * (every earlier consult started before ?3). The no-overlap triggers remain
 * the store's last word on overlaps. */
#define OVERLAP_MAX_US ((gint64) TV_STORE_SLOT_MINUTES_MAX * 60 * G_USEC_PER_SEC)
static const char SQL_BOOKED[] =
  "SELECT scheduled_start, scheduled_end FROM consults WHERE doctor_id = ?1 AND status <> 'cancelled'"
  " AND scheduled_start < ?3 AND scheduled_start > ?5 AND scheduled_end > ?2 ORDER BY scheduled_start";
/* ?4: a consult to ignore (the one being rescheduled), '' for none. */
static const char SQL_DOCTOR_BUSY[] =
  "SELECT 1 FROM consults WHERE doctor_id = ?1 AND status <> 'cancelled'"
  " AND scheduled_start < ?3 AND scheduled_start > ?5 AND scheduled_end > ?2 AND id <> ?4 LIMIT 1";
/* A patient is busy during consults of theirs that may still happen. Three
 * <> rather than NOT IN (...): SQLite builds a temporary b-tree for a NOT IN
 * list on every run of the statement (status is NOT NULL, so both agree). */
static const char SQL_PATIENT_BUSY[] =
  "SELECT 1 FROM consults WHERE patient_id = ?1"
  " AND status <> 'cancelled' AND status <> 'no-show' AND status <> 'completed'"
  " AND scheduled_start < ?3 AND scheduled_start > ?5 AND scheduled_end > ?2 AND id <> ?4 LIMIT 1";
static const char SQL_BOOK_INSERT[] =
  "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at,"
  " doctor_id, patient_id, scheduled_end, booked_by)"
  " VALUES (?1, ?2, ?3, ?4, 'scheduled', ?5, ?6, ?7, ?8, ?9)";
static const char SQL_TOKEN_EXTEND_DOCTOR[] =
  "UPDATE join_tokens SET expires_at = ?2 WHERE consult_id = ?1 AND role = 'doctor'";
static const char SQL_BOOKING_STATE[] =
  "SELECT status, doctor_id, patient_id, scheduled_start FROM consults WHERE id = ?1";
static const char SQL_RESCHEDULE[] =
  "UPDATE consults SET scheduled_start = ?2, scheduled_end = ?3 WHERE id = ?1";
static const char SQL_NO_SHOW[] =
  "UPDATE consults SET status = 'no-show', no_show_at = ?2, ended_at = ?2, end_reason = 'no-show'"
  " WHERE id = ?1";
static const char SQL_LIST_IDS[] =
  "SELECT id FROM consults WHERE (?1 = 0 OR scheduled_start >= ?1) AND (?2 = 0 OR scheduled_start < ?2)"
  " AND (?3 IS NULL OR doctor_id = ?3) AND (?4 IS NULL OR patient_id = ?4)"
  " AND (?5 IS NULL OR status = ?5) ORDER BY scheduled_start, id LIMIT ?6";

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static gboolean
fail_with (GError **error, TvStoreErrorCode code, const char *message)
{
  g_set_error_literal (error, TV_STORE_ERROR, code, message);
  return FALSE;
}

/* Kinds of tv_store_private_lookup_* entries: in a group commit the same
 * scheduler, doctors and schedules come back batch after batch. */
#define LOOKUP_USER "user"           /* TvUser with roles */
#define LOOKUP_SCHEDULE "schedule"   /* TvSchedule of a doctor */

/* Reads the user @id and requires @role and an enabled account; anything else
 * is NOT_FOUND "no <what> with that id" (not revealing which of the two). In a
 * batch the user read is kept for the next bookings (tv-store-private.h). */
static gboolean
require_user (TvStore *store, const char *id, guint role, const char *what, TvUser **out, GError **error)
{
  const TvUser *user = tv_store_private_lookup_get (store, LOOKUP_USER, id);
  g_autoptr (TvUser) read = NULL;
  if (user == NULL && id != NULL) {
    GError *local = NULL;
    if (!tv_store_user_get (store, id, &read, &local)
        && !g_error_matches (local, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND)) {
      g_propagate_error (error, local);
      return FALSE;
    }
    g_clear_error (&local);
    user = read;
    if (read != NULL && tv_store_private_lookup_put (store, LOOKUP_USER, id, read, (GDestroyNotify) tv_user_free))
      read = NULL;   /* kept: @user still points to it */
  }
  if (user == NULL || (user->roles & role) == 0 || user->disabled) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no %s with that id", what);
    return FALSE;
  }
  if (out != NULL)
    *out = tv_store_private_user_copy (user);
  return TRUE;
}

/* Steps @st expecting DONE; maps the no-double-booking constraints (unique
 * index, overlap triggers) to SLOT_TAKEN. */
static gboolean
exec_booking_write (TvStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
  GError *local = NULL;
  if (tv_store_private_exec_done (store, st, what, &local))
    return TRUE;
  int ext = sqlite3_extended_errcode (tv_store_private_db (store));
  if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_TRIGGER) {
    g_clear_error (&local);
    return fail_with (error, TV_STORE_ERR_SLOT_TAKEN, "that slot is already booked");
  }
  g_propagate_error (error, local);
  return FALSE;
}

static GArray *
weekly_read (TvStore *store, const char *doctor_id, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_AVAIL_GET, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, doctor_id, -1, SQLITE_TRANSIENT);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (TvWeeklyRange));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    TvWeeklyRange r = { (guint) sqlite3_column_int (st, 0), (guint) sqlite3_column_int (st, 1),
                        (guint) sqlite3_column_int (st, 2) };
    g_array_append_val (out, r);
  }
  if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "read availability");
    g_clear_pointer (&out, g_array_unref);
  }
  tv_store_private_stmt_done (st);
  return out;
}

void
tv_store_exception_free (TvStoreException *e)
{
  if (e == NULL)
    return;
  g_free (e->id);
  g_free (e->doctor_id);
  g_free (e);
}

static GPtrArray *
exceptions_read (TvStore *store, const char *doctor_id, const char *from, const char *to, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_EXC_LIST, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, doctor_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, from, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 3, to, -1, SQLITE_TRANSIENT);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_store_exception_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    TvStoreException *e = g_new0 (TvStoreException, 1);
    g_ptr_array_add (out, e);
    e->id = tv_store_private_column_strdup (st, 0);
    e->doctor_id = g_strdup (doctor_id);
    e->ex.start_min = (guint) sqlite3_column_int (st, 3);
    e->ex.end_min = (guint) sqlite3_column_int (st, 4);
    e->created_at = sqlite3_column_int64 (st, 5);
    if (!tv_schedule_parse_date ((const char *) sqlite3_column_text (st, 1), "date", &e->ex.date, NULL)
        || !tv_exception_kind_from_string ((const char *) sqlite3_column_text (st, 2), &e->ex.kind)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "exception row has a bad date or kind");
      g_clear_pointer (&out, g_ptr_array_unref);
      break;
    }
  }
  if (out != NULL && rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "read exceptions");
    g_clear_pointer (&out, g_ptr_array_unref);
  }
  tv_store_private_stmt_done (st);
  return out;
}

/* Builds the schedule of @doctor from the rows (inside the caller's transaction). */
static TvSchedule *
schedule_build (TvStore *store, const TvUser *doctor, GError **error)
{
  g_autoptr (GTimeZone) tz = NULL;
  if (doctor->time_zone != NULL) {
    tz = tv_schedule_timezone_new (doctor->time_zone, NULL);
    if (tz == NULL) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "the doctor's time zone is not known here");
      return NULL;
    }
  } else {
    tz = g_time_zone_new_utc ();
  }
  guint slot = doctor->slot_minutes;
  if (!tv_schedule_check_slot_minutes (slot, NULL))
    slot = TV_SCHEDULE_DEFAULT_SLOT_MINUTES;
  g_autoptr (TvSchedule) s = tv_schedule_new (tz, slot);
  g_autoptr (GArray) weekly = weekly_read (store, doctor->id, error);
  if (weekly == NULL)
    return NULL;
  for (guint i = 0; i < weekly->len; i++) {
    if (!tv_schedule_add_weekly (s, &g_array_index (weekly, TvWeeklyRange, i), NULL)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "stored weekly hours overlap");
      return NULL;
    }
  }
  g_autoptr (GPtrArray) exc = exceptions_read (store, doctor->id, "0000-00-00", "9999-99-99", error);
  if (exc == NULL)
    return NULL;
  for (guint i = 0; i < exc->len; i++) {
    TvStoreException *e = g_ptr_array_index (exc, i);
    if (!tv_schedule_add_exception (s, &e->ex, NULL)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "stored exception is invalid");
      return NULL;
    }
  }
  return g_steal_pointer (&s);
}

static GArray *
booked_read (TvStore *store, const char *doctor_id, gint64 from, gint64 to, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_BOOKED, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, doctor_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, from);
  sqlite3_bind_int64 (st, 3, to);
  sqlite3_bind_int64 (st, 5, from - OVERLAP_MAX_US);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (TvInterval));
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    TvInterval iv = { sqlite3_column_int64 (st, 0), sqlite3_column_int64 (st, 1) };
    g_array_append_val (out, iv);
  }
  if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "read booked consults");
    g_clear_pointer (&out, g_array_unref);
  }
  tv_store_private_stmt_done (st);
  return out;
}

/* TRUE in *@busy when @sql (SQL_DOCTOR_BUSY / SQL_PATIENT_BUSY) finds a row. */
static gboolean
is_busy (TvStore *store, const char *sql, const char *user_id, gint64 start, gint64 end, const char *except_id,
         gboolean *busy, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, user_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, start);
  sqlite3_bind_int64 (st, 3, end);
  sqlite3_bind_text (st, 4, except_id != NULL ? except_id : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 5, start - OVERLAP_MAX_US);
  int rc = sqlite3_step (st);
  gboolean ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
  if (!ok)
    tv_store_private_db_error (store, error, "check overlapping consults");
  *busy = rc == SQLITE_ROW;
  tv_store_private_stmt_done (st);
  return ok;
}

/* The booking rules shared by book and reschedule, inside the transaction:
 * @start in the future, on a slot of @doctor's schedule, the patient free
 * (ignoring @except_id). Whether the doctor is free is left to the write that
 * follows (the no-overlap triggers). Returns: TRUE with *@slot. */
static gboolean
check_bookable (TvStore *store, const TvUser *doctor, const char *patient_id, gint64 start, gint64 now,
                const char *except_id, TvInterval *slot, GError **error)
{
  if (start <= now)
    return fail_with (error, TV_STORE_ERR_INVALID, "start is in the past");
  /* In a batch the doctor's schedule is kept for their next bookings; it is
   * only read (tv_schedule_match_slot), and used before the next statement. */
  TvSchedule *schedule = (TvSchedule *) tv_store_private_lookup_get (store, LOOKUP_SCHEDULE, doctor->id);
  g_autoptr (TvSchedule) built = NULL;
  if (schedule == NULL) {
    built = schedule_build (store, doctor, error);
    if (built == NULL)
      return FALSE;
    schedule = built;
    if (tv_store_private_lookup_put (store, LOOKUP_SCHEDULE, doctor->id, built, (GDestroyNotify) tv_schedule_free))
      built = NULL;   /* kept: @schedule still points to it */
  }
  switch (tv_schedule_match_slot (schedule, start, slot)) {
  case TV_SLOT_MATCH:
    break;
  case TV_SLOT_MISALIGNED:
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID,
                 "start is not on a slot boundary (the doctor's slots are %u minutes, counted from the"
                 " start of their hours)", tv_schedule_get_slot_minutes (schedule));
    return FALSE;
  case TV_SLOT_OUTSIDE:
    return fail_with (error, TV_STORE_ERR_INVALID, "start is outside the doctor's available hours");
  }
  /* The doctor's side is the no-overlap triggers' own check (the same
   * condition as SQL_DOCTOR_BUSY, on the INSERT or UPDATE that follows; its
   * failure is SLOT_TAKEN through exec_booking_write), so it is asked here
   * only to give a taken slot precedence over a busy patient, as it always
   * had: one statement less for every booking that goes through. */
  gboolean busy = FALSE;
  if (!is_busy (store, SQL_PATIENT_BUSY, patient_id, slot->start, slot->end, except_id, &busy, error))
    return FALSE;
  if (!busy)
    return TRUE;
  if (!is_busy (store, SQL_DOCTOR_BUSY, doctor->id, slot->start, slot->end, except_id, &busy, error))
    return FALSE;
  if (busy)
    return fail_with (error, TV_STORE_ERR_SLOT_TAKEN, "that slot is already booked");
  return fail_with (error, TV_STORE_ERR_CONFLICT, "the patient already has a consult overlapping that time");
}

static gboolean
token_insert (TvStore *store, const char *consult_id, const char *role, gint64 expires, gint64 now,
              char **out, GError **error)
{
  return tv_store_private_join_token_issue (store, consult_id, role, expires, now, out, error);
}

/* Runs a one-row statement (?1 = @id, ?2 = @t) inside the transaction. */
static gboolean
exec_id_time (TvStore *store, const char *sql, const char *id, gint64 t, const char *what, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  if (sqlite3_bind_parameter_count (st) >= 2)
    sqlite3_bind_int64 (st, 2, t);
  gboolean ok = exec_booking_write (store, st, what, error);
  tv_store_private_stmt_done (st);
  return ok;
}

/* A deferred read transaction: the rows read agree with each other without
 * taking the write lock (WAL readers never block the writer). End it with
 * tv_store_private_rollback. */
static gboolean
begin_read (TvStore *store, GError **error)
{
  return tv_store_private_begin_read (store, error);
}

static gboolean
check_positive (gint64 t, const char *what, GError **error)
{
  if (t <= 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s must be a positive time", what);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Availability and exceptions                                                */

GArray *
tv_store_availability_get (TvStore *store, const char *doctor_id, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  if (!begin_read (store, error))
    return NULL;
  GArray *out = NULL;
  if (require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", NULL, error))
    out = weekly_read (store, doctor_id, error);
  tv_store_private_rollback (store);
  return out;
}

gboolean
tv_store_availability_set (TvStore *store, const char *doctor_id, const TvWeeklyRange *ranges, gsize n,
                           gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && (ranges != NULL || n == 0), FALSE);
  GError *local = NULL;
  if (!tv_schedule_check_weekly_set (ranges, n, &local)) {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, local->message);
    g_error_free (local);
    return FALSE;
  }
  if (!check_positive (now, "now", error) || tv_store_private_fault_fail (store, "availability-set", error))
    return FALSE;
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", NULL, error))
    goto fail;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_AVAIL_DELETE, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, doctor_id, -1, SQLITE_TRANSIENT);
  gboolean ok = tv_store_private_exec_done (store, st, "clear availability", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    goto fail;
  for (gsize i = 0; i < n; i++) {
    st = tv_store_private_stmt (store, SQL_AVAIL_INSERT, error);
    if (st == NULL)
      goto fail;
    sqlite3_bind_text (st, 1, doctor_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int (st, 2, (int) ranges[i].weekday);
    sqlite3_bind_int (st, 3, (int) ranges[i].start_min);
    sqlite3_bind_int (st, 4, (int) ranges[i].end_min);
    sqlite3_bind_int64 (st, 5, now);
    ok = tv_store_private_exec_done (store, st, "insert availability", error);
    tv_store_private_stmt_done (st);
    if (!ok)
      goto fail;
  }
  if (!tv_store_private_commit (store, error))
    goto fail;
  g_debug ("availability of doctor %s set (%" G_GSIZE_FORMAT " ranges)", doctor_id, n);
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

gboolean
tv_store_exception_add (TvStore *store, const char *doctor_id, const TvScheduleException *ex, gint64 now,
                        TvStoreException **out, GError **error)
{
  g_return_val_if_fail (store != NULL && ex != NULL, FALSE);
  GError *local = NULL;
  if (!tv_schedule_check_exception (ex, &local)) {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, local->message);
    g_error_free (local);
    return FALSE;
  }
  if (!check_positive (now, "now", error))
    return FALSE;
  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *date = tv_schedule_format_date (&ex->date);
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", NULL, error))
    goto fail;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_EXC_COUNT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, doctor_id, -1, SQLITE_TRANSIENT);
  gint64 count = sqlite3_step (st) == SQLITE_ROW ? sqlite3_column_int64 (st, 0) : -1;
  tv_store_private_stmt_done (st);
  if (count < 0) {
    tv_store_private_db_error (store, error, "count exceptions");
    goto fail;
  }
  if (count >= TV_STORE_MAX_EXCEPTIONS) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID,
                 "a doctor may have at most %d exceptions; remove old ones first", TV_STORE_MAX_EXCEPTIONS);
    goto fail;
  }
  st = tv_store_private_stmt (store, SQL_EXC_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, doctor_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 3, date, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 4, tv_exception_kind_to_string (ex->kind), -1, SQLITE_STATIC);
  sqlite3_bind_int (st, 5, (int) ex->start_min);
  sqlite3_bind_int (st, 6, (int) ex->end_min);
  sqlite3_bind_int64 (st, 7, now);
  gboolean ok = tv_store_private_exec_done (store, st, "insert exception", error);
  tv_store_private_stmt_done (st);
  if (!ok || !tv_store_private_commit (store, error))
    goto fail;
  if (out != NULL) {
    TvStoreException *e = g_new0 (TvStoreException, 1);
    e->id = g_steal_pointer (&id);
    e->doctor_id = g_strdup (doctor_id);
    e->ex = *ex;
    e->created_at = now;
    *out = e;
  }
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

GPtrArray *
tv_store_exception_list (TvStore *store, const char *doctor_id, const GDate *from, const GDate *to,
                         GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  g_autofree char *a = from != NULL ? tv_schedule_format_date (from) : g_strdup ("0000-00-00");
  g_autofree char *b = to != NULL ? tv_schedule_format_date (to) : g_strdup ("9999-99-99");
  if (!begin_read (store, error))
    return NULL;
  GPtrArray *out = NULL;
  if (require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", NULL, error))
    out = exceptions_read (store, doctor_id, a, b, error);
  tv_store_private_rollback (store);
  return out;
}

gboolean
tv_store_exception_remove (TvStore *store, const char *doctor_id, const char *exception_id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (doctor_id == NULL || exception_id == NULL)
    return fail_with (error, TV_STORE_ERR_NOT_FOUND, "no such exception");
  if (!tv_store_private_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_EXC_DELETE, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, exception_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, doctor_id, -1, SQLITE_TRANSIENT);
  gboolean ok = tv_store_private_exec_done (store, st, "delete exception", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    goto fail;
  if (sqlite3_changes (tv_store_private_db (store)) != 1) {
    fail_with (error, TV_STORE_ERR_NOT_FOUND, "no such exception");
    goto fail;
  }
  if (!tv_store_private_commit (store, error))
    goto fail;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

TvSchedule *
tv_store_schedule_load (TvStore *store, const char *doctor_id, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  if (!begin_read (store, error))
    return NULL;
  g_autoptr (TvUser) doctor = NULL;
  TvSchedule *s = NULL;
  if (require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", &doctor, error))
    s = schedule_build (store, doctor, error);
  tv_store_private_rollback (store);
  return s;
}

GArray *
tv_store_booked_intervals (TvStore *store, const char *doctor_id, gint64 from, gint64 to, GError **error)
{
  g_return_val_if_fail (store != NULL && doctor_id != NULL, NULL);
  return booked_read (store, doctor_id, from, to, error);
}

GArray *
tv_store_free_slots (TvStore *store, const char *doctor_id, gint64 from, gint64 to, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  if (from <= 0 || from >= to || to - from > TV_SCHEDULE_MAX_RANGE_US) {
    fail_with (error, TV_STORE_ERR_INVALID, "the range must have from before to and cover at most 31 days");
    return NULL;
  }
  if (!begin_read (store, error))
    return NULL;
  GArray *slots = NULL;
  g_autoptr (TvUser) doctor = NULL;
  g_autoptr (TvSchedule) schedule = NULL;
  g_autoptr (GArray) booked = NULL;
  gint64 first = MAX (from, now);
  if (!require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", &doctor, error))
    goto out;
  if (first >= to) {
    slots = g_array_new (FALSE, FALSE, sizeof (TvInterval));
    goto out;
  }
  schedule = schedule_build (store, doctor, error);
  /* A slot starting before @to may end up to one slot length after it. */
  gint64 slot_us = (gint64) TV_SCHEDULE_MAX_SLOT_MINUTES * 60 * G_USEC_PER_SEC;
  if (schedule != NULL)
    booked = booked_read (store, doctor_id, first, to + slot_us, error);
  if (booked != NULL) {
    GError *local = NULL;
    slots = tv_schedule_free_slots (schedule, first, to, (TvInterval *) booked->data, booked->len, &local);
    if (slots == NULL) {
      g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, local->message);
      g_error_free (local);
    }
  }
out:
  tv_store_private_rollback (store);
  return slots;
}

/* ------------------------------------------------------------------------ */
/* Booking                                                                    */

gboolean
tv_store_consult_book (TvStore *store, const char *doctor_id, const char *patient_id, gint64 start,
                       const char *booked_by, gint64 now, TvConsult **out, char **doctor_token,
                       char **patient_token, GError **error)
{
  g_return_val_if_fail (store != NULL && out != NULL && doctor_token != NULL && patient_token != NULL, FALSE);
  if (!check_positive (start, "start", error) || !check_positive (now, "now", error))
    return FALSE;
  if (doctor_id != NULL && g_strcmp0 (doctor_id, patient_id) == 0)
    return fail_with (error, TV_STORE_ERR_INVALID, "the doctor and the patient must be different users");
  if (tv_store_private_fault_fail (store, "book", error))
    return FALSE;

  g_autoptr (TvUser) doctor = NULL;
  g_autoptr (TvUser) patient = NULL;
  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *dtok = NULL;
  g_autofree char *ptok = NULL;
  TvInterval slot = { 0 };

  /* The write lock first: nobody can book between our check and our insert. */
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", &doctor, error)
      || !require_user (store, patient_id, TV_ROLE_PATIENT, "patient", &patient, error))
    goto fail;
  if (booked_by != NULL && !require_user (store, booked_by, TV_ROLE_ANY, "booking user", NULL, error))
    goto fail;
  if (!check_bookable (store, doctor, patient_id, start, now, NULL, &slot, error))
    goto fail;

  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_BOOK_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, doctor->display_name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 3, patient->display_name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 4, slot.start);
  sqlite3_bind_int64 (st, 5, now);
  sqlite3_bind_text (st, 6, doctor_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 7, patient_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 8, slot.end);
  if (booked_by != NULL)
    sqlite3_bind_text (st, 9, booked_by, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (st, 9);
  gboolean ok = exec_booking_write (store, st, "insert consult", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    goto fail;
  tv_store_private_fault_point (store, "book-after-consult");
  tv_store_private_audit_subject (store, id, patient_id);
  gint64 expires = slot.end + TV_STORE_BOOKING_TOKEN_GRACE_US;
  if (!tv_store_private_join_token_issue_new (store, id, "doctor", expires, now, &dtok, error)
      || !tv_store_private_join_token_issue_new (store, id, "patient", expires, now, &ptok, error)
      || !tv_store_reminders_private_booked (store, id, slot.start, slot.end, now, error)
      || !tv_store_private_commit (store, error))
    goto fail;

  TvConsult *c = g_new0 (TvConsult, 1);
  c->id = g_steal_pointer (&id);
  c->doctor = g_strdup (doctor->display_name);
  c->patient = g_strdup (patient->display_name);
  c->scheduled_start = slot.start;
  c->status = TV_CONSULT_SCHEDULED;
  c->created_at = now;
  c->doctor_id = g_strdup (doctor_id);
  c->patient_id = g_strdup (patient_id);
  c->scheduled_end = slot.end;
  c->booked_by = g_strdup (booked_by);
  *out = c;
  *doctor_token = g_steal_pointer (&dtok);
  *patient_token = g_steal_pointer (&ptok);
  g_debug ("consult %s booked", c->id);
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

/* Reads what reschedule/no-show need; NOT_FOUND when there is no such consult. */
static gboolean
booking_state (TvStore *store, const char *id, char **status, char **doctor_id, char **patient_id,
               gint64 *start, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_BOOKING_STATE, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  gboolean ok = FALSE;
  if (rc == SQLITE_ROW) {
    *status = tv_store_private_column_strdup (st, 0);
    *doctor_id = tv_store_private_column_strdup (st, 1);
    *patient_id = tv_store_private_column_strdup (st, 2);
    *start = sqlite3_column_int64 (st, 3);
    ok = TRUE;
  } else if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult with id %s", id);
  } else {
    tv_store_private_db_error (store, error, "read consult");
  }
  tv_store_private_stmt_done (st);
  return ok;
}

gboolean
tv_store_consult_reschedule (TvStore *store, const char *id, gint64 start, gint64 now, TvConsult **out,
                             char **patient_token, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL && out != NULL && patient_token != NULL, FALSE);
  if (!check_positive (start, "start", error) || !check_positive (now, "now", error)
      || tv_store_private_fault_fail (store, "reschedule", error))
    return FALSE;
  g_autofree char *status = NULL;
  g_autofree char *doctor_id = NULL;
  g_autofree char *patient_id = NULL;
  g_autofree char *ptok = NULL;
  g_autoptr (TvUser) doctor = NULL;
  gint64 old_start = 0;
  TvInterval slot = { 0 };

  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!booking_state (store, id, &status, &doctor_id, &patient_id, &old_start, error))
    goto fail;
  if (g_strcmp0 (status, "scheduled") != 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "consult %s is %s, cannot reschedule it", id,
                 status);
    goto fail;
  }
  if (doctor_id == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE,
                 "consult %s was not booked for a doctor's schedule, cannot reschedule it", id);
    goto fail;
  }
  /* The doctor may have been disabled since: then nobody can book with them. */
  if (!require_user (store, doctor_id, TV_ROLE_DOCTOR, "doctor", &doctor, error)
      || !check_bookable (store, doctor, patient_id, start, now, id, &slot, error))
    goto fail;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_RESCHEDULE, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, slot.start);
  sqlite3_bind_int64 (st, 3, slot.end);
  gboolean ok = exec_booking_write (store, st, "reschedule consult", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    goto fail;
  tv_store_private_fault_point (store, "reschedule-after-update");
  gint64 expires = slot.end + TV_STORE_BOOKING_TOKEN_GRACE_US;
  /* token_insert replaces (revokes) the patient's old token. */
  if (!exec_id_time (store, SQL_TOKEN_EXTEND_DOCTOR, id, expires, "extend doctor token", error)
      || !token_insert (store, id, "patient", expires, now, &ptok, error)
      || !tv_store_reminders_private_rescheduled (store, id, slot.start, slot.end, now, error)
      || !tv_store_private_commit (store, error))
    goto fail;
  if (!tv_store_consult_get (store, id, out, error)) {
    /* Committed: the new token must not be lost because a re-read failed. */
    g_warning ("consult %s rescheduled, but re-reading it failed", id);
    TvConsult *c = g_new0 (TvConsult, 1);
    c->id = g_strdup (id);
    c->scheduled_start = slot.start;
    c->scheduled_end = slot.end;
    c->status = TV_CONSULT_SCHEDULED;
    c->doctor_id = g_steal_pointer (&doctor_id);
    c->patient_id = g_steal_pointer (&patient_id);
    *out = c;
    g_clear_error (error);
  }
  *patient_token = g_steal_pointer (&ptok);
  g_debug ("consult %s rescheduled", id);
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

gboolean
tv_store_consult_no_show (TvStore *store, const char *id, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, FALSE);
  if (!check_positive (now, "now", error))
    return FALSE;
  g_autofree char *status = NULL;
  g_autofree char *doctor_id = NULL;
  g_autofree char *patient_id = NULL;
  gint64 start = 0;
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!booking_state (store, id, &status, &doctor_id, &patient_id, &start, error))
    goto fail;
  if (g_strcmp0 (status, "scheduled") != 0 && g_strcmp0 (status, "waiting") != 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "consult %s is %s, cannot mark it no-show",
                 id, status);
    goto fail;
  }
  if (now < start) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE,
                 "consult %s has not started yet, cannot mark it no-show", id);
    goto fail;
  }
  if (!exec_id_time (store, SQL_NO_SHOW, id, now, "mark no-show", error)
      || !tv_store_reminders_private_over (store, id, "no-show", now, error)
      || !tv_store_private_commit (store, error))
    goto fail;
  g_debug ("consult %s marked no-show", id);
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

GPtrArray *
tv_store_consult_list_filtered (TvStore *store, const TvConsultFilter *filter, GError **error)
{
  g_return_val_if_fail (store != NULL && filter != NULL, NULL);
  if (!begin_read (store, error))
    return NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *out = NULL;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_LIST_IDS, error);
  if (st == NULL)
    goto done;
  sqlite3_bind_int64 (st, 1, MAX (filter->from, 0));
  sqlite3_bind_int64 (st, 2, MAX (filter->to, 0));
  if (filter->doctor_id != NULL)
    sqlite3_bind_text (st, 3, filter->doctor_id, -1, SQLITE_TRANSIENT);
  if (filter->patient_id != NULL)
    sqlite3_bind_text (st, 4, filter->patient_id, -1, SQLITE_TRANSIENT);
  if (filter->has_status)
    sqlite3_bind_text (st, 5, tv_consult_status_to_string (filter->status), -1, SQLITE_STATIC);
  guint limit = filter->limit == 0 || filter->limit > TV_STORE_CONSULT_LIST_MAX ? TV_STORE_CONSULT_LIST_MAX
                                                                                 : filter->limit;
  sqlite3_bind_int64 (st, 6, limit);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (ids, tv_store_private_column_strdup (st, 0));
  tv_store_private_stmt_done (st);
  if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "list consults");
    goto done;
  }
  /* One reader for the row format: tv_store_consult_get, in the same read transaction. */
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_consult_free);
  for (guint i = 0; i < ids->len; i++) {
    TvConsult *c = NULL;
    if (!tv_store_consult_get (store, g_ptr_array_index (ids, i), &c, error)) {
      g_clear_pointer (&out, g_ptr_array_unref);
      break;
    }
    g_ptr_array_add (out, c);
  }
done:
  tv_store_private_rollback (store);
  return out;
}
