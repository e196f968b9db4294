#!/usr/bin/env bash
# `make deb-check`: checks the Debian packages `make deb` left in
# target/debian/ without installing anything (packaging/README.md):
#
#  1. every package (each architecture of DEB_ARCHES, default all three, and
#     this machine's): name, architecture of the binary, files, conffiles,
#     Depends covering every library the binary needs, maintainer scripts (syntax, and what they must do), the same unit
#     files in every architecture, and a registry binary with sd_notify in it
#     (a stale cross build has none);
#  2. the units of the amd64 packages, extracted into a scratch root with this
#     machine's systemd units: `systemd-analyze verify` (any message fails),
#     with the generator's low-port drop-in too, and the generator's cases;
#     `systemd-analyze security` exposure printed;
#  3. the services as systemd would start them, from the extracted package:
#     the shipped config files read as EnvironmentFiles over the units'
#     Environment= defaults, the units' ExecStart lines expanded as systemd
#     does (${VAR} one word, $VAR split), and run. Only the listen addresses
#     (loopback, free ports) and the intercom's devices (test pattern, tone,
#     no sound card here) are changed from the shipped files. The registry
#     gets a NOTIFY_SOCKET (READY=1 must come) and its unit's WATCHDOG_USEC;
#     the intercom gets stdin from /dev/null (StandardInput=null) and must
#     stay up; then lookup, list, and a call it answers by itself, and SIGTERM
#     ends both in order.
#
#   packaging/check.sh [--install]
#
# --install also installs the amd64 packages on this machine with
# `apt-get install ./file.deb` (root or sudo), checks the user, groups,
# conffile and the enablement link, and purges them again. It changes this
# machine, so it is not part of `make deb-check`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEBS=target/debian
install=0
case ${1:-} in
--install) install=1 ;;
"") ;;
*)
	echo "usage: $0 [--install]" >&2
	exit 2
	;;
esac

failures=0
pass() { echo "  ok: $*"; }
fail() {
	echo "  FAIL: $*"
	failures=$((failures + 1))
}
die() {
	echo "check: error: $*" >&2
	exit 1
}
section() { echo "== $*"; }

HOST_ARCH=$(dpkg --print-architecture)
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# The tools the checks need, installed when missing: a check whose tool is
# absent would otherwise pass by not running.
bash scripts/deps.sh systemd shellcheck binutils
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
[ -n "$version" ] || die "no version in Cargo.toml"
deb_of() { echo "$DEBS/${1}_${version}-1_$2.deb"; }

# ------------------------------------------------------------------ 1. packages

contains_line() { grep -qxF -- "$2" <<<"$1"; }

