/* tv-test-smtp.c — a loopback SMTP sink for tests (see tv-test-smtp.h).
 *
 * Why: one GSocketService on 127.0.0.1; each connection reads lines
 * asynchronously (GDataInputStream) and answers synchronously (small replies
 * on loopback). The conversation is a small state machine: commands, or the
 * DATA body until the lone ".". Test code only: it trusts its peer (the
 * server under test) enough not to limit line lengths beyond GIO's own.
 * Thread: the test's main thread (default main context).
 */
#include "tests/common/tv-test-smtp.h"

#include <gio/gio.h>
#include <string.h>

struct _TvTestSmtp {
  GSocketService *service;
  guint16 port;
  GPtrArray *messages;     /* (element-type TvTestSmtpMessage) */
  GPtrArray *conns;        /* (element-type Conn) open connections */
  guint refuse_left;
  guint refuse_code;
  guint attempts;
};

typedef struct {
  TvTestSmtp *sink;
  GSocketConnection *conn;
  GDataInputStream *in;
  GOutputStream *out;
  GCancellable *cancel;
  gboolean in_data;
  char *from;
  GPtrArray *rcpt;
  GString *data;
} Conn;

static void
message_free (TvTestSmtpMessage *m)
{
  g_free (m->mail_from);
  g_ptr_array_unref (m->rcpt_to);
  g_free (m->data);
  g_free (m);
}

static void
conn_free (Conn *c)
{
  g_cancellable_cancel (c->cancel);
  g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  g_object_unref (c->in);
  g_object_unref (c->conn);
  g_object_unref (c->cancel);
  g_free (c->from);
  g_ptr_array_unref (c->rcpt);
  g_string_free (c->data, TRUE);
  g_free (c);
}

static void
reply (Conn *c, const char *text)
{
  g_output_stream_write_all (c->out, text, strlen (text), NULL, NULL, NULL);
}

/* "<addr>" after the colon of MAIL FROM: / RCPT TO:, without the brackets. */
static char *
address_of (const char *line)
{
  const char *lt = strchr (line, '<');
  const char *gt = lt != NULL ? strchr (lt, '>') : NULL;
  return gt != NULL ? g_strndup (lt + 1, gt - lt - 1) : g_strdup ("");
}

static void read_next (Conn *c);

static void
close_conn (Conn *c)
{
  g_ptr_array_remove (c->sink->conns, c);   /* frees it */
}

/* Returns FALSE when the connection was closed. */
static gboolean
handle_line (Conn *c, const char *line)
{
  TvTestSmtp *sink = c->sink;
  if (c->in_data) {
    if (strcmp (line, ".") == 0) {
      TvTestSmtpMessage *m = g_new0 (TvTestSmtpMessage, 1);
      m->mail_from = g_strdup (c->from);
      m->rcpt_to = g_ptr_array_ref (c->rcpt);
      m->data = g_strdup (c->data->str);
      g_ptr_array_add (sink->messages, m);
      c->in_data = FALSE;
      g_string_truncate (c->data, 0);
      reply (c, "250 2.0.0 queued\r\n");
    } else {
      g_string_append (c->data, line[0] == '.' ? line + 1 : line);
      g_string_append (c->data, "\r\n");
    }
    return TRUE;
  }
  if (g_ascii_strncasecmp (line, "EHLO", 4) == 0) {
    reply (c, "250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n");
  } else if (g_ascii_strncasecmp (line, "HELO", 4) == 0) {
    reply (c, "250 sink.test\r\n");
  } else if (g_ascii_strncasecmp (line, "MAIL FROM:", 10) == 0) {
    sink->attempts++;
    if (sink->refuse_left > 0) {
      sink->refuse_left--;
      reply (c, sink->refuse_code >= 500 ? "550 5.7.1 refused by the test\r\n"
                                         : "451 4.3.0 try again later (test)\r\n");
      return TRUE;
    }
    g_free (c->from);
    c->from = address_of (line);
    g_ptr_array_unref (c->rcpt);
    c->rcpt = g_ptr_array_new_with_free_func (g_free);
    reply (c, "250 2.1.0 ok\r\n");
  } else if (g_ascii_strncasecmp (line, "RCPT TO:", 8) == 0) {
    g_ptr_array_add (c->rcpt, address_of (line));
    reply (c, "250 2.1.5 ok\r\n");
  } else if (g_ascii_strcasecmp (line, "DATA") == 0) {
    c->in_data = TRUE;
    reply (c, "354 end with <CRLF>.<CRLF>\r\n");
  } else if (g_ascii_strcasecmp (line, "RSET") == 0 || g_ascii_strcasecmp (line, "NOOP") == 0) {
    reply (c, "250 2.0.0 ok\r\n");
  } else if (g_ascii_strcasecmp (line, "QUIT") == 0) {
    reply (c, "221 2.0.0 bye\r\n");
    close_conn (c);
    return FALSE;
  } else {
    reply (c, "502 5.5.2 not implemented\r\n");
  }
  return TRUE;
}

static void
on_line (GObject *source, GAsyncResult *res, gpointer data)
{
  Conn *c = data;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), res, &len, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;   /* the sink is going away and owns @c */
  if (line == NULL) {
    close_conn (c);
    return;
  }
  /* read_line splits on \n: drop the \r of CRLF. */
  if (len > 0 && line[len - 1] == '\r')
    line[len - 1] = '\0';
  if (handle_line (c, line))
    read_next (c);
}

