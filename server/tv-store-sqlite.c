/* tv-store-sqlite.c — the session store (server/tv-store.h) on SQLite.
 *
 * Why: consults, join tokens and the participation log must survive server
 * restarts and be shared with televisitctl, which opens the same file from
 * another process. SQLite in WAL mode with a busy timeout gives that; every
 * state change is one BEGIN IMMEDIATE ... COMMIT transaction (ROLLBACK on any
 * error), so a crash leaves either the old or the new state, never half of it.
 * Schema versions live in PRAGMA user_version and are reached by a table of
 * migration steps, one transaction each.
 *
 * Thread: a TvStore is used by one thread only (the server's main loop, its
 * store writer thread through a second TvStore of its own — tv_store_open_writer —
 * or the admin tool); SQLite is opened with SQLITE_OPEN_NOMUTEX accordingly.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store.h"
#include "server/tv-store-private.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-billing.h"
#include "server/tv-join-link.h"
#include "server/tv-store-schema.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-seal.h"
#include "server/tv-store-users.h"
#include "server/tv-store-waitroom.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sqlite3.h>

/* Writers wait this long for each other (the server's main loop vs. its
 * store writer thread, the server vs. televisitctl). */
#define BUSY_TIMEOUT_MS 5000
/* While the write lock is busy, retry every BUSY_RETRY_US (a short sleep that
 * yields the core) for the first BUSY_FAST_MS, then every millisecond up to
 * BUSY_TIMEOUT_MS. SQLite's own handler (sqlite3_busy_timeout) sleeps 1, 2, 5,
 * 10, 15, 20, 25, 25, 25, 50 ... ms between tries, so a main-loop write (a
 * login, a participation row) that met the writer thread's open batch waited
 * up to the next step past its COMMIT, stalling all signaling meanwhile:
 * median wait 8.4 -> 3.8 ms with this handler (docs/BENCHMARKS.md). */
#define BUSY_RETRY_US 200
#define BUSY_FAST_MS 50
#define FAULT_EXIT_CODE 99
/* Page cache of every connection tv_store_open makes, in KiB (the server's
 * main connection lowers it with tv_store_set_cache_limit). */
#define STORE_CACHE_KIB 16384
/* At most this many look-ups kept for group commits (users and schedules;
 * all are dropped when it is reached). */
#define LOOKUPS_MAX 4096

struct _TvStore {
  sqlite3 *db;
  GHashTable *stmts;   /* const char *sql (static, by address) -> sqlite3_stmt * */
  char **faults;       /* TV_STORE_FAULT points, NULL-terminated, or NULL */
  TvStoreAuditStage audit_stage;   /* the row the next write commit carries (tv-store-audit.h) */
  TvStoreSeal *seal;   /* encryption at rest: key ring (tv-store-seal.c) */
  TvJoinLinkKey *join_key;  /* derives join tokens when set (server/tv-join-link.h) */
  gboolean batch;      /* a group-commit transaction is open (tv_store_batch_begin) */
  int batch_savepoints; /* savepoints open inside it (one per store call's transaction) */
  TvStoreCheckpointer *checkpointer;  /* WAL checkpoints off this thread; NULL for :memory: */
  gint64 busy_since;   /* monotonic us when the current wait for a lock began (busy_retry) */
  TvStoreSessionCache session_cache;  /* tv_store_session_lookup's answers (tv-store-users.c) */
  GHashTable *lookups;  /* "kind/id" -> Lookup: tv_store_private_lookup_*, or NULL */
  gint64 lookups_version;  /* PRAGMA data_version when the last batch began */
};

G_DEFINE_QUARK (tv-store-error-quark, tv_store_error)

/* SQLite busy handler of every store connection (see BUSY_RETRY_US): @count
 * is the number of earlier calls for this lock wait (0 = the first).
 * Returns: 1 to try again, 0 to give up (SQLITE_BUSY) once BUSY_TIMEOUT_MS passed. */
static int
busy_retry (void *data, int count)
{
  TvStore *store = data;
  gint64 now = g_get_monotonic_time ();
  if (count == 0)
    store->busy_since = now;
  gint64 waited = now - store->busy_since;
  if (waited >= (gint64) BUSY_TIMEOUT_MS * 1000)
    return 0;
  g_usleep (waited < (gint64) BUSY_FAST_MS * 1000 ? BUSY_RETRY_US : 1000);
  return 1;
}

/* ------------------------------------------------------------------------ */
/* Schema and migrations                                                      */

/* Version 1. STRICT tables make SQLite enforce the column types; CHECKs keep
 * the enumerations and limits true whatever process writes the file. */
static const char SCHEMA_V1[] =
  "CREATE TABLE consults ("
  "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),"
  "  doctor TEXT NOT NULL CHECK (length(CAST(doctor AS BLOB)) BETWEEN 1 AND 200),"
  "  patient TEXT NOT NULL CHECK (length(CAST(patient AS BLOB)) BETWEEN 1 AND 200),"
  "  scheduled_start INTEGER NOT NULL CHECK (scheduled_start > 0),"
  "  status TEXT NOT NULL"
  "    CHECK (status IN ('scheduled', 'in-progress', 'completed', 'cancelled')),"
  "  created_at INTEGER NOT NULL CHECK (created_at > 0),"
  "  started_at INTEGER NOT NULL DEFAULT 0 CHECK (started_at >= 0),"
  "  ended_at INTEGER NOT NULL DEFAULT 0 CHECK (ended_at >= 0),"
  "  connected_us INTEGER NOT NULL DEFAULT 0 CHECK (connected_us >= 0),"
  "  media_up_since INTEGER NOT NULL DEFAULT 0 CHECK (media_up_since >= 0),"
  "  end_reason TEXT,"
  "  CHECK ((status IN ('completed', 'cancelled')) = (end_reason IS NOT NULL)),"
  "  CHECK (media_up_since = 0 OR status = 'in-progress')"
  ") STRICT;"
  "CREATE INDEX consults_by_start ON consults (scheduled_start);"
  "CREATE TABLE join_tokens ("
  "  sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),"
  "  consult_id TEXT NOT NULL REFERENCES consults (id) ON DELETE CASCADE,"
  "  role TEXT NOT NULL CHECK (role IN ('doctor', 'patient')),"
  "  expires_at INTEGER NOT NULL,"
  "  created_at INTEGER NOT NULL,"
  "  UNIQUE (consult_id, role)"
  ") STRICT;"
  "CREATE TABLE participation ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  consult_id TEXT NOT NULL REFERENCES consults (id) ON DELETE CASCADE,"
  "  at INTEGER NOT NULL,"
  "  role TEXT NOT NULL CHECK (role IN ('doctor', 'patient')),"
  "  event TEXT NOT NULL CHECK (event IN ('join', 'leave', 'media-up', 'media-down')),"
  "  detail TEXT"
  ") STRICT;"
  "CREATE INDEX participation_by_consult ON participation (consult_id, at, id);";

