/* tv-sig-message.c — parse, validate and serialise consult protocol messages.
 *
 * Why: every frame that reaches the server or a client comes from the network,
 * so it is checked against a declarative table per message type (field name,
 * JSON type, required or optional, length/range limits, allowed words, which
 * direction may send it) by one generic validator — in the manner of Janus's
 * parameter tables — instead of hand-written checks per message. The same
 * tables drive serialisation, so what we send always parses on the other side.
 * JSON itself is parsed by json-glib behind the strictness gate of
 * tv-sig-json.c, which refuses what json-glib 1.6 would silently accept.
 * Thread: callable from any thread (constant tables; tv_sig_msg_to_json reuses
 * one JSON builder and generator per thread).
 */
#define G_LOG_DOMAIN "tv-sig"

#include "signaling/tv-sig-message.h"
#include "signaling/tv-sig-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* Our messages are flat objects; anything nested is already the wrong type,
 * so a small depth limit costs nothing and bounds the parser's recursion. */
#define MAX_NESTING 16
#define MAX_ID_VALUE ((gint64) 1 << 53)
#define MAX_CONSULT_ID_BYTES 64
/* Error codes a peer may send us: the 40xx..59xx groups of tv-sig-error.h. */
#define MIN_ERROR_CODE 4000
#define MAX_ERROR_CODE 5999
/* Longest field name quoted back in an error message. */
#define MAX_LABEL_CHARS 40

/* ---- Roles and message types ------------------------------------------ */

const char *
tv_sig_role_to_string (TvSigRole role)
{
  switch (role)
    {
    case TV_SIG_ROLE_DOCTOR:
      return "doctor";
    case TV_SIG_ROLE_PATIENT:
      return "patient";
    case TV_SIG_ROLE_NONE:
    default:
      return "none";
    }
}

gboolean
tv_sig_role_from_string (const char *s, TvSigRole *role)
{
  g_return_val_if_fail (role != NULL, FALSE);

  if (s == NULL)
    return FALSE;
  if (strcmp (s, "doctor") == 0)
    *role = TV_SIG_ROLE_DOCTOR;
  else if (strcmp (s, "patient") == 0)
    *role = TV_SIG_ROLE_PATIENT;
  else
    return FALSE;
  return TRUE;
}

TvSigRole
tv_sig_role_peer (TvSigRole role)
{
  switch (role)
    {
    case TV_SIG_ROLE_DOCTOR:
      return TV_SIG_ROLE_PATIENT;
    case TV_SIG_ROLE_PATIENT:
      return TV_SIG_ROLE_DOCTOR;
    case TV_SIG_ROLE_NONE:
    default:
      return TV_SIG_ROLE_NONE;
    }
}

/* ---- The declarative tables --------------------------------------------- */

/* How a field is stored in TvSigMsg; also fixes its JSON type. */
typedef enum {
  FT_STR,         /* JSON string -> char * */
  FT_ROLE,        /* JSON string from role_choices -> TvSigRole */
  FT_MEDIA_STATE, /* JSON string from media_choices -> gboolean */
  FT_INT,         /* JSON integer -> gint */
  FT_INT64,       /* JSON integer -> gint64, -1 when absent */
  FT_BOOL,        /* JSON true/false -> gboolean */
  FT_ITEMS,       /* JSON array of objects checked against an ItemSpec -> GPtrArray of its structs */
  FT_STRV,        /* JSON array of strings (each checked as an FT_STR) -> NULL-terminated char ** */
} FieldTarget;

/* Extra checks on a string's content, after the length limits. */
typedef enum {
  SC_NONE,
  SC_TEXT,      /* no control characters (human-readable text) */
  SC_TOKEN,     /* base64url alphabet; any violation (length too) is TOKEN_INVALID */
  SC_SDP,       /* starts with "v=", no control characters except CR, LF, TAB */
  SC_CANDIDATE, /* "" or "candidate:...", no control characters */
  SC_ID,        /* identifier: [A-Za-z0-9_-] */
  SC_MSG_TYPE,  /* a known wire type name */
  SC_TIME,      /* RFC 3339 date and time with an offset (GDateTime parses it) */
  SC_DATE,      /* a calendar date YYYY-MM-DD */
  SC_ZONE,      /* an IANA time zone name GLib knows */
  SC_ICE_URL,   /* "stun:", "turn:" or "turns:" URL (RFC 7064/7065), no white space or controls */
  SC_CHAT,      /* chat text: no control characters except LF */
} StringCheck;

typedef struct {
  const char *name;
  int value;
} Choice;

typedef struct _ItemSpec ItemSpec;

typedef struct {
  const char *name;       /* JSON key */
  FieldTarget target;
  gboolean required;
  gsize min_len, max_len; /* strings (FT_STRV: each element), in bytes */
  gint64 min, max;        /* integers, inclusive; FT_ITEMS/FT_STRV: element count */
  StringCheck check;
  const Choice *choices;  /* strings: the allowed words ({NULL} terminated), or NULL for any */
  gsize offset;           /* where in TvSigMsg (in the item's struct for item fields) */
  const ItemSpec *item;   /* FT_ITEMS: what one element is */
} FieldSpec;

/* The elements of an FT_ITEMS array: objects with their own field table,
 * stored as zero-allocated structs of @size freed with @free. One mechanism
 * for every array of objects (dashboard consults, ICE servers). */
struct _ItemSpec {
  const FieldSpec *fields;
  gsize n_fields;
  gsize size;
  GDestroyNotify free;
};

enum {
  DIR_CLIENT = 1 << TV_SIG_FROM_CLIENT,
  DIR_SERVER = 1 << TV_SIG_FROM_SERVER,
};

typedef struct {
  const char *name;       /* wire "type" */
  guint dirs;             /* DIR_* that may send it */
  const FieldSpec *fields;
  gsize n_fields;
} MsgSpec;

static const Choice role_choices[] = {
  { "doctor", TV_SIG_ROLE_DOCTOR }, { "patient", TV_SIG_ROLE_PATIENT }, { NULL, 0 } };
static const Choice media_choices[] = {
  { "connected", TRUE }, { "disconnected", FALSE }, { NULL, 0 } };
static const Choice peer_left_reasons[] = {
  { "left", 0 }, { "dropped", 0 }, { NULL, 0 } };
static const Choice ended_reasons[] = {
  { "ended-by-doctor", 0 }, { "ended-by-admin", 0 }, { "both-left", 0 }, { NULL, 0 } };
static const Choice status_choices[] = {
  { "scheduled", 0 }, { "waiting", 0 }, { "in-progress", 0 }, { "completed", 0 },
  { "cancelled", 0 }, { "no-show", 0 }, { NULL, 0 } };

#define OFF(member) G_STRUCT_OFFSET (TvSigMsg, member)
#define F_STR(n, req, lo, hi, chk, member) \
  { n, FT_STR, req, lo, hi, 0, 0, chk, NULL, OFF (member) }
