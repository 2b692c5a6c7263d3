/* tv-store-checkpoint.c — WAL checkpoints on a thread of their own.
 *
 * Why: in WAL mode SQLite copies the committed pages back into the database
 * file ("checkpoint") from inside the COMMIT that pushed the WAL past its
 * auto-checkpoint size (1,000 pages by default), on the store's thread: the
 * server's main loop. The booking benchmark measured 7-8 % of the server's CPU
 * there, and every such COMMIT held every reply of its batch while the pages
 * were copied and the database file synced (docs/BENCHMARKS.md, "Booking
 * throughput: ..., 2026-11-29"). The store instead installs a WAL hook
 * (sqlite3_wal_hook, which replaces the automatic checkpoints of its
 * connection); once the WAL holds TV_STORE_CHECKPOINT_PAGES pages, the hook
 * wakes a thread that checkpoints through a second connection to the same
 * file (SQLITE_CHECKPOINT_PASSIVE: it never waits for, nor blocks, the
 * store's readers and writers; SQLite restarts the WAL from its start at the
 * next write once every frame is copied). synchronous = FULL on that
 * connection too: the WAL is synced before pages are copied and the database
 * file after, as in an automatic checkpoint. Nothing changes for a COMMIT:
 * it is durable when it returns, as before.
 *
 * How often, on the store writer thread's connection (tv_store_open_writer
 * sets the step; every other connection asks after every COMMIT past the
 * size, as before): the hook wakes the thread only once TV_STORE_CHECKPOINT_STEP
 * frames were added since it last did, not after every COMMIT. On the main
 * loop's connection the step made a storm of 2,000 WSS joins (small COMMITs of
 * its own) 25-50 % slower to authenticate (1.9-2.0 -> 2.4-3.0 s in the load
 * benchmark): the WAL grew to 4x the size instead of staying near it.
 * Under a steady write load the WAL never empties (the writer appends
 * while the thread copies), so once it held TV_STORE_CHECKPOINT_PAGES frames
 * every COMMIT used to wake the thread: ~70 checkpoints a second in the
 * booking benchmark, each copying the few hundred frames of one or two COMMITs
 * and syncing the WAL and the database file — the same hot pages (B-tree
 * interior pages, the right edge of the tables that grow at their end) copied
 * and synced again and again. Copying every STEP frames copies each such page
 * once per step, with two syncs per step (measured: checkpoints per 20 s run
 * 1,500-1,850 -> ~470, the thread's time 9.5-10.2 -> 5.1 s, docs/BENCHMARKS.md
 * "Booking throughput: ... (2026-11-29 (3))"). In the last STEP frames before
 * the inline size (4 x TV_STORE_CHECKPOINT_PAGES) the thread is woken after
 * every COMMIT again, so that little is left to copy there, on the writer's
 * thread, before the WAL restarts from its start.
 *
 * The thread starts with the first checkpoint asked for, so a short-lived
 * store (televisitctl, most tests) never starts one. Should the thread be
 * unavailable or fall behind (the WAL past 4 x the size), the hook checkpoints
 * inline as SQLite would have.
 *
 * How big the WAL gets (docs/BENCHMARKS.md, "WAL size under load ...
 * 2026-11-29 (5)"). SQLite writes the WAL from its start again only when the
 * transaction that writes next began after every frame was copied back; the
 * thread's checkpoints copy every frame there was when they started, but the
 * store writer thread has begun its next batch by then (it reads from the WAL,
 * so it appends). Under a steady write load the WAL therefore restarts only
 * after the inline checkpoint at 4 x TV_STORE_CHECKPOINT_PAGES frames (the
 * writer's own connection, right after its COMMIT, before its next batch
 * begins): the bound is 4 x 8,192 frames plus the COMMITs made while a
 * checkpoint of the thread held the checkpoint lock (one or two), 128-130 MiB
 * (measured: a restart every ~1 s in the booking benchmark, ~33,300 frames at
 * most). A reader that keeps an old snapshot open stops every checkpoint at
 * its frames, and nothing can bound the WAL then. SQLite reuses the file
 * without shrinking it; so that it does not keep the size of its largest
 * moment:
 *  - every store connection sets PRAGMA journal_size_limit to that bound
 *    (TV_STORE_WAL_LIMIT_BYTES): the first COMMIT after a restart cuts a file
 *    that grew past it back to it;
 *  - once the thread runs, after TV_STORE_CHECKPOINT_IDLE_MS without a COMMIT
 *    on any connection (its store's, counted by the hook, and every other one:
 *    PRAGMA data_version), it copies what is left (PASSIVE) and then empties
 *    the file (SQLITE_CHECKPOINT_TRUNCATE). That one takes the write lock, so
 *    it runs with no busy handler: a writer or a reader in the WAL makes it
 *    give up at once (it tries again after the next quiet period), never wait.
 *    Holding the lock it copies nothing (all was copied just before, unless a
 *    COMMIT slipped in between) but ftruncates the file: 20-50 ms for 130 MiB
 *    on the benchmark machine's ext4; a write that arrives then (on the main
 *    loop: a login, say) waits that long in its busy handler, once per quiet
 *    period after a load.
 * A WAL below TV_STORE_CHECKPOINT_PAGES (no thread yet) stays as it is until
 * the store closes, as before.
 *
 * Ownership: the store owns its TvStoreCheckpointer (freed, and its thread
 * joined, before the store's connection closes).
 * Thread: _new, _hook and _free on the store's thread; the worker on its own.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-private.h"

#include <sqlite3.h>

struct _TvStoreCheckpointer {
  char *path;
  GThread *thread;        /* NULL until the first checkpoint is asked for */
  gboolean thread_failed; /* could not start (or open its connection): inline from then on */
  GMutex lock;
  GCond cond;
  gboolean wanted;        /* under lock: a checkpoint is asked for */
  gboolean quit;          /* under lock: the store is closing */
  int step;               /* frames between two asks past the size; 0: after every COMMIT (set before the first) */
  int asked_at;           /* hook's thread only: the WAL's size when the last checkpoint was asked for */
  int last_pages;         /* hook's thread only: the WAL's size at the previous COMMIT */
  gint commits;           /* atomic: COMMITs seen by the hook (the idle check) */
  gint64 done;            /* checkpoints run (tests, logs) */
};

