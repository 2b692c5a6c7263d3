/* tv-store-chat-schema.c — schema v8: in-call chat messages.
 *
 * Why a file of its own: the migration list in tv-store-sqlite.c is contiguous,
 * so each area's step is reserved by number up front and owned here; the area's
 * store functions live in server/tv-store-chat.c.
 *
 * consult_chat: one row per chat message of a consult, in the order received
 * (id, AUTOINCREMENT: never reused, so ids only grow), the sender's role, the
 * server's receive time (µs UTC) and the text, sealed at rest
 * (tv_store_private_seal, context "consult_chat.text:<consult id>"; listed in
 * the sealed-column registry of tv-store-seal.c).
 */
#include "server/tv-store-schema.h"

const char TV_STORE_CHAT_SCHEMA_V8[] =
  "CREATE TABLE consult_chat ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  consult_id TEXT NOT NULL REFERENCES consults (id) ON DELETE CASCADE,"
  "  sender_role TEXT NOT NULL CHECK (sender_role IN ('doctor', 'patient')),"
  "  sent_at INTEGER NOT NULL CHECK (sent_at > 0),"
  "  text TEXT NOT NULL"
  ");"
  "CREATE INDEX consult_chat_by_consult ON consult_chat (consult_id, id);";
