/* tv-web-gate.c — the server-side role check of the staff and patient pages (see tv-web.h).
 *
 * Why: the pages /desk, /portal, /billing and /reports hold no data (every
 * datum comes through the role-checked API), but opening a page meant for
 * another role must still be refused by the server and leave a trace in the
 * audit trail, not only be hidden by the page's script. The browser proves who
 * it is with the page cookie set at login (TV_WEB_SESSION_COOKIE, the same
 * session token); it is looked up through the router's own session check, so a
 * page load counts for the idle timeout exactly like an API call. No cookie,
 * or an ended session: the page is served as for anyone (its sign-in form).
 * The cookie is never accepted by the API: bearer tokens only.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-web"

#include "server/tv-web.h"

#include <string.h>

/* A gated area: who may open it, and how the refusal names them. */
typedef struct {
  const char *area;
  guint roles;
  const char *for_whom;   /* "This page is for <for_whom>." */
} Gate;

static const Gate gates[] = {
  { "desk", TV_ROLE_SCHEDULER | TV_ROLE_ADMIN, "schedulers and administrators" },
  { "billing", TV_ROLE_BILLING | TV_ROLE_ADMIN, "billing staff and administrators" },
  { "reports", TV_ROLE_ADMIN | TV_ROLE_BILLING, "administrators and billing staff" },
  { "portal", TV_ROLE_PATIENT, "patients" },
};

/* Returns: the gate of @path when it names a gated page ("/<area>",
 * "/<area>/", "/web/<area>/index.html"), else NULL (assets stay public). */
static const Gate *
gate_of (const char *path)
{
  const char *rest = g_str_has_prefix (path, "/web/") ? path + strlen ("/web/") : path[0] == '/' ? path + 1 : NULL;
  if (rest == NULL)
    return NULL;
  gboolean under_web = rest != path + 1;
  for (guint i = 0; i < G_N_ELEMENTS (gates); i++) {
    gsize n = strlen (gates[i].area);
    if (strncmp (rest, gates[i].area, n) != 0)
      continue;
    const char *tail = rest + n;
    if (under_web ? strcmp (tail, "/index.html") == 0
                  : (strcmp (tail, "") == 0 || strcmp (tail, "/") == 0))
      return &gates[i];
  }
  return NULL;
}

/* Returns: (transfer full) "a patient", "a doctor and an administrator"... for @roles. */
static char *
describe_roles (guint roles)
{
  static const struct {
    guint role;
    const char *name;
  } names[] = {
    { TV_ROLE_PATIENT, "a patient" },     { TV_ROLE_DOCTOR, "a doctor" },
    { TV_ROLE_SCHEDULER, "a scheduler" }, { TV_ROLE_BILLING, "billing staff" },
    { TV_ROLE_ADMIN, "an administrator" },
  };
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (roles & names[i].role)
      g_string_append_printf (s, "%s%s", s->len ? " and " : "", names[i].name);
  if (s->len == 0)
    g_string_append (s, "an account without a role");
  return g_string_free (s, FALSE);
}

/* Replies 403 with the small refusal page (no data but the roles' names). */
static void
reply_refused (TvHttpRequest *req, const Gate *gate, guint roles)
{
  g_autofree char *who = describe_roles (roles);
  g_autofree char *html = g_strdup_printf (
    "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Not for this account — Televisit</title>\n</head>\n<body>\n<main>\n"
    "<h1>This page is not for this account</h1>\n"
    "<p>This page is for %s. You are signed in as %s.</p>\n"
    "<p>To use another account, sign out on your own page first.</p>\n"
    "<p><a href=\"/\">Back to the start page</a></p>\n</main>\n</body>\n</html>\n",
    gate->for_whom, who);
  gsize len = strlen (html);
  g_autoptr (GBytes) body = g_bytes_new_take (g_steal_pointer (&html), len);
  tv_http_reply_add_header (req, "Content-Security-Policy", TV_WEB_CSP);
  tv_http_reply_add_header (req, "X-Frame-Options", "DENY");
  tv_http_reply_bytes (req, 403, "text/html; charset=utf-8", body);
}

gboolean
tv_web_gate (TvHttpRequest *req)
{
  g_return_val_if_fail (req != NULL, TRUE);
  const char *method = tv_http_request_method (req);
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    return TRUE;   /* 405 follows */
  const Gate *gate = gate_of (tv_http_request_path (req));
  if (gate == NULL)
    return TRUE;
  g_autofree char *token = tv_http_request_cookie (req, TV_WEB_SESSION_COOKIE);
  if (token == NULL || *token == '\0')
    return TRUE;
  g_autoptr (GError) error = NULL;
  gboolean known = tv_http_request_authenticate_token (req, token, &error);
  memset (token, 0, strlen (token));
  if (!known) {
    /* Signed out as far as the page is concerned; a store failure is worth a
     * line (the page itself still holds no data, the API checks again). */
    if (!g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN)
        && !g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED))
      g_warning ("page %s: session lookup failed: %s", gate->area, error->message);
    return TRUE;
  }
  const TvUser *user = tv_http_request_user (req);
  if ((user->roles & gate->roles) != 0)
    return TRUE;
  g_message ("page %s refused: user %s has no role for it (from %s)", gate->area, user->id,
             tv_http_request_address (req));
  tv_http_request_audit (req, "page.open", NULL, NULL);
  tv_http_request_audit_resource (req, "page", gate->area);
  reply_refused (req, gate, user->roles);
  return FALSE;
}
