/* tv-config.c — televisit-server configuration: flags (GOptionContext) and key file (GKeyFile).
 *
 * Why: one place that turns text (flags, file) into validated values, with error
 * messages naming the offending key, so a bad configuration stops the daemon
 * with a clear message (exit 1) instead of misbehaving later.
 * Every value flows through tv_server_config_set(), whichever source it came
 * from, so the file and the flags validate identically.
 * Thread: main thread only, before the main loop starts.
 */
#define G_LOG_DOMAIN "tv-config"

#include "server/tv-config.h"
#include "server/tv-reminders-config.h"
#include "server/tv-store-reminders.h"
#include "server/tv-turn.h"
#include "signaling/tv-sig-message.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gio/gio.h>

G_DEFINE_QUARK (tv-server-config-error-quark, tv_server_config_error)

#define GROUP "server"

static const char *const known_keys[] = {
  "data-dir", "listen", "port", "cert", "key", "hostname", "join-timeout",
  "max-connections", "stun", "turn", "log-level", "session-idle-minutes", "session-max-hours",
  "max-connections-per-address", "max-message-rate-per-address", "turn-url", "turn-secret-file",
  "turn-credential-ttl", "data-key-file", "billing-codes", "billing-scheme", "payment-instructions",
  "patient-cancel-notice", NULL
};

const char *
tv_server_log_level_to_string (TvServerLogLevel level)
{
  switch (level) {
  case TV_SERVER_LOG_ERROR: return "error";
  case TV_SERVER_LOG_WARNING: return "warning";
  case TV_SERVER_LOG_INFO: return "info";
  case TV_SERVER_LOG_DEBUG: return "debug";
  }
  return "info";
}

/* A DNS name as it may appear in a certificate SAN: labels of letters, digits
 * and '-', not starting or ending with '-', at most 63 bytes each, 253 total.
 * Checked strictly because the name ends up in an X.509 extension. */
static gboolean
is_dns_name (const char *s)
{
  gsize len = strlen (s);
  if (len == 0 || len > 253)
    return FALSE;
  gchar **labels = g_strsplit (s, ".", -1);
  gboolean ok = TRUE;
  for (gchar **l = labels; *l && ok; l++) {
    gsize ll = strlen (*l);
    if (ll == 0 || ll > 63 || (*l)[0] == '-' || (*l)[ll - 1] == '-') {
      /* A single trailing dot (absolute name) is not accepted either: keep SANs canonical. */
      ok = FALSE;
      break;
    }
    for (const char *c = *l; *c; c++)
      if (!g_ascii_isalnum (*c) && *c != '-')
        ok = FALSE;
  }
  g_strfreev (labels);
  return ok;
}

static gboolean
parse_uint (const char *key, const char *value, guint64 min, guint64 max, guint *out, GError **error)
{
  guint64 v = 0;
  g_autoptr (GError) local = NULL;
  if (!g_ascii_string_to_unsigned (value, 10, min, max, &v, &local)) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "%s: \"%s\" is not a whole number in %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                 key, value, min, max);
    return FALSE;
  }
  *out = (guint) v;
  return TRUE;
}

/* Validates one ICE server URL: scheme in @schemes, something after the colon. */
static gboolean
check_ice_url (const char *key, const char *url, const char *const *schemes, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;
  gboolean scheme_ok = FALSE;
  for (const char *const *s = schemes; scheme && *s; s++)
    if (g_ascii_strcasecmp (scheme, *s) == 0)
      scheme_ok = TRUE;
  /* stun:host:port has no authority: the host is in the path. */
  const char *path = uri ? g_uri_get_path (uri) : NULL;
  const char *host = uri ? g_uri_get_host (uri) : NULL;
  if (!scheme_ok || ((!path || !*path) && (!host || !*host))) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "%s: \"%s\" is not a %s URL (e.g. %s:%s.example.org:3478)",
                 key, url, schemes[0], schemes[0], schemes[0]);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_pem_file (const char *key, const char *path, GError **error)
{
  if (!*path || !g_file_test (path, G_FILE_TEST_IS_REGULAR) || access (path, R_OK) != 0) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "%s: \"%s\" is not a readable file", key, path);
    return FALSE;
  }
  return TRUE;
}

/* The TURN shared secret: a regular file only its owner may read (mode
 * 0600 or 0400), whose first line (without surrounding white space) is the
 * secret, 16..512 bytes of printable ASCII. Read once here to validate (the
 * text is wiped); the server reads it again when it starts. Never logged. */
static gboolean
check_secret_file (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (!check_pem_file ("turn-secret-file", path, error))
    return FALSE;
  char *secret = tv_server_turn_read_secret (path, &local);
  if (!secret) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID, "turn-secret-file: %s",
                 local->message);
    return FALSE;
  }
  tv_server_turn_secret_free (secret);
  return TRUE;
}

/* The TURN server credentials are issued for: turn:HOST[:PORT][?transport=udp|tcp]
 * or turns:... (RFC 7065), split by the protocol's own URL parser so that
 * what the server accepts is what "joined" may carry. */
