/* tv-consult-ws.c — the consult WebSocket protocol (televisit.v1), server side.
 *
 * Why: implements the agreed session rules (signaling/PROTOCOL.md) on top of
 * the message parser (tv_sig_msg_parse) and the room state machine (TvSigRoom):
 * join with a token looked up in the store, pairing, relaying offer / answer /
 * candidates to the peer only, media intervals, leave / drop / end, and the
 * per-connection limits (join timeout, 50 msgs/s, 64 KiB frames, bounded send
 * queue). Every store write is one store call (one transaction); when one fails
 * the sender gets 5000 and the room is put back as it was.
 *
 * Ownership: lws owns each connection's session data, which points to our Conn
 * (created at ESTABLISHED, freed at CLOSED). The server's room table owns the
 * rooms; a room points to its parties' Conns and each Conn back to its room;
 * both links are cleared together (detach_party). Writes happen only in the
 * WRITEABLE callback, out of the Conn's queue.
 *
 * The join timeout runs from the WebSocket opening until a successful join
 * or auth; pings answer but do not stop it (a connection cannot idle unjoined).
 *
 * Waiting room (PROTOCOL.md section 10): a joining patient is recorded as
 * arrived and waits until the doctor is present and has admitted them; a
 * connection authenticated with "auth" (a doctor's API session) gets the
 * doctor's "dashboard" (tv-waitroom.c), refreshed after every event of one of
 * the doctor's rooms and on the 1 s store check, and may join / admit by
 * consult id.
 *
 * Logs carry consult ids, roles and connection numbers; never tokens or names,
 * SDP only at debug level.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-consult"

#include "server/tv-consult-ws.h"
#include "server/tv-addr-limit.h"
#include "server/tv-heap-trim.h"
#include "server/tv-http.h"
#include "server/tv-server-private.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-billing.h"
#include "server/tv-store-chat.h"
#include "server/tv-store-users.h"
#include "server/tv-store-waitroom.h"
#include "server/tv-waitroom.h"
#include "server/tv-store-live.h"
#include "server/tv-rate-window.h"
#include "server/tv-tls.h"
#include "server/tv-turn.h"
#include "signaling/tv-sig-message.h"
#include "signaling/tv-sig-room.h"

#include <string.h>

/* lws allocates this much per WebSocket connection for the payload it hands to
 * RECEIVE (plus LWS_PRE), for the connection's whole life; a longer frame
 * arrives in pieces, which on_receive collects in Conn.rx. The messages of an
 * idle or waiting client (ping, join, auth, a short chat) fit; candidates
 * (~100-250 bytes) and SDPs (several KiB) come in pieces. 4096 cost 3 KiB more
 * per connected client than 1024, 1024 0.8 KiB more than 256, 256 128 bytes
 * more than 128 (docs/BENCHMARKS.md, "Memory per connection"). */
#define RX_BUFFER_SIZE 128
/* Largest piece lws hands to one SSL_write. Without it lws 4.1 caps a write at
 * rx_buffer_size (+ LWS_PRE + 4) and copies the rest into a per-connection list
 * drained on later WRITEABLE passes: a relayed SDP would leave in ~256-byte TLS
 * records. 16 KiB is one full TLS record; lws allocates nothing for it. */
#define TX_PACKET_SIZE 16384
/* lws' own opcode for writing a close frame (private-lib-core.h: LWS_WRITE_CLOSE
 * = 4; the public header leaves it to lws_close_reason). Used so that the
 * server can send its close and still drain the peer's input: see on_writeable. */
#define TV_LWS_WRITE_CLOSE ((enum lws_write_protocol) 4)
/* A client that stops reading gets this long to take its last frames (error +
 * close) before lws drops it. */
#define CLOSE_GRACE_S 5

struct _TvServerRoom {
  char *consult_id;
  TvSigRoom *sig;
  gint64 checkpoint_us;         /* monotonic time of the last connected-interval checkpoint */
  struct _Conn *party[2];       /* [0] doctor, [1] patient; NULL when absent */
  /* From the consult row, for "waiting" and the dashboard. */
  char *doctor_name;            /* display name (sent to the patient; never logged) */
  char *doctor_id;              /* user id of a booked consult's doctor, NULL for v1 consults */
  gint64 scheduled_start;
  gint64 waiting_since;         /* when the patient's current wait began (µs UTC); see patient_waiting */
  gint64 restart_us;            /* monotonic time of the last media restart (handle_restart), 0 = none */
};

typedef struct {
  gsize len;
  unsigned char buf[];          /* LWS_PRE bytes of headroom, then the text */
} OutFrame;

G_STATIC_ASSERT (TV_SERVER_RATE_LIMIT_MSGS <= 255 && TV_SIG_CHAT_RATE_MSGS <= 255);
G_STATIC_ASSERT (TV_SIG_CHAT_RATE_SECONDS * 1000 <= G_MAXUINT16);

typedef struct _Conn {
  TvServer *server;
  struct lws *wsi;
  guint id;
  char *addr;                   /* client IP address (counted in the server's addr_limits) */
  TvSigRole role;               /* NONE until joined; kept after leaving, for logs */
  TvServerRoom *room;           /* NULL unless joined and in a live room */
  gboolean media_up;            /* as last reported by this party, this pairing */
  GQueue out;                   /* OutFrame*, written in WRITEABLE */
  gsize out_bytes;
  gboolean in_receive;          /* inside lws' RECEIVE callback for this connection */
  GByteArray *rx;               /* pieces of a message that did not arrive whole; NULL between messages */
  gboolean rx_binary;           /* current message is binary: discard, answer 4008 */
  gboolean closing;             /* a close is under way: input is ignored */
  int close_code;               /* close frame to send once the queue is written (0 = none) */
  gboolean close_sent;          /* our close frame is out: waiting for the peer's */
  GSource *join_timer;
  /* Set by a successful "auth": the doctor this connection is authenticated as. */
  char *session;                /* the session token, re-checked every second (never logged) */
  char *user_id;
  char *user_zone;              /* the doctor's time zone, NULL = UTC */
  char *last_dashboard;         /* the last "dashboard" sent, to send only changes */
  /* The last messages and the last chat messages, for the rate limits:
   * 2 bytes a message. */
  TvRateWindow rate;            /* tv-rate-window.h */
  TvRateWindow chat_rate;
  guint16 rate_gaps[TV_SERVER_RATE_LIMIT_MSGS];
  guint16 chat_gaps[TV_SIG_CHAT_RATE_MSGS];
} Conn;

typedef struct {
  Conn *conn;
} Pss;

static int
role_slot (TvSigRole role)
{
  return role == TV_SIG_ROLE_DOCTOR ? 0 : 1;
}

static const char *
role_name (TvSigRole role)
{
  return tv_sig_role_to_string (role);
}

/* ---- sending ------------------------------------------------------------ */

