/* test-bench-load.c — smoke test of the signaling load client of `make bench`.
 *
 * Benchmarks are not tests: nothing here asserts a time or a rate. This only
 * checks that bench/tv-bench-load still works against the real server, so a
 * change elsewhere cannot silently break `make bench`: consults made through
 * the store API (`tv-bench-load tokens`), 6 connections joined with their
 * tokens, a second of ping/pong, one JSON result with numbers in it, and a
 * server RSS reading. About 3 s. Main thread; waits on the child's exit.
 */
#define G_LOG_DOMAIN "tv-test-bench"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sys/wait.h>

#include "tests/common/tv-test-fixture.h"

typedef struct {
  gboolean exited;
  int status;
} Child;

static void
on_exit_cb (GPid pid, int status, gpointer data)
{
  Child *c = data;
  c->exited = TRUE;
  c->status = status;
  g_spawn_close_pid (pid);
}

static gboolean
child_exited (gpointer data)
{
  return ((Child *) data)->exited;
}

/* The last @max bytes of the file at @path ("" when it cannot be read). */
static char *
file_tail (const char *path, gsize max)
{
  g_autofree char *text = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &text, &len, NULL))
    return g_strdup ("");
  return g_strdup (text + (len > max ? len - max : 0));
}

/* Runs @argv, the step named @step, to completion; returns its stdout. A child
 * that has not exited after 20 s (a hang guard, not a timing: the smoke run
 * takes ~3 s) is killed and the test fails naming the step, with what the
 * child had printed so far (stdout, and the tail of its stderr, where
 * tv-bench-load reports its phases and any connection still pending); a
 * child that exits non-zero fails the same way. */
static char *
run (const char *step, const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out_path = g_build_filename (tv_test_tmpdir (), "stdout", NULL);
  g_autofree char *err_path = g_strdup_printf ("%s/stderr-%s", tv_test_tmpdir (), step);
  g_autofree char *cmd = NULL;
  g_autofree char *quoted_out = g_shell_quote (out_path);
  g_autofree char *quoted_err = g_shell_quote (err_path);
  g_autoptr (GString) line = g_string_new (NULL);
  char *out = NULL;
  Child c = { 0 };
  GPid pid;

  for (const char *const *a = argv; *a; a++)
    {
      g_autofree char *q = g_shell_quote (*a);
      g_string_append_printf (line, "%s ", q);
    }
  cmd = g_strdup_printf ("exec %s> %s 2> %s", line->str, quoted_out, quoted_err);
  g_assert_true (g_spawn_async (NULL, (char *[]){ "/bin/sh", "-c", cmd, NULL }, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &pid, &error));
  g_assert_no_error (error);
  g_child_watch_add (pid, on_exit_cb, &c);
  if (!tv_test_wait_until (child_exited, &c, 20000))
    {
      kill (pid, SIGKILL);
      tv_test_wait_until (child_exited, &c, 5000);
      g_autofree char *so_far = file_tail (out_path, 2000), *err_tail = file_tail (err_path, 2000);
      g_error ("tv-bench-load step \"%s\" (pid %d) did not exit within 20 s; killed. Its stdout so far: [%s]; "
               "the tail of its stderr: [%s]", step, (int) pid, so_far, err_tail);
    }
  if (!WIFEXITED (c.status) || WEXITSTATUS (c.status) != 0)
    {
      g_autofree char *err_tail = file_tail (err_path, 2000);
      g_error ("tv-bench-load step \"%s\" failed (wait status 0x%x); the tail of its stderr: [%s]", step,
               (unsigned) c.status, err_tail);
    }
  g_assert_true (g_file_get_contents (out_path, &out, NULL, NULL));
  return out;
}

static void
test_televisit_smoke (void)
{
  const char *dir = tv_test_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autofree char *tokens = g_build_filename (dir, "tokens", NULL);
  g_autofree char *load = g_build_filename (tv_test_build_dir (), "tv-bench-load", NULL);
  g_autofree char *out = NULL, *pid = NULL, *url = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  TvTestServer *server;
  JsonObject *o;

  tv_test_watchdog_start (60, "bench load smoke");
  g_free (run ("tokens", (const char *const[]){ load, "tokens", "--db", db, "--consults", "3", "--out", tokens, NULL }));
  server = tv_test_server_start (dir, NULL);
  pid = g_strdup_printf ("%d", (int) tv_test_server_get_pid (server));
  url = g_strdup (tv_test_server_get_url (server));
  out = run ("load", (const char *const[]){ load, "--target", "televisit", "--url", url, "--ca",
                                    tv_test_server_get_cert_path (server), "--tokens", tokens, "--clients", "6",
                                    "--duration", "1.5", "--warmup", "0.5", "--rate-per-conn", "20",
                                    "--server-pid", pid, NULL });
  g_test_message ("result: %s", out);
  g_assert_true (json_parser_load_from_data (parser, out, -1, NULL));
  o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (o, "target"), ==, "televisit");
  g_assert_cmpint (json_object_get_int_member (o, "authenticated"), ==, 6);
  g_assert_cmpint (json_object_get_int_member (o, "failed"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "errors"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (o, "round_trips"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (o, "p99_ms"), >, 0);
  g_assert_cmpint (json_object_get_int_member (o, "server_rss_after_kb"), >, 0);
  g_assert_cmpint (tv_test_server_stop (server, 5000), ==, 0);
  tv_test_server_free (server);
  tv_test_watchdog_stop ();
}

static void
test_usage (void)
{
  g_autofree char *load = g_build_filename (tv_test_build_dir (), "tv-bench-load", NULL);
  g_autoptr (GError) error = NULL;
  int status = 0;

  /* No target: usage error, exit 1, nothing else happens. */
  g_assert_true (g_spawn_sync (NULL, (char *[]){ load, "--clients", "3", NULL }, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                               | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/bench/load/usage", test_usage);
  g_test_add_func ("/bench/load/televisit-smoke", test_televisit_smoke);
  return g_test_run ();
}