# An ARMv6 build for the ARM1176 (Pi 1, Zero): static (so neither Debian's
# ARMv7 armhf libraries nor Pi OS's are loaded), built for ARMv6 with VFP, and
# it runs on an emulated ARM1176 (where an ARMv7 instruction is a SIGILL).
check_armv6() { # ELF
	local elf=$1 name arch
	name=${elf##*/usr/}
	[ -f "$elf" ] || {
		fail "no /usr/$name"
		return
	}
	readelf -d "$elf" 2>/dev/null | grep -q NEEDED && fail "/usr/$name loads shared libraries: $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd' ')" ||
		pass "/usr/$name is static"
	arch=$(readelf -A "$elf" | sed -n 's/^ *Tag_CPU_arch: *//p')
	[ "$arch" = v6 ] || [ "$arch" = v6KZ ] && pass "/usr/$name is built for $arch" || fail "/usr/$name is built for ${arch:-?}, not ARMv6"
	readelf -A "$elf" | grep -q 'Tag_ABI_VFP_args: VFP registers' && pass "/usr/$name passes floats in VFP registers (armhf)" ||
		fail "/usr/$name is not hard-float"
	if ! command -v qemu-arm >/dev/null 2>&1; then
		echo "  skipped: /usr/$name on an emulated ARM1176: no qemu-arm (cross/setup.sh armv6 --test installs it)"
	elif qemu-arm -cpu arm1176 "$elf" --version >"$TMP/v6.out" 2>&1; then
		pass "/usr/$name --version on an emulated ARM1176: $(head -n1 "$TMP/v6.out")"
	else
		fail "/usr/$name --version on an emulated ARM1176: $(tail -n2 "$TMP/v6.out")"
	fi
}

# armhf's /usr/bin/peercall: the script that starts the build the CPU runs.
check_armhf_launcher() { # SCRIPT
	sh -n "$1" && pass "/usr/bin/peercall (armhf): sh syntax" || fail "/usr/bin/peercall (armhf): sh syntax"
	shellcheck -s sh -S warning "$1" >/dev/null && pass "/usr/bin/peercall (armhf): shellcheck" || fail "/usr/bin/peercall (armhf): shellcheck"
	grep -q 'exec /usr/lib/peercall/peercall-armv6 ' "$1" && grep -q 'exec /usr/lib/peercall/peercall-armv7 ' "$1" &&
		pass "/usr/bin/peercall (armhf) starts peercall-armv7 or peercall-armv6" || fail "/usr/bin/peercall (armhf) does not start both builds"
}

check_package() { # PKG ARCH
	local pkg=$1 arch=$2 deb files depends script dir bin machine want_machine
	deb=$(deb_of "$pkg" "$arch")
	section "$(basename "$deb")"
	files=$(dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|')
	[ "$(dpkg-deb -f "$deb" Package)" = "$pkg" ] && pass "Package: $pkg" || fail "Package is $(dpkg-deb -f "$deb" Package)"
	[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] && pass "Architecture: $arch" || fail "Architecture is $(dpkg-deb -f "$deb" Architecture)"
	depends=$(dpkg-deb -f "$deb" Depends)
	echo "  Depends: $depends"

	local want_files=() want_deps=() bin_name
	case $pkg in
	peercall-registry)
		bin_name=peercall-registry
		want_files=(/usr/bin/peercall-registry /etc/peercall/registry.conf
			/usr/lib/systemd/system/peercall-registry.service
			/usr/lib/systemd/system-generators/peercall-registry-generator
			/usr/share/doc/peercall-registry/README.md /usr/share/doc/peercall-registry/copyright)
		# The C library, except for armhf's static ARMv6 build (below).
		want_deps=()
		[ "$arch" = armhf ] || want_deps=(libc6)
		;;
	peercall)
		bin_name=peercall
		want_files=(/usr/bin/peercall /usr/lib/systemd/system/peercall@.service
			/usr/share/peercall/intercom.conf
			/usr/share/doc/peercall/README.md /usr/share/doc/peercall/copyright)
		# libsdl2-2.0-0: the call window (the default feature `window`).
		# libssl3: libcrypto, the ciphers of the call's media encryption
		# (SRTP; libsrtp2 itself is built into the binary, srtp-ffi/).
		want_deps=(libc6 libasound2 libopus0 libturbojpeg0 libssl3 libsdl2-2.0-0 adduser)
		;;
	esac
	local f d
	for f in "${want_files[@]}"; do
		contains_line "$files" "$f" && pass "has $f" || fail "no $f in the package"
	done
	for d in "${want_deps[@]}"; do
		grep -Eq "(^|[ ,|])$d(t64)?( |,|$)" <<<"$depends" && pass "Depends names $d" || fail "Depends does not name $d"
	done
	# Debian 12 has only libasound2 and libssl3, Debian 13 only libasound2t64
	# and libssl3t64 (which on armhf do not provide the old names): one
	# package for both needs both.
	if [ "$pkg" = peercall ]; then
		local lib
		for lib in libasound2 libssl3; do
			grep -Eq "(^|, )${lib}t64 [^,|]*\| $lib " <<<"$depends" &&
				pass "Depends takes ${lib}t64 (Debian 13) or $lib (Debian 12)" ||
				fail "Depends does not offer ${lib}t64 | $lib"
		done
	fi

	dir=$TMP/x-$pkg-$arch
	mkdir -p "$dir/root" "$dir/ctrl"
	dpkg-deb -x "$deb" "$dir/root"
	dpkg-deb -e "$deb" "$dir/ctrl"
	bin=$dir/root/usr/bin/$bin_name
	# armhf: the registry is the static ARMv6 build; the peer's
	# /usr/bin/peercall picks the ARMv7 or the static ARMv6 build
	# (packaging/deb.sh), and the ARMv7 one is what links the libraries.
	if [ "$arch" = armhf ]; then
		if [ "$pkg" = peercall ]; then
			check_armhf_launcher "$bin"
			check_armv6 "$dir/root/usr/lib/peercall/peercall-armv6"
			bin=$dir/root/usr/lib/peercall/peercall-armv7
		else
			check_armv6 "$bin"
		fi
	fi
	case $arch in
	amd64) want_machine="X86-64" ;;
	arm64) want_machine="AArch64" ;;
	armhf) want_machine="ARM" ;;
	esac
	machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
	[[ $machine == *"$want_machine"* ]] && pass "binary is for $machine" || fail "binary is for $machine, not $want_machine"
	# Every library the binary loads is in Depends.
	local lib pkgname
	while read -r lib; do
		case $lib in
		libc.so.6 | libm.so.6 | ld-linux*) pkgname=libc6 ;;
		libgcc_s.so.1) continue ;;
		libasound.so.2) pkgname=libasound2 ;;
		libopus.so.0) pkgname=libopus0 ;;
		libturbojpeg.so.0) pkgname=libturbojpeg0 ;;
		libcrypto.so.3) pkgname=libssl3 ;;
		libSDL2-2.0.so.0) pkgname=libsdl2-2.0-0 ;;
		*) fail "$bin_name needs $lib, which no check knows"; continue ;;
		esac
		grep -Eq "(^|[ ,|])$pkgname(t64)?( |,|$)" <<<"$depends" || fail "$bin_name needs $lib but Depends has no $pkgname"
	done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	# The shipped peer has its window: it was built with SDL2.
	if [ "$pkg" = peercall ]; then
		readelf -d "$bin" | grep -q 'NEEDED.*\[libSDL2-2\.0\.so\.0\]' &&
			pass "peercall links SDL2 (the call window)" || fail "peercall does not link SDL2: built without the window"
	fi

	for script in preinst postinst prerm postrm; do
		[ -f "$dir/ctrl/$script" ] || continue
		sh -n "$dir/ctrl/$script" && pass "$script: sh syntax" || fail "$script: sh syntax"
		shellcheck -s sh -S warning "$dir/ctrl/$script" >/dev/null && pass "$script: shellcheck" || fail "$script: shellcheck"
	done
	local post=$dir/ctrl/postinst pre=$dir/ctrl/prerm rm=$dir/ctrl/postrm
	case $pkg in
	peercall-registry)
		contains_line "$(cat "$dir/ctrl/conffiles" 2>/dev/null)" /etc/peercall/registry.conf &&
			pass "conffile /etc/peercall/registry.conf" || fail "/etc/peercall/registry.conf is not a conffile"
		grep -q 'deb-systemd-helper enable peercall-registry.service' "$post" && pass "postinst enables the unit" || fail "postinst does not enable the unit"
		grep -q 'deb-systemd-invoke $_dh_action peercall-registry.service' "$post" && grep -q '_dh_action=start' "$post" &&
			pass "postinst starts (restarts on upgrade) the unit" || fail "postinst does not start the unit"
		grep -q 'deb-systemd-invoke stop peercall-registry.service' "$pre" && pass "prerm stops the unit" || fail "prerm does not stop the unit"
		grep -q 'deb-systemd-helper purge peercall-registry.service' "$rm" && pass "postrm purges the enablement" || fail "postrm does not purge"
		# A registry built before sd_notify support (a stale cross build).
		grep -q NOTIFY_SOCKET "$bin" && pass "registry binary speaks sd_notify" ||
			fail "registry binary has no sd_notify support: a stale build? (make cross-*, make deb)"
		;;
	peercall)
		grep -q 'adduser --quiet --system --group --no-create-home --home /nonexistent peercall' "$post" &&
			pass "postinst creates the system user peercall" || fail "postinst does not create the user"
		grep -q 'for group in video audio' "$post" && pass "postinst adds peercall to video and audio" || fail "postinst does not add the groups"
		grep -q "systemctl stop 'peercall@\*.service'" "$pre" && pass "prerm stops the intercoms" || fail "prerm does not stop the intercoms"
		;;
	esac
}

