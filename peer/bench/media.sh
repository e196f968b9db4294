#!/usr/bin/env bash
# Media benchmark (docs/benchmarks.md, "Media"; `make bench-media`).
#
# Measures what a user of a call feels: the CPU time both peers of a loopback
# call use per second of call (640x480@30 MJPEG and 48 kHz mono Opus, both
# directions), next to a pair of GStreamer pipelines doing the same work in the
# same run on the same machine; capture-to-playout latency of video and audio
# and the audio/video skew, from the peers' own quality reports; and each
# peer's resident memory during the call. Everything runs on 127.0.0.1; every
# process started here is stopped on exit.
#
# Media encryption's cost, side by side: each round also holds an encrypted
# call and, at the same time, the same call with SRTP turned off
# (PEERCALL_BENCH_SRTP=off, a switch for benchmarks only), and compares the
# two pairs' CPU over the same window: run one after the other, the
# machine's drift between two calls was as large as the cost measured. The
# encrypted calls use the keys of the call's handshake, as every call does.
# SRTP_PAIRS (default 2) such pairs run each round; the target's figure pools
# the CPU of all of them.
#
# Tunables (environment): CALL_SECONDS per call and per GStreamer run (default
# 20), ROUNDS (default 3; the tables show the median of each figure), SETTLE
# seconds left out of the CPU window at each end of the media (default 2).
# The call window's part: WINDOW_ROUNDS (default ROUNDS; 0 leaves it out), WINDOW_SIZE
# (default 640x480), WINDOW_ONLY=1 (that part alone), WINDOW_PERF=FILE (a
# perf profile of the window peer in each window round, to FILE).
set -euo pipefail

CALL_SECONDS=${CALL_SECONDS:-20}
ROUNDS=${ROUNDS:-3}
SRTP_PAIRS=${SRTP_PAIRS:-2}
SETTLE=${SETTLE:-2}
# Polling period for memory and for the edges of the CPU window.
POLL=0.2
WINDOW_SIZE=${WINDOW_SIZE:-640x480}

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=${CARGO_TARGET_DIR:-target}/release

say() { echo "$*" >&2; }
die() {
	say "bench: $*"
	exit 1
}

[ "$CALL_SECONDS" -ge $((2 * SETTLE + 4)) ] || die "CALL_SECONDS must be at least $((2 * SETTLE + 4))"

PIDS=()
WORK=$(mktemp -d)
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops a process started here (signal $2, default TERM) and forgets it, so
# cleanup never signals a process id the system has since handed to another.
stop() {
	kill "-${2:-TERM}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() pid
	for pid in "${PIDS[@]}"; do
		if [ "$pid" != "$1" ]; then keep+=("$pid"); fi
	done
	PIDS=("${keep[@]}")
}

say "building release binaries"
cargo build --release --quiet -p peercall-registry -p peercall-peer

# GStreamer for the side-by-side pipelines (Debian 12: videotestsrc,
# audiotestsrc, opusenc and opusdec are in -base; jpegenc, jpegdec, the RTP
# payloaders and udpsrc/udpsink in -good), and libjpeg-turbo's tjbench and
# djpeg for the JPEG encode time.
ELEMENTS=(videotestsrc audiotestsrc jpegenc jpegdec rtpjpegpay rtpjpegdepay opusenc opusdec
	rtpopuspay rtpopusdepay udpsrc udpsink fakesink)
have_tools() {
	local c e
	for c in gst-launch-1.0 gst-inspect-1.0 tjbench djpeg; do
		command -v "$c" >/dev/null || return 1
	done
	for e in "${ELEMENTS[@]}"; do
		gst-inspect-1.0 --exists "$e" || return 1
	done
}
if ! have_tools; then
	say "installing GStreamer (tools, base and good plugins) and libjpeg-turbo-progs"
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
	$SUDO apt-get update -qq || echo "bench-media: apt-get update reported errors (above); trying the install anyway" >&2
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
		libjpeg-turbo-progs >/dev/null
	have_tools || die "installed, but one of gst-launch-1.0, tjbench, djpeg or ${ELEMENTS[*]} is missing"
fi

CLK_TCK=$(getconf CLK_TCK)

# Sets NOW to the time in microseconds.
now() { NOW=${EPOCHREALTIME//[.,]/}; }
# Sets TICKS to the CPU time (user + system) process $1 has used, in clock
# ticks; fails when it has gone. Builtins only: this runs every POLL.
ticks() {
	local s f
	read -r s <"/proc/$1/stat" 2>/dev/null || return 1
	read -ra f <<<"${s##*) }"
	TICKS=$((f[11] + f[12]))
}
# Sets RSS to the resident set of process $1 in KiB; fails when it has gone.
rss() {
	local k v rest
	RSS=
	{ while read -r k v rest; do
		if [ "$k" = VmRSS: ]; then RSS=$v; fi
	done <"/proc/$1/status"; } 2>/dev/null || return 1
	[ -n "$RSS" ]
}
# One line per thread of process $1: thread id, name, CPU ticks, context switches.
threads() {
	local d
	for d in /proc/"$1"/task/*; do
		awk -v id="${d##*/}" -v name="$(tr ' ' _ <"$d/comm" 2>/dev/null)" '
			FILENAME ~ /stat$/ { sub(/.*\) /, ""); t = $12 + $13; next }
			/^(non)?voluntary_ctxt_switches/ { c += $2 }
			END { print id, name, t, c }' "$d/stat" "$d/status" 2>/dev/null || true
	done
}

