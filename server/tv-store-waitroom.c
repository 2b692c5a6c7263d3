/* tv-store-waitroom.c — arrival, admission and wait time in the store (schema v4).
 *
 * Why: the waiting room's timestamps belong to the consult row, written in
 * their own small transactions by the consult protocol (tv-consult-ws.c) as
 * the patient joins and the doctor admits; see tv-store-waitroom.h.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-waitroom.h"
#include "server/tv-store-private.h"

/* Added columns with constant defaults: existing rows (v1..v3 consults) read
 * as "never arrived / never admitted". */
const char TV_STORE_WAITROOM_SCHEMA_V4[] =
  "ALTER TABLE consults ADD COLUMN arrived_at INTEGER NOT NULL DEFAULT 0 CHECK (arrived_at >= 0);"
  "ALTER TABLE consults ADD COLUMN admitted_at INTEGER NOT NULL DEFAULT 0 CHECK (admitted_at >= 0);"
  "ALTER TABLE consults ADD COLUMN wait_us INTEGER NOT NULL DEFAULT 0 CHECK (wait_us >= 0);";

static const char SQL_STATUS[] =
  "SELECT status, arrived_at, admitted_at FROM consults WHERE id = ?1";
static const char SQL_ARRIVE[] =
  "UPDATE consults SET arrived_at = ?2,"
  " status = CASE WHEN status = 'scheduled' THEN 'waiting' ELSE status END"
  " WHERE id = ?1 AND arrived_at = 0";
static const char SQL_ADMIT[] =
  "UPDATE consults SET admitted_at = ?2,"
  " arrived_at = CASE WHEN arrived_at = 0 THEN ?2 ELSE arrived_at END,"
  " wait_us = CASE WHEN arrived_at = 0 THEN 0 ELSE max(0, ?2 - arrived_at) END"
  " WHERE id = ?1 AND admitted_at = 0";

/* Reads what the two transitions depend on, inside the caller's transaction.
 * FALSE with NOT_FOUND, WRONG_STATE (the consult is over) or IO. */
static gboolean
read_state (TvStore *store, const char *id, const char *op, gint64 *arrived, gint64 *admitted, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_STATUS, error);
  gboolean ok = FALSE;
  int rc;

  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step (st);
  if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult %s", id);
  } else if (rc != SQLITE_ROW) {
    tv_store_private_db_error (store, error, op);
  } else {
    const char *status = (const char *) sqlite3_column_text (st, 0);
    *arrived = sqlite3_column_int64 (st, 1);
    *admitted = sqlite3_column_int64 (st, 2);
    if (g_strcmp0 (status, "scheduled") == 0 || g_strcmp0 (status, "waiting") == 0
        || g_strcmp0 (status, "in-progress") == 0)
      ok = TRUE;
    else
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "consult %s is %s, cannot %s", id,
                   status ? status : "?", op);
  }
  tv_store_private_stmt_done (st);
  return ok;
}

static gboolean
check_args (TvStore *store, const char *id, gint64 now, const char *fault, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (id == NULL || *id == '\0') {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "no consult id");
    return FALSE;
  }
  if (now <= 0) {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "now must be a positive time");
    return FALSE;
  }
  return !tv_store_private_fault_fail (store, fault, error);
}

/* One UPDATE (@sql with ?1 = id, ?2 = now) in the open transaction. */
static gboolean
update (TvStore *store, const char *sql, const char *id, gint64 now, const char *what, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, now);
  gboolean ok = tv_store_private_exec_done (store, st, what, error);
  tv_store_private_stmt_done (st);
  return ok;
}

gboolean
tv_store_consult_patient_arrived (TvStore *store, const char *id, gint64 now, gboolean *first, GError **error)
{
  gint64 arrived = 0, admitted = 0;

  if (first != NULL)
    *first = FALSE;
  if (!check_args (store, id, now, "arrive", error) || !tv_store_private_begin (store, error))
    return FALSE;
  if (!read_state (store, id, "record the arrival", &arrived, &admitted, error))
    goto fail;
  if (arrived == 0) {
    if (!update (store, SQL_ARRIVE, id, now, "record the arrival", error))
      goto fail;
    if (first != NULL)
      *first = TRUE;
  }
  if (!tv_store_private_commit (store, error))
    goto fail;
  if (arrived == 0)
    g_debug ("consult %s: patient arrived in the waiting room", id);
  return TRUE;

fail:
  tv_store_private_rollback (store);
  if (first != NULL)
    *first = FALSE;
  return FALSE;
}

gboolean
tv_store_consult_admitted (TvStore *store, const char *id, gint64 now, GError **error)
{
  gint64 arrived = 0, admitted = 0;

  if (!check_args (store, id, now, "admit", error) || !tv_store_private_begin (store, error))
    return FALSE;
  if (!read_state (store, id, "record the admission", &arrived, &admitted, error))
    goto fail;
  if (admitted == 0 && !update (store, SQL_ADMIT, id, now, "record the admission", error))
    goto fail;
  if (!tv_store_private_commit (store, error))
    goto fail;
  if (admitted == 0)
    g_debug ("consult %s: patient admitted after %" G_GINT64_FORMAT " ms", id,
             arrived != 0 ? MAX (0, now - arrived) / 1000 : 0);
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}
