#!/usr/bin/env bash
# Loss and rate benchmark (docs/benchmarks.md, "Loss and rate"; `make bench-loss`).
#
# What a call looks like on a bad network: for each scenario (random loss,
# bursty loss, a rate cap, a cap lifted in the middle of a call) a peercall
# call of 640x480@30 MJPEG and Opus both ways, and in the same run the same
# work done by two GStreamer pipelines with NACK and RTX (rtpsession,
# rtprtxsend, rtprtxreceive, rtpjitterbuffer do-retransmission=true). Both
# meet the same seeded impairment (src/media/impair.rs) on what each side
# receives, loss included on the feedback: the peers apply it themselves
# (--impair), GStreamer's packets, RTP and RTCP both ways, pass through
# impair-relay (testkit/src/bin/impair-relay.rs), which uses that impairment.
#
# Columns: frames shown (receiver's shown / sender's sent), fps shown, the
# longest freeze, video and audio p95 latency, repair overhead (repair bytes
# / media bytes). peercall's figures come from each peer's --report-json
# line; a key the peer does not report yet is printed as n/a. GStreamer's
# frames shown are the decoded pictures its receiving fakesink logs (time
# stamped here as they are printed), its frames sent the RTP markers its
# sender put on the wire, its repair bytes the RTX packets (payload type 97)
# it sent; its latency is not measured (n/a).
#
# Tunables (environment): CALL_SECONDS per call (default 10); LIFT_AT, when
# the cap is lifted in the cap-lift scenario, whose call lasts 2 * LIFT_AT
# (default CALL_SECONDS); SEED (default 7); SCENARIOS, a space-separated
# subset of the names below (default all); GST_LATENCIES, the GStreamer
# jitter buffer latencies run beside each call in ms (default "100 200");
# LOSS_JSON=FILE, one JSON object per scenario and system appended to FILE;
# KEEP_WORK=1 keeps the logs of the last run of each kind (and says where).
# Everything runs on 127.0.0.1; every process started here is stopped on exit.
set -euo pipefail

CALL_SECONDS=${CALL_SECONDS:-10}
LIFT_AT=${LIFT_AT:-$CALL_SECONDS}
SEED=${SEED:-7}
GST_LATENCIES=${GST_LATENCIES:-100 200}
# The sent rate counts as back to full once a 1 s window of it reaches this
# share of the rate sent without impairment.
FULL_SHARE=0.9
# GStreamer's payload types: JPEG (RFC 3551) and its RTX stream (RFC 4588).
PT_JPEG=26
PT_RTX=97
# What rtpsession is told the session's rate is, in bits per second (video,
# audio): with 0 it guesses from what it has sent, and a receiver that has
# sent nothing gets almost no RTCP bandwidth for its NACKs early in a call.
GST_VIDEO_BW=5200000
GST_AUDIO_BW=64000

# name|impairment (without seed)|call seconds|label
ALL_SCENARIOS=(
	"loss0-1ms|loss=0%,delay=1ms|C|no loss, 1 ms"
	"loss1-1ms|loss=1%,delay=1ms|C|1% random, 1 ms"
	"loss5-1ms|loss=5%,delay=1ms|C|5% random, 1 ms"
	"loss10-1ms|loss=10%,delay=1ms|C|10% random, 1 ms"
	"loss20-1ms|loss=20%,delay=1ms|C|20% random, 1 ms"
	"burst5-1ms|loss=5%,burst=4,delay=1ms|C|5% bursty (burst=4), 1 ms"
	"loss0-25ms|loss=0%,delay=25ms|C|no loss, 25 ms"
	"loss1-25ms|loss=1%,delay=25ms|C|1% random, 25 ms"
	"loss5-25ms|loss=5%,delay=25ms|C|5% random, 25 ms"
	"loss10-25ms|loss=10%,delay=25ms|C|10% random, 25 ms"
	"loss20-25ms|loss=20%,delay=25ms|C|20% random, 25 ms"
	"burst5-25ms|loss=5%,burst=4,delay=25ms|C|5% bursty (burst=4), 25 ms"
	"cap|rate=2000kbit,delay=25ms|C|2 Mbit/s cap, 25 ms"
	"cap-lift|rate=2000kbit,until=${LIFT_AT}s,delay=25ms|L|2 Mbit/s cap lifted at ${LIFT_AT} s, 25 ms"
)

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=${CARGO_TARGET_DIR:-target}/release

say() { echo "$*" >&2; }
die() {
	say "bench: $*"
	exit 1
}

[ "$CALL_SECONDS" -ge 4 ] || die "CALL_SECONDS must be at least 4"
[ "$LIFT_AT" -ge 2 ] || die "LIFT_AT must be at least 2"

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
	if [ -n "${KEEP_WORK:-}" ]; then say "bench: logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops a process started here (signal $2, default TERM) and forgets it, so
