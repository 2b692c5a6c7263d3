# tests/fuzz/ — libFuzzer targets, one per parser of outside bytes (included by tests/module.mk).
#
#   make fuzz                 build every target with clang (-fsanitize=fuzzer,address,undefined)
#                             and run each for FUZZ_SECONDS (default 60); prints execs/s and
#                             coverage per target; new inputs go to $(B)/fuzz/work-<target>/,
#                             crashes to $(B)/fuzz/artifacts-<target>/ (and fail the run)
#   make fuzz FUZZ_TARGETS="sdp config" FUZZ_SECONDS=300     a subset, longer
#   make fuzz FUZZ_MERGE=1    also merge what was found into the committed corpus (minimised)
#   make check-fuzz           replay every committed corpus (part of `make check`)
#
# Each target tests/fuzz/fuzz-<target>.c defines LLVMFuzzerTestOneInput (and may
# define LLVMFuzzerInitialize); its corpus is tests/fuzz/corpus/<target>/. For
# `make check` the same file is linked with gcc to tv-fuzz-replay.c, a g_test main
# that feeds it every corpus file: $(B)/tests/fuzz/replay-<target>.
FUZZ_ALL := $(patsubst tests/fuzz/fuzz-%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
# Everything a target may reach, as libraries (a target pulls only what it uses).
FUZZ_REPLAY_LIBS := $(CLI_LIB) $(SRV_LIB) $(MEDIA_LIB) $(SIG_LIB)
FUZZ_REPLAYS := $(patsubst %,$(B)/tests/fuzz/replay-%,$(FUZZ_ALL))
TESTS += $(FUZZ_REPLAYS)

$(FUZZ_REPLAYS): $(B)/tests/fuzz/replay-%: $(B)/tests/fuzz/fuzz-%.o $(B)/tests/fuzz/tv-fuzz-replay.o $(FUZZ_REPLAY_LIBS)
	$(CC) $(LDFLAGS) -o $@ $(B)/tests/fuzz/fuzz-$*.o $(B)/tests/fuzz/tv-fuzz-replay.o $(FUZZ_REPLAY_LIBS) $(PKG_LIBS)

.PHONY: check-fuzz fuzz
check-fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_REPLAYS)
	prove -j$(PROVE_JOBS) $(PROVE_FLAGS) $(sort $(FUZZ_REPLAYS))

# The libFuzzer build: every source compiled again with clang and coverage
# instrumentation into $(B)/fuzz/, so the fuzzer sees the edges of our code.
FUZZ_CFLAGS = -std=gnu11 $(WARN) -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
  -I. -DG_LOG_USE_STRUCTURED=1 $(PKG_CFLAGS) -MMD -MP
FUZZ_LIB_SRCS := $(CLI_SRCS) $(SRV_SRCS) $(MEDIA_SRCS) $(SIG_SRCS)
FUZZ_LIB := $(B)/fuzz/libtvfuzz.a
$(B)/fuzz/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_LIB): $(FUZZ_LIB_SRCS:%.c=$(B)/fuzz/obj/%.o)
	rm -f $@ && ar rcs $@ $^
$(B)/fuzz/fuzz-%: $(B)/fuzz/obj/tests/fuzz/fuzz-%.o $(FUZZ_LIB)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)

fuzz: deps
	@$(MAKE) --no-print-directory $(patsubst %,$(B)/fuzz/fuzz-%,$(FUZZ_TARGETS))
	B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_MERGE=$(FUZZ_MERGE) tests/fuzz/run-fuzz.sh $(FUZZ_TARGETS)
# The shipped billing code table is a generated source (server/module.mk):
# the fuzz library needs it too (tv-billing-codes.c refers to it).
$(B)/fuzz/obj/server/billing-codes-default.o: $(B)/server/billing-codes-default.c | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_LIB): $(B)/fuzz/obj/server/billing-codes-default.o
# So is the compiled-in web/ folder (server/module.mk; tv-web.c refers to it).
$(B)/fuzz/obj/web/tv-web-resources.o: $(WEB_RES_C) | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
$(FUZZ_LIB): $(B)/fuzz/obj/web/tv-web-resources.o
