/* test-schedule.c — slot arithmetic and schedule input validation (server/tv-schedule).
 *
 * Why: free slots are what patients and schedulers book; a slot an hour off
 * after a DST change, or one left in a doctor's day off, is a missed consult.
 * Table-driven: each case gives a doctor's zone, slot length, weekly hours,
 * exceptions, booked intervals and a query range, and the exact slot starts
 * expected (RFC 3339 in the doctor's zone, so the offset shows which side of
 * a DST change a slot is on). Every result is also cross-checked against an
 * independent rule: the wall-clock start and end of every slot lie inside the
 * doctor's hours of that local date (computed with GDateTime, not the code
 * under test's zone pieces). Pure computation: no I/O, no network.
 * Thread: main thread; alarm() watchdog.
 */
#define G_LOG_DOMAIN "test-schedule"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/tv-schedule.h"
#include "server/tv-http.h"

/* ---- building schedules from compact text ------------------------------- */

/* "7 09:00 12:00; 6 13:00 14:00" */
static void
add_weekly_spec (TvSchedule *s, const char *spec)
{
  g_auto (GStrv) items = g_strsplit (spec, ";", -1);
  for (char **it = items; *it != NULL; it++) {
    g_autofree char *item = g_strstrip (g_strdup (*it));
    if (*item == '\0')
      continue;
    g_auto (GStrv) f = g_strsplit (item, " ", -1);
    g_assert_cmpuint (g_strv_length (f), ==, 3);
    TvWeeklyRange r = { (guint) g_ascii_strtoull (f[0], NULL, 10), 0, 0 };
    g_assert_true (tv_schedule_parse_hhmm (f[1], FALSE, "start", &r.start_min, NULL));
    g_assert_true (tv_schedule_parse_hhmm (f[2], TRUE, "end", &r.end_min, NULL));
    g_autoptr (GError) error = NULL;
    g_assert_true (tv_schedule_add_weekly (s, &r, &error));
    g_assert_no_error (error);
  }
}

/* "2026-12-24 off; 2026-12-26 extra 09:00 10:00; 2026-12-28 off 10:00 11:00" */
static void
add_exception_spec (TvSchedule *s, const char *spec)
{
  g_auto (GStrv) items = g_strsplit (spec, ";", -1);
  for (char **it = items; *it != NULL; it++) {
    g_autofree char *item = g_strstrip (g_strdup (*it));
    if (*item == '\0')
      continue;
    g_auto (GStrv) f = g_strsplit (item, " ", -1);
    guint n = g_strv_length (f);
    g_assert_true (n == 2 || n == 4);
    TvScheduleException ex = { 0 };
    g_assert_true (tv_schedule_parse_date (f[0], "date", &ex.date, NULL));
    g_assert_true (tv_exception_kind_from_string (f[1], &ex.kind));
    if (n == 4) {
      g_assert_true (tv_schedule_parse_hhmm (f[2], FALSE, "start", &ex.start_min, NULL));
      g_assert_true (tv_schedule_parse_hhmm (f[3], TRUE, "end", &ex.end_min, NULL));
    }
    g_autoptr (GError) error = NULL;
    g_assert_true (tv_schedule_add_exception (s, &ex, &error));
    g_assert_no_error (error);
  }
}

static gint64
t (const char *rfc3339)
{
  gint64 us = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_schedule_parse_rfc3339 (rfc3339, "time", &us, &error));
  g_assert_no_error (error);
  return us;
}

/* "START/END; START/END" */
static GArray *
parse_booked (const char *spec)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (TvInterval));
  if (spec == NULL)
    return a;
  g_auto (GStrv) items = g_strsplit (spec, ";", -1);
  for (char **it = items; *it != NULL; it++) {
    g_autofree char *item = g_strstrip (g_strdup (*it));
    g_auto (GStrv) f = g_strsplit (item, "/", 2);
    g_assert_cmpuint (g_strv_length (f), ==, 2);
    TvInterval iv = { t (f[0]), t (f[1]) };
    g_array_append_val (a, iv);
  }
  return a;
}

/* ---- the independent cross-check ---------------------------------------- */

/* TRUE when local minute @m of the date of @dt is working time according to
 * the case's text (weekly ∪ extra − off), read without the code under test. */
