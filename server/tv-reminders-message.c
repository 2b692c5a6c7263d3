/* tv-reminders-message.c — subject, text and RFC 5545 invitation of a reminder (libical).
 *
 * Why: see tv-reminders-message.h. The invitation is built as libical
 * components and serialised by libical (escaping, folding, CRLF), never by
 * hand. Times in the invitation are UTC; the text shows the patient's zone.
 * Thread: any (libical's serialiser keeps no shared state we touch).
 */
#define G_LOG_DOMAIN "tv-reminders"

#include "server/tv-reminders-message.h"

#include <libical/ical.h>
#include <string.h>

static GDateTime *
local_time (gint64 us, const char *zone)
{
  g_autoptr (GTimeZone) tz = zone != NULL ? g_time_zone_new_identifier (zone) : NULL;
  if (tz == NULL)
    tz = g_time_zone_new_utc ();
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  return g_date_time_to_timezone (utc, tz);
}

/* English names: the message must not depend on the server's locale. */
static const char *const weekdays[] = { "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                        "Sunday" };
static const char *const months[] = { "January", "February", "March", "April", "May", "June", "July",
                                      "August", "September", "October", "November", "December" };

/* "Monday 30 November 2026, 14:00 (Europe/Berlin, UTC+01:00)" */
static char *
when_text (gint64 us, const char *zone)
{
  g_autoptr (GDateTime) t = local_time (us, zone);
  g_autofree char *offset = g_date_time_format (t, "%:z");
  return g_strdup_printf ("%s %d %s %d, %02d:%02d (%s, UTC%s)", weekdays[g_date_time_get_day_of_week (t) - 1],
                          g_date_time_get_day_of_month (t), months[g_date_time_get_month (t) - 1],
                          g_date_time_get_year (t), g_date_time_get_hour (t), g_date_time_get_minute (t),
                          zone != NULL ? zone : "UTC", offset);
}

char *
tv_reminders_message_subject (const TvReminderMessage *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_autoptr (GDateTime) t = local_time (m->start, m->time_zone);
  g_autofree char *day = g_strdup_printf ("%d %s %d, %02d:%02d", g_date_time_get_day_of_month (t),
                                          months[g_date_time_get_month (t) - 1], g_date_time_get_year (t),
                                          g_date_time_get_hour (t), g_date_time_get_minute (t));
  return g_strdup_printf ("%s: %s video visit on %s", m->clinic,
                          m->cancellation ? "cancelled" : "your", day);
}

char *
tv_reminders_message_text (const TvReminderMessage *m)
{
  g_return_val_if_fail (m != NULL, NULL);
  g_autofree char *when = when_text (m->start, m->time_zone);
  GString *s = g_string_new (NULL);
  if (m->cancellation) {
    g_string_append_printf (s, "Your video visit with %s has been cancelled.\r\n\r\n", m->clinic);
    g_string_append_printf (s, "It was booked for: %s\r\n", when);
    if (m->doctor != NULL)
      g_string_append_printf (s, "With: %s\r\n", m->doctor);
    g_string_append (s, "\r\nPlease contact the clinic to book a new time.\r\n");
  } else {
    g_string_append_printf (s, "This is a reminder of your video visit with %s.\r\n\r\n", m->clinic);
    g_string_append_printf (s, "When: %s\r\n", when);
    if (m->doctor != NULL)
      g_string_append_printf (s, "With: %s\r\n", m->doctor);
    if (m->join_link != NULL)
      g_string_append_printf (s, "\r\nJoin at the time of your visit with this link:\r\n%s\r\n", m->join_link);
    g_string_append (s, "\r\nThe link is personal: please do not forward this message.\r\n"
                        "The attached invitation adds the visit to your calendar.\r\n");
  }
  return g_string_free (s, FALSE);
}

static struct icaltimetype
ical_utc (gint64 us)
{
  return icaltime_from_timet_with_zone ((time_t) (us / G_USEC_PER_SEC), 0, icaltimezone_get_utc_timezone ());
}

char *
tv_reminders_message_ics (const TvReminderMessage *m)
{
  g_return_val_if_fail (m != NULL && m->consult_id != NULL, NULL);
  icalcomponent *cal = icalcomponent_new_vcalendar ();
  icalcomponent_add_property (cal, icalproperty_new_prodid ("-//Televisit//Reminders//EN"));
  icalcomponent_add_property (cal, icalproperty_new_version ("2.0"));
  icalcomponent_add_property (cal, icalproperty_new_method (m->cancellation ? ICAL_METHOD_CANCEL
                                                                            : ICAL_METHOD_REQUEST));

  icalcomponent *ev = icalcomponent_new_vevent ();
  g_autofree char *uid = g_strdup_printf ("%s@%s", m->consult_id, m->uid_host != NULL ? m->uid_host : "televisit");
  icalcomponent_add_property (ev, icalproperty_new_uid (uid));
  icalcomponent_add_property (ev, icalproperty_new_dtstamp (ical_utc (m->now)));
  icalcomponent_add_property (ev, icalproperty_new_dtstart (ical_utc (m->start)));
  icalcomponent_add_property (ev, icalproperty_new_dtend (ical_utc (MAX (m->end, m->start))));
  icalcomponent_add_property (ev, icalproperty_new_sequence ((int) m->sequence));
  g_autofree char *summary = g_strdup_printf ("Video visit - %s", m->clinic);
  icalcomponent_add_property (ev, icalproperty_new_summary (summary));
  icalcomponent_add_property (ev, icalproperty_new_status (m->cancellation ? ICAL_STATUS_CANCELLED
                                                                           : ICAL_STATUS_CONFIRMED));
  if (m->join_link != NULL) {
    icalcomponent_add_property (ev, icalproperty_new_url (m->join_link));
    icalcomponent_add_property (ev, icalproperty_new_location (m->join_link));
  }
  if (m->organizer != NULL) {
    g_autofree char *mailto = g_strdup_printf ("mailto:%s", m->organizer);
    icalproperty *org = icalproperty_new_organizer (mailto);
    icalproperty_add_parameter (org, icalparameter_new_cn (m->clinic));
    icalcomponent_add_property (ev, org);
  }
  if (m->attendee != NULL) {
    g_autofree char *mailto = g_strdup_printf ("mailto:%s", m->attendee);
    icalproperty *att = icalproperty_new_attendee (mailto);
    icalproperty_add_parameter (att, icalparameter_new_role (ICAL_ROLE_REQPARTICIPANT));
    icalproperty_add_parameter (att, icalparameter_new_rsvp (ICAL_RSVP_FALSE));
    icalcomponent_add_property (ev, att);
  }
  icalcomponent_add_component (cal, ev);

  char *text = icalcomponent_as_ical_string_r (cal);
  icalcomponent_free (cal);
  char *out = g_strdup (text);
  icalmemory_free_buffer (text);
  return out;
}

char *
tv_reminders_header_encode (const char *text)
{
  g_return_val_if_fail (text != NULL, NULL);
  gboolean plain = TRUE;
  for (const char *p = text; *p != '\0' && plain; p++)
    plain = (guchar) *p >= 0x20 && (guchar) *p < 0x7f;
  if (plain)
    return g_strdup (text);
  g_autofree char *b64 = g_base64_encode ((const guchar *) text, strlen (text));
  return g_strdup_printf ("=?UTF-8?B?%s?=", b64);
}

char *
tv_reminders_rfc5322_date (gint64 us)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                      "Nov", "Dec" };
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  return g_strdup_printf ("%s, %02d %s %d %02d:%02d:%02d +0000", days[g_date_time_get_day_of_week (t) - 1],
                          g_date_time_get_day_of_month (t), mons[g_date_time_get_month (t) - 1],
                          g_date_time_get_year (t), g_date_time_get_hour (t), g_date_time_get_minute (t),
                          g_date_time_get_second (t));
}
