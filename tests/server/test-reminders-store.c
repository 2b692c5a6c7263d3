/* test-reminders-store.c — the reminder outbox and contact details in the store, and the message content.
 *
 * What: offsets parsing (valid and malformed vectors); booking writes one row
 * per offset in the booking's own transaction (a failed booking writes none;
 * offsets already past are "skipped"); reschedule cancels the open rows and
 * adds new ones with SEQUENCE + 1; cancel cancels the open rows and queues a
 * METHOD:CANCEL notice only when something was sent; the sending state
 * machine (claim, retry, sent, failed, settle, recover); contact details
 * (validation, keep / clear, not stored in clear); the message text and the
 * .ics parsed back with libical (UID, DTSTART/DTEND UTC, URL, SEQUENCE,
 * METHOD) and free of clinical words.
 * In-process store on a temporary database; synthetic people only.
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "test-reminders-store"

#include <string.h>

#include <glib.h>
#include <libical/ical.h>

#include "server/tv-join-link.h"
#include "server/tv-reminders-message.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-users.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define HOUR_US ((gint64) 3600 * G_USEC_PER_SEC)

typedef struct {
  const char *dir;
  char *doctor, *patient, *patient2;
} World;

static World w;
static guint w_over_slots;   /* slots taken by test_over */

static TvStore *
open_store (void)
{
  g_autofree char *path = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (tv_join_link_attach (store, w.dir, &error));
  g_assert_no_error (error);
  return store;
}

/* The start of the doctor's (UTC, 15-minute slots) slot @n slots after the next boundary. */
static gint64
slot_start (gint64 now, guint n)
{
  gint64 slot = (gint64) 15 * 60 * G_USEC_PER_SEC;
  return (now / slot + 1 + n) * slot;
}

static char *
book (TvStore *store, const char *patient, gint64 start, gint64 now)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dtok = NULL, *ptok = NULL;
  g_assert_true (tv_store_consult_book (store, w.doctor, patient, start, NULL, now, &c, &dtok, &ptok, &error));
  g_assert_no_error (error);
  return g_strdup (c->id);
}

static GPtrArray *
rows (TvStore *store, const char *consult)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *list = tv_store_reminder_list (store, consult, &error);
  g_assert_no_error (error);
  return list;
}

#define ROW(list, i) ((const TvReminder *) g_ptr_array_index ((list), (i)))

/* ---- offsets ------------------------------------------------------------- */

static void
test_offsets (void)
{
  static const struct { const char *text; guint n; gint64 first; } ok[] = {
    { "24h,15m", 2, 86400 }, { " 15m , 24h ", 2, 86400 }, { "1d", 1, 86400 }, { "90s", 1, 90 },
    { "0s", 1, 0 }, { "none", 0, 0 }, { "", 0, 0 }, { "30d", 1, 30 * 86400 },
    { "1s,2s,3s,4s,5s,6s,7s,8s", 8, 8 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (ok); i++) {
    g_autoptr (GArray) out = NULL;
    g_autoptr (GError) error = NULL;
    if (!tv_reminders_parse_offsets (ok[i].text, &out, &error))
      g_error ("\"%s\" refused: %s", ok[i].text, error->message);
    g_assert_cmpuint (out->len, ==, ok[i].n);
    if (ok[i].n > 0)
      g_assert_cmpint (g_array_index (out, gint64, 0), ==, ok[i].first);
  }
  static const char *const bad[] = {
    "24", "h", "24x", "-1h", "1.5h", "24h,,15m", "31d", "24h,1d", "1s,2s,3s,4s,5s,6s,7s,8s,9s", "15 m",
    "99999999999999999999s", "+5m",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GArray) out = NULL;
    g_autoptr (GError) error = NULL;
    if (tv_reminders_parse_offsets (bad[i], &out, &error))
      g_error ("\"%s\" accepted", bad[i]);
    g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
    g_assert_nonnull (strstr (error->message, "reminder offsets"));
  }
  g_autofree char *a = tv_reminders_format_offset (86400);
  g_autofree char *b = tv_reminders_format_offset (900);
  g_autofree char *c = tv_reminders_format_offset (90);
  g_autofree char *d = tv_reminders_format_offset (2 * 86400);
  g_assert_cmpstr (a, ==, "24h");
  g_assert_cmpstr (b, ==, "15m");
  g_assert_cmpstr (c, ==, "90s");
  g_assert_cmpstr (d, ==, "2d");
}

