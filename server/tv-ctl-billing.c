/* tv-ctl-billing.c — `televisitctl billing list|export|set-status` (see tv-ctl-billing.h).
 *
 * Why: list shows the lines of a date range (and status) as a table or JSON;
 * export writes them as RFC 4180 CSV (the same bytes as GET
 * /api/v1/billing/export) to stdout or a file; set-status moves one or more
 * lines to a claim status in one transaction (all or nothing), with one audit
 * row per line.
 * Thread: single-threaded command-line program.
 */
#define G_LOG_DOMAIN "tv-ctl"

#include "server/tv-ctl-billing.h"

#include "server/tv-billing.h"
#include "server/tv-ctl-common.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-billing.h"

#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

const char TV_SERVER_CTL_BILLING_HELP[] =
  "    billing list [--from DATE] [--to DATE] [--status STATUS] [--json]\n"
  "        Billing lines by date of service (DATE: YYYY-MM-DD, UTC, --to inclusive;\n"
  "        or an RFC 3339 time, --to exclusive) and claim status (ready,\n"
  "        submitted, paid, denied): date, code, modifiers, place of service,\n"
  "        minutes, fee, status, line id, consult id. Audited.\n"
  "    billing export [--from DATE] [--to DATE] [--status STATUS] [--output FILE]\n"
  "        The same lines as RFC 4180 CSV (header row, CRLF; billing data only,\n"
  "        never visit notes) to stdout or FILE (created 0600). Audited.\n"
  "    billing set-status STATUS LINE-ID...\n"
  "        Move the lines to STATUS: ready -> submitted -> paid | denied, and\n"
  "        denied -> submitted (a corrected claim). All or nothing: an unknown id\n"
  "        or a transition not allowed changes no line (exit 3). One audit row\n"
  "        per line.\n";

static int
cmd_list (TvStore *store, GPtrArray *lines, gboolean json)
{
  if (json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "lines");
    json_builder_begin_array (b);
    for (guint i = 0; i < lines->len; i++)
      json_builder_add_value (b, tv_billing_line_to_json (g_ptr_array_index (lines, i)));
    json_builder_end_array (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }
  if (lines->len == 0) {
    g_print ("no billing lines\n");
    return TV_CTL_EXIT_OK;
  }
  g_print ("%-10s  %-5s  %-5s  %-3s  %4s  %10s  %-9s  %-36s  %s\n", "DATE", "CODE", "MODS", "POS", "MIN", "FEE",
           "STATUS", "LINE", "CONSULT");
  gint64 total = 0;
  for (guint i = 0; i < lines->len; i++) {
    const TvBillingLine *l = g_ptr_array_index (lines, i);
    g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (l->service_at / G_USEC_PER_SEC);
    g_autofree char *date = dt ? g_date_time_format (dt, "%Y-%m-%d") : g_strdup ("?");
    g_autofree char *fee = tv_billing_format_amount (l->fee_cents);
    g_autofree char *money = g_strdup_printf ("%s %s", fee, l->currency);
    total += l->fee_cents;
    g_print ("%-10s  %-5s  %-5s  %-3s  %4u  %10s  %-9s  %-36s  %s\n", date, l->code, *l->modifiers ? l->modifiers : "-",
             l->pos, l->minutes, money, tv_claim_status_to_string (l->status), l->id, l->consult_id);
  }
  g_autofree char *sum = tv_billing_format_amount (total);
  g_print ("%u line(s), total %s\n", lines->len, sum);
  return TV_CTL_EXIT_OK;
}

static int
cmd_export (GPtrArray *lines, const char *output)
{
  g_autofree char *csv = tv_billing_lines_to_csv (lines);
  if (output == NULL) {
    fwrite (csv, 1, strlen (csv), stdout);
    return fflush (stdout) == 0 ? TV_CTL_EXIT_OK : TV_CTL_EXIT_STORE;
  }
  g_autoptr (GError) error = NULL;
  if (!g_file_set_contents_full (output, csv, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error)) {
    g_printerr ("televisitctl billing export: %s\n", error->message);
    return TV_CTL_EXIT_USAGE;
  }
  g_printerr ("%u line(s) written to %s\n", lines->len, output);
  return TV_CTL_EXIT_OK;
}

