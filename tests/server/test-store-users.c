/* test-store-users.c — accounts in the store (schema v2): users and roles,
 * sessions (idle timeout and absolute expiry driven with explicit times),
 * disabling and password changes ending sessions, login-failure throttling,
 * the v1 -> v2 migration with consults in it, all-or-nothing writes, and the
 * same answers from a connection whose page cache is far smaller than the
 * data (tv_store_set_cache_limit, as the server's main connection has).
 *
 * Why: the HTTP layer trusts these answers; time is an argument here, so the
 * timeouts are tested to the microsecond without waiting.
 * Thread: main thread only.
 */
#define G_LOG_DOMAIN "test-store-users"

#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib.h>
#include <sqlite3.h>

#include "server/tv-password.h"
#include "server/tv-store-users.h"

#define T0 ((gint64) 1800000000 * G_USEC_PER_SEC)
#define SEC ((gint64) G_USEC_PER_SEC)
#define MIN_US (60 * SEC)
#define HASH "$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static const char *self_path;

typedef struct {
  char *dir;
  char *path;
  TvStore *store;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("tv-store-users-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "televisit.db", NULL);
  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  tv_store_close (f->store);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->path);
  g_free (f->dir);
}

static gint64
raw_int (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  gint64 v = -1;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &st, NULL), ==, SQLITE_OK);
  if (sqlite3_step (st) == SQLITE_ROW)
    v = sqlite3_column_int64 (st, 0);
  sqlite3_finalize (st);
  sqlite3_close (db);
  return v;
}

static void
raw_exec (const char *path, const char *sql)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static TvUser *
make_user (Fixture *f, const char *username, guint roles)
{
  g_autoptr (GError) error = NULL;
  TvUser *u = NULL;
  g_assert_true (tv_store_user_create (f->store, username, "Pat Synthetic", roles, NULL, 0, HASH, T0, &u, &error));
  g_assert_no_error (error);
  return u;
}

/* ---- users -------------------------------------------------------------------- */

