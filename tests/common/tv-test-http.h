/* tv-test-http.h — HTTPS API client and account helpers for tests.
 *
 * Why: every API test needs the same things — users with roles in the
 * server's store, a login, and requests with a bearer token whose JSON replies
 * are parsed and whose status and headers can be asserted. libcurl does the
 * HTTP (trusting only the test server's certificate, full verification of
 * 127.0.0.1); it runs in a worker thread while the caller's thread iterates the
 * default GMainContext, so an in-process server keeps serving meanwhile.
 *
 * Failures: transport failures (connection refused, TLS, timeout) fail the
 * test with curl's message; HTTP error statuses are returned for asserting.
 * Passwords: users created here get TV_TEST_PASSWORD unless told otherwise and
 * are hashed with N = 2^10 (TV_SCRYPT_LN=10 is set in the test process and so
 * inherited by servers started afterwards) to keep suites fast.
 * Thread: the test's main thread.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-roles.h"
#include "tests/common/tv-test-fixture.h"

G_BEGIN_DECLS

#define TV_TEST_PASSWORD "synthetic-password-1"
/* Time one request may take before the test fails. */
#define TV_TEST_HTTP_TIMEOUT_MS 20000

typedef struct _TvTestHttp TvTestHttp;

/* tv_test_http_new:
 * Returns: (transfer full) a client for @server's https://127.0.0.1:PORT/ that
 * keeps its connection alive between requests (one curl easy handle). */
TvTestHttp *tv_test_http_new (TvTestServer *server);
void tv_test_http_free (TvTestHttp *client);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvTestHttp, tv_test_http_free)

/* tv_test_http_request:
 * Sends @method @path (may carry a query string, already encoded) with
 * "Authorization: Bearer @token" when @token is non-NULL and @body (sent as is,
 * Content-Type application/json; NULL = no body; may be invalid JSON on
 * purpose) of @body_len bytes (-1: strlen).
 * Returns: the HTTP status; *@reply (transfer full; may be NULL) is the parsed
 * JSON reply, NULL when the body was empty or not JSON. */
guint tv_test_http_request (TvTestHttp *client, const char *method, const char *path, const char *token,
                            const char *body, gssize body_len, JsonNode **reply);

/* tv_test_http_set_tolerate_transport_errors:
 * With TRUE, a request that fails below HTTP (reset, TLS, timeout) returns
 * status 0 instead of failing the test (for abuse cases where the server may
 * close the connection while the client is still sending). */
void tv_test_http_set_tolerate_transport_errors (TvTestHttp *client, gboolean tolerate);

/* tv_test_http_set_cookie:
 * Sends @cookie ("name=value[; name2=value2]", copied) as the Cookie header of
 * every following request of @client; NULL sends none. */
void tv_test_http_set_cookie (TvTestHttp *client, const char *cookie);

/* Returns: (transfer none) a response header of the last request (name in any
 * case), NULL when absent. */
const char *tv_test_http_header (TvTestHttp *client, const char *name);

/* Returns: (transfer none) the last request's reply body as text, whatever its
 * content type (CSV, HTML...); "" when it had none. Valid until the next request. */
const char *tv_test_http_body (TvTestHttp *client);

/* Returns: the number of new connections the last request opened (0 = reused). */
glong tv_test_http_new_connections (TvTestHttp *client);

/* tv_test_http:
 * One request on a fresh connection, as tv_test_http_request; *@status gets the
 * HTTP status and *@reply (may be NULL) the parsed JSON reply. */
void tv_test_http (TvTestServer *server, const char *method, const char *path, const char *token,
                   const char *json_body, guint *status, JsonNode **reply);

/* tv_test_http_error_code:
 * Returns: (transfer none) reply.error.code, or NULL when @reply is not an error body. */
const char *tv_test_http_error_code (JsonNode *reply);

/* Returns: (transfer none) the member @name of @reply's root object if it is
 * an object, else NULL (for assertions like reply.user). */
