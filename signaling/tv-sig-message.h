/* tv-sig-message.h — consult protocol messages: types, parsing, validation, serialisation.
 *
 * Pure functions, no I/O, no global state: safe to call from any thread.
 * Every message is a JSON object with a "type"; each type has a fixed table of
 * fields (required or optional, with their JSON type and limits). Parsing checks
 * the frame against that table and fails with a TV_SIG_ERROR code naming the
 * problem; unknown fields are rejected, never passed on. The server re-serialises
 * relayed messages from the parsed struct, so only validated fields reach the peer.
 * See signaling/PROTOCOL.md for every message with an example.
 */
#pragma once

#include <glib.h>
#include "signaling/tv-sig-error.h"

G_BEGIN_DECLS

/* WebSocket subprotocol name; the suffix is the protocol version. */
#define TV_SIG_SUBPROTOCOL "televisit.v1"
#define TV_SIG_PROTOCOL_VERSION 1

/* Limits (bytes). A frame larger than this is rejected before parsing. */
#define TV_SIG_MAX_FRAME_BYTES   (64 * 1024)
#define TV_SIG_MAX_SDP_BYTES     (48 * 1024)
#define TV_SIG_MAX_CANDIDATE_BYTES 1024
#define TV_SIG_MAX_TOKEN_BYTES   128
#define TV_SIG_MAX_TEXT_BYTES    256   /* error messages, reasons */
#define TV_SIG_MAX_MLINE_INDEX   15
#define TV_SIG_MAX_NAME_BYTES    200   /* display names (waiting, authed, dashboard) */
#define TV_SIG_MAX_DASHBOARD_ITEMS 500 /* consults in one "dashboard" message */
#define TV_SIG_MAX_ICE_SERVERS   8     /* entries of "ice_servers" in "joined" */
#define TV_SIG_MAX_ICE_URLS      4     /* "urls" of one ice_servers entry */
#define TV_SIG_MAX_ICE_URL_BYTES 256
#define TV_SIG_MAX_ICE_CRED_BYTES 256  /* username, credential */
#define TV_SIG_MAX_FACT_REASON_BYTES 200 /* "audio_only_reason" of facts */
#define TV_SIG_MAX_CHAT_BYTES    2000  /* chat text: 1..2000 bytes of UTF-8, no control characters but LF */
#define TV_SIG_CHAT_RATE_MSGS    10    /* at most this many chat messages per connection ... */
#define TV_SIG_CHAT_RATE_SECONDS 10    /* ... in any window of this many seconds (else 4204) */

typedef enum {
  TV_SIG_ROLE_NONE = 0,
  TV_SIG_ROLE_DOCTOR,
  TV_SIG_ROLE_PATIENT,
} TvSigRole;

/* Returns: (transfer none) "doctor", "patient", or "none". */
const char *tv_sig_role_to_string (TvSigRole role);
/* Returns: TRUE and sets *@role for "doctor"/"patient"; FALSE otherwise (*@role untouched). */
gboolean tv_sig_role_from_string (const char *s, TvSigRole *role);
/* Returns: the other party's role (doctor <-> patient), NONE for NONE. */
TvSigRole tv_sig_role_peer (TvSigRole role);

