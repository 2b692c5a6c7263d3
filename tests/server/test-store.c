/* test-store.c — tests of the SQLite session store (server/tv-store.h).
 *
 * What: schema creation and migration, file modes, WAL, refusal of newer
 * databases, consults, tokens (lookup, expiry, never stored in clear), every
 * consult transition, the participation log, and crash safety: a child process
 * (this binary run again) is made to _exit() in the middle of a transaction
 * (TV_STORE_FAULT) and the parent checks that the previous state is intact.
 * Thread: the test's main thread; crash tests wait for the child on a GMainLoop
 * with a timeout. Every test also runs under an alarm() watchdog.
 */
#define G_LOG_DOMAIN "test-store"
#define _GNU_SOURCE   /* memmem */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "server/tv-store.h"

#define WATCHDOG_S 30
#define CHILD_TIMEOUT_S 20
#define HOUR_US (G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC)
/* A fixed synthetic clock: 2025-06-15T12:00:00Z. */
#define T0 (G_GINT64_CONSTANT (1749988800) * G_USEC_PER_SEC)

#define DOCTOR "Dr. Test Doctor"
#define PATIENT "Pat Synthetic"

typedef struct {
  char *dir;
  char *path;
} Fixture;

static guint fault_notices;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  alarm (WATCHDOG_S);   /* default SIGALRM action kills a stuck test: prove reports it */
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("tv-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "televisit.db", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *p = g_build_filename (f->dir, name, NULL);
    g_remove (p);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
  alarm (0);
}

static TvStore *
open_ok (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
  return store;
}

