/* tv-ctl-reminders.c — `televisitctl reminders list [--consult ID] [--json]`.
 *
 * Why: see tv-ctl-reminders.h. Prints one line per outbox message: id,
 * consult, kind, offset, due time (UTC), status, attempts, last error. No
 * addresses or names are printed (the store keeps none in the outbox). Every
 * run leaves an audit row (action ctl.reminders-list).
 * Thread: single-threaded command-line program.
 */
#include "server/tv-ctl-reminders.h"
#include "server/tv-ctl-common.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-reminders.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define MAX_ID_BYTES 64

const char TV_SERVER_CTL_REMINDERS_HELP[] =
  "    reminders list [--consult ID] [--json]\n"
  "        The reminder outbox: one line per message (ID CONSULT KIND OFFSET DUE\n"
  "        STATUS ATTEMPTS LAST-ERROR), or a JSON object {\"reminders\": [...]}.\n"
  "        Without --consult, the latest 1000 messages by due time. Statuses:\n"
  "        pending, sending, sent, failed, cancelled, skipped.\n";

static char *
format_time (gint64 us)
{
  if (us <= 0)
    return g_strdup ("-");
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  return g_date_time_format (t, "%Y-%m-%dT%H:%M:%SZ");
}

static void
print_json (GPtrArray *list)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "reminders");
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++) {
    const TvReminder *r = g_ptr_array_index (list, i);
    g_autofree char *offset = tv_reminders_format_offset (r->offset_s);
    g_autofree char *due = format_time (r->due_at);
    g_autofree char *sent = format_time (r->sent_at);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, r->id);
    json_builder_set_member_name (b, "consult_id");
    json_builder_add_string_value (b, r->consult_id);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, r->kind);
    json_builder_set_member_name (b, "offset");
    json_builder_add_string_value (b, offset);
    json_builder_set_member_name (b, "due_at");
    json_builder_add_string_value (b, due);
    json_builder_set_member_name (b, "sequence");
    json_builder_add_int_value (b, r->sequence);
    json_builder_set_member_name (b, "status");
    json_builder_add_string_value (b, tv_reminder_status_to_string (r->status));
    json_builder_set_member_name (b, "attempts");
    json_builder_add_int_value (b, r->attempts);
    json_builder_set_member_name (b, "last_error");
    if (r->last_error != NULL)
      json_builder_add_string_value (b, r->last_error);
    else
      json_builder_add_null_value (b);
    json_builder_set_member_name (b, "sent_at");
    if (r->sent_at > 0)
      json_builder_add_string_value (b, sent);
    else
      json_builder_add_null_value (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_ctl_print_json_builder (b);
}

static void
print_text (GPtrArray *list)
{
  for (guint i = 0; i < list->len; i++) {
    const TvReminder *r = g_ptr_array_index (list, i);
    g_autofree char *offset = tv_reminders_format_offset (r->offset_s);
    g_autofree char *due = format_time (r->due_at);
    g_print ("%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%s\t%s\t%u\t%s\n", r->id, r->consult_id, r->kind, offset, due,
             tv_reminder_status_to_string (r->status), r->attempts, r->last_error != NULL ? r->last_error : "-");
  }
}

int
tv_server_ctl_reminders_main (int argc, char **argv, const char *data_dir_opt)
{
  g_return_val_if_fail (argc >= 1, TV_CTL_EXIT_USAGE);
  g_autofree char *data_dir = NULL, *consult = NULL;
  gboolean json = FALSE, help = FALSE;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, NULL, NULL },
    { "consult", 0, 0, G_OPTION_ARG_STRING, &consult, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL },
  };
  g_autofree char **rest = NULL;
  int n_rest = 0;
  int rc = tv_ctl_parse_command ("reminders", entries, &help, TV_SERVER_CTL_REMINDERS_HELP, argc, argv, &rest, &n_rest);
  if (rc >= 0)
    return rc;
  if (n_rest != 1 || strcmp (rest[0], "list") != 0)
    return tv_ctl_usage ("reminders", NULL, n_rest > 1 ? "unexpected argument \"%s\"" : "subcommand: list%s",
                         n_rest > 1 ? rest[1] : "");
  if (consult != NULL && (*consult == '\0' || strlen (consult) > MAX_ID_BYTES || !g_uuid_string_is_valid (consult)))
    return tv_ctl_usage ("reminders", NULL, "--consult: not a consult id");

  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("reminders", tv_ctl_data_dir (data_dir ? data_dir : data_dir_opt),
                                                 FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  if (consult != NULL && !tv_store_consult_get (store, consult, &c, &error)) {
    tv_store_audit_add_local (store, "ctl.reminders-list", "consult", consult, NULL, "error", "not found");
    return tv_ctl_store_error ("reminders", NULL, error);
  }
  g_autoptr (GPtrArray) list = tv_store_reminder_list (store, consult, &error);
  tv_store_audit_add_local (store, "ctl.reminders-list", "consult", consult, c != NULL ? c->patient_id : NULL,
                            list != NULL ? "ok" : "error", NULL);
  if (list == NULL)
    return tv_ctl_store_error ("reminders", NULL, error);
  if (json)
    print_json (list);
  else
    print_text (list);
  return TV_CTL_EXIT_OK;
}
