/* tv-client-session.c — one participant's signaling session (see tv-client-session.h).
 *
 * A small state machine on the main loop:
 *
 *   CONNECTING --opened--> JOINING --joined--> JOINED --(paired: start call)...
 *        |                    |                   |
 *        +-- closed before ever joining: exit 2   +-- unexpected close: RECONNECTING
 *                                                       (back-off, then CONNECTING again)
 *   doctor mode (--login): CONNECTING --opened--> AUTHING --authed--> QUEUE
 *        --dashboard with a waiting patient (auto) / a choice on stdin (manual)-->
 *        JOINING (join {consult}) --joined--> JOINED, admit at once
 *   any --leave_with()--> LEAVING (leave/end sent, wait for the close) --> DONE
 *
 * The media call lives only between "paired" and "peer-left" (or a drop): each
 * pairing renegotiates from scratch with a fresh TvMediaCall, which keeps the
 * webrtcbin state simple. That call is built and set PLAYING ahead (the
 * "spare": at start, then while waiting), so that "paired" only negotiates;
 * it is used if the ICE servers from "joined" are still the ones it has.
 * Frees of TvWsClient and the done callback are always
 * deferred to an idle source, so nothing is destroyed from inside its own
 * libwebsockets callback. Main-loop thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include "client/tv-client-session.h"

#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/tv-ws-client.h"

#define LEAVE_GUARD_MS 3000  /* how long to wait for the server to close after leave/end */
/* Keep-alive: a silently dead TCP path (laptop changed networks, NAT timeout)
 * gives no close for minutes; a ping every KEEPALIVE_MS and no traffic at all
 * for SILENCE_MS means the connection is gone, and we reconnect. */
#define KEEPALIVE_MS 3000
#define SILENCE_MS 10000
/* A failed peer connection ends the run only if no "peer-left"/"ended"
 * explains it within this time: when the other party leaves, its ICE agent
 * goes away at once (with TURN, the relay allocation is deleted and our
 * checks fail within milliseconds), often before the server's message about
 * the departure reaches us. */
#define ICE_FAIL_GRACE_MS 1500
/* Media recovery (PROTOCOL.md "restart"): libnice keeps the selected pair
 * through a short outage, so media normally comes back by itself. A call that
 * had media and stays disconnected for RESTART_AFTER_MS (or fails outright:
 * consent expired, address gone) asks the server to renegotiate from scratch
 * within the consult; both parties build a new peer connection. A new call
 * that does not connect within RESTART_RETRY_MS asks again. */
#define RESTART_AFTER_MS 6000
#define RESTART_RETRY_MS 5000
/* Remote audio louder than this peak (0..1 of full scale, about -40 dBFS)
 * is "sound"; a muted microphone decodes to zeros. */
#define AUDIO_WATCH_MS 250
#define AUDIO_SOUND_PEAK 0.01
/* At start, how long to wait for the prepared call's media to flow before
 * connecting (tv_media_call_wait_ready); a slow camera only delays that. */
#define MEDIA_READY_WAIT_MS 2000

typedef enum {
  PHASE_IDLE,
  PHASE_CONNECTING,   /* WebSocket being opened (first time or again) */
  PHASE_AUTHING,      /* doctor mode: open, "auth" sent */
  PHASE_QUEUE,        /* doctor mode: authed, showing the queue, no consult chosen yet */
  PHASE_JOINING,      /* open, "join" sent */
  PHASE_JOINED,       /* "joined" received */
  PHASE_RECONNECTING, /* waiting for the next attempt */
  PHASE_CLOSING,      /* the server is about to close (ended / fatal error / leave sent) */
  PHASE_DONE,
} Phase;

struct _TvClientSession {
  /* configuration (owned copies) */
  char *server_url;
  char *token;
  /* Doctor mode (--login): the API session for "auth" (a credential: wiped),
   * the consult picked from the queue, and the last queue shown: the ids of
   * its consults in the order printed (n=1..), NULL where the patient is not
   * waiting in the waiting room. */
  char *api_session;
  gboolean ever_authed;
  char *chosen_consult;
  GPtrArray *queue_ids;
  GString *stdin_line;
  char *ca_file;
  gboolean insecure;
  TvMediaConfig media_cfg;
  char **local_addresses;
  char *stun, *turn;     /* --stun / --turn: override what the server offers */
  /* From "joined"'s ice_servers, in webrtcbin's form (stun://, turn://user:pass@):
   * used when the flag above is not given. turn holds a credential: wiped. */
  char *offered_stun, *offered_turn;
  guint duration_s, peer_timeout_s, media_timeout_s;
  gboolean end_on_exit;
  TvClientAdmitMode admit_mode;
  guint admit_after_ms;
  guint reconnect_initial_ms, reconnect_max_ms, reconnect_window_ms;

  TvClientSessionDoneFunc done;
  gpointer done_data;

  TvWsHub *hub;
  TvWsClient *ws;       /* the live connection, or NULL */
  GPtrArray *dead_ws;   /* connections to free from an idle (never from their own callback) */
  guint reap_id;

  Phase phase;
  gboolean ever_joined;
  gboolean reconnecting;
  guint reconnect_attempt;
  guint reconnect_delay_ms;
  gint64 reconnect_deadline_us;

  TvSigRole role;
  char *consult_id;

  TvMediaCall *call;
  /* The next call, built and PLAYING while we wait for the other party, so
   * that "paired" only negotiates (NULL = none), and the ICE servers it was
   * built with (it is used only if they are still the ones to use). */
  TvMediaCall *spare;
  char *spare_stun, *spare_turn, *spare_title;
  gboolean media_reported_up;
  gboolean ever_connected;
  guint calls;
  guint64 video_total, audio_total;   /* of the calls already torn down */
  TvMediaStats last_stats;
  gboolean have_last_stats;

  guint peer_timer, media_timer, duration_timer, reconnect_timer, guard_timer, done_idle, deferred_leave_id;
  guint keepalive_timer;
  guint ice_fail_timer;  /* ICE_FAIL_GRACE_MS after the call failed */
  guint restart_timer;   /* asks for a media restart when it fires (RESTART_AFTER_MS / RESTART_RETRY_MS) */
  gboolean restart_pending;  /* "media-restart" received: the next "paired" is the restart's */
  /* Doctor: a patient waits in the waiting room to be admitted. */
  gboolean patient_waiting;
  guint admit_timer, stdin_watch;
  /* Patient: "waiting for the doctor" already printed for this wait. */
  gboolean wait_announced;
  gint64 last_rx_us;     /* monotonic time of the last message from the server */
  gint64 ping_id;

  /* Outcome: set when the session decides to stop, delivered once. */
  gboolean exit_set;
  TvClientExitCode exit_code;
  char *exit_reason;
  gboolean finished;

  /* A GUI (tv-gtk-app) follows the session through these; it also makes
   * the choices stdin would otherwise give (gui_choices). */
  TvClientSessionObserver observer;
  gpointer observer_data;
  gboolean gui_choices;
  /* "remote-audio sound|silent" events: checked every AUDIO_WATCH_MS. */
  guint audio_watch_timer;
  int remote_audio;  /* -1 unknown (no audio yet), 0 silent, 1 sound */
  /* Doctor: consult facts to send once paired (owned; NULL = not sent). */
  char *facts[4];    /* modality, audio_only_reason, patient_location, patient_status */
  gboolean facts_sent;
  /* Chat: what to send on the first "paired" (--chat), and what was seen. */
  char **chat_out;
  gboolean chat_sent;
  GHashTable *chat_seen;   /* ids (gint64*) of chat-message already shown */
  JsonArray *chat_log;     /* {id, at, from, text} in the order seen, for --stats-json */
};

static void connect_ws (TvClientSession *self);
static void connection_lost (TvClientSession *self, const char *why);
static void leave_with (TvClientSession *self, TvClientExitCode code, const char *reason);
static void finish (TvClientSession *self, TvClientExitCode code, const char *reason);
static void expect_close (TvClientSession *self);
static void defer_leave (TvClientSession *self, TvClientExitCode code, const char *reason);

/* ---- output ---------------------------------------------------------------- */

/* One progress event per stdout line, flushed at once so a parent process
 * (tests, scripts) can follow the session as it happens. */
