/* test-heap-trim.c — when the server gives free heap pages back (tv-heap-trim.h).
 *
 * Why: malloc_trim walks the whole heap, so the trimmer must run it only after
 * the connection count moved by its step (up or down), at most one pending at
 * a time, with a step that grows with the count; and it must never run while
 * the count stays put. Asserts the number of trims that ran after driving the
 * trimmer's own GMainContext (waits end on the trim count, under a watchdog;
 * "not yet" is checked after every ready source ran).
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "test-heap-trim"

#include "server/tv-heap-trim.h"
#include "tests/common/tv-test-fixture.h"

/* Runs every source of @ctx that is ready now (a 0 ms trim timeout included). */
static void
drain (GMainContext *ctx)
{
  while (g_main_context_pending (ctx))
    g_main_context_iteration (ctx, FALSE);
}

/* Iterates @ctx until @t has run @n trims (the watchdog ends a hang). */
static void
wait_trims (GMainContext *ctx, TvHeapTrim *t, guint n)
{
  while (tv_heap_trim_count (t) < n)
    g_main_context_iteration (ctx, TRUE);
  drain (ctx);
  g_assert_cmpuint (tv_heap_trim_count (t), ==, n);
}

static void
test_step_up_and_down (void)
{
  GMainContext *ctx = g_main_context_new ();
  TvHeapTrim *t = tv_heap_trim_new (ctx, 4, 0);

  for (guint n = 1; n <= 3; n++)
    tv_heap_trim_note (t, n);
  drain (ctx);
  g_assert_cmpuint (tv_heap_trim_count (t), ==, 0);

  tv_heap_trim_note (t, 4);
  wait_trims (ctx, t, 1);

  /* Counted from 4 now: 5..7 are not a step, 8 is; notes while a trim is
   * pending do not queue a second one. */
  for (guint n = 5; n <= 7; n++)
    tv_heap_trim_note (t, n);
  drain (ctx);
  g_assert_cmpuint (tv_heap_trim_count (t), ==, 1);
  tv_heap_trim_note (t, 8);
  tv_heap_trim_note (t, 9);
  tv_heap_trim_note (t, 12);
  wait_trims (ctx, t, 2);

  /* Connections leaving count too (from 12: down to 8 is a step). */
  tv_heap_trim_note (t, 9);
  drain (ctx);
  g_assert_cmpuint (tv_heap_trim_count (t), ==, 2);
  tv_heap_trim_note (t, 8);
  wait_trims (ctx, t, 3);

  /* A count that stays put never trims again. */
  for (guint i = 0; i < 100; i++)
    tv_heap_trim_note (t, 8);
  drain (ctx);
  g_assert_cmpuint (tv_heap_trim_count (t), ==, 3);

  tv_heap_trim_free (t);
  g_main_context_unref (ctx);
}

static void
test_step_grows_with_the_count (void)
{
  GMainContext *ctx = g_main_context_new ();
  TvHeapTrim *t = tv_heap_trim_new (ctx, 1, 0);

  tv_heap_trim_note (t, 6400);
  wait_trims (ctx, t, 1);
  /* With ~6,400 connections the step is ~100 (count / 64), not 1. */
  tv_heap_trim_note (t, 6401);
  tv_heap_trim_note (t, 6490);
  tv_heap_trim_note (t, 6310);
  drain (ctx);
  g_assert_cmpuint (tv_heap_trim_count (t), ==, 1);
  tv_heap_trim_note (t, 6600);
  wait_trims (ctx, t, 2);

  tv_heap_trim_free (t);
  g_main_context_unref (ctx);
}

static void
test_free_with_a_trim_pending (void)
{
  GMainContext *ctx = g_main_context_new ();
  TvHeapTrim *t = tv_heap_trim_new (ctx, 1, 0);
  tv_heap_trim_note (t, 1);
  tv_heap_trim_free (t);
  /* The pending trim went with it: nothing left to run on the context. */
  drain (ctx);
  g_assert_false (g_main_context_pending (ctx));
  tv_heap_trim_free (NULL);
  g_main_context_unref (ctx);
}

static void
run_with_watchdog (gconstpointer data)
{
  void (*fn) (void) = (void (*) (void)) data;
  tv_test_watchdog_start (30, g_test_get_path ());
  fn ();
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_data_func ("/heap-trim/step-up-and-down", (gconstpointer) test_step_up_and_down, run_with_watchdog);
  g_test_add_data_func ("/heap-trim/step-grows-with-the-count", (gconstpointer) test_step_grows_with_the_count,
                        run_with_watchdog);
  g_test_add_data_func ("/heap-trim/free-with-a-trim-pending", (gconstpointer) test_free_with_a_trim_pending,
                        run_with_watchdog);
  return g_test_run ();
}
