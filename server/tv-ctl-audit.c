/* tv-ctl-audit.c — `televisitctl audit verify|list` (see tv-ctl-audit.h).
 *
 * Why: verify recomputes the hash chain and names the first broken row (exit
 * 4), so tampering with the database file is found without the server; list
 * reads the trail by user, patient and time (itself an audited read).
 * Thread: single-threaded command-line program.
 */
#define G_LOG_DOMAIN "tv-ctl"

#include "server/tv-ctl-audit.h"

#include "server/tv-ctl-common.h"
#include "server/tv-schedule.h"
#include "server/tv-store-audit.h"
#include "server/tv-store.h"

#include <stdarg.h>
#include <string.h>

#include <json-glib/json-glib.h>

#define MAX_ID_BYTES 64


const char TV_SERVER_CTL_AUDIT_HELP[] =
  "    audit verify\n"
  "        Recompute the audit trail's hash chain. Prints \"N rows, chain intact\"\n"
  "        (exit 0), or \"broken at row SEQ: WHAT\" naming the first row whose\n"
  "        content, link to the previous row or sequence does not match (exit 4).\n"
  "    audit list [--user ID] [--patient ID] [--from RFC3339] [--to RFC3339] [--json]\n"
  "        Audit rows (time, user id, role, action, resource, patient id, source,\n"
  "        outcome) by acting user id, patient id and time range (from <= at < to).\n"
  "        This read is itself audited.\n";

static int
cmd_verify (TvStore *store)
{
  g_autoptr (GError) error = NULL;
  gint64 n = 0, broken = 0;
  g_autofree char *reason = NULL;
  if (!tv_store_audit_verify (store, &n, &broken, &reason, &error)) {
    g_printerr ("televisitctl audit verify: %s\n", error->message);
    return TV_CTL_EXIT_STORE;
  }
  if (broken != 0) {
    g_print ("broken at row %" G_GINT64_FORMAT ": %s (%" G_GINT64_FORMAT " rows)\n", broken, reason, n);
    return TV_CTL_EXIT_BROKEN;
  }
  g_print ("%" G_GINT64_FORMAT " rows, chain intact\n", n);
  return TV_CTL_EXIT_OK;
}

static int
cmd_list (TvStore *store, const char *user, const char *patient, gint64 from, gint64 to, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = tv_store_audit_list (store, user, patient, from, to, 0, &error);
  tv_store_audit_add_local (store, "ctl.audit-list", "audit", NULL, patient, rows ? "ok" : "error", NULL);
  if (rows == NULL) {
    g_printerr ("televisitctl audit list: %s\n", error->message);
    return TV_CTL_EXIT_STORE;
  }
  if (json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "rows");
    json_builder_begin_array (b);
    for (guint i = 0; i < rows->len; i++)
      json_builder_add_value (b, tv_audit_row_to_json (g_ptr_array_index (rows, i)));
    json_builder_end_array (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }
  if (rows->len == 0) {
    g_print ("no audit rows\n");
    return TV_CTL_EXIT_OK;
  }
  g_print ("%6s  %-27s  %-36s  %-10s  %-28s  %-36s  %-36s  %-15s  %s\n", "SEQ", "AT (UTC)", "USER", "ROLE",
           "ACTION", "RESOURCE", "PATIENT", "SOURCE", "OUTCOME");
  for (guint i = 0; i < rows->len; i++) {
    const TvAuditRow *r = g_ptr_array_index (rows, i);
    g_autoptr (JsonNode) node = tv_audit_row_to_json (r);
    const char *at = json_object_get_string_member (json_node_get_object (node), "at");
    g_autofree char *res = *r->resource_id ? g_strdup_printf ("%s %s", r->resource_type, r->resource_id)
                                           : g_strdup (r->resource_type);
    g_print ("%6" G_GINT64_FORMAT "  %-27s  %-36s  %-10s  %-28s  %-36s  %-36s  %-15s  %s%s%s\n", r->seq, at,
             *r->user_id ? r->user_id : "-", *r->role ? r->role : "-", r->action, *res ? res : "-",
             *r->patient_id ? r->patient_id : "-", r->source, r->outcome, *r->detail ? " " : "", r->detail);
  }
  return TV_CTL_EXIT_OK;
}

static gboolean
parse_time (const char *name, const char *text, gint64 *out)
{
  g_autoptr (GError) error = NULL;
  *out = 0;
  if (text == NULL)
    return TRUE;
  if (!tv_schedule_parse_rfc3339 (text, name, out, &error)) {
    tv_ctl_usage ("audit", NULL, "%s", error->message);
    return FALSE;
  }
  return TRUE;
}

int
tv_server_ctl_audit_main (int argc, char **argv, const char *data_dir_opt)
{
  g_return_val_if_fail (argc >= 1, TV_CTL_EXIT_USAGE);
  g_autofree char *data_dir = NULL, *user = NULL, *patient = NULL, *from_s = NULL, *to_s = NULL;
  gboolean json = FALSE, help = FALSE;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, NULL, NULL },
    { "user", 0, 0, G_OPTION_ARG_STRING, &user, NULL, NULL },
    { "patient", 0, 0, G_OPTION_ARG_STRING, &patient, NULL, NULL },
    { "from", 0, 0, G_OPTION_ARG_STRING, &from_s, NULL, NULL },
    { "to", 0, 0, G_OPTION_ARG_STRING, &to_s, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL },
  };
  g_autofree char **rest = NULL;
  int n_rest = 0;
  int rc = tv_ctl_parse_command ("audit", entries, &help, TV_SERVER_CTL_AUDIT_HELP, argc, argv, &rest, &n_rest);
  if (rc >= 0)
    return rc;
  if (n_rest != 1)
    return tv_ctl_usage ("audit", NULL, n_rest < 1 ? "subcommand: verify or list%s" : "unexpected argument \"%s\"",
                         n_rest > 1 ? rest[1] : "");
  const char *sub = rest[0];
  gboolean verify = strcmp (sub, "verify") == 0;
  if (!verify && strcmp (sub, "list") != 0)
    return tv_ctl_usage ("audit", NULL, "subcommand: verify or list");
  if (verify && (user || patient || from_s || to_s || json))
    return tv_ctl_usage ("audit", NULL, "verify takes no options besides --data-dir");
  const char *ids[] = { user, patient };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    if (ids[i] != NULL && (*ids[i] == '\0' || strlen (ids[i]) > MAX_ID_BYTES || g_str_has_prefix (ids[i], "--")))
      return tv_ctl_usage ("audit", NULL, "%s: not an id", i == 0 ? "--user" : "--patient");
  gint64 from = 0, to = 0;
  if (!parse_time ("--from", from_s, &from) || !parse_time ("--to", to_s, &to))
    return TV_CTL_EXIT_USAGE;
  if (from != 0 && to != 0 && to <= from)
    return tv_ctl_usage ("audit", NULL, "--to must be after --from");

  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("audit", tv_ctl_data_dir (data_dir ? data_dir : data_dir_opt),
                                                 FALSE, &code);
  if (store == NULL)
    return code;
  return verify ? cmd_verify (store) : cmd_list (store, user, patient, from, to, json);
}
