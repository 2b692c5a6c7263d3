/* tv-fhir-bundle.c — FHIR Bundles, OperationOutcomes and search values (see tv-fhir.h).
 *
 * Why: every FHIR search answers with a searchset Bundle and every FHIR error
 * with an OperationOutcome, whichever resource is asked for; and the search
 * value syntax (references, date prefixes) is the same for all of them. The
 * router (tv-http.c) uses tv_fhir_outcome_new for the errors it produces
 * itself (401, 403, 404, 405) under /fhir/.
 * Thread: any (no shared state).
 */
#define G_LOG_DOMAIN "tv-fhir"

#include "server/tv-fhir.h"
#include "server/tv-http.h"

#include <string.h>

/* ---- OperationOutcome -------------------------------------------------------- */

/* The FHIR issue type (http://hl7.org/fhir/issue-type) for an HTTP status. */
static const char *
issue_code (guint status)
{
  switch (status) {
  case 400:
    return "invalid";
  case 401:
    return "login";
  case 403:
    return "forbidden";
  case 404:
    return "not-found";
  case 405:
    return "not-supported";
  case 409:
    return "conflict";
  case 413:
    return "too-costly";
  case 429:
    return "throttled";
  default:
    return status >= 400 && status < 500 ? "processing" : "exception";
  }
}

JsonNode *
tv_fhir_outcome_new (guint http_status, const char *code, const char *message, const char *expression)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "resourceType");
  json_builder_add_string_value (b, "OperationOutcome");
  json_builder_set_member_name (b, "issue");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "severity");
  json_builder_add_string_value (b, "error");
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, issue_code (http_status));
  if (code != NULL && *code != '\0') {
    json_builder_set_member_name (b, "details");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "text");
    json_builder_add_string_value (b, code);
    json_builder_end_object (b);
  }
  if (message != NULL && *message != '\0') {
    json_builder_set_member_name (b, "diagnostics");
    json_builder_add_string_value (b, message);
  }
  if (expression != NULL) {
    json_builder_set_member_name (b, "expression");
    json_builder_begin_array (b);
    json_builder_add_string_value (b, expression);
    json_builder_end_array (b);
  }
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- Bundle ------------------------------------------------------------------ */

struct _TvFhirBundle {
  char *base;
  char *self;
  gint64 now;
  JsonArray *entries;
  guint matches;
  gboolean any_mode;
};

TvFhirBundle *
tv_fhir_bundle_new (const char *base, const char *self, gint64 now)
{
  TvFhirBundle *bundle = g_new0 (TvFhirBundle, 1);
  bundle->base = g_strdup (base);
  bundle->self = g_strdup (self);
  bundle->now = now;
  bundle->entries = json_array_new ();
  return bundle;
}

void
tv_fhir_bundle_add (TvFhirBundle *bundle, JsonNode *resource, const char *mode)
{
  g_return_if_fail (bundle != NULL && resource != NULL && JSON_NODE_HOLDS_OBJECT (resource));
  JsonObject *r = json_node_get_object (resource);
  JsonObject *entry = json_object_new ();
  g_autofree char *url = g_strdup_printf ("%s/%s/%s", bundle->base, json_object_get_string_member (r, "resourceType"),
                                          json_object_get_string_member (r, "id"));
  json_object_set_string_member (entry, "fullUrl", url);
  json_object_set_member (entry, "resource", resource);
  if (mode != NULL) {
    JsonObject *search = json_object_new ();
    json_object_set_string_member (search, "mode", mode);
    json_object_set_object_member (entry, "search", search);
    bundle->any_mode = TRUE;
    if (strcmp (mode, "match") == 0)
      bundle->matches++;
  }
  json_array_add_object_element (bundle->entries, entry);
}

guint
tv_fhir_bundle_count (TvFhirBundle *bundle)
{
  return json_array_get_length (bundle->entries);
}