# Watches processes $@, all doing media since FLOW_START (µs), until the first
# of them exits or, with WATCH_UNTIL_WINDOW set, until the CPU window closes.
# The window runs from SETTLE s after FLOW_START to SETTLE s before
# FLOW_START + CALL_SECONDS. Sets WIN_US (its length), WIN_TICKS (the
# processes' CPU ticks in it, summed), WIN_EACH (the ticks of each process,
# space separated), MAX_RSS (KiB per process, space separated, over the whole
# watch) and leaves per-thread snapshots of the window's edges in
# $WORK/threads.{0,1}.
watch() {
	local pids=("$@") pid i peak=() e0=() e1=() s0=0 s1=0 w0=0 w1=0 state=before
	local t0=$((FLOW_START + SETTLE * 1000000))
	local t1=$((FLOW_START + (CALL_SECONDS - SETTLE) * 1000000))
	local deadline=$((FLOW_START + (CALL_SECONDS + 30) * 1000000))
	for i in "${!pids[@]}"; do peak[i]=0; done
	while :; do
		for i in "${!pids[@]}"; do
			if rss "${pids[i]}" && [ "$RSS" -gt "${peak[i]}" ]; then peak[i]=$RSS; fi
		done
		now
		if [ "$state" = before ] && [ "$NOW" -ge "$t0" ]; then
			for i in "${!pids[@]}"; do
				ticks "${pids[i]}" || die "process ${pids[i]} ended before the CPU window"
				s0=$((s0 + TICKS))
				e0[i]=$TICKS
			done
			now
			w0=$NOW
			for pid in "${pids[@]}"; do threads "$pid"; done >"$WORK/threads.0"
			state=in
		elif [ "$state" = in ] && [ "$NOW" -ge "$t1" ]; then
			for i in "${!pids[@]}"; do
				ticks "${pids[i]}" || die "process ${pids[i]} ended before the CPU window closed"
				s1=$((s1 + TICKS))
				e1[i]=$TICKS
			done
			now
			w1=$NOW
			for pid in "${pids[@]}"; do threads "$pid"; done >"$WORK/threads.1"
			state=after
			if [ -n "${WATCH_UNTIL_WINDOW:-}" ]; then break; fi
		fi
		for pid in "${pids[@]}"; do
			kill -0 "$pid" 2>/dev/null || break 2
		done
		[ "$NOW" -lt "$deadline" ] || die "the run did not end in time"
		sleep "$POLL"
	done
	[ "$state" = after ] || die "a process ended before the CPU window closed"
	WIN_US=$((w1 - w0))
	WIN_TICKS=$((s1 - s0))
	WIN_EACH=
	for i in "${!pids[@]}"; do WIN_EACH+="${WIN_EACH:+ }$((e1[i] - e0[i]))"; done
	MAX_RSS="${peak[*]}"
}

# Adds the last window's CPU ticks and context switches per thread to
# $WORK/threads.$1 (lines: name, ticks, switches) and its length to WIN_SUM_$1.
add_threads() {
	awk 'FILENAME ~ /threads\.0$/ { t[$1] = $3; c[$1] = $4; next }
		($1 in t) { print $2, $3 - t[$1], $4 - c[$1] }' \
		"$WORK/threads.0" "$WORK/threads.1" >>"$WORK/threads.$1"
	eval "WIN_SUM_$1=\$((\${WIN_SUM_$1:-0} + WIN_US))"
}
# CPU seconds per second of the last window: all processes watched, or
# with arguments the processes at those places in the watch's list (from 0).
cpu_per_s() {
	local t=$WIN_TICKS each i
	if [ $# -gt 0 ]; then
		read -ra each <<<"$WIN_EACH"
		t=0
		for i in "$@"; do t=$((t + each[i])); done
	fi
	awk -v t="$t" -v hz="$CLK_TCK" -v us="$WIN_US" 'BEGIN { printf "%.4f", t / hz / (us / 1e6) }'
}

# Starts the registry on a free loopback port; sets REG_PID and REG_ADDR.
start_registry() {
	local out=$WORK/registry.out
	"$BIN/peercall-registry" --listen 127.0.0.1:0 --state-dir "$WORK/registry-state" >"$out" 2>"$WORK/registry.err" &
	REG_PID=$!
	PIDS+=("$REG_PID")
	local line= i
	for i in $(seq 100); do
		line=$(head -n 1 "$out")
		[ -n "$line" ] && break
		kill -0 "$REG_PID" 2>/dev/null || die "registry failed: $(cat "$WORK/registry.err")"
		sleep 0.05
	done
	case $line in
	"listening on "*) REG_ADDR=${line#listening on } ;;
	*) die "registry did not say where it listens (got '$line')" ;;
	esac
}

# Waits up to $3 seconds for a line matching $2 in $WORK/$1.out, written by
# process $4.
wait_for() {
	local i out=$WORK/$1.out
	for i in $(seq $(($3 * 20))); do
		grep -q -- "$2" "$out" && return 0
		if ! kill -0 "$4" 2>/dev/null; then
			grep -q -- "$2" "$out" && return 0
			die "$1 ended before '$2': $(tail -n 3 "$WORK/$1.err")"
		fi
		sleep 0.05
	done
	die "no '$2' from $1 after $3 s: $(tail -n 3 "$out")"
}

# One peercall call of CALL_SECONDS from alice (call --seconds) to bob (run
# --auto-accept), bob's sinks $1. Sets the window figures (see watch) and
# leaves each peer's output in $WORK/{alice,bob}.out. Encrypted, as every
# call is.
peercall_call() {
	start_registry
	start_callee bob "$1"
	local bob=$CALLEE
	start_caller alice bob
	local alice=$CALLER
	wait_for alice "^media flowing" 10 "$alice"
	wait_for bob "^media flowing" 10 "$bob"
	now
	FLOW_START=$NOW
	WATCH_UNTIL_WINDOW='' watch "$alice" "$bob"
	end_call alice "$alice" bob "$bob"
	stop "$REG_PID"
}

