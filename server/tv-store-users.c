/* tv-store-users.c — users, roles, sessions and login failures in the store (schema v2).
 *
 * Why: accounts live in the same SQLite file as the consults so one backup and
 * one transaction model cover both; see tv-store-users.h for the contract.
 * Session tokens and attempted usernames are stored only as SHA-256; nothing
 * here logs a token, a password hash or a name.
 * Thread: the store's thread.
 */
#define G_LOG_DOMAIN "tv-store"

#include "server/tv-store-users.h"
#include "server/tv-store-private.h"

#include <string.h>

const char TV_STORE_USERS_SCHEMA_V2[] =
  "CREATE TABLE users ("
  "  id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),"
  "  username TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 3 AND 64),"
  "  display_name TEXT NOT NULL CHECK (length(CAST(display_name AS BLOB)) BETWEEN 1 AND 200),"
  "  password_hash TEXT NOT NULL CHECK (length(password_hash) > 0),"
  "  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),"
  "  time_zone TEXT CHECK (time_zone IS NULL OR length(time_zone) BETWEEN 1 AND 64),"
  "  slot_minutes INTEGER NOT NULL DEFAULT 15 CHECK (slot_minutes BETWEEN 5 AND 120),"
  "  created_at INTEGER NOT NULL CHECK (created_at > 0),"
  "  updated_at INTEGER NOT NULL CHECK (updated_at > 0)"
  ") STRICT;"
  "CREATE TABLE user_roles ("
  "  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
  "  role TEXT NOT NULL CHECK (role IN ('patient', 'doctor', 'scheduler', 'billing', 'admin')),"
  "  PRIMARY KEY (user_id, role)"
  ") STRICT;"
  "CREATE INDEX user_roles_by_role ON user_roles (role, user_id);"
  "CREATE TABLE sessions ("
  "  sha256 TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),"
  "  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,"
  "  created_at INTEGER NOT NULL CHECK (created_at > 0),"
  "  last_seen INTEGER NOT NULL CHECK (last_seen > 0),"
  "  idle_timeout_us INTEGER NOT NULL CHECK (idle_timeout_us > 0),"
  "  expires_at INTEGER NOT NULL CHECK (expires_at > created_at),"
  "  ended_at INTEGER NOT NULL DEFAULT 0 CHECK (ended_at >= 0),"
  "  end_reason TEXT,"
  "  address TEXT NOT NULL DEFAULT '',"
  "  CHECK ((ended_at = 0) = (end_reason IS NULL))"
  ") STRICT;"
  "CREATE INDEX sessions_by_user ON sessions (user_id, ended_at);"
  "CREATE TABLE login_failures ("
  "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
  "  username_sha256 TEXT NOT NULL CHECK (length(username_sha256) = 64),"
  "  user_id TEXT REFERENCES users (id) ON DELETE SET NULL,"
  "  address TEXT NOT NULL,"
  "  at INTEGER NOT NULL CHECK (at > 0)"
  ") STRICT;"
  "CREATE INDEX login_failures_by_username ON login_failures (username_sha256, at);"
  "CREATE INDEX login_failures_by_address ON login_failures (address, at);";

#define USER_COLUMNS "id, username, display_name, disabled, time_zone, slot_minutes, created_at"

static const char SQL_USER_INSERT[] =
  "INSERT INTO users (id, username, display_name, password_hash, time_zone, slot_minutes, created_at,"
  " updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
static const char SQL_ROLE_INSERT[] =
  "INSERT INTO user_roles (user_id, role) VALUES (?1, ?2)";
static const char SQL_USER_GET[] =
  "SELECT " USER_COLUMNS ", password_hash FROM users WHERE id = ?1";
static const char SQL_USER_GET_BY_NAME[] =
  "SELECT " USER_COLUMNS ", password_hash FROM users WHERE username = ?1";
static const char SQL_USER_LIST[] =
  "SELECT " USER_COLUMNS ", '' FROM users ORDER BY display_name, username";
static const char SQL_USER_ROLES[] =
  "SELECT role FROM user_roles WHERE user_id = ?1";
static const char SQL_USER_SET_DISABLED[] =
  "UPDATE users SET disabled = ?2, updated_at = ?3 WHERE id = ?1";
static const char SQL_USER_SET_PASSWORD[] =
  "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1";
