# Almanac: `make run` builds bin/almanac and starts a server on ./data, `make test` runs every test.
GO     ?= go
TOOL   := $(GO) tool -modfile=tools/go.mod
PKGS   := ./...
STATIC ?= bin/almanac-static

.PHONY: run cluster test lint generate check bench fuzz bench-compare static

run: ## build bin/almanac and start it with data in ./data (Ctrl-C stops it)
	$(GO) build -o bin/almanac ./cmd/almanac
	./bin/almanac serve --data ./data

cluster: ## build bin/almanac and start three clustered nodes on loopback, data in ./cluster-data (Ctrl-C stops them)
	$(GO) build -o bin/almanac ./cmd/almanac
	./scripts/cluster.sh

static: ## a static binary (no C library needed) as the Containerfile builds it: $(STATIC)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(STATIC) ./cmd/almanac

# Four parallel tests a package and four packages at once (-p; both are
# GOMAXPROCS, 2 here, by default): most of the long tests wait on fsyncs,
# child processes, clients and the cluster's RAFT elections, not the CPU,
# and at -p 2 the two longest waiting packages (cmd/almanac and its
# cluster tests, cmd/almanac/clustertest) held both slots while engine's
# tests and the other packages' builds waited for one.
# The packages start in the order named (the go command builds and runs
# them in its arguments' order, a package named twice once): the longest
# first, so that engine's CPU (207 CPU-s at CI's scale, session 15) runs
# beside the waiting of cmd/almanac, its cluster tests and bench's smoke
# tests rather than after them. In ./...'s order, engine (17 minutes under
# load 20) started 10 minutes into a 27-minute run, after bench, cmd and
# the dav packages, and ended 11 minutes after every other package.
# ALMANAC_TEST_SCALE=N runs the randomized and crash tests N times longer.
TESTFIRST := ./engine ./cmd/almanac ./cmd/almanac/clustertest ./dav ./bench ./dav/audit
# The test binaries link without DWARF (-w): linking the 32 race-enabled
# test binaries anew took 92 CPU-s with it and 50 without (session 16); a
# change to engine relinks 18 of them, the largest. Panics, t.Fatal and
# the race detector's reports still name functions, files and lines
# (pclntab).
TESTLDFLAGS := -ldflags=-w
test: ## every test, with the race detector
	$(GO) test -race $(TESTLDFLAGS) -count=1 -p 4 -parallel 4 -timeout 20m $(TESTFIRST) $(PKGS)

# LINTFLAGS: build flags for the packages go vet and staticcheck compile
# (staticcheck through GOFLAGS: its `go list -export` compiles them).
# .ci/run passes the fuzz pass's (.ci/fuzzflags), so that lint, the fuzz
# pass and its tests without -race compile the dependency graph once.
# LINTGOGC: the garbage collector's GOGC for go vet, staticcheck and the
# compiles they run (most of lint's CPU when the module changed): 13% of
# staticcheck's CPU profile was the collector's marking; at 400 it took
# 22-26% less CPU, the compiles 16% less, for peak resident sets 1.6x as
# large (bench/micro-results.md, session 17).
LINTGOGC ?= 400
lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	GOGC=$(LINTGOGC) $(GO) vet $(LINTFLAGS) $(PKGS)
	GOGC=$(LINTGOGC) GOFLAGS="$$GOFLAGS $(LINTFLAGS)" $(TOOL) staticcheck $(PKGS)

generate: ## regenerate protobuf code with buf
	$(TOOL) buf lint
	$(TOOL) buf generate

# Generates into a temporary directory and compares, leaving the tree as it
# is: .ci/run checks beside the tests, which compile proto/'s packages.
check: ## fail when generated code is not current
	$(TOOL) buf lint
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	  $(TOOL) buf generate -o "$$out" && \
	  diff -r -x '*.proto' proto "$$out/proto" || { echo "generated code is not current: run make generate"; exit 1; }

bench: ## micro-benchmarks, benchstat-friendly
	$(GO) test -run '^$$' -bench . -benchmem -count 5 $(PKGS)

fuzz: ## a short pass of every fuzz target
	./.ci/fuzz 60000x

bench-compare: ## Almanac vs Radicale vs Xandikos, same run, same data: writes bench/RESULTS.md and bench/results.svg (~30 min)
	./bench/scripts/compare.sh $(BENCH_ARGS)
