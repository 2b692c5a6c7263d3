/* tv-media.c — one WebRTC call: the GStreamer pipeline around webrtcbin.
 *
 * Why: the client (and the tests) need a call object that takes SDP and
 * candidates in and gives SDP, candidates, state and statistics out, without
 * knowing about GStreamer threads.
 *
 * Threading: the public functions run on the thread of the GMainContext that
 * was thread-default at tv_media_call_new(). webrtcbin emits its signals and
 * replies to its promises on its own threads; those handlers only copy data
 * and post it to that context in an idle source (never calling back directly,
 * never touching another webrtcbin), except pad-added, which builds the
 * receive branch right there (the pad must be linked before data flows) under
 * the call's lock. Everything a streaming thread touches lives in the
 * refcounted TvMediaShared; TvMediaCall itself is main-thread only. After
 * tv_media_call_free() the shared part forgets the call, so idles that are
 * still queued find NULL and drop their payload: no callback after free.
 */
#define G_LOG_DOMAIN "tv-media"

#include <string.h>

/* The 1.22 WebRTC library is flagged unstable API; we pin to what 1.22 has. */
#define GST_USE_UNSTABLE_API
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include "media/tv-media-private.h"

#define DEFAULT_WIDTH 640
#define DEFAULT_HEIGHT 480
#define DEFAULT_FRAMERATE 30
#define DEFAULT_VIDEO_KBPS 1000
/* webrtcbin's default is 200 ms; on a LAN/loopback 50 ms is plenty and cuts
 * the time to the first frame. Raise it through TvMediaConfig.latency_ms for
 * jittery links. */
#define DEFAULT_LATENCY_MS 50
/* Consecutive packets a new jitter buffer needs before it starts pushing
 * (rtpjitterbuffer's faststart-min-packets); 0 would wait the latency. */
#define FASTSTART_MIN_PACKETS 2
/* rtpjitterbuffer's rtx-delay: how long after a gap shows to ask for the
 * missing packet (see on_new_jitterbuffer). */
#define RTX_DELAY_MS 0
/* rtpjitterbuffer's rtx-min-retry-timeout (see on_new_jitterbuffer). */
#define RTX_MIN_RETRY_MS 10
/* The jitter-buffer latency follows the measured round trip (adapt_latency):
 * the configured latency plus this many round trips while the link loses
 * packets (and for LATENCY_LOSS_HOLD_US after the last loss seen), never
 * above LATENCY_MAX_MS, changed only when it moves by LATENCY_STEP_MS. */
#define LATENCY_RTTS 2
#define LATENCY_LOSS_HOLD_US (60 * G_USEC_PER_SEC)
#define LATENCY_MAX_MS 1000
#define LATENCY_STEP_MS 20
/* A jitter buffer's request for a lost packet tells the main thread at most
 * this often (on_rtx_request). */
#define LOSS_POST_INTERVAL_US G_USEC_PER_SEC
/* While the link loses packets and no RTT is measured yet, stats are asked
 * for every RTT_POLL_MS, at most RTT_POLL_MAX times (poll_rtt_soon). */
#define RTT_POLL_MS 100
#define RTT_POLL_MAX 30
/* A remote video packet whose RTP time lags the freshest packet's by more
 * than this (against their arrival times) waited somewhere on the way: a
 * stale packet (TvMediaStats.video_stale_packets). Retransmissions are left
 * out: they lag by a round trip or more by design. */
#define STALE_LAG_US (500 * G_TIME_SPAN_MILLISECOND)
/* How many first remote video packets are kept for that count (see
 * StaleWatch). */
#define STALE_KEEP 512
#define VIDEO_PT 96
#define AUDIO_PT 111
#define STATS_INTERVAL_MS 1000
#define HEALTH_INTERVAL_MS 500
/* Audio alone sends 50 packets/s, so 2 s without any is an outage, not
 * jitter; after 30 s give up, as browsers do when ICE consent expires. */
#define DEFAULT_STALL_DISCONNECT_MS 2000
#define DEFAULT_STALL_FAIL_MS 30000
/* Candidates queued before the remote description; more means a broken peer. */
#define MAX_PENDING_CANDIDATES 256
/* libnice's Ta, the pacing of ICE checks (see build_pipeline). */
#define ICE_PACING_MS 5

typedef enum {
  NEG_IDLE,           /* nothing yet (answerer waits for an offer) */
  NEG_CREATING_OFFER, /* create-offer requested, offer not handed out yet */
  NEG_HAVE_LOCAL_OFFER,
  NEG_ANSWERING,      /* remote offer set, answer being created */
  NEG_STABLE,
} NegState;

/* State shared with streaming threads. Refcounted: signal closures, pad probes,
 * promises and queued idles each hold a reference. */
typedef struct {
  gatomicrefcount ref;
  GMainContext *context;
  TvMediaCall *call;  /* main-context thread only; NULL once the call is freed */
  gint closing;       /* atomic flag: streaming threads stop acting once set */
  GMutex lock;        /* protects everything below */
  GCond media_ready;  /* signalled when video_bytes_sent first becomes non-zero */
  guint64 video_frames, audio_buffers, frames_sent;
  gint64 first_frame_us;
  /* Decoded-frame timing for freeze and recovery figures (TvMediaStats). */
  gint64 last_frame_us, max_gap_us, max_gap_end_us;
  guint64 freezes, video_bytes_sent;
  gboolean have_video_branch, have_audio_branch;
  guint64 remote_packets; /* RTP packets out of the jitter buffers, all streams */
  /* The peer's audio RTP packets out of the jitter buffer: expected (from
   * the sequence numbers) and received, for measure_audio_loss. */
  gboolean audio_have_seq;
  guint16 audio_last_seq;
  guint64 audio_expected, audio_received;
  /* Monotonic time a jitter buffer's first request for a lost packet was
   * last posted to the main thread (EV_LOSS, on_rtx_request), 0 = never. */
  gint64 loss_posted_us;
  /* The send gate (gate_video_rtp): GATE_* (atomic; raised under the
   * lock with gate_cond broadcast, so that a held keyframe wakes). */
  gint send_gate;
  gint dtls_watched; /* atomic: watch_dtls_state connected its handler */
  GCond gate_cond;
  guint64 held_packets; /* RTP packets dropped at the gate */
  /* The video encoder's streaming thread only: */
  gboolean video_frame_key; /* the frame being sent is a keyframe */
  gboolean video_frame_start; /* ... and its first packet is next */
  gboolean video_passes;    /* a keyframe has passed the open gate */
  gboolean key_asked;       /* the gate asked for a keyframe, none came yet */
  /* Stale remote video at the jitter buffers' input (stale_watch). */
  gboolean stale_have;
  guint32 stale_last_ts;
  gint64 stale_ext_ts;      /* unwrapped RTP timestamp of the last packet */
  gint64 stale_min_lag_us;  /* smallest arrival - RTP time seen */
  gint64 stale_lag_us[STALE_KEEP]; /* arrival - RTP time of the first packets */
  guint stale_kept;
  guint64 stale_later;      /* packets after those, stale at arrival */
  gpointer stale_owner;     /* the StaleWatch of the watched stream */
  /* Peak of the decoded remote audio (0..1 of full scale), decaying by
   * AUDIO_PEAK_DECAY per buffer so that it follows the last ~200 ms. */
  double audio_peak;
  /* Immutable after creation, read by pad-added. */
  gboolean headless;
  int width, height;
  char *window_title;
  GstDevice *speaker; /* TvMediaConfig.speaker (a reference), or NULL */
} TvMediaShared;

typedef struct {
  guint mline;
  char *candidate;
} PendingCandidate;

static void
pending_free (gpointer data)
{
  PendingCandidate *pc = data;
  g_free (pc->candidate);
  g_free (pc);
}

/* measure_audio_loss (for Opus FEC and the jitter-buffer latency) looks at
 * this many stats intervals (one a second; 50 packets a second, so one alone
 * is too few). */
#define AUDIO_LOSS_WINDOW 5

struct _TvMediaCall {
  TvMediaShared *shared;
  TvMediaConfig cfg; /* string members point at the copies below */
  char *stun_server, *turn_server, *window_title, *video_sink, *video_file, *audio_file;
  char **local_addresses;
  TvMediaCallbacks cb;
  gpointer user_data;

  GstElement *pipeline, *webrtc, *venc, *vbalance, *avolume, *aenc;
  /* measure_audio_loss: the audio counters at the last stats snapshots (a ring). */
  struct { guint64 expected, received; } audio_seen[AUDIO_LOSS_WINDOW];
  guint audio_seen_n;
  int opus_loss_pct;
  gint64 loss_seen_us; /* monotonic time loss was last seen (audio measure or a NACK), 0 = never (adapt_latency) */
  GSource *bus_source, *stats_source;

  gboolean started, offerer, remote_set, failed, keyframe_forced, stats_pending;
  gboolean prepared;   /* tv_media_call_prepare() set the pipeline PLAYING */
  /* Stall watch: webrtcbin 1.22 + libnice keep a peer connection "connected"
   * forever when the peer vanishes (measured: 40 s and counting), so the
   * published state also follows whether remote media arrives. */
  TvMediaState pc_state;   /* as reported by webrtcbin */
  gboolean stalled;        /* connected, but no remote RTP for stall_disconnect_ms */
  gboolean stall_failed;   /* ... nor for stall_fail_ms: terminal */
  guint64 last_packets;
  gint64 last_progress_us;
  GSource *health_source;
  NegState neg;
  guint local_mlines, remote_mlines;
  GPtrArray *pending; /* PendingCandidate */
  TvMediaState state;

  TvMediaStats snap; /* last get-stats snapshot (counters filled on demand) */
  gint64 last_stats_us;
  guint64 last_bytes_in, last_bytes_out;
  guint latency_now_ms; /* jitter-buffer latency in force (adapt_latency) */
  GSource *rtt_poll_source; /* poll_rtt_soon's queued timeout, or NULL */
  guint rtt_polls;          /* poll_rtt_soon calls so far (at most RTT_POLL_MAX) */
};

/* ---------------------------------------------------------------------------
 * Shared state and the hop to the main context
 */

static TvMediaShared *
shared_ref (TvMediaShared *sh)
{
  g_atomic_ref_count_inc (&sh->ref);
  return sh;
}

static void
shared_unref (gpointer data)
{
  TvMediaShared *sh = data;
  if (!sh || !g_atomic_ref_count_dec (&sh->ref))
    return;
  g_mutex_clear (&sh->lock);
  g_cond_clear (&sh->media_ready);
  g_cond_clear (&sh->gate_cond);
  g_main_context_unref (sh->context);
  g_free (sh->window_title);
  g_clear_object (&sh->speaker);
  g_free (sh);
}

static void
shared_unref_closure (gpointer data, GClosure *closure)
{
  shared_unref (data);
}

static gboolean
shared_closing (TvMediaShared *sh)
{
  return g_atomic_int_get (&sh->closing) != 0;
}

typedef enum {
  EV_LOCAL_SDP,
  EV_LOCAL_CANDIDATE,
  EV_STATE,
  EV_ERROR,
  EV_FIRST_FRAME,
  EV_STATS,
  EV_REMOTE_MEDIA, /* first remote RTP arrived: the peer's DTLS-SRTP is up */
  EV_LOSS,         /* a jitter buffer asked for a lost packet (on_rtx_request) */
} EventKind;

typedef struct {
  TvMediaShared *shared;
  EventKind kind;
  char *text;          /* SDP, candidate or error message */
  const char *sdp_type;
  guint number;        /* mline index, m-line count, state or error code */
  GstStructure *stats; /* EV_STATS */
} Event;

static void
event_free (gpointer data)
{
  Event *ev = data;
  g_free (ev->text);
  if (ev->stats)
    gst_structure_free (ev->stats);
  shared_unref (ev->shared);
  g_free (ev);
}

static gboolean dispatch_event (gpointer data);

/* Queues an event to the call's context. Always through an idle source, even
 * from the main thread, so callbacks never run re-entrantly inside a
 * tv_media_call_* function. @text and @stats are (transfer full). */
static void
post_full (TvMediaShared *sh, EventKind kind, char *text, const char *sdp_type, guint number,
           GstStructure *stats)
{
  Event *ev = g_new0 (Event, 1);
  ev->shared = shared_ref (sh);
  ev->kind = kind;
  ev->text = text;
  ev->sdp_type = sdp_type;
  ev->number = number;
  ev->stats = stats;
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, dispatch_event, ev, event_free);
  g_source_set_static_name (src, "tv-media event");
  g_source_attach (src, sh->context);
  g_source_unref (src);
}

static void
post_event (TvMediaShared *sh, EventKind kind, char *text, guint number)
{
  post_full (sh, kind, text, NULL, number, NULL);
}

/* @sdp_type is a static string ("offer"/"answer"). */
static void
post_event_sdp (TvMediaShared *sh, const char *sdp_type, char *sdp, guint mlines)
{
  post_full (sh, EV_LOCAL_SDP, sdp, sdp_type, mlines, NULL);
}

/* @stats NULL = the request failed (so a new one may be sent). */
static void
post_event_stats (TvMediaShared *sh, GstStructure *stats)
{
  post_full (sh, EV_STATS, NULL, NULL, 0, stats);
}