#define F_WORD(n, choices, member) \
  { n, FT_STR, TRUE, 1, TV_SIG_MAX_TEXT_BYTES, 0, 0, SC_NONE, choices, OFF (member) }
#define F_ROLE(n) \
  { n, FT_ROLE, TRUE, 1, 16, 0, 0, SC_NONE, role_choices, OFF (role) }
#define F_INT(n, ft, req, lo, hi, member) \
  { n, ft, req, 0, 0, lo, hi, SC_NONE, NULL, OFF (member) }
#define F_BOOL(n, member) \
  { n, FT_BOOL, TRUE, 0, 0, 0, 0, SC_NONE, NULL, OFF (member) }

/* Exactly one of the two (checked after the table, see check_join). */
static const FieldSpec join_fields[] = {
  F_STR ("token", FALSE, 16, TV_SIG_MAX_TOKEN_BYTES, SC_TOKEN, token),
  F_STR ("consult", FALSE, 1, MAX_CONSULT_ID_BYTES, SC_ID, consult_id),
};
static const FieldSpec auth_fields[] = {
  F_STR ("session", TRUE, 16, TV_SIG_MAX_TOKEN_BYTES, SC_TOKEN, token),
};
static const FieldSpec admit_fields[] = {
  F_STR ("consult", FALSE, 1, MAX_CONSULT_ID_BYTES, SC_ID, consult_id),
};
static const FieldSpec authed_fields[] = {
  F_STR ("user", TRUE, 1, MAX_CONSULT_ID_BYTES, SC_ID, user_id),
  F_STR ("name", TRUE, 1, TV_SIG_MAX_NAME_BYTES, SC_TEXT, name),
};
static const FieldSpec waiting_fields[] = {
  F_STR ("doctor", TRUE, 1, TV_SIG_MAX_NAME_BYTES, SC_TEXT, name),
  F_STR ("scheduled_start", TRUE, 1, 64, SC_TIME, scheduled_start),
  F_BOOL ("doctor_present", doctor_present),
};
#define IOFF(member) G_STRUCT_OFFSET (TvSigDashboardItem, member)
static const FieldSpec dashboard_item_fields[] = {
  { "id", FT_STR, TRUE, 1, MAX_CONSULT_ID_BYTES, 0, 0, SC_ID, NULL, IOFF (consult_id) },
  { "patient", FT_STR, TRUE, 1, TV_SIG_MAX_NAME_BYTES, 0, 0, SC_TEXT, NULL, IOFF (patient) },
  { "scheduled_start", FT_STR, TRUE, 1, 64, 0, 0, SC_TIME, NULL, IOFF (scheduled_start) },
  { "status", FT_STR, TRUE, 1, 16, 0, 0, SC_NONE, status_choices, IOFF (status) },
  { "waiting_since", FT_STR, FALSE, 1, 64, 0, 0, SC_TIME, NULL, IOFF (waiting_since) },
  { "patient_present", FT_BOOL, TRUE, 0, 0, 0, 0, SC_NONE, NULL, IOFF (patient_present) },
};
static const ItemSpec dashboard_item_spec = {
  dashboard_item_fields, G_N_ELEMENTS (dashboard_item_fields), sizeof (TvSigDashboardItem),
  (GDestroyNotify) tv_sig_dashboard_item_free,
};
static const FieldSpec dashboard_fields[] = {
  F_STR ("date", TRUE, 10, 10, SC_DATE, date),
  F_STR ("time_zone", TRUE, 1, 64, SC_ZONE, time_zone),
  { "consults", FT_ITEMS, TRUE, 0, 0, 0, TV_SIG_MAX_DASHBOARD_ITEMS, SC_NONE, NULL, OFF (items),
    &dashboard_item_spec },
};
#define EOFF(member) G_STRUCT_OFFSET (TvSigIceServer, member)
static const FieldSpec ice_server_fields[] = {
  { "urls", FT_STRV, TRUE, 1, TV_SIG_MAX_ICE_URL_BYTES, 1, TV_SIG_MAX_ICE_URLS, SC_ICE_URL, NULL, EOFF (urls) },
  { "username", FT_STR, FALSE, 1, TV_SIG_MAX_ICE_CRED_BYTES, 0, 0, SC_TEXT, NULL, EOFF (username) },
  { "credential", FT_STR, FALSE, 1, TV_SIG_MAX_ICE_CRED_BYTES, 0, 0, SC_TEXT, NULL, EOFF (credential) },
};
static const ItemSpec ice_server_spec = {
  ice_server_fields, G_N_ELEMENTS (ice_server_fields), sizeof (TvSigIceServer),
  (GDestroyNotify) tv_sig_ice_server_free,
};
static const FieldSpec media_fields[] = {
  { "state", FT_MEDIA_STATE, TRUE, 1, 16, 0, 0, SC_NONE, media_choices, OFF (media_up) },
};
static const FieldSpec ping_fields[] = {
  F_INT ("id", FT_INT64, FALSE, 0, MAX_ID_VALUE, id),
};
static const FieldSpec sdp_fields[] = {
  F_STR ("sdp", TRUE, 1, TV_SIG_MAX_SDP_BYTES, SC_SDP, sdp),
};
static const FieldSpec candidate_fields[] = {
  F_STR ("candidate", TRUE, 0, TV_SIG_MAX_CANDIDATE_BYTES, SC_CANDIDATE, candidate),
  F_INT ("sdpMLineIndex", FT_INT, TRUE, 0, TV_SIG_MAX_MLINE_INDEX, mline_index),
};
static const FieldSpec joined_fields[] = {
  F_STR ("consult", TRUE, 1, MAX_CONSULT_ID_BYTES, SC_ID, consult_id),
  F_ROLE ("role"),
  F_BOOL ("peer_present", peer_present),
  { "ice_servers", FT_ITEMS, FALSE, 0, 0, 1, TV_SIG_MAX_ICE_SERVERS, SC_NONE, NULL, OFF (ice_servers),
    &ice_server_spec },
};
static const FieldSpec peer_joined_fields[] = {
  F_ROLE ("role"),
};
static const FieldSpec peer_left_fields[] = {
  F_ROLE ("role"),
  F_WORD ("reason", peer_left_reasons, reason),
};
static const FieldSpec paired_fields[] = {
  F_ROLE ("role"),
  F_BOOL ("offerer", offerer),
};
static const FieldSpec ended_fields[] = {
  F_WORD ("reason", ended_reasons, reason),
};
static const Choice modality_choices[] = {
  { "audio-video", 0 }, { "audio-only", 0 }, { NULL, 0 } };
static const Choice location_choices[] = {
  { "home", 0 }, { "other", 0 }, { NULL, 0 } };
static const Choice patient_status_choices[] = {
  { "new", 0 }, { "established", 0 }, { NULL, 0 } };
