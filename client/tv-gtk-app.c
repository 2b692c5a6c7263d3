/* tv-gtk-app.c — the desktop window: screens, session, shortcuts, test hooks.
 *
 * One GtkApplication (non-unique: two clients may run side by side), one
 * window with a banner (reconnecting, visit ended, errors) over a GtkStack of
 * screens: start, precheck, waiting, call, queue (one file each). The app
 * runs the same TvClientSession as the command line, on the same main
 * context (GApplication iterates the default GMainContext, where the
 * WebSocket client lives), with the call picture in a gtksink
 * (TvMediaConfig.video_sink) and follows it through a
 * TvClientSessionObserver. Progress lines still go to stdout, as in the
 * command-line client.
 *
 * Sessions started from the command line (a token or join link, or --login
 * with --password-file) close the window when they end, as the command-line
 * client exits; a doctor goes back to the queue unless --once. Sessions
 * started from the start screen come back to it.
 *
 * --screenshot-dir (tests): commands on stdin, see the --help text; a
 * screenshot is taken right after the next frame was painted
 * (gdk_pixbuf_get_from_window of the toplevel) and answered with a
 * "screenshot NAME video=X,Y,W,H" line. Main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include "client/tv-gtk-app.h"

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/tv-client-login.h"
#include "client/tv-gtk-private.h"
#include "media/tv-media.h"

#define DEFAULT_WIDTH 960
#define DEFAULT_HEIGHT 720

static void start_session (TvGtkApp *app);

void
tv_gtk_app_show (TvGtkApp *app, const char *name)
{
  const char *now = gtk_stack_get_visible_child_name (GTK_STACK (app->stack));

  if (g_strcmp0 (now, name) == 0)
    return;
  if (g_strcmp0 (now, "precheck") == 0)
    tv_gtk_precheck_activate (app->precheck, FALSE);
  gtk_stack_set_visible_child_name (GTK_STACK (app->stack), name);
  if (g_strcmp0 (name, "precheck") == 0)
    tv_gtk_precheck_activate (app->precheck, TRUE);
  printf ("screen %s\n", name);
  fflush (stdout);
}

void
tv_gtk_app_banner (TvGtkApp *app, const char *text, GtkMessageType type)
{
  if (text == NULL)
    {
      gtk_widget_hide (app->banner);
      return;
    }
  gtk_info_bar_set_message_type (GTK_INFO_BAR (app->banner), type);
  gtk_label_set_text (GTK_LABEL (app->banner_label), text);
  gtk_widget_show (app->banner);
}

static void
wipe_free (char *s)
{
  if (s != NULL)
    memset (s, 0, strlen (s));
  g_free (s);
}

/* ---- session observer ------------------------------------------------------- */

