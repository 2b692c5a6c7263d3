/* tv-sig-room.c — the per-consult room state machine (see tv-sig-room.h).
 *
 * Why: the rules of who may send what when (pairing, offer/answer order,
 * media intervals, completion) live here as pure logic, so the server only
 * carries out the effects and the rules can be tested without sockets.
 * The visible state is derived from a few facts (who is present, whose media
 * is up, where the negotiation is) rather than stored, so it cannot drift.
 * Thread: the server's main loop only; no locking, no I/O, no clock.
 */
#define G_LOG_DOMAIN "tv-sig"

#include "signaling/tv-sig-room.h"

struct _TvSigRoom {
  grefcount ref;
  char *consult_id;
  gboolean ended;           /* final: doctor/admin ended it, or both left after media */
  gboolean started;         /* media was up on both sides at least once (ever) */
  gboolean admitted;        /* the doctor admitted the patient (until send-back) */
  gboolean present[2];      /* indexed by role_index() */
  gboolean media_up[2];     /* as last reported, this pairing */
  gboolean interval_open;   /* both media up: a connected interval is running */
  /* Negotiation of the current pairing; reset whenever a new pairing starts. */
  gboolean offer_seen;      /* the doctor has sent at least one offer */
  gboolean offer_pending;   /* an offer awaits its answer */
  gboolean answered;        /* at least one answer was relayed */
};

static int
role_index (TvSigRole role)
{
  return role == TV_SIG_ROLE_DOCTOR ? 0 : 1;
}

static gboolean
valid_role (TvSigRole role)
{
  return role == TV_SIG_ROLE_DOCTOR || role == TV_SIG_ROLE_PATIENT;
}

static void
set_fx (TvSigRoomEffects *fx, TvSigRoomEffects value)
{
  if (fx != NULL)
    *fx = value;
}

/* Forgets everything about the current pairing's negotiation and media: a new
 * pairing (or the loss of one) starts from scratch with fresh peer connections. */
static void
reset_pairing (TvSigRoom *room)
{
  room->offer_seen = FALSE;
  room->offer_pending = FALSE;
  room->answered = FALSE;
  room->media_up[0] = room->media_up[1] = FALSE;
}

static gboolean
both_present (TvSigRoom *room)
{
  return room->present[0] && room->present[1];
}

/* Paired: both present and the patient admitted. */
static gboolean
is_paired (TvSigRoom *room)
{
  return both_present (room) && room->admitted;
}

TvSigRoom *
tv_sig_room_new (const char *consult_id, gboolean was_started)
{
  TvSigRoom *room;

  g_return_val_if_fail (consult_id != NULL, NULL);

  room = g_new0 (TvSigRoom, 1);
  g_ref_count_init (&room->ref);
  room->consult_id = g_strdup (consult_id);
  room->started = was_started;
  room->admitted = was_started;
  return room;
}

TvSigRoom *
tv_sig_room_ref (TvSigRoom *room)
{
  g_return_val_if_fail (room != NULL, NULL);
  g_ref_count_inc (&room->ref);
  return room;
}

void
tv_sig_room_unref (TvSigRoom *room)
{
  if (room == NULL)
    return;
  /* g_ref_count_dec returns TRUE exactly once, on the last reference. */
  if (g_ref_count_dec (&room->ref))
    {
      g_free (room->consult_id);
      g_free (room);
    }
}

const char *
tv_sig_room_get_consult_id (TvSigRoom *room)
{
  g_return_val_if_fail (room != NULL, NULL);
  return room->consult_id;
}

TvSigRoomState
tv_sig_room_get_state (TvSigRoom *room)
{
  g_return_val_if_fail (room != NULL, TV_SIG_ROOM_EMPTY);

  if (room->ended)
    return TV_SIG_ROOM_ENDED;
  if (is_paired (room))
    return room->interval_open ? TV_SIG_ROOM_CONNECTED : TV_SIG_ROOM_PAIRED;
  if (both_present (room))
    return TV_SIG_ROOM_READY;
  if (room->present[0] || room->present[1])
    return TV_SIG_ROOM_WAITING;
  return TV_SIG_ROOM_EMPTY;
}

const char *
tv_sig_room_state_to_string (TvSigRoomState state)
{
  switch (state)
    {
    case TV_SIG_ROOM_EMPTY:
      return "empty";
    case TV_SIG_ROOM_WAITING:
      return "waiting";
    case TV_SIG_ROOM_READY:
      return "ready";
    case TV_SIG_ROOM_PAIRED:
      return "paired";
    case TV_SIG_ROOM_CONNECTED:
      return "connected";
    case TV_SIG_ROOM_ENDED:
      return "ended";
    default:
      return "unknown";
    }
}

gboolean
tv_sig_room_is_present (TvSigRoom *room, TvSigRole role)
{
  g_return_val_if_fail (room != NULL, FALSE);
  return valid_role (role) && room->present[role_index (role)];
}

