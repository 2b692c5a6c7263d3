/* test-server-ws.c — black-box tests of televisit-server over real WSS on loopback.
 *
 * Why: the server is the one component every call goes through; these tests
 * hold it to the agreed protocol (signaling/PROTOCOL.md, the brief's session
 * rules) by what arrives on the wire and what lands in the store, not by how
 * it is written. One server process is shared by most cases (each case uses its
 * own consults); cases that need other flags start their own.
 *
 * Thread: main thread only; every wait iterates the default main context with
 * a timeout, and each case runs under a watchdog.
 */
#define G_LOG_DOMAIN "tv-test-server-ws"

#include <string.h>

#include "signaling/tv-sig-error.h"
#include "signaling/tv-sig-message.h"
#include "tests/common/tv-test-fixture.h"

/* A plausible SDP: as JSON string content (escaped) and as the decoded text. */
#define SDP_OFFER_JSON                                                                                  \
  "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96\\r\\nc=IN IP4 0.0.0.0\\r\\na=mid:0\\r\\na=sendrecv\\r\\n"           \
  "a=rtpmap:96 VP8/90000\\r\\n"
#define SDP_OFFER_TEXT                                                                  \
  "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"           \
  "a=rtpmap:96 VP8/90000\r\n"
#define SDP_ANSWER_JSON                                                                                 \
  "v=0\\r\\no=- 1234567890123456789 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE 0\\r\\n" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96\\r\\nc=IN IP4 0.0.0.0\\r\\na=mid:0\\r\\na=sendrecv\\r\\n"           \
  "a=rtpmap:96 VP8/90000\\r\\n"
#define SDP_ANSWER_TEXT                                                                 \
  "v=0\r\no=- 1234567890123456789 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" \
  "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n"           \
  "a=rtpmap:96 VP8/90000\r\n"
#define CANDIDATE_D "candidate:1 1 UDP 2122252543 127.0.0.1 40000 typ host"
#define CANDIDATE_P "candidate:2 1 UDP 2122252543 127.0.0.1 40002 typ host"

#define CLOSE_POLICY 1008
#define CLOSE_TOO_BIG 1009
#define CLOSE_WAIT_MS 5000

/* ---- shared state -------------------------------------------------------- */

static TvTestServer *shared;
static const char *shared_dir;
static TvWsHub *hub;
/* Every token and patient name given to the shared server: none may appear in its log. */
static GPtrArray *secrets;
static guint consult_counter;

static void
ensure_server (void)
{
  if (shared != NULL)
    return;
  shared_dir = tv_test_tmpdir ();
  shared = tv_test_server_start (shared_dir, NULL);
  hub = tv_test_hub_new (shared);
  secrets = g_ptr_array_new_with_free_func (g_free);
}

typedef struct {
  const char *dir;
  char *id;
  char *dtok;
  char *ptok;
  char *patient_name;
  TvTestPeer *doctor;
  TvTestPeer *patient;
} Consult;

/* Creates a consult in the shared server's store; tokens valid @expires_in_s. */
static void
consult_init_full (Consult *c, const char *dir, gint64 expires_in_s)
{
  memset (c, 0, sizeof *c);
  c->dir = dir;
  c->patient_name = g_strdup_printf ("Pat Synthetic %u", ++consult_counter);
  tv_test_create_consult (dir, "Dr. Test Doctor", c->patient_name, expires_in_s, &c->id, &c->dtok, &c->ptok);
  if (dir == shared_dir) {
    g_ptr_array_add (secrets, g_strdup (c->dtok));
    g_ptr_array_add (secrets, g_strdup (c->ptok));
    g_ptr_array_add (secrets, g_strdup (c->patient_name));
  }
}

static void
consult_init (Consult *c)
{
  ensure_server ();
  consult_init_full (c, shared_dir, 3600);
}

static void
consult_clear (Consult *c)
{
  g_clear_pointer (&c->doctor, tv_test_peer_free);
  g_clear_pointer (&c->patient, tv_test_peer_free);
  g_free (c->id);
  g_free (c->dtok);
  g_free (c->ptok);
  g_free (c->patient_name);
  memset (c, 0, sizeof *c);
}

static TvTestPeer *
peer_named (TvWsHub *h, const char *url, const char *name)
{
  TvTestPeer *p = tv_test_peer_connect (h, url);

  tv_test_peer_set_name (p, name);
  return p;
}

static void
check_joined (JsonObject *joined, const char *consult_id, const char *role, gboolean peer_present)
{
  g_assert_cmpstr (tv_test_json_str (joined, "consult"), ==, consult_id);
  g_assert_cmpstr (tv_test_json_str (joined, "role"), ==, role);
  g_assert_cmpint (tv_test_json_bool (joined, "peer_present"), ==, peer_present ? 1 : 0);
  g_assert_cmpuint (json_object_get_size (joined), ==, 4);
}

static void
check_paired (JsonObject *paired, const char *peer_role, gboolean offerer)
{
  g_assert_cmpstr (tv_test_json_str (paired, "role"), ==, peer_role);
  g_assert_cmpint (tv_test_json_bool (paired, "offerer"), ==, offerer ? 1 : 0);
}

/* The patient waits (not admitted): "waiting" with the doctor's name and presence. */
static void
expect_waiting (TvTestPeer *patient, gboolean doctor_present)
{
  g_autoptr (JsonObject) w = tv_test_peer_expect (patient, "waiting", 0);

  g_assert_cmpstr (tv_test_json_str (w, "doctor"), ==, "Dr. Test Doctor");
  g_assert_nonnull (tv_test_json_str (w, "scheduled_start"));
  g_assert_cmpint (tv_test_json_bool (w, "doctor_present"), ==, doctor_present ? 1 : 0);
}

/* The patient joins while the doctor is there: joined, peer-joined; unless
 * already @admitted (a rejoin) the patient gets "waiting" and the doctor
 * admits; then paired to both. */
static void
expect_pairing_after_patient_join_full (Consult *c, gboolean admitted)
{
  g_autoptr (JsonObject) pj = NULL;
  g_autoptr (JsonObject) dp = NULL;
  g_autoptr (JsonObject) pp = NULL;
  g_autoptr (JsonObject) joined = tv_test_peer_join (c->patient, c->ptok, "patient");

  check_joined (joined, c->id, "patient", TRUE);
  pj = tv_test_peer_expect (c->doctor, "peer-joined", 0);
  g_assert_cmpstr (tv_test_json_str (pj, "role"), ==, "patient");
  if (!admitted) {
    expect_waiting (c->patient, TRUE);
    tv_test_peer_send (c->doctor, "{\"type\":\"admit\"}");
  }
  dp = tv_test_peer_expect (c->doctor, "paired", 0);
  check_paired (dp, "patient", TRUE);
  pp = tv_test_peer_expect (c->patient, "paired", 0);
  check_paired (pp, "doctor", FALSE);
}

static void
expect_pairing_after_patient_join (Consult *c)
{
  expect_pairing_after_patient_join_full (c, FALSE);
}

/* Connects and joins both parties of @c on @url (doctor first). */
static void
consult_pair_on (Consult *c, TvWsHub *h, const char *url)
{
  g_autoptr (JsonObject) dj = NULL;

  c->doctor = peer_named (h, url, "doctor");
  dj = tv_test_peer_join (c->doctor, c->dtok, "doctor");
  check_joined (dj, c->id, "doctor", FALSE);
  c->patient = peer_named (h, url, "patient");
  expect_pairing_after_patient_join (c);
}

static void
consult_pair (Consult *c)
{
  consult_pair_on (c, hub, tv_test_server_get_url (shared));
}

/* Offer from the doctor, answer from the patient, one candidate each way and
 * end-of-candidates, each checked on the receiving side (exact fields only). */
static void
negotiate (Consult *c)
{
  g_autoptr (JsonObject) offer = NULL;
  g_autoptr (JsonObject) answer = NULL;
  g_autoptr (JsonObject) cand_p = NULL;
  g_autoptr (JsonObject) cand_d = NULL;
  g_autoptr (JsonObject) eoc = NULL;

  tv_test_peer_send (c->doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}");
  offer = tv_test_peer_expect (c->patient, "offer", 0);
  g_assert_cmpstr (tv_test_json_str (offer, "sdp"), ==, SDP_OFFER_TEXT);
  g_assert_cmpuint (json_object_get_size (offer), ==, 2);

  tv_test_peer_send (c->patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}");
  answer = tv_test_peer_expect (c->doctor, "answer", 0);
  g_assert_cmpstr (tv_test_json_str (answer, "sdp"), ==, SDP_ANSWER_TEXT);
  g_assert_cmpuint (json_object_get_size (answer), ==, 2);

  tv_test_peer_send (c->doctor, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_D "\",\"sdpMLineIndex\":0}");
  cand_p = tv_test_peer_expect (c->patient, "candidate", 0);
  g_assert_cmpstr (tv_test_json_str (cand_p, "candidate"), ==, CANDIDATE_D);
  g_assert_cmpint (tv_test_json_int (cand_p, "sdpMLineIndex", -1), ==, 0);
  g_assert_cmpuint (json_object_get_size (cand_p), ==, 3);

  tv_test_peer_send (c->patient, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_P "\",\"sdpMLineIndex\":1}");
  cand_d = tv_test_peer_expect (c->doctor, "candidate", 0);
  g_assert_cmpstr (tv_test_json_str (cand_d, "candidate"), ==, CANDIDATE_P);
  g_assert_cmpint (tv_test_json_int (cand_d, "sdpMLineIndex", -1), ==, 1);

  tv_test_peer_send (c->doctor, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":0}");
  eoc = tv_test_peer_expect (c->patient, "candidate", 0);
  g_assert_cmpstr (tv_test_json_str (eoc, "candidate"), ==, "");

  /* Nothing came back to the senders. */
  tv_test_peer_sync (c->doctor);
  tv_test_peer_sync (c->patient);
}