typedef enum {
  TV_SIG_MSG_INVALID = 0,
  /* client -> server */
  TV_SIG_MSG_JOIN,        /* token */
  TV_SIG_MSG_MEDIA,       /* media_up: the sender's peer connection is (dis)connected */
  TV_SIG_MSG_LEAVE,       /* the sender leaves; may rejoin with the same token */
  TV_SIG_MSG_END,         /* doctor only: end the consult for both */
  TV_SIG_MSG_PING,        /* id (optional) */
  /* both ways (relayed between the two parties) */
  TV_SIG_MSG_OFFER,       /* sdp */
  TV_SIG_MSG_ANSWER,      /* sdp */
  TV_SIG_MSG_CANDIDATE,   /* candidate, mline_index; candidate "" = end of candidates */
  /* server -> client */
  TV_SIG_MSG_JOINED,      /* consult_id, role (own), peer_present */
  TV_SIG_MSG_PEER_JOINED, /* role (the peer's) */
  TV_SIG_MSG_PEER_LEFT,   /* role (the peer's), reason */
  TV_SIG_MSG_PAIRED,      /* role (the peer's), offerer: TRUE = you create the offer */
  TV_SIG_MSG_ENDED,       /* reason: the consult is over, the server closes */
  TV_SIG_MSG_PONG,        /* id (echoed) */
  TV_SIG_MSG_ERROR,       /* code, message, ref (type of the offending message, if known) */
  /* waiting room (PROTOCOL.md 3.16-3.22) */
  TV_SIG_MSG_AUTH,        /* C->S session: authenticate the connection as a logged-in user (doctor) */
  TV_SIG_MSG_ADMIT,       /* C->S doctor: admit the waiting patient; consult_id optional (dashboard) */
  TV_SIG_MSG_SEND_BACK,   /* C->S doctor: return the patient to the waiting room */
  TV_SIG_MSG_AUTHED,      /* S->C user_id, name: auth succeeded */
  TV_SIG_MSG_WAITING,     /* S->C (patient) name (doctor), scheduled_start, doctor_present */
  TV_SIG_MSG_DOCTOR_READY,/* S->C (patient) the doctor is in the room */
  TV_SIG_MSG_DASHBOARD,   /* S->C (doctor) date, time_zone, items: today's consults */
  /* consult facts for billing (PROTOCOL.md 3.27-3.28) */
  TV_SIG_MSG_FACTS,       /* C->S doctor: modality, audio_only_reason, patient_location, patient_status (each optional) */
  TV_SIG_MSG_FACTS_SAVED, /* S->C the facts as now recorded */
  TV_SIG_MSG_RESTART,     /* C->S the sender's media failed: renegotiate from scratch (ICE restart) */
  TV_SIG_MSG_MEDIA_RESTART, /* S->C role (who asked): the media is being renegotiated; "paired" follows */
  /* in-call chat (PROTOCOL.md 3.23-3.24) */
  TV_SIG_MSG_CHAT,        /* C->S text: a chat message to the other party */
  TV_SIG_MSG_CHAT_MESSAGE,/* S->C id, at, role (the sender's), text: a stored chat message */
  TV_SIG_MSG_N_TYPES
} TvSigMsgType;

/* Which side sent the frame being parsed: a server parses FROM_CLIENT frames
 * (server-only types are TV_SIG_ERR_UNKNOWN_TYPE), a client FROM_SERVER ones. */
typedef enum {
  TV_SIG_FROM_CLIENT,
  TV_SIG_FROM_SERVER,
} TvSigDirection;

/* Returns: (transfer none) the wire name ("join", "peer-joined", ...), or NULL for INVALID/out of range. */
const char *tv_sig_msg_type_to_string (TvSigMsgType type);
/* Returns: the type for a wire name, TV_SIG_MSG_INVALID when unknown. */
TvSigMsgType tv_sig_msg_type_from_string (const char *name);

/* One consult of a "dashboard" message. Strings owned by the item. */
typedef struct {
  char *consult_id;      /* "id" */
  char *patient;         /* patient display name (personal data: never log) */
  char *scheduled_start; /* RFC 3339 with offset, in the doctor's time zone */
  char *status;          /* "scheduled", "waiting", "in-progress", "completed", "cancelled", "no-show" */
  char *waiting_since;   /* RFC 3339, NULL unless the patient is in the waiting room now */
  gboolean patient_present; /* the patient is connected to the consult right now */
} TvSigDashboardItem;

/* Returns: (transfer full) a zeroed item. Free with tv_sig_dashboard_item_free (NULL accepted). */
TvSigDashboardItem *tv_sig_dashboard_item_new (void);
void tv_sig_dashboard_item_free (TvSigDashboardItem *item);

/* One STUN/TURN server of "joined"'s "ice_servers" (as WebRTC's RTCIceServer).
 * Strings owned by the entry. The credential is a secret: never log it. */
typedef struct {
  char **urls;           /* NULL-terminated, 1..TV_SIG_MAX_ICE_URLS of "stun:", "turn:" or "turns:" URLs */
  char *username;        /* TURN username, or NULL (STUN) */
  char *credential;      /* TURN password, or NULL (STUN) */
} TvSigIceServer;

/* Returns: (transfer full) a zeroed entry. Free with tv_sig_ice_server_free (NULL accepted). */
TvSigIceServer *tv_sig_ice_server_new (void);
void tv_sig_ice_server_free (TvSigIceServer *server);

