/* fuzz-config.c — libFuzzer target for the server's configuration key-file parser.
 *
 * Why: televisit-server reads its settings from a key file an operator (or a
 * configuration-management tool) writes; a malformed file must end in a
 * TV_SERVER_CONFIG_ERROR naming the problem, never a crash, and whatever is
 * accepted must be within the documented ranges, because the rest of the
 * server trusts TvServerConfig without re-checking it.
 * Input: the key file's bytes, given to tv_server_config_load_data() (the same
 * code as --config FILE, without the file).
 * Build and run: `make fuzz FUZZ_TARGETS=config` (clang); `make check` replays
 * tests/fuzz/corpus/config/ through tv-fuzz-replay.c.
 * Thread: libFuzzer's thread; every input gets a fresh config.
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <gio/gio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/tv-config.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_url_list (char **list, const char *scheme_a, const char *scheme_b)
{
  if (list == NULL)
    abort ();
  for (char **u = list; *u; u++)
    if (g_ascii_strncasecmp (*u, scheme_a, strlen (scheme_a)) != 0
        && g_ascii_strncasecmp (*u, scheme_b, strlen (scheme_b)) != 0)
      abort ();
}

/* What the rest of the server assumes of an accepted configuration. */
static void
check_accepted (const TvServerConfig *cfg)
{
  if (cfg->data_dir == NULL || !g_path_is_absolute (cfg->data_dir))
    abort ();
  GInetAddress *addr = cfg->listen ? g_inet_address_new_from_string (cfg->listen) : NULL;
  if (addr == NULL)
    abort ();
  g_object_unref (addr);
  if (cfg->port > 65535 || cfg->join_timeout_s < 1 || cfg->join_timeout_s > 300
      || cfg->max_connections < 1 || cfg->max_connections > TV_SERVER_MAX_MAX_CONNECTIONS)
    abort ();
  if (cfg->log_level > TV_SERVER_LOG_DEBUG)
    abort ();
  if ((cfg->cert && !g_path_is_absolute (cfg->cert)) || (cfg->key && !g_path_is_absolute (cfg->key)))
    abort ();
  check_url_list (cfg->stun, "stun:", "stuns:");
  check_url_list (cfg->turn, "turn:", "turns:");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  TvServerConfig *cfg = tv_server_config_new_default ();
  GError *error = NULL;

  if (tv_server_config_load_data (cfg, (const char *) data, size, "fuzz.conf", &error)) {
    if (error != NULL)
      abort ();
    check_accepted (cfg);
  } else {
    /* A refusal always says why, in the config error domain. */
    if (error == NULL || error->domain != TV_SERVER_CONFIG_ERROR || error->message == NULL
        || error->message[0] == '\0')
      abort ();
    g_error_free (error);
  }
  tv_server_config_free (cfg);
  return 0;
}
