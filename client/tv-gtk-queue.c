/* tv-gtk-queue.c — the doctor's view of today: consults and waiting patients.
 *
 * Fed by the "dashboard" messages the session receives after "auth" (sent
 * whenever the queue changes): one row per consult of the doctor's day, with
 * its time, the patient's name, its state and how long the patient has been
 * waiting, and an Admit button for each patient in the waiting room. A
 * patient who was not waiting in the previous dashboard and is now makes a
 * short tone (tv_gtk_play_tone: audiotestsrc into the speaker; silent when
 * there is none) and a
 * desktop notification (GNotification; nothing happens without a
 * notification service). Patient names are shown here and printed on stdout
 * by the session's queue-item lines, never logged. Main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include "client/tv-gtk-private.h"

struct _TvGtkQueue {
  TvGtkApp *app;
  GtkWidget *title, *list, *empty;
  GPtrArray *ids;        /* consult id per row (NULL: nobody waiting there) */
  GHashTable *waiting;   /* consult ids waiting in the last dashboard */
  gboolean first;        /* no dashboard seen yet: no alert for who already waits */
};

static const char *
status_text (const TvSigDashboardItem *it)
{
  if (it->patient_present && it->waiting_since != NULL)
    return "waiting";
  if (g_strcmp0 (it->status, "in-progress") == 0)
    return "in the visit";
  return it->status != NULL ? it->status : "";
}

static gboolean
tone_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  GstElement *pipeline = data;
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    {
      gst_element_set_state (pipeline, GST_STATE_NULL);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

gboolean
tv_gtk_play_tone (GstDevice *speaker, double freq)
{
  GstElement *p = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("audiotestsrc", NULL);
  GstElement *conv = gst_element_factory_make ("audioconvert", NULL);
  GstElement *res = gst_element_factory_make ("audioresample", NULL);
  GstElement *sink = speaker != NULL ? gst_device_create_element (speaker, NULL)
                                     : gst_element_factory_make ("autoaudiosink", NULL);
  GstBus *bus;

  if (src == NULL || conv == NULL || res == NULL || sink == NULL)
    {
      g_clear_object (&src);
      g_clear_object (&conv);
      g_clear_object (&res);
      g_clear_object (&sink);
      gst_object_unref (p);
      return FALSE;
    }
  /* 0.4 s: twenty 20 ms buffers. */
  g_object_set (src, "num-buffers", 20, "samplesperbuffer", 960, "freq", freq, "volume", 0.3, NULL);
  gst_bin_add_many (GST_BIN (p), src, conv, res, sink, NULL);
  gst_element_link_many (src, conv, res, sink, NULL);
  bus = gst_element_get_bus (p);
  /* The watch owns the pipeline and drops it when the tone is over. */
  gst_bus_add_watch_full (bus, G_PRIORITY_DEFAULT, tone_bus, p, gst_object_unref);
  gst_object_unref (bus);
  return gst_element_set_state (p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE;
}

static void
notify_arrival (TvGtkQueue *q, const TvSigDashboardItem *it)
{
  g_autoptr (GNotification) n = g_notification_new ("A patient is waiting");
  g_autofree char *at = tv_gtk_hh_mm (it->scheduled_start);
  g_autofree char *body = g_strdup_printf ("%s (%s) is in the waiting room.", it->patient ? it->patient : "A patient",
                                           at ? at : "unscheduled");

  g_notification_set_body (n, body);
  g_notification_set_priority (n, G_NOTIFICATION_PRIORITY_HIGH);
  /* Without a session bus GIO's notification backends only complain. */
  if (g_application_get_dbus_connection (G_APPLICATION (q->app->gapp)) != NULL)
    g_application_send_notification (G_APPLICATION (q->app->gapp), "patient-waiting", n);
  tv_gtk_play_tone (q->app->speaker, 880.0);
  printf ("alert patient arrived consult=%s\n", it->consult_id);
  fflush (stdout);
}

gboolean
tv_gtk_queue_admit_nth (TvGtkQueue *q, guint n)
{
  const char *id;

  if (n == 0 || n > q->ids->len || (id = g_ptr_array_index (q->ids, n - 1)) == NULL || q->app->session == NULL)
    return FALSE;
  return tv_client_session_choose_consult (q->app->session, id);
}

static void
on_admit (GtkWidget *b, gpointer data)
{
  TvGtkQueue *q = data;
  guint n = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (b), "tv-row"));
  tv_gtk_queue_admit_nth (q, n);
}

static GtkWidget *
cell (const char *text, gboolean bold, int width_chars)
{
  GtkWidget *l = gtk_label_new (NULL);
  g_autofree char *m = g_markup_printf_escaped (bold ? "<b>%s</b>" : "%s", text ? text : "");
  gtk_label_set_markup (GTK_LABEL (l), m);
  gtk_label_set_xalign (GTK_LABEL (l), 0.0);
  gtk_label_set_width_chars (GTK_LABEL (l), width_chars);
  gtk_label_set_ellipsize (GTK_LABEL (l), PANGO_ELLIPSIZE_END);
  return l;
}

