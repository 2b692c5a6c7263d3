/* test-e2e-privacy.c — no patient data, secrets or SDP in any log line at the default log level.
 *
 * A whole consult through the real binaries, the way a clinic runs it: the
 * real televisit-server on loopback (default --log-level), users in its store,
 * logins over the HTTPS API (one with a wrong password, which is audited), a
 * scheduler books the patient's consult at the doctor's next free slot (join
 * links with both tokens), two real televisit-client processes (--headless
 * --test-media, default verbosity) join with those tokens and run a VP8 + Opus
 * call, the doctor ends it, the patient logs out. Then every line the server
 * wrote (stderr and stdout) and both clients wrote (stderr and stdout) is
 * scanned for: the patient's name and username, the doctor's name, both join
 * tokens, the session tokens, the passwords (right and wrong), and SDP
 * ("v=0", "a=fingerprint", "a=ice-ufrag", "candidate:"). None may appear; the
 * failure message names the stream, the line and what leaked.
 *
 * G_MESSAGES_DEBUG and GST_DEBUG are cleared first so the children log at
 * their defaults whatever the caller's environment. Waits are event-driven
 * (child exit, stdout lines, store conditions) under a watchdog. Main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "server/tv-roles.h"
#include "server/tv-store.h"
#include "tests/client/tv-test-client-proc.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define DURATION_S 3
#define EXIT_TIMEOUT_MS 45000
#define EVENT_TIMEOUT_MS 30000
#define VIDEO_SIZE "320x240"

#define PATIENT_NAME "Pat Synthetic-Privacy"
#define PATIENT_USER "pat.privacy"
#define DOCTOR_NAME "Dr. Test Privacy"
#define PATIENT_PASSWORD "synthetic-patient-pass-7"
#define WRONG_PASSWORD "wrong-synthetic-guess-9"

typedef struct {
  const char *what;
  const char *needle;
} Secret;

/* The token after "#token=" in a join link. Returns: (transfer full). */
static char *
link_token (const char *link)
{
  const char *t;

  g_assert_nonnull (link);
  t = strstr (link, "#token=");
  g_assert_nonnull (t);
  g_assert_cmpuint (strlen (t + 7), >=, 16);
  return g_strdup (t + 7);
}

static gboolean
is_word_char (char c)
{
  return g_ascii_isalnum (c) || c == '_';
}

/* SDP markers; "v=0" only where it starts a word (not "dev=0"). */
static const char *
find_sdp (const char *line)
{
  static const char *const markers[] = { "a=fingerprint", "a=ice-ufrag", "candidate:" };

  for (gsize i = 0; i < G_N_ELEMENTS (markers); i++)
    if (strstr (line, markers[i]) != NULL)
      return markers[i];
  for (const char *p = strstr (line, "v=0"); p != NULL; p = strstr (p + 1, "v=0"))
    if (p == line || !is_word_char (p[-1]))
      return "v=0";
  return NULL;
}

/* Scans every line of @text; appends each leak to @leaks. Returns: the line count. */
static guint
scan (const char *stream, const char *text, const Secret *secrets, gsize n_secrets, GString *leaks)
{
  g_auto (GStrv) lines = g_strsplit (text != NULL ? text : "", "\n", -1);
  guint n = 0;

  for (char **l = lines; *l != NULL; l++)
    {
      const char *sdp = find_sdp (*l);

      if (**l != '\0')
        n++;
      for (gsize i = 0; i < n_secrets; i++)
        if (strstr (*l, secrets[i].needle) != NULL)
          g_string_append_printf (leaks, "%s: %s in: %s\n", stream, secrets[i].what, *l);
      if (sdp != NULL)
        g_string_append_printf (leaks, "%s: SDP (%s) in: %s\n", stream, sdp, *l);
    }
  return n;
}

static TvTestClient *
start_party (TvTestServer *srv, const char *name, const char *token, const char *const *extra)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_auto (GStrv) args = NULL;
  g_autofree char *file = g_strdup_printf ("%s/%s.token", tv_test_tmpdir (), name);
  const char *base[] = { "--server", tv_test_server_get_url (srv), "--ca", tv_test_server_get_cert_path (srv),
                         "--headless", "--test-media", "--ice-address", "127.0.0.1", "--video-size", VIDEO_SIZE,
                         "--token-file", file, NULL };

  g_assert_true (g_file_set_contents (file, token, -1, NULL));
  g_strv_builder_addv (b, base);
  g_strv_builder_addv (b, (const char **) extra);
  args = g_strv_builder_end (b);
  return tv_test_client_start (name, (const char *const *) args);
}

