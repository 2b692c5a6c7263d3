/* test-billing-ctl.c — `televisitctl billing list|export|set-status` against a real store file.
 *
 * Why: billing staff may work from the server machine; the tool must show
 * the same lines as the API, export the same CSV, refuse a bad status change
 * without touching any line, and leave audit rows for every read and change.
 * Runs the real binary on a fresh data directory. Main thread only.
 */
#define G_LOG_DOMAIN "test-billing-ctl"

#include <string.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>

#include "server/tv-store-audit.h"
#include "server/tv-store-billing.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-records.h"

#define MIN_US ((gint64) 60 * G_USEC_PER_SEC)
#define T0 ((gint64) 1790000000 * G_USEC_PER_SEC)   /* 2026-09-21 */

typedef struct {
  int status;
  char *out, *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

static Run
ctl (const char *dir, const char *const *args)
{
  Run r = { 0 };
  r.status = tv_test_ctl_run (dir, args, &r.out, &r.err);
  return r;
}

/* A completed consult that had @minutes of media at @start; returns its line id. */
static char *
billed_consult (TvStore *store, const char *patient, gint64 start, gint64 minutes)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dt = NULL, *pt = NULL;
  g_assert_true (tv_store_consult_create (store, "Dr. Synthetic", patient, start, start + (gint64) 3600 * G_USEC_PER_SEC,
                                          start - 1, &c, &dt, &pt, &error));
  g_assert_true (tv_store_consult_media_started (store, c->id, start, &error));
  g_assert_true (tv_store_consult_complete (store, c->id, "ended-by-doctor", start + minutes * MIN_US, &error));
  g_assert_no_error (error);
  g_autoptr (TvBillingLine) l = NULL;
  g_assert_true (tv_store_billing_get_for_consult (store, c->id, &l, &error));
  return g_strdup (l->id);
}

static void
test_ctl_billing (void)
{
  const char *dir = tv_test_tmpdir ();
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_test_store_open (dir);
  g_autofree char *a = billed_consult (store, "Pat, \"One\"", T0, 12);
  g_autofree char *b = billed_consult (store, "Pat Two", T0 + (gint64) 24 * 3600 * G_USEC_PER_SEC, 31);

  /* list: both, then one day; json; bad arguments. */
  const char *l1[] = { "billing", "list", NULL };
  Run r = ctl (dir, l1);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "98004"));
  g_assert_nonnull (strstr (r.out, "98006"));
  g_assert_nonnull (strstr (r.out, "2 line(s), total 185.00"));
  run_clear (&r);
  const char *l2[] = { "billing", "list", "--from", "2026-09-22", "--to", "2026-09-22", "--json", NULL };
  r = ctl (dir, l2);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, b));
  g_assert_null (strstr (r.out, a));
  run_clear (&r);
  const char *l3[] = { "billing", "list", "--status", "lost", NULL };
  r = ctl (dir, l3);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "--status"));
  run_clear (&r);
  const char *l4[] = { "billing", "list", "--from", "yesterday", NULL };
  r = ctl (dir, l4);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "--from"));
  run_clear (&r);

  /* set-status: ready -> paid refused for the batch (exit 3, nothing changed), then submitted, paid. */
  const char *s1[] = { "billing", "set-status", "paid", a, b, NULL };
  r = ctl (dir, s1);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "cannot become paid"));
  run_clear (&r);
  const char *s2[] = { "billing", "set-status", "submitted", a, b, NULL };
  r = ctl (dir, s2);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "2 line(s) now submitted"));
  run_clear (&r);
  const char *s3[] = { "billing", "set-status", "paid", a, NULL };
  r = ctl (dir, s3);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  const char *s4[] = { "billing", "set-status", "paid", "not-an-id", NULL };
  r = ctl (dir, s4);
  g_assert_cmpint (r.status, ==, 1);
  run_clear (&r);
  const char *s5[] = { "billing", "set-status", "paid", "00000000-0000-0000-0000-000000000000", NULL };
  r = ctl (dir, s5);
  g_assert_cmpint (r.status, ==, 3);
  run_clear (&r);

  /* export: the same CSV as the store makes, to stdout and to a 0600 file. */
  const char *e1[] = { "billing", "export", "--status", "paid", NULL };
  r = ctl (dir, e1);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "line_id,consult_id,"));
  g_assert_nonnull (strstr (r.out, "\"Pat, \"\"One\"\"\""));
  g_assert_nonnull (strstr (r.out, ",paid,"));
  g_assert_null (strstr (r.out, b));
  run_clear (&r);
  g_autofree char *file = g_build_filename (dir, "out.csv", NULL);
  const char *e2[] = { "billing", "export", "--output", file, NULL };
  r = ctl (dir, e2);
  g_assert_cmpint (r.status, ==, 0);
  run_clear (&r);
  g_autofree char *csv = NULL;
  g_assert_true (g_file_get_contents (file, &csv, NULL, NULL));
  g_autoptr (GPtrArray) all = tv_store_billing_list (store, 0, 0, NULL, 0, &error);
  g_autofree char *expect = tv_billing_lines_to_csv (all);
  g_assert_cmpstr (csv, ==, expect);
  GStatBuf st;
  g_assert_cmpint (g_stat (file, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* show: the facts (defaults here) and the line. */
  g_autoptr (TvBillingLine) la = NULL;
  g_assert_true (tv_store_billing_get (store, a, &la, &error));
  const char *sh[] = { "show", la->consult_id, NULL };
  r = ctl (dir, sh);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "billing:\n  facts          audio-video, patient at home, established patient (defaults)"));
  g_assert_nonnull (strstr (r.out, "  line           98004 POS 10, 12 min, 55.00 USD, paid"));
  run_clear (&r);
  const char *shj[] = { "show", la->consult_id, "--json", NULL };
  r = ctl (dir, shj);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "\"billing\""));
  g_assert_nonnull (strstr (r.out, "\"code\" : \"98004\""));
  run_clear (&r);

  /* Audited: three status rows by the operator, list and export reads. */
  g_autofree char *me = g_strconcat ("os:", g_get_user_name (), NULL);
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, me, NULL, 0, 0, 0, &error);
  guint status_rows = 0, reads = 0;
  for (guint i = 0; i < rows->len; i++) {
    TvAuditRow *row = g_ptr_array_index (rows, i);
    status_rows += g_str_equal (row->action, "billing.status");
    reads += g_str_has_prefix (row->action, "ctl.billing-");
  }
  g_assert_cmpuint (status_rows, ==, 3);
  g_assert_cmpuint (reads, ==, 4);   /* two lists, two exports; refused commands read nothing */
  tv_test_assert_audit_chain (store);
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/billing-ctl/list-export-set-status", test_ctl_billing);
  return g_test_run ();
}