static void
conn_kill (Conn *c, const char *why)
{
  if (!c->wsi)
    return;
  g_warning ("conn %u: dropping connection: %s", c->id, why);
  c->closing = TRUE;
  /* Nothing more will be written: free the queue now. */
  OutFrame *f;
  while ((f = g_queue_pop_head (&c->out)))
    g_free (f);
  c->out_bytes = 0;
  lws_set_timeout (c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Queues @text (copied) for @c. A full queue drops the connection. */
static void
conn_send (Conn *c, const char *text)
{
  if (!c->wsi || !text)
    return;
  gsize len = strlen (text);
  /* Inside this connection's own RECEIVE callback, with nothing queued and no
   * earlier output held by lws (lws_partial_buffered), the reply is written at
   * once: lws allows writes from its service callbacks, and this saves asking
   * for POLLOUT and a WRITEABLE pass per reply — on libuv each POLLOUT on/off is
   * an epoll_ctl DEL + ADD (docs/BENCHMARKS.md, "Signaling load on one
   * GSource"). Not lws_send_pipe_choked: it also poll()s the socket, one system
   * call per reply; a reply the socket does not take whole is kept by lws and
   * finished on POLLOUT, and everything after it then queues here, under the
   * queue limit ("Signaling load: a cheaper load client"). Order is kept:
   * anything queued means everything after it queues too. */
  if (c->in_receive && g_queue_is_empty (&c->out) && !c->close_sent && !lws_partial_buffered (c->wsi)) {
    g_autofree unsigned char *buf = g_malloc (LWS_PRE + len);
    memcpy (buf + LWS_PRE, text, len);
    int n = lws_write (c->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    if (n < 0 || (gsize) n < len)
      conn_kill (c, "write failed");
    return;
  }
  if (g_queue_get_length (&c->out) >= TV_SERVER_SEND_QUEUE_MAX_MSGS ||
      c->out_bytes + len > TV_SERVER_SEND_QUEUE_MAX_BYTES) {
    conn_kill (c, "send queue full (client not reading)");
    return;
  }
  OutFrame *f = g_malloc (sizeof (OutFrame) + LWS_PRE + len);
  f->len = len;
  memcpy (f->buf + LWS_PRE, text, len);
  g_queue_push_tail (&c->out, f);
  c->out_bytes += len;
  lws_callback_on_writable (c->wsi);
}

static void
conn_send_take (Conn *c, char *text)
{
  conn_send (c, text);
  g_free (text);
}

static void
conn_cancel_join_timer (Conn *c)
{
  if (c->join_timer) {
    g_source_destroy (c->join_timer);
    g_clear_pointer (&c->join_timer, g_source_unref);
  }
}

/* Closes @c with @code once its queue has been written. */
static void
conn_close_after_drain (Conn *c, int code)
{
  if (!c->wsi || c->closing)
    return;
  c->closing = TRUE;
  c->close_code = code;
  conn_cancel_join_timer (c);
  lws_set_timeout (c->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_GRACE_S);
  lws_callback_on_writable (c->wsi);
}

static void
conn_send_error (Conn *c, int code, const char *message, TvSigMsgType ref)
{
  conn_send_take (c, tv_sig_build_error (code, message, ref));
  if (tv_sig_error_is_fatal (code)) {
    g_info ("conn %u: fatal error %d (%s), closing", c->id, code, tv_sig_error_name (code));
    conn_close_after_drain (c, code == TV_SIG_ERR_FRAME_TOO_LARGE ? LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE
                                                                  : LWS_CLOSE_STATUS_POLICY_VIOLATION);
  }
}

static void
conn_send_gerror (Conn *c, const GError *err, TvSigMsgType ref)
{
  int code = err->domain == TV_SIG_ERROR ? err->code : TV_SIG_ERR_INTERNAL;
  conn_send_error (c, code, err->message, ref);
}

/* The store failed: log (consult id only) and tell the sender nothing changed. */
static void
conn_store_failed (Conn *c, const char *consult_id, const char *op, const GError *err, TvSigMsgType ref)
{
  g_warning ("consult %s: store %s failed: %s", consult_id ? consult_id : "?", op,
             err ? err->message : "unknown error");
  conn_send_error (c, TV_SIG_ERR_INTERNAL, "internal error (store); nothing was changed", ref);
}

/* ---- rooms -------------------------------------------------------------- */

void
tv_server_room_free (TvServerRoom *room)
{
  if (!room)
    return;
  for (int i = 0; i < 2; i++)
    if (room->party[i]) {
      room->party[i]->room = NULL;
      room->party[i] = NULL;
    }
  tv_sig_room_unref (room->sig);
  g_free (room->consult_id);
  g_free (room->doctor_name);
  g_free (room->doctor_id);
  g_free (room);
}

static void
detach_party (TvServerRoom *room, Conn *c)
{
  if (room->party[role_slot (c->role)] == c)
    room->party[role_slot (c->role)] = NULL;
  c->room = NULL;
  c->media_up = FALSE;
}

static Conn *
room_peer (TvServerRoom *room, TvSigRole role)
{
  return room->party[role_slot (tv_sig_role_peer (role))];
}

static void
room_remove (TvServer *s, TvServerRoom *room)
{
  g_debug ("consult %s: room closed", room->consult_id);
  g_hash_table_remove (s->rooms, room->consult_id);
}

static void
room_remove_if_empty (TvServer *s, TvServerRoom *room)
{
  if (!room->party[0] && !room->party[1])
    room_remove (s, room);
}

/* The consult is over (its completion is already in the store): tell whoever
 * is still there, close them, forget the room. */
static void
room_finish (TvServer *s, TvServerRoom *room, const char *reason)
{
  gint64 now = g_get_real_time ();
  g_info ("consult %s: ended (%s)", room->consult_id, reason);
  for (int i = 0; i < 2; i++) {
    Conn *c = room->party[i];
    if (!c)
      continue;
    g_autoptr (GError) err = NULL;
    /* Best effort: the consult is completed whatever happens to this row. */
    if (!tv_store_record_participation (s->store, room->consult_id, c->role, TV_PART_LEAVE, "ended",
                                        now, &err))
      g_warning ("consult %s: store leave row for %s failed: %s", room->consult_id,
                 role_name (c->role), err->message);
    conn_send_take (c, tv_sig_build_ended (reason));
    detach_party (room, c);
    conn_close_after_drain (c, LWS_CLOSE_STATUS_NORMAL);
  }
  room_remove (s, room);
}

/* @us (µs UTC) as RFC 3339 in UTC, for "waiting". */
static char *
format_utc (gint64 us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_utc (MAX (us, 0) / G_USEC_PER_SEC);
  return dt ? g_date_time_format_iso8601 (dt) : g_strdup ("1970-01-01T00:00:00Z");
}

/* Tells the patient it is in the waiting room; its wait starts @now. */
static void
send_waiting (TvServerRoom *room, gint64 now)
{
  Conn *patient = room->party[role_slot (TV_SIG_ROLE_PATIENT)];
  g_autofree char *start = format_utc (room->scheduled_start);
  room->waiting_since = now;
  if (patient) {
    patient->media_up = FALSE;
    conn_send_take (patient, tv_sig_build_waiting (room->doctor_name ? room->doctor_name : "your doctor", start,
                                                   room->party[role_slot (TV_SIG_ROLE_DOCTOR)] != NULL));
  }
}

/* Carries out the message side of a join's (or an admit's) effects. */
static void
apply_pairing (TvServerRoom *room, TvSigRole joiner, TvSigRoomEffects fx)
{
  Conn *peer = room_peer (room, joiner);
  Conn *self = room->party[role_slot (joiner)];
  if ((fx & TV_SIG_ROOM_FX_PEER_JOINED) && peer)
    conn_send_take (peer, tv_sig_build_peer_joined (joiner));
  if (fx & TV_SIG_ROOM_FX_WAITING)
    send_waiting (room, g_get_real_time ());
  if ((fx & TV_SIG_ROOM_FX_DOCTOR_READY) && room->party[role_slot (TV_SIG_ROLE_PATIENT)]) {
    g_autoptr (TvSigMsg) ready = tv_sig_msg_new (TV_SIG_MSG_DOCTOR_READY);
    conn_send_take (room->party[role_slot (TV_SIG_ROLE_PATIENT)], tv_sig_msg_to_json (ready));
  }
  if (fx & TV_SIG_ROOM_FX_PAIRED) {
    Conn *doctor = room->party[0], *patient = room->party[1];
    if (doctor) {
      doctor->media_up = FALSE;
      conn_send_take (doctor, tv_sig_build_paired (TV_SIG_ROLE_PATIENT, TRUE));
    }
    if (patient) {
      patient->media_up = FALSE;
      conn_send_take (patient, tv_sig_build_paired (TV_SIG_ROLE_DOCTOR, FALSE));
    }
    g_info ("consult %s: paired", room->consult_id);
  }
  (void) self;
}

/* A party goes away: @detail "left" (it said leave) or "dropped" (connection
 * lost). For an explicit leave a store failure is reported (5000) and nothing
 * changes; for a drop the departure happens anyway and failures are logged.
 * Returns: TRUE when the party has left. */
static gboolean
party_leave (Conn *c, const char *detail, gboolean explicit_leave)
{
  TvServer *s = c->server;
  TvServerRoom *room = c->room;
  TvSigRole role = c->role;
  gint64 now = g_get_real_time ();
  g_autoptr (GError) err = NULL;

  if (!room)
    return TRUE;

  if (!tv_store_record_participation (s->store, room->consult_id, role, TV_PART_LEAVE, detail, now, &err)) {
    if (explicit_leave) {
      conn_store_failed (c, room->consult_id, "leave", err, TV_SIG_MSG_LEAVE);
      return FALSE;
    }
    g_warning ("consult %s: store leave row for %s failed: %s", room->consult_id, role_name (role),
               err->message);
    g_clear_error (&err);
  }

  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;
  tv_sig_room_leave (room->sig, role, &fx);
  detach_party (room, c);
  g_info ("consult %s: %s %s (conn %u)", room->consult_id, role_name (role), detail, c->id);

  if (fx & TV_SIG_ROOM_FX_MEDIA_STOPPED) {
    if (!tv_store_consult_media_stopped (s->store, room->consult_id, now, &err)) {
      g_warning ("consult %s: store media-stopped failed: %s", room->consult_id, err->message);
      g_clear_error (&err);
    }
  }
  Conn *peer = room_peer (room, role);
  if ((fx & TV_SIG_ROOM_FX_PEER_LEFT) && peer) {
    peer->media_up = FALSE;
    conn_send_take (peer, tv_sig_build_peer_left (role, detail));
  }
  /* The doctor went: a patient who was in a call is back to waiting (the
   * dashboard shows since when); one already waiting keeps its start. */
  if (role == TV_SIG_ROLE_DOCTOR && peer && tv_sig_room_is_admitted (room->sig))
    room->waiting_since = now;
  if (fx & TV_SIG_ROOM_FX_COMPLETED) {
    if (!tv_store_consult_complete (s->store, room->consult_id, "both-left", now, &err)) {
      g_warning ("consult %s: store complete failed: %s", room->consult_id, err->message);
      g_clear_error (&err);
    }
    room_finish (s, room, "both-left");
    return TRUE;
  }
  room_remove_if_empty (s, room);
  return TRUE;
}

/* ---- message handlers --------------------------------------------------- */

static void
handle_ping (Conn *c, const TvSigMsg *msg)
{
  g_autoptr (TvSigMsg) pong = tv_sig_msg_new (TV_SIG_MSG_PONG);
  pong->id = msg->id;
  conn_send_take (c, tv_sig_msg_to_json (pong));
}

/* A consult without a live room but with an open connected interval was left
 * so by a server that died (SIGKILL, crash) while media was up; a graceful stop
 * closes intervals. Close it at the last moment the store knows the call was
 * alive (its last participation row, at least the interval start), so the
 * downtime is not counted and the next "both up" can open a new interval. */
static gboolean
close_stale_interval (TvServer *s, const TvConsult *consult, gint64 now, GError **error)
{
  gint64 end = consult->media_up_since;
  g_autoptr (GPtrArray) rows = tv_store_participation_list (s->store, consult->id, NULL);
  for (guint i = 0; rows && i < rows->len; i++) {
    const TvParticipation *p = g_ptr_array_index (rows, i);
    if (p->at > end)
      end = p->at;
  }
  if (end > now)
    end = now;
  g_warning ("consult %s: closing a connected interval left open by an unclean server stop", consult->id);
  return tv_store_consult_media_stopped (s->store, consult->id, end, error);
}

/* The same unclean stop leaves the participation log with a "join" and no
 * "leave" for whoever was connected. With no live room nobody is connected:
 * record each such party's leave ("dropped") at its last known moment, so
 * every join in the log has its leave and the presence it describes is true. */
static gboolean
close_stale_participations (TvServer *s, const char *consult_id, gint64 now, GError **error)
{
  g_autoptr (GPtrArray) rows = tv_store_participation_list (s->store, consult_id, error);
  if (!rows)
    return FALSE;
  const TvSigRole roles[] = { TV_SIG_ROLE_DOCTOR, TV_SIG_ROLE_PATIENT };
  for (gsize r = 0; r < G_N_ELEMENTS (roles); r++) {
    gboolean present = FALSE;
    gint64 last = 0;
    for (guint i = 0; i < rows->len; i++) {
      const TvParticipation *p = g_ptr_array_index (rows, i);
      if (p->role != roles[r])
        continue;
      if (p->event == TV_PART_JOIN)
        present = TRUE;
      else if (p->event == TV_PART_LEAVE)
        present = FALSE;
      if (p->at > last)
        last = p->at;
    }
    if (!present)
      continue;
    g_warning ("consult %s: %s was connected when the server stopped uncleanly; recording the drop",
               consult_id, role_name (roles[r]));
    if (!tv_store_record_participation (s->store, consult_id, roles[r], TV_PART_LEAVE, "dropped",
                                        MIN (MAX (last, 1), now), error))
      return FALSE;
  }
  return TRUE;
}

/* One audit row (tv-store-audit.h) for a join, admit or end on @c. The actor
 * is the authenticated user, else the party the join token names (the
 * consult's doctor or patient); the patient is the consult's. Ids only. */
static void
audit_consult_row (Conn *c, const char *action, TvSigRole role, const char *consult_id, const TvConsult *consult,
                   const char *outcome, const char *detail, gboolean stage)
{
  TvStore *store = c->server->store;
  g_autoptr (TvConsult) looked_up = NULL;
  if (consult == NULL && consult_id != NULL && tv_store_consult_get (store, consult_id, &looked_up, NULL))
    consult = looked_up;
  const char *user_id = c->user_id;
  if (user_id == NULL && consult != NULL)
    user_id = role == TV_SIG_ROLE_DOCTOR ? consult->doctor_id : role == TV_SIG_ROLE_PATIENT ? consult->patient_id
                                                                                          : NULL;
  if (stage) {
    TvAuditRow row = {
      .user_id = (char *) user_id,
      .role = (char *) (role == TV_SIG_ROLE_NONE ? "" : role_name (role)),
      .action = (char *) action,
      .resource_type = (char *) "consult",
      .resource_id = (char *) consult_id,
      .patient_id = consult ? consult->patient_id : NULL,
      .source = c->addr,
      .outcome = (char *) outcome,
      .detail = (char *) detail,
    };
    tv_store_audit_stage (store, &row);
    return;
  }
  tv_store_audit_add (store, user_id, role == TV_SIG_ROLE_NONE ? "" : role_name (role), action, "consult",
                      consult_id, consult ? consult->patient_id : NULL, c->addr, outcome, detail);
}

static void
audit_consult (Conn *c, const char *action, TvSigRole role, const char *consult_id, const TvConsult *consult,
               const char *outcome, const char *detail)
{
  audit_consult_row (c, action, role, consult_id, consult, outcome, detail, FALSE);
}

/* ---- chat (PROTOCOL.md 3.23, 3.24) ---------------------------------------- */

/* The consult's chat so far (the last TV_SERVER_CHAT_REPLAY_MAX messages),
 * to a party that has just joined, as chat-message frames in order. A store
 * failure is logged and replays nothing: the call goes on. */
static void
send_chat_history (Conn *c)
{
  g_autoptr (GError) err = NULL;
  g_autoptr (GPtrArray) msgs = tv_store_chat_list (c->server->store, c->room->consult_id, &err);
  if (msgs == NULL) {
    g_warning ("consult %s: could not read the chat for the replay: %s", c->room->consult_id, err->message);
    return;
  }
  guint first = msgs->len > TV_SERVER_CHAT_REPLAY_MAX ? msgs->len - TV_SERVER_CHAT_REPLAY_MAX : 0;
  for (guint i = first; i < msgs->len; i++) {
    const TvChatMessage *m = g_ptr_array_index (msgs, i);
    TvSigRole from = TV_SIG_ROLE_NONE;
    if (!tv_sig_role_from_string (m->sender_role, &from))
      continue;
    g_autofree char *at = format_utc (m->sent_at);
    conn_send_take (c, tv_sig_build_chat_message (m->id, at, from, m->text));
  }
}

/* Now on the rate windows' clock: ms of the monotonic clock, wrapping at 32 bits. */
static guint32
rate_now_ms (void)
{
  return (guint32) (g_get_monotonic_time () / 1000);
}

/* FALSE when TV_SIG_CHAT_RATE_MSGS chat messages arrived in the last
 * TV_SIG_CHAT_RATE_SECONDS on this connection. */
static gboolean
chat_rate_ok (Conn *c)
{
  return tv_rate_window_ok (&c->chat_rate, c->chat_gaps, TV_SIG_CHAT_RATE_MSGS, TV_SIG_CHAT_RATE_SECONDS * 1000,
                            rate_now_ms ());
}

/* A chat message: once the patient is admitted, stored (sealed) with the
 * consult, then sent as chat-message to both parties (the sender's copy
 * confirms it was kept). The text is never logged. */
static void
handle_chat (Conn *c, const TvSigMsg *msg)
{
  TvServerRoom *room = c->room;
  g_autoptr (GError) err = NULL;

  if (tv_sig_room_get_state (room->sig) == TV_SIG_ROOM_ENDED) {
    conn_send_error (c, TV_SIG_ERR_CONSULT_ENDED, "the consult has ended", TV_SIG_MSG_CHAT);
    return;
  }
  if (!tv_sig_room_is_admitted (room->sig)) {
    conn_send_error (c, TV_SIG_ERR_NOT_PAIRED, "chat opens once the doctor has admitted the patient",
                     TV_SIG_MSG_CHAT);
    return;
  }
  if (!chat_rate_ok (c)) {
    conn_send_error (c, TV_SIG_ERR_CHAT_TOO_FAST, "too many chat messages; wait a few seconds", TV_SIG_MSG_CHAT);
    return;
  }
  gint64 now = g_get_real_time (), id = 0;
  if (!tv_store_chat_add (c->server->store, room->consult_id, role_name (c->role), now, msg->text, &id, &err)) {
    if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE))
      conn_send_error (c, TV_SIG_ERR_CONSULT_ENDED, "the consult has ended", TV_SIG_MSG_CHAT);
    else
      conn_store_failed (c, room->consult_id, "chat", err, TV_SIG_MSG_CHAT);
    return;
  }
  g_autofree char *at = format_utc (now);
  g_autofree char *json = tv_sig_build_chat_message (id, at, c->role, msg->text);
  conn_send (c, json);
  Conn *peer = room_peer (room, c->role);
  if (peer != NULL)
    conn_send (peer, json);
  g_info ("consult %s: chat message %" G_GINT64_FORMAT " from the %s%s", room->consult_id, id, role_name (c->role),
          peer != NULL ? "" : " (peer away: replayed when they join)");
}

static void
handle_join (Conn *c, const TvSigMsg *msg)
{
  TvServer *s = c->server;
  g_autoptr (GError) err = NULL;
  g_autofree char *consult_id = NULL;
  g_autoptr (TvConsult) consult = NULL;
  TvSigRole role = TV_SIG_ROLE_NONE;
  gint64 now = g_get_real_time ();

  if (c->role != TV_SIG_ROLE_NONE) {
    conn_send_error (c, TV_SIG_ERR_ALREADY_JOINED, "already joined on this connection", TV_SIG_MSG_JOIN);
    return;
  }

  if (msg->consult_id != NULL) {
    /* By consult id: the doctor of an authenticated connection (PROTOCOL.md 3.1). */
    if (c->user_id == NULL) {
      conn_send_error (c, TV_SIG_ERR_NOT_AUTHENTICATED, "authenticate (auth) before joining by consult id",
                       TV_SIG_MSG_JOIN);
      return;
    }
    consult_id = g_strdup (msg->consult_id);
    role = TV_SIG_ROLE_DOCTOR;
  } else if (!tv_store_token_lookup (s->store, msg->token, now, &consult_id, &role, &err)) {
    if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN)) {
      g_info ("conn %u: join refused: unknown token", c->id);
      audit_consult (c, "consult.join", TV_SIG_ROLE_NONE, NULL, NULL, "refused", "unknown-token");
      conn_send_error (c, TV_SIG_ERR_TOKEN_INVALID, "unknown token", TV_SIG_MSG_JOIN);
    } else if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED)) {
      g_info ("conn %u: join refused: expired token", c->id);
      audit_consult (c, "consult.join", TV_SIG_ROLE_NONE, NULL, NULL, "refused", "expired-token");
      conn_send_error (c, TV_SIG_ERR_TOKEN_EXPIRED, "token expired", TV_SIG_MSG_JOIN);
    } else {
      conn_store_failed (c, NULL, "token lookup", err, TV_SIG_MSG_JOIN);
    }
    return;
  }
  if (role != TV_SIG_ROLE_DOCTOR && role != TV_SIG_ROLE_PATIENT) {
    conn_send_error (c, TV_SIG_ERR_TOKEN_INVALID, "unknown token", TV_SIG_MSG_JOIN);
    return;
  }
  if (!tv_store_consult_get (s->store, consult_id, &consult, &err)) {
    if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND) && msg->consult_id != NULL)
      conn_send_error (c, TV_SIG_ERR_NOT_YOUR_CONSULT, "not a consult of yours", TV_SIG_MSG_JOIN);
    else if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      conn_send_error (c, TV_SIG_ERR_TOKEN_INVALID, "unknown token", TV_SIG_MSG_JOIN);
    else
      conn_store_failed (c, consult_id, "consult get", err, TV_SIG_MSG_JOIN);
    return;
  }
  /* Same answer for another doctor's consult as for none: ids are not probed. */
  if (msg->consult_id != NULL && g_strcmp0 (consult->doctor_id, c->user_id) != 0) {
    g_info ("conn %u: join by consult id refused: not the doctor's consult", c->id);
    audit_consult (c, "consult.join", role, consult_id, consult, "refused", "not-your-consult");
    conn_send_error (c, TV_SIG_ERR_NOT_YOUR_CONSULT, "not a consult of yours", TV_SIG_MSG_JOIN);
    return;
  }
  if (consult->status == TV_CONSULT_COMPLETED || consult->status == TV_CONSULT_CANCELLED
      || consult->status == TV_CONSULT_NO_SHOW) {
    g_info ("consult %s: %s join refused: consult %s", consult_id, role_name (role),
            tv_consult_status_to_string (consult->status));
    audit_consult (c, "consult.join", role, consult_id, consult, "refused", "consult-over");
    conn_send_error (c, TV_SIG_ERR_CONSULT_ENDED,
                     consult->status == TV_CONSULT_CANCELLED ? "the consult was cancelled"
                                                             : "the consult has ended",
                     TV_SIG_MSG_JOIN);
    return;
  }

  TvServerRoom *room = g_hash_table_lookup (s->rooms, consult_id);
  gboolean created = FALSE;
  if (!room) {
    room = g_new0 (TvServerRoom, 1);
    room->consult_id = g_strdup (consult_id);
    room->sig = tv_sig_room_new (consult_id, consult->status == TV_CONSULT_IN_PROGRESS ||
                                               consult->started_at != 0);
    room->doctor_name = g_strdup (consult->doctor);
    room->doctor_id = g_strdup (consult->doctor_id);
    room->scheduled_start = consult->scheduled_start;
    g_hash_table_insert (s->rooms, room->consult_id, room);
    created = TRUE;
  }
  /* Check what tv_sig_room_join would refuse before writing to the store, so a
   * store failure leaves the room untouched. */
  if (tv_sig_room_get_state (room->sig) == TV_SIG_ROOM_ENDED) {
    conn_send_error (c, TV_SIG_ERR_CONSULT_ENDED, "the consult has ended", TV_SIG_MSG_JOIN);
    return;
  }
  if (tv_sig_room_is_present (room->sig, role)) {
    g_info ("consult %s: %s join refused: already connected (conn %u)", consult_id, role_name (role), c->id);
    audit_consult (c, "consult.join", role, consult_id, consult, "refused", "already-connected");
    conn_send_error (c, TV_SIG_ERR_TOKEN_IN_USE,
                     role == TV_SIG_ROLE_DOCTOR ? "the doctor is already connected"
                                                : "the patient is already connected",
                     TV_SIG_MSG_JOIN);
    return;
  }
  if (created && consult->media_up_since != 0 && !close_stale_interval (s, consult, now, &err)) {
    conn_store_failed (c, consult_id, "stale interval", err, TV_SIG_MSG_JOIN);
    room_remove (s, room);
    return;
  }
  if (created && !close_stale_participations (s, consult_id, now, &err)) {
    conn_store_failed (c, consult_id, "stale participation", err, TV_SIG_MSG_JOIN);
    room_remove (s, room);
    return;
  }
  /* The patient's arrival (first time: consult waiting, arrived_at) before its
   * join row: a failure of either leaves the room as it was (5000). */
  if (role == TV_SIG_ROLE_PATIENT && !tv_store_consult_patient_arrived (s->store, consult_id, now, NULL, &err)) {
    conn_store_failed (c, consult_id, "arrival", err, TV_SIG_MSG_JOIN);
    if (created)
      room_remove (s, room);
    return;
  }
  if (!tv_store_record_participation (s->store, consult_id, role, TV_PART_JOIN, NULL, now, &err)) {
    conn_store_failed (c, consult_id, "join row", err, TV_SIG_MSG_JOIN);
    if (created)
      room_remove (s, room);
    return;
  }
  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;
  if (!tv_sig_room_join (room->sig, role, &fx, &err)) {
    /* Not expected after the checks above; answer with the room's own code. */
    conn_send_gerror (c, err, TV_SIG_MSG_JOIN);
    if (created)
      room_remove (s, room);
    return;
  }
  c->role = role;
  c->room = room;
  c->media_up = FALSE;
  room->party[role_slot (role)] = c;
  conn_cancel_join_timer (c);

  gboolean peer_present = room_peer (room, role) != NULL;
  g_info ("consult %s: %s joined (conn %u)%s", consult_id, role_name (role), c->id,
          peer_present ? ", peer present" : "");
  audit_consult (c, "consult.join", role, consult_id, consult, "ok", "");
  /* STUN and fresh TURN credentials (tv-turn.h), bound to this consult and
   * valid for turn-credential-ttl from now; a rejoin gets new ones. The
   * credential is never logged. */
  g_autoptr (GPtrArray) ice = tv_server_ice_servers_new ((const char *const *) s->cfg->stun, s->cfg->turn_url,
                                                         s->turn_secret, consult_id, now / G_USEC_PER_SEC,
                                                         s->cfg->turn_credential_ttl_s);
  conn_send_take (c, tv_sig_build_joined_full (consult_id, role, peer_present, ice));
  apply_pairing (room, role, fx);
  send_chat_history (c);
}

