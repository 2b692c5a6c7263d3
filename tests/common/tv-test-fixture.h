/* tv-test-fixture.h — shared fixtures for the server, client and end-to-end tests.
 *
 * Why: every black-box test needs the same things — a private temp dir, a real
 * televisit-server process on a free loopback port, consults and tokens in its
 * store, a scripted WebSocket peer, and waits that end on an event or a
 * timeout (never a sleep). Writing them once keeps the tests short and makes
 * every one of them clean up and fail the same way.
 *
 * Failures: functions that "fail the test" do so with a g_assert-style message
 * naming the caller's file and line, which aborts the test binary; the abort
 * handler installed by tv_test_init() still kills the servers we started and
 * removes our temp dirs.
 *
 * Thread: the test's main thread only; waits iterate the default GMainContext.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "client/tv-ws-client.h"
#include "server/tv-store.h"

G_BEGIN_DECLS

/* Default time a peer waits for the next message. */
#define TV_TEST_TIMEOUT_MS 5000

/* tv_test_init:
 * g_test_init() plus: SIGPIPE ignored, and handlers so that on abort, a crash
 * or the watchdog the servers we started are killed and our temp dirs removed
 * (also at normal exit). Call first in main(). With TV_TEST_KEEP_TMP=1 in the
 * environment the temp dirs (server logs, databases) are kept for a post-mortem. */
void tv_test_init (int *argc, char ***argv);

/* Returns: (transfer none) $TV_BUILD_DIR, or "build" when unset. */
const char *tv_test_build_dir (void);

/* tv_test_tmpdir:
 * Returns: (transfer none) a new, unique, empty directory (mode 0700), removed
 * with its contents at exit (normal exit, failed assertion, crash or watchdog).
 * Fails the test if it cannot be created. */
const char *tv_test_tmpdir (void);

/* tv_test_wait_until:
 * Iterates the default main context until @cond(@data) returns TRUE or
 * @timeout_ms pass. @cond is re-checked after every event and at least every
 * 10 ms (so it may also look at state outside the main loop, e.g. the store).
 * Returns: TRUE when the condition became true, FALSE on timeout. */
gboolean tv_test_wait_until (GSourceFunc cond, gpointer data, guint timeout_ms);

/* tv_test_watchdog_start:
 * Arms a process-wide watchdog (SIGALRM): if it is not stopped or re-armed
 * within @seconds, the test binary prints @what and aborts (servers killed,
 * temp dirs removed). Works even when the test is stuck outside the main loop. */
void tv_test_watchdog_start (guint seconds, const char *what);
void tv_test_watchdog_stop (void);

/* ---- the server under test ---------------------------------------------- */

typedef struct _TvTestServer TvTestServer;

/* tv_test_server_start:
 * Spawns `$TV_BUILD_DIR/televisit-server --data-dir @data_dir --listen 127.0.0.1
 * --port 0 @extra_args...` and waits (20 s) for its readiness line
 * "listening on wss://HOST:PORT/" on stdout. Its stderr goes to a file (see
 * tv_test_server_get_stderr_path). The child gets SIGKILL if the test dies.
 * Returns: (transfer full) the running server; fails the test (showing the
 * server's stderr) if it exits or stays silent. */
TvTestServer *tv_test_server_start (const char *data_dir, const char *const *extra_args);
/* Same, with @env ("NAME=VALUE" strings, NULL-terminated, may be NULL) added to
 * the inherited environment (e.g. TV_STORE_FAULT for fault injection). */
TvTestServer *tv_test_server_start_full (const char *data_dir, const char *const *extra_args,
                                         const char *const *env);

/* Accessors, (transfer none), valid until tv_test_server_free(). */
const char *tv_test_server_get_url (TvTestServer *server);        /* "wss://127.0.0.1:PORT/" */
guint16 tv_test_server_get_port (TvTestServer *server);
const char *tv_test_server_get_data_dir (TvTestServer *server);
const char *tv_test_server_get_cert_path (TvTestServer *server);  /* <data-dir>/tls/cert.pem */
const char *tv_test_server_get_stderr_path (TvTestServer *server);
GPid tv_test_server_get_pid (TvTestServer *server);                /* 0 once it exited */
gboolean tv_test_server_is_running (TvTestServer *server);

/* Returns: (transfer full) everything the server wrote to stderr so far ("" if nothing). */
char *tv_test_server_read_stderr (TvTestServer *server);
/* Returns: (transfer none) every stdout line the server wrote so far (readiness line
 * included, each line ending in \n), as read by the main loop; valid until the next
 * main-loop iteration or tv_test_server_free(). */
