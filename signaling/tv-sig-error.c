/* tv-sig-error.c — names and fatality of the consult protocol's error codes.
 *
 * Why: server and client must agree on what each number means and on which
 * errors close the connection; keeping that in one table (in step with
 * tv-sig-error.h and PROTOCOL.md) avoids two diverging switch statements.
 * Thread: pure functions over constant data, callable from any thread.
 */
#define G_LOG_DOMAIN "tv-sig"

#include "signaling/tv-sig-error.h"

G_DEFINE_QUARK (tv-sig-error-quark, tv_sig_error)

typedef struct {
  int code;
  const char *name;
  gboolean fatal; /* the server closes the connection after sending it */
} ErrorInfo;

/* Fatal: the connection cannot usefully continue — authentication failed
 * (the client must not stay connected without a valid join), the peer broke
 * the transport limits, or the server is going away. Everything else is a
 * mistake in one message and the session goes on. */
static const ErrorInfo error_table[] = {
  { TV_SIG_ERR_BAD_JSON,        "BAD_JSON",        FALSE },
  { TV_SIG_ERR_NOT_OBJECT,      "NOT_OBJECT",      FALSE },
  { TV_SIG_ERR_UNKNOWN_TYPE,    "UNKNOWN_TYPE",    FALSE },
  { TV_SIG_ERR_MISSING_FIELD,   "MISSING_FIELD",   FALSE },
  { TV_SIG_ERR_UNKNOWN_FIELD,   "UNKNOWN_FIELD",   FALSE },
  { TV_SIG_ERR_WRONG_TYPE,      "WRONG_TYPE",      FALSE },
  { TV_SIG_ERR_INVALID_VALUE,   "INVALID_VALUE",   FALSE },
  { TV_SIG_ERR_FRAME_TOO_LARGE, "FRAME_TOO_LARGE", TRUE },
  { TV_SIG_ERR_BINARY_FRAME,    "BINARY_FRAME",    FALSE },
  { TV_SIG_ERR_RATE_LIMITED,    "RATE_LIMITED",    TRUE },
  { TV_SIG_ERR_NOT_JOINED,      "NOT_JOINED",      FALSE },
  { TV_SIG_ERR_ALREADY_JOINED,  "ALREADY_JOINED",  FALSE },
  { TV_SIG_ERR_TOKEN_INVALID,   "TOKEN_INVALID",   TRUE },
  { TV_SIG_ERR_TOKEN_EXPIRED,   "TOKEN_EXPIRED",   TRUE },
  { TV_SIG_ERR_TOKEN_IN_USE,    "TOKEN_IN_USE",    TRUE },
  { TV_SIG_ERR_CONSULT_ENDED,   "CONSULT_ENDED",   TRUE },
  { TV_SIG_ERR_JOIN_TIMEOUT,    "JOIN_TIMEOUT",    TRUE },
  { TV_SIG_ERR_NOT_AUTHENTICATED, "NOT_AUTHENTICATED", FALSE },
  { TV_SIG_ERR_NOT_A_DOCTOR,    "NOT_A_DOCTOR",    TRUE },
  { TV_SIG_ERR_NOT_YOUR_CONSULT, "NOT_YOUR_CONSULT", FALSE },
  { TV_SIG_ERR_NOT_PAIRED,      "NOT_PAIRED",      FALSE },
  { TV_SIG_ERR_OUT_OF_ORDER,    "OUT_OF_ORDER",    FALSE },
  { TV_SIG_ERR_NOT_ALLOWED,     "NOT_ALLOWED",     FALSE },
  { TV_SIG_ERR_NOT_WAITING,     "NOT_WAITING",     FALSE },
  { TV_SIG_ERR_CHAT_TOO_FAST,   "CHAT_TOO_FAST",   FALSE },
  { TV_SIG_ERR_INTERNAL,        "INTERNAL",        FALSE },
  { TV_SIG_ERR_SHUTTING_DOWN,   "SHUTTING_DOWN",   TRUE },
};

static const ErrorInfo *
find_error (int code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (error_table); i++)
    if (error_table[i].code == code)
      return &error_table[i];
  return NULL;
}

const char *
tv_sig_error_name (int code)
{
  const ErrorInfo *info = find_error (code);
  return info ? info->name : "UNKNOWN";
}

gboolean
tv_sig_error_is_fatal (int code)
{
  const ErrorInfo *info = find_error (code);
  return info ? info->fatal : FALSE;
}