static void
handle_relay (Conn *c, const TvSigMsg *msg)
{
  TvServerRoom *room = c->room;
  g_autoptr (GError) err = NULL;

  if (!tv_sig_room_relay (room->sig, c->role, msg->type, &err)) {
    conn_send_gerror (c, err, msg->type);
    return;
  }
  Conn *peer = room_peer (room, c->role);
  if (!peer) {
    /* The room says both are present, so this cannot happen; be safe anyway. */
    conn_send_error (c, TV_SIG_ERR_NOT_PAIRED, "the peer is not connected", msg->type);
    return;
  }
  /* Re-serialised from the parsed message: only validated fields reach the peer. */
  g_autofree char *json = tv_sig_msg_to_json (msg);
  g_debug ("consult %s: relay %s %s -> %s: %s", room->consult_id, tv_sig_msg_type_to_string (msg->type),
           role_name (c->role), role_name (peer->role), json);
  conn_send (peer, json);
}

static void
handle_media (Conn *c, const TvSigMsg *msg)
{
  TvServer *s = c->server;
  TvServerRoom *room = c->room;
  gboolean up = msg->media_up != FALSE;
  gboolean changed = c->media_up != up;
  gint64 now = g_get_real_time ();
  g_autoptr (GError) err = NULL;
  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;

  if (!tv_sig_room_media (room->sig, c->role, up, &fx, &err)) {
    conn_send_gerror (c, err, TV_SIG_MSG_MEDIA);
    return;
  }

  /* Consult-level effect first, then this party's row; on a failure undo what
   * was done (room and store) so the consult stays as it was. */
  gboolean consult_changed = FALSE;
  if (fx & TV_SIG_ROOM_FX_MEDIA_STARTED) {
    if (!tv_store_consult_media_started (s->store, room->consult_id, now, &err))
      goto undo;
    consult_changed = TRUE;
  } else if (fx & TV_SIG_ROOM_FX_MEDIA_STOPPED) {
    if (!tv_store_consult_media_stopped (s->store, room->consult_id, now, &err))
      goto undo;
    consult_changed = TRUE;
  }
  if (changed &&
      !tv_store_record_participation (s->store, room->consult_id, c->role,
                                      up ? TV_PART_MEDIA_UP : TV_PART_MEDIA_DOWN, NULL, now, &err))
    goto undo;

  c->media_up = up;
  if (fx & TV_SIG_ROOM_FX_MEDIA_STARTED)
    g_info ("consult %s: media connected", room->consult_id);
  else if (fx & TV_SIG_ROOM_FX_MEDIA_STOPPED)
    g_info ("consult %s: media interrupted (%s reported down)", room->consult_id, role_name (c->role));
  else
    g_debug ("consult %s: %s media %s", room->consult_id, role_name (c->role), up ? "up" : "down");
  return;

undo:
  conn_store_failed (c, room->consult_id, "media", err, TV_SIG_MSG_MEDIA);
  if (consult_changed) {
    g_autoptr (GError) uerr = NULL;
    gboolean ok = (fx & TV_SIG_ROOM_FX_MEDIA_STARTED)
                      ? tv_store_consult_media_stopped (s->store, room->consult_id, now, &uerr)
                      : tv_store_consult_media_started (s->store, room->consult_id, now, &uerr);
    if (!ok)
      g_warning ("consult %s: could not undo the media change in the store: %s", room->consult_id,
                 uerr->message);
  }
  /* Put the room's view of this party back. (A room that had never started
   * keeps "started" set; both-left then completes it: the safer outcome.) */
  if (changed)
    tv_sig_room_media (room->sig, c->role, !up, NULL, NULL);
}