static void
on_message (TvClientSession *session, const TvSigMsg *msg, gpointer data)
{
  TvGtkApp *app = data;

  switch (msg->type)
    {
    case TV_SIG_MSG_AUTHED:
      tv_gtk_app_banner (app, NULL, GTK_MESSAGE_INFO);
      tv_gtk_app_show (app, "queue");
      break;
    case TV_SIG_MSG_DASHBOARD:
      tv_gtk_queue_update (app->queue, msg);
      break;
    case TV_SIG_MSG_JOINED:
      tv_gtk_app_banner (app, NULL, GTK_MESSAGE_INFO);
      if (msg->role == TV_SIG_ROLE_DOCTOR && tv_client_session_get_call (session) == NULL)
        {
          tv_gtk_call_set_media (app->call, NULL, msg->role);
          tv_gtk_call_set_status (app->call, msg->peer_present ? "The patient is in the waiting room; letting them in…"
                                                               : "Waiting for the patient…");
          tv_gtk_app_show (app, "call");
        }
      else if (msg->role == TV_SIG_ROLE_PATIENT && tv_client_session_get_call (session) == NULL)
        tv_gtk_app_show (app, "waiting");
      break;
    case TV_SIG_MSG_WAITING:
      g_free (app->doctor_name);
      app->doctor_name = g_strdup (msg->name);
      tv_gtk_waiting_update (app->waiting, msg->name, msg->scheduled_start, msg->doctor_present);
      tv_gtk_app_show (app, "waiting");
      break;
    case TV_SIG_MSG_DOCTOR_READY:
      tv_gtk_waiting_update (app->waiting, app->doctor_name, NULL, TRUE);
      break;
    case TV_SIG_MSG_PEER_JOINED:
      if (msg->role == TV_SIG_ROLE_PATIENT)
        tv_gtk_call_set_status (app->call, "The patient is in the waiting room; letting them in…");
      break;
    case TV_SIG_MSG_PAIRED:
      tv_gtk_call_set_status (app->call, NULL);
      tv_gtk_app_show (app, "call");
      break;
    case TV_SIG_MSG_PEER_LEFT:
      tv_gtk_call_set_status (app->call, msg->role == TV_SIG_ROLE_DOCTOR
                                           ? "The doctor left the call; waiting for them to come back…"
                                           : "The patient left the call; waiting for them to come back…");
      break;
    case TV_SIG_MSG_ENDED:
      tv_gtk_app_banner (app, "The visit has ended.", GTK_MESSAGE_INFO);
      break;
    case TV_SIG_MSG_FACTS_SAVED:
      tv_gtk_facts_saved (app->facts, msg);
      break;
    case TV_SIG_MSG_CHAT_MESSAGE:
      tv_gtk_chat_add (app->chat, msg, tv_client_session_get_role (session));
      break;
    default:
      break;
    }
}

static void
on_call_changed (TvClientSession *session, TvMediaCall *call, gpointer data)
{
  TvGtkApp *app = data;

  tv_gtk_call_set_media (app->call, call, tv_client_session_get_role (session));
  if (call != NULL)
    tv_gtk_app_show (app, "call");
}

static void
on_media_state (TvClientSession *session, TvMediaState state, gpointer data)
{
  TvGtkApp *app = data;

  if (state == TV_MEDIA_STATE_CONNECTED)
    {
      tv_gtk_call_set_status (app->call, NULL);
      tv_gtk_app_banner (app, NULL, GTK_MESSAGE_INFO);
    }
  else if (state == TV_MEDIA_STATE_DISCONNECTED)
    tv_gtk_app_banner (app, "The connection is interrupted; reconnecting…", GTK_MESSAGE_WARNING);
}

static void
on_reconnecting (TvClientSession *session, guint attempt, gpointer data)
{
  TvGtkApp *app = data;
  g_autofree char *text = g_strdup_printf ("Connection to the clinic lost; reconnecting (attempt %u)…", attempt);

  tv_gtk_app_banner (app, text, GTK_MESSAGE_WARNING);
}

static const TvClientSessionObserver observer = {
  .message = on_message,
  .call_changed = on_call_changed,
  .media_state = on_media_state,
  .reconnecting = on_reconnecting,
};

/* Words of the session's exit reasons a person can act on. */
static const char *
reason_text (TvClientExitCode code, const char *reason)
{
  switch (code)
    {
    case TV_CLIENT_EXIT_OK:
      return g_strcmp0 (reason, "ended") == 0 ? "The visit has ended." : "You left the visit.";
    case TV_CLIENT_EXIT_UNREACHABLE:
      return "The clinic's server cannot be reached. Check your internet connection and try again.";
    case TV_CLIENT_EXIT_JOIN_REFUSED:
      return "This link is not valid any more (expired, already in use, or the visit is over). "
             "Ask the clinic for a new one.";
    case TV_CLIENT_EXIT_NO_PEER:
      return "The other party did not come. Please try again later.";
    case TV_CLIENT_EXIT_MEDIA_FAILED:
      return "The audio/video connection failed (camera, microphone or network). Try the check on the start screen.";
    case TV_CLIENT_EXIT_CONNECTION_LOST:
      return "The connection to the clinic was lost and could not be restored.";
    default:
      return "The visit stopped.";
    }
}

typedef struct {
  TvGtkApp *app;
  TvClientSession *session;
  TvClientExitCode code;
  char *reason;
} DoneIdle;

