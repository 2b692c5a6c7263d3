/* tv-reminders.c — claims due outbox messages on the main loop, sends them over SMTP on a worker.
 *
 * Why: see tv-reminders.h. Everything that reads or writes the store runs in
 * the main-loop callbacks (tick, on_sent); the worker (send_in_thread) only
 * sees a self-contained SendJob: URL, credentials, envelope, and the message
 * parts as strings, and builds the multipart/mixed message with curl's MIME
 * API (text/plain + text/calendar; method=REQUEST|CANCEL, both base64).
 * Thread: main loop; send_in_thread on a GTask worker.
 */
#define G_LOG_DOMAIN "tv-reminders"

#include "server/tv-reminders.h"
#include "server/tv-join-link.h"
#include "server/tv-reminders-message.h"
#include "server/tv-store-reminders.h"
#include "server/tv-store-users.h"

#include <curl/curl.h>
#include <gio/gio.h>
#include <string.h>

#define MAX_IN_FLIGHT 4
#define MAX_BACKOFF_S 3600

/* Survives the TvReminders: a transfer that ends after tv_reminders_free
 * finds owner == NULL and drops its outcome. */
typedef struct {
  TvReminders *owner;
} Shared;

struct _TvReminders {
  TvStore *store;
  TvRemindersConfig *cfg;    /* a copy of what matters */
  char *password;            /* wiped on free; NULL without smtp-user */
  char *join_base;
  char *uid_host;
  GMainContext *ctx;
  GSource *timer;
  Shared *shared;            /* g_rc_box */
  guint in_flight;
};

typedef struct {
  Shared *shared;            /* ref */
  gint64 id;
  gint64 consult_start;
  guint attempts_before;
  gboolean cancellation;
  /* the worker's input */
  char *url, *user, *password, *from, *to;
  char *subject, *date, *message_id, *text, *ics;
  /* the worker's output */
  gboolean ok;
  long smtp_code;
  char *error_text;
} SendJob;

static void
send_job_free (SendJob *job)
{
  if (job == NULL)
    return;
  g_rc_box_release (job->shared);
  g_free (job->url);
  g_free (job->user);
  tv_reminders_password_free (job->password);
  g_free (job->from);
  g_free (job->to);
  g_free (job->subject);
  g_free (job->date);
  g_free (job->message_id);
  g_free (job->text);
  g_free (job->ics);
  g_free (job->error_text);
  g_free (job);
}

char *
tv_reminders_join_link (const char *join_base, const char *token)
{
  return g_strdup_printf ("%s/join#token=%s", join_base, token);
}

/* ------------------------------------------------------------------------ */
/* The worker                                                                 */

static struct curl_slist *
add_header (struct curl_slist *list, const char *name, const char *value)
{
  g_autofree char *line = g_strdup_printf ("%s: %s", name, value);
  return curl_slist_append (list, line);
}

static gboolean
add_part (curl_mime *mime, const char *data, const char *type, const char *filename)
{
  curl_mimepart *part = curl_mime_addpart (mime);
  return part != NULL && curl_mime_data (part, data, CURL_ZERO_TERMINATED) == CURLE_OK
         && curl_mime_type (part, type) == CURLE_OK && curl_mime_encoder (part, "base64") == CURLE_OK
         && (filename == NULL || curl_mime_filename (part, filename) == CURLE_OK);
}

