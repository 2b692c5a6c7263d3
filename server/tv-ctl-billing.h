/* tv-ctl-billing.h — `televisitctl billing list|export|set-status`: billing lines on the server machine.
 *
 * Why: billing staff (or a nightly job) export the day's claims and record
 * what the payer answered without the HTTPS API, straight from the store
 * (server/tv-store-billing.h); kept out of televisitctl.c like the other areas.
 * Every command leaves audit rows (user "os:<login name>", role operator).
 * Thread: single-threaded command-line program.
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* The help text of `televisitctl billing` (for the manual and `help billing`). */
extern const char TV_SERVER_CTL_BILLING_HELP[];

/* tv_server_ctl_billing_main:
 * Runs `televisitctl billing SUBCOMMAND ...`; @argv[0] is "billing". @data_dir:
 * the --data-dir given before the command, or NULL.
 * Returns: the exit status (0 ok, 1 usage, 2 store, 3 a line not found or a
 * status change not allowed — then no line changed). */
int tv_server_ctl_billing_main (int argc, char **argv, const char *data_dir);

/* tv_server_ctl_billing_show:
 * For `televisitctl show`: the consult's facts (not the note) and its billing
 * line, or why it has none. With @json non-NULL adds a member "billing" to the
 * object being built; else prints a "billing:" block to stdout. Read errors
 * print nothing (show has already read the consult). */
struct _JsonBuilder;
void tv_server_ctl_billing_show (TvStore *store, const char *consult_id, struct _JsonBuilder *json);

G_END_DECLS
