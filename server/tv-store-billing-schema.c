/* tv-store-billing-schema.c — schema v6: consult facts (modality, patient location, new/established, visit note) and billing lines.
 *
 * Why a file of its own: the migration list in tv-store-sqlite.c is contiguous,
 * so each area's step is reserved by number up front and owned here; the area's
 * store functions live in server/tv-store-billing.c.
 * Placeholder until the area lands: a no-op step that only bumps the version.
 */
#include "server/tv-store-schema.h"

const char TV_STORE_BILLING_SCHEMA_V6[] = "SELECT 1;";