static gboolean
check_turn_url (const char *value, GError **error)
{
  g_autofree char *scheme = NULL;
  if (strlen (value) > TV_SIG_MAX_ICE_URL_BYTES || !tv_sig_ice_url_parse (value, &scheme, NULL, NULL, NULL)
      || g_str_equal (scheme, "stun")) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "turn-url: \"%s\" is not a TURN URL (e.g. turn:turn.example.org:3478?transport=udp)", value);
    return FALSE;
  }
  return TRUE;
}

static gboolean
set_url_list (TvServerConfig *cfg, const char *key, const char *const *urls, GError **error)
{
  static const char *const stun_schemes[] = { "stun", "stuns", NULL };
  static const char *const turn_schemes[] = { "turn", "turns", NULL };
  gboolean is_stun = g_str_equal (key, "stun");
  for (const char *const *u = urls; *u; u++)
    if (!check_ice_url (key, *u, is_stun ? stun_schemes : turn_schemes, error))
      return FALSE;
  char ***slot = is_stun ? &cfg->stun : &cfg->turn;
  g_strfreev (*slot);
  *slot = g_strdupv ((char **) urls);
  return TRUE;
}

/* patient-cancel-notice: one duration in the units of reminder-offsets
 * ("24h", "2d", "90m"; tv_reminders_parse_offsets), or "0" for any time
 * before the start. A list or "none" is refused: the rule is one number. */
static gboolean
parse_notice (const char *value, gint64 *out, GError **error)
{
  g_autoptr (GArray) parsed = NULL;
  g_autoptr (GError) local = NULL;
  if (g_str_equal (value, "0")) {
    *out = 0;
    return TRUE;
  }
  if (*value == '\0' || strchr (value, ',') != NULL || g_ascii_strcasecmp (value, "none") == 0
      || !tv_reminders_parse_offsets (value, &parsed, &local) || parsed->len != 1) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "patient-cancel-notice: \"%s\" is not one whole number of d, h, m or s up to 30 days"
                 " (e.g. 24h; 0 = any time before the start)", value);
    return FALSE;
  }
  *out = g_array_index (parsed, gint64, 0);
  return TRUE;
}

