/* tv-ctl-schedule.c — televisitctl's scheduling commands (see tv-ctl-schedule.h).
 *
 * Why: the HTTPS API's scheduling, from the server machine: a doctor's weekly
 * hours and dated exceptions, the free slots, booking and no-show. Every rule
 * lives in the store (tv-store-schedule.c) and the slot arithmetic
 * (tv-schedule.c); this file only turns arguments into calls and results into
 * text or JSON. Doctors and patients are named by username or user id.
 * Thread: single-threaded command-line program.
 */
#define G_LOG_DOMAIN "tv-ctl"

#include "server/tv-ctl-schedule.h"

#include "server/tv-ctl-common.h"
#include "server/tv-store-audit.h"
#include "server/tv-roles.h"
#include "server/tv-schedule.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-users.h"

#include <string.h>

#include <json-glib/json-glib.h>



const char TV_SERVER_CTL_SCHEDULE_HELP[] =
  "    availability show DOCTOR [--json]\n"
  "        Show the doctor's weekly hours (local to the doctor's time zone), the\n"
  "        zone and the slot length. DOCTOR: username or user id.\n"
  "    availability set DOCTOR --hours DAY=HH:MM-HH:MM [--hours ...] | --clear\n"
  "        Replace the doctor's weekly hours. DAY: mon..sun or 1..7 (Monday = 1);\n"
  "        the end may be 24:00; ranges of one day may touch but not overlap.\n"
  "        --clear removes all hours. Booked consults are not touched.\n"
  "    exceptions add DOCTOR --date YYYY-MM-DD --kind off|extra [--start HH:MM --end HH:MM] [--json]\n"
  "        A dated exception in the doctor's zone: \"off\" without times is the\n"
  "        whole day off, with times some hours off; \"extra\" adds hours (times\n"
  "        required). Prints the exception id.\n"
  "    exceptions list DOCTOR [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--json]\n"
  "        List the doctor's exceptions (id, date, kind, hours) by date.\n"
  "    exceptions remove DOCTOR EXCEPTION_ID\n"
  "        Remove one exception.\n"
  "    slots DOCTOR [--from RFC3339] [--to RFC3339] [--json]\n"
  "        The free slots starting in [from, to) (default: now .. 7 days later;\n"
  "        at most 31 days), never in the past, as RFC 3339 in the doctor's zone.\n"
  "    book --doctor DOCTOR --patient PATIENT --start RFC3339 [--json]\n"
  "        Book a consult on a free slot (the start must be exactly a slot's\n"
  "        start, with an offset, in the future). Prints the consult id and the\n"
  "        doctor's and the patient's join tokens, valid until the slot's end +\n"
  "        1 hour (the store keeps only their SHA-256; the HTTPS API can show\n"
  "        them again as join links while DATA_DIR/join-link.key is kept).\n"
  "        Exit status 3 if the slot is taken, the patient has an overlapping\n"
  "        consult, or no such user.\n"
  "    no-show ID\n"
  "        Mark a consult whose start has passed (scheduled or waiting) as\n"
  "        no-show. Exit status 3 before its start or in another status.\n";

static const char *const commands[] = { "availability", "exceptions", "slots", "book", "no-show" };

gboolean
tv_server_ctl_schedule_handles (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_strcmp0 (name, commands[i]) == 0)
      return TRUE;
  return FALSE;
}

typedef struct {
  char *data_dir;
  gboolean help;
  gboolean json;
  gboolean clear;
  char **hours;
  char *date, *kind, *start, *end, *from, *to, *doctor, *patient;
} Opts;

static void
opts_clear (Opts *o)
{
  g_free (o->data_dir);
  g_strfreev (o->hours);
  g_free (o->date);
  g_free (o->kind);
  g_free (o->start);
  g_free (o->end);
  g_free (o->from);
  g_free (o->to);
  g_free (o->doctor);
  g_free (o->patient);
}

