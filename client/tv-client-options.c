/* tv-client-options.c — command line of televisit-client: parsing, validation, help.
 *
 * GOptionContext does the tokenising (so "--flag=value", "--flag value" and
 * unknown-flag errors behave like every other GLib tool); every value is then
 * checked here so the session only ever sees valid settings. Numbers are taken
 * as strings and converted with g_ascii_string_to_unsigned so the error message
 * can name the flag and the allowed range. Main thread, before the loop runs.
 */
#define G_LOG_DOMAIN "tv-client"

#include "client/tv-client-options.h"
#include "signaling/tv-sig-message.h"

#include <gio/gio.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_MIN_CHARS 16
#define TOKEN_MAX_CHARS 128
#define MAX_ICE_ADDRESSES 16
#define MAX_SMALL_FILE_BYTES (1024 * 1024)

static const char help_text[] =
"NAME\n"
"    televisit-client - join a Televisit video consult\n"
"\n"
"SYNOPSIS\n"
"    televisit-client --server wss://HOST:PORT (--token TOKEN | --token-file FILE) [OPTIONS]\n"
"    televisit-client --server wss://HOST:PORT --login USERNAME [--password-file FILE] [--once] [OPTIONS]\n"
"    televisit-client --join-link https://HOST:PORT/join#token=TOKEN [OPTIONS]\n"
"    televisit-client [--gui] [--server wss://HOST:PORT] [--login USERNAME] [OPTIONS]\n"
"    televisit-client --help | --version\n"
"\n"
"DESCRIPTION\n"
"    Connects to a Televisit server over WebSocket/TLS, joins the consult that the\n"
"    join token belongs to (as its doctor or its patient), waits for the other\n"
"    party and runs the WebRTC video call (VP8 + Opus) with them. The server only\n"
"    relays the call set-up; audio and video flow directly between the two\n"
"    clients, or through a TURN relay: the one the server offers in \"joined\"\n"
"    (with short-lived credentials it issued), or the one given with --turn.\n"
"    A peer connection that fails ends the run (exit 5) only if the server does\n"
"    not report the other party's departure within 1.5 s.\n"
"\n"
"    Every consult has a waiting room. A patient who joins before the doctor, or\n"
"    before the doctor has admitted them, waits there (\"waiting for the doctor\",\n"
"    then \"the doctor is ready\" once the doctor is in); the call starts when the\n"
"    doctor admits the patient (see --admit).\n"
"\n"
"    When the other party leaves, the call is torn down and the client waits for\n"
"    them to come back (up to --peer-timeout). When the connection to the server\n"
"    drops (or goes silent: the client pings every 3 s and gives the connection\n"
"    up after 10 s without an answer), the client reconnects with back-off\n"
"    (0.5 s doubling up to 8 s, for up to --reconnect-window, 60 s by default)\n"
"    and joins again with the same token.\n"
"    SIGINT or SIGTERM leave the consult cleanly (a second signal exits at once).\n"
"\n"
"    Doctors with an account use --login instead of a token: the client logs in\n"
"    over HTTPS (POST /api/v1/login on the --server host and port, the\n"
"    certificate checked like the WebSocket's), authenticates the WebSocket with\n"
"    that session and prints today's queue (queue and queue-item lines, below)\n"
"    every time it changes. With --admit auto it joins the consult of the first\n"
"    patient waiting in the waiting room and admits them; with --admit manual it\n"
"    reads a consult number (or Enter for the first waiting patient) from stdin.\n"
"    The call then runs as with a token. When it has ended normally (duration,\n"
"    consult ended, the doctor left) the client goes back to the queue, unless\n"
"    --once is given. The session is logged out on exit.\n"
"\n"
"    The desktop window (--gui; also the default when the client is started\n"
"    without arguments and a display is available) asks for a join link, or a\n"
"    doctor's user name and password, checks camera, microphone, speaker and the\n"
"    network, shows the waiting room, the call (remote video large, self view\n"
"    small, mute, camera, hang up, a quality line from the media statistics, a\n"
"    banner while reconnecting) and, for doctors, today's queue with admit, send\n"
"    back and end. Shortcuts: Ctrl+D mute or unmute the microphone, Ctrl+E\n"
"    camera off or on, Ctrl+W or Escape hang up. The window size is kept in\n"
"    $XDG_CONFIG_HOME/televisit/client.ini (with the last server and devices).\n"
"    The same progress lines as below are printed on stdout.\n"
"\n"
"OPTIONS\n"
"    --server URL\n"
"        The server, as wss://HOST:PORT[/PATH]. Only wss:// is accepted; the port\n"
"        defaults to 443.\n"
"    --token TOKEN\n"
"        The join token from the consult invitation (16 to 128 characters of\n"
"        A-Z a-z 0-9 - _). Visible to other users in ps(1): prefer --token-file.\n"
"    --join-link URL\n"
"        The join link of the consult invitation, https://HOST:PORT/join#token=TOKEN:\n"
"        sets --server (wss://HOST:PORT/) and the token. Excludes --server,\n"
"        --token, --token-file and --login.\n"
"    --token-file FILE\n"
"        Read the token from FILE (surrounding white space is ignored).\n"
"    --login USERNAME\n"
"        Doctor mode: log in as USERNAME (1 to 64 printable characters) instead\n"
"        of using a join token; needs an account with the doctor role. The\n"
"        password comes from --password-file or, without it, from the first\n"
"        line of stdin (typed without echo on a terminal); never from the\n"
"        command line.\n"
"    --password-file FILE\n"
"        With --login: read the password from the first line of FILE. FILE must\n"
"        be a regular file that neither group nor others may read or write\n"
"        (chmod 600), else exit status 1.\n"
"    --once\n"
"        With --login: exit after the first call instead of going back to the\n"
"        queue.\n"
"    --ca FILE\n"
"        Trust the PEM certificate(s) in FILE for the server, instead of the\n"
"        system trust store. A server generates its own in DATA-DIR/tls/cert.pem.\n"
"    --insecure\n"
"        Accept any server certificate (testing only; a warning is printed).\n"
"    --test-media\n"
"        Send a test pattern and a test tone instead of the camera and microphone.\n"
"    --video-file FILE\n"
"        Testing, with --test-media: send the YUV4MPEG (.y4m) clip FILE in a loop\n"
"        instead of the test pattern, scaled to --video-size and played at\n"
"        --framerate (at most 300 frames, held in memory). make bench gives\n"
"        Chromium and this client the same clip.\n"
"    --audio-file FILE\n"
"        Testing, with --test-media: send the WAV file FILE in a loop instead of\n"
"        the test tone (at most 60 s).\n"
"    --headless\n"
"        Open no window and play no sound; received media is decoded and counted.\n"
"    --gui\n"
"        Run the desktop window (GTK 3) described above. Excludes --headless.\n"
"    --screenshot-dir DIR\n"
"        Testing, with --gui: read commands from stdin, one per line:\n"
"        screenshot NAME (writes DIR/NAME.png, prints \"screenshot NAME\n"
"        video=X,Y,W,H\" with the remote video area in the picture), mute,\n"
"        camera, hangup, admit N (the N-th consult of the queue), send-back, admit\n"
"        (the patient sent back), end,\n"
"        show start|precheck, network (the pre-call check's network test),\n"
"        join LINK (as if LINK was pasted on the start screen), login USER PASSWORD\n"
"        (the start screen's login), visit N (join a logged-in patient's N-th visit),\n"
"        facts MODALITY LOCATION STATUS [REASON] (the doctor's billing facts, saved),\n"
"        chat TEXT (sent from the chat panel).\n"
"    --duration SECONDS\n"
"        Leave SECONDS after the call first connected (media flowing both ways),\n"
"        whatever happens afterwards (1..86400). Without it the client stays until\n"
"        the consult ends or it is interrupted.\n"
"    --stats-json FILE\n"
"        On exit, write the call statistics as one JSON object to FILE: the last\n"
"        call's media statistics, video_frames_decoded and audio_buffers_decoded\n"
"        summed over every call of this run, role, consult, calls, exit_code,\n"
"        exit_reason, and chat (the messages seen: id, at, from, text).\n"
"    --peer-timeout SECONDS\n"
"        Give up (exit status 4) when the other party has not joined SECONDS after\n"
"        we joined or after they left (1..86400, default 300).\n"
"    --media-timeout SECONDS\n"
"        Give up (exit status 5) when the call is not connected SECONDS after the\n"
"        parties were paired (1..3600, default 30).\n"
"    --reconnect-window SECONDS\n"
"        How long to keep trying to reconnect after the connection to the server\n"
"        dropped before giving up with exit status 6 (1..3600, default 60).\n"
"    --ice-address ADDR\n"
"        Use only this local IP address for ICE (repeatable). Tests use 127.0.0.1.\n"
"    --stun URL\n"
"        STUN server, as stun://HOST[:PORT]. Overrides the one the server offers.\n"
"    --turn URL\n"
"        TURN server, as turn://USER:PASSWORD@HOST[:PORT] (USER and PASSWORD\n"
"        percent-encoded). Overrides the one the server offers.\n"
"    --latency MS\n"
"        Jitter-buffer latency in milliseconds (0..5000, 0 = the default, 50);\n"
"        while the link loses packets (and for 60 s after), twice the round\n"
"        trip measured during the call is added on top.\n"
"    --video-size WIDTHxHEIGHT\n"
"        Size of the video we send (160x120..1920x1080, even numbers; default\n"
"        640x480). Smaller sizes need less CPU and bandwidth.\n"
"    --framerate FPS\n"
"        Frame rate of the video we send (1..60, default 30).\n"
"    --video-bitrate KBPS\n"
"        Target bitrate of the video we send in kbit/s (100..8000, default 1000).\n"
"    --end-on-exit\n"
"        Doctor only: when leaving (duration elapsed or interrupted), end the\n"
"        consult for both parties instead of just leaving it.\n"
"    --modality audio-video|audio-only\n"
"        Doctor only: how the visit is held, for billing (codes differ for\n"
"        audio-only visits). Sent to the server once paired (message \"facts\");\n"
"        the server answers \"facts-saved\" (printed as a facts-saved line).\n"
"        Not given: the server's default (audio-video) stands.\n"
"    --audio-only-reason TEXT\n"
"        Doctor, with --modality audio-only (required then): why there was no\n"
"        video (e.g. \"patient has no camera\"), 1..200 bytes.\n"
"    --patient-location home|other\n"
"        Doctor only: where the patient is (place of service 10 at home, 02\n"
"        elsewhere). Default on the server: home.\n"
"    --new-patient\n"
"        Doctor only: the patient is new to the practice (default: established).\n"
"    --admit auto|manual\n"
"        Doctor only: how a patient in the waiting room is admitted. auto (the\n"
"        default) admits as soon as the patient is seen waiting (after\n"
"        --admit-after); manual prints \"patient waiting\" and admits when Enter\n"
"        is pressed (a line on stdin). A patient admitted once stays admitted\n"
"        when either party reconnects. With --login, auto picks the first\n"
"        waiting patient of the queue; manual reads the number of a queue-item\n"
"        line (or an empty line for the first waiting patient) from stdin and\n"
"        admits that patient at once.\n"
"    --admit-after SECONDS\n"
"        Doctor only, --admit auto: wait SECONDS after the patient is seen\n"
"        waiting before admitting (0..3600, default 0).\n"
"    --chat TEXT\n"
"        Send TEXT as an in-call chat message once the call is set up (the\n"
"        first \"paired\"); repeatable, sent in order. 1 to 2000 bytes of\n"
"        UTF-8 without control characters (\\n in TEXT stays as typed). Chat\n"
"        from either party is printed as chat lines (below).\n"
"    -v, --verbose\n"
"        More log output on stderr (repeat for debug output).\n"
"    --version\n"
"        Print the version and exit.\n"
"    -h, --help\n"
"        Print this manual and exit.\n"
"\n"
"OUTPUT\n"
"    Progress is printed on stdout, one event per line, for people and scripts:\n"
"        logged in                                (--login: the API login succeeded)\n"
"        connecting server=URL\n"
"        authed user=USER-ID                      (--login: the WebSocket is authenticated)\n"
"        queue date=YYYY-MM-DD time_zone=ZONE consults=N waiting=N\n"
"        queue-item n=N time=HH:MM status=STATUS present=true|false waiting_since=HH:MM|- consult=ID patient=NAME\n"
"                                                 (--login: one per consult of today, after each\n"
"                                                 queue line; times in the doctor's zone; NAME,\n"
"                                                 the patient's display name, runs to the line end)\n"
"        choose a patient: ...                    (--login --admit manual: waiting for a number)\n"
"        joining consult=ID                       (--login: the consult picked from the queue)\n"
"        joined consult=ID role=ROLE peer_present=true|false\n"
"        waiting for the doctor|patient\n"
"        waiting room doctor_present=true|false   (patient: in the waiting room)\n"
"        the doctor is ready                      (patient: the doctor is in)\n"
"        patient waiting                          (doctor: a patient to admit)\n"
"        admitting                                (doctor: admit sent)\n"
"        peer-joined role=ROLE\n"
"        paired peer=ROLE offerer=true|false\n"
"        media connected | media disconnected\n"
"        first remote frame\n"
"        call quality connecting|good|fair|poor   (--gui: the call view's quality line changed)\n"
"        chat from=ROLE id=N at=TIME text=TEXT    (a chat message, ours included, once each;\n"
"                                                 a newline in TEXT is printed as \\n)\n"
"        remote-audio sound|silent                (the peer's audio: a peak above or below\n"
"                                                 about -40 dBFS, e.g. the peer muted)\n"
"        ice server offered stun=HOST:PORT        (after joined; used unless --stun)\n"
"        ice server offered turn|turns=HOST:PORT transport=udp|tcp (unless --turn)\n"
"        peer-left role=ROLE reason=left|dropped\n"
"        connection lost\n"
"        reconnecting attempt=N delay_ms=MS\n"
"        rejoined consult=ID role=ROLE peer_present=true|false\n"
"        duration elapsed seconds=N\n"
"        ended reason=REASON\n"
"        exit code=N reason=WORD\n"
"        back to the queue                        (--login without --once, after a call)\n"
"        logged out                               (--login: on exit)\n"
"    The desktop window (--gui) adds: screen start|precheck|waiting|call|queue,\n"
"    microphone muted|on, camera off|on, alert patient arrived consult=ID (a\n"
"    patient came into the doctor's waiting room), visits upcoming=N (a patient\n"
"    logged in), start error: TEXT, precheck preview playing camera=yes|no,\n"
"    precheck microphone level peak_db=N, precheck says: TEXT (what the check\n"
"    tells the user, e.g. a missing camera), network check ok|failed, and with\n"
"    --screenshot-dir: screenshot NAME video=X,Y,W,H|none.\n"
"    WORD is one of duration, ended, signal, left, unreachable, token-invalid,\n"
"    token-expired, token-in-use, consult-ended, no-peer, media-timeout,\n"
"    ice-failed, media-error, media-setup, media-start, bad-sdp, connection-lost,\n"
"    not-a-doctor, login-refused. With --login, token-invalid/token-expired mean\n"
"    the API session was refused.\n"
"    Logs and errors go to stderr. Tokens and passwords are never printed; patient\n"
"    names appear only in queue-item lines and chat text only in chat lines on\n"
"    stdout, never in logs.\n"
"\n"
"EXIT STATUS\n"
"    0   the call ended normally: duration elapsed, consult ended, left on a signal\n"
"    1   usage or configuration error (the message names the option)\n"
"    2   server unreachable, TLS or WebSocket handshake failure\n"
"    3   join refused: token invalid, expired or already in use, consult ended;\n"
"        --login: wrong username or password, account disabled, too many\n"
"        attempts, or the account is not a doctor's\n"
"    4   the other party never came (--peer-timeout)\n"
"    5   media failed: missing GStreamer plugin, camera, microphone or display,\n"
"        pipeline error, ICE failed, the peer's SDP refused, or no connected call\n"
"        within --media-timeout\n"
"    6   connection to the server lost and not recovered within --reconnect-window\n"
"\n"
"EXAMPLES\n"
"    Join as the patient, trusting the server's self-signed certificate:\n"
"        televisit-client --server wss://localhost:8443 --ca /var/lib/televisit/tls/cert.pem \\\n"
"            --token-file ~/consult-token.txt\n"
"\n"
"    A 4-second automated test call on loopback, with statistics:\n"
"        televisit-client --server wss://127.0.0.1:8443 --ca cert.pem --token-file doctor.tok \\\n"
"            --headless --test-media --ice-address 127.0.0.1 --duration 4 --stats-json doctor.json\n"
"\n"
"    A doctor with an account sees the queue and admits the first waiting patient:\n"
"        televisit-client --server wss://localhost:8443 --ca cert.pem --login dr.test \\\n"
"            --password-file ~/.televisit-password\n";

