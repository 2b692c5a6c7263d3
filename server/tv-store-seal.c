/* tv-store-seal.c — encryption at rest of sensitive text columns
 * (server/tv-store-seal.h for the format, the key file and why AES-256-GCM
 * fields rather than SQLCipher).
 *
 * Every sensitive column is written through tv_store_private_seal() and read
 * through tv_store_private_unseal() (server/tv-store-private.h), and listed in
 * SEALED_COLUMNS below so that key rotation (tv_store_rekey) and retirement
 * (`televisitctl keys retire`, which counts values per key) reach it.
 *
 * HOW TO ADD A SEALED COLUMN (for the owner of an area):
 *   1. In your migration step, declare the column TEXT (NULL allowed if you like);
 *      the table must have a rowid (not WITHOUT ROWID) and must allow UPDATE of
 *      that column (rekey rewrites it in place).
 *   2. Write it with tv_store_private_seal (store, plaintext, context, error) and
 *      read it with tv_store_private_unseal (store, stored, context, error), where
 *      context = "<table>.<column>:<value of the row's id column>", e.g.
 *      "consult_facts.note:3f1c...-uuid". Build it the same way on both sides.
 *   3. Add a row { table, column, id column, "<table>.<column>" } to
 *      SEALED_COLUMNS. test-seal checks that every row names an existing column.
 *
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-seal.h"
#include "server/tv-data-key.h"
#include "server/tv-store-private.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define NONCE_BYTES 12
#define TAG_BYTES 16
#define MAX_PLAINTEXT_BYTES (16 * 1024 * 1024)

/* The registry of sealed columns. Keep the NULL row last. */
static const TvSealedColumn SEALED_COLUMNS[] = {
  { "user_contacts", "email", "user_id", "user_contacts.email" },   /* schema v7, tv-store-reminders.c */
  { "user_contacts", "phone", "user_id", "user_contacts.phone" },
  { "consult_facts", "note", "consult_id", "consult_facts.note" },      /* visit note (billing, v6) */
  { "consult_chat", "text", "consult_id", "consult_chat.text" },    /* in-call chat (v8, tv-store-chat.c) */
  { NULL, NULL, NULL, NULL },
};

struct _TvStoreSeal {
  char *key_path;        /* NULL: in-memory key (":memory:" stores) */
  TvDataKeys *keys;      /* NULL until first needed */
  struct stat seen;      /* of key_path when keys were loaded */
  GPtrArray *extra;      /* (element-type TvSealedColumn) test-only rows, not owned */
};

const TvSealedColumn *
tv_store_sealed_columns (guint *n_columns)
{
  if (n_columns != NULL)
    *n_columns = G_N_ELEMENTS (SEALED_COLUMNS) - 1;
  return SEALED_COLUMNS;
}

/* Whether the database has @c's column. A registry row whose table is not
 * there is skipped, so a row added ahead of its schema step cannot stop the
 * server; test-seal (/seal/registry) fails on such a row instead. */
static gboolean
column_exists (TvStore *store, const TvSealedColumn *c)
{
  return sqlite3_table_column_metadata (tv_store_private_db (store), "main", c->table, c->column, NULL, NULL, NULL,
                                        NULL, NULL) == SQLITE_OK;
}

/* Returns: (transfer container) every sealed column of @store (registry + test
 * rows) that exists in the database. */
static GPtrArray *
all_columns (TvStore *store)
{
  TvStoreSeal *seal = tv_store_private_seal_state (store);
  GPtrArray *cols = g_ptr_array_new ();
  for (guint i = 0; SEALED_COLUMNS[i].table != NULL; i++)
    if (column_exists (store, &SEALED_COLUMNS[i]))
      g_ptr_array_add (cols, (gpointer) &SEALED_COLUMNS[i]);
  for (guint i = 0; seal->extra != NULL && i < seal->extra->len; i++)
    g_ptr_array_add (cols, g_ptr_array_index (seal->extra, i));
  return cols;
}

void
tv_store_seal_add_column_for_testing (TvStore *store, const TvSealedColumn *col)
{
  g_return_if_fail (store != NULL && col != NULL);
  TvStoreSeal *seal = tv_store_private_seal_state (store);
  if (seal->extra == NULL)
    seal->extra = g_ptr_array_new ();
  g_ptr_array_add (seal->extra, (gpointer) col);
}

/* ------------------------------------------------------------------------ */
/* Key ring of a store                                                       */