static void
media_up (Consult *c)
{
  tv_test_peer_send (c->doctor, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_send (c->patient, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (c->doctor);
  tv_test_peer_sync (c->patient);
}

typedef struct {
  const char *dir;
  const char *id;
  TvConsultStatus status;
} StatusWait;

static gboolean
consult_has_status (gpointer data)
{
  StatusWait *w = data;
  g_autoptr (TvConsult) c = tv_test_get_consult (w->dir, w->id);

  return c->status == w->status;
}

/* Waits (3 s) until the store shows @status for @c; returns the consult row. */
static TvConsult *
wait_status (Consult *c, TvConsultStatus status)
{
  StatusWait w = { c->dir, c->id, status };

  if (!tv_test_wait_until (consult_has_status, &w, 3000)) {
    g_autoptr (TvConsult) now = tv_test_get_consult (c->dir, c->id);

    g_error ("consult %s: status %s expected in the store, still %s", c->id, tv_consult_status_to_string (status),
             tv_consult_status_to_string (now->status));
  }
  return tv_test_get_consult (c->dir, c->id);
}

/* Number of participation rows matching (@role, @ev, @detail or any if NULL). */
static guint
count_participation (Consult *c, TvSigRole role, TvParticipationEvent ev, const char *detail)
{
  g_autoptr (GPtrArray) log = tv_test_get_participation (c->dir, c->id);
  guint n = 0;

  for (guint i = 0; i < log->len; i++) {
    TvParticipation *p = log->pdata[i];

    if (p->role == role && p->event == ev && (detail == NULL || g_strcmp0 (p->detail, detail) == 0))
      n++;
  }
  return n;
}

static void
expect_peer_left (TvTestPeer *p, const char *role, const char *reason)
{
  g_autoptr (JsonObject) m = tv_test_peer_expect (p, "peer-left", 0);

  g_assert_cmpstr (tv_test_json_str (m, "role"), ==, role);
  g_assert_cmpstr (tv_test_json_str (m, "reason"), ==, reason);
}

static void
expect_ended (TvTestPeer *p, const char *reason, guint timeout_ms)
{
  g_autoptr (JsonObject) m = tv_test_peer_expect (p, "ended", timeout_ms);

  g_assert_cmpstr (tv_test_json_str (m, "reason"), ==, reason);
  g_assert_true (tv_test_peer_wait_closed (p, CLOSE_WAIT_MS));
}

/* A fatal error: the error frame, then the server closes with @close_code. */
static void
expect_fatal (TvTestPeer *p, int code, const char *ref, int close_code)
{
  g_autoptr (JsonObject) err = tv_test_peer_expect_error_ref (p, code, ref);

  g_assert_true (tv_test_peer_wait_closed (p, CLOSE_WAIT_MS));
  g_assert_cmpint (tv_test_peer_get_close_code (p), ==, close_code);
}

/* Sends @json and expects a non-fatal error @code (with "ref" == @ref when
 * @check_ref); the connection stays usable. Failures name the caller's line. */
#define expect_rejected(p, json, code, check_ref, ref) \
  expect_rejected_at ((p), (json), (code), (check_ref), (ref), __LINE__)
static void
expect_rejected_at (TvTestPeer *p, const char *json, int code, gboolean check_ref, const char *ref, int line)
{
  g_autoptr (JsonObject) err = NULL;

  g_test_message ("line %d: sending %.200s", line, json);
  tv_test_peer_send_at (p, json, __FILE__, line);
  err = tv_test_peer_expect_error_at (p, code, check_ref, ref, __FILE__, line);
  tv_test_peer_sync_at (p, __FILE__, line);
}

/* A consult of the shared server that stays paired while other cases abuse
 * the server; after each abuse it must still relay normally. */
static Consult bystander;

static void
bystander_check (void)
{
  g_autoptr (JsonObject) offer = NULL;
  g_autoptr (JsonObject) answer = NULL;

  if (bystander.id == NULL) {
    consult_init (&bystander);
    consult_pair (&bystander);
    tv_test_peer_set_name (bystander.doctor, "bystander doctor");
    tv_test_peer_set_name (bystander.patient, "bystander patient");
  }
  /* An offer each time is fine: a new offer while paired is an ICE restart. */
  tv_test_peer_send (bystander.doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}");
  offer = tv_test_peer_expect (bystander.patient, "offer", 0);
  tv_test_peer_send (bystander.patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}");
  answer = tv_test_peer_expect (bystander.doctor, "answer", 0);
  tv_test_peer_sync (bystander.doctor);
  tv_test_peer_sync (bystander.patient);
}

/* ---- the happy paths ------------------------------------------------------ */

static void
test_join_and_pair (void)
{
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  /* Nothing else is pending for either side. */
  tv_test_peer_sync (c.doctor);
  tv_test_peer_sync (c.patient);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL), ==, 1);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_PATIENT, TV_PART_JOIN, NULL), ==, 1);
  consult_clear (&c);
}

static void
test_patient_first (void)
{
  g_autoptr (JsonObject) pj = NULL;
  g_autoptr (JsonObject) dj = NULL;
  g_autoptr (JsonObject) peer_joined = NULL;
  g_autoptr (JsonObject) pp = NULL;
  g_autoptr (JsonObject) dp = NULL;
  Consult c;

  consult_init (&c);
  c.patient = peer_named (hub, tv_test_server_get_url (shared), "patient");
  pj = tv_test_peer_join (c.patient, c.ptok, "patient");
  check_joined (pj, c.id, "patient", FALSE);
  expect_waiting (c.patient, FALSE);
  c.doctor = peer_named (hub, tv_test_server_get_url (shared), "doctor");
  dj = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  check_joined (dj, c.id, "doctor", TRUE);
  peer_joined = tv_test_peer_expect (c.patient, "doctor-ready", 0);
  g_assert_cmpuint (json_object_get_size (peer_joined), ==, 1);
  tv_test_peer_sync (c.doctor);
  tv_test_peer_send (c.doctor, "{\"type\":\"admit\"}");
  pp = tv_test_peer_expect (c.patient, "paired", 0);
  check_paired (pp, "doctor", FALSE);
  dp = tv_test_peer_expect (c.doctor, "paired", 0);
  check_paired (dp, "patient", TRUE);
  consult_clear (&c);
}

/* Two consults negotiate at the same time; neither sees the other's messages. */
static void
test_relay_isolated (void)
{
  g_autoptr (JsonObject) offer_b = NULL;
  g_autoptr (JsonObject) answer_b = NULL;
  Consult a, b;

  consult_init (&a);
  consult_init (&b);
  consult_pair (&a);
  consult_pair (&b);
  tv_test_peer_set_name (b.doctor, "doctor B");
  tv_test_peer_set_name (b.patient, "patient B");

  /* B starts an offer, A negotiates fully, then B finishes. */
  tv_test_peer_send (b.doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}");
  negotiate (&a);
  offer_b = tv_test_peer_expect (b.patient, "offer", 0);
  tv_test_peer_send (b.patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}");
  answer_b = tv_test_peer_expect (b.doctor, "answer", 0);
  /* Barriers: had any of A's relays leaked to B (or B's to A) they would be
   * queued before these pongs. */
  tv_test_peer_sync (b.doctor);
  tv_test_peer_sync (b.patient);
  tv_test_peer_sync (a.doctor);
  tv_test_peer_sync (a.patient);
  consult_clear (&a);
  consult_clear (&b);
}