static void say (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
static void
say (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vfprintf (stdout, fmt, ap);
  va_end (ap);
  fputc ('\n', stdout);
  fflush (stdout);
}

static const char *
bool_str (gboolean b)
{
  return b ? "true" : "false";
}

/* ---- timers ---------------------------------------------------------------- */

static void
clear_timer (guint *id)
{
  if (*id != 0)
    {
      g_source_remove (*id);
      *id = 0;
    }
}

/* ---- WebSocket plumbing ------------------------------------------------------ */

static gboolean
reap_dead (gpointer data)
{
  TvClientSession *self = data;
  self->reap_id = 0;
  g_ptr_array_set_size (self->dead_ws, 0);
  return G_SOURCE_REMOVE;
}

/* Detaches the live connection; it is freed (dropped if still open) from an idle. */
static void
drop_ws (TvClientSession *self)
{
  if (self->ws == NULL)
    return;
  g_ptr_array_add (self->dead_ws, g_steal_pointer (&self->ws));
  if (self->reap_id == 0)
    self->reap_id = g_idle_add (reap_dead, self);
}

/* Sends one protocol message (takes @json). A failure is logged: the close
 * callback that follows a dead connection drives the recovery. */
static void
send_json (TvClientSession *self, char *json)
{
  g_autofree char *text = json;
  g_autoptr (GError) error = NULL;

  if (text == NULL)
    return;
  if (self->ws == NULL)
    {
      g_debug ("not connected; dropping an outgoing message");
      return;
    }
  if (!tv_ws_client_send (self->ws, text, &error))
    g_message ("could not send to the server: %s", error->message);
}

/* ---- media call -------------------------------------------------------------- */

/* Frees the call (no callbacks afterwards), keeping its counters for the stats. */
static void
teardown_call (TvClientSession *self)
{
  if (self->call == NULL)
    return;
  tv_media_call_get_stats (self->call, &self->last_stats);
  self->have_last_stats = TRUE;
  self->video_total += self->last_stats.video_frames_decoded;
  self->audio_total += self->last_stats.audio_buffers_decoded;
  g_clear_pointer (&self->call, tv_media_call_free);
  clear_timer (&self->media_timer);
  clear_timer (&self->ice_fail_timer);
  clear_timer (&self->restart_timer);
  clear_timer (&self->audio_watch_timer);
  self->remote_audio = -1;
  if (self->media_reported_up)
    say ("media disconnected");
  self->media_reported_up = FALSE;
  if (self->observer.call_changed != NULL)
    self->observer.call_changed (self, NULL, self->observer_data);
}

/* Prints "remote-audio sound" / "remote-audio silent" when the peer's decoded
 * audio changes between the two (the peer muted or unmuted its microphone). */
static gboolean
audio_watch_tick (gpointer data)
{
  TvClientSession *self = data;
  TvMediaStats st;
  int now;

  if (self->call == NULL)
    {
      self->audio_watch_timer = 0;
      return G_SOURCE_REMOVE;
    }
  tv_media_call_get_stats (self->call, &st);
  if (st.audio_buffers_decoded == 0)
    return G_SOURCE_CONTINUE;
  now = st.remote_audio_peak > AUDIO_SOUND_PEAK ? 1 : 0;
  if (now != self->remote_audio)
    say ("remote-audio %s", now ? "sound" : "silent");
  self->remote_audio = now;
  return G_SOURCE_CONTINUE;
}

static void
on_local_sdp (TvMediaCall *call, const char *type, const char *sdp, gpointer user_data)
{
  TvClientSession *self = user_data;
  TvSigMsgType t = g_strcmp0 (type, "offer") == 0 ? TV_SIG_MSG_OFFER : TV_SIG_MSG_ANSWER;

  if (call != self->call)
    return;
  g_info ("sending our %s", type);
  send_json (self, tv_sig_build_sdp (t, sdp));
}

static void
on_local_candidate (TvMediaCall *call, guint mline_index, const char *candidate, gpointer user_data)
{
  TvClientSession *self = user_data;

  if (call != self->call)
    return;
  g_debug ("local candidate %u: %s", mline_index, candidate ? candidate : "(end)");
  send_json (self, tv_sig_build_candidate (mline_index, candidate ? candidate : ""));
}

static gboolean
duration_elapsed (gpointer data)
{
  TvClientSession *self = data;
  self->duration_timer = 0;
  say ("duration elapsed seconds=%u", self->duration_s);
  leave_with (self, TV_CLIENT_EXIT_OK, "duration");
  return G_SOURCE_REMOVE;
}

/* The call failed and nothing explained it (the timer is cleared when the
 * call is torn down on "peer-left"; "ended" closes the session). */
static gboolean
ice_fail_grace_over (gpointer data)
{
  TvClientSession *self = data;
  self->ice_fail_timer = 0;
  if (self->finished || self->phase == PHASE_CLOSING || self->call == NULL)
    return G_SOURCE_REMOVE;
  g_printerr ("televisit-client: the media connection failed (ICE/DTLS)\n");
  leave_with (self, TV_CLIENT_EXIT_MEDIA_FAILED, "ice-failed");
  return G_SOURCE_REMOVE;
}

/* The media stayed down: ask the server to renegotiate (see RESTART_AFTER_MS). */
static gboolean
restart_due (gpointer data)
{
  TvClientSession *self = data;
  self->restart_timer = 0;
  if (self->finished || self->phase != PHASE_JOINED || self->ws == NULL || self->call == NULL
      || tv_media_call_get_state (self->call) == TV_MEDIA_STATE_CONNECTED)
    return G_SOURCE_REMOVE;
  say ("media restart requested");
  g_autoptr (TvSigMsg) msg = tv_sig_msg_new (TV_SIG_MSG_RESTART);
  send_json (self, tv_sig_msg_to_json (msg));
  /* Folded into the peer's request, or lost: ask again later. */
  self->restart_timer = g_timeout_add (RESTART_RETRY_MS, restart_due, self);
  return G_SOURCE_REMOVE;
}

/* Arms the restart timer for @ms; an armed timer is kept unless @replace. */
static void
arm_restart (TvClientSession *self, guint ms, gboolean replace)
{
  if (self->restart_timer != 0 && !replace)
    return;
  clear_timer (&self->restart_timer);
  self->restart_timer = g_timeout_add (ms, restart_due, self);
}

static void
on_media_state (TvMediaCall *call, TvMediaState state, gpointer user_data)
{
  TvClientSession *self = user_data;

  if (call != self->call)
    return;
  g_info ("peer connection %s", tv_media_state_to_string (state));
  if (self->observer.media_state != NULL)
    self->observer.media_state (self, state, self->observer_data);
  switch (state)
    {
    case TV_MEDIA_STATE_CONNECTED:
      clear_timer (&self->media_timer);
      clear_timer (&self->restart_timer);
      if (!self->media_reported_up)
        {
          self->media_reported_up = TRUE;
          say ("media connected");
          send_json (self, tv_sig_build_media (TRUE));
        }
      /* --duration counts from the first connect of this run, in wall time:
       * both parties leave on their own clock even if the other one left. */
      if (!self->ever_connected && self->duration_s > 0)
        self->duration_timer = g_timeout_add (self->duration_s * 1000u, duration_elapsed, self);
      self->ever_connected = TRUE;
      break;
    case TV_MEDIA_STATE_DISCONNECTED:
    case TV_MEDIA_STATE_CLOSED:
    case TV_MEDIA_STATE_FAILED:
      if (self->media_reported_up)
        {
          self->media_reported_up = FALSE;
          say ("media disconnected");
          send_json (self, tv_sig_build_media (FALSE));
        }
      /* After media was up once: recover by renegotiating, not by leaving. */
      if (self->ever_connected && state != TV_MEDIA_STATE_CLOSED)
        arm_restart (self, state == TV_MEDIA_STATE_FAILED ? ICE_FAIL_GRACE_MS : RESTART_AFTER_MS,
                     state == TV_MEDIA_STATE_FAILED);
      else if (state == TV_MEDIA_STATE_FAILED && self->ice_fail_timer == 0)
        self->ice_fail_timer = g_timeout_add (ICE_FAIL_GRACE_MS, ice_fail_grace_over, self);
      break;
    case TV_MEDIA_STATE_NEW:
    case TV_MEDIA_STATE_CONNECTING:
    default:
      break;
    }
}

static void
on_media_error (TvMediaCall *call, const GError *error, gpointer user_data)
{
  TvClientSession *self = user_data;

  if (call != self->call)
    return;
  /* A failed ICE/DTLS connection also comes here: same grace as above. */
  if (g_error_matches (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_ICE_FAILED))
    {
      if (self->ever_connected)
        arm_restart (self, ICE_FAIL_GRACE_MS, TRUE);   /* unless peer-left explains it first */
      else if (self->ice_fail_timer == 0)
        self->ice_fail_timer = g_timeout_add (ICE_FAIL_GRACE_MS, ice_fail_grace_over, self);
      return;
    }
  g_printerr ("televisit-client: media error: %s\n", error->message);
  defer_leave (self, TV_CLIENT_EXIT_MEDIA_FAILED, "media-error");
}

static void
on_first_remote_frame (TvMediaCall *call, gpointer user_data)
{
  TvClientSession *self = user_data;

  if (call != self->call)
    return;
  say ("first remote frame");
}

static const TvMediaCallbacks media_callbacks = {
  .local_sdp = on_local_sdp,
  .local_candidate = on_local_candidate,
  .state_changed = on_media_state,
  .error = on_media_error,
  .first_remote_frame = on_first_remote_frame,
};

static gboolean
media_timeout (gpointer data)
{
  TvClientSession *self = data;
  self->media_timer = 0;
  g_printerr ("televisit-client: the call did not connect within %u s\n", self->media_timeout_s);
  leave_with (self, TV_CLIENT_EXIT_MEDIA_FAILED, "media-timeout");
  return G_SOURCE_REMOVE;
}

/* Frees a string that may hold a credential, overwriting it first. */
static void
wipe_free (char *s)
{
  if (s != NULL)
    memset (s, 0, strlen (s));
  g_free (s);
}

/* "host" or "[v6]" for a URL authority. */
static char *
url_host (const char *host)
{
  return strchr (host, ':') != NULL ? g_strdup_printf ("[%s]", host) : g_strdup (host);
}

/* Turns "joined"'s ice_servers (RFC 7064/7065 URLs + username/credential, as
 * WebRTC's RTCIceServer) into webrtcbin's one STUN and one TURN URL: the first
 * usable of each. webrtcbin takes TURN credentials inside the URL, so they are
 * percent-encoded (GLib) to survive ':' '/' '+' '=' in them. Never logs the
 * credential. */
static void
take_offered_ice_servers (TvClientSession *self, GPtrArray *servers)
{
  g_clear_pointer (&self->offered_stun, g_free);
  g_clear_pointer (&self->offered_turn, wipe_free);
  for (guint i = 0; servers != NULL && i < servers->len; i++)
    {
      const TvSigIceServer *srv = g_ptr_array_index (servers, i);
      for (guint k = 0; srv->urls != NULL && srv->urls[k] != NULL; k++)
        {
          g_autofree char *scheme = NULL, *host = NULL, *transport = NULL, *h = NULL;
          guint16 port = 0;
          if (!tv_sig_ice_url_parse (srv->urls[k], &scheme, &host, &port, &transport))
            continue;
          h = url_host (host);
          if (g_str_equal (scheme, "stun") && self->offered_stun == NULL)
            {
              self->offered_stun = g_strdup_printf ("stun://%s:%u", h, port);
              say ("ice server offered stun=%s:%u", host, port);
            }
          else if (!g_str_equal (scheme, "stun") && self->offered_turn == NULL && srv->username != NULL
                   && srv->credential != NULL)
            {
              g_autofree char *user = g_uri_escape_string (srv->username, NULL, FALSE);
              g_autofree char *pass = g_uri_escape_string (srv->credential, NULL, FALSE);
              gboolean tcp = g_strcmp0 (transport, "tcp") == 0;
              self->offered_turn = g_strdup_printf ("%s://%s:%s@%s:%u%s", scheme, user, pass, h, port,
                                                    tcp ? "?transport=tcp" : "");
              memset (pass, 0, strlen (pass));
              say ("ice server offered %s=%s:%u transport=%s", scheme, host, port, tcp ? "tcp" : "udp");
            }
        }
    }
}

/* The configuration of the next call: --stun / --turn win over what the
 * server offers. Borrows from @self. */
static void
next_call_config (TvClientSession *self, TvMediaConfig *cfg)
{
  *cfg = self->media_cfg;
  if (cfg->stun_server == NULL)
    cfg->stun_server = self->offered_stun;
  if (cfg->turn_server == NULL)
    cfg->turn_server = self->offered_turn;
  cfg->window_title = self->role == TV_SIG_ROLE_DOCTOR ? "Televisit: consult (doctor)"
                                                       : "Televisit: consult (patient)";
}

static void
clear_spare (TvClientSession *self)
{
  g_clear_pointer (&self->spare, tv_media_call_free);
  g_clear_pointer (&self->spare_stun, g_free);
  g_clear_pointer (&self->spare_turn, wipe_free);
  g_clear_pointer (&self->spare_title, g_free);
}

/* Whether the spare was built with @cfg's ICE servers (and, shown in a window
 * of its own, title): it may predate "joined" (fresh TURN credentials, our role). */
static gboolean
spare_fits (TvClientSession *self, const TvMediaConfig *cfg)
{
  return self->spare != NULL && g_strcmp0 (self->spare_stun, cfg->stun_server) == 0
         && g_strcmp0 (self->spare_turn, cfg->turn_server) == 0
         && (cfg->headless || g_strcmp0 (self->spare_title, cfg->window_title) == 0);
}

/* Builds the next call and sets it PLAYING before joining and while we wait
 * for the other party (pipeline, encoders, webrtcbin would otherwise start on
 * "paired", on both sides at once; docs/BENCHMARKS.md). Not with a video sink
 * of the caller's (the GTK client's gtksink would open a window of its own
 * before it is packed). A failure here is not reported: start_call() builds
 * afresh and reports it. */
static void
prepare_spare (TvClientSession *self)
{
  g_autoptr (GError) error = NULL;
  TvMediaConfig cfg;

  if (self->finished || self->call != NULL || self->media_cfg.video_sink != NULL)
    return;
  next_call_config (self, &cfg);
  if (spare_fits (self, &cfg))
    return;
  clear_spare (self);
  self->spare = tv_media_call_new (&cfg, &media_callbacks, self, &error);
  if (self->spare == NULL || !tv_media_call_prepare (self->spare, &error))
    {
      g_info ("could not prepare the call ahead: %s", error->message);
      clear_spare (self);
      return;
    }
  self->spare_stun = g_strdup (cfg.stun_server);
  self->spare_turn = g_strdup (cfg.turn_server);
  self->spare_title = g_strdup (cfg.window_title);
}

static void
start_call (TvClientSession *self, gboolean offerer)
{
  g_autoptr (GError) error = NULL;
  TvMediaConfig cfg;

  next_call_config (self, &cfg);
  teardown_call (self);
  if (spare_fits (self, &cfg))
    self->call = g_steal_pointer (&self->spare);
  clear_spare (self);
  if (self->call == NULL)
    self->call = tv_media_call_new (&cfg, &media_callbacks, self, &error);
  if (self->call == NULL)
    {
      g_printerr ("televisit-client: cannot set up the call: %s\n", error->message);
      leave_with (self, TV_CLIENT_EXIT_MEDIA_FAILED, "media-setup");
      return;
    }
  self->calls++;
  self->remote_audio = -1;
  clear_timer (&self->audio_watch_timer);
  self->audio_watch_timer = g_timeout_add (AUDIO_WATCH_MS, audio_watch_tick, self);
  if (self->observer.call_changed != NULL)
    self->observer.call_changed (self, self->call, self->observer_data);
  clear_timer (&self->media_timer);
  self->media_timer = g_timeout_add (self->media_timeout_s * 1000u, media_timeout, self);
  if (!tv_media_call_start (self->call, offerer, &error))
    {
      g_printerr ("televisit-client: cannot start the call: %s\n", error->message);
      leave_with (self, TV_CLIENT_EXIT_MEDIA_FAILED, "media-start");
    }
}

/* ---- peer timer -------------------------------------------------------------- */

static gboolean
peer_timeout (gpointer data)
{
  TvClientSession *self = data;
  self->peer_timer = 0;
  g_printerr ("televisit-client: the %s did not come within %u s\n",
              tv_sig_role_to_string (tv_sig_role_peer (self->role)), self->peer_timeout_s);
  leave_with (self, TV_CLIENT_EXIT_NO_PEER, "no-peer");
  return G_SOURCE_REMOVE;
}

static void
arm_peer_timer (TvClientSession *self)
{
  clear_timer (&self->peer_timer);
  /* Not g_timeout_add_seconds: it rounds to a shared second boundary and can
   * fire up to 250 ms early, i.e. wait less than the user asked for (seen in
   * the sanitizer run). The same holds for the media and duration timers. */
  self->peer_timer = g_timeout_add (self->peer_timeout_s * 1000u, peer_timeout, self);
}

/* ---- protocol ---------------------------------------------------------------- */

static void
handle_error_msg (TvClientSession *self, const TvSigMsg *msg)
{
  const char *name = tv_sig_error_name (msg->code);

  if (msg->code == TV_SIG_ERR_NOT_WAITING && g_strcmp0 (msg->ref, "admit") == 0)
    {
      /* Our admit raced with a pairing (already admitted) or a departure. */
      g_info ("admit not needed: %s", msg->message);
      return;
    }
  if (!tv_sig_error_is_fatal (msg->code))
    {
      /* E.g. a "media" report racing with peer-left (4200): the session goes on. */
      g_message ("server reported error %d %s%s%s: %s", msg->code, name,
                 msg->ref ? " for " : "", msg->ref ? msg->ref : "", msg->message);
      return;
    }

  switch (msg->code)
    {
    case TV_SIG_ERR_TOKEN_IN_USE:
      if (self->reconnecting)
        {
          /* The server has not yet noticed our previous connection dropped:
           * treat it as a failed attempt and try again after the back-off. */
          g_info ("token still in use after reconnecting; retrying");
          return;
        }
      /* fall through */
    case TV_SIG_ERR_TOKEN_INVALID:
    case TV_SIG_ERR_TOKEN_EXPIRED:
    case TV_SIG_ERR_CONSULT_ENDED:
    case TV_SIG_ERR_NOT_A_DOCTOR:
      g_printerr ("televisit-client: join refused: %s (%d %s)\n", msg->message, msg->code, name);
      {
        g_autofree char *reason = g_ascii_strdown (name, -1);
        for (char *p = reason; *p; p++)
          if (*p == '_')
            *p = '-';
        teardown_call (self);
        self->exit_set = TRUE;
        self->exit_code = TV_CLIENT_EXIT_JOIN_REFUSED;
        g_free (self->exit_reason);
        self->exit_reason = g_steal_pointer (&reason);
      }
      expect_close (self);
      return;
    case TV_SIG_ERR_SHUTTING_DOWN:
      /* The server restarts: the close that follows triggers a reconnect. */
      g_message ("the server is shutting down; will reconnect");
      return;
    default:
      /* A fatal protocol error is our bug or a server mismatch; the close that
       * follows is handled like a drop (reconnect, or exit 2 before joining). */
      g_warning ("server closed the session with error %d %s: %s", msg->code, name, msg->message);
      return;
    }
}

static void
handle_sdp (TvClientSession *self, const TvSigMsg *msg)
{
  g_autoptr (GError) error = NULL;
  const char *type = msg->type == TV_SIG_MSG_OFFER ? "offer" : "answer";

  if (self->call == NULL)
    {
      g_info ("ignoring an %s outside a call", type);
      return;
    }
  g_info ("received the peer's %s", type);
  if (tv_media_call_set_remote_sdp (self->call, type, msg->sdp, &error))
    return;
  if (g_error_matches (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_WRONG_STATE))
    {
      g_warning ("ignoring the peer's %s: %s", type, error->message);
      return;
    }
  g_printerr ("televisit-client: the peer's %s was refused: %s\n", type, error->message);
  leave_with (self, TV_CLIENT_EXIT_MEDIA_FAILED, "bad-sdp");
}

static gboolean
keepalive_tick (gpointer data)
{
  TvClientSession *self = data;
  TvSigMsg *ping;

  /* Doctor mode: the queue connection is kept alive (and watched) too. */
  if ((self->phase != PHASE_JOINED && self->phase != PHASE_QUEUE) || self->ws == NULL)
    {
      self->keepalive_timer = 0;
      return G_SOURCE_REMOVE;
    }
  if (g_get_monotonic_time () - self->last_rx_us > (gint64) SILENCE_MS * 1000)
    {
      self->keepalive_timer = 0;
      connection_lost (self, "no answer from the server");
      return G_SOURCE_REMOVE;
    }
  ping = tv_sig_msg_new (TV_SIG_MSG_PING);
  ping->id = ++self->ping_id;
  send_json (self, tv_sig_msg_to_json (ping));
  tv_sig_msg_free (ping);
  return G_SOURCE_CONTINUE;
}

/* ---- waiting room (doctor) ---------------------------------------------------- */

static void
send_admit (TvClientSession *self)
{
  clear_timer (&self->admit_timer);
  if (!self->patient_waiting || self->phase != PHASE_JOINED)
    return;
  say ("admitting");
  send_json (self, tv_sig_build_admit (NULL));
}

static gboolean
admit_timer_cb (gpointer data)
{
  TvClientSession *self = data;
  self->admit_timer = 0;
  send_admit (self);
  return G_SOURCE_REMOVE;
}

/* ---- the queue (doctor mode) -------------------------------------------------- */

/* "HH:MM" of an RFC 3339 time in its own offset (the server sends the
 * doctor's zone), "-" when absent or unparsable. */
static char *
hh_mm (const char *rfc3339)
{
  g_autoptr (GDateTime) dt = rfc3339 ? g_date_time_new_from_iso8601 (rfc3339, NULL) : NULL;
  return dt != NULL ? g_date_time_format (dt, "%H:%M") : g_strdup ("-");
}

static gboolean
item_is_waiting (const TvSigDashboardItem *it)
{
  return it->patient_present && it->waiting_since != NULL;
}

/* Joins the consult picked from the queue; "joined" (patient present) then
 * admits at once through patient_seen_waiting. */
static void
choose_consult (TvClientSession *self, const char *consult_id)
{
  g_free (self->chosen_consult);
  self->chosen_consult = g_strdup (consult_id);
  clear_timer (&self->stdin_watch);
  say ("joining consult=%s", consult_id);
  self->phase = PHASE_JOINING;
  send_json (self, tv_sig_build_join_consult (consult_id));
}

/* Prints the queue (the doctor's own screen: patient names are shown here,
 * and only here, never in logs) and remembers who waits. */
static void
show_queue (TvClientSession *self, const TvSigMsg *msg)
{
  guint n = msg->items != NULL ? msg->items->len : 0, waiting = 0;

  g_ptr_array_set_size (self->queue_ids, 0);
  for (guint i = 0; i < n; i++)
    if (item_is_waiting (g_ptr_array_index (msg->items, i)))
      waiting++;
  say ("queue date=%s time_zone=%s consults=%u waiting=%u", msg->date, msg->time_zone, n, waiting);
  for (guint i = 0; i < n; i++)
    {
      const TvSigDashboardItem *it = g_ptr_array_index (msg->items, i);
      g_autofree char *start = hh_mm (it->scheduled_start);
      g_autofree char *since = hh_mm (it->waiting_since);
      say ("queue-item n=%u time=%s status=%s present=%s waiting_since=%s consult=%s patient=%s", i + 1, start,
           it->status, bool_str (it->patient_present), since, it->consult_id, it->patient);
      g_ptr_array_add (self->queue_ids, item_is_waiting (it) ? g_strdup (it->consult_id) : NULL);
    }
}

/* Returns: (transfer none) the first waiting consult of the last queue, or NULL. */
static const char *
first_waiting (TvClientSession *self)
{
  for (guint i = 0; i < self->queue_ids->len; i++)
    if (g_ptr_array_index (self->queue_ids, i) != NULL)
      return g_ptr_array_index (self->queue_ids, i);
  return NULL;
}

static gboolean on_stdin (gint fd, GIOCondition cond, gpointer data);

/* After a queue was shown and nothing is chosen yet: auto picks the first
 * waiting patient, manual asks for a number on stdin. */
static void
offer_choice (TvClientSession *self)
{
  const char *first = first_waiting (self);

  if (first == NULL)
    return;
  if (self->admit_mode == TV_CLIENT_ADMIT_AUTO)
    {
      choose_consult (self, first);
      return;
    }
  if (self->gui_choices)
    return;
  say ("choose a patient: type the number of a waiting consult and Enter (Enter alone: the first waiting)");
  if (self->stdin_watch == 0)
    self->stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, self);
}

