/* tests/sanitizers/tsan-glib.c — makes GLib's thread hand-offs visible to
 * ThreadSanitizer (linked into every binary of a SANITIZE=thread build only;
 * see the Makefile).
 *
 * Why: GLib is not instrumented. Its GMutex/GCond are futex-based and its
 * GThreadPool and GMainContext synchronise with those inside libglib, so TSan
 * sees none of it and reports every object handed from one thread to another
 * (a job pushed to a pool, a result sent back with an idle source) as a race.
 * Suppressing those reports would hide real races in the same functions;
 * instead, the calls our code makes are interposed (the executable's
 * definitions win over libglib's for calls from our code; libglib's own calls
 * to itself are not affected) and tell TSan the happens-before edge GLib
 * documents and provides:
 *  - g_mutex_lock/trylock acquire and g_mutex_unlock releases the mutex;
 *    g_cond_wait(_until) releases and re-acquires it;
 *  - g_thread_pool_push releases the item, and the pool's function (wrapped at
 *    g_thread_pool_new(_full)) acquires it before running it; g_thread_pool_free
 *    with wait_ acquires what every finished task released;
 *  - g_source_attach releases the source, and an idle or timeout source's
 *    callback (wrapped at g_source_set_callback, which GLib orders before the
 *    dispatch) acquires it before running.
 * Nothing else changes: each wrapper calls the real function (dlsym RTLD_NEXT).
 * What other GLib internals hand over (GTask) is not covered: a report through
 * those is judged by its stack (tests/sanitizers/tsan.supp).
 */
#define _GNU_SOURCE
#include <glib.h>
#include <dlfcn.h>
#include <pthread.h>
#include <sanitizer/tsan_interface.h>

/* The real GLib function @name, looked up once (a pointer-sized store: the
 * same value whichever thread wins). */
#define REAL(name)                                                                                   \
  static __typeof__ (&name) real_##name;                                                              \
  if (__atomic_load_n (&real_##name, __ATOMIC_ACQUIRE) == NULL)                                       \
    __atomic_store_n (&real_##name, (__typeof__ (&name)) dlsym (RTLD_NEXT, #name), __ATOMIC_RELEASE);

void
g_mutex_lock (GMutex *mutex)
{
  REAL (g_mutex_lock);
  real_g_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  REAL (g_mutex_trylock);
  gboolean locked = real_g_mutex_trylock (mutex);
  if (locked)
    __tsan_acquire (mutex);
  return locked;
}

void
g_mutex_unlock (GMutex *mutex)
{
  REAL (g_mutex_unlock);
  __tsan_release (mutex);
  real_g_mutex_unlock (mutex);
}

void
g_cond_wait (GCond *cond, GMutex *mutex)
{
  REAL (g_cond_wait);
  __tsan_release (mutex);
  real_g_cond_wait (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  REAL (g_cond_wait_until);
  __tsan_release (mutex);
  gboolean signalled = real_g_cond_wait_until (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return signalled;
}

/* ---- GThreadPool ---------------------------------------------------------- */

typedef struct {
  GFunc func;
  gpointer user_data;
} PoolFunc;   /* lives as long as the process (a pool's user data) */

/* Which PoolFunc each pool runs (GLib's threads write to the pool's own
 * struct, so it is not read here); a plain pthread mutex, which TSan sees. */
static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static GHashTable *pools;   /* GThreadPool * -> PoolFunc * */

static void
pool_trampoline (gpointer data, gpointer user_data)
{
  PoolFunc *f = user_data;
  __tsan_acquire (data);
  f->func (data, f->user_data);
  __tsan_release (f);   /* for g_thread_pool_free (wait) */
}

GThreadPool *
g_thread_pool_new_full (GFunc func, gpointer user_data, GDestroyNotify item_free_func, gint max_threads,
                        gboolean exclusive, GError **error)
{
  REAL (g_thread_pool_new_full);
  PoolFunc *f = g_new0 (PoolFunc, 1);
  f->func = func;
  f->user_data = user_data;
  GThreadPool *pool = real_g_thread_pool_new_full (pool_trampoline, f, item_free_func, max_threads, exclusive, error);
  if (pool != NULL) {
    pthread_mutex_lock (&pools_lock);
    if (pools == NULL)
      pools = g_hash_table_new (NULL, NULL);
    g_hash_table_insert (pools, pool, f);
    pthread_mutex_unlock (&pools_lock);
  }
  return pool;
}

GThreadPool *
g_thread_pool_new (GFunc func, gpointer user_data, gint max_threads, gboolean exclusive, GError **error)
{
  return g_thread_pool_new_full (func, user_data, NULL, max_threads, exclusive, error);
}

gboolean
g_thread_pool_push (GThreadPool *pool, gpointer data, GError **error)
{
  REAL (g_thread_pool_push);
  __tsan_release (data);
  return real_g_thread_pool_push (pool, data, error);
}

void
g_thread_pool_free (GThreadPool *pool, gboolean immediate, gboolean wait_)
{
  REAL (g_thread_pool_free);
  pthread_mutex_lock (&pools_lock);
  PoolFunc *f = pools != NULL ? g_hash_table_lookup (pools, pool) : NULL;
  if (f != NULL)
    g_hash_table_remove (pools, pool);
  pthread_mutex_unlock (&pools_lock);
  real_g_thread_pool_free (pool, immediate, wait_);
  if (wait_ && f != NULL)
    __tsan_acquire (f);   /* every task that ran is finished */
}

/* ---- idle and timeout sources --------------------------------------------- */

typedef struct {
  GSourceFunc func;
  gpointer data;
  GDestroyNotify notify;
  GSource *source;
} SourceFunc;

static gboolean
source_trampoline (gpointer data)
{
  SourceFunc *f = data;
  __tsan_acquire (f);   /* set up on the thread that set the callback (GTask: a worker) */
  __tsan_acquire (f->source);
  return f->func (f->data);
}

static void
source_func_free (gpointer data)
{
  SourceFunc *f = data;
  if (f->notify != NULL)
    f->notify (f->data);
  g_free (f);
}

void
g_source_set_callback (GSource *source, GSourceFunc func, gpointer data, GDestroyNotify notify)
{
  REAL (g_source_set_callback);
  /* Only sources whose callback is a GSourceFunc (others take other arguments). */
  if (func == NULL || (source->source_funcs != &g_idle_funcs && source->source_funcs != &g_timeout_funcs)) {
    real_g_source_set_callback (source, func, data, notify);
    return;
  }
  SourceFunc *f = g_new0 (SourceFunc, 1);
  f->func = func;
  f->data = data;
  f->notify = notify;
  f->source = source;
  __tsan_release (f);
  real_g_source_set_callback (source, source_trampoline, f, source_func_free);
}

guint
g_source_attach (GSource *source, GMainContext *context)
{
  REAL (g_source_attach);
  __tsan_release (source);
  return real_g_source_attach (source, context);
}
