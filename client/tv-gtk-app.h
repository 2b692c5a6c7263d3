/* tv-gtk-app.h — televisit-client's desktop window (GTK 3), the entry point.
 *
 * Why a separate header without GTK types: televisit-client.c (and
 * libtvclient, which every test links) stays free of GTK; only the
 * televisit-client binary links the tv-gtk-* objects (client/module.mk).
 * Main thread only.
 */
#pragma once

#include <glib.h>

#include "client/tv-client-options.h"
#include "client/tv-client-session.h"

G_BEGIN_DECLS

/* tv_gtk_app_run:
 * Runs the window until it is closed: start screen (join link, or a doctor's
 * login), pre-call check, waiting room, call view, doctor's queue. @opts are
 * the parsed options (server, token or login may be absent: the start screen
 * asks); @cfg the session settings main() derived from them (strings must
 * live until this returns). gtk_init happens here.
 * Returns: the exit status (TvClientExitCode) of the last session, or
 * TV_CLIENT_EXIT_OK when the window was closed without one; MEDIA_FAILED
 * when there is no display or gtksink is missing (message on stderr). */
int tv_gtk_app_run (const TvClientOptions *opts, const TvClientSessionConfig *cfg);

G_END_DECLS
