/* tv-store-waitroom.h — the waiting room in the store: arrival, admission, wait time.
 *
 * Why: schema v4 of the session store (TV_STORE_WAITROOM_SCHEMA_V4) records
 * when the patient first came into a consult's waiting room (arrived_at; the
 * status moves scheduled -> waiting), when the doctor first admitted them
 * (admitted_at) and the wait in between (wait_us = admitted_at - arrived_at).
 * The columns are read back as part of TvConsult (tv-store.h). Later arrivals
 * and admissions (after a drop or a send-back) do not move the first ones.
 *
 * Same rules as tv-store.h: each changing call is one transaction (all or
 * nothing), times are µs since the epoch UTC, a time <= 0 is INVALID; errors
 * are TV_STORE_ERROR codes and never repeat names or tokens.
 * TEST-ONLY fault points (TV_STORE_FAULT, see tv-store.h): "fail:arrive",
 * "fail:admit".
 * Thread: the store's thread.
 */
#pragma once

#include <glib.h>

#include "server/tv-store.h"

G_BEGIN_DECLS

/* The v4 migration step (consults.arrived_at, admitted_at, wait_us). The
 * 'waiting' status itself is already allowed by v3's rebuilt consults table. */
extern const char TV_STORE_WAITROOM_SCHEMA_V4[];

/* tv_store_consult_patient_arrived:
 * The patient joined at @now: the first time, arrived_at = @now and a
 * SCHEDULED consult becomes WAITING. Later calls change nothing (TRUE).
 * Returns: TRUE with *@first (may be NULL) telling whether this was the first
 * arrival; FALSE with NOT_FOUND, WRONG_STATE (completed, cancelled, no-show),
 * INVALID or IO and nothing changed. */
gboolean tv_store_consult_patient_arrived (TvStore *store, const char *id, gint64 now, gboolean *first,
                                           GError **error);

/* tv_store_consult_admitted:
 * The doctor admitted the patient at @now: the first time, admitted_at = @now
 * and wait_us = max(0, @now - arrived_at) (a patient never recorded as arrived
 * counts as arriving at @now, wait 0). Later calls change nothing (TRUE).
 * Returns: TRUE; FALSE with NOT_FOUND, WRONG_STATE (completed, cancelled,
 * no-show), INVALID or IO and nothing changed. */
gboolean tv_store_consult_admitted (TvStore *store, const char *id, gint64 now, GError **error);

G_END_DECLS
