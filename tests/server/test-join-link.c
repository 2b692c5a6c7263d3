/* test-join-link.c — re-creatable join links (server/tv-join-link.h).
 *
 * What: the derivation is stable and depends on every input; the key file is
 * created 0600 with 32 bytes, read back identically, and refused when group or
 * others may read it or when its size is wrong; a booking with the key set
 * gives tokens that tv_store_join_token_recreate gives back (and the store
 * still keeps only their hashes); a reschedule (even in the same µs) changes
 * the patient's link, the old link is refused by tv_store_token_lookup and
 * cannot be re-created, the doctor's is unchanged; consults made without a key
 * (legacy random tokens) answer NOT_FOUND; tv_store_consult_create derives
 * too. The store takes "now" as an argument, so a synthetic clock (2030)
 * makes every case deterministic.
 * Thread: main thread; alarm() watchdog.
 */
#define G_LOG_DOMAIN "test-join-link"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "server/tv-join-link.h"
#include "server/tv-schedule.h"
#include "server/tv-store-schedule.h"
#include "server/tv-store-users.h"

#define WATCHDOG_S 60

typedef struct {
  char *dir;
  char *key_path;
  TvStore *store;
  TvJoinLinkKey *key;
  char *doctor;
  char *patient;
} Fixture;

static gint64
t (const char *rfc3339)
{
  gint64 us = 0;
  g_assert_true (tv_schedule_parse_rfc3339 (rfc3339, "t", &us, NULL));
  return us;
}
#define NOW t ("2030-01-01T12:00:00Z")

static char *
user_ok (TvStore *store, const char *username, const char *display, guint roles, const char *tz)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvUser) u = NULL;
  g_assert_true (tv_store_user_create (store, username, display, roles, tz, 30, "$test$not-a-real-hash", NOW, &u,
                                       &error));
  g_assert_no_error (error);
  return g_strdup (u->id);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  alarm (WATCHDOG_S);
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("tv-join-link-XXXXXX", &error);
  g_assert_no_error (error);
  f->key_path = g_build_filename (f->dir, TV_JOIN_LINK_KEY_FILE, NULL);
  g_autofree char *db = g_build_filename (f->dir, "televisit.db", NULL);
  f->store = tv_store_open (db, &error);
  g_assert_no_error (error);
  f->doctor = user_ok (f->store, "dr.test", "Dr. Test Doctor", TV_ROLE_DOCTOR, "UTC");
  f->patient = user_ok (f->store, "pat.synthetic", "Pat Synthetic", TV_ROLE_PATIENT, NULL);
  TvWeeklyRange week[5];
  for (guint d = 0; d < 5; d++)
    week[d] = (TvWeeklyRange) { d + 1, 9 * 60, 12 * 60 };
  g_assert_true (tv_store_availability_set (f->store, f->doctor, week, 5, NOW, &error));
  g_assert_no_error (error);
  f->key = tv_join_link_key_load_or_create (f->key_path, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  tv_store_close (f->store);
  tv_join_link_key_free (f->key);
  g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *p = g_build_filename (f->dir, name, NULL);
    g_remove (p);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->key_path);
  g_free (f->doctor);
  g_free (f->patient);
  alarm (0);
}

static char *
recreate_ok (TvStore *store, const char *consult, const char *role)
{
  g_autoptr (GError) error = NULL;
  char *tok = NULL;
  g_assert_true (tv_store_join_token_recreate (store, consult, role, &tok, &error));
  g_assert_no_error (error);
  g_assert_true (tv_store_token_is_wellformed (tok));
  return tok;
}

static void
recreate_fails (TvStore *store, const char *consult, const char *role, int code)
{
  g_autoptr (GError) error = NULL;
  char *tok = NULL;
  g_assert_false (tv_store_join_token_recreate (store, consult, role, &tok, &error));
  g_assert_error (error, TV_STORE_ERROR, code);
  g_assert_null (tok);
}

