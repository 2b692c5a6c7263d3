/* tv-gtk-call.c — the call view: video, controls, quality line.
 *
 * The picture comes from the call's gtksink (TvMediaConfig.video_sink):
 * media composes the remote video at full size with the self view in the
 * bottom-right quarter, so one widget shows both (remote large, self small).
 * Below it: mute (Ctrl+D), camera (Ctrl+E), hang up (Ctrl+W / Escape), and
 * for doctors send back to the waiting room and end the visit, and the
 * visit's billing facts (tv-gtk-facts); the chat panel (tv-gtk-chat) sits
 * beside the video. A quality
 * line is refreshed every second from tv_media_call_get_stats (bitrate in,
 * packet loss over the last second, round trip). The widget is taken out
 * when the call is torn down (call_changed NULL) and a fresh one comes with
 * the next call. Main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include "client/tv-gtk-private.h"
#include "media/tv-media.h"

struct _TvGtkCall {
  TvGtkApp *app;
  GtkWidget *box, *video_frame, *video, *placeholder, *status;
  GtkWidget *mute, *camera, *hangup, *send_back, *end, *quality, *facts;
  TvMediaCall *call;          /* borrowed from the session, NULL between calls */
  TvSigRole role;
  gboolean muted, camera_off;
  gboolean patient_back;      /* doctor: sent the patient back, not admitted again yet */
  guint stats_timer;
  guint64 last_received, last_lost;
  const char *last_grade;     /* static string; printed when it changes */
};

static void
update_buttons (TvGtkCall *c)
{
  gtk_button_set_label (GTK_BUTTON (c->mute), c->muted ? "Unmute (Ctrl+D)" : "Mute (Ctrl+D)");
  gtk_button_set_label (GTK_BUTTON (c->camera), c->camera_off ? "Camera on (Ctrl+E)" : "Camera off (Ctrl+E)");
  gtk_widget_set_visible (c->send_back, c->role == TV_SIG_ROLE_DOCTOR);
  gtk_widget_set_visible (c->end, c->role == TV_SIG_ROLE_DOCTOR);
  gtk_widget_set_visible (c->facts, c->role == TV_SIG_ROLE_DOCTOR);
  gtk_button_set_label (GTK_BUTTON (c->send_back),
                        c->call == NULL && c->patient_back ? "Let the patient in" : "Back to waiting room");
  gtk_widget_set_sensitive (c->send_back, c->call != NULL || c->patient_back);
}

gboolean
tv_gtk_call_send_back (TvGtkCall *c, gboolean back)
{
  TvClientSession *session = c->app->session;

  if (session == NULL)
    return FALSE;
  if (back && c->call != NULL && tv_client_session_send_back (session))
    {
      c->patient_back = TRUE;
      tv_gtk_call_set_status (c, "The patient is back in the waiting room.");
    }
  else if (!back && c->call == NULL && c->patient_back && tv_client_session_admit (session))
    {
      c->patient_back = FALSE;
      tv_gtk_call_set_status (c, "Letting the patient in…");
    }
  else
    return FALSE;
  update_buttons (c);
  return TRUE;
}

void
tv_gtk_call_toggle_mute (TvGtkCall *c)
{
  c->muted = !c->muted;
  if (c->call != NULL)
    tv_media_call_set_audio_muted (c->call, c->muted);
  printf ("microphone %s\n", c->muted ? "muted" : "on");
  fflush (stdout);
  update_buttons (c);
}

void
tv_gtk_call_toggle_camera (TvGtkCall *c)
{
  c->camera_off = !c->camera_off;
  if (c->call != NULL)
    tv_media_call_set_video_muted (c->call, c->camera_off);
  printf ("camera %s\n", c->camera_off ? "off" : "on");
  fflush (stdout);
  update_buttons (c);
}

