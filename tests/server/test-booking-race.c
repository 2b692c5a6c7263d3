/* test-booking-race.c — many concurrent HTTPS bookings for the same slots: one winner per slot.
 *
 * What: two real televisit-server processes share one data directory (so the
 * race reaches SQLite from two processes, not just one event loop). 48
 * booking requests — from four schedulers and from patients booking for
 * themselves — for the same four slots of one doctor are prepared up front and
 * then sent at once over 48 separate TLS connections (tv-test-burst.h), split
 * across both servers. Exactly one request per slot must get 201, every other
 * one 409 with error code slot_taken, and the store must hold exactly one
 * consult that is not cancelled per slot. A second round cancels one winner
 * and races again for that slot: again exactly one winner.
 * Synthetic people only; traffic to 127.0.0.1 only.
 * Thread: main thread; the burst's libcurl multi is driven from it; tv_test watchdog.
 */
#define G_LOG_DOMAIN "test-booking-race"

#include <string.h>

#include <curl/curl.h>
#include <glib.h>

#include "server/tv-schedule.h"
#include "tests/common/tv-test-burst.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define N_SLOTS 4
#define N_SCHEDULERS 4
#define N_PATIENTS 8
#define N_REQUESTS 48   /* >= 32 */

/* Asserts one 201 per slot among the @n requests of @burst (request i for
 * slot @slot_of[i]), every other answer 409 slot_taken.
 * Returns in @winners (N_SLOTS entries, transfer full) the winning consult ids. */
static void
check_one_winner_per_slot (TvTestBurst *burst, const guint *slot_of, guint n, guint n_slots, char **winners)
{
  guint wins[N_SLOTS] = { 0 };
  for (guint i = 0; i < n; i++) {
    g_autoptr (JsonNode) reply = tv_test_burst_reply (burst, i);
    guint status = tv_test_burst_status (burst, i);
    if (status == 201) {
      wins[slot_of[i]]++;
      JsonObject *c = tv_test_http_object (reply, "consult");
      g_assert_nonnull (c);
      g_assert_cmpstr (tv_test_json_str (c, "status"), ==, "scheduled");
      g_free (winners[slot_of[i]]);
      winners[slot_of[i]] = g_strdup (tv_test_json_str (c, "id"));
    } else {
      if (status != 409 || g_strcmp0 (tv_test_http_error_code (reply), "slot_taken") != 0)
        g_error ("slot %u: expected 201 or 409 slot_taken, got %u %s", slot_of[i], status,
                 tv_test_burst_body (burst, i));
    }
  }
  for (guint s = 0; s < n_slots; s++)
    g_assert_cmpuint (wins[s], ==, 1);
  g_test_message ("%u concurrent requests for %u slot(s): %u x 201, %u x 409 slot_taken", n, n_slots, n_slots,
                  n - n_slots);
}