/* Returns: PRAGMA data_version on the thread's connection (it moves when any
 * other connection, in any process, commits), or -1 on error. */
static gint64
data_version (sqlite3 *db)
{
  sqlite3_stmt *st = NULL;
  gint64 v = -1;
  if (sqlite3_prepare_v2 (db, "PRAGMA data_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step (st) == SQLITE_ROW)
    v = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  return v;
}

/* After a quiet period: copies every frame back, then empties the WAL file.
 * Returns TRUE once the file is empty; FALSE when a reader still uses frames
 * or the write lock was taken (no waiting for either). */
static gboolean
idle_truncate (sqlite3 *db)
{
  int log = 0, copied = 0;
  int rc = sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  if (rc != SQLITE_OK || copied < log)
    return FALSE;
  /* TRUNCATE takes the write lock and waits for readers through the busy
   * handler: none here, so it gives up instead. */
  sqlite3_busy_timeout (db, 0);
  rc = sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  sqlite3_busy_timeout (db, 1000);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
    g_message ("WAL truncation failed (the next quiet period retries): %s", sqlite3_errmsg (db));
  return rc == SQLITE_OK;
}

/* The worker: one connection of its own, a PASSIVE checkpoint per wake-up,
 * the WAL emptied after a quiet period. */
static gpointer
checkpoint_thread (gpointer data)
{
  TvStoreCheckpointer *c = data;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2 (c->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK
      || sqlite3_exec (db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
    g_message ("WAL checkpoints stay on the store's thread: cannot open a second connection: %s",
               db != NULL ? sqlite3_errmsg (db) : "out of memory");
    sqlite3_close_v2 (db);
    g_mutex_lock (&c->lock);
    c->thread_failed = TRUE;
    g_mutex_unlock (&c->lock);
    return NULL;
  }
  sqlite3_busy_timeout (db, 1000);
  /* The COMMIT count when the WAL was last emptied: -1, it holds frames now. */
  gint clean_at = -1;
  g_mutex_lock (&c->lock);
  for (;;) {
    while (!c->wanted && !c->quit) {
      gint commits = g_atomic_int_get (&c->commits);
      if (commits == clean_at) {
        g_cond_wait (&c->cond, &c->lock);   /* woken by the next checkpoint asked for */
        continue;
      }
      /* Quiet: no COMMIT on this store's connection (the hook's count) nor on
       * any other (data_version) for the whole period. */
      g_mutex_unlock (&c->lock);
      gint64 version = data_version (db);
      g_mutex_lock (&c->lock);
      if (c->wanted || c->quit)
        continue;                           /* asked meanwhile: not signalled again */
      gint64 until = g_get_monotonic_time () + TV_STORE_CHECKPOINT_IDLE_MS * G_TIME_SPAN_MILLISECOND;
      if (g_cond_wait_until (&c->cond, &c->lock, until) || c->wanted || c->quit
          || g_atomic_int_get (&c->commits) != commits)
        continue;                           /* not quiet (or woken): look again */
      g_mutex_unlock (&c->lock);
      gboolean emptied = version >= 0 && data_version (db) == version && idle_truncate (db);
      g_mutex_lock (&c->lock);
      if (emptied)
        clean_at = commits;
    }
    if (c->quit)
      break;
    c->wanted = FALSE;
    g_mutex_unlock (&c->lock);
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2 (db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
      g_message ("WAL checkpoint failed (the next one retries): %s", sqlite3_errmsg (db));
    g_mutex_lock (&c->lock);
    c->done++;
  }
  g_mutex_unlock (&c->lock);
  sqlite3_close_v2 (db);
  return NULL;
}

TvStoreCheckpointer *
tv_store_private_checkpointer_new (const char *path)
{
  TvStoreCheckpointer *c = g_new0 (TvStoreCheckpointer, 1);
  c->path = g_strdup (path);
  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  return c;
}

/* The WAL hook: runs on the store's thread after every commit, with the
 * number of frames in the WAL. Returns SQLITE_OK (an error would be reported
 * to the COMMIT, which has already succeeded). */
int
tv_store_private_checkpointer_hook (void *data, sqlite3 *db, const char *name, int pages)
{
  TvStoreCheckpointer *c = data;
  g_atomic_int_inc (&c->commits);
  if (pages < c->last_pages)
    c->asked_at = 0; /* the WAL was written again from its start */
  c->last_pages = pages;
  if (pages < TV_STORE_CHECKPOINT_PAGES
      || (c->step > 0 && pages < 4 * TV_STORE_CHECKPOINT_PAGES - c->step && c->asked_at > 0
          && pages - c->asked_at < c->step))
    return SQLITE_OK;
  c->asked_at = pages;
  g_mutex_lock (&c->lock);
  gboolean inline_now = c->thread_failed || pages >= 4 * TV_STORE_CHECKPOINT_PAGES;
  if (!c->thread_failed && c->thread == NULL) {
    g_autoptr (GError) error = NULL;
    c->thread = g_thread_try_new ("tv-checkpoint", checkpoint_thread, c, &error);
    if (c->thread == NULL) {
      g_message ("WAL checkpoints stay on the store's thread: %s", error->message);
      c->thread_failed = inline_now = TRUE;
    }
  }
  if (!inline_now) {
    c->wanted = TRUE;
    g_cond_signal (&c->cond);
  }
  g_mutex_unlock (&c->lock);
  if (inline_now)
    sqlite3_wal_checkpoint_v2 (db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  return SQLITE_OK;
}

void
tv_store_private_checkpointer_set_step (TvStoreCheckpointer *c, int step)
{
  c->step = MAX (step, 0);
}

gint64
tv_store_private_checkpointer_done (TvStoreCheckpointer *c)
{
  g_mutex_lock (&c->lock);
  gint64 n = c->done;
  g_mutex_unlock (&c->lock);
  return n;
}

void
tv_store_private_checkpointer_free (TvStoreCheckpointer *c)
{
  if (c == NULL)
    return;
  g_mutex_lock (&c->lock);
  c->quit = TRUE;
  g_cond_signal (&c->cond);
  g_mutex_unlock (&c->lock);
  if (c->thread != NULL)
    g_thread_join (c->thread);
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c->path);
  g_free (c);
}
