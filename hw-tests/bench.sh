#!/usr/bin/env bash
# `make bench-hw` (docs/benchmarks.md, "Real devices"): in the hardware-test VM
# (vm/run.sh: vivid, v4l2loopback, snd-aloop under qemu TCG), the two camera
# paths side by side in one run, and the ALSA round trip.
#
# - YUYV + encode: a call whose video comes from vivid's raw 640x480 YUYV,
#   repacked to 4:2:0 and JPEG-encoded by the peer.
# - MJPEG passthrough: the same call with video from a v4l2loopback node fed
#   640x480 baseline JPEGs (made here with the peer's own encoder settings by
#   ffmpeg), sent as the camera gives them.
# For each: the caller's camera capture-to-send latency p50/p95 (from the
# driver's timestamp to the frame's last RTP packet; the quality report's
# JSON) and its user+system CPU per call-second (/usr/bin/time). Then the
# `peercall selftest` loopback rows: the round trip from writing a click to
# the speaker to capturing it from the microphone, and the capture clock.
#
# The VM emulates its CPU (TCG, no KVM here), so absolute CPU and latency are
# those of a much slower machine; the two paths are compared in the same run.
# CALL_SECONDS (default 10) sets the length of each call.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
CALL_SECONDS=${CALL_SECONDS:-10}

cargo build --release -q -p peercall-peer -p peercall-registry
command -v ffmpeg >/dev/null || { echo "bench-hw: needs ffmpeg for the MJPEG camera's frames (apt install ffmpeg)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "bench-hw: needs /usr/bin/time (apt install time)" >&2; exit 1; }
# Frames for the loopback camera: 30 different 640x480 4:2:0 baseline JPEGs.
frames=$(mktemp -d /var/tmp/peercall-bench-hw.XXXXXX)
trap 'rm -rf "$frames"' EXIT
ffmpeg -v error -f lavfi -i testsrc=size=640x480:rate=30 -frames:v 30 -q:v 4 \
	-pix_fmt yuvj420p -huffman default "$frames/f%02d.jpg"

BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release")
script='
set -e
B='"$BIN"'
HERE=$PWD
cd /run
$B/peercall-registry --listen 127.0.0.1:4700 --state-dir "$frames/registry-state" >/dev/null 2>&1 &
sleep 0.5
$B/peercall run --name bob --identity "$frames/bob.id" --registry 127.0.0.1:4700 --listen 127.0.0.1:0 --auto-accept-anyone \
	--video none --audio-in tone --audio-out null >/run/bob.out 2>&1 &
sleep 1
/usr/bin/python3 $HERE/hw-tests/vm/feed_mjpeg.py --device /dev/video1 --seconds 600 --fps 30 '"$frames"'/*.jpg &
for i in $(seq 1 50); do $B/peercall devices | grep -q "^  /dev/video1 " && break; sleep 0.2; done
for cam in video0 video1; do
	fmt=mjpeg; [ $cam = video0 ] && fmt=yuyv
	/usr/bin/time -f "cpu %U %S" -o /run/time.$cam $B/peercall call bob --name alice --identity "$frames/alice.id" \
		--registry 127.0.0.1:4700 --listen 127.0.0.1:0 --video v4l2:/dev/$cam --camera-format $fmt --audio-in tone \
		--audio-out null --seconds '"$CALL_SECONDS"' --report-json > /run/call.$cam 2>&1
	mode=$(grep -m1 "^camera /dev/$cam: " /run/call.$cam | sed "s/^camera [^:]*: //; s/ (asked.*//")
	json=$(grep -m1 "^{" /run/call.$cam)
	p50=$(sed -n "s/.*\"camera_capture_to_send_p50_ms\":\([0-9.]*\).*/\1/p" <<<"$json")
	p95=$(sed -n "s/.*\"camera_capture_to_send_p95_ms\":\([0-9.]*\).*/\1/p" <<<"$json")
	sent=$(sed -n "s/.*\"video_frames_sent\":\([0-9]*\).*/\1/p" <<<"$json")
	read -r _ u s < /run/time.$cam
	echo "| /dev/$cam | $mode | $sent | $p50 | $p95 | $(echo "$u $s '"$CALL_SECONDS"'" | awk "{printf \"%.3f\", (\$1+\$2)/\$3}") |"
done
echo
$B/peercall selftest | grep -E "^(PASS|FAIL)  sound loop"
'
echo "| camera | mode | frames sent | capture-to-send p50 ms | p95 ms | caller CPU s per call-second |"
echo "|---|---|--:|--:|--:|--:|"
hw-tests/vm/run.sh --timeout 600 -- bash -c "$script"
