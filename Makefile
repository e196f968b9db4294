# The usual entry points. `make demo` and `make test` install missing system
# packages first (apt, with sudo when not root).
.PHONY: demo test deps build bench-registry clean

deps:
	@bash scripts/deps.sh

demo: deps
	@bash scripts/demo.sh

test: deps
	cargo test --workspace

build: deps
	cargo build --release --workspace

bench-registry: deps
	bash registry/bench/run.sh

clean:
	cargo clean
