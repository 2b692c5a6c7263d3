/* test-authz-matrix.c — every /api/v1/ route, with every role, with and without
 * ownership of the record: allowed or denied, as the rules say.
 *
 * Why: authorization mistakes are silent (a patient reading another patient's
 * record looks like success), so the rules are a table and the test walks it
 * against a real server. The route list comes from the router itself
 * (tv_server_api_register_all + tv_http_list_routes): a registered route
 * without rows for every role fails the test, and so does a row for a route
 * that no longer exists.
 *
 * ADDING ROWS (schedule, waiting room, ...): append to `rows` below, one line
 * per (route, caller role, record): the path and body may use the placeholders
 * of the world (see `world_expand`): {admin} {sched} {bill} {doc1} {doc2}
 * {pat1} {pat2} (user ids), {consult1} (doc1 with pat1) {consult2} (doc2 with
 * pat2), {uniq} (a fresh word, for usernames), {tomorrow09} (RFC 3339 time).
 * The caller of each role is: patient pat1, doctor doc1, scheduler sched,
 * billing bill, admin admin — so "own" records are pat1's / doc1's.
 * ALLOW means any 2xx; DENY means 403 "forbidden"; HIDDEN means 404 "not_found"
 * (a record of someone else's that the caller may not know exists). Requests without a login
 * (401) are checked automatically for every route that needs one. Add world
 * fixtures in world_build() if a rule needs more records.
 * Thread: main thread only; one server for the whole matrix, under a watchdog.
 */
#define G_LOG_DOMAIN "test-authz-matrix"

#include <string.h>

#include "server/tv-api.h"
#include "server/tv-http.h"
#include "tests/common/tv-test-fixture.h"
#include "tests/common/tv-test-http.h"

typedef enum { ALLOW, DENY, HIDDEN } Expect;   /* HIDDEN: 404 not_found (another's record) */

typedef struct {
  const char *method;
  const char *pattern;   /* the registered route this row exercises */
  guint role;            /* the caller's role (see the header); 0 = not logged in */
  const char *path;      /* concrete path, {placeholders} allowed */
  const char *body;      /* JSON body, {placeholders} allowed; NULL = none */
  Expect expect;
  const char *why;       /* which record / ownership case */
} Row;

#define P TV_ROLE_PATIENT
#define D TV_ROLE_DOCTOR
#define S TV_ROLE_SCHEDULER
#define B TV_ROLE_BILLING
#define A TV_ROLE_ADMIN

/* schedule rows: bodies (doc1 and doc2 work all day, every day: see world_build) */
#define ALL_DAY TV_TEST_ALL_DAY_HOURS
#define DAY_OFF "{\"date\":\"2031-01-01\",\"kind\":\"off\"}"