static gboolean
spec_works (const char *weekly, const char *exceptions, GDateTime *dt, guint m)
{
  int y, mo, d;
  g_date_time_get_ymd (dt, &y, &mo, &d);
  g_autofree char *date = g_strdup_printf ("%04d-%02d-%02d", y, mo, d);
  guint wd = (guint) g_date_time_get_day_of_week (dt);
  gboolean works = FALSE;
  g_auto (GStrv) w = g_strsplit (weekly, ";", -1);
  for (char **it = w; *it != NULL; it++) {
    guint day, a, b, ah, am, bh, bm;
    if (sscanf (*it, " %u %u:%u %u:%u", &day, &ah, &am, &bh, &bm) != 5)
      continue;
    a = ah * 60 + am;
    b = bh * 60 + bm;
    if (day == wd && m >= a && m < b)
      works = TRUE;
  }
  g_auto (GStrv) e = g_strsplit (exceptions != NULL ? exceptions : "", ";", -1);
  for (int pass = 0; pass < 2; pass++) {
    for (char **it = e; *it != NULL; it++) {
      char dbuf[11], kind[6];
      guint ah = 0, am = 0, bh = 24, bm = 0;
      int n = sscanf (*it, " %10s %5s %u:%u %u:%u", dbuf, kind, &ah, &am, &bh, &bm);
      if (n < 2 || strcmp (dbuf, date) != 0)
        continue;
      gboolean extra = strcmp (kind, "extra") == 0;
      if ((pass == 0) != extra)
        continue;
      if (m >= ah * 60 + am && m < bh * 60 + bm)
        works = extra;
    }
  }
  return works;
}

static void
cross_check (GArray *slots, TvSchedule *s, const char *weekly, const char *exceptions)
{
  gint64 len = (gint64) tv_schedule_get_slot_minutes (s) * 60 * G_USEC_PER_SEC;
  for (guint i = 0; i < slots->len; i++) {
    TvInterval *sl = &g_array_index (slots, TvInterval, i);
    g_assert_cmpint (sl->end - sl->start, ==, len);
    if (i > 0)
      g_assert_cmpint (g_array_index (slots, TvInterval, i - 1).end, <=, sl->start);
    /* every minute of the slot is working wall-clock time on its local date */
    for (gint64 at = sl->start; at < sl->end; at += 60 * G_USEC_PER_SEC) {
      g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (at / G_USEC_PER_SEC);
      g_autoptr (GDateTime) loc = g_date_time_to_timezone (utc, tv_schedule_get_timezone (s));
      guint m = (guint) (g_date_time_get_hour (loc) * 60 + g_date_time_get_minute (loc));
      if (!spec_works (weekly, exceptions, loc, m)) {
        g_autofree char *txt = tv_schedule_format_rfc3339 (at, tv_schedule_get_timezone (s));
        g_error ("slot %u: minute %s is not working time", i, txt);
      }
    }
  }
}

/* tv_schedule_format_rfc3339 in UTC (its own fast path) gives exactly the text
 * of g_date_time_format with the general path's format, for whole seconds and
 * fractions, across leap days, years and the end of 9999; so does
 * tv_http_format_time with its "...Z" format. */
static void
test_format_utc (void)
{
  const gint64 base[] = { 1, 951782400, 951868799, 1709164800, 1772323200, 1798761599, 4102444800, 253402300799 };
  const gint64 fracs[] = { 0, 1, 500000, 999999 };
  for (guint i = 0; i < G_N_ELEMENTS (base); i++)
    for (gint64 step = -2; step <= 2; step++)
      for (guint f = 0; f < G_N_ELEMENTS (fracs); f++) {
        gint64 secs = base[i] + step * 86399;
        if (secs <= 0 || secs > 253402300799)
          continue;
        gint64 us = secs * G_USEC_PER_SEC + fracs[f];
        g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (secs);
        g_autoptr (GDateTime) whole = g_date_time_add (dt, fracs[f]);
        g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
        g_autoptr (GDateTime) local = g_date_time_to_timezone (whole, utc);
        g_autofree char *want = g_date_time_format (local, fracs[f] != 0 ? "%Y-%m-%dT%H:%M:%S.%f%:z"
                                                                         : "%Y-%m-%dT%H:%M:%S%:z");
        g_autofree char *got = tv_schedule_format_rfc3339 (us, NULL);
        g_autofree char *got_tz = tv_schedule_format_rfc3339 (us, utc);
        g_assert_cmpstr (got, ==, want);
        g_assert_cmpstr (got_tz, ==, want);
        g_autofree char *want_z = g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
        g_autofree char *got_z = tv_http_format_time (us);
        g_assert_cmpstr (got_z, ==, want_z);
      }
}

/* ---- the table ------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *tz;
  guint slot;
  const char *weekly;
  const char *exceptions;  /* NULL: none */
  const char *booked;      /* NULL: none */
  const char *from, *to;
  const char *expect;      /* space-separated starts in the doctor's zone; NULL: count only */
  int count;
} SlotCase;

