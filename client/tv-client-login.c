/* tv-client-login.c — a doctor's HTTPS API login and logout (see tv-client-login.h).
 *
 * One libcurl easy handle per request (two requests per run, so no reuse is
 * needed). The request body is built and the reply parsed with json-glib.
 * Only https is allowed, also on redirects (none are followed). Main thread.
 */
#define G_LOG_DOMAIN "tv-client"

#include "client/tv-client-login.h"

#include <curl/curl.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#define MAX_REPLY_BYTES (64 * 1024)

static void
set_error (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
set_error (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, msg);
  g_free (msg);
}

/* "https://HOST:PORT" for the validated wss:// URL (same host and port). */
static char *
api_base (const char *server_url, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (server_url, G_URI_FLAGS_ENCODED_PATH, NULL);
  const char *host;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    {
      set_error (error, "cannot derive the API address from %s", server_url);
      return NULL;
    }
  host = g_uri_get_host (uri);
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("https://[%s]:%d", host, g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 443);
  return g_strdup_printf ("https://%s:%d", host, g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 443);
}

static size_t
on_body (char *data, size_t size, size_t nmemb, void *user_data)
{
  GString *buf = user_data;
  size_t n = size * nmemb;

  if (buf->len + n > MAX_REPLY_BYTES)
    return 0;   /* makes curl fail the transfer: the reply is not what we expect */
  g_string_append_len (buf, data, (gssize) n);
  return n;
}

/* POSTs @body to @path (@body NULL: a GET). Returns the HTTP status (0 with
 * @error on a transport failure); *@reply gets the parsed JSON reply or NULL. */
static long
post (const char *server_url, const char *ca_file, gboolean insecure, const char *path, const char *bearer,
      const char *body, JsonNode **reply, GError **error)
{
  g_autofree char *base = api_base (server_url, error);
  g_autofree char *url = NULL, *auth = NULL;
  g_autoptr (GString) buf = g_string_new (NULL);
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *headers = NULL;
  CURL *h;
  CURLcode rc;
  long status = 0;

  *reply = NULL;
  if (base == NULL)
    return 0;
  url = g_strconcat (base, path, NULL);
  h = curl_easy_init ();
  if (h == NULL)
    {
      set_error (error, "libcurl could not start");
      return 0;
    }
  headers = curl_slist_append (headers, "Content-Type: application/json");
  if (bearer != NULL)
    {
      auth = g_strdup_printf ("Authorization: Bearer %s", bearer);
      headers = curl_slist_append (headers, auth);
    }
  curl_easy_setopt (h, CURLOPT_URL, url);
  curl_easy_setopt (h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) TV_CLIENT_LOGIN_TIMEOUT_MS);
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, headers);
  if (body != NULL)
    {
      curl_easy_setopt (h, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen (body));
    }
  else
    curl_easy_setopt (h, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, buf);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, errbuf);
  /* The same trust as the WSS connection (tv-ws-client): --ca, else the
   * system store; full verification unless --insecure. */
  if (ca_file != NULL)
    curl_easy_setopt (h, CURLOPT_CAINFO, ca_file);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);

  rc = curl_easy_perform (h);
  if (rc == CURLE_OK)
    curl_easy_getinfo (h, CURLINFO_RESPONSE_CODE, &status);
  else
    set_error (error, "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror (rc));
  curl_slist_free_all (headers);
  curl_easy_cleanup (h);
  if (auth != NULL)
    memset (auth, 0, strlen (auth));

  if (rc == CURLE_OK && buf->len > 0)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      if (json_parser_load_from_data (parser, buf->str, (gssize) buf->len, NULL)
          && json_parser_get_root (parser) != NULL)
        *reply = json_node_copy (json_parser_get_root (parser));
    }
  /* The login reply holds the session token. */
  memset (buf->str, 0, buf->len);
  return status;
}

/* The reply's error.message, for the user; "" when absent. */
static const char *
error_message (JsonNode *reply)
{
  JsonObject *o, *e;

  if (reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
    return "";
  o = json_node_get_object (reply);
  if (!json_object_has_member (o, "error") || !JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "error")))
    return "";
  e = json_object_get_object_member (o, "error");
  if (!json_object_has_member (e, "message")
      || json_node_get_value_type (json_object_get_member (e, "message")) != G_TYPE_STRING)
    return "";
  return json_object_get_string_member (e, "message");
}

char *
tv_client_login (const char *server_url, const char *ca_file, gboolean insecure, const char *username,
                 const char *password, TvClientExitCode *code, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL, reply = NULL;
  g_autofree char *body = NULL;
  JsonObject *o;
  const char *token;
  long status;

  g_return_val_if_fail (server_url != NULL && username != NULL && password != NULL && code != NULL, NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "username");
  json_builder_add_string_value (b, username);
  json_builder_set_member_name (b, "password");
  json_builder_add_string_value (b, password);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, NULL);
  /* json-glib keeps its own copy of the password in the tree: wipe that too. */
  json_object_set_string_member (json_node_get_object (root), "password", "");

  status = post (server_url, ca_file, insecure, "/api/v1/login", NULL, body, &reply, error);
  memset (body, 0, strlen (body));
  if (status == 0)
    {
      *code = TV_CLIENT_EXIT_UNREACHABLE;
      return NULL;
    }
  if (status == 401 || status == 403 || status == 429)
    {
      *code = TV_CLIENT_EXIT_JOIN_REFUSED;
      set_error (error, "login refused (HTTP %ld): %s", status,
                 *error_message (reply) ? error_message (reply) : "wrong username or password");
      return NULL;
    }
  if (status != 200 || reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
    {
      *code = status == 400 ? TV_CLIENT_EXIT_JOIN_REFUSED : TV_CLIENT_EXIT_UNREACHABLE;
      set_error (error, "login failed (HTTP %ld): %s", status, error_message (reply));
      return NULL;
    }
  o = json_node_get_object (reply);
  if (!json_object_has_member (o, "token")
      || json_node_get_value_type (json_object_get_member (o, "token")) != G_TYPE_STRING)
    {
      *code = TV_CLIENT_EXIT_UNREACHABLE;
      set_error (error, "login reply without a session token");
      return NULL;
    }
  token = json_object_get_string_member (o, "token");
  *code = TV_CLIENT_EXIT_OK;
  return g_strdup (token);
}

JsonNode *
tv_client_api_get (const char *server_url, const char *ca_file, gboolean insecure, const char *session,
                   const char *path, long *status, GError **error)
{
  JsonNode *reply = NULL;

  g_return_val_if_fail (server_url != NULL && session != NULL && path != NULL && status != NULL, NULL);
  *status = post (server_url, ca_file, insecure, path, session, NULL, &reply, error);
  if (*status == 0)
    return NULL;
  if (*status != 200 || reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
    {
      set_error (error, "GET %s failed (HTTP %ld): %s", path, *status, error_message (reply));
      g_clear_pointer (&reply, json_node_unref);
    }
  return reply;
}

gboolean
tv_client_logout (const char *server_url, const char *ca_file, gboolean insecure, const char *session,
                  GError **error)
{
  g_autoptr (JsonNode) reply = NULL;
  long status;

  g_return_val_if_fail (server_url != NULL && session != NULL, FALSE);
  status = post (server_url, ca_file, insecure, "/api/v1/logout", session, "{}", &reply, error);
  if (status == 0)
    return FALSE;
  if (status != 200)
    {
      set_error (error, "logout failed (HTTP %ld)", status);
      return FALSE;
    }
  return TRUE;
}
