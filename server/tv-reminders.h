/* tv-reminders.h — the reminder outbox's sender: a main-loop timer and SMTP delivery via libcurl.
 *
 * Why: the outbox rows (server/tv-store-reminders.h) are written with the
 * bookings; something must send them when due. Once a second a timer on the
 * main loop claims due messages (pending -> sending, in the store), decides on
 * the main loop whether each is still worth sending (consult still upcoming,
 * patient has an e-mail address), composes it (tv-reminders-message.h; the
 * join link re-created with tv_store_join_token_recreate) and hands the
 * finished message to a GTask thread that talks SMTP with libcurl. The
 * outcome comes back to the main loop, which records it in the store (the
 * TvStore is single-threaded and never touched by the worker).
 *
 * Delivery: smtp:// uses STARTTLS when the relay offers it (CURLUSESSL_TRY)
 * and plain SMTP otherwise; smtps:// is TLS from the start. Certificates are
 * checked against the system store. A 5xx reply fails the message at once;
 * anything else is retried after reminder-retry-seconds, doubled per attempt
 * (at most one hour), until reminder-max-attempts, and never after the
 * consult's start. At most 4 messages are in flight.
 * No address, name or token is logged; the stored last_error holds curl's
 * generic error text and the SMTP reply code only.
 * Thread: main loop (the SMTP transfer on a GTask worker thread).
 */
#pragma once

#include <glib.h>

#include "server/tv-reminders-config.h"
#include "server/tv-store.h"

G_BEGIN_DECLS

typedef struct _TvReminders TvReminders;

/* tv_reminders_new:
 * Records @cfg's offsets in @store (so bookings from now on use them), makes
 * messages left "sending" by an earlier run pending again, and — when
 * smtp-url is set — starts the 1 s timer on @ctx. @join_base is the
 * https://HOST[:PORT] the join links point to (public-url, or derived by the
 * caller); @uid_host names the server in invitation UIDs.
 * @store must outlive the result.
 * Returns: (transfer full) the sender; NULL with @error (config cross-check,
 * unreadable password file, store). */
TvReminders *tv_reminders_new (TvStore *store, const TvRemindersConfig *cfg, const char *join_base,
                               const char *uid_host, GMainContext *ctx, GError **error);

/* Stops the timer; transfers still running finish on their thread and their
 * outcome is dropped (the rows stay "sending" and are retried at the next
 * start). NULL accepted. */
void tv_reminders_free (TvReminders *reminders);

/* Returns: (transfer full) "<join_base>/join#token=<token>". */
char *tv_reminders_join_link (const char *join_base, const char *token);

G_END_DECLS