static const SlotCase slot_cases[] = {
  /* ---- Europe/Berlin, spring forward 2026-03-29 (Sunday) 02:00 CET -> 03:00 CEST */
  { "berlin/spring/morning-keeps-local-hours", "Europe/Berlin", 60, "6 09:00 12:00; 7 09:00 12:00", NULL, NULL,
    "2026-03-28T00:00:00+01:00", "2026-03-30T00:00:00+02:00",
    "2026-03-28T09:00:00+01:00 2026-03-28T10:00:00+01:00 2026-03-28T11:00:00+01:00 "
    "2026-03-29T09:00:00+02:00 2026-03-29T10:00:00+02:00 2026-03-29T11:00:00+02:00", 6 },
  { "berlin/spring/range-across-gap", "Europe/Berlin", 60, "7 01:00 04:00", NULL, NULL,
    "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00",
    "2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00", 2 },
  { "berlin/spring/start-in-gap", "Europe/Berlin", 30, "7 02:30 05:00", NULL, NULL,
    "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00",
    "2026-03-29T03:00:00+02:00 2026-03-29T03:30:00+02:00 2026-03-29T04:00:00+02:00 2026-03-29T04:30:00+02:00", 4 },
  { "berlin/spring/range-inside-gap", "Europe/Berlin", 15, "7 02:00 03:00", NULL, NULL,
    "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "", 0 },
  { "berlin/spring/end-in-gap", "Europe/Berlin", 30, "7 01:00 02:30", NULL, NULL,
    "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00",
    "2026-03-29T01:00:00+01:00 2026-03-29T01:30:00+01:00", 2 },
  /* ---- Europe/Berlin, fall back 2026-10-25 (Sunday) 03:00 CEST -> 02:00 CET */
  { "berlin/fall/range-across-overlap", "Europe/Berlin", 60, "7 01:00 04:00", NULL, NULL,
    "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00",
    "2026-10-25T01:00:00+02:00 2026-10-25T02:00:00+02:00 2026-10-25T02:00:00+01:00 2026-10-25T03:00:00+01:00", 4 },
  { "berlin/fall/overlap-hour-twice", "Europe/Berlin", 15, "7 02:00 02:30", NULL, NULL,
    "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00",
    "2026-10-25T02:00:00+02:00 2026-10-25T02:15:00+02:00 2026-10-25T02:00:00+01:00 2026-10-25T02:15:00+01:00", 4 },
  { "berlin/fall/morning-keeps-local-hours", "Europe/Berlin", 30, "6 09:00 10:00; 7 09:00 10:00", NULL, NULL,
    "2026-10-24T00:00:00+02:00", "2026-10-26T00:00:00+01:00",
    "2026-10-24T09:00:00+02:00 2026-10-24T09:30:00+02:00 2026-10-25T09:00:00+01:00 2026-10-25T09:30:00+01:00", 4 },
  { "berlin/fall/two-weeks-weekdays", "Europe/Berlin", 15, "1 09:00 12:00; 2 09:00 12:00; 3 09:00 12:00; "
    "4 09:00 12:00; 5 09:00 12:00", NULL, NULL,
    "2026-10-19T00:00:00+02:00", "2026-11-02T00:00:00+01:00", NULL, 120 },
  /* ---- America/New_York, spring forward 2026-03-08 (Sunday) 02:00 EST -> 03:00 EDT */
  { "new-york/spring/morning", "America/New_York", 15, "7 09:00 10:00", NULL, NULL,
    "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00",
    "2026-03-08T09:00:00-04:00 2026-03-08T09:15:00-04:00 2026-03-08T09:30:00-04:00 2026-03-08T09:45:00-04:00", 4 },
  { "new-york/spring/range-across-gap", "America/New_York", 30, "7 01:30 03:30", NULL, NULL,
    "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00",
    "2026-03-08T01:30:00-05:00 2026-03-08T03:00:00-04:00", 2 },
  /* ---- America/New_York, fall back 2026-11-01 (Sunday) 02:00 EDT -> 01:00 EST */
  { "new-york/fall/range-across-overlap", "America/New_York", 30, "7 00:30 02:00", NULL, NULL,
    "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00",
    "2026-11-01T00:30:00-04:00 2026-11-01T01:00:00-04:00 2026-11-01T01:30:00-04:00 "
    "2026-11-01T01:00:00-05:00 2026-11-01T01:30:00-05:00", 5 },
  { "new-york/fall/afternoon", "America/New_York", 30, "7 14:00 15:00", NULL, NULL,
    "2026-10-31T00:00:00-04:00", "2026-11-02T00:00:00-05:00",
    "2026-11-01T14:00:00-05:00 2026-11-01T14:30:00-05:00", 2 },
  /* ---- exceptions (Europe/Berlin, December 2026: 21 Mon .. 27 Sun) */
  { "exceptions/day-off", "Europe/Berlin", 60, "1 09:00 11:00; 4 09:00 11:00", "2026-12-24 off", NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-28T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T10:00:00+01:00", 2 },
  { "exceptions/extra-hours-on-free-day", "Europe/Berlin", 30, "1 09:00 10:00", "2026-12-26 extra 18:00 19:00", NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-28T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T09:30:00+01:00 2026-12-26T18:00:00+01:00 2026-12-26T18:30:00+01:00", 4 },
  { "exceptions/partial-off", "Europe/Berlin", 30, "1 09:00 12:00", "2026-12-21 off 10:00 11:00", NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T09:30:00+01:00 2026-12-21T11:00:00+01:00 2026-12-21T11:30:00+01:00", 4 },
  { "exceptions/extra-extends-weekly", "Europe/Berlin", 60, "1 09:00 11:00", "2026-12-21 extra 10:00 13:00", NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T10:00:00+01:00 2026-12-21T11:00:00+01:00 2026-12-21T12:00:00+01:00", 4 },
  { "exceptions/off-beats-extra", "Europe/Berlin", 60, "1 09:00 10:00",
    "2026-12-21 extra 14:00 16:00; 2026-12-21 off", NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00", "", 0 },
  { "exceptions/only-that-date", "Europe/Berlin", 60, "1 09:00 10:00", "2026-12-21 off", NULL,
    "2026-12-14T00:00:00+01:00", "2027-01-01T00:00:00+01:00",
    "2026-12-14T09:00:00+01:00 2026-12-28T09:00:00+01:00", 2 },
  /* ---- booked intervals */
  { "booked/aligned-slot-removed", "Europe/Berlin", 15, "1 09:00 10:00", NULL,
    "2026-12-21T09:15:00+01:00/2026-12-21T09:30:00+01:00",
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T09:30:00+01:00 2026-12-21T09:45:00+01:00", 3 },
  { "booked/misaligned-removes-each-overlapped", "Europe/Berlin", 15, "1 09:00 10:00", NULL,
    "2026-12-21T08:20:00Z/2026-12-21T08:50:00Z",
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00", "2026-12-21T09:00:00+01:00", 1 },
  { "booked/touching-does-not-remove", "Europe/Berlin", 30, "1 09:00 10:00", NULL,
    "2026-12-21T08:00:00+01:00/2026-12-21T09:00:00+01:00; 2026-12-21T10:00:00+01:00/2026-12-21T11:00:00+01:00",
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T09:30:00+01:00", 2 },
  /* ---- range limits and slot layout */
  { "range/from-inclusive-to-exclusive", "Europe/Berlin", 30, "1 09:00 12:00", NULL, NULL,
    "2026-12-21T09:30:00+01:00", "2026-12-21T11:00:00+01:00",
    "2026-12-21T09:30:00+01:00 2026-12-21T10:00:00+01:00 2026-12-21T10:30:00+01:00", 3 },
  { "range/started-slot-not-offered", "Europe/Berlin", 30, "1 09:00 10:00", NULL, NULL,
    "2026-12-21T09:10:00+01:00", "2026-12-22T00:00:00+01:00", "2026-12-21T09:30:00+01:00", 1 },
  { "range/query-in-another-offset", "Europe/Berlin", 60, "1 09:00 10:00", NULL, NULL,
    "2026-12-21T03:00:00-05:00", "2026-12-21T04:00:00-05:00", "2026-12-21T09:00:00+01:00", 1 },
  { "range/remainder-not-offered", "Europe/Berlin", 20, "1 09:00 09:50", NULL, NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T09:20:00+01:00", 2 },
  { "range/touching-ranges-merge", "Europe/Berlin", 40, "1 09:00 10:00; 1 10:00 11:00", NULL, NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-22T00:00:00+01:00",
    "2026-12-21T09:00:00+01:00 2026-12-21T09:40:00+01:00 2026-12-21T10:20:00+01:00", 3 },
  { "range/until-midnight", "Europe/Berlin", 60, "1 22:00 24:00; 2 00:00 01:00", NULL, NULL,
    "2026-12-21T00:00:00+01:00", "2026-12-23T00:00:00+01:00",
    "2026-12-21T22:00:00+01:00 2026-12-21T23:00:00+01:00 2026-12-22T00:00:00+01:00", 3 },
  { "range/utc-doctor", "UTC", 60, "1 09:00 10:00", NULL, NULL,
    "2026-12-21T00:00:00Z", "2026-12-22T00:00:00Z", "2026-12-21T09:00:00+00:00", 1 },
  { "range/31-days", "Asia/Tokyo", 120, "1 09:00 13:00; 2 09:00 13:00; 3 09:00 13:00; 4 09:00 13:00; "
    "5 09:00 13:00; 6 09:00 13:00; 7 09:00 13:00", NULL, NULL,
    "2026-12-01T00:00:00+09:00", "2027-01-01T00:00:00+09:00", NULL, 62 },
};

static void
test_slot_case (gconstpointer data)
{
  const SlotCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GTimeZone) tz = tv_schedule_timezone_new (c->tz, &error);
  g_assert_no_error (error);
  g_autoptr (TvSchedule) s = tv_schedule_new (tz, c->slot);
  add_weekly_spec (s, c->weekly);
  if (c->exceptions != NULL)
    add_exception_spec (s, c->exceptions);
  g_autoptr (GArray) booked = parse_booked (c->booked);
  g_autoptr (GArray) slots = tv_schedule_free_slots (s, t (c->from), t (c->to),
                                                     (TvInterval *) booked->data, booked->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (slots);

  g_autoptr (GString) got = g_string_new (NULL);
  for (guint i = 0; i < slots->len; i++) {
    g_autofree char *txt = tv_schedule_format_rfc3339 (g_array_index (slots, TvInterval, i).start, tz);
    g_string_append_printf (got, "%s%s", i > 0 ? " " : "", txt);
  }
  if (c->expect != NULL)
    g_assert_cmpstr (got->str, ==, c->expect);
  g_assert_cmpint (slots->len, ==, c->count);

  for (guint i = 0; i < slots->len; i++) {
    TvInterval *sl = &g_array_index (slots, TvInterval, i);
    g_assert_cmpint (sl->start, >=, t (c->from));
    g_assert_cmpint (sl->start, <, t (c->to));
  }
  cross_check (slots, s, c->weekly, c->exceptions);

  /* Every free slot is a match for booking; a minute later is not. */
  for (guint i = 0; i < slots->len; i++) {
    TvInterval *sl = &g_array_index (slots, TvInterval, i);
    TvInterval m = { 0 };
    g_assert_cmpint (tv_schedule_match_slot (s, sl->start, &m), ==, TV_SLOT_MATCH);
    g_assert_cmpint (m.start, ==, sl->start);
    g_assert_cmpint (m.end, ==, sl->end);
    g_assert_cmpint (tv_schedule_match_slot (s, sl->start + 60 * G_USEC_PER_SEC, NULL), ==,
                     TV_SLOT_MISALIGNED);
  }
}

/* ---- matching a requested start ------------------------------------------ */

static void
test_match_slot (void)
{
  g_autoptr (GTimeZone) tz = tv_schedule_timezone_new ("Europe/Berlin", NULL);
  g_autoptr (TvSchedule) s = tv_schedule_new (tz, 30);
  add_weekly_spec (s, "1 09:00 10:00; 7 01:00 04:00");
  TvInterval m;
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-12-21T09:30:00+01:00"), &m), ==, TV_SLOT_MATCH);
  g_assert_cmpint (m.end - m.start, ==, 30 * 60 * G_USEC_PER_SEC);
  /* the same instant written in another offset is the same slot */
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-12-21T08:30:00Z"), NULL), ==, TV_SLOT_MATCH);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-12-21T09:10:00+01:00"), NULL), ==, TV_SLOT_MISALIGNED);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-12-21T09:00:00.5+01:00"), NULL), ==, TV_SLOT_MISALIGNED);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-12-21T10:00:00+01:00"), NULL), ==, TV_SLOT_OUTSIDE);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-12-22T09:00:00+01:00"), NULL), ==, TV_SLOT_OUTSIDE);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-12-21T08:30:00+01:00"), NULL), ==, TV_SLOT_OUTSIDE);
  /* spring forward: 03:00 CEST follows 01:30 CET directly (real time 02:00 CET) */
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-03-29T01:30:00+01:00"), NULL), ==, TV_SLOT_MATCH);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-03-29T03:00:00+02:00"), NULL), ==, TV_SLOT_MATCH);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-03-29T04:00:00+02:00"), NULL), ==, TV_SLOT_OUTSIDE);
  /* fall back: both 02:30s exist and are slots */
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-10-25T02:30:00+02:00"), NULL), ==, TV_SLOT_MATCH);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-10-25T02:30:00+01:00"), NULL), ==, TV_SLOT_MATCH);
  g_assert_cmpint (tv_schedule_match_slot (s, t ("2026-10-25T04:00:00+01:00"), NULL), ==, TV_SLOT_OUTSIDE);
}

