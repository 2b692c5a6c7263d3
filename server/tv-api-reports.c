/* tv-api-reports.c — GET /api/v1/reports/operations[.csv|.html]: the
 * operations report for managers (admin and billing roles).
 *
 * Why: the same figures (server/tv-store-reports.h) as JSON for scripts, as an
 * RFC 4180 CSV download for spreadsheets and as a page with charts a manager
 * opens in the browser (server/tv-report.h). Query: from, to (YYYY-MM-DD,
 * inclusive, default the 30 days ending today), tz (IANA zone, default UTC),
 * doctor (a doctor's user id). Every request is audited by the router (action
 * "reports.operations", resource "reports").
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api"

#include "server/tv-api.h"
#include "server/tv-report.h"
#include "server/tv-store-reports.h"

#include <string.h>

#define MAX_ID_BYTES 64

typedef enum { FORMAT_JSON, FORMAT_CSV, FORMAT_HTML } Format;

static void
reply_report (TvHttpRequest *req, Format format)
{
  tv_http_request_audit (req, "reports.operations", NULL, NULL);
  const char *tz = tv_http_request_query (req, "tz");
  const char *doctor = tv_http_request_query (req, "doctor");
  const char *from = tv_http_request_query (req, "from");
  const char *to = tv_http_request_query (req, "to");
  if (doctor != NULL && (*doctor == '\0' || strlen (doctor) > MAX_ID_BYTES || !g_utf8_validate (doctor, -1, NULL))) {
    tv_http_reply_error (req, 400, "invalid_field", "doctor is not a user id");
    return;
  }
  g_autofree char *today = tv_report_day (tv_http_request_now (req), tz, 0);
  if (today == NULL) {
    tv_http_reply_error (req, 400, "invalid_field", "tz is not a known time zone");
    return;
  }
  g_autofree char *last = g_strdup (to != NULL && *to != '\0' ? to : today);
  g_autofree char *first = NULL;
  if (from != NULL && *from != '\0') {
    first = g_strdup (from);
  } else {
    /* 30 days ending with "to": count back from its midnight. */
    g_autoptr (GTimeZone) zone = g_time_zone_new_identifier (tz != NULL && *tz != '\0' ? tz : "UTC");
    g_autofree char *iso = g_strconcat (last, "T12:00:00", NULL);
    g_autoptr (GDateTime) end = strlen (last) == 10 ? g_date_time_new_from_iso8601 (iso, zone) : NULL;
    if (end == NULL) {
      tv_http_reply_error (req, 400, "invalid_field", "to: not a date (YYYY-MM-DD)");
      return;
    }
    g_autoptr (GDateTime) start = g_date_time_add_days (end, -29);
    first = g_date_time_format (start, "%Y-%m-%d");
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (TvReport) report = tv_store_report_operations (tv_http_request_store (req), first, last, tz,
                                                            doctor, &error);
  if (report == NULL) {
    tv_http_reply_store_error (req, error, "operations report");
    return;
  }
  if (format == FORMAT_JSON) {
    tv_http_reply_json (req, 200, tv_report_to_json (report));
    return;
  }
  if (format == FORMAT_CSV) {
    char *csv = tv_report_to_csv (report);
    g_autoptr (GBytes) body = g_bytes_new_take (csv, strlen (csv));
    g_autofree char *disposition = g_strdup_printf ("attachment; filename=\"operations-%s-to-%s.csv\"", first, last);
    tv_http_reply_add_header (req, "Content-Disposition", disposition);
    tv_http_reply_bytes (req, 200, "text/csv; charset=utf-8; header=present", body);
    return;
  }
  char *html = tv_report_to_html (report);
  g_autoptr (GBytes) body = g_bytes_new_take (html, strlen (html));
  tv_http_reply_add_header (req, "Content-Security-Policy", tv_report_html_csp ());
  tv_http_reply_bytes (req, 200, "text/html; charset=utf-8", body);
}

static void
handle_json (TvHttpRequest *req, gpointer user_data)
{
  reply_report (req, FORMAT_JSON);
}

static void
handle_csv (TvHttpRequest *req, gpointer user_data)
{
  reply_report (req, FORMAT_CSV);
}

static void
handle_html (TvHttpRequest *req, gpointer user_data)
{
  reply_report (req, FORMAT_HTML);
}

static const TvHttpRoute report_routes[] = {
  { "GET", "/api/v1/reports/operations", TV_ROLE_ADMIN | TV_ROLE_BILLING, handle_json },
  { "GET", "/api/v1/reports/operations.csv", TV_ROLE_ADMIN | TV_ROLE_BILLING, handle_csv },
  { "GET", "/api/v1/reports/operations.html", TV_ROLE_ADMIN | TV_ROLE_BILLING, handle_html },
};

void
tv_server_api_reports_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, report_routes, G_N_ELEMENTS (report_routes), server);
}
