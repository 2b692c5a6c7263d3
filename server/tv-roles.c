/* tv-roles.c — role names and masks (see tv-roles.h).
 *
 * Why: the words and the bits in one table so they cannot drift apart.
 * Thread: any.
 */
#define G_LOG_DOMAIN "tv-roles"

#include "server/tv-roles.h"

#include <string.h>

static const struct {
  TvRole role;
  const char *name;
} role_names[] = {
  { TV_ROLE_PATIENT, "patient" },
  { TV_ROLE_DOCTOR, "doctor" },
  { TV_ROLE_SCHEDULER, "scheduler" },
  { TV_ROLE_BILLING, "billing" },
  { TV_ROLE_ADMIN, "admin" },
};

const char *
tv_role_to_string (TvRole role)
{
  for (guint i = 0; i < G_N_ELEMENTS (role_names); i++)
    if (role_names[i].role == role)
      return role_names[i].name;
  return NULL;
}

gboolean
tv_role_from_string (const char *name, TvRole *out)
{
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (role_names); i++) {
    if (strcmp (name, role_names[i].name) == 0) {
      *out = role_names[i].role;
      return TRUE;
    }
  }
  return FALSE;
}

guint
tv_roles_parse (const char *list, GError **error)
{
  guint mask = 0;
  if (list == NULL || *list == '\0') {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "no role given (one or more of patient, doctor, scheduler, billing, admin)");
    return 0;
  }
  g_auto (GStrv) parts = g_strsplit (list, ",", -1);
  for (char **p = parts; *p != NULL; p++) {
    TvRole r;
    char *name = g_strstrip (*p);
    if (!tv_role_from_string (name, &r)) {
      /* Bound what we echo: the text may come from the network. */
      g_autofree char *shown = g_utf8_make_valid (name, MIN (strlen (name), 32));
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "unknown role \"%s\" (one or more of patient, doctor, scheduler, billing, admin)", shown);
      return 0;
    }
    mask |= r;
  }
  return mask;
}

const char **
tv_roles_to_strv (guint roles)
{
  const char **v = g_new0 (const char *, G_N_ELEMENTS (role_names) + 1);
  guint n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (role_names); i++)
    if (roles & role_names[i].role)
      v[n++] = role_names[i].name;
  return v;
}

char *
tv_roles_format (guint roles)
{
  g_autofree const char **v = tv_roles_to_strv (roles);
  return g_strjoinv (",", (char **) v);
}