/* tv_sig_ice_url_parse:
 * Splits a STUN/TURN URL (RFC 7064/7065): "stun:HOST[:PORT]",
 * "turn:HOST[:PORT][?transport=udp|tcp]", "turns:..."; HOST a name, an IPv4
 * address or a bracketed IPv6 address. Parsed with GUri; no user info, path
 * or fragment allowed. Outputs may be NULL. *@host, *@scheme and *@transport
 * are (transfer full); *@transport is NULL when the URL has none; *@port is
 * the default (3478, 5349 for turns) when the URL has none.
 * Returns: FALSE (outputs untouched) when @url is not such a URL. */
gboolean tv_sig_ice_url_parse (const char *url, char **scheme, char **host, guint16 *port, char **transport);

/* A parsed message. Only the fields of its type are meaningful; strings are
 * owned by the struct (NULL when absent). */
typedef struct {
  TvSigMsgType type;
  char *token;          /* join (either token or consult_id), auth ("session") */
  char *sdp;            /* offer, answer */
  char *candidate;      /* candidate ("" = end of candidates) */
  gint mline_index;     /* candidate: sdpMLineIndex, 0..TV_SIG_MAX_MLINE_INDEX */
  gboolean media_up;    /* media: "state": "connected" (TRUE) / "disconnected" (FALSE) */
  char *consult_id;     /* joined; join and admit by consult id (optional) */
  TvSigRole role;       /* joined: own role; peer-joined, peer-left, paired: the peer's */
  gboolean peer_present;/* joined */
  gboolean offerer;     /* paired */
  char *reason;         /* peer-left, ended (short machine-readable word, e.g. "left", "dropped", "ended-by-doctor") */
  gint64 id;            /* ping/pong correlation id; 0..2^53, -1 when absent */
  gint code;            /* error: a TvSigErrorCode */
  char *message;        /* error: human-readable text */
  char *ref;            /* error: wire type of the message that caused it, or NULL */
  char *name;           /* waiting: the doctor's display name; authed: the user's */
  char *user_id;        /* authed */
  char *scheduled_start;/* waiting: RFC 3339 with offset */
  gboolean doctor_present; /* waiting */
  char *date;           /* dashboard: the doctor's local date, YYYY-MM-DD */
  char *time_zone;      /* dashboard: IANA name of the doctor's zone */
  GPtrArray *items;     /* dashboard: (element-type TvSigDashboardItem), never NULL after parsing */
  GPtrArray *ice_servers; /* joined: (element-type TvSigIceServer), NULL when absent (optional field) */
  char *modality;        /* facts, facts-saved: "audio-video" / "audio-only" */
  char *audio_only_reason; /* facts, facts-saved: why audio only (with "audio-only") */
  char *patient_location; /* facts, facts-saved: "home" / "other" */
  char *patient_status;  /* facts, facts-saved: "new" / "established" */
  char *text;           /* chat, chat-message: the message text (personal data: never log) */
  char *at;             /* chat-message: when it was sent, RFC 3339 UTC */
} TvSigMsg;

/* tv_sig_msg_new:
 * Returns: (transfer full) a zeroed message of @type (id = -1). Never NULL. */
TvSigMsg *tv_sig_msg_new (TvSigMsgType type);

/* tv_sig_msg_free: frees @msg and its strings; NULL is accepted. */
void tv_sig_msg_free (TvSigMsg *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvSigMsg, tv_sig_msg_free)

/* tv_sig_msg_parse:
 * Parses and validates one text frame of @len bytes (need not be NUL-terminated).
 * Returns: (transfer full) the message, or NULL with @error set in TV_SIG_ERROR
 * (code = TvSigErrorCode, message names the field/problem). When the type could
 * be read before the failure, *@ref_type (if non-NULL) is set to it, else to
 * TV_SIG_MSG_INVALID, so error replies can carry "ref". The checks and their
 * order are in PROTOCOL.md section 2: 4007 for len > TV_SIG_MAX_FRAME_BYTES
 * (before anything else), 4000..4006 for the JSON and the field tables, and
 * 4102 (TV_SIG_ERR_TOKEN_INVALID) for a malformed join or session token.
 * "join" carries exactly one of "token" and "consult" (neither: 4003, both: 4006). */