const char *tv_test_server_get_stdout (TvTestServer *server);

/* tv_test_server_stop:
 * Sends SIGTERM and waits up to @timeout_ms for the exit.
 * Returns: the exit status (0..255), 128+N if killed by signal N, or -1 when it
 * did not exit in time (it is then SIGKILLed and reaped). Already exited: its status. */
int tv_test_server_stop (TvTestServer *server, guint timeout_ms);

/* tv_test_server_kill: SIGKILL and reap (a crash, for restart tests). */
void tv_test_server_kill (TvTestServer *server);

/* Kills the server if still running, frees everything (the data dir stays). NULL accepted. */
void tv_test_server_free (TvTestServer *server);

/* tv_test_hub_new:
 * Returns: (transfer full) a client hub trusting only @server's certificate
 * (full verification, also of the 127.0.0.1 address). Fails the test on error. */
TvWsHub *tv_test_hub_new (TvTestServer *server);

/* ---- the store, as televisitctl would use it ----------------------------- */

/* tv_test_store_open:
 * Returns: (transfer full) the store <@data_dir>/televisit.db, opened (and
 * migrated) as the server would; fails the test on error. */
TvStore *tv_test_store_open (const char *data_dir);

/* tv_test_assert_audit_chain:
 * Fails the test unless @store's audit trail verifies with no broken row.
 * Returns: the number of rows in the trail. */
gint64 tv_test_assert_audit_chain (TvStore *store);

/* tv_test_create_consult:
 * Creates a consult in <@data_dir>/televisit.db through the store API. Tokens
 * expire @expires_in_s seconds from now; zero or negative gives tokens that are
 * already expired (the consult is then recorded as created in the past).
 * Out parameters (transfer full) may be NULL. Fails the test on error. */
void tv_test_create_consult (const char *data_dir, const char *doctor, const char *patient,
                             gint64 expires_in_s, char **id, char **doctor_token, char **patient_token);

/* Returns: (transfer full) the consult as stored now; fails the test if missing. */
TvConsult *tv_test_get_consult (const char *data_dir, const char *id);

/* Returns: (transfer full) (element-type TvParticipation) the participation log; fails on error. */
GPtrArray *tv_test_get_participation (const char *data_dir, const char *id);

/* tv_test_end_consult:
 * Marks the consult completed with @reason (e.g. "ended-by-admin", as
 * `televisitctl end` does). Fails the test on error. */
void tv_test_end_consult (const char *data_dir, const char *id, const char *reason);

/* ---- a scripted WebSocket peer ------------------------------------------- */

typedef struct _TvTestPeer TvTestPeer;

/* tv_test_peer_connect:
 * Connects to @url (TV_SIG_SUBPROTOCOL) and waits until the WebSocket is open.
 * Returns: (transfer full) the peer; fails the test if it does not open in 5 s. */
#define tv_test_peer_connect(hub, url) tv_test_peer_connect_at ((hub), (url), __FILE__, __LINE__)
TvTestPeer *tv_test_peer_connect_at (TvWsHub *hub, const char *url, const char *file, int line);

/* tv_test_peer_new:
 * Starts connecting with @options (NULL = defaults) and returns at once; use
 * tv_test_peer_wait_open() / tv_test_peer_wait_closed() to see how it went.
 * Returns: (transfer full) the peer; fails the test if the URL is rejected locally. */
TvTestPeer *tv_test_peer_new (TvWsHub *hub, const char *url, const TvWsConnectOptions *options);

/* Returns: TRUE once open, FALSE if it closed/failed or @timeout_ms passed. */
gboolean tv_test_peer_wait_open (TvTestPeer *peer, guint timeout_ms);

/* A label for failure messages ("doctor A"). Copied. */
void tv_test_peer_set_name (TvTestPeer *peer, const char *name);

/* Returns: (transfer none) the underlying connection (NULL after tv_test_peer_drop). */
TvWsClient *tv_test_peer_get_client (TvTestPeer *peer);

/* Queue one text message / raw frame; fail the test if the queue refuses it. */
#define tv_test_peer_send(peer, json) tv_test_peer_send_at ((peer), (json), __FILE__, __LINE__)
void tv_test_peer_send_at (TvTestPeer *peer, const char *json, const char *file, int line);
void tv_test_peer_sendf (TvTestPeer *peer, const char *format, ...) G_GNUC_PRINTF (2, 3);
void tv_test_peer_send_raw (TvTestPeer *peer, const void *data, gsize len, gboolean binary);

