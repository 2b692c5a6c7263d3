/* tv-test-burst.c — many HTTPS API requests sent at the same moment (see tv-test-burst.h).
 *
 * Why: see the header. One libcurl multi handle, one easy handle per
 * request; the warm-up GETs leave one idle TLS connection per request in the
 * multi's pool, which the requests then take, so what remains to send is a
 * few hundred bytes each. Everything is driven from the caller's thread.
 * Thread: the test's main thread.
 */
#define G_LOG_DOMAIN "tv-test"

#include "tests/common/tv-test-burst.h"
#include "tests/common/tv-test-http.h"

#include <string.h>

#include <curl/curl.h>

typedef struct {
  CURL *easy;
  struct curl_slist *headers;
  char *method;
  char *base;            /* https://127.0.0.1:PORT of its server */
  char *url;
  char *body;            /* NULL: no body (an empty one for POST) */
  GString *reply;
  long status;
  char errbuf[CURL_ERROR_SIZE];
} Item;

struct _TvTestBurst {
  TvTestServer *server;  /* the default one (tv_test_burst_add) */
  GPtrArray *items;      /* Item* */
  gboolean ran;
  gboolean tolerate;     /* transport failures give status 0 */
};

static size_t
collect (char *data, size_t size, size_t n, void *user)
{
  g_string_append_len (user, data, (gssize) (size * n));
  return size * n;
}

static void
item_free (gpointer p)
{
  Item *it = p;
  curl_easy_cleanup (it->easy);
  curl_slist_free_all (it->headers);
  g_free (it->method);
  g_free (it->base);
  g_free (it->url);
  g_free (it->body);
  g_string_free (it->reply, TRUE);
  g_free (it);
}

TvTestBurst *
tv_test_burst_new (TvTestServer *server)
{
  TvTestBurst *b = g_new0 (TvTestBurst, 1);
  b->server = server;
  b->items = g_ptr_array_new_with_free_func (item_free);
  return b;
}

void
tv_test_burst_free (TvTestBurst *burst)
{
  if (burst == NULL)
    return;
  g_ptr_array_unref (burst->items);
  g_free (burst);
}

guint
tv_test_burst_add (TvTestBurst *burst, const char *method, const char *path, const char *token, const char *body)
{
  g_return_val_if_fail (burst != NULL, 0);
  return tv_test_burst_add_to (burst, burst->server, method, path, token, body);
}

