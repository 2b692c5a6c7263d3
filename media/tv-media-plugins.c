/* tv-media-plugins.c — start-up checks and small helpers of the media module:
 * the error quark, state names, and the check that every GStreamer element a
 * call needs is installed, naming the Debian package when one is missing.
 *
 * Why: a missing plugin otherwise shows up as an obscure "no element" failure
 * in the middle of a consult; we fail before the consult with a fix.
 *
 * Also the prewarm (see tv_media_prewarm in tv-media.h): the DTLS
 * certificate and the plugins a call loads only once it negotiates.
 *
 * Threading: any thread (gst_init is thread-safe and idempotent); the prewarm
 * runs in its own short-lived thread.
 */
#define G_LOG_DOMAIN "tv-media"

#include <stdlib.h>

#include <gst/gst.h>
#include <openssl/crypto.h>

#include "media/tv-media.h"

G_DEFINE_QUARK (tv-media-error-quark, tv_media_error)

const char *
tv_media_state_to_string (TvMediaState state)
{
  switch (state) {
  case TV_MEDIA_STATE_NEW:
    return "new";
  case TV_MEDIA_STATE_CONNECTING:
    return "connecting";
  case TV_MEDIA_STATE_CONNECTED:
    return "connected";
  case TV_MEDIA_STATE_DISCONNECTED:
    return "disconnected";
  case TV_MEDIA_STATE_FAILED:
    return "failed";
  case TV_MEDIA_STATE_CLOSED:
    return "closed";
  }
  return "unknown";
}

/* Creating a dtlsdec makes GStreamer generate its process-wide DTLS
 * certificate (gstdtlsdec.c keeps one agent with a generated certificate,
 * built under g_once: a call that needs it meanwhile simply waits). */
static GMutex prewarm_lock;
static GCond prewarm_cond;
static gboolean prewarm_done;

/* Elements webrtcbin and our receive branches create only during
 * negotiation or on the first remote packet. The first of each loads its
 * plugin and initialises its class: the srtp plugin alone (libsrtp's
 * start-up) took 30-40 ms inside create-offer and again inside
 * create-answer, on the call path of both sides (docs/BENCHMARKS.md).
 * Created once here and dropped, so the call finds them loaded. */
static const char *const prewarm_elements[] = {
  "dtlsdec", /* first: the certificate, the longest part */
  "dtlssrtpenc", "dtlssrtpdec", "nicesrc", "nicesink", "rtpjitterbuffer", "rtpstorage", "rtpssrcdemux",
  "rtpptdemux", "rtprtxsend", "rtprtxreceive", "rtpulpfecenc", "rtpulpfecdec", "rtpredenc", "rtpreddec",
  "rtphdrexttwcc", "rtpfunnel", "clocksync", "rtpvp8depay", "vp8dec", "rtpopusdepay", "opusdec",
};

static gpointer
prewarm_main (gpointer data)
{
  for (guint i = 0; i < G_N_ELEMENTS (prewarm_elements); i++) {
    /* A missing one is reported by tv_media_check_plugins, not here. */
    GstElement *el = gst_element_factory_make (prewarm_elements[i], NULL);
    if (el)
      gst_object_unref (gst_object_ref_sink (el));
  }
  g_mutex_lock (&prewarm_lock);
  prewarm_done = TRUE;
  g_cond_broadcast (&prewarm_cond);
  g_mutex_unlock (&prewarm_lock);
  return NULL;
}

static GThread *prewarm_thread;

/* exit() while the prewarm thread is inside OpenSSL's key generation ran
 * OpenSSL's atexit cleanup under its feet (a crash in about one run in ten,
 * seen by the client). atexit handlers run last-registered-first, and OpenSSL
 * registers its own when it is first initialised, so we initialise it before
 * registering this one: the join then happens before OpenSSL cleans up. */
static void
prewarm_join_at_exit (void)
{
  if (prewarm_thread && g_thread_self () != prewarm_thread)
    g_clear_pointer (&prewarm_thread, g_thread_join);
}

void
tv_media_prewarm (void)
{
  static gsize started = 0;
  if (!g_once_init_enter (&started))
    return;
  if (gst_init_check (NULL, NULL, NULL)) {
    GError *err = NULL;
    OPENSSL_init_crypto (0, NULL);
    prewarm_thread = g_thread_try_new ("tv-media-prewarm", prewarm_main, NULL, &err);
    if (prewarm_thread)
      atexit (prewarm_join_at_exit);
    else
      g_message ("cannot start the DTLS prewarm thread: %s", err->message);
    g_clear_error (&err);
  }
  if (prewarm_thread == NULL) {
    /* Nothing will come: waiters must not wait for it. */
    g_mutex_lock (&prewarm_lock);
    prewarm_done = TRUE;
    g_mutex_unlock (&prewarm_lock);
  }
  g_once_init_leave (&started, 1);
}

