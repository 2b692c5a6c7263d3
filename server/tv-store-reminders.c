/* tv-store-reminders.c — contact details and the reminder outbox (schema v7).
 *
 * Why: see tv-store-reminders.h for the contract. The booking hooks run inside
 * the transaction of tv_store_consult_book / _reschedule / _cancel, so they use
 * the cached statements without BEGIN/COMMIT of their own; every other
 * changing function here is one BEGIN IMMEDIATE transaction. Nothing here logs
 * an address, a phone number or a name.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-reminders.h"
#include "server/tv-store-private.h"

#include <string.h>

#define REMINDER_COLUMNS                                                                                   \
  "id, consult_id, kind, offset_s, due_at, consult_start, consult_end, sequence, status, attempts,"       \
  " next_attempt_at, last_error, created_at, updated_at, sent_at"

static const char SQL_SETTINGS_GET[] = "SELECT offsets FROM reminder_settings WHERE id = 1";
static const char SQL_SETTINGS_SET[] =
  "INSERT INTO reminder_settings (id, offsets, updated_at) VALUES (1, ?1, ?2)"
  " ON CONFLICT (id) DO UPDATE SET offsets = excluded.offsets, updated_at = excluded.updated_at";
static const char SQL_INSERT[] =
  "INSERT INTO reminders (consult_id, kind, offset_s, due_at, consult_start, consult_end, sequence, status,"
  " next_attempt_at, last_error, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?4, ?9, ?10, ?10)";
/* Two rows in one statement (?11..?20 as ?1..?10 for the second): a
 * booking's two default reminders cost one statement and one update of the
 * AUTOINCREMENT counter instead of two. */
#define REMINDER_VALUES(a, b, c, d, e, f, g, h, i, j) \
  "(?" #a ", ?" #b ", ?" #c ", ?" #d ", ?" #e ", ?" #f ", ?" #g ", ?" #h ", ?" #d ", ?" #i ", ?" #j ", ?" #j ")"
static const char SQL_INSERT_TWO[] =
  "INSERT INTO reminders (consult_id, kind, offset_s, due_at, consult_start, consult_end, sequence, status,"
  " next_attempt_at, last_error, created_at, updated_at) VALUES "
  REMINDER_VALUES (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) ", " REMINDER_VALUES (11, 12, 13, 14, 15, 16, 17, 18, 19, 20);
static const char SQL_NEXT_SEQUENCE[] =
  "SELECT coalesce(max(sequence) + 1, 0), coalesce(sum(status = 'sent'), 0) FROM reminders WHERE consult_id = ?1";
/* OR rather than IN ('pending', 'sending'): the same rows, without a
 * temporary b-tree for the list on every run (every cancel). */
static const char SQL_CANCEL_OPEN[] =
  "UPDATE reminders SET status = 'cancelled', last_error = ?2, updated_at = ?3"
  " WHERE consult_id = ?1 AND (status = 'pending' OR status = 'sending')";
static const char SQL_CONSULT_TIMES[] = "SELECT scheduled_start, scheduled_end FROM consults WHERE id = ?1";
static const char SQL_LIST_ONE[] =
  "SELECT " REMINDER_COLUMNS " FROM reminders WHERE consult_id = ?1 ORDER BY id";
static const char SQL_LIST_ALL[] =
  "SELECT " REMINDER_COLUMNS " FROM reminders ORDER BY due_at DESC, id DESC LIMIT 1000";
static const char SQL_DUE[] =
  "SELECT " REMINDER_COLUMNS " FROM reminders WHERE status = 'pending' AND next_attempt_at <= ?1"
  " ORDER BY next_attempt_at, id LIMIT ?2";
static const char SQL_GET[] = "SELECT " REMINDER_COLUMNS " FROM reminders WHERE id = ?1";
static const char SQL_SET_SENDING[] =
  "UPDATE reminders SET status = 'sending', updated_at = ?2 WHERE id = ?1 AND status = 'pending'";
static const char SQL_ATTEMPT[] =
  "UPDATE reminders SET status = ?2, attempts = attempts + 1, last_error = ?3, next_attempt_at = ?4,"
  " sent_at = ?5, updated_at = ?6 WHERE id = ?1";
