/* tv-gtk-precheck.c — the pre-call check: devices, self preview, mic meter, network.
 *
 * A GstDeviceMonitor lists cameras (Video/Source), microphones (Audio/Source)
 * and speakers (Audio/Sink) into three combo boxes, updated when a device is
 * plugged in or removed; with --test-media the test pattern and test tone
 * are offered first (and picked). The chosen camera plays into a gtksink
 * (the self preview) and the chosen microphone into a level element whose
 * peak drives a level bar, in one preview pipeline rebuilt on every change.
 * "Test sound" plays a short tone on the chosen speaker. A missing device,
 * or one that fails to open (busy: another program holds it), is said in
 * plain words under the preview. The network check opens a WebSocket (TLS)
 * to the server and reports the time it took. "Use these" keeps the choice
 * for the calls (TvMediaConfig camera/microphone/speaker) and in client.ini
 * (by display name). Only while the page is shown does anything run.
 * Main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include <stdio.h>
#include <string.h>

#include "client/tv-gtk-private.h"
#include "client/tv-ws-client.h"

struct _TvGtkPrecheck {
  TvGtkApp *app;
  GtkWidget *camera, *mic, *speaker, *preview_box, *preview, *meter, *message, *net, *net_button;
  GstDeviceMonitor *monitor;
  guint monitor_bus;
  GPtrArray *cameras, *mics, *speakers;  /* GstDevice, same order as the combos after the test entries */
  GstElement *pipeline;
  guint pipeline_bus;
  gboolean active, filling;
  gboolean said_playing, said_level;  /* progress lines printed for this preview */
  /* network check */
  TvWsHub *hub;
  TvWsClient *ws;
  gint64 net_started_us;
  guint net_free_idle;
};

#define TEST_ID "test"

static void rebuild_preview (TvGtkPrecheck *p);

static void
say_message (TvGtkPrecheck *p, const char *text)
{
  gtk_label_set_text (GTK_LABEL (p->message), text != NULL ? text : "");
  if (text != NULL && *text != '\0')
    {
      printf ("precheck says: %s\n", text);
      fflush (stdout);
    }
}

/* The chosen device of @combo (transfer none), NULL for the test entry or none. */
static GstDevice *
chosen (TvGtkPrecheck *p, GtkWidget *combo, GPtrArray *devices)
{
  const char *id = gtk_combo_box_get_active_id (GTK_COMBO_BOX (combo));
  guint64 i = 0;

  if (id == NULL || strcmp (id, TEST_ID) == 0 || !g_ascii_string_to_unsigned (id, 10, 0, G_MAXUINT, &i, NULL)
      || i >= devices->len)
    return NULL;
  return g_ptr_array_index (devices, i);
}

static void
fill_combo (TvGtkPrecheck *p, GtkWidget *combo, GPtrArray *devices, const char *klass, const char *test_label,
            const char *none_label, const char *remembered)
{
  g_autolist (GstDevice) list = gst_device_monitor_get_devices (p->monitor);
  g_autofree char *before = g_strdup (gtk_combo_box_get_active_id (GTK_COMBO_BOX (combo)));
  g_autofree char *before_name = NULL;
  int pick = -1, n = 0;

  if (before != NULL && strcmp (before, TEST_ID) != 0)
    {
      GstDevice *d = chosen (p, combo, devices);
      before_name = d != NULL ? gst_device_get_display_name (d) : NULL;
    }
  p->filling = TRUE;
  gtk_combo_box_text_remove_all (GTK_COMBO_BOX_TEXT (combo));
  g_ptr_array_set_size (devices, 0);
  if (p->app->opts->test_media && test_label != NULL)
    {
      gtk_combo_box_text_append (GTK_COMBO_BOX_TEXT (combo), TEST_ID, test_label);
      if (before == NULL || strcmp (before, TEST_ID) == 0)
        pick = n;
      n++;
    }
  for (GList *l = list; l != NULL; l = l->next)
    {
      GstDevice *d = l->data;
      g_autofree char *name = gst_device_get_display_name (d);
      g_autofree char *id = NULL;
      if (!gst_device_has_classes (d, klass))
        continue;
      id = g_strdup_printf ("%u", devices->len);
      g_ptr_array_add (devices, gst_object_ref (d));
      gtk_combo_box_text_append (GTK_COMBO_BOX_TEXT (combo), id, name);
      if (pick < 0 && (g_strcmp0 (name, before_name) == 0 || (before_name == NULL && g_strcmp0 (name, remembered) == 0)))
        pick = n;
      n++;
    }
  if (n == 0)
    gtk_combo_box_text_append (GTK_COMBO_BOX_TEXT (combo), "none", none_label);
  gtk_combo_box_set_active (GTK_COMBO_BOX (combo), pick >= 0 ? pick : 0);
  gtk_widget_set_sensitive (combo, n > 0);
  p->filling = FALSE;
}

