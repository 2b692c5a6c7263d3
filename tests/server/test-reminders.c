/* test-reminders.c — reminders delivered by the real server to a loopback SMTP sink.
 *
 * What: contact details over the API (who may read and change them, bad
 * input); a booking whose reminder is due at once is delivered to the sink
 * (tests/common/tv-test-smtp.h): envelope and headers, the text carries the
 * join link (a working patient token) and no clinical details, the .ics
 * (text/calendar; method=REQUEST) parses with libical with the consult's
 * UID, DTSTART/DTEND and URL; the row is "sent" and the scheduler sees it in
 * the consult JSON (the patient does not). Retry after 451 twice, then sent;
 * a 550 fails at once without personal data in last_error; a patient
 * without an e-mail address -> skipped; cancel -> pending rows cancelled and
 * nothing delivered; cancel after a sent reminder -> a METHOD:CANCEL notice
 * with SEQUENCE 1; reschedule -> new rows for the new time; televisitctl
 * reminders list and user set-contact; the reminder settings' validation.
 * "Due at once" without a test clock: the booking is made in-process on the
 * server's database right after setting an offset of (start - now - 2 s), so
 * the server's 1 s timer finds it due; every wait is on an outcome (a message
 * in the sink, a row's status) with a timeout. Synthetic people only.
 * Thread: main thread (the sink runs on the default main context).
 */
#define G_LOG_DOMAIN "test-reminders"

#include <string.h>
#include <sys/stat.h>

#include <gio/gio.h>
#include <glib.h>
#include <libical/ical.h>

#include "server/tv-config.h"
#include "server/tv-http.h"
#include "server/tv-join-link.h"
#include "server/tv-reminders-config.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-users.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"
#include "tests/common/tv-test-smtp.h"
#include "tests/common/tv-test-records.h"

#define WAIT_MS 30000
#define SLOT_US ((gint64) 15 * 60 * G_USEC_PER_SEC)
#define PUBLIC_URL "https://clinic.test:8443"

typedef struct {
  TvTestServer *server;
  TvTestSmtp *sink;
  const char *dir;
  char *doctor, *pat, *sam, *kim, *lee, *scheduler;
  char *t_pat, *t_sam, *t_doctor, *t_scheduler;
  guint next_slot;   /* each booking takes its own slot of the doctor */
} World;

static World w;

/* ---- helpers ------------------------------------------------------------- */

static guint
api (const char *method, const char *path, const char *token, const char *body, JsonNode **reply)
{
  guint status = 0;
  tv_test_http (w.server, method, path, token, body, &status, reply);
  return status;
}

static void
expect_error (const char *method, const char *path, const char *token, const char *body, guint status,
              const char *code)
{
  g_autoptr (JsonNode) reply = NULL;
  guint got = api (method, path, token, body, &reply);
  g_autofree char *text = reply != NULL ? json_to_string (reply, FALSE) : g_strdup ("(no body)");
  if (got != status || g_strcmp0 (tv_test_http_error_code (reply), code) != 0)
    g_error ("%s %s %s: want %u %s, got %u %s", method, path, body ? body : "", status, code, got, text);
}

static TvStore *
open_store (void)
{
  g_autofree char *path = g_build_filename (w.dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (tv_join_link_attach (store, w.dir, &error));
  return store;
}

/* A free slot start of the (UTC, 15-minute) doctor, at least 30 min ahead. */
static gint64
next_start (void)
{
  gint64 now = g_get_real_time ();
  return (now / SLOT_US + 2 + w.next_slot++) * SLOT_US;
}

/* Books @patient in-process with one reminder due ~2 s from now. */
static char *
book_due_soon (const char *patient, gint64 *start_out)
{
  g_autoptr (TvStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  gint64 start = next_start ();
  gint64 now = g_get_real_time ();
  g_autofree char *offsets = g_strdup_printf ("%" G_GINT64_FORMAT "s", (start - now) / G_USEC_PER_SEC - 2);
  g_assert_true (tv_store_reminders_set_offsets (store, offsets, now, &error));
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dt = NULL, *pt = NULL;
  gboolean ok = tv_store_consult_book (store, w.doctor, patient, start, w.scheduler, now, &c, &dt, &pt, &error);
  g_assert_true (tv_store_reminders_set_offsets (store, TV_REMINDERS_DEFAULT_OFFSETS, g_get_real_time (), NULL));
  g_assert_no_error (error);
  g_assert_true (ok);
  if (start_out != NULL)
    *start_out = start;
  return g_strdup (c->id);
}

/* Books through the API as the scheduler (default offsets); returns the id. */
static char *
book_api (const char *patient, gint64 start)
{
  g_autofree char *when = tv_http_format_time (start);
  g_autofree char *body = g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}",
                                           w.doctor, patient, when);
  g_autoptr (JsonNode) reply = NULL;
  guint status = api ("POST", "/api/v1/consults", w.t_scheduler, body, &reply);
  g_assert_cmpuint (status, ==, 201);
  return g_strdup (tv_test_json_str (tv_test_http_object (reply, "consult"), "id"));
}

