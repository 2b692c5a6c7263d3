/* tv-store-reports.h — operations report for managers: per day and per doctor.
 *
 * Why: a clinic's managers ask the same questions every week — how many
 * consults took place, how many were cancelled or missed, how long patients
 * waited to be admitted, how long the calls lasted and what was billed — and
 * they ask them per day and per doctor. The store answers from the consults
 * (status, waiting-room times, connected time) and the billing lines
 * (server/tv-store-billing.h) in one read transaction; the formats (JSON, CSV,
 * HTML with charts) are in server/tv-report.h.
 *
 * Definitions (also in docs/API.md):
 *   day         the consult's scheduled start, as a calendar day in the
 *               report's time zone;
 *   held        completed consults whose media connected at least once;
 *   cancelled   status cancelled; no-show: status no-show;
 *   wait        admitted_at - arrived_at of consults whose patient was admitted
 *               (median over the group; -1 when none);
 *   connected   connected time of held consults (median; -1 when none);
 *   billed      sum of the fees of the group's billing lines that are not denied.
 * Medians of an even count are the mean of the two middle values.
 * Names and ids only: no patient appears in a report.
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* Longest range one report covers. */
#define TV_REPORT_MAX_DAYS 366

typedef struct {
  char *day;                   /* "YYYY-MM-DD"; NULL in per-doctor totals and the grand total */
  char *doctor_id;             /* user id, "" for consults made without accounts; NULL in per-day totals and the total */
  char *doctor;                /* display name; NULL when doctor_id is NULL */
  guint consults;              /* scheduled in the group, any status */
  guint held;
  guint cancelled;
  guint no_show;
  guint n_waits;               /* consults with a measured wait */
  gint64 median_wait_us;       /* -1 = no admitted consult */
  gint64 median_connected_us;  /* -1 = nothing held */
  gint64 billed_cents;
  char *currency;              /* ISO 4217 of the billed lines, NULL when none; "mixed" if they differ */
} TvReportRow;

void tv_report_row_free (TvReportRow *row);   /* NULL accepted */

typedef struct {
  char *first_day;             /* "YYYY-MM-DD", inclusive */
  char *last_day;              /* inclusive */
  char *time_zone;             /* identifier, e.g. "UTC", "Europe/Berlin" */
  char *doctor_id;             /* the filter, NULL = all doctors */
  GPtrArray *rows;             /* (element-type TvReportRow) day x doctor with any consult, by day then doctor */
  GPtrArray *by_day;           /* (element-type TvReportRow) every day of the range, empty days too */
  GPtrArray *by_doctor;        /* (element-type TvReportRow) doctors with any consult, by name */
  TvReportRow *total;
} TvReport;

void tv_report_free (TvReport *report);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvReport, tv_report_free)

/* tv_store_report_operations:
 * Builds the report for the days @first_day..@last_day ("YYYY-MM-DD",
 * inclusive, at most TV_REPORT_MAX_DAYS) in @time_zone (an IANA identifier or
 * "UTC"), for one doctor (@doctor_id) or all (NULL).
 * Returns: (transfer full) the report; NULL with INVALID (bad day, range or
 * zone: the message names it) or IO. */
TvReport *tv_store_report_operations (TvStore *store, const char *first_day, const char *last_day,
                                      const char *time_zone, const char *doctor_id, GError **error);

G_END_DECLS
