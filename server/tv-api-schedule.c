/* tv-api-schedule.c — the scheduling endpoints: doctors, availability, exceptions, slots, consults.
 *
 * Why: the front desk (schedulers) and patients book consults on a doctor's
 * free slots; doctors keep their own hours. The router has already checked
 * the role of each route; the per-record rules live here:
 *   doctors, availability (GET), exceptions (GET), slots: any logged-in user;
 *   availability (PUT), exceptions (POST, DELETE): the doctor themself, a
 *     scheduler or an admin;
 *   POST /consults: a scheduler for anyone, a patient only for themself;
 *   GET /consults, GET /consults/{id}: patients their own, doctors their own,
 *     schedulers and admins all;
 *   cancel: the consult's patient or doctor, a scheduler, an admin;
 *   reschedule: the consult's patient, a scheduler;
 *   a patient (not a scheduler, admin or the consult's doctor) cancels or
 *     reschedules only before the clinic's notice (patient-cancel-notice,
 *     tv-cancel-rule.h): inside it 409 cancel_too_late, nothing changed;
 *   no-show: the consult's doctor, a scheduler (after the start time);
 *   join-link: the consult's patient (their link), a scheduler or an admin
 *     (both links), while the consult can still be joined.
 * Every rule about time (slots, DST, the past, double booking) is enforced by
 * the store (tv-store-schedule.c) inside its transactions; this file turns
 * JSON into arguments and store errors into HTTP errors:
 *   INVALID 400 invalid_field, SLOT_TAKEN 409 slot_taken, CONFLICT 409 conflict,
 *   WRONG_STATE 409 wrong_state, NOT_FOUND 404 not_found (for the resource in
 *   the path; 400 invalid_field for a doctor / patient id in the body).
 * Join tokens go into replies only (the patient's as join_link; the doctor's
 * only to schedulers), never into logs; names likewise.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api-schedule"

#include "server/tv-api.h"
#include "server/tv-cancel-rule.h"
#include "server/tv-join-link.h"
#include "server/tv-schedule.h"
#include "server/tv-store-schedule.h"

#include <string.h>

#define MAX_ID_BYTES 64
#define MAX_TIME_BYTES 64
#define MAX_REASON_BYTES 64
#define DEFAULT_SLOT_RANGE_US ((gint64) 7 * 24 * 3600 * G_USEC_PER_SEC)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static TvStore *
store_of (TvHttpRequest *req)
{
  return tv_http_request_store (req);
}

static gboolean
is_staff (const TvUser *me)
{
  return (me->roles & (TV_ROLE_SCHEDULER | TV_ROLE_ADMIN)) != 0;
}

/* Store errors to replies, with the schedule's codes (slot_taken). @body_refs:
 * NOT_FOUND concerns an id from the request body (400), not the path (404). */
static void
reply_store_error (TvHttpRequest *req, const GError *error, gboolean body_refs, const char *what)
{
  if (error != NULL && error->domain == TV_STORE_ERROR) {
    switch ((TvStoreErrorCode) error->code) {
    case TV_STORE_ERR_SLOT_TAKEN:
      tv_http_reply_error (req, 409, "slot_taken", "%s", error->message);
      return;
    case TV_STORE_ERR_NOT_FOUND:
      if (body_refs) {
        tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
        return;
      }
      break;
    default:
      break;
    }
  }
  tv_http_reply_store_error (req, error, what);
}

/* The path parameter {@name} as a UUID; replies 404 and returns NULL otherwise. */
static const char *
path_id (TvHttpRequest *req, const char *name, const char *what)
{
  const char *id = tv_http_request_param (req, name);
  if (id == NULL || !g_uuid_string_is_valid (id)) {
    tv_http_reply_error (req, 404, "not_found", "no %s with that id", what);
    return NULL;
  }
  return id;
}

/* Reads query parameter @name as RFC 3339 (absent: *@us untouched, TRUE).
 * Replies 400 and returns FALSE when malformed. */
static gboolean
query_time (TvHttpRequest *req, const char *name, gint64 *us)
{
  const char *text = tv_http_request_query (req, name);
  if (text == NULL || *text == '\0')
    return TRUE;
  g_autoptr (GError) error = NULL;
  if (!tv_schedule_parse_rfc3339 (text, name, us, &error)) {
    tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    return FALSE;
  }
  return TRUE;
}

/* Reads the body member @name as RFC 3339; replies and returns FALSE when it
 * is missing or malformed. */
static gboolean
body_time (TvHttpRequest *req, JsonObject *body, const char *name, gint64 *us)
{
  const char *text = NULL;
  if (!tv_http_get_string (req, body, name, TRUE, MAX_TIME_BYTES, &text))
    return FALSE;
  g_autoptr (GError) error = NULL;
  if (!tv_schedule_parse_rfc3339 (text, name, us, &error)) {
    tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    return FALSE;
  }
  return TRUE;
}

