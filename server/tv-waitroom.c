/* tv-waitroom.c — the doctor's dashboard feed (see tv-waitroom.h).
 *
 * Why: "today" belongs to the doctor's time zone, not the server's, and the
 * status a doctor needs mixes the store (scheduled, waiting, in progress...)
 * with the live rooms (the patient is connected and waiting since ...). Time
 * zone arithmetic is GLib's (GTimeZone / GDateTime); nothing is parsed by hand.
 * Nothing here logs a name.
 * Thread: the server's main loop.
 */
#define G_LOG_DOMAIN "tv-waitroom"

#include "server/tv-waitroom.h"
#include "server/tv-store-schedule.h"
#include "signaling/tv-sig-message.h"

static GTimeZone *
zone_or_utc (const char *zone)
{
  GTimeZone *tz = zone != NULL && *zone != '\0' ? g_time_zone_new_identifier (zone) : NULL;
  return tz != NULL ? tz : g_time_zone_new_utc ();
}

/* @us (µs UTC) as a GDateTime in @tz. */
static GDateTime *
datetime_at (GTimeZone *tz, gint64 us)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) exact = utc ? g_date_time_add (utc, us % G_USEC_PER_SEC) : NULL;
  return exact ? g_date_time_to_timezone (exact, tz) : NULL;
}

static gint64
to_us (GDateTime *dt)
{
  return g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
}

void
tv_waitroom_day_bounds (const char *zone, gint64 now, gint64 *from, gint64 *to, char **date)
{
  g_autoptr (GTimeZone) tz = zone_or_utc (zone);
  g_autoptr (GDateTime) local = datetime_at (tz, now);
  g_autoptr (GDateTime) start = NULL;
  g_autoptr (GDateTime) end = NULL;

  g_return_if_fail (from != NULL && to != NULL);
  if (local == NULL) {
    *from = *to = 0;
    if (date)
      *date = g_strdup ("1970-01-01");
    return;
  }
  start = g_date_time_new (tz, g_date_time_get_year (local), g_date_time_get_month (local),
                           g_date_time_get_day_of_month (local), 0, 0, 0);
  end = g_date_time_add_days (start, 1);
  /* Zones whose DST change happens at midnight shift 00:00 to 01:00; the
   * next day's start is then still the right bound. */
  *from = to_us (start);
  *to = to_us (end);
  if (date)
    *date = g_date_time_format (local, "%Y-%m-%d");
}

static char *
format_in (GTimeZone *tz, gint64 us)
{
  g_autoptr (GDateTime) dt = datetime_at (tz, us);
  return dt ? g_date_time_format_iso8601 (dt) : g_strdup ("1970-01-01T00:00:00Z");
}

char *
tv_waitroom_dashboard_json (TvStore *store, const char *doctor_id, const char *zone, gint64 now,
                            TvWaitroomLiveFunc live, gpointer live_data, GError **error)
{
  g_autoptr (GTimeZone) tz = zone_or_utc (zone);
  g_autoptr (GPtrArray) consults = NULL;
  g_autoptr (GPtrArray) items = NULL;
  g_autofree char *date = NULL;
  TvConsultFilter filter = { 0 };

  g_return_val_if_fail (store != NULL && doctor_id != NULL, NULL);

  tv_waitroom_day_bounds (zone, now, &filter.from, &filter.to, &date);
  filter.doctor_id = doctor_id;
  filter.limit = TV_SIG_MAX_DASHBOARD_ITEMS;
  consults = tv_store_consult_list_filtered (store, &filter, error);
  if (consults == NULL)
    return NULL;

  items = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_sig_dashboard_item_free);
  for (guint i = 0; i < consults->len; i++) {
    const TvConsult *c = g_ptr_array_index (consults, i);
    TvSigDashboardItem *it = tv_sig_dashboard_item_new ();
    gboolean present = FALSE;
    gint64 since = 0;

    if (live != NULL)
      live (c->id, &present, &since, live_data);
    it->consult_id = g_strdup (c->id);
    it->patient = g_strdup (c->patient);
    it->scheduled_start = format_in (tz, c->scheduled_start);
    it->status = g_strdup (tv_consult_status_to_string (c->status));
    it->patient_present = present;
    it->waiting_since = present && since > 0 ? format_in (tz, since) : NULL;
    g_ptr_array_add (items, it);
  }
  {
    /* The zone as the client will check it: an unknown one was treated as UTC. */
    g_autoptr (GTimeZone) known = zone != NULL && *zone != '\0' ? g_time_zone_new_identifier (zone) : NULL;
    return tv_sig_build_dashboard (date, known != NULL ? zone : "UTC", items);
  }
}
