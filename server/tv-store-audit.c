/* tv-store-audit.c — the audit trail in the store (see tv-store-audit.h).
 *
 * Why: one append-only, hash-chained table that every part of the server and
 * televisitctl writes to through one function, so the chain rule (read the
 * last hash and insert in the same write transaction) lives in one place.
 * The hash input is unambiguous: prev_hash, then every field as
 * "<byte length>:<bytes>;" in a fixed order (seq and at as decimal text).
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-audit.h"
#include "server/tv-store-private.h"

#include <string.h>
#include <sqlite3.h>

const char TV_STORE_AUDIT_SCHEMA_V5[] =
  "CREATE TABLE audit ("
  "  seq INTEGER PRIMARY KEY NOT NULL CHECK (seq > 0),"
  "  at INTEGER NOT NULL CHECK (at > 0),"
  "  user_id TEXT NOT NULL,"
  "  role TEXT NOT NULL,"
  "  action TEXT NOT NULL CHECK (length(action) > 0),"
  "  resource_type TEXT NOT NULL,"
  "  resource_id TEXT NOT NULL,"
  "  patient_id TEXT NOT NULL,"
  "  source TEXT NOT NULL,"
  "  outcome TEXT NOT NULL,"
  "  detail TEXT NOT NULL,"
  "  prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),"
  "  hash TEXT NOT NULL CHECK (length(hash) = 64)"
  ") STRICT;"
  /* v9 (server/tv-store-booking-schema.c) drops audit_by_user and audit_by_at:
   * no query reads them, and every audited request paid for their inserts. */
  "CREATE INDEX audit_by_user ON audit (user_id, at);"
  "CREATE INDEX audit_by_patient ON audit (patient_id, at);"
  "CREATE INDEX audit_by_at ON audit (at);"
  "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
  "  BEGIN SELECT RAISE (ABORT, 'audit rows are append-only'); END;"
  "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
  "  BEGIN SELECT RAISE (ABORT, 'audit rows are append-only'); END;";