/* tv_test_peer_expect:
 * Waits (up to @timeout_ms; 0 = TV_TEST_TIMEOUT_MS) for the next message and
 * checks its "type". Fails the test on timeout, close, or another type, printing
 * what arrived. Returns: (transfer full) the message object. */
#define tv_test_peer_expect(peer, type, timeout_ms) \
  tv_test_peer_expect_at ((peer), (type), (timeout_ms), __FILE__, __LINE__)
JsonObject *tv_test_peer_expect_at (TvTestPeer *peer, const char *type, guint timeout_ms,
                                    const char *file, int line);

/* tv_test_peer_expect_error:
 * The next message must be an "error" with @code (a TvSigErrorCode) and a
 * non-empty "message"; with _ref, also "ref" == @ref (NULL: "ref" must be absent).
 * Returns: (transfer full) the error object. */
#define tv_test_peer_expect_error(peer, code) \
  tv_test_peer_expect_error_at ((peer), (code), FALSE, NULL, __FILE__, __LINE__)
#define tv_test_peer_expect_error_ref(peer, code, ref) \
  tv_test_peer_expect_error_at ((peer), (code), TRUE, (ref), __FILE__, __LINE__)
JsonObject *tv_test_peer_expect_error_at (TvTestPeer *peer, int code, gboolean check_ref, const char *ref,
                                          const char *file, int line);

/* tv_test_peer_next:
 * Returns: (transfer full) the next message, or NULL if none arrived within
 * @timeout_ms or the connection closed with nothing left queued. */
JsonObject *tv_test_peer_next (TvTestPeer *peer, guint timeout_ms);

/* Returns: the number of received messages not yet taken. */
guint tv_test_peer_pending (TvTestPeer *peer);

/* tv_test_peer_sync:
 * A barrier: sends a ping with a fresh id and requires the matching pong to be
 * the very next message. Proves the server handled everything sent before and
 * that nothing unexpected (e.g. another consult's relay) reached this peer. */
#define tv_test_peer_sync(peer) tv_test_peer_sync_at ((peer), __FILE__, __LINE__)
void tv_test_peer_sync_at (TvTestPeer *peer, const char *file, int line);

/* tv_test_peer_join:
 * Sends join with @token and expects "joined" with @role ("doctor"/"patient").
 * Returns: (transfer full) the joined message. */
#define tv_test_peer_join(peer, token, role) tv_test_peer_join_at ((peer), (token), (role), __FILE__, __LINE__)
JsonObject *tv_test_peer_join_at (TvTestPeer *peer, const char *token, const char *role,
                                  const char *file, int line);

/* tv_test_peer_wait_closed:
 * Returns: TRUE once the connection is closed (by either side), FALSE on timeout. */
gboolean tv_test_peer_wait_closed (TvTestPeer *peer, guint timeout_ms);
gboolean tv_test_peer_is_open (TvTestPeer *peer);
/* TRUE once closed or failed (no waiting). */
gboolean tv_test_peer_is_closed (TvTestPeer *peer);
gboolean tv_test_peer_was_opened (TvTestPeer *peer);
/* Close code the server sent (0 if none) and the transport error, once closed. */
int tv_test_peer_get_close_code (TvTestPeer *peer);
const GError *tv_test_peer_get_close_error (TvTestPeer *peer);

/* Starts a clean WebSocket close (close frame after the queue drains). */
void tv_test_peer_close (TvTestPeer *peer);
/* Drops the connection abruptly (no close frame; the server sees a drop). */
void tv_test_peer_drop (TvTestPeer *peer);
/* Frees the peer (dropping the connection if still open). NULL accepted. */
void tv_test_peer_free (TvTestPeer *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvTestPeer, tv_test_peer_free)

/* ---- small JSON helpers for assertions ----------------------------------- */

/* Returns: (transfer none) the string member @name, or NULL if absent / not a string. */
const char *tv_test_json_str (JsonObject *obj, const char *name);
/* Returns: the integer member @name, or @fallback if absent / not an integer. */
gint64 tv_test_json_int (JsonObject *obj, const char *name, gint64 fallback);
/* Returns: 1/0 for a boolean member @name, -1 if absent / not a boolean. */
int tv_test_json_bool (JsonObject *obj, const char *name);
/* Returns: (transfer full) compact JSON text of @obj, for messages. */
char *tv_test_json_to_string (JsonObject *obj);

G_END_DECLS
