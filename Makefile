# The usual entry points. `make demo` and `make test` install missing system
# packages first (apt, with sudo when not root).
.PHONY: demo test deps build bench-registry bench-media bench-hw hw-test hw-test-vm hw-test-vm-arm64 clean

deps:
	@bash scripts/deps.sh

# DEMO_SECONDS: how long the demo call's video and audio run.
DEMO_SECONDS ?= 5

# cargo shows its progress: the first build takes a minute or two.
demo: deps
	@echo "building peercall (the first build takes a minute or two)..."
	@cargo build --release -p peercall-registry -p peercall-peer
	@target/release/peercall demo --seconds $(DEMO_SECONDS)

test: deps
	cargo test --workspace

# The abuse suite (docs/threat-model.md): floods, idle and slow connections,
# forged and odd packets, look-alike names, against the release binaries on
# loopback, each load bounded in count and time. Its tests are #[ignore]d in
# `make test` and live in test targets named abuse*. --nocapture: each test
# prints its figures (issue 15's bars as measured) in the CI log.
.PHONY: test-abuse
test-abuse: deps
	cargo build --release -p peercall-registry -p peercall-peer
	cargo test --release -p peercall-registry -p peercall-peer --test 'abuse*' -- --include-ignored --test-threads=1 --nocapture

# Every fuzz target for FUZZ_SECONDS (default 20) from the corpus kept in
# fuzz/corpus; installs nightly and cargo-fuzz when missing (scripts/fuzz.sh).
.PHONY: fuzz
fuzz: deps
	bash scripts/fuzz.sh

build: deps
	cargo build --release --workspace

# The tests that need a real camera and sound card, on a board that has them
# (each prints "skipped:" and why where a device is absent; PEERCALL_HW_EXPECT
# lists devices whose absence fails instead, see hw-tests/src/lib.rs).
hw-test: deps
	cargo test --release -p peercall-hw-tests -- --test-threads=1

# The same tests in a VM with the kernel's virtual camera and sound card.
hw-test-vm: deps
	bash hw-tests/run-vm.sh

# The same tests on an emulated arm64 board (qemu-system-aarch64 -M virt -cpu
# cortex-a72, Debian's arm64 kernel), run by the aarch64 release binaries.
hw-test-vm-arm64: deps
	bash hw-tests/run-vm.sh aarch64

bench-registry: deps
	bash registry/bench/run.sh

bench-media: deps
	bash peer/bench/media.sh

# Calls under seeded loss, delay and a rate cap beside GStreamer with NACK
# and RTX (docs/benchmarks.md, "Loss and rate"); CALL_SECONDS, SCENARIOS,
# GST_LATENCIES, LOSS_JSON: see the script's head.
.PHONY: bench-loss
bench-loss: deps
	bash peer/bench/loss.sh

bench-hw: deps
	bash hw-tests/bench.sh

clean:
	cargo clean

# ARM builds, Debian packages and services (cross/README.md).
-include cross/cross.mk

# Debian packages and systemd units (packaging/README.md).
-include packaging/packaging.mk
