/* tv-sig-json.h — strict JSON: refuse what json-glib 1.6 silently accepts.
 *
 * Why: json-glib 1.6 is built on GScanner and accepts more than RFC 8259 JSON
 * (comments, single quotes, NaN/Infinity, hex numbers, leading zeros, a second
 * value after the first, raw control characters in strings), merges duplicate
 * members (the last wins), cuts strings at "\u0000" and wraps integers that
 * overflow gint64. A text that two parsers read differently is a way to smuggle
 * a value past a check, so both the WebSocket protocol (tv-sig-message.c) and the
 * HTTPS API (server/tv-http.c) pass every text through this gate before, and a
 * duplicate-member check after, json-glib parses it. json-glib still does the
 * parsing; the gate only tracks strings, nesting and member names.
 * Callable from any thread (the parse reuses one JsonParser per thread).
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* tv_sig_json_check_strict:
 * @data: the JSON text (need not be NUL-terminated); @len: its length in bytes.
 * @max_depth: deepest nesting of objects/arrays accepted (the WebSocket protocol
 *   uses 16, the HTTPS API 32).
 * @n_members: (out) (optional): the number of object members in the whole text,
 *   for tv_sig_json_count_members() once json-glib has parsed it.
 * Refuses, with a message naming the problem: invalid UTF-8 or a NUL byte, an
 * empty text, comments, single-quoted strings, NaN/Infinity, hexadecimal numbers,
 * leading zeros, anything after the top-level value, raw control characters and
 * "\u0000" in strings, nesting deeper than @max_depth, and a member name that
 * appears twice in one object (spelt the same way; see tv_sig_json_parse_strict()
 * for the other spellings). Syntax errors it does not look for (unbalanced
 * brackets, missing commas, trailing commas) are left to json-glib.
 * Returns: TRUE when the text passed; FALSE with @error set in TV_SIG_ERROR:
 *   TV_SIG_ERR_BAD_JSON, or TV_SIG_ERR_INVALID_VALUE for a number longer than 16
 *   digits (out of range for a JSON integer), message "field \"name\": ...". */
gboolean tv_sig_json_check_strict (const char *data, gsize len, guint max_depth, guint *n_members,
                                   GError **error);

/* tv_sig_json_count_members:
 * Returns: the number of members of every object in @node, nested ones included
 *   (0 for NULL). Fewer than the gate counted means json-glib merged a duplicate. */
guint tv_sig_json_count_members (JsonNode *node);

/* tv_sig_json_parse_strict:
 * tv_sig_json_check_strict(), then json-glib, then the duplicate check for names
 * the gate cannot compare byte for byte ("a" and "\u0061").
 * Returns: (transfer full) (nullable): the root node, free with json_node_unref();
 *   NULL with @error set (TV_SIG_ERROR, as tv_sig_json_check_strict(); json-glib's
 *   own syntax errors come as TV_SIG_ERR_BAD_JSON "invalid JSON: ..."). */
JsonNode *tv_sig_json_parse_strict (const char *data, gsize len, guint max_depth, GError **error);

/* tv_sig_json_printable:
 * Returns: (transfer full): a printable, valid-UTF-8 rendering of at most
 *   @max_chars characters of @text (@len bytes, or -1 for NUL-terminated), with
 *   control characters, quotes and backslashes replaced by '?': safe to quote
 *   back in an error message. Never NULL. */
char *tv_sig_json_printable (const char *text, gssize len, glong max_chars);

G_END_DECLS
