/* tv-test-fixture.c — shared fixtures for server, client and end-to-end tests.
 *
 * Temp dirs and spawned servers are recorded in small static tables so that an
 * abort (failed assertion), a crash or the watchdog can still clean up from a
 * signal handler: kill the servers, remove the dirs, then die as before.
 * Servers are also started with PR_SET_PDEATHSIG so they never outlive us.
 *
 * Thread: the test's main thread; waits iterate the default GMainContext.
 */
#define G_LOG_DOMAIN "tv-test"

#include "tests/common/tv-test-fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/tv-join-link.h"
#include "server/tv-store-audit.h"
#include "signaling/tv-sig-message.h"

#define MAX_TRACKED 256
#define SERVER_READY_TIMEOUT_MS 20000
#define PEER_OPEN_TIMEOUT_MS 5000

/* ---- cleanup registry (read by signal handlers: plain arrays only) -------- */

static char *tracked_dirs[MAX_TRACKED];
static volatile sig_atomic_t n_tracked_dirs;
static volatile pid_t tracked_pids[MAX_TRACKED];
static char watchdog_what[256];

static void
track_pid (pid_t pid)
{
  for (int i = 0; i < MAX_TRACKED; i++)
    if (tracked_pids[i] == 0) {
      tracked_pids[i] = pid;
      return;
    }
}

static void
untrack_pid (pid_t pid)
{
  for (int i = 0; i < MAX_TRACKED; i++)
    if (tracked_pids[i] == pid)
      tracked_pids[i] = 0;
}

/* Recursive removal without allocation beyond a path buffer; also used from
 * the crash handler ("as far as possible"). */
static void
remove_tree (const char *path, int depth)
{
  DIR *d;
  struct dirent *e;
  char child[4096];

  if (depth > 16)
    return;
  d = opendir (path);
  if (d != NULL) {
    while ((e = readdir (d)) != NULL) {
      struct stat st;

      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      if ((size_t) snprintf (child, sizeof child, "%s/%s", path, e->d_name) >= sizeof child)
        continue;
      if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
        remove_tree (child, depth + 1);
      else
        unlink (child);
    }
    closedir (d);
  }
  rmdir (path);
}

static gboolean keep_tmp; /* TV_TEST_KEEP_TMP=1: leave temp dirs for a post-mortem */

static void
cleanup_all (void)
{
  for (int i = 0; i < MAX_TRACKED; i++) {
    pid_t pid = tracked_pids[i];

    if (pid > 0) {
      kill (pid, SIGKILL);
      tracked_pids[i] = 0;
    }
  }
  for (int i = 0; i < n_tracked_dirs && !keep_tmp; i++)
    if (tracked_dirs[i] != NULL)
      remove_tree (tracked_dirs[i], 0);
  n_tracked_dirs = 0;
}

static void
fatal_signal_handler (int sig)
{
  if (sig == SIGALRM) {
    static const char prefix[] = "\n# WATCHDOG: test stuck: ";

    if (write (STDERR_FILENO, prefix, sizeof prefix - 1) < 0 ||
        write (STDERR_FILENO, watchdog_what, strlen (watchdog_what)) < 0 ||
        write (STDERR_FILENO, "\n", 1) < 0) {
      /* nothing more we can do */
    }
    cleanup_all ();
    signal (SIGABRT, SIG_DFL);
    abort ();
  }
  cleanup_all ();
  signal (sig, SIG_DFL);
  raise (sig);
}

void
tv_test_init (int *argc, char ***argv)
{
  static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGALRM, SIGTERM, SIGINT };
  struct sigaction sa;

  g_test_init (argc, argv, NULL);
  keep_tmp = g_strcmp0 (g_getenv ("TV_TEST_KEEP_TMP"), "1") == 0;
  signal (SIGPIPE, SIG_IGN);
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = fatal_signal_handler;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (gsize i = 0; i < G_N_ELEMENTS (sigs); i++)
    sigaction (sigs[i], &sa, NULL);
  atexit (cleanup_all);
}