static const Row rows[] = {
  /* ---- accounts: login, logout, me ---- */
  { "POST", "/api/v1/login", 0, "/api/v1/login", "{\"username\":\"pat1\",\"password\":\"" TV_TEST_PASSWORD "\"}",
    ALLOW, "public" },
  { "POST", "/api/v1/logout", P, "/api/v1/logout", NULL, ALLOW, "own session" },
  { "POST", "/api/v1/logout", D, "/api/v1/logout", NULL, ALLOW, "own session" },
  { "POST", "/api/v1/logout", S, "/api/v1/logout", NULL, ALLOW, "own session" },
  { "POST", "/api/v1/logout", B, "/api/v1/logout", NULL, ALLOW, "own session" },
  { "POST", "/api/v1/logout", A, "/api/v1/logout", NULL, ALLOW, "own session" },
  { "GET", "/api/v1/me", P, "/api/v1/me", NULL, ALLOW, "self" },
  { "GET", "/api/v1/me", D, "/api/v1/me", NULL, ALLOW, "self" },
  { "GET", "/api/v1/me", S, "/api/v1/me", NULL, ALLOW, "self" },
  { "GET", "/api/v1/me", B, "/api/v1/me", NULL, ALLOW, "self" },
  { "GET", "/api/v1/me", A, "/api/v1/me", NULL, ALLOW, "self" },

  /* ---- accounts: users ---- */
  { "GET", "/api/v1/users", P, "/api/v1/users", NULL, DENY, "patients list nobody" },
  { "GET", "/api/v1/users", P, "/api/v1/users?role=patient", NULL, DENY, "not even patients" },
  { "GET", "/api/v1/users", D, "/api/v1/users", NULL, ALLOW, "own patients" },
  { "GET", "/api/v1/users", D, "/api/v1/users?role=patient", NULL, ALLOW, "own patients" },
  { "GET", "/api/v1/users", D, "/api/v1/users?role=doctor", NULL, DENY, "other doctors" },
  { "GET", "/api/v1/users", D, "/api/v1/users?role=admin", NULL, DENY, "admins" },
  { "GET", "/api/v1/users", S, "/api/v1/users", NULL, ALLOW, "patients and doctors" },
  { "GET", "/api/v1/users", S, "/api/v1/users?role=doctor", NULL, ALLOW, "doctors" },
  { "GET", "/api/v1/users", S, "/api/v1/users?role=admin", NULL, DENY, "admins" },
  { "GET", "/api/v1/users", S, "/api/v1/users?role=billing", NULL, DENY, "billing staff" },
  { "GET", "/api/v1/users", B, "/api/v1/users", NULL, DENY, "billing lists nobody" },
  { "GET", "/api/v1/users", A, "/api/v1/users", NULL, ALLOW, "everyone" },
  { "GET", "/api/v1/users", A, "/api/v1/users?role=admin&q=ada", NULL, ALLOW, "admins" },
  { "POST", "/api/v1/users", P, "/api/v1/users",
    "{\"username\":\"p{uniq}\",\"display_name\":\"Pat New\",\"roles\":[\"patient\"]}", DENY, "patient registers" },
  { "POST", "/api/v1/users", D, "/api/v1/users",
    "{\"username\":\"p{uniq}\",\"display_name\":\"Pat New\",\"roles\":[\"patient\"]}", DENY, "doctor registers" },
  { "POST", "/api/v1/users", S, "/api/v1/users",
    "{\"username\":\"p{uniq}\",\"display_name\":\"Pat New\",\"roles\":[\"patient\"]}", ALLOW, "a patient" },
  { "POST", "/api/v1/users", S, "/api/v1/users",
    "{\"username\":\"d{uniq}\",\"display_name\":\"Dr. New\",\"roles\":[\"doctor\"]}", DENY, "a doctor" },
  { "POST", "/api/v1/users", S, "/api/v1/users",
    "{\"username\":\"a{uniq}\",\"display_name\":\"Ad New\",\"roles\":[\"admin\"]}", DENY, "an admin" },
  { "POST", "/api/v1/users", B, "/api/v1/users",
    "{\"username\":\"p{uniq}\",\"display_name\":\"Pat New\",\"roles\":[\"patient\"]}", DENY, "billing registers" },
  { "POST", "/api/v1/users", A, "/api/v1/users",
    "{\"username\":\"a{uniq}\",\"display_name\":\"Ad New\",\"roles\":[\"admin\",\"doctor\"]}", ALLOW, "any roles" },
  { "GET", "/api/v1/users/{id}", P, "/api/v1/users/{pat1}", NULL, ALLOW, "self" },
  { "GET", "/api/v1/users/{id}", P, "/api/v1/users/{pat2}", NULL, DENY, "another patient" },
  { "GET", "/api/v1/users/{id}", P, "/api/v1/users/{doc1}", NULL, DENY, "own doctor's account" },
  { "GET", "/api/v1/users/{id}", D, "/api/v1/users/{doc1}", NULL, ALLOW, "self" },
  { "GET", "/api/v1/users/{id}", D, "/api/v1/users/{pat1}", NULL, ALLOW, "own patient" },
  { "GET", "/api/v1/users/{id}", D, "/api/v1/users/{pat2}", NULL, DENY, "another doctor's patient" },
  { "GET", "/api/v1/users/{id}", D, "/api/v1/users/{doc2}", NULL, DENY, "another doctor" },
  { "GET", "/api/v1/users/{id}", D, "/api/v1/users/{admin}", NULL, DENY, "an admin" },
  { "GET", "/api/v1/users/{id}", S, "/api/v1/users/{sched}", NULL, ALLOW, "self" },
  { "GET", "/api/v1/users/{id}", S, "/api/v1/users/{pat2}", NULL, ALLOW, "any patient" },
  { "GET", "/api/v1/users/{id}", S, "/api/v1/users/{doc2}", NULL, ALLOW, "any doctor" },
  { "GET", "/api/v1/users/{id}", S, "/api/v1/users/{admin}", NULL, DENY, "an admin" },
  { "GET", "/api/v1/users/{id}", S, "/api/v1/users/{bill}", NULL, DENY, "billing staff" },
  { "GET", "/api/v1/users/{id}", B, "/api/v1/users/{bill}", NULL, ALLOW, "self" },
  { "GET", "/api/v1/users/{id}", B, "/api/v1/users/{pat1}", NULL, DENY, "a patient" },
  { "GET", "/api/v1/users/{id}", A, "/api/v1/users/{pat2}", NULL, ALLOW, "anyone" },
  { "GET", "/api/v1/users/{id}", A, "/api/v1/users/{sched}", NULL, ALLOW, "anyone" },
  /* ---- contact details (tv-api-contacts.c) ---- */
  { "GET", "/api/v1/users/{id}/contact", P, "/api/v1/users/{pat1}/contact", NULL, ALLOW, "self" },
  { "GET", "/api/v1/users/{id}/contact", P, "/api/v1/users/{pat2}/contact", NULL, DENY, "another patient" },
  { "GET", "/api/v1/users/{id}/contact", D, "/api/v1/users/{doc1}/contact", NULL, ALLOW, "self" },
  { "GET", "/api/v1/users/{id}/contact", D, "/api/v1/users/{pat1}/contact", NULL, DENY, "even an own patient" },
  { "GET", "/api/v1/users/{id}/contact", S, "/api/v1/users/{pat2}/contact", NULL, ALLOW, "any patient" },
  { "GET", "/api/v1/users/{id}/contact", S, "/api/v1/users/{doc2}/contact", NULL, ALLOW, "any doctor" },
  { "GET", "/api/v1/users/{id}/contact", S, "/api/v1/users/{admin}/contact", NULL, DENY, "an admin" },
  { "GET", "/api/v1/users/{id}/contact", B, "/api/v1/users/{pat1}/contact", NULL, DENY, "a patient" },
  { "GET", "/api/v1/users/{id}/contact", B, "/api/v1/users/{bill}/contact", NULL, ALLOW, "self" },
  { "GET", "/api/v1/users/{id}/contact", A, "/api/v1/users/{pat2}/contact", NULL, ALLOW, "anyone" },
  { "PUT", "/api/v1/users/{id}/contact", P, "/api/v1/users/{pat1}/contact", "{\"email\":\"pat1@example.org\"}",
    ALLOW, "self" },
  { "PUT", "/api/v1/users/{id}/contact", P, "/api/v1/users/{pat2}/contact", "{\"email\":\"x@example.org\"}",
    DENY, "another patient" },
  { "PUT", "/api/v1/users/{id}/contact", D, "/api/v1/users/{pat1}/contact", "{\"email\":\"x@example.org\"}",
    DENY, "even an own patient" },
  { "PUT", "/api/v1/users/{id}/contact", D, "/api/v1/users/{doc1}/contact", "{\"phone\":\"+1 555 0100\"}",
    ALLOW, "self" },
  { "PUT", "/api/v1/users/{id}/contact", S, "/api/v1/users/{pat2}/contact", "{\"email\":\"pat2@example.org\"}",
    ALLOW, "any patient" },
  { "PUT", "/api/v1/users/{id}/contact", S, "/api/v1/users/{admin}/contact", "{\"email\":\"x@example.org\"}",
    DENY, "an admin" },
  { "PUT", "/api/v1/users/{id}/contact", B, "/api/v1/users/{pat1}/contact", "{\"email\":\"x@example.org\"}",
    DENY, "a patient" },
  { "PUT", "/api/v1/users/{id}/contact", A, "/api/v1/users/{doc2}/contact", "{\"email\":\"doc2@example.org\"}",
    ALLOW, "anyone" },

  /* ---- schedule: add rows here ---- */
  { "GET", "/api/v1/doctors", P, "/api/v1/doctors", NULL, ALLOW, "any user" },
  { "GET", "/api/v1/doctors", D, "/api/v1/doctors", NULL, ALLOW, "any user" },
  { "GET", "/api/v1/doctors", S, "/api/v1/doctors", NULL, ALLOW, "any user" },
  { "GET", "/api/v1/doctors", B, "/api/v1/doctors", NULL, ALLOW, "any user" },
  { "GET", "/api/v1/doctors", A, "/api/v1/doctors", NULL, ALLOW, "any user" },
  { "GET", "/api/v1/doctors/{id}/availability", P, "/api/v1/doctors/{doc1}/availability", NULL, ALLOW, "hours" },
  { "GET", "/api/v1/doctors/{id}/availability", D, "/api/v1/doctors/{doc2}/availability", NULL, ALLOW, "hours" },
  { "GET", "/api/v1/doctors/{id}/availability", S, "/api/v1/doctors/{doc1}/availability", NULL, ALLOW, "hours" },
  { "GET", "/api/v1/doctors/{id}/availability", B, "/api/v1/doctors/{doc1}/availability", NULL, ALLOW, "hours" },
  { "GET", "/api/v1/doctors/{id}/availability", A, "/api/v1/doctors/{doc1}/availability", NULL, ALLOW, "hours" },
  { "PUT", "/api/v1/doctors/{id}/availability", P, "/api/v1/doctors/{doc1}/availability", ALL_DAY, DENY, "role" },
  { "PUT", "/api/v1/doctors/{id}/availability", D, "/api/v1/doctors/{doc1}/availability", ALL_DAY, ALLOW,
    "own hours" },
  { "PUT", "/api/v1/doctors/{id}/availability", D, "/api/v1/doctors/{doc2}/availability", ALL_DAY, DENY,
    "another doctor's hours" },
  { "PUT", "/api/v1/doctors/{id}/availability", S, "/api/v1/doctors/{doc2}/availability", ALL_DAY, ALLOW,
    "any doctor" },
  { "PUT", "/api/v1/doctors/{id}/availability", B, "/api/v1/doctors/{doc1}/availability", ALL_DAY, DENY, "role" },
  { "PUT", "/api/v1/doctors/{id}/availability", A, "/api/v1/doctors/{doc2}/availability", ALL_DAY, ALLOW,
    "any doctor" },
  { "GET", "/api/v1/doctors/{id}/exceptions", P, "/api/v1/doctors/{doc1}/exceptions", NULL, ALLOW, "exceptions" },
  { "GET", "/api/v1/doctors/{id}/exceptions", D, "/api/v1/doctors/{doc2}/exceptions", NULL, ALLOW, "exceptions" },
  { "GET", "/api/v1/doctors/{id}/exceptions", S, "/api/v1/doctors/{doc1}/exceptions", NULL, ALLOW, "exceptions" },
  { "GET", "/api/v1/doctors/{id}/exceptions", B, "/api/v1/doctors/{doc1}/exceptions", NULL, ALLOW, "exceptions" },
  { "GET", "/api/v1/doctors/{id}/exceptions", A, "/api/v1/doctors/{doc1}/exceptions", NULL, ALLOW, "exceptions" },
  { "POST", "/api/v1/doctors/{id}/exceptions", P, "/api/v1/doctors/{doc1}/exceptions", DAY_OFF, DENY, "role" },
  { "POST", "/api/v1/doctors/{id}/exceptions", D, "/api/v1/doctors/{doc1}/exceptions", DAY_OFF, ALLOW, "own" },
  { "POST", "/api/v1/doctors/{id}/exceptions", D, "/api/v1/doctors/{doc2}/exceptions", DAY_OFF, DENY,
    "another doctor's" },
  { "POST", "/api/v1/doctors/{id}/exceptions", S, "/api/v1/doctors/{doc2}/exceptions", DAY_OFF, ALLOW, "any" },
  { "POST", "/api/v1/doctors/{id}/exceptions", B, "/api/v1/doctors/{doc1}/exceptions", DAY_OFF, DENY, "role" },
  { "POST", "/api/v1/doctors/{id}/exceptions", A, "/api/v1/doctors/{doc2}/exceptions", DAY_OFF, ALLOW, "any" },
  { "DELETE", "/api/v1/doctors/{id}/exceptions/{exception_id}", P, "/api/v1/doctors/{doc1}/exceptions/{ex_d}",
    NULL, DENY, "role" },
  { "DELETE", "/api/v1/doctors/{id}/exceptions/{exception_id}", D, "/api/v1/doctors/{doc1}/exceptions/{ex_d}",
    NULL, ALLOW, "own" },
  { "DELETE", "/api/v1/doctors/{id}/exceptions/{exception_id}", D, "/api/v1/doctors/{doc2}/exceptions/{ex_s}",
    NULL, DENY, "another doctor's" },
  { "DELETE", "/api/v1/doctors/{id}/exceptions/{exception_id}", S, "/api/v1/doctors/{doc2}/exceptions/{ex_s}",
    NULL, ALLOW, "any" },
  { "DELETE", "/api/v1/doctors/{id}/exceptions/{exception_id}", B, "/api/v1/doctors/{doc2}/exceptions/{ex_a}",
    NULL, DENY, "role" },
  { "DELETE", "/api/v1/doctors/{id}/exceptions/{exception_id}", A, "/api/v1/doctors/{doc2}/exceptions/{ex_a}",
    NULL, ALLOW, "any" },
  { "GET", "/api/v1/doctors/{id}/slots", P, "/api/v1/doctors/{doc1}/slots", NULL, ALLOW, "free slots" },
  { "GET", "/api/v1/doctors/{id}/slots", D, "/api/v1/doctors/{doc2}/slots", NULL, ALLOW, "free slots" },
  { "GET", "/api/v1/doctors/{id}/slots", S, "/api/v1/doctors/{doc1}/slots", NULL, ALLOW, "free slots" },
  { "GET", "/api/v1/doctors/{id}/slots", B, "/api/v1/doctors/{doc1}/slots", NULL, ALLOW, "free slots" },
  { "GET", "/api/v1/doctors/{id}/slots", A, "/api/v1/doctors/{doc1}/slots", NULL, ALLOW, "free slots" },
  { "POST", "/api/v1/consults", P, "/api/v1/consults",
    "{\"doctor_id\":\"{doc1}\",\"patient_id\":\"{pat1}\",\"start\":\"{tomorrow09}\"}", ALLOW, "for themself" },
  { "POST", "/api/v1/consults", P, "/api/v1/consults",
    "{\"doctor_id\":\"{doc1}\",\"patient_id\":\"{pat2}\",\"start\":\"{tomorrow10}\"}", DENY,
    "for another patient" },
  { "POST", "/api/v1/consults", D, "/api/v1/consults",
    "{\"doctor_id\":\"{doc1}\",\"patient_id\":\"{pat1}\",\"start\":\"{tomorrow10}\"}", DENY, "role" },
  { "POST", "/api/v1/consults", S, "/api/v1/consults",
    "{\"doctor_id\":\"{doc2}\",\"patient_id\":\"{pat2}\",\"start\":\"{tomorrow10}\"}", ALLOW, "for anyone" },
  { "POST", "/api/v1/consults", B, "/api/v1/consults",
    "{\"doctor_id\":\"{doc1}\",\"patient_id\":\"{pat1}\",\"start\":\"{tomorrow10}\"}", DENY, "role" },
  { "POST", "/api/v1/consults", A, "/api/v1/consults",
    "{\"doctor_id\":\"{doc1}\",\"patient_id\":\"{pat1}\",\"start\":\"{tomorrow10}\"}", DENY,
    "role (booking is the front desk's)" },
  { "GET", "/api/v1/consults", P, "/api/v1/consults", NULL, ALLOW, "own consults" },
  { "GET", "/api/v1/consults", D, "/api/v1/consults", NULL, ALLOW, "own consults" },
  { "GET", "/api/v1/consults", S, "/api/v1/consults", NULL, ALLOW, "all consults" },
  { "GET", "/api/v1/consults", B, "/api/v1/consults", NULL, DENY, "role" },
  { "GET", "/api/v1/consults", A, "/api/v1/consults", NULL, ALLOW, "all consults" },
  { "GET", "/api/v1/consults/{id}", P, "/api/v1/consults/{consult1}", NULL, ALLOW, "own" },
  { "GET", "/api/v1/consults/{id}", P, "/api/v1/consults/{consult2}", NULL, DENY, "another patient's" },
  { "GET", "/api/v1/consults/{id}", D, "/api/v1/consults/{consult1}", NULL, ALLOW, "own" },
  { "GET", "/api/v1/consults/{id}", D, "/api/v1/consults/{consult2}", NULL, DENY, "another doctor's" },
  { "GET", "/api/v1/consults/{id}", S, "/api/v1/consults/{consult2}", NULL, ALLOW, "any" },
  { "GET", "/api/v1/consults/{id}", B, "/api/v1/consults/{consult1}", NULL, DENY, "role" },
  { "GET", "/api/v1/consults/{id}", A, "/api/v1/consults/{consult2}", NULL, ALLOW, "any" },
  { "GET", "/api/v1/consults/{id}/join-link", P, "/api/v1/consults/{consult1}/join-link", NULL, ALLOW, "own" },
  { "GET", "/api/v1/consults/{id}/join-link", P, "/api/v1/consults/{consult2}/join-link", NULL, DENY,
    "another patient's" },
  { "GET", "/api/v1/consults/{id}/join-link", D, "/api/v1/consults/{consult1}/join-link", NULL, DENY, "role" },
  { "GET", "/api/v1/consults/{id}/join-link", S, "/api/v1/consults/{consult2}/join-link", NULL, ALLOW, "any" },
  { "GET", "/api/v1/consults/{id}/join-link", B, "/api/v1/consults/{consult1}/join-link", NULL, DENY, "role" },
  { "GET", "/api/v1/consults/{id}/join-link", A, "/api/v1/consults/{consult2}/join-link", NULL, ALLOW, "any" },
  /* in-call chat (tv-api-chat.c): the consult's doctor and admins */
  { "GET", "/api/v1/consults/{id}/chat", P, "/api/v1/consults/{consult1}/chat", NULL, DENY, "role, even own" },
  { "GET", "/api/v1/consults/{id}/chat", D, "/api/v1/consults/{consult1}/chat", NULL, ALLOW, "own" },
  { "GET", "/api/v1/consults/{id}/chat", D, "/api/v1/consults/{consult2}/chat", NULL, DENY, "another doctor's" },
  { "GET", "/api/v1/consults/{id}/chat", S, "/api/v1/consults/{consult1}/chat", NULL, DENY, "role" },
  { "GET", "/api/v1/consults/{id}/chat", B, "/api/v1/consults/{consult1}/chat", NULL, DENY, "role" },
  { "GET", "/api/v1/consults/{id}/chat", A, "/api/v1/consults/{consult2}/chat", NULL, ALLOW, "any" },
  { "POST", "/api/v1/consults/{id}/cancel", P, "/api/v1/consults/{c_cancel_p}/cancel", "{}", ALLOW, "own" },
  { "POST", "/api/v1/consults/{id}/cancel", P, "/api/v1/consults/{consult2}/cancel", "{}", DENY,
    "another patient's" },
  { "POST", "/api/v1/consults/{id}/cancel", D, "/api/v1/consults/{c_cancel_d}/cancel", "{}", ALLOW, "own" },
  { "POST", "/api/v1/consults/{id}/cancel", D, "/api/v1/consults/{consult2}/cancel", "{}", DENY,
    "another doctor's" },
  { "POST", "/api/v1/consults/{id}/cancel", S, "/api/v1/consults/{c_cancel_s}/cancel", "{}", ALLOW, "any" },
  { "POST", "/api/v1/consults/{id}/cancel", B, "/api/v1/consults/{consult1}/cancel", "{}", DENY, "role" },
  { "POST", "/api/v1/consults/{id}/cancel", A, "/api/v1/consults/{c_cancel_a}/cancel", "{}", ALLOW, "any" },
  { "POST", "/api/v1/consults/{id}/reschedule", P, "/api/v1/consults/{c_move_p}/reschedule",
    "{\"start\":\"{tomorrow11}\"}", ALLOW, "own" },
  { "POST", "/api/v1/consults/{id}/reschedule", P, "/api/v1/consults/{consult2}/reschedule",
    "{\"start\":\"{tomorrow12}\"}", DENY, "another patient's" },
  { "POST", "/api/v1/consults/{id}/reschedule", D, "/api/v1/consults/{consult1}/reschedule",
    "{\"start\":\"{tomorrow12}\"}", DENY, "role" },
  { "POST", "/api/v1/consults/{id}/reschedule", S, "/api/v1/consults/{c_move_s}/reschedule",
    "{\"start\":\"{tomorrow12}\"}", ALLOW, "any" },
  { "POST", "/api/v1/consults/{id}/reschedule", B, "/api/v1/consults/{consult1}/reschedule",
    "{\"start\":\"{tomorrow12}\"}", DENY, "role" },
  { "POST", "/api/v1/consults/{id}/reschedule", A, "/api/v1/consults/{consult1}/reschedule",
    "{\"start\":\"{tomorrow12}\"}", DENY, "role" },
  { "POST", "/api/v1/consults/{id}/no-show", P, "/api/v1/consults/{c_noshow_d}/no-show", "{}", DENY, "role" },
  { "POST", "/api/v1/consults/{id}/no-show", D, "/api/v1/consults/{c_noshow_d}/no-show", "{}", ALLOW,
    "own, after its start" },
  { "POST", "/api/v1/consults/{id}/no-show", D, "/api/v1/consults/{consult2}/no-show", "{}", DENY,
    "another doctor's" },
  { "POST", "/api/v1/consults/{id}/no-show", S, "/api/v1/consults/{c_noshow_s}/no-show", "{}", ALLOW,
    "any, after its start" },
  { "POST", "/api/v1/consults/{id}/no-show", B, "/api/v1/consults/{consult1}/no-show", "{}", DENY, "role" },
  { "POST", "/api/v1/consults/{id}/no-show", A, "/api/v1/consults/{consult1}/no-show", "{}", DENY, "role" },

  /* ---- waiting room: add rows here ---- */

  /* ---- billing (tv-api-billing.c): facts by the consult's doctor, lines by billing staff, own statements ---- */
  { "GET", "/api/v1/consults/{id}/facts", P, "/api/v1/consults/{consult1}/facts", NULL, DENY, "role" },
  { "GET", "/api/v1/consults/{id}/facts", D, "/api/v1/consults/{consult1}/facts", NULL, ALLOW, "own consult" },
  { "GET", "/api/v1/consults/{id}/facts", D, "/api/v1/consults/{consult2}/facts", NULL, DENY, "another doctor's" },
  { "GET", "/api/v1/consults/{id}/facts", S, "/api/v1/consults/{consult1}/facts", NULL, DENY, "role" },
  { "GET", "/api/v1/consults/{id}/facts", B, "/api/v1/consults/{consult1}/facts", NULL, DENY, "role (notes)" },
  { "GET", "/api/v1/consults/{id}/facts", A, "/api/v1/consults/{consult2}/facts", NULL, ALLOW, "any" },
  { "PUT", "/api/v1/consults/{id}/facts", P, "/api/v1/consults/{consult1}/facts", "{\"patient_location\":\"home\"}",
    DENY, "role" },
  { "PUT", "/api/v1/consults/{id}/facts", D, "/api/v1/consults/{consult1}/facts", "{\"patient_location\":\"home\"}",
    ALLOW, "own consult" },
  { "PUT", "/api/v1/consults/{id}/facts", D, "/api/v1/consults/{consult2}/facts", "{\"patient_location\":\"home\"}",
    DENY, "another doctor's" },
  { "PUT", "/api/v1/consults/{id}/facts", S, "/api/v1/consults/{consult1}/facts", "{\"patient_location\":\"home\"}",
    DENY, "role" },
  { "PUT", "/api/v1/consults/{id}/facts", B, "/api/v1/consults/{consult1}/facts", "{\"patient_location\":\"home\"}",
    DENY, "role" },
  { "PUT", "/api/v1/consults/{id}/facts", A, "/api/v1/consults/{consult2}/facts", "{\"patient_location\":\"other\"}",
    ALLOW, "any" },
  { "GET", "/api/v1/billing/lines", P, "/api/v1/billing/lines", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/lines", D, "/api/v1/billing/lines", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/lines", S, "/api/v1/billing/lines", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/lines", B, "/api/v1/billing/lines?status=ready", NULL, ALLOW, "all lines" },
  { "GET", "/api/v1/billing/lines", A, "/api/v1/billing/lines", NULL, ALLOW, "all lines" },
  { "GET", "/api/v1/billing/lines/{id}", P, "/api/v1/billing/lines/{line1}", NULL, DENY, "role, even own" },
  { "GET", "/api/v1/billing/lines/{id}", D, "/api/v1/billing/lines/{line1}", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/lines/{id}", S, "/api/v1/billing/lines/{line1}", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/lines/{id}", B, "/api/v1/billing/lines/{line2}", NULL, ALLOW, "any line" },
  { "GET", "/api/v1/billing/lines/{id}", A, "/api/v1/billing/lines/{line1}", NULL, ALLOW, "any line" },
  { "PUT", "/api/v1/billing/lines/{id}/status", P, "/api/v1/billing/lines/{line1}/status",
    "{\"status\":\"submitted\"}", DENY, "role" },
  { "PUT", "/api/v1/billing/lines/{id}/status", D, "/api/v1/billing/lines/{line1}/status",
    "{\"status\":\"submitted\"}", DENY, "role" },
  { "PUT", "/api/v1/billing/lines/{id}/status", S, "/api/v1/billing/lines/{line1}/status",
    "{\"status\":\"submitted\"}", DENY, "role" },
  { "PUT", "/api/v1/billing/lines/{id}/status", B, "/api/v1/billing/lines/{line_b}/status",
    "{\"status\":\"submitted\"}", ALLOW, "any line" },
  { "PUT", "/api/v1/billing/lines/{id}/status", A, "/api/v1/billing/lines/{line_a}/status",
    "{\"status\":\"submitted\"}", ALLOW, "any line" },
  { "POST", "/api/v1/billing/lines/status", P, "/api/v1/billing/lines/status",
    "{\"status\":\"submitted\",\"ids\":[\"{line1}\"]}", DENY, "role" },
  { "POST", "/api/v1/billing/lines/status", D, "/api/v1/billing/lines/status",
    "{\"status\":\"submitted\",\"ids\":[\"{line1}\"]}", DENY, "role" },
  { "POST", "/api/v1/billing/lines/status", S, "/api/v1/billing/lines/status",
    "{\"status\":\"submitted\",\"ids\":[\"{line1}\"]}", DENY, "role" },
  { "POST", "/api/v1/billing/lines/status", B, "/api/v1/billing/lines/status",
    "{\"status\":\"submitted\",\"ids\":[\"{line_b2}\"]}", ALLOW, "any lines" },
  { "POST", "/api/v1/billing/lines/status", A, "/api/v1/billing/lines/status",
    "{\"status\":\"submitted\",\"ids\":[\"{line_a2}\"]}", ALLOW, "any lines" },
  { "GET", "/api/v1/billing/export", P, "/api/v1/billing/export", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/export", D, "/api/v1/billing/export", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/export", S, "/api/v1/billing/export", NULL, DENY, "role" },
  { "GET", "/api/v1/billing/export", B, "/api/v1/billing/export?from=2020-01-01&to=2040-12-31", NULL, ALLOW, "CSV" },
  { "GET", "/api/v1/billing/export", A, "/api/v1/billing/export", NULL, ALLOW, "CSV" },
  { "GET", "/api/v1/me/statements", P, "/api/v1/me/statements", NULL, ALLOW, "own" },
  { "GET", "/api/v1/me/statements", D, "/api/v1/me/statements", NULL, DENY, "role" },
  { "GET", "/api/v1/me/statements", S, "/api/v1/me/statements", NULL, DENY, "role" },
  { "GET", "/api/v1/me/statements", B, "/api/v1/me/statements", NULL, DENY, "role" },
  { "GET", "/api/v1/me/statements", A, "/api/v1/me/statements", NULL, DENY, "role" },
  { "GET", "/api/v1/me/statements/{id}", P, "/api/v1/me/statements/{line1}", NULL, ALLOW, "own" },
  { "GET", "/api/v1/me/statements/{id}", P, "/api/v1/me/statements/{line1}.html", NULL, ALLOW, "own, printable" },
  { "GET", "/api/v1/me/statements/{id}", P, "/api/v1/me/statements/{line2}", NULL, HIDDEN, "another patient's" },
  { "GET", "/api/v1/me/statements/{id}", P, "/api/v1/me/statements/{line2}.html", NULL, HIDDEN,
    "another patient's, printable" },
  { "GET", "/api/v1/me/statements/{id}", D, "/api/v1/me/statements/{line1}", NULL, DENY, "role" },
  { "GET", "/api/v1/me/statements/{id}", S, "/api/v1/me/statements/{line1}", NULL, DENY, "role" },
  { "GET", "/api/v1/me/statements/{id}", B, "/api/v1/me/statements/{line1}", NULL, DENY, "role" },
  { "GET", "/api/v1/me/statements/{id}", A, "/api/v1/me/statements/{line1}", NULL, DENY, "role" },

  /* ---- FHIR R4 read API (tv-api-fhir.c): admins, doctors (their patients), patients (themselves) ---- */
  { "GET", "/fhir/metadata", 0, "/fhir/metadata", NULL, ALLOW, "public CapabilityStatement" },
  { "GET", "/fhir/Patient", P, "/fhir/Patient", NULL, ALLOW, "themself only" },
  { "GET", "/fhir/Patient", D, "/fhir/Patient", NULL, ALLOW, "own patients" },
  { "GET", "/fhir/Patient", S, "/fhir/Patient", NULL, DENY, "role" },
  { "GET", "/fhir/Patient", B, "/fhir/Patient", NULL, DENY, "role" },
  { "GET", "/fhir/Patient", A, "/fhir/Patient", NULL, ALLOW, "everyone" },
  { "GET", "/fhir/Patient/{id}", P, "/fhir/Patient/{pat1}", NULL, ALLOW, "self" },
  { "GET", "/fhir/Patient/{id}", P, "/fhir/Patient/{pat2}", NULL, DENY, "another patient" },
  { "GET", "/fhir/Patient/{id}", D, "/fhir/Patient/{pat1}", NULL, ALLOW, "own patient" },
  { "GET", "/fhir/Patient/{id}", D, "/fhir/Patient/{pat2}", NULL, DENY, "another doctor's patient" },
  { "GET", "/fhir/Patient/{id}", S, "/fhir/Patient/{pat1}", NULL, DENY, "role" },
  { "GET", "/fhir/Patient/{id}", B, "/fhir/Patient/{pat1}", NULL, DENY, "role" },
  { "GET", "/fhir/Patient/{id}", A, "/fhir/Patient/{pat2}", NULL, ALLOW, "anyone" },
  { "GET", "/fhir/Patient/{id}/$everything", P, "/fhir/Patient/{pat1}/$everything", NULL, ALLOW, "self" },
  { "GET", "/fhir/Patient/{id}/$everything", P, "/fhir/Patient/{pat2}/$everything", NULL, DENY, "another patient" },
  { "GET", "/fhir/Patient/{id}/$everything", D, "/fhir/Patient/{pat1}/$everything", NULL, ALLOW, "own patient" },
  { "GET", "/fhir/Patient/{id}/$everything", D, "/fhir/Patient/{pat2}/$everything", NULL, DENY,
    "another doctor's patient" },
  { "GET", "/fhir/Patient/{id}/$everything", S, "/fhir/Patient/{pat1}/$everything", NULL, DENY, "role" },
  { "GET", "/fhir/Patient/{id}/$everything", B, "/fhir/Patient/{pat1}/$everything", NULL, DENY, "role" },
  { "GET", "/fhir/Patient/{id}/$everything", A, "/fhir/Patient/{pat2}/$everything", NULL, ALLOW, "anyone" },
  { "GET", "/fhir/Practitioner", P, "/fhir/Practitioner", NULL, ALLOW, "doctors" },
  { "GET", "/fhir/Practitioner", D, "/fhir/Practitioner", NULL, ALLOW, "doctors" },
  { "GET", "/fhir/Practitioner", S, "/fhir/Practitioner", NULL, DENY, "role" },
  { "GET", "/fhir/Practitioner", B, "/fhir/Practitioner", NULL, DENY, "role" },
  { "GET", "/fhir/Practitioner", A, "/fhir/Practitioner", NULL, ALLOW, "doctors" },
  { "GET", "/fhir/Practitioner/{id}", P, "/fhir/Practitioner/{doc2}", NULL, ALLOW, "any doctor" },
  { "GET", "/fhir/Practitioner/{id}", D, "/fhir/Practitioner/{doc2}", NULL, ALLOW, "any doctor" },
  { "GET", "/fhir/Practitioner/{id}", S, "/fhir/Practitioner/{doc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Practitioner/{id}", B, "/fhir/Practitioner/{doc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Practitioner/{id}", A, "/fhir/Practitioner/{doc1}", NULL, ALLOW, "any doctor" },
  { "GET", "/fhir/Schedule", P, "/fhir/Schedule?actor=Practitioner/{doc1}", NULL, ALLOW, "schedules" },
  { "GET", "/fhir/Schedule", D, "/fhir/Schedule", NULL, ALLOW, "schedules" },
  { "GET", "/fhir/Schedule", S, "/fhir/Schedule", NULL, DENY, "role" },
  { "GET", "/fhir/Schedule", B, "/fhir/Schedule", NULL, DENY, "role" },
  { "GET", "/fhir/Schedule", A, "/fhir/Schedule", NULL, ALLOW, "schedules" },
  { "GET", "/fhir/Schedule/{id}", P, "/fhir/Schedule/{doc1}", NULL, ALLOW, "any schedule" },
  { "GET", "/fhir/Schedule/{id}", D, "/fhir/Schedule/{doc2}", NULL, ALLOW, "any schedule" },
  { "GET", "/fhir/Schedule/{id}", S, "/fhir/Schedule/{doc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Schedule/{id}", B, "/fhir/Schedule/{doc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Schedule/{id}", A, "/fhir/Schedule/{doc1}", NULL, ALLOW, "any schedule" },
  { "GET", "/fhir/Slot", P, "/fhir/Slot?schedule=Schedule/{doc1}", NULL, ALLOW, "slots" },
  { "GET", "/fhir/Slot", D, "/fhir/Slot?schedule=Schedule/{doc2}", NULL, ALLOW, "slots" },
  { "GET", "/fhir/Slot", S, "/fhir/Slot?schedule=Schedule/{doc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Slot", B, "/fhir/Slot?schedule=Schedule/{doc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Slot", A, "/fhir/Slot?schedule=Schedule/{doc1}", NULL, ALLOW, "slots" },
  { "GET", "/fhir/Slot/{id}", P, "/fhir/Slot/{slot1}", NULL, ALLOW, "a slot" },
  { "GET", "/fhir/Slot/{id}", D, "/fhir/Slot/{slot1}", NULL, ALLOW, "a slot" },
  { "GET", "/fhir/Slot/{id}", S, "/fhir/Slot/{slot1}", NULL, DENY, "role" },
  { "GET", "/fhir/Slot/{id}", B, "/fhir/Slot/{slot1}", NULL, DENY, "role" },
  { "GET", "/fhir/Slot/{id}", A, "/fhir/Slot/{slot1}", NULL, ALLOW, "a slot" },
  { "GET", "/fhir/Appointment", P, "/fhir/Appointment", NULL, ALLOW, "own" },
  { "GET", "/fhir/Appointment", P, "/fhir/Appointment?patient={pat2}", NULL, DENY, "another patient's" },
  { "GET", "/fhir/Appointment", D, "/fhir/Appointment?patient=Patient/{pat1}", NULL, ALLOW, "own patient's" },
  { "GET", "/fhir/Appointment", D, "/fhir/Appointment?patient={pat2}", NULL, DENY, "another doctor's patient's" },
  { "GET", "/fhir/Appointment", S, "/fhir/Appointment", NULL, DENY, "role" },
  { "GET", "/fhir/Appointment", B, "/fhir/Appointment", NULL, DENY, "role" },
  { "GET", "/fhir/Appointment", A, "/fhir/Appointment?patient={pat2}", NULL, ALLOW, "anyone's" },
  { "GET", "/fhir/Appointment/{id}", P, "/fhir/Appointment/{consult1}", NULL, ALLOW, "own" },
  { "GET", "/fhir/Appointment/{id}", P, "/fhir/Appointment/{consult2}", NULL, DENY, "another patient's" },
  { "GET", "/fhir/Appointment/{id}", D, "/fhir/Appointment/{consult1}", NULL, ALLOW, "own" },
  { "GET", "/fhir/Appointment/{id}", D, "/fhir/Appointment/{consult2}", NULL, DENY, "another doctor's" },
  { "GET", "/fhir/Appointment/{id}", S, "/fhir/Appointment/{consult1}", NULL, DENY, "role" },
  { "GET", "/fhir/Appointment/{id}", B, "/fhir/Appointment/{consult1}", NULL, DENY, "role" },
  { "GET", "/fhir/Appointment/{id}", A, "/fhir/Appointment/{consult2}", NULL, ALLOW, "any" },
  { "GET", "/fhir/Encounter", P, "/fhir/Encounter?patient={pat1}", NULL, ALLOW, "own" },
  { "GET", "/fhir/Encounter", P, "/fhir/Encounter?patient={pat2}", NULL, DENY, "another patient's" },
  { "GET", "/fhir/Encounter", D, "/fhir/Encounter", NULL, ALLOW, "own" },
  { "GET", "/fhir/Encounter", D, "/fhir/Encounter?patient={pat2}", NULL, DENY, "another doctor's patient's" },
  { "GET", "/fhir/Encounter", S, "/fhir/Encounter", NULL, DENY, "role" },
  { "GET", "/fhir/Encounter", B, "/fhir/Encounter", NULL, DENY, "role" },
  { "GET", "/fhir/Encounter", A, "/fhir/Encounter", NULL, ALLOW, "all" },
  { "GET", "/fhir/Encounter/{id}", P, "/fhir/Encounter/{enc1}", NULL, ALLOW, "own" },
  { "GET", "/fhir/Encounter/{id}", P, "/fhir/Encounter/{enc2}", NULL, DENY, "another patient's" },
  { "GET", "/fhir/Encounter/{id}", D, "/fhir/Encounter/{enc1}", NULL, ALLOW, "own" },
  { "GET", "/fhir/Encounter/{id}", D, "/fhir/Encounter/{enc2}", NULL, DENY, "another doctor's" },
  { "GET", "/fhir/Encounter/{id}", S, "/fhir/Encounter/{enc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Encounter/{id}", B, "/fhir/Encounter/{enc1}", NULL, DENY, "role" },
  { "GET", "/fhir/Encounter/{id}", A, "/fhir/Encounter/{enc2}", NULL, ALLOW, "any" },

  /* ---- patient self-service (tv-api-me.c): the caller's own data only ---- */
  { "GET", "/api/v1/me/visits", P, "/api/v1/me/visits", NULL, ALLOW, "own visits" },
  { "GET", "/api/v1/me/visits", D, "/api/v1/me/visits", NULL, DENY, "role" },
  { "GET", "/api/v1/me/visits", S, "/api/v1/me/visits", NULL, DENY, "role" },
  { "GET", "/api/v1/me/visits", B, "/api/v1/me/visits", NULL, DENY, "role" },
  { "GET", "/api/v1/me/visits", A, "/api/v1/me/visits", NULL, DENY, "role" },
  { "GET", "/api/v1/me/record", P, "/api/v1/me/record", NULL, ALLOW, "own record" },
  { "GET", "/api/v1/me/record", D, "/api/v1/me/record", NULL, DENY, "role" },
  { "GET", "/api/v1/me/record", S, "/api/v1/me/record", NULL, DENY, "role" },
  { "GET", "/api/v1/me/record", B, "/api/v1/me/record", NULL, DENY, "role" },
  { "GET", "/api/v1/me/record", A, "/api/v1/me/record", NULL, DENY, "role" },

  /* ---- audit trail (tv-api-audit.c): admins only ---- */
  { "GET", "/api/v1/audit", P, "/api/v1/audit", NULL, DENY, "role" },
  { "GET", "/api/v1/audit", P, "/api/v1/audit?patient_id={pat1}", NULL, DENY, "not even their own trail" },
  { "GET", "/api/v1/audit", D, "/api/v1/audit?patient_id={pat1}", NULL, DENY, "role" },
  { "GET", "/api/v1/audit", S, "/api/v1/audit", NULL, DENY, "role" },
  { "GET", "/api/v1/audit", B, "/api/v1/audit", NULL, DENY, "role" },
  { "GET", "/api/v1/audit", A, "/api/v1/audit", NULL, ALLOW, "everything" },
  { "GET", "/api/v1/audit", A, "/api/v1/audit?user_id={doc1}&patient_id={pat1}", NULL, ALLOW, "filtered" },
  /* ---- reports (tv-api-reports.c): managers (admin) and billing staff ---- */
  { "GET", "/api/v1/reports/operations", P, "/api/v1/reports/operations?from=2030-01-01&to=2030-01-31", NULL, DENY, "role" },
  { "GET", "/api/v1/reports/operations", D, "/api/v1/reports/operations?from=2030-01-01&to=2030-01-31", NULL, DENY, "not even their own figures" },
  { "GET", "/api/v1/reports/operations", S, "/api/v1/reports/operations?from=2030-01-01&to=2030-01-31", NULL, DENY, "role" },
  { "GET", "/api/v1/reports/operations", B, "/api/v1/reports/operations?from=2030-01-01&to=2030-01-31", NULL, ALLOW, "billing staff" },
  { "GET", "/api/v1/reports/operations", A, "/api/v1/reports/operations?from=2030-01-01&to=2030-01-31", NULL, ALLOW, "managers" },
  { "GET", "/api/v1/reports/operations.csv", P, "/api/v1/reports/operations.csv", NULL, DENY, "role" },
  { "GET", "/api/v1/reports/operations.csv", D, "/api/v1/reports/operations.csv", NULL, DENY, "not even their own figures" },
  { "GET", "/api/v1/reports/operations.csv", S, "/api/v1/reports/operations.csv", NULL, DENY, "role" },
  { "GET", "/api/v1/reports/operations.csv", B, "/api/v1/reports/operations.csv", NULL, ALLOW, "billing staff" },
  { "GET", "/api/v1/reports/operations.csv", A, "/api/v1/reports/operations.csv", NULL, ALLOW, "managers" },
  { "GET", "/api/v1/reports/operations.html", P, "/api/v1/reports/operations.html?doctor={doc1}", NULL, DENY, "role" },
  { "GET", "/api/v1/reports/operations.html", D, "/api/v1/reports/operations.html?doctor={doc1}", NULL, DENY, "not even their own figures" },
  { "GET", "/api/v1/reports/operations.html", S, "/api/v1/reports/operations.html?doctor={doc1}", NULL, DENY, "role" },
  { "GET", "/api/v1/reports/operations.html", B, "/api/v1/reports/operations.html?doctor={doc1}", NULL, ALLOW, "billing staff" },
  { "GET", "/api/v1/reports/operations.html", A, "/api/v1/reports/operations.html?doctor={doc1}", NULL, ALLOW, "managers" },
};

/* The error code of a reply: error.code, or for FHIR routes the
 * OperationOutcome's issue[0].details.text (the router puts our code there). */
static const char *
error_code_of (JsonNode *reply)
{
  const char *code = tv_test_http_error_code (reply);
  if (code != NULL || reply == NULL || !JSON_NODE_HOLDS_OBJECT (reply))
    return code;
  JsonObject *o = json_node_get_object (reply);
  if (g_strcmp0 (json_object_get_string_member_with_default (o, "resourceType", ""), "OperationOutcome") != 0)
    return NULL;
  JsonArray *issues = json_object_get_array_member (o, "issue");
  JsonObject *details = json_object_get_object_member (json_array_get_object_element (issues, 0), "details");
  return details ? json_object_get_string_member_with_default (details, "text", NULL) : NULL;
}

/* ---- the world ---------------------------------------------------------------- */

typedef struct {
  const char *dir;
  TvTestServer *server;
  GHashTable *vars;      /* placeholder name -> value */
  guint uniq;
} World;

static World world;

static const struct {
  guint role;
  const char *username;
} callers[] = {
  { TV_ROLE_PATIENT, "pat1" }, { TV_ROLE_DOCTOR, "doc1" }, { TV_ROLE_SCHEDULER, "sched" },
  { TV_ROLE_BILLING, "bill" }, { TV_ROLE_ADMIN, "admin" },
};

static const char *
caller_of (guint role)
{
  for (guint i = 0; i < G_N_ELEMENTS (callers); i++)
    if (callers[i].role == role)
      return callers[i].username;
  return NULL;
}

/* Links a consult (made as televisitctl does) to user ids, as booking does. */
static char *
world_consult (const char *doctor_id, const char *patient_id)
{
  g_autofree char *id = NULL;
  tv_test_create_consult (world.dir, "Dr. Test Doctor", "Pat Synthetic", 24 * 3600, &id, NULL, NULL);
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET doctor_id = '%s', patient_id = '%s',"
                                          " scheduled_end = scheduled_start + 900000000 WHERE id = '%s'",
                                          doctor_id, patient_id, id);
  tv_test_store_exec (world.dir, sql);
  return g_steal_pointer (&id);
}

