/* test-billing.c — the billing code table, code selection and the billing store.
 *
 * Why: a wrong code is a wrong claim. Selection is checked at every threshold
 * of the shipped table (one minute below, at, and one second below the next
 * one) for every modality and patient status under both schemes; the table
 * parser with a vector of malformed tables, each of which must be refused
 * with a message naming the group and key; and the store: facts defaults and
 * rules, the billing line written by the completing transaction (and its
 * absence, with the reason, for a short visit), claim status transitions
 * (all-or-nothing bulk, audited), the CSV export (RFC 4180 quoting, no notes),
 * and the note sealed at rest.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "test-billing"

#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "server/tv-billing.h"
#include "server/tv-config.h"
#include "server/tv-billing-codes.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-billing.h"
#include "server/tv-store-users.h"
#include "tests/common/tv-test-fixture.h"

#define MIN_US ((gint64) 60 * G_USEC_PER_SEC)
#define T0 ((gint64) 1790000000 * G_USEC_PER_SEC)

/* ---- the shipped table -------------------------------------------------- */

typedef struct {
  TvBillingScheme scheme;
  TvBillingModality modality;
  TvBillingPatientStatus patient;
  const char *codes[4];
  guint minutes[4];
  const char *modifier;   /* the one modifier expected, or NULL for none */
} Ladder;

static const Ladder LADDERS[] = {
  { TV_BILLING_SCHEME_TELEMEDICINE, TV_BILLING_AUDIO_VIDEO, TV_BILLING_PATIENT_NEW,
    { "98000", "98001", "98002", "98003" }, { 15, 30, 45, 60 }, NULL },
  { TV_BILLING_SCHEME_TELEMEDICINE, TV_BILLING_AUDIO_VIDEO, TV_BILLING_PATIENT_ESTABLISHED,
    { "98004", "98005", "98006", "98007" }, { 10, 20, 30, 40 }, NULL },
  { TV_BILLING_SCHEME_TELEMEDICINE, TV_BILLING_AUDIO_ONLY, TV_BILLING_PATIENT_NEW,
    { "98008", "98009", "98010", "98011" }, { 15, 30, 45, 60 }, NULL },
  { TV_BILLING_SCHEME_TELEMEDICINE, TV_BILLING_AUDIO_ONLY, TV_BILLING_PATIENT_ESTABLISHED,
    { "98012", "98013", "98014", "98015" }, { 10, 20, 30, 40 }, NULL },
  { TV_BILLING_SCHEME_OFFICE_EM, TV_BILLING_AUDIO_VIDEO, TV_BILLING_PATIENT_NEW,
    { "99202", "99203", "99204", "99205" }, { 15, 30, 45, 60 }, "95" },
  { TV_BILLING_SCHEME_OFFICE_EM, TV_BILLING_AUDIO_VIDEO, TV_BILLING_PATIENT_ESTABLISHED,
    { "99212", "99213", "99214", "99215" }, { 10, 20, 30, 40 }, "95" },
  { TV_BILLING_SCHEME_OFFICE_EM, TV_BILLING_AUDIO_ONLY, TV_BILLING_PATIENT_NEW,
    { "99202", "99203", "99204", "99205" }, { 15, 30, 45, 60 }, "93" },
  { TV_BILLING_SCHEME_OFFICE_EM, TV_BILLING_AUDIO_ONLY, TV_BILLING_PATIENT_ESTABLISHED,
    { "99212", "99213", "99214", "99215" }, { 10, 20, 30, 40 }, "93" },
};

static void
expect_code (const TvBillingCodes *codes, const Ladder *l, TvBillingLocation loc, gint64 us, const char *code)
{
  TvBillingChoice c = { 0 };
  g_autofree char *reason = NULL;
  gboolean ok = tv_billing_select (codes, l->scheme, l->modality, l->patient, loc, us, &c, &reason);
  if (code == NULL) {
    g_assert_false (ok);
    g_assert_nonnull (reason);
    g_autofree char *want = g_strdup_printf ("connected %u min, below the %u min minimum for %s",
                                             tv_billing_connected_minutes (us), l->minutes[0], l->codes[0]);
    g_assert_cmpstr (reason, ==, want);
    return;
  }
  g_assert_true (ok);
  g_assert_null (reason);
  g_assert_cmpstr (c.rule->code, ==, code);
  g_assert_cmpuint (c.minutes, ==, tv_billing_connected_minutes (us));
  g_assert_cmpstr (c.pos, ==, loc == TV_BILLING_LOCATION_HOME ? "10" : "02");
  g_assert_cmpint (c.rule->fee_cents, >, 0);
  g_assert_cmpuint (c.rule->scheme, ==, l->scheme);
  if (l->modifier == NULL) {
    g_assert_cmpuint (g_strv_length (c.rule->modifiers), ==, 0);
  } else {
    g_assert_cmpuint (g_strv_length (c.rule->modifiers), ==, 1);
    g_assert_cmpstr (c.rule->modifiers[0], ==, l->modifier);
  }
}

