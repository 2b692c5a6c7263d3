/* test-sig-message.c — table-driven tests of the consult protocol messages.
 *
 * Why: the parser is the first thing network input meets; every message type
 * must round-trip (parse -> to_json -> parse) in each direction it may travel,
 * and every malformed frame must fail with its exact TV_SIG_ERROR code and a
 * message naming the offending field. The vectors are data (tables below) so
 * adding a case is adding a line.
 * Thread: the test's main thread only; an alarm() watchdog fails a stuck run.
 */
#define G_LOG_DOMAIN "tv-test-sig"

#include <glib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "signaling/tv-sig-message.h"

#define WATCHDOG_SECONDS 60

#define C TV_SIG_FROM_CLIENT
#define S TV_SIG_FROM_SERVER

#define TOKEN43 "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd"
#define SDP_MIN "v=0\\r\\no=- 1 1 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n"
#define CAND "candidate:1 1 UDP 2015363327 127.0.0.1 39207 typ host"
#define UUID "6f1c7e0e-8c1a-4a51-9d3e-2b7c9f0a1e44"

#define JOINED_ICE(list) "{\"type\":\"joined\",\"consult\":\"c1\",\"role\":\"doctor\",\"peer_present\":false," \
                         "\"ice_servers\":" list "}"

/* ---- watchdog ----------------------------------------------------------- */

static void
on_alarm (int sig)
{
  static const char msg[] = "Bail out! watchdog: test took too long\n";
  /* write() is async-signal-safe; g_test output is not. */
  if (write (STDOUT_FILENO, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (1);
}

/* ---- helpers ------------------------------------------------------------ */

static void
assert_msg_equal (const TvSigMsg *a, const TvSigMsg *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpstr (a->token, ==, b->token);
  g_assert_cmpstr (a->sdp, ==, b->sdp);
  g_assert_cmpstr (a->candidate, ==, b->candidate);
  g_assert_cmpint (a->mline_index, ==, b->mline_index);
  g_assert_cmpint (a->media_up, ==, b->media_up);
  g_assert_cmpstr (a->consult_id, ==, b->consult_id);
  g_assert_cmpint (a->role, ==, b->role);
  g_assert_cmpint (a->peer_present, ==, b->peer_present);
  g_assert_cmpint (a->offerer, ==, b->offerer);
  g_assert_cmpstr (a->reason, ==, b->reason);
  g_assert_cmpint (a->id, ==, b->id);
  g_assert_cmpint (a->code, ==, b->code);
  g_assert_cmpstr (a->message, ==, b->message);
  g_assert_cmpstr (a->ref, ==, b->ref);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpstr (a->user_id, ==, b->user_id);
  g_assert_cmpstr (a->scheduled_start, ==, b->scheduled_start);
  g_assert_cmpint (a->doctor_present, ==, b->doctor_present);
  g_assert_cmpstr (a->date, ==, b->date);
  g_assert_cmpstr (a->time_zone, ==, b->time_zone);
  g_assert_cmpstr (a->modality, ==, b->modality);
  g_assert_cmpstr (a->audio_only_reason, ==, b->audio_only_reason);
  g_assert_cmpstr (a->patient_location, ==, b->patient_location);
  g_assert_cmpstr (a->patient_status, ==, b->patient_status);
  g_assert_cmpstr (a->text, ==, b->text);
  g_assert_cmpstr (a->at, ==, b->at);
  g_assert_cmpint (a->items == NULL, ==, b->items == NULL);
  for (guint i = 0; a->items != NULL && i < MAX (a->items->len, b->items->len); i++)
    {
      const TvSigDashboardItem *x, *y;
      g_assert_cmpuint (a->items->len, ==, b->items->len);
      x = a->items->pdata[i];
      y = b->items->pdata[i];
      g_assert_cmpstr (x->consult_id, ==, y->consult_id);
      g_assert_cmpstr (x->patient, ==, y->patient);
      g_assert_cmpstr (x->scheduled_start, ==, y->scheduled_start);
      g_assert_cmpstr (x->status, ==, y->status);
      g_assert_cmpstr (x->waiting_since, ==, y->waiting_since);
      g_assert_cmpint (x->patient_present, ==, y->patient_present);
    }
  g_assert_cmpint (a->ice_servers == NULL, ==, b->ice_servers == NULL);
  for (guint i = 0; a->ice_servers != NULL && i < MAX (a->ice_servers->len, b->ice_servers->len); i++)
    {
      const TvSigIceServer *x, *y;
      g_assert_cmpuint (a->ice_servers->len, ==, b->ice_servers->len);
      x = a->ice_servers->pdata[i];
      y = b->ice_servers->pdata[i];
      g_assert_true (g_strv_equal ((const char *const *) x->urls, (const char *const *) y->urls));
      g_assert_cmpstr (x->username, ==, y->username);
      g_assert_cmpstr (x->credential, ==, y->credential);
    }
}

/* Parses, serialises and parses again; both parses must agree and the two
 * serialisations must be identical. Returns the first parse. */
static TvSigMsg *
round_trip (const char *json, gsize len, TvSigDirection dir)
{
  g_autoptr (GError) error = NULL;
  TvSigMsgType ref = TV_SIG_MSG_N_TYPES;
  TvSigMsg *msg = tv_sig_msg_parse (json, len, dir, &ref, &error);
  g_autoptr (TvSigMsg) again = NULL;
  g_autofree char *out1 = NULL, *out2 = NULL;

  if (msg == NULL)
    g_error ("valid vector refused: %s (%s)", json, error->message);
  g_assert_cmpint (ref, ==, msg->type);
  out1 = tv_sig_msg_to_json (msg);
  g_assert_nonnull (out1);
  again = tv_sig_msg_parse (out1, strlen (out1), dir, NULL, &error);
  if (again == NULL)
    g_error ("re-serialised message refused: %s (%s)", out1, error->message);
  assert_msg_equal (msg, again);
  out2 = tv_sig_msg_to_json (again);
  g_assert_cmpstr (out1, ==, out2);
  return msg;
}

/* ---- valid vectors ------------------------------------------------------ */

typedef struct {
  TvSigDirection dir;
  const char *json;
  TvSigMsgType type;
} ValidVector;

static const ValidVector valid_vectors[] = {
  /* client -> server */
  { C, "{\"type\":\"join\",\"token\":\"" TOKEN43 "\"}", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"token\":\"abcdefghijklmnop\"}", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"media\",\"state\":\"connected\"}", TV_SIG_MSG_MEDIA },
  { C, "{\"type\":\"media\",\"state\":\"disconnected\"}", TV_SIG_MSG_MEDIA },
  { C, "{\"type\":\"leave\"}", TV_SIG_MSG_LEAVE },
  { C, "{\"type\":\"end\"}", TV_SIG_MSG_END },
  { C, "{\"type\":\"ping\"}", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":0}", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":9007199254740992}", TV_SIG_MSG_PING },
  { C, " \r\n\t{ \"id\" : 42 , \"type\" : \"ping\" } \n", TV_SIG_MSG_PING },
  { C, "{\"type\":\"join\",\"consult\":\"" UUID "\"}", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"auth\",\"session\":\"" TOKEN43 "\"}", TV_SIG_MSG_AUTH },
  { C, "{\"type\":\"admit\"}", TV_SIG_MSG_ADMIT },
  { C, "{\"type\":\"admit\",\"consult\":\"" UUID "\"}", TV_SIG_MSG_ADMIT },
  { C, "{\"type\":\"send-back\"}", TV_SIG_MSG_SEND_BACK },
  { C, "{\"type\":\"restart\"}", TV_SIG_MSG_RESTART },
  { S, "{\"type\":\"media-restart\",\"role\":\"patient\"}", TV_SIG_MSG_MEDIA_RESTART },
  /* both ways */
  { C, "{\"type\":\"offer\",\"sdp\":\"" SDP_MIN "\"}", TV_SIG_MSG_OFFER },
  { S, "{\"type\":\"offer\",\"sdp\":\"" SDP_MIN "\"}", TV_SIG_MSG_OFFER },
  { C, "{\"type\":\"answer\",\"sdp\":\"" SDP_MIN "\"}", TV_SIG_MSG_ANSWER },
  { S, "{\"type\":\"answer\",\"sdp\":\"" SDP_MIN "\"}", TV_SIG_MSG_ANSWER },
  { C, "{\"type\":\"candidate\",\"candidate\":\"" CAND "\",\"sdpMLineIndex\":0}", TV_SIG_MSG_CANDIDATE },
  { S, "{\"type\":\"candidate\",\"candidate\":\"" CAND "\",\"sdpMLineIndex\":1}", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":15}", TV_SIG_MSG_CANDIDATE },
  { S, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":0}", TV_SIG_MSG_CANDIDATE },
  /* server -> client */
  { S, "{\"type\":\"joined\",\"consult\":\"" UUID "\",\"role\":\"doctor\",\"peer_present\":false}", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"joined\",\"consult\":\"" UUID "\",\"role\":\"patient\",\"peer_present\":true}", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"peer-joined\",\"role\":\"patient\"}", TV_SIG_MSG_PEER_JOINED },
  { S, "{\"type\":\"peer-joined\",\"role\":\"doctor\"}", TV_SIG_MSG_PEER_JOINED },
  { S, "{\"type\":\"peer-left\",\"role\":\"patient\",\"reason\":\"left\"}", TV_SIG_MSG_PEER_LEFT },
  { S, "{\"type\":\"peer-left\",\"role\":\"doctor\",\"reason\":\"dropped\"}", TV_SIG_MSG_PEER_LEFT },
  { S, "{\"type\":\"paired\",\"role\":\"patient\",\"offerer\":true}", TV_SIG_MSG_PAIRED },
  { S, "{\"type\":\"paired\",\"role\":\"doctor\",\"offerer\":false}", TV_SIG_MSG_PAIRED },
  { S, "{\"type\":\"ended\",\"reason\":\"ended-by-doctor\"}", TV_SIG_MSG_ENDED },
  { S, "{\"type\":\"ended\",\"reason\":\"ended-by-admin\"}", TV_SIG_MSG_ENDED },
  { S, "{\"type\":\"ended\",\"reason\":\"both-left\"}", TV_SIG_MSG_ENDED },
  { S, "{\"type\":\"pong\"}", TV_SIG_MSG_PONG },
  { S, "{\"type\":\"pong\",\"id\":7}", TV_SIG_MSG_PONG },
  { S, "{\"type\":\"error\",\"code\":4200,\"message\":\"the peer is not connected\",\"ref\":\"offer\"}", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"error\",\"code\":4106,\"message\":\"no join in time\"}", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"error\",\"code\":5000,\"message\":\"caf\\u00e9 \\\"quoted\\\" \xc3\xa9\"}", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"authed\",\"user\":\"" UUID "\",\"name\":\"Dr. Test Doctor\"}", TV_SIG_MSG_AUTHED },
  { S, "{\"type\":\"waiting\",\"doctor\":\"Dr. Test Doctor\",\"scheduled_start\":\"2026-05-14T09:30:00+02:00\","
       "\"doctor_present\":false}", TV_SIG_MSG_WAITING },
  { S, "{\"type\":\"waiting\",\"doctor\":\"Dr. T\\u00e9st\",\"scheduled_start\":\"2026-05-14T07:30:00Z\","
       "\"doctor_present\":true}", TV_SIG_MSG_WAITING },
  { S, "{\"type\":\"doctor-ready\"}", TV_SIG_MSG_DOCTOR_READY },
  /* chat: newlines and non-ASCII text are fine */
  { C, "{\"type\":\"chat\",\"text\":\"Hello,\\nDr. Gr\\u00fcn \u2764\"}", TV_SIG_MSG_CHAT },
  { S, "{\"type\":\"chat-message\",\"id\":1,\"at\":\"2026-05-14T07:41:09Z\",\"from\":\"doctor\",\"text\":\"x\"}",
    TV_SIG_MSG_CHAT_MESSAGE },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"Europe/Berlin\",\"consults\":[]}",
    TV_SIG_MSG_DASHBOARD },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"UTC\",\"consults\":["
       "{\"id\":\"" UUID "\",\"patient\":\"Pat Synthetic\",\"scheduled_start\":\"2026-05-14T09:30:00+02:00\","
       "\"status\":\"waiting\",\"waiting_since\":\"2026-05-14T09:25:12.5+02:00\",\"patient_present\":true},"
       "{\"id\":\"c2\",\"patient\":\"Pat Two\",\"scheduled_start\":\"2026-05-14T10:00:00+02:00\","
       "\"status\":\"scheduled\",\"patient_present\":false}]}", TV_SIG_MSG_DASHBOARD },
  /* consult facts (billing) */
  { C, "{\"type\":\"facts\",\"modality\":\"audio-only\",\"audio_only_reason\":\"no camera\","
       "\"patient_location\":\"other\",\"patient_status\":\"new\"}", TV_SIG_MSG_FACTS },
  { C, "{\"type\":\"facts\",\"patient_location\":\"home\"}", TV_SIG_MSG_FACTS },
  { S, "{\"type\":\"facts-saved\",\"modality\":\"audio-video\",\"patient_location\":\"home\","
       "\"patient_status\":\"established\"}", TV_SIG_MSG_FACTS_SAVED },
  /* "joined" with ICE servers: STUN alone, TURN with short-lived credentials. */
  { S, JOINED_ICE ("[{\"urls\":[\"stun:198.18.0.1:3478\"]},{\"urls\":[\"turn:198.18.0.3:3478?transport=udp\","
                   "\"turn:[2001:db8::3]:3478\"],\"username\":\"1790000000:c1\",\"credential\":\"q0/Jx+5Gk2e5XHvIJdYwV0nP1jA=\"}]"),
    TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"turns:turn.example.org:5349\"],\"username\":\"u\",\"credential\":\"p\"}]"),
    TV_SIG_MSG_JOINED },
};

