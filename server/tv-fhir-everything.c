/* tv-fhir-everything.c — a patient's everything as one FHIR Bundle (see tv-fhir.h).
 *
 * Why: Patient/$everything (tv-api-fhir.c) and the patient's own record
 * download (GET /api/v1/me/record, tv-api-me.c) must hand out the same thing:
 * the Patient, the Appointment of every consult booked for them, the
 * Encounter of every consult that took place, and the Practitioners those
 * reference, so the Bundle is complete on its own.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-fhir"

#include "server/tv-fhir.h"
#include "server/tv-store-schedule.h"

JsonNode *
tv_fhir_everything (TvStore *store, const TvUser *patient, const char *base, const char *self, gint64 now,
                    GError **error)
{
  g_return_val_if_fail (store != NULL && patient != NULL, NULL);
  TvConsultFilter filter = { .patient_id = patient->id };
  g_autoptr (GPtrArray) consults = tv_store_consult_list_filtered (store, &filter, error);
  if (consults == NULL)
    return NULL;
  TvFhirBundle *bundle = tv_fhir_bundle_new (base, self, now);
  tv_fhir_bundle_add (bundle, tv_fhir_patient_new (patient), NULL);
  g_autoptr (GHashTable) doctors = g_hash_table_new (g_str_hash, g_str_equal);   /* borrowed ids */
  g_autoptr (GPtrArray) doctor_order = g_ptr_array_new ();
  for (guint i = 0; i < consults->len; i++) {
    const TvConsult *c = g_ptr_array_index (consults, i);
    tv_fhir_bundle_add (bundle, tv_fhir_appointment_new (c), NULL);
    if (tv_fhir_consult_has_encounter (c))
      tv_fhir_bundle_add (bundle, tv_fhir_encounter_new (c), NULL);
    if (c->doctor_id != NULL && g_hash_table_add (doctors, c->doctor_id))
      g_ptr_array_add (doctor_order, c->doctor_id);
  }
  for (guint i = 0; i < doctor_order->len; i++) {
    g_autoptr (TvUser) doctor = NULL;
    g_autoptr (GError) local = NULL;
    if (!tv_store_user_get (store, g_ptr_array_index (doctor_order, i), &doctor, &local)) {
      g_propagate_error (error, g_steal_pointer (&local));
      json_node_unref (tv_fhir_bundle_finish (bundle));
      return NULL;
    }
    tv_fhir_bundle_add (bundle, tv_fhir_practitioner_new (doctor), NULL);
  }
  return tv_fhir_bundle_finish (bundle);
}