/* The user named @who (username or id) holding @role; prints and returns NULL otherwise. */
static TvUser *
find_user (const char *cmd, TvStore *store, const char *who, guint role, const char *what, int *code)
{
  g_autoptr (GError) error = NULL;
  TvUser *u = NULL;
  gboolean ok = g_uuid_string_is_valid (who) ? tv_store_user_get (store, who, &u, &error)
                                             : tv_store_user_get_by_username (store, who, &u, NULL, &error);
  if (!ok && !g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND)) {
    *code = tv_ctl_store_error (cmd, NULL, error);
    return NULL;
  }
  if (u == NULL || !(u->roles & role) || u->disabled) {
    g_printerr ("televisitctl %s: no enabled %s \"%s\"\n", cmd, what, who);
    tv_user_free (u);
    *code = TV_CTL_EXIT_NOT_FOUND;
    return NULL;
  }
  return u;
}

static const char *const day_names[] = { NULL, "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

/* "mon=09:00-12:00" or "1=09:00-12:00". */
static gboolean
parse_hours (const char *text, TvWeeklyRange *r, GError **error)
{
  const char *eq = strchr (text, '=');
  const char *dash = eq != NULL ? strchr (eq, '-') : NULL;
  if (eq == NULL || dash == NULL) {
    g_set_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID, "\"%s\" is not DAY=HH:MM-HH:MM", text);
    return FALSE;
  }
  g_autofree char *day = g_ascii_strdown (text, eq - text);
  g_autofree char *start = g_strndup (eq + 1, dash - eq - 1);
  r->weekday = 0;
  for (guint d = 1; d <= 7; d++)
    if (strcmp (day, day_names[d]) == 0 || (day[0] == (char) ('0' + d) && day[1] == '\0'))
      r->weekday = d;
  if (r->weekday == 0) {
    g_set_error (error, TV_SCHEDULE_ERROR, TV_SCHEDULE_ERR_INVALID, "\"%s\": DAY must be mon..sun or 1..7", text);
    return FALSE;
  }
  return tv_schedule_parse_hhmm (start, FALSE, "start", &r->start_min, error)
         && tv_schedule_parse_hhmm (dash + 1, TRUE, "end", &r->end_min, error);
}

/* ---- availability -------------------------------------------------------- */

static int
cmd_availability (const char *sub, const char *who, const Opts *o, TvStore *store)
{
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvUser) doctor = find_user ("availability", store, who, TV_ROLE_DOCTOR, "doctor", &code);
  if (doctor == NULL)
    return code;
  g_autoptr (GError) error = NULL;
  if (strcmp (sub, "set") == 0) {
    guint n = o->hours != NULL ? g_strv_length (o->hours) : 0;
    if ((n == 0) == !o->clear)
      return tv_ctl_usage ("availability", NULL, "set: give --hours (one or more) or --clear");
    g_autoptr (GArray) ranges = g_array_new (FALSE, FALSE, sizeof (TvWeeklyRange));
    for (guint i = 0; i < n; i++) {
      TvWeeklyRange r;
      if (!parse_hours (o->hours[i], &r, &error))
        return tv_ctl_usage ("availability", NULL, "--hours: %s", error->message);
      g_array_append_val (ranges, r);
    }
    if (!tv_store_availability_set (store, doctor->id, (TvWeeklyRange *) ranges->data, ranges->len,
                                    g_get_real_time (), &error))
      return tv_ctl_store_error ("availability", NULL, error);
  }
  g_autoptr (GArray) hours = tv_store_availability_get (store, doctor->id, &error);
  if (hours == NULL)
    return tv_ctl_store_error ("availability", NULL, error);
  const char *tz = doctor->time_zone != NULL ? doctor->time_zone : "UTC";
  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "doctor_id");
    json_builder_add_string_value (b, doctor->id);
    json_builder_set_member_name (b, "time_zone");
    json_builder_add_string_value (b, tz);
    json_builder_set_member_name (b, "slot_minutes");
    json_builder_add_int_value (b, doctor->slot_minutes);
    json_builder_set_member_name (b, "hours");
    json_builder_begin_array (b);
    for (guint i = 0; i < hours->len; i++) {
      const TvWeeklyRange *r = &g_array_index (hours, TvWeeklyRange, i);
      char a[6], e[6];
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "weekday");
      json_builder_add_int_value (b, r->weekday);
      json_builder_set_member_name (b, "start");
      json_builder_add_string_value (b, tv_schedule_format_hhmm (r->start_min, a));
      json_builder_set_member_name (b, "end");
      json_builder_add_string_value (b, tv_schedule_format_hhmm (r->end_min, e));
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }
  g_print ("doctor %s: time zone %s, %u-minute slots, %u weekly range(s)\n", doctor->id, tz, doctor->slot_minutes,
           hours->len);
  for (guint i = 0; i < hours->len; i++) {
    const TvWeeklyRange *r = &g_array_index (hours, TvWeeklyRange, i);
    char a[6], e[6];
    g_print ("  %s %s-%s\n", day_names[r->weekday], tv_schedule_format_hhmm (r->start_min, a),
             tv_schedule_format_hhmm (r->end_min, e));
  }
  return TV_CTL_EXIT_OK;
}

