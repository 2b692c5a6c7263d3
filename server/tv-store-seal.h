/* tv-store-seal.h — encryption at rest: the store's data keys, the sealed
 * columns, key rotation.
 *
 * Why: visit notes, chat text and contact details are patient data that must
 * not be readable from a copy of the database (or its -wal). They are sealed
 * field by field with AES-256-GCM (OpenSSL EVP), with keys from an owner-only
 * key ring file (server/tv-data-key.h). Field-level encryption was chosen over
 * whole-file SQLCipher: Debian 12's libsqlcipher is 3.4.1 on a 2016 SQLite 3.15
 * (no STRICT tables, no UPSERT, which the schema and billing use), and sealed
 * fields carry over unchanged to a PostgreSQL store later.
 *
 * Stored form of a sealed value (text):
 *   tvenc1:<key id>:<base64 of 12-byte random nonce | ciphertext | 16-byte GCM tag>
 * The additional authenticated data is "tvenc1:<key id>:<context>", where the
 * context names the column and row ("<table>.<column>:<row id>"), so a value
 * copied to another row or column, or tampered with, does not open.
 *
 * Which key file: tv_store_open uses, until told otherwise, the file named by
 * the environment variable TELEVISIT_DATA_KEY_FILE if set, else
 * "<directory of the database>/keys/data.keys" (for the server and televisitctl
 * that is <data-dir>/keys/data.keys); ":memory:" stores use a random key that
 * lives only in memory. The file is created (one random key, id 1) the first
 * time a value is sealed — unless the database already holds sealed values, then
 * the missing file is an error (restore it from backup). Tests that never set a
 * key therefore work: their key ring is made next to their temporary database.
 * The ring is re-read when the file changes (checked with stat at each seal or
 * unseal), so a running server picks up `televisitctl keys rotate` at once.
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* Prefix of every sealed value. */
#define TV_STORE_SEAL_PREFIX "tvenc1:"

/* One column whose values are sealed (see the registry in tv-store-seal.c). */
typedef struct {
  const char *table;           /* SQL table (must be a rowid table) */
  const char *column;          /* the sealed TEXT column (NULL values allowed) */
  const char *context_column;  /* column whose value names the row in the context */
  const char *context_prefix;  /* context = "<context_prefix>:<context_column value>" */
} TvSealedColumn;

/* Returns: (transfer none) (array length=n_columns) the registered sealed columns. */
const TvSealedColumn *tv_store_sealed_columns (guint *n_columns);

/* tv_store_set_data_key_file:
 * Uses the key ring at @path from now on and loads it at once (so a bad file
 * fails at start-up, not at the first note): created when missing and the
 * database holds no sealed value yet.
 * Returns: TRUE; FALSE with @error (TV_STORE_ERR_IO, message from the key file:
 * missing, permissions, malformed) and the store keeps its previous ring. */
gboolean tv_store_set_data_key_file (TvStore *store, const char *path, GError **error);

/* Returns: (transfer none) the key ring file in use, NULL for an in-memory key. */
const char *tv_store_get_data_key_file (TvStore *store);

/* tv_store_sealed_count:
 * Counts the values of every registered sealed column: *@n_with_key those sealed
 * with key @key_id (0: with any key), *@n_plain those not sealed at all (written
 * before encryption or by hand; rekey seals them). Either pointer may be NULL.
 * Returns: TRUE; FALSE with @error (IO). */
gboolean tv_store_sealed_count (TvStore *store, guint key_id, guint64 *n_with_key, guint64 *n_plain,
                                GError **error);

/* tv_store_rekey:
 * Re-encrypts every registered sealed value that is not sealed with the current
 * key (or not sealed at all) with the current key, @batch rows per transaction
 * (1..100000). A value that does not open stops the run with an error naming
 * its context; batches committed before stay (each batch is all-or-nothing,
 * and a re-run continues).
 * Returns: TRUE with *@n_changed (may be NULL); FALSE with @error (IO). */
gboolean tv_store_rekey (TvStore *store, guint batch, guint64 *n_changed, GError **error);

/* TEST-ONLY: registers an extra sealed column for this store (tests that need a
 * sealed column before any area has one). @col and its strings must outlive the store. */
void tv_store_seal_add_column_for_testing (TvStore *store, const TvSealedColumn *col);

G_END_DECLS
