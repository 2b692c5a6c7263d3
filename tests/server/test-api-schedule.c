/* test-api-schedule.c — the scheduling HTTPS endpoints on the real server (server/tv-api-schedule.c).
 *
 * What: doctors, availability and exceptions (who may change them, what bad
 * input gets), free slots in the doctor's zone, booking by a scheduler and by
 * a patient for themself, every booking refusal with its HTTP status and error
 * code (bad dates, no offset, in the past, outside the hours, misaligned,
 * slot taken, the patient busy elsewhere, unknown doctor / patient, a patient
 * booking for someone else), listing and reading with ownership, cancel,
 * reschedule (old join token revoked, checked in the store) and no-show; the
 * clinic's notice (patient-cancel-notice, default 24 hours): a patient inside
 * it gets 409 cancel_too_late on cancel and reschedule, audited, the consult
 * and its reminders unchanged; outside it 200; schedulers and doctors are not
 * bound; GET /me/visits carries can_cancel, cancel_deadline and the rule.
 * One televisit-server process serves every case; each case uses its own
 * doctors or dates so the cases do not depend on each other. Dates are
 * computed from today (the server uses the real clock): "next week's Monday"
 * in the doctor's zone. Synthetic people only.
 * Thread: main thread; tv_test watchdog per case.
 */
#define G_LOG_DOMAIN "test-api-schedule"

#include <string.h>

#include <glib.h>

#include "server/tv-schedule.h"
#include "server/tv-store-schedule.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

typedef struct {
  TvTestServer *server;
  const char *dir;
  char *doctor, *doctor2, *doctor3, *patient, *patient2, *scheduler;
  char *t_doctor, *t_doctor2, *t_patient, *t_patient2, *t_scheduler, *t_billing;
} World;

static World w;

/* ---- helpers ------------------------------------------------------------- */

/* Sends a request; returns the status, *@reply (may be NULL) the parsed body. */
static guint
api (const char *method, const char *path, const char *token, const char *body, JsonNode **reply)
{
  guint status = 0;
  tv_test_http (w.server, method, path, token, body, &status, reply);
  return status;
}

/* Expects @status and error @code (whose message contains @needle, if given). */
static void
expect_error (const char *method, const char *path, const char *token, const char *body, guint status,
              const char *code, const char *needle)
{
  g_autoptr (JsonNode) reply = NULL;
  guint got = api (method, path, token, body, &reply);
  g_autofree char *text = reply != NULL ? json_to_string (reply, FALSE) : g_strdup ("(no body)");
  if (got != status || g_strcmp0 (tv_test_http_error_code (reply), code) != 0)
    g_error ("%s %s %s: want %u %s, got %u %s", method, path, body ? body : "", status, code, got, text);
  if (needle != NULL && strstr (text, needle) == NULL)
    g_error ("%s %s: message %s does not mention \"%s\"", method, path, text, needle);
}

/* An RFC 3339 time @days after next week's Monday, at local @hhmm in @zone. */
static char *
local_time (const char *zone, int days, const char *hhmm)
{
  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier (zone);
  g_autoptr (GDateTime) now = g_date_time_new_now (tz);
  int to_monday = 8 - g_date_time_get_day_of_week (now) + 7;   /* Monday at least a week ahead */
  g_autoptr (GDateTime) day = g_date_time_add_days (now, to_monday + days);
  guint minutes = 0;
  g_assert_true (tv_schedule_parse_hhmm (hhmm, FALSE, "t", &minutes, NULL));
  g_autoptr (GDateTime) at = g_date_time_new (tz, g_date_time_get_year (day), g_date_time_get_month (day),
                                              g_date_time_get_day_of_month (day), minutes / 60, minutes % 60, 0);
  return tv_schedule_format_rfc3339 (g_date_time_to_unix (at) * G_USEC_PER_SEC, tz);
}

/* "YYYY-MM-DD" of next week's Monday + @days in @zone. */
static char *
local_date (const char *zone, int days)
{
  g_autofree char *t = local_time (zone, days, "12:00");
  return g_strndup (t, 10);
}

static char *
book_body (const char *doctor, const char *patient, const char *start)
{
  if (patient == NULL)
    return g_strdup_printf ("{\"doctor_id\":\"%s\",\"start\":\"%s\"}", doctor, start);
  return g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}", doctor, patient, start);
}

/* Books and returns the consult object's id; *@link gets join_link (may be NULL). */
static char *
book_ok (const char *token, const char *doctor, const char *patient, const char *start, char **link)
{
  g_autofree char *body = book_body (doctor, patient, start);
  g_autoptr (JsonNode) reply = NULL;
  guint status = api ("POST", "/api/v1/consults", token, body, &reply);
  if (status != 201) {
    g_autofree char *text = reply ? json_to_string (reply, FALSE) : NULL;
    g_error ("booking %s: %u %s", start, status, text);
  }
  JsonObject *c = tv_test_http_object (reply, "consult");
  g_assert_nonnull (c);
  if (link != NULL)
    *link = g_strdup (tv_test_json_str (json_node_get_object (reply), "join_link"));
  return g_strdup (tv_test_json_str (c, "id"));
}

/* The token at the end of a join link. */
static const char *
link_token (const char *link)
{
  const char *p = strstr (link, "#token=");
  g_assert_nonnull (p);
  return p + strlen ("#token=");
}

/* The role of @token in the store, or TV_SIG_ROLE_NONE with *@code set. */
static TvSigRole
token_role (const char *token, const char *consult_id, int *code)
{
  g_autofree char *path = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (TvStore) store = tv_store_open (path, NULL);
  g_assert_nonnull (store);
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  TvSigRole role = TV_SIG_ROLE_NONE;
  if (!tv_store_token_lookup (store, token, g_get_real_time (), &id, &role, &error)) {
    *code = error->code;
    return TV_SIG_ROLE_NONE;
  }
  g_assert_cmpstr (id, ==, consult_id);
  return role;
}