gboolean
tv_server_config_set (TvServerConfig *cfg, const char *key, const char *value, GError **error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  guint u = 0;

  if (g_str_equal (key, "data-dir")) {
    if (!*value) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "data-dir: must not be empty");
      return FALSE;
    }
    g_free (cfg->data_dir);
    cfg->data_dir = g_canonicalize_filename (value, NULL);
  } else if (g_str_equal (key, "listen")) {
    g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (value);
    if (!addr) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "listen: \"%s\" is not an IPv4 or IPv6 address", value);
      return FALSE;
    }
    g_free (cfg->listen);
    cfg->listen = g_inet_address_to_string (addr);
  } else if (g_str_equal (key, "port")) {
    if (!parse_uint ("port", value, 0, 65535, &u, error))
      return FALSE;
    cfg->port = u;
  } else if (g_str_equal (key, "join-timeout")) {
    if (!parse_uint ("join-timeout", value, 1, 300, &u, error))
      return FALSE;
    cfg->join_timeout_s = u;
  } else if (g_str_equal (key, "session-idle-minutes")) {
    if (!parse_uint ("session-idle-minutes", value, 1, 1440, &u, error))
      return FALSE;
    cfg->session_idle_minutes = u;
  } else if (g_str_equal (key, "session-max-hours")) {
    if (!parse_uint ("session-max-hours", value, 1, 720, &u, error))
      return FALSE;
    cfg->session_max_hours = u;
  } else if (g_str_equal (key, "max-connections")) {
    if (!parse_uint ("max-connections", value, 1, TV_SERVER_MAX_MAX_CONNECTIONS, &u, error))
      return FALSE;
    cfg->max_connections = u;
  } else if (g_str_equal (key, "max-connections-per-address")) {
    if (!parse_uint ("max-connections-per-address", value, 1, TV_SERVER_MAX_MAX_CONNECTIONS, &u, error))
      return FALSE;
    cfg->max_connections_per_address = u;
  } else if (g_str_equal (key, "max-message-rate-per-address")) {
    if (!parse_uint ("max-message-rate-per-address", value, 1, 1000000, &u, error))
      return FALSE;
    cfg->max_message_rate_per_address = u;
  } else if (g_str_equal (key, "turn-url")) {
    if (!check_turn_url (value, error))
      return FALSE;
    g_free (cfg->turn_url);
    cfg->turn_url = g_strdup (value);
  } else if (g_str_equal (key, "turn-secret-file")) {
    if (!check_secret_file (value, error))
      return FALSE;
    g_free (cfg->turn_secret_file);
    cfg->turn_secret_file = g_canonicalize_filename (value, NULL);
  } else if (g_str_equal (key, "turn-credential-ttl")) {
    if (!parse_uint ("turn-credential-ttl", value, TV_SERVER_MIN_TURN_CREDENTIAL_TTL,
                     TV_SERVER_MAX_TURN_CREDENTIAL_TTL, &u, error))
      return FALSE;
    cfg->turn_credential_ttl_s = u;
  } else if (g_str_equal (key, "billing-codes")) {
    g_autoptr (GError) berr = NULL;
    g_autofree char *text = NULL;
    g_autoptr (TvBillingCodes) codes = tv_billing_codes_load_file (value, &text, &berr);
    if (codes == NULL) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID, "billing-codes: %s", berr->message);
      return FALSE;
    }
    g_free (cfg->billing_codes);
    g_free (cfg->billing_codes_text);
    cfg->billing_codes = g_canonicalize_filename (value, NULL);
    cfg->billing_codes_text = g_steal_pointer (&text);
  } else if (g_str_equal (key, "billing-scheme")) {
    if (!tv_billing_scheme_from_string (value, &cfg->billing_scheme)) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "billing-scheme: \"%s\" is not telemedicine or office-em", value);
      return FALSE;
    }
  } else if (g_str_equal (key, "payment-instructions")) {
    if (!*value || strlen (value) > 1000 || !g_utf8_validate (value, -1, NULL)) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "payment-instructions: must be 1..1000 bytes of UTF-8 text");
      return FALSE;
    }
    g_free (cfg->payment_instructions);
    cfg->payment_instructions = g_strdup (value);
  } else if (g_str_equal (key, "patient-cancel-notice")) {
    if (!parse_notice (value, &cfg->patient_cancel_notice_s, error))
      return FALSE;
  } else if (g_str_equal (key, "cert") || g_str_equal (key, "key")) {
    if (!check_pem_file (key, value, error))
      return FALSE;
    char **slot = g_str_equal (key, "cert") ? &cfg->cert : &cfg->key;
    g_free (*slot);
    *slot = g_canonicalize_filename (value, NULL);
  } else if (g_str_equal (key, "data-key-file")) {
    if (*value == '\0') {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID, "data-key-file: empty");
      return FALSE;
    }
    g_free (cfg->data_key_file);
    cfg->data_key_file = g_canonicalize_filename (value, NULL);
  } else if (g_str_equal (key, "hostname")) {
    if (!g_hostname_is_ip_address (value) && !is_dns_name (value)) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "hostname: \"%s\" is neither a DNS name nor an IP address", value);
      return FALSE;
    }
    g_free (cfg->hostname);
    cfg->hostname = g_strdup (value);
  } else if (g_str_equal (key, "stun") || g_str_equal (key, "turn")) {
    const char *one[] = { value, NULL };
    return set_url_list (cfg, key, one, error);
  } else if (g_str_equal (key, "log-level")) {
    static const TvServerLogLevel levels[] = {
      TV_SERVER_LOG_ERROR, TV_SERVER_LOG_WARNING, TV_SERVER_LOG_INFO, TV_SERVER_LOG_DEBUG
    };
    gboolean found = FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
      if (g_str_equal (value, tv_server_log_level_to_string (levels[i]))) {
        cfg->log_level = levels[i];
        found = TRUE;
      }
    if (!found) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "log-level: \"%s\" is not one of error, warning, info, debug", value);
      return FALSE;
    }
  } else if (tv_reminders_config_owns_key (key)) {
    return tv_reminders_config_set (cfg->reminders, key, value, error);
  } else {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "%s: unknown setting", key);
    return FALSE;
  }
  return TRUE;
}

TvServerConfig *
tv_server_config_new_default (void)
{
  TvServerConfig *cfg = g_new0 (TvServerConfig, 1);
  cfg->data_dir = g_strdup (TV_SERVER_DEFAULT_DATA_DIR);
  cfg->listen = g_strdup (TV_SERVER_DEFAULT_LISTEN);
  cfg->port = TV_SERVER_DEFAULT_PORT;
  cfg->join_timeout_s = TV_SERVER_DEFAULT_JOIN_TIMEOUT;
  cfg->max_connections = TV_SERVER_DEFAULT_MAX_CONNECTIONS;
  cfg->stun = g_new0 (char *, 1);
  cfg->turn = g_new0 (char *, 1);
  cfg->log_level = TV_SERVER_LOG_INFO;
  cfg->session_idle_minutes = TV_SERVER_DEFAULT_SESSION_IDLE_MINUTES;
  cfg->session_max_hours = TV_SERVER_DEFAULT_SESSION_MAX_HOURS;
  cfg->max_connections_per_address = TV_SERVER_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  cfg->max_message_rate_per_address = TV_SERVER_DEFAULT_MAX_MESSAGE_RATE_PER_ADDRESS;
  cfg->turn_credential_ttl_s = TV_SERVER_DEFAULT_TURN_CREDENTIAL_TTL;
  cfg->patient_cancel_notice_s = TV_SERVER_DEFAULT_PATIENT_CANCEL_NOTICE_S;
  cfg->reminders = tv_reminders_config_new ();
  /* The machine's name is only a default: skip it if it could not go into a SAN. */
  const char *host = g_get_host_name ();
  if (host && (is_dns_name (host) || g_hostname_is_ip_address (host)))
    cfg->hostname = g_strdup (host);
  return cfg;
}

