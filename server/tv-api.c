/* tv-api.c — registers every API area's routes (see tv-api.h).
 *
 * Why: one list of areas, used by the server at start-up and by tests that
 * need the full route table.
 * Thread: main loop only.
 */
#define G_LOG_DOMAIN "tv-api"

#include "server/tv-api.h"

void
tv_server_api_register_all (TvHttp *http, TvServer *server)
{
  g_return_if_fail (http != NULL);
  tv_server_api_auth_register (http, server);
  tv_server_api_users_register (http, server);
  tv_server_api_schedule_register (http, server);
  tv_server_api_audit_register (http, server);
  tv_server_api_fhir_register (http, server);
  tv_server_api_me_register (http, server);
  tv_server_api_contacts_register (http, server);
  tv_server_api_reports_register (http, server);
  tv_server_api_billing_register (http, server);
  tv_server_api_chat_register (http, server);
}
