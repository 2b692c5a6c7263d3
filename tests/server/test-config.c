/* test-config.c — televisit-server configuration parsing (tv-config).
 *
 * Why: a bad value must stop the daemon with a message naming the key, a valid
 * file must be read exactly, and flags must override the file. Synthetic values
 * only; files go to a temporary directory removed at the end.
 * Thread: main thread; a SIGALRM watchdog fails a stuck run.
 */
#define G_LOG_DOMAIN "test-config"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/tv-config.h"
#include "server/tv-turn.h"
#include "signaling/tv-sig-message.h"

static char *tmpdir;

static char *
write_file (const char *name, const char *contents)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

/* Parses a NULL-terminated list of arguments (argv[0] added). */
static TvServerConfig *
parse (TvServerConfigAction *action, GError **error, ...)
{
  GPtrArray *args = g_ptr_array_new ();
  g_ptr_array_add (args, (gpointer) "televisit-server");
  va_list ap;
  va_start (ap, error);
  const char *a;
  while ((a = va_arg (ap, const char *)))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  TvServerConfigAction dummy;
  TvServerConfig *cfg = tv_server_config_from_args ((int) args->len - 1, (char **) args->pdata,
                                                    action ? action : &dummy, error);
  g_ptr_array_free (args, TRUE);
  return cfg;
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  TvServerConfigAction action = TV_SERVER_CONFIG_HELP;
  g_autoptr (TvServerConfig) cfg = parse (&action, &error, NULL);
  g_assert_no_error (error);
  g_assert_nonnull (cfg);
  g_assert_cmpint (action, ==, TV_SERVER_CONFIG_RUN);
  g_assert_cmpstr (cfg->data_dir, ==, "/var/lib/televisit");
  g_assert_cmpstr (cfg->listen, ==, "0.0.0.0");
  g_assert_cmpuint (cfg->port, ==, 8443);
  g_assert_null (cfg->cert);
  g_assert_null (cfg->key);
  g_assert_cmpuint (cfg->join_timeout_s, ==, 10);
  g_assert_cmpuint (cfg->max_connections, ==, 4096);
  g_assert_cmpuint (g_strv_length (cfg->stun), ==, 0);
  g_assert_cmpuint (g_strv_length (cfg->turn), ==, 0);
  g_assert_cmpint (cfg->log_level, ==, TV_SERVER_LOG_INFO);
  g_assert_null (cfg->config_file);
}

static void
test_valid_file (void)
{
  g_autofree char *cert = write_file ("c.pem", "not parsed here\n");
  g_autofree char *key = write_file ("k.pem", "not parsed here\n");
  g_autofree char *data = g_build_filename (tmpdir, "data", NULL);
  g_autofree char *text = g_strdup_printf (
      "# a comment\n"
      "[server]\n"
      "data-dir = %s\n"
      "listen = 127.0.0.1\n"
      "port = 0\n"
      "cert = %s\n"
      "key = %s\n"
      "hostname = consult.example.org\n"
      "join-timeout = 300\n"
      "max-connections = 10\n"
      "stun = stun:stun.example.org:3478;stuns:stun2.example.org\n"
      "turn = turn:turn.example.org:3478?transport=udp\n"
      "log-level = debug\n",
      data, cert, key);
  g_autofree char *path = write_file ("valid.conf", text);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvServerConfig) cfg = parse (NULL, &error, "--config", path, NULL);
  g_assert_no_error (error);
  g_assert_cmpstr (cfg->config_file, ==, path);
  g_assert_cmpstr (cfg->data_dir, ==, data);
  g_assert_cmpstr (cfg->listen, ==, "127.0.0.1");
  g_assert_cmpuint (cfg->port, ==, 0);
  g_assert_cmpstr (cfg->cert, ==, cert);
  g_assert_cmpstr (cfg->key, ==, key);
  g_assert_cmpstr (cfg->hostname, ==, "consult.example.org");
  g_assert_cmpuint (cfg->join_timeout_s, ==, 300);
  g_assert_cmpuint (cfg->max_connections, ==, 10);
  g_assert_cmpuint (g_strv_length (cfg->stun), ==, 2);
  g_assert_cmpstr (cfg->stun[1], ==, "stuns:stun2.example.org");
  g_assert_cmpuint (g_strv_length (cfg->turn), ==, 1);
  g_assert_cmpint (cfg->log_level, ==, TV_SERVER_LOG_DEBUG);
}