static void
test_media_in_progress (void)
{
  g_autoptr (TvConsult) before = NULL;
  g_autoptr (TvConsult) up = NULL;
  g_autoptr (TvConsult) down = NULL;
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  negotiate (&c);
  /* One side up is not enough. */
  tv_test_peer_send (c.doctor, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (c.doctor);
  before = tv_test_get_consult (c.dir, c.id);
  g_assert_cmpint (before->status, ==, TV_CONSULT_WAITING);
  g_assert_cmpint (before->started_at, ==, 0);

  tv_test_peer_send (c.patient, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (c.patient);
  up = wait_status (&c, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (up->started_at, >, 0);
  g_assert_cmpint (up->media_up_since, >, 0);
  g_assert_cmpint (up->ended_at, ==, 0);

  /* One side down closes the connected interval. */
  tv_test_peer_send (c.patient, "{\"type\":\"media\",\"state\":\"disconnected\"}");
  tv_test_peer_sync (c.patient);
  down = tv_test_get_consult (c.dir, c.id);
  g_assert_cmpint (down->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (down->media_up_since, ==, 0);
  g_assert_cmpint (down->connected_us, >, 0);
  consult_clear (&c);
}

static void
test_leave_and_rejoin (void)
{
  g_autoptr (TvConsult) row = NULL;
  g_autoptr (JsonObject) dj = NULL;
  g_autoptr (JsonObject) peer_joined = NULL;
  g_autoptr (JsonObject) pp = NULL;
  g_autoptr (JsonObject) dp = NULL;
  const char *url;
  Consult c;

  consult_init (&c);
  url = tv_test_server_get_url (shared);
  consult_pair (&c);
  negotiate (&c);

  /* Clean leave: peer-left "left", the server closes the leaver. */
  tv_test_peer_send (c.patient, "{\"type\":\"leave\"}");
  expect_peer_left (c.doctor, "patient", "left");
  g_assert_true (tv_test_peer_wait_closed (c.patient, CLOSE_WAIT_MS));
  tv_test_peer_free (c.patient);

  /* Same token again: a fresh pairing (still admitted: no new admit). */
  c.patient = peer_named (hub, url, "patient (rejoined)");
  expect_pairing_after_patient_join_full (&c, TRUE);
  negotiate (&c);

  /* Drop without leave: peer-left "dropped". */
  tv_test_peer_drop (c.patient);
  expect_peer_left (c.doctor, "patient", "dropped");
  tv_test_peer_free (c.patient);

  /* The doctor leaves and comes back too. */
  c.patient = peer_named (hub, url, "patient (again)");
  expect_pairing_after_patient_join_full (&c, TRUE);
  tv_test_peer_send (c.doctor, "{\"type\":\"leave\"}");
  expect_peer_left (c.patient, "doctor", "left");
  g_assert_true (tv_test_peer_wait_closed (c.doctor, CLOSE_WAIT_MS));
  tv_test_peer_free (c.doctor);
  c.doctor = peer_named (hub, url, "doctor (rejoined)");
  dj = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  check_joined (dj, c.id, "doctor", TRUE);
  peer_joined = tv_test_peer_expect (c.patient, "peer-joined", 0);
  g_assert_cmpstr (tv_test_json_str (peer_joined, "role"), ==, "doctor");
  pp = tv_test_peer_expect (c.patient, "paired", 0);
  check_paired (pp, "doctor", FALSE);
  dp = tv_test_peer_expect (c.doctor, "paired", 0);
  check_paired (dp, "patient", TRUE);
  negotiate (&c);

  /* Media never connected: still waiting; the log has the leaves. */
  row = tv_test_get_consult (c.dir, c.id);
  g_assert_cmpint (row->status, ==, TV_CONSULT_WAITING);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE, "left"), ==, 1);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE, "dropped"), ==, 1);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_DOCTOR, TV_PART_LEAVE, "left"), ==, 1);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_PATIENT, TV_PART_JOIN, NULL), ==, 3);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL), ==, 2);
  consult_clear (&c);
}

static void
test_doctor_end (void)
{
  g_autoptr (TvConsult) row = NULL;
  g_autoptr (TvTestPeer) late = NULL;
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  negotiate (&c);
  media_up (&c);
  g_clear_pointer (&row, tv_consult_free);
  row = wait_status (&c, TV_CONSULT_IN_PROGRESS);

  tv_test_peer_send (c.doctor, "{\"type\":\"end\"}");
  expect_ended (c.doctor, "ended-by-doctor", 0);
  expect_ended (c.patient, "ended-by-doctor", 0);
  g_clear_pointer (&row, tv_consult_free);
  row = wait_status (&c, TV_CONSULT_COMPLETED);
  g_assert_cmpstr (row->end_reason, ==, "ended-by-doctor");
  g_assert_cmpint (row->ended_at, >, 0);
  g_assert_cmpint (row->media_up_since, ==, 0);
  g_assert_cmpint (row->connected_us, >, 0);

  /* Nobody may join a completed consult (4105, fatal). */
  late = peer_named (hub, tv_test_server_get_url (shared), "late patient");
  tv_test_peer_sendf (late, "{\"type\":\"join\",\"token\":\"%s\"}", c.ptok);
  expect_fatal (late, TV_SIG_ERR_CONSULT_ENDED, "join", CLOSE_POLICY);
  consult_clear (&c);
}

static void
test_both_left_completes (void)
{
  g_autoptr (TvConsult) row = NULL;
  g_autoptr (TvTestPeer) late = NULL;
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  negotiate (&c);
  media_up (&c);
  tv_test_peer_send (c.patient, "{\"type\":\"leave\"}");
  expect_peer_left (c.doctor, "patient", "left");
  g_assert_true (tv_test_peer_wait_closed (c.patient, CLOSE_WAIT_MS));
  tv_test_peer_send (c.doctor, "{\"type\":\"leave\"}");
  g_assert_true (tv_test_peer_wait_closed (c.doctor, CLOSE_WAIT_MS));

  row = wait_status (&c, TV_CONSULT_COMPLETED);
  g_assert_cmpstr (row->end_reason, ==, "both-left");
  g_assert_cmpint (row->connected_us, >, 0);

  late = peer_named (hub, tv_test_server_get_url (shared), "late doctor");
  tv_test_peer_sendf (late, "{\"type\":\"join\",\"token\":\"%s\"}", c.dtok);
  expect_fatal (late, TV_SIG_ERR_CONSULT_ENDED, "join", CLOSE_POLICY);
  consult_clear (&c);
}

static void
test_both_left_without_media_stays_open (void)
{
  g_autoptr (TvConsult) row = NULL;
  g_autoptr (JsonObject) dj = NULL;
  const char *url;
  Consult c;

  consult_init (&c);
  url = tv_test_server_get_url (shared);
  consult_pair (&c);
  negotiate (&c);
  tv_test_peer_send (c.patient, "{\"type\":\"leave\"}");
  expect_peer_left (c.doctor, "patient", "left");
  g_assert_true (tv_test_peer_wait_closed (c.patient, CLOSE_WAIT_MS));
  tv_test_peer_send (c.doctor, "{\"type\":\"leave\"}");
  g_assert_true (tv_test_peer_wait_closed (c.doctor, CLOSE_WAIT_MS));
  row = tv_test_get_consult (c.dir, c.id);
  g_assert_cmpint (row->status, ==, TV_CONSULT_WAITING);

  /* Both may come back (a new room: the patient waits to be admitted again). */
  g_clear_pointer (&c.doctor, tv_test_peer_free);
  g_clear_pointer (&c.patient, tv_test_peer_free);
  c.doctor = peer_named (hub, url, "doctor (back)");
  dj = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  check_joined (dj, c.id, "doctor", FALSE);
  c.patient = peer_named (hub, url, "patient (back)");
  expect_pairing_after_patient_join (&c);
  consult_clear (&c);
}

static void
test_admin_end (void)
{
  g_autoptr (TvConsult) row = NULL;
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  negotiate (&c);
  /* As `televisitctl end ID` does: straight into the store. */
  tv_test_end_consult (c.dir, c.id, "ended-by-admin");
  /* The server checks its live consults every second: allow a few. */
  expect_ended (c.doctor, "ended-by-admin", 4000);
  expect_ended (c.patient, "ended-by-admin", 4000);
  row = tv_test_get_consult (c.dir, c.id);
  g_assert_cmpint (row->status, ==, TV_CONSULT_COMPLETED);
  g_assert_cmpstr (row->end_reason, ==, "ended-by-admin");
  consult_clear (&c);
}

/* ---- bad input ------------------------------------------------------------ */

static void
test_malformed_before_join (void)
{
  g_autoptr (TvTestPeer) p = NULL;

  ensure_server ();
  p = peer_named (hub, tv_test_server_get_url (shared), "garbage sender");
  expect_rejected (p, "{", TV_SIG_ERR_BAD_JSON, TRUE, NULL);
  expect_rejected (p, "{\"type\":\"ping\",", TV_SIG_ERR_BAD_JSON, TRUE, NULL);
  expect_rejected (p, "[1,2]", TV_SIG_ERR_NOT_OBJECT, TRUE, NULL);
  expect_rejected (p, "\"ping\"", TV_SIG_ERR_NOT_OBJECT, TRUE, NULL);
  expect_rejected (p, "42", TV_SIG_ERR_NOT_OBJECT, TRUE, NULL);
  expect_rejected (p, "{\"type\":\"bogus\"}", TV_SIG_ERR_UNKNOWN_TYPE, FALSE, NULL);
  /* Server-to-client types are unknown when a client sends them. */
  expect_rejected (p, "{\"type\":\"pong\"}", TV_SIG_ERR_UNKNOWN_TYPE, FALSE, NULL);
  expect_rejected (p, "{\"type\":\"joined\",\"consult\":\"x\",\"role\":\"doctor\",\"peer_present\":true}",
                   TV_SIG_ERR_UNKNOWN_TYPE, FALSE, NULL);
  expect_rejected (p, "{\"id\":1}", TV_SIG_ERR_MISSING_FIELD, FALSE, NULL);
  expect_rejected (p, "{\"type\":5}", TV_SIG_ERR_WRONG_TYPE, FALSE, NULL);
  expect_rejected (p, "{\"type\":\"join\"}", TV_SIG_ERR_MISSING_FIELD, TRUE, "join");
  expect_rejected (p, "{\"type\":\"ping\",\"id\":1,\"extra\":true}", TV_SIG_ERR_UNKNOWN_FIELD, TRUE, "ping");
  expect_rejected (p, "{\"type\":\"join\",\"token\":42}", TV_SIG_ERR_WRONG_TYPE, TRUE, "join");
  expect_rejected (p, "{\"type\":\"ping\",\"id\":\"7\"}", TV_SIG_ERR_WRONG_TYPE, TRUE, "ping");
  expect_rejected (p, "{\"type\":\"ping\",\"id\":-1}", TV_SIG_ERR_INVALID_VALUE, TRUE, "ping");
  expect_rejected (p, "{\"type\":\"ping\",\"id\":9007199254740993}", TV_SIG_ERR_INVALID_VALUE, TRUE, "ping");
  /* Well-formed, but only join/ping are allowed before a join (not fatal). */
  expect_rejected (p, "{\"type\":\"leave\"}", TV_SIG_ERR_NOT_JOINED, TRUE, "leave");
  expect_rejected (p, "{\"type\":\"end\"}", TV_SIG_ERR_NOT_JOINED, TRUE, "end");
  expect_rejected (p, "{\"type\":\"media\",\"state\":\"connected\"}", TV_SIG_ERR_NOT_JOINED, TRUE, "media");
  expect_rejected (p, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}", TV_SIG_ERR_NOT_JOINED, TRUE, "offer");
  expect_rejected (p, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":0}", TV_SIG_ERR_NOT_JOINED,
                   TRUE, "candidate");
  g_assert_true (tv_test_peer_is_open (p));
  bystander_check ();
}

