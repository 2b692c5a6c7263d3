/* tv-billing-codes.c — parse and validate the billing code table (see tv-billing-codes.h).
 *
 * Why: the table decides what a clinic bills; every value is checked strictly
 * here, with the group and key in the message, so a wrong table stops the
 * server at start instead of producing wrong claims.
 * The shipped table's bytes come from server/billing-codes.conf through a
 * file generated at build time (server/module.mk), so the documented file and
 * the default in the binary cannot drift apart.
 * Thread: any (no shared state).
 */
#define G_LOG_DOMAIN "tv-billing"

#include "server/tv-billing-codes.h"

#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK (tv-billing-codes-error-quark, tv_billing_codes_error)

/* Generated from server/billing-codes.conf (NUL-terminated; len excludes the NUL). */
extern const char tv_billing_codes_default_conf[];
extern const gsize tv_billing_codes_default_conf_len;

#define TABLE_GROUP "table"

struct _TvBillingCodes {
  char *currency;
  char *pos_home;
  char *pos_other;
  GPtrArray *rules;   /* TvBillingRule* (owned) */
};

static const char *const rule_keys[] = {
  "scheme", "code", "modality", "patient", "minutes", "fee", "description", "modifiers", NULL
};
static const char *const table_keys[] = { "currency", "pos_home", "pos_other", NULL };

/* ---- words ------------------------------------------------------------------ */

const char *
tv_billing_scheme_to_string (TvBillingScheme v)
{
  return v == TV_BILLING_SCHEME_OFFICE_EM ? "office-em" : "telemedicine";
}

gboolean
tv_billing_scheme_from_string (const char *s, TvBillingScheme *out)
{
  if (g_strcmp0 (s, "telemedicine") == 0)
    *out = TV_BILLING_SCHEME_TELEMEDICINE;
  else if (g_strcmp0 (s, "office-em") == 0)
    *out = TV_BILLING_SCHEME_OFFICE_EM;
  else
    return FALSE;
  return TRUE;
}

const char *
tv_billing_modality_to_string (TvBillingModality v)
{
  return v == TV_BILLING_AUDIO_ONLY ? "audio-only" : "audio-video";
}

gboolean
tv_billing_modality_from_string (const char *s, TvBillingModality *out)
{
  if (g_strcmp0 (s, "audio-video") == 0)
    *out = TV_BILLING_AUDIO_VIDEO;
  else if (g_strcmp0 (s, "audio-only") == 0)
    *out = TV_BILLING_AUDIO_ONLY;
  else
    return FALSE;
  return TRUE;
}

const char *
tv_billing_patient_status_to_string (TvBillingPatientStatus v)
{
  return v == TV_BILLING_PATIENT_NEW ? "new" : "established";
}

gboolean
tv_billing_patient_status_from_string (const char *s, TvBillingPatientStatus *out)
{
  if (g_strcmp0 (s, "established") == 0)
    *out = TV_BILLING_PATIENT_ESTABLISHED;
  else if (g_strcmp0 (s, "new") == 0)
    *out = TV_BILLING_PATIENT_NEW;
  else
    return FALSE;
  return TRUE;
}

const char *
tv_billing_location_to_string (TvBillingLocation v)
{
  return v == TV_BILLING_LOCATION_OTHER ? "other" : "home";
}

gboolean
tv_billing_location_from_string (const char *s, TvBillingLocation *out)
{
  if (g_strcmp0 (s, "home") == 0)
    *out = TV_BILLING_LOCATION_HOME;
  else if (g_strcmp0 (s, "other") == 0)
    *out = TV_BILLING_LOCATION_OTHER;
  else
    return FALSE;
  return TRUE;
}

char *
tv_billing_format_amount (gint64 cents)
{
  gboolean neg = cents < 0;
  guint64 abs_cents = neg ? (guint64) (-(cents + 1)) + 1 : (guint64) cents;
  return g_strdup_printf ("%s%" G_GUINT64_FORMAT ".%02u", neg ? "-" : "", abs_cents / 100,
                          (guint) (abs_cents % 100));
}

/* ---- the table --------------------------------------------------------------- */

static void
rule_free (gpointer p)
{
  TvBillingRule *r = p;
  g_free (r->label);
  g_free (r->code);
  g_free (r->description);
  g_strfreev (r->modifiers);
  g_free (r);
}

void
tv_billing_codes_free (TvBillingCodes *codes)
{
  if (codes == NULL)
    return;
  g_free (codes->currency);
  g_free (codes->pos_home);
  g_free (codes->pos_other);
  g_ptr_array_unref (codes->rules);
  g_free (codes);
}

