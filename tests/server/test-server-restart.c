/* test-server-restart.c — the "restart" message on the wire (PROTOCOL.md 3.25/3.26).
 *
 * Why (issue 7, network faults): a client whose media failed for good asks
 * the server to renegotiate; the server must tell both parties
 * ("media-restart" naming who asked), pair them again (the doctor offers),
 * close an open connected interval in the store, fold a second request that
 * arrives within the fold window into the first, and refuse a restart
 * outside a pairing — all without splitting the consult. Scripted peers over
 * real WSS on loopback; no media.
 * Thread: main thread only; waits iterate the main context with timeouts
 * under a watchdog.
 */
#define G_LOG_DOMAIN "tv-test-server-restart"

#include <string.h>

#include "client/tv-ws-client.h"
#include "signaling/tv-sig-error.h"
#include "tests/common/tv-test-fixture.h"

#define SDP_JSON                                                                                        \
  "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96\\r\\nc=IN IP4 0.0.0.0\\r\\na=mid:0\\r\\na=sendrecv\\r\\n"           \
  "a=rtpmap:96 VP8/90000\\r\\n"

static void
expect_restart (TvTestPeer *peer, const char *by, const char *peer_role, gboolean offerer)
{
  g_autoptr (JsonObject) mr = tv_test_peer_expect (peer, "media-restart", 0);
  g_assert_cmpstr (tv_test_json_str (mr, "role"), ==, by);
  g_autoptr (JsonObject) p = tv_test_peer_expect (peer, "paired", 0);
  g_assert_cmpstr (tv_test_json_str (p, "role"), ==, peer_role);
  g_assert_cmpint (tv_test_json_bool (p, "offerer"), ==, offerer ? 1 : 0);
}

/* Offer, answer and both media up: a connected interval opens. */
static void
connect_media (TvTestPeer *doctor, TvTestPeer *patient)
{
  tv_test_peer_send (doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_JSON "\"}");
  g_autoptr (JsonObject) o = tv_test_peer_expect (patient, "offer", 0);
  tv_test_peer_send (patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_JSON "\"}");
  g_autoptr (JsonObject) a = tv_test_peer_expect (doctor, "answer", 0);
  tv_test_peer_send (doctor, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_send (patient, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (doctor);
  tv_test_peer_sync (patient);
}

static void
test_restart (void)
{
  tv_test_watchdog_start (60, g_test_get_path ());
  TvTestServer *srv = tv_test_server_start (tv_test_tmpdir (), NULL);
  const char *dir = tv_test_server_get_data_dir (srv);
  g_autofree char *id = NULL, *dtok = NULL, *ptok = NULL;
  tv_test_create_consult (dir, "Dr. Test Doctor", "Pat Synthetic", 3600, &id, &dtok, &ptok);
  TvWsHub *hub = tv_test_hub_new (srv);
  g_autoptr (TvTestPeer) doctor = tv_test_peer_connect (hub, tv_test_server_get_url (srv));
  g_autoptr (TvTestPeer) patient = tv_test_peer_connect (hub, tv_test_server_get_url (srv));

  /* Not paired yet: refused, nothing else happens. */
  g_autoptr (JsonObject) dj = tv_test_peer_join (doctor, dtok, "doctor");
  tv_test_peer_send (doctor, "{\"type\":\"restart\"}");
  g_autoptr (JsonObject) e1 = tv_test_peer_expect_error_ref (doctor, TV_SIG_ERR_NOT_PAIRED, "restart");
  g_autoptr (JsonObject) pj = tv_test_peer_join (patient, ptok, "patient");
  g_autoptr (JsonObject) peer_joined = tv_test_peer_expect (doctor, "peer-joined", 0);
  g_autoptr (JsonObject) waiting = tv_test_peer_expect (patient, "waiting", 0);
  tv_test_peer_send (patient, "{\"type\":\"restart\"}");
  g_autoptr (JsonObject) e2 = tv_test_peer_expect_error_ref (patient, TV_SIG_ERR_NOT_PAIRED, "restart");
  tv_test_peer_send (doctor, "{\"type\":\"admit\"}");
  g_autoptr (JsonObject) dp = tv_test_peer_expect (doctor, "paired", 0);
  g_autoptr (JsonObject) pp = tv_test_peer_expect (patient, "paired", 0);

  connect_media (doctor, patient);
  g_autoptr (TvConsult) up = tv_test_get_consult (dir, id);
  g_assert_cmpint (up->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (up->media_up_since, !=, 0);

  /* The patient's media failed: both told who asked, both paired again, the
   * interval closed; the doctor's request right after is folded into it. */
  tv_test_peer_send (patient, "{\"type\":\"restart\"}");
  expect_restart (doctor, "patient", "patient", TRUE);
  expect_restart (patient, "patient", "doctor", FALSE);
  tv_test_peer_send (doctor, "{\"type\":\"restart\"}");
  tv_test_peer_sync (doctor);    /* nothing but the pong: folded */
  tv_test_peer_sync (patient);
  g_autoptr (TvConsult) down = tv_test_get_consult (dir, id);
  g_assert_cmpint (down->media_up_since, ==, 0);
  g_assert_cmpint (down->connected_us, >, 0);
  /* The old pairing's answer is stale now: refused, not relayed. */
  tv_test_peer_send (patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_JSON "\"}");
  g_autoptr (JsonObject) e3 = tv_test_peer_expect_error_ref (patient, TV_SIG_ERR_OUT_OF_ORDER, "answer");
  tv_test_peer_sync (doctor);

  /* The new pairing connects: the interval reopens, same consult. */
  connect_media (doctor, patient);
  g_autoptr (TvConsult) again = tv_test_get_consult (dir, id);
  g_assert_cmpint (again->media_up_since, !=, 0);
  g_assert_cmpint (again->status, ==, TV_CONSULT_IN_PROGRESS);

  tv_test_peer_send (doctor, "{\"type\":\"end\"}");
  g_autoptr (JsonObject) ended = tv_test_peer_expect (patient, "ended", 0);
  g_autoptr (TvConsult) rec = tv_test_get_consult (dir, id);
  g_assert_cmpint (rec->status, ==, TV_CONSULT_COMPLETED);
  g_assert_cmpint (rec->connected_us, <=, rec->ended_at - rec->started_at);
  g_autofree char *log_text = NULL;
  g_assert_cmpint (tv_test_server_stop (srv, 10000), ==, 0);
  log_text = tv_test_server_read_stderr (srv);
  g_assert_nonnull (strstr (log_text, "media restart asked by the patient"));
  g_clear_pointer (&doctor, tv_test_peer_free);
  g_clear_pointer (&patient, tv_test_peer_free);
  tv_ws_hub_free (hub);
  tv_test_server_free (srv);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/server/restart", test_restart);
  return g_test_run ();
}
