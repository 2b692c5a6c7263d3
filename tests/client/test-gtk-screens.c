/* test-gtk-screens.c — the desktop window (televisit-client --gui) under Xvfb.
 *
 * Real server, real clients, a private X server: each case starts `Xvfb
 * -displayfd` (it picks a free display number and writes it when ready) and
 * runs the window there with --test-media and --screenshot-dir, driving it
 * through its stdin test commands and following its stdout progress lines.
 *
 *  - start and pre-call check: the start screen at the size client.ini
 *    remembers (screenshot); the check
 *    with the test sources plays the preview, moves the microphone meter
 *    and reaches the server (screenshot); a pasted join link that is not one
 *    is refused with a message, a real one joins the waiting room and
 *    hanging up comes back to the start screen, a bare token with the
 *    server of the form joins too; a patient who logs in sees
 *    their upcoming visit (screenshot) and joins it from the list.
 *  - pre-call check without camera or microphone: says so.
 *  - patient: the window joins with the patient's token and shows the
 *    waiting room (screenshot); a headless doctor joins and admits; the call
 *    view shows the remote video (screenshots until the video area's pixels
 *    differ from the first one: moving test video, and not a blank area);
 *    chat both ways (the doctor's in the panel, the patient's at the doctor);
 *    mute makes the doctor's client report the patient's audio silent, unmute
 *    makes it sound again; the server is killed (the window shows the
 *    reconnecting banner: screenshot) and restarted on the same port, both
 *    rejoin and the call runs again; hang up leaves with exit 0.
 *  - doctor: the window logs in (--password-file), shows the queue
 *    (screenshot); the patient arrives, the window rings and notifies (an
 *    "alert patient arrived" line) and lists them waiting (screenshot);
 *    "admit 1" starts the call (screenshot with video), the billing facts
 *    (audio only, elsewhere, new patient) are saved, "send-back" returns
 *    the patient to the waiting room and "admit" starts a new call, "end" ends the
 *    consult (the store says completed) and the window closes (--once).
 *
 * With TV_GTK_SCREENSHOTS_OUT=DIR the screenshots are copied to DIR (how
 * docs/screenshots/ is made). Heavy (X server, real calls): run under the
 * shared lock. Waits are event-driven under a watchdog. Main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define EVENT_TIMEOUT_MS 30000
#define EXIT_TIMEOUT_MS 30000
#define VIDEO_SIZE "320x240"

/* ---- Xvfb ------------------------------------------------------------------ */

typedef struct {
  GSubprocess *proc;
  char *display;  /* ":N" */
} Xserver;

static Xserver *
xvfb_start (void)
{
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autofree char *n = NULL;
  Xserver *x = g_new0 (Xserver, 1);
  int fds[2];

  g_assert_cmpint (g_unix_open_pipe (fds, FD_CLOEXEC, NULL) ? 0 : -1, ==, 0);
  g_subprocess_launcher_take_fd (l, fds[1], 3);
  g_subprocess_launcher_set_child_setup (l, tv_test_client_child_setup_, NULL, NULL);
  x->proc = g_subprocess_launcher_spawn (l, &error, "Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24",
                                         "-nolisten", "tcp", "-nolisten", "unix", "-noreset", NULL);
  g_assert_no_error (error);
  /* Xvfb writes the display number once it accepts clients (the watchdog
   * covers a hang). */
  in = g_unix_input_stream_new (fds[0], TRUE);
  lines = g_data_input_stream_new (in);
  n = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (n);
  x->display = g_strdup_printf (":%s", g_strstrip (n));
  g_test_message ("Xvfb on display %s", x->display);
  return x;
}

static void
xvfb_stop (Xserver *x)
{
  g_subprocess_send_signal (x->proc, SIGTERM);
  g_subprocess_wait (x->proc, NULL, NULL);
  g_object_unref (x->proc);
  g_free (x->display);
  g_free (x);
}

/* A rectangle of a screenshot, in pixels. */
typedef struct {
  int x, y, width, height;
} Area;

/* ---- the window ------------------------------------------------------------- */

typedef struct {
  TvTestClient *c;
  GOutputStream *in;  /* its stdin */
  char *shots;        /* --screenshot-dir */
  char *config;       /* its XDG_CONFIG_HOME */
} Gui;

/* Starts televisit-client --gui on @x with @args, stdin a pipe, its own
 * config folder, no session bus and no leak checking (GTK, fontconfig and
 * Pango keep caches for the life of the process). */