static void
test_malformed_after_join (void)
{
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  tv_test_peer_send (c.doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}");
  {
    g_autoptr (JsonObject) offer = tv_test_peer_expect (c.patient, "offer", 0);
  }
  expect_rejected (c.doctor, "{", TV_SIG_ERR_BAD_JSON, TRUE, NULL);
  expect_rejected (c.doctor, "{\"type\":\"offer\"}", TV_SIG_ERR_MISSING_FIELD, TRUE, "offer");
  expect_rejected (c.doctor, "{\"type\":\"offer\",\"sdp\":\"\"}", TV_SIG_ERR_INVALID_VALUE, TRUE, "offer");
  expect_rejected (c.doctor, "{\"type\":\"offer\",\"sdp\":[]}", TV_SIG_ERR_WRONG_TYPE, TRUE, "offer");
  expect_rejected (c.doctor, "{\"type\":\"offer\",\"sdp\":\"v=0\",\"sdpType\":\"offer\"}", TV_SIG_ERR_UNKNOWN_FIELD,
                   TRUE, "offer");
  expect_rejected (c.doctor, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_D "\",\"sdpMLineIndex\":16}",
                   TV_SIG_ERR_INVALID_VALUE, TRUE, "candidate");
  expect_rejected (c.doctor, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_D "\",\"sdpMLineIndex\":\"0\"}",
                   TV_SIG_ERR_WRONG_TYPE, TRUE, "candidate");
  expect_rejected (c.doctor, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_D "\"}", TV_SIG_ERR_MISSING_FIELD,
                   TRUE, "candidate");
  expect_rejected (c.patient, "{\"type\":\"media\",\"state\":\"up\"}", TV_SIG_ERR_INVALID_VALUE, TRUE, "media");
  expect_rejected (c.patient, "{\"type\":\"media\",\"state\":true}", TV_SIG_ERR_WRONG_TYPE, TRUE, "media");
  expect_rejected (c.patient, "{\"type\":\"leave\",\"reason\":\"bye\"}", TV_SIG_ERR_UNKNOWN_FIELD, TRUE, "leave");
  /* None of that reached the peer, and the pair still works. */
  tv_test_peer_sync (c.patient);
  negotiate (&c);
  consult_clear (&c);
  bystander_check ();
}

static void
test_binary_frame (void)
{
  static const guint8 junk[] = { 0x00, 0xff, 0x10, 0x7b };
  g_autoptr (TvTestPeer) p = NULL;
  g_autoptr (JsonObject) err = NULL;

  ensure_server ();
  p = peer_named (hub, tv_test_server_get_url (shared), "binary sender");
  tv_test_peer_send_raw (p, junk, sizeof junk, TRUE);
  err = tv_test_peer_expect_error_ref (p, TV_SIG_ERR_BINARY_FRAME, NULL);
  /* Not fatal. */
  tv_test_peer_sync (p);
  bystander_check ();
}

static void
test_oversize_frame (void)
{
  g_autoptr (TvTestPeer) edge = NULL;
  g_autoptr (TvTestPeer) big = NULL;
  g_autoptr (JsonObject) err = NULL;
  g_autoptr (GString) frame = g_string_new ("{\"type\":\"ping\",\"id\":1,\"pad\":\"");
  const char *url;

  ensure_server ();
  url = tv_test_server_get_url (shared);

  /* Exactly TV_SIG_MAX_FRAME_BYTES is allowed through to the parser (the unknown field is reported). */
  while (frame->len < TV_SIG_MAX_FRAME_BYTES - 2)
    g_string_append_c (frame, 'x');
  g_string_append (frame, "\"}");
  g_assert_cmpuint (frame->len, ==, TV_SIG_MAX_FRAME_BYTES);
  edge = peer_named (hub, url, "64 KiB sender");
  tv_test_peer_send (edge, frame->str);
  err = tv_test_peer_expect_error_ref (edge, TV_SIG_ERR_UNKNOWN_FIELD, "ping");
  tv_test_peer_sync (edge);

  /* One byte more: 4007, then closed with 1009. */
  g_string_truncate (frame, frame->len - 2);
  g_string_append (frame, "x\"}");
  g_assert_cmpuint (frame->len, ==, TV_SIG_MAX_FRAME_BYTES + 1);
  big = peer_named (hub, url, "oversize sender");
  tv_test_peer_send (big, frame->str);
  expect_fatal (big, TV_SIG_ERR_FRAME_TOO_LARGE, NULL, CLOSE_TOO_BIG);
  bystander_check ();
}

static void
test_join_twice (void)
{
  g_autoptr (JsonObject) err = NULL;
  Consult c;

  consult_init (&c);
  c.doctor = peer_named (hub, tv_test_server_get_url (shared), "doctor");
  {
    g_autoptr (JsonObject) joined = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  }
  expect_rejected (c.doctor, "{\"type\":\"join\",\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                   TV_SIG_ERR_ALREADY_JOINED, TRUE, "join");
  tv_test_peer_sendf (c.doctor, "{\"type\":\"join\",\"token\":\"%s\"}", c.dtok);
  err = tv_test_peer_expect_error_ref (c.doctor, TV_SIG_ERR_ALREADY_JOINED, "join");
  /* Still the doctor of this consult. */
  c.patient = peer_named (hub, tv_test_server_get_url (shared), "patient");
  expect_pairing_after_patient_join (&c);
  consult_clear (&c);
}

static void
test_bad_tokens (void)
{
  static const char *const tokens[] = {
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* well-formed, unknown */
    "short",                                       /* too short */
    "!!!!!!!!!!!!!!!!!!!!!!!!",                    /* not base64url */
    "",                                            /* empty */
  };
  const char *url;

  ensure_server ();
  url = tv_test_server_get_url (shared);
  for (gsize i = 0; i < G_N_ELEMENTS (tokens); i++) {
    g_autoptr (TvTestPeer) p = peer_named (hub, url, tokens[i]);
    g_autoptr (JsonObject) err = NULL;

    tv_test_peer_sendf (p, "{\"type\":\"join\",\"token\":\"%s\"}", tokens[i]);
    /* An empty string is an invalid value for the parser; the others are unknown tokens. */
    if (tokens[i][0] == '\0') {
      err = tv_test_peer_next (p, TV_TEST_TIMEOUT_MS);
      g_assert_nonnull (err);
      g_assert_cmpstr (tv_test_json_str (err, "type"), ==, "error");
      g_assert_true (tv_test_json_int (err, "code", 0) == TV_SIG_ERR_TOKEN_INVALID ||
                     tv_test_json_int (err, "code", 0) == TV_SIG_ERR_INVALID_VALUE);
      continue;
    }
    expect_fatal (p, TV_SIG_ERR_TOKEN_INVALID, "join", CLOSE_POLICY);
  }
  bystander_check ();
}

static void
test_expired_token (void)
{
  g_autoptr (TvTestPeer) d = NULL;
  g_autoptr (TvTestPeer) p = NULL;
  Consult c;

  ensure_server ();
  consult_init_full (&c, shared_dir, -60);
  d = peer_named (hub, tv_test_server_get_url (shared), "expired doctor");
  tv_test_peer_sendf (d, "{\"type\":\"join\",\"token\":\"%s\"}", c.dtok);
  expect_fatal (d, TV_SIG_ERR_TOKEN_EXPIRED, "join", CLOSE_POLICY);
  p = peer_named (hub, tv_test_server_get_url (shared), "expired patient");
  tv_test_peer_sendf (p, "{\"type\":\"join\",\"token\":\"%s\"}", c.ptok);
  expect_fatal (p, TV_SIG_ERR_TOKEN_EXPIRED, "join", CLOSE_POLICY);
  consult_clear (&c);
  bystander_check ();
}

static void
test_token_in_use (void)
{
  g_autoptr (TvTestPeer) third = NULL;
  g_autoptr (TvTestPeer) fourth = NULL;
  const char *url;
  Consult c;

  consult_init (&c);
  url = tv_test_server_get_url (shared);
  c.doctor = peer_named (hub, url, "doctor");
  {
    g_autoptr (JsonObject) joined = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  }
  third = peer_named (hub, url, "second doctor");
  tv_test_peer_sendf (third, "{\"type\":\"join\",\"token\":\"%s\"}", c.dtok);
  expect_fatal (third, TV_SIG_ERR_TOKEN_IN_USE, "join", CLOSE_POLICY);
  /* The real doctor noticed nothing and pairs normally. */
  tv_test_peer_sync (c.doctor);
  c.patient = peer_named (hub, url, "patient");
  expect_pairing_after_patient_join (&c);
  /* A third party with the patient's token while both are in. */
  fourth = peer_named (hub, url, "second patient");
  tv_test_peer_sendf (fourth, "{\"type\":\"join\",\"token\":\"%s\"}", c.ptok);
  expect_fatal (fourth, TV_SIG_ERR_TOKEN_IN_USE, "join", CLOSE_POLICY);
  negotiate (&c);
  consult_clear (&c);
  bystander_check ();
}

static void
test_completed_consult (void)
{
  g_autoptr (TvTestPeer) p = NULL;
  Consult c;

  consult_init (&c);
  tv_test_end_consult (c.dir, c.id, "ended-by-admin");
  p = peer_named (hub, tv_test_server_get_url (shared), "patient of an ended consult");
  tv_test_peer_sendf (p, "{\"type\":\"join\",\"token\":\"%s\"}", c.ptok);
  expect_fatal (p, TV_SIG_ERR_CONSULT_ENDED, "join", CLOSE_POLICY);
  consult_clear (&c);
  bystander_check ();
}

static void
test_join_timeout (void)
{
  static const char *const args[] = { "--join-timeout", "1", NULL };
  const char *dir = tv_test_tmpdir ();
  TvTestServer *server = tv_test_server_start (dir, args);
  TvWsHub *h = tv_test_hub_new (server);
  const char *url = tv_test_server_get_url (server);
  g_autoptr (TvTestPeer) idle = NULL;
  g_autoptr (TvTestPeer) pinger = NULL;
  g_autoptr (JsonObject) err = NULL;
  gint64 t0;
  Consult c;

  consult_init_full (&c, dir, 3600);
  c.doctor = peer_named (h, url, "doctor");
  {
    g_autoptr (JsonObject) joined = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  }
  t0 = g_get_monotonic_time ();
  idle = peer_named (h, url, "idle connection");
  err = tv_test_peer_expect_error (idle, TV_SIG_ERR_JOIN_TIMEOUT);
  g_assert_true (tv_test_peer_wait_closed (idle, CLOSE_WAIT_MS));
  g_assert_cmpint (tv_test_peer_get_close_code (idle), ==, CLOSE_POLICY);
  /* Not before the timeout (allow scheduling slack). */
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, 900 * 1000);

  /* A ping is not a join: the timeout still applies. */
  pinger = peer_named (h, url, "ping-only connection");
  tv_test_peer_sync (pinger);
  g_clear_pointer (&err, json_object_unref);
  err = tv_test_peer_expect_error (pinger, TV_SIG_ERR_JOIN_TIMEOUT);
  g_assert_true (tv_test_peer_wait_closed (pinger, CLOSE_WAIT_MS));

  /* The joined doctor is unaffected and pairs. */
  tv_test_peer_sync (c.doctor);
  c.patient = peer_named (h, url, "patient");
  expect_pairing_after_patient_join (&c);
  consult_clear (&c);
  g_clear_pointer (&idle, tv_test_peer_free);
  g_clear_pointer (&pinger, tv_test_peer_free);
  tv_ws_hub_free (h);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);
}

