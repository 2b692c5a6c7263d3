/* tv-api-fhir.c — the HL7 FHIR R4 read API under /fhir/ (issue 4).
 *
 * Why: a clinic's EHR reads our patients, doctors, schedules, slots,
 * appointments and encounters as FHIR R4 (application/fhir+json). This file
 * is the route table, the authorization and the search parameters; the
 * resources are built by tv-fhir-*.c, errors are OperationOutcomes (the
 * router makes them for every error under /fhir/).
 *
 * Who sees what (routes are open to admins, doctors and patients only):
 *   admin   everything;
 *   doctor  Practitioner/Schedule/Slot of everyone; the patients they have a
 *           consult with (any status), and those patients' appointments and
 *           encounters; their own consults;
 *   patient themselves and their own consults; Practitioner/Schedule/Slot.
 * Anything else: 403 forbidden; unknown ids: 404 not-found. Every request is
 * audited by the router; handlers name the action ("fhir read Patient",
 * "fhir search Appointment", "fhir export Patient/$everything") and the
 * patient concerned when there is one; a search that returns several
 * patients' data adds one row per patient disclosed.
 *
 * GET /fhir/metadata (no login) is the CapabilityStatement listing all this.
 * Search parameters (anything else: 400 naming the parameter):
 *   Patient      name
 *   Practitioner name
 *   Schedule     actor (Practitioner/ID)
 *   Slot         schedule (required), start (date prefixes; default the next
 *                7 days, at most 31 days), status (free|busy)
 *   Appointment  patient, practitioner, date (the scheduled start), status
 *   Encounter    patient, practitioner, date (the scheduled start), status
 *   all          _count (1..1000), _format (json only)
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api-fhir"

#include "server/tv-api.h"
#include "server/tv-fhir.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-schedule.h"

#include <stdarg.h>
#include <string.h>

#define FHIR_ROLES (TV_ROLE_ADMIN | TV_ROLE_DOCTOR | TV_ROLE_PATIENT)
#define SLOT_DEFAULT_DAYS 7
#define SLOT_MAX_DAYS 31
#define DAY_US ((gint64) 24 * 3600 * G_USEC_PER_SEC)

/* Search parameters per resource type (also listed in /fhir/metadata). */
static const char *const PATIENT_PARAMS[] = { "name", NULL };
static const char *const PRACTITIONER_PARAMS[] = { "name", NULL };
static const char *const SCHEDULE_PARAMS[] = { "actor", NULL };
static const char *const SLOT_PARAMS[] = { "schedule", "start", "status", NULL };
static const char *const CONSULT_PARAMS[] = { "patient", "practitioner", "date", "status", NULL };

static TvStore *
store_of (TvHttpRequest *req)
{
  return tv_http_request_store (req);
}

/* ---- base URL, self links ------------------------------------------------------ */

char *
tv_fhir_origin (TvHttpRequest *req, TvServer *server)
{
  const char *host = tv_http_request_host (req);
  gboolean plain = host != NULL && *host != '\0' && strlen (host) <= 255;
  for (const char *p = host; plain && *p != '\0'; p++)
    plain = g_ascii_isalnum (*p) || strchr (".-:[]", *p) != NULL;
  if (plain)
    return g_strdup_printf ("https://%s", host);
  const TvServerConfig *cfg = tv_http_request_config (req);
  const char *name = cfg != NULL && cfg->hostname != NULL ? cfg->hostname : "localhost";
  return g_strdup_printf ("https://%s:%u", name, server != NULL ? tv_server_get_port (server) : 8443);
}

/* Returns: (transfer full) "https://HOST[:PORT]/fhir". */
static char *
base_url (TvHttpRequest *req, gpointer user_data)
{
  g_autofree char *origin = tv_fhir_origin (req, user_data);
  return g_strdup_printf ("%s/fhir", origin);
}

/* Returns: (transfer full) the request's URL (path and query, re-encoded) on @base. */
static char *
self_url (TvHttpRequest *req, const char *base, const char *const *names)
{
  GString *s = g_string_new (base);
  g_string_append (s, tv_http_request_path (req) + strlen ("/fhir"));
  gboolean first = TRUE;
  for (guint i = 0; names != NULL && names[i] != NULL; i++) {
    g_autoptr (GPtrArray) values = tv_http_request_query_all (req, names[i]);
    for (guint j = 0; j < values->len; j++) {
      g_string_append_c (s, first ? '?' : '&');
      first = FALSE;
      g_string_append (s, names[i]);
      g_string_append_c (s, '=');
      g_string_append_uri_escaped (s, g_ptr_array_index (values, j), NULL, FALSE);
    }
  }
  return g_string_free (s, FALSE);
}

