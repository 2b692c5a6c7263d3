/* tv-api-audit.c — GET /api/v1/audit: the audit trail for admins.
 *
 * Why: HIPAA audit controls ask that the trail can be reviewed; admins query
 * it by user, patient and time range (tv-store-audit.h). The query itself is
 * audited by the router like every other request behind a login (action
 * "audit.query", the patient queried as the patient concerned).
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api"

#include "server/tv-api.h"
#include "server/tv-store-audit.h"

#include <string.h>

#define MAX_ROWS 10000
#define MAX_ID_BYTES 64

/* Reads an optional RFC 3339 query parameter; FALSE when a 400 was sent. */
static gboolean
query_time (TvHttpRequest *req, const char *name, gint64 *out)
{
  const char *text = tv_http_request_query (req, name);
  *out = 0;
  if (text == NULL || *text == '\0')
    return TRUE;
  if (!tv_http_parse_time (text, out) || *out <= 0) {
    tv_http_reply_error (req, 400, "invalid_field", "%s must be an RFC 3339 time with an offset", name);
    return FALSE;
  }
  return TRUE;
}

/* Reads an optional id query parameter; FALSE when a 400 was sent. */
static gboolean
query_id (TvHttpRequest *req, const char *name, const char **out)
{
  const char *text = tv_http_request_query (req, name);
  *out = (text != NULL && *text != '\0') ? text : NULL;
  if (*out != NULL && (strlen (*out) > MAX_ID_BYTES || !g_utf8_validate (*out, -1, NULL))) {
    tv_http_reply_error (req, 400, "invalid_field", "%s is not an id", name);
    return FALSE;
  }
  return TRUE;
}

static void
handle_audit_list (TvHttpRequest *req, gpointer user_data)
{
  const char *user_id = NULL, *patient_id = NULL;
  gint64 from = 0, to = 0;
  tv_http_request_audit (req, "audit.query", NULL, NULL);
  if (!query_id (req, "user_id", &user_id) || !query_id (req, "patient_id", &patient_id))
    return;
  tv_http_request_audit (req, "audit.query", NULL, patient_id);
  if (!query_time (req, "from", &from) || !query_time (req, "to", &to))
    return;
  if (from != 0 && to != 0 && to <= from) {
    tv_http_reply_error (req, 400, "invalid_field", "to must be after from");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rows = tv_store_audit_list (tv_http_request_store (req), user_id, patient_id, from, to,
                                                    MAX_ROWS, &error);
  if (rows == NULL) {
    tv_http_reply_store_error (req, error, "audit list");
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "rows");
  json_builder_begin_array (b);
  for (guint i = 0; i < rows->len; i++)
    json_builder_add_value (b, tv_audit_row_to_json (g_ptr_array_index (rows, i)));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "count");
  json_builder_add_int_value (b, rows->len);
  json_builder_set_member_name (b, "truncated");
  json_builder_add_boolean_value (b, rows->len >= MAX_ROWS);
  json_builder_end_object (b);
  tv_http_reply_json (req, 200, json_builder_get_root (b));
}

static const TvHttpRoute audit_routes[] = {
  { "GET", "/api/v1/audit", TV_ROLE_ADMIN, handle_audit_list },
};

void
tv_server_api_audit_register (TvHttp *http, TvServer *server)
{
  tv_http_add_routes (http, audit_routes, G_N_ELEMENTS (audit_routes), server);
}
