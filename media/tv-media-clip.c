/* tv-media-clip.c — a pre-rendered test camera and microphone: a YUV4MPEG
 * (y4m) clip or a WAV sound, decoded once into memory and played in a loop at
 * live pace by an appsrc.
 *
 * Why: `make bench` compares our CPU per call with Chromium's on the same
 * picture and sound; Chromium reads them from files
 * (--use-file-for-fake-video-capture / --use-file-for-fake-audio-capture),
 * our test mode from the same files (TvMediaConfig.video_file/audio_file).
 * Playing frames from memory costs next to nothing, where videotestsrc draws
 * each frame, so the figures compare the calls and not the test sources.
 *
 * How: a small pipeline (filesrc ! y4mdec|wavparse ! convert/scale|resample
 * ! appsink) decodes the whole file before the call starts; the frames (audio:
 * 20 ms slices of one buffer) stay in memory, shared by reference with every
 * buffer pushed. The appsrc's "need-data" handler runs on the appsrc's own
 * streaming thread: it waits on the pipeline clock until the next frame is
 * due and pushes it stamped with that running time, so the clip plays at its
 * frame rate like a camera (a stall of more than one frame resynchronises to
 * "now" instead of bursting). Decoded clips are cached per process (path and
 * format), so a client's next call does not decode again.
 *
 * appsrc/appsink are driven through their signals (push-buffer, pull-sample),
 * so the media library does not link libgstapp.
 */
#include "media/tv-media-private.h"

/* Longest clip we keep in memory: 10 s of 640x480 is 138 MB. */
#define CLIP_MAX_FRAMES 300
#define CLIP_MAX_AUDIO_S 60
#define AUDIO_RATE 48000
#define AUDIO_FRAME_MS 20
#define AUDIO_FRAME_BYTES (AUDIO_RATE / 1000 * AUDIO_FRAME_MS * 2) /* S16LE mono */
/* How long decoding a file may take before we give up. */
#define CLIP_DECODE_TIMEOUT_S 60

typedef struct { /* a GRcBox */
  char *key;         /* path + format: the cache key */
  GPtrArray *frames; /* GstBuffer *, each one video frame or 20 ms of audio */
  GstCaps *caps;     /* of every buffer */
  GstClockTime duration; /* of one buffer */
} Clip;

/* Collects the decoded buffers (streaming thread of the decoding pipeline). */
typedef struct {
  GMutex lock;
  GPtrArray *buffers;
  guint64 bytes;
  gboolean too_long;
  guint64 max_bytes; /* 0 = count frames instead */
} Collect;

static void
clip_clear (gpointer data)
{
  Clip *clip = data;
  g_free (clip->key);
  g_ptr_array_unref (clip->frames);
  gst_caps_unref (clip->caps);
}

#define clip_ref(clip) ((Clip *) g_atomic_rc_box_acquire (clip))

static void
clip_unref (gpointer data)
{
  g_atomic_rc_box_release_full (data, clip_clear);
}

static GstFlowReturn
on_new_sample (GstElement *sink, gpointer data)
{
  Collect *c = data;
  GstSample *sample = NULL;
  g_signal_emit_by_name (sink, "pull-sample", &sample);
  if (!sample)
    return GST_FLOW_EOS;
  GstBuffer *buf = gst_sample_get_buffer (sample);
  GstFlowReturn ret = GST_FLOW_OK;
  g_mutex_lock (&c->lock);
  if (buf) {
    c->bytes += gst_buffer_get_size (buf);
    if (c->max_bytes ? c->bytes > c->max_bytes : c->buffers->len >= CLIP_MAX_FRAMES) {
      c->too_long = TRUE;
      ret = GST_FLOW_EOS;
    } else {
      g_ptr_array_add (c->buffers, gst_buffer_ref (buf));
    }
  }
  g_mutex_unlock (&c->lock);
  gst_sample_unref (sample);
  return ret;
}

static GstElement *
clip_make (GstBin *bin, const char *factory, GError **error)
{
  GstElement *el = gst_element_factory_make (factory, NULL);
  if (!el) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_MISSING_PLUGIN,
                 "GStreamer element '%s' is missing (needed to play a test clip)", factory);
    return NULL;
  }
  gst_bin_add (bin, el);
  return el;
}

/* Decodes @path into buffers of @caps: runs filesrc ! @decoder ! @convert...
 * ! capsfilter ! appsink to the end of the file. Returns: (transfer full)
 * the buffers, or NULL with TV_MEDIA_ERR_DEVICE naming the file. */