static void
reply_resource (TvHttpRequest *req, JsonNode *resource)
{
  tv_http_reply_json (req, 200, resource);
}

static void
reply_bad_param (TvHttpRequest *req, const char *param, const char *format, ...) G_GNUC_PRINTF (3, 4);

/* 400 with an OperationOutcome whose expression names @param. */
static void
reply_bad_param (TvHttpRequest *req, const char *param, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *detail = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_autofree char *message = g_strdup_printf ("search parameter %s: %s", param, detail);
  tv_http_reply_json (req, 400, tv_fhir_outcome_new (400, "invalid_parameter", message, param));
}

/* Checks every query parameter against @allowed (plus _count and _format) and
 * reads _count into *@count (default and maximum TV_STORE_CONSULT_LIST_MAX).
 * Returns: FALSE after replying 400 naming the first unknown or bad one. */
static gboolean
check_params (TvHttpRequest *req, const char *const *allowed, guint *count)
{
  g_autoptr (GPtrArray) names = tv_http_request_query_names (req);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index (names, i);
    if (strcmp (name, "_count") != 0 && strcmp (name, "_format") != 0
        && (allowed == NULL || !g_strv_contains (allowed, name))) {
      reply_bad_param (req, name, "not supported on this resource");
      return FALSE;
    }
  }
  const char *format = tv_http_request_query (req, "_format");
  if (format != NULL && strcmp (format, "json") != 0 && strcmp (format, TV_FHIR_CONTENT_TYPE) != 0
      && strcmp (format, "application/json") != 0) {
    reply_bad_param (req, "_format", "only json is served");
    return FALSE;
  }
  *count = TV_STORE_CONSULT_LIST_MAX;
  const char *c = tv_http_request_query (req, "_count");
  if (c != NULL) {
    guint64 n = 0;
    if (!g_ascii_string_to_unsigned (c, 10, 1, TV_STORE_CONSULT_LIST_MAX, &n, NULL)) {
      reply_bad_param (req, "_count", "must be a whole number from 1 to %d", TV_STORE_CONSULT_LIST_MAX);
      return FALSE;
    }
    *count = (guint) n;
  }
  return TRUE;
}

/* ---- who sees what ------------------------------------------------------------- */

static gboolean
is_admin (TvHttpRequest *req)
{
  return tv_http_request_has_role (req, TV_ROLE_ADMIN);
}

/* Returns: TRUE when the caller may see patient @patient_id's data; FALSE with
 * *@io set when the store failed (then nothing may be shown). */
static gboolean
can_see_patient (TvHttpRequest *req, const char *patient_id, gboolean *io)
{
  const TvUser *me = tv_http_request_user (req);
  *io = FALSE;
  if (patient_id == NULL)
    return is_admin (req);
  if (is_admin (req) || ((me->roles & TV_ROLE_PATIENT) && strcmp (me->id, patient_id) == 0))
    return TRUE;
  if (!(me->roles & TV_ROLE_DOCTOR))
    return FALSE;
  TvConsultFilter f = { .doctor_id = me->id, .patient_id = patient_id, .limit = 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) mine = tv_store_consult_list_filtered (store_of (req), &f, &error);
  if (mine == NULL) {
    g_warning ("fhir: could not check a doctor's patients: %s", error->message);
    *io = TRUE;
    return FALSE;
  }
  return mine->len > 0;
}

static gboolean
can_see_consult (TvHttpRequest *req, const TvConsult *c, gboolean *io)
{
  const TvUser *me = tv_http_request_user (req);
  *io = FALSE;
  if (c->doctor_id != NULL && (me->roles & TV_ROLE_DOCTOR) && strcmp (c->doctor_id, me->id) == 0)
    return TRUE;
  return can_see_patient (req, c->patient_id, io);
}

/* Replies 403 (or 500 when the check itself failed). */
static void
reply_not_yours (TvHttpRequest *req, gboolean io, const char *what)
{
  if (io)
    tv_http_reply_error (req, 500, "internal", "internal error");
  else
    tv_http_reply_error (req, 403, "forbidden", "you may not see this %s", what);
}