#define F_OPT_WORD(n, req, choices, member) \
  { n, FT_STR, req, 1, TV_SIG_MAX_TEXT_BYTES, 0, 0, SC_NONE, choices, OFF (member) }
/* At least one (checked after the table); the reason goes with "audio-only". */
static const FieldSpec facts_fields[] = {
  F_OPT_WORD ("modality", FALSE, modality_choices, modality),
  F_STR ("audio_only_reason", FALSE, 1, TV_SIG_MAX_FACT_REASON_BYTES, SC_TEXT, audio_only_reason),
  F_OPT_WORD ("patient_location", FALSE, location_choices, patient_location),
  F_OPT_WORD ("patient_status", FALSE, patient_status_choices, patient_status),
};
static const FieldSpec facts_saved_fields[] = {
  F_OPT_WORD ("modality", TRUE, modality_choices, modality),
  F_STR ("audio_only_reason", FALSE, 1, TV_SIG_MAX_FACT_REASON_BYTES, SC_TEXT, audio_only_reason),
  F_OPT_WORD ("patient_location", TRUE, location_choices, patient_location),
  F_OPT_WORD ("patient_status", TRUE, patient_status_choices, patient_status),
};
static const FieldSpec chat_fields[] = {
  F_STR ("text", TRUE, 1, TV_SIG_MAX_CHAT_BYTES, SC_CHAT, text),
};
static const FieldSpec chat_message_fields[] = {
  F_INT ("id", FT_INT64, TRUE, 1, MAX_ID_VALUE, id),
  F_STR ("at", TRUE, 1, 64, SC_TIME, at),
  F_ROLE ("from"),
  F_STR ("text", TRUE, 1, TV_SIG_MAX_CHAT_BYTES, SC_CHAT, text),
};
static const FieldSpec error_fields[] = {
  F_INT ("code", FT_INT, TRUE, MIN_ERROR_CODE, MAX_ERROR_CODE, code),
  F_STR ("message", TRUE, 1, TV_SIG_MAX_TEXT_BYTES, SC_TEXT, message),
  F_STR ("ref", FALSE, 1, 32, SC_MSG_TYPE, ref),
};

#define FIELDS(a) a, G_N_ELEMENTS (a)
#define NO_FIELDS NULL, 0

/* Indexed by TvSigMsgType. */
static const MsgSpec msg_specs[TV_SIG_MSG_N_TYPES] = {
  [TV_SIG_MSG_INVALID]     = { NULL, 0, NO_FIELDS },
  [TV_SIG_MSG_JOIN]        = { "join", DIR_CLIENT, FIELDS (join_fields) },
  [TV_SIG_MSG_MEDIA]       = { "media", DIR_CLIENT, FIELDS (media_fields) },
  [TV_SIG_MSG_LEAVE]       = { "leave", DIR_CLIENT, NO_FIELDS },
  [TV_SIG_MSG_END]         = { "end", DIR_CLIENT, NO_FIELDS },
  [TV_SIG_MSG_PING]        = { "ping", DIR_CLIENT, FIELDS (ping_fields) },
  [TV_SIG_MSG_OFFER]       = { "offer", DIR_CLIENT | DIR_SERVER, FIELDS (sdp_fields) },
  [TV_SIG_MSG_ANSWER]      = { "answer", DIR_CLIENT | DIR_SERVER, FIELDS (sdp_fields) },
  [TV_SIG_MSG_CANDIDATE]   = { "candidate", DIR_CLIENT | DIR_SERVER, FIELDS (candidate_fields) },
  [TV_SIG_MSG_JOINED]      = { "joined", DIR_SERVER, FIELDS (joined_fields) },
  [TV_SIG_MSG_PEER_JOINED] = { "peer-joined", DIR_SERVER, FIELDS (peer_joined_fields) },
  [TV_SIG_MSG_PEER_LEFT]   = { "peer-left", DIR_SERVER, FIELDS (peer_left_fields) },
  [TV_SIG_MSG_PAIRED]      = { "paired", DIR_SERVER, FIELDS (paired_fields) },
  [TV_SIG_MSG_ENDED]       = { "ended", DIR_SERVER, FIELDS (ended_fields) },
  [TV_SIG_MSG_PONG]        = { "pong", DIR_SERVER, FIELDS (ping_fields) },
  [TV_SIG_MSG_ERROR]       = { "error", DIR_SERVER, FIELDS (error_fields) },
  [TV_SIG_MSG_AUTH]        = { "auth", DIR_CLIENT, FIELDS (auth_fields) },
  [TV_SIG_MSG_ADMIT]       = { "admit", DIR_CLIENT, FIELDS (admit_fields) },
  [TV_SIG_MSG_SEND_BACK]   = { "send-back", DIR_CLIENT, NO_FIELDS },
  [TV_SIG_MSG_AUTHED]      = { "authed", DIR_SERVER, FIELDS (authed_fields) },
  [TV_SIG_MSG_WAITING]     = { "waiting", DIR_SERVER, FIELDS (waiting_fields) },
  [TV_SIG_MSG_DOCTOR_READY] = { "doctor-ready", DIR_SERVER, NO_FIELDS },
  [TV_SIG_MSG_DASHBOARD]   = { "dashboard", DIR_SERVER, FIELDS (dashboard_fields) },
  [TV_SIG_MSG_RESTART]     = { "restart", DIR_CLIENT, NO_FIELDS },
  [TV_SIG_MSG_MEDIA_RESTART] = { "media-restart", DIR_SERVER, FIELDS (peer_joined_fields) },
  [TV_SIG_MSG_FACTS]       = { "facts", DIR_CLIENT, FIELDS (facts_fields) },
  [TV_SIG_MSG_FACTS_SAVED] = { "facts-saved", DIR_SERVER, FIELDS (facts_saved_fields) },
  [TV_SIG_MSG_CHAT]        = { "chat", DIR_CLIENT, FIELDS (chat_fields) },
  [TV_SIG_MSG_CHAT_MESSAGE] = { "chat-message", DIR_SERVER, FIELDS (chat_message_fields) },
};

const char *
tv_sig_msg_type_to_string (TvSigMsgType type)
{
  if (type <= TV_SIG_MSG_INVALID || type >= TV_SIG_MSG_N_TYPES)
    return NULL;
  return msg_specs[type].name;
}

TvSigMsgType
tv_sig_msg_type_from_string (const char *name)
{
  if (name == NULL)
    return TV_SIG_MSG_INVALID;
  for (int t = TV_SIG_MSG_INVALID + 1; t < TV_SIG_MSG_N_TYPES; t++)
    if (strcmp (msg_specs[t].name, name) == 0)
      return (TvSigMsgType) t;
  return TV_SIG_MSG_INVALID;
}

/* ---- ICE server URLs ------------------------------------------------------ */

