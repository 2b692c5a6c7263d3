/* fuzz-sdp.c — libFuzzer target for the remote SDP and ICE candidate validator (media/).
 *
 * Why: webrtcbin 1.22 crashes or wedges on some malformed descriptions, so
 * tv_media_sdp_validate() and tv_media_candidate_validate() stand between the
 * peer's bytes (relayed by the server) and webrtcbin. They must refuse with
 * TV_MEDIA_ERR_BAD_SDP / BAD_CANDIDATE — never crash, leak or read out of
 * bounds — and what they accept must have the shape they promise.
 * Input: byte 0 selects the mode, the rest is the text (made NUL-terminated,
 * as the signaling parser delivers it):
 *   bit 3 clear: SDP; bit 0 = answer (else offer), bits 1-2 = expected m-lines 0..3
 *   bit 3 set:   one candidate line; bits 4-7 = sdpMLineIndex 0..15, bit 0 adds 16 (out of range)
 * Build and run: `make fuzz FUZZ_TARGETS=sdp`; `make check` replays tests/fuzz/corpus/sdp/.
 * Thread: libFuzzer's thread; the validators keep no state (no gst_init needed).
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/tv-media-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_sdp (const char *type, const char *text, guint expected)
{
  GError *error = NULL;
  GstSDPMessage *msg = tv_media_sdp_validate (type, text, expected, &error);

  if (msg == NULL) {
    if (error == NULL || error->domain != TV_MEDIA_ERROR || error->code != TV_MEDIA_ERR_BAD_SDP)
      abort ();
    g_error_free (error);
    return;
  }
  if (error != NULL)
    abort ();
  /* The promised shape: 2..16 m-lines (one audio, one video at least), each
   * with a mid; an answer to our offer has exactly our m-line count. */
  guint n = gst_sdp_message_medias_len (msg);
  if (n < 2 || n > TV_MEDIA_MAX_MLINE_INDEX + 1 || (expected > 0 && n != expected))
    abort ();
  for (guint i = 0; i < n; i++) {
    const char *mid = gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (msg, i), "mid");
    if (mid == NULL || mid[0] == '\0')
      abort ();
  }
  /* webrtcbin serialises the description again; that must not crash either. */
  char *again = gst_sdp_message_as_text (msg);
  if (again == NULL)
    abort ();
  g_free (again);
  gst_sdp_message_free (msg);
}

static void
check_candidate (guint mline, const char *line)
{
  GError *error = NULL;
  if (tv_media_candidate_validate (mline, line, &error)) {
    if (error != NULL || mline > TV_MEDIA_MAX_MLINE_INDEX || strlen (line) > TV_MEDIA_MAX_CANDIDATE_BYTES
        || (!g_str_has_prefix (line, "candidate:") && !g_str_has_prefix (line, "a=candidate:")))
      abort ();
    return;
  }
  if (error == NULL || error->domain != TV_MEDIA_ERROR || error->code != TV_MEDIA_ERR_BAD_CANDIDATE)
    abort ();
  g_error_free (error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  guint8 mode = data[0];
  char *text = g_strndup ((const char *) data + 1, size - 1);

  if (mode & 0x08)
    check_candidate ((mode >> 4) + ((mode & 1) ? 16 : 0), text);
  else
    check_sdp ((mode & 1) ? "answer" : "offer", text, (mode >> 1) & 3);
  g_free (text);
  return 0;
}
