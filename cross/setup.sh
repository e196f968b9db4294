#!/usr/bin/env bash
# Prepares a Debian or Ubuntu x86-64 machine to cross-compile peercall for an
# ARM board, installing only what is missing (so running it again does
# nothing): the Rust target (rustup), the distribution's cross compiler, and
# the board's libraries, which the crates find with pkg-config: for aarch64
# the arm64 -dev packages through multiarch (dpkg --add-architecture), for
# armv7 a Debian armhf sysroot under target/sysroot/armhf (mmdebstrap; see
# "The armhf sysroot" in cross/README.md for why not multiarch), for armv6 a
# static musl sysroot built from source (cross/armv6-sysroot.sh).
#
#   cross/setup.sh aarch64          # Raspberry Pi OS 64-bit, Debian arm64
#   cross/setup.sh armv7            # Raspberry Pi OS 32-bit, Debian armhf
#   cross/setup.sh armv6            # the same, any board (Pi 1, Zero): static
#   cross/setup.sh aarch64 --test   # and qemu-user, to run the tests
#
# apt runs with sudo when not root. .cargo/config.toml holds the linkers,
# runners and pkg-config/bindgen settings that go with what this installs.
set -euo pipefail

usage() { echo "usage: $0 aarch64|armv7|armv6 [--test]" >&2; exit 2; }
[ $# -ge 1 ] || usage
want_qemu=0
case "${2:-}" in --test) want_qemu=1 ;; "") ;; *) usage ;; esac

case "$1" in
  aarch64|arm64|aarch64-unknown-linux-gnu)
    rust_target=aarch64-unknown-linux-gnu deb_arch=arm64 gnu=aarch64-linux-gnu qemu=qemu-aarch64 ;;
  armv7|armhf|armv7-unknown-linux-gnueabihf)
    rust_target=armv7-unknown-linux-gnueabihf deb_arch=armhf gnu=arm-linux-gnueabihf qemu=qemu-arm ;;
  armv6|arm-unknown-linux-musleabihf)
    rust_target=arm-unknown-linux-musleabihf deb_arch=armv6 gnu=arm-linux-gnueabihf qemu=qemu-arm ;;
  *) usage ;;
esac

say() { echo "cross: $*"; }

# --- Rust target -----------------------------------------------------------
# armv6: cargo builds the standard library from the toolchain's source
# (-Zbuild-std, cross/cross.mk), which also holds the unwinder's.
if [ "$deb_arch" = armv6 ]; then
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library/std" ]; then
    command -v rustup >/dev/null 2>&1 \
      || { echo "cross: armv6 needs the Rust standard library's source: install Rust with rustup and add rust-src" >&2; exit 1; }
    say "rustup component add rust-src"
    rustup component add rust-src
  fi
elif command -v rustup >/dev/null 2>&1; then
  if ! grep -qx "$rust_target" <<<"$(rustup target list --installed)"; then
    say "rustup target add $rust_target"
    rustup target add "$rust_target"
  fi
elif [ ! -d "$(rustc --print sysroot)/lib/rustlib/$rust_target" ]; then
  echo "cross: no rustup, and this Rust has no standard library for $rust_target;" >&2
  echo "cross: install Rust with rustup (https://rustup.rs) or your distribution's" >&2
  echo "cross: libstd-rust-dev:$deb_arch" >&2
  exit 1
fi

# --- System packages -------------------------------------------------------
# Host side: a C toolchain for build scripts and proc macros, pkg-config,
# libclang for the v4l crate's bindgen, and the distribution's cross gcc with
# the target's C library and kernel headers as cross packages (Architecture:
# all, under /usr/$gnu: the linker's libc and the headers bindgen reads
# videodev2.h and asm/ from). Target side, through multiarch: the libraries
# the peer links (ALSA, Opus, libjpeg-turbo, and SDL2 for the call window),
# which bring the target's libc6 and with it the dynamic loader qemu-user runs
# the binaries with. libsdl2-dev is the heavy one (about 190 packages with
# its X11, Wayland, GL and PulseAudio headers): the sdl2 crate links -lSDL2,
# and the linker needs the libraries libSDL2 itself links to be there too.
#
# libc6-dev:$deb_arch and linux-libc-dev:$deb_arch would do as well, but must
# be exactly the host's versions (and pull in libtirpc, krb5 and libssl of the
# target too): a mirror whose $deb_arch security index lags the host's then
# leaves them uninstallable. The cross packages have no such tie.
#
# SRTP: srtp-ffi/ builds libsrtp2 from source with the cross gcc, on the
# target's OpenSSL libcrypto (libssl-dev, multiarch like the others); ARMv6
# builds its own libsrtp2 on mbedtls into its sysroot.
host_pkgs=(gcc libc6-dev pkg-config libclang1 "gcc-$gnu" "libc6-dev-$deb_arch-cross" "linux-libc-dev-$deb_arch-cross")
target_pkgs=(libasound2-dev libopus-dev libturbojpeg0-dev libsdl2-dev libssl-dev)
# armhf: the target's libraries go into a sysroot of their own (below), made
# by mmdebstrap from Debian's archive, which checks it with Debian's keyring.
sysroot_pkgs=(libc6-dev libasound2-dev libopus-dev libturbojpeg0-dev libsdl2-dev libssl-dev)
if [ "$deb_arch" = armhf ]; then
  host_pkgs+=(mmdebstrap debian-archive-keyring)
  target_pkgs=()