static void
test_valid_vectors (void)
{
  gboolean seen[TV_SIG_MSG_N_TYPES][2] = { { FALSE } };

  for (gsize i = 0; i < G_N_ELEMENTS (valid_vectors); i++)
    {
      const ValidVector *v = &valid_vectors[i];
      g_autoptr (TvSigMsg) msg = NULL;

      g_test_message ("valid vector %" G_GSIZE_FORMAT, i);
      msg = round_trip (v->json, strlen (v->json), v->dir);
      g_assert_cmpint (msg->type, ==, v->type);
      seen[v->type][v->dir] = TRUE;
    }

  /* Every type is covered in every direction it may travel. */
  for (int t = TV_SIG_MSG_INVALID + 1; t < TV_SIG_MSG_N_TYPES; t++)
    {
      gboolean from_client = t <= TV_SIG_MSG_CANDIDATE || (t >= TV_SIG_MSG_AUTH && t <= TV_SIG_MSG_SEND_BACK)
                             || t == TV_SIG_MSG_RESTART
                             || t == TV_SIG_MSG_FACTS || t == TV_SIG_MSG_CHAT;
      gboolean from_server = (t >= TV_SIG_MSG_OFFER && t <= TV_SIG_MSG_ERROR)
                             || (t >= TV_SIG_MSG_AUTHED && t != TV_SIG_MSG_FACTS && t != TV_SIG_MSG_RESTART
                                 && t != TV_SIG_MSG_CHAT);
      if (from_client)
        g_assert_true (seen[t][C]);
      if (from_server)
        g_assert_true (seen[t][S]);
    }
}

