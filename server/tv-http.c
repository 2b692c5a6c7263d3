/* tv-http.c — the HTTPS JSON API router (see tv-http.h).
 *
 * Why: lws delivers an HTTP request as a sequence of callbacks on the
 * connection (HTTP with the URI, HTTP_BODY chunks, HTTP_BODY_COMPLETION, then
 * HTTP_WRITEABLE when we asked to write). This file turns that into one
 * TvHttpRequest per transaction, dispatches it once complete, and writes the
 * reply: one that fits one write (headers and a body of at most 16 KiB) at
 * once when it is set (reply_send), a bigger one from WRITEABLE (headers, then
 * the body in chunks, the last one FINAL), then hands the connection back to
 * lws for the next keep-alive request (lws_http_transaction_completed).
 *
 * Ownership: lws owns the per-connection data (Pss); Pss points to the request
 * of the transaction in progress (ours, freed when the reply is written or
 * the connection closes).
 * Thread: the main loop, except the group commits' handlers and COMMIT, which
 * run on the router's store writer thread with a store connection of its own
 * (see "group commit" below): the main loop goes on reading, parsing,
 * authenticating and answering other requests meanwhile. While a request is
 * with the writer (in_worker) the main loop touches none of its fields but
 * wsi and gone (which the writer never reads), and its reference count. A
 * handler there replies with tv_http_reply_json_later where it can: the
 * writer only reads what the reply shows, and the JSON is built on the main
 * loop after the COMMIT (batch_finish), while the writer runs the next batch.
 */
#define G_LOG_DOMAIN "tv-http"

#include "server/tv-http.h"
#include "server/tv-fhir.h"
#include "server/tv-server.h"
#include "server/tv-store-audit.h"
#include "server/tv-web.h"
#include "signaling/tv-sig-json.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <string.h>

#define MAX_URI_ARGS     32
#define MAX_ARG_BYTES    1024
#define MAX_AUTH_BYTES   256
#define WRITE_CHUNK      (16 * 1024)
#define HEADER_BUF_BYTES 4096
/* A body over the limit but at most this big is read and thrown away before
 * the 413, so the client (still sending) gets the answer instead of a reset;
 * bigger ones are answered at once and the connection closed. */
#define DISCARD_MAX      (1024 * 1024)
/* API bodies are shallow; a bound on nesting keeps json-glib's recursive
 * parser far from the stack's end whatever a client sends. */
#define MAX_JSON_DEPTH   32

typedef struct {
  const TvHttpRoute *route;
  gpointer user_data;
  char **segments;       /* pattern split on '/' */
} Route;

typedef struct {
  gpointer data;
  GDestroyNotify destroy;
} Owned;

struct _TvHttp {
  TvStore *store;
  const TvServerConfig *cfg;
  GPtrArray *routes;     /* Route* (owned) */
  GArray *owned;         /* Owned: user_data given with tv_http_add_routes_full */
  /* Group commit (TV_HTTP_ROUTE_GROUP_COMMIT): requests waiting for the next
   * batch (one reference each) and the idle source that runs it. */
  GPtrArray *batch;
  GSource *batch_source;
  /* The store writer: one thread (a pool of one) with a store connection of
   * its own (tv_store_open_writer), made at the first batch; NULL when it
   * cannot be (an in-memory store): batches then run on the main loop. One
   * batch at a time is with it (in_flight); its results come back through an
   * idle source on @context. */
  TvStore *writer_store;     /* used by the writer thread only */
  GThreadPool *writer;
  gboolean writer_failed;
  GMainContext *context;
  struct _WriterJob *in_flight;
  /* Group-commit requests queued, with the writer, or waiting for their reply
   * to be written (counted from batch_queue to their last reference), and
   * who wants to hear when that reaches 0 (tv_http_notify_when_replied: a
   * server shutting down, so that a committed booking's reply is not dropped). */
  guint gc_pending;
  GSourceFunc replied_fn;
  gpointer replied_data;
};

typedef struct {
  char *name;
  char *value;
} Header;

struct _TvHttpRequest {
  gint ref_count;        /* the connection's Pss holds one; deferred handlers take more */
  TvHttp *http;
  struct lws *wsi;       /* NULL once the connection is gone (and for detached requests) */
  gboolean gone;         /* the connection closed: a late reply is dropped */
  gboolean deferred;     /* the handler replies later (tv_http_request_defer) */
  gboolean dispatched;   /* dispatch() ran (lws may also report BODY_COMPLETION for an empty body) */
  gboolean held;         /* in a group commit: the reply waits for the batch's COMMIT (batch_finish) */
  gboolean in_worker;    /* main loop only: with the store writer thread, hands off */
  gboolean gc_counted;   /* counted in http->gc_pending until its last reference goes */
  TvStore *store;        /* NULL: the router's; the writer's store while with the writer */
  char *method;
  char *path;
  GHashTable *query;     /* name -> value (first one wins) */
  GPtrArray *query_all;  /* char * "name=value" fragments in order, repeats kept */
  GHashTable *params;    /* path parameters */
  GByteArray *body_raw;
  gsize content_length;
  JsonNode *body;
  TvUser *user;
  TvSession *session;
  char *address;
  char *host;
  char *auth;            /* Authorization header (never logged) */
  char *if_none_match;   /* If-None-Match header (static files, tv-web.c) */
  gint64 now;
  const Route *route;    /* set once matched */
  /* The reply. */
  gboolean replied;
  guint status;
  GPtrArray *headers;    /* Header* */
  char *reply_body;
  TvHttpBodyFunc body_fn; /* tv_http_reply_json_later, held: builds reply_body in batch_finish */
  gpointer body_data;
  GDestroyNotify body_free;
  GBytes *reply_bytes;   /* tv_http_reply_bytes: the body instead of reply_body */
  char *content_type;    /* NULL: application/json */
  gsize reply_len;
  gsize reply_sent;
  gboolean headers_sent;
  gboolean close_after;  /* e.g. 413 with the body left unread */
  gboolean discard;      /* body over the limit: read and drop it, then 413 */
  /* The audit row written when the reply is set (tv_http_request_audit). */
  gboolean audit;
  char *audit_action;    /* NULL: "<METHOD> <pattern>" */
  char *audit_user_id;   /* NULL: the session's user */
  char *audit_role;
  char *audit_patient;   /* NULL: derived */
  char *audit_resource_type; /* NULL: derived from the route (tv_http_request_audit_resource) */
  char *audit_resource_id;
  gboolean audit_staging;   /* a row is staged in the store for the handler's change */
  gboolean audit_committed; /* ... and the change committed it */
};

typedef struct {
  TvHttpRequest *req;
} Pss;

/* ---- routes ---------------------------------------------------------------- */

/* The two prefixes the router serves: the JSON API and the FHIR API. */
static gboolean
is_fhir_path (const char *path)
{
  return g_str_has_prefix (path, TV_HTTP_FHIR_PREFIX);
}

static gboolean
is_api_path (const char *path)
{
  return g_str_has_prefix (path, TV_HTTP_API_PREFIX) || is_fhir_path (path);
}

static void
route_free (gpointer p)
{
  Route *r = p;
  g_strfreev (r->segments);
  g_free (r);
}

static void batch_drop (TvHttp *http);

TvHttp *
tv_http_new (TvStore *store, const TvServerConfig *cfg)
{
  TvHttp *http = g_new0 (TvHttp, 1);
  http->store = store;
  http->cfg = cfg;
  http->routes = g_ptr_array_new_with_free_func (route_free);
  http->owned = g_array_new (FALSE, FALSE, sizeof (Owned));
  http->batch = g_ptr_array_new ();
  return http;
}

void
tv_http_free (TvHttp *http)
{
  if (http == NULL)
    return;
  batch_drop (http);
  g_ptr_array_unref (http->batch);
  for (guint i = 0; i < http->owned->len; i++) {
    Owned *o = &g_array_index (http->owned, Owned, i);
    o->destroy (o->data);
  }
  g_array_unref (http->owned);
  g_ptr_array_unref (http->routes);
  g_free (http);
}

