/* tv-fuzz-replay.c — replays a fuzz target's corpus without libFuzzer, as a g_test (TAP).
 *
 * Why: `make fuzz` (clang, libFuzzer) runs for minutes and needs clang; `make
 * check` must stay fast and build with gcc. Linked with one fuzz-<target>.c,
 * this main() feeds every file of tests/fuzz/corpus/<target>/ (or the files and
 * directories named on the command line) to LLVMFuzzerTestOneInput, one test
 * case per file, so every corpus entry — including each crash found and fixed
 * — is re-checked on every `make check` (with ASan/UBSan under SANITIZE=1).
 * A target aborts on a broken invariant; that aborts this binary and prove
 * reports it. The target name comes from the binary's name: replay-<target>.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <glib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
/* Optional in a target (libFuzzer calls it once before the first input). */
extern int LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

/* Seconds one input may take before SIGALRM (default action: terminate) ends
 * the binary: a hang is a finding too. */
#define INPUT_WATCHDOG_S 30

static void
replay_one (gconstpointer data)
{
  const char *path = data;
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s: %s", path, error->message);
  /* An exact-size copy, so that a read past the end is caught by ASan
   * (g_file_get_contents adds a NUL the fuzzer would not). */
  uint8_t *copy = g_memdup2 (contents, len ? len : 1);
  alarm (INPUT_WATCHDOG_S);
  LLVMFuzzerTestOneInput (copy, len);
  alarm (0);
  g_free (copy);
}

static void
add_path (const char *target, const char *path, guint *n_added)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GDir) dir = g_dir_open (path, 0, &error);
    if (!dir)
      g_error ("%s: %s", path, error->message);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    const char *name;
    while ((name = g_dir_read_name (dir)) != NULL)
      if (name[0] != '.')
        g_ptr_array_add (names, g_strdup (name));
    g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
    for (guint i = 0; i < names->len; i++) {
      g_autofree char *child = g_build_filename (path, g_ptr_array_index (names, i), NULL);
      add_path (target, child, n_added);
    }
    return;
  }
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *test_path = g_strdup_printf ("/fuzz-replay/%s/%s", target, base);
  /* The test case owns its copy of the path. */
  g_test_add_data_func_full (test_path, g_strdup (path), replay_one, g_free);
  (*n_added)++;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autofree char *self = g_path_get_basename (argv[0]);
  const char *target = g_str_has_prefix (self, "replay-") ? self + strlen ("replay-") : self;

  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize (&argc, &argv);

  guint n = 0;
  if (argc > 1) {
    for (int i = 1; i < argc; i++)
      add_path (target, argv[i], &n);
  } else {
    /* make runs the tests from the top of the tree. */
    g_autofree char *dir = g_build_filename ("tests", "fuzz", "corpus", target, NULL);
    if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
      g_printerr ("Bail out! %s: corpus %s not found (run from the top of the tree)\n", self, dir);
      return 1;
    }
    add_path (target, dir, &n);
  }
  if (n == 0) {
    g_printerr ("Bail out! %s: empty corpus\n", self);
    return 1;
  }
  return g_test_run ();
}
