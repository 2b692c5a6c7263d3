/* tv-store.h — the session store: consults, join tokens, participation log.
 *
 * The one interface every other part of the server uses for persistence; the
 * SQLite implementation (tv-store-sqlite.c) is the default, and a PostgreSQL
 * one can be added behind the same functions later. Each function that changes
 * state runs as one transaction: on failure nothing was written and the previous
 * state stands (a crash mid-way leaves the previous state too).
 *
 * Times are gint64 microseconds since the Unix epoch, UTC (as g_get_real_time());
 * a time argument <= 0 is refused with TV_STORE_ERR_INVALID (0 means "unset").
 * Tokens are returned in clear exactly once, at creation; the store keeps only
 * their SHA-256. Not thread-safe: one TvStore per thread (the server's main loop).
 * Several processes may open the same file at once (the server and televisitctl):
 * WAL mode and a busy timeout (5 s) make writers wait for each other; a waiting
 * writer retries every 200 us for its first 50 ms, then every 1 ms (not SQLite's
 * default 1, 2, 5, 10 ... ms back-off), so a write that meets another
 * connection's short COMMIT goes on right after it.
 *
 * TEST-ONLY fault injection: the environment variable TV_STORE_FAULT is read by
 * tv_store_open (comma-separated list of points). Never set it in production.
 *   crash points — the process calls _exit(99) inside the open transaction, after
 *   the first write(s), so tests can check that a crash leaves no half record:
 *     "create-after-consult"       consult row written, tokens not yet
 *     "complete-after-status"      status set to completed (interval closed), not committed
 *     "media-started-after-update" consult moved to in-progress, not committed
 *     "migrate-after-step"         a migration step ran, user_version not yet bumped
 *     "batch-before-commit"        a group-commit batch's changes made, its COMMIT not yet run
 *   failure points — "fail:<op>" makes that operation fail with TV_STORE_ERR_IO
 *   and change nothing (for testing the server's 5000 INTERNAL path). <op> is one
 *   of: create, token-lookup, get, list, participation-list, record-participation,
 *   media-started, media-stopped, complete, cancel, close-open-intervals,
 *   batch-commit (a group-commit batch's COMMIT fails: the whole batch rolls back).
 */
#pragma once

#include <glib.h>
#include "signaling/tv-sig-message.h"

G_BEGIN_DECLS

#define TV_STORE_ERROR (tv_store_error_quark ())
GQuark tv_store_error_quark (void);

typedef enum {
  TV_STORE_ERR_IO,             /* could not open/write the database (message from SQLite) */
  TV_STORE_ERR_SCHEMA,         /* database from a newer version, or migration failed */
  TV_STORE_ERR_NOT_FOUND,      /* no consult with that id */
  TV_STORE_ERR_INVALID,        /* an argument is invalid (empty name, bad time...) */
  TV_STORE_ERR_TOKEN_UNKNOWN,  /* no such token */
  TV_STORE_ERR_TOKEN_EXPIRED,  /* token past its expiry */
  TV_STORE_ERR_WRONG_STATE,    /* transition not allowed from the consult's status */
  TV_STORE_ERR_CONFLICT,       /* a unique value is taken (e.g. a username) */
  TV_STORE_ERR_SLOT_TAKEN,     /* the doctor already has a consult at that time (tv-store-schedule.h) */
} TvStoreErrorCode;

/* v1 consults; v2 accounts (users, sessions: server/tv-store-users.h);
 * v3 schedule (availability, booking: server/tv-store-schedule.h);
 * v4 waiting room (arrival, admission, wait time: server/tv-store-waitroom.h);
 * v5 audit trail (append-only, hash-chained: server/tv-store-audit.h);
 * v6 billing, v7 reminders, v8 chat (server/tv-store-schema.h);
 * v9 bounded no-overlap triggers, v10 reminders_due of open reminders only
 * (server/tv-store-booking-schema.c). */
#define TV_STORE_SCHEMA_VERSION 10

/* Limits enforced by the store (and by televisitctl, which reuses the checks). */
#define TV_STORE_MAX_NAME_BYTES   200  /* doctor / patient */
#define TV_STORE_MAX_DETAIL_BYTES 256  /* participation detail, end reason */
#define TV_STORE_TOKEN_CHARS      43   /* base64url, no padding, of 32 random bytes */