static void
test_user_create_get (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvUser) u = NULL;
  g_assert_true (tv_store_user_create (f->store, "dr.test-1", "Dr. Test Doctor", TV_ROLE_DOCTOR | TV_ROLE_ADMIN,
                                       "Europe/Berlin", 20, HASH, T0, &u, &error));
  g_assert_no_error (error);
  g_assert_true (g_uuid_string_is_valid (u->id));

  g_autoptr (TvUser) by_id = NULL, by_name = NULL;
  g_autofree char *hash = NULL;
  g_assert_true (tv_store_user_get (f->store, u->id, &by_id, &error));
  g_assert_true (tv_store_user_get_by_username (f->store, "dr.test-1", &by_name, &hash, &error));
  g_assert_cmpstr (hash, ==, HASH);
  for (TvUser *x = by_id; x != NULL; x = x == by_id ? by_name : NULL) {
    g_assert_cmpstr (x->id, ==, u->id);
    g_assert_cmpstr (x->username, ==, "dr.test-1");
    g_assert_cmpstr (x->display_name, ==, "Dr. Test Doctor");
    g_assert_cmpuint (x->roles, ==, TV_ROLE_DOCTOR | TV_ROLE_ADMIN);
    g_assert_cmpstr (x->time_zone, ==, "Europe/Berlin");
    g_assert_cmpuint (x->slot_minutes, ==, 20);
    g_assert_false (x->disabled);
  }
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM user_roles"), ==, 2);

  g_assert_false (tv_store_user_get (f->store, "00000000-0000-4000-8000-000000000000", NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (tv_store_user_get_by_username (f->store, "nobody", NULL, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
}

static void
test_user_invalid (Fixture *f, gconstpointer data)
{
  g_autofree char *long_name = g_strnfill (65, 'a');
  g_autofree char *long_display = g_strnfill (201, 'x');
  const struct {
    const char *why, *username, *display, *tz;
    guint roles, slot;
    const char *hash;
  } cases[] = {
    { "username too short", "ab", "Pat", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "username too long", long_name, "Pat", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "username upper case", "Patient", "Pat", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "username space", "pat one", "Pat", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "username slash", "pat/1", "Pat", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "username NULL", NULL, "Pat", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "display empty", "pat1", "", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "display blank", "pat1", "   ", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "display too long", "pat1", long_display, NULL, TV_ROLE_PATIENT, 0, HASH },
    { "display control", "pat1", "Pat\nSynthetic", NULL, TV_ROLE_PATIENT, 0, HASH },
    { "no roles", "pat1", "Pat", NULL, 0, 0, HASH },
    { "unknown role bit", "pat1", "Pat", NULL, 1 << 9, 0, HASH },
    { "bad zone", "pat1", "Pat", "Mars/Olympus", TV_ROLE_DOCTOR, 0, HASH },
    { "zone path", "pat1", "Pat", "../../etc/passwd", TV_ROLE_DOCTOR, 0, HASH },
    { "zone posix string", "pat1", "Pat", "EST5EDT,M3.2.0,M11.1.0", TV_ROLE_DOCTOR, 0, HASH },
    { "slot too small", "pat1", "Pat", NULL, TV_ROLE_DOCTOR, 4, HASH },
    { "slot too large", "pat1", "Pat", NULL, TV_ROLE_DOCTOR, 121, HASH },
    { "empty hash", "pat1", "Pat", NULL, TV_ROLE_PATIENT, 0, "" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_test_message ("invalid: %s", cases[i].why);
    g_assert_false (tv_store_user_create (f->store, cases[i].username, cases[i].display, cases[i].roles,
                                          cases[i].tz, cases[i].slot, cases[i].hash, T0, NULL, &error));
    g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  }
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM users"), ==, 0);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM user_roles"), ==, 0);
}

static void
test_user_conflict (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) a = make_user (f, "pat.one", TV_ROLE_PATIENT);
  g_autoptr (GError) error = NULL;
  g_assert_false (tv_store_user_create (f->store, "pat.one", "Other", TV_ROLE_ADMIN, NULL, 0, HASH, T0, NULL,
                                        &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_CONFLICT);
  /* Nothing of the second attempt stays: one user, one role row. */
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM users"), ==, 1);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM user_roles"), ==, 1);
}

static void
test_user_list (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  tv_user_free (make_user (f, "pat.a", TV_ROLE_PATIENT));
  tv_user_free (make_user (f, "dr.b", TV_ROLE_DOCTOR));
  tv_user_free (make_user (f, "boss", TV_ROLE_ADMIN | TV_ROLE_SCHEDULER));
  g_assert_true (tv_store_user_create (f->store, "zed", "Zoë Ünicode", TV_ROLE_PATIENT, NULL, 0, HASH, T0, NULL,
                                       &error));
  g_autoptr (GPtrArray) all = tv_store_user_list (f->store, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 4);
  g_autoptr (GPtrArray) pats = tv_store_user_list (f->store, TV_ROLE_PATIENT, NULL, &error);
  g_assert_cmpuint (pats->len, ==, 2);
  g_autoptr (GPtrArray) staff = tv_store_user_list (f->store, TV_ROLE_SCHEDULER | TV_ROLE_DOCTOR, NULL, &error);
  g_assert_cmpuint (staff->len, ==, 2);
  g_autoptr (GPtrArray) q = tv_store_user_list (f->store, 0, "ÜNICODE", &error);
  g_assert_cmpuint (q->len, ==, 1);
  g_assert_cmpstr (((TvUser *) g_ptr_array_index (q, 0))->username, ==, "zed");
  g_autoptr (GPtrArray) q2 = tv_store_user_list (f->store, TV_ROLE_DOCTOR, "dr.", &error);
  g_assert_cmpuint (q2->len, ==, 1);
  g_autoptr (GPtrArray) none = tv_store_user_list (f->store, 0, "no such text", &error);
  g_assert_cmpuint (none->len, ==, 0);
}