static void
post_error (TvMediaShared *sh, TvMediaErrorCode code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
post_error (TvMediaShared *sh, TvMediaErrorCode code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  post_event (sh, EV_ERROR, msg, code);
}


/* ---------------------------------------------------------------------------
 * Promises (their change functions run on webrtcbin's thread)
 */

typedef struct {
  TvMediaShared *shared;
  GstElement *webrtc; /* ref: a follow-up action is emitted on it */
  gboolean is_offer;
} PromiseCtx;

static PromiseCtx *
promise_ctx_new (TvMediaShared *sh, GstElement *webrtc, gboolean is_offer)
{
  PromiseCtx *ctx = g_new0 (PromiseCtx, 1);
  ctx->shared = shared_ref (sh);
  ctx->webrtc = gst_object_ref (webrtc);
  ctx->is_offer = is_offer;
  return ctx;
}

static void
promise_ctx_free (gpointer data)
{
  PromiseCtx *ctx = data;
  shared_unref (ctx->shared);
  gst_object_unref (ctx->webrtc);
  g_free (ctx);
}

/* Checks a promise reply: REPLIED, and no "error" field. The reply (transfer
 * none, may be NULL for set-*-description) goes to @reply_out.
 * Returns: FALSE with a message in @why (transfer full). */
static gboolean
promise_ok (GstPromise *promise, const GstStructure **reply_out, char **why)
{
  GstPromiseResult res = gst_promise_wait (promise);
  if (res != GST_PROMISE_RESULT_REPLIED) {
    *why = g_strdup_printf ("webrtcbin did not reply (promise result %d)", (int) res);
    return FALSE;
  }
  const GstStructure *reply = gst_promise_get_reply (promise);
  if (reply && gst_structure_has_field (reply, "error")) {
    GError *err = NULL;
    gst_structure_get (reply, "error", G_TYPE_ERROR, &err, NULL);
    *why = g_strdup (err ? err->message : "unknown webrtcbin error");
    g_clear_error (&err);
    return FALSE;
  }
  *reply_out = reply;
  return TRUE;
}

static void
on_local_description_set (GstPromise *promise, gpointer data)
{
  PromiseCtx *ctx = data;
  const GstStructure *reply = NULL;
  char *why = NULL;
  if (shared_closing (ctx->shared))
    return;
  if (!promise_ok (promise, &reply, &why)) {
    post_error (ctx->shared, TV_MEDIA_ERR_NEGOTIATION, "setting the local %s failed: %s",
                ctx->is_offer ? "offer" : "answer", why);
    g_free (why);
  }
}

/* create-offer / create-answer replied: queue set-local-description FIRST
 * (webrtcbin runs its operations in order, so a fast remote answer finds
 * have-local-offer), then hand the text to the main context. */
static void
on_description_created (GstPromise *promise, gpointer data)
{
  PromiseCtx *ctx = data;
  const char *what = ctx->is_offer ? "offer" : "answer";
  const GstStructure *reply = NULL;
  char *why = NULL;
  GstWebRTCSessionDescription *desc = NULL;

  if (shared_closing (ctx->shared))
    return;
  if (!promise_ok (promise, &reply, &why))
    goto fail;
  if (!reply || !gst_structure_get (reply, what, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL)
      || !desc || !desc->sdp) {
    why = g_strdup ("the reply holds no description");
    goto fail;
  }

  GstPromise *set = gst_promise_new_with_change_func (
    on_local_description_set, promise_ctx_new (ctx->shared, ctx->webrtc, ctx->is_offer), promise_ctx_free);
  g_signal_emit_by_name (ctx->webrtc, "set-local-description", desc, set);
  gst_promise_unref (set);

  post_event_sdp (ctx->shared, what, gst_sdp_message_as_text (desc->sdp),
                  gst_sdp_message_medias_len (desc->sdp));
  gst_webrtc_session_description_free (desc);
  return;

fail:
  post_error (ctx->shared, TV_MEDIA_ERR_NEGOTIATION, "creating the %s failed: %s", what, why);
  g_free (why);
  if (desc)
    gst_webrtc_session_description_free (desc);
}

/* set-remote-description replied; for an offer, create the answer. */
static void
on_remote_description_set (GstPromise *promise, gpointer data)
{
  PromiseCtx *ctx = data;
  const GstStructure *reply = NULL;
  char *why = NULL;
  if (shared_closing (ctx->shared))
    return;
  if (!promise_ok (promise, &reply, &why)) {
    post_error (ctx->shared, TV_MEDIA_ERR_NEGOTIATION, "setting the remote %s failed: %s",
                ctx->is_offer ? "offer" : "answer", why);
    g_free (why);
    return;
  }
  if (!ctx->is_offer)
    return;
  GstPromise *p = gst_promise_new_with_change_func (
    on_description_created, promise_ctx_new (ctx->shared, ctx->webrtc, FALSE), promise_ctx_free);
  g_signal_emit_by_name (ctx->webrtc, "create-answer", NULL, p);
  gst_promise_unref (p);
}

static void
on_stats (GstPromise *promise, gpointer data)
{
  PromiseCtx *ctx = data;
  const GstStructure *reply = NULL;
  char *why = NULL;
  if (shared_closing (ctx->shared))
    return;
  if (!promise_ok (promise, &reply, &why) || !reply) {
    g_debug ("get-stats failed: %s", why ? why : "empty reply");
    g_free (why);
    post_event_stats (ctx->shared, NULL);
    return;
  }
  post_event_stats (ctx->shared, gst_structure_copy (reply));
}

/* ---------------------------------------------------------------------------
 * webrtcbin signals and pad probes (streaming threads)
 */

static void
on_ice_candidate (GstElement *webrtc, guint mline, gchar *candidate, gpointer data)
{
  TvMediaShared *sh = data;
  if (shared_closing (sh) || !candidate)
    return;
  post_event (sh, EV_LOCAL_CANDIDATE, g_strdup (candidate), mline);
}

static TvMediaState
map_pc_state (GstWebRTCPeerConnectionState s)
{
  switch (s) {
  case GST_WEBRTC_PEER_CONNECTION_STATE_NEW:
    return TV_MEDIA_STATE_NEW;
  case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING:
    return TV_MEDIA_STATE_CONNECTING;
  case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED:
    return TV_MEDIA_STATE_CONNECTED;
  case GST_WEBRTC_PEER_CONNECTION_STATE_DISCONNECTED:
    return TV_MEDIA_STATE_DISCONNECTED;
  case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED:
    return TV_MEDIA_STATE_FAILED;
  case GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED:
    return TV_MEDIA_STATE_CLOSED;
  }
  return TV_MEDIA_STATE_NEW;
}

/* The send gate's states, in order (see gate_video_rtp). */
enum { GATE_CLOSED, GATE_ARMED, GATE_OPEN };
static void gate_raise (TvMediaShared *sh, gint to);

/* The DTLS transport's state (the thread that runs the handshake): our
 * DTLS-SRTP keys are set, the send gate opens (see gate_video_rtp). */
static void
on_dtls_state (GObject *transport, GParamSpec *pspec, gpointer data)
{
  TvMediaShared *sh = data;
  GstWebRTCDTLSTransportState state = GST_WEBRTC_DTLS_TRANSPORT_STATE_NEW;
  g_object_get (transport, "state", &state, NULL);
  if (state == GST_WEBRTC_DTLS_TRANSPORT_STATE_CONNECTED)
    gate_raise (sh, GATE_OPEN);
}

/* Once per call (webrtcbin's thread, at "connecting", when the transports
 * exist): follows the DTLS transport of the first transceiver (all media
 * are bundled on it). */
static void
watch_dtls_state (TvMediaShared *sh, GstElement *webrtc)
{
  if (g_atomic_int_get (&sh->send_gate) == GATE_OPEN || !g_atomic_int_compare_and_exchange (&sh->dtls_watched, 0, 1))
    return;
  GstWebRTCRTPTransceiver *trans = NULL;
  g_signal_emit_by_name (webrtc, "get-transceiver", 0, &trans);
  GstWebRTCRTPSender *sender = NULL;
  GstWebRTCDTLSTransport *dtls = NULL;
  if (trans)
    g_object_get (trans, "sender", &sender, NULL);
  if (sender)
    g_object_get (sender, "transport", &dtls, NULL);
  g_debug ("send gate: %s the DTLS transport's state", dtls ? "following" : "cannot follow yet");
  if (dtls) {
    g_signal_connect_data (dtls, "notify::state", G_CALLBACK (on_dtls_state), shared_ref (sh),
                           shared_unref_closure, 0);
    on_dtls_state (G_OBJECT (dtls), NULL, sh); /* it may be up already */
  } else {
    g_atomic_int_set (&sh->dtls_watched, 0); /* try again at the next state change */
  }
  g_clear_object (&dtls);
  g_clear_object (&sender);
  g_clear_object (&trans);
}

static void
on_connection_state (GstElement *webrtc, GParamSpec *pspec, gpointer data)
{
  TvMediaShared *sh = data;
  GstWebRTCPeerConnectionState s;
  if (shared_closing (sh))
    return;
  g_object_get (webrtc, "connection-state", &s, NULL);
  /* At once rather than after the hop to the main thread. */
  if (s == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    gate_raise (sh, GATE_OPEN);
  else if (s == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTING)
    watch_dtls_state (sh, webrtc);
  post_event (sh, EV_STATE, NULL, map_pc_state (s));
}

/* ICE failure is also reported here because the peer-connection state only
 * follows once DTLS gives up as well. */
static void
on_ice_connection_state (GstElement *webrtc, GParamSpec *pspec, gpointer data)
{
  TvMediaShared *sh = data;
  GstWebRTCICEConnectionState s;
  if (shared_closing (sh))
    return;
  g_object_get (webrtc, "ice-connection-state", &s, NULL);
  if (s == GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
    post_event (sh, EV_STATE, NULL, TV_MEDIA_STATE_FAILED);
}

static GstPadProbeReturn
count_video_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  gboolean first = FALSE;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&sh->lock);
  if (sh->video_frames++ == 0) {
    sh->first_frame_us = now;
    first = TRUE;
  } else {
    gint64 gap = now - sh->last_frame_us;
    if (gap > TV_MEDIA_FREEZE_GAP_US)
      sh->freezes++;
    if (gap > sh->max_gap_us) {
      sh->max_gap_us = gap;
      sh->max_gap_end_us = now;
    }
  }
  sh->last_frame_us = now;
  g_mutex_unlock (&sh->lock);
  if (first && !shared_closing (sh))
    post_event (sh, EV_FIRST_FRAME, NULL, 0);
  return GST_PAD_PROBE_OK;
}

/* Per 20 ms buffer: a silent stream's level falls by ~30 dB in 200 ms. */
#define AUDIO_PEAK_DECAY 0.7

/* Largest |sample| of a decoded audio buffer, 0..1 (opusdec: S16LE interleaved). */
static double
buffer_peak (GstBuffer *buf)
{
  GstMapInfo map;
  int peak = 0;
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return 0.0;
  for (gsize i = 0; i + 1 < map.size; i += 2) {
    int v = (gint16) GST_READ_UINT16_LE (map.data + i);
    peak = MAX (peak, ABS (v));
  }
  gst_buffer_unmap (buf, &map);
  return peak / 32768.0;
}

static GstPadProbeReturn
count_audio_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  double peak = buffer_peak (GST_PAD_PROBE_INFO_BUFFER (info));
  g_mutex_lock (&sh->lock);
  sh->audio_buffers++;
  sh->audio_peak = MAX (peak, sh->audio_peak * AUDIO_PEAK_DECAY);
  g_mutex_unlock (&sh->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
count_frame_sent (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  g_mutex_lock (&sh->lock);
  sh->frames_sent++;
  g_mutex_unlock (&sh->lock);
  return GST_PAD_PROBE_OK;
}

/* Video RTP payload bytes out of the payloader (the 12-byte fixed RTP header
 * left out, as W3C bytesSent does): webrtcbin 1.22's get-stats reported one
 * outbound stream only, so it cannot give the video bitrate. */
static gboolean
add_payload_bytes (GstBuffer **buf, guint idx, gpointer data)
{
  gsize size = gst_buffer_get_size (*buf);
  *(guint64 *) data += size > 12 ? size - 12 : 0;
  return TRUE;
}

static GstPadProbeReturn
count_video_bytes (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  guint64 bytes = 0;
  /* rtpvp8pay pushes a frame's packets as one buffer list. */
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info), add_payload_bytes, &bytes);
  else {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    add_payload_bytes (&buf, 0, &bytes);
  }
  g_mutex_lock (&sh->lock);
  if (sh->video_bytes_sent == 0 && bytes > 0)
    g_cond_broadcast (&sh->media_ready);
  sh->video_bytes_sent += bytes;
  g_mutex_unlock (&sh->lock);
  return GST_PAD_PROBE_OK;
}

/* The send gate. webrtcbin 1.22 holds the RTP going into its DTLS-SRTP
 * encoder until that encoder has its keys (a pad block in its
 * transportsendbin, lifted on "on-key-set"): our encoder threads stopped
 * there, and (measured) our sources with them, and the moment DTLS completed
 * everything they had made meanwhile left at once, frames whose timestamps
 * spanned the wait. When a DTLS flight is lost (its retransmission timer is
 * 1 s, doubling) that was one to four seconds of media in ~90 ms; the peer's
 * jitter buffer re-based its clock on it and then ignored the retransmissions
 * of the first keyframe (docs/BENCHMARKS.md, "Bad network with delay: the
 * start-up burst"). So nothing waits in webrtcbin any more, and nothing waits
 * long here:
 * - before the pipeline plays our media is dropped (GATE_CLOSED);
 * - from tv_media_call_prepare on (GATE_ARMED) a keyframe waits here until
 *   it is GATE_HOLD_MS old (then it is dropped and the next one asked for),
 *   so that one is ready the moment media may go: armed only at
 *   tv_media_call_start, the keyframe asked for then came a frame or two
 *   after DTLS on a clean link, +17 ms of call setup (docs/BENCHMARKS.md).
 *   Meanwhile the encoder waits at the gate and the leaky queue in front of
 *   it drops frames: the self-view keeps playing, and ~5 keyframes a second
 *   are encoded instead of every frame;
 * - media goes once our side of DTLS-SRTP is up (GATE_OPEN), video from a
 *   keyframe on: opened from the DTLS transport's "state" notification, in
 *   the thread that completes the handshake and right after webrtcbin lifts
 *   its own block, as quickly as before (the call setup figure); the peer
 *   connection's "connected" and the first decrypted packet from the peer
 *   open it too, should that come first.
 * At most GATE_HOLD_MS of media made during a hold follows the keyframe. */
