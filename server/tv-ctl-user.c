/* tv-ctl-user.c — `televisitctl user add|list|disable|set-password|set-contact` (see tv-ctl-user.h).
 *
 * Why: creates the first admin and manages accounts from the server machine,
 * on the same store the server uses (WAL: safe while it runs). Passwords come
 * from standard input (never the command line, where `ps` would show them) or
 * are generated and printed once; the store keeps only the scrypt hash.
 * Disabling a user or setting a password ends the user's API sessions.
 * Thread: single-threaded command-line program.
 */
#define G_LOG_DOMAIN "tv-ctl"

#include "server/tv-ctl-user.h"

#include "server/tv-ctl-common.h"
#include "server/tv-password.h"
#include "server/tv-roles.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-users.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <json-glib/json-glib.h>



const char TV_SERVER_CTL_USER_HELP[] =
  "    user add --username U --name NAME --role ROLE[,ROLE...] [--time-zone TZ]\n"
  "             [--slot-minutes N] [--email ADDRESS] [--phone NUMBER] [--password-stdin] [--json]\n"
  "        Create an account. Roles: patient, doctor, scheduler, billing, admin\n"
  "        (one user may hold several). U: 3..64 characters of a-z 0-9 . _ -.\n"
  "        --name NAME          display name (1..200 bytes of UTF-8)\n"
  "        --time-zone TZ       IANA zone (Europe/Paris); doctors default to UTC\n"
  "        --slot-minutes N     consult length for doctors, 5..120 (default 15)\n"
  "        --email ADDRESS      contact e-mail (reminders go there; stored encrypted)\n"
  "        --phone NUMBER       contact phone (digits, spaces, + - ( ) . /)\n"
  "        --password-stdin     read the password (8+ characters) from the first\n"
  "                             line of standard input; without it a random\n"
  "                             password is generated and printed once\n"
  "        --json               print {\"user\": {...}, \"password\": ...}\n"
  "    user list [--role ROLE] [--json]\n"
  "        List accounts (id, username, roles, state, time zone, display name),\n"
  "        optionally only those holding ROLE.\n"
  "    user disable U\n"
  "        Disable the account U (username or id): it can no longer log in and\n"
  "        its open sessions end at once.\n"
  "    user set-password U --password-stdin\n"
  "        Replace U's password with the first line of standard input; ends U's\n"
  "        open sessions.\n"
  "    user set-contact U [--email ADDRESS] [--phone NUMBER]\n"
  "        Set U's contact details; an empty value (--email '') clears it, an\n"
  "        option left out keeps the current value.\n";

typedef struct {
  char *data_dir;
  char *username;
  char *name;
  char *role;
  char *time_zone;
  char *slot_minutes;
  char *email;
  char *phone;
  gboolean password_stdin;
  gboolean json;
  gboolean help;
} UserOptions;

static void
user_options_clear (UserOptions *o)
{
  g_free (o->data_dir);
  g_free (o->username);
  g_free (o->name);
  g_free (o->role);
  g_free (o->time_zone);
  g_free (o->slot_minutes);
  g_free (o->email);
  g_free (o->phone);
}

/* Reads one line from stdin (echo off on a terminal). Returns: (transfer full)
 * the line without its end, or NULL at EOF/error. */
