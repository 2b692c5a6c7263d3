/* test-ctl-user.c — `televisitctl user ...` on the real binary, and the accounts it
 * makes logging in to a real server.
 *
 * Why: the admin tool is how the first admin comes to exist; its exit codes,
 * messages and the "password only from stdin, generated one printed once"
 * rule are its contract.
 * Thread: main thread only; every case under a watchdog.
 */
#define G_LOG_DOMAIN "test-ctl-user"

#include <string.h>

#include <gio/gio.h>

#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

typedef struct {
  int status;
  char *out;
  char *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Runs televisitctl --data-dir @dir @args... with @input on stdin (NULL: empty). */
static Run
ctl (const char *dir, const char *input, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_build_filename (tv_test_build_dir (), "televisitctl", NULL));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_strdup (dir));
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  Run r = { 0 };
  g_subprocess_communicate_utf8 (p, input ? input : "", NULL, &r.out, &r.err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  r.status = g_subprocess_get_exit_status (p);
  return r;
}

#define CTL(dir, input, ...) ctl ((dir), (input), (const char *const[]) { __VA_ARGS__, NULL })

static JsonObject *
parse_object (const char *text)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (p, text, -1, &error));
  return json_object_ref (json_node_get_object (json_parser_get_root (p)));
}

static void
test_add_and_login (void)
{
  const char *dir = tv_test_tmpdir ();
  /* Generated password: printed once, works. */
  Run a = CTL (dir, NULL, "user", "add", "--username", "admin", "--name", "Ada Admin", "--role", "admin", "--json");
  g_assert_cmpint (a.status, ==, 0);
  g_autoptr (JsonObject) ao = parse_object (a.out);
  const char *generated = tv_test_json_str (ao, "password");
  g_assert_nonnull (generated);
  g_assert_cmpuint (strlen (generated), >=, 16);
  /* Password from stdin: not echoed anywhere. */
  Run b = CTL (dir, "doctor-password-1\n", "user", "add", "--username", "dr.test", "--name", "Dr. Test Doctor",
               "--role", "doctor,scheduler", "--time-zone", "Europe/Paris", "--slot-minutes", "20",
               "--password-stdin");
  g_assert_cmpint (b.status, ==, 0);
  g_assert_null (strstr (b.out, "doctor-password-1"));
  g_assert_null (strstr (b.err, "doctor-password-1"));
  g_assert_nonnull (strstr (b.out, "roles doctor,scheduler"));

  Run l = CTL (dir, NULL, "user", "list", "--json");
  g_assert_cmpint (l.status, ==, 0);
  g_autoptr (JsonObject) lo = parse_object (l.out);
  JsonArray *users = json_object_get_array_member (lo, "users");
  g_assert_cmpuint (json_array_get_length (users), ==, 2);
  Run ld = CTL (dir, NULL, "user", "list", "--role", "doctor", "--json");
  g_autoptr (JsonObject) ldo = parse_object (ld.out);
  JsonObject *doc = json_array_get_object_element (json_object_get_array_member (ldo, "users"), 0);
  g_assert_cmpstr (tv_test_json_str (doc, "time_zone"), ==, "Europe/Paris");
  g_assert_cmpint (tv_test_json_int (doc, "slot_minutes", 0), ==, 20);
  g_assert_null (strstr (l.out, "scrypt"));
  Run lt = CTL (dir, NULL, "user", "list");
  g_assert_nonnull (strstr (lt.out, "dr.test"));

  TvTestServer *server = tv_test_server_start (dir, NULL);
  g_autofree char *t1 = tv_test_login (server, "admin", generated);
  g_autofree char *t2 = tv_test_login (server, "dr.test", "doctor-password-1");

  /* set-password: the old sessions end, the new password works, the old one not. */
  Run sp = CTL (dir, "another-password-2\n", "user", "set-password", "dr.test", "--password-stdin");
  g_assert_cmpint (sp.status, ==, 0);
  guint status = 0;
  g_autoptr (JsonNode) r1 = NULL, r2 = NULL, r3 = NULL;
  tv_test_http (server, "GET", "/api/v1/me", t2, NULL, &status, &r1);
  g_assert_cmpuint (status, ==, 401);
  g_autofree char *t3 = tv_test_login (server, "dr.test", "another-password-2");
  tv_test_http (server, "POST", "/api/v1/login", NULL, "{\"username\":\"dr.test\",\"password\":\"doctor-password-1\"}",
                &status, &r2);
  g_assert_cmpuint (status, ==, 401);

  /* disable (by id this time): sessions end, login refused. */
  const char *admin_id = tv_test_json_str (json_object_get_object_member (ao, "user"), "id");
  Run d = CTL (dir, NULL, "user", "disable", admin_id);
  g_assert_cmpint (d.status, ==, 0);
  tv_test_http (server, "GET", "/api/v1/me", t1, NULL, &status, &r3);
  g_assert_cmpuint (status, ==, 401);
  g_autoptr (JsonNode) r4 = NULL;
  g_autofree char *body = g_strdup_printf ("{\"username\":\"admin\",\"password\":\"%s\"}", generated);
  tv_test_http (server, "POST", "/api/v1/login", NULL, body, &status, &r4);
  g_assert_cmpuint (status, ==, 403);

  g_autofree char *log = tv_test_server_read_stderr (server);
  g_assert_null (strstr (log, generated));
  g_assert_cmpint (tv_test_server_stop (server, 5000), ==, 0);
  tv_test_server_free (server);
  Run *all[] = { &a, &b, &l, &ld, &lt, &sp, &d };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    run_clear (all[i]);
}