static Gui *
gui_start (Xserver *x, const char *name, const char *ini, const char *const *args)
{
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (
    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_auto (GStrv) argv = NULL;
  Gui *g = g_new0 (Gui, 1);

  g->shots = g_strdup (tv_test_tmpdir ());
  g->config = g_strdup (tv_test_tmpdir ());
  /* A client.ini from an earlier run, when given. */
  if (ini != NULL)
    {
      g_autofree char *dir = g_build_filename (g->config, "televisit", NULL);
      g_autofree char *file = g_build_filename (dir, "client.ini", NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
      g_assert_true (g_file_set_contents (file, ini, -1, NULL));
    }
  g_strv_builder_add_many (b, "--gui", "--screenshot-dir", g->shots, NULL);
  g_strv_builder_addv (b, (const char **) args);
  argv = g_strv_builder_end (b);

  g_subprocess_launcher_setenv (l, "DISPLAY", x->display, TRUE);
  g_subprocess_launcher_setenv (l, "GDK_BACKEND", "x11", TRUE);
  g_subprocess_launcher_unsetenv (l, "WAYLAND_DISPLAY");
  g_subprocess_launcher_setenv (l, "XDG_CONFIG_HOME", g->config, TRUE);
  g_subprocess_launcher_setenv (l, "DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/tv-test-bus", TRUE);
  g_subprocess_launcher_setenv (l, "NO_AT_BRIDGE", "1", TRUE);
  g_subprocess_launcher_setenv (l, "ASAN_OPTIONS", "detect_leaks=0", TRUE);
  g->c = tv_test_client_spawn (name, l, (const char *const *) argv);
  g->in = g_object_ref (g_subprocess_get_stdin_pipe (g->c->proc));
  return g;
}

static void
gui_send (Gui *g, const char *command)
{
  g_autofree char *line = g_strdup_printf ("%s\n", command);
  g_autoptr (GError) error = NULL;

  g_test_message ("%s stdin: %s", g->c->name, command);
  g_output_stream_write_all (g->in, line, strlen (line), NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_flush (g->in, NULL, NULL);
}

static void
gui_free (Gui *g)
{
  g_output_stream_close (g->in, NULL, NULL);
  g_object_unref (g->in);
  tv_test_client_free (g->c);
  g_free (g->shots);
  g_free (g->config);
  g_free (g);
}

/* Waits for @prefix to appear for the @count-th time on @c's stdout; fails the test otherwise. */
static void
expect_line (TvTestClient *c, const char *prefix, guint count)
{
  if (!tv_test_client_wait_lines (c, prefix, count, EVENT_TIMEOUT_MS))
    g_error ("%s: no line \"%s\" (#%u) within %d ms; stdout:\n%s\nstderr so far unknown", c->name, prefix, count,
             EVENT_TIMEOUT_MS, c->out_text->str);
}

/* Takes screenshot @name and returns it; *@video gets the remote video area
 * (width 0 when the window has none). */
static GdkPixbuf *
shot (Gui *g, const char *name, Area *video)
{
  g_autofree char *cmd = g_strdup_printf ("screenshot %s", name);
  g_autofree char *prefix = g_strdup_printf ("screenshot %s ", name);
  g_autofree char *file = g_strdup_printf ("%s/%s.png", g->shots, name);
  g_autoptr (GError) error = NULL;
  const char *out_dir = g_getenv ("TV_GTK_SCREENSHOTS_OUT");
  GdkPixbuf *pb;
  g_auto (GStrv) lines = NULL;

  gui_send (g, cmd);
  expect_line (g->c, prefix, 1);
  memset (video, 0, sizeof *video);
  lines = g_strsplit (g->c->out_text->str, "\n", -1);
  for (char **l = lines; *l != NULL; l++)
    if (g_str_has_prefix (*l, prefix))
      {
        g_assert_null (strstr (*l, "failed"));
        if (strstr (*l, "video=none") == NULL)
          g_assert_cmpint (sscanf (*l + strlen (prefix), "video=%d,%d,%d,%d", &video->x, &video->y, &video->width,
                                   &video->height), ==, 4);
      }
  pb = gdk_pixbuf_new_from_file (file, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pb), >=, 640);
  if (out_dir != NULL)
    {
      g_autofree char *dest = g_strdup_printf ("%s/gtk-%s.png", out_dir, name);
      g_autoptr (GFile) from = g_file_new_for_path (file);
      g_autoptr (GFile) to = g_file_new_for_path (dest);
      g_file_copy (from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, NULL);
    }
  return pb;
}

/* How many pixels of @r (the top-left three quarters: the self view sits in
 * the bottom-right corner) differ between @a and @b. */
static guint
pixels_changed (GdkPixbuf *a, GdkPixbuf *b, const Area *r)
{
  int stride = gdk_pixbuf_get_rowstride (a), nc = gdk_pixbuf_get_n_channels (a);
  const guint8 *pa = gdk_pixbuf_read_pixels (a), *pb = gdk_pixbuf_read_pixels (b);
  guint changed = 0;

  g_assert_cmpint (stride, ==, gdk_pixbuf_get_rowstride (b));
  for (int y = r->y; y < r->y + r->height * 3 / 4; y++)
    for (int x = r->x; x < r->x + r->width * 3 / 4; x++)
      if (memcmp (pa + y * stride + x * nc, pb + y * stride + x * nc, 3) != 0)
        changed++;
  return changed;
}

/* Distinct colours (coarse) in @r: a real picture has many, an empty area one. */
static guint
colours (GdkPixbuf *p, const Area *r)
{
  int stride = gdk_pixbuf_get_rowstride (p), nc = gdk_pixbuf_get_n_channels (p);
  const guint8 *px = gdk_pixbuf_read_pixels (p);
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);

  for (int y = r->y; y < r->y + r->height; y += 2)
    for (int x = r->x; x < r->x + r->width; x += 2)
      {
        const guint8 *q = px + y * stride + x * nc;
        g_hash_table_add (seen, GUINT_TO_POINTER (((q[0] >> 4) << 8) | ((q[1] >> 4) << 4) | (q[2] >> 4)));
      }
  return g_hash_table_size (seen);
}

/* Screenshots of the call until the video area moved (test video slides
 * sideways); each screenshot is an event, the loop is bounded. */
static void
assert_moving_video (Gui *g, const char *name)
{
  Area r1, r2;
  g_autoptr (GdkPixbuf) first = shot (g, name, &r1);
  guint changed = 0;

  g_assert_cmpint (r1.width, >=, 160);
  g_assert_cmpint (r1.height, >=, 120);
  g_assert_cmpuint (colours (first, &r1), >=, 6);
  for (guint i = 0; i < 40 && changed == 0; i++)
    {
      g_autofree char *next = g_strdup_printf ("%s-next-%u", name, i);
      g_autoptr (GdkPixbuf) later = shot (g, next, &r2);
      g_assert_cmpint (r2.width, ==, r1.width);
      changed = pixels_changed (first, later, &r1);
    }
  g_test_message ("%s: %u pixels of the remote video changed", name, changed);
  g_assert_cmpuint (changed, >, 100);
}

/* ---- cases ------------------------------------------------------------------ */

static void
test_patient_call (void)
{
  Xserver *x;
  TvTestServer *srv;
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  g_autofree char *dstats = g_strdup_printf ("%s/doctor.json", tv_test_tmpdir ());
  TvTestClient *doctor;
  Gui *patient;
  Area r;
  g_autofree char *patient_config = NULL;

  tv_test_watchdog_start (180, "gtk patient call");
  x = xvfb_start ();
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok,
                          &ptok);
  {
    const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                           "--token", ptok, "--test-media", "--ice-address", "127.0.0.1", "--video-size",
                           VIDEO_SIZE, NULL };
    patient = gui_start (x, "patient-gui", NULL, args);
    patient_config = g_strdup (patient->config);
  }
  expect_line (patient->c, "waiting room doctor_present=false", 1);
  expect_line (patient->c, "screen waiting", 1);
  g_object_unref (shot (patient, "waiting-room", &r));
  g_assert_cmpint (r.width, ==, 0);

  {
    const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                           "--token", dtok, "--headless", "--test-media", "--ice-address", "127.0.0.1",
                           "--video-size", VIDEO_SIZE, "--stats-json", dstats, "--chat", "Hello from the doctor",
                           NULL };
    doctor = tv_test_client_start ("doctor", args);
  }
  expect_line (patient->c, "paired peer=doctor", 1);
  expect_line (patient->c, "screen call", 1);
  expect_line (patient->c, "first remote frame", 1);
  expect_line (doctor, "first remote frame", 1);
  expect_line (doctor, "remote-audio sound", 1);
  expect_line (patient->c, "call quality good", 1);
  /* Chat both ways: the doctor's (sent when paired) shows in the panel, the
   * patient's reaches the doctor's client. */
  expect_line (patient->c, "chat shown id=1 from=peer", 1);
  gui_send (patient, "chat Hello doctor, I can see you");
  expect_line (patient->c, "chat shown id=2 from=me", 1);
  expect_line (doctor, "chat from=patient id=2", 1);
  assert_moving_video (patient, "call");

  /* Mute: the doctor's client hears silence; unmute: sound again. */
  gui_send (patient, "mute");
  expect_line (patient->c, "microphone muted", 1);
  expect_line (doctor, "remote-audio silent", 1);
  gui_send (patient, "mute");
  expect_line (patient->c, "microphone on", 1);
  expect_line (doctor, "remote-audio sound", 2);
  gui_send (patient, "camera");
  expect_line (patient->c, "camera off", 1);

  /* The server crashes: the window says it is reconnecting (screenshot of
   * the banner); the server comes back on the same port and data folder,
   * both clients rejoin the same consult and the call runs again. */
  {
    g_autofree char *port = g_strdup_printf ("%u", tv_test_server_get_port (srv));
    g_autofree char *dir = g_strdup (tv_test_server_get_data_dir (srv));
    const char *same_port[] = { "--port", port, NULL };
    tv_test_server_kill (srv);
    tv_test_server_free (srv);
    expect_line (patient->c, "reconnecting attempt=1", 1);
    g_object_unref (shot (patient, "reconnecting", &r));
    srv = tv_test_server_start (dir, same_port);
  }
  expect_line (patient->c, "rejoined consult=", 1);
  expect_line (doctor, "rejoined consult=", 1);
  expect_line (patient->c, "first remote frame", 2);
  expect_line (doctor, "first remote frame", 2);

  gui_send (patient, "hangup");
  tv_test_client_wait_exit (patient->c, EXIT_TIMEOUT_MS);
  g_assert_cmpint (patient->c->status, ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (patient->c, "exit code=0 reason=left"), ==, 1);
  expect_line (doctor, "peer-left role=patient", 1);
  tv_test_client_signal (doctor, SIGTERM);
  tv_test_client_wait_exit (doctor, EXIT_TIMEOUT_MS);
  g_assert_cmpint (doctor->status, ==, 0);
  {
    g_autoptr (JsonObject) st = tv_test_client_load_stats (dstats);
    g_assert_cmpint (json_object_get_int_member (st, "video_frames_decoded"), >, 30);
  }
  /* Nothing secret in the window's output. */
  g_assert_null (strstr (patient->c->out_text->str, ptok));
  g_assert_null (strstr (patient->c->err_text, ptok));
  /* The window size was remembered. */
  {
    g_autofree char *ini = g_build_filename (patient_config, "televisit", "client.ini", NULL);
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (ini, &text, NULL, NULL));
    g_assert_nonnull (strstr (text, "width="));
  }
  tv_test_client_free (doctor);
  gui_free (patient);
  tv_test_server_free (srv);
  xvfb_stop (x);
  tv_test_watchdog_stop ();
}