TvSigMsg *tv_sig_msg_parse (const char *data, gsize len, TvSigDirection dir,
                            TvSigMsgType *ref_type, GError **error);

/* tv_sig_msg_to_json:
 * Serialises @msg with exactly the fields of its type.
 * Returns: (transfer full) a NUL-terminated compact JSON text. Never NULL for a
 * valid type; g_return_val_if_fail(NULL) on TV_SIG_MSG_INVALID (programmer error). */
char *tv_sig_msg_to_json (const TvSigMsg *msg);

/* Convenience constructors, (transfer full) JSON text ready to send.
 * They do not validate their arguments against the limits (callers pass
 * values they produced or already parsed); a NULL string argument is a
 * programmer error (g_return_val_if_fail, NULL), except as noted.
 * tv_sig_build_error: @message NULL or "" -> the code's name; the text is made
 * valid UTF-8, control characters become spaces, and it is cut to
 * TV_SIG_MAX_TEXT_BYTES on a character boundary, so it may quote input from
 * the network. @ref TV_SIG_MSG_INVALID -> no "ref".
 * tv_sig_build_candidate: @candidate NULL is sent as "" (end of candidates). */
char *tv_sig_build_error (int code, const char *message, TvSigMsgType ref);
char *tv_sig_build_joined (const char *consult_id, TvSigRole own_role, gboolean peer_present);
/* tv_sig_build_joined_full: as tv_sig_build_joined, with "ice_servers" from
 * @ice_servers (element-type TvSigIceServer, borrowed; NULL or empty: the
 * field is left out). At most TV_SIG_MAX_ICE_SERVERS entries are sent. */
char *tv_sig_build_joined_full (const char *consult_id, TvSigRole own_role, gboolean peer_present,
                                GPtrArray *ice_servers);
char *tv_sig_build_peer_joined (TvSigRole peer_role);
char *tv_sig_build_peer_left (TvSigRole peer_role, const char *reason);
char *tv_sig_build_paired (TvSigRole peer_role, gboolean offerer);
char *tv_sig_build_media_restart (TvSigRole by_role);
char *tv_sig_build_ended (const char *reason);
char *tv_sig_build_join (const char *token);
char *tv_sig_build_media (gboolean up);
char *tv_sig_build_sdp (TvSigMsgType offer_or_answer, const char *sdp);
char *tv_sig_build_candidate (guint mline_index, const char *candidate);
/* Waiting room. tv_sig_build_join_consult / tv_sig_build_admit: @consult_id
 * NULL for admit gives the in-room form (no "consult"). tv_sig_build_dashboard:
 * @items (element-type TvSigDashboardItem) may be NULL or empty. */
char *tv_sig_build_join_consult (const char *consult_id);
char *tv_sig_build_auth (const char *session_token);
char *tv_sig_build_admit (const char *consult_id);
char *tv_sig_build_authed (const char *user_id, const char *name);
char *tv_sig_build_waiting (const char *doctor_name, const char *scheduled_start, gboolean doctor_present);
char *tv_sig_build_dashboard (const char *date, const char *time_zone, GPtrArray *items);
/* Consult facts: tv_sig_build_facts leaves out every NULL argument (at least
 * one must be given); tv_sig_build_facts_saved needs all but @audio_only_reason. */
char *tv_sig_build_facts (const char *modality, const char *audio_only_reason, const char *patient_location,
                          const char *patient_status);
char *tv_sig_build_facts_saved (const char *modality, const char *audio_only_reason, const char *patient_location,
                                const char *patient_status);
/* Chat. tv_sig_build_chat_message: @id the stored message's id (>= 1), @at
 * RFC 3339, @from the sender's role. Neither checks the text: the parser (and
 * tv_sig_chat_text_check) did. */
char *tv_sig_build_chat (const char *text);
char *tv_sig_build_chat_message (gint64 id, const char *at, TvSigRole from, const char *text);

/* tv_sig_chat_text_check:
 * The rule for chat text (the same as the parser's): valid UTF-8, 1 to
 * TV_SIG_MAX_CHAT_BYTES bytes, no control characters except LF (newline).
 * Returns: TRUE if @text is acceptable; FALSE with a short reason in
 * *@why (transfer none, may be NULL). */
gboolean tv_sig_chat_text_check (const char *text, const char **why);

G_END_DECLS