/* migrations[i] takes the database from version i to i + 1. */
static const char *const migrations[] = {
  SCHEMA_V1,
  TV_STORE_USERS_SCHEMA_V2,   /* accounts: server/tv-store-users.h */
  TV_STORE_SCHEDULE_SCHEMA_V3, /* schedule: server/tv-store-schedule.h (rebuilds consults) */
  TV_STORE_WAITROOM_SCHEMA_V4, /* waitroom: server/tv-store-waitroom.h (arrival, admission) */
  TV_STORE_AUDIT_SCHEMA_V5,    /* audit trail: server/tv-store-audit.h (append-only, hash-chained) */
  TV_STORE_BILLING_SCHEMA_V6,  /* consult facts, billing lines: server/tv-store-billing-schema.c */
  TV_STORE_REMINDERS_SCHEMA_V7, /* reminder outbox: server/tv-store-reminders-schema.c */
  TV_STORE_CHAT_SCHEMA_V8,     /* in-call chat: server/tv-store-chat-schema.c */
  TV_STORE_BOOKING_SCHEMA_V9,  /* bounded no-overlap triggers: server/tv-store-booking-schema.c */
  TV_STORE_BOOKING_SCHEMA_V10, /* reminders_due partial (open reminders): the same file */
};
G_STATIC_ASSERT (G_N_ELEMENTS (migrations) == TV_STORE_SCHEMA_VERSION);

/* ------------------------------------------------------------------------ */
/* Statements (all parameters bound, never formatted into SQL)               */

static const char SQL_CONSULT_INSERT[] =
  "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at)"
  " VALUES (?1, ?2, ?3, ?4, 'scheduled', ?5)";
static const char SQL_TOKEN_LOOKUP[] =
  "SELECT consult_id, role, expires_at FROM join_tokens WHERE sha256 = ?1";
#define CONSULT_COLUMNS \
  "id, doctor, patient, scheduled_start, status, created_at, started_at, ended_at," \
  " connected_us, media_up_since, end_reason," \
  " doctor_id, patient_id, scheduled_end, cancelled_at, no_show_at, booked_by," \
  " arrived_at, admitted_at, wait_us"
static const char SQL_CONSULT_GET[] =
  "SELECT " CONSULT_COLUMNS " FROM consults WHERE id = ?1";
static const char SQL_CONSULT_LIST[] =
  "SELECT " CONSULT_COLUMNS " FROM consults"
  " ORDER BY scheduled_start DESC, created_at DESC, id";
static const char SQL_CONSULT_STATE[] =
  "SELECT status, media_up_since FROM consults WHERE id = ?1";
static const char SQL_CONSULT_EXISTS[] =
  "SELECT 1 FROM consults WHERE id = ?1";
static const char SQL_PART_INSERT[] =
  "INSERT INTO participation (consult_id, at, role, event, detail)"
  " VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_PART_LIST[] =
  "SELECT at, role, event, detail FROM participation WHERE consult_id = ?1"
  " ORDER BY at, id";
static const char SQL_MEDIA_START[] =
  "UPDATE consults SET status = 'in-progress', media_up_since = ?2,"
  " started_at = CASE WHEN started_at = 0 THEN ?2 ELSE started_at END"
  " WHERE id = ?1";
/* Closing an interval never subtracts: a clock stepping back counts as 0. */
static const char SQL_MEDIA_STOP[] =
  "UPDATE consults SET connected_us = connected_us + max(0, ?2 - media_up_since),"
  " media_up_since = 0 WHERE id = ?1 AND media_up_since <> 0";
static const char SQL_COMPLETE_STATUS[] =
  "UPDATE consults SET status = 'completed', ended_at = ?2, end_reason = ?3,"
  " connected_us = connected_us + max(0, ?2 - media_up_since) * (media_up_since <> 0),"
  " media_up_since = 0 WHERE id = ?1";
static const char SQL_CLOSE_OPEN[] =
  "UPDATE consults SET connected_us = connected_us + max(0, ?1 - media_up_since),"
  " media_up_since = 0 WHERE media_up_since <> 0";
static const char SQL_CANCEL[] =
  "UPDATE consults SET status = 'cancelled', ended_at = ?2, cancelled_at = ?2, end_reason = ?3 WHERE id = ?1";

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */

const char *
tv_consult_status_to_string (TvConsultStatus status)
{
  switch (status) {
  case TV_CONSULT_SCHEDULED: return "scheduled";
  case TV_CONSULT_IN_PROGRESS: return "in-progress";
  case TV_CONSULT_COMPLETED: return "completed";
  case TV_CONSULT_CANCELLED: return "cancelled";
  case TV_CONSULT_NO_SHOW: return "no-show";
  case TV_CONSULT_WAITING: return "waiting";
  }
  return "unknown";
}

static gboolean
status_from_string (const char *s, TvConsultStatus *out)
{
  static const TvConsultStatus all[] = {
    TV_CONSULT_SCHEDULED, TV_CONSULT_IN_PROGRESS, TV_CONSULT_COMPLETED, TV_CONSULT_CANCELLED,
    TV_CONSULT_NO_SHOW, TV_CONSULT_WAITING,
  };
  for (guint i = 0; s != NULL && i < G_N_ELEMENTS (all); i++) {
    if (strcmp (s, tv_consult_status_to_string (all[i])) == 0) {
      *out = all[i];
      return TRUE;
    }
  }
  return FALSE;
}

const char *
tv_participation_event_to_string (TvParticipationEvent ev)
{
  switch (ev) {
  case TV_PART_JOIN: return "join";
  case TV_PART_LEAVE: return "leave";
  case TV_PART_MEDIA_UP: return "media-up";
  case TV_PART_MEDIA_DOWN: return "media-down";
  }
  return NULL;
}

static gboolean
event_from_string (const char *s, TvParticipationEvent *out)
{
  static const TvParticipationEvent all[] = {
    TV_PART_JOIN, TV_PART_LEAVE, TV_PART_MEDIA_UP, TV_PART_MEDIA_DOWN,
  };
  for (guint i = 0; s != NULL && i < G_N_ELEMENTS (all); i++) {
    if (strcmp (s, tv_participation_event_to_string (all[i])) == 0) {
      *out = all[i];
      return TRUE;
    }
  }
  return FALSE;
}

/* Own role mapping (same words as the protocol) so the store does not need
 * libtvsig at link time. */
static const char *
role_to_db (TvSigRole role)
{
  switch (role) {
  case TV_SIG_ROLE_DOCTOR: return "doctor";
  case TV_SIG_ROLE_PATIENT: return "patient";
  case TV_SIG_ROLE_NONE: break;
  }
  return NULL;
}

static gboolean
role_from_db (const char *s, TvSigRole *out)
{
  if (g_strcmp0 (s, "doctor") == 0)
    *out = TV_SIG_ROLE_DOCTOR;
  else if (g_strcmp0 (s, "patient") == 0)
    *out = TV_SIG_ROLE_PATIENT;
  else
    return FALSE;
  return TRUE;
}

void
tv_consult_free (TvConsult *consult)
{
  if (consult == NULL)
    return;
  g_free (consult->id);
  g_free (consult->doctor);
  g_free (consult->patient);
  g_free (consult->end_reason);
  g_free (consult->doctor_id);
  g_free (consult->patient_id);
  g_free (consult->booked_by);
  g_free (consult);
}

void
tv_participation_free (TvParticipation *p)
{
  if (p == NULL)
    return;
  g_free (p->detail);
  g_free (p);
}

/* Sets @error from the connection's last SQLite error. SQLite's messages name
 * tables and constraints, never bound values, so no patient data leaks. */
