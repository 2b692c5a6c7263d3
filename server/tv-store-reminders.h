/* tv-store-reminders.h — contact details and the reminder outbox in the store (schema v7).
 *
 * Why: a booked consult must remind its patient (e-mail with the time, the join
 * link and an RFC 5545 invitation) at configurable offsets before the start.
 * The outbox rows are written in the SAME transaction as the booking, the
 * reschedule or the cancel that makes them (tv-store-schedule.c and
 * tv-store-sqlite.c call the tv_store_reminders_private_* hooks below), so a
 * booking never exists without its reminders and a cancelled consult never
 * keeps pending ones. Delivery (server/tv-reminders.c) claims due rows, sends
 * them off the main loop and records the outcome here.
 *
 * Statuses of a message:
 *   pending    waiting for its due time (or its next attempt after a failure)
 *   sending    claimed by the sender (back to pending if the server died)
 *   sent       accepted by the SMTP relay
 *   failed     given up after the configured number of attempts, or refused
 *              permanently (SMTP 5xx)
 *   cancelled  the consult was cancelled / rescheduled / is no longer upcoming
 *   skipped    never sent: the offset was already past at booking, the patient
 *              has no e-mail address, or the consult had started (last_error says)
 * last_error never holds personal data (no address, no name, no reply text).
 *
 * Contact details (e-mail, phone) are personal data: stored through
 * tv_store_private_seal, never logged.
 * Same rules as tv-store.h: each changing call is one transaction, times are
 * µs UTC, errors are TV_STORE_ERROR codes.
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* ---- offsets ------------------------------------------------------------- */

#define TV_REMINDERS_DEFAULT_OFFSETS "24h,15m"
#define TV_REMINDERS_MAX_OFFSETS 8
#define TV_REMINDERS_MAX_OFFSET_S ((gint64) 30 * 24 * 3600)

/* tv_reminders_parse_offsets:
 * Parses "24h,15m": a comma-separated list of a whole number followed by a
 * unit, d (days), h (hours), m (minutes) or s (seconds; small offsets are
 * meant for tests), each 0..30 days, at most TV_REMINDERS_MAX_OFFSETS, no
 * duplicates; spaces around items are ignored. "none" (or an empty string)
 * means no reminders.
 * Returns: TRUE with *@seconds (transfer full, element-type gint64, largest
 * first; may be empty); FALSE with INVALID naming the bad item. */
gboolean tv_reminders_parse_offsets (const char *text, GArray **seconds, GError **error);

/* Returns: (transfer full) @offset_s as the largest exact unit ("24h", "15m", "90s", "0s"). */
char *tv_reminders_format_offset (gint64 offset_s);

/* tv_store_reminders_set_offsets:
 * Validates @text (tv_reminders_parse_offsets) and records it as the offsets
 * every booking from now on uses (existing rows are not changed).
 * Returns: TRUE; FALSE with INVALID or IO and nothing changed. */
gboolean tv_store_reminders_set_offsets (TvStore *store, const char *text, gint64 now, GError **error);

/* Returns: (transfer full) the recorded offsets text (TV_REMINDERS_DEFAULT_OFFSETS
 * when none was ever set); NULL with IO. */
char *tv_store_reminders_get_offsets (TvStore *store, GError **error);

/* ---- the outbox ---------------------------------------------------------- */

typedef enum {
  TV_REMINDER_PENDING,
  TV_REMINDER_SENDING,
  TV_REMINDER_SENT,
  TV_REMINDER_FAILED,
  TV_REMINDER_CANCELLED,
  TV_REMINDER_SKIPPED,
} TvReminderStatus;

/* Returns: (transfer none) "pending", "sending", "sent", "failed", "cancelled", "skipped". */
const char *tv_reminder_status_to_string (TvReminderStatus status);

typedef struct {
  gint64 id;
  char *consult_id;
  char *kind;              /* "reminder" or "cancellation" */
  gint64 offset_s;         /* before the start (0 for a cancellation) */
  gint64 due_at;           /* µs UTC */
  gint64 consult_start;    /* the slot the message announces, µs UTC */
  gint64 consult_end;
  guint sequence;          /* RFC 5545 SEQUENCE: 0 at booking, +1 per reschedule / cancel */
  TvReminderStatus status;
  guint attempts;
  gint64 next_attempt_at;  /* µs UTC */
  char *last_error;        /* NULL, or a reason without personal data */
  gint64 created_at;
  gint64 updated_at;
  gint64 sent_at;          /* 0 = not sent */
} TvReminder;

void tv_reminder_free (TvReminder *r);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvReminder, tv_reminder_free)

/* tv_store_reminder_list:
 * @consult_id: NULL for every consult (at most 1000 rows, latest due first).
 * Returns: (transfer full) (element-type TvReminder) the consult's messages by
 * id (creation order); NULL with IO. An unknown consult gives an empty array. */