/* A consult of doc1 with pat1 starting @minutes from now (negative: already
 * started), as booking would leave it; for rows that change a consult. */
static char *
world_consult_at (gint64 minutes)
{
  g_autofree char *id = NULL;
  tv_test_create_consult (world.dir, "Dr. Test Doctor", "Pat Synthetic", 7 * 24 * 3600, &id, NULL, NULL);
  gint64 start = g_get_real_time () + minutes * 60 * G_USEC_PER_SEC;
  g_autofree char *sql = g_strdup_printf ("UPDATE consults SET doctor_id = '%s', patient_id = '%s',"
                                          " scheduled_start = %" G_GINT64_FORMAT ", scheduled_end = %" G_GINT64_FORMAT
                                          " WHERE id = '%s'",
                                          (char *) g_hash_table_lookup (world.vars, "doc1"),
                                          (char *) g_hash_table_lookup (world.vars, "pat1"), start,
                                          start + 15 * 60 * G_USEC_PER_SEC, id);
  tv_test_store_exec (world.dir, sql);
  return g_steal_pointer (&id);
}

/* Schedule fixtures: doc1 and doc2 work all day every day (so {tomorrowNN} are
 * free slots), three exceptions to delete, consults to cancel / reschedule /
 * mark no-show (away from tomorrow's slots and from consult1). */
