/* tv-config.h — televisit-server configuration: command-line flags and key file.
 *
 * Why: every tunable of the daemon in one validated struct, so the rest of the
 * server never sees an unchecked value. Values come from an optional key file
 * (--config FILE, group [server], keys named like the long flags) and from the
 * command line; flags override the file. Every value is validated and a bad one
 * fails with a message that names the key.
 * Thread: main thread only, before the main loop starts.
 */
#pragma once

#include <glib.h>

#include "server/tv-billing-codes.h"

G_BEGIN_DECLS

#define TV_SERVER_VERSION "0.1.0"

#define TV_SERVER_CONFIG_ERROR (tv_server_config_error_quark ())
GQuark tv_server_config_error_quark (void);

typedef enum {
  TV_SERVER_CONFIG_ERR_INVALID, /* a value is out of range or malformed (message names the key) */
  TV_SERVER_CONFIG_ERR_FILE,    /* the config file could not be read or parsed */
  TV_SERVER_CONFIG_ERR_USAGE,   /* unknown flag, stray argument */
  TV_SERVER_CONFIG_ERR_IO,      /* the data directory could not be created */
} TvServerConfigErrorCode;

typedef enum {
  TV_SERVER_LOG_ERROR,
  TV_SERVER_LOG_WARNING,
  TV_SERVER_LOG_INFO,
  TV_SERVER_LOG_DEBUG,
} TvServerLogLevel;

/* What main should do after parsing. */
typedef enum {
  TV_SERVER_CONFIG_RUN,
  TV_SERVER_CONFIG_HELP,    /* --help given: print tv_server_config_help_text(), exit 0 */
  TV_SERVER_CONFIG_VERSION, /* --version given: print the version, exit 0 */
} TvServerConfigAction;

#define TV_SERVER_DEFAULT_DATA_DIR "/var/lib/televisit"
#define TV_SERVER_DEFAULT_LISTEN "0.0.0.0"
#define TV_SERVER_DEFAULT_PORT 8443
#define TV_SERVER_DEFAULT_JOIN_TIMEOUT 10
#define TV_SERVER_DEFAULT_MAX_CONNECTIONS 4096
#define TV_SERVER_MAX_MAX_CONNECTIONS 100000
/* One address may hold an eighth of the default slots: a NATed clinic fits,
 * a single flooding host does not take the server. */
#define TV_SERVER_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 512
#define TV_SERVER_DEFAULT_MAX_MESSAGE_RATE_PER_ADDRESS 1000
/* TURN credentials (tv-turn.h): long enough for a consult, short enough
 * that a leaked one is soon useless. */
#define TV_SERVER_DEFAULT_TURN_CREDENTIAL_TTL 3600
#define TV_SERVER_MIN_TURN_CREDENTIAL_TTL 60
#define TV_SERVER_MAX_TURN_CREDENTIAL_TTL 86400
#define TV_SERVER_DEFAULT_SESSION_IDLE_MINUTES 15
#define TV_SERVER_DEFAULT_SESSION_MAX_HOURS 12
/* How long before the start a patient may still cancel or move a visit
 * online (patient-cancel-notice): a day, so the clinic can offer the freed
 * slot to someone else; later, the patient calls the clinic. */
#define TV_SERVER_DEFAULT_PATIENT_CANCEL_NOTICE_S ((gint64) 24 * 3600)

