/* tv-fhir-resources.c — FHIR R4 resources for users and consults (see tv-fhir.h).
 *
 * Why: the EHR-facing shapes of our records, in one place, so the FHIR API
 * (tv-api-fhir.c), a patient's record download (tv-api-me.c) and the schema
 * validation test all see the same resources. Only elements the R4 JSON schema
 * defines are emitted (its definitions forbid any other member); times are
 * instants in UTC with second precision.
 * Thread: any (no shared state).
 */
#define G_LOG_DOMAIN "tv-fhir"

#include "server/tv-fhir.h"
#include "server/tv-http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- small builders ---------------------------------------------------------- */

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_time (JsonBuilder *b, const char *name, gint64 us)
{
  g_autofree char *text = tv_http_format_time (us);
  add_string (b, name, text);
}

static void
begin_resource (JsonBuilder *b, const char *type, const char *id)
{
  json_builder_begin_object (b);
  add_string (b, "resourceType", type);
  add_string (b, "id", id);
}

/* {"reference": "TYPE/ID"} (with "display" when given). */
static void
add_reference (JsonBuilder *b, const char *name, const char *type, const char *id, const char *display)
{
  if (name != NULL)
    json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  if (id != NULL) {
    g_autofree char *ref = g_strdup_printf ("%s/%s", type, id);
    add_string (b, "reference", ref);
  }
  if (display != NULL)
    add_string (b, "display", display);
  json_builder_end_object (b);
}