/* One line typed in manual mode while the queue is shown. Input is the
 * user's: anything that is not a waiting consult's number is answered on
 * stderr and the queue stays. */
static void
queue_line (TvClientSession *self, char *line)
{
  guint64 n = 0;

  g_strstrip (line);
  if (self->phase != PHASE_QUEUE)
    return;
  if (*line == '\0')
    {
      if (first_waiting (self) != NULL)
        choose_consult (self, first_waiting (self));
      else
        g_printerr ("televisit-client: nobody is waiting\n");
      return;
    }
  if (!g_ascii_string_to_unsigned (line, 10, 1, MAX (self->queue_ids->len, 1), &n, NULL)
      || n > self->queue_ids->len)
    {
      g_printerr ("televisit-client: \"%s\" is not a consult number of the queue (1..%u)\n", line,
                  self->queue_ids->len);
      return;
    }
  if (g_ptr_array_index (self->queue_ids, n - 1) == NULL)
    {
      g_printerr ("televisit-client: nobody waits in consult %u\n", (guint) n);
      return;
    }
  choose_consult (self, g_ptr_array_index (self->queue_ids, n - 1));
}

static void
queue_input (TvClientSession *self, const char *buf, gsize n)
{
  char *nl;

  g_string_append_len (self->stdin_line, buf, (gssize) n);
  while ((nl = memchr (self->stdin_line->str, '\n', self->stdin_line->len)) != NULL)
    {
      g_autofree char *line = g_strndup (self->stdin_line->str, (gsize) (nl - self->stdin_line->str));
      g_string_erase (self->stdin_line, 0, nl - self->stdin_line->str + 1);
      queue_line (self, line);
    }
  /* A line longer than any consult number is junk: drop it. */
  if (self->stdin_line->len > 256)
    g_string_truncate (self->stdin_line, 0);
}