const char *
tv_client_options_help (void)
{
  return help_text;
}

const char *
tv_client_options_version (void)
{
  return "televisit-client 0.1.0 (protocol televisit.v1)";
}

void
tv_client_options_free (TvClientOptions *opts)
{
  if (opts == NULL)
    return;
  g_free (opts->server_url);
  if (opts->token != NULL)
    {
      /* The token is a credential: do not leave it in freed heap memory. */
      memset (opts->token, 0, strlen (opts->token));
      g_free (opts->token);
    }
  g_free (opts->login);
  g_free (opts->screenshot_dir);
  if (opts->password != NULL)
    {
      memset (opts->password, 0, strlen (opts->password));
      g_free (opts->password);
    }
  g_free (opts->ca_file);
  g_free (opts->stats_json);
  g_free (opts->video_file);
  g_free (opts->audio_file);
  g_strfreev (opts->ice_addresses);
  g_strfreev (opts->chat);
  g_free (opts->stun_url);
  g_free (opts->turn_url);
  g_free (opts->modality);
  g_free (opts->audio_only_reason);
  g_free (opts->patient_location);
  g_free (opts);
}

static gboolean
fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static gboolean
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, msg);
  g_free (msg);
  return FALSE;
}

/* Parses an unsigned decimal in [min, max] for @flag; NULL @text keeps *out. */
static gboolean
parse_uint (const char *flag, const char *text, guint64 min, guint64 max, guint *out, GError **error)
{
  guint64 v = 0;
  g_autoptr (GError) local = NULL;

  if (text == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, min, max, &v, &local))
    return fail (error, "%s: expected a whole number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT
                 ", got \"%s\"", flag, min, max, text);
  *out = (guint) v;
  return TRUE;
}