JsonObject *tv_test_http_object (JsonNode *reply, const char *name);

/* ---- accounts ---------------------------------------------------------------- */

/* tv_test_create_user:
 * Creates a user in <@data_dir>/televisit.db through the store API (as
 * `televisitctl user add` does) with password @password (NULL: TV_TEST_PASSWORD),
 * @roles (TV_ROLE_* mask) and @time_zone (NULL: none; doctors then get "UTC").
 * Returns: (transfer full) the user id; fails the test on error. */
char *tv_test_create_user (const char *data_dir, const char *username, const char *display_name, guint roles,
                           const char *time_zone, const char *password);

/* tv_test_login:
 * POST /api/v1/login as @username with @password (NULL: TV_TEST_PASSWORD).
 * Returns: (transfer full) the session token; fails the test unless 200. */
char *tv_test_login (TvTestServer *server, const char *username, const char *password);

/* Weekly hours open around the clock, every day (the body of PUT
 * /api/v1/doctors/{id}/availability): any future hour is bookable. */
#define TV_TEST_ALL_DAY_HOURS                                                                            \
  "{\"hours\":[{\"weekday\":1,\"start\":\"00:00\",\"end\":\"24:00\"},"                                 \
  "{\"weekday\":2,\"start\":\"00:00\",\"end\":\"24:00\"},{\"weekday\":3,\"start\":\"00:00\",\"end\":\"24:00\"}," \
  "{\"weekday\":4,\"start\":\"00:00\",\"end\":\"24:00\"},{\"weekday\":5,\"start\":\"00:00\",\"end\":\"24:00\"}," \
  "{\"weekday\":6,\"start\":\"00:00\",\"end\":\"24:00\"},{\"weekday\":7,\"start\":\"00:00\",\"end\":\"24:00\"}]}"

/* tv_test_open_all_day:
 * Logs in as the doctor @username (TV_TEST_PASSWORD) and sets the hours of
 * @doctor_id to TV_TEST_ALL_DAY_HOURS. Fails the test unless both succeed. */
void tv_test_open_all_day (TvTestServer *server, const char *username, const char *doctor_id);

/* tv_test_bookable_clinic:
 * Creates in @data_dir a doctor "dr.@suffix" (time zone UTC), a patient
 * "pat.@suffix" and a scheduler "desk.@suffix" (all with TV_TEST_PASSWORD),
 * starts a server on it and opens the doctor's hours around the clock
 * (tv_test_open_all_day), so that any future hour is bookable.
 * Returns: (transfer full) the running server; *@doctor_id and *@patient_id
 * (transfer full) the two ids. Fails the test on any error. */
TvTestServer *tv_test_bookable_clinic (const char *data_dir, const char *suffix, char **doctor_id,
                                       char **patient_id);

/* tv_test_booking_body:
 * Returns: (transfer full) the body of POST /api/v1/consults booking
 * @patient_id with @doctor_id at HH:00 UTC (@hour), @days from today (UTC). */
char *tv_test_booking_body (const char *doctor_id, const char *patient_id, guint days, guint hour);

/* tv_test_server_stop_replied_once:
 * Stops @server (SIGTERM, up to @timeout_ms) and frees it, failing the test
 * unless it exited 0 and its stderr never said that a request was replied to
 * twice ("replied twice") or left without a reply ("did not reply"). */
void tv_test_server_stop_replied_once (TvTestServer *server, guint timeout_ms);

/* tv_test_store_exec:
 * Runs raw SQL on <@data_dir>/televisit.db (e.g. to move a session's
 * last_seen back in time instead of sleeping). Fails the test on error. */
void tv_test_store_exec (const char *data_dir, const char *sql);

/* Returns: the first column of the first row of @sql as an integer (-1 if no row). */
gint64 tv_test_store_int (const char *data_dir, const char *sql);

G_END_DECLS