static TvConsult *
create_ok (TvStore *store, const char *doctor, gint64 start, char **dtok, char **ptok)
{
  g_autoptr (GError) error = NULL;
  TvConsult *c = NULL;
  char *d = NULL, *p = NULL;
  gboolean ok = tv_store_consult_create (store, doctor, PATIENT, start, start + 24 * HOUR_US, T0, &c,
                                         &d, &p, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_nonnull (c);
  if (dtok != NULL)
    *dtok = d;
  else
    g_free (d);
  if (ptok != NULL)
    *ptok = p;
  else
    g_free (p);
  return c;
}

static TvConsult *
get_ok (TvStore *store, const char *id)
{
  g_autoptr (GError) error = NULL;
  TvConsult *c = NULL;
  g_assert_true (tv_store_consult_get (store, id, &c, &error));
  g_assert_no_error (error);
  return c;
}

/* Raw SQLite access, independent of the store, to look at what is on disk. */
static gint64
raw_int (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
  return v;
}

static char *
raw_text (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  char *v = g_strdup ((const char *) sqlite3_column_text (st, 0));
  sqlite3_finalize (st);
  sqlite3_close (db);
  return v;
}

static void
raw_exec (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), ==,
                   SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static guint
file_mode (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

/* ------------------------------------------------------------------------ */
/* Running a transition in a child that crashes inside the transaction       */

/* The child is this test binary run again as "--crash-child OP PATH [ID]" in
 * a fresh process (exec, not a bare fork: SQLite connections and their lock
 * bookkeeping must not be inherited across fork). */
typedef struct {
  GMainLoop *loop;
  gboolean done;
} ChildWait;

static void
child_waited (GObject *source, GAsyncResult *res, gpointer data)
{
  ChildWait *w = data;
  g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
  w->done = TRUE;
  g_main_loop_quit (w->loop);
}

static gboolean
child_timeout (gpointer data)
{
  ChildWait *w = data;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

/* Starts the child doing @op on @path (and @id), with TV_STORE_FAULT=@fault
 * (NULL: unset). Returns: (transfer full) the running child. */
static GSubprocess *
spawn_child (const char *path, const char *fault, const char *op, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (g_test_verbose () ? G_SUBPROCESS_FLAGS_NONE
                                                                                   : G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  if (fault != NULL)
    g_subprocess_launcher_setenv (launcher, "TV_STORE_FAULT", fault, TRUE);
  else
    g_subprocess_launcher_unsetenv (launcher, "TV_STORE_FAULT");
  GSubprocess *child = g_subprocess_launcher_spawn (launcher, &error, "/proc/self/exe", "--crash-child", op, path,
                                                    id != NULL ? id : "", NULL);
  g_assert_no_error (error);
  return child;
}

/* Waits (main loop, with a timeout that fails the test) for @child.
 * Returns: its exit code, -1 after a failed test (timeout or signal). */
static int
wait_child (GSubprocess *child, const char *what)
{
  ChildWait w = { g_main_loop_new (NULL, FALSE), FALSE };
  g_subprocess_wait_async (child, NULL, child_waited, &w);
  guint timer = g_timeout_add_seconds (CHILD_TIMEOUT_S, child_timeout, &w);
  g_main_loop_run (w.loop);
  if (!w.done) {
    g_subprocess_force_exit (child);
    while (!w.done)
      g_main_context_iteration (NULL, TRUE);
    g_main_loop_unref (w.loop);
    g_test_fail_printf ("child (%s) did not exit within %d s", what, CHILD_TIMEOUT_S);
    return -1;
  }
  g_source_remove (timer);
  g_main_loop_unref (w.loop);
  if (!g_subprocess_get_if_exited (child)) {
    g_test_fail_printf ("child (%s) died by a signal", what);
    return -1;
  }
  return g_subprocess_get_exit_status (child);
}

/* Runs the child with TV_STORE_FAULT=@fault doing @op on @path (and @id).
 * Returns: the child's exit code (99 when the fault point fired, 0 when the
 * operation returned normally), -1 after a failed test (timeout or signal). */
static int
run_crashing_child (const char *path, const char *fault, const char *op, const char *id)
{
  g_autoptr (GSubprocess) child = spawn_child (path, fault, op, id);
  return wait_child (child, fault);
}

#define HAMMER_ROWS 300

/* The child side: open the store (TV_STORE_FAULT read here) and run @op. */
static int
crash_child_main (const char *op, const char *path, const char *id)
{
  alarm (CHILD_TIMEOUT_S);
  TvStore *store = tv_store_open (path, NULL);
  TvConsult *c = NULL;
  char *d = NULL, *p = NULL;
  if (store == NULL)
    return strcmp (op, "open") == 0 ? 0 : 1;
  if (strcmp (op, "create") == 0)
    tv_store_consult_create (store, "Dr. Crash", PATIENT, T0, T0 + HOUR_US, T0, &c, &d, &p, NULL);
  else if (strcmp (op, "complete") == 0)
    tv_store_consult_complete (store, id, "ended-by-doctor", T0 + 100 * G_USEC_PER_SEC, NULL);
  else if (strcmp (op, "media-started") == 0)
    tv_store_consult_media_started (store, id, T0 + 5, NULL);
  else if (strcmp (op, "hammer") == 0) {
    /* Concurrent writer: every row must get in (busy timeout), exit 0 = all did. */
    for (int i = 0; i < HAMMER_ROWS; i++) {
      if (!tv_store_record_participation (store, id, TV_SIG_ROLE_PATIENT, TV_PART_MEDIA_UP, NULL, T0 + i, NULL)) {
        tv_store_close (store);
        return 1;
      }
    }
  }
  tv_store_close (store);
  return 0;   /* the fault point did not fire */
}

/* ------------------------------------------------------------------------ */
/* Opening, schema, migration                                                 */

static void
test_open_fresh (Fixture *f, gconstpointer data)
{
  mode_t old = umask (0);   /* the 0600 must come from the store, not from the umask */
  TvStore *store = open_ok (f);
  umask (old);

  g_assert_cmpint (tv_store_schema_version (store), ==, TV_STORE_SCHEMA_VERSION);
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, TV_STORE_SCHEMA_VERSION);
  g_autofree char *mode = raw_text (f->path, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                                     " ('consults', 'join_tokens', 'participation')"), ==, 3);

  /* Writing makes the -wal and -shm files exist; all three are private. */
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (f->path, "-shm", NULL);
  g_assert_cmphex (file_mode (f->path), ==, 0600);
  g_assert_cmphex (file_mode (wal), ==, 0600);
  g_assert_cmphex (file_mode (shm), ==, 0600);
  tv_store_close (store);
}

static void
test_open_reopen (Fixture *f, gconstpointer data)
{
  TvStore *store = open_ok (f);
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  tv_store_close (store);

  for (int i = 0; i < 3; i++) {
    store = open_ok (f);
    g_assert_cmpint (tv_store_schema_version (store), ==, TV_STORE_SCHEMA_VERSION);
    g_autoptr (TvConsult) again = get_ok (store, c->id);
    g_assert_cmpstr (again->doctor, ==, DOCTOR);
    tv_store_close (store);
  }
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM consults"), ==, 1);
}

static void
test_open_newer_refused (Fixture *f, gconstpointer data)
{
  g_autofree char *future = g_strdup_printf ("CREATE TABLE future (x); PRAGMA user_version = %d;",
                                             TV_STORE_SCHEMA_VERSION + 1);
  raw_exec (f->path, future);
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (f->path, &error);
  g_assert_null (store);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_SCHEMA);
  g_assert_nonnull (strstr (error->message, "newer"));
  /* Refused before anything was changed: still the future version, still not WAL. */
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, TV_STORE_SCHEMA_VERSION + 1);
  g_autofree char *mode = raw_text (f->path, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "delete");
}

static void
test_open_not_a_database (Fixture *f, gconstpointer data)
{
  g_assert_true (g_file_set_contents (f->path, "this is not an SQLite database, just some text....", -1, NULL));
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (f->path, &error);
  g_assert_null (store);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
}