/* --admit manual: a line on stdin admits the waiting patient. */
static gboolean
on_stdin (gint fd, GIOCondition cond, gpointer data)
{
  TvClientSession *self = data;
  char buf[256];
  ssize_t n = (cond & G_IO_IN) ? read (fd, buf, sizeof buf) : 0;

  if (n <= 0)
    {
      /* End of input: nothing more can be admitted by hand. */
      self->stdin_watch = 0;
      return G_SOURCE_REMOVE;
    }
  if (self->api_session != NULL)
    {
      queue_input (self, buf, (gsize) n);
      return G_SOURCE_CONTINUE;
    }
  if (memchr (buf, '\n', (size_t) n) != NULL)
    send_admit (self);
  return G_SOURCE_CONTINUE;
}

/* The server says a patient waits (joined with the patient present, or
 * peer-joined): admit it as --admit says. If the patient was admitted before
 * (a reconnect), "paired" follows at once and a sent admit is answered with a
 * harmless 4203. */
static void
patient_seen_waiting (TvClientSession *self)
{
  if (self->role != TV_SIG_ROLE_DOCTOR)
    return;
  self->patient_waiting = TRUE;
  say ("patient waiting");
  /* In doctor mode the choice from the queue was the decision to admit. */
  if (self->admit_mode == TV_CLIENT_ADMIT_MANUAL && self->api_session == NULL)
    {
      say ("press Enter to admit the patient");
      if (self->stdin_watch == 0)
        self->stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, self);
      return;
    }
  clear_timer (&self->admit_timer);
  if (self->admit_after_ms == 0)
    send_admit (self);
  else
    self->admit_timer = g_timeout_add (self->admit_after_ms, admit_timer_cb, self);
}

