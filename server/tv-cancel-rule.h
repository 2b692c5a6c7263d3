/* tv-cancel-rule.h — the clinic's rule for patients cancelling or moving a visit online.
 *
 * Why: a patient who cancels an hour before the start leaves a slot nobody
 * else can take; the clinic sets how much notice it wants
 * (patient-cancel-notice in the key file, tv-config.h) and past that point a
 * patient is asked to call. The schedule API enforces it (409
 * cancel_too_late) and the portal's visit list shows it (can_cancel,
 * cancel_deadline), both through these functions so they cannot disagree.
 * Schedulers, admins and doctors are not bound by the rule.
 * Thread: any (pure functions).
 */
#pragma once

#include <glib.h>

#include "server/tv-store-schedule.h"

G_BEGIN_DECLS

/* tv_cancel_rule_deadline:
 * Returns: the last moment (µs since the epoch, exclusive) a patient may
 * cancel or reschedule @c online: its scheduled start minus @notice_s
 * seconds (@notice_s 0: the start itself). */
gint64 tv_cancel_rule_deadline (const TvConsult *c, gint64 notice_s);

/* tv_cancel_rule_patient_may_cancel:
 * Returns: TRUE when @c is still "scheduled" and @now is before its deadline
 * (tv_cancel_rule_deadline); FALSE otherwise (already started, over, or
 * inside the notice). */
gboolean tv_cancel_rule_patient_may_cancel (const TvConsult *c, gint64 notice_s, gint64 now);

/* tv_cancel_rule_too_late:
 * Returns: TRUE when @c is "scheduled" but @now is inside the notice: the
 * case answered with 409 cancel_too_late (other states keep their own
 * errors from the store). */
gboolean tv_cancel_rule_too_late (const TvConsult *c, gint64 notice_s, gint64 now);

/* tv_cancel_rule_notice_words:
 * Returns: (transfer full) @notice_s in plain words for people: "24 hours",
 * "2 days", "90 minutes", "1 hour"; "0 minutes" for 0. */
char *tv_cancel_rule_notice_words (gint64 notice_s);

G_END_DECLS