/* ---- exceptions ---------------------------------------------------------- */

static void
add_exception_json (JsonBuilder *b, const TvStoreException *e)
{
  g_autofree char *date = tv_schedule_format_date (&e->ex.date);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, e->id);
  json_builder_set_member_name (b, "date");
  json_builder_add_string_value (b, date);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, tv_exception_kind_to_string (e->ex.kind));
  if (e->ex.end_min != 0) {
    char a[6], z[6];
    json_builder_set_member_name (b, "start");
    json_builder_add_string_value (b, tv_schedule_format_hhmm (e->ex.start_min, a));
    json_builder_set_member_name (b, "end");
    json_builder_add_string_value (b, tv_schedule_format_hhmm (e->ex.end_min, z));
  }
  json_builder_end_object (b);
}

static void
print_exception (const TvStoreException *e)
{
  g_autofree char *date = tv_schedule_format_date (&e->ex.date);
  char a[6], z[6];
  if (e->ex.end_min == 0)
    g_print ("%s  %s  %s (whole day)\n", e->id, date, tv_exception_kind_to_string (e->ex.kind));
  else
    g_print ("%s  %s  %s %s-%s\n", e->id, date, tv_exception_kind_to_string (e->ex.kind),
             tv_schedule_format_hhmm (e->ex.start_min, a), tv_schedule_format_hhmm (e->ex.end_min, z));
}

static int
cmd_exceptions (const char *sub, const char *who, const char *ex_id, const Opts *o, TvStore *store)
{
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvUser) doctor = find_user ("exceptions", store, who, TV_ROLE_DOCTOR, "doctor", &code);
  if (doctor == NULL)
    return code;
  g_autoptr (GError) error = NULL;
  if (strcmp (sub, "add") == 0) {
    TvScheduleException ex = { 0 };
    if (o->date == NULL || !tv_schedule_parse_date (o->date, "--date", &ex.date, &error))
      return tv_ctl_usage ("exceptions", NULL, "%s", error != NULL ? error->message : "--date: required");
    if (!tv_exception_kind_from_string (o->kind, &ex.kind))
      return tv_ctl_usage ("exceptions", NULL, "--kind: off or extra");
    if ((o->start == NULL) != (o->end == NULL))
      return tv_ctl_usage ("exceptions", NULL, "give both --start and --end, or neither");
    if (o->start != NULL && (!tv_schedule_parse_hhmm (o->start, FALSE, "--start", &ex.start_min, &error)
                             || !tv_schedule_parse_hhmm (o->end, TRUE, "--end", &ex.end_min, &error)))
      return tv_ctl_usage ("exceptions", NULL, "%s", error->message);
    if (!tv_schedule_check_exception (&ex, &error))
      return tv_ctl_usage ("exceptions", NULL, "%s", error->message);
    g_autoptr (TvStoreException) added = NULL;
    if (!tv_store_exception_add (store, doctor->id, &ex, g_get_real_time (), &added, &error))
      return tv_ctl_store_error ("exceptions", NULL, error);
    if (o->json) {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "exception");
      add_exception_json (b, added);
      json_builder_end_object (b);
      tv_ctl_print_json_builder (b);
    } else {
      print_exception (added);
    }
    return TV_CTL_EXIT_OK;
  }
  if (strcmp (sub, "remove") == 0) {
    if (!tv_store_exception_remove (store, doctor->id, ex_id, &error))
      return tv_ctl_store_error ("exceptions", NULL, error);
    g_print ("exception %s removed\n", ex_id);
    return TV_CTL_EXIT_OK;
  }
  GDate from, to;
  if ((o->from != NULL && !tv_schedule_parse_date (o->from, "--from", &from, &error))
      || (o->to != NULL && !tv_schedule_parse_date (o->to, "--to", &to, &error)))
    return tv_ctl_usage ("exceptions", NULL, "%s", error->message);
  g_autoptr (GPtrArray) list = tv_store_exception_list (store, doctor->id, o->from ? &from : NULL,
                                                         o->to ? &to : NULL, &error);
  if (list == NULL)
    return tv_ctl_store_error ("exceptions", NULL, error);
  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "exceptions");
    json_builder_begin_array (b);
    for (guint i = 0; i < list->len; i++)
      add_exception_json (b, g_ptr_array_index (list, i));
    json_builder_end_array (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
  } else {
    for (guint i = 0; i < list->len; i++)
      print_exception (g_ptr_array_index (list, i));
  }
  return TV_CTL_EXIT_OK;
}

