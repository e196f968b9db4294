#!/usr/bin/env bash
# Builds the static sysroot of arm-unknown-linux-musleabihf (the ARMv6 boards:
# Raspberry Pi 1, Zero, Zero W) into target/armv6-sysroot: musl, opus,
# libjpeg-turbo, alsa-lib, mbedtls and libsrtp2 from Debian bookworm's source
# packages, and LLVM's libunwind from the Rust toolchain's own source, all
# compiled for the ARM1176 (ARMv6, VFPv2, ARM mode) by cross/armv6-cc.
#
#   bash cross/armv6-sysroot.sh      # cross/setup.sh armv6 runs it
#
# Why from source: Debian's armhf packages are ARMv7 (Thumb-2, VFPv3), and
# Raspberry Pi OS's ARMv6 packages are glibc ones that its own loader would
# have to be shipped with; a static musl build needs nothing on the board.
# The sources are checked against the SHA-256 sums of bookworm's Sources
# index (which apt checks against the archive's signed Release file), written
# down here. The result is kept until this script, cross/armv6-cc or the Rust
# toolchain (libunwind's source) changes: target/armv6-sysroot.made holds
# what it was made from. About 2 minutes on 2 cores. Needs curl, make, cmake
# and arm-linux-gnueabihf-gcc (cross/setup.sh installs them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
sysroot=$root/target/armv6-sysroot
build=$root/target/armv6-sysroot.build
downloads=$root/target/armv6-downloads
mirror=${PEERCALL_ARMV6_MIRROR:-http://deb.debian.org/debian}
cc=$root/cross/armv6-cc
gnu=arm-linux-gnueabihf
cpu="-march=armv6 -mfpu=vfp -mfloat-abi=hard -marm"
# A section per function and per datum: the binaries link with --gc-sections,
# which then keeps only the functions used instead of whole objects (the
# ARMv6 peer went from 3,206,540 to 2,977,156 bytes; the code is the same,
# so no speed is lost).
sections="-ffunction-sections -fdata-sections"
jobs=$(nproc)
rust_src=$(rustc --print sysroot)/lib/rustlib/src/rust

say() { echo "armv6-sysroot: $*"; }
die() { echo "armv6-sysroot: $*" >&2; exit 1; }

# name, pool directory, upstream tarball and its SHA-256, Debian's
# debian.tar.xz (its patches are applied) and its SHA-256.
sources=(
  "musl m/musl musl_1.2.3.orig.tar.gz 7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4 musl_1.2.3-1.debian.tar.xz 8f12cc808dbec030179a25ce2645a4c0b622ee8011c2afcec53b87ec5867a8cc"
  "opus o/opus opus_1.3.1.orig.tar.gz 65b58e1e25b2a114157014736a3d9dfeaad8d41be1c8179866f144a2fb44ff9d opus_1.3.1-3.debian.tar.xz f4a145f0d5b9140106396fc0b0c515b1c3abd59f2aa5fb62b36b69886aa411bc"
  "libjpeg-turbo libj/libjpeg-turbo libjpeg-turbo_2.1.5.orig.tar.gz 254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c libjpeg-turbo_2.1.5-2.debian.tar.xz cdb2433c2f7101345c1ffa14efb943787c675b86354691a32490845fe4bc9237"
  "alsa-lib a/alsa-lib alsa-lib_1.2.8.orig.tar.bz2 1ab01b74e33425ca99c2e36c0844fd6888273193bd898240fe8f93accbcbf347 alsa-lib_1.2.8-1.debian.tar.xz 58761e6731656727c8463e9019df879c8dccaabc07bd47a1abc8846aecae0b2a"
  "mbedtls m/mbedtls mbedtls_2.28.3.orig.tar.gz 3b4953aa55a681e084d31892d9904cc5328d6b4958ea57b90ae4b4f94ae69a8d mbedtls_2.28.3-1.debian.tar.xz 3e03c61f63c7bbcd0bf695b53e6663ab448cc2e15429cd67d0e4f32e699645a9"
  "libsrtp2 libs/libsrtp2 libsrtp2_2.5.0.orig.tar.gz 8a43ef8e9ae2b665292591af62aa1a4ae41e468b6d98d8258f91478735da4e09 libsrtp2_2.5.0-3.debian.tar.xz 3a3cafa12033d32cd0d5ad4d78f102bc6d998f7d67a17f262c436d0734865af4"
)

for tool in curl make cmake "$gnu-gcc" "$gnu-g++" "$gnu-ar" patch; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run cross/setup.sh armv6"
done
[ -d "$rust_src/src/llvm-project/libunwind" ] \
  || die "no libunwind source in $rust_src: rustup component add rust-src"

want="$(sha256sum "$0" "$cc" | cut -d' ' -f1 | tr '\n' ' ')$(rustc -V)"
if [ "$(cat "$sysroot.made" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
say "building into $sysroot (about 2 minutes)"
rm -rf "$sysroot" "$sysroot.made" "$build"
mkdir -p "$sysroot/usr/include" "$sysroot/usr/lib/pkgconfig" "$build" "$downloads"

fetch() { # pool-dir file sha256
  local f=$downloads/$2
  if [ ! -f "$f" ] || ! sha256sum --status -c <<<"$3  $f"; then
    curl -fsSL --retry 3 -o "$f.part" "$mirror/pool/main/$1/$2" || die "download failed: $mirror/pool/main/$1/$2"
    sha256sum --status -c <<<"$3  $f.part" || die "$2: SHA-256 is not bookworm's ($3)"
    mv "$f.part" "$f"
  fi
}

# Unpacks a source package into $build/NAME with Debian's patches applied.
unpack() { # name
  local entry
  for entry in "${sources[@]}"; do
    read -r name pool orig orig_sum deb deb_sum <<<"$entry"
    [ "$name" = "$1" ] || continue
    fetch "$pool" "$orig" "$orig_sum"
    fetch "$pool" "$deb" "$deb_sum"
    mkdir -p "$build/$name"
    tar -xf "$downloads/$orig" -C "$build/$name" --strip-components=1
    tar -xf "$downloads/$deb" -C "$build/$name"
    if [ -f "$build/$name/debian/patches/series" ]; then
      local p
      grep -v '^\s*\(#\|$\)' "$build/$name/debian/patches/series" | while read -r p _; do
        patch -d "$build/$name" -s -p1 <"$build/$name/debian/patches/$p" || die "$name: Debian patch $p does not apply"
      done
    fi
    return
  done
  die "unknown source $1"
}

# Every build's output goes to a log; a failure shows its end.
run() { # name command...
  local name=$1 log=$build/$1.log
  shift
  if ! (cd "$build/$name" && "$@") >>"$log" 2>&1; then
    tail -30 "$log" >&2
    die "$name failed: $* (log: $log)"
  fi
}

export PKG_CONFIG_LIBDIR=$sysroot/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$sysroot
autotools=(--host=arm-linux-musleabihf --prefix=/usr --libdir=/usr/lib --disable-shared --enable-static
  "CC=$cc" "AR=$gnu-ar" "RANLIB=$gnu-ranlib" "CFLAGS=-O2 $sections")
toolchain=$build/toolchain.cmake
cat >"$toolchain" <<EOF
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER $cc)
set(CMAKE_AR $(command -v "$gnu-ar"))
set(CMAKE_RANLIB $(command -v "$gnu-ranlib"))
set(CMAKE_FIND_ROOT_PATH $sysroot/usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF
cmake_args=(-DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_SHARED_LIBS=OFF "-DCMAKE_C_FLAGS=$sections"
  -DCMAKE_INSTALL_LIBDIR=/usr/lib -DCMAKE_INSTALL_INCLUDEDIR=/usr/include -DCMAKE_INSTALL_BINDIR=/usr/bin)

# --- musl, and the kernel's headers beside it ------------------------------
# Built with the bare cross gcc: cross/armv6-cc needs musl in place first.
unpack musl
run musl ./configure --target=arm-linux-musleabihf --prefix=/usr --libdir=/usr/lib --disable-shared \
  "CC=$gnu-gcc" "CROSS_COMPILE=$gnu-" "CFLAGS=$cpu -O2"
run musl make -j"$jobs"
run musl make install DESTDIR="$sysroot"
# The kernel's UAPI headers (linux-libc-dev-armhf-cross: Debian's 6.1), for
# ALSA's and V4L2's ioctls; musl has none of its own.
for d in linux asm asm-generic sound mtd; do
  cp -r "/usr/$gnu/include/$d" "$sysroot/usr/include/"
done

# --- libunwind ----------------------------------------------------------------
# Rust's std unwinds with LLVM's libunwind on musl (a panic must unwind for
# the peer's threads to report it); the source is the toolchain's own
# (rust-src), built with the flags Rust's bootstrap builds it with.
mkdir -p "$build/libunwind"
lu=$rust_src/src/llvm-project/libunwind
# -fno-ipa-pure-const: gcc finds that _Unwind_Resume never returns and, as
# the function cannot throw (-fno-exceptions), drops the saving of the
# callee-saved registers it then overwrites (r4-r6) before capturing them
# with __unw_getcontext; the unwinder then hands the next frame those
# overwritten values as the caller's own. A program that caught a panic in
# a frame above a cleanup crashed on the r6 it got back (clang, which Rust's
# own builds of libunwind mostly use, does not do this). The check after the
# build makes sure the registers are saved.
lu_flags=(-O2 -fno-ipa-pure-const $sections -I"$lu/include" -funwind-tables -fstrict-aliasing -fvisibility=hidden
  -D_LIBUNWIND_DISABLE_VISIBILITY_ANNOTATIONS -D_LIBUNWIND_IS_NATIVE_ONLY -DNDEBUG)
for f in UnwindLevel1.c UnwindLevel1-gcc-ext.c Unwind-sjlj.c Unwind-EHABI.cpp libunwind.cpp \
  UnwindRegistersSave.S UnwindRegistersRestore.S; do
  case $f in
  *.c) std=(-std=c99) ;;
  *.cpp) std=(-std=c++17 -fno-exceptions -fno-rtti -nostdinc++) ;;
  *) std=() ;;
  esac
  run libunwind "$cc" "${lu_flags[@]}" "${std[@]}" -c "$lu/src/$f" -o "${f%.*}.o"
