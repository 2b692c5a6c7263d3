/* tv-bench-delay.c — LD_PRELOAD shim of `make bench` (issue 6 item 5): a one-way
 * delay (and optional jitter) on every UDP datagram a process sends.
 *
 * Why: the bad-network part needs added delay, and this kernel has neither
 * `tc netem` nor nftables' NFQUEUE. Loaded into both of our clients and into
 * every Chromium process (the UDP sockets of its peer connections live in the
 * network service), it holds each outgoing UDP datagram for D ms: the send call
 * copies the datagram, returns success at once, and one shim thread per process
 * sends the copy with the real call when it is due. Each direction of a call is
 * delayed once at its sender, so the round trip grows by 2 D.
 *
 * What is intercepted (checked with strace on both programs, docs/BENCHMARKS.md):
 * sendto, sendmsg, sendmmsg and send, on sockets whose SO_TYPE is SOCK_DGRAM
 * and SO_DOMAIN AF_INET or AF_INET6. Everything else (TCP, Unix sockets, pipes,
 * write(2)) goes straight to libc. close() of a socket with datagrams still
 * queued drops them, so a reused descriptor never sends another socket's data.
 *
 * Safety (network rule): a delayed datagram may only go to loopback
 * (127.0.0.0/8, ::1) or the bench namespaces' 198.18.0.0/24 (also as IPv4-mapped
 * IPv6). A datagram to any other address is refused (-1, EPERM, nothing sent)
 * and counted; the bench reports the count, which must stay 0.
 *
 * Environment (read once, at load):
 *   TV_BENCH_DELAY_MS      delay per datagram, 0..10000 ms; unset or 0: the shim
 *                          passes everything through untouched
 *   TV_BENCH_JITTER_MS     0..DELAY: each datagram's delay drawn uniformly from
 *                          [D - J, D + J]; a datagram never leaves before the
 *                          previous one of its socket (no reordering) unless
 *   TV_BENCH_DELAY_REORDER=1
 *   TV_BENCH_DELAY_STATS   path prefix: the shim thread writes its counters as
 *                          one JSON object to PREFIX.PID (every 200 ms while
 *                          datagrams flow, and at exit(), _exit())
 *
 * Threads: the intercepted calls run on any application thread and only take
 * the queue lock; the shim thread (started on the first delayed datagram, again
 * in a forked child) sends. Plain libc and pthreads only: this file is loaded
 * into processes that are not ours (Chromium), so no GLib.
 */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DELAY_MAX_MS 10000
#define FD_LIMIT 65536          /* descriptors above this pass through undelayed */
#define QUEUE_LIMIT 65536       /* datagrams held at once; more: ENOBUFS */
#define EAGAIN_TRIES 100        /* x 10 ms of poll() before a datagram is given up */
#define STATS_EVERY_NS 200000000

typedef ssize_t (*sendto_fn) (int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn) (int, const struct msghdr *, int);
typedef int (*sendmmsg_fn) (int, struct mmsghdr *, unsigned int, int);
typedef ssize_t (*send_fn) (int, const void *, size_t, int);
typedef int (*close_fn) (int);
typedef void (*exit_fn) (int) __attribute__ ((noreturn));

static sendto_fn real_sendto;
static sendmsg_fn real_sendmsg;
static sendmmsg_fn real_sendmmsg;
static send_fn real_send;
static close_fn real_close;
static exit_fn real__exit;

/* One held datagram: a copy of what the application handed over. */
typedef struct {
  int64_t due_ns;               /* CLOCK_MONOTONIC time it may leave */
  uint64_t seq;                 /* enqueue order: ties keep it */
  int fd;
  int flags;
  socklen_t addrlen;            /* 0: connected socket, no address */
  struct sockaddr_storage addr;
  size_t ctrllen;
  void *ctrl;                   /* ancillary data, malloc'd, or NULL */
  size_t len;
  unsigned char data[];
} Datagram;

/* Settings, fixed after load. */
static int64_t delay_ns, jitter_ns;
static int reorder;
static const char *stats_prefix;

