/* tv-store-reminders-schema.c — schema v7: contact details and the reminder outbox.
 *
 * Why a file of its own: the migration list in tv-store-sqlite.c is contiguous,
 * so each area's step is reserved by number up front and owned here; the area's
 * store functions live in server/tv-store-reminders.c.
 *   user_contacts      one row per user: e-mail and phone, each stored through
 *                      tv_store_private_seal (context "user_contacts.email:<user id>",
 *                      "user_contacts.phone:<user id>"), NULL when unset.
 *   reminder_settings  the offsets the booking transaction uses (one row, the
 *                      server writes its reminder-offsets there at start so that
 *                      televisitctl bookings get the same reminders).
 *   reminders          the outbox: one row per message (a reminder at an offset
 *                      before the start, or a cancellation notice), its status,
 *                      attempts and last error (never any personal data).
 * Thread: any (constant data).
 */
#include "server/tv-store-schema.h"

const char TV_STORE_REMINDERS_SCHEMA_V7[] =
  "CREATE TABLE user_contacts ("
  "  user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
  "  email TEXT,"
  "  phone TEXT,"
  "  updated_at INTEGER NOT NULL CHECK (updated_at > 0)"
  ") STRICT;"
  "CREATE TABLE reminder_settings ("
  "  id INTEGER PRIMARY KEY CHECK (id = 1),"
  "  offsets TEXT NOT NULL CHECK (length(offsets) <= 200),"
  "  updated_at INTEGER NOT NULL CHECK (updated_at > 0)"
  ") STRICT;"
  "CREATE TABLE reminders ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  consult_id TEXT NOT NULL REFERENCES consults (id) ON DELETE CASCADE,"
  "  kind TEXT NOT NULL CHECK (kind IN ('reminder', 'cancellation')),"
  "  offset_s INTEGER NOT NULL CHECK (offset_s >= 0),"
  "  due_at INTEGER NOT NULL,"
  "  consult_start INTEGER NOT NULL CHECK (consult_start > 0),"
  "  consult_end INTEGER NOT NULL CHECK (consult_end >= consult_start),"
  "  sequence INTEGER NOT NULL CHECK (sequence >= 0),"
  "  status TEXT NOT NULL CHECK (status IN"
  "    ('pending', 'sending', 'sent', 'failed', 'cancelled', 'skipped')),"
  "  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
  "  next_attempt_at INTEGER NOT NULL,"
  "  last_error TEXT CHECK (last_error IS NULL OR length(last_error) <= 256),"
  "  created_at INTEGER NOT NULL CHECK (created_at > 0),"
  "  updated_at INTEGER NOT NULL CHECK (updated_at > 0),"
  "  sent_at INTEGER NOT NULL DEFAULT 0 CHECK (sent_at >= 0)"
  ") STRICT;"
  /* v10 (server/tv-store-booking-schema.c) makes it partial: open reminders only. */
  "CREATE INDEX reminders_due ON reminders (status, next_attempt_at);"
  "CREATE INDEX reminders_by_consult ON reminders (consult_id, id);";
