/* tv-api-contacts.c — GET/PUT /api/v1/users/{id}/contact, and the reminder list of a consult as JSON.
 *
 * Why: reminders need the patient's e-mail address; the phone number is kept
 * beside it for the front desk. Who may do what (the router has already
 * checked that the user is logged in; the per-record rules are here):
 *   read:   oneself; admin; scheduler for patients and doctors.
 *   change: oneself; admin; scheduler for patients and doctors.
 * Body of PUT: {"email": "...", "phone": "..."}; a member left out keeps the
 * current value, null or "" clears it. Contact details are personal data:
 * they go into replies only, never into logs; each request is audited by the
 * router (the patient named when the account is a patient's).
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api-contacts"

#include "server/tv-api.h"
#include "server/tv-store-reminders.h"

#include <string.h>

static gboolean
may_access (const TvUser *me, const TvUser *target)
{
  if (strcmp (me->id, target->id) == 0 || (me->roles & TV_ROLE_ADMIN))
    return TRUE;
  return (me->roles & TV_ROLE_SCHEDULER) && (target->roles & (TV_ROLE_PATIENT | TV_ROLE_DOCTOR));
}

/* The user of the path if the requester may access their contact details
 * (else replied 404 / 403 and NULL). */
static TvUser *
load_target (TvHttpRequest *req)
{
  const char *id = tv_http_request_param (req, "id");
  if (id == NULL || !g_uuid_string_is_valid (id)) {
    tv_http_reply_error (req, 404, "not_found", "no such user");
    return NULL;
  }
  g_autoptr (GError) error = NULL;
  TvUser *target = NULL;
  if (!tv_store_user_get (tv_http_request_store (req), id, &target, &error)) {
    tv_http_reply_store_error (req, error, "user get");
    return NULL;
  }
  if (target->roles & TV_ROLE_PATIENT)
    tv_http_request_audit (req, NULL, NULL, target->id);
  if (!may_access (tv_http_request_user (req), target)) {
    tv_http_reply_error (req, 403, "forbidden", "you may not see or change this account's contact details");
    tv_user_free (target);
    return NULL;
  }
  return target;
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
reply_contact (TvHttpRequest *req, const char *user_id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvContact) c = NULL;
  if (!tv_store_contact_get (tv_http_request_store (req), user_id, &c, &error)) {
    tv_http_reply_store_error (req, error, "contact get");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "contact");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user_id");
  json_builder_add_string_value (b, user_id);
  add_string_or_null (b, "email", c->email);
  add_string_or_null (b, "phone", c->phone);
  json_builder_set_member_name (b, "updated_at");
  if (c->updated_at > 0) {
    g_autofree char *t = tv_http_format_time (c->updated_at);
    json_builder_add_string_value (b, t);
  } else {
    json_builder_add_null_value (b);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static void
handle_get (TvHttpRequest *req, gpointer user_data)
{
  g_autoptr (TvUser) target = load_target (req);
  if (target != NULL)
    reply_contact (req, target->id);
}

/* Reads member @name: absent -> *@out NULL (keep), null -> "" (clear), a
 * string -> itself. FALSE when a reply was sent. */
static gboolean
read_field (TvHttpRequest *req, JsonObject *body, const char *name, gsize max, const char **out)
{
  JsonNode *n = json_object_get_member (body, name);
  *out = NULL;
  if (n == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_NULL (n)) {
    *out = "";
    return TRUE;
  }
  if (!tv_http_get_string (req, body, name, FALSE, max, out))
    return FALSE;
  return TRUE;
}

static void
handle_put (TvHttpRequest *req, gpointer user_data)
{
  g_autoptr (TvUser) target = load_target (req);
  if (target == NULL)
    return;
  JsonObject *body = tv_http_request_body_object (req);
  if (body == NULL)
    return;
  const char *email = NULL, *phone = NULL;
  if (!read_field (req, body, "email", TV_STORE_MAX_EMAIL_BYTES + 1, &email)
      || !read_field (req, body, "phone", TV_STORE_MAX_PHONE_BYTES + 1, &phone))
    return;
  if (email == NULL && phone == NULL) {
    tv_http_reply_error (req, 400, "missing_field", "give \"email\" and/or \"phone\"");
    return;
  }
  g_autoptr (GError) error = NULL;
  if (!tv_store_contact_set (tv_http_request_store (req), target->id, email, phone, tv_http_request_now (req),
                             &error)) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID))
      tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    else
      tv_http_reply_store_error (req, error, "contact set");
    return;
  }
  g_info ("contact details of user %s changed by user %s", target->id, tv_http_request_user (req)->id);
  reply_contact (req, target->id);
}

JsonNode *
tv_api_reminders_to_json (TvStore *store, const char *consult_id)
{
  g_autoptr (GPtrArray) list = tv_api_reminders_read (store, consult_id);
  return tv_api_reminder_rows_to_json (list);
}

GPtrArray *
tv_api_reminders_read (TvStore *store, const char *consult_id)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *list = tv_store_reminder_list (store, consult_id, &error);
  if (list == NULL) {
    g_warning ("consult %s: cannot read its reminders: %s", consult_id, error->message);
    list = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_reminder_free);
  }
  return list;
}

JsonNode *
tv_api_reminder_rows_to_json (const GPtrArray *list)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++) {
    const TvReminder *r = g_ptr_array_index (list, i);
    g_autofree char *offset = tv_reminders_format_offset (r->offset_s);
    g_autofree char *due = tv_http_format_time (r->due_at);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, r->kind);
    json_builder_set_member_name (b, "offset");
    json_builder_add_string_value (b, offset);
    json_builder_set_member_name (b, "due_at");
    json_builder_add_string_value (b, due);
    json_builder_set_member_name (b, "status");
    json_builder_add_string_value (b, tv_reminder_status_to_string (r->status));
    json_builder_set_member_name (b, "attempts");
    json_builder_add_int_value (b, r->attempts);
    add_string_or_null (b, "last_error", r->last_error);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

static const TvHttpRoute routes[] = {
  { "GET", "/api/v1/users/{id}/contact", TV_ROLE_ANY, handle_get },
  { "PUT", "/api/v1/users/{id}/contact", TV_ROLE_ANY, handle_put },
};

void
tv_server_api_contacts_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, routes, G_N_ELEMENTS (routes), server);
}
