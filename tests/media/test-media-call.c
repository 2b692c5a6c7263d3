/* test-media-call.c — two TvMediaCalls in one process, wired back to back.
 *
 * What: a real VP8+Opus call over loopback ICE (127.0.0.1 only), with SDP and
 * candidates carried between the two calls through the main loop the way the
 * client carries them over signaling; checks that frames are decoded both
 * ways, that bad input is refused with the right error codes and leaves the
 * call usable, and that freeing a call at any point is quiet.
 *
 * Threading: everything runs on the test's main context; a watchdog thread
 * aborts the test binary if a test hangs (including a deadlock inside
 * GStreamer, which a main-loop timeout could not catch).
 */
#define G_LOG_DOMAIN "test-media"

#include <string.h>
#include <sys/prctl.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

#include "media/tv-media.h"
#include "media/tv-media-private.h"

#define WAIT_TIMEOUT_MS 20000
#define WATCHDOG_S 60

static const char *const loopback[] = { "127.0.0.1", NULL };
/* Test clips the next peer_init() plays instead of the pattern and tone (NULL = none). */
static const char *peer_video_file, *peer_audio_file;

/* ---- a known GStreamer 1.22 critical ---------------------------------------- */

/* GStreamer 1.22's RTP session walks its live table of sources to build an
 * RTCP report and, for a sender whose clock rate it does not know yet (webrtcbin
 * gives rtpbin bare application/x-rtp caps), releases its lock in the middle
 * of the walk to look the rate up; a source added in that gap (the peer's
 * first packet) trips GLib's check in g_hash_table_foreach, which logs a
 * critical and ends that walk (that report goes out without the rest; the
 * next one is whole). Newer GStreamer walks a copy. Traced and counted in
 * docs/BENCHMARKS.md, "Call setup: the keyframe held from prepare, and the
 * rtpsession race ... 2026-11-29 (5)": ~0.3-0.5 % of /media/clip-call runs,
 * on every build measured. g_test makes every critical fatal, and a tolerated
 * one still prints "Bail out!", which stops prove; so this one message, from
 * that one thread, is counted instead of logged (the count is printed at the
 * end), and every other warning or critical, from any thread, stays fatal.
 * Only this file runs calls in the test process: the other call tests run
 * the client binary, where a critical is logged, as in production. */
static gint rtpsession_race_seen;

static gboolean
is_rtpsession_race (const char *domain, GLogLevelFlags level, const char *message)
{
  char thread[17] = "";
  if (g_strcmp0 (domain, "GLib") != 0 || (level & G_LOG_LEVEL_CRITICAL) == 0 || message == NULL
      || strstr (message, "g_hash_table_foreach: assertion 'version == hash_table->version' failed") == NULL)
    return FALSE;
  return prctl (PR_GET_NAME, thread, 0, 0, 0) == 0 && strcmp (thread, "rtpsession-rtcp") == 0;
}

/* g_test's fatal check (reset before every test case: set by peer_init_with). */
static gboolean
fatal_unless_rtpsession_race (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (void) data;
  return !is_rtpsession_race (domain, level, message);
}

/* GLib's messages: the race is counted, everything else logged as before. */
static void
log_glib (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (is_rtpsession_race (domain, level, message)) {
    g_atomic_int_inc (&rtpsession_race_seen);
    return;
  }
  g_log_default_handler (domain, level, message, data);
}

/* ---- watchdog ----------------------------------------------------------- */

static GMutex wd_lock;
static GCond wd_cond;
static gboolean wd_stop;
static GThread *wd_thread;

static gpointer
watchdog_main (gpointer data)
{
  const char *name = data;
  gint64 deadline = g_get_monotonic_time () + WATCHDOG_S * G_TIME_SPAN_SECOND;
  g_mutex_lock (&wd_lock);
  while (!wd_stop)
    if (!g_cond_wait_until (&wd_cond, &wd_lock, deadline) && !wd_stop) {
      g_printerr ("watchdog: test %s stuck for %d s, aborting\n", name, WATCHDOG_S);
      abort ();
    }
  g_mutex_unlock (&wd_lock);
  return NULL;
}

static void
watchdog_start (void)
{
  wd_stop = FALSE;
  wd_thread = g_thread_new ("watchdog", watchdog_main, (gpointer) g_test_get_path ());
}

static void
watchdog_stop (void)
{
  g_mutex_lock (&wd_lock);
  wd_stop = TRUE;
  g_cond_signal (&wd_cond);
  g_mutex_unlock (&wd_lock);
  g_thread_join (wd_thread);
}

/* ---- a peer ------------------------------------------------------------- */

typedef struct Peer Peer;
struct Peer {
  const char *name;
  TvMediaCall *call;
  Peer *other;
  gboolean freed;          /* set when we free the call: any callback after it fails */
  gboolean relay_sdp;      /* pass local SDP to the other side (else keep it) */
  gboolean relay_cand;     /* pass local candidates to the other side (else keep them) */
  char *kept_sdp_type, *kept_sdp;
  GPtrArray *kept_cands;   /* "mline\tcandidate" */
  TvMediaState state;
  guint errors;
  gboolean first_frame;
  guint sdp_count;
};

