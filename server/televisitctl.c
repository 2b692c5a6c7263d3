/* televisitctl.c — the Televisit admin tool: create, list, show, end and cancel consults.
 *
 * Why: consults and their join tokens are made by an administrator, not over
 * the network. This tool opens the same SQLite store as the running server
 * (server/tv-store.h; WAL + busy timeout make that safe) and is the only place
 * where a join token is ever shown in clear: once, when the consult is created.
 * The server notices `end`/`cancel` through its 1 s check of the store.
 *
 * Thread: single-threaded command-line program; no main loop.
 * Exit status: 0 ok, 1 usage error, 2 store error, 3 not found / wrong state.
 */
#define G_LOG_DOMAIN "tv-ctl"

#include <locale.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "server/tv-ctl-audit.h"
#include "server/tv-ctl-billing.h"
#include "server/tv-ctl-reminders.h"
#include "server/tv-ctl-common.h"
#include "server/tv-ctl-rekey.h"
#include "server/tv-report-ctl.h"
#include "server/tv-ctl-schedule.h"
#include "server/tv-ctl-user.h"
#include "server/tv-store.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-chat.h"

#define DEFAULT_SERVER_URL "wss://localhost:8443"
#define DEFAULT_TOKEN_HOURS 24
#define MAX_TOKEN_HOURS 720
#define ADMIN_END_REASON "ended-by-admin"
#define ADMIN_CANCEL_REASON "cancelled-by-admin"

/* ------------------------------------------------------------------------ */
/* Help texts                                                                 */

static const char HELP_SYNOPSIS[] =
  "    televisitctl [--data-dir DIR] create --doctor NAME --patient NAME\n"
  "                 [--start RFC3339|now] [--token-valid HOURS] [--server URL] [--json]\n"
  "    televisitctl [--data-dir DIR] list [--json]\n"
  "    televisitctl [--data-dir DIR] show ID [--json]\n"
  "    televisitctl [--data-dir DIR] end ID\n"
  "    televisitctl [--data-dir DIR] cancel ID\n"
  "    televisitctl [--data-dir DIR] user add|list|disable|set-password|set-contact ...\n"
  "    televisitctl [--data-dir DIR] availability show|set DOCTOR ...\n"
  "    televisitctl [--data-dir DIR] exceptions add|list|remove DOCTOR ...\n"
  "    televisitctl [--data-dir DIR] slots DOCTOR [--from RFC3339] [--to RFC3339] [--json]\n"
  "    televisitctl [--data-dir DIR] book --doctor DOCTOR --patient PATIENT --start RFC3339 [--json]\n"
  "    televisitctl [--data-dir DIR] no-show ID\n"
  "    televisitctl [--data-dir DIR] keys status|rotate|rekey|retire ...\n"
  "    televisitctl [--data-dir DIR] report [--from DAY] [--to DAY] [--doctor ID] [--tz ZONE] [--csv|--json|--html]\n"
  "    televisitctl [--data-dir DIR] audit verify\n"
  "    televisitctl [--data-dir DIR] audit list [--user ID] [--patient ID] [--from RFC3339] [--to RFC3339] [--json]\n"
  "    televisitctl [--data-dir DIR] reminders list [--consult ID] [--json]\n"
  "    televisitctl [--data-dir DIR] billing list|export [--from DATE] [--to DATE] [--status STATUS] [--json|--output FILE]\n"
  "    televisitctl [--data-dir DIR] billing set-status STATUS LINE-ID...\n"
  "    televisitctl help [COMMAND]\n"
  "    televisitctl --help\n";

static const char HELP_CREATE[] =
  "    create --doctor NAME --patient NAME [--start RFC3339|now] [--token-valid HOURS]\n"
  "           [--server URL] [--json]\n"
  "        Create a consult between a doctor and a patient. Prints the consult id,\n"
  "        one join token per party and, for each party, a ready-to-paste\n"
  "        televisit-client command line. The store keeps nothing but the\n"
  "        tokens' SHA-256; they are derived from DATA_DIR/join-link.key, so a\n"
  "        scheduler or admin can show them again as join links (HTTPS API,\n"
  "        GET /api/v1/consults/ID/join-link) for as long as that key is kept.\n"
  "        --doctor NAME        doctor's name or identifier (1..200 bytes of UTF-8)\n"
  "        --patient NAME       patient's name or identifier (1..200 bytes of UTF-8)\n"
  "        --start TIME         scheduled start, RFC 3339 with an offset or Z\n"
  "                             (2025-03-01T09:30:00+01:00), or \"now\" (default)\n"
  "        --token-valid HOURS  tokens expire HOURS after the start (1..720, default 24)\n"
  "        --server URL         server URL for the printed command lines\n"
  "                             (wss://HOST[:PORT][/], default " DEFAULT_SERVER_URL ")\n"
  "        --json               print the result as a JSON object\n";