/* A search that returned several patients' data: besides the request's own
 * row (written by the router), one audit row per patient disclosed (other
 * than @main_patient, whom that row names), so the trail can be queried by
 * patient. @patients: (element-type utf8) patient ids, repeats allowed. */
static void
audit_disclosed (TvHttpRequest *req, const char *type, GPtrArray *patients, const char *main_patient)
{
  const TvUser *me = tv_http_request_user (req);
  g_autoptr (GHashTable) done = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree char *action = g_strdup_printf ("fhir search %s", type);
  g_autofree char *roles = tv_roles_format (me->roles);
  /* A patient-only caller's own data: the router's row names them already. */
  const char *self = me->roles == TV_ROLE_PATIENT ? me->id : NULL;
  for (guint i = 0; i < patients->len; i++) {
    const char *pid = g_ptr_array_index (patients, i);
    if (pid == NULL || g_strcmp0 (pid, main_patient) == 0 || g_strcmp0 (pid, self) == 0
        || !g_hash_table_add (done, (gpointer) pid))
      continue;
    tv_store_audit_add (store_of (req), me->id, roles, action, type, "", pid, tv_http_request_address (req), "2xx",
                        "disclosed in search results");
  }
}

/* Reads the user {id} of the path holding @role; replies 404 (or 500) otherwise. */
static TvUser *
user_of_path (TvHttpRequest *req, guint role, const char *type)
{
  const char *id = tv_http_request_param (req, "id");
  g_autoptr (GError) error = NULL;
  TvUser *u = NULL;
  if (!tv_store_user_get (store_of (req), id, &u, &error)) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      tv_http_reply_error (req, 404, "not_found", "no %s with that id", type);
    else
      tv_http_reply_store_error (req, error, "fhir user");
    return NULL;
  }
  if (!(u->roles & role)) {
    tv_user_free (u);
    tv_http_reply_error (req, 404, "not_found", "no %s with that id", type);
    return NULL;
  }
  return u;
}

/* ---- Patient --------------------------------------------------------------------- */

/* The patient {id} of the path if the caller may see them; else replied 404 / 403. */
static TvUser *
patient_of_path (TvHttpRequest *req)
{
  g_autoptr (TvUser) u = user_of_path (req, TV_ROLE_PATIENT, "Patient");
  if (u == NULL)
    return NULL;
  gboolean io = FALSE;
  if (!can_see_patient (req, u->id, &io)) {
    reply_not_yours (req, io, "patient");
    return NULL;
  }
  return g_steal_pointer (&u);
}

static void
handle_patient_read (TvHttpRequest *req, gpointer user_data)
{
  const char *id = tv_http_request_param (req, "id");
  tv_http_request_audit (req, "fhir read Patient", NULL, id);
  g_autoptr (TvUser) u = patient_of_path (req);
  if (u == NULL)
    return;
  reply_resource (req, tv_fhir_patient_new (u));
}

static void
handle_patient_everything (TvHttpRequest *req, gpointer user_data)
{
  const char *id = tv_http_request_param (req, "id");
  tv_http_request_audit (req, "fhir export Patient/$everything", NULL, id);
  guint count = 0;
  if (!check_params (req, NULL, &count))
    return;
  g_autoptr (TvUser) u = patient_of_path (req);
  if (u == NULL)
    return;
  g_autofree char *base = base_url (req, user_data);
  g_autofree char *self = self_url (req, base, NULL);
  g_autoptr (GError) error = NULL;
  JsonNode *bundle = tv_fhir_everything (store_of (req), u, base, self, tv_http_request_now (req), &error);
  if (bundle == NULL) {
    tv_http_reply_store_error (req, error, "fhir everything");
    return;
  }
  reply_resource (req, bundle);
}

/* Replies a searchset of @users as @type resources. */
static void
reply_users (TvHttpRequest *req, gpointer user_data, GPtrArray *users, guint count,
             JsonNode *(*build) (const TvUser *), const char *const *params)
{
  g_autofree char *base = base_url (req, user_data);
  g_autofree char *self = self_url (req, base, params);
  TvFhirBundle *bundle = tv_fhir_bundle_new (base, self, tv_http_request_now (req));
  for (guint i = 0; i < users->len && i < count; i++)
    tv_fhir_bundle_add (bundle, build (g_ptr_array_index (users, i)), "match");
  reply_resource (req, tv_fhir_bundle_finish (bundle));
}