const char *
tv_billing_codes_currency (const TvBillingCodes *codes)
{
  return codes->currency;
}

const char *
tv_billing_codes_pos (const TvBillingCodes *codes, TvBillingLocation location)
{
  return location == TV_BILLING_LOCATION_OTHER ? codes->pos_other : codes->pos_home;
}

guint
tv_billing_codes_n_rules (const TvBillingCodes *codes)
{
  return codes->rules->len;
}

const TvBillingRule *
tv_billing_codes_rule (const TvBillingCodes *codes, guint i)
{
  g_return_val_if_fail (i < codes->rules->len, NULL);
  return g_ptr_array_index (codes->rules, i);
}

/* ---- validation helpers: each sets INVALID naming [group] key ------------------ */

static gboolean G_GNUC_PRINTF (4, 5)
invalid (GError **error, const char *origin, const char *group, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *what = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, TV_BILLING_CODES_ERROR, TV_BILLING_CODES_ERR_INVALID, "%s: [%s] %s", origin, group, what);
  return FALSE;
}

/* Reads @key of @group as a trimmed string; missing or badly escaped: INVALID. */
static char *
get_value (GKeyFile *kf, const char *origin, const char *group, const char *key, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *v = g_key_file_get_string (kf, group, key, &local);
  if (v == NULL || local != NULL) {
    if (local != NULL && g_error_matches (local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND))
      invalid (error, origin, group, "%s: missing", key);
    else
      invalid (error, origin, group, "%s: %s", key, local ? local->message : "unreadable");
    return NULL;
  }
  return g_strdup (g_strstrip (v));
}

static gboolean
all_chars (const char *s, gboolean (*ok) (char c))
{
  for (; *s; s++)
    if (!ok (*s))
      return FALSE;
  return TRUE;
}

static gboolean
is_digit (char c)
{
  return g_ascii_isdigit (c);
}

static gboolean
is_upper (char c)
{
  return g_ascii_isupper (c);
}

static gboolean
is_code_char (char c)
{
  return g_ascii_isdigit (c) || g_ascii_isupper (c);
}