static void
test_doctor_queue (void)
{
  Xserver *x;
  TvTestServer *srv;
  const char *dir;
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL, *doc_id = NULL, *pat_id = NULL;
  g_autofree char *pwfile = NULL;
  g_autofree char *alert = NULL;
  TvTestClient *patient;
  Gui *doctor;
  Area r;
  TvTestStatusWait w;

  tv_test_watchdog_start (180, "gtk doctor queue");
  x = xvfb_start ();
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  dir = tv_test_server_get_data_dir (srv);
  doc_id = tv_test_create_user (dir, "dr.gtk", "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
  pat_id = tv_test_create_user (dir, "pat.gtk", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
  tv_test_book_now (dir, id, doc_id, pat_id);
  pwfile = tv_test_password_file ("doctor.pw", TV_TEST_PASSWORD "\n", 0600);

  {
    const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                           "--login", "dr.gtk", "--password-file", pwfile, "--once", "--test-media",
                           "--ice-address", "127.0.0.1", "--video-size", VIDEO_SIZE, NULL };
    doctor = gui_start (x, "doctor-gui", NULL, args);
  }
  expect_line (doctor->c, "logged in", 1);
  expect_line (doctor->c, "queue-item n=1 ", 1);
  expect_line (doctor->c, "screen queue", 1);

  /* The patient arrives: the window rings, notifies and lists them waiting. */
  {
    const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                           "--token", ptok, "--headless", "--test-media", "--ice-address", "127.0.0.1",
                           "--video-size", VIDEO_SIZE, NULL };
    patient = tv_test_client_start ("patient", args);
  }
  expect_line (patient, "waiting room doctor_present=false", 1);
  alert = g_strdup_printf ("alert patient arrived consult=%s", id);
  expect_line (doctor->c, alert, 1);
  g_object_unref (shot (doctor, "doctor-queue", &r));
  g_assert_cmpint (r.width, ==, 0);

  gui_send (doctor, "admit 1");
  expect_line (doctor->c, "admitting", 1);
  expect_line (doctor->c, "first remote frame", 1);
  expect_line (patient, "first remote frame", 1);
  expect_line (doctor->c, "call quality good", 1);
  /* The visit's billing facts, set in the call view and stored by the server. */
  gui_send (doctor, "facts audio-only other new patient has no camera");
  expect_line (doctor->c, "facts-saved modality=audio-only location=other patient=new", 1);
  assert_moving_video (doctor, "doctor-call");

  /* Back to the waiting room and in again: a second call from scratch. */
  gui_send (doctor, "send-back");
  expect_line (patient, "waiting room doctor_present=true", 1);
  expect_line (doctor->c, "patient waiting", 2);
  gui_send (doctor, "admit");
  expect_line (doctor->c, "admitting", 2);
  expect_line (patient, "first remote frame", 2);
  expect_line (doctor->c, "first remote frame", 2);

  gui_send (doctor, "end");
  tv_test_client_wait_exit (doctor->c, EXIT_TIMEOUT_MS);
  g_assert_cmpint (doctor->c->status, ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (doctor->c, "logged out"), ==, 1);
  tv_test_client_wait_exit (patient, EXIT_TIMEOUT_MS);
  g_assert_cmpint (patient->status, ==, 0);
  g_assert_cmpuint (tv_test_client_count_lines (patient, "ended reason=ended-by-doctor"), ==, 1);
  w = (TvTestStatusWait) { dir, id, TV_CONSULT_COMPLETED };
  g_assert_true (tv_test_wait_until (tv_test_consult_has_status, &w, 10000));
  /* The patient's name is on the doctor's screen and stdout, never in its logs. */
  g_assert_null (strstr (doctor->c->err_text, "Pat Synthetic"));
  g_assert_null (strstr (doctor->c->err_text, TV_TEST_PASSWORD));

  tv_test_client_free (patient);
  gui_free (doctor);
  tv_test_server_free (srv);
  xvfb_stop (x);
  tv_test_watchdog_stop ();
}