gboolean
tv_sig_ice_url_parse (const char *url, char **scheme, char **host, guint16 *port, char **transport)
{
  static const char *const schemes[] = { "stun", "turn", "turns" };
  const char *colon, *query, *found = NULL;
  g_autofree char *authority = NULL, *as_uri = NULL;
  g_autoptr (GUri) uri = NULL;
  const char *transport_value = NULL;
  int p;

  if (url == NULL || (colon = strchr (url, ':')) == NULL)
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (schemes); i++)
    if ((gsize) (colon - url) == strlen (schemes[i]) && strncmp (url, schemes[i], colon - url) == 0)
      found = schemes[i];
  if (found == NULL || colon[1] == '\0' || colon[1] == '/' || strpbrk (url, " @#\\") != NULL)
    return FALSE;
  /* These URLs have no "//": give GUri the part after the scheme as an
   * authority so that it splits host and port (and brackets IPv6). */
  query = strchr (colon + 1, '?');
  authority = query ? g_strndup (colon + 1, query - colon - 1) : g_strdup (colon + 1);
  as_uri = g_strconcat ("x://", authority, NULL);
  uri = g_uri_parse (as_uri, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' || g_uri_get_userinfo (uri) != NULL
      || *g_uri_get_path (uri) != '\0' || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    return FALSE;
  if (query != NULL)
    {
      /* The only parameter RFC 7065 defines. */
      if (strcmp (found, "stun") == 0)
        return FALSE;
      if (strcmp (query, "?transport=udp") == 0)
        transport_value = "udp";
      else if (strcmp (query, "?transport=tcp") == 0)
        transport_value = "tcp";
      else
        return FALSE;
    }
  p = g_uri_get_port (uri);
  if (p == 0 || p > 65535)
    return FALSE;
  if (p < 0)
    p = strcmp (found, "turns") == 0 ? 5349 : 3478;
  if (scheme != NULL)
    *scheme = g_strdup (found);
  if (host != NULL)
    *host = g_strdup (g_uri_get_host (uri));
  if (port != NULL)
    *port = (guint16) p;
  if (transport != NULL)
    *transport = g_strdup (transport_value);
  return TRUE;
}

/* ---- Message objects ---------------------------------------------------- */

TvSigMsg *
tv_sig_msg_new (TvSigMsgType type)
{
  TvSigMsg *msg = g_new0 (TvSigMsg, 1);
  msg->type = type;
  msg->id = -1;
  return msg;
}

TvSigDashboardItem *
tv_sig_dashboard_item_new (void)
{
  return g_new0 (TvSigDashboardItem, 1);
}

void
tv_sig_dashboard_item_free (TvSigDashboardItem *item)
{
  if (item == NULL)
    return;
  g_free (item->consult_id);
  g_free (item->patient);
  g_free (item->scheduled_start);
  g_free (item->status);
  g_free (item->waiting_since);
  g_free (item);
}

TvSigIceServer *
tv_sig_ice_server_new (void)
{
  return g_new0 (TvSigIceServer, 1);
}

void
tv_sig_ice_server_free (TvSigIceServer *server)
{
  if (server == NULL)
    return;
  g_strfreev (server->urls);
  g_free (server->username);
  g_free (server->credential);
  g_free (server);
}

void
tv_sig_msg_free (TvSigMsg *msg)
{
  if (msg == NULL)
    return;
  g_free (msg->name);
  g_free (msg->user_id);
  g_free (msg->scheduled_start);
  g_free (msg->date);
  g_free (msg->time_zone);
  if (msg->items != NULL)
    g_ptr_array_unref (msg->items);
  if (msg->ice_servers != NULL)
    g_ptr_array_unref (msg->ice_servers);
  g_free (msg->token);
  g_free (msg->sdp);
  g_free (msg->candidate);
  g_free (msg->consult_id);
  g_free (msg->reason);
  g_free (msg->message);
  g_free (msg->ref);
  g_free (msg->modality);
  g_free (msg->audio_only_reason);
  g_free (msg->patient_location);
  g_free (msg->patient_status);
  g_free (msg->text);
  g_free (msg->at);
  g_free (msg);
}

/* ---- Validation helpers ------------------------------------------------- */

static char *
label_for (const char *name, gssize len)
{
  return tv_sig_json_printable (name, len, MAX_LABEL_CHARS);
}

static gboolean
fail (GError **error, TvSigErrorCode code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, TvSigErrorCode code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, TV_SIG_ERROR, code, text);
  return FALSE;
}

static gboolean
is_base64url (guchar c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_';
}

static gboolean
has_control (const char *s, const char *allowed)
{
  for (const guchar *p = (const guchar *) s; *p; p++)
    if ((*p < 0x20 || *p == 0x7f) && (allowed == NULL || strchr (allowed, *p) == NULL))
      return TRUE;
  return FALSE;
}

/* Checks one string value against its spec (length, content, choices).
 * Returns: FALSE with the code and a message naming the field. */