static const char SQL_USER_EXISTS[] =
  "SELECT 1 FROM users WHERE id = ?1";
static const char SQL_SESSIONS_END_USER[] =
  "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE user_id = ?1 AND ended_at = 0";
static const char SQL_SESSION_INSERT[] =
  "INSERT INTO sessions (sha256, user_id, created_at, last_seen, idle_timeout_us, expires_at, address)"
  " VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)";
static const char SQL_SESSION_GET[] =
  "SELECT user_id, created_at, last_seen, idle_timeout_us, expires_at, ended_at, end_reason, address"
  " FROM sessions WHERE sha256 = ?1";
static const char SQL_SESSION_TOUCH[] =
  "UPDATE sessions SET last_seen = ?2 WHERE sha256 = ?1 AND ended_at = 0 AND last_seen < ?2";
static const char SQL_SESSION_END[] =
  "UPDATE sessions SET ended_at = ?2, end_reason = ?3 WHERE sha256 = ?1 AND ended_at = 0";
static const char SQL_SESSION_EXISTS[] =
  "SELECT 1 FROM sessions WHERE sha256 = ?1";
static const char SQL_SESSION_COUNT_OPEN[] =
  "SELECT count(*) FROM sessions WHERE user_id = ?1 AND ended_at = 0";
static const char SQL_FAIL_BY_NAME[] =
  "SELECT count(*), max(at) FROM login_failures WHERE username_sha256 = ?1 AND at > ?2";
static const char SQL_FAIL_BY_ADDR[] =
  "SELECT count(*), max(at) FROM login_failures WHERE address = ?1 AND at > ?2";
static const char SQL_FAIL_INSERT[] =
  "INSERT INTO login_failures (username_sha256, user_id, address, at) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_FAIL_PRUNE[] =
  "DELETE FROM login_failures WHERE at <= ?1";
/* Forgetting a username's failures keeps them counted for their address:
 * the rows stay, detached from the username (no SHA-256 is all zeros). */
static const char SQL_FAIL_CLEAR[] =
  "UPDATE login_failures SET username_sha256 = '0000000000000000000000000000000000000000000000000000000000000000',"
  " user_id = NULL WHERE username_sha256 = ?1";
static const char SQL_PATIENTS_OF[] =
  "SELECT " USER_COLUMNS ", '' FROM users WHERE id IN"
  " (SELECT patient_id FROM consults WHERE doctor_id = ?1 AND patient_id IS NOT NULL)"
  " ORDER BY display_name, username";
static const char SQL_PATIENT_OF[] =
  "SELECT 1 FROM consults WHERE doctor_id = ?1 AND patient_id = ?2 LIMIT 1";

void
tv_user_free (TvUser *user)
{
  if (user == NULL)
    return;
  g_free (user->id);
  g_free (user->username);
  g_free (user->display_name);
  g_free (user->time_zone);
  g_free (user);
}

void
tv_session_free (TvSession *session)
{
  if (session == NULL)
    return;
  g_free (session->key);
  g_free (session->user_id);
  g_free (session->address);
  g_free (session);
}

static gboolean
invalid (GError **error, const char *message)
{
  g_set_error_literal (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, message);
  return FALSE;
}

static gboolean
check_time (gint64 t, const char *what, GError **error)
{
  if (t <= 0) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_INVALID, "%s must be a positive time", what);
    return FALSE;
  }
  return TRUE;
}

gboolean
tv_store_check_username (const char *username, GError **error)
{
  if (username == NULL)
    return invalid (error, "username is missing");
  gsize len = strlen (username);
  if (len < TV_STORE_USERNAME_MIN || len > TV_STORE_USERNAME_MAX)
    return invalid (error, "username must be 3 to 64 characters");
  for (const char *p = username; *p != '\0'; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '.' || *p == '_' || *p == '-'))
      return invalid (error, "username may contain only a-z, 0-9, '.', '_' and '-'");
  return TRUE;
}

