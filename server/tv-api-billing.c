/* tv-api-billing.c — consult facts, billing lines, CSV export and patient statements over HTTPS.
 *
 * Why: the doctor records how a visit was held (the facts billing needs),
 * billing staff work the claims (list, change status, export for the payer's
 * system), and patients read what they owe. The router checks each route's
 * role; the record rules live here:
 *   PUT/GET /consults/{id}/facts: the consult's doctor, or an admin;
 *   /billing/...: billing staff and admins (all lines);
 *   /me/statements...: a patient, their own billed consults only (another
 *     patient's statement id answers 404, as an unknown one does).
 * Every request is audited by the router (the consult's / statement's
 * patient as the patient concerned); a status change also appends one row
 * per line inside its transaction (tv-store-billing.h).
 * Errors: 400 invalid_field / missing_field, 404 not_found, 409 wrong_state
 * (a transition not allowed, or facts of a completed consult), 403 forbidden.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api-billing"

#include "server/tv-api.h"
#include "server/tv-billing.h"
#include "server/tv-store-billing.h"

#include <string.h>

#define MAX_ID_BYTES 64
#define MAX_WORD_BYTES 32
#define MAX_LIST_LINES 10000
#define MAX_STATUS_IDS 1000
#define DEFAULT_PAYMENT_INSTRUCTIONS \
  "Please contact the clinic's billing office to pay this statement or if you have a question about it."

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

/* The path parameter {id} as a UUID (an optional ".html" suffix allowed when
 * @html is non-NULL); replies 404 and returns NULL otherwise. Returns: (transfer full). */
static char *
path_uuid (TvHttpRequest *req, const char *what, gboolean *html)
{
  const char *raw = tv_http_request_param (req, "id");
  g_autofree char *id = g_strdup (raw ? raw : "");
  if (html != NULL) {
    *html = g_str_has_suffix (id, ".html");
    if (*html)
      id[strlen (id) - 5] = '\0';
  }
  if (!g_uuid_string_is_valid (id)) {
    tv_http_reply_error (req, 404, "not_found", "no %s with that id", what);
    return NULL;
  }
  return g_steal_pointer (&id);
}

/* Reads an optional date-range bound: RFC 3339 with an offset, or a date
 * YYYY-MM-DD (UTC; as "to" it means the end of that day). 0 when absent.
 * FALSE when a 400 was sent. */
static gboolean
query_bound (TvHttpRequest *req, const char *name, gboolean end_of_day, gint64 *out)
{
  const char *text = tv_http_request_query (req, name);
  *out = 0;
  if (text == NULL || *text == '\0' || tv_billing_parse_bound (text, end_of_day, out))
    return TRUE;
  tv_http_reply_error (req, 400, "invalid_field", "%s must be a date (YYYY-MM-DD) or an RFC 3339 time with an offset",
                       name);
  return FALSE;
}

/* from / to / status of the list and export routes; FALSE when a 400 was sent. */
static gboolean
list_filters (TvHttpRequest *req, gint64 *from, gint64 *to, gboolean *has_status, TvClaimStatus *status)
{
  if (!query_bound (req, "from", FALSE, from) || !query_bound (req, "to", TRUE, to))
    return FALSE;
  if (*from != 0 && *to != 0 && *to <= *from) {
    tv_http_reply_error (req, 400, "invalid_field", "to must be after from");
    return FALSE;
  }
  const char *s = tv_http_request_query (req, "status");
  *has_status = s != NULL && *s != '\0';
  if (*has_status && !tv_claim_status_from_string (s, status)) {
    tv_http_reply_error (req, 400, "invalid_field", "status must be ready, submitted, paid or denied");
    return FALSE;
  }
  return TRUE;
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

/* ------------------------------------------------------------------------ */
/* Consult facts                                                              */

static JsonNode *
facts_to_json (const TvConsultFacts *f)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "consult_id", f->consult_id);
  add_string (b, "modality", tv_billing_modality_to_string (f->modality));
  add_string (b, "audio_only_reason", f->audio_only_reason);
  add_string (b, "patient_location", tv_billing_location_to_string (f->location));
  add_string (b, "patient_status", tv_billing_patient_status_to_string (f->patient_status));
  add_string (b, "note", f->note);
  json_builder_set_member_name (b, "defaults");
  json_builder_add_boolean_value (b, f->updated_at == 0);
  g_autofree char *updated = f->updated_at ? tv_http_format_time (f->updated_at) : NULL;
  add_string (b, "updated_at", updated);
  add_string (b, "unbilled_reason", f->unbilled_reason);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* The consult of the path, for its doctor or an admin; replies and returns NULL otherwise. */