static void
set_db_error (TvStore *store, GError **error, const char *what)
{
  g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: %s (SQLite %d)", what,
               sqlite3_errmsg (store->db), sqlite3_extended_errcode (store->db));
}

static gboolean
has_fault (TvStore *store, const char *point)
{
  return store->faults != NULL && g_strv_contains ((const char *const *) store->faults, point);
}

/* Test-only crash point: see TV_STORE_FAULT in tv-store.h. */
static void
fault_point (TvStore *store, const char *point)
{
  if (has_fault (store, point)) {
    g_printerr ("tv-store: TV_STORE_FAULT %s: exiting inside the transaction\n", point);
    _exit (FAULT_EXIT_CODE);
  }
}

/* Test-only failure point "fail:<op>": returns TRUE (with @error) to fail @op. */
static gboolean
fault_fail (TvStore *store, const char *op, GError **error)
{
  if (store->faults == NULL)
    return FALSE;
  g_autofree char *point = g_strconcat ("fail:", op, NULL);
  if (!has_fault (store, point))
    return FALSE;
  g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: injected failure (TV_STORE_FAULT)", op);
  return TRUE;
}

static void
finalize_stmt (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

/* Returns: (transfer none) the cached prepared statement for @sql (a static
 * string above, cached by address), reset and unbound; NULL with @error. */
static sqlite3_stmt *
stmt_get (TvStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *st = g_hash_table_lookup (store->stmts, sql);
  if (st != NULL)
    return st;
  if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    set_db_error (store, error, "prepare");
    sqlite3_finalize (st);
    return NULL;
  }
  g_hash_table_insert (store->stmts, (gpointer) sql, st);
  return st;
}

/* Makes @st ready for its next use and drops references to bound values. */
static void
stmt_done (sqlite3_stmt *st)
{
  if (st == NULL)
    return;
  sqlite3_reset (st);
  sqlite3_clear_bindings (st);
}

/* Runs a statement that returns no rows. */
static gboolean
stmt_exec_done (TvStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
  int rc = sqlite3_step (st);
  if (rc != SQLITE_DONE) {
    set_db_error (store, error, what);
    return FALSE;
  }
  return TRUE;
}

static gboolean
exec_sql (TvStore *store, const char *sql, const char *what, GError **error)
{
  char *msg = NULL;
  if (sqlite3_exec (store->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: %s (SQLite %d)", what,
                 msg != NULL ? msg : "failed", sqlite3_extended_errcode (store->db));
    sqlite3_free (msg);
    return FALSE;
  }
  return TRUE;
}

/* The savepoint statements of a batch, prepared once (stmt_get caches by
 * address): each store call inside a batch opens and releases one, and
 * sqlite3_exec parsed them every time — ~2 % of the writer thread's CPU under
 * booking load (docs/BENCHMARKS.md, 2026-11-29 (3)). */
static const char SQL_SAVEPOINT[] = "SAVEPOINT tv_tx";
static const char SQL_RELEASE[] = "RELEASE tv_tx";

/* Runs a cached statement that returns no rows (@sql: a static string).
 * Returns: TRUE; FALSE with IO naming @what. */
static gboolean
exec_cached (TvStore *store, const char *sql, const char *what, GError **error)
{
  sqlite3_stmt *st = stmt_get (store, sql, error);
  if (st == NULL)
    return FALSE;
  gboolean ok = stmt_exec_done (store, st, what, error);
  stmt_done (st);
  return ok;
}

/* Inside a group-commit batch every store call's transaction is a savepoint
 * of the batch's transaction. The batch's transaction must still be open: an
 * error that made SQLite roll it back (I/O, disk full) must not let later
 * calls start a fresh one whose commit would look like the batch's. */
static gboolean
savepoint_begin (TvStore *store, GError **error)
{
  if (sqlite3_get_autocommit (store->db)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "the batch's transaction was rolled back");
    return FALSE;
  }
  if (!exec_cached (store, SQL_SAVEPOINT, "begin savepoint", error))
    return FALSE;
  store->batch_savepoints++;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Look-ups kept for group commits (tv-store-private.h)                       */

typedef struct {
  gpointer value;
  GDestroyNotify free_func;
} Lookup;

static void
lookup_free (gpointer data)
{
  Lookup *l = data;
  l->free_func (l->value);
  g_free (l);
}

static void
lookups_drop (TvStore *store)
{
  g_clear_pointer (&store->lookups, g_hash_table_unref);
}

/* sqlite3_update_hook: this connection changed a row of @table. */
static void
lookups_update_hook (void *data, int op, const char *db, const char *table, sqlite3_int64 rowid)
{
  static const char *const watched[] = { "users", "user_roles", "availability", "availability_exceptions", NULL };
  if (g_strv_contains (watched, table))
    lookups_drop (data);
}

/* sqlite3_rollback_hook: a transaction was rolled back (also SQLite's own,
 * after a failed COMMIT); whatever was read inside it may not have lasted. */
static void
lookups_rollback_hook (void *data)
{
  lookups_drop (data);
}

gint64
tv_store_private_data_version (TvStore *store)
{
  static const char SQL_DATA_VERSION[] = "PRAGMA data_version";
  sqlite3_stmt *st = stmt_get (store, SQL_DATA_VERSION, NULL);
  gint64 version = -1;
  if (st != NULL) {
    if (sqlite3_step (st) == SQLITE_ROW)
      version = sqlite3_column_int64 (st, 0);
    stmt_done (st);
  }
  return version;
}

/* At a batch's start, inside its BEGIN IMMEDIATE: drops the look-ups when
 * another connection committed since the last batch (or the version cannot
 * be read). */
static void
lookups_check (TvStore *store)
{
  gint64 version = tv_store_private_data_version (store);
  if (version < 0 || version != store->lookups_version)
    lookups_drop (store);
  store->lookups_version = version;
}

gconstpointer
tv_store_private_lookup_get (TvStore *store, const char *kind, const char *id)
{
  if (!store->batch || store->lookups == NULL || id == NULL)
    return NULL;
  g_autofree char *key = g_strconcat (kind, "/", id, NULL);
  Lookup *l = g_hash_table_lookup (store->lookups, key);
  return l != NULL ? l->value : NULL;
}

gboolean
tv_store_private_lookup_put (TvStore *store, const char *kind, const char *id, gpointer value,
                             GDestroyNotify free_func)
{
  if (!store->batch || id == NULL)
    return FALSE;
  if (store->lookups == NULL)
    store->lookups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, lookup_free);
  if (g_hash_table_size (store->lookups) >= LOOKUPS_MAX)
    g_hash_table_remove_all (store->lookups);
  Lookup *l = g_new (Lookup, 1);
  l->value = value;
  l->free_func = free_func;
  g_hash_table_replace (store->lookups, g_strconcat (kind, "/", id, NULL), l);
  return TRUE;
}

/* BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy
 * timeout), so a read-then-write transition cannot be overtaken by another
 * process between its check and its write. */
static gboolean
tx_begin (TvStore *store, GError **error)
{
  if (store->batch)
    return savepoint_begin (store, error);
  return exec_sql (store, "BEGIN IMMEDIATE", "begin transaction", error);
}

