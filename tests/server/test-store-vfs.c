/* test-store-vfs.c — the store's VFS gathers WAL writes and loses none of them.
 *
 * Why (issue 6, booking throughput): server/tv-store-vfs.c holds a COMMIT's
 * WAL frames in memory and writes them in a few large writes right before
 * the COMMIT's sync, instead of SQLite's two writes per page. What must not
 * change is checked here, against SQLite's own default VFS as the reader:
 *  - a commit bigger than the gathering buffer (4 MiB) and many small ones
 *    are all in the file, byte for byte, for another connection;
 *  - a transaction that spills pages to the WAL before its COMMIT (a tiny
 *    page cache), rewrites frames it already wrote, or is rolled back after
 *    spilling leaves exactly the committed state, and the file is intact;
 *  - a process that exits right after its COMMIT returned, without closing
 *    the connection (no flush at close), has every committed row on disk:
 *    what a COMMIT gathered reached the file before the COMMIT returned.
 * Thread: main thread (and one forked child process).
 */
#define G_LOG_DOMAIN "test-store-vfs"

#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <sqlite3.h>

#include "server/tv-store-private.h"
#include "tests/common/tv-test-fixture.h"

static sqlite3 *
open_db (const char *path, const char *vfs)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), ==, SQLITE_OK);
  return db;
}

static void
exec_ok (sqlite3 *db, const char *sql)
{
  char *err = NULL;
  int rc = sqlite3_exec (db, sql, NULL, NULL, &err);
  if (rc != SQLITE_OK)
    g_error ("%s: %s", sql, err != NULL ? err : sqlite3_errstr (rc));
}

static gint64
int_of (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  return v;
}

static char *
text_of (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  char *v = g_strdup ((const char *) sqlite3_column_text (st, 0));
  sqlite3_finalize (st);
  return v;
}

/* A WAL database through the store's VFS, synchronous = FULL as the store's. */
static sqlite3 *
open_store_vfs (const char *path)
{
  const char *vfs = tv_store_private_vfs_name ();
  g_assert_nonnull (vfs);
  sqlite3 *db = open_db (path, vfs);
  exec_ok (db, "PRAGMA journal_mode = WAL");
  exec_ok (db, "PRAGMA synchronous = FULL");
  return db;
}

/* Every row's length and random tail, in id order. */
#define CONTENT "SELECT count(*) || '/' || sum(length(body)) || '/' || group_concat(hex(substr(body, -100)), '')" \
                " FROM (SELECT body FROM t ORDER BY id)"

static void
test_large_and_small_commits (void)
{
  g_autofree char *path = g_build_filename (tv_test_tmpdir (), "vfs.db", NULL);
  sqlite3 *w = open_store_vfs (path);
  exec_ok (w, "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  /* ~10 MiB in one COMMIT: more than the 4 MiB gathered at once */
  exec_ok (w, "BEGIN IMMEDIATE");
  exec_ok (w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)"
              " INSERT INTO t (id, body) SELECT i, zeroblob(4000) || randomblob(100) FROM n");
  exec_ok (w, "COMMIT");
  for (int i = 0; i < 200; i++)
    exec_ok (w, "INSERT INTO t (body) VALUES (randomblob(300))");
  g_autofree char *want = text_of (w, CONTENT);
  /* the default VFS, on another connection, while the first is open */
  sqlite3 *r = open_db (path, NULL);
  g_autofree char *seen = text_of (r, CONTENT);
  g_assert_cmpstr (seen, ==, want);
  g_assert_cmpint (int_of (r, "SELECT count(*) FROM t"), ==, 2700);
  g_autofree char *ok = text_of (r, "PRAGMA integrity_check");
  g_assert_cmpstr (ok, ==, "ok");
  sqlite3_close (r);
  sqlite3_close (w);
}

static void
test_spill_rewrite_rollback (void)
{
  g_autofree char *path = g_build_filename (tv_test_tmpdir (), "spill.db", NULL);
  sqlite3 *w = open_store_vfs (path);
  exec_ok (w, "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, pad BLOB NOT NULL)");
  exec_ok (w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)"
              " INSERT INTO t SELECT i, 0, randomblob(900) FROM n");
  /* a page cache of a few pages: the transactions below spill dirty pages
   * to the WAL before their COMMIT and write some of them again */
  exec_ok (w, "PRAGMA cache_size = 4");
  exec_ok (w, "PRAGMA cache_spill = 1");
  exec_ok (w, "BEGIN IMMEDIATE");
  for (int round = 1; round <= 5; round++)
    exec_ok (w, "UPDATE t SET v = v + 1, pad = randomblob(900)");
  exec_ok (w, "ROLLBACK");
  g_assert_cmpint (int_of (w, "SELECT sum(v) FROM t"), ==, 0);
  exec_ok (w, "BEGIN IMMEDIATE");
  for (int round = 1; round <= 3; round++)
    exec_ok (w, "UPDATE t SET v = v + 1, pad = randomblob(900) WHERE id % 2 = 0");
  exec_ok (w, "COMMIT");
  exec_ok (w, "UPDATE t SET v = v + 10 WHERE id = 1");
  sqlite3 *r = open_db (path, NULL);
  g_assert_cmpint (int_of (r, "SELECT sum(v) FROM t"), ==, 200 * 3 + 10);
  g_assert_cmpint (int_of (r, "SELECT count(*) FROM t WHERE length(pad) = 900"), ==, 400);
  g_autofree char *ok = text_of (r, "PRAGMA integrity_check");
  g_assert_cmpstr (ok, ==, "ok");
  sqlite3_close (r);
  sqlite3_close (w);
}

static void
test_exit_after_commit (void)
{
  g_autofree char *path = g_build_filename (tv_test_tmpdir (), "exit.db", NULL);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    /* the child: commits, then leaves without closing the connection */
    sqlite3 *w = open_store_vfs (path);
    exec_ok (w, "CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    for (int i = 0; i < 50; i++) {
      exec_ok (w, "BEGIN IMMEDIATE");
      exec_ok (w, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)"
                  " INSERT INTO t (body) SELECT randomblob(500) FROM n");
      exec_ok (w, "COMMIT");
    }
    _exit (0);
  }
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  sqlite3 *r = open_db (path, NULL);
  g_assert_cmpint (int_of (r, "SELECT count(*) FROM t"), ==, 50 * 20);
  g_autofree char *ok = text_of (r, "PRAGMA integrity_check");
  g_assert_cmpstr (ok, ==, "ok");
  sqlite3_close (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store-vfs/large-and-small-commits", test_large_and_small_commits);
  g_test_add_func ("/store-vfs/spill-rewrite-rollback", test_spill_rewrite_rollback);
  g_test_add_func ("/store-vfs/exit-after-commit", test_exit_after_commit);
  return g_test_run ();
}