# cleanup never signals a process id the system has since handed to another.
stop() {
	kill "-${2:-TERM}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	forget "$1"
}
forget() {
	local keep=() pid
	for pid in "${PIDS[@]}"; do
		if [ "$pid" != "$1" ]; then keep+=("$pid"); fi
	done
	PIDS=("${keep[@]}")
}

say "building release binaries"
cargo build --release --quiet -p peercall-registry -p peercall-peer -p peercall-testkit --bin impair-relay
RELAY=$BIN/impair-relay

# GStreamer (Debian 12: rtpmanager's rtpsession, rtprtxsend, rtprtxreceive,
# rtpssrcdemux and rtpjitterbuffer, the JPEG payloaders and udpsrc/udpsink in
# -good; videotestsrc, audiotestsrc and Opus in -base).
ELEMENTS=(videotestsrc audiotestsrc jpegenc jpegdec rtpjpegpay rtpjpegdepay opusenc opusdec
	rtpopuspay rtpopusdepay udpsrc udpsink fakesink rtpsession rtprtxsend rtprtxreceive
	rtpssrcdemux rtpjitterbuffer)
have_gst() {
	local e
	command -v gst-launch-1.0 >/dev/null && command -v gst-inspect-1.0 >/dev/null || return 1
	for e in "${ELEMENTS[@]}"; do
		gst-inspect-1.0 --exists "$e" || return 1
	done
}
if ! have_gst; then
	say "installing GStreamer (tools, base and good plugins)"
	bash scripts/deps.sh gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
	have_gst || die "installed, but gst-launch-1.0 or one of ${ELEMENTS[*]} is missing"
fi

