# tests/valgrind/ — `make check-valgrind`: the unit, server and fuzz-replay tests under valgrind
# (included by tests/module.mk). Zero memory errors and zero definite leaks, else it fails;
# details per binary in $(B)/valgrind/<binary>.log. Media, client and end-to-end tests are left
# out: under valgrind their calls cannot keep real time.
VALGRIND_TESTS = $(sort $(TESTS_signaling) $(TESTS_server) $(FUZZ_REPLAYS))
.PHONY: check-valgrind
check-valgrind: deps
	@$(MAKE) --no-print-directory $(VALGRIND_TESTS) $(TEST_BINS_server)
	prove -j$(PROVE_JOBS) $(PROVE_FLAGS) --exec tests/valgrind/vg $(VALGRIND_TESTS)
