/* tv-sig-json.c — the strict JSON gate shared by the WebSocket protocol and the HTTPS API.
 *
 * Why: json-glib 1.6 accepts more than JSON and merges duplicate members; what it
 * accepts beyond RFC 8259 is refused here, before it parses, with a message naming
 * the problem (see tv-sig-json.h). This is not a parser: one pass tracks whether
 * we are inside a string, the nesting depth and the member names of each open
 * object; json-glib still builds the tree.
 * Thread: callable from any thread (tv_sig_json_parse_strict reuses one
 * JsonParser per thread).
 */
#define G_LOG_DOMAIN "tv-sig"

#include "signaling/tv-sig-json.h"
#include "signaling/tv-sig-error.h"

#include <string.h>

/* 2^53 has 16 decimal digits; a longer digit run cannot be a valid value
 * and json-glib 1.6 would wrap it around silently instead of failing. */
#define MAX_NUMBER_DIGITS 16
/* Longest member name quoted back in an error message. */
#define MAX_LABEL_CHARS 40

char *
tv_sig_json_printable (const char *text, gssize len, glong max_chars)
{
  g_autofree char *valid = g_utf8_make_valid (text != NULL ? text : "", text != NULL ? len : 0);
  char *out = g_utf8_substring (valid, 0, MIN (g_utf8_strlen (valid, -1), max_chars));
  for (char *p = out; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
      *p = '?';
  return out;
}

/* Sets @error (TV_SIG_ERROR, @code, printf-style message) and evaluates to FALSE. */
#define fail(error, code, ...) (g_set_error ((error), TV_SIG_ERROR, (code), __VA_ARGS__), FALSE)

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

/* The message for a byte outside a string that JSON does not allow there. */
static gboolean
fail_unexpected (GError **error, const char *data, gsize i)
{
  switch ((guchar) data[i])
    {
    case '/':
      return fail (error, TV_SIG_ERR_BAD_JSON, "comment (JSON has no comments)");
    case '\'':
      return fail (error, TV_SIG_ERR_BAD_JSON, "single-quoted string (JSON strings use double quotes)");
    case 'N':
    case 'I':
      return fail (error, TV_SIG_ERR_BAD_JSON, "NaN or Infinity (not a JSON number)");
    case 'x':
    case 'X':
      return fail (error, TV_SIG_ERR_BAD_JSON, "hexadecimal number (not a JSON number)");
    case 0xef:
      if (i == 0)
        return fail (error, TV_SIG_ERR_BAD_JSON, "byte-order mark before the JSON value");
      break;
    default:
      break;
    }
  return fail (error, TV_SIG_ERR_BAD_JSON, "unexpected character outside a string");
}

/* One open object or array: the member names seen so far (objects only). */
static void
level_free (gpointer p)
{
  if (p != NULL)
    g_hash_table_unref (p);
}

gboolean
tv_sig_json_check_strict (const char *data, gsize len, guint max_depth, guint *n_members, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  guint digits = 0, members = 0;
  gboolean in_string = FALSE, escaped = FALSE, closed = FALSE, top_started = FALSE;
  /* Was the token before this byte a string (so that a ':' makes it a name)? */
  gboolean last_was_string = FALSE, was_string;
  /* The last string seen (a member name when a ':' follows) and the current
   * member name, so that an oversized number is reported with its field. */
  const char *str_start = NULL, *str_end = NULL, *key = NULL;
  gsize key_len = 0;
  g_autoptr (GPtrArray) levels = NULL;

  if (len == 0)
    return fail (error, TV_SIG_ERR_BAD_JSON, "empty JSON text");
  /* Also refuses NUL bytes, which g_utf8_validate treats as invalid. */
  if (!g_utf8_validate (data, (gssize) len, NULL))
    return fail (error, TV_SIG_ERR_BAD_JSON, "not valid UTF-8 (or holds a NUL byte)");
  levels = g_ptr_array_new_with_free_func (level_free);

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
              last_was_string = TRUE;
              str_end = data + i;
              if (levels->len == 0)
                closed = TRUE;  /* a top-level string is the whole value */
            }
          else if (c < 0x20)
            return fail (error, TV_SIG_ERR_BAD_JSON, "unescaped control character in a string");
          continue;
        }

      was_string = last_was_string;
      if (!is_json_space (c))
        last_was_string = FALSE;
      if (closed && !is_json_space (c))
        return fail (error, TV_SIG_ERR_BAD_JSON, "data after the end of the JSON value");
      /* A top-level scalar ends at white space or where another value starts.
       * json-glib 1.6 parses a second top-level value, keeps the first as the
       * root and leaks the second's nodes ("0 {...}" lost ~1 KB per frame
       * under valgrind), so anything after the first value stops here. */
      if (levels->len == 0)
        {
          if (is_json_space (c))
            closed = top_started;
          else if (top_started && (c == '{' || c == '[' || c == '"'))
            return fail (error, TV_SIG_ERR_BAD_JSON, "data after the end of the JSON value");
          else
            top_started = TRUE;
        }

      if (g_ascii_isdigit (c))
        {
          /* JSON forbids leading zeros in the integer part ("007"); they are
           * fine in fractions and exponents ("1.05", "1e-07"). */
          if (digits == 0 && c == '0' && i + 1 < len && g_ascii_isdigit (data[i + 1]) &&
              !in_fraction_or_exponent (data, i))
            return fail (error, TV_SIG_ERR_BAD_JSON, "number with a leading zero");
          if (++digits > MAX_NUMBER_DIGITS)
            {
              g_autofree char *label = tv_sig_json_printable (key, key ? (gssize) key_len : 0, MAX_LABEL_CHARS);
              return fail (error, TV_SIG_ERR_INVALID_VALUE, "field \"%s\": number out of range", label);
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
          if (levels->len >= max_depth)
            return fail (error, TV_SIG_ERR_BAD_JSON, "nesting deeper than %u", max_depth);
          g_ptr_array_add (levels, c == '{' ? g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL) : NULL);
          break;
        case '}':
        case ']':
          /* Unbalanced brackets are json-glib's to report. */
          if (levels->len > 0)
            {
              g_ptr_array_remove_index (levels, levels->len - 1);
              if (levels->len == 0)
                closed = TRUE;
            }
          break;
        case ':':
          {
            GHashTable *names = levels->len > 0 ? g_ptr_array_index (levels, levels->len - 1) : NULL;
            /* A ':' not after a member name is json-glib's to report. */
            if (names == NULL || !was_string)
              break;
            members++;
            key = str_start;
            key_len = (gsize) (str_end - str_start);
            char *name = g_strndup (key, key_len);
            if (!g_hash_table_add (names, name))
              {
                g_autofree char *label = tv_sig_json_printable (key, (gssize) key_len, MAX_LABEL_CHARS);
                return fail (error, TV_SIG_ERR_BAD_JSON, "duplicate member \"%s\" (a member appears more than once)",
                             label);
              }
          }
          break;
        case ' ': case '\t': case '\n': case '\r':
        case ',': case '-': case '+': case '.':
        /* The letters of true, false, null and exponents. */
        case 't': case 'r': case 'u': case 'e': case 'E':
        case 'f': case 'a': case 'l': case 's': case 'n':
          break;
        default:
          return fail_unexpected (error, data, i);
        }
    }

  if (n_members != NULL)
    *n_members = members;
  return TRUE;
}

