/* test-server-chat.c — in-call chat over real WSS (PROTOCOL.md 3.23, 3.24; store v8).
 *
 * Why: chat is part of the visit's record. These tests hold the server to the
 * protocol by what arrives on the wire and what lands in the store: refused
 * before the patient is admitted (4200), delivered to both parties with id,
 * time and sender once admitted, stored in order with the sender's role and
 * sealed at rest (the text is not in the database file), replayed to a party
 * who reconnects, kept while the peer is away, rate-limited (4204, nothing
 * stored), bad text refused by the parser (4006), refused after the end
 * (4105), never logged; televisitctl show lists it and the API route serves it
 * to the consult's doctor and admins only.
 *
 * Thread: main thread only; every wait iterates the default main context with
 * a timeout, and each case runs under a watchdog.
 */
#define _GNU_SOURCE /* memmem */
#define G_LOG_DOMAIN "tv-test-server-chat"

#include <string.h>

#include "server/tv-roles.h"
#include "signaling/tv-sig-error.h"
#include "signaling/tv-sig-message.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define SECRET_TEXT "Synthetic rash on the left arm, since Tuesday"

static TvTestServer *server;
static const char *dir;
static TvWsHub *hub;

static void
ensure_server (void)
{
  if (server != NULL)
    return;
  dir = tv_test_tmpdir ();
  server = tv_test_server_start (dir, NULL);
  hub = tv_test_hub_new (server);
}

static TvTestPeer *
peer (const char *name)
{
  TvTestPeer *p = tv_test_peer_connect (hub, tv_test_server_get_url (server));
  tv_test_peer_set_name (p, name);
  return p;
}

/* Sends chat @text from @from and checks that both @from and @other (may be
 * NULL) get the same chat-message; returns its id. */
static gint64
chat_roundtrip (TvTestPeer *from, TvTestPeer *other, const char *role, const char *text)
{
  g_autofree char *json = tv_sig_build_chat (text);
  tv_test_peer_send (from, json);
  g_autoptr (JsonObject) mine = tv_test_peer_expect (from, "chat-message", 0);
  g_assert_cmpstr (tv_test_json_str (mine, "from"), ==, role);
  g_assert_cmpstr (tv_test_json_str (mine, "text"), ==, text);
  g_autoptr (GDateTime) at = g_date_time_new_from_iso8601 (tv_test_json_str (mine, "at"), NULL);
  g_assert_nonnull (at);
  gint64 id = tv_test_json_int (mine, "id", -1);
  g_assert_cmpint (id, >=, 1);
  if (other != NULL) {
    g_autoptr (JsonObject) theirs = tv_test_peer_expect (other, "chat-message", 0);
    g_assert_cmpint (tv_test_json_int (theirs, "id", -1), ==, id);
    g_assert_cmpstr (tv_test_json_str (theirs, "text"), ==, text);
    g_assert_cmpstr (tv_test_json_str (theirs, "from"), ==, role);
  }
  return id;
}

static char *
chat_rows (const char *id)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM consult_chat WHERE consult_id = '%s'", id);
  return g_strdup_printf ("%" G_GINT64_FORMAT, tv_test_store_int (dir, sql));
}

static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, NULL))
    return FALSE;
  return memmem (data, len, needle, strlen (needle)) != NULL;
}