static void
world_schedule (void)
{
  const char *docs[] = { "doc1", "doc2" };
  for (guint d = 0; d < G_N_ELEMENTS (docs); d++) {
    for (int wd = 1; wd <= 7; wd++) {
      g_autofree char *sql = g_strdup_printf ("INSERT INTO availability (doctor_id, weekday, start_min, end_min,"
                                              " updated_at) VALUES ('%s', %d, 0, 1440, 1)",
                                              (char *) g_hash_table_lookup (world.vars, docs[d]), wd);
      tv_test_store_exec (world.dir, sql);
    }
  }
  const struct { const char *name, *doctor; } exs[] = { { "ex_d", "doc1" }, { "ex_s", "doc2" }, { "ex_a", "doc2" } };
  for (guint i = 0; i < G_N_ELEMENTS (exs); i++) {
    char *id = g_uuid_string_random ();
    g_autofree char *sql = g_strdup_printf ("INSERT INTO availability_exceptions (id, doctor_id, date, kind,"
                                            " start_min, end_min, created_at) VALUES ('%s', '%s', '2031-01-02',"
                                            " 'off', 0, 0, 1)",
                                            id, (char *) g_hash_table_lookup (world.vars, exs[i].doctor));
    tv_test_store_exec (world.dir, sql);
    g_hash_table_insert (world.vars, g_strdup (exs[i].name), id);
  }
  const struct { const char *name; gint64 minutes; } cs[] = {
    { "c_cancel_p", 3 * 1440 }, { "c_cancel_d", 3 * 1440 + 60 }, { "c_cancel_s", 3 * 1440 + 120 },
    { "c_cancel_a", 3 * 1440 + 180 }, { "c_move_p", 4 * 1440 }, { "c_move_s", 4 * 1440 + 60 },
    { "c_noshow_d", -120 }, { "c_noshow_s", -180 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cs); i++)
    g_hash_table_insert (world.vars, g_strdup (cs[i].name), world_consult_at (cs[i].minutes));
}