JsonNode *
tv_fhir_bundle_finish (TvFhirBundle *bundle)
{
  g_return_val_if_fail (bundle != NULL, NULL);
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "resourceType", "Bundle");
  g_autofree char *id = g_uuid_string_random ();
  json_object_set_string_member (o, "id", id);
  json_object_set_string_member (o, "type", "searchset");
  g_autofree char *ts = tv_http_format_time (bundle->now);
  json_object_set_string_member (o, "timestamp", ts);
  json_object_set_int_member (o, "total", bundle->any_mode ? bundle->matches : json_array_get_length (bundle->entries));
  if (bundle->self != NULL) {
    JsonObject *link = json_object_new ();
    json_object_set_string_member (link, "relation", "self");
    json_object_set_string_member (link, "url", bundle->self);
    JsonArray *links = json_array_new ();
    json_array_add_object_element (links, link);
    json_object_set_array_member (o, "link", links);
  }
  if (json_array_get_length (bundle->entries) > 0)
    json_object_set_array_member (o, "entry", bundle->entries);   /* FHIR forbids empty arrays */
  else
    json_array_unref (bundle->entries);
  g_free (bundle->base);
  g_free (bundle->self);
  g_free (bundle);
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, o);
  return node;
}

/* ---- search values ----------------------------------------------------------- */

const char *
tv_fhir_reference_id (const char *value, const char *type)
{
  if (value == NULL || *value == '\0')
    return NULL;
  const char *slash = strchr (value, '/');
  const char *id = value;
  if (slash != NULL) {
    if ((gsize) (slash - value) != strlen (type) || strncmp (value, type, strlen (type)) != 0)
      return NULL;
    id = slash + 1;
  }
  /* FHIR ids: [A-Za-z0-9\-\.]{1,64} */
  gsize n = strlen (id);
  if (n == 0 || n > 64)
    return NULL;
  for (const char *p = id; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return NULL;
  return id;
}

gboolean
tv_fhir_date_param_apply (const char *value, gint64 *from, gint64 *to, GError **error)
{
  if (value == NULL || *value == '\0') {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "empty value");
    return FALSE;
  }
  char prefix[3] = "eq";
  const char *text = value;
  if (g_ascii_isalpha (value[0])) {
    if (!g_ascii_isalpha (value[1])) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "malformed value");
      return FALSE;
    }
    prefix[0] = value[0];
    prefix[1] = value[1];
    text = value + 2;
    if (strcmp (prefix, "eq") != 0 && strcmp (prefix, "ge") != 0 && strcmp (prefix, "gt") != 0
        && strcmp (prefix, "le") != 0 && strcmp (prefix, "lt") != 0) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "prefix \"%s\" is not supported (use eq, ge, gt, le or lt)", prefix);
      return FALSE;
    }
  }
  /* The value covers [lo, hi): a whole UTC day for a date, one µs for an instant. */
  gint64 lo = 0, hi = 0;
  if (strlen (text) == 10 && text[4] == '-' && text[7] == '-') {
    g_autofree char *midnight = g_strdup_printf ("%sT00:00:00Z", text);
    if (!tv_http_parse_time (midnight, &lo)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "not a date (YYYY-MM-DD)");
      return FALSE;
    }
    hi = lo + (gint64) 24 * 3600 * G_USEC_PER_SEC;
  } else if (tv_http_parse_time (text, &lo)) {
    hi = lo + 1;
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "not a date (YYYY-MM-DD) or a dateTime with a time zone (RFC 3339)");
    return FALSE;
  }
  gint64 new_from = 0, new_to = 0;   /* 0: no bound */
  if (strcmp (prefix, "eq") == 0) {
    new_from = lo;
    new_to = hi;
  } else if (strcmp (prefix, "ge") == 0) {
    new_from = lo;
  } else if (strcmp (prefix, "gt") == 0) {
    new_from = hi;
  } else if (strcmp (prefix, "lt") == 0) {
    new_to = lo;
  } else {   /* le */
    new_to = hi;
  }
  if (new_from != 0 && new_from > *from)
    *from = new_from;
  if (new_to != 0 && (*to == 0 || new_to < *to))
    *to = new_to;
  return TRUE;
}
