/* tv-ctl-rekey.c — `televisitctl keys ...` (see tv-ctl-rekey.h).
 *
 * Why: the rotation procedure (rotate, rekey, retire) is run by an operator on
 * the server machine; each step is safe on its own (the running server re-reads
 * the key file, rekey commits in batches and can be re-run, retire refuses a
 * key that still seals a value) and each is audited.
 * Thread: single-threaded command-line program.
 */
#define G_LOG_DOMAIN "tv-ctl"

#include "server/tv-ctl-rekey.h"

#include "server/tv-ctl-common.h"
#include "server/tv-data-key.h"
#include "server/tv-store-audit.h"
#include "server/tv-store-seal.h"
#include "server/tv-store.h"

#include <string.h>

#define DEFAULT_BATCH 500

const char TV_SERVER_CTL_KEYS_HELP[] =
  "    keys status [--key-file FILE]\n"
  "        The data key file in use, its key ids, the current one, and how many\n"
  "        encrypted values each key seals (plus values not encrypted yet).\n"
  "    keys rotate [--key-file FILE]\n"
  "        Add a new random key to the key file and make it current: new values\n"
  "        are sealed with it at once (the running server re-reads the file).\n"
  "    keys rekey [--key-file FILE] [--batch N]\n"
  "        Re-encrypt every value not sealed with the current key (and any value\n"
  "        not encrypted yet), N rows per transaction (default 500, 1..100000).\n"
  "        Safe to interrupt and run again.\n"
  "    keys retire ID [--key-file FILE]\n"
  "        Remove key ID from the key file; refused (exit 3) while any value is\n"
  "        sealed with it, or if it is the current key.\n"
  "        The key file is --key-file, else $TELEVISIT_DATA_KEY_FILE, else\n"
  "        DIR/keys/data.keys. Keys are never printed or read from the command line.\n";

static int
keys_error (const char *sub, const GError *error)
{
  g_printerr ("televisitctl keys %s: %s\n", sub, error->message);
  if (g_error_matches (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_IN_USE)
      || g_error_matches (error, TV_DATA_KEY_ERROR, TV_DATA_KEY_ERR_NOT_FOUND))
    return TV_CTL_EXIT_NOT_FOUND;
  return TV_CTL_EXIT_STORE;
}

static int
cmd_status (TvStore *store, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvDataKeys) keys = tv_data_keys_load (path, &error);
  if (keys == NULL)
    return keys_error ("status", error);
  g_autoptr (GArray) ids = tv_data_keys_ids (keys);
  guint64 plain = 0, total = 0;
  if (!tv_store_sealed_count (store, 0, &total, &plain, &error))
    return keys_error ("status", error);
  g_print ("key file: %s\ncurrent key: %u\n", path, tv_data_keys_current (keys));
  guint64 known = 0;
  for (guint i = 0; i < ids->len; i++) {
    guint id = g_array_index (ids, guint, i);
    guint64 n = 0;
    if (!tv_store_sealed_count (store, id, &n, NULL, &error))
      return keys_error ("status", error);
    known += n;
    g_print ("key %u: %" G_GUINT64_FORMAT " values%s\n", id, n,
             id == tv_data_keys_current (keys) ? " (current)" : "");
  }
  g_print ("not encrypted: %" G_GUINT64_FORMAT "\n", plain);
  if (total > known)
    g_print ("sealed with a key not in the file: %" G_GUINT64_FORMAT "\n", total - known);
  tv_store_audit_add_local (store, "ctl.keys-status", "data-keys", NULL, NULL, "ok", NULL);
  return TV_CTL_EXIT_OK;
}

static int
cmd_rotate (TvStore *store, const char *path)
{
  g_autoptr (GError) error = NULL;
  guint id = 0;
  if (!tv_data_keys_rotate (path, &id, &error)) {
    tv_store_audit_add_local (store, "ctl.keys-rotate", "data-keys", NULL, NULL, "error", NULL);
    return keys_error ("rotate", error);
  }
  g_autofree char *rid = g_strdup_printf ("%u", id);
  tv_store_audit_add_local (store, "ctl.keys-rotate", "data-keys", rid, NULL, "ok", NULL);
  g_print ("key %u added and made current; run `televisitctl keys rekey` to re-encrypt the values\n", id);
  return TV_CTL_EXIT_OK;
}

static int
cmd_rekey (TvStore *store, const char *path, guint batch)
{
  g_autoptr (GError) error = NULL;
  guint64 n = 0;
  if (!tv_store_set_data_key_file (store, path, &error))
    return keys_error ("rekey", error);
  gboolean ok = tv_store_rekey (store, batch, &n, &error);
  g_autofree char *detail = g_strdup_printf ("%" G_GUINT64_FORMAT " values", n);
  tv_store_audit_add_local (store, "ctl.keys-rekey", "data-keys", NULL, NULL, ok ? "ok" : "error", detail);
  if (!ok) {
    g_printerr ("televisitctl keys rekey: %" G_GUINT64_FORMAT " values re-encrypted before the error\n", n);
    return keys_error ("rekey", error);
  }
  g_autoptr (TvDataKeys) keys = tv_data_keys_load (path, NULL);
  g_print ("%" G_GUINT64_FORMAT " values re-encrypted with key %u\n", n, keys ? tv_data_keys_current (keys) : 0);
  return TV_CTL_EXIT_OK;
}

