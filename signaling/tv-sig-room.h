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
 *   READY     both connected, the patient waits in the waiting room until the doctor admits them
 *   PAIRED    both connected and the patient admitted: negotiating (offer/answer/candidates relayed)
 *   CONNECTED both report media up
 *   ENDED     consult over (doctor ended it, or both left after media had connected); final
 *
 * Admission: pairing needs the doctor present AND the patient admitted
 * (tv_sig_room_admit). Admission lasts for the room's life: an admitted
 * patient who drops and comes back, or whose doctor drops and comes back, is
 * paired again at once; only send-back (tv_sig_room_send_back) returns them to
 * the waiting room. A room created with @was_started starts admitted (the
 * consult was already under way before, e.g. a server restart).
 */
#pragma once

#include <glib.h>
#include "signaling/tv-sig-message.h"

G_BEGIN_DECLS

typedef enum {
  TV_SIG_ROOM_EMPTY,
  TV_SIG_ROOM_WAITING,
  TV_SIG_ROOM_READY,
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
  TV_SIG_ROOM_FX_WAITING       = 1 << 6, /* tell the patient "waiting" (it is in the waiting room) */
  TV_SIG_ROOM_FX_DOCTOR_READY  = 1 << 7, /* tell the waiting patient "doctor-ready" */
  TV_SIG_ROOM_FX_ADMITTED      = 1 << 8, /* the patient was admitted: record it (first time: admitted_at) */
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
/* Returns: (transfer none) "empty", "waiting", "ready", "paired", "connected", "ended". */
const char *tv_sig_room_state_to_string (TvSigRoomState state);
gboolean tv_sig_room_is_present (TvSigRoom *room, TvSigRole role);
/* TRUE once both parties' media have been up at least once. */
gboolean tv_sig_room_was_started (TvSigRoom *room);
/* TRUE while the patient is admitted (see Admission above). */
gboolean tv_sig_room_is_admitted (TvSigRoom *room);

/* tv_sig_room_join:
 * @role joins. Fails (room unchanged) with TV_SIG_ERR_TOKEN_IN_USE when that role
 * is already present, TV_SIG_ERR_CONSULT_ENDED when the room is ENDED.
 * On success *@fx gets, with the other party present and the patient admitted,
 * PEER_JOINED | PAIRED. Otherwise: a patient gets WAITING (plus PEER_JOINED
 * when the doctor is there, who learns of the waiting patient); a doctor
 * joining a waiting, not admitted patient gives DOCTOR_READY. */
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
 * Rules: both present and the patient admitted (else TV_SIG_ERR_NOT_PAIRED); OFFER only from the doctor
 * (TV_SIG_ERR_NOT_ALLOWED); ANSWER only from the patient and only while an offer
 * is outstanding (TV_SIG_ERR_OUT_OF_ORDER); CANDIDATE only after the first offer
 * of this pairing (TV_SIG_ERR_OUT_OF_ORDER). A re-offer (ICE restart) is allowed
 * at any time while paired. ENDED rooms: TV_SIG_ERR_CONSULT_ENDED (checked
 * first). On success the negotiation state advances. Room unchanged on failure. */
gboolean tv_sig_room_relay (TvSigRoom *room, TvSigRole from, TvSigMsgType type, GError **error);

/* tv_sig_room_media:
 * @role reports its media connected (@up TRUE) or lost. Requires both present and admitted
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

/* tv_sig_room_admit:
 * @role (the doctor; from the consult's own connection or the doctor's
 * dashboard, so the doctor need not be present) admits the waiting patient.
 * Checked in this order: role (TV_SIG_ERR_NOT_ALLOWED unless DOCTOR), ENDED
 * (TV_SIG_ERR_CONSULT_ENDED), the patient present and not yet admitted
 * (TV_SIG_ERR_NOT_WAITING). Room unchanged on failure.
 * *@fx gets ADMITTED, plus PAIRED when the doctor is present (negotiation reset). */
gboolean tv_sig_room_admit (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error);

/* tv_sig_room_send_back:
 * The doctor returns the admitted patient to the waiting room: the pairing
 * ends (negotiation and media forgotten; both tear down their peer
 * connection). Same checks as admit, except that the patient must be present
 * and admitted (TV_SIG_ERR_NOT_WAITING otherwise).
 * *@fx gets WAITING, plus MEDIA_STOPPED if an interval was open. */
gboolean tv_sig_room_send_back (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error);

/* tv_sig_room_restart:
 * @role's media failed for good (ICE failed, or disconnected past its grace):
 * the pairing starts over (negotiation and media forgotten), both parties
 * build a new peer connection and the doctor offers again, within the same
 * consult. Requires the room paired (TV_SIG_ERR_CONSULT_ENDED /
 * TV_SIG_ERR_NOT_PAIRED as for relay). Room unchanged on failure.
 * *@fx gets PAIRED, plus MEDIA_STOPPED if an interval was open. */
gboolean tv_sig_room_restart (TvSigRoom *room, TvSigRole role, TvSigRoomEffects *fx, GError **error);

G_END_DECLS
