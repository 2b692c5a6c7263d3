/* tv-report.h — the operations report (server/tv-store-reports.h) as JSON,
 * RFC 4180 CSV and a server-rendered HTML page with SVG charts.
 *
 * Why: managers read the report three ways — a spreadsheet (CSV), a page
 * they look at (HTML: bars per day and per doctor, then the tables), and
 * scripts (JSON) — and the API and televisitctl must give the same figures,
 * so the formats live here, apart from the store and the transport.
 * The HTML page has no script and no external resource; every text that
 * comes from data is escaped; its one <style> element is allowed by the
 * Content-Security-Policy that tv_report_html_csp() returns (a sha256 hash).
 * Thread: any (pure functions; tv_report_html_csp computes its value once).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-store-reports.h"

G_BEGIN_DECLS

/* Returns: (transfer full) the report as a JSON object (see docs/API.md). */
JsonNode *tv_report_to_json (const TvReport *report);

/* tv_report_to_csv:
 * One header line and one line per day and doctor (report->rows), CRLF line
 * ends; fields with a comma, quote, CR or LF are quoted with inner quotes
 * doubled; a text field starting with = + - @ gets a leading ' so that a
 * spreadsheet does not run it as a formula.
 * Returns: (transfer full) the text. */
char *tv_report_to_csv (const TvReport *report);

/* Returns: (transfer full) a complete HTML5 document. */
char *tv_report_to_html (const TvReport *report);

/* Returns: (transfer none) the Content-Security-Policy for tv_report_to_html's pages. */
const char *tv_report_html_csp (void);

/* tv_report_day:
 * Returns: (transfer full) the calendar day ("YYYY-MM-DD") of @now (µs UTC)
 * plus @offset_days in @time_zone (NULL/"" = UTC); NULL for an unknown zone.
 * Reports default to the 30 days ending today (offsets -29 and 0). */
char *tv_report_day (gint64 now, const char *time_zone, int offset_days);

/* Returns: (transfer full) @us as minutes with one decimal ("12.5"); "" for -1. */
char *tv_report_format_minutes (gint64 us);

/* Returns: (transfer full) @cents as "1234.50". */
char *tv_report_format_amount (gint64 cents);

G_END_DECLS