static int
cmd_retire (TvStore *store, const char *path, guint id)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *rid = g_strdup_printf ("%u", id);
  guint64 n = 0;
  if (!tv_store_sealed_count (store, id, &n, NULL, &error))
    return keys_error ("retire", error);
  if (n > 0) {
    tv_store_audit_add_local (store, "ctl.keys-retire", "data-keys", rid, NULL, "refused", NULL);
    g_printerr ("televisitctl keys retire: key %u still seals %" G_GUINT64_FORMAT
                " values: run `televisitctl keys rekey` first\n", id, n);
    return TV_CTL_EXIT_NOT_FOUND;
  }
  if (!tv_data_keys_retire (path, id, &error)) {
    tv_store_audit_add_local (store, "ctl.keys-retire", "data-keys", rid, NULL, "refused", NULL);
    return keys_error ("retire", error);
  }
  tv_store_audit_add_local (store, "ctl.keys-retire", "data-keys", rid, NULL, "ok", NULL);
  g_print ("key %u retired\n", id);
  return TV_CTL_EXIT_OK;
}

int
tv_server_ctl_keys_main (int argc, char **argv, const char *data_dir_opt)
{
  g_return_val_if_fail (argc >= 1, TV_CTL_EXIT_USAGE);
  g_autofree char *data_dir = NULL, *key_file = NULL, *batch_s = NULL;
  gboolean help = FALSE;
  GOptionEntry entries[] = {
    { "data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, NULL, NULL },
    { "key-file", 0, 0, G_OPTION_ARG_FILENAME, &key_file, NULL, NULL },
    { "batch", 0, 0, G_OPTION_ARG_STRING, &batch_s, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL },
  };
  g_autofree char **rest = NULL;
  int n_rest = 0;
  int rc = tv_ctl_parse_command ("keys", entries, &help, TV_SERVER_CTL_KEYS_HELP, argc, argv, &rest, &n_rest);
  if (rc >= 0)
    return rc;
  if (n_rest < 1)
    return tv_ctl_usage ("keys", NULL, "subcommand: status, rotate, rekey or retire");
  const char *sub = rest[0];
  gboolean retire = strcmp (sub, "retire") == 0;
  if (!retire && strcmp (sub, "status") != 0 && strcmp (sub, "rotate") != 0 && strcmp (sub, "rekey") != 0)
    return tv_ctl_usage ("keys", NULL, "unknown subcommand \"%s\" (status, rotate, rekey, retire)", sub);
  int want = retire ? 2 : 1;
  if (n_rest != want)
    return tv_ctl_usage ("keys", sub, n_rest < want ? "ID: required%s" : "unexpected argument \"%s\"",
                         n_rest > want ? rest[want] : "");
  guint64 id = 0, batch = DEFAULT_BATCH;
  if (retire && !g_ascii_string_to_unsigned (rest[1], 10, 1, TV_DATA_KEY_MAX_ID, &id, NULL))
    return tv_ctl_usage ("keys", sub, "ID: \"%s\" is not a key id (1..%d)", rest[1], TV_DATA_KEY_MAX_ID);
  if (batch_s != NULL && (strcmp (sub, "rekey") != 0 || !g_ascii_string_to_unsigned (batch_s, 10, 1, 100000, &batch, NULL)))
    return tv_ctl_usage ("keys", sub, strcmp (sub, "rekey") != 0 ? "--batch: only for rekey"
                                                                   : "--batch: \"%s\" is not 1..100000", batch_s);
  if (key_file != NULL && (*key_file == '\0' || g_str_has_prefix (key_file, "--")))
    return tv_ctl_usage ("keys", sub, "--key-file: missing value");

  const char *dir = tv_ctl_data_dir (data_dir ? data_dir : data_dir_opt);
  const char *env = g_getenv ("TELEVISIT_DATA_KEY_FILE");
  g_autofree char *path = key_file != NULL ? g_strdup (key_file)
                          : env != NULL && *env != '\0' ? g_strdup (env)
                          : g_build_filename (dir, "keys", "data.keys", NULL);
  int code = TV_CTL_EXIT_OK;
  g_autoptr (TvStore) store = tv_ctl_open_store ("keys", dir, FALSE, &code);
  if (store == NULL)
    return code;
  if (strcmp (sub, "status") == 0)
    return cmd_status (store, path);
  if (strcmp (sub, "rotate") == 0)
    return cmd_rotate (store, path);
  if (strcmp (sub, "rekey") == 0)
    return cmd_rekey (store, path, (guint) batch);
  return cmd_retire (store, path, (guint) id);
}