/* The doctor @id (path) as a user; replies 404 when it is not an enabled doctor. */
static TvUser *
load_doctor (TvHttpRequest *req, const char *id)
{
  g_autoptr (GError) error = NULL;
  TvUser *u = NULL;
  if (!tv_store_user_get (store_of (req), id, &u, &error)) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      tv_http_reply_error (req, 404, "not_found", "no doctor with that id");
    else
      tv_http_reply_store_error (req, error, "doctor get");
    return NULL;
  }
  if (!(u->roles & TV_ROLE_DOCTOR) || u->disabled) {
    tv_user_free (u);
    tv_http_reply_error (req, 404, "not_found", "no doctor with that id");
    return NULL;
  }
  return u;
}

/* Replies 403 unless the user may change @doctor_id's hours. */
static gboolean
may_edit_doctor (TvHttpRequest *req, const char *doctor_id)
{
  const TvUser *me = tv_http_request_user (req);
  if (is_staff (me) || ((me->roles & TV_ROLE_DOCTOR) && strcmp (me->id, doctor_id) == 0))
    return TRUE;
  tv_http_reply_error (req, 403, "forbidden", "only the doctor themself, a scheduler or an admin may change these hours");
  return FALSE;
}

static GTimeZone *
doctor_tz (const TvUser *doctor)
{
  GTimeZone *tz = doctor->time_zone != NULL ? tv_schedule_timezone_new (doctor->time_zone, NULL) : NULL;
  return tz != NULL ? tz : g_time_zone_new_utc ();
}

static void
add_time (JsonBuilder *b, const char *name, gint64 us, GTimeZone *tz)
{
  json_builder_set_member_name (b, name);
  if (us <= 0) {
    json_builder_add_null_value (b);
    return;
  }
  g_autofree char *text = tv_schedule_format_rfc3339 (us, tz);
  json_builder_add_string_value (b, text);
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_hhmm (JsonBuilder *b, const char *name, guint minutes)
{
  char buf[6];
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, tv_schedule_format_hhmm (minutes, buf));
}

/* {id, doctor_id, patient_id, doctor, patient, scheduled_start, scheduled_end,
 *  status, created_at, started_at, ended_at, cancelled_at, no_show_at,
 *  end_reason, booked_by}; times RFC 3339 UTC, unset ones null. With
 * @reminders_from (staff only), also reminders: its outbox rows, read from
 * that store now (tv_api_reminders_read, tv_api_reminder_rows_to_json). */
static void add_consult_rows (JsonBuilder *b, const TvConsult *c, const GPtrArray *reminders);

static void
add_consult (JsonBuilder *b, const TvConsult *c, TvStore *reminders_from)
{
  g_autoptr (GPtrArray) reminders = reminders_from != NULL ? tv_api_reminders_read (reminders_from, c->id) : NULL;
  add_consult_rows (b, c, reminders);
}

/* add_consult with the reminders read already (@reminders: NULL = no
 * "reminders" member); reads nothing else. */
static void
add_consult_rows (JsonBuilder *b, const TvConsult *c, const GPtrArray *reminders)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, c->id);
  add_string_or_null (b, "doctor_id", c->doctor_id);
  add_string_or_null (b, "patient_id", c->patient_id);
  add_string_or_null (b, "doctor", c->doctor);
  add_string_or_null (b, "patient", c->patient);
  add_time (b, "scheduled_start", c->scheduled_start, NULL);
  add_time (b, "scheduled_end", c->scheduled_end, NULL);
  json_builder_set_member_name (b, "status");
  json_builder_add_string_value (b, tv_consult_status_to_string (c->status));
  add_time (b, "created_at", c->created_at, NULL);
  add_time (b, "started_at", c->started_at, NULL);
  add_time (b, "ended_at", c->ended_at, NULL);
  add_time (b, "cancelled_at", c->cancelled_at, NULL);
  add_time (b, "no_show_at", c->no_show_at, NULL);
  add_string_or_null (b, "end_reason", c->end_reason);
  add_string_or_null (b, "booked_by", c->booked_by);
  if (reminders != NULL) {
    json_builder_set_member_name (b, "reminders");
    json_builder_add_value (b, tv_api_reminder_rows_to_json (reminders));
  }
  json_builder_end_object (b);
}

/* "https://HOST:PORT/join#token=..." — the host the client used to reach us
 * (the Host header, when it is a plain host[:port]), else the listen address. */
static char *
join_link (TvHttpRequest *req, gpointer user_data, const char *token)
{
  const char *host = tv_http_request_host (req);
  gboolean plain = host != NULL && *host != '\0' && strlen (host) <= 255;
  for (const char *p = host; plain && *p != '\0'; p++)
    plain = g_ascii_isalnum (*p) || strchr (".-:[]", *p) != NULL;
  if (plain)
    return g_strdup_printf ("https://%s/join#token=%s", host, token);
  TvServer *server = user_data;
  const TvServerConfig *cfg = tv_http_request_config (req);
  const char *name = cfg != NULL && cfg->hostname != NULL ? cfg->hostname : "localhost";
  return g_strdup_printf ("https://%s:%u/join#token=%s", name, server != NULL ? tv_server_get_port (server) : 8443,
                          token);
}