static void
write_stats (TvGtkApp *app, TvClientSession *session)
{
  g_autofree char *json = NULL;
  g_autoptr (GError) error = NULL;

  if (app->opts->stats_json == NULL)
    return;
  json = tv_client_session_stats_json (session);
  if (!g_file_set_contents (app->opts->stats_json, json, -1, &error))
    g_printerr ("televisit-client: cannot write --stats-json: %s\n", error->message);
}

static gboolean
after_done (gpointer data)
{
  DoneIdle *d = data;
  TvGtkApp *app = d->app;
  gboolean doctor_queue = app->api_session != NULL;

  tv_client_session_free (d->session);
  tv_gtk_call_set_media (app->call, NULL, TV_SIG_ROLE_NONE);
  app->exit_code = d->code;
  if (app->quitting)
    g_application_quit (G_APPLICATION (app->gapp));
  else if (doctor_queue && d->code == TV_CLIENT_EXIT_OK && !app->opts->once)
    {
      printf ("back to the queue\n");
      fflush (stdout);
      tv_gtk_app_banner (app, reason_text (d->code, d->reason), GTK_MESSAGE_INFO);
      start_session (app);
    }
  else if (app->from_command_line)
    g_application_quit (G_APPLICATION (app->gapp));
  else
    {
      tv_gtk_app_banner (app, reason_text (d->code, d->reason),
                         d->code == TV_CLIENT_EXIT_OK ? GTK_MESSAGE_INFO : GTK_MESSAGE_ERROR);
      tv_gtk_start_set_error (app->start, NULL);
      wipe_free (g_steal_pointer (&app->token));
      tv_gtk_app_show (app, "start");
    }
  g_free (d->reason);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
on_done (TvClientSession *session, TvClientExitCode code, const char *reason, gpointer data)
{
  TvGtkApp *app = data;
  DoneIdle *d = g_new0 (DoneIdle, 1);

  write_stats (app, session);
  d->app = app;
  d->session = session;
  d->code = code;
  d->reason = g_strdup (reason);
  app->session = NULL;
  g_idle_add (after_done, d);
}

static void
start_session (TvGtkApp *app)
{
  g_autoptr (GError) error = NULL;
  TvClientSessionConfig cfg = app->cfg;

  cfg.server_url = app->server_url;
  cfg.token = app->api_session != NULL ? NULL : app->token;
  cfg.api_session = app->api_session;
  /* The doctor picks from the queue (the pick admits); with a doctor's join
   * link the waiting patient is admitted at once. */
  cfg.admit_mode = app->api_session != NULL ? TV_CLIENT_ADMIT_MANUAL : TV_CLIENT_ADMIT_AUTO;
  app->session = tv_client_session_new (&cfg, on_done, app, &error);
  if (app->session == NULL)
    {
      tv_gtk_app_banner (app, error->message, GTK_MESSAGE_ERROR);
      tv_gtk_app_show (app, "start");
      return;
    }
  tv_client_session_set_observer (app->session, &observer, app);
  tv_gtk_chat_clear (app->chat);
  tv_client_session_start (app->session);
}

void
tv_gtk_app_join (TvGtkApp *app, const char *server_url, const char *token)
{
  g_return_if_fail (app->session == NULL);
  g_free (app->server_url);
  app->server_url = g_strdup (server_url);
  wipe_free (app->token);
  app->token = g_strdup (token);
  g_free (app->settings.server_url);
  app->settings.server_url = g_strdup (server_url);
  tv_gtk_app_banner (app, NULL, GTK_MESSAGE_INFO);
  tv_gtk_waiting_update (app->waiting, NULL, NULL, FALSE);
  tv_gtk_app_show (app, "waiting");
  start_session (app);
}

void
tv_gtk_app_take_login (TvGtkApp *app, const char *server_url, char *api_session)
{
  g_return_if_fail (app->session == NULL);
  g_free (app->server_url);
  app->server_url = g_strdup (server_url);
  wipe_free (app->api_session);
  app->api_session = api_session;
  printf ("logged in\n");
  fflush (stdout);
  tv_gtk_app_banner (app, NULL, GTK_MESSAGE_INFO);
  tv_gtk_app_show (app, "queue");
  start_session (app);
}

void
tv_gtk_app_hang_up (TvGtkApp *app, gboolean end)
{
  if (app->session == NULL)
    {
      tv_gtk_app_show (app, app->api_session != NULL ? "queue" : "start");
      return;
    }
  if (end)
    tv_client_session_end (app->session);
  else
    tv_client_session_leave (app->session, "left");
}

/* ---- actions and shortcuts ---------------------------------------------------- */

static void
act_mute (GSimpleAction *a, GVariant *p, gpointer data)
{
  TvGtkApp *app = data;
  tv_gtk_call_toggle_mute (app->call);
}

static void
act_camera (GSimpleAction *a, GVariant *p, gpointer data)
{
  TvGtkApp *app = data;
  tv_gtk_call_toggle_camera (app->call);
}

static void
act_hangup (GSimpleAction *a, GVariant *p, gpointer data)
{
  TvGtkApp *app = data;
  const char *now = gtk_stack_get_visible_child_name (GTK_STACK (app->stack));

  /* Escape / Ctrl+W leave a call or the waiting room, and the check screen. */
  if (g_strcmp0 (now, "call") == 0 || g_strcmp0 (now, "waiting") == 0)
    tv_gtk_app_hang_up (app, FALSE);
  else if (g_strcmp0 (now, "precheck") == 0)
    tv_gtk_app_show (app, "start");
}

static void
add_actions (TvGtkApp *app)
{
  static const struct {
    const char *name;
    void (*cb) (GSimpleAction *, GVariant *, gpointer);
    const char *accels[3];
  } acts[] = {
    { "mute", act_mute, { "<Control>d", NULL } },
    { "camera", act_camera, { "<Control>e", NULL } },
    { "hangup", act_hangup, { "<Control>w", "Escape", NULL } },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (acts); i++)
    {
      g_autoptr (GSimpleAction) a = g_simple_action_new (acts[i].name, NULL);
      g_autofree char *detailed = g_strdup_printf ("win.%s", acts[i].name);
      g_signal_connect (a, "activate", G_CALLBACK (acts[i].cb), app);
      g_action_map_add_action (G_ACTION_MAP (app->window), G_ACTION (a));
      gtk_application_set_accels_for_action (app->gapp, detailed, acts[i].accels);
    }
}

/* ---- --screenshot-dir: test commands on stdin -------------------------------------- */

typedef struct {
  TvGtkApp *app;
  char *name;
  gulong handler;
  GdkFrameClock *clock;
} Shot;

static gboolean
name_is_safe (const char *name)
{
  if (*name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static void
take_shot (Shot *s)
{
  TvGtkApp *app = s->app;
  GdkWindow *win = gtk_widget_get_window (app->window);
  int w = gdk_window_get_width (win), h = gdk_window_get_height (win);
  g_autoptr (GdkPixbuf) pb = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *file = g_strdup_printf ("%s.png", s->name);
  g_autofree char *path = g_build_filename (app->opts->screenshot_dir, file, NULL);
  GdkRectangle r = { 0 };
  gboolean video;

  gdk_display_sync (gdk_window_get_display (win));
  pb = gdk_pixbuf_get_from_window (win, 0, 0, w, h);
  if (pb == NULL || !gdk_pixbuf_save (pb, path, "png", &error, NULL))
    {
      g_printerr ("televisit-client: screenshot %s failed: %s\n", s->name, error ? error->message : "no pixels");
      printf ("screenshot %s failed\n", s->name);
    }
  else
    {
      video = tv_gtk_call_video_area (app->call, app->window, &r);
      if (video)
        printf ("screenshot %s video=%d,%d,%d,%d\n", s->name, r.x, r.y, r.width, r.height);
      else
        printf ("screenshot %s video=none\n", s->name);
    }
  fflush (stdout);
}

static void
on_after_paint (GdkFrameClock *clock, gpointer data)
{
  Shot *s = data;

  g_signal_handler_disconnect (clock, s->handler);
  take_shot (s);
  g_object_unref (s->clock);
  g_free (s->name);
  g_free (s);
}

static void
screenshot (TvGtkApp *app, const char *name)
{
  Shot *s;

  if (!name_is_safe (name))
    {
      g_printerr ("televisit-client: screenshot: NAME must be 1-64 characters of A-Z a-z 0-9 - _\n");
      return;
    }
  s = g_new0 (Shot, 1);
  s->app = app;
  s->name = g_strdup (name);
  s->clock = g_object_ref (gtk_widget_get_frame_clock (app->window));
  s->handler = g_signal_connect (s->clock, "after-paint", G_CALLBACK (on_after_paint), s);
  gtk_widget_queue_draw (app->window);
}

static void
control_command (TvGtkApp *app, char *line)
{
  guint64 n = 0;

  g_strstrip (line);
  if (g_str_has_prefix (line, "screenshot "))
    screenshot (app, line + strlen ("screenshot "));
  else if (strcmp (line, "mute") == 0)
    tv_gtk_call_toggle_mute (app->call);
  else if (strcmp (line, "camera") == 0)
    tv_gtk_call_toggle_camera (app->call);
  else if (strcmp (line, "hangup") == 0)
    tv_gtk_app_hang_up (app, FALSE);
  else if (strcmp (line, "end") == 0)
    tv_gtk_app_hang_up (app, TRUE);
  else if (g_str_has_prefix (line, "show ")
           && g_strv_contains ((const char *const[]){ "start", "precheck", NULL }, line + strlen ("show ")))
    tv_gtk_app_show (app, line + strlen ("show "));
  else if (g_str_has_prefix (line, "join ") && app->session == NULL)
    {
      tv_gtk_app_show (app, "start");
      tv_gtk_start_submit_link (app->start, line + strlen ("join "));
    }
  else if (g_str_has_prefix (line, "login ") && app->session == NULL)
    {
      g_auto (GStrv) w = g_strsplit (line + strlen ("login "), " ", 2);
      if (g_strv_length (w) == 2)
        tv_gtk_start_login (app->start, w[0], w[1]);
      if (w[1] != NULL)
        memset (w[1], 0, strlen (w[1]));
    }
  else if (g_str_has_prefix (line, "visit ")
           && g_ascii_string_to_unsigned (line + strlen ("visit "), 10, 1, 1000, &n, NULL))
    {
      if (!tv_gtk_start_join_visit (app->start, (guint) n))
        g_printerr ("televisit-client: visit: no joinable visit %u\n", (guint) n);
    }
  else if (g_str_has_prefix (line, "chat "))
    tv_gtk_chat_send (app->chat, line + strlen ("chat "));
  else if (g_str_has_prefix (line, "facts "))
    {
      /* facts MODALITY LOCATION STATUS [REASON...] */
      g_auto (GStrv) w = g_strsplit (line + strlen ("facts "), " ", 4);
      if (g_strv_length (w) < 3 || !tv_gtk_facts_submit (app->facts, w[0], w[1], w[2], w[3]))
        g_printerr ("televisit-client: facts: expected MODALITY LOCATION STATUS [REASON]\n");
    }
  else if (strcmp (line, "network") == 0)
    tv_gtk_precheck_network (app->precheck);
  else if (strcmp (line, "send-back") == 0 || strcmp (line, "admit") == 0)
    {
      if (!tv_gtk_call_send_back (app->call, strcmp (line, "send-back") == 0))
        g_printerr ("televisit-client: %s: not possible now\n", line);
    }
  else if (g_str_has_prefix (line, "admit ")
           && g_ascii_string_to_unsigned (line + strlen ("admit "), 10, 1, 1000, &n, NULL))
    {
      if (!tv_gtk_queue_admit_nth (app->queue, (guint) n))
        g_printerr ("televisit-client: admit: nobody waits in consult %u\n", (guint) n);
    }
  else if (*line != '\0')
    g_printerr ("televisit-client: unknown command \"%s\"\n", line);
}

static gboolean
on_control (gint fd, GIOCondition cond, gpointer data)
{
  TvGtkApp *app = data;
  char buf[512], *nl;
  ssize_t n = (cond & G_IO_IN) ? read (fd, buf, sizeof buf) : 0;

  if (n <= 0)
    {
      app->control_watch = 0;
      return G_SOURCE_REMOVE;
    }
  g_string_append_len (app->control_line, buf, n);
  while ((nl = memchr (app->control_line->str, '\n', app->control_line->len)) != NULL)
    {
      g_autofree char *line = g_strndup (app->control_line->str, (gsize) (nl - app->control_line->str));
      g_string_erase (app->control_line, 0, nl - app->control_line->str + 1);
      control_command (app, line);
    }
  if (app->control_line->len > 4096)
    g_string_truncate (app->control_line, 0);
  return G_SOURCE_CONTINUE;
}

/* ---- window --------------------------------------------------------------------- */

static gboolean
on_delete (GtkWidget *w, GdkEvent *e, gpointer data)
{
  TvGtkApp *app = data;

  gtk_window_get_size (GTK_WINDOW (app->window), &app->settings.width, &app->settings.height);
  tv_gtk_settings_save (&app->settings);
  if (app->session != NULL)
    {
      /* Leave cleanly first; after_done quits. */
      app->quitting = TRUE;
      tv_client_session_leave (app->session, "left");
      return TRUE;
    }
  return FALSE;
}

static gboolean
on_signal (gpointer data)
{
  TvGtkApp *app = data;

  if (app->session != NULL && !app->quitting)
    {
      g_message ("interrupted: leaving the consult");
      app->quitting = TRUE;
      tv_client_session_leave (app->session, "signal");
    }
  else if (app->session != NULL)
    tv_client_session_leave (app->session, "signal");
  else
    g_application_quit (G_APPLICATION (app->gapp));
  return G_SOURCE_CONTINUE;
}

static GtkWidget *
add_page (TvGtkApp *app, GtkWidget *page, const char *name)
{
  gtk_stack_add_named (GTK_STACK (app->stack), page, name);
  return page;
}

static void
on_activate (GApplication *gapp, gpointer data)
{
  TvGtkApp *app = data;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  const TvClientOptions *o = app->opts;

  if (app->window != NULL)
    {
      gtk_window_present (GTK_WINDOW (app->window));
      return;
    }
  app->window = gtk_application_window_new (app->gapp);
  gtk_window_set_title (GTK_WINDOW (app->window), "Televisit");
  gtk_window_set_default_size (GTK_WINDOW (app->window),
                               app->settings.width > 0 ? app->settings.width : DEFAULT_WIDTH,
                               app->settings.height > 0 ? app->settings.height : DEFAULT_HEIGHT);
  g_signal_connect (app->window, "delete-event", G_CALLBACK (on_delete), app);

  app->banner = gtk_info_bar_new ();
  app->banner_label = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (app->banner_label), TRUE);
  gtk_container_add (GTK_CONTAINER (gtk_info_bar_get_content_area (GTK_INFO_BAR (app->banner))),
                     app->banner_label);
  gtk_widget_set_no_show_all (app->banner, TRUE);
  gtk_widget_show (app->banner_label);
  gtk_box_pack_start (GTK_BOX (box), app->banner, FALSE, FALSE, 0);

  app->stack = gtk_stack_new ();
  add_page (app, tv_gtk_start_new (app, &app->start), "start");
  add_page (app, tv_gtk_precheck_new (app, &app->precheck), "precheck");
  add_page (app, tv_gtk_waiting_new (app, &app->waiting), "waiting");
  add_page (app, tv_gtk_call_new (app, &app->call), "call");
  add_page (app, tv_gtk_queue_new (app, &app->queue), "queue");
  gtk_box_pack_start (GTK_BOX (box), app->stack, TRUE, TRUE, 0);
  gtk_container_add (GTK_CONTAINER (app->window), box);
  add_actions (app);
  gtk_widget_show_all (app->window);
  printf ("screen start\n");
  fflush (stdout);

  /* Screenshots show the settled state, not a transition half-way. */
  if (o->screenshot_dir != NULL)
    g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  if (o->screenshot_dir != NULL)
    app->control_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_control, app);

  /* What the command line already says. */
  if (o->server_url != NULL && o->token != NULL)
    {
      app->from_command_line = TRUE;
      tv_gtk_app_join (app, o->server_url, o->token);
    }
  else if (o->server_url != NULL && o->login != NULL && o->password != NULL)
    {
      g_autoptr (GError) error = NULL;
      TvClientExitCode code = TV_CLIENT_EXIT_OK;
      char *session = tv_client_login (o->server_url, o->ca_file, o->insecure, o->login, o->password, &code, &error);
      if (session == NULL)
        {
          g_printerr ("televisit-client: %s\n", error->message);
          tv_gtk_start_set_error (app->start, code == TV_CLIENT_EXIT_JOIN_REFUSED
                                                ? "Wrong user name or password (or the account is locked)."
                                                : error->message);
        }
      else
        {
          app->from_command_line = TRUE;
          tv_gtk_app_take_login (app, o->server_url, session);
        }
    }
}

int
tv_gtk_app_run (const TvClientOptions *opts, const TvClientSessionConfig *cfg)
{
  TvGtkApp app = { 0 };
  g_autoptr (GstElementFactory) sink = NULL;
  guint sigint_id, sigterm_id;

  if (!gtk_init_check (NULL, NULL))
    {
      g_printerr ("televisit-client: cannot open the display (DISPLAY/WAYLAND_DISPLAY); use --headless\n");
      return TV_CLIENT_EXIT_MEDIA_FAILED;
    }
  sink = gst_element_factory_find ("gtksink");
  if (sink == NULL)
    {
      g_printerr ("televisit-client: GStreamer element gtksink is missing (install gstreamer1.0-gtk3)\n");
      return TV_CLIENT_EXIT_MEDIA_FAILED;
    }
  app.opts = opts;
  app.cfg = *cfg;
  app.cfg.media.headless = FALSE;
  app.cfg.media.video_sink = "gtksink";
  app.cfg.gui_choices = TRUE;
  app.control_line = g_string_new (NULL);
  app.old_devices = g_ptr_array_new_with_free_func (gst_object_unref);
  app.exit_code = TV_CLIENT_EXIT_OK;
  tv_gtk_settings_load (&app.settings);

  app.gapp = gtk_application_new ("org.televisit.Client", G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app.gapp, "activate", G_CALLBACK (on_activate), &app);
  sigint_id = g_unix_signal_add (SIGINT, on_signal, &app);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &app);
  g_application_run (G_APPLICATION (app.gapp), 0, NULL);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (app.control_watch != 0)
    g_source_remove (app.control_watch);

  if (app.window != NULL)
    {
      gtk_window_get_size (GTK_WINDOW (app.window), &app.settings.width, &app.settings.height);
      tv_gtk_settings_save (&app.settings);
    }
  if (app.api_session != NULL)
    {
      g_autoptr (GError) error = NULL;
      if (tv_client_logout (app.server_url, app.cfg.ca_file, app.cfg.insecure, app.api_session, &error))
        printf ("logged out\n");
      else
        g_message ("logout failed (the session expires on its own): %s", error->message);
    }
  if (app.session != NULL)
    tv_client_session_free (app.session);
  tv_gtk_precheck_free (app.precheck);
  tv_gtk_start_free (app.start);
  tv_gtk_waiting_free (app.waiting);
  tv_gtk_call_free (app.call);
  tv_gtk_queue_free (app.queue);
  tv_gtk_facts_free (app.facts);
  tv_gtk_chat_free (app.chat);
  wipe_free (app.token);
  wipe_free (app.api_session);
  g_free (app.server_url);
  g_free (app.doctor_name);
  g_string_free (app.control_line, TRUE);
  g_ptr_array_unref (app.old_devices);
  g_clear_object (&app.camera);
  g_clear_object (&app.microphone);
  g_clear_object (&app.speaker);
  tv_gtk_settings_clear (&app.settings);
  g_object_unref (app.gapp);
  fflush (stdout);
  return app.exit_code;
}
