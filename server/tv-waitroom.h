/* tv-waitroom.h — the doctor's dashboard feed: today's consults as a "dashboard" message.
 *
 * Why: the consult protocol (tv-consult-ws.c) pushes a doctor's day to every
 * connection authenticated as that doctor; what the day is (midnight to
 * midnight in the doctor's zone) and what each consult shows (store status
 * plus who is in the waiting room right now) is decided here, apart from the
 * connection handling. Pure apart from one store read.
 * Thread: the server's main loop (the store's thread).
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* What the live rooms know about a consult: whether the patient is connected
 * now, and since when (µs UTC, 0 = not waiting) they wait in the waiting room. */
typedef void (*TvWaitroomLiveFunc) (const char *consult_id, gboolean *patient_present, gint64 *waiting_since,
                                    gpointer user_data);

/* tv_waitroom_day_bounds:
 * The local day of @now in @zone (NULL, empty or unknown: UTC): [*@from, *@to)
 * in µs UTC, and *@date (transfer full, may be NULL) as YYYY-MM-DD. A day
 * with a DST change is 23 or 25 hours long. */
void tv_waitroom_day_bounds (const char *zone, gint64 now, gint64 *from, gint64 *to, char **date);

/* tv_waitroom_dashboard_json:
 * Builds the "dashboard" message (signaling/PROTOCOL.md 3.22) for the doctor
 * @doctor_id whose zone is @zone (NULL: UTC): the consults whose doctor_id is
 * @doctor_id and whose scheduled start lies in today's bounds at @now,
 * ordered by start, with @live (may be NULL) asked about each.
 * Returns: (transfer full) the JSON text; NULL with @error (store IO). */
char *tv_waitroom_dashboard_json (TvStore *store, const char *doctor_id, const char *zone, gint64 now,
                                  TvWaitroomLiveFunc live, gpointer live_data, GError **error);

G_END_DECLS
