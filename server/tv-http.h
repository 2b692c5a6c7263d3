/* tv-http.h — the HTTPS JSON API router (/api/v1/...) on the server's lws vhost.
 *
 * Why: every area of the API (accounts, schedule, waiting room) registers its
 * routes from its own file; this router does what they all need the same way:
 * request body accumulation (<= TV_HTTP_MAX_BODY, else 413), JSON parsing
 * (400 invalid_json), route and method matching (404 / 405), bearer-session
 * authentication (401 unauthenticated / session_expired), the role check
 * (403 forbidden, before the handler runs), JSON replies with the security
 * headers (Cache-Control: no-store, nosniff, HSTS, CSP default-src 'none'), and
 * keep-alive. The ownership check ("is this the patient's own consult?") is the
 * handler's job. Error bodies are {"error": {"code": "...", "message": "..."}}.
 *
 * Handlers run on the main loop inside the lws callback and must reply exactly
 * once (tv_http_reply_json / tv_http_reply_error), either before returning or,
 * after tv_http_request_defer(), later from the main loop (slow work such as
 * password hashing runs on a worker thread meanwhile); the reply is written
 * from lws' WRITEABLE callback. A handler that returns without replying and
 * without deferring produces a 500. Handlers of routes flagged
 * TV_HTTP_ROUTE_GROUP_COMMIT run later, together with the other such requests
 * read meanwhile, on the router's store writer thread (its own store
 * connection, tv_store_open_writer) instead of the lws callback; their
 * replies go out, from the main loop, after the shared COMMIT.
 *
 * Logs: one info line per request with the method, the route pattern (not the
 * path: no ids or query text), the status and the user id. Never tokens or bodies.
 * Thread: main loop only, except the handlers of TV_HTTP_ROUTE_GROUP_COMMIT
 * routes (see there), which run on the router's store writer thread.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libwebsockets.h>

#include "server/tv-config.h"
#include "server/tv-roles.h"
#include "server/tv-store.h"
#include "server/tv-store-users.h"

G_BEGIN_DECLS

#define TV_HTTP_API_PREFIX "/api/v1/"
/* The HL7 FHIR R4 read API (tv-api-fhir.c): routes under this prefix are
 * served like the JSON API (same login, roles, audit), but every reply is
 * application/fhir+json and errors are OperationOutcome resources
 * (tv_fhir_outcome_new) instead of {"error": ...}. */
#define TV_HTTP_FHIR_PREFIX "/fhir/"
#define TV_HTTP_MAX_BODY   (64 * 1024)

typedef struct _TvHttp TvHttp;
typedef struct _TvHttpRequest TvHttpRequest;

/* A route handler: reply to @req exactly once before returning. */
typedef void (*TvHttpHandler) (TvHttpRequest *req, gpointer user_data);

/* Route flags (TvHttpRoute.flags). */
typedef enum {
  /* Group commit: requests to this route that arrive in the same main-loop
   * iteration are handled together in the next one, inside ONE store write
   * transaction (tv_store_batch_begin): each handler's store calls run in
   * savepoints of it (a failed one rolls back alone, with its audit row), and
   * every reply is held until the batch's COMMIT succeeded (one WAL sync for
   * all). If that COMMIT fails, every request of the batch gets 500 internal
   * "nothing was changed" (and a 5xx audit row) instead of its reply. Only for
   * handlers whose whole effect is in the store and their reply (nothing sent
   * elsewhere before the reply). A lone request runs as it would without.
   * Thread: the batches run on ONE store writer thread of the router, with
   * a store connection of its own (tv_store_open_writer; the main loop's
   * connection only for an in-memory store), while the main loop goes on
   * reading, authenticating and answering other requests (WAL: its reads do
   * not wait for the writer; its own writes wait for the batch's COMMIT). One
   * batch is with the writer at a time; requests read meanwhile form the next.
   * Such a handler therefore touches only its request (tv_http_request_*,
   * tv_http_reply_*, the request's store) and what never changes while the
   * server serves (its route's user_data as read-only, the configuration). */
  TV_HTTP_ROUTE_GROUP_COMMIT = 1 << 0,
} TvHttpRouteFlags;

typedef struct {
  const char *method;     /* "GET", "POST", "PUT", "DELETE", "PATCH" */
  const char *pattern;    /* "/api/v1/consults/{id}/cancel": {name} matches one non-empty segment */
  guint roles_allowed;    /* mask of TV_ROLE_*; 0 = no login needed; TV_ROLE_ANY = any logged-in user */
  TvHttpHandler handler;
  guint flags;            /* TvHttpRouteFlags; 0 (the default when omitted) for none */
} TvHttpRoute;

