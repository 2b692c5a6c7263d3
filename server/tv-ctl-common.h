/* tv-ctl-common.h — what every televisitctl command shares.
 *
 * Why: televisitctl's commands live in one file per area (televisitctl.c for
 * consults, tv-ctl-user.c, tv-ctl-schedule.c, tv-ctl-audit.c, ...). They all
 * promise the same exit statuses, the same shape of usage error, the same data
 * directory lookup and the same way of opening the store; keeping those here
 * keeps the promise in one place (and gives one place to load what opening the
 * store needs, e.g. keys).
 * Thread: main thread of televisitctl.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* televisitctl's exit statuses (documented in its --help). */
typedef enum {
  TV_CTL_EXIT_OK = 0,
  TV_CTL_EXIT_USAGE = 1,     /* bad command line or invalid value (the message names it) */
  TV_CTL_EXIT_STORE = 2,     /* the store could not be opened, read or written */
  TV_CTL_EXIT_NOT_FOUND = 3, /* no such record, or the request is refused in its state */
  TV_CTL_EXIT_BROKEN = 4,    /* audit verify: the hash chain is broken */
} TvCtlExit;

/* The database file's name inside the data directory, and the data directory
 * when neither --data-dir nor TELEVISIT_DATA_DIR names one. */
#define TV_CTL_DB_NAME "televisit.db"
#define TV_CTL_DEFAULT_DATA_DIR "/var/lib/televisit"

/* tv_ctl_usage:
 * Prints "televisitctl CMD[ SUB]: MESSAGE" and "Try 'televisitctl help CMD'."
 * to stderr; with @cmd NULL, "televisitctl: MESSAGE" and "Try 'televisitctl
 * --help'." @sub (may be NULL) names a subcommand ("user add").
 * Returns: TV_CTL_EXIT_USAGE. */
int tv_ctl_usage (const char *cmd, const char *sub, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* tv_ctl_store_error:
 * Prints "televisitctl CMD: [WHAT: ]MESSAGE" for a failed store call (@what may
 * be NULL) and maps it to an exit status: not found, slot taken, conflict and
 * wrong state are NOT_FOUND; invalid values USAGE; everything else STORE. */
int tv_ctl_store_error (const char *cmd, const char *what, const GError *error);

/* tv_ctl_data_dir:
 * Returns: (transfer none) @opt when set, else $TELEVISIT_DATA_DIR when set and
 * non-empty, else /var/lib/televisit. */
const char *tv_ctl_data_dir (const char *opt);

/* tv_ctl_open_store:
 * Opens the store in @data_dir. With @create the directory (0700) and the
 * database are made when missing; without it a missing database is an error
 * naming the path (check --data-dir or TELEVISIT_DATA_DIR).
 * Returns: (transfer full) the store; NULL after printing the reason (prefixed
 * "televisitctl CMD:") with *@code set to TV_CTL_EXIT_STORE. */
TvStore *tv_ctl_open_store (const char *cmd, const char *data_dir, gboolean create, int *code);

/* tv_ctl_parse_options:
 * Parses @argc/@argv (program or command name first) with @entries, GOption's
 * own --help off (each command prints its own help). @stop_at_command stops at
 * the first non-option (strict POSIX). GOption removes what it parses from the
 * array without freeing it, so pass an array whose strings the caller owns
 * elsewhere (a shallow copy of argv).
 * Returns: TRUE; FALSE after printing a usage error for @cmd / @sub. */
gboolean tv_ctl_parse_options (const char *cmd, const char *sub, GOptionEntry *entries,
                               gboolean stop_at_command, int *argc, char ***argv);

/* tv_ctl_parse_command:
 * The start every area command shares: parses @argc/@argv (the command name
 * first; not modified) with @entries, one of which sets *@help for -h/--help;
 * with it set, prints "Usage: televisitctl [--data-dir DIR] ...", @help_text
 * and stops. *@rest (transfer container: g_free it; the strings stay the
 * caller's) gets the arguments left after the command name and an optional
 * "--", NULL-terminated, *@n_rest their number.
 * Returns: -1 to go on; else the exit status to return (TV_CTL_EXIT_OK after
 * the help, TV_CTL_EXIT_USAGE after printing a usage error for @cmd). */
int tv_ctl_parse_command (const char *cmd, GOptionEntry *entries, const gboolean *help, const char *help_text,
                          int argc, char **argv, char ***rest, int *n_rest);

/* tv_ctl_print_json:
 * Prints @root as pretty-printed JSON and a newline to stdout (a command's --json). */
void tv_ctl_print_json (JsonNode *root);
/* The same for what @b built. */
void tv_ctl_print_json_builder (JsonBuilder *b);

G_END_DECLS