#define GATE_HOLD_MS 200

/* Each encoded video frame, before the payloader (the encoder's streaming
 * thread, which then runs gate_video_rtp for that frame's packets). */
static GstPadProbeReturn
gate_video_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  sh->video_frame_key = buf && !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  sh->video_frame_start = TRUE;
  if (sh->video_frame_key)
    sh->key_asked = FALSE;
  return GST_PAD_PROBE_OK;
}

/* Drops the RTP of @info at the gate and counts it. */
static GstPadProbeReturn
gate_drop (TvMediaShared *sh, GstPadProbeInfo *info)
{
  guint n = 1;
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    n = gst_buffer_list_length (GST_PAD_PROBE_INFO_BUFFER_LIST (info));
  g_mutex_lock (&sh->lock);
  sh->held_packets += n;
  g_mutex_unlock (&sh->lock);
  return GST_PAD_PROBE_DROP;
}

/* How long the frame of @info has existed (its timestamp against the
 * running time now, in us), or 0 when unknown. */
static gint64
gate_frame_age_us (GstPad *pad, GstPadProbeInfo *info)
{
  GstBuffer *buf = (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
                     ? gst_buffer_list_get (GST_PAD_PROBE_INFO_BUFFER_LIST (info), 0)
                     : GST_PAD_PROBE_INFO_BUFFER (info);
  GstElement *el = gst_pad_get_parent_element (pad);
  GstClock *clock = el ? gst_element_get_clock (el) : NULL;
  gint64 age = 0;
  if (clock && buf && GST_BUFFER_PTS_IS_VALID (buf)) {
    GstClockTime now = gst_clock_get_time (clock), base = gst_element_get_base_time (el);
    if (now > base + GST_BUFFER_PTS (buf))
      age = (gint64) ((now - base - GST_BUFFER_PTS (buf)) / GST_USECOND);
  }
  if (clock)
    gst_object_unref (clock);
  if (el)
    gst_object_unref (el);
  return age;
}

/* A video packet on its way into webrtcbin (@pad: the video capsfilter's
 * source pad; the encoder's streaming thread). */
static GstPadProbeReturn
gate_video_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  gint gate = g_atomic_int_get (&sh->send_gate);
  if (gate == GATE_OPEN && sh->video_passes)
    return GST_PAD_PROBE_OK;
  /* Only a whole keyframe may start the stream: from its first packet. */
  gboolean key_start = sh->video_frame_key && sh->video_frame_start;
  sh->video_frame_start = FALSE;
  if (gate == GATE_ARMED && key_start) {
    gint64 wait = GATE_HOLD_MS * G_TIME_SPAN_MILLISECOND - gate_frame_age_us (pad, info);
    gint64 until = g_get_monotonic_time () + wait;
    g_mutex_lock (&sh->lock);
    while (wait > 0 && g_atomic_int_get (&sh->send_gate) != GATE_OPEN && !shared_closing (sh)
           && g_cond_wait_until (&sh->gate_cond, &sh->lock, until))
      ;
    g_mutex_unlock (&sh->lock);
    gate = g_atomic_int_get (&sh->send_gate);
  }
  if (gate == GATE_OPEN && key_start) {
    sh->video_passes = TRUE;
    return GST_PAD_PROBE_OK;
  }
  /* Not a keyframe that may go: have the encoder make one from its next
   * frame (once until one comes: a held one that got too old is dropped
   * and another asked for). */
  if (gate != GATE_CLOSED && !sh->key_asked) {
    sh->key_asked = TRUE;
    gst_pad_send_event (pad, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0));
  }
  return gate_drop (sh, info);
}

static GstPadProbeReturn
gate_audio_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  return g_atomic_int_get (&sh->send_gate) == GATE_OPEN ? GST_PAD_PROBE_OK : gate_drop (sh, info);
}

/* Any thread: the gate moves on to @to unless it is there or further;
 * a keyframe held at the gate wakes. */
static void
gate_raise (TvMediaShared *sh, gint to)
{
  g_mutex_lock (&sh->lock);
  gint now = g_atomic_int_get (&sh->send_gate);
  if (now < to) {
    g_atomic_int_set (&sh->send_gate, to);
    g_cond_broadcast (&sh->gate_cond);
  }
  g_mutex_unlock (&sh->lock);
}

/* Stale remote video (TvMediaStats.video_stale_packets), at the input of a
 * jitter buffer (its streaming thread): for each packet, arrival time minus
 * RTP time ("lag"); a packet whose lag exceeds the smallest one seen by more
 * than STALE_LAG_US arrived that much later than the stream's freshest
 * packet would predict. The first STALE_KEEP lags are kept and judged
 * against the smallest lag at the time stats are read (the stale packets of
 * a start-up burst come first, before the fresh ones that show it), later
 * ones at arrival. One video stream per call is watched (the first one). */
typedef struct {
  TvMediaShared *sh;
  int clock_rate; /* 0 = not known yet, -1 = not video */
} StaleWatch;

static void
stale_watch_free (gpointer data)
{
  StaleWatch *w = data;
  shared_unref (w->sh);
  g_free (w);
}

/* The stream's clock rate when it is video: from the pad's caps, or our own
 * video payload type (the first packets come before the jitter buffer has
 * asked for its payload map). 0 = not known yet, -1 = not video. */
static int
stale_clock_rate (GstPad *pad, guint pt)
{
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const GstStructure *st = caps && gst_caps_get_size (caps) > 0 ? gst_caps_get_structure (caps, 0) : NULL;
  const char *media = st ? gst_structure_get_string (st, "media") : NULL;
  int rate = 0;
  if (st && media && gst_structure_get_int (st, "clock-rate", &rate) && rate > 0)
    return g_strcmp0 (media, "video") == 0 ? rate : -1;
  return pt == VIDEO_PT ? 90000 : 0;
}

static GstPadProbeReturn
stale_watch (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  StaleWatch *w = data;
  TvMediaShared *sh = w->sh;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  /* Decrypted SRTP from the peer: both sides have their keys (the gate). */
  if (g_atomic_int_get (&sh->send_gate) != GATE_OPEN)
    gate_raise (sh, GATE_OPEN);
  if (w->clock_rate < 0 || !buf || GST_BUFFER_FLAG_IS_SET (buf, GST_RTP_BUFFER_FLAG_RETRANSMISSION)
      || !gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return GST_PAD_PROBE_OK;
  guint32 ts = gst_rtp_buffer_get_timestamp (&rtp);
  guint pt = gst_rtp_buffer_get_payload_type (&rtp);
  gst_rtp_buffer_unmap (&rtp);
  if (w->clock_rate == 0 && (w->clock_rate = stale_clock_rate (pad, pt)) <= 0)
    return GST_PAD_PROBE_OK;
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&sh->lock);
  if (!sh->stale_have || sh->stale_owner == w) {
    if (!sh->stale_have)
      sh->stale_ext_ts = ts;
    else
      sh->stale_ext_ts += (gint32) (ts - sh->stale_last_ts);
    sh->stale_have = TRUE;
    sh->stale_owner = w;
    sh->stale_last_ts = ts;
    gint64 lag = now - sh->stale_ext_ts * G_USEC_PER_SEC / w->clock_rate;
    if (sh->stale_kept == 0 || lag < sh->stale_min_lag_us)
      sh->stale_min_lag_us = lag;
    if (sh->stale_kept < STALE_KEEP)
      sh->stale_lag_us[sh->stale_kept++] = lag;
    else if (lag > sh->stale_min_lag_us + STALE_LAG_US)
      sh->stale_later++;
  }
  g_mutex_unlock (&sh->lock);
  return GST_PAD_PROBE_OK;
}

/* Every remote RTP packet (after the jitter buffer, before depayloading):
 * progress for the stall watch. The very first one also means the peer has
 * finished its side of DTLS, so our packets are now decrypted there (see
 * EV_REMOTE_MEDIA). */
static GstPadProbeReturn
count_remote_packet (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  gboolean first;
  g_mutex_lock (&sh->lock);
  first = sh->remote_packets++ == 0;
  g_mutex_unlock (&sh->lock);
  if (first && !shared_closing (sh))
    post_event (sh, EV_REMOTE_MEDIA, NULL, 0);
  return GST_PAD_PROBE_OK;
}

/* The peer's audio after the jitter buffer (streaming thread): counts the
 * packets and the gaps in their sequence numbers (audio is not
 * retransmitted, so a gap is a lost packet). A jump of more than 100 or a
 * step back (a new stream, reordering) restarts the count there. */
static GstPadProbeReturn
count_audio_seq (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!buf || !gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return GST_PAD_PROBE_OK;
  guint16 seq = gst_rtp_buffer_get_seq (&rtp);
  gst_rtp_buffer_unmap (&rtp);
  g_mutex_lock (&sh->lock);
  gint16 step = (gint16) (guint16) (seq - sh->audio_last_seq);
  sh->audio_expected += sh->audio_have_seq && step > 0 && step <= 100 ? (guint64) step : 1;
  sh->audio_received++;
  if (!sh->audio_have_seq || step > 0 || step < -100)
    sh->audio_last_seq = seq;
  sh->audio_have_seq = TRUE;
  g_mutex_unlock (&sh->lock);
  return GST_PAD_PROBE_OK;
}

/* The element of a device chosen in a pre-call check (GstDeviceMonitor). */
static GstElement *
device_element (gpointer device, const char *name, GError **error)
{
  GstElement *el = gst_device_create_element (GST_DEVICE (device), name);
  if (!el && error && !*error) {
    g_autofree char *dn = gst_device_get_display_name (GST_DEVICE (device));
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE, "cannot open the device \"%s\"", dn);
  }
  return el;
}

/* A probe of @types on @el's static pad @pad_name that holds a reference to
 * @sh for its life: the counting probes (single buffers) and the send gate
 * (the RTP going into webrtcbin, single buffers or lists). */
static void
add_probe (GstElement *el, const char *pad_name, GstPadProbeType types, GstPadProbeCallback cb, TvMediaShared *sh)
{
  GstPad *pad = gst_element_get_static_pad (el, pad_name);
  gst_pad_add_probe (pad, types, cb, shared_ref (sh), shared_unref);
  gst_object_unref (pad);
}

/* Adds @els (NULL-terminated) to @bin, links them in order and brings them to
 * the bin's state, downstream first so nothing pushes into a stopped element.
 * Returns: the first element, or NULL when linking failed. */
static GstElement *
add_chain (GstBin *bin, GstElement **els)
{
  guint n = 0;
  while (els[n])
    gst_bin_add (bin, els[n++]);
  for (guint i = 0; i + 1 < n; i++)
    if (!gst_element_link (els[i], els[i + 1]))
      return NULL;
  for (guint i = n; i > 0; i--)
    gst_element_sync_state_with_parent (els[i - 1]);
  return els[0];
}

static GstElement *
make (const char *factory)
{
  /* Plugins were checked in tv_media_call_new(); NULL here would be a broken
   * installation changing underneath us, reported as a link failure. */
  return gst_element_factory_make (factory, NULL);
}

/* vp8enc cpu-used and opusenc complexity: see build_video_send and
 * build_audio_send. */
#define VP8_CPU_USED (-6)
#define OPUS_COMPLEXITY 9

/* libvpx's VP8 threads synchronise by spinning: with 2 threads on a 2-core
 * machine that also runs the peer, the spinning took 78 % of a client's CPU
 * and the call fell to 14 fps (perf, docs/BENCHMARKS.md). Like WebRTC's own
 * VP8 wrapper, use more than one encoder thread only for frames larger than
 * 640x480 and with at least 3 cores. */
static int
vp8_encoder_threads (const TvMediaConfig *c)
{
  guint cores = g_get_num_processors ();
  int pixels = c->width * c->height;

  if (pixels > 1280 * 960 && cores >= 6)
    return 3;
  if (pixels > 640 * 480 && cores >= 3)
    return 2;
  return 1;
}

/* Decoded-remote-video chain. Headless: counted into a fakesink. Otherwise
 * into the compositor at full size, under the self view.
 *
 * No queue in front of the depayloader (here or in build_audio_branch): the
 * jitter buffer already pushes from its own thread, and a queue after it
 * only handed every packet to one more thread (a futex wake-up and a context
 * switch each, ~230 a second per client on this VM, where a switch costs
 * ~9 us: finish_task_switch was 9 % of a call's CPU). Lost-packet timers and
 * NACKs run on the jitter buffer's timer thread, and packets arrive on the
 * receive thread, so decoding on the push thread delays neither; a slow sink
 * now blocks that push thread where it blocked the queue's before.
 * docs/BENCHMARKS.md, "CPU per call: fewer hand-offs". */
