# ARM builds (cross/README.md), included by the top-level Makefile.
#
#   make cross-aarch64   release peercall and peercall-registry for 64-bit Pi OS / Debian arm64
#   make cross-armv7     the same for 32-bit Pi OS (armhf)
#   make cross-armv6     static ARMv6 binaries for every 32-bit Pi OS board,
#                        the Pi 1, Zero and Zero W included (no SDL2 window)
#   make test-armv6      a call between ARMv6 peers under qemu-arm -cpu arm1176
#   make test-aarch64    the workspace's tests for aarch64 under qemu-user
#   make test-armv7      the same for armv7 under qemu-arm
#   make cross-sizes     both targets' binaries, stripped, against the 3 MiB target
#
# Each installs what is missing first (cross/setup.sh: rustup target, cross gcc,
# the target's libraries through multiarch; qemu-user for the tests). Linkers,
# runners and pkg-config settings are in .cargo/config.toml.

.PHONY: cross-aarch64 cross-armv7 test-aarch64 test-armv7 cross-sizes cross-setup-aarch64 cross-setup-armv7
.PHONY: cross-armv6 cross-setup-armv6 test-armv6 cross-sizes-armv6

CROSS_AARCH64 := aarch64-unknown-linux-gnu
CROSS_ARMV7 := armv7-unknown-linux-gnueabihf
# The shipped binaries (packages peercall-peer and peercall-registry).
CROSS_PKGS := -p peercall-peer -p peercall-registry
CROSS_BINS := peercall peercall-registry

cross-setup-aarch64:
	@bash cross/setup.sh aarch64

cross-setup-armv7:
	@bash cross/setup.sh armv7

cross-setup-armv6:
	@bash cross/setup.sh armv6

cross-aarch64: cross-setup-aarch64
	cargo build --release --target $(CROSS_AARCH64) $(CROSS_PKGS)
	@for b in $(CROSS_BINS); do ls -l target/$(CROSS_AARCH64)/release/$$b; done

cross-armv7: cross-setup-armv7
	cargo build --release --target $(CROSS_ARMV7) $(CROSS_PKGS)
	@for b in $(CROSS_BINS); do ls -l target/$(CROSS_ARMV7)/release/$$b; done

# ARMv6 (cross/README.md, "ARMv6"). rustup has no prebuilt standard library
# for arm-unknown-linux-musleabihf here, so cargo builds it (-Zbuild-std, which
# stable cargo allows with RUSTC_BOOTSTRAP=1), with panic=unwind as on the
# other targets. The peer without its SDL2 window: a static SDL2 would bring
# X11, Wayland and GL with it, and the Pi Zero's boards run headless.
# bindgen's --sysroot must be absolute (.cargo/config.toml says why it is here).
CROSS_ARMV6 := arm-unknown-linux-musleabihf
ARMV6_CARGO = RUSTC_BOOTSTRAP=1 \
	BINDGEN_EXTRA_CLANG_ARGS_arm_unknown_linux_musleabihf="--sysroot=$(CURDIR)/target/armv6-sysroot" \
	cargo build --release --target $(CROSS_ARMV6) -Zbuild-std=std,panic_unwind

cross-armv6: cross-setup-armv6
	$(ARMV6_CARGO) $(CROSS_PKGS) --no-default-features
	@for b in $(CROSS_BINS); do ls -l target/$(CROSS_ARMV6)/release/$$b; done

# A registry and two ARMv6 peers in a 5 s call with the synthetic sources,
# all emulated as an ARM1176 (cross/test-armv6.sh).
test-armv6: cross-armv6
	@bash cross/setup.sh armv6 --test
	bash cross/test-armv6.sh

cross-sizes-armv6: cross-armv6
	@bash cross/sizes.sh $(CROSS_ARMV6):arm-linux-gnueabihf

# The tests run under qemu-user: cargo starts each test binary through the
# target's runner, and the binaries the integration tests start as child
# processes run through the kernel's binfmt_misc registration of qemu (which
# setup.sh --test installs and checks). Two departures from a host `cargo
# test`, both because emulation is about ten times slower than the host (the
# media tests hold real 30 fps calls between two peer processes):
# - the `qemu` profile (.cargo/config.toml): dev with opt-level 2, debug
#   assertions and overflow checks still on; unoptimised peers cannot keep a
#   call real-time under emulation;
# - one test at a time: two calls at once need more than two emulated CPUs;
# - PEERCALL_EMULATED tells the few tests with a rate bar (the window's
#   frames presented) that they run emulated.
QEMU_TEST = PEERCALL_EMULATED=qemu-user cargo test --workspace --no-fail-fast --profile qemu --target $(1) -- --test-threads=1

test-aarch64:
	@bash cross/setup.sh aarch64 --test
	$(call QEMU_TEST,$(CROSS_AARCH64))

test-armv7:
	@bash cross/setup.sh armv7 --test
	$(call QEMU_TEST,$(CROSS_ARMV7))

# Each binary's size after `strip --strip-all` (the release profile already
# strips, so this is the file as built), in bytes and MiB, against the 3 MiB
# target; exits non-zero when one is over.
cross-sizes: cross-aarch64 cross-armv7
	@bash cross/sizes.sh $(CROSS_AARCH64):aarch64-linux-gnu $(CROSS_ARMV7):arm-linux-gnueabihf
