/* tv-gtk-settings.c — the desktop window's remembered settings (GKeyFile).
 *
 * $XDG_CONFIG_HOME/televisit/client.ini (g_get_user_config_dir) keeps the
 * window size, the last server and doctor user name, and the devices chosen
 * in the pre-call check, so the next start looks like the last one. No
 * secret is ever written here (no token, no password, no session). A
 * missing or broken file means defaults. Main thread only.
 */
#define G_LOG_DOMAIN "tv-client"

#include <glib/gstdio.h>

#include "client/tv-gtk-private.h"

char *
tv_gtk_settings_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "televisit", "client.ini", NULL);
}

static char *
get_str (GKeyFile *kf, const char *group, const char *key)
{
  char *v = g_key_file_get_string (kf, group, key, NULL);
  if (v != NULL && *v == '\0')
    g_clear_pointer (&v, g_free);
  return v;
}

void
tv_gtk_settings_load (TvGtkSettings *s)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *path = tv_gtk_settings_path ();

  memset (s, 0, sizeof *s);
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL))
    return;
  s->width = CLAMP (g_key_file_get_integer (kf, "window", "width", NULL), 0, 8192);
  s->height = CLAMP (g_key_file_get_integer (kf, "window", "height", NULL), 0, 8192);
  s->server_url = get_str (kf, "account", "server");
  s->username = get_str (kf, "account", "username");
  s->camera = get_str (kf, "devices", "camera");
  s->microphone = get_str (kf, "devices", "microphone");
  s->speaker = get_str (kf, "devices", "speaker");
}

static void
set_str (GKeyFile *kf, const char *group, const char *key, const char *value)
{
  if (value != NULL)
    g_key_file_set_string (kf, group, key, value);
}

gboolean
tv_gtk_settings_save (const TvGtkSettings *s)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tv_gtk_settings_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *data = NULL;
  gsize len = 0;

  if (s->width > 0 && s->height > 0)
    {
      g_key_file_set_integer (kf, "window", "width", s->width);
      g_key_file_set_integer (kf, "window", "height", s->height);
    }
  set_str (kf, "account", "server", s->server_url);
  set_str (kf, "account", "username", s->username);
  set_str (kf, "devices", "camera", s->camera);
  set_str (kf, "devices", "microphone", s->microphone);
  set_str (kf, "devices", "speaker", s->speaker);
  data = g_key_file_to_data (kf, &len, NULL);
  if (g_mkdir_with_parents (dir, 0700) != 0
      || !g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error))
    {
      g_message ("cannot save the window settings in %s: %s", path,
                 error != NULL ? error->message : g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

void
tv_gtk_settings_clear (TvGtkSettings *s)
{
  g_free (s->server_url);
  g_free (s->username);
  g_free (s->camera);
  g_free (s->microphone);
  g_free (s->speaker);
  memset (s, 0, sizeof *s);
}
