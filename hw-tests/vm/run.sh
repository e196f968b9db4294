#!/usr/bin/env bash
# Run a command against real V4L2 and ALSA kernel drivers (vivid, v4l2loopback,
# snd-aloop) inside a qemu VM that boots Debian's stock kernel, on a machine with no
# camera, no sound card and no loadable modules. See README.md beside this file.
#
#   hw-tests/vm/run.sh [--arch x86_64|aarch64] [--timeout SECS] -- CMD [ARGS...]
#
# x86_64: CMD runs in a chroot of the host's root (shared read-only), in the current
# working directory, so host binaries such as target/debug/deps/* run unchanged.
# aarch64: an emulated arm64 board (-M virt -cpu cortex-a72); CMD runs in a chroot of
# a Debian arm64 userland with the host's working directory shared read-only at the
# same path, so cross-built binaries under target/aarch64-unknown-linux-gnu/ run.
# Exit code: CMD's, 124 on timeout, 125 when the VM or the harness failed (one line
# on stderr says what), 2 on bad usage.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
INIT_SCRIPT=$HERE/init
ARCH=x86_64
TIMEOUT=300
# Two vCPUs: qemu's multi-threaded TCG runs them on two host threads, so threaded
# code under test sees real parallelism. Overridable for tests that need more.
MEM=${PEERCALL_VM_MEM:-1024}
SMP=${PEERCALL_VM_SMP:-2}
CACHE=${PEERCALL_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peercall-hw-vm}

# What the guest loads. vivid: one webcam node only (/dev/video0); v4l2loopback: one
# node pinned to /dev/video1, exclusive_caps so that once a writer feeds it, it looks
# like a capture-only camera; snd-aloop: card 0, id Loopback.
VIVID_OPTS="n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0"
LOOPBACK_OPTS="devices=1 video_nr=1 exclusive_caps=1 card_label=PeerCall-MJPEG-Loopback max_width=1920 max_height=1080"
ALOOP_OPTS="index=0 id=Loopback"
SHARE_MODULES="virtio_pci 9pnet_virtio 9p"
EXPECT_DEVICES="/dev/video0 /dev/video1 /dev/snd/controlC0 /dev/snd/pcmC0D0p /dev/snd/pcmC0D1c"
# A screen: qemu's bochs-display, driven by the kernel's bochs DRM driver, gives
# /dev/dri/card0 with one connected output, as a console-only board has. Its size is set through the EDID qemu gives the guest: small, because the
# guest paints it with Mesa's software renderer on an emulated CPU.
SCREEN_SIZE=${PEERCALL_VM_SCREEN:-640x480}

log() { echo "peercall-vm: $*" >&2; }
die() { echo "peercall-vm: error: $*" >&2; exit 125; }
usage() {
    sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

while (($#)); do
    case $1 in
        --arch) ARCH=${2:?--arch needs a value}; shift 2 ;;
        --arch=*) ARCH=${1#*=}; shift ;;
        --timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
        --timeout=*) TIMEOUT=${1#*=}; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        -*) echo "peercall-vm: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
(($#)) || usage
[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -gt 0 ]] || { echo "peercall-vm: --timeout wants seconds" >&2; exit 2; }
# Per guest architecture: Debian's name for it, its kernel flavour and qemu, the
# serial console, and how the kernel module is cross-built.
case $ARCH in
    x86_64|amd64)
        ARCH=x86_64 DEB_ARCH=amd64 QEMU_BIN=qemu-system-x86_64 QEMU_PKG=qemu-system-x86
        CONSOLE_DEV=ttyS0 MACHINE=(-cpu max) KMAKE_ENV=(-u ARCH -u CROSS_COMPILE) ;;
    aarch64|arm64)
        # A Raspberry Pi 4's cores are Cortex-A72.
        ARCH=aarch64 DEB_ARCH=arm64 QEMU_BIN=qemu-system-aarch64 QEMU_PKG=qemu-system-arm
        CONSOLE_DEV=ttyAMA0 MACHINE=(-M virt -cpu cortex-a72)
        KMAKE_ENV=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-) ;;
    *)
        echo "peercall-vm: --arch $ARCH is not supported (x86_64 or aarch64)" >&2
        exit 2 ;;