static GPtrArray *
rows (const char *consult)
{
  g_autoptr (TvStore) store = open_store ();
  g_autoptr (GError) error = NULL;
  GPtrArray *list = tv_store_reminder_list (store, consult, &error);
  g_assert_no_error (error);
  return list;
}

#define ROW(list, i) ((const TvReminder *) g_ptr_array_index ((list), (i)))

typedef struct {
  const char *consult;
  guint index;
  TvReminderStatus status;
} RowWait;

static gboolean
row_has_status (gpointer data)
{
  RowWait *rw = data;
  g_autoptr (GPtrArray) list = rows (rw->consult);
  return list->len > rw->index && ROW (list, rw->index)->status == rw->status;
}

static void
wait_row (const char *consult, guint index, TvReminderStatus status)
{
  RowWait rw = { consult, index, status };
  if (!tv_test_wait_until (row_has_status, &rw, WAIT_MS)) {
    g_autoptr (GPtrArray) list = rows (consult);
    g_error ("reminder %u of %s: want %s, have %s (%s)", index, consult, tv_reminder_status_to_string (status),
             list->len > index ? tv_reminder_status_to_string (ROW (list, index)->status) : "no row",
             list->len > index && ROW (list, index)->last_error ? ROW (list, index)->last_error : "-");
  }
}

typedef struct {
  guint want;
} CountWait;

static gboolean
sink_has (gpointer data)
{
  return tv_test_smtp_count (w.sink) >= ((CountWait *) data)->want;
}

static const TvTestSmtpMessage *
wait_message (guint index)
{
  CountWait cw = { index + 1 };
  if (!tv_test_wait_until (sink_has, &cw, WAIT_MS))
    g_error ("the sink got %u messages, want %u", tv_test_smtp_count (w.sink), index + 1);
  return tv_test_smtp_get (w.sink, index);
}

typedef struct {
  int status;
  char *out;
  char *err;
} Run;

static Run
ctl (const char *const *args)
{
  Run r = { 0 };
  r.status = tv_test_ctl_run (w.dir, args, &r.out, &r.err);
  return r;
}

#define CTL(...) ctl ((const char *const[]) { __VA_ARGS__, NULL })

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

static void
put_contact (const char *token, const char *user, const char *body, guint want)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/users/%s/contact", user);
  g_autoptr (JsonNode) reply = NULL;
  guint got = api ("PUT", path, token, body, &reply);
  if (got != want) {
    g_autofree char *text = reply ? json_to_string (reply, FALSE) : NULL;
    g_error ("PUT %s %s: want %u, got %u %s", path, body, want, got, text);
  }
}

/* ---- contact details over the API ------------------------------------------ */