static void
patient_not_waiting (TvClientSession *self)
{
  self->patient_waiting = FALSE;
  clear_timer (&self->admit_timer);
}

/* A chat message (live or replayed on join): printed and logged once per id. */
static void
show_chat (TvClientSession *self, const TvSigMsg *msg)
{
  if (g_hash_table_contains (self->chat_seen, &msg->id))
    return;
  g_hash_table_add (self->chat_seen, g_memdup2 (&msg->id, sizeof msg->id));
  g_autofree char *flat = g_strdup (msg->text);
  g_autoptr (GString) shown = g_string_new (NULL);
  for (const char *p = flat; *p != '\0'; p++)
    if (*p == '\n')
      g_string_append (shown, "\\n");
    else
      g_string_append_c (shown, *p);
  say ("chat from=%s id=%" G_GINT64_FORMAT " at=%s text=%s", tv_sig_role_to_string (msg->role), msg->id, msg->at,
       shown->str);
  JsonObject *o = json_object_new ();
  json_object_set_int_member (o, "id", msg->id);
  json_object_set_string_member (o, "at", msg->at);
  json_object_set_string_member (o, "from", tv_sig_role_to_string (msg->role));
  json_object_set_string_member (o, "text", msg->text);
  json_array_add_object_element (self->chat_log, o);
}

