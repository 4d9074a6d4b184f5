# Enclave: `make help` lists the targets.

GO        ?= go
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
BIN       := $(CURDIR)/bin
BUILD     := $(CURDIR)/build
IMAGES    := $(BUILD)/images
VAULT_BIN := $(BUILD)/bin/vault
# etcd, kube-apiserver, kube-controller-manager and kubelet for the Kubernetes backend's tests.
K8S_BIN   := $(BUILD)/bin
# make install: DESTDIR is prepended to every path, PREFIX is where they are at run time.
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
UNITDIR   ?= $(PREFIX)/lib/systemd/system
# Tests that need root, containerd and Vault fail instead of skipping when CI=true.
TESTFLAGS ?= -race -timeout 40m

export ENCLAVE_IMAGES := $(IMAGES)
export ENCLAVE_VAULT_BIN := $(VAULT_BIN)
export ENCLAVE_K8S_BIN := $(K8S_BIN)

.PHONY: help build install test test-short demo bench bench-large lint images vault k8s deps fuzz clean man

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build enclaved, enclave and the tools into bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

man: ## write the enclave CLI's man pages (one a command) into build/man
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/enclave/enclave-man $(BUILD)/man

# images reads /bin/busybox of busybox-static, so deps comes first (make -j too).
images: deps ## build the built-in job images as OCI archives into build/images/ (after deps)
	$(GO) run ./images/build -out $(IMAGES)

install: build ## install enclaved, enclave, the Kubernetes node's enclave-runc and enclave-cni (PREFIX/bin) and enclaved.service (PREFIX/lib/systemd/system), under DESTDIR
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BIN)/enclaved $(BIN)/enclave $(BIN)/enclave-runc $(BIN)/enclave-cni $(DESTDIR)$(BINDIR)/
	sed 's|@BINDIR@|$(BINDIR)|g' tools/systemd/enclaved.service > $(DESTDIR)$(UNITDIR)/enclaved.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/enclaved.service

vault: ## build the Vault server used by the keyring tests (only when missing)
	sh tools/vault/build.sh $(VAULT_BIN)

k8s: ## build the Kubernetes the sandbox's Kubernetes backend is tested on (etcd, apiserver, controller-manager, kubelet; only when missing)
	sh tools/k8s/build.sh $(K8S_BIN)

deps: ## install containerd, runc and busybox-static from Debian when missing (needs root then)
	sh tools/install-deps.sh

test: images ## run every test: unit, Rego, integration against containerd and Vault
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

# With a warm build cache most of test-short is linking its ~48 test
# binaries: -s -w leaves out the symbol table and debug information (stack
# traces keep their names and lines), about halving each link; -p 4 lets
# binaries link and tests that mostly wait (timeouts, a browser, child
# processes) run beside the CPU-bound ones on 2 cores.
test-short: ## run the fast tests only
	$(GO) test -short -p 4 -ldflags='-s -w' ./...

demo: deps build images ## install what is missing, build, and run the main path end to end
	sh tools/demo.sh

bench: build images k8s ## run the benchmarks; each prints ratios against a reference measured in the same run
	$(GO) test -run '^$$' -bench DurableAppend -benchtime 20000x ./enclave/audit
	$(GO) test -run '^$$' -bench AppendLatency -benchtime 1x ./enclave/audit
	$(GO) test -run '^$$' -bench Verify1M -benchtime 1x -timeout 30m ./enclave/audit
	$(GO) test -run '^$$' -bench Whoami -benchtime 2000x ./cmd/enclaved
	$(GO) test -run '^$$' -bench ServiceVerify -benchtime 1x -timeout 10m ./cmd/enclaved
	$(GO) test -run '^$$' -bench Decide -benchtime 5000x ./policies/opa
	$(GO) test -run '^$$' -bench Scan -benchtime 3x ./egress-review
	$(GO) test -run '^$$' -bench Contract -benchtime 3x -timeout 30m ./egress-review/checks
	$(GO) test -run '^$$' -bench SealOutput -benchtime 5x ./enclave/jobs
	$(GO) test -run '^$$' -bench . -benchtime 15x -timeout 30m ./sandbox-runtime/containerd
	$(GO) test -run '^$$' -bench JobOverhead -benchtime 15x -timeout 30m ./sandbox-runtime/kubernetes
	$(GO) test -run '^$$' -bench Concurrent32 -benchtime 2x -timeout 30m ./sandbox-runtime/kubernetes
	$(GO) run ./enclave/ingest/internal/bench -mb 50
	$(GO) test -run '^$$' -bench UsageReport1M -benchtime 1x -timeout 30m ./enclave/usage
	$(GO) test -run '^$$' -bench AuditQuery1M -benchtime 1x -timeout 30m ./enclave/server

bench-large: ## the dataset import at 2 GiB against a plain arrow-go CSV-to-IPC conversion (about 10 minutes, 8 GB of /tmp)
	$(GO) run ./enclave/ingest/internal/bench -mb 2048 -decrypt=false

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt would change the files above'; exit 1; }
	$(GO) vet ./...

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	sh tools/fuzz.sh $${FUZZTIME:-20s}

clean: ## remove build outputs
	rm -rf $(BIN) $(BUILD)/images $(BUILD)/demo