elif [ "$deb_arch" = armv6 ]; then
  # The libraries are built from Debian's source (cross/armv6-sysroot.sh):
  # only the cross gcc, the kernel's headers and the build tools. g++: the
  # unwinder (LLVM's libunwind) is C++, which the gcc driver compiles with
  # g++'s cc1plus.
  host_pkgs=(gcc libc6-dev pkg-config libclang1 "gcc-$gnu" "g++-$gnu" "linux-libc-dev-armhf-cross" make cmake curl patch)
  target_pkgs=()
fi
[ $want_qemu -eq 1 ] && host_pkgs+=(qemu-user)

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
# A host package: this machine's architecture, or Architecture: all. Asked
# unqualified, dpkg answers for every installed architecture at once (with
# libc6-dev:arm64 beside the host's, two statuses run together).
host_installed() { installed "$1:$(dpkg --print-architecture)" || installed "$1"; }

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "cross: no dpkg/apt here; install the equivalents of: ${host_pkgs[*]}" >&2
  echo "cross: and, for $deb_arch: ${target_pkgs[*]} (or use a sysroot, see cross/README.md)" >&2
  exit 1
fi

sudo=""
as_root() {
  if [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; then
    command -v sudo >/dev/null 2>&1 || { echo "cross: need root for: $*; run as root or install sudo" >&2; exit 1; }
    sudo=sudo
  fi
  $sudo "$@"
}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  say "installing $*"
  # A mirror caught mid-sync fails one index but leaves the rest usable: go
  # on, and let the install say if what it needs is missing.
  as_root apt-get update -qq || say "apt-get update reported errors (above); trying the install anyway"
  as_root apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
for p in "${host_pkgs[@]}"; do host_installed "$p" || missing+=("$p"); done
for p in "${target_pkgs[@]}"; do installed "$p:$deb_arch" || missing+=("$p:$deb_arch"); done

if [ ${#missing[@]} -gt 0 ] && [ ${#target_pkgs[@]} -eq 0 ]; then
  apt_install "${missing[@]}"
elif [ ${#missing[@]} -gt 0 ]; then
  native=$(dpkg --print-architecture)
  if [ "$native" != "$deb_arch" ] && ! grep -qx "$deb_arch" <<<"$(dpkg --print-foreign-architectures)"; then
    say "dpkg --add-architecture $deb_arch"
    as_root dpkg --add-architecture "$deb_arch"
  fi

  # Ubuntu keeps arm64/armhf packages on ports.ubuntu.com, not on the archive
  # the amd64 machine already uses; Debian's mirrors carry every
  # architecture. Add a source for the target architectures only (the
  # existing sources then skip them with a notice, as their Release files do
  # not list them).
  . /etc/os-release
  if [ "${ID:-}" = ubuntu ]; then
    ports=/etc/apt/sources.list.d/peercall-cross-ports.list
    codename=${VERSION_CODENAME:-${UBUNTU_CODENAME:-}}
    if ! grep -qs "arch=[^]]*$deb_arch" "$ports"; then
      arches=$(grep -s -o 'arch=[a-z0-9,]*' "$ports" | head -1 | cut -d= -f2 || true)
      arches=${arches:+$arches,}$deb_arch
      say "adding $ports (ports.ubuntu.com, $arches)"
      for suite in "$codename" "$codename-updates" "$codename-security"; do
        echo "deb [arch=$arches] http://ports.ubuntu.com/ubuntu-ports $suite main universe"
      done | as_root tee "$ports" >/dev/null
    fi
  fi

  apt_install "${missing[@]}"
fi

# --- The armhf sysroot ---------------------------------------------------------
# Debian bookworm's armhf libraries and headers, unpacked (no maintainer
# scripts, so no emulation) into target/sysroot/armhf: cross/armhf-gcc links
# against it and cross/armhf-run runs the binaries with it as qemu's library
# prefix. Bookworm, the oldest suite the packages support: the binaries then
# ask for no newer library versions than bookworm's (the board's own
# libraries are the ones used at run time). Remade when the package list
# changes; `rm -rf target/sysroot/armhf` remakes it.
if [ "$deb_arch" = armhf ]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  sysroot=$root/target/sysroot/armhf
  suite=${PEERCALL_ARMHF_SUITE:-bookworm}
  mirror=${PEERCALL_ARMHF_MIRROR:-http://deb.debian.org/debian}
  want="$suite ${sysroot_pkgs[*]}"
  if [ "$(cat "$sysroot.made" 2>/dev/null)" != "$want" ]; then
    say "making the armhf sysroot $sysroot (Debian $suite: ${sysroot_pkgs[*]})"
    rm -rf "$sysroot" "$sysroot.made"
    mkdir -p "$(dirname "$sysroot")"
    # As root, then handed to the user: mmdebstrap unpacks files owned by
    # root, which an unprivileged unshare mode would need subuids for.
    include=$(IFS=,; echo "${sysroot_pkgs[*]}")
    as_root mmdebstrap --quiet --variant=extract --arch=armhf --include="$include" \
      "$suite" "$sysroot" "deb $mirror $suite main"
    [ "$(id -u)" -eq 0 ] || as_root chown -R "$(id -u):$(id -g)" "$sysroot"
    [ -e "$sysroot/usr/lib/arm-linux-gnueabihf/libopus.so" ] \
      || { echo "cross: the armhf sysroot $sysroot has no libopus.so: mmdebstrap failed" >&2; exit 1; }
    echo "$want" > "$sysroot.made"
  fi
fi

# --- The ARMv6 sysroot ---------------------------------------------------------
# Static musl and the peer's libraries, built from Debian bookworm's source for
# the ARM1176 into target/armv6-sysroot; remade only when its recipe changes.
if [ "$deb_arch" = armv6 ]; then
  bash "$(dirname "$0")/armv6-sysroot.sh"
fi

[ $want_qemu -eq 1 ] || exit 0

# --- Running target binaries (--test) ---------------------------------------
# cargo starts each test binary through its runner (qemu-aarch64 / qemu-arm in
# .cargo/config.toml), but the integration tests start peercall and
# peercall-registry themselves, as child processes: the kernel runs those
# through binfmt_misc, which must hand ARM executables to qemu. Probe it with
# a small program of the target's, run directly.
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
echo 'int main(void) { return 0; }' > "$probe_dir/probe.c"
if [ "$deb_arch" = armv6 ]; then
  # Static, and run as the board's ARM1176 (what cross/armv6-run sets).
  "$(dirname "$0")/armv6-cc" -o "$probe_dir/probe" "$probe_dir/probe.c"
  export QEMU_CPU=arm1176
  qemu=qemu-arm
else
  "$gnu-gcc" -o "$probe_dir/probe" "$probe_dir/probe.c"
fi
# armhf: the loader is in the sysroot, where cross/armhf-run points qemu.
[ "$deb_arch" = armhf ] && export QEMU_LD_PREFIX="$sysroot"
runs() { "$probe_dir/probe" 2>/dev/null; }
runs && exit 0

# Registration comes with qemu-user-binfmt (or qemu-user-static, if that is
# what this machine has); systemd registers it at boot and on install, and
# without systemd running (containers) binfmt-support's update-binfmts does.
reg=()
installed qemu-user-binfmt || installed qemu-user-static || reg+=(qemu-user-binfmt)
[ -d /run/systemd/system ] || installed binfmt-support || reg+=(binfmt-support)
[ ${#reg[@]} -eq 0 ] || apt_install "${reg[@]}"
runs && exit 0
say "registering $qemu with binfmt_misc"
if [ -d /run/systemd/system ]; then
  as_root systemctl restart systemd-binfmt.service || true
fi
if ! runs && command -v update-binfmts >/dev/null 2>&1; then
  as_root update-binfmts --enable "$qemu" || true
fi
runs && exit 0
cat >&2 <<MSG
cross: this machine cannot run $deb_arch executables directly: binfmt_misc
cross: has no working qemu registration for them (/proc/sys/fs/binfmt_misc/$qemu),
cross: and registering it failed. Test binaries would still start (cargo's
cross: runner), but every test that starts peercall or peercall-registry would
cross: fail with "Exec format error". In a container, register qemu on the
cross: host (it is kernel-wide), e.g. install qemu-user-binfmt there.
MSG
exit 1
