/* tv-billing.c — billing code selection (see tv-billing.h).
 *
 * Why: one small pure function that the store calls inside the transaction
 * completing a consult, and that the unit tests drive at every threshold.
 * Thread: any.
 */
#define G_LOG_DOMAIN "tv-billing"

#include "server/tv-billing.h"

#include <string.h>

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

gboolean
tv_billing_parse_bound (const char *text, gboolean end_of_day, gint64 *out_us)
{
  g_return_val_if_fail (out_us != NULL, FALSE);
  if (text == NULL)
    return FALSE;
  g_autoptr (GDateTime) dt = NULL;
  if (strlen (text) == 10 && text[4] == '-' && text[7] == '-') {
    g_autofree char *iso = g_strdup_printf ("%sT00:00:00Z", text);
    g_autoptr (GDateTime) day = g_date_time_new_from_iso8601 (iso, NULL);
    if (day != NULL)
      dt = end_of_day ? g_date_time_add_days (day, 1) : g_date_time_ref (day);
  } else if (strchr (text, 'T') != NULL) {
    /* An offset is required: no time zone would mean the machine's. */
    gsize n = strlen (text);
    gboolean has_offset = text[n - 1] == 'Z' || text[n - 1] == 'z'
                          || (n > 6 && (text[n - 6] == '+' || text[n - 6] == '-') && text[n - 3] == ':');
    if (has_offset)
      dt = g_date_time_new_from_iso8601 (text, NULL);
  }
  if (dt == NULL)
    return FALSE;
  *out_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return *out_us > 0;
}
