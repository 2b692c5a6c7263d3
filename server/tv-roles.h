/* tv-roles.h — user roles: bit mask, names, parsing and formatting.
 *
 * Why: one user may hold several roles (patient, doctor, scheduler, billing,
 * admin); the HTTP router checks a route's allowed roles against the user's
 * mask, the store keeps one row per role, and televisitctl / the API read and
 * write them as names. One definition of the bits and the words for all of it.
 * Thread: any (pure functions, no state).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  TV_ROLE_PATIENT   = 1 << 0,
  TV_ROLE_DOCTOR    = 1 << 1,
  TV_ROLE_SCHEDULER = 1 << 2,
  TV_ROLE_BILLING   = 1 << 3,
  TV_ROLE_ADMIN     = 1 << 4,
} TvRole;

/* Every role: a route open to any logged-in user uses this mask. */
#define TV_ROLE_ANY (TV_ROLE_PATIENT | TV_ROLE_DOCTOR | TV_ROLE_SCHEDULER | TV_ROLE_BILLING | TV_ROLE_ADMIN)

/* Returns: (transfer none) "patient", "doctor", "scheduler", "billing" or
 * "admin" for a single role bit; NULL for 0, several bits or unknown bits. */
const char *tv_role_to_string (TvRole role);

/* tv_role_from_string:
 * Returns: TRUE with *@out set when @name is exactly one of the role names
 * (lower case); FALSE (and *@out untouched) for anything else, NULL included. */
gboolean tv_role_from_string (const char *name, TvRole *out);

/* tv_roles_parse:
 * Parses a comma-separated list of role names ("doctor,admin"; spaces around
 * names allowed, duplicates merged).
 * Returns: the non-zero mask, or 0 with @error (G_OPTION_ERROR_BAD_VALUE) when
 * the list is empty or names an unknown role (the message names it). */
guint tv_roles_parse (const char *list, GError **error);

/* Returns: (transfer full) the mask's role names in canonical order
 * (patient, doctor, scheduler, billing, admin) joined by ","; "" for 0. */
char *tv_roles_format (guint roles);

/* Returns: (transfer full) a NULL-terminated array of the mask's role names in
 * canonical order (the strings are static; free only the array with g_free). */
const char **tv_roles_to_strv (guint roles);

G_END_DECLS