# Every architecture `make deb` was asked for (DEB_ARCHES, as in deb.sh) must
# have both packages: a missing one fails rather than being left unchecked.
# This machine's packages are always checked: sections 2 and 3 run them.
read -r -a arches <<<"${DEB_ARCHES:-amd64 arm64 armhf}"
case " ${arches[*]} " in *" $HOST_ARCH "*) ;; *) arches=("$HOST_ARCH" "${arches[@]}") ;; esac
[ -f "$(deb_of peercall "$HOST_ARCH")" ] && [ -f "$(deb_of peercall-registry "$HOST_ARCH")" ] ||
	die "no $HOST_ARCH packages in $DEBS/ (version $version): run make deb first (the services are run from them)"
echo "check: packages for: ${arches[*]}"
for arch in "${arches[@]}"; do
	for pkg in peercall-registry peercall; do
		if [ -f "$(deb_of "$pkg" "$arch")" ]; then check_package "$pkg" "$arch"; else
			section "$pkg $arch"
			fail "$(deb_of "$pkg" "$arch") missing: run make deb (DEB_ARCHES=\"${arches[*]}\")"
		fi
	done
done
section "same units and config in every architecture"
for arch in "${arches[@]}"; do
	[ "$arch" = "$HOST_ARCH" ] && continue
	for f in usr/lib/systemd/system/peercall-registry.service etc/peercall/registry.conf \
		usr/lib/systemd/system-generators/peercall-registry-generator; do
		cmp -s "$TMP/x-peercall-registry-$HOST_ARCH/root/$f" "$TMP/x-peercall-registry-$arch/root/$f" &&
			pass "$arch /$f" || fail "$arch /$f differs from $HOST_ARCH's"
	done
	for f in usr/lib/systemd/system/peercall@.service usr/share/peercall/intercom.conf; do
		cmp -s "$TMP/x-peercall-$HOST_ARCH/root/$f" "$TMP/x-peercall-$arch/root/$f" &&
			pass "$arch /$f" || fail "$arch /$f differs from $HOST_ARCH's"
	done
