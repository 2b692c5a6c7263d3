/* tv-store-billing.c — consult facts, billing lines and claim status (see tv-store-billing.h).
 *
 * Why: the billing line must exist exactly when the consult is completed, so
 * it is written inside the completion's transaction; facts, settings and
 * claim status live next to it in the same store so every change is one
 * transaction with its audit row.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-billing.h"
#include "server/tv-billing.h"
#include "server/tv-http.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-private.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Statements                                                                 */

static const char SQL_CONSULT_STATUS[] =
  "SELECT status FROM consults WHERE id = ?1";
static const char SQL_FACTS_GET[] =
  "SELECT modality, audio_only_reason, patient_location, patient_status, note, set_by, updated_at,"
  " unbilled_reason FROM consult_facts WHERE consult_id = ?1";
static const char SQL_FACTS_PUT[] =
  "INSERT INTO consult_facts (consult_id, modality, audio_only_reason, patient_location, patient_status,"
  " note, set_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
  " ON CONFLICT (consult_id) DO UPDATE SET modality = ?2, audio_only_reason = ?3, patient_location = ?4,"
  " patient_status = ?5, note = ?6, set_by = ?7, updated_at = ?8";
static const char SQL_FACTS_UNBILLED[] =
  "INSERT INTO consult_facts (consult_id, modality, audio_only_reason, patient_location, patient_status,"
  " unbilled_reason) VALUES (?1, 'audio-video', NULL, 'home', 'established', ?2)"
  " ON CONFLICT (consult_id) DO UPDATE SET unbilled_reason = ?2";
static const char SQL_SETTINGS_PUT[] =
  "INSERT INTO billing_settings (id, scheme, table_text, updated_at) VALUES (1, ?1, ?2, ?3)"
  " ON CONFLICT (id) DO UPDATE SET scheme = ?1, table_text = ?2, updated_at = ?3";
static const char SQL_SETTINGS_GET[] =
  "SELECT scheme, table_text FROM billing_settings WHERE id = 1";
static const char SQL_COMPLETED_CONSULT[] =
  "SELECT connected_us, started_at, ended_at, patient_id FROM consults WHERE id = ?1";
static const char SQL_LINE_INSERT[] =
  "INSERT INTO billing_lines (id, consult_id, service_at, scheme, code, modifiers, pos, modality,"
  " patient_status, minutes, fee_cents, currency, description, status, created_at, status_at)"
  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'ready', ?14, ?14)";
#define LINE_COLUMNS \
  "b.id, b.consult_id, b.service_at, c.doctor_id, c.doctor, c.patient_id, c.patient, b.scheme, b.code," \
  " b.modifiers, b.pos, b.modality, b.patient_status, b.minutes, b.fee_cents, b.currency, b.description," \
  " b.status, b.created_at, b.status_at"
#define LINE_FROM " FROM billing_lines b JOIN consults c ON c.id = b.consult_id"
static const char SQL_LINE_LIST[] =
  "SELECT " LINE_COLUMNS LINE_FROM
  " WHERE b.service_at >= ?1 AND b.service_at < ?2 AND (?3 IS NULL OR b.status = ?3)"
  " ORDER BY b.service_at, b.id LIMIT ?4";
static const char SQL_LINE_LIST_PATIENT[] =
  "SELECT " LINE_COLUMNS LINE_FROM " WHERE c.patient_id = ?1 ORDER BY b.service_at DESC, b.id";
static const char SQL_LINE_GET[] =
  "SELECT " LINE_COLUMNS LINE_FROM " WHERE b.id = ?1";
static const char SQL_LINE_GET_CONSULT[] =
  "SELECT " LINE_COLUMNS LINE_FROM " WHERE b.consult_id = ?1";
static const char SQL_LINE_SET_STATUS[] =
  "UPDATE billing_lines SET status = ?2, status_at = ?3 WHERE id = ?1";

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */

void
tv_consult_facts_free (TvConsultFacts *facts)
{
  if (facts == NULL)
    return;
  g_free (facts->consult_id);
  g_free (facts->audio_only_reason);
  g_free (facts->note);
  g_free (facts->set_by);
  g_free (facts->unbilled_reason);
  g_free (facts);
}

