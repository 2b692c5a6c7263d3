/* tv-gtk-start.c — the start screen: paste a join link, or log in.
 *
 * Patients paste (or drop) the link from their invitation
 * (https://HOST:PORT/join#token=...) and press Join (a bare token, as
 * televisitctl create prints it, works with the server filled in below). Or they log in with
 * their account: the window lists their upcoming visits (GET
 * /api/v1/me/visits, each with its current join link), logs the API session
 * out at once (the link is all a visit needs) and a Join button per visit
 * joins it. Doctors log in the same way (that endpoint answers 403 for them)
 * and get today's queue. The login is blocking libcurl (tv_client_login, up
 * to 20 s per request), so it runs in a GTask thread and the form stays
 * responsive; the password is wiped from the entry and from memory as soon as
 * it was sent. "Check camera and microphone" opens the pre-call check. Main
 * thread except the login worker (which touches no widget).
 */
#define G_LOG_DOMAIN "tv-client"

#include <stdio.h>
#include <string.h>

#include "client/tv-client-login.h"
#include "client/tv-gtk-private.h"

struct _TvGtkStart {
  TvGtkApp *app;
  GtkWidget *link, *join, *server, *user, *password, *login, *error, *visits_title, *visits;
  GPtrArray *links;   /* join link per visit row (NULL: not joinable now) */
  GCancellable *cancel;
};

typedef struct {
  char *doctor, *start, *link;
} Visit;

static void
visit_free (gpointer data)
{
  Visit *v = data;
  g_free (v->doctor);
  g_free (v->start);
  if (v->link != NULL)
    memset (v->link, 0, strlen (v->link));
  g_free (v->link);
  g_free (v);
}

typedef struct {
  char *server_url, *ca_file, *username, *password;
  gboolean insecure;
  TvClientExitCode code;
  GPtrArray *visits;  /* (element-type Visit) set for a patient account, NULL for a doctor */
} LoginJob;

static void
login_job_free (gpointer data)
{
  LoginJob *j = data;
  g_free (j->server_url);
  g_free (j->ca_file);
  g_free (j->username);
  if (j->password != NULL)
    memset (j->password, 0, strlen (j->password));
  g_free (j->password);
  if (j->visits != NULL)
    g_ptr_array_unref (j->visits);
  g_free (j);
}

static const char *
member_str (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  return n != NULL && json_node_get_value_type (n) == G_TYPE_STRING ? json_node_get_string (n) : NULL;
}

/* The "upcoming" array of /api/v1/me/visits. */
static GPtrArray *
parse_visits (JsonNode *reply)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (visit_free);
  JsonObject *o = json_node_get_object (reply);
  JsonNode *up = json_object_get_member (o, "upcoming");
  JsonArray *arr = up != NULL && JSON_NODE_HOLDS_ARRAY (up) ? json_node_get_array (up) : NULL;

  for (guint i = 0; arr != NULL && i < json_array_get_length (arr); i++)
    {
      JsonNode *n = json_array_get_element (arr, i);
      Visit *v;
      if (!JSON_NODE_HOLDS_OBJECT (n))
        continue;
      v = g_new0 (Visit, 1);
      v->doctor = g_strdup (member_str (json_node_get_object (n), "doctor"));
      v->start = g_strdup (member_str (json_node_get_object (n), "scheduled_start"));
      v->link = g_strdup (member_str (json_node_get_object (n), "join_link"));
      g_ptr_array_add (out, v);
    }
  return out;
}

static void
set_busy (TvGtkStart *s, gboolean busy)
{
  gtk_widget_set_sensitive (s->join, !busy);
  gtk_widget_set_sensitive (s->login, !busy);
  gtk_widget_set_sensitive (s->link, !busy);
  gtk_widget_set_sensitive (s->password, !busy);
}

void
tv_gtk_start_set_error (TvGtkStart *s, const char *text)
{
  gtk_label_set_text (GTK_LABEL (s->error), text != NULL ? text : "");
  gtk_widget_set_visible (s->error, text != NULL);
  set_busy (s, FALSE);
  if (text != NULL)
    {
      printf ("start error: %s\n", text);
      fflush (stdout);
    }
}

/* A join token as televisitctl prints it: 16..128 characters of base64url. */
static gboolean
looks_like_token (const char *text)
{
  g_autofree char *t = g_strstrip (g_strdup (text));
  gsize n = strlen (t);

  if (n < 16 || n > 128)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (t[i]) && t[i] != '-' && t[i] != '_')
      return FALSE;
  return TRUE;
}

