# kubectl-waypoint: build, test, docs and the local control plane.
GO      ?= go
BIN     ?= bin/kubectl-waypoint
PKG     := github.com/kubectl-waypoint/kubectl-waypoint
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.Commit=$(COMMIT) -X $(PKG)/pkg/version.Date=$(DATE)

.PHONY: all build test lint unit faults fuzz docs controlplane controlplane-current sandbox demo bench mutation release-check sandbox-fixtures clean

# Tools built from the module proxy at the versions their hack/tools/<tool>
# module pins; a bump of that go.mod rebuilds them.
TOOLS         := $(CURDIR)/bin/tools
GOLANGCI_LINT := $(TOOLS)/golangci-lint
GREMLINS      := $(TOOLS)/gremlins
# The domain packages whose own tests `make mutation` measures.
MUTATION_PKGS ?= render enroll istio bulk kube mesh policy gitops

all: build

## build: the binary, stripped and with version information, into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubectl-waypoint

## test: formatting, vet, and every test (unit and integration against a real kube-apiserver and istiod)
# (lint and controlplane run side by side: on a new machine both download and build.)
test:
	@$(MAKE) --no-print-directory -j2 lint controlplane
	$(GO) test -count=1 -timeout 40m ./...

# The packages whose tests all need an API server, or some and some not
# (their TestMain starts one unless -run selects only TestUnit... and Fuzz).
SERVER_PKGS := $(PKG)/pkg/cli $(PKG)/internal/testenv $(PKG)/test/fleet $(PKG)/test/differential

## unit: every test that needs no API server: all of every package but those that start one, and their TestUnit... tests and fuzz seeds
unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v -x $(foreach p,$(SERVER_PKGS),-e $(p)))
	$(GO) test -count=1 -run '^(TestUnit|Fuzz)' ./pkg/cli ./internal/testenv ./test/differential

## lint: gofmt, go vet and golangci-lint (the linters of .golangci.yml)
lint: $(GOLANGCI_LINT)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT): hack/tools/golangci-lint/go.mod hack/tools/golangci-lint/go.sum
	cd hack/tools/golangci-lint && $(GO) build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

$(GREMLINS): hack/tools/gremlins/go.mod hack/tools/gremlins/go.sum
	cd hack/tools/gremlins && $(GO) build -o $@ github.com/go-gremlins/gremlins/cmd/gremlins

## mutation: mutation testing of the domain packages by their own tests (slow; not part of make test)
mutation: $(GREMLINS)
	hack/mutation.sh $(GREMLINS) $(MUTATION_PKGS)

# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 30s

## fuzz: every fuzz target (func Fuzz... under pkg/) in turn for FUZZTIME each, from its corpus in testdata/fuzz; fails if any fails (slow; not part of make test)
fuzz:
	@failed=""; \
	for f in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg | sort); do \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz: $$name (./$$(dirname $$f)) for $(FUZZTIME)"; \
			$(GO) test -run "^$$name\$$" -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f) || failed="$$failed $$name"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed"; exit 1; fi

## faults: the figure of docs/reliability.md, TestBulkUnderFaults with 4 rounds per fault profile (>= 1,000 records each; slow)
faults: controlplane
	bash -o pipefail -c "WAYPOINT_FAULT_ROUNDS=4 $(GO) test ./pkg/cli -run 'TestBulkUnderFaults\$$' -count=1 -v -timeout 30m 2>&1 | grep -v ReverseProxy"

## docs: regenerate the CLI reference in docs/reference from the code
docs:
	$(GO) run ./hack/gendocs docs/reference

## controlplane: build kube-apiserver, etcd, kubectl and istiod into the cache (once), and the version matrix's
controlplane:
	@hack/controlplane-all.sh

# The current control plane and istiod only: what the sandbox and the demo run.
controlplane-current:
	@hack/controlplane-all.sh --current

## sandbox: run a local API server with the Gateway API and Istio CRDs until interrupted
sandbox: build controlplane-current
	hack/sandbox.sh

## sandbox-fixtures: create the README tour's namespaces, services, pods and ServiceEntry (KUBECONFIG of a sandbox)
sandbox-fixtures:
	hack/tour-fixtures.sh

## demo: start a local API server, run the seed walkthrough through the tool, stop it
demo: build controlplane-current
	hack/demo.sh

## bench: measure generate against the figures in docs/performance.md
bench: build
	hack/bench-generate.sh

## release-check: goreleaser check, a snapshot of linux/amd64 run from its archive, the krew manifest validated (when their inputs changed since hack/release/checked; RELEASE_CHECK=full always), else the binary and shim built as goreleaser does and run
release-check:
	hack/release-check.sh

clean:
	rm -rf bin dist
