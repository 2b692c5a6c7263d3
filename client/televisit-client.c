/* televisit-client.c — the desktop client: join a consult and run the video call.
 *
 * main() only wires things together: parse and validate the command line
 * (tv-client-options), check the GStreamer plugins, run one TvClientSession on
 * the process's single GMainLoop, turn SIGINT/SIGTERM into a clean leave, and
 * write --stats-json at the end. The exit status is the session's outcome (see
 * --help, EXIT STATUS). Doctor mode (--login): log in over HTTPS first
 * (tv-client-login), run sessions that show the queue one after another (back
 * to the queue after each call unless --once), log out at the end. --gui:
 * the same session in the desktop window (tv-gtk-app). Main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "client/tv-client-login.h"
#include "client/tv-client-options.h"
#include "client/tv-client-session.h"
#include "client/tv-gtk-app.h"
#include "media/tv-media.h"

typedef struct {
  GMainLoop *loop;
  TvClientSession *session;
  const TvClientOptions *opts;
  int exit_code;
  char *exit_reason;
  guint signals;   /* how many SIGINT/SIGTERM so far */
} App;

static GLogLevelFlags log_threshold = G_LOG_LEVEL_MESSAGE;

/* Filters by -v count, then hands over to GLib's default writer (which prints
 * info/debug too because debug output was enabled in main). */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & G_LOG_LEVEL_MASK) > log_threshold && !(level & G_LOG_FLAG_FATAL))
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
write_stats (App *app)
{
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;

  if (app->opts->stats_json == NULL || app->session == NULL)
    return;
  json = tv_client_session_stats_json (app->session);
  if (!g_file_set_contents (app->opts->stats_json, json, -1, &error))
    g_printerr ("televisit-client: cannot write --stats-json: %s\n", error->message);
}

static void
on_done (TvClientSession *session, TvClientExitCode code, const char *reason, gpointer user_data)
{
  App *app = user_data;

  app->exit_code = code;
  g_free (app->exit_reason);
  app->exit_reason = g_strdup (reason);
  write_stats (app);
  g_main_loop_quit (app->loop);
}

static gboolean
on_signal (gpointer user_data)
{
  App *app = user_data;

  app->signals++;
  if (app->signals == 1)
    g_message ("interrupted: leaving the consult");
  /* The second signal makes the session stop waiting for the server. */
  if (app->session != NULL)
    tv_client_session_leave (app->session, "signal");
  return G_SOURCE_CONTINUE;
}

/* Reads the password for --login from stdin (no --password-file): one line,
 * read byte by byte so nothing after it (manual admission choices) is
 * swallowed by a buffer; echo is off while a terminal is typing it.
 * Returns: (transfer full) the password, or NULL with a message printed. */
static char *
read_password_stdin (void)
{
  GString *pw = g_string_new (NULL);
  struct termios old, quiet;
  gboolean tty = isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &old) == 0;
  gboolean line_end = FALSE;
  char c;

  if (tty)
    {
      g_printerr ("Password: ");
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
  while (read (STDIN_FILENO, &c, 1) == 1)
    {
      if (c == '\n')
        {
          line_end = TRUE;
          break;
        }
      if (pw->len <= TV_CLIENT_MAX_PASSWORD_BYTES)
        g_string_append_c (pw, c);
    }
  if (tty)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
      g_printerr ("\n");
    }
  if (pw->len > 0 && pw->str[pw->len - 1] == '\r')
    g_string_truncate (pw, pw->len - 1);
  if (pw->len == 0 || pw->len > TV_CLIENT_MAX_PASSWORD_BYTES || strlen (pw->str) != pw->len)
    {
      g_printerr ("televisit-client: --login: no password on stdin (one line of 1 to %d bytes%s)\n",
                  TV_CLIENT_MAX_PASSWORD_BYTES, line_end ? "" : "; or use --password-file");
      memset (pw->str, 0, pw->len);
      g_string_free (pw, TRUE);
      return NULL;
    }
  return g_string_free (pw, FALSE);
}