# Starts a peer named $1 that answers anyone, with sinks $2 (a list of
# options) and, with $3 = off, media encryption off (bench only); output in
# $WORK/$1.{out,err}. Sets CALLEE to its process id once it has registered.
start_callee() {
	local env=()
	if [ "${3:-on}" = off ]; then env=(PEERCALL_BENCH_SRTP=off); fi
	# shellcheck disable=SC2086 # $2 is a list of options
	env "${env[@]}" "$BIN/peercall" run --name "$1" --identity "$WORK/$1.id" --registry "$REG_ADDR" \
		--listen 127.0.0.1:0 --auto-accept-anyone --audio-out null $2 \
		</dev/null >"$WORK/$1.out" 2>"$WORK/$1.err" &
	CALLEE=$!
	PIDS+=("$CALLEE")
	wait_for "$1" "^registered as $1" 10 "$CALLEE"
}
# Starts a peer named $1 calling $2 for CALL_SECONDS, with encryption off
# when $3 = off; sets CALLER to its process id.
start_caller() {
	local env=()
	if [ "${3:-on}" = off ]; then env=(PEERCALL_BENCH_SRTP=off); fi
	env "${env[@]}" "$BIN/peercall" call "$2" --name "$1" --identity "$WORK/$1.id" --registry "$REG_ADDR" \
		--listen 127.0.0.1:0 --seconds "$CALL_SECONDS" --video-out null --audio-out null \
		</dev/null >"$WORK/$1.out" 2>"$WORK/$1.err" &
	CALLER=$!
	PIDS+=("$CALLER")
}
# Waits for caller $1 (process $2) to end its call and for callee $3
# (process $4) to print its report, then stops both.
end_call() {
	wait "$2" || die "peercall call failed: $(tail -n 3 "$WORK/$1.err")"
	stop "$2"
	# The callee prints its report when the caller hangs up.
	wait_for "$3" "^  sync:" 10 "$4"
	stop "$4"
}

