/* test-bench-delay.c — the LD_PRELOAD delay shim of `make bench`
 * (bench/tv-bench-delay.c), checked by its outcomes, never by a time.
 *
 * The test runs this binary again as a child ("--shim-child") with the shim
 * preloaded (TV_BENCH_DELAY_MS=1000) and reads what came out: every UDP
 * datagram sent through sendto, sendmsg, sendmmsg and a connected send
 * arrives on loopback, in order per socket; a datagram to an address outside
 * loopback and 198.18.0.0/24 is refused with EPERM (asked only once the child
 * has seen that the shim holds datagrams, so without the shim nothing is sent
 * there); TCP passes untouched; the shim's counters (TV_BENCH_DELAY_STATS)
 * agree. Under SANITIZE=1 the child is an ASan binary with a plain shim, so it
 * runs with verify_asan_link_order=0. Main thread only.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "tv-test-bench"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define N_SENDTO 30
#define N_SENDMSG 10
#define N_SENDMMSG 10 /* two calls of 5 */
#define N_SEND 5
#define N_UDP (1 + N_SENDTO + N_SENDMSG + N_SENDMMSG + N_SEND)

/* ---- the child: plain sockets, reports on stdout, exit 0 when all held ---- */

static int
udp_socket (void)
{
  return socket (AF_INET, SOCK_DGRAM, 0);
}

static struct sockaddr_in
loopback (void)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  return a;
}

/* Payloads are "S:N": sender S (a = tx, b = the connected socket), number N. */
static int
child_main (void)
{
  struct sockaddr_in rx_addr = loopback ();
  socklen_t l = sizeof rx_addr;
  int rx = udp_socket (), tx = udp_socket (), txc = udp_socket ();
  if (rx < 0 || tx < 0 || txc < 0 || bind (rx, (struct sockaddr *) &rx_addr, sizeof rx_addr) != 0
      || getsockname (rx, (struct sockaddr *) &rx_addr, &l) != 0
      || connect (txc, (struct sockaddr *) &rx_addr, sizeof rx_addr) != 0) {
    printf ("socket setup failed: %s\n", strerror (errno));
    return 1;
  }
  char buf[64];
  int na = 0, nb = 0;

  /* 1. The shim holds datagrams: one sent, none readable right away (it
   * waits a whole second in the shim's queue). */
  int n = snprintf (buf, sizeof buf, "a:%d", na++);
  if (sendto (tx, buf, (size_t) n, 0, (struct sockaddr *) &rx_addr, sizeof rx_addr) != n) {
    printf ("sendto failed: %s\n", strerror (errno));
    return 1;
  }
  struct pollfd p = { .fd = rx, .events = POLLIN };
  if (poll (&p, 1, 0) != 0) {
    printf ("shim not loaded: the datagram was there at once\n");
    return 2;
  }

  /* 2. Refused: outside loopback and 198.18.0.0/24 (198.18.1.1). */
  struct sockaddr_in out = { .sin_family = AF_INET, .sin_port = htons (9), .sin_addr.s_addr = htonl (0xc6120101) };
  errno = 0;
  if (sendto (tx, "x", 1, 0, (struct sockaddr *) &out, sizeof out) != -1 || errno != EPERM) {
    printf ("a datagram to 198.18.1.1 was not refused (errno %d)\n", errno);
    return 1;
  }

  /* 3. The four calls. */
  for (int i = 0; i < N_SENDTO; i++) {
    n = snprintf (buf, sizeof buf, "a:%d", na++);
    if (sendto (tx, buf, (size_t) n, 0, (struct sockaddr *) &rx_addr, sizeof rx_addr) != n)
      return 1;
  }
  for (int i = 0; i < N_SENDMSG; i++) {
    char head[8], tail[16];
    int h = snprintf (head, sizeof head, "a:");
    int t = snprintf (tail, sizeof tail, "%d", na++);
    struct iovec iov[2] = { { head, (size_t) h }, { tail, (size_t) t } };
    struct msghdr m = { .msg_name = &rx_addr, .msg_namelen = sizeof rx_addr, .msg_iov = iov, .msg_iovlen = 2 };
    if (sendmsg (tx, &m, 0) != h + t)
      return 1;
  }
  for (int call = 0; call < N_SENDMMSG / 5; call++) {
    char bufs[5][16];
    struct iovec iov[5];
    struct mmsghdr mm[5];
    memset (mm, 0, sizeof mm);
    for (int i = 0; i < 5; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = (size_t) snprintf (bufs[i], sizeof bufs[i], "a:%d", na++);
      mm[i].msg_hdr = (struct msghdr) { .msg_name = &rx_addr, .msg_namelen = sizeof rx_addr, .msg_iov = &iov[i],
                                        .msg_iovlen = 1 };
    }
    if (sendmmsg (tx, mm, 5, 0) != 5 || mm[4].msg_len != iov[4].iov_len)
      return 1;
  }
  for (int i = 0; i < N_SEND; i++) {
    n = snprintf (buf, sizeof buf, "b:%d", nb++);
    if (send (txc, buf, (size_t) n, 0) != n)
      return 1;
  }

  /* 4. TCP on loopback passes untouched (the counters must not see it). */
  struct sockaddr_in ta = loopback ();
  socklen_t tl = sizeof ta;
  int ls = socket (AF_INET, SOCK_STREAM, 0), cs = socket (AF_INET, SOCK_STREAM, 0);
  if (ls < 0 || cs < 0 || bind (ls, (struct sockaddr *) &ta, sizeof ta) != 0 || listen (ls, 1) != 0
      || getsockname (ls, (struct sockaddr *) &ta, &tl) != 0 || connect (cs, (struct sockaddr *) &ta, sizeof ta) != 0
      || send (cs, "tcp", 3, 0) != 3 || sendto (cs, "tcp", 3, 0, NULL, 0) != 3) {
    printf ("tcp failed: %s\n", strerror (errno));
    return 1;
  }
  int as = accept (ls, NULL, NULL);
  char tb[8];
  size_t got_tcp = 0;
  while (as >= 0 && got_tcp < 6) {
    ssize_t r = recv (as, tb, sizeof tb, 0);
    if (r <= 0)
      break;
    got_tcp += (size_t) r;
  }
  if (got_tcp != 6) {
    printf ("tcp: %zu of 6 bytes\n", got_tcp);
    return 1;
  }

  /* 5. Everything arrives, in order per sending socket. */
  int next_a = 0, next_b = 0;
  for (int i = 0; i < N_UDP; i++) {
    if (poll (&p, 1, 20000) != 1) {
      printf ("datagram %d of %d never came\n", i, N_UDP);
      return 1;
    }
    ssize_t r = recv (rx, buf, sizeof buf - 1, 0);
    if (r < 3)
      return 1;
    buf[r] = '\0';
    int *next = buf[0] == 'a' ? &next_a : &next_b;
    if (atoi (buf + 2) != *next) {
      printf ("out of order: got %s, expected %c:%d\n", buf, buf[0], *next);
      return 1;
    }
    (*next)++;
  }
  printf ("received %d in order\n", N_UDP);
  close (tx);
  close (txc);
  return 0;
}

