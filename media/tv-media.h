/* tv-media.h — one WebRTC call: a GStreamer pipeline around webrtcbin.
 *
 * VP8 video + Opus audio both ways over DTLS-SRTP, one bundled transport,
 * trickle ICE through libnice, optional STUN/TURN. The caller (the client, or a
 * test) carries SDP and candidates over signaling; this module never does I/O
 * of its own besides the media.
 *
 * Threading: webrtcbin signals fire on GStreamer threads; this module hops to
 * the GMainContext that was thread-default when tv_media_call_new() ran, and
 * calls every TvMediaCallbacks function there. All tv_media_call_* functions
 * must be called from that context's thread.
 *
 * Negotiation always reads the promise reply and checks it (webrtcbin 1.22
 * crashes on a NULL description); remote SDP is parsed and validated with
 * gst_sdp_message before it reaches webrtcbin.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_MEDIA_ERROR (tv_media_error_quark ())
GQuark tv_media_error_quark (void);

typedef enum {
  TV_MEDIA_ERR_MISSING_PLUGIN, /* message names the element and the Debian package */
  TV_MEDIA_ERR_PIPELINE,       /* pipeline could not be built or started, or posted an error */
  TV_MEDIA_ERR_DEVICE,         /* camera/microphone missing or busy */
  TV_MEDIA_ERR_BAD_SDP,        /* remote SDP failed to parse or lacks what we need */
  TV_MEDIA_ERR_BAD_CANDIDATE,  /* remote candidate malformed */
  TV_MEDIA_ERR_NEGOTIATION,    /* webrtcbin refused a description (promise error) */
  TV_MEDIA_ERR_WRONG_STATE,    /* e.g. answer while no offer is outstanding */
  TV_MEDIA_ERR_ICE_FAILED,     /* ICE/DTLS connection failed */
} TvMediaErrorCode;

typedef enum {
  TV_MEDIA_STATE_NEW,
  TV_MEDIA_STATE_CONNECTING,
  TV_MEDIA_STATE_CONNECTED,    /* peer connection connected (ICE + DTLS) */
  TV_MEDIA_STATE_DISCONNECTED, /* temporarily lost, may come back */
  TV_MEDIA_STATE_FAILED,
  TV_MEDIA_STATE_CLOSED,
} TvMediaState;

/* Returns: (transfer none) "new", "connecting", "connected", ... */
const char *tv_media_state_to_string (TvMediaState state);

typedef struct {
  gboolean test_media;          /* videotestsrc + audiotestsrc instead of camera/microphone */
  gboolean headless;            /* decode into counting fakesinks; no window, no speaker */
  /* With test_media: a YUV4MPEG clip (video_file) and a WAV file (audio_file)
   * played in a loop from memory instead of the test pattern / tone, NULL =
   * pattern / tone. Used by `make bench` to give Chromium and our clients the
   * same picture and sound. A file that cannot be decoded fails
   * tv_media_call_new() with TV_MEDIA_ERR_DEVICE naming it. */
  const char *video_file;
  const char *audio_file;
  const char *stun_server;      /* "stun://host:port" or NULL */
  const char *turn_server;      /* "turn://user:pass@host:port" or NULL */
  const char *const *local_addresses; /* NULL-terminated; when set, ICE uses only these
                                         (e.g. {"127.0.0.1", NULL} for loopback tests) */
  int width, height, framerate; /* 0 = defaults 640x480@30 */
  guint video_bitrate_kbps;     /* 0 = default */
  guint latency_ms;             /* webrtcbin jitter-buffer latency; 0 = default (50 ms).
                                 * Two round trips measured from RTCP are added on top
                                 * while the link loses packets and for 60 s after
                                 * (at most 1,000 ms in all). */
  const char *window_title;     /* non-headless: title of the call window, or NULL */
  /* Devices picked in a pre-call check (GstDevice *, borrowed: must outlive
   * tv_media_call_new), or NULL for autovideosrc / autoaudiosrc /
   * autoaudiosink. Ignored with test_media (sources) or headless (speaker). */
  gpointer camera, microphone, speaker;
  const char *video_sink;       /* non-headless: element factory showing the call picture
                                   (e.g. "gtksink", whose "widget" a GUI packs), NULL = autovideosink */
  /* Stall watch (webrtcbin alone never notices a vanished peer): while
   * connected, no remote RTP for stall_disconnect_ms -> state DISCONNECTED
   * (back to CONNECTED when media returns); for stall_fail_ms -> FAILED and
   * the error callback with ICE_FAILED. 0 = defaults 2000 / 30000 ms. */
  guint stall_disconnect_ms;
  guint stall_fail_ms;
} TvMediaConfig;

typedef struct _TvMediaCall TvMediaCall;

