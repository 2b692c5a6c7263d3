/* test-ctl.c — tests of the televisitctl admin tool, run as a real process.
 *
 * What: $TV_BUILD_DIR/televisitctl is started with GSubprocess on a temporary
 * data directory: create -> list -> show -> end -> show, the --json output
 * parsed with json-glib, the tokens it prints checked against the store, every
 * bad-argument case (exit 1 with a message naming the argument), unknown ids
 * and wrong states (exit 3), store errors (exit 2), help texts.
 * Thread: the test's main thread; each run waits for the child on a GMainLoop
 * with a timeout that fails the test, and every test runs under alarm().
 */
#define G_LOG_DOMAIN "test-ctl"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>

#include "server/tv-store.h"

#define WATCHDOG_S 60
#define RUN_TIMEOUT_S 20
#define UNKNOWN_ID "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
#define DOCTOR "Dr. Test Doctor"
#define PATIENT "Pat Synthetic"

typedef struct {
  char *dir;        /* the data dir given with --data-dir */
  char *db;
} Fixture;

static char *ctl_path;

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
      g_autofree char *p = g_build_filename (path, name, NULL);
      rm_rf (p);
    }
    g_rmdir (path);
  } else {
    g_remove (path);
  }
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  alarm (WATCHDOG_S);
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("tv-ctl-XXXXXX", &error);
  g_assert_no_error (error);
  f->db = g_build_filename (f->dir, "televisit.db", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  rm_rf (f->dir);
  g_free (f->dir);
  g_free (f->db);
  alarm (0);
}

/* ------------------------------------------------------------------------ */
/* Running televisitctl                                                       */

typedef struct {
  GMainLoop *loop;
  gboolean done;
  char *out;
  char *err;
  GError *error;
} Run;

static void
communicated (GObject *source, GAsyncResult *res, gpointer data)
{
  Run *r = data;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), res, &r->out, &r->err, &r->error);
  r->done = TRUE;
  g_main_loop_quit (r->loop);
}

static gboolean
run_timeout (gpointer data)
{
  Run *r = data;
  g_main_loop_quit (r->loop);
  return G_SOURCE_REMOVE;
}

/* Runs televisitctl with @argv (NULL-terminated, without the program) and the
 * environment variable TELEVISIT_DATA_DIR set to @env_dir (NULL: unset).
 * Returns: the exit status; *@out and *@err (transfer full) its output. */
static int
run_ctl_env (const char *env_dir, const char *const *argv, char **out, char **err)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (env_dir != NULL)
    g_subprocess_launcher_setenv (launcher, "TELEVISIT_DATA_DIR", env_dir, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "TELEVISIT_DATA_DIR");
  g_subprocess_launcher_unsetenv (launcher, "TV_STORE_FAULT");

  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, ctl_path);
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, NULL);

  g_autoptr (GSubprocess) proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata,
                                                               &error);
  g_assert_no_error (error);
  Run r = { g_main_loop_new (NULL, FALSE), FALSE, NULL, NULL, NULL };
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, communicated, &r);
  guint timer = g_timeout_add_seconds (RUN_TIMEOUT_S, run_timeout, &r);
  g_main_loop_run (r.loop);
  if (!r.done) {
    g_subprocess_force_exit (proc);
    while (!r.done)
      g_main_context_iteration (NULL, TRUE);
    g_main_loop_unref (r.loop);
    g_free (r.out);
    g_free (r.err);
    g_clear_error (&r.error);
    g_test_fail_printf ("televisitctl %s did not finish within %d s", argv[0] ? argv[0] : "", RUN_TIMEOUT_S);
    *out = g_strdup ("");
    *err = g_strdup ("");
    return -1;
  }
  g_source_remove (timer);
  g_main_loop_unref (r.loop);
  g_assert_no_error (r.error);
  /* communicate_utf8 may return before the exit status is known. */
  g_subprocess_wait (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  *out = r.out != NULL ? r.out : g_strdup ("");
  *err = r.err != NULL ? r.err : g_strdup ("");
  if (g_test_verbose ())
    g_test_message ("televisitctl %s -> %d\nstdout: %s\nstderr: %s", argv[0] ? argv[0] : "",
                    g_subprocess_get_exit_status (proc), *out, *err);
  return g_subprocess_get_exit_status (proc);
}

