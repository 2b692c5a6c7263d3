/* tv-web.h — the static web pages (join page, portal areas) served next to the API.
 *
 * Why: a patient who cannot install the desktop client joins from a browser at
 * https://HOST:PORT/join#token=...; the pages are plain files under the
 * source tree's web/ folder, compiled into the server binary as a GResource
 * (the Makefile lists every file under web/, so adding a page is dropping a
 * file there). Serving from the resource means no file-system access at run
 * time: nothing outside web/ can ever be served.
 *
 * URL mapping (GET and HEAD only; anything else 405 with Allow: GET, HEAD):
 *   /web/<path>           -> web/<path>
 *   /join                 -> web/join/index.html
 *   /<area> and /<area>/  -> web/<area>/index.html, for any folder that has one
 *   /                     -> web/index.html when there is one
 * Anything else is 404 (JSON error body, as the API's). Paths with empty, "."
 * or ".." segments, backslashes or control characters are 404 too.
 *
 * Replies carry the security headers: a strict Content-Security-Policy
 * (scripts and styles only from our origin, no inline script, WebSocket to
 * wss:, no framing), nosniff, Referrer-Policy no-referrer (the join token
 * lives in the URL fragment, which browsers never send, and no referrer may
 * leak the page URL either), HSTS; Cache-Control: no-cache with an ETag (a
 * hash of the content), so a browser revalidates and gets 304 when unchanged.
 * Thread: main loop only (inside the HTTP router's dispatch).
 */
#pragma once

#include <glib.h>

#include "server/tv-http.h"

G_BEGIN_DECLS

/* The Content-Security-Policy of every page (also checked by tests). */
#define TV_WEB_CSP                                                                                      \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "            \
  "media-src 'self' blob: mediastream:; connect-src 'self' wss:; object-src 'none'; base-uri 'none'; " \
  "form-action 'self'; frame-ancestors 'none'"

/* The page cookie (tv-web-gate.c): set by POST /api/v1/login next to the
 * token in the reply, cleared by logout. It carries the same session token but
 * is ONLY used to decide whether a page may be opened; the API never accepts
 * it (bearer tokens only, so no cross-site request can use it). A session
 * cookie (no Max-Age): gone when the browser closes. */
#define TV_WEB_SESSION_COOKIE "tv_session"
#define TV_WEB_COOKIE_ATTRS "; Path=/; Secure; HttpOnly; SameSite=Strict"

/* tv_web_gate:
 * For a GET/HEAD of a role-gated page (/desk, /portal, /billing, /reports:
 * "/<area>", "/<area>/" or "/web/<area>/index.html"), checks the page cookie:
 * without one, or with an unknown or expired session, the page is served (it
 * shows the sign-in form; it holds no data); a valid session without one of
 * the area's roles gets 403 with a small HTML page saying so and an audit row
 * (action "page.open", resource "page"/<area>, "4xx", "http 403"); with the
 * role, the page (not audited: every data access it makes through the API is).
 * Returns: FALSE when it replied (403); TRUE when the caller serves the page. */
gboolean tv_web_gate (TvHttpRequest *req);

/* tv_web_serve:
 * Answers @req (a request whose path is outside /api/v1/) from the compiled-in
 * web/ files: the file with its Content-Type, 304 when If-None-Match matches
 * its ETag, 404 or 405 otherwise. Always replies exactly once. */
void tv_web_serve (TvHttpRequest *req);

/* tv_web_lookup:
 * Maps a request @path to the file it serves (the rules above).
 * Returns: (transfer full) the file's bytes, or NULL when the path serves
 * nothing; *@content_type (optional, transfer none) its media type. */
GBytes *tv_web_lookup (const char *path, const char **content_type);

/* tv_web_list:
 * Returns: (transfer full) the paths of every compiled-in file, relative to
 * web/ ("join/index.html", ...), sorted (for tests and diagnostics). */
GStrv tv_web_list (void);

G_END_DECLS