static TvConsult *
own_consult (TvHttpRequest *req, const char *id)
{
  g_autoptr (GError) error = NULL;
  TvConsult *c = NULL;
  if (!tv_store_consult_get (tv_http_request_store (req), id, &c, &error)) {
    tv_http_reply_store_error (req, error, "consult get");
    return NULL;
  }
  const TvUser *me = tv_http_request_user (req);
  if (!(me->roles & TV_ROLE_ADMIN) && g_strcmp0 (c->doctor_id, me->id) != 0) {
    tv_consult_free (c);
    tv_http_reply_error (req, 403, "forbidden", "only the consult's doctor or an admin records its facts");
    return NULL;
  }
  return c;
}

static void
handle_facts_get (TvHttpRequest *req, gpointer user_data)
{
  g_autofree char *id = path_uuid (req, "consult", NULL);
  if (id == NULL)
    return;
  g_autoptr (TvConsult) c = own_consult (req, id);
  if (c == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsultFacts) f = NULL;
  if (!tv_store_consult_facts_get (tv_http_request_store (req), id, &f, &error)) {
    tv_http_reply_store_error (req, error, "facts get");
    return;
  }
  tv_http_request_audit (req, "consult.facts.read", NULL, NULL);
  tv_http_reply_json (req, 200, facts_to_json (f));
}

/* Reads an optional enumerated member; FALSE when a 400 was sent. *@present tells if it was there. */
static gboolean
body_word (TvHttpRequest *req, JsonObject *body, const char *name, gboolean (*parse) (const char *, gpointer),
           gpointer out, const char *allowed, gboolean *present)
{
  const char *text = NULL;
  if (!tv_http_get_string (req, body, name, FALSE, MAX_WORD_BYTES, &text))
    return FALSE;
  *present = text != NULL;
  if (text != NULL && !parse (text, out)) {
    tv_http_reply_error (req, 400, "invalid_field", "%s must be %s", name, allowed);
    return FALSE;
  }
  return TRUE;
}

static void
handle_facts_put (TvHttpRequest *req, gpointer user_data)
{
  g_autofree char *id = path_uuid (req, "consult", NULL);
  if (id == NULL)
    return;
  tv_http_request_audit (req, "consult.facts.set", NULL, NULL);
  JsonObject *body = tv_http_request_body_object (req);
  if (body == NULL)
    return;
  static const char *const known[] = { "modality", "audio_only_reason", "patient_location", "patient_status",
                                       "note", NULL };
  g_autoptr (GList) members = json_object_get_members (body);
  for (GList *m = members; m; m = m->next)
    if (!g_strv_contains (known, m->data)) {
      tv_http_reply_error (req, 400, "invalid_field", "unknown field %s", (const char *) m->data);
      return;
    }
  TvConsultFacts f = { 0 };
  guint fields = 0;
  gboolean present = FALSE;
  if (!body_word (req, body, "modality", (gpointer) tv_billing_modality_from_string, &f.modality,
                  "audio-video or audio-only", &present))
    return;
  if (present)
    fields |= TV_FACTS_MODALITY;
  const char *reason = NULL;
  if (!tv_http_get_string (req, body, "audio_only_reason", FALSE, TV_STORE_MAX_FACT_REASON_BYTES, &reason))
    return;
  if (reason != NULL && !present) {
    tv_http_reply_error (req, 400, "invalid_field", "audio_only_reason goes with modality audio-only");
    return;
  }
  f.audio_only_reason = (char *) reason;
  if (!body_word (req, body, "patient_location", (gpointer) tv_billing_location_from_string, &f.location,
                  "home or other", &present))
    return;
  if (present)
    fields |= TV_FACTS_LOCATION;
  if (!body_word (req, body, "patient_status", (gpointer) tv_billing_patient_status_from_string, &f.patient_status,
                  "new or established", &present))
    return;
  if (present)
    fields |= TV_FACTS_PATIENT_STATUS;
  if (json_object_has_member (body, "note")) {
    JsonNode *n = json_object_get_member (body, "note");
    if (!JSON_NODE_HOLDS_NULL (n)) {
      const char *note = NULL;
      if (!tv_http_get_string (req, body, "note", FALSE, TV_STORE_MAX_NOTE_BYTES, &note))
        return;
      f.note = (char *) note;
    }
    fields |= TV_FACTS_NOTE;
  }
  if (fields == 0) {
    tv_http_reply_error (req, 400, "missing_field",
                         "give at least one of modality, patient_location, patient_status, note");
    return;
  }
  g_autoptr (TvConsult) c = own_consult (req, id);
  if (c == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsultFacts) saved = NULL;
  if (!tv_store_consult_facts_set (tv_http_request_store (req), id, &f, fields, tv_http_request_user (req)->id,
                                   tv_http_request_now (req), &saved, &error)) {
    tv_http_reply_store_error (req, error, "facts set");
    return;
  }
  tv_http_reply_json (req, 200, facts_to_json (saved));
}

