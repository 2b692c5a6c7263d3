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
  /* A GUI makes the choices: in doctor mode (api_session) with admit_mode
   * MANUAL the queue is not offered on stdin; the GUI calls
   * tv_client_session_choose_consult(), which admits as soon as joined. */
  gboolean gui_choices;
  /* Doctor: consult facts sent once, when first paired (each NULL = not sent;
   * all NULL = no "facts" message). Words as in PROTOCOL.md 3.25. */
  const char *facts_modality;
  const char *facts_audio_only_reason;
  const char *facts_patient_location;
  const char *facts_patient_status;
  /* Chat messages to send once, in order, when the first call is set up
   * ("paired"); NULL-terminated, checked with tv_sig_chat_text_check; may be NULL. */
  const char *const *chat;
} TvClientSessionConfig;

/* What a GUI follows (every member may be NULL). All run on the session's
 * main context; none may free the session (do that from an idle or from the
 * done callback).
 *   message: every valid message from the server, after the session acted on it;
 *   call_changed: a call was built on "paired" (@call), or torn down (NULL);
 *   media_state: the current call's peer connection changed state;
 *   reconnecting: the connection to the server dropped, attempt @attempt is
 *     scheduled ("joined" follows when it worked). */
typedef struct _TvClientSession TvClientSession;
typedef struct {
  void (*message) (TvClientSession *session, const TvSigMsg *msg, gpointer user_data);
  void (*call_changed) (TvClientSession *session, TvMediaCall *call, gpointer user_data);
  void (*media_state) (TvClientSession *session, TvMediaState state, gpointer user_data);
  void (*reconnecting) (TvClientSession *session, guint attempt, gpointer user_data);
} TvClientSessionObserver;

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

/* tv_client_session_set_observer: copies @observer (NULL: none); call
 * before tv_client_session_start(). */
void tv_client_session_set_observer (TvClientSession *session, const TvClientSessionObserver *observer,
                                     gpointer user_data);

/* Returns: (transfer none) (nullable) the running call, valid until the next
 * call_changed. */
TvMediaCall *tv_client_session_get_call (TvClientSession *session);

/* Returns: our role once joined, TV_SIG_ROLE_NONE before. */
TvSigRole tv_client_session_get_role (TvClientSession *session);

/* tv_client_session_choose_consult: doctor mode, queue shown and nothing
 * chosen yet: joins @consult_id (the patient is admitted when "joined" shows
 * them waiting).
 * Returns: FALSE (nothing sent) in any other state. */
gboolean tv_client_session_choose_consult (TvClientSession *session, const char *consult_id);

/* tv_client_session_admit: doctor, joined, the patient waits: sends "admit".
 * Returns: FALSE (nothing sent) otherwise. */
gboolean tv_client_session_admit (TvClientSession *session);

/* tv_client_session_send_back: doctor in a call: sends "send-back" (the
 * patient returns to the waiting room), tears our call down and prints
 * "patient waiting": tv_client_session_admit() lets them in again.
 * Returns: FALSE (nothing sent) otherwise. */
gboolean tv_client_session_send_back (TvClientSession *session);

/* tv_client_session_send_chat:
 * Sends @text as a chat message ("chat"); the server stores it and sends it
 * back to both parties as "chat-message" (the observer's message callback and
 * a "chat" line on stdout show it then, ours included).
 * Returns: FALSE with @error (G_IO_ERROR_INVALID_ARGUMENT: the text breaks
 * the protocol's rule, named; G_IO_ERROR_NOT_CONNECTED: not joined) and
 * nothing sent. The server may still refuse it (not admitted yet, too fast):
 * that arrives as an error message. */
gboolean tv_client_session_send_chat (TvClientSession *session, const char *text, GError **error);

/* tv_client_session_end: a doctor ends the consult ("end"), a patient leaves
 * it ("leave"); finishes with TV_CLIENT_EXIT_OK as tv_client_session_leave. */
void tv_client_session_end (TvClientSession *session);

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

/* tv_client_session_send_facts:
 * Doctor: sends "facts" (PROTOCOL.md 3.27) with the given values (NULL = leave
 * that one as the server has it; at least one non-NULL; @audio_only_reason
 * exactly with "audio-only"). The server answers "facts-saved" (printed, and
 * passed to the observer's message callback) or an error (4006 bad value,
 * 4202 not the doctor). For a GUI's "how is this visit held" controls.
 * Returns: FALSE (nothing sent) when not joined as the doctor or the values
 * are not valid words. */
gboolean tv_client_session_send_facts (TvClientSession *session, const char *modality,
                                       const char *audio_only_reason, const char *patient_location,
                                       const char *patient_status);

G_END_DECLS
