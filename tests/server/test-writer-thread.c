/* test-writer-thread.c — bookings with the store writer thread when their clients leave, or the server stops.
 *
 * Why (issue 6, booking throughput): since a9cf12a the HTTPS book, cancel and
 * reschedule requests run their handlers and the group COMMIT on one store
 * writer thread with its own store connection, while the main loop goes on
 * and may see a client close its connection in the middle. What must hold,
 * against the real server binary over real TLS (in-process OpenSSL clients
 * on raw sockets, so a client can leave right after writing its request
 * without reading the reply):
 *  - clients leave: many bookings are written at once, half of them from
 *    clients that leave without reading (alternately with a TLS
 *    close_notify, and abruptly with a TCP reset): in the first round and
 *    every other one once all requests are written, in the others each right
 *    after its own write. Rounds repeat until the server logged a reply it
 *    dropped because the client was gone (a booking that was with the writer
 *    when its client left; 1-7 rounds in 40 runs, two test processes at
 *    once; at most MAX_ROUNDS), under a watchdog. Then a new client is still
 *    served (login, a read, a booking) and the server exits 0 on SIGTERM.
 *    In the store: each
 *    leaver's booking is whole (the consult, its two join tokens, its one
 *    2xx audit row naming it) or absent, never half; the consults are
 *    exactly the 201s plus the leavers' that are present; the stayers' slots
 *    (two requests each) hold one consult each; no two live consults of the
 *    doctor overlap; the audit chain verifies; PRAGMA integrity_check is ok;
 *  - SIGTERM with bookings in flight: 64 bookings are written on warm
 *    connections and SIGTERM follows the last write at once (typically a few
 *    are committed and most unanswered): exit 0, every 201 a client received
 *    is in the store (an acknowledged booking is on disk), every consult
 *    whole (a committed booking whose reply was dropped at shutdown too),
 *    chain and integrity intact.
 * No sleeps: socket reads block with a timeout; the watchdog bounds each case.
 * Synthetic people only; traffic to 127.0.0.1 only.
 * Thread: main thread (the server runs in its own process).
 */
#define G_LOG_DOMAIN "test-writer-thread"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <glib.h>
#include <openssl/ssl.h>

#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

#define IO_TIMEOUT_S 20
#define MAX_ROUNDS 40
#define BOOK_ACTION "POST /api/v1/consults"

/* ---- a raw TLS client ------------------------------------------------------ */

typedef struct {
  int fd;
  SSL *ssl;
} Conn;

/* Returns: (transfer full) a client context trusting only @server's certificate. */
static SSL_CTX *
client_ctx (TvTestServer *server)
{
  SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
  g_assert_nonnull (ctx);
  g_assert_cmpint (SSL_CTX_load_verify_locations (ctx, tv_test_server_get_cert_path (server), NULL), ==, 1);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, NULL);
  return ctx;
}

/* Connects to @server and completes the TLS handshake (certificate verified);
 * reads and writes block at most IO_TIMEOUT_S. Fails the test on error. */
