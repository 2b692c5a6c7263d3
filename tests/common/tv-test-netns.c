/* tv-test-netns.c — two network namespaces for fault tests (see tv-test-netns.h).
 *
 * Why: every namespace test needs the same set-up and, above all, the same
 * guaranteed clean-up; a reaper child holding the read end of a pipe removes
 * the namespaces when the test process is gone, however it went.
 * Thread: the test's main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include "tests/common/tv-test-netns.h"
#include "tests/common/tv-test-fixture.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct _TvTestNetns {
  char *a, *b;
  int reaper_fd; /* write end: closing it (or dying) lets the reaper clean up */
  GPid reaper;
};

static gboolean
run_argv (const char *const *argv, const char *input, char **err_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv (argv,
                                                 G_SUBPROCESS_FLAGS_STDERR_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                                     (input ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0),
                                                 &error);
  g_autofree char *err_text = NULL;
  if (!p) {
    if (err_out)
      *err_out = g_strdup (error->message);
    return FALSE;
  }
  if (!g_subprocess_communicate_utf8 (p, input, NULL, NULL, &err_text, &error)) {
    if (err_out)
      *err_out = g_strdup (error->message);
    return FALSE;
  }
  gboolean ok = g_subprocess_get_if_exited (p) && g_subprocess_get_exit_status (p) == 0;
  if (!ok && err_out)
    *err_out = g_steal_pointer (&err_text);
  return ok;
}

static void
must (const char *const *argv, const char *input)
{
  g_autofree char *err = NULL;
  if (!run_argv (argv, input, &err)) {
    g_autofree char *cmd = g_strjoinv (" ", (char **) argv);
    g_error ("netns fixture: `%s` failed: %s", cmd, err ? err : "");
  }
}

gboolean
tv_test_netns_available (char **reason)
{
  g_autofree char *ip = g_find_program_in_path ("ip");
  g_autofree char *nft = g_find_program_in_path ("nft");
  if (!ip || !nft) {
    *reason = g_strdup ("needs ip (iproute2) and nft (nftables)");
    return FALSE;
  }
  if (geteuid () != 0) {
    *reason = g_strdup ("needs root to create network namespaces");
    return FALSE;
  }
  return TRUE;
}

/* The reaper: blocks until the test's end of the pipe closes, then deletes
 * the namespaces. Runs as a forked child: only async-signal-safe calls and
 * exec of `ip`, no GLib. */
static void
reaper_main (int fd, const char *a, const char *b)
{
  char c;
  /* Not killed with the test's process group by a watchdog's kill either. */
  setsid ();
  signal (SIGINT, SIG_IGN);
  signal (SIGTERM, SIG_IGN);
  while (read (fd, &c, 1) > 0)
    ;
  const char *names[] = { a, b };
  for (int i = 0; i < 2; i++) {
    pid_t pid = fork ();
    if (pid == 0) {
      int devnull = open ("/dev/null", O_WRONLY);
      if (devnull >= 0) {
        dup2 (devnull, 1);
        dup2 (devnull, 2);
      }
      execlp ("ip", "ip", "netns", "delete", names[i], (char *) NULL);
      _exit (127);
    }
    if (pid > 0)
      waitpid (pid, NULL, 0);
  }
  _exit (0);
}

/* TRUE when pe0 in namespace @name is operationally up: `ip -o link` prints
 * "state UP" exactly when the kernel reports IFF_RUNNING for it. */
static gboolean
link_running (const char *name)
{
  g_autoptr (GSubprocess) p = g_subprocess_newv (
    (const char *const[]){ "ip", "-n", name, "-o", "link", "show", "dev", "pe0", NULL },
    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, NULL);
  g_autofree char *out = NULL;
  if (!p || !g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, NULL))
    return FALSE;
  return out != NULL && strstr (out, " state UP ") != NULL;
}

static gboolean
both_links_running (gpointer data)
{
  TvTestNetns *ns = data;
  return link_running (ns->a) && link_running (ns->b);
}

/* How long the kernel may take to call a fresh veth operationally up. */
#define LINK_UP_TIMEOUT_MS 5000

