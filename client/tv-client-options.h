/* tv-client-options.h — command line of televisit-client: parsing, validation, help.
 *
 * Kept apart from main() so the rules (which values are valid, which exit code a
 * bad one gives) are in one place and the session code receives only checked
 * values. Pure functions apart from reading the files named on the command line
 * (--token-file, --ca); call from the main thread before the main loop runs.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The exit status of televisit-client (documented in --help, EXIT STATUS). */
typedef enum {
  TV_CLIENT_EXIT_OK = 0,            /* call ended normally: duration elapsed, ended, left, signal */
  TV_CLIENT_EXIT_USAGE = 1,         /* bad command line or configuration */
  TV_CLIENT_EXIT_UNREACHABLE = 2,   /* server unreachable, TLS or WebSocket handshake failed */
  TV_CLIENT_EXIT_JOIN_REFUSED = 3,  /* token invalid/expired/in use, consult already ended */
  TV_CLIENT_EXIT_NO_PEER = 4,       /* the other party did not come within --peer-timeout */
  TV_CLIENT_EXIT_MEDIA_FAILED = 5,  /* pipeline error, ICE failed, no media within --media-timeout */
  TV_CLIENT_EXIT_CONNECTION_LOST = 6, /* connection to the server lost and not recovered */
} TvClientExitCode;

/* Limits of the numeric options (inclusive). */
#define TV_CLIENT_MAX_DURATION_S      (24 * 3600)
#define TV_CLIENT_DEFAULT_PEER_TIMEOUT_S 300
#define TV_CLIENT_MAX_PEER_TIMEOUT_S  (24 * 3600)
#define TV_CLIENT_DEFAULT_MEDIA_TIMEOUT_S 30
#define TV_CLIENT_MAX_MEDIA_TIMEOUT_S 3600
#define TV_CLIENT_DEFAULT_RECONNECT_WINDOW_S 60
#define TV_CLIENT_MAX_RECONNECT_WINDOW_S 3600
#define TV_CLIENT_MAX_LATENCY_MS      5000
#define TV_CLIENT_MIN_VIDEO_WIDTH     160
#define TV_CLIENT_MAX_VIDEO_WIDTH     1920
#define TV_CLIENT_MIN_VIDEO_HEIGHT    120
#define TV_CLIENT_MAX_VIDEO_HEIGHT    1080
#define TV_CLIENT_MAX_FRAMERATE       60
#define TV_CLIENT_MIN_VIDEO_KBPS      100
#define TV_CLIENT_MAX_VIDEO_KBPS      8000
#define TV_CLIENT_MAX_ADMIT_AFTER_S   3600
#define TV_CLIENT_MAX_LOGIN_CHARS     64
#define TV_CLIENT_MAX_PASSWORD_BYTES  1024

/* Doctor: how a waiting patient is admitted (--admit). */
typedef enum {
  TV_CLIENT_ADMIT_AUTO = 0,   /* at once (or --admit-after seconds after the patient is seen waiting) */
  TV_CLIENT_ADMIT_MANUAL,     /* print the queue; admit when Enter is pressed on stdin */
} TvClientAdmitMode;

