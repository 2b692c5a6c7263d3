/* fuzz-seal.c — libFuzzer target for encryption at rest: the key file parser
 * and the stored form of sealed values.
 *
 * Why: the key file is read by the server and televisitctl at every start and
 * the sealed values come back from a database file someone may have edited
 * (tvenc1:<key id>:<base64 nonce|ciphertext|tag>). Neither may crash, and a
 * value that does not open must be refused, never returned half-decrypted.
 * Input: "<key file text>" NUL "<stored value>" (no NUL: all of it is both).
 *   - the key file text goes to tv_data_keys_parse(); a ring it accepts has a
 *     current key that it can look up;
 *   - the stored value goes to tv_store_private_unseal() on an in-memory store
 *     (its own random key): it must fail, except for values this run sealed;
 *   - when the value is valid UTF-8 it is sealed and must unseal to itself,
 *     and not under another context.
 * Build and run: `make fuzz FUZZ_TARGETS=seal`; `make check` replays
 * tests/fuzz/corpus/seal/.
 * Thread: libFuzzer's thread.
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/tv-data-key.h"
#include "server/tv-store-private.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static TvStore *store;

static void
cleanup (void)
{
  g_clear_pointer (&store, tv_store_close);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  GError *error = NULL;
  store = tv_store_open (":memory:", &error);
  if (store == NULL)
    g_error ("fuzz-seal: %s", error->message);
  atexit (cleanup);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (store == NULL)
    LLVMFuzzerInitialize (NULL, NULL);
  const char *text = (const char *) data;
  const char *nul = memchr (data, '\0', size);
  gsize key_len = nul != NULL ? (gsize) (nul - text) : size;
  g_autofree char *value = nul != NULL ? g_strndup (nul + 1, size - key_len - 1) : g_strndup (text, size);

  g_autoptr (GError) error = NULL;
  g_autoptr (TvDataKeys) keys = tv_data_keys_parse (text, key_len, "fuzz", &error);
  if (keys != NULL && tv_data_keys_lookup (keys, tv_data_keys_current (keys)) == NULL)
    g_error ("fuzz-seal: accepted a ring without its current key");
  if (keys == NULL && error == NULL)
    g_error ("fuzz-seal: refused a ring without saying why");
  g_clear_error (&error);

  g_autofree char *plain = tv_store_private_unseal (store, value, "fuzz.value:1", &error);
  if (plain == NULL && error == NULL)
    g_error ("fuzz-seal: unseal failed without an error");
  if (plain != NULL && !g_utf8_validate (plain, -1, NULL))
    g_error ("fuzz-seal: unseal returned invalid UTF-8");
  g_clear_error (&error);

  if (g_utf8_validate (value, -1, NULL)) {
    g_autofree char *sealed = tv_store_private_seal (store, value, "fuzz.value:1", &error);
    if (sealed == NULL)
      g_error ("fuzz-seal: seal failed: %s", error->message);
    g_autofree char *back = tv_store_private_unseal (store, sealed, "fuzz.value:1", &error);
    if (back == NULL || strcmp (back, value) != 0)
      g_error ("fuzz-seal: a sealed value did not unseal to itself");
    g_autofree char *moved = tv_store_private_unseal (store, sealed, "fuzz.value:2", NULL);
    if (moved != NULL)
      g_error ("fuzz-seal: a sealed value opened under another context");
  }
  return 0;
}
