#!/usr/bin/env bash
# `make deb`: the Debian packages peercall and peercall-registry
# (packaging/README.md), into target/debian/:
#
#   - for this machine's architecture (amd64 here), built now (cargo-deb runs
#     cargo build --release);
#   - for arm64 and armhf from the cross builds (`make cross-aarch64`,
#     `make cross-armv7`, `make cross-armv6`:
#     target/<triple>/release/{peercall,peercall-registry}), which `make deb`
#     runs first; run directly, this skips an architecture with a line saying
#     so when its build is missing, and warns when it is older than the
#     sources. armhf takes two builds: 32-bit Raspberry Pi OS runs on ARMv6
#     (Pi 1, Zero) and ARMv7 or later CPUs. Its registry is the static ARMv6
#     build, which runs on both; its peer carries the ARMv7 build (linked
#     against the system's libraries, with the window) and the static ARMv6
#     one in /usr/lib/peercall/, and /usr/bin/peercall starts the one the
#     CPU can run (packaging/peer/peercall-armhf).
#
# Depends: dpkg-shlibdeps through cargo-deb's $auto, which works for another
# architecture when its libraries are installed through multiarch (as
# cross/setup.sh does). Every package is then checked: each library the binary
# needs (readelf's NEEDED) must be named in Depends; if $auto could not run,
# the list is written from the binary instead (libc6 at the newest GLIBC_
# symbol version it uses, and the Debian 12 minimums for the others) and the
# package is rebuilt with it. The last lines say what was built and how.
#
#   DEB_ARCHES="amd64 arm64 armhf"   the architectures to try (default: all)
#   DEB_EXPLICIT_DEPENDS=1           use the list read from the binary always
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

OUT=target/debian
CARGO_DEB_VERSION=3.8.0
ARCHES=${DEB_ARCHES:-amd64 arm64 armhf}

say() { echo "deb: $*"; }
die() {
	echo "deb: error: $*" >&2
	exit 1
}

# ------------------------------------------------------------------ tools

bash scripts/deps.sh dpkg-dev binutils
if ! cargo deb --version >/dev/null 2>&1; then
	say "installing cargo-deb $CARGO_DEB_VERSION (cargo install)"
	cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi
say "$(cargo deb --version)"

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[ -n "$TARGET_DIR" ] || die "cannot find cargo's target directory"
HOST_ARCH=$(dpkg --print-architecture)
mkdir -p "$OUT"

# ------------------------------------------------------------------ depends

# The Debian package that provides a shared library the binary needs.
package_of() {
	case $1 in
	libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libutil.so.1 | ld-linux*.so.*)
		echo libc6 ;;
	libgcc_s.so.1) echo libgcc-s1 ;;
	libasound.so.2) echo libasound2 ;;
	libopus.so.0) echo libopus0 ;;
	libturbojpeg.so.0) echo libturbojpeg0 ;;
	libcrypto.so.3) echo libssl3 ;;
	libSDL2-2.0.so.0) echo libsdl2-2.0-0 ;;
	*) return 1 ;;
	esac
}

# The minimum versions dpkg-shlibdeps gives on Debian 12 for what peercall
# uses (the symbols files are the same on every architecture); libc6's and
# libsdl2's come from the binary itself.
minimum_of() { # PACKAGE ELF
	case $1 in
	libsdl2-2.0-0) sdl_minimum "$2" ;;
	libasound2) echo 1.0.16 ;;
	libopus0) echo 1.1 ;;
	libturbojpeg0) echo 1:2.0.2 ;;
	libssl3) echo 3.0.0 ;;
	libgcc-s1) echo 3.0 ;;
	esac
}

needed_libs() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

glibc_minimum() {
	readelf -V "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -u -V | tail -n1
}