static gboolean
check_string (const FieldSpec *f, const char *s, int *choice_value, GError **error)
{
  gsize n = strlen (s);
  TvSigErrorCode bad = f->check == SC_TOKEN ? TV_SIG_ERR_TOKEN_INVALID : TV_SIG_ERR_INVALID_VALUE;

  if (!g_utf8_validate (s, -1, NULL))
    return fail (error, bad, "field \"%s\": not valid UTF-8", f->name);
  if (n < f->min_len)
    return fail (error, bad, n == 0 ? "field \"%s\": must not be empty"
                                    : "field \"%s\": too short", f->name);
  if (n > f->max_len)
    return fail (error, bad, "field \"%s\": longer than %" G_GSIZE_FORMAT " bytes",
                 f->name, f->max_len);

  switch (f->check)
    {
    case SC_NONE:
      break;
    case SC_TEXT:
      if (has_control (s, NULL))
        return fail (error, bad, "field \"%s\": control characters not allowed", f->name);
      break;
    case SC_CHAT:
      if (has_control (s, "\n"))
        return fail (error, bad, "field \"%s\": control characters other than newline not allowed", f->name);
      break;
    case SC_TOKEN:
    case SC_ID:
      for (const char *p = s; *p; p++)
        if (!is_base64url ((guchar) *p))
          return fail (error, bad, "field \"%s\": only A-Z a-z 0-9 - _ allowed", f->name);
      break;
    case SC_SDP:
      if (!g_str_has_prefix (s, "v="))
        return fail (error, bad, "field \"%s\": does not start with \"v=\"", f->name);
      if (has_control (s, "\r\n\t"))
        return fail (error, bad, "field \"%s\": control characters not allowed", f->name);
      break;
    case SC_CANDIDATE:
      if (n > 0 && !g_str_has_prefix (s, "candidate:"))
        return fail (error, bad, "field \"%s\": does not start with \"candidate:\"", f->name);
      if (has_control (s, NULL))
        return fail (error, bad, "field \"%s\": control characters not allowed", f->name);
      break;
    case SC_MSG_TYPE:
      if (tv_sig_msg_type_from_string (s) == TV_SIG_MSG_INVALID)
        return fail (error, bad, "field \"%s\": not a message type", f->name);
      break;
    case SC_TIME:
      {
        /* No default zone: a time without an offset is refused. */
        g_autoptr (GDateTime) t = has_control (s, NULL) ? NULL : g_date_time_new_from_iso8601 (s, NULL);
        if (t == NULL)
          return fail (error, bad, "field \"%s\": not an RFC 3339 time with offset", f->name);
        break;
      }
    case SC_DATE:
      {
        g_autofree char *midnight = g_strconcat (s, "T00:00:00Z", NULL);
        g_autoptr (GDateTime) t = NULL;
        if (n == 10 && s[4] == '-' && s[7] == '-' && !has_control (s, NULL))
          t = g_date_time_new_from_iso8601 (midnight, NULL);
        if (t == NULL)
          return fail (error, bad, "field \"%s\": not a date YYYY-MM-DD", f->name);
        break;
      }
    case SC_ZONE:
      {
        g_autoptr (GTimeZone) tz = has_control (s, NULL) ? NULL : g_time_zone_new_identifier (s);
        if (tz == NULL)
          return fail (error, bad, "field \"%s\": not a known time zone", f->name);
        break;
      }
    case SC_ICE_URL:
      {
        if (has_control (s, NULL) || !tv_sig_ice_url_parse (s, NULL, NULL, NULL, NULL))
          return fail (error, bad, "field \"%s\": not a stun:, turn: or turns: URL", f->name);
        break;
      }
    }

  if (f->choices != NULL)
    {
      for (const Choice *c = f->choices; c->name; c++)
        if (strcmp (c->name, s) == 0)
          {
            *choice_value = c->value;
            return TRUE;
          }
      return fail (error, bad, "field \"%s\": value not allowed", f->name);
    }
  return TRUE;
}

static const char *
json_kind_name (FieldTarget t)
{
  switch (t)
    {
    case FT_INT:
    case FT_INT64:
      return "an integer";
    case FT_BOOL:
      return "a boolean";
    case FT_ITEMS:
      return "an array of objects";
    case FT_STRV:
      return "an array of strings";
    case FT_STR:
    case FT_ROLE:
    case FT_MEDIA_STATE:
    default:
      return "a string";
    }
}

static GType
json_kind_gtype (FieldTarget t)
{
  switch (t)
    {
    case FT_INT:
    case FT_INT64:
      return G_TYPE_INT64;
    case FT_BOOL:
      return G_TYPE_BOOLEAN;
    case FT_STR:
    case FT_ROLE:
    case FT_MEDIA_STATE:
    default:
      return G_TYPE_STRING;
    }
}

static gboolean read_object (const FieldSpec *fields, gsize n_fields, const char *what, JsonObject *obj,
                             gboolean is_message, guint8 *base, GError **error);

/* The array of an FT_ITEMS or FT_STRV member, with its element count
 * checked against f->min..f->max. Returns: NULL with the error. */
static JsonArray *
read_array (const FieldSpec *f, JsonNode *node, GError **error)
{
  JsonArray *array;
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      fail (error, TV_SIG_ERR_WRONG_TYPE, "field \"%s\": must be %s", f->name, json_kind_name (f->target));
      return NULL;
    }
  array = json_node_get_array (node);
  n = json_array_get_length (array);
  if ((gint64) n > f->max)
    {
      fail (error, TV_SIG_ERR_INVALID_VALUE, "field \"%s\": more than %" G_GINT64_FORMAT " elements",
            f->name, f->max);
      return NULL;
    }
  if ((gint64) n < f->min)
    {
      fail (error, TV_SIG_ERR_INVALID_VALUE, "field \"%s\": fewer than %" G_GINT64_FORMAT " elements",
            f->name, f->min);
      return NULL;
    }
  return array;
}

/* An FT_STRV member: an array of strings, each checked like an FT_STR
 * field of the same spec. Errors name the element ("urls[1]"). */
static gboolean
read_strv (const FieldSpec *f, JsonNode *node, guint8 *base, GError **error)
{
  JsonArray *array = read_array (f, node, error);
  g_autoptr (GStrvBuilder) builder = NULL;
  int unused = 0;

  if (array == NULL)
    return FALSE;
  builder = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *el = json_array_get_element (array, i);
      if (!JSON_NODE_HOLDS_VALUE (el) || json_node_get_value_type (el) != G_TYPE_STRING)
        return fail (error, TV_SIG_ERR_WRONG_TYPE, "field \"%s[%u]\": must be a string", f->name, i);
      if (!check_string (f, json_node_get_string (el), &unused, error))
        {
          g_prefix_error (error, "%s[%u]: ", f->name, i);
          return FALSE;
        }
      g_strv_builder_add (builder, json_node_get_string (el));
    }
  G_STRUCT_MEMBER (char **, base, f->offset) = g_strv_builder_end (builder);
  return TRUE;
}

/* An FT_ITEMS member: an array (f->min..f->max elements) of objects checked
 * against f->item's table. Errors name the element ("consults[2]: ..."). */
static gboolean
read_items (const FieldSpec *f, JsonNode *node, guint8 *base, GError **error)
{
  g_autoptr (GPtrArray) items = NULL;
  JsonArray *array = read_array (f, node, error);
  guint n;

  if (array == NULL)
    return FALSE;
  n = json_array_get_length (array);
  items = g_ptr_array_new_full (n, f->item->free);
  for (guint i = 0; i < n; i++)
    {
      JsonNode *el = json_array_get_element (array, i);
      gpointer item;
      if (!JSON_NODE_HOLDS_OBJECT (el))
        return fail (error, TV_SIG_ERR_WRONG_TYPE, "field \"%s[%u]\": must be an object", f->name, i);
      item = g_malloc0 (f->item->size);
      g_ptr_array_add (items, item);
      if (!read_object (f->item->fields, f->item->n_fields, f->name,
                        json_node_get_object (el), FALSE, (guint8 *) item, error))
        {
          g_prefix_error (error, "%s[%u]: ", f->name, i);
          return FALSE;
        }
    }
  G_STRUCT_MEMBER (GPtrArray *, base, f->offset) = g_steal_pointer (&items);
  return TRUE;
}

/* Validates one present member against @f and stores it at @base (a TvSigMsg,
 * or a TvSigDashboardItem for item fields). */