static void
put_hours (const char *token, const char *doctor, const char *hours_json)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/doctors/%s/availability", doctor);
  g_autofree char *body = g_strdup_printf ("{\"hours\":%s}", hours_json);
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (api ("PUT", path, token, body, &reply), ==, 200);
}

static guint
count_slots (const char *doctor, const char *from, const char *to, JsonArray **slots_out, JsonNode **keep)
{
  g_autofree char *ef = g_uri_escape_string (from, NULL, TRUE);
  g_autofree char *et = g_uri_escape_string (to, NULL, TRUE);
  g_autofree char *path = g_strdup_printf ("/api/v1/doctors/%s/slots?from=%s&to=%s", doctor, ef, et);
  JsonNode *reply = NULL;
  g_assert_cmpuint (api ("GET", path, w.t_patient, NULL, &reply), ==, 200);
  JsonArray *slots = json_object_get_array_member (json_node_get_object (reply), "slots");
  guint n = json_array_get_length (slots);
  if (slots_out != NULL) {
    *slots_out = slots;
    *keep = reply;
  } else {
    json_node_unref (reply);
  }
  return n;
}

static void
case_begin (void)
{
  tv_test_watchdog_start (60, g_test_get_path ());
}

/* ---- cases --------------------------------------------------------------- */

static void
test_doctors (void)
{
  case_begin ();
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (api ("GET", "/api/v1/doctors", w.t_billing, NULL, &reply), ==, 200);
  JsonArray *docs = json_object_get_array_member (json_node_get_object (reply), "doctors");
  gboolean seen = FALSE;
  for (guint i = 0; i < json_array_get_length (docs); i++) {
    JsonObject *d = json_array_get_object_element (docs, i);
    g_assert_nonnull (tv_test_json_str (d, "time_zone"));
    g_assert_cmpint (tv_test_json_int (d, "slot_minutes", 0), >=, 5);
    if (g_strcmp0 (tv_test_json_str (d, "id"), w.doctor) == 0) {
      seen = TRUE;
      g_assert_cmpstr (tv_test_json_str (d, "time_zone"), ==, "Europe/Berlin");
      g_assert_cmpstr (tv_test_json_str (d, "display_name"), ==, "Dr. Test Berlin");
    }
    g_assert_cmpstr (tv_test_json_str (d, "id"), !=, w.patient);
  }
  g_assert_true (seen);
  expect_error ("GET", "/api/v1/doctors", NULL, NULL, 401, "unauthenticated", NULL);
}

static void
test_availability (void)
{
  case_begin ();
  g_autofree char *path = g_strdup_printf ("/api/v1/doctors/%s/availability", w.doctor2);
  /* the doctor sets their own hours */
  put_hours (w.t_doctor2, w.doctor2, "[{\"weekday\":2,\"start\":\"14:00\",\"end\":\"18:00\"},"
                                     "{\"weekday\":2,\"start\":\"08:00\",\"end\":\"12:30\"}]");
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (api ("GET", path, w.t_patient, NULL, &reply), ==, 200);
  JsonObject *o = json_node_get_object (reply);
  g_assert_cmpstr (tv_test_json_str (o, "time_zone"), ==, "America/New_York");
  JsonArray *hours = json_object_get_array_member (o, "hours");
  g_assert_cmpuint (json_array_get_length (hours), ==, 2);
  JsonObject *first = json_array_get_object_element (hours, 0);
  g_assert_cmpint (tv_test_json_int (first, "weekday", 0), ==, 2);
  g_assert_cmpstr (tv_test_json_str (first, "start"), ==, "08:00");
  g_assert_cmpstr (tv_test_json_str (first, "end"), ==, "12:30");

  /* who may not */
  const char *ok_body = "{\"hours\":[]}";
  expect_error ("PUT", path, w.t_doctor, ok_body, 403, "forbidden", NULL);     /* another doctor */
  expect_error ("PUT", path, w.t_patient, ok_body, 403, "forbidden", NULL);    /* role */
  expect_error ("PUT", path, w.t_billing, ok_body, 403, "forbidden", NULL);
  /* bad input, nothing changed */
  struct { const char *body; const char *code; const char *needle; } bad[] = {
    { "{}", "missing_field", "hours" },
    { "{\"hours\":{}}", "invalid_field", "hours" },
    { "{\"hours\":[{\"weekday\":8,\"start\":\"09:00\",\"end\":\"10:00\"}]}", "invalid_field", "weekday" },
    { "{\"hours\":[{\"weekday\":\"1\",\"start\":\"09:00\",\"end\":\"10:00\"}]}", "invalid_field", "weekday" },
    { "{\"hours\":[{\"weekday\":1,\"start\":\"9:00\",\"end\":\"10:00\"}]}", "invalid_field", "hours[0].start" },
    { "{\"hours\":[{\"weekday\":1,\"start\":\"09:00\",\"end\":\"24:30\"}]}", "invalid_field", "hours[0].end" },
    { "{\"hours\":[{\"weekday\":1,\"start\":\"10:00\",\"end\":\"09:00\"}]}", "invalid_field", "before" },
    { "{\"hours\":[{\"weekday\":1,\"start\":\"09:00\"}]}", "missing_field", "end" },
    { "{\"hours\":[{\"weekday\":1,\"start\":\"09:00\",\"end\":\"11:00\"},"
      "{\"weekday\":1,\"start\":\"10:00\",\"end\":\"12:00\"}]}", "invalid_field", "overlaps" },
    { "[1,2]", "invalid_json", NULL },
    { "{\"hours\":", "invalid_json", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    expect_error ("PUT", path, w.t_scheduler, bad[i].body, 400, bad[i].code, bad[i].needle);
  g_autoptr (JsonNode) again = NULL;
  g_assert_cmpuint (api ("GET", path, w.t_patient, NULL, &again), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (again), "hours")),
                    ==, 2);
  /* not a doctor / no such id */
  g_autofree char *p_patient = g_strdup_printf ("/api/v1/doctors/%s/availability", w.patient);
  expect_error ("GET", p_patient, w.t_scheduler, NULL, 404, "not_found", NULL);
  expect_error ("GET", "/api/v1/doctors/not-a-uuid/availability", w.t_scheduler, NULL, 404, "not_found", NULL);
  expect_error ("PUT", "/api/v1/doctors/00000000-0000-4000-8000-000000000000/availability", w.t_scheduler,
                ok_body, 404, "not_found", NULL);
}