static void
test_contact_api (void)
{
  g_autofree char *path = g_strdup_printf ("/api/v1/users/%s/contact", w.pat);
  g_autofree char *other = g_strdup_printf ("/api/v1/users/%s/contact", w.sam);
  put_contact (w.t_pat, w.pat, "{\"email\":\"pat.synthetic@example.org\",\"phone\":\"+1 555 0100\"}", 200);
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (api ("GET", path, w.t_pat, NULL, &reply), ==, 200);
  JsonObject *c = tv_test_http_object (reply, "contact");
  g_assert_cmpstr (tv_test_json_str (c, "email"), ==, "pat.synthetic@example.org");
  g_assert_cmpstr (tv_test_json_str (c, "phone"), ==, "+1 555 0100");
  g_assert_cmpstr (tv_test_json_str (c, "user_id"), ==, w.pat);

  /* Bad input: a clear error, nothing changed. */
  expect_error ("PUT", path, w.t_pat, "{\"email\":\"not an address\"}", 400, "invalid_field");
  expect_error ("PUT", path, w.t_pat, "{\"phone\":\"call me\"}", 400, "invalid_field");
  expect_error ("PUT", path, w.t_pat, "{\"email\":42}", 400, "invalid_field");
  expect_error ("PUT", path, w.t_pat, "{}", 400, "missing_field");
  g_autoptr (JsonNode) again = NULL;
  api ("GET", path, w.t_pat, NULL, &again);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (again, "contact"), "email"), ==,
                   "pat.synthetic@example.org");

  /* Who: another patient and a doctor may not; the scheduler may. */
  expect_error ("GET", other, w.t_pat, NULL, 403, "forbidden");
  expect_error ("PUT", other, w.t_pat, "{\"email\":\"x@example.org\"}", 403, "forbidden");
  expect_error ("PUT", path, w.t_doctor, "{\"email\":\"x@example.org\"}", 403, "forbidden");
  expect_error ("GET", "/api/v1/users/00000000-0000-4000-8000-000000000000/contact", w.t_scheduler, NULL, 404,
                "not_found");
  expect_error ("GET", path, NULL, NULL, 401, "unauthenticated");
  put_contact (w.t_scheduler, w.kim, "{\"email\":\"kim.synthetic@example.org\"}", 200);
  put_contact (w.t_scheduler, w.lee, "{\"email\":\"lee.synthetic@example.org\"}", 200);
  /* null clears one field and keeps the other. */
  put_contact (w.t_scheduler, w.pat, "{\"phone\":null}", 200);
  g_autoptr (JsonNode) cleared = NULL;
  api ("GET", path, w.t_scheduler, NULL, &cleared);
  JsonObject *cc = tv_test_http_object (cleared, "contact");
  g_assert_true (json_object_get_null_member (cc, "phone"));
  g_assert_cmpstr (tv_test_json_str (cc, "email"), ==, "pat.synthetic@example.org");
  /* Contact details given when the front desk registers a patient. */
  g_autoptr (JsonNode) created = NULL;
  g_assert_cmpuint (api ("POST", "/api/v1/users", w.t_scheduler,
                         "{\"username\":\"ada.synthetic\",\"display_name\":\"Ada Synthetic\","
                         "\"roles\":[\"patient\"],\"email\":\"ada.synthetic@example.org\"}", &created),
                    ==, 201);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (created), "contact_saved"));
  const char *ada = tv_test_json_str (tv_test_http_object (created, "user"), "id");
  g_autofree char *ada_path = g_strdup_printf ("/api/v1/users/%s/contact", ada);
  g_autoptr (JsonNode) ada_contact = NULL;
  g_assert_cmpuint (api ("GET", ada_path, w.t_scheduler, NULL, &ada_contact), ==, 200);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (ada_contact, "contact"), "email"), ==,
                   "ada.synthetic@example.org");
  expect_error ("POST", "/api/v1/users", w.t_scheduler,
                "{\"username\":\"bea.synthetic\",\"display_name\":\"Bea Synthetic\",\"roles\":[\"patient\"],"
                "\"email\":\"bea@\"}", 400, "invalid_field");
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM users WHERE username = 'bea.synthetic'"), ==, 0);

  /* Audited with the patient named. */
  g_autofree char *q = g_strdup_printf ("SELECT count(*) FROM audit WHERE patient_id = '%s' AND action LIKE "
                                        "'%%/contact%%'", w.pat);
  g_assert_cmpint (tv_test_store_int (w.dir, q), >=, 5);
}

/* ---- delivery ----------------------------------------------------------------- */

static char *delivered_consult;

