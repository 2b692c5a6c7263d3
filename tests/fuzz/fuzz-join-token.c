/* fuzz-join-token.c — libFuzzer target for join tokens and the client's server URL.
 *
 * Why: a join token reaches the server in every `join` (after the signaling
 * parser) and is looked up in the store; users paste tokens and server URLs
 * into televisit-client's command line. Neither may crash anything, and the
 * two token checks must agree: every token the store considers well formed
 * must be accepted by the client, and a lookup succeeds only for a token the
 * store issued.
 * Input: "<server URL>\n<token>" (no newline: all of it is both).
 *   - the token goes to tv_store_token_is_wellformed() and
 *     tv_store_token_lookup() on a store holding one consult (made at start-up
 *     in a temporary directory, removed at exit);
 *   - televisit-client's option parser gets `--server=<URL> --token=<valid>`
 *     and `--server=<valid> --token=<token>`; an accepted URL is normalised
 *     (wss://host:port/path) and normalising it again must give the same text.
 * Hook: join links (https://HOST:PORT/join#token=...) get their parser with
 * the booking API; add it here when it exists.
 * Build and run: `make fuzz FUZZ_TARGETS=join-token`; `make check` replays
 * tests/fuzz/corpus/join-token/.
 * Thread: libFuzzer's thread.
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/tv-client-options.h"
#include "server/tv-store.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define VALID_URL "wss://127.0.0.1:8443"
#define VALID_TOKEN "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static TvStore *store;
static char *store_dir, *store_path;
static char *doctor_token, *patient_token;

static void
cleanup (void)
{
  g_clear_pointer (&store, tv_store_close);
  if (store_path) {
    /* The store's WAL files, then the directory. */
    const char *suffixes[] = { "", "-wal", "-shm", "-journal" };
    for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++) {
      g_autofree char *p = g_strconcat (store_path, suffixes[i], NULL);
      g_unlink (p);
    }
    g_rmdir (store_dir);
  }
  g_clear_pointer (&store_path, g_free);
  g_clear_pointer (&store_dir, g_free);
  g_clear_pointer (&doctor_token, g_free);
  g_clear_pointer (&patient_token, g_free);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  GError *error = NULL;
  store_dir = g_dir_make_tmp ("tv-fuzz-token-XXXXXX", &error);
  if (!store_dir)
    g_error ("fuzz-join-token: %s", error->message);
  store_path = g_build_filename (store_dir, "televisit.db", NULL);
  store = tv_store_open (store_path, &error);
  if (!store)
    g_error ("fuzz-join-token: %s", error->message);
  gint64 now = g_get_real_time ();
  TvConsult *c = NULL;
  if (!tv_store_consult_create (store, "Dr. Test Doctor", "Pat Synthetic", now, now + (gint64) G_USEC_PER_SEC * 86400,
                                now, &c, &doctor_token, &patient_token, &error))
    g_error ("fuzz-join-token: %s", error->message);
  tv_consult_free (c);
  atexit (cleanup);
  return 0;
}

static void
check_token (const char *token)
{
  gboolean wellformed = tv_store_token_is_wellformed (token);
  GError *error = NULL;
  char *id = NULL;
  TvSigRole role;
  gboolean issued = g_strcmp0 (token, doctor_token) == 0 || g_strcmp0 (token, patient_token) == 0;

  if (tv_store_token_lookup (store, token, g_get_real_time (), &id, &role, &error)) {
    if (!issued || !wellformed || id == NULL)
      abort ();
    g_free (id);
  } else {
    if (issued || error == NULL || error->domain != TV_STORE_ERROR || error->code != TV_STORE_ERR_TOKEN_UNKNOWN)
      abort ();
    g_clear_error (&error);
  }

  g_autofree char *arg = g_strconcat ("--token=", token, NULL);
  char *argv[] = { "televisit-client", "--server=" VALID_URL, arg, NULL };
  TvClientOptions *opts = tv_client_options_parse (3, argv, &error);
  if (opts) {
    if (strcmp (opts->token, token) != 0)
      abort ();
    tv_client_options_free (opts);
  } else {
    /* What the store issues, the client must take. */
    if (wellformed || error == NULL)
      abort ();
    g_clear_error (&error);
  }
}

static void
check_url (const char *url)
{
  GError *error = NULL;
  g_autofree char *arg = g_strconcat ("--server=", url, NULL);
  char *argv[] = { "televisit-client", arg, "--token=" VALID_TOKEN, NULL };
  TvClientOptions *opts = tv_client_options_parse (3, argv, &error);
  if (!opts) {
    if (error == NULL)
      abort ();
    g_error_free (error);
    return;
  }
  if (!g_str_has_prefix (opts->server_url, "wss://"))
    abort ();
  /* Normalising is idempotent: the session connects to exactly this URL. */
  g_autofree char *arg2 = g_strconcat ("--server=", opts->server_url, NULL);
  char *argv2[] = { "televisit-client", arg2, "--token=" VALID_TOKEN, NULL };
  TvClientOptions *again = tv_client_options_parse (3, argv2, &error);
  if (!again || strcmp (again->server_url, opts->server_url) != 0)
    abort ();
  tv_client_options_free (again);
  tv_client_options_free (opts);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* Command-line arguments and JSON strings cannot hold NUL: stop there. */
  char *text = g_strndup ((const char *) data, size);
  char *nl = strchr (text, '\n');
  if (nl) {
    *nl = '\0';
    check_url (text);
    check_token (nl + 1);
  } else {
    check_url (text);
    check_token (text);
  }
  g_free (text);
  return 0;
}