/* The validated command line. Strings are owned by the struct. */
typedef struct {
  char *server_url;       /* wss://HOST:PORT[/PATH], port made explicit (443 when absent) */
  char *token;            /* clear-text join token (from --token or --token-file); never log it */
  char *login;            /* --login USERNAME (doctor mode, instead of a token), or NULL */
  char *password;         /* from --password-file, or NULL (main reads stdin); never log it */
  gboolean once;          /* --once: doctor mode, exit after the first call instead of returning to the queue */
  char *ca_file;          /* --ca: PEM to trust, or NULL for the system store */
  gboolean insecure;      /* --insecure */
  gboolean test_media;    /* --test-media */
  gboolean headless;      /* --headless */
  gboolean gui;           /* --gui, or no arguments at all with a display: the GTK window */
  char *screenshot_dir;   /* --screenshot-dir DIR (testing, --gui): stdin commands, or NULL */
  guint duration_s;       /* --duration: 0 = no limit */
  char *stats_json;       /* --stats-json FILE, or NULL */
  guint peer_timeout_s;   /* --peer-timeout, default 300 */
  guint media_timeout_s;  /* --media-timeout, default 30 */
  guint reconnect_window_s; /* --reconnect-window, default 60 */
  char **ice_addresses;   /* --ice-address (NULL-terminated), or NULL for all interfaces */
  char *stun_url;         /* --stun stun://HOST:PORT, or NULL */
  char *turn_url;         /* --turn turn://USER:PASS@HOST:PORT, or NULL (contains a secret: never log) */
  guint latency_ms;       /* --latency: 0 = the media default */
  guint width, height;    /* --video-size WxH: 0x0 = the media default (640x480) */
  guint framerate;        /* --framerate: 0 = the media default (30) */
  guint video_bitrate_kbps; /* --video-bitrate: 0 = the media default (1000) */
  char *video_file;       /* --video-file FILE.y4m (with --test-media), or NULL */
  char *audio_file;       /* --audio-file FILE.wav (with --test-media), or NULL */
  gboolean end_on_exit;   /* --end-on-exit */
  TvClientAdmitMode admit_mode; /* --admit auto|manual, default auto */
  guint admit_after_s;    /* --admit-after: 0 = at once (auto mode only) */
  /* Doctor: the consult's facts for billing, sent once paired (NULL = not sent). */
  char *modality;         /* --modality audio-video|audio-only */
  char *audio_only_reason; /* --audio-only-reason TEXT (with audio-only) */
  char *patient_location; /* --patient-location home|other */
  gboolean new_patient;   /* --new-patient: patient status "new" (else not sent) */
  char **chat;            /* --chat TEXT (repeatable, NULL-terminated; checked), or NULL */
  int verbosity;          /* number of -v */
  gboolean show_help;     /* --help given: print tv_client_options_help() and exit 0 */
  gboolean show_version;  /* --version given */
} TvClientOptions;

/* tv_client_options_parse:
 * Parses @argv (argv[0] is the program name) and validates every value: the URL
 * must be wss:// with a host, numbers must be in their documented range, files
 * must be readable, addresses must be IP literals, the token must be 16..128
 * characters of the base64url alphabet. Doctor mode: --login USERNAME instead
 * of a token; --password-file must be a regular file not readable or writable
 * by group or others (its first line is the password).
 * Returns: (transfer full) the options, or NULL with @error (G_OPTION_ERROR)
 * whose message names the offending flag. When --help or --version is given the
 * other checks are skipped and the flags are set in the result. */
TvClientOptions *tv_client_options_parse (int argc, char **argv, GError **error);

/* tv_client_join_link_parse:
 * Splits a join link (https://HOST[:PORT]/PATH#token=TOKEN, as the server
 * hands out) into the WebSocket URL wss://HOST:PORT/ (port 443 when absent)
 * and the token (checked like --token).
 * Returns: TRUE with (transfer full) *@server_url and *@token (a credential:
 * wipe before freeing), or FALSE with @error (G_OPTION_ERROR) naming the problem. */
gboolean tv_client_join_link_parse (const char *link, char **server_url, char **token, GError **error);

/* tv_client_options_free: frees @opts and its strings; NULL accepted. The token
 * memory is wiped before it is freed. */
void tv_client_options_free (TvClientOptions *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TvClientOptions, tv_client_options_free)

/* tv_client_options_help:
 * Returns: (transfer none) the manual page (NAME, SYNOPSIS, DESCRIPTION, OPTIONS,
 * OUTPUT, EXIT STATUS, EXAMPLES) as one static string. */
const char *tv_client_options_help (void);

/* Returns: (transfer none) the version string, e.g. "televisit-client 0.1.0". */
const char *tv_client_options_version (void);

G_END_DECLS