typedef struct {
  Peer *to;
  char *type;      /* SDP type, or NULL for a candidate */
  char *text;
  guint mline;
} Relay;

static void
relay_free (gpointer data)
{
  Relay *r = data;
  g_free (r->type);
  g_free (r->text);
  g_free (r);
}

/* Runs on the main loop, like a message arriving from signaling. */
static gboolean
relay_deliver (gpointer data)
{
  Relay *r = data;
  GError *err = NULL;
  if (!r->to->call)
    return G_SOURCE_REMOVE;
  gboolean ok = r->type ? tv_media_call_set_remote_sdp (r->to->call, r->type, r->text, &err)
                        : tv_media_call_add_remote_candidate (r->to->call, r->mline, r->text, &err);
  g_assert_no_error (err);
  g_assert_true (ok);
  return G_SOURCE_REMOVE;
}

static void
relay (Peer *to, const char *type, const char *text, guint mline)
{
  Relay *r = g_new0 (Relay, 1);
  r->to = to;
  r->type = g_strdup (type);
  r->text = g_strdup (text);
  r->mline = mline;
  g_idle_add_full (G_PRIORITY_DEFAULT, relay_deliver, r, relay_free);
}

static void
on_local_sdp (TvMediaCall *call, const char *type, const char *sdp, gpointer user_data)
{
  Peer *p = user_data;
  g_assert_false (p->freed);
  g_assert_true (call == p->call);
  g_assert_nonnull (sdp);
  g_assert_true (g_str_has_prefix (sdp, "v=0"));
  p->sdp_count++;
  if (p->relay_sdp && p->other) {
    relay (p->other, type, sdp, 0);
  } else {
    g_free (p->kept_sdp_type);
    g_free (p->kept_sdp);
    p->kept_sdp_type = g_strdup (type);
    p->kept_sdp = g_strdup (sdp);
  }
}

static void
on_local_candidate (TvMediaCall *call, guint mline, const char *candidate, gpointer user_data)
{
  Peer *p = user_data;
  g_assert_false (p->freed);
  g_assert_true (call == p->call);
  if (p->relay_cand && p->other)
    relay (p->other, NULL, candidate, mline);
  else
    g_ptr_array_add (p->kept_cands, g_strdup_printf ("%u\t%s", mline, candidate));
}

static void
on_state (TvMediaCall *call, TvMediaState state, gpointer user_data)
{
  Peer *p = user_data;
  g_assert_false (p->freed);
  g_test_message ("%s: state %s", p->name, tv_media_state_to_string (state));
  p->state = state;
}

static void
on_error (TvMediaCall *call, const GError *error, gpointer user_data)
{
  Peer *p = user_data;
  g_assert_false (p->freed);
  g_test_message ("%s: error %d: %s", p->name, error->code, error->message);
  p->errors++;
}

static void
on_first_frame (TvMediaCall *call, gpointer user_data)
{
  Peer *p = user_data;
  g_assert_false (p->freed);
  p->first_frame = TRUE;
}

static const TvMediaCallbacks callbacks = {
  .local_sdp = on_local_sdp,
  .local_candidate = on_local_candidate,
  .state_changed = on_state,
  .error = on_error,
  .first_remote_frame = on_first_frame,
};

static void
peer_init_with (Peer *p, const char *name, Peer *other, guint stall_fail_ms)
{
  g_test_log_set_fatal_handler (fatal_unless_rtpsession_race, NULL);
  memset (p, 0, sizeof *p);
  p->name = name;
  p->other = other;
  p->relay_sdp = TRUE;
  p->relay_cand = TRUE;
  p->kept_cands = g_ptr_array_new_with_free_func (g_free);

  TvMediaConfig cfg = { 0 };
  cfg.test_media = TRUE;
  cfg.headless = TRUE;
  cfg.local_addresses = loopback;
  cfg.stall_fail_ms = stall_fail_ms;
  cfg.video_file = peer_video_file;
  cfg.audio_file = peer_audio_file;
  /* Manual check of the windowed pipeline (needs a display and speakers). */
  if (g_getenv ("TV_MEDIA_TEST_WINDOWED")) {
    cfg.headless = FALSE;
    cfg.window_title = name;
  }
  /* For setup-time experiments: TV_MEDIA_TEST_LATENCY_MS=20 etc. */
  if (g_getenv ("TV_MEDIA_TEST_LATENCY_MS"))
    cfg.latency_ms = (guint) g_ascii_strtoull (g_getenv ("TV_MEDIA_TEST_LATENCY_MS"), NULL, 10);
  GError *err = NULL;
  p->call = tv_media_call_new (&cfg, &callbacks, p, &err);
  g_assert_no_error (err);
  g_assert_nonnull (p->call);
}

static void
peer_init (Peer *p, const char *name, Peer *other)
{
  peer_init_with (p, name, other, 0);
}

static void
peer_free_call (Peer *p)
{
  p->freed = TRUE;
  g_clear_pointer (&p->call, tv_media_call_free);
}

static void
peer_clear (Peer *p)
{
  peer_free_call (p);
  g_free (p->kept_sdp_type);
  g_free (p->kept_sdp);
  g_ptr_array_unref (p->kept_cands);
}