/* Queue state, under qlock. */
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond;
static Datagram **heap;
static size_t heap_len, heap_cap;
static uint64_t next_seq;
static int64_t *last_due;       /* per descriptor: due time of its last datagram */
static unsigned *pending;       /* per descriptor: datagrams in the heap */
static int thread_started;
static uint64_t rng_state;

/* Counters, under qlock. */
static struct {
  uint64_t delayed, bytes, sent, refused, dropped_full, dropped_closed, dropped_error, eagain;
  int64_t late_max_ns, late_sum_ns;
  int64_t delay_min_ns, delay_max_ns;
  uint64_t by_call[4];          /* datagrams queued, per intercepted call (CALL_*) */
} st;
enum { CALL_SENDTO, CALL_SENDMSG, CALL_SENDMMSG, CALL_SEND };
static int stats_dirty;

static int64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long
env_ms (const char *name, long max)
{
  const char *v = getenv (name);
  if (v == NULL || *v == '\0')
    return 0;
  char *end = NULL;
  errno = 0;
  long n = strtol (v, &end, 10);
  if (errno != 0 || *end != '\0' || n < 0 || n > max) {
    fprintf (stderr, "tv-bench-delay: %s=%s is not a number of ms in 0..%ld; shim off\n", name, v, max);
    return -1;
  }
  return n;
}

static void resolve (void);

__attribute__ ((constructor)) static void
shim_init (void)
{
  resolve ();
  long d = env_ms ("TV_BENCH_DELAY_MS", DELAY_MAX_MS);
  long j = d > 0 ? env_ms ("TV_BENCH_JITTER_MS", d) : 0;
  if (d <= 0 || j < 0)
    return;                     /* off: every call passes through */
  last_due = calloc (FD_LIMIT, sizeof *last_due);
  pending = calloc (FD_LIMIT, sizeof *pending);
  if (last_due == NULL || pending == NULL) {
    fprintf (stderr, "tv-bench-delay: out of memory; shim off\n");
    return;
  }
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&qcond, &ca);
  pthread_condattr_destroy (&ca);
  const char *r = getenv ("TV_BENCH_DELAY_REORDER");
  reorder = r != NULL && strcmp (r, "1") == 0;
  /* A copy: Chromium writes its process titles over the original environment. */
  const char *sp = getenv ("TV_BENCH_DELAY_STATS");
  stats_prefix = sp != NULL && *sp != '\0' ? strdup (sp) : NULL;
  rng_state = (uint64_t) now_ns () ^ ((uint64_t) getpid () << 32) ^ 0x9e3779b97f4a7c15ULL;
  jitter_ns = (int64_t) j * 1000000;
  st.delay_min_ns = INT64_MAX;
  delay_ns = (int64_t) d * 1000000;   /* last: a non-zero delay_ns turns the shim on */
}

static void
resolve (void)
{
  if (real_sendto == NULL)
    real_sendto = (sendto_fn) dlsym (RTLD_NEXT, "sendto");
  if (real_sendmsg == NULL)
    real_sendmsg = (sendmsg_fn) dlsym (RTLD_NEXT, "sendmsg");
  if (real_sendmmsg == NULL)
    real_sendmmsg = (sendmmsg_fn) dlsym (RTLD_NEXT, "sendmmsg");
  if (real_send == NULL)
    real_send = (send_fn) dlsym (RTLD_NEXT, "send");
  if (real_close == NULL)
    real_close = (close_fn) dlsym (RTLD_NEXT, "close");
  if (real__exit == NULL)
    real__exit = (exit_fn) dlsym (RTLD_NEXT, "_exit");
}

/* xorshift64*: jitter only, not security. Under qlock. */
static uint64_t
rng_next (void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dULL;
}

/* TRUE when @fd is an IPv4/IPv6 datagram socket (not Unix, not TCP). */
static int
is_udp (int fd)
{
  int type = 0, domain = 0;
  socklen_t l = sizeof type;
  if (fd < 0 || getsockopt (fd, SOL_SOCKET, SO_TYPE, &type, &l) != 0 || type != SOCK_DGRAM)
    return 0;
  l = sizeof domain;
  if (getsockopt (fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) != 0)
    return 0;
  return domain == AF_INET || domain == AF_INET6;
}