static void
test_deliver (void)
{
  guint before = tv_test_smtp_count (w.sink);
  gint64 start = 0;
  g_autofree char *id = book_due_soon (w.pat, &start);
  const TvTestSmtpMessage *m = wait_message (before);
  wait_row (id, 0, TV_REMINDER_SENT);

  g_assert_cmpstr (m->mail_from, ==, "reminders@clinic.test");
  g_assert_cmpuint (m->rcpt_to->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (m->rcpt_to, 0), ==, "pat.synthetic@example.org");
  g_autofree char *from = tv_test_smtp_header (m, "From");
  g_autofree char *to = tv_test_smtp_header (m, "To");
  g_autofree char *subject = tv_test_smtp_header (m, "Subject");
  g_autofree char *date = tv_test_smtp_header (m, "Date");
  g_autofree char *msgid = tv_test_smtp_header (m, "Message-ID");
  g_autofree char *ctype = tv_test_smtp_header (m, "Content-Type");
  g_assert_cmpstr (from, ==, "reminders@clinic.test");
  g_assert_cmpstr (to, ==, "pat.synthetic@example.org");
  g_assert_nonnull (strstr (subject, "Synthetic Clinic"));
  g_assert_nonnull (date);
  g_assert_true (msgid != NULL && g_str_has_suffix (msgid, "@clinic.test>"));
  g_assert_true (g_str_has_prefix (ctype, "multipart/mixed"));

  g_autofree char *text = tv_test_smtp_part (m, "text/plain", NULL);
  g_assert_nonnull (text);
  const char *link = strstr (text, PUBLIC_URL "/join#token=");
  g_assert_nonnull (link);
  g_autofree char *token = g_strndup (link + strlen (PUBLIC_URL "/join#token="), TV_STORE_TOKEN_CHARS);
  {
    g_autoptr (TvStore) store = open_store ();
    g_autofree char *cid = NULL;
    TvSigRole role = TV_SIG_ROLE_NONE;
    g_autoptr (GError) error = NULL;
    g_assert_true (tv_store_token_lookup (store, token, g_get_real_time (), &cid, &role, &error));
    g_assert_cmpstr (cid, ==, id);
    g_assert_cmpint (role, ==, TV_SIG_ROLE_PATIENT);
  }
  g_assert_nonnull (strstr (text, "Synthetic Clinic"));
  static const char *const clinical[] = { "reason", "diagnos", "note", "symptom" };
  for (guint i = 0; i < G_N_ELEMENTS (clinical); i++)
    g_assert_null (strstr (m->data, clinical[i]));

  g_autofree char *cal_type = NULL;
  g_autofree char *ics = tv_test_smtp_part (m, "text/calendar", &cal_type);
  g_assert_nonnull (ics);
  g_assert_nonnull (strstr (cal_type, "method=REQUEST"));
  icalcomponent *cal = icalparser_parse_string (ics);
  g_assert_nonnull (cal);
  g_assert_cmpint (icalcomponent_get_method (cal), ==, ICAL_METHOD_REQUEST);
  icalcomponent *ev = icalcomponent_get_first_component (cal, ICAL_VEVENT_COMPONENT);
  g_autofree char *uid = g_strdup_printf ("%s@clinic.test", id);
  g_assert_cmpstr (icalcomponent_get_uid (ev), ==, uid);
  g_assert_true (icaltime_is_utc (icalcomponent_get_dtstart (ev)));
  g_assert_cmpint (icaltime_as_timet (icalcomponent_get_dtstart (ev)), ==, start / G_USEC_PER_SEC);
  g_assert_cmpint (icaltime_as_timet (icalcomponent_get_dtend (ev)), ==, (start + SLOT_US) / G_USEC_PER_SEC);
  g_assert_cmpint (icalcomponent_get_sequence (ev), ==, 0);
  icalproperty *url = icalcomponent_get_first_property (ev, ICAL_URL_PROPERTY);
  g_autofree char *full_link = g_strdup_printf (PUBLIC_URL "/join#token=%s", token);
  g_assert_cmpstr (icalproperty_get_url (url), ==, full_link);
  icalcomponent_free (cal);

  g_autoptr (GPtrArray) list = rows (id);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpuint (ROW (list, 0)->attempts, ==, 1);
  g_assert_cmpint (ROW (list, 0)->sent_at, >, 0);

  /* The scheduler sees the reminders on the consult; the patient does not. */
  g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s", id);
  g_autoptr (JsonNode) sreply = NULL;
  g_assert_cmpuint (api ("GET", path, w.t_scheduler, NULL, &sreply), ==, 200);
  JsonObject *sc = tv_test_http_object (sreply, "consult");
  JsonArray *rem = json_object_get_array_member (sc, "reminders");
  g_assert_cmpuint (json_array_get_length (rem), ==, 1);
  JsonObject *r0 = json_array_get_object_element (rem, 0);
  g_assert_cmpstr (tv_test_json_str (r0, "status"), ==, "sent");
  g_assert_cmpstr (tv_test_json_str (r0, "kind"), ==, "reminder");
  g_assert_nonnull (tv_test_json_str (r0, "due_at"));
  g_assert_nonnull (tv_test_json_str (r0, "offset"));
  g_autoptr (JsonNode) preply = NULL;
  g_assert_cmpuint (api ("GET", path, w.t_pat, NULL, &preply), ==, 200);
  g_assert_false (json_object_has_member (tv_test_http_object (preply, "consult"), "reminders"));
  delivered_consult = g_strdup (id);
}