gboolean
tv_sig_room_was_started (TvSigRoom *room)
{
  g_return_val_if_fail (room != NULL, FALSE);
  return room->started;
}

gboolean
tv_sig_room_is_admitted (TvSigRoom *room)
{
  g_return_val_if_fail (room != NULL, FALSE);
  return room->admitted;
}

/* Closes the connected interval if one is open. */
static TvSigRoomEffects
stop_media (TvSigRoom *room)
{
  if (!room->interval_open)
    return TV_SIG_ROOM_FX_NONE;
  room->interval_open = FALSE;
  return TV_SIG_ROOM_FX_MEDIA_STOPPED;
}

gboolean
tv_sig_room_join (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error)
{
  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (valid_role (role), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  set_fx (fx, TV_SIG_ROOM_FX_NONE);
  if (room->ended)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_CONSULT_ENDED, "the consult has ended");
      return FALSE;
    }
  if (room->present[role_index (role)])
    {
      g_set_error (error, TV_SIG_ERROR, TV_SIG_ERR_TOKEN_IN_USE,
                   "the %s is already connected", tv_sig_role_to_string (role));
      return FALSE;
    }

  room->present[role_index (role)] = TRUE;
  room->media_up[role_index (role)] = FALSE;
  if (is_paired (room))
    {
      reset_pairing (room);
      set_fx (fx, TV_SIG_ROOM_FX_PEER_JOINED | TV_SIG_ROOM_FX_PAIRED);
    }
  else if (role == TV_SIG_ROLE_PATIENT)
    set_fx (fx, TV_SIG_ROOM_FX_WAITING | (both_present (room) ? TV_SIG_ROOM_FX_PEER_JOINED : 0));
  else if (both_present (room))
    set_fx (fx, TV_SIG_ROOM_FX_DOCTOR_READY);
  g_debug ("consult %s: %s joined, now %s", room->consult_id, tv_sig_role_to_string (role),
           tv_sig_room_state_to_string (tv_sig_room_get_state (room)));
  return TRUE;
}

void
tv_sig_room_leave (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx)
{
  TvSigRoomEffects effects = TV_SIG_ROOM_FX_NONE;

  g_return_if_fail (room != NULL);
  g_return_if_fail (valid_role (role));

  set_fx (fx, TV_SIG_ROOM_FX_NONE);
  if (!room->present[role_index (role)])
    return;

  room->present[role_index (role)] = FALSE;
  /* After the end every effect was already reported; the server is only
   * closing the connections now. */
  if (room->ended)
    return;

  effects |= stop_media (room);
  reset_pairing (room);
  if (room->present[role_index (tv_sig_role_peer (role))])
    effects |= TV_SIG_ROOM_FX_PEER_LEFT;
  else if (room->started)
    {
      room->ended = TRUE;
      effects |= TV_SIG_ROOM_FX_COMPLETED;
    }
  set_fx (fx, effects);
  g_debug ("consult %s: %s left, now %s", room->consult_id, tv_sig_role_to_string (role),
           tv_sig_room_state_to_string (tv_sig_room_get_state (room)));
}

/* The checks common to relay and media: not ended, both present, admitted. */
static gboolean
check_paired (TvSigRoom *room, GError **error)
{
  if (room->ended)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_CONSULT_ENDED, "the consult has ended");
      return FALSE;
    }
  if (!both_present (room))
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_PAIRED, "the peer is not connected");
      return FALSE;
    }
  if (!room->admitted)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_PAIRED, "the patient has not been admitted");
      return FALSE;
    }
  return TRUE;
}

gboolean
tv_sig_room_relay (TvSigRoom *room, TvSigRole from, TvSigMsgType type, GError **error)
{
  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (valid_role (from), FALSE);
  g_return_val_if_fail (type == TV_SIG_MSG_OFFER || type == TV_SIG_MSG_ANSWER ||
                        type == TV_SIG_MSG_CANDIDATE, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_paired (room, error))
    return FALSE;

  switch (type)
    {
    case TV_SIG_MSG_OFFER:
      if (from != TV_SIG_ROLE_DOCTOR)
        {
          g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_ALLOWED, "only the doctor sends offers");
          return FALSE;
        }
      /* A repeated offer (ICE restart, renegotiation) replaces the pending one. */
      room->offer_seen = TRUE;
      room->offer_pending = TRUE;
      return TRUE;

    case TV_SIG_MSG_ANSWER:
      if (from != TV_SIG_ROLE_PATIENT)
        {
          g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_ALLOWED, "only the patient sends answers");
          return FALSE;
        }
      if (!room->offer_pending)
        {
          g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_OUT_OF_ORDER, "no offer is waiting for an answer");
          return FALSE;
        }
      room->offer_pending = FALSE;
      room->answered = TRUE;
      return TRUE;

    case TV_SIG_MSG_CANDIDATE:
      if (!room->offer_seen)
        {
          g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_OUT_OF_ORDER, "candidate before the first offer");
          return FALSE;
        }
      return TRUE;

    default:
      return FALSE;
    }
}

