/* tv-store-reports.c — the operations report (server/tv-store-reports.h).
 *
 * Why here: the figures come from the consults and billing tables in one
 * SELECT (a consistent snapshot); grouping by calendar day needs the report's
 * time zone, so rows are grouped in C (GDateTime), not in SQL. Medians are
 * computed from the values themselves, not approximated.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-reports.h"
#include "server/tv-store-private.h"

#include <string.h>

static const char SQL_REPORT[] =
  "SELECT c.scheduled_start, c.status, c.started_at, c.connected_us, c.admitted_at, c.wait_us,"
  "       COALESCE(c.doctor_id, ''), COALESCE(u.display_name, c.doctor),"
  "       b.fee_cents, b.currency, b.status"
  " FROM consults c"
  " LEFT JOIN users u ON u.id = c.doctor_id"
  " LEFT JOIN billing_lines b ON b.consult_id = c.id"
  " WHERE c.scheduled_start >= ?1 AND c.scheduled_start < ?2 AND (?3 IS NULL OR c.doctor_id = ?3)";

void
tv_report_row_free (TvReportRow *row)
{
  if (row == NULL)
    return;
  g_free (row->day);
  g_free (row->doctor_id);
  g_free (row->doctor);
  g_free (row->currency);
  g_free (row);
}

void
tv_report_free (TvReport *report)
{
  if (report == NULL)
    return;
  g_free (report->first_day);
  g_free (report->last_day);
  g_free (report->time_zone);
  g_free (report->doctor_id);
  g_clear_pointer (&report->rows, g_ptr_array_unref);
  g_clear_pointer (&report->by_day, g_ptr_array_unref);
  g_clear_pointer (&report->by_doctor, g_ptr_array_unref);
  tv_report_row_free (report->total);
  g_free (report);
}

/* One group being summed: the row and the values its medians come from. */
typedef struct {
  TvReportRow *row;     /* owned until handed to the report */
  GArray *waits;        /* gint64 */
  GArray *connected;    /* gint64 */
} Acc;

static Acc *
acc_new (const char *day, const char *doctor_id, const char *doctor)
{
  Acc *a = g_new0 (Acc, 1);
  a->row = g_new0 (TvReportRow, 1);
  a->row->day = g_strdup (day);
  a->row->doctor_id = g_strdup (doctor_id);
  a->row->doctor = g_strdup (doctor);
  a->row->median_wait_us = -1;
  a->row->median_connected_us = -1;
  a->waits = g_array_new (FALSE, FALSE, sizeof (gint64));
  a->connected = g_array_new (FALSE, FALSE, sizeof (gint64));
  return a;
}

static void
acc_free (Acc *a)
{
  if (a == NULL)
    return;
  tv_report_row_free (a->row);
  g_array_unref (a->waits);
  g_array_unref (a->connected);
  g_free (a);
}

typedef struct {
  const char *status;
  gint64 started_at, connected_us, admitted_at, wait_us;
  gboolean billed;        /* a line that is not denied */
  gint64 fee_cents;
  const char *currency;
} Consult;

static void
acc_add (Acc *a, const Consult *c)
{
  TvReportRow *r = a->row;
  r->consults++;
  if (strcmp (c->status, "completed") == 0 && c->started_at > 0) {
    r->held++;
    g_array_append_val (a->connected, c->connected_us);
  } else if (strcmp (c->status, "cancelled") == 0) {
    r->cancelled++;
  } else if (strcmp (c->status, "no-show") == 0) {
    r->no_show++;
  }
  if (c->admitted_at > 0 && c->wait_us >= 0)
    g_array_append_val (a->waits, c->wait_us);
  if (c->billed) {
    r->billed_cents += c->fee_cents;
    if (r->currency == NULL)
      r->currency = g_strdup (c->currency);
    else if (strcmp (r->currency, c->currency) != 0 && strcmp (r->currency, "mixed") != 0) {
      g_free (r->currency);
      r->currency = g_strdup ("mixed");
    }
  }
}