GPtrArray *tv_store_reminder_list (TvStore *store, const char *consult_id, GError **error);

/* tv_store_reminder_claim_due:
 * In one transaction, moves up to @max pending messages whose next attempt is
 * at or before @now to "sending" and returns them (earliest first).
 * Returns: (transfer full) (element-type TvReminder); NULL with IO. */
GPtrArray *tv_store_reminder_claim_due (TvStore *store, gint64 now, guint max, GError **error);

/* tv_store_reminder_attempt_done:
 * Records one delivery attempt of a "sending" message: attempts + 1; @ok ->
 * sent (sent_at = @now); else with @retry_at > 0 -> pending until @retry_at,
 * else failed. @error_text: NULL on success, else a reason without personal
 * data (at most 256 bytes, cut). Returns: TRUE; FALSE with NOT_FOUND,
 * WRONG_STATE (not sending) or IO. */
gboolean tv_store_reminder_attempt_done (TvStore *store, gint64 id, gboolean ok, const char *error_text,
                                         gint64 retry_at, gint64 now, GError **error);

/* tv_store_reminder_settle:
 * Ends a "sending" or "pending" message without an attempt: @status is
 * CANCELLED or SKIPPED, @reason as above. Returns: TRUE; FALSE with INVALID,
 * NOT_FOUND, WRONG_STATE or IO. */
gboolean tv_store_reminder_settle (TvStore *store, gint64 id, TvReminderStatus status, const char *reason,
                                   gint64 now, GError **error);

/* tv_store_reminders_recover:
 * Start-up: messages left "sending" by a server that died are pending again
 * (delivery is at least once). Returns: TRUE with *@n (may be NULL); FALSE with IO. */
gboolean tv_store_reminders_recover (TvStore *store, gint64 now, guint *n, GError **error);

/* ---- hooks, inside the caller's open write transaction ------------------- */

/* Booking: one pending message per configured offset, due at start - offset;
 * an offset already past at @now is recorded as skipped ("due before booking"). */
gboolean tv_store_reminders_private_booked (TvStore *store, const char *consult_id, gint64 start, gint64 end,
                                            gint64 now, GError **error);
/* Reschedule: pending / sending messages cancelled ("rescheduled"), new ones
 * for the new time with SEQUENCE + 1. */
gboolean tv_store_reminders_private_rescheduled (TvStore *store, const char *consult_id, gint64 start,
                                                 gint64 end, gint64 now, GError **error);
/* Cancel: pending / sending messages cancelled; when a message had already
 * been sent (the patient holds an invitation), a "cancellation" message
 * (METHOD:CANCEL, SEQUENCE + 1) is queued, due at @now. */
gboolean tv_store_reminders_private_cancelled (TvStore *store, const char *consult_id, gint64 now,
                                               GError **error);
/* Completed or marked no-show: the visit is over, so its pending / sending
 * messages are cancelled now with @why ("consult held", "no-show") instead of
 * waiting in the outbox until their due time. Nothing is sent to the patient. */
gboolean tv_store_reminders_private_over (TvStore *store, const char *consult_id, const char *why, gint64 now,
                                          GError **error);

/* ---- contact details ----------------------------------------------------- */

#define TV_STORE_MAX_EMAIL_BYTES 254
#define TV_STORE_MAX_PHONE_BYTES 32

/* Returns: TRUE when @email looks like local@domain.tld (at most
 * TV_STORE_MAX_EMAIL_BYTES, ASCII, no spaces, a dot in the domain); FALSE with
 * INVALID saying what is wrong (without repeating the address). */
gboolean tv_store_check_email (const char *email, GError **error);

/* Returns: TRUE when @phone is 3..32 characters of digits, spaces and
 * "+-()./" with at least 3 digits; FALSE with INVALID. */
gboolean tv_store_check_phone (const char *phone, GError **error);

typedef struct {
  char *email;             /* NULL when unset */
  char *phone;             /* NULL when unset */
  gint64 updated_at;       /* 0 when never set */
} TvContact;

void tv_contact_free (TvContact *c);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvContact, tv_contact_free)

/* tv_store_contact_set:
 * Sets @user_id's contact details: @email / @phone NULL keeps the current
 * value, "" clears it, anything else is checked (tv_store_check_email /
 * tv_store_check_phone) and stored sealed.
 * Returns: TRUE; FALSE with NOT_FOUND (no such user), INVALID or IO and
 * nothing changed. */
gboolean tv_store_contact_set (TvStore *store, const char *user_id, const char *email, const char *phone,
                               gint64 now, GError **error);

/* tv_store_contact_get:
 * Returns: TRUE with *@out (transfer full; fields NULL when unset, also for a
 * user who never had any); FALSE with NOT_FOUND (no such user) or IO (also
 * when a sealed value does not open). */
gboolean tv_store_contact_get (TvStore *store, const char *user_id, TvContact **out, GError **error);

G_END_DECLS