void
tv_gtk_queue_update (TvGtkQueue *q, const TvSigMsg *msg)
{
  g_autoptr (GList) rows = gtk_container_get_children (GTK_CONTAINER (q->list));
  g_autofree char *title = NULL;
  guint n = msg->items != NULL ? msg->items->len : 0, waiting = 0;

  for (GList *r = rows; r != NULL; r = r->next)
    gtk_widget_destroy (r->data);
  g_ptr_array_set_size (q->ids, 0);
  for (guint i = 0; i < n; i++)
    {
      const TvSigDashboardItem *it = g_ptr_array_index (msg->items, i);
      gboolean is_waiting = it->patient_present && it->waiting_since != NULL;
      g_autofree char *at = tv_gtk_hh_mm (it->scheduled_start);
      g_autofree char *since = tv_gtk_hh_mm (it->waiting_since);
      g_autofree char *since_text = since != NULL ? g_strdup_printf ("since %s", since) : g_strdup ("");
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);

      gtk_container_set_border_width (GTK_CONTAINER (row), 6);
      gtk_box_pack_start (GTK_BOX (row), cell (at ? at : "-", TRUE, 6), FALSE, FALSE, 0);
      gtk_box_pack_start (GTK_BOX (row), cell (it->patient, is_waiting, 24), TRUE, TRUE, 0);
      gtk_box_pack_start (GTK_BOX (row), cell (status_text (it), is_waiting, 12), FALSE, FALSE, 0);
      gtk_box_pack_start (GTK_BOX (row), cell (since_text, FALSE, 12), FALSE, FALSE, 0);
      if (is_waiting)
        {
          GtkWidget *b = gtk_button_new_with_label ("Admit");
          gtk_style_context_add_class (gtk_widget_get_style_context (b), GTK_STYLE_CLASS_SUGGESTED_ACTION);
          g_object_set_data (G_OBJECT (b), "tv-row", GUINT_TO_POINTER (i + 1));
          g_signal_connect (b, "clicked", G_CALLBACK (on_admit), q);
          gtk_box_pack_end (GTK_BOX (row), b, FALSE, FALSE, 0);
          waiting++;
          if (!q->first && !g_hash_table_contains (q->waiting, it->consult_id))
            notify_arrival (q, it);
        }
      gtk_list_box_insert (GTK_LIST_BOX (q->list), row, -1);
      g_ptr_array_add (q->ids, is_waiting ? g_strdup (it->consult_id) : NULL);
    }
  gtk_widget_show_all (q->list);
  gtk_widget_set_visible (q->empty, n == 0);
  title = g_markup_printf_escaped ("<span size='large' weight='bold'>Today, %s</span>   %u visit%s, %u waiting",
                                   msg->date ? msg->date : "", n, n == 1 ? "" : "s", waiting);
  gtk_label_set_markup (GTK_LABEL (q->title), title);
  g_hash_table_remove_all (q->waiting);
  for (guint i = 0; i < q->ids->len; i++)
    if (g_ptr_array_index (q->ids, i) != NULL)
      g_hash_table_add (q->waiting, g_strdup (g_ptr_array_index (q->ids, i)));
  q->first = FALSE;
}

GtkWidget *
tv_gtk_queue_new (TvGtkApp *app, TvGtkQueue **out)
{
  TvGtkQueue *q = g_new0 (TvGtkQueue, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  GtkWidget *scroll = gtk_scrolled_window_new (NULL, NULL);

  q->app = app;
  q->ids = g_ptr_array_new_with_free_func (g_free);
  q->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  q->first = TRUE;
  gtk_container_set_border_width (GTK_CONTAINER (box), 12);
  q->title = gtk_label_new ("Connecting to today's queue…");
  gtk_label_set_xalign (GTK_LABEL (q->title), 0.0);
  q->list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (q->list), GTK_SELECTION_NONE);
  q->empty = gtk_label_new ("No visits today.");
  gtk_widget_set_no_show_all (q->empty, TRUE);
  gtk_container_add (GTK_CONTAINER (scroll), q->list);
  gtk_widget_set_vexpand (scroll, TRUE);
  gtk_box_pack_start (GTK_BOX (box), q->title, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), q->empty, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), scroll, TRUE, TRUE, 0);
  *out = q;
  return box;
}

void
tv_gtk_queue_free (TvGtkQueue *q)
{
  if (q == NULL)
    return;
  g_ptr_array_unref (q->ids);
  g_hash_table_unref (q->waiting);
  g_free (q);
}
