#!/usr/bin/env bash
# `make hw-test-vm`: the hardware tests against real kernel drivers in a VM
# (vivid camera, v4l2loopback MJPEG camera, snd-aloop sound card, a KMS/DRM
# screen whose pictures the host takes; see vm/README.md), for machines that
# have none: CI among them.
#
#   hw-tests/run-vm.sh            # this machine's architecture (x86-64)
#   hw-tests/run-vm.sh aarch64    # `make hw-test-vm-arm64`: an emulated arm64
#                                 # board running the cross-built release binaries
#
# Builds the release binaries and the hw-tests test executables here, boots the
# VM once and runs every test executable in it (the x86-64 guest shares the
# host's root read-only; the arm64 one has a Debian arm64 userland and this
# checkout at the same path). Exits non-zero when any test fails or skips, or
# the VM does not come up with all its devices.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ARCH=${1:-x86_64}
TARGET=()
case $ARCH in
	x86_64|amd64) ARCH=x86_64 ;;
	aarch64|arm64)
		# The binaries the arm64 packages ship: cross-built, release profile.
		ARCH=aarch64
		bash cross/setup.sh aarch64
		TARGET=(--target aarch64-unknown-linux-gnu) ;;
	*) echo "hw-test-vm: unknown architecture '$ARCH' (x86_64 or aarch64)" >&2; exit 2 ;;
esac

# Release builds: the VM emulates the CPU, and unoptimized pixel loops would
# starve the calls of time.
cargo build --release -q "${TARGET[@]}" -p peercall-peer -p peercall-registry
# Built once with errors shown (a test that does not compile fails here, not
# by silently dropping out of the list below).
cargo test --release -q "${TARGET[@]}" -p peercall-hw-tests --no-run
mapfile -t tests < <(cargo test --release -q "${TARGET[@]}" -p peercall-hw-tests --no-run --message-format=json 2>/dev/null |
	python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        print(m["executable"])
' | sort -t/ -k1 | awk -F/ '{print $NF "\t" $0}' | sort | cut -f2)
[ ${#tests[@]} -gt 0 ] || { echo "hw-test-vm: no test executables were built" >&2; exit 1; }

# HW_VM_WITHHOLD: kernel modules (vivid, v4l2loopback, snd_aloop) the guest
# removes before the tests, to check that the run then fails.
WITHHOLD=${HW_VM_WITHHOLD:-}
[[ $WITHHOLD =~ ^[A-Za-z0-9_\ -]*$ ]] || { echo "hw-test-vm: bad HW_VM_WITHHOLD '$WITHHOLD'" >&2; exit 2; }

# Sorted by name: unplug (which takes vivid's camera away) runs last.
# The guest runs this: each test executable in turn, one test at a time (the
# devices are shared), with the VM's MJPEG camera named. The VM provides every
# device the tests know (PEERCALL_HW_EXPECT), so a test whose device is
# missing fails rather than skips, and a test that skips anyway (for a reason
# of its own, e.g. one added with a device the VM lacks) fails the run.
script='status=0
echo "guest: $(uname -m), kernel $(uname -r)"
export PEERCALL_HW_MJPEG_CAMERA=/dev/video1
export PEERCALL_HW_EXPECT="camera mjpeg-camera vivid snd-aloop drm screendump"
for m in '"$WITHHOLD"'; do
	echo "withholding $m (HW_VM_WITHHOLD): the run must fail"
	rmmod "$m" 2>/dev/null || busybox rmmod "$m" || status=1
done
log=$(mktemp)
for t in "$@"; do
	echo "== $(basename "$t")"
	"$t" --test-threads=1 2>&1 | tee "$log"
	[ "${PIPESTATUS[0]}" = 0 ] || status=1
	# bash itself, not grep: the arm64 guest has no grep, and a check that
	# cannot run must not pass.
	if [[ "$(<"$log")" == *"skipped: "* ]]; then
		echo "hw-test-vm: $(basename "$t") skipped tests in the VM, which should provide all they need"
		status=1
	fi
done
exit $status'
exec hw-tests/vm/run.sh --arch "$ARCH" --timeout "${HW_VM_TIMEOUT:-600}" -- bash -c "$script" hw-tests "${tests[@]}"