static void
handle_patient_search (TvHttpRequest *req, gpointer user_data)
{
  const char *const *params = PATIENT_PARAMS;
  const TvUser *me = tv_http_request_user (req);
  tv_http_request_audit (req, "fhir search Patient", NULL, NULL);
  guint count = 0;
  if (!check_params (req, params, &count))
    return;
  const char *name = tv_http_request_query (req, "name");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) users = NULL;
  if (is_admin (req)) {
    users = tv_store_user_list (store_of (req), TV_ROLE_PATIENT, name, &error);
  } else {
    if (me->roles & TV_ROLE_DOCTOR)
      users = tv_store_user_list_patients_of (store_of (req), me->id, name, &error);
    else
      users = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_user_free);
    /* A patient finds themselves (also a doctor who is a patient too). */
    if (users != NULL && (me->roles & TV_ROLE_PATIENT)) {
      gboolean listed = FALSE;
      for (guint i = 0; i < users->len && !listed; i++)
        listed = strcmp (((TvUser *) g_ptr_array_index (users, i))->id, me->id) == 0;
      g_autoptr (TvUser) self = NULL;
      if (!listed && tv_store_user_get (store_of (req), me->id, &self, &error)) {
        g_autofree char *folded = name ? g_utf8_casefold (name, -1) : NULL;
        g_autofree char *dn = g_utf8_casefold (self->display_name, -1);
        g_autofree char *un = g_utf8_casefold (self->username, -1);
        if (folded == NULL || strstr (dn, folded) != NULL || strstr (un, folded) != NULL)
          g_ptr_array_add (users, g_steal_pointer (&self));
      } else if (!listed) {
        g_clear_pointer (&users, g_ptr_array_unref);
      }
    }
  }
  if (users == NULL) {
    tv_http_reply_store_error (req, error, "fhir patient search");
    return;
  }
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  for (guint i = 0; i < users->len && i < count; i++)
    g_ptr_array_add (ids, ((TvUser *) g_ptr_array_index (users, i))->id);
  audit_disclosed (req, "Patient", ids, NULL);
  reply_users (req, user_data, users, count, tv_fhir_patient_new, params);
}

/* ---- Practitioner, Schedule ------------------------------------------------------ */

/* Practitioner and Schedule reads: a doctor by user id. */
static void
read_doctor (TvHttpRequest *req, const char *type, JsonNode *(*build) (const TvUser *))
{
  g_autofree char *action = g_strdup_printf ("fhir read %s", type);
  tv_http_request_audit (req, action, NULL, NULL);
  g_autoptr (TvUser) u = user_of_path (req, TV_ROLE_DOCTOR, type);
  if (u != NULL)
    reply_resource (req, build (u));
}

static void
handle_practitioner_read (TvHttpRequest *req, gpointer user_data)
{
  read_doctor (req, "Practitioner", tv_fhir_practitioner_new);
}

static void
handle_schedule_read (TvHttpRequest *req, gpointer user_data)
{
  read_doctor (req, "Schedule", tv_fhir_schedule_new);
}

/* Practitioner and Schedule searches: every doctor (optionally one, or by name). */
static void
search_doctors (TvHttpRequest *req, gpointer user_data, const char *const *params, const char *id_param,
                JsonNode *(*build) (const TvUser *))
{
  guint count = 0;
  if (!check_params (req, params, &count))
    return;
  const char *only = NULL;
  const char *raw = id_param ? tv_http_request_query (req, id_param) : NULL;
  if (raw != NULL && (only = tv_fhir_reference_id (raw, "Practitioner")) == NULL) {
    reply_bad_param (req, id_param, "expected Practitioner/ID");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) users = tv_store_user_list (store_of (req), TV_ROLE_DOCTOR,
                                                    tv_http_request_query (req, "name"), &error);
  if (users == NULL) {
    tv_http_reply_store_error (req, error, "fhir doctor search");
    return;
  }
  if (only != NULL)
    for (guint i = users->len; i-- > 0;)
      if (strcmp (((TvUser *) g_ptr_array_index (users, i))->id, only) != 0)
        g_ptr_array_remove_index (users, i);
  reply_users (req, user_data, users, count, build, params);
}

static void
handle_practitioner_search (TvHttpRequest *req, gpointer user_data)
{
  tv_http_request_audit (req, "fhir search Practitioner", NULL, NULL);
  search_doctors (req, user_data, PRACTITIONER_PARAMS, NULL, tv_fhir_practitioner_new);
}