/* The wss:// server of the login form, for a bare token. */
static gboolean
server_from_entry (TvGtkStart *s, char **server)
{
  const char *text = gtk_entry_get_text (GTK_ENTRY (s->server));
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "wss") != 0 || g_uri_get_host (uri) == NULL)
    return FALSE;
  g_free (*server);
  *server = g_strdup (text);
  return TRUE;
}

static void
on_join (GtkWidget *w, gpointer data)
{
  TvGtkStart *s = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *server = NULL, *token = NULL;
  const char *text = gtk_entry_get_text (GTK_ENTRY (s->link));

  if (*text == '\0')
    {
      tv_gtk_start_set_error (s, "Paste the join link from your invitation first.");
      return;
    }
  if (!tv_client_join_link_parse (text, &server, &token, &error) && looks_like_token (text)
      && server_from_entry (s, &server))
    token = g_strstrip (g_strdup (text));  /* a bare token (televisitctl create) with the server below */
  if (token == NULL)
    {
      /* The message names --join-link; the window's user pasted a link. */
      tv_gtk_start_set_error (s, "This is not a Televisit join link. It looks like "
                                 "https://clinic.example:8443/join#token=...");
      return;
    }
  tv_gtk_start_set_error (s, NULL);
  set_busy (s, TRUE);
  tv_gtk_app_join (s->app, server, token);
  memset (token, 0, strlen (token));
  /* The link holds the token: not left on screen for the next person. */
  gtk_entry_set_text (GTK_ENTRY (s->link), "");
}

void
tv_gtk_start_submit_link (TvGtkStart *s, const char *link)
{
  gtk_entry_set_text (GTK_ENTRY (s->link), link);
  on_join (s->join, s);
}

static void
login_worker (GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
  LoginJob *j = data;
  GError *error = NULL;
  char *session = tv_client_login (j->server_url, j->ca_file, j->insecure, j->username, j->password, &j->code,
                                   &error);
  g_autoptr (JsonNode) visits = NULL;
  long status = 0;

  if (session == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* A patient account has visits; a doctor's gets 403 and keeps its session. */
  visits = tv_client_api_get (j->server_url, j->ca_file, j->insecure, session, "/api/v1/me/visits", &status, NULL);
  if (visits != NULL)
    {
      j->visits = parse_visits (visits);
      tv_client_logout (j->server_url, j->ca_file, j->insecure, session, NULL);
      memset (session, 0, strlen (session));
      g_free (session);
      g_task_return_pointer (task, g_strdup (""), g_free);
      return;
    }
  g_task_return_pointer (task, session, g_free);
}

static void
on_visit_join (GtkWidget *b, gpointer data)
{
  TvGtkStart *s = data;
  guint n = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (b), "tv-visit"));
  tv_gtk_start_join_visit (s, n);
}

gboolean
tv_gtk_start_join_visit (TvGtkStart *s, guint n)
{
  const char *link;

  if (n == 0 || n > s->links->len || (link = g_ptr_array_index (s->links, n - 1)) == NULL)
    return FALSE;
  tv_gtk_start_submit_link (s, link);
  return TRUE;
}

/* A patient logged in: their upcoming visits, each with a Join button. */
static void
show_visits (TvGtkStart *s, GPtrArray *visits)
{
  g_autoptr (GList) rows = gtk_container_get_children (GTK_CONTAINER (s->visits));

  for (GList *r = rows; r != NULL; r = r->next)
    gtk_widget_destroy (r->data);
  g_ptr_array_set_size (s->links, 0);
  for (guint i = 0; i < visits->len; i++)
    {
      const Visit *v = g_ptr_array_index (visits, i);
      g_autoptr (GDateTime) dt = v->start != NULL ? g_date_time_new_from_iso8601 (v->start, NULL) : NULL;
      g_autoptr (GDateTime) local = dt != NULL ? g_date_time_to_local (dt) : NULL;
      g_autofree char *when = local != NULL ? g_date_time_format (local, "%a %d %b, %H:%M") : g_strdup ("");
      g_autofree char *text = g_strdup_printf ("%s — %s", when, v->doctor != NULL ? v->doctor : "");
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      GtkWidget *label = gtk_label_new (text);
      GtkWidget *b = gtk_button_new_with_label (v->link != NULL ? "Join" : "Not open yet");

      gtk_label_set_xalign (GTK_LABEL (label), 0.0);
      gtk_widget_set_sensitive (b, v->link != NULL);
      g_object_set_data (G_OBJECT (b), "tv-visit", GUINT_TO_POINTER (i + 1));
      g_signal_connect (b, "clicked", G_CALLBACK (on_visit_join), s);
      gtk_box_pack_start (GTK_BOX (row), label, TRUE, TRUE, 0);
      gtk_box_pack_end (GTK_BOX (row), b, FALSE, FALSE, 0);
      gtk_container_set_border_width (GTK_CONTAINER (row), 4);
      gtk_list_box_insert (GTK_LIST_BOX (s->visits), row, -1);
      g_ptr_array_add (s->links, g_strdup (v->link));
    }
  gtk_label_set_text (GTK_LABEL (s->visits_title), visits->len > 0 ? "Your upcoming visits" : "You have no upcoming visits.");
  gtk_widget_show (s->visits_title);
  gtk_widget_show_all (s->visits);
  printf ("visits upcoming=%u\n", visits->len);
  fflush (stdout);
}

