/* test-sig-room.c — the consult room state machine, scenario by scenario.
 *
 * Why: the room decides who may send what and when a consult starts, stops
 * and completes; the server only carries out its effects. Each scenario below
 * is a script of (operation, role) steps with the expected outcome: success or
 * the exact error code, the exact effect flags, and the state afterwards.
 * Failed steps must leave the room exactly as it was.
 * Thread: the test's main thread only; an alarm() watchdog fails a stuck run.
 */
#define G_LOG_DOMAIN "tv-test-sig"

#include <glib.h>
#include <signal.h>
#include <unistd.h>

#include "signaling/tv-sig-room.h"

#define WATCHDOG_SECONDS 30

static void
on_alarm (int sig)
{
  static const char msg[] = "Bail out! watchdog: test took too long\n";
  if (write (STDOUT_FILENO, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (1);
}

typedef enum { JOIN, LEAVE, OFFER, ANSWER, CAND, UP, DOWN, END, ADMIT, SENDBACK, RESTART } Op;

typedef struct {
  Op op;
  TvSigRole role;
  int code;               /* 0 = must succeed, else the TV_SIG_ERROR code */
  TvSigRoomEffects fx;
  TvSigRoomState state;   /* after the step */
} Step;

typedef struct {
  const char *name;
  gboolean was_started;
  const Step *steps;
  gsize n_steps;
} Scenario;

#define D TV_SIG_ROLE_DOCTOR
#define P TV_SIG_ROLE_PATIENT
#define ADMIN TV_SIG_ROLE_NONE
#define OK 0
#define NONE TV_SIG_ROOM_FX_NONE
#define PJ TV_SIG_ROOM_FX_PEER_JOINED
#define PAIR TV_SIG_ROOM_FX_PAIRED
#define PL TV_SIG_ROOM_FX_PEER_LEFT
#define START TV_SIG_ROOM_FX_MEDIA_STARTED
#define STOP TV_SIG_ROOM_FX_MEDIA_STOPPED
#define DONE TV_SIG_ROOM_FX_COMPLETED
#define WAITFX TV_SIG_ROOM_FX_WAITING
#define READYFX TV_SIG_ROOM_FX_DOCTOR_READY
#define ADM TV_SIG_ROOM_FX_ADMITTED
#define S_READY TV_SIG_ROOM_READY
#define S_EMPTY TV_SIG_ROOM_EMPTY
#define S_WAIT TV_SIG_ROOM_WAITING
#define S_PAIRED TV_SIG_ROOM_PAIRED
#define S_CONN TV_SIG_ROOM_CONNECTED
#define S_ENDED TV_SIG_ROOM_ENDED

/* The patient joins the waiting doctor: it waits until admitted, then both are paired. */
#define PATIENT_ADMITTED \
  { JOIN, P, OK, PJ | WAITFX, S_READY }, \
  { ADMIT, D, OK, ADM | PAIR, S_PAIRED }

/* Both join, the doctor admits, full negotiation, both media up. */
#define CONNECT_STEPS \
  { JOIN, D, OK, NONE, S_WAIT }, \
  PATIENT_ADMITTED, \
  { OFFER, D, OK, NONE, S_PAIRED }, \
  { ANSWER, P, OK, NONE, S_PAIRED }, \
  { UP, D, OK, NONE, S_PAIRED }, \
  { UP, P, OK, START, S_CONN }

static const Step first_consult[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { OFFER, D, OK, NONE, S_PAIRED },
  { CAND, D, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { CAND, P, OK, NONE, S_PAIRED },
  { CAND, D, OK, NONE, S_PAIRED },
  { UP, D, OK, NONE, S_PAIRED },
  { UP, P, OK, START, S_CONN },
  { UP, P, OK, NONE, S_CONN },            /* repeating the current value: no effect */
  { END, D, OK, DONE | STOP, S_ENDED },
  { LEAVE, D, OK, NONE, S_ENDED },        /* the server closing the connections */
  { LEAVE, P, OK, NONE, S_ENDED },
};

static const Step patient_first[] = {
  { JOIN, P, OK, WAITFX, S_WAIT },
  { JOIN, D, OK, READYFX, S_READY },
  { OFFER, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },   /* not admitted yet */
  { UP, P, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },
  { ADMIT, D, OK, ADM | PAIR, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
};

static const Step join_twice[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  { JOIN, D, TV_SIG_ERR_TOKEN_IN_USE, NONE, S_WAIT },
  { JOIN, P, OK, PJ | WAITFX, S_READY },
  { JOIN, P, TV_SIG_ERR_TOKEN_IN_USE, NONE, S_READY },
  { ADMIT, D, OK, ADM | PAIR, S_PAIRED },
  { JOIN, P, TV_SIG_ERR_TOKEN_IN_USE, NONE, S_PAIRED },
  { JOIN, D, TV_SIG_ERR_TOKEN_IN_USE, NONE, S_PAIRED },
};

static const Step relay_before_pairing[] = {
  { OFFER, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_EMPTY },
  { JOIN, D, OK, NONE, S_WAIT },
  { OFFER, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { CAND, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { ANSWER, P, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { OFFER, P, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT }, /* pairing is checked before the role */
  { UP, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { DOWN, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { JOIN, P, OK, PJ | WAITFX, S_READY },
  { OFFER, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },   /* admission is part of pairing */
  { CAND, P, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },
  { DOWN, P, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },
  { ADMIT, D, OK, ADM | PAIR, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
};

static const Step answer_without_offer[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { ANSWER, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { ANSWER, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED }, /* the offer was answered already */
};

static const Step candidate_before_offer[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { CAND, D, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { CAND, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { CAND, D, OK, NONE, S_PAIRED },
  { CAND, P, OK, NONE, S_PAIRED },
};

static const Step wrong_role[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { OFFER, P, TV_SIG_ERR_NOT_ALLOWED, NONE, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { ANSWER, D, TV_SIG_ERR_NOT_ALLOWED, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
};

static const Step patient_end[] = {
  CONNECT_STEPS,
  { END, P, TV_SIG_ERR_NOT_ALLOWED, NONE, S_CONN },
  { OFFER, D, OK, NONE, S_CONN },          /* the consult goes on */
  { END, D, OK, DONE | STOP, S_ENDED },
  { END, P, TV_SIG_ERR_NOT_ALLOWED, NONE, S_ENDED }, /* the role is refused before the state */
};

static const Step media_before_answer[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { UP, D, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { UP, D, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { UP, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { DOWN, P, OK, NONE, S_PAIRED },         /* "down" is always accepted while paired */
  { ANSWER, P, OK, NONE, S_PAIRED },
  { UP, D, OK, NONE, S_PAIRED },
  { DOWN, D, OK, NONE, S_PAIRED },         /* no interval was open: nothing to stop */
  { DOWN, D, OK, NONE, S_PAIRED },
  { UP, P, OK, NONE, S_PAIRED },
  { UP, D, OK, START, S_CONN },
};

static const Step leave_rejoin[] = {
  CONNECT_STEPS,
  { LEAVE, P, OK, STOP | PL, S_WAIT },
  { OFFER, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { UP, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { JOIN, P, OK, PJ | PAIR, S_PAIRED },
  /* The new pairing renegotiates from scratch: nothing from the old one counts. */
  { ANSWER, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { CAND, D, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { UP, D, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { CAND, P, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { UP, P, OK, NONE, S_PAIRED },           /* the doctor's old "up" was forgotten */
  { UP, D, OK, START, S_CONN },
};

static const Step doctor_drops_and_rejoins[] = {
  CONNECT_STEPS,
  { LEAVE, D, OK, STOP | PL, S_WAIT },
  { JOIN, D, OK, PJ | PAIR, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { UP, D, OK, NONE, S_PAIRED },
  { UP, P, OK, START, S_CONN },
};

static const Step no_media_stays_open[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { OFFER, D, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { UP, D, OK, NONE, S_PAIRED },           /* only one side ever came up */
  { LEAVE, P, OK, PL, S_WAIT },
  { LEAVE, D, OK, NONE, S_EMPTY },         /* never started: not completed */
  { JOIN, D, OK, NONE, S_WAIT },
  { JOIN, P, OK, PJ | PAIR, S_PAIRED },    /* admission lasts for the room's life */
};

static const Step wait_alone_and_leave[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  { LEAVE, D, OK, NONE, S_EMPTY },
  { JOIN, D, OK, NONE, S_WAIT },
};

static const Step completion_after_media[] = {
  CONNECT_STEPS,
  { DOWN, P, OK, STOP, S_PAIRED },
  { LEAVE, D, OK, PL, S_WAIT },
  { LEAVE, P, OK, DONE, S_ENDED },
  { JOIN, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { JOIN, P, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { END, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
};

static const Step both_leave_while_connected[] = {
  CONNECT_STEPS,
  { LEAVE, D, OK, STOP | PL, S_WAIT },
  { LEAVE, P, OK, DONE, S_ENDED },
};

/* Media was up once, went down, the pair renegotiated but never came back up:
 * the consult still completes when both leave (it had started). */
static const Step completion_after_earlier_media[] = {
  CONNECT_STEPS,
  { LEAVE, P, OK, STOP | PL, S_WAIT },
  { JOIN, P, OK, PJ | PAIR, S_PAIRED },
  { LEAVE, P, OK, PL, S_WAIT },
  { LEAVE, D, OK, DONE, S_ENDED },
};

static const Step ended_room_refuses[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { END, D, OK, DONE, S_ENDED },           /* no interval was open: no MEDIA_STOPPED */
  { OFFER, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { ANSWER, P, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { CAND, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { UP, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { DOWN, P, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { END, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { END, ADMIN, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { ADMIT, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { SENDBACK, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { ADMIT, P, TV_SIG_ERR_NOT_ALLOWED, NONE, S_ENDED },   /* the role is refused before the state */
  { LEAVE, P, OK, NONE, S_ENDED },
  { JOIN, P, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { LEAVE, D, OK, NONE, S_ENDED },
  { JOIN, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
};

static const Step doctor_ends_alone[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  { END, D, OK, DONE, S_ENDED },
  { JOIN, P, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
};

static const Step re_offer[] = {
  CONNECT_STEPS,
  { OFFER, D, OK, NONE, S_CONN },          /* ICE restart while connected */
  { OFFER, D, OK, NONE, S_CONN },          /* replaces the pending one */
  { CAND, D, OK, NONE, S_CONN },
  { ANSWER, P, OK, NONE, S_CONN },
  { ANSWER, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_CONN },
  { CAND, P, OK, NONE, S_CONN },
  { UP, D, OK, NONE, S_CONN },
};

static const Step admin_end_empty[] = {
  { END, ADMIN, OK, DONE, S_ENDED },
  { JOIN, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
  { LEAVE, D, OK, NONE, S_ENDED },         /* not present: no-op */
};

static const Step admin_end_connected[] = {
  CONNECT_STEPS,
  { END, ADMIN, OK, DONE | STOP, S_ENDED },
  { LEAVE, D, OK, NONE, S_ENDED },
  { LEAVE, P, OK, NONE, S_ENDED },
};

static const Step leave_absent_noop[] = {
  { LEAVE, D, OK, NONE, S_EMPTY },
  { JOIN, D, OK, NONE, S_WAIT },
  { LEAVE, P, OK, NONE, S_WAIT },
  { LEAVE, D, OK, NONE, S_EMPTY },
  { LEAVE, D, OK, NONE, S_EMPTY },
};

static const Step media_flap[] = {
  CONNECT_STEPS,
  { DOWN, D, OK, STOP, S_PAIRED },
  { DOWN, P, OK, NONE, S_PAIRED },
  { DOWN, P, OK, NONE, S_PAIRED },
  { UP, P, OK, NONE, S_PAIRED },
  { UP, D, OK, START, S_CONN },
  { DOWN, P, OK, STOP, S_PAIRED },
  { UP, P, OK, START, S_CONN },
};

/* Created with was_started (media connected before a server restart). */
static const Step started_before_restart[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  { JOIN, P, OK, PJ | PAIR, S_PAIRED },    /* admitted since the start */
  { LEAVE, P, OK, PL, S_WAIT },
  { LEAVE, D, OK, DONE, S_ENDED },
};

static const Step started_before_restart_one_party[] = {
  { JOIN, P, OK, WAITFX, S_WAIT },         /* admitted, but the doctor is not there */
  { LEAVE, P, OK, DONE, S_ENDED },
};

/* The doctor admits from the dashboard before joining the consult. */
static const Step admit_before_doctor_joins[] = {
  { JOIN, P, OK, WAITFX, S_WAIT },
  { ADMIT, P, TV_SIG_ERR_NOT_ALLOWED, NONE, S_WAIT },
  { ADMIT, D, OK, ADM, S_WAIT },
  { ADMIT, D, TV_SIG_ERR_NOT_WAITING, NONE, S_WAIT },   /* already admitted */
  { JOIN, D, OK, PJ | PAIR, S_PAIRED },
};

static const Step admission_errors[] = {
  { ADMIT, D, TV_SIG_ERR_NOT_WAITING, NONE, S_EMPTY },
  { SENDBACK, D, TV_SIG_ERR_NOT_WAITING, NONE, S_EMPTY },
  { JOIN, D, OK, NONE, S_WAIT },
  { ADMIT, D, TV_SIG_ERR_NOT_WAITING, NONE, S_WAIT },   /* no patient */
  { SENDBACK, D, TV_SIG_ERR_NOT_WAITING, NONE, S_WAIT },
  { JOIN, P, OK, PJ | WAITFX, S_READY },
  { SENDBACK, D, TV_SIG_ERR_NOT_WAITING, NONE, S_READY }, /* not admitted */
  { SENDBACK, P, TV_SIG_ERR_NOT_ALLOWED, NONE, S_READY },
  { ADMIT, P, TV_SIG_ERR_NOT_ALLOWED, NONE, S_READY },
  { ADMIT, ADMIN, TV_SIG_ERR_NOT_ALLOWED, NONE, S_READY },
  { ADMIT, D, OK, ADM | PAIR, S_PAIRED },
  { ADMIT, D, TV_SIG_ERR_NOT_WAITING, NONE, S_PAIRED },
};

static const Step send_back[] = {
  CONNECT_STEPS,
  { SENDBACK, D, OK, STOP | WAITFX, S_READY },
  { OFFER, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },
  { UP, P, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },
  { ADMIT, D, OK, ADM | PAIR, S_PAIRED },
  /* A fresh pairing: nothing of the one before counts. */
  { ANSWER, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { UP, D, OK, NONE, S_PAIRED },
  { UP, P, OK, START, S_CONN },
  { END, D, OK, DONE | STOP, S_ENDED },
};

static const Step send_back_then_rejoin[] = {
  { JOIN, D, OK, NONE, S_WAIT },
  PATIENT_ADMITTED,
  { SENDBACK, D, OK, WAITFX, S_READY },    /* no media yet: nothing to stop */
  { LEAVE, P, OK, PL, S_WAIT },
  { JOIN, P, OK, PJ | WAITFX, S_READY },   /* sent back: waits again */
};

static const Step doctor_leaves_waiting_patient[] = {
  { JOIN, P, OK, WAITFX, S_WAIT },
  { JOIN, D, OK, READYFX, S_READY },
  { LEAVE, D, OK, PL, S_WAIT },
  { JOIN, D, OK, READYFX, S_READY },
  { LEAVE, P, OK, PL, S_WAIT },
  { LEAVE, D, OK, NONE, S_EMPTY },         /* never started: not completed */
};

/* A media restart (tv_sig_room_restart): only while paired; the pairing
 * starts over (stale answers and early candidates refused), an open
 * interval closes, the consult goes on. */
static const Step media_restart[] = {
  { RESTART, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_EMPTY },
  { JOIN, D, OK, NONE, S_WAIT },
  { RESTART, D, TV_SIG_ERR_NOT_PAIRED, NONE, S_WAIT },
  { JOIN, P, OK, PJ | WAITFX, S_READY },
  { RESTART, P, TV_SIG_ERR_NOT_PAIRED, NONE, S_READY },     /* not admitted yet */
  { ADMIT, D, OK, ADM | PAIR, S_PAIRED },
  { OFFER, D, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { UP, D, OK, NONE, S_PAIRED },
  { UP, P, OK, START, S_CONN },
  { RESTART, P, OK, STOP | PAIR, S_PAIRED },                /* the interval closes, pairing from scratch */
  { ANSWER, P, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },   /* a stale answer */
  { CAND, D, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },     /* before the new offer */
  { UP, D, TV_SIG_ERR_OUT_OF_ORDER, NONE, S_PAIRED },       /* no answer yet in this pairing */
  { RESTART, D, OK, PAIR, S_PAIRED },                       /* nothing open: nothing to stop */
  { OFFER, D, OK, NONE, S_PAIRED },
  { ANSWER, P, OK, NONE, S_PAIRED },
  { UP, P, OK, NONE, S_PAIRED },
  { UP, D, OK, START, S_CONN },
  { END, D, OK, DONE | STOP, S_ENDED },
  { RESTART, D, TV_SIG_ERR_CONSULT_ENDED, NONE, S_ENDED },
};

#define SCENARIO(name, started) { #name, started, name, G_N_ELEMENTS (name) }
static const Scenario scenarios[] = {
  SCENARIO (first_consult, FALSE),
  SCENARIO (patient_first, FALSE),
  SCENARIO (join_twice, FALSE),
  SCENARIO (relay_before_pairing, FALSE),
  SCENARIO (answer_without_offer, FALSE),
  SCENARIO (candidate_before_offer, FALSE),
  SCENARIO (wrong_role, FALSE),
  SCENARIO (patient_end, FALSE),
  SCENARIO (media_before_answer, FALSE),
  SCENARIO (leave_rejoin, FALSE),
  SCENARIO (doctor_drops_and_rejoins, FALSE),
  SCENARIO (no_media_stays_open, FALSE),
  SCENARIO (wait_alone_and_leave, FALSE),
  SCENARIO (completion_after_media, FALSE),
  SCENARIO (both_leave_while_connected, FALSE),
  SCENARIO (completion_after_earlier_media, FALSE),
  SCENARIO (ended_room_refuses, FALSE),
  SCENARIO (doctor_ends_alone, FALSE),
  SCENARIO (re_offer, FALSE),
  SCENARIO (admin_end_empty, FALSE),
  SCENARIO (admin_end_connected, FALSE),
  SCENARIO (leave_absent_noop, FALSE),
  SCENARIO (media_flap, FALSE),
  SCENARIO (started_before_restart, TRUE),
  SCENARIO (started_before_restart_one_party, TRUE),
  SCENARIO (admit_before_doctor_joins, FALSE),
  SCENARIO (admission_errors, FALSE),
  SCENARIO (send_back, FALSE),
  SCENARIO (send_back_then_rejoin, FALSE),
  SCENARIO (doctor_leaves_waiting_patient, FALSE),
  SCENARIO (media_restart, FALSE),
};

static const char *op_names[] = { "join", "leave", "offer", "answer", "candidate", "up", "down", "end",
                                  "admit", "send-back", "restart" };

/* Runs one step; returns the effects and sets @error on refusal. */
static TvSigRoomEffects
run_step (TvSigRoom *room, const Step *s, GError **error)
{
  /* Poisoned so a function that forgets to set *fx is caught. */
  TvSigRoomEffects fx = (TvSigRoomEffects) 0xff00;

  switch (s->op)
    {
    case JOIN:
      tv_sig_room_join (room, s->role, &fx, error);
      break;
    case LEAVE:
      tv_sig_room_leave (room, s->role, &fx);
      break;
    case OFFER:
    case ANSWER:
    case CAND:
      {
        TvSigMsgType t = s->op == OFFER ? TV_SIG_MSG_OFFER
                       : s->op == ANSWER ? TV_SIG_MSG_ANSWER : TV_SIG_MSG_CANDIDATE;
        tv_sig_room_relay (room, s->role, t, error);
        fx = TV_SIG_ROOM_FX_NONE; /* relaying has no effects */
        break;
      }
    case UP:
    case DOWN:
      tv_sig_room_media (room, s->role, s->op == UP, &fx, error);
      break;
    case END:
      tv_sig_room_end (room, s->role, &fx, error);
      break;
    case ADMIT:
      tv_sig_room_admit (room, s->role, &fx, error);
      break;
    case SENDBACK:
      tv_sig_room_send_back (room, s->role, &fx, error);
      break;
    case RESTART:
      tv_sig_room_restart (room, s->role, &fx, error);
      break;
    }
  return fx;
}

static void
run_scenario (gconstpointer data)
{
  const Scenario *sc = data;
  g_autoptr (TvSigRoom) room = tv_sig_room_new ("6f1c7e0e-8c1a-4a51-9d3e-2b7c9f0a1e44", sc->was_started);
  gboolean saw_start = sc->was_started;

  g_assert_cmpint (tv_sig_room_get_state (room), ==, TV_SIG_ROOM_EMPTY);
  for (gsize i = 0; i < sc->n_steps; i++)
    {
      const Step *s = &sc->steps[i];
      g_autoptr (GError) error = NULL;
      gboolean doctor_before = tv_sig_room_is_present (room, D);
      gboolean patient_before = tv_sig_room_is_present (room, P);
      TvSigRoomState state_before = tv_sig_room_get_state (room);
      gboolean started_before = tv_sig_room_was_started (room);
      TvSigRoomEffects fx;

      g_test_message ("%s step %" G_GSIZE_FORMAT ": %s by %s", sc->name, i, op_names[s->op],
                      tv_sig_role_to_string (s->role));
      fx = run_step (room, s, &error);
      if (s->code == OK)
        g_assert_no_error (error);
      else
        {
          g_assert_error (error, TV_SIG_ERROR, s->code);
          /* A refused step changes nothing. */
          g_assert_cmpint (tv_sig_room_is_present (room, D), ==, doctor_before);
          g_assert_cmpint (tv_sig_room_is_present (room, P), ==, patient_before);
          g_assert_cmpint (tv_sig_room_get_state (room), ==, state_before);
          g_assert_cmpint (tv_sig_room_was_started (room), ==, started_before);
        }
      g_assert_cmpint (fx, ==, s->fx);
      g_assert_cmpstr (tv_sig_room_state_to_string (tv_sig_room_get_state (room)), ==,
                       tv_sig_room_state_to_string (s->state));

      /* Presence follows joins and leaves. */
      if (s->op == JOIN && s->code == OK)
        g_assert_true (tv_sig_room_is_present (room, s->role));
      if (s->op == LEAVE)
        g_assert_false (tv_sig_room_is_present (room, s->role));
      /* was_started turns TRUE with the first MEDIA_STARTED and stays. */
      if (fx & TV_SIG_ROOM_FX_MEDIA_STARTED)
        saw_start = TRUE;
      g_assert_cmpint (tv_sig_room_was_started (room), ==, saw_start);
      /* COMPLETED only ever follows a start, or an explicit end. */
      if ((fx & TV_SIG_ROOM_FX_COMPLETED) && s->op == LEAVE)
        g_assert_true (saw_start);
    }
}

/* Every effect flag and every state is produced by at least one scenario. */
static void
test_coverage (void)
{
  TvSigRoomEffects all_fx = 0;
  gboolean states[TV_SIG_ROOM_ENDED + 1] = { FALSE };
  gboolean codes[6] = { FALSE };
  static const int room_codes[] = {
    TV_SIG_ERR_TOKEN_IN_USE, TV_SIG_ERR_CONSULT_ENDED, TV_SIG_ERR_NOT_PAIRED,
    TV_SIG_ERR_OUT_OF_ORDER, TV_SIG_ERR_NOT_ALLOWED, TV_SIG_ERR_NOT_WAITING,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (scenarios); i++)
    for (gsize j = 0; j < scenarios[i].n_steps; j++)
      {
        const Step *s = &scenarios[i].steps[j];
        all_fx |= s->fx;
        states[s->state] = TRUE;
        for (gsize k = 0; k < G_N_ELEMENTS (room_codes); k++)
          if (s->code == room_codes[k])
            codes[k] = TRUE;
      }
  g_assert_cmpint (all_fx, ==, PJ | PAIR | PL | START | STOP | DONE | WAITFX | READYFX | ADM);
  for (int st = 0; st <= TV_SIG_ROOM_ENDED; st++)
    g_assert_true (states[st]);
  for (gsize k = 0; k < G_N_ELEMENTS (room_codes); k++)
    g_assert_true (codes[k]);
}

static void
test_basics (void)
{
  TvSigRoom *room = tv_sig_room_new ("consult-1", FALSE);
  TvSigRoom *other = tv_sig_room_new ("consult-2", TRUE);
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (tv_sig_room_get_consult_id (room), ==, "consult-1");
  g_assert_cmpint (tv_sig_room_get_state (room), ==, TV_SIG_ROOM_EMPTY);
  g_assert_false (tv_sig_room_was_started (room));
  g_assert_true (tv_sig_room_was_started (other));
  g_assert_false (tv_sig_room_is_present (room, D));
  g_assert_false (tv_sig_room_is_present (room, P));
  g_assert_false (tv_sig_room_is_present (room, TV_SIG_ROLE_NONE));

  g_assert_cmpstr (tv_sig_room_state_to_string (TV_SIG_ROOM_EMPTY), ==, "empty");
  g_assert_cmpstr (tv_sig_room_state_to_string (TV_SIG_ROOM_WAITING), ==, "waiting");
  g_assert_cmpstr (tv_sig_room_state_to_string (TV_SIG_ROOM_READY), ==, "ready");
  g_assert_cmpstr (tv_sig_room_state_to_string (TV_SIG_ROOM_PAIRED), ==, "paired");
  g_assert_cmpstr (tv_sig_room_state_to_string (TV_SIG_ROOM_CONNECTED), ==, "connected");
  g_assert_cmpstr (tv_sig_room_state_to_string (TV_SIG_ROOM_ENDED), ==, "ended");

  /* Effects may be ignored (NULL) and errors too. */
  g_assert_true (tv_sig_room_join (room, D, NULL, NULL));
  g_assert_false (tv_sig_room_join (room, D, NULL, NULL));
  g_assert_true (tv_sig_room_join (room, P, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (tv_sig_room_is_admitted (room));
  g_assert_true (tv_sig_room_admit (room, D, NULL, NULL));
  g_assert_true (tv_sig_room_is_admitted (room));
  g_assert_true (tv_sig_room_is_admitted (other));   /* was_started: admitted from the start */
  g_assert_true (tv_sig_room_relay (room, D, TV_SIG_MSG_OFFER, NULL));
  g_assert_true (tv_sig_room_relay (room, P, TV_SIG_MSG_ANSWER, NULL));
  g_assert_true (tv_sig_room_media (room, D, TRUE, NULL, NULL));
  g_assert_true (tv_sig_room_media (room, P, TRUE, NULL, NULL));
  g_assert_cmpint (tv_sig_room_get_state (room), ==, TV_SIG_ROOM_CONNECTED);
  tv_sig_room_leave (room, P, NULL);
  g_assert_true (tv_sig_room_end (room, D, NULL, NULL));
  g_assert_cmpint (tv_sig_room_get_state (room), ==, TV_SIG_ROOM_ENDED);

  /* Two rooms are independent. */
  g_assert_cmpint (tv_sig_room_get_state (other), ==, TV_SIG_ROOM_EMPTY);

  /* Refcounting: the room lives until the last reference goes (ASan checks
   * that destroy runs exactly once). */
  g_assert_true (tv_sig_room_ref (room) == room);
  tv_sig_room_unref (room);
  g_assert_cmpstr (tv_sig_room_get_consult_id (room), ==, "consult-1");
  tv_sig_room_unref (room);
  tv_sig_room_unref (other);
  tv_sig_room_unref (NULL);
}

/* A long random walk of operations on rooms, checking the invariants that
 * the server relies on: intervals open and close alternately, COMPLETED
 * comes once and only with the move to ENDED, ENDED is final, the state
 * agrees with who is present, and refusals change nothing. */
static void
test_random_walk (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (4242);
  guint rooms = 0, completed = 0, started = 0;

  for (int r = 0; r < 200; r++)
    {
      g_autoptr (TvSigRoom) room = tv_sig_room_new ("walk", g_rand_boolean (rand));
      gboolean interval = FALSE;
      rooms++;

      for (int i = 0; i < 300; i++)
        {
          static const TvSigRole roles[] = { D, P, ADMIN };
          /* Weighted so that rooms live long enough to connect: leave,
           * end and send-back are rare. Percentages per op, in Op order. */
          static const int weight[] = { 14, 5, 18, 18, 9, 18, 7, 2, 7, 2 };
          int pick = g_rand_int_range (rand, 0, 100), op = 0;
          while (pick >= weight[op])
            pick -= weight[op++];
          Step s = { (Op) op, D, 0, 0, 0 };
          g_autoptr (GError) error = NULL;
          TvSigRoomState before = tv_sig_room_get_state (room), after;
          gboolean d_before = tv_sig_room_is_present (room, D);
          gboolean p_before = tv_sig_room_is_present (room, P);
          TvSigRoomEffects fx;

          s.role = roles[g_rand_int_range (rand, 0, s.op == END || s.op == ADMIT ? 3 : 2)];
          fx = run_step (room, &s, &error);
          after = tv_sig_room_get_state (room);

          if (error != NULL)
            {
              g_assert_true (error->domain == TV_SIG_ERROR);
              g_assert_cmpint (fx, ==, TV_SIG_ROOM_FX_NONE);
              g_assert_cmpint (after, ==, before);
              g_assert_cmpint (tv_sig_room_is_present (room, D), ==, d_before);
              g_assert_cmpint (tv_sig_room_is_present (room, P), ==, p_before);
              if (before == TV_SIG_ROOM_ENDED)
                g_assert_true (error->code == TV_SIG_ERR_CONSULT_ENDED || error->code == TV_SIG_ERR_NOT_ALLOWED);
            }
          if (before == TV_SIG_ROOM_ENDED)
            {
              g_assert_cmpint (after, ==, TV_SIG_ROOM_ENDED);
              g_assert_cmpint (fx, ==, TV_SIG_ROOM_FX_NONE);
            }
          if (fx & TV_SIG_ROOM_FX_MEDIA_STARTED)
            {
              g_assert_false (interval);
              interval = TRUE;
              started++;
              g_assert_cmpint (after, ==, TV_SIG_ROOM_CONNECTED);
              g_assert_true (tv_sig_room_was_started (room));
            }
          if (fx & TV_SIG_ROOM_FX_MEDIA_STOPPED)
            {
              g_assert_true (interval);
              interval = FALSE;
            }
          g_assert_cmpint (interval, ==, after == TV_SIG_ROOM_CONNECTED);
          g_assert_cmpint ((fx & TV_SIG_ROOM_FX_COMPLETED) != 0, ==,
                           before != TV_SIG_ROOM_ENDED && after == TV_SIG_ROOM_ENDED);
          if (fx & TV_SIG_ROOM_FX_PAIRED)
            g_assert_cmpint (after, ==, TV_SIG_ROOM_PAIRED);
          if (after != TV_SIG_ROOM_ENDED)
            {
              int n = tv_sig_room_is_present (room, D) + tv_sig_room_is_present (room, P);
              g_assert_cmpint (after == TV_SIG_ROOM_EMPTY, ==, n == 0);
              g_assert_cmpint (after == TV_SIG_ROOM_WAITING, ==, n == 1);
              g_assert_cmpint (after == TV_SIG_ROOM_READY, ==, n == 2 && !tv_sig_room_is_admitted (room));
            }
          if (fx & TV_SIG_ROOM_FX_COMPLETED)
            {
              completed++;
              break;
            }
        }
    }
  g_test_message ("%u rooms, %u media starts, %u completed", rooms, started, completed);
  g_assert_cmpuint (started, >, 0);
  g_assert_cmpuint (completed, >, 0);
}

/* Programmer errors are caught by g_return_val_if_fail, not by crashing. */
static void
test_programmer_errors (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr (TvSigRoom) room = tv_sig_room_new ("c", FALSE);
      tv_sig_room_relay (room, D, TV_SIG_MSG_JOIN, NULL);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*tv_sig_room_relay*");
}

int
main (int argc, char **argv)
{
  signal (SIGALRM, on_alarm);
  alarm (WATCHDOG_SECONDS);
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (scenarios); i++)
    {
      g_autofree char *path = g_strdup_printf ("/sig/room/scenario/%s", scenarios[i].name);
      g_test_add_data_func (path, &scenarios[i], run_scenario);
    }
  g_test_add_func ("/sig/room/coverage", test_coverage);
  g_test_add_func ("/sig/room/basics", test_basics);
  g_test_add_func ("/sig/room/random-walk", test_random_walk);
  g_test_add_func ("/sig/room/programmer-errors", test_programmer_errors);
  return g_test_run ();
}