static int
v4_allowed (uint32_t host_order)
{
  return (host_order >> 24) == 127 || (host_order & 0xffffff00u) == 0xc6120000u; /* 198.18.0.0/24 */
}

/* TRUE when a datagram to @sa may leave: loopback or 198.18.0.0/24. */
static int
addr_allowed (const struct sockaddr *sa, socklen_t len)
{
  if (sa == NULL)
    return 0;
  if (sa->sa_family == AF_INET && len >= (socklen_t) sizeof (struct sockaddr_in))
    return v4_allowed (ntohl (((const struct sockaddr_in *) sa)->sin_addr.s_addr));
  if (sa->sa_family == AF_INET6 && len >= (socklen_t) sizeof (struct sockaddr_in6)) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK (a))
      return 1;
    if (IN6_IS_ADDR_V4MAPPED (a)) {
      uint32_t v4;
      memcpy (&v4, &a->s6_addr[12], 4);
      return v4_allowed (ntohl (v4));
    }
  }
  return 0;
}

/* ---- the heap, ordered by (due_ns, seq); all under qlock ---- */
static int
before (const Datagram *a, const Datagram *b)
{
  return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void
sift_up (size_t i)
{
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before (heap[i], heap[p]))
      break;
    Datagram *t = heap[i];
    heap[i] = heap[p];
    heap[p] = t;
    i = p;
  }
}

static void
sift_down (size_t i)
{
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < heap_len && before (heap[l], heap[m]))
      m = l;
    if (r < heap_len && before (heap[r], heap[m]))
      m = r;
    if (m == i)
      return;
    Datagram *t = heap[i];
    heap[i] = heap[m];
    heap[m] = t;
    i = m;
  }
}

static Datagram *
heap_pop (void)
{
  Datagram *top = heap[0];
  heap[0] = heap[--heap_len];
  if (heap_len > 0)
    sift_down (0);
  pending[top->fd]--;
  return top;
}

static void
datagram_free (Datagram *d)
{
  free (d->ctrl);
  free (d);
}

/* Writes the counters to TV_BENCH_DELAY_STATS.PID (through a .tmp and a
 * rename). @wait FALSE (at exit): tries the lock for ~50 ms, then gives up:
 * an _exit() from a signal handler that interrupted the shim's own code
 * would otherwise deadlock on it. */
static void
stats_write (int wait)
{
  if (stats_prefix == NULL)
    return;
  char path[4096], tmp[4120], json[1024];
  snprintf (path, sizeof path, "%s.%d", stats_prefix, (int) getpid ());
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  if (wait)
    pthread_mutex_lock (&qlock);
  else {
    int tries = 0;
    while (pthread_mutex_trylock (&qlock) != 0) {
      if (++tries > 50)
        return;
      usleep (1000);
    }
  }
  int n = snprintf (json, sizeof json,
                    "{\"pid\":%d,\"delay_ms\":%.3f,\"jitter_ms\":%.3f,\"delayed\":%llu,\"bytes\":%llu,"
                    "\"sent\":%llu,\"refused\":%llu,\"dropped_full\":%llu,\"dropped_closed\":%llu,"
                    "\"dropped_error\":%llu,\"eagain\":%llu,\"queued\":%zu,\"late_max_ms\":%.3f,"
                    "\"late_mean_ms\":%.3f,\"delay_min_ms\":%.3f,\"delay_max_ms\":%.3f,"
                    "\"by_call\":{\"sendto\":%llu,\"sendmsg\":%llu,\"sendmmsg\":%llu,\"send\":%llu}}\n",
                    (int) getpid (), delay_ns / 1e6, jitter_ns / 1e6, (unsigned long long) st.delayed,
                    (unsigned long long) st.bytes, (unsigned long long) st.sent,
                    (unsigned long long) st.refused, (unsigned long long) st.dropped_full,
                    (unsigned long long) st.dropped_closed, (unsigned long long) st.dropped_error,
                    (unsigned long long) st.eagain, heap_len, st.late_max_ns / 1e6,
                    st.sent ? st.late_sum_ns / 1e6 / (double) st.sent : 0.0,
                    st.delayed ? st.delay_min_ns / 1e6 : 0.0, st.delay_max_ns / 1e6,
                    (unsigned long long) st.by_call[CALL_SENDTO], (unsigned long long) st.by_call[CALL_SENDMSG],
                    (unsigned long long) st.by_call[CALL_SENDMMSG], (unsigned long long) st.by_call[CALL_SEND]);
  stats_dirty = 0;
  pthread_mutex_unlock (&qlock);
  FILE *f = fopen (tmp, "w");
  if (f == NULL)
    return;
  fwrite (json, 1, (size_t) n, f);
  if (fclose (f) == 0)
    rename (tmp, path);
}

