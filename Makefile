# Lobby — the two commands a newcomer needs are `make run` and `make test`.

GO      ?= go
PKGS    ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build test lint bench bench-rush e2e soak clean

## run: start Lobby on the embedded SQLite default with the built-in Exchange Online emulator (--dev)
run:
	@echo "lobby: building (the first build on a fresh machine compiles the dependencies, among them the pure-Go SQLite driver, and takes a few minutes; later runs start in seconds)"
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/lobby serve --dev

## build: build bin/lobby
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/lobby ./cmd/lobby

## test: all tests with the race detector (Postgres tests need LOBBY_TEST_DATABASE_URL)
test:
	@if [ -z "$$LOBBY_TEST_DATABASE_URL" ]; then echo "postgres tests skipped: LOBBY_TEST_DATABASE_URL not set" >&2; fi
	$(GO) test -race -count=1 -timeout 8m $(PKGS)

## lint: gofmt, go vet and staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

## bench: storage, notify and portal benchmarks (ratios against baselines in the same run)
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./storage/... ./notify/ .

## bench-1m: lifecycle jobs, guest search and the sponsor lists at 1,000,000 guests, the mail log at 1,000,000 messages, on SQLite and Postgres (LOBBY_TEST_DATABASE_URL), p50/p99 against the old queries; seeds for minutes
.PHONY: bench-1m
bench-1m:
	LOBBY_BENCH_1M=1 $(GO) test -v -run '^$$' -bench 'Jobs1M|Search1M|MailLog1M' -benchtime 1x -timeout 60m ./storage/sqlite/ ./storage/postgres/

## bench-rush: 64 concurrent registrations for 20 s on SQLite and Postgres (LOBBY_TEST_DATABASE_URL) while mail goes
## out through the emulator at Exchange-like latencies: registrations/s, mails/s, their ratio, p50/p99
bench-rush:
	$(GO) test -run '^$$' -bench Rush -benchtime 1x -timeout 10m .

## e2e: browser end-to-end tests in headless Chromium (LOBBY_CHROMIUM names the browser; LOBBY_E2E_SHOTS keeps the screenshots)
e2e:
	$(GO) test -tags e2e -race -count=1 -timeout 10m ./e2e/...

## integration: the network integrations against the real programs (nginx, Caddy, Chromium, ...); skipped without them, a failure under CI=true
.PHONY: integration
integration:
	$(GO) test -tags integration -race -count=1 -timeout 10m ./integration/...

## soak: the fault suite: lobby processes under SIGKILL, SMTP and token endpoint outages, a database restart, a killed replica; prints accepted, delivered, lost and duplicated per scenario (about 6 minutes; make test runs a short part)
soak:
	$(GO) test -tags soak -race -count=1 -timeout 15m -run TestSoak -v ./soak/

clean:
	rm -rf bin
