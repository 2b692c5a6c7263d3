/* tv-store-vfs.c — the store's SQLite VFS: the default one, with a COMMIT's
 * WAL frames written in a few 64 KiB writes instead of two writes per page.
 *
 * Why: SQLite writes each WAL frame with two pwrite() calls (its 24-byte
 * header, then the page), and a booking dirties ~9 pages of the random-key
 * indexes (join tokens, audit by patient, reminders due, the consult's
 * indexes): a group commit of ~32 requests wrote ~280 frames, ~560 pwrite()s,
 * which were 14 % of the server's CPU in the booking benchmark and most of the
 * COMMIT's time on the store writer thread (docs/BENCHMARKS.md, "Booking
 * throughput: WAL writes gathered ..., 2026-11-29 (2)"). Here the writes to a
 * "-wal" file that follow each other in the file are gathered in memory and
 * handed to the default VFS just before anything that must see them:
 * the sync of the COMMIT, a read, a truncate, the file's size, a file
 * control, or the close, or a write elsewhere in the file, or once 4 MiB are
 * gathered.
 *
 * What is durable when does not change: with synchronous = FULL, SQLite
 * syncs the WAL before it publishes a COMMIT in the WAL index, and the
 * gathered frames reach the file before that sync; other connections (the
 * main loop's, the checkpoint thread's, televisitctl) read only frames a
 * COMMIT published, so they never miss a gathered write. A failed write is
 * reported by the call that flushed it (the COMMIT's sync), which then fails
 * as if the write itself had failed. Files other than WALs (the database, its
 * shared-memory index) are the default VFS's own, untouched.
 *
 * Ownership: the VFS is registered once per process (not as the default) by
 * tv_store_private_vfs_name(); each file owns its buffer.
 * Thread: a sqlite3_file is used by its connection's thread only (the store's
 * connections are opened NOMUTEX, one thread each); registration is g_once.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-private.h"

#include <string.h>

#define VFS_NAME "tv-store"
#define GATHER_MAX (4 * 1024 * 1024)
/* The unix VFS writes at most 128 KiB - 1 bytes per call (os_unix.c,
 * seekAndWriteFd masks the length): gathered bytes go out in 64 KiB calls. */
#define WRITE_MAX (64 * 1024)

typedef struct {
  sqlite3_file base;       /* pMethods = &wal_methods */
  sqlite3_file *real;      /* the default VFS's file, allocated right after this struct */
  char *buf;               /* gathered writes, contiguous from buf_off */
  sqlite3_int64 buf_off;
  size_t buf_len, buf_cap;
} WalFile;

static sqlite3_vfs vfs;
static sqlite3_vfs *base_vfs;

/* Writes the gathered bytes (if any) with one write of the default VFS.
 * Returns: SQLITE_OK, or its error (the bytes are dropped either way, as a
 * failed write leaves them unwritten). */
static int
flush (WalFile *f)
{
  int rc = SQLITE_OK;
  for (size_t done = 0; done < f->buf_len && rc == SQLITE_OK; done += WRITE_MAX) {
    size_t n = MIN (f->buf_len - done, (size_t) WRITE_MAX);
    rc = f->real->pMethods->xWrite (f->real, f->buf + done, (int) n, f->buf_off + (sqlite3_int64) done);
  }
  f->buf_len = 0;
  return rc;
}

static int
wal_close (sqlite3_file *file)
{
  WalFile *f = (WalFile *) file;
  int rc = flush (f);
  int rc2 = f->real->pMethods != NULL ? f->real->pMethods->xClose (f->real) : SQLITE_OK;
  g_free (f->buf);
  f->buf = NULL;
  f->buf_cap = 0;
  return rc != SQLITE_OK ? rc : rc2;
}