static void
test_select_every_threshold (void)
{
  g_autoptr (TvBillingCodes) codes = tv_billing_codes_new_default ();
  for (gsize i = 0; i < G_N_ELEMENTS (LADDERS); i++) {
    const Ladder *l = &LADDERS[i];
    TvBillingLocation loc = i % 2 ? TV_BILLING_LOCATION_OTHER : TV_BILLING_LOCATION_HOME;
    /* Nothing connected, and one second short of the first threshold. */
    expect_code (codes, l, loc, 0, NULL);
    expect_code (codes, l, loc, l->minutes[0] * MIN_US - G_USEC_PER_SEC, NULL);
    for (gsize k = 0; k < 4; k++) {
      /* Met exactly, and exceeded up to one second before the next threshold. */
      expect_code (codes, l, loc, l->minutes[k] * MIN_US, l->codes[k]);
      if (k + 1 < 4)
        expect_code (codes, l, loc, l->minutes[k + 1] * MIN_US - G_USEC_PER_SEC, l->codes[k]);
    }
    /* Longer than the top: the top code. */
    expect_code (codes, l, loc, 180 * MIN_US, l->codes[3]);
  }
}

static void
test_select_reason_example (void)
{
  g_autoptr (TvBillingCodes) codes = tv_billing_codes_new_default ();
  TvBillingChoice c;
  g_autofree char *reason = NULL;
  g_assert_false (tv_billing_select (codes, TV_BILLING_SCHEME_TELEMEDICINE, TV_BILLING_AUDIO_ONLY,
                                     TV_BILLING_PATIENT_ESTABLISHED, TV_BILLING_LOCATION_HOME,
                                     7 * MIN_US + (gint64) 59 * G_USEC_PER_SEC, &c, &reason));
  g_assert_cmpstr (reason, ==, "connected 7 min, below the 10 min minimum for 98012");
}

/* ---- the parser -------------------------------------------------------- */

#define TABLE "[table]\ncurrency = USD\npos_home = 10\npos_other = 02\n"
#define RULE(extra) "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = established\n" \
  "minutes = 10\nfee = 55.00\ndescription = Video visit\n" extra

static void
test_parse_valid (void)
{
  const char *text = TABLE RULE ("modifiers = 95;FQ\n")
    "[r2]\nscheme = office-em\ncode = 99212\nmodality = audio-only\npatient = new\nminutes = 0\nfee = 7.5\n"
    "description = Teléfono, 0 min\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (TvBillingCodes) codes = tv_billing_codes_parse (text, strlen (text), "t.conf", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tv_billing_codes_n_rules (codes), ==, 2);
  const TvBillingRule *r1 = tv_billing_codes_rule (codes, 0), *r2 = tv_billing_codes_rule (codes, 1);
  g_assert_cmpstr (r1->code, ==, "98004");
  g_assert_cmpint (r1->fee_cents, ==, 5500);
  g_assert_cmpstr (r1->modifiers[0], ==, "95");
  g_assert_cmpstr (r1->modifiers[1], ==, "FQ");
  g_assert_null (r1->modifiers[2]);
  g_assert_cmpint (r2->fee_cents, ==, 750);
  g_assert_cmpuint (r2->minutes, ==, 0);
  g_assert_cmpstr (tv_billing_codes_currency (codes), ==, "USD");
  /* Not every combination: usable for neither scheme. */
  g_assert_false (tv_billing_codes_check_scheme (codes, TV_BILLING_SCHEME_TELEMEDICINE, &error));
  g_assert_error (error, TV_BILLING_CODES_ERROR, TV_BILLING_CODES_ERR_INVALID);
  g_assert_nonnull (strstr (error->message, "audio-video visits with new patients"));
  g_autofree char *amount = tv_billing_format_amount (123456);
  g_assert_cmpstr (amount, ==, "1234.56");
}

