/* tv-schedule.c — availability → free slots, and the validation of schedule input.
 *
 * Why: see tv-schedule.h. The approach: for each local date touched by a
 * query, the day's hours are computed in local minutes ((weekly ∪ extra) −
 * off, as a 1440-entry minute map, which makes the set algebra obviously
 * right); each run of working minutes is then mapped to real (UTC) intervals
 * piece by piece over the zone's offset intervals around that date, which is
 * what makes DST gaps and overlaps come out right without special cases.
 * Calendar and zone facts come from GLib (GDate, GDateTime, GTimeZone).
 *
 * Thread: no shared state; a TvSchedule belongs to its caller.
 */
#define G_LOG_DOMAIN "tv-schedule"

#include "server/tv-schedule.h"

#include <string.h>

G_DEFINE_QUARK (tv-schedule-error-quark, tv_schedule_error)

#define SEC_PER_DAY ((gint64) 86400)
/* UTC offsets stay within −12 h .. +14 h; one more hour of margin each side. */
#define ZONE_MARGIN_SEC ((gint64) 15 * 3600)

struct _TvSchedule {
  GTimeZone *tz;
  guint slot_minutes;
  GArray *weekly;       /* TvWeeklyRange */
  GArray *exceptions;   /* TvScheduleException */
};

/* A stretch of real time [u0, u1) (seconds UTC) with one UTC offset. */
typedef struct {
  gint64 u0;
  gint64 u1;
  gint64 offset;  /* seconds east of UTC */
} ZonePiece;

/* [s0, s1) seconds UTC */
typedef struct {
  gint64 s0;
  gint64 s1;
} SecInterval;

const char *
tv_exception_kind_to_string (TvExceptionKind kind)
{
  return kind == TV_EXCEPTION_EXTRA ? "extra" : "off";
}

gboolean
tv_exception_kind_from_string (const char *text, TvExceptionKind *out)
{
  if (g_strcmp0 (text, "off") == 0)
    *out = TV_EXCEPTION_OFF;
  else if (g_strcmp0 (text, "extra") == 0)
    *out = TV_EXCEPTION_EXTRA;
  else
    return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                 */

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID, msg);
  g_free (msg);
  return FALSE;
}

/* TRUE when @text starts with the shape of @pattern, where '9' stands for an
 * ASCII digit and every other character for itself. Only the shape is checked
 * here; the values are left to GLib's calendar. */
static gboolean
has_shape_prefix (const char *text, const char *pattern)
{
  if (text == NULL)
    return FALSE;
  for (; *pattern != '\0'; pattern++, text++) {
    if (*text == '\0')
      return FALSE;
    if (*pattern == '9' ? !g_ascii_isdigit (*text) : *text != *pattern)
      return FALSE;
  }
  return TRUE;
}

/* TRUE when @text has exactly the shape of @pattern. */
static gboolean
has_shape (const char *text, const char *pattern)
{
  return has_shape_prefix (text, pattern) && strlen (text) == strlen (pattern);
}

gboolean
tv_schedule_parse_hhmm (const char *text, gboolean allow_end_of_day, const char *field,
                        guint *minutes, GError **error)
{
  g_return_val_if_fail (field != NULL && minutes != NULL, FALSE);
  if (!has_shape (text, "99:99"))
    return invalid (error, "%s must be a time \"HH:MM\"", field);
  if (strcmp (text, "24:00") == 0) {
    if (!allow_end_of_day)
      return invalid (error, "%s: 24:00 is only allowed as an end time", field);
    *minutes = TV_SCHEDULE_MINUTES_PER_DAY;
    return TRUE;
  }
  /* GLib checks the ranges (hour 0..23, minute 0..59). */
  g_autofree char *iso = g_strdup_printf ("2000-01-01T%s:00Z", text);
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (iso, NULL);
  if (dt == NULL)
    return invalid (error, "%s: \"%s\" is not a time of day (00:00..23:59)", field, text);
  *minutes = (guint) (g_date_time_get_hour (dt) * 60 + g_date_time_get_minute (dt));
  return TRUE;
}

char *
tv_schedule_format_hhmm (guint minutes, char buf[6])
{
  g_return_val_if_fail (minutes <= TV_SCHEDULE_MINUTES_PER_DAY, NULL);
  g_snprintf (buf, 6, "%02u:%02u", minutes / 60, minutes % 60);
  return buf;
}

