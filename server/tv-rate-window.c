/* tv-rate-window.c — sliding-window rate limit kept as 16-bit gaps.
 *
 * Why: see tv-rate-window.h (two per WSS connection, for its whole life).
 * Thread: none of its own.
 */
#include "server/tv-rate-window.h"

gboolean
tv_rate_window_ok (TvRateWindow *w, guint16 *gaps, guint size, guint32 window_ms, guint32 now_ms)
{
  g_return_val_if_fail (w != NULL && gaps != NULL && size >= 1 && size <= 255, FALSE);
  g_return_val_if_fail (window_ms >= 1 && window_ms <= G_MAXUINT16, FALSE);
  guint32 since_last = now_ms - w->last;
  /* The oldest of the last @size arrived since_last + span ago. */
  if (w->n == size && (guint64) since_last + w->span < window_ms)
    return FALSE;
  guint16 gap = w->n == 0 ? 0 : (guint16) MIN (since_last, G_MAXUINT16);
  if (w->n == size) {
    /* The oldest goes; the next one is the oldest now, its gap leaves the span. */
    guint next = (w->pos + 1u) % size;
    w->span -= gaps[next];
    gaps[w->pos] = gap;
    w->pos = (guint8) next;
  } else {
    gaps[(w->pos + w->n) % size] = gap;
    w->n++;
  }
  w->span += gap;
  w->last = now_ms;
  return TRUE;
}