gboolean
tv_store_check_time_zone (const char *tz, GError **error)
{
  if (tz == NULL || *tz == '\0' || strlen (tz) > TV_STORE_TIME_ZONE_MAX)
    return invalid (error, "time zone must be an IANA zone name such as Europe/Paris");
  /* Only letters, digits and "/_+-": refuses paths ("../x") and the POSIX
   * TZ strings that g_time_zone_new_identifier would also accept. */
  for (const char *p = tz; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr ("/_+-", *p) == NULL)
      return invalid (error, "time zone must be an IANA zone name such as Europe/Paris");
  if (tz[0] == '/' || strstr (tz, "//") != NULL)
    return invalid (error, "time zone must be an IANA zone name such as Europe/Paris");
  GTimeZone *zone = g_time_zone_new_identifier (tz);
  if (zone == NULL)
    return invalid (error, "unknown time zone (IANA name expected, such as Europe/Paris)");
  g_time_zone_unref (zone);
  return TRUE;
}

static gpointer
user_from_row (sqlite3_stmt *st)
{
  TvUser *u = g_new0 (TvUser, 1);
  u->id = tv_store_private_column_strdup (st, 0);
  u->username = tv_store_private_column_strdup (st, 1);
  u->display_name = tv_store_private_column_strdup (st, 2);
  u->disabled = sqlite3_column_int (st, 3) != 0;
  u->time_zone = tv_store_private_column_strdup (st, 4);
  u->slot_minutes = (guint) sqlite3_column_int (st, 5);
  u->created_at = sqlite3_column_int64 (st, 6);
  return u;
}

/* Fills @u->roles from user_roles. */
static gboolean
load_roles (TvStore *store, TvUser *u, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_USER_ROLES, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, u->id, -1, SQLITE_TRANSIENT);
  int rc;
  u->roles = 0;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    TvRole r;
    if (tv_role_from_string ((const char *) sqlite3_column_text (st, 0), &r))
      u->roles |= r;
  }
  if (rc != SQLITE_DONE)
    tv_store_private_db_error (store, error, "read user roles");
  tv_store_private_stmt_done (st);
  return rc == SQLITE_DONE;
}

/* Runs @sql (SQL_USER_GET or _BY_NAME) with @key. */
static gboolean
user_get (TvStore *store, const char *sql, const char *key, TvUser **out, char **password_hash,
          GError **error)
{
  if (tv_store_private_fault_fail (store, "user-get", error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  g_autoptr (TvUser) u = NULL;
  g_autofree char *hash = NULL;
  if (rc == SQLITE_ROW) {
    u = user_from_row (st);
    hash = tv_store_private_column_strdup (st, 7);
  } else if (rc == SQLITE_DONE) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such user");
  } else {
    tv_store_private_db_error (store, error, "read user");
  }
  tv_store_private_stmt_done (st);
  if (u == NULL || !load_roles (store, u, error))
    return FALSE;
  if (out != NULL)
    *out = g_steal_pointer (&u);
  if (password_hash != NULL)
    *password_hash = g_steal_pointer (&hash);
  return TRUE;
}

gboolean
tv_store_user_get (TvStore *store, const char *id, TvUser **out, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (id == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such user");
    return FALSE;
  }
  return user_get (store, SQL_USER_GET, id, out, NULL, error);
}

gboolean
tv_store_user_get_by_username (TvStore *store, const char *username, TvUser **out, char **password_hash,
                               GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (username == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such user");
    return FALSE;
  }
  return user_get (store, SQL_USER_GET_BY_NAME, username, out, password_hash, error);
}

gboolean
tv_store_user_create (TvStore *store, const char *username, const char *display_name, guint roles,
                      const char *time_zone, guint slot_minutes, const char *password_hash, gint64 now,
                      TvUser **out, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!tv_store_check_username (username, error) || !tv_store_check_name (display_name, error)
      || !check_time (now, "now", error))
    return FALSE;
  if (roles == 0 || (roles & ~(guint) TV_ROLE_ANY) != 0)
    return invalid (error, "roles must be one or more of patient, doctor, scheduler, billing, admin");
  if (time_zone != NULL && !tv_store_check_time_zone (time_zone, error))
    return FALSE;
  if (slot_minutes == 0)
    slot_minutes = TV_STORE_SLOT_MINUTES_DEFAULT;
  if (slot_minutes < TV_STORE_SLOT_MINUTES_MIN || slot_minutes > TV_STORE_SLOT_MINUTES_MAX)
    return invalid (error, "slot minutes must be 5 to 120");
  if (password_hash == NULL || *password_hash == '\0')
    return invalid (error, "password hash is empty");
  if (tv_store_private_fault_fail (store, "user-create", error))
    return FALSE;

  g_autofree char *id = g_uuid_string_random ();
  g_autofree const char **names = tv_roles_to_strv (roles);
  if (!tv_store_private_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_USER_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, username, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 3, display_name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 4, password_hash, -1, SQLITE_TRANSIENT);
  if (time_zone != NULL)
    sqlite3_bind_text (st, 5, time_zone, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (st, 5);
  sqlite3_bind_int (st, 6, (int) slot_minutes);
  sqlite3_bind_int64 (st, 7, now);
  gboolean ok = tv_store_private_exec_done (store, st, "insert user", error);
  tv_store_private_stmt_done (st);
  if (!ok) {
    if (error != NULL && *error != NULL && (*error)->code == TV_STORE_ERR_CONFLICT) {
      g_clear_error (error);
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_CONFLICT, "username is already taken");
    }
    goto fail;
  }
  tv_store_private_fault_point (store, "user-create-after-user");
  tv_store_private_audit_subject (store, id, (roles & TV_ROLE_PATIENT) ? id : NULL);
  for (const char **n = names; *n != NULL; n++) {
    st = tv_store_private_stmt (store, SQL_ROLE_INSERT, error);
    if (st == NULL)
      goto fail;
    sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, *n, -1, SQLITE_STATIC);
    ok = tv_store_private_exec_done (store, st, "insert user role", error);
    tv_store_private_stmt_done (st);
    if (!ok)
      goto fail;
  }
  if (!tv_store_private_commit (store, error))
    goto fail;
  if (out != NULL) {
    TvUser *u = g_new0 (TvUser, 1);
    u->id = g_steal_pointer (&id);
    u->username = g_strdup (username);
    u->display_name = g_strdup (display_name);
    u->roles = roles;
    u->time_zone = g_strdup (time_zone);
    u->slot_minutes = slot_minutes;
    u->created_at = now;
    *out = u;
  }
  return TRUE;