gboolean
tv_schedule_parse_date (const char *text, const char *field, GDate *date, GError **error)
{
  g_return_val_if_fail (field != NULL && date != NULL, FALSE);
  if (!has_shape (text, "9999-99-99"))
    return invalid (error, "%s must be a date \"YYYY-MM-DD\"", field);
  g_autofree char *iso = g_strconcat (text, "T00:00:00Z", NULL);
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (iso, NULL);
  if (dt == NULL || g_date_time_get_year (dt) < 1)
    return invalid (error, "%s: \"%s\" is not a calendar date", field, text);
  g_date_clear (date, 1);
  g_date_set_dmy (date, (GDateDay) g_date_time_get_day_of_month (dt),
                  (GDateMonth) g_date_time_get_month (dt), (GDateYear) g_date_time_get_year (dt));
  return TRUE;
}

char *
tv_schedule_format_date (const GDate *date)
{
  g_return_val_if_fail (date != NULL && g_date_valid (date), NULL);
  return g_strdup_printf ("%04u-%02u-%02u", g_date_get_year (date), g_date_get_month (date),
                          g_date_get_day (date));
}

gboolean
tv_schedule_parse_rfc3339 (const char *text, const char *field, gint64 *us, GError **error)
{
  g_return_val_if_fail (field != NULL && us != NULL, FALSE);
  gsize len = text != NULL ? strlen (text) : 0;
  /* The shape RFC 3339 allows ("YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM)"); GLib's
   * ISO 8601 parser alone would also take week dates, ordinal dates, basic
   * format and offsets without minutes. */
  gboolean shape = len >= 20 && len <= 40
    && has_shape_prefix (text, "9999-99-99")
    && (text[10] == 'T' || text[10] == 't')
    && has_shape_prefix (text + 11, "99:99:99");
  if (shape) {
    const char *rest = text + 19;
    if (*rest == '.') {
      rest++;
      if (!g_ascii_isdigit (*rest))
        shape = FALSE;
      while (g_ascii_isdigit (*rest))
        rest++;
    }
    shape = shape && (g_ascii_strcasecmp (rest, "Z") == 0 || has_shape (rest, "+99:99")
                      || has_shape (rest, "-99:99"));
  }
  if (!shape)
    return invalid (error, "%s must be an RFC 3339 date-time with an offset, e.g. 2026-03-30T09:00:00+02:00",
                    field);
  g_autofree char *upper = g_ascii_strup (text, -1);   /* GLib wants 'T' and 'Z' */
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (upper, NULL);
  if (dt == NULL)
    return invalid (error, "%s: \"%s\" is not a valid date-time", field, text);
  gint64 secs = g_date_time_to_unix (dt);
  if (secs <= 0)
    return invalid (error, "%s: \"%s\" is before 1970", field, text);
  *us = secs * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

char *
tv_schedule_format_rfc3339 (gint64 us, GTimeZone *tz)
{
  gint64 secs = us / G_USEC_PER_SEC;
  gint64 frac = us % G_USEC_PER_SEC;
  if (frac < 0) {
    frac += G_USEC_PER_SEC;
    secs--;
  }
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (secs);
  if (utc == NULL)
    return g_strdup ("invalid-time");
  if (tz == NULL) {
    /* UTC (every time in a consult reply): the same text as the general path
     * below, from the fields of one GDateTime — without the three more
     * GDateTimes, the UTC zone and g_date_time_format's reading of its format
     * string, which were 5 % of the main loop's CPU under booking load
     * (docs/BENCHMARKS.md, 2026-11-29 (3)). test-schedule compares the two. */
    int y = 0, mo = 0, d = 0;
    g_date_time_get_ymd (utc, &y, &mo, &d);
    int h = g_date_time_get_hour (utc), mi = g_date_time_get_minute (utc), se = g_date_time_get_second (utc);
    if (frac != 0)
      return g_strdup_printf ("%d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", y, mo, d, h, mi, se, (int) frac);
    return g_strdup_printf ("%d-%02d-%02dT%02d:%02d:%02d+00:00", y, mo, d, h, mi, se);
  }
  g_autoptr (GDateTime) whole = g_date_time_add (utc, frac);
  g_autoptr (GDateTime) local = g_date_time_to_timezone (whole, tz);
  return g_date_time_format (local, frac != 0 ? "%Y-%m-%dT%H:%M:%S.%f%:z" : "%Y-%m-%dT%H:%M:%S%:z");
}

GTimeZone *
tv_schedule_timezone_new (const char *identifier, GError **error)
{
  if (identifier == NULL || *identifier == '\0' || strlen (identifier) > 64
      || !g_utf8_validate (identifier, -1, NULL)) {
    invalid (error, "time zone must be an IANA identifier such as Europe/Berlin");
    return NULL;
  }
  GTimeZone *tz = g_time_zone_new_identifier (identifier);
  if (tz == NULL)
    invalid (error, "time zone \"%s\" is not known (IANA identifiers such as Europe/Berlin)", identifier);
  return tz;
}

gboolean
tv_schedule_check_slot_minutes (gint64 minutes, GError **error)
{
  if (minutes < TV_SCHEDULE_MIN_SLOT_MINUTES || minutes > TV_SCHEDULE_MAX_SLOT_MINUTES)
    return invalid (error, "slot length must be %d..%d minutes", TV_SCHEDULE_MIN_SLOT_MINUTES,
                    TV_SCHEDULE_MAX_SLOT_MINUTES);
  return TRUE;
}

static gboolean
check_minutes_range (guint start, guint end, GError **error)
{
  if (end > TV_SCHEDULE_MINUTES_PER_DAY || start >= end) {
    char a[6], b[6];
    return invalid (error, "start (%s) must be before end (%s) within the day",
                    tv_schedule_format_hhmm (MIN (start, TV_SCHEDULE_MINUTES_PER_DAY), a),
                    tv_schedule_format_hhmm (MIN (end, TV_SCHEDULE_MINUTES_PER_DAY), b));
  }
  return TRUE;
}

gboolean
tv_schedule_check_weekly (const TvWeeklyRange *range, GError **error)
{
  g_return_val_if_fail (range != NULL, FALSE);
  if (range->weekday < 1 || range->weekday > 7)
    return invalid (error, "weekday must be 1..7 (Monday = 1), not %u", range->weekday);
  return check_minutes_range (range->start_min, range->end_min, error);
}

gboolean
tv_schedule_check_exception (const TvScheduleException *ex, GError **error)
{
  g_return_val_if_fail (ex != NULL, FALSE);
  if (!g_date_valid (&ex->date))
    return invalid (error, "exception date is not a valid date");
  if (ex->kind != TV_EXCEPTION_OFF && ex->kind != TV_EXCEPTION_EXTRA)
    return invalid (error, "exception kind must be \"off\" or \"extra\"");
  if (ex->kind == TV_EXCEPTION_OFF && ex->start_min == 0 && ex->end_min == 0)
    return TRUE;   /* the whole day off */
  return check_minutes_range (ex->start_min, ex->end_min, error);
}

static gboolean
weekly_overlap (const TvWeeklyRange *a, const TvWeeklyRange *b)
{
  return a->weekday == b->weekday && a->start_min < b->end_min && b->start_min < a->end_min;
}

gboolean
tv_schedule_check_weekly_set (const TvWeeklyRange *ranges, gsize n, GError **error)
{
  g_return_val_if_fail (ranges != NULL || n == 0, FALSE);
  if (n > TV_SCHEDULE_MAX_WEEKLY)
    return invalid (error, "at most %d weekly ranges", TV_SCHEDULE_MAX_WEEKLY);
  for (gsize i = 0; i < n; i++) {
    GError *local = NULL;
    if (!tv_schedule_check_weekly (&ranges[i], &local)) {
      g_propagate_prefixed_error (error, local, "hours[%" G_GSIZE_FORMAT "]: ", i);
      return FALSE;
    }
    for (gsize j = 0; j < i; j++) {
      if (weekly_overlap (&ranges[i], &ranges[j])) {
        g_set_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_OVERLAP,
                     "hours[%" G_GSIZE_FORMAT "] overlaps hours[%" G_GSIZE_FORMAT "] on weekday %u", i, j,
                     ranges[i].weekday);
        return FALSE;
      }
    }
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The schedule                                                               */

TvSchedule *
tv_schedule_new (GTimeZone *tz, guint slot_minutes)
{
  g_return_val_if_fail (tz != NULL, NULL);
  g_return_val_if_fail (slot_minutes >= TV_SCHEDULE_MIN_SLOT_MINUTES
                        && slot_minutes <= TV_SCHEDULE_MAX_SLOT_MINUTES, NULL);
  TvSchedule *s = g_new0 (TvSchedule, 1);
  s->tz = g_time_zone_ref (tz);
  s->slot_minutes = slot_minutes;
  s->weekly = g_array_new (FALSE, FALSE, sizeof (TvWeeklyRange));
  s->exceptions = g_array_new (FALSE, FALSE, sizeof (TvScheduleException));
  return s;
}

void
tv_schedule_free (TvSchedule *s)
{
  if (s == NULL)
    return;
  g_time_zone_unref (s->tz);
  g_array_unref (s->weekly);
  g_array_unref (s->exceptions);
  g_free (s);
}

GTimeZone *
tv_schedule_get_timezone (TvSchedule *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  return s->tz;
}

guint
tv_schedule_get_slot_minutes (TvSchedule *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->slot_minutes;
}

gboolean
tv_schedule_add_weekly (TvSchedule *s, const TvWeeklyRange *range, GError **error)
{
  g_return_val_if_fail (s != NULL && range != NULL, FALSE);
  if (!tv_schedule_check_weekly (range, error))
    return FALSE;
  if (s->weekly->len >= TV_SCHEDULE_MAX_WEEKLY)
    return invalid (error, "at most %d weekly ranges", TV_SCHEDULE_MAX_WEEKLY);
  for (guint i = 0; i < s->weekly->len; i++) {
    if (weekly_overlap (range, &g_array_index (s->weekly, TvWeeklyRange, i))) {
      g_set_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_OVERLAP,
                   "weekly hours overlap another range on weekday %u", range->weekday);
      return FALSE;
    }
  }
  g_array_append_val (s->weekly, *range);
  return TRUE;
}

gboolean
tv_schedule_add_exception (TvSchedule *s, const TvScheduleException *ex, GError **error)
{
  g_return_val_if_fail (s != NULL && ex != NULL, FALSE);
  if (!tv_schedule_check_exception (ex, error))
    return FALSE;
  g_array_append_val (s->exceptions, *ex);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Slot arithmetic                                                            */

/* GDate's Julian day number of 1970-01-01 (day 1 is 0001-01-01); a constant
 * rather than a lazily computed static so that any thread may use this file.
 * test-schedule checks it against GDate. */
#define EPOCH_JULIAN G_GINT64_CONSTANT (719163)

/* Seconds of local midnight of @date as if the local clock were UTC ("naive"). */
static gint64
naive_midnight (const GDate *date)
{
  return ((gint64) g_date_get_julian (date) - EPOCH_JULIAN) * SEC_PER_DAY;
}

/* The local date (in @tz) of the instant @secs (UTC). FALSE outside GLib's range. */
static gboolean
local_date_of (GTimeZone *tz, gint64 secs, GDate *out)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (secs);
  if (utc == NULL)
    return FALSE;
  g_autoptr (GDateTime) local = g_date_time_to_timezone (utc, tz);
  if (local == NULL)
    return FALSE;
  int y, m, d;
  g_date_time_get_ymd (local, &y, &m, &d);
  g_date_clear (out, 1);
  g_date_set_dmy (out, (GDateDay) d, (GDateMonth) m, (GDateYear) y);
  return TRUE;
}

/* Splits [w0, w1) (seconds UTC) into pieces of constant offset. GLib numbers a
 * zone's intervals in time order, so the end of a piece is found by bisection
 * on the interval index (transitions fall on whole seconds). */
static void
zone_pieces (GTimeZone *tz, gint64 w0, gint64 w1, GArray *out)
{
  gint64 cur = w0;
  while (cur < w1) {
    gint idx = g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, cur);
    gint64 end = w1;
    if (g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, w1 - 1) != idx) {
      gint64 lo = cur, hi = w1 - 1;   /* lo in idx, hi not */
      while (hi - lo > 1) {
        gint64 mid = lo + (hi - lo) / 2;
        if (g_time_zone_find_interval (tz, G_TIME_TYPE_UNIVERSAL, mid) == idx)
          lo = mid;
        else
          hi = mid;
      }
      end = hi;
    }
    ZonePiece p = { cur, end, g_time_zone_get_offset (tz, idx) };
    g_array_append_val (out, p);
    cur = end;
  }
}