/* Ends the process once media may be initialised. GStreamer's DTLS element
 * generates its certificate on a background thread (tv_media_prewarm); plain
 * exit() runs OpenSSL's cleanup under that thread's feet and crashed about one
 * run in ten when a join was refused within milliseconds. Everything we own is
 * written and flushed by now, so skip the exit handlers. */
static G_GNUC_NORETURN void
leave_process (int code)
{
  fflush (stdout);
  fflush (stderr);
  _exit (code);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvClientOptions) opts = NULL;
  TvClientSessionConfig cfg = { 0 };
  App app = { 0 };
  guint sigint_id, sigterm_id;
  char *api_session = NULL, *password = NULL;
  gboolean again;

  /* Started with fd 0, 1 or 2 closed (a careless parent), the next files we
   * open would get those numbers: a library's cache file on fd 0 would be
   * read as the --login password. Keep them taken by /dev/null. */
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
    if (fcntl (fd, F_GETFD) == -1 && errno == EBADF && open ("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY) != fd)
      return TV_CLIENT_EXIT_USAGE;

  opts = tv_client_options_parse (argc, argv, &error);
  if (opts == NULL)
    {
      g_printerr ("televisit-client: %s\nTry 'televisit-client --help' for more information.\n", error->message);
      return TV_CLIENT_EXIT_USAGE;
    }
  if (opts->show_help)
    {
      fputs (tv_client_options_help (), stdout);
      return TV_CLIENT_EXIT_OK;
    }
  if (opts->show_version)
    {
      puts (tv_client_options_version ());
      return TV_CLIENT_EXIT_OK;
    }

  if (opts->verbosity >= 1)
    log_threshold = opts->verbosity >= 2 ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_INFO;
  g_log_set_debug_enabled (TRUE);
  /* stdout carries the progress events only; every log line goes to stderr. */
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);
  /* A peer that vanishes must not kill us with SIGPIPE; write errors are handled. */
  signal (SIGPIPE, SIG_IGN);

  if (opts->insecure)
    g_warning ("--insecure: the server certificate is NOT checked; anyone on the path can read the consult");

  cfg.server_url = opts->server_url;
  cfg.token = opts->token;
  cfg.ca_file = opts->ca_file;
  cfg.insecure = opts->insecure;
  cfg.media.test_media = opts->test_media;
  cfg.media.headless = opts->headless;
  cfg.media.stun_server = opts->stun_url;
  cfg.media.turn_server = opts->turn_url;
  cfg.media.local_addresses = (const char *const *) opts->ice_addresses;
  cfg.media.latency_ms = opts->latency_ms;
  cfg.media.width = (int) opts->width;
  cfg.media.height = (int) opts->height;
  cfg.media.framerate = (int) opts->framerate;
  cfg.media.video_bitrate_kbps = opts->video_bitrate_kbps;
  cfg.media.video_file = opts->video_file;
  cfg.media.audio_file = opts->audio_file;
  cfg.duration_s = opts->duration_s;
  cfg.peer_timeout_s = opts->peer_timeout_s;
  cfg.media_timeout_s = opts->media_timeout_s;
  cfg.reconnect_window_ms = opts->reconnect_window_s * 1000;
  cfg.end_on_exit = opts->end_on_exit;
  cfg.admit_mode = opts->admit_mode;
  cfg.admit_after_ms = opts->admit_after_s * 1000;
  cfg.facts_modality = opts->modality;
  cfg.facts_audio_only_reason = opts->audio_only_reason;
  cfg.facts_patient_location = opts->patient_location;
  cfg.facts_patient_status = opts->new_patient ? "new" : NULL;
  cfg.chat = (const char *const *) opts->chat;

  /* The desktop window asks for what the command line does not give. */
  if (opts->gui)
    {
      if (!tv_media_check_plugins (&cfg.media, &error))
        {
          g_printerr ("televisit-client: %s\n", error->message);
          leave_process (TV_CLIENT_EXIT_MEDIA_FAILED);
        }
      tv_media_prewarm ();
      leave_process (tv_gtk_app_run (opts, &cfg));
    }

  /* --login without --password-file: the password is the first line of
   * stdin, read before anything slow so a missing one fails at once. */
  if (opts->login != NULL)
    {
      password = opts->password != NULL ? g_strdup (opts->password) : read_password_stdin ();
      if (password == NULL)
        return TV_CLIENT_EXIT_USAGE;
    }

  /* Fail before connecting when a plugin is missing: the message names the package. */
  if (!tv_media_check_plugins (&cfg.media, &error))
    {
      g_printerr ("televisit-client: %s\n", error->message);
      leave_process (TV_CLIENT_EXIT_MEDIA_FAILED);
    }

  /* Also build (not start) one call now, so a missing camera, microphone or
   * display is reported before connecting, not after waiting for the peer. */
  {
    static const TvMediaCallbacks probe_callbacks = { NULL };
    TvMediaCall *probe = tv_media_call_new (&cfg.media, &probe_callbacks, NULL, &error);
    if (probe == NULL)
      {
        g_printerr ("televisit-client: %s\n", error->message);
        leave_process (TV_CLIENT_EXIT_MEDIA_FAILED);
      }
    tv_media_call_free (probe);
  }
  /* Media ready before joining: the DTLS certificate (0.1-0.6 s of RSA key
   * generation) must not sit on the path between "paired" and the first
   * frame, where the other party would wait for it too. */
  if (!tv_media_prewarm_wait (5000))
    g_message ("DTLS certificate still being generated after 5 s; joining anyway");

  /* Doctor mode: an API session instead of a join token. */
  if (opts->login != NULL)
    {
      TvClientExitCode code = TV_CLIENT_EXIT_OK;
      api_session = tv_client_login (opts->server_url, opts->ca_file, opts->insecure, opts->login, password, &code,
                                     &error);
      memset (password, 0, strlen (password));
      g_free (password);
      if (api_session == NULL)
        {
          g_printerr ("televisit-client: %s\n", error->message);
          printf ("exit code=%d reason=%s\n", code, code == TV_CLIENT_EXIT_JOIN_REFUSED ? "login-refused"
                                                                                        : "unreachable");
          leave_process (code);
        }
      printf ("logged in\n");
      fflush (stdout);
      cfg.api_session = api_session;
      cfg.token = NULL;
    }

  app.opts = opts;
  app.loop = g_main_loop_new (NULL, FALSE);
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &app);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &app);
  do
    {
      app.session = tv_client_session_new (&cfg, on_done, &app, &error);
      if (app.session == NULL)
        {
          g_printerr ("televisit-client: cannot start: %s\n", error->message);
          app.exit_code = TV_CLIENT_EXIT_USAGE;
          break;
        }
      tv_client_session_start (app.session);
      g_main_loop_run (app.loop);
      tv_client_session_free (app.session);
      app.session = NULL;
      /* Doctor mode: after a call that ended normally, the next patient. */
      again = api_session != NULL && !opts->once && app.exit_code == TV_CLIENT_EXIT_OK && app.signals == 0
              && g_strcmp0 (app.exit_reason, "signal") != 0;
      if (again)
        {
          printf ("back to the queue\n");
          fflush (stdout);
        }
    }
  while (again);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_main_loop_unref (app.loop);
  if (api_session != NULL)
    {
      g_autoptr (GError) logout_error = NULL;
      if (tv_client_logout (opts->server_url, opts->ca_file, opts->insecure, api_session, &logout_error))
        printf ("logged out\n");
      else
        g_message ("logout failed (the session expires on its own): %s", logout_error->message);
      memset (api_session, 0, strlen (api_session));
      g_free (api_session);
    }
  g_free (app.exit_reason);
  leave_process (app.exit_code);
}
