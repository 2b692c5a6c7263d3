/* tv-reminders-message.h — what a reminder e-mail says: subject, text, RFC 5545 invitation.
 *
 * Why: pure functions (no store, no network) so the content rules are testable
 * on their own: the message carries the clinic, the date and time in the
 * patient's time zone, the doctor's name and the join link — never a visit
 * reason, note or diagnosis (the store's consult has none to give, and nothing
 * else is passed in). The invitation is made with libical: VEVENT with
 * UID <consult id>@<host>, DTSTART/DTEND in UTC, SUMMARY without clinical
 * details, URL = the join link, SEQUENCE; METHOD:REQUEST for a reminder,
 * METHOD:CANCEL (STATUS:CANCELLED) for a cancellation notice.
 * Thread: any.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *consult_id;    /* UUID */
  const char *uid_host;      /* right-hand side of the UID, e.g. consult.example.org */
  gboolean cancellation;     /* TRUE: METHOD:CANCEL notice; FALSE: reminder */
  gint64 start;              /* µs UTC */
  gint64 end;                /* µs UTC, >= start */
  guint sequence;            /* RFC 5545 SEQUENCE */
  const char *clinic;        /* clinic name (UTF-8) */
  const char *doctor;        /* doctor's display name, NULL = not named */
  const char *time_zone;     /* IANA zone for the text, NULL = UTC */
  const char *join_link;     /* NULL for a cancellation */
  const char *organizer;     /* e-mail address of the sender (ORGANIZER) */
  const char *attendee;      /* e-mail address of the patient (ATTENDEE) */
  gint64 now;                /* DTSTAMP, µs UTC */
} TvReminderMessage;

/* Returns: (transfer full) the subject line (UTF-8, no line breaks). */
char *tv_reminders_message_subject (const TvReminderMessage *m);

/* Returns: (transfer full) the plain text body (UTF-8, CRLF line ends). */
char *tv_reminders_message_text (const TvReminderMessage *m);

/* Returns: (transfer full) the iCalendar object (CRLF, folded by libical). */
char *tv_reminders_message_ics (const TvReminderMessage *m);

/* Returns: (transfer full) @text as an RFC 2047 encoded-word header value
 * ("=?UTF-8?B?...?=") when it is not plain printable ASCII, else a copy. */
char *tv_reminders_header_encode (const char *text);

/* Returns: (transfer full) an RFC 5322 date ("Sat, 28 Nov 2026 19:46:08 +0000") for @us UTC. */
char *tv_reminders_rfc5322_date (gint64 us);

G_END_DECLS