static void
handle_leave (Conn *c)
{
  if (party_leave (c, "left", TRUE))
    conn_close_after_drain (c, LWS_CLOSE_STATUS_NORMAL);
}

static void
end_by_admin (TvServer *s, TvServerRoom *room)
{
  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;
  tv_sig_room_end (room->sig, TV_SIG_ROLE_NONE, &fx, NULL);
  room_finish (s, room, "ended-by-admin");
}

static void
handle_end (Conn *c)
{
  TvServer *s = c->server;
  TvServerRoom *room = c->room;
  g_autoptr (GError) err = NULL;

  if (c->role != TV_SIG_ROLE_DOCTOR) {
    conn_send_error (c, TV_SIG_ERR_NOT_ALLOWED, "only the doctor may end the consult", TV_SIG_MSG_END);
    return;
  }
  /* The end and its audit row commit in one transaction. */
  audit_consult_row (c, "consult.end", TV_SIG_ROLE_DOCTOR, room->consult_id, NULL, "ok", "ended-by-doctor", TRUE);
  gboolean ended = tv_store_consult_complete (s->store, room->consult_id, "ended-by-doctor", g_get_real_time (),
                                              &err);
  tv_store_audit_unstage (s->store, NULL);
  if (!ended) {
    if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE)) {
      /* Completed or cancelled meanwhile by televisitctl: the admin's end stands. */
      end_by_admin (s, room);
      return;
    }
    conn_store_failed (c, room->consult_id, "complete", err, TV_SIG_MSG_END);
    return;
  }
  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;
  if (!tv_sig_room_end (room->sig, TV_SIG_ROLE_DOCTOR, &fx, &err))
    g_warning ("consult %s: room refused the end: %s", room->consult_id, err->message);
  room_finish (s, room, "ended-by-doctor");
}