/* The start screen, then the pre-call check with the test sources: the
 * preview plays, the microphone meter moves, the network check reaches the
 * server; a made-up join link is refused with a message, not a crash. */
static void
test_start_precheck (void)
{
  Xserver *x;
  TvTestServer *srv;
  Gui *g;
  Area r;

  tv_test_watchdog_start (120, "gtk start and pre-call check");
  x = xvfb_start ();
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  {
    const char *args[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                           "--test-media", NULL };
    g = gui_start (x, "start-gui", "[window]\nwidth=1000\nheight=740\n", args);
  }
  expect_line (g->c, "screen start", 1);
  /* The size remembered in client.ini. */
  {
    g_autoptr (GdkPixbuf) start = shot (g, "start", &r);
    g_assert_cmpint (gdk_pixbuf_get_width (start), ==, 1000);
    g_assert_cmpint (gdk_pixbuf_get_height (start), ==, 740);
  }
  gui_send (g, "show precheck");
  expect_line (g->c, "screen precheck", 1);
  expect_line (g->c, "precheck preview playing camera=yes", 1);
  expect_line (g->c, "precheck microphone level", 1);
  gui_send (g, "network");
  expect_line (g->c, "network check ok", 1);
  g_object_unref (shot (g, "precheck", &r));
  gui_send (g, "show start");
  expect_line (g->c, "screen start", 2);

  /* A pasted link: a wrong one is refused with a message; a real one joins
   * and hanging up comes back to the start screen. */
  gui_send (g, "join https://clinic.example/join#nothing=here");
  expect_line (g->c, "start error: This is not a Televisit join link", 1);
  {
    g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL, *link = NULL;
    tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id,
                            &dtok, &ptok);
    link = g_strdup_printf ("join https://127.0.0.1:%u/join#token=%s", tv_test_server_get_port (srv), ptok);
    gui_send (g, link);
  }
  expect_line (g->c, "waiting room doctor_present=false", 1);
  gui_send (g, "hangup");
  expect_line (g->c, "exit code=0 reason=left", 1);
  expect_line (g->c, "screen start", 3);
  /* A bare token (as televisitctl create prints it) with the server of the form. */
  {
    g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL, *cmd = NULL;
    tv_test_create_consult (tv_test_server_get_data_dir (srv), "Dr. Test Doctor", "Pat Synthetic", 3600, &id,
                            &dtok, &ptok);
    cmd = g_strdup_printf ("join %s", ptok);
    gui_send (g, cmd);
  }
  expect_line (g->c, "waiting room doctor_present=false", 2);
  gui_send (g, "hangup");
  expect_line (g->c, "exit code=0 reason=left", 2);
  expect_line (g->c, "screen start", 4);

  /* A patient with an account logs in: their upcoming visit is listed with
   * its join link and joins the waiting room. */
  {
    const char *dir = tv_test_server_get_data_dir (srv);
    g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL, *doc_id = NULL, *pat_id = NULL;
    doc_id = tv_test_create_user (dir, "dr.visits", "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC", NULL);
    pat_id = tv_test_create_user (dir, "pat.visits", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
    tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
    tv_test_book_now (dir, id, doc_id, pat_id);
  }
  gui_send (g, "login pat.visits " TV_TEST_PASSWORD);
  expect_line (g->c, "visits upcoming=1", 1);
  g_object_unref (shot (g, "visits", &r));
  gui_send (g, "visit 1");
  expect_line (g->c, "waiting room doctor_present=false", 3);
  gui_send (g, "hangup");
  expect_line (g->c, "exit code=0 reason=left", 3);
  expect_line (g->c, "screen start", 5);
  g_assert_null (strstr (g->c->err_text != NULL ? g->c->err_text : "", TV_TEST_PASSWORD));
  tv_test_client_signal (g->c, SIGTERM);
  tv_test_client_wait_exit (g->c, EXIT_TIMEOUT_MS);
  g_assert_cmpint (g->c->status, ==, 0);
  gui_free (g);
  tv_test_server_free (srv);
  xvfb_stop (x);
  tv_test_watchdog_stop ();
}