static JsonNode *
finish (JsonBuilder *b)
{
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Patient and Practitioner share their shape. */
static JsonNode *
person_new (const char *type, const TvUser *user)
{
  g_return_val_if_fail (user != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  begin_resource (b, type, user->id);
  json_builder_set_member_name (b, "active");
  json_builder_add_boolean_value (b, !user->disabled);
  json_builder_set_member_name (b, "name");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  add_string (b, "text", user->display_name);
  json_builder_end_object (b);
  json_builder_end_array (b);
  return finish (b);
}

JsonNode *
tv_fhir_patient_new (const TvUser *user)
{
  return person_new ("Patient", user);
}

JsonNode *
tv_fhir_practitioner_new (const TvUser *doctor)
{
  return person_new ("Practitioner", doctor);
}

JsonNode *
tv_fhir_schedule_new (const TvUser *doctor)
{
  g_return_val_if_fail (doctor != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  begin_resource (b, "Schedule", doctor->id);
  json_builder_set_member_name (b, "active");
  json_builder_add_boolean_value (b, !doctor->disabled);
  json_builder_set_member_name (b, "actor");
  json_builder_begin_array (b);
  add_reference (b, NULL, "Practitioner", doctor->id, NULL);
  json_builder_end_array (b);
  g_autofree char *comment = g_strdup_printf ("Video consultations: %u-minute slots, weekly hours in %s",
                                              doctor->slot_minutes, doctor->time_zone ? doctor->time_zone : "UTC");
  add_string (b, "comment", comment);
  return finish (b);
}

/* ---- Slot -------------------------------------------------------------------- */

char *
tv_fhir_slot_id (const char *doctor_id, gint64 start)
{
  return g_strdup_printf ("%s.%" G_GINT64_FORMAT, doctor_id, start / G_USEC_PER_SEC);
}

gboolean
tv_fhir_slot_id_parse (const char *id, char **doctor_id, gint64 *start)
{
  if (id == NULL)
    return FALSE;
  const char *dot = strrchr (id, '.');
  if (dot == NULL || dot - id != 36 || dot[1] == '\0')
    return FALSE;
  g_autofree char *uuid = g_strndup (id, 36);
  if (!g_uuid_string_is_valid (uuid))
    return FALSE;
  for (const char *p = dot + 1; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  errno = 0;
  char *end = NULL;
  guint64 secs = g_ascii_strtoull (dot + 1, &end, 10);
  if (errno != 0 || *end != '\0' || secs == 0 || secs > G_MAXINT64 / G_USEC_PER_SEC)
    return FALSE;
  *doctor_id = g_steal_pointer (&uuid);
  *start = (gint64) secs * G_USEC_PER_SEC;
  return TRUE;
}

JsonNode *
tv_fhir_slot_new (const char *doctor_id, gint64 start, gint64 end, gboolean busy)
{
  g_autofree char *id = tv_fhir_slot_id (doctor_id, start);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  begin_resource (b, "Slot", id);
  add_reference (b, "schedule", "Schedule", doctor_id, NULL);
  add_string (b, "status", busy ? "busy" : "free");
  add_time (b, "start", start);
  add_time (b, "end", end);
  return finish (b);
}

/* ---- Appointment ------------------------------------------------------------- */

const char *
tv_fhir_appointment_status (TvConsultStatus status)
{
  switch (status) {
  case TV_CONSULT_SCHEDULED:
    return "booked";
  case TV_CONSULT_WAITING:
  case TV_CONSULT_IN_PROGRESS:
    return "arrived";
  case TV_CONSULT_COMPLETED:
    return "fulfilled";
  case TV_CONSULT_CANCELLED:
    return "cancelled";
  case TV_CONSULT_NO_SHOW:
    return "noshow";
  }
  return "entered-in-error";
}

/* One participant: the actor by reference (booked consults) or by display
 * name (consults made with televisitctl create have no user ids). */
static void
add_participant (JsonBuilder *b, const char *type, const char *id, const char *display)
{
  json_builder_begin_object (b);
  add_reference (b, "actor", type, id, display);
  add_string (b, "required", "required");
  add_string (b, "status", "accepted");
  json_builder_end_object (b);
}

JsonNode *
tv_fhir_appointment_new (const TvConsult *c)
{
  g_return_val_if_fail (c != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  begin_resource (b, "Appointment", c->id);
  add_string (b, "status", tv_fhir_appointment_status (c->status));
  if (c->status == TV_CONSULT_CANCELLED && c->end_reason != NULL) {
    json_builder_set_member_name (b, "cancelationReason");
    json_builder_begin_object (b);
    add_string (b, "text", c->end_reason);
    json_builder_end_object (b);
  }
  add_string (b, "description", "Video consultation");
  add_time (b, "start", c->scheduled_start);
  if (c->scheduled_end > c->scheduled_start) {
    add_time (b, "end", c->scheduled_end);
    json_builder_set_member_name (b, "minutesDuration");
    json_builder_add_int_value (b, MAX (1, (c->scheduled_end - c->scheduled_start) / (60 * G_USEC_PER_SEC)));
  }
  add_time (b, "created", c->created_at);
  json_builder_set_member_name (b, "participant");
  json_builder_begin_array (b);
  add_participant (b, "Patient", c->patient_id, c->patient_id ? NULL : c->patient);
  add_participant (b, "Practitioner", c->doctor_id, c->doctor_id ? NULL : c->doctor);
  json_builder_end_array (b);
  return finish (b);
}

/* ---- Encounter --------------------------------------------------------------- */

gboolean
tv_fhir_consult_has_encounter (const TvConsult *c)
{
  return c != NULL && (c->started_at > 0 || c->arrived_at > 0);
}

const char *
tv_fhir_encounter_status (TvConsultStatus status)
{
  switch (status) {
  case TV_CONSULT_SCHEDULED:
    return "planned";
  case TV_CONSULT_WAITING:
    return "arrived";
  case TV_CONSULT_IN_PROGRESS:
    return "in-progress";
  case TV_CONSULT_COMPLETED:
    return "finished";
  case TV_CONSULT_CANCELLED:
  case TV_CONSULT_NO_SHOW:
    return "cancelled";
  }
  return "unknown";
}

JsonNode *
tv_fhir_encounter_new (const TvConsult *c)
{
  g_return_val_if_fail (c != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  begin_resource (b, "Encounter", c->id);
  add_string (b, "status", tv_fhir_encounter_status (c->status));
  json_builder_set_member_name (b, "class");
  json_builder_begin_object (b);
  add_string (b, "system", TV_FHIR_ACT_CODE_SYSTEM);
  add_string (b, "code", "VR");
  add_string (b, "display", "virtual");
  json_builder_end_object (b);
  add_reference (b, "subject", "Patient", c->patient_id, c->patient_id ? NULL : c->patient);

  json_builder_set_member_name (b, "participant");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "coding");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  add_string (b, "system", TV_FHIR_PARTICIPATION_SYSTEM);
  add_string (b, "code", "PPRF");
  add_string (b, "display", "primary performer");
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_end_array (b);
  add_reference (b, "individual", "Practitioner", c->doctor_id, c->doctor_id ? NULL : c->doctor);
  json_builder_end_object (b);
  json_builder_end_array (b);

  /* Period: from the first media connection to the end (open while live). */
  if (c->started_at > 0) {
    json_builder_set_member_name (b, "period");
    json_builder_begin_object (b);
    add_time (b, "start", c->started_at);
    if (c->ended_at > 0 && c->ended_at >= c->started_at)
      add_time (b, "end", c->ended_at);
    json_builder_end_object (b);
  }
  /* Length: the connected time (media up), closed intervals only, in whole
   * seconds. An integer because json-glib prints doubles with 17 significant
   * digits (12.5 min would not be exact in every case: 0.05 min came out as
   * 0.050000000000000003), and a FHIR decimal's digits are its precision. */
  if (c->started_at > 0) {
    json_builder_set_member_name (b, "length");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "value");
    json_builder_add_int_value (b, (c->connected_us + G_USEC_PER_SEC / 2) / G_USEC_PER_SEC);
    add_string (b, "unit", "s");
    add_string (b, "system", TV_FHIR_UCUM_SYSTEM);
    add_string (b, "code", "s");
    json_builder_end_object (b);
  }
  json_builder_set_member_name (b, "appointment");
  json_builder_begin_array (b);
  add_reference (b, NULL, "Appointment", c->id, NULL);
  json_builder_end_array (b);
  return finish (b);
}