/* ---- consult facts for billing (tv-store-billing.h) --------------------- */

/* The doctor records how the visit is held (PROTOCOL.md 3.27): stored with
 * its audit row in one transaction, then confirmed with "facts-saved". */
static void
handle_facts (Conn *c, const TvSigMsg *msg)
{
  TvServer *s = c->server;
  TvServerRoom *room = c->room;
  g_autoptr (GError) err = NULL;

  if (c->role != TV_SIG_ROLE_DOCTOR) {
    conn_send_error (c, TV_SIG_ERR_NOT_ALLOWED, "only the doctor records the consult's facts", TV_SIG_MSG_FACTS);
    return;
  }
  TvConsultFacts f = { 0 };
  guint fields = 0;
  if (msg->modality != NULL && tv_billing_modality_from_string (msg->modality, &f.modality)) {
    f.audio_only_reason = msg->audio_only_reason;
    fields |= TV_FACTS_MODALITY;
  }
  if (msg->patient_location != NULL && tv_billing_location_from_string (msg->patient_location, &f.location))
    fields |= TV_FACTS_LOCATION;
  if (msg->patient_status != NULL && tv_billing_patient_status_from_string (msg->patient_status, &f.patient_status))
    fields |= TV_FACTS_PATIENT_STATUS;
  const char *set_by = c->user_id ? c->user_id : room->doctor_id ? room->doctor_id : "consult-doctor";
  audit_consult_row (c, "consult.facts.set", TV_SIG_ROLE_DOCTOR, room->consult_id, NULL, "ok", "", TRUE);
  g_autoptr (TvConsultFacts) saved = NULL;
  gboolean ok = tv_store_consult_facts_set (s->store, room->consult_id, &f, fields, set_by, g_get_real_time (),
                                            &saved, &err);
  tv_store_audit_unstage (s->store, NULL);
  if (!ok) {
    if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_INVALID)) {
      audit_consult (c, "consult.facts.set", TV_SIG_ROLE_DOCTOR, room->consult_id, NULL, "refused", "invalid");
      conn_send_error (c, TV_SIG_ERR_INVALID_VALUE, err->message, TV_SIG_MSG_FACTS);
    } else if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE)) {
      audit_consult (c, "consult.facts.set", TV_SIG_ROLE_DOCTOR, room->consult_id, NULL, "refused", "wrong-state");
      conn_send_error (c, TV_SIG_ERR_OUT_OF_ORDER, err->message, TV_SIG_MSG_FACTS);
    } else {
      audit_consult (c, "consult.facts.set", TV_SIG_ROLE_DOCTOR, room->consult_id, NULL, "error", "store");
      conn_store_failed (c, room->consult_id, "facts", err, TV_SIG_MSG_FACTS);
    }
    return;
  }
  conn_send_take (c, tv_sig_build_facts_saved (tv_billing_modality_to_string (saved->modality),
                                               saved->audio_only_reason,
                                               tv_billing_location_to_string (saved->location),
                                               tv_billing_patient_status_to_string (saved->patient_status)));
}

/* ---- waiting room: admit, send-back, auth, dashboard ------------------- */

static void dispatch_message (Conn *c, const TvSigMsg *msg);

static void
dashboard_live (const char *consult_id, gboolean *present, gint64 *waiting_since, gpointer data)
{
  TvServer *s = data;
  TvServerRoom *room = g_hash_table_lookup (s->rooms, consult_id);
  TvSigRoomState st = room ? tv_sig_room_get_state (room->sig) : TV_SIG_ROOM_EMPTY;

  *present = room != NULL && room->party[role_slot (TV_SIG_ROLE_PATIENT)] != NULL;
  /* In the waiting room: connected and not in a pairing with the doctor. */
  *waiting_since = *present && st != TV_SIG_ROOM_PAIRED && st != TV_SIG_ROOM_CONNECTED ? room->waiting_since : 0;
}

/* Sends @c a fresh "dashboard" when it differs from the last one sent. */
static void
dashboard_refresh_conn (Conn *c)
{
  g_autoptr (GError) err = NULL;
  g_autofree char *json = NULL;

  if (c->user_id == NULL || c->closing || !c->wsi)
    return;
  json = tv_waitroom_dashboard_json (c->server->store, c->user_id, c->user_zone, g_get_real_time (),
                                     dashboard_live, c->server, &err);
  if (json == NULL) {
    g_warning ("conn %u: dashboard: store read failed: %s", c->id, err->message);
    return;
  }
  if (g_strcmp0 (json, c->last_dashboard) == 0)
    return;
  conn_send (c, json);
  g_free (c->last_dashboard);
  c->last_dashboard = g_steal_pointer (&json);
}

/* Refreshes the dashboards of doctor @user_id (NULL: nothing to do). */
static void
dashboards_refresh (TvServer *s, const char *user_id)
{
  GHashTableIter it;
  gpointer key;

  if (user_id == NULL)
    return;
  g_hash_table_iter_init (&it, s->conns);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    Conn *c = key;
    if (g_strcmp0 (c->user_id, user_id) == 0)
      dashboard_refresh_conn (c);
  }
}