static void
login_done (GObject *source, GAsyncResult *res, gpointer data)
{
  TvGtkStart *s = data;
  GTask *task = G_TASK (res);
  LoginJob *j = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  char *session = g_task_propagate_pointer (task, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (session == NULL)
    {
      tv_gtk_start_set_error (s, j->code == TV_CLIENT_EXIT_JOIN_REFUSED
                                   ? "Wrong user name or password (or the account is locked)."
                                   : error->message);
      return;
    }
  g_free (s->app->settings.username);
  s->app->settings.username = g_strdup (j->username);
  g_free (s->app->settings.server_url);
  s->app->settings.server_url = g_strdup (j->server_url);
  tv_gtk_start_set_error (s, NULL);
  if (j->visits != NULL)
    {
      g_free (session);
      show_visits (s, j->visits);
      return;
    }
  tv_gtk_app_take_login (s->app, j->server_url, session);
}

void
tv_gtk_start_login (TvGtkStart *s, const char *user, const char *password)
{
  gtk_entry_set_text (GTK_ENTRY (s->user), user);
  gtk_entry_set_text (GTK_ENTRY (s->password), password);
  gtk_widget_activate (s->login);
}

static void
on_login (GtkWidget *w, gpointer data)
{
  TvGtkStart *s = data;
  g_autoptr (GTask) task = NULL;
  g_autoptr (GError) error = NULL;
  LoginJob *j;
  const char *server = gtk_entry_get_text (GTK_ENTRY (s->server));
  const char *user = gtk_entry_get_text (GTK_ENTRY (s->user));
  const char *pw = gtk_entry_get_text (GTK_ENTRY (s->password));
  g_autoptr (GUri) uri = g_uri_parse (server, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "wss") != 0 || g_uri_get_host (uri) == NULL)
    {
      tv_gtk_start_set_error (s, "The server is a wss://HOST:PORT address (ask your clinic).");
      return;
    }
  if (*user == '\0' || *pw == '\0')
    {
      tv_gtk_start_set_error (s, "Enter your user name and password.");
      return;
    }
  j = g_new0 (LoginJob, 1);
  j->server_url = g_strdup (server);
  j->ca_file = g_strdup (s->app->cfg.ca_file);
  j->insecure = s->app->cfg.insecure;
  j->username = g_strdup (user);
  j->password = g_strdup (pw);
  /* The entry's copy goes at once; ours is wiped by login_job_free. */
  gtk_entry_set_text (GTK_ENTRY (s->password), "");
  tv_gtk_app_banner (s->app, NULL, GTK_MESSAGE_INFO);
  tv_gtk_start_set_error (s, NULL);
  set_busy (s, TRUE);
  task = g_task_new (NULL, s->cancel, login_done, s);
  g_task_set_task_data (task, j, login_job_free);
  g_task_run_in_thread (task, login_worker);
}

static void
on_precheck (GtkWidget *w, gpointer data)
{
  TvGtkStart *s = data;
  tv_gtk_app_show (s->app, "precheck");
}

static GtkWidget *
heading (const char *markup)
{
  GtkWidget *l = gtk_label_new (NULL);
  gtk_label_set_markup (GTK_LABEL (l), markup);
  gtk_widget_set_halign (l, GTK_ALIGN_START);
  return l;
}

