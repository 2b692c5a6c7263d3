/* tv-store-live.h — store operations for consults that are live right now.
 *
 * Why: a server killed with SIGKILL (or a power cut) cannot close the open
 * connected interval of a live consult. At the next start the interval is
 * closed at the last moment the store knows the call was alive; without a
 * regular mark that would be the interval's start, and every second of the
 * call before the crash would be lost from the consult's connected time. The
 * server therefore checkpoints open intervals every few seconds.
 * Thread: the store's thread (the server's main loop).
 */
#pragma once

#include "server/tv-store.h"

G_BEGIN_DECLS

/* tv_store_consult_media_checkpoint:
 * Folds the open connected interval of consult @id into connected_us up to
 * @now and restarts it at @now (media_up_since = @now), in one statement: a
 * crash at any moment leaves either the previous or the new state, and at
 * most the time since the last checkpoint is unaccounted for. Nothing happens
 * when no interval is open or @now is not after its start.
 * Returns: TRUE; FALSE with INVALID (bad @now), NOT_FOUND or IO. */
gboolean tv_store_consult_media_checkpoint (TvStore *store, const char *id, gint64 now, GError **error);

G_END_DECLS
