/* tv-store-schedule.h — scheduling in the store: availability, exceptions, booking.
 *
 * Why: schema v3 of the session store (TV_STORE_SCHEDULE_SCHEMA_V3): a doctor's
 * weekly hours and dated exceptions, and consults booked for a doctor and a
 * patient (both users, server/tv-store-users.h) at a slot derived from them
 * (server/tv-schedule.h). Double booking is impossible in the database itself:
 * a partial UNIQUE index on (doctor_id, scheduled_start) over consults that are
 * not cancelled, plus triggers that refuse any overlapping interval for the
 * same doctor; on top of that, booking checks and writes in one BEGIN IMMEDIATE
 * transaction, so two processes cannot both see a slot free.
 *
 * Same rules as tv-store.h: each changing call is one transaction (all or
 * nothing), times are µs since the epoch UTC, a time <= 0 is INVALID. Errors
 * are TV_STORE_ERROR codes; the messages say which rule was broken and never
 * repeat names or tokens:
 *   NOT_FOUND   no such consult / exception, or the id is not an enabled
 *               doctor / patient (the message says which)
 *   INVALID     malformed input, a start in the past, outside the doctor's
 *               hours or not on a slot boundary (the message says which)
 *   SLOT_TAKEN  another consult already holds (part of) that time for the doctor
 *   CONFLICT    the patient already has a consult overlapping that time
 *   WRONG_STATE the consult's status does not allow the transition
 *
 * TEST-ONLY fault points (TV_STORE_FAULT, see tv-store.h): "fail:book",
 * "fail:reschedule", "fail:availability-set"; crash points "book-after-consult"
 * (consult row written, tokens not yet) and "reschedule-after-update" (time
 * changed, tokens not yet).
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>

#include "server/tv-schedule.h"
#include "server/tv-store.h"

G_BEGIN_DECLS

/* The v3 migration step (consults rebuilt with the booking columns and the
 * statuses 'waiting' and 'no-show'; availability; availability_exceptions). */
extern const char TV_STORE_SCHEDULE_SCHEMA_V3[];

/* A join token of a booked consult stays valid this long after the slot's end. */
#define TV_STORE_BOOKING_TOKEN_GRACE_US ((gint64) 3600 * G_USEC_PER_SEC)

/* ---- availability -------------------------------------------------------- */

/* tv_store_availability_get:
 * Returns: (transfer full) (element-type TvWeeklyRange) @doctor_id's weekly
 * hours ordered by weekday and start (empty when none set); NULL with NOT_FOUND
 * (not a doctor) or IO. */
GArray *tv_store_availability_get (TvStore *store, const char *doctor_id, GError **error);

/* tv_store_availability_set:
 * Replaces @doctor_id's weekly hours by @ranges (checked with
 * tv_schedule_check_weekly_set; @n may be 0 to clear). Booked consults are
 * not touched. Returns: TRUE; FALSE with NOT_FOUND, INVALID or IO and nothing
 * changed. */
gboolean tv_store_availability_set (TvStore *store, const char *doctor_id, const TvWeeklyRange *ranges,
                                    gsize n, gint64 now, GError **error);

typedef struct {
  char *id;                    /* UUID */
  char *doctor_id;
  TvScheduleException ex;
  gint64 created_at;
} TvStoreException;

void tv_store_exception_free (TvStoreException *e);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvStoreException, tv_store_exception_free)

/* tv_store_exception_add:
 * Adds a dated exception (checked with tv_schedule_check_exception). At most
 * TV_STORE_MAX_EXCEPTIONS per doctor.
 * Returns: TRUE with *@out (transfer full, may be NULL); FALSE with NOT_FOUND,
 * INVALID or IO and nothing written. */
#define TV_STORE_MAX_EXCEPTIONS 1000
gboolean tv_store_exception_add (TvStore *store, const char *doctor_id, const TvScheduleException *ex,
                                 gint64 now, TvStoreException **out, GError **error);

/* tv_store_exception_list:
 * @from, @to: NULL, or the first / last local date to include.
 * Returns: (transfer full) (element-type TvStoreException) ordered by date;
 * NULL with NOT_FOUND (not a doctor) or IO. */
GPtrArray *tv_store_exception_list (TvStore *store, const char *doctor_id, const GDate *from,
                                    const GDate *to, GError **error);

/* tv_store_exception_remove:
 * Returns: TRUE; FALSE with NOT_FOUND (no such exception of that doctor) or IO. */
gboolean tv_store_exception_remove (TvStore *store, const char *doctor_id, const char *exception_id,
                                    GError **error);

