/* tv-gtk-waiting.c — the patient's waiting room screen.
 *
 * Shown from "connecting" until the doctor admits the patient ("paired"):
 * the doctor's name and the scheduled time from the server's "waiting"
 * message, whether the doctor is already in ("doctor-ready"), a spinner so
 * the patient sees that something is alive, and a Leave button. Main thread
 * only.
 */
#define G_LOG_DOMAIN "tv-client"

#include "client/tv-gtk-private.h"

struct _TvGtkWaiting {
  TvGtkApp *app;
  GtkWidget *title, *when, *status, *spinner;
};

char *
tv_gtk_hh_mm (const char *rfc3339)
{
  g_autoptr (GDateTime) dt = rfc3339 != NULL ? g_date_time_new_from_iso8601 (rfc3339, NULL) : NULL;
  g_autoptr (GDateTime) local = dt != NULL ? g_date_time_to_local (dt) : NULL;
  return local != NULL ? g_date_time_format (local, "%H:%M") : NULL;
}

void
tv_gtk_waiting_update (TvGtkWaiting *w, const char *doctor, const char *scheduled_start, gboolean doctor_present)
{
  g_autofree char *title = NULL, *markup = NULL, *at = tv_gtk_hh_mm (scheduled_start);

  title = doctor != NULL ? g_strdup_printf ("Your visit with %s", doctor) : g_strdup ("Your visit");
  markup = g_markup_printf_escaped ("<span size='x-large' weight='bold'>%s</span>", title);
  gtk_label_set_markup (GTK_LABEL (w->title), markup);
  if (at != NULL)
    {
      g_autofree char *when = g_strdup_printf ("Scheduled for %s", at);
      gtk_label_set_text (GTK_LABEL (w->when), when);
    }
  gtk_widget_set_visible (w->when, at != NULL);
  gtk_label_set_text (GTK_LABEL (w->status), doctor_present
                                               ? "The doctor is ready and will let you in in a moment."
                                               : "You are in the waiting room. The doctor will let you in.");
  gtk_spinner_start (GTK_SPINNER (w->spinner));
}

static void
on_leave (GtkWidget *b, gpointer data)
{
  TvGtkWaiting *w = data;
  tv_gtk_app_hang_up (w->app, FALSE);
}

GtkWidget *
tv_gtk_waiting_new (TvGtkApp *app, TvGtkWaiting **out)
{
  TvGtkWaiting *w = g_new0 (TvGtkWaiting, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *leave = gtk_button_new_with_mnemonic ("_Leave the waiting room");

  w->app = app;
  gtk_widget_set_halign (box, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
  w->title = gtk_label_new (NULL);
  w->when = gtk_label_new (NULL);
  gtk_widget_set_no_show_all (w->when, TRUE);
  w->spinner = gtk_spinner_new ();
  gtk_widget_set_size_request (w->spinner, 48, 48);
  w->status = gtk_label_new ("Connecting…");
  gtk_label_set_line_wrap (GTK_LABEL (w->status), TRUE);
  g_signal_connect (leave, "clicked", G_CALLBACK (on_leave), w);
  gtk_widget_set_halign (leave, GTK_ALIGN_CENTER);
  gtk_box_pack_start (GTK_BOX (box), w->title, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), w->when, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), w->spinner, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), w->status, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), leave, FALSE, FALSE, 12);
  tv_gtk_waiting_update (w, NULL, NULL, FALSE);
  gtk_label_set_text (GTK_LABEL (w->status), "Connecting…");
  *out = w;
  return box;
}

void
tv_gtk_waiting_free (TvGtkWaiting *w)
{
  g_free (w);
}