static const char SQL_SETTLE[] =
  "UPDATE reminders SET status = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1";
static const char SQL_RECOVER[] =
  "UPDATE reminders SET status = 'pending', updated_at = ?1 WHERE status = 'sending'";
static const char SQL_USER_EXISTS[] = "SELECT 1 FROM users WHERE id = ?1";
static const char SQL_CONTACT_GET[] = "SELECT email, phone, updated_at FROM user_contacts WHERE user_id = ?1";
static const char SQL_CONTACT_PUT[] =
  "INSERT INTO user_contacts (user_id, email, phone, updated_at) VALUES (?1, ?2, ?3, ?4)"
  " ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, phone = excluded.phone,"
  " updated_at = excluded.updated_at";

static const char *const status_names[] = { "pending", "sending", "sent", "failed", "cancelled", "skipped" };

const char *
tv_reminder_status_to_string (TvReminderStatus status)
{
  if ((guint) status < G_N_ELEMENTS (status_names))
    return status_names[status];
  return "unknown";
}

static TvReminderStatus
status_from_string (const char *s)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_strcmp0 (s, status_names[i]) == 0)
      return (TvReminderStatus) i;
  return TV_REMINDER_FAILED;
}

void
tv_reminder_free (TvReminder *r)
{
  if (r == NULL)
    return;
  g_free (r->consult_id);
  g_free (r->kind);
  g_free (r->last_error);
  g_free (r);
}

void
tv_contact_free (TvContact *c)
{
  if (c == NULL)
    return;
  g_free (c->email);
  g_free (c->phone);
  g_free (c);
}

static gboolean
fail_invalid (GError **error, const char *format, const char *arg)
{
  g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, format, arg);
  return FALSE;
}

static void
bind_text_or_null (sqlite3_stmt *st, int col, const char *text)
{
  if (text != NULL)
    sqlite3_bind_text (st, col, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (st, col);
}

/* Steps the write @st, releases it and commits; FALSE with @error (the
 * caller rolls back). */
static gboolean
exec_and_commit (TvStore *store, sqlite3_stmt *st, const char *what, GError **error)
{
  gboolean ok = tv_store_private_exec_done (store, st, what, error);
  tv_store_private_stmt_done (st);
  return ok && tv_store_private_commit (store, error);
}

/* ------------------------------------------------------------------------ */
/* Offsets                                                                    */

static gint
cmp_desc (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? 1 : x > y ? -1 : 0;
}

gboolean
tv_reminders_parse_offsets (const char *text, GArray **seconds, GError **error)
{
  g_return_val_if_fail (seconds != NULL, FALSE);
  if (text == NULL)
    return fail_invalid (error, "reminder offsets: missing%s", "");
  if (strlen (text) > 200)
    return fail_invalid (error, "reminder offsets: longer than 200 characters%s", "");
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *copy = g_strstrip (g_strdup (text));
  if (*copy == '\0' || g_ascii_strcasecmp (copy, "none") == 0) {
    *seconds = g_steal_pointer (&out);
    return TRUE;
  }
  g_auto (GStrv) items = g_strsplit (copy, ",", -1);
  for (char **it = items; *it != NULL; it++) {
    char *item = g_strstrip (*it);
    gsize len = strlen (item);
    gint64 unit = 0;
    if (len >= 2) {
      switch (item[len - 1]) {
      case 'd': unit = 86400; break;
      case 'h': unit = 3600; break;
      case 'm': unit = 60; break;
      case 's': unit = 1; break;
      default: break;
      }
    }
    g_autofree char *digits = unit > 0 ? g_strndup (item, len - 1) : NULL;
    guint64 n = 0;
    if (unit == 0 || !g_ascii_isdigit (digits[0])
        || !g_ascii_string_to_unsigned (digits, 10, 0, TV_REMINDERS_MAX_OFFSET_S / unit, &n, NULL)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID,
                   "reminder offsets: \"%s\" is not a whole number of d, h, m or s up to 30 days (e.g. 24h,15m)",
                   item);
      return FALSE;
    }
    gint64 s = (gint64) n * unit;
    for (guint i = 0; i < out->len; i++)
      if (g_array_index (out, gint64, i) == s)
        return fail_invalid (error, "reminder offsets: \"%s\" is given twice", item);
    if (out->len >= TV_REMINDERS_MAX_OFFSETS) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "reminder offsets: more than %d",
                   TV_REMINDERS_MAX_OFFSETS);
      return FALSE;
    }
    g_array_append_val (out, s);
  }
  g_array_sort (out, cmp_desc);
  *seconds = g_steal_pointer (&out);
  return TRUE;
}

