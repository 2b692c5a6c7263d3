/* tv-ctl-reminders.h — `televisitctl reminders list`: the reminder outbox and each message's status.
 *
 * Why: the clinic's operator checks on the server machine whether reminders
 * went out (and why not), without the server running; kept out of
 * televisitctl.c like the other areas.
 * Thread: single-threaded command-line program.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The help text of `televisitctl reminders` (for the manual and `help reminders`). */
extern const char TV_SERVER_CTL_REMINDERS_HELP[];

/* tv_server_ctl_reminders_main:
 * Runs `televisitctl reminders list [--consult ID] [--json]`; @argv[0] is
 * "reminders". @data_dir: the --data-dir given before the command, or NULL.
 * Returns: the exit status (0 ok, 1 usage, 2 store, 3 no such consult).
 * Results go to stdout, messages to stderr. */
int tv_server_ctl_reminders_main (int argc, char **argv, const char *data_dir);

G_END_DECLS