void
tv_http_add_routes_full (TvHttp *http, const TvHttpRoute *routes, gsize n_routes, gpointer user_data,
                         GDestroyNotify destroy)
{
  g_return_if_fail (http != NULL);
  tv_http_add_routes (http, routes, n_routes, user_data);
  if (destroy != NULL) {
    Owned o = { user_data, destroy };
    g_array_append_val (http->owned, o);
  }
}

void
tv_http_add_routes (TvHttp *http, const TvHttpRoute *routes, gsize n_routes, gpointer user_data)
{
  g_return_if_fail (http != NULL && (routes != NULL || n_routes == 0));
  for (gsize i = 0; i < n_routes; i++) {
    const TvHttpRoute *rt = &routes[i];
    g_return_if_fail (rt->method != NULL && rt->pattern != NULL && rt->handler != NULL);
    g_return_if_fail (is_api_path (rt->pattern));
    gboolean dup = FALSE;
    for (guint j = 0; j < http->routes->len; j++) {
      const Route *o = g_ptr_array_index (http->routes, j);
      if (strcmp (o->route->method, rt->method) == 0 && strcmp (o->route->pattern, rt->pattern) == 0)
        dup = TRUE;
    }
    if (dup) {
      g_critical ("route %s %s registered twice; ignoring the second", rt->method, rt->pattern);
      continue;
    }
    Route *r = g_new0 (Route, 1);
    r->route = rt;
    r->user_data = user_data;
    r->segments = g_strsplit (rt->pattern, "/", -1);
    g_ptr_array_add (http->routes, r);
  }
}

GPtrArray *
tv_http_list_routes (TvHttp *http)
{
  g_return_val_if_fail (http != NULL, NULL);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < http->routes->len; i++)
    g_ptr_array_add (out, (gpointer) ((const Route *) g_ptr_array_index (http->routes, i))->route);
  return out;
}

/* Matches @segs (the request path split on '/') against @r; fills @params. */
static gboolean
route_matches (const Route *r, char **segs, GHashTable *params)
{
  guint n = g_strv_length (segs);
  if (n != g_strv_length (r->segments))
    return FALSE;
  for (guint i = 0; i < n; i++) {
    const char *p = r->segments[i];
    gsize plen = strlen (p);
    if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
      if (segs[i][0] == '\0')
        return FALSE;
      if (params != NULL)
        g_hash_table_insert (params, g_strndup (p + 1, plen - 2), g_strdup (segs[i]));
    } else if (strcmp (p, segs[i]) != 0) {
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- requests --------------------------------------------------------------- */

static void
header_free (gpointer p)
{
  Header *h = p;
  g_free (h->name);
  g_free (h->value);
  g_free (h);
}

/* Frees the body builder's data of a reply whose body was never built. */
static void
body_later_drop (TvHttpRequest *req)
{
  if (req->body_fn != NULL && req->body_free != NULL)
    req->body_free (req->body_data);
  req->body_fn = NULL;
  req->body_data = NULL;
  req->body_free = NULL;
}

static void
request_free (TvHttpRequest *req)
{
  if (req == NULL || !g_atomic_int_dec_and_test (&req->ref_count))
    return;
  if (req->gc_counted) {
    TvHttp *http = req->http;
    if (--http->gc_pending == 0 && http->replied_fn != NULL) {
      GSourceFunc fn = http->replied_fn;
      http->replied_fn = NULL;
      fn (http->replied_data);
    }
  }
  g_free (req->method);
  g_free (req->path);
  g_clear_pointer (&req->query, g_hash_table_unref);
  g_clear_pointer (&req->query_all, g_ptr_array_unref);
  g_clear_pointer (&req->params, g_hash_table_unref);
  if (req->body_raw)
    g_byte_array_unref (req->body_raw);
  g_clear_pointer (&req->body, json_node_unref);
  tv_user_free (req->user);
  tv_session_free (req->session);
  g_free (req->address);
  g_free (req->host);
  if (req->auth) {
    memset (req->auth, 0, strlen (req->auth));
    g_free (req->auth);
  }
  g_ptr_array_unref (req->headers);
  body_later_drop (req);
  g_free (req->reply_body);
  if (req->reply_bytes)
    g_bytes_unref (req->reply_bytes);
  g_free (req->content_type);
  g_free (req->if_none_match);
  g_free (req->audit_action);
  g_free (req->audit_user_id);
  g_free (req->audit_role);
  g_free (req->audit_patient);
  g_free (req->audit_resource_type);
  g_free (req->audit_resource_id);
  g_free (req);
}

TvHttpRequest *
tv_http_request_ref (TvHttpRequest *req)
{
  g_return_val_if_fail (req != NULL, NULL);
  g_atomic_int_inc (&req->ref_count);
  return req;
}

void
tv_http_request_unref (TvHttpRequest *req)
{
  request_free (req);
}

void
tv_http_request_defer (TvHttpRequest *req)
{
  g_return_if_fail (req != NULL);
  req->deferred = TRUE;
}

gboolean
tv_http_request_is_gone (TvHttpRequest *req)
{
  return req->gone;
}

/* The connection is going away: later replies are dropped; drops the Pss's reference. */
static void
request_detach (TvHttpRequest *req)
{
  if (req == NULL)
    return;
  req->gone = TRUE;
  req->wsi = NULL;
  request_free (req);
}

const char *
tv_http_request_method (TvHttpRequest *req)
{
  return req->method;
}

const char *
tv_http_request_path (TvHttpRequest *req)
{
  return req->path;
}

const char *
tv_http_request_param (TvHttpRequest *req, const char *name)
{
  return g_hash_table_lookup (req->params, name);
}

const char *
tv_http_request_query (TvHttpRequest *req, const char *name)
{
  return g_hash_table_lookup (req->query, name);
}

GPtrArray *
tv_http_request_query_all (TvHttpRequest *req, const char *name)
{
  GPtrArray *values = g_ptr_array_new ();
  gsize n = strlen (name);
  for (guint i = 0; req->query_all != NULL && i < req->query_all->len; i++) {
    const char *frag = g_ptr_array_index (req->query_all, i);
    if (strncmp (frag, name, n) == 0 && frag[n] == '=')
      g_ptr_array_add (values, (gpointer) (frag + n + 1));
  }
  return values;
}

GPtrArray *
tv_http_request_query_names (TvHttpRequest *req)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; req->query_all != NULL && i < req->query_all->len; i++) {
    const char *frag = g_ptr_array_index (req->query_all, i);
    const char *eq = strchr (frag, '=');
    g_ptr_array_add (names, eq ? g_strndup (frag, (gsize) (eq - frag)) : g_strdup (frag));
  }
  return names;
}

JsonNode *
tv_http_request_body (TvHttpRequest *req)
{
  return req->body;
}

JsonObject *
tv_http_request_body_object (TvHttpRequest *req)
{
  if (req->body == NULL || !JSON_NODE_HOLDS_OBJECT (req->body)) {
    tv_http_reply_error (req, 400, "invalid_json", "the request body must be a JSON object");
    return NULL;
  }
  return json_node_get_object (req->body);
}

const TvUser *
tv_http_request_user (TvHttpRequest *req)
{
  return req->user;
}

const TvSession *
tv_http_request_session (TvHttpRequest *req)
{
  return req->session;
}

const char *
tv_http_request_address (TvHttpRequest *req)
{
  return req->address;
}

const char *
tv_http_request_if_none_match (TvHttpRequest *req)
{
  return req->if_none_match;
}

const char *
tv_http_request_host (TvHttpRequest *req)
{
  return req->host;
}

gint64
tv_http_request_now (TvHttpRequest *req)
{
  return req->now;
}

/* The store for @req's work: the writer's own connection while a group
 * commit runs it on the writer thread, else the router's. */
static TvStore *
request_store (TvHttpRequest *req)
{
  return req->store != NULL ? req->store : req->http->store;
}

TvStore *
tv_http_request_store (TvHttpRequest *req)
{
  return request_store (req);
}

const TvServerConfig *
tv_http_request_config (TvHttpRequest *req)
{
  return req->http->cfg;
}

gboolean
tv_http_request_has_role (TvHttpRequest *req, guint roles)
{
  return req->user != NULL && (req->user->roles & roles) != 0;
}

/* ---- replies ------------------------------------------------------------------ */