static const char SQL_LAST[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
static const char SQL_INSERT[] =
  "INSERT INTO audit (seq, at, user_id, role, action, resource_type, resource_id, patient_id, source,"
  " outcome, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_ALL[] =
  "SELECT seq, at, user_id, role, action, resource_type, resource_id, patient_id, source, outcome, detail,"
  " prev_hash, hash FROM audit ORDER BY seq";
static const char SQL_FILTER[] =
  "SELECT seq, at, user_id, role, action, resource_type, resource_id, patient_id, source, outcome, detail,"
  " prev_hash, hash FROM audit"
  " WHERE (?1 IS NULL OR user_id = ?1) AND (?2 IS NULL OR patient_id = ?2)"
  " AND (?3 = 0 OR at >= ?3) AND (?4 = 0 OR at < ?4) ORDER BY seq LIMIT ?5";
/* The same filter for one patient, the question a privacy officer asks most
 * ("who saw this patient's record"): written with a plain equality so that
 * SQLite reads audit_by_patient (patient_id, at) instead of scanning the
 * whole trail, which the "?2 IS NULL OR" form above cannot avoid. */
static const char SQL_FILTER_PATIENT[] =
  "SELECT seq, at, user_id, role, action, resource_type, resource_id, patient_id, source, outcome, detail,"
  " prev_hash, hash FROM audit"
  " WHERE patient_id = ?2 AND (?1 IS NULL OR user_id = ?1)"
  " AND (?3 = 0 OR at >= ?3) AND (?4 = 0 OR at < ?4) ORDER BY seq LIMIT ?5";

#define DEFAULT_LIMIT 10000

void
tv_audit_row_free (TvAuditRow *row)
{
  if (row == NULL)
    return;
  g_free (row->user_id);
  g_free (row->role);
  g_free (row->action);
  g_free (row->resource_type);
  g_free (row->resource_id);
  g_free (row->patient_id);
  g_free (row->source);
  g_free (row->outcome);
  g_free (row->detail);
  g_free (row->prev_hash);
  g_free (row->hash);
  g_free (row);
}

static const char *
nz (const char *s)
{
  return s ? s : "";
}

static void
hash_field (GChecksum *ck, const char *s)
{
  char len[24];
  g_snprintf (len, sizeof len, "%zu:", strlen (s));
  g_checksum_update (ck, (const guchar *) len, -1);
  g_checksum_update (ck, (const guchar *) s, (gssize) strlen (s));
  g_checksum_update (ck, (const guchar *) ";", 1);
}

/* Returns: (transfer full) the hex SHA-256 of @prev and @row's fields with @seq. */
static char *
row_hash (const char *prev, gint64 seq, const TvAuditRow *row)
{
  g_autoptr (GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
  char num[32];
  hash_field (ck, prev);
  g_snprintf (num, sizeof num, "%" G_GINT64_FORMAT, seq);
  hash_field (ck, num);
  g_snprintf (num, sizeof num, "%" G_GINT64_FORMAT, row->at);
  hash_field (ck, num);
  const char *fields[] = { row->user_id, row->role, row->action, row->resource_type, row->resource_id,
                           row->patient_id, row->source, row->outcome, row->detail };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    hash_field (ck, nz (fields[i]));
  return g_strdup (g_checksum_get_string (ck));
}

static gboolean
check_fields (const TvAuditRow *row, GError **error)
{
  if (row->at <= 0 || row->action == NULL || *row->action == '\0') {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "audit row: a time and an action are required");
    return FALSE;
  }
  const char *fields[] = { row->user_id, row->role, row->action, row->resource_type, row->resource_id,
                           row->patient_id, row->source, row->outcome, row->detail };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++) {
    const char *f = nz (fields[i]);
    if (strlen (f) > TV_STORE_AUDIT_MAX_FIELD || !g_utf8_validate (f, -1, NULL)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "audit row: field %zu too long or not UTF-8", i);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
tv_store_audit_append (TvStore *store, const TvAuditRow *row, gint64 *out_seq, GError **error)
{
  g_return_val_if_fail (store != NULL && row != NULL, FALSE);
  if (!check_fields (row, error))
    return FALSE;
  if (tv_store_private_fault_fail (store, "audit", error))
    return FALSE;
  /* Inside the caller's transaction when there is one: the row commits or
   * rolls back with the change it records. */
  gboolean own = sqlite3_get_autocommit (tv_store_private_db (store)) != 0;
  if (own && !tv_store_private_begin (store, error))
    return FALSE;
  /* Our own transaction's commit must not carry a row staged for a change. */
  TvStoreAuditStage *stage = tv_store_private_audit_stage (store);
  gboolean was_appending = stage->appending;
  if (own)
    stage->appending = TRUE;

  gboolean ok = FALSE;
  gint64 seq = 1;
  g_autofree char *prev = g_strdup (TV_STORE_AUDIT_GENESIS);
  g_autofree char *hash = NULL;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_LAST, error);
  if (st == NULL)
    goto out;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_ROW) {
    seq = sqlite3_column_int64 (st, 0) + 1;
    g_free (prev);
    prev = tv_store_private_column_strdup (st, 1);
  } else if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "audit: read last row");
    tv_store_private_stmt_done (st);
    goto out;
  }
  tv_store_private_stmt_done (st);
  if (prev == NULL)
    prev = g_strdup (TV_STORE_AUDIT_GENESIS);

  hash = row_hash (prev, seq, row);
  st = tv_store_private_stmt (store, SQL_INSERT, error);
  if (st == NULL)
    goto out;
  sqlite3_bind_int64 (st, 1, seq);
  sqlite3_bind_int64 (st, 2, row->at);
  const char *fields[] = { row->user_id, row->role, row->action, row->resource_type, row->resource_id,
                           row->patient_id, row->source, row->outcome, row->detail };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
    sqlite3_bind_text (st, 3 + (int) i, nz (fields[i]), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 12, prev, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 13, hash, -1, SQLITE_TRANSIENT);
  ok = tv_store_private_exec_done (store, st, "audit append", error);
  tv_store_private_stmt_done (st);
  if (ok && own)
    ok = tv_store_private_commit (store, error);
out:
  if (!ok && own)
    tv_store_private_rollback (store);
  stage->appending = was_appending;
  if (ok && out_seq != NULL)
    *out_seq = seq;
  return ok;
}

static char *
dup_or_null (const char *s)
{
  return s ? g_strdup (s) : NULL;
}

void
tv_store_audit_stage (TvStore *store, const TvAuditRow *row)
{
  g_return_if_fail (store != NULL && row != NULL);
  TvStoreAuditStage *stage = tv_store_private_audit_stage (store);
  if (stage->row != NULL)
    g_warning ("audit: a staged row (%s) was never unstaged; replacing it", stage->row->action);
  g_clear_pointer (&stage->row, tv_audit_row_free);
  TvAuditRow *copy = g_new0 (TvAuditRow, 1);
  copy->at = row->at > 0 ? row->at : g_get_real_time ();
  copy->user_id = dup_or_null (row->user_id);
  copy->role = dup_or_null (row->role);
  copy->action = dup_or_null (row->action);
  copy->resource_type = dup_or_null (row->resource_type);
  copy->resource_id = dup_or_null (row->resource_id);
  copy->patient_id = dup_or_null (row->patient_id);
  copy->source = dup_or_null (row->source);
  copy->outcome = dup_or_null (row->outcome);
  copy->detail = dup_or_null (row->detail);
  stage->row = copy;
  stage->committed = FALSE;
}