/* The slot arithmetic counts days from GDate's Julian number of 1970-01-01:
 * the UTC doctor's slot on the epoch's own day lands exactly on its hour. */
static void
test_epoch_day (void)
{
  GDate epoch;
  g_date_clear (&epoch, 1);
  g_date_set_dmy (&epoch, 1, G_DATE_JANUARY, 1970);
  g_assert_cmpuint (g_date_get_julian (&epoch), ==, 719163);
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr (TvSchedule) s = tv_schedule_new (utc, 60);
  add_weekly_spec (s, "4 01:00 02:00");   /* 1970-01-01 was a Thursday */
  g_autoptr (GArray) slots = tv_schedule_free_slots (s, 1, 2 * 86400 * G_GINT64_CONSTANT (1000000), NULL, 0, NULL);
  g_assert_cmpuint (slots->len, ==, 1);
  g_assert_cmpint (g_array_index (slots, TvInterval, 0).start, ==, G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC);
}

static void
test_range_errors (void)
{
  g_autoptr (GTimeZone) tz = tv_schedule_timezone_new ("Europe/Berlin", NULL);
  g_autoptr (TvSchedule) s = tv_schedule_new (tz, 15);
  add_weekly_spec (s, "1 09:00 10:00");
  struct { const char *from, *to; gboolean ok; } cases[] = {
    { "2026-12-21T00:00:00Z", "2026-12-21T00:00:00Z", FALSE },   /* empty */
    { "2026-12-22T00:00:00Z", "2026-12-21T00:00:00Z", FALSE },   /* reversed */
    { "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z", TRUE },    /* exactly 31 days */
    { "2026-12-01T00:00:00Z", "2027-01-01T00:00:01Z", FALSE },   /* one second more */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) slots = tv_schedule_free_slots (s, t (cases[i].from), t (cases[i].to), NULL, 0, &error);
    if (cases[i].ok) {
      g_assert_no_error (error);
      g_assert_nonnull (slots);
    } else {
      g_assert_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID);
      g_assert_null (slots);
    }
  }
}