static GstElement *
build_video_branch (TvMediaShared *sh, GstBin *bin)
{
  GstElement *depay = make ("rtpvp8depay");
  GstElement *dec = make ("vp8dec");
  if (!depay || !dec)
    goto fail;
  /* Start decoding at a keyframe and ask the sender for one right away
   * (PLI) instead of waiting for the next periodic keyframe. */
  g_object_set (depay, "request-keyframe", TRUE, "wait-for-keyframe", TRUE, NULL);
  /* One thread: libvpx's VP8 decoder threads spin-wait for each other (see
   * vp8_encoder_threads); a 640x480 frame decodes in about a millisecond. */
  g_object_set (dec, "threads", 1, NULL);
  add_probe (dec, "src", GST_PAD_PROBE_TYPE_BUFFER, count_video_frame, sh);

  if (sh->headless) {
    GstElement *sink = make ("fakesink");
    if (!sink)
      goto fail;
    g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
    return add_chain (bin, (GstElement *[]){ depay, dec, sink, NULL });
  }

  GstElement *comp = gst_bin_get_by_name (bin, "tv-compositor");
  GstElement *conv = make ("videoconvert");
  GstElement *scale = make ("videoscale");
  if (!comp || !conv || !scale) {
    g_clear_object (&comp);
    g_clear_object (&conv);
    g_clear_object (&scale);
    goto fail;
  }
  GstPad *cpad = gst_element_request_pad_simple (comp, "sink_%u");
  g_object_set (cpad, "xpos", 0, "ypos", 0, "width", sh->width, "height", sh->height, "zorder", 0,
                NULL);
  GstElement *first = add_chain (bin, (GstElement *[]){ depay, dec, conv, scale, NULL });
  GstPad *spad = gst_element_get_static_pad (scale, "src");
  if (first && gst_pad_link (spad, cpad) != GST_PAD_LINK_OK)
    first = NULL;
  gst_object_unref (spad);
  gst_object_unref (cpad);
  gst_object_unref (comp);
  return first;

fail:
  g_clear_object (&depay);
  g_clear_object (&dec);
  return NULL;
}

static GstElement *
build_audio_branch (TvMediaShared *sh, GstBin *bin)
{
  GstElement *depay = make ("rtpopusdepay");
  GstElement *dec = make ("opusdec");
  GstElement *sink = sh->headless ? make ("fakesink")
                     : sh->speaker ? gst_device_create_element (sh->speaker, NULL)
                                   : make ("autoaudiosink");
  GstElement *conv = make ("audioconvert");
  GstElement *res = make ("audioresample");
  if (!depay || !dec || !sink || !conv || !res) {
    g_clear_object (&depay);
    g_clear_object (&dec);
    g_clear_object (&sink);
    g_clear_object (&conv);
    g_clear_object (&res);
    return NULL;
  }
  /* Opus in-band FEC recovers single lost packets. */
  g_object_set (dec, "use-inband-fec", TRUE, NULL);
  if (sh->headless)
    g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  add_probe (dec, "src", GST_PAD_PROBE_TYPE_BUFFER, count_audio_buffer, sh);
  return add_chain (bin, (GstElement *[]){ depay, dec, conv, res, sink, NULL });
}

/* Media kind of a webrtcbin src pad: its caps, or failing that its
 * transceiver's kind. Returns "video", "audio" or NULL. */
static const char *
pad_media_kind (GstPad *pad)
{
  const char *kind = NULL;
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, NULL);
  if (caps && gst_caps_get_size (caps) > 0) {
    const char *m = gst_structure_get_string (gst_caps_get_structure (caps, 0), "media");
    if (g_strcmp0 (m, "video") == 0)
      kind = "video";
    else if (g_strcmp0 (m, "audio") == 0)
      kind = "audio";
  }
  if (caps)
    gst_caps_unref (caps);
  if (!kind) {
    GstWebRTCRTPTransceiver *trans = NULL;
    g_object_get (pad, "transceiver", &trans, NULL);
    if (trans) {
      GstWebRTCKind k = GST_WEBRTC_KIND_UNKNOWN;
      g_object_get (trans, "kind", &k, NULL);
      kind = k == GST_WEBRTC_KIND_VIDEO ? "video" : k == GST_WEBRTC_KIND_AUDIO ? "audio" : NULL;
      gst_object_unref (trans);
    }
  }
  return kind;
}

/* A remote stream appeared (streaming thread). Linked right here, before
 * webrtcbin pushes into it: an unlinked pad would stop the stream with
 * not-linked. Under the lock so tv_media_call_free() never tears the pipeline
 * down halfway through this. */
static void
on_pad_added (GstElement *webrtc, GstPad *pad, gpointer data)
{
  TvMediaShared *sh = data;
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  const char *kind = pad_media_kind (pad);

  g_mutex_lock (&sh->lock);
  if (shared_closing (sh)) {
    g_mutex_unlock (&sh->lock);
    return;
  }
  GstBin *bin = GST_BIN (gst_object_get_parent (GST_OBJECT (webrtc)));
  GstElement *first = NULL;
  gboolean known = TRUE;
  if (g_strcmp0 (kind, "video") == 0 && !sh->have_video_branch) {
    first = build_video_branch (sh, bin);
    sh->have_video_branch = TRUE;
  } else if (g_strcmp0 (kind, "audio") == 0 && !sh->have_audio_branch) {
    first = build_audio_branch (sh, bin);
    sh->have_audio_branch = TRUE;
  } else {
    /* A stream we did not ask for: swallow it so it cannot stall the rest. */
    known = FALSE;
    GstElement *sink = make ("fakesink");
    if (sink) {
      g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
      first = add_chain (bin, (GstElement *[]){ sink, NULL });
    }
  }
  gboolean linked = FALSE;
  if (first) {
    GstPad *sinkpad = gst_element_get_static_pad (first, "sink");
    linked = gst_pad_link (pad, sinkpad) == GST_PAD_LINK_OK;
    if (linked && known)
      gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, count_remote_packet, shared_ref (sh),
                         shared_unref);
    if (linked && known && g_strcmp0 (kind, "audio") == 0)
      gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, count_audio_seq, shared_ref (sh), shared_unref);
    gst_object_unref (sinkpad);
  }
  gst_object_unref (bin);
  g_mutex_unlock (&sh->lock);

  if (!known)
    g_message ("ignoring an extra remote %s stream", kind ? kind : "unknown");
  if (!linked)
    post_error (sh, TV_MEDIA_ERR_PIPELINE, "could not build the receive branch for remote %s",
                kind ? kind : "media");
}

/* ---------------------------------------------------------------------------
 * Main-context side
 */

static void
report_error (TvMediaCall *call, TvMediaErrorCode code, const char *message)
{
  /* The first fatal error makes the call unusable; later ones are echoes. */
  if (call->failed)
    return;
  call->failed = TRUE;
  /* The caller gets the error and decides; a warning would be fatal in tests. */
  g_message ("call failed: %s", message);
  GError *err = g_error_new_literal (TV_MEDIA_ERROR, code, message);
  if (call->cb.error)
    call->cb.error (call, err, call->user_data);
  g_error_free (err);
}

/* Asks our encoder for a keyframe now: the peer just became reachable, and
 * whatever keyframe went out before DTLS was up was dropped. */
static void
force_keyframe (TvMediaCall *call)
{
  GstPad *src = gst_element_get_static_pad (call->venc, "src");
  gst_pad_send_event (src, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, TRUE, 0));
  gst_object_unref (src);
}

/* Publishes the state derived from webrtcbin's and the stall watch. */
static void
publish_state (TvMediaCall *call)
{
  TvMediaShared *sh = call->shared;
  TvMediaState state = call->pc_state;
  if (call->stall_failed)
    state = TV_MEDIA_STATE_FAILED;
  else if (state == TV_MEDIA_STATE_CONNECTED && call->stalled)
    state = TV_MEDIA_STATE_DISCONNECTED;
  if (state == call->state)
    return;
  g_message ("connection state %s -> %s", tv_media_state_to_string (call->state),
             tv_media_state_to_string (state));
  call->state = state;
  if (state == TV_MEDIA_STATE_CONNECTED && !call->keyframe_forced) {
    call->keyframe_forced = TRUE;
    gate_raise (sh, GATE_OPEN);
    force_keyframe (call);
  }
  if (call->cb.state_changed)
    call->cb.state_changed (call, state, call->user_data);
  /* The callback may have freed the call. */
  if (state == TV_MEDIA_STATE_FAILED && sh->call == call)
    report_error (call, TV_MEDIA_ERR_ICE_FAILED,
                  call->stall_failed ? "no media from the peer for too long" : "ICE/DTLS connection failed");
}

static void
handle_state (TvMediaCall *call, TvMediaState state)
{
  if (state == TV_MEDIA_STATE_CONNECTED && call->pc_state != TV_MEDIA_STATE_CONNECTED) {
    /* The watch counts from (re)connection. */
    call->stalled = FALSE;
    call->last_progress_us = g_get_monotonic_time ();
  }
  call->pc_state = state;
  publish_state (call);
}

/* Every 500 ms on the main context: has remote media arrived since? */
static gboolean
on_health_timer (gpointer data)
{
  TvMediaShared *sh = data;
  TvMediaCall *call = sh->call;
  if (!call)
    return G_SOURCE_REMOVE;
  if (call->pc_state != TV_MEDIA_STATE_CONNECTED || call->stall_failed)
    return G_SOURCE_CONTINUE;
  g_mutex_lock (&sh->lock);
  guint64 packets = sh->remote_packets;
  g_mutex_unlock (&sh->lock);
  gint64 now = g_get_monotonic_time ();
  if (packets != call->last_packets) {
    call->last_packets = packets;
    call->last_progress_us = now;
    if (call->stalled) {
      g_message ("remote media flows again");
      call->stalled = FALSE;
      /* The peer's decoder lost our stream too: give it a fresh start. */
      force_keyframe (call);
      publish_state (call);
    }
    return G_SOURCE_CONTINUE;
  }
  gint64 idle_ms = (now - call->last_progress_us) / 1000;
  if (idle_ms >= call->cfg.stall_fail_ms) {
    g_message ("no remote media for %" G_GINT64_FORMAT " ms: failing the call", idle_ms);
    call->stall_failed = TRUE;
    publish_state (call); /* may free the call */
  } else if (idle_ms >= call->cfg.stall_disconnect_ms && !call->stalled) {
    g_message ("no remote media for %" G_GINT64_FORMAT " ms", idle_ms);
    call->stalled = TRUE;
    publish_state (call); /* may free the call */
  }
  return G_SOURCE_CONTINUE;
}

/* Sets rtpjitterbuffer's rtx-retry-timeout (ms, -1 = its own) on every jitter
 * buffer of the call that does not have it yet (tv_media_rtx_retry_ms says
 * why and how much); runs with each stats snapshot, so jitter buffers made
 * later get it too. Main thread. */
static void
set_rtx_retry (TvMediaCall *call, int retry_ms)
{
  GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (call->webrtc), "rtpbin");
  if (!rtpbin)
    return;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (rtpbin));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&item);
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && g_strcmp0 (GST_OBJECT_NAME (f), "rtpjitterbuffer") == 0) {
      int had = 0;
      g_object_get (e, "rtx-retry-timeout", &had, NULL);
      if (had != retry_ms) {
        g_debug ("%s: retransmission requests every %d ms (was %d)", GST_OBJECT_NAME (e), retry_ms, had);
        g_object_set (e, "rtx-retry-timeout", retry_ms, NULL);
      }
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  gst_object_unref (rtpbin);
}

/* A retransmission can only fill a gap in time if it arrives while the jitter
 * buffer still waits for it: one round trip after the gap showed, two when
 * the NACK or the retransmission was lost and the jitter buffer asked again
 * (it retries after its measured retransmission round trip). With the fixed
 * 50 ms latency and 100 ms added each way (bench badnet, RTT 200 ms) every
 * retransmission came too late: each lost packet cost its frame and the
 * frames after it up to the next keyframe (4-8 fps on the worse side, 17-23
 * freezes in 20 s). With one round trip on top, packets whose first NACK or
 * retransmission was lost (~1 a second) still ended as lost-events (18-23
 * fps, 8-17 freezes); with two, 25-29 fps and 1-7 freezes, Chromium 29-30
 * fps and none (docs/BENCHMARKS.md, *Bad network with added delay*). So the
 * latency is the configured one (the margin for jitter) plus two RTTs as
 * measured from RTCP (webrtcbin's remote-inbound-rtp round-trip-time, the
 * worst stream), updated with each stats snapshot once it moved by
 * LATENCY_STEP_MS; the interval between requests for one packet is then
 * set so that a third request's answer fits too (tv_media_rtx_retry_ms:
 * with the jitter buffer's own, ~1 RTT, a packet whose first two requests
 * or answers were lost became a lost-event and a freeze, ~1 a side in 20
 * s). On a LAN or loopback (RTT ~1 ms) it never changes, so call setup and
 * the no-delay figures are as before. Audio waits as long as video: the two stay in sync (browsers delay
 * audio to the video's playout delay too). The round trips are added only
 * while the link loses packets (the peer's audio, measure_audio_loss, or a
 * jitter buffer's request for a lost packet, on_rtx_request) and
 * for LATENCY_LOSS_HOLD_US after the last loss: on a clean long-distance
 * link (RTT 200 ms, no loss) nothing is waiting for a retransmission, and
 * 400 ms more playout delay would only make the conversation harder; the
 * hold keeps a link that loses now and then from changing the latency (a
 * pause or a skip each time) at every lost packet. Main thread; webrtcbin
 * hands the value to rtpbin, which sets it on every jitter buffer, and the
 * pipeline's latency is recalculated from the LATENCY message (bus_cb). */
static void
adapt_latency (TvMediaCall *call, gint64 now_us)
{
  if (!call->webrtc || call->snap.rtt_ms <= 0)
    return;
  gboolean lossy = call->loss_seen_us > 0 && now_us - call->loss_seen_us < LATENCY_LOSS_HOLD_US;
  guint want = tv_media_jitter_latency (call->cfg.latency_ms, call->snap.rtt_ms, lossy, LATENCY_MAX_MS);
  guint now = call->latency_now_ms ? call->latency_now_ms : call->cfg.latency_ms;
  if (want >= now + LATENCY_STEP_MS || want + LATENCY_STEP_MS <= now) {
    g_debug ("jitter-buffer latency %u -> %u ms (RTT %.0f ms)", now, want, call->snap.rtt_ms);
    g_object_set (call->webrtc, "latency", want, NULL);
    call->latency_now_ms = now = want;
  }
  set_rtx_retry (call, tv_media_rtx_retry_ms (now, call->snap.rtt_ms, lossy));
}

