/* test-ctl-schedule.c — televisitctl's scheduling commands on the real binary.
 *
 * What: availability set/show (text and JSON, bad --hours), exceptions
 * add/list/remove, slots (in the doctor's zone, exceptions applied), book
 * (tokens work in the store; the same slot again exits 3 "already booked";
 * misaligned start exits 1), no-show (before the start exits 3, after it 0),
 * unknown doctors, and the help texts. The store is prepared through the store
 * API (users) in a temporary directory; times are far in the future (2031,
 * computed as "a Monday") so no clock matters except for no-show, where the
 * consult is moved into the past with SQL. Synthetic people only.
 * Thread: main thread; each child is waited for with a timeout.
 */
#define G_LOG_DOMAIN "test-ctl-schedule"

#include <string.h>

#include <gio/gio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-schedule.h"
#include "server/tv-store-schedule.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

static const char *dir;

/* Runs televisitctl --data-dir DIR ARGS...; returns the exit status. */
static int
ctl (char **out, char **err, ...) G_GNUC_NULL_TERMINATED;

static int
ctl (char **out, char **err, ...)
{
  g_autofree char *bin = g_build_filename (tv_test_build_dir (), "televisitctl", NULL);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, bin);
  g_ptr_array_add (args, (gpointer) "--data-dir");
  g_ptr_array_add (args, (gpointer) dir);
  va_list ap;
  va_start (ap, err);
  const char *a;
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc = g_subprocess_newv ((const char *const *) args->pdata,
                                                    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                    &error);
  g_assert_no_error (error);
  g_autofree char *o = NULL, *e = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (proc, NULL, NULL, &o, &e, &error));   /* watchdog bounds it */
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  if (out != NULL)
    *out = g_steal_pointer (&o);
  if (err != NULL)
    *err = g_steal_pointer (&e);
  return g_subprocess_get_exit_status (proc);
}

static JsonObject *
parse (const char *text, JsonNode **keep)
{
  *keep = json_from_string (text, NULL);
  g_assert_nonnull (*keep);
  return json_node_get_object (*keep);
}