static int
cmd_set_status (TvStore *store, const char *status_text, char **ids)
{
  TvClaimStatus status;
  if (!tv_claim_status_from_string (status_text, &status))
    return tv_ctl_usage ("billing", "set-status", "STATUS: \"%s\" is not ready, submitted, paid or denied",
                         status_text);
  for (char **id = ids; *id; id++)
    if (!g_uuid_string_is_valid (*id))
      return tv_ctl_usage ("billing", "set-status", "\"%s\" is not a billing line id", *id);
  g_autofree char *user = g_strconcat ("os:", g_get_user_name (), NULL);
  g_autoptr (GError) error = NULL;
  if (!tv_store_billing_set_status (store, (const char *const *) ids, status, user, "operator", "local",
                                    g_get_real_time (), &error)) {
    g_printerr ("televisitctl billing set-status: %s\n", error->message);
    if (error->domain == TV_STORE_ERROR && (error->code == TV_STORE_ERR_NOT_FOUND
                                            || error->code == TV_STORE_ERR_WRONG_STATE))
      return TV_CTL_EXIT_NOT_FOUND;
    return error->domain == TV_STORE_ERROR && error->code == TV_STORE_ERR_INVALID ? TV_CTL_EXIT_USAGE
                                                                                   : TV_CTL_EXIT_STORE;
  }
  g_print ("%u line(s) now %s\n", g_strv_length (ids), tv_claim_status_to_string (status));
  return TV_CTL_EXIT_OK;
}

int
tv_server_ctl_billing_main (int argc, char **argv, const char *data_dir_opt)
{
  g_return_val_if_fail (argc >= 1, TV_CTL_EXIT_USAGE);
  g_autofree char *data_dir = NULL, *from_s = NULL, *to_s = NULL, *status_s = NULL, *output = NULL;
  gboolean json = FALSE, help = FALSE;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, NULL, NULL },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from_s, NULL, NULL },
    { "to", 0, 0, G_OPTION_ARG_STRING, &to_s, NULL, NULL },
    { "status", 0, 0, G_OPTION_ARG_STRING, &status_s, NULL, NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL },
  };
  g_autofree char **words = NULL;
  int n_words = 0;
  int rc = tv_ctl_parse_command ("billing", entries, &help, TV_SERVER_CTL_BILLING_HELP, argc, argv, &words, &n_words);
  if (rc >= 0)
    return rc;
  if (n_words < 1)
    return tv_ctl_usage ("billing", NULL, "subcommand: list, export or set-status");
  const char *sub = words[0];
  int nargs = n_words - 1;
  char **rest = words + 1;
  gboolean is_list = strcmp (sub, "list") == 0, is_export = strcmp (sub, "export") == 0;
  gboolean is_set = strcmp (sub, "set-status") == 0;
  if (!is_list && !is_export && !is_set)
    return tv_ctl_usage ("billing", NULL, "subcommand: list, export or set-status");
  if (is_set && (from_s || to_s || status_s || output || json))
    return tv_ctl_usage ("billing", sub, "takes STATUS LINE-ID... only");
  if (is_set && nargs < 2)
    return tv_ctl_usage ("billing", sub, "give STATUS and at least one LINE-ID");
  if (!is_set && nargs > 0)
    return tv_ctl_usage ("billing", sub, "unexpected argument \"%s\"", rest[0]);
  if (is_list && output)
    return tv_ctl_usage ("billing", sub, "--output is for export");
  if (is_export && json)
    return tv_ctl_usage ("billing", sub, "--json is for list");
  gint64 from = 0, to = 0;
  if (from_s && !tv_billing_parse_bound (from_s, FALSE, &from))
    return tv_ctl_usage ("billing", sub, "--from: \"%s\" is not a date (YYYY-MM-DD) or an RFC 3339 time", from_s);
  if (to_s && !tv_billing_parse_bound (to_s, TRUE, &to))
    return tv_ctl_usage ("billing", sub, "--to: \"%s\" is not a date (YYYY-MM-DD) or an RFC 3339 time", to_s);
  if (from != 0 && to != 0 && to <= from)
    return tv_ctl_usage ("billing", sub, "--to must be after --from");
  TvClaimStatus status = TV_CLAIM_READY;
  if (status_s && !tv_claim_status_from_string (status_s, &status))
    return tv_ctl_usage ("billing", sub, "--status: \"%s\" is not ready, submitted, paid or denied", status_s);

  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("billing", tv_ctl_data_dir (data_dir ? data_dir : data_dir_opt),
                                                 FALSE, &code);
  if (store == NULL)
    return code;
  if (is_set) {
    g_auto (GStrv) ids = g_new0 (char *, nargs);
    for (int i = 1; i < nargs; i++)
      ids[i - 1] = g_strdup (rest[i]);
    return cmd_set_status (store, rest[0], ids);
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) lines = tv_store_billing_list (store, from, to, status_s ? &status : NULL, 0, &error);
  tv_store_audit_add_local (store, is_list ? "ctl.billing-list" : "ctl.billing-export", "billing_line", NULL, NULL,
                            lines ? "ok" : "error", NULL);
  if (lines == NULL)
    return tv_ctl_store_error ("billing", sub, error);
  return is_list ? cmd_list (store, lines, json) : cmd_export (lines, output);
}

