# The usual entry points. `make demo` and `make test` install missing system
# packages first (apt, with sudo when not root).
.PHONY: demo test deps build bench-registry bench-media clean

deps:
	@bash scripts/deps.sh

# DEMO_SECONDS: how long the demo call's video and audio run.
DEMO_SECONDS ?= 5

demo: deps
	@cargo build --release -q -p peercall-registry -p peercall-peer
	@target/release/peercall demo --seconds $(DEMO_SECONDS)

test: deps
	cargo test --workspace

build: deps
	cargo build --release --workspace

bench-registry: deps
	bash registry/bench/run.sh

bench-media: deps
	bash peer/bench/media.sh

clean:
	cargo clean