void
tv_http_reply_add_header (TvHttpRequest *req, const char *name, const char *value)
{
  g_return_if_fail (req != NULL && name != NULL && value != NULL);
  Header *h = g_new0 (Header, 1);
  h->name = g_strdup (name);
  h->value = g_strdup (value);
  g_ptr_array_add (req->headers, h);
}

static void audit_stage (TvHttpRequest *req);
static void audit_unstage (TvHttpRequest *req);

void
tv_http_request_audit (TvHttpRequest *req, const char *action, const TvUser *user, const char *patient_id)
{
  g_return_if_fail (req != NULL);
  req->audit = TRUE;
  if (action != NULL) {
    g_free (req->audit_action);
    req->audit_action = g_strdup (action);
  }
  if (user != NULL) {
    g_free (req->audit_user_id);
    g_free (req->audit_role);
    req->audit_user_id = g_strdup (user->id);
    req->audit_role = tv_roles_format (user->roles);
  }
  if (patient_id != NULL) {
    g_free (req->audit_patient);
    req->audit_patient = g_strdup (patient_id);
  }
  if (req->audit_staging && !req->replied)
    audit_stage (req);   /* the staged row follows what the handler says */
}

void
tv_http_request_audit_resource (TvHttpRequest *req, const char *type, const char *id)
{
  g_return_if_fail (req != NULL && type != NULL && id != NULL);
  g_free (req->audit_resource_type);
  g_free (req->audit_resource_id);
  req->audit_resource_type = g_strdup (type);
  req->audit_resource_id = g_strdup (id);
}

/* Returns: (transfer full) the request's audit row with @outcome and
 * @detail. With @for_stage, the patient and resource id are left NULL when
 * not known yet (the store fills them in for a record it creates). */
static TvAuditRow *
audit_row_new (TvHttpRequest *req, const char *outcome, const char *detail, gboolean for_stage)
{
  TvStore *store = request_store (req);
  const char *pattern = req->route ? req->route->route->pattern : req->path;
  TvAuditRow *row = g_new0 (TvAuditRow, 1);
  row->action = req->audit_action ? g_strdup (req->audit_action) : g_strdup_printf ("%s %s", req->method, pattern);
  /* Resource: the first segment after the prefix, and the first path parameter. */
  const char *rest = g_str_has_prefix (pattern, TV_HTTP_API_PREFIX) ? pattern + strlen (TV_HTTP_API_PREFIX)
                     : g_str_has_prefix (pattern, TV_HTTP_FHIR_PREFIX) ? pattern + strlen (TV_HTTP_FHIR_PREFIX) : "";
  const char *slash = strchr (rest, '/');
  row->resource_type = slash ? g_strndup (rest, (gsize) (slash - rest)) : g_strdup (rest);
  const char *rid = NULL;
  if (req->route != NULL) {
    const char *brace = strchr (pattern, '{');
    if (brace != NULL) {
      const char *end = strchr (brace, '}');
      g_autofree char *name = end ? g_strndup (brace + 1, (gsize) (end - brace - 1)) : NULL;
      rid = name ? g_hash_table_lookup (req->params, name) : NULL;
    }
  }
  /* The patient concerned: given by the handler, else a consult's patient,
   * else the caller when a patient acts on their own data. */
  row->patient_id = g_strdup (req->audit_patient);
  if (row->patient_id == NULL && rid != NULL && g_strcmp0 (row->resource_type, "consults") == 0) {
    g_autoptr (TvConsult) c = NULL;
    if (tv_store_consult_get (store, rid, &c, NULL) && c->patient_id != NULL)
      row->patient_id = g_strdup (c->patient_id);
  }
  if (row->patient_id == NULL && req->user != NULL && req->user->roles == TV_ROLE_PATIENT)
    row->patient_id = g_strdup (req->user->id);
  if (row->patient_id == NULL && !for_stage)
    row->patient_id = g_strdup ("");
  row->role = req->audit_role ? g_strdup (req->audit_role)
                              : req->user ? tv_roles_format (req->user->roles) : g_strdup ("");
  row->user_id = g_strdup (req->audit_user_id ? req->audit_user_id : req->user ? req->user->id : "");
  row->outcome = g_strdup (outcome);
  row->detail = g_strdup (detail);
  /* Ids only: an over-long or non-UTF-8 path parameter is not worth keeping. */
  if (rid != NULL && (strlen (rid) > 64 || !g_utf8_validate (rid, -1, NULL)))
    rid = "(invalid)";
  row->resource_id = rid ? g_strdup (rid) : for_stage ? NULL : g_strdup ("");
  if (req->audit_resource_type != NULL) {
    g_free (row->resource_type);
    g_free (row->resource_id);
    row->resource_type = g_strdup (req->audit_resource_type);
    row->resource_id = g_strdup (req->audit_resource_id);
  }
  row->source = g_strdup (req->address);
  return row;
}

/* A request that may change data (not GET/HEAD) and is audited stages its
 * row in the store (tv_store_audit_stage) before the handler runs, outcome
 * "2xx": the store appends it inside the transaction that makes the change,
 * so the change and its row commit together or neither does. Called again
 * when the handler names the action or the patient (tv_http_request_audit). */
static void
audit_stage (TvHttpRequest *req)
{
  if (request_store (req) == NULL)
    return;
  if (req->audit_staging) {
    audit_unstage (req);
    if (req->audit_committed)
      return;   /* the change is in, with the row as it was */
  }
  g_autoptr (TvAuditRow) row = audit_row_new (req, "2xx", "committed with the change", TRUE);
  tv_store_audit_stage (request_store (req), row);
  req->audit_staging = TRUE;
}

/* After the handler returned: whether its change carried the staged row. */
static void
audit_unstage (TvHttpRequest *req)
{
  if (!req->audit_staging)
    return;
  req->audit_staging = FALSE;
  req->audit_committed = tv_store_audit_unstage (request_store (req), NULL);
}

/* Writes the request's audit row (once, when the reply is set), unless the
 * change it answers already committed it (then a 2xx needs no second row). */
static void
audit_write (TvHttpRequest *req)
{
  TvStore *store = request_store (req);
  if (store == NULL)
    return;
  if (req->audit_staging)
    audit_unstage (req);
  if (req->audit_committed && req->status / 100 == 2)
    return;
  char outcome[8], detail[24];
  g_snprintf (outcome, sizeof outcome, "%uxx", req->status / 100);
  g_snprintf (detail, sizeof detail, "http %u", req->status);
  g_autoptr (TvAuditRow) row = audit_row_new (req, outcome, detail, FALSE);
  row->at = g_get_real_time ();
  g_autoptr (GError) error = NULL;
  if (!tv_store_audit_append (store, row, NULL, &error))
    g_warning ("could not write an audit row (%s): %s", row->action, error->message);
}

static void reply_send (TvHttpRequest *req);

/* Makes @body (transfer full; NULL = empty body) the reply's text. */
static void
take_json_body (TvHttpRequest *req, JsonNode *body)
{
  if (body == NULL)
    return;
  req->reply_body = json_to_string (body, FALSE);
  req->reply_len = strlen (req->reply_body);
  json_node_unref (body);
}

void
tv_http_reply_json (TvHttpRequest *req, guint status, JsonNode *body)
{
  g_return_if_fail (req != NULL);
  if (req->replied) {
    g_critical ("%s %s: replied twice; keeping the first reply", req->method,
                req->route ? req->route->route->pattern : "?");
    if (body)
      json_node_unref (body);
    return;
  }
  req->replied = TRUE;
  req->status = status;
  if (req->audit)
    audit_write (req);
  if (req->held) {
    /* In a group commit (possibly on the writer thread, which must not look
     * at the connection): the reply waits for the batch's COMMIT, and
     * batch_finish sends it, or drops it if the client left meanwhile. */
    take_json_body (req, body);
    return;
  }
  if (req->gone) {
    /* The client left while a deferred handler worked: nobody to tell. */
    g_info ("%s %s -> %u, but the connection is gone", req->method,
            req->route ? req->route->route->pattern : "(no route)", status);
    if (body)
      json_node_unref (body);
    return;
  }
  take_json_body (req, body);
  if (req->wsi)
    reply_send (req);
}