void
tv_server_ctl_billing_show (TvStore *store, const char *consult_id, JsonBuilder *json)
{
  g_autoptr (TvConsultFacts) f = NULL;
  if (!tv_store_consult_facts_get (store, consult_id, &f, NULL))
    return;
  g_autoptr (TvBillingLine) l = NULL;
  gboolean billed = tv_store_billing_get_for_consult (store, consult_id, &l, NULL);
  const char *modality = tv_billing_modality_to_string (f->modality);
  const char *location = tv_billing_location_to_string (f->location);
  const char *status = tv_billing_patient_status_to_string (f->patient_status);
  if (json != NULL) {
    json_builder_set_member_name (json, "billing");
    json_builder_begin_object (json);
    json_builder_set_member_name (json, "modality");
    json_builder_add_string_value (json, modality);
    json_builder_set_member_name (json, "audio_only_reason");
    if (f->audio_only_reason)
      json_builder_add_string_value (json, f->audio_only_reason);
    else
      json_builder_add_null_value (json);
    json_builder_set_member_name (json, "patient_location");
    json_builder_add_string_value (json, location);
    json_builder_set_member_name (json, "patient_status");
    json_builder_add_string_value (json, status);
    json_builder_set_member_name (json, "line");
    if (billed)
      json_builder_add_value (json, tv_billing_line_to_json (l));
    else
      json_builder_add_null_value (json);
    json_builder_set_member_name (json, "unbilled_reason");
    if (f->unbilled_reason)
      json_builder_add_string_value (json, f->unbilled_reason);
    else
      json_builder_add_null_value (json);
    json_builder_end_object (json);
    return;
  }
  g_autofree char *why = f->audio_only_reason ? g_strdup_printf (" (%s)", f->audio_only_reason) : g_strdup ("");
  g_print ("\nbilling:\n  facts          %s%s, patient at %s, %s patient%s\n", modality, why, location, status,
           f->updated_at == 0 ? " (defaults)" : "");
  if (billed) {
    g_autofree char *fee = tv_billing_format_amount (l->fee_cents);
    g_print ("  line           %s%s%s POS %s, %u min, %s %s, %s (%s)\n", l->code, *l->modifiers ? "-" : "",
             l->modifiers, l->pos, l->minutes, fee, l->currency, tv_claim_status_to_string (l->status), l->id);
  } else if (f->unbilled_reason != NULL) {
    g_print ("  not billed     %s\n", f->unbilled_reason);
  }
}