fail:
  tv_store_private_rollback (store);
  return FALSE;
}

/* Runs @sql (user rows; ?1 = @key when non-NULL) and filters by roles and text. */
static GPtrArray *
user_list (TvStore *store, const char *sql, const char *key, guint roles_any, const char *query, GError **error)
{
  if (tv_store_private_fault_fail (store, "user-list", error))
    return NULL;
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    return NULL;
  if (key != NULL)
    sqlite3_bind_text (st, 1, key, -1, SQLITE_TRANSIENT);
  g_autoptr (GPtrArray) all = tv_store_private_collect (store, st, user_from_row, (GDestroyNotify) tv_user_free,
                                                        "list users", error);
  if (all == NULL)
    return NULL;

  g_autofree char *needle = query != NULL && *query != '\0' && g_utf8_validate (query, -1, NULL)
                              ? g_utf8_casefold (query, -1) : NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) tv_user_free);
  for (guint i = 0; i < all->len; i++) {
    TvUser *u = g_ptr_array_index (all, i);
    if (!load_roles (store, u, error)) {
      g_ptr_array_unref (out);
      return NULL;
    }
    if (roles_any != 0 && (u->roles & roles_any) == 0)
      continue;
    if (needle != NULL) {
      g_autofree char *a = g_utf8_casefold (u->username, -1);
      g_autofree char *b = g_utf8_casefold (u->display_name, -1);
      if (strstr (a, needle) == NULL && strstr (b, needle) == NULL)
        continue;
    }
    g_ptr_array_add (out, g_ptr_array_steal_index (all, i));
    g_ptr_array_insert (all, (gint) i, NULL);   /* keep indices stable; NULL frees nothing */
  }
  return out;
}

GPtrArray *
tv_store_user_list (TvStore *store, guint roles_any, const char *query, GError **error)
{
  g_return_val_if_fail (store != NULL, NULL);
  return user_list (store, SQL_USER_LIST, NULL, roles_any, query, error);
}

GPtrArray *
tv_store_user_list_patients_of (TvStore *store, const char *doctor_id, const char *query, GError **error)
{
  g_return_val_if_fail (store != NULL && doctor_id != NULL, NULL);
  return user_list (store, SQL_PATIENTS_OF, doctor_id, TV_ROLE_PATIENT, query, error);
}

static gboolean
user_exists (TvStore *store, const char *id, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_USER_EXISTS, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE)
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such user");
  else if (rc != SQLITE_ROW)
    tv_store_private_db_error (store, error, "read user");
  tv_store_private_stmt_done (st);
  return rc == SQLITE_ROW;
}

