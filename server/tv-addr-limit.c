/* tv-addr-limit.c — per-client-address connection and message-rate limits (see the header).
 *
 * Why: a bounded table (one entry per address with an open connection) that
 * the consult protocol asks before admitting a handshake and before handling
 * a message. Rate: a token bucket per address holding at most max_rate tokens,
 * refilled at max_rate per second; each message takes one.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-addr-limit"

#include "server/tv-addr-limit.h"

typedef struct {
  guint conns;
  double tokens;
  gint64 refilled_us; /* monotonic time the bucket was last refilled, 0 = full */
} AddrState;

struct _TvAddrLimits {
  guint max_connections;
  guint max_rate;
  GHashTable *addrs; /* char* (owned) -> AddrState* (owned) */
};

TvAddrLimits *
tv_addr_limits_new (guint max_connections, guint max_rate)
{
  g_return_val_if_fail (max_connections >= 1 && max_rate >= 1, NULL);
  TvAddrLimits *l = g_new0 (TvAddrLimits, 1);
  l->max_connections = max_connections;
  l->max_rate = max_rate;
  l->addrs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return l;
}

void
tv_addr_limits_free (TvAddrLimits *l)
{
  if (!l)
    return;
  g_hash_table_unref (l->addrs);
  g_free (l);
}

gboolean
tv_addr_limits_can_connect (TvAddrLimits *l, const char *addr)
{
  g_return_val_if_fail (l != NULL && addr != NULL, FALSE);
  AddrState *a = g_hash_table_lookup (l->addrs, addr);
  return !a || a->conns < l->max_connections;
}

void
tv_addr_limits_connected (TvAddrLimits *l, const char *addr)
{
  g_return_if_fail (l != NULL && addr != NULL);
  AddrState *a = g_hash_table_lookup (l->addrs, addr);
  if (!a) {
    a = g_new0 (AddrState, 1);
    a->tokens = l->max_rate;
    g_hash_table_insert (l->addrs, g_strdup (addr), a);
  }
  a->conns++;
}

void
tv_addr_limits_disconnected (TvAddrLimits *l, const char *addr)
{
  g_return_if_fail (l != NULL && addr != NULL);
  AddrState *a = g_hash_table_lookup (l->addrs, addr);
  g_return_if_fail (a != NULL && a->conns > 0);
  /* Forgetting the address also forgets its bucket: reconnecting cannot buy
   * more than a fresh second's worth, since the connection limit holds. */
  if (--a->conns == 0)
    g_hash_table_remove (l->addrs, addr);
}

gboolean
tv_addr_limits_message (TvAddrLimits *l, const char *addr, gint64 now_us)
{
  g_return_val_if_fail (l != NULL && addr != NULL, FALSE);
  AddrState *a = g_hash_table_lookup (l->addrs, addr);
  if (!a)
    return TRUE; /* not counted (cannot happen for an open connection) */
  if (a->refilled_us != 0 && now_us > a->refilled_us) {
    a->tokens += (double) (now_us - a->refilled_us) * l->max_rate / G_USEC_PER_SEC;
    if (a->tokens > l->max_rate)
      a->tokens = l->max_rate;
  }
  a->refilled_us = now_us;
  if (a->tokens < 1.0)
    return FALSE;
  a->tokens -= 1.0;
  return TRUE;
}

guint
tv_addr_limits_count (TvAddrLimits *l, const char *addr)
{
  g_return_val_if_fail (l != NULL && addr != NULL, 0);
  AddrState *a = g_hash_table_lookup (l->addrs, addr);
  return a ? a->conns : 0;
}