char *
tv_reminders_format_offset (gint64 offset_s)
{
  if (offset_s >= 2 * 86400 && offset_s % 86400 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "d", offset_s / 86400);
  if (offset_s > 0 && offset_s % 3600 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h", offset_s / 3600);
  if (offset_s > 0 && offset_s % 60 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m", offset_s / 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "s", offset_s);
}

/* The recorded offsets text, inside or outside a transaction. */
static char *
offsets_read (TvStore *store, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SETTINGS_GET, error);
  if (st == NULL)
    return NULL;
  char *text = NULL;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW)
    text = tv_store_private_column_strdup (st, 0);
  else if (rc == SQLITE_DONE)
    text = g_strdup (TV_REMINDERS_DEFAULT_OFFSETS);
  else
    tv_store_private_db_error (store, error, "read reminder offsets");
  tv_store_private_stmt_done (st);
  return text;
}

char *
tv_store_reminders_get_offsets (TvStore *store, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  return offsets_read (store, error);
}

gboolean
tv_store_reminders_set_offsets (TvStore *store, const char *text, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_autoptr (GArray) parsed = NULL;
  if (!tv_reminders_parse_offsets (text, &parsed, error))
    return FALSE;
  if (now <= 0)
    return fail_invalid (error, "now must be a positive time%s", "");
  g_autofree char *stripped = g_strstrip (g_strdup (text));
  if (!tv_store_private_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SETTINGS_SET, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, stripped, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, now);
  if (!exec_and_commit (store, st, "set reminder offsets", error))
    goto fail;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Hooks inside booking transactions                                          */

/* Binds one row of SQL_INSERT / SQL_INSERT_TWO at parameters @base + 1 ... */
static void
bind_message (sqlite3_stmt *st, int base, const char *consult_id, const char *kind, gint64 offset_s,
              gint64 due_at, gint64 start, gint64 end, guint sequence, const char *status, const char *reason,
              gint64 now)
{
  sqlite3_bind_text (st, base + 1, consult_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, base + 2, kind, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, base + 3, offset_s);
  sqlite3_bind_int64 (st, base + 4, due_at);
  sqlite3_bind_int64 (st, base + 5, start);
  sqlite3_bind_int64 (st, base + 6, end);
  sqlite3_bind_int64 (st, base + 7, sequence);
  sqlite3_bind_text (st, base + 8, status, -1, SQLITE_STATIC);
  bind_text_or_null (st, base + 9, reason);
  sqlite3_bind_int64 (st, base + 10, now);
}

static gboolean
insert_message (TvStore *store, const char *consult_id, const char *kind, gint64 offset_s, gint64 due_at,
                gint64 start, gint64 end, guint sequence, const char *status, const char *reason, gint64 now,
                GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_INSERT, error);
  if (st == NULL)
    return FALSE;
  bind_message (st, 0, consult_id, kind, offset_s, due_at, start, end, sequence, status, reason, now);
  gboolean ok = tv_store_private_exec_done (store, st, "insert reminder", error);
  tv_store_private_stmt_done (st);
  return ok;
}

/* The next SEQUENCE for @consult_id and whether any of its messages was sent. */
static gboolean
next_sequence (TvStore *store, const char *consult_id, guint *sequence, gboolean *any_sent, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_NEXT_SEQUENCE, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  gboolean ok = sqlite3_step (st) == SQLITE_ROW;
  if (ok) {
    *sequence = (guint) sqlite3_column_int64 (st, 0);
    if (any_sent != NULL)
      *any_sent = sqlite3_column_int64 (st, 1) > 0;
  } else {
    tv_store_private_db_error (store, error, "read reminder sequence");
  }
  tv_store_private_stmt_done (st);
  return ok;
}