/* A staged audit row (tv_store_audit_stage) is appended inside the
 * transaction, just before COMMIT: the change and the row that records it
 * commit together or not at all. In a batch, "commit" releases the savepoint
 * (the row is then in the batch, which commits or rolls back as a whole). */
static gboolean
tx_commit (TvStore *store, GError **error)
{
  gboolean with_audit = FALSE;
  if (!tv_store_private_audit_flush (store, &with_audit, error))
    return FALSE;
  if (with_audit)
    fault_point (store, "audit-before-commit");
  if (store->batch) {
    if (store->batch_savepoints <= 0 || !exec_cached (store, SQL_RELEASE, "release savepoint", error))
      return FALSE;
    store->batch_savepoints--;
  } else if (!exec_sql (store, "COMMIT", "commit", error)) {
    return FALSE;
  }
  if (with_audit)
    tv_store_private_audit_committed (store);
  return TRUE;
}

/* Safe to call whether or not a transaction is open (after a failed COMMIT
 * SQLite may already have rolled back). In a batch: undoes the innermost
 * savepoint only, if one is open. */
static void
tx_rollback (TvStore *store)
{
  lookups_drop (store);   /* a savepoint's rollback too: what it read may be gone */
  if (store->batch) {
    if (store->batch_savepoints > 0) {
      store->batch_savepoints--;
      if (!sqlite3_get_autocommit (store->db))
        sqlite3_exec (store->db, "ROLLBACK TO tv_tx; RELEASE tv_tx", NULL, NULL, NULL);
    }
    return;
  }
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

/* A deferred read transaction (no write lock: WAL readers never block the
 * writer); in a batch, a savepoint, so tx_rollback ends it either way. */
static gboolean
tx_begin_read (TvStore *store, GError **error)
{
  if (store->batch)
    return savepoint_begin (store, error);
  return exec_sql (store, "BEGIN", "begin read", error);
}

gboolean
tv_store_batch_begin (TvStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL && !store->batch, FALSE);
  if (!exec_sql (store, "BEGIN IMMEDIATE", "begin batch", error))
    return FALSE;
  store->batch = TRUE;
  store->batch_savepoints = 0;
  lookups_check (store);
  return TRUE;
}

gboolean
tv_store_batch_commit (TvStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL && store->batch, FALSE);
  gboolean ok;
  if (store->batch_savepoints != 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "batch: %d savepoint(s) left open",
                 store->batch_savepoints);
    ok = FALSE;
  } else if (sqlite3_get_autocommit (store->db)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "the batch's transaction was rolled back");
    ok = FALSE;
  } else {
    fault_point (store, "batch-before-commit");
    ok = fault_fail (store, "batch-commit", error) ? FALSE : exec_sql (store, "COMMIT", "commit batch", error);
  }
  store->batch = FALSE;
  store->batch_savepoints = 0;
  if (!ok && !sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
  return ok;
}

gboolean
tv_store_in_batch (TvStore *store)
{
  return store != NULL && store->batch;
}

static gboolean
check_time (gint64 t, const char *what, GError **error)
{
  if (t <= 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s must be a positive time", what);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_text (const char *text, gsize max, const char *what, GError **error)
{
  if (text == NULL || *text == '\0') {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s is empty", what);
    return FALSE;
  }
  if (strlen (text) > max) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s is longer than %" G_GSIZE_FORMAT " bytes",
                 what, max);
    return FALSE;
  }
  if (!g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s is not valid UTF-8", what);
    return FALSE;
  }
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p))) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s contains control characters", what);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
tv_store_check_name (const char *name, GError **error)
{
  if (!check_text (name, TV_STORE_MAX_NAME_BYTES, "name", error))
    return FALSE;
  for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p)) {
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return TRUE;
  }
  g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "name is blank");
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Helpers for the area files (server/tv-store-private.h)                     */

TvStoreSeal *
tv_store_private_seal_state (TvStore *store)
{
  return store->seal;
}

sqlite3 *
tv_store_private_db (TvStore *store)
{
  return store->db;
}

sqlite3_stmt *
tv_store_private_stmt (TvStore *store, const char *sql, GError **error)
{
  return stmt_get (store, sql, error);
}

void
tv_store_private_stmt_done (sqlite3_stmt *st)
{
  stmt_done (st);
}

gboolean
tv_store_private_exec_done (TvStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
  if (stmt_exec_done (store, st, what, error))
    return TRUE;
  int ext = sqlite3_extended_errcode (store->db);
  if (error != NULL && *error != NULL
      && (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY))
    (*error)->code = TV_STORE_ERR_CONFLICT;
  return FALSE;
}

void
tv_store_private_db_error (TvStore *store, GError **error, const char *what)
{
  set_db_error (store, error, what);
}

gboolean
tv_store_private_begin (TvStore *store, GError **error)
{
  return tx_begin (store, error);
}

gboolean
tv_store_private_begin_read (TvStore *store, GError **error)
{
  return tx_begin_read (store, error);
}

gboolean
tv_store_private_commit (TvStore *store, GError **error)
{
  return tx_commit (store, error);
}

void
tv_store_private_rollback (TvStore *store)
{
  tx_rollback (store);
}

TvStoreAuditStage *
tv_store_private_audit_stage (TvStore *store)
{
  return &store->audit_stage;
}

gboolean
tv_store_private_fault_fail (TvStore *store, const char *op, GError **error)
{
  return fault_fail (store, op, error);
}

void
tv_store_private_fault_point (TvStore *store, const char *point)
{
  fault_point (store, point);
}

gboolean
tv_store_private_check_text (const char *text, gsize max, const char *what, GError **error)
{
  return check_text (text, max, what, error);
}

static char *column_strdup (sqlite3_stmt *st, int col);

GPtrArray *
tv_store_private_collect (TvStore *store, sqlite3_stmt *st, gpointer (*row_new) (sqlite3_stmt *st),
                          GDestroyNotify row_free, const char *what, GError **error)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func (row_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW)
    g_ptr_array_add (rows, row_new (st));
  if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, what);
    g_clear_pointer (&rows, g_ptr_array_unref);
  }
  tv_store_private_stmt_done (st);
  return rows;
}

char *
tv_store_private_column_strdup (sqlite3_stmt *st, int col)
{
  return column_strdup (st, col);
}

void
tv_store_set_join_link_key (TvStore *store, const TvJoinLinkKey *key)
{
  g_return_if_fail (store != NULL);
  tv_join_link_key_free (store->join_key);
  store->join_key = tv_join_link_key_dup (key);
}

const TvJoinLinkKey *
tv_store_private_join_link_key (TvStore *store)
{
  return store->join_key;
}

static char *token_new (GError **error);
static char *token_hash (const char *token);

char *
tv_store_private_token_new (GError **error)
{
  return token_new (error);
}

