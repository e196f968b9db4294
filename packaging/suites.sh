#!/usr/bin/env bash
# `make deb-check`, the suites part (packaging/README.md): do the packages in
# target/debian/ install on the Debian releases people run, Debian 12
# (bookworm, Raspberry Pi OS bookworm) and Debian 13 (trixie, today's
# Raspberry Pi OS)?
#
#  1. A small userland of each suite (mmdebstrap --variant=apt, cached in
#     target/suites/, the package indexes refreshed on every run) with the
#     foreign architectures added to its apt, and in it `apt-get install
#     --simulate` of each package of each architecture: every dependency must
#     resolve there (no emulation needed).
#  2. In a copy of the Debian 13 userland, a real install of the amd64
#     packages the way the README says (`apt install ./peercall_….deb`),
#     maintainer scripts and all, then `peercall demo --seconds 2` from the
#     installed package.
#  3. The same for arm64 and armhf where the kernel runs their programs
#     through qemu-user (binfmt_misc, which `make test-aarch64` and
#     `make test-armv7` register); else a "skipped" line.
#
# Needs root (chroot; sudo otherwise) and the network (deb.debian.org, or
# DEB_SUITES_MIRROR). Prints "  ok:", "  FAIL:" and "  skipped:" lines and
# exits 1 when a check failed.
#
#   DEB_ARCHES="amd64 arm64 armhf"    the architectures to check (as make deb)
#   DEB_SUITES="bookworm trixie"      the suites
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEBS=target/debian
CACHE=target/suites
MIRROR=${DEB_SUITES_MIRROR:-http://deb.debian.org/debian}
read -r -a suites <<<"${DEB_SUITES:-bookworm trixie}"
read -r -a arches <<<"${DEB_ARCHES:-amd64 arm64 armhf}"
HOST_ARCH=$(dpkg --print-architecture)
# The suite the real install runs in: the newest.
INSTALL_SUITE=${suites[${#suites[@]}-1]}

failures=0
pass() { echo "  ok: $*"; }
fail() {
	echo "  FAIL: $*"
	failures=$((failures + 1))
}
skip() { echo "  skipped: $*"; }
die() {
	echo "suites: error: $*" >&2
	exit 1
}

bash scripts/deps.sh mmdebstrap debian-archive-keyring
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || die "no version in Cargo.toml"
deb_of() { echo "${1}_${version}-1_$2.deb"; }

TMP=$(mktemp -d)
cleanup() { $sudo rm -rf "$TMP"; }
trap cleanup EXIT

# Runs COMMAND... inside the userland ROOT, in a mount namespace of its own
# (so /proc and /dev, which the demo needs, are unmounted when it ends, even
# if it is killed).
in_root() { # ROOT COMMAND...
	local root=$1
	shift
	$sudo unshare --mount --propagation private -- sh -c '
		root=$1; shift
		mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" &&
			exec chroot "$root" "$@"' in_root "$root" "$@"
}

# The userland of SUITE with every architecture asked for, made once;
# its package indexes fetched again each time.
userland() { # SUITE
	local suite=$1 dir=$CACHE/$1 foreign want
	# Every architecture the packages come in, whatever DEB_ARCHES says, so
	# that one cached userland serves every run.
	foreign=$(printf '%s\n' amd64 arm64 armhf | grep -vx "$HOST_ARCH" | paste -sd, || true)
	want="$suite $MIRROR $HOST_ARCH${foreign:+,$foreign}"
	if [ "$(cat "$dir.made" 2>/dev/null)" != "$want" ]; then
		echo "suites: making a Debian $suite userland in $dir ($HOST_ARCH${foreign:+, $foreign})" >&2
		$sudo rm -rf "$dir" "$dir.made"
		mkdir -p "$CACHE"
		$sudo mmdebstrap --quiet --variant=apt --architectures="$HOST_ARCH${foreign:+,$foreign}" \
			"$suite" "$dir" "deb $MIRROR $suite main" >&2 ||
			die "mmdebstrap $suite failed (above)"
		echo "$want" >"$dir.made"
	fi
	$sudo cp /etc/resolv.conf "$dir/etc/resolv.conf"
	in_root "$dir" apt-get update -qq >"$TMP/update-$suite.log" 2>&1 || {
		cat "$TMP/update-$suite.log" >&2
		die "apt-get update in the $suite userland failed (above)"
	}
}

for arch in "${arches[@]}"; do
	for pkg in peercall-registry peercall; do
		[ -f "$DEBS/$(deb_of "$pkg" "$arch")" ] || die "$DEBS/$(deb_of "$pkg" "$arch") missing: run make deb"
	done
done

# ------------------------------------------------------------ 1. resolve

for suite in "${suites[@]}"; do
	echo "== Debian $suite: apt-get install --simulate of each package"
	userland "$suite"
	root=$CACHE/$suite
	$sudo mkdir -p "$root/tmp/debs"
	for arch in "${arches[@]}"; do
		for pkg in peercall-registry peercall; do
			deb=$(deb_of "$pkg" "$arch")
			$sudo cp "$DEBS/$deb" "$root/tmp/debs/"
			if in_root "$root" apt-get install --simulate -q "/tmp/debs/$deb" >"$TMP/sim.log" 2>&1; then
				pass "$suite: $deb resolves ($(grep -c '^Inst ' "$TMP/sim.log") packages to install)"
			else
				fail "$suite: $deb does not install:"
				grep -v '^\(Reading\|Building\|Note\)' "$TMP/sim.log" | sed 's/^/    /'
			fi
		done
	done
	$sudo rm -rf "$root/tmp/debs"
done

# ------------------------------------------------------------ 2, 3. install

# Installs ARCH's packages in a copy of the newest suite's userland, as the
# README says, and runs the demo from them.
install_and_run() { # ARCH
	local arch=$1 root=$TMP/install-$1 reg peer
	reg=$(deb_of peercall-registry "$arch")
	peer=$(deb_of peercall "$arch")
	echo "== Debian $INSTALL_SUITE: apt install ./$reg ./$peer, then peercall demo"
	$sudo cp -a "$CACHE/$INSTALL_SUITE" "$root"
	if [ -n "${PUT_INTERPRETER:-}" ]; then
		$sudo mkdir -p "$root$(dirname "${PUT_INTERPRETER%%=*}")"
		$sudo cp "${PUT_INTERPRETER#*=}" "$root${PUT_INTERPRETER%%=*}"
	fi
	$sudo mkdir -p "$root/root/debs"
	$sudo cp "$DEBS/$reg" "$DEBS/$peer" "$root/root/debs/"
	if in_root "$root" sh -c "cd /root/debs && DEBIAN_FRONTEND=noninteractive apt install -y -q ./$reg ./$peer" \
		>"$TMP/install.log" 2>&1; then
		pass "$INSTALL_SUITE: apt install ./$reg ./$peer"
	else
		fail "$INSTALL_SUITE: apt install ./$reg ./$peer:"
		sed 's/^/    /' "$TMP/install.log"
		return
	fi
	for pkg in peercall-registry peercall; do
		[ "$(in_root "$root" dpkg-query -W -f='${Status}' "$pkg:$arch")" = "install ok installed" ] &&
			pass "$INSTALL_SUITE: $pkg:$arch installed" || fail "$INSTALL_SUITE: $pkg:$arch not installed"
	done
	# The demo's own bound: a hung demo is a failure, not a hung check.
	if in_root "$root" timeout 120 /usr/bin/peercall demo --seconds 2 >"$TMP/demo.log" 2>&1; then
		pass "$INSTALL_SUITE: the installed peercall demo --seconds 2 ran (exit 0)"
		sed 's/^/    /' "$TMP/demo.log" | tail -n 4
	else
		fail "$INSTALL_SUITE: the installed peercall demo --seconds 2 failed:"
		sed 's/^/    /' "$TMP/demo.log" | tail -n 30
	fi
	$sudo rm -rf "$root"
}

for arch in "${arches[@]}"; do
	case $arch in
	"$HOST_ARCH") install_and_run "$arch" ;;
	arm64 | armhf)
		# An ARM program in the userland starts only through the kernel's
		# qemu registration (the demo starts its registry and peers as child
		# processes). Without the F flag the kernel looks for the registered
		# interpreter inside the chroot, so a static qemu (from Debian's
		# qemu-user-static package, unpacked, not installed) is put at that
		# path in the userland's copy. armhf runs Debian 13's own armhf
		# libraries (libasound2t64 among them) under the ARMv7 build, which
		# /usr/bin/peercall picks on qemu's default CPU.
		qemu="qemu-aarch64"
		[ "$arch" = armhf ] && qemu="qemu-arm"
		reg=/proc/sys/fs/binfmt_misc/$qemu
		if [ -r "$reg" ] && grep -qx enabled "$reg"; then
			interp=$(sed -n 's/^interpreter //p' "$reg")
			if [ ! -d "$TMP/qemu-static" ]; then
				(cd "$TMP" && apt-get download -q qemu-user-static >/dev/null 2>&1) &&
					dpkg-deb -x "$TMP"/qemu-user-static_*.deb "$TMP/qemu-static" ||
					die "cannot fetch qemu-user-static for the $arch install (apt-get download)"
			fi
			PUT_INTERPRETER="$interp=$TMP/qemu-static/usr/bin/$qemu-static" install_and_run "$arch"
		else
			skip "$INSTALL_SUITE: a real install of the $arch packages: the kernel has no binfmt_misc registration of $qemu (make test-aarch64 / test-armv7 make one)"
		fi
		;;
	esac
done

echo
if [ "$failures" -gt 0 ]; then
	echo "suites: $failures FAILED"
	exit 1
fi
echo "suites: all passed"