static gboolean
cancel_open (TvStore *store, const char *consult_id, const char *reason, gint64 now, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_CANCEL_OPEN, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 3, now);
  gboolean ok = tv_store_private_exec_done (store, st, "cancel reminders", error);
  tv_store_private_stmt_done (st);
  return ok;
}

/* One message per configured offset for the slot [@start, @end). */
static gboolean
insert_for_slot (TvStore *store, const char *consult_id, gint64 start, gint64 end, guint sequence, gint64 now,
                 GError **error)
{
  g_autofree char *text = offsets_read (store, error);
  if (text == NULL)
    return FALSE;
  g_autoptr (GArray) offsets = NULL;
  g_autoptr (GError) local = NULL;
  if (!tv_reminders_parse_offsets (text, &offsets, &local)) {
    /* Only a hand-edited database gets here: book anyway, with the defaults. */
    g_warning ("stored reminder offsets are invalid (%s); using " TV_REMINDERS_DEFAULT_OFFSETS, local->message);
    if (!tv_reminders_parse_offsets (TV_REMINDERS_DEFAULT_OFFSETS, &offsets, error))
      return FALSE;
  }
  /* Two rows per statement, in the offsets' order (ids ascending as before). */
  for (guint i = 0; i < offsets->len; i += 2) {
    gboolean two = i + 1 < offsets->len;
    sqlite3_stmt *st = tv_store_private_stmt (store, two ? SQL_INSERT_TWO : SQL_INSERT, error);
    if (st == NULL)
      return FALSE;
    for (guint k = 0; k < (two ? 2u : 1u); k++) {
      gint64 off = g_array_index (offsets, gint64, i + k);
      gint64 due = start - off * G_USEC_PER_SEC;
      gboolean past = due < now;
      bind_message (st, (int) k * 10, consult_id, "reminder", off, due, start, end, sequence,
                    past ? "skipped" : "pending", past ? "due before booking" : NULL, now);
    }
    gboolean ok = tv_store_private_exec_done (store, st, "insert reminder", error);
    tv_store_private_stmt_done (st);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

gboolean
tv_store_reminders_private_booked (TvStore *store, const char *consult_id, gint64 start, gint64 end, gint64 now,
                                   GError **error)
{
  return insert_for_slot (store, consult_id, start, end, 0, now, error);
}

gboolean
tv_store_reminders_private_rescheduled (TvStore *store, const char *consult_id, gint64 start, gint64 end,
                                        gint64 now, GError **error)
{
  guint sequence = 0;
  return cancel_open (store, consult_id, "rescheduled", now, error)
         && next_sequence (store, consult_id, &sequence, NULL, error)
         && insert_for_slot (store, consult_id, start, end, MAX (sequence, 1), now, error);
}

gboolean
tv_store_reminders_private_over (TvStore *store, const char *consult_id, const char *why, gint64 now,
                                 GError **error)
{
  return cancel_open (store, consult_id, why, now, error);
}

gboolean
tv_store_reminders_private_cancelled (TvStore *store, const char *consult_id, gint64 now, GError **error)
{
  guint sequence = 0;
  gboolean any_sent = FALSE;
  if (!cancel_open (store, consult_id, "consult cancelled", now, error)
      || !next_sequence (store, consult_id, &sequence, &any_sent, error))
    return FALSE;
  if (!any_sent)
    return TRUE;   /* the patient holds no invitation: nothing to withdraw */
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_CONSULT_TIMES, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  gint64 start = 0, end = 0;
  if (sqlite3_step (st) == SQLITE_ROW) {
    start = sqlite3_column_int64 (st, 0);
    end = sqlite3_column_int64 (st, 1);
  }
  tv_store_private_stmt_done (st);
  if (start <= 0)
    return TRUE;
  return insert_message (store, consult_id, "cancellation", 0, now, start, MAX (end, start), sequence, "pending",
                         NULL, now, error);
}

/* ------------------------------------------------------------------------ */
/* Reading, claiming, recording attempts                                      */

static gpointer
reminder_from_row (sqlite3_stmt *st)
{
  TvReminder *r = g_new0 (TvReminder, 1);
  r->id = sqlite3_column_int64 (st, 0);
  r->consult_id = tv_store_private_column_strdup (st, 1);
  r->kind = tv_store_private_column_strdup (st, 2);
  r->offset_s = sqlite3_column_int64 (st, 3);
  r->due_at = sqlite3_column_int64 (st, 4);
  r->consult_start = sqlite3_column_int64 (st, 5);
  r->consult_end = sqlite3_column_int64 (st, 6);
  r->sequence = (guint) sqlite3_column_int64 (st, 7);
  const char *status = (const char *) sqlite3_column_text (st, 8);
  r->status = status_from_string (status);
  r->attempts = (guint) sqlite3_column_int64 (st, 9);
  r->next_attempt_at = sqlite3_column_int64 (st, 10);
  r->last_error = tv_store_private_column_strdup (st, 11);
  r->created_at = sqlite3_column_int64 (st, 12);
  r->updated_at = sqlite3_column_int64 (st, 13);
  r->sent_at = sqlite3_column_int64 (st, 14);
  return r;
}

/* Steps @st (bound by the caller) to the end, collecting rows. */
static GPtrArray *
collect (TvStore *store, sqlite3_stmt *st, GError **error)
{
  return tv_store_private_collect (store, st, reminder_from_row, (GDestroyNotify) tv_reminder_free,
                                   "read reminders", error);
}

GPtrArray *
tv_store_reminder_list (TvStore *store, const char *consult_id, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  sqlite3_stmt *st = tv_store_private_stmt (store, consult_id != NULL ? SQL_LIST_ONE : SQL_LIST_ALL, error);
  if (st == NULL)
    return NULL;
  if (consult_id != NULL)
    sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  return collect (store, st, error);
}

GPtrArray *
tv_store_reminder_claim_due (TvStore *store, gint64 now, guint max, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  /* Called every second: look without the write lock first. */
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_DUE, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, now);
  sqlite3_bind_int64 (st, 2, 1);
  int rc = sqlite3_step (st);
  tv_store_private_stmt_done (st);
  if (rc == SQLITE_DONE)
    return g_ptr_array_new_with_free_func ((GDestroyNotify) tv_reminder_free);
  if (rc != SQLITE_ROW) {
    tv_store_private_db_error (store, error, "read reminders");
    return NULL;
  }
  if (!tv_store_private_begin (store, error))
    return NULL;
  g_autoptr (GPtrArray) due = NULL;
  st = tv_store_private_stmt (store, SQL_DUE, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_int64 (st, 1, now);
  sqlite3_bind_int64 (st, 2, MAX (max, 1));
  due = collect (store, st, error);
  if (due == NULL)
    goto fail;
  for (guint i = 0; i < due->len; i++) {
    TvReminder *r = g_ptr_array_index (due, i);
    st = tv_store_private_stmt (store, SQL_SET_SENDING, error);
    if (st == NULL)
      goto fail;
    sqlite3_bind_int64 (st, 1, r->id);
    sqlite3_bind_int64 (st, 2, now);
    gboolean ok = tv_store_private_exec_done (store, st, "claim reminder", error);
    tv_store_private_stmt_done (st);
    if (!ok)
      goto fail;
    r->status = TV_REMINDER_SENDING;
    r->updated_at = now;
  }
  if (!tv_store_private_commit (store, error))
    goto fail;
  return g_steal_pointer (&due);

fail:
  tv_store_private_rollback (store);
  return NULL;
}

/* Reads the status of message @id inside the open transaction. */
static gboolean
current_status (TvStore *store, gint64 id, TvReminderStatus *status, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_GET, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_int64 (st, 1, id);
  int rc = sqlite3_step (st);
  gboolean ok = FALSE;
  if (rc == SQLITE_ROW) {
    *status = status_from_string ((const char *) sqlite3_column_text (st, 8));
    ok = TRUE;
  } else if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no reminder with id %" G_GINT64_FORMAT, id);
  } else {
    tv_store_private_db_error (store, error, "read reminder");
  }
  tv_store_private_stmt_done (st);
  return ok;
}

/* At most 256 bytes of @text, cut at a character boundary. */
static char *
clip_reason (const char *text)
{
  if (text == NULL)
    return NULL;
  if (strlen (text) <= 256)
    return g_strdup (text);
  const char *end = g_utf8_find_prev_char (text, text + 256);
  return g_strndup (text, end != NULL ? (gsize) (end - text) : 0);
}

gboolean
tv_store_reminder_attempt_done (TvStore *store, gint64 id, gboolean ok, const char *error_text, gint64 retry_at,
                                gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_autofree char *reason = ok ? NULL : clip_reason (error_text != NULL ? error_text : "delivery failed");
  if (!tv_store_private_begin (store, error))
    return FALSE;
  TvReminderStatus status;
  if (!current_status (store, id, &status, error))
    goto fail;
  if (status != TV_REMINDER_SENDING) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "reminder %" G_GINT64_FORMAT " is %s, not sending",
                 id, tv_reminder_status_to_string (status));
    goto fail;
  }
  const char *next = ok ? "sent" : retry_at > 0 ? "pending" : "failed";
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_ATTEMPT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_int64 (st, 1, id);
  sqlite3_bind_text (st, 2, next, -1, SQLITE_STATIC);
  bind_text_or_null (st, 3, reason);
  sqlite3_bind_int64 (st, 4, !ok && retry_at > 0 ? retry_at : now);
  sqlite3_bind_int64 (st, 5, ok ? now : 0);
  sqlite3_bind_int64 (st, 6, now);
  if (!exec_and_commit (store, st, "record reminder attempt", error))
    goto fail;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