static gint
cmp_sec_interval (gconstpointer a, gconstpointer b)
{
  const SecInterval *x = a, *y = b;
  return x->s0 < y->s0 ? -1 : x->s0 > y->s0;
}

/* Fills @minutes (1440 entries) with the working minutes of @date. */
static void
day_minutes (TvSchedule *s, const GDate *date, guint8 *minutes)
{
  memset (minutes, 0, TV_SCHEDULE_MINUTES_PER_DAY);
  guint weekday = g_date_get_weekday (date);   /* GDateWeekday: Monday = 1 .. Sunday = 7 */
  for (guint i = 0; i < s->weekly->len; i++) {
    const TvWeeklyRange *r = &g_array_index (s->weekly, TvWeeklyRange, i);
    if (r->weekday == weekday)
      memset (minutes + r->start_min, 1, r->end_min - r->start_min);
  }
  /* extra first, then off: off wins wherever both apply */
  for (int pass = 0; pass < 2; pass++) {
    TvExceptionKind kind = pass == 0 ? TV_EXCEPTION_EXTRA : TV_EXCEPTION_OFF;
    for (guint i = 0; i < s->exceptions->len; i++) {
      const TvScheduleException *ex = &g_array_index (s->exceptions, TvScheduleException, i);
      if (ex->kind != kind || g_date_compare (&ex->date, date) != 0)
        continue;
      guint a = ex->start_min, b = ex->end_min;
      if (kind == TV_EXCEPTION_OFF && a == 0 && b == 0)
        b = TV_SCHEDULE_MINUTES_PER_DAY;
      memset (minutes + a, kind == TV_EXCEPTION_EXTRA, b - a);
    }
  }
}