static gboolean
read_field (const FieldSpec *f, JsonNode *node, guint8 *base, GError **error)
{
  int choice = 0;

  if (f->target == FT_ITEMS)
    return read_items (f, node, base, error);
  if (f->target == FT_STRV)
    return read_strv (f, node, base, error);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != json_kind_gtype (f->target))
    return fail (error, TV_SIG_ERR_WRONG_TYPE, "field \"%s\": must be %s",
                 f->name, json_kind_name (f->target));

  switch (f->target)
    {
    case FT_STR:
    case FT_ROLE:
    case FT_MEDIA_STATE:
      {
        const char *s = json_node_get_string (node);
        if (!check_string (f, s, &choice, error))
          return FALSE;
        if (f->target == FT_STR)
          G_STRUCT_MEMBER (char *, base, f->offset) = g_strdup (s);
        else if (f->target == FT_ROLE)
          G_STRUCT_MEMBER (TvSigRole, base, f->offset) = (TvSigRole) choice;
        else
          G_STRUCT_MEMBER (gboolean, base, f->offset) = choice;
        return TRUE;
      }
    case FT_INT:
    case FT_INT64:
      {
        gint64 v = json_node_get_int (node);
        if (v < f->min || v > f->max)
          return fail (error, TV_SIG_ERR_INVALID_VALUE,
                       "field \"%s\": must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                       f->name, f->min, f->max);
        if (f->target == FT_INT)
          G_STRUCT_MEMBER (gint, base, f->offset) = (gint) v;
        else
          G_STRUCT_MEMBER (gint64, base, f->offset) = v;
        return TRUE;
      }
    case FT_BOOL:
      G_STRUCT_MEMBER (gboolean, base, f->offset) = json_node_get_boolean (node);
      return TRUE;
    case FT_ITEMS:
    case FT_STRV:
      break;
    }
  return FALSE;
}

static const FieldSpec *
find_field (const FieldSpec *fields, gsize n_fields, const char *name)
{
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].name, name) == 0)
      return &fields[i];
  return NULL;
}

/* Checks @obj against a field table and stores the values at @base: unknown
 * members first (document order; a message's "type" was read by the caller),
 * then each field in table order (presence, type, value). */
