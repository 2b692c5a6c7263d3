/* tv-store-reminders-schema.c — schema v7: the reminder outbox.
 *
 * Why a file of its own: the migration list in tv-store-sqlite.c is contiguous,
 * so each area's step is reserved by number up front and owned here; the area's
 * store functions live in server/tv-store-reminders.c.
 * Placeholder until the area lands: a no-op step that only bumps the version.
 */
#include "server/tv-store-schema.h"

const char TV_STORE_REMINDERS_SCHEMA_V7[] = "SELECT 1;";