/* Size of the per-connection data the lws protocol that serves HTTP must declare. */
#define TV_HTTP_PSS_SIZE (sizeof (gpointer))

/* tv_http_new:
 * @store: (transfer none) the server's store (may be NULL for a router used only
 *   to list routes, e.g. in tests; requests then get 500).
 * @cfg: (transfer none) the configuration (session timeouts); may be NULL likewise.
 * Both must outlive the router.
 * Returns: (transfer full) an empty router. */
TvHttp *tv_http_new (TvStore *store, const TvServerConfig *cfg);

/* Frees the router; requests still in flight are dropped. NULL accepted. */
void tv_http_free (TvHttp *http);

/* tv_http_notify_when_replied:
 * Calls @fn (@data) once no group-commit request (book, cancel, reschedule) is
 * queued, with the store writer, or waiting for its reply to be written (or
 * for its connection to go): at once when none is, else from the main loop
 * when the last one's reply was written. For a graceful shutdown, so that a
 * booking committed as the signal came is still answered. @fn NULL cancels.
 * Main loop only; @fn must not free the router. */
void tv_http_notify_when_replied (TvHttp *http, GSourceFunc fn, gpointer data);

/* Returns: TRUE while a group-commit request is queued, with the store writer,
 * or waiting for its reply to be written (see tv_http_notify_when_replied). */
gboolean tv_http_replies_pending (TvHttp *http);

/* tv_http_add_routes:
 * Registers @n_routes routes (the array and its strings must stay valid for the
 * router's life: use static tables). @user_data goes to their handlers.
 * A route whose method and pattern are already registered is a programmer
 * error (g_critical, ignored). */
void tv_http_add_routes (TvHttp *http, const TvHttpRoute *routes, gsize n_routes, gpointer user_data);

/* tv_http_add_routes_full:
 * Same, and the router owns @user_data: @destroy (may be NULL) runs on it in
 * tv_http_free() (for per-area state, instead of globals). */
void tv_http_add_routes_full (TvHttp *http, const TvHttpRoute *routes, gsize n_routes, gpointer user_data,
                              GDestroyNotify destroy);

/* Returns: (transfer container) (element-type TvHttpRoute) every registered
 * route in registration order (the elements point into the callers' tables). */
GPtrArray *tv_http_list_routes (TvHttp *http);

/* tv_http_lws_callback:
 * The lws callback for HTTP traffic on the vhost; the protocol that lws binds
 * plain HTTP to (protocols[0]) forwards every reason it does not handle itself
 * here, and declares TV_HTTP_PSS_SIZE as its per-session data size. The router
 * is found through the context user (TvServer, tv_server_get_http). Reasons
 * that are not about HTTP go to lws_callback_http_dummy. */
int tv_http_lws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* ---- the request, for handlers (all (transfer none), valid during the handler) ---- */

const char *tv_http_request_method (TvHttpRequest *req);
/* The path as requested, without the query string. */
const char *tv_http_request_path (TvHttpRequest *req);
/* Returns: the value of the path parameter {@name}, or NULL if the route has none. */
const char *tv_http_request_param (TvHttpRequest *req, const char *name);
/* Returns: the query parameter @name (decoded), or NULL when absent. */
const char *tv_http_request_query (TvHttpRequest *req, const char *name);
/* Returns: (transfer container) (element-type utf8) every value of the query
 * parameter @name in the order sent (FHIR repeats parameters: date=ge..&date=lt..);
 * empty when absent. The strings stay valid during the handler. */
GPtrArray *tv_http_request_query_all (TvHttpRequest *req, const char *name);
/* Returns: (transfer full) (element-type utf8) the names of every query
 * parameter in the order sent (repeats kept), for refusing unknown ones. */
GPtrArray *tv_http_request_query_names (TvHttpRequest *req);
/* Returns: the parsed JSON body, or NULL when the request had no body. */
JsonNode *tv_http_request_body (TvHttpRequest *req);
/* tv_http_request_body_object:
 * Returns: the body as an object; when the body is missing or not an object,
 * replies 400 invalid_json itself and returns NULL (the handler then just returns). */