static void
test_retry (void)
{
  guint attempts = tv_test_smtp_attempts (w.sink);
  guint before = tv_test_smtp_count (w.sink);
  tv_test_smtp_refuse_next (w.sink, 2, 451);
  g_autofree char *id = book_due_soon (w.kim, NULL);
  wait_message (before);
  wait_row (id, 0, TV_REMINDER_SENT);
  g_autoptr (GPtrArray) list = rows (id);
  g_assert_cmpuint (ROW (list, 0)->attempts, ==, 3);
  g_assert_null (ROW (list, 0)->last_error);
  g_assert_cmpuint (tv_test_smtp_attempts (w.sink) - attempts, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (tv_test_smtp_get (w.sink, before)->rcpt_to, 0), ==, "kim.synthetic@example.org");
}

static void
test_permanent_failure (void)
{
  guint before = tv_test_smtp_count (w.sink);
  tv_test_smtp_refuse_next (w.sink, 1, 550);
  g_autofree char *id = book_due_soon (w.lee, NULL);
  wait_row (id, 0, TV_REMINDER_FAILED);
  g_autoptr (GPtrArray) list = rows (id);
  g_assert_cmpuint (ROW (list, 0)->attempts, ==, 1);
  g_assert_nonnull (strstr (ROW (list, 0)->last_error, "550"));
  g_assert_null (strchr (ROW (list, 0)->last_error, '@'));
  g_assert_cmpuint (tv_test_smtp_count (w.sink), ==, before);
}

static void
test_no_email (void)
{
  guint before = tv_test_smtp_count (w.sink);
  g_autofree char *id = book_due_soon (w.sam, NULL);
  wait_row (id, 0, TV_REMINDER_SKIPPED);
  g_autoptr (GPtrArray) list = rows (id);
  g_assert_cmpstr (ROW (list, 0)->last_error, ==, "no e-mail address");
  g_assert_cmpuint (ROW (list, 0)->attempts, ==, 0);
  g_assert_cmpuint (tv_test_smtp_count (w.sink), ==, before);
}

static void
test_cancel (void)
{
  /* Booked through the API two days ahead: both default offsets pending. */
  gint64 start = next_start () + (gint64) 2 * 24 * 3600 * G_USEC_PER_SEC;
  g_autofree char *id = book_api (w.pat, start);
  g_autoptr (GPtrArray) list = rows (id);
  g_assert_cmpuint (list->len, ==, 2);
  g_assert_cmpint (ROW (list, 0)->due_at, ==, start - (gint64) 24 * 3600 * G_USEC_PER_SEC);
  g_assert_cmpint (ROW (list, 1)->due_at, ==, start - (gint64) 15 * 60 * G_USEC_PER_SEC);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (ROW (list, i)->status, ==, TV_REMINDER_PENDING);
  g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s/cancel", id);
  g_assert_cmpuint (api ("POST", path, w.t_scheduler, NULL, NULL), ==, 200);
  g_autoptr (GPtrArray) after = rows (id);
  g_assert_cmpuint (after->len, ==, 2);   /* nothing was sent: no cancellation notice */
  for (guint i = 0; i < 2; i++) {
    g_assert_cmpint (ROW (after, i)->status, ==, TV_REMINDER_CANCELLED);
    g_assert_cmpstr (ROW (after, i)->last_error, ==, "consult cancelled");
  }
}

