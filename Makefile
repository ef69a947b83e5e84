# cpe — build, image, test. GNU make. Targets: build image run test bench cross deps clean clean-perm.
BOARD     ?= qemu-x86_64
GO        ?= go
OUT       := out
IMAGE_DIR := $(OUT)/$(BOARD)
BOARD_DIR := board/$(BOARD)
BIN       := $(OUT)/cpe

# The board's GOARCH (and GOARM), read from its board file.
BOARD_GOARCH := $(shell sed -n 's/^ *"goarch": *"\([^"]*\)".*/\1/p' $(BOARD_DIR)/board.json 2>/dev/null)
BOARD_GOARM  := $(shell sed -n 's/^ *"goarm": *"\([^"]*\)".*/\1/p' $(BOARD_DIR)/board.json 2>/dev/null)
BOARD_GOMIPS := $(shell sed -n 's/^ *"gomips": *"\([^"]*\)".*/\1/p' $(BOARD_DIR)/board.json 2>/dev/null)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo none)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.board=$(BOARD)
# -trimpath and no VCS stamping: the same commit builds the same bytes.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'

# Debian packages the tests and the image build need (binary: package).
DEBS := qemu-system-x86 e2fsprogs cpio xz-utils zstd kmod iproute2 dpkg kea-dhcp4-server kea-dhcp6-server radvd ndisc6 babeld nftables dhcpcd-base kea-admin bird2 iperf3 nmap dnsmasq-base iw wpasupplicant iputils-ping
APT_TIMEOUT ?= 900
APT_OPTS := -o Acquire::Retries=2 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o Dpkg::Use-Pty=0
# Packages whose system tests need the image (go test paths).
SYSTEM_PKGS ?= ./internal/vm/...
SYSTEM_TIMEOUT ?= 45m

.PHONY: all build image run test unit system bench cross deps clean clean-perm

all: build

build:
	$(GOBUILD) -o $(BIN) ./cmd/cpe

# The binary for the board's architecture, then the kernel + initramfs + disk
# (deps: the board's programs, such as wpa_supplicant, come from this machine).
image: deps
	@test -n "$(BOARD_GOARCH)" || { echo "make image: no goarch in $(BOARD_DIR)/board.json (BOARD=$(BOARD))" >&2; exit 1; }
	GOOS=linux GOARCH=$(BOARD_GOARCH) GOARM=$(BOARD_GOARM) GOMIPS=$(BOARD_GOMIPS) $(GOBUILD) -o $(IMAGE_DIR)/cpe ./cmd/cpe
	$(GO) run ./rootfs/cmd/mkimage -board $(BOARD_DIR) -binary $(IMAGE_DIR)/cpe -out $(IMAGE_DIR) -cache $(OUT)/cache

# Boots the image with the serial console on this terminal, wan0 to an "ISP"
# namespace and lan0 to a "LAN host" namespace. Needs root. Ctrl-A x quits.
run: image
	@test "$$(id -u)" = 0 || { echo "make run: needs root (network namespaces and tap devices)" >&2; exit 1; }
	$(GO) run ./internal/vm/cmd/run -image $(IMAGE_DIR)

deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all installed ($(DEBS))"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "make deps: missing Debian packages:$$missing (run as root to install them)" >&2; exit 1; fi; \
	echo "deps: installing$$missing"; \
	timeout $(APT_TIMEOUT) apt-get $(APT_OPTS) update || echo "deps: apt-get update failed or timed out; trying the cached lists" >&2; \
	if ! DEBIAN_FRONTEND=noninteractive timeout $(APT_TIMEOUT) apt-get $(APT_OPTS) install -y --no-install-recommends $$missing; then \
	  for p in $$missing; do \
	    DEBIAN_FRONTEND=noninteractive timeout $(APT_TIMEOUT) apt-get $(APT_OPTS) install -y --no-install-recommends $$p \
	      || { echo "make deps: could not install Debian package $$p (mirror unreachable or timed out after $(APT_TIMEOUT)s?)" >&2; exit 1; }; \
	  done; \
	fi

# Unit and lab tiers (lab tests skip when not root), then the system tier on the image.
test: deps
	$(GO) vet ./...
	$(MAKE) cross
	$(MAKE) unit
	$(MAKE) image
	$(MAKE) system

unit:
	env -u CPE_IMAGE_DIR $(GO) test ./...

system:
	CPE_IMAGE_DIR=$(abspath $(IMAGE_DIR)) $(GO) test -count=1 -timeout $(SYSTEM_TIMEOUT) $(SYSTEM_PKGS)

bench: image
	$(GO) run ./internal/vm/cmd/bench -image $(IMAGE_DIR) -out docs/benchmarks.md

# Keeps the code portable to the boards we expect.
cross:
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build ./...
	GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 $(GO) build ./...
	GOOS=linux GOARCH=mipsle GOMIPS=softfloat CGO_ENABLED=0 $(GO) build ./...
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build ./...

# Removes build outputs. Keeps every perm.img (it holds a device's settings) and
# the kernel download cache out/cache (rm -rf out/cache to pick up a newer kernel).
clean:
	@if [ -d $(OUT) ]; then find $(OUT) -mindepth 1 ! -type d ! -name perm.img ! -path '$(OUT)/cache/*' -delete; find $(OUT) -mindepth 1 -type d -empty -delete; fi

# Removes the persistent disk of BOARD (the next image build creates a blank one).
clean-perm:
	rm -f $(IMAGE_DIR)/perm.img
