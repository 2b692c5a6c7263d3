/* tv-report.c — JSON, CSV and HTML (with SVG charts) of the operations report
 * (see tv-report.h).
 *
 * The charts are drawn here as inline SVG: bars of consults per day (held,
 * cancelled, no-show, other stacked), per doctor (held) and billed per doctor,
 * and the median wait per day. Each has a title and description for screen
 * readers and is followed by the same figures as a table. Sizes are in the
 * SVG's own units and the SVG scales to the page width, down to 44rem (then
 * the figure scrolls sideways), so chart labels stay readable when the page is
 * zoomed to 200 % or the screen is narrow.
 * Thread: any.
 */
#define G_LOG_DOMAIN "tv-report"

#include "server/tv-report.h"

#include <string.h>

char *
tv_report_format_minutes (gint64 us)
{
  if (us < 0)
    return g_strdup ("");
  /* Tenths of a minute, rounded half up, in integers (no locale, no float drift). */
  gint64 tenths = (us + 3 * G_USEC_PER_SEC) / (6 * G_USEC_PER_SEC);
  return g_strdup_printf ("%" G_GINT64_FORMAT ".%d", tenths / 10, (int) (tenths % 10));
}

char *
tv_report_format_amount (gint64 cents)
{
  const char *sign = cents < 0 ? "-" : "";
  gint64 a = cents < 0 ? -cents : cents;
  return g_strdup_printf ("%s%" G_GINT64_FORMAT ".%02d", sign, a / 100, (int) (a % 100));
}

char *
tv_report_day (gint64 now, const char *time_zone, int offset_days)
{
  const char *zone = time_zone != NULL && *time_zone != '\0' ? time_zone : "UTC";
  g_autoptr (GTimeZone) tz = strlen (zone) <= 64 ? g_time_zone_new_identifier (zone) : NULL;
  if (tz == NULL)
    return NULL;
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  g_autoptr (GDateTime) local = utc != NULL ? g_date_time_to_timezone (utc, tz) : NULL;
  g_autoptr (GDateTime) day = local != NULL ? g_date_time_add_days (local, offset_days) : NULL;
  return day != NULL ? g_date_time_format (day, "%Y-%m-%d") : NULL;
}

/* The figures of @r as text, in column order: consults, held, cancelled,
 * no-shows, median wait, median connected ("" when none), billed amount.
 * Free with g_strfreev. */
static char **
row_figures (const TvReportRow *r)
{
  char **f = g_new0 (char *, 8);
  f[0] = g_strdup_printf ("%u", r->consults);
  f[1] = g_strdup_printf ("%u", r->held);
  f[2] = g_strdup_printf ("%u", r->cancelled);
  f[3] = g_strdup_printf ("%u", r->no_show);
  f[4] = tv_report_format_minutes (r->median_wait_us);
  f[5] = tv_report_format_minutes (r->median_connected_us);
  f[6] = tv_report_format_amount (r->billed_cents);
  return f;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                       */

static void
add_minutes (JsonBuilder *b, const char *name, gint64 us)
{
  json_builder_set_member_name (b, name);
  if (us < 0) {
    json_builder_add_null_value (b);
  } else {
    g_autofree char *text = tv_report_format_minutes (us);
    json_builder_add_double_value (b, g_ascii_strtod (text, NULL));
  }
}

static void
add_row (JsonBuilder *b, const TvReportRow *r)
{
  json_builder_begin_object (b);
  if (r->day != NULL) {
    json_builder_set_member_name (b, "day");
    json_builder_add_string_value (b, r->day);
  }
  if (r->doctor_id != NULL) {
    json_builder_set_member_name (b, "doctor_id");
    if (*r->doctor_id == '\0')
      json_builder_add_null_value (b);
    else
      json_builder_add_string_value (b, r->doctor_id);
    json_builder_set_member_name (b, "doctor");
    json_builder_add_string_value (b, r->doctor);
  }
  const struct { const char *name; guint value; } counts[] = {
    { "consults", r->consults }, { "held", r->held }, { "cancelled", r->cancelled }, { "no_shows", r->no_show },
  };
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++) {
    json_builder_set_member_name (b, counts[i].name);
    json_builder_add_int_value (b, counts[i].value);
  }
  add_minutes (b, "median_wait_minutes", r->median_wait_us);
  add_minutes (b, "median_connected_minutes", r->median_connected_us);
  json_builder_set_member_name (b, "billed_cents");
  json_builder_add_int_value (b, r->billed_cents);
  json_builder_set_member_name (b, "currency");
  if (r->currency != NULL)
    json_builder_add_string_value (b, r->currency);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
}

