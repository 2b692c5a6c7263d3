/* tv-ctl-user.h — `televisitctl user ...`: add, list, disable, set-password.
 *
 * Why: accounts are created and managed by an administrator on the server
 * machine (the first admin cannot be created over the API); kept out of
 * televisitctl.c so that file stays about consults.
 * Thread: single-threaded command-line program.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The help text of `televisitctl user` (for the manual and `help user`). */
extern const char TV_SERVER_CTL_USER_HELP[];

/* tv_server_ctl_user_main:
 * Runs `televisitctl user SUBCOMMAND ...`. @argv[0] is "user". @data_dir: the
 * --data-dir given before the command, or NULL (then --data-dir among the
 * options, TELEVISIT_DATA_DIR, or the default apply).
 * Passwords are read from standard input only (--password-stdin), never argv.
 * Returns: the exit status (0 ok, 1 usage, 2 store, 3 no such user / username
 * taken). Messages go to stderr, results to stdout. */
int tv_server_ctl_user_main (int argc, char **argv, const char *data_dir);

G_END_DECLS