char *
tv_store_private_token_hash (const char *token)
{
  return token_hash (token);
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                     */

gboolean
tv_store_token_is_wellformed (const char *token)
{
  if (token == NULL)
    return FALSE;
  gsize n = 0;
  for (const char *p = token; *p != '\0'; p++, n++) {
    if (n >= TV_STORE_TOKEN_CHARS)
      return FALSE;
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  }
  return n == TV_STORE_TOKEN_CHARS;
}

/* Returns: (transfer full) a fresh token: 32 bytes from OpenSSL's CSPRNG as
 * base64url without padding (43 chars); NULL with @error if RAND_bytes fails. */
static char *
token_new (GError **error)
{
  guchar raw[32];
  if (RAND_bytes (raw, sizeof raw) != 1) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "OpenSSL RAND_bytes failed");
    return NULL;
  }
  char *text = tv_join_link_base64url (raw, sizeof raw);
  OPENSSL_cleanse (raw, sizeof raw);
  g_assert (strlen (text) == TV_STORE_TOKEN_CHARS);  /* 32 bytes always encode to 43 + "=" */
  return text;
}

/* Returns: (transfer full) lower-case hex SHA-256 of @token: what the store keeps. */
static char *
token_hash (const char *token)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

/* ------------------------------------------------------------------------ */
/* Open, migrate, close                                                       */

static int
read_user_version (TvStore *store, GError **error)
{
  sqlite3_stmt *st = NULL;
  int version = -1;
  if (sqlite3_prepare_v2 (store->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK
      || sqlite3_step (st) != SQLITE_ROW)
    set_db_error (store, error, "read schema version");
  else
    version = sqlite3_column_int (st, 0);
  sqlite3_finalize (st);
  return version;
}

static gboolean
check_not_newer (int version, GError **error)
{
  if (version > TV_STORE_SCHEMA_VERSION) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA,
                 "database schema version %d is newer than this program's (%d); refusing to use it",
                 version, TV_STORE_SCHEMA_VERSION);
    return FALSE;
  }
  return TRUE;
}

/* Inside a migration step: every reference still points at a row. */
static gboolean
check_foreign_keys (TvStore *store, GError **error)
{
  sqlite3_stmt *st = NULL;
  gboolean ok = FALSE;
  if (sqlite3_prepare_v2 (store->db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK) {
    set_db_error (store, error, "foreign key check");
  } else {
    int rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "a row of table %s refers to a missing row",
                   (const char *) sqlite3_column_text (st, 0));
    else if (rc != SQLITE_DONE)
      set_db_error (store, error, "foreign key check");
    else
      ok = TRUE;
  }
  sqlite3_finalize (st);
  return ok;
}

/* One transaction per step; the version is re-read under the write lock so two
 * processes opening a fresh file at once do not both run a step. */
static gboolean
migrate_steps (TvStore *store, GError **error)
{
  for (;;) {
    g_autofree char *bump = NULL;
    int version = read_user_version (store, error);
    if (version < 0 || !check_not_newer (version, error))
      return FALSE;
    if (version == TV_STORE_SCHEMA_VERSION)
      return TRUE;

    if (!tx_begin (store, error))
      return FALSE;
    int locked_version = read_user_version (store, error);
    if (locked_version < 0)
      goto fail;
    if (locked_version != version) {
      tx_rollback (store);   /* someone else migrated meanwhile: look again */
      continue;
    }
    if (!exec_sql (store, migrations[version], "schema migration", error))
      goto fail;
    fault_point (store, "migrate-after-step");
    if (!check_foreign_keys (store, error))
      goto fail;
    bump = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
    if (!exec_sql (store, bump, "schema migration", error) || !tx_commit (store, error))
      goto fail;
    g_info ("database schema migrated from version %d to %d", version, version + 1);
    continue;
  fail:
    tx_rollback (store);
    g_prefix_error (error, "migrating from schema version %d: ", version);
    if (error != NULL && *error != NULL && (*error)->domain == TV_STORE_ERROR)
      (*error)->code = TV_STORE_ERR_SCHEMA;
    return FALSE;
  }
}

/* Foreign keys are off while steps run: a step may rebuild a table (SQLite's
 * create-copy-drop-rename procedure, e.g. v3 for consults' CHECKs), and DROP
 * TABLE with foreign keys on would cascade-delete the rows referring to it.
 * Each step checks the references before it commits (check_foreign_keys).
 * The pragma cannot change inside a transaction, hence around the steps. */
static gboolean pragma_text_equals (TvStore *store, const char *sql, const char *want, GError **error);

static gboolean
migrate (TvStore *store, GError **error)
{
  if (!exec_sql (store, "PRAGMA foreign_keys = OFF", "schema migration", error))
    return FALSE;
  gboolean ok = migrate_steps (store, error);
  if (!exec_sql (store, "PRAGMA foreign_keys = ON", "enable foreign keys", ok ? error : NULL))
    ok = FALSE;
  return ok && pragma_text_equals (store, "PRAGMA foreign_keys", "1", error);
}

/* Creates the file ourselves with mode 0600 (SQLite would honour the umask);
 * SQLite gives the -wal and -shm files the mode of the database file. */
static gboolean
create_private_file (const char *path, GError **error)
{
  int fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return TRUE;
    int saved = errno;
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "cannot create database %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  gboolean ok = fchmod (fd, 0600) == 0;   /* the umask may have removed bits we want */
  int saved = errno;
  close (fd);
  if (!ok) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "cannot set mode of %s: %s", path,
                 g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

static gboolean
pragma_text_equals (TvStore *store, const char *sql, const char *want, GError **error)
{
  sqlite3_stmt *st = NULL;
  gboolean ok = FALSE;
  if (sqlite3_prepare_v2 (store->db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step (st) != SQLITE_ROW) {
    set_db_error (store, error, sql);
  } else {
    const char *got = (const char *) sqlite3_column_text (st, 0);
    ok = g_ascii_strcasecmp (got != NULL ? got : "", want) == 0;
    if (!ok)
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: got \"%s\", need \"%s\"", sql,
                   got != NULL ? got : "", want);
  }
  sqlite3_finalize (st);
  return ok;
}

TvStore *
tv_store_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL && *path != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  gboolean in_memory = strcmp (path, ":memory:") == 0;
  if (!in_memory && !create_private_file (path, error))
    return NULL;

  TvStore *store = g_new0 (TvStore, 1);
  store->stmts = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, finalize_stmt);
  store->seal = tv_store_private_seal_new (path);
  const char *fault = g_getenv ("TV_STORE_FAULT");
  if (fault != NULL && *fault != '\0') {
    store->faults = g_strsplit (fault, ",", -1);
    /* g_message, not g_warning: tests (where warnings are fatal) set it on purpose. */
    g_message ("TV_STORE_FAULT is set (test-only fault injection)");
  }

  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  /* The store's VFS: a COMMIT's WAL frames go to the file in a few large
   * writes, before its sync as before (server/tv-store-vfs.c). */
  if (sqlite3_open_v2 (path, &store->db, flags, tv_store_private_vfs_name ()) != SQLITE_OK) {
    if (store->db == NULL)
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "cannot open %s: out of memory", path);
    else
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "cannot open %s: %s", path,
                   sqlite3_errmsg (store->db));
    goto fail;
  }
  sqlite3_busy_handler (store->db, busy_retry, store);
  sqlite3_update_hook (store->db, lookups_update_hook, store);
  sqlite3_rollback_hook (store->db, lookups_rollback_hook, store);

  /* Refuse a newer database before changing anything in it. */
  int version = read_user_version (store, error);
  if (version < 0 || !check_not_newer (version, error))
    goto fail;

  if (!pragma_text_equals (store, "PRAGMA journal_mode = WAL", in_memory ? "memory" : "wal", error)
      || !exec_sql (store, "PRAGMA foreign_keys = ON", "enable foreign keys", error)
      /* FULL: a committed consult change survives power loss too, not only a crash. */
      || !exec_sql (store, "PRAGMA synchronous = FULL", "set synchronous", error)
      /* Group commits (tv_store_batch_begin): a batch's savepoint journal stays
       * in memory instead of a temporary file, and its dirty pages in a cache
       * big enough not to spill to the WAL before the COMMIT. Neither changes
       * what is durable when. */
      || !exec_sql (store, "PRAGMA temp_store = MEMORY", "set temp_store", error)
      || !tv_store_set_cache_limit (store, STORE_CACHE_KIB, error)
      || !pragma_text_equals (store, "PRAGMA foreign_keys", "1", error))
    goto fail;

  if (!migrate (store, error))
    goto fail;
  /* After the migrations (each checkpointed as SQLite does by default): from
   * here on, checkpoints run on a thread of their own (tv-store-checkpoint.c),
   * which opens the file by SQLite's absolute name of it (not @path, which may
   * be relative to a directory the process has left by then). */
  if (!in_memory) {
    /* The WAL file is cut back to its bound when it restarts after it grew
     * past it (tv-store-checkpoint.c: how big it gets, and when it is emptied). */
    g_autofree char *limit = g_strdup_printf ("PRAGMA journal_size_limit = %d", TV_STORE_WAL_LIMIT_BYTES);
    if (!exec_sql (store, limit, "set journal_size_limit", error))
      goto fail;
    const char *file = sqlite3_db_filename (store->db, "main");
    store->checkpointer = tv_store_private_checkpointer_new (file != NULL && *file != '\0' ? file : path);
    sqlite3_wal_hook (store->db, tv_store_private_checkpointer_hook, store->checkpointer);
  }
  return store;

