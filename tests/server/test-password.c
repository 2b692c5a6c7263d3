/* test-password.c — scrypt password hashes: format, salts, verification,
 * malformed stored hashes, the password policy and the constant-time compare.
 *
 * Why: the stored hash is the only thing between a stolen database and the
 * accounts; its format must be exactly the agreed one and every malformed
 * variant must be refused as malformed (not crash, not "match").
 * CRYPTO_memcmp is interposed here (the test binary's definition wins over
 * libcrypto's) to prove verification compares with it.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "test-password"

#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include <glib.h>

#include "server/tv-password.h"

/* ---- CRYPTO_memcmp interposer -------------------------------------------- */

static guint memcmp_calls_32;

int CRYPTO_memcmp (const void *a, const void *b, size_t len);

int
CRYPTO_memcmp (const void *a, const void *b, size_t len)
{
  static int (*real) (const void *, const void *, size_t);
  if (real == NULL)
    real = (int (*) (const void *, const void *, size_t)) dlsym (RTLD_NEXT, "CRYPTO_memcmp");
  if (len == 32)
    memcmp_calls_32++;
  return real (a, b, len);
}

/* ---- tests ------------------------------------------------------------------ */

static void
test_roundtrip (void)
{
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_autoptr (GError) error = NULL;
  g_autofree char *h = tv_password_hash ("Correct horse 1", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (h, "$scrypt$ln=10,r=8,p=1$"));
  g_auto (GStrv) parts = g_strsplit (h, "$", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 5);
  gsize n = 0;
  g_autofree guchar *salt = g_base64_decode (parts[3], &n);
  g_assert_cmpuint (n, ==, 16);
  g_autofree guchar *hash = g_base64_decode (parts[4], &n);
  g_assert_cmpuint (n, ==, 32);

  g_assert_true (tv_password_verify ("Correct horse 1", h, &error));
  g_assert_no_error (error);
  /* Wrong, empty, case-changed, truncated, extended: no match, no error. */
  const char *wrong[] = { "correct horse 1", "Correct horse", "Correct horse 1 ", "", "Correct horse 2" };
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++) {
    g_assert_false (tv_password_verify (wrong[i], h, &error));
    g_assert_no_error (error);
  }
}

static void
test_default_cost (void)
{
  /* The production setting: N = 2^15 (about 0.1 s, 32 MiB). */
  g_unsetenv ("TV_SCRYPT_LN");
  g_assert_cmpuint (tv_password_current_ln (), ==, 15);
  g_autoptr (GError) error = NULL;
  g_autofree char *h = tv_password_hash ("production password", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (h, "$scrypt$ln=15,r=8,p=1$"));
  g_assert_true (tv_password_verify ("production password", h, &error));
  g_assert_false (tv_password_verify ("production passworD", h, &error));
  g_assert_no_error (error);
}

static void
test_env_floor (void)
{
  const struct { const char *env; guint want; } cases[] = {
    { "10", 10 }, { "12", 12 }, { "15", 15 }, { "9", 15 }, { "1", 15 }, { "16", 15 }, { "x", 15 }, { "", 15 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_setenv ("TV_SCRYPT_LN", cases[i].env, TRUE);
    g_assert_cmpuint (tv_password_current_ln (), ==, cases[i].want);
  }
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
}

static void
test_salt_per_hash (void)
{
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_autofree char *a = tv_password_hash ("same password", NULL);
  g_autofree char *b = tv_password_hash ("same password", NULL);
  g_assert_cmpstr (a, !=, b);
  g_auto (GStrv) pa = g_strsplit (a, "$", -1);
  g_auto (GStrv) pb = g_strsplit (b, "$", -1);
  g_assert_cmpstr (pa[3], !=, pb[3]);   /* different salts ... */
  g_assert_cmpstr (pa[4], !=, pb[4]);   /* ... so different hashes */
  g_assert_true (tv_password_verify ("same password", a, NULL));
  g_assert_true (tv_password_verify ("same password", b, NULL));
}

static void
test_malformed (void)
{
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_autofree char *good = tv_password_hash ("some password", NULL);
  g_auto (GStrv) p = g_strsplit (good, "$", -1);
  const char *salt = p[3], *hash = p[4];
  g_autofree char *short_salt = g_base64_encode ((const guchar *) "0123456789abcde", 15);
  g_autofree char *short_hash = g_base64_encode ((const guchar *) "0123456789abcdef0123456789abcde", 31);
  struct { const char *why; char *text; } cases[] = {
    { "empty", g_strdup ("") },
    { "plain text", g_strdup ("some password") },
    { "only the scheme", g_strdup ("$scrypt$") },
    { "other scheme", g_strdup_printf ("$bcrypt$ln=10,r=8,p=1$%s$%s", salt, hash) },
    { "no leading $", g_strdup_printf ("scrypt$ln=10,r=8,p=1$%s$%s", salt, hash) },
    { "trailing field", g_strdup_printf ("$scrypt$ln=10,r=8,p=1$%s$%s$", salt, hash) },
    { "missing hash", g_strdup_printf ("$scrypt$ln=10,r=8,p=1$%s", salt) },
    { "ln below floor", g_strdup_printf ("$scrypt$ln=9,r=8,p=1$%s$%s", salt, hash) },
    { "ln too large", g_strdup_printf ("$scrypt$ln=21,r=8,p=1$%s$%s", salt, hash) },
    { "ln not a number", g_strdup_printf ("$scrypt$ln=ten,r=8,p=1$%s$%s", salt, hash) },
    { "ln signed", g_strdup_printf ("$scrypt$ln=+10,r=8,p=1$%s$%s", salt, hash) },
    { "r zero", g_strdup_printf ("$scrypt$ln=10,r=0,p=1$%s$%s", salt, hash) },
    { "p zero", g_strdup_printf ("$scrypt$ln=10,r=8,p=0$%s$%s", salt, hash) },
    { "params reordered", g_strdup_printf ("$scrypt$r=8,ln=10,p=1$%s$%s", salt, hash) },
    { "missing param", g_strdup_printf ("$scrypt$ln=10,r=8$%s$%s", salt, hash) },
    { "extra param", g_strdup_printf ("$scrypt$ln=10,r=8,p=1,x=1$%s$%s", salt, hash) },
    { "salt not base64", g_strdup_printf ("$scrypt$ln=10,r=8,p=1$%s$%s", "!!!!!!!!!!!!!!!!!!!!!!!!", hash) },
    { "salt short", g_strdup_printf ("$scrypt$ln=10,r=8,p=1$%s$%s", short_salt, hash) },
    { "hash short", g_strdup_printf ("$scrypt$ln=10,r=8,p=1$%s$%s", salt, short_hash) },
    { "hash with junk", g_strdup_printf ("$scrypt$ln=10,r=8,p=1$%s$%s\n", salt, hash) },
    { "empty salt", g_strdup_printf ("$scrypt$ln=10,r=8,p=1$$%s", hash) },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_test_message ("malformed: %s", cases[i].why);
    g_assert_false (tv_password_verify ("some password", cases[i].text, &error));
    g_assert_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_MALFORMED);
    g_free (cases[i].text);
  }
  g_autoptr (GError) error = NULL;
  g_assert_false (tv_password_verify ("some password", NULL, &error));
  g_assert_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_MALFORMED);
  /* The good one still verifies: the cases above differ only where they say. */
  g_assert_true (tv_password_verify ("some password", good, NULL));
}