/* Text a patient reads: valid UTF-8, no control characters, 1..@max bytes. */
static gboolean
is_plain_text (const char *s, gsize max)
{
  gsize len = strlen (s);
  if (len == 0 || len > max || !g_utf8_validate (s, -1, NULL))
    return FALSE;
  for (const char *p = s; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

/* "95", "95.5", "95.00" -> cents; no sign, no exponent, at most 2 decimals. */
static gboolean
parse_fee (const char *s, gint64 *out)
{
  const char *dot = strchr (s, '.');
  gsize int_len = dot ? (gsize) (dot - s) : strlen (s);
  if (int_len == 0 || int_len > 6)
    return FALSE;
  gint64 v = 0;
  for (gsize i = 0; i < int_len; i++) {
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
    v = v * 10 + (s[i] - '0');
  }
  gint64 cents = 0;
  if (dot != NULL) {
    const char *frac = dot + 1;
    gsize n = strlen (frac);
    if (n == 0 || n > 2 || !all_chars (frac, is_digit))
      return FALSE;
    cents = (frac[0] - '0') * 10 + (n == 2 ? frac[1] - '0' : 0);
  }
  *out = v * 100 + cents;
  return *out <= TV_BILLING_MAX_FEE_CENTS;
}

static gboolean
check_keys (GKeyFile *kf, const char *origin, const char *group, const char *const *known, GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);
  for (char **k = keys; keys && *k; k++)
    if (!g_strv_contains (known, *k))
      return invalid (error, origin, group, "%s: unknown key", *k);
  return TRUE;
}

static gboolean
parse_table_group (TvBillingCodes *codes, GKeyFile *kf, const char *origin, GError **error)
{
  if (!g_key_file_has_group (kf, TABLE_GROUP))
    return invalid (error, origin, TABLE_GROUP, "missing (currency, pos_home, pos_other)");
  if (!check_keys (kf, origin, TABLE_GROUP, table_keys, error))
    return FALSE;
  codes->currency = get_value (kf, origin, TABLE_GROUP, "currency", error);
  if (codes->currency == NULL)
    return FALSE;
  if (strlen (codes->currency) != 3 || !all_chars (codes->currency, is_upper))
    return invalid (error, origin, TABLE_GROUP, "currency: \"%s\" is not three upper-case letters (ISO 4217)",
                    codes->currency);
  char **slots[] = { &codes->pos_home, &codes->pos_other };
  const char *names[] = { "pos_home", "pos_other" };
  for (gsize i = 0; i < G_N_ELEMENTS (slots); i++) {
    *slots[i] = get_value (kf, origin, TABLE_GROUP, names[i], error);
    if (*slots[i] == NULL)
      return FALSE;
    if (strlen (*slots[i]) != 2 || !all_chars (*slots[i], is_digit))
      return invalid (error, origin, TABLE_GROUP, "%s: \"%s\" is not a two-digit place-of-service code", names[i],
                      *slots[i]);
  }
  return TRUE;
}

static TvBillingRule *
parse_rule (GKeyFile *kf, const char *origin, const char *group, GError **error)
{
  g_autoptr (GPtrArray) rule_holder = g_ptr_array_new_with_free_func (rule_free);
  TvBillingRule *r = g_new0 (TvBillingRule, 1);
  g_ptr_array_add (rule_holder, r);
  r->label = g_strdup (group);

  if (!check_keys (kf, origin, group, rule_keys, error))
    return NULL;
  g_autofree char *scheme = get_value (kf, origin, group, "scheme", error);
  if (scheme == NULL)
    return NULL;
  if (!tv_billing_scheme_from_string (scheme, &r->scheme)) {
    invalid (error, origin, group, "scheme: \"%s\" is not telemedicine or office-em", scheme);
    return NULL;
  }
  r->code = get_value (kf, origin, group, "code", error);
  if (r->code == NULL)
    return NULL;
  if (strlen (r->code) != 5 || !all_chars (r->code, is_code_char)) {
    invalid (error, origin, group, "code: \"%s\" is not five digits or upper-case letters", r->code);
    return NULL;
  }
  g_autofree char *modality = get_value (kf, origin, group, "modality", error);
  if (modality == NULL)
    return NULL;
  if (!tv_billing_modality_from_string (modality, &r->modality)) {
    invalid (error, origin, group, "modality: \"%s\" is not audio-video or audio-only", modality);
    return NULL;
  }
  g_autofree char *patient = get_value (kf, origin, group, "patient", error);
  if (patient == NULL)
    return NULL;
  if (!tv_billing_patient_status_from_string (patient, &r->patient)) {
    invalid (error, origin, group, "patient: \"%s\" is not new or established", patient);
    return NULL;
  }
  g_autofree char *minutes = get_value (kf, origin, group, "minutes", error);
  if (minutes == NULL)
    return NULL;
  guint64 m = 0;
  if (!g_ascii_string_to_unsigned (minutes, 10, 0, TV_BILLING_MAX_MINUTES, &m, NULL)) {
    invalid (error, origin, group, "minutes: \"%s\" is not a whole number in 0..%d", minutes,
             TV_BILLING_MAX_MINUTES);
    return NULL;
  }
  r->minutes = (guint) m;
  g_autofree char *fee = get_value (kf, origin, group, "fee", error);
  if (fee == NULL)
    return NULL;
  if (!parse_fee (fee, &r->fee_cents)) {
    invalid (error, origin, group, "fee: \"%s\" is not an amount like 95.00 (at most 2 decimals, below 1000000)",
             fee);
    return NULL;
  }
  r->description = get_value (kf, origin, group, "description", error);
  if (r->description == NULL)
    return NULL;
  if (!is_plain_text (r->description, TV_BILLING_MAX_DESCRIPTION_BYTES)) {
    invalid (error, origin, group, "description: must be 1..%d bytes of UTF-8 text without control characters",
             TV_BILLING_MAX_DESCRIPTION_BYTES);
    return NULL;
  }
  g_autoptr (GPtrArray) mods = g_ptr_array_new_with_free_func (g_free);
  if (g_key_file_has_key (kf, group, "modifiers", NULL)) {
    g_autoptr (GError) local = NULL;
    g_auto (GStrv) list = g_key_file_get_string_list (kf, group, "modifiers", NULL, &local);
    if (local != NULL) {
      invalid (error, origin, group, "modifiers: %s", local->message);
      return NULL;
    }
    for (char **p = list; p && *p; p++) {
      g_autofree char *mod = g_strstrip (g_strdup (*p));
      if (*mod == '\0')
        continue;
      if (strlen (mod) != 2 || !all_chars (mod, is_code_char)) {
        invalid (error, origin, group, "modifiers: \"%s\" is not a two-character modifier", mod);
        return NULL;
      }
      for (guint i = 0; i < mods->len; i++)
        if (g_str_equal (g_ptr_array_index (mods, i), mod)) {
          invalid (error, origin, group, "modifiers: %s is listed twice", mod);
          return NULL;
        }
      g_ptr_array_add (mods, g_steal_pointer (&mod));
    }
    if (mods->len > TV_BILLING_MAX_MODIFIERS) {
      invalid (error, origin, group, "modifiers: at most %d", TV_BILLING_MAX_MODIFIERS);
      return NULL;
    }
  }
  g_ptr_array_add (mods, NULL);
  r->modifiers = (char **) g_ptr_array_free (g_steal_pointer (&mods), FALSE);
  return g_ptr_array_steal_index (rule_holder, 0);
}

TvBillingCodes *
tv_billing_codes_parse (const char *data, gsize len, const char *origin, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (origin != NULL, NULL);

  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_data (kf, len ? data : "", len, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, TV_BILLING_CODES_ERROR, TV_BILLING_CODES_ERR_PARSE, "%s: %s", origin, local->message);
    return NULL;
  }
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  TvBillingCodes *codes = g_new0 (TvBillingCodes, 1);
  codes->rules = g_ptr_array_new_with_free_func (rule_free);
  if (!parse_table_group (codes, kf, origin, error))
    goto fail;
  for (char **g = groups; *g; g++) {
    if (g_str_equal (*g, TABLE_GROUP))
      continue;
    TvBillingRule *r = parse_rule (kf, origin, *g, error);
    if (r == NULL)
      goto fail;
    for (guint i = 0; i < codes->rules->len; i++) {
      const TvBillingRule *o = g_ptr_array_index (codes->rules, i);
      if (o->scheme == r->scheme && o->modality == r->modality && o->patient == r->patient
          && o->minutes == r->minutes) {
        invalid (error, origin, *g, "minutes: %u is also the threshold of [%s] (same scheme, modality and patient)",
                 r->minutes, o->label);
        rule_free (r);
        goto fail;
      }
    }
    g_ptr_array_add (codes->rules, r);
  }
  if (codes->rules->len == 0) {
    g_set_error (error, TV_BILLING_CODES_ERROR, TV_BILLING_CODES_ERR_INVALID, "%s: the table has no code groups",
                 origin);
    goto fail;
  }
  return codes;

fail:
  tv_billing_codes_free (codes);
  return NULL;
}