typedef struct {
  /* Local description set and ready to send: @type "offer" or "answer". */
  void (*local_sdp) (TvMediaCall *call, const char *type, const char *sdp, gpointer user_data);
  /* Local ICE candidate to send; mline_index as in SDP. */
  void (*local_candidate) (TvMediaCall *call, guint mline_index, const char *candidate, gpointer user_data);
  /* Peer connection state changed. */
  void (*state_changed) (TvMediaCall *call, TvMediaState state, gpointer user_data);
  /* A fatal error (pipeline error, negotiation failure): the call is unusable. */
  void (*error) (TvMediaCall *call, const GError *error, gpointer user_data);
  /* First remote video frame decoded (for setup-time measurements). May be NULL. */
  void (*first_remote_frame) (TvMediaCall *call, gpointer user_data);
} TvMediaCallbacks;

/* tv_media_check_plugins:
 * Checks every GStreamer element the call needs (for @cfg's mode).
 * Returns: TRUE, or FALSE with TV_MEDIA_ERR_MISSING_PLUGIN naming the element
 * and the Debian package that provides it. Calls gst_init if needed. */
gboolean tv_media_check_plugins (const TvMediaConfig *cfg, GError **error);

/* tv_media_prewarm:
 * Starts, once per process, a background thread that creates GStreamer's
 * DTLS certificate (an RSA key: 0.1-0.6 s of CPU) and loads the plugins that
 * webrtcbin only loads while negotiating (libsrtp's start-up: 30-40 ms), so
 * that the first call does not wait for them while creating its offer/answer.
 * tv_media_check_plugins()
 * and tv_media_call_new() call it; calling it at start-up, before connecting
 * to the server, takes it off the call-setup path entirely. Thread-safe;
 * calls gst_init if needed; never fails (a failure shows up later as a
 * pipeline error). exit() stays safe while it runs: an atexit handler joins
 * the thread before OpenSSL's own cleanup (which crashed ~1 exit in 8 when it
 * ran under the key generation). */
void tv_media_prewarm (void);

/* tv_media_prewarm_wait:
 * Starts the prewarm if needed and blocks until the certificate exists and
 * those plugins are loaded, or @timeout_ms passed. A client calls it before it connects to the server, so
 * that "paired" finds its media ready: a cold certificate on the call path
 * cost 0.3-0.6 s of every first call's setup (docs/BENCHMARKS.md).
 * Returns: TRUE when the prewarm has finished (or could not start: nothing
 * to wait for), FALSE on timeout (the call then simply waits for it later). */
gboolean tv_media_prewarm_wait (guint timeout_ms);

/* tv_media_call_new:
 * Builds (but does not start) the pipeline. @cfg is copied; @callbacks is
 * copied; @user_data is passed to them.
 * Returns: (transfer full) the call, or NULL with @error (MISSING_PLUGIN, PIPELINE, DEVICE). */
TvMediaCall *tv_media_call_new (const TvMediaConfig *cfg, const TvMediaCallbacks *callbacks,
                                gpointer user_data, GError **error);

/* tv_media_call_prepare:
 * Sets the pipeline PLAYING ahead of the call (sources, encoders, webrtcbin
 * running; nothing is sent before negotiation), so that tv_media_call_start()
 * only negotiates. A client calls it before it joins and while it waits for
 * the other party: both parties starting their pipelines on "paired" delayed
 * the offer by ~80 ms and the answer by ~130 ms (docs/BENCHMARKS.md).
 * Before negotiation webrtcbin blocks its inputs, so nothing is encoded or
 * sent. Idempotent; a call whose pipeline already failed gives PIPELINE.
 * Returns: FALSE with @error (PIPELINE, DEVICE) if the pipeline cannot start. */
gboolean tv_media_call_prepare (TvMediaCall *call, GError **error);

/* tv_media_call_wait_ready:
 * Blocks until a prepared call's media is flowing up to webrtcbin (its first
 * video frame encoded and packetised; webrtcbin holds it until negotiation),
 * or @timeout_ms passed. A client calls it after tv_media_call_prepare() and
 * before it joins, so that the camera's and encoder's start-up (the first
 * keyframe: ~10-30 ms of CPU right after start) is over when "paired" comes,
 * as a browser's getUserMedia() stream is live before its call starts.
 * Measured: a patient joining at once had its pipeline still starting during
 * the negotiation on the same 2 cores (docs/BENCHMARKS.md).
 * Returns: TRUE when ready; FALSE on timeout, or when the call was not
 * prepared or has failed (the call stays usable either way). */
gboolean tv_media_call_wait_ready (TvMediaCall *call, guint timeout_ms);

/* tv_media_call_start:
 * Sets the pipeline PLAYING (tv_media_call_prepare(), if not done yet) and
 * starts negotiating; stats' started_us is this moment. With @offerer TRUE the call creates the offer
 * (delivered through local_sdp); otherwise it waits for a remote offer.
 * Returns: FALSE with @error (PIPELINE, DEVICE) if the pipeline cannot start. */