/* Runs the SMTP transaction; fills job->ok / smtp_code / error_text. */
static void
send_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  SendJob *job = task_data;
  char errbuf[CURL_ERROR_SIZE] = "";
  CURL *curl = curl_easy_init ();
  curl_mime *mime = NULL;
  struct curl_slist *rcpt = NULL, *headers = NULL;
  CURLcode rc = CURLE_FAILED_INIT;
  g_autofree char *subject = tv_reminders_header_encode (job->subject);
  g_autofree char *from = g_strdup_printf ("<%s>", job->from);
  g_autofree char *to = g_strdup_printf ("<%s>", job->to);
  if (curl == NULL)
    goto out;
  mime = curl_mime_init (curl);
  headers = add_header (headers, "Date", job->date);
  headers = add_header (headers, "From", job->from);
  headers = add_header (headers, "To", job->to);
  headers = add_header (headers, "Subject", subject);
  headers = add_header (headers, "Message-ID", job->message_id);
  rcpt = curl_slist_append (rcpt, to);
  const char *cal_type = job->cancellation ? "text/calendar; method=CANCEL; charset=UTF-8"
                                           : "text/calendar; method=REQUEST; charset=UTF-8";
  if (mime == NULL || headers == NULL || rcpt == NULL
      || !add_part (mime, job->text, "text/plain; charset=UTF-8", NULL)
      || !add_part (mime, job->ics, cal_type, job->cancellation ? "cancel.ics" : "invite.ics"))
    goto out;
  curl_easy_setopt (curl, CURLOPT_URL, job->url);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 60L);
  /* smtp://: STARTTLS when offered, plain otherwise; smtps:// is TLS anyway. */
  curl_easy_setopt (curl, CURLOPT_USE_SSL, (long) CURLUSESSL_TRY);
  curl_easy_setopt (curl, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_MIMEPOST, mime);
  if (job->user != NULL) {
    curl_easy_setopt (curl, CURLOPT_USERNAME, job->user);
    curl_easy_setopt (curl, CURLOPT_PASSWORD, job->password);
  }
  rc = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &job->smtp_code);

out:
  job->ok = rc == CURLE_OK;
  if (!job->ok) {
    /* curl's generic text and the reply code only: errbuf may quote the
     * relay's reply, which can contain the recipient's address. */
    job->error_text = job->smtp_code > 0
                        ? g_strdup_printf ("%s (SMTP reply %ld)", curl_easy_strerror (rc), job->smtp_code)
                        : g_strdup (curl_easy_strerror (rc));
  }
  curl_slist_free_all (rcpt);
  curl_slist_free_all (headers);
  curl_mime_free (mime);
  if (curl != NULL)
    curl_easy_cleanup (curl);
  g_task_return_boolean (task, TRUE);
}

/* ------------------------------------------------------------------------ */
/* Main loop                                                                  */

static void
settle (TvReminders *self, gint64 id, TvReminderStatus status, const char *reason)
{
  g_autoptr (GError) error = NULL;
  if (!tv_store_reminder_settle (self->store, id, status, reason, g_get_real_time (), &error))
    g_warning ("reminder %" G_GINT64_FORMAT ": cannot record %s: %s", id, tv_reminder_status_to_string (status),
               error->message);
  else
    g_info ("reminder %" G_GINT64_FORMAT " %s (%s)", id, tv_reminder_status_to_string (status), reason);
}

static void
attempt_done (TvReminders *self, gint64 id, gboolean ok, const char *reason, gint64 retry_at)
{
  g_autoptr (GError) error = NULL;
  if (!tv_store_reminder_attempt_done (self->store, id, ok, reason, retry_at, g_get_real_time (), &error))
    g_warning ("reminder %" G_GINT64_FORMAT ": cannot record the attempt: %s", id, error->message);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  SendJob *job = g_task_get_task_data (G_TASK (result));
  TvReminders *self = job->shared->owner;
  if (self == NULL)
    return;   /* shut down meanwhile: the row stays "sending", recovered at the next start */
  self->in_flight--;
  gint64 now = g_get_real_time ();
  if (job->ok) {
    g_info ("reminder %" G_GINT64_FORMAT " sent", job->id);
    attempt_done (self, job->id, TRUE, NULL, 0);
    return;
  }
  guint attempts = job->attempts_before + 1;
  gboolean permanent = job->smtp_code >= 500 && job->smtp_code < 600;
  gint64 delay_s = (gint64) self->cfg->retry_seconds << MIN (attempts - 1, 20u);
  gint64 retry_at = now + MIN (delay_s, (gint64) MAX_BACKOFF_S) * G_USEC_PER_SEC;
  gboolean too_late = !job->cancellation && retry_at >= job->consult_start;
  if (permanent || attempts >= self->cfg->max_attempts || too_late)
    retry_at = 0;
  g_autofree char *reason = g_strdup_printf ("%s%s", job->error_text,
                                             retry_at == 0 && too_late && !permanent ? "; consult starts before a retry" : "");
  g_message ("reminder %" G_GINT64_FORMAT ": attempt %u failed: %s%s", job->id, attempts, reason,
             retry_at > 0 ? "; will retry" : "; giving up");
  attempt_done (self, job->id, FALSE, reason, retry_at);
}

