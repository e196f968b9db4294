#!/usr/bin/env bash
# `make deb-check-vm`: the amd64 packages under a real systemd, in a VM.
#
# Boots Debian's kernel under qemu (TCG)
# with the host's root filesystem shared read-only under a tmpfs overlay, and
# this machine's own systemd as PID 1; vivid (a V4L2 camera) and snd-aloop (an
# ALSA sound card) stand in for a board's camera and sound card. In there,
# packaging/vm/guest.sh installs target/debian/*_amd64.deb with apt-get and
# checks the services as a board would run them (see that file). Nothing on
# the host is changed.
#
# The kernel and its modules come from the hardware tests' VM cache
# (hw-tests/vm/run.sh prepares it the first time). Exit code: the guest
# checks' (0 all passed), 124 on timeout, 125 when the VM failed.
#
#   packaging/vm/run.sh [--timeout SECS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
HERE=packaging/vm
TIMEOUT=600
case ${1:-} in
--timeout) TIMEOUT=${2:?--timeout needs seconds} ;;
"") ;;
*)
	echo "usage: $0 [--timeout SECS]" >&2
	exit 2
	;;
esac

log() { echo "packaging-vm: $*" >&2; }
die() {
	echo "packaging-vm: error: $*" >&2
	exit 125
}

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
for p in peercall-registry peercall; do
	[ -f "target/debian/${p}_${version}-1_amd64.deb" ] || die "no target/debian/${p}_${version}-1_amd64.deb: run make deb first"
done

# ------------------------------------------------------------------ kernel

CACHE=${PEERCALL_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peercall-hw-vm}/x86_64
newest_kernel() { find "$CACHE" -mindepth 2 -maxdepth 2 -name .ready -printf '%h\n' 2>/dev/null | sort -V | tail -n1; }
KDIR=$(newest_kernel)
if [ -z "$KDIR" ]; then
	log "no kernel in $CACHE yet: preparing it with hw-tests/vm/run.sh"
	hw-tests/vm/run.sh -- true >&2 || die "hw-tests/vm/run.sh could not prepare the kernel"
	KDIR=$(newest_kernel)
	[ -n "$KDIR" ] || die "still no kernel in $CACHE"
fi
KVER=$(basename "$KDIR")
ROOT=$KDIR/root
PATH=$PATH:/sbin:/usr/sbin
for tool in qemu-system-x86_64 cpio modprobe; do
	command -v "$tool" >/dev/null || die "$tool is missing (hw-tests/vm/run.sh installs it)"
done
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx switch_root || die "a static /bin/busybox with switch_root is needed (busybox-static)"

# ------------------------------------------------------------------ initramfs

WORK=$(mktemp -d "${TMPDIR:-/tmp}/peercall-pkg-vm.XXXXXX")
QEMU_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

tree=$WORK/initramfs
mkdir -p "$tree"/{bin,sbin,etc,proc,sys,dev,lib/modules/"$KVER"}
cp /bin/busybox "$tree/bin/busybox"
for applet in $(/bin/busybox --list); do
	case $applet in busybox | init | linuxrc) continue ;; esac
	ln -sf busybox "$tree/bin/$applet"