typedef struct {
  const char *dir;
  const char *id;
} StoreWait;

static gboolean
consult_completed (gpointer data)
{
  StoreWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);
  return c->status == TV_CONSULT_COMPLETED;
}

static void
test_no_leaks (void)
{
  g_autoptr (TvTestHttp) http = NULL;
  g_autoptr (JsonNode) reply = NULL;
  g_autoptr (GString) leaks = g_string_new (NULL);
  g_autofree char *doctor = NULL, *patient = NULL, *scheduler = NULL;
  g_autofree char *t_sched = NULL, *t_patient = NULL, *t_doctor = NULL;
  g_autofree char *path = NULL, *body = NULL, *consult_id = NULL, *start = NULL;
  g_autofree char *patient_token = NULL, *doctor_token = NULL, *server_err = NULL, *server_out = NULL;
  g_autofree char *dur = g_strdup_printf ("%d", DURATION_S);
  const char *dextra[] = { "--duration", dur, "--end-on-exit", NULL };
  const char *pextra[] = { "--duration", "60", NULL };
  TvTestClient *dclient, *pclient;
  TvTestServer *srv;
  const char *dir;
  guint status, lines = 0;

  tv_test_watchdog_start (150, "e2e privacy");
  srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  dir = tv_test_server_get_data_dir (srv);
  doctor = tv_test_create_user (dir, "dr.privacy", DOCTOR_NAME, TV_ROLE_DOCTOR, "UTC", NULL);
  patient = tv_test_create_user (dir, PATIENT_USER, PATIENT_NAME, TV_ROLE_PATIENT, NULL, PATIENT_PASSWORD);
  scheduler = tv_test_create_user (dir, "front.privacy", "Front Desk", TV_ROLE_SCHEDULER, NULL, NULL);

  /* Logins: a wrong password first (audited as a failure), then the right ones. */
  {
    g_autoptr (JsonNode) bad = NULL;
    g_autofree char *bad_body = g_strdup_printf ("{\"username\":\"%s\",\"password\":\"%s\"}", PATIENT_USER,
                                                 WRONG_PASSWORD);
    tv_test_http (srv, "POST", "/api/v1/login", NULL, bad_body, &status, &bad);
    g_assert_cmpuint (status, ==, 401);
  }
  t_patient = tv_test_login (srv, PATIENT_USER, PATIENT_PASSWORD);
  t_sched = tv_test_login (srv, "front.privacy", NULL);
  t_doctor = tv_test_login (srv, "dr.privacy", NULL);
  http = tv_test_http_new (srv);

  /* The doctor works around the clock; the scheduler books the next free slot. */
  path = g_strdup_printf ("/api/v1/doctors/%s/availability", doctor);
  {
    g_autoptr (GString) hours = g_string_new ("{\"hours\":[");
    for (int d = 1; d <= 7; d++)
      g_string_append_printf (hours, "%s{\"weekday\":%d,\"start\":\"00:00\",\"end\":\"24:00\"}", d > 1 ? "," : "", d);
    g_string_append (hours, "]}");
    g_assert_cmpuint (tv_test_http_request (http, "PUT", path, t_doctor, hours->str, -1, NULL), ==, 200);
  }
  g_free (path);
  path = g_strdup_printf ("/api/v1/doctors/%s/slots", doctor);
  g_assert_cmpuint (tv_test_http_request (http, "GET", path, t_patient, NULL, -1, &reply), ==, 200);
  {
    JsonArray *slots = json_object_get_array_member (json_node_get_object (reply), "slots");
    g_assert_cmpuint (json_array_get_length (slots), >, 0);
    start = g_strdup (tv_test_json_str (json_array_get_object_element (slots, 0), "start"));
  }
  g_clear_pointer (&reply, json_node_unref);
  body = g_strdup_printf ("{\"doctor_id\":\"%s\",\"patient_id\":\"%s\",\"start\":\"%s\"}", doctor, patient, start);
  status = tv_test_http_request (http, "POST", "/api/v1/consults", t_sched, body, -1, &reply);
  g_assert_cmpuint (status, ==, 201);
  consult_id = g_strdup (tv_test_json_str (tv_test_http_object (reply, "consult"), "id"));
  patient_token = link_token (tv_test_json_str (json_node_get_object (reply), "join_link"));
  doctor_token = link_token (tv_test_json_str (json_node_get_object (reply), "doctor_join_link"));
  g_clear_pointer (&reply, json_node_unref);
  /* The patient reads their own consult (the name is in the reply, not in a log). */
  g_free (path);
  path = g_strdup_printf ("/api/v1/consults/%s", consult_id);
  g_assert_cmpuint (tv_test_http_request (http, "GET", path, t_patient, NULL, -1, NULL), ==, 200);

  /* The call: the patient waits, the doctor joins, both decode, the doctor ends it. */
  pclient = start_party (srv, "patient", patient_token, pextra);
  g_assert_true (tv_test_client_wait_lines (pclient, "joined consult=", 1, EVENT_TIMEOUT_MS));
  dclient = start_party (srv, "doctor", doctor_token, dextra);
  g_assert_true (tv_test_client_wait_lines (dclient, "first remote frame", 1, EVENT_TIMEOUT_MS));
  g_assert_true (tv_test_client_wait_lines (pclient, "first remote frame", 1, EVENT_TIMEOUT_MS));
  tv_test_client_wait_exit (dclient, EXIT_TIMEOUT_MS);
  tv_test_client_wait_exit (pclient, EXIT_TIMEOUT_MS);
  g_assert_cmpint (dclient->status, ==, 0);
  g_assert_cmpint (pclient->status, ==, 0);
  {
    StoreWait w = { dir, consult_id };
    g_assert_true (tv_test_wait_until (consult_completed, &w, 10000));
  }

  g_assert_cmpuint (tv_test_http_request (http, "POST", "/api/v1/logout", t_patient, NULL, -1, NULL), ==, 200);
  g_clear_pointer (&http, tv_test_http_free);
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);

  {
    const Secret secrets[] = {
      { "the patient's name", PATIENT_NAME },
      { "the patient's username", PATIENT_USER },
      { "the doctor's name", DOCTOR_NAME },
      { "the patient's join token", patient_token },
      { "the doctor's join token", doctor_token },
      { "the patient's session token", t_patient },
      { "the scheduler's session token", t_sched },
      { "the doctor's session token", t_doctor },
      { "the password", PATIENT_PASSWORD },
      { "the test password", TV_TEST_PASSWORD },
      { "the wrong password", WRONG_PASSWORD },
    };

    server_err = tv_test_server_read_stderr (srv);
    server_out = g_strdup (tv_test_server_get_stdout (srv));
    lines += scan ("server stderr", server_err, secrets, G_N_ELEMENTS (secrets), leaks);
    lines += scan ("server stdout", server_out, secrets, G_N_ELEMENTS (secrets), leaks);
    lines += scan ("doctor stderr", dclient->err_text, secrets, G_N_ELEMENTS (secrets), leaks);
    lines += scan ("doctor stdout", dclient->out_text->str, secrets, G_N_ELEMENTS (secrets), leaks);
    lines += scan ("patient stderr", pclient->err_text, secrets, G_N_ELEMENTS (secrets), leaks);
    lines += scan ("patient stdout", pclient->out_text->str, secrets, G_N_ELEMENTS (secrets), leaks);
  }
  g_test_message ("%u log lines scanned", lines);
  /* The scan saw the logs it should: the server's start-up, the failed login and the call. */
  g_assert_nonnull (strstr (server_out, "listening on wss://"));
  g_assert_cmpuint (lines, >=, 10);
  if (leaks->len > 0)
    g_error ("private data in the logs:\n%s", leaks->str);

  tv_test_client_free (dclient);
  tv_test_client_free (pclient);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  /* The children inherit our environment: log at their defaults. */
  g_unsetenv ("G_MESSAGES_DEBUG");
  g_unsetenv ("GST_DEBUG");
  tv_test_init (&argc, &argv);

  g_test_add_func ("/e2e/privacy/no-leaks", test_no_leaks);
  return g_test_run ();
}