static void
test_parse_invalid (void)
{
  static const struct { const char *text; const char *expect; } cases[] = {
    { "not a key file", "t.conf" },
    { RULE (""), "[table] missing" },
    { "[table]\npos_home = 10\npos_other = 02\n" RULE (""), "[table] currency: missing" },
    { "[table]\ncurrency = usd\npos_home = 10\npos_other = 02\n" RULE (""), "[table] currency: \"usd\"" },
    { "[table]\ncurrency = USD\npos_home = 1\npos_other = 02\n" RULE (""), "[table] pos_home: \"1\"" },
    { TABLE "colour = red\n" RULE (""), "[table] colour: unknown key" },
    { TABLE, "no code groups" },
    { TABLE RULE ("color = red\n"), "[r1] color: unknown key" },
    { TABLE "[r1]\ncode = 98004\n", "[r1] scheme: missing" },
    { TABLE "[r1]\nscheme = medicare\n", "[r1] scheme: \"medicare\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 9800\n", "[r1] code: \"9800\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = video\n", "[r1] modality: \"video\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = old\n",
      "[r1] patient: \"old\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\nminutes = -1\n",
      "[r1] minutes: \"-1\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\nminutes = 1441\n",
      "[r1] minutes: \"1441\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\nminutes = 10\n"
      "fee = 1.234\n", "[r1] fee: \"1.234\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\nminutes = 10\n"
      "fee = -5\n", "[r1] fee: \"-5\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\nminutes = 10\n"
      "fee = 1e3\n", "[r1] fee: \"1e3\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\nminutes = 10\n"
      "fee = 1000000\n", "[r1] fee: \"1000000\"" },
    { TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\nminutes = 10\n"
      "fee = 5\n", "[r1] description: missing" },
    { TABLE RULE ("modifiers = 9\n"), "[r1] modifiers: \"9\"" },
    { TABLE RULE ("modifiers = 95;95\n"), "[r1] modifiers: 95 is listed twice" },
    { TABLE RULE ("modifiers = 95;93;FQ;GT;25\n"), "[r1] modifiers: at most 4" },
    { TABLE RULE ("") "[r2]\nscheme = telemedicine\ncode = 98005\nmodality = audio-video\npatient = established\n"
      "minutes = 10\nfee = 1\ndescription = x\n", "[r2] minutes: 10 is also the threshold of [r1]" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvBillingCodes) codes = tv_billing_codes_parse (cases[i].text, strlen (cases[i].text), "t.conf",
                                                               &error);
    g_assert_null (codes);
    g_assert_nonnull (error);
    g_assert_true (error->domain == TV_BILLING_CODES_ERROR);
    if (strstr (error->message, cases[i].expect) == NULL)
      g_error ("case %" G_GSIZE_FORMAT ": \"%s\" does not contain \"%s\"", i, error->message, cases[i].expect);
  }
  /* A description with a control character. */
  const char *ctl = TABLE "[r1]\nscheme = telemedicine\ncode = 98004\nmodality = audio-video\npatient = new\n"
                    "minutes = 10\nfee = 5\ndescription = a\\tb\n";
  g_autoptr (GError) error = NULL;
  g_assert_null (tv_billing_codes_parse (ctl, strlen (ctl), "t.conf", &error));
  g_assert_nonnull (strstr (error->message, "[r1] description"));
}

static void
test_shipped_file_is_embedded (void)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents ("server/billing-codes.conf", &text, NULL, &error));
  g_assert_cmpstr (text, ==, tv_billing_codes_default_text ());
  g_autoptr (TvBillingCodes) codes = tv_billing_codes_new_default ();
  g_assert_cmpuint (tv_billing_codes_n_rules (codes), ==, 32);
  g_assert_true (tv_billing_codes_check_scheme (codes, TV_BILLING_SCHEME_TELEMEDICINE, NULL));
  g_assert_true (tv_billing_codes_check_scheme (codes, TV_BILLING_SCHEME_OFFICE_EM, NULL));
}

/* ---- the store --------------------------------------------------------- */

static TvStore *
fresh_store (char **path_out)
{
  g_autofree char *path = g_build_filename (tv_test_tmpdir (), "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (path, &error);
  g_assert_no_error (error);
  if (path_out)
    *path_out = g_steal_pointer (&path);
  return store;
}

/* A consult with media connected for @connected_us, not yet completed. */
static char *
consult_with_media (TvStore *store, const char *patient, gint64 start, gint64 connected_us)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dt = NULL, *pt = NULL;
  g_assert_true (tv_store_consult_create (store, "Dr. Synthetic", patient, start, start + (gint64) 3600 * G_USEC_PER_SEC,
                                          start - 1, &c, &dt, &pt, &error));
  g_assert_no_error (error);
  g_assert_true (tv_store_consult_media_started (store, c->id, start, &error));
  g_assert_no_error (error);
  if (connected_us > 0) {
    g_assert_true (tv_store_consult_media_stopped (store, c->id, start + connected_us, &error));
    g_assert_no_error (error);
  }
  return g_strdup (c->id);
}

