/* tv-gtk-private.h — what the screens of the desktop window share.
 *
 * One TvGtkApp per process (tv-gtk-app.c) owns the window, a GtkStack with
 * one page per screen, the running TvClientSession and the settings. Each
 * screen lives in its own file (tv-gtk-start/precheck/waiting/call/queue.c)
 * and exposes a constructor returning its page plus update functions the app
 * calls from the session's observer; screens call back into the app through
 * the tv_gtk_app_* functions below. Main thread only.
 */
#pragma once

#include <gst/gst.h>
#include <gtk/gtk.h>

#include "client/tv-client-options.h"
#include "client/tv-client-session.h"

G_BEGIN_DECLS

/* ---- settings (tv-gtk-settings.c): $XDG_CONFIG_HOME/televisit/client.ini ---- */

typedef struct {
  int width, height;   /* window size, 0 = default */
  char *server_url;    /* last server (wss://...), or NULL */
  char *username;      /* last doctor login, or NULL */
  char *camera, *microphone, *speaker; /* device display names chosen in the pre-call check, or NULL */
} TvGtkSettings;

/* Loads the file (missing or unreadable: defaults, nothing printed). */
void tv_gtk_settings_load (TvGtkSettings *s);
/* Writes the file atomically (folder created 0700). Returns: FALSE with a
 * message logged when it cannot be written. */
gboolean tv_gtk_settings_save (const TvGtkSettings *s);
void tv_gtk_settings_clear (TvGtkSettings *s);
/* Returns: (transfer full) the path of client.ini. */
char *tv_gtk_settings_path (void);

/* ---- the app ---- */

typedef struct _TvGtkStart TvGtkStart;
typedef struct _TvGtkPrecheck TvGtkPrecheck;
typedef struct _TvGtkWaiting TvGtkWaiting;
typedef struct _TvGtkCall TvGtkCall;
typedef struct _TvGtkQueue TvGtkQueue;
typedef struct _TvGtkFacts TvGtkFacts;
typedef struct _TvGtkChat TvGtkChat;

typedef struct {
  GtkApplication *gapp;
  GtkWidget *window, *stack, *banner, *banner_label;
  const TvClientOptions *opts;
  TvClientSessionConfig cfg;   /* template; server/token/api_session set per session */
  TvGtkSettings settings;

  TvClientSession *session;
  char *server_url;            /* of the running session */
  char *token;                 /* patient/doctor join token (credential: wiped) */
  char *api_session;           /* doctor login (credential: wiped) */
  char *doctor_name;           /* from "waiting", for the waiting room */

  TvGtkStart *start;
  TvGtkPrecheck *precheck;
  TvGtkWaiting *waiting;
  TvGtkCall *call;
  TvGtkQueue *queue;
  TvGtkFacts *facts;           /* doctor's billing facts bar inside the call view */
  TvGtkChat *chat;             /* chat panel beside the call's video */

  GstDevice *camera, *microphone, *speaker; /* chosen in the pre-call check (owned), or NULL */
  GPtrArray *old_devices;      /* devices chosen before: a running session's config may still point at them */
  gboolean from_command_line;  /* the session came from the command line: the window closes with it */
  int exit_code;
  gboolean quitting;
  GString *control_line;       /* --screenshot-dir: stdin command buffer */
  guint control_watch;
} TvGtkApp;

/* Joins with @token at @server_url (a patient or doctor join link). */
void tv_gtk_app_join (TvGtkApp *app, const char *server_url, const char *token);
/* Doctor: logged in, @api_session taken (owned). Shows the queue. */
void tv_gtk_app_take_login (TvGtkApp *app, const char *server_url, char *api_session);
/* Shows the page named @name ("start", "precheck", "waiting", "call", "queue"). */
void tv_gtk_app_show (TvGtkApp *app, const char *name);
/* Hang up: leaves (patient) / ends (doctor, @end) the consult. */
void tv_gtk_app_hang_up (TvGtkApp *app, gboolean end);
/* Shows @text in the banner above every screen (NULL hides it). */
void tv_gtk_app_banner (TvGtkApp *app, const char *text, GtkMessageType type);

/* ---- screens ---- */

GtkWidget *tv_gtk_start_new (TvGtkApp *app, TvGtkStart **out);
void tv_gtk_start_free (TvGtkStart *s);
/* Shows an error under the form (NULL clears it) and re-enables it. */
void tv_gtk_start_set_error (TvGtkStart *s, const char *text);
/* As if @link was pasted and Join pressed. */
void tv_gtk_start_submit_link (TvGtkStart *s, const char *link);
/* As if @user and @password were typed and Log in pressed. */
void tv_gtk_start_login (TvGtkStart *s, const char *user, const char *password);
/* A logged-in patient joins the @n-th (1-based) listed visit. Returns: FALSE
 * when there is no such visit or it has no join link. */
