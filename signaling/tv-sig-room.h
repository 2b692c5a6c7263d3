/* tv-sig-room.h — the per-consult room state machine.
 *
 * Pure logic, no I/O and no clock: the server feeds it what happened (a party
 * joined, a frame to relay arrived, a party's media came up) and it answers
 * whether that is allowed in the current state and which effects follow
 * (TvSigRoomEffects), which the server then carries out (send "paired",
 * record "in progress" in the store, ...). One room per consult, owned by the
 * server's room table; refcounted because connections hold it too.
 * Not thread-safe: use from the server's main loop only.
 *
 * States (see PROTOCOL.md for the diagram):
 *   EMPTY     nobody connected
 *   WAITING   one party connected, waiting for the other
 *   PAIRED    both connected, negotiating (offer/answer/candidates relayed)
 *   CONNECTED both report media up
 *   ENDED     consult over (doctor ended it, or both left after media had connected); final
 */
#pragma once

#include <glib.h>
#include "signaling/tv-sig-message.h"

G_BEGIN_DECLS

typedef enum {
  TV_SIG_ROOM_EMPTY,
  TV_SIG_ROOM_WAITING,
  TV_SIG_ROOM_PAIRED,
  TV_SIG_ROOM_CONNECTED,
  TV_SIG_ROOM_ENDED,
} TvSigRoomState;

/* What the caller must do after a transition (bit set, may combine). */
typedef enum {
  TV_SIG_ROOM_FX_NONE          = 0,
  TV_SIG_ROOM_FX_PEER_JOINED   = 1 << 0, /* tell the other party "peer-joined" */
  TV_SIG_ROOM_FX_PAIRED        = 1 << 1, /* send "paired" to both (doctor is offerer) */
  TV_SIG_ROOM_FX_PEER_LEFT     = 1 << 2, /* tell the remaining party "peer-left" */
  TV_SIG_ROOM_FX_MEDIA_STARTED = 1 << 3, /* both media up: a connected interval starts (first time: consult in progress) */
  TV_SIG_ROOM_FX_MEDIA_STOPPED = 1 << 4, /* the connected interval ends */
  TV_SIG_ROOM_FX_COMPLETED     = 1 << 5, /* consult completed: record it, send "ended", close both */
} TvSigRoomEffects;

typedef struct _TvSigRoom TvSigRoom;

/* Returns: (transfer full) a new EMPTY room for @consult_id (copied). @was_started
 * says the consult already had media connected before (e.g. in the store after a
 * server restart), so that both leaving completes it. */
TvSigRoom *tv_sig_room_new (const char *consult_id, gboolean was_started);
TvSigRoom *tv_sig_room_ref (TvSigRoom *room);
/* NULL is accepted. */
void tv_sig_room_unref (TvSigRoom *room);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvSigRoom, tv_sig_room_unref)

/* Returns: (transfer none) the consult id. */
const char *tv_sig_room_get_consult_id (TvSigRoom *room);
TvSigRoomState tv_sig_room_get_state (TvSigRoom *room);
/* Returns: (transfer none) "empty", "waiting", "paired", "connected", "ended". */
const char *tv_sig_room_state_to_string (TvSigRoomState state);
gboolean tv_sig_room_is_present (TvSigRoom *room, TvSigRole role);
/* TRUE once both parties' media have been up at least once. */
gboolean tv_sig_room_was_started (TvSigRoom *room);

/* tv_sig_room_join:
 * @role joins. Fails (room unchanged) with TV_SIG_ERR_TOKEN_IN_USE when that role
 * is already present, TV_SIG_ERR_CONSULT_ENDED when the room is ENDED.
 * On success *@fx gets PEER_JOINED and PAIRED when the other party is present. */
gboolean tv_sig_room_join (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error);

/* tv_sig_room_leave:
 * @role left (cleanly or dropped). No-op when not present. *@fx may get
 * MEDIA_STOPPED (interval was open), PEER_LEFT (other still there), and
 * COMPLETED (the room is now empty and media had connected). Never fails.
 * In an ENDED room it only clears the presence (no effects: they were
 * reported by the transition to ENDED). Either way the pairing's negotiation
 * and both media states are forgotten: a rejoin starts from scratch. */
void tv_sig_room_leave (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx);

/* tv_sig_room_relay:
 * May @from send @type (OFFER, ANSWER or CANDIDATE) to the peer now?
 * Rules: both present (else TV_SIG_ERR_NOT_PAIRED); OFFER only from the doctor
 * (TV_SIG_ERR_NOT_ALLOWED); ANSWER only from the patient and only while an offer
 * is outstanding (TV_SIG_ERR_OUT_OF_ORDER); CANDIDATE only after the first offer
 * of this pairing (TV_SIG_ERR_OUT_OF_ORDER). A re-offer (ICE restart) is allowed
 * at any time while paired. ENDED rooms: TV_SIG_ERR_CONSULT_ENDED (checked
 * first). On success the negotiation state advances. Room unchanged on failure. */
gboolean tv_sig_room_relay (TvSigRoom *room, TvSigRole from, TvSigMsgType type, GError **error);

/* tv_sig_room_media:
 * @role reports its media connected (@up TRUE) or lost. Requires both present
 * (TV_SIG_ERR_NOT_PAIRED) and, for up, that an answer was relayed this pairing
 * (TV_SIG_ERR_OUT_OF_ORDER); ENDED rooms: TV_SIG_ERR_CONSULT_ENDED. Repeating
 * the current value is accepted, no effect. Room unchanged on failure.
 * *@fx gets MEDIA_STARTED when both become up, MEDIA_STOPPED when one goes down. */
gboolean tv_sig_room_media (TvSigRoom *room, TvSigRole role, gboolean up, TvSigRoomEffects *fx, GError **error);

/* tv_sig_room_end:
 * @role ends the consult. Only the doctor (TV_SIG_ERR_NOT_ALLOWED), or
 * TV_SIG_ROLE_NONE for the server/admin; the role is checked first, so a
 * patient always gets NOT_ALLOWED. ENDED rooms: TV_SIG_ERR_CONSULT_ENDED.
 * *@fx gets COMPLETED (and MEDIA_STOPPED if an interval was open). */
gboolean tv_sig_room_end (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error);

G_END_DECLS
