#!/usr/bin/env bash
# The demo: a registry and two peers on this machine's loopback. The peers
# register, list, look each other up, call (INVITE, accept with the negotiated
# ports, status, hang up) and unregister while the registry prints its table.
# Every line is tagged with who printed it.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p peercall-registry -p peercall-peer
bin=target/release
work=$(mktemp -d)
pids=()
tails=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${tails[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

tag() { sed -u "s/^/$(printf '%-10s' "[$1]") /"; }
say() { printf '\n== %s\n' "$*"; sleep 0.3; }
# Waits until file $1 has a line matching $2 (at most 10 s).
wait_for() {
  for _ in $(seq 100); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "demo: timed out waiting for '$2'" >&2; exit 1
}

# Starts a program in the background, stdin from a file, output to a log file
# shown tagged on the terminal; the tail ends by itself when the program does.
start() {
  local who=$1 input=$2 log=$3
  shift 3
  "$@" < "$input" > "$log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  ( tail -s 0.1 -n +1 -f --pid="$pid" "$log" | tag "$who" ) &
  tails+=($!)
  last_pid=$pid
}

say "starting the registry on a free loopback port"
start registry /dev/null "$work/registry.log" "$bin/peercall-registry" --listen 127.0.0.1:0
registry_pid=$last_pid
wait_for "$work/registry.log" "listening on"
registry=$(sed -n 's/^listening on //p' "$work/registry.log" | head -n1)

for who in alice bob; do
  mkfifo "$work/$who.in"
  say "starting peer $who"
  exec {fd}<> "$work/$who.in"
  eval "${who}_in=$fd"
  start "$who" "$work/$who.in" "$work/$who.log" \
    "$bin/peercall" run --name "$who" --registry "$registry" --listen 127.0.0.1:0
  wait_for "$work/$who.log" "registered as $who"
done

say "alice lists the registered peers"
echo list >&"$alice_in"; sleep 0.5
say "alice looks up bob, bob looks up alice"
echo "lookup bob" >&"$alice_in"; sleep 0.3
echo "lookup alice" >&"$bob_in"; sleep 0.3
say "a script asks the registry directly"
"$bin/peercall" list --registry "$registry" | tag script
"$bin/peercall" lookup carol --registry "$registry" 2>&1 | tag script || true
say "alice calls bob; bob accepts"
echo "call bob" >&"$alice_in"
wait_for "$work/bob.log" "incoming call from alice"
echo accept >&"$bob_in"
wait_for "$work/alice.log" "call established"
sleep 0.3
say "status on both sides"
echo status >&"$alice_in"; sleep 0.2
echo status >&"$bob_in"; sleep 0.3
say "alice hangs up"
echo hangup >&"$alice_in"
wait_for "$work/bob.log" "ended: the other side hung up"
sleep 0.3
say "alice and bob quit (they unregister)"
echo quit >&"$alice_in"; wait_for "$work/alice.log" "goodbye from registry"
echo quit >&"$bob_in"; wait_for "$work/bob.log" "goodbye from registry"
wait_for "$work/registry.log" "departed: bob"
sleep 0.6
say "the registry stops (SIGTERM)"
kill -TERM "$registry_pid"
wait_for "$work/registry.log" "shutting down"
for p in "${tails[@]}"; do wait "$p" 2>/dev/null || true; done
tails=()
say "demo complete"