/* Field values land where the header says. */
static void
test_valid_fields (void)
{
  g_autoptr (GError) error = NULL;
  TvSigMsg *m;

#define PARSE(dir, s) tv_sig_msg_parse (s, strlen (s), dir, NULL, &error)
  m = PARSE (C, "{\"type\":\"join\",\"token\":\"" TOKEN43 "\"}");
  g_assert_no_error (error);
  g_assert_cmpstr (m->token, ==, TOKEN43);
  g_assert_cmpint (m->id, ==, -1);
  tv_sig_msg_free (m);

  m = PARSE (C, "{\"type\":\"media\",\"state\":\"connected\"}");
  g_assert_true (m->media_up);
  tv_sig_msg_free (m);
  m = PARSE (C, "{\"type\":\"media\",\"state\":\"disconnected\"}");
  g_assert_false (m->media_up);
  tv_sig_msg_free (m);

  m = PARSE (C, "{\"type\":\"ping\",\"id\":9007199254740992}");
  g_assert_cmpint (m->id, ==, G_GINT64_CONSTANT (9007199254740992));
  tv_sig_msg_free (m);
  m = PARSE (C, "{\"type\":\"ping\"}");
  g_assert_cmpint (m->id, ==, -1);
  tv_sig_msg_free (m);

  m = PARSE (S, "{\"type\":\"offer\",\"sdp\":\"" SDP_MIN "\"}");
  g_assert_cmpstr (m->sdp, ==, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
  tv_sig_msg_free (m);

  m = PARSE (C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":15}");
  g_assert_cmpstr (m->candidate, ==, "");
  g_assert_cmpint (m->mline_index, ==, 15);
  tv_sig_msg_free (m);

  m = PARSE (S, "{\"type\":\"joined\",\"consult\":\"" UUID "\",\"role\":\"patient\",\"peer_present\":true}");
  g_assert_cmpstr (m->consult_id, ==, UUID);
  g_assert_cmpint (m->role, ==, TV_SIG_ROLE_PATIENT);
  g_assert_true (m->peer_present);
  tv_sig_msg_free (m);

  m = PARSE (S, "{\"type\":\"paired\",\"role\":\"patient\",\"offerer\":true}");
  g_assert_cmpint (m->role, ==, TV_SIG_ROLE_PATIENT);
  g_assert_true (m->offerer);
  tv_sig_msg_free (m);

  m = PARSE (S, "{\"type\":\"peer-left\",\"role\":\"doctor\",\"reason\":\"dropped\"}");
  g_assert_cmpint (m->role, ==, TV_SIG_ROLE_DOCTOR);
  g_assert_cmpstr (m->reason, ==, "dropped");
  tv_sig_msg_free (m);

  m = PARSE (S, "{\"type\":\"error\",\"code\":4200,\"message\":\"x\",\"ref\":\"offer\"}");
  g_assert_cmpint (m->code, ==, 4200);
  g_assert_cmpstr (m->message, ==, "x");
  g_assert_cmpstr (m->ref, ==, "offer");
  tv_sig_msg_free (m);
  m = PARSE (S, "{\"type\":\"error\",\"code\":4200,\"message\":\"x\"}");
  g_assert_null (m->ref);
  tv_sig_msg_free (m);

  /* Waiting room. */
  m = PARSE (C, "{\"type\":\"join\",\"consult\":\"" UUID "\"}");
  g_assert_cmpstr (m->consult_id, ==, UUID);
  g_assert_null (m->token);
  tv_sig_msg_free (m);
  m = PARSE (C, "{\"type\":\"auth\",\"session\":\"" TOKEN43 "\"}");
  g_assert_cmpstr (m->token, ==, TOKEN43);
  tv_sig_msg_free (m);
  m = PARSE (C, "{\"type\":\"admit\"}");
  g_assert_null (m->consult_id);
  tv_sig_msg_free (m);
  m = PARSE (S, "{\"type\":\"waiting\",\"doctor\":\"Dr. Test Doctor\",\"scheduled_start\":\"2026-05-14T09:30:00+02:00\","
                "\"doctor_present\":true}");
  g_assert_cmpstr (m->name, ==, "Dr. Test Doctor");
  g_assert_cmpstr (m->scheduled_start, ==, "2026-05-14T09:30:00+02:00");
  g_assert_true (m->doctor_present);
  tv_sig_msg_free (m);
  m = PARSE (S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"Europe/Berlin\",\"consults\":["
                "{\"id\":\"c1\",\"patient\":\"Pat Synthetic\",\"scheduled_start\":\"2026-05-14T09:30:00+02:00\","
                "\"status\":\"waiting\",\"waiting_since\":\"2026-05-14T09:25:00+02:00\",\"patient_present\":true}]}");
  g_assert_no_error (error);
  g_assert_cmpstr (m->date, ==, "2026-05-14");
  g_assert_cmpstr (m->time_zone, ==, "Europe/Berlin");
  g_assert_cmpuint (m->items->len, ==, 1);
  {
    TvSigDashboardItem *it = m->items->pdata[0];
    g_assert_cmpstr (it->consult_id, ==, "c1");
    g_assert_cmpstr (it->patient, ==, "Pat Synthetic");
    g_assert_cmpstr (it->status, ==, "waiting");
    g_assert_cmpstr (it->waiting_since, ==, "2026-05-14T09:25:00+02:00");
    g_assert_true (it->patient_present);
  }
  tv_sig_msg_free (m);
#undef PARSE
}

/* ---- malformed vectors -------------------------------------------------- */

typedef struct {
  TvSigDirection dir;
  const char *data;
  gssize len;             /* -1: strlen (data) */
  int code;               /* expected TvSigErrorCode */
  const char *names;      /* substring the error message must contain, or NULL */
  TvSigMsgType ref;       /* expected *ref_type */
} BadVector;

#define X TV_SIG_MSG_INVALID
static const BadVector bad_vectors[] = {
  /* 4000 BAD_JSON: not JSON, not strict JSON, not UTF-8 */
  { C, "", 0, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "   ", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "not json", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"leave\"", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"leave\",}", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"leave\"} x", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"leave\"}{\"type\":\"end\"}", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{'type':'leave'}", -1, TV_SIG_ERR_BAD_JSON, "single-quoted", X },
  { C, "/* c */{\"type\":\"leave\"}", -1, TV_SIG_ERR_BAD_JSON, "comment", X },
  { C, "{\"type\":\"ping\",\"id\":0x10}", -1, TV_SIG_ERR_BAD_JSON, "hexadecimal", X },
  { C, "{\"type\":\"ping\",\"id\":NaN}", -1, TV_SIG_ERR_BAD_JSON, "NaN", X },
  { C, "{\"type\":\"ping\",\"id\":007}", -1, TV_SIG_ERR_BAD_JSON, "leading zero", X },
  { C, "{\"type\":\"ping\",\"id\":-01}", -1, TV_SIG_ERR_BAD_JSON, "leading zero", X },
  { C, "{\"type\":\"leave\"}\0", 17, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"le\0ve\"}", 16, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"leave\xff\"}", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"\xc3\x28\"}", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"join\",\"token\":\"abcdefghijklmnop\\u0000q\"}", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"lea\nve\"}", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  { C, "{\"type\":\"leave\",\"type\":\"end\"}", -1, TV_SIG_ERR_BAD_JSON, "more than once", X },
  /* duplicates at any depth, and spelt with another escape (json-glib merges both) */
  { C, "{\"type\":\"leave\",\"x\":[{\"a\":1,\"a\":2}]}", -1, TV_SIG_ERR_BAD_JSON, "duplicate member \"a\"", X },
  { C, "{\"type\":\"leave\",\"\\u0074ype\":\"end\"}", -1, TV_SIG_ERR_BAD_JSON, "more than once", X },
  /* a ':' after a value is json-glib's syntax error, not a duplicate */
  { C, "{\"type\":\"leave\":\"end\"}", -1, TV_SIG_ERR_BAD_JSON, "invalid JSON", X },
  { C, "{\"type\":\"ping\",\"id\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}", -1, TV_SIG_ERR_BAD_JSON, "nesting", X },
  { C, "\xef\xbb\xbf{\"type\":\"leave\"}", -1, TV_SIG_ERR_BAD_JSON, "byte-order mark", X },
  /* found by the fuzzer: json-glib's error text quoted invalid UTF-8 */
  { C, "{\"t0\\udc00x\"}", -1, TV_SIG_ERR_BAD_JSON, NULL, X },
  /* a second top-level value after a scalar (the seeded mutation test's input: json-glib 1.6
   * kept the scalar as the root and leaked the object's nodes) */
  { C, " 0\n\t{ \"id\" : 42 , \"type\" : \"ping\" } \n", -1, TV_SIG_ERR_BAD_JSON, "after the end", X },
  { C, "0{\"type\":\"leave\"}", -1, TV_SIG_ERR_BAD_JSON, "after the end", X },
  { C, "\"join\" {\"type\":\"leave\"}", -1, TV_SIG_ERR_BAD_JSON, "after the end", X },
  { C, "\"join\"{}", -1, TV_SIG_ERR_BAD_JSON, "after the end", X },
  { C, "true [1]", -1, TV_SIG_ERR_BAD_JSON, "after the end", X },
  { C, "1 2", -1, TV_SIG_ERR_BAD_JSON, "after the end", X },
  { C, "[1] [2]", -1, TV_SIG_ERR_BAD_JSON, "after the end", X },
  /* 4001 NOT_OBJECT */
  { C, " 42 ", -1, TV_SIG_ERR_NOT_OBJECT, NULL, X },
  { C, "[]", -1, TV_SIG_ERR_NOT_OBJECT, NULL, X },
  { C, "[{\"type\":\"leave\"}]", -1, TV_SIG_ERR_NOT_OBJECT, NULL, X },
  { C, "\"join\"", -1, TV_SIG_ERR_NOT_OBJECT, NULL, X },
  { C, "42", -1, TV_SIG_ERR_NOT_OBJECT, NULL, X },
  { C, "null", -1, TV_SIG_ERR_NOT_OBJECT, NULL, X },
  { S, "true", -1, TV_SIG_ERR_NOT_OBJECT, NULL, X },
  /* 4002 UNKNOWN_TYPE: unknown name, or a type the other side does not send */
  { C, "{\"type\":\"hello\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", X },
  { C, "{\"type\":\"\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", X },
  { C, "{\"type\":\"JOIN\",\"token\":\"" TOKEN43 "\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", X },
  { C, "{\"type\":\"joined\",\"consult\":\"c1\",\"role\":\"doctor\",\"peer_present\":false}", -1,
    TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_JOINED },
  { C, "{\"type\":\"error\",\"code\":4000,\"message\":\"x\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_ERROR },
  { C, "{\"type\":\"pong\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_PONG },
  { C, "{\"type\":\"paired\",\"role\":\"doctor\",\"offerer\":true}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_PAIRED },
  { C, "{\"type\":\"peer-joined\",\"role\":\"doctor\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_PEER_JOINED },
  { C, "{\"type\":\"peer-left\",\"role\":\"doctor\",\"reason\":\"left\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_PEER_LEFT },
  { C, "{\"type\":\"ended\",\"reason\":\"both-left\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_ENDED },
  { S, "{\"type\":\"join\",\"token\":\"" TOKEN43 "\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_JOIN },
  { S, "{\"type\":\"end\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_END },
  { S, "{\"type\":\"leave\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_LEAVE },
  { S, "{\"type\":\"ping\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_PING },
  { S, "{\"type\":\"media\",\"state\":\"connected\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_MEDIA },
  /* 4003 MISSING_FIELD */
  { C, "{}", -1, TV_SIG_ERR_MISSING_FIELD, "type", X },
  { C, "{\"token\":\"" TOKEN43 "\"}", -1, TV_SIG_ERR_MISSING_FIELD, "type", X },
  { C, "{\"type\":\"join\"}", -1, TV_SIG_ERR_MISSING_FIELD, "token", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"media\"}", -1, TV_SIG_ERR_MISSING_FIELD, "state", TV_SIG_MSG_MEDIA },
  { C, "{\"type\":\"offer\"}", -1, TV_SIG_ERR_MISSING_FIELD, "sdp", TV_SIG_MSG_OFFER },
  { S, "{\"type\":\"answer\"}", -1, TV_SIG_ERR_MISSING_FIELD, "sdp", TV_SIG_MSG_ANSWER },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\"}", -1, TV_SIG_ERR_MISSING_FIELD, "sdpMLineIndex", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"sdpMLineIndex\":0}", -1, TV_SIG_ERR_MISSING_FIELD, "candidate", TV_SIG_MSG_CANDIDATE },
  { S, "{\"type\":\"joined\",\"role\":\"doctor\",\"peer_present\":false}", -1, TV_SIG_ERR_MISSING_FIELD, "consult", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"joined\",\"consult\":\"c1\",\"peer_present\":false}", -1, TV_SIG_ERR_MISSING_FIELD, "role", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"joined\",\"consult\":\"c1\",\"role\":\"doctor\"}", -1, TV_SIG_ERR_MISSING_FIELD, "peer_present", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"peer-joined\"}", -1, TV_SIG_ERR_MISSING_FIELD, "role", TV_SIG_MSG_PEER_JOINED },
  { S, "{\"type\":\"peer-left\",\"role\":\"doctor\"}", -1, TV_SIG_ERR_MISSING_FIELD, "reason", TV_SIG_MSG_PEER_LEFT },
  { S, "{\"type\":\"paired\",\"role\":\"doctor\"}", -1, TV_SIG_ERR_MISSING_FIELD, "offerer", TV_SIG_MSG_PAIRED },
  { S, "{\"type\":\"ended\"}", -1, TV_SIG_ERR_MISSING_FIELD, "reason", TV_SIG_MSG_ENDED },
  { S, "{\"type\":\"error\",\"message\":\"x\"}", -1, TV_SIG_ERR_MISSING_FIELD, "code", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"error\",\"code\":4000}", -1, TV_SIG_ERR_MISSING_FIELD, "message", TV_SIG_MSG_ERROR },
  /* 4004 UNKNOWN_FIELD */
  { C, "{\"type\":\"leave\",\"x\":1}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "\"x\"", TV_SIG_MSG_LEAVE },
  { C, "{\"type\":\"end\",\"reason\":\"bye\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "reason", TV_SIG_MSG_END },
  { C, "{\"type\":\"join\",\"token\":\"" TOKEN43 "\",\"role\":\"doctor\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "role", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"ping\",\"Id\":1}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "Id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"offer\",\"sdp\":\"" SDP_MIN "\",\"to\":\"doctor\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "to", TV_SIG_MSG_OFFER },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":0,\"sdpMid\":\"0\"}", -1,
    TV_SIG_ERR_UNKNOWN_FIELD, "sdpMid", TV_SIG_MSG_CANDIDATE },
  { S, "{\"type\":\"pong\",\"id\":1,\"ts\":2}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "ts", TV_SIG_MSG_PONG },
  { C, "{\"type\":\"leave\",\"\\u00e9\\n\\\"\":1}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "\xc3\xa9", TV_SIG_MSG_LEAVE },
  /* 4005 WRONG_TYPE */
  { C, "{\"type\":1}", -1, TV_SIG_ERR_WRONG_TYPE, "type", X },
  { C, "{\"type\":null}", -1, TV_SIG_ERR_WRONG_TYPE, "type", X },
  { C, "{\"type\":[\"join\"]}", -1, TV_SIG_ERR_WRONG_TYPE, "type", X },
  { C, "{\"type\":\"join\",\"token\":12345678901234567}", -1, TV_SIG_ERR_INVALID_VALUE, "token", X },
  { C, "{\"type\":\"join\",\"token\":1234}", -1, TV_SIG_ERR_WRONG_TYPE, "token", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"token\":null}", -1, TV_SIG_ERR_WRONG_TYPE, "token", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"media\",\"state\":true}", -1, TV_SIG_ERR_WRONG_TYPE, "state", TV_SIG_MSG_MEDIA },
  { C, "{\"type\":\"ping\",\"id\":1.5}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":1.0}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":1e2}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":1.05}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":1e-05}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":0.5}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":\"1\"}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":null}", -1, TV_SIG_ERR_WRONG_TYPE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"offer\",\"sdp\":{\"v\":0}}", -1, TV_SIG_ERR_WRONG_TYPE, "sdp", TV_SIG_MSG_OFFER },
  { C, "{\"type\":\"candidate\",\"candidate\":[],\"sdpMLineIndex\":0}", -1, TV_SIG_ERR_WRONG_TYPE, "candidate", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":\"0\"}", -1, TV_SIG_ERR_WRONG_TYPE, "sdpMLineIndex", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":0.0}", -1, TV_SIG_ERR_WRONG_TYPE, "sdpMLineIndex", TV_SIG_MSG_CANDIDATE },
  { S, "{\"type\":\"joined\",\"consult\":\"c1\",\"role\":\"doctor\",\"peer_present\":\"true\"}", -1, TV_SIG_ERR_WRONG_TYPE, "peer_present", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"joined\",\"consult\":7,\"role\":\"doctor\",\"peer_present\":true}", -1, TV_SIG_ERR_WRONG_TYPE, "consult", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"paired\",\"role\":\"doctor\",\"offerer\":1}", -1, TV_SIG_ERR_WRONG_TYPE, "offerer", TV_SIG_MSG_PAIRED },
  { S, "{\"type\":\"peer-joined\",\"role\":2}", -1, TV_SIG_ERR_WRONG_TYPE, "role", TV_SIG_MSG_PEER_JOINED },
  { S, "{\"type\":\"error\",\"code\":\"4000\",\"message\":\"x\"}", -1, TV_SIG_ERR_WRONG_TYPE, "code", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"error\",\"code\":4000,\"message\":\"x\",\"ref\":false}", -1, TV_SIG_ERR_WRONG_TYPE, "ref", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"ended\",\"reason\":null}", -1, TV_SIG_ERR_WRONG_TYPE, "reason", TV_SIG_MSG_ENDED },
  /* 4006 INVALID_VALUE */
  { C, "{\"type\":\"media\",\"state\":\"up\"}", -1, TV_SIG_ERR_INVALID_VALUE, "state", TV_SIG_MSG_MEDIA },
  { C, "{\"type\":\"media\",\"state\":\"\"}", -1, TV_SIG_ERR_INVALID_VALUE, "state", TV_SIG_MSG_MEDIA },
  { C, "{\"type\":\"ping\",\"id\":-1}", -1, TV_SIG_ERR_INVALID_VALUE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":9007199254740993}", -1, TV_SIG_ERR_INVALID_VALUE, "id", TV_SIG_MSG_PING },
  { C, "{\"type\":\"ping\",\"id\":18446744073709551617}", -1, TV_SIG_ERR_INVALID_VALUE, "id", X },
  { C, "{\"type\":\"ping\",\"id\":-99999999999999999999}", -1, TV_SIG_ERR_INVALID_VALUE, "id", X },
  { C, "{\"type\":\"offer\",\"sdp\":\"\"}", -1, TV_SIG_ERR_INVALID_VALUE, "sdp", TV_SIG_MSG_OFFER },
  { C, "{\"type\":\"offer\",\"sdp\":\"hello\"}", -1, TV_SIG_ERR_INVALID_VALUE, "sdp", TV_SIG_MSG_OFFER },
  { C, "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\\u0001\"}", -1, TV_SIG_ERR_INVALID_VALUE, "sdp", TV_SIG_MSG_ANSWER },
  { C, "{\"type\":\"offer\",\"sdp\":\"v=0\\udc00x\"}", -1, TV_SIG_ERR_INVALID_VALUE, "sdp", TV_SIG_MSG_OFFER },
  { C, "{\"type\":\"candidate\",\"candidate\":\"foo\",\"sdpMLineIndex\":0}", -1, TV_SIG_ERR_INVALID_VALUE, "candidate", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"candidate\":\"candidate:1\\r\\na=x\",\"sdpMLineIndex\":0}", -1, TV_SIG_ERR_INVALID_VALUE, "candidate", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":16}", -1, TV_SIG_ERR_INVALID_VALUE, "sdpMLineIndex", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":-1}", -1, TV_SIG_ERR_INVALID_VALUE, "sdpMLineIndex", TV_SIG_MSG_CANDIDATE },
  { C, "{\"type\":\"candidate\",\"candidate\":\"\",\"sdpMLineIndex\":4294967296}", -1, TV_SIG_ERR_INVALID_VALUE, "sdpMLineIndex", TV_SIG_MSG_CANDIDATE },
  { S, "{\"type\":\"joined\",\"consult\":\"\",\"role\":\"doctor\",\"peer_present\":true}", -1, TV_SIG_ERR_INVALID_VALUE, "consult", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"joined\",\"consult\":\"a b\",\"role\":\"doctor\",\"peer_present\":true}", -1, TV_SIG_ERR_INVALID_VALUE, "consult", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"joined\",\"consult\":\"c1\",\"role\":\"nurse\",\"peer_present\":true}", -1, TV_SIG_ERR_INVALID_VALUE, "role", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"joined\",\"consult\":\"c1\",\"role\":\"none\",\"peer_present\":true}", -1, TV_SIG_ERR_INVALID_VALUE, "role", TV_SIG_MSG_JOINED },
  { S, "{\"type\":\"peer-left\",\"role\":\"doctor\",\"reason\":\"bye\"}", -1, TV_SIG_ERR_INVALID_VALUE, "reason", TV_SIG_MSG_PEER_LEFT },
  { S, "{\"type\":\"ended\",\"reason\":\"left\"}", -1, TV_SIG_ERR_INVALID_VALUE, "reason", TV_SIG_MSG_ENDED },
  { S, "{\"type\":\"ended\",\"reason\":\"\"}", -1, TV_SIG_ERR_INVALID_VALUE, "reason", TV_SIG_MSG_ENDED },
  { S, "{\"type\":\"error\",\"code\":200,\"message\":\"x\"}", -1, TV_SIG_ERR_INVALID_VALUE, "code", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"error\",\"code\":4000,\"message\":\"\"}", -1, TV_SIG_ERR_INVALID_VALUE, "message", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"error\",\"code\":4000,\"message\":\"a\\u0007b\"}", -1, TV_SIG_ERR_INVALID_VALUE, "message", TV_SIG_MSG_ERROR },
  { S, "{\"type\":\"error\",\"code\":4000,\"message\":\"x\",\"ref\":\"bogus\"}", -1, TV_SIG_ERR_INVALID_VALUE, "ref", TV_SIG_MSG_ERROR },
  /* 4102 TOKEN_INVALID: malformed tokens */
  { C, "{\"type\":\"join\",\"token\":\"\"}", -1, TV_SIG_ERR_TOKEN_INVALID, "token", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"token\":\"abcdefghijklmno\"}", -1, TV_SIG_ERR_TOKEN_INVALID, "token", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"token\":\"abcdefghijklmnop+/==\"}", -1, TV_SIG_ERR_TOKEN_INVALID, "token", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"token\":\"abcdefgh ijklmnop\"}", -1, TV_SIG_ERR_TOKEN_INVALID, "token", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"token\":\"abcdefghijklmnop\\u00e9\"}", -1, TV_SIG_ERR_TOKEN_INVALID, "token", TV_SIG_MSG_JOIN },
  /* waiting room */
  { C, "{\"type\":\"join\",\"token\":\"" TOKEN43 "\",\"consult\":\"" UUID "\"}", -1, TV_SIG_ERR_INVALID_VALUE, "consult", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"consult\":\"a/b\"}", -1, TV_SIG_ERR_INVALID_VALUE, "consult", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"join\",\"consult\":\"\"}", -1, TV_SIG_ERR_INVALID_VALUE, "consult", TV_SIG_MSG_JOIN },
  { C, "{\"type\":\"auth\"}", -1, TV_SIG_ERR_MISSING_FIELD, "session", TV_SIG_MSG_AUTH },
  { C, "{\"type\":\"auth\",\"session\":\"short\"}", -1, TV_SIG_ERR_TOKEN_INVALID, "session", TV_SIG_MSG_AUTH },
  { C, "{\"type\":\"auth\",\"session\":\"" TOKEN43 "\",\"user\":\"x\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "user", TV_SIG_MSG_AUTH },
  { C, "{\"type\":\"admit\",\"consult\":5}", -1, TV_SIG_ERR_WRONG_TYPE, "consult", TV_SIG_MSG_ADMIT },
  { C, "{\"type\":\"send-back\",\"consult\":\"c1\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "consult", TV_SIG_MSG_SEND_BACK },
  { C, "{\"type\":\"restart\",\"reason\":\"x\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "reason", TV_SIG_MSG_RESTART },
  { S, "{\"type\":\"media-restart\"}", -1, TV_SIG_ERR_MISSING_FIELD, "role", TV_SIG_MSG_MEDIA_RESTART },
  { S, "{\"type\":\"media-restart\",\"role\":\"nurse\"}", -1, TV_SIG_ERR_INVALID_VALUE, "role", TV_SIG_MSG_MEDIA_RESTART },
  { C, "{\"type\":\"media-restart\",\"role\":\"doctor\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "media-restart",
    TV_SIG_MSG_MEDIA_RESTART },
  { C, "{\"type\":\"waiting\",\"doctor\":\"D\",\"scheduled_start\":\"2026-05-14T09:30:00Z\",\"doctor_present\":true}", -1,
    TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_WAITING },
  { S, "{\"type\":\"admit\"}", -1, TV_SIG_ERR_UNKNOWN_TYPE, "type", TV_SIG_MSG_ADMIT },
  { S, "{\"type\":\"waiting\",\"doctor\":\"D\",\"scheduled_start\":\"2026-05-14T09:30:00\",\"doctor_present\":true}", -1,
    TV_SIG_ERR_INVALID_VALUE, "scheduled_start", TV_SIG_MSG_WAITING },
  { S, "{\"type\":\"waiting\",\"doctor\":\"D\",\"scheduled_start\":\"tomorrow\",\"doctor_present\":true}", -1,
    TV_SIG_ERR_INVALID_VALUE, "scheduled_start", TV_SIG_MSG_WAITING },
  { S, "{\"type\":\"waiting\",\"doctor\":\"D\\u0007\",\"scheduled_start\":\"2026-05-14T09:30:00Z\",\"doctor_present\":true}", -1,
    TV_SIG_ERR_INVALID_VALUE, "doctor", TV_SIG_MSG_WAITING },
  { S, "{\"type\":\"waiting\",\"doctor\":\"D\",\"scheduled_start\":\"2026-05-14T09:30:00Z\"}", -1,
    TV_SIG_ERR_MISSING_FIELD, "doctor_present", TV_SIG_MSG_WAITING },
  { S, "{\"type\":\"doctor-ready\",\"doctor\":\"D\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "doctor", TV_SIG_MSG_DOCTOR_READY },
  { C, "{\"type\":\"facts\"}", -1, TV_SIG_ERR_MISSING_FIELD, "modality", TV_SIG_MSG_FACTS },
  { C, "{\"type\":\"facts\",\"modality\":\"audio-only\"}", -1, TV_SIG_ERR_MISSING_FIELD, "audio_only_reason",
    TV_SIG_MSG_FACTS },
  { C, "{\"type\":\"facts\",\"modality\":\"audio-video\",\"audio_only_reason\":\"x\"}", -1,
    TV_SIG_ERR_INVALID_VALUE, "audio_only_reason", TV_SIG_MSG_FACTS },
  { C, "{\"type\":\"facts\",\"modality\":\"hologram\"}", -1, TV_SIG_ERR_INVALID_VALUE, "modality",
    TV_SIG_MSG_FACTS },
  { C, "{\"type\":\"facts\",\"patient_location\":\"moon\"}", -1, TV_SIG_ERR_INVALID_VALUE, "patient_location",
    TV_SIG_MSG_FACTS },
  { C, "{\"type\":\"facts\",\"patient_status\":\"old\"}", -1, TV_SIG_ERR_INVALID_VALUE, "patient_status",
    TV_SIG_MSG_FACTS },
  { C, "{\"type\":\"facts\",\"note\":\"x\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "note", TV_SIG_MSG_FACTS },
  { S, "{\"type\":\"facts-saved\",\"modality\":\"audio-video\",\"patient_location\":\"home\"}", -1,
    TV_SIG_ERR_MISSING_FIELD, "patient_status", TV_SIG_MSG_FACTS_SAVED },
  /* chat: empty, control characters (tab, CR), wrong type, extra fields, server-only form from a client */
  { C, "{\"type\":\"chat\",\"text\":\"\"}", -1, TV_SIG_ERR_INVALID_VALUE, "text", TV_SIG_MSG_CHAT },
  { C, "{\"type\":\"chat\",\"text\":\"a\\tb\"}", -1, TV_SIG_ERR_INVALID_VALUE, "text", TV_SIG_MSG_CHAT },
  { C, "{\"type\":\"chat\",\"text\":\"a\\r\\nb\"}", -1, TV_SIG_ERR_INVALID_VALUE, "text", TV_SIG_MSG_CHAT },
  { C, "{\"type\":\"chat\",\"text\":7}", -1, TV_SIG_ERR_WRONG_TYPE, "text", TV_SIG_MSG_CHAT },
  { C, "{\"type\":\"chat\"}", -1, TV_SIG_ERR_MISSING_FIELD, "text", TV_SIG_MSG_CHAT },
  { C, "{\"type\":\"chat\",\"text\":\"x\",\"from\":\"doctor\"}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "from", TV_SIG_MSG_CHAT },
  { C, "{\"type\":\"chat-message\",\"id\":1,\"at\":\"2026-05-14T07:41:09Z\",\"from\":\"doctor\",\"text\":\"x\"}", -1,
    TV_SIG_ERR_UNKNOWN_TYPE, "chat-message", TV_SIG_MSG_CHAT_MESSAGE },
  { S, "{\"type\":\"chat-message\",\"id\":0,\"at\":\"2026-05-14T07:41:09Z\",\"from\":\"doctor\",\"text\":\"x\"}", -1,
    TV_SIG_ERR_INVALID_VALUE, "id", TV_SIG_MSG_CHAT_MESSAGE },
  { S, "{\"type\":\"chat-message\",\"id\":1,\"at\":\"2026-05-14T07:41:09Z\",\"from\":\"nurse\",\"text\":\"x\"}", -1,
    TV_SIG_ERR_INVALID_VALUE, "from", TV_SIG_MSG_CHAT_MESSAGE },
  { S, "{\"type\":\"authed\",\"user\":\"u1\"}", -1, TV_SIG_ERR_MISSING_FIELD, "name", TV_SIG_MSG_AUTHED },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-02-30\",\"time_zone\":\"UTC\",\"consults\":[]}", -1,
    TV_SIG_ERR_INVALID_VALUE, "date", TV_SIG_MSG_DASHBOARD },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"Mars/Olympus\",\"consults\":[]}", -1,
    TV_SIG_ERR_INVALID_VALUE, "time_zone", TV_SIG_MSG_DASHBOARD },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"UTC\",\"consults\":{}}", -1,
    TV_SIG_ERR_WRONG_TYPE, "consults", TV_SIG_MSG_DASHBOARD },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"UTC\",\"consults\":[7]}", -1,
    TV_SIG_ERR_WRONG_TYPE, "consults[0]", TV_SIG_MSG_DASHBOARD },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"UTC\",\"consults\":[{\"id\":\"c1\","
       "\"patient\":\"P\",\"scheduled_start\":\"2026-05-14T09:30:00Z\",\"status\":\"lost\",\"patient_present\":true}]}", -1,
    TV_SIG_ERR_INVALID_VALUE, "consults[0]: field \"status\"", TV_SIG_MSG_DASHBOARD },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"UTC\",\"consults\":[{\"id\":\"c1\","
       "\"patient\":\"P\",\"scheduled_start\":\"2026-05-14T09:30:00Z\",\"status\":\"waiting\",\"patient_present\":true,"
       "\"type\":\"x\"}]}", -1, TV_SIG_ERR_UNKNOWN_FIELD, "type", TV_SIG_MSG_DASHBOARD },
  { S, "{\"type\":\"dashboard\",\"date\":\"2026-05-14\",\"time_zone\":\"UTC\",\"consults\":[{\"id\":\"c1\","
       "\"scheduled_start\":\"2026-05-14T09:30:00Z\",\"status\":\"waiting\",\"patient_present\":true}]}", -1,
    TV_SIG_ERR_MISSING_FIELD, "patient", TV_SIG_MSG_DASHBOARD },
  /* joined: ice_servers */
  { S, JOINED_ICE ("[]"), -1, TV_SIG_ERR_INVALID_VALUE, "ice_servers", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("{}"), -1, TV_SIG_ERR_WRONG_TYPE, "ice_servers", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[\"stun:h\"]"), -1, TV_SIG_ERR_WRONG_TYPE, "ice_servers[0]", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"username\":\"u\"}]"), -1, TV_SIG_ERR_MISSING_FIELD, "ice_servers[0]: field \"urls\"",
    TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[]}]"), -1, TV_SIG_ERR_INVALID_VALUE, "ice_servers[0]: field \"urls\"", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":\"stun:h\"}]"), -1, TV_SIG_ERR_WRONG_TYPE, "ice_servers[0]: field \"urls\"",
    TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[7]}]"), -1, TV_SIG_ERR_WRONG_TYPE, "urls[0]", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"http://h\"]}]"), -1, TV_SIG_ERR_INVALID_VALUE, "urls[0]", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"turn:\"]}]"), -1, TV_SIG_ERR_INVALID_VALUE, "urls[0]", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"turn:h 1\"]}]"), -1, TV_SIG_ERR_INVALID_VALUE, "urls[0]", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"turn:h\\u0007\"]}]"), -1, TV_SIG_ERR_INVALID_VALUE, "urls[0]", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"stun:a\",\"stun:b\",\"stun:c\",\"stun:d\",\"stun:e\"]}]"), -1,
    TV_SIG_ERR_INVALID_VALUE, "urls", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"turn:h\"],\"username\":\"\"}]"), -1, TV_SIG_ERR_INVALID_VALUE,
    "ice_servers[0]: field \"username\"", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"turn:h\"],\"credential\":5}]"), -1, TV_SIG_ERR_WRONG_TYPE,
    "ice_servers[0]: field \"credential\"", TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"turn:h\"],\"password\":\"p\"}]"), -1, TV_SIG_ERR_UNKNOWN_FIELD, "password",
    TV_SIG_MSG_JOINED },
  { S, JOINED_ICE ("[{\"urls\":[\"stun:h\"]},{\"urls\":[\"stun:h\"]},{\"urls\":[\"stun:h\"]},{\"urls\":[\"stun:h\"]},"
                   "{\"urls\":[\"stun:h\"]},{\"urls\":[\"stun:h\"]},{\"urls\":[\"stun:h\"]},{\"urls\":[\"stun:h\"]},"
                   "{\"urls\":[\"stun:h\"]}]"), -1, TV_SIG_ERR_INVALID_VALUE, "more than 8", TV_SIG_MSG_JOINED },
};
#undef X

static void
check_bad (const BadVector *v, gsize index)
{
  g_autoptr (GError) error = NULL;
  TvSigMsgType ref = TV_SIG_MSG_N_TYPES;
  gsize len = v->len < 0 ? strlen (v->data) : (gsize) v->len;
  TvSigMsg *msg = tv_sig_msg_parse (v->data, len, v->dir, &ref, &error);

  if (msg != NULL)
    g_error ("bad vector %" G_GSIZE_FORMAT " accepted: %s", index, v->data);
  g_assert_error (error, TV_SIG_ERROR, v->code);
  g_assert_nonnull (error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  if (v->names != NULL && strstr (error->message, v->names) == NULL)
    g_error ("bad vector %" G_GSIZE_FORMAT ": message \"%s\" does not name \"%s\"",
             index, error->message, v->names);
  g_assert_cmpint (ref, ==, v->ref);
}

static void
test_bad_vectors (void)
{
  gboolean seen[6000] = { FALSE };
  static const int parser_codes[] = {
    TV_SIG_ERR_BAD_JSON, TV_SIG_ERR_NOT_OBJECT, TV_SIG_ERR_UNKNOWN_TYPE, TV_SIG_ERR_MISSING_FIELD,
    TV_SIG_ERR_UNKNOWN_FIELD, TV_SIG_ERR_WRONG_TYPE, TV_SIG_ERR_INVALID_VALUE, TV_SIG_ERR_TOKEN_INVALID,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad_vectors); i++)
    {
      g_test_message ("bad vector %" G_GSIZE_FORMAT, i);
      check_bad (&bad_vectors[i], i);
      seen[bad_vectors[i].code] = TRUE;
    }
  /* Every code the parser can produce has at least one vector (4007 below). */
  for (gsize i = 0; i < G_N_ELEMENTS (parser_codes); i++)
    g_assert_true (seen[parser_codes[i]]);
}

/* Limits at their exact edges: the largest accepted, the smallest refused. */
static void
test_limits (void)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  TvSigMsgType ref;
  TvSigMsg *msg;
  gsize base;

  /* Frame size: checked before anything else, even for garbage. */
  g_autofree char *big = g_malloc (TV_SIG_MAX_FRAME_BYTES + 1);
  memset (big, ' ', TV_SIG_MAX_FRAME_BYTES + 1);
  big[0] = '{';
  memcpy (big + 1, "\"type\":\"leave\"}", 15);
  msg = tv_sig_msg_parse (big, TV_SIG_MAX_FRAME_BYTES + 1, TV_SIG_FROM_CLIENT, &ref, &error);
  g_assert_null (msg);
  g_assert_error (error, TV_SIG_ERROR, TV_SIG_ERR_FRAME_TOO_LARGE);
  g_assert_cmpint (ref, ==, TV_SIG_MSG_INVALID);
  g_clear_error (&error);
  msg = tv_sig_msg_parse (big, TV_SIG_MAX_FRAME_BYTES, TV_SIG_FROM_CLIENT, &ref, &error);
  g_assert_no_error (error);
  g_assert_cmpint (msg->type, ==, TV_SIG_MSG_LEAVE);
  tv_sig_msg_free (msg);
  big[1] = 0x01; /* garbage of the same size is still "too large" first */
  msg = tv_sig_msg_parse (big, TV_SIG_MAX_FRAME_BYTES + 1, TV_SIG_FROM_CLIENT, NULL, &error);
  g_assert_error (error, TV_SIG_ERROR, TV_SIG_ERR_FRAME_TOO_LARGE);
  g_clear_error (&error);

  /* SDP: exactly TV_SIG_MAX_SDP_BYTES passes, one more fails. */
  g_string_append (s, "{\"type\":\"offer\",\"sdp\":\"v=0");
  base = s->len - strlen ("v=0");
  while (s->len - base < TV_SIG_MAX_SDP_BYTES + 1)
    g_string_append_c (s, 'a');
  g_string_append (s, "\"}");
  msg = tv_sig_msg_parse (s->str, s->len, TV_SIG_FROM_CLIENT, NULL, &error);
  g_assert_error (error, TV_SIG_ERROR, TV_SIG_ERR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "sdp"));
  g_clear_error (&error);
  g_string_erase (s, s->len - 3, 1);
  msg = tv_sig_msg_parse (s->str, s->len, TV_SIG_FROM_CLIENT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (msg->sdp), ==, TV_SIG_MAX_SDP_BYTES);
  {
    /* Re-serialised, it still fits in a frame and parses. */
    g_autofree char *json = tv_sig_msg_to_json (msg);
    g_autoptr (TvSigMsg) again = tv_sig_msg_parse (json, strlen (json), TV_SIG_FROM_SERVER, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (again->sdp, ==, msg->sdp);
  }
  tv_sig_msg_free (msg);

  /* Candidate: 1024 bytes passes, 1025 fails. */
  g_string_assign (s, "{\"type\":\"candidate\",\"sdpMLineIndex\":0,\"candidate\":\"candidate:");
  base = s->len - strlen ("candidate:");
  while (s->len - base < TV_SIG_MAX_CANDIDATE_BYTES)
    g_string_append_c (s, 'c');
  g_string_append (s, "\"}");
  msg = tv_sig_msg_parse (s->str, s->len, TV_SIG_FROM_CLIENT, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (msg->candidate), ==, TV_SIG_MAX_CANDIDATE_BYTES);
  tv_sig_msg_free (msg);
  g_string_insert_c (s, s->len - 2, 'c');
  msg = tv_sig_msg_parse (s->str, s->len, TV_SIG_FROM_CLIENT, NULL, &error);
  g_assert_error (error, TV_SIG_ERROR, TV_SIG_ERR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "candidate"));
  g_clear_error (&error);

  /* Token: 16 and 128 pass, 129 fails with TOKEN_INVALID. */
  for (gsize n = 15; n <= 129; n++)
    {
      g_autofree char *tok = g_strnfill (n, 'k');
      g_autofree char *json = g_strdup_printf ("{\"type\":\"join\",\"token\":\"%s\"}", tok);
      msg = tv_sig_msg_parse (json, strlen (json), TV_SIG_FROM_CLIENT, NULL, &error);
      if (n >= 16 && n <= TV_SIG_MAX_TOKEN_BYTES)
        {
          g_assert_no_error (error);
          tv_sig_msg_free (msg);
        }
      else
        {
          g_assert_error (error, TV_SIG_ERROR, TV_SIG_ERR_TOKEN_INVALID);
          g_clear_error (&error);
        }
    }

  /* Error text: 256 bytes pass, 257 fail. */
  for (gsize n = TV_SIG_MAX_TEXT_BYTES; n <= TV_SIG_MAX_TEXT_BYTES + 1; n++)
    {
      g_autofree char *text = g_strnfill (n, 'm');
      g_autofree char *json = g_strdup_printf ("{\"type\":\"error\",\"code\":4000,\"message\":\"%s\"}", text);
      msg = tv_sig_msg_parse (json, strlen (json), TV_SIG_FROM_SERVER, NULL, &error);
      if (n == TV_SIG_MAX_TEXT_BYTES)
        {
          g_assert_no_error (error);
          tv_sig_msg_free (msg);
        }
      else
        {
          g_assert_error (error, TV_SIG_ERROR, TV_SIG_ERR_INVALID_VALUE);
          g_clear_error (&error);
        }
    }

  /* Nesting: 16 levels is JSON-wise fine (then the wrong type), 17 is not. */
  g_string_assign (s, "{\"type\":\"ping\",\"id\":");
  for (int i = 0; i < 15; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i < 15; i++)
    g_string_append_c (s, ']');
  g_string_append_c (s, '}');
  msg = tv_sig_msg_parse (s->str, s->len, TV_SIG_FROM_CLIENT, NULL, &error);
  g_assert_error (error, TV_SIG_ERROR, TV_SIG_ERR_WRONG_TYPE);
  g_clear_error (&error);
}

/* ---- builders ----------------------------------------------------------- */

static TvSigMsg *
parse_built (char *json, TvSigDirection dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *owned = json;
  TvSigMsg *msg;

  g_assert_nonnull (json);
  msg = tv_sig_msg_parse (json, strlen (json), dir, NULL, &error);
  if (msg == NULL)
    g_error ("builder output refused: %s (%s)", json, error->message);
  return msg;
}

static void
test_builders (void)
{
  TvSigMsg *m;

  m = parse_built (tv_sig_build_join (TOKEN43), C);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_JOIN);
  g_assert_cmpstr (m->token, ==, TOKEN43);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_media (TRUE), C);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_MEDIA);
  g_assert_true (m->media_up);
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_media (FALSE), C);
  g_assert_false (m->media_up);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_sdp (TV_SIG_MSG_OFFER, "v=0\r\ns=-\r\n"), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_OFFER);
  g_assert_cmpstr (m->sdp, ==, "v=0\r\ns=-\r\n");
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_sdp (TV_SIG_MSG_ANSWER, "v=0\r\n"), C);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_ANSWER);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_candidate (3, CAND), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_CANDIDATE);
  g_assert_cmpint (m->mline_index, ==, 3);
  g_assert_cmpstr (m->candidate, ==, CAND);
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_candidate (0, NULL), C);
  g_assert_cmpstr (m->candidate, ==, "");
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_joined (UUID, TV_SIG_ROLE_DOCTOR, TRUE), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_JOINED);
  g_assert_cmpstr (m->consult_id, ==, UUID);
  g_assert_cmpint (m->role, ==, TV_SIG_ROLE_DOCTOR);
  g_assert_true (m->peer_present);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_peer_joined (TV_SIG_ROLE_PATIENT), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_PEER_JOINED);
  g_assert_cmpint (m->role, ==, TV_SIG_ROLE_PATIENT);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_peer_left (TV_SIG_ROLE_DOCTOR, "dropped"), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_PEER_LEFT);
  g_assert_cmpint (m->role, ==, TV_SIG_ROLE_DOCTOR);
  g_assert_cmpstr (m->reason, ==, "dropped");
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_paired (TV_SIG_ROLE_PATIENT, TRUE), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_PAIRED);
  g_assert_cmpint (m->role, ==, TV_SIG_ROLE_PATIENT);
  g_assert_true (m->offerer);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_ended ("ended-by-admin"), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_ENDED);
  g_assert_cmpstr (m->reason, ==, "ended-by-admin");
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_error (TV_SIG_ERR_NOT_PAIRED, "the peer is not connected", TV_SIG_MSG_OFFER), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_ERROR);
  g_assert_cmpint (m->code, ==, TV_SIG_ERR_NOT_PAIRED);
  g_assert_cmpstr (m->message, ==, "the peer is not connected");
  g_assert_cmpstr (m->ref, ==, "offer");
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_join_consult (UUID), C);
  g_assert_cmpstr (m->consult_id, ==, UUID);
  g_assert_null (m->token);
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_auth (TOKEN43), C);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_AUTH);
  g_assert_cmpstr (m->token, ==, TOKEN43);
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_admit (NULL), C);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_ADMIT);
  g_assert_null (m->consult_id);
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_admit (UUID), C);
  g_assert_cmpstr (m->consult_id, ==, UUID);
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_authed (UUID, "Dr. Test Doctor"), S);
  g_assert_cmpstr (m->user_id, ==, UUID);
  g_assert_cmpstr (m->name, ==, "Dr. Test Doctor");
  tv_sig_msg_free (m);
  m = parse_built (tv_sig_build_waiting ("Dr. Test Doctor", "2026-05-14T09:30:00+02:00", FALSE), S);
  g_assert_cmpint (m->type, ==, TV_SIG_MSG_WAITING);
  g_assert_cmpstr (m->name, ==, "Dr. Test Doctor");
  g_assert_false (m->doctor_present);
  tv_sig_msg_free (m);
  {
    g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_sig_dashboard_item_free);
    TvSigDashboardItem *it = tv_sig_dashboard_item_new ();
    it->consult_id = g_strdup (UUID);
    it->patient = g_strdup ("Pat Synthetic");
    it->scheduled_start = g_strdup ("2026-05-14T09:30:00+02:00");
    it->status = g_strdup ("scheduled");
    g_ptr_array_add (items, it);
    m = parse_built (tv_sig_build_dashboard ("2026-05-14", "Europe/Berlin", items), S);
    g_assert_cmpuint (m->items->len, ==, 1);
    g_assert_null (((TvSigDashboardItem *) m->items->pdata[0])->waiting_since);
    g_assert_false (((TvSigDashboardItem *) m->items->pdata[0])->patient_present);
    tv_sig_msg_free (m);
    m = parse_built (tv_sig_build_dashboard ("2026-05-14", "UTC", NULL), S);
    g_assert_cmpuint (m->items->len, ==, 0);
    tv_sig_msg_free (m);
  }
  {
    g_autoptr (GPtrArray) ice = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_sig_ice_server_free);
    TvSigIceServer *stun = tv_sig_ice_server_new (), *turn = tv_sig_ice_server_new ();
    stun->urls = g_strsplit ("stun:198.18.0.3:3478", " ", -1);
    turn->urls = g_strsplit ("turn:198.18.0.3:3478?transport=udp", " ", -1);
    turn->username = g_strdup ("1790000000:" UUID);
    turn->credential = g_strdup ("q0/Jx+5Gk2e5XHvIJdYwV0nP1jA=");
    g_ptr_array_add (ice, stun);
    g_ptr_array_add (ice, turn);
    m = parse_built (tv_sig_build_joined_full (UUID, TV_SIG_ROLE_PATIENT, TRUE, ice), S);
    g_assert_cmpint (m->type, ==, TV_SIG_MSG_JOINED);
    g_assert_cmpuint (m->ice_servers->len, ==, 2);
    g_assert_null (((TvSigIceServer *) m->ice_servers->pdata[0])->username);
    g_assert_cmpstr (((TvSigIceServer *) m->ice_servers->pdata[1])->urls[0], ==, "turn:198.18.0.3:3478?transport=udp");
    g_assert_cmpstr (((TvSigIceServer *) m->ice_servers->pdata[1])->username, ==, "1790000000:" UUID);
    g_assert_cmpstr (((TvSigIceServer *) m->ice_servers->pdata[1])->credential, ==, "q0/Jx+5Gk2e5XHvIJdYwV0nP1jA=");
    tv_sig_msg_free (m);
    /* Without servers the field is left out (the plain form). */
    g_ptr_array_set_size (ice, 0);
    g_autofree char *plain = tv_sig_build_joined_full (UUID, TV_SIG_ROLE_PATIENT, TRUE, ice);
    g_autofree char *plain2 = tv_sig_build_joined (UUID, TV_SIG_ROLE_PATIENT, TRUE);
    g_assert_cmpstr (plain, ==, plain2);
    g_assert_null (strstr (plain, "ice_servers"));
  }
}

