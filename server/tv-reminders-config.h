/* tv-reminders-config.h — the server's reminder and SMTP settings.
 *
 * Why: the reminder keys of the [server] key file (see tv-config.c, which
 * hands every key this file owns to tv_reminders_config_set) validated in one
 * place, kept apart from tv-config.c so the reminder area can grow without
 * touching the shared option table. These keys are read from the key file
 * only (no command-line flags): the SMTP password never goes near argv.
 *   reminder-offsets        "24h,15m" (tv_reminders_parse_offsets; "none": no reminders)
 *   smtp-url                smtp://HOST[:PORT] (STARTTLS when the relay offers it) or
 *                           smtps://HOST[:PORT] (TLS from the start); unset: reminders are
 *                           recorded in the outbox but not sent
 *   smtp-from               sender address (required with smtp-url)
 *   smtp-user               login at the relay (needs smtp-password-file)
 *   smtp-password-file      owner-only file whose first line is the password
 *   clinic-name             shown in messages (default "Televisit")
 *   public-url              https://HOST[:PORT] the patients reach the server at (join
 *                           links in messages); default https://<hostname>:<port>
 *   reminder-retry-seconds  first retry delay after a failed attempt, doubled each time (1..86400, 60)
 *   reminder-max-attempts   attempts before a message is marked failed (1..20, 5)
 * Thread: main thread only, before the main loop starts.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_REMINDERS_DEFAULT_CLINIC "Televisit"
#define TV_REMINDERS_DEFAULT_RETRY_SECONDS 60
#define TV_REMINDERS_DEFAULT_MAX_ATTEMPTS 5

typedef struct _TvRemindersConfig {
  char *offsets;            /* validated; default TV_REMINDERS_DEFAULT_OFFSETS */
  char *smtp_url;           /* NULL: nothing is sent */
  char *smtp_from;
  char *smtp_user;
  char *smtp_password_file; /* absolute path */
  char *clinic_name;
  char *public_url;         /* without trailing '/', NULL = derived from hostname and port */
  guint retry_seconds;
  guint max_attempts;
} TvRemindersConfig;

/* Returns: (transfer full) the defaults. Never NULL. */
TvRemindersConfig *tv_reminders_config_new (void);
void tv_reminders_config_free (TvRemindersConfig *cfg);   /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvRemindersConfig, tv_reminders_config_free)

/* Returns: TRUE when @key is one of the keys above. */
gboolean tv_reminders_config_owns_key (const char *key);

/* tv_reminders_config_set:
 * Validates and sets one key. Returns: FALSE with @error
 * (TV_SERVER_CONFIG_ERROR, INVALID, the message names the key) and @cfg unchanged. */
gboolean tv_reminders_config_set (TvRemindersConfig *cfg, const char *key, const char *value, GError **error);

/* tv_reminders_config_check:
 * The cross-checks: smtp-url needs smtp-from; smtp-user and
 * smtp-password-file go together. Returns: FALSE with @error (INVALID). */
gboolean tv_reminders_config_check (const TvRemindersConfig *cfg, GError **error);

/* tv_reminders_read_password:
 * Reads the first line of @path: a regular file that only its owner may read
 * (no group/other bits), 1..512 bytes without control characters.
 * Returns: (transfer full) the password (wipe it with
 * tv_reminders_password_free); NULL with @error saying what is wrong (never
 * the content). */
char *tv_reminders_read_password (const char *path, GError **error);
void tv_reminders_password_free (char *password);   /* wipes; NULL accepted */

G_END_DECLS
