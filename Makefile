# Televisit — top-level build.
#
#   make          build every binary into build/
#   make run      install packages if needed, build, start the server with defaults
#   make check    install packages if needed, build, run every test through prove (TAP)
#   make clean    remove build/
#   make check-signaling, check-server, check-media, check-client, check-e2e: one folder's tests
#   make bench    side-by-side benchmarks (Chromium, Janus; installs them), one table: docs/BENCHMARKS.md
#   B=dir selects another build folder (e.g. make B=build-asan SANITIZE=1 check;
#   SANITIZE=thread: ThreadSanitizer)
#
# Non-recursive: each folder adds its sources, libraries and tests in its module.mk,
# which this file includes. Every folder builds into one static library (libtv<name>.a)
# so that binaries and tests link the same code.

B := build
CC ?= cc
PKGS := glib-2.0 gio-2.0 gio-unix-2.0 json-glib-1.0 gstreamer-1.0 gstreamer-webrtc-1.0 \
        gstreamer-sdp-1.0 gstreamer-app-1.0 gstreamer-video-1.0 gstreamer-rtp-1.0 nice libwebsockets libuv openssl sqlite3 libcurl \
        libical

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
ifeq ($(SANITIZE),1)
CFLAGS += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
# Tests and the servers/clients they spawn inherit these. Leaks inside libraries we cannot fix are
# suppressed one by one in tests/sanitizers/lsan.supp; a binary may add its own ASan/LSan flags in
# tests/sanitizers/{asan,lsan}-<binary>.options (%b: the binary's name), see those files.
export ASAN_OPTIONS ?= detect_leaks=1:include_if_exists=$(CURDIR)/tests/sanitizers/asan-%b.options
export LSAN_OPTIONS ?= suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0:include_if_exists=$(CURDIR)/tests/sanitizers/lsan-%b.options
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
endif
# ThreadSanitizer (make B=build-tsan SANITIZE=thread check-server): not part of make check / .ci/run.
# GLib, lws, OpenSSL and SQLite are not instrumented; reports proven false there are suppressed one by
# one, each with its reason, in tests/sanitizers/tsan.supp. A report makes the process exit 66.
ifeq ($(SANITIZE),thread)
CFLAGS += -O1 -fsanitize=thread -fno-omit-frame-pointer
# tests/sanitizers/tsan-glib.c tells TSan about GLib's hand-offs (GMutex, thread pools, sources).
TSAN_GLIB := $(B)/tests/sanitizers/tsan-glib.o
LDFLAGS += -fsanitize=thread $(TSAN_GLIB)
export TSAN_OPTIONS ?= suppressions=$(CURDIR)/tests/sanitizers/tsan.supp:second_deadlock_stack=1
# GLib 2.74's GSlice hands freed blocks between threads through its own (unseen) locks: plain malloc instead.
export G_SLICE ?= always-malloc
endif
DEPS_STAMP := $(B)/.deps-installed
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -I. -DG_LOG_USE_STRUCTURED=1 $(PKG_CFLAGS) -MMD -MP

BINS :=
TESTS :=
LIBS :=

.PHONY: all deps run check clean
all: deps
	@$(MAKE) --no-print-directory build-all

include signaling/module.mk
include server/module.mk
include media/module.mk
include client/module.mk
include tests/module.mk
include bench/module.mk
include tests/web/web.mk

.PHONY: build-all build-tests
build-all: $(BINS)
ifdef TSAN_GLIB
$(BINS) $(TESTS): | $(TSAN_GLIB)
endif
build-tests: $(BINS) $(TESTS)

# Package installation is idempotent; the stamp only avoids asking dpkg on every build.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	./scripts/install-deps.sh
	@mkdir -p $(B) && touch $@

run: deps
	@$(MAKE) --no-print-directory build-all
	$(B)/televisit-server $(RUN_ARGS)

# Tests print TAP (GLib's g_test); prove runs them two at a time on our two cores.
PROVE_JOBS ?= 2
# Tests find the binaries under test here.
export TV_BUILD_DIR := $(B)
check: deps
	@$(MAKE) --no-print-directory build-tests
	prove -j$(PROVE_JOBS) $(PROVE_FLAGS) $(sort $(TESTS))

$(B)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