gboolean
tv_store_reminder_settle (TvStore *store, gint64 id, TvReminderStatus status, const char *reason, gint64 now,
                          GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (status != TV_REMINDER_CANCELLED && status != TV_REMINDER_SKIPPED)
    return fail_invalid (error, "a reminder can only be settled as cancelled or skipped%s", "");
  g_autofree char *clipped = clip_reason (reason);
  if (!tv_store_private_begin (store, error))
    return FALSE;
  TvReminderStatus current;
  if (!current_status (store, id, &current, error))
    goto fail;
  if (current != TV_REMINDER_SENDING && current != TV_REMINDER_PENDING) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "reminder %" G_GINT64_FORMAT " is already %s",
                 id, tv_reminder_status_to_string (current));
    goto fail;
  }
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SETTLE, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_int64 (st, 1, id);
  sqlite3_bind_text (st, 2, tv_reminder_status_to_string (status), -1, SQLITE_STATIC);
  bind_text_or_null (st, 3, clipped);
  sqlite3_bind_int64 (st, 4, now);
  if (!exec_and_commit (store, st, "settle reminder", error))
    goto fail;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

gboolean
tv_store_reminders_recover (TvStore *store, gint64 now, guint *n, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!tv_store_private_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_RECOVER, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_int64 (st, 1, now);
  gboolean ok = tv_store_private_exec_done (store, st, "recover reminders", error);
  tv_store_private_stmt_done (st);
  int changed = sqlite3_changes (tv_store_private_db (store));
  if (!ok || !tv_store_private_commit (store, error))
    goto fail;
  if (n != NULL)
    *n = (guint) changed;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Contact details                                                            */

gboolean
tv_store_check_email (const char *email, GError **error)
{
  if (email == NULL || *email == '\0')
    return fail_invalid (error, "email is empty%s", "");
  if (strlen (email) > TV_STORE_MAX_EMAIL_BYTES) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "email is longer than %d bytes",
                 TV_STORE_MAX_EMAIL_BYTES);
    return FALSE;
  }
  /* Deliberately plain: what relays accept and what a clinic types, not all of RFC 5321. */
  if (!g_regex_match_simple ("^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                             "(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$",
                             email, G_REGEX_DOLLAR_ENDONLY, 0)
      || strstr (email, "..") != NULL || email[0] == '.' || strstr (email, ".@") != NULL)
    return fail_invalid (error, "email is not an address of the form local-part@domain.tld%s", "");
  return TRUE;
}