static const char HELP_LIST[] =
  "    list [--json]\n"
  "        List all consults, latest scheduled start first: id, scheduled start\n"
  "        (RFC 3339, UTC), status, duration (time media was connected) and doctor.\n"
  "        Patient names are not listed; use show.\n"
  "        --json               print {\"consults\": [...]}\n";

static const char HELP_SHOW[] =
  "    show ID [--json]\n"
  "        Show every field of one consult, including the patient, its\n"
  "        participation log (joins, leaves, media up/down) and its in-call chat\n"
  "        (time, sender, text) with RFC 3339 times.\n"
  "        --json               print the consult as a JSON object\n";

static const char HELP_END[] =
  "    end ID\n"
  "        Mark the consult completed with reason \"" ADMIN_END_REASON "\". A running\n"
  "        server notices within about a second, tells both parties and closes\n"
  "        their connections. Exit status 3 if the consult is already over.\n";

static const char HELP_CANCEL[] =
  "    cancel ID\n"
  "        Cancel a consult that has not started (no media ever connected):\n"
  "        status cancelled, reason \"" ADMIN_CANCEL_REASON "\". Nobody can join it\n"
  "        afterwards. Exit status 3 if it has started or is already over.\n";

static const char HELP_HELP[] =
  "    help [COMMAND]\n"
  "        Show this manual, or the help of one command.\n";

static const char HELP_OPTIONS[] =
  "    --data-dir DIR\n"
  "        Directory holding the database (and the server's tls/). Default: the\n"
  "        environment variable TELEVISIT_DATA_DIR, else " TV_CTL_DEFAULT_DATA_DIR ".\n"
  "        Accepted before the command or among its options.\n"
  "    -h, --help\n"
  "        Show this manual (before a command) or the command's help (after it).\n";

static void
print_manual (void)
{
  g_print ("NAME\n"
           "    televisitctl - administer Televisit video consults\n"
           "\n"
           "SYNOPSIS\n%s"
           "\n"
           "DESCRIPTION\n"
           "    televisitctl creates consults and their join tokens, lists and shows\n"
           "    them, and ends or cancels them; it also manages the user accounts of the\n"
           "    HTTPS API (user ...) and the scheduling of booked consults (doctors'\n"
           "    hours and exceptions, free slots, booking, no-show: the same rules as\n"
           "    the API). It works on the SQLite database of the\n"
           "    Televisit server and may run while the server runs.\n"
           "    Commands that read or change consults or accounts (create, list,\n"
           "    show, end, cancel, book, no-show, user ..., billing ...) leave a row in the audit trail (user\n"
           "    \"os:<login name>\", role operator, source local); audit verify checks\n"
           "    the trail's hash chain and audit list reads it.\n"
           "\n"
           "COMMANDS\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s"
           "\n"
           "OPTIONS\n%s"
           "\n"
           "EXIT STATUS\n"
           "    0   success\n"
           "    1   usage error (the message names the bad argument)\n"
           "    2   store error (database missing, unreadable, locked or from a newer version)\n"
           "    3   no consult with that id, or the consult is in the wrong state;\n"
           "        for user commands: no such user, or the username is taken;\n"
           "        for scheduling commands: no such doctor / patient / consult /\n"
           "        exception, the slot is taken, the patient has an overlapping\n"
           "        consult, or the consult is in the wrong state\n"
           "        for billing set-status: no such billing line, or a status change\n"
           "        that is not allowed (then no line changed)\n"
           "    4   audit verify: the audit trail's hash chain is broken\n"
           "\n"
           "ENVIRONMENT\n"
           "    TELEVISIT_DATA_DIR   data directory when --data-dir is not given\n"
           "    TELEVISIT_DATA_KEY_FILE  data key file when it is not DATA_DIR/keys/data.keys\n"
           "                         (the server's data-key-file setting)\n"
           "\n"
           "FILES\n"
           "    DATA_DIR/" TV_CTL_DB_NAME "     consults, token hashes, participation log (mode 0600)\n"
           "    DATA_DIR/tls/cert.pem     the server's certificate, passed to clients as --ca\n"
           "    DATA_DIR/join-link.key    key the join tokens are derived from (mode 0600, made on\n"
           "                              first use; shared with the server, never print it)\n"
           "    DATA_DIR/keys/data.keys   data keys for encryption at rest (mode 0600; see keys)\n"
           "\n"
           "EXAMPLES\n"
           "    televisitctl create --doctor \"Dr. Test Doctor\" --patient \"Pat Synthetic\" \\\n"
           "        --start 2025-03-01T09:30:00+01:00 --token-valid 4\n"
           "    televisitctl --data-dir /tmp/tv list --json\n"
           "    televisitctl show 1b4e28ba-2fa1-41d2-883f-0016d3cca427\n"
           "    televisitctl end 1b4e28ba-2fa1-41d2-883f-0016d3cca427\n"
           "    televisitctl user add --username admin --name \"Ada Admin\" --role admin\n"
           "    printf '%%s\\n' \"$PASSWORD\" | televisitctl user set-password admin --password-stdin\n"
           "    televisitctl availability set dr.ada --hours mon=09:00-12:00 --hours mon=14:00-17:00\n"
           "    televisitctl slots dr.ada --from 2030-01-07T00:00:00+01:00\n"
           "    televisitctl book --doctor dr.ada --patient pat.synthetic --start 2030-01-07T09:00:00+01:00\n"
           "    televisitctl billing export --from 2030-01-01 --to 2030-01-31 --output january-claims.csv\n"
           "    televisitctl audit verify\n"
           "    televisitctl reminders list --consult 1b4e28ba-2fa1-41d2-883f-0016d3cca427\n"
           "    televisitctl keys rotate && televisitctl keys rekey && televisitctl keys retire 1\n"
           "    televisitctl report --from 2030-01-01 --to 2030-01-31 --tz Europe/Berlin --csv > january.csv\n"
           "    televisitctl audit list --patient 6f1c0b7e-8a53-4d7e-9a63-1c2f0b6a9d11 --from 2030-01-01T00:00:00Z\n",
           HELP_SYNOPSIS, HELP_CREATE, HELP_LIST, HELP_SHOW, HELP_END, HELP_CANCEL, TV_SERVER_CTL_USER_HELP, TV_SERVER_CTL_KEYS_HELP, TV_SERVER_CTL_REPORT_HELP,
           TV_SERVER_CTL_SCHEDULE_HELP, TV_SERVER_CTL_AUDIT_HELP, TV_SERVER_CTL_REMINDERS_HELP, TV_SERVER_CTL_BILLING_HELP, HELP_HELP,
           HELP_OPTIONS);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                    */

typedef struct {
  char *data_dir;
  gboolean help;
  gboolean json;
  char *doctor;
  char *patient;
  char *start;
  char *token_valid;
  char *server;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->data_dir);
  g_free (o->doctor);
  g_free (o->patient);
  g_free (o->start);
  g_free (o->token_valid);
  g_free (o->server);
}

