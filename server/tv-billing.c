/* tv-billing.c — billing code selection (see tv-billing.h).
 *
 * Why: one small pure function that the store calls inside the transaction
 * completing a consult, and that the unit tests drive at every threshold.
 * Thread: any.
 */
#define G_LOG_DOMAIN "tv-billing"

#include "server/tv-billing.h"

guint
tv_billing_connected_minutes (gint64 connected_us)
{
  if (connected_us <= 0)
    return 0;
  gint64 m = connected_us / (60 * G_USEC_PER_SEC);
  return m > G_MAXUINT ? G_MAXUINT : (guint) m;
}

gboolean
tv_billing_select (const TvBillingCodes *codes, TvBillingScheme scheme, TvBillingModality modality,
                   TvBillingPatientStatus patient, TvBillingLocation location, gint64 connected_us,
                   TvBillingChoice *out, char **reason)
{
  g_return_val_if_fail (codes != NULL && out != NULL && reason != NULL, FALSE);
  guint minutes = tv_billing_connected_minutes (connected_us);
  const TvBillingRule *best = NULL, *lowest = NULL;
  for (guint i = 0; i < tv_billing_codes_n_rules (codes); i++) {
    const TvBillingRule *r = tv_billing_codes_rule (codes, i);
    if (r->scheme != scheme || r->modality != modality || r->patient != patient)
      continue;
    if (lowest == NULL || r->minutes < lowest->minutes)
      lowest = r;
    if (r->minutes <= minutes && (best == NULL || r->minutes > best->minutes))
      best = r;
  }
  if (best == NULL) {
    if (lowest == NULL)
      *reason = g_strdup_printf ("no %s code in the billing table for %s visits with %s patients",
                                 tv_billing_scheme_to_string (scheme), tv_billing_modality_to_string (modality),
                                 tv_billing_patient_status_to_string (patient));
    else
      *reason = g_strdup_printf ("connected %u min, below the %u min minimum for %s", minutes, lowest->minutes,
                                 lowest->code);
    return FALSE;
  }
  out->rule = best;
  out->pos = tv_billing_codes_pos (codes, location);
  out->minutes = minutes;
  return TRUE;
}

char *
tv_billing_rule_modifiers_text (const TvBillingRule *rule)
{
  return g_strjoinv (",", rule->modifiers);
}