static void
test_reschedule (void)
{
  gint64 start = next_start () + (gint64) 3 * 24 * 3600 * G_USEC_PER_SEC;
  g_autofree char *id = book_api (w.pat, start);
  gint64 moved = start + (gint64) 24 * 3600 * G_USEC_PER_SEC;
  g_autofree char *when = tv_http_format_time (moved);
  g_autofree char *body = g_strdup_printf ("{\"start\":\"%s\"}", when);
  g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s/reschedule", id);
  g_autoptr (JsonNode) reply = NULL;
  g_assert_cmpuint (api ("POST", path, w.t_scheduler, body, &reply), ==, 200);
  g_autoptr (GPtrArray) list = rows (id);
  g_assert_cmpuint (list->len, ==, 4);
  for (guint i = 0; i < 2; i++)
    g_assert_cmpint (ROW (list, i)->status, ==, TV_REMINDER_CANCELLED);
  for (guint i = 2; i < 4; i++) {
    g_assert_cmpint (ROW (list, i)->status, ==, TV_REMINDER_PENDING);
    g_assert_cmpint (ROW (list, i)->consult_start, ==, moved);
    g_assert_cmpuint (ROW (list, i)->sequence, ==, 1);
  }
  g_assert_cmpint (ROW (list, 2)->due_at, ==, moved - (gint64) 24 * 3600 * G_USEC_PER_SEC);
  /* The scheduler's view lists all four with their statuses. */
  g_autoptr (JsonNode) sreply = NULL;
  g_autofree char *get = g_strdup_printf ("/api/v1/consults/%s", id);
  api ("GET", get, w.t_scheduler, NULL, &sreply);
  JsonArray *rem = json_object_get_array_member (tv_test_http_object (sreply, "consult"), "reminders");
  g_assert_cmpuint (json_array_get_length (rem), ==, 4);
  g_assert_cmpstr (tv_test_json_str (json_array_get_object_element (rem, 3), "status"), ==, "pending");
  g_assert_cmpstr (tv_test_json_str (json_array_get_object_element (rem, 3), "offset"), ==, "15m");
}

static void
test_cancel_after_sent (void)
{
  g_assert_nonnull (delivered_consult);
  guint before = tv_test_smtp_count (w.sink);
  g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s/cancel", delivered_consult);
  g_assert_cmpuint (api ("POST", path, w.t_pat, NULL, NULL), ==, 200);
  const TvTestSmtpMessage *m = wait_message (before);
  wait_row (delivered_consult, 1, TV_REMINDER_SENT);
  g_autoptr (GPtrArray) list = rows (delivered_consult);
  g_assert_cmpstr (ROW (list, 1)->kind, ==, "cancellation");
  g_autofree char *cal_type = NULL;
  g_autofree char *ics = tv_test_smtp_part (m, "text/calendar", &cal_type);
  g_assert_nonnull (strstr (cal_type, "method=CANCEL"));
  icalcomponent *cal = icalparser_parse_string (ics);
  g_assert_cmpint (icalcomponent_get_method (cal), ==, ICAL_METHOD_CANCEL);
  icalcomponent *ev = icalcomponent_get_first_component (cal, ICAL_VEVENT_COMPONENT);
  g_autofree char *uid = g_strdup_printf ("%s@clinic.test", delivered_consult);
  g_assert_cmpstr (icalcomponent_get_uid (ev), ==, uid);
  g_assert_cmpint (icalcomponent_get_sequence (ev), ==, 1);
  g_assert_cmpint (icalcomponent_get_status (ev), ==, ICAL_STATUS_CANCELLED);
  icalcomponent_free (cal);
  g_autofree char *text = tv_test_smtp_part (m, "text/plain", NULL);
  g_assert_null (strstr (text, "#token="));   /* no join link for a cancelled visit */
}