static void
test_race (void)
{
  tv_test_watchdog_start (120, "booking race");
  const char *dir = tv_test_tmpdir ();
  g_autofree char *doctor = tv_test_create_user (dir, "dr.race", "Dr. Test Race", TV_ROLE_DOCTOR, "Europe/Berlin",
                                                 NULL);
  char *schedulers[N_SCHEDULERS], *patients[N_PATIENTS];
  for (guint i = 0; i < N_SCHEDULERS; i++) {
    g_autofree char *name = g_strdup_printf ("desk.%u", i);
    schedulers[i] = tv_test_create_user (dir, name, "Front Desk Synthetic", TV_ROLE_SCHEDULER, NULL, NULL);
  }
  for (guint i = 0; i < N_PATIENTS; i++) {
    g_autofree char *name = g_strdup_printf ("patient.%u", i);
    patients[i] = tv_test_create_user (dir, name, "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  }
  TvTestServer *servers[2] = { tv_test_server_start (dir, NULL), tv_test_server_start (dir, NULL) };
  char *t_sched[N_SCHEDULERS], *t_pat[N_PATIENTS];
  for (guint i = 0; i < N_SCHEDULERS; i++) {
    g_autofree char *name = g_strdup_printf ("desk.%u", i);
    t_sched[i] = tv_test_login (servers[i % 2], name, NULL);
  }
  for (guint i = 0; i < N_PATIENTS; i++) {
    g_autofree char *name = g_strdup_printf ("patient.%u", i);
    t_pat[i] = tv_test_login (servers[i % 2], name, NULL);
  }
  g_autofree char *t_desk0 = g_strdup (t_sched[0]);
  /* Hours every day 09:00-10:00 (15-minute slots), set through the API. */
  g_autofree char *path = g_strdup_printf ("/api/v1/doctors/%s/availability", doctor);
  g_autoptr (GString) hours = g_string_new ("{\"hours\":[");
  for (guint d = 1; d <= 7; d++)
    g_string_append_printf (hours, "%s{\"weekday\":%u,\"start\":\"09:00\",\"end\":\"10:00\"}", d > 1 ? "," : "", d);
  g_string_append (hours, "]}");
  guint status = 0;
  tv_test_http (servers[0], "PUT", path, t_desk0, hours->str, &status, NULL);
  g_assert_cmpuint (status, ==, 200);

  /* The four slots of the day after tomorrow (doctor's zone). */
  g_autoptr (GTimeZone) tz = g_time_zone_new_identifier ("Europe/Berlin");
  g_autoptr (GDateTime) now = g_date_time_new_now (tz);
  g_autoptr (GDateTime) day = g_date_time_add_days (now, 2);
  char *slots[N_SLOTS];
  for (guint s = 0; s < N_SLOTS; s++) {
    g_autoptr (GDateTime) at = g_date_time_new (tz, g_date_time_get_year (day), g_date_time_get_month (day),
                                                g_date_time_get_day_of_month (day), 9, 15 * (int) s, 0);
    slots[s] = tv_schedule_format_rfc3339 (g_date_time_to_unix (at) * G_USEC_PER_SEC, tz);
  }

  /* Every request targets slot i % 4; odd ones come from schedulers (for any
   * patient), even ones from patients for themselves; half go to each server. */
  g_autoptr (TvTestBurst) burst = tv_test_burst_new (servers[0]);
  guint slot_of[N_REQUESTS];
  for (guint i = 0; i < N_REQUESTS; i++) {
    guint slot = i % N_SLOTS;
    guint p = (i / N_SLOTS) % N_PATIENTS;
    g_autofree char *body = NULL;
    const char *token;
    if (i % 2) {
      token = t_sched[(i / 2) % N_SCHEDULERS];
      body = g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}", doctor, patients[p],
                              slots[slot]);
    } else {
      token = t_pat[p];
      body = g_strdup_printf ("{\"doctor_id\":\"%s\",\"start\":\"%s\"}", doctor, slots[slot]);
    }
    slot_of[i] = slot;
    tv_test_burst_add_to (burst, servers[(i / 3) % 2], "POST", "/api/v1/consults", token, body);
  }
  tv_test_burst_run (burst, NULL);   /* one fresh TLS connection per request */
  char *winners[N_SLOTS] = { NULL };
  check_one_winner_per_slot (burst, slot_of, N_REQUESTS, N_SLOTS, winners);

  /* the store agrees: one live consult per slot, nothing else */
  g_autofree char *per_slot = g_strdup_printf (
      "SELECT max(n) FROM (SELECT count(*) AS n FROM consults WHERE doctor_id = '%s'"
      " AND status <> 'cancelled' GROUP BY scheduled_start)", doctor);
  g_autofree char *total = g_strdup_printf ("SELECT count(*) FROM consults WHERE doctor_id = '%s'", doctor);
  g_assert_cmpint (tv_test_store_int (dir, per_slot), ==, 1);
  g_assert_cmpint (tv_test_store_int (dir, total), ==, N_SLOTS);
  g_assert_cmpint (tv_test_store_int (dir, "SELECT count(*) FROM join_tokens"), ==, 2 * N_SLOTS);

  /* Round two: the first slot is cancelled and raced for again by 32 requests. */
  g_autofree char *cancel = g_strdup_printf ("/api/v1/consults/%s/cancel", winners[0]);
  tv_test_http (servers[1], "POST", cancel, t_desk0, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  g_autoptr (TvTestBurst) again = tv_test_burst_new (servers[0]);
  guint slot0[32] = { 0 };
  for (guint i = 0; i < G_N_ELEMENTS (slot0); i++) {
    g_autofree char *body = g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}", doctor,
                                             patients[i % N_PATIENTS], slots[0]);
    tv_test_burst_add_to (again, servers[i % 2], "POST", "/api/v1/consults", t_sched[i % N_SCHEDULERS], body);
  }
  tv_test_burst_run (again, NULL);
  char *winners2[N_SLOTS] = { NULL };
  check_one_winner_per_slot (again, slot0, G_N_ELEMENTS (slot0), 1, winners2);
  g_assert_cmpstr (winners2[0], !=, winners[0]);
  g_assert_cmpint (tv_test_store_int (dir, per_slot), ==, 1);
  g_assert_cmpint (tv_test_store_int (dir, total), ==, N_SLOTS + 1);

  for (guint s = 0; s < N_SLOTS; s++) {
    g_free (slots[s]);
    g_free (winners[s]);
    g_free (winners2[s]);
  }
  for (guint i = 0; i < N_SCHEDULERS; i++) {
    g_free (schedulers[i]);
    g_free (t_sched[i]);
  }
  for (guint i = 0; i < N_PATIENTS; i++) {
    g_free (patients[i]);
    g_free (t_pat[i]);
  }
  tv_test_server_free (servers[0]);
  tv_test_server_free (servers[1]);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  curl_global_init (CURL_GLOBAL_DEFAULT);
  g_test_add_func ("/booking-race/one-winner-per-slot", test_race);
  int rc = g_test_run ();
  curl_global_cleanup ();
  return rc;
}
