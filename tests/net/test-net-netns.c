/* test-net-netns.c — the namespace fixture hands out links ICE can use.
 *
 * Why: libnice gathers host candidates only from interfaces with IFF_RUNNING,
 * and the kernel sets a fresh veth's operstate asynchronously (linkwatch,
 * batched up to 1 s apart). When tv_test_netns_new() returned before that,
 * a client in the second namespace gathered no candidate and test-net-faults'
 * call never connected (1 run in 1 to 3 on a busy machine). This checks,
 * from inside each namespace right after creation, what libnice checks.
 *
 * Needs root and ip (skipped otherwise). Thread: main thread only.
 */
#define G_LOG_DOMAIN "tv-test"

#include <glib.h>

#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-netns.h"

static void
test_links_running_at_once (void)
{
  g_autofree char *reason = NULL;
  if (!tv_test_netns_available (&reason)) {
    g_test_skip (reason);
    return;
  }
  tv_test_watchdog_start (60, "netns links");
  /* Several rounds: the linkwatch delay depends on what else the kernel did
   * in the last second, and creating a pair right after another is the case
   * that showed it. */
  for (int round = 0; round < 3; round++) {
    TvTestNetns *ns = tv_test_netns_new ();
    const char *names[] = { tv_test_netns_name_a (ns), tv_test_netns_name_b (ns) };
    for (int i = 0; i < 2; i++) {
      g_autofree char *err = NULL;
      /* /sys is remounted for the namespace by `ip netns exec`. */
      gboolean up = tv_test_netns_run (names[i], (const char *const[]){ "grep", "-qx", "up", "/sys/class/net/pe0/operstate", NULL },
                                       &err);
      if (!up)
        g_test_message ("pe0 in %s not operationally up: %s", names[i], err ? err : "");
      g_assert_true (up);
    }
    tv_test_netns_free (ns);
  }
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_test_add_func ("/net/netns/links-running-at-once", test_links_running_at_once);
  return g_test_run ();
}