static void
test_patients_of (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) doc = make_user (f, "dr.one", TV_ROLE_DOCTOR);
  g_autoptr (TvUser) other = make_user (f, "dr.two", TV_ROLE_DOCTOR);
  g_autoptr (TvUser) p1 = make_user (f, "pat.one", TV_ROLE_PATIENT);
  g_autoptr (TvUser) p2 = make_user (f, "pat.two", TV_ROLE_PATIENT);
  g_autoptr (GError) error = NULL;
  /* A consult of dr.one with pat.one (booked: the ids are set), and one of dr.two with pat.two. */
  const struct { TvUser *d, *p; } links[] = { { doc, p1 }, { other, p2 } };
  for (guint i = 0; i < G_N_ELEMENTS (links); i++) {
    g_autoptr (TvConsult) c = NULL;
    g_autofree char *dt = NULL, *pt = NULL;
    g_assert_true (tv_store_consult_create (f->store, "Dr. Test Doctor", "Pat Synthetic", T0 + i * 3600 * SEC,
                                            T0 + 48 * 3600 * SEC, T0, &c, &dt, &pt, &error));
    g_autofree char *sql = g_strdup_printf ("UPDATE consults SET doctor_id = '%s', patient_id = '%s',"
                                            " scheduled_end = scheduled_start + 900000000 WHERE id = '%s'",
                                            links[i].d->id, links[i].p->id, c->id);
    raw_exec (f->path, sql);
  }
  g_assert_true (tv_store_user_is_patient_of (f->store, doc->id, p1->id));
  g_assert_false (tv_store_user_is_patient_of (f->store, doc->id, p2->id));
  g_assert_false (tv_store_user_is_patient_of (f->store, p1->id, doc->id));
  g_autoptr (GPtrArray) mine = tv_store_user_list_patients_of (f->store, doc->id, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (mine->len, ==, 1);
  g_assert_cmpstr (((TvUser *) g_ptr_array_index (mine, 0))->id, ==, p1->id);
  g_autoptr (GPtrArray) none = tv_store_user_list_patients_of (f->store, doc->id, "pat.two", &error);
  g_assert_cmpuint (none->len, ==, 0);
  g_autoptr (GPtrArray) nobody = tv_store_user_list_patients_of (f->store, p1->id, NULL, &error);
  g_assert_cmpuint (nobody->len, ==, 0);
}

/* ---- sessions -------------------------------------------------------------------- */

static char *
open_session (Fixture *f, const char *user_id, gint64 idle, gint64 life, gint64 now, TvSession **out)
{
  g_autoptr (GError) error = NULL;
  char *token = NULL;
  g_assert_true (tv_store_session_create (f->store, user_id, "127.0.0.1", idle, life, now, &token, out, &error));
  g_assert_no_error (error);
  g_assert_true (tv_store_token_is_wellformed (token));
  return token;
}

static void
expect_lookup (Fixture *f, const char *token, gint64 now, int code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvSession) s = NULL;
  g_autoptr (TvUser) u = NULL;
  gboolean ok = tv_store_session_lookup (f->store, token, now, &s, &u, &error);
  if (code < 0) {
    g_assert_no_error (error);
    g_assert_true (ok);
    g_assert_nonnull (s);
    g_assert_nonnull (u);
    g_assert_cmpstr (s->user_id, ==, u->id);
  } else {
    g_assert_false (ok);
    g_assert_error (error, TV_STORE_ERROR, code);
  }
}

