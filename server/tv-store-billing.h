/* tv-store-billing.h — consult facts, billing lines and claim status in the store (schema v6).
 *
 * Why: billing needs facts the call itself does not record — how the visit was
 * held (audio-video, or audio-only and why), where the patient was (home or
 * elsewhere), new or established patient, and the doctor's visit note — and
 * turns them, with the consult's connected time, into one billing line per
 * billable consult, created in the same transaction that completes the
 * consult (tv_store_consult_complete calls tv_store_billing_on_complete). The
 * code table and scheme in force are kept in the store (table
 * billing_settings, written by the server at start from its configuration), so
 * a consult ended by televisitctl is billed exactly as one ended by the server.
 *
 * Facts default to audio-video, home, established until the consult's doctor
 * sets them; once the consult is completed only the note may change (the
 * billing line was made from the others). The note is sealed at rest
 * (tv_store_private_seal, context "consult_facts.note:<consult id>").
 * A completed consult too short for any code gets no line; its facts row
 * keeps the reason ("connected 7 min, below the 10 min minimum for 98012").
 * Claim status: ready -> submitted -> paid | denied, and denied -> submitted
 * (a corrected claim sent again); every change appends an audit row in the
 * same transaction.
 *
 * Same rules as tv-store.h: each changing call is one transaction (all or
 * nothing), times are µs UTC, errors are TV_STORE_ERROR codes and never
 * repeat names or note text. TEST-ONLY fault points (TV_STORE_FAULT):
 * "fail:facts-set", "fail:billing-status", and the crash point
 * "complete-after-billing" (billing line written, consult completion not yet
 * committed).
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-billing-codes.h"
#include "server/tv-store.h"

G_BEGIN_DECLS

#define TV_STORE_MAX_FACT_REASON_BYTES 200
#define TV_STORE_MAX_NOTE_BYTES 10000

typedef struct {
  char *consult_id;
  TvBillingModality modality;
  char *audio_only_reason;          /* set exactly when modality is audio-only */
  TvBillingLocation location;
  TvBillingPatientStatus patient_status;
  char *note;                       /* plaintext (unsealed); NULL = none */
  char *set_by;                     /* user id (or "consult-doctor") who set them last; NULL = defaults */
  gint64 updated_at;                /* 0 = never set (defaults) */
  char *unbilled_reason;            /* completed without a billing line: why; else NULL */
} TvConsultFacts;

void tv_consult_facts_free (TvConsultFacts *facts);  /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvConsultFacts, tv_consult_facts_free)

/* Which facts a tv_store_consult_facts_set call changes (others keep their value). */
typedef enum {
  TV_FACTS_MODALITY = 1 << 0,       /* modality and audio_only_reason together */
  TV_FACTS_LOCATION = 1 << 1,
  TV_FACTS_PATIENT_STATUS = 1 << 2,
  TV_FACTS_NOTE = 1 << 3,           /* note NULL or "" clears it */
} TvFactsFields;

/* tv_store_consult_facts_get:
 * Returns: TRUE with *@out (transfer full): the stored facts, or the defaults
 * (updated_at 0) when none were set; FALSE with NOT_FOUND (no consult) or IO. */
gboolean tv_store_consult_facts_get (TvStore *store, const char *consult_id, TvConsultFacts **out, GError **error);

/* tv_store_consult_facts_set:
 * Changes the @fields of @facts (consult_id ignored) for @consult_id, as
 * @set_by (a user id), at @now. Checks: audio-only needs a reason
 * (1..TV_STORE_MAX_FACT_REASON_BYTES, no control characters), audio-video
 * takes none; note <= TV_STORE_MAX_NOTE_BYTES of UTF-8 (newlines and tabs
 * allowed). The consult must not be cancelled or no-show; once completed only
 * TV_FACTS_NOTE may change.
 * Returns: TRUE with *@out (may be NULL; transfer full) the facts now stored;
 * FALSE with INVALID, NOT_FOUND, WRONG_STATE or IO and nothing changed. */
gboolean tv_store_consult_facts_set (TvStore *store, const char *consult_id, const TvConsultFacts *facts,
                                     guint fields, const char *set_by, gint64 now, TvConsultFacts **out,
                                     GError **error);

/* tv_store_billing_configure:
 * Records the code table text and scheme in force from now on (validated:
 * the text must parse and cover @scheme, else INVALID with the parser's
 * message). The server calls this at start. Returns: FALSE with INVALID or IO. */
gboolean tv_store_billing_configure (TvStore *store, TvBillingScheme scheme, const char *table_text, gint64 now,
                                     GError **error);

