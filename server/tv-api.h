/* tv-api.h — the HTTPS API's route families, registered on the router in one place.
 *
 * Why: each area keeps its endpoints in its own file (tv-api-<area>.c) with a
 * static TvHttpRoute table and one register function declared here;
 * tv_server_api_register_all() calls them all, for the server and for tests
 * that list every route (the authorization matrix). To add an area: declare its
 * register function below and add one call in tv-api.c.
 * Register functions must not use @server beyond storing it as user_data
 * (tests pass NULL to list the routes).
 * Thread: main loop only.
 */
#pragma once

#include "server/tv-http.h"
#include "server/tv-server.h"

G_BEGIN_DECLS

/* Registers every area's routes on @http. @server may be NULL (route listing). */
void tv_server_api_register_all (TvHttp *http, TvServer *server);

/* accounts (tv-api-auth.c): login, logout, me */
void tv_server_api_auth_register (TvHttp *http, TvServer *server);
/* accounts (tv-api-users.c): users */
void tv_server_api_users_register (TvHttp *http, TvServer *server);
/* schedule (tv-api-schedule.c): doctors, availability, exceptions, slots, consults */
void tv_server_api_schedule_register (TvHttp *http, TvServer *server);
/* audit trail (tv-api-audit.c): GET /api/v1/audit (admins) */
void tv_server_api_audit_register (TvHttp *http, TvServer *server);
/* HL7 FHIR R4 read API (tv-api-fhir.c): /fhir/Patient, Practitioner, Schedule, Slot, Appointment, Encounter */
void tv_server_api_fhir_register (TvHttp *http, TvServer *server);
/* patient self-service (tv-api-me.c): GET /api/v1/me/visits, /api/v1/me/record */
void tv_server_api_me_register (TvHttp *http, TvServer *server);
/* GET/PUT /users/{id}/contact (tv-api-contacts.c). */
void tv_server_api_contacts_register (TvHttp *http, TvServer *server);
/* Returns: (transfer full) the reminder outbox rows of @consult_id as a JSON
 * array of {kind, offset, due_at, status, attempts, last_error} (empty when
 * there are none or they cannot be read). tv-api-contacts.c. */
JsonNode *tv_api_reminders_to_json (TvStore *store, const char *consult_id);
/* The same in two steps, for a reply whose JSON is built later on another
 * thread (tv_http_reply_json_later): _read returns (transfer full)
 * (element-type TvReminder) the rows, empty (with a warning logged) when they
 * cannot be read; _rows_to_json returns (transfer full) their JSON array and
 * reads nothing but @list. */
GPtrArray *tv_api_reminders_read (TvStore *store, const char *consult_id);
JsonNode *tv_api_reminder_rows_to_json (const GPtrArray *list);
/* reports (tv-api-reports.c): GET /api/v1/reports/operations[.csv|.html] (admin, billing) */
void tv_server_api_reports_register (TvHttp *http, TvServer *server);
/* billing (tv-api-billing.c): consult facts, billing lines, CSV export, patient statements */
void tv_server_api_billing_register (TvHttp *http, TvServer *server);
void tv_server_api_chat_register (TvHttp *http, TvServer *server);

G_END_DECLS