static void
test_chat_flow (void)
{
  tv_test_watchdog_start (60, "chat flow");
  ensure_server ();
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);

  g_autoptr (TvTestPeer) patient = peer ("patient");
  g_autoptr (JsonObject) pj = tv_test_peer_join (patient, ptok, "patient");
  g_autoptr (JsonObject) w = tv_test_peer_expect (patient, "waiting", 0);

  /* In the waiting room, before admission: refused, nothing stored. */
  tv_test_peer_send (patient, "{\"type\":\"chat\",\"text\":\"hello?\"}");
  g_autoptr (JsonObject) e1 = tv_test_peer_expect_error_ref (patient, TV_SIG_ERR_NOT_PAIRED, "chat");
  tv_test_peer_sync (patient);

  g_autoptr (TvTestPeer) doctor = peer ("doctor");
  g_autoptr (JsonObject) dj = tv_test_peer_join (doctor, dtok, "doctor");
  g_autoptr (JsonObject) ready = tv_test_peer_expect (patient, "doctor-ready", 0);
  tv_test_peer_send (doctor, "{\"type\":\"admit\"}");
  g_autoptr (JsonObject) dp = tv_test_peer_expect (doctor, "paired", 0);
  g_autoptr (JsonObject) pp = tv_test_peer_expect (patient, "paired", 0);

  /* Both ways, with a newline and non-ASCII text. */
  gint64 a = chat_roundtrip (doctor, patient, "doctor", "Good morning.\nHow are you, Pat? \xc3\xa9\xe2\x9c\x93");
  gint64 b = chat_roundtrip (patient, doctor, "patient", SECRET_TEXT);
  g_assert_cmpint (b, >, a);

  /* Bad text: the parser refuses it (4006), nothing stored. */
  tv_test_peer_send (patient, "{\"type\":\"chat\",\"text\":\"tab\\there\"}");
  g_autoptr (JsonObject) e2 = tv_test_peer_expect_error_ref (patient, TV_SIG_ERR_INVALID_VALUE, "chat");
  tv_test_peer_send (patient, "{\"type\":\"chat\",\"text\":\"\"}");
  g_autoptr (JsonObject) e3 = tv_test_peer_expect_error_ref (patient, TV_SIG_ERR_INVALID_VALUE, "chat");
  g_autofree char *big = g_strnfill (TV_SIG_MAX_CHAT_BYTES + 1, 'x');
  g_autofree char *big_json = g_strdup_printf ("{\"type\":\"chat\",\"text\":\"%s\"}", big);
  tv_test_peer_send (patient, big_json);
  g_autoptr (JsonObject) e4 = tv_test_peer_expect_error_ref (patient, TV_SIG_ERR_INVALID_VALUE, "chat");
  /* Exactly the limit is fine. */
  g_autofree char *max = g_strnfill (TV_SIG_MAX_CHAT_BYTES, 'y');
  chat_roundtrip (patient, doctor, "patient", max);
  tv_test_peer_sync (patient);
  tv_test_peer_sync (doctor);
  g_autofree char *n3 = chat_rows (id);
  g_assert_cmpstr (n3, ==, "3");

  /* The patient drops and comes back: the history is replayed, in order. */
  tv_test_peer_drop (patient);
  g_autoptr (JsonObject) left = tv_test_peer_expect (doctor, "peer-left", 0);
  /* While the patient is away the doctor may still write (stored, replayed). */
  chat_roundtrip (doctor, NULL, "doctor", "I will wait for you.");
  g_autoptr (TvTestPeer) patient2 = peer ("patient again");
  g_autoptr (JsonObject) pj2 = tv_test_peer_join (patient2, ptok, "patient");
  g_autoptr (JsonObject) pp2 = tv_test_peer_expect (patient2, "paired", 0);
  gint64 last = 0;
  const char *expect_from[] = { "doctor", "patient", "patient", "doctor" };
  for (guint i = 0; i < G_N_ELEMENTS (expect_from); i++) {
    g_autoptr (JsonObject) m = tv_test_peer_expect (patient2, "chat-message", 0);
    g_assert_cmpstr (tv_test_json_str (m, "from"), ==, expect_from[i]);
    g_assert_cmpint (tv_test_json_int (m, "id", -1), >, last);
    last = tv_test_json_int (m, "id", -1);
    if (i == 1)
      g_assert_cmpstr (tv_test_json_str (m, "text"), ==, SECRET_TEXT);
  }
  tv_test_peer_sync (patient2);

  /* Rate limit: TV_SIG_CHAT_RATE_MSGS pass, the next is refused (4204), not stored. */
  g_autoptr (JsonObject) dj2 = tv_test_peer_expect (doctor, "peer-joined", 0);
  g_autoptr (JsonObject) dp2 = tv_test_peer_expect (doctor, "paired", 0);
  for (guint i = 0; i < TV_SIG_CHAT_RATE_MSGS; i++)
    chat_roundtrip (patient2, doctor, "patient", "again");
  tv_test_peer_send (patient2, "{\"type\":\"chat\",\"text\":\"one too many\"}");
  g_autoptr (JsonObject) e5 = tv_test_peer_expect_error_ref (patient2, TV_SIG_ERR_CHAT_TOO_FAST, "chat");
  tv_test_peer_sync (patient2);
  tv_test_peer_sync (doctor);
  g_autofree char *n14 = chat_rows (id);
  g_assert_cmpstr (n14, ==, "14");

  /* Sealed at rest and never logged. */
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autofree char *wal = g_build_filename (dir, "televisit.db-wal", NULL);
  g_assert_false (file_contains (db, SECRET_TEXT));
  g_assert_false (file_contains (wal, SECRET_TEXT));
  g_autofree char *log = tv_test_server_read_stderr (server);
  g_assert_null (strstr (log, SECRET_TEXT));
  g_assert_null (strstr (log, "Good morning"));

  /* The end: no more chat; televisitctl show lists it. */
  tv_test_peer_send (doctor, "{\"type\":\"end\"}");
  g_autoptr (JsonObject) ended = tv_test_peer_expect (patient2, "ended", 0);
  g_assert_true (tv_test_peer_wait_closed (patient2, 5000));
  g_autofree char *show = NULL, *err = NULL;
  int status = 0;
  const char *argv[] = { NULL, "--data-dir", dir, "show", id, "--json", NULL };
  g_autofree char *ctl = g_build_filename (tv_test_build_dir (), "televisitctl", NULL);
  argv[0] = ctl;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &show, &err, &status, NULL));
  g_assert_cmpint (status, ==, 0);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, show, -1, NULL));
  JsonArray *chat = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "chat");
  g_assert_cmpuint (json_array_get_length (chat), ==, 14);
  JsonObject *second = json_array_get_object_element (chat, 1);
  g_assert_cmpstr (json_object_get_string_member (second, "from"), ==, "patient");
  g_assert_cmpstr (json_object_get_string_member (second, "text"), ==, SECRET_TEXT);
  tv_test_watchdog_stop ();
}