/* tv_store_billing_on_complete:
 * For tv_store_consult_complete only: inside its open transaction, after the
 * consult row is final, bills consult @consult_id from its facts (defaults
 * when none) and connected_us with the configured table (the shipped one and
 * the telemedicine scheme when none is configured): inserts the billing line
 * (status ready) and an audit row, or records why there is none.
 * Returns: FALSE with IO (the caller rolls back). */
gboolean tv_store_billing_on_complete (TvStore *store, const char *consult_id, gint64 now, GError **error);

typedef enum {
  TV_CLAIM_READY,
  TV_CLAIM_SUBMITTED,
  TV_CLAIM_PAID,
  TV_CLAIM_DENIED,
} TvClaimStatus;

/* "ready", "submitted", "paid", "denied"; from_string FALSE for anything else. */
const char *tv_claim_status_to_string (TvClaimStatus s);
gboolean tv_claim_status_from_string (const char *s, TvClaimStatus *out);
/* Returns: TRUE when @from -> @to is allowed (see the header comment). */
gboolean tv_claim_status_transition_ok (TvClaimStatus from, TvClaimStatus to);

typedef struct {
  char *id;                /* UUID */
  char *consult_id;
  gint64 service_at;       /* date of service: first media connect (else completion), µs UTC */
  char *doctor_id;         /* may be NULL (consult made without accounts) */
  char *doctor;            /* doctor's display name */
  char *patient_id;        /* may be NULL */
  char *patient;           /* patient's display name (patient data: never log) */
  TvBillingScheme scheme;
  char *code;
  char *modifiers;         /* "95", "93,FQ", "" */
  char *pos;               /* place of service, "10" / "02" */
  TvBillingModality modality;
  TvBillingPatientStatus patient_status;
  guint minutes;           /* connected whole minutes */
  gint64 fee_cents;
  char *currency;
  char *description;       /* plain words, from the table */
  TvClaimStatus status;
  gint64 created_at;
  gint64 status_at;        /* last status change (created_at at first) */
} TvBillingLine;

void tv_billing_line_free (TvBillingLine *line);  /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvBillingLine, tv_billing_line_free)

/* tv_store_billing_list:
 * Lines with @from <= service_at < @to (0 = unbounded) and, when @status is
 * non-NULL, that status; by service_at then id; at most @limit (0 = no limit).
 * Returns: (transfer full) (element-type TvBillingLine); NULL with IO. */
GPtrArray *tv_store_billing_list (TvStore *store, gint64 from, gint64 to, const TvClaimStatus *status, guint limit,
                                  GError **error);

/* Lines of one patient (by user id), newest first. Returns as tv_store_billing_list. */
GPtrArray *tv_store_billing_list_for_patient (TvStore *store, const char *patient_id, GError **error);

/* tv_store_billing_get / _get_for_consult:
 * Returns: TRUE with *@out (transfer full); FALSE with NOT_FOUND or IO. */
gboolean tv_store_billing_get (TvStore *store, const char *id, TvBillingLine **out, GError **error);
gboolean tv_store_billing_get_for_consult (TvStore *store, const char *consult_id, TvBillingLine **out,
                                           GError **error);

/* tv_store_billing_set_status:
 * Moves every line of @ids (NULL-terminated, 1..10000, no duplicates) to
 * @status in one transaction, appending one audit row per line (action
 * "billing.status", detail "<from>-><to>", as @user_id / @role from @source).
 * Returns: TRUE; FALSE with INVALID (empty or duplicate ids), NOT_FOUND (the
 * message names the first unknown id), WRONG_STATE (the first line whose
 * transition is not allowed) or IO — and then no line changed. */
gboolean tv_store_billing_set_status (TvStore *store, const char *const *ids, TvClaimStatus status,
                                      const char *user_id, const char *role, const char *source, gint64 now,
                                      GError **error);

/* tv_billing_lines_to_csv:
 * RFC 4180 CSV of @lines (element-type TvBillingLine): a header row, then one
 * record per line; CRLF line ends; fields with a comma, quote, CR or LF are
 * quoted with inner quotes doubled; text starting with = + - @ gets a leading
 * ' (no spreadsheet formulas). Billing data only (never notes).
 * Returns: (transfer full) the text. */
char *tv_billing_lines_to_csv (GPtrArray *lines);

/* Returns: (transfer full) @line as a JSON object (times RFC 3339 UTC, amount as "95.00"). */
JsonNode *tv_billing_line_to_json (const TvBillingLine *line);

G_END_DECLS
