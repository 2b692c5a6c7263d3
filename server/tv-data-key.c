/* tv-data-key.c — the data key ring file (server/tv-data-key.h).
 *
 * Why: encryption at rest needs keys that are kept apart from the data, can be
 * rotated, and are never shown on a command line. This file reads, creates and
 * rewrites the owner-only key file; the crypto itself is in tv-store-seal.c.
 * Every buffer that held key material (file text, base64, raw key) is wiped
 * with OPENSSL_cleanse before it is freed.
 * Thread: any (no shared state).
 */
#define G_LOG_DOMAIN "tv-data-key"

#include "server/tv-data-key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define GROUP "keys"
#define MAX_FILE_BYTES (256 * 1024)

G_DEFINE_QUARK (tv-data-key-error-quark, tv_data_key_error)

typedef struct {
  guint id;
  guint8 key[TV_DATA_KEY_BYTES];
} Entry;

struct _TvDataKeys {
  guint current;
  GArray *entries;   /* Entry, ascending id */
};

static TvDataKeys *
ring_new (void)
{
  TvDataKeys *keys = g_new0 (TvDataKeys, 1);
  /* Room for 16 keys up front: growing reallocates, and the old block would
   * be freed without wiping. */
  keys->entries = g_array_sized_new (FALSE, TRUE, sizeof (Entry), 16);
  return keys;
}

void
tv_data_keys_free (TvDataKeys *keys)
{
  if (keys == NULL)
    return;
  if (keys->entries->len > 0)
    OPENSSL_cleanse (keys->entries->data, keys->entries->len * sizeof (Entry));
  g_array_unref (keys->entries);
  g_free (keys);
}

static void
wipe_free (char *s)
{
  if (s != NULL) {
    OPENSSL_cleanse (s, strlen (s));
    g_free (s);
  }
}

static gint
entry_cmp (gconstpointer a, gconstpointer b)
{
  guint x = ((const Entry *) a)->id, y = ((const Entry *) b)->id;
  return x < y ? -1 : x > y;
}

/* Adds a fresh random key with id @id. FALSE with @error (IO) if the RNG fails. */
static gboolean
ring_add_random (TvDataKeys *keys, guint id, GError **error)
{
  Entry e = { .id = id };
  if (RAND_bytes (e.key, sizeof e.key) != 1) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "the random number generator failed");
    return FALSE;
  }
  g_array_append_val (keys->entries, e);
  OPENSSL_cleanse (&e, sizeof e);
  g_array_sort (keys->entries, entry_cmp);
  return TRUE;
}

guint
tv_data_keys_current (const TvDataKeys *keys)
{
  g_return_val_if_fail (keys != NULL, 0);
  return keys->current;
}

const guint8 *
tv_data_keys_lookup (const TvDataKeys *keys, guint id)
{
  g_return_val_if_fail (keys != NULL, NULL);
  for (guint i = 0; i < keys->entries->len; i++) {
    const Entry *e = &g_array_index (keys->entries, Entry, i);
    if (e->id == id)
      return e->key;
  }
  return NULL;
}

GArray *
tv_data_keys_ids (const TvDataKeys *keys)
{
  g_return_val_if_fail (keys != NULL, NULL);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < keys->entries->len; i++)
    g_array_append_val (ids, g_array_index (keys->entries, Entry, i).id);
  return ids;
}

