/* tv-test-records.h — running televisitctl and the FHIR schema validator from tests.
 *
 * Why: the records tests (billing, reminders, FHIR, the issue-4 acceptance
 * test) check what the operator's tool and an EHR would see: they run the
 * real televisitctl against the server's data directory, and validate the
 * FHIR JSON the server emits with tests/fhir/validate.mjs (ajv against the
 * official FHIR R4 schema). Written once here instead of in every test.
 * Thread: the test's main thread.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* tv_test_ctl_run:
 * Runs `$TV_BUILD_DIR/televisitctl --data-dir @data_dir @args...` (@args
 * NULL-terminated) to completion; its stderr is shown as a test message.
 * *@out and *@err (transfer full; each may be NULL) get its stdout and stderr.
 * Returns: its exit status; fails the test if it cannot run or is killed. */
int tv_test_ctl_run (const char *data_dir, const char *const *args, char **out, char **err);

/* tv_test_fhir_validator_missing:
 * Returns: NULL when node and tests/fhir/node_modules are there (tests run
 * from the top of the tree), else (transfer none) why the validation cannot
 * run, for g_test_skip() or a message. */
const char *tv_test_fhir_validator_missing (void);

/* tv_test_fhir_validate:
 * Runs `node tests/fhir/validate.mjs @files...` (@files NULL-terminated
 * paths, each holding one resource or Bundle) and fails the test, showing
 * the validator's report, unless every file is valid ("errors: 0").
 * Call only when tv_test_fhir_validator_missing() is NULL. */
void tv_test_fhir_validate (const char *const *files);

G_END_DECLS
