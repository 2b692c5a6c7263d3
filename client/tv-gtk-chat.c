/* tv-gtk-chat.c — the in-call text chat panel, beside the video.
 *
 * Both parties write to each other during the visit (PROTOCOL.md 3.23-3.24):
 * Send hands the text to tv_client_session_send_chat(); what is shown comes
 * only from the server's "chat-message" (the sender's own copy confirms that
 * it was stored with the consult record), so both sides see the same list
 * in the same order. A reconnecting client gets the history replayed; ids
 * already shown are skipped. The text is personal data: shown here, never
 * logged, never printed (the stdout line names only the id and the sender).
 * Enter sends, Shift+Enter is not needed: messages are one line in the entry
 * (the list shows line breaks others sent). Main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include <stdio.h>
#include <string.h>

#include "client/tv-gtk-private.h"

struct _TvGtkChat {
  TvGtkApp *app;
  GtkWidget *box, *list, *scroll, *entry, *send, *state;
  gint64 last_id;   /* highest id shown */
  TvSigRole own;    /* our role, for "You" */
};

static gboolean
scroll_to_end (gpointer data)
{
  TvGtkChat *c = data;
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (c->scroll));
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj));
  return G_SOURCE_REMOVE;
}

void
tv_gtk_chat_add (TvGtkChat *c, const TvSigMsg *msg, TvSigRole own)
{
  g_autofree char *at = tv_gtk_hh_mm (msg->at);
  g_autofree char *head = NULL;
  GtkWidget *row, *who, *text;
  const char *name;

  if (msg->id <= c->last_id)
    return;  /* a replay of what we have */
  c->last_id = msg->id;
  name = msg->role == own ? "You" : msg->role == TV_SIG_ROLE_DOCTOR ? "Doctor" : "Patient";
  head = g_markup_printf_escaped ("<b>%s</b> <small>%s</small>", name, at != NULL ? at : "");
  row = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  who = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (who), head);
  gtk_label_set_xalign (GTK_LABEL (who), 0.0);
  text = gtk_label_new (msg->text);
  gtk_label_set_xalign (GTK_LABEL (text), 0.0);
  gtk_label_set_line_wrap (GTK_LABEL (text), TRUE);
  gtk_label_set_line_wrap_mode (GTK_LABEL (text), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (text), TRUE);
  gtk_box_pack_start (GTK_BOX (row), who, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (row), text, FALSE, FALSE, 0);
  gtk_container_set_border_width (GTK_CONTAINER (row), 4);
  gtk_list_box_insert (GTK_LIST_BOX (c->list), row, -1);
  gtk_widget_show_all (row);
  /* After the new row has its size. */
  g_idle_add_full (G_PRIORITY_LOW, scroll_to_end, c, NULL);
  printf ("chat shown id=%" G_GINT64_FORMAT " from=%s\n", msg->id, msg->role == own ? "me" : "peer");
  fflush (stdout);
}

gboolean
tv_gtk_chat_send (TvGtkChat *c, const char *text)
{
  g_autoptr (GError) error = NULL;

  if (c->app->session == NULL || *text == '\0')
    return FALSE;
  if (!tv_client_session_send_chat (c->app->session, text, &error))
    {
      gtk_label_set_text (GTK_LABEL (c->state), error != NULL ? error->message : "Not sent.");
      return FALSE;
    }
  gtk_label_set_text (GTK_LABEL (c->state), "");
  gtk_entry_set_text (GTK_ENTRY (c->entry), "");
  return TRUE;
}

static void
on_send (GtkWidget *w, gpointer data)
{
  TvGtkChat *c = data;
  g_autofree char *text = g_strdup (gtk_entry_get_text (GTK_ENTRY (c->entry)));
  tv_gtk_chat_send (c, g_strstrip (text));
}

GtkWidget *
tv_gtk_chat_new (TvGtkApp *app, TvGtkChat **out)
{
  TvGtkChat *c = g_new0 (TvGtkChat, 1);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  GtkWidget *title = gtk_label_new (NULL);

  c->app = app;
  c->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 4);
  gtk_container_set_border_width (GTK_CONTAINER (c->box), 6);
  gtk_widget_set_size_request (c->box, 240, -1);
  gtk_label_set_markup (GTK_LABEL (title), "<b>Chat</b> <small>(kept with the visit)</small>");
  gtk_label_set_xalign (GTK_LABEL (title), 0.0);
  c->list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (c->list), GTK_SELECTION_NONE);
  c->scroll = gtk_scrolled_window_new (NULL, NULL);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (c->scroll), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_container_add (GTK_CONTAINER (c->scroll), c->list);
  gtk_widget_set_vexpand (c->scroll, TRUE);
  c->entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (c->entry), "Write a message");
  gtk_entry_set_max_length (GTK_ENTRY (c->entry), 2000);
  c->send = gtk_button_new_with_label ("Send");
  c->state = gtk_label_new ("");
  gtk_label_set_line_wrap (GTK_LABEL (c->state), TRUE);
  g_signal_connect (c->entry, "activate", G_CALLBACK (on_send), c);
  g_signal_connect (c->send, "clicked", G_CALLBACK (on_send), c);
  gtk_box_pack_start (GTK_BOX (row), c->entry, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (row), c->send, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (c->box), title, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (c->box), c->scroll, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (c->box), c->state, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (c->box), row, FALSE, FALSE, 0);
  *out = c;
  return c->box;
}

/* A new session: a new consult's chat. */
void
tv_gtk_chat_clear (TvGtkChat *c)
{
  g_autoptr (GList) rows = gtk_container_get_children (GTK_CONTAINER (c->list));
  for (GList *r = rows; r != NULL; r = r->next)
    gtk_widget_destroy (r->data);
  c->last_id = 0;
  gtk_label_set_text (GTK_LABEL (c->state), "");
}

void
tv_gtk_chat_free (TvGtkChat *c)
{
  g_free (c);
}
