#!/usr/bin/env bash
# Makes xvfb-64x48-ff8000.xwd, the real `xwd` dump the XWD reader's unit test
# reads (testkit/src/xwd.rs): a 64x48 Xvfb screen at depth 24 whose root is
# filled with #ff8000 (three different channel values, so swapped channels
# show; -noreset: the server must not repaint the root when xsetroot
# disconnects). Needs xvfb, x11-apps (xwd) and x11-xserver-utils (xsetroot).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
exec 3< <(Xvfb -displayfd 1 -screen 0 64x48x24 -nolisten tcp -noreset 2>/dev/null)
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true' EXIT
read -r -t 10 -u 3 n
xsetroot -display ":$n" -solid '#ff8000'
xwd -root -silent -display ":$n" >xvfb-64x48-ff8000.xwd