/* STUN/TURN URLs as "ice_servers" carries them (RFC 7064/7065). */
static void
test_ice_url_parse (void)
{
  static const struct {
    const char *url, *scheme, *host;
    guint16 port;
    const char *transport;
  } good[] = {
    { "stun:198.18.0.3", "stun", "198.18.0.3", 3478, NULL },
    { "stun:stun.example.org:19302", "stun", "stun.example.org", 19302, NULL },
    { "turn:198.18.0.3:3478?transport=udp", "turn", "198.18.0.3", 3478, "udp" },
    { "turn:[2001:db8::3]:3479?transport=tcp", "turn", "2001:db8::3", 3479, "tcp" },
    { "turns:turn.example.org", "turns", "turn.example.org", 5349, NULL },
  };
  static const char *const bad[] = {
    "", "stun", "stun:", "http://h", "turn://h:3478", "turn:user@h", "turn:h:0", "turn:h:70000", "turn:h:x",
    "turn:h?transport=sctp", "turn:h?foo=1", "stun:h?transport=udp", "turn:h/path", "turn:h#f", "turn:h 1",
    "turn:[::1", "TURNX:h",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autofree char *scheme = NULL, *host = NULL, *transport = NULL;
      guint16 port = 0;
      g_test_message ("good %s", good[i].url);
      g_assert_true (tv_sig_ice_url_parse (good[i].url, &scheme, &host, &port, &transport));
      g_assert_cmpstr (scheme, ==, good[i].scheme);
      g_assert_cmpstr (host, ==, good[i].host);
      g_assert_cmpuint (port, ==, good[i].port);
      g_assert_cmpstr (transport, ==, good[i].transport);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("bad %s", bad[i]);
      g_assert_false (tv_sig_ice_url_parse (bad[i], NULL, NULL, NULL, NULL));
    }
}