/* Reads a small regular file; the error names @flag. */
static gboolean
read_small_file (const char *flag, const char *path, char **contents, gsize *len, GError **error)
{
  g_autoptr (GError) local = NULL;
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return fail (error, "%s: cannot read \"%s\": %s", flag, path, g_strerror (errno));
  if (!S_ISREG (st.st_mode))
    return fail (error, "%s: \"%s\" is not a regular file", flag, path);
  if (st.st_size > MAX_SMALL_FILE_BYTES)
    return fail (error, "%s: \"%s\" is too large", flag, path);
  if (!g_file_get_contents (path, contents, len, &local))
    return fail (error, "%s: %s", flag, local->message);
  return TRUE;
}

static gboolean
token_is_valid (const char *token)
{
  gsize n = strlen (token);

  if (n < TOKEN_MIN_CHARS || n > TOKEN_MAX_CHARS)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (token[i]) && token[i] != '-' && token[i] != '_')
      return FALSE;
  return TRUE;
}

/* An IPv4/IPv6 literal (no "%zone") or a DNS name of letters, digits, '-', '_' and '.'. */
static gboolean
host_is_plain (const char *host)
{
  if (strchr (host, '%') != NULL)
    return FALSE;
  if (g_hostname_is_ip_address (host))
    return TRUE;
  for (const char *c = host; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_' && *c != '.')
      return FALSE;
  return TRUE;
}

/* Validates the server URL and returns it normalised with an explicit port. */
static char *
normalise_server_url (const char *text, GError **error)
{
  g_autoptr (GError) local = NULL;
  /* The path stays percent-encoded: decoded, "/a%25b" would come back as
   * "/a%b", which is no longer a URL (fuzzer find). */
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_ENCODED_PATH, &local);
  const char *host, *path;
  g_autofree char *lower = NULL;
  int port;

  if (uri == NULL)
    {
      fail (error, "--server: \"%s\" is not a URL (%s)", text, local->message);
      return NULL;
    }
  if (g_ascii_strcasecmp (g_uri_get_scheme (uri), "wss") != 0)
    {
      fail (error, "--server: only wss:// URLs are accepted, got \"%s\"", text);
      return NULL;
    }
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0')
    {
      fail (error, "--server: \"%s\" has no host", text);
      return NULL;
    }
  /* GUri percent-decodes the host: "[fe80::1%25eth0]" or "a%2Fb" would come
   * back as a URL that no longer parses or names another host (fuzzer find).
   * Accept only IP literals without a zone and plain DNS names. */
  if (!host_is_plain (host))
    {
      fail (error, "--server: \"%s\" has an unsupported host (an IP address or a DNS name, no zone id)", text);
      return NULL;
    }
  if (g_uri_get_userinfo (uri) != NULL || g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    {
      fail (error, "--server: \"%s\" must not have user info, a query or a fragment", text);
      return NULL;
    }
  port = g_uri_get_port (uri);
  if (port == -1)
    port = 443;
  if (port < 1 || port > 65535)
    {
      fail (error, "--server: port out of range in \"%s\"", text);
      return NULL;
    }
  path = g_uri_get_path (uri);
  if (path == NULL || *path == '\0')
    path = "/";
  /* Host names are case-insensitive; lower case keeps TLS name checks simple. */
  lower = g_ascii_strdown (host, -1);
  if (strchr (lower, ':') != NULL)
    return g_strdup_printf ("wss://[%s]:%d%s", lower, port, path);
  return g_strdup_printf ("wss://%s:%d%s", lower, port, path);
}

/* Checks a STUN/TURN URL: scheme from @schemes, a host, nothing else odd.
 * The TURN URL carries a password: the message quotes only the flag. */
static gboolean
check_ice_server_url (const char *flag, const char *text, const char *const *schemes, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (text, G_URI_FLAGS_HAS_PASSWORD, NULL);
  gboolean scheme_ok = FALSE;

  if (uri == NULL)
    return fail (error, "%s: not a valid URL", flag);
  for (const char *const *s = schemes; *s != NULL; s++)
    if (g_ascii_strcasecmp (g_uri_get_scheme (uri), *s) == 0)
      scheme_ok = TRUE;
  if (!scheme_ok)
    return fail (error, "%s: the URL must start with %s://", flag, schemes[0]);
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return fail (error, "%s: the URL has no host", flag);
  if (g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL)
    return fail (error, "%s: the URL must not have a query or a fragment", flag);
  return TRUE;
}

/* A user name as typed: 1..TV_CLIENT_MAX_LOGIN_CHARS printable ASCII, no
 * spaces (the server decides whether it exists). */
static gboolean
login_is_valid (const char *login)
{
  gsize n = strlen (login);

  if (n == 0 || n > TV_CLIENT_MAX_LOGIN_CHARS)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isgraph (login[i]))
      return FALSE;
  return TRUE;
}

