/* tv-api-chat.c — GET /api/v1/consults/{id}/chat: a consult's in-call chat.
 *
 * Why: the chat is part of the visit's record (issue 5). The consult's doctor
 * and admins read it back (for the notes, for a complaint); patients see it in
 * the call itself, and other doctors, schedulers and billing have no need for
 * it. Like every request behind a login the router audits it, with the
 * consult's patient as the patient concerned.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api"

#include "server/tv-api.h"
#include "server/tv-store-chat.h"

#include <string.h>

static void
handle_chat (TvHttpRequest *req, gpointer user_data)
{
  TvStore *store = tv_http_request_store (req);
  const TvUser *me = tv_http_request_user (req);
  const char *id = tv_http_request_param (req, "id");
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;

  if (!tv_store_consult_get (store, id, &c, &error)) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      tv_http_reply_error (req, 404, "not_found", "no consult with that id");
    else
      tv_http_reply_store_error (req, error, "consult get");
    return;
  }
  gboolean own = (me->roles & TV_ROLE_DOCTOR) && g_strcmp0 (c->doctor_id, me->id) == 0;
  if (!own && !(me->roles & TV_ROLE_ADMIN)) {
    tv_http_reply_error (req, 403, "forbidden", "only the consult's doctor or an admin may read its chat");
    return;
  }
  g_autoptr (GPtrArray) msgs = tv_store_chat_list (store, id, &error);
  if (msgs == NULL) {
    tv_http_reply_store_error (req, error, "chat list");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "consult_id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "chat");
  json_builder_begin_array (b);
  for (guint i = 0; i < msgs->len; i++) {
    const TvChatMessage *m = g_ptr_array_index (msgs, i);
    g_autofree char *at = tv_http_format_time (m->sent_at);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, m->id);
    json_builder_set_member_name (b, "at");
    json_builder_add_string_value (b, at);
    json_builder_set_member_name (b, "from");
    json_builder_add_string_value (b, m->sender_role);
    json_builder_set_member_name (b, "text");
    json_builder_add_string_value (b, m->text);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static const TvHttpRoute chat_routes[] = {
  { "GET", "/api/v1/consults/{id}/chat", TV_ROLE_DOCTOR | TV_ROLE_ADMIN, handle_chat },
};

void
tv_server_api_chat_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, chat_routes, G_N_ELEMENTS (chat_routes), server);
}
