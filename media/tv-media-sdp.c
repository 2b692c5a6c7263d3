/* tv-media-sdp.c — validation of remote SDP and trickled ICE candidates.
 *
 * Why: webrtcbin 1.22 crashes or wedges on some malformed descriptions (fixed
 * upstream only in 1.24.8), and both come straight from the network. We parse
 * with gst_sdp_message and check what a VP8+Opus bundled call needs before
 * anything reaches webrtcbin. Error messages name the problem, never the SDP
 * (which may carry addresses) or its values.
 *
 * Threading: pure functions, any thread (called on the call's main context).
 */
#define G_LOG_DOMAIN "tv-media"

#include <string.h>

#include "media/tv-media-private.h"

static gboolean
bad_sdp (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
bad_sdp (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_BAD_SDP, "bad SDP: %s", msg);
  g_free (msg);
  return FALSE;
}

/* Media-level attribute, else the session-level one (RFC 8839/8122 allow both). */
static const char *
media_or_session_attr (const GstSDPMessage *msg, const GstSDPMedia *media, const char *key)
{
  const char *v = gst_sdp_media_get_attribute_val (media, key);
  return v ? v : gst_sdp_message_get_attribute_val (msg, key);
}

/* "sha-256 AB:CD:..." with the right number of hex bytes for the hash. */
static gboolean
fingerprint_ok (const char *value)
{
  static const struct { const char *name; guint bytes; } hashes[] = {
    { "sha-1", 20 }, { "sha-224", 28 }, { "sha-256", 32 }, { "sha-384", 48 }, { "sha-512", 64 },
  };
  gboolean ok = FALSE;
  char **parts = g_strsplit (value, " ", -1);
  if (g_strv_length (parts) != 2)
    goto out;
  guint want = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (hashes); i++)
    if (g_ascii_strcasecmp (parts[0], hashes[i].name) == 0)
      want = hashes[i].bytes;
  if (want == 0)
    goto out;
  char **bytes = g_strsplit (parts[1], ":", -1);
  ok = g_strv_length (bytes) == want;
  for (guint i = 0; ok && bytes[i]; i++)
    ok = strlen (bytes[i]) == 2 && g_ascii_isxdigit (bytes[i][0]) && g_ascii_isxdigit (bytes[i][1]);
  g_strfreev (bytes);
out:
  g_strfreev (parts);
  return ok;
}

/* TRUE when the media has an a=rtpmap "<pt> <encoding>/<clock>[/...]" with a
 * payload type from its m= format list. */
static gboolean
has_codec (const GstSDPMedia *media, const char *encoding, const char *clock)
{
  for (guint i = 0;; i++) {
    const char *v = gst_sdp_media_get_attribute_val_n (media, "rtpmap", i);
    if (!v)
      return FALSE;
    gboolean match = FALSE;
    char **sp = g_strsplit (v, " ", 2);
    if (g_strv_length (sp) == 2) {
      char **enc = g_strsplit (sp[1], "/", 3);
      if (g_strv_length (enc) >= 2 && g_ascii_strcasecmp (enc[0], encoding) == 0
          && g_strcmp0 (enc[1], clock) == 0) {
        for (guint f = 0; f < gst_sdp_media_formats_len (media); f++)
          if (g_strcmp0 (gst_sdp_media_get_format (media, f), sp[0]) == 0)
            match = TRUE;
      }
      g_strfreev (enc);
    }
    g_strfreev (sp);
    if (match)
      return TRUE;
  }
}