typedef enum {
  TV_CONSULT_SCHEDULED,   /* created, nobody has connected media yet */
  TV_CONSULT_IN_PROGRESS, /* media connected at least once */
  TV_CONSULT_COMPLETED,   /* ended; duration final */
  TV_CONSULT_CANCELLED,
  TV_CONSULT_NO_SHOW,     /* the patient did not come (tv_store_consult_no_show) */
  TV_CONSULT_WAITING,     /* the patient has arrived in the waiting room, no media yet (tv-store-waitroom.h) */
} TvConsultStatus;

/* Returns: (transfer none) "scheduled", "in-progress", "completed", "cancelled", "no-show", "waiting". */
const char *tv_consult_status_to_string (TvConsultStatus status);

typedef struct {
  char *id;               /* UUID (g_uuid_string_random) */
  char *doctor;           /* doctor's identifier / display name */
  char *patient;          /* patient's identifier / display name (patient data: never log) */
  gint64 scheduled_start; /* µs UTC */
  TvConsultStatus status;
  gint64 created_at;      /* µs UTC */
  gint64 started_at;      /* first media connect, 0 = never */
  gint64 ended_at;        /* completion, 0 = not yet */
  gint64 connected_us;    /* total time media was connected, closed intervals only */
  gint64 media_up_since;  /* start of the open connected interval, 0 = none open */
  char *end_reason;       /* "ended-by-doctor", "both-left", "ended-by-admin", NULL while open */
  /* v3: consults booked on a doctor's schedule (tv-store-schedule.h); for
   * consults made with tv_store_consult_create the ids are NULL and times 0. */
  char *doctor_id;        /* user id of the doctor */
  char *patient_id;       /* user id of the patient */
  gint64 scheduled_end;   /* end of the booked slot, µs UTC */
  gint64 cancelled_at;    /* 0 = not cancelled */
  gint64 no_show_at;      /* 0 = not marked no-show */
  char *booked_by;        /* user id of whoever booked it, NULL if unknown */
  /* v4: the waiting room (tv-store-waitroom.h); 0 = not yet. */
  gint64 arrived_at;      /* the patient's first join */
  gint64 admitted_at;     /* the doctor's first admit */
  gint64 wait_us;         /* admitted_at - arrived_at (0 until admitted) */
} TvConsult;

void tv_consult_free (TvConsult *consult);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvConsult, tv_consult_free)

typedef enum {
  TV_PART_JOIN,
  TV_PART_LEAVE,        /* detail: "left", "dropped", "ended" */
  TV_PART_MEDIA_UP,
  TV_PART_MEDIA_DOWN,
} TvParticipationEvent;

/* Returns: (transfer none) "join", "leave", "media-up", "media-down". */
const char *tv_participation_event_to_string (TvParticipationEvent ev);

typedef struct {
  gint64 at;               /* µs UTC */
  TvSigRole role;
  TvParticipationEvent event;
  char *detail;            /* may be NULL */
} TvParticipation;

void tv_participation_free (TvParticipation *p);  /* NULL accepted */

typedef struct _TvStore TvStore;

/* tv_store_open:
 * Opens (creating if needed) the SQLite database at @path, enables WAL and
 * foreign keys, and migrates the schema to TV_STORE_SCHEMA_VERSION in one
 * transaction per version step. The file is created mode 0600.
 * Returns: (transfer full) the store, or NULL with @error (IO or SCHEMA). */
TvStore *tv_store_open (const char *path, GError **error);
/* NULL accepted. */
void tv_store_close (TvStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvStore, tv_store_close)

/* Returns: the schema version recorded in the database. */
int tv_store_schema_version (TvStore *store);

/* tv_store_wal_checkpoints:
 * Returns: how many WAL checkpoints the store's checkpoint thread has run
 * (server/tv-store-checkpoint.c; 0 until the WAL first reached its checkpoint
 * size, and for ":memory:"). For tests and diagnostics. */
gint64 tv_store_wal_checkpoints (TvStore *store);