static void
conn_open (Conn *c, SSL_CTX *ctx, TvTestServer *server)
{
  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (c->fd, >=, 0);
  struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
  setsockopt (c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt (c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (tv_test_server_get_port (server)) };
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (connect (c->fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  c->ssl = SSL_new (ctx);
  g_assert_nonnull (c->ssl);
  SSL_set_fd (c->ssl, c->fd);
  SSL_set_tlsext_host_name (c->ssl, "localhost");
  g_assert_cmpint (SSL_set1_host (c->ssl, "localhost"), ==, 1);
  g_assert_cmpint (SSL_connect (c->ssl), ==, 1);
  g_assert_cmpint (SSL_get_verify_result (c->ssl), ==, X509_V_OK);
}

/* Writes one POST /api/v1/consults with @body, as @token. Fails the test on error. */
static void
conn_send_booking (Conn *c, TvTestServer *server, const char *token, const char *body)
{
  g_autofree char *req = g_strdup_printf ("POST /api/v1/consults HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                                          "Content-Length: %zu\r\n\r\n%s",
                                          tv_test_server_get_port (server), token, strlen (body), body);
  g_assert_cmpint (SSL_write (c->ssl, req, (int) strlen (req)), ==, (int) strlen (req));
}

/* The client leaves without reading: with @abrupt a TCP reset (SO_LINGER 0),
 * else a TLS close_notify and close. Frees the connection. */
static void
conn_leave (Conn *c, gboolean abrupt)
{
  if (abrupt) {
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt (c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  } else {
    SSL_shutdown (c->ssl);
  }
  SSL_free (c->ssl);
  close (c->fd);
  c->ssl = NULL;
  c->fd = -1;
}

/* Reads the reply's status line (the test needs only the code).
 * Returns: the HTTP status, 0 when the connection closed (or timed out) first. */
static guint
conn_read_status (Conn *c)
{
  char buf[512];
  gsize len = 0;
  while (len < sizeof buf - 1) {
    int n = SSL_read (c->ssl, buf + len, (int) (sizeof buf - 1 - len));
    if (n <= 0)
      return 0;
    len += (gsize) n;
    buf[len] = '\0';
    if (strstr (buf, "\r\n") != NULL)
      break;
  }
  guint status = 0;
  if (sscanf (buf, "HTTP/1.1 %u ", &status) != 1)
    g_error ("not an HTTP/1.1 status line: %.40s", buf);
  return status;
}

static void
conn_close (Conn *c)
{
  if (c->ssl != NULL)
    conn_leave (c, FALSE);
}

/* ---- the clinic ------------------------------------------------------------ */

/* A doctor open all day (UTC) in a fresh data folder, the server serving it,
 * a scheduler's session and a TLS client context. */
typedef struct {
  char *dir;
  char *doctor;
  char *patient;
  TvTestServer *server;
  char *token;         /* the scheduler "desk.wt" */
  SSL_CTX *ctx;
} Clinic;

static void
clinic_start (Clinic *c)
{
  c->dir = g_strdup (tv_test_tmpdir ());
  c->server = tv_test_bookable_clinic (c->dir, "wt", &c->doctor, &c->patient);
  c->token = tv_test_login (c->server, "desk.wt", NULL);
  c->ctx = client_ctx (c->server);
}

/* Stops the server with SIGTERM: it must exit 0, having never replied twice. */
static void
clinic_stop_server (Clinic *c)
{
  tv_test_server_stop_replied_once (c->server, 20000);
  c->server = NULL;
}

static void
clinic_clear (Clinic *c)
{
  g_free (c->dir);
  g_free (c->doctor);
  g_free (c->patient);
  g_free (c->token);
  SSL_CTX_free (c->ctx);
}

/* Body booking the patient at HH:00 UTC, @days from today. */
static char *
book_body (const Clinic *c, guint days, guint hour)
{
  return tv_test_booking_body (c->doctor, c->patient, days, hour);
}

/* Consults (any status) starting at HH:00 UTC @days from today. */
static gint64
consults_at (const Clinic *c, guint days, guint hour)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr (GDateTime) d = g_date_time_add_days (now, (gint) days);
  g_autoptr (GDateTime) at = g_date_time_new_utc (g_date_time_get_year (d), g_date_time_get_month (d),
                                                  g_date_time_get_day_of_month (d), (gint) hour, 0, 0);
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM consults WHERE scheduled_start = %" G_GINT64_FORMAT,
                                          g_date_time_to_unix (at) * G_USEC_PER_SEC);
  return tv_test_store_int (c->dir, sql);
}

/* The store after the server exited: every booking whole, none overlapping,
 * chain and file intact. Returns: the number of consults. */
static gint64
assert_store_whole (const Clinic *c)
{
  gint64 consults = tv_test_store_int (c->dir, "SELECT count(*) FROM consults");
  /* each consult has exactly one 2xx booking row naming it, and no such row names a missing consult */
  g_assert_cmpint (tv_test_store_int (c->dir, "SELECT count(*) FROM consults c WHERE (SELECT count(*) FROM audit a"
                                              " WHERE a.resource_id = c.id AND a.action = '" BOOK_ACTION "'"
                                              " AND a.outcome = '2xx') <> 1"), ==, 0);
  g_assert_cmpint (tv_test_store_int (c->dir, "SELECT count(*) FROM audit WHERE action = '" BOOK_ACTION "'"
                                              " AND outcome = '2xx'"), ==, consults);
  /* and its two join tokens */
  g_assert_cmpint (tv_test_store_int (c->dir, "SELECT count(*) FROM consults c WHERE"
                                              " (SELECT count(*) FROM join_tokens j WHERE j.consult_id = c.id) <> 2"),
                   ==, 0);
  g_assert_cmpint (tv_test_store_int (c->dir, "SELECT count(*) FROM join_tokens"), ==, 2 * consults);
  g_autofree char *overlap = g_strdup_printf (
      "SELECT count(*) FROM consults a JOIN consults b ON a.doctor_id = b.doctor_id AND a.id < b.id"
      " WHERE a.doctor_id = '%s' AND a.status <> 'cancelled' AND b.status <> 'cancelled'"
      " AND a.scheduled_start < b.scheduled_end AND b.scheduled_start < a.scheduled_end", c->doctor);
  g_assert_cmpint (tv_test_store_int (c->dir, overlap), ==, 0);
  g_assert_cmpint (tv_test_store_int (c->dir, "SELECT count(*) FROM pragma_integrity_check"
                                              " WHERE integrity_check <> 'ok'"), ==, 0);
  g_autoptr (TvStore) store = tv_test_store_open (c->dir);
  tv_test_assert_audit_chain (store);
  return consults;
}

static guint
count_substr (const char *haystack, const char *needle)
{
  guint n = 0;
  for (const char *p = strstr (haystack, needle); p != NULL; p = strstr (p + 1, needle))
    n++;
  return n;
}

/* ---- clients leave ------------------------------------------------------------ */

enum { STAYER_SLOTS = 8, LEAVERS = 16 };   /* per round: 16 stayers (2 per slot) + 16 leavers = 32 */

static void
test_clients_leave (void)
{
  tv_test_watchdog_start (240, g_test_get_path ());
  Clinic c;
  clinic_start (&c);
  TvTestServer *server = c.server;
  guint round, ok = 0, taken = 0, dropped = 0;
  gint64 leavers_present = 0;
  for (round = 0; round < MAX_ROUNDS && dropped == 0; round++) {
    /* day 2 + round; stayers book hours 0-7 (two requests each), leavers hours 8-23 (one each) */
    enum { N = 2 * STAYER_SLOTS + LEAVERS };
    Conn conns[N];
    for (guint i = 0; i < N; i++)
      conn_open (&conns[i], c.ctx, server);
    /* interleaved: stayer, leaver, stayer, leaver ...; in even rounds (the
     * first) the leavers close once every request is written, when the first
     * batches are with the writer; in odd ones each right after its write */
    gboolean late = round % 2 == 0;
    for (guint i = 0; i < N; i++) {
      guint k = i / 2;
      gboolean leaver = i % 2 == 1;
      g_autofree char *body = book_body (&c, 2 + round, leaver ? STAYER_SLOTS + k : k % STAYER_SLOTS);
      conn_send_booking (&conns[i], server, c.token, body);
      if (leaver && !late)
        conn_leave (&conns[i], k % 2 == 0);
    }
    for (guint i = 1; late && i < N; i += 2)
      conn_leave (&conns[i], (i / 2) % 2 == 0);
    for (guint i = 0; i < N; i += 2) {
      guint status = conn_read_status (&conns[i]);
      if (status == 201)
        ok++;
      else if (status == 409)
        taken++;
      else
        g_error ("round %u, stayer %u: expected 201 or 409, got %u", round, i / 2, status);
      conn_close (&conns[i]);
    }
    for (guint h = 0; h < STAYER_SLOTS; h++)
      g_assert_cmpint (consults_at (&c, 2 + round, h), ==, 1);
    /* the log line is written before the next iteration's reads: a later
     * round's replies arrive after it, so one round late at worst */
    g_autofree char *log = tv_test_server_read_stderr (server);
    dropped = count_substr (log, BOOK_ACTION " -> 201, but the connection is gone");
  }
  g_test_message ("%u round(s) of %u bookings: %u x 201, %u x 409 to stayers; %u booking(s) of leavers dropped"
                  " their reply after the COMMIT", round, 2 * STAYER_SLOTS + LEAVERS, ok, taken, dropped);
  g_assert_cmpuint (dropped, >=, 1);   /* a client left while its booking was with the writer */
  g_assert_cmpuint (ok, ==, round * STAYER_SLOTS);
  g_assert_cmpuint (taken, ==, round * STAYER_SLOTS);

  /* a new client is served, reads and books */
  g_autofree char *again = tv_test_login (server, "desk.wt", NULL);
  guint status = 0;
  tv_test_http (server, "GET", "/api/v1/me", again, NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  g_autofree char *body = book_body (&c, 2 + MAX_ROUNDS, 0);
  tv_test_http (server, "POST", "/api/v1/consults", again, body, &status, NULL);
  g_assert_cmpuint (status, ==, 201);
  ok++;

  clinic_stop_server (&c);

  for (guint r = 0; r < round; r++)
    for (guint h = STAYER_SLOTS; h < STAYER_SLOTS + LEAVERS; h++) {
      gint64 n = consults_at (&c, 2 + r, h);
      g_assert_cmpint (n, <=, 1);
      leavers_present += n;
    }
  gint64 consults = assert_store_whole (&c);
  g_test_message ("store: %" G_GINT64_FORMAT " consults = %u x 201 + %" G_GINT64_FORMAT " of %u leavers'",
                  consults, ok, leavers_present, round * LEAVERS);
  g_assert_cmpint (consults, ==, (gint64) ok + leavers_present);
  clinic_clear (&c);
  tv_test_watchdog_stop ();
}

/* ---- SIGTERM with bookings in flight ------------------------------------------ */

static void
test_sigterm_in_flight (void)
{
  tv_test_watchdog_start (120, g_test_get_path ());
  Clinic c;
  clinic_start (&c);
  TvTestServer *server = c.server;
  enum { N = 64 };
  Conn conns[N];
  for (guint i = 0; i < N; i++)
    conn_open (&conns[i], c.ctx, server);
  for (guint i = 0; i < N; i++) {
    g_autofree char *body = book_body (&c, 2 + i / 24, i % 24);
    conn_send_booking (&conns[i], server, c.token, body);
  }
  /* stop the server while the requests are being read and committed */
  guint statuses[N] = { 0 };
  GPid pid = tv_test_server_get_pid (server);
  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  guint acked = 0, unanswered = 0;
  for (guint i = 0; i < N; i++) {
    statuses[i] = conn_read_status (&conns[i]);
    if (statuses[i] == 201)
      acked++;
    else if (statuses[i] == 0)
      unanswered++;
    else
      g_error ("booking %u: expected 201 or no reply, got %u", i, statuses[i]);
  }
  clinic_stop_server (&c);
  for (guint i = 0; i < N; i++)
    conn_close (&conns[i]);

  gint64 consults = assert_store_whole (&c);
  for (guint i = 0; i < N; i++)
    if (statuses[i] == 201)
      g_assert_cmpint (consults_at (&c, 2 + i / 24, i % 24), ==, 1);
  g_test_message ("SIGTERM right after %u bookings were written: %u x 201, %u unanswered; %" G_GINT64_FORMAT
                  " consults in the store", N, acked, unanswered, consults);
  /* A graceful stop answers every booking it committed (tv_server_shutdown
   * waits for the group commits' replies within its grace period). */
  g_assert_cmpint (consults, ==, acked);
  clinic_clear (&c);
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  curl_global_init (CURL_GLOBAL_DEFAULT);
  g_test_add_func ("/writer-thread/clients-leave", test_clients_leave);
  g_test_add_func ("/writer-thread/sigterm-in-flight", test_sigterm_in_flight);
  int rc = g_test_run ();
  curl_global_cleanup ();
  return rc;
}