static void
peer_start (Peer *p, gboolean offerer)
{
  GError *err = NULL;
  g_assert_true (tv_media_call_start (p->call, offerer, &err));
  g_assert_no_error (err);
}

/* Hands over what @from kept back to @to (SDP first or last). */
static void
flush_candidates (Peer *from, Peer *to)
{
  for (guint i = 0; i < from->kept_cands->len; i++) {
    char **f = g_strsplit (g_ptr_array_index (from->kept_cands, i), "\t", 2);
    relay (to, NULL, f[1], (guint) g_ascii_strtoull (f[0], NULL, 10));
    g_strfreev (f);
  }
  g_ptr_array_set_size (from->kept_cands, 0);
}

/* ---- waiting on events -------------------------------------------------- */

typedef gboolean (*Predicate) (gpointer data);

static gboolean
timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main loop until @pred holds or @timeout_ms passes. */
static gboolean
wait_for (Predicate pred, gpointer data, guint timeout_ms)
{
  gboolean expired = FALSE;
  guint id = g_timeout_add (timeout_ms, timed_out, &expired);
  while (!pred (data) && !expired)
    g_main_context_iteration (NULL, TRUE);
  if (!expired)
    g_source_remove (id);
  return pred (data);
}

/* Dispatches everything that is ready now (queued idles), without blocking. */
static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

typedef struct {
  Peer *a, *b;
  guint64 frames, buffers;
} Pair;

static gboolean
both_decoded (gpointer data)
{
  Pair *pr = data;
  TvMediaStats sa, sb;
  tv_media_call_get_stats (pr->a->call, &sa);
  tv_media_call_get_stats (pr->b->call, &sb);
  return sa.video_frames_decoded >= pr->frames && sb.video_frames_decoded >= pr->frames
         && sa.audio_buffers_decoded >= pr->buffers && sb.audio_buffers_decoded >= pr->buffers;
}

static gboolean
both_connected (gpointer data)
{
  Pair *pr = data;
  return pr->a->state == TV_MEDIA_STATE_CONNECTED && pr->b->state == TV_MEDIA_STATE_CONNECTED;
}

static gboolean
stats_flow (gpointer data)
{
  Pair *pr = data;
  TvMediaStats sa, sb;
  tv_media_call_get_stats (pr->a->call, &sa);
  tv_media_call_get_stats (pr->b->call, &sb);
  return sa.bytes_sent > 0 && sa.bytes_received > 0 && sb.bytes_sent > 0 && sb.bytes_received > 0
         && sa.bitrate_in_kbps > 0 && sb.bitrate_in_kbps > 0;
}

static gboolean
has_sdp (gpointer data)
{
  return ((Peer *) data)->kept_sdp != NULL;
}

static void
check_stats_json (Peer *p)
{
  TvMediaStats st;
  tv_media_call_get_stats (p->call, &st);
  char *json = tv_media_stats_to_json (&st);
  g_test_message ("%s stats: %s", p->name, json);
  JsonParser *parser = json_parser_new ();
  GError *err = NULL;
  g_assert_true (json_parser_load_from_data (parser, json, -1, &err));
  g_assert_no_error (err);
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (o, "bytes_sent"), >, 0);
  g_assert_cmpint (json_object_get_int_member (o, "bytes_received"), >, 0);
  g_assert_cmpint (json_object_get_int_member (o, "packets_sent"), >, 0);
  g_assert_cmpint (json_object_get_int_member (o, "packets_received"), >, 0);
  g_assert_cmpint (json_object_get_int_member (o, "video_frames_decoded"), >=, 60);
  g_assert_cmpint (json_object_get_int_member (o, "audio_buffers_decoded"), >=, 100);
  g_assert_cmpint (json_object_get_int_member (o, "video_frames_sent"), >, 0);
  g_assert_cmpint (json_object_get_int_member (o, "packets_lost"), >=, 0);
  g_assert_cmpfloat (json_object_get_double_member (o, "jitter_ms"), >=, 0);
  g_assert_cmpfloat (json_object_get_double_member (o, "bitrate_in_kbps"), >, 0);
  g_assert_cmpfloat (json_object_get_double_member (o, "bitrate_in_kbps"), <, 20000);
  g_assert_true (json_object_has_member (o, "rtt_ms"));
  gint64 first = json_object_get_int_member (o, "first_remote_frame_us");
  gint64 started = json_object_get_int_member (o, "started_us");
  g_assert_cmpint (started, >, 0);
  g_assert_cmpint (first, >, started);
  /* Smoothness fields: the last frame after the first, gaps measured, video
   * bytes counted at the payloader. */
  g_assert_cmpint (json_object_get_int_member (o, "last_remote_frame_us"), >, first);
  g_assert_cmpint (json_object_get_int_member (o, "video_max_gap_us"), >, 0);
  g_assert_cmpint (json_object_get_int_member (o, "video_max_gap_end_us"), >, first);
  g_assert_cmpint (json_object_get_int_member (o, "video_freezes"), >=, 0);
  g_assert_cmpint (json_object_get_int_member (o, "video_bytes_sent"), >, 0);
  /* At least 60 frames went out: a few kB of VP8 even for a still picture. */
  g_assert_cmpint (json_object_get_int_member (o, "video_bytes_sent"), >, 10000);
  g_object_unref (parser);
  g_free (json);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_plugins (void)
{
  GError *err = NULL;
  TvMediaConfig cfg = { .test_media = TRUE, .headless = TRUE };
  g_assert_true (tv_media_check_plugins (&cfg, &err));
  g_assert_no_error (err);
  cfg.headless = FALSE;
  cfg.test_media = FALSE;
  g_assert_true (tv_media_check_plugins (&cfg, &err));
  g_assert_no_error (err);
}