gboolean
tv_sig_room_media (TvSigRoom *room, TvSigRole role, gboolean up, TvSigRoomEffects *fx, GError **error)
{
  int i;

  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (valid_role (role), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  set_fx (fx, TV_SIG_ROOM_FX_NONE);
  if (!check_paired (room, error))
    return FALSE;
  up = up != FALSE;
  if (up && !room->answered)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_OUT_OF_ORDER, "media up before an answer");
      return FALSE;
    }

  i = role_index (role);
  if (room->media_up[i] == up)
    return TRUE;
  room->media_up[i] = up;

  if (up && room->media_up[1 - i])
    {
      room->interval_open = TRUE;
      room->started = TRUE;
      set_fx (fx, TV_SIG_ROOM_FX_MEDIA_STARTED);
    }
  else if (!up)
    set_fx (fx, stop_media (room));
  g_debug ("consult %s: %s media %s, now %s", room->consult_id, tv_sig_role_to_string (role),
           up ? "up" : "down", tv_sig_room_state_to_string (tv_sig_room_get_state (room)));
  return TRUE;
}

gboolean
tv_sig_room_end (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error)
{
  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  set_fx (fx, TV_SIG_ROOM_FX_NONE);
  /* The patient may never end a consult, whatever its state. */
  if (role != TV_SIG_ROLE_DOCTOR && role != TV_SIG_ROLE_NONE)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_ALLOWED, "only the doctor ends the consult");
      return FALSE;
    }
  if (room->ended)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_CONSULT_ENDED, "the consult has ended");
      return FALSE;
    }

  room->ended = TRUE;
  set_fx (fx, stop_media (room) | TV_SIG_ROOM_FX_COMPLETED);
  g_debug ("consult %s: ended by %s", room->consult_id,
           role == TV_SIG_ROLE_NONE ? "the server" : tv_sig_role_to_string (role));
  return TRUE;
}

/* The checks common to admit and send-back, in their documented order. */
static gboolean
check_admission (TvSigRoom *room, TvSigRole role, gboolean want_admitted, GError **error)
{
  if (role != TV_SIG_ROLE_DOCTOR)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_ALLOWED, "only the doctor admits or sends back");
      return FALSE;
    }
  if (room->ended)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_CONSULT_ENDED, "the consult has ended");
      return FALSE;
    }
  if (!room->present[role_index (TV_SIG_ROLE_PATIENT)])
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_WAITING, "the patient is not connected");
      return FALSE;
    }
  if (room->admitted != want_admitted)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_NOT_WAITING,
                           want_admitted ? "the patient is in the waiting room" : "the patient is already admitted");
      return FALSE;
    }
  return TRUE;
}

gboolean
tv_sig_room_admit (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error)
{
  TvSigRoomEffects effects = TV_SIG_ROOM_FX_ADMITTED;

  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  set_fx (fx, TV_SIG_ROOM_FX_NONE);
  if (!check_admission (room, role, FALSE, error))
    return FALSE;
  room->admitted = TRUE;
  if (both_present (room))
    {
      reset_pairing (room);
      effects |= TV_SIG_ROOM_FX_PAIRED;
    }
  set_fx (fx, effects);
  g_debug ("consult %s: patient admitted, now %s", room->consult_id,
           tv_sig_room_state_to_string (tv_sig_room_get_state (room)));
  return TRUE;
}

gboolean
tv_sig_room_send_back (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error)
{
  TvSigRoomEffects effects;

  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  set_fx (fx, TV_SIG_ROOM_FX_NONE);
  if (!check_admission (room, role, TRUE, error))
    return FALSE;
  room->admitted = FALSE;
  effects = stop_media (room) | TV_SIG_ROOM_FX_WAITING;
  reset_pairing (room);
  set_fx (fx, effects);
  g_debug ("consult %s: patient sent back, now %s", room->consult_id,
           tv_sig_room_state_to_string (tv_sig_room_get_state (room)));
  return TRUE;
}

gboolean
tv_sig_room_restart (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error)
{
  TvSigRoomEffects effects;

  g_return_val_if_fail (room != NULL, FALSE);
  g_return_val_if_fail (valid_role (role), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  set_fx (fx, TV_SIG_ROOM_FX_NONE);
  if (!check_paired (room, error))
    return FALSE;
  effects = stop_media (room) | TV_SIG_ROOM_FX_PAIRED;
  reset_pairing (room);
  set_fx (fx, effects);
  g_debug ("consult %s: media restart asked by the %s", room->consult_id, role == TV_SIG_ROLE_DOCTOR ? "doctor" : "patient");
  return TRUE;
}
