/* tv-api-users.c — GET/POST /api/v1/users, GET /api/v1/users/{id}.
 *
 * Why: who may see or create which accounts (the router has already checked
 * the role; the per-record rules are here):
 *   list:   admin all; scheduler patients and doctors; doctor only their own
 *           patients (patients with a consult with them).
 *   create: admin any roles; scheduler patients only.
 *   read:   oneself; admin; scheduler for patients and doctors; doctor for
 *           their own patients.
 * Display names are personal data: they go into replies, never into logs.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api-users"

#include "server/tv-api.h"
#include "server/tv-password.h"
#include "server/tv-store-reminders.h"

#include <string.h>

#define MAX_QUERY_BYTES 100

static gboolean
is_own_patient (TvHttpRequest *req, const TvUser *target)
{
  const TvUser *me = tv_http_request_user (req);
  return (me->roles & TV_ROLE_DOCTOR) && (target->roles & TV_ROLE_PATIENT)
         && tv_store_user_is_patient_of (tv_http_request_store (req), me->id, target->id);
}

/* May the requesting user see @target? */
static gboolean
may_read (TvHttpRequest *req, const TvUser *target)
{
  const TvUser *me = tv_http_request_user (req);
  if (strcmp (me->id, target->id) == 0 || (me->roles & TV_ROLE_ADMIN))
    return TRUE;
  if ((me->roles & TV_ROLE_SCHEDULER) && (target->roles & (TV_ROLE_PATIENT | TV_ROLE_DOCTOR)))
    return TRUE;
  return is_own_patient (req, target);
}

static JsonNode *
users_reply (GPtrArray *users)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "users");
  json_builder_begin_array (b);
  for (guint i = 0; i < users->len; i++)
    json_builder_add_value (b, tv_http_user_to_json (g_ptr_array_index (users, i)));
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
handle_list (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  const char *role_text = tv_http_request_query (req, "role");
  const char *q = tv_http_request_query (req, "q");
  TvRole role = 0;
  if (role_text != NULL && *role_text != '\0' && !tv_role_from_string (role_text, &role)) {
    tv_http_reply_error (req, 400, "invalid_field",
                         "role must be one of patient, doctor, scheduler, billing, admin");
    return;
  }
  if (q != NULL && strlen (q) > MAX_QUERY_BYTES) {
    tv_http_reply_error (req, 400, "invalid_field", "q is longer than %d bytes", MAX_QUERY_BYTES);
    return;
  }

  /* What this user may list at all, by role of the listed users. */
  guint visible;
  gboolean own_patients_only = FALSE;
  if (me->roles & TV_ROLE_ADMIN) {
    visible = TV_ROLE_ANY;
  } else if (me->roles & TV_ROLE_SCHEDULER) {
    visible = TV_ROLE_PATIENT | TV_ROLE_DOCTOR;
  } else {
    visible = TV_ROLE_PATIENT;  /* doctors: their own patients */
    own_patients_only = TRUE;
  }
  if (role != 0 && (role & visible) == 0) {
    tv_http_reply_error (req, 403, "forbidden", "your role may not list %s accounts", tv_role_to_string (role));
    return;
  }
  guint want = role != 0 ? (guint) role : visible;

  g_autoptr (GError) error = NULL;
  TvStore *store = tv_http_request_store (req);
  g_autoptr (GPtrArray) users = own_patients_only ? tv_store_user_list_patients_of (store, me->id, q, &error)
                                                  : tv_store_user_list (store, want, q, &error);
  if (users == NULL) {
    tv_http_reply_store_error (req, error, "user list");
    return;
  }
  tv_http_reply_json (req, 200, users_reply (users));
}

static void
handle_get (TvHttpRequest *req, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvUser) target = NULL;
  const char *id = tv_http_request_param (req, "id");
  if (!g_uuid_string_is_valid (id)) {
    tv_http_reply_error (req, 404, "not_found", "no such user");
    return;
  }
  if (!tv_store_user_get (tv_http_request_store (req), id, &target, &error)) {
    tv_http_reply_store_error (req, error, "user get");
    return;
  }
  if (!may_read (req, target)) {
    tv_http_reply_error (req, 403, "forbidden", "you may not see this account");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user");
  json_builder_add_value (b, tv_http_user_to_json (target));
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

/* Reads "roles": a non-empty array of role names. 0 when a reply was sent. */
static guint
read_roles (TvHttpRequest *req, JsonObject *body)
{
  JsonNode *n = json_object_get_member (body, "roles");
  if (n == NULL) {
    tv_http_reply_error (req, 400, "missing_field", "\"roles\" is required");
    return 0;
  }
  JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  if (a == NULL || json_array_get_length (a) == 0 || json_array_get_length (a) > 5) {
    tv_http_reply_error (req, 400, "invalid_field", "\"roles\" must be a non-empty array of role names");
    return 0;
  }
  guint mask = 0;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    TvRole r;
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING
        || !tv_role_from_string (json_node_get_string (e), &r)) {
      tv_http_reply_error (req, 400, "invalid_field",
                           "\"roles\" entries must be patient, doctor, scheduler, billing or admin");
      return 0;
    }
    mask |= r;
  }
  return mask;
}