TvBillingCodes *
tv_billing_codes_load_file (const char *path, char **text, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &data, &len, &local)) {
    g_set_error (error, TV_BILLING_CODES_ERROR, TV_BILLING_CODES_ERR_FILE, "%s", local->message);
    return NULL;
  }
  TvBillingCodes *codes = tv_billing_codes_parse (data, len, path, error);
  if (codes != NULL && text != NULL)
    *text = g_steal_pointer (&data);
  return codes;
}

const char *
tv_billing_codes_default_text (void)
{
  return tv_billing_codes_default_conf;
}

TvBillingCodes *
tv_billing_codes_new_default (void)
{
  g_autoptr (GError) error = NULL;
  TvBillingCodes *codes = tv_billing_codes_parse (tv_billing_codes_default_conf, tv_billing_codes_default_conf_len,
                                                  "the shipped billing table", &error);
  if (codes == NULL)
    g_error ("%s", error->message);
  return codes;
}

gboolean
tv_billing_codes_check_scheme (const TvBillingCodes *codes, TvBillingScheme scheme, GError **error)
{
  static const TvBillingModality modalities[] = { TV_BILLING_AUDIO_VIDEO, TV_BILLING_AUDIO_ONLY };
  static const TvBillingPatientStatus statuses[] = { TV_BILLING_PATIENT_NEW, TV_BILLING_PATIENT_ESTABLISHED };
  for (gsize m = 0; m < G_N_ELEMENTS (modalities); m++)
    for (gsize s = 0; s < G_N_ELEMENTS (statuses); s++) {
      gboolean found = FALSE;
      for (guint i = 0; i < codes->rules->len && !found; i++) {
        const TvBillingRule *r = g_ptr_array_index (codes->rules, i);
        found = r->scheme == scheme && r->modality == modalities[m] && r->patient == statuses[s];
      }
      if (!found) {
        g_set_error (error, TV_BILLING_CODES_ERROR, TV_BILLING_CODES_ERR_INVALID,
                     "the table has no %s code for %s visits with %s patients", tv_billing_scheme_to_string (scheme),
                     tv_billing_modality_to_string (modalities[m]), tv_billing_patient_status_to_string (statuses[s]));
        return FALSE;
      }
    }
  return TRUE;
}