gboolean tv_media_call_start (TvMediaCall *call, gboolean offerer, GError **error);

/* tv_media_call_set_remote_sdp:
 * @type "offer" or "answer". Parses and validates @sdp first (BAD_SDP: not
 * parseable, no audio/video m-line, no ICE credentials or DTLS fingerprint);
 * WRONG_STATE for an answer without a pending local offer or an offer on the
 * offerer side. For an offer, the answer follows through local_sdp.
 * Returns: FALSE with @error and the call unchanged. */
gboolean tv_media_call_set_remote_sdp (TvMediaCall *call, const char *type, const char *sdp, GError **error);

/* tv_media_call_add_remote_candidate:
 * Adds a trickled candidate ("" or NULL = end of candidates). Candidates that
 * arrive before the remote description are queued and added after it.
 * Returns: FALSE with BAD_CANDIDATE for a malformed line (call unchanged). */
gboolean tv_media_call_add_remote_candidate (TvMediaCall *call, guint mline_index,
                                             const char *candidate, GError **error);

/* Sets the microphone muted / the camera off (black frames keep flowing). */
void tv_media_call_set_audio_muted (TvMediaCall *call, gboolean muted);
void tv_media_call_set_video_muted (TvMediaCall *call, gboolean muted);

typedef struct {
  guint64 video_frames_decoded;   /* remote video frames out of the decoder */
  guint64 audio_buffers_decoded;  /* remote audio buffers out of the decoder */
  guint64 video_frames_sent;      /* local frames into the encoder */
  guint64 bytes_sent;             /* RTP bytes, all streams (from get-stats) */
  guint64 bytes_received;
  guint64 packets_sent;
  guint64 packets_received;
  gint64  packets_lost;           /* as reported by the remote-inbound / inbound stats */
  double  jitter_ms;              /* inbound video jitter */
  double  rtt_ms;                 /* round-trip time from RTCP, -1 when unknown */
  double  bitrate_in_kbps;        /* over the last stats interval */
  double  bitrate_out_kbps;
  gint64  first_remote_frame_us;  /* monotonic time of the first decoded remote video frame, 0 = none */
  gint64  started_us;             /* monotonic time tv_media_call_start() ran (negotiation began) */
  /* Smoothness (benchmarks, docs/BENCHMARKS.md). Monotonic times are
   * g_get_monotonic_time() (CLOCK_MONOTONIC), comparable across processes. */
  gint64  last_remote_frame_us;   /* monotonic time of the latest decoded remote video frame, 0 = none */
  guint64 video_freezes;          /* gaps between decoded remote frames > TV_MEDIA_FREEZE_GAP_US */
  gint64  video_max_gap_us;       /* longest gap between two decoded remote frames */
  gint64  video_max_gap_end_us;   /* monotonic time of the frame that ended that gap */
  guint64 video_bytes_sent;       /* video RTP payload bytes (header excluded) out of the payloader */
  double  remote_audio_peak;      /* peak of the decoded remote audio, 0..1 of full scale, over the
                                     last ~200 ms (decays 30 % per 20 ms buffer); 0 before any audio */
  guint64 packets_held_before_dtls; /* our RTP packets dropped before our DTLS-SRTP was up (they are
                                       not queued: webrtcbin would send them in one stale burst) */
  guint64 video_stale_packets;    /* remote video packets (retransmissions aside) that reached a jitter
                                     buffer > 500 ms later than the stream's freshest packets predict:
                                     media held somewhere on the way, e.g. a start-up burst */
} TvMediaStats;

/* A gap between two decoded remote video frames longer than this is a freeze. */
#define TV_MEDIA_FREEZE_GAP_US (500 * G_TIME_SPAN_MILLISECOND)

/* tv_media_call_get_stats:
 * Fills @out with the frame counters (always current) and the last snapshot of
 * webrtcbin's get-stats, which the call refreshes every second while PLAYING. */
void tv_media_call_get_stats (TvMediaCall *call, TvMediaStats *out);

/* Returns: (transfer full) @stats as a JSON object text (keys as the field names). */
char *tv_media_stats_to_json (const TvMediaStats *stats);

/* tv_media_call_get_video_sink:
 * Returns: (transfer full) (nullable) the GstElement showing the call picture
 * (the TvMediaConfig.video_sink factory, or autovideosink), NULL when
 * headless. gst_object_unref it; it lives as long as the call. */
gpointer tv_media_call_get_video_sink (TvMediaCall *call);

TvMediaState tv_media_call_get_state (TvMediaCall *call);

/* tv_media_call_free:
 * Stops the pipeline (to NULL, synchronously) and frees the call. No callback
 * runs after it returns. NULL accepted. */
void tv_media_call_free (TvMediaCall *call);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvMediaCall, tv_media_call_free)

G_END_DECLS