static void
handle_schedule_search (TvHttpRequest *req, gpointer user_data)
{
  tv_http_request_audit (req, "fhir search Schedule", NULL, NULL);
  search_doctors (req, user_data, SCHEDULE_PARAMS, "actor", tv_fhir_schedule_new);
}

/* ---- Slot ------------------------------------------------------------------------- */

/* Adds @doctor_id's free and busy slots starting in [@from, @to) to @bundle
 * (busy: booked consults that are not cancelled), in time order.
 * Returns: FALSE with @error from the store. */
static gboolean
add_slots (TvHttpRequest *req, TvFhirBundle *bundle, const char *doctor_id, gint64 from, gint64 to,
           const char *status, guint count, GError **error)
{
  g_autoptr (GArray) free_slots = NULL;
  g_autoptr (GArray) busy = NULL;
  if (status == NULL || strcmp (status, "free") == 0) {
    free_slots = tv_store_free_slots (store_of (req), doctor_id, from, to, tv_http_request_now (req), error);
    if (free_slots == NULL)
      return FALSE;
  }
  if (status == NULL || strcmp (status, "busy") == 0) {
    busy = tv_store_booked_intervals (store_of (req), doctor_id, from, to, error);
    if (busy == NULL)
      return FALSE;
  }
  guint i = 0, j = 0;
  while ((free_slots && i < free_slots->len) || (busy && j < busy->len)) {
    if (tv_fhir_bundle_count (bundle) >= count)
      break;
    const TvInterval *f = free_slots && i < free_slots->len ? &g_array_index (free_slots, TvInterval, i) : NULL;
    const TvInterval *b = busy && j < busy->len ? &g_array_index (busy, TvInterval, j) : NULL;
    if (b != NULL && b->start < from) {   /* started before the range: not "in" it */
      j++;
      continue;
    }
    if (f != NULL && (b == NULL || f->start <= b->start)) {
      tv_fhir_bundle_add (bundle, tv_fhir_slot_new (doctor_id, f->start, f->end, FALSE), "match");
      i++;
    } else {
      tv_fhir_bundle_add (bundle, tv_fhir_slot_new (doctor_id, b->start, b->end, TRUE), "match");
      j++;
    }
  }
  return TRUE;
}

static void
handle_slot_search (TvHttpRequest *req, gpointer user_data)
{
  const char *const *params = SLOT_PARAMS;
  tv_http_request_audit (req, "fhir search Slot", NULL, NULL);
  guint count = 0;
  if (!check_params (req, params, &count))
    return;
  const char *raw = tv_http_request_query (req, "schedule");
  if (raw == NULL) {
    reply_bad_param (req, "schedule", "required (Schedule/ID)");
    return;
  }
  const char *doctor_id = tv_fhir_reference_id (raw, "Schedule");
  if (doctor_id == NULL) {
    reply_bad_param (req, "schedule", "expected Schedule/ID");
    return;
  }
  const char *status = tv_http_request_query (req, "status");
  if (status != NULL && strcmp (status, "free") != 0 && strcmp (status, "busy") != 0) {
    reply_bad_param (req, "status", "free or busy");
    return;
  }
  gint64 now = tv_http_request_now (req);
  gint64 from = 0, to = 0;
  g_autoptr (GPtrArray) starts = tv_http_request_query_all (req, "start");
  for (guint i = 0; i < starts->len; i++) {
    g_autoptr (GError) error = NULL;
    if (!tv_fhir_date_param_apply (g_ptr_array_index (starts, i), &from, &to, &error)) {
      reply_bad_param (req, "start", "%s", error->message);
      return;
    }
  }
  if (from == 0)
    from = to != 0 ? to - SLOT_DEFAULT_DAYS * DAY_US : now;
  if (to == 0)
    to = from + SLOT_DEFAULT_DAYS * DAY_US;
  if (to - from > SLOT_MAX_DAYS * DAY_US) {
    reply_bad_param (req, "start", "the range may span at most %d days", SLOT_MAX_DAYS);
    return;
  }
  g_autofree char *base = base_url (req, user_data);
  g_autofree char *self = self_url (req, base, params);
  TvFhirBundle *bundle = tv_fhir_bundle_new (base, self, now);
  g_autoptr (GError) error = NULL;
  if (to > from && !add_slots (req, bundle, doctor_id, from, to, status, count, &error)) {
    json_node_unref (tv_fhir_bundle_finish (bundle));
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      reply_bad_param (req, "schedule", "no such schedule");
    else if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID))
      reply_bad_param (req, "start", "%s", error->message);
    else
      tv_http_reply_store_error (req, error, "fhir slot search");
    return;
  }
  reply_resource (req, tv_fhir_bundle_finish (bundle));
}

