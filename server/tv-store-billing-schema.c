/* tv-store-billing-schema.c — schema v6: consult facts (modality, patient location, new/established, visit note) and billing lines.
 *
 * Why a file of its own: the migration list in tv-store-sqlite.c is contiguous,
 * so each area's step is reserved by number up front and owned here; the area's
 * store functions live in server/tv-store-billing.c (see tv-store-billing.h).
 * Tables: consult_facts (one row per consult whose facts were set or that was
 * completed; note sealed at rest), billing_settings (the code table and scheme
 * in force, one row), billing_lines (one per billed consult, with its claim
 * status). STRICT tables and CHECKs keep the enumerations true whatever
 * process writes the file.
 */
#include "server/tv-store-schema.h"

const char TV_STORE_BILLING_SCHEMA_V6[] =
  "CREATE TABLE consult_facts ("
  "  consult_id TEXT PRIMARY KEY NOT NULL REFERENCES consults (id) ON DELETE CASCADE,"
  "  modality TEXT NOT NULL CHECK (modality IN ('audio-video', 'audio-only')),"
  "  audio_only_reason TEXT CHECK (length(CAST(audio_only_reason AS BLOB)) BETWEEN 1 AND 200),"
  "  patient_location TEXT NOT NULL CHECK (patient_location IN ('home', 'other')),"
  "  patient_status TEXT NOT NULL CHECK (patient_status IN ('new', 'established')),"
  "  note TEXT,"
  "  set_by TEXT,"
  "  updated_at INTEGER NOT NULL DEFAULT 0 CHECK (updated_at >= 0),"
  "  unbilled_reason TEXT,"
  "  CHECK ((modality = 'audio-only') = (audio_only_reason IS NOT NULL))"
  ") STRICT;"
  "CREATE TABLE billing_settings ("
  "  id INTEGER PRIMARY KEY CHECK (id = 1),"
  "  scheme TEXT NOT NULL CHECK (scheme IN ('telemedicine', 'office-em')),"
  "  table_text TEXT NOT NULL,"
  "  updated_at INTEGER NOT NULL CHECK (updated_at > 0)"
  ") STRICT;"
  "CREATE TABLE billing_lines ("
  "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),"
  "  consult_id TEXT NOT NULL UNIQUE REFERENCES consults (id),"
  "  service_at INTEGER NOT NULL CHECK (service_at > 0),"
  "  scheme TEXT NOT NULL CHECK (scheme IN ('telemedicine', 'office-em')),"
  "  code TEXT NOT NULL CHECK (length(code) = 5),"
  "  modifiers TEXT NOT NULL,"
  "  pos TEXT NOT NULL CHECK (length(pos) = 2),"
  "  modality TEXT NOT NULL CHECK (modality IN ('audio-video', 'audio-only')),"
  "  patient_status TEXT NOT NULL CHECK (patient_status IN ('new', 'established')),"
  "  minutes INTEGER NOT NULL CHECK (minutes >= 0),"
  "  fee_cents INTEGER NOT NULL CHECK (fee_cents >= 0),"
  "  currency TEXT NOT NULL CHECK (length(currency) = 3),"
  "  description TEXT NOT NULL,"
  "  status TEXT NOT NULL CHECK (status IN ('ready', 'submitted', 'paid', 'denied')),"
  "  created_at INTEGER NOT NULL CHECK (created_at > 0),"
  "  status_at INTEGER NOT NULL CHECK (status_at > 0)"
  ") STRICT;"
  "CREATE INDEX billing_lines_by_service ON billing_lines (service_at, id);";