void
tv_http_reply_json_later (TvHttpRequest *req, guint status, TvHttpBodyFunc build, gpointer data,
                          GDestroyNotify free_data)
{
  g_return_if_fail (req != NULL && build != NULL);
  if (!req->held || req->replied) {
    JsonNode *body = build (data);
    if (free_data != NULL)
      free_data (data);
    tv_http_reply_json (req, status, body);
    return;
  }
  /* Held for its batch's COMMIT: batch_finish builds the body on the main
   * loop (body_later_build); the reply itself is recorded as any held one. */
  req->body_fn = build;
  req->body_data = data;
  req->body_free = free_data;
  tv_http_reply_json (req, status, NULL);
}

/* Main loop: builds the body of a tv_http_reply_json_later reply. */
static void
body_later_build (TvHttpRequest *req)
{
  if (req->body_fn == NULL)
    return;
  JsonNode *body = req->body_fn (req->body_data);
  body_later_drop (req);
  take_json_body (req, body);
}

void
tv_http_reply_bytes (TvHttpRequest *req, guint status, const char *content_type, GBytes *body)
{
  g_return_if_fail (req != NULL && content_type != NULL);
  if (req->replied) {
    g_critical ("%s %s: replied twice; keeping the first reply", req->method, req->path);
    return;
  }
  g_free (req->content_type);
  req->content_type = g_strdup (content_type);
  if (body != NULL) {
    req->reply_bytes = g_bytes_ref (body);
    req->reply_len = g_bytes_get_size (body);
  }
  tv_http_reply_json (req, status, NULL);
}

void
tv_http_reply_error (TvHttpRequest *req, guint status, const char *code, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *message = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (is_fhir_path (req->path)) {
    tv_http_reply_json (req, status, tv_fhir_outcome_new (status, code, message, NULL));
    return;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "code");
  json_builder_add_string_value (b, code);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  json_builder_end_object (b);
  tv_http_reply_json (req, status, json_builder_get_root (b));
}

void
tv_http_reply_store_error (TvHttpRequest *req, const GError *error, const char *what)
{
  if (error != NULL && error->domain == TV_STORE_ERROR) {
    switch ((TvStoreErrorCode) error->code) {
    case TV_STORE_ERR_NOT_FOUND:
      tv_http_reply_error (req, 404, "not_found", "%s", error->message);
      return;
    case TV_STORE_ERR_INVALID:
      tv_http_reply_error (req, 400, "invalid_field", "%s", error->message);
      return;
    case TV_STORE_ERR_CONFLICT:
      tv_http_reply_error (req, 409, "conflict", "%s", error->message);
      return;
    case TV_STORE_ERR_WRONG_STATE:
      tv_http_reply_error (req, 409, "wrong_state", "%s", error->message);
      return;
    default:
      break;
    }
  }
  g_warning ("%s %s: store %s failed: %s", req->method, req->route ? req->route->route->pattern : req->path,
             what, error ? error->message : "unknown error");
  tv_http_reply_error (req, 500, "internal", "internal error; nothing was changed");
}

/* ---- JSON helpers -------------------------------------------------------------- */

char *
tv_http_format_time (gint64 us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);
  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00Z");
  /* g_date_time_format (dt, "%Y-%m-%dT%H:%M:%SZ") made from the fields: the
   * format string's parser was most of this function's cost in every reminder
   * of a consult reply (test-schedule /schedule/format/utc compares the two
   * texts). */
  int y = 0, mo = 0, d = 0;
  g_date_time_get_ymd (dt, &y, &mo, &d);
  return g_strdup_printf ("%d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, g_date_time_get_hour (dt),
                          g_date_time_get_minute (dt), g_date_time_get_second (dt));
}

gboolean
tv_http_parse_time (const char *text, gint64 *out_us)
{
  if (text == NULL || strlen (text) < 20 || strlen (text) > 64)
    return FALSE;
  /* An offset is required: "Z" or "+hh:mm"/"-hh:mm" at the end. */
  gsize n = strlen (text);
  gboolean zulu = text[n - 1] == 'Z' || text[n - 1] == 'z';
  gboolean offset = n > 6 && (text[n - 6] == '+' || text[n - 6] == '-') && text[n - 3] == ':';
  if (!zulu && !offset)
    return FALSE;
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    return FALSE;
  *out_us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

JsonNode *
tv_http_user_to_json (const TvUser *user)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, user->id);
  json_builder_set_member_name (b, "username");
  json_builder_add_string_value (b, user->username);
  json_builder_set_member_name (b, "display_name");
  json_builder_add_string_value (b, user->display_name);
  json_builder_set_member_name (b, "roles");
  json_builder_begin_array (b);
  g_autofree const char **names = tv_roles_to_strv (user->roles);
  for (const char **n = names; *n != NULL; n++)
    json_builder_add_string_value (b, *n);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "disabled");
  json_builder_add_boolean_value (b, user->disabled);
  json_builder_set_member_name (b, "time_zone");
  if (user->time_zone)
    json_builder_add_string_value (b, user->time_zone);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "slot_minutes");
  json_builder_add_int_value (b, user->slot_minutes);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

gboolean
tv_http_get_string (TvHttpRequest *req, JsonObject *obj, const char *name, gboolean required, gsize max_bytes,
                    const char **out)
{
  *out = NULL;
  JsonNode *n = json_object_get_member (obj, name);
  if (n == NULL || (!required && JSON_NODE_HOLDS_NULL (n))) {
    if (!required)
      return TRUE;
    tv_http_reply_error (req, 400, "missing_field", "\"%s\" is required", name);
    return FALSE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    tv_http_reply_error (req, 400, "invalid_field", "\"%s\" must be a string", name);
    return FALSE;
  }
  const char *s = json_node_get_string (n);
  if (!g_utf8_validate (s, -1, NULL) || strlen (s) > max_bytes) {
    tv_http_reply_error (req, 400, "invalid_field", "\"%s\" must be text of at most %" G_GSIZE_FORMAT " bytes",
                         name, max_bytes);
    return FALSE;
  }
  *out = s;
  return TRUE;
}

/* ---- dispatch ---------------------------------------------------------------------- */

static TvHttp *
http_of (struct lws *wsi)
{
  struct lws_context *ctx = lws_get_context (wsi);
  TvServer *server = ctx ? lws_context_user (ctx) : NULL;
  return server ? tv_server_get_http (server) : NULL;
}