static void
test_flags_override_file (void)
{
  g_autofree char *path = write_file ("override.conf",
                                      "[server]\nport = 9000\nlisten = 127.0.0.1\njoin-timeout = 20\n"
                                      "stun = stun:a.example.org\nlog-level = warning\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (TvServerConfig) cfg = parse (NULL, &error, "--port", "9001", "--config", path,
                                          "--stun", "stun:b.example.org", "--stun", "stun:c.example.org",
                                          "--listen", "::1", NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (cfg->port, ==, 9001);           /* flag wins */
  g_assert_cmpstr (cfg->listen, ==, "::1");          /* flag wins */
  g_assert_cmpuint (cfg->join_timeout_s, ==, 20);    /* file value kept */
  g_assert_cmpint (cfg->log_level, ==, TV_SERVER_LOG_WARNING);
  g_assert_cmpuint (g_strv_length (cfg->stun), ==, 2); /* flag list replaces the file's */
  g_assert_cmpstr (cfg->stun[0], ==, "stun:b.example.org");
}

typedef struct {
  const char *key;
  const char *value;
} Bad;

static const Bad bad_values[] = {
  { "port", "65536" },
  { "port", "-1" },
  { "port", "80x" },
  { "port", "" },
  { "listen", "localhost" },
  { "listen", "256.1.1.1" },
  { "join-timeout", "0" },
  { "join-timeout", "301" },
  { "max-connections", "0" },
  { "max-connections", "many" },
  { "hostname", "bad host,DNS:evil" },
  { "hostname", "-leading.example.org" },
  { "stun", "http://stun.example.org" },
  { "stun", "stun:" },
  { "turn", "stun:turn.example.org" },
  { "log-level", "verbose" },
  { "cert", "/nonexistent/cert.pem" },
  { "key", "/nonexistent/key.pem" },
  { "data-dir", "" },
  { "turn-url", "http://turn.example.org" },
  { "turn-url", "turn:" },
  { "turn-url", "stun:turn.example.org:3478" },
  { "turn-url", "turn:turn.example.org:3478?transport=sctp" },
  { "turn-url", "turn:user@turn.example.org" },
  { "turn-credential-ttl", "59" },
  { "turn-credential-ttl", "86401" },
  { "turn-credential-ttl", "1h" },
  { "turn-secret-file", "/nonexistent/turn-secret" },
};

/* Every invalid value fails, from the file and from the flags, and the message
 * names the key. */
static void
test_invalid_values (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad_values); i++) {
    const Bad *b = &bad_values[i];
    g_autofree char *text = g_strdup_printf ("[server]\n%s = %s\n", b->key, b->value);
    g_autofree char *path = write_file ("bad.conf", text);
    g_autoptr (GError) error = NULL;
    g_autoptr (TvServerConfig) cfg = parse (NULL, &error, "--config", path, NULL);
    g_test_message ("file %s=%s -> %s", b->key, b->value, error ? error->message : "(accepted)");
    g_assert_null (cfg);
    g_assert_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID);
    g_assert_nonnull (strstr (error->message, b->key));

    g_autofree char *flag = g_strdup_printf ("--%s=%s", b->key, b->value);
    g_autoptr (GError) ferror = NULL;
    g_autoptr (TvServerConfig) fcfg = parse (NULL, &ferror, flag, NULL);
    g_test_message ("flag %s -> %s", flag, ferror ? ferror->message : "(accepted)");
    g_assert_null (fcfg);
    g_assert_nonnull (ferror);
    g_assert_nonnull (strstr (ferror->message, b->key));
  }
}

