/* tv-ctl-rekey.h — `televisitctl keys status|rotate|rekey|retire`: the data keys
 * of encryption at rest.
 *
 * Why: keys must be rotatable on the server machine without the key ever
 * passing through a command line: a new key is added to the owner-only key
 * file, values are re-encrypted to it, and the old key is removed only when no
 * value uses it any more (server/tv-store-seal.h, server/tv-data-key.h).
 * Thread: single-threaded command-line program.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The help text of `televisitctl keys` (for the manual and `help keys`). */
extern const char TV_SERVER_CTL_KEYS_HELP[];

/* tv_server_ctl_keys_main:
 * Runs `televisitctl keys SUBCOMMAND ...`; @argv[0] is "keys". @data_dir: the
 * --data-dir given before the command, or NULL.
 * Returns: the exit status (0 ok, 1 usage, 2 store or key file, 3 refused:
 * retire of a key still in use or the current key). */
int tv_server_ctl_keys_main (int argc, char **argv, const char *data_dir);

G_END_DECLS
