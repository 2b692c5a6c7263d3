/* test-seal.c — encryption at rest: sealed columns, the key file, rotation.
 *
 * Why: "the notes are encrypted" is only true if the plaintext is absent from
 * the bytes on disk (database file AND its -wal), values still open after a
 * restart, and tampering, a value moved to another row, a missing key or a
 * key file others can read all fail with a clear error. Rotation must move
 * every value to the new key so the old one can be retired.
 * White-box: the cases use a table of their own, registered as a sealed column
 * for the test (tv_store_seal_add_column_for_testing), and write it through
 * tv_store_private_seal like an area file does; the registry's real rows are
 * checked against the schema. televisitctl keys is run as a real process.
 * Thread: main thread only; each case under a watchdog.
 */
#define G_LOG_DOMAIN "test-seal"
#define _GNU_SOURCE   /* memmem */

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "server/tv-data-key.h"
#include "server/tv-roles.h"
#include "server/tv-store-billing.h"
#include "server/tv-store-chat.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-private.h"
#include "server/tv-store-seal.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define N_NOTES 40
/* Synthetic: nobody's note. */
#define SECRET "Synthetic note: Quorvin Plaxbury reports mild headache"

static const TvSealedColumn TEST_COLUMN = { "test_notes", "note", "id", "test_notes.note" };

typedef struct {
  const char *dir;
  char *db;
  char *keys;
  TvStore *store;
} Fx;

static void
exec_ok (TvStore *store, const char *sql)
{
  char *err = NULL;
  int rc = sqlite3_exec (tv_store_private_db (store), sql, NULL, NULL, &err);
  if (rc != SQLITE_OK)
    g_error ("%s: %s", sql, err);
}

static TvStore *
open_store (Fx *f)
{
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (f->db, &error);
  g_assert_no_error (error);
  tv_store_seal_add_column_for_testing (store, &TEST_COLUMN);
  return store;
}

static void
fx_setup (Fx *f, gconstpointer data)
{
  tv_test_watchdog_start (60, g_test_get_path ());
  f->dir = tv_test_tmpdir ();
  f->db = g_build_filename (f->dir, "televisit.db", NULL);
  f->keys = g_build_filename (f->dir, "keys", "data.keys", NULL);
  f->store = open_store (f);
  exec_ok (f->store, "CREATE TABLE test_notes (id TEXT NOT NULL, note TEXT)");
}

static void
fx_teardown (Fx *f, gconstpointer data)
{
  tv_store_close (f->store);
  g_free (f->db);
  g_free (f->keys);
  tv_test_watchdog_stop ();
}

static char *
context_of (const char *id)
{
  return g_strdup_printf ("test_notes.note:%s", id);
}

/* Seals and inserts note @i (id "note-<i>"). */
static void
insert_note (TvStore *store, guint i, const char *text)
{
  g_autofree char *id = g_strdup_printf ("note-%u", i);
  g_autofree char *ctx = context_of (id);
  g_autoptr (GError) error = NULL;
  g_autofree char *sealed = tv_store_private_seal (store, text, ctx, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (sealed, TV_STORE_SEAL_PREFIX));
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (tv_store_private_db (store), "INSERT INTO test_notes VALUES (?1, ?2)", -1,
                                       &st, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, sealed, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_DONE);
  sqlite3_finalize (st);
}

/* Returns: (transfer full) the stored text of row @id. */
static char *
stored_of (TvStore *store, const char *id)
{
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (tv_store_private_db (store), "SELECT note FROM test_notes WHERE id = ?1", -1,
                                       &st, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  char *v = g_strdup ((const char *) sqlite3_column_text (st, 0));
  sqlite3_finalize (st);
  return v;
}

/* Returns: (transfer full) the stored (sealed) text of note @i. */
static char *
stored_note (TvStore *store, guint i)
{
  g_autofree char *id = g_strdup_printf ("note-%u", i);
  return stored_of (store, id);
}

static char *
note_text (guint i)
{
  return g_strdup_printf (SECRET " #%u", i);
}

static void
check_all_open (TvStore *store)
{
  for (guint i = 0; i < N_NOTES; i++) {
    g_autofree char *id = g_strdup_printf ("note-%u", i);
    g_autofree char *ctx = context_of (id);
    g_autofree char *stored = stored_note (store, i);
    g_autoptr (GError) error = NULL;
    g_autofree char *plain = tv_store_private_unseal (store, stored, ctx, &error);
    g_assert_no_error (error);
    g_autofree char *want = note_text (i);
    g_assert_cmpstr (plain, ==, want);
  }
}

static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, NULL))
    return FALSE;
  return memmem (data, len, needle, strlen (needle)) != NULL;
}