static void
test_relay_before_pairing (void)
{
  Consult c;

  consult_init (&c);
  c.doctor = peer_named (hub, tv_test_server_get_url (shared), "lonely doctor");
  {
    g_autoptr (JsonObject) joined = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  }
  expect_rejected (c.doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}", TV_SIG_ERR_NOT_PAIRED, TRUE,
                   "offer");
  expect_rejected (c.doctor, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_D "\",\"sdpMLineIndex\":0}",
                   TV_SIG_ERR_NOT_PAIRED, TRUE, "candidate");
  expect_rejected (c.doctor, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}", TV_SIG_ERR_NOT_PAIRED, TRUE,
                   "answer");
  expect_rejected (c.doctor, "{\"type\":\"media\",\"state\":\"connected\"}", TV_SIG_ERR_NOT_PAIRED, TRUE, "media");
  /* After pairing the same offer goes through. */
  c.patient = peer_named (hub, tv_test_server_get_url (shared), "patient");
  expect_pairing_after_patient_join (&c);
  negotiate (&c);
  consult_clear (&c);
  bystander_check ();
}

static void
test_out_of_order (void)
{
  g_autoptr (JsonObject) offer = NULL;
  g_autoptr (JsonObject) answer = NULL;
  g_autoptr (JsonObject) offer2 = NULL;
  g_autoptr (JsonObject) answer2 = NULL;
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  expect_rejected (c.patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}", TV_SIG_ERR_OUT_OF_ORDER,
                   TRUE, "answer");
  expect_rejected (c.doctor, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_D "\",\"sdpMLineIndex\":0}",
                   TV_SIG_ERR_OUT_OF_ORDER, TRUE, "candidate");
  expect_rejected (c.patient, "{\"type\":\"candidate\",\"candidate\":\"" CANDIDATE_P "\",\"sdpMLineIndex\":0}",
                   TV_SIG_ERR_OUT_OF_ORDER, TRUE, "candidate");
  /* None of it was relayed. */
  tv_test_peer_sync (c.doctor);
  tv_test_peer_sync (c.patient);

  tv_test_peer_send (c.doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}");
  offer = tv_test_peer_expect (c.patient, "offer", 0);
  /* Media cannot be connected before an answer was relayed in this pairing. */
  expect_rejected (c.doctor, "{\"type\":\"media\",\"state\":\"connected\"}", TV_SIG_ERR_OUT_OF_ORDER, TRUE,
                   "media");
  tv_test_peer_send (c.patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}");
  answer = tv_test_peer_expect (c.doctor, "answer", 0);
  /* The offer is answered: a second answer is out of order. */
  expect_rejected (c.patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}", TV_SIG_ERR_OUT_OF_ORDER,
                   TRUE, "answer");
  tv_test_peer_sync (c.doctor);

  /* An ICE restart (new offer while paired) is allowed. */
  tv_test_peer_send (c.doctor, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}");
  offer2 = tv_test_peer_expect (c.patient, "offer", 0);
  tv_test_peer_send (c.patient, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}");
  answer2 = tv_test_peer_expect (c.doctor, "answer", 0);
  consult_clear (&c);
  bystander_check ();
}

