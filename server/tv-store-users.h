/* tv-store-users.h — accounts in the store: users, roles, sessions, login failures.
 *
 * Why: schema v2 of the session store (see TV_STORE_USERS_SCHEMA_V2). Users have
 * one or more roles (server/tv-roles.h); HTTPS API sessions are bearer tokens of
 * which the store keeps only the SHA-256; failed logins are recorded per
 * username (hashed) and per source address for throttling. Same rules as
 * tv-store.h: each changing call is one transaction (all or nothing), times are
 * µs since the epoch UTC, a time <= 0 is INVALID.
 *
 * TEST-ONLY fault points (TV_STORE_FAULT, see tv-store.h): "fail:user-create",
 * "fail:user-get", "fail:user-list", "fail:user-update", "fail:session-create",
 * "fail:session-lookup", "fail:login-failure"; crash point
 * "user-create-after-user" (user row written, roles not yet).
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"
#include "server/tv-roles.h"

G_BEGIN_DECLS

/* The v2 migration step (users, user_roles, sessions, login_failures). */
extern const char TV_STORE_USERS_SCHEMA_V2[];

#define TV_STORE_USERNAME_MIN 3
#define TV_STORE_USERNAME_MAX 64
#define TV_STORE_SLOT_MINUTES_MIN 5
#define TV_STORE_SLOT_MINUTES_MAX 120
#define TV_STORE_SLOT_MINUTES_DEFAULT 15
#define TV_STORE_TIME_ZONE_MAX 64

/* Login throttling: after TV_LOGIN_FREE_FAILURES failures within
 * TV_LOGIN_WINDOW_US for one username or one address, the next attempt must
 * wait 1 s after the last failure, then 2 s, 4 s ... up to TV_LOGIN_MAX_DELAY_US. */
#define TV_LOGIN_FREE_FAILURES 5
#define TV_LOGIN_WINDOW_US     (15 * 60 * G_USEC_PER_SEC)
#define TV_LOGIN_MAX_DELAY_US  (15 * 60 * G_USEC_PER_SEC)

typedef struct {
  char *id;            /* UUID */
  char *username;      /* 3..64 of [a-z0-9._-] */
  char *display_name;  /* as tv_store_check_name (personal data: never log) */
  guint roles;         /* TV_ROLE_* mask, never 0 */
  gboolean disabled;
  char *time_zone;     /* IANA name, NULL when unset (doctors have one) */
  guint slot_minutes;  /* 5..120 */
  gint64 created_at;
} TvUser;

void tv_user_free (TvUser *user);  /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvUser, tv_user_free)

typedef struct {
  char *key;           /* hex SHA-256 of the token: the session's identity (never log) */
  char *user_id;
  gint64 created_at;
  gint64 last_seen;
  gint64 idle_timeout_us;
  gint64 expires_at;   /* absolute expiry */
  char *address;       /* source address at login ("" if unknown) */
} TvSession;

void tv_session_free (TvSession *session);  /* NULL accepted */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvSession, tv_session_free)

/* tv_store_check_username:
 * Returns: TRUE for 3..64 characters of [a-z0-9._-]; FALSE with INVALID (the
 * message does not repeat the text). */
gboolean tv_store_check_username (const char *username, GError **error);

/* tv_store_check_time_zone:
 * Returns: TRUE when @tz is an IANA zone name GLib knows (GTimeZone; "UTC" is
 * accepted), at most TV_STORE_TIME_ZONE_MAX bytes; FALSE with INVALID. */
gboolean tv_store_check_time_zone (const char *tz, GError **error);

/* tv_store_user_create:
 * Creates a user. @roles: non-zero mask of TV_ROLE_*. @time_zone: NULL or as
 * tv_store_check_time_zone. @slot_minutes: 0 for the default (15) or 5..120.
 * @password_hash: from tv_password_hash (not checked here beyond non-empty).
 * Returns: TRUE with *@out (transfer full, may be NULL); FALSE with INVALID,
 * CONFLICT (username taken) or IO, and nothing written. */
gboolean tv_store_user_create (TvStore *store, const char *username, const char *display_name, guint roles,
                               const char *time_zone, guint slot_minutes, const char *password_hash,
                               gint64 now, TvUser **out, GError **error);

/* Returns: TRUE with *@out (transfer full); FALSE with NOT_FOUND or IO. */
gboolean tv_store_user_get (TvStore *store, const char *id, TvUser **out, GError **error);

/* tv_store_user_get_by_username:
 * Returns: TRUE with *@out and, when @password_hash is non-NULL, the stored
 * hash (both transfer full); FALSE with NOT_FOUND or IO. */
gboolean tv_store_user_get_by_username (TvStore *store, const char *username, TvUser **out,
                                        char **password_hash, GError **error);

/* tv_store_user_list:
 * @roles_any: 0 for every user, else users holding at least one of these roles.
 * @query: NULL/"" or text matched case-insensitively against the username and
 * the display name (substring).
 * Returns: (transfer full) (element-type TvUser) users ordered by display name
 * then username; NULL with @error (IO). */