guint
tv_test_burst_add_to (TvTestBurst *burst, TvTestServer *server, const char *method, const char *path,
                      const char *token, const char *body)
{
  g_return_val_if_fail (burst != NULL && server != NULL && !burst->ran && method != NULL && path != NULL, 0);
  Item *it = g_new0 (Item, 1);
  it->easy = curl_easy_init ();
  g_assert_nonnull (it->easy);
  it->method = g_strdup (method);
  it->base = g_strdup_printf ("https://127.0.0.1:%u", tv_test_server_get_port (server));
  it->url = g_strconcat (it->base, path, NULL);
  it->body = g_strdup (body);
  it->reply = g_string_new (NULL);
  if (token != NULL) {
    g_autofree char *auth = g_strdup_printf ("Authorization: Bearer %s", token);
    it->headers = curl_slist_append (it->headers, auth);
  }
  it->headers = curl_slist_append (it->headers, "Content-Type: application/json");
  CURL *h = it->easy;
  curl_easy_setopt (h, CURLOPT_HTTPHEADER, it->headers);
  curl_easy_setopt (h, CURLOPT_CAINFO, tv_test_server_get_cert_path (server));
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt (h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (h, CURLOPT_TIMEOUT_MS, (long) TV_TEST_HTTP_TIMEOUT_MS - 1000);
  curl_easy_setopt (h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt (h, CURLOPT_WRITEDATA, it->reply);
  curl_easy_setopt (h, CURLOPT_ERRORBUFFER, it->errbuf);
  curl_easy_setopt (h, CURLOPT_PRIVATE, it);
  g_ptr_array_add (burst->items, it);
  return burst->items->len - 1;
}

void
tv_test_burst_set_tolerate_transport_errors (TvTestBurst *burst, gboolean tolerate)
{
  g_return_if_fail (burst != NULL);
  burst->tolerate = tolerate;
}

/* Runs every easy handle of @burst on @multi to completion. */
static void
perform_all (TvTestBurst *burst, CURLM *multi, const char *what)
{
  for (guint i = 0; i < burst->items->len; i++)
    g_assert_cmpint (curl_multi_add_handle (multi, ((Item *) g_ptr_array_index (burst->items, i))->easy), ==,
                     CURLM_OK);
  int running = 1;
  while (running > 0) {
    g_assert_cmpint (curl_multi_perform (multi, &running), ==, CURLM_OK);
    if (running > 0)
      g_assert_cmpint (curl_multi_poll (multi, NULL, 0, 1000, NULL), ==, CURLM_OK);
  }
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read (multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    Item *it = NULL;
    curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &it);
    if (msg->data.result != CURLE_OK) {
      if (!burst->tolerate)
        g_error ("burst %s: %s %s failed: %s", what, it->method, it->url, it->errbuf);
      it->status = 0;
      continue;
    }
    curl_easy_getinfo (msg->easy_handle, CURLINFO_RESPONSE_CODE, &it->status);
  }
  for (guint i = 0; i < burst->items->len; i++)
    curl_multi_remove_handle (multi, ((Item *) g_ptr_array_index (burst->items, i))->easy);
}

void
tv_test_burst_run (TvTestBurst *burst, const char *warm_path)
{
  g_return_if_fail (burst != NULL && !burst->ran);
  burst->ran = TRUE;
  CURLM *multi = curl_multi_init ();
  g_assert_nonnull (multi);
  if (warm_path != NULL) {
    /* Keep every warmed connection in the pool for the requests. */
    curl_multi_setopt (multi, CURLMOPT_MAXCONNECTS, (long) burst->items->len + 1);
    for (guint i = 0; i < burst->items->len; i++) {
      Item *it = g_ptr_array_index (burst->items, i);
      g_autofree char *warm_url = g_strconcat (it->base, warm_path, NULL);
      curl_easy_setopt (it->easy, CURLOPT_URL, warm_url);   /* copied by curl */
      curl_easy_setopt (it->easy, CURLOPT_HTTPGET, 1L);
    }
    perform_all (burst, multi, "warm-up");
  }
  for (guint i = 0; i < burst->items->len; i++) {
    Item *it = g_ptr_array_index (burst->items, i);
    g_string_truncate (it->reply, 0);
    it->status = 0;
    curl_easy_setopt (it->easy, CURLOPT_URL, it->url);
    if (warm_path == NULL) {
      curl_easy_setopt (it->easy, CURLOPT_FRESH_CONNECT, 1L);   /* one connection per request */
      curl_easy_setopt (it->easy, CURLOPT_FORBID_REUSE, 1L);
    }
    if (it->body != NULL || strcmp (it->method, "POST") == 0) {
      const char *data = it->body != NULL ? it->body : "";
      curl_easy_setopt (it->easy, CURLOPT_POSTFIELDS, data);
      curl_easy_setopt (it->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen (data));
    }
    curl_easy_setopt (it->easy, CURLOPT_CUSTOMREQUEST, it->method);
  }
  perform_all (burst, multi, "requests");
  curl_multi_cleanup (multi);
}

guint
tv_test_burst_status (TvTestBurst *burst, guint i)
{
  g_return_val_if_fail (burst != NULL && i < burst->items->len, 0);
  return (guint) ((Item *) g_ptr_array_index (burst->items, i))->status;
}

const char *
tv_test_burst_body (TvTestBurst *burst, guint i)
{
  g_return_val_if_fail (burst != NULL && i < burst->items->len, NULL);
  return ((Item *) g_ptr_array_index (burst->items, i))->reply->str;
}

JsonNode *
tv_test_burst_reply (TvTestBurst *burst, guint i)
{
  g_return_val_if_fail (burst != NULL && i < burst->items->len, NULL);
  return json_from_string (((Item *) g_ptr_array_index (burst->items, i))->reply->str, NULL);
}
