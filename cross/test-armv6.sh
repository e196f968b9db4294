#!/usr/bin/env bash
# `make test-armv6`: the ARMv6 binaries in a real call, every process emulated
# as the Raspberry Pi 1 / Zero's ARM1176 (qemu-arm -cpu arm1176, through
# cross/armv6-run), so one ARMv7 instruction anywhere on the way is a SIGILL.
# A registry and two peers on loopback, each on a free port: bob answers by
# himself the keys in his allow file, alice holds a 5 s call with him with
# the synthetic camera and microphone (test pattern, tone), pinning bob's key.
# Passes when the call was established and ended by hanging up, both quality
# reports show pictures and sound frames received, and no process died of a
# signal. Every process started here is killed by its PID on exit.
#
#   bash cross/test-armv6.sh     # after make cross-armv6
#
# CALL_SECONDS (default 5) is the call's length; MIN_PICTURES (default 30) and
# MIN_SOUND (default 100) the fewest pictures and sound frames each side must
# have received (far below the 150 and 250 sent: emulation is slow, and the
# rate adapts to it).
set -euo pipefail
cd "$(dirname "$0")/.."

CALL_SECONDS=${CALL_SECONDS:-5}
MIN_PICTURES=${MIN_PICTURES:-30}
MIN_SOUND=${MIN_SOUND:-100}
bin=target/arm-unknown-linux-musleabihf/release
run=cross/armv6-run

die() { echo "test-armv6: $*" >&2; exit 1; }
for b in peercall peercall-registry; do
  [ -x "$bin/$b" ] || die "$bin/$b not built: make cross-armv6"
done
command -v qemu-arm >/dev/null || die "qemu-arm not found: bash cross/setup.sh armv6 --test"

start=$EPOCHREALTIME
work=$(mktemp -d /tmp/armv6-test.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export QEMU_CPU=arm1176 XDG_STATE_HOME=$work/state

# Waits up to $3 s for a line starting with $2 in file $1; prints the line.
await() {
  local deadline=$((${EPOCHREALTIME%.*} + $3)) line
  while [ "${EPOCHREALTIME%.*}" -lt "$deadline" ]; do
    line=$(grep -m1 "^$2" "$1" 2>/dev/null || true)
    if [ -n "$line" ]; then echo "$line"; return; fi
    sleep 0.1
  done
  echo "--- $1:" >&2
  cat "$1" >&2
  die "no \"$2\" in $1 within $3 s"
}

alice_key=$($run "$bin/peercall" id --identity "$work/alice.id" 2>/dev/null)
bob_key=$($run "$bin/peercall" id --identity "$work/bob.id" 2>/dev/null)
echo "$alice_key alice" >"$work/bob.allow"
echo "$bob_key bob" >"$work/alice.allow"

$run "$bin/peercall-registry" --listen 127.0.0.1:0 --state-dir "$work/registry" \
  >"$work/registry.out" 2>&1 &
pids+=($!)
registry=$(await "$work/registry.out" "listening on " 30)
registry=${registry#listening on }

media=(--listen 127.0.0.1:0 --video test --audio-in tone --audio-out null --video-out null)
# bob reads commands from stdin: a FIFO held open here, so he never sees its end.
mkfifo "$work/bob.in"
exec 3<>"$work/bob.in"
$run "$bin/peercall" run --name bob --registry "$registry" "${media[@]}" \
  --identity "$work/bob.id" --allow "$work/bob.allow" --auto-accept <&3 >"$work/bob.out" 2>&1 &
bob=$!
pids+=("$bob")
await "$work/bob.out" "registered as bob" 30 >/dev/null

$run "$bin/peercall" call bob --name alice --registry "$registry" "${media[@]}" \
  --identity "$work/alice.id" --allow "$work/alice.allow" --seconds "$CALL_SECONDS" \
  </dev/null >"$work/alice.out" 2>&1 &
alice=$!
pids+=("$alice")
deadline=$((${EPOCHREALTIME%.*} + CALL_SECONDS + 60))
while kill -0 "$alice" 2>/dev/null; do
  [ "${EPOCHREALTIME%.*}" -lt "$deadline" ] || die "alice's call did not end within $((CALL_SECONDS + 60)) s"
  sleep 0.2
done
alice_rc=0
wait "$alice" || alice_rc=$?
await "$work/bob.out" "call with alice ended" 30 >/dev/null
kill -TERM "$bob"
bob_rc=0
wait "$bob" || bob_rc=$?

fail=0
check() { # description, command
  local what=$1
  shift
  if "$@"; then echo "ok    $what"; else echo "FAIL  $what"; fail=1; fi
}
absent() { ! grep -qi "$1" "$2"; }
at_least() { [ "${1:-0}" -ge "$2" ]; }
# "  video: sent N frames (...), received N (...)" and "  audio: sent N frames, played N, ..."
pictures() { sed -n 's/^  video: sent [0-9]* frames ([^)]*), received \([0-9]*\) .*/\1/p' "$1"; }
sound() { sed -n 's/^  audio: sent [0-9]* frames, played \([0-9]*\),.*/\1/p' "$1"; }
ap=$(pictures "$work/alice.out") bp=$(pictures "$work/bob.out")
as=$(sound "$work/alice.out") bs=$(sound "$work/bob.out")

# A SIGILL kills the process (exit status 132) and qemu says so on stderr.
for who in alice bob; do
  check "$who: no illegal instruction, no panic" \
    absent "illegal instruction\|uncaught target signal\|panicked" "$work/$who.out"
done
check "alice exited 0, the call made and hung up (status $alice_rc)" [ "$alice_rc" -eq 0 ]
check "bob exited 0 on SIGTERM (status $bob_rc)" [ "$bob_rc" -eq 0 ]
check "alice: call established" grep -q "^bob accepted: call established" "$work/alice.out"
check "bob: alice's key verified from his allow file" \
  grep -q "^verified caller: key .* is in the allow file (alice)" "$work/bob.out"
check "alice received ${ap:-no} pictures (at least $MIN_PICTURES)" at_least "$ap" "$MIN_PICTURES"
check "bob received ${bp:-no} pictures (at least $MIN_PICTURES)" at_least "$bp" "$MIN_PICTURES"
check "alice played ${as:-no} sound frames (at least $MIN_SOUND)" at_least "$as" "$MIN_SOUND"
check "bob played ${bs:-no} sound frames (at least $MIN_SOUND)" at_least "$bs" "$MIN_SOUND"

if [ $fail -ne 0 ]; then
  for f in registry alice bob; do
    echo "--- $f:" >&2
    cat "$work/$f.out" >&2
  done
  die "failed"
fi
grep -h "^  video:\|^  audio:" "$work/alice.out" | sed 's/^/alice /'
grep -h "^  video:\|^  audio:" "$work/bob.out" | sed 's/^/bob   /'
elapsed=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
echo "test-armv6: passed in $elapsed s (qemu-arm -cpu arm1176)"