void
tv_billing_line_free (TvBillingLine *line)
{
  if (line == NULL)
    return;
  g_free (line->id);
  g_free (line->consult_id);
  g_free (line->doctor_id);
  g_free (line->doctor);
  g_free (line->patient_id);
  g_free (line->patient);
  g_free (line->code);
  g_free (line->modifiers);
  g_free (line->pos);
  g_free (line->currency);
  g_free (line->description);
  g_free (line);
}

const char *
tv_claim_status_to_string (TvClaimStatus s)
{
  switch (s) {
  case TV_CLAIM_READY: return "ready";
  case TV_CLAIM_SUBMITTED: return "submitted";
  case TV_CLAIM_PAID: return "paid";
  case TV_CLAIM_DENIED: return "denied";
  }
  return "ready";
}

gboolean
tv_claim_status_from_string (const char *s, TvClaimStatus *out)
{
  static const TvClaimStatus all[] = { TV_CLAIM_READY, TV_CLAIM_SUBMITTED, TV_CLAIM_PAID, TV_CLAIM_DENIED };
  for (gsize i = 0; s != NULL && i < G_N_ELEMENTS (all); i++)
    if (g_str_equal (s, tv_claim_status_to_string (all[i]))) {
      *out = all[i];
      return TRUE;
    }
  return FALSE;
}

gboolean
tv_claim_status_transition_ok (TvClaimStatus from, TvClaimStatus to)
{
  switch (from) {
  case TV_CLAIM_READY: return to == TV_CLAIM_SUBMITTED;
  case TV_CLAIM_SUBMITTED: return to == TV_CLAIM_PAID || to == TV_CLAIM_DENIED;
  case TV_CLAIM_DENIED: return to == TV_CLAIM_SUBMITTED;
  case TV_CLAIM_PAID: return FALSE;
  }
  return FALSE;
}

static void
bind_text (sqlite3_stmt *st, int i, const char *s)
{
  if (s == NULL)
    sqlite3_bind_null (st, i);
  else
    sqlite3_bind_text (st, i, s, -1, SQLITE_TRANSIENT);
}

static char *
note_context (const char *consult_id)
{
  return g_strconcat ("consult_facts.note:", consult_id, NULL);
}

static TvConsultFacts *
facts_default (const char *consult_id)
{
  TvConsultFacts *f = g_new0 (TvConsultFacts, 1);
  f->consult_id = g_strdup (consult_id);
  f->modality = TV_BILLING_AUDIO_VIDEO;
  f->location = TV_BILLING_LOCATION_HOME;
  f->patient_status = TV_BILLING_PATIENT_ESTABLISHED;
  return f;
}

/* Reads the consult's status word inside the current transaction (or none).
 * FALSE with NOT_FOUND or IO. */
static gboolean
consult_status (TvStore *store, const char *consult_id, char **status, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_CONSULT_STATUS, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  gboolean ok = FALSE;
  if (rc == SQLITE_ROW) {
    *status = tv_store_private_column_strdup (st, 0);
    ok = TRUE;
  } else if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no consult %s", consult_id);
  } else {
    tv_store_private_db_error (store, error, "read consult status");
  }
  tv_store_private_stmt_done (st);
  return ok;
}

/* Reads the stored facts (defaults when no row); the note unsealed. */
static gboolean
facts_read (TvStore *store, const char *consult_id, TvConsultFacts **out, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_FACTS_GET, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  g_autoptr (TvConsultFacts) f = facts_default (consult_id);
  g_autofree char *sealed = NULL;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW) {
    tv_billing_modality_from_string ((const char *) sqlite3_column_text (st, 0), &f->modality);
    f->audio_only_reason = tv_store_private_column_strdup (st, 1);
    tv_billing_location_from_string ((const char *) sqlite3_column_text (st, 2), &f->location);
    tv_billing_patient_status_from_string ((const char *) sqlite3_column_text (st, 3), &f->patient_status);
    sealed = tv_store_private_column_strdup (st, 4);
    f->set_by = tv_store_private_column_strdup (st, 5);
    f->updated_at = sqlite3_column_int64 (st, 6);
    f->unbilled_reason = tv_store_private_column_strdup (st, 7);
  } else if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "read consult facts");
    tv_store_private_stmt_done (st);
    return FALSE;
  }
  tv_store_private_stmt_done (st);
  if (sealed != NULL) {
    g_autofree char *ctx = note_context (consult_id);
    f->note = tv_store_private_unseal (store, sealed, ctx, error);
    if (f->note == NULL)
      return FALSE;
  }
  *out = g_steal_pointer (&f);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Facts                                                                      */