static void
test_cert_needs_key (void)
{
  g_autofree char *cert = write_file ("only-cert.pem", "x\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (TvServerConfig) cfg = parse (NULL, &error, "--cert", cert, NULL);
  g_assert_null (cfg);
  g_assert_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID);
  g_assert_nonnull (strstr (error->message, "key"));

  g_autoptr (GError) error2 = NULL;
  g_autoptr (TvServerConfig) cfg2 = parse (NULL, &error2, "--key", cert, NULL);
  g_assert_null (cfg2);
  g_assert_nonnull (strstr (error2->message, "cert"));
}

static void
test_file_errors (void)
{
  struct {
    const char *text;
    const char *expect;
    int code;
  } cases[] = {
    { "[server]\nprot = 8443\n", "prot", TV_SERVER_CONFIG_ERR_INVALID },
    { "[serveur]\nport = 8443\n", "serveur", TV_SERVER_CONFIG_ERR_FILE },
    { "port = 8443\n", "bad.conf", TV_SERVER_CONFIG_ERR_FILE },
    { "[server\n", "bad.conf", TV_SERVER_CONFIG_ERR_FILE },
    /* GKeyFile returns "\\x41" half-decoded *and* an error (fuzzer find). */
    { "[server]\nlisten = \\x41\n", "listen", TV_SERVER_CONFIG_ERR_INVALID },
    { "[server]\nstun = stun:a.example:1;\\q\n", "stun", TV_SERVER_CONFIG_ERR_INVALID },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = write_file ("bad.conf", cases[i].text);
    g_autoptr (GError) error = NULL;
    g_autoptr (TvServerConfig) cfg = parse (NULL, &error, "--config", path, NULL);
    g_test_message ("%s -> %s", cases[i].text, error ? error->message : "(accepted)");
    g_assert_null (cfg);
    g_assert_error (error, TV_SERVER_CONFIG_ERROR, cases[i].code);
    g_assert_nonnull (strstr (error->message, cases[i].expect));
  }

  g_autoptr (GError) error = NULL;
  g_autoptr (TvServerConfig) cfg = parse (NULL, &error, "--config", "/nonexistent/televisit.conf", NULL);
  g_assert_null (cfg);
  g_assert_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_FILE);
}

static void
test_usage (void)
{
  g_autoptr (GError) e1 = NULL;
  g_autoptr (TvServerConfig) c1 = parse (NULL, &e1, "--no-such-flag", NULL);
  g_assert_null (c1);
  g_assert_error (e1, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_USAGE);

  g_autoptr (GError) e2 = NULL;
  g_autoptr (TvServerConfig) c2 = parse (NULL, &e2, "stray", NULL);
  g_assert_null (c2);
  g_assert_error (e2, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_USAGE);

  TvServerConfigAction action = TV_SERVER_CONFIG_RUN;
  g_autoptr (GError) e3 = NULL;
  g_autoptr (TvServerConfig) c3 = parse (&action, &e3, "--help", NULL);
  g_assert_no_error (e3);
  g_assert_cmpint (action, ==, TV_SERVER_CONFIG_HELP);

  g_autoptr (GError) e4 = NULL;
  g_autoptr (TvServerConfig) c4 = parse (&action, &e4, "--version", NULL);
  g_assert_no_error (e4);
  g_assert_cmpint (action, ==, TV_SERVER_CONFIG_VERSION);
}

static void
test_help_text (void)
{
  g_autofree char *help = tv_server_config_help_text ();
  const char *sections[] = { "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION FILE",
                             "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES" };
  for (gsize i = 0; i < G_N_ELEMENTS (sections); i++)
    g_assert_nonnull (strstr (help, sections[i]));
  const char *flags[] = { "--config", "--data-dir", "--listen", "--port", "--cert", "--key", "--hostname",
                          "--join-timeout", "--max-connections", "--stun", "--turn", "--log-level",
                          "--turn-url", "--turn-secret-file", "--turn-credential-ttl", "Default: 3600",
                          "--version", "--help", "Default: 8443", "/var/lib/televisit" };
  for (gsize i = 0; i < G_N_ELEMENTS (flags); i++)
    g_assert_nonnull (strstr (help, flags[i]));
}

/* TURN: the secret file (owner-only, one valid line), URL and secret given
 * together, the TTL default, and the credentials themselves. */