/* ---- validation of input ------------------------------------------------- */

static void
test_parse_hhmm (void)
{
  struct { const char *text; gboolean end; gint expect; } cases[] = {
    { "09:00", FALSE, 540 }, { "00:00", FALSE, 0 }, { "23:59", FALSE, 1439 }, { "24:00", TRUE, 1440 },
    { "24:00", FALSE, -1 }, { "24:01", TRUE, -1 }, { "23:60", FALSE, -1 }, { "9:00", FALSE, -1 },
    { "09:0", FALSE, -1 }, { "0900", FALSE, -1 }, { "09:00:00", FALSE, -1 }, { " 09:00", FALSE, -1 },
    { "ab:cd", FALSE, -1 }, { "", FALSE, -1 }, { NULL, FALSE, -1 }, { "-1:00", FALSE, -1 },
    { "09:00\n", FALSE, -1 }, { "25:00", TRUE, -1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    guint m = 9999;
    gboolean ok = tv_schedule_parse_hhmm (cases[i].text, cases[i].end, "start", &m, &error);
    if (cases[i].expect >= 0) {
      g_assert_no_error (error);
      g_assert_cmpuint (m, ==, (guint) cases[i].expect);
      char buf[6];
      g_assert_cmpstr (tv_schedule_format_hhmm (m, buf), ==, cases[i].text);
    } else {
      g_assert_false (ok);
      g_assert_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID);
      g_assert_nonnull (strstr (error->message, "start"));
    }
  }
}