/* The consult of the path, if the user may see it (else replied 404/403). */
static TvConsult *
load_consult (TvHttpRequest *req, const char *id)
{
  g_autoptr (GError) error = NULL;
  TvConsult *c = NULL;
  if (!tv_store_consult_get (store_of (req), id, &c, &error)) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      tv_http_reply_error (req, 404, "not_found", "no consult with that id");
    else
      tv_http_reply_store_error (req, error, "consult get");
    return NULL;
  }
  return c;
}

static gboolean
is_consult_patient (const TvUser *me, const TvConsult *c)
{
  return (me->roles & TV_ROLE_PATIENT) && g_strcmp0 (c->patient_id, me->id) == 0;
}

static gboolean
is_consult_doctor (const TvUser *me, const TvConsult *c)
{
  return (me->roles & TV_ROLE_DOCTOR) && g_strcmp0 (c->doctor_id, me->id) == 0;
}

/* What a consult reply shows, read by its handler: the body is built from it
 * alone (consult_reply_body), on the main loop when the reply waits for a
 * group commit (tv_http_reply_json_later). */
typedef struct {
  TvConsult *consult;
  GPtrArray *reminders;   /* (element-type TvReminder) NULL: not shown (not staff) */
  char *patient_link;
  char *doctor_link;
} ConsultReply;

static void
consult_reply_free (gpointer data)
{
  ConsultReply *r = data;
  tv_consult_free (r->consult);
  g_clear_pointer (&r->reminders, g_ptr_array_unref);
  g_free (r->patient_link);
  g_free (r->doctor_link);
  g_free (r);
}

/* {"consult": {...}, "join_link"?, "doctor_join_link"?} */
static JsonNode *
consult_reply_body (gpointer data)
{
  const ConsultReply *r = data;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "consult");
  add_consult_rows (b, r->consult, r->reminders);
  if (r->patient_link != NULL) {
    json_builder_set_member_name (b, "join_link");
    json_builder_add_string_value (b, r->patient_link);
  }
  if (r->doctor_link != NULL) {
    json_builder_set_member_name (b, "doctor_join_link");
    json_builder_add_string_value (b, r->doctor_link);
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Replies with @c (transfer full) and the links (transfer full, NULL = not
 * shown); staff also see the consult's reminders, as the store holds them
 * now (inside a group commit: after this request's change and the earlier
 * ones of its batch, before the later ones). */
static void
reply_consult (TvHttpRequest *req, guint status, TvConsult *c, char *patient_link, char *doctor_link)
{
  ConsultReply *r = g_new0 (ConsultReply, 1);
  r->consult = c;
  if (is_staff (tv_http_request_user (req)))
    r->reminders = tv_api_reminders_read (store_of (req), c->id);
  r->patient_link = patient_link;
  r->doctor_link = doctor_link;
  tv_http_reply_json_later (req, status, consult_reply_body, r, consult_reply_free);
}

/* ------------------------------------------------------------------------ */
/* Doctors, availability, exceptions, slots                                   */

static void
handle_doctors (TvHttpRequest *req, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) users = tv_store_user_list (store_of (req), TV_ROLE_DOCTOR, NULL, &error);
  if (users == NULL) {
    tv_http_reply_store_error (req, error, "doctor list");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "doctors");
  json_builder_begin_array (b);
  for (guint i = 0; i < users->len; i++) {
    const TvUser *u = g_ptr_array_index (users, i);
    if (!(u->roles & TV_ROLE_DOCTOR) || u->disabled)
      continue;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, u->id);
    json_builder_set_member_name (b, "display_name");
    json_builder_add_string_value (b, u->display_name);
    json_builder_set_member_name (b, "time_zone");
    json_builder_add_string_value (b, u->time_zone != NULL ? u->time_zone : "UTC");
    json_builder_set_member_name (b, "slot_minutes");
    json_builder_add_int_value (b, u->slot_minutes);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
reply_availability (TvHttpRequest *req, const TvUser *doctor, GArray *hours)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "doctor_id");
  json_builder_add_string_value (b, doctor->id);
  json_builder_set_member_name (b, "time_zone");
  json_builder_add_string_value (b, doctor->time_zone != NULL ? doctor->time_zone : "UTC");
  json_builder_set_member_name (b, "slot_minutes");
  json_builder_add_int_value (b, doctor->slot_minutes);
  json_builder_set_member_name (b, "hours");
  json_builder_begin_array (b);
  for (guint i = 0; i < hours->len; i++) {
    const TvWeeklyRange *r = &g_array_index (hours, TvWeeklyRange, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "weekday");
    json_builder_add_int_value (b, r->weekday);
    add_hhmm (b, "start", r->start_min);
    add_hhmm (b, "end", r->end_min);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
handle_availability_get (TvHttpRequest *req, gpointer user_data)
{
  const char *id = path_id (req, "id", "doctor");
  g_autoptr (TvUser) doctor = id != NULL ? load_doctor (req, id) : NULL;
  if (doctor == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) hours = tv_store_availability_get (store_of (req), id, &error);
  if (hours == NULL) {
    reply_store_error (req, error, FALSE, "availability get");
    return;
  }
  reply_availability (req, doctor, hours);
}

/* Parses {"hours": [{weekday, start, end}, ...]}; replies and returns NULL on error. */
static GArray *
parse_hours (TvHttpRequest *req, JsonObject *body)
{
  JsonNode *n = json_object_get_member (body, "hours");
  if (n == NULL) {
    tv_http_reply_error (req, 400, "missing_field", "\"hours\" is required (an array, [] for none)");
    return NULL;
  }
  JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  if (a == NULL) {
    tv_http_reply_error (req, 400, "invalid_field", "\"hours\" must be an array of {weekday, start, end}");
    return NULL;
  }
  if (json_array_get_length (a) > TV_SCHEDULE_MAX_WEEKLY) {
    tv_http_reply_error (req, 400, "invalid_field", "\"hours\" may hold at most %d ranges", TV_SCHEDULE_MAX_WEEKLY);
    return NULL;
  }
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (TvWeeklyRange));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
    JsonNode *wd = o != NULL ? json_object_get_member (o, "weekday") : NULL;
    if (wd == NULL || !JSON_NODE_HOLDS_VALUE (wd) || json_node_get_value_type (wd) != G_TYPE_INT64
        || json_node_get_int (wd) < 1 || json_node_get_int (wd) > 7) {
      tv_http_reply_error (req, 400, "invalid_field",
                           "hours[%u].weekday must be a whole number 1..7 (Monday = 1)", i);
      return NULL;
    }
    const char *start = NULL, *end = NULL;
    if (!tv_http_get_string (req, o, "start", TRUE, 16, &start) || !tv_http_get_string (req, o, "end", TRUE, 16, &end))
      return NULL;
    TvWeeklyRange r = { (guint) json_node_get_int (wd), 0, 0 };
    g_autoptr (GError) error = NULL;
    g_autofree char *fs = g_strdup_printf ("hours[%u].start", i);
    g_autofree char *fe = g_strdup_printf ("hours[%u].end", i);
    if (!tv_schedule_parse_hhmm (start, FALSE, fs, &r.start_min, &error)
        || !tv_schedule_parse_hhmm (end, TRUE, fe, &r.end_min, &error)) {
      tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
      return NULL;
    }
    g_array_append_val (out, r);
  }
  g_autoptr (GError) error = NULL;
  if (!tv_schedule_check_weekly_set ((TvWeeklyRange *) out->data, out->len, &error)) {
    tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    return NULL;
  }
  return g_steal_pointer (&out);
}