const char *
tv_test_build_dir (void)
{
  const char *b = g_getenv ("TV_BUILD_DIR");

  return b != NULL && b[0] != '\0' ? b : "build";
}

const char *
tv_test_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir;

  g_assert_cmpint (n_tracked_dirs, <, MAX_TRACKED);
  dir = g_dir_make_tmp ("televisit-test-XXXXXX", &error);
  g_assert_no_error (error);
  tracked_dirs[n_tracked_dirs] = dir;
  n_tracked_dirs++;
  return dir;
}

/* ---- waiting ------------------------------------------------------------ */

static gboolean
set_flag_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE; /* only wakes the loop so the condition is re-checked */
}

gboolean
tv_test_wait_until (GSourceFunc cond, gpointer data, guint timeout_ms)
{
  gboolean timed_out = FALSE;
  GSource *timeout;
  GSource *tick;
  gboolean ok;

  if (cond (data))
    return TRUE;
  timeout = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timeout, set_flag_cb, &timed_out, NULL);
  g_source_attach (timeout, NULL);
  tick = g_timeout_source_new (10);
  g_source_set_callback (tick, tick_cb, NULL, NULL);
  g_source_attach (tick, NULL);

  while (!(ok = cond (data)) && !timed_out)
    g_main_context_iteration (NULL, TRUE);

  g_source_destroy (tick);
  g_source_unref (tick);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  return ok;
}

void
tv_test_watchdog_start (guint seconds, const char *what)
{
  g_strlcpy (watchdog_what, what != NULL ? what : "(unnamed)", sizeof watchdog_what);
  alarm (seconds);
}

void
tv_test_watchdog_stop (void)
{
  alarm (0);
}

/* ---- the server ---------------------------------------------------------- */

struct _TvTestServer {
  GSubprocess *proc;
  GCancellable *cancel;
  GDataInputStream *out;
  char *data_dir;
  char *cert_path;
  char *stderr_path;
  char *url;
  GString *out_text;    /* every stdout line so far, each ending in \n */
  guint16 port;
  pid_t pid;
  gboolean exited;
  int status;           /* exit status or 128+signal */
};

static void
child_setup (gpointer data)
{
  /* Never outlive the test binary, whatever way it dies. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void server_read_line (TvTestServer *server);

static void
server_line_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *line = NULL;
  TvTestServer *server;
  gsize len = 0;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (src), res, &len, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return; /* the server struct may be gone */
  server = data;
  if (line == NULL)
    return; /* EOF or error: the process is ending */
  g_string_append (server->out_text, line);
  g_string_append_c (server->out_text, '\n');
  if (server->url == NULL && g_str_has_prefix (line, "listening on ")) {
    const char *url = line + strlen ("listening on ");
    g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

    if (uri != NULL && g_strcmp0 (g_uri_get_scheme (uri), "wss") == 0 && g_uri_get_port (uri) > 0 &&
        g_uri_get_port (uri) < 65536 && g_str_has_suffix (url, "/")) {
      server->url = g_strdup (url);
      server->port = (guint16) g_uri_get_port (uri);
    } else {
      g_test_message ("server printed a malformed readiness line: %s", line);
    }
  } else {
    g_test_message ("server stdout: %s", line);
  }
  server_read_line (server);
}

static void
server_read_line (TvTestServer *server)
{
  g_data_input_stream_read_line_async (server->out, G_PRIORITY_DEFAULT, server->cancel, server_line_cb, server);
}