static void
fill_all (TvGtkPrecheck *p)
{
  const TvGtkSettings *s = &p->app->settings;

  fill_combo (p, p->camera, p->cameras, "Video/Source", "Test pattern (--test-media)", "(no camera found)",
              s->camera);
  fill_combo (p, p->mic, p->mics, "Audio/Source", "Test tone (--test-media)", "(no microphone found)",
              s->microphone);
  fill_combo (p, p->speaker, p->speakers, "Audio/Sink", NULL, "(none listed: the system's default output)",
              s->speaker);
}

static gboolean
on_monitor_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  TvGtkPrecheck *p = data;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_DEVICE_ADDED || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_DEVICE_REMOVED)
    {
      fill_all (p);
      rebuild_preview (p);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_preview_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  TvGtkPrecheck *p = data;
  const GstStructure *st = gst_message_get_structure (msg);

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && gst_structure_has_name (st, "level"))
    {
      const GValue *peaks = gst_structure_get_value (st, "peak");
      double db = -100.0;
      /* "peak" is a GValueArray (deprecated type, still what level posts). */
      G_GNUC_BEGIN_IGNORE_DEPRECATIONS
      if (peaks != NULL && G_VALUE_TYPE (peaks) == g_value_array_get_type ())
        {
          GValueArray *arr = g_value_get_boxed (peaks);
          for (guint i = 0; i < arr->n_values; i++)
            db = MAX (db, g_value_get_double (g_value_array_get_nth (arr, i)));
        }
      G_GNUC_END_IGNORE_DEPRECATIONS
      /* -60 dBFS .. 0 dBFS onto the bar. */
      gtk_level_bar_set_value (GTK_LEVEL_BAR (p->meter), CLAMP ((db + 60.0) / 60.0, 0.0, 1.0));
      if (!p->said_level && db > -40.0)
        {
          p->said_level = TRUE;
          printf ("precheck microphone level peak_db=%.0f\n", db);
          fflush (stdout);
        }
    }
  else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_STATE_CHANGED && GST_MESSAGE_SRC (msg) == GST_OBJECT (p->pipeline))
    {
      GstState now;
      gst_message_parse_state_changed (msg, NULL, &now, NULL);
      if (now == GST_STATE_PLAYING && !p->said_playing)
        {
          p->said_playing = TRUE;
          printf ("precheck preview playing camera=%s\n", p->preview != NULL ? "yes" : "no");
          fflush (stdout);
        }
    }
  else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = NULL;
      g_autofree char *src = gst_object_get_name (GST_MESSAGE_SRC (msg));
      gst_message_parse_error (msg, &error, NULL);
      text = g_strdup_printf ("%s cannot be opened (is another program using it?): %s",
                              g_str_has_prefix (src, "cam") ? "The camera" : "The microphone", error->message);
      say_message (p, text);
      gst_element_set_state (p->pipeline, GST_STATE_NULL);
    }
  return G_SOURCE_CONTINUE;
}

static void
stop_preview (TvGtkPrecheck *p)
{
  if (p->preview != NULL)
    {
      gtk_container_remove (GTK_CONTAINER (p->preview_box), p->preview);
      g_clear_object (&p->preview);
    }
  if (p->pipeline != NULL)
    {
      gst_element_set_state (p->pipeline, GST_STATE_NULL);
      g_source_remove (p->pipeline_bus);
      g_clear_object (&p->pipeline);
    }
  gtk_level_bar_set_value (GTK_LEVEL_BAR (p->meter), 0.0);
}