static void
test_exceptions_and_slots (void)
{
  case_begin ();
  g_autofree char *monday = local_date ("Europe/Berlin", 0);
  g_autofree char *from = local_time ("Europe/Berlin", 0, "00:00");
  g_autofree char *to = local_time ("Europe/Berlin", 7, "00:00");
  /* doctor3: Mon-Fri 09:00-12:00, 15-minute slots (default) */
  g_assert_cmpuint (count_slots (w.doctor3, from, to, NULL, NULL), ==, 5 * 12);

  g_autofree char *path = g_strdup_printf ("/api/v1/doctors/%s/exceptions", w.doctor3);
  g_autofree char *off = g_strdup_printf ("{\"date\":\"%s\",\"kind\":\"off\"}", monday);
  g_autoptr (JsonNode) added = NULL;
  g_assert_cmpuint (api ("POST", path, w.t_scheduler, off, &added), ==, 201);
  JsonObject *ex = tv_test_http_object (added, "exception");
  g_assert_cmpstr (tv_test_json_str (ex, "date"), ==, monday);
  g_assert_cmpstr (tv_test_json_str (ex, "kind"), ==, "off");
  g_assert_false (json_object_has_member (ex, "start"));
  g_autofree char *saturday = local_date ("Europe/Berlin", 5);
  g_autofree char *extra = g_strdup_printf ("{\"date\":\"%s\",\"kind\":\"extra\",\"start\":\"10:00\","
                                            "\"end\":\"11:00\"}", saturday);
  g_assert_cmpuint (api ("POST", path, w.t_scheduler, extra, NULL), ==, 201);
  g_assert_cmpuint (count_slots (w.doctor3, from, to, NULL, NULL), ==, 4 * 12 + 4);

  /* slots are given in the doctor's zone */
  JsonArray *slots = NULL;
  g_autoptr (JsonNode) keep = NULL;
  count_slots (w.doctor3, from, to, &slots, &keep);
  const char *start0 = json_object_get_string_member (json_array_get_object_element (slots, 0), "start");
  g_autofree char *tue9 = local_time ("Europe/Berlin", 1, "09:00");
  g_assert_cmpstr (start0, ==, tue9);

  g_autoptr (JsonNode) list = NULL;
  g_autofree char *ranged = g_strdup_printf ("%s?from=%s&to=%s", path, monday, monday);
  g_assert_cmpuint (api ("GET", ranged, w.t_patient, NULL, &list), ==, 200);
  JsonArray *exs = json_object_get_array_member (json_node_get_object (list), "exceptions");
  g_assert_cmpuint (json_array_get_length (exs), ==, 1);

  /* bad exceptions */
  struct { const char *body; const char *code; const char *needle; } bad[] = {
    { "{\"date\":\"2031-02-30\",\"kind\":\"off\"}", "invalid_field", "date" },
    { "{\"date\":\"31-01-2031\",\"kind\":\"off\"}", "invalid_field", "date" },
    { "{\"date\":\"2031-01-06\",\"kind\":\"holiday\"}", "invalid_field", "kind" },
    { "{\"date\":\"2031-01-06\",\"kind\":\"extra\"}", "missing_field", "start" },
    { "{\"date\":\"2031-01-06\",\"kind\":\"off\",\"start\":\"10:00\"}", "invalid_field", "both" },
    { "{\"date\":\"2031-01-06\",\"kind\":\"extra\",\"start\":\"11:00\",\"end\":\"10:00\"}", "invalid_field", NULL },
    { "{\"kind\":\"off\"}", "missing_field", "date" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    expect_error ("POST", path, w.t_scheduler, bad[i].body, 400, bad[i].code, bad[i].needle);
  expect_error ("POST", path, w.t_doctor, off, 403, "forbidden", NULL);

  /* delete: not by others, then by the scheduler; twice is 404 */
  g_autofree char *del = g_strdup_printf ("%s/%s", path, tv_test_json_str (ex, "id"));
  expect_error ("DELETE", del, w.t_patient, NULL, 403, "forbidden", NULL);
  expect_error ("DELETE", del, w.t_doctor, NULL, 403, "forbidden", NULL);
  g_assert_cmpuint (api ("DELETE", del, w.t_scheduler, NULL, NULL), ==, 204);
  expect_error ("DELETE", del, w.t_scheduler, NULL, 404, "not_found", NULL);
  g_assert_cmpuint (count_slots (w.doctor3, from, to, NULL, NULL), ==, 5 * 12 + 4);

  /* slot query errors */
  g_autofree char *base = g_strdup_printf ("/api/v1/doctors/%s/slots", w.doctor3);
  g_autofree char *noofs = g_strdup_printf ("%s?from=2031-01-06T00:00:00", base);
  expect_error ("GET", noofs, w.t_patient, NULL, 400, "invalid_field", "offset");
  g_autofree char *garbage = g_strdup_printf ("%s?from=yesterday", base);
  expect_error ("GET", garbage, w.t_patient, NULL, 400, "invalid_field", "from");
  g_autofree char *toolong = g_strdup_printf ("%s?from=2031-01-01T00:00:00Z&to=2031-02-15T00:00:00Z", base);
  expect_error ("GET", toolong, w.t_patient, NULL, 400, "invalid_field", "31 days");
  g_autofree char *reversed = g_strdup_printf ("%s?from=2031-01-02T00:00:00Z&to=2031-01-01T00:00:00Z", base);
  expect_error ("GET", reversed, w.t_patient, NULL, 400, "invalid_field", "before");
  expect_error ("GET", "/api/v1/doctors/00000000-0000-4000-8000-000000000000/slots", w.t_patient, NULL, 404,
                "not_found", NULL);
  /* the past has no free slots */
  g_autoptr (JsonNode) past = NULL;
  g_autofree char *pastq = g_strdup_printf ("%s?from=2020-01-06T00:00:00Z&to=2020-01-10T00:00:00Z", base);
  g_assert_cmpuint (api ("GET", pastq, w.t_patient, NULL, &past), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (past), "slots")),
                    ==, 0);
}