gboolean
tv_store_consult_facts_get (TvStore *store, const char *consult_id, TvConsultFacts **out, GError **error)
{
  g_return_val_if_fail (store != NULL && consult_id != NULL && out != NULL, FALSE);
  g_autofree char *status = NULL;
  if (!consult_status (store, consult_id, &status, error))
    return FALSE;
  return facts_read (store, consult_id, out, error);
}

/* A note: valid UTF-8, at most the limit, no control characters but newline, CR and tab. */
static gboolean
check_note (const char *note, GError **error)
{
  if (strlen (note) > TV_STORE_MAX_NOTE_BYTES || !g_utf8_validate (note, -1, NULL)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "note must be at most %d bytes of UTF-8",
                 TV_STORE_MAX_NOTE_BYTES);
    return FALSE;
  }
  for (const char *p = note; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (g_unichar_iscntrl (c) && c != '\n' && c != '\r' && c != '\t') {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "note contains a control character");
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
tv_store_consult_facts_set (TvStore *store, const char *consult_id, const TvConsultFacts *facts, guint fields,
                            const char *set_by, gint64 now, TvConsultFacts **out, GError **error)
{
  g_return_val_if_fail (store != NULL && consult_id != NULL && facts != NULL, FALSE);
  if (now <= 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "now must be a time");
    return FALSE;
  }
  if ((fields & TV_FACTS_MODALITY) != 0) {
    if (facts->modality == TV_BILLING_AUDIO_ONLY) {
      if (facts->audio_only_reason == NULL
          || !tv_store_private_check_text (facts->audio_only_reason, TV_STORE_MAX_FACT_REASON_BYTES,
                                           "audio_only_reason", error)) {
        if (facts->audio_only_reason == NULL)
          g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID,
                       "audio_only_reason is required when modality is audio-only");
        return FALSE;
      }
    } else if (facts->audio_only_reason != NULL) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID,
                   "audio_only_reason is only for modality audio-only");
      return FALSE;
    }
  }
  if ((fields & TV_FACTS_NOTE) != 0 && facts->note != NULL && !check_note (facts->note, error))
    return FALSE;
  if (tv_store_private_fault_fail (store, "facts-set", error))
    return FALSE;
  if (!tv_store_private_begin (store, error))
    return FALSE;

  g_autofree char *status = NULL;
  g_autoptr (TvConsultFacts) cur = NULL;
  g_autofree char *sealed = NULL;
  if (!consult_status (store, consult_id, &status, error) || !facts_read (store, consult_id, &cur, error))
    goto fail;
  if (g_str_equal (status, "cancelled") || g_str_equal (status, "no-show")) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "consult %s is %s: its facts cannot change",
                 consult_id, status);
    goto fail;
  }
  if (fields & TV_FACTS_MODALITY) {
    gboolean same = cur->modality == facts->modality
                    && g_strcmp0 (cur->audio_only_reason, facts->audio_only_reason) == 0;
    if (!same && g_str_equal (status, "completed"))
      goto completed;
    cur->modality = facts->modality;
    g_free (cur->audio_only_reason);
    cur->audio_only_reason = g_strdup (facts->audio_only_reason);
  }
  if (fields & TV_FACTS_LOCATION) {
    if (cur->location != facts->location && g_str_equal (status, "completed"))
      goto completed;
    cur->location = facts->location;
  }
  if (fields & TV_FACTS_PATIENT_STATUS) {
    if (cur->patient_status != facts->patient_status && g_str_equal (status, "completed"))
      goto completed;
    cur->patient_status = facts->patient_status;
  }
  if (fields & TV_FACTS_NOTE) {
    g_free (cur->note);
    cur->note = (facts->note != NULL && *facts->note != '\0') ? g_strdup (facts->note) : NULL;
  }
  if (cur->note != NULL) {
    g_autofree char *ctx = note_context (consult_id);
    sealed = tv_store_private_seal (store, cur->note, ctx, error);
    if (sealed == NULL)
      goto fail;
  }
  g_free (cur->set_by);
  cur->set_by = g_strdup (set_by);
  cur->updated_at = now;

  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_FACTS_PUT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, tv_billing_modality_to_string (cur->modality), -1, SQLITE_STATIC);
  bind_text (st, 3, cur->audio_only_reason);
  sqlite3_bind_text (st, 4, tv_billing_location_to_string (cur->location), -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 5, tv_billing_patient_status_to_string (cur->patient_status), -1, SQLITE_STATIC);
  bind_text (st, 6, sealed);
  bind_text (st, 7, set_by);
  sqlite3_bind_int64 (st, 8, now);
  gboolean ok = tv_store_private_exec_done (store, st, "store consult facts", error);
  tv_store_private_stmt_done (st);
  if (!ok || !tv_store_private_commit (store, error))
    goto fail;
  if (out != NULL)
    *out = g_steal_pointer (&cur);
  return TRUE;