static void
handle_message (TvClientSession *self, const TvSigMsg *msg)
{
  /* Once leaving, only the end of the consult and errors still matter. */
  if (self->phase == PHASE_CLOSING && msg->type != TV_SIG_MSG_ENDED && msg->type != TV_SIG_MSG_ERROR)
    return;

  switch (msg->type)
    {
    case TV_SIG_MSG_JOINED:
      if (self->phase != PHASE_JOINING)
        {
          g_warning ("unexpected joined message; ignored");
          break;
        }
      {
        TvSigRole peer = tv_sig_role_peer (msg->role);
        gboolean rejoined = self->ever_joined;
        self->phase = PHASE_JOINED;
        self->ever_joined = TRUE;
        self->reconnecting = FALSE;
        self->reconnect_attempt = 0;
        self->reconnect_delay_ms = self->reconnect_initial_ms;
        self->role = msg->role;
        clear_timer (&self->keepalive_timer);
        self->keepalive_timer = g_timeout_add (KEEPALIVE_MS, keepalive_tick, self);
        g_free (self->consult_id);
        self->consult_id = g_strdup (msg->consult_id);
        say ("%s consult=%s role=%s peer_present=%s", rejoined ? "rejoined" : "joined", msg->consult_id,
             tv_sig_role_to_string (msg->role), bool_str (msg->peer_present));
        /* Fresh TURN credentials come with every (re)join. */
        take_offered_ice_servers (self, msg->ice_servers);
        if (!msg->peer_present)
          {
            say ("waiting for the %s", tv_sig_role_to_string (peer));
            self->wait_announced = TRUE;
            arm_peer_timer (self);
          }
        else
          patient_seen_waiting (self);
        prepare_spare (self);
      }
      break;
    case TV_SIG_MSG_PEER_JOINED:
      say ("peer-joined role=%s", tv_sig_role_to_string (msg->role));
      clear_timer (&self->peer_timer);
      if (msg->role == TV_SIG_ROLE_PATIENT)
        patient_seen_waiting (self);
      break;
    case TV_SIG_MSG_WAITING:
      /* Patient: in the waiting room until the doctor admits us. */
      teardown_call (self);
      say ("waiting room doctor_present=%s", bool_str (msg->doctor_present));
      if (msg->doctor_present)
        say ("the doctor is ready");
      else if (!self->wait_announced)
        say ("waiting for the doctor");
      self->wait_announced = TRUE;
      prepare_spare (self);
      break;
    case TV_SIG_MSG_DOCTOR_READY:
      say ("the doctor is ready");
      break;
    case TV_SIG_MSG_PAIRED:
      say ("paired peer=%s offerer=%s", tv_sig_role_to_string (msg->role), bool_str (msg->offerer));
      clear_timer (&self->peer_timer);
      patient_not_waiting (self);
      self->wait_announced = FALSE;
      start_call (self, msg->offerer);
      if (self->restart_pending && self->call != NULL)
        arm_restart (self, RESTART_RETRY_MS, TRUE);   /* the new call must connect, or we ask again */
      self->restart_pending = FALSE;
      if (!self->chat_sent)
        {
          self->chat_sent = TRUE;
          for (char **t = self->chat_out; t != NULL && *t != NULL; t++)
            send_json (self, tv_sig_build_chat (*t));
        }
      /* The doctor's --modality/--patient-location/--new-patient, once. */
      if (!self->facts_sent && (self->facts[0] || self->facts[2] || self->facts[3]))
        self->facts_sent = tv_client_session_send_facts (self, self->facts[0], self->facts[1], self->facts[2],
                                                         self->facts[3]);
      break;
    case TV_SIG_MSG_FACTS_SAVED:
      say ("facts-saved modality=%s location=%s patient=%s", msg->modality, msg->patient_location,
           msg->patient_status);
      break;
    case TV_SIG_MSG_MEDIA_RESTART:
      /* The media is renegotiated from scratch; "paired" follows. */
      say ("media restart by=%s", tv_sig_role_to_string (msg->role));
      clear_timer (&self->ice_fail_timer);
      self->restart_pending = TRUE;
      break;
    case TV_SIG_MSG_CHAT_MESSAGE:
      show_chat (self, msg);
      break;
    case TV_SIG_MSG_AUTHED:
      if (self->api_session == NULL || self->phase != PHASE_AUTHING)
        {
          g_warning ("unexpected authed message; ignored");
          break;
        }
      say ("authed user=%s", msg->user_id);
      self->ever_authed = TRUE;
      self->reconnecting = FALSE;
      self->reconnect_attempt = 0;
      self->reconnect_delay_ms = self->reconnect_initial_ms;
      if (self->chosen_consult != NULL)
        {
          /* Reconnected during a consult: back into the same one. */
          self->phase = PHASE_JOINING;
          send_json (self, tv_sig_build_join_consult (self->chosen_consult));
        }
      else
        {
          self->phase = PHASE_QUEUE;
          clear_timer (&self->keepalive_timer);
          self->keepalive_timer = g_timeout_add (KEEPALIVE_MS, keepalive_tick, self);
        }
      break;
    case TV_SIG_MSG_DASHBOARD:
      /* Only sent after "auth"; the queue stays on screen during the call. */
      if (self->api_session == NULL)
        break;
      show_queue (self, msg);
      if (self->phase == PHASE_QUEUE && self->chosen_consult == NULL)
        offer_choice (self);
      break;
    case TV_SIG_MSG_OFFER:
    case TV_SIG_MSG_ANSWER:
      handle_sdp (self, msg);
      break;
    case TV_SIG_MSG_CANDIDATE:
      if (self->call != NULL)
        {
          g_autoptr (GError) error = NULL;
          g_debug ("remote candidate %d: %s", msg->mline_index, msg->candidate);
          if (!tv_media_call_add_remote_candidate (self->call, (guint) msg->mline_index, msg->candidate, &error))
            g_warning ("ignoring a remote candidate: %s", error->message);
        }
      break;
    case TV_SIG_MSG_PEER_LEFT:
      say ("peer-left role=%s reason=%s", tv_sig_role_to_string (msg->role), msg->reason);
      patient_not_waiting (self);
      teardown_call (self);
      say ("waiting for the %s", tv_sig_role_to_string (msg->role));
      self->wait_announced = TRUE;
      arm_peer_timer (self);
      prepare_spare (self);
      break;
    case TV_SIG_MSG_ENDED:
      say ("ended reason=%s", msg->reason);
      teardown_call (self);
      clear_timer (&self->peer_timer);
      clear_timer (&self->duration_timer);
      if (!self->exit_set)
        {
          self->exit_set = TRUE;
          self->exit_code = TV_CLIENT_EXIT_OK;
          g_free (self->exit_reason);
          self->exit_reason = g_strdup ("ended");
        }
      /* The server closes the connection next; the guard covers a server that doesn't. */
      if (self->phase != PHASE_CLOSING)
        expect_close (self);
      break;
    case TV_SIG_MSG_PONG:
      break;
    case TV_SIG_MSG_ERROR:
      handle_error_msg (self, msg);
      break;
    default:
      g_warning ("unexpected %s message from the server; ignored", tv_sig_msg_type_to_string (msg->type));
      break;
    }
}

/* ---- connection lifecycle ----------------------------------------------------- */

static gboolean
guard_expired (gpointer data)
{
  TvClientSession *self = data;
  self->guard_timer = 0;
  g_info ("the server did not close the connection; closing it ourselves");
  finish (self, self->exit_set ? self->exit_code : TV_CLIENT_EXIT_OK, self->exit_reason ? self->exit_reason : "left");
  return G_SOURCE_REMOVE;
}

/* The server is expected to close the connection now (after ended, a fatal
 * error or our leave/end); finish when it does, or after LEAVE_GUARD_MS. */
static void
expect_close (TvClientSession *self)
{
  self->phase = PHASE_CLOSING;
  clear_timer (&self->guard_timer);
  self->guard_timer = g_timeout_add (LEAVE_GUARD_MS, guard_expired, self);
}

static gboolean
reconnect_now (gpointer data)
{
  TvClientSession *self = data;
  self->reconnect_timer = 0;
  connect_ws (self);
  return G_SOURCE_REMOVE;
}

/* Schedules the next connection attempt, or gives up after the window. */
static void
schedule_reconnect (TvClientSession *self)
{
  gint64 now = g_get_monotonic_time ();
  gint64 remaining_ms;
  guint delay_ms;

  if (!self->reconnecting)
    {
      self->reconnecting = TRUE;
      self->reconnect_attempt = 0;
      self->reconnect_delay_ms = self->reconnect_initial_ms;
      self->reconnect_deadline_us = now + (gint64) self->reconnect_window_ms * 1000;
    }
  remaining_ms = (self->reconnect_deadline_us - now) / 1000;
  if (remaining_ms <= 0)
    {
      g_printerr ("televisit-client: the connection to the server was lost and could not be restored "
                  "within %u s\n", self->reconnect_window_ms / 1000);
      finish (self, TV_CLIENT_EXIT_CONNECTION_LOST, "connection-lost");
      return;
    }
  /* The last attempt is made at the end of the window, not skipped. */
  delay_ms = (guint) MIN ((gint64) self->reconnect_delay_ms, remaining_ms);
  self->reconnect_attempt++;
  self->phase = PHASE_RECONNECTING;
  say ("reconnecting attempt=%u delay_ms=%u", self->reconnect_attempt, delay_ms);
  if (self->observer.reconnecting != NULL)
    self->observer.reconnecting (self, self->reconnect_attempt, self->observer_data);
  self->reconnect_timer = g_timeout_add (delay_ms, reconnect_now, self);
  self->reconnect_delay_ms = MIN (self->reconnect_delay_ms * 2, self->reconnect_max_ms);
}

static void
on_ws_opened (TvWsClient *ws, gpointer user_data)
{
  TvClientSession *self = user_data;

  if (ws != self->ws || self->phase != PHASE_CONNECTING)
    return;
  if (self->api_session != NULL)
    {
      g_info ("connected to %s; authenticating", self->server_url);
      self->phase = PHASE_AUTHING;
      send_json (self, tv_sig_build_auth (self->api_session));
      return;
    }
  g_info ("connected to %s; joining", self->server_url);
  self->phase = PHASE_JOINING;
  send_json (self, tv_sig_build_join (self->token));
}

static void
on_ws_message (TvWsClient *ws, const char *data, gsize len, gpointer user_data)
{
  TvClientSession *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (TvSigMsg) msg = NULL;

  if (ws != self->ws || self->phase == PHASE_DONE)
    return;
  /* The observer may free the session from its callback: not here. */
  self->last_rx_us = g_get_monotonic_time ();
  msg = tv_sig_msg_parse (data, len, TV_SIG_FROM_SERVER, NULL, &error);
  if (msg == NULL)
    {
      /* Never trust the wire: a bad frame is logged and skipped. */
      g_warning ("ignoring an invalid message from the server: %s", error->message);
      return;
    }
  handle_message (self, msg);
  if (self->observer.message != NULL)
    self->observer.message (self, msg, self->observer_data);
}

static void
on_ws_closed (TvWsClient *ws, int close_code, const GError *error, gpointer user_data)
{
  TvClientSession *self = user_data;

  if (ws != self->ws)
    return;
  drop_ws (self);

  if (self->phase == PHASE_DONE)
    return;
  if (self->phase == PHASE_CLOSING)
    {
      finish (self, self->exit_set ? self->exit_code : TV_CLIENT_EXIT_OK,
              self->exit_reason ? self->exit_reason : "left");
      return;
    }

  g_info ("connection closed (code %d)%s%s", close_code, error ? ": " : "", error ? error->message : "");
  if (!self->ever_joined && !self->ever_authed)
    {
      g_printerr ("televisit-client: cannot reach the server at %s: %s\n", self->server_url,
                  error ? error->message : "the connection closed before joining");
      finish (self, TV_CLIENT_EXIT_UNREACHABLE, "unreachable");
      return;
    }

  connection_lost (self, error ? error->message : "closed by the server");
}