static void
test_migrate_v0 (Fixture *f, gconstpointer data)
{
  /* A version-0 file (an older, empty database with some unrelated table). */
  raw_exec (f->path, "CREATE TABLE leftover (x INTEGER); INSERT INTO leftover VALUES (7);");
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, 0);

  /* A crash in the middle of the v0 -> v1 step leaves a v0 file with no new tables. */
  g_assert_cmpint (run_crashing_child (f->path, "migrate-after-step", "open", NULL), ==, 99);
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, 0);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'consults'"), ==, 0);

  /* The next open runs the step to completion; the old data is untouched. */
  TvStore *store = open_ok (f);
  g_assert_cmpint (tv_store_schema_version (store), ==, TV_STORE_SCHEMA_VERSION);
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  tv_store_close (store);
  g_assert_cmpint (raw_int (f->path, "PRAGMA user_version"), ==, TV_STORE_SCHEMA_VERSION);
  g_assert_cmpint (raw_int (f->path, "SELECT x FROM leftover"), ==, 7);
}

/* ------------------------------------------------------------------------ */
/* Consults                                                                   */

static void
test_consult_create_get_list (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autoptr (TvConsult) a = create_ok (store, "Dr. A", T0, NULL, NULL);
  g_autoptr (TvConsult) b = create_ok (store, "Dr. B", T0 + 2 * HOUR_US, NULL, NULL);
  g_autoptr (TvConsult) c = create_ok (store, "Dr. C", T0 + 1 * HOUR_US, NULL, NULL);

  g_assert_true (g_uuid_string_is_valid (a->id));
  g_assert_cmpstr (a->id, !=, b->id);

  g_autoptr (TvConsult) got = get_ok (store, b->id);
  g_assert_cmpstr (got->id, ==, b->id);
  g_assert_cmpstr (got->doctor, ==, "Dr. B");
  g_assert_cmpstr (got->patient, ==, PATIENT);
  g_assert_cmpint (got->scheduled_start, ==, T0 + 2 * HOUR_US);
  g_assert_cmpint (got->status, ==, TV_CONSULT_SCHEDULED);
  g_assert_cmpint (got->created_at, ==, T0);
  g_assert_cmpint (got->started_at, ==, 0);
  g_assert_cmpint (got->ended_at, ==, 0);
  g_assert_cmpint (got->connected_us, ==, 0);
  g_assert_cmpint (got->media_up_since, ==, 0);
  g_assert_null (got->end_reason);

  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tv_store_consult_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  /* Newest scheduled first. */
  g_assert_cmpstr (((TvConsult *) list->pdata[0])->id, ==, b->id);
  g_assert_cmpstr (((TvConsult *) list->pdata[1])->id, ==, c->id);
  g_assert_cmpstr (((TvConsult *) list->pdata[2])->id, ==, a->id);

  TvConsult *none = NULL;
  g_assert_false (tv_store_consult_get (store, "1b4e28ba-2fa1-41d2-883f-0016d3cca427", &none, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_assert_null (none);
}

static void
test_consult_create_invalid (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autofree char *long_name = g_strnfill (TV_STORE_MAX_NAME_BYTES + 1, 'x');
  g_autofree char *max_name = g_strnfill (TV_STORE_MAX_NAME_BYTES, 'x');
  const struct {
    const char *doctor, *patient;
    gint64 start, expires;
  } bad[] = {
    { "", PATIENT, T0, T0 + HOUR_US },
    { DOCTOR, "", T0, T0 + HOUR_US },
    { " \t ", PATIENT, T0, T0 + HOUR_US },
    { long_name, PATIENT, T0, T0 + HOUR_US },
    { DOCTOR, long_name, T0, T0 + HOUR_US },
    { "Dr. \xff\xfe", PATIENT, T0, T0 + HOUR_US },
    { "Dr. Test\nDoctor", PATIENT, T0, T0 + HOUR_US },
    { DOCTOR, PATIENT, 0, T0 + HOUR_US },
    { DOCTOR, PATIENT, T0, T0 },          /* tokens would be expired at creation */
    { DOCTOR, PATIENT, T0, T0 - HOUR_US },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    TvConsult *c = NULL;
    char *d = NULL, *p = NULL;
    g_assert_false (tv_store_consult_create (store, bad[i].doctor, bad[i].patient, bad[i].start,
                                             bad[i].expires, T0, &c, &d, &p, &error));
    g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
    g_assert_null (c);
    g_assert_null (d);
    g_assert_null (p);
  }
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM consults"), ==, 0);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM join_tokens"), ==, 0);

  /* Exactly 200 bytes and non-ASCII names are fine. */
  g_autoptr (TvConsult) ok = create_ok (store, max_name, T0, NULL, NULL);
  g_autoptr (TvConsult) ok2 = create_ok (store, "Dr. Zoë Tëst", T0, NULL, NULL);
  g_autoptr (TvConsult) got = get_ok (store, ok2->id);
  g_assert_cmpstr (got->doctor, ==, "Dr. Zoë Tëst");
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                     */

static void
assert_token_shape (const char *t)
{
  g_assert_cmpuint (strlen (t), ==, TV_STORE_TOKEN_CHARS);
  g_assert_cmpuint (strspn (t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), ==,
                    TV_STORE_TOKEN_CHARS);
  g_assert_true (tv_store_token_is_wellformed (t));
}

static void
test_token_lookup (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autofree char *dtok = NULL, *ptok = NULL;
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, &dtok, &ptok);
  assert_token_shape (dtok);
  assert_token_shape (ptok);
  g_assert_cmpstr (dtok, !=, ptok);

  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  TvSigRole role = TV_SIG_ROLE_NONE;
  g_assert_true (tv_store_token_lookup (store, dtok, T0 + HOUR_US, &id, &role, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, c->id);
  g_assert_cmpint (role, ==, TV_SIG_ROLE_DOCTOR);
  g_clear_pointer (&id, g_free);
  g_assert_true (tv_store_token_lookup (store, ptok, T0 + HOUR_US, &id, &role, &error));
  g_assert_cmpstr (id, ==, c->id);
  g_assert_cmpint (role, ==, TV_SIG_ROLE_PATIENT);
  g_clear_pointer (&id, g_free);

  /* Expired: start + 24 h (create_ok), at the instant and after. */
  g_assert_false (tv_store_token_lookup (store, dtok, T0 + 24 * HOUR_US, &id, &role, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED);
  g_clear_error (&error);
  g_assert_false (tv_store_token_lookup (store, ptok, T0 + 48 * HOUR_US, &id, &role, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED);
  g_clear_error (&error);

  /* Unknown: well-formed but never issued; one character changed. */
  g_autofree char *other = g_strdup (dtok);
  other[0] = other[0] == 'A' ? 'B' : 'A';
  g_assert_false (tv_store_token_lookup (store, other, T0, &id, &role, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN);
  g_clear_error (&error);

  /* Malformed: rejected as unknown without a query. */
  g_autofree char *longer = g_strconcat (dtok, "A", NULL);
  g_autofree char *shorter = g_strndup (dtok, TV_STORE_TOKEN_CHARS - 1);
  g_autofree char *padded = g_strconcat (shorter, "=", NULL);
  g_autofree char *plus = g_strdup (dtok);
  plus[5] = '+';
  const char *malformed[] = { "", "short", longer, shorter, padded, plus, "' OR 1=1 --", NULL };
  for (guint i = 0; i < G_N_ELEMENTS (malformed); i++) {
    g_assert_false (tv_store_token_is_wellformed (malformed[i]));
    g_assert_false (tv_store_token_lookup (store, malformed[i], T0, &id, &role, &error));
    g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN);
    g_assert_null (id);
    g_clear_error (&error);
  }

  /* Tokens are random: a second consult gets different ones. */
  g_autofree char *dtok2 = NULL, *ptok2 = NULL;
  g_autoptr (TvConsult) c2 = create_ok (store, DOCTOR, T0, &dtok2, &ptok2);
  g_assert_cmpstr (dtok2, !=, dtok);
  g_assert_cmpstr (ptok2, !=, ptok);
}

/* Returns: TRUE when @needle occurs in the bytes of file @path (missing file: FALSE). */
static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *bytes = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &bytes, &len, NULL))
    return FALSE;
  return memmem (bytes, len, needle, strlen (needle)) != NULL;
}