done
"$gnu-objdump" -d --disassemble=_Unwind_Resume "$build/libunwind/Unwind-EHABI.o" | grep -q 'push.*{r4' \
  || die "libunwind's _Unwind_Resume does not save r4 (gcc dropped its register saves)"
run libunwind "$gnu-ar" rcs "$sysroot/usr/lib/libunwind.a" \
  UnwindLevel1.o UnwindLevel1-gcc-ext.o Unwind-sjlj.o Unwind-EHABI.o libunwind.o \
  UnwindRegistersSave.o UnwindRegistersRestore.o

# --- opus ---------------------------------------------------------------------
# Floating point: the ARM1176 has VFP; cross/README.md ("ARMv6") has the
# fixed-point comparison. configure's ARM assembly picks the ARMv6 media
# instructions; its NEON code is chosen at run time from /proc/cpuinfo.
unpack opus
run opus ./configure "${autotools[@]}" --disable-doc --disable-extra-programs
run opus make -j"$jobs"
run opus make install DESTDIR="$sysroot"

# --- libjpeg-turbo --------------------------------------------------------------
# Its NEON code is compiled in and used only where /proc/cpuinfo lists neon
# (JSIMD_FORCENEON=1 forces it, JSIMD_FORCENONE=1 turns it off); the rest is
# plain ARMv6. REQUIRE_SIMD: fail rather than quietly build without it.
unpack libjpeg-turbo
run libjpeg-turbo cmake -S . -B b "${cmake_args[@]}" -DENABLE_SHARED=0 -DENABLE_STATIC=1 \
  -DWITH_TURBOJPEG=1 -DWITH_SIMD=1 -DREQUIRE_SIMD=1
