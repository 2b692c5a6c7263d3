/* tv-sig-error.h — the numbered error codes of the consult protocol.
 *
 * One list, shared by server and client, sent on the wire as the "code" of an
 * "error" message and documented in signaling/PROTOCOL.md (keep both in step).
 * Codes are grouped by hundreds: 40xx the message itself, 41xx authentication
 * and joining, 42xx ordering and pairing, 50xx the server.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_SIG_ERROR (tv_sig_error_quark ())
GQuark tv_sig_error_quark (void);

typedef enum {
  /* The frame or its JSON */
  TV_SIG_ERR_BAD_JSON        = 4000, /* not valid JSON / not UTF-8 */
  TV_SIG_ERR_NOT_OBJECT      = 4001, /* top level is not a JSON object */
  TV_SIG_ERR_UNKNOWN_TYPE    = 4002, /* "type" names no message this side accepts */
  TV_SIG_ERR_MISSING_FIELD   = 4003, /* a required field is absent */
  TV_SIG_ERR_UNKNOWN_FIELD   = 4004, /* a field the message type does not have */
  TV_SIG_ERR_WRONG_TYPE      = 4005, /* a field has the wrong JSON type */
  TV_SIG_ERR_INVALID_VALUE   = 4006, /* right type, value out of range / malformed */
  TV_SIG_ERR_FRAME_TOO_LARGE = 4007, /* frame exceeds TV_SIG_MAX_FRAME_BYTES */
  TV_SIG_ERR_BINARY_FRAME    = 4008, /* binary frames are not part of the protocol */
  TV_SIG_ERR_RATE_LIMITED    = 4009, /* too many messages per second */

  /* Authentication and joining */
  TV_SIG_ERR_NOT_JOINED      = 4100, /* anything but join/ping before a successful join */
  TV_SIG_ERR_ALREADY_JOINED  = 4101, /* a second join on the same connection */
  TV_SIG_ERR_TOKEN_INVALID   = 4102, /* unknown token (also: malformed token) */
  TV_SIG_ERR_TOKEN_EXPIRED   = 4103, /* token past its expiry */
  TV_SIG_ERR_TOKEN_IN_USE    = 4104, /* token's party is already connected (third party) */
  TV_SIG_ERR_CONSULT_ENDED   = 4105, /* consult completed or cancelled: nobody may join */
  TV_SIG_ERR_JOIN_TIMEOUT    = 4106, /* no join within the server's join timeout */
  TV_SIG_ERR_NOT_AUTHENTICATED = 4107, /* join {consult} / admit {consult} without a successful auth */
  TV_SIG_ERR_NOT_A_DOCTOR    = 4108, /* auth: the session's user does not have the doctor role */
  TV_SIG_ERR_NOT_YOUR_CONSULT = 4109, /* the consult is not one of the authenticated doctor's */

  /* Ordering and pairing */
  TV_SIG_ERR_NOT_PAIRED      = 4200, /* offer/answer/candidate/media while the peer is absent */
  TV_SIG_ERR_OUT_OF_ORDER    = 4201, /* message not allowed in the current negotiation state */
  TV_SIG_ERR_NOT_ALLOWED     = 4202, /* the sender's role may not send this (e.g. patient "end") */
  TV_SIG_ERR_NOT_WAITING     = 4203, /* admit / send-back: no patient in that state (waiting / admitted) */
  TV_SIG_ERR_CHAT_TOO_FAST   = 4204, /* chat: more than TV_SIG_CHAT_RATE_MSGS in TV_SIG_CHAT_RATE_SECONDS */

  /* The server */
  TV_SIG_ERR_INTERNAL        = 5000, /* the store failed; nothing was changed */
  TV_SIG_ERR_SHUTTING_DOWN   = 5001, /* server is stopping; reconnect later */
} TvSigErrorCode;

/* tv_sig_error_name:
 * Returns: (transfer none) the stable upper-case name of @code ("BAD_JSON"),
 * or "UNKNOWN" for a code not in the list. Never NULL. */
const char *tv_sig_error_name (int code);

/* tv_sig_error_is_fatal:
 * Returns: TRUE when the server closes the connection after sending this error
 * (authentication failures, frame too large, rate limit, shutting down). */
gboolean tv_sig_error_is_fatal (int code);

G_END_DECLS