/* The loss of the peer's audio to us over the last AUDIO_LOSS_WINDOW stats
 * snapshots (count_audio_seq), into @loss (0..1); FALSE while under half a
 * second of audio came in that window (too few to tell). Main thread, once
 * per stats snapshot: it advances the ring of counters. */
static gboolean
measure_audio_loss (TvMediaCall *call, double *loss)
{
  TvMediaShared *sh = call->shared;
  g_mutex_lock (&sh->lock);
  guint64 expected = sh->audio_expected, received = sh->audio_received;
  g_mutex_unlock (&sh->lock);
  guint slot = call->audio_seen_n % AUDIO_LOSS_WINDOW;
  /* The oldest snapshot kept: the first one, or AUDIO_LOSS_WINDOW ago (the
   * slot about to be overwritten). */
  guint oldest = call->audio_seen_n < AUDIO_LOSS_WINDOW ? 0 : slot;
  guint64 exp0 = call->audio_seen[oldest].expected, rec0 = call->audio_seen[oldest].received;
  call->audio_seen[slot].expected = expected;
  call->audio_seen[slot].received = received;
  call->audio_seen_n++;
  if (expected < exp0 + 25 || received < rec0) /* under half a second of audio: too few to tell */
    return FALSE;
  guint64 got = received - rec0, want = expected - exp0;
  *loss = got >= want ? 0.0 : (double) (want - got) / (double) want;
  return TRUE;
}

/* Opus codes in-band FEC (a low-rate copy of the previous frame in each
 * packet, which the receiver uses when a packet is lost) only when told to
 * expect loss, and then costs ~3x the encoding CPU: 60 s of our tone took
 * 0.76 s to encode at an expected 10 % and 0.23 s at 0 % (opusenc, complexity
 * 9, 32 kbit/s). The old fixed 10 % paid that on every call, lossless ones
 * too (9 % of a client's CPU, docs/BENCHMARKS.md). Like WebRTC, the expected
 * loss now follows the measured loss, in WebRTC's steps
 * (tv_media_opus_expected_loss), over the last AUDIO_LOSS_WINDOW stats
 * intervals. WebRTC uses the loss the peer reports for our stream;
 * webrtcbin 1.22's stats do not give that for audio (its packets-lost stayed
 * 0 at 5 % loss, and one side lists no outbound audio), so this uses the
 * loss of the peer's audio on its way to us (count_audio_seq): a link
 * usually loses alike both ways. Main thread; opusenc takes the new value at
 * its next frame. */
static void
adapt_opus_fec (TvMediaCall *call, double loss)
{
  if (!call->aenc)
    return;
  int pct = tv_media_opus_expected_loss (call->opus_loss_pct, loss);
  if (pct != call->opus_loss_pct) {
    g_debug ("audio loss %.1f %%: Opus expects %d %%", loss * 100.0, pct);
    g_object_set (call->aenc, "packet-loss-percentage", pct, NULL);
    call->opus_loss_pct = pct;
  }
}

static gboolean on_stats_timer (gpointer data);

static gboolean
on_rtt_poll (gpointer data)
{
  TvMediaShared *sh = data;
  if (sh->call) {
    g_clear_pointer (&sh->call->rtt_poll_source, g_source_unref);
    (void) on_stats_timer (sh);
  }
  return G_SOURCE_REMOVE;
}

/* The link loses packets but no RTT is measured yet (the first RTCP report
 * blocks take a few hundred ms on a long link): ask for stats again in
 * RTT_POLL_MS rather than at the next 1 s snapshot, so that adapt_latency
 * raises the latency as soon as it can (every packet lost before that is
 * lost for good). Main thread. */
static void
poll_rtt_soon (TvMediaCall *call)
{
  if (call->rtt_poll_source || call->rtt_polls >= RTT_POLL_MAX)
    return;
  call->rtt_polls++;
  call->rtt_poll_source = g_timeout_source_new (RTT_POLL_MS);
  g_source_set_callback (call->rtt_poll_source, on_rtt_poll, shared_ref (call->shared), shared_unref);
  g_source_set_static_name (call->rtt_poll_source, "tv-media rtt poll");
  g_source_attach (call->rtt_poll_source, call->shared->context);
}

static void
handle_stats (TvMediaCall *call, const GstStructure *reply)
{
  call->stats_pending = FALSE;
  if (!reply)
    return;
  tv_media_stats_parse (reply, &call->snap);
  gint64 now = g_get_monotonic_time ();
  if (call->last_stats_us > 0 && now > call->last_stats_us) {
    double secs = (now - call->last_stats_us) / 1e6;
    guint64 in = call->snap.bytes_received, out = call->snap.bytes_sent;
    call->snap.bitrate_in_kbps = in >= call->last_bytes_in ? (in - call->last_bytes_in) * 8 / 1000.0 / secs : 0;
    call->snap.bitrate_out_kbps =
      out >= call->last_bytes_out ? (out - call->last_bytes_out) * 8 / 1000.0 / secs : 0;
  }
  call->last_stats_us = now;
  call->last_bytes_in = call->snap.bytes_received;
  call->last_bytes_out = call->snap.bytes_sent;
  double loss;
  if (measure_audio_loss (call, &loss)) {
    if (loss > 0)
      call->loss_seen_us = now;
    adapt_opus_fec (call, loss);
  }
  adapt_latency (call, now);
  if (call->loss_seen_us > 0 && call->snap.rtt_ms <= 0)
    poll_rtt_soon (call);
}

static gboolean
dispatch_event (gpointer data)
{
  Event *ev = data;
  TvMediaCall *call = ev->shared->call;
  if (!call)
    return G_SOURCE_REMOVE; /* freed: drop silently */

  if (call->snap.started_us > 0)
    g_debug ("+%.1f ms: event %d", (g_get_monotonic_time () - call->snap.started_us) / 1000.0, ev->kind);
  switch (ev->kind) {
  case EV_LOCAL_SDP:
    if (g_strcmp0 (ev->sdp_type, "offer") == 0) {
      call->neg = NEG_HAVE_LOCAL_OFFER;
      call->local_mlines = ev->number;
    } else {
      call->neg = NEG_STABLE;
    }
    g_debug ("local %s:\n%s", ev->sdp_type, ev->text);
    if (call->cb.local_sdp)
      call->cb.local_sdp (call, ev->sdp_type, ev->text, call->user_data);
    break;
  case EV_LOCAL_CANDIDATE:
    if (call->cb.local_candidate)
      call->cb.local_candidate (call, ev->number, ev->text, call->user_data);
    break;
  case EV_STATE:
    handle_state (call, (TvMediaState) ev->number);
    break;
  case EV_ERROR:
    report_error (call, (TvMediaErrorCode) ev->number, ev->text);
    break;
  case EV_FIRST_FRAME: {
    gint64 first;
    g_mutex_lock (&call->shared->lock);
    first = call->shared->first_frame_us;
    g_mutex_unlock (&call->shared->lock);
    g_message ("first remote video frame %.1f ms after start",
               (first - call->snap.started_us) / 1000.0);
    if (call->cb.first_remote_frame)
      call->cb.first_remote_frame (call, call->user_data);
    break;
  }
  case EV_STATS:
    handle_stats (call, ev->stats);
    break;
  case EV_REMOTE_MEDIA:
    /* The keyframe we sent when our side connected may have reached the peer
     * before its SRTP keys were ready and been dropped; now it will not be.
     * Cheaper and faster than waiting for the peer's PLI. */
    g_debug ("first remote media: sending a keyframe");
    gate_raise (call->shared, GATE_OPEN); /* normally done already (stale_watch) */
    force_keyframe (call);
    break;
  case EV_LOSS:
    /* The link loses packets: raise the latency now rather than at the
     * audio measure a second or two later (on_rtx_request). Without an RTT
     * yet, ask for stats now; adapt_latency runs with their reply. */
    call->loss_seen_us = g_get_monotonic_time ();
    if (call->snap.rtt_ms <= 0)
      (void) on_stats_timer (call->shared);
    else
      adapt_latency (call, call->loss_seen_us);
    break;
  }
  return G_SOURCE_REMOVE;
}

/* Whether @obj is (inside) the element named @name. */
static gboolean
object_within (GstObject *obj, const char *name)
{
  for (GstObject *o = obj; o; o = GST_OBJECT_PARENT (o))
    if (g_strcmp0 (GST_OBJECT_NAME (o), name) == 0)
      return TRUE;
  return FALSE;
}

static TvMediaErrorCode
classify_error (GstMessage *msg, const GError *err)
{
  gboolean from_source = object_within (GST_MESSAGE_SRC (msg), "tv-video-source")
                         || object_within (GST_MESSAGE_SRC (msg), "tv-audio-source");
  return from_source && err->domain == GST_RESOURCE_ERROR ? TV_MEDIA_ERR_DEVICE : TV_MEDIA_ERR_PIPELINE;
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  TvMediaShared *sh = data;
  TvMediaCall *call = sh->call;
  if (!call)
    return G_SOURCE_REMOVE;

  switch (GST_MESSAGE_TYPE (msg)) {
  case GST_MESSAGE_ERROR: {
    GError *err = NULL;
    char *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    g_debug ("error details: %s", dbg ? dbg : "none");
    char *text = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
    report_error (call, classify_error (msg, err), text);
    g_free (text);
    g_free (dbg);
    g_error_free (err);
    break;
  }
  case GST_MESSAGE_WARNING: {
    GError *err = NULL;
    gst_message_parse_warning (msg, &err, NULL);
    g_message ("pipeline warning from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
    g_error_free (err);
    break;
  }
  case GST_MESSAGE_LATENCY:
    /* A new receive branch changes the pipeline latency. */
    gst_bin_recalculate_latency (GST_BIN (call->pipeline));
    break;
  default:
    break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stats_timer (gpointer data)
{
  TvMediaShared *sh = data;
  TvMediaCall *call = sh->call;
  if (!call)
    return G_SOURCE_REMOVE;
  if (call->stats_pending)
    return G_SOURCE_CONTINUE;
  call->stats_pending = TRUE;
  GstPromise *p = gst_promise_new_with_change_func (on_stats, promise_ctx_new (sh, call->webrtc, FALSE),
                                                    promise_ctx_free);
  g_signal_emit_by_name (call->webrtc, "get-stats", NULL, p);
  gst_promise_unref (p);
  return G_SOURCE_CONTINUE;
}

/* ---------------------------------------------------------------------------
 * Building the pipeline
 */

/* Pushes the window title as a tag once caps are set, so that xvimagesink /
 * ximagesink / glimagesink title their window with it. */
static GstPadProbeReturn
push_title_once (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  TvMediaShared *sh = data;
  if (sh->window_title) {
    GstTagList *tags = gst_tag_list_new (GST_TAG_TITLE, sh->window_title, NULL);
    gst_pad_push_event (pad, gst_event_new_tag (tags));
  }
  return GST_PAD_PROBE_REMOVE;
}

static gboolean
link_chain (GstBin *bin, GError **error, GstElement **els)
{
  guint n = 0;
  while (els[n]) {
    gst_bin_add (bin, els[n]);
    n++;
  }
  for (guint i = 0; i + 1 < n; i++)
    if (!gst_element_link (els[i], els[i + 1])) {
      g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "cannot link %s to %s",
                   GST_OBJECT_NAME (els[i]), GST_OBJECT_NAME (els[i + 1]));
      return FALSE;
    }
  return TRUE;
}

/* gst_element_factory_make for the build: the plugins were checked first,
 * so a NULL here means a broken installation. */
static GstElement *
make_named (const char *factory, const char *name, GError **error)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e && error && !*error)
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_MISSING_PLUGIN, "cannot create element %s",
                 factory);
  return e;
}

static GstCaps *
caps_new (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static GstCaps *
caps_new (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  GstCaps *caps = gst_caps_from_string (s);
  g_free (s);
  return caps;
}

static GstElement *
capsfilter (GstCaps *caps, GError **error)
{
  GstElement *f = make_named ("capsfilter", NULL, error);
  if (f)
    g_object_set (f, "caps", caps, NULL);
  gst_caps_unref (caps);
  return f;
}

/* Links @from's src pad to a new webrtcbin sink pad; returns its transceiver
 * (transfer full) or NULL. */
static GstWebRTCRTPTransceiver *
link_to_webrtc (GstElement *from, GstElement *webrtc, GError **error)
{
  GstPad *sink = gst_element_request_pad_simple (webrtc, "sink_%u");
  GstPad *src = gst_element_get_static_pad (from, "src");
  GstWebRTCRTPTransceiver *trans = NULL;
  if (!sink || gst_pad_link (src, sink) != GST_PAD_LINK_OK)
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "cannot link a stream to webrtcbin");
  else
    g_object_get (sink, "transceiver", &trans, NULL);
  if (sink)
    gst_object_unref (sink);
  gst_object_unref (src);
  return trans;
}

/* TRUE when a device of @klass ("Video/Source", "Audio/Source") exists. */
static gboolean
have_device (const char *klass)
{
  GstDeviceMonitor *mon = gst_device_monitor_new ();
  gst_device_monitor_add_filter (mon, klass, NULL);
  gboolean found = FALSE;
  if (gst_device_monitor_start (mon)) {
    GList *devs = gst_device_monitor_get_devices (mon);
    found = devs != NULL;
    g_list_free_full (devs, gst_object_unref);
    gst_device_monitor_stop (mon);
  }
  gst_object_unref (mon);
  return found;
}

