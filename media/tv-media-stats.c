/* tv-media-stats.c — reading webrtcbin's get-stats reply and writing TvMediaStats as JSON.
 *
 * Why: the client reports call quality and the benchmark compares it; both want
 * a few plain numbers rather than webrtcbin's nested GstStructure.
 *
 * Threading: pure functions, any thread (the call runs them on its main context).
 */
#define G_LOG_DOMAIN "tv-media"

#define GST_USE_UNSTABLE_API
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>

#include "media/tv-media-private.h"

/* Any numeric field as guint64 / double. webrtcbin's field types differ between
 * stats (guint64, gint64, guint, int); GValue transforms cover them all. */
static gboolean
field_u64 (const GstStructure *s, const char *name, guint64 *out)
{
  const GValue *v = gst_structure_get_value (s, name);
  if (!v)
    return FALSE;
  GValue t = G_VALUE_INIT;
  g_value_init (&t, G_TYPE_INT64);
  gboolean ok = g_value_transform (v, &t);
  if (ok)
    *out = (guint64) MAX (g_value_get_int64 (&t), 0);
  g_value_unset (&t);
  return ok;
}

static gboolean
field_i64 (const GstStructure *s, const char *name, gint64 *out)
{
  const GValue *v = gst_structure_get_value (s, name);
  if (!v)
    return FALSE;
  GValue t = G_VALUE_INIT;
  g_value_init (&t, G_TYPE_INT64);
  gboolean ok = g_value_transform (v, &t);
  if (ok)
    *out = g_value_get_int64 (&t);
  g_value_unset (&t);
  return ok;
}

static gboolean
field_double (const GstStructure *s, const char *name, double *out)
{
  const GValue *v = gst_structure_get_value (s, name);
  if (!v)
    return FALSE;
  GValue t = G_VALUE_INIT;
  g_value_init (&t, G_TYPE_DOUBLE);
  gboolean ok = g_value_transform (v, &t);
  if (ok)
    *out = g_value_get_double (&t);
  g_value_unset (&t);
  return ok;
}

/* Whether an RTP stats entry is about video: webrtcbin 1.22 puts "kind" on
 * some entries only; otherwise the codec entry it points at has the clock rate
 * (90000 for video). */
static gboolean
is_video (const GstStructure *reply, const GstStructure *s)
{
  const char *kind = gst_structure_get_string (s, "kind");
  if (kind)
    return g_strcmp0 (kind, "video") == 0;
  const char *codec_id = gst_structure_get_string (s, "codec-id");
  if (!codec_id)
    return FALSE;
  const GValue *cv = gst_structure_get_value (reply, codec_id);
  if (!cv || !GST_VALUE_HOLDS_STRUCTURE (cv))
    return FALSE;
  guint64 clock = 0;
  return field_u64 (gst_value_get_structure (cv), "clock-rate", &clock) && clock == 90000;
}

int
tv_media_opus_expected_loss (int current_pct, double loss)
{
  /* WebRTC's steps (audio_encoder_opus.cc), each with a margin so that a loss
   * hovering at a step does not flip the encoder back and forth: a step is
   * taken above step + margin, kept down to step - margin. */
  static const struct { int pct; double margin; } steps[] = { { 20, 0.02 }, { 10, 0.01 }, { 5, 0.01 }, { 1, 0.0 } };
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    double at = steps[i].pct / 100.0;
    double need = current_pct >= steps[i].pct ? at - steps[i].margin : at + steps[i].margin;
    if (loss >= need)
      return steps[i].pct;
  }
  return 0;
}

/* How long before the jitter buffer gives a packet up its last
 * retransmission should be back: the sender answers within ~0.1 ms and the
 * path's delay varies by a few ms (docs/BENCHMARKS.md). */
#define JITTER_PLAN_MARGIN_MS 20.0
#define JITTER_PLAN_MIN_RETRY_MS 10

guint
tv_media_jitter_latency (guint base_ms, double rtt_ms, gboolean lossy, guint max_ms)
{
  if (!lossy || rtt_ms <= 0)
    return base_ms;
  /* Two round trips: one for the first request and its answer, one for a
   * second chance (docs/BENCHMARKS.md, *Bad network with added delay*). */
  return (guint) MIN (base_ms + 2.0 * rtt_ms, (double) MAX (max_ms, base_ms));
}