TvStoreSeal *
tv_store_private_seal_new (const char *db_path)
{
  TvStoreSeal *seal = g_new0 (TvStoreSeal, 1);
  const char *env = g_getenv ("TELEVISIT_DATA_KEY_FILE");
  if (env != NULL && *env != '\0') {
    seal->key_path = g_strdup (env);
  } else if (db_path != NULL && strcmp (db_path, ":memory:") != 0 && !g_str_has_prefix (db_path, "file:")) {
    g_autofree char *dir = g_path_get_dirname (db_path);
    seal->key_path = g_build_filename (dir, "keys", "data.keys", NULL);
  }
  return seal;
}

void
tv_store_private_seal_free (TvStoreSeal *seal)
{
  if (seal == NULL)
    return;
  tv_data_keys_free (seal->keys);
  g_free (seal->key_path);
  if (seal->extra != NULL)
    g_ptr_array_unref (seal->extra);
  g_free (seal);
}

static gboolean
same_file (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
         && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Loads @path into @seal (replacing its ring). @create: make the file when it
 * is missing and the store holds no sealed value. Errors are TV_STORE_ERR_IO. */
static gboolean
load_ring (TvStore *store, TvStoreSeal *seal, const char *path, gboolean create, GError **error)
{
  g_autoptr (GError) local = NULL;
  struct stat st;
  TvDataKeys *keys = tv_data_keys_load (path, &local);
  if (keys == NULL && create && g_error_matches (local, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_MISSING)) {
    guint64 n_sealed = 0;
    if (!tv_store_sealed_count (store, 0, &n_sealed, NULL, error))
      return FALSE;
    if (n_sealed > 0) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO,
                   "data key file %s is missing but the database holds %" G_GUINT64_FORMAT
                   " encrypted values: restore the key file from its backup (or, if it lives elsewhere, name it"
                   " with data-key-file / TELEVISIT_DATA_KEY_FILE)", path, n_sealed);
      return FALSE;
    }
    g_clear_error (&local);
    if (!tv_data_keys_create (path, &local) && !g_error_matches (local, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IO)) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s", local->message);
      return FALSE;
    }
    /* IO may be "exists": another process created it meanwhile; load decides. */
    g_clear_error (&local);
    keys = tv_data_keys_load (path, &local);
  }
  if (keys == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s", local->message);
    return FALSE;
  }
  if (stat (path, &st) != 0) {
    int e = errno;
    tv_data_keys_free (keys);
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "data key file %s: %s", path, g_strerror (e));
    return FALSE;
  }
  tv_data_keys_free (seal->keys);
  seal->keys = keys;
  seal->seen = st;
  return TRUE;
}

/* Returns: (transfer none) the store's ring, loaded (or reloaded when the file
 * changed); NULL with @error (IO). @create: as load_ring (only when sealing). */
static TvDataKeys *
ring (TvStore *store, gboolean create, GError **error)
{
  TvStoreSeal *seal = tv_store_private_seal_state (store);
  if (seal->key_path == NULL) {
    if (seal->keys == NULL)
      seal->keys = tv_data_keys_new_ephemeral ();
    return seal->keys;
  }
  struct stat st;
  if (seal->keys != NULL && stat (seal->key_path, &st) == 0 && same_file (&st, &seal->seen))
    return seal->keys;
  /* Missing or changed: (re)load. A file removed under a running store is an
   * error, not a reason to make a new key. */
  if (!load_ring (store, seal, seal->key_path, create && seal->keys == NULL, error))
    return NULL;
  return seal->keys;
}

gboolean
tv_store_set_data_key_file (TvStore *store, const char *path, GError **error)
{
  g_return_val_if_fail (store != NULL && path != NULL && *path != '\0', FALSE);
  TvStoreSeal *seal = tv_store_private_seal_state (store);
  TvDataKeys *old = g_steal_pointer (&seal->keys);
  struct stat old_seen = seal->seen;
  if (!load_ring (store, seal, path, TRUE, error)) {
    seal->keys = old;
    seal->seen = old_seen;
    return FALSE;
  }
  tv_data_keys_free (old);
  g_free (seal->key_path);
  seal->key_path = g_strdup (path);
  return TRUE;
}

const char *
tv_store_get_data_key_file (TvStore *store)
{
  g_return_val_if_fail (store != NULL, NULL);
  return tv_store_private_seal_state (store)->key_path;
}

/* ------------------------------------------------------------------------ */
/* AES-256-GCM                                                                */

/* AES-256-GCM, fetched from OpenSSL's default provider once per process
 * (the implicit fetch of EVP_aes_256_gcm() at every init cost more than the
 * encryption of a 1 KiB note). */