static const char *
method_of (struct lws *wsi)
{
  static const struct {
    enum lws_token_indexes tok;
    const char *name;
  } methods[] = {
    { WSI_TOKEN_GET_URI, "GET" },
    { WSI_TOKEN_POST_URI, "POST" },
    { WSI_TOKEN_PUT_URI, "PUT" },
    { WSI_TOKEN_DELETE_URI, "DELETE" },
    { WSI_TOKEN_PATCH_URI, "PATCH" },
    { WSI_TOKEN_OPTIONS_URI, "OPTIONS" },
    { WSI_TOKEN_HEAD_URI, "HEAD" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    if (lws_hdr_total_length (wsi, methods[i].tok) > 0)
      return methods[i].name;
  return "OTHER";
}

/* Returns: (transfer full) the header @tok, or NULL when absent or longer than @max. */
static char *
copy_header (struct lws *wsi, enum lws_token_indexes tok, int max)
{
  int n = lws_hdr_total_length (wsi, tok);
  if (n <= 0 || n > max)
    return NULL;
  char *buf = g_malloc (n + 1);
  if (lws_hdr_copy (wsi, buf, n + 1, tok) < 0) {
    g_free (buf);
    return NULL;
  }
  return buf;
}

/* lws splits the query string into fragments at '&' and decodes %XX (and '+')
 * itself, so a fragment is one decoded "name=value": taking it apart again with
 * g_uri_parse_params would decode twice ("%2525" -> "%"). First value wins. */
static void
add_query_fragment (TvHttpRequest *req, const char *buf)
{
  GHashTable *query = req->query;
  if (!g_utf8_validate (buf, -1, NULL))
    return;
  g_ptr_array_add (req->query_all, g_strdup (buf));
  const char *eq = strchr (buf, '=');
  char *name = eq ? g_strndup (buf, eq - buf) : g_strdup (buf);
  char *value = g_strdup (eq ? eq + 1 : "");
  if (*name == '\0' || g_hash_table_contains (query, name)) {
    g_free (name);
    g_free (value);
    return;
  }
  g_hash_table_insert (query, name, value);
}

static void
read_query (struct lws *wsi, TvHttpRequest *req)
{
  char buf[MAX_ARG_BYTES];
  for (int i = 0; i < MAX_URI_ARGS; i++) {
    int n = lws_hdr_copy_fragment (wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0)
      break;
    add_query_fragment (req, buf);
  }
}

static void
send_auth_error (TvHttpRequest *req, const char *code, const char *message)
{
  tv_http_reply_add_header (req, "WWW-Authenticate", "Bearer realm=\"televisit\"");
  tv_http_reply_error (req, 401, code, "%s", message);
}

gboolean
tv_http_request_authenticate_token (TvHttpRequest *req, const char *token, GError **error)
{
  g_return_val_if_fail (req != NULL && token != NULL, FALSE);
  if (req->http->store == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "no store");
    return FALSE;
  }
  g_clear_pointer (&req->session, tv_session_free);
  g_clear_pointer (&req->user, tv_user_free);
  if (req->now == 0)
    req->now = g_get_real_time ();
  return tv_store_session_lookup (req->http->store, token, req->now, &req->session, &req->user, error);
}

char *
tv_http_request_cookie (TvHttpRequest *req, const char *name)
{
  g_return_val_if_fail (req != NULL && name != NULL, NULL);
  if (req->wsi == NULL || req->gone)
    return NULL;
  char buf[MAX_AUTH_BYTES + 1];
  size_t max = sizeof buf;
  if (lws_http_cookie_get (req->wsi, name, buf, &max) != 0)
    return NULL;
  return g_strndup (buf, max);
}

/* Authenticates the bearer token; FALSE when a reply was sent. */
static gboolean
authenticate (TvHttpRequest *req)
{
  if (req->http->store == NULL) {
    tv_http_reply_error (req, 500, "internal", "no store");
    return FALSE;
  }
  const char *token = NULL;
  if (req->auth != NULL && g_ascii_strncasecmp (req->auth, "Bearer ", 7) == 0) {
    token = req->auth + 7;
    while (*token == ' ')
      token++;
  }
  if (token == NULL || *token == '\0') {
    send_auth_error (req, "unauthenticated", "log in first: Authorization: Bearer <session token>");
    return FALSE;
  }
  g_autoptr (GError) error = NULL;
  if (!tv_http_request_authenticate_token (req, token, &error)) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED))
      send_auth_error (req, "session_expired", "the session has expired; log in again");
    else if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN))
      send_auth_error (req, "unauthenticated", "unknown or ended session; log in again");
    else
      tv_http_reply_store_error (req, error, "session lookup");
    return FALSE;
  }
  return TRUE;
}

/* Runs the matched route's handler with the request's audit row staged for
 * the change it makes (see audit_stage). */
static void
run_handler (TvHttpRequest *req)
{
  gboolean changes = strcmp (req->method, "GET") != 0 && strcmp (req->method, "HEAD") != 0;
  if (req->audit && changes)
    audit_stage (req);
  req->route->route->handler (req, req->route->user_data);
  audit_unstage (req);   /* a deferred handler's later commit does not carry it */
  if (!req->replied && !req->deferred) {
    g_warning ("%s %s: the handler did not reply", req->method, req->route->route->pattern);
    tv_http_reply_error (req, 500, "internal", "internal error");
  }
}

/* ---- group commit ------------------------------------------------------------------ */

/* The batch's COMMIT failed: the reply the handler set describes a change
 * that did not happen. It is replaced by a 500 (and a 5xx audit row, written
 * on its own now that the batch is gone). */
static void
batch_fail_request (TvHttpRequest *req)   /* the reply stays held */
{
  req->replied = FALSE;
  req->audit_committed = FALSE;
  g_clear_pointer (&req->reply_body, g_free);
  body_later_drop (req);
  g_clear_pointer (&req->reply_bytes, g_bytes_unref);
  g_clear_pointer (&req->content_type, g_free);
  g_ptr_array_set_size (req->headers, 0);
  req->reply_len = 0;
  tv_http_reply_error (req, 500, "internal", "internal error; nothing was changed");
}

/* Runs every request of @jobs' handler, in arrival order, inside one batch of
 * @store; a failed COMMIT turns every reply into a 500. The replies stay held
 * (batch_finish sends them). Runs on the writer thread with the writer's
 * store, or on the main loop with the router's when there is no writer: it
 * touches nothing but the requests of @jobs, their store, and what the
 * handlers read (the route table, the configuration: never changed once
 * serving). */
static void
batch_execute (TvStore *store, GPtrArray *jobs)
{
  g_autoptr (GError) error = NULL;
  gboolean batched = FALSE;
  if (jobs->len > 1) {
    batched = tv_store_batch_begin (store, &error);
    if (!batched) {
      g_warning ("group commit: %s; one transaction per request", error->message);
      g_clear_error (&error);
    }
  }
  for (guint i = 0; i < jobs->len; i++) {
    TvHttpRequest *req = g_ptr_array_index (jobs, i);
    req->deferred = FALSE;   /* so run_handler sees a handler that forgot to reply */
    run_handler (req);
  }
  if (batched && !tv_store_batch_commit (store, &error)) {
    g_warning ("group commit of %u requests failed: %s", jobs->len, error->message);
    for (guint i = 0; i < jobs->len; i++) {
      TvHttpRequest *req = g_ptr_array_index (jobs, i);
      if (req->replied)
        batch_fail_request (req);
    }
  }
}

/* Main loop: the batch is done (committed or failed): sends every reply
 * (or drops it when the client left) and drops the batch's references. */
static void
batch_finish (GPtrArray *jobs)
{
  for (guint i = 0; i < jobs->len; i++) {
    TvHttpRequest *req = g_ptr_array_index (jobs, i);
    req->held = FALSE;
    req->in_worker = FALSE;
    req->store = NULL;
    if (req->replied && req->gone)
      g_info ("%s %s -> %u, but the connection is gone", req->method, req->route->route->pattern, req->status);
    else if (req->replied && req->wsi != NULL) {
      body_later_build (req);   /* the JSON of a reply set on the writer thread */
      reply_send (req);
    }
    request_free (req);
  }
}

/* One batch handed to the writer thread. */
typedef struct _WriterJob {
  TvHttp *http;
  GPtrArray *jobs;   /* TvHttpRequest *, one reference each */
  GSource *done;     /* attached by the writer when it finished the batch */
} WriterJob;

static void batch_start (TvHttp *http);

/* Main loop: the writer finished http->in_flight. */
static gboolean
writer_done_cb (gpointer data)
{
  WriterJob *job = data;
  TvHttp *http = job->http;
  http->in_flight = NULL;
  g_source_unref (job->done);
  /* What arrived meanwhile goes to the writer at once, before this batch's
   * replies are built and sent: the writer works while the main loop does. */
  if (http->batch->len > 0) {
    if (http->batch_source != NULL) {
      g_source_destroy (http->batch_source);
      g_clear_pointer (&http->batch_source, g_source_unref);
    }
    batch_start (http);
  }
  batch_finish (job->jobs);
  g_ptr_array_unref (job->jobs);
  g_free (job);
  return G_SOURCE_REMOVE;
}

/* The writer thread: runs one batch on the writer's store, then hands the
 * requests back to the main loop. */
static void
writer_run (gpointer data, gpointer user_data)
{
  WriterJob *job = data;
  batch_execute (job->http->writer_store, job->jobs);
  /* Free this thread's OpenSSL state (the 904-byte error queue, per-thread
   * DRBGs) now, on this thread: the pool's thread is ended at shutdown
   * without a join, and LeakSanitizer then caught the error queue of a
   * thread still on its way out (1-2 in ~250 server stops). The next batch
   * makes them again, a few microseconds against its ~6 ms. */
  OPENSSL_thread_stop ();
  job->done = g_idle_source_new ();
  g_source_set_priority (job->done, G_PRIORITY_DEFAULT);
  g_source_set_callback (job->done, writer_done_cb, job, NULL);
  g_source_set_static_name (job->done, "tv-http group commit done");
  g_source_attach (job->done, job->http->context);
}