static gboolean
end_user_sessions (TvStore *store, const char *id, const char *reason, gint64 now, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SESSIONS_END_USER, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, now);
  sqlite3_bind_text (st, 3, reason, -1, SQLITE_STATIC);
  gboolean ok = tv_store_private_exec_done (store, st, "end user sessions", error);
  tv_store_private_stmt_done (st);
  return ok;
}

/* One transaction: update the user row with @sql (?2 = @text or @flag), then end
 * the sessions with @end_reason (NULL = keep them). */
static gboolean
user_update (TvStore *store, const char *id, const char *sql, const char *text, int flag,
             const char *end_reason, gint64 now, GError **error)
{
  if (id == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such user");
    return FALSE;
  }
  if (!check_time (now, "now", error) || tv_store_private_fault_fail (store, "user-update", error))
    return FALSE;
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!user_exists (store, id, error))
    goto fail;
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, id, -1, SQLITE_TRANSIENT);
  if (text != NULL)
    sqlite3_bind_text (st, 2, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_int (st, 2, flag);
  sqlite3_bind_int64 (st, 3, now);
  gboolean ok = tv_store_private_exec_done (store, st, "update user", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    goto fail;
  if (end_reason != NULL && !end_user_sessions (store, id, end_reason, now, error))
    goto fail;
  if (!tv_store_private_commit (store, error))
    goto fail;
  return TRUE;
fail:
  tv_store_private_rollback (store);
  return FALSE;
}

gboolean
tv_store_user_set_disabled (TvStore *store, const char *id, gboolean disabled, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  return user_update (store, id, SQL_USER_SET_DISABLED, NULL, disabled ? 1 : 0, disabled ? "disabled" : NULL,
                      now, error);
}

gboolean
tv_store_user_set_password (TvStore *store, const char *id, const char *password_hash, gint64 now,
                            GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (password_hash == NULL || *password_hash == '\0')
    return invalid (error, "password hash is empty");
  return user_update (store, id, SQL_USER_SET_PASSWORD, password_hash, 0, "password-changed", now, error);
}

gboolean
tv_store_user_is_patient_of (TvStore *store, const char *doctor_id, const char *patient_id)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (doctor_id == NULL || patient_id == NULL)
    return FALSE;
  g_autoptr (GError) error = NULL;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_PATIENT_OF, &error);
  if (st == NULL) {
    g_warning ("patient-of check failed: %s", error->message);
    return FALSE;
  }
  sqlite3_bind_text (st, 1, doctor_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text (st, 2, patient_id, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    g_warning ("patient-of check failed: %s", sqlite3_errmsg (tv_store_private_db (store)));
  tv_store_private_stmt_done (st);
  return rc == SQLITE_ROW;
}

/* ---- sessions ----------------------------------------------------------- */

gboolean
tv_store_session_create (TvStore *store, const char *user_id, const char *address, gint64 idle_timeout_us,
                         gint64 lifetime_us, gint64 now, char **token, TvSession **out, GError **error)
{
  g_return_val_if_fail (store != NULL && token != NULL, FALSE);
  if (!check_time (now, "now", error))
    return FALSE;
  if (idle_timeout_us <= 0 || lifetime_us <= 0)
    return invalid (error, "session timeouts must be positive");
  if (user_id == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such user");
    return FALSE;
  }
  if (tv_store_private_fault_fail (store, "session-create", error))
    return FALSE;
  g_autofree char *tok = tv_store_private_token_new (error);
  if (tok == NULL)
    return FALSE;
  g_autofree char *key = tv_store_private_token_hash (tok);
  if (!tv_store_private_begin (store, error))
    return FALSE;
  if (!user_exists (store, user_id, error))
    goto fail;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SESSION_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text (st, 2, user_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 3, now);
  sqlite3_bind_int64 (st, 4, idle_timeout_us);
  sqlite3_bind_int64 (st, 5, now + lifetime_us);
  sqlite3_bind_text (st, 6, address != NULL ? address : "", -1, SQLITE_TRANSIENT);
  gboolean ok = tv_store_private_exec_done (store, st, "insert session", error);
  tv_store_private_stmt_done (st);
  if (!ok || !tv_store_private_commit (store, error))
    goto fail;
  if (out != NULL) {
    TvSession *s = g_new0 (TvSession, 1);
    s->key = g_steal_pointer (&key);
    s->user_id = g_strdup (user_id);
    s->created_at = now;
    s->last_seen = now;
    s->idle_timeout_us = idle_timeout_us;
    s->expires_at = now + lifetime_us;
    s->address = g_strdup (address != NULL ? address : "");
    *out = s;
  }
  *token = g_steal_pointer (&tok);
  return TRUE;
fail:
  tv_store_private_rollback (store);
  return FALSE;
}

static gboolean
session_end_key (TvStore *store, const char *key, const char *reason, gint64 now, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SESSION_END, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, now);
  sqlite3_bind_text (st, 3, reason, -1, SQLITE_TRANSIENT);
  gboolean ok = tv_store_private_exec_done (store, st, "end session", error);
  tv_store_private_stmt_done (st);
  return ok;
}

