/* tv-heap-trim.c — malloc_trim() after the connection count moved by a step.
 *
 * Why: see tv-heap-trim.h (free holes left in glibc's heap by TLS handshakes;
 * glibc trims only the top of the heap by itself). On a C library without
 * malloc_trim (not glibc) the trimmer counts but releases nothing.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-heap-trim"

#include "server/tv-heap-trim.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

struct _TvHeapTrim {
  GMainContext *ctx;     /* borrowed */
  guint step;
  guint delay_ms;
  guint at_last_trim;    /* connection count when the last trim ran */
  guint now;             /* latest count from tv_heap_trim_note */
  guint trims;
  GSource *timer;        /* pending trim, or NULL */
};

TvHeapTrim *
tv_heap_trim_new (GMainContext *ctx, guint step, guint delay_ms)
{
  TvHeapTrim *t = g_new0 (TvHeapTrim, 1);
  t->ctx = ctx;
  t->step = MAX (step, 1);
  t->delay_ms = delay_ms;
  return t;
}

void
tv_heap_trim_free (TvHeapTrim *trim)
{
  if (trim == NULL)
    return;
  if (trim->timer) {
    g_source_destroy (trim->timer);
    g_source_unref (trim->timer);
  }
  g_free (trim);
}

static gboolean
on_trim (gpointer data)
{
  TvHeapTrim *t = data;
  gint64 start = g_get_monotonic_time ();
#ifdef __GLIBC__
  int released = malloc_trim (0);
#else
  int released = 0;
#endif
  t->trims++;
  t->at_last_trim = t->now;
  g_debug ("heap trim %u at %u connections: %s memory returned, %.2f ms", t->trims, t->now,
           released ? "some" : "no", (double) (g_get_monotonic_time () - start) / 1000.0);
  g_clear_pointer (&t->timer, g_source_unref);
  return G_SOURCE_REMOVE;
}

void
tv_heap_trim_note (TvHeapTrim *trim, guint connections)
{
  g_return_if_fail (trim != NULL);
  trim->now = connections;
  guint moved = connections > trim->at_last_trim ? connections - trim->at_last_trim
                                                  : trim->at_last_trim - connections;
  /* A trim walks the whole heap (time grows with the connections held), so
   * the step grows with the count: the cost per connection stays constant. */
  guint step = MAX (trim->step, MAX (connections, trim->at_last_trim) / 64);
  if (moved < step || trim->timer != NULL)
    return;
  /* Below the sockets' priority: a trim waits for the loop's ready work. */
  trim->timer = g_timeout_source_new (trim->delay_ms);
  g_source_set_priority (trim->timer, G_PRIORITY_LOW);
  g_source_set_callback (trim->timer, on_trim, trim, NULL);
  g_source_attach (trim->timer, trim->ctx);
}

guint
tv_heap_trim_count (TvHeapTrim *trim)
{
  g_return_val_if_fail (trim != NULL, 0);
  return trim->trims;
}
