/* tv-store-join-link.c — issuing and re-creating join tokens in the store.
 *
 * Why: see server/tv-join-link.h. Every join token the store issues (booking,
 * reschedule, tv_store_consult_create) goes through
 * tv_store_private_join_token_issue, which derives it from the store's
 * join-link key when one is set, so tv_store_join_token_recreate can give the
 * current token back later from the row's created_at and check it against the
 * stored hash. Still only the hash is stored.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-join-link.h"
#include "server/tv-store-private.h"

#include <string.h>

static const char SQL_TOKEN_ROW[] =
  "SELECT sha256, created_at FROM join_tokens WHERE consult_id = ?1 AND role = ?2";
static const char SQL_TOKEN_DELETE[] =
  "DELETE FROM join_tokens WHERE consult_id = ?1 AND role = ?2";
static const char SQL_TOKEN_ADD[] =
  "INSERT INTO join_tokens (sha256, consult_id, role, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
static const char SQL_CONSULT_EXISTS[] =
  "SELECT 1 FROM consults WHERE id = ?1";

/* Reads the token row of (@consult_id, @role).
 * Returns: TRUE with *@found and, when found, *@hash (transfer full) and
 * *@created_at; FALSE with @error (IO). */
static gboolean
token_row (TvStore *store, const char *consult_id, const char *role, gboolean *found, char **hash,
           gint64 *created_at, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_TOKEN_ROW, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, role, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  *found = rc == SQLITE_ROW;
  if (*found) {
    if (hash != NULL)
      *hash = tv_store_private_column_strdup (st, 0);
    *created_at = sqlite3_column_int64 (st, 1);
  } else if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "read join token");
  }
  tv_store_private_stmt_done (st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* Also the second half of tv_store_private_join_token_issue, once the row
 * to replace is gone: @issued_at is the token's issue time. */
gboolean
tv_store_private_join_token_issue_new (TvStore *store, const char *consult_id, const char *role, gint64 expires,
                                       gint64 issued_at, char **out, GError **error)
{
  const TvJoinLinkKey *key = tv_store_private_join_link_key (store);
  g_autofree char *token = key != NULL ? tv_join_link_token (key, consult_id, role, issued_at)
                                       : tv_store_private_token_new (error);
  if (token == NULL)
    return FALSE;
  g_autofree char *hash = tv_store_private_token_hash (token);
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_TOKEN_ADD, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, consult_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 3, role, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 4, expires);
  sqlite3_bind_int64 (st, 5, issued_at);
  gboolean ok = tv_store_private_exec_done (store, st, "insert join token", error);
  tv_store_private_stmt_done (st);
  if (ok)
    *out = g_steal_pointer (&token);
  return ok;
}

gboolean
tv_store_private_join_token_issue (TvStore *store, const char *consult_id, const char *role, gint64 expires,
                                   gint64 now, char **out, GError **error)
{
  gboolean found = FALSE;
  gint64 old_at = 0;
  if (!token_row (store, consult_id, role, &found, NULL, &old_at, error))
    return FALSE;
  gint64 issued_at = now;
  if (found) {
    if (old_at >= issued_at)
      issued_at = old_at + 1;
    sqlite3_stmt *st = tv_store_private_stmt (store, SQL_TOKEN_DELETE, error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 2, role, -1, SQLITE_TRANSIENT);
    gboolean ok = tv_store_private_exec_done (store, st, "revoke join token", error);
    tv_store_private_stmt_done (st);
    if (!ok)
      return FALSE;
  }
  return tv_store_private_join_token_issue_new (store, consult_id, role, expires, issued_at, out, error);
}

gboolean
tv_store_join_token_recreate (TvStore *store, const char *consult_id, const char *role, char **token,
                              GError **error)
{
  g_return_val_if_fail (store != NULL && token != NULL, FALSE);
  if (g_strcmp0 (role, "doctor") != 0 && g_strcmp0 (role, "patient") != 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "role must be doctor or patient");
    return FALSE;
  }
  if (consult_id == NULL || *consult_id == '\0') {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "consult id is empty");
    return FALSE;
  }
  const TvJoinLinkKey *key = tv_store_private_join_link_key (store);
  if (key == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no join-link key set: links cannot be re-created");
    return FALSE;
  }
  gboolean found = FALSE;
  g_autofree char *hash = NULL;
  gint64 issued_at = 0;
  if (!token_row (store, consult_id, role, &found, &hash, &issued_at, error))
    return FALSE;
  if (!found) {
    sqlite3_stmt *st = tv_store_private_stmt (store, SQL_CONSULT_EXISTS, error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
    gboolean exists = sqlite3_step (st) == SQLITE_ROW;
    tv_store_private_stmt_done (st);
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND,
                 exists ? "consult %s has no %s join token" : "no consult %s", consult_id, role);
    return FALSE;
  }
  g_autofree char *derived = tv_join_link_token (key, consult_id, role, issued_at);
  g_autofree char *derived_hash = tv_store_private_token_hash (derived);
  if (g_strcmp0 (derived_hash, hash) != 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND,
                 "the %s join token of consult %s was not derived with this key (issued before the key, or the key changed)",
                 role, consult_id);
    return FALSE;
  }
  *token = g_steal_pointer (&derived);
  return TRUE;
}
