/* tv-api-me.c — patient self-service: my visits and my record (issue 4).
 *
 * Why: a logged-in patient sees their upcoming visits with the current join
 * link, their past visits with times and status, and downloads their own
 * record as a FHIR Bundle — and nothing of anyone else: these routes take no
 * id, they answer about the caller only (patients only; other roles get 403).
 * The join link is re-created from the store (tv_store_join_token_recreate),
 * never stored in clear. Statements are the billing area's
 * (/api/v1/me/statements).
 *   GET /api/v1/me/visits  {"upcoming": [...], "past": [...],
 *                           "cancel_notice_seconds", "cancel_notice"}; upcoming
 *                           visits carry can_cancel and cancel_deadline (the
 *                           clinic's rule, tv-cancel-rule.h)
 *   GET /api/v1/me/record  the $everything Bundle as an attachment
 * Both are audited (the router's row, action named here, patient = caller).
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api-me"

#include "server/tv-api.h"
#include "server/tv-cancel-rule.h"
#include "server/tv-fhir.h"
#include "server/tv-join-link.h"
#include "server/tv-store-schedule.h"

#include <string.h>

static void
add_time_or_null (JsonBuilder *b, const char *name, gint64 us)
{
  json_builder_set_member_name (b, name);
  if (us > 0) {
    g_autofree char *t = tv_http_format_time (us);
    json_builder_add_string_value (b, t);
  } else {
    json_builder_add_null_value (b);
  }
}

static gboolean
is_upcoming (const TvConsult *c)
{
  return c->status == TV_CONSULT_SCHEDULED || c->status == TV_CONSULT_WAITING
         || c->status == TV_CONSULT_IN_PROGRESS;
}

/* One visit: {id, status, scheduled_start, scheduled_end, doctor_id, doctor,
 * (upcoming) join_link or null, can_cancel, cancel_deadline (null unless
 * scheduled), (past) started_at, ended_at,
 * connected_minutes, end_reason}. */
static void
add_visit (JsonBuilder *b, TvHttpRequest *req, const TvConsult *c, const char *origin)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, c->id);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, tv_consult_status_to_string (c->status));
  add_time_or_null (b, "scheduled_start", c->scheduled_start);
  add_time_or_null (b, "scheduled_end", c->scheduled_end);
  json_builder_set_member_name (b, "doctor_id");
  json_builder_add_string_value (b, c->doctor_id);
  json_builder_set_member_name (b, "doctor");
  json_builder_add_string_value (b, c->doctor);
  if (is_upcoming (c)) {
    g_autofree char *token = NULL;
    g_autoptr (GError) error = NULL;
    json_builder_set_member_name (b, "join_link");
    if (tv_store_join_token_recreate (tv_http_request_store (req), c->id, "patient", &token, &error)) {
      g_autofree char *link = g_strdup_printf ("%s/join#token=%s", origin, token);
      json_builder_add_string_value (b, link);
    } else {
      /* Issued before join-link keys (or under another key): the patient
       * keeps the link they were given; the front desk can issue a new one. */
      g_debug ("no join link for consult %s: %s", c->id, error->message);
      json_builder_add_null_value (b);
    }
    gint64 notice = tv_http_request_config (req)->patient_cancel_notice_s;
    json_builder_set_member_name (b, "can_cancel");
    json_builder_add_boolean_value (b, tv_cancel_rule_patient_may_cancel (c, notice, tv_http_request_now (req)));
    add_time_or_null (b, "cancel_deadline",
                      c->status == TV_CONSULT_SCHEDULED ? tv_cancel_rule_deadline (c, notice) : 0);
  } else {
    add_time_or_null (b, "started_at", c->started_at);
    add_time_or_null (b, "ended_at", c->ended_at);
    json_builder_set_member_name (b, "connected_minutes");
    json_builder_add_int_value (b, c->connected_us / (60 * G_USEC_PER_SEC));
    json_builder_set_member_name (b, "end_reason");
    if (c->end_reason != NULL)
      json_builder_add_string_value (b, c->end_reason);
    else
      json_builder_add_null_value (b);
  }
  json_builder_end_object (b);
}

static void
handle_visits (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  tv_http_request_audit (req, "me visits", NULL, me->id);
  TvConsultFilter f = { .patient_id = me->id };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) consults = tv_store_consult_list_filtered (tv_http_request_store (req), &f, &error);
  if (consults == NULL) {
    tv_http_reply_store_error (req, error, "my visits");
    return;
  }
  g_autofree char *origin = tv_fhir_origin (req, user_data);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  /* The list is ordered by scheduled start: upcoming soonest first, past
   * most recent first. */
  json_builder_set_member_name (b, "upcoming");
  json_builder_begin_array (b);
  for (guint i = 0; i < consults->len; i++)
    if (is_upcoming (g_ptr_array_index (consults, i)))
      add_visit (b, req, g_ptr_array_index (consults, i), origin);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "past");
  json_builder_begin_array (b);
  for (guint i = consults->len; i-- > 0;)
    if (!is_upcoming (g_ptr_array_index (consults, i)))
      add_visit (b, req, g_ptr_array_index (consults, i), origin);
  json_builder_end_array (b);
  /* The rule behind can_cancel, for the portal's words. */
  gint64 notice = tv_http_request_config (req)->patient_cancel_notice_s;
  g_autofree char *words = tv_cancel_rule_notice_words (notice);
  json_builder_set_member_name (b, "cancel_notice_seconds");
  json_builder_add_int_value (b, notice);
  json_builder_set_member_name (b, "cancel_notice");
  json_builder_add_string_value (b, words);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
handle_record (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  tv_http_request_audit (req, "me record export", NULL, me->id);
  g_autofree char *origin = tv_fhir_origin (req, user_data);
  g_autofree char *base = g_strdup_printf ("%s/fhir", origin);
  g_autofree char *self = g_strdup_printf ("%s/Patient/%s/$everything", base, me->id);
  gint64 now = tv_http_request_now (req);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) bundle = tv_fhir_everything (tv_http_request_store (req), me, base, self, now, &error);
  if (bundle == NULL) {
    tv_http_reply_store_error (req, error, "my record");
    return;
  }
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, bundle);
  json_generator_set_pretty (gen, TRUE);
  gsize len = 0;
  char *text = json_generator_to_data (gen, &len);
  g_autoptr (GBytes) body = g_bytes_new_take (text, len);
  g_autoptr (GDateTime) day = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  g_autofree char *date = g_date_time_format (day, "%Y-%m-%d");
  g_autofree char *disposition = g_strdup_printf ("attachment; filename=\"televisit-record-%s.json\"", date);
  tv_http_reply_add_header (req, "Content-Disposition", disposition);
  tv_http_reply_bytes (req, 200, TV_FHIR_CONTENT_TYPE, body);
}

static const TvHttpRoute routes[] = {
  { "GET", "/api/v1/me/visits", TV_ROLE_PATIENT, handle_visits },
  { "GET", "/api/v1/me/record", TV_ROLE_PATIENT, handle_record },
};

void
tv_server_api_me_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, routes, G_N_ELEMENTS (routes), server);
}