TvDataKeys *
tv_data_keys_new_ephemeral (void)
{
  TvDataKeys *keys = ring_new ();
  if (!ring_add_random (keys, 1, NULL))
    g_error ("the random number generator failed");
  keys->current = 1;
  return keys;
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                    */

/* Reads the owner-only file at @path into *@out (NUL-terminated, caller wipes).
 * The mode is checked on the open descriptor (no race with a chmod/rename). */
static gboolean
read_private (const char *path, char **out, gsize *len, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, TV_DATA_KEY_ERROR, e == ENOENT ? TV_DATA_KEY_ERR_MISSING : TV_DATA_KEY_ERR_IO,
                 "data key file %s: %s", path, g_strerror (e));
    return FALSE;
  }
  struct stat st;
  gboolean ok = FALSE;
  GString *buf = NULL;
  if (fstat (fd, &st) != 0) {
    int e = errno;
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "data key file %s: %s", path, g_strerror (e));
    goto out;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_PERMISSIONS,
                 "data key file %s is not a regular file", path);
    goto out;
  }
  if ((st.st_mode & 077) != 0) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_PERMISSIONS,
                 "data key file %s has mode %04o: group and others must have no access "
                 "(chmod 600 it, owner only)", path, (unsigned) (st.st_mode & 07777));
    goto out;
  }
  if (st.st_size > MAX_FILE_BYTES) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                 "data key file %s is larger than %d bytes", path, MAX_FILE_BYTES);
    goto out;
  }
  buf = g_string_sized_new ((gsize) st.st_size + 1);
  for (;;) {
    char chunk[4096];
    ssize_t n = read (fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "data key file %s: %s", path, g_strerror (e));
      OPENSSL_cleanse (chunk, sizeof chunk);
      goto out;
    }
    if (n == 0)
      break;
    if (buf->len + (gsize) n > MAX_FILE_BYTES) {
      g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                   "data key file %s is larger than %d bytes", path, MAX_FILE_BYTES);
      OPENSSL_cleanse (chunk, sizeof chunk);
      goto out;
    }
    g_string_append_len (buf, chunk, n);
    OPENSSL_cleanse (chunk, sizeof chunk);
  }
  ok = TRUE;
out:
  close (fd);
  if (buf != NULL) {
    if (ok) {
      *len = buf->len;
      *out = g_string_free (buf, FALSE);
    } else {
      OPENSSL_cleanse (buf->str, buf->allocated_len);
      g_string_free (buf, TRUE);
    }
  }
  return ok;
}

/* Parses "key-N" with N canonical decimal 1..TV_DATA_KEY_MAX_ID. */
static gboolean
parse_key_name (const char *name, guint *id)
{
  if (!g_str_has_prefix (name, "key-"))
    return FALSE;
  const char *digits = name + 4;
  guint64 v = 0;
  if (!g_ascii_string_to_unsigned (digits, 10, 1, TV_DATA_KEY_MAX_ID, &v, NULL) || digits[0] == '0')
    return FALSE;
  *id = (guint) v;
  return TRUE;
}

static TvDataKeys *
parse_ring (const char *path, const char *text, gsize len, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  g_autoptr (TvDataKeys) keys = ring_new ();
  if (!g_key_file_load_from_data (kf, text, len, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID, "data key file %s: %s", path, local->message);
    return NULL;
  }
  gsize n_groups = 0;
  g_auto (GStrv) groups = g_key_file_get_groups (kf, &n_groups);
  if (n_groups != 1 || strcmp (groups[0], GROUP) != 0) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                 "data key file %s: needs exactly one group, [" GROUP "]", path);
    return NULL;
  }
  g_auto (GStrv) names = g_key_file_get_keys (kf, GROUP, NULL, NULL);
  gboolean have_current = FALSE;
  for (guint i = 0; names != NULL && names[i] != NULL; i++) {
    guint id = 0;
    if (strcmp (names[i], "current") == 0) {
      g_autofree char *v = g_key_file_get_value (kf, GROUP, "current", NULL);
      guint64 cur = 0;
      if (v == NULL || !g_ascii_string_to_unsigned (g_strstrip (v), 10, 1, TV_DATA_KEY_MAX_ID, &cur, NULL)) {
        g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                     "data key file %s: current: not a key id (1..%d)", path, TV_DATA_KEY_MAX_ID);
        return NULL;
      }
      keys->current = (guint) cur;
      have_current = TRUE;
      continue;
    }
    if (!parse_key_name (names[i], &id)) {
      g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                   "data key file %s: unknown key \"%s\" (expected current or key-N, N in 1..%d)", path,
                   names[i], TV_DATA_KEY_MAX_ID);
      return NULL;
    }
    if (tv_data_keys_lookup (keys, id) != NULL) {
      g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID, "data key file %s: key-%u twice", path, id);
      return NULL;
    }
    char *b64 = g_key_file_get_value (kf, GROUP, names[i], NULL);
    gsize raw_len = 0;
    guchar *raw = g_base64_decode (g_strstrip (b64), &raw_len);
    wipe_free (b64);
    gboolean good = raw_len == TV_DATA_KEY_BYTES;
    if (good) {
      Entry e = { .id = id };
      memcpy (e.key, raw, TV_DATA_KEY_BYTES);
      g_array_append_val (keys->entries, e);
      OPENSSL_cleanse (&e, sizeof e);
    }
    if (raw != NULL) {
      OPENSSL_cleanse (raw, raw_len);
      g_free (raw);
    }
    if (!good) {
      g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                   "data key file %s: key-%u is not the base64 of %d bytes", path, id, TV_DATA_KEY_BYTES);
      return NULL;
    }
  }
  if (!have_current) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID, "data key file %s: no \"current\" key id", path);
    return NULL;
  }
  if (tv_data_keys_lookup (keys, keys->current) == NULL) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                 "data key file %s: current = %u but there is no key-%u", path, keys->current, keys->current);
    return NULL;
  }
  g_array_sort (keys->entries, entry_cmp);
  return g_steal_pointer (&keys);
}