typedef struct {
  const char *name;
  const char *help;
  int n_args;                /* positional arguments after the command (0 or 1: ID) */
  gboolean has_json;
  int (*run) (const Options *o, const char *data_dir, const char *arg);
} Command;




/* ------------------------------------------------------------------------ */
/* Formatting                                                                 */

/* Returns: (transfer full) @us as RFC 3339 UTC with second precision, or NULL for 0. */
static char *
format_time (gint64 us)
{
  if (us == 0)
    return NULL;
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  if (dt == NULL)
    return g_strdup ("invalid-time");
  return g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ");
}

/* Returns: (transfer full) H:MM:SS. */
static char *
format_duration (gint64 us)
{
  gint64 s = MAX (us, 0) / G_USEC_PER_SEC;
  return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", s / 3600, (int) (s / 60 % 60), (int) (s % 60));
}

/* Connected time including a still open interval, as the admin wants it now. */
static gint64
connected_now (const TvConsult *c, gint64 now)
{
  gint64 t = c->connected_us;
  if (c->media_up_since != 0 && now > c->media_up_since)
    t += now - c->media_up_since;
  return t;
}

/* Quotes @arg for a POSIX shell only when it needs it, so the usual command
 * lines stay easy to read. Returns: (transfer full). */
static char *
shell_arg (const char *arg)
{
  for (const char *p = arg; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p) && strchr ("/._-:,@%+=", *p) == NULL)
      return g_shell_quote (arg);
  }
  return *arg != '\0' ? g_strdup (arg) : g_shell_quote (arg);
}

static void
json_add_time (JsonBuilder *b, const char *key, gint64 us)
{
  g_autofree char *text = format_time (us);
  json_builder_set_member_name (b, key);
  if (text != NULL)
    json_builder_add_string_value (b, text);
  else
    json_builder_add_null_value (b);
}

