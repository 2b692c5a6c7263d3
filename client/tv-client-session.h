/* tv-client-session.h — one participant's signaling session with the Televisit server.
 *
 * The session connects over WSS (TvWsClient), sends "join" with the token, and
 * then follows the consult protocol. A patient may first wait in the waiting
 * room ("waiting", "doctor-ready"); a doctor admits a waiting patient ("admit")
 * at once, after a delay, or when Enter is pressed (TvClientAdmitMode). On
 * "paired" it builds a fresh TvMediaCall
 * (the doctor offers), relays local SDP/candidates to the server and remote ones
 * into the call, reports "media" connected/disconnected from the call's state,
 * tears the call down on "peer-left" and waits for the next "paired", and stops
 * on "ended". An unexpected drop of the WebSocket (closed, or silent: no
 * answer to the keep-alive pings for 10 s) is repaired by reconnecting with
 * back-off and joining again with the same token. Every way the session
 * can end maps to one TvClientExitCode, delivered once through the done
 * callback.
 *
 * Threading: everything runs on the GMainContext that is thread-default when
 * tv_client_session_new() is called (the process's one main loop); call all
 * functions from that thread.
 */
#pragma once

#include <glib.h>
#include "client/tv-client-options.h"
#include "media/tv-media.h"
#include "signaling/tv-sig-message.h"

G_BEGIN_DECLS

typedef struct _TvClientSession TvClientSession;

typedef struct {
  const char *server_url;        /* wss://HOST:PORT/PATH (validated) */
  const char *token;             /* clear-text join token; copied, never logged; NULL with api_session */
  /* Doctor mode: an HTTPS API session token (POST /api/v1/login) instead of a
   * join token. The session sends "auth", prints the queue from every
   * "dashboard", picks a waiting patient (admit_mode auto: the first one;
   * manual: a number or Enter read from stdin), joins that consult by id and
   * admits the patient at once. Copied, never logged. */
  const char *api_session;
  const char *ca_file;           /* PEM to trust, or NULL */
  gboolean insecure;
  TvMediaConfig media;           /* copied per call (strings must outlive the session) */
  guint duration_s;              /* 0 = none: else leave this long after the first connect */
  guint peer_timeout_s;          /* > 0 */
  guint media_timeout_s;         /* > 0 */
  gboolean end_on_exit;          /* doctor: send "end" rather than "leave" on a normal exit */
  TvClientAdmitMode admit_mode;  /* doctor: how a waiting patient is admitted */
  guint admit_after_ms;          /* doctor, auto: delay before admitting (0 = at once) */
  /* Reconnection back-off; 0 = defaults (500 ms doubling to 8000 ms, 60000 ms in all). */
  guint reconnect_initial_ms;
  guint reconnect_max_ms;
  guint reconnect_window_ms;
} TvClientSessionConfig;

/* Called exactly once when the session has finished (the WebSocket is closed
 * and no call runs any more). @reason is a short word ("duration", "ended",
 * "signal", "token-invalid", "no-peer", ...). The session may be freed from
 * inside the callback. */
typedef void (*TvClientSessionDoneFunc) (TvClientSession *session, TvClientExitCode code,
                                         const char *reason, gpointer user_data);

/* tv_client_session_new:
 * Creates the session and its libwebsockets context; does not connect yet.
 * Returns: (transfer full) the session, or NULL with @error (TV_WS_ERROR
 * CONTEXT when libwebsockets cannot start). */
TvClientSession *tv_client_session_new (const TvClientSessionConfig *cfg, TvClientSessionDoneFunc done,
                                        gpointer user_data, GError **error);

/* tv_client_session_start: starts connecting; progress is printed on stdout
 * and the outcome arrives through the done callback. Call once. */
void tv_client_session_start (TvClientSession *session);

/* tv_client_session_leave:
 * Leaves the consult as a normal exit (SIGINT/SIGTERM): sends "leave" (or
 * "end" for a doctor with end_on_exit), waits briefly for the server to close,
 * then finishes with TV_CLIENT_EXIT_OK and @reason. A second call while already
 * leaving finishes at once. */
void tv_client_session_leave (TvClientSession *session, const char *reason);

/* tv_client_session_stats_json:
 * Returns: (transfer full) a JSON object text: the last call's TvMediaStats,
 * video_frames_decoded/audio_buffers_decoded summed over all calls of this
 * session, "calls", "role", "consult", "exit_code", "exit_reason" (the latter
 * two null while running). Never NULL. */
char *tv_client_session_stats_json (TvClientSession *session);

/* tv_client_session_free: drops the connection and the call without callbacks;
 * NULL accepted. */
void tv_client_session_free (TvClientSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvClientSession, tv_client_session_free)

G_END_DECLS