static const EVP_CIPHER *
aes_gcm (void)
{
  static gsize once = 0;
  static EVP_CIPHER *cipher = NULL;
  if (g_once_init_enter (&once)) {
    cipher = EVP_CIPHER_fetch (NULL, "AES-256-GCM", NULL);
    g_once_init_leave (&once, 1);
  }
  return cipher != NULL ? cipher : EVP_aes_256_gcm ();
}

static char *
make_aad (guint kid, const char *context)
{
  return g_strdup_printf (TV_STORE_SEAL_PREFIX "%u:%s", kid, context);
}

/* Returns: (transfer full) the stored form; NULL with @error (IO). */
static char *
seal_with (const guint8 *key, guint kid, const char *plaintext, const char *context, GError **error)
{
  gsize len = strlen (plaintext);
  if (len > MAX_PLAINTEXT_BYTES) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s: value longer than %d bytes", context,
                 MAX_PLAINTEXT_BYTES);
    return NULL;
  }
  g_autofree char *aad = make_aad (kid, context);
  gsize total = NONCE_BYTES + len + TAG_BYTES;
  guint8 *buf = g_malloc (total);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  int n = 0, fin = 0;
  char *out = NULL;
  gboolean ok = ctx != NULL && RAND_bytes (buf, NONCE_BYTES) == 1
                && EVP_EncryptInit_ex (ctx, aes_gcm (), NULL, key, buf) == 1
                && EVP_EncryptUpdate (ctx, NULL, &n, (const guint8 *) aad, (int) strlen (aad)) == 1
                && EVP_EncryptUpdate (ctx, buf + NONCE_BYTES, &n, (const guint8 *) plaintext, (int) len) == 1
                && EVP_EncryptFinal_ex (ctx, buf + NONCE_BYTES + n, &fin) == 1
                && (gsize) (n + fin) == len
                && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, buf + NONCE_BYTES + len) == 1;
  EVP_CIPHER_CTX_free (ctx);
  if (ok) {
    g_autofree char *b64 = g_base64_encode (buf, total);
    out = g_strdup_printf (TV_STORE_SEAL_PREFIX "%u:%s", kid, b64);
  } else {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: encryption failed", context);
  }
  g_free (buf);
  return out;
}

/* Splits "tvenc1:<kid>:<b64>". FALSE when @stored is not in that form. */
static gboolean
parse_stored (const char *stored, guint *kid, const char **b64)
{
  if (!g_str_has_prefix (stored, TV_STORE_SEAL_PREFIX))
    return FALSE;
  const char *p = stored + strlen (TV_STORE_SEAL_PREFIX);
  const char *colon = strchr (p, ':');
  if (colon == NULL || colon == p || colon - p > 4)
    return FALSE;
  char digits[8] = { 0 };
  memcpy (digits, p, (gsize) (colon - p));
  guint64 v = 0;
  if (!g_ascii_string_to_unsigned (digits, 10, 1, TV_DATA_KEY_MAX_ID, &v, NULL))
    return FALSE;
  *kid = (guint) v;
  *b64 = colon + 1;
  return TRUE;
}

static char *
open_with (const guint8 *key, guint kid, const char *b64, const char *context, GError **error)
{
  gsize raw_len = 0;
  guchar *raw = g_base64_decode (b64, &raw_len);
  char *plain = NULL;
  if (raw_len < NONCE_BYTES + TAG_BYTES) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: stored value is damaged (too short)", context);
    g_free (raw);
    return NULL;
  }
  gsize len = raw_len - NONCE_BYTES - TAG_BYTES;
  g_autofree char *aad = make_aad (kid, context);
  plain = g_malloc (len + 1);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
  int n = 0, fin = 0;
  gboolean ok = ctx != NULL && EVP_DecryptInit_ex (ctx, aes_gcm (), NULL, key, raw) == 1
                && EVP_DecryptUpdate (ctx, NULL, &n, (const guint8 *) aad, (int) strlen (aad)) == 1
                && EVP_DecryptUpdate (ctx, (guint8 *) plain, &n, raw + NONCE_BYTES, (int) len) == 1
                && EVP_CIPHER_CTX_ctrl (ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, raw + NONCE_BYTES + len) == 1
                && EVP_DecryptFinal_ex (ctx, (guint8 *) plain + n, &fin) == 1
                && (gsize) (n + fin) == len;
  EVP_CIPHER_CTX_free (ctx);
  g_free (raw);
  if (ok) {
    plain[len] = '\0';
    ok = memchr (plain, '\0', len) == NULL && g_utf8_validate (plain, (gssize) len, NULL);
  }
  if (!ok) {
    OPENSSL_cleanse (plain, len + 1);
    g_free (plain);
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO,
                 "%s: stored value does not open with key %u (tampered with, copied from another row or "
                 "column, or a different key under that id)", context, kid);
    return NULL;
  }
  return plain;
}