/* ---- slots, book, no-show ------------------------------------------------ */

static int
cmd_slots (const char *who, const Opts *o, TvStore *store)
{
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvUser) doctor = find_user ("slots", store, who, TV_ROLE_DOCTOR, "doctor", &code);
  if (doctor == NULL)
    return code;
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  gint64 from = now, to = 0;
  if ((o->from != NULL && !tv_schedule_parse_rfc3339 (o->from, "--from", &from, &error))
      || (o->to != NULL && !tv_schedule_parse_rfc3339 (o->to, "--to", &to, &error)))
    return tv_ctl_usage ("slots", NULL, "%s", error->message);
  if (to == 0)
    to = from + (gint64) 7 * 24 * 3600 * G_USEC_PER_SEC;
  g_autoptr (GArray) slots = tv_store_free_slots (store, doctor->id, from, to, now, &error);
  if (slots == NULL)
    return tv_ctl_store_error ("slots", NULL, error);
  g_autoptr (GTimeZone) tz = doctor->time_zone != NULL ? tv_schedule_timezone_new (doctor->time_zone, NULL) : NULL;
  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "slots");
    json_builder_begin_array (b);
    for (guint i = 0; i < slots->len; i++) {
      const TvInterval *s = &g_array_index (slots, TvInterval, i);
      g_autofree char *a = tv_schedule_format_rfc3339 (s->start, tz);
      g_autofree char *z = tv_schedule_format_rfc3339 (s->end, tz);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "start");
      json_builder_add_string_value (b, a);
      json_builder_set_member_name (b, "end");
      json_builder_add_string_value (b, z);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }
  for (guint i = 0; i < slots->len; i++) {
    const TvInterval *s = &g_array_index (slots, TvInterval, i);
    g_autofree char *a = tv_schedule_format_rfc3339 (s->start, tz);
    g_autofree char *z = tv_schedule_format_rfc3339 (s->end, tz);
    g_print ("%s  %s\n", a, z);
  }
  if (slots->len == 0)
    g_printerr ("televisitctl slots: no free slot in that range\n");
  return TV_CTL_EXIT_OK;
}