/* The session cache (TvStoreSessionCache in tv-store-private.h). Why: under
 * booking load every request's lookup read the session, user and role rows
 * again (three statements, three read transactions), and since the writer
 * thread's commits empty the main connection's page cache, every page of them
 * again too: 13 % of the main loop's CPU (docs/BENCHMARKS.md, "Booking
 * throughput: ... 2026-11-29 (3)"). A lookup now first asks the connection
 * whether anything changed since its last answers (`PRAGMA data_version` and
 * the connection's own change count); while nothing did, the rows read then
 * are the rows, and the idle and expiry checks run on them with the time of
 * this request as before. A session ended, a user disabled or a role changed
 * by any connection — this one, the writer thread's, televisitctl's in another
 * process — moves one of the two, which drops every entry: it is refused at
 * its next request, as without the cache. */
#define SESSION_CACHE_MAX 4096

typedef struct {
  TvSession *session;
  TvUser *user;
} SessionEntry;

static void
session_entry_free (gpointer data)
{
  SessionEntry *e = data;
  tv_session_free (e->session);
  tv_user_free (e->user);
  g_free (e);
}

static TvSession *
session_copy (const TvSession *s)
{
  TvSession *c = g_memdup2 (s, sizeof *s);
  c->key = g_strdup (s->key);
  c->user_id = g_strdup (s->user_id);
  c->address = g_strdup (s->address);
  return c;
}

TvUser *
tv_store_private_user_copy (const TvUser *u)
{
  TvUser *c = g_memdup2 (u, sizeof *u);
  c->id = g_strdup (u->id);
  c->username = g_strdup (u->username);
  c->display_name = g_strdup (u->display_name);
  c->time_zone = g_strdup (u->time_zone);
  return c;
}

/* Drops the cache's entries unless the database is as it was when they were
 * read. Returns: the cache (entries valid now), or NULL when the version
 * cannot be read (then the lookup reads the rows, as without a cache). */
static TvStoreSessionCache *
session_cache_current (TvStore *store)
{
  TvStoreSessionCache *cache = tv_store_private_session_cache (store);
  gint64 version = tv_store_private_data_version (store);
  gint64 changes = sqlite3_total_changes64 (tv_store_private_db (store));
  if (cache->entries == NULL)
    cache->entries = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, session_entry_free);
  if (version < 0 || version != cache->data_version || changes != cache->changes) {
    g_hash_table_remove_all (cache->entries);
    cache->data_version = version;
    cache->changes = changes;
  }
  return version < 0 ? NULL : cache;
}

