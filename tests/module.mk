# tests/ — one g_test (TAP) binary per tests/<module>/test-*.c, all run by `make check`.
# tests/common/*.c are shared fixtures (spawn the server, wait with timeouts, temp dirs).
# Each test folder links only the libraries of what it tests, so one module's tests
# build while another module is being worked on.
TCOMMON_SRCS := $(wildcard tests/common/*.c)
TCOMMON_LIB := $(B)/libtvtestcommon.a
$(TCOMMON_LIB): $(TCOMMON_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

TEST_DIRS := signaling server media client e2e net
TEST_LIBS_signaling := $(SIG_LIB)
TEST_LIBS_media := $(MEDIA_LIB) $(SIG_LIB)
TEST_LIBS_server := $(TCOMMON_LIB) $(CLI_LIB) $(SRV_LIB) $(SIG_LIB)
TEST_LIBS_client := $(TCOMMON_LIB) $(CLI_LIB) $(SRV_LIB) $(MEDIA_LIB) $(SIG_LIB)
TEST_LIBS_e2e := $(TCOMMON_LIB) $(CLI_LIB) $(SRV_LIB) $(MEDIA_LIB) $(SIG_LIB)
# net: hardening under hostile clients, crashes and network faults (real binaries).
TEST_LIBS_net := $(TCOMMON_LIB) $(CLI_LIB) $(SRV_LIB) $(MEDIA_LIB) $(SIG_LIB)
# The end-to-end and server tests run the real binaries.
TEST_BINS_server := $(filter $(B)/televisit-server $(B)/televisitctl,$(BINS))
TEST_BINS_client := $(BINS)
TEST_BINS_e2e := $(BINS)
TEST_BINS_net := $(BINS)

define test_dir_rules
TESTS_$(1) := $$(patsubst %.c,$(B)/%,$$(wildcard tests/$(1)/test-*.c))
TESTS += $$(TESTS_$(1))
$$(TESTS_$(1)): $(B)/tests/$(1)/%: $(B)/tests/$(1)/%.o $$(TEST_LIBS_$(1)) | $$(TEST_BINS_$(1))
	$$(CC) $$(LDFLAGS) -o $$@ $$< $$(TEST_LIBS_$(1)) $$(PKG_LIBS)
.PHONY: check-$(1)
check-$(1): deps
	@$$(MAKE) --no-print-directory $$(TESTS_$(1)) $$(TEST_BINS_$(1))
	prove -j$$(PROVE_JOBS) $$(PROVE_FLAGS) $$(sort $$(TESTS_$(1)))
endef
$(foreach d,$(TEST_DIRS),$(eval $(call test_dir_rules,$(d))))

# Fuzz targets: replayed by `make check`, run by `make fuzz` (see the file).
include tests/fuzz/fuzz.mk
# FHIR schema validator (npm ci) for test-fhir (see the file).
include tests/fhir/fhir.mk
# `make check-valgrind` (see the file).
include tests/valgrind/valgrind.mk