# Media encryption's cost: the encrypted call (alice to bob) and the same
# call with encryption off (palice to pbob, PEERCALL_BENCH_SRTP=off) at the
# same time, so that whatever else the machine does falls on both alike.
# With $1 = plain-first the plain call's peers are started first (the order
# alternates, so that starting first favours neither). Sets ENC_CPU_NOW and
# PLAIN_CPU_NOW, each call's pair, per call-second.
srtp_pair() {
	start_registry
	# Name prefixes: "" the encrypted call, p the plain one ("off").
	local order=("" p) x bob pbob alice palice
	if [ "$1" = plain-first ]; then order=(p ""); fi
	for x in "${order[@]}"; do
		start_callee "${x}bob" "--video-out null" "${x:+off}"
		printf -v "${x}bob" %s "$CALLEE"
	done
	for x in "${order[@]}"; do
		start_caller "${x}alice" "${x}bob" "${x:+off}"
		printf -v "${x}alice" %s "$CALLER"
	done
	local p
	for p in "alice $alice" "bob $bob" "palice $palice" "pbob $pbob"; do
		# shellcheck disable=SC2086 # name and process id
		wait_for ${p% *} "^media flowing" 10 ${p#* }
	done
	now
	FLOW_START=$NOW
	WATCH_UNTIL_WINDOW='' watch "$alice" "$bob" "$palice" "$pbob"
	ENC_CPU_NOW=$(cpu_per_s 0 1)
	PLAIN_CPU_NOW=$(cpu_per_s 2 3)
	end_call alice "$alice" bob "$bob"
	end_call palice "$palice" pbob "$pbob"
	stop "$REG_PID"
}

# Prints what the sed expression $2 captures from the report line starting
# with label $1 in file $3; the report may gain fields, so only the labels
# around each figure are relied on.
grab() {
	local line v
	line=$(grep -m1 "^  $1:" "$3") || die "no '$1:' line in the quality report in $3"
	v=$(sed -n "s/$2/\\1/p" <<<"$line")
	[ -n "$v" ] || die "cannot read the $1 line of the quality report: $line"
	echo "$v"
}
N='\([-+]\{0,1\}[0-9.]*\)'
# Sets R_* from the quality report in file $1.
parse_report() {
	R_V_FPS=$(grab video ".*received [0-9]* ($N fps).*" "$1")
	R_V50=$(grab video ".*latency p50 $N ms.*" "$1")
	R_V95=$(grab video ".*latency p50 [^ ]* ms p95 $N ms.*" "$1")
	R_A_SENT=$(grab audio ".*sent \([0-9]*\) frames.*" "$1")
	R_A_PLAYED=$(grab audio ".*played \([0-9]*\).*" "$1")
	R_A50=$(grab audio ".*latency p50 $N ms.*" "$1")
	R_A95=$(grab audio ".*latency p50 [^ ]* ms p95 $N ms.*" "$1")
	R_S5=$(grab sync ".*skew p5 $N ms.*" "$1")
	R_S50=$(grab sync ".*skew p5 [^ ]* ms p50 $N ms.*" "$1")
	R_S95=$(grab sync ".*skew p5 [^ ]* ms p50 [^ ]* ms p95 $N ms.*" "$1")
	# A call that moved no media must not pass for a fast one.
	awk -v f="$R_V_FPS" -v p="$R_A_PLAYED" -v s="$CALL_SECONDS" \
		'BEGIN { exit !(f >= 25 && p >= 40 * s) }' ||
		die "too little media in $1: video $R_V_FPS fps, $R_A_PLAYED frames of sound played"
}

# Sets GST_PORTS to four UDP ports that nothing holds on this machine now.
free_ports() {
	GST_PORTS=()
	local p
	while [ "${#GST_PORTS[@]}" -lt 4 ]; do
		p=$((20000 + RANDOM % 30000))
		if ! grep -qsi -- "$(printf ':%04X ' "$p")" /proc/net/udp /proc/net/udp6 &&
			[[ " ${GST_PORTS[*]} " != *" $p "* ]]; then
			GST_PORTS+=("$p")
		fi
	done
}

# Sets GST_ARGS to the GStreamer counterpart of one peer: it sends video to
# port $1 and audio to $2 and receives video on $3 and audio on $4, each as the
# peer does (same sizes, rate, JPEG quality, Opus settings and payload types);
# $5 is appended to both sinks. Where GStreamer's defaults differ from those of
# the libraries under peercall, the pipelines are set to do the same work:
# the accurate integer DCT (jpegenc and jpegdec default to the fast one, as
# libjpeg-turbo does not) and Opus complexity 9 (libopus's default; opusenc
# sets 10).
gst_peer() {
	# shellcheck disable=SC2206 # $5 is a list of properties
	GST_ARGS=(
		videotestsrc is-live=true
		! video/x-raw,format=I420,width=640,height=480,framerate=30/1
		! jpegenc quality=75 idct-method=islow ! rtpjpegpay pt=26
		! udpsink host=127.0.0.1 port="$1" sync=false async=false
		audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=960
		! audio/x-raw,format=S16LE,rate=48000,channels=1
		! opusenc bitrate=32000 audio-type=voice complexity=9 inband-fec=true packet-loss-percentage=10
		frame-size=20
		! rtpopuspay pt=111
		! udpsink host=127.0.0.1 port="$2" sync=false async=false
		udpsrc address=127.0.0.1 port="$3"
		caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=JPEG,payload=26"
		! rtpjpegdepay ! jpegdec idct-method=islow ! fakesink name=vsink sync=false ${5:-}
		udpsrc address=127.0.0.1 port="$4"
		caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111"
		! rtpopusdepay ! opusdec ! audio/x-raw,channels=1 ! fakesink name=asink sync=false ${5:-}
	)
}

# Starts the two GStreamer "peers", A sending to B and B to A, with the
# gst-launch option $1 and sink properties $2; sets GST_A and GST_B.
start_gst_pair() {
	free_ports
	local p=("${GST_PORTS[@]}")
	gst_peer "${p[0]}" "${p[1]}" "${p[2]}" "${p[3]}" "$2"
	gst-launch-1.0 "$1" "${GST_ARGS[@]}" </dev/null >"$WORK/gst_a.out" 2>"$WORK/gst_a.err" &
	GST_A=$!
	PIDS+=("$GST_A")
	gst_peer "${p[2]}" "${p[3]}" "${p[0]}" "${p[1]}" "$2"
	gst-launch-1.0 "$1" "${GST_ARGS[@]}" </dev/null >"$WORK/gst_b.out" 2>"$WORK/gst_b.err" &
	GST_B=$!
	PIDS+=("$GST_B")
}

# CALL_SECONDS of the GStreamer pair; sets the window figures (see watch).
gst_call() {
	start_gst_pair -q ""
	now
	FLOW_START=$NOW
	WATCH_UNTIL_WINDOW=1 watch "$GST_A" "$GST_B"
	# Run as long as a call does; the time after the window is not measured.
	sleep "$SETTLE"
	local f
	for f in a b; do
		if grep -qi error "$WORK/gst_$f.err" "$WORK/gst_$f.out"; then
			die "GStreamer failed: $(head -n 3 "$WORK/gst_$f.err" "$WORK/gst_$f.out")"
		fi
	done
	stop "$GST_A" INT
	stop "$GST_B" INT
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
sum() { printf '%s\n' "$@" | awk '{ t += $1 } END { printf "%.4f", t }'; }
fmt() { awk -v x="$1" -v d="${2:-2}" 'BEGIN { printf "%.*f", d, x }'; }
# The array named $1 as a comma-separated list, $2 decimals (default 3).
list() {
	local -n arr=$1
	local x out=
	for x in "${arr[@]}"; do out+="${out:+, }$(fmt "$x" "${2:-3}")"; done
	echo "$out"
}
# "met" when the awk condition $1 holds, else "NOT met".
verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "NOT met"; fi; }

# --- The call window's cost: the same call, bob showing what he receives in
# a window on an Xvfb screen or nowhere (--video-out window / null), measured
# alternately in one run. ---

# Starts Xvfb on a display number it picks itself (written to the file given
# by -displayfd, so no two runs race for one); sets XVFB_PID and XVFB_DISPLAY.
start_xvfb() {
	command -v Xvfb >/dev/null || die "Xvfb not found: install xvfb (scripts/deps.sh does)"
	: >"$WORK/xvfb.out"
	Xvfb -displayfd 1 -screen 0 "${WINDOW_SIZE%x*}x$((${WINDOW_SIZE#*x} + 120))x24" -nolisten tcp -noreset \
		</dev/null >"$WORK/xvfb.out" 2>"$WORK/xvfb.err" &
	XVFB_PID=$!
	PIDS+=("$XVFB_PID")
	local i
	for i in $(seq 200); do
		read -r XVFB_DISPLAY <"$WORK/xvfb.out" || true
		[ -n "$XVFB_DISPLAY" ] && return 0
		kill -0 "$XVFB_PID" 2>/dev/null || die "Xvfb failed: $(tail -n 3 "$WORK/xvfb.err")"
		sleep 0.05
	done
	die "Xvfb did not say which display it took"
}

# One call of CALL_SECONDS from alice to bob (as peercall_call), bob's video
# out $1: window (on a fresh Xvfb) or null. Neither peer inherits a display
# of ours. Sets WIN_BOB, WIN_XVFB (CPU s per s of bob and of Xvfb; Xvfb 0
# without a window) and, with a window, bob's display report line in
# WIN_DISPLAY_LINE.
window_call() {
	local mode=$1 env=(-u DISPLAY -u WAYLAND_DISPLAY) xvfb=()
	start_registry
	if [ "$mode" = window ]; then
		start_xvfb
		env+=(DISPLAY=":$XVFB_DISPLAY" SDL_VIDEODRIVER=x11 SDL_AUDIODRIVER=dummy)
		xvfb=("$XVFB_PID")
	fi
	env "${env[@]}" "$BIN/peercall" run --name bob --identity "$WORK/bob.id" --registry "$REG_ADDR" --listen 127.0.0.1:0 \
		--auto-accept-anyone --audio-out null --video-out "$mode" --window-size "$WINDOW_SIZE" \
		</dev/null >"$WORK/bob.out" 2>"$WORK/bob.err" &
	local bob=$!
	PIDS+=("$bob")
	wait_for bob "^registered as bob" 10 "$bob"
	if [ "$mode" = window ]; then
		wait_for bob "^window: $WINDOW_SIZE on x11" 10 "$bob"
	fi
	env -u DISPLAY -u WAYLAND_DISPLAY "$BIN/peercall" call bob --name alice --identity "$WORK/alice.id" --registry "$REG_ADDR" \
		--listen 127.0.0.1:0 --seconds "$CALL_SECONDS" --video-out null --audio-out null \
		</dev/null >"$WORK/alice.out" 2>"$WORK/alice.err" &
	local alice=$!
	PIDS+=("$alice")
	wait_for alice "^media flowing" 10 "$alice"
	wait_for bob "^media flowing" 10 "$bob"
	now
	FLOW_START=$NOW
	if [ -n "${WINDOW_PERF:-}" ] && [ "$mode" = window ]; then
		# A profile of bob over the CPU window, for finding what the window costs.
		(sleep "$SETTLE" && exec perf record -q -g -o "$WINDOW_PERF" -p "$bob" -- sleep $((CALL_SECONDS - 2 * SETTLE))) \
			>/dev/null 2>"$WORK/perf.err" &
	fi
	WATCH_UNTIL_WINDOW='' watch "$bob" "${xvfb[@]}" "$alice"
	if [ "$mode" = window ]; then
		# Mesa's software OpenGL names its threads; SDL picks GL when it can.
		if grep -qs '^llvmpipe' /proc/"$bob"/task/*/comm; then
			WIN_RENDERER="SDL's OpenGL renderer on Mesa's llvmpipe (OpenGL in software)"
		else
			WIN_RENDERER="a renderer without Mesa's llvmpipe (SDL's software renderer)"
		fi
	fi
	WIN_BOB=$(cpu_per_s 0)
	WIN_XVFB=0
	if [ "$mode" = window ]; then WIN_XVFB=$(cpu_per_s 1); fi
	wait "$alice" || die "peercall call failed: $(tail -n 3 "$WORK/alice.err")"
	stop "$alice"
	wait_for bob "^  sync:" 10 "$bob"
	parse_report "$WORK/bob.out"
	if [ "$mode" = window ]; then
		WIN_DISPLAY_LINE=$(grep -m1 '^  display:' "$WORK/bob.out") || die "no display line in bob's report"
		# A window that displays nothing must not pass for a cheap one.
		local shown displayed
		displayed=$(sed -n 's/^  display: \([0-9]*\) frames displayed of \([0-9]*\) shown.*/\1/p' <<<"$WIN_DISPLAY_LINE")
		shown=$(sed -n 's/^  display: \([0-9]*\) frames displayed of \([0-9]*\) shown.*/\2/p' <<<"$WIN_DISPLAY_LINE")
		if [ -z "$shown" ] || [ "$displayed" -lt $((shown * 95 / 100)) ] ||
			[ "$shown" -lt $((25 * CALL_SECONDS)) ]; then
			die "the window displayed too little: $WIN_DISPLAY_LINE"
		fi
	fi
	stop "$bob"
	stop "$REG_PID"
	if [ "$mode" = window ]; then stop "$XVFB_PID"; fi
}

# WINDOW_ROUNDS rounds of the window and the null call, alternating which
# goes first; prints the markdown section.
window_bench() {
	local rounds=${WINDOW_ROUNDS:-$ROUNDS} round w_bob=() n_bob=() xvfb=() diff=() lines=()
	if [ "$rounds" = 0 ]; then
		# For runs that measure something else; the report says what is missing.
		say "WINDOW_ROUNDS=0: the call window is not measured"
		echo "### Call window: not measured (WINDOW_ROUNDS=0)"
		echo
		return 0
	fi
	say "$rounds rounds of a $CALL_SECONDS s call, bob with --video-out window on Xvfb and with --video-out null"
	for round in $(seq "$rounds"); do
		local order=(window null)
		if [ $((round % 2)) = 0 ]; then order=(null window); fi
		local mode
		for mode in "${order[@]}"; do
			window_call "$mode"
			if [ "$mode" = window ]; then
				w_bob+=("$WIN_BOB")
				xvfb+=("$WIN_XVFB")
				lines+=("$WIN_DISPLAY_LINE")
			else
				n_bob+=("$WIN_BOB")
			fi
			say "    round $round, $mode: bob $(fmt "$WIN_BOB" 3) CPU s per s; Xvfb $(fmt "$WIN_XVFB" 3)"
		done
		diff+=("$(awk -v a="${w_bob[-1]}" -v b="${n_bob[-1]}" 'BEGIN { printf "%.4f", a - b }')")
	done
	local W N D X
	W=$(median "${w_bob[@]}")
	N=$(median "${n_bob[@]}")
	D=$(median "${diff[@]}")
	X=$(median "${xvfb[@]}")
	pct() { awk -v x="$1" 'BEGIN { printf "%.1f", 100 * x }'; }
	echo "### Call window: $rounds rounds of a $CALL_SECONDS s call, medians"
	echo
	local sdl_env
	sdl_env=$(env | grep '^SDL_' | sort | tr '\n' ' ' || true)
	echo "Bob receives 640x480@30 MJPEG (and Opus) from alice and shows it in a $WINDOW_SIZE window" \
		"on Xvfb (SDL's x11 driver; $WIN_RENDERER${sdl_env:+; environment: ${sdl_env% }}), or nowhere;" \
		"the two are run alternately in the same session. CPU of bob's process over the middle" \
		"$((CALL_SECONDS - 2 * SETTLE)) s of each call, in percent of one CPU; Xvfb's own CPU is apart" \
		"(on a board the display server or KMS does that work)."
	echo
	echo "| bob, --video-out | CPU | rounds |"
	echo "|---|--:|---|"
	echo "| null | $(pct "$N")% | $(list n_bob) |"
	echo "| window | $(pct "$W")% | $(list w_bob) |"
	echo "| window - null (same round) | $(pct "$D")% | $(list diff) |"
	echo "| Xvfb (window runs) | $(pct "$X")% | $(list xvfb) |"
	echo
	local last=${lines[-1]}
	echo "Bob's display line, last window round: \`${last#"${last%%[! ]*}"}\`"
	echo
	echo "| Target | Measured | Met |"
	echo "|---|---|---|"
	echo "| the window costs at most 5% of one CPU (window - null) | $(pct "$D")% | $(verdict "$D <= 0.05") |"
	echo
}

if [ -n "${WINDOW_ONLY:-}" ]; then
	window_bench
	exit 0
fi

# --- Checks: both sides really carry and decode media, and what it costs to
# encode and decode one of each side's pictures. ---

say "check: a short peercall call, bob saving the pictures it receives"
saved=$CALL_SECONDS
CALL_SECONDS=$((2 * SETTLE + 4))
peercall_call "--video-out file:$WORK/bob.mjpeg"
parse_report "$WORK/bob.out"
CALL_SECONDS=$saved
# Each call is recorded to a file of its own; bob says which.
REC=$(sed -n 's/^recording video to //p' "$WORK/bob.out" | tail -n 1)
[ -n "$REC" ] || die "check: bob did not say where it recorded the call"
mapfile -t SOI < <(LC_ALL=C grep -obUaP '\xff\xd8\xff' "$REC" | cut -d: -f1)
[ "${#SOI[@]}" -ge 60 ] || die "check: only ${#SOI[@]} pictures in bob's MJPEG file"
PC_JPEG_BYTES=$(($(stat -c %s "$REC") / ${#SOI[@]}))
mid=$((${#SOI[@]} / 2))
dd if="$REC" of="$WORK/peercall.jpg" iflag=skip_bytes,count_bytes status=none \
	skip="${SOI[mid]}" count=$((SOI[mid + 1] - SOI[mid]))

say "check: 3 s of the GStreamer pair, counting decoded buffers at each receiver"
start_gst_pair -v "silent=false"
sleep 3
stop "$GST_A" INT
stop "$GST_B" INT
for f in a b; do
	# A decoded picture is 640x480 I420 (460800 bytes); a decoded frame of
	# sound is 20 ms of 48 kHz mono S16 (1920 bytes).
	nv=$(grep -c 'vsink: last-message = chain .*(460800 bytes' "$WORK/gst_$f.out" || true)
	na=$(grep -c 'asink: last-message = chain .*(1920 bytes' "$WORK/gst_$f.out" || true)
	say "  GStreamer peer $f decoded $nv pictures and $na frames of sound"
	[ "$nv" -ge 60 ] && [ "$na" -ge 100 ] || die "GStreamer pipelines do not flow: $(head -n 3 "$WORK/gst_$f.err")"
done
gst-launch-1.0 -q videotestsrc num-buffers=1 ! video/x-raw,format=I420,width=640,height=480 \
	! jpegenc quality=75 idct-method=islow ! filesink location="$WORK/gst.jpg"
GST_JPEG_BYTES=$(stat -c %s "$WORK/gst.jpg")

say "timing JPEG encode and decode of one picture of each with tjbench"
# Prints "encode_ms decode_ms" for the picture in JPEG file $1, re-encoded
# from YUV 4:2:0 at quality 75 as both sides do.
tj() {
	djpeg -ppm "$1" >"$1.ppm"
	tjbench "$1.ppm" 75 -subsamp 420 -yuv -nowrite -benchtime 1 -warmup 0.2 2>&1 | awk '
		/^Comp from YUV/ { split($0, a, "Frame rate:"); split(a[2], b, " "); enc = 1000 / b[1] }
		/^Decomp to YUV/ { split($0, a, "Frame rate:"); split(a[2], b, " "); dec = 1000 / b[1] }
		END { if (enc == "" || dec == "") exit 1; printf "%.2f %.2f\n", enc, dec }'
}
read -r PC_ENC_MS PC_DEC_MS < <(tj "$WORK/peercall.jpg") || die "tjbench failed"
read -r GST_ENC_MS GST_DEC_MS < <(tj "$WORK/gst.jpg") || die "tjbench failed"

# --- The measurement. ---

say "$ROUNDS rounds of a $CALL_SECONDS s peercall call and $CALL_SECONDS s of the GStreamer pair"
PC_CPU=() GST_CPU=() RATIOS=() GST_RSS=() ENC_CPU=() PLAIN_CPU=() SRTP_COST=() SRTP_PCT=()
# Says whether peers $2... ran encrypted ($1 = yes) or plain ($1 = no) in
# their last call, from what they print at the media's start, and that
# neither dropped a packet for failing SRTP.
check_srtp() {
	local want=$1 peer f
	shift
	for peer in "$@"; do
		f=$WORK/$peer.out
		if [ "$want" = no ]; then
			grep -q "^media NOT encrypted" "$f" || die "$peer: the plain call was not plain"
		elif grep -q "^media NOT encrypted" "$f"; then
			die "$peer: the encrypted call was plain"
		fi
		grep -q "SRTP authentication failures dropped 0, replays dropped 0" "$f" ||
			die "$peer dropped packets for SRTP: $(grep -m1 '^  network:' "$f")"
	done
}
for peer in alice bob; do
	for k in V_FPS V50 V95 A50 A95 S5 S50 S95 RSS; do declare -a "${k}_$peer=()"; done
done
run_peercall() {
	peercall_call "--video-out null"
	PC_CPU+=("$(cpu_per_s)")
	check_srtp yes alice bob
	add_threads peercall
	local rs
	read -ra rs <<<"$MAX_RSS"
	local peer k i=0
	for peer in alice bob; do
		parse_report "$WORK/$peer.out"
		for k in V_FPS V50 V95 A50 A95 S5 S50 S95; do eval "${k}_$peer+=(\"\$R_$k\")"; done
		eval "RSS_$peer+=(${rs[i]})"
		i=$((i + 1))
	done
	say "    peercall: $(fmt "${PC_CPU[-1]}" 3) CPU s per call-second for the pair;" \
		"RSS ${rs[*]} KiB; video p95 alice ${V95_alice[-1]} bob ${V95_bob[-1]} ms"
}
# Encryption's cost: SRTP_PAIRS times an encrypted and a plain call side by
# side (srtp_pair), alternating which starts first.
run_srtp_pairs() {
	local n peer
	for n in $(seq "$SRTP_PAIRS"); do
		if [ $((${#ENC_CPU[@]} % 2)) = 0 ]; then srtp_pair encrypted-first; else srtp_pair plain-first; fi
		ENC_CPU+=("$ENC_CPU_NOW")
		PLAIN_CPU+=("$PLAIN_CPU_NOW")
		check_srtp yes alice bob
		check_srtp no palice pbob
		for peer in alice bob palice pbob; do parse_report "$WORK/$peer.out"; done
		SRTP_COST+=("$(awk -v a="$ENC_CPU_NOW" -v b="$PLAIN_CPU_NOW" 'BEGIN { printf "%.3f", a / b - 1 }')")
		SRTP_PCT+=("$(awk -v x="${SRTP_COST[-1]}" 'BEGIN { printf "%.1f%%", 100 * x }')")
		say "    encrypted and plain call at once: $(fmt "$ENC_CPU_NOW" 3) and $(fmt "$PLAIN_CPU_NOW" 3)" \
			"CPU s per call-second for each pair (SRTP +${SRTP_PCT[-1]})"
	done
}
run_gst() {
	gst_call
	GST_CPU+=("$(cpu_per_s)")
	add_threads gst
	local rs
	read -ra rs <<<"$MAX_RSS"
	GST_RSS+=("${rs[@]}")
	say "    GStreamer: $(fmt "${GST_CPU[-1]}" 3) CPU s per call-second for the pair; RSS ${rs[*]} KiB"
}
for round in $(seq "$ROUNDS"); do
	say "  round $round"
	# Alternate which goes first, so that a drift of the machine favours neither.
	if [ $((round % 2)) = 1 ]; then
		run_peercall
		run_srtp_pairs
		run_gst
	else
		run_gst
		run_srtp_pairs
		run_peercall
	fi
	RATIOS+=("$(awk -v a="${PC_CPU[-1]}" -v b="${GST_CPU[-1]}" 'BEGIN { printf "%.3f", a / b }')")
done

# --- Report (markdown). ---

PC=$(median "${PC_CPU[@]}")
ENC=$(median "${ENC_CPU[@]}")
PLAIN=$(median "${PLAIN_CPU[@]}")
# The bar's figure: all encrypted CPU against all plain CPU, every pair
# pooled. One pair's figure moves by several percent from pair to pair (the
# machine does not give two like processes like CPU); pooling weighs every
# call-second alike, where a median of few pairs keeps one pair's noise.
COST=$(awk -v a="$(sum "${ENC_CPU[@]}")" -v b="$(sum "${PLAIN_CPU[@]}")" 'BEGIN { printf "%.3f", a / b - 1 }')
COST_MEDIAN=$(median "${SRTP_COST[@]}")
GS=$(median "${GST_CPU[@]}")
RATIO=$(median "${RATIOS[@]}")
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
max() { printf '%s\n' "$@" | sort -g | tail -n 1; }
min() { printf '%s\n' "$@" | sort -g | head -n 1; }
med() {
	local -n arr=$1
	median "${arr[@]}"
}

echo "### Media: $ROUNDS rounds of a $CALL_SECONDS s call, medians"
echo
echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr);" \
	"$(gst-launch-1.0 --version | sed -n 's/^GStreamer /GStreamer /p');" \
	"libturbojpeg $(dpkg-query -W -f='${Version}' libturbojpeg0 2>/dev/null || echo '?')," \
	"libopus $(dpkg-query -W -f='${Version}' libopus0 2>/dev/null || echo '?')."
echo "CPU is measured over the middle $((CALL_SECONDS - 2 * SETTLE)) s of each call and GStreamer run."
echo
echo "| CPU per call-second, both directions | pair | per peer | rounds |"
echo "|---|--:|--:|---|"
echo "| peercall (2 peers) | $(fmt "$PC" 3) s | $(fmt "$(awk -v x="$PC" 'BEGIN { print 50 * x }')" 1)% of a CPU | $(list PC_CPU) |"
echo "| GStreamer (2 gst-launch) | $(fmt "$GS" 3) s | $(fmt "$(awk -v x="$GS" 'BEGIN { print 50 * x }')" 1)% of a CPU | $(list GST_CPU) |"
echo "| peercall / GStreamer | $(fmt "$RATIO") | | $(list RATIOS 2) |"
echo
echo "| Media encryption (SRTP, AEAD_AES_128_GCM): an encrypted and a plain call at the same time, $SRTP_PAIRS a round | pair (median) | each time |"
echo "|---|--:|---|"
echo "| peercall encrypted | $(fmt "$ENC" 3) s | $(list ENC_CPU) |"
echo "| peercall plain (PEERCALL_BENCH_SRTP=off) | $(fmt "$PLAIN" 3) s | $(list PLAIN_CPU) |"
echo "| encrypted / plain - 1 (same calls) | $(fmt "$(awk -v x="$COST_MEDIAN" 'BEGIN { print 100 * x }')" 1)% | $(list SRTP_COST 3) |"
echo "| all encrypted CPU / all plain CPU - 1 (the target's figure) | $(fmt "$(awk -v x="$COST" 'BEGIN { print 100 * x }')" 1)% | |"
echo
echo "CPU by thread, both processes of a side together, all rounds (percent of one CPU; context switches per second):"
echo
echo "| peercall thread | CPU | switches/s | GStreamer thread | CPU | switches/s |"
echo "|---|--:|--:|---|--:|--:|"
thread_rows() {
	awk -v hz="$CLK_TCK" -v us="$(eval echo "\$WIN_SUM_$1")" '
		{ t[$1] += $2; c[$1] += $3 }
		END { for (n in t) printf "%s %.2f %.0f\n", n, 100 * t[n] / hz / (us / 1e6), c[n] / (us / 1e6) }' \
		"$WORK/threads.$1" | awk '$2 > 0 || $3 > 0' | sort -k2,2gr
}
# Side by side, the longer list setting the number of rows.
awk 'FNR == 1 { f++ } { row[f, FNR] = sprintf("%s | %s%% | %s", $1, $2, $3); if (FNR > n) n = FNR }
	END { for (i = 1; i <= n; i++) {
		a = ((1, i) in row) ? row[1, i] : " | | "; b = ((2, i) in row) ? row[2, i] : " | | "
		printf "| %s | %s |\n", a, b } }' <(thread_rows peercall) <(thread_rows gst)
echo
echo "One 640x480 picture, JPEG 4:2:0 quality 75 from YUV (tjbench, one thread):" \
	"peercall's test picture $PC_JPEG_BYTES bytes (average received), encode $PC_ENC_MS ms, decode $PC_DEC_MS ms;" \
	"GStreamer's (videotestsrc smpte) $GST_JPEG_BYTES bytes, encode $GST_ENC_MS ms, decode $GST_DEC_MS ms."
echo
echo "| peercall, as received by | video fps | video p50 | video p95 | audio p50 | audio p95 | skew p5 | skew p50 | skew p95 | max RSS |"
echo "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
for peer in alice bob; do
	echo "| $peer | $(med "V_FPS_$peer") | $(med "V50_$peer") | $(med "V95_$peer") | $(med "A50_$peer") |" \
		"$(med "A95_$peer") | $(med "S5_$peer") | $(med "S50_$peer") | $(med "S95_$peer") |" \
		"$(mib "$(eval max "\"\${RSS_$peer[@]}\"")") MiB |"
done
echo
echo "Latency and skew in ms, capture to playout (skew positive: picture ahead of sound)." \
	"Video p95 per round: alice $(list V95_alice 1); bob $(list V95_bob 1)." \
	"Audio p95 per round: alice $(list A95_alice 1); bob $(list A95_bob 1)." \
	"GStreamer processes' largest RSS: $(mib "$(max "${GST_RSS[@]}")") MiB."
echo

V95=$(max "$(med V95_alice)" "$(med V95_bob)")
A95=$(max "$(med A95_alice)" "$(med A95_bob)")
S5=$(min "$(med S5_alice)" "$(med S5_bob)")
S95=$(max "$(med S95_alice)" "$(med S95_bob)")
RSS_MAX=$(max "${RSS_alice[@]}" "${RSS_bob[@]}")
V_BEYOND=$(awk -v v="$V95" -v e="$PC_ENC_MS" 'BEGIN { printf "%.1f", v - e }')
echo "| Target | Measured | Met |"
echo "|---|---|---|"
echo "| encryption costs <= 10% more CPU than without, side by side | $(fmt "$(awk -v x="$COST" 'BEGIN { print 100 * x }')" 1)% over ${#ENC_CPU[@]} pairs of calls (each: ${SRTP_PCT[*]}) | $(verdict "$COST <= 0.10") |"
echo "| peercall CPU <= 0.8x GStreamer's, same run | $(fmt "$RATIO")x ($(fmt "$PC" 3) vs $(fmt "$GS" 3) s per call-second) | $(verdict "$RATIO <= 0.8") |"
echo "| video p95 < JPEG encode time + 10 ms | $V95 ms = $PC_ENC_MS ms encode + $V_BEYOND ms | $(verdict "$V_BEYOND < 10") |"
echo "| audio p95 < 60 ms | $A95 ms | $(verdict "$A95 < 60") |"
echo "| peer RSS during a call < 30 MiB | $(mib "$RSS_MAX") MiB | $(verdict "$RSS_MAX < 30 * 1024") |"
echo "| audio/video skew within +-40 ms (p5 to p95) | $S5 to $S95 ms | $(verdict "$S5 >= -40 && $S95 <= 40") |"

window_bench