static void
test_ctl (void)
{
  g_assert_nonnull (delivered_consult);
  Run r = CTL ("reminders", "list", "--consult", delivered_consult, "--json");
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, r.out, -1, NULL));
  JsonArray *a = json_object_get_array_member (json_node_get_object (json_parser_get_root (p)), "reminders");
  g_assert_cmpuint (json_array_get_length (a), ==, 2);
  g_assert_cmpstr (tv_test_json_str (json_array_get_object_element (a, 0), "status"), ==, "sent");
  g_assert_cmpstr (tv_test_json_str (json_array_get_object_element (a, 1), "kind"), ==, "cancellation");
  g_assert_null (strstr (r.out, "example.org"));
  run_clear (&r);

  Run t = CTL ("reminders", "list");
  g_assert_cmpint (t.status, ==, 0);
  g_assert_nonnull (strstr (t.out, delivered_consult));
  g_assert_nonnull (strstr (t.out, "\tsent\t"));
  g_assert_nonnull (strstr (t.out, "no e-mail address"));
  run_clear (&t);

  Run bad = CTL ("reminders", "list", "--consult", "nope");
  g_assert_cmpint (bad.status, ==, 1);
  g_assert_nonnull (strstr (bad.err, "--consult"));
  run_clear (&bad);
  Run missing = CTL ("reminders", "list", "--consult", "00000000-0000-4000-8000-000000000000");
  g_assert_cmpint (missing.status, ==, 3);
  run_clear (&missing);

  Run sc = CTL ("user", "set-contact", "sam.synthetic", "--email", "sam.synthetic@example.org");
  g_assert_cmpint (sc.status, ==, 0);
  run_clear (&sc);
  Run sb = CTL ("user", "set-contact", "sam.synthetic", "--email", "sam@");
  g_assert_cmpint (sb.status, ==, 1);
  g_assert_nonnull (strstr (sb.err, "--email"));
  run_clear (&sb);
  Run add = CTL ("user", "add", "--username", "ria.synthetic", "--name", "Ria Synthetic", "--role", "patient",
                 "--email", "ria.synthetic@example.org", "--phone", "+44 20 7946 0000");
  g_assert_cmpint (add.status, ==, 0);
  run_clear (&add);
  Run addbad = CTL ("user", "add", "--username", "ria2.synthetic", "--name", "Ria Synthetic", "--role", "patient",
                    "--email", "nope");
  g_assert_cmpint (addbad.status, ==, 1);
  run_clear (&addbad);
  g_assert_cmpint (tv_test_store_int (w.dir, "SELECT count(*) FROM users WHERE username = 'ria2.synthetic'"), ==, 0);
  g_autoptr (JsonNode) reply = NULL;
  g_autofree char *path = g_strdup_printf ("/api/v1/users/%s/contact", w.sam);
  g_assert_cmpuint (api ("GET", path, w.t_scheduler, NULL, &reply), ==, 200);
  g_assert_cmpstr (tv_test_json_str (tv_test_http_object (reply, "contact"), "email"), ==,
                   "sam.synthetic@example.org");
}