gboolean
tv_store_audit_unstage (TvStore *store, gint64 *out_seq)
{
  g_return_val_if_fail (store != NULL, FALSE);
  TvStoreAuditStage *stage = tv_store_private_audit_stage (store);
  gboolean committed = stage->row != NULL && stage->committed;
  if (out_seq != NULL)
    *out_seq = committed ? stage->row->seq : 0;
  g_clear_pointer (&stage->row, tv_audit_row_free);
  stage->committed = FALSE;
  return committed;
}

void
tv_store_audit_stage_local (TvStore *store, const char *action, const char *resource_type, const char *resource_id,
                            const char *patient_id)
{
  g_autofree char *user = g_strdup_printf ("os:%s", g_get_user_name ());
  TvAuditRow row = {
    .user_id = user,
    .role = (char *) "operator",
    .action = (char *) action,
    .resource_type = (char *) resource_type,
    .resource_id = (char *) resource_id,
    .patient_id = (char *) patient_id,
    .source = (char *) "local",
    .outcome = (char *) "ok",
  };
  tv_store_audit_stage (store, &row);
}

gboolean
tv_store_private_audit_flush (TvStore *store, gboolean *appended, GError **error)
{
  TvStoreAuditStage *stage = tv_store_private_audit_stage (store);
  *appended = FALSE;
  if (stage->row == NULL || stage->committed || stage->appending)
    return TRUE;
  /* The time is the change's: when it commits, not when it was staged. */
  stage->row->at = MAX (stage->row->at, g_get_real_time ());
  if (tv_store_private_fault_fail (store, "audit-staged", error)
      || !tv_store_audit_append (store, stage->row, &stage->row->seq, error)) {
    g_prefix_error (error, "the change's audit row: ");
    return FALSE;
  }
  *appended = TRUE;
  return TRUE;
}

void
tv_store_private_audit_committed (TvStore *store)
{
  tv_store_private_audit_stage (store)->committed = TRUE;
}

void
tv_store_private_audit_subject (TvStore *store, const char *resource_id, const char *patient_id)
{
  TvStoreAuditStage *stage = tv_store_private_audit_stage (store);
  if (stage->row == NULL || stage->committed)
    return;
  if (stage->row->resource_id == NULL && resource_id != NULL)
    stage->row->resource_id = g_strdup (resource_id);
  if (stage->row->patient_id == NULL && patient_id != NULL)
    stage->row->patient_id = g_strdup (patient_id);
}

gboolean
tv_store_audit_add (TvStore *store, const char *user_id, const char *role, const char *action,
                    const char *resource_type, const char *resource_id, const char *patient_id,
                    const char *source, const char *outcome, const char *detail)
{
  g_return_val_if_fail (store != NULL, FALSE);
  TvAuditRow row = {
    .at = g_get_real_time (),
    .user_id = (char *) user_id,
    .role = (char *) role,
    .action = (char *) action,
    .resource_type = (char *) resource_type,
    .resource_id = (char *) resource_id,
    .patient_id = (char *) patient_id,
    .source = (char *) source,
    .outcome = (char *) outcome,
    .detail = (char *) detail,
  };
  g_autoptr (GError) error = NULL;
  if (!tv_store_audit_append (store, &row, NULL, &error)) {
    g_warning ("could not write an audit row (%s): %s", action ? action : "?", error->message);
    return FALSE;
  }
  return TRUE;
}

gboolean
tv_store_audit_add_local (TvStore *store, const char *action, const char *resource_type, const char *resource_id,
                          const char *patient_id, const char *outcome, const char *detail)
{
  g_autofree char *user = g_strdup_printf ("os:%s", g_get_user_name ());
  return tv_store_audit_add (store, user, "operator", action, resource_type, resource_id, patient_id, "local",
                             outcome, detail);
}