char *
tv_store_private_seal (TvStore *store, const char *plaintext, const char *context, GError **error)
{
  g_return_val_if_fail (store != NULL && context != NULL, NULL);
  if (plaintext == NULL)
    return NULL;
  g_autoptr (GError) local = NULL;
  TvDataKeys *keys = ring (store, TRUE, &local);
  if (keys == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "cannot encrypt %s: %s", context, local->message);
    return NULL;
  }
  guint kid = tv_data_keys_current (keys);
  return seal_with (tv_data_keys_lookup (keys, kid), kid, plaintext, context, error);
}

static char *unseal_with_ring (TvStore *store, TvDataKeys *keys, guint kid, const char *b64,
                              const char *context, GError **error);

char *
tv_store_private_unseal (TvStore *store, const char *stored, const char *context, GError **error)
{
  g_return_val_if_fail (store != NULL && context != NULL, NULL);
  if (stored == NULL)
    return NULL;
  guint kid = 0;
  const char *b64 = NULL;
  if (!parse_stored (stored, &kid, &b64)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO,
                 "%s: stored value is not encrypted (run `televisitctl keys rekey` to encrypt it)", context);
    return NULL;
  }
  g_autoptr (GError) local = NULL;
  TvDataKeys *keys = ring (store, FALSE, &local);
  if (keys == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "cannot decrypt %s: %s", context, local->message);
    return NULL;
  }
  return unseal_with_ring (store, keys, kid, b64, context, error);
}

/* Opens a parsed value with key @kid of @keys; NULL with @error (IO). */
static char *
unseal_with_ring (TvStore *store, TvDataKeys *keys, guint kid, const char *b64, const char *context,
                  GError **error)
{
  const guint8 *key = tv_data_keys_lookup (keys, kid);
  if (key == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO,
                 "cannot decrypt %s: key %u is not in the data key file %s (retired or lost?)", context, kid,
                 tv_store_get_data_key_file (store) ? tv_store_get_data_key_file (store) : "(in memory)");
    return NULL;
  }
  return open_with (key, kid, b64, context, error);
}

/* ------------------------------------------------------------------------ */
/* Counting and rekeying                                                      */

/* Runs @sql (one row, one integer) with @like bound to ?1 (if non-NULL). */
static gboolean
count_query (TvStore *store, const char *sql, const char *like, guint64 *out, GError **error)
{
  sqlite3_stmt *st = NULL;
  sqlite3 *db = tv_store_private_db (store);
  gboolean ok = sqlite3_prepare_v2 (db, sql, -1, &st, NULL) == SQLITE_OK
                && (like == NULL || sqlite3_bind_text (st, 1, like, -1, SQLITE_TRANSIENT) == SQLITE_OK)
                && sqlite3_step (st) == SQLITE_ROW;
  if (ok)
    *out = (guint64) sqlite3_column_int64 (st, 0);
  else
    tv_store_private_db_error (store, error, "counting sealed values");
  sqlite3_finalize (st);
  return ok;
}

gboolean
tv_store_sealed_count (TvStore *store, guint key_id, guint64 *n_with_key, guint64 *n_plain, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_autoptr (GPtrArray) cols = all_columns (store);
  g_autofree char *like = key_id == 0 ? g_strdup (TV_STORE_SEAL_PREFIX "%")
                                      : g_strdup_printf (TV_STORE_SEAL_PREFIX "%u:%%", key_id);
  guint64 with = 0, plain = 0;
  for (guint i = 0; i < cols->len; i++) {
    const TvSealedColumn *c = g_ptr_array_index (cols, i);
    g_autofree char *q1 = g_strdup_printf ("SELECT count(*) FROM \"%s\" WHERE \"%s\" LIKE ?1", c->table, c->column);
    g_autofree char *q2 = g_strdup_printf ("SELECT count(*) FROM \"%s\" WHERE \"%s\" IS NOT NULL AND \"%s\" NOT LIKE '"
                                           TV_STORE_SEAL_PREFIX "%%'", c->table, c->column, c->column);
    guint64 a = 0, b = 0;
    if (!count_query (store, q1, like, &a, error) || !count_query (store, q2, NULL, &b, error))
      return FALSE;
    with += a;
    plain += b;
  }
  if (n_with_key != NULL)
    *n_with_key = with;
  if (n_plain != NULL)
    *n_plain = plain;
  return TRUE;
}

/* One batch of one column: rows after *@last_rowid not sealed with @kid.
 * Sets *@n_done to the rows changed (0: column finished). One transaction. */
