/* tv-test-netns.h — two network namespaces joined by a veth pair, for network-fault tests.
 *
 * Why: loss, outages and blocked paths must be real kernel behaviour between
 * two hosts, and must never touch the machine's own network. The fixture
 * creates two namespaces with unique names ("tvA<pid>", "tvB<pid>"), one veth
 * pair between them, its ends renamed "pe0" (libnice skips interfaces called
 * veth*), 198.18.0.1/24 in A and 198.18.0.2/24 in B (the benchmarking range),
 * loopback up in both. A reaper child process removes both namespaces when
 * the test process ends in any way (exit, failed assertion, crash, watchdog,
 * SIGKILL): it waits for EOF on a pipe whose writing end only the test holds.
 * Faults are nftables rules in a namespace's input hook (a drop there is
 * invisible to the sender, as a lossy network is).
 *
 * Needs root, `ip` (iproute2) and `nft` (nftables).
 * Thread: the test's main thread only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_TEST_NETNS_ADDR_A "198.18.0.1"
#define TV_TEST_NETNS_ADDR_B "198.18.0.2"

typedef struct _TvTestNetns TvTestNetns;

/* tv_test_netns_available:
 * Returns: TRUE when this process can create namespaces and has ip and nft;
 * otherwise FALSE with a reason (for g_test_skip). */
gboolean tv_test_netns_available (char **reason);

/* tv_test_netns_new:
 * Creates the pair (see above) and returns once pe0 is operationally up
 * (IFF_RUNNING) in both, as ICE gathering needs. Fails the test on error
 * (after removing whatever was created). Returns: (transfer full) the pair. */
TvTestNetns *tv_test_netns_new (void);

/* Returns: (transfer none) the namespace names ("tvA<pid>" / "tvB<pid>"). */
const char *tv_test_netns_name_a (TvTestNetns *ns);
const char *tv_test_netns_name_b (TvTestNetns *ns);

/* tv_test_netns_run:
 * Runs @argv (NULL-terminated) inside namespace @name and waits for it.
 * Returns: TRUE on exit status 0; otherwise FALSE with the command's stderr
 * in *@err_out (transfer full, may be NULL). */
gboolean tv_test_netns_run (const char *name, const char *const *argv, char **err_out);

/* tv_test_netns_nft:
 * Runs `nft -f -` in namespace @name with @script on stdin; fails the test if
 * nft refuses it. Rules should live in tables the test names itself. */
void tv_test_netns_nft (const char *name, const char *script);

/* tv_test_netns_wrap_dir:
 * Returns: (transfer none) a directory (made once, removed at exit) holding
 * "televisit-server" and "televisit-client" wrappers that exec the real
 * binaries of @real_build_dir inside the namespace named by the environment
 * variable TV_TEST_NETNS at the time they start (unset: no namespace). Point
 * TV_BUILD_DIR at it so the fixtures start the binaries in a namespace. */
const char *tv_test_netns_wrap_dir (const char *real_build_dir);

/* Removes both namespaces now (the reaper then has nothing left to do). NULL accepted. */
void tv_test_netns_free (TvTestNetns *ns);

G_END_DECLS
