/* tv-sig-message.c — parse, validate and serialise consult protocol messages.
 *
 * Why: every frame that reaches the server or a client comes from the network,
 * so it is checked against a declarative table per message type (field name,
 * JSON type, required or optional, length/range limits, allowed words, which
 * direction may send it) by one generic validator — in the manner of Janus's
 * parameter tables — instead of hand-written checks per message. The same
 * tables drive serialisation, so what we send always parses on the other side.
 * JSON itself is parsed by json-glib; a small strictness gate in front of it
 * refuses what json-glib 1.6 would silently accept (see strict_gate()).
 * Thread: pure functions over constant tables; callable from any thread.
 */
#define G_LOG_DOMAIN "tv-sig"

#include "signaling/tv-sig-message.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* Our messages are flat objects; anything nested is already the wrong type,
 * so a small depth limit costs nothing and bounds the parser's recursion. */
#define MAX_NESTING 16
/* 2^53 has 16 decimal digits; a longer digit run cannot be a valid value
 * and json-glib 1.6 would wrap it around silently instead of failing. */
#define MAX_NUMBER_DIGITS 16
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
} StringCheck;

typedef struct {
  const char *name;
  int value;
} Choice;

typedef struct {
  const char *name;       /* JSON key */
  FieldTarget target;
  gboolean required;
  gsize min_len, max_len; /* strings, in bytes */
  gint64 min, max;        /* integers, inclusive */
  StringCheck check;
  const Choice *choices;  /* strings: the allowed words ({NULL} terminated), or NULL for any */
  gsize offset;           /* where in TvSigMsg */
} FieldSpec;

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

