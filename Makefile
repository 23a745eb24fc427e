# bootc in Go. `make test` and `make demo` install what they need (Debian packages, Go modules).
GO ?= go
TAGS := containers_image_openpgp exclude_graphdriver_btrfs
GOFLAGS_TAGS := -tags "$(TAGS)"
PKGS := ./...

.PHONY: all deps build man vet test test-unit test-cgocheck bench fuzz killtrial demo e2e vagrant-box clean

all: build

deps:
	hack/deps.sh build test

build: deps
	$(GO) build $(GOFLAGS_TAGS) -o bin/bootc ./cmd/bootc

# Manual pages generated from the command-line model: bin/man/bootc.8 and one page per verb
# (man -l bin/man/bootc-switch.8).
man: build
	bin/bootc man bin/man

vet: deps
	@fmt=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet $(GOFLAGS_TAGS) $(PKGS)
	@# The no-cgo twin of ostree/ (nocgo.go): everything builds and vets without libostree.
	CGO_ENABLED=0 $(GO) vet $(GOFLAGS_TAGS) $(PKGS)

# All tests: unit tests, root integration tests (tmpfs sysroots), the race detector, the
# ostree bindings under cgocheck2, then the VM test (e2e). Strict mode (internal/testskip):
# a test that would skip for a missing tool, root, qemu... fails instead, unless the key of
# its skip is listed in TEST_ALLOW_SKIP (e.g. TEST_ALLOW_SKIP="qemu tool:podman"). The
# skips allowed are printed at the end.
TEST_ALLOW_SKIP ?=
SKIPLOG := bin/test-skips.txt
TEST_ENV = BOOTC_TEST_STRICT=1 BOOTC_TEST_ALLOW_SKIP="$(TEST_ALLOW_SKIP)" BOOTC_TEST_SKIPLOG="$(CURDIR)/$(SKIPLOG)"
test: deps build vet
	@mkdir -p bin && : > $(SKIPLOG)
	$(TEST_ENV) $(GO) test $(GOFLAGS_TAGS) -race -count=1 -timeout 20m \
	  $$($(GO) list $(GOFLAGS_TAGS) $(PKGS) | grep -v '/tests/e2e$$')
	$(TEST_ENV) GOEXPERIMENT=cgocheck2 $(GO) test $(GOFLAGS_TAGS) -count=1 -timeout 10m ./ostree/...
	$(TEST_ENV) $(MAKE) e2e
	@echo "== Skipped tests (TEST_ALLOW_SKIP=\"$(TEST_ALLOW_SKIP)\"):"; \
	  if [ -s $(SKIPLOG) ]; then cat $(SKIPLOG); else echo "none"; fi

# Storage benchmark (issue 9), side by side in one run on generated images (BENCH_IMAGES,
# MiB:layers): first `bootc --sysroot switch` against `gzip -dc | ostree commit --tree=tar=`
# and `skopeo copy oci: containers-storage:`, disk used by repo + store, bytes fetched for an
# update after a store reset, and a switch from containers-storage in place. Needs root.
BENCH_IMAGES ?= 700:1,1024:5
BENCH_ROUNDS ?= 2
bench: deps build
	$(GO) build $(GOFLAGS_TAGS) -o bin/bench ./tests/bench
	bin/bench -bootc bin/bootc -images $(BENCH_IMAGES) -rounds $(BENCH_ROUNDS)

# Kill trials (not part of make test; long): SIGKILL bootc switch/upgrade at random points of
# pull, import, deploy and prune over a generated image, checking the host after each kill.
KILL_MIB ?= 700
KILLS ?= 50
killtrial: deps build
	$(GO) build $(GOFLAGS_TAGS) -o bin/bench ./tests/bench
	KILL_MIB=$(KILL_MIB) KILLS=$(KILLS) tests/killtrial/killtrial.sh bin/bootc bin/bench

# Each fuzz target runs for FUZZTIME (60s by default) with its committed seed corpus.
FUZZTIME ?= 60s
FUZZ_TARGETS := ./internal/imgref:FuzzParse ./internal/imgref:FuzzEscape \
	./internal/tarstream:FuzzReader ./internal/importer:FuzzImportLayer \
	./internal/importer:FuzzLayerPath
fuzz: deps
	@set -e; for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t##*:}; echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test $(GOFLAGS_TAGS) -run=NONE -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

# The boot proof in a VM (tests/e2e): v1 of the bootable test image installed with
# `bootc install to-disk --via-loopback`, booted in qemu through its own bootloader (KVM when
# it works here, else TCG), then switch, upgrade, rollback, a power cut in the middle of an
# upgrade, and --download-only/--from-downloaded, each checked on the serial console and on
# the disk; the GRUB/UEFI Secure Boot scenario, the ostree-native image, and the install
# alongside a plain Debian system (to-existing-root, then podman build in the guest). About
# 57 minutes under TCG on 2 cores. BOOTC_E2E_LOGS=DIR keeps the serial consoles.
e2e: deps
	BOOTC_E2E=1 $(GO) test $(GOFLAGS_TAGS) -count=1 -v -timeout 70m ./tests/e2e/

# Builds (or reuses) the test images, installs v1 on a disk image, switches it to v2
# offline with --sysroot, boots it in qemu and ends with the v2 marker from the VM.
demo: deps build
	hack/demo.sh bin/bootc

# A Vagrant box (libvirt provider) of the test VM, built from an installed disk:
# bin/bootc-test.box (see vagrant/ and the README). BOOTC_BOX_BOOT_CHECK=0 skips the
# SSH login check in qemu.
vagrant-box: deps build
	BOOTC=bin/bootc vagrant/build-box.sh bin/bootc-test.box

clean:
	rm -rf bin