/* --password-file: a regular file only its owner may read or write (a
 * password readable by others is refused, like ssh does with keys); the
 * first line, without its line end, is the password. */
static char *
read_password_file (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  GStatBuf st;
  char *nl, *password;
  gsize line_len;

  if (g_stat (path, &st) != 0)
    {
      fail (error, "--password-file: cannot read \"%s\": %s", path, g_strerror (errno));
      return NULL;
    }
  if ((st.st_mode & 077) != 0)
    {
      fail (error, "--password-file: \"%s\" may be read or written by others (mode %04o); "
            "make it owner-only: chmod 600", path, (unsigned) (st.st_mode & 07777));
      return NULL;
    }
  if (!read_small_file ("--password-file", path, &contents, &len, error))
    return NULL;
  /* The first line; a NUL inside it makes it no password. */
  nl = memchr (contents, '\n', len);
  line_len = nl != NULL ? (gsize) (nl - contents) : len;
  if (line_len > 0 && contents[line_len - 1] == '\r')
    line_len--;
  contents[line_len] = '\0';
  if (line_len == 0 || line_len > TV_CLIENT_MAX_PASSWORD_BYTES || strlen (contents) != line_len)
    {
      memset (contents, 0, len);
      fail (error, "--password-file: \"%s\" does not hold a password (one line of 1 to %d bytes)", path,
            TV_CLIENT_MAX_PASSWORD_BYTES);
      return NULL;
    }
  password = g_strdup (contents);
  memset (contents, 0, len);
  return password;
}