guint
tv_sig_json_count_members (JsonNode *node)
{
  guint n = 0;
  if (node == NULL)
    return 0;
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *obj = json_node_get_object (node);
      g_autoptr (GList) values = json_object_get_values (obj);
      n = json_object_get_size (obj);
      for (GList *l = values; l != NULL; l = l->next)
        n += tv_sig_json_count_members (l->data);
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        n += tv_sig_json_count_members (json_array_get_element (array, i));
    }
  return n;
}

/* One parser per thread, reused: creating a JsonParser (a GObject) for every
 * message cost ~0.5 us of the ~1.8 us a ping's parse takes (docs/BENCHMARKS.md,
 * "Signaling load: a cheaper load client"). Its root is stolen after each load,
 * so it keeps nothing of the last text between calls. */
static GPrivate thread_parser = G_PRIVATE_INIT (g_object_unref);

static JsonParser *
get_thread_parser (void)
{
  JsonParser *parser = g_private_get (&thread_parser);
  if (parser == NULL)
    {
      parser = json_parser_new_immutable ();
      g_private_set (&thread_parser, parser);
    }
  return parser;
}

JsonNode *
tv_sig_json_parse_strict (const char *data, gsize len, guint max_depth, GError **error)
{
  guint members = 0;
  JsonParser *parser;
  g_autoptr (GError) json_error = NULL;
  g_autoptr (JsonNode) root = NULL;

  if (!tv_sig_json_check_strict (data, len, max_depth, &members, error))
    return NULL;
  parser = get_thread_parser ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &json_error))
    {
      root = json_parser_steal_root (parser); /* whatever it built: freed on return */
      /* json-glib's text may quote the offending (possibly invalid) bytes. */
      g_autofree char *detail = tv_sig_json_printable (json_error->message, -1, 120);
      g_set_error (error, TV_SIG_ERROR, TV_SIG_ERR_BAD_JSON, "invalid JSON: %s", detail);
      return NULL;
    }
  root = json_parser_steal_root (parser);
  if (root == NULL)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_BAD_JSON, "no JSON value in the text");
      return NULL;
    }
  if (tv_sig_json_count_members (root) != members)
    {
      g_set_error_literal (error, TV_SIG_ERROR, TV_SIG_ERR_BAD_JSON,
                           "a member appears more than once (the same name written with different escapes)");
      return NULL;
    }
  return g_steal_pointer (&root);
}