/* The error builder must always produce a frame the client accepts, even
 * when its text quotes hostile input. */
static void
test_build_error_sanitises (void)
{
  g_autofree char *long_text = NULL;
  TvSigMsg *m;

  m = parse_built (tv_sig_build_error (TV_SIG_ERR_JOIN_TIMEOUT, NULL, TV_SIG_MSG_INVALID), S);
  g_assert_cmpstr (m->message, ==, "JOIN_TIMEOUT");
  g_assert_null (m->ref);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_error (TV_SIG_ERR_BAD_JSON, "", TV_SIG_MSG_N_TYPES), S);
  g_assert_cmpstr (m->message, ==, "BAD_JSON");
  g_assert_null (m->ref);
  tv_sig_msg_free (m);

  m = parse_built (tv_sig_build_error (TV_SIG_ERR_UNKNOWN_FIELD, "bad \xff\xfe field \"\x01\n\"", TV_SIG_MSG_LEAVE), S);
  g_assert_true (g_utf8_validate (m->message, -1, NULL));
  g_assert_null (strchr (m->message, '\n'));
  g_assert_cmpstr (m->ref, ==, "leave");
  tv_sig_msg_free (m);

  /* 300 two-byte characters: cut to at most 256 bytes on a character boundary. */
  {
    GString *s = g_string_new (NULL);
    for (int i = 0; i < 300; i++)
      g_string_append (s, "\xc3\xa9");
    long_text = g_string_free (s, FALSE);
  }
  m = parse_built (tv_sig_build_error (TV_SIG_ERR_INTERNAL, long_text, TV_SIG_MSG_JOIN), S);
  g_assert_cmpuint (strlen (m->message), <=, TV_SIG_MAX_TEXT_BYTES);
  g_assert_cmpuint (strlen (m->message), >=, TV_SIG_MAX_TEXT_BYTES - 1);
  g_assert_true (g_utf8_validate (m->message, -1, NULL));
  tv_sig_msg_free (m);
}