static void
handle_slot_read (TvHttpRequest *req, gpointer user_data)
{
  tv_http_request_audit (req, "fhir read Slot", NULL, NULL);
  g_autofree char *doctor_id = NULL;
  gint64 start = 0;
  if (!tv_fhir_slot_id_parse (tv_http_request_param (req, "id"), &doctor_id, &start)) {
    tv_http_reply_error (req, 404, "not_found", "no Slot with that id");
    return;
  }
  g_autofree char *base = base_url (req, user_data);
  TvFhirBundle *bundle = tv_fhir_bundle_new (base, NULL, tv_http_request_now (req));
  g_autoptr (GError) error = NULL;
  gboolean ok = add_slots (req, bundle, doctor_id, start, start + 1, NULL, 1, &error);
  g_autoptr (JsonNode) found = tv_fhir_bundle_finish (bundle);
  JsonObject *o = json_node_get_object (found);
  JsonArray *entries = json_object_has_member (o, "entry") ? json_object_get_array_member (o, "entry") : NULL;
  if (!ok && !g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND)) {
    tv_http_reply_store_error (req, error, "fhir slot read");
    return;
  }
  if (entries == NULL || json_array_get_length (entries) == 0) {
    tv_http_reply_error (req, 404, "not_found", "no Slot with that id");
    return;
  }
  JsonObject *entry = json_array_get_object_element (entries, 0);
  reply_resource (req, json_node_copy (json_object_get_member (entry, "resource")));
}

/* ---- Appointment, Encounter --------------------------------------------------------- */

static void
read_consult (TvHttpRequest *req, gboolean encounter)
{
  const char *id = tv_http_request_param (req, "id");
  const char *type = encounter ? "Encounter" : "Appointment";
  g_autoptr (TvConsult) c = NULL;
  g_autoptr (GError) error = NULL;
  if (!tv_store_consult_get (store_of (req), id, &c, &error)) {
    tv_http_request_audit (req, encounter ? "fhir read Encounter" : "fhir read Appointment", NULL, NULL);
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      tv_http_reply_error (req, 404, "not_found", "no %s with that id", type);
    else
      tv_http_reply_store_error (req, error, "fhir consult read");
    return;
  }
  tv_http_request_audit (req, encounter ? "fhir read Encounter" : "fhir read Appointment", NULL, c->patient_id);
  if (encounter && !tv_fhir_consult_has_encounter (c)) {
    tv_http_reply_error (req, 404, "not_found", "no %s with that id", type);
    return;
  }
  gboolean io = FALSE;
  if (!can_see_consult (req, c, &io)) {
    reply_not_yours (req, io, encounter ? "encounter" : "appointment");
    return;
  }
  reply_resource (req, encounter ? tv_fhir_encounter_new (c) : tv_fhir_appointment_new (c));
}

static void
handle_appointment_read (TvHttpRequest *req, gpointer user_data)
{
  read_consult (req, FALSE);
}

static void
handle_encounter_read (TvHttpRequest *req, gpointer user_data)
{
  read_consult (req, TRUE);
}