static void
lookup_ok (TvStore *store, const char *token, const char *consult, TvSigRole role)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = NULL;
  TvSigRole got = 0;
  g_assert_true (tv_store_token_lookup (store, token, NOW, &id, &got, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (id, ==, consult);
  g_assert_cmpint (got, ==, role);
}

/* Counts rows of join_tokens whose sha256 column equals @text (a token in clear would match nothing). */
static int
rows_with_hash (Fixture *f, const char *text)
{
  g_autofree char *db = g_build_filename (f->dir, "televisit.db", NULL);
  sqlite3 *raw = NULL;
  g_assert_cmpint (sqlite3_open_v2 (db, &raw, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  sqlite3_stmt *st = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (raw, "SELECT count(*) FROM join_tokens WHERE sha256 = ?1 OR consult_id = ?1",
                                       -1, &st, NULL), ==, SQLITE_OK);
  sqlite3_bind_text (st, 1, text, -1, SQLITE_TRANSIENT);
  g_assert_cmpint (sqlite3_step (st), ==, SQLITE_ROW);
  int n = sqlite3_column_int (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (raw);
  return n;
}

static void
test_derivation_stable (Fixture *f, gconstpointer data)
{
  const char *id = "0b7e6a52-8f1c-4c4e-9d7e-2f0d6b1a9c01";
  g_autofree char *a = tv_join_link_token (f->key, id, "patient", 1000);
  g_autofree char *b = tv_join_link_token (f->key, id, "patient", 1000);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpuint (strlen (a), ==, TV_STORE_TOKEN_CHARS);
  g_assert_true (tv_store_token_is_wellformed (a));
  g_autofree char *other_role = tv_join_link_token (f->key, id, "doctor", 1000);
  g_autofree char *other_time = tv_join_link_token (f->key, id, "patient", 1001);
  g_autofree char *other_id = tv_join_link_token (f->key, "0b7e6a52-8f1c-4c4e-9d7e-2f0d6b1a9c02", "patient", 1000);
  g_assert_cmpstr (a, !=, other_role);
  g_assert_cmpstr (a, !=, other_time);
  g_assert_cmpstr (a, !=, other_id);

  /* The same file gives the same key; another file another key. */
  g_autoptr (GError) error = NULL;
  g_autoptr (TvJoinLinkKey) again = tv_join_link_key_load_or_create (f->key_path, &error);
  g_assert_no_error (error);
  g_autofree char *c = tv_join_link_token (again, id, "patient", 1000);
  g_assert_cmpstr (a, ==, c);
  g_autofree char *path2 = g_build_filename (f->dir, "other.key", NULL);
  g_autoptr (TvJoinLinkKey) k2 = tv_join_link_key_load_or_create (path2, &error);
  g_assert_no_error (error);
  g_autofree char *d = tv_join_link_token (k2, id, "patient", 1000);
  g_assert_cmpstr (a, !=, d);
}

/* The derivation itself, against a value computed elsewhere (Python's hmac
 * module): a token issued by any version of the server must be re-created
 * byte for byte by any later one, whatever OpenSSL calls make the HMAC. */
static void
test_derivation_known_answer (Fixture *f, gconstpointer data)
{
  guint8 raw[TV_JOIN_LINK_KEY_BYTES];
  for (guint i = 0; i < sizeof raw; i++)
    raw[i] = (guint8) i;
  g_autofree char *path = g_build_filename (f->dir, "known.key", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents_full (path, (const char *) raw, sizeof raw, G_FILE_SET_CONTENTS_NONE, 0600,
                                           &error));
  g_assert_no_error (error);
  g_autoptr (TvJoinLinkKey) key = tv_join_link_key_load_or_create (path, &error);
  g_assert_no_error (error);
  /* base64url (HMAC-SHA256 (00 01 .. 1f, "televisit-join-v1" NUL id NUL "patient" NUL "1764400000000000" NUL)) */
  const char *want = "NpBSPf_kJOnZNGtAWvnllStwGzhVBWLnbw_axB3HtX0";
  const char *id = "0a1b2c3d-0000-4000-8000-00000000beef";
  g_autofree char *tok = tv_join_link_token (key, id, "patient", G_GINT64_CONSTANT (1764400000000000));
  g_assert_cmpstr (tok, ==, want);
  g_autofree char *again = tv_join_link_token (key, id, "patient", G_GINT64_CONSTANT (1764400000000000));
  g_assert_cmpstr (again, ==, want);
  g_autoptr (TvJoinLinkKey) copy = tv_join_link_key_dup (key);
  g_autofree char *from_copy = tv_join_link_token (copy, id, "patient", G_GINT64_CONSTANT (1764400000000000));
  g_assert_cmpstr (from_copy, ==, want);
}

static void
test_key_file (Fixture *f, gconstpointer data)
{
  GStatBuf sb;
  g_assert_cmpint (g_stat (f->key_path, &sb), ==, 0);
  g_assert_cmpint (sb.st_mode & 0777, ==, 0600);
  g_assert_cmpint (sb.st_size, ==, TV_JOIN_LINK_KEY_BYTES);

  g_autoptr (GError) error = NULL;
  /* Wider permissions: refused, with the reason. */
  const int wide[] = { 0640, 0604, 0660, 0644 };
  for (gsize i = 0; i < G_N_ELEMENTS (wide); i++) {
    g_assert_cmpint (g_chmod (f->key_path, wide[i]), ==, 0);
    TvJoinLinkKey *k = tv_join_link_key_load_or_create (f->key_path, &error);
    g_assert_null (k);
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM);
    g_assert_nonnull (strstr (error->message, "group or others"));
    g_clear_error (&error);
  }
  /* tv_join_link_attach refuses too, naming the file. */
  g_assert_false (tv_join_link_attach (f->store, f->dir, &error));
  g_assert_nonnull (strstr (error->message, TV_JOIN_LINK_KEY_FILE));
  g_clear_error (&error);
  g_assert_cmpint (g_chmod (f->key_path, 0400), ==, 0);   /* owner-only read is fine */
  g_autoptr (TvJoinLinkKey) ro = tv_join_link_key_load_or_create (f->key_path, &error);
  g_assert_no_error (error);

  /* Wrong size: refused. */
  g_autofree char *short_path = g_build_filename (f->dir, "short.key", NULL);
  g_assert_true (g_file_set_contents_full (short_path, "0123456789", 10, G_FILE_SET_CONTENTS_NONE, 0600, &error));
  g_assert_null (tv_join_link_key_load_or_create (short_path, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL);
  g_clear_error (&error);

  /* A directory in the way: refused. */
  g_autofree char *dir_path = g_build_filename (f->dir, "dir.key", NULL);
  g_assert_cmpint (g_mkdir (dir_path, 0700), ==, 0);
  g_assert_null (tv_join_link_key_load_or_create (dir_path, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_rmdir (dir_path);
}

static void
test_booking_recreate (Fixture *f, gconstpointer data)
{
  tv_store_set_join_link_key (f->store, f->key);
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dtok = NULL, *ptok = NULL;
  g_assert_true (tv_store_consult_book (f->store, f->doctor, f->patient, t ("2030-01-07T09:00:00Z"), NULL, NOW, &c,
                                        &dtok, &ptok, &error));
  g_assert_no_error (error);
  g_autofree char *p1 = recreate_ok (f->store, c->id, "patient");
  g_autofree char *d1 = recreate_ok (f->store, c->id, "doctor");
  g_assert_cmpstr (p1, ==, ptok);
  g_assert_cmpstr (d1, ==, dtok);
  g_assert_cmpstr (p1, !=, d1);
  /* Only hashes are stored. */
  g_assert_cmpint (rows_with_hash (f, ptok), ==, 0);
  g_autofree char *ph = g_compute_checksum_for_string (G_CHECKSUM_SHA256, ptok, -1);
  g_assert_cmpint (rows_with_hash (f, ph), ==, 1);
  /* The key is independent of the store object: a second store on the same
   * file with the key loaded from the file re-creates the same link. */
  {
    g_autofree char *db = g_build_filename (f->dir, "televisit.db", NULL);
    g_autoptr (TvStore) s2 = tv_store_open (db, &error);
    g_assert_no_error (error);
    recreate_fails (s2, c->id, "patient", TV_STORE_ERR_NOT_FOUND);   /* no key yet */
    g_assert_true (tv_join_link_attach (s2, f->dir, &error));
    g_assert_no_error (error);
    g_autofree char *p2 = recreate_ok (s2, c->id, "patient");
    g_assert_cmpstr (p2, ==, ptok);
  }

  /* Reschedule in the same µs as the booking: the patient's link changes. */
  g_autoptr (TvConsult) moved = NULL;
  g_autofree char *ptok2 = NULL;
  g_assert_true (tv_store_consult_reschedule (f->store, c->id, t ("2030-01-07T10:00:00Z"), NOW, &moved, &ptok2,
                                              &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ptok2, !=, ptok);
  g_autofree char *p3 = recreate_ok (f->store, c->id, "patient");
  g_assert_cmpstr (p3, ==, ptok2);
  g_autofree char *d3 = recreate_ok (f->store, c->id, "doctor");
  g_assert_cmpstr (d3, ==, dtok);
  /* The old link is refused; the new one and the doctor's work. */
  g_autofree char *id = NULL;
  TvSigRole role = 0;
  g_assert_false (tv_store_token_lookup (f->store, ptok, NOW, &id, &role, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN);
  g_clear_error (&error);
  lookup_ok (f->store, ptok2, c->id, TV_SIG_ROLE_PATIENT);
  lookup_ok (f->store, dtok, c->id, TV_SIG_ROLE_DOCTOR);

  /* A later reschedule changes it again. */
  g_autoptr (TvConsult) moved2 = NULL;
  g_autofree char *ptok3 = NULL;
  g_assert_true (tv_store_consult_reschedule (f->store, c->id, t ("2030-01-08T10:00:00Z"), NOW + 5, &moved2, &ptok3,
                                              &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ptok3, !=, ptok2);
  g_autofree char *p4 = recreate_ok (f->store, c->id, "patient");
  g_assert_cmpstr (p4, ==, ptok3);

  /* A rotated key re-creates nothing (the issued tokens still work by hash). */
  g_autofree char *path2 = g_build_filename (f->dir, "rotated.key", NULL);
  g_autoptr (TvJoinLinkKey) k2 = tv_join_link_key_load_or_create (path2, &error);
  g_assert_no_error (error);
  tv_store_set_join_link_key (f->store, k2);
  recreate_fails (f->store, c->id, "patient", TV_STORE_ERR_NOT_FOUND);
  lookup_ok (f->store, ptok3, c->id, TV_SIG_ROLE_PATIENT);
}

static void
test_legacy_and_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  /* Without a key: random tokens, which can never be re-created. */
  g_autoptr (TvConsult) c = NULL;
  g_autofree char *dtok = NULL, *ptok = NULL;
  g_assert_true (tv_store_consult_book (f->store, f->doctor, f->patient, t ("2030-01-07T09:00:00Z"), NULL, NOW, &c,
                                        &dtok, &ptok, &error));
  g_assert_no_error (error);
  recreate_fails (f->store, c->id, "patient", TV_STORE_ERR_NOT_FOUND);
  tv_store_set_join_link_key (f->store, f->key);
  recreate_fails (f->store, c->id, "patient", TV_STORE_ERR_NOT_FOUND);
  recreate_fails (f->store, c->id, "doctor", TV_STORE_ERR_NOT_FOUND);
  lookup_ok (f->store, ptok, c->id, TV_SIG_ROLE_PATIENT);   /* still valid for joining */

  /* Bad arguments and unknown consults. */
  recreate_fails (f->store, c->id, "admin", TV_STORE_ERR_INVALID);
  recreate_fails (f->store, c->id, NULL, TV_STORE_ERR_INVALID);
  recreate_fails (f->store, "", "patient", TV_STORE_ERR_INVALID);
  recreate_fails (f->store, "00000000-0000-4000-8000-000000000000", "patient", TV_STORE_ERR_NOT_FOUND);

  /* tv_store_consult_create (televisitctl create) derives with the key. */
  g_autoptr (TvConsult) c2 = NULL;
  g_autofree char *dtok2 = NULL, *ptok2 = NULL;
  g_assert_true (tv_store_consult_create (f->store, "Dr. Test Doctor", "Pat Synthetic", t ("2030-01-02T09:00:00Z"),
                                          t ("2030-01-03T09:00:00Z"), NOW, &c2, &dtok2, &ptok2, &error));
  g_assert_no_error (error);
  g_autofree char *p = recreate_ok (f->store, c2->id, "patient");
  g_autofree char *d = recreate_ok (f->store, c2->id, "doctor");
  g_assert_cmpstr (p, ==, ptok2);
  g_assert_cmpstr (d, ==, dtok2);

  /* Cancelling keeps the row (the consult refuses joins itself). */
  g_assert_true (tv_store_consult_cancel (f->store, c2->id, "cancelled-by-admin", NOW + 1, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add ("/join-link/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("derivation-stable", test_derivation_stable);
  ADD ("derivation-known-answer", test_derivation_known_answer);
  ADD ("key-file", test_key_file);
  ADD ("booking-recreate", test_booking_recreate);
  ADD ("legacy-and-errors", test_legacy_and_errors);
  return g_test_run ();
}