gboolean
tv_store_session_lookup (TvStore *store, const char *token, gint64 now, TvSession **session, TvUser **user,
                         GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_time (now, "now", error))
    return FALSE;
  if (!tv_store_token_is_wellformed (token)) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN, "unknown session");
    return FALSE;
  }
  if (tv_store_private_fault_fail (store, "session-lookup", error))
    return FALSE;
  g_autofree char *key = tv_store_private_token_hash (token);
  TvStoreSessionCache *cache = session_cache_current (store);
  SessionEntry *hit = cache != NULL ? g_hash_table_lookup (cache->entries, key) : NULL;
  g_autoptr (TvSession) s = NULL;
  g_autoptr (TvUser) u = NULL;
  if (hit != NULL) {
    /* open and its user enabled when read, and nothing changed since */
    s = session_copy (hit->session);
    u = tv_store_private_user_copy (hit->user);
  } else {
    sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SESSION_GET, error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step (st);
    gint64 ended_at = 0;
    g_autofree char *end_reason = NULL;
    if (rc == SQLITE_ROW) {
      s = g_new0 (TvSession, 1);
      s->key = g_strdup (key);
      s->user_id = tv_store_private_column_strdup (st, 0);
      s->created_at = sqlite3_column_int64 (st, 1);
      s->last_seen = sqlite3_column_int64 (st, 2);
      s->idle_timeout_us = sqlite3_column_int64 (st, 3);
      s->expires_at = sqlite3_column_int64 (st, 4);
      ended_at = sqlite3_column_int64 (st, 5);
      end_reason = tv_store_private_column_strdup (st, 6);
      s->address = tv_store_private_column_strdup (st, 7);
    } else if (rc != SQLITE_DONE) {
      tv_store_private_db_error (store, error, "read session");
    }
    tv_store_private_stmt_done (st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return FALSE;
    if (s == NULL) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN, "unknown session");
      return FALSE;
    }
    if (ended_at != 0) {
      /* A session that timed out keeps answering "expired" so the client can say why. */
      gboolean timed_out = g_strcmp0 (end_reason, "idle") == 0 || g_strcmp0 (end_reason, "expired") == 0;
      g_set_error (error, TV_STORE_ERROR, timed_out ? TV_STORE_ERR_TOKEN_EXPIRED : TV_STORE_ERR_TOKEN_UNKNOWN,
                   timed_out ? "session expired" : "session has ended");
      return FALSE;
    }
  }
  const char *why = NULL;
  if (now >= s->expires_at)
    why = "expired";
  else if (now - s->last_seen > s->idle_timeout_us)
    why = "idle";
  if (why != NULL) {
    g_autoptr (GError) local = NULL;
    if (cache != NULL)
      g_hash_table_remove (cache->entries, key);
    if (!session_end_key (store, key, why, now, &local))
      g_warning ("could not mark a timed-out session as ended: %s", local->message);
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_EXPIRED,
                 g_str_equal (why, "idle") ? "session ended after inactivity" : "session expired");
    return FALSE;
  }
  if (hit == NULL) {
    if (!user_get (store, SQL_USER_GET, s->user_id, &u, NULL, error)) {
      if (error != NULL && *error != NULL && (*error)->code == TV_STORE_ERR_NOT_FOUND) {
        g_clear_error (error);
        g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN, "unknown session");
      }
      return FALSE;
    }
    if (u->disabled) {
      g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_TOKEN_UNKNOWN, "account is disabled");
      return FALSE;
    }
    if (cache != NULL) {
      if (g_hash_table_size (cache->entries) >= SESSION_CACHE_MAX)
        g_hash_table_remove_all (cache->entries);
      SessionEntry *e = g_new (SessionEntry, 1);
      e->session = session_copy (s);
      e->user = tv_store_private_user_copy (u);
      g_hash_table_insert (cache->entries, e->session->key, e);
    }
  }
  gint64 margin = MIN (30 * G_USEC_PER_SEC, s->idle_timeout_us / 10);
  if (now - s->last_seen >= margin) {
    /* a write of this connection: the next lookup drops the cache */
    sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SESSION_TOUCH, error);
    if (st == NULL)
      return FALSE;
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, now);
    gboolean ok = tv_store_private_exec_done (store, st, "refresh session", error);
    tv_store_private_stmt_done (st);
    if (!ok)
      return FALSE;
    s->last_seen = now;
  }
  if (session != NULL)
    *session = g_steal_pointer (&s);
  if (user != NULL)
    *user = g_steal_pointer (&u);
  return TRUE;
}

gboolean
tv_store_session_end (TvStore *store, const char *key, const char *reason, gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_time (now, "now", error))
    return FALSE;
  if (reason == NULL || *reason == '\0')
    return invalid (error, "end reason is empty");
  if (key == NULL) {
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such session");
    return FALSE;
  }
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SESSION_EXISTS, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE)
    g_set_error (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND, "no such session");
  else if (rc != SQLITE_ROW)
    tv_store_private_db_error (store, error, "read session");
  tv_store_private_stmt_done (st);
  if (rc != SQLITE_ROW)
    return FALSE;
  return session_end_key (store, key, reason, now, error);
}