static gboolean
read_object (const FieldSpec *fields, gsize n_fields, const char *what, JsonObject *obj, gboolean is_message,
             guint8 *base, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (obj);

  /* Unknown fields are refused, never carried along. */
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      if (find_field (fields, n_fields, name) == NULL && !(is_message && strcmp (name, "type") == 0))
        {
          g_autofree char *label = label_for (name, -1);
          return fail (error, TV_SIG_ERR_UNKNOWN_FIELD, "field \"%s\": not part of \"%s\"", label, what);
        }
    }
  for (gsize i = 0; i < n_fields; i++)
    {
      const FieldSpec *f = &fields[i];
      JsonNode *node = json_object_get_member (obj, f->name);

      if (node == NULL)
        {
          if (f->required)
            return fail (error, TV_SIG_ERR_MISSING_FIELD, "field \"%s\": required", f->name);
          continue;
        }
      if (!read_field (f, node, base, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- Parsing ------------------------------------------------------------ */

TvSigMsg *
tv_sig_msg_parse (const char *data, gsize len, TvSigDirection dir,
                  TvSigMsgType *ref_type, GError **error)
{
  g_autoptr (TvSigMsg) msg = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonNode *type_node;
  JsonObject *obj;
  const MsgSpec *spec;
  TvSigMsgType type;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (dir == TV_SIG_FROM_CLIENT || dir == TV_SIG_FROM_SERVER, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (ref_type != NULL)
    *ref_type = TV_SIG_MSG_INVALID;

  if (len > TV_SIG_MAX_FRAME_BYTES)
    {
      fail (error, TV_SIG_ERR_FRAME_TOO_LARGE, "frame of %" G_GSIZE_FORMAT " bytes exceeds %d",
            len, TV_SIG_MAX_FRAME_BYTES);
      return NULL;
    }
  /* Also refuses NUL bytes, which g_utf8_validate treats as invalid. */
  if (len == 0 || !g_utf8_validate (data, len, NULL))
    {
      fail (error, TV_SIG_ERR_BAD_JSON, len == 0 ? "empty frame" : "frame is not valid UTF-8");
      return NULL;
    }
  root = tv_sig_json_parse_strict (data, len, MAX_NESTING, error);
  if (root == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      fail (error, TV_SIG_ERR_NOT_OBJECT, "the frame is not a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);

  type_node = json_object_get_member (obj, "type");
  if (type_node == NULL)
    {
      fail (error, TV_SIG_ERR_MISSING_FIELD, "field \"type\": required");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (type_node) || json_node_get_value_type (type_node) != G_TYPE_STRING)
    {
      fail (error, TV_SIG_ERR_WRONG_TYPE, "field \"type\": must be a string");
      return NULL;
    }
  type = tv_sig_msg_type_from_string (json_node_get_string (type_node));
  if (type == TV_SIG_MSG_INVALID)
    {
      g_autofree char *label = label_for (json_node_get_string (type_node), -1);
      fail (error, TV_SIG_ERR_UNKNOWN_TYPE, "field \"type\": unknown message type \"%s\"", label);
      return NULL;
    }
  if (ref_type != NULL)
    *ref_type = type;
  spec = &msg_specs[type];
  if ((spec->dirs & (1u << dir)) == 0)
    {
      fail (error, TV_SIG_ERR_UNKNOWN_TYPE, "field \"type\": \"%s\" is not sent by the %s",
            spec->name, dir == TV_SIG_FROM_CLIENT ? "client" : "server");
      return NULL;
    }

  msg = tv_sig_msg_new (type);
  if (!read_object (spec->fields, spec->n_fields, spec->name, obj, TRUE, (guint8 *) msg, error))
    return NULL;
  /* "join" names its consult one way: a join token, or (authenticated) its id. */
  if (type == TV_SIG_MSG_JOIN && (msg->token == NULL) == (msg->consult_id == NULL))
    {
      if (msg->token == NULL)
        fail (error, TV_SIG_ERR_MISSING_FIELD, "field \"token\": required (or \"consult\")");
      else
        fail (error, TV_SIG_ERR_INVALID_VALUE, "fields \"token\" and \"consult\": give only one");
      return NULL;
    }

  /* "facts" changes something, and a reason only explains audio-only. */
  if (type == TV_SIG_MSG_FACTS)
    {
      if (msg->modality == NULL && msg->audio_only_reason == NULL && msg->patient_location == NULL
          && msg->patient_status == NULL)
        {
          fail (error, TV_SIG_ERR_MISSING_FIELD,
                "field \"modality\": required (or \"patient_location\" or \"patient_status\")");
          return NULL;
        }
      if ((msg->audio_only_reason != NULL) != (g_strcmp0 (msg->modality, "audio-only") == 0))
        {
          fail (error, msg->audio_only_reason == NULL ? TV_SIG_ERR_MISSING_FIELD : TV_SIG_ERR_INVALID_VALUE,
                msg->audio_only_reason == NULL ? "field \"audio_only_reason\": required with \"audio-only\""
                                               : "field \"audio_only_reason\": only with modality \"audio-only\"");
          return NULL;
        }
    }

  return g_steal_pointer (&msg);
}

/* ---- Serialisation ------------------------------------------------------ */

/* Adds the members of one object (without "type") from @base. */
static void
write_fields (JsonBuilder *builder, const FieldSpec *fields, gsize n_fields, const guint8 *base)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      const FieldSpec *f = &fields[i];

      switch (f->target)
        {
        case FT_STR:
          {
            const char *s = G_STRUCT_MEMBER (const char *, base, f->offset);
            /* Absent optional strings are left out; a missing required one is
             * the caller's bug, sent as "" so the output stays well-formed. */
            if (s == NULL && !f->required)
              continue;
            json_builder_set_member_name (builder, f->name);
            json_builder_add_string_value (builder, s ? s : "");
            break;
          }
        case FT_ROLE:
          json_builder_set_member_name (builder, f->name);
          json_builder_add_string_value (builder,
              tv_sig_role_to_string (G_STRUCT_MEMBER (TvSigRole, base, f->offset)));
          break;
        case FT_MEDIA_STATE:
          json_builder_set_member_name (builder, f->name);
          json_builder_add_string_value (builder,
              G_STRUCT_MEMBER (gboolean, base, f->offset) ? "connected" : "disconnected");
          break;
        case FT_INT:
          json_builder_set_member_name (builder, f->name);
          json_builder_add_int_value (builder, G_STRUCT_MEMBER (gint, base, f->offset));
          break;
        case FT_INT64:
          {
            gint64 v = G_STRUCT_MEMBER (gint64, base, f->offset);
            if (v < 0 && !f->required)
              continue;
            json_builder_set_member_name (builder, f->name);
            json_builder_add_int_value (builder, v);
            break;
          }
        case FT_BOOL:
          json_builder_set_member_name (builder, f->name);
          json_builder_add_boolean_value (builder, G_STRUCT_MEMBER (gboolean, base, f->offset) != FALSE);
          break;
        case FT_ITEMS:
          {
            GPtrArray *items = G_STRUCT_MEMBER (GPtrArray *, base, f->offset);
            /* An optional array is left out when it has no elements. */
            if (!f->required && (items == NULL || items->len == 0))
              continue;
            json_builder_set_member_name (builder, f->name);
            json_builder_begin_array (builder);
            for (guint k = 0; items != NULL && k < items->len && (gint64) k < f->max; k++)
              {
                json_builder_begin_object (builder);
                write_fields (builder, f->item->fields, f->item->n_fields, g_ptr_array_index (items, k));
                json_builder_end_object (builder);
              }
            json_builder_end_array (builder);
            break;
          }
        case FT_STRV:
          {
            char **strv = G_STRUCT_MEMBER (char **, base, f->offset);
            if (!f->required && (strv == NULL || strv[0] == NULL))
              continue;
            json_builder_set_member_name (builder, f->name);
            json_builder_begin_array (builder);
            for (guint k = 0; strv != NULL && strv[k] != NULL && (gint64) k < f->max; k++)
              json_builder_add_string_value (builder, strv[k]);
            json_builder_end_array (builder);
            break;
          }
        }
    }
}

/* One builder and one generator per thread, reused: creating both GObjects for
 * every message was ~0.7 us of the ~1.5 us a pong took (docs/BENCHMARKS.md,
 * "Signaling load: a cheaper load client"). Both are emptied after each use, so
 * they hold nothing of the last message between calls. */
typedef struct
{
  JsonBuilder *builder;
  JsonGenerator *gen;
} ThreadWriter;

static void
thread_writer_free (gpointer p)
{
  ThreadWriter *w = p;
  g_object_unref (w->builder);
  g_object_unref (w->gen);
  g_free (w);
}

static GPrivate thread_writer = G_PRIVATE_INIT (thread_writer_free);

char *
tv_sig_msg_to_json (const TvSigMsg *msg)
{
  g_autoptr (JsonNode) root = NULL;
  const MsgSpec *spec;
  ThreadWriter *w;
  char *text;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (msg->type > TV_SIG_MSG_INVALID && msg->type < TV_SIG_MSG_N_TYPES, NULL);

  w = g_private_get (&thread_writer);
  if (w == NULL)
    {
      w = g_new (ThreadWriter, 1);
      w->builder = json_builder_new_immutable ();
      w->gen = json_generator_new ();
      g_private_set (&thread_writer, w);
    }
  spec = &msg_specs[msg->type];
  json_builder_begin_object (w->builder);
  json_builder_set_member_name (w->builder, "type");
  json_builder_add_string_value (w->builder, spec->name);
  write_fields (w->builder, spec->fields, spec->n_fields, (const guint8 *) msg);
  json_builder_end_object (w->builder);

  root = json_builder_get_root (w->builder);
  json_builder_reset (w->builder);
  json_generator_set_root (w->gen, root);
  text = json_generator_to_data (w->gen, NULL);
  json_generator_set_root (w->gen, NULL);
  return text;
}

/* ---- Convenience builders ----------------------------------------------- */

/* Serialises and frees @msg. */
static char *
finish (TvSigMsg *msg)
{
  char *json = tv_sig_msg_to_json (msg);
  tv_sig_msg_free (msg);
  return json;
}

char *
tv_sig_build_error (int code, const char *message, TvSigMsgType ref)
{
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_ERROR);
  g_autofree char *valid = NULL;
  const char *ref_name = tv_sig_msg_type_to_string (ref);

  /* The text may quote input from the network (a field name): make it valid
   * UTF-8 without control characters and cut it, on a character boundary, to
   * the limit the receiver enforces. */
  if (message == NULL || *message == '\0')
    message = tv_sig_error_name (code);
  valid = g_utf8_make_valid (message, -1);
  for (char *p = valid; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  if (strlen (valid) > TV_SIG_MAX_TEXT_BYTES)
    {
      const char *end = g_utf8_find_prev_char (valid, valid + TV_SIG_MAX_TEXT_BYTES + 1);
      valid[end - valid] = '\0';
    }

  msg->code = code;
  msg->message = g_steal_pointer (&valid);
  msg->ref = g_strdup (ref_name);
  return finish (msg);
}

char *
tv_sig_build_joined (const char *consult_id, TvSigRole own_role, gboolean peer_present)
{
  TvSigMsg *msg;

  g_return_val_if_fail (consult_id != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_JOINED);
  msg->consult_id = g_strdup (consult_id);
  msg->role = own_role;
  msg->peer_present = peer_present;
  return finish (msg);
}

char *
tv_sig_build_joined_full (const char *consult_id, TvSigRole own_role, gboolean peer_present,
                          GPtrArray *ice_servers)
{
  TvSigMsg *msg;
  char *json;

  g_return_val_if_fail (consult_id != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_JOINED);
  msg->consult_id = g_strdup (consult_id);
  msg->role = own_role;
  msg->peer_present = peer_present;
  /* Borrowed for the serialisation only. */
  msg->ice_servers = ice_servers;
  json = tv_sig_msg_to_json (msg);
  msg->ice_servers = NULL;
  tv_sig_msg_free (msg);
  return json;
}

char *
tv_sig_build_peer_joined (TvSigRole peer_role)
{
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_PEER_JOINED);
  msg->role = peer_role;
  return finish (msg);
}

char *
tv_sig_build_peer_left (TvSigRole peer_role, const char *reason)
{
  TvSigMsg *msg;

  g_return_val_if_fail (reason != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_PEER_LEFT);
  msg->role = peer_role;
  msg->reason = g_strdup (reason);
  return finish (msg);
}

char *
tv_sig_build_paired (TvSigRole peer_role, gboolean offerer)
{
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_PAIRED);
  msg->role = peer_role;
  msg->offerer = offerer;
  return finish (msg);
}

char *
tv_sig_build_media_restart (TvSigRole by_role)
{
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_MEDIA_RESTART);
  msg->role = by_role;
  return finish (msg);
}

char *
tv_sig_build_ended (const char *reason)
{
  TvSigMsg *msg;

  g_return_val_if_fail (reason != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_ENDED);
  msg->reason = g_strdup (reason);
  return finish (msg);
}

char *
tv_sig_build_join (const char *token)
{
  TvSigMsg *msg;

  g_return_val_if_fail (token != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_JOIN);
  msg->token = g_strdup (token);
  return finish (msg);
}

char *
tv_sig_build_media (gboolean up)
{
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_MEDIA);
  msg->media_up = up;
  return finish (msg);
}

