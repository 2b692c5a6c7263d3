/* tv-store-private.h — the SQLite helpers shared by the store's area files.
 *
 * Why: the store grows by area (tv-store-users.c, tv-store-<area>.c), each in
 * its own file, but all of them run on the one connection that
 * tv-store-sqlite.c opens and migrates. These wrappers give those files the
 * same statement cache, transaction helpers, error mapping, fault injection and
 * token functions, without exposing the connection outside server/tv-store-*.c.
 * Only server/tv-store-*.c include this header.
 * Thread: the store's thread (a TvStore is used by one thread).
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include "server/tv-store.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-users.h"
#include "server/tv-join-link.h"

G_BEGIN_DECLS

/* Returns: (transfer none) the connection. */
sqlite3 *tv_store_private_db (TvStore *store);

/* WAL checkpoints on a thread of their own (server/tv-store-checkpoint.c):
 * the store's connection hands its checkpoints to it once the WAL holds
 * TV_STORE_CHECKPOINT_PAGES pages (32 MiB of 4 KiB pages; SQLite's automatic
 * checkpoint runs at 1,000, inside a COMMIT). */
#define TV_STORE_CHECKPOINT_PAGES 8192
/* ... and, past that size, on the store writer thread's connection, each time
 * the WAL grew by this many frames since the last checkpoint was asked for
 * (see tv-store-checkpoint.c); other connections ask after every COMMIT. */
#define TV_STORE_CHECKPOINT_STEP 4096
/* The WAL file's size limit (PRAGMA journal_size_limit on every store
 * connection): 4 x TV_STORE_CHECKPOINT_PAGES frames of 4 KiB pages with their
 * 24-byte headers, the size at which the hook checkpoints inline and the WAL
 * restarts under a steady write load (128.8 MiB). */
#define TV_STORE_WAL_LIMIT_BYTES (4 * TV_STORE_CHECKPOINT_PAGES * (4096 + 24) + 32)
/* Once the checkpoint thread runs, this long without a COMMIT on its
 * connection and it empties the WAL file (SQLITE_CHECKPOINT_TRUNCATE, never
 * waiting for a lock). */
#define TV_STORE_CHECKPOINT_IDLE_MS 1000
typedef struct _TvStoreCheckpointer TvStoreCheckpointer;
/* Returns: (transfer full) a checkpointer for the database file @path (no thread yet). */
TvStoreCheckpointer *tv_store_private_checkpointer_new (const char *path);
/* Past TV_STORE_CHECKPOINT_PAGES, asks for a checkpoint only each @step new
 * frames (0, the default: after every COMMIT). Before the first COMMIT. */
void tv_store_private_checkpointer_set_step (TvStoreCheckpointer *c, int step);
/* The sqlite3_wal_hook callback (@data: the checkpointer). */
int tv_store_private_checkpointer_hook (void *data, sqlite3 *db, const char *name, int pages);
/* Returns: checkpoints run by the thread so far. */
gint64 tv_store_private_checkpointer_done (TvStoreCheckpointer *c);
/* Stops and joins the thread (after its checkpoint in progress); NULL accepted. */
void tv_store_private_checkpointer_free (TvStoreCheckpointer *c);

/* The session lookups a store connection answered since anything in the
 * database last changed (tv_store_session_lookup, tv-store-users.c): entries
 * (hex token hash -> its session and user) are valid while the connection's
 * `PRAGMA data_version` (moves when ANY other connection, in this process or
 * another, committed) and its sqlite3_total_changes64 (moves with its own
 * writes) are what they were when the entries were read; otherwise all are
 * dropped. Owned by the store; used on the store's thread only. */
typedef struct {
  GHashTable *entries;   /* char *key -> opaque entry (tv-store-users.c), or NULL */
  gint64 data_version;
  gint64 changes;
} TvStoreSessionCache;
/* Returns: (transfer none) the store's session cache. */
TvStoreSessionCache *tv_store_private_session_cache (TvStore *store);

/* Returns: the connection's `PRAGMA data_version` (moves when another
 * connection committed), or -1 when it cannot be read. */
gint64 tv_store_private_data_version (TvStore *store);

/* Returns: (transfer full) a deep copy of @u. */
TvUser *tv_store_private_user_copy (const TvUser *u);