static void
search_consults (TvHttpRequest *req, gpointer user_data, gboolean encounter)
{
  const char *const *params = CONSULT_PARAMS;
  const TvUser *me = tv_http_request_user (req);
  guint count = 0;
  const char *raw_patient = tv_http_request_query (req, "patient");
  const char *patient = raw_patient ? tv_fhir_reference_id (raw_patient, "Patient") : NULL;
  tv_http_request_audit (req, encounter ? "fhir search Encounter" : "fhir search Appointment", NULL, patient);
  if (!check_params (req, params, &count))
    return;
  if (raw_patient != NULL && patient == NULL) {
    reply_bad_param (req, "patient", "expected Patient/ID or ID");
    return;
  }
  const char *raw_doctor = tv_http_request_query (req, "practitioner");
  const char *doctor = raw_doctor ? tv_fhir_reference_id (raw_doctor, "Practitioner") : NULL;
  if (raw_doctor != NULL && doctor == NULL) {
    reply_bad_param (req, "practitioner", "expected Practitioner/ID or ID");
    return;
  }
  const char *status = tv_http_request_query (req, "status");
  if (status != NULL) {
    static const char *const appointment[] = { "booked", "arrived", "fulfilled", "cancelled", "noshow", NULL };
    static const char *const enc[] = { "planned", "arrived", "in-progress", "finished", "cancelled", NULL };
    if (!g_strv_contains (encounter ? enc : appointment, status)) {
      g_autofree char *list = g_strjoinv (", ", (char **) (encounter ? enc : appointment));
      reply_bad_param (req, "status", "one of %s", list);
      return;
    }
  }
  TvConsultFilter f = { .patient_id = patient, .doctor_id = doctor };
  g_autoptr (GPtrArray) dates = tv_http_request_query_all (req, "date");
  for (guint i = 0; i < dates->len; i++) {
    g_autoptr (GError) error = NULL;
    if (!tv_fhir_date_param_apply (g_ptr_array_index (dates, i), &f.from, &f.to, &error)) {
      reply_bad_param (req, "date", "%s", error->message);
      return;
    }
  }
  /* Who may ask what: a patient about themselves, a doctor about their
   * patients or their own consults, an admin about anyone. */
  gboolean io = FALSE;
  if (patient != NULL) {
    if (!can_see_patient (req, patient, &io)) {
      reply_not_yours (req, io, "patient");
      return;
    }
  } else if (!is_admin (req)) {
    if ((me->roles & TV_ROLE_DOCTOR) && (doctor == NULL || strcmp (doctor, me->id) == 0)) {
      f.doctor_id = me->id;
    } else if ((me->roles & TV_ROLE_PATIENT) && !(me->roles & TV_ROLE_DOCTOR)) {
      f.patient_id = me->id;
    } else {
      tv_http_reply_error (req, 403, "forbidden", "search by patient, or for your own consults");
      return;
    }
  }
  g_autofree char *base = base_url (req, user_data);
  g_autofree char *self = self_url (req, base, params);
  TvFhirBundle *bundle = tv_fhir_bundle_new (base, self, tv_http_request_now (req));
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) consults = (f.from != 0 && f.to != 0 && f.from >= f.to)
                                       ? g_ptr_array_new ()
                                       : tv_store_consult_list_filtered (store_of (req), &f, &error);
  if (consults == NULL) {
    json_node_unref (tv_fhir_bundle_finish (bundle));
    tv_http_reply_store_error (req, error, "fhir consult search");
    return;
  }
  g_autoptr (GPtrArray) disclosed = g_ptr_array_new ();   /* borrowed from @consults */
  for (guint i = 0; i < consults->len && tv_fhir_bundle_count (bundle) < count; i++) {
    const TvConsult *c = g_ptr_array_index (consults, i);
    if (encounter && !tv_fhir_consult_has_encounter (c))
      continue;
    const char *st = encounter ? tv_fhir_encounter_status (c->status) : tv_fhir_appointment_status (c->status);
    if (status != NULL && strcmp (st, status) != 0)
      continue;
    if (!can_see_consult (req, c, &io))
      continue;   /* defence in depth: the filter already limits the rows */
    tv_fhir_bundle_add (bundle, encounter ? tv_fhir_encounter_new (c) : tv_fhir_appointment_new (c), "match");
    g_ptr_array_add (disclosed, c->patient_id);
  }
  audit_disclosed (req, encounter ? "Encounter" : "Appointment", disclosed, patient);
  reply_resource (req, tv_fhir_bundle_finish (bundle));
}

static void
handle_appointment_search (TvHttpRequest *req, gpointer user_data)
{
  search_consults (req, user_data, FALSE);
}

static void
handle_encounter_search (TvHttpRequest *req, gpointer user_data)
{
  search_consults (req, user_data, TRUE);
}

/* ---- CapabilityStatement ------------------------------------------------------------ */

/* The FHIR search parameter type of one of ours. */
static const char *
param_type (const char *name)
{
  if (strcmp (name, "name") == 0)
    return "string";
  if (strcmp (name, "start") == 0 || strcmp (name, "date") == 0)
    return "date";
  if (strcmp (name, "status") == 0)
    return "token";
  return "reference";
}

/* GET /fhir/metadata (no login: clients read it before they authenticate):
 * what this server does, from the same parameter lists the searches check. */