static void
test_not_allowed (void)
{
  g_autoptr (TvConsult) row = NULL;
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  expect_rejected (c.patient, "{\"type\":\"offer\",\"sdp\":\"" SDP_OFFER_JSON "\"}", TV_SIG_ERR_NOT_ALLOWED, TRUE,
                   "offer");
  negotiate (&c);
  /* The doctor never answers. */
  expect_rejected (c.doctor, "{\"type\":\"answer\",\"sdp\":\"" SDP_ANSWER_JSON "\"}", TV_SIG_ERR_NOT_ALLOWED, TRUE,
                   "answer");
  media_up (&c);
  /* Repeating the current media state is accepted and changes nothing. */
  tv_test_peer_send (c.patient, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (c.patient);
  expect_rejected (c.patient, "{\"type\":\"end\"}", TV_SIG_ERR_NOT_ALLOWED, TRUE, "end");
  /* Nothing ended: the doctor saw nothing, the store still says in progress. */
  tv_test_peer_sync (c.doctor);
  row = wait_status (&c, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (row->ended_at, ==, 0);
  consult_clear (&c);
  bystander_check ();
}

/* Sends @n pings at once; returns how many pongs came before error 4009, which must follow. */
static guint
flood (TvTestPeer *p, guint n)
{
  g_autoptr (JsonObject) err = NULL;
  guint pongs = 0;

  for (guint i = 0; i < n; i++)
    tv_test_peer_sendf (p, "{\"type\":\"ping\",\"id\":%u}", i);
  for (;;) {
    g_autoptr (JsonObject) m = tv_test_peer_next (p, TV_TEST_TIMEOUT_MS);
    g_autofree char *text = NULL;

    if (m == NULL)
      g_error ("%u pongs, then %s (close code %d, %s)", pongs,
               tv_test_peer_is_open (p) ? "silence" : "the connection closed without error 4009",
               tv_test_peer_get_close_code (p),
               tv_test_peer_get_close_error (p) ? tv_test_peer_get_close_error (p)->message : "-");
    if (g_strcmp0 (tv_test_json_str (m, "type"), "pong") == 0) {
      g_assert_cmpint (tv_test_json_int (m, "id", -1), ==, pongs);
      pongs++;
      continue;
    }
    text = tv_test_json_to_string (m);
    g_test_message ("after %u pongs: %s", pongs, text);
    g_assert_cmpstr (tv_test_json_str (m, "type"), ==, "error");
    g_assert_cmpint (tv_test_json_int (m, "code", -1), ==, TV_SIG_ERR_RATE_LIMITED);
    break;
  }
  g_assert_true (tv_test_peer_wait_closed (p, CLOSE_WAIT_MS));
  g_assert_cmpint (tv_test_peer_get_close_code (p), ==, CLOSE_POLICY);
  return pongs;
}

static void
test_rate_limit (void)
{
  g_autoptr (TvTestPeer) anon = NULL;
  guint pongs;
  Consult c;

  ensure_server ();
  bystander_check ();
  /* A fresh connection: 50 messages in a second are fine, the 51st is not. */
  anon = peer_named (hub, tv_test_server_get_url (shared), "flooder");
  pongs = flood (anon, 51);
  g_assert_cmpuint (pongs, ==, 50);

  /* A joined party: its join counts too, so the 50th ping is message 51. It is
   * dropped and its peer hears "dropped". */
  consult_init (&c);
  consult_pair (&c);
  pongs = flood (c.patient, 50);
  g_assert_cmpuint (pongs, ==, 49);
  expect_peer_left (c.doctor, "patient", "dropped");
  consult_clear (&c);

  /* Meanwhile another consult's pair keeps exchanging messages fine. */
  bystander_check ();
}

/* A client that keeps sending after its 51st message (80 at once) must still
 * receive the error frame before the close. Runs on its own server, last, so
 * that a failure here does not hide the other results. */
static void
test_rate_limit_flood (void)
{
  const char *dir = tv_test_tmpdir ();
  TvTestServer *server = tv_test_server_start (dir, NULL);
  TvWsHub *h = tv_test_hub_new (server);
  Consult other;

  consult_init_full (&other, dir, 3600);
  consult_pair_on (&other, h, tv_test_server_get_url (server));
  {
    g_autoptr (TvTestPeer) p = peer_named (h, tv_test_server_get_url (server), "flooder (80)");
    guint pongs = flood (p, 80);

    g_assert_cmpuint (pongs, ==, 50);
  }
  negotiate (&other);

  /* A stopping server tells everyone (5001, fatal) and exits cleanly. */
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  expect_fatal (other.doctor, TV_SIG_ERR_SHUTTING_DOWN, NULL, tv_test_peer_get_close_code (other.doctor));
  expect_fatal (other.patient, TV_SIG_ERR_SHUTTING_DOWN, NULL, tv_test_peer_get_close_code (other.patient));
  consult_clear (&other);
  tv_ws_hub_free (h);
  tv_test_server_free (server);
}

/* Store failures: error 5000 to the sender, nothing changed, the connection
 * and the other consults go on. Uses the store's test-only fault injection. */
static void
test_store_failure_join (void)
{
  static const char *const env[] = { "TV_STORE_FAULT=fail:token-lookup", NULL };
  const char *dir = tv_test_tmpdir ();
  TvTestServer *server = tv_test_server_start_full (dir, NULL, env);
  TvWsHub *h = tv_test_hub_new (server);
  g_autoptr (TvTestPeer) p = NULL;
  g_autoptr (JsonObject) err = NULL;
  Consult c;

  consult_init_full (&c, dir, 3600);
  p = peer_named (h, tv_test_server_get_url (server), "doctor (store down)");
  tv_test_peer_sendf (p, "{\"type\":\"join\",\"token\":\"%s\"}", c.dtok);
  err = tv_test_peer_expect_error_ref (p, TV_SIG_ERR_INTERNAL, "join");
  /* Not fatal; nothing was recorded. */
  tv_test_peer_sync (p);
  g_assert_cmpuint (count_participation (&c, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL), ==, 0);
  g_clear_pointer (&p, tv_test_peer_free);
  consult_clear (&c);
  tv_ws_hub_free (h);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);
}

static void
test_store_failure_media (void)
{
  static const char *const env[] = { "TV_STORE_FAULT=fail:media-started", NULL };
  const char *dir = tv_test_tmpdir ();
  TvTestServer *server = tv_test_server_start_full (dir, NULL, env);
  TvWsHub *h = tv_test_hub_new (server);
  g_autoptr (JsonObject) err = NULL;
  g_autoptr (TvConsult) row = NULL;
  Consult c;

  consult_init_full (&c, dir, 3600);
  consult_pair_on (&c, h, tv_test_server_get_url (server));
  negotiate (&c);
  tv_test_peer_send (c.doctor, "{\"type\":\"media\",\"state\":\"connected\"}");
  tv_test_peer_sync (c.doctor);
  tv_test_peer_send (c.patient, "{\"type\":\"media\",\"state\":\"connected\"}");
  err = tv_test_peer_expect_error_ref (c.patient, TV_SIG_ERR_INTERNAL, "media");
  tv_test_peer_sync (c.patient);
  row = tv_test_get_consult (c.dir, c.id);
  g_assert_cmpint (row->status, ==, TV_CONSULT_WAITING);
  g_assert_cmpint (row->started_at, ==, 0);
  /* The pair still negotiates (an ICE restart). */
  negotiate (&c);
  consult_clear (&c);
  tv_ws_hub_free (h);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);
}

/* ---- handshake ------------------------------------------------------------ */

static void
test_subprotocol_required (void)
{
  static const char *const offered[] = { "", "televisit.v2", "chat" };
  g_autoptr (TvTestPeer) ok = NULL;

  ensure_server ();
  for (gsize i = 0; i < G_N_ELEMENTS (offered); i++) {
    TvWsConnectOptions opts = { .subprotocol = offered[i] };
    g_autoptr (TvTestPeer) p = tv_test_peer_new (hub, tv_test_server_get_url (shared), &opts);

    g_test_message ("offering subprotocol \"%s\"", offered[i]);
    g_assert_true (tv_test_peer_wait_closed (p, CLOSE_WAIT_MS));
    g_assert_false (tv_test_peer_was_opened (p));
    g_assert_nonnull (tv_test_peer_get_close_error (p));
  }
  ok = tv_test_peer_connect (hub, tv_test_server_get_url (shared));
  g_assert_cmpstr (tv_ws_client_get_protocol (tv_test_peer_get_client (ok)), ==, TV_SIG_SUBPROTOCOL);
  bystander_check ();
}

static void
test_plain_ws_refused (void)
{
  TvWsConnectOptions opts = { .allow_plain = TRUE };
  g_autofree char *url = NULL;
  g_autoptr (TvTestPeer) p = NULL;

  ensure_server ();
  url = g_strdup_printf ("ws://127.0.0.1:%u/", tv_test_server_get_port (shared));
  p = tv_test_peer_new (hub, url, &opts);
  g_assert_true (tv_test_peer_wait_closed (p, CLOSE_WAIT_MS));
  g_assert_false (tv_test_peer_was_opened (p));
  bystander_check ();
}

/* An SDP of about @kib KiB (a real one with many candidates and codecs is
 * several): (transfer full) the text, and in *@json the same escaped as JSON
 * string content. Every line differs, so a lost or repeated piece shows. */