int
tv_media_rtx_retry_ms (guint latency_ms, double rtt_ms, gboolean lossy)
{
  if (!lossy || rtt_ms <= 0)
    return -1;
  /* Requests at the gap, after one interval and after two; the third one's
   * answer must be back JITTER_PLAN_MARGIN_MS before the latency runs out:
   * 2 x retry + RTT + margin <= latency. With rtpjitterbuffer's own interval
   * (its retransmission round trip, ~RTT) only the first two fit: a packet
   * whose NACK or retransmission was lost twice (~1 % of the lost ones at
   * 5 % loss) became a lost-event, and its frame a freeze. At RTT 200 ms and
   * latency 450: requests at 0, 115 and 230 ms, answers back by ~430. The
   * request at 115 ms goes out before the first answer could be back, so
   * each lost packet is retransmitted about twice. */
  double window = latency_ms - rtt_ms - JITTER_PLAN_MARGIN_MS;
  if (window < 0)
    return -1;
  return MAX ((int) (window / 2.0), JITTER_PLAN_MIN_RETRY_MS);
}

void
tv_media_stats_parse (const GstStructure *reply, TvMediaStats *out)
{
  g_return_if_fail (reply != NULL && out != NULL);
  guint64 bytes_sent = 0, bytes_recv = 0, pkts_sent = 0, pkts_recv = 0;
  gint64 lost = 0;
  double jitter_ms = 0, rtt_ms = -1;

  int n = gst_structure_n_fields (reply);
  for (int i = 0; i < n; i++) {
    const GValue *v = gst_structure_get_value (reply, gst_structure_nth_field_name (reply, i));
    if (!v || !GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    const GstStructure *s = gst_value_get_structure (v);
    GstWebRTCStatsType type;
    if (!gst_structure_get_enum (s, "type", GST_TYPE_WEBRTC_STATS_TYPE, (gint *) &type))
      continue;
    guint64 u;
    gint64 l;
    double d;
    switch (type) {
    case GST_WEBRTC_STATS_OUTBOUND_RTP:
      if (field_u64 (s, "bytes-sent", &u))
        bytes_sent += u;
      if (field_u64 (s, "packets-sent", &u))
        pkts_sent += u;
      break;
    case GST_WEBRTC_STATS_INBOUND_RTP:
      if (field_u64 (s, "bytes-received", &u))
        bytes_recv += u;
      if (field_u64 (s, "packets-received", &u))
        pkts_recv += u;
      if (field_i64 (s, "packets-lost", &l))
        lost += l;
      /* W3C stats give jitter in seconds. */
      if (field_double (s, "jitter", &d) && is_video (reply, s))
        jitter_ms = d * 1000.0;
      break;
    case GST_WEBRTC_STATS_REMOTE_INBOUND_RTP:
      /* The worst round trip over the streams: what a user would notice. */
      if (field_double (s, "round-trip-time", &d) && d >= 0 && d * 1000.0 > rtt_ms)
        rtt_ms = d * 1000.0;
      break;
    default:
      break;
    }
  }
  out->bytes_sent = bytes_sent;
  out->bytes_received = bytes_recv;
  out->packets_sent = pkts_sent;
  out->packets_received = pkts_recv;
  out->packets_lost = lost;
  out->jitter_ms = jitter_ms;
  out->rtt_ms = rtt_ms;
}

char *
tv_media_stats_to_json (const TvMediaStats *stats)
{
  g_return_val_if_fail (stats != NULL, NULL);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
#define U64(f)                                                                                     \
  json_builder_set_member_name (b, #f);                                                            \
  json_builder_add_int_value (b, (gint64) MIN (stats->f, (guint64) G_MAXINT64))
#define I64(f)                                                                                     \
  json_builder_set_member_name (b, #f);                                                            \
  json_builder_add_int_value (b, stats->f)
#define DBL(f)                                                                                     \
  json_builder_set_member_name (b, #f);                                                            \
  json_builder_add_double_value (b, stats->f)
  U64 (video_frames_decoded);
  U64 (audio_buffers_decoded);
  U64 (video_frames_sent);
  U64 (bytes_sent);
  U64 (bytes_received);
  U64 (packets_sent);
  U64 (packets_received);
  I64 (packets_lost);
  DBL (jitter_ms);
  DBL (rtt_ms);
  DBL (bitrate_in_kbps);
  DBL (bitrate_out_kbps);
  I64 (first_remote_frame_us);
  I64 (started_us);
  I64 (last_remote_frame_us);
  U64 (video_freezes);
  I64 (video_max_gap_us);
  I64 (video_max_gap_end_us);
  U64 (video_bytes_sent);
  DBL (remote_audio_peak);
  U64 (packets_held_before_dtls);
  U64 (video_stale_packets);
#undef U64
#undef I64
#undef DBL
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}