static void
handle_metadata (TvHttpRequest *req, gpointer user_data)
{
  static const struct {
    const char *type;
    const char *const *params;
  } resources[] = {
    { "Patient", PATIENT_PARAMS }, { "Practitioner", PRACTITIONER_PARAMS }, { "Schedule", SCHEDULE_PARAMS },
    { "Slot", SLOT_PARAMS }, { "Appointment", CONSULT_PARAMS }, { "Encounter", CONSULT_PARAMS },
  };
  g_autofree char *base = base_url (req, user_data);
  g_autofree char *date = tv_http_format_time (tv_http_request_now (req));
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
#define MEMBER(name, value) (json_builder_set_member_name (b, name), json_builder_add_string_value (b, value))
  MEMBER ("resourceType", "CapabilityStatement");
  MEMBER ("status", "active");
  MEMBER ("date", date);
  MEMBER ("publisher", "Televisit");
  MEMBER ("kind", "instance");
  json_builder_set_member_name (b, "software");
  json_builder_begin_object (b);
  MEMBER ("name", "Televisit");
  json_builder_end_object (b);
  json_builder_set_member_name (b, "implementation");
  json_builder_begin_object (b);
  MEMBER ("description", "Televisit video consultations: read-only FHIR R4 API");
  MEMBER ("url", base);
  json_builder_end_object (b);
  MEMBER ("fhirVersion", "4.0.1");
  json_builder_set_member_name (b, "format");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "json");
  json_builder_end_array (b);
  json_builder_set_member_name (b, "rest");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  MEMBER ("mode", "server");
  json_builder_set_member_name (b, "security");
  json_builder_begin_object (b);
  MEMBER ("description", "Authorization: Bearer <session token from POST /api/v1/login>; admins, doctors "
                         "(their patients) and patients (themselves) only");
  json_builder_end_object (b);
  json_builder_set_member_name (b, "resource");
  json_builder_begin_array (b);
  for (gsize i = 0; i < G_N_ELEMENTS (resources); i++) {
    json_builder_begin_object (b);
    MEMBER ("type", resources[i].type);
    json_builder_set_member_name (b, "interaction");
    json_builder_begin_array (b);
    const char *codes[] = { "read", "search-type" };
    for (gsize k = 0; k < G_N_ELEMENTS (codes); k++) {
      json_builder_begin_object (b);
      MEMBER ("code", codes[k]);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "searchParam");
    json_builder_begin_array (b);
    for (const char *const *p = resources[i].params; *p != NULL; p++) {
      json_builder_begin_object (b);
      MEMBER ("name", *p);
      MEMBER ("type", param_type (*p));
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    if (strcmp (resources[i].type, "Patient") == 0) {
      json_builder_set_member_name (b, "operation");
      json_builder_begin_array (b);
      json_builder_begin_object (b);
      MEMBER ("name", "everything");
      MEMBER ("definition", "http://hl7.org/fhir/OperationDefinition/Patient-everything");
      json_builder_end_object (b);
      json_builder_end_array (b);
    }
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
#undef MEMBER
  json_builder_end_object (b);
  reply_resource (req, json_builder_get_root (b));
}

static const TvHttpRoute routes[] = {
  { "GET", "/fhir/metadata", 0, handle_metadata },
  { "GET", "/fhir/Patient", FHIR_ROLES, handle_patient_search },
  { "GET", "/fhir/Patient/{id}", FHIR_ROLES, handle_patient_read },
  { "GET", "/fhir/Patient/{id}/$everything", FHIR_ROLES, handle_patient_everything },
  { "GET", "/fhir/Practitioner", FHIR_ROLES, handle_practitioner_search },
  { "GET", "/fhir/Practitioner/{id}", FHIR_ROLES, handle_practitioner_read },
  { "GET", "/fhir/Schedule", FHIR_ROLES, handle_schedule_search },
  { "GET", "/fhir/Schedule/{id}", FHIR_ROLES, handle_schedule_read },
  { "GET", "/fhir/Slot", FHIR_ROLES, handle_slot_search },
  { "GET", "/fhir/Slot/{id}", FHIR_ROLES, handle_slot_read },
  { "GET", "/fhir/Appointment", FHIR_ROLES, handle_appointment_search },
  { "GET", "/fhir/Appointment/{id}", FHIR_ROLES, handle_appointment_read },
  { "GET", "/fhir/Encounter", FHIR_ROLES, handle_encounter_search },
  { "GET", "/fhir/Encounter/{id}", FHIR_ROLES, handle_encounter_read },
};

void
tv_server_api_fhir_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, routes, G_N_ELEMENTS (routes), server);
}