void
tv_server_config_free (TvServerConfig *cfg)
{
  if (!cfg)
    return;
  g_free (cfg->config_file);
  g_free (cfg->data_dir);
  g_free (cfg->listen);
  g_free (cfg->cert);
  g_free (cfg->key);
  g_free (cfg->hostname);
  g_strfreev (cfg->stun);
  g_strfreev (cfg->turn);
  g_free (cfg->turn_url);
  g_free (cfg->turn_secret_file);
  g_free (cfg->billing_codes);
  g_free (cfg->billing_codes_text);
  g_free (cfg->payment_instructions);
  tv_reminders_config_free (cfg->reminders);
  g_free (cfg);
}

static gboolean apply_key_file (TvServerConfig *cfg, GKeyFile *kf, const char *path, GError **error);

gboolean
tv_server_config_load_file (TvServerConfig *cfg, const char *path, GError **error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_FILE,
                 "config %s: %s", path, local->message);
    return FALSE;
  }
  return apply_key_file (cfg, kf, path, error);
}

gboolean
tv_server_config_load_data (TvServerConfig *cfg, const char *data, gsize len, const char *origin,
                            GError **error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);
  g_return_val_if_fail (origin != NULL, FALSE);

  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  /* GKeyFile reads exactly @len bytes: no NUL terminator needed. */
  if (!g_key_file_load_from_data (kf, len ? data : "", len, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_FILE,
                 "config %s: %s", origin, local->message);
    return FALSE;
  }
  return apply_key_file (cfg, kf, origin, error);
}

/* Applies the [server] group of a loaded key file; @path names it in messages. */
static gboolean
apply_key_file (TvServerConfig *cfg, GKeyFile *kf, const char *path, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  for (char **g = groups; *g; g++)
    if (!g_str_equal (*g, GROUP)) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_FILE,
                   "config %s: unknown group [%s] (only [" GROUP "] is read)", path, *g);
      return FALSE;
    }
  if (!g_key_file_has_group (kf, GROUP))
    return TRUE; /* an empty file is a valid (if pointless) configuration */

  g_auto (GStrv) keys = g_key_file_get_keys (kf, GROUP, NULL, NULL);
  for (char **k = keys; keys && *k; k++) {
    if (!g_strv_contains (known_keys, *k) && !tv_reminders_config_owns_key (*k)) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "config %s: %s: unknown key in [" GROUP "]", path, *k);
      return FALSE;
    }
    g_autoptr (GError) kerr = NULL;
    gboolean ok;
    if (g_str_equal (*k, "stun") || g_str_equal (*k, "turn")) {
      /* A list: "stun = stun:a:3478;stun:b:3478" (GKeyFile list syntax). */
      g_auto (GStrv) list = g_key_file_get_string_list (kf, GROUP, *k, NULL, &kerr);
      ok = list && !kerr && set_url_list (cfg, *k, (const char *const *) list, &kerr);
    } else {
      /* GKeyFile returns the value *and* sets an error for an invalid escape
       * ("\x41"): refuse it rather than use a half-decoded value (fuzzer find). */
      g_autofree char *v = g_key_file_get_string (kf, GROUP, *k, &kerr);
      ok = v && !kerr && tv_server_config_set (cfg, *k, g_strstrip (v), &kerr);
    }
    if (!ok) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                   "config %s: %s%s%s", path,
                   kerr && kerr->domain == TV_SERVER_CONFIG_ERROR ? "" : *k,
                   kerr && kerr->domain == TV_SERVER_CONFIG_ERROR ? "" : ": ",
                   kerr ? kerr->message : "invalid value");
      return FALSE;
    }
  }
  return TRUE;
}

/* Flag values are kept as text until the file has been applied, then fed to
 * tv_server_config_set() in table order, so flags override the file. */
typedef struct {
  char *config, *data_dir, *listen, *port, *cert, *key, *hostname;
  char *join_timeout, *max_connections, *log_level;
  char *session_idle_minutes, *session_max_hours;
  char *max_connections_per_address, *max_message_rate_per_address;
  char *turn_url, *turn_secret_file, *turn_credential_ttl;
  char *billing_codes, *billing_scheme, *payment_instructions;
  char **stun, **turn;
  gboolean help, version;
} RawFlags;

static void
raw_flags_clear (RawFlags *r)
{
  g_free (r->config);
  g_free (r->data_dir);
  g_free (r->listen);
  g_free (r->port);
  g_free (r->cert);
  g_free (r->key);
  g_free (r->hostname);
  g_free (r->join_timeout);
  g_free (r->max_connections);
  g_free (r->log_level);
  g_free (r->session_idle_minutes);
  g_free (r->session_max_hours);
  g_free (r->max_connections_per_address);
  g_free (r->max_message_rate_per_address);
  g_free (r->turn_url);
  g_free (r->turn_secret_file);
  g_free (r->turn_credential_ttl);
  g_free (r->billing_codes);
  g_free (r->billing_scheme);
  g_free (r->payment_instructions);
  g_strfreev (r->stun);
  g_strfreev (r->turn);
}

