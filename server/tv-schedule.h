/* tv-schedule.h — a doctor's availability and the free slots it yields (pure arithmetic, no I/O).
 *
 * Why: the slot rules (weekly hours and dated exceptions in the doctor's own
 * time zone, fixed slot length, booked consults removed) are needed by the
 * slot listing, by booking (is this start a real, free slot?) and by tests;
 * keeping them free of the store and the network makes them testable with
 * tables of cases, DST changes included.
 *
 * Times: instants are gint64 microseconds since the Unix epoch, UTC (as the
 * store keeps them). Hours are minutes after local midnight (0..1440) in the
 * doctor's zone; dates are local calendar dates (GDate). Weekdays are ISO:
 * Monday = 1 ... Sunday = 7 (the same numbering as GDateWeekday).
 *
 * Local hours and daylight-saving changes: a range "09:00–12:00" means every
 * instant whose wall-clock time in the doctor's zone is in [09:00, 12:00) on
 * that date. So a local 09:00–12:00 stays 09:00–12:00 local on both sides of a
 * DST change, and across a change inside a range:
 *   - spring forward (a gap, e.g. Europe/Berlin 2026-03-29 02:00→03:00): local
 *     times in the gap do not exist and yield nothing; a boundary in the gap
 *     falls on the change (01:00–04:00 is 2 real hours: 01:00–02:00 CET and
 *     03:00–04:00 CEST; 02:30–05:00 starts at 03:00 CEST);
 *   - fall back (an overlap, e.g. 2026-10-25 03:00→02:00): local times in the
 *     overlap happen twice and both occurrences count (01:00–04:00 is 4 real
 *     hours, 02:00–02:30 local is offered twice, once per offset).
 * Slots are laid out from the start of each (merged) real interval, one slot
 * length apart in real time, and must fit entirely; a remainder shorter than a
 * slot is not offered. Every slot's start and end are therefore wall-clock
 * times inside the doctor's hours.
 *
 * Thread: any; a TvSchedule is not shared between threads while being built.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_SCHEDULE_ERROR (tv_schedule_error_quark ())
GQuark tv_schedule_error_quark (void);

typedef enum {
  TV_SCHEDULE_ERR_INVALID,  /* malformed or out-of-range value (message names the field) */
  TV_SCHEDULE_ERR_OVERLAP,  /* a weekly range overlaps another on the same weekday */
} TvScheduleErrorCode;

#define TV_SCHEDULE_MIN_SLOT_MINUTES 5
#define TV_SCHEDULE_MAX_SLOT_MINUTES 120
#define TV_SCHEDULE_DEFAULT_SLOT_MINUTES 15
#define TV_SCHEDULE_MINUTES_PER_DAY 1440
/* At most this many weekly ranges per doctor (7 days × a few ranges is plenty). */
#define TV_SCHEDULE_MAX_WEEKLY 64
/* Longest range one slot query may cover (the API's limit too). */
#define TV_SCHEDULE_MAX_RANGE_US ((gint64) 31 * 24 * 3600 * G_USEC_PER_SEC)

/* One weekly working range: [start_min, end_min) local, on ISO @weekday. */
typedef struct {
  guint weekday;    /* 1..7, Monday = 1 */
  guint start_min;  /* 0..1439 */
  guint end_min;    /* start_min+1 .. 1440 (1440 = "24:00", end of day) */
} TvWeeklyRange;

typedef enum {
  TV_EXCEPTION_OFF,    /* not working: the whole day (start = end = 0) or [start, end) */
  TV_EXCEPTION_EXTRA,  /* extra hours [start, end) on that date */
} TvExceptionKind;

/* Returns: (transfer none) "off" / "extra". */
const char *tv_exception_kind_to_string (TvExceptionKind kind);
/* Returns: TRUE and *@out for "off" / "extra"; FALSE otherwise (NULL accepted). */
gboolean tv_exception_kind_from_string (const char *text, TvExceptionKind *out);

typedef struct {
  GDate date;       /* local date in the doctor's zone, valid */
  TvExceptionKind kind;
  guint start_min;  /* OFF whole day: 0 and 0; otherwise as TvWeeklyRange */
  guint end_min;
} TvScheduleException;

/* A slot or a booked interval: [start, end) in µs UTC. */
typedef struct {
  gint64 start;
  gint64 end;
} TvInterval;

typedef struct _TvSchedule TvSchedule;

/* tv_schedule_new:
 * @tz: (transfer none) the doctor's zone (a reference is taken).
 * @slot_minutes: TV_SCHEDULE_MIN_SLOT_MINUTES..TV_SCHEDULE_MAX_SLOT_MINUTES
 * (programmer error otherwise: validate user input with tv_schedule_check_slot_minutes).
 * Returns: (transfer full) an empty schedule (no hours: no slots). */
TvSchedule *tv_schedule_new (GTimeZone *tz, guint slot_minutes);
/* NULL accepted. */
void tv_schedule_free (TvSchedule *schedule);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvSchedule, tv_schedule_free)

/* Returns: (transfer none) the zone / the slot length in minutes. */
GTimeZone *tv_schedule_get_timezone (TvSchedule *schedule);
guint tv_schedule_get_slot_minutes (TvSchedule *schedule);