static void
test_parse_date (void)
{
  struct { const char *text; gboolean ok; } cases[] = {
    { "2026-12-24", TRUE }, { "2028-02-29", TRUE }, { "2026-02-29", FALSE }, { "2026-13-01", FALSE },
    { "2026-00-10", FALSE }, { "2026-04-31", FALSE }, { "2026-1-01", FALSE }, { "20261224", FALSE },
    { "2026-W52-4", FALSE }, { "2026-358", FALSE }, { "2026-12-24T00:00", FALSE }, { "", FALSE },
    { NULL, FALSE }, { "0000-01-01", FALSE }, { "2026/12/24", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    GDate d;
    gboolean ok = tv_schedule_parse_date (cases[i].text, "date", &d, &error);
    g_assert_cmpint (ok, ==, cases[i].ok);
    if (ok) {
      g_autofree char *back = tv_schedule_format_date (&d);
      g_assert_cmpstr (back, ==, cases[i].text);
    } else {
      g_assert_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID);
      g_assert_nonnull (strstr (error->message, "date"));
    }
  }
}

static void
test_parse_rfc3339 (void)
{
  struct { const char *text; const char *utc; } cases[] = {
    { "2026-03-29T09:00:00+02:00", "2026-03-29T07:00:00+00:00" },
    { "2026-03-29T09:00:00Z", "2026-03-29T09:00:00+00:00" },
    { "2026-03-29t09:00:00z", "2026-03-29T09:00:00+00:00" },
    { "2026-03-29T09:00:00-05:30", "2026-03-29T14:30:00+00:00" },
    { "2026-03-29T09:00:00.250+00:00", "2026-03-29T09:00:00.250000+00:00" },
    { "2026-03-29T09:00:00", NULL },            /* no offset */
    { "2026-03-29T09:00:00+02", NULL },         /* offset without minutes */
    { "2026-03-29T09:00Z", NULL },              /* no seconds */
    { "2026-03-29 09:00:00Z", NULL },
    { "2026-02-30T09:00:00Z", NULL },           /* no such day */
    { "2026-03-29T25:00:00Z", NULL },
    { "2026-W13-7T09:00:00Z", NULL },           /* ISO week date */
    { "20260329T090000Z", NULL },               /* ISO basic format */
    { "2026-03-29T09:00:00.Z", NULL },
    { "1969-12-31T23:59:59Z", NULL },           /* before the epoch */
    { "tomorrow", NULL }, { "", NULL }, { NULL, NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    gint64 us = 0;
    gboolean ok = tv_schedule_parse_rfc3339 (cases[i].text, "from", &us, &error);
    if (cases[i].utc != NULL) {
      g_assert_no_error (error);
      g_autofree char *back = tv_schedule_format_rfc3339 (us, NULL);
      g_assert_cmpstr (back, ==, cases[i].utc);
    } else {
      g_assert_false (ok);
      g_assert_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID);
      g_assert_nonnull (strstr (error->message, "from"));
    }
  }
  /* formatting in a zone shows that zone's offset on that date */
  g_autoptr (GTimeZone) ny = tv_schedule_timezone_new ("America/New_York", NULL);
  g_autofree char *a = tv_schedule_format_rfc3339 (t ("2026-07-01T12:00:00Z"), ny);
  g_autofree char *b = tv_schedule_format_rfc3339 (t ("2026-12-01T12:00:00Z"), ny);
  g_assert_cmpstr (a, ==, "2026-07-01T08:00:00-04:00");
  g_assert_cmpstr (b, ==, "2026-12-01T07:00:00-05:00");
}