static void
add_rows (JsonBuilder *b, const char *name, GPtrArray *rows)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    add_row (b, g_ptr_array_index (rows, i));
  json_builder_end_array (b);
}

JsonNode *
tv_report_to_json (const TvReport *report)
{
  g_return_val_if_fail (report != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const struct { const char *name; const char *value; } head[] = {
    { "from", report->first_day }, { "to", report->last_day }, { "tz", report->time_zone },
    { "doctor_id", report->doctor_id },
  };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++) {
    json_builder_set_member_name (b, head[i].name);
    if (head[i].value != NULL)
      json_builder_add_string_value (b, head[i].value);
    else
      json_builder_add_null_value (b);
  }
  add_rows (b, "rows", report->rows);
  add_rows (b, "by_day", report->by_day);
  add_rows (b, "by_doctor", report->by_doctor);
  json_builder_set_member_name (b, "total");
  add_row (b, report->total);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ------------------------------------------------------------------------ */
/* CSV (RFC 4180)                                                             */

static void
csv_field (GString *out, const char *text, gboolean first)
{
  if (!first)
    g_string_append_c (out, ',');
  if (text == NULL)
    return;
  g_autofree char *guarded = text[0] != '\0' && strchr ("=+-@", text[0]) != NULL ? g_strconcat ("'", text, NULL)
                                                                                 : g_strdup (text);
  if (strpbrk (guarded, ",\"\r\n") == NULL) {
    g_string_append (out, guarded);
    return;
  }
  g_string_append_c (out, '"');
  for (const char *p = guarded; *p != '\0'; p++) {
    if (*p == '"')
      g_string_append_c (out, '"');
    g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

char *
tv_report_to_csv (const TvReport *report)
{
  g_return_val_if_fail (report != NULL, NULL);
  GString *out = g_string_new ("date,doctor_id,doctor,consults,held,cancelled,no_shows,median_wait_minutes,"
                               "median_connected_minutes,billed,currency\r\n");
  for (guint i = 0; i < report->rows->len; i++) {
    const TvReportRow *r = g_ptr_array_index (report->rows, i);
    g_auto (GStrv) f = row_figures (r);
    const char *fields[] = { r->day, r->doctor_id, r->doctor, f[0], f[1], f[2], f[3], f[4], f[5], f[6], r->currency };
    for (guint k = 0; k < G_N_ELEMENTS (fields); k++)
      csv_field (out, fields[k], k == 0);
    g_string_append (out, "\r\n");
  }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------------ */
/* HTML                                                                       */

static const char STYLE[] =
  "body{font-family:\"DejaVu Sans\",sans-serif;color:#1b1b1b;background:#fff;margin:0 auto;max-width:72rem;"
  "padding:1rem;line-height:1.45}"
  "h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.25rem;margin:2rem 0 .5rem}"
  ".kpis{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0;padding:0;list-style:none}"
  ".kpis li{border:1px solid #c9ced6;border-radius:.4rem;padding:.6rem .9rem;min-width:9rem}"
  ".kpis b{display:block;font-size:1.5rem}"
  "figure{margin:1rem 0 2rem;overflow-x:auto}figcaption{font-weight:bold;margin-bottom:.25rem}"
  "svg{display:block;width:100%;min-width:44rem;height:auto;max-width:64rem}"
  "caption{text-align:left;font-weight:bold;padding:.25rem 0}"
  ".legend{display:flex;flex-wrap:wrap;gap:1rem;margin:.25rem 0;padding:0;list-style:none}"
  ".sw{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em;border:1px solid #555}"
  ".c-held{background:#1f5f99}.c-cancelled{background:#d08a2c}.c-noshow{background:#a4262c}.c-other{background:#9aa3ad}"
  ".scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0}"
  "th,td{padding:.3rem .6rem;border-bottom:1px solid #d5d9df;text-align:right;white-space:nowrap}"
  "th:first-child,td:first-child,td.name,th.name{text-align:left}thead th{background:#eef1f5}"
  "p.note{color:#444;font-size:.95rem}";

const char *
tv_report_html_csp (void)
{
  static gsize once = 0;
  static char *csp = NULL;
  if (g_once_init_enter (&once)) {
    guint8 digest[32];
    gsize len = sizeof digest;
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_checksum_update (sum, (const guchar *) STYLE, strlen (STYLE));
    g_checksum_get_digest (sum, digest, &len);
    g_autofree char *b64 = g_base64_encode (digest, len);
    csp = g_strdup_printf ("default-src 'none'; style-src 'sha256-%s'; frame-ancestors 'none'; base-uri 'none';"
                           " form-action 'none'", b64);
    g_once_init_leave (&once, 1);
  }
  return csp;
}

/* Escaped text of @s (NULL gives ""). */
static void
esc (GString *out, const char *s)
{
  if (s == NULL)
    return;
  g_autofree char *e = g_markup_escape_text (s, -1);
  g_string_append (out, e);
}

static const char *
doctor_label (const TvReportRow *r)
{
  return r->doctor != NULL && *r->doctor != '\0' ? r->doctor : "(no name)";
}

/* A round axis maximum >= @v: 1, 2 or 5 times a power of ten (at least 1). */
static double
nice_max (double v)
{
  if (v <= 1)
    return 1;
  double p = 1;
  while (p * 10 <= v)
    p *= 10;
  const double steps[] = { 1, 2, 5, 10 };
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    if (steps[i] * p >= v)
      return steps[i] * p;
  return 10 * p;
}

/* Formats an axis value: integers plainly, else one decimal. */
static char *
axis_label (double v)
{
  if (v == (gint64) v)
    return g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) v);
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.1f", v));
}

typedef struct {
  const char *css;      /* legend class */
  const char *fill;
  const char *label;
} Series;

static const Series SERIES[] = {
  { "c-held", "#1f5f99", "held" },
  { "c-cancelled", "#d08a2c", "cancelled" },
  { "c-noshow", "#a4262c", "no-show" },
  { "c-other", "#9aa3ad", "other (scheduled, in progress, ended without a call)" },
};

static void
svg_open (GString *o, const char *id, double w, double h, const char *title, const char *desc)
{
  g_string_append_printf (o, "<svg viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-labelledby=\"%s-t %s-d\""
                             " font-family=\"DejaVu Sans, sans-serif\" font-size=\"15\">"
                             "<title id=\"%s-t\">", w, h, id, id, id);
  esc (o, title);
  g_string_append_printf (o, "</title><desc id=\"%s-d\">", id);
  esc (o, desc);
  g_string_append (o, "</desc>");
}

/* Vertical bars per day. @values[i * n_series + s]; @n_series 1 (plain) or
 * stacked. Y axis with 4 ticks (whole numbers when @integer), x labels thinned
 * to about 12. */
static void
chart_days (GString *o, const char *id, const char *title, const char *desc, const char *unit, GPtrArray *days,
            const double *values, guint n_series, const Series *series, gboolean integer)
{
  const double W = 960, H = 360, L = 64, R = 16, T = 20, B = 56;
  double pw = W - L - R, ph = H - T - B;
  guint n = days->len;
  double max = 0;
  for (guint i = 0; i < n; i++) {
    double sum = 0;
    for (guint s = 0; s < n_series; s++)
      sum += values[i * n_series + s];
    max = MAX (max, sum);
  }
  double top = nice_max (max);
  if (integer) {
    /* Counts: whole-number ticks. */
    double step = MAX (1.0, (double) (gint64) ((top + 3) / 4));
    top = step * 4;
  }
  svg_open (o, id, W, H, title, desc);
  /* Grid and y labels. */
  for (guint k = 0; k <= 4; k++) {
    double v = top * k / 4, y = T + ph - ph * k / 4;
    g_autofree char *lab = axis_label (v);
    g_string_append_printf (o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#d5d9df\"/>"
                               "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#333\">%s</text>",
                            L, W - R, y, y, L - 6, y + 5, lab);
  }
  g_string_append_printf (o, "<text x=\"14\" y=\"%.1f\" fill=\"#333\" transform=\"rotate(-90 14 %.1f)\""
                             " text-anchor=\"middle\">", T + ph / 2, T + ph / 2);
  esc (o, unit);
  g_string_append (o, "</text>");
  double slot = n > 0 ? pw / n : pw;
  double bw = MAX (1.0, slot * 0.7);
  guint every = n > 12 ? (n + 11) / 12 : 1;
  for (guint i = 0; i < n; i++) {
    const TvReportRow *d = g_ptr_array_index (days, i);
    double x = L + slot * i + (slot - bw) / 2, y = T + ph;
    for (guint s = 0; s < n_series; s++) {
      double v = values[i * n_series + s];
      if (v <= 0)
        continue;
      double h = ph * v / top;
      y -= h;
      g_autofree char *lab = axis_label (v);
      g_string_append_printf (o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                                 "<title>", x, y, bw, h, series[s].fill);
      esc (o, d->day);
      g_string_append_printf (o, ": %s %s</title></rect>", lab, series[s].label);
    }
    if (i % every == 0) {
      g_string_append_printf (o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">",
                              L + slot * i + slot / 2, T + ph + 20);
      esc (o, d->day + 5);   /* MM-DD */
      g_string_append (o, "</text>");
    }
  }
  g_string_append_printf (o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>", L, W - R,
                          T + ph, T + ph);
  g_string_append_printf (o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#333\">day (month-day)</text>",
                          L + pw / 2, H - 10);
  g_string_append (o, "</svg>");
}

/* Horizontal bars, one per doctor, with the value written at the bar's end. */
static void
chart_doctors (GString *o, const char *id, const char *title, const char *desc, GPtrArray *doctors,
               const double *values, char **labels, const char *fill)
{
  const double W = 960, L = 260, R = 120, T = 12, ROW = 34;
  guint n = doctors->len;
  double H = T * 2 + ROW * MAX (n, 1);
  double pw = W - L - R, max = 0;
  for (guint i = 0; i < n; i++)
    max = MAX (max, values[i]);
  double top = nice_max (max);
  svg_open (o, id, W, H, title, desc);
  for (guint i = 0; i < n; i++) {
    const TvReportRow *r = g_ptr_array_index (doctors, i);
    double y = T + ROW * i, w = pw * values[i] / top;
    /* Long names are cut in the chart only (the table has them whole). */
    const char *name = doctor_label (r);
    g_autofree char *cut = g_utf8_strlen (name, -1) > 28 ? g_utf8_substring (name, 0, 27) : NULL;
    g_autofree char *shown = cut != NULL ? g_strconcat (cut, "…", NULL) : g_strdup (name);
    g_string_append_printf (o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1b1b1b\">", L - 8,
                            y + ROW / 2 + 5);
    esc (o, shown);
    g_string_append_printf (o, "</text><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>"
                               "<text x=\"%.1f\" y=\"%.1f\" fill=\"#1b1b1b\">", L, y + 6, MAX (w, 0.0), ROW - 12,
                            fill, L + MAX (w, 0.0) + 6, y + ROW / 2 + 5);
    esc (o, labels[i]);
    g_string_append (o, "</text>");
  }
  if (n == 0)
    g_string_append_printf (o, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#333\">no consults in this range</text>", L,
                            T + ROW / 2 + 5);
  g_string_append_printf (o, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/></svg>", L, L,
                          T, H - T);
}

static void
table_cell (GString *o, const char *text, gboolean name)
{
  g_string_append (o, name ? "<td class=\"name\">" : "<td>");
  esc (o, text);
  g_string_append (o, "</td>");
}

/* A table of @rows; @day / @doctor: whether those columns are shown. */
static void
table_rows (GString *o, const char *caption, GPtrArray *rows, gboolean day, gboolean doctor)
{
  g_string_append (o, "<div class=\"scroll\"><table><caption class=\"name\">");
  esc (o, caption);
  g_string_append (o, "</caption><thead><tr>");
  if (day)
    g_string_append (o, "<th scope=\"col\">Day</th>");
  if (doctor)
    g_string_append (o, "<th scope=\"col\" class=\"name\">Doctor</th>");
  g_string_append (o, "<th scope=\"col\">Consults</th><th scope=\"col\">Held</th><th scope=\"col\">Cancelled</th>"
                      "<th scope=\"col\">No-shows</th><th scope=\"col\">Median wait (min)</th>"
                      "<th scope=\"col\">Median connected (min)</th><th scope=\"col\">Billed</th></tr></thead><tbody>");
  for (guint i = 0; i < rows->len; i++) {
    const TvReportRow *r = g_ptr_array_index (rows, i);
    g_string_append (o, "<tr>");
    if (day)
      table_cell (o, r->day, TRUE);
    if (doctor)
      table_cell (o, doctor_label (r), TRUE);
    g_auto (GStrv) f = row_figures (r);
    g_autofree char *billed = r->currency != NULL ? g_strdup_printf ("%s %s", f[6], r->currency) : g_strdup (f[6]);
    const char *cells[] = { f[0], f[1], f[2], f[3], *f[4] ? f[4] : "–", *f[5] ? f[5] : "–", billed };
    for (guint k = 0; k < G_N_ELEMENTS (cells); k++)
      table_cell (o, cells[k], FALSE);
    g_string_append (o, "</tr>");
  }
  g_string_append (o, "</tbody></table></div>");
}

static void
kpi (GString *o, const char *value, const char *label)
{
  g_string_append (o, "<li><b>");
  esc (o, value);
  g_string_append (o, "</b>");
  esc (o, label);
  g_string_append (o, "</li>");
}

char *
tv_report_to_html (const TvReport *report)
{
  g_return_val_if_fail (report != NULL, NULL);
  GString *o = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                             "<title>Operations report ");
  esc (o, report->first_day);
  g_string_append (o, " to ");
  esc (o, report->last_day);
  g_string_append_printf (o, "</title><style>%s</style></head><body><main><h1>Operations report</h1><p>", STYLE);
  esc (o, report->first_day);
  g_string_append (o, " to ");
  esc (o, report->last_day);
  g_string_append (o, " (");
  esc (o, report->time_zone);
  g_string_append (o, ")");
  if (report->doctor_id != NULL) {
    g_string_append (o, ", one doctor: ");
    esc (o, report->by_doctor->len > 0 ? doctor_label (g_ptr_array_index (report->by_doctor, 0)) : report->doctor_id);
  } else {
    g_string_append (o, ", all doctors");
  }
  g_string_append (o, ".</p>");

  const TvReportRow *t = report->total;
  g_autofree char *held = g_strdup_printf ("%u", t->held);
  g_autofree char *cancelled = g_strdup_printf ("%u", t->cancelled);
  g_autofree char *noshow = g_strdup_printf ("%u", t->no_show);
  g_autofree char *wait = tv_report_format_minutes (t->median_wait_us);
  g_autofree char *conn = tv_report_format_minutes (t->median_connected_us);
  g_autofree char *amount = tv_report_format_amount (t->billed_cents);
  g_autofree char *billed = t->currency ? g_strdup_printf ("%s %s", amount, t->currency) : g_strdup (amount);
  g_string_append (o, "<ul class=\"kpis\" aria-label=\"Totals\">");
  kpi (o, held, "consults held");
  kpi (o, cancelled, "cancelled");
  kpi (o, noshow, "no-shows");
  kpi (o, *wait ? wait : "–", "median wait, minutes");
  kpi (o, *conn ? conn : "–", "median call, minutes");
  kpi (o, billed, "billed");
  g_string_append (o, "</ul>");

  /* Consults per day, stacked by outcome. */
  guint nd = report->by_day->len;
  g_autofree double *per_day = g_new0 (double, nd * 4 + 1);
  g_autofree double *wait_day = g_new0 (double, nd + 1);
  for (guint i = 0; i < nd; i++) {
    const TvReportRow *d = g_ptr_array_index (report->by_day, i);
    per_day[i * 4 + 0] = d->held;
    per_day[i * 4 + 1] = d->cancelled;
    per_day[i * 4 + 2] = d->no_show;
    per_day[i * 4 + 3] = d->consults - d->held - d->cancelled - d->no_show;
    wait_day[i] = d->median_wait_us < 0 ? 0 : d->median_wait_us / 60.0e6;
  }
  g_string_append (o, "<h2>Per day</h2><figure><figcaption id=\"f-days\">Consults per day, by outcome</figcaption>"
                      "<ul class=\"legend\">");
  for (guint s = 0; s < G_N_ELEMENTS (SERIES); s++)
    g_string_append_printf (o, "<li><span class=\"sw %s\"></span>%s</li>", SERIES[s].css, SERIES[s].label);
  g_string_append (o, "</ul>");
  chart_days (o, "days", "Consults per day", "Stacked bars per day: held, cancelled, no-show, other. "
              "The table below has the same figures.", "consults", report->by_day, per_day, 4, SERIES, TRUE);
  g_string_append (o, "</figure><figure><figcaption>Median wait from arrival to admission, minutes per day"
                      "</figcaption>");
  const Series wait_series[] = { { "c-held", "#2e7d6b", "minutes median wait" } };
  chart_days (o, "wait", "Median wait per day", "Bars per day: median minutes from the patient's arrival to "
              "admission; no bar when nobody was admitted.", "minutes", report->by_day, wait_day, 1, wait_series, FALSE);
  g_string_append (o, "</figure>");

  /* Per doctor. */
  guint nr = report->by_doctor->len;
  g_autofree double *held_doc = g_new0 (double, nr + 1);
  g_autofree double *billed_doc = g_new0 (double, nr + 1);
  g_auto (GStrv) held_lab = g_new0 (char *, nr + 1);
  g_auto (GStrv) billed_lab = g_new0 (char *, nr + 1);
  for (guint i = 0; i < nr; i++) {
    const TvReportRow *r = g_ptr_array_index (report->by_doctor, i);
    held_doc[i] = r->held;
    billed_doc[i] = r->billed_cents / 100.0;
    held_lab[i] = g_strdup_printf ("%u held", r->held);
    g_autofree char *a = tv_report_format_amount (r->billed_cents);
    billed_lab[i] = r->currency ? g_strdup_printf ("%s %s", a, r->currency) : g_strdup (a);
  }
  g_string_append (o, "<h2>Per doctor</h2><figure><figcaption>Consults held per doctor</figcaption>");
  chart_doctors (o, "held", "Consults held per doctor", "One bar per doctor, length = consults held.",
                 report->by_doctor, held_doc, held_lab, "#1f5f99");
  g_string_append (o, "</figure><figure><figcaption>Billed per doctor</figcaption>");
  chart_doctors (o, "billed", "Billed per doctor", "One bar per doctor, length = amount billed (denied claims "
                 "excluded).", report->by_doctor, billed_doc, billed_lab, "#5a3d8a");
  g_string_append (o, "</figure>");

  table_rows (o, "Totals per doctor", report->by_doctor, FALSE, TRUE);
  g_string_append (o, "<h2>Tables</h2>");
  table_rows (o, "Totals per day", report->by_day, TRUE, FALSE);
  table_rows (o, "Per day and doctor", report->rows, TRUE, TRUE);
  g_string_append (o, "<p class=\"note\">Held: completed consults whose call connected. Wait: from the patient's "
                      "arrival in the waiting room to admission. Connected: time the call was up. Billed: billing "
                      "lines not denied. Days are calendar days of the scheduled start in the report's time zone; "
                      "medians of an even count are the mean of the two middle values.</p>"
                      "</main></body></html>\n");
  return g_string_free (o, FALSE);
}