static void
test_book (void)
{
  case_begin ();
  g_autofree char *mon9 = local_time ("Europe/Berlin", 0, "09:00");
  g_autofree char *link = NULL;
  g_autoptr (JsonNode) reply = NULL;
  g_autofree char *body = book_body (w.doctor, w.patient, mon9);
  g_assert_cmpuint (api ("POST", "/api/v1/consults", w.t_scheduler, body, &reply), ==, 201);
  JsonObject *root = json_node_get_object (reply);
  JsonObject *c = tv_test_http_object (reply, "consult");
  const char *id = tv_test_json_str (c, "id");
  g_assert_true (g_uuid_string_is_valid (id));
  g_assert_cmpstr (tv_test_json_str (c, "status"), ==, "scheduled");
  g_assert_cmpstr (tv_test_json_str (c, "doctor_id"), ==, w.doctor);
  g_assert_cmpstr (tv_test_json_str (c, "patient_id"), ==, w.patient);
  g_assert_cmpstr (tv_test_json_str (c, "patient"), ==, "Pat Synthetic");
  g_assert_cmpstr (tv_test_json_str (c, "booked_by"), ==, w.scheduler);
  gint64 s = 0, e = 0, want = 0;
  g_assert_true (tv_schedule_parse_rfc3339 (tv_test_json_str (c, "scheduled_start"), "s", &s, NULL));
  g_assert_true (tv_schedule_parse_rfc3339 (tv_test_json_str (c, "scheduled_end"), "e", &e, NULL));
  g_assert_true (tv_schedule_parse_rfc3339 (mon9, "m", &want, NULL));
  g_assert_cmpint (s, ==, want);
  g_assert_cmpint (e - s, ==, 15 * 60 * G_USEC_PER_SEC);
  /* the join links carry working tokens: the patient's, and the doctor's for the scheduler */
  const char *plink = tv_test_json_str (root, "join_link");
  const char *dlink = tv_test_json_str (root, "doctor_join_link");
  g_assert_true (g_str_has_prefix (plink, "https://"));
  g_assert_nonnull (strstr (plink, "/join#token="));
  int code = -1;
  g_assert_cmpint (token_role (link_token (plink), id, &code), ==, TV_SIG_ROLE_PATIENT);
  g_assert_cmpint (token_role (link_token (dlink), id, &code), ==, TV_SIG_ROLE_DOCTOR);

  /* a patient books for themself (no patient_id): no doctor link for them */
  g_autofree char *mon10 = local_time ("Europe/Berlin", 0, "10:00");
  g_autofree char *own = book_body (w.doctor, NULL, mon10);
  g_autoptr (JsonNode) r2 = NULL;
  g_assert_cmpuint (api ("POST", "/api/v1/consults", w.t_patient2, own, &r2), ==, 201);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (r2, "consult"), "patient_id"), ==, w.patient2);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (r2, "consult"), "booked_by"), ==, w.patient2);
  g_assert_nonnull (tv_test_json_str (json_node_get_object (r2), "join_link"));
  g_assert_false (json_object_has_member (json_node_get_object (r2), "doctor_join_link"));
}