completed:
  g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE,
               "consult %s is completed and billed from its facts: only the note may change", consult_id);
fail:
  tv_store_private_rollback (store);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Settings and the line made at completion                                   */

gboolean
tv_store_billing_configure (TvStore *store, TvBillingScheme scheme, const char *table_text, gint64 now,
                            GError **error)
{
  g_return_val_if_fail (store != NULL && table_text != NULL, FALSE);
  g_autoptr (GError) local = NULL;
  g_autoptr (TvBillingCodes) codes = tv_billing_codes_parse (table_text, strlen (table_text), "billing table",
                                                             &local);
  if (codes == NULL || !tv_billing_codes_check_scheme (codes, scheme, &local)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s", local->message);
    return FALSE;
  }
  if (now <= 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "now must be a time");
    return FALSE;
  }
  if (!tv_store_private_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SETTINGS_PUT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, tv_billing_scheme_to_string (scheme), -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, table_text, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 3, now);
  gboolean ok = tv_store_private_exec_done (store, st, "store billing settings", error);
  tv_store_private_stmt_done (st);
  if (!ok || !tv_store_private_commit (store, error))
    goto fail;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

/* The configured table and scheme, or the shipped ones. A stored table that
 * no longer parses (edited in the file by hand) falls back to the shipped one
 * with a warning: completing a consult must not fail on it. */
static gboolean
settings_read (TvStore *store, TvBillingCodes **codes, TvBillingScheme *scheme, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SETTINGS_GET, error);
  if (st == NULL)
    return FALSE;
  *codes = NULL;
  *scheme = TV_BILLING_SCHEME_TELEMEDICINE;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW) {
    tv_billing_scheme_from_string ((const char *) sqlite3_column_text (st, 0), scheme);
    const char *text = (const char *) sqlite3_column_text (st, 1);
    g_autoptr (GError) local = NULL;
    *codes = tv_billing_codes_parse (text ? text : "", text ? strlen (text) : 0, "stored billing table", &local);
    if (*codes == NULL)
      g_warning ("billing: %s; using the shipped table", local->message);
  } else if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "read billing settings");
    tv_store_private_stmt_done (st);
    return FALSE;
  }
  tv_store_private_stmt_done (st);
  if (*codes == NULL)
    *codes = tv_billing_codes_new_default ();
  return TRUE;
}

