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

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/web/mapping", test_mapping);
  g_test_add_func ("/web/detached", test_detached);
  g_test_add_func ("/web/served", test_served);
  return g_test_run ();
}
