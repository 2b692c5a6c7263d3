/* tv-report-ctl.c — `televisitctl report` (see tv-report-ctl.h).
 *
 * Why: the figures of the API's report from the command line, in the same
 * three forms (a readable table, --csv, --json); the read is audited like the
 * other televisitctl reads (action ctl.report).
 * Thread: single-threaded command-line program.
 */
#define G_LOG_DOMAIN "tv-ctl"

#include "server/tv-report-ctl.h"

#include "server/tv-ctl-common.h"
#include "server/tv-report.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-reports.h"

#include <string.h>

#include <json-glib/json-glib.h>

const char TV_SERVER_CTL_REPORT_HELP[] =
  "    report [--from DAY] [--to DAY] [--doctor ID] [--tz ZONE] [--csv|--json|--html]\n"
  "        Operations report per day and per doctor: consults, held, cancelled,\n"
  "        no-shows, median wait from arrival to admission, median connected\n"
  "        minutes, amount billed (claims not denied). DAY is YYYY-MM-DD, both\n"
  "        inclusive (default: the 30 days ending today, at most 366 days); days\n"
  "        are calendar days in ZONE (IANA name, default UTC); --doctor limits it\n"
  "        to one doctor's user id. Prints totals per doctor and per day; --csv\n"
  "        prints the per day and doctor rows as RFC 4180 CSV, --json all of it,\n"
  "        --html the page with charts that the API serves.\n";

static void
print_rows (const char *title, GPtrArray *rows, gboolean day, gboolean doctor)
{
  g_print ("%s\n", title);
  g_print ("%-10s  %-30s  %8s  %6s  %9s  %8s  %11s  %16s  %14s\n", day ? "DAY" : "", doctor ? "DOCTOR" : "",
           "CONSULTS", "HELD", "CANCELLED", "NO-SHOWS", "WAIT (MIN)", "CONNECTED (MIN)", "BILLED");
  for (guint i = 0; i < rows->len; i++) {
    const TvReportRow *r = g_ptr_array_index (rows, i);
    g_autofree char *w = tv_report_format_minutes (r->median_wait_us);
    g_autofree char *c = tv_report_format_minutes (r->median_connected_us);
    g_autofree char *a = tv_report_format_amount (r->billed_cents);
    g_print ("%-10s  %-30s  %8u  %6u  %9u  %8u  %11s  %16s  %10s %s\n", day ? r->day : "",
             doctor ? (r->doctor ? r->doctor : "") : "", r->consults, r->held, r->cancelled, r->no_show,
             *w ? w : "-", *c ? c : "-", a, r->currency ? r->currency : "");
  }
  g_print ("\n");
}

int
tv_server_ctl_report_main (int argc, char **argv, const char *data_dir_opt)
{
  g_return_val_if_fail (argc >= 1, TV_CTL_EXIT_USAGE);
  g_autofree char *data_dir = NULL, *from = NULL, *to = NULL, *doctor = NULL, *tz = NULL;
  gboolean csv = FALSE, json = FALSE, html = FALSE, help = FALSE;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, NULL, NULL },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from, NULL, NULL },
    { "to", 0, 0, G_OPTION_ARG_STRING, &to, NULL, NULL },
    { "doctor", 0, 0, G_OPTION_ARG_STRING, &doctor, NULL, NULL },
    { "tz", 0, 0, G_OPTION_ARG_STRING, &tz, NULL, NULL },
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, NULL, NULL },
    { "html", 0, 0, G_OPTION_ARG_NONE, &html, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL },
  };
  g_autofree char **rest = NULL;
  int n_rest = 0;
  int rc = tv_ctl_parse_command ("report", entries, &help, TV_SERVER_CTL_REPORT_HELP, argc, argv, &rest, &n_rest);
  if (rc >= 0)
    return rc;
  if (n_rest > 0)
    return tv_ctl_usage ("report", NULL, "unexpected argument \"%s\"", rest[0]);
  if (csv + json + html > 1)
    return tv_ctl_usage ("report", NULL, "--csv, --json, --html: choose one");
  const char *values[] = { from, to, doctor, tz };
  const char *names[] = { "--from", "--to", "--doctor", "--tz" };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    if (values[i] != NULL && (*values[i] == '\0' || g_str_has_prefix (values[i], "--")))
      return tv_ctl_usage ("report", NULL, "%s: missing value", names[i]);
  gint64 now = g_get_real_time ();
  g_autofree char *last = to != NULL ? g_strdup (to) : tv_report_day (now, tz, 0);
  if (last == NULL)
    return tv_ctl_usage ("report", NULL, "--tz: not a known time zone");
  g_autofree char *start = from != NULL ? g_strdup (from) : to == NULL ? tv_report_day (now, tz, -29) : NULL;
  if (start == NULL)
    return tv_ctl_usage ("report", NULL, "--from: required with --to");

  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("report", tv_ctl_data_dir (data_dir ? data_dir : data_dir_opt),
                                                 FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (GError) error = NULL;
  g_autoptr (TvReport) report = tv_store_report_operations (store, start, last, tz, doctor, &error);
  tv_store_audit_add_local (store, "ctl.report", "reports", NULL, NULL, report ? "ok" : "error", NULL);
  if (report == NULL)
    return tv_ctl_store_error ("report", NULL, error);
  if (csv) {
    g_autofree char *text = tv_report_to_csv (report);
    g_print ("%s", text);
  } else if (html) {
    g_autofree char *text = tv_report_to_html (report);
    g_print ("%s", text);
  } else if (json) {
    g_autoptr (JsonNode) root = tv_report_to_json (report);
    tv_ctl_print_json (root);
  } else {
    g_print ("Operations report %s to %s (%s)\n\n", report->first_day, report->last_day, report->time_zone);
    g_autoptr (GPtrArray) total = g_ptr_array_new ();
    g_ptr_array_add (total, report->total);
    print_rows ("TOTAL", total, FALSE, FALSE);
    print_rows ("PER DOCTOR", report->by_doctor, FALSE, TRUE);
    print_rows ("PER DAY", report->by_day, TRUE, FALSE);
  }
  return TV_CTL_EXIT_OK;
}