static void
test_book_refusals (void)
{
  case_begin ();
  g_autofree char *tue9 = local_time ("Europe/Berlin", 1, "09:00");
  g_autofree char *id = book_ok (w.t_scheduler, w.doctor, w.patient, tue9, NULL);
  const char *P = "/api/v1/consults";
  gint64 before = tv_test_store_int (w.dir, "SELECT count(*) FROM consults");

  g_autofree char *taken = book_body (w.doctor, w.patient2, tue9);
  expect_error ("POST", P, w.t_scheduler, taken, 409, "slot_taken", "already booked");
  /* the same instant written in UTC is the same slot */
  gint64 us = 0;
  g_assert_true (tv_schedule_parse_rfc3339 (tue9, "t", &us, NULL));
  g_autofree char *tue9z = tv_schedule_format_rfc3339 (us, NULL);
  g_autofree char *taken_z = book_body (w.doctor, w.patient2, tue9z);
  expect_error ("POST", P, w.t_scheduler, taken_z, 409, "slot_taken", NULL);
  /* the patient already has a consult then (with another doctor): overlapping */
  g_autofree char *busy = book_body (w.doctor3, w.patient, tue9);
  expect_error ("POST", P, w.t_scheduler, busy, 409, "conflict", "overlapping");

  g_autofree char *tue0907 = local_time ("Europe/Berlin", 1, "09:07");
  g_autofree char *tue13 = local_time ("Europe/Berlin", 1, "13:00");
  g_autofree char *sun9 = local_time ("Europe/Berlin", -1, "09:00");
  g_autofree char *tue10 = local_time ("Europe/Berlin", 1, "10:00");
  struct { char *body; guint status; const char *code; const char *needle; } bad[] = {
    { book_body (w.doctor, w.patient2, tue0907), 400, "invalid_field", "slot boundary" },
    { book_body (w.doctor, w.patient2, tue13), 400, "invalid_field", "outside" },
    { book_body (w.doctor, w.patient2, sun9), 400, "invalid_field", "outside" },
    { book_body (w.doctor, w.patient2, "2020-01-06T09:00:00+01:00"), 400, "invalid_field", "past" },
    { book_body (w.doctor, w.patient2, "2031-02-30T09:00:00+01:00"), 400, "invalid_field", "start" },
    { book_body (w.doctor, w.patient2, "2031-01-06T09:00:00"), 400, "invalid_field", "offset" },
    { book_body (w.doctor, w.patient2, "next tuesday"), 400, "invalid_field", "start" },
    { book_body ("00000000-0000-4000-8000-000000000000", w.patient2, tue9), 400, "invalid_field", "no doctor" },
    { book_body (w.patient, w.patient2, tue9), 400, "invalid_field", "no doctor" },
    { book_body ("dr-who", w.patient2, tue9), 400, "invalid_field", "doctor_id" },
    { book_body (w.doctor, "00000000-0000-4000-8000-000000000000", tue9), 400, "invalid_field", "no patient" },
    { book_body (w.doctor, w.scheduler, tue9), 400, "invalid_field", "no patient" },
    { g_strdup_printf ("{\"patient_id\":\"%s\",\"start\":\"%s\"}", w.patient2, tue9), 400, "missing_field",
      "doctor_id" },
    { g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\"}", w.doctor, w.patient2), 400,
      "missing_field", "start" },
    { g_strdup_printf ("{\"doctor_id\":\"%s\",\"start\":\"%s\"}", w.doctor, tue9), 400, "missing_field",
      "patient_id" },
    { g_strdup_printf ("{\"doctor_id\":7,\"patient_id\":\"%s\",\"start\":\"%s\"}", w.patient2, tue9), 400,
      "invalid_field", "doctor_id" },
    { g_strdup ("{\"doctor_id\":"), 400, "invalid_json", NULL },
    /* json-glib 1.6 would keep the last "start" (a free slot) and book it */
    { g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\",\"start\":\"%s\"}", w.doctor,
                       w.patient2, sun9, tue10), 400, "invalid_json", "duplicate member \\\"start\\\"" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    expect_error ("POST", P, w.t_scheduler, bad[i].body, bad[i].status, bad[i].code, bad[i].needle);
    g_free (bad[i].body);
  }
  /* who may book: a patient only for themself; doctors and billing not at all */
  g_autofree char *for_other = book_body (w.doctor, w.patient, tue10);
  expect_error ("POST", P, w.t_patient2, for_other, 403, "forbidden", "themselves");
  expect_error ("POST", P, w.t_doctor, for_other, 403, "forbidden", NULL);
  expect_error ("POST", P, w.t_billing, for_other, 403, "forbidden", NULL);
  expect_error ("POST", P, NULL, for_other, 401, "unauthenticated", NULL);
  /* nothing was written by any refusal */
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM consults"), ==, before);
}

static void
test_list_get (void)
{
  case_begin ();
  g_autofree char *wed9 = local_time ("Europe/Berlin", 2, "09:00");
  g_autofree char *wed10 = local_time ("Europe/Berlin", 2, "10:00");
  g_autofree char *a = book_ok (w.t_scheduler, w.doctor, w.patient, wed9, NULL);
  g_autofree char *b = book_ok (w.t_scheduler, w.doctor3, w.patient2, wed10, NULL);
  g_autofree char *from = local_time ("Europe/Berlin", 2, "00:00");
  g_autofree char *to = local_time ("Europe/Berlin", 3, "00:00");
  g_autofree char *ef = g_uri_escape_string (from, NULL, TRUE);
  g_autofree char *et = g_uri_escape_string (to, NULL, TRUE);
  g_autofree char *q = g_strdup_printf ("/api/v1/consults?from=%s&to=%s", ef, et);
  struct { const char *token; guint n; const char *only; } views[] = {
    { w.t_scheduler, 2, NULL }, { w.t_patient, 1, a }, { w.t_patient2, 1, b }, { w.t_doctor, 1, a },
    { w.t_doctor2, 0, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (views); i++) {
    g_autoptr (JsonNode) reply = NULL;
    g_assert_cmpuint (api ("GET", q, views[i].token, NULL, &reply), ==, 200);
    JsonArray *list = json_object_get_array_member (json_node_get_object (reply), "consults");
    g_assert_cmpuint (json_array_get_length (list), ==, views[i].n);
    if (views[i].only != NULL)
      g_assert_cmpstr (tv_test_json_str (json_array_get_object_element (list, 0), "id"), ==, views[i].only);
  }
  g_autofree char *q_doc = g_strdup_printf ("%s&doctor_id=%s&status=scheduled", q, w.doctor3);
  g_autoptr (JsonNode) by_doc = NULL;
  g_assert_cmpuint (api ("GET", q_doc, w.t_scheduler, NULL, &by_doc), ==, 200);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (json_node_get_object (by_doc),
                                                                          "consults")), ==, 1);
  expect_error ("GET", "/api/v1/consults?status=lost", w.t_scheduler, NULL, 400, "invalid_field", "status");
  expect_error ("GET", "/api/v1/consults?from=monday", w.t_scheduler, NULL, 400, "invalid_field", "from");
  expect_error ("GET", "/api/v1/consults", w.t_billing, NULL, 403, "forbidden", NULL);

  g_autofree char *pa = g_strdup_printf ("/api/v1/consults/%s", a);
  g_assert_cmpuint (api ("GET", pa, w.t_patient, NULL, NULL), ==, 200);
  g_assert_cmpuint (api ("GET", pa, w.t_doctor, NULL, NULL), ==, 200);
  expect_error ("GET", pa, w.t_patient2, NULL, 403, "forbidden", NULL);
  expect_error ("GET", pa, w.t_doctor2, NULL, 403, "forbidden", NULL);
  expect_error ("GET", "/api/v1/consults/00000000-0000-4000-8000-000000000000", w.t_scheduler, NULL, 404,
                "not_found", NULL);
}

