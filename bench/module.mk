# bench/ — `make bench` (issue 6): side-by-side benchmarks against Chromium and Janus.
# The C load client is built like any other binary; the Node driver (bench/bench.mjs)
# and its npm packages (bench/package.json + package-lock.json, `npm ci`) run
# everything and print one table. Benchmark-only Debian packages (chromium, janus,
# nftables) come from scripts/install-bench-deps.sh, so `make check` never needs them.
# Included after tests/module.mk: its smoke test (tests/bench/, a few seconds,
# asserts that numbers come out, never a time) joins `make check` through the
# same test_dir_rules; `make check-bench` runs it alone.
BENCH_BIN := $(B)/tv-bench-load
# The LD_PRELOAD delay shim of the bad-network part (bench/tv-bench-delay.c):
# plain libc + pthreads, built without the sanitizers (it is loaded into
# Chromium and into our release-built clients).
BENCH_DELAY := $(B)/tv-bench-delay.so
BENCH_BINS := $(BENCH_BIN) $(BENCH_DELAY)
# PSNR/SSIM of a decoded y4m against its source, for `make bench-vp8`
# (bench/vp8-settings.sh: CPU and quality of VP8 encoder settings).
BENCH_YUVQ := $(B)/tv-bench-yuvq
$(BENCH_BIN): $(B)/bench/tv-bench-load.o $(SRV_LIB) $(SIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BENCH_DELAY): bench/tv-bench-delay.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -fPIC -shared -o $@ $< -ldl -lpthread
$(BENCH_YUVQ): bench/tv-bench-yuvq.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -o $@ $< -lm

TEST_LIBS_bench := $(TCOMMON_LIB) $(CLI_LIB) $(SRV_LIB) $(SIG_LIB)
TEST_BINS_bench := $(filter $(B)/televisit-server,$(BINS)) $(BENCH_BIN) $(BENCH_DELAY)
$(eval $(call test_dir_rules,bench))

.PHONY: bench bench-deps bench-smoke bench-vp8
bench-deps: deps
	./scripts/install-bench-deps.sh
	cd bench && npm ci --no-audit --no-fund --loglevel=error

# BENCH_ARGS passes options to bench/bench.mjs (e.g. BENCH_ARGS="--only setup,load").
bench: bench-deps
	@$(MAKE) --no-print-directory build-all $(BENCH_BINS)
	node bench/bench.mjs --build $(B) $(BENCH_ARGS)

# A few seconds of each tool, asserting only that numbers came out.
bench-smoke: bench-deps
	@$(MAKE) --no-print-directory build-all $(BENCH_BINS)
	node bench/bench.mjs --build $(B) --smoke $(BENCH_ARGS)

# VP8 encoder settings at the CPU part's 1,700 kbit/s: encode/decode CPU,
# kbit/s, PSNR and SSIM per setting (about 2 minutes; not part of `make bench`).
bench-vp8: $(BENCH_YUVQ)
	./bench/vp8-settings.sh $(B)