GtkWidget *
tv_gtk_start_new (TvGtkApp *app, TvGtkStart **out)
{
  TvGtkStart *s = g_new0 (TvGtkStart, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 10);
  GtkWidget *grid = gtk_grid_new ();
  GtkWidget *row, *check;
  const TvClientOptions *o = app->opts;

  s->app = app;
  s->cancel = g_cancellable_new ();
  gtk_widget_set_halign (box, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
  gtk_widget_set_size_request (box, 460, -1);

  gtk_box_pack_start (GTK_BOX (box), heading ("<span size='x-large' weight='bold'>Televisit</span>"), FALSE,
                      FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), heading ("<b>Join your visit</b> — paste the link from your invitation"),
                      FALSE, FALSE, 0);
  row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  s->link = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (s->link), "https://clinic.example:8443/join#token=...");
  gtk_entry_set_input_purpose (GTK_ENTRY (s->link), GTK_INPUT_PURPOSE_URL);
  gtk_widget_set_hexpand (s->link, TRUE);
  s->join = gtk_button_new_with_mnemonic ("_Join");
  gtk_style_context_add_class (gtk_widget_get_style_context (s->join), GTK_STYLE_CLASS_SUGGESTED_ACTION);
  g_signal_connect (s->join, "clicked", G_CALLBACK (on_join), s);
  g_signal_connect (s->link, "activate", G_CALLBACK (on_join), s);
  gtk_box_pack_start (GTK_BOX (row), s->link, TRUE, TRUE, 0);
  gtk_box_pack_start (GTK_BOX (row), s->join, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), row, FALSE, FALSE, 0);

  check = gtk_button_new_with_mnemonic ("_Check camera, microphone and network");
  g_signal_connect (check, "clicked", G_CALLBACK (on_precheck), s);
  gtk_widget_set_halign (check, GTK_ALIGN_START);
  gtk_box_pack_start (GTK_BOX (box), check, FALSE, FALSE, 0);

  gtk_box_pack_start (GTK_BOX (box), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL), FALSE, FALSE, 8);
  gtk_box_pack_start (GTK_BOX (box), heading ("<b>Or log in</b> — patients see their visits, doctors today's queue"),
                      FALSE, FALSE, 0);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  s->server = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (s->server), "wss://clinic.example:8443");
  s->user = gtk_entry_new ();
  s->password = gtk_entry_new ();
  gtk_entry_set_visibility (GTK_ENTRY (s->password), FALSE);
  gtk_entry_set_input_purpose (GTK_ENTRY (s->password), GTK_INPUT_PURPOSE_PASSWORD);
  g_signal_connect (s->password, "activate", G_CALLBACK (on_login), s);
  s->login = gtk_button_new_with_mnemonic ("_Log in");
  g_signal_connect (s->login, "clicked", G_CALLBACK (on_login), s);
  gtk_grid_attach (GTK_GRID (grid), gtk_label_new ("Server"), 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), s->server, 1, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), gtk_label_new ("User name"), 0, 1, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), s->user, 1, 1, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), gtk_label_new ("Password"), 0, 2, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), s->password, 1, 2, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), s->login, 1, 3, 1, 1);
  gtk_widget_set_hexpand (s->server, TRUE);
  gtk_box_pack_start (GTK_BOX (box), grid, FALSE, FALSE, 0);

  s->error = gtk_label_new (NULL);
  gtk_label_set_line_wrap (GTK_LABEL (s->error), TRUE);
  gtk_style_context_add_class (gtk_widget_get_style_context (s->error), GTK_STYLE_CLASS_ERROR);
  gtk_widget_set_no_show_all (s->error, TRUE);
  gtk_box_pack_start (GTK_BOX (box), s->error, FALSE, FALSE, 0);
  s->visits_title = heading ("");
  gtk_widget_set_no_show_all (s->visits_title, TRUE);
  s->visits = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (s->visits), GTK_SELECTION_NONE);
  s->links = g_ptr_array_new_with_free_func (g_free);
  gtk_box_pack_start (GTK_BOX (box), s->visits_title, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), s->visits, FALSE, FALSE, 0);

  /* Prefill what we know: the command line first, then the last run. */
  if (o->server_url != NULL)
    gtk_entry_set_text (GTK_ENTRY (s->server), o->server_url);
  else if (app->settings.server_url != NULL)
    gtk_entry_set_text (GTK_ENTRY (s->server), app->settings.server_url);
  if (o->login != NULL)
    gtk_entry_set_text (GTK_ENTRY (s->user), o->login);
  else if (app->settings.username != NULL)
    gtk_entry_set_text (GTK_ENTRY (s->user), app->settings.username);

  *out = s;
  return box;
}

void
tv_gtk_start_free (TvGtkStart *s)
{
  if (s == NULL)
    return;
  g_cancellable_cancel (s->cancel);
  g_object_unref (s->cancel);
  g_ptr_array_unref (s->links);
  g_free (s);
}