/* An unexpected drop (or a silent one, see keepalive_tick): the server treats
 * us as gone (the peer gets peer-left), so the call is over; reconnect and,
 * after rejoining, the pair negotiates afresh. */
static void
connection_lost (TvClientSession *self, const char *why)
{
  drop_ws (self);
  clear_timer (&self->keepalive_timer);
  if (!self->reconnecting)
    {
      g_message ("connection to the server lost: %s", why);
      say ("connection lost");
      patient_not_waiting (self);
      teardown_call (self);
      clear_timer (&self->peer_timer);
    }
  schedule_reconnect (self);
}

static const TvWsClientCallbacks ws_callbacks = {
  .opened = on_ws_opened,
  .message = on_ws_message,
  .closed = on_ws_closed,
};

static void
connect_ws (TvClientSession *self)
{
  g_autoptr (GError) error = NULL;

  self->phase = PHASE_CONNECTING;
  self->ws = tv_ws_client_connect (self->hub, self->server_url, &ws_callbacks, self, &error);
  if (self->ws != NULL)
    return;

  if (!self->ever_joined && !self->ever_authed)
    {
      g_printerr ("televisit-client: cannot connect to %s: %s\n", self->server_url, error->message);
      finish (self, g_error_matches (error, TV_WS_ERROR, TV_WS_ERR_BAD_URL) ? TV_CLIENT_EXIT_USAGE
                                                                            : TV_CLIENT_EXIT_UNREACHABLE,
              "unreachable");
      return;
    }
  g_info ("reconnect attempt failed: %s", error->message);
  schedule_reconnect (self);
}

/* ---- ending ------------------------------------------------------------------- */

static gboolean
deliver_done (gpointer data)
{
  TvClientSession *self = data;
  self->done_idle = 0;
  if (self->done != NULL)
    self->done (self, self->exit_code, self->exit_reason, self->done_data);
  return G_SOURCE_REMOVE;
}

/* Stops everything and reports the outcome (once, from an idle). */
static void
finish (TvClientSession *self, TvClientExitCode code, const char *reason)
{
  char *r;

  if (self->finished)
    return;
  r = g_strdup (reason);
  self->finished = TRUE;
  self->phase = PHASE_DONE;
  self->exit_set = TRUE;
  self->exit_code = code;
  g_free (self->exit_reason);
  self->exit_reason = r;
  teardown_call (self);
  clear_spare (self);
  clear_timer (&self->peer_timer);
  clear_timer (&self->media_timer);
  clear_timer (&self->duration_timer);
  clear_timer (&self->reconnect_timer);
  clear_timer (&self->restart_timer);
  clear_timer (&self->guard_timer);
  clear_timer (&self->deferred_leave_id);
  clear_timer (&self->keepalive_timer);
  clear_timer (&self->admit_timer);
  clear_timer (&self->stdin_watch);
  drop_ws (self);
  say ("exit code=%d reason=%s", code, r);
  self->done_idle = g_idle_add (deliver_done, self);
}

/* Leaves the consult and finishes with @code: the server is told (leave, or end
 * for a doctor with --end-on-exit on a normal exit) when we are joined. */
static void
leave_with (TvClientSession *self, TvClientExitCode code, const char *reason)
{
  gboolean end;

  if (self->finished)
    return;
  if (self->phase == PHASE_CLOSING)
    {
      /* Already leaving (e.g. a second SIGINT): stop waiting for the server. */
      finish (self, self->exit_set ? self->exit_code : code, self->exit_reason ? self->exit_reason : reason);
      return;
    }
  teardown_call (self);
  clear_timer (&self->peer_timer);
  clear_timer (&self->media_timer);
  clear_timer (&self->duration_timer);
  clear_timer (&self->reconnect_timer);

  if (self->phase != PHASE_JOINED || self->ws == NULL)
    {
      finish (self, code, reason);
      return;
    }

  end = code == TV_CLIENT_EXIT_OK && self->end_on_exit && self->role == TV_SIG_ROLE_DOCTOR;
  g_info ("%s the consult", end ? "ending" : "leaving");
  self->exit_set = TRUE;
  self->exit_code = code;
  g_free (self->exit_reason);
  self->exit_reason = g_strdup (reason);
  send_json (self, g_strdup (end ? "{\"type\":\"end\"}" : "{\"type\":\"leave\"}"));
  expect_close (self);
}

typedef struct {
  TvClientSession *self;
  TvClientExitCode code;
  const char *reason; /* static string */
} DeferredLeave;

static gboolean
deferred_leave_cb (gpointer data)
{
  DeferredLeave *d = data;
  d->self->deferred_leave_id = 0;
  leave_with (d->self, d->code, d->reason);
  return G_SOURCE_REMOVE;
}

/* From inside a media callback: leave from an idle, so the call is never freed
 * from within its own callback. @reason must be a static string. */
static void
defer_leave (TvClientSession *self, TvClientExitCode code, const char *reason)
{
  DeferredLeave *d;

  if (self->deferred_leave_id != 0 || self->finished)
    return;
  d = g_new0 (DeferredLeave, 1);
  d->self = self;
  d->code = code;
  d->reason = reason;
  self->deferred_leave_id = g_idle_add_full (G_PRIORITY_DEFAULT, deferred_leave_cb, d, g_free);
}

/* ---- public --------------------------------------------------------------------- */

TvClientSession *
tv_client_session_new (const TvClientSessionConfig *cfg, TvClientSessionDoneFunc done, gpointer user_data,
                       GError **error)
{
  TvClientSession *self;
  TvWsHub *hub;

  g_return_val_if_fail (cfg != NULL && cfg->server_url != NULL
                        && (cfg->token != NULL || cfg->api_session != NULL), NULL);
  g_return_val_if_fail (cfg->peer_timeout_s > 0 && cfg->media_timeout_s > 0, NULL);

  hub = tv_ws_hub_new (cfg->ca_file, cfg->insecure, error);
  if (hub == NULL)
    return NULL;

  self = g_new0 (TvClientSession, 1);
  self->hub = hub;
  self->server_url = g_strdup (cfg->server_url);
  self->token = g_strdup (cfg->token);
  self->api_session = g_strdup (cfg->api_session);
  self->queue_ids = g_ptr_array_new_with_free_func (g_free);
  self->stdin_line = g_string_new (NULL);
  self->ca_file = g_strdup (cfg->ca_file);
  self->insecure = cfg->insecure;
  self->media_cfg = cfg->media;
  self->local_addresses = g_strdupv ((char **) cfg->media.local_addresses);
  self->media_cfg.local_addresses = (const char *const *) self->local_addresses;
  self->stun = g_strdup (cfg->media.stun_server);
  self->media_cfg.stun_server = self->stun;
  self->turn = g_strdup (cfg->media.turn_server);
  self->media_cfg.turn_server = self->turn;
  self->media_cfg.window_title = NULL;
  self->duration_s = cfg->duration_s;
  self->peer_timeout_s = cfg->peer_timeout_s;
  self->media_timeout_s = cfg->media_timeout_s;
  self->end_on_exit = cfg->end_on_exit;
  self->chat_out = g_strdupv ((char **) cfg->chat);
  self->chat_seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->chat_log = json_array_new ();
  self->admit_mode = cfg->admit_mode;
  self->admit_after_ms = cfg->admit_after_ms;
  self->reconnect_initial_ms = cfg->reconnect_initial_ms ? cfg->reconnect_initial_ms : 500;
  self->reconnect_max_ms = cfg->reconnect_max_ms ? cfg->reconnect_max_ms : 8000;
  self->reconnect_window_ms = cfg->reconnect_window_ms ? cfg->reconnect_window_ms : 60000;
  self->done = done;
  self->done_data = user_data;
  self->dead_ws = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_ws_client_free);
  self->phase = PHASE_IDLE;
  self->role = TV_SIG_ROLE_NONE;
  self->gui_choices = cfg->gui_choices;
  self->facts[0] = g_strdup (cfg->facts_modality);
  self->facts[1] = g_strdup (cfg->facts_audio_only_reason);
  self->facts[2] = g_strdup (cfg->facts_patient_location);
  self->facts[3] = g_strdup (cfg->facts_patient_status);
  self->remote_audio = -1;
  return self;
}