static void
test_cancel_reschedule (void)
{
  case_begin ();
  g_autofree char *thu9 = local_time ("Europe/Berlin", 3, "09:00");
  g_autofree char *thu11 = local_time ("Europe/Berlin", 3, "11:00");
  g_autofree char *link = NULL;
  g_autofree char *id = book_ok (w.t_patient, w.doctor, NULL, thu9, &link);
  g_autofree char *other = book_ok (w.t_scheduler, w.doctor, w.patient2, thu11, NULL);
  g_autofree char *pr = g_strdup_printf ("/api/v1/consults/%s/reschedule", id);
  g_autofree char *pc = g_strdup_printf ("/api/v1/consults/%s/cancel", id);

  g_autofree char *to_taken = g_strdup_printf ("{\"start\":\"%s\"}", thu11);
  expect_error ("POST", pr, w.t_patient, to_taken, 409, "slot_taken", NULL);
  expect_error ("POST", pr, w.t_patient, "{\"start\":\"2020-01-06T09:00:00Z\"}", 400, "invalid_field", "past");
  expect_error ("POST", pr, w.t_patient, "{}", 400, "missing_field", "start");
  expect_error ("POST", pr, w.t_patient2, to_taken, 403, "forbidden", NULL);
  expect_error ("POST", pr, w.t_doctor, to_taken, 403, "forbidden", NULL);
  int code = -1;
  g_assert_cmpint (token_role (link_token (link), id, &code), ==, TV_SIG_ROLE_PATIENT);   /* unchanged */

  g_autofree char *thu1030 = local_time ("Europe/Berlin", 3, "10:30");
  g_autofree char *move = g_strdup_printf ("{\"start\":\"%s\"}", thu1030);
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (api ("POST", pr, w.t_patient, move, &reply), ==, 200);
  JsonObject *c = tv_test_http_object (reply, "consult");
  g_assert_cmpstr (tv_test_json_str (c, "id"), ==, id);
  const char *new_link = tv_test_json_str (json_node_get_object (reply), "join_link");
  g_assert_nonnull (new_link);
  g_assert_cmpstr (new_link, !=, link);
  g_assert_cmpint (token_role (link_token (link), id, &code), ==, TV_SIG_ROLE_NONE);
  g_assert_cmpint (code, ==, TV_STORE_ERR_TOKEN_UNKNOWN);   /* the old link is dead */
  g_assert_cmpint (token_role (link_token (new_link), id, &code), ==, TV_SIG_ROLE_PATIENT);

  /* cancel: not by strangers; by the patient; not twice; the slot is free again */
  expect_error ("POST", pc, w.t_patient2, NULL, 403, "forbidden", NULL);
  expect_error ("POST", pc, w.t_doctor2, NULL, 403, "forbidden", NULL);
  g_autoptr (JsonNode) cancelled = NULL;
  g_assert_cmpuint (api ("POST", pc, w.t_patient, NULL, &cancelled), ==, 200);
  JsonObject *cc = tv_test_http_object (cancelled, "consult");
  g_assert_cmpstr (tv_test_json_str (cc, "status"), ==, "cancelled");
  g_assert_cmpstr (tv_test_json_str (cc, "end_reason"), ==, "cancelled-by-patient");
  g_assert_nonnull (tv_test_json_str (cc, "cancelled_at"));
  expect_error ("POST", pc, w.t_patient, NULL, 409, "wrong_state", NULL);
  expect_error ("POST", pr, w.t_patient, move, 409, "wrong_state", NULL);
  g_autofree char *again = book_ok (w.t_patient2, w.doctor, NULL, thu1030, NULL);
  /* the doctor may cancel their own consult */
  g_autofree char *po = g_strdup_printf ("/api/v1/consults/%s/cancel", other);
  g_autoptr (JsonNode) by_doc = NULL;
  g_assert_cmpuint (api ("POST", po, w.t_doctor, NULL, &by_doc), ==, 200);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (by_doc, "consult"), "end_reason"), ==,
                   "cancelled-by-doctor");
}

static void
test_no_show (void)
{
  case_begin ();
  g_autofree char *fri9 = local_time ("Europe/Berlin", 4, "09:00");
  g_autofree char *id = book_ok (w.t_scheduler, w.doctor, w.patient, fri9, NULL);
  g_autofree char *pn = g_strdup_printf ("/api/v1/consults/%s/no-show", id);
  expect_error ("POST", pn, w.t_doctor, NULL, 409, "wrong_state", "not started");
  expect_error ("POST", pn, w.t_patient, NULL, 403, "forbidden", NULL);
  expect_error ("POST", pn, w.t_doctor2, NULL, 403, "forbidden", NULL);
  /* move it into the past (no sleeping: the clock is the server's) */
  gint64 now = g_get_real_time ();
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET scheduled_start = %" G_GINT64_FORMAT
                                          ", scheduled_end = %" G_GINT64_FORMAT " WHERE id = '%s'",
                                          now - 20 * 60 * G_USEC_PER_SEC, now - 5 * 60 * G_USEC_PER_SEC, id);
  tv_test_store_exec (w.dir, sql);
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (api ("POST", pn, w.t_doctor, NULL, &reply), ==, 200);
  JsonObject *c = tv_test_http_object (reply, "consult");
  g_assert_cmpstr (tv_test_json_str (c, "status"), ==, "no-show");
  g_assert_nonnull (tv_test_json_str (c, "no_show_at"));
  expect_error ("POST", pn, w.t_scheduler, NULL, 409, "wrong_state", NULL);
}