/* ------------------------------------------------------------------------ */
/* Billing lines                                                              */

static GPtrArray *
list_or_reply (TvHttpRequest *req, guint limit)
{
  gint64 from = 0, to = 0;
  gboolean has_status = FALSE;
  TvClaimStatus status = TV_CLAIM_READY;
  if (!list_filters (req, &from, &to, &has_status, &status))
    return NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *lines = tv_store_billing_list (tv_http_request_store (req), from, to, has_status ? &status : NULL,
                                            limit, &error);
  if (lines == NULL)
    tv_http_reply_store_error (req, error, "billing list");
  return lines;
}

static void
handle_lines_list (TvHttpRequest *req, gpointer user_data)
{
  tv_http_request_audit (req, "billing.list", NULL, NULL);
  g_autoptr (GPtrArray) lines = list_or_reply (req, MAX_LIST_LINES + 1);
  if (lines == NULL)
    return;
  gboolean truncated = lines->len > MAX_LIST_LINES;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "lines");
  json_builder_begin_array (b);
  gint64 total = 0;
  for (guint i = 0; i < lines->len && i < MAX_LIST_LINES; i++) {
    const TvBillingLine *l = g_ptr_array_index (lines, i);
    total += l->fee_cents;
    json_builder_add_value (b, tv_billing_line_to_json (l));
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, MIN (lines->len, MAX_LIST_LINES));
  g_autofree char *sum = tv_billing_format_amount (total);
  add_string (b, "total", sum);
  json_builder_set_member_name (b, "truncated");
  json_builder_add_boolean_value (b, truncated);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
handle_lines_export (TvHttpRequest *req, gpointer user_data)
{
  tv_http_request_audit (req, "billing.export", NULL, NULL);
  g_autoptr (GPtrArray) lines = list_or_reply (req, 0);
  if (lines == NULL)
    return;
  char *csv = tv_billing_lines_to_csv (lines);
  g_autoptr (GBytes) bytes = g_bytes_new_take (csv, strlen (csv));
  tv_http_reply_add_header (req, "Content-Disposition", "attachment; filename=\"billing.csv\"");
  tv_http_reply_bytes (req, 200, "text/csv; charset=utf-8; header=present", bytes);
}