static void
handle_create (TvHttpRequest *req, gpointer user_data)
{
  const TvUser *me = tv_http_request_user (req);
  JsonObject *body = tv_http_request_body_object (req);
  const char *username = NULL, *display_name = NULL, *password = NULL, *time_zone = NULL;
  if (body == NULL || !tv_http_get_string (req, body, "username", TRUE, 256, &username)
      || !tv_http_get_string (req, body, "display_name", TRUE, 1024, &display_name)
      || !tv_http_get_string (req, body, "password", FALSE, TV_PASSWORD_MAX_BYTES + 1, &password)
      || !tv_http_get_string (req, body, "time_zone", FALSE, 256, &time_zone))
    return;
  /* Optional contact details (reminders), checked before anything is written. */
  const char *email = NULL, *phone = NULL;
  if (!tv_http_get_string (req, body, "email", FALSE, TV_STORE_MAX_EMAIL_BYTES + 1, &email)
      || !tv_http_get_string (req, body, "phone", FALSE, TV_STORE_MAX_PHONE_BYTES + 1, &phone))
    return;
  guint roles = read_roles (req, body);
  if (roles == 0)
    return;
  guint slot_minutes = 0;
  JsonNode *slot = json_object_get_member (body, "slot_minutes");
  if (slot != NULL && !JSON_NODE_HOLDS_NULL (slot)) {
    gint64 v = JSON_NODE_HOLDS_VALUE (slot) && json_node_get_value_type (slot) == G_TYPE_INT64
                 ? json_node_get_int (slot) : -1;
    if (v < TV_STORE_SLOT_MINUTES_MIN || v > TV_STORE_SLOT_MINUTES_MAX) {
      tv_http_reply_error (req, 400, "invalid_field", "\"slot_minutes\" must be a whole number 5..120");
      return;
    }
    slot_minutes = (guint) v;
  }
  /* Role rule on the record: schedulers register patients, nothing else. */
  if (!(me->roles & TV_ROLE_ADMIN) && roles != TV_ROLE_PATIENT) {
    tv_http_reply_error (req, 403, "forbidden", "schedulers may create patient accounts only");
    return;
  }

  g_autoptr (GError) error = NULL;
  if (!tv_store_check_username (username, &error) || !tv_store_check_name (display_name, &error)
      || (time_zone != NULL && !tv_store_check_time_zone (time_zone, &error))
      || (email != NULL && *email != '\0' && !tv_store_check_email (email, &error))
      || (phone != NULL && *phone != '\0' && !tv_store_check_phone (phone, &error))) {
    tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    return;
  }
  if ((roles & TV_ROLE_DOCTOR) && time_zone == NULL)
    time_zone = "UTC";
  g_autofree char *generated = NULL;
  if (password == NULL)
    password = generated = tv_password_generate ();
  g_autofree char *hash = tv_password_hash (password, &error);
  if (hash == NULL) {
    if (g_error_matches (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY))
      tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
    else
      tv_http_reply_store_error (req, NULL, "password hash");
    return;
  }
  g_autoptr (TvUser) user = NULL;
  if (!tv_store_user_create (tv_http_request_store (req), username, display_name, roles, time_zone, slot_minutes,
                             hash, tv_http_request_now (req), &user, &error)) {
    tv_http_reply_store_error (req, error, "user create");
    return;
  }
  g_autofree char *role_names = tv_roles_format (roles);
  g_message ("user %s created by user %s (roles %s)", user->id, me->id, role_names);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "user");
  json_builder_add_value (b, tv_http_user_to_json (user));
  if ((email != NULL && *email != '\0') || (phone != NULL && *phone != '\0')) {
    /* Validated above, so only an I/O failure is left: the account stands, the
     * details can be set again with PUT /users/{id}/contact. */
    g_autoptr (GError) cerr = NULL;
    gboolean saved = tv_store_contact_set (tv_http_request_store (req), user->id, email, phone,
                                           tv_http_request_now (req), &cerr);
    if (!saved)
      g_warning ("user %s created, but its contact details were not saved: %s", user->id, cerr->message);
    json_builder_set_member_name (b, "contact_saved");
    json_builder_add_boolean_value (b, saved);
  }
  if (generated != NULL) {
    /* Shown once, to whoever registered the account, to hand over to its owner. */
    json_builder_set_member_name (b, "initial_password");
    json_builder_add_string_value (b, generated);
  }
  json_builder_end_object (b);
  tv_http_reply_json (req, 201, json_builder_get_root (b));
}

static const TvHttpRoute routes[] = {
  { "GET", "/api/v1/users", TV_ROLE_ADMIN | TV_ROLE_SCHEDULER | TV_ROLE_DOCTOR, handle_list },
  { "POST", "/api/v1/users", TV_ROLE_ADMIN | TV_ROLE_SCHEDULER, handle_create },
  { "GET", "/api/v1/users/{id}", TV_ROLE_ANY, handle_get },
};

void
tv_server_api_users_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, routes, G_N_ELEMENTS (routes), server);
}