/* Billing fixtures: a ready billing line on consult1 (pat1's) and consult2
 * (pat2's), and four more of pat1's for the rows that change a status. */
static void
world_billing (void)
{
  const struct { const char *name, *consult; gint64 minutes; } lines[] = {
    { "line1", "consult1", 0 }, { "line2", "consult2", 0 }, { "line_b", NULL, 6 * 1440 },
    { "line_a", NULL, 6 * 1440 + 60 }, { "line_b2", NULL, 6 * 1440 + 120 }, { "line_a2", NULL, 6 * 1440 + 180 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++) {
    g_autofree char *consult = lines[i].consult ? g_strdup (g_hash_table_lookup (world.vars, lines[i].consult))
                                                : world_consult_at (lines[i].minutes);
    char *id = g_uuid_string_random ();
    g_autofree char *sql = g_strdup_printf (
      "INSERT INTO billing_lines (id, consult_id, service_at, scheme, code, modifiers, pos, modality,"
      " patient_status, minutes, fee_cents, currency, description, status, created_at, status_at)"
      " VALUES ('%s', '%s', 1790000000000000, 'telemedicine', '98004', '', '10', 'audio-video', 'established',"
      " 12, 5500, 'USD', 'Video visit, at least 10 minutes', 'ready', 1790000000000000, 1790000000000000)",
      id, consult);
    tv_test_store_exec (world.dir, sql);
    g_hash_table_insert (world.vars, g_strdup (lines[i].name), id);
  }
}

static void
world_build (void)
{
  world.dir = tv_test_tmpdir ();
  world.vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  const struct { const char *name, *display; guint roles; } users[] = {
    { "admin", "Ada Admin", TV_ROLE_ADMIN },
    { "sched", "Sam Scheduler", TV_ROLE_SCHEDULER },
    { "bill", "Bo Billing", TV_ROLE_BILLING },
    { "doc1", "Dr. Test Doctor", TV_ROLE_DOCTOR },
    { "doc2", "Dr. Other Doctor", TV_ROLE_DOCTOR },
    { "pat1", "Pat Synthetic", TV_ROLE_PATIENT },
    { "pat2", "Pia Synthetic", TV_ROLE_PATIENT },
  };
  for (guint i = 0; i < G_N_ELEMENTS (users); i++)
    g_hash_table_insert (world.vars, g_strdup (users[i].name),
                         tv_test_create_user (world.dir, users[i].name, users[i].display, users[i].roles,
                                              users[i].roles & TV_ROLE_DOCTOR ? "Europe/Paris" : NULL, NULL));
  g_hash_table_insert (world.vars, g_strdup ("consult1"),
                       world_consult (g_hash_table_lookup (world.vars, "doc1"), g_hash_table_lookup (world.vars, "pat1")));
  g_hash_table_insert (world.vars, g_strdup ("consult2"),
                       world_consult (g_hash_table_lookup (world.vars, "doc2"), g_hash_table_lookup (world.vars, "pat2")));
  world_schedule ();
  /* FHIR: encounters (the patient arrived) of doc1/pat1 and doc2/pat2, and a
   * slot of doc1 (tomorrow 09:00, see below). */
  const struct { const char *name, *doc, *pat; } encs[] = { { "enc1", "doc1", "pat1" }, { "enc2", "doc2", "pat2" } };
  for (guint i = 0; i < G_N_ELEMENTS (encs); i++) {
    char *id = NULL;
    tv_test_create_consult (world.dir, "Dr. Test Doctor", "Pat Synthetic", 7 * 24 * 3600, &id, NULL, NULL);
    gint64 start = g_get_real_time () + (gint64) (5 * 24 + i) * 3600 * G_USEC_PER_SEC;
    g_autofree char *sql = g_strdup_printf ("UPDATE consults SET doctor_id = '%s', patient_id = '%s', status = 'waiting',"
                                            " scheduled_start = %" G_GINT64_FORMAT ", arrived_at = %" G_GINT64_FORMAT ","
                                            " scheduled_end = %" G_GINT64_FORMAT " WHERE id = '%s'",
                                            (char *) g_hash_table_lookup (world.vars, encs[i].doc),
                                            (char *) g_hash_table_lookup (world.vars, encs[i].pat), start, start,
                                            start + 15 * 60 * G_USEC_PER_SEC, id);
    tv_test_store_exec (world.dir, sql);
    g_hash_table_insert (world.vars, g_strdup (encs[i].name), id);
  }
  world_billing ();
  /* Tomorrow 09:00 in doc1's zone, as RFC 3339 UTC. */
  g_autoptr (GTimeZone) paris = g_time_zone_new_identifier ("Europe/Paris");
  g_autoptr (GDateTime) now = g_date_time_new_now (paris);
  g_autoptr (GDateTime) tmr = g_date_time_add_days (now, 1);
  g_autoptr (GDateTime) nine = g_date_time_new (paris, g_date_time_get_year (tmr), g_date_time_get_month (tmr),
                                                g_date_time_get_day_of_month (tmr), 9, 0, 0);
  g_autoptr (GDateTime) utc = g_date_time_to_utc (nine);
  g_hash_table_insert (world.vars, g_strdup ("tomorrow09"), g_date_time_format (utc, "%Y-%m-%dT%H:%M:%SZ"));
  g_hash_table_insert (world.vars, g_strdup ("slot1"),
                       g_strdup_printf ("%s.%" G_GINT64_FORMAT, (char *) g_hash_table_lookup (world.vars, "doc1"),
                                        g_date_time_to_unix (utc)));
  /* schedule rows: more free slots of tomorrow */
  for (int h = 10; h <= 12; h++) {
    g_autoptr (GDateTime) at = g_date_time_add_hours (utc, h - 9);
    g_hash_table_insert (world.vars, g_strdup_printf ("tomorrow%d", h), g_date_time_format (at, "%Y-%m-%dT%H:%M:%SZ"));
  }
  world.server = tv_test_server_start (world.dir, NULL);
}

/* Returns: (transfer full) @text with every {name} replaced. Unknown names fail. */
static char *
world_expand (const char *text)
{
  if (text == NULL)
    return NULL;
  GString *out = g_string_new (NULL);
  for (const char *p = text; *p;) {
    /* {name}: lower-case letters, digits and '_' only, so JSON braces pass through. */
    const char *close = NULL;
    if (*p == '{') {
      const char *q = p + 1;
      while (g_ascii_islower (*q) || g_ascii_isdigit (*q) || *q == '_')
        q++;
      if (*q == '}' && q > p + 1)
        close = q;
    }
    if (close == NULL) {
      g_string_append_c (out, *p++);
      continue;
    }
    g_autofree char *name = g_strndup (p + 1, close - p - 1);
    if (strcmp (name, "uniq") == 0) {
      g_string_append_printf (out, "u%u", ++world.uniq);
    } else {
      const char *v = g_hash_table_lookup (world.vars, name);
      if (v == NULL)
        g_error ("matrix row uses unknown placeholder {%s}: add it in world_build()", name);
      g_string_append (out, v);
    }
    p = close + 1;
  }
  return g_string_free (out, FALSE);
}

/* ---- the matrix ------------------------------------------------------------------ */

static GPtrArray *
registered_routes (TvHttp **keep)
{
  TvHttp *http = tv_http_new (NULL, NULL);
  tv_server_api_register_all (http, NULL);
  *keep = http;
  return tv_http_list_routes (http);
}

static void
test_every_route_has_rows (void)
{
  TvHttp *http = NULL;
  g_autoptr (GPtrArray) routes = registered_routes (&http);
  g_autoptr (GString) missing = g_string_new (NULL);
  g_assert_cmpuint (routes->len, >, 0);
  for (guint i = 0; i < routes->len; i++) {
    const TvHttpRoute *r = g_ptr_array_index (routes, i);
    guint need = r->roles_allowed == 0 ? 0 : TV_ROLE_ANY;
    guint have = 0;
    gboolean public_row = FALSE;
    for (guint j = 0; j < G_N_ELEMENTS (rows); j++) {
      if (strcmp (rows[j].method, r->method) != 0 || strcmp (rows[j].pattern, r->pattern) != 0)
        continue;
      have |= rows[j].role;
      public_row |= rows[j].role == 0;
    }
    if (need == 0 && !public_row)
      g_string_append_printf (missing, "  %s %s: no row (public route: one row with role 0)\n", r->method,
                              r->pattern);
    for (guint bit = 1; bit & TV_ROLE_ANY; bit <<= 1)
      if ((need & bit) && !(have & bit))
        g_string_append_printf (missing, "  %s %s: no row for role %s\n", r->method, r->pattern,
                                tv_role_to_string (bit));
  }
  /* Rows for routes that are not registered (renamed? removed?) are wrong too. */
  for (guint j = 0; j < G_N_ELEMENTS (rows); j++) {
    gboolean found = FALSE;
    for (guint i = 0; i < routes->len && !found; i++) {
      const TvHttpRoute *r = g_ptr_array_index (routes, i);
      found = strcmp (rows[j].method, r->method) == 0 && strcmp (rows[j].pattern, r->pattern) == 0;
    }
    if (!found)
      g_string_append_printf (missing, "  row %u: %s %s is not a registered route\n", j, rows[j].method,
                              rows[j].pattern);
  }
  tv_http_free (http);
  if (missing->len > 0)
    g_error ("tests/server/test-authz-matrix.c needs rows:\n%s", missing->str);
}

static const char *
token_for (guint role)
{
  /* A fresh session per row: some rows (logout) end theirs. */
  static char *last;
  g_free (last);
  last = tv_test_login (world.server, caller_of (role), NULL);
  return last;
}

static void
test_matrix (void)
{
  g_autoptr (TvTestHttp) c = tv_test_http_new (world.server);
  guint failures = 0;
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    const Row *row = &rows[i];
    g_autofree char *path = world_expand (row->path);
    g_autofree char *body = world_expand (row->body);
    const char *token = row->role ? token_for (row->role) : NULL;
    g_autoptr (JsonNode) reply = NULL;
    guint status = tv_test_http_request (c, row->method, path, token, body, -1, &reply);
    g_autofree char *text = reply ? json_to_string (reply, FALSE) : g_strdup ("");
    gboolean ok = row->expect == ALLOW ? status >= 200 && status < 300
                  : row->expect == HIDDEN ? status == 404 && g_strcmp0 (tv_test_http_error_code (reply), "not_found") == 0
                                          : status == 403 && g_strcmp0 (error_code_of (reply), "forbidden") == 0;
    g_test_message ("%s %s as %s (%s): %u %s", row->method, path, row->role ? tv_role_to_string (row->role) : "nobody",
                    row->why, status, ok ? "ok" : "UNEXPECTED");
    if (!ok) {
      g_printerr ("matrix row %u: %s %s as %s (%s): expected %s, got %u %s\n", i, row->method, path,
                  row->role ? tv_role_to_string (row->role) : "nobody", row->why,
                  row->expect == ALLOW ? "2xx" : row->expect == HIDDEN ? "404 not_found" : "403 forbidden", status,
                  text);
      failures++;
    }
    /* Nobody, whatever their role, ever gets a password hash back. */
    g_assert_null (strstr (text, "$scrypt$"));
    g_assert_null (strstr (text, "password_hash"));
  }
  g_assert_cmpuint (failures, ==, 0);
}

