# Entra Remediator. The two commands that matter:
#   make run    one process with embedded defaults (miniredis, SQLite, Graph simulator + demo tenant)
#   make test   installs and starts real redis-server and PostgreSQL, runs every test, stops them
SHELL := /bin/bash
GO ?= go
PKGS := ./...
TEST_TIMEOUT ?= 40m

.PHONY: run build test test-go vet fmt-check compose-check docker-binary services-start services-stop bench

run:
	$(GO) run ./cmd/remediator run

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/remediator ./cmd/remediator

test:
	@scripts/test-services.sh start
	@status=0; \
	$(MAKE) --no-print-directory fmt-check vet test-go compose-check docker-binary || status=$$?; \
	scripts/test-services.sh stop; \
	exit $$status

test-go:
	REMEDIATOR_TEST_DATABASE_URL="$$(scripts/test-services.sh url)" \
	  $(GO) test -p 2 -timeout $(TEST_TIMEOUT) $(PKGS)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# No Docker engine runs here: validate the compose file and build the exact
# binary the Dockerfile builds.
compose-check:
	@command -v docker-compose >/dev/null 2>&1 || scripts/apt-install.sh docker-compose
	REMEDIATOR_ENCRYPTION_KEYS=$${REMEDIATOR_ENCRYPTION_KEYS:-$$(printf '0%.0s' $$(seq 64))} \
	  REMEDIATOR_API_KEY=$${REMEDIATOR_API_KEY:-compose-check-placeholder} \
	  docker-compose -f docker-compose.yml config -q
	@echo "docker-compose.yml is valid"

docker-binary:
	CGO_ENABLED=0 $(GO) build -trimpath -o /tmp/remediator-docker ./cmd/remediator
	@echo "binary of deploy/Dockerfile builds"

# Scale benchmark under Graph's throttling (a command, not a test): prints the
# figures and writes docs/bench/report.md, report.json and writes.svg.
# BENCH_FLAGS=-quick runs small sizes in about two minutes.
bench:
	@scripts/test-services.sh start
	@status=0; \
	REMEDIATOR_TEST_DATABASE_URL="$$(scripts/test-services.sh url)" \
	  $(GO) run ./cmd/bench -out docs/bench $(BENCH_FLAGS) || status=$$?; \
	scripts/test-services.sh stop; \
	exit $$status

services-start:
	scripts/test-services.sh start

services-stop:
	scripts/test-services.sh stop
