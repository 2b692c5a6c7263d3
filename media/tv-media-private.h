/* tv-media-private.h — helpers shared by the media/ sources, not part of the contract.
 *
 * Why: the call (tv-media.c) is threading and pipeline plumbing; the pure parts
 * (SDP and candidate validation, stats parsing) live in their own files so that
 * they can be read and tested without a pipeline.
 *
 * Threading: every function here is pure (no global state) and may run on any
 * thread.
 */
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

#include "media/tv-media.h"

G_BEGIN_DECLS

/* Largest SDP we accept from the peer; the signaling frame limit is 64 KiB. */
#define TV_MEDIA_MAX_SDP_BYTES (64 * 1024)
/* Largest candidate line we accept (the signaling limit is far above real ones). */
#define TV_MEDIA_MAX_CANDIDATE_BYTES 1024
/* Highest m-line index the protocol allows (sdpMLineIndex 0..15). */
#define TV_MEDIA_MAX_MLINE_INDEX 15

/* tv_media_sdp_validate:
 * Parses @text as SDP of @type ("offer"/"answer") and checks what webrtcbin
 * 1.22 needs to not misbehave: "v=0" first, at most 16 m-lines, only audio and
 * video m-lines with UDP/TLS/RTP/SAVPF and at least one format each, at least
 * one audio (with opus/48000) and one video (with VP8/90000) m-line, unique
 * non-empty a=mid on each, ICE ufrag/pwd and a well-formed DTLS fingerprint
 * (media or session level), a=setup in {actpass, active, passive} (an answer
 * must not say actpass), and the BUNDLE group naming only existing mids.
 * When @expected_mlines > 0 (an answer to our offer), the m-line count must
 * equal it.
 * Returns: (transfer full) the parsed message, or NULL with TV_MEDIA_ERR_BAD_SDP
 * and a message naming the first problem found (never the SDP text itself). */
GstSDPMessage *tv_media_sdp_validate (const char *type, const char *text, guint expected_mlines,
                                      GError **error);

/* tv_media_candidate_validate:
 * Checks a trickled ICE candidate line ("candidate:..." or "a=candidate:...")
 * field by field (foundation, component 1..256, transport udp/tcp, 32-bit
 * priority, an IP address or a ".local" mDNS name, port 0..65535, "typ" and one
 * of host/srflx/prflx/relay) and @mline_index <= 15.
 * Returns: TRUE, or FALSE with TV_MEDIA_ERR_BAD_CANDIDATE. */
gboolean tv_media_candidate_validate (guint mline_index, const char *candidate, GError **error);

/* tv_media_stats_parse:
 * Reads webrtcbin's get-stats reply @reply and fills the get-stats part of
 * @out (bytes, packets, packets_lost, jitter_ms, rtt_ms); it leaves the frame
 * counters, bitrates and times alone. rtt_ms is -1 when no remote-inbound-rtp
 * entry reports a round-trip time. */
void tv_media_stats_parse (const GstStructure *reply, TvMediaStats *out);

/* tv_media_clip_source_new:
 * A test camera (@video) or microphone playing @path in a loop at live pace:
 * a YUV4MPEG clip as I420 @width x @height frames at @framerate, or a WAV file
 * as S16LE 48 kHz mono in 20 ms buffers (tv-media-clip.c). The file is decoded
 * into memory once per process and format (at most 300 frames / 60 s; a
 * process-wide cache, so unlike the rest of this header not pure).
 * Returns: (transfer floating) an appsrc named @name, or NULL with
 * TV_MEDIA_ERR_DEVICE naming the file and what is wrong with it
 * (MISSING_PLUGIN when a decoder is not installed). */
GstElement *tv_media_clip_source_new (const char *name, const char *path, gboolean video, int width, int height,
                                      int framerate, GError **error);

/* tv_media_opus_expected_loss:
 * The packet loss (in %) to tell Opus to expect, given the one in force
 * (@current_pct) and the loss just measured (@loss, 0..1): one of 0, 1, 5,
 * 10, 20 — WebRTC's steps and margins, so that a loss hovering at a step does
 * not flip it back and forth. At 0 Opus codes no in-band FEC. */
int tv_media_opus_expected_loss (int current_pct, double loss);

/* tv_media_jitter_latency:
 * The jitter-buffer latency (ms) for a link with round trip @rtt_ms (<= 0:
 * not measured yet): the configured @base_ms on a link that does not lose
 * packets (@lossy FALSE) or with no RTT yet; on a lossy one @base_ms + 2 x
 * RTT, at most MAX (@max_ms, @base_ms). Pure. */
guint tv_media_jitter_latency (guint base_ms, double rtt_ms, gboolean lossy, guint max_ms);

/* tv_media_rtx_retry_ms:
 * The interval (ms) between retransmission requests for one lost packet, for
 * a jitter buffer of @latency_ms on a link with round trip @rtt_ms: spaced so
 * that three requests (the first at the gap) have their answers back a
 * margin before the latency runs out, never under 10 ms. -1 (rtpjitterbuffer's
 * own, about one measured retransmission round trip) when the link does not
 * lose packets (@lossy FALSE), the RTT is not known (<= 0), or not even the
 * first answer can come back in time. Pure. */
int tv_media_rtx_retry_ms (guint latency_ms, double rtt_ms, gboolean lossy);

G_END_DECLS