gboolean
tv_store_billing_on_complete (TvStore *store, const char *consult_id, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && consult_id != NULL, FALSE);
  g_autoptr (TvConsultFacts) facts = NULL;
  g_autoptr (TvBillingCodes) codes = NULL;
  TvBillingScheme scheme;
  if (!facts_read (store, consult_id, &facts, error) || !settings_read (store, &codes, &scheme, error))
    return FALSE;

  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_COMPLETED_CONSULT, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (st) != SQLITE_ROW) {
    tv_store_private_db_error (store, error, "read completed consult");
    tv_store_private_stmt_done (st);
    return FALSE;
  }
  gint64 connected_us = sqlite3_column_int64 (st, 0);
  gint64 started_at = sqlite3_column_int64 (st, 1);
  gint64 ended_at = sqlite3_column_int64 (st, 2);
  g_autofree char *patient_id = tv_store_private_column_strdup (st, 3);
  tv_store_private_stmt_done (st);

  TvBillingChoice choice;
  g_autofree char *reason = NULL;
  if (!tv_billing_select (codes, scheme, facts->modality, facts->patient_status, facts->location, connected_us,
                          &choice, &reason)) {
    st = tv_store_private_stmt (store, SQL_FACTS_UNBILLED, error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_text (st, 1, consult_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 2, reason, -1, SQLITE_TRANSIENT);
    gboolean ok = tv_store_private_exec_done (store, st, "record why a consult is not billed", error);
    tv_store_private_stmt_done (st);
    g_debug ("consult %s not billed: %s", consult_id, reason);
    return ok;
  }

  g_autofree char *id = g_uuid_string_random ();
  g_autofree char *mods = tv_billing_rule_modifiers_text (choice.rule);
  st = tv_store_private_stmt (store, SQL_LINE_INSERT, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, consult_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 3, started_at > 0 ? started_at : (ended_at > 0 ? ended_at : now));
  sqlite3_bind_text (st, 4, tv_billing_scheme_to_string (scheme), -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 5, choice.rule->code, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 6, mods, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 7, choice.pos, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 8, tv_billing_modality_to_string (facts->modality), -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 9, tv_billing_patient_status_to_string (facts->patient_status), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (st, 10, choice.minutes);
  sqlite3_bind_int64 (st, 11, choice.rule->fee_cents);
  sqlite3_bind_text (st, 12, tv_billing_codes_currency (codes), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 13, choice.rule->description, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 14, now);
  gboolean ok = tv_store_private_exec_done (store, st, "insert billing line", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    return FALSE;
  g_autofree char *detail = g_strdup_printf ("code %s, %u min", choice.rule->code, choice.minutes);
  TvAuditRow row = {
    .at = now, .user_id = "", .role = "system", .action = "billing.create", .resource_type = "billing_line",
    .resource_id = id, .patient_id = patient_id, .source = "local", .outcome = "ok", .detail = detail,
  };
  if (!tv_store_audit_append (store, &row, NULL, error))
    return FALSE;
  tv_store_private_fault_point (store, "complete-after-billing");
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Reading lines                                                              */

static gpointer
line_from_row (sqlite3_stmt *st)
{
  TvBillingLine *l = g_new0 (TvBillingLine, 1);
  l->id = tv_store_private_column_strdup (st, 0);
  l->consult_id = tv_store_private_column_strdup (st, 1);
  l->service_at = sqlite3_column_int64 (st, 2);
  l->doctor_id = tv_store_private_column_strdup (st, 3);
  l->doctor = tv_store_private_column_strdup (st, 4);
  l->patient_id = tv_store_private_column_strdup (st, 5);
  l->patient = tv_store_private_column_strdup (st, 6);
  tv_billing_scheme_from_string ((const char *) sqlite3_column_text (st, 7), &l->scheme);
  l->code = tv_store_private_column_strdup (st, 8);
  l->modifiers = tv_store_private_column_strdup (st, 9);
  l->pos = tv_store_private_column_strdup (st, 10);
  tv_billing_modality_from_string ((const char *) sqlite3_column_text (st, 11), &l->modality);
  tv_billing_patient_status_from_string ((const char *) sqlite3_column_text (st, 12), &l->patient_status);
  l->minutes = (guint) sqlite3_column_int64 (st, 13);
  l->fee_cents = sqlite3_column_int64 (st, 14);
  l->currency = tv_store_private_column_strdup (st, 15);
  l->description = tv_store_private_column_strdup (st, 16);
  tv_claim_status_from_string ((const char *) sqlite3_column_text (st, 17), &l->status);
  l->created_at = sqlite3_column_int64 (st, 18);
  l->status_at = sqlite3_column_int64 (st, 19);
  return l;
}

/* Steps a bound statement to the end collecting lines. NULL with IO. */
static GPtrArray *
collect_lines (TvStore *store, sqlite3_stmt *st, GError **error)
{
  return tv_store_private_collect (store, st, line_from_row, (GDestroyNotify) tv_billing_line_free,
                                   "list billing lines", error);
}

GPtrArray *
tv_store_billing_list (TvStore *store, gint64 from, gint64 to, const TvClaimStatus *status, guint limit,
                       GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_LINE_LIST, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, from > 0 ? from : G_MININT64);
  sqlite3_bind_int64 (st, 2, to > 0 ? to : G_MAXINT64);
  if (status != NULL)
    sqlite3_bind_text (st, 3, tv_claim_status_to_string (*status), -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (st, 3);
  sqlite3_bind_int64 (st, 4, limit > 0 ? (gint64) limit : -1);
  return collect_lines (store, st, error);
}

GPtrArray *
tv_store_billing_list_for_patient (TvStore *store, const char *patient_id, GError **error)
{
  g_return_val_if_fail (store != NULL && patient_id != NULL, NULL);
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_LINE_LIST_PATIENT, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_text (st, 1, patient_id, -1, SQLITE_TRANSIENT);
  return collect_lines (store, st, error);
}

static gboolean
get_one (TvStore *store, const char *sql, const char *key, TvBillingLine **out, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_TRANSIENT);
  g_autoptr (GPtrArray) lines = collect_lines (store, st, error);
  if (lines == NULL)
    return FALSE;
  if (lines->len == 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no billing line %s", key);
    return FALSE;
  }
  *out = g_ptr_array_steal_index (lines, 0);
  return TRUE;
}

gboolean
tv_store_billing_get (TvStore *store, const char *id, TvBillingLine **out, GError **error)
{
  g_return_val_if_fail (store != NULL && id != NULL && out != NULL, FALSE);
  return get_one (store, SQL_LINE_GET, id, out, error);
}

gboolean
tv_store_billing_get_for_consult (TvStore *store, const char *consult_id, TvBillingLine **out, GError **error)
{
  g_return_val_if_fail (store != NULL && consult_id != NULL && out != NULL, FALSE);
  if (!get_one (store, SQL_LINE_GET_CONSULT, consult_id, out, error)) {
    if (error != NULL && *error != NULL && (*error)->code == TV_STORE_ERR_NOT_FOUND) {
      g_clear_error (error);
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "consult %s has no billing line", consult_id);
    }
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Claim status                                                               */

#define MAX_STATUS_IDS 10000

gboolean
tv_store_billing_set_status (TvStore *store, const char *const *ids, TvClaimStatus status, const char *user_id,
                             const char *role, const char *source, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL && ids != NULL, FALSE);
  guint n = g_strv_length ((char **) ids);
  if (n == 0 || n > MAX_STATUS_IDS) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "give 1..%d billing line ids", MAX_STATUS_IDS);
    return FALSE;
  }
  if (now <= 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "now must be a time");
    return FALSE;
  }
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    if (!g_hash_table_add (seen, (gpointer) ids[i])) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "billing line %s is listed twice", ids[i]);
      return FALSE;
    }
  if (tv_store_private_fault_fail (store, "billing-status", error))
    return FALSE;
  if (!tv_store_private_begin (store, error))
    return FALSE;
  for (guint i = 0; i < n; i++) {
    g_autoptr (TvBillingLine) line = NULL;
    if (!tv_store_billing_get (store, ids[i], &line, error))
      goto fail;
    if (!tv_claim_status_transition_ok (line->status, status)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE, "billing line %s is %s, cannot become %s",
                   ids[i], tv_claim_status_to_string (line->status), tv_claim_status_to_string (status));
      goto fail;
    }
    sqlite3_stmt *st = tv_store_private_stmt (store, SQL_LINE_SET_STATUS, error);
    if (st == NULL)
      goto fail;
    sqlite3_bind_text (st, 1, ids[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 2, tv_claim_status_to_string (status), -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 3, now);
    gboolean ok = tv_store_private_exec_done (store, st, "set claim status", error);
    tv_store_private_stmt_done (st);
    if (!ok)
      goto fail;
    g_autofree char *detail = g_strdup_printf ("%s->%s", tv_claim_status_to_string (line->status),
                                               tv_claim_status_to_string (status));
    TvAuditRow row = {
      .at = now, .user_id = (char *) (user_id ? user_id : ""), .role = (char *) (role ? role : ""),
      .action = "billing.status", .resource_type = "billing_line", .resource_id = (char *) ids[i],
      .patient_id = line->patient_id, .source = (char *) (source ? source : ""), .outcome = "ok",
      .detail = detail,
    };
    if (!tv_store_audit_append (store, &row, NULL, error))
      goto fail;
  }
  if (!tv_store_private_commit (store, error))
    goto fail;
  return TRUE;

