/* tv-store-schema.h — the migration steps reserved for areas still landing.
 *
 * Why: migrations[i] in tv-store-sqlite.c takes a database from version i to
 * i + 1 and must stay contiguous. Areas developed side by side each own one
 * numbered step (defined in server/tv-store-<area>-schema.c), so none of them
 * has to renumber when another lands first.
 * Thread: any (constant data).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* v6: consult facts for billing and billing lines (server/tv-store-billing-schema.c). */
extern const char TV_STORE_BILLING_SCHEMA_V6[];
/* v7: the reminder outbox (server/tv-store-reminders-schema.c). */
extern const char TV_STORE_REMINDERS_SCHEMA_V7[];
/* v8: in-call chat (server/tv-store-chat-schema.c). */
extern const char TV_STORE_CHAT_SCHEMA_V8[];
/* v9: bounded no-overlap triggers, unused audit indexes dropped (server/tv-store-booking-schema.c). */
extern const char TV_STORE_BOOKING_SCHEMA_V9[];
/* v10: reminders_due holds open reminders only (server/tv-store-booking-schema.c). */
extern const char TV_STORE_BOOKING_SCHEMA_V10[];

G_END_DECLS