done

# ------------------------------------------------------------------ 2. units

ROOT=$TMP/root
mkdir -p "$ROOT/usr/lib/systemd/system" "$ROOT/etc/systemd/system" "$ROOT/etc/peercall"
# The units the packaged ones refer to (network.target, sound.target, ...).
cp -a /usr/lib/systemd/system/. "$ROOT/usr/lib/systemd/system/" 2>/dev/null || cp -a /lib/systemd/system/. "$ROOT/usr/lib/systemd/system/"
dpkg-deb -x "$(deb_of peercall-registry "$HOST_ARCH")" "$ROOT"
dpkg-deb -x "$(deb_of peercall "$HOST_ARCH")" "$ROOT"
# The intercom "door" as its README says to set it up.
cp "$ROOT/usr/share/peercall/intercom.conf" "$ROOT/etc/peercall/door.conf"

verify() { # UNIT...
	local out
	out=$(systemd-analyze verify --root="$ROOT" "$@" 2>&1) && [ -z "$out" ] && pass "systemd-analyze verify $*" ||
		{
			fail "systemd-analyze verify $*:"
			echo "$out" | sed 's/^/    /'
		}
}

section "units"
echo "  $(systemd-analyze --version | head -n1)"
verify peercall-registry.service
verify peercall@door.service