/* A call that went without error and negotiated exactly once: checks that,
 * frees both peers and stops the watchdog. */
static void
end_clean_call (Peer *a, Peer *b)
{
  g_assert_cmpuint (a->errors, ==, 0);
  g_assert_cmpuint (b->errors, ==, 0);
  g_assert_cmpuint (a->sdp_count, ==, 1);
  g_assert_cmpuint (b->sdp_count, ==, 1);
  peer_clear (a);
  peer_clear (b);
  drain ();
  watchdog_stop ();
}

static void
test_call (void)
{
  Peer a, b;
  watchdog_start ();
  /* Measure call setup the way the client sees it: it calls
   * tv_media_prewarm() at start-up, long before the call, so the DTLS
   * certificate exists. Creating a dtlsdec waits for that prewarm to finish. */
  tv_media_prewarm ();
  gst_object_unref (gst_object_ref_sink (gst_element_factory_make ("dtlsdec", NULL)));
  peer_init (&a, "doctor", &b);
  peer_init (&b, "patient", &a);
  peer_start (&b, FALSE);
  peer_start (&a, TRUE);

  Pair pr = { &a, &b, 60, 100 };
  g_assert_true (wait_for (both_decoded, &pr, WAIT_TIMEOUT_MS));
  g_assert_true (wait_for (both_connected, &pr, WAIT_TIMEOUT_MS));
  g_assert_cmpint (tv_media_call_get_state (a.call), ==, TV_MEDIA_STATE_CONNECTED);
  g_assert_cmpint (tv_media_call_get_state (b.call), ==, TV_MEDIA_STATE_CONNECTED);
  g_assert_true (a.first_frame && b.first_frame);
  g_assert_true (wait_for (stats_flow, &pr, WAIT_TIMEOUT_MS));
  check_stats_json (&a);
  check_stats_json (&b);

  TvMediaStats sa, sb;
  tv_media_call_get_stats (a.call, &sa);
  tv_media_call_get_stats (b.call, &sb);
  g_test_message ("first remote frame after start: offerer %.1f ms, answerer %.1f ms",
                  (sa.first_remote_frame_us - sa.started_us) / 1000.0,
                  (sb.first_remote_frame_us - sb.started_us) / 1000.0);
  if (g_getenv ("TV_MEDIA_PRINT_SETUP"))
    g_printerr ("first-frame-ms %.1f %.1f\n", (sa.first_remote_frame_us - sa.started_us) / 1000.0,
                (sb.first_remote_frame_us - sb.started_us) / 1000.0);

  /* Mute both ways: media keeps flowing (black frames, silent audio). */
  tv_media_call_set_video_muted (a.call, TRUE);
  tv_media_call_set_audio_muted (a.call, TRUE);
  pr.frames = sb.video_frames_decoded + 15;
  pr.buffers = sb.audio_buffers_decoded + 25;
  g_assert_true (wait_for (both_decoded, &pr, WAIT_TIMEOUT_MS));
  tv_media_call_set_video_muted (a.call, FALSE);
  tv_media_call_set_audio_muted (a.call, FALSE);

  end_clean_call (&a, &b);
}

/* Both pipelines PLAYING before the call (the client's "spare" call while it
 * waits for the other party), their media ready (tv_media_call_wait_ready):
 * nothing is negotiated until start, the setup
 * clock (started_us) starts at tv_media_call_start(), and the call then
 * connects and decodes both ways as usual. */
static void
test_prepared_call (void)
{
  Peer a, b;
  GError *err = NULL;
  watchdog_start ();
  peer_init (&a, "doctor", &b);
  peer_init (&b, "patient", &a);
  g_assert_false (tv_media_call_wait_ready (a.call, 0));  /* not prepared: nothing to wait for */
  g_assert_true (tv_media_call_prepare (a.call, &err));
  g_assert_no_error (err);
  g_assert_true (tv_media_call_prepare (b.call, &err));
  g_assert_true (tv_media_call_prepare (b.call, &err));   /* idempotent */
  g_assert_no_error (err);
  /* Media flowing up to webrtcbin (a first video frame encoded), still
   * nothing negotiated. */
  g_assert_true (tv_media_call_wait_ready (a.call, WAIT_TIMEOUT_MS));
  g_assert_true (tv_media_call_wait_ready (b.call, WAIT_TIMEOUT_MS));
  drain ();
  g_assert_cmpuint (a.sdp_count + b.sdp_count, ==, 0);
  g_assert_cmpint (tv_media_call_get_state (a.call), ==, TV_MEDIA_STATE_NEW);
  gint64 prepared_us = g_get_monotonic_time ();

  peer_start (&b, FALSE);
  peer_start (&a, TRUE);
  Pair pr = { &a, &b, 30, 50 };
  g_assert_true (wait_for (both_decoded, &pr, WAIT_TIMEOUT_MS));
  g_assert_true (wait_for (both_connected, &pr, WAIT_TIMEOUT_MS));

  TvMediaStats sa, sb;
  tv_media_call_get_stats (a.call, &sa);
  tv_media_call_get_stats (b.call, &sb);
  g_assert_cmpint (sa.started_us, >=, prepared_us);
  g_assert_cmpint (sb.started_us, >=, prepared_us);
  g_assert_cmpint (sa.first_remote_frame_us, >, sa.started_us);
  g_assert_cmpint (sb.first_remote_frame_us, >, sb.started_us);
  end_clean_call (&a, &b);
}