/* ---- booking, reschedule, cancel ------------------------------------------ */

static void
test_booking_rows (void)
{
  g_autoptr (TvStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  g_autofree char *def = tv_store_reminders_get_offsets (store, &error);
  g_assert_cmpstr (def, ==, TV_REMINDERS_DEFAULT_OFFSETS);
  g_assert_true (tv_store_reminders_set_offsets (store, "48h, 1h", now, &error));
  g_assert_false (tv_store_reminders_set_offsets (store, "soon", now, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_autofree char *kept = tv_store_reminders_get_offsets (store, NULL);
  g_assert_cmpstr (kept, ==, "48h, 1h");

  /* 3 days ahead: both offsets pending, due at start - offset. */
  gint64 start = slot_start (now, 3 * 96);
  g_autofree char *id = book (store, w.patient, start, now);
  g_autoptr (GPtrArray) list = rows (store, id);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (ROW (list, 0)->offset_s, ==, 48 * 3600);
  g_assert_cmpint (ROW (list, 0)->due_at, ==, start - 48 * HOUR_US);
  g_assert_cmpint (ROW (list, 1)->due_at, ==, start - HOUR_US);
  for (guint i = 0; i < 2; i++) {
    g_assert_cmpint (ROW (list, i)->status, ==, TV_REMINDER_PENDING);
    g_assert_cmpuint (ROW (list, i)->sequence, ==, 0);
    g_assert_cmpint (ROW (list, i)->consult_start, ==, start);
    g_assert_cmpstr (ROW (list, i)->kind, ==, "reminder");
  }

  /* Two hours ahead: 48h is already past -> skipped, 1h pending. */
  gint64 soon = slot_start (now, 8);
  g_autofree char *id2 = book (store, w.patient, soon, now);
  g_autoptr (GPtrArray) list2 = rows (store, id2);
  g_assert_cmpuint (list2->len, ==, 2);
  g_assert_cmpint (ROW (list2, 0)->status, ==, TV_REMINDER_SKIPPED);
  g_assert_cmpstr (ROW (list2, 0)->last_error, ==, "due before booking");
  g_assert_cmpint (ROW (list2, 1)->status, ==, TV_REMINDER_PENDING);

  /* A refused booking (slot taken) writes no reminder rows. */
  gint64 before = tv_test_store_int (w.dir, "SELECT count(*) FROM reminders");
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dt = NULL, *pt = NULL;
  g_assert_false (tv_store_consult_book (store, w.doctor, w.patient2, start, NULL, now, &c, &dt, &pt, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_SLOT_TAKEN);
  g_clear_error (&error);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM reminders"), ==, before);

  /* Reschedule: open rows cancelled, new ones for the new time with SEQUENCE 1. */
  gint64 moved = start + 24 * HOUR_US;
  g_autoptr (TvConsult) m = NULL;
  g_autofree char *ptok = NULL;
  g_assert_true (tv_store_consult_reschedule (store, id, moved, now, &m, &ptok, &error));
  g_assert_no_error (error);
  g_autoptr (GPtrArray) list3 = rows (store, id);
  g_assert_cmpuint (list3->len, ==, 4);
  for (guint i = 0; i < 2; i++) {
    g_assert_cmpint (ROW (list3, i)->status, ==, TV_REMINDER_CANCELLED);
    g_assert_cmpstr (ROW (list3, i)->last_error, ==, "rescheduled");
  }
  for (guint i = 2; i < 4; i++) {
    g_assert_cmpint (ROW (list3, i)->status, ==, TV_REMINDER_PENDING);
    g_assert_cmpuint (ROW (list3, i)->sequence, ==, 1);
    g_assert_cmpint (ROW (list3, i)->consult_start, ==, moved);
  }
  g_assert_cmpint (ROW (list3, 3)->due_at, ==, moved - HOUR_US);

  /* Cancel with nothing sent: open rows cancelled, no cancellation notice. */
  g_assert_true (tv_store_consult_cancel (store, id, "cancelled-by-scheduler", now, &error));
  g_autoptr (GPtrArray) list4 = rows (store, id);
  g_assert_cmpuint (list4->len, ==, 4);
  for (guint i = 2; i < 4; i++)
    g_assert_cmpint (ROW (list4, i)->status, ==, TV_REMINDER_CANCELLED);

  /* Three offsets (written two rows to a statement, then one): three rows in the offsets' order. */
  g_assert_true (tv_store_reminders_set_offsets (store, "72h, 24h, 15m", now, &error));
  gint64 later = slot_start (now, 10 * 96);
  g_autofree char *id3 = book (store, w.patient, later, now);
  g_autoptr (GPtrArray) list5 = rows (store, id3);
  g_assert_cmpuint (list5->len, ==, 3);
  const gint64 want[] = { 72 * 3600, 24 * 3600, 15 * 60 };
  for (guint i = 0; i < 3; i++) {
    g_assert_cmpint (ROW (list5, i)->offset_s, ==, want[i]);
    g_assert_cmpint (ROW (list5, i)->due_at, ==, later - want[i] * G_USEC_PER_SEC);
    g_assert_cmpint (ROW (list5, i)->next_attempt_at, ==, later - want[i] * G_USEC_PER_SEC);
    g_assert_cmpint (ROW (list5, i)->status, ==, TV_REMINDER_PENDING);
    g_assert_cmpint (ROW (list5, i)->created_at, ==, now);
    g_assert_cmpint (ROW (list5, i)->consult_end, >, later);
    g_assert_null (ROW (list5, i)->last_error);
    if (i > 0)
      g_assert_cmpint (ROW (list5, i)->id, >, ROW (list5, i - 1)->id);
  }
  g_assert_true (tv_store_reminders_set_offsets (store, TV_REMINDERS_DEFAULT_OFFSETS, now, &error));
}

/* A visit that is over (held, or a no-show) leaves nothing pending: its open
 * messages are cancelled in the same transaction, the sent one stays sent. */
static void
test_over (void)
{
  g_autoptr (TvStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  gint64 start = slot_start (now, 5 * 96 + w_over_slots++);
  g_autofree char *held = book (store, w.patient, start, now);
  g_autoptr (GPtrArray) before = rows (store, held);
  g_assert_cmpuint (before->len, ==, 2);
  g_assert_true (tv_store_consult_media_started (store, held, now, &error));
  g_assert_true (tv_store_consult_complete (store, held, "ended-by-doctor", now + 60 * G_USEC_PER_SEC, &error));
  g_assert_no_error (error);
  g_autoptr (GPtrArray) after = rows (store, held);
  g_assert_cmpuint (after->len, ==, 2);
  for (guint i = 0; i < after->len; i++) {
    g_assert_cmpint (ROW (after, i)->status, ==, TV_REMINDER_CANCELLED);
    g_assert_cmpstr (ROW (after, i)->last_error, ==, "consult held");
  }

  /* A no-show, marked after its start (the store takes "now" as given). */
  gint64 start2 = slot_start (now, 5 * 96 + w_over_slots++);
  g_autofree char *absent = book (store, w.patient2, start2, now);
  g_assert_true (tv_store_consult_no_show (store, absent, start2 + 60 * G_USEC_PER_SEC, &error));
  g_assert_no_error (error);
  g_autoptr (GPtrArray) ns = rows (store, absent);
  g_assert_cmpuint (ns->len, ==, 2);
  for (guint i = 0; i < ns->len; i++) {
    g_assert_cmpint (ROW (ns, i)->status, ==, TV_REMINDER_CANCELLED);
    g_assert_cmpstr (ROW (ns, i)->last_error, ==, "no-show");
  }
}

/* ---- sending state machine ------------------------------------------------ */

static void
test_state_machine (void)
{
  g_autoptr (TvStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  g_assert_true (tv_store_reminders_set_offsets (store, "1h", now, &error));
  gint64 start = slot_start (now, 20 * 96);
  g_autofree char *id = book (store, w.patient2, start, now);
  gint64 due = start - HOUR_US;

  /* Nothing due before its time; claimed (-> sending) at it. */
  g_autoptr (GPtrArray) none = tv_store_reminder_claim_due (store, due - 1, 10, &error);
  for (guint i = 0; i < none->len; i++)
    g_assert_cmpstr (ROW (none, i)->consult_id, !=, id);
  g_autoptr (GPtrArray) due_now = tv_store_reminder_claim_due (store, due, 100, &error);
  const TvReminder *mine = NULL;
  for (guint i = 0; i < due_now->len; i++)
    if (strcmp (ROW (due_now, i)->consult_id, id) == 0)
      mine = ROW (due_now, i);
  g_assert_nonnull (mine);
  g_assert_cmpint (mine->status, ==, TV_REMINDER_SENDING);
  gint64 rid = mine->id;

  /* A failed attempt with a retry time: pending again, attempts 1, the reason kept. */
  g_assert_true (tv_store_reminder_attempt_done (store, rid, FALSE, "Failed sending data (SMTP reply 451)",
                                                 due + 60 * G_USEC_PER_SEC, due, &error));
  g_autoptr (GPtrArray) l1 = rows (store, id);
  g_assert_cmpint (ROW (l1, 0)->status, ==, TV_REMINDER_PENDING);
  g_assert_cmpuint (ROW (l1, 0)->attempts, ==, 1);
  g_assert_cmpint (ROW (l1, 0)->next_attempt_at, ==, due + 60 * G_USEC_PER_SEC);
  g_assert_cmpstr (ROW (l1, 0)->last_error, ==, "Failed sending data (SMTP reply 451)");
  /* Only "sending" rows take an attempt. */
  g_assert_false (tv_store_reminder_attempt_done (store, rid, TRUE, NULL, 0, due, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);

  /* Claimed again; a crash leaves it "sending": recover makes it pending. */
  g_autoptr (GPtrArray) again = tv_store_reminder_claim_due (store, due + 60 * G_USEC_PER_SEC, 100, &error);
  g_assert_cmpuint (again->len, >=, 1);
  guint n = 0;
  g_assert_true (tv_store_reminders_recover (store, due + 61 * G_USEC_PER_SEC, &n, &error));
  g_assert_cmpuint (n, >=, 1);
  g_autoptr (GPtrArray) l2 = rows (store, id);
  g_assert_cmpint (ROW (l2, 0)->status, ==, TV_REMINDER_PENDING);

  /* Sent. */
  g_autoptr (GPtrArray) third = tv_store_reminder_claim_due (store, due + 62 * G_USEC_PER_SEC, 100, &error);
  g_assert_true (tv_store_reminder_attempt_done (store, rid, TRUE, NULL, 0, due + 63 * G_USEC_PER_SEC, &error));
  g_autoptr (GPtrArray) l3 = rows (store, id);
  g_assert_cmpint (ROW (l3, 0)->status, ==, TV_REMINDER_SENT);
  g_assert_cmpuint (ROW (l3, 0)->attempts, ==, 2);
  g_assert_cmpint (ROW (l3, 0)->sent_at, ==, due + 63 * G_USEC_PER_SEC);
  g_assert_null (ROW (l3, 0)->last_error);
  /* Settling a sent row is refused. */
  g_assert_false (tv_store_reminder_settle (store, rid, TV_REMINDER_SKIPPED, "x", now, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);

  /* Cancel after a sent reminder: a cancellation notice, SEQUENCE + 1, due now. */
  gint64 later = due + 64 * G_USEC_PER_SEC;
  g_assert_true (tv_store_consult_cancel (store, id, "cancelled-by-patient", later, &error));
  g_autoptr (GPtrArray) l4 = rows (store, id);
  g_assert_cmpuint (l4->len, ==, 2);
  g_assert_cmpstr (ROW (l4, 1)->kind, ==, "cancellation");
  g_assert_cmpint (ROW (l4, 1)->status, ==, TV_REMINDER_PENDING);
  g_assert_cmpuint (ROW (l4, 1)->sequence, ==, 1);
  g_assert_cmpint (ROW (l4, 1)->due_at, ==, later);

  /* Giving up: a failed attempt without retry time -> failed. */
  g_autoptr (GPtrArray) fourth = tv_store_reminder_claim_due (store, later, 100, &error);
  g_assert_true (tv_store_reminder_attempt_done (store, ROW (l4, 1)->id, FALSE, NULL, 0, later, &error));
  g_autoptr (GPtrArray) l5 = rows (store, id);
  g_assert_cmpint (ROW (l5, 1)->status, ==, TV_REMINDER_FAILED);
  g_assert_cmpstr (ROW (l5, 1)->last_error, ==, "delivery failed");
  g_assert_true (tv_store_reminders_set_offsets (store, TV_REMINDERS_DEFAULT_OFFSETS, now, &error));
}

/* ---- contact details ------------------------------------------------------ */

static void
test_contacts (void)
{
  g_autoptr (TvStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  g_autoptr (TvContact) empty = NULL;
  g_assert_true (tv_store_contact_get (store, w.patient, &empty, &error));
  g_assert_null (empty->email);
  g_assert_null (empty->phone);
  g_assert_cmpint (empty->updated_at, ==, 0);

  static const char *const bad_emails[] = {
    "plain", "@example.org", "a@", "a@b", "a b@example.org", "a@exa mple.org", "a..b@example.org",
    ".a@example.org", "a.@example.org", "a@-example.org", "a@example.org\n", "ä@example.org",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad_emails); i++) {
    g_assert_false (tv_store_contact_set (store, w.patient, bad_emails[i], NULL, now, &error));
    g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
    g_assert_null (strstr (error->message, bad_emails[i]));   /* never echoes the address */
    g_clear_error (&error);
  }
  g_autofree char *long_local = g_strnfill (250, 'a');
  g_autofree char *too_long = g_strdup_printf ("%s@example.org", long_local);
  g_assert_false (tv_store_check_email (too_long, &error));
  g_clear_error (&error);
  static const char *const bad_phones[] = { "12", "call me", "+1 555 0100 ext. 5 ext. 6 ext 777", "1;2;3" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_phones); i++) {
    g_assert_false (tv_store_contact_set (store, w.patient, NULL, bad_phones[i], now, &error));
    g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
    g_clear_error (&error);
  }
  g_assert_false (tv_store_contact_set (store, "00000000-0000-4000-8000-000000000000", "a@example.org", NULL, now,
                                        &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_true (tv_store_contact_set (store, w.patient, "pat.synthetic@example.org", "+1 (555) 010-0199", now,
                                       &error));
  g_assert_no_error (error);
  /* NULL keeps, "" clears. */
  g_assert_true (tv_store_contact_set (store, w.patient, NULL, "", now + 1, &error));
  g_autoptr (TvContact) c = NULL;
  g_assert_true (tv_store_contact_get (store, w.patient, &c, &error));
  g_assert_cmpstr (c->email, ==, "pat.synthetic@example.org");
  g_assert_null (c->phone);
  g_assert_cmpint (c->updated_at, ==, now + 1);
  /* Stored sealed (AES-256-GCM, tv-store-seal.h): the column holds no address. */
  g_autofree char *q = g_strdup_printf ("SELECT count(*) FROM user_contacts WHERE email LIKE 'tvenc1:%%'"
                                        " AND user_id = '%s'", w.patient);
  g_assert_cmpint (tv_test_store_int (w.dir, q), ==, 1);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM user_contacts WHERE email LIKE '%example.org%'"),
                   ==, 0);
}

/* ---- message content -------------------------------------------------------- */

static void
test_message (void)
{
  gint64 start = (gint64) 1924941600 * G_USEC_PER_SEC;   /* 2030-12-31T10:00:00Z */
  TvReminderMessage m = {
    .consult_id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427", .uid_host = "clinic.test", .start = start,
    .end = start + 15 * 60 * G_USEC_PER_SEC, .sequence = 2, .clinic = "Synthetic Clinic",
    .doctor = "Dr. Test Berlin", .time_zone = "Europe/Berlin",
    .join_link = "https://clinic.test/join#token=AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK",
    .organizer = "reminders@clinic.test", .attendee = "pat.synthetic@example.org", .now = start - HOUR_US,
  };
  g_autofree char *text = tv_reminders_message_text (&m);
  g_autofree char *subject = tv_reminders_message_subject (&m);
  g_assert_nonnull (strstr (text, m.join_link));
  g_assert_nonnull (strstr (text, "11:00"));          /* Berlin local time */
  g_assert_nonnull (strstr (text, "Europe/Berlin"));
  g_assert_nonnull (strstr (subject, "31 December 2030, 11:00"));
  static const char *const clinical[] = { "reason", "diagnos", "note", "symptom", "condition" };
  for (guint i = 0; i < G_N_ELEMENTS (clinical); i++) {
    g_assert_null (strstr (text, clinical[i]));
    g_assert_null (strstr (subject, clinical[i]));
  }

  g_autofree char *ics = tv_reminders_message_ics (&m);
  icalcomponent *cal = icalparser_parse_string (ics);
  g_assert_nonnull (cal);
  g_assert_cmpint (icalcomponent_get_method (cal), ==, ICAL_METHOD_REQUEST);
  icalcomponent *ev = icalcomponent_get_first_component (cal, ICAL_VEVENT_COMPONENT);
  g_assert_nonnull (ev);
  g_assert_cmpstr (icalcomponent_get_uid (ev), ==, "1b4e28ba-2fa1-41d2-883f-0016d3cca427@clinic.test");
  struct icaltimetype dt = icalcomponent_get_dtstart (ev);
  g_assert_true (icaltime_is_utc (dt));
  g_assert_cmpint (icaltime_as_timet (dt), ==, start / G_USEC_PER_SEC);
  g_assert_cmpint (icaltime_as_timet (icalcomponent_get_dtend (ev)), ==, start / G_USEC_PER_SEC + 900);
  g_assert_cmpint (icalcomponent_get_sequence (ev), ==, 2);
  icalproperty *url = icalcomponent_get_first_property (ev, ICAL_URL_PROPERTY);
  g_assert_nonnull (url);
  g_assert_cmpstr (icalproperty_get_url (url), ==, m.join_link);
  g_assert_cmpstr (icalcomponent_get_summary (ev), ==, "Video visit - Synthetic Clinic");
  icalcomponent_free (cal);

  m.cancellation = TRUE;
  m.join_link = NULL;
  g_autofree char *cics = tv_reminders_message_ics (&m);
  icalcomponent *ccal = icalparser_parse_string (cics);
  g_assert_cmpint (icalcomponent_get_method (ccal), ==, ICAL_METHOD_CANCEL);
  icalcomponent *cev = icalcomponent_get_first_component (ccal, ICAL_VEVENT_COMPONENT);
  g_assert_cmpint (icalcomponent_get_status (cev), ==, ICAL_STATUS_CANCELLED);
  g_assert_null (icalcomponent_get_first_property (cev, ICAL_URL_PROPERTY));
  icalcomponent_free (ccal);
  g_autofree char *ctext = tv_reminders_message_text (&m);
  g_assert_nonnull (strstr (ctext, "cancelled"));

  /* Headers: RFC 2047 for non-ASCII, RFC 5322 date. */
  g_autofree char *plain = tv_reminders_header_encode ("Synthetic Clinic");
  g_autofree char *enc = tv_reminders_header_encode ("Klinik Ä");
  g_assert_cmpstr (plain, ==, "Synthetic Clinic");
  g_assert_true (g_str_has_prefix (enc, "=?UTF-8?B?") && g_str_has_suffix (enc, "?="));
  g_autofree char *date = tv_reminders_rfc5322_date (start);
  g_assert_cmpstr (date, ==, "Tue, 31 Dec 2030 10:00:00 +0000");
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  w.dir = tv_test_tmpdir ();
  w.doctor = tv_test_create_user (w.dir, "dr.utc", "Dr. Test Utc", TV_ROLE_DOCTOR, "UTC", NULL);
  w.patient = tv_test_create_user (w.dir, "pat.synthetic", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.patient2 = tv_test_create_user (w.dir, "sam.synthetic", "Sam Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  {
    g_autoptr (TvStore) store = open_store ();
    TvWeeklyRange week[7];
    for (guint d = 0; d < 7; d++)
      week[d] = (TvWeeklyRange) { d + 1, 0, 1440 };
    g_autoptr (GError) error = NULL;
    g_assert_true (tv_store_availability_set (store, w.doctor, week, 7, g_get_real_time (), &error));
  }
  g_test_add_func ("/reminders-store/offsets", test_offsets);
  g_test_add_func ("/reminders-store/booking-rows", test_booking_rows);
  g_test_add_func ("/reminders-store/over", test_over);
  g_test_add_func ("/reminders-store/state-machine", test_state_machine);
  g_test_add_func ("/reminders-store/contacts", test_contacts);
  g_test_add_func ("/reminders-store/message", test_message);
  return g_test_run ();
}