esac
[[ $SCREEN_SIZE =~ ^([0-9]+)x([0-9]+)$ ]] || { echo "peercall-vm: PEERCALL_VM_SCREEN wants WxH, not '$SCREEN_SIZE'" >&2; exit 2; }
# -vga none: x86's default VGA card is a bochs device too, and would be a second card.
SCREEN=(-vga none -device "bochs-display,xres=${BASH_REMATCH[1]},yres=${BASH_REMATCH[2]}")
EXPECT_DEVICES="$EXPECT_DEVICES /dev/dri/card0"
# The kernel package, with its architecture when it is not the host's.
KPKG_SUFFIX=
[[ $DEB_ARCH == "$(dpkg --print-architecture)" ]] || KPKG_SUFFIX=:$DEB_ARCH

SUDO=
if ((EUID != 0)); then SUDO=sudo; fi
APT_OPTS=()
# apt-get download as root otherwise warns that the _apt user cannot write to the cache.
if ((EUID == 0)); then APT_OPTS=(-o APT::Sandbox::User=root); fi

now() { echo "${EPOCHREALTIME/,/.}"; }
T_START=$(now)

# ---------------------------------------------------------------- host tools

APT_UPDATED=0
apt_update() {
    if ((APT_UPDATED == 0)); then
        log "apt-get update"
        APT_UPDATED=1
        # A mirror caught mid-sync fails one index but leaves the rest usable: go
        # on, and let the install or download say if what it needs is missing.
        $SUDO apt-get update -qq >&2 || log "apt-get update reported errors (above); going on with the lists it left"
    fi
}