/* Decides on and composes one claimed message; starts its transfer. */
static void
dispatch (TvReminders *self, const TvReminder *r, gint64 now)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TvConsult) c = NULL;
  gboolean cancellation = g_strcmp0 (r->kind, "cancellation") == 0;
  if (!tv_store_consult_get (self->store, r->consult_id, &c, &error)) {
    if (g_error_matches (error, TV_STORE_ERROR, TV_STORE_ERR_NOT_FOUND))
      settle (self, r->id, TV_REMINDER_CANCELLED, "consult gone");
    else
      attempt_done (self, r->id, FALSE, "store error", now + (gint64) self->cfg->retry_seconds * G_USEC_PER_SEC);
    return;
  }
  gboolean upcoming = c->status == TV_CONSULT_SCHEDULED || c->status == TV_CONSULT_WAITING;
  if (!cancellation && !upcoming) {
    settle (self, r->id, TV_REMINDER_CANCELLED, "consult no longer upcoming");
    return;
  }
  if (now >= (cancellation ? r->consult_end : r->consult_start)) {
    settle (self, r->id, TV_REMINDER_SKIPPED, "too late: the consult's time has come");
    return;
  }
  g_autoptr (TvContact) contact = NULL;
  if (c->patient_id == NULL || !tv_store_contact_get (self->store, c->patient_id, &contact, &error)
      || contact->email == NULL) {
    settle (self, r->id, TV_REMINDER_SKIPPED, error != NULL ? "contact details unreadable" : "no e-mail address");
    return;
  }
  g_autofree char *token = NULL;
  g_autofree char *link = NULL;
  if (!cancellation) {
    g_clear_error (&error);
    if (!tv_store_join_token_recreate (self->store, c->id, "patient", &token, &error)) {
      attempt_done (self, r->id, FALSE, "join link cannot be re-created for this consult", 0);
      return;
    }
    link = tv_reminders_join_link (self->join_base, token);
  }
  g_autoptr (TvUser) patient = NULL;
  g_autoptr (TvUser) doctor = NULL;
  tv_store_user_get (self->store, c->patient_id, &patient, NULL);
  if (c->doctor_id != NULL)
    tv_store_user_get (self->store, c->doctor_id, &doctor, NULL);
  const char *zone = patient != NULL && patient->time_zone != NULL ? patient->time_zone
                     : doctor != NULL ? doctor->time_zone : NULL;

  TvReminderMessage m = {
    .consult_id = c->id, .uid_host = self->uid_host, .cancellation = cancellation,
    .start = r->consult_start, .end = r->consult_end, .sequence = r->sequence,
    .clinic = self->cfg->clinic_name, .doctor = c->doctor, .time_zone = zone, .join_link = link,
    .organizer = self->cfg->smtp_from, .attendee = contact->email, .now = now,
  };
  SendJob *job = g_new0 (SendJob, 1);
  job->shared = g_rc_box_acquire (self->shared);
  job->id = r->id;
  job->consult_start = r->consult_start;
  job->attempts_before = r->attempts;
  job->cancellation = cancellation;
  job->url = g_strdup (self->cfg->smtp_url);
  job->user = g_strdup (self->cfg->smtp_user);
  job->password = g_strdup (self->password);
  job->from = g_strdup (self->cfg->smtp_from);
  job->to = g_strdup (contact->email);
  job->subject = tv_reminders_message_subject (&m);
  job->date = tv_reminders_rfc5322_date (now);
  g_autofree char *uuid = g_uuid_string_random ();
  job->message_id = g_strdup_printf ("<%s@%s>", uuid, self->uid_host);
  job->text = tv_reminders_message_text (&m);
  job->ics = tv_reminders_message_ics (&m);

  g_autoptr (GTask) task = g_task_new (NULL, NULL, on_sent, NULL);
  g_task_set_task_data (task, job, (GDestroyNotify) send_job_free);
  g_task_set_source_tag (task, dispatch);
  self->in_flight++;
  g_task_run_in_thread (task, send_in_thread);
}

