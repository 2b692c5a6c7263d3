/* tv-test-client-proc.h — run televisit-client as a child process in a test.
 *
 * Header-only (static functions) because the build links one source file per
 * test binary and both tests/client and tests/e2e need it: start the real
 * binary with GSubprocess, follow its stdout line by line (the client prints
 * one progress event per line, see its --help OUTPUT), collect its stderr, and
 * wait for its exit or for a given line — always by iterating the main loop
 * under a timeout, never by sleeping. Test main thread only.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "server/tv-store.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

typedef struct {
  char *name;               /* label for messages ("doctor") */
  GSubprocess *proc;
  GDataInputStream *out;    /* stdout, read line by line */
  GString *out_text;        /* every stdout line so far, each ending in \n */
  char *err_text;           /* stderr, complete once err_done */
  gboolean exited;
  int status;               /* exit status; -1 when killed by a signal */
  int term_signal;          /* the signal when status == -1 */
  gboolean out_eof;
  gboolean err_done;
  GCancellable *cancel;
} TvTestClient;

static void tv_test_client_read_line_ (TvTestClient *c);

/* Runs in the forked child before exec: never outlive the test binary, however
 * it ends (an aborted test otherwise left its clients running). The setting
 * survives the exec chain of the namespace wrappers (sh, ip netns exec). */
static void
tv_test_client_child_setup_ (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static G_GNUC_UNUSED char *
tv_test_client_path (void)
{
  return g_build_filename (tv_test_build_dir (), "televisit-client", NULL);
}

static void
tv_test_client_on_line_ (GObject *src, GAsyncResult *res, gpointer data)
{
  TvTestClient *c = data;
  g_autoptr (GError) error = NULL;
  gsize len = 0;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (src), res, &len, &error);

  if (line == NULL)
    {
      c->out_eof = TRUE;
      return;
    }
  g_test_message ("%s stdout: %s", c->name, line);
  g_string_append (c->out_text, line);
  g_string_append_c (c->out_text, '\n');
  tv_test_client_read_line_ (c);
}

static void
tv_test_client_read_line_ (TvTestClient *c)
{
  g_data_input_stream_read_line_async (c->out, G_PRIORITY_DEFAULT, c->cancel, tv_test_client_on_line_, c);
}

static void
tv_test_client_on_err_ (GObject *src, GAsyncResult *res, gpointer data)
{
  TvTestClient *c = data;
  g_autoptr (GBytes) bytes = NULL;
  GOutputStream *mem = G_OUTPUT_STREAM (src);

  g_output_stream_splice_finish (mem, res, NULL);
  g_output_stream_write (mem, "", 1, NULL, NULL);
  g_output_stream_close (mem, NULL, NULL);
  bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
  c->err_text = g_strdup (g_bytes_get_data (bytes, NULL));
  c->err_done = TRUE;
}

static void
tv_test_client_on_exit_ (GObject *src, GAsyncResult *res, gpointer data)
{
  TvTestClient *c = data;

  c->exited = TRUE;
  if (!g_subprocess_wait_finish (G_SUBPROCESS (src), res, NULL))
    {
      c->status = -1;  /* wait cancelled: status unknown */
      return;
    }
  if (g_subprocess_get_if_exited (c->proc))
    c->status = g_subprocess_get_exit_status (c->proc);
  else
    {
      c->status = -1;
      c->term_signal = g_subprocess_get_if_signaled (c->proc) ? g_subprocess_get_term_sig (c->proc) : 0;
    }
}

/* tv_test_client_spawn:
 * Starts televisit-client with @args (NULL-terminated, without argv[0])
 * through @launcher, which must have STDOUT_PIPE and STDERR_PIPE (and may add
 * STDIN_PIPE, environment, ...); the child dies with the test.
 * Returns: (transfer full) the running child; fails the test if it cannot start. */
static G_GNUC_UNUSED TvTestClient *
tv_test_client_spawn (const char *name, GSubprocessLauncher *launcher, const char *const *args)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GOutputStream) mem = NULL;
  TvTestClient *c = g_new0 (TvTestClient, 1);

  g_ptr_array_add (argv, tv_test_client_path ());
  for (const char *const *a = args; *a != NULL; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  g_ptr_array_add (argv, NULL);

  c->name = g_strdup (name);
  c->cancel = g_cancellable_new ();
  c->out_text = g_string_new (NULL);
  g_subprocess_launcher_set_child_setup (launcher, tv_test_client_child_setup_, NULL, NULL);
  c->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  c->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->proc));
  tv_test_client_read_line_ (c);
  mem = g_memory_output_stream_new_resizable ();
  g_output_stream_splice_async (mem, g_subprocess_get_stderr_pipe (c->proc),
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, G_PRIORITY_DEFAULT, c->cancel,
                                tv_test_client_on_err_, c);
  g_subprocess_wait_async (c->proc, c->cancel, tv_test_client_on_exit_, c);
  return c;
}