static void
json_add_string (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
json_add_int (JsonBuilder *b, const char *key, gint64 value)
{
  json_builder_set_member_name (b, key);
  json_builder_add_int_value (b, value);
}

/* The consult's fields as members of the current JSON object; the patient
 * only when @with_patient (show), since list must not carry patient data. */
static void
json_add_consult (JsonBuilder *b, const TvConsult *c, gboolean with_patient, gint64 now)
{
  json_add_string (b, "id", c->id);
  json_add_string (b, "doctor", c->doctor);
  if (with_patient)
    json_add_string (b, "patient", c->patient);
  json_add_string (b, "status", tv_consult_status_to_string (c->status));
  json_add_time (b, "scheduled_start", c->scheduled_start);
  json_add_time (b, "created_at", c->created_at);
  json_add_time (b, "arrived_at", c->arrived_at);
  json_add_time (b, "admitted_at", c->admitted_at);
  json_add_int (b, "wait_s", c->wait_us / G_USEC_PER_SEC);
  json_add_time (b, "started_at", c->started_at);
  json_add_time (b, "ended_at", c->ended_at);
  json_add_int (b, "duration_s", connected_now (c, now) / G_USEC_PER_SEC);
  json_add_int (b, "connected_us", c->connected_us);
  json_add_time (b, "media_up_since", c->media_up_since);
  json_add_string (b, "end_reason", c->end_reason);
}

/* ------------------------------------------------------------------------ */
/* Argument checks                                                            */

/* --start: "now" or RFC 3339 with an offset or Z. The regular expression only
 * checks the RFC 3339 shape (ISO 8601 allows much more); GDateTime parses it. */
static gboolean
parse_start (const char *text, gint64 now, gint64 *out, GError **error)
{
  if (g_strcmp0 (text, "now") == 0) {
    *out = now;
    return TRUE;
  }
  g_autofree char *upper = g_ascii_strup (text, -1);   /* RFC 3339 allows "t" and "z" */
  if (!g_regex_match_simple ("^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
                             "(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$",
                             upper, G_REGEX_DOLLAR_ENDONLY, 0)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--start: not an RFC 3339 time with an offset or Z (e.g. 2025-03-01T09:30:00+01:00) or \"now\"");
    return FALSE;
  }
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (upper, NULL);
  if (dt == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--start: not a valid date and time");
    return FALSE;
  }
  gint64 us = g_date_time_to_unix (dt);
  if (us <= 0 || us > G_MAXINT64 / G_USEC_PER_SEC / 2) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--start: out of range (1970..)");
    return FALSE;
  }
  *out = us * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

/* --server: wss://HOST[:PORT][/]; nothing that would not fit the printed command. */
static gboolean
check_server_url (const char *url, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local);
  const char *why = NULL;
  if (uri == NULL)
    why = "not a URL";
  else if (g_ascii_strcasecmp (g_uri_get_scheme (uri), "wss") != 0)
    why = "the scheme must be wss://";
  else if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    why = "no host";
  else if (g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL
           || g_uri_get_fragment (uri) != NULL
           || (*g_uri_get_path (uri) != '\0' && strcmp (g_uri_get_path (uri), "/") != 0))
    why = "only wss://HOST[:PORT][/] is accepted";
  if (why != NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--server: %s", why);
    return FALSE;
  }
  return TRUE;
}