static void
test_policy (void)
{
  g_autofree char *long_pw = g_strnfill (TV_PASSWORD_MAX_BYTES + 1, 'a');
  g_autofree char *max_pw = g_strnfill (TV_PASSWORD_MAX_BYTES, 'a');
  const char *bad[] = { "", "pw5ch", "1234567", "with\ttab ok?", "new\nline 12", "\xff\xfe invalid utf8", long_pw };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (tv_password_check_policy (bad[i], &error));
    g_assert_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY);
    /* The message never repeats the password. */
    if (strlen (bad[i]) > 3)
      g_assert_null (strstr (error->message, bad[i]));
    g_clear_error (&error);
    g_assert_null (tv_password_hash (bad[i], &error));
    g_assert_error (error, TV_PASSWORD_ERROR, TV_PASSWORD_ERR_POLICY);
  }
  /* Eight characters (not bytes) is the minimum: "éééééééé" is 16 bytes, 8 chars. */
  const char *good[] = { "12345678", "éééééééé", "pass phrase with spaces", max_pw };
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (tv_password_check_policy (good[i], NULL));
  g_assert_false (tv_password_check_policy ("ééééééé", NULL));   /* 7 characters */
}

static void
test_generate (void)
{
  g_autofree char *a = tv_password_generate ();
  g_autofree char *b = tv_password_generate ();
  g_assert_cmpuint (strlen (a), ==, 22);
  g_assert_cmpstr (a, !=, b);
  g_assert_true (tv_password_check_policy (a, NULL));
  for (const char *c = a; *c; c++)
    g_assert_true (g_ascii_isalnum (*c) || *c == '-' || *c == '_');
}

static void
test_constant_time (void)
{
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_autofree char *h = tv_password_hash ("timing password", NULL);
  memcmp_calls_32 = 0;
  g_assert_true (tv_password_verify ("timing password", h, NULL));
  g_assert_cmpuint (memcmp_calls_32, >=, 1);
  memcmp_calls_32 = 0;
  g_assert_false (tv_password_verify ("timing passwore", h, NULL));
  g_assert_cmpuint (memcmp_calls_32, >=, 1);

  const guint8 x[4] = { 1, 2, 3, 4 }, y[4] = { 1, 2, 3, 5 };
  g_assert_true (tv_password_equal (x, 4, x, 4));
  g_assert_false (tv_password_equal (x, 4, y, 4));
  g_assert_false (tv_password_equal (x, 4, x, 3));
  g_assert_true (tv_password_equal (x, 0, y, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/password/roundtrip", test_roundtrip);
  g_test_add_func ("/password/default-cost", test_default_cost);
  g_test_add_func ("/password/env-floor", test_env_floor);
  g_test_add_func ("/password/salt-per-hash", test_salt_per_hash);
  g_test_add_func ("/password/malformed", test_malformed);
  g_test_add_func ("/password/policy", test_policy);
  g_test_add_func ("/password/generate", test_generate);
  g_test_add_func ("/password/constant-time", test_constant_time);
  return g_test_run ();
}