static int
cmd_book (const Opts *o, TvStore *store)
{
  if (o->doctor == NULL || o->patient == NULL || o->start == NULL)
    return tv_ctl_usage ("book", NULL, "--doctor, --patient and --start are required");
  g_autoptr (GError) error = NULL;
  gint64 start = 0;
  if (!tv_schedule_parse_rfc3339 (o->start, "--start", &start, &error))
    return tv_ctl_usage ("book", NULL, "%s", error->message);
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvUser) doctor = find_user ("book", store, o->doctor, TV_ROLE_DOCTOR, "doctor", &code);
  if (doctor == NULL)
    return code;
  g_autoptr (TvUser) patient = find_user ("book", store, o->patient, TV_ROLE_PATIENT, "patient", &code);
  if (patient == NULL)
    return code;
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dtok = NULL, *ptok = NULL;
  /* The booking and its audit row commit in one transaction (the store fills in the id). */
  tv_store_audit_stage_local (store, "ctl.book", "consult", NULL, patient->id);
  gboolean booked = tv_store_consult_book (store, doctor->id, patient->id, start, NULL, g_get_real_time (), &c,
                                           &dtok, &ptok, &error);
  if (!tv_store_audit_unstage (store, NULL))
    tv_store_audit_add_local (store, "ctl.book", "consult", NULL, patient->id, "error", NULL);
  if (!booked)
    return tv_ctl_store_error ("book", NULL, error);
  g_autoptr (GTimeZone) tz = doctor->time_zone != NULL ? tv_schedule_timezone_new (doctor->time_zone, NULL) : NULL;
  g_autofree char *a = tv_schedule_format_rfc3339 (c->scheduled_start, tz);
  g_autofree char *z = tv_schedule_format_rfc3339 (c->scheduled_end, tz);
  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, c->id);
    json_builder_set_member_name (b, "doctor_id");
    json_builder_add_string_value (b, doctor->id);
    json_builder_set_member_name (b, "patient_id");
    json_builder_add_string_value (b, patient->id);
    json_builder_set_member_name (b, "scheduled_start");
    json_builder_add_string_value (b, a);
    json_builder_set_member_name (b, "scheduled_end");
    json_builder_add_string_value (b, z);
    json_builder_set_member_name (b, "doctor_token");
    json_builder_add_string_value (b, dtok);
    json_builder_set_member_name (b, "patient_token");
    json_builder_add_string_value (b, ptok);
    json_builder_end_object (b);
    tv_ctl_print_json_builder (b);
    return TV_CTL_EXIT_OK;
  }
  g_print ("consult %s booked: %s .. %s\n"
           "doctor token:  %s\n"
           "patient token: %s\n"
           "(valid until 1 hour after the end; the store keeps only their SHA-256,\n"
           " GET /api/v1/consults/%s/join-link shows them again while the join-link key is kept)\n",
           c->id, a, z, dtok, ptok, c->id);
  return TV_CTL_EXIT_OK;
}

static int
cmd_no_show (const char *id, TvStore *store)
{
  g_autoptr (GError) error = NULL;
  if (!g_uuid_string_is_valid (id))
    return tv_ctl_usage ("no-show", NULL, "ID: not a consult id (a UUID)");
  g_autoptr (TvConsult) audited = NULL;
  tv_store_consult_get (store, id, &audited, NULL);
  const char *patient = audited ? audited->patient_id : NULL;
  /* The change and its audit row commit in one transaction. */
  tv_store_audit_stage_local (store, "ctl.no-show", "consult", id, patient);
  gboolean ok = tv_store_consult_no_show (store, id, g_get_real_time (), &error);
  if (!tv_store_audit_unstage (store, NULL))
    tv_store_audit_add_local (store, "ctl.no-show", "consult", id, patient, ok ? "ok" : "error", NULL);
  if (!ok)
    return tv_ctl_store_error ("no-show", NULL, error);
  g_print ("consult %s marked no-show\n", id);
  return TV_CTL_EXIT_OK;
}

/* ---- main ---------------------------------------------------------------- */

