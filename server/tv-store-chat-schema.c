/* tv-store-chat-schema.c — schema v8: in-call chat messages.
 *
 * Why a file of its own: the migration list in tv-store-sqlite.c is contiguous,
 * so each area's step is reserved by number up front and owned here; the area's
 * store functions live in server/tv-store-chat.c.
 * Placeholder until the area lands: a no-op step that only bumps the version.
 */
#include "server/tv-store-schema.h"

const char TV_STORE_CHAT_SCHEMA_V8[] = "SELECT 1;";