static GPtrArray *
clip_decode (const char *path, const char *decoder, const char *const *convert, GstCaps *caps,
             guint64 max_bytes, GError **error)
{
  g_autoptr (GstElement) pipe = gst_pipeline_new ("tv-clip-decode");
  GstBin *bin = GST_BIN (pipe);
  GstElement *src = clip_make (bin, "filesrc", error);
  GstElement *dec = src ? clip_make (bin, decoder, error) : NULL;
  GstElement *prev = dec;
  for (guint i = 0; prev && convert[i]; i++) {
    GstElement *el = clip_make (bin, convert[i], error);
    if (el && !gst_element_link (prev, el))
      el = NULL;
    prev = el;
  }
  GstElement *filter = prev ? clip_make (bin, "capsfilter", error) : NULL;
  GstElement *sink = filter ? clip_make (bin, "appsink", error) : NULL;
  if (!sink)
    return NULL;
  g_object_set (src, "location", path, NULL);
  g_object_set (filter, "caps", caps, NULL);
  Collect c = { .buffers = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref),
                .max_bytes = max_bytes };
  g_mutex_init (&c.lock);
  g_object_set (sink, "sync", FALSE, "emit-signals", TRUE, "max-buffers", 4, NULL);
  g_signal_connect (sink, "new-sample", G_CALLBACK (on_new_sample), &c);

  gboolean ok = gst_element_link (src, dec) && gst_element_link (prev, filter) && gst_element_link (filter, sink);
  g_autofree char *why = NULL;
  if (ok && gst_element_set_state (pipe, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE) {
    g_autoptr (GstBus) bus = gst_element_get_bus (pipe);
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, CLIP_DECODE_TIMEOUT_S * GST_SECOND,
                                                  GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (!msg) {
      why = g_strdup ("decoding took too long");
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      why = g_strdup (err ? err->message : "decoding failed");
      g_clear_error (&err);
    }
    if (msg)
      gst_message_unref (msg);
  } else {
    why = g_strdup ("cannot start the decoder");
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  g_signal_handlers_disconnect_by_data (sink, &c);
  g_mutex_clear (&c.lock);
  if (!why && c.too_long)
    why = max_bytes ? g_strdup_printf ("longer than %d s", CLIP_MAX_AUDIO_S)
                    : g_strdup_printf ("longer than %d frames", CLIP_MAX_FRAMES);
  if (!why && c.buffers->len == 0)
    why = g_strdup ("no frames in it");
  if (why) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE, "test clip %s: %s", path, why);
    g_ptr_array_unref (c.buffers);
    return NULL;
  }
  return c.buffers;
}

/* Audio arrives in buffers of any size: one buffer, cut in 20 ms slices that
 * share its memory (the remainder shorter than 20 ms is dropped). */
static GPtrArray *
audio_slices (GPtrArray *decoded, GError **error, const char *path)
{
  gsize total = 0;
  for (guint i = 0; i < decoded->len; i++)
    total += gst_buffer_get_size (decoded->pdata[i]);
  guint n = total / AUDIO_FRAME_BYTES;
  if (n == 0) {
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE, "test clip %s: shorter than %d ms", path,
                 AUDIO_FRAME_MS);
    return NULL;
  }
  guint8 *all = g_malloc (total);
  gsize at = 0;
  for (guint i = 0; i < decoded->len; i++)
    at += gst_buffer_extract (decoded->pdata[i], 0, all + at, total - at);
  GstBuffer *whole = gst_buffer_new_wrapped (all, total);
  GPtrArray *out = g_ptr_array_new_full (n, (GDestroyNotify) gst_buffer_unref);
  for (guint i = 0; i < n; i++)
    g_ptr_array_add (out, gst_buffer_copy_region (whole, GST_BUFFER_COPY_MEMORY, (gsize) i * AUDIO_FRAME_BYTES,
                                                  AUDIO_FRAME_BYTES));
  gst_buffer_unref (whole);
  return out;
}

static GMutex cache_lock;
static GHashTable *cache; /* key -> Clip * (one reference) */

/* Returns: (transfer full) the decoded clip of @path in @caps, from the cache
 * or decoded now, or NULL with @error. */