/* Checks the ID argument; Returns: (transfer full) the lower-case id or NULL. */
static char *
check_id (const char *command, const char *arg)
{
  if (!g_uuid_string_is_valid (arg)) {
    tv_ctl_usage (command, NULL, "ID: not a consult id (expected a UUID such as "
                          "1b4e28ba-2fa1-41d2-883f-0016d3cca427)");
    return NULL;
  }
  return g_ascii_strdown (arg, -1);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                   */

static int
cmd_create (const Options *o, const char *data_dir, const char *arg)
{
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  gint64 start = now;
  gint64 hours = DEFAULT_TOKEN_HOURS;
  const char *server = o->server != NULL ? o->server : DEFAULT_SERVER_URL;

  if (o->doctor == NULL) {
    tv_ctl_usage ("create", NULL, "--doctor: required");
    return TV_CTL_EXIT_USAGE;
  }
  if (o->patient == NULL) {
    tv_ctl_usage ("create", NULL, "--patient: required");
    return TV_CTL_EXIT_USAGE;
  }
  if (!tv_store_check_name (o->doctor, &error)) {
    tv_ctl_usage ("create", NULL, "--doctor: %s", error->message);
    return TV_CTL_EXIT_USAGE;
  }
  if (!tv_store_check_name (o->patient, &error)) {
    tv_ctl_usage ("create", NULL, "--patient: %s", error->message);
    return TV_CTL_EXIT_USAGE;
  }
  if (o->start != NULL && !parse_start (o->start, now, &start, &error)) {
    tv_ctl_usage ("create", NULL, "%s", error->message);
    return TV_CTL_EXIT_USAGE;
  }
  if (o->token_valid != NULL) {
    guint64 h = 0;
    if (!g_ascii_string_to_unsigned (o->token_valid, 10, 1, MAX_TOKEN_HOURS, &h, NULL)) {
      tv_ctl_usage ("create", NULL, "--token-valid: must be a whole number of hours from 1 to %d",
                   MAX_TOKEN_HOURS);
      return TV_CTL_EXIT_USAGE;
    }
    hours = (gint64) h;
  }
  if (!check_server_url (server, &error)) {
    tv_ctl_usage ("create", NULL, "%s", error->message);
    return TV_CTL_EXIT_USAGE;
  }
  gint64 expires = start + hours * 3600 * G_USEC_PER_SEC;
  if (expires <= now) {
    tv_ctl_usage ("create", NULL, "--start: the tokens would already have expired "
                           "(start + --token-valid hours is in the past)");
    return TV_CTL_EXIT_USAGE;
  }

  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store (NULL, data_dir, TRUE, &code);
  if (store == NULL)
    return code;
  g_autoptr (TvConsult) consult = NULL;
  g_autofree char *doctor_token = NULL;
  g_autofree char *patient_token = NULL;
  /* The consult and its audit row commit in one transaction (the store fills in the id). */
  tv_store_audit_stage_local (store, "ctl.create", "consult", NULL, NULL);
  gboolean created = tv_store_consult_create (store, o->doctor, o->patient, start, expires, now, &consult,
                                              &doctor_token, &patient_token, &error);
  if (!tv_store_audit_unstage (store, NULL))
    tv_store_audit_add_local (store, "ctl.create", "consult", NULL, NULL, "error", NULL);
  if (!created)
    return tv_ctl_store_error (NULL, "create", error);

  /* The client must find the certificate wherever it is started from. */
  g_autofree char *abs_dir = g_canonicalize_filename (data_dir, NULL);
  g_autofree char *ca = g_build_filename (abs_dir, "tls", "cert.pem", NULL);
  g_autofree char *q_server = shell_arg (server);
  g_autofree char *q_ca = shell_arg (ca);
  g_autofree char *doctor_cmd = g_strdup_printf ("televisit-client --server %s --ca %s --token %s",
                                                 q_server, q_ca, doctor_token);
  g_autofree char *patient_cmd = g_strdup_printf ("televisit-client --server %s --ca %s --token %s",
                                                  q_server, q_ca, patient_token);
  g_autofree char *start_text = format_time (start);
  g_autofree char *expires_text = format_time (expires);

  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_add_string (b, "id", consult->id);
    json_add_string (b, "doctor", consult->doctor);
    json_add_string (b, "status", tv_consult_status_to_string (consult->status));
    json_add_string (b, "scheduled_start", start_text);
    json_add_string (b, "tokens_expire_at", expires_text);
    json_builder_set_member_name (b, "tokens");
    json_builder_begin_object (b);
    json_add_string (b, "doctor", doctor_token);
    json_add_string (b, "patient", patient_token);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "commands");
    json_builder_begin_object (b);
    json_add_string (b, "doctor", doctor_cmd);
    json_add_string (b, "patient", patient_cmd);
    json_builder_end_object (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
  } else {
    g_print ("consult %s\n"
             "scheduled start  %s\n"
             "tokens expire    %s\n"
             "\n"
             "doctor token     %s\n"
             "patient token    %s\n"
             "\n"
             "The store keeps only the tokens' SHA-256; while DATA_DIR/join-link.key is\n"
             "kept, a scheduler or admin can show them again as join links\n"
             "(GET /api/v1/consults/%s/join-link).\n"
             "\n"
             "Doctor:\n  %s\n"
             "Patient:\n  %s\n",
             consult->id, start_text, expires_text, doctor_token, patient_token, consult->id, doctor_cmd,
             patient_cmd);
  }
  return TV_CTL_EXIT_OK;
}

static int
cmd_list (const Options *o, const char *data_dir, const char *arg)
{
  g_autoptr (GError) error = NULL;
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store (NULL, data_dir, FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (GPtrArray) list = tv_store_consult_list (store, &error);
  tv_store_audit_add_local (store, "ctl.list", "consult", NULL, NULL, list ? "ok" : "error", NULL);
  if (list == NULL)
    return tv_ctl_store_error (NULL, "list", error);
  gint64 now = g_get_real_time ();

  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "consults");
    json_builder_begin_array (b);
    for (guint i = 0; i < list->len; i++) {
      json_builder_begin_object (b);
      json_add_consult (b, g_ptr_array_index (list, i), FALSE, now);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }
  if (list->len == 0) {
    g_print ("no consults\n");
    return TV_CTL_EXIT_OK;
  }
  g_print ("%-36s  %-20s  %-11s  %9s  %s\n", "ID", "START (UTC)", "STATUS", "DURATION", "DOCTOR");
  for (guint i = 0; i < list->len; i++) {
    const TvConsult *c = g_ptr_array_index (list, i);
    g_autofree char *start = format_time (c->scheduled_start);
    g_autofree char *dur = format_duration (connected_now (c, now));
    g_print ("%-36s  %-20s  %-11s  %9s  %s\n", c->id, start, tv_consult_status_to_string (c->status),
             dur, c->doctor);
  }
  return TV_CTL_EXIT_OK;
}