/* ---- the clinic's notice for patients (patient-cancel-notice, default 24h) --- */

/* Moves consult @id (same length) to start @hours from now, in the store. */
static void
move_to_hours_from_now (const char *id, gint64 hours)
{
  gint64 start = g_get_real_time () + hours * 3600 * G_USEC_PER_SEC;
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET scheduled_end = %" G_GINT64_FORMAT
                                          " + (scheduled_end - scheduled_start), scheduled_start = %" G_GINT64_FORMAT
                                          " WHERE id = '%s'", start, start, id);
  tv_test_store_exec (w.dir, sql);
}

static gint64
store_int (const char *format, const char *id)
{
  g_autofree char *sql = g_strdup_printf (format, id);
  return tv_test_store_int (w.dir, sql);
}

/* The upcoming visit @id in the patient's GET /me/visits (kept alive by *@keep). */
static JsonObject *
my_visit (const char *id, JsonNode **keep)
{
  g_assert_cmpuint (api ("GET", "/api/v1/me/visits", w.t_patient, NULL, keep), ==, 200);
  JsonObject *root = json_node_get_object (*keep);
  g_assert_cmpint (tv_test_json_int (root, "cancel_notice_seconds", -1), ==, 24 * 3600);
  g_assert_cmpstr (tv_test_json_str (root, "cancel_notice"), ==, "24 hours");
  JsonArray *up = json_object_get_array_member (root, "upcoming");
  for (guint i = 0; i < json_array_get_length (up); i++) {
    JsonObject *v = json_array_get_object_element (up, i);
    if (g_strcmp0 (tv_test_json_str (v, "id"), id) == 0)
      return v;
  }
  g_error ("visit %s not among the upcoming", id);
}

/* cancel_deadline is the start minus the notice (24 hours), to the second. */
static void
assert_deadline (JsonObject *v)
{
  gint64 start = 0, deadline = 0;
  g_assert_true (tv_schedule_parse_rfc3339 (tv_test_json_str (v, "scheduled_start"), "start", &start, NULL));
  g_assert_true (tv_schedule_parse_rfc3339 (tv_test_json_str (v, "cancel_deadline"), "deadline", &deadline, NULL));
  g_assert_cmpint (start - deadline, ==, (gint64) 24 * 3600 * G_USEC_PER_SEC);
}

static void
test_patient_inside_notice (void)
{
  case_begin ();
  g_autofree char *mon9 = local_time ("Europe/Berlin", 7, "09:00");
  g_autofree char *id = book_ok (w.t_patient, w.doctor, NULL, mon9, NULL);
  move_to_hours_from_now (id, 20);   /* inside the default 24 hours */
  const char *reminders_sql = "SELECT count(*) * 1000000 + coalesce(sum(status = 'pending'), 0) * 1000"
                              " + coalesce(max(updated_at) % 1000, 0) FROM reminders WHERE consult_id = '%s'";
  gint64 reminders_before = store_int (reminders_sql, id);
  g_assert_cmpint (store_int ("SELECT count(*) FROM reminders WHERE consult_id = '%s'", id), >, 0);
  gint64 start_before = store_int ("SELECT scheduled_start FROM consults WHERE id = '%s'", id);

  g_autoptr (JsonNode) keep = NULL;
  JsonObject *v = my_visit (id, &keep);
  g_assert_cmpint (tv_test_json_bool (v, "can_cancel"), ==, FALSE);
  assert_deadline (v);

  g_autofree char *pc = g_strdup_printf ("/api/v1/consults/%s/cancel", id);
  g_autofree char *pr = g_strdup_printf ("/api/v1/consults/%s/reschedule", id);
  g_autofree char *tue9 = local_time ("Europe/Berlin", 8, "09:00");
  g_autofree char *move = g_strdup_printf ("{\"start\":\"%s\"}", tue9);
  expect_error ("POST", pc, w.t_patient, NULL, 409, "cancel_too_late",
                "This clinic asks for 24 hours' notice to cancel a visit online; please call the clinic.");
  expect_error ("POST", pr, w.t_patient, move, 409, "cancel_too_late", "notice to change a visit online");

  /* Nothing changed: still scheduled at its time, reminders as they were. */
  g_autoptr (JsonNode) got = NULL;
  g_autofree char *pg = g_strdup_printf ("/api/v1/consults/%s", id);
  g_assert_cmpuint (api ("GET", pg, w.t_patient, NULL, &got), ==, 200);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (got, "consult"), "status"), ==, "scheduled");
  g_assert_cmpint (store_int ("SELECT scheduled_start FROM consults WHERE id = '%s'", id), ==, start_before);
  g_assert_cmpint (store_int (reminders_sql, id), ==, reminders_before);
  /* Audited: one 4xx row each, for the patient, about the consult. */
  g_autofree char *audit = g_strdup_printf ("SELECT count(*) FROM audit WHERE resource_id = '%s' AND user_id = '%s'"
                                            " AND patient_id = '%s' AND outcome = '4xx' AND action = ", id, w.patient,
                                            w.patient);
  g_autofree char *a_cancel = g_strconcat (audit, "'POST /api/v1/consults/{id}/cancel'", NULL);
  g_autofree char *a_move = g_strconcat (audit, "'POST /api/v1/consults/{id}/reschedule'", NULL);
  g_assert_cmpint (tv_test_store_int (w.dir, a_cancel), ==, 1);
  g_assert_cmpint (tv_test_store_int (w.dir, a_move), ==, 1);

  /* The front desk is not bound: it moves the visit, then cancels it. */
  g_autoptr (JsonNode) moved = NULL;
  g_assert_cmpuint (api ("POST", pr, w.t_scheduler, move, &moved), ==, 200);
  move_to_hours_from_now (id, 2);
  g_autoptr (JsonNode) cancelled = NULL;
  g_assert_cmpuint (api ("POST", pc, w.t_scheduler, NULL, &cancelled), ==, 200);
  JsonObject *c = tv_test_http_object (cancelled, "consult");
  g_assert_cmpstr (tv_test_json_str (c, "status"), ==, "cancelled");
  g_assert_cmpstr (tv_test_json_str (c, "end_reason"), ==, "cancelled-by-scheduler");
}

