#!/usr/bin/env bash
# Regenerates the JPEG fixtures used by src/media/jpeg/tests.rs. They are
# committed, so neither tests nor CI need these tools; this script records how
# they were made (ffmpeg 5.1.9 and libjpeg-turbo 2.1.5 from Debian bookworm:
# `apt-get install ffmpeg libjpeg-turbo-progs`).
#
# ffmpeg-*        ffmpeg's mjpeg encoder with the standard Huffman tables
#                 (`-huffman default`; ffmpeg's default is `optimal`). It writes
#                 one quantization table shared by all three components.
# ffmpeg-*-2x2    what ffmpeg makes of yuvj422p: Y 2x2, Cb/Cr 1x2. That is 4:2:2
#                 but not RFC 2435 type 0 (Y 2x1, Cb/Cr 1x1), so it is refused.
# cjpeg-*         libjpeg-turbo, as a webcam or libjpeg-based capture would make
#                 them: two quantization tables (quality 75), standard Huffman
#                 tables, Y 2x1 (4:2:2) or 2x2 (4:2:0).
# *-optimized     libjpeg-turbo with optimized (non-standard) Huffman tables,
#                 which RFC 2435 cannot carry.
# *-restart       libjpeg-turbo with a DRI segment and a restart marker after
#                 every MCU row (`-restart 1`), as many USB webcams write their
#                 MJPEG frames: restart interval 4 (64x48 4:2:2, RFC 2435 type
#                 64) and 20 (320x240 4:2:0, type 65). The 320x240 one decodes
#                 to the same pixels as cjpeg-320x240-420-q75.jpg.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ff() { ffmpeg -hide_banner -loglevel error -y "$@"; }

ff -f lavfi -i testsrc=size=64x48 -frames:v 1 -pix_fmt yuvj420p -huffman default ffmpeg-64x48-420.jpg
ff -f lavfi -i testsrc=size=64x48 -frames:v 1 -pix_fmt yuvj422p -huffman default ffmpeg-64x48-422-2x2.jpg
ff -f lavfi -i testsrc=size=320x240 -frames:v 1 -pix_fmt yuvj420p -huffman default ffmpeg-320x240-420.jpg

ff -f lavfi -i testsrc=size=64x48 -frames:v 1 "$tmp/64x48.ppm"
ff -f lavfi -i testsrc=size=320x240 -frames:v 1 "$tmp/320x240.ppm"
ff -f lavfi -i testsrc=size=640x480 -frames:v 1 "$tmp/640x480.ppm"
cjpeg -quality 75 -sample 2x1 "$tmp/64x48.ppm" > cjpeg-64x48-422.jpg
cjpeg -quality 75 -sample 2x2 "$tmp/320x240.ppm" > cjpeg-320x240-420-q75.jpg
cjpeg -quality 75 -sample 2x2 -optimize "$tmp/64x48.ppm" > cjpeg-64x48-420-optimized.jpg
cjpeg -quality 75 -sample 2x1 -restart 1 "$tmp/64x48.ppm" > cjpeg-64x48-422-restart.jpg
cjpeg -quality 75 -sample 2x2 -restart 1 "$tmp/320x240.ppm" > cjpeg-320x240-420-restart.jpg
# The hardware tests' MJPEG camera with restart markers (hw-tests/tests/camera.rs).
cjpeg -quality 75 -sample 2x2 -restart 1 "$tmp/640x480.ppm" > cjpeg-640x480-420-restart.jpg
# The loss-repair tests' full-size picture (src/media/session/tests/repair.rs):
# 640x480 at quality 75 with a little noise, about 29 KB, 21 RTP packets, the
# size of the test pattern's frames on the wire.
python3 - "$tmp/noisy.ppm" <<'PY'
import math, random, sys
random.seed(7)
w, h = 640, 480
out = bytearray(b"P6\n640 480\n255\n")
for y in range(h):
    for x in range(w):
        r = int(128 + 100 * math.sin(x / 23.0) * math.cos(y / 17.0))
        g = int(128 + 100 * math.sin((x + y) / 31.0))
        b = int((x * 255) // w)
        n = random.randint(-4, 4)
        out += bytes(max(0, min(255, c + n)) for c in (r, g, b))
open(sys.argv[1], "wb").write(out)
PY
cjpeg -quality 75 -sample 2x2 "$tmp/noisy.ppm" > cjpeg-640x480-420-q75-noisy.jpg
