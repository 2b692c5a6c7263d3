/* tv-gtk-facts.c — the doctor's "how is this visit held" controls in the call view.
 *
 * Billing needs three facts of every consult (PROTOCOL.md 3.27): the
 * modality (video, or audio only with a reason), where the patient is (home
 * or another place) and whether they are a new or an established patient.
 * This bar under the call shows them as the server has them (filled from
 * "facts-saved"), and Save sends what the doctor chose through
 * tv_client_session_send_facts(); the server answers "facts-saved" (shown as
 * "Saved") or an error (the session logs it). The reason entry appears with
 * "Audio only" and must not be empty then. Doctors only; main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include <string.h>

#include "client/tv-gtk-private.h"

struct _TvGtkFacts {
  TvGtkApp *app;
  GtkWidget *box, *modality, *reason, *location, *status, *save, *state;
};

static void
on_modality (GtkComboBox *c, gpointer data)
{
  TvGtkFacts *f = data;
  gtk_widget_set_visible (f->reason, g_strcmp0 (gtk_combo_box_get_active_id (c), "audio-only") == 0);
  gtk_label_set_text (GTK_LABEL (f->state), "");
}

static void
on_changed (GtkWidget *w, gpointer data)
{
  TvGtkFacts *f = data;
  gtk_label_set_text (GTK_LABEL (f->state), "");
}

static void
on_save (GtkWidget *w, gpointer data)
{
  TvGtkFacts *f = data;
  const char *modality = gtk_combo_box_get_active_id (GTK_COMBO_BOX (f->modality));
  const char *reason = NULL;

  if (g_strcmp0 (modality, "audio-only") == 0)
    {
      reason = gtk_entry_get_text (GTK_ENTRY (f->reason));
      if (*reason == '\0')
        {
          gtk_label_set_text (GTK_LABEL (f->state), "Say why the visit is audio only.");
          return;
        }
    }
  if (f->app->session == NULL
      || !tv_client_session_send_facts (f->app->session, modality, reason,
                                        gtk_combo_box_get_active_id (GTK_COMBO_BOX (f->location)),
                                        gtk_combo_box_get_active_id (GTK_COMBO_BOX (f->status))))
    {
      gtk_label_set_text (GTK_LABEL (f->state), "Not saved (not in a visit, or a value is not allowed).");
      return;
    }
  gtk_label_set_text (GTK_LABEL (f->state), "Saving…");
}

gboolean
tv_gtk_facts_submit (TvGtkFacts *f, const char *modality, const char *location, const char *status,
                     const char *reason)
{
  if (!gtk_combo_box_set_active_id (GTK_COMBO_BOX (f->modality), modality)
      || !gtk_combo_box_set_active_id (GTK_COMBO_BOX (f->location), location)
      || !gtk_combo_box_set_active_id (GTK_COMBO_BOX (f->status), status))
    return FALSE;
  gtk_entry_set_text (GTK_ENTRY (f->reason), reason != NULL ? reason : "");
  on_save (f->save, f);
  return TRUE;
}

void
tv_gtk_facts_saved (TvGtkFacts *f, const TvSigMsg *msg)
{
  gtk_combo_box_set_active_id (GTK_COMBO_BOX (f->modality), msg->modality);
  gtk_combo_box_set_active_id (GTK_COMBO_BOX (f->location), msg->patient_location);
  gtk_combo_box_set_active_id (GTK_COMBO_BOX (f->status), msg->patient_status);
  gtk_entry_set_text (GTK_ENTRY (f->reason), msg->audio_only_reason != NULL ? msg->audio_only_reason : "");
  gtk_label_set_text (GTK_LABEL (f->state), "Saved.");
}

static GtkWidget *
combo (const char *const *pairs)
{
  GtkWidget *c = gtk_combo_box_text_new ();
  for (const char *const *p = pairs; *p != NULL; p += 2)
    gtk_combo_box_text_append (GTK_COMBO_BOX_TEXT (c), p[0], p[1]);
  gtk_combo_box_set_active (GTK_COMBO_BOX (c), 0);
  return c;
}

GtkWidget *
tv_gtk_facts_new (TvGtkApp *app, TvGtkFacts **out)
{
  static const char *const modalities[] = { "audio-video", "Video visit", "audio-only", "Audio only", NULL };
  static const char *const locations[] = { "home", "Patient at home", "other", "Patient elsewhere", NULL };
  static const char *const statuses[] = { "established", "Established patient", "new", "New patient", NULL };
  TvGtkFacts *f = g_new0 (TvGtkFacts, 1);

  f->app = app;
  f->box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_container_set_border_width (GTK_CONTAINER (f->box), 6);
  f->modality = combo (modalities);
  f->reason = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (f->reason), "why audio only");
  gtk_entry_set_max_length (GTK_ENTRY (f->reason), 200);
  gtk_widget_set_no_show_all (f->reason, TRUE);
  f->location = combo (locations);
  f->status = combo (statuses);
  f->save = gtk_button_new_with_label ("Save visit details");
  f->state = gtk_label_new ("");
  g_signal_connect (f->modality, "changed", G_CALLBACK (on_modality), f);
  g_signal_connect (f->location, "changed", G_CALLBACK (on_changed), f);
  g_signal_connect (f->status, "changed", G_CALLBACK (on_changed), f);
  g_signal_connect (f->save, "clicked", G_CALLBACK (on_save), f);
  gtk_box_pack_start (GTK_BOX (f->box), gtk_label_new ("Billing:"), FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (f->box), f->modality, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (f->box), f->reason, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (f->box), f->location, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (f->box), f->status, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (f->box), f->save, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (f->box), f->state, FALSE, FALSE, 0);
  /* Children shown now; the bar itself only for doctors (tv-gtk-call). */
  gtk_widget_show_all (f->box);
  gtk_widget_hide (f->box);
  gtk_widget_set_no_show_all (f->box, TRUE);
  *out = f;
  return f->box;
}

void
tv_gtk_facts_free (TvGtkFacts *f)
{
  g_free (f);
}