# Sets NOW to the wall-clock time in microseconds (comparable with the
# relay's logs).
now() { NOW=${EPOCHREALTIME//[.,]/}; }

# Waits up to $3 seconds for a line matching $2 in file $1, written by
# process $4.
wait_line() {
	for _ in $(seq $(($3 * 20))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		if ! kill -0 "$4" 2>/dev/null; then
			grep -q -- "$2" "$1" 2>/dev/null && return 0
			die "$(basename "$1" .out) ended before '$2': $(tail -n 3 "$1" "${1%.out}.err" 2>/dev/null)"
		fi
		sleep 0.05
	done
	die "no '$2' in $1 after $3 s: $(tail -n 3 "$1")"
}

# Starts the registry on a free loopback port; sets REG_PID and REG_ADDR.
start_registry() {
	local out=$WORK/registry.out line
	# Emptied here, not by the child's redirection, which may come after
	# the first look for the line below and let the last run's output pass.
	: >"$out"
	"$BIN/peercall-registry" --listen 127.0.0.1:0 --state-dir "$WORK/registry-state" >"$out" 2>"$WORK/registry.err" &
	REG_PID=$!
	PIDS+=("$REG_PID")
	wait_line "$out" "^listening on " 5 "$REG_PID"
	line=$(head -n 1 "$out")
	REG_ADDR=${line#listening on }
}

# Sets PORTS to $1 UDP ports that nothing holds on this machine now, even
# ones when $2 is "even". They are taken below the ephemeral range
# (ip_local_port_range), where the relays' port-0 binds cannot land on them
# before GStreamer binds them.
free_ports() {
	PORTS=()
	local p lo=32768
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	[ "$lo" -gt 12000 ] || die "the ephemeral port range starts at $lo: no room below it"
	while [ "${#PORTS[@]}" -lt "$1" ]; do
		p=$((10000 + RANDOM % (lo - 10000)))
		if [ "${2:-}" = even ]; then p=$((p & ~1)); fi
		if ! grep -qsi -- "$(printf ':%04X ' "$p")" /proc/net/udp /proc/net/udp6 &&
			[[ " ${PORTS[*]} " != *" $p "* ]]; then
			PORTS+=("$p")
		fi
	done
}

# Starts an impair-relay from port $5 (default: one the system picks) to
# 127.0.0.1:$2 with impairment $3 for $4 seconds, logging to $WORK/$1.log;
# sets RELAY_PORT and RELAY_PID. Without $2 it is a tap: it only logs.
start_relay() {
	local name=$1 out=$WORK/$1.out to=()
	if [ -n "$2" ]; then to=(--to "127.0.0.1:$2"); fi
	: >"$out" # see start_registry
	"$RELAY" --listen "127.0.0.1:${5:-0}" "${to[@]}" --impair "$3" --seconds "$4" --log "$WORK/$name.log" \
		</dev/null >"$out" 2>"$WORK/$name.err" &
	RELAY_PID=$!
	PIDS+=("$RELAY_PID")
	wait_line "$out" "^relaying " 5 "$RELAY_PID"
	RELAY_PORT=$(sed -n 's/^relaying 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$out")
	[ -n "$RELAY_PORT" ] || die "relay $name did not say its port: $(cat "$out")"
}

# The value of key $2 in the one-line JSON object $1: a number, or n/a when
# the key is missing or null (the report grows keys; a missing one is never
# guessed).
jget() {
	local v
	v=$(sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" <<<"$1")
	if [ -z "$v" ] || [ "$v" = null ]; then echo n/a; else echo "$v"; fi
}
# awk over numbers that may be n/a: prints n/a when any of the variables
# given as name=value is n/a, else the result of the expression $1.
calc() {
	local expr=$1 a
	shift
	for a in "$@"; do
		if [ "${a#*=}" = n/a ]; then
			echo n/a
			return
		fi
	done
	local vars=()
	for a in "$@"; do vars+=(-v "$a"); done
	awk "${vars[@]}" "BEGIN { $expr }"
}

# The sent video rate, in kbit/s, in 1 s windows: the median over the
# middle of a call (from $2 s to $3 s after the first packet), of the send
# times and sizes in file $1 ("t_us bytes" lines).
median_rate() {
	awk -v from="$2" -v to="$3" '
		NR == 1 { t0 = $1 }
		{ s = int(($1 - t0) / 1e6); if (s >= from && s < to) b[s] += $2 }
		END { for (s in b) printf "%.0f\n", b[s] * 8 / 1000 }' "$1" |
		sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "n/a" }'

}
# Seconds from the lift at $2 (µs) until a 1 s window of the sent video rate
# in file $1 ("t_us bytes" lines) first reaches FULL_SHARE of $3 kbit/s,
# windows starting every 100 ms; "> X" when none does before the data ends.
recovery() {
	[ "$3" != n/a ] || {
		echo n/a
		return
	}
	awk -v lift="$2" -v full="$3" -v share="$FULL_SHARE" '
		{ t[NR] = $1; b[NR] = $2; if ($1 > last) last = $1 }
		END {
			for (w = lift; w + 1e6 <= last; w += 1e5) {
				sum = 0
				for (i = 1; i <= NR; i++) if (t[i] >= w && t[i] < w + 1e6) sum += b[i]
				if (sum * 8 / 1000 >= share * full) { printf "%.1f\n", (w - lift) / 1e6; exit }
			}
			printf "> %.1f\n", (last - lift) / 1e6 }' "$1"
}

# --- peercall ---

# One call of $2 seconds from alice to bob, each applying impairment $1
# (seeded differently) to what it receives, reporting as JSON. Bob forwards
# a copy of the video it receives to a tap, whose log gives alice's sent
# rate over time. Sets PC_A and PC_B (the JSON lines), PC_T0 (µs, when bob's
# media started), and leaves the tap's log in $WORK/tap.log.
pc_call() {
	local spec=$1 secs=$2
	start_registry
	free_ports 1 even
	local fwd=${PORTS[0]}
	start_relay tap "" "" $((secs + 15)) "$fwd"
	local tap=$RELAY_PID
	: >"$WORK/bob.out" # see start_registry
	: >"$WORK/alice.out"
	# The forward goes to the tap's port; bob's copy of RTCP and audio goes
	# to the ports above it, where nothing listens.
	"$BIN/peercall" run --name bob --identity "$WORK/bob.id" --registry "$REG_ADDR" --listen 127.0.0.1:0 --auto-accept-anyone \
		--video-out null --audio-out null --report-json --impair "$spec,seed=$((SEED + 100))" \
		--forward "127.0.0.1:$fwd" </dev/null >"$WORK/bob.out" 2>"$WORK/bob.err" &
	local bob=$!
	PIDS+=("$bob")
	wait_line "$WORK/bob.out" "^registered as bob" 10 "$bob"
	"$BIN/peercall" call bob --name alice --identity "$WORK/alice.id" --registry "$REG_ADDR" --listen 127.0.0.1:0 \
		--seconds "$secs" --video-out null --audio-out null --report-json --impair "$spec,seed=$SEED" \
		</dev/null >"$WORK/alice.out" 2>"$WORK/alice.err" &
	local alice=$!
	PIDS+=("$alice")
	wait_line "$WORK/bob.out" "^media flowing" 10 "$bob"
	now
	PC_T0=$NOW
	wait_line "$WORK/alice.out" "^media flowing" 10 "$alice"
	for _ in $(seq $(((secs + 30) * 10))); do
		kill -0 "$alice" 2>/dev/null || break
		sleep 0.1
	done
	wait "$alice" || die "peercall call failed: $(tail -n 3 "$WORK/alice.err")"
	forget "$alice"
	# Bob reports when alice hangs up.
	wait_line "$WORK/bob.out" '^{"peer"' 10 "$bob"
	stop "$bob"
	stop "$REG_PID"
	stop "$tap"
	PC_A=$(grep -m1 '^{"peer"' "$WORK/alice.out") || die "no JSON report from alice"
	PC_B=$(grep -m1 '^{"peer"' "$WORK/bob.out") || die "no JSON report from bob"
	# The tap holds bob's copy of alice's video: send time from the RTP
	# timestamp (90 kHz; the first packet's arrival as its origin), size.
	awk -v pt="$PT_JPEG" '$4 == pt {
			if (!n++) { t0 = $1; ts0 = $6 }
			d = $6 - ts0; if (d < -2147483648) d += 4294967296; else if (d > 2147483647) d -= 4294967296
			printf "%.0f %d\n", t0 + d / 0.09, $2 }' "$WORK/tap.log" | sort -n >"$WORK/pc_sent.txt"
}

# Sets the PC_* figures from the two JSON reports.
pc_figures() {
	local a=$PC_A b=$PC_B
	local sa sb ha hb da db
	sa=$(jget "$a" video_frames_sent)
	sb=$(jget "$b" video_frames_sent)
	ha=$(jget "$a" video_frames_shown)
	hb=$(jget "$b" video_frames_shown)
	da=$(jget "$a" duration_s)
	db=$(jget "$b" duration_s)
	# Both directions: alice shows what bob sent and the other way round.
	# Frames still within their playout time when the call ended (a
	# receiver's video_frames_unfinished: neither shown nor lost, the call
	# just stopped first) are left out of what was sent; before the report
	# had the key, nothing is left out.
	local ua ub
	ua=$(jget "$a" video_frames_unfinished)
	ub=$(jget "$b" video_frames_unfinished)
	[ "$ua" = n/a ] && ua=0
	[ "$ub" = n/a ] && ub=0
	PC_SHOWN=$(calc 'printf "%.1f", 100 * (ha + hb) / (sa + sb - ua - ub)' ha="$ha" hb="$hb" sa="$sa" sb="$sb" ua="$ua" ub="$ub")
	PC_FPS=$(calc 'printf "%.1f", (ha / da + hb / db) / 2' ha="$ha" hb="$hb" da="$da" db="$db")
	PC_FREEZE=$(calc 'printf "%.0f", (x > y ? x : y)' x="$(jget "$a" video_longest_freeze_ms)" \
		y="$(jget "$b" video_longest_freeze_ms)")
	PC_V95=$(calc 'printf "%.1f", (x > y ? x : y)' x="$(jget "$a" video_latency_p95_ms)" \
		y="$(jget "$b" video_latency_p95_ms)")
	PC_A95=$(calc 'printf "%.1f", (x > y ? x : y)' x="$(jget "$a" audio_latency_p95_ms)" \
		y="$(jget "$b" audio_latency_p95_ms)")
	local ra rb fa fb ma mb
	ra=$(jget "$a" rtx_bytes_sent)
	rb=$(jget "$b" rtx_bytes_sent)
	fa=$(jget "$a" fec_bytes_sent)
	fb=$(jget "$b" fec_bytes_sent)
	ma=$(jget "$a" video_media_bytes_sent)
	mb=$(jget "$b" video_media_bytes_sent)
	PC_OVERHEAD=$(calc 'printf "%.2f", 100 * (ra + rb + fa + fb) / (ma + mb)' \
		ra="$ra" rb="$rb" fa="$fa" fb="$fb" ma="$ma" mb="$mb")
	# Details, alice's and bob's figures as "a+b".
	both() { echo "$(jget "$a" "$1")+$(jget "$b" "$1")"; }
	PC_NACKS="sent $(both nacks_sent), received $(both nacks_received)"
	PC_REPAIRED="rtx $(both video_packets_repaired_rtx), fec $(both video_packets_repaired_fec)"
	PC_LOST_AFTER=$(both video_frames_lost_after_repair)
	PC_PKT_LOST=$(both video_packets_lost)
	PC_TARGET="$(jget "$a" video_target_kbps_min)/$(jget "$a" video_target_kbps_median)/$(jget "$a" video_target_kbps_max)"
	PC_TARGET+=" and $(jget "$b" video_target_kbps_min)/$(jget "$b" video_target_kbps_median)/$(jget "$b" video_target_kbps_max)"
	PC_RATE=$(median_rate "$WORK/pc_sent.txt" 1 $((${CUR_SECS:-$CALL_SECONDS} - 1)))
}

# --- GStreamer ---

# Sets GST_ARGS to one GStreamer peer: it sends video and audio and
# receives the other peer's, each with an rtpsession of its own per
# direction and RTCP both ways. $1: jitter buffer latency (ms); $2-$7 the
# ports it sends to: video RTP, video RTCP from its sender, video RTCP from
# its receiver (to the other's sender), and the same for audio; $8-$13 the
# ports it receives on, in the same order (RTP, the other's sender's RTCP,
# RTCP to its own sender).
gst_peer() {
	local lat=$1 vo=$2 vso=$3 vfo=$4 ao=$5 aso=$6 afo=$7 vi=$8 vsi=$9 vfi=${10} ai=${11} asi=${12} afi=${13}
	local rtx="application/x-rtp-pt-map,$PT_JPEG=(uint)$PT_RTX"
	local udp=(sync=false async=false host=127.0.0.1)
	# shellcheck disable=SC2054 # commas inside caps and pipeline properties
	GST_ARGS=(
		rtpsession name=vs rtp-profile=avpf bandwidth="$GST_VIDEO_BW"
		videotestsrc is-live=true
		! video/x-raw,format=I420,width=640,height=480,framerate=30/1
		! jpegenc quality=75 idct-method=islow ! rtpjpegpay pt="$PT_JPEG"
		! rtprtxsend payload-type-map="$rtx" max-size-packets=0 max-size-time=1000
		! vs.send_rtp_sink
		vs.send_rtp_src ! udpsink port="$vo" "${udp[@]}"
		vs.send_rtcp_src ! udpsink port="$vso" "${udp[@]}"
		udpsrc address=127.0.0.1 port="$vfi" ! vs.recv_rtcp_sink

		rtpsession name=vr rtp-profile=avpf bandwidth="$GST_VIDEO_BW"
		udpsrc address=127.0.0.1 port="$vi"
		caps="application/x-rtp,media=video,clock-rate=90000,encoding-name=JPEG,payload=$PT_JPEG"
		! vr.recv_rtp_sink
		vr.recv_rtp_src ! rtprtxreceive payload-type-map="$rtx" ! rtpssrcdemux
		! rtpjitterbuffer latency="$lat" do-retransmission=true
		! rtpjpegdepay name=vdepay ! jpegdec idct-method=islow ! fakesink name=vsink silent=false sync=false
		udpsrc address=127.0.0.1 port="$vsi" ! vr.recv_rtcp_sink
		vr.send_rtcp_src ! udpsink port="$vfo" "${udp[@]}"

		rtpsession name=as rtp-profile=avpf bandwidth="$GST_AUDIO_BW"
		audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=960
		! audio/x-raw,format=S16LE,rate=48000,channels=1
		! opusenc bitrate=32000 audio-type=voice complexity=9 inband-fec=true packet-loss-percentage=10
		frame-size=20 ! rtpopuspay pt=111 ! as.send_rtp_sink
		as.send_rtp_src ! udpsink port="$ao" "${udp[@]}"
		as.send_rtcp_src ! udpsink port="$aso" "${udp[@]}"
		udpsrc address=127.0.0.1 port="$afi" ! as.recv_rtcp_sink

		rtpsession name=ar rtp-profile=avpf bandwidth="$GST_AUDIO_BW"
		udpsrc address=127.0.0.1 port="$ai"
		caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload=111"
		! ar.recv_rtp_sink
		ar.recv_rtp_src ! rtpssrcdemux ! rtpjitterbuffer latency="$lat"
		! rtpopusdepay ! opusdec ! audio/x-raw,channels=1 ! fakesink name=asink sync=false
		udpsrc address=127.0.0.1 port="$asi" ! ar.recv_rtcp_sink
		ar.send_rtcp_src ! udpsink port="$afo" "${udp[@]}"
	)
}

# Copies gst-launch's output from fifo $1 to file $2, each decoded picture
# (a last-message of the video fakesink) as the time it was printed, in µs.
stamp() {
	local line
	while IFS= read -r line; do
		case $line in
		*"vsink: last-message = chain"*) echo "${EPOCHREALTIME//[.,]/}" ;;
		esac
	done <"$1" >"$2"
}

# $3 seconds of the two GStreamer peers, A and B, with jitter buffer latency
# $2 ms, every flow through a relay applying impairment $1 (each seeded
# differently). Leaves the relays' logs (vrtp_ab.log, vrtp_ba.log, ...) and
# each receiver's picture times (shown_a.txt: what A showed) in $WORK; sets
# GST_T0 (µs, when the relays started).
gst_run() {
	local spec=$1 lat=$2 secs=$3
	free_ports 12
	local p=("${PORTS[@]}")
	# Receive ports of A (0-5) and B (6-11): video RTP, video sender's RTCP,
	# video receiver's RTCP, then audio the same.
	# Flow names say which stream they belong to: vfb_ab is B's receiver's
	# RTCP (reports, NACKs) about A's video, going to A's sender.
	local flows=(vrtp_ab:6 vsr_ab:7 vfb_ab:2 artp_ab:9 asr_ab:10 afb_ab:5
		vrtp_ba:0 vsr_ba:1 vfb_ba:8 artp_ba:3 asr_ba:4 afb_ba:11)
	local f k=0 relays=()
	declare -A R
	now
	GST_T0=$NOW
	for f in "${flows[@]}"; do
		start_relay "${f%:*}" "${p[${f#*:}]}" "$spec,seed=$((SEED + 200 + k))" "$secs"
		R[${f%:*}]=$RELAY_PORT
		relays+=("$RELAY_PID")
		k=$((k + 1))
	done
	local peer pids=()
	for peer in a b; do
		local me=ab them=ba base=0
		if [ $peer = b ]; then me=ba them=ab base=6; fi
		gst_peer "$lat" "${R[vrtp_$me]}" "${R[vsr_$me]}" "${R[vfb_$them]}" \
			"${R[artp_$me]}" "${R[asr_$me]}" "${R[afb_$them]}" \
			"${p[@]:base:6}"
		rm -f "$WORK/gst_$peer.fifo"
		mkfifo "$WORK/gst_$peer.fifo"
		stamp "$WORK/gst_$peer.fifo" "$WORK/shown_$peer.txt" &
		PIDS+=("$!")
		pids+=("$!")
		# The depayloader's log gives the RTP timestamp of each picture it
		# passes on (see gst_latency).
		GST_DEBUG="rtpbasedepayload:6,rtpjpegdepay:5" GST_DEBUG_NO_COLOR=1 \
			gst-launch-1.0 -v "${GST_ARGS[@]}" </dev/null >"$WORK/gst_$peer.fifo" 2>"$WORK/gst_$peer.err" &
		PIDS+=("$!")
		pids+=("$!")
	done
	# The relays end after $secs; what they still held is delivered first.
	local r
	for r in "${relays[@]}"; do
		wait "$r" || die "a relay failed: $(cat "$WORK"/*.err)"
		forget "$r"
	done
	# Time for the receivers to show what arrived last.
	sleep $(((lat + 999) / 1000 + 1))
	stop "${pids[1]}" INT
	stop "${pids[3]}" INT
	wait "${pids[0]}" "${pids[2]}" 2>/dev/null || true
	forget "${pids[0]}"
	forget "${pids[2]}"
	for peer in a b; do
		if grep -q "^ERROR" "$WORK/gst_$peer.err"; then
			die "GStreamer failed: $(grep -m 5 "^ERROR" "$WORK/gst_$peer.err")"
		fi
	done
}

# The p95 of the video latency of GStreamer receiver $1 (a or b), in ms,
# from its sender's first packet of a picture (in relay log $2) to the
# picture reaching the fakesink (shown_$1.txt); n/a when the pictures cannot
# be paired. The depayloader logs each packet's RTP timestamp and
# "returning" for each picture it passes on, in the streaming thread that
# then decodes it and hands it to the sink, so the k-th picture returned is
# the k-th shown. It leaves out the sender's capture and JPEG encode before
# the first packet and includes the receiver's decode.
gst_latency() {
	local rx=$1 sender_log=$2
	awk -v pt="$PT_JPEG" '
		FILENAME == ARGV[1] { if ($4 == pt && !($6 in sent)) sent[$6] = $1; next }
		FILENAME == ARGV[2] {
			if (index($0, "<vdepay>") == 0) next
			if ((i = index($0, "rtptime ")) > 0) { split(substr($0, i + 8), w, ","); last = w[1] }
			else if (index($0, "returning ") > 0) ts[++n] = last
			next
		}
		{ k++; if (k <= n && (ts[k] in sent)) { print ($1 - sent[ts[k]]) / 1000; m++ } }
		END { if (k != n || m == 0) print "mismatch" }' \
		"$sender_log" "$WORK/gst_$rx.err" "$WORK/shown_$rx.txt" | sort -g |
		awk '/mismatch/ { bad = 1; next } { v[++c] = $1 }
			END { if (bad || !c) print "n/a"; else printf "%.1f\n", v[int((c - 1) * 0.95 + 0.5) + 1] }'
}

# Sets the G_* figures of the last gst_run ($1: its seconds).
gst_figures() {
	local secs=$1
	# Per direction: frames sent (RTP markers of JPEG packets entering the
	# relay, before any loss), frames shown by the other side.
	local sent_ab sent_ba shown_a shown_b
	sent_ab=$(awk -v pt="$PT_JPEG" '$3 == 1 && $4 == pt' "$WORK/vrtp_ab.log" | wc -l)
	sent_ba=$(awk -v pt="$PT_JPEG" '$3 == 1 && $4 == pt' "$WORK/vrtp_ba.log" | wc -l)
	shown_b=$(wc -l <"$WORK/shown_b.txt")
	shown_a=$(wc -l <"$WORK/shown_a.txt")
	G_SHOWN=$(calc 'printf "%.1f", 100 * (ha + hb) / (sa + sb)' ha="$shown_a" hb="$shown_b" \
		sa="$sent_ba" sb="$sent_ab")
	# fps over the time each sender sent: from its first picture's last
	# packet to its last picture's, plus one picture's time.
	local d_ab d_ba
	span() {
		awk -v pt="$PT_JPEG" '$3 == 1 && $4 == pt { if (!a) a = $1; b = $1 }
			END { printf "%.3f", (b - a) / 1e6 + 1 / 30 }' "$1"
	}
	d_ab=$(span "$WORK/vrtp_ab.log")
	d_ba=$(span "$WORK/vrtp_ba.log")
	G_FPS=$(calc 'printf "%.1f", (ha / da + hb / db) / 2' ha="$shown_a" hb="$shown_b" da="$d_ba" db="$d_ab")
	# The longest time between two pictures shown, either receiver.
	G_FREEZE=$(awk 'FNR == 1 { p = "" } { if (p != "" && $1 - p > m) m = $1 - p; p = $1 }
		END { printf "%.0f", m / 1000 }' "$WORK/shown_a.txt" "$WORK/shown_b.txt")
	local la lb
	la=$(gst_latency a "$WORK/vrtp_ba.log")
	lb=$(gst_latency b "$WORK/vrtp_ab.log")
	G_V95=$(calc 'printf "%.1f", (x > y ? x : y)' x="$la" y="$lb")
	G_A95=n/a
	# Repair: RTX bytes over JPEG bytes sent, both directions.
	read -r G_MEDIA G_RTX G_RTX_PKTS G_LOSS < <(awk -v pt="$PT_JPEG" -v rtx="$PT_RTX" '
		$4 == pt { m += $2; n++; if ($8 == "lost") l++ }
		$4 == rtx { r += $2; rp++ }
		END { printf "%.0f %.0f %d %.2f\n", m, r, rp, n ? 100 * l / n : 0 }' \
		"$WORK/vrtp_ab.log" "$WORK/vrtp_ba.log")
	G_OVERHEAD=$(calc 'printf "%.2f", 100 * r / m' r="$G_RTX" m="$G_MEDIA")
	awk -v pt="$PT_JPEG" '$4 == pt { print $1, $2 }' "$WORK/vrtp_ab.log" >"$WORK/gst_sent.txt"
	G_RATE=$(median_rate "$WORK/gst_sent.txt" 1 $((secs - 1)))
}

# "x% (y x loss)" for an overhead of $1 % at a loss of $2 %.
overhead_cell() {
	if [ "$1" = n/a ]; then
		echo n/a
	elif awk -v l="$2" 'BEGIN { exit !(l > 0) }'; then
		echo "$1% ($(awk -v o="$1" -v l="$2" 'BEGIN { printf "%.2f", o / l }')x)"
	else
		echo "$1%"
	fi
}

json_line() {
	[ -n "${LOSS_JSON:-}" ] || return 0
	local out="{" k v
	while [ $# -gt 1 ]; do
		k=$1 v=$2
		shift 2
		if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then
			out+="\"$k\":$v,"
		elif [ "$v" = n/a ]; then
			out+="\"$k\":null,"
		else
			out+="\"$k\":\"${v//\"/\\\"}\","
		fi
	done
	echo "${out%,}}" >>"$LOSS_JSON"
}

# --- The runs. ---

read -ra LATS <<<"$GST_LATENCIES"
WANT=${SCENARIOS:-}
ROWS=()
DETAILS=()
NOTES=()
FULL_PC=n/a
FULL_GST=n/a
COMMIT=$(git describe --always --dirty 2>/dev/null || echo "?")
say "scenarios of a $CALL_SECONDS s call (cap-lift: $((2 * LIFT_AT)) s), seed $SEED," \
	"GStreamer jitter buffer ${GST_LATENCIES// / and } ms"
for sc in "${ALL_SCENARIOS[@]}"; do
	IFS='|' read -r name spec len label <<<"$sc"
	if [ -n "$WANT" ] && [[ " $WANT " != *" $name "* ]]; then continue; fi
	CUR_SECS=$CALL_SECONDS
	if [ "$len" = L ]; then CUR_SECS=$((2 * LIFT_AT)); fi
	loss=$(sed -n 's/.*loss=\([0-9.]*\)%.*/\1/p' <<<"$spec")
	loss=${loss:-0}
	if ! why=$("$RELAY" --check "$spec"); then
		say "  $name: skipped, this build's impairment does not take '$spec': $why"
		cells="n/a"
		for _ in "${LATS[@]}"; do cells+=" / n/a"; done
		ROWS+=("| $label | $cells | $cells | $cells | $cells | $cells | $cells |")
		NOTES+=("$label: not run, the impairment '$spec' is not supported by this build ($why).")
		json_line scenario "$name" system none spec "$spec" skipped "$why"
		continue
	fi
	say "  $name ($spec): peercall"
	pc_call "$spec" "$CUR_SECS"
	pc_figures
	shown=$PC_SHOWN fps=$PC_FPS freeze=$PC_FREEZE v95=$PC_V95 a95=$PC_A95
	over=$(overhead_cell "$PC_OVERHEAD" "$loss")
	DETAILS+=("| $label | peercall | $PC_PKT_LOST | $PC_NACKS | $PC_REPAIRED | $PC_LOST_AFTER | $PC_TARGET | $PC_RATE |")
	json_line scenario "$name" system peercall commit "$COMMIT" spec "$spec" seconds "$CUR_SECS" \
		frames_shown_pct "$PC_SHOWN" fps_shown "$PC_FPS" longest_freeze_ms "$PC_FREEZE" \
		video_p95_ms "$PC_V95" audio_p95_ms "$PC_A95" repair_overhead_pct "$PC_OVERHEAD" \
		arrived_kbps_median "$PC_RATE"
	pc_rate=$PC_RATE
	pc_sent=$WORK/pc_sent_$name.txt
	cp "$WORK/pc_sent.txt" "$pc_sent"
	pc_t0=$PC_T0
	gst_rates=()
	for lat in "${LATS[@]}"; do
		say "  $name ($spec): GStreamer, jitter buffer $lat ms"
		gst_run "$spec" "$lat" "$CUR_SECS"
		gst_figures "$CUR_SECS"
		shown+=" / $G_SHOWN" fps+=" / $G_FPS" freeze+=" / $G_FREEZE" v95+=" / $G_V95" a95+=" / $G_A95"
		over+=" / $(overhead_cell "$G_OVERHEAD" "$loss")"
		DETAILS+=("| $label | GStreamer $lat ms | $G_LOSS% of JPEG packets (relay) | n/a | rtx packets sent $G_RTX_PKTS | n/a | none | $G_RATE |")
		json_line scenario "$name" system "gstreamer-$lat" commit "$COMMIT" spec "$spec" seconds "$CUR_SECS" \
			frames_shown_pct "$G_SHOWN" fps_shown "$G_FPS" longest_freeze_ms "$G_FREEZE" \
			video_p95_ms n/a audio_p95_ms n/a repair_overhead_pct "$G_OVERHEAD" \
			video_loss_measured_pct "$G_LOSS" sent_kbps_median "$G_RATE"
		gst_rates+=("$G_RATE")
		cp "$WORK/gst_sent.txt" "$WORK/gst_sent_${name}_$lat.txt"
		GST_T0_LAST=$GST_T0
	done
	ROWS+=("| $label | $shown | $fps | $freeze | $v95 | $a95 | $over |")
	if [ "$name" = loss0-25ms ]; then
		FULL_PC=$pc_rate
		FULL_GST=${gst_rates[0]}
	fi
	if [ "$name" = cap-lift ]; then
		lift_pc=$((pc_t0 + LIFT_AT * 1000000))
		rec="peercall $(recovery "$pc_sent" "$lift_pc" "$FULL_PC") s"
		lift_gst=$((GST_T0_LAST + LIFT_AT * 1000000))
		rec+=", GStreamer ${LATS[-1]} ms $(recovery "$WORK/gst_sent_${name}_${LATS[-1]}.txt" "$lift_gst" "$FULL_GST") s"
		NOTES+=("$label: time from the lift until a 1 s window of the sent video rate reaches $(awk -v s="$FULL_SHARE" 'BEGIN { print 100 * s }')% of the rate sent with no loss at 25 ms (peercall $FULL_PC kbit/s, GStreamer $FULL_GST kbit/s): $rec.")
		json_line scenario "$name" system recovery full_kbps_peercall "$FULL_PC" full_kbps_gstreamer "$FULL_GST" \
			recovery "$rec"
	fi
done

# --- Report (markdown). ---

gst_cols=""
for lat in "${LATS[@]}"; do gst_cols+=" / GStreamer $lat ms"; done
echo "### Loss and rate: one run of $CALL_SECONDS s calls (cap-lift $((2 * LIFT_AT)) s), seed $SEED, $(date -u +%Y-%m-%d), commit $COMMIT"
echo
echo "$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr);" \
	"$(gst-launch-1.0 --version | sed -n 's/^GStreamer /GStreamer /p')."
echo "Each cell: peercall$gst_cols (jitter buffer latency). Both directions of each call counted;" \
	"freeze and latency are the worse direction's. The delay is one way, on each side's receive path."
echo
echo "| scenario | frames shown % | fps shown | longest freeze ms | video p95 ms | audio p95 ms | repair overhead (x loss) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "Repair and rate details (peercall: alice+bob, or alice and bob; target kbps min/median/max)." \
	"Video kbps: GStreamer's A to B as sent (before the relay's loss); peercall's alice to bob as it" \
	"arrived at bob (so less the loss), each packet at its RTP timestamp:"
echo
echo "| scenario | system | video packets lost | NACKs | packets repaired | frames lost after repair | target kbps | video kbps (median of 1 s) |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${DETAILS[@]}"
if [ "${#NOTES[@]}" -gt 0 ]; then
	echo
	printf -- '- %s\n' "${NOTES[@]}"
fi
