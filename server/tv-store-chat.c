/* tv-store-chat.c — the in-call chat of a consult in the store (see tv-store-chat.h).
 *
 * Why: chat rows are written by the consult protocol (tv-consult-ws.c) as the
 * parties send them, one small transaction each, and read back for the replay
 * on join, `televisitctl show` and the API. The text goes through
 * tv_store_private_seal/unseal with context "consult_chat.text:<consult id>"
 * (the registry row in tv-store-seal.c lets key rotation reach it).
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-chat.h"
#include "server/tv-store-private.h"

#include <string.h>

static const char SQL_STATUS[] = "SELECT status FROM consults WHERE id = ?1";
static const char SQL_INSERT[] =
  "INSERT INTO consult_chat (consult_id, sender_role, sent_at, text) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_LIST[] =
  "SELECT id, sender_role, sent_at, text FROM consult_chat WHERE consult_id = ?1 ORDER BY id";
static const char SQL_COUNT[] = "SELECT count(*) FROM consult_chat WHERE consult_id = ?1";

void
tv_chat_message_free (TvChatMessage *msg)
{
  if (msg == NULL)
    return;
  if (msg->text != NULL) {
    memset (msg->text, 0, strlen (msg->text));
    g_free (msg->text);
  }
  g_free (msg->consult_id);
  g_free (msg->sender_role);
  g_free (msg);
}

static char *
context_of (const char *consult_id)
{
  return g_strconcat ("consult_chat.text:", consult_id, NULL);
}

static gboolean
check_text (const char *text, GError **error)
{
  if (text == NULL || *text == '\0') {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "chat text: empty");
    return FALSE;
  }
  if (strlen (text) > TV_STORE_CHAT_MAX_BYTES || !g_utf8_validate (text, -1, NULL)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "chat text: must be UTF-8 of at most %d bytes",
                 TV_STORE_CHAT_MAX_BYTES);
    return FALSE;
  }
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    if ((*p < 0x20 && *p != '\n') || *p == 0x7f) {
      g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID,
                           "chat text: control characters other than newline");
      return FALSE;
    }
  return TRUE;
}

/* Inside the transaction: the consult exists and is not over. */
static gboolean
check_consult (TvStore *store, const char *consult_id, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_STATUS, error);
  gboolean ok = FALSE;
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult %s", consult_id);
  } else if (rc != SQLITE_ROW) {
    tv_store_private_db_error (store, error, "chat: read the consult");
  } else {
    const char *status = (const char *) sqlite3_column_text (st, 0);
    if (g_strcmp0 (status, "completed") == 0 || g_strcmp0 (status, "cancelled") == 0
        || g_strcmp0 (status, "no-show") == 0)
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "consult %s is %s: no more chat", consult_id,
                   status);
    else
      ok = TRUE;
  }
  tv_store_private_stmt_done (st);
  return ok;
}

gboolean
tv_store_chat_add (TvStore *store, const char *consult_id, const char *sender_role, gint64 sent_at,
                   const char *text, gint64 *id, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (consult_id == NULL || *consult_id == '\0') {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "no consult id");
    return FALSE;
  }
  if (g_strcmp0 (sender_role, "doctor") != 0 && g_strcmp0 (sender_role, "patient") != 0) {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "chat sender: must be doctor or patient");
    return FALSE;
  }
  if (sent_at <= 0) {
    g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "chat time: must be positive");
    return FALSE;
  }
  if (!check_text (text, error) || tv_store_private_fault_fail (store, "chat", error))
    return FALSE;

  g_autofree char *context = context_of (consult_id);
  g_autofree char *sealed = tv_store_private_seal (store, text, context, error);
  if (sealed == NULL)
    return FALSE;
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!check_consult (store, consult_id, error))
    goto fail;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, sender_role, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 3, sent_at);
  sqlite3_bind_text (st, 4, sealed, -1, SQLITE_TRANSIENT);
  gboolean ok = tv_store_private_exec_done (store, st, "chat: insert", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    goto fail;
  gint64 new_id = sqlite3_last_insert_rowid (tv_store_private_db (store));
  if (!tv_store_private_commit (store, error))
    goto fail;
  if (id != NULL)
    *id = new_id;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

GPtrArray *
tv_store_chat_list (TvStore *store, const char *consult_id, GError **error)
{
  g_return_val_if_fail (store != NULL && consult_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_LIST, error);
  if (st == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_chat_message_free);
  g_autofree char *context = context_of (consult_id);
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    g_autofree char *stored = tv_store_private_column_strdup (st, 3);
    char *text = tv_store_private_unseal (store, stored ? stored : "", context, error);
    if (text == NULL) {
      tv_store_private_stmt_done (st);
      g_ptr_array_unref (out);
      return NULL;
    }
    TvChatMessage *m = g_new0 (TvChatMessage, 1);
    m->id = sqlite3_column_int64 (st, 0);
    m->consult_id = g_strdup (consult_id);
    m->sender_role = tv_store_private_column_strdup (st, 1);
    m->sent_at = sqlite3_column_int64 (st, 2);
    m->text = text;
    g_ptr_array_add (out, m);
  }
  if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "chat: list");
    tv_store_private_stmt_done (st);
    g_ptr_array_unref (out);
    return NULL;
  }
  tv_store_private_stmt_done (st);
  return out;
}

gint64
tv_store_chat_count (TvStore *store, const char *consult_id, GError **error)
{
  g_return_val_if_fail (store != NULL && consult_id != NULL, -1);
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_COUNT, error);
  if (st == NULL)
    return -1;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  gint64 n = -1;
  if (sqlite3_step (st) == SQLITE_ROW)
    n = sqlite3_column_int64 (st, 0);
  else
    tv_store_private_db_error (store, error, "chat: count");
  tv_store_private_stmt_done (st);
  return n;
}