fail:
  g_prefix_error (error, "%s: ", path);
  tv_store_close (store);
  return NULL;
}

TvStoreSessionCache *
tv_store_private_session_cache (TvStore *store)
{
  return &store->session_cache;
}

void
tv_store_close (TvStore *store)
{
  if (store == NULL)
    return;
  g_clear_pointer (&store->stmts, g_hash_table_destroy);   /* finalize before close */
  g_clear_pointer (&store->session_cache.entries, g_hash_table_destroy);
  lookups_drop (store);
  /* The checkpoint thread's connection closes first; closing the last
   * connection then checkpoints what is left and removes the WAL. */
  g_clear_pointer (&store->checkpointer, tv_store_private_checkpointer_free);
  if (store->db != NULL)
    sqlite3_close_v2 (store->db);
  g_strfreev (store->faults);
  g_clear_pointer (&store->audit_stage.row, tv_audit_row_free);
  tv_store_private_seal_free (store->seal);
  tv_join_link_key_free (store->join_key);
  g_free (store);
}

TvStore *
tv_store_open_writer (TvStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL && store->db != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  const char *file = sqlite3_db_filename (store->db, "main");
  if (file == NULL || *file == '\0') {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "an in-memory store has no file for a second connection");
    return NULL;
  }
  /* The file is at the current version already: the migration check finds
   * nothing to do, and the same settings are applied to the new connection. */
  TvStore *writer = tv_store_open (file, error);
  if (writer == NULL)
    return NULL;
  if (store->join_key != NULL)
    writer->join_key = tv_join_link_key_dup (store->join_key);
  /* No PRAGMA mmap_size here: mapping the file saved ~1.5 % of the writer's
   * time (docs/BENCHMARKS.md, 2026-11-29 (4)) but turns a disk error while
   * reading a page into a SIGBUS that ends every call, not an IO error. */
  /* The same data keys: loaded from the same ring file. A store whose key is
   * in memory only (never the server's) cannot share it. */
  const char *keys = tv_store_get_data_key_file (store);
  if (keys == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "the store's data key is in memory only");
    tv_store_close (writer);
    return NULL;
  }
  if (!tv_store_set_data_key_file (writer, keys, error)) {
    tv_store_close (writer);
    return NULL;
  }
  /* Its group commits make the WAL grow steadily: a checkpoint every STEP new
   * frames instead of after every COMMIT (tv-store-checkpoint.c). */
  if (writer->checkpointer != NULL)
    tv_store_private_checkpointer_set_step (writer->checkpointer, TV_STORE_CHECKPOINT_STEP);
  return writer;
}

gboolean
tv_store_set_cache_limit (TvStore *store, guint kib, GError **error)
{
  g_return_val_if_fail (store != NULL && store->db != NULL && kib > 0, FALSE);
  g_autofree char *sql = g_strdup_printf ("PRAGMA cache_size = -%u", kib);
  return exec_sql (store, sql, "set cache_size", error);
}

gsize
tv_store_cache_used (TvStore *store)
{
  g_return_val_if_fail (store != NULL && store->db != NULL, 0);
  int cur = 0, hi = 0;
  if (sqlite3_db_status (store->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0) != SQLITE_OK || cur < 0)
    return 0;
  return (gsize) cur;
}

int
tv_store_schema_version (TvStore *store)
{
  g_return_val_if_fail (store != NULL, -1);
  return read_user_version (store, NULL);
}

gint64
tv_store_wal_checkpoints (TvStore *store)
{
  g_return_val_if_fail (store != NULL, 0);
  return store->checkpointer != NULL ? tv_store_private_checkpointer_done (store->checkpointer) : 0;
}

/* ------------------------------------------------------------------------ */
/* Consults                                                                   */

static char *
column_strdup (sqlite3_stmt *st, int col)
{
  const unsigned char *t = sqlite3_column_text (st, col);
  return t != NULL ? g_strdup ((const char *) t) : NULL;
}

/* Builds a TvConsult from a row of CONSULT_COLUMNS. */
static TvConsult *
consult_from_row (sqlite3_stmt *st, GError **error)
{
  TvConsultStatus status;
  if (!status_from_string ((const char *) sqlite3_column_text (st, 4), &status)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "consult row has an unknown status");
    return NULL;
  }
  TvConsult *c = g_new0 (TvConsult, 1);
  c->id = column_strdup (st, 0);
  c->doctor = column_strdup (st, 1);
  c->patient = column_strdup (st, 2);
  c->scheduled_start = sqlite3_column_int64 (st, 3);
  c->status = status;
  c->created_at = sqlite3_column_int64 (st, 5);
  c->started_at = sqlite3_column_int64 (st, 6);
  c->ended_at = sqlite3_column_int64 (st, 7);
  c->connected_us = sqlite3_column_int64 (st, 8);
  c->media_up_since = sqlite3_column_int64 (st, 9);
  c->end_reason = column_strdup (st, 10);
  c->doctor_id = column_strdup (st, 11);
  c->patient_id = column_strdup (st, 12);
  c->scheduled_end = sqlite3_column_int64 (st, 13);
  c->cancelled_at = sqlite3_column_int64 (st, 14);
  c->no_show_at = sqlite3_column_int64 (st, 15);
  c->booked_by = column_strdup (st, 16);
  c->arrived_at = sqlite3_column_int64 (st, 17);
  c->admitted_at = sqlite3_column_int64 (st, 18);
  c->wait_us = sqlite3_column_int64 (st, 19);
  return c;
}