static void
complete (TvStore *store, const char *id, gint64 at)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_consult_complete (store, id, "ended-by-doctor", at, &error));
  g_assert_no_error (error);
}

static void
set_facts (TvStore *store, const char *id, TvBillingModality m, const char *reason, TvBillingLocation loc,
           TvBillingPatientStatus ps, const char *note)
{
  TvConsultFacts f = { .modality = m, .audio_only_reason = (char *) reason, .location = loc,
                       .patient_status = ps, .note = (char *) note };
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_consult_facts_set (store, id, &f, TV_FACTS_MODALITY | TV_FACTS_LOCATION
                                             | TV_FACTS_PATIENT_STATUS | (note ? TV_FACTS_NOTE : 0),
                                             "doctor-1", T0, NULL, &error));
  g_assert_no_error (error);
}

static void
test_store_facts (void)
{
  g_autoptr (TvStore) store = fresh_store (NULL);
  g_autofree char *id = consult_with_media (store, "Pat Synthetic", T0, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsultFacts) f = NULL;
  g_assert_true (tv_store_consult_facts_get (store, id, &f, &error));
  g_assert_cmpint (f->modality, ==, TV_BILLING_AUDIO_VIDEO);
  g_assert_cmpint (f->location, ==, TV_BILLING_LOCATION_HOME);
  g_assert_cmpint (f->patient_status, ==, TV_BILLING_PATIENT_ESTABLISHED);
  g_assert_cmpint (f->updated_at, ==, 0);
  g_assert_null (f->note);

  /* Audio-only without a reason, audio-video with one, a note with a NUL-ish control char: refused. */
  TvConsultFacts bad = { .modality = TV_BILLING_AUDIO_ONLY };
  g_assert_false (tv_store_consult_facts_set (store, id, &bad, TV_FACTS_MODALITY, "d", T0, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  TvConsultFacts bad2 = { .modality = TV_BILLING_AUDIO_VIDEO, .audio_only_reason = (char *) "x" };
  g_assert_false (tv_store_consult_facts_set (store, id, &bad2, TV_FACTS_MODALITY, "d", T0, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  TvConsultFacts bad3 = { .note = (char *) "a\x01z" };
  g_assert_false (tv_store_consult_facts_set (store, id, &bad3, TV_FACTS_NOTE, "d", T0, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_facts_set (store, "00000000-0000-0000-0000-000000000000", &bad3, 0, "d", T0,
                                              NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);

  set_facts (store, id, TV_BILLING_AUDIO_ONLY, "patient's camera failed", TV_BILLING_LOCATION_OTHER,
             TV_BILLING_PATIENT_NEW, "Synthetic note, with \"quotes\",\ncommas and a newline");
  g_clear_pointer (&f, tv_consult_facts_free);
  g_assert_true (tv_store_consult_facts_get (store, id, &f, &error));
  g_assert_cmpint (f->modality, ==, TV_BILLING_AUDIO_ONLY);
  g_assert_cmpstr (f->audio_only_reason, ==, "patient's camera failed");
  g_assert_cmpint (f->location, ==, TV_BILLING_LOCATION_OTHER);
  g_assert_cmpint (f->patient_status, ==, TV_BILLING_PATIENT_NEW);
  g_assert_cmpstr (f->note, ==, "Synthetic note, with \"quotes\",\ncommas and a newline");
  g_assert_cmpstr (f->set_by, ==, "doctor-1");

  /* A partial update keeps the rest. */
  TvConsultFacts loc = { .location = TV_BILLING_LOCATION_HOME };
  g_assert_true (tv_store_consult_facts_set (store, id, &loc, TV_FACTS_LOCATION, "doctor-1", T0 + 1, NULL, &error));
  g_clear_pointer (&f, tv_consult_facts_free);
  g_assert_true (tv_store_consult_facts_get (store, id, &f, &error));
  g_assert_cmpint (f->location, ==, TV_BILLING_LOCATION_HOME);
  g_assert_cmpint (f->modality, ==, TV_BILLING_AUDIO_ONLY);
  g_assert_nonnull (f->note);

  /* Completed: billed from the facts, which are now final except the note. */
  complete (store, id, T0 + 20 * MIN_US);
  TvConsultFacts vid = { .modality = TV_BILLING_AUDIO_VIDEO };
  g_assert_false (tv_store_consult_facts_set (store, id, &vid, TV_FACTS_MODALITY, "d", T0 + 2, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  TvConsultFacts note = { .note = (char *) "Follow-up in two weeks." };
  g_assert_true (tv_store_consult_facts_set (store, id, &note, TV_FACTS_NOTE, "d", T0 + 3, NULL, &error));
  g_assert_no_error (error);
}

static void
test_store_line_on_complete (void)
{
  g_autofree char *path = NULL;
  g_autoptr (TvStore) store = fresh_store (&path);
  g_autoptr (GError) error = NULL;

  /* Audio-only established at home, 12 min 30 s -> 98012 POS 10. */
  g_autofree char *a = consult_with_media (store, "Pat One", T0, 12 * MIN_US + (gint64) 30 * G_USEC_PER_SEC);
  set_facts (store, a, TV_BILLING_AUDIO_ONLY, "no camera", TV_BILLING_LOCATION_HOME,
             TV_BILLING_PATIENT_ESTABLISHED, "SECRET-NOTE-TEXT, \"quoted\"\r\nline two");
  complete (store, a, T0 + 13 * MIN_US);
  g_autoptr (TvBillingLine) la = NULL;
  g_assert_true (tv_store_billing_get_for_consult (store, a, &la, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (la->code, ==, "98012");
  g_assert_cmpstr (la->pos, ==, "10");
  g_assert_cmpuint (la->minutes, ==, 12);
  g_assert_cmpint (la->fee_cents, ==, 5000);
  g_assert_cmpint (la->status, ==, TV_CLAIM_READY);
  g_assert_cmpint (la->service_at, ==, T0);
  g_assert_cmpstr (la->patient, ==, "Pat One");

  /* Still connected at completion (interval closed by the completion): 25 min A/V new, elsewhere -> 98000 POS 02. */
  g_autofree char *b = consult_with_media (store, "Pat Two", T0 + (gint64) 3600 * G_USEC_PER_SEC, 0);
  set_facts (store, b, TV_BILLING_AUDIO_VIDEO, NULL, TV_BILLING_LOCATION_OTHER, TV_BILLING_PATIENT_NEW, NULL);
  complete (store, b, T0 + (gint64) 3600 * G_USEC_PER_SEC + 25 * MIN_US);
  g_autoptr (TvBillingLine) lb = NULL;
  g_assert_true (tv_store_billing_get_for_consult (store, b, &lb, &error));
  g_assert_cmpstr (lb->code, ==, "98000");
  g_assert_cmpstr (lb->pos, ==, "02");
  g_assert_cmpuint (lb->minutes, ==, 25);

  /* Too short: no line, the reason kept with the facts. */
  g_autofree char *c = consult_with_media (store, "Pat Three", T0 + (gint64) 7200 * G_USEC_PER_SEC, 7 * MIN_US);
  set_facts (store, c, TV_BILLING_AUDIO_ONLY, "no camera", TV_BILLING_LOCATION_HOME,
             TV_BILLING_PATIENT_ESTABLISHED, NULL);
  complete (store, c, T0 + (gint64) 7200 * G_USEC_PER_SEC + 8 * MIN_US);
  g_autoptr (TvBillingLine) lc = NULL;
  g_assert_false (tv_store_billing_get_for_consult (store, c, &lc, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_autoptr (TvConsultFacts) fc = NULL;
  g_assert_true (tv_store_consult_facts_get (store, c, &fc, &error));
  g_assert_cmpstr (fc->unbilled_reason, ==, "connected 7 min, below the 10 min minimum for 98012");

  /* Office E/M configured: the next consult gets 99213-93. Bad settings are refused. */
  g_assert_false (tv_store_billing_configure (store, TV_BILLING_SCHEME_OFFICE_EM, "[table]\n", T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_assert_true (tv_store_billing_configure (store, TV_BILLING_SCHEME_OFFICE_EM, tv_billing_codes_default_text (),
                                             T0, &error));
  g_autofree char *d = consult_with_media (store, "Pat Four", T0 + (gint64) 9000 * G_USEC_PER_SEC, 21 * MIN_US);
  set_facts (store, d, TV_BILLING_AUDIO_ONLY, "no camera", TV_BILLING_LOCATION_HOME,
             TV_BILLING_PATIENT_ESTABLISHED, NULL);
  complete (store, d, T0 + (gint64) 9000 * G_USEC_PER_SEC + 22 * MIN_US);
  g_autoptr (TvBillingLine) ld = NULL;
  g_assert_true (tv_store_billing_get_for_consult (store, d, &ld, &error));
  g_assert_cmpstr (ld->code, ==, "99213");
  g_assert_cmpstr (ld->modifiers, ==, "93");

  /* Lists: by date range and status. */
  g_autoptr (GPtrArray) all = tv_store_billing_list (store, 0, 0, NULL, 0, &error);
  g_assert_cmpuint (all->len, ==, 3);
  g_autoptr (GPtrArray) first_hour = tv_store_billing_list (store, T0, T0 + (gint64) 3600 * G_USEC_PER_SEC, NULL, 0, &error);
  g_assert_cmpuint (first_hour->len, ==, 1);
  TvClaimStatus paid = TV_CLAIM_PAID;
  g_autoptr (GPtrArray) none = tv_store_billing_list (store, 0, 0, &paid, 0, &error);
  g_assert_cmpuint (none->len, ==, 0);

  /* The CSV: header + 3 records, CRLF, quoting; the note never appears. */
  g_autofree char *csv = tv_billing_lines_to_csv (all);
  g_assert_null (strstr (csv, "SECRET-NOTE-TEXT"));
  g_assert_true (g_str_has_prefix (csv, "line_id,consult_id,service_date,"));
  g_auto (GStrv) rows = g_strsplit (csv, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 5);   /* 4 rows + the empty string after the last CRLF */
  g_assert_cmpstr (rows[4], ==, "");
  g_assert_null (strchr (rows[1], '\n'));

  /* The note is sealed at rest: it reads back intact, and neither the
   * database file nor its WAL holds the plaintext. */
  g_autoptr (TvConsultFacts) fa = NULL;
  g_assert_true (tv_store_consult_facts_get (store, a, &fa, &error));
  g_assert_cmpstr (fa->note, ==, "SECRET-NOTE-TEXT, \"quoted\"\r\nline two");
  const char *suffixes[] = { "", "-wal" };
  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++) {
    g_autofree char *file = g_strconcat (path, suffixes[i], NULL);
    g_autofree char *bytes = NULL;
    gsize len = 0;
    if (!g_file_get_contents (file, &bytes, &len, NULL))
      continue;
    g_assert_null (g_strstr_len (bytes, len, "SECRET-NOTE-TEXT"));
  }
}

static void
test_csv_quoting (void)
{
  TvBillingLine l = {
    .id = (char *) "id-1", .consult_id = (char *) "c-1", .service_at = T0, .doctor = (char *) "Dr. A, \"B\"",
    .patient = (char *) "Line\r\nBreak", .code = (char *) "98004", .modifiers = (char *) "95,FQ",
    .pos = (char *) "10", .currency = (char *) "USD", .description = (char *) "Video visit", .fee_cents = 5500,
    .minutes = 12, .status_at = T0, .created_at = T0,
  };
  g_autoptr (GPtrArray) lines = g_ptr_array_new ();
  g_ptr_array_add (lines, &l);
  g_autofree char *csv = tv_billing_lines_to_csv (lines);
  g_assert_nonnull (strstr (csv, ",\"Dr. A, \"\"B\"\"\","));
  g_assert_nonnull (strstr (csv, ",\"Line\r\nBreak\","));
  g_assert_nonnull (strstr (csv, ",\"95,FQ\",10,"));
  g_assert_nonnull (strstr (csv, ",12,55.00,USD,Video visit,ready,"));
  g_assert_true (g_str_has_suffix (csv, "Z\r\n"));

  /* A name that a spreadsheet would run as a formula is shown as text. */
  l.patient = (char *) "=HYPERLINK(\"http://x\")";
  g_autofree char *csv2 = tv_billing_lines_to_csv (lines);
  g_assert_nonnull (strstr (csv2, ",\"'=HYPERLINK(\"\"http://x\"\")\","));
}

static void
test_store_claim_status (void)
{
  g_autoptr (TvStore) store = fresh_store (NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *a = consult_with_media (store, "Pat A", T0, 15 * MIN_US);
  g_autofree char *b = consult_with_media (store, "Pat B", T0 + (gint64) 3600 * G_USEC_PER_SEC, 15 * MIN_US);
  complete (store, a, T0 + 16 * MIN_US);
  complete (store, b, T0 + (gint64) 3600 * G_USEC_PER_SEC + 16 * MIN_US);
  g_autoptr (TvBillingLine) la = NULL, lb = NULL;
  g_assert_true (tv_store_billing_get_for_consult (store, a, &la, &error));
  g_assert_true (tv_store_billing_get_for_consult (store, b, &lb, &error));
  g_assert_cmpstr (la->code, ==, "98004");

  g_assert_false (tv_claim_status_transition_ok (TV_CLAIM_READY, TV_CLAIM_PAID));
  g_assert_false (tv_claim_status_transition_ok (TV_CLAIM_PAID, TV_CLAIM_SUBMITTED));
  g_assert_true (tv_claim_status_transition_ok (TV_CLAIM_DENIED, TV_CLAIM_SUBMITTED));

  gint64 rows_before = 0, broken = 0;
  g_assert_true (tv_store_audit_verify (store, &rows_before, &broken, NULL, &error));

  /* ready -> paid refused, for the whole batch. */
  const char *both[] = { la->id, lb->id, NULL };
  g_assert_false (tv_store_billing_set_status (store, both, TV_CLAIM_PAID, "billing-1", "billing", "127.0.0.1",
                                               T0 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  /* Unknown id in a batch: nothing changes. */
  const char *with_unknown[] = { la->id, "00000000-0000-0000-0000-000000000000", NULL };
  g_assert_false (tv_store_billing_set_status (store, with_unknown, TV_CLAIM_SUBMITTED, "billing-1", "billing",
                                               "127.0.0.1", T0 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  const char *dup[] = { la->id, la->id, NULL };
  g_assert_false (tv_store_billing_set_status (store, dup, TV_CLAIM_SUBMITTED, "u", "billing", "x", T0 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_autoptr (TvBillingLine) again = NULL;
  g_assert_true (tv_store_billing_get (store, la->id, &again, &error));
  g_assert_cmpint (again->status, ==, TV_CLAIM_READY);

  /* Bulk submit, then one paid and one denied, then the denied one resubmitted. */
  g_assert_true (tv_store_billing_set_status (store, both, TV_CLAIM_SUBMITTED, "billing-1", "billing", "127.0.0.1",
                                              T0 + 2, &error));
  g_assert_no_error (error);
  const char *one[] = { la->id, NULL }, *two[] = { lb->id, NULL };
  g_assert_true (tv_store_billing_set_status (store, one, TV_CLAIM_PAID, "billing-1", "billing", "x", T0 + 3, &error));
  g_assert_true (tv_store_billing_set_status (store, two, TV_CLAIM_DENIED, "billing-1", "billing", "x", T0 + 3,
                                              &error));
  g_assert_true (tv_store_billing_set_status (store, two, TV_CLAIM_SUBMITTED, "billing-1", "billing", "x", T0 + 4,
                                              &error));
  g_assert_no_error (error);
  g_autoptr (TvBillingLine) pa = NULL;
  g_assert_true (tv_store_billing_get (store, la->id, &pa, &error));
  g_assert_cmpint (pa->status, ==, TV_CLAIM_PAID);
  g_assert_cmpint (pa->status_at, ==, T0 + 3);

  /* Five changes, five audit rows, chain intact. */
  gint64 rows_after = 0;
  g_assert_true (tv_store_audit_verify (store, &rows_after, &broken, NULL, &error));
  g_assert_cmpint (broken, ==, 0);
  g_assert_cmpint (rows_after - rows_before, ==, 5);
  g_autoptr (GPtrArray) audit = tv_store_audit_list (store, "billing-1", NULL, 0, 0, 0, &error);
  g_assert_cmpuint (audit->len, ==, 5);
  TvAuditRow *last = g_ptr_array_index (audit, 4);
  g_assert_cmpstr (last->action, ==, "billing.status");
  g_assert_cmpstr (last->detail, ==, "denied->submitted");
  g_assert_cmpstr (last->resource_id, ==, lb->id);
}

static void
test_store_crash_leaves_no_line (void)
{
  /* A crash between the billing line and COMMIT leaves neither the line nor
   * the completion: run the completion in a child with the crash point set. */
  if (g_test_subprocess ()) {
    g_setenv ("TV_STORE_FAULT", "complete-after-billing", TRUE);
    g_autoptr (TvStore) s = tv_store_open (g_getenv ("TEST_DB"), NULL);
    tv_store_consult_complete (s, g_getenv ("TEST_ID"), "ended-by-doctor", T0 + 16 * MIN_US, NULL);
    return;
  }
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  {
    g_autoptr (TvStore) store = fresh_store (&path);
    id = consult_with_media (store, "Pat C", T0, 15 * MIN_US);
  }
  g_setenv ("TEST_DB", path, TRUE);
  g_setenv ("TEST_ID", id, TRUE);
  g_test_trap_subprocess (NULL, (gint64) 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (path, &error);
  g_autoptr (TvConsult) c = NULL;
  g_assert_true (tv_store_consult_get (store, id, &c, &error));
  g_assert_cmpint (c->status, ==, TV_CONSULT_IN_PROGRESS);
  g_autoptr (GPtrArray) lines = tv_store_billing_list (store, 0, 0, NULL, 0, &error);
  g_assert_cmpuint (lines->len, ==, 0);
}

/* ---- configuration ------------------------------------------------------ */

static void
test_config_keys (void)
{
  const char *dir = tv_test_tmpdir ();
  g_autofree char *good = g_build_filename (dir, "codes.conf", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.conf", NULL);
  g_autofree char *partial = g_build_filename (dir, "partial.conf", NULL);
  g_assert_true (g_file_set_contents (good, tv_billing_codes_default_text (), -1, NULL));
  g_assert_true (g_file_set_contents (bad, TABLE "[r1]\nscheme = telemedicine\ncode = 98004\n", -1, NULL));
  g_assert_true (g_file_set_contents (partial, TABLE RULE (""), -1, NULL));

  TvServerConfigAction action;
  g_autoptr (GError) error = NULL;
  char *argv1[] = { "televisit-server", "--billing-codes", good, "--billing-scheme", "office-em",
                    "--payment-instructions", "Pay at the front desk.", NULL };
  g_autoptr (TvServerConfig) cfg = tv_server_config_from_args (7, argv1, &action, &error);
  g_assert_no_error (error);
  g_assert_cmpint (cfg->billing_scheme, ==, TV_BILLING_SCHEME_OFFICE_EM);
  g_assert_cmpstr (cfg->billing_codes_text, ==, tv_billing_codes_default_text ());
  g_assert_cmpstr (cfg->payment_instructions, ==, "Pay at the front desk.");

  /* Errors name the key and, for the table, the group and key in it. */
  char *argv2[] = { "televisit-server", "--billing-codes", bad, NULL };
  g_assert_null (tv_server_config_from_args (3, argv2, &action, &error));
  g_assert_nonnull (strstr (error->message, "billing-codes:"));
  g_assert_nonnull (strstr (error->message, "[r1] modality: missing"));
  g_clear_error (&error);
  char *argv3[] = { "televisit-server", "--billing-scheme", "medicare", NULL };
  g_assert_null (tv_server_config_from_args (3, argv3, &action, &error));
  g_assert_nonnull (strstr (error->message, "billing-scheme: \"medicare\""));
  g_clear_error (&error);
  char *argv4[] = { "televisit-server", "--billing-codes", partial, NULL };
  g_assert_null (tv_server_config_from_args (3, argv4, &action, &error));
  g_assert_nonnull (strstr (error->message, "billing-codes: the table has no telemedicine code"));
  g_clear_error (&error);
  g_autofree char *missing = g_build_filename (dir, "nope.conf", NULL);
  char *argv5[] = { "televisit-server", "--billing-codes", missing, NULL };
  g_assert_null (tv_server_config_from_args (3, argv5, &action, &error));
  g_assert_nonnull (strstr (error->message, "billing-codes:"));
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/billing/select/every-threshold", test_select_every_threshold);
  g_test_add_func ("/billing/select/reason", test_select_reason_example);
  g_test_add_func ("/billing/codes/parse-valid", test_parse_valid);
  g_test_add_func ("/billing/codes/parse-invalid", test_parse_invalid);
  g_test_add_func ("/billing/codes/shipped", test_shipped_file_is_embedded);
  g_test_add_func ("/billing/csv/quoting", test_csv_quoting);
  g_test_add_func ("/billing/store/facts", test_store_facts);
  g_test_add_func ("/billing/store/line-on-complete", test_store_line_on_complete);
  g_test_add_func ("/billing/store/claim-status", test_store_claim_status);
  g_test_add_func ("/billing/store/crash", test_store_crash_leaves_no_line);
  g_test_add_func ("/billing/config/keys", test_config_keys);
  return g_test_run ();
}