/* Sends @d with the real call, retrying on EAGAIN (poll for POLLOUT, 10 ms
 * at a time). Called with qlock held, so close() cannot pull the descriptor
 * away in between. Frees @d. */
static void
send_now (Datagram *d)
{
  struct iovec iov = { d->data, d->len };
  struct msghdr m = {
    .msg_name = d->addrlen ? &d->addr : NULL, .msg_namelen = d->addrlen,
    .msg_iov = &iov, .msg_iovlen = 1,
    .msg_control = d->ctrl, .msg_controllen = d->ctrllen,
  };
  for (int tries = 0;; tries++) {
    if (real_sendmsg (d->fd, &m, d->flags | MSG_DONTWAIT) >= 0) {
      int64_t late = now_ns () - d->due_ns;
      st.sent++;
      st.late_sum_ns += late;
      if (late > st.late_max_ns)
        st.late_max_ns = late;
      break;
    }
    if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) && tries < EAGAIN_TRIES) {
      st.eagain++;
      struct pollfd p = { .fd = d->fd, .events = POLLOUT };
      poll (&p, 1, 10);
      continue;
    }
    if (errno != EINTR)
      st.dropped_error++;
    else if (tries < EAGAIN_TRIES)
      continue;
    break;
  }
  datagram_free (d);
}

static void *
shim_thread (void *arg)
{
  (void) arg;
  int64_t last_stats = now_ns ();
  pthread_mutex_lock (&qlock);
  for (;;) {
    int64_t now = now_ns ();
    while (heap_len > 0 && heap[0]->due_ns <= now)
      send_now (heap_pop ());
    if (stats_dirty && now - last_stats >= STATS_EVERY_NS) {
      pthread_mutex_unlock (&qlock);
      stats_write (1);
      last_stats = now;
      pthread_mutex_lock (&qlock);
      continue;
    }
    /* Sleep until the head is due, or the next stats write, or a new head. */
    int64_t until = heap_len > 0 ? heap[0]->due_ns : now + STATS_EVERY_NS;
    struct timespec ts = { until / 1000000000, until % 1000000000 };
    pthread_cond_timedwait (&qcond, &qlock, &ts);
  }
  return NULL;
}

/* Under qlock. Starts the shim thread with every signal blocked (the
 * application's handlers must not run on it). FALSE if it cannot start. */