run libjpeg-turbo make -C b -j"$jobs"
run libjpeg-turbo make -C b install DESTDIR="$sysroot"

# --- alsa-lib -------------------------------------------------------------------
# Static, so it loads no plugin modules; its configuration is the board's own
# /usr/share/alsa (hw:, plughw:, dmix and the other built-in plugins work).
unpack alsa-lib
run alsa-lib ./configure "${autotools[@]}" --with-configdir=/usr/share/alsa \
  --disable-python --disable-alisp --disable-topology --without-versioned
run alsa-lib make -j"$jobs"
run alsa-lib make install DESTDIR="$sysroot"

# --- mbedtls, then libsrtp2 with its AES-GCM ------------------------------------
unpack mbedtls
run mbedtls cmake -S . -B b "${cmake_args[@]}" -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF \
  -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DGEN_FILES=OFF -DMBEDTLS_FATAL_WARNINGS=OFF
run mbedtls make -C b -j"$jobs"
run mbedtls make -C b install DESTDIR="$sysroot"

unpack libsrtp2
run libsrtp2 cmake -S . -B b "${cmake_args[@]}" -DENABLE_MBEDTLS=ON -DTEST_APPS=OFF -DLIBSRTP_TEST_APPS=OFF
run libsrtp2 make -C b -j"$jobs"
run libsrtp2 make -C b install DESTDIR="$sysroot"
# Its CMake build writes no .pc file; srtp-ffi finds it through pkg-config.
# mbedcrypto under Libs, not Libs.private: the pkg-config crate asks for the
# private ones only when told to link everything statically, which would
# reach the host's builds too.
cat >"$sysroot/usr/lib/pkgconfig/libsrtp2.pc" <<'EOF'
prefix=/usr
libdir=${prefix}/lib
includedir=${prefix}/include

Name: libsrtp2
Version: 2.5.0
Description: Library for SRTP (Secure Realtime Transport Protocol), with mbedtls's AES-GCM
Libs: -L${libdir} -lsrtp2 -lmbedcrypto
Cflags: -I${includedir}
EOF
grep -q '^#define GCM 1' "$build/libsrtp2/b/config.h" || die "libsrtp2 was configured without AES-GCM"

for lib in libc libunwind libopus libturbojpeg libasound libmbedcrypto libsrtp2; do
  [ -f "$sysroot/usr/lib/$lib.a" ] || die "$lib.a missing from $sysroot/usr/lib"
done
rm -rf "$build"
echo "$want" >"$sysroot.made"
say "done"