/* tv_store_schedule_load:
 * Builds @doctor_id's schedule: zone and slot length from the user (a doctor
 * without a zone is scheduled in UTC), weekly hours and every exception.
 * Returns: (transfer full) the schedule; NULL with NOT_FOUND or IO. */
TvSchedule *tv_store_schedule_load (TvStore *store, const char *doctor_id, GError **error);

/* tv_store_booked_intervals:
 * Returns: (transfer full) (element-type TvInterval) the intervals of
 * @doctor_id's consults that are not cancelled and overlap [@from, @to);
 * NULL with IO. */
GArray *tv_store_booked_intervals (TvStore *store, const char *doctor_id, gint64 from, gint64 to,
                                   GError **error);

/* tv_store_free_slots:
 * The free slots of @doctor_id starting in [max(@from, @now), @to): the
 * schedule minus booked consults, read in one read transaction.
 * Returns: (transfer full) (element-type TvInterval); NULL with NOT_FOUND,
 * INVALID (range, see tv_schedule_free_slots) or IO. An empty array when the
 * whole range is past. */
GArray *tv_store_free_slots (TvStore *store, const char *doctor_id, gint64 from, gint64 to, gint64 now,
                             GError **error);

/* ---- booking ------------------------------------------------------------- */

/* tv_store_consult_book:
 * Books @patient_id with @doctor_id at @start, in one transaction: both must be
 * enabled users with the doctor / patient role; @start must be after @now,
 * exactly the start of a slot of the doctor's schedule (tv_schedule_match_slot),
 * the slot free (no consult of that doctor that is not cancelled overlaps it)
 * and the patient free (no consult of theirs that is not cancelled and not
 * finished overlaps it). Writes the consult (status scheduled, names from the
 * users' display names, scheduled_end = slot end, booked_by = @booked_by, a
 * user id or NULL) and a doctor and a patient join token, both valid until
 * scheduled_end + TV_STORE_BOOKING_TOKEN_GRACE_US.
 * Returns: TRUE with *@out, *@doctor_token, *@patient_token (transfer full;
 * the tokens in clear exactly this once); FALSE with NOT_FOUND, INVALID,
 * SLOT_TAKEN, CONFLICT or IO and nothing written. */
gboolean tv_store_consult_book (TvStore *store, const char *doctor_id, const char *patient_id, gint64 start,
                                const char *booked_by, gint64 now, TvConsult **out, char **doctor_token,
                                char **patient_token, GError **error);

/* tv_store_consult_reschedule:
 * Moves a booked consult (status scheduled) to @start, with the same checks as
 * booking (its own current slot does not count as taken), in one transaction:
 * the patient's old join token is revoked and a new one issued; the doctor's
 * token stays and its expiry follows the new time.
 * Returns: TRUE with *@out and *@patient_token (transfer full); FALSE with
 * NOT_FOUND, WRONG_STATE (not scheduled, or not a booked consult), INVALID,
 * SLOT_TAKEN, CONFLICT or IO and nothing changed. */
gboolean tv_store_consult_reschedule (TvStore *store, const char *id, gint64 start, gint64 now,
                                      TvConsult **out, char **patient_token, GError **error);

/* tv_store_consult_no_show:
 * Marks a consult whose start has passed (@now >= scheduled_start) and whose
 * status is scheduled or waiting as no-show: status no-show, no_show_at =
 * ended_at = @now, end_reason "no-show".
 * Returns: TRUE; FALSE with NOT_FOUND, WRONG_STATE (other status, or before
 * the start) or IO and nothing changed. */
gboolean tv_store_consult_no_show (TvStore *store, const char *id, gint64 now, GError **error);

typedef struct {
  gint64 from;              /* scheduled_start >= from (0: no bound) */
  gint64 to;                /* scheduled_start < to (0: no bound) */
  const char *doctor_id;    /* NULL: any */
  const char *patient_id;   /* NULL: any */
  gboolean has_status;
  TvConsultStatus status;   /* when has_status */
  guint limit;              /* 0: TV_STORE_CONSULT_LIST_MAX */
} TvConsultFilter;
#define TV_STORE_CONSULT_LIST_MAX 1000

/* tv_store_consult_list_filtered:
 * Returns: (transfer full) (element-type TvConsult) the consults matching
 * @filter ordered by scheduled start (then id), at most its limit; NULL with IO. */
GPtrArray *tv_store_consult_list_filtered (TvStore *store, const TvConsultFilter *filter, GError **error);

G_END_DECLS