/* Makes the writer (its store connection and thread) at the first batch.
 * Returns: TRUE when there is one. */
static gboolean
writer_ensure (TvHttp *http)
{
  if (http->writer != NULL)
    return TRUE;
  if (http->writer_failed)
    return FALSE;
  g_autoptr (GError) error = NULL;
  http->writer_store = tv_store_open_writer (http->store, &error);
  if (http->writer_store != NULL)
    http->writer = g_thread_pool_new (writer_run, http, 1, TRUE, &error);
  if (http->writer == NULL) {
    g_info ("group commits run on the main loop: %s", error->message);
    g_clear_pointer (&http->writer_store, tv_store_close);
    http->writer_failed = TRUE;
    return FALSE;
  }
  http->context = g_main_context_ref_thread_default ();
  return TRUE;
}

/* Runs the queued requests as one batch: on the writer thread when there is
 * one (the main loop goes on meanwhile), else here and now. */
static void
batch_start (TvHttp *http)
{
  GPtrArray *jobs = http->batch;
  http->batch = g_ptr_array_new ();
  for (guint i = 0; i < jobs->len; i++)
    ((TvHttpRequest *) g_ptr_array_index (jobs, i))->held = TRUE;
  if (!writer_ensure (http)) {
    batch_execute (http->store, jobs);
    batch_finish (jobs);
    g_ptr_array_unref (jobs);
    return;
  }
  for (guint i = 0; i < jobs->len; i++) {
    TvHttpRequest *req = g_ptr_array_index (jobs, i);
    req->in_worker = TRUE;
    req->store = http->writer_store;
  }
  WriterJob *job = g_new0 (WriterJob, 1);
  job->http = http;
  job->jobs = jobs;
  http->in_flight = job;
  g_thread_pool_push (http->writer, job, NULL);
}

static gboolean
batch_cb (gpointer data)
{
  TvHttp *http = data;
  g_clear_pointer (&http->batch_source, g_source_unref);
  if (http->in_flight == NULL)   /* else writer_done_cb starts it */
    batch_start (http);
  return G_SOURCE_REMOVE;
}

/* Queues @req (dispatched, route flagged TV_HTTP_ROUTE_GROUP_COMMIT) for the
 * batch that runs in the next main-loop iteration, or when the writer is done
 * with the batch it has. The idle source has the default priority, like the
 * connections' sources, so a busy server does not starve it; requests read in
 * the same iterations share the batch. */
static void
batch_queue (TvHttpRequest *req)
{
  TvHttp *http = req->http;
  req->deferred = TRUE;
  if (!req->gc_counted) {
    req->gc_counted = TRUE;
    http->gc_pending++;
  }
  g_ptr_array_add (http->batch, tv_http_request_ref (req));
  if (http->batch_source == NULL && http->in_flight == NULL) {
    http->batch_source = g_idle_source_new ();
    g_source_set_priority (http->batch_source, G_PRIORITY_DEFAULT);
    g_source_set_callback (http->batch_source, batch_cb, http, NULL);
    g_source_set_static_name (http->batch_source, "tv-http group commit");
    g_source_attach (http->batch_source, g_main_context_get_thread_default ());
  }
}

gboolean
tv_http_replies_pending (TvHttp *http)
{
  g_return_val_if_fail (http != NULL, FALSE);
  return http->gc_pending > 0;
}

void
tv_http_notify_when_replied (TvHttp *http, GSourceFunc fn, gpointer data)
{
  g_return_if_fail (http != NULL);
  if (fn != NULL && http->gc_pending == 0) {
    http->replied_fn = NULL;
    fn (data);
    return;
  }
  http->replied_fn = fn;
  http->replied_data = data;
}

/* The router goes away with requests still queued: they are dropped without
 * running (their connections close with the server). A batch the writer has
 * is finished first (its changes are committed or not, as a whole) and its
 * replies dropped; then the writer's store closes. */
static void
batch_drop (TvHttp *http)
{
  if (http->batch_source != NULL) {
    g_source_destroy (http->batch_source);
    g_clear_pointer (&http->batch_source, g_source_unref);
  }
  for (guint i = 0; i < http->batch->len; i++)
    request_free (g_ptr_array_index (http->batch, i));
  g_ptr_array_set_size (http->batch, 0);
  if (http->writer != NULL)
    g_thread_pool_free (g_steal_pointer (&http->writer), FALSE, TRUE);   /* waits for the batch */
  if (http->in_flight != NULL) {
    WriterJob *job = g_steal_pointer (&http->in_flight);
    g_source_destroy (job->done);
    g_source_unref (job->done);
    for (guint i = 0; i < job->jobs->len; i++)
      request_free (g_ptr_array_index (job->jobs, i));
    g_ptr_array_unref (job->jobs);
    g_free (job);
  }
  g_clear_pointer (&http->writer_store, tv_store_close);
  g_clear_pointer (&http->context, g_main_context_unref);
}

static void
dispatch (TvHttpRequest *req)
{
  TvHttp *http = req->http;
  /* A POST with Content-Length: 0 is dispatched at HTTP and lws may still
   * deliver BODY_COMPLETION: a request waiting for its group commit (not yet
   * replied) must not run twice. */
  if (req->dispatched)
    return;
  req->dispatched = TRUE;
  req->now = g_get_real_time ();

  /* Route: 404 when no pattern matches the path, 405 when only other methods do. */
  g_auto (GStrv) segs = g_strsplit (req->path, "/", -1);
  g_autoptr (GString) allow = g_string_new (NULL);
  for (guint i = 0; i < http->routes->len && req->route == NULL; i++) {
    const Route *r = g_ptr_array_index (http->routes, i);
    if (!route_matches (r, segs, NULL))
      continue;
    if (strcmp (r->route->method, req->method) == 0) {
      req->route = r;
      route_matches (r, segs, req->params);
    } else if (strstr (allow->str, r->route->method) == NULL) {
      g_string_append_printf (allow, "%s%s", allow->len ? ", " : "", r->route->method);
    }
  }
  if (req->route == NULL) {
    if (allow->len > 0) {
      tv_http_reply_add_header (req, "Allow", allow->str);
      tv_http_reply_error (req, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)", req->method,
                           allow->str);
    } else {
      tv_http_reply_error (req, 404, "not_found", "no such endpoint");
    }
    return;
  }

  /* Who first: nothing of the body is looked at for a caller who may not call. */
  guint allowed = req->route->route->roles_allowed;
  if (allowed != 0) {
    req->audit = TRUE;   /* everything behind a login is audited, refusals included */
    if (!authenticate (req))
      return;
    if ((req->user->roles & allowed) == 0) {
      tv_http_reply_error (req, 403, "forbidden", "your role does not allow this");
      return;
    }
  }

  /* The strict gate shared with the consult protocol: what json-glib would
   * accept beyond JSON (comments, single quotes, NaN, duplicate members, a
   * second value, \u0000...) is refused, naming the problem, before any handler. */
  if (req->body_raw != NULL && req->body_raw->len > 0) {
    g_autoptr (GError) error = NULL;
    req->body = tv_sig_json_parse_strict ((const char *) req->body_raw->data, req->body_raw->len, MAX_JSON_DEPTH,
                                          &error);
    if (req->body == NULL) {
      tv_http_reply_error (req, 400, "invalid_json", "the request body is not strict JSON: %s", error->message);
      return;
    }
  }

  if ((req->route->route->flags & TV_HTTP_ROUTE_GROUP_COMMIT) && req->wsi != NULL && http->store != NULL) {
    batch_queue (req);
    return;
  }
  run_handler (req);
}

/* What the access log names for a request, newly allocated: the route's pattern
 * (never the path, which carries ids); for a web page (tv-web.c) the path it
 * served, which is one of our own files (the query string is not part of
 * req->path, and the join token lives in the URL fragment, which never reaches
 * the server); a web path that served nothing is not echoed (a client chose it). */
static char *
log_target (const TvHttpRequest *req)
{
  if (req->route != NULL)
    return g_strdup (req->route->route->pattern);
  if (is_api_path (req->path))
    return g_strdup ("(no route)");
  if (req->status < 400)
    return g_strdup_printf ("%s (web page)", req->path);
  return g_strdup ("(web page not served)");
}

