/* tv-ctl-schedule.h — `televisitctl availability|exceptions|slots|book|no-show ...`.
 *
 * Why: clinics without the web front desk yet set doctors' hours and book
 * consults from the server machine, on the same store the server uses (WAL:
 * safe while it runs); the same store functions as the HTTPS API, so the same
 * rules (slots, DST, no double booking). Kept out of televisitctl.c so that
 * file stays about consults.
 * Thread: single-threaded command-line program.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The help text of the scheduling commands (for the manual and `help NAME`). */
extern const char TV_SERVER_CTL_SCHEDULE_HELP[];

/* Returns: TRUE when @name is one of the commands run by tv_server_ctl_schedule_main
 * ("availability", "exceptions", "slots", "book", "no-show"). */
gboolean tv_server_ctl_schedule_handles (const char *name);

/* tv_server_ctl_schedule_main:
 * Runs `televisitctl COMMAND ...` for one of those commands; @argv[0] is the
 * command. @data_dir: the --data-dir given before the command, or NULL (then
 * --data-dir among the options, TELEVISIT_DATA_DIR, or the default apply).
 * Returns: the exit status (0 ok, 1 usage or invalid value, 2 store, 3 no such
 * doctor / patient / consult / exception, slot taken, or wrong state).
 * Messages go to stderr, results to stdout. Join tokens are printed once. */
int tv_server_ctl_schedule_main (int argc, char **argv, const char *data_dir);

G_END_DECLS
