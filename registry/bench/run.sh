#!/usr/bin/env bash
# Registry benchmark (docs/benchmarks.md, "Registry"; `make bench-registry`).
#
# Measures what a user of the registry feels: lookups per second and their
# latency at 1, 50 and 1000 connections, next to Redis GET measured by
# redis-benchmark in the same run on the same machine, and the registry's
# resident memory with 10,000 live registrations. Everything runs on
# 127.0.0.1; every process started here is stopped on exit.
#
# Tunables (environment): REQUESTS per measurement (default 200000), ROUNDS
# per connection count (default 3; the table shows the median of each figure),
# HOLD registrations for the memory figure (default 10000).
set -euo pipefail

REQUESTS=${REQUESTS:-200000}
ROUNDS=${ROUNDS:-3}
HOLD=${HOLD:-10000}
CONNECTIONS=(1 50 1000)
# No single measurement may hang the script; the loadgen gives up on a silent
# registry by itself, this also covers redis-benchmark.
STEP_TIMEOUT=180

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BIN=${CARGO_TARGET_DIR:-target}/release

say() { echo "$*" >&2; }
die() {
	say "bench: $*"
	exit 1
}

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

say "building release binaries"
cargo build --release --quiet -p peercall-registry --bins

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null ||
	! command -v redis-cli >/dev/null; then
	say "installing redis-server and redis-tools"
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
	$SUDO apt-get update -qq || echo "bench: apt-get update reported errors (above); trying the install anyway" >&2
	$SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi

# Every connection is a file descriptor on each side; both servers and both
# clients inherit this limit.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then hard=1048576; fi
ulimit -n "$hard" 2>/dev/null || true
need=$((HOLD + 64))
if [ "$(ulimit -n)" -lt "$need" ]; then
	die "the open-file limit is $(ulimit -n) (hard $(ulimit -Hn)); $need are needed for HOLD=$HOLD"
fi

# Starts the registry on a free loopback port; sets REG_PID and REG_ADDR.
start_registry() {
	local out=$WORK/registry.$1.out
	# Every loadgen connection comes from 127.0.0.1: lift the per-address
	# limit (MAX_CONNECTIONS_PER_SOURCE) so HOLD of them fit.
	"$BIN/peercall-registry" --listen 127.0.0.1:0 --max-connections-per-ip "$((HOLD + 1000))" --state-dir "$WORK/state.$1" \
		>"$out" 2>"$WORK/registry.$1.err" &
	REG_PID=$!
	PIDS+=("$REG_PID")
	local line= i
	for i in $(seq 100); do
		line=$(head -n 1 "$out")
		[ -n "$line" ] && break
		kill -0 "$REG_PID" 2>/dev/null || die "registry failed: $(cat "$WORK/registry.$1.err")"
		sleep 0.05
	done
	case $line in
	"listening on "*) REG_ADDR=${line#listening on } ;;
	*) die "registry did not say where it listens (got '$line')" ;;
	esac
}

# Stops a process started here and forgets it, so cleanup never signals a
# process id the system has since handed to someone else.
stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	local keep=() pid
	for pid in "${PIDS[@]}"; do
		if [ "$pid" != "$1" ]; then keep+=("$pid"); fi
	done
	PIDS=("${keep[@]}")
}

# Starts redis-server on a free loopback port, with no persistence; sets
# REDIS_PID and REDIS_PORT. A port someone else holds makes it exit, and the
# next candidate is tried; the process id it reports tells ours from another
# Redis that may answer on the same port.
start_redis() {
	local try port i info
	for try in $(seq 20); do
		port=$((20000 + RANDOM % 20000))
		redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
			--daemonize no --protected-mode yes >"$WORK/redis.log" 2>&1 &
		REDIS_PID=$!
		PIDS+=("$REDIS_PID")
		for i in $(seq 100); do
			if ! kill -0 "$REDIS_PID" 2>/dev/null; then break; fi
			info=$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null || true)
			if [[ $info == *$'\n'"process_id:$REDIS_PID"$'\r'* ]]; then
				REDIS_PORT=$port
				return
			fi
			sleep 0.05
		done
		stop "$REDIS_PID"
	done
	die "could not start redis-server on a free port: $(tail -n 3 "$WORK/redis.log")"
}