static char *
large_sdp (guint kib, char **json)
{
  GString *text = g_string_new ("v=0\r\no=- 99 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
  for (guint i = 0; text->len < kib * 1024; i++)
    g_string_append_printf (text, "a=candidate:%u 1 UDP %u 198.51.100.%u %u typ host generation 0\r\n", i,
                            2122252543u - i, i % 250 + 1, 40000 + i);
  GString *esc = g_string_new (NULL);
  for (const char *p = text->str; *p; p++) {
    if (*p == '\r')
      g_string_append (esc, "\\r");
    else if (*p == '\n')
      g_string_append (esc, "\\n");
    else
      g_string_append_c (esc, *p);
  }
  *json = g_string_free (esc, FALSE);
  return g_string_free (text, FALSE);
}

/* Offers and answers many times larger than the server's per-connection
 * receive buffer arrive in pieces and are relayed whole and unchanged, in both
 * directions, followed by small messages on the same connections. */
static void
test_large_sdp_relay (void)
{
  g_autofree char *offer_json = NULL;
  g_autofree char *answer_json = NULL;
  g_autofree char *offer_text = large_sdp (12, &offer_json);
  g_autofree char *answer_text = large_sdp (5, &answer_json);
  g_autoptr (JsonObject) offer = NULL;
  g_autoptr (JsonObject) answer = NULL;
  g_autoptr (JsonObject) pong = NULL;
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  tv_test_peer_sendf (c.doctor, "{\"type\":\"offer\",\"sdp\":\"%s\"}", offer_json);
  offer = tv_test_peer_expect (c.patient, "offer", 0);
  g_assert_cmpstr (tv_test_json_str (offer, "sdp"), ==, offer_text);
  tv_test_peer_sendf (c.patient, "{\"type\":\"answer\",\"sdp\":\"%s\"}", answer_json);
  answer = tv_test_peer_expect (c.doctor, "answer", 0);
  g_assert_cmpstr (tv_test_json_str (answer, "sdp"), ==, answer_text);
  /* The next small message on the connection that sent the big one. */
  tv_test_peer_send (c.doctor, "{\"type\":\"ping\",\"id\":5}");
  pong = tv_test_peer_expect (c.doctor, "pong", 0);
  g_assert_cmpint (tv_test_json_int (pong, "id", -1), ==, 5);
  tv_test_peer_sync (c.doctor);
  tv_test_peer_sync (c.patient);
  consult_clear (&c);
}

static void
test_ping_pong (void)
{
  g_autoptr (JsonObject) p1 = NULL;
  g_autoptr (JsonObject) p2 = NULL;
  g_autoptr (JsonObject) p3 = NULL;
  g_autoptr (JsonObject) p4 = NULL;
  g_autoptr (JsonObject) p5 = NULL;
  Consult c;

  consult_init (&c);
  c.doctor = peer_named (hub, tv_test_server_get_url (shared), "doctor");
  /* Before join. */
  tv_test_peer_send (c.doctor, "{\"type\":\"ping\",\"id\":7}");
  p1 = tv_test_peer_expect (c.doctor, "pong", 0);
  g_assert_cmpint (tv_test_json_int (p1, "id", -1), ==, 7);
  tv_test_peer_send (c.doctor, "{\"type\":\"ping\"}");
  p2 = tv_test_peer_expect (c.doctor, "pong", 0);
  g_assert_false (json_object_has_member (p2, "id"));
  tv_test_peer_send (c.doctor, "{\"type\":\"ping\",\"id\":0}");
  p3 = tv_test_peer_expect (c.doctor, "pong", 0);
  g_assert_cmpint (tv_test_json_int (p3, "id", -1), ==, 0);
  /* After join; the largest id allowed (2^53). */
  {
    g_autoptr (JsonObject) joined = tv_test_peer_join (c.doctor, c.dtok, "doctor");
  }
  tv_test_peer_send (c.doctor, "{\"type\":\"ping\",\"id\":9007199254740992}");
  p4 = tv_test_peer_expect (c.doctor, "pong", 0);
  g_assert_cmpint (tv_test_json_int (p4, "id", -1), ==, G_GINT64_CONSTANT (9007199254740992));
  tv_test_peer_send (c.doctor, "{\"type\":\"ping\",\"id\":42}");
  p5 = tv_test_peer_expect (c.doctor, "pong", 0);
  g_assert_cmpint (tv_test_json_int (p5, "id", -1), ==, 42);
  g_assert_cmpuint (json_object_get_size (p5), ==, 2);
  consult_clear (&c);
}

/* A clean WebSocket close without "leave" is still a drop for the protocol. */
static void
test_close_without_leave (void)
{
  Consult c;

  consult_init (&c);
  consult_pair (&c);
  tv_test_peer_close (c.patient);
  g_assert_true (tv_test_peer_wait_closed (c.patient, CLOSE_WAIT_MS));
  g_assert_null (tv_test_peer_get_close_error (c.patient));
  expect_peer_left (c.doctor, "patient", "dropped");
  consult_clear (&c);
}

/* ---- the WSS client library against the real server ------------------------ */

typedef struct {
  guint opened;
  guint messages;
  guint closed;
  int close_code;
  gboolean had_error;
  int free_in;        /* 0 none, 1 opened, 2 message, 3 closed: free the client there */
  TvWsClient *ws;
} Probe;

static void
probe_opened (TvWsClient *ws, gpointer data)
{
  Probe *p = data;

  p->opened++;
  if (p->free_in == 1) {
    tv_ws_client_free (ws);
    p->ws = NULL;
  }
}

static void
probe_message (TvWsClient *ws, const char *text, gsize len, gpointer data)
{
  Probe *p = data;

  g_assert_cmpuint (strlen (text), ==, len);
  p->messages++;
  if (p->free_in == 2) {
    tv_ws_client_free (ws);
    p->ws = NULL;
  }
}

static void
probe_closed (TvWsClient *ws, int close_code, const GError *error, gpointer data)
{
  Probe *p = data;

  p->closed++;
  p->close_code = close_code;
  p->had_error = error != NULL;
  if (p->free_in == 3) {
    tv_ws_client_free (ws);
    p->ws = NULL;
  }
}

static const TvWsClientCallbacks probe_callbacks = { probe_opened, probe_message, probe_closed };

static gboolean
probe_done (gpointer data)
{
  Probe *p = data;

  return p->closed > 0 || (p->free_in > 0 && p->ws == NULL);
}

static gboolean
probe_has_message (gpointer data)
{
  Probe *p = data;

  return p->messages > 0 || p->closed > 0;
}

static void
test_client_bad_urls (void)
{
  static const char *const urls[] = {
    "http://127.0.0.1:1/", "ws://127.0.0.1:1/", "wss://", "wss://127.0.0.1:99999/", "not a url", "wss://u@127.0.0.1:1/",
  };
  Probe probe = { 0 };

  ensure_server ();
  for (gsize i = 0; i < G_N_ELEMENTS (urls); i++) {
    g_autoptr (GError) error = NULL;
    TvWsClient *ws = tv_ws_client_connect (hub, urls[i], &probe_callbacks, &probe, &error);

    g_test_message ("URL %s", urls[i]);
    g_assert_null (ws);
    g_assert_error (error, TV_WS_ERROR, TV_WS_ERR_BAD_URL);
  }
  g_assert_cmpuint (probe.opened + probe.messages + probe.closed, ==, 0);
}

static void
test_client_bad_ca_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *garbage = g_build_filename (tv_test_tmpdir (), "not-a-cert.pem", NULL);
  g_autofree char *missing = g_build_filename (tv_test_tmpdir (), "missing.pem", NULL);

  g_assert_null (tv_ws_hub_new (missing, FALSE, &error));
  g_assert_error (error, TV_WS_ERROR, TV_WS_ERR_CA_FILE);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (garbage, "-----BEGIN CERTIFICATE-----\nnope\n", -1, NULL));
  g_assert_null (tv_ws_hub_new (garbage, FALSE, &error));
  g_assert_error (error, TV_WS_ERROR, TV_WS_ERR_CA_FILE);
}

/* Connection failures are reported once, through "closed", with an error. */
static void
test_client_connect_failures (void)
{
  g_autoptr (GError) error = NULL;
  const char *other_dir = tv_test_tmpdir ();
  TvTestServer *other;
  TvWsHub *wrong_ca;
  TvWsHub *insecure;
  Probe refused = { 0 }, untrusted = { 0 }, trusted = { 0 };
  TvWsClient *ws;

  ensure_server ();
  /* Nothing listens there any more once the other server is stopped. */
  other = tv_test_server_start (other_dir, NULL);
  wrong_ca = tv_test_hub_new (other); /* trusts the other server's certificate only */
  g_autofree char *dead_url = g_strdup (tv_test_server_get_url (other));
  g_assert_cmpint (tv_test_server_stop (other, 10000), ==, 0);
  tv_test_server_free (other);

  ws = tv_ws_client_connect (hub, dead_url, &probe_callbacks, &refused, &error);
  g_assert_no_error (error);
  g_assert_true (tv_test_wait_until (probe_done, &refused, CLOSE_WAIT_MS));
  g_assert_cmpuint (refused.opened, ==, 0);
  g_assert_true (refused.had_error);
  tv_ws_client_free (ws);

  /* A certificate we do not trust: refused at the TLS handshake. */
  ws = tv_ws_client_connect (wrong_ca, tv_test_server_get_url (shared), &probe_callbacks, &untrusted, &error);
  g_assert_no_error (error);
  g_assert_true (tv_test_wait_until (probe_done, &untrusted, CLOSE_WAIT_MS));
  g_assert_cmpuint (untrusted.opened, ==, 0);
  g_assert_true (untrusted.had_error);
  tv_ws_client_free (ws);
  tv_ws_hub_free (wrong_ca);

  /* Insecure mode accepts it (first run / tests only). */
  insecure = tv_ws_hub_new (NULL, TRUE, &error);
  g_assert_no_error (error);
  ws = tv_ws_client_connect (insecure, tv_test_server_get_url (shared), &probe_callbacks, &trusted, &error);
  g_assert_no_error (error);
  tv_ws_client_send (ws, "{\"type\":\"ping\",\"id\":1}", &error);
  g_assert_no_error (error);
  g_assert_true (tv_test_wait_until (probe_has_message, &trusted, CLOSE_WAIT_MS));
  g_assert_cmpuint (trusted.opened, ==, 1);
  g_assert_cmpuint (trusted.messages, ==, 1);
  g_assert_cmpuint (trusted.closed, ==, 0);
  tv_ws_client_free (ws);
  tv_ws_hub_free (insecure);
  g_assert_cmpuint (refused.closed, ==, 1);
  g_assert_cmpuint (untrusted.closed, ==, 1);
}

/* Freeing a client from inside each of its callbacks is safe; the hub goes on. */
static void
test_client_free_in_callbacks (void)
{
  g_autoptr (TvTestPeer) witness = NULL;
  g_autoptr (GError) error = NULL;
  Probe in_open = { .free_in = 1 }, in_msg = { .free_in = 2 }, in_closed = { .free_in = 3 };

  ensure_server ();
  in_open.ws = tv_ws_client_connect (hub, tv_test_server_get_url (shared), &probe_callbacks, &in_open, &error);
  g_assert_no_error (error);
  in_msg.ws = tv_ws_client_connect (hub, tv_test_server_get_url (shared), &probe_callbacks, &in_msg, &error);
  g_assert_no_error (error);
  tv_ws_client_send (in_msg.ws, "{\"type\":\"ping\",\"id\":5}", &error);
  g_assert_no_error (error);
  in_closed.ws = tv_ws_client_connect (hub, tv_test_server_get_url (shared), &probe_callbacks, &in_closed, &error);
  g_assert_no_error (error);
  /* The server closes this one: an unknown token is fatal. */
  tv_ws_client_send (in_closed.ws, "{\"type\":\"join\",\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", &error);
  g_assert_no_error (error);

  g_assert_true (tv_test_wait_until (probe_done, &in_open, CLOSE_WAIT_MS));
  g_assert_true (tv_test_wait_until (probe_done, &in_msg, CLOSE_WAIT_MS));
  g_assert_true (tv_test_wait_until (probe_done, &in_closed, CLOSE_WAIT_MS));
  g_assert_cmpuint (in_open.opened, ==, 1);
  g_assert_cmpuint (in_open.closed, ==, 0);     /* freed: no callback afterwards */
  g_assert_cmpuint (in_msg.messages, ==, 1);
  g_assert_cmpuint (in_msg.closed, ==, 0);
  g_assert_cmpuint (in_closed.messages, ==, 1);  /* the 4102 error */
  g_assert_cmpuint (in_closed.closed, ==, 1);
  g_assert_cmpint (in_closed.close_code, ==, CLOSE_POLICY);

  witness = peer_named (hub, tv_test_server_get_url (shared), "witness");
  tv_test_peer_sync (witness);
}

