/* tv-reminders-config.c — validation of the reminder and SMTP settings.
 *
 * Why: see tv-reminders-config.h. Errors use TV_SERVER_CONFIG_ERROR so the
 * server reports them exactly like its other settings (naming the key).
 * Thread: main thread only, before the main loop starts.
 */
#define G_LOG_DOMAIN "tv-config"

#include "server/tv-reminders-config.h"
#include "server/tv-config.h"
#include "server/tv-store-reminders.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static const char *const keys[] = {
  "reminder-offsets", "smtp-url", "smtp-from", "smtp-user", "smtp-password-file", "clinic-name", "public-url",
  "reminder-retry-seconds", "reminder-max-attempts", NULL
};

TvRemindersConfig *
tv_reminders_config_new (void)
{
  TvRemindersConfig *cfg = g_new0 (TvRemindersConfig, 1);
  cfg->offsets = g_strdup (TV_REMINDERS_DEFAULT_OFFSETS);
  cfg->clinic_name = g_strdup (TV_REMINDERS_DEFAULT_CLINIC);
  cfg->retry_seconds = TV_REMINDERS_DEFAULT_RETRY_SECONDS;
  cfg->max_attempts = TV_REMINDERS_DEFAULT_MAX_ATTEMPTS;
  return cfg;
}

void
tv_reminders_config_free (TvRemindersConfig *cfg)
{
  if (cfg == NULL)
    return;
  g_free (cfg->offsets);
  g_free (cfg->smtp_url);
  g_free (cfg->smtp_from);
  g_free (cfg->smtp_user);
  g_free (cfg->smtp_password_file);
  g_free (cfg->clinic_name);
  g_free (cfg->public_url);
  g_free (cfg);
}

gboolean
tv_reminders_config_owns_key (const char *key)
{
  return key != NULL && g_strv_contains (keys, key);
}

static gboolean
invalid (GError **error, const char *key, const char *message)
{
  g_set_error (error, TV_SERVER_CONFIG_ERROR, TV_SERVER_CONFIG_ERR_INVALID, "%s: %s", key, message);
  return FALSE;
}

/* An URL with one of @schemes, a host, no user info, no query or fragment. */
static gboolean
check_url (const char *key, const char *value, const char *const *schemes, gboolean path_ok, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (value, G_URI_FLAGS_NONE, NULL);
  const char *scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;
  const char *path = uri != NULL ? g_uri_get_path (uri) : NULL;
  gboolean ok = scheme != NULL && g_strv_contains (schemes, scheme) && host != NULL && *host != '\0'
                && g_uri_get_userinfo (uri) == NULL && g_uri_get_query (uri) == NULL
                && g_uri_get_fragment (uri) == NULL && (path_ok || path == NULL || *path == '\0' || g_str_equal (path, "/"))
                && strlen (value) <= 512;
  if (!ok) {
    g_autofree char *msg = g_strdup_printf ("\"%s\" is not a %s://HOST[:PORT] URL without user, path or query",
                                            value, schemes[0]);
    return invalid (error, key, msg);
  }
  return TRUE;
}