typedef struct {
  char *config_file;        /* NULL when none was given */
  char *data_dir;           /* absolute path */
  char *listen;             /* IPv4/IPv6 literal */
  guint port;               /* 0..65535, 0 = any free port */
  char *cert;               /* PEM certificate file, NULL = generate in data_dir/tls */
  char *key;                /* PEM private key file; set exactly when cert is */
  char *hostname;           /* extra SAN for the generated certificate, NULL = none usable */
  guint join_timeout_s;     /* 1..300 */
  guint max_connections;    /* 1..TV_SERVER_MAX_MAX_CONNECTIONS */
  char **stun;              /* NULL-terminated list of stun:/stuns: URLs (never NULL) */
  char **turn;              /* NULL-terminated list of turn:/turns: URLs (never NULL) */
  TvServerLogLevel log_level;
  guint session_idle_minutes; /* API session idle timeout, 1..1440 */
  guint session_max_hours;    /* API session absolute lifetime, 1..720 */
  guint max_connections_per_address;  /* WebSocket connections per client IP, 1..TV_SERVER_MAX_MAX_CONNECTIONS */
  guint max_message_rate_per_address; /* messages/s per client IP over all its connections, 1..1000000 */
  char *turn_url;             /* turn:/turns: URL credentials are issued for, NULL = none */
  char *turn_secret_file;     /* file with the TURN shared secret; set exactly when turn_url is */
  guint turn_credential_ttl_s; /* lifetime of issued TURN credentials, 60..86400 */
  struct _TvRemindersConfig *reminders; /* reminder and SMTP keys (server/tv-reminders-config.h), never NULL */
  char *data_key_file;        /* key ring for encryption at rest, NULL = data_dir/keys/data.keys (key file only) */
  char *billing_codes;         /* billing code table key file (tv-billing-codes.h), NULL = the shipped one */
  char *billing_codes_text;    /* its text as read and validated, NULL = the shipped one */
  TvBillingScheme billing_scheme; /* which codes the clinic bills under (default telemedicine) */
  char *payment_instructions;  /* "how to pay" on patient statements, NULL = a generic sentence */
  gint64 patient_cancel_notice_s; /* patients cancel / reschedule online only this long before the start,
                                   * 0..30 days, 0 = any time before it (key file only) */
} TvServerConfig;

/* tv_server_config_new_default:
 * Returns: (transfer full) a config holding every default (hostname = the
 * machine's host name when it is a valid DNS name, else NULL). Never NULL. */
TvServerConfig *tv_server_config_new_default (void);

/* tv_server_config_free: NULL accepted. */
void tv_server_config_free (TvServerConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvServerConfig, tv_server_config_free)

/* tv_server_config_from_args:
 * Parses @argv (not modified; argv[0] is the program name): defaults, then the
 * --config file if given, then the flags on top. Validates every value and the
 * cross-checks (--cert and --key both or neither).
 * Returns: (transfer full) the config and *@action, or NULL with @error
 * (TV_SERVER_CONFIG_ERROR; the message names the key or flag). With --help or
 * --version the config is returned as parsed so far and *@action says so. */
TvServerConfig *tv_server_config_from_args (int argc, char **argv, TvServerConfigAction *action,
                                            GError **error);

/* tv_server_config_set:
 * Sets one key (long flag name without the dashes, e.g. "port") from its text
 * form, validating it. Used for both the file and the flags; exposed for tests.
 * Returns: FALSE with @error (INVALID, message names @key) and @cfg unchanged. */
gboolean tv_server_config_set (TvServerConfig *cfg, const char *key, const char *value, GError **error);

/* tv_server_config_load_file:
 * Applies the [server] group of the key file at @path on top of @cfg.
 * Unknown groups or keys are errors (they are usually typos).
 * Returns: FALSE with @error (FILE or INVALID); @cfg may then hold some of the
 * file's values (callers discard it). */
gboolean tv_server_config_load_file (TvServerConfig *cfg, const char *path, GError **error);

/* tv_server_config_load_data:
 * Same as tv_server_config_load_file() for a key file held in memory: @len
 * bytes at @data (no NUL terminator needed); @origin names it in error
 * messages (e.g. the file name it came from). Used by the fuzz target.
 * Returns: FALSE with @error (FILE or INVALID); @cfg may then hold some of the
 * values (callers discard it). */
gboolean tv_server_config_load_data (TvServerConfig *cfg, const char *data, gsize len, const char *origin,
                                     GError **error);

/* tv_server_config_prepare_data_dir:
 * Creates the data directory with mode 0700 if it is missing.
 * Returns: FALSE with @error (IO) when it cannot be created or is not a directory. */
gboolean tv_server_config_prepare_data_dir (const TvServerConfig *cfg, GError **error);

/* Returns: (transfer full) the man-page-style help text. */
char *tv_server_config_help_text (void);

/* Returns: (transfer none) "error", "warning", "info", "debug". */
const char *tv_server_log_level_to_string (TvServerLogLevel level);

G_END_DECLS