int
tv_server_ctl_schedule_main (int argc, char **argv, const char *data_dir_opt)
{
  g_return_val_if_fail (argc >= 1 && tv_server_ctl_schedule_handles (argv[0]), TV_CTL_EXIT_USAGE);
  const char *cmd = argv[0];
  Opts o = { 0 };
  int code = TV_CTL_EXIT_USAGE;
  g_autofree char **args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = argv[i];
  int n = argc;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.data_dir, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &o.help, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &o.json, NULL, NULL },
    { "clear", 0, 0, G_OPTION_ARG_NONE, &o.clear, NULL, NULL },
    { "hours", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.hours, NULL, NULL },
    { "date", 0, 0, G_OPTION_ARG_STRING, &o.date, NULL, NULL },
    { "kind", 0, 0, G_OPTION_ARG_STRING, &o.kind, NULL, NULL },
    { "start", 0, 0, G_OPTION_ARG_STRING, &o.start, NULL, NULL },
    { "end", 0, 0, G_OPTION_ARG_STRING, &o.end, NULL, NULL },
    { "from", 0, 0, G_OPTION_ARG_STRING, &o.from, NULL, NULL },
    { "to", 0, 0, G_OPTION_ARG_STRING, &o.to, NULL, NULL },
    { "doctor", 0, 0, G_OPTION_ARG_STRING, &o.doctor, NULL, NULL },
    { "patient", 0, 0, G_OPTION_ARG_STRING, &o.patient, NULL, NULL },
    { NULL },
  };
  g_autoptr (TvStore) store = NULL;
  char **pargs = args;
  if (!tv_ctl_parse_options (cmd, NULL, entries, FALSE, &n, &pargs))
    goto out;
  if (o.help) {
    g_print ("Usage: televisitctl [--data-dir DIR] %s ...\n%s", cmd, TV_SERVER_CTL_SCHEDULE_HELP);
    code = TV_CTL_EXIT_OK;
    goto out;
  }
  const char *const values[] = { o.date, o.kind, o.start, o.end, o.from, o.to, o.doctor, o.patient };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    if (values[i] != NULL && g_str_has_prefix (values[i], "--")) {
      code = tv_ctl_usage (cmd, NULL, "missing value before \"%s\"", values[i]);
      goto out;
    }
  }
  /* Positional arguments after the command: SUB for availability/exceptions, then DOCTOR / ID. */
  int first = 1;
  if (n > 1 && strcmp (pargs[1], "--") == 0)
    first = 2;
  const char *pos[4] = { NULL };
  int npos = n - first;
  if (npos > 3) {
    code = tv_ctl_usage (cmd, NULL, "unexpected argument \"%s\"", pargs[first + 3]);
    goto out;
  }
  for (int i = 0; i < npos; i++)
    pos[i] = pargs[first + i];
  const char *sub = NULL;
  int want;
  if (strcmp (cmd, "availability") == 0 || strcmp (cmd, "exceptions") == 0) {
    sub = pos[0];
    gboolean avail = cmd[0] == 'a';
    if (sub == NULL || (avail ? strcmp (sub, "show") != 0 && strcmp (sub, "set") != 0
                              : strcmp (sub, "add") != 0 && strcmp (sub, "list") != 0
                                  && strcmp (sub, "remove") != 0)) {
      code = tv_ctl_usage (cmd, NULL, avail ? "subcommand: show or set" : "subcommand: add, list or remove");
      goto out;
    }
    want = !avail && strcmp (sub, "remove") == 0 ? 3 : 2;
    if (npos < want) {
      code = tv_ctl_usage (cmd, NULL, want == 3 ? "%s: DOCTOR and EXCEPTION_ID required" : "%s: DOCTOR required", sub);
      goto out;
    }
  } else {
    want = strcmp (cmd, "book") == 0 ? 0 : 1;
    if (npos < want) {
      code = tv_ctl_usage (cmd, NULL, strcmp (cmd, "slots") == 0 ? "DOCTOR required" : "ID required");
      goto out;
    }
  }
  if (npos > want) {
    code = tv_ctl_usage (cmd, NULL, "unexpected argument \"%s\"", pos[want]);
    goto out;
  }

  const char *data_dir = tv_ctl_data_dir (o.data_dir ? o.data_dir : data_dir_opt);
  if (*data_dir == '\0') {
    code = tv_ctl_usage (cmd, NULL, "--data-dir: empty");
    goto out;
  }
  store = tv_ctl_open_store (cmd, data_dir, FALSE, &code);
  if (store == NULL)
    goto out;
  if (strcmp (cmd, "availability") == 0)
    code = cmd_availability (sub, pos[1], &o, store);
  else if (strcmp (cmd, "exceptions") == 0)
    code = cmd_exceptions (sub, pos[1], pos[2], &o, store);
  else if (strcmp (cmd, "slots") == 0)
    code = cmd_slots (pos[0], &o, store);
  else if (strcmp (cmd, "book") == 0)
    code = cmd_book (&o, store);
  else
    code = cmd_no_show (pos[0], store);
out:
  opts_clear (&o);
  return code;
}