/* tv_test_client_start:
 * Starts televisit-client with @args (NULL-terminated, without argv[0]).
 * Returns: (transfer full) the running child; fails the test if it cannot start. */
static G_GNUC_UNUSED TvTestClient *
tv_test_client_start (const char *name, const char *const *args)
{
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  /* stdin is /dev/null, said explicitly: under prove the test's own fd 0 is
   * closed, one of our pipes can take that number, and a child that
   * inherited it read another child's output as its --login password.
   * And fd 0 is kept taken here: were it free, the /dev/null opened for the
   * child would itself get number 0, the child's dup2 (0, 0) would leave its
   * close-on-exec flag set, and the client would start with no stdin at all;
   * the next file it opened became fd 0 and was read as the password (seen as
   * exit 5 instead of 1 in password-file-checks under `make check`). */
  if (fcntl (STDIN_FILENO, F_GETFD) == -1 && errno == EBADF)
    {
      int fd = open ("/dev/null", O_RDONLY);
      g_assert_cmpint (fd, ==, STDIN_FILENO);
    }
  g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  return tv_test_client_spawn (name, launcher, args);
}

static gboolean
tv_test_client_done_ (gpointer data)
{
  TvTestClient *c = data;
  return c->exited && c->out_eof && c->err_done;
}

/* tv_test_client_wait:
 * Iterates the main loop until the child exited and its pipes are drained.
 * Returns: TRUE; FALSE after @timeout_ms (the child keeps running). */
static G_GNUC_UNUSED gboolean
tv_test_client_wait (TvTestClient *c, guint timeout_ms)
{
  gboolean ok = tv_test_wait_until (tv_test_client_done_, c, timeout_ms);

  if (ok)
    g_test_message ("%s exit status %d; stderr:\n%s", c->name, c->status, c->err_text);
  return ok;
}

/* Like tv_test_client_wait, but a child still running after @timeout_ms is
 * killed and fails the test. */
static G_GNUC_UNUSED void
tv_test_client_wait_exit (TvTestClient *c, guint timeout_ms)
{
  if (tv_test_client_wait (c, timeout_ms))
    return;
  g_subprocess_force_exit (c->proc);
  g_error ("%s did not exit within %u ms; stdout so far:\n%s", c->name, timeout_ms, c->out_text->str);
}

/* Returns: how many stdout lines so far start with @prefix. */
static G_GNUC_UNUSED guint
tv_test_client_count_lines (TvTestClient *c, const char *prefix)
{
  guint n = 0;
  g_auto (GStrv) lines = g_strsplit (c->out_text->str, "\n", -1);

  for (char **l = lines; *l != NULL; l++)
    if (g_str_has_prefix (*l, prefix))
      n++;
  return n;
}

typedef struct {
  TvTestClient *c;
  const char *prefix;
  guint count;
} TvTestClientLineWait;

static gboolean
tv_test_client_has_lines_ (gpointer data)
{
  TvTestClientLineWait *w = data;
  return tv_test_client_count_lines (w->c, w->prefix) >= w->count || w->c->out_eof;
}

/* tv_test_client_wait_lines:
 * Waits until stdout has @count lines starting with @prefix.
 * Returns: TRUE; FALSE on timeout or when the child closed stdout (exited) first. */
static G_GNUC_UNUSED gboolean
tv_test_client_wait_lines (TvTestClient *c, const char *prefix, guint count, guint timeout_ms)
{
  TvTestClientLineWait w = { c, prefix, count };

  tv_test_wait_until (tv_test_client_has_lines_, &w, timeout_ms);
  return tv_test_client_count_lines (c, prefix) >= count;
}

static G_GNUC_UNUSED void
tv_test_client_signal (TvTestClient *c, int signum)
{
  g_subprocess_send_signal (c->proc, signum);
}