static gboolean
insert_token (TvStore *store, const char *consult_id, TvSigRole role, gint64 expires, gint64 now,
              char **out_token, GError **error)
{
  return tv_store_private_join_token_issue (store, consult_id, role_to_db (role), expires, now, out_token,
                                            error);
}

gboolean
tv_store_consult_create (TvStore *store, const char *doctor, const char *patient,
                         gint64 scheduled_start, gint64 token_expires, gint64 now,
                         TvConsult **out, char **doctor_token, char **patient_token,
                         GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (out != NULL && doctor_token != NULL && patient_token != NULL, FALSE);

  GError *local = NULL;
  if (!tv_store_check_name (doctor, &local)) {
    g_propagate_prefixed_error (error, local, "doctor: ");
    return FALSE;
  }
  if (!tv_store_check_name (patient, &local)) {
    g_propagate_prefixed_error (error, local, "patient: ");
    return FALSE;
  }
  if (!check_time (scheduled_start, "scheduled start", error) || !check_time (now, "now", error))
    return FALSE;
  if (token_expires <= now) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "token expiry is not in the future");
    return FALSE;
  }
  if (fault_fail (store, "create", error))
    return FALSE;

  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *dtok = NULL;
  g_autofree char *ptok = NULL;
  sqlite3_stmt *st = NULL;

  if (!tx_begin (store, error))
    return FALSE;
  st = stmt_get (store, SQL_CONSULT_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, doctor, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 3, patient, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 4, scheduled_start);
  sqlite3_bind_int64 (st, 5, now);
  gboolean ok = stmt_exec_done (store, st, "insert consult", error);
  stmt_done (st);
  if (!ok)
    goto fail;
  fault_point (store, "create-after-consult");
  tv_store_private_audit_subject (store, id, NULL);
  if (!insert_token (store, id, TV_SIG_ROLE_DOCTOR, token_expires, now, &dtok, error)
      || !insert_token (store, id, TV_SIG_ROLE_PATIENT, token_expires, now, &ptok, error)
      || !tx_commit (store, error))
    goto fail;

  TvConsult *c = g_new0 (TvConsult, 1);
  c->id = g_steal_pointer (&id);
  c->doctor = g_strdup (doctor);
  c->patient = g_strdup (patient);
  c->scheduled_start = scheduled_start;
  c->status = TV_CONSULT_SCHEDULED;
  c->created_at = now;
  *out = c;
  *doctor_token = g_steal_pointer (&dtok);
  *patient_token = g_steal_pointer (&ptok);
  g_debug ("consult %s created", c->id);
  return TRUE;

fail:
  tx_rollback (store);
  return FALSE;
}

gboolean
tv_store_token_lookup (TvStore *store, const char *token, gint64 now,
                       char **consult_id, TvSigRole *role, GError **error)
{
  g_return_val_if_fail (store != NULL && consult_id != NULL && role != NULL, FALSE);

  if (!tv_store_token_is_wellformed (token)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN, "malformed token");
    return FALSE;
  }
  if (fault_fail (store, "token-lookup", error))
    return FALSE;
  g_autofree char *hash = token_hash (token);
  sqlite3_stmt *st = stmt_get (store, SQL_TOKEN_LOOKUP, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, hash, -1, SQLITE_STATIC);
  gboolean ok = FALSE;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN, "unknown token");
  } else if (rc != SQLITE_ROW) {
    set_db_error (store, error, "look up token");
  } else if (now >= sqlite3_column_int64 (st, 2)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED, "token expired");
  } else if (!role_from_db ((const char *) sqlite3_column_text (st, 1), role)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "token row has an unknown role");
  } else {
    *consult_id = column_strdup (st, 0);
    ok = TRUE;
  }
  stmt_done (st);
  return ok;
}

gboolean
tv_store_consult_get (TvStore *store, const char *id, TvConsult **out, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL && out != NULL, FALSE);
  if (fault_fail (store, "get", error))
    return FALSE;
  sqlite3_stmt *st = stmt_get (store, SQL_CONSULT_GET, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  TvConsult *c = NULL;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    c = consult_from_row (st, error);
  else if (rc == SQLITE_DONE)
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult with id %s", id);
  else
    set_db_error (store, error, "read consult");
  stmt_done (st);
  *out = c;
  return c != NULL;
}

GPtrArray *
tv_store_consult_list (TvStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  if (fault_fail (store, "list", error))
    return NULL;
  sqlite3_stmt *st = stmt_get (store, SQL_CONSULT_LIST, error);
  if (st == NULL)
    return NULL;
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_consult_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    TvConsult *c = consult_from_row (st, error);
    if (c == NULL) {
      stmt_done (st);
      return NULL;
    }
    g_ptr_array_add (list, c);
  }
  if (rc != SQLITE_DONE) {
    set_db_error (store, error, "list consults");
    stmt_done (st);
    return NULL;
  }
  stmt_done (st);
  return g_steal_pointer (&list);
}

/* Inside a transaction: reads the consult's status and open interval.
 * FALSE with NOT_FOUND or IO. */
static gboolean
consult_state (TvStore *store, const char *id, TvConsultStatus *status, gint64 *up_since,
               GError **error)
{
  sqlite3_stmt *st = stmt_get (store, SQL_CONSULT_STATE, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  gboolean ok = FALSE;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult with id %s", id);
  } else if (rc != SQLITE_ROW) {
    set_db_error (store, error, "read consult");
  } else if (!status_from_string ((const char *) sqlite3_column_text (st, 0), status)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "consult row has an unknown status");
  } else {
    *up_since = sqlite3_column_int64 (st, 1);
    ok = TRUE;
  }
  stmt_done (st);
  return ok;
}

static gboolean
consult_exists (TvStore *store, const char *id, GError **error)
{
  sqlite3_stmt *st = stmt_get (store, SQL_CONSULT_EXISTS, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  gboolean ok = FALSE;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    ok = TRUE;
  else if (rc == SQLITE_DONE)
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult with id %s", id);
  else
    set_db_error (store, error, "read consult");
  stmt_done (st);
  return ok;
}

/* Runs @sql (?1 = id, ?2 = now, ?3 = @text or NULL) inside the current
 * transaction; exactly one row must change. */
static gboolean
update_consult (TvStore *store, const char *sql, const char *id, gint64 now, const char *text,
                const char *what, GError **error)
{
  sqlite3_stmt *st = stmt_get (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 2, now);
  if (sqlite3_bind_parameter_count (st) >= 3)
    sqlite3_bind_text (st, 3, text, -1, SQLITE_STATIC);
  gboolean ok = stmt_exec_done (store, st, what, error);
  stmt_done (st);
  if (ok && sqlite3_changes (store->db) != 1) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: no row changed", what);
    ok = FALSE;
  }
  return ok;
}