/* "Good/Fair/Poor · 812 kbit/s · loss 0.4 % · RTT 23 ms" (bitrate received) */
static gboolean
stats_tick (gpointer data)
{
  TvGtkCall *c = data;
  TvMediaStats st;
  g_autofree char *text = NULL, *rtt = NULL;
  guint64 rx, lost;
  double loss_pct = 0.0;
  const char *grade;

  if (c->call == NULL)
    return G_SOURCE_CONTINUE;
  tv_media_call_get_stats (c->call, &st);
  rx = st.packets_received - MIN (st.packets_received, c->last_received);
  lost = st.packets_lost > 0 ? (guint64) st.packets_lost : 0;
  lost = lost - MIN (lost, c->last_lost);
  if (rx + lost > 0)
    loss_pct = 100.0 * (double) lost / (double) (rx + lost);
  c->last_received = st.packets_received;
  c->last_lost = st.packets_lost > 0 ? (guint64) st.packets_lost : 0;
  grade = loss_pct < 2.0 && (st.rtt_ms < 300.0) ? "Good" : loss_pct < 8.0 && st.rtt_ms < 600.0 ? "Fair" : "Poor";
  /* Bitrates need two statistics snapshots: until then there is nothing to grade. */
  if (st.bitrate_in_kbps <= 0.0)
    grade = "Connecting";
  rtt = st.rtt_ms >= 0.0 ? g_strdup_printf (" · RTT %.0f ms", st.rtt_ms) : g_strdup ("");
  text = g_strdup_printf ("%s · %.0f kbit/s · loss %.1f %%%s", grade, st.bitrate_in_kbps, loss_pct, rtt);
  gtk_label_set_text (GTK_LABEL (c->quality), text);
  if (grade != c->last_grade)
    {
      g_autofree char *word = g_ascii_strdown (grade, -1);
      printf ("call quality %s\n", word);
      fflush (stdout);
      c->last_grade = grade;
    }
  return G_SOURCE_CONTINUE;
}

void
tv_gtk_call_set_status (TvGtkCall *c, const char *text)
{
  gtk_label_set_text (GTK_LABEL (c->status), text != NULL ? text : "");
  gtk_widget_set_visible (c->status, text != NULL);
}

void
tv_gtk_call_set_media (TvGtkCall *c, TvMediaCall *call, TvSigRole role)
{
  c->role = role;
  if (c->video != NULL)
    {
      gtk_container_remove (GTK_CONTAINER (c->video_frame), c->video);
      g_clear_object (&c->video);
    }
  c->call = call;
  if (call != NULL)
    c->patient_back = FALSE;
  c->last_received = c->last_lost = 0;
  c->last_grade = NULL;
  if (call != NULL)
    {
      GstElement *sink = tv_media_call_get_video_sink (call);
      if (sink != NULL && g_object_class_find_property (G_OBJECT_GET_CLASS (sink), "widget") != NULL)
        g_object_get (sink, "widget", &c->video, NULL);
      if (sink != NULL)
        gst_object_unref (sink);
      /* Mute and camera state carry over to the next call. */
      tv_media_call_set_audio_muted (call, c->muted);
      tv_media_call_set_video_muted (call, c->camera_off);
    }
  if (c->video != NULL)
    {
      gtk_widget_set_hexpand (c->video, TRUE);
      gtk_widget_set_vexpand (c->video, TRUE);
      gtk_container_add (GTK_CONTAINER (c->video_frame), c->video);
      gtk_widget_show (c->video);
    }
  gtk_widget_set_visible (c->placeholder, c->video == NULL);
  gtk_label_set_text (GTK_LABEL (c->quality), call != NULL ? "Connecting…" : "");
  update_buttons (c);
}

gboolean
tv_gtk_call_video_area (TvGtkCall *c, GtkWidget *window, GdkRectangle *out)
{
  int x = 0, y = 0;

  if (c->video == NULL || !gtk_widget_get_mapped (c->video)
      || !gtk_widget_translate_coordinates (c->video, window, 0, 0, &x, &y))
    return FALSE;
  out->x = x;
  out->y = y;
  out->width = gtk_widget_get_allocated_width (c->video);
  out->height = gtk_widget_get_allocated_height (c->video);
  return TRUE;
}

static void
on_mute (GtkWidget *w, gpointer data)
{
  tv_gtk_call_toggle_mute (data);
}

static void
on_camera (GtkWidget *w, gpointer data)
{
  tv_gtk_call_toggle_camera (data);
}

static void
on_hangup (GtkWidget *w, gpointer data)
{
  TvGtkCall *c = data;
  tv_gtk_app_hang_up (c->app, FALSE);
}