/* ---- names and small functions ----------------------------------------- */

static void
test_names (void)
{
  TvSigRole role = TV_SIG_ROLE_NONE;

  for (int t = TV_SIG_MSG_INVALID + 1; t < TV_SIG_MSG_N_TYPES; t++)
    {
      const char *name = tv_sig_msg_type_to_string ((TvSigMsgType) t);
      g_assert_nonnull (name);
      g_assert_cmpint (tv_sig_msg_type_from_string (name), ==, t);
    }
  g_assert_null (tv_sig_msg_type_to_string (TV_SIG_MSG_INVALID));
  g_assert_null (tv_sig_msg_type_to_string (TV_SIG_MSG_N_TYPES));
  g_assert_null (tv_sig_msg_type_to_string ((TvSigMsgType) -1));
  g_assert_cmpint (tv_sig_msg_type_from_string ("nope"), ==, TV_SIG_MSG_INVALID);
  g_assert_cmpint (tv_sig_msg_type_from_string (NULL), ==, TV_SIG_MSG_INVALID);
  g_assert_cmpstr (tv_sig_msg_type_to_string (TV_SIG_MSG_PEER_JOINED), ==, "peer-joined");
  g_assert_cmpstr (tv_sig_msg_type_to_string (TV_SIG_MSG_PEER_LEFT), ==, "peer-left");

  g_assert_cmpstr (tv_sig_role_to_string (TV_SIG_ROLE_DOCTOR), ==, "doctor");
  g_assert_cmpstr (tv_sig_role_to_string (TV_SIG_ROLE_PATIENT), ==, "patient");
  g_assert_cmpstr (tv_sig_role_to_string (TV_SIG_ROLE_NONE), ==, "none");
  g_assert_true (tv_sig_role_from_string ("patient", &role));
  g_assert_cmpint (role, ==, TV_SIG_ROLE_PATIENT);
  g_assert_true (tv_sig_role_from_string ("doctor", &role));
  g_assert_cmpint (role, ==, TV_SIG_ROLE_DOCTOR);
  g_assert_false (tv_sig_role_from_string ("none", &role));
  g_assert_false (tv_sig_role_from_string ("Doctor", &role));
  g_assert_false (tv_sig_role_from_string (NULL, &role));
  g_assert_cmpint (role, ==, TV_SIG_ROLE_DOCTOR);
  g_assert_cmpint (tv_sig_role_peer (TV_SIG_ROLE_DOCTOR), ==, TV_SIG_ROLE_PATIENT);
  g_assert_cmpint (tv_sig_role_peer (TV_SIG_ROLE_PATIENT), ==, TV_SIG_ROLE_DOCTOR);
  g_assert_cmpint (tv_sig_role_peer (TV_SIG_ROLE_NONE), ==, TV_SIG_ROLE_NONE);

  tv_sig_msg_free (NULL);
}

