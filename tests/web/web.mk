# tests/web/ — browser tests of the pages the server serves (web/: front desk,
# portal, billing worklist, reports, join page). Each tests/web/test-*.mjs is an
# executable Node script printing TAP, run by prove like the C tests; it starts
# televisit-server (and clients) from $(TV_BUILD_DIR) and drives Debian's
# /usr/bin/chromium through playwright-core (tests/web/package.json + lock,
# installed by `npm ci`; never a downloaded browser). Heavy: run alone under
# flock /tmp/tv-heavy.lock when others share the machine.
#   make check-web                      these tests only
#   make web-screenshots                re-take docs/screenshots/*.png
WEB_NODE_STAMP := tests/web/node_modules/.package-lock.json
TESTS_web := $(sort $(wildcard tests/web/test-*.mjs))
TESTS += $(TESTS_web)

$(WEB_NODE_STAMP): tests/web/package.json tests/web/package-lock.json
	cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: web-deps check-web web-screenshots
web-deps: $(WEB_NODE_STAMP)
check: web-deps
check-web: deps web-deps
	@$(MAKE) --no-print-directory build-all
	prove -j1 $(PROVE_FLAGS) $(TESTS_web)

web-screenshots: deps web-deps
	@$(MAKE) --no-print-directory build-all
	@mkdir -p docs/screenshots
	for t in $(TESTS_web); do TV_SCREENSHOTS=$(CURDIR)/docs/screenshots $$t || exit 1; done