static void
on_end (GtkWidget *w, gpointer data)
{
  TvGtkCall *c = data;
  tv_gtk_app_hang_up (c->app, TRUE);
}

static void
on_send_back (GtkWidget *w, gpointer data)
{
  TvGtkCall *c = data;
  tv_gtk_call_send_back (c, c->call != NULL);
}

GtkWidget *
tv_gtk_call_new (TvGtkApp *app, TvGtkCall **out)
{
  TvGtkCall *c = g_new0 (TvGtkCall, 1);
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *overlay = gtk_overlay_new ();

  c->app = app;
  c->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  c->video_frame = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_set_hexpand (c->video_frame, TRUE);
  gtk_widget_set_vexpand (c->video_frame, TRUE);
  c->placeholder = gtk_label_new ("Connecting the video…");
  gtk_widget_set_vexpand (c->placeholder, TRUE);
  gtk_box_pack_start (GTK_BOX (c->video_frame), c->placeholder, TRUE, TRUE, 0);
  gtk_container_add (GTK_CONTAINER (overlay), c->video_frame);
  c->status = gtk_label_new (NULL);
  gtk_widget_set_halign (c->status, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (c->status, GTK_ALIGN_START);
  gtk_widget_set_no_show_all (c->status, TRUE);
  gtk_overlay_add_overlay (GTK_OVERLAY (overlay), c->status);
  {
    /* Video on the left, the chat panel on the right. */
    GtkWidget *paned = gtk_paned_new (GTK_ORIENTATION_HORIZONTAL);
    gtk_paned_pack1 (GTK_PANED (paned), overlay, TRUE, FALSE);
    gtk_paned_pack2 (GTK_PANED (paned), tv_gtk_chat_new (app, &app->chat), FALSE, FALSE);
    gtk_box_pack_start (GTK_BOX (c->box), paned, TRUE, TRUE, 0);
  }

  c->mute = gtk_button_new_with_label ("");
  c->camera = gtk_button_new_with_label ("");
  c->hangup = gtk_button_new_with_label ("Hang up (Ctrl+W)");
  gtk_style_context_add_class (gtk_widget_get_style_context (c->hangup), GTK_STYLE_CLASS_DESTRUCTIVE_ACTION);
  c->send_back = gtk_button_new_with_label ("Back to waiting room");
  c->end = gtk_button_new_with_label ("End visit");
  gtk_widget_set_no_show_all (c->send_back, TRUE);
  gtk_widget_set_no_show_all (c->end, TRUE);
  c->quality = gtk_label_new ("");
  gtk_widget_set_halign (c->quality, GTK_ALIGN_END);
  gtk_widget_set_hexpand (c->quality, TRUE);
  g_signal_connect (c->mute, "clicked", G_CALLBACK (on_mute), c);
  g_signal_connect (c->camera, "clicked", G_CALLBACK (on_camera), c);
  g_signal_connect (c->hangup, "clicked", G_CALLBACK (on_hangup), c);
  g_signal_connect (c->send_back, "clicked", G_CALLBACK (on_send_back), c);
  g_signal_connect (c->end, "clicked", G_CALLBACK (on_end), c);
  gtk_box_pack_start (GTK_BOX (bar), c->mute, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (bar), c->camera, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (bar), c->hangup, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (bar), c->send_back, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (bar), c->end, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (bar), c->quality, TRUE, TRUE, 0);
  gtk_container_set_border_width (GTK_CONTAINER (bar), 6);
  gtk_box_pack_start (GTK_BOX (c->box), bar, FALSE, FALSE, 0);
  c->facts = tv_gtk_facts_new (app, &app->facts);
  gtk_box_pack_start (GTK_BOX (c->box), c->facts, FALSE, FALSE, 0);
  update_buttons (c);
  c->stats_timer = g_timeout_add_seconds (1, stats_tick, c);
  *out = c;
  return c->box;
}

void
tv_gtk_call_free (TvGtkCall *c)
{
  if (c == NULL)
    return;
  if (c->stats_timer != 0)
    g_source_remove (c->stats_timer);
  g_clear_object (&c->video);
  g_free (c);
}