static GstElement *
source_for (TvGtkPrecheck *p, GtkWidget *combo, GPtrArray *devices, const char *name, gboolean video)
{
  const char *id = gtk_combo_box_get_active_id (GTK_COMBO_BOX (combo));
  GstDevice *d = chosen (p, combo, devices);
  GstElement *e = NULL;

  if (g_strcmp0 (id, TEST_ID) == 0)
    {
      e = gst_element_factory_make (video ? "videotestsrc" : "audiotestsrc", name);
      g_object_set (e, "is-live", TRUE, NULL);
      if (video)
        g_object_set (e, "horizontal-speed", 3, NULL);
      else
        g_object_set (e, "volume", 0.2, NULL);
    }
  else if (d != NULL)
    e = gst_device_create_element (d, name);
  return e;
}

static void
rebuild_preview (TvGtkPrecheck *p)
{
  GstElement *cam, *mic;
  GstBus *bus;
  GString *missing = g_string_new (NULL);

  stop_preview (p);
  if (!p->active)
    {
      g_string_free (missing, TRUE);
      return;
    }
  p->pipeline = gst_pipeline_new ("tv-precheck");
  p->said_playing = p->said_level = FALSE;
  cam = source_for (p, p->camera, p->cameras, "camera", TRUE);
  mic = source_for (p, p->mic, p->mics, "mic", FALSE);
  if (cam != NULL)
    {
      GstElement *conv = gst_element_factory_make ("videoconvert", NULL);
      GstElement *sink = gst_element_factory_make ("gtksink", NULL);
      gst_bin_add_many (GST_BIN (p->pipeline), cam, conv, sink, NULL);
      gst_element_link_many (cam, conv, sink, NULL);
      g_object_get (sink, "widget", &p->preview, NULL);
      gtk_widget_set_size_request (p->preview, 320, 240);
      gtk_box_pack_start (GTK_BOX (p->preview_box), p->preview, TRUE, TRUE, 0);
      gtk_widget_show (p->preview);
    }
  else
    g_string_append (missing, "No camera found: connect one, or the visit will be audio only. ");
  if (mic != NULL)
    {
      GstElement *conv = gst_element_factory_make ("audioconvert", NULL);
      GstElement *level = gst_element_factory_make ("level", NULL);
      GstElement *sink = gst_element_factory_make ("fakesink", NULL);
      g_object_set (level, "interval", (guint64) 100 * GST_MSECOND, "post-messages", TRUE, NULL);
      g_object_set (sink, "sync", TRUE, NULL);
      gst_bin_add_many (GST_BIN (p->pipeline), mic, conv, level, sink, NULL);
      gst_element_link_many (mic, conv, level, sink, NULL);
    }
  else
    g_string_append (missing, "No microphone found: the doctor will not hear you. ");
  say_message (p, missing->len > 0 ? missing->str : "Your camera and microphone work if you see yourself and "
                                                    "the bar moves when you speak.");
  g_string_free (missing, TRUE);
  bus = gst_element_get_bus (p->pipeline);
  p->pipeline_bus = gst_bus_add_watch (bus, on_preview_bus, p);
  gst_object_unref (bus);
  if (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    say_message (p, "The camera or microphone cannot be started (is another program using it?).");
}

static void
on_changed (GtkComboBox *c, gpointer data)
{
  TvGtkPrecheck *p = data;
  if (!p->filling)
    rebuild_preview (p);
}

static void
on_test_sound (GtkWidget *b, gpointer data)
{
  TvGtkPrecheck *p = data;
  if (!tv_gtk_play_tone (chosen (p, p->speaker, p->speakers), 660.0))
    say_message (p, "The speaker cannot be opened.");
}

/* ---- network check -------------------------------------------------------------- */

static gboolean
net_free (gpointer data)
{
  TvGtkPrecheck *p = data;
  p->net_free_idle = 0;
  g_clear_pointer (&p->ws, tv_ws_client_free);
  g_clear_pointer (&p->hub, tv_ws_hub_free);
  gtk_widget_set_sensitive (p->net_button, TRUE);
  return G_SOURCE_REMOVE;
}

static void
net_finish (TvGtkPrecheck *p, const char *text)
{
  gtk_label_set_text (GTK_LABEL (p->net), text);
  printf ("network check %s\n", g_str_has_prefix (text, "Good") ? "ok" : "failed");
  fflush (stdout);
  if (p->net_free_idle == 0)
    p->net_free_idle = g_idle_add (net_free, p);
}

static void
net_opened (TvWsClient *ws, gpointer data)
{
  TvGtkPrecheck *p = data;
  double ms = (double) (g_get_monotonic_time () - p->net_started_us) / 1000.0;
  g_autofree char *text = g_strdup_printf ("Good: the clinic's server answered over a secure connection in %.0f ms.", ms);
  net_finish (p, text);
}

static void
net_closed (TvWsClient *ws, int code, const GError *error, gpointer data)
{
  TvGtkPrecheck *p = data;
  g_autofree char *text = g_strdup_printf ("The clinic's server cannot be reached: %s",
                                           error != NULL ? error->message : "closed");
  if (p->net_free_idle == 0)
    net_finish (p, text);
}

static const TvWsClientCallbacks net_callbacks = { .opened = net_opened, .closed = net_closed };

void
tv_gtk_precheck_network (TvGtkPrecheck *p)
{
  g_autoptr (GError) error = NULL;
  const char *url;

  if (p->hub != NULL)
    return;  /* one check at a time */
  url = p->app->server_url ? p->app->server_url
                    : p->app->opts->server_url ? p->app->opts->server_url : p->app->settings.server_url;

  if (url == NULL)
    {
      gtk_label_set_text (GTK_LABEL (p->net), "Paste your join link on the start screen first: it names the server.");
      return;
    }
  p->hub = tv_ws_hub_new (p->app->cfg.ca_file, p->app->cfg.insecure, &error);
  if (p->hub != NULL)
    {
      p->net_started_us = g_get_monotonic_time ();
      p->ws = tv_ws_client_connect (p->hub, url, &net_callbacks, p, &error);
    }
  if (p->ws == NULL)
    {
      g_autofree char *text = g_strdup_printf ("The clinic's server cannot be reached: %s", error->message);
      net_finish (p, text);
      return;
    }
  gtk_widget_set_sensitive (p->net_button, FALSE);
  gtk_label_set_text (GTK_LABEL (p->net), "Checking…");
}

static void
on_net_check (GtkWidget *b, gpointer data)
{
  tv_gtk_precheck_network (data);
}

/* ---- page ------------------------------------------------------------------- */

static void
keep_choice (TvGtkPrecheck *p, GtkWidget *combo, GPtrArray *devices, GstDevice **slot, char **name)
{
  GstDevice *d = chosen (p, combo, devices);

  if (*slot != NULL)
    g_ptr_array_add (p->app->old_devices, g_steal_pointer (slot));
  g_free (*name);
  *name = NULL;
  if (d != NULL)
    {
      *slot = gst_object_ref (d);
      *name = gst_device_get_display_name (d);
    }
}

static void
on_use (GtkWidget *b, gpointer data)
{
  TvGtkPrecheck *p = data;
  TvGtkApp *app = p->app;

  keep_choice (p, p->camera, p->cameras, &app->camera, &app->settings.camera);
  keep_choice (p, p->mic, p->mics, &app->microphone, &app->settings.microphone);
  keep_choice (p, p->speaker, p->speakers, &app->speaker, &app->settings.speaker);
  app->cfg.media.camera = app->camera;
  app->cfg.media.microphone = app->microphone;
  app->cfg.media.speaker = app->speaker;
  tv_gtk_settings_save (&app->settings);
  tv_gtk_app_show (app, "start");
}

void
tv_gtk_precheck_activate (TvGtkPrecheck *p, gboolean on)
{
  p->active = on;
  if (on)
    {
      if (p->monitor_bus == 0)
        {
          GstBus *bus = gst_device_monitor_get_bus (p->monitor);
          p->monitor_bus = gst_bus_add_watch (bus, on_monitor_bus, p);
          gst_object_unref (bus);
        }
      if (!gst_device_monitor_start (p->monitor))
        say_message (p, "The list of devices is not available; the default devices are used.");
      fill_all (p);
      rebuild_preview (p);
    }
  else
    {
      stop_preview (p);
      gst_device_monitor_stop (p->monitor);
    }
}

static GtkWidget *
labelled (GtkWidget *grid, int row, const char *text, GtkWidget *w)
{
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), 0.0);
  gtk_grid_attach (GTK_GRID (grid), l, 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), w, 1, row, 1, 1);
  gtk_widget_set_hexpand (w, TRUE);
  return w;
}

