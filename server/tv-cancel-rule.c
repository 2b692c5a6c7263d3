/* tv-cancel-rule.c — the clinic's notice for patients cancelling online (see tv-cancel-rule.h).
 *
 * Why: one place computes the deadline, so the API's refusal and the
 * portal's hidden Cancel button agree to the microsecond.
 * Thread: any.
 */
#include "server/tv-cancel-rule.h"

gint64
tv_cancel_rule_deadline (const TvConsult *c, gint64 notice_s)
{
  g_return_val_if_fail (c != NULL, 0);
  return c->scheduled_start - MAX (notice_s, 0) * G_USEC_PER_SEC;
}

gboolean
tv_cancel_rule_patient_may_cancel (const TvConsult *c, gint64 notice_s, gint64 now)
{
  g_return_val_if_fail (c != NULL, FALSE);
  return c->status == TV_CONSULT_SCHEDULED && now < tv_cancel_rule_deadline (c, notice_s);
}

gboolean
tv_cancel_rule_too_late (const TvConsult *c, gint64 notice_s, gint64 now)
{
  g_return_val_if_fail (c != NULL, FALSE);
  /* With no notice the store's own rules (the start, the state) decide. */
  return notice_s > 0 && c->status == TV_CONSULT_SCHEDULED && now >= tv_cancel_rule_deadline (c, notice_s);
}

char *
tv_cancel_rule_notice_words (gint64 notice_s)
{
  gint64 n;
  const char *unit;
  if (notice_s >= 2 * 86400 && notice_s % 86400 == 0) {
    n = notice_s / 86400;
    unit = "day";
  } else if (notice_s > 0 && notice_s % 3600 == 0) {
    n = notice_s / 3600;
    unit = "hour";
  } else if (notice_s % 60 == 0) {
    n = notice_s / 60;
    unit = "minute";
  } else {
    n = notice_s;
    unit = "second";
  }
  return g_strdup_printf ("%" G_GINT64_FORMAT " %s%s", n, unit, n == 1 ? "" : "s");
}