static gboolean
build_video_send (TvMediaCall *call, GstBin *bin, GError **error)
{
  const TvMediaConfig *c = &call->cfg;
  GstElement *head[8] = { NULL };
  guint n = 0;
  if (c->test_media && c->video_file) {
    /* A pre-rendered camera: frames from memory, nothing drawn per frame. */
    head[n++] = tv_media_clip_source_new ("tv-video-source", c->video_file, TRUE, c->width, c->height,
                                          c->framerate, error);
  } else if (c->test_media) {
    GstElement *src = make_named ("videotestsrc", "tv-video-source", error);
    if (src) {
      /* Colour bars moving sideways: like a camera, this needs the encoder's
       * whole target bitrate (about 1 Mbit/s at 640x480), where the old
       * bouncing ball on black compressed to 0.1 Mbit/s and made every
       * bitrate and CPU figure look better than a real call's. */
      g_object_set (src, "is-live", TRUE, "horizontal-speed", 3, NULL);
      gst_util_set_object_arg (G_OBJECT (src), "pattern", "smpte");
    }
    head[n++] = src;
  } else {
    head[n++] = c->camera ? device_element (c->camera, "tv-video-source", error)
                          : make_named ("autovideosrc", "tv-video-source", error);
    head[n++] = make_named ("videoconvert", NULL, error);
    head[n++] = make_named ("videoscale", NULL, error);
    head[n++] = make_named ("videorate", NULL, error);
  }
  head[n++] = capsfilter (caps_new ("video/x-raw,width=%d,height=%d,framerate=%d/1,pixel-aspect-ratio=1/1",
                                    c->width, c->height, c->framerate),
                          error);
  head[n++] = make_named ("videoconvert", NULL, error);
  head[n++] = call->vbalance = make_named ("videobalance", "tv-video-mute", error);
  GstElement *tee = head[n++] = make_named ("tee", "tv-video-tee", error);

  GstElement *q = make_named ("queue", NULL, error);
  GstElement *enc = call->venc = make_named ("vp8enc", "tv-vp8enc", error);
  GstElement *pay = make_named ("rtpvp8pay", NULL, error);
  GstElement *rtpcaps = capsfilter (
    caps_new ("application/x-rtp,media=video,encoding-name=VP8,payload=%d,clock-rate=90000", VIDEO_PT),
    error);
  for (guint i = 0; i < n; i++)
    if (!head[i])
      return FALSE;
  if (!q || !enc || !pay || !rtpcaps)
    return FALSE;

  /* A stalled encoder must drop old frames, not queue up delay. */
  g_object_set (q, "max-size-buffers", 2, "max-size-bytes", 0, "max-size-time", (guint64) 0, NULL);
  gst_util_set_object_arg (G_OBJECT (q), "leaky", "downstream");
  /* Real time: fastest deadline, no look-ahead, CBR at the target, a
   * keyframe at least every 2 s so a lost one heals, error-resilient mode so
   * the decoder survives lost packets. cpu-used: in libvpx's VP8 real-time
   * mode a negative value is a fixed speed and a positive one lets the
   * encoder pick its own; the old 8 settled on slow speeds (~4) because a
   * 640x480 frame fits its time budget easily. -6 is WebRTC's setting at this
   * size on desktops: on our test pattern encoding took ~0.6x the CPU at the
   * same bitrate; faster fixed speeds saved little more and needed up to 30 %
   * more bits (docs/BENCHMARKS.md, "CPU per call"). */
  g_object_set (enc, "deadline", (gint64) 1, "cpu-used", VP8_CPU_USED, "threads", vp8_encoder_threads (c),
                "lag-in-frames", 0, "keyframe-max-dist", c->framerate * 2, "target-bitrate",
                (int) (c->video_bitrate_kbps * 1000), "undershoot", 95, "buffer-size", 1000,
                "buffer-initial-size", 500, "buffer-optimal-size", 600, "max-quantizer", 56, NULL);
  gst_util_set_object_arg (G_OBJECT (enc), "end-usage", "cbr");
  gst_util_set_object_arg (G_OBJECT (enc), "error-resilient", "default");
  g_object_set (pay, "pt", VIDEO_PT, "mtu", 1200, NULL);
  gst_util_set_object_arg (G_OBJECT (pay), "picture-id-mode", "15-bit");
  add_probe (enc, "sink", GST_PAD_PROBE_TYPE_BUFFER, count_frame_sent, call->shared);
  add_probe (enc, "src", GST_PAD_PROBE_TYPE_BUFFER, gate_video_frame, call->shared);
  add_probe (pay, "src", GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, count_video_bytes, call->shared);

  head[n] = NULL;
  if (!link_chain (bin, error, head) || !link_chain (bin, error, (GstElement *[]){ q, enc, pay, rtpcaps, NULL })
      || !gst_element_link (tee, q)) {
    if (error && !*error)
      g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "cannot link the video encoder");
    return FALSE;
  }
  add_probe (rtpcaps, "src", GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, gate_video_rtp, call->shared);
  GstWebRTCRTPTransceiver *trans = link_to_webrtc (rtpcaps, call->webrtc, error);
  if (!trans)
    return FALSE;
  /* Retransmissions for video (audio relies on Opus FEC). */
  g_object_set (trans, "do-nack", TRUE, NULL);
  gst_object_unref (trans);

  if (c->headless)
    return TRUE;

  /* One window: the remote picture fills it, the self view sits in the
   * bottom-right quarter (the remote pad is added in on_pad_added). */
  GstElement *sq = make_named ("queue", NULL, error);
  GstElement *sscale = make_named ("videoscale", NULL, error);
  GstElement *sconv = make_named ("videoconvert", NULL, error);
  GstElement *comp = make_named ("compositor", "tv-compositor", error);
  GstElement *ocaps = capsfilter (caps_new ("video/x-raw,width=%d,height=%d,framerate=%d/1", c->width,
                                            c->height, c->framerate),
                                  error);
  GstElement *oconv = make_named ("videoconvert", NULL, error);
  GstElement *sink = make_named (c->video_sink ? c->video_sink : "autovideosink", "tv-video-sink", error);
  if (!sq || !sscale || !sconv || !comp || !ocaps || !oconv || !sink)
    return FALSE;
  g_object_set (sq, "max-size-buffers", 2, "max-size-bytes", 0, "max-size-time", (guint64) 0, NULL);
  gst_util_set_object_arg (G_OBJECT (sq), "leaky", "downstream");
  gst_util_set_object_arg (G_OBJECT (comp), "background", "black");
  if (!link_chain (bin, error, (GstElement *[]){ sq, sscale, sconv, NULL })
      || !link_chain (bin, error, (GstElement *[]){ comp, ocaps, oconv, sink, NULL })
      || !gst_element_link (tee, sq))
    return FALSE;
  GstPad *self = gst_element_request_pad_simple (comp, "sink_%u");
  int w = c->width / 4, h = c->height / 4;
  g_object_set (self, "xpos", c->width - w - 8, "ypos", c->height - h - 8, "width", w, "height", h,
                "zorder", 1, NULL);
  GstPad *ssrc = gst_element_get_static_pad (sconv, "src");
  gboolean ok = gst_pad_link (ssrc, self) == GST_PAD_LINK_OK;
  gst_object_unref (ssrc);
  gst_object_unref (self);
  if (!ok) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "cannot link the self view");
    return FALSE;
  }
  if (call->shared->window_title) {
    GstPad *cp = gst_element_get_static_pad (ocaps, "src");
    gst_pad_add_probe (cp, GST_PAD_PROBE_TYPE_BUFFER, push_title_once, shared_ref (call->shared),
                       shared_unref);
    gst_object_unref (cp);
  }
  return TRUE;
}

static gboolean
build_audio_send (TvMediaCall *call, GstBin *bin, GError **error)
{
  const TvMediaConfig *c = &call->cfg;
  GstElement *src;
  if (c->test_media && c->audio_file) {
    src = tv_media_clip_source_new ("tv-audio-source", c->audio_file, FALSE, 0, 0, 0, error);
  } else if (c->test_media) {
    src = make_named ("audiotestsrc", "tv-audio-source", error);
    if (src) {
      /* 20 ms buffers at 48 kHz: one Opus frame each. */
      g_object_set (src, "is-live", TRUE, "freq", 440.0, "volume", 0.2, "samplesperbuffer", 960, NULL);
      gst_util_set_object_arg (G_OBJECT (src), "wave", "sine");
    }
  } else {
    src = c->microphone ? device_element (c->microphone, "tv-audio-source", error)
                        : make_named ("autoaudiosrc", "tv-audio-source", error);
  }
  GstElement *conv = make_named ("audioconvert", NULL, error);
  GstElement *res = make_named ("audioresample", NULL, error);
  GstElement *vol = call->avolume = make_named ("volume", "tv-audio-mute", error);
  GstElement *raw = capsfilter (caps_new ("audio/x-raw,rate=48000,channels=1"), error);
  GstElement *q = make_named ("queue", NULL, error);
  GstElement *enc = call->aenc = make_named ("opusenc", NULL, error);
  GstElement *pay = make_named ("rtpopuspay", NULL, error);
  /* encoding-params=2 pinned: RFC 7587 says the rtpmap is always opus/48000/2.
   * Without it an offer made before the payloader's caps were negotiated (seen
   * on a re-pairing after a reconnect) said "OPUS/48000", and browsers then
   * reject the audio m-line (no common codec): the call came back silent. */
  GstElement *rtpcaps = capsfilter (
    caps_new ("application/x-rtp,media=audio,encoding-name=OPUS,encoding-params=(string)2,payload=%d,"
              "clock-rate=48000", AUDIO_PT),
    error);
  if (!src || !conv || !res || !vol || !raw || !q || !enc || !pay || !rtpcaps)
    return FALSE;
  g_object_set (q, "max-size-buffers", 4, "max-size-bytes", 0, "max-size-time", (guint64) 0, NULL);
  gst_util_set_object_arg (G_OBJECT (q), "leaky", "downstream");
  /* Complexity 9 as in WebRTC on desktops (libopus defaults to 10). In-band
   * FEC on, but coded only once loss is seen (adapt_opus_fec): the expected
   * loss starts at 0, as in WebRTC. */
  g_object_set (enc, "bitrate", 32000, "frame-size", 20, "inband-fec", TRUE, "packet-loss-percentage", 0,
                "complexity", OPUS_COMPLEXITY, NULL);
  gst_util_set_object_arg (G_OBJECT (enc), "audio-type", "voice");
  g_object_set (pay, "pt", AUDIO_PT, NULL);
  if (!link_chain (bin, error, (GstElement *[]){ src, conv, res, vol, raw, q, enc, pay, rtpcaps, NULL }))
    return FALSE;
  add_probe (rtpcaps, "src", GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, gate_audio_rtp, call->shared);
  GstWebRTCRTPTransceiver *trans = link_to_webrtc (rtpcaps, call->webrtc, error);
  if (!trans)
    return FALSE;
  gst_object_unref (trans);
  return TRUE;
}

/* A jitter buffer's first packets and fast start (faststart-min-packets).
 * rtpjitterbuffer checks for fast start only when a packet arrives, and only
 * while a packet, not an event, heads its queue. A new stream's sticky events
 * (stream-start, caps, segment) enter that queue just before its first
 * packet, and the jitter buffer's own thread pushes them out. When a whole
 * first frame (a burst of 10-30 packets) arrives before that thread has run,
 * which on a busy machine is common, no arrival finds a packet at the head
 * and the frame waits for the next packet (the next frame, up to 33 ms
 * later) or the whole latency. Measured: the first video frame waited
 * 14-29 ms in the jitter buffer in 4 of 8 calls (docs/BENCHMARKS.md). So the
 * first packet waits at the jitter buffer's input (at most
 * FIRST_PACKET_WAIT_MS, once per stream) until the events are out; the
 * second one then finds the first at the head and starts the stream. */
#define FIRST_PACKET_WAIT_MS 20

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean events_out; /* the jitter buffer pushed its leading segment event */
} JbStart; /* a GRcBox: one reference per pad probe */

static void
jb_start_clear (gpointer data)
{
  JbStart *js = data;
  g_mutex_clear (&js->lock);
  g_cond_clear (&js->cond);
}

static void
jb_start_release (gpointer data)
{
  g_rc_box_release_full (data, jb_start_clear);
}

/* Jitter buffer output, its thread: the segment is the last leading event. */
static GstPadProbeReturn
jb_start_event_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  JbStart *js = data;
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_SEGMENT)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&js->lock);
  js->events_out = TRUE;
  g_cond_broadcast (&js->cond);
  g_mutex_unlock (&js->lock);
  return GST_PAD_PROBE_REMOVE;
}

/* Jitter buffer input, the receiving thread: holds the first packet only. */
static GstPadProbeReturn
jb_start_first_packet (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  JbStart *js = data;
  gint64 until = g_get_monotonic_time () + FIRST_PACKET_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&js->lock);
  while (!js->events_out)
    if (!g_cond_wait_until (&js->cond, &js->lock, until))
      break;
  g_mutex_unlock (&js->lock);
  return GST_PAD_PROBE_REMOVE;
}

/* "new-jitterbuffer" (streaming thread, before the stream's first event). */
static void
on_new_jitterbuffer_start (GstElement *rtpbin, GstElement *jitterbuffer, guint session, guint ssrc,
                           gpointer user_data)
{
  GstPad *sink = gst_element_get_static_pad (jitterbuffer, "sink");
  GstPad *src = gst_element_get_static_pad (jitterbuffer, "src");
  if (sink && src) {
    JbStart *js = g_rc_box_new0 (JbStart);
    g_mutex_init (&js->lock);
    g_cond_init (&js->cond);
    gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, jb_start_event_out, g_rc_box_acquire (js),
                       jb_start_release);
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, jb_start_first_packet,
                       js, jb_start_release);
  }
  g_clear_object (&sink);
  g_clear_object (&src);
}