static void
read_next (Conn *c)
{
  g_data_input_stream_read_line_async (c->in, G_PRIORITY_DEFAULT, c->cancel, on_line, c);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source, gpointer data)
{
  TvTestSmtp *sink = data;
  Conn *c = g_new0 (Conn, 1);
  c->sink = sink;
  c->conn = g_object_ref (connection);
  c->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_data_input_stream_set_newline_type (c->in, G_DATA_STREAM_NEWLINE_TYPE_LF);
  c->out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  c->cancel = g_cancellable_new ();
  c->rcpt = g_ptr_array_new_with_free_func (g_free);
  c->data = g_string_new (NULL);
  g_ptr_array_add (sink->conns, c);
  reply (c, "220 sink.test ESMTP test sink\r\n");
  read_next (c);
  return TRUE;
}

TvTestSmtp *
tv_test_smtp_new (void)
{
  TvTestSmtp *sink = g_new0 (TvTestSmtp, 1);
  sink->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) message_free);
  sink->conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
  sink->service = g_socket_service_new ();
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) want = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) got = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (sink->service), want, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &got, &error))
    g_error ("SMTP sink: cannot listen on 127.0.0.1: %s", error->message);
  sink->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (got));
  g_signal_connect (sink->service, "incoming", G_CALLBACK (on_incoming), sink);
  g_socket_service_start (sink->service);
  return sink;
}

void
tv_test_smtp_free (TvTestSmtp *sink)
{
  if (sink == NULL)
    return;
  g_socket_service_stop (sink->service);
  g_socket_listener_close (G_SOCKET_LISTENER (sink->service));
  g_object_unref (sink->service);
  g_ptr_array_unref (sink->conns);
  g_ptr_array_unref (sink->messages);
  g_free (sink);
}

char *
tv_test_smtp_url (TvTestSmtp *sink)
{
  return g_strdup_printf ("smtp://127.0.0.1:%u", sink->port);
}

void
tv_test_smtp_refuse_next (TvTestSmtp *sink, guint n, guint code)
{
  sink->refuse_left = n;
  sink->refuse_code = code;
}

guint
tv_test_smtp_attempts (TvTestSmtp *sink)
{
  return sink->attempts;
}

guint
tv_test_smtp_count (TvTestSmtp *sink)
{
  return sink->messages->len;
}

const TvTestSmtpMessage *
tv_test_smtp_get (TvTestSmtp *sink, guint i)
{
  return i < sink->messages->len ? g_ptr_array_index (sink->messages, i) : NULL;
}

/* The value of header @name in the header block [@start, @end), unfolded. */
static char *
find_header (const char *start, const char *end, const char *name)
{
  gsize nlen = strlen (name);
  const char *p = start;
  while (p < end) {
    const char *eol = g_strstr_len (p, end - p, "\r\n");
    if (eol == NULL)
      eol = end;
    if ((gsize) (eol - p) > nlen && g_ascii_strncasecmp (p, name, nlen) == 0 && p[nlen] == ':') {
      GString *v = g_string_new_len (p + nlen + 1, eol - p - nlen - 1);
      /* continuation lines start with white space */
      while (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t')) {
        const char *next = g_strstr_len (eol + 2, end - eol - 2, "\r\n");
        if (next == NULL)
          next = end;
        g_string_append_len (v, eol + 2, next - eol - 2);
        eol = next;
      }
      return g_strstrip (g_string_free (v, FALSE));
    }
    p = eol + 2;
  }
  return NULL;
}

char *
tv_test_smtp_header (const TvTestSmtpMessage *msg, const char *name)
{
  const char *end = strstr (msg->data, "\r\n\r\n");
  return find_header (msg->data, end != NULL ? end + 2 : msg->data + strlen (msg->data), name);
}

char *
tv_test_smtp_part (const TvTestSmtpMessage *msg, const char *type_prefix, char **content_type)
{
  g_autofree char *ct = tv_test_smtp_header (msg, "Content-Type");
  const char *b = ct != NULL ? strstr (ct, "boundary=") : NULL;
  if (b == NULL)
    return NULL;
  g_autofree char *boundary = g_strdup (b + strlen ("boundary="));
  g_strdelimit (boundary, "\"", ' ');
  g_strstrip (boundary);
  char *semi = strchr (boundary, ';');
  if (semi != NULL)
    *semi = '\0';
  g_autofree char *delim = g_strdup_printf ("\r\n--%s", boundary);
  const char *p = strstr (msg->data, delim);
  while (p != NULL) {
    const char *part = p + strlen (delim);
    if (g_str_has_prefix (part, "--"))
      break;
    part += 2;   /* CRLF after the delimiter */
    const char *next = strstr (part, delim);
    const char *hend = strstr (part, "\r\n\r\n");
    if (next == NULL || hend == NULL || hend > next)
      break;
    g_autofree char *ptype = find_header (part, hend + 2, "Content-Type");
    if (ptype != NULL && g_str_has_prefix (ptype, type_prefix)) {
      g_autofree char *enc = find_header (part, hend + 2, "Content-Transfer-Encoding");
      g_autofree char *body = g_strndup (hend + 4, next - hend - 4);
      if (content_type != NULL)
        *content_type = g_strdup (ptype);
      if (enc != NULL && g_ascii_strcasecmp (enc, "base64") == 0) {
        gsize n = 0;
        guchar *raw = g_base64_decode (body, &n);
        char *text = g_strndup ((const char *) raw, n);
        g_free (raw);
        return text;
      }
      return g_steal_pointer (&body);
    }
    p = next;
  }
  return NULL;
}