static gboolean
count_verbose (const char *name, const char *value, gpointer data, GError **error)
{
  TvClientOptions *opts = data;
  opts->verbosity++;
  return TRUE;
}

TvClientOptions *
tv_client_options_parse (int argc, char **argv, GError **error)
{
  g_autoptr (TvClientOptions) opts = g_new0 (TvClientOptions, 1);
  g_autofree char *server = NULL, *token = NULL, *token_file = NULL, *ca = NULL, *stats = NULL;
  g_autofree char *duration = NULL, *peer_timeout = NULL, *media_timeout = NULL, *latency = NULL;
  g_autofree char *reconnect_window = NULL;
  g_autofree char *admit = NULL, *admit_after = NULL;
  g_autofree char *modality = NULL, *audio_reason = NULL, *location = NULL;
  g_autofree char *login = NULL, *password_file = NULL, *join_link = NULL, *shots = NULL;
  g_autofree char *stun = NULL, *turn = NULL, *video_size = NULL, *framerate = NULL;
  g_autofree char *video_bitrate = NULL, *video_file = NULL, *audio_file = NULL;
  g_auto (GStrv) ice = NULL;
  g_auto (GStrv) args = NULL;
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GOptionGroup) group = NULL;
  GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &server, NULL, NULL },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token, NULL, NULL },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file, NULL, NULL },
    { "login", 0, 0, G_OPTION_ARG_STRING, &login, NULL, NULL },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &password_file, NULL, NULL },
    { "once", 0, 0, G_OPTION_ARG_NONE, &opts->once, NULL, NULL },
    { "ca", 0, 0, G_OPTION_ARG_FILENAME, &ca, NULL, NULL },
    { "insecure", 0, 0, G_OPTION_ARG_NONE, &opts->insecure, NULL, NULL },
    { "test-media", 0, 0, G_OPTION_ARG_NONE, &opts->test_media, NULL, NULL },
    { "headless", 0, 0, G_OPTION_ARG_NONE, &opts->headless, NULL, NULL },
    { "gui", 0, 0, G_OPTION_ARG_NONE, &opts->gui, NULL, NULL },
    { "screenshot-dir", 0, 0, G_OPTION_ARG_FILENAME, &shots, NULL, NULL },
    { "join-link", 0, 0, G_OPTION_ARG_STRING, &join_link, NULL, NULL },
    { "duration", 0, 0, G_OPTION_ARG_STRING, &duration, NULL, NULL },
    { "stats-json", 0, 0, G_OPTION_ARG_FILENAME, &stats, NULL, NULL },
    { "peer-timeout", 0, 0, G_OPTION_ARG_STRING, &peer_timeout, NULL, NULL },
    { "media-timeout", 0, 0, G_OPTION_ARG_STRING, &media_timeout, NULL, NULL },
    { "reconnect-window", 0, 0, G_OPTION_ARG_STRING, &reconnect_window, NULL, NULL },
    { "ice-address", 0, 0, G_OPTION_ARG_STRING_ARRAY, &ice, NULL, NULL },
    { "chat", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opts->chat, NULL, NULL },
    { "stun", 0, 0, G_OPTION_ARG_STRING, &stun, NULL, NULL },
    { "turn", 0, 0, G_OPTION_ARG_STRING, &turn, NULL, NULL },
    { "latency", 0, 0, G_OPTION_ARG_STRING, &latency, NULL, NULL },
    { "video-size", 0, 0, G_OPTION_ARG_STRING, &video_size, NULL, NULL },
    { "framerate", 0, 0, G_OPTION_ARG_STRING, &framerate, NULL, NULL },
    { "video-bitrate", 0, 0, G_OPTION_ARG_STRING, &video_bitrate, NULL, NULL },
    { "video-file", 0, 0, G_OPTION_ARG_FILENAME, &video_file, NULL, NULL },
    { "audio-file", 0, 0, G_OPTION_ARG_FILENAME, &audio_file, NULL, NULL },
    { "end-on-exit", 0, 0, G_OPTION_ARG_NONE, &opts->end_on_exit, NULL, NULL },
    { "admit", 0, 0, G_OPTION_ARG_STRING, &admit, NULL, NULL },
    { "admit-after", 0, 0, G_OPTION_ARG_STRING, &admit_after, NULL, NULL },
    { "modality", 0, 0, G_OPTION_ARG_STRING, &modality, NULL, NULL },
    { "audio-only-reason", 0, 0, G_OPTION_ARG_STRING, &audio_reason, NULL, NULL },
    { "patient-location", 0, 0, G_OPTION_ARG_STRING, &location, NULL, NULL },
    { "new-patient", 0, 0, G_OPTION_ARG_NONE, &opts->new_patient, NULL, NULL },
    { "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) count_verbose, NULL, NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &opts->show_version, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &opts->show_help, NULL, NULL },
    { NULL }
  };
  static const char *const stun_schemes[] = { "stun", NULL };
  static const char *const turn_schemes[] = { "turn", "turns", NULL };

  g_return_val_if_fail (argc >= 1 && argv != NULL, NULL);

  opts->peer_timeout_s = TV_CLIENT_DEFAULT_PEER_TIMEOUT_S;
  opts->media_timeout_s = TV_CLIENT_DEFAULT_MEDIA_TIMEOUT_S;
  opts->reconnect_window_s = TV_CLIENT_DEFAULT_RECONNECT_WINDOW_S;

  /* Our own --help (a manual page) replaces GOption's generated one; the
   * group carries opts so the -v callback can count. */
  ctx = g_option_context_new (NULL);
  g_option_context_set_help_enabled (ctx, FALSE);
  group = g_option_group_new ("client", "", "", opts, NULL);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (ctx, g_steal_pointer (&group));

  args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (ctx, &args, error))
    return NULL;
  if (args[0] != NULL && args[1] != NULL)
    {
      fail (error, "unexpected argument \"%s\" (options start with --; see --help)", args[1]);
      return NULL;
    }
  if (opts->show_help || opts->show_version)
    return g_steal_pointer (&opts);

  /* --gui / --screenshot-dir; the window is the default without credentials. */
  if (opts->gui && opts->headless)
    {
      fail (error, "--gui and --headless exclude each other");
      return NULL;
    }
  if (argc == 1 && (g_getenv ("DISPLAY") != NULL || g_getenv ("WAYLAND_DISPLAY") != NULL))
    opts->gui = TRUE;
  if (shots != NULL)
    {
      if (!opts->gui)
        {
          fail (error, "--screenshot-dir needs --gui");
          return NULL;
        }
      if (!g_file_test (shots, G_FILE_TEST_IS_DIR) || g_access (shots, W_OK) != 0)
        {
          fail (error, "--screenshot-dir: \"%s\" is not a writable folder", shots);
          return NULL;
        }
      opts->screenshot_dir = g_steal_pointer (&shots);
    }

  /* --join-link: server and token in one. */
  if (join_link != NULL)
    {
      if (server != NULL || token != NULL || token_file != NULL || login != NULL)
        {
          fail (error, "--join-link excludes --server, --token, --token-file and --login");
          return NULL;
        }
      if (!tv_client_join_link_parse (join_link, &server, &token, error))
        return NULL;
    }

  /* --server (the window asks for it when absent) */
  if (server == NULL && opts->gui && token == NULL && token_file == NULL)
    ;
  else if (server == NULL)
    {
      fail (error, "--server is required (see --help)");
      return NULL;
    }
  if (server != NULL && (opts->server_url = normalise_server_url (server, error)) == NULL)
    return NULL;

  /* --login / --password-file / --once (doctor mode) */
  if (login != NULL && (token != NULL || token_file != NULL))
    {
      fail (error, "--login excludes --token and --token-file");
      return NULL;
    }
  if (login == NULL && (password_file != NULL || opts->once))
    {
      fail (error, "%s needs --login", password_file != NULL ? "--password-file" : "--once");
      return NULL;
    }
  if (login != NULL)
    {
      if (!login_is_valid (login))
        {
          fail (error, "--login: expected a user name of 1 to %d printable characters without spaces",
                TV_CLIENT_MAX_LOGIN_CHARS);
          return NULL;
        }
      opts->login = g_steal_pointer (&login);
      if (password_file != NULL)
        {
          opts->password = read_password_file (password_file, error);
          if (opts->password == NULL)
            return NULL;
        }
    }

  /* --token / --token-file */
  if (token != NULL && token_file != NULL)
    {
      fail (error, "--token and --token-file exclude each other");
      return NULL;
    }
  if (opts->login == NULL && token == NULL && token_file == NULL && opts->gui)
    ;
  else if (opts->login == NULL && token == NULL && token_file == NULL)
    {
      fail (error, "--token, --token-file or --login is required (see --help)");
      return NULL;
    }
  if (opts->login != NULL || (token == NULL && token_file == NULL))
    ;
  else if (token_file != NULL)
    {
      g_autofree char *contents = NULL;
      gsize len = 0;
      if (!read_small_file ("--token-file", token_file, &contents, &len, error))
        return NULL;
      if (memchr (contents, '\0', len) != NULL)
        {
          fail (error, "--token-file: \"%s\" is not a text file", token_file);
          return NULL;
        }
      opts->token = g_strdup (g_strstrip (contents));
      memset (contents, 0, len);
      if (!token_is_valid (opts->token))
        {
          fail (error, "--token-file: \"%s\" does not hold a token (16 to 128 characters of A-Z a-z 0-9 - _)",
                token_file);
          return NULL;
        }
    }
  else
    {
      if (!token_is_valid (token))
        {
          fail (error, "--token: not a token (16 to 128 characters of A-Z a-z 0-9 - _)");
          return NULL;
        }
      opts->token = g_steal_pointer (&token);
    }

  /* --ca / --insecure */
  if (ca != NULL && opts->insecure)
    {
      fail (error, "--ca and --insecure exclude each other");
      return NULL;
    }
  if (ca != NULL)
    {
      g_autofree char *pem = NULL;
      gsize len = 0;
      if (!read_small_file ("--ca", ca, &pem, &len, error))
        return NULL;
      if (g_strstr_len (pem, len, "-----BEGIN CERTIFICATE-----") == NULL)
        {
          fail (error, "--ca: \"%s\" holds no PEM certificate", ca);
          return NULL;
        }
      opts->ca_file = g_steal_pointer (&ca);
    }

  /* Numbers */
  if (!parse_uint ("--duration", duration, 1, TV_CLIENT_MAX_DURATION_S, &opts->duration_s, error)
      || !parse_uint ("--peer-timeout", peer_timeout, 1, TV_CLIENT_MAX_PEER_TIMEOUT_S, &opts->peer_timeout_s, error)
      || !parse_uint ("--media-timeout", media_timeout, 1, TV_CLIENT_MAX_MEDIA_TIMEOUT_S,
                      &opts->media_timeout_s, error)
      || !parse_uint ("--reconnect-window", reconnect_window, 1, TV_CLIENT_MAX_RECONNECT_WINDOW_S,
                      &opts->reconnect_window_s, error)
      || !parse_uint ("--latency", latency, 0, TV_CLIENT_MAX_LATENCY_MS, &opts->latency_ms, error)
      || !parse_uint ("--framerate", framerate, 1, TV_CLIENT_MAX_FRAMERATE, &opts->framerate, error)
      || !parse_uint ("--video-bitrate", video_bitrate, TV_CLIENT_MIN_VIDEO_KBPS, TV_CLIENT_MAX_VIDEO_KBPS,
                      &opts->video_bitrate_kbps, error)
      || !parse_uint ("--admit-after", admit_after, 0, TV_CLIENT_MAX_ADMIT_AFTER_S, &opts->admit_after_s, error))
    return NULL;

  /* Consult facts (doctor): the words the protocol takes; a reason exactly with audio-only. */
  if (modality != NULL && strcmp (modality, "audio-video") != 0 && strcmp (modality, "audio-only") != 0)
    {
      fail (error, "--modality: must be audio-video or audio-only");
      return NULL;
    }
  if ((audio_reason != NULL) != (g_strcmp0 (modality, "audio-only") == 0))
    {
      fail (error, audio_reason ? "--audio-only-reason needs --modality audio-only"
                                : "--modality audio-only needs --audio-only-reason TEXT");
      return NULL;
    }
  if (audio_reason != NULL
      && (*audio_reason == '\0' || strlen (audio_reason) > TV_SIG_MAX_FACT_REASON_BYTES
          || !g_utf8_validate (audio_reason, -1, NULL)))
    {
      fail (error, "--audio-only-reason: must be 1..%d bytes of UTF-8 text", TV_SIG_MAX_FACT_REASON_BYTES);
      return NULL;
    }
  for (const char *p = audio_reason; p != NULL && *p; p++)
    if (g_ascii_iscntrl (*p))
      {
        fail (error, "--audio-only-reason: control characters are not allowed");
        return NULL;
      }
  if (location != NULL && strcmp (location, "home") != 0 && strcmp (location, "other") != 0)
    {
      fail (error, "--patient-location: must be home or other");
      return NULL;
    }
  opts->modality = g_steal_pointer (&modality);
  opts->audio_only_reason = g_steal_pointer (&audio_reason);
  opts->patient_location = g_steal_pointer (&location);

  /* --admit auto|manual; --admit-after only makes sense with auto. */
  if (admit != NULL && strcmp (admit, "auto") == 0)
    opts->admit_mode = TV_CLIENT_ADMIT_AUTO;
  else if (admit != NULL && strcmp (admit, "manual") == 0)
    opts->admit_mode = TV_CLIENT_ADMIT_MANUAL;
  else if (admit != NULL)
    {
      fail (error, "--admit: must be auto or manual");
      return NULL;
    }
  if (admit_after != NULL && opts->admit_mode == TV_CLIENT_ADMIT_MANUAL)
    {
      fail (error, "--admit-after needs --admit auto");
      return NULL;
    }

  /* --video-size WxH: two numbers in range; even, as the encoder's 4:2:0 needs. */
  if (video_size != NULL)
    {
      g_auto (GStrv) wh = g_strsplit (video_size, "x", -1);
      if (g_strv_length (wh) != 2
          || !parse_uint ("--video-size", wh[0], TV_CLIENT_MIN_VIDEO_WIDTH, TV_CLIENT_MAX_VIDEO_WIDTH, &opts->width,
                          NULL)
          || !parse_uint ("--video-size", wh[1], TV_CLIENT_MIN_VIDEO_HEIGHT, TV_CLIENT_MAX_VIDEO_HEIGHT,
                          &opts->height, NULL)
          || opts->width % 2 != 0 || opts->height % 2 != 0)
        {
          fail (error, "--video-size: expected WIDTHxHEIGHT, even numbers from %dx%d to %dx%d, got \"%s\"",
                TV_CLIENT_MIN_VIDEO_WIDTH, TV_CLIENT_MIN_VIDEO_HEIGHT, TV_CLIENT_MAX_VIDEO_WIDTH,
                TV_CLIENT_MAX_VIDEO_HEIGHT, video_size);
          return NULL;
        }
    }

  /* --video-file / --audio-file: test clips instead of the test pattern / tone. */
  {
    const char *flag[] = { "--video-file", "--audio-file" };
    char **file[] = { &video_file, &audio_file };
    for (guint i = 0; i < G_N_ELEMENTS (file); i++)
      {
        if (*file[i] == NULL)
          continue;
        if (!opts->test_media)
          {
            fail (error, "%s needs --test-media", flag[i]);
            return NULL;
          }
        if (!g_file_test (*file[i], G_FILE_TEST_IS_REGULAR) || g_access (*file[i], R_OK) != 0)
          {
            fail (error, "%s: \"%s\" is not a readable file", flag[i], *file[i]);
            return NULL;
          }
      }
    opts->video_file = g_steal_pointer (&video_file);
    opts->audio_file = g_steal_pointer (&audio_file);
  }

  /* --stats-json: the file is written at exit, so check now that it can be. */
  if (stats != NULL)
    {
      g_autofree char *dir = g_path_get_dirname (stats);
      if (*stats == '\0' || g_file_test (stats, G_FILE_TEST_IS_DIR))
        {
          fail (error, "--stats-json: \"%s\" is not a file name", stats);
          return NULL;
        }
      if (g_access (dir, W_OK) != 0)
        {
          fail (error, "--stats-json: cannot write in \"%s\": %s", dir, g_strerror (errno));
          return NULL;
        }
      opts->stats_json = g_steal_pointer (&stats);
    }

  /* --ice-address */
  if (ice != NULL)
    {
      if (g_strv_length (ice) > MAX_ICE_ADDRESSES)
        {
          fail (error, "--ice-address: at most %d addresses", MAX_ICE_ADDRESSES);
          return NULL;
        }
      for (char **a = ice; *a != NULL; a++)
        {
          g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (*a);
          if (addr == NULL)
            {
              fail (error, "--ice-address: \"%s\" is not an IP address", *a);
              return NULL;
            }
        }
      opts->ice_addresses = g_steal_pointer (&ice);
    }

  /* --chat: the protocol's rule for chat text, checked before connecting. */
  for (char **t = opts->chat; t != NULL && *t != NULL; t++)
    {
      const char *why = NULL;
      if (!tv_sig_chat_text_check (*t, &why))
        {
          fail (error, "--chat: %s", why);
          return NULL;
        }
    }

  /* --stun / --turn */
  if (stun != NULL)
    {
      if (!check_ice_server_url ("--stun", stun, stun_schemes, error))
        return NULL;
      opts->stun_url = g_steal_pointer (&stun);
    }
  if (turn != NULL)
    {
      if (!check_ice_server_url ("--turn", turn, turn_schemes, error))
        return NULL;
      opts->turn_url = g_steal_pointer (&turn);
    }

  return g_steal_pointer (&opts);
}