/* tv_schedule_add_weekly:
 * Adds a weekly range after tv_schedule_check_weekly(). Ranges on the same
 * weekday may touch (09:00–12:00 and 12:00–13:00) but not overlap.
 * Returns: TRUE; FALSE with INVALID (bad weekday/hours, too many ranges) or
 * OVERLAP, and the schedule unchanged. */
gboolean tv_schedule_add_weekly (TvSchedule *schedule, const TvWeeklyRange *range, GError **error);

/* tv_schedule_add_exception:
 * Adds a dated exception after tv_schedule_check_exception(). Exceptions may
 * overlap each other and the weekly hours: a day's hours are
 * (weekly ∪ extra) − off.
 * Returns: TRUE; FALSE with INVALID and the schedule unchanged. */
gboolean tv_schedule_add_exception (TvSchedule *schedule, const TvScheduleException *exception,
                                    GError **error);

/* tv_schedule_free_slots:
 * The slots (see the header comment) that start in [@from, @to), minus every
 * slot overlapping one of @booked (@n_booked intervals in any order, may be
 * NULL when 0). The caller clamps @from to "now" when past slots must not be
 * offered. @to - @from must be at most TV_SCHEDULE_MAX_RANGE_US.
 * Returns: (transfer full) (element-type TvInterval) slots in time order;
 * NULL with INVALID when @from >= @to or the range is too long. */
GArray *tv_schedule_free_slots (TvSchedule *schedule, gint64 from, gint64 to,
                                const TvInterval *booked, gsize n_booked, GError **error);

typedef enum {
  TV_SLOT_MATCH,       /* @start is the start of an availability slot */
  TV_SLOT_MISALIGNED,  /* inside the doctor's hours, but not on a slot boundary */
  TV_SLOT_OUTSIDE,     /* outside the doctor's hours */
} TvSlotMatch;

/* tv_schedule_match_slot:
 * Classifies a requested start (bookings are checked with this; booked
 * consults are the store's business). On TV_SLOT_MATCH *@slot (may be NULL)
 * receives the slot.
 * Returns: how @start relates to the availability. */
TvSlotMatch tv_schedule_match_slot (TvSchedule *schedule, gint64 start, TvInterval *slot);

/* ---- validation of user input (HTTP, televisitctl, the store) ---------- */

/* tv_schedule_parse_hhmm:
 * Parses exactly "HH:MM" (00:00..23:59; "24:00" too when @allow_end_of_day).
 * Returns: TRUE with *@minutes; FALSE with INVALID naming @field. */
gboolean tv_schedule_parse_hhmm (const char *text, gboolean allow_end_of_day, const char *field,
                                 guint *minutes, GError **error);
/* Writes "HH:MM" (6 bytes with the NUL) for 0..1440 into @buf. Returns: @buf. */
char *tv_schedule_format_hhmm (guint minutes, char buf[6]);

/* tv_schedule_parse_date:
 * Parses exactly "YYYY-MM-DD", a real calendar date (GLib's calendar).
 * Returns: TRUE with *@date; FALSE with INVALID naming @field. */
gboolean tv_schedule_parse_date (const char *text, const char *field, GDate *date, GError **error);
/* Returns: (transfer full) "YYYY-MM-DD" of a valid @date. */
char *tv_schedule_format_date (const GDate *date);

/* tv_schedule_parse_rfc3339:
 * Parses an RFC 3339 date-time with an explicit offset ("2026-03-29T09:00:00+02:00",
 * "...Z", fractions allowed) with g_date_time_new_from_iso8601; a time without an
 * offset, another ISO 8601 form (week or ordinal dates) or an impossible date is
 * refused. Returns: TRUE with *@us (µs UTC); FALSE with INVALID naming @field. */
gboolean tv_schedule_parse_rfc3339 (const char *text, const char *field, gint64 *us, GError **error);
/* Returns: (transfer full) @us as RFC 3339 in @tz (NULL = UTC), seconds
 * precision plus a fraction only when non-zero, offset as "+HH:MM". */
char *tv_schedule_format_rfc3339 (gint64 us, GTimeZone *tz);

/* tv_schedule_timezone_new:
 * Returns: (transfer full) the zone for an IANA identifier ("Europe/Berlin");
 * NULL with INVALID when GLib does not know it (or it is empty / over 64 bytes). */
GTimeZone *tv_schedule_timezone_new (const char *identifier, GError **error);

/* Returns: TRUE for TV_SCHEDULE_MIN..MAX_SLOT_MINUTES; FALSE with INVALID. */
gboolean tv_schedule_check_slot_minutes (gint64 minutes, GError **error);
/* Returns: TRUE when weekday 1..7 and 0 <= start < end <= 1440; FALSE with INVALID. */
gboolean tv_schedule_check_weekly (const TvWeeklyRange *range, GError **error);
/* Returns: TRUE for a valid date and, for OFF, either 0/0 (whole day) or a
 * range, for EXTRA a range (0 <= start < end <= 1440); FALSE with INVALID. */
gboolean tv_schedule_check_exception (const TvScheduleException *exception, GError **error);
/* tv_schedule_check_weekly_set:
 * Checks @n ranges as one weekly plan: each valid, at most TV_SCHEDULE_MAX_WEEKLY,
 * none overlapping another on the same weekday. Returns: TRUE; FALSE with
 * INVALID or OVERLAP naming the entries (by index). */
gboolean tv_schedule_check_weekly_set (const TvWeeklyRange *ranges, gsize n, GError **error);

G_END_DECLS