/* The 1 s check: every authenticated connection's session is still valid
 * (else the same fatal error as for auth), and its dashboard is current
 * (bookings, cancellations, televisitctl, midnight). */
static void
dashboards_poll (TvServer *s)
{
  GHashTableIter it;
  gpointer key;
  gint64 now = g_get_real_time ();

  g_hash_table_iter_init (&it, s->conns);
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    Conn *c = key;
    g_autoptr (GError) err = NULL;
    g_autoptr (TvUser) user = NULL;

    if (c->user_id == NULL || c->closing || !c->wsi)
      continue;
    if (!tv_store_session_lookup (s->store, c->session, now, NULL, &user, &err)) {
      if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN)) {
        g_info ("conn %u: session ended; closing", c->id);
        conn_send_error (c, TV_SIG_ERR_TOKEN_INVALID, "the session has ended", TV_SIG_MSG_INVALID);
      } else if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED)) {
        g_info ("conn %u: session expired; closing", c->id);
        conn_send_error (c, TV_SIG_ERR_TOKEN_EXPIRED, "the session has expired", TV_SIG_MSG_INVALID);
      } else {
        g_warning ("conn %u: session check failed: %s", c->id, err->message);
      }
      continue;
    }
    dashboard_refresh_conn (c);
  }
}

static void
handle_auth (Conn *c, const TvSigMsg *msg)
{
  TvServer *s = c->server;
  g_autoptr (GError) err = NULL;
  g_autoptr (TvUser) user = NULL;

  if (c->user_id != NULL) {
    conn_send_error (c, TV_SIG_ERR_ALREADY_JOINED, "already authenticated on this connection", TV_SIG_MSG_AUTH);
    return;
  }
  if (!tv_store_session_lookup (s->store, msg->token, g_get_real_time (), NULL, &user, &err)) {
    if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN)) {
      g_info ("conn %u: auth refused: unknown session", c->id);
      conn_send_error (c, TV_SIG_ERR_TOKEN_INVALID, "unknown session", TV_SIG_MSG_AUTH);
    } else if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED)) {
      g_info ("conn %u: auth refused: expired session", c->id);
      conn_send_error (c, TV_SIG_ERR_TOKEN_EXPIRED, "session expired", TV_SIG_MSG_AUTH);
    } else {
      conn_store_failed (c, NULL, "session lookup", err, TV_SIG_MSG_AUTH);
    }
    return;
  }
  if ((user->roles & TV_ROLE_DOCTOR) == 0) {
    g_info ("conn %u: auth refused: user %s is not a doctor", c->id, user->id);
    conn_send_error (c, TV_SIG_ERR_NOT_A_DOCTOR, "the dashboard is for doctors", TV_SIG_MSG_AUTH);
    return;
  }
  c->session = g_strdup (msg->token);
  c->user_id = g_strdup (user->id);
  c->user_zone = g_strdup (user->time_zone);
  conn_cancel_join_timer (c);
  g_info ("conn %u: authenticated as doctor %s", c->id, user->id);
  conn_send_take (c, tv_sig_build_authed (user->id, user->display_name));
  dashboard_refresh_conn (c);
}

/* Records the admission and carries out its effects; on a store failure the
 * room is put back (the patient waits again) and the sender gets 5000. */
static void
admit_in_room (Conn *c, TvServerRoom *room)
{
  TvServer *s = c->server;
  g_autoptr (GError) err = NULL;
  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;

  if (!tv_sig_room_admit (room->sig, TV_SIG_ROLE_DOCTOR, &fx, &err)) {
    conn_send_gerror (c, err, TV_SIG_MSG_ADMIT);
    return;
  }
  /* The admission and its audit row commit in one transaction. */
  gboolean audited = FALSE;
  if (fx & TV_SIG_ROOM_FX_ADMITTED) {
    audit_consult_row (c, "consult.admit", TV_SIG_ROLE_DOCTOR, room->consult_id, NULL, "ok", "", TRUE);
    gboolean ok = tv_store_consult_admitted (s->store, room->consult_id, g_get_real_time (), &err);
    audited = tv_store_audit_unstage (s->store, NULL);
    if (!ok) {
      tv_sig_room_send_back (room->sig, TV_SIG_ROLE_DOCTOR, NULL, NULL);
      conn_store_failed (c, room->consult_id, "admit", err, TV_SIG_MSG_ADMIT);
      return;
    }
  }
  g_info ("consult %s: patient admitted (conn %u)", room->consult_id, c->id);
  if (!audited)
    audit_consult (c, "consult.admit", TV_SIG_ROLE_DOCTOR, room->consult_id, NULL, "ok", "");
  apply_pairing (room, TV_SIG_ROLE_DOCTOR, fx & ~TV_SIG_ROOM_FX_PEER_JOINED);
}

static void
handle_admit (Conn *c, const TvSigMsg *msg)
{
  TvServer *s = c->server;

  if (msg->consult_id == NULL) {
    if (c->role == TV_SIG_ROLE_NONE || !c->room) {
      conn_send_error (c, TV_SIG_ERR_NOT_JOINED, "join first (or name the consult)", TV_SIG_MSG_ADMIT);
      return;
    }
    if (c->role != TV_SIG_ROLE_DOCTOR) {
      conn_send_error (c, TV_SIG_ERR_NOT_ALLOWED, "only the doctor admits the patient", TV_SIG_MSG_ADMIT);
      return;
    }
    admit_in_room (c, c->room);
    return;
  }

  /* From the dashboard: one of the authenticated doctor's consults. */
  if (c->user_id == NULL) {
    conn_send_error (c, TV_SIG_ERR_NOT_AUTHENTICATED, "authenticate (auth) before admitting by consult id",
                     TV_SIG_MSG_ADMIT);
    return;
  }
  g_autoptr (GError) err = NULL;
  g_autoptr (TvConsult) consult = NULL;
  if (!tv_store_consult_get (s->store, msg->consult_id, &consult, &err)) {
    if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      conn_send_error (c, TV_SIG_ERR_NOT_YOUR_CONSULT, "not a consult of yours", TV_SIG_MSG_ADMIT);
    else
      conn_store_failed (c, msg->consult_id, "consult get", err, TV_SIG_MSG_ADMIT);
    return;
  }
  if (g_strcmp0 (consult->doctor_id, c->user_id) != 0) {
    conn_send_error (c, TV_SIG_ERR_NOT_YOUR_CONSULT, "not a consult of yours", TV_SIG_MSG_ADMIT);
    return;
  }
  TvServerRoom *room = g_hash_table_lookup (s->rooms, consult->id);
  if (!room) {
    conn_send_error (c, TV_SIG_ERR_NOT_WAITING, "the patient is not connected", TV_SIG_MSG_ADMIT);
    return;
  }
  admit_in_room (c, room);
}

static void
handle_send_back (Conn *c)
{
  TvServer *s = c->server;
  TvServerRoom *room = c->room;
  gint64 now = g_get_real_time ();
  g_autoptr (GError) err = NULL;
  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;

  if (!tv_sig_room_send_back (room->sig, c->role, &fx, &err)) {
    conn_send_gerror (c, err, TV_SIG_MSG_SEND_BACK);
    return;
  }
  /* Like a drop, the interval closes whatever the store says (logged). */
  if ((fx & TV_SIG_ROOM_FX_MEDIA_STOPPED) && !tv_store_consult_media_stopped (s->store, room->consult_id, now, &err))
    g_warning ("consult %s: store media-stopped failed: %s", room->consult_id, err->message);
  for (int i = 0; i < 2; i++)
    if (room->party[i])
      room->party[i]->media_up = FALSE;
  g_info ("consult %s: patient sent back to the waiting room (conn %u)", room->consult_id, c->id);
  if (fx & TV_SIG_ROOM_FX_WAITING)
    send_waiting (room, now);
}

/* Both parties usually notice the same outage and ask within a second of
 * each other: one restart serves both. */
#define RESTART_MIN_INTERVAL_US (3 * G_USEC_PER_SEC)

/* A party's media failed for good (its ICE failed, or stayed disconnected
 * past its grace): both build a new peer connection and the doctor offers
 * again, in the same consult (PROTOCOL.md "restart"). The connected interval,
 * if still open, closes now; the parties' "media" reports reopen it. */
static void
handle_restart (Conn *c)
{
  TvServer *s = c->server;
  TvServerRoom *room = c->room;
  gint64 mono = g_get_monotonic_time ();
  g_autoptr (GError) err = NULL;
  TvSigRoomEffects fx = TV_SIG_ROOM_FX_NONE;

  if (room->restart_us != 0 && mono - room->restart_us < RESTART_MIN_INTERVAL_US) {
    g_debug ("consult %s: restart from the %s folded into the one under way", room->consult_id,
             role_name (c->role));
    return;
  }
  if (!tv_sig_room_restart (room->sig, c->role, &fx, &err)) {
    conn_send_gerror (c, err, TV_SIG_MSG_RESTART);
    return;
  }
  room->restart_us = mono;
  if ((fx & TV_SIG_ROOM_FX_MEDIA_STOPPED)
      && !tv_store_consult_media_stopped (s->store, room->consult_id, g_get_real_time (), &err))
    g_warning ("consult %s: store media-stopped failed: %s", room->consult_id, err->message);
  g_message ("consult %s: media restart asked by the %s", room->consult_id, role_name (c->role));
  for (int i = 0; i < 2; i++)
    if (room->party[i])
      conn_send_take (room->party[i], tv_sig_build_media_restart (c->role));
  apply_pairing (room, c->role, fx & TV_SIG_ROOM_FX_PAIRED);
}