gboolean
tv_client_join_link_parse (const char *link, char **server_url, char **token, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GHashTable) params = NULL;
  g_autofree char *text = NULL;
  const char *frag, *tok;

  g_return_val_if_fail (link != NULL && server_url != NULL && token != NULL, FALSE);
  text = g_strstrip (g_strdup (link));
  uri = g_uri_parse (text, G_URI_FLAGS_ENCODED_FRAGMENT, NULL);
  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "https") != 0 || g_uri_get_host (uri) == NULL
      || *g_uri_get_host (uri) == '\0')
    {
      fail (error, "--join-link: not an https:// join link (https://HOST:PORT/join#token=TOKEN)");
      return FALSE;
    }
  frag = g_uri_get_fragment (uri);
  params = frag != NULL ? g_uri_parse_params (frag, -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
  tok = params != NULL ? g_hash_table_lookup (params, "token") : NULL;
  if (tok == NULL || !token_is_valid (tok))
    {
      fail (error, "--join-link: the link holds no token (expected ...#token=TOKEN)");
      return FALSE;
    }
  {
    const char *host = g_uri_get_host (uri);
    gboolean v6 = strchr (host, ':') != NULL;
    int port = g_uri_get_port (uri);
    *server_url = g_strdup_printf ("wss://%s%s%s:%d/", v6 ? "[" : "", host, v6 ? "]" : "", port > 0 ? port : 443);
  }
  *token = g_strdup (tok);
  return TRUE;
}