/* Appends the real intervals (seconds UTC, merged, in time order) in which the
 * doctor works on local @date. */
static void
day_intervals (TvSchedule *s, const GDate *date, GArray *out)
{
  guint8 minutes[TV_SCHEDULE_MINUTES_PER_DAY];
  day_minutes (s, date, minutes);
  gint64 midnight = naive_midnight (date);

  g_autoptr (GArray) pieces = g_array_new (FALSE, FALSE, sizeof (ZonePiece));
  g_autoptr (GArray) found = g_array_new (FALSE, FALSE, sizeof (SecInterval));
  gboolean have_pieces = FALSE;

  for (guint m = 0; m < TV_SCHEDULE_MINUTES_PER_DAY;) {
    if (!minutes[m]) {
      m++;
      continue;
    }
    guint a = m;
    while (m < TV_SCHEDULE_MINUTES_PER_DAY && minutes[m])
      m++;
    if (!have_pieces) {
      zone_pieces (s->tz, midnight - ZONE_MARGIN_SEC, midnight + SEC_PER_DAY + ZONE_MARGIN_SEC, pieces);
      have_pieces = TRUE;
    }
    /* Local [a, m) read with each offset, kept where that offset is in force. */
    gint64 la = midnight + (gint64) a * 60, lb = midnight + (gint64) m * 60;
    for (guint i = 0; i < pieces->len; i++) {
      const ZonePiece *p = &g_array_index (pieces, ZonePiece, i);
      SecInterval iv = { MAX (la - p->offset, p->u0), MIN (lb - p->offset, p->u1) };
      if (iv.s0 < iv.s1)
        g_array_append_val (found, iv);
    }
  }
  g_array_sort (found, cmp_sec_interval);
  for (guint i = 0; i < found->len; i++) {
    SecInterval iv = g_array_index (found, SecInterval, i);
    if (out->len > 0) {
      SecInterval *last = &g_array_index (out, SecInterval, out->len - 1);
      if (iv.s0 <= last->s1) {   /* adjacent pieces of one local run */
        last->s1 = MAX (last->s1, iv.s1);
        continue;
      }
    }
    g_array_append_val (out, iv);
  }
}