done
install -m 755 "$HERE/init" "$tree/init"
echo "KVER=$KVER" >"$tree/etc/vm.conf"
# Drivers: the 9p shares, the overlay, a camera (vivid: one webcam node,
# /dev/video0) and a sound card (snd-aloop: card Loopback).
: >"$tree/etc/modules.list"
declare -A seen=()
for spec in "virtio_pci" "9pnet_virtio" "9p" "overlay" \
	"vivid n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0" "snd-aloop index=0 id=Loopback"; do
	mod=${spec%% *}
	opts=""
	[ "$spec" = "$mod" ] || opts=${spec#* }
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		rel=${path#"$ROOT/lib/modules/$KVER/"}
		[ -z "${seen[$rel]:-}" ] || continue
		seen[$rel]=1
		mkdir -p "$tree/lib/modules/$KVER/$(dirname "$rel")"
		cp "$path" "$tree/lib/modules/$KVER/$rel"
		if [ "${path##*/}" = "$mod.ko" ] || [ "${path##*/}" = "${mod//_/-}.ko" ]; then
			echo "$rel $opts" >>"$tree/etc/modules.list"
		else
			echo "$rel" >>"$tree/etc/modules.list"
		fi
	done < <(modprobe -d "$ROOT" -S "$KVER" --show-depends "$mod")
done
INITRD=$WORK/initramfs.cpio.gz
(cd "$tree" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$INITRD"

# ------------------------------------------------------------------ the guest's setup

SHARE=$WORK/out
mkdir -p "$SHARE"
chmod 777 "$SHARE"
CWD=$(pwd -P)
# Run by the initramfs with NEWROOT set, before systemd starts: a target that
# runs only the check (not the host's multi-user services), and the check
# itself, which powers the VM off when it ends.
cat >"$SHARE/setup.sh" <<SETUP
set -e
u=\$NEWROOT/etc/systemd/system
cat >"\$u/peercall-vm.target" <<'UNIT'
[Unit]
Description=peercall packaging check
Requires=basic.target peercall-vm-check.service
After=basic.target
AllowIsolate=yes
UNIT
cat >"\$u/peercall-vm-check.service" <<'UNIT'
[Unit]
Description=peercall packaging check (packaging/vm/guest.sh)
After=basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=oneshot
WorkingDirectory=$CWD
Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/bin/bash $CWD/$HERE/guest.sh
StandardOutput=append:/mnt/out/output
StandardError=inherit
TimeoutStartSec=infinity
UNIT
echo peercall-vm >"\$NEWROOT/etc/hostname"
# Docker's marker would make systemd believe it runs in a container: it would
# then ignore the kernel command line (systemd.unit=) and relax sandboxing.
rm -f "\$NEWROOT/.dockerenv" "\$NEWROOT/run/.containerenv"
# Nor may a Docker image's policy-rc.d (exit 101) stop the maintainer scripts
# from starting services, which a board's never does.
rm -f "\$NEWROOT/usr/sbin/policy-rc.d"
# A fresh machine id: systemd writes one into the (writable) overlay.
rm -f "\$NEWROOT/etc/machine-id"
# Debian's tmpfiles.d/tmp.conf empties /tmp at boot ('D /tmp'), which would
# take a checkout under /tmp away from the check; an empty file of the same
# name in /etc overrides it.
mkdir -p "\$NEWROOT/etc/tmpfiles.d"
: >"\$NEWROOT/etc/tmpfiles.d/tmp.conf"
SETUP
: >"$SHARE/output"

# TCG, as the hardware tests use: KVM inside this workplace's VMs failed with
# "emulation failure" during boot. PEERCALL_VM_ACCEL=kvm to try it anyway.
ACCEL=${PEERCALL_VM_ACCEL:-tcg}
KERNEL=(-kernel "$ROOT/boot/vmlinuz-$KVER")
if [ -f "$KDIR/vmlinux" ] && [ -f /usr/share/qemu/qboot.rom ]; then
	KERNEL=(-kernel "$KDIR/vmlinux" -bios /usr/share/qemu/qboot.rom)
fi
log "booting $KVER ($ACCEL) with this machine's systemd"
CONSOLE=$WORK/console.log
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -cpu max -m 1536 -smp 2 \
	-nographic -no-reboot -nic none "${KERNEL[@]}" -initrd "$INITRD" \
	-append "console=ttyS0 quiet panic=-1 init=/init systemd.unit=peercall-vm.target systemd.show_status=0" \
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot" \
	-virtfs "local,path=$SHARE,mount_tag=out,security_model=none,multidevs=remap,id=out" \
	</dev/null >"$CONSOLE" 2>&1 &
QEMU_PID=$!
tail -n +1 -s 0.2 -f --pid="$QEMU_PID" "$SHARE/output" &
TAIL=$!
# The guest powers off when the check ends; should it not, its rc file is
# enough: qemu is stopped 30 s after it appears.
(
	while kill -0 "$QEMU_PID" 2>/dev/null && [ ! -f "$SHARE/rc" ]; do sleep 1; done
	sleep 30
	kill "$QEMU_PID" 2>/dev/null
) &
REAPER=$!
wait "$QEMU_PID"
qrc=$?
QEMU_PID=
kill "$REAPER" 2>/dev/null || true
wait "$TAIL"
set -e

# The serial console of the last run, for when something went wrong.
tr -d '\r' <"$CONSOLE" >target/packaging-vm-console.log 2>/dev/null || true
if [ -f "$SHARE/error" ]; then
	tail -n 20 "$CONSOLE" | tr -d '\r' | sed 's/^/    /' >&2
	die "$(cat "$SHARE/error")"
fi
if [ ! -f "$SHARE/rc" ]; then
	tail -n 30 "$CONSOLE" | tr -d '\r' | sed 's/^/    /' >&2
	log "whole serial console: target/packaging-vm-console.log"
	[ "$qrc" = 124 ] && {
		log "timed out after $TIMEOUT s"
		exit 124
	}
	die "the guest check did not finish (qemu exit $qrc); serial console above"
fi
exit "$(cat "$SHARE/rc")"