static void
test_ctl_schedule (void)
{
  tv_test_watchdog_start (60, "ctl schedule");
  dir = tv_test_tmpdir ();
  g_autofree char *doctor = tv_test_create_user (dir, "dr.ctl", "Dr. Test Ctl", TV_ROLE_DOCTOR, "Europe/Berlin",
                                                 NULL);
  g_autofree char *patient = tv_test_create_user (dir, "pat.ctl", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  g_autofree char *out = NULL, *err = NULL;

  /* hours: Monday 09:00-10:00 and 14:00-15:00, Tuesday 09:00-09:30 */
  g_assert_cmpint (ctl (&out, &err, "availability", "set", "dr.ctl", "--hours", "mon=09:00-10:00", "--hours",
                        "1=14:00-15:00", "--hours", "tue=09:00-09:30", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Europe/Berlin"));
  g_assert_nonnull (strstr (out, "mon 14:00-15:00"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (&out, NULL, "availability", "show", doctor, "--json", NULL), ==, 0);
  g_autoptr (JsonNode) j1 = NULL;
  JsonArray *hours = json_object_get_array_member (parse (out, &j1), "hours");
  g_assert_cmpuint (json_array_get_length (hours), ==, 3);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* bad hours change nothing */
  const char *bad_hours[] = { "mon09:00-10:00", "moon=09:00-10:00", "mon=9:00-10:00", "mon=10:00-09:00",
                              "8=09:00-10:00" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_hours); i++) {
    g_assert_cmpint (ctl (NULL, &err, "availability", "set", "dr.ctl", "--hours", bad_hours[i], NULL), ==, 1);
    g_assert_nonnull (strstr (err, "televisitctl availability"));
    g_clear_pointer (&err, g_free);
  }
  g_assert_cmpint (ctl (NULL, &err, "availability", "set", "dr.ctl", "--hours", "mon=09:00-10:00", "--hours",
                        "mon=09:30-11:00", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "overlap"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "availability", "set", "dr.ctl", NULL), ==, 1);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "availability", "show", "pat.ctl", NULL), ==, 3);   /* not a doctor */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "availability", "show", "nobody", NULL), ==, 3);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (&out, NULL, "availability", "show", "dr.ctl", "--json", NULL), ==, 0);
  g_autoptr (JsonNode) j2 = NULL;
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (parse (out, &j2), "hours")), ==, 3);
  g_clear_pointer (&out, g_free);

  /* slots in the week of Monday 2031-01-06 (15-minute slots): Monday 4 + 4, Tuesday 2 */
  const char *from = "2031-01-06T00:00:00+01:00", *to = "2031-01-13T00:00:00+01:00";
  g_assert_cmpint (ctl (&out, NULL, "slots", "dr.ctl", "--from", from, "--to", to, "--json", NULL), ==, 0);
  g_autoptr (JsonNode) j3 = NULL;
  JsonArray *slots = json_object_get_array_member (parse (out, &j3), "slots");
  g_assert_cmpuint (json_array_get_length (slots), ==, 4 + 4 + 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (slots, 0), "start"), ==,
                   "2031-01-06T09:00:00+01:00");
  g_clear_pointer (&out, g_free);

  /* exceptions: Monday off, Saturday extra */
  g_assert_cmpint (ctl (&out, NULL, "exceptions", "add", "dr.ctl", "--date", "2031-01-06", "--kind", "off",
                        "--json", NULL), ==, 0);
  g_autoptr (JsonNode) j4 = NULL;
  g_autofree char *ex_id = g_strdup (json_object_get_string_member (
      json_object_get_object_member (parse (out, &j4), "exception"), "id"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (&out, NULL, "exceptions", "add", "dr.ctl", "--date", "2031-01-11", "--kind", "extra",
                        "--start", "10:00", "--end", "10:30", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "extra 10:00-10:30"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (NULL, &err, "exceptions", "add", "dr.ctl", "--date", "2031-02-29", "--kind", "off",
                        NULL), ==, 1);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "exceptions", "add", "dr.ctl", "--date", "2031-01-07", "--kind", "extra",
                        NULL), ==, 1);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (&out, NULL, "exceptions", "list", "dr.ctl", NULL), ==, 0);
  g_assert_nonnull (strstr (out, ex_id));
  g_assert_nonnull (strstr (out, "2031-01-06  off (whole day)"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (&out, NULL, "slots", "dr.ctl", "--from", from, "--to", to, "--json", NULL), ==, 0);
  g_autoptr (JsonNode) j5 = NULL;
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (parse (out, &j5), "slots")), ==, 2 + 2);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (&out, NULL, "exceptions", "remove", "dr.ctl", ex_id, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (NULL, &err, "exceptions", "remove", "dr.ctl", ex_id, NULL), ==, 3);
  g_clear_pointer (&err, g_free);

  /* book: tokens work; the same slot again is taken; a misaligned start is refused */
  const char *start = "2031-01-06T09:15:00+01:00";
  g_assert_cmpint (ctl (&out, &err, "book", "--doctor", "dr.ctl", "--patient", "pat.ctl", "--start", start, "--json",
                        NULL), ==, 0);
  g_autoptr (JsonNode) j6 = NULL;
  JsonObject *booked = parse (out, &j6);
  const char *id = json_object_get_string_member (booked, "id");
  g_assert_cmpstr (json_object_get_string_member (booked, "scheduled_start"), ==, start);
  g_assert_cmpstr (json_object_get_string_member (booked, "scheduled_end"), ==, "2031-01-06T09:30:00+01:00");
  {
    g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
    g_autoptr (TvStore) store = tv_store_open (db, NULL);
    g_autofree char *cid = NULL;
    TvSigRole role;
    g_assert_true (tv_store_token_lookup (store, json_object_get_string_member (booked, "patient_token"),
                                         g_get_real_time (), &cid, &role, NULL));
    g_assert_cmpstr (cid, ==, id);
    g_assert_cmpint (role, ==, TV_SIG_ROLE_PATIENT);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "book", "--doctor", "dr.ctl", "--patient", patient, "--start",
                        "2031-01-06T08:15:00Z", NULL), ==, 3);
  g_assert_nonnull (strstr (err, "already booked"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "book", "--doctor", "dr.ctl", "--patient", "pat.ctl", "--start",
                        "2031-01-06T09:20:00+01:00", NULL), ==, 1);
  g_assert_nonnull (strstr (err, "slot boundary"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "book", "--doctor", "dr.ctl", "--patient", "pat.ctl", "--start",
                        "2031-01-06T09:30:00", NULL), ==, 1);   /* no offset */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "book", "--doctor", "pat.ctl", "--patient", "pat.ctl", "--start", start, NULL),
                   ==, 3);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "book", "--doctor", "dr.ctl", NULL), ==, 1);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (&out, NULL, "slots", "dr.ctl", "--from", from, "--to", to, NULL), ==, 0);
  g_assert_null (strstr (out, "2031-01-06T09:15:00+01:00  "));   /* booked: no slot starts there any more */
  g_assert_nonnull (strstr (out, "2031-01-06T09:00:00+01:00"));
  g_clear_pointer (&out, g_free);

  /* no-show: not before the start; after it (moved into the past) yes, once */
  g_assert_cmpint (ctl (NULL, &err, "no-show", id, NULL), ==, 3);
  g_assert_nonnull (strstr (err, "not started"));
  g_clear_pointer (&err, g_free);
  gint64 now = g_get_real_time ();
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET scheduled_start = %" G_GINT64_FORMAT
                                          ", scheduled_end = %" G_GINT64_FORMAT " WHERE id = '%s'",
                                          now - G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC,
                                          now - G_GINT64_CONSTANT (2700) * G_USEC_PER_SEC, id);
  tv_test_store_exec (dir, sql);
  g_assert_cmpint (ctl (&out, NULL, "no-show", id, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "no-show"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (NULL, &err, "no-show", id, NULL), ==, 3);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctl (NULL, &err, "no-show", "not-an-id", NULL), ==, 1);
  g_clear_pointer (&err, g_free);

  /* help */
  g_assert_cmpint (ctl (&out, NULL, "help", "availability", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "availability set DOCTOR"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (&out, NULL, "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "book --doctor DOCTOR --patient PATIENT --start RFC3339"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ctl (NULL, &err, "exceptions", "purge", "dr.ctl", NULL), ==, 1);
  g_clear_pointer (&err, g_free);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/ctl-schedule/commands", test_ctl_schedule);
  return g_test_run ();
}