gboolean
tv_store_check_phone (const char *phone, GError **error)
{
  if (phone == NULL || *phone == '\0')
    return fail_invalid (error, "phone is empty%s", "");
  gsize len = strlen (phone);
  guint digits = 0;
  for (const char *p = phone; *p != '\0'; p++) {
    if (g_ascii_isdigit (*p))
      digits++;
    else if (strchr (" +-()./", *p) == NULL)
      return fail_invalid (error, "phone may contain only digits, spaces and + - ( ) . /%s", "");
  }
  if (len > TV_STORE_MAX_PHONE_BYTES || digits < 3) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "phone must have 3..%d characters with at least 3 digits",
                 TV_STORE_MAX_PHONE_BYTES);
    return FALSE;
  }
  return TRUE;
}

static gboolean
user_exists (TvStore *store, const char *user_id, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_USER_EXISTS, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, user_id, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  tv_store_private_stmt_done (st);
  if (rc == SQLITE_ROW)
    return TRUE;
  if (rc == SQLITE_DONE)
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no user with id %s", user_id);
  else
    tv_store_private_db_error (store, error, "read user");
  return FALSE;
}

static char *
context_of (const char *column, const char *user_id)
{
  return g_strdup_printf ("user_contacts.%s:%s", column, user_id);
}