static void
test_config (void)
{
  g_autoptr (TvServerConfig) cfg = tv_server_config_new_default ();
  static const struct { const char *key, *value, *needle; } bad[] = {
    { "reminder-offsets", "soon", "reminder-offsets" },
    { "reminder-offsets", "24h,24h", "twice" },
    { "smtp-url", "http://relay.example.org", "smtp-url" },
    { "smtp-url", "smtp://user:pw@relay.example.org", "smtp-url" },
    { "smtp-from", "not-an-address", "smtp-from" },
    { "public-url", "ftp://clinic.example.org", "public-url" },
    { "reminder-retry-seconds", "0", "reminder-retry-seconds" },
    { "reminder-max-attempts", "21", "reminder-max-attempts" },
    { "clinic-name", "", "clinic-name" },
    { "smtp-password-file", "/nonexistent/pw", "smtp-password-file" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    if (tv_server_config_set (cfg, bad[i].key, bad[i].value, &error))
      g_error ("%s = %s accepted", bad[i].key, bad[i].value);
    g_assert_nonnull (strstr (error->message, bad[i].needle));
  }
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_server_config_set (cfg, "smtp-url", "smtps://relay.example.org:465", &error));
  g_assert_true (tv_server_config_set (cfg, "reminder-offsets", "2d, 1h", &error));
  g_assert_true (tv_server_config_set (cfg, "public-url", "https://clinic.example.org/", &error));
  g_assert_cmpstr (cfg->reminders->public_url, ==, "https://clinic.example.org");
  /* smtp-url without smtp-from is refused at the cross-check. */
  g_assert_false (tv_reminders_config_check (cfg->reminders, &error));
  g_assert_nonnull (strstr (error->message, "smtp-from"));
  g_clear_error (&error);

  /* The password file must be owner-only. */
  g_autofree char *pw = g_build_filename (tv_test_tmpdir (), "smtp.pw", NULL);
  g_assert_true (g_file_set_contents (pw, "s3cret-synthetic\n", -1, NULL));
  g_assert_cmpint (chmod (pw, 0644), ==, 0);
  g_assert_false (tv_server_config_set (cfg, "smtp-password-file", pw, &error));
  g_assert_nonnull (strstr (error->message, "chmod 600"));
  g_assert_null (strstr (error->message, "s3cret"));
  g_clear_error (&error);
  g_assert_cmpint (chmod (pw, 0600), ==, 0);
  g_assert_true (tv_server_config_set (cfg, "smtp-password-file", pw, &error));
  g_assert_true (tv_server_config_set (cfg, "smtp-from", "reminders@clinic.example.org", &error));
  g_assert_false (tv_reminders_config_check (cfg->reminders, &error));   /* password without user */
  g_clear_error (&error);
  g_assert_true (tv_server_config_set (cfg, "smtp-user", "relay-user", &error));
  g_assert_true (tv_reminders_config_check (cfg->reminders, &error));

  /* Reminder keys are file keys: a key file with them loads. */
  g_autoptr (TvServerConfig) fcfg = tv_server_config_new_default ();
  const char *kf = "[server]\nreminder-offsets = 48h,2h\nclinic-name = Synthetic Clinic\n";
  g_assert_true (tv_server_config_load_data (fcfg, kf, strlen (kf), "test", &error));
  g_assert_cmpstr (fcfg->reminders->offsets, ==, "48h,2h");
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  w.dir = tv_test_tmpdir ();
  w.doctor = tv_test_create_user (w.dir, "dr.utc", "Dr. Test Utc", TV_ROLE_DOCTOR, "UTC", NULL);
  w.pat = tv_test_create_user (w.dir, "pat.synthetic", "Pat Synthetic", TV_ROLE_PATIENT, "Europe/Berlin", NULL);
  w.sam = tv_test_create_user (w.dir, "sam.synthetic", "Sam Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.kim = tv_test_create_user (w.dir, "kim.synthetic", "Kim Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.lee = tv_test_create_user (w.dir, "lee.synthetic", "Lee Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  w.scheduler = tv_test_create_user (w.dir, "front.desk", "Front Desk", TV_ROLE_SCHEDULER, NULL, NULL);
  {
    g_autoptr (TvStore) store = open_store ();
    TvWeeklyRange week[7];
    for (guint d = 0; d < 7; d++)
      week[d] = (TvWeeklyRange) { d + 1, 0, 1440 };
    g_autoptr (GError) error = NULL;
    g_assert_true (tv_store_availability_set (store, w.doctor, week, 7, g_get_real_time (), &error));
  }
  w.sink = tv_test_smtp_new ();
  g_autofree char *url = tv_test_smtp_url (w.sink);
  g_autofree char *conf = g_build_filename (tv_test_tmpdir (), "server.conf", NULL);
  g_autofree char *text = g_strdup_printf ("[server]\n"
                                           "smtp-url = %s\n"
                                           "smtp-from = reminders@clinic.test\n"
                                           "clinic-name = Synthetic Clinic\n"
                                           "public-url = " PUBLIC_URL "\n"
                                           "reminder-offsets = 24h,15m\n"
                                           "reminder-retry-seconds = 1\n"
                                           "reminder-max-attempts = 4\n"
                                           /* the patient cancels a visit that is
                                            * soon: no notice (test-cancel-rule) */
                                           "patient-cancel-notice = 0\n",
                                           url);
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));
  const char *args[] = { "--config", conf, NULL };
  w.server = tv_test_server_start (w.dir, args);
  w.t_pat = tv_test_login (w.server, "pat.synthetic", NULL);
  w.t_sam = tv_test_login (w.server, "sam.synthetic", NULL);
  w.t_doctor = tv_test_login (w.server, "dr.utc", NULL);
  w.t_scheduler = tv_test_login (w.server, "front.desk", NULL);

  g_test_add_func ("/reminders/config", test_config);
  g_test_add_func ("/reminders/contact-api", test_contact_api);
  g_test_add_func ("/reminders/deliver", test_deliver);
  g_test_add_func ("/reminders/retry-after-451", test_retry);
  g_test_add_func ("/reminders/permanent-failure", test_permanent_failure);
  g_test_add_func ("/reminders/no-email", test_no_email);
  g_test_add_func ("/reminders/cancel", test_cancel);
  g_test_add_func ("/reminders/reschedule", test_reschedule);
  g_test_add_func ("/reminders/cancel-after-sent", test_cancel_after_sent);
  g_test_add_func ("/reminders/ctl", test_ctl);
  int rc = g_test_run ();
  tv_test_server_free (w.server);
  tv_test_smtp_free (w.sink);
  g_free (delivered_consult);
  return rc;
}
