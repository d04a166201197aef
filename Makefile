# icerig — build, test and benchmark entry points.
#
#   make test    everything CI runs: vet, unit tests (local, memory, Azurite),
#                short fuzz runs. Installs what it needs (Go modules, Azurite via npm ci).
#   make gate    the main job, the release gate: vet, unit tests, the CrossVersion
#                machines with a larger budget, fixture verification, the GC
#                oracle over every fixture, the trace corpus; writes
#                gate-out/{gate-report.json,junit.xml,summary.md} (BUDGET=F scales it).
#   make smoke   a quick look: the object-store conformance suite on the local
#                filesystem, icerig on the upstream fixtures, the CrossVersion machines.
#   make fuzz    longer fuzz runs (FUZZTIME executions per target, default 2000000x).
#   make bench   benchmarks; copy the numbers into BENCHMARKS.md.
#   make soak DURATION=10m  the state machines with fresh seeds until DURATION.
#   make generate  regenerate committed flatbuffers code from formatv*/schema.

GO        ?= go
# Fuzz budgets are execution counts, not durations: on Go 1.26 a duration
# races the fuzz coordinator's deadline and fails a healthy target with
# "context deadline exceeded" (golang/go#75804, fixed in Go 1.27).
FUZZTIME  ?= 2000000x
SHORTFUZZ ?= 20000x
BENCHTIME ?= 1s

.PHONY: all deps test vet unit fuzz-short fuzz bench gate smoke soak generate clean

all: test

deps: node_modules/.installed
	$(GO) mod download

# npm ci only when the lock file changed since the last install.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# unit runs the whole test suite against one Azurite started (and always
# stopped) by the with-azurite wrapper.
unit: deps
	$(GO) run ./internal/azurite/cmd/with-azurite -- $(GO) test -count=1 ./...

# Every Fuzz target of the module, discovered by scripts/fuzz.sh.
fuzz-short:
	GO=$(GO) scripts/fuzz.sh $(SHORTFUZZ)

test: deps vet unit fuzz-short

fuzz:
	$(MAKE) fuzz-short SHORTFUZZ=$(FUZZTIME)

bench: deps
	$(GO) run ./internal/azurite/cmd/with-azurite -- \
		$(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) ./...

# soak drives the state machines (each actor alone and all together, memory
# and local backends) with fresh seeds for DURATION; a failure writes its
# minimized trace to statemachine/testdata/traces/ and prints both replay commands.
DURATION ?= 10m
soak:
	$(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./statemachine -soak=$(DURATION)

ICECHUNK_FIXTURES ?= ../shared/icechunk-fixtures

# gate runs the release gate under one Azurite (started and always stopped
# by the wrapper); the unit step's Azure tests use it.
BUDGET ?= 1
gate: deps
	$(GO) build -o bin/icerig ./cmd/icerig
	$(GO) run ./internal/azurite/cmd/with-azurite -- bin/icerig gate --budget $(BUDGET) --icerig bin/icerig

smoke:
	$(GO) test -count=1 -run 'TestConformance' -v ./objstore/local | grep -E '^(=== RUN|--- (PASS|FAIL)|ok|FAIL)' | grep -v '=== RUN'
	$(GO) build -o bin/icerig ./cmd/icerig
	bin/icerig fsck --lib v1 $(ICECHUNK_FIXTURES)/test-repo-v1
	bin/icerig fsck --lib v1 $(ICECHUNK_FIXTURES)/split-repo-v1
	bin/icerig read --lib v1 --ref branch:my-branch $(ICECHUNK_FIXTURES)/test-repo-v1 /group1/small_chunks
	bin/icerig inspect --lib v1 $(ICECHUNK_FIXTURES)/test-repo-v1 | head -n 40
	bin/icerig fsck --lib v2 $(ICECHUNK_FIXTURES)/test-repo-v2
	bin/icerig inspect --lib v2 $(ICECHUNK_FIXTURES)/test-repo-v2 | grep -A 12 '"ops_log"'
	$(GO) test -count=1 -run 'CrossVersion' ./statemachine

# flatc comes from Debian's flatbuffers-compiler; the generated code is committed
# and TestCodecGeneratedCodeUpToDate fails when it is stale.
generate:
	flatc --go --go-namespace fbv1 -o formatv1/internal formatv1/schema/ids.fbs \
		formatv1/schema/snapshot.fbs formatv1/schema/manifest.fbs formatv1/schema/transaction_log.fbs
	flatc --go --go-namespace fbv2 -o formatv2/internal formatv2/schema/*.fbs

clean:
	rm -rf node_modules bin gate-out