/* Availability intervals (seconds UTC) of every local date from @first to
 * @last inclusive, each date merged on its own (slots never straddle midnight). */
static GArray *
intervals_for_dates (TvSchedule *s, const GDate *first, const GDate *last)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (SecInterval));
  GDate d = *first;
  while (g_date_compare (&d, last) <= 0) {
    g_autoptr (GArray) day = g_array_new (FALSE, FALSE, sizeof (SecInterval));
    day_intervals (s, &d, day);
    g_array_append_vals (all, day->data, day->len);
    g_date_add_days (&d, 1);
  }
  return all;
}

/* The local dates whose instants can fall in [from_s, to_s): one day of
 * margin each side is enough because a date's instants lie within ±15 h of
 * its naive midnight..midnight+24 h. */
static gboolean
date_span (TvSchedule *s, gint64 from_s, gint64 to_s, GDate *first, GDate *last)
{
  if (!local_date_of (s->tz, from_s, first) || !local_date_of (s->tz, to_s, last))
    return FALSE;
  if (g_date_get_julian (first) > 1)
    g_date_subtract_days (first, 1);
  g_date_add_days (last, 1);
  return TRUE;
}

static gboolean
overlaps_any (gint64 start, gint64 end, const TvInterval *booked, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    if (start < booked[i].end && booked[i].start < end)
      return TRUE;
  }
  return FALSE;
}