static void
test_timezone_and_slot_minutes (void)
{
  const char *good[] = { "Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata" };
  const char *bad[] = { "", "Nowhere/Nothing", "Europe/Berlin/x", NULL };
  for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GTimeZone) tz = tv_schedule_timezone_new (good[i], &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_time_zone_get_identifier (tz), ==, good[i]);
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GTimeZone) tz = tv_schedule_timezone_new (bad[i], &error);
    g_assert_null (tz);
    g_assert_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID);
  }
  g_autofree char *long_id = g_strnfill (65, 'A');
  g_assert_null (tv_schedule_timezone_new (long_id, NULL));

  gint64 minutes[] = { 4, 5, 15, 30, 120, 121, 0, -15 };
  gboolean ok[] = { FALSE, TRUE, TRUE, TRUE, TRUE, FALSE, FALSE, FALSE };
  for (guint i = 0; i < G_N_ELEMENTS (minutes); i++)
    g_assert_cmpint (tv_schedule_check_slot_minutes (minutes[i], NULL), ==, ok[i]);
}

static void
test_weekly_validation (void)
{
  struct { TvWeeklyRange r[3]; gsize n; int code; } cases[] = {
    { { { 1, 540, 720 }, { 1, 780, 1020 } }, 2, -1 },
    { { { 1, 540, 720 }, { 1, 720, 780 } }, 2, -1 },                      /* touching */
    { { { 1, 540, 720 }, { 2, 540, 720 } }, 2, -1 },                      /* other day */
    { { { 1, 540, 720 }, { 1, 700, 780 } }, 2, TV_SCHEDULE_ERR_OVERLAP },
    { { { 1, 540, 720 }, { 1, 600, 660 } }, 2, TV_SCHEDULE_ERR_OVERLAP }, /* inside */
    { { { 0, 540, 720 } }, 1, TV_SCHEDULE_ERR_INVALID },                  /* weekday 0 */
    { { { 8, 540, 720 } }, 1, TV_SCHEDULE_ERR_INVALID },
    { { { 1, 720, 540 } }, 1, TV_SCHEDULE_ERR_INVALID },                  /* start after end */
    { { { 1, 540, 540 } }, 1, TV_SCHEDULE_ERR_INVALID },                  /* empty */
    { { { 1, 0, 1441 } }, 1, TV_SCHEDULE_ERR_INVALID },
    { { { 7, 0, 1440 } }, 1, -1 },                                        /* the whole day */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    gboolean ok = tv_schedule_check_weekly_set (cases[i].r, cases[i].n, &error);
    if (cases[i].code < 0) {
      g_assert_no_error (error);
    } else {
      g_assert_false (ok);
      g_assert_error (error, TV_SCHEDULE_ERROR, cases[i].code);
    }
    /* adding one by one to a schedule gives the same verdict, leaving it unchanged on refusal */
    g_autoptr (GTimeZone) tz = g_time_zone_new_utc ();
    g_autoptr (TvSchedule) s = tv_schedule_new (tz, 60);
    gboolean all = TRUE;
    for (gsize j = 0; j < cases[i].n && all; j++)
      all = tv_schedule_add_weekly (s, &cases[i].r[j], NULL);
    g_assert_cmpint (all, ==, cases[i].code < 0);
  }
  TvWeeklyRange many[TV_SCHEDULE_MAX_WEEKLY + 1];
  for (guint i = 0; i < G_N_ELEMENTS (many); i++)
    many[i] = (TvWeeklyRange) { 1 + i % 7, (i / 7) * 20, (i / 7) * 20 + 10 };
  g_assert_true (tv_schedule_check_weekly_set (many, TV_SCHEDULE_MAX_WEEKLY, NULL));
  g_assert_false (tv_schedule_check_weekly_set (many, TV_SCHEDULE_MAX_WEEKLY + 1, NULL));
}

