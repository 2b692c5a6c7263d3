/* test-web.c — the static web pages (server/tv-web.c): mapping, headers, methods.
 *
 * Why: the join page is the patient's way in from a browser; it must be served
 * with the right type and a strict Content-Security-Policy, revalidated with
 * ETags, never from outside web/, and nothing but GET/HEAD may touch it. The
 * mapping is checked on the compiled-in file list (whatever areas exist), the
 * router's handling through tv_http_handle_detached, and the headers through a
 * real televisit-server over TLS.
 * Thread: main thread only; every case runs under a watchdog.
 */
#define G_LOG_DOMAIN "test-web"

#include <string.h>

#include "server/tv-http.h"
#include "server/tv-web.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

static void
test_mapping (void)
{
  tv_test_watchdog_start (10, "mapping");
  g_auto (GStrv) files = tv_web_list ();
  g_assert_true (g_strv_contains ((const char *const *) files, "join/index.html"));
  g_assert_true (g_strv_contains ((const char *const *) files, "join/join.js"));
  g_assert_true (g_strv_contains ((const char *const *) files, "join/join.css"));

  const char *type = NULL;
  g_autoptr (GBytes) join = tv_web_lookup ("/join", &type);
  g_assert_nonnull (join);
  g_assert_cmpstr (type, ==, "text/html; charset=utf-8");
  g_autoptr (GBytes) join2 = tv_web_lookup ("/join/", NULL);
  g_autoptr (GBytes) join3 = tv_web_lookup ("/web/join/index.html", NULL);
  g_assert_true (join2 != NULL && g_bytes_equal (join, join2));
  g_assert_true (join3 != NULL && g_bytes_equal (join, join3));
  g_autoptr (GBytes) js = tv_web_lookup ("/web/join/join.js", &type);
  g_assert_nonnull (js);
  g_assert_cmpstr (type, ==, "text/javascript; charset=utf-8");
  g_autoptr (GBytes) css = tv_web_lookup ("/web/join/join.css", &type);
  g_assert_nonnull (css);
  g_assert_cmpstr (type, ==, "text/css; charset=utf-8");

  /* Every area folder with an index page is served at /<area> and /<area>/. */
  for (char **f = files; *f != NULL; f++) {
    g_auto (GStrv) parts = g_strsplit (*f, "/", -1);
    if (g_strv_length (parts) != 2 || strcmp (parts[1], "index.html") != 0)
      continue;
    g_autofree char *a = g_strdup_printf ("/%s", parts[0]);
    g_autofree char *b = g_strdup_printf ("/%s/", parts[0]);
    g_autoptr (GBytes) x = tv_web_lookup (a, NULL);
    g_autoptr (GBytes) y = tv_web_lookup (b, NULL);
    g_assert_true (x != NULL && y != NULL && g_bytes_equal (x, y));
  }

  /* Nothing outside web/, no odd paths. */
  const char *bad[] = { "/web/../televisit.db", "/web/./join/index.html", "/web/join/../join/index.html",
                        "/web//join/index.html", "/web/join\\index.html", "/web/", "/web", "/nope",
                        "/join/index.html/x", "/index.html", "/join/x/", "/web/join/index.html\x01",
                        "/web/tv-web-resources.gresource.xml", "/etc/passwd", "", "join" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GBytes) b = tv_web_lookup (bad[i], NULL);
    if (b != NULL)
      g_error ("%s served something", bad[i]);
  }
  tv_test_watchdog_stop ();
}

static void
test_detached (void)
{
  tv_test_watchdog_start (10, "detached");
  TvHttp *http = tv_http_new (NULL, NULL);
  g_autofree char *body = NULL, *err = NULL, *post = NULL;
  g_assert_cmpuint (tv_http_handle_detached (http, "GET", "/join", NULL, NULL, NULL, 0, &body), ==, 200);
  g_assert_true (strstr (body, "<html") != NULL);
  g_assert_true (strstr (body, "<script") == NULL || strstr (body, "<script src=") != NULL);
  g_assert_cmpuint (tv_http_handle_detached (http, "GET", "/nope", NULL, NULL, NULL, 0, &err), ==, 404);
  g_assert_true (strstr (err, "not_found") != NULL);
  g_assert_cmpuint (tv_http_handle_detached (http, "POST", "/join", NULL, NULL, (const guint8 *) "x", 1, &post),
                    ==, 405);
  g_assert_cmpuint (tv_http_handle_detached (http, "DELETE", "/web/join/join.js", NULL, NULL, NULL, 0, NULL), ==,
                    405);
  g_assert_cmpuint (tv_http_handle_detached (http, "HEAD", "/join", NULL, NULL, NULL, 0, NULL), ==, 200);
  tv_http_free (http);
  tv_test_watchdog_stop ();
}