gen=$ROOT/usr/lib/systemd/system-generators/peercall-registry-generator
gen_case() { # LISTEN WANT(yes|no)
	local out=$TMP/gen conf=$TMP/gen.conf
	rm -rf "$out"
	mkdir -p "$out"
	sed "s|^REGISTRY_LISTEN=.*|REGISTRY_LISTEN=$1|" "$ROOT/etc/peercall/registry.conf" >"$conf"
	PEERCALL_REGISTRY_CONF=$conf "$gen" "$out" "$out" "$out" || fail "generator failed for $1"
	if [ -f "$out/peercall-registry.service.d/50-low-port.conf" ]; then
		[ "$2" = yes ] && pass "generator: $1 -> CAP_NET_BIND_SERVICE drop-in" || fail "generator: $1 got a drop-in"
	else
		[ "$2" = no ] && pass "generator: $1 -> no drop-in" || fail "generator: $1 got no drop-in"
	fi
}
section "generator"
out=$TMP/gen0
mkdir -p "$out"
PEERCALL_REGISTRY_CONF=$ROOT/etc/peercall/registry.conf "$gen" "$out" "$out" "$out"
[ -z "$(ls -A "$out")" ] && pass "generator: shipped config (port 4700) -> nothing" || fail "generator: shipped config made $(ls "$out")"
gen_case 0.0.0.0:4700 no
gen_case 0.0.0.0:80 yes
gen_case '"[::]:443"' yes
gen_case '[::]:4700' no
gen_case 192.0.2.1 no
gen_case :: no
gen_case 127.0.0.1:0 no
gen_case 127.0.0.1:1023 yes
gen_case 127.0.0.1:1024 no
# The unit with the drop-in, where systemd would load it from.
gen_case 0.0.0.0:80 yes
cp -r "$TMP/gen/peercall-registry.service.d" "$ROOT/etc/systemd/system/"
verify peercall-registry.service
echo "  with the drop-in: $(systemd-analyze cat-config --root="$ROOT" systemd/system/peercall-registry.service.d/50-low-port.conf 2>/dev/null | grep -c '^[A-Z]') settings"
rm -r "$ROOT/etc/systemd/system/peercall-registry.service.d"

section "exposure (systemd-analyze security; lower is better, 0-10)"
for u in peercall-registry.service peercall@door.service; do
	echo "  $(systemd-analyze security --offline=true --root="$ROOT" "$u" 2>/dev/null | grep 'Overall exposure' | sed 's/^→ //')"
done

# ------------------------------------------------------------------ 3. run

# KEY=VALUE lines of an EnvironmentFile (our files: no quotes, no escapes).
env_file() { sed -n 's/^[[:space:]]*\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*=[[:space:]]*\(.*\)$/\1=\2/p' "$1"; }
# Environment= of a unit, one KEY=VALUE a line.
env_unit() { sed -n 's/^Environment=//p' "$1" | tr ' ' '\n' | grep '='; }