static const FieldSpec join_fields[] = {
  F_STR ("token", TRUE, 16, TV_SIG_MAX_TOKEN_BYTES, SC_TOKEN, token),
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

/* ---- Message objects ---------------------------------------------------- */

TvSigMsg *
tv_sig_msg_new (TvSigMsgType type)
{
  TvSigMsg *msg = g_new0 (TvSigMsg, 1);
  msg->type = type;
  msg->id = -1;
  return msg;
}

void
tv_sig_msg_free (TvSigMsg *msg)
{
  if (msg == NULL)
    return;
  g_free (msg->token);
  g_free (msg->sdp);
  g_free (msg->candidate);
  g_free (msg->consult_id);
  g_free (msg->reason);
  g_free (msg->message);
  g_free (msg->ref);
  g_free (msg);
}

/* ---- Validation helpers ------------------------------------------------- */

/* A printable, bounded (@max_chars characters), valid-UTF-8 rendering of
 * text derived from the input, safe to quote back in an error message. */
static char *
printable (const char *text, gssize len, glong max_chars)
{
  g_autofree char *valid = g_utf8_make_valid (text, len);
  char *out = g_utf8_substring (valid, 0, MIN (g_utf8_strlen (valid, -1), max_chars));
  for (char *p = out; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
      *p = '?';
  return out;
}

static char *
label_for (const char *name, gssize len)
{
  return printable (name, len, MAX_LABEL_CHARS);
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
is_json_space (guchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Is the digit run starting at @i the fraction or exponent of a number
 * (preceded by '.', 'e', 'E', or a sign that follows 'e'/'E')? */
static gboolean
in_fraction_or_exponent (const char *data, gsize i)
{
  char before = i > 0 ? data[i - 1] : ' ';
  if (before == '.' || before == 'e' || before == 'E')
    return TRUE;
  return (before == '+' || before == '-') && i > 1 && (data[i - 2] == 'e' || data[i - 2] == 'E');
}

/* strict_gate:
 * json-glib 1.6 is built on GScanner and accepts more than JSON: comments,
 * single quotes, hex numbers, leading zeros, data after the top-level value, raw control
 * characters in strings, and it wraps integers that overflow gint64 and cuts
 * strings at "\u0000". This pass only tracks whether we are inside a string
 * (it builds nothing; json-glib still does the parsing) and refuses those
 * cases, bounds the nesting depth, and counts the top-level members so that
 * duplicate keys (which json-glib merges) can be detected afterwards.
 * Returns: FALSE with BAD_JSON, or INVALID_VALUE for a number too long. */
static gboolean
strict_gate (const char *data, gsize len, guint *top_members, GError **error)
{
  guint depth = 0, digits = 0, members = 0;
  gboolean in_string = FALSE, escaped = FALSE, closed = FALSE;
  /* Start and end of the last string seen at depth 1, i.e. the current key,
   * so that an oversized number can be reported with its field name. */
  const char *str_start = NULL, *key = NULL;
  gsize key_len = 0;

  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) data[i];

      if (in_string)
        {
          if (escaped)
            {
              escaped = FALSE;
              if (c == 'u' && len - i > 4 && memcmp (data + i + 1, "0000", 4) == 0)
                return fail (error, TV_SIG_ERR_BAD_JSON, "NUL character (\\u0000) in a string");
            }
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            {
              in_string = FALSE;
              if (depth == 1)
                {
                  key = str_start;
                  key_len = (gsize) (data + i - str_start);
                }
            }
          else if (c < 0x20)
            return fail (error, TV_SIG_ERR_BAD_JSON, "unescaped control character in a string");
          continue;
        }

      if (closed && !is_json_space (c))
        return fail (error, TV_SIG_ERR_BAD_JSON, "data after the end of the JSON object");

      if (g_ascii_isdigit (c))
        {
          /* JSON forbids leading zeros in the integer part ("007"); they are
           * fine in fractions and exponents ("1.05", "1e-07"). */
          if (digits == 0 && c == '0' && i + 1 < len && g_ascii_isdigit (data[i + 1]) &&
              !in_fraction_or_exponent (data, i))
            return fail (error, TV_SIG_ERR_BAD_JSON, "number with a leading zero");
          if (++digits > MAX_NUMBER_DIGITS)
            {
              g_autofree char *label = label_for (key ? key : "", key ? (gssize) key_len : 0);
              return fail (error, TV_SIG_ERR_INVALID_VALUE,
                           "field \"%s\": number out of range", label);
            }
          continue;
        }
      digits = 0;

      switch (c)
        {
        case '"':
          in_string = TRUE;
          str_start = data + i + 1;
          break;
        case '{':
        case '[':
          if (++depth > MAX_NESTING)
            return fail (error, TV_SIG_ERR_BAD_JSON, "nesting deeper than %d", MAX_NESTING);
          break;
        case '}':
        case ']':
          /* Unbalanced brackets are json-glib's to report. */
          if (depth > 0 && --depth == 0)
            closed = TRUE;
          break;
        case ':':
          if (depth == 1)
            members++;
          break;
        case ' ': case '\t': case '\n': case '\r':
        case ',': case '-': case '+': case '.':
        /* The letters of true, false, null and exponents. */
        case 't': case 'r': case 'u': case 'e': case 'E':
        case 'f': case 'a': case 'l': case 's': case 'n':
          break;
        default:
          return fail (error, TV_SIG_ERR_BAD_JSON, "unexpected character outside a string");
        }
    }

  *top_members = members;
  return TRUE;
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

/* Validates one present member against @f and stores it into @msg. */
static gboolean
read_field (const FieldSpec *f, JsonNode *node, TvSigMsg *msg, GError **error)
{
  guint8 *base = (guint8 *) msg;
  int choice = 0;

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
    }
  return FALSE;
}

static const FieldSpec *
find_field (const MsgSpec *spec, const char *name)
{
  for (gsize i = 0; i < spec->n_fields; i++)
    if (strcmp (spec->fields[i].name, name) == 0)
      return &spec->fields[i];
  return NULL;
}

/* ---- Parsing ------------------------------------------------------------ */

TvSigMsg *
tv_sig_msg_parse (const char *data, gsize len, TvSigDirection dir,
                  TvSigMsgType *ref_type, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (TvSigMsg) msg = NULL;
  g_autoptr (GError) json_error = NULL;
  g_autoptr (GList) members = NULL;
  JsonNode *root, *type_node;
  JsonObject *obj;
  const MsgSpec *spec;
  TvSigMsgType type;
  guint top_members = 0;

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
  if (!strict_gate (data, len, &top_members, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &json_error))
    {
      /* json-glib's text may quote the offending (possibly invalid) bytes. */
      g_autofree char *detail = printable (json_error->message, -1, 120);
      fail (error, TV_SIG_ERR_BAD_JSON, "invalid JSON: %s", detail);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL)
    {
      fail (error, TV_SIG_ERR_BAD_JSON, "no JSON value in the frame");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      fail (error, TV_SIG_ERR_NOT_OBJECT, "the frame is not a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);
  if (json_object_get_size (obj) != top_members)
    {
      fail (error, TV_SIG_ERR_BAD_JSON, "a field appears more than once");
      return NULL;
    }

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

  /* Unknown fields are refused, never carried along. */
  members = json_object_get_members (obj);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      if (strcmp (name, "type") != 0 && find_field (spec, name) == NULL)
        {
          g_autofree char *label = label_for (name, -1);
          fail (error, TV_SIG_ERR_UNKNOWN_FIELD, "field \"%s\": not part of \"%s\"",
                label, spec->name);
          return NULL;
        }
    }

  msg = tv_sig_msg_new (type);
  for (gsize i = 0; i < spec->n_fields; i++)
    {
      const FieldSpec *f = &spec->fields[i];
      JsonNode *node = json_object_get_member (obj, f->name);

      if (node == NULL)
        {
          if (f->required)
            {
              fail (error, TV_SIG_ERR_MISSING_FIELD, "field \"%s\": required", f->name);
              return NULL;
            }
          continue;
        }
      if (!read_field (f, node, msg, error))
        return NULL;
    }

  return g_steal_pointer (&msg);
}

/* ---- Serialisation ------------------------------------------------------ */

char *
tv_sig_msg_to_json (const TvSigMsg *msg)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonGenerator) gen = NULL;
  g_autoptr (JsonNode) root = NULL;
  const MsgSpec *spec;
  const guint8 *base;

  g_return_val_if_fail (msg != NULL, NULL);
  g_return_val_if_fail (msg->type > TV_SIG_MSG_INVALID && msg->type < TV_SIG_MSG_N_TYPES, NULL);

  spec = &msg_specs[msg->type];
  base = (const guint8 *) msg;
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, spec->name);

  for (gsize i = 0; i < spec->n_fields; i++)
    {
      const FieldSpec *f = &spec->fields[i];

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
        }
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
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
