/* fuzz-billing-codes.c — libFuzzer target for the billing code table parser.
 *
 * Why: the code table (tv-billing-codes.h) is a key file an operator edits;
 * a malformed one must end in a TV_BILLING_CODES_ERROR naming the group and
 * key, never a crash, and an accepted one must hold only what the store and
 * the selection trust (five-character codes, two-character modifiers, fees and
 * thresholds in range, printable descriptions), and code selection over it
 * must not fail for any connected time.
 * Input: the key file's bytes, given to tv_billing_codes_parse().
 * Build and run: `make fuzz FUZZ_TARGETS=billing-codes` (clang); `make check`
 * replays tests/fuzz/corpus/billing-codes/ through tv-fuzz-replay.c.
 * Thread: libFuzzer's thread; every input gets a fresh table.
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/tv-billing.h"
#include "server/tv-billing-codes.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_accepted (const TvBillingCodes *codes)
{
  if (strlen (tv_billing_codes_currency (codes)) != 3
      || strlen (tv_billing_codes_pos (codes, TV_BILLING_LOCATION_HOME)) != 2
      || strlen (tv_billing_codes_pos (codes, TV_BILLING_LOCATION_OTHER)) != 2 || tv_billing_codes_n_rules (codes) == 0)
    abort ();
  for (guint i = 0; i < tv_billing_codes_n_rules (codes); i++) {
    const TvBillingRule *r = tv_billing_codes_rule (codes, i);
    if (strlen (r->code) != 5 || r->minutes > TV_BILLING_MAX_MINUTES || r->fee_cents < 0
        || r->fee_cents > TV_BILLING_MAX_FEE_CENTS || r->description == NULL || *r->description == '\0'
        || strlen (r->description) > TV_BILLING_MAX_DESCRIPTION_BYTES || !g_utf8_validate (r->description, -1, NULL)
        || g_strv_length (r->modifiers) > TV_BILLING_MAX_MODIFIERS)
      abort ();
    for (char **m = r->modifiers; *m; m++)
      if (strlen (*m) != 2)
        abort ();
  }
  /* Selection: a code or a reason, for any time, scheme, modality and patient. */
  static const gint64 times[] = { 0, 59 * G_USEC_PER_SEC, 600 * G_USEC_PER_SEC, (gint64) 100000 * G_USEC_PER_SEC };
  for (int s = 0; s < 2; s++)
    for (int m = 0; m < 2; m++)
      for (int p = 0; p < 2; p++)
        for (gsize t = 0; t < G_N_ELEMENTS (times); t++) {
          TvBillingChoice c = { 0 };
          char *reason = NULL;
          gboolean ok = tv_billing_select (codes, (TvBillingScheme) s, (TvBillingModality) m,
                                           (TvBillingPatientStatus) p, TV_BILLING_LOCATION_HOME, times[t], &c, &reason);
          if (ok == (reason != NULL) || (ok && (c.rule == NULL || c.rule->minutes > c.minutes)))
            abort ();
          g_free (reason);
        }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  TvBillingCodes *codes = tv_billing_codes_parse ((const char *) data, size, "fuzz", &error);
  if (codes == NULL) {
    if (error == NULL || error->domain != TV_BILLING_CODES_ERROR || error->message == NULL)
      abort ();
    g_error_free (error);
    return 0;
  }
  if (error != NULL)
    abort ();
  check_accepted (codes);
  tv_billing_codes_free (codes);
  return 0;
}