/* ---- the test ---- */

static JsonObject *
read_stats (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  const char *name;
  while ((name = g_dir_read_name (d))) {
    if (!g_str_has_prefix (name, "shim.") || g_str_has_suffix (name, ".tmp"))
      continue;
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;
    g_assert_true (json_parser_load_from_file (parser, path, &error));
    g_assert_no_error (error);
    return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
  }
  g_assert_not_reached ();
  return NULL;
}

static void
test_delay_shim (gconstpointer self_path)
{
  const char *build = g_getenv ("TV_BUILD_DIR");
  g_autofree char *shim = g_build_filename (build ? build : "build", "tv-bench-delay.so", NULL);
  g_autofree char *shim_abs = g_canonicalize_filename (shim, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("tv-bench-delay-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *prefix = g_build_filename (dir, "shim", NULL);
  if (!g_file_test (shim_abs, G_FILE_TEST_EXISTS)) {
    g_test_fail_printf ("%s missing (built by check-bench)", shim_abs);
    return;
  }

  char **env = g_get_environ ();
  env = g_environ_setenv (env, "LD_PRELOAD", shim_abs, TRUE);
  env = g_environ_setenv (env, "TV_BENCH_DELAY_MS", "1000", TRUE);
  env = g_environ_setenv (env, "TV_BENCH_DELAY_STATS", prefix, TRUE);
  const char *asan = g_environ_getenv (env, "ASAN_OPTIONS");
  g_autofree char *asan2 = g_strdup_printf ("%s%sverify_asan_link_order=0", asan ? asan : "", asan ? ":" : "");
  env = g_environ_setenv (env, "ASAN_OPTIONS", asan2, TRUE);

  g_autofree char *out = NULL, *err = NULL;
  int status = -1;
  char *argv[] = { (char *) self_path, (char *) "--shim-child", NULL };
  g_assert_true (g_spawn_sync (NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_strfreev (env);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_test_fail_printf ("child: %s %s", out, err);
  g_assert_cmpstr (out, ==, "received 56 in order\n");

  /* The shim's own account: every UDP datagram held and sent, through the
   * call it came by; one refused; the TCP bytes not among them. */
  g_autoptr (JsonObject) st = read_stats (dir);
  g_assert_cmpint (json_object_get_int_member (st, "delayed"), ==, N_UDP);
  g_assert_cmpint (json_object_get_int_member (st, "sent"), ==, N_UDP);
  g_assert_cmpint (json_object_get_int_member (st, "refused"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (st, "dropped_full"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (st, "dropped_error"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (st, "dropped_closed"), ==, 0);
  JsonObject *by = json_object_get_object_member (st, "by_call");
  g_assert_nonnull (by);
  g_assert_cmpint (json_object_get_int_member (by, "sendto"), ==, 1 + N_SENDTO);
  g_assert_cmpint (json_object_get_int_member (by, "sendmsg"), ==, N_SENDMSG);
  g_assert_cmpint (json_object_get_int_member (by, "sendmmsg"), ==, N_SENDMMSG);
  g_assert_cmpint (json_object_get_int_member (by, "send"), ==, N_SEND);

  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_unlink (path);
  }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  if (argc > 1 && strcmp (argv[1], "--shim-child") == 0)
    return child_main ();
  g_test_init (&argc, &argv, NULL);
  g_autofree char *self = g_canonicalize_filename (argv[0], NULL);
  g_test_add_data_func ("/bench/delay-shim", self, test_delay_shim);
  return g_test_run ();
}