/* Look-ups kept for group commits (tv-store-sqlite.c): what a booking reads
 * that bookings never change — users with their roles, a doctor's schedule —
 * kept by @kind and @id across a connection's batches and used only inside a
 * batch (tv_store_batch_begin): its BEGIN IMMEDIATE keeps other connections'
 * commits out, and it drops them all when `PRAGMA data_version` moved since
 * the last batch (another connection committed), when this connection
 * changes a row of users, user_roles, availability or
 * availability_exceptions (an update hook), and on any rollback. Owned by the
 * store; used on the store's thread only. */
/* Returns: (transfer none) the value kept under @kind / @id; NULL when there
 * is none or @store is not in a batch. Valid until the next statement. */
gconstpointer tv_store_private_lookup_get (TvStore *store, const char *kind, const char *id);
/* Keeps @value under @kind / @id, freed with @free_func. Returns: TRUE when
 * kept (the store owns @value: transfer full), FALSE when @store is not in a
 * batch (the caller still owns it). */
gboolean tv_store_private_lookup_put (TvStore *store, const char *kind, const char *id, gpointer value,
                                      GDestroyNotify free_func);

/* The name of the store's SQLite VFS (server/tv-store-vfs.c: the default
 * VFS, with a COMMIT's WAL frames written in a few large writes), registered
 * at the first call; NULL (SQLite's default VFS) if it cannot be. Any thread. */
const char *tv_store_private_vfs_name (void);

/* Returns: (transfer none) the cached prepared statement for @sql, which must be
 * a string with static storage (cached by address); NULL with @error (IO).
 * Call tv_store_private_stmt_done() after each use. */
sqlite3_stmt *tv_store_private_stmt (TvStore *store, const char *sql, GError **error);

/* Resets @st and clears its bindings. NULL accepted. */
void tv_store_private_stmt_done (sqlite3_stmt *st);

/* Steps a statement that returns no rows; FALSE with @error (IO, or CONFLICT
 * for a UNIQUE/PRIMARY KEY violation) naming @what. */
gboolean tv_store_private_exec_done (TvStore *store, sqlite3_stmt *st, const char *what, GError **error);

/* Sets @error (IO) from the connection's last error, prefixed by @what. */
void tv_store_private_db_error (TvStore *store, GError **error, const char *what);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback is safe without a transaction).
 * Inside a group-commit batch (tv_store_batch_begin) they are SAVEPOINT /
 * RELEASE / ROLLBACK TO of the batch's transaction, so a store call is written
 * the same way for both. begin_read opens a deferred read transaction (a
 * savepoint in a batch); end it with tv_store_private_rollback. */
gboolean tv_store_private_begin (TvStore *store, GError **error);
gboolean tv_store_private_begin_read (TvStore *store, GError **error);
gboolean tv_store_private_commit (TvStore *store, GError **error);
void tv_store_private_rollback (TvStore *store);

/* Test-only fault injection (TV_STORE_FAULT, see tv-store.h): fault_fail
 * returns TRUE with @error (IO) when "fail:<op>" is set; fault_point exits the
 * process with status 99 when @point is set. */
gboolean tv_store_private_fault_fail (TvStore *store, const char *op, GError **error);
void tv_store_private_fault_point (TvStore *store, const char *point);

/* The audit row staged with tv_store_audit_stage() (tv-store-audit.c),
 * one per store. @row is NULL when nothing is staged; @committed turns TRUE
 * when a write transaction carrying it committed; @appending is set while
 * tv_store_audit_append() runs a transaction of its own (whose commit must
 * not carry the staged row). */
typedef struct {
  TvAuditRow *row;
  gboolean committed;
  gboolean appending;
} TvStoreAuditStage;

/* Returns: (transfer none) @store's stage (tv-store-sqlite.c owns it). */
TvStoreAuditStage *tv_store_private_audit_stage (TvStore *store);

/* Called by every write transaction's commit, inside the transaction, before
 * COMMIT: appends the staged row, if one is waiting, to the chain (so it
 * commits or rolls back with the change). *@appended tells whether it did.
 * Returns: TRUE; FALSE with @error (the caller rolls back: no change and no
 * row). */
gboolean tv_store_private_audit_flush (TvStore *store, gboolean *appended, GError **error);