fail:
  tv_store_private_rollback (store);
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* CSV and JSON                                                               */

/* Appends one RFC 4180 field: quoted when it holds a comma, quote, CR or LF.
 * Text starting with = + - @ gets a leading ' so a spreadsheet shows it
 * rather than running it as a formula (a patient's name is input). */
static void
csv_field (GString *out, const char *value, gboolean last)
{
  g_autofree char *guarded = NULL;
  const char *v = value ? value : "";
  if (strchr ("=+-@", *v) != NULL && *v != '\0')
    v = guarded = g_strconcat ("'", v, NULL);
  if (strpbrk (v, ",\"\r\n") != NULL) {
    g_string_append_c (out, '"');
    for (const char *p = v; *p; p++) {
      if (*p == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *p);
    }
    g_string_append_c (out, '"');
  } else {
    g_string_append (out, v);
  }
  g_string_append (out, last ? "\r\n" : ",");
}

static const char *const CSV_HEADER[] = {
  "line_id", "consult_id", "service_date", "doctor_id", "doctor", "patient_id", "patient", "scheme", "code",
  "modifiers", "place_of_service", "modality", "patient_status", "minutes", "fee", "currency", "description",
  "status", "status_at",
};

char *
tv_billing_lines_to_csv (GPtrArray *lines)
{
  GString *out = g_string_sized_new (256 + (lines ? lines->len : 0) * 256);
  for (gsize i = 0; i < G_N_ELEMENTS (CSV_HEADER); i++)
    csv_field (out, CSV_HEADER[i], i + 1 == G_N_ELEMENTS (CSV_HEADER));
  for (guint i = 0; lines != NULL && i < lines->len; i++) {
    const TvBillingLine *l = g_ptr_array_index (lines, i);
    g_autoptr (GDateTime) day = g_date_time_new_from_unix_utc (l->service_at / G_USEC_PER_SEC);
    g_autofree char *date = day ? g_date_time_format (day, "%Y-%m-%d") : g_strdup ("");
    g_autofree char *minutes = g_strdup_printf ("%u", l->minutes);
    g_autofree char *fee = tv_billing_format_amount (l->fee_cents);
    g_autofree char *status_at = tv_http_format_time (l->status_at);
    const char *fields[] = {
      l->id, l->consult_id, date, l->doctor_id, l->doctor, l->patient_id, l->patient,
      tv_billing_scheme_to_string (l->scheme), l->code, l->modifiers, l->pos,
      tv_billing_modality_to_string (l->modality), tv_billing_patient_status_to_string (l->patient_status),
      minutes, fee, l->currency, l->description, tv_claim_status_to_string (l->status), status_at,
    };
    G_STATIC_ASSERT (G_N_ELEMENTS (fields) == G_N_ELEMENTS (CSV_HEADER));
    for (gsize f = 0; f < G_N_ELEMENTS (fields); f++)
      csv_field (out, fields[f], f + 1 == G_N_ELEMENTS (fields));
  }
  return g_string_free (out, FALSE);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value == NULL)
    json_builder_add_null_value (b);
  else
    json_builder_add_string_value (b, value);
}