static gboolean
check_plain_text (const char *key, const char *value, gsize max, GError **error)
{
  if (*value == '\0' || strlen (value) > max || !g_utf8_validate (value, -1, NULL))
    return invalid (error, key, "must be 1..200 bytes of UTF-8");
  for (const char *p = value; *p != '\0'; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return invalid (error, key, "must not contain control characters");
  return TRUE;
}

static gboolean
parse_range (const char *key, const char *value, guint64 min, guint64 max, guint *out, GError **error)
{
  guint64 v = 0;
  if (!g_ascii_string_to_unsigned (value, 10, min, max, &v, NULL)) {
    g_autofree char *msg = g_strdup_printf ("\"%s\" is not a whole number in %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                                            value, min, max);
    return invalid (error, key, msg);
  }
  *out = (guint) v;
  return TRUE;
}

static void
replace (char **slot, char *value)
{
  g_free (*slot);
  *slot = value;
}

gboolean
tv_reminders_config_set (TvRemindersConfig *cfg, const char *key, const char *value, GError **error)
{
  g_return_val_if_fail (cfg != NULL && key != NULL && value != NULL, FALSE);
  static const char *const smtp_schemes[] = { "smtp", "smtps", NULL };
  static const char *const web_schemes[] = { "https", "http", NULL };
  guint u = 0;
  if (g_str_equal (key, "reminder-offsets")) {
    g_autoptr (GArray) parsed = NULL;
    g_autoptr (GError) local = NULL;
    if (!tv_reminders_parse_offsets (value, &parsed, &local))
      return invalid (error, key, local->message);
    replace (&cfg->offsets, g_strstrip (g_strdup (value)));
  } else if (g_str_equal (key, "smtp-url")) {
    if (!check_url (key, value, smtp_schemes, FALSE, error))
      return FALSE;
    replace (&cfg->smtp_url, g_strdup (value));
  } else if (g_str_equal (key, "smtp-from")) {
    g_autoptr (GError) local = NULL;
    if (!tv_store_check_email (value, &local))
      return invalid (error, key, local->message);
    replace (&cfg->smtp_from, g_strdup (value));
  } else if (g_str_equal (key, "smtp-user")) {
    if (!check_plain_text (key, value, 200, error))
      return FALSE;
    replace (&cfg->smtp_user, g_strdup (value));
  } else if (g_str_equal (key, "smtp-password-file")) {
    g_autoptr (GError) local = NULL;
    char *pw = tv_reminders_read_password (value, &local);
    if (pw == NULL)
      return invalid (error, key, local->message);
    tv_reminders_password_free (pw);
    replace (&cfg->smtp_password_file, g_canonicalize_filename (value, NULL));
  } else if (g_str_equal (key, "clinic-name")) {
    if (!check_plain_text (key, value, 200, error))
      return FALSE;
    replace (&cfg->clinic_name, g_strdup (value));
  } else if (g_str_equal (key, "public-url")) {
    if (!check_url (key, value, web_schemes, FALSE, error))
      return FALSE;
    char *v = g_strdup (value);
    gsize n = strlen (v);
    if (n > 0 && v[n - 1] == '/')
      v[n - 1] = '\0';
    replace (&cfg->public_url, v);
  } else if (g_str_equal (key, "reminder-retry-seconds")) {
    if (!parse_range (key, value, 1, 86400, &u, error))
      return FALSE;
    cfg->retry_seconds = u;
  } else if (g_str_equal (key, "reminder-max-attempts")) {
    if (!parse_range (key, value, 1, 20, &u, error))
      return FALSE;
    cfg->max_attempts = u;
  } else {
    return invalid (error, key, "unknown setting");
  }
  return TRUE;
}

gboolean
tv_reminders_config_check (const TvRemindersConfig *cfg, GError **error)
{
  g_return_val_if_fail (cfg != NULL, FALSE);
  if (cfg->smtp_url != NULL && cfg->smtp_from == NULL)
    return invalid (error, "smtp-from", "required when smtp-url is set");
  if ((cfg->smtp_user == NULL) != (cfg->smtp_password_file == NULL))
    return invalid (error, cfg->smtp_user != NULL ? "smtp-password-file" : "smtp-user",
                    "smtp-user and smtp-password-file must be given together");
  return TRUE;
}

char *
tv_reminders_read_password (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "cannot open %s: %s", path, g_strerror (e));
    return NULL;
  }
  struct stat st;
  char buf[514];
  ssize_t n = -1;
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is not a regular file", path);
  } else if ((st.st_mode & 077) != 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
                 "%s may be read by others (mode %03o): chmod 600 it", path, (unsigned) (st.st_mode & 0777));
  } else {
    n = read (fd, buf, sizeof buf - 1);
    if (n < 0)
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "cannot read %s", path);
  }
  close (fd);
  if (n < 0)
    return NULL;
  buf[n] = '\0';
  char *nl = strpbrk (buf, "\r\n");
  if (nl != NULL)
    *nl = '\0';
  gsize len = strlen (buf);
  gboolean ok = len >= 1 && len <= 512 && (gssize) len == (nl != NULL ? nl - buf : n);
  for (gsize i = 0; ok && i < len; i++)
    ok = (guchar) buf[i] >= 0x20 && buf[i] != 0x7f;
  char *out = ok ? g_strdup (buf) : NULL;
  OPENSSL_cleanse (buf, sizeof buf);
  if (!ok)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "%s: the first line must be the password, 1..512 characters without control characters", path);
  return out;
}

void
tv_reminders_password_free (char *password)
{
  if (password == NULL)
    return;
  OPENSSL_cleanse (password, strlen (password));
  g_free (password);
}