GtkWidget *
tv_gtk_precheck_new (TvGtkApp *app, TvGtkPrecheck **out)
{
  TvGtkPrecheck *p = g_new0 (TvGtkPrecheck, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  GtkWidget *grid = gtk_grid_new ();
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *sound = gtk_button_new_with_label ("Test sound");
  GtkWidget *use = gtk_button_new_with_mnemonic ("_Use these");

  p->app = app;
  p->cameras = g_ptr_array_new_with_free_func (gst_object_unref);
  p->mics = g_ptr_array_new_with_free_func (gst_object_unref);
  p->speakers = g_ptr_array_new_with_free_func (gst_object_unref);
  p->monitor = gst_device_monitor_new ();
  gst_device_monitor_add_filter (p->monitor, "Video/Source", NULL);
  gst_device_monitor_add_filter (p->monitor, "Audio/Source", NULL);
  gst_device_monitor_add_filter (p->monitor, "Audio/Sink", NULL);

  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  p->camera = labelled (grid, 0, "Camera", gtk_combo_box_text_new ());
  p->mic = labelled (grid, 1, "Microphone", gtk_combo_box_text_new ());
  p->speaker = labelled (grid, 2, "Speaker", gtk_combo_box_text_new ());
  p->meter = labelled (grid, 3, "Microphone level", gtk_level_bar_new_for_interval (0.0, 1.0));
  g_signal_connect (p->camera, "changed", G_CALLBACK (on_changed), p);
  g_signal_connect (p->mic, "changed", G_CALLBACK (on_changed), p);
  p->preview_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_widget_set_vexpand (p->preview_box, TRUE);
  p->message = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (p->message), TRUE);
  p->net = gtk_label_new ("");
  gtk_label_set_line_wrap (GTK_LABEL (p->net), TRUE);
  p->net_button = gtk_button_new_with_label ("Check the network");
  g_signal_connect (p->net_button, "clicked", G_CALLBACK (on_net_check), p);
  g_signal_connect (sound, "clicked", G_CALLBACK (on_test_sound), p);
  g_signal_connect (use, "clicked", G_CALLBACK (on_use), p);
  gtk_style_context_add_class (gtk_widget_get_style_context (use), GTK_STYLE_CLASS_SUGGESTED_ACTION);
  gtk_box_pack_start (GTK_BOX (buttons), sound, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (buttons), p->net_button, FALSE, FALSE, 0);
  gtk_box_pack_end (GTK_BOX (buttons), use, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), grid, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), p->preview_box, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (box), p->message, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), p->net, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), buttons, FALSE, FALSE, 0);
  *out = p;
  return box;
}

void
tv_gtk_precheck_free (TvGtkPrecheck *p)
{
  if (p == NULL)
    return;
  stop_preview (p);
  if (p->monitor_bus != 0)
    g_source_remove (p->monitor_bus);
  gst_device_monitor_stop (p->monitor);
  gst_object_unref (p->monitor);
  if (p->net_free_idle != 0)
    g_source_remove (p->net_free_idle);
  g_clear_pointer (&p->ws, tv_ws_client_free);
  g_clear_pointer (&p->hub, tv_ws_hub_free);
  g_ptr_array_unref (p->cameras);
  g_ptr_array_unref (p->mics);
  g_ptr_array_unref (p->speakers);
  g_free (p);
}