/* tv_store_set_cache_limit:
 * Bounds @store's SQLite page cache to about @kib KiB of pages (PRAGMA
 * cache_size = -@kib; tv_store_open sets 16 MiB, room for a group commit's
 * dirty pages). The cache is a copy of file pages the kernel caches anyway, and
 * a WAL connection empties it by itself at its next read whenever another
 * connection (the store writer thread, televisitctl) has committed; a bounded
 * cache reuses its own page buffers instead of growing the heap with every page
 * read. Read results do not change, only how often a page is read again.
 * Returns: TRUE; FALSE with @error (IO). */
gboolean tv_store_set_cache_limit (TvStore *store, guint kib, GError **error);

/* tv_store_cache_used:
 * Returns: the bytes @store's SQLite page cache holds now (pages and their
 * headers; SQLITE_DBSTATUS_CACHE_USED). For tests and diagnostics. */
gsize tv_store_cache_used (TvStore *store);

/* tv_store_open_writer:
 * A second TvStore on @store's database file, for ONE other thread (the HTTPS
 * router's store writer, tv-http.c): its own SQLite connection with the same
 * settings (WAL, synchronous = FULL, foreign keys, busy timeout, checkpoints off
 * its thread), its own statement cache, and the join-link key and data keys of
 * @store. Read on @store's thread; from then on each store is used by its own
 * thread only. Both connections may write: BEGIN IMMEDIATE serialises them (the
 * one that waits does so up to the busy timeout), and WAL readers on either never
 * wait for the other's writes. Close it before @store.
 * Returns: (transfer full) the new store; NULL with @error (IO) for ":memory:"
 * (no file to share) or when the file cannot be opened. */
TvStore *tv_store_open_writer (TvStore *store, GError **error);

/* ---- group commit (one fsync for several changes) -------------------------------- */

/* tv_store_batch_begin:
 * Opens one write transaction (BEGIN IMMEDIATE) that the following store calls
 * share until tv_store_batch_commit: each call's own transaction becomes a
 * SAVEPOINT inside it (a failed call rolls back only its own change and its
 * staged audit row), and its "commit" only releases the savepoint. Nothing is
 * durable, and nothing may be reported as done, before tv_store_batch_commit
 * returned TRUE. Reads inside the batch see the batch's earlier changes.
 * Returns: TRUE; FALSE with @error (IO, e.g. the write lock stayed busy) and no
 * batch open (callers then run their changes one transaction each). */
gboolean tv_store_batch_begin (TvStore *store, GError **error);
/* tv_store_batch_commit:
 * Commits the batch (one COMMIT, one WAL sync with synchronous=FULL).
 * Returns: TRUE when every change that released its savepoint is on disk;
 * FALSE with @error (IO) when the batch was rolled back as a whole: none of
 * its changes (nor their audit rows) happened. The batch is closed either way. */
gboolean tv_store_batch_commit (TvStore *store, GError **error);
/* Returns: TRUE between tv_store_batch_begin and tv_store_batch_commit. */
gboolean tv_store_in_batch (TvStore *store);

/* tv_store_consult_create:
 * Creates a consult and one join token per role, expiring at @token_expires.
 * @doctor and @patient: as tv_store_check_name (else INVALID). @token_expires
 * must be after @now (else INVALID: the tokens would be born expired).
 * Returns: TRUE with *@out (transfer full), *@doctor_token and *@patient_token
 * (transfer full, 43-char base64url of 32 random bytes from OpenSSL RAND_bytes);
 * FALSE with @error and nothing written. */
gboolean tv_store_consult_create (TvStore *store, const char *doctor, const char *patient,
                                  gint64 scheduled_start, gint64 token_expires, gint64 now,
                                  TvConsult **out, char **doctor_token, char **patient_token,
                                  GError **error);

/* tv_store_token_lookup:
 * Finds the consult and role a clear-text @token belongs to (by its SHA-256).
 * Returns: TRUE with *@consult_id (transfer full) and *@role; FALSE with
 * TOKEN_UNKNOWN or TOKEN_EXPIRED (at @now). Does not check the consult status. */
gboolean tv_store_token_lookup (TvStore *store, const char *token, gint64 now,
                                char **consult_id, TvSigRole *role, GError **error);

/* Returns: TRUE with *@out (transfer full), or FALSE with NOT_FOUND / IO. */
gboolean tv_store_consult_get (TvStore *store, const char *id, TvConsult **out, GError **error);

