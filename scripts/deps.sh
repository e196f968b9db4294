#!/usr/bin/env bash
# Installs the system packages peercall needs to build and test, when they are
# missing, on Debian, Ubuntu and Raspberry Pi OS (apt; sudo when not root).
# Elsewhere it says what to install and carries on.
#
#   scripts/deps.sh            the build and test packages below
#   scripts/deps.sh PKG...     these packages instead (the packaging scripts' tools)
set -euo pipefail

# A C toolchain for linking (rustup does not bring one), the codecs the peer
# links (libjpeg-turbo, libopus) and ALSA's libasound, found through
# pkg-config, and libclang, which the v4l crate's bindings are generated with
# from the kernel's videodev2.h (linux-libc-dev) at build time.
# libssl-dev: OpenSSL's libcrypto, the cipher backend of the libsrtp2 that
# srtp-ffi/ builds from source for the call's media encryption (SRTP).
# libsdl2-dev: the call window (cargo feature `window`, on by default). The
# window tests run the peer on an X server of their own (xvfb), take
# screenshots (xwd, in x11-apps), type and click (xdotool), watch events and
# paint the root window in the harness's own tests (xev in x11-utils,
# xsetroot in x11-xserver-utils).
pkgs=(gcc libc6-dev linux-libc-dev pkg-config libturbojpeg0-dev libopus-dev libasound2-dev libclang1 libssl-dev libsdl2-dev
  xvfb xdotool x11-apps x11-utils x11-xserver-utils)
# tcpdump: a test captures a whole call on loopback and checks that neither
# the call port's signalling nor the media shows anything in clear.
pkgs+=(tcpdump)
[ $# -eq 0 ] || pkgs=("$@")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: please install the equivalents of: ${missing[*]} (no apt-get on this system)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "deps: need root to install ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A mirror caught mid-sync fails one index but leaves the rest usable: go on,
# and let the install say if what it needs is missing.
$sudo apt-get update -qq || echo "deps: apt-get update reported errors (above); trying the install anyway" >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