static Clip *
clip_get (const char *path, gboolean video, GstCaps *caps, int framerate, GError **error)
{
  g_autofree char *scaps = gst_caps_to_string (caps);
  g_autofree char *key = g_strdup_printf ("%s\n%s", path, scaps);
  g_mutex_lock (&cache_lock);
  Clip *clip = cache ? g_hash_table_lookup (cache, key) : NULL;
  if (clip)
    clip_ref (clip);
  g_mutex_unlock (&cache_lock);
  if (clip)
    return clip;

  GPtrArray *frames;
  if (video) {
    frames = clip_decode (path, "y4mdec", (const char *const[]){ "videoconvert", "videoscale", NULL }, caps, 0, error);
  } else {
    GPtrArray *decoded = clip_decode (path, "wavparse",
                                      (const char *const[]){ "audioconvert", "audioresample", NULL }, caps,
                                      (guint64) CLIP_MAX_AUDIO_S * AUDIO_RATE * 2, error);
    frames = decoded ? audio_slices (decoded, error, path) : NULL;
    if (decoded)
      g_ptr_array_unref (decoded);
  }
  if (!frames)
    return NULL;
  clip = g_atomic_rc_box_new0 (Clip);
  clip->key = g_steal_pointer (&key);
  clip->frames = frames;
  clip->caps = gst_caps_ref (caps);
  clip->duration = video ? gst_util_uint64_scale_int (GST_SECOND, 1, framerate) : AUDIO_FRAME_MS * GST_MSECOND;

  g_mutex_lock (&cache_lock);
  if (!cache)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, clip_unref);
  /* Two calls may have decoded the same file at once: keep the first. */
  Clip *have = g_hash_table_lookup (cache, clip->key);
  if (have) {
    clip_unref (clip);
    clip = have;
  } else {
    g_hash_table_insert (cache, clip->key, clip);
  }
  clip_ref (clip);
  g_mutex_unlock (&cache_lock);
  return clip;
}

/* Where a playing source is in its clip (touched by its streaming thread only). */
typedef struct {
  Clip *clip;
  guint next;              /* index of the next buffer */
  GstClockTime next_pts;   /* running time it is due, NONE before the first */
} Player;

static void
player_free (gpointer data)
{
  Player *p = data;
  clip_unref (p->clip);
  g_free (p);
}

/* appsrc wants a buffer (its streaming thread): wait until the next one is
 * due on the pipeline clock, then push it stamped with that running time. */
static void
on_need_data (GstElement *src, guint length, gpointer data)
{
  Player *p = data;
  GstClockTime dur = p->clip->duration;
  GstClock *clock = gst_element_get_clock (src);
  GstClockTime now = 0;
  if (clock) {
    GstClockTime base = gst_element_get_base_time (src);
    GstClockTime abs = gst_clock_get_time (clock);
    now = abs > base ? abs - base : 0;
    /* First buffer, a stall of more than one buffer (e.g. webrtcbin held its
     * input until negotiation) or a new base time: start again from now. */
    if (p->next_pts == GST_CLOCK_TIME_NONE || now > p->next_pts + dur || p->next_pts > now + 2 * dur) {
      p->next_pts = now;
    } else if (p->next_pts > now) {
      /* Waits at most one buffer's duration, also when the pipeline stops. */
      GstClockID id = gst_clock_new_single_shot_id (clock, base + p->next_pts);
      gst_clock_id_wait (id, NULL);
      gst_clock_id_unref (id);
    }
    gst_object_unref (clock);
  } else if (p->next_pts == GST_CLOCK_TIME_NONE) {
    p->next_pts = 0;
  }
  /* A shallow copy: its own timestamps, the frame's memory shared. */
  GstBuffer *buf = gst_buffer_copy (p->clip->frames->pdata[p->next]);
  GST_BUFFER_PTS (buf) = p->next_pts;
  GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buf) = dur;
  p->next = (p->next + 1) % p->clip->frames->len;
  p->next_pts += dur;
  GstFlowReturn ret = GST_FLOW_OK;
  g_signal_emit_by_name (src, "push-buffer", buf, &ret);
  gst_buffer_unref (buf);
}

GstElement *
tv_media_clip_source_new (const char *name, const char *path, gboolean video, int width, int height,
                          int framerate, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (GstCaps) caps = NULL;
  if (video)
    caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT, width,
                                "height", G_TYPE_INT, height, "framerate", GST_TYPE_FRACTION, framerate, 1,
                                "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, NULL);
  else
    caps = gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT, AUDIO_RATE,
                                "channels", G_TYPE_INT, 1, "layout", G_TYPE_STRING, "interleaved", NULL);
  Clip *clip = clip_get (path, video, caps, framerate, error);
  if (!clip)
    return NULL;
  GstElement *src = gst_element_factory_make ("appsrc", name);
  if (!src) {
    clip_unref (clip);
    g_set_error (error, TV_MEDIA_ERROR, TV_MEDIA_ERR_MISSING_PLUGIN,
                 "GStreamer element 'appsrc' is missing: install the Debian package gstreamer1.0-plugins-base");
    return NULL;
  }
  Player *p = g_new0 (Player, 1);
  p->clip = clip;
  p->next_pts = GST_CLOCK_TIME_NONE;
  g_object_set (src, "caps", clip->caps, "is-live", TRUE, "format", GST_FORMAT_TIME, "do-timestamp", FALSE,
                "min-latency", (gint64) 0, "max-buffers", (guint64) 1, "emit-signals", TRUE, NULL);
  g_object_set_data_full (G_OBJECT (src), "tv-clip-player", p, player_free);
  g_signal_connect (src, "need-data", G_CALLBACK (on_need_data), p);
  return src;
}