JsonObject *tv_http_request_body_object (TvHttpRequest *req);
/* Returns: the authenticated user, or NULL on routes that need no login. */
const TvUser *tv_http_request_user (TvHttpRequest *req);
/* Returns: the current session (NULL on routes that need no login). */
const TvSession *tv_http_request_session (TvHttpRequest *req);
/* Returns: the peer's IP address as text ("" if unknown). */
const char *tv_http_request_address (TvHttpRequest *req);
/* Returns: the Host header as sent ("" if none). */
const char *tv_http_request_host (TvHttpRequest *req);
/* Returns: the If-None-Match header as sent (NULL if none, or for detached requests). */
const char *tv_http_request_if_none_match (TvHttpRequest *req);
/* Returns: when the request was dispatched (g_get_real_time(), µs UTC). */
gint64 tv_http_request_now (TvHttpRequest *req);
/* The router's store and configuration (see tv_http_new). In a
 * TV_HTTP_ROUTE_GROUP_COMMIT handler the store is the writer thread's own
 * connection to the same database (the one to use on that thread). */
TvStore *tv_http_request_store (TvHttpRequest *req);
const TvServerConfig *tv_http_request_config (TvHttpRequest *req);
/* Returns: TRUE when the user holds any role of @roles (FALSE without a user). */
gboolean tv_http_request_has_role (TvHttpRequest *req, guint roles);

/* tv_http_request_authenticate_token:
 * Looks up the session of @token exactly as the router does for a bearer token
 * (tv_store_session_lookup: same idle and lifetime checks, same last-seen
 * update) and makes its user the request's (tv_http_request_user/_session),
 * for handlers outside the API's routes (the page gate, tv-web-gate.c).
 * Returns: FALSE with @error (TV_STORE_ERR_TOKEN_UNKNOWN / _EXPIRED, or a store
 * failure) and no user set. */
gboolean tv_http_request_authenticate_token (TvHttpRequest *req, const char *token, GError **error);

/* Returns: (transfer full) the value of the cookie @name sent with the request
 * (parsed by lws), or NULL when absent, over-long, or for detached requests. */
char *tv_http_request_cookie (TvHttpRequest *req, const char *name);

/* ---- audit trail (server/tv-store-audit.h) ------------------------------------------- */

/* tv_http_request_audit:
 * By default every request to a route that needs a login is audited when it is
 * answered (whatever the outcome, 401 and 403 included): one row with the
 * user, their roles, action "<METHOD> <route pattern>", resource type (the
 * first path segment after /api/v1/) and id (the first path parameter), the
 * patient (a consult's patient_id, looked up for /consults/{id} routes; a
 * patient's own id for their own requests), the source address and the status
 * class as outcome ("2xx", "4xx", ...; detail "http <status>").
 * A handler calls this to audit a route that needs no login (login), or to
 * name the action better, the acting user (@user, e.g. the one logging in;
 * NULL keeps the session's) and the patient concerned (@patient_id, NULL keeps
 * the default). Strings are copied; ids only, never names or tokens. */
void tv_http_request_audit (TvHttpRequest *req, const char *action, const TvUser *user, const char *patient_id);

/* tv_http_request_audit_resource:
 * Names the audited resource (@type, @id; copied) instead of the one derived
 * from the route, for requests outside the API (a page: "page", "desk"). */
void tv_http_request_audit_resource (TvHttpRequest *req, const char *type, const char *id);

/* ---- deferred replies --------------------------------------------------------------- */

/* tv_http_request_defer:
 * The handler will reply later: the router does not answer 500 when it returns
 * without a reply. Take a reference (tv_http_request_ref) for the pending work
 * and reply exactly once, from the main loop, then unref. If the client has
 * disconnected meanwhile the reply is dropped (tv_http_request_is_gone says so);
 * accessors stay valid while a reference is held. */
void tv_http_request_defer (TvHttpRequest *req);
/* Returns: @req with one more reference. */
TvHttpRequest *tv_http_request_ref (TvHttpRequest *req);
/* Drops a reference; the last one frees the request. NULL accepted. */
void tv_http_request_unref (TvHttpRequest *req);
/* Returns: TRUE when the connection of @req has closed (a reply would be dropped). */
gboolean tv_http_request_is_gone (TvHttpRequest *req);

/* ---- replies -------------------------------------------------------------------- */

/* tv_http_reply_json:
 * Replies @status with @body (transfer full; NULL = empty body, e.g. 204). */
void tv_http_reply_json (TvHttpRequest *req, guint status, JsonNode *body);