ensure_tools() {
    local missing=()
    command -v "$QEMU_BIN" >/dev/null || missing+=("$QEMU_PKG")
    if [[ $ARCH == x86_64 ]]; then
        # The initramfs has no libc, so only a static busybox will do. The guest
        # paints its screen with what the host has (it shares the host's root):
        # SDL's KMSDRM backend needs GBM and EGL, which on the GPU-less
        # bochs-display means Mesa's software path (kms_swrast, llvmpipe), and
        # its renderers load libGL.so.1 (OpenGL) or libGLESv2.so.2 (GLES 2) first.
        local pkg
        for pkg in busybox-static libgbm1 libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libgles2; do
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
        done
    else
        # The arm64 userland (with its static busybox) is extracted by mmdebstrap;
        # the kernel module is built with the cross gcc the kernel names.
        command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
        command -v aarch64-linux-gnu-gcc-12 >/dev/null || missing+=(gcc-12-aarch64-linux-gnu)
    fi
    # A busybox of another architecture is run by qemu-user, named explicitly, to
    # list its applets (busybox_applets).
    [[ $ARCH == "$(uname -m)" ]] || command -v "qemu-$ARCH" >/dev/null || missing+=(qemu-user)
    # screendump.py, which takes the pictures of the guest's screen.
    command -v python3 >/dev/null || missing+=(python3)
    command -v cpio >/dev/null || missing+=(cpio)
    command -v xz >/dev/null || missing+=(xz-utils)
    { command -v depmod && command -v modprobe; } >/dev/null 2>&1 || [[ -x /sbin/depmod ]] || missing+=(kmod)
    command -v make >/dev/null || missing+=(make)
    # Debian's kernel headers name gcc-12 (the compiler the kernel was built with).
    command -v gcc-12 >/dev/null || missing+=(gcc)
    ((${#missing[@]})) || return 0
    log "installing ${missing[*]}"
    apt_update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# depmod and modprobe live in /sbin, which a non-root PATH may lack.
PATH=$PATH:/sbin:/usr/sbin
ensure_tools
# apt can fetch another architecture's kernel only once dpkg knows of it.
if [[ -n $KPKG_SUFFIX ]] && ! dpkg --print-foreign-architectures | grep -qx "$DEB_ARCH"; then
    log "dpkg --add-architecture $DEB_ARCH"
    $SUDO dpkg --add-architecture "$DEB_ARCH" || die "dpkg --add-architecture $DEB_ARCH failed"
    apt_update
fi

# ---------------------------------------------------------------- kernel, modules, initramfs

mkdir -p "$CACHE/$ARCH"
exec 9>"$CACHE/$ARCH/.lock"
# Several runs may start at once (e.g. parallel test jobs): one prepares, the others wait.
flock 9

# The ABI version is whatever linux-image-$DEB_ARCH points at today; never hard-coded.
# apt-cache takes half a second, so the answer is kept until the apt lists change.
resolve_kver() {
    local stamp memo=$CACHE/$ARCH/kver
    stamp=$(stat -c %Y /var/lib/apt/lists 2>/dev/null || echo none)
    if [[ -f $memo && $(head -n1 "$memo") == "$stamp" ]]; then
        sed -n 2p "$memo"
        return
    fi
    KVER=$(apt-cache show --no-all-versions "linux-image-$DEB_ARCH$KPKG_SUFFIX" 2>/dev/null |
        sed -n 's/^Depends: *linux-image-\([^ ,]*\).*/\1/p' | head -n1)
    [[ -z $KVER ]] || printf '%s\n%s\n' "$stamp" "$KVER" >"$memo"
    echo "$KVER"
}
KVER=$(resolve_kver)
if [[ -z $KVER ]] && apt_update; then
    KVER=$(resolve_kver)
fi
if [[ -z $KVER ]]; then
    # Offline and without apt lists: fall back to the newest kernel already prepared.
    KVER=$(find "$CACHE/$ARCH" -mindepth 2 -maxdepth 2 -name .ready -printf '%h\n' | sed 's|.*/||' | sort -V | tail -n1)
    [[ -n $KVER ]] || die "cannot resolve the version of linux-image-$DEB_ARCH"
    log "apt cannot resolve linux-image-$DEB_ARCH; using cached kernel $KVER"
fi
KDIR=$CACHE/$ARCH/$KVER
ROOT=$KDIR/root

fetch_debs() {
    local debs=$KDIR/debs common kbuild
    mkdir -p "$debs"
    local deps
    deps=$(apt-cache depends "linux-headers-$KVER$KPKG_SUFFIX" 2>/dev/null)
    # A foreign architecture's dependencies read "<name:arch>"; the common headers
    # are Architecture: all, and kbuild (fixdep, modpost) must run here, so both
    # are taken for the host.
    common=$(sed -n 's/.*Depends: <\{0,1\}\(linux-headers-[^ >:]*-common\).*/\1/p' <<<"$deps" | head -n1)
    kbuild=$(sed -n 's/.*Depends: <\{0,1\}\(linux-kbuild-[^ >:]*\).*/\1/p' <<<"$deps" | head -n1)
    [[ -n $common && -n $kbuild ]] || die "cannot find the headers packages of linux-headers-$KVER"
    log "downloading linux-image-$KVER, its headers and v4l2loopback-dkms"
    local pkgs=("linux-image-$KVER$KPKG_SUFFIX" "linux-headers-$KVER$KPKG_SUFFIX" "$common" "$kbuild" v4l2loopback-dkms)
    if ! (cd "$debs" && apt-get download "${APT_OPTS[@]}" -qq "${pkgs[@]}" >&2); then
        # Stale apt lists name files the mirror no longer has.
        apt_update || true
        (cd "$debs" && apt-get download "${APT_OPTS[@]}" -qq "${pkgs[@]}" >&2) ||
            die "apt-get download ${pkgs[*]} failed"
    fi
}

prepare_kernel() {
    [[ -f $KDIR/.ready ]] && return 0
    rm -rf "$KDIR"
    mkdir -p "$KDIR"
    fetch_debs
    local tmproot=$KDIR/root.tmp deb
    mkdir -p "$tmproot"
    # Extract only: nothing is installed on the host.
    for deb in "$KDIR"/debs/*.deb; do dpkg -x "$deb" "$tmproot"; done
    local hdr=$tmproot/usr/src/linux-headers-$KVER common
    common=$(cd "$tmproot/usr/src" && ls -d linux-headers-*-common | head -n1)
    # The headers' Makefile includes the common tree by its installed path.
    sed -i "s|^include .*|include $ROOT/usr/src/$common/Makefile|" "$hdr/Makefile"
    mv "$tmproot" "$ROOT"

    log "building v4l2loopback.ko"
    local src build
    src=$(ls -d "$ROOT"/usr/src/v4l2loopback-* | head -n1)
    build=$KDIR/v4l2loopback-build
    rm -rf "$build"
    cp -r "$src" "$build"
    env -u KBUILD_OUTPUT "${KMAKE_ENV[@]}" \
        make -s -C "$ROOT/usr/src/linux-headers-$KVER" M="$build" modules >"$KDIR/v4l2loopback-build.log" 2>&1 ||
        { tail -n 20 "$KDIR/v4l2loopback-build.log" >&2; die "building v4l2loopback.ko failed (log: $KDIR/v4l2loopback-build.log)"; }
    mkdir -p "$ROOT/lib/modules/$KVER/extra"
    cp "$build/v4l2loopback.ko" "$ROOT/lib/modules/$KVER/extra/"
    rm -rf "$build"
    # Debian's package ships no modules.dep; modprobe --show-depends needs it.
    depmod -b "$ROOT" "$KVER" || die "depmod failed"
    rm -f "$KDIR"/debs/*.deb
    touch "$KDIR/.ready"
}

# Prints "STAGE PATH [OPTIONS]" lines in insmod order, each module once.
module_list() {
    local stage mod opts line path found
    declare -A seen=()
    emit() {
        stage=$1 mod=$2 opts=$3 found=
        while read -r line; do
            if [[ $line == "builtin $mod" || $line == "builtin ${mod//-/_}" ]]; then
                found=1 # built into the kernel: nothing to load
                continue
            fi
            [[ $line == insmod\ * ]] || continue
            path=${line#insmod }
            path=${path%% *}
            path=${path#"$ROOT/lib/modules/$KVER/"}
            [[ -z ${seen[$path]:-} ]] || continue
            seen[$path]=1
            # Options go on the module that was asked for, not on its dependencies.
            if [[ ${path##*/} == "$mod.ko" || ${path##*/} == "${mod//_/-}.ko" ]]; then
                found=1
                echo "$stage $path $opts"
            else
                echo "$stage $path"
            fi
        done < <(modprobe -d "$ROOT" -S "$KVER" --show-depends "$mod")
        [[ -n $found ]] || die "module $mod not found in the kernel package"
    }
    for mod in $SHARE_MODULES; do emit share "$mod" ""; done
    emit dev vivid "$VIVID_OPTS"
    emit dev v4l2loopback "$LOOPBACK_OPTS"
    emit dev snd-aloop "$ALOOP_OPTS"
    emit dev bochs ""
}

# The arm64 guest's userland: the libraries the peer and registry link, ALSA's
# configuration, python3 and bash for the test helpers, and a static busybox for the
# initramfs, extracted (not installed: nothing runs) from Debian's arm64 packages.
# The guest cannot use the host's root as the x86-64 guest does, since its programs
# are x86-64 ones.
# SDL2's KMSDRM backend needs GBM and EGL, here Mesa's software path, as on x86-64,
# and libGL or libGLESv2: without them it fails with "EGL not initialized".
ROOTFS_PKGS="busybox-static libc6 libgcc-s1 libasound2 libasound2-data libopus0 libturbojpeg0 libssl3 libsdl2-2.0-0 libgbm1 libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libgles2 bash coreutils python3-minimal base-passwd"
prepare_rootfs() {
    local suite key tmp
    suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [[ -n $suite ]] || die "cannot tell this distribution's release (VERSION_CODENAME in /etc/os-release)"
    key=$( { echo "$suite $ROOTFS_PKGS"; declare -f prepare_rootfs; } | sha256sum | cut -c1-16)
    GUEST_ROOT=$CACHE/$ARCH/rootfs-$key
    [[ -f $GUEST_ROOT/.ready ]] && return 0
    log "extracting a Debian $suite $DEB_ARCH userland ($ROOTFS_PKGS)"
    tmp=$GUEST_ROOT.tmp
    $SUDO rm -rf "$tmp" "$GUEST_ROOT"
    $SUDO mmdebstrap --quiet --mode=root --variant=extract --arch="$DEB_ARCH" \
        --include="${ROOTFS_PKGS// /,}" "$suite" "$tmp" >&2 ||
        die "mmdebstrap could not extract the $DEB_ARCH userland"
    # What the packages' maintainer scripts would have made: users, hosts, /tmp.
    $SUDO cp "$tmp/usr/share/base-passwd/passwd.master" "$tmp/etc/passwd"
    $SUDO cp "$tmp/usr/share/base-passwd/group.master" "$tmp/etc/group"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' | $SUDO tee "$tmp/etc/hosts" >/dev/null
    $SUDO mkdir -p "$tmp/tmp" "$tmp/run"
    $SUDO chmod 1777 "$tmp/tmp"
    $SUDO touch "$tmp/.ready"
    $SUDO mv "$tmp" "$GUEST_ROOT"
    # Userlands of older package lists are only dead weight.
    find "$CACHE/$ARCH" -maxdepth 1 -name 'rootfs-*' ! -name "rootfs-$key" -mtime +7 -exec $SUDO rm -rf {} +
}

# The applets of $BUSYBOX, the guest's static busybox, one a line; exits when it
# cannot tell or the list has no shell. A busybox of another architecture runs
# under qemu-user named explicitly rather than through binfmt_misc, which a fresh
# machine may not have: there the exec failed, the list came back empty, the
# initramfs had no /bin/sh and the guest panicked ("Requested init /init failed").
busybox_applets() {
    local runner=() list
    [[ $ARCH == "$(uname -m)" ]] || runner=("qemu-$ARCH")
    list=$("${runner[@]}" "$BUSYBOX" --list) ||
        die "cannot list the applets of $BUSYBOX (${runner[*]:-run directly}): see above"
    grep -qx sh <<<"$list" ||
        die "$BUSYBOX --list (${runner[*]:-run directly}) names no 'sh' applet, so the guest's /init could not run: got '${list:0:200}'"
    echo "$list"
}

prepare_initramfs() {
    local modlist conf key applets
    modlist=$(module_list)
    conf=$(printf 'KVER=%q\nEXPECT_DEVICES=%q\n' "$KVER" "$EXPECT_DEVICES")
    # Keyed by everything that goes in, including how this function lays it out.
    key=$( { cat "$INIT_SCRIPT"; echo "$modlist"; echo "$conf"; sha256sum "$BUSYBOX"; declare -f prepare_initramfs busybox_applets; } |
        sha256sum | cut -c1-16)
    INITRD=$KDIR/initramfs-$key.cpio.gz
    if [[ -f $INITRD ]]; then
        touch "$INITRD"
        return 0
    fi
    log "building initramfs $key"
    local tree=$KDIR/initramfs.tmp applet path
    rm -rf "$tree"
    mkdir -p "$tree"/{bin,sbin,etc,proc,sys,dev,host,out,lib/modules/"$KVER"}
    cp "$BUSYBOX" "$tree/bin/busybox"
    # Not in the for list itself, where a failure would go unnoticed.
    applets=$(busybox_applets) || exit 125
    for applet in $applets; do
        # A link named busybox would point at itself; an init applet would only be
        # a fallback that waits for Enter on the console if /init is broken.
        case $applet in busybox|init|linuxrc) continue ;; esac
        ln -sf busybox "$tree/bin/$applet"
    done
    [[ -L $tree/bin/sh ]] || die "the initramfs has no /bin/sh for /init"
    install -m 755 "$INIT_SCRIPT" "$tree/init"
    echo "$modlist" >"$tree/etc/peercall-modules"
    echo "$conf" >"$tree/etc/peercall-vm.conf"
    while read -r _ path _; do
        mkdir -p "$tree/lib/modules/$KVER/$(dirname "$path")"
        cp "$ROOT/lib/modules/$KVER/$path" "$tree/lib/modules/$KVER/$path"
    done <<<"$modlist"
    (cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6) >"$INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    rm -rf "$tree"
    # Images of older init scripts are dead weight, but another checkout sharing the
    # cache may still be about to boot one: only those unused for a week go.
    find "$KDIR" -maxdepth 1 -name 'initramfs-*.cpio.gz' -mtime +7 -delete
}

# Under TCG, decompressing the xz bzImage costs about 2 s per boot. The kernel has
# CONFIG_PVH, so qemu can start the uncompressed ELF vmlinux directly instead.
prepare_vmlinux() {
    [[ -f $KDIR/vmlinux || -f $KDIR/vmlinux.none ]] && return 0
    local img=$ROOT/boot/vmlinuz-$KVER off
    off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$img" | head -n1 | cut -d: -f1 || true)
    if [[ -n $off ]] && grep -q '^CONFIG_PVH=y' "$ROOT/boot/config-$KVER" &&
        { tail -c +$((off + 1)) "$img" | xz -dc >"$KDIR/vmlinux.tmp" 2>/dev/null || true; } &&
        [[ $(head -c 4 "$KDIR/vmlinux.tmp" | od -An -tx1 | tr -d ' ') == 7f454c46 ]]; then
        mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
    else
        rm -f "$KDIR/vmlinux.tmp"
        touch "$KDIR/vmlinux.none"
    fi
}

prepare_kernel
# What the guest chroots into (shared read-only) and where its busybox comes from.
if [[ $ARCH == x86_64 ]]; then
    GUEST_ROOT=/
    BUSYBOX=/bin/busybox
    prepare_vmlinux
else
    prepare_rootfs
    BUSYBOX=$GUEST_ROOT/bin/busybox
fi
prepare_initramfs
KERNEL_ARGS=(-kernel "$ROOT/boot/vmlinuz-$KVER")
if [[ $ARCH != x86_64 ]]; then
    : # arm64's vmlinuz is an uncompressed Image already
elif [[ -f $KDIR/vmlinux && -f /usr/share/qemu/qboot.rom ]]; then
    # qboot is a minimal firmware: SeaBIOS adds nothing a PVH boot needs.
    KERNEL_ARGS=(-kernel "$KDIR/vmlinux" -bios /usr/share/qemu/qboot.rom)
elif [[ -f $KDIR/vmlinux ]]; then
    KERNEL_ARGS=(-kernel "$KDIR/vmlinux")
fi
flock -u 9
T_PREPARED=$(now)

# ---------------------------------------------------------------- the job

WORK=$(mktemp -d "${TMPDIR:-/tmp}/peercall-vm.XXXXXX")
QEMU_PID=
TAIL_PID=
WATCHDOG_PID=
SCREENDUMP_PID=
cleanup() {
    [[ -n $QEMU_PID ]] && kill "$QEMU_PID" 2>/dev/null || true
    [[ -n $SCREENDUMP_PID ]] && kill "$SCREENDUMP_PID" 2>/dev/null || true
    [[ -n $WATCHDOG_PID ]] && kill "$WATCHDOG_PID" 2>/dev/null || true
    [[ -n $TAIL_PID ]] && kill "$TAIL_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
SHARE=$WORK/out
mkdir -p "$SHARE"
chmod 777 "$SHARE"

CWD=$(pwd -P)
case $CWD in
    /run|/run/*|/proc|/proc/*|/sys|/sys/*|/dev|/dev/*)
        # The guest mounts its own filesystems there, hiding the host's.
        die "cannot run in $CWD: the guest has its own /run, /proc, /sys and /dev" ;;
esac
# A tmpfs over the guest's /tmp gives tests a writable /tmp, unless that would hide
# the working directory or a file named on the command line (e.g. a checkout under
# /tmp); then TMPDIR points at a tmpfs instead.
TMP_TMPFS=1
for arg in "$CWD" "$@"; do
    [[ $arg == /tmp || $arg == /tmp/* ]] && TMP_TMPFS=0
done
# The arm64 guest's userland does not hold the host's files: the working directory
# comes in as a share of its own, mounted at the same path.
WORK_DIR=
WORK_SHARE=()
if [[ $GUEST_ROOT != / ]]; then
    WORK_DIR=$CWD
    [[ -d $GUEST_ROOT$CWD ]] || $SUDO mkdir -p "$GUEST_ROOT$CWD"
    WORK_SHARE=(-virtfs "local,path=$CWD,mount_tag=work,security_model=none,readonly=on,multidevs=remap,id=work")
fi
printf 'TMP_TMPFS=%s\nWORK_DIR=%q\n' "$TMP_TMPFS" "$WORK_DIR" >"$SHARE/vm.conf"

{
    echo '#!/bin/bash'
    echo '# written by run.sh; runs in the guest, in a chroot of the host root'
    printf 'export PEERCALL_HW_VM=1\n'
    printf 'export PEERCALL_VM_OUT=/run/peercall-vm/artifacts\n'
    printf 'export PEERCALL_VM_SCREEN_DIR=/run/peercall-vm/screen\n'
    for var in PATH HOME USER LOGNAME LANG LC_ALL; do
        [[ -n ${!var+x} ]] && printf 'export %s=%q\n' "$var" "${!var}"
    done
    printf 'export TERM=dumb\n'
    if ((TMP_TMPFS == 0)); then
        printf 'mkdir -p -m 1777 /run/tmp && export TMPDIR=/run/tmp\n'
    fi
    for var in $(tr , " " <<<"${PEERCALL_VM_ENV:-}"); do
        [[ $var =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "PEERCALL_VM_ENV: bad variable name '$var'"
        if [[ -n ${!var+x} ]]; then printf 'export %s=%q\n' "$var" "${!var}"; fi
    done
    printf 'cd %q || { echo "cannot cd to %q in the guest" >/run/peercall-vm/error; exit 125; }\n' "$CWD" "$CWD"
    printf 'exec'
    printf ' %q' "$@"
    printf '\n'
} >"$SHARE/job.sh"
mkdir -p "$SHARE/artifacts" "$SHARE/screen"
chmod 777 "$SHARE/artifacts" "$SHARE/screen"
: >"$SHARE/output"

CONSOLE=$WORK/console.log
# PEERCALL_VM_VERBOSE=1 keeps the kernel's messages and prints the console at the end.
QUIET=quiet
[[ ${PEERCALL_VM_VERBOSE:-0} == 1 ]] && QUIET=
QEMU=("$QEMU_BIN" -accel tcg "${MACHINE[@]}" -m "$MEM" -smp "$SMP"
    -nographic -no-reboot -nic none "${SCREEN[@]}"
    # QMP, through which screendump.py takes pictures of the guest's screen.
    -qmp "unix:$WORK/qmp.sock,server=on,wait=off"
    "${KERNEL_ARGS[@]}" -initrd "$INITRD"
    # init=/init: if /init cannot run, panic (and so exit) rather than fall back to
    # a /bin/sh on the console.
    -append "console=$CONSOLE_DEV $QUIET panic=-1 init=/init"
    -virtfs "local,path=$GUEST_ROOT,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot"
    "${WORK_SHARE[@]}"
    -virtfs "local,path=$SHARE,mount_tag=out,security_model=none,multidevs=remap,id=out")

T_BOOT=$(now)
set +e
timeout -k 5 "$TIMEOUT" "${QEMU[@]}" </dev/null >"$CONSOLE" 2>&1 &
QEMU_PID=$!
# The command's output is streamed as the guest writes it to the share; tail prints
# the rest and exits once qemu is gone.
tail -n +1 -s 0.1 -f --pid="$QEMU_PID" "$SHARE/output" &
TAIL_PID=$!
# The guest asks for pictures of its screen by writing screen/NAME.want.
python3 "$HERE/screendump.py" --qmp "$WORK/qmp.sock" --dir "$SHARE/screen" --pid "$QEMU_PID" &
SCREENDUMP_PID=$!
# A kernel that never reaches /init would otherwise hold the run for the whole timeout.
BOOT_LIMIT=$((TIMEOUT < 120 ? TIMEOUT : 120))
(
    for ((i = 0; i < BOOT_LIMIT; i++)); do
        sleep 1
        grep -q PEERCALL-VM-INIT "$CONSOLE" 2>/dev/null && exit 0
    done
    touch "$WORK/boot-timeout"
    kill "$QEMU_PID" 2>/dev/null
) &
WATCHDOG_PID=$!
wait "$QEMU_PID"
QRC=$?
kill "$WATCHDOG_PID" 2>/dev/null
wait "$WATCHDOG_PID" 2>/dev/null
WATCHDOG_PID=
T_END=$(now)
QEMU_PID=
wait "$TAIL_PID"
TAIL_PID=
if [[ -n $SCREENDUMP_PID ]]; then
    kill "$SCREENDUMP_PID" 2>/dev/null
    wait "$SCREENDUMP_PID" 2>/dev/null
    SCREENDUMP_PID=
fi
set -e

if [[ ${PEERCALL_VM_VERBOSE:-0} == 1 ]]; then
    echo "peercall-vm: ---- serial console ----" >&2
    tr -d '\r' <"$CONSOLE" >&2
    echo "peercall-vm: ---- end of serial console ----" >&2
fi

if [[ -n ${PEERCALL_VM_ARTIFACTS:-} ]] && [[ -n $(ls -A "$SHARE/artifacts") ]]; then
    mkdir -p "$PEERCALL_VM_ARTIFACTS"
    cp -r "$SHARE/artifacts/." "$PEERCALL_VM_ARTIFACTS/"
fi

timing() {
    local start end boot='?' cmd='?'
    start=$(sed -n 's/^start //p' "$SHARE/times" 2>/dev/null || true)
    end=$(sed -n 's/^end //p' "$SHARE/times" 2>/dev/null || true)
    [[ -n $start ]] && boot=$(printf '%.1fs' "$start")
    [[ -n $start && -n $end ]] && cmd=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1fs", b-a}')
    awk -v p="$T_START" -v q="$T_PREPARED" -v b="$T_BOOT" -v e="$T_END" -v boot="$boot" -v cmd="$cmd" \
        'BEGIN{printf "peercall-vm: timing: prepare %.1fs, guest boot %s, command %s, VM total %.1fs\n", q-p, boot, cmd, e-b}' >&2
}

failed_vm() {
    # The console log is the only record of a VM that failed; keep it past cleanup.
    cp "$CONSOLE" "$CACHE/$ARCH/last-failed-console.log" 2>/dev/null || true
    echo "peercall-vm: error: $*" >&2
    echo "peercall-vm: serial console (last lines; full log: $CACHE/$ARCH/last-failed-console.log):" >&2
    tail -n 15 "$CONSOLE" | sed 's/^/    /' >&2
    timing
    exit 125
}

if [[ -f $SHARE/error ]]; then
    failed_vm "$(head -n1 "$SHARE/error")"
fi
if [[ -f $SHARE/rc ]]; then
    timing
    exit "$(cat "$SHARE/rc")"
fi
if [[ -f $WORK/boot-timeout ]] && ! grep -q PEERCALL-VM-INIT "$CONSOLE"; then
    failed_vm "the VM did not boot: no sign of /init after ${BOOT_LIMIT}s"
fi
if ((QRC == 124 || QRC == 137)); then
    timing
    if grep -q 'PEERCALL-VM-CMD-START' "$CONSOLE"; then
        echo "peercall-vm: error: timed out after ${TIMEOUT}s while the command ran" >&2
    else
        cp "$CONSOLE" "$CACHE/$ARCH/last-failed-console.log" 2>/dev/null || true
        echo "peercall-vm: error: timed out after ${TIMEOUT}s before the command started (console: $CACHE/$ARCH/last-failed-console.log)" >&2
    fi
    exit 124
fi
ERR=$(sed -n 's/^.*PEERCALL-VM-ERROR: //p' "$CONSOLE" | head -n1 | tr -d '\r')
[[ -z $ERR ]] || failed_vm "$ERR"
PANIC=$(grep -a -m1 -o 'Kernel panic - .*' "$CONSOLE" | tr -d '\r' || true)
[[ -z $PANIC ]] || failed_vm "the guest kernel died: $PANIC"
grep -q 'PEERCALL-VM-INIT' "$CONSOLE" || failed_vm "the VM did not boot: the kernel never reached /init (qemu exit $QRC)"
failed_vm "the VM stopped before the command finished (qemu exit $QRC)"
