/* tv-test-records.c — televisitctl and FHIR schema validation for tests (see the header). */
#define G_LOG_DOMAIN "tv-test"

#include "tests/common/tv-test-records.h"

#include <gio/gio.h>
#include <string.h>

#include "tests/common/tv-test-fixture.h"

int
tv_test_ctl_run (const char *data_dir, const char *const *args, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_build_filename (tv_test_build_dir (), "televisitctl", NULL));
  g_ptr_array_add (argv, g_strdup ("--data-dir"));
  g_ptr_array_add (argv, g_strdup (data_dir));
  for (const char *const *a = args; *a != NULL; a++)
    g_ptr_array_add (argv, g_strdup (*a));
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                 &error);
  g_assert_no_error (error);
  g_autofree char *o = NULL, *e = NULL;
  g_subprocess_communicate_utf8 (p, NULL, NULL, &o, &e, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  if (e != NULL && *e != '\0')
    g_test_message ("televisitctl stderr: %s", e);
  if (out != NULL)
    *out = g_steal_pointer (&o);
  if (err != NULL)
    *err = g_steal_pointer (&e);
  return g_subprocess_get_exit_status (p);
}

const char *
tv_test_fhir_validator_missing (void)
{
  g_autofree char *node = g_find_program_in_path ("node");
  if (node == NULL)
    return "node is not installed: cannot run tests/fhir/validate.mjs (apt install nodejs npm)";
  if (!g_file_test ("tests/fhir/node_modules/ajv", G_FILE_TEST_IS_DIR))
    return "tests/fhir/node_modules is missing: run `make fhir-deps` (npm ci in tests/fhir) first";
  return NULL;
}

void
tv_test_fhir_validate (const char *const *files)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_find_program_in_path ("node"));
  g_assert_nonnull (g_ptr_array_index (argv, 0));
  g_ptr_array_add (argv, g_strdup ("tests/fhir/validate.mjs"));
  for (const char *const *f = files; *f != NULL; f++)
    g_ptr_array_add (argv, g_strdup (*f));
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int wait_status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &wait_status, &error));
  g_assert_no_error (error);
  g_test_message ("validate.mjs:\n%s%s", out, err);
  if (!g_spawn_check_wait_status (wait_status, NULL))
    g_error ("FHIR schema validation failed:\n%s%s", out, err);
  g_assert_nonnull (strstr (out, "errors: 0"));
}
