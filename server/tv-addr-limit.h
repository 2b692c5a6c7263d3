/* tv-addr-limit.h — per-client-address limits: open connections and message rate.
 *
 * Why: the per-connection limits (50 msgs/s, 64 KiB frames, join timeout)
 * do not stop one host from opening thousands of connections, each just under
 * its own limit, and so taking every slot or the server's CPU. This table
 * counts, per client IP address, the open WebSocket connections and the
 * messages of the last second summed over them (a token bucket refilled at
 * the rate, holding at most one second's worth).
 * Thread: main loop only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _TvAddrLimits TvAddrLimits;

/* tv_addr_limits_new:
 * @max_connections: connections per address (>= 1).
 * @max_rate: messages per second per address (>= 1).
 * Returns: (transfer full) an empty table. */
TvAddrLimits *tv_addr_limits_new (guint max_connections, guint max_rate);

/* Frees the table. NULL accepted. */
void tv_addr_limits_free (TvAddrLimits *limits);

/* Returns: TRUE when @addr holds fewer than max_connections connections (a
 * new one may be admitted). Changes nothing. */
gboolean tv_addr_limits_can_connect (TvAddrLimits *limits, const char *addr);

/* Counts one more / one fewer open connection for @addr. Every
 * tv_addr_limits_connected must be matched by one tv_addr_limits_disconnected;
 * an address whose last connection closed is forgotten. */
void tv_addr_limits_connected (TvAddrLimits *limits, const char *addr);
void tv_addr_limits_disconnected (TvAddrLimits *limits, const char *addr);

/* tv_addr_limits_message:
 * Charges one message from @addr at monotonic time @now_us.
 * Returns: FALSE when the address is over its rate (the message is refused;
 * nothing is charged). */
gboolean tv_addr_limits_message (TvAddrLimits *limits, const char *addr, gint64 now_us);

/* Returns: the number of connections counted for @addr. */
guint tv_addr_limits_count (TvAddrLimits *limits, const char *addr);

G_END_DECLS
