/* tv-ctl-audit.h — `televisitctl audit verify|list`: check and read the audit trail.
 *
 * Why: the audit trail (server/tv-store-audit.h) is reviewed on the server
 * machine too, and its hash chain is checked there (e.g. from cron), without
 * the server running; kept out of televisitctl.c like the other areas.
 * Thread: single-threaded command-line program.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The help text of `televisitctl audit` (for the manual and `help audit`). */
extern const char TV_SERVER_CTL_AUDIT_HELP[];

/* tv_server_ctl_audit_main:
 * Runs `televisitctl audit SUBCOMMAND ...`; @argv[0] is "audit". @data_dir:
 * the --data-dir given before the command, or NULL (then --data-dir among the
 * options, TELEVISIT_DATA_DIR, or the default apply).
 * Returns: the exit status (0 ok / chain intact, 1 usage, 2 store,
 * 4 chain broken). Results go to stdout, messages to stderr. */
int tv_server_ctl_audit_main (int argc, char **argv, const char *data_dir);

G_END_DECLS