/* A jitter buffer asks upstream for a lost packet (streaming thread). The
 * first request for a packet means the link loses packets: the main thread
 * hears of it (EV_LOSS, at most once per LOSS_POST_INTERVAL_US) and raises
 * the latency at once. The audio measure (measure_audio_loss) needs two
 * stats snapshots and half a second of audio first: with 100 ms each way
 * and 5 % loss the latency stayed at 50 ms for the first 1.2 s of video, and
 * every packet lost then cost its frames up to a keyframe (one freeze of
 * 1.2 s at the start, docs/BENCHMARKS.md). */
static GstPadProbeReturn
on_rtx_request (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  (void) pad;
  TvMediaShared *sh = data;
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) != GST_EVENT_CUSTOM_UPSTREAM || !gst_event_has_name (ev, "GstRTPRetransmissionRequest")
      || shared_closing (sh))
    return GST_PAD_PROBE_OK;
  guint retry = 0;
  if (gst_structure_get_uint (gst_event_get_structure (ev), "retry", &retry) && retry > 0)
    return GST_PAD_PROBE_OK; /* a repeat: the first one told already */
  gint64 now = g_get_monotonic_time ();
  gboolean post = FALSE;
  g_mutex_lock (&sh->lock);
  if (sh->loss_posted_us == 0 || now - sh->loss_posted_us >= LOSS_POST_INTERVAL_US) {
    sh->loss_posted_us = now;
    post = TRUE;
  }
  g_mutex_unlock (&sh->lock);
  if (post)
    post_event (sh, EV_LOSS, NULL, 0);
  return GST_PAD_PROBE_OK;
}

/* webrtcbin's internal rtpbin made a jitter buffer for a new remote SSRC
 * (streaming thread). webrtcbin 1.22 sets its do-retransmission from the
 * transceiver it finds for the SSRC. In our calls that lookup fails (the
 * peer's a=ssrc lines name other SSRCs than its packets carry), and in the
 * 5 % loss bench no jitter buffer ever asked for a retransmission: every
 * lost packet became a lost-event and the VP8 depayloader waited for the
 * next keyframe. Our handler runs after webrtcbin's, so it wins: NACK
 * on every remote stream. Audio NACKs cost a few RTCP bytes and are ignored
 * by the sender (its RTX map has video only); Opus FEC covers audio. */
static void
on_new_jitterbuffer (GstElement *rtpbin, GstElement *jitterbuffer, guint session, guint ssrc, gpointer user_data)
{
  (void) rtpbin;
  TvMediaShared *sh = user_data;
  gboolean had = FALSE;
  g_object_get (jitterbuffer, "do-retransmission", &had, NULL);
  g_debug ("jitter buffer for session %u ssrc %u: do-retransmission was %d, now on", session, ssrc, had);
  g_object_set (jitterbuffer, "do-retransmission", TRUE, NULL);
  /* Fast start: the first packets leave as soon as a few arrive in sequence
   * instead of after the whole latency (50 ms of every call's time to the
   * first frame, docs/BENCHMARKS.md); gaps later still wait the latency. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (jitterbuffer), "faststart-min-packets"))
    g_object_set (jitterbuffer, "faststart-min-packets", FASTSTART_MIN_PACKETS, NULL);
  /* Ask for a lost packet as soon as a later one shows the gap, and only
   * then. The automatic delay is half the packet spacing, for video half a
   * frame (~16 ms of the 50 ms the buffer waits): most losses that still
   * ended as lost-events at 5 % loss had their retransmission arrive a few
   * ms after the buffer gave up (docs/BENCHMARKS.md). Without a delay the
   * "next seqnum" guess (a NACK for a packet not yet seen at its estimated
   * arrival time) fired on every late frame and tripled the NACKs, so it is
   * off: like Chrome's NACK module, only a gap counts. A reordered packet
   * costs one needless retransmission. */
  g_object_set (jitterbuffer, "rtx-delay", RTX_DELAY_MS, "rtx-next-seqnum", FALSE, NULL);
  /* When neither the retransmission nor a second packet came, ask again
   * after the measured retransmission round trip (plus twice the jitter),
   * but not sooner than this. The automatic floor is the packet spacing (a
   * frame, 33 ms): one NACK or its retransmission lost (5 % each at 5 % loss)
   * left no time for a second try within 50 ms. While the link loses packets
   * adapt_latency sets the interval itself (tv_media_rtx_retry_ms). Any
   * request means a lost packet: on_rtx_request tells the main thread. */
  g_object_set (jitterbuffer, "rtx-min-retry-timeout", RTX_MIN_RETRY_MS, NULL);
  GstPad *sink = gst_element_get_static_pad (jitterbuffer, "sink");
  if (sink) {
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_rtx_request, shared_ref (sh), shared_unref);
    StaleWatch *w = g_new0 (StaleWatch, 1);
    w->sh = shared_ref (sh);
    gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, stale_watch, w, stale_watch_free);
    gst_object_unref (sink);
  }
}

/* A new rtpsession inside webrtcbin's rtpbin (any thread). Under RTP/SAVPF
 * rtpsession sends feedback (NACK, PLI) early, but at most one early packet
 * per RTCP interval T_rr, which it derives from the RTCP bandwidth budget
 * (packet size x members / budget); a NACK that cannot go early waits for
 * the next report and is dropped there if its deadline (what is left of
 * the jitter buffer's latency) has passed. With the default budget (5 % of
 * an estimated session bandwidth) and rtcp-min-interval (5 s, used as
 * T_rr_interval) the wait was 0.5-6.8 s (measured). With 100 kbit/s it was
 * ~50 ms: NACKs waited 10 ms (median) to 45 ms (p90) and ~10 % were dropped
 * unsent. A 1 Mbit/s budget makes T_rr ~5 ms, so every NACK leaves within
 * a few ms. It is a budget, not traffic: regular reports still come every
 * 50-150 ms (rtcp-min-interval, the AVPF T_rr_interval), early packets only
 * when a packet was lost or a keyframe is wanted. */
#define RTCP_BITS_PER_S 1000000
#define RTCP_MIN_INTERVAL_NS (100 * GST_MSECOND)
static void
on_rtpbin_element_added (GstBin *rtpbin, GstElement *element, gpointer user_data)
{
  (void) rtpbin;
  (void) user_data;
  GstElementFactory *f = gst_element_get_factory (element);
  if (!f || g_strcmp0 (GST_OBJECT_NAME (f), "rtpsession") != 0)
    return;
  g_object_set (element, "rtcp-fraction", (gdouble) RTCP_BITS_PER_S, "rtcp-rs-bandwidth", RTCP_BITS_PER_S / 2,
                "rtcp-rr-bandwidth", RTCP_BITS_PER_S / 2, "rtcp-min-interval", (guint64) RTCP_MIN_INTERVAL_NS, NULL);
}

static gboolean
build_pipeline (TvMediaCall *call, GError **error)
{
  TvMediaShared *sh = call->shared;
  const TvMediaConfig *c = &call->cfg;
  call->pipeline = gst_pipeline_new ("tv-call");
  GstBin *bin = GST_BIN (call->pipeline);

  call->webrtc = make_named ("webrtcbin", "tv-webrtc", error);
  if (!call->webrtc)
    return FALSE;
  gst_bin_add (bin, call->webrtc);
  g_object_set (call->webrtc, "latency", c->latency_ms, NULL);
  {
    GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (call->webrtc), "rtpbin");
    if (rtpbin) {
      /* RTP/SAVPF, as the SDP says: lets rtpsession send NACK and PLI as
       * early feedback right away. Under the default AVP profile they waited
       * for the next regular RTCP report (measured: NACKs reached the sender
       * 0.7-1.8 s late, long after the jitter buffer gave the packet up). */
      gst_util_set_object_arg (G_OBJECT (rtpbin), "rtp-profile", "savpf");
      g_signal_connect_data (rtpbin, "new-jitterbuffer", G_CALLBACK (on_new_jitterbuffer), shared_ref (sh),
                             shared_unref_closure, 0);
      g_signal_connect (rtpbin, "new-jitterbuffer", G_CALLBACK (on_new_jitterbuffer_start), NULL);
      g_signal_connect (rtpbin, "element-added", G_CALLBACK (on_rtpbin_element_added), NULL);
      gst_object_unref (rtpbin);
    } else {
      g_warning ("webrtcbin has no internal rtpbin: NACK not forced on");
    }
  }
  gst_util_set_object_arg (G_OBJECT (call->webrtc), "bundle-policy", "max-bundle");
  if (c->stun_server)
    g_object_set (call->webrtc, "stun-server", c->stun_server, NULL);
  if (c->turn_server)
    g_object_set (call->webrtc, "turn-server", c->turn_server, NULL);

  GObject *ice = NULL;
  g_object_get (call->webrtc, "ice-agent", &ice, NULL);
  if (!ice) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "webrtcbin has no ICE agent");
    return FALSE;
  }
  /* libnice asks the LAN router for UPnP port mappings by default: SSDP
   * multicast on every interface and a slower start. STUN/TURN is our way
   * through NATs, so switch it off. */
  GObject *agent = NULL;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent"))
    g_object_get (ice, "agent", &agent, NULL);
  if (agent) {
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (agent), "upnp"))
      g_object_set (agent, "upnp", FALSE, NULL);
    /* libnice sends one connectivity check per Ta (default 20 ms), and its
     * regular nomination (webrtcbin's choice) needs three ticks before the
     * pair is selected: first check, the other pairs, then the check with
     * USE-CANDIDATE. Measured on loopback: 62 ms from the remote candidates
     * to the selected pair, nearly all of it waiting for ticks. RFC 8445
     * allows Ta down to 5 ms; with our handful of candidates that is ~30
     * small packets per second while checking. */
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (agent), "stun-pacing-timer"))
      g_object_set (agent, "stun-pacing-timer", ICE_PACING_MS, NULL);
    g_object_unref (agent);
  }
  /* libnice skips loopback (and veth/docker) interfaces when it gathers; an
   * explicit address list makes ICE use exactly these, and must be in place
   * before negotiation starts. */
  if (c->local_addresses) {
    for (guint i = 0; c->local_addresses[i]; i++) {
      gboolean ok = FALSE;
      if (g_hostname_is_ip_address (c->local_addresses[i]))
        g_signal_emit_by_name (ice, "add-local-ip-address", c->local_addresses[i], &ok);
      if (!ok) {
        g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "cannot use local address '%s' for ICE",
                     c->local_addresses[i]);
        g_object_unref (ice);
        return FALSE;
      }
    }
  }
  g_object_unref (ice);

  g_signal_connect_data (call->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate), shared_ref (sh),
                         shared_unref_closure, 0);
  g_signal_connect_data (call->webrtc, "notify::connection-state", G_CALLBACK (on_connection_state),
                         shared_ref (sh), shared_unref_closure, 0);
  g_signal_connect_data (call->webrtc, "notify::ice-connection-state", G_CALLBACK (on_ice_connection_state),
                         shared_ref (sh), shared_unref_closure, 0);
  g_signal_connect_data (call->webrtc, "pad-added", G_CALLBACK (on_pad_added), shared_ref (sh),
                         shared_unref_closure, 0);

  /* Video first: m-line 0 is video, m-line 1 audio. */
  if (!build_video_send (call, bin, error) || !build_audio_send (call, bin, error))
    return FALSE;

  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (call->pipeline));
  call->bus_source = gst_bus_create_watch (bus);
  g_source_set_callback (call->bus_source, G_SOURCE_FUNC (on_bus_message), shared_ref (sh), shared_unref);
  g_source_attach (call->bus_source, sh->context);
  gst_object_unref (bus);
  return TRUE;
}

/* ---------------------------------------------------------------------------
 * Public API
 */