static void
test_turn (void)
{
  g_autofree char *secret = write_file ("turn-secret", "  tv-test-turn-secret-0123456789 \nignored\n");
  g_autofree char *short_secret = write_file ("turn-short", "tooshort\n");
  g_assert_cmpint (g_chmod (secret, 0644), ==, 0);
  g_assert_cmpint (g_chmod (short_secret, 0600), ==, 0);
  const char *url = "--turn-url=turn:198.18.0.3:3478?transport=udp";
  {
    /* Readable by others: refused, with the fix in the message. */
    g_autoptr (GError) error = NULL;
    g_autoptr (TvServerConfig) cfg = parse (NULL, &error, url, "--turn-secret-file", secret, NULL);
    g_assert_null (cfg);
    g_assert_nonnull (error);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "turn-secret-file"));
    g_assert_nonnull (strstr (error->message, "chmod 600"));
    g_assert_null (strstr (error->message, "tv-test-turn-secret"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvServerConfig) cfg = parse (NULL, &error, url, "--turn-secret-file", short_secret, NULL);
    g_assert_null (cfg);
    g_assert_nonnull (strstr (error->message, "turn-secret-file"));
  }
  g_assert_cmpint (g_chmod (secret, 0600), ==, 0);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvServerConfig) cfg = parse (NULL, &error, url, NULL);
    g_assert_null (cfg);
    g_assert_nonnull (strstr (error->message, "turn-secret-file"));
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (TvServerConfig) cfg = parse (NULL, &error, url, "--turn-secret-file", secret, NULL);
    g_assert_no_error (error);
    g_assert_cmpstr (cfg->turn_url, ==, "turn:198.18.0.3:3478?transport=udp");
    g_assert_cmpuint (cfg->turn_credential_ttl_s, ==, 3600);
    g_autofree char *text = g_strdup_printf ("[server]\nturn-url = turns:turn.example.org\n"
                                             "turn-secret-file = %s\nturn-credential-ttl = 86400\n", secret);
    g_autofree char *conf = write_file ("turn.conf", text);
    g_autoptr (TvServerConfig) fcfg = parse (NULL, &error, "--config", conf, NULL);
    g_assert_no_error (error);
    g_assert_cmpuint (fcfg->turn_credential_ttl_s, ==, 86400);
  }
  /* The secret is the first line, stripped; the credential is
   * base64(HMAC-SHA1(secret, "EXPIRY:LABEL")) (value from Python's hmac). */
  g_autoptr (GError) error = NULL;
  char *s = tv_server_turn_read_secret (secret, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "tv-test-turn-secret-0123456789");
  g_autofree char *user = NULL, *pass = NULL;
  g_assert_true (tv_server_turn_credentials (s, "c1", 1790000000, 3600, &user, &pass));
  g_assert_cmpstr (user, ==, "1790003600:c1");
  g_assert_cmpstr (pass, ==, "3qwkN9OCQeLhR3sBCy2s7XWEvDg=");

  /* ice_servers for "joined": STUN URLs the protocol accepts, then TURN. */
  const char *stun[] = { "stun:198.18.0.3:3478", "stuns:not-sent.example.org", NULL };
  g_autoptr (GPtrArray) ice = tv_server_ice_servers_new (stun, "turn:198.18.0.3:3478?transport=udp", s, "c1",
                                                         1790000000, 3600);
  g_assert_cmpuint (ice->len, ==, 2);
  const TvSigIceServer *st = ice->pdata[0], *tu = ice->pdata[1];
  g_assert_cmpuint (g_strv_length (st->urls), ==, 1);
  g_assert_null (st->username);
  g_assert_cmpstr (tu->urls[0], ==, "turn:198.18.0.3:3478?transport=udp");
  g_assert_cmpstr (tu->username, ==, "1790003600:c1");
  g_assert_cmpstr (tu->credential, ==, "3qwkN9OCQeLhR3sBCy2s7XWEvDg=");
  g_assert_null (tv_server_ice_servers_new (NULL, NULL, NULL, "c1", 0, 60));
  tv_server_turn_secret_free (s);
}