/* Returns: (transfer full) (element-type TvConsult) all consults, newest scheduled first,
 * free with g_ptr_array_unref; NULL with @error. */
GPtrArray *tv_store_consult_list (TvStore *store, GError **error);

/* Returns: (transfer full) (element-type TvParticipation) the log of @id in time
 * order; NULL with @error (NOT_FOUND when no such consult). */
GPtrArray *tv_store_participation_list (TvStore *store, const char *id, GError **error);

/* tv_store_record_participation:
 * Appends one participation row (@role DOCTOR or PATIENT; @detail NULL or
 * non-empty UTF-8 of at most TV_STORE_MAX_DETAIL_BYTES). Per-party events
 * (join, leave, that party's media-up/media-down) are recorded here; the
 * consult-level effect of media (both up / one down) is recorded with
 * tv_store_consult_media_started/_stopped below, which write no participation row.
 * Returns: TRUE; FALSE with NOT_FOUND, INVALID or IO and nothing written. */
gboolean tv_store_record_participation (TvStore *store, const char *id, TvSigRole role,
                                        TvParticipationEvent ev, const char *detail,
                                        gint64 now, GError **error);

/* tv_store_consult_media_started:
 * Both parties' media are up at @now: opens a connected interval
 * (media_up_since = now), sets status IN_PROGRESS and started_at (first time).
 * WRONG_STATE for completed/cancelled/no-show consults or an interval already open. */
gboolean tv_store_consult_media_started (TvStore *store, const char *id, gint64 now, GError **error);

/* tv_store_consult_media_stopped:
 * Closes the open interval: connected_us += now - media_up_since. No interval
 * open: TRUE, nothing changes. */
gboolean tv_store_consult_media_stopped (TvStore *store, const char *id, gint64 now, GError **error);

/* tv_store_consult_complete:
 * Closes any open interval and sets COMPLETED, ended_at = @now, end_reason
 * (from scheduled, waiting or in progress).
 * WRONG_STATE when already completed, cancelled or no-show. */
gboolean tv_store_consult_complete (TvStore *store, const char *id, const char *reason,
                                    gint64 now, GError **error);

/* tv_store_consult_cancel:
 * Cancels a consult that never had media (status SCHEDULED or WAITING, no open interval):
 * status CANCELLED, ended_at = cancelled_at = @now, end_reason = @reason (e.g. "cancelled-by-admin").
 * Nobody may join a cancelled consult (the server answers 4105).
 * Returns: TRUE; FALSE with NOT_FOUND, WRONG_STATE (not scheduled/waiting), INVALID or IO. */
gboolean tv_store_consult_cancel (TvStore *store, const char *id, const char *reason,
                                  gint64 now, GError **error);

/* tv_store_close_open_intervals:
 * Crash recovery for the server's start-up: a server that died while media was
 * connected leaves consults with an open interval (media_up_since != 0), which
 * would make the next tv_store_consult_media_started fail with WRONG_STATE.
 * Closes every open interval at @at (connected_us += max(0, @at - media_up_since));
 * status, started_at and end_reason are unchanged. The caller picks @at: its
 * own start time counts the downtime as connected, so a server that knows
 * better (e.g. its last heartbeat) should pass that. One transaction.
 * Returns: TRUE with *@n_closed (may be NULL) set to the number of consults
 * changed; FALSE with INVALID or IO and nothing changed. */
gboolean tv_store_close_open_intervals (TvStore *store, gint64 at, guint *n_closed, GError **error);

/* tv_store_check_name:
 * Checks a doctor/patient name as tv_store_consult_create does: non-NULL,
 * non-blank, valid UTF-8, at most TV_STORE_MAX_NAME_BYTES, no control characters.
 * Returns: TRUE; FALSE with INVALID and a message saying what is wrong (the
 * message does not repeat the name). */
gboolean tv_store_check_name (const char *name, GError **error);

/* tv_store_token_is_wellformed:
 * Returns: TRUE when @token has the shape of a token this store issues
 * (TV_STORE_TOKEN_CHARS characters of [A-Za-z0-9_-]). NULL gives FALSE.
 * tv_store_token_lookup answers TOKEN_UNKNOWN for malformed tokens without
 * touching the database. */
gboolean tv_store_token_is_wellformed (const char *token);

G_END_DECLS
