/* tv-report-ctl.h — `televisitctl report`: the operations report on the server
 * machine (text table, CSV or JSON).
 *
 * Why: managers and scripts get the same figures as GET
 * /api/v1/reports/operations (server/tv-store-reports.h, server/tv-report.h)
 * without the server running, e.g. a monthly CSV from cron.
 * Thread: single-threaded command-line program.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The help text of `televisitctl report` (for the manual and `help report`). */
extern const char TV_SERVER_CTL_REPORT_HELP[];

/* tv_server_ctl_report_main:
 * Runs `televisitctl report ...`; @argv[0] is "report". @data_dir: the
 * --data-dir given before the command, or NULL.
 * Returns: the exit status (0 ok, 1 usage or invalid value, 2 store). */
int tv_server_ctl_report_main (int argc, char **argv, const char *data_dir);

G_END_DECLS