/* The send queue holds at most 256 messages. */
static void
test_client_queue_bound (void)
{
  g_autoptr (GError) error = NULL;
  Probe probe = { 0 };
  TvWsClient *ws;

  ensure_server ();
  ws = tv_ws_client_connect (hub, tv_test_server_get_url (shared), &probe_callbacks, &probe, &error);
  g_assert_no_error (error);
  /* Still connecting: nothing can be written yet, so everything queues. */
  for (guint i = 0; i < 256; i++) {
    tv_ws_client_send (ws, "{\"type\":\"ping\"}", &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (tv_ws_client_get_queued (ws), ==, 256);
  g_assert_false (tv_ws_client_send (ws, "{\"type\":\"ping\"}", &error));
  g_assert_error (error, TV_WS_ERROR, TV_WS_ERR_QUEUE_FULL);
  g_assert_cmpuint (tv_ws_client_get_queued (ws), ==, 256);
  tv_ws_client_free (ws);
}

typedef struct {
  TvTestPeer **peers;
  guint n;
} PeerSet;

static gboolean
all_open_or_closed (gpointer data)
{
  PeerSet *set = data;

  for (guint i = 0; i < set->n; i++)
    if (!tv_test_peer_is_open (set->peers[i]) && !tv_test_peer_is_closed (set->peers[i]))
      return FALSE;
  return TRUE;
}

/* One hub, a few hundred connections at once, each answered. */
static void
test_client_many_connections (void)
{
  enum { N = 300 };
  g_autofree TvTestPeer **peers = g_new0 (TvTestPeer *, N);
  PeerSet set = { peers, N };

  ensure_server ();
  for (guint i = 0; i < N; i++)
    peers[i] = tv_test_peer_new (hub, tv_test_server_get_url (shared), NULL);
  g_assert_true (tv_test_wait_until (all_open_or_closed, &set, 30000));
  for (guint i = 0; i < N; i++) {
    g_assert_true (tv_test_peer_is_open (peers[i]));
    tv_test_peer_sendf (peers[i], "{\"type\":\"ping\",\"id\":%u}", i);
  }
  for (guint i = 0; i < N; i++) {
    g_autoptr (JsonObject) pong = tv_test_peer_expect (peers[i], "pong", 10000);

    g_assert_cmpint (tv_test_json_int (pong, "id", -1), ==, i);
  }
  for (guint i = 0; i < N; i++)
    tv_test_peer_free (peers[i]);
  bystander_check ();
}

/* Freeing a hub with open connections: no callbacks, and the owners' structs
 * stay valid until they free them. */
static void
test_client_hub_free_with_open_connections (void)
{
  g_autoptr (GError) error = NULL;
  Probe probes[3] = { { 0 } };
  TvWsClient *ws[3];
  TvWsHub *h;

  ensure_server ();
  h = tv_test_hub_new (shared);
  for (guint i = 0; i < 3; i++) {
    ws[i] = tv_ws_client_connect (h, tv_test_server_get_url (shared), &probe_callbacks, &probes[i], &error);
    g_assert_no_error (error);
    tv_ws_client_send (ws[i], "{\"type\":\"ping\"}", &error);
    g_assert_no_error (error);
    g_assert_true (tv_test_wait_until (probe_has_message, &probes[i], CLOSE_WAIT_MS));
    g_assert_true (tv_ws_client_is_open (ws[i]));
  }
  tv_ws_hub_free (h);
  for (guint i = 0; i < 3; i++) {
    g_assert_cmpuint (probes[i].closed, ==, 0);
    g_assert_false (tv_ws_client_is_open (ws[i]));
    g_assert_false (tv_ws_client_send (ws[i], "{}", NULL));
    tv_ws_client_free (ws[i]);
  }
  /* Let the server notice; the shared hub still works. */
  bystander_check ();
}

/* Last: the shared server survived everything, logged no token or patient
 * name, and stops cleanly on SIGTERM. */
static void
test_shutdown_and_logs (void)
{
  g_autofree char *log = NULL;

  ensure_server ();
  bystander_check ();
  consult_clear (&bystander);
  tv_ws_hub_free (hub);
  hub = NULL;
  g_assert_true (tv_test_server_is_running (shared));
  g_assert_cmpint (tv_test_server_stop (shared, 10000), ==, 0);
  log = tv_test_server_read_stderr (shared);
  for (guint i = 0; i < secrets->len; i++)
    if (strstr (log, secrets->pdata[i]) != NULL)
      g_error ("the server log contains a token or a patient name (%s...); log in %s",
               i % 3 == 2 ? "patient name" : "token", tv_test_server_get_stderr_path (shared));
  tv_test_server_free (shared);
  shared = NULL;
  g_clear_pointer (&secrets, g_ptr_array_unref);
}

/* ---- main ------------------------------------------------------------------ */

static void
run_with_watchdog (gconstpointer data)
{
  void (*fn) (void) = (void (*) (void)) data;

  tv_test_watchdog_start (90, g_test_get_path ());
  fn ();
  tv_test_watchdog_stop ();
}

#define ADD(path, fn) g_test_add_data_func ((path), (gconstpointer) (fn), run_with_watchdog)

int
main (int argc, char **argv)
{
  int ret;

  tv_test_init (&argc, &argv);

  ADD ("/server-ws/session/join-and-pair", test_join_and_pair);
  ADD ("/server-ws/session/patient-first", test_patient_first);
  ADD ("/server-ws/session/relay-isolated", test_relay_isolated);
  ADD ("/server-ws/session/media-in-progress", test_media_in_progress);
  ADD ("/server-ws/session/leave-and-rejoin", test_leave_and_rejoin);
  ADD ("/server-ws/session/doctor-end", test_doctor_end);
  ADD ("/server-ws/session/both-left-completes", test_both_left_completes);
  ADD ("/server-ws/session/both-left-without-media", test_both_left_without_media_stays_open);
  ADD ("/server-ws/session/admin-end", test_admin_end);
  ADD ("/server-ws/session/ping-pong", test_ping_pong);
  ADD ("/server-ws/session/large-sdp-relay", test_large_sdp_relay);
  ADD ("/server-ws/bad/malformed-before-join", test_malformed_before_join);
  ADD ("/server-ws/bad/malformed-after-join", test_malformed_after_join);
  ADD ("/server-ws/bad/binary-frame", test_binary_frame);
  ADD ("/server-ws/bad/oversize-frame", test_oversize_frame);
  ADD ("/server-ws/bad/join-twice", test_join_twice);
  ADD ("/server-ws/bad/unknown-token", test_bad_tokens);
  ADD ("/server-ws/bad/expired-token", test_expired_token);
  ADD ("/server-ws/bad/token-in-use", test_token_in_use);
  ADD ("/server-ws/bad/completed-consult", test_completed_consult);
  ADD ("/server-ws/bad/join-timeout", test_join_timeout);
  ADD ("/server-ws/bad/relay-before-pairing", test_relay_before_pairing);
  ADD ("/server-ws/bad/out-of-order", test_out_of_order);
  ADD ("/server-ws/bad/not-allowed", test_not_allowed);
  ADD ("/server-ws/bad/rate-limit", test_rate_limit);
  ADD ("/server-ws/bad/store-failure-join", test_store_failure_join);
  ADD ("/server-ws/bad/store-failure-media", test_store_failure_media);
  ADD ("/server-ws/handshake/subprotocol-required", test_subprotocol_required);
  ADD ("/server-ws/handshake/plain-ws-refused", test_plain_ws_refused);
  ADD ("/server-ws/session/close-without-leave", test_close_without_leave);
  ADD ("/server-ws/client/bad-urls", test_client_bad_urls);
  ADD ("/server-ws/client/bad-ca-file", test_client_bad_ca_file);
  ADD ("/server-ws/client/connect-failures", test_client_connect_failures);
  ADD ("/server-ws/client/free-in-callbacks", test_client_free_in_callbacks);
  ADD ("/server-ws/client/queue-bound", test_client_queue_bound);
  ADD ("/server-ws/client/many-connections", test_client_many_connections);
  ADD ("/server-ws/client/hub-free-with-open-connections", test_client_hub_free_with_open_connections);
  ADD ("/server-ws/zz/shutdown-and-logs", test_shutdown_and_logs);
  ADD ("/server-ws/zz/rate-limit-flood", test_rate_limit_flood);

  ret = g_test_run ();
  consult_clear (&bystander);
  tv_ws_hub_free (hub);
  tv_test_server_free (shared);
  return ret;
}
