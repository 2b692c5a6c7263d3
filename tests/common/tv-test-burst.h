/* tv-test-burst.h — many HTTPS API requests sent at the same moment.
 *
 * Why: behaviour that only shows when requests arrive together (races for a
 * slot, the server's group commit of requests read in one main-loop
 * iteration) needs them on the wire at once, each on its own connection.
 * tv_test_http_request is one request at a time; a burst drives one libcurl
 * multi handle from the caller's thread until every reply is in.
 * Each connection is opened and its TLS handshake done first (a GET of
 * @warm_path), so the requests themselves go out back to back; or, without
 * a warm-up, each request opens a fresh connection (handshakes included).
 * Failures: a transport failure of any request fails the test with curl's
 * message; statuses and bodies are returned for asserting.
 * Thread: the test's main thread (the server runs in its own process).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "tests/common/tv-test-fixture.h"

G_BEGIN_DECLS

typedef struct _TvTestBurst TvTestBurst;

/* Returns: (transfer full) an empty burst whose requests go to @server
 * (https://127.0.0.1:PORT) unless added with tv_test_burst_add_to. */
TvTestBurst *tv_test_burst_new (TvTestServer *server);
void tv_test_burst_free (TvTestBurst *burst);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvTestBurst, tv_test_burst_free)

/* Adds one request (@body JSON or NULL, @token the bearer session) on a
 * connection of its own. Strings are copied. Returns: its index. */
guint tv_test_burst_add (TvTestBurst *burst, const char *method, const char *path, const char *token,
                         const char *body);
/* Same, to @server (which must outlive the burst's run). */
guint tv_test_burst_add_to (TvTestBurst *burst, TvTestServer *server, const char *method, const char *path,
                            const char *token, const char *body);

/* With @tolerate, a request whose connection fails (e.g. the server died)
 * gets status 0 instead of failing the test. */
void tv_test_burst_set_tolerate_transport_errors (TvTestBurst *burst, gboolean tolerate);

/* tv_test_burst_run:
 * Opens every request's connection with a GET of @warm_path (e.g.
 * "/api/v1/me"; its reply is dropped), then sends all requests at once and
 * waits (TV_TEST_HTTP_TIMEOUT_MS) for every reply. With @warm_path NULL every
 * request opens its own fresh connection instead (closed after the reply).
 * Can be run once. */
void tv_test_burst_run (TvTestBurst *burst, const char *warm_path);

/* After run: the HTTP status of request @i (0 when none). */
guint tv_test_burst_status (TvTestBurst *burst, guint i);
/* After run: (transfer none) the reply body of request @i as received. */
const char *tv_test_burst_body (TvTestBurst *burst, guint i);
/* After run: (transfer full) the parsed reply of request @i, NULL when not JSON. */
JsonNode *tv_test_burst_reply (TvTestBurst *burst, guint i);

G_END_DECLS