static void
server_wait_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;
  GSubprocess *proc = G_SUBPROCESS (src);
  TvTestServer *server;

  if (!g_subprocess_wait_finish (proc, res, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  server = data;
  untrack_pid (server->pid);
  server->exited = TRUE;
  if (g_subprocess_get_if_exited (proc))
    server->status = g_subprocess_get_exit_status (proc);
  else if (g_subprocess_get_if_signaled (proc))
    server->status = 128 + g_subprocess_get_term_sig (proc);
  else
    server->status = 255;
}

static gboolean
server_ready_or_gone (gpointer data)
{
  TvTestServer *server = data;

  return server->url != NULL || server->exited;
}

static gboolean
server_gone (gpointer data)
{
  return ((TvTestServer *) data)->exited;
}

TvTestServer *
tv_test_server_start (const char *data_dir, const char *const *extra_args)
{
  return tv_test_server_start_full (data_dir, extra_args, NULL);
}

TvTestServer *
tv_test_server_start_full (const char *data_dir, const char *const *extra_args, const char *const *env)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  static guint counter;
  static const char *stderr_dir;
  TvTestServer *server;

  g_return_val_if_fail (data_dir != NULL, NULL);

  server = g_new0 (TvTestServer, 1);
  server->data_dir = g_strdup (data_dir);
  server->cert_path = g_build_filename (data_dir, "tls", "cert.pem", NULL);
  /* Outside the data dir, so the server's own files are all that is in there;
   * one dir for all the servers of this test binary. */
  if (stderr_dir == NULL)
    stderr_dir = tv_test_tmpdir ();
  server->stderr_path = g_strdup_printf ("%s/server-%u.stderr", stderr_dir, ++counter);
  server->cancel = g_cancellable_new ();
  server->out_text = g_string_new (NULL);

  g_ptr_array_add (argv, g_build_filename (tv_test_build_dir (), "televisit-server", NULL));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_strdup (data_dir));
  g_ptr_array_add (argv, g_strdup ("--listen"));
  g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
  g_ptr_array_add (argv, g_strdup ("--port"));
  g_ptr_array_add (argv, g_strdup ("0"));
  for (gsize i = 0; extra_args != NULL && extra_args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (extra_args[i]));
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_stderr_file_path (launcher, server->stderr_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  for (gsize i = 0; env != NULL && env[i] != NULL; i++) {
    g_auto (GStrv) kv = g_strsplit (env[i], "=", 2);

    g_assert_nonnull (kv[0]);
    g_assert_nonnull (kv[1]);
    g_subprocess_launcher_setenv (launcher, kv[0], kv[1], TRUE);
  }
  server->proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  if (server->proc == NULL)
    g_error ("cannot start %s: %s (built with make B=... ?)", (char *) argv->pdata[0], error->message);
  server->pid = (pid_t) atoi (g_subprocess_get_identifier (server->proc));
  track_pid (server->pid);
  g_test_message ("started %s (pid %d), stderr in %s", (char *) argv->pdata[0], server->pid,
                  server->stderr_path);

  server->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server->proc));
  server_read_line (server);
  g_subprocess_wait_async (server->proc, server->cancel, server_wait_cb, server);

  if (!tv_test_wait_until (server_ready_or_gone, server, SERVER_READY_TIMEOUT_MS) || server->url == NULL) {
    g_autofree char *err = tv_test_server_read_stderr (server);
    g_autofree char *msg = g_strdup_printf ("televisit-server did not print \"listening on wss://HOST:PORT/\" "
                                            "(%s); its stderr:\n%s",
                                            server->exited ? "it exited" : "timeout", err);

    tv_test_server_kill (server);
    g_assertion_message (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, msg);
  }
  return server;
}

const char *
tv_test_server_get_url (TvTestServer *server)
{
  return server->url;
}

guint16
tv_test_server_get_port (TvTestServer *server)
{
  return server->port;
}

const char *
tv_test_server_get_data_dir (TvTestServer *server)
{
  return server->data_dir;
}

const char *
tv_test_server_get_cert_path (TvTestServer *server)
{
  return server->cert_path;
}

const char *
tv_test_server_get_stderr_path (TvTestServer *server)
{
  return server->stderr_path;
}

GPid
tv_test_server_get_pid (TvTestServer *server)
{
  return server->exited ? 0 : server->pid;
}

gboolean
tv_test_server_is_running (TvTestServer *server)
{
  return !server->exited;
}