static void
handle_availability_put (TvHttpRequest *req, gpointer user_data)
{
  const char *id = path_id (req, "id", "doctor");
  g_autoptr (TvUser) doctor = id != NULL ? load_doctor (req, id) : NULL;
  if (doctor == NULL || !may_edit_doctor (req, id))
    return;
  JsonObject *body = tv_http_request_body_object (req);
  if (body == NULL)
    return;
  g_autoptr (GArray) hours = parse_hours (req, body);
  if (hours == NULL)
    return;
  g_autoptr (GError) error = NULL;
  if (!tv_store_availability_set (store_of (req), id, (TvWeeklyRange *) hours->data, hours->len,
                                  tv_http_request_now (req), &error)) {
    reply_store_error (req, error, FALSE, "availability set");
    return;
  }
  g_info ("availability of doctor %s set by user %s (%u ranges)", id, tv_http_request_user (req)->id, hours->len);
  reply_availability (req, doctor, hours);
}

static void
add_exception (JsonBuilder *b, const TvStoreException *e)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, e->id);
  g_autofree char *date = tv_schedule_format_date (&e->ex.date);
  json_builder_set_member_name (b, "date");
  json_builder_add_string_value (b, date);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, tv_exception_kind_to_string (e->ex.kind));
  if (!(e->ex.kind == TV_EXCEPTION_OFF && e->ex.start_min == 0 && e->ex.end_min == 0)) {
    add_hhmm (b, "start", e->ex.start_min);
    add_hhmm (b, "end", e->ex.end_min);
  }
  json_builder_end_object (b);
}

/* Reads query parameter @name as "YYYY-MM-DD" (absent: TRUE, *@set FALSE). */
static gboolean
query_date (TvHttpRequest *req, const char *name, GDate *date, gboolean *set)
{
  const char *text = tv_http_request_query (req, name);
  *set = FALSE;
  if (text == NULL || *text == '\0')
    return TRUE;
  g_autoptr (GError) error = NULL;
  if (!tv_schedule_parse_date (text, name, date, &error)) {
    tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    return FALSE;
  }
  *set = TRUE;
  return TRUE;
}