static gpointer
row_from_stmt (sqlite3_stmt *st)
{
  TvAuditRow *row = g_new0 (TvAuditRow, 1);
  row->seq = sqlite3_column_int64 (st, 0);
  row->at = sqlite3_column_int64 (st, 1);
  char **fields[] = { &row->user_id, &row->role, &row->action, &row->resource_type, &row->resource_id,
                      &row->patient_id, &row->source, &row->outcome, &row->detail, &row->prev_hash,
                      &row->hash };
  for (gsize i = 0; i < G_N_ELEMENTS (fields); i++) {
    *fields[i] = tv_store_private_column_strdup (st, 2 + (int) i);
    if (*fields[i] == NULL)
      *fields[i] = g_strdup ("");
  }
  return row;
}

gboolean
tv_store_audit_verify (TvStore *store, gint64 *n_rows, gint64 *broken_seq, char **reason, GError **error)
{
  g_return_val_if_fail (store != NULL && n_rows != NULL && broken_seq != NULL, FALSE);
  *n_rows = 0;
  *broken_seq = 0;
  if (reason)
    *reason = NULL;
  /* One read transaction: a consistent snapshot while others append. */
  gboolean own = sqlite3_get_autocommit (tv_store_private_db (store)) != 0;
  if (own && sqlite3_exec (tv_store_private_db (store), "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
    tv_store_private_db_error (store, error, "audit verify: begin");
    return FALSE;
  }
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_ALL, error);
  if (st == NULL) {
    if (own)
      tv_store_private_rollback (store);
    return FALSE;
  }
  g_autofree char *prev = g_strdup (TV_STORE_AUDIT_GENESIS);
  gint64 expect_seq = 1;
  gboolean ok = TRUE;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    g_autoptr (TvAuditRow) row = row_from_stmt (st);
    (*n_rows)++;
    if (*broken_seq != 0)
      continue;
    const char *why = NULL;
    if (row->seq != expect_seq)
      why = row->seq > expect_seq ? "rows are missing before it (seq gap)" : "seq out of order";
    else if (strcmp (row->prev_hash, prev) != 0)
      why = "prev_hash does not match the previous row's hash";
    else {
      g_autofree char *h = row_hash (row->prev_hash, row->seq, row);
      if (strcmp (h, row->hash) != 0)
        why = "its content does not match its hash (row edited)";
    }
    if (why != NULL) {
      *broken_seq = row->seq;
      if (reason)
        *reason = g_strdup (why);
    }
    g_free (prev);
    prev = g_strdup (row->hash);
    expect_seq = row->seq + 1;
  }
  if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "audit verify");
    ok = FALSE;
  }
  tv_store_private_stmt_done (st);
  if (own)
    tv_store_private_rollback (store);
  return ok;
}

GPtrArray *
tv_store_audit_list (TvStore *store, const char *user_id, const char *patient_id, gint64 from, gint64 to,
                     guint limit, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  sqlite3_stmt *st = tv_store_private_stmt (store, patient_id != NULL ? SQL_FILTER_PATIENT : SQL_FILTER, error);
  if (st == NULL)
    return NULL;
  if (user_id)
    sqlite3_bind_text (st, 1, user_id, -1, SQLITE_TRANSIENT);
  if (patient_id)
    sqlite3_bind_text (st, 2, patient_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 3, MAX (from, 0));
  sqlite3_bind_int64 (st, 4, MAX (to, 0));
  sqlite3_bind_int64 (st, 5, limit ? limit : DEFAULT_LIMIT);
  return tv_store_private_collect (store, st, row_from_stmt, (GDestroyNotify) tv_audit_row_free, "audit list",
                                   error);
}

JsonNode *
tv_audit_row_to_json (const TvAuditRow *row)
{
  g_return_val_if_fail (row != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (row->at / G_USEC_PER_SEC);
  g_autoptr (GDateTime) dtu = dt ? g_date_time_add (dt, row->at % G_USEC_PER_SEC) : NULL;
  g_autofree char *at = dtu ? g_date_time_format (dtu, "%Y-%m-%dT%H:%M:%S.%fZ") : g_strdup ("");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "seq");
  json_builder_add_int_value (b, row->seq);
  json_builder_set_member_name (b, "at");
  json_builder_add_string_value (b, at);
  const char *names[] = { "user_id", "role", "action", "resource_type", "resource_id", "patient_id",
                          "source", "outcome", "detail", "prev_hash", "hash" };
  const char *vals[] = { row->user_id, row->role, row->action, row->resource_type, row->resource_id,
                         row->patient_id, row->source, row->outcome, row->detail, row->prev_hash, row->hash };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
    json_builder_set_member_name (b, names[i]);
    json_builder_add_string_value (b, nz (vals[i]));
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