static void
test_session_basic (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) u = make_user (f, "pat.s", TV_ROLE_PATIENT);
  g_autoptr (TvSession) s = NULL;
  g_autofree char *token = open_session (f, u->id, 15 * MIN_US, 12 * 60 * MIN_US, T0, &s);
  g_assert_cmpint (s->expires_at, ==, T0 + 12 * 60 * MIN_US);
  /* Only the hash is stored. */
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM sessions WHERE sha256 = '%s'", s->key);
  g_assert_cmpint (raw_int (f->path, sql), ==, 1);
  g_autofree char *leak = g_strdup_printf ("SELECT count(*) FROM sessions WHERE sha256 = '%s'", token);
  g_assert_cmpint (raw_int (f->path, leak), ==, 0);

  expect_lookup (f, token, T0 + SEC, -1);
  expect_lookup (f, "not-a-token", T0, TV_STORE_ERR_TOKEN_UNKNOWN);
  expect_lookup (f, NULL, T0, TV_STORE_ERR_TOKEN_UNKNOWN);
  g_autofree char *other = g_strnfill (TV_STORE_TOKEN_CHARS, 'A');
  expect_lookup (f, other, T0, TV_STORE_ERR_TOKEN_UNKNOWN);

  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_session_end (f->store, s->key, "logout", T0 + 2 * SEC, &error));
  expect_lookup (f, token, T0 + 3 * SEC, TV_STORE_ERR_TOKEN_UNKNOWN);
  /* Ending twice changes nothing. */
  g_assert_true (tv_store_session_end (f->store, s->key, "logout", T0 + 4 * SEC, &error));
  g_assert_cmpint (raw_int (f->path, "SELECT ended_at FROM sessions"), ==, T0 + 2 * SEC);
  g_assert_false (tv_store_session_end (f->store, "0000", "logout", T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
}

static void
test_session_idle (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) u = make_user (f, "pat.i", TV_ROLE_PATIENT);
  gint64 idle = 15 * MIN_US;
  g_autofree char *token = open_session (f, u->id, idle, 12 * 60 * MIN_US, T0, NULL);
  /* Exactly at the idle limit: still fine, and the use refreshes last_seen. */
  expect_lookup (f, token, T0 + idle, -1);
  g_assert_cmpint (raw_int (f->path, "SELECT last_seen FROM sessions"), ==, T0 + idle);
  /* Activity keeps it alive well past one idle period from login. */
  expect_lookup (f, token, T0 + 2 * idle, -1);
  expect_lookup (f, token, T0 + 3 * idle, -1);
  /* One microsecond more than the timeout since the last use: ended, "idle". */
  expect_lookup (f, token, T0 + 4 * idle + 1, TV_STORE_ERR_TOKEN_EXPIRED);
  g_assert_cmpint (raw_int (f->path, "SELECT ended_at FROM sessions"), ==, T0 + 4 * idle + 1);
  g_assert_cmpint (raw_int (f->path, "SELECT end_reason = 'idle' FROM sessions"), ==, 1);
  /* It stays expired (not merely unknown), even if used "in time" again. */
  expect_lookup (f, token, T0 + 4 * idle + 2, TV_STORE_ERR_TOKEN_EXPIRED);
}

static void
test_session_touch_margin (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) u = make_user (f, "pat.m", TV_ROLE_PATIENT);
  g_autofree char *token = open_session (f, u->id, 15 * MIN_US, 12 * 60 * MIN_US, T0, NULL);
  /* Within 30 s of the last write no write happens ... */
  expect_lookup (f, token, T0 + 29 * SEC, -1);
  g_assert_cmpint (raw_int (f->path, "SELECT last_seen FROM sessions"), ==, T0);
  /* ... from 30 s on it does. */
  expect_lookup (f, token, T0 + 30 * SEC, -1);
  g_assert_cmpint (raw_int (f->path, "SELECT last_seen FROM sessions"), ==, T0 + 30 * SEC);
  /* A short idle timeout (20 s) uses a tenth of it as the margin (2 s). */
  g_autofree char *t2 = open_session (f, u->id, 20 * SEC, MIN_US, T0, NULL);
  expect_lookup (f, t2, T0 + 2 * SEC, -1);
  expect_lookup (f, t2, T0 + 21 * SEC, -1);
  expect_lookup (f, t2, T0 + 41 * SEC + 1, TV_STORE_ERR_TOKEN_EXPIRED);
}

static void
test_session_absolute (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) u = make_user (f, "pat.a", TV_ROLE_PATIENT);
  gint64 life = 60 * MIN_US;
  g_autofree char *token = open_session (f, u->id, 15 * MIN_US, life, T0, NULL);
  /* Used every 10 minutes: never idle, but the absolute expiry still ends it. */
  for (gint64 t = T0 + 10 * MIN_US; t < T0 + life; t += 10 * MIN_US)
    expect_lookup (f, token, t, -1);
  expect_lookup (f, token, T0 + life - 1, -1);
  expect_lookup (f, token, T0 + life, TV_STORE_ERR_TOKEN_EXPIRED);
  g_assert_cmpint (raw_int (f->path, "SELECT end_reason = 'expired' FROM sessions"), ==, 1);
}