TvMediaCall *
tv_media_call_new (const TvMediaConfig *cfg, const TvMediaCallbacks *callbacks, gpointer user_data,
                   GError **error)
{
  g_return_val_if_fail (cfg != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!tv_media_check_plugins (cfg, error))
    return NULL;
  if (!cfg->test_media) {
    if (!have_device ("Video/Source")) {
      g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE,
                   "no camera found (use --test-media for a synthetic picture)");
      return NULL;
    }
    if (!have_device ("Audio/Source")) {
      g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE,
                   "no microphone found (use --test-media for a synthetic tone)");
      return NULL;
    }
  }

  /* Without a display autovideosink falls back to sinks such as
   * dfbvideosink, which crashed the process in a test here. */
  if (!cfg->headless && !g_getenv ("DISPLAY") && !g_getenv ("WAYLAND_DISPLAY")) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE,
                 "no display for the call window (DISPLAY/WAYLAND_DISPLAY unset; use headless mode)");
    return NULL;
  }

  TvMediaCall *call = g_new0 (TvMediaCall, 1);
  call->cfg = *cfg;
  call->stun_server = g_strdup (cfg->stun_server);
  call->turn_server = g_strdup (cfg->turn_server);
  call->window_title = g_strdup (cfg->window_title);
  call->video_sink = g_strdup (cfg->video_sink);
  call->video_file = g_strdup (cfg->video_file);
  call->audio_file = g_strdup (cfg->audio_file);
  call->local_addresses = g_strdupv ((char **) cfg->local_addresses);
  call->cfg.stun_server = call->stun_server;
  call->cfg.turn_server = call->turn_server;
  call->cfg.window_title = call->window_title;
  call->cfg.video_sink = call->video_sink;
  call->cfg.video_file = call->video_file;
  call->cfg.audio_file = call->audio_file;
  call->cfg.local_addresses = (const char *const *) call->local_addresses;
  if (call->cfg.width <= 0 || call->cfg.height <= 0) {
    call->cfg.width = DEFAULT_WIDTH;
    call->cfg.height = DEFAULT_HEIGHT;
  }
  if (call->cfg.framerate <= 0)
    call->cfg.framerate = DEFAULT_FRAMERATE;
  if (call->cfg.video_bitrate_kbps == 0)
    call->cfg.video_bitrate_kbps = DEFAULT_VIDEO_KBPS;
  if (call->cfg.latency_ms == 0)
    call->cfg.latency_ms = DEFAULT_LATENCY_MS;
  if (call->cfg.stall_disconnect_ms == 0)
    call->cfg.stall_disconnect_ms = DEFAULT_STALL_DISCONNECT_MS;
  if (call->cfg.stall_fail_ms == 0)
    call->cfg.stall_fail_ms = DEFAULT_STALL_FAIL_MS;
  call->cfg.stall_fail_ms = MAX (call->cfg.stall_fail_ms, call->cfg.stall_disconnect_ms);
  if (callbacks)
    call->cb = *callbacks;
  call->user_data = user_data;
  call->pending = g_ptr_array_new_with_free_func (pending_free);
  call->state = TV_MEDIA_STATE_NEW;
  call->pc_state = TV_MEDIA_STATE_NEW;
  call->snap.rtt_ms = -1;

  TvMediaShared *sh = g_new0 (TvMediaShared, 1);
  g_atomic_ref_count_init (&sh->ref);
  g_mutex_init (&sh->lock);
  g_cond_init (&sh->media_ready);
  g_cond_init (&sh->gate_cond);
  sh->context = g_main_context_ref_thread_default ();
  sh->call = call;
  sh->headless = call->cfg.headless;
  sh->speaker = call->cfg.speaker ? gst_object_ref (call->cfg.speaker) : NULL;
  sh->width = call->cfg.width;
  sh->height = call->cfg.height;
  sh->window_title = g_strdup (call->cfg.window_title);
  call->shared = sh;

  if (!build_pipeline (call, error)) {
    if (error && !*error)
      g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "cannot build the call pipeline");
    tv_media_call_free (call);
    return NULL;
  }
  return call;
}

gboolean
tv_media_call_prepare (TvMediaCall *call, GError **error)
{
  g_return_val_if_fail (call != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (call->failed) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "the call pipeline failed before the call started");
    return FALSE;
  }
  if (call->prepared)
    return TRUE;
  call->prepared = TRUE;
  if (gst_element_set_state (call->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* The reason is on the bus; the watch has not seen it yet. */
    GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (call->pipeline));
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    TvMediaErrorCode code = TV_MEDIA_ERR_PIPELINE;
    char *why = NULL;
    if (msg) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      code = classify_error (msg, err);
      why = g_strdup_printf ("%s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
      g_error_free (err);
      gst_message_unref (msg);
    }
    gst_object_unref (bus);
    gst_element_set_state (call->pipeline, GST_STATE_NULL);
    call->failed = TRUE;
    g_set_error (error, TV_MEDIA_ERROR, code, "cannot start the call pipeline%s%s", why ? ": " : "",
                 why ? why : "");
    g_free (why);
    return FALSE;
  }
  /* From now on a keyframe waits at the send gate (gate_video_rtp). */
  gate_raise (call->shared, GATE_ARMED);
  return TRUE;
}

gboolean
tv_media_call_wait_ready (TvMediaCall *call, guint timeout_ms)
{
  g_return_val_if_fail (call != NULL, FALSE);
  TvMediaShared *sh = call->shared;
  gint64 until = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean ready;

  if (!call->prepared || call->failed)
    return FALSE;
  g_mutex_lock (&sh->lock);
  while (sh->video_bytes_sent == 0)
    if (!g_cond_wait_until (&sh->media_ready, &sh->lock, until))
      break;
  ready = sh->video_bytes_sent > 0;
  g_mutex_unlock (&sh->lock);
  return ready;
}

gboolean
tv_media_call_start (TvMediaCall *call, gboolean offerer, GError **error)
{
  g_return_val_if_fail (call != NULL, FALSE);
  g_return_val_if_fail (!call->started, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Negotiation starts now: the setup-time clock too, even when the pipeline
   * has been PLAYING since tv_media_call_prepare(). */
  call->snap.started_us = g_get_monotonic_time ();
  if (!tv_media_call_prepare (call, error))
    return FALSE;
  call->started = TRUE;
  call->offerer = offerer;
  /* A keyframe has been waiting at the send gate since
   * tv_media_call_prepare (gate_video_rtp). */

  call->health_source = g_timeout_source_new (HEALTH_INTERVAL_MS);
  g_source_set_callback (call->health_source, on_health_timer, shared_ref (call->shared), shared_unref);
  g_source_attach (call->health_source, call->shared->context);

  call->stats_source = g_timeout_source_new (STATS_INTERVAL_MS);
  g_source_set_callback (call->stats_source, on_stats_timer, shared_ref (call->shared), shared_unref);
  g_source_attach (call->stats_source, call->shared->context);

  /* The offer is created here, exactly once per call, rather than on
   * on-negotiation-needed (which webrtcbin may emit more than once). */
  if (offerer) {
    call->neg = NEG_CREATING_OFFER;
    GstPromise *p = gst_promise_new_with_change_func (
      on_description_created, promise_ctx_new (call->shared, call->webrtc, TRUE), promise_ctx_free);
    g_signal_emit_by_name (call->webrtc, "create-offer", NULL, p);
    gst_promise_unref (p);
  }
  return TRUE;
}

static void
emit_candidate (TvMediaCall *call, guint mline, const char *candidate)
{
  /* webrtcbin wants the attribute value, without "a=". */
  if (g_str_has_prefix (candidate, "a="))
    candidate += 2;
  g_signal_emit_by_name (call->webrtc, "add-ice-candidate", mline, candidate);
}

gboolean
tv_media_call_set_remote_sdp (TvMediaCall *call, const char *type, const char *sdp, GError **error)
{
  g_return_val_if_fail (call != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gboolean is_offer = g_strcmp0 (type, "offer") == 0;
  gboolean is_answer = g_strcmp0 (type, "answer") == 0;
  if (!is_offer && !is_answer) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_BAD_SDP, "bad SDP: type must be offer or answer");
    return FALSE;
  }
  if (!call->started || call->failed) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_WRONG_STATE, "the call is %s",
                 call->failed ? "failed" : "not started");
    return FALSE;
  }
  if (is_answer && call->neg != NEG_HAVE_LOCAL_OFFER) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_WRONG_STATE, "answer received but no offer is pending");
    return FALSE;
  }
  if (is_offer && (call->offerer || (call->neg != NEG_IDLE && call->neg != NEG_STABLE))) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_WRONG_STATE, "offer received %s",
                 call->offerer ? "by the offering side" : "while a negotiation is in progress");
    return FALSE;
  }

  GstSDPMessage *msg = tv_media_sdp_validate (type, sdp, is_answer ? call->local_mlines : 0, error);
  if (!msg)
    return FALSE;
  g_debug ("remote %s:\n%s", type, sdp);
  guint mlines = gst_sdp_message_medias_len (msg);
  GstWebRTCSessionDescription *desc =
    gst_webrtc_session_description_new (is_offer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, msg);
  GstPromise *p = gst_promise_new_with_change_func (
    on_remote_description_set, promise_ctx_new (call->shared, call->webrtc, is_offer), promise_ctx_free);
  g_signal_emit_by_name (call->webrtc, "set-remote-description", desc, p);
  gst_promise_unref (p);
  gst_webrtc_session_description_free (desc);

  call->neg = is_offer ? NEG_ANSWERING : NEG_STABLE;
  call->remote_mlines = mlines;
  call->remote_set = TRUE;
  /* webrtcbin runs queued operations in order: these follow the description. */
  for (guint i = 0; i < call->pending->len; i++) {
    PendingCandidate *pc = g_ptr_array_index (call->pending, i);
    if (pc->mline < mlines)
      emit_candidate (call, pc->mline, pc->candidate);
    else
      g_message ("dropping a queued candidate for m-line %u (the description has %u)", pc->mline, mlines);
  }
  g_ptr_array_set_size (call->pending, 0);
  return TRUE;
}

gboolean
tv_media_call_add_remote_candidate (TvMediaCall *call, guint mline_index, const char *candidate,
                                    GError **error)
{
  g_return_val_if_fail (call != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* End of candidates: libnice needs no marker, it keeps checking what it has. */
  if (!candidate || !*candidate)
    return TRUE;
  if (!tv_media_candidate_validate (mline_index, candidate, error))
    return FALSE;
  if (call->remote_set && mline_index >= call->remote_mlines) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_BAD_CANDIDATE,
                 "bad ICE candidate: sdpMLineIndex %u but the description has %u m-lines", mline_index,
                 call->remote_mlines);
    return FALSE;
  }
  if (call->remote_set) {
    emit_candidate (call, mline_index, candidate);
    return TRUE;
  }
  if (call->pending->len >= MAX_PENDING_CANDIDATES) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_BAD_CANDIDATE,
                 "bad ICE candidate: more than %d before the remote description", MAX_PENDING_CANDIDATES);
    return FALSE;
  }
  PendingCandidate *pc = g_new0 (PendingCandidate, 1);
  pc->mline = mline_index;
  pc->candidate = g_strdup (candidate);
  g_ptr_array_add (call->pending, pc);
  return TRUE;
}

void
tv_media_call_set_audio_muted (TvMediaCall *call, gboolean muted)
{
  g_return_if_fail (call != NULL);
  g_object_set (call->avolume, "mute", muted, NULL);
}

void
tv_media_call_set_video_muted (TvMediaCall *call, gboolean muted)
{
  g_return_if_fail (call != NULL);
  /* No contrast, no colour, lowest brightness: black frames, same rate, so
   * the peer's decoder and statistics keep going. Defaults = passthrough. */
  g_object_set (call->vbalance, "contrast", muted ? 0.0 : 1.0, "saturation", muted ? 0.0 : 1.0,
                "brightness", muted ? -1.0 : 0.0, NULL);
}

void
tv_media_call_get_stats (TvMediaCall *call, TvMediaStats *out)
{
  g_return_if_fail (call != NULL && out != NULL);
  *out = call->snap;
  g_mutex_lock (&call->shared->lock);
  out->video_frames_decoded = call->shared->video_frames;
  out->audio_buffers_decoded = call->shared->audio_buffers;
  out->video_frames_sent = call->shared->frames_sent;
  out->first_remote_frame_us = call->shared->first_frame_us;
  out->last_remote_frame_us = call->shared->last_frame_us;
  out->video_freezes = call->shared->freezes;
  out->video_max_gap_us = call->shared->max_gap_us;
  out->video_max_gap_end_us = call->shared->max_gap_end_us;
  out->video_bytes_sent = call->shared->video_bytes_sent;
  out->remote_audio_peak = call->shared->audio_peak;
  out->packets_held_before_dtls = call->shared->held_packets;
  out->video_stale_packets = call->shared->stale_later;
  for (guint i = 0; i < call->shared->stale_kept; i++)
    out->video_stale_packets += call->shared->stale_lag_us[i] > call->shared->stale_min_lag_us + STALE_LAG_US;
  g_mutex_unlock (&call->shared->lock);
}

gpointer
tv_media_call_get_video_sink (TvMediaCall *call)
{
  g_return_val_if_fail (call != NULL, NULL);
  if (call->cfg.headless || !call->pipeline)
    return NULL;
  return gst_bin_get_by_name (GST_BIN (call->pipeline), "tv-video-sink");
}

TvMediaState
tv_media_call_get_state (TvMediaCall *call)
{
  g_return_val_if_fail (call != NULL, TV_MEDIA_STATE_CLOSED);
  return call->state;
}

void
tv_media_call_free (TvMediaCall *call)
{
  if (!call)
    return;
  TvMediaShared *sh = call->shared;
  /* From here on queued idles find no call, and streaming threads stop acting. */
  sh->call = NULL;
  g_atomic_int_set (&sh->closing, 1);
  g_mutex_lock (&sh->lock);
  g_cond_broadcast (&sh->gate_cond); /* a keyframe held at the gate */
  g_mutex_unlock (&sh->lock);
  if (call->bus_source) {
    g_source_destroy (call->bus_source);
    g_clear_pointer (&call->bus_source, g_source_unref);
  }
  if (call->stats_source) {
    g_source_destroy (call->stats_source);
    g_clear_pointer (&call->stats_source, g_source_unref);
  }
  if (call->health_source) {
    g_source_destroy (call->health_source);
    g_clear_pointer (&call->health_source, g_source_unref);
  }
  if (call->rtt_poll_source) {
    g_source_destroy (call->rtt_poll_source);
    g_clear_pointer (&call->rtt_poll_source, g_source_unref);
  }
  /* Wait for a receive branch being built right now (see on_pad_added). */
  g_mutex_lock (&sh->lock);
  g_mutex_unlock (&sh->lock);
  if (call->pipeline) {
    if (call->webrtc)
      g_signal_handlers_disconnect_by_data (call->webrtc, sh);
    gst_element_set_state (call->pipeline, GST_STATE_NULL);
    gst_object_unref (call->pipeline);
  }
  g_ptr_array_free (call->pending, TRUE);
  g_free (call->stun_server);
  g_free (call->turn_server);
  g_free (call->window_title);
  g_free (call->video_sink);
  g_free (call->video_file);
  g_free (call->audio_file);
  g_strfreev (call->local_addresses);
  g_free (call);
  shared_unref (sh);
}