static void
log_request (TvHttpRequest *req)
{
  g_autofree char *target = log_target (req);
  g_info ("%s %s -> %u%s%s", req->method, target, req->status, req->user ? " user " : "",
          req->user ? req->user->id : "");
}

/* ---- writing the reply ------------------------------------------------------------- */

static int
add_header (struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
  g_autofree char *lname = g_strconcat (name, ":", NULL);
  return lws_add_http_header_by_name (wsi, (const unsigned char *) lname, (const unsigned char *) value,
                                      (int) strlen (value), p, end);
}

/* Returns: TRUE when the handler set header @name itself (it replaces our default). */
static gboolean
has_header (TvHttpRequest *req, const char *name)
{
  for (guint i = 0; i < req->headers->len; i++)
    if (g_ascii_strcasecmp (((Header *) g_ptr_array_index (req->headers, i))->name, name) == 0)
      return TRUE;
  return FALSE;
}

static int
add_default (TvHttpRequest *req, struct lws *wsi, const char *name, const char *value, unsigned char **p,
             unsigned char *end)
{
  return has_header (req, name) ? 0 : add_header (wsi, name, value, p, end);
}

/* Formats the status line and headers into [*@p, @end) (lws's buffer
 * helpers), finalized but not written.
 * Returns: 0, or -1 when they do not fit. */
static int
format_headers (TvHttpRequest *req, struct lws *wsi, unsigned char **p, unsigned char *end)
{
  if (lws_add_http_header_status (wsi, req->status, p, end)
      || add_header (wsi, "content-type", req->content_type ? req->content_type
                                          : is_fhir_path (req->path) ? TV_FHIR_CONTENT_TYPE : "application/json",
                     p, end)
      || lws_add_http_header_content_length (wsi, req->reply_len, p, end)
      || add_default (req, wsi, "cache-control", "no-store", p, end)
      || add_header (wsi, "x-content-type-options", "nosniff", p, end)
      || add_header (wsi, "strict-transport-security", "max-age=31536000", p, end)
      || add_default (req, wsi, "content-security-policy", "default-src 'none'; frame-ancestors 'none'", p, end)
      || add_header (wsi, "referrer-policy", "no-referrer", p, end))
    return -1;
  for (guint i = 0; i < req->headers->len; i++) {
    Header *h = g_ptr_array_index (req->headers, i);
    g_autofree char *lower = g_ascii_strdown (h->name, -1);
    if (add_header (wsi, lower, h->value, p, end))
      return -1;
  }
  if (req->close_after && add_header (wsi, "connection", "close", p, end))
    return -1;
  return lws_finalize_http_header (wsi, p, end) ? -1 : 0;
}

/* Writes the headers alone (a body follows in later WRITEABLE rounds). */
static int
write_headers (TvHttpRequest *req, struct lws *wsi)
{
  unsigned char buf[LWS_PRE + HEADER_BUF_BYTES];
  unsigned char *start = buf + LWS_PRE, *p = start;
  if (format_headers (req, wsi, &p, buf + sizeof buf - 1))
    return -1;
  int n = (int) (p - start);
  if (lws_write (wsi, start, (size_t) n, LWS_WRITE_HTTP_HEADERS) != n)
    return -1;
  req->headers_sent = TRUE;
  return 0;
}

/* A reply whose body fits in one chunk goes out with its headers in ONE
 * lws_write, i.e. one TLS record and one send() (the API's JSON replies:
 * the booking benchmark measured two records per reply, ~15 % of the
 * server's CPU with the extra WRITEABLE round). The server speaks HTTP/1.1
 * only (ALPN "http/1.1", tv-lws-glue.c), where lws sends both as they are;
 * lws keeps what the socket does not take and sends it first next time.
 * Returns: 0, or -1 to close the connection. */
static int
write_whole_reply (TvHttpRequest *req, struct lws *wsi)
{
  gsize size = LWS_PRE + HEADER_BUF_BYTES + req->reply_len;
  g_autofree unsigned char *buf = g_malloc (size);
  unsigned char *start = buf + LWS_PRE, *p = start;
  if (format_headers (req, wsi, &p, buf + LWS_PRE + HEADER_BUF_BYTES - 1))
    return -1;
  const char *data = req->reply_bytes ? g_bytes_get_data (req->reply_bytes, NULL) : req->reply_body;
  memcpy (p, data, req->reply_len);
  p += req->reply_len;
  int n = (int) (p - start);
  if (lws_write (wsi, start, (size_t) n, LWS_WRITE_HTTP_FINAL) != n)
    return -1;
  req->headers_sent = TRUE;
  req->reply_sent = req->reply_len;
  return 0;
}

/* The reply of @pss's request is all written (or handed to lws, which sends
 * what the socket did not take first): logs it, frees the transaction and
 * tells lws it is complete, so that the connection waits for the next
 * keep-alive request (lws_http_transaction_completed: when output is still
 * buffered it defers the completion until that is sent).
 * Returns: 0 to keep the connection, -1 to close it. */
static int
reply_finished (Pss *pss, struct lws *wsi)
{
  TvHttpRequest *req = pss->req;
  gboolean close_after = req->close_after;
  log_request (req);
  pss->req = NULL;
  req->wsi = NULL;      /* the connection now serves its next transaction */
  request_free (req);   /* the Pss's reference; a deferred handler may still hold one */
  if (close_after)
    return -1;
  return lws_http_transaction_completed (wsi) ? -1 : 0;
}

/* TRUE when @req's reply goes out in one lws_write: headers and a body of at
 * most one chunk, or headers alone (no body, or HEAD). */
static gboolean
reply_is_one_write (const TvHttpRequest *req)
{
  return req->reply_len <= WRITE_CHUNK || strcmp (req->method, "HEAD") == 0;
}

/* Writes the first (for most replies the only) part of the reply: the whole
 * reply in one lws_write, or the headers of a bigger one.
 * Returns: 0, or -1 to close the connection. */
static int
write_reply_start (TvHttpRequest *req, struct lws *wsi)
{
  if (req->reply_len > 0 && req->reply_len <= WRITE_CHUNK && strcmp (req->method, "HEAD") != 0)
    return write_whole_reply (req, wsi);
  return write_headers (req, wsi);
}

/* Returns: 0 to keep going, -1 to close the connection. */
static int
on_writeable (Pss *pss, struct lws *wsi)
{
  TvHttpRequest *req = pss->req;
  if (req == NULL || req->in_worker || !req->replied)
    return 0;
  if (!req->headers_sent) {
    if (write_reply_start (req, wsi))
      return -1;
    /* HEAD: the headers of the GET, Content-Length included, and no body. */
    if (!reply_is_one_write (req)) {
      lws_callback_on_writable (wsi);
      return 0;
    }
  } else if (req->reply_sent < req->reply_len) {
    gsize n = MIN (WRITE_CHUNK, req->reply_len - req->reply_sent);
    gboolean last = req->reply_sent + n == req->reply_len;
    g_autofree unsigned char *chunk = g_malloc (LWS_PRE + n);
    const char *data = req->reply_bytes ? g_bytes_get_data (req->reply_bytes, NULL) : req->reply_body;
    memcpy (chunk + LWS_PRE, data + req->reply_sent, n);
    if (lws_write (wsi, chunk + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int) n)
      return -1;
    req->reply_sent += n;
    if (!last) {
      lws_callback_on_writable (wsi);
      return 0;
    }
  }
  /* Everything is out. */
  return reply_finished (pss, wsi);
}

/* Main loop: @req's reply is set (not held, its connection open). A reply that
 * goes out in one lws_write is written at once instead of asking lws for a
 * WRITEABLE callback: on libuv every POLLOUT on or off is an epoll_ctl DEL +
 * ADD (uv_poll_start), and a reply made after its batch's COMMIT paid for that
 * round on top of the one lws makes after each transaction (docs/BENCHMARKS.md,
 * "Booking throughput: ... (issue 6 item 4), 2026-11-29 (4)"; the WSS path does
 * the same, conn_send in tv-consult-ws.c). lws allows it: we are on its thread
 * and between its service passes (a GLib source) or inside one of this
 * connection's own HTTP callbacks; what the socket does not take lws keeps and
 * sends on POLLOUT, and lws_http_transaction_completed then defers the
 * completion until it is sent. Kept on WRITEABLE: bigger bodies (sent a chunk
 * per round), a connection to close after the reply (a callback's -1 closes
 * it), a request whose body is still being read (413 before the body), and a
 * connection with output still buffered. Callers must hold a reference of
 * their own when they use @req afterwards (the connection's is dropped). */
