/* tv-heap-trim.h — gives the heap's free pages back to the kernel after many
 * connections came or went.
 *
 * Why: each TLS handshake allocates and frees temporaries (record buffers,
 * handshake messages, key-exchange scratch) between the objects a connection
 * keeps for its life. After a storm of connections glibc's heap holds free
 * space in holes between live objects that it never returns by itself (it
 * trims only the top of the heap): measured 2.7 MB free in a 40 MB heap with
 * 2,000 WSS clients, ~0.9 KiB of resident memory per client that malloc_trim()
 * gives back in ~0.5 ms (docs/BENCHMARKS.md, "Memory per connection:
 * malloc_trim after a connection storm, ChaCha20-Poly1305 first"). This helper calls malloc_trim(0) from a
 * low-priority timeout once the number of connections has moved by a step
 * since the last trim, so a steady server never pays for it and a storm pays
 * a bounded amount per connection.
 * glibc only: jemalloc, mimalloc and tcmalloc (their own page return tuned
 * instead of this trim) were measured and held 0.1-1.2 KiB more per client,
 * their size classes costing more than glibc's headers and holes
 * (docs/BENCHMARKS.md, "Memory per connection: another allocator").
 * Thread: main loop only (the GMainContext given to tv_heap_trim_new).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _TvHeapTrim TvHeapTrim;

/* tv_heap_trim_new:
 * @ctx: the main context the timeout runs on (borrowed; must outlive the trimmer).
 * @step: how far (up or down, >= 1) the connection count must move from its
 *   value at the last trim before a trim is scheduled; with more than 64 x
 *   @step connections the step is 1/64 of the count instead, so the trims'
 *   cost per connection opened or closed stays bounded (a trim walks the
 *   whole heap).
 * @delay_ms: the trim runs this long after the step was reached (coalescing a
 *   storm into one trim per @delay_ms).
 * Returns: (transfer full) a trimmer; free with tv_heap_trim_free. */
TvHeapTrim *tv_heap_trim_new (GMainContext *ctx, guint step, guint delay_ms);

/* Frees the trimmer and cancels a pending trim. NULL accepted. */
void tv_heap_trim_free (TvHeapTrim *trim);

/* tv_heap_trim_note:
 * Tells the trimmer the current number of connections (call after each
 * connection opened or closed). Schedules a trim when it differs by @step or
 * more from the count at the last trim and none is pending; never blocks. */
void tv_heap_trim_note (TvHeapTrim *trim, guint connections);

/* Returns: how many trims have run (for tests and the debug log). */
guint tv_heap_trim_count (TvHeapTrim *trim);

G_END_DECLS