static void
test_session_invalid (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) u = make_user (f, "pat.v", TV_ROLE_PATIENT);
  g_autoptr (GError) error = NULL;
  char *token = NULL;
  g_assert_false (tv_store_session_create (f->store, u->id, NULL, 0, MIN_US, T0, &token, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_assert_false (tv_store_session_create (f->store, u->id, NULL, MIN_US, MIN_US, 0, &token, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
  g_clear_error (&error);
  g_assert_false (tv_store_session_create (f->store, "00000000-0000-4000-8000-000000000000", NULL, MIN_US, MIN_US,
                                           T0, &token, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
  g_assert_null (token);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM sessions"), ==, 0);
}

/* tv_store_set_cache_limit (the server bounds its main connection's cache to
 * 256 KiB): with a cache far smaller than the sessions' pages, every answer is
 * the same — each session is found, one ended through this connection or
 * through another one (as the store writer thread or televisitctl would) is
 * refused — and the cache stays within its bound. */
static void
test_session_small_cache (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_set_cache_limit (f->store, 64, &error));   /* ~15 pages */
  g_assert_no_error (error);
  g_autoptr (TvUser) u = make_user (f, "pat.c", TV_ROLE_PATIENT);
  enum { N = 800 };
  char *tokens[N];
  TvSession *sessions[N];
  for (guint i = 0; i < N; i++)
    tokens[i] = open_session (f, u->id, 15 * MIN_US, 60 * MIN_US, T0, &sessions[i]);
  /* More than the bound was read: 800 rows and their index entries. */
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM sessions"), ==, N);
  g_assert_cmpint (raw_int (f->path, "PRAGMA page_count"), >, 32);
  for (guint i = 0; i < N; i++)
    expect_lookup (f, tokens[i], T0 + SEC, -1);
  /* 64 KiB of pages, plus SQLite's per-page headers and the few pages a
   * statement holds while it steps (measured: ~84,000 bytes). */
  gsize bound = 128 * 1024;
  g_assert_cmpuint (tv_store_cache_used (f->store), <=, bound);

  /* Ended here, then looked up in reverse order (other pages first): refused. */
  g_assert_true (tv_store_session_end (f->store, sessions[1]->key, "logout", T0 + 2 * SEC, &error));
  g_assert_no_error (error);
  for (guint i = N; i-- > 2;)
    expect_lookup (f, tokens[i], T0 + 3 * SEC, -1);
  expect_lookup (f, tokens[1], T0 + 3 * SEC, TV_STORE_ERR_TOKEN_UNKNOWN);

  /* Ended through a second connection while this one has just read the row:
   * refused here too; the others are still found. */
  expect_lookup (f, tokens[2], T0 + 4 * SEC, -1);
  {
    g_autoptr (TvStore) other = tv_store_open (f->path, &error);
    g_assert_no_error (error);
    g_assert_true (tv_store_session_end (other, sessions[2]->key, "logout", T0 + 5 * SEC, &error));
    g_assert_no_error (error);
  }
  expect_lookup (f, tokens[2], T0 + 6 * SEC, TV_STORE_ERR_TOKEN_UNKNOWN);
  for (guint i = 3; i < N; i++)
    expect_lookup (f, tokens[i], T0 + 7 * SEC, -1);
  g_assert_cmpuint (tv_store_cache_used (f->store), <=, bound);

  /* The same reads through a connection with tv_store_open's 16 MiB cache
   * keep every page they touched: the bound above is the limit's doing. */
  {
    g_autoptr (TvStore) wide = tv_store_open (f->path, &error);
    g_assert_no_error (error);
    for (guint i = 3; i < N; i++) {
      g_autoptr (TvSession) s = NULL;
      g_assert_true (tv_store_session_lookup (wide, tokens[i], T0 + 8 * SEC, &s, NULL, &error));
      g_assert_no_error (error);
    }
    g_assert_cmpuint (tv_store_cache_used (wide), >, bound);   /* ~250,000 */
  }

  for (guint i = 0; i < N; i++) {
    g_free (tokens[i]);
    tv_session_free (sessions[i]);
  }
}

static void
test_disable_ends_sessions (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) u = make_user (f, "pat.d", TV_ROLE_PATIENT);
  g_autoptr (TvUser) other = make_user (f, "pat.o", TV_ROLE_PATIENT);
  g_autofree char *t1 = open_session (f, u->id, 15 * MIN_US, 60 * MIN_US, T0, NULL);
  g_autofree char *t2 = open_session (f, u->id, 15 * MIN_US, 60 * MIN_US, T0, NULL);
  g_autofree char *t3 = open_session (f, other->id, 15 * MIN_US, 60 * MIN_US, T0, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (tv_store_session_count_open (f->store, u->id, &error), ==, 2);
  g_assert_true (tv_store_user_set_disabled (f->store, u->id, TRUE, T0 + SEC, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tv_store_session_count_open (f->store, u->id, &error), ==, 0);
  expect_lookup (f, t1, T0 + 2 * SEC, TV_STORE_ERR_TOKEN_UNKNOWN);
  expect_lookup (f, t2, T0 + 2 * SEC, TV_STORE_ERR_TOKEN_UNKNOWN);
  expect_lookup (f, t3, T0 + 2 * SEC, -1);   /* someone else's session is untouched */
  g_autoptr (TvUser) again = NULL;
  g_assert_true (tv_store_user_get (f->store, u->id, &again, &error));
  g_assert_true (again->disabled);
  /* Re-enabling does not bring old sessions back. */
  g_assert_true (tv_store_user_set_disabled (f->store, u->id, FALSE, T0 + 3 * SEC, &error));
  expect_lookup (f, t1, T0 + 4 * SEC, TV_STORE_ERR_TOKEN_UNKNOWN);
  g_assert_false (tv_store_user_set_disabled (f->store, "00000000-0000-4000-8000-000000000000", TRUE, T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND);
}

static void
test_set_password_ends_sessions (Fixture *f, gconstpointer data)
{
  g_autoptr (TvUser) u = make_user (f, "pat.p", TV_ROLE_PATIENT);
  g_autofree char *t1 = open_session (f, u->id, 15 * MIN_US, 60 * MIN_US, T0, NULL);
  g_autoptr (GError) error = NULL;
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_autofree char *hash = tv_password_hash ("brand new password", NULL);
  g_assert_true (tv_store_user_set_password (f->store, u->id, hash, T0 + SEC, &error));
  g_assert_no_error (error);
  expect_lookup (f, t1, T0 + 2 * SEC, TV_STORE_ERR_TOKEN_UNKNOWN);
  g_assert_cmpint (raw_int (f->path, "SELECT end_reason = 'password-changed' FROM sessions"), ==, 1);
  g_autofree char *stored = NULL;
  g_assert_true (tv_store_user_get_by_username (f->store, "pat.p", NULL, &stored, &error));
  g_assert_true (tv_password_verify ("brand new password", stored, NULL));
  g_assert_false (tv_store_user_set_password (f->store, u->id, "", T0, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID);
}

/* ---- login failures ------------------------------------------------------------------ */

static gint64
throttle (Fixture *f, const char *username, const char *address, gint64 now)
{
  gint64 wait = -1;
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_login_throttle (f->store, username, address, now, &wait, &error));
  g_assert_no_error (error);
  return wait;
}

static void
fail (Fixture *f, const char *username, const char *address, gint64 now)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_login_failure_record (f->store, username, NULL, address, now, &error));
  g_assert_no_error (error);
}

static void
test_throttle (Fixture *f, gconstpointer data)
{
  /* Five failures are free. */
  for (int i = 0; i < 5; i++) {
    g_assert_cmpint (throttle (f, "pat.t", "10.0.0.1", T0 + i * SEC), ==, 0);
    fail (f, "pat.t", "10.0.0.1", T0 + i * SEC);
  }
  /* Then 1 s after the 5th, 2 s after the 6th, 4 s after the 7th ... */
  gint64 last = T0 + 4 * SEC;
  g_assert_cmpint (throttle (f, "pat.t", "10.0.0.1", last), ==, SEC);
  g_assert_cmpint (throttle (f, "pat.t", "10.0.0.1", last + SEC / 2), ==, SEC / 2);
  g_assert_cmpint (throttle (f, "pat.t", "10.0.0.1", last + SEC), ==, 0);
  fail (f, "pat.t", "10.0.0.1", last + SEC);
  last += SEC;
  g_assert_cmpint (throttle (f, "pat.t", "10.0.0.1", last), ==, 2 * SEC);
  fail (f, "pat.t", "10.0.0.1", last + 2 * SEC);
  last += 2 * SEC;
  g_assert_cmpint (throttle (f, "pat.t", "10.0.0.1", last), ==, 4 * SEC);
  /* Per account: another address is throttled too (the account is the target). */
  g_assert_cmpint (throttle (f, "pat.t", "10.9.9.9", last), ==, 4 * SEC);
  /* Per address: another username from the same address too. */
  g_assert_cmpint (throttle (f, "someone.else", "10.0.0.1", last), ==, 4 * SEC);
  /* Unrelated username and address: free. */
  g_assert_cmpint (throttle (f, "someone.else", "10.9.9.9", last), ==, 0);
  /* After the window (15 min) old failures no longer count. */
  g_assert_cmpint (throttle (f, "pat.t", "10.0.0.1", last + 15 * MIN_US + SEC), ==, 0);
  /* Success clears the username's failures, not the address's. */
  g_autoptr (GError) error = NULL;
  g_assert_true (tv_store_login_failures_clear (f->store, "pat.t", &error));
  g_assert_cmpint (throttle (f, "pat.t", "10.9.9.9", last), ==, 0);
  g_assert_cmpint (throttle (f, "other", "10.0.0.1", last), ==, 4 * SEC);
  /* Attempted usernames are stored hashed. */
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM login_failures WHERE username_sha256 LIKE '%pat%'"),
                   ==, 0);
}

static void
test_throttle_cap (Fixture *f, gconstpointer data)
{
  /* 30 failures in the window: the wait is capped at 15 minutes. */
  for (int i = 0; i < 30; i++)
    fail (f, "pat.c", "10.0.0.2", T0 + i * SEC);
  g_assert_cmpint (throttle (f, "pat.c", "10.0.0.2", T0 + 29 * SEC), ==, 15 * MIN_US);
}

/* ---- migration and crash safety ------------------------------------------------------------ */

static void
test_migrate_from_v1 (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tv-store-users-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "televisit.db", NULL);
  /* A v1 database as the first release wrote it, with a consult and its tokens. */
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  const char *v1 =
    "CREATE TABLE consults (id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36), doctor TEXT NOT NULL,"
    " patient TEXT NOT NULL, scheduled_start INTEGER NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL DEFAULT 0, ended_at INTEGER NOT NULL DEFAULT 0,"
    " connected_us INTEGER NOT NULL DEFAULT 0, media_up_since INTEGER NOT NULL DEFAULT 0, end_reason TEXT) STRICT;"
    "CREATE INDEX consults_by_start ON consults (scheduled_start);"
    "CREATE TABLE join_tokens (sha256 TEXT PRIMARY KEY NOT NULL, consult_id TEXT NOT NULL REFERENCES consults (id)"
    " ON DELETE CASCADE, role TEXT NOT NULL, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    " UNIQUE (consult_id, role)) STRICT;"
    "CREATE TABLE participation (id INTEGER PRIMARY KEY AUTOINCREMENT, consult_id TEXT NOT NULL REFERENCES"
    " consults (id) ON DELETE CASCADE, at INTEGER NOT NULL, role TEXT NOT NULL, event TEXT NOT NULL, detail TEXT)"
    " STRICT;"
    "CREATE INDEX participation_by_consult ON participation (consult_id, at, id);"
    "INSERT INTO consults (id, doctor, patient, scheduled_start, status, created_at) VALUES"
    " ('11111111-1111-4111-8111-111111111111', 'Dr. Test Doctor', 'Pat Synthetic', 1800000000000000,"
    " 'scheduled', 1800000000000000);"
    "PRAGMA user_version = 1;";
  g_assert_cmpint (sqlite3_exec (db, v1, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);

  g_autoptr (GError) error = NULL;
  TvStore *store = tv_store_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (tv_store_schema_version (store), ==, TV_STORE_SCHEMA_VERSION);
  g_autoptr (TvConsult) c = NULL;
  g_assert_true (tv_store_consult_get (store, "11111111-1111-4111-8111-111111111111", &c, &error));
  g_assert_cmpstr (c->doctor, ==, "Dr. Test Doctor");
  g_assert_cmpstr (c->patient, ==, "Pat Synthetic");
  g_assert_true (tv_store_user_create (store, "admin", "Ada Admin", TV_ROLE_ADMIN, NULL, 0, HASH, T0, NULL, &error));
  g_assert_no_error (error);
  tv_store_close (store);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (cmd), ==, 0);
}

static void
test_crash_mid_create (Fixture *f, gconstpointer data)
{
  /* A child process dies inside the transaction after the user row: nothing stays. */
  g_autoptr (GError) error = NULL;
  const char *argv[] = { self_path, "--crash-child", f->path, NULL };
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_setenv (l, "TV_STORE_FAULT", "user-create-after-user", TRUE);
  g_autoptr (GSubprocess) child = g_subprocess_launcher_spawnv (l, argv, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_wait (child, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (child));
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 99);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM users"), ==, 0);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM user_roles"), ==, 0);
}