/* Writes a file with a GStreamer pipeline description ending in "filesink location=@path". */
static void
write_with_pipeline (const char *desc, const char *path)
{
  GError *err = NULL;
  g_autofree char *full = g_strdup_printf ("%s ! filesink location=\"%s\"", desc, path);
  GstElement *pipe = gst_parse_launch (full, &err);
  g_assert_no_error (err);
  g_assert_cmpint (gst_element_set_state (pipe, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  g_assert_cmpint (GST_MESSAGE_TYPE (msg), ==, GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}

/* Test clips instead of the pattern and tone (TvMediaConfig.video_file and
 * audio_file, what `make bench` feeds both sides): a 10-frame 320x240 y4m
 * clip (scaled to 640x480) and 200 ms of WAV play in a loop, so the call
 * decodes far more frames and audio buffers than the clips hold. A file that
 * is not a clip fails tv_media_call_new() with DEVICE naming it. */
static void
test_clip_call (void)
{
  Peer a, b;
  GError *err = NULL;
  gst_init (NULL, NULL); /* the media module inits lazily; the clips are written first */
  g_autofree char *dir = g_dir_make_tmp ("tv-media-clip-XXXXXX", &err);
  g_assert_no_error (err);
  g_autofree char *y4m = g_build_filename (dir, "clip.y4m", NULL);
  g_autofree char *wav = g_build_filename (dir, "tone.wav", NULL);
  g_autofree char *junk = g_build_filename (dir, "junk.y4m", NULL);
  write_with_pipeline ("videotestsrc num-buffers=10 pattern=smpte ! video/x-raw,format=I420,width=320,height=240,"
                       "framerate=30/1 ! y4menc", y4m);
  write_with_pipeline ("audiotestsrc num-buffers=10 samplesperbuffer=960 ! audio/x-raw,format=S16LE,rate=48000,"
                       "channels=1 ! wavenc", wav);
  g_assert_true (g_file_set_contents (junk, "not a clip\n", -1, NULL));

  watchdog_start ();
  TvMediaConfig bad = { .test_media = TRUE, .headless = TRUE, .local_addresses = loopback, .video_file = junk };
  TvMediaCall *call = tv_media_call_new (&bad, &callbacks, NULL, &err);
  g_assert_null (call);
  g_assert_error (err, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE);
  g_assert_nonnull (strstr (err->message, junk));
  g_clear_error (&err);

  peer_video_file = y4m;
  peer_audio_file = wav;
  peer_init (&a, "doctor", &b);
  peer_init (&b, "patient", &a);
  peer_video_file = peer_audio_file = NULL;
  peer_start (&b, FALSE);
  peer_start (&a, TRUE);
  Pair pr = { &a, &b, 60, 100 };
  g_assert_true (wait_for (both_decoded, &pr, WAIT_TIMEOUT_MS));
  g_assert_true (wait_for (both_connected, &pr, WAIT_TIMEOUT_MS));
  end_clean_call (&a, &b);

  g_assert_cmpint (g_unlink (y4m), ==, 0);
  g_assert_cmpint (g_unlink (wav), ==, 0);
  g_assert_cmpint (g_unlink (junk), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* Opus in-band FEC follows the measured loss in WebRTC's steps, with
 * margins so that a loss at a step does not flip the encoder back and forth. */
static void
test_opus_expected_loss (void)
{
  g_assert_cmpint (tv_media_opus_expected_loss (0, 0.0), ==, 0);
  g_assert_cmpint (tv_media_opus_expected_loss (0, 0.009), ==, 0);
  g_assert_cmpint (tv_media_opus_expected_loss (0, 0.01), ==, 1);
  g_assert_cmpint (tv_media_opus_expected_loss (0, 0.055), ==, 1);  /* 5 % needs 6 % to be taken */
  g_assert_cmpint (tv_media_opus_expected_loss (0, 0.065), ==, 5);
  g_assert_cmpint (tv_media_opus_expected_loss (5, 0.045), ==, 5);  /* and is kept down to 4 % */
  g_assert_cmpint (tv_media_opus_expected_loss (5, 0.035), ==, 1);
  g_assert_cmpint (tv_media_opus_expected_loss (10, 0.095), ==, 10);
  g_assert_cmpint (tv_media_opus_expected_loss (0, 0.5), ==, 20);
  g_assert_cmpint (tv_media_opus_expected_loss (20, 0.185), ==, 20);
  g_assert_cmpint (tv_media_opus_expected_loss (20, 0.17), ==, 10);
  g_assert_cmpint (tv_media_opus_expected_loss (1, 0.0), ==, 0);
}

/* The jitter-buffer latency and NACK retry interval: a clean link (or one
 * with no RTT measured yet) keeps the configured latency and the jitter
 * buffer's own retry; a lossy one waits two round trips more and asks three
 * times, the third answer back before the latency runs out. */
static void
test_jitter_plan (void)
{
  g_assert_cmpuint (tv_media_jitter_latency (50, 200.0, FALSE, 1000), ==, 50); /* long, clean */
  g_assert_cmpint (tv_media_rtx_retry_ms (50, 200.0, FALSE), ==, -1);
  g_assert_cmpuint (tv_media_jitter_latency (50, -1.0, TRUE, 1000), ==, 50); /* lossy, no RTT yet */
  g_assert_cmpint (tv_media_rtx_retry_ms (50, -1.0, TRUE), ==, -1);
  /* The bench's delayed call: requests at 0, 115, 230 ms, the third answer
   * back by 430; the second request goes before the first answer. */
  g_assert_cmpuint (tv_media_jitter_latency (50, 200.0, TRUE, 1000), ==, 450);
  g_assert_cmpint (tv_media_rtx_retry_ms (450, 200.0, TRUE), ==, 115);
  g_assert_cmpint (tv_media_rtx_retry_ms (440, 200.0, TRUE), ==, 110); /* the latency in force, within a step */
  g_assert_cmpuint (tv_media_jitter_latency (50, 1.0, TRUE, 1000), ==, 52); /* lossy LAN */
  g_assert_cmpint (tv_media_rtx_retry_ms (52, 1.0, TRUE), ==, 15);
  g_assert_cmpint (tv_media_rtx_retry_ms (50, 1.0, TRUE), ==, 14);
  g_assert_cmpint (tv_media_rtx_retry_ms (40, 1.0, TRUE), ==, 10); /* the floor */
  g_assert_cmpuint (tv_media_jitter_latency (50, 600.0, TRUE, 1000), ==, 1000); /* capped */
  g_assert_cmpint (tv_media_rtx_retry_ms (1000, 600.0, TRUE), ==, 190);
  g_assert_cmpint (tv_media_rtx_retry_ms (1000, 990.0, TRUE), ==, -1); /* no answer in time: its own */
  g_assert_cmpuint (tv_media_jitter_latency (2000, 200.0, TRUE, 1000), ==, 2000); /* configured above the cap */
  g_assert_cmpint (tv_media_rtx_retry_ms (2000, 200.0, TRUE), ==, 890);
}

/* The offer with every line starting with @prefix removed. */
static char *
strip_lines (const char *sdp, const char *prefix)
{
  char **lines = g_strsplit (sdp, "\r\n", -1);
  GString *out = g_string_new (NULL);
  for (guint i = 0; lines[i]; i++)
    if (*lines[i] && !g_str_has_prefix (lines[i], prefix))
      g_string_append_printf (out, "%s\r\n", lines[i]);
  g_strfreev (lines);
  return g_string_free (out, FALSE);
}

static char *
replace_once (const char *s, const char *from, const char *to)
{
  const char *at = strstr (s, from);
  g_assert_nonnull (at);
  return g_strdup_printf ("%.*s%s%s", (int) (at - s), s, to, at + strlen (from));
}

static void
expect_sdp_error (Peer *p, const char *type, const char *sdp, int code)
{
  GError *err = NULL;
  g_assert_false (tv_media_call_set_remote_sdp (p->call, type, sdp, &err));
  g_assert_error (err, TV_MEDIA_ERROR, code);
  g_test_message ("%s refused %s: %s", p->name, type, err->message);
  g_clear_error (&err);
}

static void
expect_candidate_error (Peer *p, guint mline, const char *cand)
{
  GError *err = NULL;
  g_assert_false (tv_media_call_add_remote_candidate (p->call, mline, cand, &err));
  g_assert_error (err, TV_MEDIA_ERROR, TV_MEDIA_ERR_BAD_CANDIDATE);
  g_clear_error (&err);
}

static void
test_bad_input (void)
{
  Peer a, b;
  watchdog_start ();
  peer_init (&a, "doctor", &b);
  peer_init (&b, "patient", &a);
  a.relay_sdp = FALSE;  /* keep the offer to play with it */
  a.relay_cand = FALSE; /* and its candidates, to deliver them early */

  /* Not started yet: nothing is accepted. */
  expect_sdp_error (&b, "offer", "v=0\r\n", TV_MEDIA_ERR_WRONG_STATE);

  peer_start (&b, FALSE);
  peer_start (&a, TRUE);
  /* The offer is being created: an answer now has nothing to answer. */
  expect_sdp_error (&a, "answer", "v=0\r\n", TV_MEDIA_ERR_WRONG_STATE);
  g_assert_true (wait_for (has_sdp, &a, WAIT_TIMEOUT_MS));
  g_assert_cmpstr (a.kept_sdp_type, ==, "offer");
  const char *offer = a.kept_sdp;

  /* Wrong direction / wrong state. */
  expect_sdp_error (&b, "answer", offer, TV_MEDIA_ERR_WRONG_STATE);
  expect_sdp_error (&a, "offer", offer, TV_MEDIA_ERR_WRONG_STATE);
  expect_sdp_error (&b, "pranswer", offer, TV_MEDIA_ERR_BAD_SDP);

  /* Malformed offers. */
  expect_sdp_error (&b, "offer", "", TV_MEDIA_ERR_BAD_SDP);
  expect_sdp_error (&b, "offer", "garbage \x01\x02 not sdp at all", TV_MEDIA_ERR_BAD_SDP);
  expect_sdp_error (&b, "offer", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", TV_MEDIA_ERR_BAD_SDP);
  char *bad = strip_lines (offer, "a=fingerprint");
  expect_sdp_error (&b, "offer", bad, TV_MEDIA_ERR_BAD_SDP);
  g_free (bad);
  bad = strip_lines (offer, "a=ice-ufrag");
  expect_sdp_error (&b, "offer", bad, TV_MEDIA_ERR_BAD_SDP);
  g_free (bad);
  bad = strip_lines (offer, "a=mid");
  expect_sdp_error (&b, "offer", bad, TV_MEDIA_ERR_BAD_SDP);
  g_free (bad);
  bad = strip_lines (offer, "m=audio");
  expect_sdp_error (&b, "offer", bad, TV_MEDIA_ERR_BAD_SDP);
  g_free (bad);
  bad = replace_once (offer, "a=fingerprint:sha-256 ", "a=fingerprint:sha-256 ZZ:");
  expect_sdp_error (&b, "offer", bad, TV_MEDIA_ERR_BAD_SDP);
  g_free (bad);
  bad = replace_once (offer, "VP8/90000", "VP9/90000");
  expect_sdp_error (&b, "offer", bad, TV_MEDIA_ERR_BAD_SDP);
  g_free (bad);
  bad = replace_once (offer, "UDP/TLS/RTP/SAVPF", "RTP/AVP");
  expect_sdp_error (&b, "offer", bad, TV_MEDIA_ERR_BAD_SDP);
  g_free (bad);

  /* Malformed candidates. */
  expect_candidate_error (&b, 0, "garbage");
  expect_candidate_error (&b, 0, "candidate:");
  expect_candidate_error (&b, 0, "candidate:1 1 udp 2122260223 999.1.1.1 5000 typ host");
  expect_candidate_error (&b, 0, "candidate:1 1 udp 2122260223 127.0.0.1 70000 typ host");
  expect_candidate_error (&b, 0, "candidate:1 1 sctp 2122260223 127.0.0.1 5000 typ host");
  expect_candidate_error (&b, 0, "candidate:1 1 udp -5 127.0.0.1 5000 typ host");
  expect_candidate_error (&b, 0, "candidate:1 1 udp 1 127.0.0.1 5000 type host");
  expect_candidate_error (&b, 0, "candidate:1 1 udp 1 127.0.0.1 5000 typ bogus");
  expect_candidate_error (&b, 16, "candidate:1 1 udp 1 127.0.0.1 5000 typ host");
  /* End of candidates is fine. */
  GError *err = NULL;
  g_assert_true (tv_media_call_add_remote_candidate (b.call, 0, "", &err));
  g_assert_no_error (err);

  /* Nothing above reached webrtcbin: a good negotiation still completes.
   * The candidates go first, so they are queued until the offer is set. */
  a.relay_sdp = TRUE;
  a.relay_cand = TRUE;
  flush_candidates (&a, &b);
  relay (&b, "offer", offer, 0);

  Pair pr = { &a, &b, 10, 20 };
  g_assert_true (wait_for (both_decoded, &pr, WAIT_TIMEOUT_MS));
  g_assert_true (wait_for (both_connected, &pr, WAIT_TIMEOUT_MS));
  g_assert_cmpuint (a.errors, ==, 0);
  g_assert_cmpuint (b.errors, ==, 0);

  /* After the exchange: another answer is out of order, candidates for an
   * m-line the description does not have are refused. */
  expect_sdp_error (&a, "answer", offer, TV_MEDIA_ERR_WRONG_STATE);
  expect_candidate_error (&b, 5, "candidate:1 1 udp 1 127.0.0.1 5000 typ host");

  peer_clear (&a);
  peer_clear (&b);
  drain ();
  watchdog_stop ();
}

static gboolean
answer_seen (gpointer data)
{
  return ((Peer *) data)->sdp_count > 0;
}

static gboolean
connecting_or_later (gpointer data)
{
  Peer *p = data;
  return p->state >= TV_MEDIA_STATE_CONNECTING;
}

/* Freeing a call at each stage of a negotiation: no crash, no callback of the
 * freed call afterwards (its callbacks assert), the other call unaffected. */
static void
test_free_midway (void)
{
  watchdog_start ();
  for (int stage = 0; stage < 5; stage++) {
    Peer a, b;
    peer_init (&a, "doctor", &b);
    peer_init (&b, "patient", &a);
    switch (stage) {
    case 0: /* built, never started */
      peer_free_call (&a);
      break;
    case 1: /* offer being created */
      peer_start (&b, FALSE);
      peer_start (&a, TRUE);
      peer_free_call (&a);
      break;
    case 2: /* offer applied, answer being created */
      a.relay_sdp = FALSE;
      peer_start (&b, FALSE);
      peer_start (&a, TRUE);
      g_assert_true (wait_for (has_sdp, &a, WAIT_TIMEOUT_MS));
      g_assert_true (tv_media_call_set_remote_sdp (b.call, "offer", a.kept_sdp, NULL));
      peer_free_call (&b);
      break;
    case 3: /* answer just handed over, ICE starting */
      peer_start (&b, FALSE);
      peer_start (&a, TRUE);
      g_assert_true (wait_for (answer_seen, &b, WAIT_TIMEOUT_MS));
      peer_free_call (&a);
      break;
    case 4: /* connecting: free both */
      peer_start (&b, FALSE);
      peer_start (&a, TRUE);
      g_assert_true (wait_for (connecting_or_later, &a, WAIT_TIMEOUT_MS));
      peer_free_call (&a);
      peer_free_call (&b);
      break;
    }
    /* Everything the freed call had queued runs now, and must stay silent. */
    drain ();
    peer_clear (&a);
    peer_clear (&b);
    drain ();
  }
  watchdog_stop ();
}

static gboolean
is_disconnected (gpointer data)
{
  return ((Peer *) data)->state == TV_MEDIA_STATE_DISCONNECTED;
}

static gboolean
is_failed (gpointer data)
{
  Peer *p = data;
  return p->state == TV_MEDIA_STATE_FAILED && p->errors > 0;
}

/* webrtcbin never notices a vanished peer by itself; the stall watch does:
 * DISCONNECTED after 2 s without remote media, FAILED (+ ICE_FAILED) later. */
static void
test_peer_vanishes (void)
{
  Peer a, b;
  watchdog_start ();
  peer_init_with (&a, "doctor", &b, 4000);
  peer_init (&b, "patient", &a);
  peer_start (&b, FALSE);
  peer_start (&a, TRUE);
  Pair pr = { &a, &b, 10, 20 };
  g_assert_true (wait_for (both_decoded, &pr, WAIT_TIMEOUT_MS));
  g_assert_true (wait_for (both_connected, &pr, WAIT_TIMEOUT_MS));

  gint64 gone = g_get_monotonic_time ();
  peer_free_call (&b);
  a.other = NULL;
  g_assert_true (wait_for (is_disconnected, &a, 5000));
  gint64 noticed = g_get_monotonic_time ();
  g_assert_cmpint (noticed - gone, >=, 1900 * 1000);
  g_assert_cmpuint (a.errors, ==, 0);
  g_assert_true (wait_for (is_failed, &a, 5000));
  g_assert_cmpint (tv_media_call_get_state (a.call), ==, TV_MEDIA_STATE_FAILED);
  g_assert_cmpuint (a.errors, ==, 1);
  g_test_message ("peer gone: disconnected after %.1f s, failed after %.1f s",
                  (noticed - gone) / 1e6, (g_get_monotonic_time () - gone) / 1e6);
  peer_clear (&a);
  peer_clear (&b);
  drain ();
  watchdog_stop ();
}

static void
test_no_device (void)
{
  /* Only meaningful on a machine without camera (like CI). */
  TvMediaConfig cfg = { .test_media = FALSE, .headless = TRUE, .local_addresses = loopback };
  GError *err = NULL;
  TvMediaCall *call = tv_media_call_new (&cfg, &callbacks, NULL, &err);
  if (call) {
    g_test_skip ("this machine has a camera and a microphone");
    tv_media_call_free (call);
    return;
  }
  g_assert_error (err, TV_MEDIA_ERROR, TV_MEDIA_ERR_DEVICE);
  g_test_message ("no device: %s", err->message);
  g_clear_error (&err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_set_handler ("GLib", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION, log_glib, NULL);
  g_test_add_func ("/media/plugins", test_plugins);
  g_test_add_func ("/media/call", test_call);
  g_test_add_func ("/media/prepared-call", test_prepared_call);
  g_test_add_func ("/media/clip-call", test_clip_call);
  g_test_add_func ("/media/opus-expected-loss", test_opus_expected_loss);
  g_test_add_func ("/media/jitter-plan", test_jitter_plan);
  g_test_add_func ("/media/bad-input", test_bad_input);
  g_test_add_func ("/media/free-midway", test_free_midway);
  g_test_add_func ("/media/peer-vanishes", test_peer_vanishes);
  g_test_add_func ("/media/no-device", test_no_device);
  int rc = g_test_run ();
  if (g_atomic_int_get (&rtpsession_race_seen) > 0)
    g_print ("# GStreamer 1.22 rtpsession race (see is_rtpsession_race) seen %d time(s), not fatal\n",
             g_atomic_int_get (&rtpsession_race_seen));
  return rc;
}