GPtrArray *tv_store_user_list (TvStore *store, guint roles_any, const char *query, GError **error);

/* tv_store_user_list_patients_of:
 * The patients of a doctor: users holding the patient role who are the patient
 * of at least one consult (any status) whose doctor is @doctor_id; @query as
 * for tv_store_user_list.
 * Returns: (transfer full) (element-type TvUser) ordered by display name; NULL
 * with @error (IO). */
GPtrArray *tv_store_user_list_patients_of (TvStore *store, const char *doctor_id, const char *query,
                                           GError **error);

/* tv_store_user_set_disabled:
 * Disables (or re-enables) a user; disabling ends every open session of the
 * user (end reason "disabled") in the same transaction.
 * Returns: TRUE; FALSE with NOT_FOUND or IO and nothing changed. */
gboolean tv_store_user_set_disabled (TvStore *store, const char *id, gboolean disabled, gint64 now,
                                     GError **error);

/* tv_store_user_set_password:
 * Replaces the password hash and ends every open session of the user (reason
 * "password-changed"), in one transaction.
 * Returns: TRUE; FALSE with NOT_FOUND, INVALID or IO and nothing changed. */
gboolean tv_store_user_set_password (TvStore *store, const char *id, const char *password_hash, gint64 now,
                                     GError **error);

/* tv_store_user_is_patient_of:
 * Returns: TRUE when some consult (any status) has @doctor_id as its doctor
 * and @patient_id as its patient; FALSE also on errors, which are logged. */
gboolean tv_store_user_is_patient_of (TvStore *store, const char *doctor_id, const char *patient_id);

/* tv_store_session_create:
 * Opens a session for @user_id from @address (NULL = unknown) with an idle
 * timeout and an absolute lifetime (both > 0).
 * Returns: TRUE with *@token (transfer full; 43-char base64url of 32 random
 * bytes — given out once, the store keeps its SHA-256) and *@out (transfer
 * full, may be NULL); FALSE with NOT_FOUND, INVALID or IO and nothing written. */
gboolean tv_store_session_create (TvStore *store, const char *user_id, const char *address,
                                  gint64 idle_timeout_us, gint64 lifetime_us, gint64 now,
                                  char **token, TvSession **out, GError **error);

/* tv_store_session_lookup:
 * Finds the open session of @token at @now. A session idle for longer than its
 * timeout or past its absolute expiry is ended there (reason "idle" / "expired")
 * and refused. On success last_seen becomes @now — written only when the stored
 * value is older than min(30 s, idle timeout / 10), to spare a write per
 * request; the idle timeout is therefore honoured to within that margin.
 * While nothing in the database changed since an earlier lookup of the same
 * token on this store (no commit by any connection, in any process), the rows
 * read then are reused (the store's session cache, tv-store-users.c); the
 * idle and expiry checks still run with @now.
 * Returns: TRUE with *@session and *@user (transfer full, either may be NULL);
 * FALSE with TOKEN_UNKNOWN (malformed, unknown, ended, or the user is disabled),
 * TOKEN_EXPIRED (idle or past expiry) or IO. */
gboolean tv_store_session_lookup (TvStore *store, const char *token, gint64 now, TvSession **session,
                                  TvUser **user, GError **error);

/* tv_store_session_end:
 * Ends the session whose key (tv_session->key) is @key with @reason (e.g. "logout").
 * Returns: TRUE (also when it had already ended: nothing changes); FALSE with
 * NOT_FOUND or IO. */
gboolean tv_store_session_end (TvStore *store, const char *key, const char *reason, gint64 now,
                               GError **error);

/* tv_store_session_count_open:
 * Returns: the number of sessions of @user_id not ended (expired ones that were
 * never looked up again count as open); -1 on error. */
gint tv_store_session_count_open (TvStore *store, const char *user_id, GError **error);

/* tv_store_login_throttle:
 * Checks whether a login attempt for @username (normalized, any text) from
 * @address may proceed at @now (see TV_LOGIN_*). Reads only.
 * Returns: TRUE with *@retry_after_us = 0 (allowed) or > 0 (wait that long);
 * FALSE with IO. */
gboolean tv_store_login_throttle (TvStore *store, const char *username, const char *address, gint64 now,
                                  gint64 *retry_after_us, GError **error);

/* tv_store_login_failure_record:
 * Records a failed login for @username (stored as its SHA-256), @user_id (NULL
 * when no such account) and @address, and drops failures older than the window.
 * Returns: TRUE; FALSE with IO. */
gboolean tv_store_login_failure_record (TvStore *store, const char *username, const char *user_id,
                                        const char *address, gint64 now, GError **error);

/* tv_store_login_failures_clear:
 * Forgets the failures of @username (after a successful login): its rows are
 * detached from the username but still count for their addresses.
 * Returns: TRUE; FALSE with IO. */
gboolean tv_store_login_failures_clear (TvStore *store, const char *username, GError **error);

G_END_DECLS