char *
tv_sig_build_sdp (TvSigMsgType offer_or_answer, const char *sdp)
{
  TvSigMsg *msg;

  g_return_val_if_fail (offer_or_answer == TV_SIG_MSG_OFFER || offer_or_answer == TV_SIG_MSG_ANSWER, NULL);
  g_return_val_if_fail (sdp != NULL, NULL);

  msg = tv_sig_msg_new (offer_or_answer);
  msg->sdp = g_strdup (sdp);
  return finish (msg);
}

char *
tv_sig_build_candidate (guint mline_index, const char *candidate)
{
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_CANDIDATE);
  msg->mline_index = (gint) MIN (mline_index, (guint) G_MAXINT);
  msg->candidate = g_strdup (candidate ? candidate : "");
  return finish (msg);
}

char *
tv_sig_build_join_consult (const char *consult_id)
{
  TvSigMsg *msg;

  g_return_val_if_fail (consult_id != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_JOIN);
  msg->consult_id = g_strdup (consult_id);
  return finish (msg);
}

char *
tv_sig_build_auth (const char *session_token)
{
  TvSigMsg *msg;

  g_return_val_if_fail (session_token != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_AUTH);
  msg->token = g_strdup (session_token);
  return finish (msg);
}

char *
tv_sig_build_admit (const char *consult_id)
{
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_ADMIT);
  msg->consult_id = g_strdup (consult_id);
  return finish (msg);
}

char *
tv_sig_build_authed (const char *user_id, const char *name)
{
  TvSigMsg *msg;

  g_return_val_if_fail (user_id != NULL && name != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_AUTHED);
  msg->user_id = g_strdup (user_id);
  msg->name = g_strdup (name);
  return finish (msg);
}

char *
tv_sig_build_waiting (const char *doctor_name, const char *scheduled_start, gboolean doctor_present)
{
  TvSigMsg *msg;

  g_return_val_if_fail (doctor_name != NULL && scheduled_start != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_WAITING);
  msg->name = g_strdup (doctor_name);
  msg->scheduled_start = g_strdup (scheduled_start);
  msg->doctor_present = doctor_present;
  return finish (msg);
}

char *
tv_sig_build_dashboard (const char *date, const char *time_zone, GPtrArray *items)
{
  TvSigMsg *msg;
  char *json;

  g_return_val_if_fail (date != NULL && time_zone != NULL, NULL);

  msg = tv_sig_msg_new (TV_SIG_MSG_DASHBOARD);
  msg->date = g_strdup (date);
  msg->time_zone = g_strdup (time_zone);
  /* Borrowed for the serialisation only. */
  msg->items = items;
  json = tv_sig_msg_to_json (msg);
  msg->items = NULL;
  tv_sig_msg_free (msg);
  return json;
}

static char *
build_facts (TvSigMsgType type, const char *modality, const char *audio_only_reason, const char *patient_location,
             const char *patient_status)
{
  TvSigMsg *msg = tv_sig_msg_new (type);
  msg->modality = g_strdup (modality);
  msg->audio_only_reason = g_strdup (audio_only_reason);
  msg->patient_location = g_strdup (patient_location);
  msg->patient_status = g_strdup (patient_status);
  return finish (msg);
}

char *
tv_sig_build_facts (const char *modality, const char *audio_only_reason, const char *patient_location,
                    const char *patient_status)
{
  g_return_val_if_fail (modality != NULL || patient_location != NULL || patient_status != NULL, NULL);
  return build_facts (TV_SIG_MSG_FACTS, modality, audio_only_reason, patient_location, patient_status);
}

char *
tv_sig_build_facts_saved (const char *modality, const char *audio_only_reason, const char *patient_location,
                          const char *patient_status)
{
  g_return_val_if_fail (modality != NULL && patient_location != NULL && patient_status != NULL, NULL);
  return build_facts (TV_SIG_MSG_FACTS_SAVED, modality, audio_only_reason, patient_location, patient_status);
}

char *
tv_sig_build_chat (const char *text)
{
  g_return_val_if_fail (text != NULL, NULL);
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_CHAT);
  msg->text = g_strdup (text);
  return finish (msg);
}

char *
tv_sig_build_chat_message (gint64 id, const char *at, TvSigRole from, const char *text)
{
  g_return_val_if_fail (at != NULL && text != NULL && id >= 1, NULL);
  TvSigMsg *msg = tv_sig_msg_new (TV_SIG_MSG_CHAT_MESSAGE);
  msg->id = id;
  msg->at = g_strdup (at);
  msg->role = from;
  msg->text = g_strdup (text);
  return finish (msg);
}

gboolean
tv_sig_chat_text_check (const char *text, const char **why)
{
  const char *reason = NULL;
  if (text == NULL || *text == '\0')
    reason = "the message is empty";
  else if (!g_utf8_validate (text, -1, NULL))
    reason = "the message is not valid UTF-8";
  else if (strlen (text) > TV_SIG_MAX_CHAT_BYTES)
    reason = "the message is longer than 2000 bytes";
  else if (has_control (text, "\n"))
    reason = "the message contains control characters (only newlines are allowed)";
  if (why != NULL)
    *why = reason;
  return reason == NULL;
}