static int
cmd_show (const Options *o, const char *data_dir, const char *arg)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = check_id ("show", arg);
  if (id == NULL)
    return TV_CTL_EXIT_USAGE;
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store (NULL, data_dir, FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (TvConsult) c = NULL;
  if (!tv_store_consult_get (store, id, &c, &error)) {
    tv_store_audit_add_local (store, "ctl.show", "consult", id, NULL, "error", "not found or unreadable");
    return tv_ctl_store_error (NULL, "show", error);
  }
  tv_store_audit_add_local (store, "ctl.show", "consult", id, c->patient_id, "ok", NULL);
  g_autoptr (GPtrArray) log = tv_store_participation_list (store, id, &error);
  if (log == NULL)
    return tv_ctl_store_error (NULL, "show", error);
  g_autoptr (GPtrArray) chat = tv_store_chat_list (store, id, &error);
  if (chat == NULL)
    return tv_ctl_store_error (NULL, "show", error);
  gint64 now = g_get_real_time ();

  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_add_consult (b, c, TRUE, now);
    json_builder_set_member_name (b, "participation");
    json_builder_begin_array (b);
    for (guint i = 0; i < log->len; i++) {
      const TvParticipation *p = g_ptr_array_index (log, i);
      json_builder_begin_object (b);
      json_add_time (b, "at", p->at);
      json_add_string (b, "role", p->role == TV_SIG_ROLE_DOCTOR ? "doctor" : "patient");
      json_add_string (b, "event", tv_participation_event_to_string (p->event));
      json_add_string (b, "detail", p->detail);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "chat");
    json_builder_begin_array (b);
    for (guint i = 0; i < chat->len; i++) {
      const TvChatMessage *m = g_ptr_array_index (chat, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, m->id);
      json_add_time (b, "at", m->sent_at);
      json_add_string (b, "from", m->sender_role);
      json_add_string (b, "text", m->text);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    tv_server_ctl_billing_show (store, c->id, b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }

  g_autofree char *start = format_time (c->scheduled_start);
  g_autofree char *created = format_time (c->created_at);
  g_autofree char *arrived = format_time (c->arrived_at);
  g_autofree char *admitted = format_time (c->admitted_at);
  g_autofree char *wait = c->admitted_at != 0 ? format_duration (c->wait_us) : NULL;
  g_autofree char *started = format_time (c->started_at);
  g_autofree char *ended = format_time (c->ended_at);
  g_autofree char *up_since = format_time (c->media_up_since);
  g_autofree char *dur = format_duration (connected_now (c, now));
  g_autofree char *dur_text = up_since != NULL
    ? g_strdup_printf ("%s (media connected since %s)", dur, up_since) : g_strdup (dur);
  g_print ("id               %s\n"
           "doctor           %s\n"
           "patient          %s\n"
           "status           %s\n"
           "scheduled start  %s\n"
           "created          %s\n"
           "patient arrived  %s\n"
           "admitted         %s (waited %s)\n"
           "started          %s\n"
           "ended            %s\n"
           "duration         %s\n"
           "end reason       %s\n"
           "\n"
           "participation:\n",
           c->id, c->doctor, c->patient, tv_consult_status_to_string (c->status), start, created,
           arrived != NULL ? arrived : "-", admitted != NULL ? admitted : "-", wait != NULL ? wait : "-",
           started != NULL ? started : "-", ended != NULL ? ended : "-", dur_text,
           c->end_reason != NULL ? c->end_reason : "-");
  if (log->len == 0)
    g_print ("  (none)\n");
  for (guint i = 0; i < log->len; i++) {
    const TvParticipation *p = g_ptr_array_index (log, i);
    g_autofree char *at = format_time (p->at);
    g_print ("  %s  %-7s  %-10s  %s\n", at, p->role == TV_SIG_ROLE_DOCTOR ? "doctor" : "patient",
             tv_participation_event_to_string (p->event), p->detail != NULL ? p->detail : "");
  }
  g_print ("\nchat:\n");
  if (chat->len == 0)
    g_print ("  (none)\n");
  for (guint i = 0; i < chat->len; i++) {
    const TvChatMessage *m = g_ptr_array_index (chat, i);
    g_autofree char *at = format_time (m->sent_at);
    /* Continuation lines of a multi-line message are indented under the text. */
    g_auto (GStrv) lines = g_strsplit (m->text, "\n", -1);
    g_print ("  %s  %-7s  %s\n", at, m->sender_role, lines[0]);
    for (guint k = 1; lines[k] != NULL; k++)
      g_print ("  %*s  %-7s  %s\n", (int) strlen (at), "", "", lines[k]);
  }
  tv_server_ctl_billing_show (store, c->id, NULL);
  return TV_CTL_EXIT_OK;
}

static int
finish (const char *command, const char *arg, const char *data_dir, gboolean cancel)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = check_id (command, arg);
  if (id == NULL)
    return TV_CTL_EXIT_USAGE;
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store (NULL, data_dir, FALSE, &code);
  if (store == NULL)
    return code;
  gint64 now = g_get_real_time ();
  g_autoptr (TvConsult) audited = NULL;
  tv_store_consult_get (store, id, &audited, NULL);
  const char *action = cancel ? "ctl.cancel" : "ctl.end";
  /* The change and its audit row commit in one transaction. */
  tv_store_audit_stage_local (store, action, "consult", id, audited ? audited->patient_id : NULL);
  gboolean ok = cancel ? tv_store_consult_cancel (store, id, ADMIN_CANCEL_REASON, now, &error)
                       : tv_store_consult_complete (store, id, ADMIN_END_REASON, now, &error);
  if (!tv_store_audit_unstage (store, NULL))
    tv_store_audit_add_local (store, action, "consult", id, audited ? audited->patient_id : NULL,
                              ok ? "ok" : "error", NULL);
  if (!ok)
    return tv_ctl_store_error (NULL, command, error);
  g_print ("consult %s %s (%s)\n", id, cancel ? "cancelled" : "completed",
           cancel ? ADMIN_CANCEL_REASON : ADMIN_END_REASON);
  return TV_CTL_EXIT_OK;
}

