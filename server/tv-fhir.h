/* tv-fhir.h — HL7 FHIR R4 resources built from the store's records (json-glib).
 *
 * Why: a clinic's EHR reads our visits as FHIR R4 (issue 4). The builders here
 * turn users and consults into Patient, Practitioner, Schedule, Slot,
 * Appointment and Encounter resources, bundles and OperationOutcomes, with no
 * I/O and no authorization (tv-api-fhir.c and tv-api-me.c decide who may see
 * what). One file per concern: tv-fhir-resources.c (the resources and the
 * status mappings), tv-fhir-bundle.c (Bundle, OperationOutcome, search
 * parameters), tv-fhir-everything.c (a patient's everything).
 *
 * Mappings (documented in docs/API.md):
 *   Patient / Practitioner  id = user id, name[0].text = display name,
 *                           active = not disabled
 *   Schedule                id = the doctor's user id, actor = Practitioner
 *   Slot                    id = "<doctor id>.<start, Unix seconds>", free or busy
 *   Appointment             id = consult id; status: scheduled -> booked,
 *                           waiting / in-progress -> arrived, completed ->
 *                           fulfilled, cancelled -> cancelled, no-show -> noshow
 *   Encounter               id = consult id, only once the patient arrived or
 *                           media connected; class VR (v3-ActCode "virtual");
 *                           status: waiting -> arrived, in-progress ->
 *                           in-progress, completed -> finished, cancelled /
 *                           no-show -> cancelled; period = first media connect
 *                           -> end; length = connected minutes (UCUM "min")
 * Names are patient data: they go into resources for authorized readers only
 * and never into logs.
 * Thread: any (no shared state).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-http.h"
#include "server/tv-server.h"
#include "server/tv-store.h"
#include "server/tv-store-users.h"

G_BEGIN_DECLS

#define TV_FHIR_CONTENT_TYPE "application/fhir+json"
#define TV_FHIR_ACT_CODE_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ActCode"
#define TV_FHIR_PARTICIPATION_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define TV_FHIR_UCUM_SYSTEM "http://unitsofmeasure.org"

/* ---- resources (tv-fhir-resources.c); each returns (transfer full) ---------- */

JsonNode *tv_fhir_patient_new (const TvUser *user);
JsonNode *tv_fhir_practitioner_new (const TvUser *doctor);
/* The doctor's one Schedule (their weekly hours; comment names zone and slot length). */
JsonNode *tv_fhir_schedule_new (const TvUser *doctor);

/* Returns: (transfer full) the Slot id for @doctor_id's slot starting at @start (µs UTC). */
char *tv_fhir_slot_id (const char *doctor_id, gint64 start);
/* tv_fhir_slot_id_parse:
 * Returns: TRUE with *@doctor_id (transfer full) and *@start (µs UTC) for an id
 * made by tv_fhir_slot_id; FALSE for anything else. */
gboolean tv_fhir_slot_id_parse (const char *id, char **doctor_id, gint64 *start);
JsonNode *tv_fhir_slot_new (const char *doctor_id, gint64 start, gint64 end, gboolean busy);

/* Returns: (transfer none) the FHIR Appointment.status for @status. */
const char *tv_fhir_appointment_status (TvConsultStatus status);
/* The consult as an Appointment (participants by reference when the consult
 * was booked for users, by display name for consults made by televisitctl
 * create). */
JsonNode *tv_fhir_appointment_new (const TvConsult *c);

/* Returns: TRUE when the consult is (or was) an encounter: the patient arrived
 * or media connected. */
gboolean tv_fhir_consult_has_encounter (const TvConsult *c);
/* Returns: (transfer none) the FHIR Encounter.status for @status. */
const char *tv_fhir_encounter_status (TvConsultStatus status);
JsonNode *tv_fhir_encounter_new (const TvConsult *c);

/* ---- bundles, outcomes, search parameters (tv-fhir-bundle.c) ----------------- */

/* tv_fhir_outcome_new:
 * An OperationOutcome with one error issue: code from @http_status (400
 * invalid, 401 login, 403 forbidden, 404 not-found, 405 not-supported, 409
 * conflict, 413 too-costly, 429 throttled, else exception), details.text =
 * @code (our error code), diagnostics = @message, expression = [@expression]
 * when non-NULL (the offending search parameter).
 * Returns: (transfer full). */
JsonNode *tv_fhir_outcome_new (guint http_status, const char *code, const char *message, const char *expression);

typedef struct _TvFhirBundle TvFhirBundle;

/* tv_fhir_bundle_new:
 * A searchset Bundle. @base: the server's FHIR base URL without the trailing
 * slash ("https://host:port/fhir"), for entries' fullUrl. @self: the link
 * with relation "self" (may be NULL). @now: its timestamp (µs UTC).
 * Returns: (transfer full); free with tv_fhir_bundle_finish. */
TvFhirBundle *tv_fhir_bundle_new (const char *base, const char *self, gint64 now);
/* Adds @resource (transfer full; must have resourceType and id) as an entry;
 * @mode: "match", "include" or NULL (no search element). */
void tv_fhir_bundle_add (TvFhirBundle *bundle, JsonNode *resource, const char *mode);
/* Returns: the number of entries so far. */
guint tv_fhir_bundle_count (TvFhirBundle *bundle);
/* Returns: (transfer full) the Bundle (total = entries with mode "match", or
 * all when none has a mode); frees @bundle. */
JsonNode *tv_fhir_bundle_finish (TvFhirBundle *bundle);

/* tv_fhir_reference_id:
 * Reads a reference search value: "ID" or "TYPE/ID" (TYPE must be @type).
 * Returns: (transfer none) the id inside @value; NULL when malformed. */
const char *tv_fhir_reference_id (const char *value, const char *type);

/* tv_fhir_date_param_apply:
 * Narrows [*@from, *@to) by one FHIR date search value: a prefix (eq, ge, gt,
 * le, lt; none = eq) and a date (YYYY-MM-DD, a UTC day) or a dateTime with
 * offset (RFC 3339). Returns: TRUE; FALSE with @error (G_OPTION_ERROR_BAD_VALUE)
 * saying what is wrong. */
gboolean tv_fhir_date_param_apply (const char *value, gint64 *from, gint64 *to, GError **error);

/* ---- for handlers (tv-api-fhir.c) -------------------------------------------- */

/* tv_fhir_origin:
 * Returns: (transfer full) "https://HOST[:PORT]": the host the client used
 * (the Host header, when it is a plain host[:port]), else the configured
 * hostname and @server's port (@server may be NULL: 8443). The FHIR base is
 * ORIGIN/fhir, the join page ORIGIN/join. */
char *tv_fhir_origin (TvHttpRequest *req, TvServer *server);

/* ---- a patient's everything (tv-fhir-everything.c) --------------------------- */

/* tv_fhir_everything:
 * Patient/$everything: the Patient, every Appointment and Encounter of their
 * consults (booked for them: patient_id), and the Practitioners involved, as a
 * searchset Bundle (@base and @self as tv_fhir_bundle_new).
 * Returns: (transfer full) the Bundle; NULL with @error (store errors). */
JsonNode *tv_fhir_everything (TvStore *store, const TvUser *patient, const char *base, const char *self, gint64 now,
                              GError **error);

G_END_DECLS
