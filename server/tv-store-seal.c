/* tv-store-seal.c — encryption at rest of sensitive text columns.
 *
 * Placeholder until the field-encryption area lands (AES-256-GCM through
 * OpenSSL EVP, key read from a file, key id kept for rotation): for now the
 * value is stored as given, so callers can already route every sensitive
 * column through seal/unseal.
 * Thread: the store's thread.
 */
#include "server/tv-store-private.h"

char *
tv_store_private_seal (TvStore *store, const char *plaintext, const char *context, GError **error)
{
  return g_strdup (plaintext);
}

char *
tv_store_private_unseal (TvStore *store, const char *stored, const char *context, GError **error)
{
  return g_strdup (stored);
}