TvServerConfig *
tv_server_config_from_args (int argc, char **argv, TvServerConfigAction *action, GError **error)
{
  g_return_val_if_fail (action != NULL, NULL);

  RawFlags raw = { 0 };
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &raw.config, "Key file to read", "FILE" },
    { "data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &raw.data_dir, "Data directory", "DIR" },
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &raw.listen, "Listen address", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_STRING, &raw.port, "Port", "PORT" },
    { "cert", 0, 0, G_OPTION_ARG_FILENAME, &raw.cert, "Certificate PEM", "FILE" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &raw.key, "Private key PEM", "FILE" },
    { "hostname", 0, 0, G_OPTION_ARG_STRING, &raw.hostname, "Extra SAN", "NAME" },
    { "join-timeout", 0, 0, G_OPTION_ARG_STRING, &raw.join_timeout, "Join timeout", "SECONDS" },
    { "max-connections", 0, 0, G_OPTION_ARG_STRING, &raw.max_connections, "Connection limit", "N" },
    { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &raw.stun, "STUN URL", "URL" },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &raw.turn, "TURN URL", "URL" },
    { "log-level", 0, 0, G_OPTION_ARG_STRING, &raw.log_level, "Log level", "LEVEL" },
    { "session-idle-minutes", 0, 0, G_OPTION_ARG_STRING, &raw.session_idle_minutes, "API session idle timeout",
      "MINUTES" },
    { "session-max-hours", 0, 0, G_OPTION_ARG_STRING, &raw.session_max_hours, "API session lifetime", "HOURS" },
    { "max-connections-per-address", 0, 0, G_OPTION_ARG_STRING, &raw.max_connections_per_address,
      "Connection limit per client address", "N" },
    { "max-message-rate-per-address", 0, 0, G_OPTION_ARG_STRING, &raw.max_message_rate_per_address,
      "Message rate limit per client address", "N" },
    { "turn-url", 0, 0, G_OPTION_ARG_STRING, &raw.turn_url, "TURN server for issued credentials", "URL" },
    { "turn-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &raw.turn_secret_file, "TURN shared secret", "FILE" },
    { "turn-credential-ttl", 0, 0, G_OPTION_ARG_STRING, &raw.turn_credential_ttl, "TURN credential lifetime",
      "SECONDS" },
    { "billing-codes", 0, 0, G_OPTION_ARG_FILENAME, &raw.billing_codes, "Billing code table", "FILE" },
    { "billing-scheme", 0, 0, G_OPTION_ARG_STRING, &raw.billing_scheme, "Billing scheme", "SCHEME" },
    { "payment-instructions", 0, 0, G_OPTION_ARG_STRING, &raw.payment_instructions, "How patients pay", "TEXT" },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &raw.version, "Print the version", NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &raw.help, "Print the manual", NULL },
    { NULL }
  };
  const struct { const char *key; char **value; } scalar[] = {
    { "data-dir", &raw.data_dir }, { "listen", &raw.listen }, { "port", &raw.port },
    { "cert", &raw.cert }, { "key", &raw.key }, { "hostname", &raw.hostname },
    { "join-timeout", &raw.join_timeout }, { "max-connections", &raw.max_connections },
    { "log-level", &raw.log_level },
    { "session-idle-minutes", &raw.session_idle_minutes }, { "session-max-hours", &raw.session_max_hours },
    { "max-connections-per-address", &raw.max_connections_per_address },
    { "max-message-rate-per-address", &raw.max_message_rate_per_address },
    { "turn-url", &raw.turn_url }, { "turn-secret-file", &raw.turn_secret_file },
    { "turn-credential-ttl", &raw.turn_credential_ttl },
    { "billing-codes", &raw.billing_codes }, { "billing-scheme", &raw.billing_scheme },
    { "payment-instructions", &raw.payment_instructions },
  };

  TvServerConfig *cfg = NULL;
  GOptionContext *ctx = g_option_context_new (NULL);
  /* Our own --help prints the full manual; GOption's short one would hide it. */
  g_option_context_set_help_enabled (ctx, FALSE);
  g_option_context_add_main_entries (ctx, entries, NULL);

  /* g_option_context_parse edits the vector it is given: work on a copy. */
  g_auto (GStrv) args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  char **parse_args = g_memdup2 (args, sizeof (char *) * (argc + 1));
  int parse_argc = argc;
  g_autoptr (GError) local = NULL;

  if (!g_option_context_parse (ctx, &parse_argc, &parse_args, &local)) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_USAGE, "%s", local->message);
    goto out;
  }
  if (parse_argc > 1) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_USAGE,
                 "unexpected argument \"%s\" (see --help)", parse_args[1]);
    goto out;
  }

  cfg = tv_server_config_new_default ();
  if (raw.help || raw.version) {
    *action = raw.help ? TV_SERVER_CONFIG_HELP : TV_SERVER_CONFIG_VERSION;
    goto out;
  }
  *action = TV_SERVER_CONFIG_RUN;

  if (raw.config) {
    cfg->config_file = g_strdup (raw.config);
    if (!tv_server_config_load_file (cfg, raw.config, error))
      goto fail;
  }
  for (gsize i = 0; i < G_N_ELEMENTS (scalar); i++) {
    if (!*scalar[i].value)
      continue;
    g_autoptr (GError) ferr = NULL;
    if (!tv_server_config_set (cfg, scalar[i].key, *scalar[i].value, &ferr)) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID, "--%s", ferr->message);
      goto fail;
    }
  }
  if (raw.stun || raw.turn) {
    g_autoptr (GError) ferr = NULL;
    if ((raw.stun && !set_url_list (cfg, "stun", (const char *const *) raw.stun, &ferr)) ||
        (raw.turn && !set_url_list (cfg, "turn", (const char *const *) raw.turn, &ferr))) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID, "--%s", ferr->message);
      goto fail;
    }
  }
  if ((cfg->turn_url == NULL) != (cfg->turn_secret_file == NULL)) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "%s: --turn-url and --turn-secret-file must be given together",
                 cfg->turn_url ? "turn-secret-file" : "turn-url");
    goto fail;
  }
  {
    g_autoptr (GError) berr = NULL;
    g_autoptr (TvBillingCodes) codes = cfg->billing_codes_text
      ? tv_billing_codes_parse (cfg->billing_codes_text, strlen (cfg->billing_codes_text), cfg->billing_codes, &berr)
      : tv_billing_codes_new_default ();
    if (codes == NULL || !tv_billing_codes_check_scheme (codes, cfg->billing_scheme, &berr)) {
      g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID, "%s: %s",
                   cfg->billing_codes ? "billing-codes" : "billing-scheme", berr->message);
      goto fail;
    }
  }
  if (!tv_reminders_config_check (cfg->reminders, error))
    goto fail;
  if ((cfg->cert == NULL) != (cfg->key == NULL)) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID,
                 "%s: --cert and --key must be given together (or neither, to use a generated certificate)",
                 cfg->cert ? "key" : "cert");
    goto fail;
  }
  goto out;