gint
tv_store_session_count_open (TvStore *store, const char *user_id, GError **error)
{
  g_return_val_if_fail (store != NULL, -1);
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_SESSION_COUNT_OPEN, error);
  if (st == NULL)
    return -1;
  sqlite3_bind_text (st, 1, user_id, -1, SQLITE_TRANSIENT);
  gint n = -1;
  if (sqlite3_step (st) == SQLITE_ROW)
    n = sqlite3_column_int (st, 0);
  else
    tv_store_private_db_error (store, error, "count sessions");
  tv_store_private_stmt_done (st);
  return n;
}

/* ---- login failures ------------------------------------------------------ */

static char *
username_key (const char *username)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, username != NULL ? username : "", -1);
}

/* The wait still owed after the failures counted by @sql for @key. */
static gboolean
owed_wait (TvStore *store, const char *sql, const char *key, gint64 now, gint64 *wait, GError **error)
{
  sqlite3_stmt *st = tv_store_private_stmt (store, sql, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 2, now - TV_LOGIN_WINDOW_US);
  int rc = sqlite3_step (st);
  *wait = 0;
  if (rc == SQLITE_ROW) {
    gint64 n = sqlite3_column_int64 (st, 0);
    gint64 last = sqlite3_column_int64 (st, 1);
    if (n >= TV_LOGIN_FREE_FAILURES) {
      gint64 steps = n - TV_LOGIN_FREE_FAILURES;
      gint64 delay = steps >= 20 ? (gint64) TV_LOGIN_MAX_DELAY_US
                                 : MIN (((gint64) G_USEC_PER_SEC) << steps, (gint64) TV_LOGIN_MAX_DELAY_US);
      *wait = MAX (0, last + delay - now);
    }
  } else {
    tv_store_private_db_error (store, error, "read login failures");
  }
  tv_store_private_stmt_done (st);
  return rc == SQLITE_ROW;
}

gboolean
tv_store_login_throttle (TvStore *store, const char *username, const char *address, gint64 now,
                         gint64 *retry_after_us, GError **error)
{
  g_return_val_if_fail (store != NULL && retry_after_us != NULL, FALSE);
  if (!check_time (now, "now", error))
    return FALSE;
  g_autofree char *ukey = username_key (username);
  gint64 a = 0, b = 0;
  if (!owed_wait (store, SQL_FAIL_BY_NAME, ukey, now, &a, error)
      || !owed_wait (store, SQL_FAIL_BY_ADDR, address != NULL ? address : "", now, &b, error))
    return FALSE;
  *retry_after_us = MAX (a, b);
  return TRUE;
}

gboolean
tv_store_login_failure_record (TvStore *store, const char *username, const char *user_id, const char *address,
                               gint64 now, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  if (!check_time (now, "now", error) || tv_store_private_fault_fail (store, "login-failure", error))
    return FALSE;
  g_autofree char *ukey = username_key (username);
  if (!tv_store_private_begin (store, error))
    return FALSE;
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_FAIL_PRUNE, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_int64 (st, 1, now - TV_LOGIN_WINDOW_US);
  gboolean ok = tv_store_private_exec_done (store, st, "prune login failures", error);
  tv_store_private_stmt_done (st);
  if (!ok)
    goto fail;
  st = tv_store_private_stmt (store, SQL_FAIL_INSERT, error);
  if (st == NULL)
    goto fail;
  sqlite3_bind_text (st, 1, ukey, -1, SQLITE_STATIC);
  if (user_id != NULL)
    sqlite3_bind_text (st, 2, user_id, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (st, 2);
  sqlite3_bind_text (st, 3, address != NULL ? address : "", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64 (st, 4, now);
  ok = tv_store_private_exec_done (store, st, "record login failure", error);
  tv_store_private_stmt_done (st);
  if (!ok || !tv_store_private_commit (store, error))
    goto fail;
  return TRUE;
fail:
  tv_store_private_rollback (store);
  return FALSE;
}

gboolean
tv_store_login_failures_clear (TvStore *store, const char *username, GError **error)
{
  g_return_val_if_fail (store != NULL, FALSE);
  g_autofree char *ukey = username_key (username);
  sqlite3_stmt *st = tv_store_private_stmt (store, SQL_FAIL_CLEAR, error);
  if (st == NULL)
    return FALSE;
  sqlite3_bind_text (st, 1, ukey, -1, SQLITE_STATIC);
  gboolean ok = tv_store_private_exec_done (store, st, "clear login failures", error);
  tv_store_private_stmt_done (st);
  return ok;
}