static void
handle_exceptions_get (TvHttpRequest *req, gpointer user_data)
{
  const char *id = path_id (req, "id", "doctor");
  g_autoptr (TvUser) doctor = id != NULL ? load_doctor (req, id) : NULL;
  if (doctor == NULL)
    return;
  GDate from, to;
  gboolean has_from, has_to;
  if (!query_date (req, "from", &from, &has_from) || !query_date (req, "to", &to, &has_to))
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tv_store_exception_list (store_of (req), id, has_from ? &from : NULL,
                                                         has_to ? &to : NULL, &error);
  if (list == NULL) {
    reply_store_error (req, error, FALSE, "exception list");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "exceptions");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    add_exception (b, g_ptr_array_index (list, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
handle_exceptions_post (TvHttpRequest *req, gpointer user_data)
{
  const char *id = path_id (req, "id", "doctor");
  g_autoptr (TvUser) doctor = id != NULL ? load_doctor (req, id) : NULL;
  if (doctor == NULL || !may_edit_doctor (req, id))
    return;
  JsonObject *body = tv_http_request_body_object (req);
  const char *date = NULL, *kind = NULL, *start = NULL, *end = NULL;
  if (body == NULL || !tv_http_get_string (req, body, "date", TRUE, 16, &date)
      || !tv_http_get_string (req, body, "kind", TRUE, 16, &kind)
      || !tv_http_get_string (req, body, "start", FALSE, 16, &start)
      || !tv_http_get_string (req, body, "end", FALSE, 16, &end))
    return;
  TvScheduleException ex = { 0 };
  g_autoptr (GError) error = NULL;
  if (!tv_exception_kind_from_string (kind, &ex.kind)) {
    tv_http_reply_error (req, 400, "invalid_field", "kind must be \"off\" or \"extra\"");
    return;
  }
  if ((start == NULL) != (end == NULL)) {
    tv_http_reply_error (req, 400, "invalid_field", "give both start and end, or neither (a whole day off)");
    return;
  }
  if (start == NULL && ex.kind == TV_EXCEPTION_EXTRA) {
    tv_http_reply_error (req, 400, "missing_field", "extra hours need start and end");
    return;
  }
  if (!tv_schedule_parse_date (date, "date", &ex.date, &error)
      || (start != NULL && !tv_schedule_parse_hhmm (start, FALSE, "start", &ex.start_min, &error))
      || (end != NULL && !tv_schedule_parse_hhmm (end, TRUE, "end", &ex.end_min, &error))
      || !tv_schedule_check_exception (&ex, &error)) {
    tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    return;
  }
  g_autoptr (TvStoreException) added = NULL;
  if (!tv_store_exception_add (store_of (req), id, &ex, tv_http_request_now (req), &added, &error)) {
    reply_store_error (req, error, FALSE, "exception add");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "exception");
  add_exception (b, added);
  json_builder_end_object (b);
  tv_http_reply_json (req, 201, json_builder_get_root (b));
}

static void
handle_exceptions_delete (TvHttpRequest *req, gpointer user_data)
{
  const char *id = path_id (req, "id", "doctor");
  if (id == NULL || !may_edit_doctor (req, id))
    return;
  const char *ex_id = path_id (req, "exception_id", "exception");
  if (ex_id == NULL)
    return;
  g_autoptr (GError) error = NULL;
  if (!tv_store_exception_remove (store_of (req), id, ex_id, &error)) {
    reply_store_error (req, error, FALSE, "exception remove");
    return;
  }
  tv_http_reply_json (req, 204, NULL);
}

static void
handle_slots (TvHttpRequest *req, gpointer user_data)
{
  const char *id = path_id (req, "id", "doctor");
  g_autoptr (TvUser) doctor = id != NULL ? load_doctor (req, id) : NULL;
  if (doctor == NULL)
    return;
  gint64 now = tv_http_request_now (req);
  gint64 from = now, to = 0;
  if (!query_time (req, "from", &from) || !query_time (req, "to", &to))
    return;
  if (to == 0)
    to = from + DEFAULT_SLOT_RANGE_US;
  if (from >= to) {
    tv_http_reply_error (req, 400, "invalid_field", "from must be before to");
    return;
  }
  if (to - from > TV_SCHEDULE_MAX_RANGE_US) {
    tv_http_reply_error (req, 400, "invalid_field", "from..to may cover at most 31 days");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) slots = tv_store_free_slots (store_of (req), id, from, to, now, &error);
  if (slots == NULL) {
    reply_store_error (req, error, FALSE, "free slots");
    return;
  }
  g_autoptr (GTimeZone) tz = doctor_tz (doctor);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "doctor_id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "time_zone");
  json_builder_add_string_value (b, g_time_zone_get_identifier (tz));
  json_builder_set_member_name (b, "slot_minutes");
  json_builder_add_int_value (b, doctor->slot_minutes);
  json_builder_set_member_name (b, "slots");
  json_builder_begin_array (b);
  for (guint i = 0; i < slots->len; i++) {
    const TvInterval *s = &g_array_index (slots, TvInterval, i);
    json_builder_begin_object (b);
    add_time (b, "start", s->start, tz);
    add_time (b, "end", s->end, tz);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

/* ------------------------------------------------------------------------ */
/* Consults                                                                   */

static void
handle_book (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  JsonObject *body = tv_http_request_body_object (req);
  const char *doctor_id = NULL, *patient_id = NULL;
  gint64 start = 0;
  if (body == NULL || !tv_http_get_string (req, body, "doctor_id", TRUE, MAX_ID_BYTES, &doctor_id)
      || !tv_http_get_string (req, body, "patient_id", FALSE, MAX_ID_BYTES, &patient_id)
      || !body_time (req, body, "start", &start))
    return;
  gboolean scheduler = (me->roles & TV_ROLE_SCHEDULER) != 0;
  if (patient_id == NULL) {
    if (scheduler) {
      tv_http_reply_error (req, 400, "missing_field", "\"patient_id\" is required");
      return;
    }
    patient_id = me->id;   /* a patient booking for themself */
  }
  if (!scheduler && strcmp (patient_id, me->id) != 0) {
    tv_http_reply_error (req, 403, "forbidden", "patients may book consults for themselves only");
    return;
  }
  if (!g_uuid_string_is_valid (doctor_id)) {
    tv_http_reply_error (req, 400, "invalid_field", "doctor_id: no doctor with that id");
    return;
  }
  if (!g_uuid_string_is_valid (patient_id)) {
    tv_http_reply_error (req, 400, "invalid_field", "patient_id: no patient with that id");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dtok = NULL, *ptok = NULL;
  if (!tv_store_consult_book (store_of (req), doctor_id, patient_id, start, me->id, tv_http_request_now (req), &c,
                              &dtok, &ptok, &error)) {
    reply_store_error (req, error, TRUE, "book");
    return;
  }
  g_info ("consult %s booked by user %s", c->id, me->id);
  char *plink = join_link (req, user_data, ptok);
  char *dlink = scheduler ? join_link (req, user_data, dtok) : NULL;
  reply_consult (req, 201, g_steal_pointer (&c), plink, dlink);
}

/* Sorts by scheduled start, then id (the store's order). */
static gint
cmp_consult (gconstpointer a, gconstpointer b)
{
  const TvConsult *x = *(TvConsult *const *) a, *y = *(TvConsult *const *) b;
  if (x->scheduled_start != y->scheduled_start)
    return x->scheduled_start < y->scheduled_start ? -1 : 1;
  return strcmp (x->id, y->id);
}

static void
handle_list (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  TvConsultFilter filter = { 0 };
  if (!query_time (req, "from", &filter.from) || !query_time (req, "to", &filter.to))
    return;
  const char *doctor_id = tv_http_request_query (req, "doctor_id");
  const char *status = tv_http_request_query (req, "status");
  if (doctor_id != NULL && *doctor_id != '\0') {
    if (!g_uuid_string_is_valid (doctor_id)) {
      tv_http_reply_error (req, 400, "invalid_field", "doctor_id must be a user id");
      return;
    }
    filter.doctor_id = doctor_id;
  }
  if (status != NULL && *status != '\0') {
    /* Every status the store knows (the enumeration grows with the areas). */
    for (int i = 0; i < 32 && !filter.has_status; i++) {
      if (strcmp (status, tv_consult_status_to_string ((TvConsultStatus) i)) == 0) {
        filter.has_status = TRUE;
        filter.status = (TvConsultStatus) i;
      }
    }
    if (!filter.has_status || strcmp (status, "unknown") == 0) {
      tv_http_reply_error (req, 400, "invalid_field",
                           "status must be scheduled, waiting, in-progress, completed, cancelled or no-show");
      return;
    }
  }
  /* Staff see everything; others their consults as doctor and/or as patient. */
  TvConsultFilter passes[2];
  guint n_passes = 0;
  if (is_staff (me)) {
    passes[n_passes++] = filter;
  } else {
    if ((me->roles & TV_ROLE_DOCTOR) && (filter.doctor_id == NULL || strcmp (filter.doctor_id, me->id) == 0)) {
      passes[n_passes] = filter;
      passes[n_passes++].doctor_id = me->id;
    }
    if (me->roles & TV_ROLE_PATIENT) {
      passes[n_passes] = filter;
      passes[n_passes++].patient_id = me->id;
    }
  }
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_consult_free);
  for (guint pass = 0; pass < n_passes; pass++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) part = tv_store_consult_list_filtered (store_of (req), &passes[pass], &error);
    if (part == NULL) {
      tv_http_reply_store_error (req, error, "consult list");
      return;
    }
    while (part->len > 0) {
      TvConsult *c = g_ptr_array_steal_index (part, 0);
      gboolean dup = FALSE;   /* one's own consult as both doctor and patient */
      for (guint j = 0; j < out->len && !dup; j++)
        dup = strcmp (((TvConsult *) g_ptr_array_index (out, j))->id, c->id) == 0;
      if (dup)
        tv_consult_free (c);
      else
        g_ptr_array_add (out, c);
    }
  }
  g_ptr_array_sort (out, cmp_consult);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "consults");
  json_builder_begin_array (b);
  for (guint i = 0; i < out->len; i++)
    add_consult (b, g_ptr_array_index (out, i), is_staff (me) ? store_of (req) : NULL);
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
handle_get (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  const char *id = path_id (req, "id", "consult");
  g_autoptr (TvConsult) c = id != NULL ? load_consult (req, id) : NULL;
  if (c == NULL)
    return;
  if (!is_staff (me) && !is_consult_patient (me, c) && !is_consult_doctor (me, c)) {
    tv_http_reply_error (req, 403, "forbidden", "this is not your consult");
    return;
  }
  reply_consult (req, 200, g_steal_pointer (&c), NULL, NULL);
}

/* Re-reads and replies with the consult after a change. */
static void
reply_changed (TvHttpRequest *req, const char *id)
{
  TvConsult *c = load_consult (req, id);
  if (c != NULL)
    reply_consult (req, 200, c, NULL, NULL);
}

/* The clinic's notice for a patient acting on their own consult: replies 409
 * cancel_too_late and returns FALSE inside it (the router audits the 4xx).
 * @what: "cancel" or "change". */
static gboolean
patient_within_rule (TvHttpRequest *req, const TvConsult *c, const char *what)
{
  gint64 notice = tv_http_request_config (req)->patient_cancel_notice_s;
  if (!tv_cancel_rule_too_late (c, notice, tv_http_request_now (req)))
    return TRUE;
  g_autofree char *words = tv_cancel_rule_notice_words (notice);
  /* "24 hours' notice", "1 hour's notice" */
  tv_http_reply_error (req, 409, "cancel_too_late",
                       "This clinic asks for %s%s notice to %s a visit online; please call the clinic.", words,
                       g_str_has_suffix (words, "s") ? "'" : "'s", what);
  return FALSE;
}

static void
handle_cancel (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  const char *id = path_id (req, "id", "consult");
  g_autoptr (TvConsult) c = id != NULL ? load_consult (req, id) : NULL;
  if (c == NULL)
    return;
  const char *by;
  if (me->roles & TV_ROLE_SCHEDULER)
    by = "cancelled-by-scheduler";
  else if (me->roles & TV_ROLE_ADMIN)
    by = "cancelled-by-admin";
  else if (is_consult_doctor (me, c))
    by = "cancelled-by-doctor";
  else if (is_consult_patient (me, c))
    by = "cancelled-by-patient";
  else {
    tv_http_reply_error (req, 403, "forbidden", "this is not your consult");
    return;
  }
  if (g_str_equal (by, "cancelled-by-patient") && !patient_within_rule (req, c, "cancel"))
    return;
  g_autoptr (GError) error = NULL;
  if (!tv_store_consult_cancel (store_of (req), id, by, tv_http_request_now (req), &error)) {
    reply_store_error (req, error, FALSE, "cancel");
    return;
  }
  g_info ("consult %s %s (user %s)", id, by, me->id);
  reply_changed (req, id);
}

static void
handle_reschedule (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  const char *id = path_id (req, "id", "consult");
  g_autoptr (TvConsult) c = id != NULL ? load_consult (req, id) : NULL;
  if (c == NULL)
    return;
  if (!(me->roles & TV_ROLE_SCHEDULER) && !is_consult_patient (me, c)) {
    tv_http_reply_error (req, 403, "forbidden", "this is not your consult");
    return;
  }
  if (!(me->roles & TV_ROLE_SCHEDULER) && !patient_within_rule (req, c, "change"))
    return;
  JsonObject *body = tv_http_request_body_object (req);
  gint64 start = 0;
  if (body == NULL || !body_time (req, body, "start", &start))
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) moved = NULL;
  g_autofree char *ptok = NULL;
  if (!tv_store_consult_reschedule (store_of (req), id, start, tv_http_request_now (req), &moved, &ptok, &error)) {
    reply_store_error (req, error, FALSE, "reschedule");
    return;
  }
  g_info ("consult %s rescheduled by user %s", id, me->id);
  reply_consult (req, 200, g_steal_pointer (&moved), join_link (req, user_data, ptok), NULL);
}

static void
handle_no_show (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  const char *id = path_id (req, "id", "consult");
  g_autoptr (TvConsult) c = id != NULL ? load_consult (req, id) : NULL;
  if (c == NULL)
    return;
  if (!(me->roles & TV_ROLE_SCHEDULER) && !is_consult_doctor (me, c)) {
    tv_http_reply_error (req, 403, "forbidden", "only the consult's doctor or a scheduler may mark a no-show");
    return;
  }
  g_autoptr (GError) error = NULL;
  if (!tv_store_consult_no_show (store_of (req), id, tv_http_request_now (req), &error)) {
    reply_store_error (req, error, FALSE, "no-show");
    return;
  }
  g_info ("consult %s marked no-show by user %s", id, me->id);
  reply_changed (req, id);
}

/* GET /consults/{id}/join-link: the consult's current join link again (the
 * front desk's booking details, the portal's "Join"). The patient's link for
 * the consult's patient, a scheduler or an admin; the doctor's link too for
 * schedulers and admins. Only while someone can still join (scheduled,
 * waiting, in progress): 409 wrong_state afterwards. 404 when the token
 * cannot be re-created (issued before join-link keys, or under another key). */
static void
handle_join_link (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  const char *id = path_id (req, "id", "consult");
  g_autoptr (TvConsult) c = id != NULL ? load_consult (req, id) : NULL;
  if (c == NULL)
    return;
  if (!is_staff (me) && !is_consult_patient (me, c)) {
    tv_http_reply_error (req, 403, "forbidden", "this is not your consult");
    return;
  }
  if (c->status != TV_CONSULT_SCHEDULED && c->status != TV_CONSULT_WAITING && c->status != TV_CONSULT_IN_PROGRESS) {
    tv_http_reply_error (req, 409, "wrong_state", "the consult is %s: nobody can join it",
                         tv_consult_status_to_string (c->status));
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *ptok = NULL;
  g_autofree char *dtok = NULL;
  if (!tv_store_join_token_recreate (store_of (req), id, "patient", &ptok, &error)
      || (is_staff (me) && !tv_store_join_token_recreate (store_of (req), id, "doctor", &dtok, &error))) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      tv_http_reply_error (req, 404, "not_found", "this consult's join link cannot be shown again: reschedule it for a new one");
    else
      tv_http_reply_store_error (req, error, "join link");
    return;
  }
  char *plink = join_link (req, user_data, ptok);
  char *dlink = dtok != NULL ? join_link (req, user_data, dtok) : NULL;
  reply_consult (req, 200, g_steal_pointer (&c), plink, dlink);
}

#define CONSULT_ROLES (TV_ROLE_PATIENT | TV_ROLE_DOCTOR | TV_ROLE_SCHEDULER | TV_ROLE_ADMIN)
#define EDIT_HOURS_ROLES (TV_ROLE_DOCTOR | TV_ROLE_SCHEDULER | TV_ROLE_ADMIN)

/* Booking, cancelling and rescheduling change only the store and answer:
 * they share group commits (TV_HTTP_ROUTE_GROUP_COMMIT, one WAL sync for the
 * requests of one main-loop iteration). */
static const TvHttpRoute routes[] = {
  { "GET", "/api/v1/doctors", TV_ROLE_ANY, handle_doctors },
  { "GET", "/api/v1/doctors/{id}/availability", TV_ROLE_ANY, handle_availability_get },
  { "PUT", "/api/v1/doctors/{id}/availability", EDIT_HOURS_ROLES, handle_availability_put },
  { "GET", "/api/v1/doctors/{id}/exceptions", TV_ROLE_ANY, handle_exceptions_get },
  { "POST", "/api/v1/doctors/{id}/exceptions", EDIT_HOURS_ROLES, handle_exceptions_post },
  { "DELETE", "/api/v1/doctors/{id}/exceptions/{exception_id}", EDIT_HOURS_ROLES, handle_exceptions_delete },
  { "GET", "/api/v1/doctors/{id}/slots", TV_ROLE_ANY, handle_slots },
  { "POST", "/api/v1/consults", TV_ROLE_PATIENT | TV_ROLE_SCHEDULER, handle_book, TV_HTTP_ROUTE_GROUP_COMMIT },
  { "GET", "/api/v1/consults", CONSULT_ROLES, handle_list },
  { "GET", "/api/v1/consults/{id}", CONSULT_ROLES, handle_get },
  { "GET", "/api/v1/consults/{id}/join-link", TV_ROLE_PATIENT | TV_ROLE_SCHEDULER | TV_ROLE_ADMIN, handle_join_link },
  { "POST", "/api/v1/consults/{id}/cancel", CONSULT_ROLES, handle_cancel, TV_HTTP_ROUTE_GROUP_COMMIT },
  { "POST", "/api/v1/consults/{id}/reschedule", TV_ROLE_PATIENT | TV_ROLE_SCHEDULER, handle_reschedule,
    TV_HTTP_ROUTE_GROUP_COMMIT },
  { "POST", "/api/v1/consults/{id}/no-show", TV_ROLE_DOCTOR | TV_ROLE_SCHEDULER, handle_no_show },
};

void
tv_server_api_schedule_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, routes, G_N_ELEMENTS (routes), server);
}