# The value of column $3 in a CSV data line $2 whose header line is $1
# (quotes removed: redis-benchmark quotes every field).
csv_field() {
	awk -F, -v want="$3" -v data="$2" '{
		gsub(/"/, ""); n = split($0, head, ",")
		gsub(/"/, "", data); split(data, val, ",")
		for (i = 1; i <= n; i++) if (head[i] == want) { print val[i]; exit }
		exit 1
	}' <<<"$1" || die "no column '$3' in: $1"
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

start_registry bench
start_redis
# redis-benchmark -t get asks for the literal key "key:__rand_int__" (no -r).
# Store it so that every GET hits, as every lookup does, with a value as long
# as a FOUND payload (29 bytes) so both replies are about the same size.
redis-cli -h 127.0.0.1 -p "$REDIS_PORT" set key:__rand_int__ 12345678901234567890123456789 >/dev/null

say "registry on $REG_ADDR, redis on 127.0.0.1:$REDIS_PORT; $ROUNDS rounds of $REQUESTS requests"

# CPU time (user + system) of a running process, in clock ticks.
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
CLK_TCK=$(getconf CLK_TCK)
# Microseconds of CPU per request, from ticks or from seconds.
us_per_req_ticks() { awk -v t="$1" -v hz="$CLK_TCK" -v n="$REQUESTS" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }'; }
us_per_req_secs() { awk -v s="$1" -v n="$REQUESTS" 'BEGIN { printf "%.2f", s / n * 1e6 }'; }

# Runs a client, its output in $WORK/client.out, and sets CLIENT_CPU to the
# CPU seconds it used and SERVER_TICKS to those the server $1 used meanwhile.
# Both matter because at 50 connections on two cores a client can be what
# limits the rate it reports.
measure() {
	local server=$1 before after
	shift
	before=$(ticks "$server")
	local TIMEFORMAT='%U %S'
	{ time timeout "$STEP_TIMEOUT" "$@" >"$WORK/client.out" 2>"$WORK/client.err"; } 2>"$WORK/client.time" ||
		die "$1 failed: $(cat "$WORK/client.err")"
	after=$(ticks "$server")
	SERVER_TICKS=$((after - before))
	CLIENT_CPU=$(awk '{ print $1 + $2 }' "$WORK/client.time")
}

declare -A R_RPS R_P50 R_P99 S_RPS S_P50 S_P99 R_SCPU R_CCPU S_SCPU S_CCPU
for n in "${CONNECTIONS[@]}"; do
	r_rps=() r_p50=() r_p99=() r_scpu=() r_ccpu=()
	s_rps=() s_p50=() s_p99=() s_scpu=() s_ccpu=()
	for round in $(seq "$ROUNDS"); do
		measure "$REG_PID" "$BIN/registry-loadgen" --registry "$REG_ADDR" \
			--connections "$n" --requests "$REQUESTS" --csv
		head=$(sed -n 1p "$WORK/client.out") data=$(sed -n 2p "$WORK/client.out")
		r_rps+=("$(csv_field "$head" "$data" lookups_per_s)")
		r_p50+=("$(csv_field "$head" "$data" p50_ms)")
		r_p99+=("$(csv_field "$head" "$data" p99_ms)")
		r_scpu+=("$(us_per_req_ticks "$SERVER_TICKS")")
		r_ccpu+=("$(us_per_req_secs "$CLIENT_CPU")")

		measure "$REDIS_PID" redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" \
			-t get -c "$n" -P 1 -n "$REQUESTS" --csv
		head=$(grep '"test"' "$WORK/client.out") data=$(grep '^"GET"' "$WORK/client.out") ||
			die "redis-benchmark printed no GET line: $(cat "$WORK/client.out")"
		s_rps+=("$(csv_field "$head" "$data" rps)")
		s_p50+=("$(csv_field "$head" "$data" p50_latency_ms)")
		s_p99+=("$(csv_field "$head" "$data" p99_latency_ms)")
		s_scpu+=("$(us_per_req_ticks "$SERVER_TICKS")")
		s_ccpu+=("$(us_per_req_secs "$CLIENT_CPU")")
		say "  N=$n round $round: registry ${r_rps[-1]}/s p50 ${r_p50[-1]} p99 ${r_p99[-1]} ms" \
			"cpu ${r_scpu[-1]}+${r_ccpu[-1]} us;" \
			"redis ${s_rps[-1]}/s p50 ${s_p50[-1]} p99 ${s_p99[-1]} ms cpu ${s_scpu[-1]}+${s_ccpu[-1]} us"
	done
	R_RPS[$n]=$(median "${r_rps[@]}") R_P50[$n]=$(median "${r_p50[@]}") R_P99[$n]=$(median "${r_p99[@]}")
	S_RPS[$n]=$(median "${s_rps[@]}") S_P50[$n]=$(median "${s_p50[@]}") S_P99[$n]=$(median "${s_p99[@]}")
	R_SCPU[$n]=$(median "${r_scpu[@]}") R_CCPU[$n]=$(median "${r_ccpu[@]}")
	S_SCPU[$n]=$(median "${s_scpu[@]}") S_CCPU[$n]=$(median "${s_ccpu[@]}")
done
stop "$REG_PID"
stop "$REDIS_PID"

say "memory: a fresh registry, then $HOLD registrations held by registry-loadgen --hold"
start_registry hold
sleep 0.2
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
rss_empty=$(rss_kib "$REG_PID")
# The loadgen holds its registrations until its stdin closes: stdin is a FIFO
# whose only writer is this script (fd 3), so the loadgen also ends if the
# script dies. The loadgen itself must not inherit fd 3.
mkfifo "$WORK/hold.stdin"
exec 3<>"$WORK/hold.stdin"
"$BIN/registry-loadgen" --registry "$REG_ADDR" --hold "$HOLD" \
	<"$WORK/hold.stdin" >"$WORK/hold.out" 2>"$WORK/hold.err" 3>&- &
HOLD_PID=$!
PIDS+=("$HOLD_PID")
for i in $(seq 1200); do
	grep -q '^holding ' "$WORK/hold.out" && break
	kill -0 "$HOLD_PID" 2>/dev/null || die "registry-loadgen --hold failed: $(cat "$WORK/hold.err")"
	sleep 0.05
done
grep -q '^holding ' "$WORK/hold.out" || die "registry-loadgen --hold did not register $HOLD names in time"
# Let the registry finish printing its (throttled) table before reading.
sleep 1
rss_held=$(rss_kib "$REG_PID")
exec 3>&-
wait "$HOLD_PID" || die "registry-loadgen --hold failed: $(cat "$WORK/hold.err")"
stop "$HOLD_PID"
stop "$REG_PID"

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "Lookups, $REQUESTS requests per measurement, median of $ROUNDS rounds; latencies in ms"
echo
echo "| N | registry lookups/s | p50 | p99 | Redis GET/s | p50 | p99 | registry/Redis |"
echo "|--:|--:|--:|--:|--:|--:|--:|--:|"
for n in "${CONNECTIONS[@]}"; do
	printf '| %s | %.0f | %s | %s | %.0f | %s | %s | %s |\n' "$n" \
		"${R_RPS[$n]}" "${R_P50[$n]}" "${R_P99[$n]}" \
		"${S_RPS[$n]}" "${S_P50[$n]}" "${S_P99[$n]}" "$(ratio "${R_RPS[$n]}" "${S_RPS[$n]}")"
done
echo
echo "CPU time per request in microseconds (user + system), same runs, medians"
echo
echo "| N | registry server | registry-loadgen | redis-server | redis-benchmark |"
echo "|--:|--:|--:|--:|--:|"
for n in "${CONNECTIONS[@]}"; do
	echo "| $n | ${R_SCPU[$n]} | ${R_CCPU[$n]} | ${S_SCPU[$n]} | ${S_CCPU[$n]} |"
done
echo
echo "Registry resident memory (VmRSS): $(mib "$rss_empty") MiB with 0 registrations, $(mib "$rss_held") MiB with $HOLD"
echo

verdict() { if [ "$1" = 1 ]; then echo met; else echo "NOT met"; fi; }
echo "Targets:"
echo "- lookups/s at N=50 >= Redis GET/s at N=50: $(verdict "$(awk -v a="${R_RPS[50]}" -v b="${S_RPS[50]}" 'BEGIN { print (a >= b) }')")"
echo "- p99 at N=50 < 1 ms: $(verdict "$(awk -v a="${R_P99[50]}" 'BEGIN { print (a < 1) }')")"
echo "- RSS with $HOLD registrations < 16 MiB: $(verdict "$(awk -v k="$rss_held" 'BEGIN { print (k < 16 * 1024) }')")"