/* Kills the child if still running, waits for it, and frees. NULL accepted. */
static G_GNUC_UNUSED void
tv_test_client_free (TvTestClient *c)
{
  if (c == NULL)
    return;
  if (!c->exited)
    {
      g_subprocess_force_exit (c->proc);
      tv_test_wait_until (tv_test_client_done_, c, 10000);
    }
  g_cancellable_cancel (c->cancel);
  /* Let the cancelled reads complete before their user data goes away. */
  while (!(c->out_eof && c->err_done && c->exited))
    g_main_context_iteration (NULL, TRUE);
  g_object_unref (c->cancel);
  g_object_unref (c->out);
  g_object_unref (c->proc);
  g_string_free (c->out_text, TRUE);
  g_free (c->err_text);
  g_free (c->name);
  g_free (c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvTestClient, tv_test_client_free)

/* tv_test_client_run:
 * Runs the client to completion (fails the test after @timeout_ms).
 * Returns: (transfer full) the exited child, status in ->status. */
static G_GNUC_UNUSED TvTestClient *
tv_test_client_run (const char *name, const char *const *args, guint timeout_ms)
{
  TvTestClient *c = tv_test_client_start (name, args);
  tv_test_client_wait_exit (c, timeout_ms);
  return c;
}

/* tv_test_client_load_stats:
 * Returns: (transfer full) the JSON object written by --stats-json at @path;
 * fails the test if it is missing or not an object. */
static G_GNUC_UNUSED JsonObject *
tv_test_client_load_stats (const char *path)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (root != NULL && JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

/* ---- consults for the doctor's queue (--login tests) ---------------------------- */

/* tv_test_password_file:
 * Writes @password to a file of mode @mode in the test's directory.
 * Returns: (transfer full) its path; fails the test when it cannot. */
static G_GNUC_UNUSED char *
tv_test_password_file (const char *name, const char *password, int mode)
{
  g_autofree char *path = g_build_filename (tv_test_tmpdir (), name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents_full (path, password, -1, G_FILE_SET_CONTENTS_NONE, mode, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
  return g_steal_pointer (&path);
}

/* tv_test_book_now: books consult @id for the two users, starting now (15
 * minutes long), so it is on the doctor's dashboard today. */
static G_GNUC_UNUSED void
tv_test_book_now (const char *dir, const char *id, const char *doctor_id, const char *patient_id)
{
  gint64 now = g_get_real_time ();
  g_autofree char *sql = g_strdup_printf (
    "UPDATE consults SET doctor_id = '%s', patient_id = '%s', scheduled_start = %" G_GINT64_FORMAT
    ", scheduled_end = %" G_GINT64_FORMAT " WHERE id = '%s'",
    doctor_id, patient_id, now, now + (gint64) 900 * G_USEC_PER_SEC, id);
  tv_test_store_exec (dir, sql);
}

/* For tv_test_wait_until (tv_test_consult_has_status, &w, ms): the consult
 * @id in the store of @dir has @status. */
typedef struct {
  const char *dir;
  const char *id;
  TvConsultStatus status;
} TvTestStatusWait;

static G_GNUC_UNUSED gboolean
tv_test_consult_has_status (gpointer data)
{
  TvTestStatusWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == w->status;
}

/* ---- a headless party of a real call ---------------------------------------- */

/* tv_test_client_start_headless:
 * Starts televisit-client for @srv with @token as a headless party sending
 * test media at 320x240 over loopback ICE (--headless --test-media
 * --ice-address 127.0.0.1), followed by @extra (NULL-terminated, may be NULL:
 * e.g. --duration, --stats-json, the doctor's facts).
 * Returns: (transfer full) the running child. */
static G_GNUC_UNUSED TvTestClient *
tv_test_client_start_headless (TvTestServer *srv, const char *name, const char *token, const char *const *extra)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  const char *base[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--headless", "--test-media", "--ice-address", "127.0.0.1", "--video-size", "320x240",
                         "--token", token, NULL };
  g_strv_builder_addv (b, base);
  if (extra != NULL)
    g_strv_builder_addv (b, (const char **) extra);
  g_auto (GStrv) args = g_strv_builder_end (b);
  return tv_test_client_start (name, (const char *const *) args);
}

/* tv_test_client_assert_decoded:
 * Checks the --stats-json file at @path of a party whose call connected: its
 * role and consult, media_connected, and at least @min_video video frames and
 * @min_audio audio buffers decoded from the peer. Fails the test otherwise. */
static G_GNUC_UNUSED void
tv_test_client_assert_decoded (const char *path, const char *role, const char *consult_id, gint64 min_video,
                               gint64 min_audio)
{
  g_autoptr (JsonObject) st = tv_test_client_load_stats (path);
  gint64 video = json_object_get_int_member (st, "video_frames_decoded");
  gint64 audio = json_object_get_int_member (st, "audio_buffers_decoded");

  g_test_message ("%s decoded %" G_GINT64_FORMAT " video frames, %" G_GINT64_FORMAT " audio buffers", role, video,
                  audio);
  g_assert_cmpstr (json_object_get_string_member (st, "role"), ==, role);
  g_assert_cmpstr (json_object_get_string_member (st, "consult"), ==, consult_id);
  g_assert_true (json_object_get_boolean_member (st, "media_connected"));
  g_assert_cmpint (video, >=, min_video);
  g_assert_cmpint (audio, >=, min_audio);
}
