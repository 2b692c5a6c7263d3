/* test-e2e-billing.c — a real call bills the right code from the doctor's facts.
 *
 * Two real televisit-client processes hold a call through the real server;
 * the doctor's client is given --modality audio-only --audio-only-reason
 * --patient-location other and sends them once paired ("facts", answered by
 * "facts-saved"); the doctor ends the consult with --end-on-exit. The store
 * must then hold exactly one billing line for the consult, with the code the
 * table gives for an audio-only visit of the connected whole minutes, place
 * of service 02, and the facts as sent. Real calls are seconds long, so the
 * server runs with a test code table (--billing-codes) whose thresholds are
 * 0 and 1 minutes; the real table's every threshold is covered by
 * tests/server/test-billing.c. The patient's client is given --modality too
 * and sends nothing (only a doctor's client sends facts; the server's 4202
 * for a patient is covered by test-api-billing).
 * Waits are event-driven under a watchdog. Main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <string.h>

#include "server/tv-store-billing.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"

#define EXIT_TIMEOUT_MS 45000
#define EVENT_TIMEOUT_MS 30000

/* One rule per modality and patient status at 0 minutes, and a 1-minute step
 * for audio-only established patients, so the code tells which was chosen. */
static const char TEST_TABLE[] =
  "[table]\ncurrency = USD\npos_home = 10\npos_other = 02\n"
  "[av-new]\nscheme = telemedicine\ncode = T0001\nmodality = audio-video\npatient = new\nminutes = 0\n"
  "fee = 1.00\ndescription = Test video visit, new\n"
  "[av-est]\nscheme = telemedicine\ncode = T0002\nmodality = audio-video\npatient = established\nminutes = 0\n"
  "fee = 2.00\ndescription = Test video visit\n"
  "[ao-new]\nscheme = telemedicine\ncode = T0003\nmodality = audio-only\npatient = new\nminutes = 0\n"
  "fee = 3.00\ndescription = Test phone visit, new\n"
  "[ao-est-0]\nscheme = telemedicine\ncode = T0004\nmodality = audio-only\npatient = established\nminutes = 0\n"
  "fee = 4.00\nmodifiers = 93\ndescription = Test phone visit, under a minute\n"
  "[ao-est-1]\nscheme = telemedicine\ncode = T0005\nmodality = audio-only\npatient = established\nminutes = 1\n"
  "fee = 5.00\nmodifiers = 93\ndescription = Test phone visit, a minute or more\n";

typedef struct {
  const char *dir;
  const char *id;
} StoreWait;

static gboolean
consult_completed (gpointer data)
{
  StoreWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == TV_CONSULT_COMPLETED;
}

static void
test_call_bills_facts (void)
{
  tv_test_watchdog_start (120, "e2e billing");
  const char *tmp = tv_test_tmpdir ();
  g_autofree char *table = g_build_filename (tmp, "codes.conf", NULL);
  g_assert_true (g_file_set_contents (table, TEST_TABLE, -1, NULL));
  const char *sargs[] = { "--billing-codes", table, "--billing-scheme", "telemedicine", NULL };
  TvTestServer *srv = tv_test_server_start (tv_test_tmpdir (), sargs);
  const char *dir = tv_test_server_get_data_dir (srv);
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);

  const char *pextra[] = { "--duration", "60", "--modality", "audio-video", NULL };
  TvTestClient *patient = tv_test_client_start_headless (srv, "patient", ptok, pextra);
  g_assert_true (tv_test_client_wait_lines (patient, "waiting for the doctor", 1, EVENT_TIMEOUT_MS));
  const char *dextra[] = { "--duration", "4", "--end-on-exit", "--modality", "audio-only", "--audio-only-reason",
                           "patient's camera is broken", "--patient-location", "other", NULL };
  TvTestClient *doctor = tv_test_client_start_headless (srv, "doctor", dtok, dextra);
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);
  if (doctor->status != 0 || patient->status != 0)
    g_test_message ("doctor stderr:\n%s\npatient stderr:\n%s", doctor->err_text, patient->err_text);
  g_assert_cmpint (doctor->status, ==, 0);
  g_assert_cmpint (patient->status, ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (doctor, "facts-saved modality=audio-only location=other"
                                                        " patient=established"), ==, 1);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "facts-saved"), ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "sending facts"), ==, 0);

  StoreWait w = { dir, id };
  g_assert_true (tv_test_wait_until (consult_completed, &w, 10000));
  g_autoptr (TvConsult) rec = tv_test_get_consult (dir, id);
  g_assert_cmpstr (rec->end_reason, ==, "ended-by-doctor");
  g_assert_cmpint (rec->connected_us, >, 0);
  guint minutes = (guint) (rec->connected_us / (60 * G_USEC_PER_SEC));
  g_test_message ("connected %.2f s = %u whole minutes", rec->connected_us / 1e6, minutes);

  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) lines = tv_store_billing_list (store, 0, 0, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (lines->len, ==, 1);
  TvBillingLine *l = g_ptr_array_index (lines, 0);
  g_assert_cmpstr (l->consult_id, ==, id);
  g_assert_cmpstr (l->code, ==, minutes >= 1 ? "T0005" : "T0004");
  g_assert_cmpuint (l->minutes, ==, minutes);
  g_assert_cmpstr (l->pos, ==, "02");
  g_assert_cmpstr (l->modifiers, ==, "93");
  g_assert_cmpint (l->modality, ==, TV_BILLING_AUDIO_ONLY);
  g_assert_cmpint (l->status, ==, TV_CLAIM_READY);
  g_autoptr (TvConsultFacts) f = NULL;
  g_assert_true (tv_store_consult_facts_get (store, id, &f, &error));
  g_assert_cmpstr (f->audio_only_reason, ==, "patient's camera is broken");
  g_assert_cmpint (f->location, ==, TV_BILLING_LOCATION_OTHER);

  tv_test_client_free (doctor);
  tv_test_client_free (patient);
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/e2e/billing/call-bills-facts", test_call_bills_facts);
  return g_test_run ();
}
