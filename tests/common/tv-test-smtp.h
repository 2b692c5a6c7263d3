/* tv-test-smtp.h — a loopback SMTP sink for tests (GIO GSocketService).
 *
 * Why: reminder delivery is tested end to end against a real SMTP
 * conversation without any network: the sink listens on 127.0.0.1 (a free
 * port), speaks enough SMTP for libcurl (greeting, EHLO/HELO, MAIL, RCPT,
 * DATA with dot-unstuffing, RSET, NOOP, QUIT; no STARTTLS, no AUTH), records
 * every accepted message, and can be told to refuse the next N MAIL commands
 * with "451" (transient) or "550" (permanent) to test retries.
 * It runs on the test's default main context: waits such as
 * tv_test_wait_until() drive it.
 * Thread: the test's main thread only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _TvTestSmtp TvTestSmtp;

typedef struct {
  char *mail_from;      /* the MAIL FROM address, without <> */
  GPtrArray *rcpt_to;   /* (element-type utf8) RCPT TO addresses, without <> */
  char *data;           /* the message as received (CRLF lines, dots unstuffed) */
} TvTestSmtpMessage;

/* Starts the sink on 127.0.0.1 and a free port; fails the test if it cannot. */
TvTestSmtp *tv_test_smtp_new (void);
void tv_test_smtp_free (TvTestSmtp *smtp);   /* NULL accepted; closes connections */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvTestSmtp, tv_test_smtp_free)

/* Returns: (transfer full) "smtp://127.0.0.1:PORT". */
char *tv_test_smtp_url (TvTestSmtp *smtp);

/* The next @n MAIL commands are answered with @code (451 or 550). */
void tv_test_smtp_refuse_next (TvTestSmtp *smtp, guint n, guint code);

/* Returns: the number of MAIL commands seen (accepted or refused). */
guint tv_test_smtp_attempts (TvTestSmtp *smtp);

/* Returns: the number of messages accepted so far. */
guint tv_test_smtp_count (TvTestSmtp *smtp);

/* Returns: (transfer none) accepted message @i (0-based), NULL when out of range. */
const TvTestSmtpMessage *tv_test_smtp_get (TvTestSmtp *smtp, guint i);

/* ---- reading a received message (test-side MIME, enough for our messages) ---- */

/* Returns: (transfer full) the value of top-level header @name (case-insensitive,
 * unfolded), NULL when absent. */
char *tv_test_smtp_header (const TvTestSmtpMessage *msg, const char *name);

/* tv_test_smtp_part:
 * Finds the first part of a multipart message whose Content-Type starts with
 * @type_prefix (e.g. "text/calendar") and decodes its body (base64, or as is).
 * *@content_type (may be NULL) receives the part's full Content-Type.
 * Returns: (transfer full) the decoded body, NULL when no such part. */
char *tv_test_smtp_part (const TvTestSmtpMessage *msg, const char *type_prefix, char **content_type);

G_END_DECLS