# libSDL2 has no symbol versions: its symbols file (any architecture's; they
# are the same) says in which release each function came, and the newest of
# those the binary calls is the minimum, as dpkg-shlibdeps would compute it.
# Without a symbols file, the oldest release the file knows of on Debian 12.
SDL_OLDEST=2.0.12
sdl_minimum() { # ELF
	local symbols
	symbols=$(ls /var/lib/dpkg/info/libsdl2-2.0-0:*.symbols 2>/dev/null | head -n1)
	if [ -z "$symbols" ]; then
		echo "$SDL_OLDEST"
		return
	fi
	readelf --dyn-syms -W "$1" | awk '$7 == "UND" && $8 ~ /^SDL_/ { sub(/@.*/, "", $8); print $8 }' |
		sort -u | awk 'NR == FNR { want[$1 "@Base"] = 1; next } ($1 in want) { print $2 }' - "$symbols" |
		{ cat; echo "$SDL_OLDEST"; } | sort -V | tail -n1
}

# Depends written from the binary, keeping the entries that are not libraries
# (adduser) from the Depends cargo-deb wrote.
explicit_depends() { # ELF CURRENT_DEPENDS
	local elf=$1 current=$2 deps=() lib pkg seen=" " min entry
	while read -r lib; do
		pkg=$(package_of "$lib") || die "$elf needs $lib, which packaging/deb.sh cannot map to a package"
		case $seen in *" $pkg "*) continue ;; esac
		seen="$seen$pkg "
		# Debian takes libgcc-s1 as always there (cargo-deb leaves it out too).
		[ "$pkg" = libgcc-s1 ] && continue
		if [ "$pkg" = libc6 ]; then min=$(glibc_minimum "$elf"); else min=$(minimum_of "$pkg" "$elf"); fi
		deps+=("$pkg${min:+ (>= $min)}")
	done < <(needed_libs "$elf")
	IFS=, read -r -a current_entries <<<"$current"
	for entry in "${current_entries[@]}"; do
		entry=$(echo "$entry" | sed 's/^ *//; s/ *$//')
		[ -n "$entry" ] || continue
		case $entry in libc6* | libgcc* | libasound2* | libopus0* | libturbojpeg0* | libssl3* | libsdl2*) continue ;; esac
		deps+=("$entry")
	done
	local joined
	joined=$(IFS=,; echo "${deps[*]}")
	echo "${joined//,/, }"
}

# Names every library package the binary needs? (the t64 names of newer
# Debian and Ubuntu count: dpkg-shlibdeps there names those)
depends_complete() { # ELF DEPENDS
	local lib pkg
	while read -r lib; do
		pkg=$(package_of "$lib") || return 1
		[ "$pkg" = libgcc-s1 ] && continue
		echo ", $2," | grep -Eq "[ ,|]$pkg(t64)?( |,)" || return 1
	done < <(needed_libs "$1")
}

# Debian 13 renamed libasound2 to libasound2t64 and libssl3 to libssl3t64
# (the 64-bit time_t transition). On 64-bit architectures the new packages
# also Provide the old names; on armhf they do not, so `libasound2` alone
# cannot be installed there. Both names, the new one first: apt takes the t64
# package where it exists (Debian 13, Pi OS trixie) and the old one where not
# (Debian 12).
both_t64_names() { # DEPENDS
	sed -E 's/(^|, )(libasound2|libssl3) (\([^)]*\))/\1\2t64 \3 | \2 \3/g' <<<"$1"
}

# On 32-bit architectures the transition changed the functions that pass a
# time_t while keeping the soname: a binary built against Debian 12's
# library that called one of them would get the wrong layout from Debian
# 13's t64 one. The others are the same in both, so the alternative above
# holds only while the binary calls none of these: ALSA's time stamps, and
# libcrypto's time functions (the peer's libcrypto calls are libsrtp2's
# ciphers and MACs).
ALSA_TIME_T_FUNCTIONS='^snd_(pcm_status_get_.*tstamp|pcm_htimestamp|timer_status_get_timestamp|timer_read|rawmidi_status_get_tstamp|rawmidi_tread)$'
# Any libcrypto function with a time in its name (X509_cmp_time,
# ASN1_TIME_*, OPENSSL_gmtime...): wider than the changed ones, and none of
# them is what the peer calls.
CRYPTO_TIME_T_FUNCTIONS='(time|TIME)'
time_t_calls() { # ELF
	readelf --dyn-syms -W "$1" | awk -v alsa="$ALSA_TIME_T_FUNCTIONS" -v crypto="$CRYPTO_TIME_T_FUNCTIONS" '
		$7 == "UND" { name = $8; sub(/@.*/, "", name) }
		$7 == "UND" && (name ~ alsa || ($8 ~ /@OPENSSL_/ && name ~ crypto)) { print name }'
}