static void
test_patient_outside_notice (void)
{
  case_begin ();
  g_autofree char *mon10 = local_time ("Europe/Berlin", 7, "10:00");
  g_autofree char *id = book_ok (w.t_patient, w.doctor, NULL, mon10, NULL);
  g_autoptr (JsonNode) keep = NULL;
  JsonObject *v = my_visit (id, &keep);
  g_assert_cmpint (tv_test_json_bool (v, "can_cancel"), ==, TRUE);
  assert_deadline (v);
  g_autofree char *pc = g_strdup_printf ("/api/v1/consults/%s/cancel", id);
  g_autoptr (JsonNode) cancelled = NULL;
  g_assert_cmpuint (api ("POST", pc, w.t_patient, NULL, &cancelled), ==, 200);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (cancelled, "consult"), "end_reason"), ==,
                   "cancelled-by-patient");
}

static void
test_doctor_inside_notice (void)
{
  case_begin ();
  g_autofree char *mon11 = local_time ("Europe/Berlin", 7, "11:00");
  g_autofree char *id = book_ok (w.t_scheduler, w.doctor, w.patient, mon11, NULL);
  move_to_hours_from_now (id, 1);
  g_autoptr (JsonNode) keep = NULL;
  g_assert_cmpint (tv_test_json_bool (my_visit (id, &keep), "can_cancel"), ==, FALSE);
  g_autofree char *pc = g_strdup_printf ("/api/v1/consults/%s/cancel", id);
  g_autoptr (JsonNode) cancelled = NULL;
  g_assert_cmpuint (api ("POST", pc, w.t_doctor, NULL, &cancelled), ==, 200);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (cancelled, "consult"), "end_reason"), ==,
                   "cancelled-by-doctor");
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  w.dir = tv_test_tmpdir ();
  w.doctor = tv_test_create_user (w.dir, "dr.berlin", "Dr. Test Berlin", TV_ROLE_DOCTOR, "Europe/Berlin", NULL);
  w.doctor2 = tv_test_create_user (w.dir, "dr.newyork", "Dr. Test New York", TV_ROLE_DOCTOR, "America/New_York",
                                   NULL);
  w.doctor3 = tv_test_create_user (w.dir, "dr.third", "Dr. Test Third", TV_ROLE_DOCTOR, "Europe/Berlin", NULL);
  w.patient = tv_test_create_user (w.dir, "pat.synthetic", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.patient2 = tv_test_create_user (w.dir, "sam.synthetic", "Sam Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.scheduler = tv_test_create_user (w.dir, "front.desk", "Front Desk", TV_ROLE_SCHEDULER, NULL, NULL);
  g_autofree char *billing = tv_test_create_user (w.dir, "billing", "Billing Office", TV_ROLE_BILLING, NULL, NULL);
  w.server = tv_test_server_start (w.dir, NULL);
  w.t_doctor = tv_test_login (w.server, "dr.berlin", NULL);
  w.t_doctor2 = tv_test_login (w.server, "dr.newyork", NULL);
  w.t_patient = tv_test_login (w.server, "pat.synthetic", NULL);
  w.t_patient2 = tv_test_login (w.server, "sam.synthetic", NULL);
  w.t_scheduler = tv_test_login (w.server, "front.desk", NULL);
  w.t_billing = tv_test_login (w.server, "billing", NULL);
  const char *week = "[{\"weekday\":1,\"start\":\"09:00\",\"end\":\"12:00\"},"
                     "{\"weekday\":2,\"start\":\"09:00\",\"end\":\"12:00\"},"
                     "{\"weekday\":3,\"start\":\"09:00\",\"end\":\"12:00\"},"
                     "{\"weekday\":4,\"start\":\"09:00\",\"end\":\"12:00\"},"
                     "{\"weekday\":5,\"start\":\"09:00\",\"end\":\"12:00\"}]";
  put_hours (w.t_scheduler, w.doctor, week);
  put_hours (w.t_scheduler, w.doctor3, week);

  g_test_add_func ("/api-schedule/doctors", test_doctors);
  g_test_add_func ("/api-schedule/availability", test_availability);
  g_test_add_func ("/api-schedule/exceptions-and-slots", test_exceptions_and_slots);
  g_test_add_func ("/api-schedule/book", test_book);
  g_test_add_func ("/api-schedule/book-refusals", test_book_refusals);
  g_test_add_func ("/api-schedule/list-get", test_list_get);
  g_test_add_func ("/api-schedule/cancel-reschedule", test_cancel_reschedule);
  g_test_add_func ("/api-schedule/no-show", test_no_show);
  g_test_add_func ("/api-schedule/cancel-notice/patient-inside", test_patient_inside_notice);
  g_test_add_func ("/api-schedule/cancel-notice/patient-outside", test_patient_outside_notice);
  g_test_add_func ("/api-schedule/cancel-notice/doctor-inside", test_doctor_inside_notice);
  int rc = g_test_run ();
  tv_test_server_free (w.server);
  return rc;
}
