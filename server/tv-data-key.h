/* tv-data-key.h — the data key ring: AES-256 keys for encryption at rest.
 *
 * Why: sensitive text columns (visit notes, chat, contact details) are sealed
 * with AES-256-GCM (server/tv-store-seal.c). The keys live in a file of their
 * own, never on the command line and never in the store, so a copy of the
 * database alone reveals nothing. Each key has a numeric id that is written
 * next to every value it sealed, so keys can be rotated: a new key becomes
 * current, old values are re-encrypted (`televisitctl keys rekey`), and an old
 * key is retired once no value uses it.
 *
 * The file is a GLib key file, owner-only (mode 0600; a file that the group or
 * others may read or write is refused with an error saying so):
 *
 *   [keys]
 *   current = 2
 *   key-1 = <base64 of 32 random bytes>
 *   key-2 = <base64 of 32 random bytes>
 *
 * Key material in memory is wiped with OPENSSL_cleanse when the ring is freed,
 * and the buffers the file was read into are wiped after parsing (GKeyFile's
 * own internal copies are freed by GLib without wiping; they live only for the
 * duration of one load).
 * Thread: any, one ring per thread (no locking).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_DATA_KEY_ERROR (tv_data_key_error_quark ())
GQuark tv_data_key_error_quark (void);

typedef enum {
  TV_DATA_KEY_ERR_IO,          /* cannot read/write the file (message from the system) */
  TV_DATA_KEY_ERR_MISSING,     /* the file does not exist */
  TV_DATA_KEY_ERR_PERMISSIONS, /* group/other may access the file, or it is not a regular file */
  TV_DATA_KEY_ERR_INVALID,     /* malformed: not a key file, bad base64, wrong length, no current key */
  TV_DATA_KEY_ERR_NOT_FOUND,   /* no key with that id */
  TV_DATA_KEY_ERR_IN_USE,      /* the key is current (retire refuses it) */
} TvDataKeyErrorCode;

#define TV_DATA_KEY_BYTES 32     /* AES-256 */
#define TV_DATA_KEY_MAX_ID 9999  /* ids are 1..9999, written in every sealed value */

typedef struct _TvDataKeys TvDataKeys;

/* tv_data_keys_load:
 * Reads the ring at @path after checking it is a regular file that neither
 * group nor others may access.
 * Returns: (transfer full) the ring; NULL with @error (MISSING, PERMISSIONS,
 * INVALID or IO; the message names the file, never a key). */
TvDataKeys *tv_data_keys_load (const char *path, GError **error);

/* tv_data_keys_parse:
 * Parses key file text held in memory (@len bytes at @text, no NUL needed);
 * @origin names it in messages. No permission check (for the fuzz target and
 * tv_data_keys_load, which checks the file first).
 * Returns: (transfer full) the ring; NULL with @error (INVALID). */
TvDataKeys *tv_data_keys_parse (const char *text, gsize len, const char *origin, GError **error);

/* tv_data_keys_create:
 * Writes a new ring with one random key (id 1, current) to @path, creating its
 * directory with mode 0700 if missing; the file is created 0600. Refuses an
 * existing file (IO, EEXIST) so no key is ever overwritten.
 * Returns: TRUE; FALSE with @error and no file written. */
gboolean tv_data_keys_create (const char *path, GError **error);

/* tv_data_keys_new_ephemeral:
 * Returns: (transfer full) a ring with one random key that exists only in
 * memory (for ":memory:" stores). Never NULL; aborts only if the system RNG fails. */
TvDataKeys *tv_data_keys_new_ephemeral (void);

/* Wipes and frees the ring. NULL accepted. */
void tv_data_keys_free (TvDataKeys *keys);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvDataKeys, tv_data_keys_free)

/* Returns: the id of the current key (what new values are sealed with). */
guint tv_data_keys_current (const TvDataKeys *keys);

/* Returns: (transfer none) the TV_DATA_KEY_BYTES of key @id, valid while @keys
 * lives; NULL when the ring has no such key. */
const guint8 *tv_data_keys_lookup (const TvDataKeys *keys, guint id);

/* Returns: (transfer full) the key ids of the ring in ascending order, free with
 * g_array_unref (element-type guint). */
GArray *tv_data_keys_ids (const TvDataKeys *keys);

/* tv_data_keys_rotate:
 * Adds a new random key to the ring file at @path (id = highest id + 1) and
 * makes it current; the file is replaced atomically (0600). Rotations and
 * retirements hold an exclusive lock on "<path>.lock" (made 0600), so two at
 * once cannot write over each other's key.
 * Returns: TRUE with *@new_id; FALSE with @error and the file unchanged. */
gboolean tv_data_keys_rotate (const char *path, guint *new_id, GError **error);

/* tv_data_keys_retire:
 * Removes key @id from the ring file at @path (atomically). It does NOT look at
 * the data: callers first check no value uses the key (tv_store_sealed_count).
 * Returns: TRUE; FALSE with NOT_FOUND, IN_USE (the current key) or IO/INVALID
 * and the file unchanged. */
gboolean tv_data_keys_retire (const char *path, guint id, GError **error);

G_END_DECLS