static void
handle_line_get (TvHttpRequest *req, gpointer user_data)
{
  g_autofree char *id = path_uuid (req, "billing line", NULL);
  if (id == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (TvBillingLine) l = NULL;
  if (!tv_store_billing_get (tv_http_request_store (req), id, &l, &error)) {
    tv_http_reply_store_error (req, error, "billing get");
    return;
  }
  tv_http_request_audit (req, "billing.read", NULL, l->patient_id);
  tv_http_reply_json (req, 200, tv_billing_line_to_json (l));
}

/* Sets @status on @ids and replies with the lines as they are now. */
static void
set_status_and_reply (TvHttpRequest *req, const char *const *ids, const char *status_text)
{
  TvClaimStatus status;
  if (!tv_claim_status_from_string (status_text, &status)) {
    tv_http_reply_error (req, 400, "invalid_field", "status must be ready, submitted, paid or denied");
    return;
  }
  const TvUser *me = tv_http_request_user (req);
  g_autofree char *roles = tv_roles_format (me->roles);
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_http_request_store (req);
  if (!tv_store_billing_set_status (store, ids, status, me->id, roles, tv_http_request_address (req),
                                    tv_http_request_now (req), &error)) {
    /* An unknown id in the body is a bad request; one in the path a 404. */
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND) && tv_http_request_param (req, "id") == NULL)
      tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    else
      tv_http_reply_store_error (req, error, "billing status");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "lines");
  json_builder_begin_array (b);
  for (const char *const *id = ids; *id; id++) {
    g_autoptr (TvBillingLine) l = NULL;
    if (tv_store_billing_get (store, *id, &l, NULL))
      json_builder_add_value (b, tv_billing_line_to_json (l));
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
handle_line_status (TvHttpRequest *req, gpointer user_data)
{
  g_autofree char *id = path_uuid (req, "billing line", NULL);
  if (id == NULL)
    return;
  tv_http_request_audit (req, "billing.status", NULL, NULL);
  JsonObject *body = tv_http_request_body_object (req);
  if (body == NULL)
    return;
  const char *status = NULL;
  if (!tv_http_get_string (req, body, "status", TRUE, MAX_WORD_BYTES, &status))
    return;
  const char *ids[] = { id, NULL };
  set_status_and_reply (req, ids, status);
}

static void
handle_lines_status_bulk (TvHttpRequest *req, gpointer user_data)
{
  tv_http_request_audit (req, "billing.status", NULL, NULL);
  JsonObject *body = tv_http_request_body_object (req);
  if (body == NULL)
    return;
  const char *status = NULL;
  if (!tv_http_get_string (req, body, "status", TRUE, MAX_WORD_BYTES, &status))
    return;
  JsonNode *node = json_object_get_member (body, "ids");
  if (node == NULL) {
    tv_http_reply_error (req, 400, "missing_field", "ids is required");
    return;
  }
  JsonArray *arr = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  guint n = arr ? json_array_get_length (arr) : 0;
  if (arr == NULL || n == 0 || n > MAX_STATUS_IDS) {
    tv_http_reply_error (req, 400, "invalid_field", "ids must be an array of 1..%d billing line ids", MAX_STATUS_IDS);
    return;
  }
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  for (guint i = 0; i < n; i++) {
    JsonNode *e = json_array_get_element (arr, i);
    const char *s = JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
                    ? json_node_get_string (e) : NULL;
    if (s == NULL || !g_uuid_string_is_valid (s)) {
      tv_http_reply_error (req, 400, "invalid_field", "ids[%u] is not a billing line id", i);
      return;
    }
    g_ptr_array_add (ids, (gpointer) s);
  }
  g_ptr_array_add (ids, NULL);
  set_status_and_reply (req, (const char *const *) ids->pdata, status);
}

/* ------------------------------------------------------------------------ */
/* Patient statements                                                         */

static const char *
payment_instructions (TvHttpRequest *req)
{
  const TvServerConfig *cfg = tv_http_request_config (req);
  return cfg != NULL && cfg->payment_instructions != NULL ? cfg->payment_instructions
                                                          : DEFAULT_PAYMENT_INSTRUCTIONS;
}

static char *
service_date (gint64 us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  return dt ? g_date_time_format (dt, "%Y-%m-%d") : g_strdup ("");
}

static JsonNode *
statement_to_json (TvHttpRequest *req, const TvBillingLine *l, gboolean full)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *amount = tv_billing_format_amount (l->fee_cents);
  g_autofree char *date = service_date (l->service_at);
  g_autofree char *at = tv_http_format_time (l->service_at);
  json_builder_begin_object (b);
  add_string (b, "id", l->id);
  add_string (b, "consult_id", l->consult_id);
  add_string (b, "date", date);
  add_string (b, "service_at", at);
  add_string (b, "doctor", l->doctor);
  add_string (b, "code", l->code);
  add_string (b, "description", l->description);
  add_string (b, "amount", amount);
  add_string (b, "currency", l->currency);
  add_string (b, "claim_status", tv_claim_status_to_string (l->status));
  if (full) {
    add_string (b, "patient", l->patient);
    add_string (b, "modifiers", l->modifiers);
    add_string (b, "place_of_service", l->pos);
    json_builder_set_member_name (b, "minutes");
    json_builder_add_int_value (b, l->minutes);
    add_string (b, "how_to_pay", payment_instructions (req));
    g_autofree char *html = g_strdup_printf (TV_HTTP_API_PREFIX "me/statements/%s.html", l->id);
    add_string (b, "html", html);
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
handle_statements_list (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  tv_http_request_audit (req, "statement.list", NULL, me->id);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) lines = tv_store_billing_list_for_patient (tv_http_request_store (req), me->id, &error);
  if (lines == NULL) {
    tv_http_reply_store_error (req, error, "statements");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "statements");
  json_builder_begin_array (b);
  for (guint i = 0; i < lines->len; i++)
    json_builder_add_value (b, statement_to_json (req, g_ptr_array_index (lines, i), FALSE));
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

/* Appends @text HTML-escaped. */
static void
html_text (GString *out, const char *text)
{
  g_autofree char *esc = g_markup_escape_text (text ? text : "", -1);
  g_string_append (out, esc);
}

static void
html_row (GString *out, const char *label, const char *value)
{
  g_string_append (out, "<tr><th>");
  html_text (out, label);
  g_string_append (out, "</th><td>");
  html_text (out, value);
  g_string_append (out, "</td></tr>\n");
}

static char *
statement_html (TvHttpRequest *req, const TvBillingLine *l)
{
  g_autofree char *amount = tv_billing_format_amount (l->fee_cents);
  g_autofree char *date = service_date (l->service_at);
  g_autofree char *money = g_strdup_printf ("%s %s", amount, l->currency);
  g_autofree char *code = l->modifiers && *l->modifiers ? g_strdup_printf ("%s (modifiers %s)", l->code, l->modifiers)
                                                        : g_strdup (l->code);
  GString *out = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                               "<title>Statement</title>\n<style>\n"
                               "body{font-family:sans-serif;max-width:40em;margin:2em auto;color:#111}\n"
                               "table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4em;"
                               "border-bottom:1px solid #ccc}th{width:35%}.amount{font-size:1.4em}\n"
                               "@media print{body{margin:0}}\n</style></head><body>\n<h1>Statement</h1>\n<p>");
  html_text (out, l->patient);
  g_string_append (out, "</p>\n<table>\n");
  html_row (out, "Date of visit", date);
  html_row (out, "Doctor", l->doctor);
  html_row (out, "Service", l->description);
  html_row (out, "Code", code);
  html_row (out, "Statement number", l->id);
  g_string_append (out, "<tr class=\"amount\"><th>Amount</th><td>");
  html_text (out, money);
  g_string_append (out, "</td></tr>\n</table>\n<h2>How to pay</h2>\n<p>");
  html_text (out, payment_instructions (req));
  g_string_append (out, "</p>\n</body></html>\n");
  return g_string_free (out, FALSE);
}

static void
handle_statement_get (TvHttpRequest *req, gpointer user_data)
{
  gboolean html = FALSE;
  g_autofree char *id = path_uuid (req, "statement", &html);
  if (id == NULL)
    return;
  const TvUser *me = tv_http_request_user (req);
  tv_http_request_audit (req, "statement.read", NULL, me->id);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvBillingLine) l = NULL;
  if (!tv_store_billing_get (tv_http_request_store (req), id, &l, &error)) {
    tv_http_reply_store_error (req, error, "statement get");
    return;
  }
  if (g_strcmp0 (l->patient_id, me->id) != 0) {
    /* Another patient's: as if it did not exist, and audited as a refusal. */
    tv_http_reply_error (req, 404, "not_found", "no statement with that id");
    return;
  }
  if (html) {
    char *page = statement_html (req, l);
    g_autoptr (GBytes) bytes = g_bytes_new_take (page, strlen (page));
    tv_http_reply_add_header (req, "Content-Security-Policy",
                              "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    tv_http_reply_bytes (req, 200, "text/html; charset=utf-8", bytes);
    return;
  }
  tv_http_reply_json (req, 200, statement_to_json (req, l, TRUE));
}

static const TvHttpRoute billing_routes[] = {
  { "GET", "/api/v1/consults/{id}/facts", TV_ROLE_DOCTOR | TV_ROLE_ADMIN, handle_facts_get },
  { "PUT", "/api/v1/consults/{id}/facts", TV_ROLE_DOCTOR | TV_ROLE_ADMIN, handle_facts_put },
  { "GET", "/api/v1/billing/lines", TV_ROLE_BILLING | TV_ROLE_ADMIN, handle_lines_list },
  { "GET", "/api/v1/billing/lines/{id}", TV_ROLE_BILLING | TV_ROLE_ADMIN, handle_line_get },
  { "PUT", "/api/v1/billing/lines/{id}/status", TV_ROLE_BILLING | TV_ROLE_ADMIN, handle_line_status },
  { "POST", "/api/v1/billing/lines/status", TV_ROLE_BILLING | TV_ROLE_ADMIN, handle_lines_status_bulk },
  { "GET", "/api/v1/billing/export", TV_ROLE_BILLING | TV_ROLE_ADMIN, handle_lines_export },
  { "GET", "/api/v1/me/statements", TV_ROLE_PATIENT, handle_statements_list },
  { "GET", "/api/v1/me/statements/{id}", TV_ROLE_PATIENT, handle_statement_get },
};

void
tv_server_api_billing_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, billing_routes, G_N_ELEMENTS (billing_routes), server);
}