GstSDPMessage *
tv_media_sdp_validate (const char *type, const char *text, guint expected_mlines, GError **error)
{
  g_return_val_if_fail (type != NULL, NULL);
  GstSDPMessage *msg = NULL;
  GHashTable *mids = NULL;
  gboolean is_answer = g_strcmp0 (type, "answer") == 0;

  if (!text || !*text) {
    bad_sdp (error, "empty");
    goto fail;
  }
  gsize len = strlen (text);
  if (len > TV_MEDIA_MAX_SDP_BYTES) {
    bad_sdp (error, "larger than %d bytes", TV_MEDIA_MAX_SDP_BYTES);
    goto fail;
  }
  if (!g_utf8_validate (text, len, NULL)) {
    bad_sdp (error, "not valid UTF-8");
    goto fail;
  }
  /* gst_sdp_message_parse_buffer is lenient and turns any text into some
   * message; a real description starts with the version line. */
  if (!g_str_has_prefix (text, "v=0\r\n") && !g_str_has_prefix (text, "v=0\n")) {
    bad_sdp (error, "does not start with v=0");
    goto fail;
  }
  if (gst_sdp_message_new (&msg) != GST_SDP_OK) {
    bad_sdp (error, "out of memory");
    goto fail;
  }
  if (gst_sdp_message_parse_buffer ((const guint8 *) text, (guint) len, msg) != GST_SDP_OK) {
    bad_sdp (error, "does not parse");
    goto fail;
  }

  guint n = gst_sdp_message_medias_len (msg);
  if (n == 0) {
    bad_sdp (error, "no m-lines");
    goto fail;
  }
  if (n > TV_MEDIA_MAX_MLINE_INDEX + 1) {
    bad_sdp (error, "%u m-lines, at most %d allowed", n, TV_MEDIA_MAX_MLINE_INDEX + 1);
    goto fail;
  }
  if (expected_mlines > 0 && n != expected_mlines) {
    bad_sdp (error, "answer has %u m-lines, our offer had %u", n, expected_mlines);
    goto fail;
  }

  mids = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean have_audio = FALSE, have_video = FALSE;
  for (guint i = 0; i < n; i++) {
    const GstSDPMedia *m = gst_sdp_message_get_media (msg, i);
    const char *kind = gst_sdp_media_get_media (m);
    const char *proto = gst_sdp_media_get_proto (m);
    gboolean video = g_strcmp0 (kind, "video") == 0;
    gboolean audio = g_strcmp0 (kind, "audio") == 0;
    if (!video && !audio) {
      bad_sdp (error, "m-line %u: unsupported media (only audio and video)", i);
      goto fail;
    }
    if (!proto || !g_str_has_suffix (proto, "SAVPF")) {
      bad_sdp (error, "m-line %u: protocol is not UDP/TLS/RTP/SAVPF", i);
      goto fail;
    }
    if (gst_sdp_media_formats_len (m) == 0) {
      bad_sdp (error, "m-line %u: no formats", i);
      goto fail;
    }
    const char *mid = gst_sdp_media_get_attribute_val (m, "mid");
    if (!mid || !*mid) {
      bad_sdp (error, "m-line %u: no a=mid", i);
      goto fail;
    }
    if (!g_hash_table_add (mids, (gpointer) mid)) {
      bad_sdp (error, "m-line %u: duplicate a=mid", i);
      goto fail;
    }
    const char *ufrag = media_or_session_attr (msg, m, "ice-ufrag");
    const char *pwd = media_or_session_attr (msg, m, "ice-pwd");
    if (!ufrag || !*ufrag || !pwd || !*pwd) {
      bad_sdp (error, "m-line %u: no ICE credentials (ice-ufrag/ice-pwd)", i);
      goto fail;
    }
    const char *fp = media_or_session_attr (msg, m, "fingerprint");
    if (!fp) {
      bad_sdp (error, "m-line %u: no DTLS fingerprint", i);
      goto fail;
    }
    if (!fingerprint_ok (fp)) {
      bad_sdp (error, "m-line %u: malformed DTLS fingerprint", i);
      goto fail;
    }
    const char *setup = media_or_session_attr (msg, m, "setup");
    if (setup && g_strcmp0 (setup, "actpass") != 0 && g_strcmp0 (setup, "active") != 0
        && g_strcmp0 (setup, "passive") != 0) {
      bad_sdp (error, "m-line %u: a=setup must be actpass, active or passive", i);
      goto fail;
    }
    if (setup && is_answer && g_strcmp0 (setup, "actpass") == 0) {
      bad_sdp (error, "m-line %u: an answer must not say a=setup:actpass", i);
      goto fail;
    }
    if (video && has_codec (m, "VP8", "90000"))
      have_video = TRUE;
    if (audio && has_codec (m, "opus", "48000"))
      have_audio = TRUE;
  }
  if (!have_video) {
    bad_sdp (error, "no video m-line offering VP8/90000");
    goto fail;
  }
  if (!have_audio) {
    bad_sdp (error, "no audio m-line offering opus/48000");
    goto fail;
  }

  /* a=group:BUNDLE mid1 mid2 ... may only name m-lines that exist. */
  for (guint i = 0;; i++) {
    const char *group = gst_sdp_message_get_attribute_val_n (msg, "group", i);
    if (!group)
      break;
    char **tok = g_strsplit (group, " ", -1);
    gboolean ok = TRUE;
    if (g_strcmp0 (tok[0], "BUNDLE") == 0)
      for (guint t = 1; tok[t] && ok; t++)
        ok = !*tok[t] || g_hash_table_contains (mids, tok[t]);
    g_strfreev (tok);
    if (!ok) {
      bad_sdp (error, "a=group:BUNDLE names a mid that has no m-line");
      goto fail;
    }
  }

  g_hash_table_unref (mids);
  return msg;

fail:
  g_clear_pointer (&mids, g_hash_table_unref);
  if (msg)
    gst_sdp_message_free (msg);
  return NULL;
}