static void
test_token_not_in_clear (Fixture *f, gconstpointer data)
{
  TvStore *store = open_ok (f);
  g_autofree char *dtok = NULL, *ptok = NULL;
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, &dtok, &ptok);
  g_autofree char *dhash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, dtok, -1);
  g_autofree char *wal = g_strconcat (f->path, "-wal", NULL);

  /* While open the rows are in the WAL; the scan must find the hash (so it
   * looks in the right place) and never the token. */
  g_assert_true (file_contains (f->path, dhash) || file_contains (wal, dhash));
  g_assert_true (file_contains (f->path, c->id) || file_contains (wal, c->id));
  g_assert_false (file_contains (f->path, dtok) || file_contains (wal, dtok));
  g_assert_false (file_contains (f->path, ptok) || file_contains (wal, ptok));
  tv_store_close (store);

  /* After close everything is checkpointed into the main file. */
  g_assert_true (file_contains (f->path, dhash));
  g_assert_false (file_contains (f->path, dtok));
  g_assert_false (file_contains (f->path, ptok));
}

/* ------------------------------------------------------------------------ */
/* Transitions                                                                */

static void
test_transitions (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_autoptr (GError) error = NULL;
  const gint64 d1 = 90 * G_USEC_PER_SEC, d2 = 30 * G_USEC_PER_SEC, d3 = 15 * G_USEC_PER_SEC;

  /* Stopping with no interval open changes nothing. */
  g_assert_true (tv_store_consult_media_stopped (store, c->id, T0, &error));
  g_assert_no_error (error);
  {
    g_autoptr (TvConsult) g = get_ok (store, c->id);
    g_assert_cmpint (g->status, ==, TV_CONSULT_SCHEDULED);
    g_assert_cmpint (g->connected_us, ==, 0);
  }

  /* First interval. */
  const gint64 t1 = T0 + 60 * G_USEC_PER_SEC;
  g_assert_true (tv_store_consult_media_started (store, c->id, t1, &error));
  g_assert_no_error (error);
  {
    g_autoptr (TvConsult) g = get_ok (store, c->id);
    g_assert_cmpint (g->status, ==, TV_CONSULT_IN_PROGRESS);
    g_assert_cmpint (g->started_at, ==, t1);
    g_assert_cmpint (g->media_up_since, ==, t1);
    g_assert_cmpint (g->connected_us, ==, 0);
  }
  /* An interval is already open. */
  g_assert_false (tv_store_consult_media_started (store, c->id, t1 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);

  g_assert_true (tv_store_consult_media_stopped (store, c->id, t1 + d1, &error));
  {
    g_autoptr (TvConsult) g = get_ok (store, c->id);
    g_assert_cmpint (g->status, ==, TV_CONSULT_IN_PROGRESS);
    g_assert_cmpint (g->media_up_since, ==, 0);
    g_assert_cmpint (g->connected_us, ==, d1);
  }
  g_assert_true (tv_store_consult_media_stopped (store, c->id, t1 + d1 + 5, &error));   /* no-op */

  /* Second interval accumulates; started_at keeps the first start. */
  const gint64 t2 = t1 + d1 + 120 * G_USEC_PER_SEC;
  g_assert_true (tv_store_consult_media_started (store, c->id, t2, &error));
  g_assert_true (tv_store_consult_media_stopped (store, c->id, t2 + d2, &error));
  {
    g_autoptr (TvConsult) g = get_ok (store, c->id);
    g_assert_cmpint (g->started_at, ==, t1);
    g_assert_cmpint (g->connected_us, ==, d1 + d2);
  }

  /* Third interval left open; complete closes it. */
  const gint64 t3 = t2 + d2 + 10 * G_USEC_PER_SEC;
  g_assert_true (tv_store_consult_media_started (store, c->id, t3, &error));
  g_assert_true (tv_store_consult_complete (store, c->id, "ended-by-doctor", t3 + d3, &error));
  g_assert_no_error (error);
  {
    g_autoptr (TvConsult) g = get_ok (store, c->id);
    g_assert_cmpint (g->status, ==, TV_CONSULT_COMPLETED);
    g_assert_cmpint (g->connected_us, ==, d1 + d2 + d3);
    g_assert_cmpint (g->media_up_since, ==, 0);
    g_assert_cmpint (g->ended_at, ==, t3 + d3);
    g_assert_cmpstr (g->end_reason, ==, "ended-by-doctor");
    g_assert_cmpint (g->started_at, ==, t1);
  }

  /* Nothing moves a completed consult. */
  g_assert_false (tv_store_consult_complete (store, c->id, "both-left", t3 + d3 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_media_started (store, c->id, t3 + d3 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_cancel (store, c->id, "cancelled-by-admin", t3 + d3 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  g_assert_true (tv_store_consult_media_stopped (store, c->id, t3 + d3 + 1, &error));
  {
    g_autoptr (TvConsult) g = get_ok (store, c->id);
    g_assert_cmpint (g->connected_us, ==, d1 + d2 + d3);
    g_assert_cmpstr (g->end_reason, ==, "ended-by-doctor");
  }

  /* Unknown consult. */
  const char *unknown = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
  g_assert_false (tv_store_consult_media_started (store, unknown, T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_media_stopped (store, unknown, T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_complete (store, unknown, "ended-by-admin", T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);

  /* Completing a consult that never started; an empty reason is refused. */
  g_autoptr (TvConsult) s = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_assert_false (tv_store_consult_complete (store, s->id, "", T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_assert_true (tv_store_consult_complete (store, s->id, "ended-by-admin", T0 + 1, &error));
  {
    g_autoptr (TvConsult) g = get_ok (store, s->id);
    g_assert_cmpint (g->status, ==, TV_CONSULT_COMPLETED);
    g_assert_cmpint (g->started_at, ==, 0);
    g_assert_cmpint (g->connected_us, ==, 0);
  }
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) a = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_assert_true (tv_store_consult_cancel (store, a->id, "cancelled-by-admin", T0 + 5, &error));
  g_assert_no_error (error);
  {
    g_autoptr (TvConsult) g = get_ok (store, a->id);
    g_assert_cmpint (g->status, ==, TV_CONSULT_CANCELLED);
    g_assert_cmpint (g->ended_at, ==, T0 + 5);
    g_assert_cmpstr (g->end_reason, ==, "cancelled-by-admin");
  }
  g_assert_false (tv_store_consult_media_started (store, a->id, T0 + 6, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_complete (store, a->id, "ended-by-admin", T0 + 6, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);

  /* A consult whose media connected cannot be cancelled, only completed. */
  g_autoptr (TvConsult) b = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_assert_true (tv_store_consult_media_started (store, b->id, T0 + 1, &error));
  g_assert_false (tv_store_consult_cancel (store, b->id, "cancelled-by-admin", T0 + 2, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
  g_clear_error (&error);
  g_autoptr (TvConsult) g = get_ok (store, b->id);
  g_assert_cmpint (g->status, ==, TV_CONSULT_IN_PROGRESS);
}

/* ------------------------------------------------------------------------ */
/* Participation                                                              */

static void
test_participation (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_autoptr (TvConsult) other = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_autoptr (GError) error = NULL;
  const struct {
    gint64 at;
    TvSigRole role;
    TvParticipationEvent ev;
    const char *detail;
  } rows[] = {
    { T0 + 1, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL },
    { T0 + 2, TV_SIG_ROLE_PATIENT, TV_PART_JOIN, NULL },
    { T0 + 3, TV_SIG_ROLE_DOCTOR, TV_PART_MEDIA_UP, NULL },
    { T0 + 3, TV_SIG_ROLE_PATIENT, TV_PART_MEDIA_UP, NULL },   /* same instant: insertion order */
    { T0 + 9, TV_SIG_ROLE_PATIENT, TV_PART_LEAVE, "dropped" },
    { T0 + 7, TV_SIG_ROLE_PATIENT, TV_PART_MEDIA_DOWN, NULL }, /* recorded late: sorted by time */
  };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    g_assert_true (tv_store_record_participation (store, c->id, rows[i].role, rows[i].ev, rows[i].detail,
                                                  rows[i].at, &error));
    g_assert_no_error (error);
  }
  g_assert_true (tv_store_record_participation (store, other->id, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL,
                                                T0 + 4, &error));

  g_autoptr (GPtrArray) log = tv_store_participation_list (store, c->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log->len, ==, 6);
  const guint order[] = { 0, 1, 2, 3, 5, 4 };
  for (guint i = 0; i < log->len; i++) {
    const TvParticipation *p = log->pdata[i];
    g_assert_cmpint (p->at, ==, rows[order[i]].at);
    g_assert_cmpint (p->role, ==, rows[order[i]].role);
    g_assert_cmpint (p->event, ==, rows[order[i]].ev);
    g_assert_cmpstr (p->detail, ==, rows[order[i]].detail);
  }
  g_autoptr (GPtrArray) other_log = tv_store_participation_list (store, other->id, &error);
  g_assert_cmpuint (other_log->len, ==, 1);

  /* Refused, nothing written. */
  const char *unknown = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
  g_assert_false (tv_store_record_participation (store, unknown, TV_SIG_ROLE_DOCTOR, TV_PART_JOIN, NULL,
                                                 T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tv_store_record_participation (store, c->id, TV_SIG_ROLE_NONE, TV_PART_JOIN, NULL,
                                                 T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_autofree char *long_detail = g_strnfill (TV_STORE_MAX_DETAIL_BYTES + 1, 'd');
  g_assert_false (tv_store_record_participation (store, c->id, TV_SIG_ROLE_DOCTOR, TV_PART_LEAVE,
                                                 long_detail, T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM participation"), ==, 7);

  GPtrArray *none = tv_store_participation_list (store, unknown, &error);
  g_assert_null (none);
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
}

/* ------------------------------------------------------------------------ */
/* Crash safety and injected failures                                         */


static void
test_crash_create (Fixture *f, gconstpointer data)
{
  TvStore *store = open_ok (f);
  g_autoptr (TvConsult) before = create_ok (store, DOCTOR, T0, NULL, NULL);

  /* The server keeps its handle open while another process crashes mid-create. */
  g_assert_cmpint (run_crashing_child (f->path, "create-after-consult", "create", NULL), ==, 99);

  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = tv_store_consult_list (store, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((TvConsult *) list->pdata[0])->id, ==, before->id);
  tv_store_close (store);

  /* A fresh process view agrees: no consult row without its tokens. */
  store = open_ok (f);
  g_autoptr (GPtrArray) list2 = tv_store_consult_list (store, &error);
  g_assert_cmpuint (list2->len, ==, 1);
  tv_store_close (store);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM consults"), ==, 1);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM join_tokens"), ==, 2);
}


static void
test_crash_complete (Fixture *f, gconstpointer data)
{
  TvStore *store = open_ok (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  const gint64 t1 = T0 + 10 * G_USEC_PER_SEC;
  g_assert_true (tv_store_consult_media_started (store, c->id, t1, &error));
  g_assert_true (tv_store_consult_media_stopped (store, c->id, t1 + 20 * G_USEC_PER_SEC, &error));
  g_assert_true (tv_store_consult_media_started (store, c->id, t1 + 30 * G_USEC_PER_SEC, &error));
  tv_store_close (store);

  g_assert_cmpint (run_crashing_child (f->path, "complete-after-status", "complete", c->id), ==, 99);

  store = open_ok (f);
  g_autoptr (TvConsult) g = get_ok (store, c->id);
  g_assert_cmpint (g->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (g->ended_at, ==, 0);
  g_assert_null (g->end_reason);
  g_assert_cmpint (g->connected_us, ==, 20 * G_USEC_PER_SEC);
  g_assert_cmpint (g->media_up_since, ==, t1 + 30 * G_USEC_PER_SEC);

  /* And the transition still works afterwards. */
  g_assert_true (tv_store_consult_complete (store, c->id, "ended-by-doctor", t1 + 40 * G_USEC_PER_SEC, &error));
  g_autoptr (TvConsult) done = get_ok (store, c->id);
  g_assert_cmpint (done->status, ==, TV_CONSULT_COMPLETED);
  g_assert_cmpint (done->connected_us, ==, 30 * G_USEC_PER_SEC);
  tv_store_close (store);
}


static void
test_crash_media_started (Fixture *f, gconstpointer data)
{
  TvStore *store = open_ok (f);
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  tv_store_close (store);
  g_assert_cmpint (run_crashing_child (f->path, "media-started-after-update", "media-started", c->id), ==,
                   99);
  store = open_ok (f);
  g_autoptr (TvConsult) g = get_ok (store, c->id);
  g_assert_cmpint (g->status, ==, TV_CONSULT_SCHEDULED);
  g_assert_cmpint (g->started_at, ==, 0);
  g_assert_cmpint (g->media_up_since, ==, 0);
  tv_store_close (store);
}

static void
test_injected_failure (Fixture *f, gconstpointer data)
{
  TvStore *store = open_ok (f);
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  tv_store_close (store);

  g_setenv ("TV_STORE_FAULT", "fail:complete,fail:media-started", TRUE);
  guint before = fault_notices;
  store = open_ok (f);
  g_assert_cmpuint (fault_notices, ==, before + 1);   /* the store says it runs with faults */
  g_autoptr (GError) error = NULL;
  g_assert_false (tv_store_consult_complete (store, c->id, "ended-by-doctor", T0 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_clear_error (&error);
  g_assert_false (tv_store_consult_media_started (store, c->id, T0 + 1, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_clear_error (&error);
  /* Other operations are unaffected, and nothing changed. */
  g_autoptr (TvConsult) g = get_ok (store, c->id);
  g_assert_cmpint (g->status, ==, TV_CONSULT_SCHEDULED);
  tv_store_close (store);
  g_unsetenv ("TV_STORE_FAULT");
}

/* Two handles on one file, as the server and televisitctl have. */
static void
test_two_handles (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) server = open_ok (f);
  g_autoptr (TvStore) admin = open_ok (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = create_ok (admin, DOCTOR, T0, NULL, NULL);
  g_assert_true (tv_store_consult_media_started (server, c->id, T0 + 1, &error));
  g_assert_true (tv_store_consult_complete (admin, c->id, "ended-by-admin", T0 + 11, &error));
  g_assert_no_error (error);
  g_autoptr (TvConsult) seen = get_ok (server, c->id);
  g_assert_cmpint (seen->status, ==, TV_CONSULT_COMPLETED);
  g_assert_cmpstr (seen->end_reason, ==, "ended-by-admin");
  g_assert_cmpint (seen->connected_us, ==, 10);
  g_assert_false (tv_store_consult_media_started (server, c->id, T0 + 12, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_WRONG_STATE);
}

/* Two processes writing at once (server and televisitctl): the busy timeout
 * makes each wait for the other's transaction; no write is lost or refused. */
static void
test_two_processes (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_autoptr (GSubprocess) child = spawn_child (f->path, NULL, "hammer", c->id);
  for (int i = 0; i < HAMMER_ROWS; i++) {
    g_assert_true (tv_store_record_participation (store, c->id, TV_SIG_ROLE_DOCTOR, TV_PART_MEDIA_DOWN, NULL,
                                                  T0 + i, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpint (wait_child (child, "hammer"), ==, 0);
  g_autoptr (GPtrArray) log = tv_store_participation_list (store, c->id, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (log->len, ==, 2 * HAMMER_ROWS);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM participation WHERE role = 'patient'"), ==, HAMMER_ROWS);
}

/* After a crash of the server the open intervals are closed at start-up. */
static void
test_close_open_intervals (Fixture *f, gconstpointer data)
{
  g_autoptr (TvStore) store = open_ok (f);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) a = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_autoptr (TvConsult) b = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_autoptr (TvConsult) idle = create_ok (store, DOCTOR, T0, NULL, NULL);
  g_assert_true (tv_store_consult_media_started (store, a->id, T0 + 100, &error));
  g_assert_true (tv_store_consult_media_started (store, b->id, T0 + 300, &error));
  g_assert_true (tv_store_consult_media_stopped (store, b->id, T0 + 400, &error));
  g_assert_true (tv_store_consult_media_started (store, b->id, T0 + 500, &error));

  guint n = 0;
  g_assert_true (tv_store_close_open_intervals (store, T0 + 1000, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 2);
  g_autoptr (TvConsult) ga = get_ok (store, a->id);
  g_autoptr (TvConsult) gb = get_ok (store, b->id);
  g_autoptr (TvConsult) gi = get_ok (store, idle->id);
  g_assert_cmpint (ga->connected_us, ==, 900);
  g_assert_cmpint (ga->media_up_since, ==, 0);
  g_assert_cmpint (ga->status, ==, TV_CONSULT_IN_PROGRESS);
  g_assert_cmpint (gb->connected_us, ==, 100 + 500);
  g_assert_cmpint (gi->status, ==, TV_CONSULT_SCHEDULED);
  g_assert_cmpint (gi->connected_us, ==, 0);

  /* Media can start again; a second recovery finds nothing. */
  g_assert_true (tv_store_consult_media_started (store, a->id, T0 + 2000, &error));
  g_assert_true (tv_store_consult_media_stopped (store, a->id, T0 + 2100, &error));
  g_assert_true (tv_store_close_open_intervals (store, T0 + 3000, &n, &error));
  g_assert_cmpuint (n, ==, 0);
  g_autoptr (TvConsult) ga2 = get_ok (store, a->id);
  g_assert_cmpint (ga2->connected_us, ==, 1000);
}

static void
test_strings (void)
{
  g_assert_cmpstr (tv_consult_status_to_string (TV_CONSULT_SCHEDULED), ==, "scheduled");
  g_assert_cmpstr (tv_consult_status_to_string (TV_CONSULT_IN_PROGRESS), ==, "in-progress");
  g_assert_cmpstr (tv_consult_status_to_string (TV_CONSULT_COMPLETED), ==, "completed");
  g_assert_cmpstr (tv_consult_status_to_string (TV_CONSULT_CANCELLED), ==, "cancelled");
  g_assert_cmpstr (tv_participation_event_to_string (TV_PART_JOIN), ==, "join");
  g_assert_cmpstr (tv_participation_event_to_string (TV_PART_LEAVE), ==, "leave");
  g_assert_cmpstr (tv_participation_event_to_string (TV_PART_MEDIA_UP), ==, "media-up");
  g_assert_cmpstr (tv_participation_event_to_string (TV_PART_MEDIA_DOWN), ==, "media-down");
  tv_consult_free (NULL);
  tv_participation_free (NULL);
  tv_store_close (NULL);
}

/* Counts the store's "TV_STORE_FAULT is set" notice instead of printing it;
 * everything else goes to GLib's default writer. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
  const char *domain = NULL, *message = NULL;
  for (gsize i = 0; i < n_fields; i++) {
    if (strcmp (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (strcmp (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  }
  if ((level & G_LOG_LEVEL_MESSAGE) && g_strcmp0 (domain, "tv-store") == 0 && message != NULL
      && strstr (message, "TV_STORE_FAULT is set") != NULL) {
    fault_notices++;
    return G_LOG_WRITER_HANDLED;
  }
  return g_log_writer_default (level, fields, n_fields, data);
}

int
main (int argc, char **argv)
{
  if (argc == 5 && strcmp (argv[1], "--crash-child") == 0)
    return crash_child_main (argv[2], argv[3], argv[4]);
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("TV_STORE_FAULT");   /* only the tests that want it set it */
  g_log_set_writer_func (log_writer, NULL, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/store/open/fresh", test_open_fresh);
  ADD ("/store/open/reopen", test_open_reopen);
  ADD ("/store/open/newer-refused", test_open_newer_refused);
  ADD ("/store/open/not-a-database", test_open_not_a_database);
  ADD ("/store/open/migrate-v0", test_migrate_v0);
  ADD ("/store/consult/create-get-list", test_consult_create_get_list);
  ADD ("/store/consult/create-invalid", test_consult_create_invalid);
  ADD ("/store/token/lookup", test_token_lookup);
  ADD ("/store/token/not-in-clear", test_token_not_in_clear);
  ADD ("/store/consult/transitions", test_transitions);
  ADD ("/store/consult/cancel", test_cancel);
  ADD ("/store/participation", test_participation);
  ADD ("/store/crash/create", test_crash_create);
  ADD ("/store/crash/complete", test_crash_complete);
  ADD ("/store/crash/media-started", test_crash_media_started);
  ADD ("/store/fault/injected-failure", test_injected_failure);
  ADD ("/store/two-handles", test_two_handles);
  ADD ("/store/two-processes", test_two_processes);
  ADD ("/store/consult/close-open-intervals", test_close_open_intervals);
#undef ADD
  g_test_add_func ("/store/strings", test_strings);
  return g_test_run ();
}