static void
test_data_dir_created (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "made", "deeper", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvServerConfig) cfg = parse (NULL, &error, "--data-dir", dir, NULL);
  g_assert_no_error (error);
  g_assert_true (tv_server_config_prepare_data_dir (cfg, &error));
  g_assert_no_error (error);
  GStatBuf st;
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  /* Already there: fine. */
  g_assert_true (tv_server_config_prepare_data_dir (cfg, &error));

  /* A file in the way: error naming data-dir. */
  g_autofree char *file = write_file ("plainfile", "x");
  g_autoptr (TvServerConfig) cfg2 = parse (NULL, &error, "--data-dir", file, NULL);
  g_assert_no_error (error);
  g_assert_false (tv_server_config_prepare_data_dir (cfg2, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "data-dir"));
}

/* patient-cancel-notice (key file only): default a day, one duration in the
 * units of reminder-offsets or 0; anything else refused naming the key, and
 * the value in use stays as it was. */
static void
test_patient_cancel_notice (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvServerConfig) cfg = tv_server_config_new_default ();
  g_assert_cmpint (cfg->patient_cancel_notice_s, ==, 24 * 3600);
  static const struct { const char *value; gint64 seconds; } good[] = {
    { "48h", 48 * 3600 }, { "2d", 2 * 86400 }, { "90m", 90 * 60 }, { "0", 0 }, { "0h", 0 }, { "30d", 30 * 86400 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++) {
    g_assert_true (tv_server_config_set (cfg, "patient-cancel-notice", good[i].value, &error));
    g_assert_no_error (error);
    g_assert_cmpint (cfg->patient_cancel_notice_s, ==, good[i].seconds);
  }
  g_assert_true (tv_server_config_set (cfg, "patient-cancel-notice", "12h", &error));
  static const char *const bad[] = { "", "none", "24", "24h,1h", "31d", "-1h", "1w", "h", "1.5h", "24 h" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (tv_server_config_set (cfg, "patient-cancel-notice", bad[i], &error));
    g_assert_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID);
    g_assert_true (g_str_has_prefix (error->message, "patient-cancel-notice: "));
    g_clear_error (&error);
    g_assert_cmpint (cfg->patient_cancel_notice_s, ==, 12 * 3600);   /* unchanged */
  }
  /* From the key file; a bad value there names the file and the key. */
  g_autofree char *ok = write_file ("notice.conf", "[server]\npatient-cancel-notice = 3d\n");
  g_autoptr (TvServerConfig) from_file = parse (NULL, &error, "--config", ok, NULL);
  g_assert_no_error (error);
  g_assert_cmpint (from_file->patient_cancel_notice_s, ==, 3 * 86400);
  g_autofree char *wrong = write_file ("notice-bad.conf", "[server]\npatient-cancel-notice = tomorrow\n");
  g_autoptr (TvServerConfig) none = parse (NULL, &error, "--config", wrong, NULL);
  g_assert_null (none);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "patient-cancel-notice: \"tomorrow\""));
  g_autofree char *help = tv_server_config_help_text ();
  g_assert_nonnull (strstr (help, "patient-cancel-notice = 24h"));
}

static void
rm_rf (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  if (d) {
    const char *name;
    while ((name = g_dir_read_name (d))) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      rm_rf (child);
    }
    g_dir_close (d);
  }
  g_remove (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  alarm (60); /* watchdog: a hang fails the run instead of blocking CI */
  tmpdir = g_dir_make_tmp ("tv-test-config-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);

  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/valid-file", test_valid_file);
  g_test_add_func ("/config/flags-override-file", test_flags_override_file);
  g_test_add_func ("/config/invalid-values-name-the-key", test_invalid_values);
  g_test_add_func ("/config/cert-needs-key", test_cert_needs_key);
  g_test_add_func ("/config/file-errors", test_file_errors);
  g_test_add_func ("/config/usage", test_usage);
  g_test_add_func ("/config/help-text", test_help_text);
  g_test_add_func ("/config/data-dir-created-0700", test_data_dir_created);
  g_test_add_func ("/config/turn", test_turn);
  g_test_add_func ("/config/patient-cancel-notice", test_patient_cancel_notice);
  int rc = g_test_run ();
  rm_rf (tmpdir);
  g_free (tmpdir);
  return rc;
}