static void
test_errors (void)
{
  const char *dir = tv_test_tmpdir ();
  Run ok = CTL (dir, "pat-password-1\n", "user", "add", "--username", "pat", "--name", "Pat Synthetic", "--role",
                "patient", "--password-stdin");
  g_assert_cmpint (ok.status, ==, 0);
  const struct {
    const char *why;
    const char *input;
    const char *args[16];
    int status;
    const char *msg;
  } cases[] = {
    { "no subcommand", NULL, { "user" }, 1, "no subcommand" },
    { "unknown subcommand", NULL, { "user", "remove", "pat" }, 1, "unknown subcommand" },
    { "missing username", NULL, { "user", "add", "--name", "X", "--role", "patient" }, 1, "--username" },
    { "missing name", NULL, { "user", "add", "--username", "x1x", "--role", "patient" }, 1, "--name" },
    { "missing role", NULL, { "user", "add", "--username", "x1x", "--name", "X" }, 1, "--role" },
    { "bad username", NULL, { "user", "add", "--username", "X Y", "--name", "X", "--role", "patient" }, 1,
      "--username" },
    { "bad role", NULL, { "user", "add", "--username", "x1x", "--name", "X", "--role", "patient,wizard" }, 1,
      "wizard" },
    { "bad zone", NULL, { "user", "add", "--username", "x1x", "--name", "X", "--role", "doctor", "--time-zone",
                          "Atlantis/Capital" }, 1, "--time-zone" },
    { "bad slot", NULL, { "user", "add", "--username", "x1x", "--name", "X", "--role", "doctor", "--slot-minutes",
                          "500" }, 1, "--slot-minutes" },
    { "short password", "short\n", { "user", "add", "--username", "x1x", "--name", "X", "--role", "patient",
                                     "--password-stdin" }, 1, "shorter" },
    { "empty stdin", "", { "user", "add", "--username", "x1x", "--name", "X", "--role", "patient",
                           "--password-stdin" }, 1, "standard input" },
    { "option as value", NULL, { "user", "add", "--username", "--name", "X", "--role", "patient" }, 1,
      "missing value" },
    { "taken", NULL, { "user", "add", "--username", "pat", "--name", "X", "--role", "patient" }, 3, "taken" },
    { "disable nobody", NULL, { "user", "disable", "nobody" }, 3, "no such user" },
    { "disable no arg", NULL, { "user", "disable" }, 1, "required" },
    { "set-password without stdin flag", NULL, { "user", "set-password", "pat" }, 1, "--password-stdin" },
    { "password in argv refused", NULL, { "user", "set-password", "pat", "--password", "x" }, 1, "Unknown option" },
    { "list bad role", NULL, { "user", "list", "--role", "wizard" }, 1, "wizard" },
    { "extra argument", NULL, { "user", "list", "extra" }, 1, "unexpected argument" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_test_message ("ctl user: %s", cases[i].why);
    Run r = ctl (dir, cases[i].input, cases[i].args);
    g_assert_cmpint (r.status, ==, cases[i].status);
    g_assert_nonnull (strstr (r.err, cases[i].msg));
    g_assert_cmpstr (r.out, ==, "");
    run_clear (&r);
  }
  /* Nothing but the one good user was written. */
  g_assert_cmpint (tv_test_store_int (dir, "SELECT count(*) FROM users"), ==, 1);
  /* No database: list says so (2), and does not create one. */
  const char *empty = tv_test_tmpdir ();
  Run nodb = CTL (empty, NULL, "user", "list");
  g_assert_cmpint (nodb.status, ==, 2);
  g_autofree char *db = g_build_filename (empty, "televisit.db", NULL);
  g_assert_false (g_file_test (db, G_FILE_TEST_EXISTS));
  /* Help. */
  Run h = CTL (dir, NULL, "help", "user");
  g_assert_cmpint (h.status, ==, 0);
  g_assert_nonnull (strstr (h.out, "--password-stdin"));
  Run m = CTL (dir, NULL, "--help");
  g_assert_nonnull (strstr (m.out, "user add --username U"));
  run_clear (&ok);
  run_clear (&nodb);
  run_clear (&h);
  run_clear (&m);
}

static void
run_with_watchdog (gconstpointer data)
{
  tv_test_watchdog_start (60, g_test_get_path ());
  ((void (*) (void)) data) ();
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_test_add_data_func ("/ctl-user/add-and-login", (gconstpointer) test_add_and_login, run_with_watchdog);
  g_test_add_data_func ("/ctl-user/errors", (gconstpointer) test_errors, run_with_watchdog);
  return g_test_run ();
}