TvDataKeys *
tv_data_keys_parse (const char *text, gsize len, const char *origin, GError **error)
{
  g_return_val_if_fail (text != NULL || len == 0, NULL);
  return parse_ring (origin != NULL ? origin : "(data)", text != NULL ? text : "", len, error);
}

TvDataKeys *
tv_data_keys_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  char *text = NULL;
  gsize len = 0;
  if (!read_private (path, &text, &len, error))
    return NULL;
  TvDataKeys *keys = parse_ring (path, text, len, error);
  OPENSSL_cleanse (text, len);
  g_free (text);
  return keys;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                    */

/* Returns: (transfer full) the file text of @keys; wipe with wipe_free. */
static char *
serialize (const TvDataKeys *keys)
{
  GString *s = g_string_new ("# Televisit data keys (AES-256, encryption at rest). Owner-only (0600).\n"
                             "# Back it up apart from the database: values sealed with a lost key are lost.\n"
                             "# Rotate with `televisitctl keys rotate`, then `keys rekey`, then `keys retire ID`.\n"
                             "[" GROUP "]\n");
  g_string_append_printf (s, "current=%u\n", keys->current);
  for (guint i = 0; i < keys->entries->len; i++) {
    const Entry *e = &g_array_index (keys->entries, Entry, i);
    char *b64 = g_base64_encode (e->key, sizeof e->key);
    g_string_append_printf (s, "key-%u=%s\n", e->id, b64);
    wipe_free (b64);
  }
  /* Grow-and-copy may have left key text in freed blocks: copy out and wipe. */
  char *out = g_strndup (s->str, s->len);
  OPENSSL_cleanse (s->str, s->allocated_len);
  g_string_free (s, TRUE);
  return out;
}

/* Replaces @path atomically with @keys (mode 0600). */
static gboolean
save_ring (const TvDataKeys *keys, const char *path, GError **error)
{
  char *text = serialize (keys);
  g_autoptr (GError) local = NULL;
  gboolean ok = g_file_set_contents_full (path, text, -1,
                                          G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                          0600, &local);
  wipe_free (text);
  if (!ok)
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "cannot write data key file: %s", local->message);
  return ok;
}

