/* tv-billing.h — which code a completed telehealth visit is billed under (pure, no I/O).
 *
 * Why: the choice depends only on the code table (tv-billing-codes.h), the
 * scheme the clinic bills under, the consult's facts (modality, where the
 * patient was, new or established) and its connected time; keeping it pure
 * makes every threshold testable without a store or a call.
 * Rule: among the table's rules of the scheme, modality and patient status,
 * the one with the highest minute threshold that the connected whole minutes
 * (connected_us / 60 s, rounded down) meet or exceed. None: no billing line,
 * and a reason in plain words ("connected 7 min, below the 10 min minimum for
 * 98012").
 * Thread: any.
 */
#pragma once

#include <glib.h>

#include "server/tv-billing-codes.h"

G_BEGIN_DECLS

/* The result of a selection; pointers borrow from the table. */
typedef struct {
  const TvBillingRule *rule; /* code, modifiers, fee, description */
  const char *pos;           /* place of service for the patient's location */
  guint minutes;             /* connected whole minutes */
} TvBillingChoice;

/* Returns: connected whole minutes for @connected_us (rounded down; <= 0 gives 0). */
guint tv_billing_connected_minutes (gint64 connected_us);

/* tv_billing_select:
 * Picks the rule for a visit (see the header comment).
 * Returns: TRUE with *@out filled; FALSE with *@reason (transfer full) saying
 * why no code applies (too short, or no rule for the combination). */
gboolean tv_billing_select (const TvBillingCodes *codes, TvBillingScheme scheme, TvBillingModality modality,
                            TvBillingPatientStatus patient, TvBillingLocation location, gint64 connected_us,
                            TvBillingChoice *out, char **reason);

/* tv_billing_parse_bound:
 * A date-range bound as billing staff write it: a date YYYY-MM-DD (UTC; with
 * @end_of_day the end of that day, so from=2026-11-01&to=2026-11-30 is all
 * of November) or an RFC 3339 time with an offset.
 * Returns: TRUE with *@out_us (µs UTC); FALSE for anything else. */
gboolean tv_billing_parse_bound (const char *text, gboolean end_of_day, gint64 *out_us);

/* Returns: (transfer full) the modifiers joined by "," ("" for none). */
char *tv_billing_rule_modifiers_text (const TvBillingRule *rule);

G_END_DECLS
