#!/usr/bin/env bash
# Runs inside the packaging VM (packaging/vm/run.sh), as root, under systemd
# as PID 1, in the repository's directory. A board's life with the packages:
#
#  - apt-get install ./target/debian/{peercall-registry,peercall}_*_amd64.deb
#    enables and starts peercall-registry (Type=notify: the start waits for
#    READY=1) as a dynamic user with no capabilities;
#  - the watchdog: pings keep it alive; a frozen registry is killed and
#    restarted by systemd;
#  - a port below 1024 in registry.conf: after daemon-reload, the generator's
#    drop-in gives exactly CAP_NET_BIND_SERVICE, and it listens;
#  - an intercom peercall@door with the VM's camera (vivid) and sound card
#    (snd-aloop) through the unit's sandbox, answering a call by itself;
#  - apt-get purge stops everything.
#
# Ends with "N passed, N failed" and writes the exit code to /mnt/out/rc.
set -uo pipefail

passed=0
failed=0
pass() {
	echo "  ok: $*"
	passed=$((passed + 1))
}
fail() {
	echo "  FAIL: $*"
	failed=$((failed + 1))
}
section() { echo "== $*"; }
finish() {
	echo
	echo "$passed passed, $failed failed"
	rc=0
	[ "$failed" -eq 0 ] || rc=1
	echo "$rc" >/mnt/out/rc.tmp && mv /mnt/out/rc.tmp /mnt/out/rc
	sync
	exit "$rc"
}
check() { # DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
prop() { systemctl show -P "$2" "$1"; }
status_field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
wait_until() { # SECONDS COMMAND...
	local n=$(($1 * 10))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}
journal() { journalctl -q -o cat --no-pager -u "$1"; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
echo "guest: $(uname -r), $(systemctl --version | head -n1), PID 1 is $(cat /proc/1/comm)"
ip -brief addr show lo 2>/dev/null | sed 's/^/guest: /'

section "apt-get install ./peercall-registry_${version}-1_amd64.deb ./peercall_${version}-1_amd64.deb"
# The VM has no network: every dependency must already be installed (it is
# the host's root), which apt checks.
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	"$PWD/target/debian/peercall-registry_${version}-1_amd64.deb" "$PWD/target/debian/peercall_${version}-1_amd64.deb" >/tmp/apt.log 2>&1; then
	pass "installed"
else
	fail "apt-get install:"
	sed 's/^/    /' /tmp/apt.log
	finish
fi
check "peercall-registry.service enabled" [ "$(systemctl is-enabled peercall-registry.service)" = enabled ]
check "peercall-registry.service started by the package" wait_until 10 systemctl is-active --quiet peercall-registry.service
echo "  status: $(prop peercall-registry StatusText)"
check "StatusText says where it listens (READY=1 came)" [ "$(prop peercall-registry StatusText)" = "listening on 0.0.0.0:4700" ]
check "the unit's watchdog is on (WatchdogUSec=30s)" [ "$(prop peercall-registry WatchdogUSec)" = 30s ]
pid=$(prop peercall-registry MainPID)
echo "  process $pid: Uid $(status_field "$pid" Uid | cut -f1), CapEff $(status_field "$pid" CapEff), CapBnd $(status_field "$pid" CapBnd), NoNewPrivs $(status_field "$pid" NoNewPrivs), Seccomp $(status_field "$pid" Seccomp)"
check "runs as a dynamic user, not root" [ "$(status_field "$pid" Uid | cut -f1)" -ne 0 ]
check "no capabilities (effective)" [ "$(status_field "$pid" CapEff)" = 0000000000000000 ]
check "no capabilities (bounding set)" [ "$(status_field "$pid" CapBnd)" = 0000000000000000 ]
check "NoNewPrivs" [ "$(status_field "$pid" NoNewPrivs)" = 1 ]
check "seccomp filter on" [ "$(status_field "$pid" Seccomp)" = 2 ]
if out=$(peercall list --registry 127.0.0.1:4700 2>&1) && [ -z "$out" ]; then
	pass "peercall list --registry 127.0.0.1:4700: nobody yet (exit 0)"
else
	fail "peercall list --registry 127.0.0.1:4700: $out"
fi
journal peercall-registry | grep -q '^listening on 0.0.0.0:4700$' && pass "journal: listening on 0.0.0.0:4700" || fail "journal has no listening line"

section "watchdog"
mkdir -p /run/systemd/system/peercall-registry.service.d
printf '[Service]\nWatchdogSec=2s\nRestartSec=1s\n' >/run/systemd/system/peercall-registry.service.d/90-vm-watchdog.conf
systemctl daemon-reload
systemctl restart peercall-registry.service
check "restarted with WatchdogSec=2s" [ "$(prop peercall-registry WatchdogUSec)" = 2s ]
sleep 5
pid=$(prop peercall-registry MainPID)
check "still running after 5 s of 1 s pings (NRestarts=$(prop peercall-registry NRestarts))" \
	bash -c '[ "$(systemctl show -P NRestarts peercall-registry)" = 0 ] && systemctl is-active --quiet peercall-registry'
# A loop that stops turning stops pinging: systemd must kill and restart it.
kill -STOP "$pid"
check "a frozen registry is restarted by the watchdog" wait_until 15 bash -c '[ "$(systemctl show -P NRestarts peercall-registry)" -ge 1 ]'
check "and runs again (new process)" wait_until 10 systemctl is-active --quiet peercall-registry
[ "$(prop peercall-registry MainPID)" != "$pid" ] && pass "new MainPID" || fail "same MainPID"
journal peercall-registry | grep -i 'watchdog' | tail -n 2 | sed 's/^/    journal: /'
journalctl -q -o cat --no-pager _PID=1 | grep -i 'peercall-registry.*watchdog' | tail -n 1 | sed 's/^/    systemd: /'
rm -r /run/systemd/system/peercall-registry.service.d
systemctl daemon-reload
systemctl reset-failed peercall-registry.service 2>/dev/null
systemctl restart peercall-registry.service

section "a port below 1024"
cp /etc/peercall/registry.conf /tmp/registry.conf.orig
sed -i 's/^REGISTRY_LISTEN=.*/REGISTRY_LISTEN=0.0.0.0:80/' /etc/peercall/registry.conf
systemctl daemon-reload
check "the generator wrote its drop-in" [ -f /run/systemd/generator/peercall-registry.service.d/50-low-port.conf ]
systemctl restart peercall-registry.service
check "active on port 80" wait_until 10 [ "$(prop peercall-registry StatusText)" = "listening on 0.0.0.0:80" ]
pid=$(prop peercall-registry MainPID)
echo "  process $pid: CapEff $(status_field "$pid" CapEff), CapBnd $(status_field "$pid" CapBnd)"
# CAP_NET_BIND_SERVICE is capability 10: 0x400.
check "exactly CAP_NET_BIND_SERVICE (effective)" [ "$(status_field "$pid" CapEff)" = 0000000000000400 ]
check "exactly CAP_NET_BIND_SERVICE (bounding)" [ "$(status_field "$pid" CapBnd)" = 0000000000000400 ]
if out=$(peercall list --registry 127.0.0.1:80 2>&1); then pass "peercall list --registry 127.0.0.1:80"; else fail "peercall list --registry 127.0.0.1:80: $out"; fi
cp /tmp/registry.conf.orig /etc/peercall/registry.conf
systemctl daemon-reload
check "back on 4700: the drop-in is gone" [ ! -e /run/systemd/generator/peercall-registry.service.d/50-low-port.conf ]
systemctl restart peercall-registry.service
wait_until 10 [ "$(prop peercall-registry StatusText)" = "listening on 0.0.0.0:4700" ]
pid=$(prop peercall-registry MainPID)
check "and no capabilities again" [ "$(status_field "$pid" CapEff)" = 0000000000000000 ]

section "a bad config file fails once, without a restart loop"
sed -i 's/^REGISTRY_SILENCE_TIMEOUT=.*/REGISTRY_SILENCE_TIMEOUT=soon/' /etc/peercall/registry.conf
systemctl restart peercall-registry.service 2>/dev/null
check "failed" wait_until 10 systemctl is-failed --quiet peercall-registry
sleep 3
check "not restarted (exit 64 is RestartPreventExitStatus)" [ "$(prop peercall-registry NRestarts)" = 0 ]
journal peercall-registry | grep 'peercall-registry: --silence-timeout' | tail -n 1 | sed 's/^/    journal: /'
cp /tmp/registry.conf.orig /etc/peercall/registry.conf
systemctl reset-failed peercall-registry.service
systemctl restart peercall-registry.service
check "fixed config: active again" wait_until 10 systemctl is-active --quiet peercall-registry

section "intercom peercall@door with the VM's camera and sound card"
check "user peercall in video and audio" bash -c 'id -nG peercall | tr " " "\n" | grep -qx video && id -nG peercall | tr " " "\n" | grep -qx audio'
# A board's udev gives cameras to the group video and sound cards to audio
# (mode 0660). This root (a container image) has no udev: do as its rules do.
if ! [ -x /lib/systemd/systemd-udevd ]; then
	chgrp video /dev/video* && chmod 660 /dev/video*
	chgrp -R audio /dev/snd && chmod 660 /dev/snd/*
	echo "  (no udev here: /dev/video* set to group video, /dev/snd/* to audio, mode 0660, as udev's rules do)"
fi
ls -l /dev/video0 /dev/snd/pcmC0D0p /dev/snd/pcmC0D1c 2>&1 | sed 's/^/    /'
sed -e 's|^REGISTRY=.*|REGISTRY=127.0.0.1:4700|' \
	-e 's|^AUDIO_IN=.*|AUDIO_IN=alsa:plughw:CARD=Loopback,DEV=1|' \
	-e 's|^AUDIO_OUT=.*|AUDIO_OUT=alsa:plughw:CARD=Loopback,DEV=0|' \
	/usr/share/peercall/intercom.conf >/etc/peercall/door.conf
diff /usr/share/peercall/intercom.conf /etc/peercall/door.conf | grep '^>' | sed 's/^> /  door.conf: /'
# The visitor who calls below: a key of its own (root here has no state
# directory to keep one in), which door's allow file names, as an owner
# would add a family member's key. The intercom answers only those.
visitor_key=$(peercall id --identity /var/tmp/visitor.identity 2>/dev/null)
echo "$visitor_key visitor" >>/etc/peercall/door.allow
check "the visitor's key is in door.allow" grep -q "^$visitor_key visitor" /etc/peercall/door.allow
systemctl enable --now peercall@door.service 2>&1 | sed 's/^/    /'
check "peercall@door active" wait_until 10 systemctl is-active --quiet peercall@door
check "door registered" wait_until 15 peercall lookup door --registry 127.0.0.1:4700
echo "  $(peercall lookup door --registry 127.0.0.1:4700 2>&1)"
pid=$(prop peercall@door MainPID)
[ "$pid" != 0 ] && echo "  process $pid: $(ps -o user=,group=,supgrp= -p "$pid" 2>/dev/null), CapEff $(status_field "$pid" CapEff)"
check "runs as peercall" [ "$(ps -o user= -p "$pid" 2>/dev/null)" = peercall ]
sleep 2
check "still running with stdin at its end (StandardInput=null)" systemctl is-active --quiet peercall@door
if out=$(timeout 60 peercall call door --name visitor --identity /var/tmp/visitor.identity \
	--registry 127.0.0.1:4700 --listen 127.0.0.1:0 --seconds 3 \
	--video test --audio-in tone --audio-out null 2>&1); then
	pass "a call to door was answered by itself and ran 3 s"
else
	fail "calling door:"
	echo "$out" | sed 's/^/    /'
fi
echo "$out" | grep -E '^  (video|audio):' | sed 's/^/    visitor /'
sleep 1
journal peercall@door | sed 's/^/    door | /' | tail -n 25
# What door sent came from its camera and microphone, through the sandbox.
sent_video=$(journal peercall@door | sed -n 's/.*video: sent \([0-9]*\) frames.*/\1/p' | tail -n1)
sent_audio=$(journal peercall@door | sed -n 's/.*audio: sent \([0-9]*\) frames.*/\1/p' | tail -n1)
check "door sent camera frames (vivid through DeviceAllow): ${sent_video:-none}" [ "${sent_video:-0}" -gt 0 ]
check "door sent sound (snd-aloop through DeviceAllow): ${sent_audio:-none}" [ "${sent_audio:-0}" -gt 0 ]
journal peercall@door | grep -qi 'permission denied\|operation not permitted' &&
	fail "the sandbox refused something: $(journal peercall@door | grep -i 'permission denied\|operation not permitted' | head -n 3)" ||
	pass "no permission errors in door's journal"
systemctl stop peercall@door.service
check "stopped: exit 0 (SIGTERM unregisters)" [ "$(prop peercall@door ExecMainStatus)" = 0 ]
journal peercall-registry | grep -q 'departed: door at .* (unregistered)' && pass "registry: door departed (unregistered)" || fail "registry saw no orderly departure"

section "security exposure (systemd-analyze security)"
for u in peercall-registry.service peercall@door.service; do
	echo "  $(systemd-analyze security "$u" 2>/dev/null | grep 'Overall exposure' | sed 's/^→ //')"
done

section "apt-get purge"
systemctl start peercall@door.service
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q peercall peercall-registry >/tmp/apt.log 2>&1 &&
	pass "purged" || {
	fail "apt-get purge:"
	sed 's/^/    /' /tmp/apt.log
}
check "registry stopped" bash -c '! systemctl is-active --quiet peercall-registry'
check "intercom stopped" bash -c '! systemctl is-active --quiet peercall@door'
check "no enablement links left" bash -c '! ls /etc/systemd/system/*.wants/peercall* >/dev/null 2>&1'
finish