static char *
read_password (void)
{
  gboolean tty = isatty (STDIN_FILENO);
  struct termios old, quiet;
  if (tty && tcgetattr (STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    g_printerr ("Password: ");
  } else {
    tty = FALSE;
  }
  char buf[TV_PASSWORD_MAX_BYTES + 4];
  char *line = fgets (buf, sizeof buf, stdin);
  if (tty) {
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
    g_printerr ("\n");
  }
  if (line == NULL)
    return NULL;
  gsize n = strlen (buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  char *out = g_strdup (buf);
  memset (buf, 0, sizeof buf);
  return out;
}

/* Finds a user by username or id. */
static gboolean
find_user (TvStore *store, const char *who, TvUser **out, GError **error)
{
  if (g_uuid_string_is_valid (who))
    return tv_store_user_get (store, who, out, error);
  return tv_store_user_get_by_username (store, who, out, NULL, error);
}

static void
add_user_json (JsonBuilder *b, const TvUser *u)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, u->id);
  json_builder_set_member_name (b, "username");
  json_builder_add_string_value (b, u->username);
  json_builder_set_member_name (b, "display_name");
  json_builder_add_string_value (b, u->display_name);
  json_builder_set_member_name (b, "roles");
  json_builder_begin_array (b);
  g_autofree const char **names = tv_roles_to_strv (u->roles);
  for (const char **n = names; *n; n++)
    json_builder_add_string_value (b, *n);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "disabled");
  json_builder_add_boolean_value (b, u->disabled);
  json_builder_set_member_name (b, "time_zone");
  if (u->time_zone)
    json_builder_add_string_value (b, u->time_zone);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "slot_minutes");
  json_builder_add_int_value (b, u->slot_minutes);
  json_builder_end_object (b);
}

static int
cmd_add (const UserOptions *o, const char *data_dir)
{
  g_autoptr (GError) error = NULL;
  if (o->username == NULL)
    return tv_ctl_usage ("user", "add", "--username: required");
  if (o->name == NULL)
    return tv_ctl_usage ("user", "add", "--name: required");
  if (o->role == NULL)
    return tv_ctl_usage ("user", "add", "--role: required (patient, doctor, scheduler, billing, admin)");
  if (!tv_store_check_username (o->username, &error))
    return tv_ctl_usage ("user", "add", "--username: %s", error->message);
  if (!tv_store_check_name (o->name, &error))
    return tv_ctl_usage ("user", "add", "--name: %s", error->message);
  guint roles = tv_roles_parse (o->role, &error);
  if (roles == 0)
    return tv_ctl_usage ("user", "add", "--role: %s", error->message);
  if (o->time_zone != NULL && !tv_store_check_time_zone (o->time_zone, &error))
    return tv_ctl_usage ("user", "add", "--time-zone: %s", error->message);
  guint64 slot = 0;
  if (o->slot_minutes != NULL
      && !g_ascii_string_to_unsigned (o->slot_minutes, 10, TV_STORE_SLOT_MINUTES_MIN, TV_STORE_SLOT_MINUTES_MAX,
                                      &slot, NULL))
    return tv_ctl_usage ("user", "add", "--slot-minutes: \"%s\" is not a whole number in 5..120", o->slot_minutes);
  if (o->email != NULL && *o->email != '\0' && !tv_store_check_email (o->email, &error))
    return tv_ctl_usage ("user", "add", "--email: %s", error->message);
  if (o->phone != NULL && *o->phone != '\0' && !tv_store_check_phone (o->phone, &error))
    return tv_ctl_usage ("user", "add", "--phone: %s", error->message);

  g_autofree char *password = NULL;
  gboolean generated = FALSE;
  if (o->password_stdin) {
    password = read_password ();
    if (password == NULL)
      return tv_ctl_usage ("user", "add", "--password-stdin: nothing on standard input");
  } else {
    password = tv_password_generate ();
    generated = TRUE;
    if (password == NULL) {
      g_printerr ("televisitctl user add: the random generator failed\n");
      return TV_CTL_EXIT_STORE;
    }
  }
  g_autofree char *hash = tv_password_hash (password, &error);
  if (hash == NULL) {
    if (g_error_matches (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY))
      return tv_ctl_usage ("user", "add", "password: %s", error->message);
    g_printerr ("televisitctl user add: %s\n", error->message);
    return TV_CTL_EXIT_STORE;
  }
  const char *tz = o->time_zone;
  if (tz == NULL && (roles & TV_ROLE_DOCTOR))
    tz = "UTC";

  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("user", data_dir, TRUE, &code);
  if (store == NULL)
    return code;
  g_autoptr (TvUser) user = NULL;
  /* The account and its audit row commit in one transaction (the store fills in the id). */
  tv_store_audit_stage_local (store, "ctl.user-add", "user", NULL, NULL);
  gboolean added = tv_store_user_create (store, o->username, o->name, roles, tz, (guint) slot, hash,
                                         g_get_real_time (), &user, &error);
  if (!tv_store_audit_unstage (store, NULL))
    tv_store_audit_add_local (store, "ctl.user-add", "user", NULL, NULL, "error", NULL);
  if (!added)
    return tv_ctl_store_error ("user", "add", error);
  if ((o->email != NULL || o->phone != NULL)
      && !tv_store_contact_set (store, user->id, o->email, o->phone, g_get_real_time (), &error)) {
    g_printerr ("televisitctl user add: user %s was created, but its contact details were not saved: %s\n"
                "(retry with: televisitctl user set-contact %s ...)\n", user->id, error->message, user->id);
    return TV_CTL_EXIT_STORE;
  }

  g_autofree char *role_names = tv_roles_format (user->roles);
  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "user");
    add_user_json (b, user);
    json_builder_set_member_name (b, "password");
    if (generated)
      json_builder_add_string_value (b, password);
    else
      json_builder_add_null_value (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
  } else {
    g_print ("user %s\nusername %s\nroles %s\n", user->id, user->username, role_names);
    if (generated)
      g_print ("password %s\n(shown only this once; give it to the user, who should change it)\n", password);
  }
  memset (password, 0, strlen (password));
  return TV_CTL_EXIT_OK;
}