/* ---- cases --------------------------------------------------------------- */

/* Plaintext absent from the database and its -wal; the key file is made
 * owner-only next to the database; values open again after a restart. */
static void
test_at_rest (Fx *f, gconstpointer data)
{
  for (guint i = 0; i < N_NOTES; i++) {
    g_autofree char *text = note_text (i);
    insert_note (f->store, i, text);
  }
  /* A control value stored in clear in the same table: the scan does see text. */
  exec_ok (f->store, "INSERT INTO test_notes VALUES ('control-Vexmoor-Clear', NULL)");
  g_autofree char *wal = g_strconcat (f->db, "-wal", NULL);
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_assert_true (file_contains (wal, "control-Vexmoor-Clear") || file_contains (f->db, "control-Vexmoor-Clear"));
  g_assert_false (file_contains (wal, "Quorvin"));
  g_assert_false (file_contains (f->db, "Quorvin"));
  g_assert_false (file_contains (wal, "headache"));

  struct stat st;
  g_assert_cmpint (g_stat (f->keys, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_autofree char *kdir = g_path_get_dirname (f->keys);
  g_assert_cmpint (g_stat (kdir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  g_assert_false (file_contains (f->keys, "Quorvin"));
  g_autofree char *s0 = stored_note (f->store, 0);
  g_assert_true (g_str_has_prefix (s0, "tvenc1:1:"));
  /* Same plaintext twice: different ciphertexts (random nonce). */
  g_autofree char *again = tv_store_private_seal (f->store, SECRET " #0", "test_notes.note:note-0", NULL);
  g_assert_cmpstr (again, !=, s0);

  /* Checkpoint the WAL into the file, then scan the file again. */
  exec_ok (f->store, "PRAGMA wal_checkpoint(TRUNCATE)");
  g_assert_false (file_contains (f->db, "Quorvin"));
  g_assert_true (file_contains (f->db, "control-Vexmoor-Clear"));

  tv_store_close (f->store);
  f->store = open_store (f);
  check_all_open (f->store);
  guint64 n1 = 0, plain = 9;
  g_assert_true (tv_store_sealed_count (f->store, 1, &n1, &plain, NULL));
  g_assert_cmpuint (n1, ==, N_NOTES);
  g_assert_cmpuint (plain, ==, 0);
}

/* Tampered ciphertext, another row's context, an unencrypted value: errors
 * that name the context and never show the plaintext. */
static void
test_tamper (Fx *f, gconstpointer data)
{
  insert_note (f->store, 0, SECRET);
  insert_note (f->store, 1, SECRET " other");
  g_autofree char *stored = stored_note (f->store, 0);
  g_autoptr (GError) error = NULL;

  /* One bit flipped in the ciphertext part (past "tvenc1:1:" and the nonce). */
  g_autofree char *bad = g_strdup (stored);
  gsize at = strlen ("tvenc1:1:") + 20;
  bad[at] = bad[at] == 'A' ? 'B' : 'A';
  char *plain = tv_store_private_unseal (f->store, bad, "test_notes.note:note-0", &error);
  g_assert_null (plain);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_assert_nonnull (strstr (error->message, "test_notes.note:note-0"));
  g_assert_null (strstr (error->message, "Quorvin"));
  g_clear_error (&error);

  /* Copied to another row: the context (AAD) differs. */
  plain = tv_store_private_unseal (f->store, stored, "test_notes.note:note-1", &error);
  g_assert_null (plain);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_assert_nonnull (strstr (error->message, "does not open"));
  g_clear_error (&error);

  /* A different key id in the header (AAD covers it too). */
  g_autofree char *other_kid = g_strconcat ("tvenc1:7:", stored + strlen ("tvenc1:1:"), NULL);
  plain = tv_store_private_unseal (f->store, other_kid, "test_notes.note:note-0", &error);
  g_assert_null (plain);
  g_assert_nonnull (strstr (error->message, "key 7 is not in the data key file"));
  g_clear_error (&error);

  /* Truncated; not encrypted at all. */
  plain = tv_store_private_unseal (f->store, "tvenc1:1:AAAA", "test_notes.note:note-0", &error);
  g_assert_null (plain);
  g_assert_nonnull (strstr (error->message, "damaged"));
  g_clear_error (&error);
  plain = tv_store_private_unseal (f->store, "hello", "test_notes.note:note-0", &error);
  g_assert_null (plain);
  g_assert_nonnull (strstr (error->message, "not encrypted"));
  g_clear_error (&error);

  /* NULL stays NULL; the empty string round-trips. */
  g_assert_null (tv_store_private_seal (f->store, NULL, "x", NULL));
  g_autofree char *e = tv_store_private_seal (f->store, "", "test_notes.note:e", &error);
  g_assert_no_error (error);
  g_autofree char *e2 = tv_store_private_unseal (f->store, e, "test_notes.note:e", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (e2, ==, "");
}

/* A missing key file: reads fail clearly, and no new key is made while the
 * database holds sealed values. A group-readable file is refused. */
static void
test_missing_and_permissions (Fx *f, gconstpointer data)
{
  insert_note (f->store, 0, SECRET);
  tv_store_close (f->store);
  g_autofree char *moved = g_strconcat (f->keys, ".bak", NULL);
  g_assert_cmpint (g_rename (f->keys, moved), ==, 0);
  f->store = open_store (f);
  g_autofree char *stored = stored_note (f->store, 0);
  g_autoptr (GError) error = NULL;
  g_assert_null (tv_store_private_unseal (f->store, stored, "test_notes.note:note-0", &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_assert_nonnull (strstr (error->message, "test_notes.note:note-0"));
  g_assert_nonnull (strstr (error->message, "No such file"));
  g_clear_error (&error);
  g_assert_null (tv_store_private_seal (f->store, "new", "test_notes.note:note-9", &error));
  g_assert_nonnull (strstr (error->message, "is missing but the database holds 1 encrypted values"));
  g_clear_error (&error);
  g_assert_false (g_file_test (f->keys, G_FILE_TEST_EXISTS));

  /* Restored but group-readable: refused, with the reason. */
  g_assert_cmpint (g_rename (moved, f->keys), ==, 0);
  g_assert_cmpint (g_chmod (f->keys, 0640), ==, 0);
  g_assert_null (tv_store_private_unseal (f->store, stored, "test_notes.note:note-0", &error));
  g_assert_nonnull (strstr (error->message, "mode 0640"));
  g_assert_nonnull (strstr (error->message, "group and others must have no access"));
  g_clear_error (&error);
  g_assert_false (tv_store_set_data_key_file (f->store, f->keys, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_clear_error (&error);
  g_assert_cmpint (g_chmod (f->keys, 0604), ==, 0);
  g_assert_null (tv_store_private_unseal (f->store, stored, "test_notes.note:note-0", &error));
  g_clear_error (&error);

  /* Owner-only again: opens. */
  g_assert_cmpint (g_chmod (f->keys, 0600), ==, 0);
  g_assert_true (tv_store_set_data_key_file (f->store, f->keys, &error));
  g_assert_no_error (error);
  g_autofree char *plain = tv_store_private_unseal (f->store, stored, "test_notes.note:note-0", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (plain, ==, SECRET);
}

/* Rotation while the store is open, rekey in small batches (plaintext rows
 * too), retire the old key: every value readable, none uses key 1. */
static void
test_rotation (Fx *f, gconstpointer data)
{
  for (guint i = 0; i < N_NOTES; i++) {
    g_autofree char *text = note_text (i);
    insert_note (f->store, i, text);
  }
  /* Two legacy values written before encryption existed. */
  exec_ok (f->store, "INSERT INTO test_notes VALUES ('legacy-1', 'Synthetic legacy note Quorvin')");
  exec_ok (f->store, "INSERT INTO test_notes VALUES ('legacy-2', NULL)");

  g_autoptr (GError) error = NULL;
  guint new_id = 0;
  g_assert_true (tv_data_keys_rotate (f->keys, &new_id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (new_id, ==, 2);
  /* The open store sees the rotation at its next seal. */
  g_autofree char *fresh = tv_store_private_seal (f->store, "x", "test_notes.note:y", &error);
  g_assert_true (g_str_has_prefix (fresh, "tvenc1:2:"));
  check_all_open (f->store);

  /* Retiring the current key is refused; key 1 still has values. */
  g_assert_false (tv_data_keys_retire (f->keys, 2, &error));
  g_assert_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IN_USE);
  g_clear_error (&error);
  guint64 n1 = 0, plain = 0;
  g_assert_true (tv_store_sealed_count (f->store, 1, &n1, &plain, &error));
  g_assert_cmpuint (n1, ==, N_NOTES);
  g_assert_cmpuint (plain, ==, 1);

  guint64 changed = 0;
  g_assert_true (tv_store_rekey (f->store, 7, &changed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (changed, ==, N_NOTES + 1);
  g_assert_true (tv_store_sealed_count (f->store, 1, &n1, &plain, &error));
  g_assert_cmpuint (n1, ==, 0);
  g_assert_cmpuint (plain, ==, 0);
  guint64 n2 = 0;
  g_assert_true (tv_store_sealed_count (f->store, 2, &n2, NULL, &error));
  g_assert_cmpuint (n2, ==, N_NOTES + 1);
  /* A second run has nothing to do. */
  g_assert_true (tv_store_rekey (f->store, 7, &changed, &error));
  g_assert_cmpuint (changed, ==, 0);

  g_assert_true (tv_data_keys_retire (f->keys, 1, &error));
  g_assert_no_error (error);
  g_assert_false (file_contains (f->keys, "key-1="));
  struct stat st;
  g_assert_cmpint (g_stat (f->keys, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  tv_store_close (f->store);
  f->store = open_store (f);
  check_all_open (f->store);
  g_autofree char *legacy = stored_of (f->store, "legacy-1");
  g_autofree char *lp = tv_store_private_unseal (f->store, legacy, "test_notes.note:legacy-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lp, ==, "Synthetic legacy note Quorvin");
  exec_ok (f->store, "PRAGMA wal_checkpoint(TRUNCATE)");
  g_assert_false (file_contains (f->db, "Quorvin"));
}

/* A value that does not open stops rekey; earlier batches stay, nothing half-done. */
static void
test_rekey_damaged (Fx *f, gconstpointer data)
{
  for (guint i = 0; i < 5; i++)
    insert_note (f->store, i, SECRET);
  exec_ok (f->store, "UPDATE test_notes SET note = (SELECT note FROM test_notes WHERE id = 'note-0') WHERE id = 'note-3'");
  g_assert_true (tv_data_keys_rotate (f->keys, NULL, NULL));
  g_autoptr (GError) error = NULL;
  guint64 changed = 99;
  g_assert_false (tv_store_rekey (f->store, 2, &changed, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_assert_nonnull (strstr (error->message, "test_notes.note:note-3"));
  g_assert_cmpuint (changed, ==, 2);   /* the first batch (note-0, note-1) committed */
  guint64 n1 = 0;
  g_assert_true (tv_store_sealed_count (f->store, 1, &n1, NULL, NULL));
  g_assert_cmpuint (n1, ==, 3);   /* note-2 (rolled back with note-3), note-3, note-4 */
}

/* Malformed key files are refused with a message naming the problem. */
static void
test_key_file_errors (void)
{
  tv_test_watchdog_start (30, "key file errors");
  const char *dir = tv_test_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "k", NULL);
  const char *good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  struct { const char *text; const char *msg; } cases[] = {
    { "[keys]\nkey-1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "no \"current\"" },
    { "[keys]\ncurrent=2\nkey-1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "there is no key-2" },
    { "[keys]\ncurrent=1\nkey-1=AAECAw==\n", "not the base64 of 32 bytes" },
    { "[keys]\ncurrent=1\nkey-01=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "unknown key \"key-01\"" },
    { "[keys]\ncurrent=x\n", "current: not a key id" },
    { "[other]\ncurrent=1\n", "exactly one group" },
    { "not a key file", "data key file" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_assert_true (g_file_set_contents_full (path, cases[i].text, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
    g_autoptr (GError) error = NULL;
    g_assert_null (tv_data_keys_load (path, &error));
    g_assert_error (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_INVALID);
    if (strstr (error->message, cases[i].msg) == NULL)
      g_error ("case %u: \"%s\" lacks \"%s\"", i, error->message, cases[i].msg);
    g_assert_null (strstr (error->message, good));
  }
  g_autofree char *ok = g_strdup_printf ("[keys]\ncurrent = 1\nkey-1 = %s\n", good);
  g_assert_true (g_file_set_contents_full (path, ok, -1, G_FILE_SET_CONTENTS_NONE, 0600, NULL));
  g_autoptr (TvDataKeys) keys = tv_data_keys_load (path, NULL);
  g_assert_nonnull (keys);
  g_assert_cmpuint (tv_data_keys_current (keys), ==, 1);
  g_assert_cmpuint (tv_data_keys_lookup (keys, 1)[31], ==, 31);
  /* create never overwrites. */
  g_autoptr (GError) error = NULL;
  g_assert_false (tv_data_keys_create (path, &error));
  g_assert_nonnull (strstr (error->message, "exists"));
  tv_test_watchdog_stop ();
}

/* An in-memory store seals with an in-memory key. */
static void
test_memory (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (":memory:", &error);
  g_assert_no_error (error);
  g_assert_null (tv_store_get_data_key_file (store));
  g_autofree char *s = tv_store_private_seal (store, SECRET, "a:b", &error);
  g_assert_no_error (error);
  g_autofree char *p = tv_store_private_unseal (store, s, "a:b", &error);
  g_assert_cmpstr (p, ==, SECRET);
}

/* Every registry row names an existing column of a rowid table. */
static void
test_registry (void)
{
  const char *dir = tv_test_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvStore) store = tv_store_open (db, &error);
  g_assert_no_error (error);
  guint n = 0;
  const TvSealedColumn *cols = tv_store_sealed_columns (&n);
  for (guint i = 0; i < n; i++) {
    g_autofree char *sql = g_strdup_printf ("SELECT rowid, \"%s\", \"%s\" FROM \"%s\" LIMIT 1", cols[i].column,
                                            cols[i].context_column, cols[i].table);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (tv_store_private_db (store), sql, -1, &st, NULL) != SQLITE_OK)
      g_error ("registry row %s.%s: %s", cols[i].table, cols[i].column, sqlite3_errmsg (tv_store_private_db (store)));
    sqlite3_finalize (st);
    g_autofree char *prefix = g_strdup_printf ("%s.%s", cols[i].table, cols[i].column);
    g_assert_cmpstr (cols[i].context_prefix, ==, prefix);
  }
  guint64 with = 1, plain = 1;
  g_assert_true (tv_store_sealed_count (store, 0, &with, &plain, &error));
  g_assert_cmpuint (with + plain, ==, 0);
  g_test_message ("%u registered sealed columns", n);
}


/* Runs televisitctl (or, with @server, televisit-server under `timeout`) with
 * @args; returns its exit status, *@out / *@err (transfer full) its output. */
static int
run_tool (gboolean server, const char *const *args, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  if (server) {
    g_ptr_array_add (argv, g_strdup ("timeout"));
    g_ptr_array_add (argv, g_strdup ("20"));
  }
  g_ptr_array_add (argv, g_build_filename (tv_test_build_dir (), server ? "televisit-server" : "televisitctl", NULL));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);
  int status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, &status,
                               &error));
  g_assert_no_error (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

#define CTL(...) run_tool (FALSE, (const char *const[]) { "--data-dir", dir, __VA_ARGS__, NULL }, &out, &err)

/* The real thing: the server makes the key file at start; visit notes
 * (consult_facts.note, billing's store API), chat messages (consult_chat, the
 * chat area's) and a patient's e-mail and phone (user_contacts, reminders')
 * are sealed; televisitctl keys
 * status / rotate / rekey / retire move them to a new key; a group-readable
 * key file stops the server and televisitctl. */
static void
test_ctl_rotation (void)
{
  tv_test_watchdog_start (90, "ctl rotation");
  const char *dir = tv_test_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autofree char *keys = g_build_filename (dir, "keys", "data.keys", NULL);
  TvTestServer *server = tv_test_server_start (dir, NULL);
  g_assert_cmpint (tv_test_server_stop (server, 10000), ==, 0);
  tv_test_server_free (server);
  struct stat st;
  g_assert_cmpint (g_stat (keys, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  const guint n = 5;
  g_autofree char *patient = tv_test_create_user (dir, "pat.quorvin", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvStore) store = tv_store_open (db, &error);
    g_assert_no_error (error);
    gint64 now = g_get_real_time ();
    for (guint i = 0; i < n; i++) {
      g_autoptr (TvConsult) c = NULL;
      g_autofree char *dt = NULL, *pt = NULL;
      g_assert_true (tv_store_consult_create (store, "Dr. Test Doctor", "Pat Synthetic", now + (gint64) G_USEC_PER_SEC * 3600,
                                              now + (gint64) G_USEC_PER_SEC * 7200, now, &c, &dt, &pt, &error));
      g_autofree char *note = g_strdup_printf (SECRET " visit %u", i);
      TvConsultFacts facts = { .note = note };
      g_assert_true (tv_store_consult_facts_set (store, c->id, &facts, TV_FACTS_NOTE, "consult-doctor", now, NULL,
                                                 &error));
      g_assert_no_error (error);
      g_ptr_array_add (ids, g_strdup (c->id));
      /* Two chat messages per consult (the chat area's store API). */
      for (guint k = 0; k < 2; k++) {
        g_autofree char *chat = g_strdup_printf ("Synthetic chat %u.%u: Quorvin Plaxbury can hear you", i, k);
        g_assert_true (tv_store_chat_add (store, c->id, k == 0 ? "patient" : "doctor", now + k + 1, chat, NULL, &error));
        g_assert_no_error (error);
      }
    }
    /* A patient's contact details (reminders' store API): two more sealed values. */
    g_assert_true (tv_store_contact_set (store, patient, "quorvin.plaxbury@example.test", "+1 555 0100 77", now,
                                         &error));
    g_assert_no_error (error);
    g_autofree char *wal = g_strconcat (db, "-wal", NULL);
    g_assert_false (file_contains (db, "Quorvin"));
    g_assert_false (file_contains (wal, "Quorvin"));
    g_assert_false (file_contains (db, "quorvin.plaxbury"));
    g_assert_false (file_contains (wal, "quorvin.plaxbury"));
    g_assert_false (file_contains (wal, "555 0100 77"));
  }

  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (CTL ("keys", "status"), ==, 0);
  g_assert_nonnull (strstr (out, "key 1: 17 values (current)"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "retire", "1"), ==, 3);
  g_assert_nonnull (strstr (err, "still seals 17 values"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "rotate"), ==, 0);
  g_assert_nonnull (strstr (out, "key 2 added"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "retire", "2"), ==, 3);
  g_assert_nonnull (strstr (err, "current key"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "rekey", "--batch", "2"), ==, 0);
  g_assert_nonnull (strstr (out, "17 values re-encrypted with key 2"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "retire", "1"), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "status"), ==, 0);
  g_assert_nonnull (strstr (out, "key 2: 17 values (current)"));
  g_assert_null (strstr (out, "key 1:"));
  g_assert_false (file_contains (keys, "key-1="));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "retire", "x"), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tv_test_store_int (dir, "SELECT count(*) FROM audit WHERE action LIKE 'ctl.keys-%'"), >=, 7);

  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvStore) store = tv_store_open (db, &error);
    for (guint i = 0; i < n; i++) {
      g_autoptr (TvConsultFacts) f = NULL;
      g_assert_true (tv_store_consult_facts_get (store, g_ptr_array_index (ids, i), &f, &error));
      g_assert_no_error (error);
      g_autofree char *want = g_strdup_printf (SECRET " visit %u", i);
      g_assert_cmpstr (f->note, ==, want);
      g_autoptr (GPtrArray) chat = tv_store_chat_list (store, g_ptr_array_index (ids, i), &error);
      g_assert_no_error (error);
      g_assert_cmpuint (chat->len, ==, 2);
      g_autofree char *want_chat = g_strdup_printf ("Synthetic chat %u.1: Quorvin Plaxbury can hear you", i);
      g_assert_cmpstr (((TvChatMessage *) g_ptr_array_index (chat, 1))->text, ==, want_chat);
    }
    g_autoptr (TvContact) contact = NULL;
    g_assert_true (tv_store_contact_get (store, patient, &contact, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (contact->email, ==, "quorvin.plaxbury@example.test");
    g_assert_cmpstr (contact->phone, ==, "+1 555 0100 77");
  }

  /* Group-readable: the server does not start, televisitctl keys refuses. */
  g_assert_cmpint (g_chmod (keys, 0640), ==, 0);
  const char *sargs[] = { "--data-dir", dir, "--listen", "127.0.0.1", "--port", "0", NULL };
  int code = run_tool (TRUE, sargs, &out, &err);
  g_assert_cmpint (code, !=, 0);
  g_assert_cmpint (code, !=, 124);   /* exited by itself, not by timeout */
  g_assert_nonnull (strstr (err, "mode 0640"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (CTL ("keys", "status"), ==, 2);
  g_assert_nonnull (strstr (err, "group and others must have no access"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  tv_test_watchdog_stop ();
}

/* Eight `televisitctl keys rotate` at once: every one adds its own key (none
 * writes over another's), the last id is current. */
static void
test_concurrent_rotate (void)
{
  tv_test_watchdog_start (60, "concurrent rotate");
  const char *dir = tv_test_tmpdir ();
  g_autofree char *db = g_build_filename (dir, "televisit.db", NULL);
  g_autofree char *keys = g_build_filename (dir, "keys", "data.keys", NULL);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvStore) store = tv_store_open (db, &error);
    g_assert_no_error (error);
    g_assert_true (tv_store_set_data_key_file (store, keys, &error));
  }
  g_autofree char *ctl = g_build_filename (tv_test_build_dir (), "televisitctl", NULL);
  GSubprocess *procs[8];
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++) {
    g_autoptr (GError) error = NULL;
    procs[i] = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, ctl, "--data-dir", dir, "keys", "rotate",
                                 NULL);
    g_assert_no_error (error);
  }
  for (guint i = 0; i < G_N_ELEMENTS (procs); i++) {
    g_assert_true (g_subprocess_wait_check (procs[i], NULL, NULL));
    g_object_unref (procs[i]);
  }
  g_autoptr (TvDataKeys) ring = tv_data_keys_load (keys, NULL);
  g_assert_nonnull (ring);
  g_autoptr (GArray) ids = tv_data_keys_ids (ring);
  g_assert_cmpuint (ids->len, ==, 9);
  g_assert_cmpuint (g_array_index (ids, guint, 8), ==, 9);
  g_assert_cmpuint (tv_data_keys_current (ring), ==, 9);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add ("/seal/at-rest", Fx, NULL, fx_setup, test_at_rest, fx_teardown);
  g_test_add ("/seal/tamper", Fx, NULL, fx_setup, test_tamper, fx_teardown);
  g_test_add ("/seal/missing-and-permissions", Fx, NULL, fx_setup, test_missing_and_permissions, fx_teardown);
  g_test_add ("/seal/rotation", Fx, NULL, fx_setup, test_rotation, fx_teardown);
  g_test_add ("/seal/rekey-damaged", Fx, NULL, fx_setup, test_rekey_damaged, fx_teardown);
  g_test_add_func ("/seal/key-file-errors", test_key_file_errors);
  g_test_add_func ("/seal/memory", test_memory);
  g_test_add_func ("/seal/registry", test_registry);
  g_test_add_func ("/seal/ctl-rotation", test_ctl_rotation);
  g_test_add_func ("/seal/concurrent-rotate", test_concurrent_rotate);
  return g_test_run ();
}