GArray *
tv_schedule_free_slots (TvSchedule *s, gint64 from, gint64 to, const TvInterval *booked,
                        gsize n_booked, GError **error)
{
  g_return_val_if_fail (s != NULL, NULL);
  g_return_val_if_fail (booked != NULL || n_booked == 0, NULL);
  if (from <= 0 || from >= to) {
    invalid (error, "the range must be a positive interval (from before to)");
    return NULL;
  }
  if (to - from > TV_SCHEDULE_MAX_RANGE_US) {
    invalid (error, "the range may cover at most 31 days");
    return NULL;
  }
  GDate first, last;
  if (!date_span (s, from / G_USEC_PER_SEC, to / G_USEC_PER_SEC + 1, &first, &last)) {
    invalid (error, "the range is outside the supported calendar");
    return NULL;
  }
  g_autoptr (GArray) ivs = intervals_for_dates (s, &first, &last);
  GArray *slots = g_array_new (FALSE, FALSE, sizeof (TvInterval));
  gint64 len = (gint64) s->slot_minutes * 60;
  for (guint i = 0; i < ivs->len; i++) {
    const SecInterval *iv = &g_array_index (ivs, SecInterval, i);
    for (gint64 t = iv->s0; t + len <= iv->s1; t += len) {
      TvInterval slot = { t * G_USEC_PER_SEC, (t + len) * G_USEC_PER_SEC };
      if (slot.start < from || slot.start >= to || overlaps_any (slot.start, slot.end, booked, n_booked))
        continue;
      g_array_append_val (slots, slot);
    }
  }
  return slots;   /* dates ascend and each date's intervals ascend: already in order */
}

TvSlotMatch
tv_schedule_match_slot (TvSchedule *s, gint64 start, TvInterval *slot)
{
  g_return_val_if_fail (s != NULL, TV_SLOT_OUTSIDE);
  GDate first, last;
  gint64 secs = start / G_USEC_PER_SEC;
  if (start <= 0 || !date_span (s, secs, secs, &first, &last))
    return TV_SLOT_OUTSIDE;
  g_autoptr (GArray) ivs = intervals_for_dates (s, &first, &last);
  gint64 len = (gint64) s->slot_minutes * 60;
  TvSlotMatch result = TV_SLOT_OUTSIDE;
  for (guint i = 0; i < ivs->len; i++) {
    const SecInterval *iv = &g_array_index (ivs, SecInterval, i);
    if (start < iv->s0 * G_USEC_PER_SEC || start >= iv->s1 * G_USEC_PER_SEC)
      continue;
    result = TV_SLOT_MISALIGNED;
    gint64 off = start - iv->s0 * G_USEC_PER_SEC;
    gint64 len_us = len * G_USEC_PER_SEC;
    if (off % len_us == 0 && start + len_us <= iv->s1 * G_USEC_PER_SEC) {
      if (slot != NULL) {
        slot->start = start;
        slot->end = start + len_us;
      }
      return TV_SLOT_MATCH;
    }
  }
  return result;
}