fail:
  g_clear_pointer (&cfg, tv_server_config_free);
out:
  g_free (parse_args); /* the strings belong to args */
  g_option_context_free (ctx);
  raw_flags_clear (&raw);
  return cfg;
}

gboolean
tv_server_config_prepare_data_dir (const TvServerConfig *cfg, GError **error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  if (g_mkdir_with_parents (cfg->data_dir, 0700) != 0) {
    int e = errno;
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_IO,
                 "data-dir: cannot create %s: %s", cfg->data_dir, g_strerror (e));
    return FALSE;
  }
  if (!g_file_test (cfg->data_dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_IO,
                 "data-dir: %s is not a directory", cfg->data_dir);
    return FALSE;
  }
  return TRUE;
}

char *
tv_server_config_help_text (void)
{
  return g_strdup_printf (
"NAME\n"
"    televisit-server - Televisit consult signaling server (WebSocket over TLS)\n"
"\n"
"SYNOPSIS\n"
"    televisit-server [--config FILE] [--data-dir DIR] [--listen ADDR] [--port PORT]\n"
"                     [--cert FILE --key FILE] [--hostname NAME] [--join-timeout SECONDS]\n"
"                     [--max-connections N] [--max-connections-per-address N]\n"
"                     [--max-message-rate-per-address N] [--stun URL]... [--turn URL]...\n"
"                     [--log-level LEVEL] [--session-idle-minutes MINUTES]\n"
"                     [--session-max-hours HOURS]\n"
"                     [--turn-url URL --turn-secret-file FILE [--turn-credential-ttl SECONDS]]\n"
"                     [--billing-codes FILE] [--billing-scheme SCHEME]\n"
"                     [--payment-instructions TEXT]\n"
"    televisit-server --help | --version\n"
"\n"
"DESCRIPTION\n"
"    Serves the Televisit consult protocol (WebSocket subprotocol televisit.v1) on\n"
"    wss://ADDR:PORT/, and the clinic's HTTPS JSON API (login, users, ...) under\n"
"    https://ADDR:PORT/api/v1/ on the same port (see docs/API.md). A doctor and a\n"
"    patient join a consult with their join tokens (created with televisitctl or\n"
"    booked through the API); the server pairs them, relays their WebRTC offer,\n"
"    answer and ICE candidates, and records the consult's progress and connected\n"
"    time in the session store. Media never passes through the server.\n"
"    When listening, it prints one line to standard output:\n"
"        listening on wss://ADDR:PORT/\n"
"    Logs go to standard error. Tokens are never logged.\n"
"\n"
"OPTIONS\n"
"    -c, --config FILE       Read settings from FILE first (see CONFIGURATION FILE).\n"
"                            Flags given on the command line override the file.\n"
"    -d, --data-dir DIR      Data directory, created mode 0700 if missing.\n"
"                            Default: %s\n"
"    -l, --listen ADDR       IPv4 or IPv6 address to listen on. 0.0.0.0 and :: mean\n"
"                            every address. Default: %s\n"
"    -p, --port PORT         TCP port, 0..65535; 0 picks any free port (the real\n"
"                            port is printed). Default: %d\n"
"        --cert FILE         PEM certificate (chain) to serve. Needs --key.\n"
"        --key FILE          PEM private key of --cert. Needs --cert.\n"
"                            Default: neither; a self-signed P-256 certificate is\n"
"                            generated on first start in DIR/tls/ and reused.\n"
"        --hostname NAME     Extra DNS name or IP address put in the generated\n"
"                            certificate (besides localhost, 127.0.0.1, ::1).\n"
"                            Default: this machine's host name.\n"
"        --join-timeout SECONDS\n"
"                            Time a new connection has to send its join, 1..300.\n"
"                            Default: %d\n"
"        --max-connections N Simultaneous WebSocket connections, 1..%d; more are\n"
"                            refused at the handshake. Default: %d\n"
"        --max-connections-per-address N\n"
"                            Simultaneous WebSocket connections from one client IP\n"
"                            address, 1..%d; more are refused at the handshake, so\n"
"                            one host cannot take every slot. Default: %d\n"
"        --max-message-rate-per-address N\n"
"                            Messages per second from one client IP address, summed\n"
"                            over its connections (each connection is also limited\n"
"                            to 50/s); the connection whose message goes over it\n"
"                            gets error 4009 and is closed. Default: %d\n"
"        --stun URL          STUN server for clients (stun:HOST[:PORT]); repeatable.\n"
"                            Sent to every client in \"joined\" (ice_servers, up to\n"
"                            4 URLs). Default: none.\n"
"        --turn URL          TURN server (turn:HOST[:PORT][?transport=udp]);\n"
"                            repeatable. Accepted for compatibility but not sent to\n"
"                            clients (it has no credentials): use --turn-url.\n"
"                            Default: none.\n"
"        --turn-url URL      TURN server (turn:HOST[:PORT][?transport=udp|tcp], or\n"
"                            turns:) for which the server issues short-lived\n"
"                            credentials to every client in \"joined\" (ice_servers;\n"
"                            TURN REST API scheme: username EXPIRY:CONSULT-ID,\n"
"                            password base64(HMAC-SHA1(secret, username)); coturn:\n"
"                            use-auth-secret + static-auth-secret). --stun URLs go\n"
"                            into ice_servers too. Needs --turn-secret-file.\n"
"                            Default: none.\n"
"        --turn-secret-file FILE\n"
"                            File holding the TURN shared secret (its first line,\n"
"                            16..512 printable characters). Refused unless only\n"
"                            its owner may read it (chmod 600). Never logged.\n"
"        --turn-credential-ttl SECONDS\n"
"                            Lifetime of issued TURN credentials, 60..86400; a\n"
"                            client gets fresh ones each time it (re)joins.\n"
"                            Default: %d\n"
"        --log-level LEVEL   error, warning, info or debug. SDP is logged only at\n"
"                            debug. Default: info\n"
"        --session-idle-minutes MINUTES\n"
"                            HTTPS API sessions (login tokens) end after this many\n"
"                            minutes without a request, 1..1440. Default: %d\n"
"        --session-max-hours HOURS\n"
"                            HTTPS API sessions end this many hours after login,\n"
"                            however active, 1..720. Default: %d\n"
"        --billing-codes FILE\n"
"                            Billing code table (key file: codes, minute\n"
"                            thresholds, modifiers, place of service, fees; format\n"
"                            in README.md). Checked at start: a bad value stops\n"
"                            the server with a message naming the group and key.\n"
"                            Default: the shipped table (server/billing-codes.conf:\n"
"                            CPT 2025 98000-98015 and office E/M 99202-99215).\n"
"        --billing-scheme SCHEME\n"
"                            telemedicine (CPT 98000-98015) or office-em (99202-\n"
"                            99215 with modifier 95 / 93, e.g. for Medicare): the\n"
"                            codes a completed consult is billed under.\n"
"                            Default: telemedicine\n"
"        --payment-instructions TEXT\n"
"                            How to pay, shown on patients' statements (up to 1000\n"
"                            bytes). Default: a sentence asking them to contact the\n"
"                            clinic's billing office.\n"
"    -V, --version           Print the version and exit.\n"
"    -h, --help              Print this manual and exit.\n"
"\n"
"CONFIGURATION FILE\n"
"    A key file with one group, [server]; keys are the long option names.\n"
"    Lists (stun, turn) are separated by ';'. Unknown keys are errors.\n"
"    Example:\n"
"        [server]\n"
"        data-dir = /var/lib/televisit\n"
"        listen = 0.0.0.0\n"
"        port = 8443\n"
"        hostname = consult.example.org\n"
"        join-timeout = 10\n"
"        max-connections = 4096\n"
"        max-connections-per-address = 512\n"
"        stun = stun:stun.example.org:3478\n"
"        log-level = info\n"
"        session-idle-minutes = 15\n"
"        session-max-hours = 12\n"
"    Encryption at rest (key file only): visit notes, chat text and contact\n"
"    details are stored AES-256-GCM encrypted with keys from\n"
"        data-key-file = FILE         default DIR/keys/data.keys, made on first\n"
"                                     start; owner-only (0600) or refused.\n"
"    Rotate with televisitctl keys rotate / rekey / retire (README).\n"
"\n"
"REMINDERS\n"
"    Booked consults get e-mail reminders (text + .ics invitation) from an\n"
"    outbox in the store; these keys are read from the key file only:\n"
"        reminder-offsets = 24h,15m   before the start; units d h m s; none = off\n"
"        smtp-url = smtp://HOST[:PORT] (STARTTLS when offered) or smtps://HOST[:PORT];\n"
"                   unset: reminders are recorded but not sent\n"
"        smtp-from = ADDRESS          sender (required with smtp-url)\n"
"        smtp-user = NAME             with smtp-password-file (owner-only file,\n"
"        smtp-password-file = FILE    first line is the password)\n"
"        clinic-name = TEXT           shown in messages (default Televisit)\n"
"        public-url = https://HOST[:PORT]  base of join links in messages\n"
"                   (default https://HOSTNAME:PORT)\n"
"        reminder-retry-seconds = 60  first retry delay, doubled per attempt\n"
"        reminder-max-attempts = 5    then the message is marked failed\n"
"    televisitctl reminders list shows each message's status.\n"
"\n"
"PATIENT CANCELLATION RULE\n"
"    Key file only:\n"
"        patient-cancel-notice = 24h  patients cancel or reschedule online only\n"
"                   this long before the start (units d h m s, up to 30d; 0 = any\n"
"                   time before it); later they get 409 cancel_too_late and are\n"
"                   asked to call. Schedulers, admins and doctors are not bound.\n"
"\n"
"FILES\n"
"    DIR/televisit.db        Session store (SQLite), mode 0600.\n"
"    DIR/tls/cert.pem        Generated self-signed certificate; give it to clients\n"
"                            as their CA file.\n"
"    DIR/tls/key.pem         Its private key, mode 0600.\n"
"    DIR/keys/data.keys      Data keys (AES-256) for encryption at rest, mode 0600,\n"
"                            made on first start (data-key-file moves it). Back it\n"
"                            up apart from the database: without it the sealed\n"
"                            notes, chat and contact details cannot be read.\n"
"    DIR/join-link.key       Key the join tokens are derived from, so reminders and\n"
"                            a patient's visit list can show the current link again\n"
"                            (32 bytes, mode 0600, made on first start; refused when\n"
"                            group or others may read it).\n"
"\n"
"SIGNALS\n"
"    SIGINT, SIGTERM         Graceful shutdown: connected clients get error 5001,\n"
"                            open connected intervals are closed in the store,\n"
"                            bookings, cancels and reschedules already received\n"
"                            are committed and answered (up to 3 s for all of\n"
"                            this), then the server exits 0. A second signal\n"
"                            quits at once.\n"
"\n"
"EXIT STATUS\n"
"    0   normal shutdown (or --help / --version)\n"
"    1   configuration or start-up error (bad setting, data directory, store,\n"
"        TLS material, or the address/port cannot be listened on); the message\n"
"        on standard error says which\n"
"\n"
"EXAMPLES\n"
"    Start with defaults (port 8443, data in %s):\n"
"        televisit-server\n"
"    Test instance on any free loopback port with its own data directory:\n"
"        televisit-server --listen 127.0.0.1 --port 0 --data-dir /tmp/tv\n"
"    With a certificate from your CA and a config file:\n"
"        televisit-server --config /etc/televisit/server.conf \\\n"
"            --cert /etc/televisit/cert.pem --key /etc/televisit/key.pem\n",
    TV_SERVER_DEFAULT_DATA_DIR, TV_SERVER_DEFAULT_LISTEN, TV_SERVER_DEFAULT_PORT,
    TV_SERVER_DEFAULT_JOIN_TIMEOUT, TV_SERVER_MAX_MAX_CONNECTIONS,
    TV_SERVER_DEFAULT_MAX_CONNECTIONS, TV_SERVER_MAX_MAX_CONNECTIONS,
    TV_SERVER_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, TV_SERVER_DEFAULT_MAX_MESSAGE_RATE_PER_ADDRESS,
    TV_SERVER_DEFAULT_TURN_CREDENTIAL_TTL, TV_SERVER_DEFAULT_SESSION_IDLE_MINUTES,
    TV_SERVER_DEFAULT_SESSION_MAX_HOURS, TV_SERVER_DEFAULT_DATA_DIR);
}