static int
ensure_thread (void)
{
  if (thread_started)
    return 1;
  sigset_t all, old;
  sigfillset (&all);
  pthread_sigmask (SIG_SETMASK, &all, &old);
  pthread_t t;
  int rc = pthread_create (&t, NULL, shim_thread, NULL);
  pthread_sigmask (SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return 0;
  pthread_detach (t);
  pthread_setname_np (t, "tv-bench-delay");
  thread_started = 1;
  return 1;
}

/* A forked child has no shim thread and must not send its parent's queue. */
static void
atfork_child (void)
{
  pthread_mutex_init (&qlock, NULL);
  for (size_t i = 0; i < heap_len; i++)
    datagram_free (heap[i]);
  heap_len = 0;
  if (pending != NULL)
    memset (pending, 0, FD_LIMIT * sizeof *pending);
  thread_started = 0;
  memset (&st, 0, sizeof st);
  st.delay_min_ns = INT64_MAX;
}
static void atfork_prepare (void) { pthread_mutex_lock (&qlock); }
static void atfork_parent (void) { pthread_mutex_unlock (&qlock); }

__attribute__ ((constructor)) static void
shim_atfork (void)
{
  pthread_atfork (atfork_prepare, atfork_parent, atfork_child);
}

__attribute__ ((destructor)) static void
shim_fini (void)
{
  if (delay_ns > 0 && (st.delayed > 0 || st.refused > 0))
    stats_write (0);
}

/* Our clients leave through _exit(): the counters are written first. */
void
_exit (int status)
{
  resolve ();
  shim_fini ();
  real__exit (status);
}

/* What to do with one datagram on @fd to @to (NULL: the connected peer). */
enum { PASS, QUEUED, REFUSED, FULL };

/* Copies one datagram (@iov, @ctrl) into the queue, due after the delay.
 * Returns PASS when the shim is off or @fd is no UDP socket (the caller then
 * makes the real call), REFUSED when the destination is not allowed, FULL
 * when the queue holds QUEUE_LIMIT datagrams or memory ran out. */
static int
enqueue (int call, int fd, const struct iovec *iov, size_t iovlen, const struct sockaddr *to,
         socklen_t tolen, const void *ctrl, size_t ctrllen, int flags)
{
  if (delay_ns <= 0 || fd < 0 || fd >= FD_LIMIT || !is_udp (fd))
    return PASS;
  struct sockaddr_storage peer;
  if (to == NULL || tolen == 0) {
    socklen_t pl = sizeof peer;
    if (getpeername (fd, (struct sockaddr *) &peer, &pl) != 0)
      return PASS;              /* not connected: the real call fails as it should */
    to = (const struct sockaddr *) &peer;
    tolen = pl;
    if (!addr_allowed (to, tolen))
      goto refused;
    tolen = 0;                  /* connected: send without an address */
  } else if (!addr_allowed (to, tolen) || tolen > (socklen_t) sizeof peer) {
    goto refused;
  }

  size_t len = 0;
  for (size_t i = 0; i < iovlen; i++)
    len += iov[i].iov_len;
  Datagram *d = malloc (sizeof *d + len);
  if (d == NULL)
    return FULL;
  memset (d, 0, sizeof *d);
  d->fd = fd;
  d->flags = flags & ~MSG_DONTWAIT;
  d->len = len;
  for (size_t i = 0, off = 0; i < iovlen; off += iov[i].iov_len, i++)
    memcpy (d->data + off, iov[i].iov_base, iov[i].iov_len);
  if (tolen > 0) {
    memcpy (&d->addr, to, tolen);
    d->addrlen = tolen;
  }
  if (ctrl != NULL && ctrllen > 0) {
    d->ctrl = malloc (ctrllen);
    if (d->ctrl == NULL) {
      free (d);
      return FULL;
    }
    memcpy (d->ctrl, ctrl, ctrllen);
    d->ctrllen = ctrllen;
  }

  pthread_mutex_lock (&qlock);
  if (heap_len >= QUEUE_LIMIT || !ensure_thread ()) {
    st.dropped_full++;
    pthread_mutex_unlock (&qlock);
    datagram_free (d);
    return FULL;
  }
  if (heap_len == heap_cap) {
    size_t cap = heap_cap ? heap_cap * 2 : 256;
    Datagram **h = realloc (heap, cap * sizeof *h);
    if (h == NULL) {
      st.dropped_full++;
      pthread_mutex_unlock (&qlock);
      datagram_free (d);
      return FULL;
    }
    heap = h;
    heap_cap = cap;
  }
  int64_t now = now_ns (), delay = delay_ns;
  if (jitter_ns > 0)
    delay += (int64_t) (rng_next () % (uint64_t) (2 * jitter_ns + 1)) - jitter_ns;
  d->due_ns = now + delay;
  if (!reorder && d->due_ns < last_due[fd])
    d->due_ns = last_due[fd];   /* never overtake the socket's previous datagram */
  last_due[fd] = d->due_ns;
  if (d->due_ns - now < st.delay_min_ns)
    st.delay_min_ns = d->due_ns - now;
  if (d->due_ns - now > st.delay_max_ns)
    st.delay_max_ns = d->due_ns - now;
  d->seq = next_seq++;
  heap[heap_len] = d;
  sift_up (heap_len++);
  pending[fd]++;
  st.delayed++;
  st.by_call[call]++;
  st.bytes += len;
  stats_dirty = 1;
  if (heap[0] == d)
    pthread_cond_signal (&qcond);
  pthread_mutex_unlock (&qlock);
  return QUEUED;

refused:
  pthread_mutex_lock (&qlock);
  if (st.refused++ == 0)
    fprintf (stderr, "tv-bench-delay: refused a UDP datagram to an address outside loopback and "
                     "198.18.0.0/24 (counted; nothing sent)\n");
  stats_dirty = 1;
  pthread_mutex_unlock (&qlock);
  return REFUSED;
}

/* The errno and return of a call whose datagram the shim did not pass on. */
static ssize_t
fail (int what)
{
  errno = what == REFUSED ? EPERM : ENOBUFS;
  return -1;
}

ssize_t
sendto (int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
{
  resolve ();
  struct iovec iov = { (void *) buf, len };
  int r = enqueue (CALL_SENDTO, fd, &iov, 1, to, tolen, NULL, 0, flags);
  if (r == PASS)
    return real_sendto (fd, buf, len, flags, to, tolen);
  return r == QUEUED ? (ssize_t) len : fail (r);
}

ssize_t
send (int fd, const void *buf, size_t len, int flags)
{
  resolve ();
  struct iovec iov = { (void *) buf, len };
  int r = enqueue (CALL_SEND, fd, &iov, 1, NULL, 0, NULL, 0, flags);
  if (r == PASS)
    return real_send (fd, buf, len, flags);
  return r == QUEUED ? (ssize_t) len : fail (r);
}

ssize_t
sendmsg (int fd, const struct msghdr *msg, int flags)
{
  resolve ();
  if (msg == NULL)
    return real_sendmsg (fd, msg, flags);
  int r = enqueue (CALL_SENDMSG, fd, msg->msg_iov, msg->msg_iovlen, msg->msg_name, msg->msg_namelen,
                   msg->msg_control, msg->msg_controllen, flags);
  if (r == PASS)
    return real_sendmsg (fd, msg, flags);
  if (r != QUEUED)
    return fail (r);
  size_t len = 0;
  for (size_t i = 0; i < msg->msg_iovlen; i++)
    len += msg->msg_iov[i].iov_len;
  return (ssize_t) len;
}

int
sendmmsg (int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
  resolve ();
  if (vec == NULL || vlen == 0 || delay_ns <= 0 || !is_udp (fd))
    return real_sendmmsg (fd, vec, vlen, flags);
  unsigned int done = 0;
  for (; done < vlen; done++) {
    const struct msghdr *m = &vec[done].msg_hdr;
    int r = enqueue (CALL_SENDMMSG, fd, m->msg_iov, m->msg_iovlen, m->msg_name, m->msg_namelen,
                     m->msg_control, m->msg_controllen, flags);
    if (r == PASS) {            /* cannot happen after is_udp(); keep the real semantics */
      int n = real_sendmmsg (fd, vec + done, vlen - done, flags);
      return n < 0 ? (done ? (int) done : n) : (int) done + n;
    }
    if (r != QUEUED) {
      if (done > 0)
        break;                  /* like the kernel: report what was sent */
      return (int) fail (r);
    }
    size_t len = 0;
    for (size_t i = 0; i < m->msg_iovlen; i++)
      len += m->msg_iov[i].iov_len;
    vec[done].msg_len = (unsigned int) len;
  }
  return (int) done;
}

/* Datagrams still queued for @fd are dropped: the descriptor may be reused. */
int
close (int fd)
{
  resolve ();
  if (delay_ns > 0 && fd >= 0 && fd < FD_LIMIT && __atomic_load_n (&pending[fd], __ATOMIC_RELAXED) > 0) {
    pthread_mutex_lock (&qlock);
    size_t keep = 0;
    for (size_t i = 0; i < heap_len; i++) {
      if (heap[i]->fd == fd) {
        datagram_free (heap[i]);
        st.dropped_closed++;
      } else {
        heap[keep++] = heap[i];
      }
    }
    heap_len = keep;
    for (size_t i = heap_len / 2; i-- > 0;)
      sift_down (i);
    pending[fd] = 0;
    last_due[fd] = 0;
    pthread_cond_signal (&qcond);
    pthread_mutex_unlock (&qlock);
  }
  return real_close (fd);
}