/* run_ctl (fixture, &out, &err, "create", "--doctor", ..., NULL): with --data-dir. */
static int
run_ctl (Fixture *f, char **out, char **err, ...) G_GNUC_NULL_TERMINATED;

static int
run_ctl (Fixture *f, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, "--data-dir");
  g_ptr_array_add (args, f->dir);
  va_list ap;
  va_start (ap, err);
  const char *a;
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return run_ctl_env (NULL, (const char *const *) args->pdata, out, err);
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  JsonNode *root = json_parser_get_root (parser);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}


/* Creates a consult through the tool (--json). Returns: (transfer full) its JSON. */
static JsonObject *
create_json (Fixture *f, const char *doctor, const char *start)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = run_ctl (f, &out, &err, "create", "--doctor", doctor, "--patient", PATIENT, "--start", start,
                    "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  return parse_object (out);
}

static void
assert_rfc3339_utc (const char *text)
{
  g_assert_nonnull (text);
  g_assert_true (g_regex_match_simple ("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", text, 0, 0));
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (text, NULL);
  g_assert_nonnull (dt);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                      */

static void
test_lifecycle (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;

  /* create (text): id, both tokens, both command lines. */
  int rc = run_ctl (f, &out, &err, "create", "--doctor", DOCTOR, "--patient", PATIENT, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_true (g_str_has_prefix (out, "consult "));
  g_autofree char *first_id = g_strndup (out + strlen ("consult "), 36);
  g_assert_true (g_uuid_string_is_valid (first_id));
  g_autofree char *ca = g_build_filename (f->dir, "tls", "cert.pem", NULL);
  g_autofree char *cmd_prefix = g_strdup_printf ("televisit-client --server wss://localhost:8443 --ca %s --token ", ca);
  g_assert_nonnull (strstr (out, cmd_prefix));
  g_assert_null (strstr (out, PATIENT));   /* patient data only in show */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* create (--json), starting in an hour, tokens valid 2 h, another server. */
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) later = g_date_time_add_hours (now, 1);
  g_autofree char *start = g_date_time_format (later, "%Y-%m-%dT%H:%M:%S+00:00");
  rc = run_ctl (f, &out, &err, "create", "--doctor", "Dr. Second", "--patient", PATIENT, "--start", start,
                "--token-valid", "2", "--server", "wss://tv.example.test:9443", "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_autoptr (JsonObject) created = parse_object (out);
  const char *id = json_object_get_string_member (created, "id");
  g_assert_true (g_uuid_string_is_valid (id));
  g_assert_cmpstr (json_object_get_string_member (created, "status"), ==, "scheduled");
  g_assert_cmpstr (json_object_get_string_member (created, "doctor"), ==, "Dr. Second");
  g_assert_false (json_object_has_member (created, "patient"));
  assert_rfc3339_utc (json_object_get_string_member (created, "scheduled_start"));
  JsonObject *tokens = json_object_get_object_member (created, "tokens");
  JsonObject *cmds = json_object_get_object_member (created, "commands");
  const char *dtok = json_object_get_string_member (tokens, "doctor");
  const char *ptok = json_object_get_string_member (tokens, "patient");
  g_assert_true (tv_store_token_is_wellformed (dtok));
  g_assert_true (tv_store_token_is_wellformed (ptok));
  g_assert_cmpstr (dtok, !=, ptok);
  g_autofree char *dcmd = g_strdup_printf ("televisit-client --server wss://tv.example.test:9443 --ca %s --token %s",
                                           ca, dtok);
  g_assert_cmpstr (json_object_get_string_member (cmds, "doctor"), ==, dcmd);
  g_assert_nonnull (strstr (json_object_get_string_member (cmds, "patient"), ptok));

  /* Scheduled start and expiry as asked: start + 2 h. */
  g_autoptr (GDateTime) s = g_date_time_new_from_iso8601 (json_object_get_string_member (created, "scheduled_start"), NULL);
  g_autoptr (GDateTime) e = g_date_time_new_from_iso8601 (json_object_get_string_member (created, "tokens_expire_at"), NULL);
  g_assert_cmpint (g_date_time_difference (e, s), ==, 2 * G_TIME_SPAN_HOUR);
  g_assert_cmpint (g_date_time_to_unix (s), ==, g_date_time_to_unix (later));

  /* The printed tokens are the ones the store knows (by hash). */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvStore) store = tv_store_open (f->db, &error);
    g_assert_no_error (error);
    g_autofree char *cid = NULL;
    TvSigRole role = TV_SIG_ROLE_NONE;
    g_assert_true (tv_store_token_lookup (store, ptok, g_get_real_time (), &cid, &role, &error));
    g_assert_cmpstr (cid, ==, id);
    g_assert_cmpint (role, ==, TV_SIG_ROLE_PATIENT);
  }
  struct stat st;
  g_assert_cmpint (g_stat (f->db, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* list (text): both ids and doctors, no patient. */
  rc = run_ctl (f, &out, &err, "list", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, id));
  g_assert_nonnull (strstr (out, first_id));
  g_assert_nonnull (strstr (out, "Dr. Second"));
  g_assert_nonnull (strstr (out, "scheduled"));
  g_assert_null (strstr (out, PATIENT));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* list --json: latest scheduled first, no patient member. */
  rc = run_ctl (f, &out, &err, "list", "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_null (strstr (out, PATIENT));
  g_autoptr (JsonObject) listed = parse_object (out);
  JsonArray *arr = json_object_get_array_member (listed, "consults");
  g_assert_cmpuint (json_array_get_length (arr), ==, 2);
  JsonObject *l0 = json_array_get_object_element (arr, 0);
  g_assert_cmpstr (json_object_get_string_member (l0, "id"), ==, id);
  g_assert_false (json_object_has_member (l0, "patient"));
  g_assert_cmpint (json_object_get_int_member (l0, "duration_s"), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* show (text and JSON): the patient is there. */
  rc = run_ctl (f, &out, &err, "show", id, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, PATIENT));
  g_assert_nonnull (strstr (out, "scheduled"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = run_ctl (f, &out, &err, "show", id, "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  {
    g_autoptr (JsonObject) shown = parse_object (out);
    g_assert_cmpstr (json_object_get_string_member (shown, "patient"), ==, PATIENT);
    g_assert_cmpstr (json_object_get_string_member (shown, "status"), ==, "scheduled");
    g_assert_true (json_object_get_null_member (shown, "ended_at"));
    g_assert_true (json_object_get_null_member (shown, "end_reason"));
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (shown, "participation")), ==, 0);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* end: completed by the admin; the other consult is untouched. */
  rc = run_ctl (f, &out, &err, "end", id, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, "ended-by-admin"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = run_ctl (f, &out, &err, "show", id, "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  {
    g_autoptr (JsonObject) shown = parse_object (out);
    g_assert_cmpstr (json_object_get_string_member (shown, "status"), ==, "completed");
    g_assert_cmpstr (json_object_get_string_member (shown, "end_reason"), ==, "ended-by-admin");
    assert_rfc3339_utc (json_object_get_string_member (shown, "ended_at"));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* end twice: wrong state. */
  rc = run_ctl (f, &out, &err, "end", id, NULL);
  g_assert_cmpint (rc, ==, 3);
  g_assert_nonnull (strstr (err, "completed"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  rc = run_ctl (f, &out, &err, "show", first_id, "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_autoptr (JsonObject) other = parse_object (out);
  g_assert_cmpstr (json_object_get_string_member (other, "status"), ==, "scheduled");
}

/* show reports what the server recorded: media times, duration, the log. */
static void
test_show_participation (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) created = create_json (f, DOCTOR, "now");
  const char *id = json_object_get_string_member (created, "id");
  const gint64 t0 = g_get_real_time () - 600 * G_USEC_PER_SEC;
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvStore) store = tv_store_open (f->db, &error);
    g_assert_no_error (error);
    g_assert_true (tv_store_record_participation (store, id, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL, t0, &error));
    g_assert_true (tv_store_record_participation (store, id, TV_SIG_ROLE_PATIENT, TV_PART_JOIN, NULL,
                                                  t0 + 5 * G_USEC_PER_SEC, &error));
    g_assert_true (tv_store_consult_media_started (store, id, t0 + 10 * G_USEC_PER_SEC, &error));
    g_assert_true (tv_store_consult_media_stopped (store, id, t0 + 130 * G_USEC_PER_SEC, &error));
    g_assert_true (tv_store_record_participation (store, id, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE, "dropped",
                                                  t0 + 131 * G_USEC_PER_SEC, &error));
    g_assert_no_error (error);
  }
  g_autofree char *out = NULL, *err = NULL;
  int rc = run_ctl (f, &out, &err, "show", id, "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_autoptr (JsonObject) shown = parse_object (out);
  g_assert_cmpstr (json_object_get_string_member (shown, "status"), ==, "in-progress");
  g_assert_cmpint (json_object_get_int_member (shown, "duration_s"), ==, 120);
  assert_rfc3339_utc (json_object_get_string_member (shown, "started_at"));
  JsonArray *log = json_object_get_array_member (shown, "participation");
  g_assert_cmpuint (json_array_get_length (log), ==, 3);
  const char *roles[] = { "doctor", "patient", "patient" };
  const char *events[] = { "join", "join", "leave" };
  for (guint i = 0; i < 3; i++) {
    JsonObject *p = json_array_get_object_element (log, i);
    assert_rfc3339_utc (json_object_get_string_member (p, "at"));
    g_assert_cmpstr (json_object_get_string_member (p, "role"), ==, roles[i]);
    g_assert_cmpstr (json_object_get_string_member (p, "event"), ==, events[i]);
  }
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (log, 2), "detail"), ==, "dropped");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  rc = run_ctl (f, &out, &err, "list", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, "0:02:00"));
  g_assert_nonnull (strstr (out, "in-progress"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A consult that has started cannot be cancelled, only ended. */
  rc = run_ctl (f, &out, &err, "cancel", id, NULL);
  g_assert_cmpint (rc, ==, 3);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) created = create_json (f, DOCTOR, "now");
  const char *id = json_object_get_string_member (created, "id");
  g_autofree char *out = NULL, *err = NULL;
  int rc = run_ctl (f, &out, &err, "cancel", id, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = run_ctl (f, &out, &err, "show", id, "--json", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_autoptr (JsonObject) shown = parse_object (out);
  g_assert_cmpstr (json_object_get_string_member (shown, "status"), ==, "cancelled");
  g_assert_cmpstr (json_object_get_string_member (shown, "end_reason"), ==, "cancelled-by-admin");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = run_ctl (f, &out, &err, "cancel", id, NULL);
  g_assert_cmpint (rc, ==, 3);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  rc = run_ctl (f, &out, &err, "end", id, NULL);
  g_assert_cmpint (rc, ==, 3);
}

typedef struct {
  const char *args[14];   /* after --data-dir DIR; NULL-terminated */
  const char *expect;     /* must appear in stderr */
} BadCase;

static void
test_bad_arguments (Fixture *f, gconstpointer data)
{
  g_autofree char *long_name = g_strnfill (201, 'x');
  /* Make the database exist so that ID errors are about the ID, not the store. */
  g_autoptr (JsonObject) created = create_json (f, DOCTOR, "now");

  const BadCase cases[] = {
    { { NULL }, "no command" },
    { { "frobnicate", NULL }, "unknown command" },
    { { "--bogus", "list", NULL }, "--bogus" },
    { { "list", "--bogus", NULL }, "--bogus" },
    { { "list", "extra", NULL }, "unexpected argument" },
    { { "list", "--json", "--", "extra", NULL }, "unexpected argument" },
    { { "create", "--patient", PATIENT, NULL }, "--doctor" },
    { { "create", "--doctor", DOCTOR, NULL }, "--patient" },
    { { "create", "--doctor", "", "--patient", PATIENT, NULL }, "--doctor: name is empty" },
    { { "create", "--doctor", DOCTOR, "--patient", "", NULL }, "--patient: name is empty" },
    { { "create", "--doctor", "   ", "--patient", PATIENT, NULL }, "--doctor: name is blank" },
    { { "create", "--doctor", long_name, "--patient", PATIENT, NULL }, "--doctor: name is longer than 200 bytes" },
    { { "create", "--doctor", DOCTOR, "--patient", long_name, NULL }, "--patient: name is longer than 200 bytes" },
    { { "create", "--doctor", "Dr.\tTab", "--patient", PATIENT, NULL }, "--doctor: name contains control" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--start", "tomorrow", NULL }, "--start" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--start", "2030-01-01T10:00:00", NULL },
      "--start: not an RFC 3339 time with an offset" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--start", "2030-02-30T10:00:00Z", NULL },
      "--start: not a valid date" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--start", "2030-W01-1T10:00:00Z", NULL }, "--start" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--start", "2001-01-01T10:00:00Z", NULL },
      "--start: the tokens would already have expired" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--start", "", NULL }, "--start" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--token-valid", "0", NULL }, "--token-valid" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--token-valid", "721", NULL }, "--token-valid" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--token-valid", "-3", NULL }, "--token-valid" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--token-valid", "12h", NULL }, "--token-valid" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--token-valid", "", NULL }, "--token-valid" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--server", "https://localhost:8443", NULL },
      "--server" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--server", "wss://", NULL }, "--server" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "--server", "wss://h:1/x?y=1", NULL }, "--server" },
    { { "create", "--doctor", DOCTOR, "--patient", PATIENT, "extra", NULL }, "unexpected argument" },
    { { "create", "--doctor", NULL }, "--doctor" },
    { { "create", "--doctor", "--patient", PATIENT, NULL }, "--doctor: missing value" },
    { { "create", "--doctor", DOCTOR, "--patient", "--json", NULL }, "--patient: missing value" },
    { { "show", NULL }, "ID" },
    { { "show", "not-an-id", NULL }, "ID" },
    { { "show", UNKNOWN_ID, "extra", NULL }, "unexpected argument" },
    { { "end", NULL }, "ID" },
    { { "end", "12345", NULL }, "ID" },
    { { "end", UNKNOWN_ID, "--json", NULL }, "--json" },
    { { "cancel", "", NULL }, "ID" },
    { { "help", "frobnicate", NULL }, "unknown command" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GPtrArray) args = g_ptr_array_new ();
    g_ptr_array_add (args, "--data-dir");
    g_ptr_array_add (args, f->dir);
    for (guint k = 0; cases[i].args[k] != NULL; k++)
      g_ptr_array_add (args, (gpointer) cases[i].args[k]);
    g_ptr_array_add (args, NULL);
    g_autofree char *out = NULL, *err = NULL;
    int rc = run_ctl_env (NULL, (const char *const *) args->pdata, &out, &err);
    g_autofree char *joined = g_strjoinv (" ", (char **) cases[i].args);
    if (rc != 1 || strstr (err, cases[i].expect) == NULL)
      g_test_fail_printf ("case %u (%s): exit %d, stderr \"%s\"; expected exit 1 and \"%s\"", i, joined, rc, err,
                          cases[i].expect);
    g_assert_cmpstr (out, ==, "");
  }
  /* Nothing was created by any of them. */
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (run_ctl (f, &out, &err, "list", "--json", NULL), ==, 0);
  g_autoptr (JsonObject) listed = parse_object (out);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (listed, "consults")), ==, 1);
}