static void
test_exception_validation (void)
{
  GDate d;
  g_assert_true (tv_schedule_parse_date ("2026-12-24", "date", &d, NULL));
  GDate bad;
  g_date_clear (&bad, 1);
  struct { TvScheduleException ex; gboolean ok; } cases[] = {
    { { d, TV_EXCEPTION_OFF, 0, 0 }, TRUE },        /* whole day */
    { { d, TV_EXCEPTION_OFF, 600, 660 }, TRUE },
    { { d, TV_EXCEPTION_EXTRA, 600, 660 }, TRUE },
    { { d, TV_EXCEPTION_EXTRA, 0, 0 }, FALSE },     /* extra needs hours */
    { { d, TV_EXCEPTION_EXTRA, 660, 600 }, FALSE },
    { { d, TV_EXCEPTION_OFF, 600, 1500 }, FALSE },
    { { bad, TV_EXCEPTION_OFF, 0, 0 }, FALSE },
    { { d, (TvExceptionKind) 7, 600, 660 }, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_cmpint (tv_schedule_check_exception (&cases[i].ex, &error), ==, cases[i].ok);
    if (!cases[i].ok)
      g_assert_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID);
  }
  TvExceptionKind k;
  g_assert_true (tv_exception_kind_from_string ("off", &k) && k == TV_EXCEPTION_OFF);
  g_assert_true (tv_exception_kind_from_string ("extra", &k) && k == TV_EXCEPTION_EXTRA);
  g_assert_false (tv_exception_kind_from_string ("OFF", &k));
  g_assert_false (tv_exception_kind_from_string (NULL, &k));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  alarm (60);   /* watchdog: pure computation, a hang is a bug */
  for (guint i = 0; i < G_N_ELEMENTS (slot_cases); i++) {
    g_autofree char *path = g_strdup_printf ("/schedule/slots/%s", slot_cases[i].name);
    g_test_add_data_func (path, &slot_cases[i], test_slot_case);
  }
  g_test_add_func ("/schedule/match-slot", test_match_slot);
  g_test_add_func ("/schedule/range-errors", test_range_errors);
  g_test_add_func ("/schedule/epoch-day", test_epoch_day);
  g_test_add_func ("/schedule/parse/hhmm", test_parse_hhmm);
  g_test_add_func ("/schedule/parse/date", test_parse_date);
  g_test_add_func ("/schedule/parse/rfc3339", test_parse_rfc3339);
  g_test_add_func ("/schedule/validate/timezone-slot-minutes", test_timezone_and_slot_minutes);
  g_test_add_func ("/schedule/validate/weekly", test_weekly_validation);
  g_test_add_func ("/schedule/format/utc", test_format_utc);
  g_test_add_func ("/schedule/validate/exception", test_exception_validation);
  return g_test_run ();
}