gboolean
tv_media_prewarm_wait (guint timeout_ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  gboolean done;

  tv_media_prewarm ();
  g_mutex_lock (&prewarm_lock);
  while (!prewarm_done)
    if (!g_cond_wait_until (&prewarm_cond, &prewarm_lock, until))
      break;
  done = prewarm_done;
  g_mutex_unlock (&prewarm_lock);
  return done;
}

typedef struct {
  const char *element;
  const char *package;
} Requirement;

/* Elements every call uses, with the Debian 12 package that ships them. */
static const Requirement always[] = {
  { "webrtcbin", "gstreamer1.0-plugins-bad" },
  { "dtlssrtpenc", "gstreamer1.0-plugins-bad" },
  { "dtlsdec", "gstreamer1.0-plugins-bad" },
  { "srtpenc", "gstreamer1.0-plugins-bad" },
  { "nicesrc", "gstreamer1.0-nice" },
  { "nicesink", "gstreamer1.0-nice" },
  { "rtpbin", "gstreamer1.0-plugins-good" },
  { "vp8enc", "gstreamer1.0-plugins-good" },
  { "vp8dec", "gstreamer1.0-plugins-good" },
  { "rtpvp8pay", "gstreamer1.0-plugins-good" },
  { "rtpvp8depay", "gstreamer1.0-plugins-good" },
  { "rtpopuspay", "gstreamer1.0-plugins-good" },
  { "rtpopusdepay", "gstreamer1.0-plugins-good" },
  { "opusenc", "gstreamer1.0-plugins-base" },
  { "opusdec", "gstreamer1.0-plugins-base" },
  { "videoconvert", "gstreamer1.0-plugins-base" },
  { "videoscale", "gstreamer1.0-plugins-base" },
  { "videobalance", "gstreamer1.0-plugins-good" },
  { "audioconvert", "gstreamer1.0-plugins-base" },
  { "audioresample", "gstreamer1.0-plugins-base" },
  { "volume", "gstreamer1.0-plugins-base" },
  { "queue", "libgstreamer1.0-0" },
  { "tee", "libgstreamer1.0-0" },
  { "capsfilter", "libgstreamer1.0-0" },
  { "fakesink", "libgstreamer1.0-0" },
};

static const Requirement test_sources[] = {
  { "videotestsrc", "gstreamer1.0-plugins-base" },
  { "audiotestsrc", "gstreamer1.0-plugins-base" },
};

/* A test clip (TvMediaConfig.video_file / audio_file, tv-media-clip.c). */
static const Requirement clip_video[] = {
  { "filesrc", "libgstreamer1.0-0" },
  { "y4mdec", "gstreamer1.0-plugins-bad" },
  { "appsrc", "gstreamer1.0-plugins-base" },
  { "appsink", "gstreamer1.0-plugins-base" },
};

static const Requirement clip_audio[] = {
  { "filesrc", "libgstreamer1.0-0" },
  { "wavparse", "gstreamer1.0-plugins-good" },
  { "appsrc", "gstreamer1.0-plugins-base" },
  { "appsink", "gstreamer1.0-plugins-base" },
};

static const Requirement device_sources[] = {
  { "autovideosrc", "gstreamer1.0-plugins-good" },
  { "autoaudiosrc", "gstreamer1.0-plugins-good" },
  { "videorate", "gstreamer1.0-plugins-base" },
};

static const Requirement windowed[] = {
  { "compositor", "gstreamer1.0-plugins-base" },
  { "autovideosink", "gstreamer1.0-plugins-good" },
  { "autoaudiosink", "gstreamer1.0-plugins-good" },
};

static gboolean
check_list (const Requirement *list, gsize n, GError **error)
{
  for (gsize i = 0; i < n; i++) {
    GstElementFactory *f = gst_element_factory_find (list[i].element);
    if (!f) {
      g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_MISSING_PLUGIN,
                   "GStreamer element '%s' is missing: install the Debian package %s",
                   list[i].element, list[i].package);
      return FALSE;
    }
    gst_object_unref (f);
  }
  return TRUE;
}

gboolean
tv_media_check_plugins (const TvMediaConfig *cfg, GError **error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  GError *init_error = NULL;
  if (!gst_init_check (NULL, NULL, &init_error)) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_PIPELINE, "GStreamer failed to initialise: %s",
                 init_error ? init_error->message : "unknown reason");
    g_clear_error (&init_error);
    return FALSE;
  }
  if (!check_list (always, G_N_ELEMENTS (always), error))
    return FALSE;
  tv_media_prewarm ();
  if (cfg->test_media ? !check_list (test_sources, G_N_ELEMENTS (test_sources), error)
                      : !check_list (device_sources, G_N_ELEMENTS (device_sources), error))
    return FALSE;
  if (cfg->test_media && cfg->video_file && !check_list (clip_video, G_N_ELEMENTS (clip_video), error))
    return FALSE;
  if (cfg->test_media && cfg->audio_file && !check_list (clip_audio, G_N_ELEMENTS (clip_audio), error))
    return FALSE;
  if (!cfg->headless && !check_list (windowed, G_N_ELEMENTS (windowed), error))
    return FALSE;
  return TRUE;
}