static int
cmd_end (const Options *o, const char *data_dir, const char *arg)
{
  return finish ("end", arg, data_dir, FALSE);
}

static int
cmd_cancel (const Options *o, const char *data_dir, const char *arg)
{
  return finish ("cancel", arg, data_dir, TRUE);
}

static const Command commands[] = {
  { "create", HELP_CREATE, 0, TRUE, cmd_create },
  { "list", HELP_LIST, 0, TRUE, cmd_list },
  { "show", HELP_SHOW, 1, TRUE, cmd_show },
  { "end", HELP_END, 1, FALSE, cmd_end },
  { "cancel", HELP_CANCEL, 1, FALSE, cmd_cancel },
};

static const Command *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  }
  return NULL;
}

static void
print_command_help (const Command *cmd)
{
  g_print ("Usage: televisitctl [--data-dir DIR] ...\n%s"
           "See 'televisitctl --help' for --data-dir, exit status and files.\n", cmd->help);
}

/* ------------------------------------------------------------------------ */
/* main                                                                       */


int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  Options opts = { 0 };
  int code = TV_CTL_EXIT_USAGE;
  char **args = g_new0 (char *, argc + 1);   /* GOption rearranges the vector it is given */
  for (int i = 0; i < argc; i++)
    args[i] = argv[i];
  int n = argc;

  GOptionEntry global_entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts.data_dir, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &opts.help, NULL, NULL },
    { NULL },
  };
  if (!tv_ctl_parse_options (NULL, NULL, global_entries, TRUE, &n, &args))
    goto out;
  if (opts.help) {
    print_manual ();
    code = TV_CTL_EXIT_OK;
    goto out;
  }
  if (n < 2) {
    tv_ctl_usage (NULL, NULL, "no command given (create, list, show, end, cancel, user, availability, exceptions,"
                       " slots, book, no-show, audit, reminders, help)");
    goto out;
  }

  const char *name = args[1];
  if (strcmp (name, "help") == 0) {
    if (n == 2) {
      print_manual ();
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && strcmp (args[2], "user") == 0) {
      g_print ("Usage: televisitctl [--data-dir DIR] user ...\n%s", TV_SERVER_CTL_USER_HELP);
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && strcmp (args[2], "audit") == 0) {
      g_print ("Usage: televisitctl [--data-dir DIR] audit ...\n%s", TV_SERVER_CTL_AUDIT_HELP);
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && strcmp (args[2], "billing") == 0) {
      g_print ("Usage: televisitctl [--data-dir DIR] billing ...\n%s", TV_SERVER_CTL_BILLING_HELP);
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && strcmp (args[2], "reminders") == 0) {
      g_print ("Usage: televisitctl [--data-dir DIR] reminders ...\n%s", TV_SERVER_CTL_REMINDERS_HELP);
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && strcmp (args[2], "report") == 0) {
      g_print ("Usage: televisitctl [--data-dir DIR] report ...\n%s", TV_SERVER_CTL_REPORT_HELP);
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && strcmp (args[2], "keys") == 0) {
      g_print ("Usage: televisitctl [--data-dir DIR] keys ...\n%s", TV_SERVER_CTL_KEYS_HELP);
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && tv_server_ctl_schedule_handles (args[2])) {
      g_print ("Usage: televisitctl [--data-dir DIR] %s ...\n%s", args[2], TV_SERVER_CTL_SCHEDULE_HELP);
      code = TV_CTL_EXIT_OK;
    } else if (n == 3 && find_command (args[2]) != NULL) {
      print_command_help (find_command (args[2]));
      code = TV_CTL_EXIT_OK;
    } else if (n == 3) {
      tv_ctl_usage (NULL, NULL, "help: unknown command \"%s\"", args[2]);
    } else {
      tv_ctl_usage (NULL, NULL, "help: too many arguments");
    }
    goto out;
  }
  if (strcmp (name, "user") == 0) {
    code = tv_server_ctl_user_main (n - 1, args + 1, opts.data_dir);
    goto out;
  }
  if (strcmp (name, "audit") == 0) {
    code = tv_server_ctl_audit_main (n - 1, args + 1, opts.data_dir);
    goto out;
  }
  if (strcmp (name, "reminders") == 0) {
    code = tv_server_ctl_reminders_main (n - 1, args + 1, opts.data_dir);
    goto out;
  }
  if (strcmp (name, "billing") == 0) {
    code = tv_server_ctl_billing_main (n - 1, args + 1, opts.data_dir);
    goto out;
  }
  if (strcmp (name, "report") == 0) {
    code = tv_server_ctl_report_main (n - 1, args + 1, opts.data_dir);
    goto out;
  }
  if (strcmp (name, "keys") == 0) {
    code = tv_server_ctl_keys_main (n - 1, args + 1, opts.data_dir);
    goto out;
  }
  if (tv_server_ctl_schedule_handles (name)) {
    code = tv_server_ctl_schedule_main (n - 1, args + 1, opts.data_dir);
    goto out;
  }
  const Command *cmd = find_command (name);
  if (cmd == NULL) {
    tv_ctl_usage (NULL, NULL, "unknown command \"%s\" (create, list, show, end, cancel, user, availability, exceptions,"
                       " slots, book, no-show, audit, reminders, help)", name);
    goto out;
  }

  /* Command options: shift the command name off so GOption sees "prog opts...". */
  int cn = n - 1;
  char **cargs = args + 1;
  GOptionEntry cmd_entries[16];
  guint k = 0;
  cmd_entries[k++] = (GOptionEntry) { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &opts.data_dir, NULL, NULL };
  cmd_entries[k++] = (GOptionEntry) { "help", 'h', 0, G_OPTION_ARG_NONE, &opts.help, NULL, NULL };
  if (cmd->has_json)
    cmd_entries[k++] = (GOptionEntry) { "json", 0, 0, G_OPTION_ARG_NONE, &opts.json, NULL, NULL };
  if (cmd->run == cmd_create) {
    cmd_entries[k++] = (GOptionEntry) { "doctor", 0, 0, G_OPTION_ARG_STRING, &opts.doctor, NULL, NULL };
    cmd_entries[k++] = (GOptionEntry) { "patient", 0, 0, G_OPTION_ARG_STRING, &opts.patient, NULL, NULL };
    cmd_entries[k++] = (GOptionEntry) { "start", 0, 0, G_OPTION_ARG_STRING, &opts.start, NULL, NULL };
    cmd_entries[k++] = (GOptionEntry) { "token-valid", 0, 0, G_OPTION_ARG_STRING, &opts.token_valid, NULL, NULL };
    cmd_entries[k++] = (GOptionEntry) { "server", 0, 0, G_OPTION_ARG_STRING, &opts.server, NULL, NULL };
  }
  cmd_entries[k] = (GOptionEntry) { NULL };
  if (!tv_ctl_parse_options (cmd->name, NULL, cmd_entries, FALSE, &cn, &cargs))
    goto out;
  if (opts.help) {
    print_command_help (cmd);
    code = TV_CTL_EXIT_OK;
    goto out;
  }
  /* GOption takes the next word as an option's value even when it is another
   * option ("--doctor --patient P"); no valid value starts with "--". */
  const struct { const char *name; const char *value; } values[] = {
    { "--doctor", opts.doctor }, { "--patient", opts.patient }, { "--start", opts.start },
    { "--token-valid", opts.token_valid }, { "--server", opts.server },
  };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    if (values[i].value != NULL && g_str_has_prefix (values[i].value, "--")) {
      tv_ctl_usage (cmd->name, NULL, "%s: missing value (got the option \"%s\")", values[i].name, values[i].value);
      goto out;
    }
  }
  /* cargs[0] is the command name; the rest are positional arguments. GOption
   * leaves a "--" separator in place; drop it. */
  int first = 1;
  if (cn > 1 && strcmp (cargs[1], "--") == 0)
    first = 2;
  int positional = cn - first;
  if (positional < cmd->n_args) {
    tv_ctl_usage (cmd->name, NULL, "ID: required");
    goto out;
  }
  if (positional > cmd->n_args) {
    tv_ctl_usage (cmd->name, NULL, "unexpected argument \"%s\"", cargs[first + cmd->n_args]);
    goto out;
  }

  const char *data_dir = tv_ctl_data_dir (opts.data_dir);
  if (*data_dir == '\0') {
    tv_ctl_usage (cmd->name, NULL, "--data-dir: empty");
    goto out;
  }
  code = cmd->run (&opts, data_dir, cmd->n_args > 0 ? cargs[first] : NULL);

out:
  options_clear (&opts);
  g_free (args);
  return code;
}