static void
test_unauthenticated (void)
{
  TvHttp *http = NULL;
  g_autoptr (GPtrArray) routes = registered_routes (&http);
  g_autoptr (TvTestHttp) c = tv_test_http_new (world.server);
  for (guint i = 0; i < routes->len; i++) {
    const TvHttpRoute *r = g_ptr_array_index (routes, i);
    if (r->roles_allowed == 0)
      continue;
    /* Any row's concrete path will do; else the pattern with a made-up id. */
    g_autofree char *path = NULL;
    for (guint j = 0; j < G_N_ELEMENTS (rows) && path == NULL; j++)
      if (strcmp (rows[j].method, r->method) == 0 && strcmp (rows[j].pattern, r->pattern) == 0)
        path = world_expand (rows[j].path);
    g_assert_nonnull (path);
    const char *bad_tokens[] = { NULL, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    for (guint k = 0; k < G_N_ELEMENTS (bad_tokens); k++) {
      g_autoptr (JsonNode) reply = NULL;
      guint status = tv_test_http_request (c, r->method, path, bad_tokens[k], r->method[0] == 'G' ? NULL : "{}", -1,
                                           &reply);
      g_test_message ("%s %s without a valid session: %u", r->method, path, status);
      g_assert_cmpuint (status, ==, 401);
      g_assert_cmpstr (error_code_of (reply), ==, "unauthenticated");
    }
  }
  tv_http_free (http);
}

/* What the allowed lists contain: a doctor sees exactly their own patients, a
 * scheduler patients and doctors only. */
static void
test_list_contents (void)
{
  g_autoptr (TvTestHttp) c = tv_test_http_new (world.server);
  g_autoptr (JsonNode) r1 = NULL, r2 = NULL;
  g_autofree char *doc = tv_test_login (world.server, "doc1", NULL);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/users", doc, NULL, -1, &r1), ==, 200);
  JsonArray *a = json_object_get_array_member (json_node_get_object (r1), "users");
  g_assert_cmpuint (json_array_get_length (a), ==, 1);
  g_assert_cmpstr (tv_test_json_str (json_array_get_object_element (a, 0), "id"), ==,
                   g_hash_table_lookup (world.vars, "pat1"));

  g_autofree char *sched = tv_test_login (world.server, "sched", NULL);
  g_assert_cmpuint (tv_test_http_request (c, "GET", "/api/v1/users", sched, NULL, -1, &r2), ==, 200);
  a = json_object_get_array_member (json_node_get_object (r2), "users");
  g_assert_cmpuint (json_array_get_length (a), >=, 4);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonArray *roles = json_object_get_array_member (json_array_get_object_element (a, i), "roles");
    gboolean pd = FALSE;
    for (guint k = 0; k < json_array_get_length (roles); k++) {
      const char *r = json_array_get_string_element (roles, k);
      pd |= g_str_equal (r, "patient") || g_str_equal (r, "doctor");
    }
    g_assert_true (pd);
  }
}

static void
run_with_watchdog (gconstpointer data)
{
  tv_test_watchdog_start (120, g_test_get_path ());
  if (world.server == NULL)
    world_build ();
  ((void (*) (void)) data) ();
  tv_test_watchdog_stop ();
}

int
main (int argc, char **argv)
{
  tv_test_init (&argc, &argv);
  g_setenv ("TV_SCRYPT_LN", "10", TRUE);
  g_test_add_data_func ("/authz/every-route-has-rows", (gconstpointer) test_every_route_has_rows, run_with_watchdog);
  g_test_add_data_func ("/authz/unauthenticated", (gconstpointer) test_unauthenticated, run_with_watchdog);
  g_test_add_data_func ("/authz/matrix", (gconstpointer) test_matrix, run_with_watchdog);
  g_test_add_data_func ("/authz/list-contents", (gconstpointer) test_list_contents, run_with_watchdog);
  int ret = g_test_run ();
  if (world.server != NULL) {
    tv_test_server_stop (world.server, 5000);
    tv_test_server_free (world.server);
  }
  return ret;
}