static gboolean
on_tick (gpointer data)
{
  TvReminders *self = data;
  if (self->in_flight >= MAX_IN_FLIGHT)
    return G_SOURCE_CONTINUE;
  gint64 now = g_get_real_time ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) due = tv_store_reminder_claim_due (self->store, now, MAX_IN_FLIGHT - self->in_flight,
                                                           &error);
  if (due == NULL) {
    g_warning ("reminders: cannot read the outbox: %s", error->message);
    return G_SOURCE_CONTINUE;
  }
  for (guint i = 0; i < due->len; i++)
    dispatch (self, g_ptr_array_index (due, i), now);
  return G_SOURCE_CONTINUE;
}

TvReminders *
tv_reminders_new (TvStore *store, const TvRemindersConfig *cfg, const char *join_base, const char *uid_host,
                  GMainContext *ctx, GError **error)
{
  g_return_val_if_fail (store != NULL && cfg != NULL && join_base != NULL, NULL);
  if (!tv_reminders_config_check (cfg, error))
    return NULL;
  gint64 now = g_get_real_time ();
  guint recovered = 0;
  if (!tv_store_reminders_set_offsets (store, cfg->offsets, now, error)
      || !tv_store_reminders_recover (store, now, &recovered, error))
    return NULL;
  if (recovered > 0)
    g_message ("%u reminder(s) interrupted by an earlier run will be sent again", recovered);

  TvReminders *self = g_new0 (TvReminders, 1);
  self->store = store;
  self->cfg = g_new0 (TvRemindersConfig, 1);
  self->cfg->offsets = g_strdup (cfg->offsets);
  self->cfg->smtp_url = g_strdup (cfg->smtp_url);
  self->cfg->smtp_from = g_strdup (cfg->smtp_from);
  self->cfg->smtp_user = g_strdup (cfg->smtp_user);
  self->cfg->smtp_password_file = g_strdup (cfg->smtp_password_file);
  self->cfg->clinic_name = g_strdup (cfg->clinic_name);
  self->cfg->public_url = g_strdup (cfg->public_url);
  self->cfg->retry_seconds = cfg->retry_seconds;
  self->cfg->max_attempts = cfg->max_attempts;
  self->join_base = g_strdup (join_base);
  self->uid_host = g_strdup (uid_host != NULL ? uid_host : "televisit");
  self->ctx = g_main_context_ref (ctx != NULL ? ctx : g_main_context_default ());
  self->shared = g_rc_box_new0 (Shared);
  self->shared->owner = self;
  if (cfg->smtp_password_file != NULL) {
    self->password = tv_reminders_read_password (cfg->smtp_password_file, error);
    if (self->password == NULL) {
      g_prefix_error (error, "smtp-password-file: ");
      tv_reminders_free (self);
      return NULL;
    }
  }
  if (cfg->smtp_url == NULL) {
    g_message ("reminders are recorded but not sent: smtp-url is not set");
    return self;
  }
  /* Once, here on the main thread, before any worker uses libcurl. */
  if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "libcurl could not be initialised");
    tv_reminders_free (self);
    return NULL;
  }
  self->timer = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->timer, on_tick, self, NULL);
  g_source_attach (self->timer, self->ctx);
  return self;
}

void
tv_reminders_free (TvReminders *self)
{
  if (self == NULL)
    return;
  if (self->timer != NULL) {
    g_source_destroy (self->timer);
    g_source_unref (self->timer);
  }
  self->shared->owner = NULL;
  g_rc_box_release (self->shared);
  tv_reminders_config_free (self->cfg);
  tv_reminders_password_free (self->password);
  g_free (self->join_base);
  g_free (self->uid_host);
  g_main_context_unref (self->ctx);
  g_free (self);
}