gboolean
tv_data_keys_create (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    int e = errno;
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "cannot create directory %s for the data key file: %s",
                 dir, g_strerror (e));
    return FALSE;
  }
  g_autoptr (TvDataKeys) keys = ring_new ();
  if (!ring_add_random (keys, 1, error))
    return FALSE;
  keys->current = 1;

  /* Write a temporary file, then link() it to the name: link fails if the
   * name exists, so two processes creating at once cannot overwrite a key. */
  g_autofree char *tmp = g_strconcat (path, ".new-XXXXXX", NULL);
  int fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "cannot create data key file %s: %s", path,
                 g_strerror (e));
    return FALSE;
  }
  char *text = serialize (keys);
  gsize len = strlen (text), done = 0;
  gboolean ok = TRUE;
  while (ok && done < len) {
    ssize_t n = write (fd, text + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    ok = n > 0;
    if (ok)
      done += (gsize) n;
  }
  int e = errno;
  wipe_free (text);
  if (ok && fsync (fd) != 0) {
    ok = FALSE;
    e = errno;
  }
  close (fd);
  if (ok && link (tmp, path) != 0) {
    ok = FALSE;
    e = errno;
  }
  unlink (tmp);
  if (!ok) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "cannot create data key file %s: %s", path,
                 g_strerror (e));
    return FALSE;
  }
  g_info ("created data key file %s (key id 1)", path);
  return TRUE;
}

/* Takes an exclusive lock on "<path>.lock" (made 0600) so that two rotations
 * or retirements never read the same ring and write over each other's key.
 * Returns: the lock's descriptor (close it to unlock), or -1 with @error (IO). */
static int
lock_ring (const char *path, GError **error)
{
  g_autofree char *lock = g_strconcat (path, ".lock", NULL);
  int fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || flock (fd, LOCK_EX) != 0) {
    int e = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO, "cannot lock %s: %s", lock, g_strerror (e));
    return -1;
  }
  return fd;
}

static gboolean rotate_locked (const char *path, guint *new_id, GError **error);
static gboolean retire_locked (const char *path, guint id, GError **error);

gboolean
tv_data_keys_rotate (const char *path, guint *new_id, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  int fd = lock_ring (path, error);
  if (fd < 0)
    return FALSE;
  gboolean ok = rotate_locked (path, new_id, error);
  close (fd);
  return ok;
}

gboolean
tv_data_keys_retire (const char *path, guint id, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  int fd = lock_ring (path, error);
  if (fd < 0)
    return FALSE;
  gboolean ok = retire_locked (path, id, error);
  close (fd);
  return ok;
}

static gboolean
rotate_locked (const char *path, guint *new_id, GError **error)
{
  g_autoptr (TvDataKeys) keys = tv_data_keys_load (path, error);
  if (keys == NULL)
    return FALSE;
  guint last = g_array_index (keys->entries, Entry, keys->entries->len - 1).id;
  if (last >= TV_DATA_KEY_MAX_ID) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID,
                 "data key file %s: key ids are used up (highest is %u)", path, last);
    return FALSE;
  }
  if (!ring_add_random (keys, last + 1, error))
    return FALSE;
  keys->current = last + 1;
  if (!save_ring (keys, path, error))
    return FALSE;
  if (new_id != NULL)
    *new_id = last + 1;
  return TRUE;
}

static gboolean
retire_locked (const char *path, guint id, GError **error)
{
  g_autoptr (TvDataKeys) keys = tv_data_keys_load (path, error);
  if (keys == NULL)
    return FALSE;
  if (id == keys->current) {
    g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IN_USE,
                 "key %u is the current key (rotate first)", id);
    return FALSE;
  }
  for (guint i = 0; i < keys->entries->len; i++) {
    Entry *e = &g_array_index (keys->entries, Entry, i);
    if (e->id == id) {
      g_array_remove_index (keys->entries, i);
      /* The array keeps its block: wipe the slot that fell off the end. */
      OPENSSL_cleanse (keys->entries->data + keys->entries->len * sizeof (Entry), sizeof (Entry));
      return save_ring (keys, path, error);
    }
  }
  g_set_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_NOT_FOUND, "data key file %s has no key %u", path, id);
  return FALSE;
}