/* tv_http_reply_json_later:
 * Replies @status with the body @build (@data) returns (transfer full; NULL =
 * empty), as tv_http_reply_json (req, status, build (data)) would, with the
 * audit row written now. In a group commit (a reply held for its batch's
 * COMMIT, possibly set on the store writer thread) @build runs later, on the
 * main loop, once the batch committed: the JSON work stays off the writer.
 * So @data must hold everything the body shows, read by the handler now;
 * @build must read nothing else (no store) and may run on another thread
 * than the handler. Otherwise @build runs at once. @free_data (may be NULL)
 * frees @data after @build ran, or without it when the reply is dropped
 * (the COMMIT failed and the reply became a 500, or the router went away). */
typedef JsonNode *(*TvHttpBodyFunc) (gpointer data);
void tv_http_reply_json_later (TvHttpRequest *req, guint status, TvHttpBodyFunc build, gpointer data,
                               GDestroyNotify free_data);

/* tv_http_reply_bytes:
 * Replies @status with @body (transfer none: a reference is taken; NULL = empty)
 * as @content_type, for the static web pages (tv-web.h). Headers the handler
 * set with tv_http_reply_add_header replace the defaults of the same name
 * (Cache-Control, Content-Security-Policy); a HEAD request gets the headers
 * (Content-Length included) and no body. */
void tv_http_reply_bytes (TvHttpRequest *req, guint status, const char *content_type, GBytes *body);

/* tv_http_reply_error:
 * Replies @status with {"error": {"code": @code, "message": <formatted>}}.
 * The message must not contain tokens, passwords or patient names. */
void tv_http_reply_error (TvHttpRequest *req, guint status, const char *code, const char *format, ...)
  G_GNUC_PRINTF (4, 5);

/* tv_http_reply_store_error:
 * Maps a store error to the usual reply: NOT_FOUND 404 not_found, INVALID 400
 * invalid_field, CONFLICT 409 conflict, WRONG_STATE 409 wrong_state, anything
 * else 500 internal (logged with @what, the client sees no detail). */
void tv_http_reply_store_error (TvHttpRequest *req, const GError *error, const char *what);

/* Adds a response header (e.g. "Retry-After"); call before replying. Copied. */
void tv_http_reply_add_header (TvHttpRequest *req, const char *name, const char *value);

/* ---- JSON helpers for handlers ------------------------------------------------------ */

/* Returns: (transfer full) "2026-12-24T09:00:00Z" (RFC 3339, UTC) for @us (µs UTC). */
char *tv_http_format_time (gint64 us);

/* tv_http_parse_time:
 * Parses RFC 3339 text WITH an offset ("...Z" or "...+01:00") into µs UTC.
 * Returns: FALSE for anything else (no offset, garbage). */
gboolean tv_http_parse_time (const char *text, gint64 *out_us);

/* Returns: (transfer full) {id, username, display_name, roles: [...], disabled,
 * time_zone (or null), slot_minutes} for @user. */
JsonNode *tv_http_user_to_json (const TvUser *user);

/* tv_http_get_string:
 * Reads the string member @name of @obj. Missing: replies 400 missing_field when
 * @required (else returns TRUE with *@out = NULL). Present but not a string (or
 * not valid UTF-8, or longer than @max_bytes): replies 400 invalid_field.
 * Returns: FALSE when a reply was sent (the handler returns). */
gboolean tv_http_get_string (TvHttpRequest *req, JsonObject *obj, const char *name, gboolean required,
                             gsize max_bytes, const char **out);

/* ---- without a connection ---------------------------------------------------------- */

/* tv_http_handle_detached:
 * Runs one request through the router as if it had arrived on a connection
 * (for the fuzz target and tests): @method, @path (no query string), @query
 * (NULL-terminated "name=value" fragments, already %-decoded as lws delivers
 * them; may be NULL), @authorization (the header's value, may be NULL),
 * @body_len bytes of @body. The same checks run as for a real request (API
 * prefix 404, body limit 413, UTF-8/JSON 400, route 404/405, session 401, role
 * 403) and then the route's handler, from address 127.0.0.1; a path outside the
 * API goes to the static pages (tv_web_serve) instead.
 * Returns: the HTTP status, and with @reply non-NULL *@reply (transfer full)
 * the reply body ("" when empty). */
guint tv_http_handle_detached (TvHttp *http, const char *method, const char *path, const char *const *query,
                               const char *authorization, const guint8 *body, gsize body_len, char **reply);

G_END_DECLS
