/* tv-store-audit.h — the audit trail: append-only, hash-chained access log.
 *
 * Why: HIPAA audit controls. Every read, list, export and change of patient
 * data, every login/logout/failure and every consult join is one row of table
 * `audit` (schema v5, TV_STORE_AUDIT_SCHEMA_V5): time, user id, role, action,
 * resource type and id, the patient the record concerns, source address,
 * outcome. SQLite triggers refuse UPDATE and DELETE on the table, and each row
 * carries hash = SHA-256 over the previous row's hash and a canonical,
 * length-prefixed serialisation of its own fields (the first row chains to
 * TV_STORE_AUDIT_GENESIS), so someone who edits or deletes rows in the file
 * directly (dropping the triggers first) breaks the chain, and
 * tv_store_audit_verify() names the first broken row.
 *
 * A change and the row that records it are written in ONE transaction:
 * the caller stages the row (tv_store_audit_stage) before the store call
 * that makes the change, and the store appends it inside that call's
 * transaction just before COMMIT (a fault in between leaves neither).
 *
 * Appending reads the last row's hash inside the write transaction (the
 * caller's, or its own BEGIN IMMEDIATE), so concurrent writers (server and
 * televisitctl on the same file) never fork the chain.
 * Rows hold ids only: never names, usernames, tokens or SDP.
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* The v5 migration step: table audit, its indexes and append-only triggers. */
extern const char TV_STORE_AUDIT_SCHEMA_V5[];

/* prev_hash of the first row (64 hex zeros). */
#define TV_STORE_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* Longest accepted text field, in bytes. */
#define TV_STORE_AUDIT_MAX_FIELD 200

typedef struct {
  gint64 seq;            /* 1, 2, 3, ... (set by append) */
  gint64 at;             /* µs UTC */
  char *user_id;         /* acting user's id; "" when unknown (failed login of an unknown name) */
  char *role;            /* the actor's role(s), e.g. "doctor", "patient", "admin,doctor", "operator" */
  char *action;          /* "login", "logout", "consult.join", "GET /api/v1/consults/{id}", "ctl.show", ... */
  char *resource_type;   /* "consult", "user", "session", "audit", ... ; "" when none */
  char *resource_id;     /* id of the resource, "" when none (a list) */
  char *patient_id;      /* user id of the patient the record concerns, "" when none/unknown */
  char *source;          /* source address ("127.0.0.1", "local" for televisitctl) */
  char *outcome;         /* "2xx"/"4xx"/"5xx" for HTTP, "ok"/"refused"/"error" otherwise */
  char *detail;          /* short, non-personal detail ("http 403", "bad-token"), "" when none */
  char *prev_hash;       /* hex SHA-256 (set by append) */
  char *hash;            /* hex SHA-256 (set by append) */
} TvAuditRow;

/* Frees @row and its strings. NULL accepted. */
void tv_audit_row_free (TvAuditRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvAuditRow, tv_audit_row_free)

/* tv_store_audit_append:
 * Appends one row made of @row's fields at..detail (NULL strings are stored
 * as ""; seq, prev_hash and hash are ignored and computed here). Runs inside
 * the caller's open transaction if there is one, else in its own BEGIN
 * IMMEDIATE. @out_seq (may be NULL) receives the new row's seq.
 * Returns: TRUE; FALSE with INVALID (at <= 0, empty action, a field longer
 * than TV_STORE_AUDIT_MAX_FIELD or not UTF-8) or IO, and nothing appended. */
gboolean tv_store_audit_append (TvStore *store, const TvAuditRow *row, gint64 *out_seq, GError **error);

/* tv_store_audit_stage:
 * Stages a copy of @row to be appended INSIDE the next write transaction
 * this store commits (the one that makes the change the row records), just
 * before its COMMIT: the change and its row commit together or neither does.
 * Stage right before the one store call that makes the change, and call
 * tv_store_audit_unstage() right after it, whatever happened. Fields left
 * NULL in resource_id / patient_id are filled by store calls that create a
 * record (the new consult's or user's id and its patient); at <= 0 means the
 * commit time. One staged row per store; staging again replaces it. */
void tv_store_audit_stage (TvStore *store, const TvAuditRow *row);

/* tv_store_audit_stage_local:
 * tv_store_audit_stage() of a televisitctl row (as tv_store_audit_add_local,
 * outcome "ok"). */
void tv_store_audit_stage_local (TvStore *store, const char *action, const char *resource_type,
                                 const char *resource_id, const char *patient_id);

/* tv_store_audit_unstage:
 * Drops the staged row. @out_seq (may be NULL) receives its seq when written.
 * Returns: TRUE when it was committed with a change; FALSE when no write
 * transaction committed it (the change failed or made nothing): the caller
 * then records the outcome with tv_store_audit_add(). */
gboolean tv_store_audit_unstage (TvStore *store, gint64 *out_seq);

/* tv_store_audit_add:
 * Convenience wrapper of tv_store_audit_append() with the fields as arguments
 * and at = now. Logs a warning instead of failing (auditing never takes a
 * request down); returns FALSE when the row could not be written. */
gboolean tv_store_audit_add (TvStore *store, const char *user_id, const char *role, const char *action,
                             const char *resource_type, const char *resource_id, const char *patient_id,
                             const char *source, const char *outcome, const char *detail);

/* tv_store_audit_add_local:
 * tv_store_audit_add() for televisitctl: user "os:<login name>" (the local
 * account that ran the tool), role "operator", source "local". */
gboolean tv_store_audit_add_local (TvStore *store, const char *action, const char *resource_type,
                                   const char *resource_id, const char *patient_id, const char *outcome,
                                   const char *detail);

/* tv_store_audit_verify:
 * Recomputes the chain in one read transaction. *@n_rows receives the number
 * of rows; *@broken_seq the seq of the first row whose prev_hash, seq
 * continuity or hash does not match (0 when the chain is intact) and
 * *@reason (may be NULL; transfer full, NULL when intact) what is wrong.
 * Returns: TRUE when the check ran; FALSE with IO. */
gboolean tv_store_audit_verify (TvStore *store, gint64 *n_rows, gint64 *broken_seq, char **reason, GError **error);

/* tv_store_audit_list:
 * Rows in seq order filtered by @user_id and @patient_id (NULL = any) and
 * @from <= at < @to (0 = unbounded), at most @limit (0 = 10000).
 * Returns: (transfer full) (element-type TvAuditRow) the rows; NULL with IO. */
GPtrArray *tv_store_audit_list (TvStore *store, const char *user_id, const char *patient_id, gint64 from, gint64 to,
                                guint limit, GError **error);

/* Returns: (transfer full) @row as a JSON object (at as RFC 3339 UTC with µs). */
JsonNode *tv_audit_row_to_json (const TvAuditRow *row);

G_END_DECLS
