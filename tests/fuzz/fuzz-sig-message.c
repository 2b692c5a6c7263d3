/* fuzz-sig-message.c — libFuzzer target for the consult message parser.
 *
 * Why: tv_sig_msg_parse() is the first code that touches bytes from the
 * network, on the server and in every client. Any input must give a message
 * or a TV_SIG_ERROR, never a crash, a leak or undefined behaviour; and what
 * the parser accepts must re-serialise into a frame that parses to the same
 * serialisation (the server relays re-serialised messages).
 * Build and run: `make fuzz FUZZ_TARGETS=sig-message` (clang, libFuzzer, ASan,
 * UBSan; see tests/fuzz/fuzz.mk); `make check` replays
 * tests/fuzz/corpus/sig-message/ through tv-fuzz-replay.c.
 * Thread: libFuzzer's thread; the parser keeps no state.
 */
#define G_LOG_DOMAIN "tv-fuzz"

#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "signaling/tv-sig-message.h"

static void
check_direction (const uint8_t *data, size_t size, TvSigDirection dir)
{
  GError *error = NULL;
  TvSigMsgType ref = TV_SIG_MSG_N_TYPES;
  TvSigMsg *msg = tv_sig_msg_parse ((const char *) data, size, dir, &ref, &error);

  if (msg == NULL)
    {
      /* A failure always comes with a protocol error and a known ref. */
      if (error == NULL || error->domain != TV_SIG_ERROR || error->message == NULL ||
          !g_utf8_validate (error->message, -1, NULL) || ref >= TV_SIG_MSG_N_TYPES)
        abort ();
      g_error_free (error);
      return;
    }

  if (error != NULL || msg->type != ref)
    abort ();
  {
    char *json = tv_sig_msg_to_json (msg);
    TvSigMsg *again;
    char *json2;

    if (json == NULL)
      abort ();
    again = tv_sig_msg_parse (json, strlen (json), dir, NULL, &error);
    if (again == NULL)
      abort (); /* we produced something we refuse */
    json2 = tv_sig_msg_to_json (again);
    if (strcmp (json, json2) != 0)
      abort ();
    g_free (json2);
    g_free (json);
    tv_sig_msg_free (again);
  }
  tv_sig_msg_free (msg);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_direction (data, size, TV_SIG_FROM_CLIENT);
  check_direction (data, size, TV_SIG_FROM_SERVER);
  return 0;
}
