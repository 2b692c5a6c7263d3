/* televisit-server.c — main of the Televisit signaling server daemon.
 *
 * Why: parses the configuration, sets up logging (stderr only; stdout carries
 * exactly the one "listening on wss://HOST:PORT/" line), runs the TvServer on
 * one GMainLoop, and turns SIGINT/SIGTERM into a graceful shutdown.
 * Thread: the main thread only; everything runs on its GMainLoop.
 */
#define G_LOG_DOMAIN "tv-server"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <glib.h>
#include <glib-unix.h>

#include "server/tv-config.h"
#include "server/tv-lws-glue.h"
#include "server/tv-server.h"

typedef struct {
  GMainLoop *loop;
  TvServer *server;
  TvServerLogLevel level;
  gboolean stopping;
} App;

static App app;

/* Every log line goes to stderr, filtered by --log-level (G_MESSAGES_DEBUG is
 * not needed). g_log_writer_standard_streams would send info/debug to stdout,
 * which must carry only the readiness line. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  GLogLevelFlags max;
  switch (app.level) {
  case TV_SERVER_LOG_ERROR: max = G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL; break;
  case TV_SERVER_LOG_WARNING: max = G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING; break;
  case TV_SERVER_LOG_INFO:
    max = G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
          G_LOG_LEVEL_INFO;
    break;
  default: max = G_LOG_LEVEL_MASK; break;
  }
  if (!(level & max))
    return G_LOG_WRITER_HANDLED;
  /* One line at a time: the HTTPS router's store writer thread logs too, and
   * g_log_writer_format_fields (GLib 2.74) stamps the time with localtime(),
   * whose struct tm is shared by the whole process (ThreadSanitizer reported
   * the two threads writing it at once: a line could carry the other's time). */
  static GMutex lock;
  g_mutex_lock (&lock);
  char *line = g_log_writer_format_fields (level, fields, n_fields, FALSE);
  fprintf (stderr, "%s\n", line);
  fflush (stderr);
  g_mutex_unlock (&lock);
  g_free (line);
  return G_LOG_WRITER_HANDLED;
}

/* lws needs one descriptor per connection: raise the soft limit towards the
 * hard one so --max-connections is reachable. */
static void
raise_fd_limit (guint max_connections)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return;
  rlim_t want = (rlim_t) max_connections + 64;
  if (rl.rlim_cur >= want)
    return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
    g_warning ("file descriptor limit %lu is below --max-connections %u; raise it (ulimit -n)",
               (unsigned long) rl.rlim_cur, max_connections);
}

static gboolean
on_shutdown_done (gpointer data)
{
  g_main_loop_quit (app.loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer data)
{
  int signum = GPOINTER_TO_INT (data);
  if (app.stopping) {
    g_message ("%s again: quitting now", signum == SIGINT ? "SIGINT" : "SIGTERM");
    g_main_loop_quit (app.loop);
    return G_SOURCE_CONTINUE;
  }
  app.stopping = TRUE;
  g_message ("%s received: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
  tv_server_shutdown (app.server, on_shutdown_done, NULL);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  TvServerConfigAction action = TV_SERVER_CONFIG_RUN;

  app.level = TV_SERVER_LOG_INFO;
  g_log_set_writer_func (log_writer, NULL, NULL);

  TvServerConfig *cfg = tv_server_config_from_args (argc, argv, &action, &error);
  if (!cfg) {
    fprintf (stderr, "televisit-server: %s\n", error->message);
    return 1;
  }
  if (action == TV_SERVER_CONFIG_HELP) {
    g_autofree char *help = tv_server_config_help_text ();
    fputs (help, stdout);
    tv_server_config_free (cfg);
    return 0;
  }
  if (action == TV_SERVER_CONFIG_VERSION) {
    printf ("televisit-server %s (protocol televisit.v1)\n", TV_SERVER_VERSION);
    tv_server_config_free (cfg);
    return 0;
  }

  app.level = cfg->log_level;
  tv_server_lws_set_log_level (cfg->log_level);
  raise_fd_limit (cfg->max_connections);
  /* A peer resetting the connection must not kill the process. */
  signal (SIGPIPE, SIG_IGN);

  app.loop = g_main_loop_new (NULL, FALSE);
  app.server = tv_server_new (cfg, app.loop, &error); /* takes cfg */
  if (!app.server) {
    fprintf (stderr, "televisit-server: %s\n", error->message);
    g_main_loop_unref (app.loop);
    return 1;
  }

  /* The handlers stay installed until exit: removing the sources would restore
   * the default action, and a second SIGTERM during tear-down would then kill
   * the process with a non-zero status. */
  g_unix_signal_add (SIGINT, on_signal, GINT_TO_POINTER (SIGINT));
  g_unix_signal_add (SIGTERM, on_signal, GINT_TO_POINTER (SIGTERM));

  g_autofree char *url = tv_server_get_url (app.server);
  printf ("listening on %s\n", url);
  fflush (stdout);
  g_message ("listening on %s", url);

  g_main_loop_run (app.loop);

  tv_server_free (app.server);
  g_main_loop_unref (app.loop);
  g_message ("stopped");
  return 0;
}