static int
wal_read (sqlite3_file *file, void *out, int n, sqlite3_int64 off)
{
  WalFile *f = (WalFile *) file;
  int rc = flush (f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xRead (f->real, out, n, off);
}

static int
wal_write (sqlite3_file *file, const void *data, int n, sqlite3_int64 off)
{
  WalFile *f = (WalFile *) file;
  gboolean next = f->buf_len > 0 && off == f->buf_off + (sqlite3_int64) f->buf_len;
  /* What was gathered goes first when this write is not its continuation or
   * would overfill it. */
  if (f->buf_len > 0 && (!next || f->buf_len + (size_t) n > GATHER_MAX)) {
    int rc = flush (f);
    if (rc != SQLITE_OK)
      return rc;
  }
  if (n <= 0 || n > WRITE_MAX)   /* not a WAL frame: as SQLite wrote it */
    return f->real->pMethods->xWrite (f->real, data, n, off);
  if (f->buf_len + (size_t) n > f->buf_cap) {
    size_t cap = f->buf_cap > 0 ? f->buf_cap : 64 * 1024;
    while (cap < f->buf_len + (size_t) n)
      cap *= 2;
    cap = MIN (cap, (size_t) GATHER_MAX);
    char *grown = g_try_realloc (f->buf, cap);
    if (grown == NULL) {   /* no memory to gather: written through */
      int rc = flush (f);
      return rc != SQLITE_OK ? rc : f->real->pMethods->xWrite (f->real, data, n, off);
    }
    f->buf = grown;
    f->buf_cap = cap;
  }
  if (f->buf_len == 0)
    f->buf_off = off;
  memcpy (f->buf + f->buf_len, data, (size_t) n);
  f->buf_len += (size_t) n;
  return SQLITE_OK;
}

static int
wal_truncate (sqlite3_file *file, sqlite3_int64 size)
{
  WalFile *f = (WalFile *) file;
  int rc = flush (f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate (f->real, size);
}

static int
wal_sync (sqlite3_file *file, int flags)
{
  WalFile *f = (WalFile *) file;
  int rc = flush (f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync (f->real, flags);
}

static int
wal_file_size (sqlite3_file *file, sqlite3_int64 *size)
{
  WalFile *f = (WalFile *) file;
  int rc = flush (f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize (f->real, size);
}

static int
wal_lock (sqlite3_file *file, int level)
{
  WalFile *f = (WalFile *) file;
  return f->real->pMethods->xLock (f->real, level);
}

static int
wal_unlock (sqlite3_file *file, int level)
{
  WalFile *f = (WalFile *) file;
  return f->real->pMethods->xUnlock (f->real, level);
}

static int
wal_check_reserved_lock (sqlite3_file *file, int *out)
{
  WalFile *f = (WalFile *) file;
  return f->real->pMethods->xCheckReservedLock (f->real, out);
}

static int
wal_file_control (sqlite3_file *file, int op, void *arg)
{
  WalFile *f = (WalFile *) file;
  int rc = flush (f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl (f->real, op, arg);
}

static int
wal_sector_size (sqlite3_file *file)
{
  WalFile *f = (WalFile *) file;
  return f->real->pMethods->xSectorSize (f->real);
}

static int
wal_device_characteristics (sqlite3_file *file)
{
  WalFile *f = (WalFile *) file;
  return f->real->pMethods->xDeviceCharacteristics (f->real);
}

/* Version 1: SQLite never maps a WAL file into memory nor uses its
 * shared-memory calls (the WAL index belongs to the database file). */
static const sqlite3_io_methods wal_methods = {
  1,
  wal_close,
  wal_read,
  wal_write,
  wal_truncate,
  wal_sync,
  wal_file_size,
  wal_lock,
  wal_unlock,
  wal_check_reserved_lock,
  wal_file_control,
  wal_sector_size,
  wal_device_characteristics,
  NULL, NULL, NULL, NULL, NULL, NULL,
};

static int
vfs_open (sqlite3_vfs *self, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
  if (!(flags & SQLITE_OPEN_WAL))   /* the default VFS's file, in our larger slot */
    return base_vfs->xOpen (base_vfs, name, file, flags, out_flags);
  WalFile *f = (WalFile *) file;
  memset (f, 0, sizeof *f);
  f->real = (sqlite3_file *) (f + 1);
  int rc = base_vfs->xOpen (base_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    /* SQLite calls xClose only when pMethods is set: close what the default
     * VFS may have left open, and leave ours unset. */
    if (f->real->pMethods != NULL)
      f->real->pMethods->xClose (f->real);
    return rc;
  }
  f->base.pMethods = &wal_methods;
  return SQLITE_OK;
}

/* The rest is the default VFS's. */
static int
vfs_delete (sqlite3_vfs *self, const char *name, int sync_dir)
{
  return base_vfs->xDelete (base_vfs, name, sync_dir);
}

static int
vfs_access (sqlite3_vfs *self, const char *name, int flags, int *out)
{
  return base_vfs->xAccess (base_vfs, name, flags, out);
}

static int
vfs_full_pathname (sqlite3_vfs *self, const char *name, int n, char *out)
{
  return base_vfs->xFullPathname (base_vfs, name, n, out);
}

static void *
vfs_dl_open (sqlite3_vfs *self, const char *name)
{
  return base_vfs->xDlOpen (base_vfs, name);
}

static void
vfs_dl_error (sqlite3_vfs *self, int n, char *out)
{
  base_vfs->xDlError (base_vfs, n, out);
}

static void (*vfs_dl_sym (sqlite3_vfs *self, void *handle, const char *sym)) (void)
{
  return base_vfs->xDlSym (base_vfs, handle, sym);
}

static void
vfs_dl_close (sqlite3_vfs *self, void *handle)
{
  base_vfs->xDlClose (base_vfs, handle);
}

static int
vfs_randomness (sqlite3_vfs *self, int n, char *out)
{
  return base_vfs->xRandomness (base_vfs, n, out);
}

static int
vfs_sleep (sqlite3_vfs *self, int us)
{
  return base_vfs->xSleep (base_vfs, us);
}

static int
vfs_current_time (sqlite3_vfs *self, double *out)
{
  return base_vfs->xCurrentTime (base_vfs, out);
}

static int
vfs_get_last_error (sqlite3_vfs *self, int n, char *out)
{
  return base_vfs->xGetLastError != NULL ? base_vfs->xGetLastError (base_vfs, n, out) : 0;
}

static int
vfs_current_time_int64 (sqlite3_vfs *self, sqlite3_int64 *out)
{
  return base_vfs->xCurrentTimeInt64 (base_vfs, out);
}

static gpointer
register_vfs (gpointer unused)
{
  base_vfs = sqlite3_vfs_find (NULL);
  if (base_vfs == NULL || base_vfs->iVersion < 2 || base_vfs->xCurrentTimeInt64 == NULL) {
    g_message ("SQLite's default VFS is not one the store can wrap; WAL writes are not gathered");
    return NULL;
  }
  vfs.iVersion = 2;
  vfs.szOsFile = (int) sizeof (WalFile) + base_vfs->szOsFile;
  vfs.mxPathname = base_vfs->mxPathname;
  vfs.zName = VFS_NAME;
  vfs.xOpen = vfs_open;
  vfs.xDelete = vfs_delete;
  vfs.xAccess = vfs_access;
  vfs.xFullPathname = vfs_full_pathname;
  vfs.xDlOpen = vfs_dl_open;
  vfs.xDlError = vfs_dl_error;
  vfs.xDlSym = vfs_dl_sym;
  vfs.xDlClose = vfs_dl_close;
  vfs.xRandomness = vfs_randomness;
  vfs.xSleep = vfs_sleep;
  vfs.xCurrentTime = vfs_current_time;
  vfs.xGetLastError = vfs_get_last_error;
  vfs.xCurrentTimeInt64 = vfs_current_time_int64;
  if (sqlite3_vfs_register (&vfs, 0) != SQLITE_OK) {
    g_message ("cannot register the store's VFS; WAL writes are not gathered");
    return NULL;
  }
  return (gpointer) VFS_NAME;
}

const char *
tv_store_private_vfs_name (void)
{
  static GOnce once = G_ONCE_INIT;
  return g_once (&once, register_vfs, NULL);
}