# Unpacks DEB, runs EDIT on its root (DEBIAN/ included) with ARGS, and packs
# it again in place.
repack() { # DEB EDIT [ARGS...]
	local deb=$1 edit=$2 dir
	shift 2
	dir=$(mktemp -d)
	dpkg-deb -R "$deb" "$dir/pkg"
	"$edit" "$dir/pkg" "$@"
	dpkg-deb --root-owner-group -Zxz -b "$dir/pkg" "$deb" >/dev/null
	rm -rf "$dir"
}

# Rewrites the Depends of DEB.
set_depends() { # DEB DEPENDS
	repack "$1" write_depends "$2"
}
write_depends() { # ROOT DEPENDS
	if [ -z "$2" ]; then
		# A static binary needs nothing: no field rather than an empty one.
		sed -i "/^Depends:/d" "$1/DEBIAN/control"
	else
		sed -i "s/^Depends: .*/Depends: $2/" "$1/DEBIAN/control"
		grep -q '^Depends: ' "$1/DEBIAN/control" ||
			sed -i "/^Installed-Size: /a Depends: $2" "$1/DEBIAN/control"
	fi
}

# armhf's peer package: the ARMv7 peer cargo-deb put at /usr/bin/peercall
# moves to /usr/lib/peercall/peercall-armv7, the static ARMv6 one goes beside
# it, and /usr/bin/peercall becomes the script that picks one.
ARMV6_TRIPLE=arm-unknown-linux-musleabihf
add_armv6_build() { # DEB ARMV6_ELF
	repack "$1" put_armv6_build "$2"
}
put_armv6_build() { # ROOT ARMV6_ELF
	local size
	install -d -m 755 "$1/usr/lib/peercall"
	mv "$1/usr/bin/peercall" "$1/usr/lib/peercall/peercall-armv7"
	install -m 755 "$2" "$1/usr/lib/peercall/peercall-armv6"
	install -m 755 packaging/peer/peercall-armhf "$1/usr/bin/peercall"
	(cd "$1" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$1/DEBIAN/md5sums"
	size=$(du -sk --exclude=DEBIAN "$1" | cut -f1)
	sed -i "s/^Installed-Size: .*/Installed-Size: $size/" "$1/DEBIAN/control"
}

# ------------------------------------------------------------------ packages

summary=()
built=0

# Builds the package of crate CRATE (binary BIN) for ARCH, from TRIPLE's
# binaries when TRIPLE is set (cross), else building for this machine.
package() { # ARCH CRATE BIN [TRIPLE]
	local arch=$1 bin=$3 triple=${4:-} args=(-p "$2" --output "$OUT") elf deb depends how
	if [ -n "$triple" ]; then
		# Already built and stripped (profile.release strip = true); the host's
		# strip cannot read ARM binaries anyway.
		args+=(--target "$triple" --no-build --no-strip)
		elf=$TARGET_DIR/$triple/release/$bin
	else
		elf=$TARGET_DIR/release/$bin
	fi
	deb=$(cargo deb "${args[@]}" | tail -n1)
	[ -f "$deb" ] || die "cargo deb ${args[*]} made no package"
	depends=$(dpkg-deb -f "$deb" Depends)
	how="dpkg-shlibdeps"
	if [ "${DEB_EXPLICIT_DEPENDS:-0}" = 1 ] || ! depends_complete "$elf" "$depends"; then
		[ "${DEB_EXPLICIT_DEPENDS:-0}" = 1 ] ||
			say "$arch: dpkg-shlibdeps could not name the libraries of $bin (no multiarch $arch libraries?); listing them from the binary"
		depends=$(explicit_depends "$elf" "$depends")
		set_depends "$deb" "$depends"
		how="read from the binary"
	fi
	depends_complete "$elf" "$(dpkg-deb -f "$deb" Depends)" || die "$deb: Depends misses a library of $bin"
	local time_t=
	[ "$arch" = armhf ] && time_t=$(time_t_calls "$elf" | paste -sd' ')
	if [ -n "$time_t" ]; then
		die "$bin for armhf calls functions whose ABI the 64-bit time_t transition changed ($time_t): it cannot depend on both the t64 and the old library package; build it per suite"
	fi
	depends=$(dpkg-deb -f "$deb" Depends)
	if [ -z "$depends" ] && dpkg-deb -f "$deb" | grep -q '^Depends:'; then
		set_depends "$deb" ""
	fi
	if [ "$(both_t64_names "$depends")" != "$depends" ]; then
		set_depends "$deb" "$(both_t64_names "$depends")"
	fi
	depends=$(dpkg-deb -f "$deb" Depends)
	summary+=("  $(basename "$deb"): Depends: ${depends:-none, a static binary} ($how)")
	built=$((built + 1))
}

# Newest source file newer than BIN, if any.
newer_source() {
	find src registry/src peer/src codecs/src Cargo.toml Cargo.lock registry/Cargo.toml peer/Cargo.toml codecs/Cargo.toml \
		-type f -newer "$1" -print -quit 2>/dev/null
}

for arch in $ARCHES; do
	case $arch in
	amd64) triple=x86_64-unknown-linux-gnu cross_target="" ;;
	arm64) triple=aarch64-unknown-linux-gnu cross_target=cross-aarch64 ;;
	armhf) triple=armv7-unknown-linux-gnueabihf cross_target="cross-armv7 and make cross-armv6" ;;
	*) die "unknown architecture $arch (amd64, arm64, armhf)" ;;
	esac
	rm -f "$OUT"/peercall_*_"$arch".deb "$OUT"/peercall-registry_*_"$arch".deb
	if [ "$arch" = "$HOST_ARCH" ]; then
		say "$arch: this machine's architecture: cargo build --release and package"
		summary+=("$arch: built here from this tree:")
		package "$arch" peercall-registry peercall-registry
		package "$arch" peercall-peer peercall
		continue
	fi
	dir=$TARGET_DIR/$triple/release
	# What each package is made of: the registry's build, the peer's, and
	# for armhf the ARMv6 peer added to it.
	reg_triple=$triple builds=("$dir/peercall" "$dir/peercall-registry")
	if [ "$arch" = armhf ]; then
		reg_triple=$ARMV6_TRIPLE
		v6=$TARGET_DIR/$ARMV6_TRIPLE/release
		builds=("$dir/peercall" "$v6/peercall" "$v6/peercall-registry")
	fi
	missing=""
	for b in "${builds[@]}"; do [ -x "$b" ] || missing="$missing ${b#"$PWD"/}"; done
	if [ -n "$missing" ]; then
		summary+=("$arch: SKIPPED: no cross build$missing (make deb runs make ${cross_target:-?} first)")
		continue
	fi
	stale=""
	for b in "${builds[@]}"; do
		s=$(newer_source "$b")
		[ -z "$s" ] || stale="$stale ${b#"$PWD"/} (older than $s)"
	done
	say "$arch: packaging the cross builds:${builds[*]#"$PWD"/}"
	if [ -n "$stale" ]; then
		summary+=("$arch: built from the cross builds -- WARNING: stale:$stale; run make $cross_target and make deb again:")
	else
		summary+=("$arch: built from the cross builds (newer than every source file):")
	fi
	package "$arch" peercall-registry peercall-registry "$reg_triple"
	package "$arch" peercall-peer peercall "$triple"
	if [ "$arch" = armhf ]; then
		add_armv6_build "$(ls "$OUT"/peercall_*_armhf.deb)" "$v6/peercall"
		summary+=("  peercall_…_armhf.deb: /usr/bin/peercall picks /usr/lib/peercall/peercall-armv7 or the static peercall-armv6 by CPU")
	fi
done

say "packages in $OUT/:"
for line in "${summary[@]}"; do echo "deb: $line"; done
[ "$built" -gt 0 ] || die "no package was built"