static gint
cmp_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* Returns: the median of @values (sorted in place); -1 when empty. */
static gint64
median (GArray *values)
{
  if (values->len == 0)
    return -1;
  g_array_sort (values, cmp_gint64);
  guint mid = values->len / 2;
  gint64 hi = g_array_index (values, gint64, mid);
  if (values->len % 2 == 1)
    return hi;
  gint64 lo = g_array_index (values, gint64, mid - 1);
  return lo + (hi - lo) / 2;
}

/* Returns: (transfer full) the finished row of @a (and frees @a). */
static TvReportRow *
acc_finish (Acc *a)
{
  TvReportRow *r = g_steal_pointer (&a->row);
  r->n_waits = a->waits->len;
  r->median_wait_us = median (a->waits);
  r->median_connected_us = median (a->connected);
  acc_free (a);
  return r;
}

/* Gets or makes the group @key in @table. */
static Acc *
acc_lookup (GHashTable *table, const char *key, const char *day, const char *doctor_id, const char *doctor)
{
  Acc *a = g_hash_table_lookup (table, key);
  if (a == NULL) {
    a = acc_new (day, doctor_id, doctor);
    g_hash_table_insert (table, g_strdup (key), a);
  }
  return a;
}

static gint
cmp_row (gconstpointer pa, gconstpointer pb)
{
  const TvReportRow *a = *(TvReportRow *const *) pa, *b = *(TvReportRow *const *) pb;
  int c = g_strcmp0 (a->day, b->day);
  if (c == 0)
    c = g_utf8_collate (a->doctor ? a->doctor : "", b->doctor ? b->doctor : "");
  if (c == 0)
    c = g_strcmp0 (a->doctor_id, b->doctor_id);
  return c;
}

/* Returns: (transfer full) the rows of @table, finished and sorted (the table is emptied). */
static GPtrArray *
finish_table (GHashTable *table)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_report_row_free);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, table);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    g_hash_table_iter_steal (&it);   /* the value goes to acc_finish, the key is ours to free */
    g_ptr_array_add (rows, acc_finish (value));
    g_free (key);
  }
  g_ptr_array_sort (rows, cmp_row);
  return rows;
}

/* Parses a canonical "YYYY-MM-DD" as midnight in @tz. NULL with INVALID naming @what. */
static GDateTime *
parse_day (const char *text, GTimeZone *tz, const char *what, GError **error)
{
  GDateTime *dt = NULL;
  if (text != NULL && strlen (text) == 10) {
    g_autofree char *iso = g_strconcat (text, "T00:00:00", NULL);
    dt = g_date_time_new_from_iso8601 (iso, tz);
  }
  g_autofree char *back = dt != NULL ? g_date_time_format (dt, "%Y-%m-%d") : NULL;
  if (dt == NULL || g_strcmp0 (back, text) != 0) {
    g_clear_pointer (&dt, g_date_time_unref);
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s: not a date (YYYY-MM-DD)", what);
  }
  return dt;
}