static gboolean
bad_candidate (GError **error, const char *what)
{
  g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_BAD_CANDIDATE, "bad ICE candidate: %s", what);
  return FALSE;
}

/* Unsigned decimal within [min, max]; g_ascii_string_to_unsigned rejects signs,
 * spaces and trailing junk. */
static gboolean
uint_in_range (const char *s, guint64 min, guint64 max)
{
  guint64 v;
  return g_ascii_string_to_unsigned (s, 10, min, max, &v, NULL);
}

gboolean
tv_media_candidate_validate (guint mline_index, const char *candidate, GError **error)
{
  if (mline_index > TV_MEDIA_MAX_MLINE_INDEX)
    return bad_candidate (error, "sdpMLineIndex out of range");
  if (!candidate)
    return bad_candidate (error, "missing");
  gsize len = strlen (candidate);
  if (len > TV_MEDIA_MAX_CANDIDATE_BYTES)
    return bad_candidate (error, "too long");
  if (!g_utf8_validate (candidate, len, NULL))
    return bad_candidate (error, "not valid UTF-8");

  const char *line = candidate;
  if (g_str_has_prefix (line, "a="))
    line += 2;
  if (!g_str_has_prefix (line, "candidate:"))
    return bad_candidate (error, "does not start with candidate:");
  line += strlen ("candidate:");

  /* foundation component transport priority address port typ type [extensions] */
  gboolean ok = FALSE;
  const char *why = NULL;
  char **f = g_strsplit (line, " ", -1);
  if (g_strv_length (f) < 8) {
    why = "fewer than 8 fields";
    goto out;
  }
  for (guint i = 0; i < 8; i++)
    if (!*f[i]) {
      why = "empty field";
      goto out;
    }
  if (strlen (f[0]) > 32) {
    why = "foundation too long";
    goto out;
  }
  if (!uint_in_range (f[1], 1, 256)) {
    why = "bad component";
    goto out;
  }
  if (g_ascii_strcasecmp (f[2], "udp") != 0 && g_ascii_strcasecmp (f[2], "tcp") != 0) {
    why = "transport is not udp or tcp";
    goto out;
  }
  if (!uint_in_range (f[3], 0, G_MAXUINT32)) {
    why = "bad priority";
    goto out;
  }
  if (!g_hostname_is_ip_address (f[4]) && !g_str_has_suffix (f[4], ".local")) {
    why = "address is neither an IP address nor an mDNS name";
    goto out;
  }
  if (!uint_in_range (f[5], 0, 65535)) {
    why = "bad port";
    goto out;
  }
  if (g_strcmp0 (f[6], "typ") != 0) {
    why = "no typ";
    goto out;
  }
  if (g_strcmp0 (f[7], "host") != 0 && g_strcmp0 (f[7], "srflx") != 0 && g_strcmp0 (f[7], "prflx") != 0
      && g_strcmp0 (f[7], "relay") != 0) {
    why = "unknown candidate type";
    goto out;
  }
  ok = TRUE;
out:
  g_strfreev (f);
  return ok ? TRUE : bad_candidate (error, why);
}
