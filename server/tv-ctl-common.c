/* tv-ctl-common.c — exit statuses, usage errors, data directory and store
 * opening shared by televisitctl's commands (see tv-ctl-common.h). */
#include "server/tv-ctl-common.h"
#include "server/tv-join-link.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

int
tv_ctl_usage (const char *cmd, const char *sub, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (cmd == NULL)
    g_printerr ("televisitctl: %s\nTry 'televisitctl --help'.\n", msg);
  else
    g_printerr ("televisitctl %s%s%s: %s\nTry 'televisitctl help %s'.\n", cmd, sub != NULL ? " " : "",
                sub != NULL ? sub : "", msg, cmd);
  return TV_CTL_EXIT_USAGE;
}

int
tv_ctl_store_error (const char *cmd, const char *what, const GError *error)
{
  g_printerr ("televisitctl%s%s: %s%s%s\n", cmd != NULL ? " " : "", cmd != NULL ? cmd : "",
              what != NULL ? what : "", what != NULL ? ": " : "", error->message);
  if (error->domain != TV_STORE_ERROR)
    return TV_CTL_EXIT_STORE;
  switch ((TvStoreErrorCode) error->code) {
  case TV_STORE_ERR_NOT_FOUND:
  case TV_STORE_ERR_SLOT_TAKEN:
  case TV_STORE_ERR_CONFLICT:
  case TV_STORE_ERR_WRONG_STATE:
    return TV_CTL_EXIT_NOT_FOUND;
  case TV_STORE_ERR_INVALID:
    return TV_CTL_EXIT_USAGE;
  default:
    return TV_CTL_EXIT_STORE;
  }
}

const char *
tv_ctl_data_dir (const char *opt)
{
  if (opt != NULL)
    return opt;
  const char *env = g_getenv ("TELEVISIT_DATA_DIR");
  return env != NULL && *env != '\0' ? env : TV_CTL_DEFAULT_DATA_DIR;
}

TvStore *
tv_ctl_open_store (const char *cmd, const char *data_dir, gboolean create, int *code)
{
  const char *sep = cmd != NULL ? " " : "";
  const char *name = cmd != NULL ? cmd : "";
  g_autofree char *path = g_build_filename (data_dir, TV_CTL_DB_NAME, NULL);
  if (create) {
    if (g_mkdir_with_parents (data_dir, 0700) != 0) {
      g_printerr ("televisitctl%s%s: cannot create data directory %s: %s\n", sep, name, data_dir,
                  g_strerror (errno));
      *code = TV_CTL_EXIT_STORE;
      return NULL;
    }
  } else if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_printerr ("televisitctl%s%s: no database at %s (check --data-dir or TELEVISIT_DATA_DIR)\n", sep, name,
                path);
    *code = TV_CTL_EXIT_STORE;
    return NULL;
  }
  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (path, &error);
  if (store == NULL) {
    g_printerr ("televisitctl%s%s: cannot open the store: %s\n", sep, name, error->message);
    *code = TV_CTL_EXIT_STORE;
  } else if (!tv_join_link_attach (store, data_dir, &error)) {
    /* create and book issue join tokens: derived as the server does, so the
     * server can show them again (server/tv-join-link.h). */
    g_printerr ("televisitctl%s%s: %s\n", sep, name, error->message);
    *code = TV_CTL_EXIT_STORE;
    g_clear_pointer (&store, tv_store_close);
  }
  return store;
}

gboolean
tv_ctl_parse_options (const char *cmd, const char *sub, GOptionEntry *entries, gboolean stop_at_command,
                      int *argc, char ***argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_option_context_set_help_enabled (ctx, FALSE);
  g_option_context_set_strict_posix (ctx, stop_at_command);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, argc, argv, &error)) {
    tv_ctl_usage (cmd, sub, "%s", error->message);
    return FALSE;
  }
  return TRUE;
}

int
tv_ctl_parse_command (const char *cmd, GOptionEntry *entries, const gboolean *help, const char *help_text,
                      int argc, char **argv, char ***rest, int *n_rest)
{
  g_return_val_if_fail (argc >= 1 && rest != NULL && n_rest != NULL, TV_CTL_EXIT_USAGE);
  /* A shallow copy: GOption removes what it parses from the array (without
   * freeing it), and the strings stay the caller's. */
  g_autofree char **args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = argv[i];
  int n = argc;
  char **pargs = args;
  if (!tv_ctl_parse_options (cmd, NULL, entries, FALSE, &n, &pargs))
    return TV_CTL_EXIT_USAGE;
  if (*help) {
    g_print ("Usage: televisitctl [--data-dir DIR] ...\n%s", help_text);
    return TV_CTL_EXIT_OK;
  }
  int first = (n > 1 && strcmp (pargs[1], "--") == 0) ? 2 : 1;
  *n_rest = n - first;
  *rest = g_new0 (char *, *n_rest + 1);
  for (int i = 0; i < *n_rest; i++)
    (*rest)[i] = pargs[first + i];
  return -1;
}

void
tv_ctl_print_json (JsonNode *root)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
}

void
tv_ctl_print_json_builder (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  tv_ctl_print_json (root);
}