/* Called after the COMMIT that carried the staged row: marks it committed. */
void tv_store_private_audit_committed (TvStore *store);

/* Store functions that create a record call this inside their transaction
 * with the new record's id and the patient it concerns (either may be NULL):
 * a staged row that left resource_id / patient_id NULL gets them. */
void tv_store_private_audit_subject (TvStore *store, const char *resource_id, const char *patient_id);

/* Returns: (transfer full) a fresh 43-char base64url token of 32 random bytes
 * (OpenSSL RAND_bytes); NULL with @error (IO). */
char *tv_store_private_token_new (GError **error);

/* Returns: (transfer full) the lower-case hex SHA-256 of @token (what the store keeps). */
char *tv_store_private_token_hash (const char *token);

/* Returns: (transfer none) the join-link key set with tv_store_set_join_link_key,
 * or NULL (tokens are then random). */
const TvJoinLinkKey *tv_store_private_join_link_key (TvStore *store);

/* tv_store_private_join_token_issue:
 * Inside the caller's transaction: replaces the join token of (@consult_id,
 * @role) — deleting any existing row — with a new one valid until @expires.
 * With a join-link key the token is derived (tv_join_link_token) with
 * issued_at = @now, or one µs after the replaced row's created_at when that is
 * not earlier (a token re-issued in the same µs must still change); the row's
 * created_at is that issued_at. Without a key the token is random.
 * Returns: TRUE with *@out (transfer full, the token in clear); FALSE with
 * @error (IO, CONFLICT). */
gboolean tv_store_private_join_token_issue (TvStore *store, const char *consult_id, const char *role,
                                            gint64 expires, gint64 now, char **out, GError **error);

/* tv_store_private_join_token_issue_new:
 * tv_store_private_join_token_issue for a consult inserted in the caller's
 * transaction, which has no token yet: issued at @issued_at (the row's
 * created_at), without reading for a row to replace (a booking's two tokens,
 * on the store writer's path). An existing row makes it fail (CONFLICT, the
 * unique constraint). */
gboolean tv_store_private_join_token_issue_new (TvStore *store, const char *consult_id, const char *role,
                                                gint64 expires, gint64 issued_at, char **out, GError **error);

/* Checks text as the store does for names: non-empty, at most @max bytes, valid
 * UTF-8, no control characters. FALSE with INVALID naming @what. */
gboolean tv_store_private_check_text (const char *text, gsize max, const char *what, GError **error);

/* Steps @st (bound by the caller) to its end, adding @row_new (st) for each
 * row, and resets it. Returns: (transfer full) the rows, freed with @row_free;
 * NULL with @error (IO, prefixed @what) when a step fails. */
GPtrArray *tv_store_private_collect (TvStore *store, sqlite3_stmt *st, gpointer (*row_new) (sqlite3_stmt *st),
                                     GDestroyNotify row_free, const char *what, GError **error);

/* Returns: (transfer full) the text of column @col, NULL for SQL NULL. */
char *tv_store_private_column_strdup (sqlite3_stmt *st, int col);

/* Encryption at rest of sensitive text columns (visit notes, chat, contact
 * details): every such column is written through seal and read through unseal
 * (server/tv-store-seal.c). @context names the column and row (e.g.
 * "chat.text:<consult id>") and is bound into the ciphertext, so a value
 * copied to another row or column does not open. NULL @plaintext/@stored
 * gives NULL. Returns: (transfer full) the text to store / the plaintext;
 * NULL with @error (IO) when the key is missing or the value does not open. */
char *tv_store_private_seal (TvStore *store, const char *plaintext, const char *context, GError **error);
char *tv_store_private_unseal (TvStore *store, const char *stored, const char *context, GError **error);

/* The encryption state of a store (key ring file, loaded keys), owned by the
 * store: made by tv_store_open, freed by tv_store_close (tv-store-seal.c). */
typedef struct _TvStoreSeal TvStoreSeal;
/* Returns: (transfer full) the state for the database at @db_path (default key file). */
TvStoreSeal *tv_store_private_seal_new (const char *db_path);
void tv_store_private_seal_free (TvStoreSeal *seal);   /* NULL accepted; wipes the keys */
/* Returns: (transfer none) the store's state. */
TvStoreSeal *tv_store_private_seal_state (TvStore *store);

G_END_DECLS
