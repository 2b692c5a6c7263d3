/* tv-rate-window.h — "at most N messages in any window of W ms", in 2 bytes a
 * message.
 *
 * Why: every WSS connection keeps two of these for its whole life (50 messages
 * per second, 10 chat messages per 10 s), so their size is paid once per
 * connected client (docs/BENCHMARKS.md, "Memory per connection: ... 2-byte rate
 * windows"). The times of the last N messages are kept as the gaps between
 * consecutive ones (ms, 16 bits, saturating at 65,535) in a ring the caller
 * owns, plus the newest time and the span newest - oldest. A saturated gap is
 * over a minute, longer than any window allowed here, so it never makes an old
 * message look recent; below that the span is exact and the answers are those
 * of a ring of full times.
 * Thread: none of its own; a window belongs to one connection.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  guint32 last;     /* newest message, ms of a wrapping 32-bit monotonic clock */
  guint32 span;     /* newest - oldest (the sum of the gaps after the oldest) */
  guint8 n, pos;    /* messages held; ring index of the oldest */
} TvRateWindow;

/* tv_rate_window_ok:
 * @w: the window (zero-initialised when the connection starts).
 * @gaps: its ring of @size entries (owned by the caller, zeroed or not).
 * @size: N, 1..255 (the same for every call on @w).
 * @window_ms: W, 1..65,535.
 * @now_ms: the current time, ms on a 32-bit wrapping monotonic clock (times
 *   less than ~49 days apart compare correctly).
 * Returns: FALSE when @size messages already arrived within the last
 * @window_ms (the new one is not recorded); else records it and returns TRUE. */
gboolean tv_rate_window_ok (TvRateWindow *w, guint16 *gaps, guint size, guint32 window_ms, guint32 now_ms);

G_END_DECLS
