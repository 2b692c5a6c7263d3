/* tv-store-live.c — checkpoints of live consults' connected intervals (see tv-store-live.h).
 *
 * Why: kept out of tv-store-sqlite.c (shared by several engineers) as the
 * store's area files are; one UPDATE, atomic on its own in SQLite.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-live.h"
#include "server/tv-store-private.h"

static const char SQL_CHECKPOINT[] =
  "UPDATE consults SET connected_us = connected_us + (?2 - media_up_since), media_up_since = ?2"
  " WHERE id = ?1 AND media_up_since <> 0 AND ?2 > media_up_since";
static const char SQL_EXISTS[] = "SELECT 1 FROM consults WHERE id = ?1";

gboolean
tv_store_consult_media_checkpoint (TvStore *store, const char *id, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL, FALSE);
  if (now <= 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "now: must be a positive time");
    return FALSE;
  }
  if (tv_store_private_fault_fail (store, "media-checkpoint", error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_CHECKPOINT, error);
  if (!st)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 2, now);
  gboolean ok = tv_store_private_exec_done (store, st, "checkpoint media interval", error);
  tv_store_private_stmt_done (st);
  if (!ok || sqlite3_changes (tv_store_private_db (store)) == 1)
    return ok;
  /* Nothing changed: fine unless the consult does not exist. */
  st = tv_store_private_stmt (store, SQL_EXISTS, error);
  if (!st)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step (st);
  tv_store_private_stmt_done (st);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult with id %s", id);
  else
    tv_store_private_db_error (store, error, "read consult");
  return FALSE;
}