/* One complete text message from @c. */
static void
handle_message (Conn *c, const char *data, gsize len)
{
  g_autoptr (GError) err = NULL;
  TvSigMsgType ref = TV_SIG_MSG_INVALID;
  g_autoptr (TvSigMsg) msg = tv_sig_msg_parse (data, len, TV_SIG_FROM_CLIENT, &ref, &err);

  if (!msg) {
    g_debug ("conn %u: invalid message: %s", c->id, err->message);
    conn_send_gerror (c, err, ref);
    return;
  }
  if (msg->type == TV_SIG_MSG_PING) {
    handle_ping (c, msg);
    return;
  }
  /* The doctors whose dashboards this message may change: refreshed after it. */
  g_autofree char *doctor_before = c->room ? g_strdup (c->room->doctor_id) : NULL;
  dispatch_message (c, msg);
  TvServer *s = c->server;
  if (msg->type == TV_SIG_MSG_OFFER || msg->type == TV_SIG_MSG_ANSWER || msg->type == TV_SIG_MSG_CANDIDATE
      || msg->type == TV_SIG_MSG_AUTH)
    return;
  dashboards_refresh (s, doctor_before);
  if (c->room && g_strcmp0 (c->room->doctor_id, doctor_before) != 0)
    dashboards_refresh (s, c->room->doctor_id);
  if (c->user_id && g_strcmp0 (c->user_id, doctor_before) != 0)
    dashboards_refresh (s, c->user_id);
}

static void
dispatch_message (Conn *c, const TvSigMsg *msg)
{
  if (msg->type == TV_SIG_MSG_JOIN) {
    handle_join (c, msg);
    return;
  }
  if (msg->type == TV_SIG_MSG_AUTH) {
    handle_auth (c, msg);
    return;
  }
  if (msg->type == TV_SIG_MSG_ADMIT) {
    handle_admit (c, msg);
    return;
  }
  if (c->role == TV_SIG_ROLE_NONE || !c->room) {
    conn_send_error (c, TV_SIG_ERR_NOT_JOINED, "join first", msg->type);
    return;
  }
  switch (msg->type) {
  case TV_SIG_MSG_OFFER:
  case TV_SIG_MSG_ANSWER:
  case TV_SIG_MSG_CANDIDATE:
    handle_relay (c, msg);
    break;
  case TV_SIG_MSG_MEDIA:
    handle_media (c, msg);
    break;
  case TV_SIG_MSG_LEAVE:
    handle_leave (c);
    break;
  case TV_SIG_MSG_END:
    handle_end (c);
    break;
  case TV_SIG_MSG_SEND_BACK:
    handle_send_back (c);
    break;
  case TV_SIG_MSG_RESTART:
    handle_restart (c);
    break;
  case TV_SIG_MSG_FACTS:
    handle_facts (c, msg);
    break;
  case TV_SIG_MSG_CHAT:
    handle_chat (c, msg);
    break;
  default:
    /* The parser only returns client->server types for FROM_CLIENT. */
    conn_send_error (c, TV_SIG_ERR_UNKNOWN_TYPE, "not a client message", msg->type);
    break;
  }
}

/* Refuses the message when TV_SERVER_RATE_LIMIT_MSGS others arrived within the
 * last second. */
static gboolean
rate_ok (Conn *c)
{
  return tv_rate_window_ok (&c->rate, c->rate_gaps, TV_SERVER_RATE_LIMIT_MSGS, 1000, rate_now_ms ());
}

/* One RECEIVE callback: a whole message (the usual case: it fits lws' receive
 * buffer) is handled straight from lws' buffer; pieces of a longer one (a frame
 * larger than RX_BUFFER_SIZE, or WebSocket fragments) are collected in c->rx,
 * which is freed once the message is handled, so an idle connection holds no
 * receive buffer of ours. */
static void
on_receive (Conn *c, struct lws *wsi, const void *in, gsize len)
{
  if (c->closing)
    return;
  gboolean first = lws_is_first_fragment (wsi) != 0;
  gboolean final = lws_is_final_fragment (wsi) != 0;
  if (first) {
    g_clear_pointer (&c->rx, g_byte_array_unref);
    c->rx_binary = lws_frame_is_binary (wsi) != 0;
  }
  const char *msg = in;
  gsize msg_len = len;
  if (!c->rx_binary && !(first && final)) {
    gsize have = c->rx ? c->rx->len : 0;
    if (have + len > TV_SIG_MAX_FRAME_BYTES) {
      g_clear_pointer (&c->rx, g_byte_array_unref);
      conn_send_error (c, TV_SIG_ERR_FRAME_TOO_LARGE, "message larger than 65536 bytes", TV_SIG_MSG_INVALID);
      return;
    }
    if (!c->rx)
      c->rx = g_byte_array_sized_new ((guint) MAX (len * 4, (gsize) 1024));
    g_byte_array_append (c->rx, in, (guint) len);
    msg = (const char *) c->rx->data;
    msg_len = c->rx->len;
  }
  if (!final)
    return;
  /* Freed on return, whatever happens to the message. */
  g_autoptr (GByteArray) pieces = g_steal_pointer (&c->rx);

  if (!rate_ok (c)) {
    conn_send_error (c, TV_SIG_ERR_RATE_LIMITED, "more than 50 messages per second", TV_SIG_MSG_INVALID);
    return;
  }
  if (!tv_addr_limits_message (c->server->addr_limits, c->addr, g_get_monotonic_time ())) {
    g_info ("conn %u: message rate limit of its address reached", c->id);
    conn_send_error (c, TV_SIG_ERR_RATE_LIMITED, "too many messages per second from this address",
                     TV_SIG_MSG_INVALID);
    return;
  }
  if (c->rx_binary) {
    c->rx_binary = FALSE;
    conn_send_error (c, TV_SIG_ERR_BINARY_FRAME, "binary frames are not accepted", TV_SIG_MSG_INVALID);
    return;
  }
  handle_message (c, msg, msg_len);
}

static gboolean
on_join_timeout (gpointer data)
{
  Conn *c = data;
  g_clear_pointer (&c->join_timer, g_source_unref);
  g_info ("conn %u: no join within %u s", c->id, c->server->cfg->join_timeout_s);
  conn_send_error (c, TV_SIG_ERR_JOIN_TIMEOUT, "no join within the join timeout", TV_SIG_MSG_INVALID);
  return G_SOURCE_REMOVE;
}

/* The client's IP address as text ("?" when lws cannot tell). */
static char *
peer_address (struct lws *wsi)
{
  char buf[128];
  const char *a = lws_get_peer_simple (wsi, buf, sizeof buf);
  /* An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d. */
  if (a && g_str_has_prefix (a, "::ffff:") && strchr (a, '.'))
    a += 7;
  return g_strdup (a && *a ? a : "?");
}

static Conn *
conn_new (TvServer *s, struct lws *wsi)
{
  Conn *c = g_new0 (Conn, 1);
  c->server = s;
  c->wsi = wsi;
  c->id = ++s->next_conn_id;
  c->addr = peer_address (wsi);
  tv_addr_limits_connected (s->addr_limits, c->addr);
  g_queue_init (&c->out);
  c->join_timer = g_timeout_source_new (s->cfg->join_timeout_s * 1000);
  g_source_set_callback (c->join_timer, on_join_timeout, c, NULL);
  g_source_attach (c->join_timer, s->ctx);
  g_hash_table_add (s->conns, c);
  tv_heap_trim_note (s->heap_trim, g_hash_table_size (s->conns));
  return c;
}

static void
conn_free (Conn *c)
{
  TvServer *s = c->server;
  conn_cancel_join_timer (c);
  OutFrame *f;
  while ((f = g_queue_pop_head (&c->out)))
    g_free (f);
  g_clear_pointer (&c->rx, g_byte_array_unref);
  g_hash_table_remove (s->conns, c);
  if (s->heap_trim)
    tv_heap_trim_note (s->heap_trim, g_hash_table_size (s->conns));
  if (c->session)
    memset (c->session, 0, strlen (c->session));
  g_free (c->session);
  g_free (c->user_id);
  g_free (c->user_zone);
  g_free (c->last_dashboard);
  tv_addr_limits_disconnected (s->addr_limits, c->addr);
  g_free (c->addr);
  g_free (c);
  if (s->shutting_down && g_hash_table_size (s->conns) == 0)
    tv_server_private_connections_drained (s);
}