gboolean tv_gtk_start_join_visit (TvGtkStart *s, guint n);

GtkWidget *tv_gtk_precheck_new (TvGtkApp *app, TvGtkPrecheck **out);
/* Starts / stops the device monitor, preview and meters (the page is shown / left). */
void tv_gtk_precheck_activate (TvGtkPrecheck *p, gboolean on);
/* Starts the network check (a WebSocket/TLS connection to the server); prints
 * "network check ok|failed" when done. */
void tv_gtk_precheck_network (TvGtkPrecheck *p);
void tv_gtk_precheck_free (TvGtkPrecheck *p);

GtkWidget *tv_gtk_waiting_new (TvGtkApp *app, TvGtkWaiting **out);
/* @doctor and @scheduled_start (RFC 3339) may be NULL. */
void tv_gtk_waiting_update (TvGtkWaiting *w, const char *doctor, const char *scheduled_start,
                            gboolean doctor_present);
void tv_gtk_waiting_free (TvGtkWaiting *w);

GtkWidget *tv_gtk_call_new (TvGtkApp *app, TvGtkCall **out);
/* A call was built (@call) or torn down (NULL). */
void tv_gtk_call_set_media (TvGtkCall *c, TvMediaCall *call, TvSigRole role);
void tv_gtk_call_set_status (TvGtkCall *c, const char *text);
/* Doctor: @back sends the patient in the call back to the waiting room;
 * !@back lets a patient sent back in again. Returns: FALSE when not possible now. */
gboolean tv_gtk_call_send_back (TvGtkCall *c, gboolean back);
void tv_gtk_call_toggle_mute (TvGtkCall *c);
void tv_gtk_call_toggle_camera (TvGtkCall *c);
/* The remote video area in window coordinates. Returns: FALSE when there is none. */
gboolean tv_gtk_call_video_area (TvGtkCall *c, GtkWidget *window, GdkRectangle *out);
void tv_gtk_call_free (TvGtkCall *c);

/* The doctor's visit facts bar (PROTOCOL.md 3.27); the call view packs it. */
GtkWidget *tv_gtk_facts_new (TvGtkApp *app, TvGtkFacts **out);
/* "facts-saved": shows what the server stored. */
void tv_gtk_facts_saved (TvGtkFacts *f, const TvSigMsg *msg);
/* Chooses the values (words of PROTOCOL.md 3.27) and saves. Returns: FALSE
 * for a word the bar does not offer. */
gboolean tv_gtk_facts_submit (TvGtkFacts *f, const char *modality, const char *location, const char *status,
                              const char *reason);
void tv_gtk_facts_free (TvGtkFacts *f);

/* The chat panel (PROTOCOL.md 3.23-3.24); the call view packs it. */
GtkWidget *tv_gtk_chat_new (TvGtkApp *app, TvGtkChat **out);
/* A "chat-message" (@own: our role, for "You"); ids already shown are skipped. */
void tv_gtk_chat_add (TvGtkChat *c, const TvSigMsg *msg, TvSigRole own);
/* Sends @text. Returns: FALSE (said in the panel) when it cannot be sent. */
gboolean tv_gtk_chat_send (TvGtkChat *c, const char *text);
/* Empties the panel for a new session. */
void tv_gtk_chat_clear (TvGtkChat *c);
void tv_gtk_chat_free (TvGtkChat *c);

GtkWidget *tv_gtk_queue_new (TvGtkApp *app, TvGtkQueue **out);
/* A "dashboard" message: refreshes the list; a patient newly waiting rings and notifies. */
void tv_gtk_queue_update (TvGtkQueue *q, const TvSigMsg *msg);
/* Admits the @n-th consult (1-based) of the list. Returns: FALSE when nobody waits there. */
gboolean tv_gtk_queue_admit_nth (TvGtkQueue *q, guint n);
void tv_gtk_queue_free (TvGtkQueue *q);

/* Plays a 0.4 s tone of @freq Hz on @speaker (NULL: the default one), in the
 * background. Returns: FALSE when the speaker cannot be opened. */
gboolean tv_gtk_play_tone (GstDevice *speaker, double freq);

/* "HH:MM" of an RFC 3339 time in its own offset, or NULL. (transfer full) */
char *tv_gtk_hh_mm (const char *rfc3339);

G_END_DECLS
