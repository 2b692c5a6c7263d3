/* test-rate-window.c — the WSS rate limits' sliding window (tv-rate-window.h).
 *
 * Why: the window keeps 16-bit gaps instead of full times; its answers must be
 * those of a ring of full times — N messages pass, the next within W ms is
 * refused, one pass again as soon as the oldest is W ms old — including after
 * gaps longer than 16 bits hold, and across the 32-bit clock's wrap. Each case
 * is checked against a reference ring of full 64-bit times. Time is an
 * argument: nothing waits.
 * Thread: main thread.
 */
#define G_LOG_DOMAIN "test-rate-window"

#include <string.h>

#include "server/tv-rate-window.h"

/* The answer of a ring of full times (what the window must reproduce). */
typedef struct {
  gint64 times[255];
  guint n, pos, size;
  gint64 window;
} Reference;

static gboolean
reference_ok (Reference *r, gint64 now)
{
  if (r->n == r->size && now - r->times[r->pos] < r->window)
    return FALSE;
  r->times[r->pos] = now;
  r->pos = (r->pos + 1) % r->size;
  if (r->n < r->size)
    r->n++;
  return TRUE;
}

typedef struct {
  TvRateWindow w;
  guint16 gaps[255];
  Reference ref;
  guint32 base;   /* the 32-bit clock at reference time 0 */
} Pair;

static void
pair_init (Pair *p, guint size, guint32 window_ms, guint32 base)
{
  memset (p, 0, sizeof *p);
  p->ref.size = size;
  p->ref.window = window_ms;
  p->base = base;
}

/* One message at reference time @t (ms): both must answer alike; returns it. */
static gboolean
pair_send (Pair *p, gint64 t)
{
  gboolean want = reference_ok (&p->ref, t);
  gboolean got = tv_rate_window_ok (&p->w, p->gaps, p->ref.size, (guint32) p->ref.window,
                                    p->base + (guint32) t);
  if (got != want)
    g_error ("at %" G_GINT64_FORMAT " ms: window says %d, a ring of full times %d", t, got, want);
  return got;
}

static void
test_burst_and_slide (void)
{
  Pair p;
  pair_init (&p, 50, 1000, 1000);
  /* 50 at once pass, the 51st is refused, and so is one at 999 ms... */
  for (guint i = 0; i < 50; i++)
    g_assert_true (pair_send (&p, 0));
  g_assert_false (pair_send (&p, 0));
  g_assert_false (pair_send (&p, 999));
  /* ... until they are 1,000 ms old: 50 pass again, the 51st not. */
  for (guint i = 0; i < 50; i++)
    g_assert_true (pair_send (&p, 1000));
  g_assert_false (pair_send (&p, 1000));

  /* Spread: one every 20 ms fills the window; then one passes each time the
   * oldest turns 1,000 ms old, and none in between. */
  pair_init (&p, 50, 1000, 77);
  for (guint i = 0; i < 50; i++)
    g_assert_true (pair_send (&p, 20 * i));
  g_assert_false (pair_send (&p, 999));
  g_assert_true (pair_send (&p, 1000));
  g_assert_false (pair_send (&p, 1000));
  g_assert_false (pair_send (&p, 1019));
  g_assert_true (pair_send (&p, 1020));
}

static void
test_long_gaps (void)
{
  /* 10 chat messages per 10 s: gaps of hours (saturated) and of exactly
   * 65,535 / 65,536 ms never make an old message count as recent. */
  Pair p;
  pair_init (&p, 10, 10000, 5);
  gint64 t = 0;
  const gint64 steps[] = { 0, 3 * 3600 * 1000, 65535, 65536, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 9990, 9, 1, 10, 70000 };
  for (guint i = 0; i < G_N_ELEMENTS (steps); i++) {
    t += steps[i];
    pair_send (&p, t);
  }
  /* 10 within a second after an hour's silence: all pass, the 11th not. */
  t += 3600 * 1000;
  for (guint i = 0; i < 10; i++)
    g_assert_true (pair_send (&p, t + i));
  g_assert_false (pair_send (&p, t + 10));
}

static void
test_clock_wrap (void)
{
  /* The 32-bit millisecond clock wraps mid-burst. */
  Pair p;
  pair_init (&p, 50, 1000, G_MAXUINT32 - 500);
  for (guint i = 0; i < 50; i++)
    g_assert_true (pair_send (&p, 10 * i));
  g_assert_false (pair_send (&p, 990));
  g_assert_true (pair_send (&p, 1000));
}

static void
test_random_against_reference (void)
{
  /* Random arrival patterns (bursts, pauses, long silences) for both limits. */
  GRand *rand = g_rand_new_with_seed (6);
  for (guint round = 0; round < 200; round++) {
    gboolean chat = round % 2;
    Pair p;
    pair_init (&p, chat ? 10 : 50, chat ? 10000 : 1000, g_rand_int (rand));
    gint64 t = 0;
    for (guint i = 0; i < 2000; i++) {
      switch (g_rand_int_range (rand, 0, 10)) {
      case 0:
        t += g_rand_int_range (rand, 0, 200000);   /* silence, sometimes past 16 bits */
        break;
      case 1: case 2: case 3:
        t += g_rand_int_range (rand, 0, chat ? 3000 : 100);
        break;
      default:
        t += g_rand_int_range (rand, 0, chat ? 200 : 5);   /* a burst */
        break;
      }
      pair_send (&p, t);
    }
  }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rate-window/burst-and-slide", test_burst_and_slide);
  g_test_add_func ("/rate-window/long-gaps", test_long_gaps);
  g_test_add_func ("/rate-window/clock-wrap", test_clock_wrap);
  g_test_add_func ("/rate-window/random-against-reference", test_random_against_reference);
  return g_test_run ();
}