TvReport *
tv_store_report_operations (TvStore *store, const char *first_day, const char *last_day, const char *time_zone,
                            const char *doctor_id, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  const char *zone = time_zone != NULL && *time_zone != '\0' ? time_zone : "UTC";
  g_autoptr (GTimeZone) tz = strlen (zone) <= 64 ? g_time_zone_new_identifier (zone) : NULL;
  if (tz == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "tz: not a known time zone");
    return NULL;
  }
  g_autoptr (GDateTime) first = parse_day (first_day, tz, "from", error);
  if (first == NULL)
    return NULL;
  g_autoptr (GDateTime) last = parse_day (last_day, tz, "to", error);
  if (last == NULL)
    return NULL;
  if (g_date_time_compare (last, first) < 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "to: before from");
    return NULL;
  }
  g_autoptr (GDateTime) end = g_date_time_add_days (last, 1);
  if (g_date_time_difference (end, first) > (GTimeSpan) TV_REPORT_MAX_DAYS * G_TIME_SPAN_DAY + G_TIME_SPAN_HOUR) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "from..to: more than %d days", TV_REPORT_MAX_DAYS);
    return NULL;
  }

  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_REPORT, error);
  if (st == NULL)
    return NULL;
  sqlite3_bind_int64 (st, 1, g_date_time_to_unix (first) * G_USEC_PER_SEC);
  sqlite3_bind_int64 (st, 2, g_date_time_to_unix (end) * G_USEC_PER_SEC);
  if (doctor_id != NULL)
    sqlite3_bind_text (st, 3, doctor_id, -1, SQLITE_TRANSIENT);

  GHashTable *cells = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) acc_free);
  GHashTable *days = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) acc_free);
  GHashTable *doctors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) acc_free);
  Acc *total = acc_new (NULL, NULL, NULL);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    gint64 start = sqlite3_column_int64 (st, 0);
    Consult c = {
      .status = (const char *) sqlite3_column_text (st, 1),
      .started_at = sqlite3_column_int64 (st, 2),
      .connected_us = sqlite3_column_int64 (st, 3),
      .admitted_at = sqlite3_column_int64 (st, 4),
      .wait_us = sqlite3_column_int64 (st, 5),
      .billed = sqlite3_column_type (st, 8) != SQLITE_NULL
                && g_strcmp0 ((const char *) sqlite3_column_text (st, 10), "denied") != 0,
      .fee_cents = sqlite3_column_int64 (st, 8),
      .currency = (const char *) sqlite3_column_text (st, 9),
    };
    const char *did = (const char *) sqlite3_column_text (st, 6);
    const char *dname = (const char *) sqlite3_column_text (st, 7);
    g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (start / G_USEC_PER_SEC);
    g_autoptr (GDateTime) local = utc != NULL ? g_date_time_to_timezone (utc, tz) : NULL;
    g_autofree char *day = local != NULL ? g_date_time_format (local, "%Y-%m-%d") : g_strdup ("0000-00-00");
    /* Consults without accounts are told apart by their doctor's name. */
    g_autofree char *dkey = *did != '\0' ? g_strdup (did) : g_strconcat ("\x01", dname, NULL);
    g_autofree char *ckey = g_strconcat (day, "\x1f", dkey, NULL);
    acc_add (acc_lookup (cells, ckey, day, did, dname), &c);
    acc_add (acc_lookup (days, day, day, NULL, NULL), &c);
    acc_add (acc_lookup (doctors, dkey, NULL, did, dname), &c);
    acc_add (total, &c);
  }
  if (rc != SQLITE_DONE)
    tv_store_private_db_error (store, error, "operations report");
  tv_store_private_stmt_done (st);

  TvReport *report = NULL;
  if (rc == SQLITE_DONE) {
    /* Every day of the range gets a per-day row, so charts show the gaps. */
    for (g_autoptr (GDateTime) d = g_date_time_ref (first); g_date_time_compare (d, end) < 0;) {
      g_autofree char *day = g_date_time_format (d, "%Y-%m-%d");
      acc_lookup (days, day, day, NULL, NULL);
      GDateTime *next = g_date_time_add_days (d, 1);
      g_date_time_unref (d);
      d = next;
    }
    report = g_new0 (TvReport, 1);
    report->first_day = g_strdup (first_day);
    report->last_day = g_strdup (last_day);
    report->time_zone = g_strdup (zone);
    report->doctor_id = g_strdup (doctor_id);
    report->rows = finish_table (cells);
    report->by_day = finish_table (days);
    report->by_doctor = finish_table (doctors);
    report->total = acc_finish (g_steal_pointer (&total));
  }
  acc_free (total);
  g_hash_table_unref (cells);
  g_hash_table_unref (days);
  g_hash_table_unref (doctors);
  return report;
}