TvTestNetns *
tv_test_netns_new (void)
{
  TvTestNetns *ns = g_new0 (TvTestNetns, 1);
  int fds[2];
  ns->a = g_strdup_printf ("tvA%d", (int) getpid ());
  ns->b = g_strdup_printf ("tvB%d", (int) getpid ());

  /* Leftovers of an earlier run with the same pid would make `add` fail. */
  run_argv ((const char *[]){ "ip", "netns", "delete", ns->a, NULL }, NULL, NULL);
  run_argv ((const char *[]){ "ip", "netns", "delete", ns->b, NULL }, NULL, NULL);

  g_assert_cmpint (pipe (fds), ==, 0);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    close (fds[1]);
    /* Close every other inherited descriptor so no copy of the write end
     * (or of the test's pipes) lives on in the reaper. */
    for (int fd = 3; fd < 1024; fd++)
      if (fd != fds[0])
        close (fd);
    reaper_main (fds[0], ns->a, ns->b);
  }
  close (fds[0]);
  /* Not inherited by the servers and clients the test starts. */
  g_assert_cmpint (fcntl (fds[1], F_SETFD, FD_CLOEXEC), ==, 0);
  ns->reaper_fd = fds[1];
  ns->reaper = pid;

  g_autofree char *va = g_strdup_printf ("tvpa%d", (int) getpid () % 100000);
  g_autofree char *vb = g_strdup_printf ("tvpb%d", (int) getpid () % 100000);
  must ((const char *[]){ "ip", "netns", "add", ns->a, NULL }, NULL);
  must ((const char *[]){ "ip", "netns", "add", ns->b, NULL }, NULL);
  must ((const char *[]){ "ip", "link", "add", va, "netns", ns->a, "type", "veth", "peer", "name", vb, "netns", ns->b,
                          NULL },
        NULL);
  const char *names[] = { ns->a, ns->b };
  const char *ends[] = { va, vb };
  const char *addrs[] = { TV_TEST_NETNS_ADDR_A "/24", TV_TEST_NETNS_ADDR_B "/24" };
  for (int i = 0; i < 2; i++) {
    must ((const char *[]){ "ip", "-n", names[i], "link", "set", ends[i], "name", "pe0", NULL }, NULL);
    must ((const char *[]){ "ip", "-n", names[i], "addr", "add", addrs[i], "dev", "pe0", NULL }, NULL);
    must ((const char *[]){ "ip", "-n", names[i], "link", "set", "pe0", "up", NULL }, NULL);
    must ((const char *[]){ "ip", "-n", names[i], "link", "set", "lo", "up", NULL }, NULL);
  }
  /* "link set up" returns before the link is operationally up: the kernel's
   * linkwatch sets the operstate later, batching events up to 1 s apart
   * (measured: pe0 of the second namespace UP but not RUNNING for 943 ms).
   * libnice skips interfaces without IFF_RUNNING when it gathers, so a client
   * that gathered in that window offered no candidates at all and its call
   * never connected (TCP to the server worked meanwhile). */
  if (!tv_test_wait_until (both_links_running, ns, LINK_UP_TIMEOUT_MS))
    g_error ("netns fixture: pe0 not operationally up in %s/%s after %d ms", ns->a, ns->b,
             LINK_UP_TIMEOUT_MS);
  g_test_message ("network namespaces %s (%s) and %s (%s) ready", ns->a, TV_TEST_NETNS_ADDR_A, ns->b,
                  TV_TEST_NETNS_ADDR_B);
  return ns;
}

const char *
tv_test_netns_name_a (TvTestNetns *ns)
{
  return ns->a;
}

const char *
tv_test_netns_name_b (TvTestNetns *ns)
{
  return ns->b;
}

gboolean
tv_test_netns_run (const char *name, const char *const *argv, char **err_out)
{
  g_autoptr (GPtrArray) full = g_ptr_array_new ();
  g_ptr_array_add (full, (gpointer) "ip");
  g_ptr_array_add (full, (gpointer) "netns");
  g_ptr_array_add (full, (gpointer) "exec");
  g_ptr_array_add (full, (gpointer) name);
  for (const char *const *a = argv; *a; a++)
    g_ptr_array_add (full, (gpointer) *a);
  g_ptr_array_add (full, NULL);
  return run_argv ((const char *const *) full->pdata, NULL, err_out);
}

void
tv_test_netns_nft (const char *name, const char *script)
{
  must ((const char *[]){ "ip", "netns", "exec", name, "nft", "-f", "-", NULL }, script);
}

const char *
tv_test_netns_wrap_dir (const char *real_build_dir)
{
  static char *dir;
  if (dir)
    return dir;
  dir = g_build_filename (tv_test_tmpdir (), "netns-bin", NULL);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_autofree char *real = g_canonicalize_filename (real_build_dir, NULL);
  const char *bins[] = { "televisit-server", "televisit-client" };
  for (gsize i = 0; i < G_N_ELEMENTS (bins); i++) {
    g_autofree char *path = g_build_filename (dir, bins[i], NULL);
    /* exec keeps the pid: signals from the test reach the real binary. */
    g_autofree char *script = g_strdup_printf ("#!/bin/sh\n"
                                               "if [ -n \"$TV_TEST_NETNS\" ]; then\n"
                                               "  exec ip netns exec \"$TV_TEST_NETNS\" '%s/%s' \"$@\"\n"
                                               "fi\n"
                                               "exec '%s/%s' \"$@\"\n",
                                               real, bins[i], real, bins[i]);
    g_assert_true (g_file_set_contents (path, script, -1, NULL));
    g_assert_cmpint (g_chmod (path, 0700), ==, 0);
  }
  return dir;
}

void
tv_test_netns_free (TvTestNetns *ns)
{
  if (!ns)
    return;
  run_argv ((const char *[]){ "ip", "netns", "delete", ns->a, NULL }, NULL, NULL);
  run_argv ((const char *[]){ "ip", "netns", "delete", ns->b, NULL }, NULL, NULL);
  close (ns->reaper_fd);
  waitpid (ns->reaper, NULL, 0);
  g_free (ns->a);
  g_free (ns->b);
  g_free (ns);
}