static void
reply_send (TvHttpRequest *req)
{
  struct lws *wsi = req->wsi;
  Pss *pss = lws_wsi_user (wsi);
  gboolean body_read = req->body_raw == NULL || req->body_raw->len >= req->content_length;
  if (pss == NULL || pss->req != req || req->close_after || req->discard || !body_read
      || !reply_is_one_write (req) || lws_partial_buffered (wsi)) {
    lws_callback_on_writable (wsi);
    return;
  }
  if (write_reply_start (req, wsi) != 0 || reply_finished (pss, wsi) != 0)
    lws_set_timeout (wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

static TvHttpRequest *
request_new (TvHttp *http, struct lws *wsi, const char *uri, size_t len)
{
  TvHttpRequest *req = g_new0 (TvHttpRequest, 1);
  char addr[64] = "";
  req->ref_count = 1;
  req->http = http;
  req->wsi = wsi;
  req->method = g_strdup (method_of (wsi));
  req->path = g_utf8_make_valid (uri, (gssize) len);
  req->query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  req->query_all = g_ptr_array_new_with_free_func (g_free);
  req->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  req->headers = g_ptr_array_new_with_free_func (header_free);
  if (lws_get_peer_simple (wsi, addr, sizeof addr) == NULL)
    addr[0] = '\0';
  /* "::ffff:127.0.0.1" on a dual-stack socket: keep the IPv4 form for throttling. */
  req->address = g_strdup (g_str_has_prefix (addr, "::ffff:") && strchr (addr, '.') ? addr + 7 : addr);
  req->host = copy_header (wsi, WSI_TOKEN_HOST, 256);
  if (req->host == NULL)
    req->host = g_strdup ("");
  req->auth = copy_header (wsi, WSI_TOKEN_HTTP_AUTHORIZATION, MAX_AUTH_BYTES);
  req->if_none_match = copy_header (wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, 256);
  read_query (wsi, req);
  return req;
}

/* LWS_CALLBACK_HTTP: reads what the request's head says and answers it, or
 * waits for its body. */
static void
start_request (TvHttpRequest *req, struct lws *wsi)
{
  if (!is_api_path (req->path)) {
    /* The web pages (tv-web.c); a body sent with another method is not read. */
    if (strcmp (req->method, "GET") != 0 && strcmp (req->method, "HEAD") != 0)
      req->close_after = TRUE;
    tv_web_serve (req);
    return;
  }
  g_autofree char *cl = copy_header (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 20);
  guint64 length = 0;
  if (cl != NULL && !g_ascii_string_to_unsigned (cl, 10, 0, G_MAXUINT64, &length, NULL)) {
    req->close_after = TRUE;
    tv_http_reply_error (req, 400, "invalid_request", "bad Content-Length");
    return;
  }
  if (length > TV_HTTP_MAX_BODY && length <= DISCARD_MAX) {
    req->discard = TRUE;
    return;   /* 413 at HTTP_BODY_COMPLETION */
  }
  if (length > TV_HTTP_MAX_BODY) {
    /* Too big to drain: answer and close instead of reading it. */
    req->close_after = TRUE;
    tv_http_reply_error (req, 413, "body_too_large", "the request body is larger than %d bytes",
                         TV_HTTP_MAX_BODY);
    return;
  }
  if (length > 0) {
    req->content_length = (gsize) length;
    req->body_raw = g_byte_array_sized_new ((guint) length);
    return;   /* wait for HTTP_BODY ... HTTP_BODY_COMPLETION */
  }
  dispatch (req);
}

int
tv_http_lws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  Pss *pss = user;
  TvHttp *http;

  switch (reason) {
  case LWS_CALLBACK_HTTP: {
    http = http_of (wsi);
    if (http == NULL || pss == NULL || !lws_is_ssl (wsi))
      return -1;
    request_detach (pss->req);
    TvHttpRequest *req = request_new (http, wsi, in ? (const char *) in : "", in ? len : 0);
    pss->req = req;
    /* Ours while the callback runs: a reply written at once (reply_send)
     * drops the connection's reference while handlers may still look at it. */
    tv_http_request_ref (req);
    start_request (req, wsi);
    request_free (req);
    return 0;
  }

  case LWS_CALLBACK_HTTP_BODY:
    if (pss == NULL || pss->req == NULL || pss->req->in_worker || pss->req->replied || pss->req->discard || pss->req->body_raw == NULL)
      return 0;
    if (pss->req->body_raw->len + len > TV_HTTP_MAX_BODY) {
      pss->req->close_after = TRUE;   /* so the 413 waits for WRITEABLE */
      tv_http_reply_error (pss->req, 413, "body_too_large", "the request body is larger than %d bytes",
                           TV_HTTP_MAX_BODY);
      return 0;
    }
    g_byte_array_append (pss->req->body_raw, in, (guint) len);
    return 0;

  case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
    if (pss == NULL || pss->req == NULL || pss->req->in_worker || pss->req->replied)
      return 0;
    TvHttpRequest *req = tv_http_request_ref (pss->req);   /* as at LWS_CALLBACK_HTTP */
    if (req->discard)
      tv_http_reply_error (req, 413, "body_too_large", "the request body is larger than %d bytes",
                           TV_HTTP_MAX_BODY);
    else
      dispatch (req);
    request_free (req);
    return 0;
  }

  case LWS_CALLBACK_HTTP_WRITEABLE:
    if (pss == NULL)
      return 0;
    return on_writeable (pss, wsi);

  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    if (pss != NULL) {
      request_detach (pss->req);
      pss->req = NULL;
    }
    return 0;

  default:
    return lws_callback_http_dummy (wsi, reason, user, in, len);
  }
}

/* ---- without a connection (fuzzing, tests) ---------------------------------------- */

guint
tv_http_handle_detached (TvHttp *http, const char *method, const char *path, const char *const *query,
                         const char *authorization, const guint8 *body, gsize body_len, char **reply)
{
  g_return_val_if_fail (http != NULL && method != NULL && path != NULL, 0);
  g_return_val_if_fail (body != NULL || body_len == 0, 0);

  /* The same fields request_new() fills from lws, with the same limits. */
  TvHttpRequest *req = g_new0 (TvHttpRequest, 1);
  req->ref_count = 1;
  req->http = http;
  req->method = g_strdup (method);
  req->path = g_utf8_make_valid (path, -1);
  req->query = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  req->query_all = g_ptr_array_new_with_free_func (g_free);
  req->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  req->headers = g_ptr_array_new_with_free_func (header_free);
  req->address = g_strdup ("127.0.0.1");
  req->host = g_strdup ("");
  if (authorization != NULL && strlen (authorization) <= MAX_AUTH_BYTES)
    req->auth = g_strdup (authorization);
  for (int i = 0; query != NULL && query[i] != NULL && i < MAX_URI_ARGS; i++)
    if (strlen (query[i]) < MAX_ARG_BYTES)
      add_query_fragment (req, query[i]);

  if (!is_api_path (req->path))
    tv_web_serve (req);
  else if (body_len > TV_HTTP_MAX_BODY)
    tv_http_reply_error (req, 413, "body_too_large", "the request body is larger than %d bytes", TV_HTTP_MAX_BODY);
  else {
    if (body_len > 0) {
      req->body_raw = g_byte_array_sized_new ((guint) body_len);
      g_byte_array_append (req->body_raw, body, (guint) body_len);
    }
    dispatch (req);
    /* A deferred handler (login verifies passwords on a worker thread) replies
     * from the thread-default main context: run it until the reply is there. */
    while (req->deferred && !req->replied)
      g_main_context_iteration (NULL, TRUE);
  }

  guint status = req->status;
  if (reply != NULL) {
    const char *data = req->reply_bytes ? g_bytes_get_data (req->reply_bytes, NULL) : req->reply_body;
    *reply = g_strndup (data ? data : "", req->reply_len);
  }
  request_free (req);
  return status;
}