static int
cmd_set_contact (const UserOptions *o, const char *data_dir, const char *who)
{
  g_autoptr (GError) error = NULL;
  if (o->email == NULL && o->phone == NULL)
    return tv_ctl_usage ("user", "set-contact", "give --email and/or --phone");
  if (o->email != NULL && *o->email != '\0' && !tv_store_check_email (o->email, &error))
    return tv_ctl_usage ("user", "set-contact", "--email: %s", error->message);
  if (o->phone != NULL && *o->phone != '\0' && !tv_store_check_phone (o->phone, &error))
    return tv_ctl_usage ("user", "set-contact", "--phone: %s", error->message);
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("user", data_dir, FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (TvUser) user = NULL;
  gboolean ok = find_user (store, who, &user, &error)
                && tv_store_contact_set (store, user->id, o->email, o->phone, g_get_real_time (), &error);
  tv_store_audit_add_local (store, "ctl.user-set-contact", "user", user ? user->id : NULL,
                            user && (user->roles & TV_ROLE_PATIENT) ? user->id : NULL, ok ? "ok" : "error", NULL);
  if (!ok)
    return tv_ctl_store_error ("user", "set-contact", error);
  g_print ("user %s contact details updated\n", user->id);
  return TV_CTL_EXIT_OK;
}

static int
cmd_list (const UserOptions *o, const char *data_dir)
{
  g_autoptr (GError) error = NULL;
  TvRole role = 0;
  if (o->role != NULL && !tv_role_from_string (o->role, &role))
    return tv_ctl_usage ("user", "list", "--role: \"%s\" is not one of patient, doctor, scheduler, billing, admin", o->role);
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("user", data_dir, FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (GPtrArray) users = tv_store_user_list (store, role, NULL, &error);
  tv_store_audit_add_local (store, "ctl.user-list", "user", NULL, NULL, users ? "ok" : "error", NULL);
  if (users == NULL)
    return tv_ctl_store_error ("user", "list", error);
  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "users");
    json_builder_begin_array (b);
    for (guint i = 0; i < users->len; i++)
      add_user_json (b, g_ptr_array_index (users, i));
    json_builder_end_array (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }
  g_print ("%-36s  %-20s  %-24s  %-8s  %-20s  %s\n", "ID", "USERNAME", "ROLES", "STATE", "TIME ZONE", "NAME");
  for (guint i = 0; i < users->len; i++) {
    TvUser *u = g_ptr_array_index (users, i);
    g_autofree char *roles = tv_roles_format (u->roles);
    g_print ("%-36s  %-20s  %-24s  %-8s  %-20s  %s\n", u->id, u->username, roles,
             u->disabled ? "disabled" : "active", u->time_zone ? u->time_zone : "-", u->display_name);
  }
  return TV_CTL_EXIT_OK;
}

static int
cmd_disable (const UserOptions *o, const char *data_dir, const char *who)
{
  g_autoptr (GError) error = NULL;
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("user", data_dir, FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (TvUser) user = NULL;
  gboolean ok = find_user (store, who, &user, &error);
  gboolean audited = FALSE;
  if (ok) {
    /* The change and its audit row commit in one transaction. */
    tv_store_audit_stage_local (store, "ctl.user-disable", "user", user->id,
                                (user->roles & TV_ROLE_PATIENT) ? user->id : NULL);
    ok = tv_store_user_set_disabled (store, user->id, TRUE, g_get_real_time (), &error);
    audited = tv_store_audit_unstage (store, NULL);
  }
  if (!ok) {
    tv_store_audit_add_local (store, "ctl.user-disable", "user", user ? user->id : NULL, NULL, "error", NULL);
    return tv_ctl_store_error ("user", "disable", error);
  }
  if (!audited)
    tv_store_audit_add_local (store, "ctl.user-disable", "user", user->id,
                              (user->roles & TV_ROLE_PATIENT) ? user->id : NULL, "ok", NULL);
  g_print ("user %s disabled; open sessions ended\n", user->id);
  return TV_CTL_EXIT_OK;
}

static int
cmd_set_password (const UserOptions *o, const char *data_dir, const char *who)
{
  g_autoptr (GError) error = NULL;
  if (!o->password_stdin)
    return tv_ctl_usage ("user", "set-password", "--password-stdin: required (passwords are never taken from arguments)");
  g_autofree char *password = read_password ();
  if (password == NULL)
    return tv_ctl_usage ("user", "set-password", "--password-stdin: nothing on standard input");
  g_autofree char *hash = tv_password_hash (password, &error);
  memset (password, 0, strlen (password));
  if (hash == NULL) {
    if (g_error_matches (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY))
      return tv_ctl_usage ("user", "set-password", "password: %s", error->message);
    g_printerr ("televisitctl user set-password: %s\n", error->message);
    return TV_CTL_EXIT_STORE;
  }
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("user", data_dir, FALSE, &code);
  if (store == NULL)
    return code;
  g_autoptr (TvUser) user = NULL;
  gboolean ok = find_user (store, who, &user, &error);
  gboolean audited = FALSE;
  if (ok) {
    /* The change and its audit row commit in one transaction. */
    tv_store_audit_stage_local (store, "ctl.user-set-password", "user", user->id,
                                (user->roles & TV_ROLE_PATIENT) ? user->id : NULL);
    ok = tv_store_user_set_password (store, user->id, hash, g_get_real_time (), &error);
    audited = tv_store_audit_unstage (store, NULL);
  }
  if (!ok) {
    tv_store_audit_add_local (store, "ctl.user-set-password", "user", user ? user->id : NULL, NULL, "error", NULL);
    return tv_ctl_store_error ("user", "set-password", error);
  }
  if (!audited)
    tv_store_audit_add_local (store, "ctl.user-set-password", "user", user->id,
                              (user->roles & TV_ROLE_PATIENT) ? user->id : NULL, "ok", NULL);
  g_print ("user %s: password changed; open sessions ended\n", user->id);
  return TV_CTL_EXIT_OK;
}

int
tv_server_ctl_user_main (int argc, char **argv, const char *data_dir_opt)
{
  UserOptions o = { 0 };
  int code = TV_CTL_EXIT_USAGE;
  g_autofree char **args = NULL;
  if (argc < 2) {
    code = tv_ctl_usage ("user", NULL, "no subcommand given (add, list, disable, set-password, set-contact)");
    goto out;
  }
  const char *sub = argv[1];
  if (strcmp (sub, "add") != 0 && strcmp (sub, "list") != 0 && strcmp (sub, "disable") != 0
      && strcmp (sub, "set-password") != 0 && strcmp (sub, "set-contact") != 0) {
    if (strcmp (sub, "--help") == 0 || strcmp (sub, "-h") == 0) {
      g_print ("Usage: televisitctl [--data-dir DIR] user ...\n%s", TV_SERVER_CTL_USER_HELP);
      code = TV_CTL_EXIT_OK;
      goto out;
    }
    code = tv_ctl_usage ("user", NULL, "unknown subcommand \"%s\" (add, list, disable, set-password, set-contact)",
                         sub);
    goto out;
  }
  gboolean is_add = strcmp (sub, "add") == 0, is_list = strcmp (sub, "list") == 0;
  GOptionEntry entries[14];
  guint k = 0;
  entries[k++] = (GOptionEntry) { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.data_dir, NULL, NULL };
  entries[k++] = (GOptionEntry) { "help", 'h', 0, G_OPTION_ARG_NONE, &o.help, NULL, NULL };
  if (is_add || is_list) {
    entries[k++] = (GOptionEntry) { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, NULL, NULL };
    entries[k++] = (GOptionEntry) { "role", 0, 0, G_OPTION_ARG_STRING, &o.role, NULL, NULL };
  }
  if (is_add) {
    entries[k++] = (GOptionEntry) { "username", 0, 0, G_OPTION_ARG_STRING, &o.username, NULL, NULL };
    entries[k++] = (GOptionEntry) { "name", 0, 0, G_OPTION_ARG_STRING, &o.name, NULL, NULL };
    entries[k++] = (GOptionEntry) { "time-zone", 0, 0, G_OPTION_ARG_STRING, &o.time_zone, NULL, NULL };
    entries[k++] = (GOptionEntry) { "slot-minutes", 0, 0, G_OPTION_ARG_STRING, &o.slot_minutes, NULL, NULL };
  }
  if (is_add || strcmp (sub, "set-password") == 0)
    entries[k++] = (GOptionEntry) { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &o.password_stdin, NULL, NULL };
  if (is_add || strcmp (sub, "set-contact") == 0) {
    entries[k++] = (GOptionEntry) { "email", 0, 0, G_OPTION_ARG_STRING, &o.email, NULL, NULL };
    entries[k++] = (GOptionEntry) { "phone", 0, 0, G_OPTION_ARG_STRING, &o.phone, NULL, NULL };
  }
  entries[k] = (GOptionEntry) { NULL };

  /* GOption rearranges the vector: give it a copy starting at the subcommand. */
  int n = argc - 1;
  args = g_new0 (char *, argc);
  for (int i = 1; i < argc; i++)
    args[i - 1] = argv[i];
  char **pargs = args;
  if (!tv_ctl_parse_options ("user", sub, entries, FALSE, &n, &pargs))
    goto out;
  if (o.help) {
    g_print ("Usage: televisitctl [--data-dir DIR] user ...\n%s", TV_SERVER_CTL_USER_HELP);
    code = TV_CTL_EXIT_OK;
    goto out;
  }
  const char *const values[] = { o.username, o.name, o.role, o.time_zone, o.slot_minutes, o.email, o.phone };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    if (values[i] != NULL && g_str_has_prefix (values[i], "--")) {
      code = tv_ctl_usage ("user", sub, "missing value before \"%s\"", values[i]);
      goto out;
    }
  }
  int first = 1;
  if (n > 1 && strcmp (pargs[1], "--") == 0)
    first = 2;
  int positional = n - first;
  int want = (is_add || is_list) ? 0 : 1;
  if (positional < want) {
    code = tv_ctl_usage ("user", sub, "USER: required (username or id)");
    goto out;
  }
  if (positional > want) {
    code = tv_ctl_usage ("user", sub, "unexpected argument \"%s\"", pargs[first + want]);
    goto out;
  }

  const char *data_dir = tv_ctl_data_dir (o.data_dir ? o.data_dir : data_dir_opt);
  if (*data_dir == '\0') {
    code = tv_ctl_usage ("user", sub, "--data-dir: empty");
    goto out;
  }
  if (is_add)
    code = cmd_add (&o, data_dir);
  else if (is_list)
    code = cmd_list (&o, data_dir);
  else if (strcmp (sub, "disable") == 0)
    code = cmd_disable (&o, data_dir, pargs[first]);
  else if (strcmp (sub, "set-contact") == 0)
    code = cmd_set_contact (&o, data_dir, pargs[first]);
  else
    code = cmd_set_password (&o, data_dir, pargs[first]);
out:
  user_options_clear (&o);
  return code;
}