static void
on_closed (Pss *pss)
{
  Conn *c = pss ? pss->conn : NULL;
  if (!c)
    return;
  pss->conn = NULL;
  c->wsi = NULL;
  TvServer *s = c->server;
  if (c->room) {
    if (s->shutting_down || s->destroying) {
      detach_party (c->room, c);
    } else {
      g_autofree char *doctor_id = g_strdup (c->room->doctor_id);
      party_leave (c, "dropped", FALSE);
      dashboards_refresh (s, doctor_id);
    }
  }
  g_debug ("conn %u: closed", c->id);
  conn_free (c);
}

static int
on_writeable (Conn *c, struct lws *wsi)
{
  OutFrame *f = g_queue_pop_head (&c->out);
  if (f) {
    c->out_bytes -= f->len;
    int n = lws_write (wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
    gsize len = f->len;
    g_free (f);
    if (n < 0 || (gsize) n < len)
      return -1;
    if (!g_queue_is_empty (&c->out) || c->close_code)
      lws_callback_on_writable (wsi);
    return 0;
  }
  if (c->close_code && !c->close_sent) {
    /* Send the close frame ourselves and keep reading (and discarding) until
     * the client answers with its own close, which lws then completes. Closing
     * the socket at once while the client is still sending (a flood, the rate
     * limit case) makes the kernel answer with a reset, and the client would
     * lose the error frame and the close code still in its receive buffer.
     * The CLOSE_GRACE_S timeout set with the close bounds the wait. */
    unsigned char frame[LWS_PRE + 2];
    frame[LWS_PRE] = (unsigned char) ((c->close_code >> 8) & 0xff);
    frame[LWS_PRE + 1] = (unsigned char) (c->close_code & 0xff);
    c->close_sent = TRUE;
    if (lws_write (wsi, frame + LWS_PRE, 2, TV_LWS_WRITE_CLOSE) < 2)
      return -1;
    return 0;
  }
  return 0;
}

static gboolean
uri_is_root (struct lws *wsi)
{
  char uri[64];
  int n = lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
  return n > 0 && strcmp (uri, "/") == 0;
}

static int
consult_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  Pss *pss = user;
  struct lws_context *lctx = lws_get_context (wsi);
  TvServer *s = lctx ? lws_context_user (lctx) : NULL;

  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    if (!s || s->shutting_down)
      return 1;
    /* WSS only: never run the protocol over a plain connection, whatever the
     * vhost ended up configured as. */
    if (!lws_is_ssl (wsi)) {
      g_warning ("refused a WebSocket handshake over a plain (non-TLS) connection");
      return 1;
    }
    if (!uri_is_root (wsi)) {
      g_info ("refused a handshake for a path other than /");
      return 1;
    }
    if (g_hash_table_size (s->conns) >= s->cfg->max_connections) {
      /* At most one warning per 10 s, so a connection flood cannot flood the log. */
      gint64 now = g_get_monotonic_time ();
      s->refused_since_warning++;
      if (s->last_full_warning == 0 || now - s->last_full_warning >= 10 * G_USEC_PER_SEC) {
        g_warning ("refused %u connection(s): max-connections (%u) reached", s->refused_since_warning,
                   s->cfg->max_connections);
        s->last_full_warning = now;
        s->refused_since_warning = 0;
      }
      return 1;
    }
    {
      g_autofree char *addr = peer_address (wsi);
      if (!tv_addr_limits_can_connect (s->addr_limits, addr)) {
        /* Logged at info: a flood must not flood the log (the client address
         * is not patient data, but a busy NAT would repeat it endlessly). */
        g_info ("refused a connection from %s: max-connections-per-address (%u) reached", addr,
                s->cfg->max_connections_per_address);
        return 1;
      }
    }
    return 0;

  case LWS_CALLBACK_ESTABLISHED:
    if (!s || !pss)
      return -1;
    pss->conn = conn_new (s, wsi);
    g_debug ("conn %u: opened", pss->conn->id);
    return 0;

  case LWS_CALLBACK_RECEIVE:
    if (pss && pss->conn) {
      Conn *c = pss->conn;
      c->in_receive = TRUE;
      on_receive (c, wsi, in, len);
      if (pss->conn == c) /* lws closes (on_closed frees) only after this callback */
        c->in_receive = FALSE;
    }
    return 0;

  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (!pss || !pss->conn)
      return 0;
    return on_writeable (pss->conn, wsi);

  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    /* The peer's close answering ours: done, without echoing a second close. */
    if (pss && pss->conn && pss->conn->close_sent)
      return -1;
    return 0;

  case LWS_CALLBACK_CLOSED:
  case LWS_CALLBACK_WSI_DESTROY:
    on_closed (pss);
    return 0;

  default:
    return 0;
  }
}

/* protocols[0]: lws binds handshakes without a subprotocol here (its default),
 * so it must refuse them. It also receives the vhost-wide TLS hook and plain
 * HTTP requests, which go to the API router (tv-http.c). */
static int
refuse_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  switch (reason) {
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    g_info ("refused a WebSocket handshake without the " TV_SIG_SUBPROTOCOL " subprotocol");
    return 1;
  case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
    if (user)
      tv_server_tls_harden_ctx (user);
    return 0;
  default:
    return tv_http_lws_callback (wsi, reason, user, in, len);
  }
}

static const struct lws_protocols protocols[] = {
  { "televisit-refuse", refuse_callback, TV_HTTP_PSS_SIZE, 0, 0, NULL, 0 },
  { TV_SIG_SUBPROTOCOL, consult_callback, sizeof (Pss), RX_BUFFER_SIZE, 0, NULL, TX_PACKET_SIZE },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};

const struct lws_protocols *
tv_server_consult_protocols (void)
{
  return protocols;
}

void
tv_server_consult_check_store (TvServer *s)
{
  g_return_if_fail (s != NULL);
  if (!s->shutting_down)
    dashboards_poll (s);
  if (s->shutting_down || g_hash_table_size (s->rooms) == 0)
    return;

  /* Ending a room removes it from the table: iterate over a copy of the keys. */
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, s->rooms);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (ids, g_strdup (key));

  for (guint i = 0; i < ids->len; i++) {
    const char *id = g_ptr_array_index (ids, i);
    TvServerRoom *room = g_hash_table_lookup (s->rooms, id);
    if (!room)
      continue;
    g_autoptr (GError) err = NULL;
    g_autoptr (TvConsult) consult = NULL;
    if (!tv_store_consult_get (s->store, id, &consult, &err)) {
      if (g_error_matches (err, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND)) {
        /* Removed from the store behind our back: nothing left to consult. */
        end_by_admin (s, room);
        continue;
      }
      g_warning ("consult %s: store check failed: %s", id, err->message);
      continue;
    }
    if (consult->status == TV_CONSULT_COMPLETED || consult->status == TV_CONSULT_CANCELLED
        || consult->status == TV_CONSULT_NO_SHOW) {
      end_by_admin (s, room);
      continue;
    }
    /* A live call: fold its connected time into the store now and then, so a
     * crash loses at most TV_SERVER_CHECKPOINT_S of it (tv-store-live.h). */
    gint64 mono = g_get_monotonic_time ();
    if (tv_sig_room_get_state (room->sig) == TV_SIG_ROOM_CONNECTED && consult->media_up_since != 0 &&
        mono - room->checkpoint_us >= TV_SERVER_CHECKPOINT_S * G_USEC_PER_SEC) {
      room->checkpoint_us = mono;
      if (!tv_store_consult_media_checkpoint (s->store, id, g_get_real_time (), &err))
        g_warning ("consult %s: store checkpoint failed: %s", id, err->message);
    }
  }
  g_ptr_array_unref (ids);
}

void
tv_server_consult_shutdown (TvServer *s)
{
  g_return_if_fail (s != NULL);
  gint64 now = g_get_real_time ();

  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, s->rooms);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    TvServerRoom *room = value;
    g_autoptr (GError) err = NULL;
    if (tv_sig_room_get_state (room->sig) == TV_SIG_ROOM_CONNECTED &&
        !tv_store_consult_media_stopped (s->store, room->consult_id, now, &err))
      g_warning ("consult %s: store media-stopped at shutdown failed: %s", room->consult_id, err->message);
    for (int i = 0; i < 2; i++) {
      Conn *c = room->party[i];
      if (!c)
        continue;
      g_clear_error (&err);
      if (!tv_store_record_participation (s->store, room->consult_id, c->role, TV_PART_LEAVE, "dropped",
                                          now, &err))
        g_warning ("consult %s: store leave row at shutdown failed: %s", room->consult_id, err->message);
    }
  }
  /* Frees every room and clears the parties' back-pointers. */
  g_hash_table_remove_all (s->rooms);

  g_hash_table_iter_init (&it, s->conns);
  gpointer key;
  while (g_hash_table_iter_next (&it, &key, NULL)) {
    Conn *c = key;
    if (!c->closing)
      conn_send_error (c, TV_SIG_ERR_SHUTTING_DOWN, "server is shutting down", TV_SIG_MSG_INVALID);
  }
}
