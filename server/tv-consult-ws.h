/* tv-consult-ws.h — the consult WebSocket protocol (televisit.v1) on the server side.
 *
 * Why: one file for the protocol: per-connection state (join timeout, rate
 * limit, fragment reassembly, bounded send queue), the consult rooms (a
 * TvSigRoom plus the two parties' connections) and what each message does to
 * the room, the store and the peer. The rules are those of signaling/PROTOCOL.md.
 * Thread: main loop only (lws callbacks and our GSources).
 */
#pragma once

#include <glib.h>
#include <libwebsockets.h>

#include "server/tv-server.h"

G_BEGIN_DECLS

/* Send queue bound per connection: past either limit the connection is dropped,
 * so a client that does not read cannot grow the server's memory. */
#define TV_SERVER_SEND_QUEUE_MAX_MSGS  256
#define TV_SERVER_SEND_QUEUE_MAX_BYTES (1024 * 1024)
/* At most this many messages in any 1 s window per connection (error 4009). */
#define TV_SERVER_RATE_LIMIT_MSGS 50
/* At most this many chat messages are replayed to a party who joins (the newest). */
#define TV_SERVER_CHAT_REPLAY_MAX 100
/* A live consult's connected time is checkpointed in the store this often, so
 * a crashed server loses at most this much of it (tv-store-live.h). */
#define TV_SERVER_CHECKPOINT_S 2

typedef struct _TvServerRoom TvServerRoom;

/* Returns: (transfer none) the vhost's protocol table: [0] refuses WebSocket
 * handshakes that offer no (or no known) subprotocol and answers plain HTTP with
 * 404; [1] is TV_SIG_SUBPROTOCOL. Terminated by a NULL entry. */
const struct lws_protocols *tv_server_consult_protocols (void);

/* Frees a room (the server's room table GDestroyNotify). NULL accepted. */
void tv_server_room_free (TvServerRoom *room);

/* tv_server_consult_check_store:
 * For every live room, reads its consult from the store; a consult completed or
 * cancelled outside the server (televisitctl) ends the room: both parties get
 * "ended" (reason "ended-by-admin") and are closed. A room whose media is
 * connected gets its connected interval checkpointed every
 * TV_SERVER_CHECKPOINT_S. Store errors are logged and retried on the next call. */
void tv_server_consult_check_store (TvServer *server);

/* tv_server_consult_shutdown:
 * Closes every live consult's connected interval in the store, removes the
 * rooms, and sends error 5001 to every connection, which is then closed. */
void tv_server_consult_shutdown (TvServer *server);

G_END_DECLS