JsonNode *
tv_billing_line_to_json (const TvBillingLine *l)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *service_at = tv_http_format_time (l->service_at);
  g_autofree char *created_at = tv_http_format_time (l->created_at);
  g_autofree char *status_at = tv_http_format_time (l->status_at);
  g_autofree char *fee = tv_billing_format_amount (l->fee_cents);
  json_builder_begin_object (b);
  add_string (b, "id", l->id);
  add_string (b, "consult_id", l->consult_id);
  add_string (b, "service_at", service_at);
  add_string (b, "doctor_id", l->doctor_id);
  add_string (b, "doctor", l->doctor);
  add_string (b, "patient_id", l->patient_id);
  add_string (b, "patient", l->patient);
  add_string (b, "scheme", tv_billing_scheme_to_string (l->scheme));
  add_string (b, "code", l->code);
  json_builder_set_member_name (b, "modifiers");
  json_builder_begin_array (b);
  g_auto (GStrv) mods = g_strsplit (l->modifiers ? l->modifiers : "", ",", -1);
  for (char **m = mods; *m; m++)
    if (**m)
      json_builder_add_string_value (b, *m);
  json_builder_end_array (b);
  add_string (b, "place_of_service", l->pos);
  add_string (b, "modality", tv_billing_modality_to_string (l->modality));
  add_string (b, "patient_status", tv_billing_patient_status_to_string (l->patient_status));
  json_builder_set_member_name (b, "minutes");
  json_builder_add_int_value (b, l->minutes);
  add_string (b, "fee", fee);
  json_builder_set_member_name (b, "fee_cents");
  json_builder_add_int_value (b, l->fee_cents);
  add_string (b, "currency", l->currency);
  add_string (b, "description", l->description);
  add_string (b, "status", tv_claim_status_to_string (l->status));
  add_string (b, "created_at", created_at);
  add_string (b, "status_at", status_at);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
