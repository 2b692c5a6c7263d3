/* tv-join-link.h — join tokens the server can re-create: HMAC-SHA256 under a key file.
 *
 * Why: a consult's join link is handed out when it is booked, but reminders
 * (sent hours later) and the patient's "upcoming visits" page must show the
 * CURRENT link again. The store keeps only the SHA-256 of each token, never
 * the token, so it cannot give it back; instead a token is derived:
 *   token = base64url (HMAC-SHA256 (key, "televisit-join-v1" NUL consult_id
 *                                        NUL role NUL issued_at))
 * where issued_at is the µs time the store records as the token row's
 * created_at. With the key (32 random bytes in <data-dir>/join-link.key, mode
 * 0600) the token can be re-derived from the row and checked against its hash
 * (tv_store_join_token_recreate); a stolen database alone still gives no
 * token. Rotating the key (deleting the file) invalidates only the ability to
 * re-create links already issued: the issued tokens keep working, since the
 * store matches them by hash.
 * Thread: any (a key is only read once made; each TvStore holds its own copy).
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

#define TV_JOIN_LINK_KEY_BYTES 32
#define TV_JOIN_LINK_KEY_FILE  "join-link.key"

typedef struct _TvJoinLinkKey TvJoinLinkKey;

/* tv_join_link_key_load_or_create:
 * Reads the key from @path (exactly TV_JOIN_LINK_KEY_BYTES bytes, a regular
 * file not readable or writable by group or others), or, when @path does not
 * exist, creates it with fresh random bytes (OpenSSL RAND_bytes), mode 0600.
 * Creation is atomic (temporary file linked into place): two processes
 * starting at once end up with the same key.
 * Returns: (transfer full) the key; NULL with @error (G_FILE_ERROR) naming
 * the file and the problem (wider permissions, wrong size, I/O). */
TvJoinLinkKey *tv_join_link_key_load_or_create (const char *path, GError **error);

/* Returns: (transfer full) a copy of @key (never NULL for a non-NULL @key). */
TvJoinLinkKey *tv_join_link_key_dup (const TvJoinLinkKey *key);

/* Wipes and frees @key. NULL accepted. */
void tv_join_link_key_free (TvJoinLinkKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvJoinLinkKey, tv_join_link_key_free)

/* tv_join_link_token:
 * @role: "doctor" or "patient". @issued_at: µs UTC, > 0.
 * Returns: (transfer full) the 43-character base64url token derived from
 * the arguments (same arguments, same token). */
char *tv_join_link_token (const TvJoinLinkKey *key, const char *consult_id, const char *role, gint64 issued_at);

/* tv_join_link_base64url:
 * Returns: (transfer full) @len bytes of @raw as base64url without padding
 * (RFC 4648 §5), the alphabet of every token the store issues. */
char *tv_join_link_base64url (const guint8 *raw, gsize len);

/* tv_join_link_attach:
 * Loads (creating on first use) DATA_DIR/join-link.key and hands it to @store
 * (tv_store_set_join_link_key), so the store derives the join tokens it
 * issues from then on. Used by the server at start and by televisitctl.
 * Returns: TRUE; FALSE with @error as tv_join_link_key_load_or_create. */
gboolean tv_join_link_attach (TvStore *store, const char *data_dir, GError **error);

/* ---- in the store (server/tv-store-join-link.c) ----------------------------- */

/* tv_store_set_join_link_key:
 * The store keeps a copy of @key (NULL: back to random tokens) and derives
 * every join token it issues from then on (booking, reschedule,
 * tv_store_consult_create) with tv_join_link_token, issued_at = the token
 * row's created_at. Only the token's SHA-256 is stored, as before. */
void tv_store_set_join_link_key (TvStore *store, const TvJoinLinkKey *key);

/* tv_store_join_token_recreate:
 * Gives back the current join token of @consult_id for @role ("doctor" or
 * "patient"): re-derived from the token row's created_at with the store's key
 * and checked against the stored hash. Does not check expiry or the consult's
 * status (the caller decides whether to show the link).
 * Returns: TRUE with *@token (transfer full); FALSE with INVALID (bad role),
 * NOT_FOUND (no such consult or token row, no key set, or the token was not
 * derived with this key: a legacy random token, a revoked one, or a rotated
 * key) or IO. */
gboolean tv_store_join_token_recreate (TvStore *store, const char *consult_id, const char *role, char **token,
                                       GError **error);

G_END_DECLS