static gboolean
rekey_batch (TvStore *store, const TvSealedColumn *c, TvDataKeys *keys, guint batch, gint64 *last_rowid,
             guint *n_done, GError **error)
{
  guint kid = tv_data_keys_current (keys);
  g_autofree char *sel = g_strdup_printf ("SELECT rowid, \"%s\", \"%s\" FROM \"%s\" WHERE rowid > ?1 AND \"%s\" IS NOT NULL"
                                          " AND \"%s\" NOT LIKE ?2 ORDER BY rowid LIMIT ?3",
                                          c->context_column, c->column, c->table, c->column, c->column);
  g_autofree char *upd = g_strdup_printf ("UPDATE \"%s\" SET \"%s\" = ?1 WHERE rowid = ?2", c->table, c->column);
  g_autofree char *like = g_strdup_printf (TV_STORE_SEAL_PREFIX "%u:%%", kid);
  sqlite3 *db = tv_store_private_db (store);
  sqlite3_stmt *s = NULL, *u = NULL;
  guint done = 0;
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (sqlite3_prepare_v2 (db, sel, -1, &s, NULL) != SQLITE_OK || sqlite3_prepare_v2 (db, upd, -1, &u, NULL) != SQLITE_OK) {
    tv_store_private_db_error (store, error, "rekey");
    goto fail;
  }
  sqlite3_bind_int64 (s, 1, *last_rowid);
  sqlite3_bind_text (s, 2, like, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int (s, 3, (int) batch);
  int rc;
  while ((rc = sqlite3_step (s)) == SQLITE_ROW) {
    gint64 rowid = sqlite3_column_int64 (s, 0);
    const char *id = (const char *) sqlite3_column_text (s, 1);
    const char *stored = (const char *) sqlite3_column_text (s, 2);
    g_autofree char *context = g_strdup_printf ("%s:%s", c->context_prefix, id != NULL ? id : "");
    /* Not sealed at all (written before encryption): seal it as it is. A value
     * that starts like a sealed one must open with this ring (no reload mid-run). */
    guint old_kid = 0;
    const char *b64 = NULL;
    char *plain = !g_str_has_prefix (stored, TV_STORE_SEAL_PREFIX) ? g_strdup (stored)
                  : parse_stored (stored, &old_kid, &b64) ? unseal_with_ring (store, keys, old_kid, b64, context, error)
                  : NULL;
    if (plain == NULL && b64 == NULL && g_str_has_prefix (stored, TV_STORE_SEAL_PREFIX))
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "%s: stored value is damaged (bad header)", context);
    if (plain == NULL)
      goto fail;
    g_autofree char *sealed = seal_with (tv_data_keys_lookup (keys, kid), kid, plain, context, error);
    OPENSSL_cleanse (plain, strlen (plain));
    g_free (plain);
    if (sealed == NULL)
      goto fail;
    sqlite3_bind_text (u, 1, sealed, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (u, 2, rowid);
    if (sqlite3_step (u) != SQLITE_DONE) {
      tv_store_private_db_error (store, error, "rekey: update");
      goto fail;
    }
    sqlite3_reset (u);
    *last_rowid = rowid;
    done++;
  }
  if (rc != SQLITE_DONE) {
    tv_store_private_db_error (store, error, "rekey: select");
    goto fail;
  }
  sqlite3_finalize (s);
  sqlite3_finalize (u);
  if (!tv_store_private_commit (store, error))
    goto fail_rolled;
  *n_done = done;
  return TRUE;
fail:
  sqlite3_finalize (s);
  sqlite3_finalize (u);
fail_rolled:
  tv_store_private_rollback (store);
  return FALSE;
}

gboolean
tv_store_rekey (TvStore *store, guint batch, guint64 *n_changed, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (batch < 1 || batch > 100000) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "rekey batch size %u: must be 1..100000", batch);
    return FALSE;
  }
  g_autoptr (GError) local = NULL;
  TvDataKeys *keys = ring (store, TRUE, &local);
  if (keys == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO, "rekey: %s", local->message);
    return FALSE;
  }
  g_autoptr (GPtrArray) cols = all_columns (store);
  guint64 total = 0;
  for (guint i = 0; i < cols->len; i++) {
    const TvSealedColumn *c = g_ptr_array_index (cols, i);
    gint64 last = G_MININT64;
    for (;;) {
      guint n = 0;
      if (!rekey_batch (store, c, keys, batch, &last, &n, error)) {
        if (n_changed != NULL)
          *n_changed = total;
        return FALSE;
      }
      total += n;
      if (n < batch)
        break;
    }
  }
  if (n_changed != NULL)
    *n_changed = total;
  return TRUE;
}