char *
tv_test_server_read_stderr (TvTestServer *server)
{
  char *contents = NULL;

  if (!g_file_get_contents (server->stderr_path, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

const char *
tv_test_server_get_stdout (TvTestServer *server)
{
  return server->out_text->str;
}

int
tv_test_server_stop (TvTestServer *server, guint timeout_ms)
{
  if (!server->exited) {
    g_subprocess_send_signal (server->proc, SIGTERM);
    if (!tv_test_wait_until (server_gone, server, timeout_ms)) {
      g_test_message ("server pid %d ignored SIGTERM for %u ms; killing it", server->pid, timeout_ms);
      tv_test_server_kill (server);
      return -1;
    }
  }
  return server->status;
}

void
tv_test_server_kill (TvTestServer *server)
{
  if (server->exited)
    return;
  g_subprocess_force_exit (server->proc);
  /* SIGKILL cannot be ignored; the reap follows promptly. */
  if (!tv_test_wait_until (server_gone, server, 10000))
    g_error ("server pid %d survived SIGKILL", server->pid);
}

void
tv_test_server_free (TvTestServer *server)
{
  if (server == NULL)
    return;
  tv_test_server_kill (server);
  g_cancellable_cancel (server->cancel);
  g_clear_object (&server->cancel);
  g_clear_object (&server->out);
  g_clear_object (&server->proc);
  g_free (server->data_dir);
  g_free (server->cert_path);
  g_free (server->stderr_path);
  g_string_free (server->out_text, TRUE);
  g_free (server->url);
  g_free (server);
}

TvWsHub *
tv_test_hub_new (TvTestServer *server)
{
  g_autoptr (GError) error = NULL;
  TvWsHub *hub = tv_ws_hub_new (server->cert_path, FALSE, &error);

  g_assert_no_error (error);
  g_assert_nonnull (hub);
  return hub;
}

/* ---- the store ----------------------------------------------------------- */

TvStore *
tv_test_store_open (const char *data_dir)
{
  g_autofree char *path = g_build_filename (data_dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

gint64
tv_test_assert_audit_chain (TvStore *store)
{
  gint64 n = 0, broken = -1;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_audit_verify (store, &n, &broken, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (broken, ==, 0);
  return n;
}

/* The store of @data_dir, opened as the server and televisitctl open it: with
 * DATA_DIR/join-link.key attached, so the join links of consults made here can
 * be shown again (GET /api/v1/consults/{id}/join-link) like booked ones. */
static TvStore *
open_store (const char *data_dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (data_dir, "televisit.db", NULL);
  TvStore *store = tv_store_open (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (store);
  tv_join_link_attach (store, data_dir, &error);
  g_assert_no_error (error);
  return store;
}

void
tv_test_create_consult (const char *data_dir, const char *doctor, const char *patient,
                        gint64 expires_in_s, char **id, char **doctor_token, char **patient_token)
{
  g_autoptr (TvStore) store = open_store (data_dir);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) consult = NULL;
  g_autofree char *dtok = NULL;
  g_autofree char *ptok = NULL;
  gint64 real_now = g_get_real_time ();
  gint64 expires = real_now + expires_in_s * G_USEC_PER_SEC;
  /* The store only creates tokens that are valid at creation, so an expired one
   * is made by creating the consult an hour before its expiry. */
  gint64 now = MIN (real_now, expires - (gint64) 3600 * G_USEC_PER_SEC);

  tv_store_consult_create (store, doctor, patient, now, expires, now, &consult, &dtok, &ptok, &error);
  g_assert_no_error (error);
  g_assert_nonnull (consult);
  if (id != NULL)
    *id = g_strdup (consult->id);
  if (doctor_token != NULL)
    *doctor_token = g_steal_pointer (&dtok);
  if (patient_token != NULL)
    *patient_token = g_steal_pointer (&ptok);
}

TvConsult *
tv_test_get_consult (const char *data_dir, const char *id)
{
  g_autoptr (TvStore) store = open_store (data_dir);
  g_autoptr (GError) error = NULL;
  TvConsult *consult = NULL;

  tv_store_consult_get (store, id, &consult, &error);
  g_assert_no_error (error);
  g_assert_nonnull (consult);
  return consult;
}

GPtrArray *
tv_test_get_participation (const char *data_dir, const char *id)
{
  g_autoptr (TvStore) store = open_store (data_dir);
  g_autoptr (GError) error = NULL;
  GPtrArray *log = tv_store_participation_list (store, id, &error);

  g_assert_no_error (error);
  g_assert_nonnull (log);
  return log;
}

void
tv_test_end_consult (const char *data_dir, const char *id, const char *reason)
{
  g_autoptr (TvStore) store = open_store (data_dir);
  g_autoptr (GError) error = NULL;

  tv_store_consult_complete (store, id, reason, g_get_real_time (), &error);
  g_assert_no_error (error);
}

/* ---- the peer ------------------------------------------------------------ */

struct _TvTestPeer {
  TvWsClient *ws;
  char *name;
  GQueue inbox;          /* JsonObject*, oldest first */
  gboolean opened;
  gboolean closed;
  int close_code;
  GError *close_error;
  gint64 next_ping_id;
};

static JsonObject *
unparsable_message (const char *data, gsize len, const char *why)
{
  JsonObject *obj = json_object_new ();

  /* Shows up in "expected X, got ..." failures, with the raw text. */
  json_object_set_string_member (obj, "type", "<unparsable>");
  json_object_set_string_member (obj, "why", why);
  json_object_set_string_member (obj, "raw", g_utf8_validate (data, (gssize) len, NULL) ? data : "<not UTF-8>");
  return obj;
}

static void
peer_opened (TvWsClient *ws, gpointer data)
{
  ((TvTestPeer *) data)->opened = TRUE;
}

static void
peer_message (TvWsClient *ws, const char *data, gsize len, gpointer user_data)
{
  TvTestPeer *peer = user_data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, data, (gssize) len, &error)) {
    g_queue_push_tail (&peer->inbox, unparsable_message (data, len, error->message));
    return;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_queue_push_tail (&peer->inbox, unparsable_message (data, len, "not a JSON object"));
    return;
  }
  g_queue_push_tail (&peer->inbox, json_object_ref (json_node_get_object (root)));
}

static void
peer_closed (TvWsClient *ws, int close_code, const GError *error, gpointer data)
{
  TvTestPeer *peer = data;

  peer->closed = TRUE;
  peer->close_code = close_code;
  if (error != NULL)
    peer->close_error = g_error_copy (error);
}

static const TvWsClientCallbacks peer_callbacks = { peer_opened, peer_message, peer_closed };

TvTestPeer *
tv_test_peer_new (TvWsHub *hub, const char *url, const TvWsConnectOptions *options)
{
  g_autoptr (GError) error = NULL;
  TvTestPeer *peer = g_new0 (TvTestPeer, 1);

  g_queue_init (&peer->inbox);
  peer->name = g_strdup ("peer");
  peer->next_ping_id = g_random_int_range (1000, 1000000) * (gint64) 1000;
  peer->ws = tv_ws_client_connect_full (hub, url, options, &peer_callbacks, peer, &error);
  g_assert_no_error (error);
  return peer;
}

static gboolean
peer_open_or_closed (gpointer data)
{
  TvTestPeer *peer = data;

  return peer->opened || peer->closed;
}

gboolean
tv_test_peer_wait_open (TvTestPeer *peer, guint timeout_ms)
{
  tv_test_wait_until (peer_open_or_closed, peer, timeout_ms);
  return peer->opened && !peer->closed;
}

static void
peer_fail (TvTestPeer *peer, const char *file, int line, const char *format, ...) G_GNUC_PRINTF (4, 5);

static void
peer_fail (TvTestPeer *peer, const char *file, int line, const char *format, ...)
{
  g_autofree char *what = NULL;
  g_autofree char *msg = NULL;
  va_list ap;

  va_start (ap, format);
  what = g_strdup_vprintf (format, ap);
  va_end (ap);
  msg = g_strdup_printf ("%s: %s", peer->name, what);
  g_assertion_message (G_LOG_DOMAIN, file, line, G_STRFUNC, msg);
}

static char *
peer_describe_close (TvTestPeer *peer)
{
  return g_strdup_printf ("connection closed (close code %d%s%s)", peer->close_code,
                          peer->close_error != NULL ? ", " : "",
                          peer->close_error != NULL ? peer->close_error->message : "");
}

TvTestPeer *
tv_test_peer_connect_at (TvWsHub *hub, const char *url, const char *file, int line)
{
  TvTestPeer *peer = tv_test_peer_new (hub, url, NULL);

  if (!tv_test_peer_wait_open (peer, PEER_OPEN_TIMEOUT_MS)) {
    g_autofree char *why = peer->closed ? peer_describe_close (peer) : g_strdup ("timeout");

    peer_fail (peer, file, line, "could not open %s: %s", url, why);
  }
  return peer;
}

void
tv_test_peer_set_name (TvTestPeer *peer, const char *name)
{
  g_free (peer->name);
  peer->name = g_strdup (name);
}

TvWsClient *
tv_test_peer_get_client (TvTestPeer *peer)
{
  return peer->ws;
}

void
tv_test_peer_send_at (TvTestPeer *peer, const char *json, const char *file, int line)
{
  g_autoptr (GError) error = NULL;

  if (peer->ws == NULL || !tv_ws_client_send (peer->ws, json, &error))
    peer_fail (peer, file, line, "cannot send %.80s: %s", json, error != NULL ? error->message : "dropped");
}

void
tv_test_peer_sendf (TvTestPeer *peer, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, format);
  text = g_strdup_vprintf (format, ap);
  va_end (ap);
  tv_test_peer_send_at (peer, text, __FILE__, __LINE__);
}

void
tv_test_peer_send_raw (TvTestPeer *peer, const void *data, gsize len, gboolean binary)
{
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (peer->ws);
  tv_ws_client_send_raw (peer->ws, data, len, binary, &error);
  g_assert_no_error (error);
}

static gboolean
peer_has_message_or_closed (gpointer data)
{
  TvTestPeer *peer = data;

  return !g_queue_is_empty (&peer->inbox) || peer->closed;
}

JsonObject *
tv_test_peer_next (TvTestPeer *peer, guint timeout_ms)
{
  tv_test_wait_until (peer_has_message_or_closed, peer, timeout_ms);
  return g_queue_pop_head (&peer->inbox);
}

guint
tv_test_peer_pending (TvTestPeer *peer)
{
  return g_queue_get_length (&peer->inbox);
}

JsonObject *
tv_test_peer_expect_at (TvTestPeer *peer, const char *type, guint timeout_ms, const char *file, int line)
{
  JsonObject *msg;
  const char *got;

  msg = tv_test_peer_next (peer, timeout_ms > 0 ? timeout_ms : TV_TEST_TIMEOUT_MS);
  if (msg == NULL) {
    g_autofree char *why = peer->closed ? peer_describe_close (peer) : g_strdup ("timeout");

    peer_fail (peer, file, line, "expected \"%s\", got nothing: %s", type, why);
    return NULL;
  }
  got = tv_test_json_str (msg, "type");
  if (g_strcmp0 (got, type) != 0) {
    g_autofree char *text = tv_test_json_to_string (msg);

    peer_fail (peer, file, line, "expected \"%s\", got %s", type, text);
  }
  return msg;
}

JsonObject *
tv_test_peer_expect_error_at (TvTestPeer *peer, int code, gboolean check_ref, const char *ref,
                              const char *file, int line)
{
  JsonObject *msg = tv_test_peer_expect_at (peer, "error", 0, file, line);
  g_autofree char *text = NULL;
  const char *m;

  if (msg == NULL)
    return NULL;
  text = tv_test_json_to_string (msg);
  if (tv_test_json_int (msg, "code", -1) != code)
    peer_fail (peer, file, line, "expected error %d (%s), got %s", code, tv_sig_error_name (code), text);
  m = tv_test_json_str (msg, "message");
  if (m == NULL || m[0] == '\0')
    peer_fail (peer, file, line, "error %d without a message: %s", code, text);
  if (check_ref && g_strcmp0 (tv_test_json_str (msg, "ref"), ref) != 0)
    peer_fail (peer, file, line, "error %d: expected ref %s%s%s, got %s", code, ref != NULL ? "\"" : "",
               ref != NULL ? ref : "absent", ref != NULL ? "\"" : "", text);
  return msg;
}

void
tv_test_peer_sync_at (TvTestPeer *peer, const char *file, int line)
{
  g_autoptr (JsonObject) pong = NULL;
  gint64 id = ++peer->next_ping_id;
  g_autofree char *ping = g_strdup_printf ("{\"type\":\"ping\",\"id\":%" G_GINT64_FORMAT "}", id);

  tv_test_peer_send_at (peer, ping, file, line);
  pong = tv_test_peer_expect_at (peer, "pong", 0, file, line);
  if (pong != NULL && tv_test_json_int (pong, "id", -1) != id) {
    g_autofree char *text = tv_test_json_to_string (pong);

    peer_fail (peer, file, line, "pong for id %" G_GINT64_FORMAT " expected, got %s", id, text);
  }
}

JsonObject *
tv_test_peer_join_at (TvTestPeer *peer, const char *token, const char *role, const char *file, int line)
{
  g_autofree char *join = g_strdup_printf ("{\"type\":\"join\",\"token\":\"%s\"}", token);
  JsonObject *joined;

  tv_test_peer_send_at (peer, join, file, line);
  joined = tv_test_peer_expect_at (peer, "joined", 0, file, line);
  if (joined != NULL && g_strcmp0 (tv_test_json_str (joined, "role"), role) != 0) {
    g_autofree char *text = tv_test_json_to_string (joined);

    peer_fail (peer, file, line, "joined as %s expected, got %s", role, text);
  }
  return joined;
}

static gboolean
peer_is_closed (gpointer data)
{
  return ((TvTestPeer *) data)->closed;
}

gboolean
tv_test_peer_wait_closed (TvTestPeer *peer, guint timeout_ms)
{
  return tv_test_wait_until (peer_is_closed, peer, timeout_ms);
}

gboolean
tv_test_peer_is_open (TvTestPeer *peer)
{
  return peer->opened && !peer->closed;
}

gboolean
tv_test_peer_is_closed (TvTestPeer *peer)
{
  return peer->closed;
}

gboolean
tv_test_peer_was_opened (TvTestPeer *peer)
{
  return peer->opened;
}

int
tv_test_peer_get_close_code (TvTestPeer *peer)
{
  return peer->close_code;
}

const GError *
tv_test_peer_get_close_error (TvTestPeer *peer)
{
  return peer->close_error;
}

void
tv_test_peer_close (TvTestPeer *peer)
{
  if (peer->ws != NULL && !peer->closed)
    tv_ws_client_close (peer->ws);
}

void
tv_test_peer_drop (TvTestPeer *peer)
{
  g_clear_pointer (&peer->ws, tv_ws_client_free);
  peer->closed = TRUE;
}

void
tv_test_peer_free (TvTestPeer *peer)
{
  if (peer == NULL)
    return;
  tv_ws_client_free (peer->ws);
  g_queue_clear_full (&peer->inbox, (GDestroyNotify) json_object_unref);
  g_clear_error (&peer->close_error);
  g_free (peer->name);
  g_free (peer);
}

/* ---- JSON helpers -------------------------------------------------------- */

const char *
tv_test_json_str (JsonObject *obj, const char *name)
{
  JsonNode *n = obj != NULL ? json_object_get_member (obj, name) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

gint64
tv_test_json_int (JsonObject *obj, const char *name, gint64 fallback)
{
  JsonNode *n = obj != NULL ? json_object_get_member (obj, name) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return fallback;
  return json_node_get_int (n);
}

int
tv_test_json_bool (JsonObject *obj, const char *name)
{
  JsonNode *n = obj != NULL ? json_object_get_member (obj, name) : NULL;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return -1;
  return json_node_get_boolean (n) ? 1 : 0;
}

char *
tv_test_json_to_string (JsonObject *obj)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

  json_node_set_object (node, obj);
  return json_to_string (node, FALSE);
}
