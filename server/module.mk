# server/ — televisit-server (signaling over WSS, session store) and televisitctl (admin tool).
# Every server/*.c except the two mains goes into libtvserver.a so tests can link it.
SRV_MAINS := server/televisit-server.c server/televisitctl.c
SRV_SRCS := $(filter-out $(SRV_MAINS),$(wildcard server/*.c))
SRV_LIB := $(B)/libtvserver.a
LIBS += $(SRV_LIB)
# A binary is built once its main exists (keeps a partial tree buildable).
BINS += $(patsubst server/%.c,$(B)/%,$(wildcard $(SRV_MAINS)))
$(SRV_LIB): $(SRV_SRCS:%.c=$(B)/%.o)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(B)/televisit-server: $(B)/server/televisit-server.o $(SRV_LIB) $(SIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(B)/televisitctl: $(B)/server/televisitctl.o $(SRV_LIB) $(SIG_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The web pages (server/tv-web.c): every file under web/ is compiled into a
# GResource linked into libtvserver. The resource list is generated from the
# files present (rewritten only when the list changes), so a new page is just
# a new file under web/<area>/. File names are restricted to [A-Za-z0-9._/-].
WEB_FILES := $(shell find web -type f ! -name '.*' ! -name '*~' 2>/dev/null | LC_ALL=C sort)
WEB_XML := $(B)/web/tv-web-resources.gresource.xml
WEB_RES_C := $(B)/web/tv-web-resources.c
WEB_RES_O := $(B)/web/tv-web-resources.o
.PHONY: web-list-check
$(WEB_XML): web-list-check
	@mkdir -p $(dir $@)
	@for f in $(WEB_FILES); do case "$$f" in *[!A-Za-z0-9._/-]*) echo "web/: unsupported file name: $$f" >&2; exit 1;; esac; done
	@{ echo '<?xml version="1.0" encoding="UTF-8"?>'; echo '<gresources><gresource prefix="/televisit">'; \
	  for f in $(WEB_FILES); do echo "  <file>$$f</file>"; done; echo '</gresource></gresources>'; } > $@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
$(WEB_RES_C): $(WEB_XML) $(WEB_FILES)
	glib-compile-resources --sourcedir=. --generate-source --manual-register --internal --c-name tv_web_res \
	  --target=$@ $<
$(WEB_RES_O): $(WEB_RES_C) | deps
	$(CC) $(ALL_CFLAGS) -Wno-overlength-strings -c $< -o $@
$(SRV_LIB): $(WEB_RES_O)
# The shipped billing code table (server/billing-codes.conf) is embedded as the
# default of tv-billing-codes.c: generated into a C array, NUL-terminated.
$(B)/server/billing-codes-default.c: server/billing-codes.conf
	@mkdir -p $(dir $@)
	{ echo '#include <glib.h>'; echo 'const char tv_billing_codes_default_conf[] = {'; \
	  od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '0 };'; \
	  echo "const gsize tv_billing_codes_default_conf_len = sizeof tv_billing_codes_default_conf - 1;"; } > $@.tmp
	mv $@.tmp $@
$(B)/server/billing-codes-default.o: $(B)/server/billing-codes-default.c | deps
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(SRV_LIB): $(B)/server/billing-codes-default.o