# The unit's ExecStart as systemd runs it: NAME=VALUE lines on stdin are the
# environment; %i is INSTANCE; /usr/bin is the extracted package's. One
# argument a line on stdout.
exec_args() { # UNIT INSTANCE
	local line word name value v words=()
	declare -A env=()
	while IFS= read -r kv; do env[${kv%%=*}]=${kv#*=}; done
	line=$(sed -n 's/^ExecStart=//p' "$1")
	[[ $line != *[\"\'\\]* ]] || die "ExecStart of $1 has quotes or escapes, which check.sh does not expand"
	set -f
	read -r -a words <<<"$line"
	set +f
	for word in "${words[@]}"; do
		word=${word//%i/$2}
		if [[ $word =~ ^\$([A-Za-z_][A-Za-z0-9_]*)$ ]]; then
			# $VAR alone: split at whitespace, zero or more arguments.
			value=${env[${BASH_REMATCH[1]}]:-}
			set -f
			for v in $value; do echo "$v"; done
			set +f
			continue
		fi
		while [[ $word =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
			name=${BASH_REMATCH[1]}
			word=${word//\$\{$name\}/${env[$name]:-}}
		done
		echo "$word"
	done | sed "1s|^/usr/bin/|$ROOT/usr/bin/|"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # FILE PATTERN SECONDS
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

section "services started from their units and config files"
command -v python3 >/dev/null 2>&1 || die "python3 is needed (free ports, the fake notify socket)"
REG_PORT=$(free_port)
CALL_PORT=$(free_port)

# The registry, with registry.conf as shipped but for the listen address.
sed "s|^REGISTRY_LISTEN=.*|REGISTRY_LISTEN=127.0.0.1:$REG_PORT|" "$ROOT/etc/peercall/registry.conf" >"$TMP/registry.conf"
diff "$ROOT/etc/peercall/registry.conf" "$TMP/registry.conf" | grep '^>' | sed 's/^> /  registry.conf changed: /' || true
unit=$ROOT/usr/lib/systemd/system/peercall-registry.service
mapfile -t reg_env < <(env_unit "$unit"; env_file "$TMP/registry.conf")
mapfile -t reg_cmd < <(printf '%s\n' "${reg_env[@]}" | exec_args "$unit" "")
echo "  ExecStart: ${reg_cmd[*]#"$ROOT"}"
watchdog=$(sed -n 's/^WatchdogSec=\([0-9]*\)s$/\1/p' "$unit")
[ -n "$watchdog" ] || fail "no WatchdogSec=Ns in the unit"
# Plays systemd's notify socket: each datagram one line.
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().strip().replace("\n", " "), flush=True)
' "$TMP/notify" >"$TMP/notify.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$TMP/notify" ] && break; sleep 0.1; done
# systemd's StateDirectory= (the name bindings), as systemd would set it.
mkdir -m 0700 -p "$TMP/registry-state"
env -i PATH=/usr/bin:/bin "${reg_env[@]}" STATE_DIRECTORY="$TMP/registry-state" NOTIFY_SOCKET="$TMP/notify" WATCHDOG_USEC=$((${watchdog:-30} * 1000000)) \
	"${reg_cmd[@]}" </dev/null >"$TMP/registry.out" 2>"$TMP/registry.err" &
REG_PID=$!
PIDS+=("$REG_PID")
if wait_for "$TMP/notify.log" READY=1 10; then
	pass "registry: READY=1 ($(grep READY=1 "$TMP/notify.log"))"
else
	fail "registry: no READY=1 within 10 s"
fi
grep -qx "listening on 127.0.0.1:$REG_PORT" "$TMP/registry.out" && pass "registry: listening on 127.0.0.1:$REG_PORT" ||
	fail "registry: no 'listening on' line: $(cat "$TMP/registry.out" "$TMP/registry.err")"
PEERCALL=$ROOT/usr/bin/peercall
REG=127.0.0.1:$REG_PORT
out=$("$PEERCALL" list --registry "$REG" 2>&1) && [ -z "$out" ] && pass "peercall list: nobody registered yet" || fail "peercall list: $out"

# The intercom "door", with intercom.conf as shipped but for the registry,
# the call port and the devices (no camera or sound card on this machine).
sed -e "s|^REGISTRY=.*|REGISTRY=$REG|" -e "s|^LISTEN=.*|LISTEN=127.0.0.1:$CALL_PORT|" \
	-e 's|^VIDEO=.*|VIDEO=test|' -e 's|^AUDIO_IN=.*|AUDIO_IN=tone|' -e 's|^AUDIO_OUT=.*|AUDIO_OUT=null|' \
	-e "s|^#ALLOW=.*|ALLOW=$TMP/door.allow|" \
	"$ROOT/etc/peercall/door.conf" >"$TMP/door.conf"
# The visitor's key is in the door's allow file; a stranger's is not.
visitor_key=$("$PEERCALL" id --identity "$TMP/visitor.id" 2>/dev/null) || fail "peercall id for the visitor"
echo "$visitor_key visitor" >"$TMP/door.allow"
diff "$ROOT/etc/peercall/door.conf" "$TMP/door.conf" | grep '^>' | sed 's/^> /  door.conf changed: /' || true
unit=$ROOT/usr/lib/systemd/system/peercall@.service
mapfile -t door_env < <(env_unit "$unit"; env_file "$TMP/door.conf")
mapfile -t door_cmd < <(printf '%s\n' "${door_env[@]}" | exec_args "$unit" door)
echo "  ExecStart: ${door_cmd[*]#"$ROOT"}"
grep -qx 'StandardInput=null' "$unit" && pass "peercall@: StandardInput=null" || fail "peercall@ has no StandardInput=null"
mkdir -m 0700 -p "$TMP/door-state"
env -i PATH=/usr/bin:/bin "${door_env[@]}" STATE_DIRECTORY="$TMP/door-state" "${door_cmd[@]}" </dev/null >"$TMP/door.out" 2>"$TMP/door.err" &
DOOR_PID=$!
PIDS+=("$DOOR_PID")
found=""
for _ in $(seq 100); do
	if found=$("$PEERCALL" lookup door --registry "$REG" 2>/dev/null); then break; fi
	sleep 0.1
done
door_key=$("$PEERCALL" id --identity "$TMP/door-state/identity" 2>&1) || fail "the door's identity: $door_key"
[ "$(stat -c %a "$TMP/door-state/identity")" = 600 ] && pass "the door's identity is in its StateDirectory, mode 0600" ||
	fail "the door's identity: $(ls -l "$TMP/door-state")"
[ "$found" = "door 127.0.0.1:$CALL_PORT $door_key" ] && pass "peercall lookup door: $found" ||
	fail "peercall lookup door: '$found'; door said: $(cat "$TMP/door.out" "$TMP/door.err")"
out=$("$PEERCALL" list --registry "$REG" 2>&1) && [ "$out" = "door 127.0.0.1:$CALL_PORT $door_key" ] && pass "peercall list: $out" || fail "peercall list: $out"
sleep 2
kill -0 "$DOOR_PID" 2>/dev/null && pass "intercom still running 2 s after its stdin (/dev/null) ended" ||
	fail "intercom exited with stdin at end of file: $(cat "$TMP/door.out" "$TMP/door.err")"
# A visitor calls; the intercom answers by itself.
if out=$("$PEERCALL" call door --name visitor --identity "$TMP/visitor.id" --registry "$REG" --listen 127.0.0.1:0 --seconds 2 \
	--video test --audio-in tone --audio-out null 2>&1); then
	pass "a call to door from a key in its allow file was answered (auto-accept) and ran 2 s"
else
	fail "calling door: $out"
fi
code=0
out=$("$PEERCALL" call door --name stranger --identity "$TMP/stranger.id" --registry "$REG" --listen 127.0.0.1:0 --seconds 2 \
	--video test --audio-in tone --audio-out null 2>&1) || code=$?
[ "$code" = 15 ] && pass "a call to door from a key not in its allow file: refused, exit 15" ||
	fail "a stranger calling door: exit $code: $out"
kill -TERM "$DOOR_PID" 2>/dev/null || true
code=0
wait "$DOOR_PID" || code=$?
[ "$code" = 0 ] && pass "intercom: SIGTERM -> exit 0" || fail "intercom: SIGTERM -> exit $code"
wait_for "$TMP/registry.out" "departed: door" 5 && pass "registry: $(grep 'departed: door' "$TMP/registry.out")" || fail "registry saw no departure of door"
sleep 0.5
kill -TERM "$REG_PID" 2>/dev/null || true
code=0
wait "$REG_PID" || code=$?
[ "$code" = 0 ] && pass "registry: SIGTERM -> exit 0" || fail "registry: SIGTERM -> exit $code"
wait_for "$TMP/notify.log" STOPPING=1 3 && pass "registry: STOPPING=1" || fail "registry: no STOPPING=1"
grep -q '^shutting down: said goodbye to' "$TMP/registry.out" && pass "registry: $(grep '^shutting down' "$TMP/registry.out")" || fail "registry: no shutdown line"
echo "  the intercom printed:"
sed 's/^/    | /' "$TMP/door.out" | head -n 20

# ------------------------------------------------------------------ install

if [ "$install" = 1 ]; then
	section "apt-get install ./ the $HOST_ARCH packages on this machine, then purge"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		"./$(deb_of peercall-registry "$HOST_ARCH")" "./$(deb_of peercall "$HOST_ARCH")" >"$TMP/apt.log" 2>&1 &&
		pass "apt-get install ./peercall-registry_… ./peercall_…" || {
		fail "apt-get install:"
		sed 's/^/    /' "$TMP/apt.log"
	}
	[ "$(dpkg-query -W -f='${Status}' peercall-registry 2>/dev/null)" = "install ok installed" ] && pass "peercall-registry installed" || fail "peercall-registry not installed"
	[ "$(dpkg-query -W -f='${Status}' peercall 2>/dev/null)" = "install ok installed" ] && pass "peercall installed" || fail "peercall not installed"
	id -nG peercall 2>/dev/null | tr ' ' '\n' | grep -qx video && id -nG peercall | tr ' ' '\n' | grep -qx audio &&
		pass "user peercall: $(id peercall)" || fail "user peercall missing or not in video and audio"
	[ "$(getent passwd peercall | cut -d: -f7)" = /usr/sbin/nologin ] && pass "user peercall has no login shell" || fail "peercall's shell: $(getent passwd peercall | cut -d: -f7)"
	dpkg-query -W -f='${Conffiles}\n' peercall-registry | grep -q '/etc/peercall/registry.conf' && pass "registry.conf is a conffile" || fail "registry.conf is not a conffile"
	[ -L /etc/systemd/system/multi-user.target.wants/peercall-registry.service ] && pass "peercall-registry.service enabled" || fail "peercall-registry.service not enabled"
	[ -d /etc/peercall ] && pass "/etc/peercall exists" || fail "no /etc/peercall"
	/usr/bin/peercall-registry --version >/dev/null && pass "installed peercall-registry runs" || fail "installed peercall-registry does not run"
	/usr/bin/peercall --version >/dev/null && pass "installed peercall runs" || fail "installed peercall does not run"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq peercall peercall-registry >"$TMP/apt.log" 2>&1 &&
		pass "apt-get purge" || {
		fail "apt-get purge:"
		sed 's/^/    /' "$TMP/apt.log"
	}
	[ ! -e /etc/systemd/system/multi-user.target.wants/peercall-registry.service ] && pass "enablement link removed" || fail "enablement link left behind"
	[ ! -e /etc/peercall/registry.conf ] && pass "registry.conf purged" || fail "registry.conf left behind"
fi

# ------------------------------------------------------------------ 4. suites

# Installable on Debian 12 and 13, every architecture; a real install and the
# demo in Debian 13 (packaging/suites.sh).
bash packaging/suites.sh || fail "the packages on Debian 12 and 13 (above)"

echo
if [ "$failures" -gt 0 ]; then
	echo "check: $failures FAILED"
	exit 1
fi
echo "check: all passed"
