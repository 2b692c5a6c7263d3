/* tv-store-chat.h — the in-call chat of a consult in the store (schema v8).
 *
 * Why: chat is part of the visit's record (issue 5): every message either
 * party sends during a consult is kept with the consult, with the server's
 * time and the sender's role, replayed to a party who (re)joins, listed by
 * `televisitctl show` and readable by the consult's doctor and admins over
 * the API. The text is sensitive: it is sealed at rest (tv-store-seal.c) and
 * never logged.
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* Longest chat text in bytes (the protocol's TV_SIG_MAX_CHAT_BYTES). */
#define TV_STORE_CHAT_MAX_BYTES 2000

typedef struct {
  gint64 id;            /* increasing with the order of arrival */
  char *consult_id;
  char *sender_role;    /* "doctor" or "patient" */
  gint64 sent_at;       /* µs UTC, when the server received it */
  char *text;           /* unsealed */
} TvChatMessage;

/* Frees @msg and its strings (the text is wiped first). NULL accepted. */
void tv_chat_message_free (TvChatMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvChatMessage, tv_chat_message_free)

/* tv_store_chat_add:
 * Stores one chat message of @consult_id from @sender_role ("doctor" or
 * "patient") received at @sent_at (µs UTC, > 0), in one transaction. @text
 * must be valid UTF-8 of 1..TV_STORE_CHAT_MAX_BYTES bytes without control
 * characters except LF.
 * Returns: TRUE with *@id (may be NULL) the new message's id; FALSE with
 * INVALID (bad role, time or text, named), NOT_FOUND (no such consult),
 * WRONG_STATE (the consult is completed, cancelled or a no-show) or IO;
 * nothing is written then. */
gboolean tv_store_chat_add (TvStore *store, const char *consult_id, const char *sender_role, gint64 sent_at,
                            const char *text, gint64 *id, GError **error);

/* tv_store_chat_list:
 * Returns: (transfer container) (element-type TvChatMessage) the chat of
 * @consult_id in order (empty when none, also for an unknown consult); NULL
 * with @error (IO: also a value that cannot be unsealed). */
GPtrArray *tv_store_chat_list (TvStore *store, const char *consult_id, GError **error);

/* tv_store_chat_count:
 * Returns: the number of chat messages of @consult_id, or -1 with @error (IO). */
gint64 tv_store_chat_count (TvStore *store, const char *consult_id, GError **error);

G_END_DECLS