/* Reads the contact row of @user_id (fields NULL when there is none). */
static gboolean
contact_read (TvStore *store, const char *user_id, TvContact **out, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_CONTACT_GET, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, user_id, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  g_autofree char *email = NULL, *phone = NULL;
  gint64 updated = 0;
  if (rc == SQLITE_ROW) {
    email = tv_store_private_column_strdup (st, 0);
    phone = tv_store_private_column_strdup (st, 1);
    updated = sqlite3_column_int64 (st, 2);
  }
  tv_store_private_stmt_done (st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "read contact details");
    return FALSE;
  }
  g_autofree char *ctx_email = context_of ("email", user_id);
  g_autofree char *ctx_phone = context_of ("phone", user_id);
  g_autoptr (TvContact) c = g_new0 (TvContact, 1);
  c->updated_at = updated;
  if (email != NULL && (c->email = tv_store_private_unseal (store, email, ctx_email, error)) == NULL)
    return FALSE;
  if (phone != NULL && (c->phone = tv_store_private_unseal (store, phone, ctx_phone, error)) == NULL)
    return FALSE;
  *out = g_steal_pointer (&c);
  return TRUE;
}

gboolean
tv_store_contact_get (TvStore *store, const char *user_id, TvContact **out, GError **error)
{
  g_return_val_if_fail (store != NULL && user_id != NULL && out != NULL, FALSE);
  return user_exists (store, user_id, error) && contact_read (store, user_id, out, error);
}

/* The sealed form of a new value: @value NULL keeps @current (plaintext), "" clears. */
static gboolean
sealed_value (TvStore *store, const char *value, const char *current, const char *column, const char *user_id,
              char **sealed, GError **error)
{
  const char *plain = value != NULL ? value : current;
  *sealed = NULL;
  if (plain == NULL || *plain == '\0')
    return TRUE;
  g_autofree char *ctx = context_of (column, user_id);
  *sealed = tv_store_private_seal (store, plain, ctx, error);
  return *sealed != NULL;
}

gboolean
tv_store_contact_set (TvStore *store, const char *user_id, const char *email, const char *phone, gint64 now,
                      GError **error)
{
  g_return_val_if_fail (store != NULL && user_id != NULL, FALSE);
  if ((email != NULL && *email != '\0' && !tv_store_check_email (email, error))
      || (phone != NULL && *phone != '\0' && !tv_store_check_phone (phone, error)))
    return FALSE;
  if (now <= 0)
    return fail_invalid (error, "now must be a positive time%s", "");
  if (!tv_store_private_begin (store, error))
    return FALSE;
  g_autoptr (TvContact) cur = NULL;
  g_autofree char *sealed_email = NULL, *sealed_phone = NULL;
  if (!user_exists (store, user_id, error) || !contact_read (store, user_id, &cur, error)
      || !sealed_value (store, email, cur->email, "email", user_id, &sealed_email, error)
      || !sealed_value (store, phone, cur->phone, "phone", user_id, &sealed_phone, error))
    goto fail;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_CONTACT_PUT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, user_id, -1, SQLITE_TRANSIENT);
  bind_text_or_null (st, 2, sealed_email);
  bind_text_or_null (st, 3, sealed_phone);
  sqlite3_bind_int64 (st, 4, now);
  if (!exec_and_commit (store, st, "write contact details", error))
    goto fail;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}