void
tv_client_session_start (TvClientSession *self)
{
  g_return_if_fail (self != NULL && self->phase == PHASE_IDLE);
  /* Media ready before joining, like the DTLS certificate: nothing of the
   * pipeline's start-up is left between "paired" and the first frame. */
  prepare_spare (self);
  if (self->spare != NULL && !tv_media_call_wait_ready (self->spare, MEDIA_READY_WAIT_MS))
    g_info ("media not flowing after %u ms; joining anyway", MEDIA_READY_WAIT_MS);
  say ("connecting server=%s", self->server_url);
  connect_ws (self);
}

void
tv_client_session_set_observer (TvClientSession *self, const TvClientSessionObserver *observer,
                                gpointer user_data)
{
  g_return_if_fail (self != NULL);
  if (observer != NULL)
    self->observer = *observer;
  else
    memset (&self->observer, 0, sizeof self->observer);
  self->observer_data = user_data;
}

TvMediaCall *
tv_client_session_get_call (TvClientSession *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->call;
}

TvSigRole
tv_client_session_get_role (TvClientSession *self)
{
  g_return_val_if_fail (self != NULL, TV_SIG_ROLE_NONE);
  return self->role;
}

gboolean
tv_client_session_choose_consult (TvClientSession *self, const char *consult_id)
{
  g_return_val_if_fail (self != NULL && consult_id != NULL, FALSE);
  if (self->api_session == NULL || self->phase != PHASE_QUEUE || self->chosen_consult != NULL)
    return FALSE;
  choose_consult (self, consult_id);
  return TRUE;
}

gboolean
tv_client_session_admit (TvClientSession *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  if (!self->patient_waiting || self->phase != PHASE_JOINED)
    return FALSE;
  send_admit (self);
  return TRUE;
}

gboolean
tv_client_session_send_back (TvClientSession *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  if (self->role != TV_SIG_ROLE_DOCTOR || self->phase != PHASE_JOINED || self->call == NULL)
    return FALSE;
  say ("sending the patient back to the waiting room");
  send_json (self, g_strdup ("{\"type\":\"send-back\"}"));
  /* The server tells only the patient (PROTOCOL.md 3.21): our side of the
   * call ends here, and the patient waits to be admitted again. */
  teardown_call (self);
  self->patient_waiting = TRUE;
  say ("patient waiting");
  return TRUE;
}

gboolean
tv_client_session_send_facts (TvClientSession *self, const char *modality, const char *audio_only_reason,
                              const char *patient_location, const char *patient_status)
{
  g_return_val_if_fail (self != NULL, FALSE);
  if (self->role != TV_SIG_ROLE_DOCTOR || self->phase != PHASE_JOINED)
    return FALSE;
  if (modality == NULL && patient_location == NULL && patient_status == NULL)
    return FALSE;
  if ((modality && g_strcmp0 (modality, "audio-video") != 0 && g_strcmp0 (modality, "audio-only") != 0)
      || (audio_only_reason != NULL) != (g_strcmp0 (modality, "audio-only") == 0)
      || (patient_location && g_strcmp0 (patient_location, "home") != 0 && g_strcmp0 (patient_location, "other") != 0)
      || (patient_status && g_strcmp0 (patient_status, "new") != 0 && g_strcmp0 (patient_status, "established") != 0))
    return FALSE;
  say ("sending facts modality=%s location=%s patient=%s", modality ? modality : "-",
       patient_location ? patient_location : "-", patient_status ? patient_status : "-");
  send_json (self, tv_sig_build_facts (modality, audio_only_reason, patient_location, patient_status));
  return TRUE;
}

gboolean
tv_client_session_send_chat (TvClientSession *self, const char *text, GError **error)
{
  const char *why = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  if (!tv_sig_chat_text_check (text, &why))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s", why);
      return FALSE;
    }
  if (self->phase != PHASE_JOINED || self->ws == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "not in a consult");
      return FALSE;
    }
  send_json (self, tv_sig_build_chat (text));
  return TRUE;
}

void
tv_client_session_end (TvClientSession *self)
{
  g_return_if_fail (self != NULL);
  if (self->role == TV_SIG_ROLE_DOCTOR)
    self->end_on_exit = TRUE;
  leave_with (self, TV_CLIENT_EXIT_OK, "left");
}

void
tv_client_session_leave (TvClientSession *self, const char *reason)
{
  g_return_if_fail (self != NULL);
  leave_with (self, TV_CLIENT_EXIT_OK, reason ? reason : "left");
}

char *
tv_client_session_stats_json (TvClientSession *self)
{
  TvMediaStats st = { 0 };
  guint64 video = self->video_total, audio = self->audio_total;
  g_autofree char *media_json = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonGenerator) gen = NULL;
  JsonObject *obj;

  g_return_val_if_fail (self != NULL, NULL);

  if (self->call != NULL)
    {
      tv_media_call_get_stats (self->call, &st);
      video += st.video_frames_decoded;
      audio += st.audio_buffers_decoded;
    }
  else if (self->have_last_stats)
    st = self->last_stats;

  /* Start from the media module's own serialisation so its keys stay the
   * reference; fall back to an empty object if it is not an object. */
  media_json = tv_media_stats_to_json (&st);
  if (media_json != NULL && json_parser_load_from_data (parser, media_json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    root = json_node_copy (json_parser_get_root (parser));
  else
    {
      root = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (root, json_object_new ());
    }
  obj = json_node_get_object (root);
  json_object_set_int_member (obj, "video_frames_decoded", (gint64) video);
  json_object_set_int_member (obj, "audio_buffers_decoded", (gint64) audio);
  json_object_set_int_member (obj, "calls", self->calls);
  json_object_set_boolean_member (obj, "media_connected", self->ever_connected);
  json_object_set_array_member (obj, "chat", json_array_ref (self->chat_log));
  if (self->role != TV_SIG_ROLE_NONE)
    json_object_set_string_member (obj, "role", tv_sig_role_to_string (self->role));
  else
    json_object_set_null_member (obj, "role");
  if (self->consult_id != NULL)
    json_object_set_string_member (obj, "consult", self->consult_id);
  else
    json_object_set_null_member (obj, "consult");
  if (self->finished)
    {
      json_object_set_int_member (obj, "exit_code", self->exit_code);
      json_object_set_string_member (obj, "exit_reason", self->exit_reason);
    }
  else
    {
      json_object_set_null_member (obj, "exit_code");
      json_object_set_null_member (obj, "exit_reason");
    }
  gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

void
tv_client_session_free (TvClientSession *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (self->facts); i++)
    g_clear_pointer (&self->facts[i], g_free);
  clear_timer (&self->peer_timer);
  clear_timer (&self->media_timer);
  clear_timer (&self->duration_timer);
  clear_timer (&self->reconnect_timer);
  clear_timer (&self->restart_timer);
  clear_timer (&self->guard_timer);
  clear_timer (&self->done_idle);
  clear_timer (&self->reap_id);
  clear_timer (&self->deferred_leave_id);
  clear_timer (&self->keepalive_timer);
  clear_timer (&self->admit_timer);
  clear_timer (&self->stdin_watch);
  clear_timer (&self->ice_fail_timer);
  clear_timer (&self->audio_watch_timer);
  g_clear_pointer (&self->call, tv_media_call_free);
  if (self->ws != NULL)
    g_ptr_array_add (self->dead_ws, g_steal_pointer (&self->ws));
  /* Connections before the context they live in. */
  g_ptr_array_unref (self->dead_ws);
  tv_ws_hub_free (self->hub);
  g_free (self->server_url);
  if (self->token != NULL)
    memset (self->token, 0, strlen (self->token));
  g_free (self->token);
  wipe_free (self->api_session);
  g_free (self->chosen_consult);
  g_ptr_array_unref (self->queue_ids);
  g_string_free (self->stdin_line, TRUE);
  g_free (self->ca_file);
  g_strfreev (self->local_addresses);
  g_free (self->stun);
  wipe_free (self->turn);
  g_free (self->offered_stun);
  wipe_free (self->offered_turn);
  clear_spare (self);
  g_free (self->consult_id);
  g_free (self->exit_reason);
  g_strfreev (self->chat_out);
  g_hash_table_unref (self->chat_seen);
  json_array_unref (self->chat_log);
  g_free (self);
}