/* GET /api/v1/consults/{id}/chat: the consult's doctor and admins; audited. */
static void
test_chat_api (void)
{
  tv_test_watchdog_start (60, "chat api");
  ensure_server ();
  g_autofree char *doc = tv_test_create_user (dir, "dr.chat", "Dr. Chat", TV_ROLE_DOCTOR, NULL, NULL);
  g_autofree char *other = tv_test_create_user (dir, "dr.other", "Dr. Other", TV_ROLE_DOCTOR, NULL, NULL);
  g_autofree char *pat = tv_test_create_user (dir, "pat.chat", "Pat Chat", TV_ROLE_PATIENT, NULL, NULL);
  g_autofree char *adm = tv_test_create_user (dir, "admin.chat", "Ada Admin", TV_ROLE_ADMIN, NULL, NULL);
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (dir, "Dr. Chat", "Pat Chat", 3600, &id, &dtok, &ptok);
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET doctor_id = '%s', patient_id = '%s',"
                                          " scheduled_end = scheduled_start + 1800000000 WHERE id = '%s'",
                                          doc, pat, id);
  tv_test_store_exec (dir, sql);

  g_autoptr (TvTestPeer) doctor = peer ("doctor");
  g_autoptr (JsonObject) dj = tv_test_peer_join (doctor, dtok, "doctor");
  g_autoptr (TvTestPeer) patient = peer ("patient");
  g_autoptr (JsonObject) pj = tv_test_peer_join (patient, ptok, "patient");
  g_autoptr (JsonObject) w = tv_test_peer_expect (patient, "waiting", 0);
  g_autoptr (JsonObject) pjd = tv_test_peer_expect (doctor, "peer-joined", 0);
  tv_test_peer_send (doctor, "{\"type\":\"admit\"}");
  g_autoptr (JsonObject) dp = tv_test_peer_expect (doctor, "paired", 0);
  g_autoptr (JsonObject) pp = tv_test_peer_expect (patient, "paired", 0);
  chat_roundtrip (patient, doctor, "patient", "A question about my prescription.");

  g_autofree char *path = g_strdup_printf ("/api/v1/consults/%s/chat", id);
  g_autofree char *t_doc = tv_test_login (server, "dr.chat", NULL);
  g_autofree char *t_other = tv_test_login (server, "dr.other", NULL);
  g_autofree char *t_pat = tv_test_login (server, "pat.chat", NULL);
  g_autofree char *t_adm = tv_test_login (server, "admin.chat", NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (server);
  JsonNode *r = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "GET", path, t_doc, NULL, 0, &r), ==, 200);
  JsonArray *msgs = json_object_get_array_member (json_node_get_object (r), "chat");
  g_assert_cmpuint (json_array_get_length (msgs), ==, 1);
  JsonObject *m0 = json_array_get_object_element (msgs, 0);
  g_assert_cmpstr (json_object_get_string_member (m0, "from"), ==, "patient");
  g_assert_cmpstr (json_object_get_string_member (m0, "text"), ==, "A question about my prescription.");
  g_assert_true (json_object_has_member (m0, "at") && json_object_has_member (m0, "id"));
  g_clear_pointer (&r, json_node_unref);
  g_assert_cmpuint (tv_test_http_request (c, "GET", path, t_adm, NULL, 0, &r), ==, 200);
  g_clear_pointer (&r, json_node_unref);
  g_assert_cmpuint (tv_test_http_request (c, "GET", path, t_other, NULL, 0, &r), ==, 403);
  g_clear_pointer (&r, json_node_unref);
  g_assert_cmpuint (tv_test_http_request (c, "GET", path, t_pat, NULL, 0, &r), ==, 403);
  g_clear_pointer (&r, json_node_unref);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/consults/nope/chat", t_adm, NULL, 0, &r), ==, 404);
  g_clear_pointer (&r, json_node_unref);
  /* Audited, with the consult's patient. */
  g_autofree char *q = g_strdup_printf ("SELECT count(*) FROM audit WHERE action = 'GET /api/v1/consults/{id}/chat'"
                                        " AND resource_id = '%s' AND patient_id = '%s' AND outcome = '2xx'", id, pat);
  g_assert_cmpint (tv_test_store_int (dir, q), ==, 2);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/server/chat/flow", test_chat_flow);
  g_test_add_func ("/server/chat/api", test_chat_api);
  int rc = g_test_run ();
  if (server != NULL) {
    tv_test_server_stop (server, 5000);
    tv_test_server_free (server);
  }
  return rc;
}
