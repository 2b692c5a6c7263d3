/* tv-billing-codes.h — the billing code table: a GLib key file, parsed and validated.
 *
 * Why: which procedure code a telehealth visit is billed under, with which
 * modifiers and fee, is the clinic's policy and changes every year (CPT) and
 * per payer; it belongs in configuration, not in code. The table lists one
 * rule per code and modality/patient combination; tv-billing.h picks the rule
 * for a visit. The shipped table (server/billing-codes.conf, embedded into the
 * binary at build time) is used when the server is given none.
 *
 * Format (every value validated; a bad one fails with a message naming the
 * group and key, so a typo never bills silently):
 *   [table]
 *   currency = USD            three upper-case letters (ISO 4217)
 *   pos_home = 10             place-of-service code when the patient is at home
 *   pos_other = 02            ... when the patient is elsewhere (two digits each)
 *   [any other group name]    one rule; the group name is only a label
 *   scheme = telemedicine | office-em
 *   code = 98004              five characters, digits and upper-case letters
 *   modality = audio-video | audio-only
 *   patient = new | established
 *   minutes = 10              connected minutes needed (met or exceeded), 0..1440
 *   fee = 95.00               fee in the table's currency, at most 2 decimals, < 1000000
 *   description = ...         plain words for the patient's statement, 1..200 bytes
 *   modifiers = 95;FQ         optional list of two-character modifiers (at most 4)
 * Two rules of one scheme, modality and patient status may not share a
 * minute threshold (the choice would be ambiguous).
 * Thread: any (a parsed table is immutable).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define TV_BILLING_CODES_ERROR (tv_billing_codes_error_quark ())
GQuark tv_billing_codes_error_quark (void);

typedef enum {
  TV_BILLING_CODES_ERR_PARSE,   /* not a key file */
  TV_BILLING_CODES_ERR_INVALID, /* a group or value is wrong (the message names the group and key) */
  TV_BILLING_CODES_ERR_FILE,    /* the file could not be read */
} TvBillingCodesErrorCode;

#define TV_BILLING_MAX_DESCRIPTION_BYTES 200
#define TV_BILLING_MAX_MODIFIERS 4
#define TV_BILLING_MAX_MINUTES 1440
#define TV_BILLING_MAX_FEE_CENTS ((gint64) 100000000 - 1)

typedef enum {
  TV_BILLING_SCHEME_TELEMEDICINE, /* CPT 2025 98000-98015 */
  TV_BILLING_SCHEME_OFFICE_EM,    /* office E/M 99202-99215 with telehealth modifiers (e.g. Medicare) */
} TvBillingScheme;

typedef enum {
  TV_BILLING_AUDIO_VIDEO,
  TV_BILLING_AUDIO_ONLY,
} TvBillingModality;

typedef enum {
  TV_BILLING_PATIENT_ESTABLISHED,
  TV_BILLING_PATIENT_NEW,
} TvBillingPatientStatus;

typedef enum {
  TV_BILLING_LOCATION_HOME,
  TV_BILLING_LOCATION_OTHER,
} TvBillingLocation;

/* Wire/config words: "telemedicine"/"office-em", "audio-video"/"audio-only",
 * "established"/"new", "home"/"other". to_string returns (transfer none);
 * from_string returns FALSE (and leaves *@out) for anything else, NULL included. */
const char *tv_billing_scheme_to_string (TvBillingScheme v);
gboolean tv_billing_scheme_from_string (const char *s, TvBillingScheme *out);
const char *tv_billing_modality_to_string (TvBillingModality v);
gboolean tv_billing_modality_from_string (const char *s, TvBillingModality *out);
const char *tv_billing_patient_status_to_string (TvBillingPatientStatus v);
gboolean tv_billing_patient_status_from_string (const char *s, TvBillingPatientStatus *out);
const char *tv_billing_location_to_string (TvBillingLocation v);
gboolean tv_billing_location_from_string (const char *s, TvBillingLocation *out);

/* One rule of the table; strings owned by the table. */
typedef struct {
  char *label;               /* the group name */
  TvBillingScheme scheme;
  char *code;
  TvBillingModality modality;
  TvBillingPatientStatus patient;
  guint minutes;             /* threshold, met or exceeded */
  gint64 fee_cents;
  char *description;
  char **modifiers;          /* NULL-terminated, never NULL (may be empty) */
} TvBillingRule;

typedef struct _TvBillingCodes TvBillingCodes;

/* tv_billing_codes_parse:
 * Parses and validates @len bytes of key-file text at @data; @origin names it
 * in messages (a file name, "the shipped table").
 * Returns: (transfer full) the table; NULL with @error (PARSE or INVALID). */
TvBillingCodes *tv_billing_codes_parse (const char *data, gsize len, const char *origin, GError **error);

/* tv_billing_codes_load_file:
 * Reads @path and parses it; *@text (may be NULL) receives (transfer full) the
 * file's text, for storing alongside the consults it billed.
 * Returns: (transfer full) the table; NULL with @error (FILE, PARSE or INVALID). */
TvBillingCodes *tv_billing_codes_load_file (const char *path, char **text, GError **error);

/* Returns: (transfer none) the shipped table's text (server/billing-codes.conf), NUL-terminated. */
const char *tv_billing_codes_default_text (void);

/* Returns: (transfer full) the shipped table, parsed. Never NULL (a shipped
 * table that does not parse is a build defect: g_error). */
TvBillingCodes *tv_billing_codes_new_default (void);

/* NULL accepted. */
void tv_billing_codes_free (TvBillingCodes *codes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvBillingCodes, tv_billing_codes_free)

/* Accessors; (transfer none), valid for the table's life. */
const char *tv_billing_codes_currency (const TvBillingCodes *codes);
const char *tv_billing_codes_pos (const TvBillingCodes *codes, TvBillingLocation location);
guint tv_billing_codes_n_rules (const TvBillingCodes *codes);
const TvBillingRule *tv_billing_codes_rule (const TvBillingCodes *codes, guint i);

/* tv_billing_codes_check_scheme:
 * A table usable for @scheme has at least one rule for each modality and
 * patient status. Returns: FALSE with @error (INVALID, naming the missing
 * combination) otherwise. */
gboolean tv_billing_codes_check_scheme (const TvBillingCodes *codes, TvBillingScheme scheme, GError **error);

/* Returns: (transfer full) "95.00" for 9500 (no currency sign). */
char *tv_billing_format_amount (gint64 cents);

G_END_DECLS
