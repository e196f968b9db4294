#!/usr/bin/env bash
# Self-check of the hardware-test VM: boots it once through run.sh and exercises
# every device it promises with stock host tools (v4l-utils, alsa-utils, python3).
# Fails if any device or check is missing. Usage: hw-tests/vm/selfcheck.sh
#
# The same file is the guest side: run.sh runs it again with --in-vm.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${1:-} != --in-vm ]]; then
    # The tools run in the guest's chroot of the host root, so they must be on the host.
    need=()
    command -v v4l2-ctl >/dev/null || need+=(v4l-utils)
    { command -v aplay && command -v arecord; } >/dev/null || need+=(alsa-utils)
    [[ -x /usr/bin/python3 ]] || need+=(python3)
    if ((${#need[@]})); then
        SUDO=
        ((EUID == 0)) || SUDO=sudo
        echo "selfcheck: installing ${need[*]}" >&2
        # A mirror mid-sync fails one index; the install says if it mattered.
        $SUDO apt-get update -qq >&2 || echo "selfcheck: apt-get update reported errors (above); trying the install anyway" >&2
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
    fi
    exec "$HERE/run.sh" --timeout 300 -- /bin/bash "$HERE/selfcheck.sh" --in-vm
fi

# ---------------------------------------------------------------- guest side

[[ ${PEERCALL_HW_VM:-} == 1 ]] || { echo "selfcheck --in-vm: not inside the VM" >&2; exit 2; }
PY=/usr/bin/python3
# The host root is read-only; /run is the guest's own tmpfs whatever the cwd.
W=$(mktemp -d /run/selfcheck.XXXXXX)
PASSED=0
FAILED=0

check() {
    local name=$1
    shift
    local t0=$EPOCHREALTIME
    elapsed() { awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}'; }
    local rc
    # A subshell outside any condition or || list, so that set -e holds inside the
    # check: there, bash would ignore failures of every command but the last.
    set +e
    (set -e; "$@") >"$W/log" 2>&1
    rc=$?
    set -e
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
        printf 'ok    %-44s %5.1fs  %s\n' "$name" "$(elapsed)" "$(tail -n1 "$W/log")"
    else
        FAILED=$((FAILED + 1))
        printf 'FAIL  %-44s %5.1fs\n' "$name" "$(elapsed)"
        sed 's/^/      | /' "$W/log" | tail -n 25
    fi
}

# Reads all its input: with pipefail, `grep -q` stopping early could fail the writer
# with SIGPIPE.
has() { grep -e "$1" >/dev/null; }

devices_present() {
    ls -l /dev/video* /dev/snd/
    for d in /dev/video0 /dev/video1 /dev/snd/controlC0 /dev/snd/pcmC0D0p /dev/snd/pcmC0D1c; do
        [[ -c $d ]] || { echo "missing $d"; return 1; }
    done
    echo "$(ls /dev/video* | tr '\n' ' ')+ $(ls /dev/snd | wc -l) ALSA nodes"
}

vivid_info() {
    v4l2-ctl -d /dev/video0 --info | tee /dev/stderr | has 'Driver name *: vivid'
    v4l2-ctl -d /dev/video0 --list-formats | tee "$W/vivid-formats" | has "'YUYV'"
    echo "$(grep -c "\]: '" "$W/vivid-formats") formats"
}

vivid_capture() {
    v4l2-ctl -d /dev/video0 --set-fmt-video=width=640,height=480,pixelformat=YUYV \
        --stream-mmap --stream-count=5 --stream-to="$W/vivid.yuyv"
    local size
    size=$(stat -c %s "$W/vivid.yuyv")
    echo "captured $size bytes"
    ((size == 5 * 640 * 480 * 2)) || return 1
    # vivid draws a frame counter: consecutive frames must differ.
    local a b
    a=$(head -c 614400 "$W/vivid.yuyv" | md5sum)
    b=$(tail -c 614400 "$W/vivid.yuyv" | md5sum)
    [[ $a != "$b" ]]
}

loopback_mjpeg() {
    v4l2-ctl -d /dev/video1 --info | tee /dev/stderr | has 'Driver name *: v4l2 loopback'
    $PY "$HERE/feed_mjpeg.py" --device /dev/video1 --seconds 60 &
    FEEDER=$!
    trap 'kill $FEEDER 2>/dev/null || true' EXIT
    for _ in $(seq 50); do
        kill -0 "$FEEDER" || { echo "feed_mjpeg.py died"; return 1; }
        v4l2-ctl -d /dev/video1 --list-formats 2>/dev/null | has "'MJPG'" && break
        sleep 0.1
    done
    v4l2-ctl -d /dev/video1 --list-formats-ext | tee /dev/stderr | has "'MJPG'"
    v4l2-ctl -d /dev/video1 --list-formats-ext | has 'Size: Discrete 640x480'
    v4l2-ctl -d /dev/video1 --all | has 'Video Capture'
    v4l2-ctl -d /dev/video1 --stream-mmap --stream-count=8 --stream-to="$W/loop.mjpeg"
    kill "$FEEDER"
    wait "$FEEDER" 2>/dev/null || true
    # Frames are concatenated as the driver returned them; padding after EOI is allowed.
    $PY - "$W/loop.mjpeg" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
frames = [b"\xff\xd8" + f for f in data.split(b"\xff\xd8")[1:]]
frames = [f[: f.index(b"\xff\xd9") + 2] for f in frames if b"\xff\xd9" in f]
print(f"{len(data)} bytes, {len(frames)} complete JPEGs, {len(set(frames))} distinct")
assert len(frames) >= 8, "expected 8 JPEG frames"
assert len(set(frames)) >= 2, "frames do not change"
EOF
}

alsa_cards() {
    aplay -l | tee /dev/stderr | has 'card 0: Loopback'
    arecord -l | has 'card 0: Loopback'
    aplay -L | has '^hw:CARD=Loopback,DEV=0'
    aplay -l | grep 'card 0: Loopback' | head -n1
}

alsa_loopback() {
    # 1 s of a 440 Hz sine, stereo S16_LE 48 kHz, played into the loopback's device 0
    # while device 1 captures; the capture must hold the same tone.
    $PY - "$W/sine.wav" <<'EOF'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(48000)
    w.writeframes(b"".join(struct.pack("<hh", s, s) for s in
        (int(16000 * math.sin(2 * math.pi * 440 * i / 48000)) for i in range(48000))))
EOF
    arecord -q -D hw:Loopback,1,0 -f S16_LE -c 2 -r 48000 -d 2 "$W/capture.wav" &
    local rec=$!
    sleep 0.5
    aplay -q -D hw:Loopback,0,0 "$W/sine.wav"
    wait "$rec"
    $PY - "$W/capture.wav" <<'EOF'
import array, math, sys, wave
with wave.open(sys.argv[1]) as w:
    rate = w.getframerate()
    samples = array.array("h", w.readframes(w.getnframes()))[::2]
loud = [s for s in samples if abs(s) > 500]
print(f"{len(samples)} frames captured, {len(loud)} above the noise floor")
assert len(loud) > rate // 2, "too little signal came through the loopback"
start = next(i for i, s in enumerate(samples) if abs(s) > 500)
part = samples[start:start + rate // 2]
crossings = sum(1 for a, b in zip(part, part[1:]) if a < 0 <= b)
freq = crossings * 2
peak = max(abs(s) for s in part)
print(f"tone {freq} Hz, peak {peak}")
assert abs(freq - 440) <= 6, "wrong frequency"
assert 15000 <= peak <= 16500, "amplitude changed"
EOF
}

echo "selfcheck in VM: kernel $(uname -r), $(nproc) vCPU"
check "devices /dev/video0 /dev/video1 /dev/snd/*" devices_present
check "vivid: /dev/video0 info and formats" vivid_info
check "vivid: capture 5 frames 640x480 YUYV (mmap)" vivid_capture
check "v4l2loopback: MJPG 640x480 on /dev/video1" loopback_mjpeg
check "snd-aloop: card Loopback listed" alsa_cards
check "snd-aloop: hw:Loopback,0,0 -> hw:Loopback,1,0" alsa_loopback
echo "selfcheck: $PASSED passed, $FAILED failed"
((FAILED == 0))