/* Every code of tv-sig-error.h, as PROTOCOL.md section 7 lists it. */
static const struct {
  int code;
  const char *name;
  gboolean fatal;
} codes[] = {
  { 4000, "BAD_JSON", FALSE }, { 4001, "NOT_OBJECT", FALSE }, { 4002, "UNKNOWN_TYPE", FALSE },
  { 4003, "MISSING_FIELD", FALSE }, { 4004, "UNKNOWN_FIELD", FALSE }, { 4005, "WRONG_TYPE", FALSE },
  { 4006, "INVALID_VALUE", FALSE }, { 4007, "FRAME_TOO_LARGE", TRUE }, { 4008, "BINARY_FRAME", FALSE },
  { 4009, "RATE_LIMITED", TRUE }, { 4100, "NOT_JOINED", FALSE }, { 4101, "ALREADY_JOINED", FALSE },
  { 4102, "TOKEN_INVALID", TRUE }, { 4103, "TOKEN_EXPIRED", TRUE }, { 4104, "TOKEN_IN_USE", TRUE },
  { 4105, "CONSULT_ENDED", TRUE }, { 4106, "JOIN_TIMEOUT", TRUE }, { 4107, "NOT_AUTHENTICATED", FALSE },
  { 4108, "NOT_A_DOCTOR", TRUE }, { 4109, "NOT_YOUR_CONSULT", FALSE }, { 4200, "NOT_PAIRED", FALSE },
  { 4201, "OUT_OF_ORDER", FALSE }, { 4202, "NOT_ALLOWED", FALSE }, { 4203, "NOT_WAITING", FALSE },
  { 5000, "INTERNAL", FALSE },
  { 5001, "SHUTTING_DOWN", TRUE },
};