GPtrArray *
tv_store_participation_list (TvStore *store, const char *id, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, NULL);
  if (fault_fail (store, "participation-list", error))
    return NULL;
  /* A read transaction so the existence check and the rows agree. */
  if (!tx_begin_read (store, error))
    return NULL;
  g_autoptr (GPtrArray) list = NULL;
  sqlite3_stmt *st = NULL;
  if (!consult_exists (store, id, error))
    goto out;
  st = stmt_get (store, SQL_PART_LIST, error);
  if (st == NULL)
    goto out;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_participation_free);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    TvParticipation *p = g_new0 (TvParticipation, 1);
    p->at = sqlite3_column_int64 (st, 0);
    p->detail = column_strdup (st, 3);
    g_ptr_array_add (list, p);
    if (!role_from_db ((const char *) sqlite3_column_text (st, 1), &p->role)
        || !event_from_string ((const char *) sqlite3_column_text (st, 2), &p->event)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA, "participation row has an unknown role or event");
      g_clear_pointer (&list, g_ptr_array_unref);
      goto out;
    }
  }
  if (rc != SQLITE_DONE) {
    set_db_error (store, error, "list participation");
    g_clear_pointer (&list, g_ptr_array_unref);
  }
out:
  stmt_done (st);
  tx_rollback (store);   /* read-only: ending it either way is the same */
  return g_steal_pointer (&list);
}

gboolean
tv_store_record_participation (TvStore *store, const char *id, TvSigRole role,
                               TvParticipationEvent ev, const char *detail,
                               gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, FALSE);

  const char *role_text = role_to_db (role);
  const char *ev_text = tv_participation_event_to_string (ev);
  if (role_text == NULL || ev_text == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "participation needs a party role and a known event");
    return FALSE;
  }
  if (detail != NULL && !check_text (detail, TV_STORE_MAX_DETAIL_BYTES, "detail", error))
    return FALSE;
  if (!check_time (now, "now", error) || fault_fail (store, "record-participation", error))
    return FALSE;

  if (!tx_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = NULL;
  if (!consult_exists (store, id, error))
    goto fail;
  st = stmt_get (store, SQL_PART_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 2, now);
  sqlite3_bind_text (st, 3, role_text, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 4, ev_text, -1, SQLITE_STATIC);
  if (detail != NULL)
    sqlite3_bind_text (st, 5, detail, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (st, 5);
  gboolean ok = stmt_exec_done (store, st, "insert participation", error);
  stmt_done (st);
  if (!ok || !tx_commit (store, error))
    goto fail;
  return TRUE;

fail:
  tx_rollback (store);
  return FALSE;
}

static void
set_wrong_state (GError **error, const char *id, TvConsultStatus status, const char *what)
{
  g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "consult %s is %s, cannot %s it", id,
               tv_consult_status_to_string (status), what);
}

gboolean
tv_store_consult_media_started (TvStore *store, const char *id, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, FALSE);
  if (!check_time (now, "now", error) || fault_fail (store, "media-started", error))
    return FALSE;
  if (!tx_begin (store, error))
    return FALSE;
  TvConsultStatus status;
  gint64 up_since = 0;
  if (!consult_state (store, id, &status, &up_since, error))
    goto fail;
  if (status == TV_CONSULT_COMPLETED || status == TV_CONSULT_CANCELLED || status == TV_CONSULT_NO_SHOW) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "consult %s is %s, cannot start media",
                 id, tv_consult_status_to_string (status));
    goto fail;
  }
  if (up_since != 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE,
                 "consult %s already has a connected interval open", id);
    goto fail;
  }
  if (!update_consult (store, SQL_MEDIA_START, id, now, NULL, "start media", error))
    goto fail;
  fault_point (store, "media-started-after-update");
  if (!tx_commit (store, error))
    goto fail;
  return TRUE;

fail:
  tx_rollback (store);
  return FALSE;
}

gboolean
tv_store_consult_media_stopped (TvStore *store, const char *id, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, FALSE);
  if (!check_time (now, "now", error) || fault_fail (store, "media-stopped", error))
    return FALSE;
  if (!tx_begin (store, error))
    return FALSE;
  TvConsultStatus status;
  gint64 up_since = 0;
  if (!consult_state (store, id, &status, &up_since, error))
    goto fail;
  if (up_since != 0 && !update_consult (store, SQL_MEDIA_STOP, id, now, NULL, "stop media", error))
    goto fail;
  if (!tx_commit (store, error))
    goto fail;
  return TRUE;

fail:
  tx_rollback (store);
  return FALSE;
}

/* Shared by complete and cancel (@cancel), which differ in the statuses they
 * accept and in what they write. */
static gboolean
finish_consult (TvStore *store, const char *id, const char *reason, gint64 now, gboolean cancel,
                GError **error)
{
  const char *op = cancel ? "cancel" : "complete";
  if (!check_text (reason, TV_STORE_MAX_DETAIL_BYTES, "reason", error)
      || !check_time (now, "now", error) || fault_fail (store, op, error))
    return FALSE;
  if (!tx_begin (store, error))
    return FALSE;
  TvConsultStatus status;
  gint64 up_since = 0;
  if (!consult_state (store, id, &status, &up_since, error))
    goto fail;
  gboolean not_started = status == TV_CONSULT_SCHEDULED || status == TV_CONSULT_WAITING;
  gboolean allowed = cancel ? (not_started && up_since == 0)
                            : (not_started || status == TV_CONSULT_IN_PROGRESS);
  if (!allowed) {
    set_wrong_state (error, id, status, op);
    goto fail;
  }
  if (cancel) {
    if (!update_consult (store, SQL_CANCEL, id, now, reason, "cancel consult", error)
        || !tv_store_reminders_private_cancelled (store, id, now, error))
      goto fail;
  } else {
    /* One UPDATE sets the status and closes the open interval; the crash
     * point sits between it and COMMIT, where a real crash would lose both. */
    if (!update_consult (store, SQL_COMPLETE_STATUS, id, now, reason, "complete consult", error))
      goto fail;
    fault_point (store, "complete-after-status");
    /* The billing line (or why there is none) commits with the completion. */
    if (!tv_store_billing_on_complete (store, id, now, error)
        || !tv_store_reminders_private_over (store, id, "consult held", now, error))
      goto fail;
  }
  if (!tx_commit (store, error))
    goto fail;
  g_debug ("consult %s %s (%s)", id, cancel ? "cancelled" : "completed", reason);
  return TRUE;

fail:
  tx_rollback (store);
  return FALSE;
}

gboolean
tv_store_consult_complete (TvStore *store, const char *id, const char *reason,
                           gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, FALSE);
  return finish_consult (store, id, reason, now, FALSE, error);
}

gboolean
tv_store_consult_cancel (TvStore *store, const char *id, const char *reason,
                         gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, FALSE);
  return finish_consult (store, id, reason, now, TRUE, error);
}

gboolean
tv_store_close_open_intervals (TvStore *store, gint64 at, guint *n_closed, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_time (at, "at", error) || fault_fail (store, "close-open-intervals", error))
    return FALSE;
  if (!tx_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = stmt_get (store, SQL_CLOSE_OPEN, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_int64 (st, 1, at);
  gboolean ok = stmt_exec_done (store, st, "close open intervals", error);
  stmt_done (st);
  int changed = sqlite3_changes (store->db);
  if (!ok || !tx_commit (store, error))
    goto fail;
  if (n_closed != NULL)
    *n_closed = (guint) changed;
  if (changed > 0)
    g_info ("closed %d connected interval(s) left open by an earlier run", changed);
  return TRUE;

fail:
  tx_rollback (store);
  return FALSE;
}