static void
test_not_found (Fixture *f, gconstpointer data)
{
  g_autoptr (JsonObject) created = create_json (f, DOCTOR, "now");
  const char *cmds[] = { "show", "end", "cancel" };
  for (guint i = 0; i < G_N_ELEMENTS (cmds); i++) {
    g_autofree char *out = NULL, *err = NULL;
    int rc = run_ctl (f, &out, &err, cmds[i], UNKNOWN_ID, NULL);
    g_assert_cmpint (rc, ==, 3);
    g_assert_nonnull (strstr (err, UNKNOWN_ID));
  }
  /* Upper-case ids are the same consult. */
  g_autofree char *upper = g_ascii_strup (json_object_get_string_member (created, "id"), -1);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (run_ctl (f, &out, &err, "show", upper, NULL), ==, 0);
}

static void
test_store_errors (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  /* No database yet: read commands do not create one. */
  g_assert_cmpint (run_ctl (f, &out, &err, "list", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "no database"));
  g_assert_false (g_file_test (f->db, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A database from a newer version is refused. */
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (f->db, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
  g_assert_cmpint (run_ctl (f, &out, &err, "list", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "newer"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_ctl (f, &out, &err, "create", "--doctor", DOCTOR, "--patient", PATIENT, NULL), ==, 2);
  g_assert_cmpstr (out, ==, "");
}

static void
test_data_dir_env (Fixture *f, gconstpointer data)
{
  g_autofree char *sub = g_build_filename (f->dir, "nested", "data", NULL);
  g_autofree char *out = NULL, *err = NULL;
  const char *create[] = { "create", "--doctor", DOCTOR, "--patient", PATIENT, NULL };
  g_assert_cmpint (run_ctl_env (sub, create, &out, &err), ==, 0);
  g_autofree char *db = g_build_filename (sub, "televisit.db", NULL);
  g_assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));
  struct stat st;
  g_assert_cmpint (g_stat (sub, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  const char *list[] = { "list", "--json", NULL };
  g_assert_cmpint (run_ctl_env (sub, list, &out, &err), ==, 0);
  g_autoptr (JsonObject) listed = parse_object (out);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (listed, "consults")), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* --data-dir wins over the environment (f->dir has no database). */
  const char *list2[] = { "--data-dir", f->dir, "list", NULL };
  g_assert_cmpint (run_ctl_env (sub, list2, &out, &err), ==, 2);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* ... also when given after the command. */
  const char *list3[] = { "list", "--data-dir", sub, NULL };
  g_assert_cmpint (run_ctl_env (f->dir, list3, &out, &err), ==, 0);
}

static void
test_help (Fixture *f, gconstpointer data)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *help[] = { "--help", NULL };
  g_assert_cmpint (run_ctl_env (NULL, help, &out, &err), ==, 0);
  const char *sections[] = { "NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS", "FILES",
                             "EXAMPLES" };
  for (guint i = 0; i < G_N_ELEMENTS (sections); i++) {
    g_autofree char *line = g_strdup_printf ("\n%s\n", sections[i]);
    g_assert_true (strstr (out, line) != NULL || g_str_has_prefix (out, line + 1));
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  const char *per_command[][3] = {
    { "help", "create", NULL }, { "create", "--help", NULL }, { "list", "-h", NULL },
    { "help", "show", NULL }, { "end", "--help", NULL }, { "help", "cancel", NULL },
  };
  const char *expect[] = { "--token-valid", "--token-valid", "list [--json]", "show ID", "end ID", "cancel ID" };
  for (guint i = 0; i < G_N_ELEMENTS (per_command); i++) {
    g_assert_cmpint (run_ctl_env (NULL, per_command[i], &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, expect[i]));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *build = g_getenv ("TV_BUILD_DIR");
  ctl_path = g_build_filename (build != NULL && *build != '\0' ? build : "build", "televisitctl", NULL);
  if (!g_path_is_absolute (ctl_path)) {
    g_autofree char *cwd = g_get_current_dir ();
    char *abs = g_build_filename (cwd, ctl_path, NULL);
    g_free (ctl_path);
    ctl_path = abs;
  }
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/ctl/lifecycle", test_lifecycle);
  ADD ("/ctl/show-participation", test_show_participation);
  ADD ("/ctl/cancel", test_cancel);
  ADD ("/ctl/bad-arguments", test_bad_arguments);
  ADD ("/ctl/not-found", test_not_found);
  ADD ("/ctl/store-errors", test_store_errors);
  ADD ("/ctl/data-dir-env", test_data_dir_env);
  ADD ("/ctl/help", test_help);
#undef ADD
  int rc = g_test_run ();
  g_free (ctl_path);
  return rc;
}
