/* tv-store-booking-schema.c — schemas v9 and v10: cheaper bookings, same guarantees.
 *
 * Why a file of its own: the migration list in tv-store-sqlite.c is contiguous,
 * so each step is reserved by number and owned by one file (v9 and v10: the
 * booking throughput work of issue 6, docs/BENCHMARKS.md "Booking throughput:
 * one record per reply, bounded overlap triggers" and "... fewer index pages
 * per booking ... 2026-11-29 (5)").
 *
 * What v9 changes:
 * - The no-overlap triggers of v3 looked at every live consult of the doctor
 *   that starts before the new one ends: the doctor's whole history of held
 *   ('completed') consults and every future one, one table row read per entry
 *   for its scheduled_end. A consult booked on a doctor's schedule lasts one
 *   slot, at most TV_STORE_SLOT_MINUTES_MAX (120) minutes, so one that overlaps
 *   the new consult starts less than 120 minutes before it: the triggers now
 *   bound scheduled_start from below too, and read only the consults around
 *   the slot (the same bound the store's own overlap queries use).
 * - That bound is only sound while no booked consult is longer, so it becomes
 *   a rule of the table: two triggers refuse a booked consult (doctor_id set)
 *   longer than 120 minutes, and the step refuses to run on a database that
 *   already holds one (CHECK constraint "booked_consult_longer_than_120_minutes"
 *   of a temporary table; nothing is changed then).
 * - audit_by_user and audit_by_at are dropped: no query reads them (the trail
 *   is listed in seq order, the commit order; tv_store_audit_list), and every
 *   audited request paid for two more B-tree inserts. audit_by_patient stays:
 *   a patient's accounting of disclosures reads it.
 *
 * 7200000000 is 120 minutes in µs (scheduled_* are µs since the epoch, UTC).
 *
 * What v10 changes (indexes only; no table, trigger or row changes):
 * - reminders_due becomes partial: it holds the open reminders only (status
 *   'pending' or 'sending'), the only ones its two readers look for (the due
 *   query: status = 'pending'; the recovery at start: status = 'sending';
 *   both still search it, EXPLAIN QUERY PLAN unchanged). Before, every
 *   reminder stayed in it for good, and a cancel moved each of its open
 *   reminders from the 'pending' part of the index to the 'cancelled' part (a
 *   delete and an insert on another page); now it only deletes, and the index
 *   stays as small as the outbox's open work instead of growing with every
 *   reminder ever written (each booking's inserts land on its few hot pages).
 *
 * Thread: any (constant data).
 */
#include "server/tv-store-schema.h"

const char TV_STORE_BOOKING_SCHEMA_V9[] =
  "CREATE TEMP TABLE v9_booked_length_check ("
  "  n INTEGER NOT NULL CONSTRAINT booked_consult_longer_than_120_minutes CHECK (n = 0));"
  "INSERT INTO v9_booked_length_check SELECT count(*) FROM consults"
  "  WHERE doctor_id IS NOT NULL AND scheduled_end - scheduled_start > 7200000000;"
  "DROP TABLE v9_booked_length_check;"
  "CREATE TRIGGER consults_booked_length_insert BEFORE INSERT ON consults"
  "  WHEN NEW.doctor_id IS NOT NULL AND NEW.scheduled_end - NEW.scheduled_start > 7200000000 BEGIN"
  "  SELECT RAISE (ABORT, 'a booked consult lasts at most 120 minutes');"
  "  END;"
  "CREATE TRIGGER consults_booked_length_update"
  "  BEFORE UPDATE OF doctor_id, scheduled_start, scheduled_end ON consults"
  "  WHEN NEW.doctor_id IS NOT NULL AND NEW.scheduled_end - NEW.scheduled_start > 7200000000 BEGIN"
  "  SELECT RAISE (ABORT, 'a booked consult lasts at most 120 minutes');"
  "  END;"
  "DROP TRIGGER consults_no_overlap_insert;"
  "DROP TRIGGER consults_no_overlap_update;"
  "CREATE TRIGGER consults_no_overlap_insert BEFORE INSERT ON consults"
  "  WHEN NEW.doctor_id IS NOT NULL AND NEW.status <> 'cancelled' BEGIN"
  "  SELECT RAISE (ABORT, 'slot taken: overlapping consult of the same doctor') WHERE EXISTS"
  "   (SELECT 1 FROM consults c WHERE c.doctor_id = NEW.doctor_id AND c.status <> 'cancelled'"
  "    AND c.scheduled_start > NEW.scheduled_start - 7200000000"
  "    AND c.scheduled_start < NEW.scheduled_end AND NEW.scheduled_start < c.scheduled_end);"
  "  END;"
  "CREATE TRIGGER consults_no_overlap_update"
  "  BEFORE UPDATE OF doctor_id, scheduled_start, scheduled_end, status ON consults"
  "  WHEN NEW.doctor_id IS NOT NULL AND NEW.status <> 'cancelled' BEGIN"
  "  SELECT RAISE (ABORT, 'slot taken: overlapping consult of the same doctor') WHERE EXISTS"
  "   (SELECT 1 FROM consults c WHERE c.doctor_id = NEW.doctor_id AND c.status <> 'cancelled'"
  "    AND c.id <> NEW.id AND c.scheduled_start > NEW.scheduled_start - 7200000000"
  "    AND c.scheduled_start < NEW.scheduled_end AND NEW.scheduled_start < c.scheduled_end);"
  "  END;"
  "DROP INDEX audit_by_user;"
  "DROP INDEX audit_by_at;";

const char TV_STORE_BOOKING_SCHEMA_V10[] =
  "DROP INDEX reminders_due;"
  "CREATE INDEX reminders_due ON reminders (status, next_attempt_at)"
  "  WHERE status = 'pending' OR status = 'sending';";