static void
test_error_codes (void)
{

  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      g_assert_cmpstr (tv_sig_error_name (codes[i].code), ==, codes[i].name);
      g_assert_cmpint (tv_sig_error_is_fatal (codes[i].code), ==, codes[i].fatal);
    }
  g_assert_cmpstr (tv_sig_error_name (0), ==, "UNKNOWN");
  g_assert_cmpstr (tv_sig_error_name (4010), ==, "UNKNOWN");
  g_assert_false (tv_sig_error_is_fatal (-1));
  g_assert_cmpstr (g_quark_to_string (TV_SIG_ERROR), ==, "tv-sig-error-quark");
}

/* PROTOCOL.md and the code must not drift apart: every JSON example in it
 * parses (in one direction or the other), every message type has an example,
 * and the error table lists every code with its name and fatality. */
static void
test_protocol_doc (void)
{
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  g_autofree char *path = g_build_filename (srcdir ? srcdir : ".", "signaling", "PROTOCOL.md", NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  gboolean in_json = FALSE, seen[TV_SIG_MSG_N_TYPES] = { FALSE };
  guint examples = 0;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    {
      g_test_skip ("signaling/PROTOCOL.md not found (run from the source tree)");
      return;
    }
  lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_autoptr (GError) error = NULL;
      TvSigMsg *msg;

      if (g_str_has_prefix (*l, "```"))
        {
          in_json = !in_json && strcmp (*l, "```json") == 0;
          continue;
        }
      if (!in_json || **l == '\0')
        continue;
      msg = tv_sig_msg_parse (*l, strlen (*l), TV_SIG_FROM_CLIENT, NULL, NULL);
      if (msg == NULL)
        msg = tv_sig_msg_parse (*l, strlen (*l), TV_SIG_FROM_SERVER, NULL, &error);
      if (msg == NULL)
        g_error ("PROTOCOL.md example refused (%s): %s", error->message, *l);
      seen[msg->type] = TRUE;
      examples++;
      tv_sig_msg_free (msg);
    }
  g_test_message ("%u examples in PROTOCOL.md", examples);
  for (int t = TV_SIG_MSG_INVALID + 1; t < TV_SIG_MSG_N_TYPES; t++)
    if (!seen[t])
      g_error ("PROTOCOL.md has no example of \"%s\"", tv_sig_msg_type_to_string ((TvSigMsgType) t));

  for (gsize i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      g_autofree char *row = g_strdup_printf ("| %d | %s | %s |", codes[i].code, codes[i].name,
                                              codes[i].fatal ? "yes" : "no");
      if (strstr (text, row) == NULL)
        g_error ("PROTOCOL.md error table lacks the row \"%s\"", row);
    }
}

/* Deterministic mutations of every valid vector: whatever comes out, the
 * parser must return a message or an error, never crash, and successes must
 * round-trip. The fuzz target (tests/fuzz) does this at scale. */
static void
test_mutations (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20240521);
  guint accepted = 0, refused = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (valid_vectors); i++)
    for (int round = 0; round < 400; round++)
      {
        g_autofree char *buf = g_strdup (valid_vectors[i].json);
        gsize len = strlen (buf);
        int edits = g_rand_int_range (rand, 1, 4);
        g_autoptr (GError) error = NULL;
        TvSigMsgType ref;
        TvSigMsg *msg;

        for (int e = 0; e < edits && len > 0; e++)
          {
            gsize at = g_rand_int_range (rand, 0, (gint32) len);
            switch (g_rand_int_range (rand, 0, 3))
              {
              case 0: buf[at] = (char) g_rand_int_range (rand, 0, 256); break;
              case 1: len = at; break;                              /* truncate */
              default: buf[at] = "{}[]\":,\\0-e."[g_rand_int_range (rand, 0, 13)]; break;
              }
          }
        msg = tv_sig_msg_parse (buf, len, valid_vectors[i].dir, &ref, &error);
        if (msg != NULL)
          {
            g_assert_no_error (error);
            tv_sig_msg_free (round_trip (buf, len, valid_vectors[i].dir));
            tv_sig_msg_free (msg);
            accepted++;
          }
        else
          {
            g_assert_nonnull (error);
            g_assert_true (error->domain == TV_SIG_ERROR);
            g_assert_cmpstr (tv_sig_error_name (error->code), !=, "UNKNOWN");
            refused++;
          }
      }
  g_test_message ("mutations: %u accepted, %u refused", accepted, refused);
  g_assert_cmpuint (refused, >, 0);
}

int
main (int argc, char **argv)
{
  signal (SIGALRM, on_alarm);
  alarm (WATCHDOG_SECONDS);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/sig/message/valid-vectors", test_valid_vectors);
  g_test_add_func ("/sig/message/valid-fields", test_valid_fields);
  g_test_add_func ("/sig/message/bad-vectors", test_bad_vectors);
  g_test_add_func ("/sig/message/ice-url-parse", test_ice_url_parse);
  g_test_add_func ("/sig/message/limits", test_limits);
  g_test_add_func ("/sig/message/builders", test_builders);
  g_test_add_func ("/sig/message/build-error-sanitises", test_build_error_sanitises);
  g_test_add_func ("/sig/message/names", test_names);
  g_test_add_func ("/sig/message/error-codes", test_error_codes);
  g_test_add_func ("/sig/message/protocol-doc", test_protocol_doc);
  g_test_add_func ("/sig/message/mutations", test_mutations);
  return g_test_run ();
}