static void
test_fault_fail (Fixture *f, gconstpointer data)
{
  /* An injected failure changes nothing and reports IO. */
  tv_store_close (f->store);
  g_setenv ("TV_STORE_FAULT", "fail:user-create,fail:session-create", TRUE);
  g_autoptr (GError) error = NULL;
  f->store = tv_store_open (f->path, &error);
  g_unsetenv ("TV_STORE_FAULT");
  g_assert_no_error (error);
  g_assert_false (tv_store_user_create (f->store, "pat.f", "Pat", TV_ROLE_PATIENT, NULL, 0, HASH, T0, NULL, &error));
  g_assert_error (error, TV_STORE_ERROR, TV_STORE_ERR_IO);
  g_assert_cmpint (raw_int (f->path, "SELECT count(*) FROM users"), ==, 0);
}

int
main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "--crash-child") == 0) {
    alarm (20);
    TvStore *store = tv_store_open (argv[2], NULL);
    if (store == NULL)
      return 1;
    tv_store_user_create (store, "pat.crash", "Pat Synthetic", TV_ROLE_PATIENT | TV_ROLE_BILLING, NULL, 0, HASH, T0,
                          NULL, NULL);
    return 0;
  }
  self_path = argv[0];
  g_test_init (&argc, &argv, NULL);
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL);
#define ADD(name, fn) g_test_add ("/store-users/" name, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("user/create-get", test_user_create_get);
  ADD ("user/invalid", test_user_invalid);
  ADD ("user/conflict", test_user_conflict);
  ADD ("user/list", test_user_list);
  ADD ("user/patients-of", test_patients_of);
  ADD ("session/basic", test_session_basic);
  ADD ("session/idle", test_session_idle);
  ADD ("session/touch-margin", test_session_touch_margin);
  ADD ("session/absolute", test_session_absolute);
  ADD ("session/invalid", test_session_invalid);
  ADD ("session/small-cache", test_session_small_cache);
  ADD ("session/disable-ends", test_disable_ends_sessions);
  ADD ("session/set-password-ends", test_set_password_ends_sessions);
  ADD ("throttle/steps", test_throttle);
  ADD ("throttle/cap", test_throttle_cap);
  ADD ("crash/mid-create", test_crash_mid_create);
  ADD ("fault/fail", test_fault_fail);
  g_test_add_func ("/store-users/migrate/from-v1", test_migrate_from_v1);
  return g_test_run ();
}