static void
test_served (void)
{
  tv_test_watchdog_start (30, "served");
  const char *dir = tv_test_tmpdir ();
  TvTestServer *server = tv_test_server_start (dir, NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (server);

  g_assert_cmpuint (tv_test_http_request (c, "GET", "/join", NULL, NULL, 0, NULL), ==, 200);
  g_autoptr (GBytes) join = tv_web_lookup ("/join", NULL);
  g_autofree char *len = g_strdup_printf ("%" G_GSIZE_FORMAT, g_bytes_get_size (join));
  g_assert_cmpstr (tv_test_http_header (c, "Content-Type"), ==, "text/html; charset=utf-8");
  g_assert_cmpstr (tv_test_http_header (c, "Content-Length"), ==, len);
  g_assert_cmpstr (tv_test_http_header (c, "Content-Security-Policy"), ==, TV_WEB_CSP);
  g_assert_cmpstr (tv_test_http_header (c, "Referrer-Policy"), ==, "no-referrer");
  g_assert_cmpstr (tv_test_http_header (c, "X-Content-Type-Options"), ==, "nosniff");
  g_assert_cmpstr (tv_test_http_header (c, "Cache-Control"), ==, "no-cache");
  g_assert_cmpstr (tv_test_http_header (c, "X-Frame-Options"), ==, "DENY");
  g_autofree char *etag = g_strdup (tv_test_http_header (c, "ETag"));
  g_assert_nonnull (etag);
  g_assert_cmpuint (strlen (etag), ==, 34);

  /* HEAD: same headers, no body; the connection stays usable. */
  g_assert_cmpuint (tv_test_http_request (c, "HEAD", "/join", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpstr (tv_test_http_header (c, "Content-Length"), ==, len);
  g_assert_cmpstr (tv_test_http_header (c, "ETag"), ==, etag);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/web/join/join.js", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpstr (tv_test_http_header (c, "Content-Type"), ==, "text/javascript; charset=utf-8");
  g_assert_cmpint (tv_test_http_new_connections (c), ==, 0);

  /* Unknown: 404; other methods: 405 with Allow; the API keeps its own CSP. */
  JsonNode *r = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/web/nothing.html", NULL, NULL, 0, &r), ==, 404);
  g_assert_cmpstr (tv_test_http_error_code (r), ==, "not_found");
  g_clear_pointer (&r, json_node_unref);
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/join", NULL, "{}", -1, &r), ==, 405);
  g_assert_cmpstr (tv_test_http_header (c, "Allow"), ==, "GET, HEAD");
  g_clear_pointer (&r, json_node_unref);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/nothing", NULL, NULL, 0, &r), ==, 404);
  g_assert_cmpstr (tv_test_http_header (c, "Content-Security-Policy"), ==,
                   "default-src 'none'; frame-ancestors 'none'");
  g_assert_cmpstr (tv_test_http_header (c, "Cache-Control"), ==, "no-store");
  g_clear_pointer (&r, json_node_unref);

  g_assert_cmpint (tv_test_server_stop (server, 5000), ==, 0);
  tv_test_server_free (server);
  tv_test_watchdog_stop ();
}

/* Logs in as @username on @c and checks the page cookie of the reply.
 * Returns: (transfer full) "tv_session=<token>" as the browser would send it;
 * *@token (transfer full) the token of the JSON reply. */
static char *
page_login (TvTestHttp *c, const char *username, char **token)
{
  g_autofree char *body = g_strdup_printf ("{\"username\": \"%s\", \"password\": \"%s\"}", username, TV_TEST_PASSWORD);
  JsonNode *r = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/login", NULL, body, -1, &r), ==, 200);
  *token = g_strdup (tv_test_json_str (json_node_get_object (r), "token"));
  json_node_unref (r);
  const char *set = tv_test_http_header (c, "Set-Cookie");
  g_assert_nonnull (set);
  g_autofree char *want = g_strdup_printf (TV_WEB_SESSION_COOKIE "=%s; ", *token);
  g_assert_true (g_str_has_prefix (set, want));
  g_assert_nonnull (strstr (set, "; Secure"));
  g_assert_nonnull (strstr (set, "; HttpOnly"));
  g_assert_nonnull (strstr (set, "; SameSite=Strict"));
  g_assert_nonnull (strstr (set, "; Path=/"));
  g_assert_null (strstr (set, "Max-Age"));   /* a session cookie */
  return g_strdup_printf (TV_WEB_SESSION_COOKIE "=%s", *token);
}

/* Returns: the number of page.open refusals of @user_id for @area in the audit trail. */
static gint64
page_refusals (const char *dir, const char *user_id, const char *area)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM audit WHERE action = 'page.open'"
                                          " AND resource_type = 'page' AND resource_id = '%s' AND user_id = '%s'"
                                          " AND outcome = '4xx' AND detail = 'http 403' AND source = '127.0.0.1'",
                                          area, user_id);
  return tv_test_store_int (dir, sql);
}

/* Opening a page without its role: 403, a plain page, an audit row; with it
 * (or signed out), the page. The cookie never opens the API. */
static void
test_gate (void)
{
  tv_test_watchdog_start (60, "gate");
  const char *dir = tv_test_tmpdir ();
  g_autofree char *pat = tv_test_create_user (dir, "pat.gate", "Pat Synthetic", TV_ROLE_PATIENT, NULL, NULL);
  g_autofree char *sched = tv_test_create_user (dir, "sched.gate", "Sam Scheduler", TV_ROLE_SCHEDULER, NULL, NULL);
  g_autofree char *bill = tv_test_create_user (dir, "bill.gate", "Bo Billing", TV_ROLE_BILLING, NULL, NULL);
  TvTestServer *server = tv_test_server_start (dir, NULL);
  g_autoptr (TvTestHttp) c = tv_test_http_new (server);
  g_autoptr (GBytes) desk = tv_web_lookup ("/desk/", NULL);
  g_assert_nonnull (desk);

  /* Signed out: every page is served (its sign-in form). */
  const char *pages[] = { "/desk/", "/desk", "/portal/", "/billing/", "/reports/", "/web/desk/index.html" };
  for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
    g_assert_cmpuint (tv_test_http_request (c, "GET", pages[i], NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/desk/", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (strlen (tv_test_http_body (c)), ==, g_bytes_get_size (desk));

  /* A patient: the desk (every form of its path, HEAD too) is refused and audited; the portal opens. */
  g_autofree char *ptok = NULL;
  g_autofree char *pcookie = page_login (c, "pat.gate", &ptok);
  tv_test_http_set_cookie (c, pcookie);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/desk/", NULL, NULL, 0, NULL), ==, 403);
  g_assert_cmpstr (tv_test_http_header (c, "Content-Type"), ==, "text/html; charset=utf-8");
  g_assert_cmpstr (tv_test_http_header (c, "Content-Security-Policy"), ==, TV_WEB_CSP);
  g_assert_nonnull (strstr (tv_test_http_body (c), "This page is for schedulers and administrators."));
  g_assert_nonnull (strstr (tv_test_http_body (c), "You are signed in as a patient."));
  g_assert_nonnull (strstr (tv_test_http_body (c), "<a href=\"/\">"));
  g_assert_null (strstr (tv_test_http_body (c), "Pat Synthetic"));
  g_assert_cmpint (page_refusals (dir, pat, "desk"), ==, 1);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/desk", NULL, NULL, 0, NULL), ==, 403);
  g_assert_cmpuint (tv_test_http_request (c, "HEAD", "/web/desk/index.html", NULL, NULL, 0, NULL), ==, 403);
  g_assert_cmpint (page_refusals (dir, pat, "desk"), ==, 3);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/billing/", NULL, NULL, 0, NULL), ==, 403);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/reports/", NULL, NULL, 0, NULL), ==, 403);
  g_assert_cmpint (page_refusals (dir, pat, "billing"), ==, 1);
  g_assert_cmpint (page_refusals (dir, pat, "reports"), ==, 1);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/portal/", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpint (tv_test_store_int (dir, "SELECT count(*) FROM audit WHERE action = 'page.open' AND detail <> 'http 403'"),
                   ==, 0);
  /* Assets and the public pages stay public. */
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/web/common/tv.js", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/join", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/", NULL, NULL, 0, NULL), ==, 200);

  /* The cookie alone never opens the API. */
  JsonNode *r = NULL;
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/me", NULL, NULL, 0, &r), ==, 401);
  g_assert_cmpstr (tv_test_http_error_code (r), ==, "unauthenticated");
  g_clear_pointer (&r, json_node_unref);

  /* A scheduler: the desk opens, billing does not; billing staff: billing and reports. */
  g_autofree char *stok = NULL;
  g_autofree char *scookie = page_login (c, "sched.gate", &stok);
  tv_test_http_set_cookie (c, scookie);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/desk/", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (strlen (tv_test_http_body (c)), ==, g_bytes_get_size (desk));
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/billing/", NULL, NULL, 0, NULL), ==, 403);
  g_assert_nonnull (strstr (tv_test_http_body (c), "You are signed in as a scheduler."));
  g_assert_cmpint (page_refusals (dir, sched, "billing"), ==, 1);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/portal/", NULL, NULL, 0, NULL), ==, 403);
  g_autofree char *btok = NULL;
  g_autofree char *bcookie = page_login (c, "bill.gate", &btok);
  tv_test_http_set_cookie (c, bcookie);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/billing/", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/reports/", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/desk/", NULL, NULL, 0, NULL), ==, 403);
  g_assert_cmpint (page_refusals (dir, bill, "desk"), ==, 1);

  /* Logout clears the cookie; replaying the old one is as signed out: the page, no 403, no row. */
  tv_test_http_set_cookie (c, pcookie);
  g_assert_cmpuint (tv_test_http_request (c, "POST", "/api/v1/logout", ptok, "{}", -1, NULL), ==, 200);
  const char *cleared = tv_test_http_header (c, "Set-Cookie");
  g_assert_nonnull (cleared);
  g_assert_true (g_str_has_prefix (cleared, TV_WEB_SESSION_COOKIE "=; "));
  g_assert_nonnull (strstr (cleared, "Max-Age=0"));
  gint64 rows = tv_test_store_int (dir, "SELECT count(*) FROM audit WHERE action = 'page.open'");
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/desk/", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpuint (strlen (tv_test_http_body (c)), ==, g_bytes_get_size (desk));
  g_assert_cmpint (tv_test_store_int (dir, "SELECT count(*) FROM audit WHERE action = 'page.open'"), ==, rows);
  /* An expired session likewise (moved back in time instead of waiting). */
  tv_test_http_set_cookie (c, scookie);
  g_autofree char *idle = g_strdup_printf ("UPDATE sessions SET last_seen = last_seen - idle_timeout_us - 1000000"
                                           " WHERE user_id = '%s'", sched);
  tv_test_store_exec (dir, idle);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/billing/", NULL, NULL, 0, NULL), ==, 200);
  g_assert_cmpint (tv_test_store_int (dir, "SELECT count(*) FROM audit WHERE action = 'page.open'"), ==, rows);
  /* A cookie that is no session at all, and one among others. */
  tv_test_http_set_cookie (c, TV_WEB_SESSION_COOKIE "=not-a-token");
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/desk/", NULL, NULL, 0, NULL), ==, 200);
  g_autofree char *btok2 = NULL;
  g_autofree char *bcookie2 = page_login (c, "bill.gate", &btok2);
  g_autofree char *mixed2 = g_strdup_printf ("theme=dark; %s; lang=en", bcookie2);
  tv_test_http_set_cookie (c, mixed2);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/portal", NULL, NULL, 0, NULL), ==, 403);
  g_assert_cmpint (page_refusals (dir, bill, "portal"), ==, 1);

  g_assert_cmpint (tv_test_server_stop (server, 5000), ==, 0);
  tv_test_server_free (server);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/web/mapping", test_mapping);
  g_test_add_func ("/web/detached", test_detached);
  g_test_add_func ("/web/served", test_served);
  g_test_add_func ("/web/gate", test_gate);
  return g_test_run ();
}