/* The pre-call check on a machine without camera or microphone (this one,
 * without --test-media) says so in plain words instead of failing. */
static void
test_precheck_no_devices (void)
{
  Xserver *x;
  Gui *g;
  const char *args[] = { "--server", "wss://127.0.0.1:9/", NULL };

  tv_test_watchdog_start (60, "gtk pre-call check without devices");
  if (g_file_test ("/dev/video0", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("this machine has a camera");
      return;
    }
  x = xvfb_start ();
  g = gui_start (x, "nodev-gui", NULL, args);
  expect_line (g->c, "screen start", 1);
  gui_send (g, "show precheck");
  expect_line (g->c, "precheck says: No camera found", 1);
  expect_line (g->c, "precheck preview playing camera=no", 1);
  tv_test_client_signal (g->c, SIGTERM);
  tv_test_client_wait_exit (g->c, EXIT_TIMEOUT_MS);
  g_assert_cmpint (g->c->status, ==, 0);
  gui_free (g);
  xvfb_stop (x);
  tv_test_watchdog_stop ();
}

static void
test_no_xvfb (void)
{
  g_test_skip ("Xvfb is not installed (scripts/install-deps.sh installs it)");
}

int
main (int argc, char **argv)
{
  g_autofree char *xvfb = NULL;

  tv_test_init (&argc, &argv);
  xvfb = g_find_program_in_path ("Xvfb");
  if (xvfb == NULL)
    {
      g_test_add_func ("/gtk/no-xvfb", test_no_xvfb);
      return g_test_run ();
    }
  g_test_add_func ("/gtk/start-precheck", test_start_precheck);
  g_test_add_func ("/gtk/precheck-no-devices", test_precheck_no_devices);
  g_test_add_func ("/gtk/patient-call", test_patient_call);
  g_test_add_func ("/gtk/doctor-queue", test_doctor_queue);
  return g_test_run ();
}
