#!/usr/bin/python3
"""Feed JPEG frames into a v4l2loopback node so its capture side acts as an MJPEG camera.

Run inside the hardware-test VM (hw-tests/vm/run.sh), typically in the background
before the code under test opens the camera:

    /usr/bin/python3 hw-tests/vm/feed_mjpeg.py --device /dev/video1 --seconds 10 &

It sets MJPG WxH on the loopback's OUTPUT side, then write()s one whole JPEG per
frame at --fps. Without JPEG files on the command line it draws its own frames:
colour bars plus a 16-bit binary frame counter (white = 1, LSB left) in the bottom
8-pixel row, so every frame differs. Only the standard library is used, so the
host's /usr/bin/python3 runs it unchanged in the guest.

Readers of the capture side should trim each buffer at the JPEG EOI (FF D9): the
first buffers may report bytesused = sizeimage, i.e. the JPEG plus zero padding.
"""

import argparse
import fcntl
import functools
import os
import signal
import struct
import sys
import time

# ioctl numbers for x86-64 / arm64 (struct sizes: v4l2_format 208, v4l2_streamparm 204).
VIDIOC_G_FMT = 0xC0D05604
VIDIOC_S_FMT = 0xC0D05605
VIDIOC_S_PARM = 0xC0CC5616
V4L2_BUF_TYPE_VIDEO_OUTPUT = 2
V4L2_FIELD_NONE = 1
V4L2_COLORSPACE_JPEG = 7
V4L2_PIX_FMT_MJPEG = int.from_bytes(b"MJPG", "little")

# 4:2:2 like real webcams: one MCU is 16x8 pixels (two Y blocks, one Cb, one Cr).
MCU_W, MCU_H = 16, 8

BARS = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0),
        (192, 0, 192), (192, 0, 0), (0, 0, 192), (16, 16, 16)]

# Standard DC luminance table (JPEG Annex K.3), used for all components.
DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]
DC_VALS = list(range(12))
# Every block is flat, so all AC coefficients are zero: the only AC symbol needed is
# EOB (0x00). A single 2-bit code avoids the all-ones code that decoders reject.
AC_BITS = [0, 1] + [0] * 14
AC_VALS = [0x00]


def huff_codes(bits, vals):
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


DC_CODES = huff_codes(DC_BITS, DC_VALS)
EOB = huff_codes(AC_BITS, AC_VALS)[0]


class BitWriter:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        self.acc = (self.acc << length) | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            byte = (self.acc >> self.n) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0x00)  # byte stuffing
        self.acc &= (1 << self.n) - 1

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)  # pad with 1 bits
        return bytes(self.out)


def segment(marker, payload):
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


@functools.lru_cache(maxsize=256)
def encode_row(colours):
    """Entropy-coded data of one MCU row (flat colours), byte-aligned and with fresh
    DC predictors: rows are separated by restart markers, so they can be cached."""
    bw = BitWriter()
    pred = [0, 0, 0]

    def block(comp, value):
        diff = value - pred[comp]
        pred[comp] = value
        size = abs(diff).bit_length()
        code, length = DC_CODES[size]
        bw.put(code, length)
        if size:
            bw.put(diff if diff > 0 else diff + (1 << size) - 1, size)
        bw.put(*EOB)

    for r, g, b in colours:
        y = round(0.299 * r + 0.587 * g + 0.114 * b) - 128
        cb = round(-0.168736 * r - 0.331264 * g + 0.5 * b)
        cr = round(0.5 * r - 0.418688 * g - 0.081312 * b)
        block(0, y)
        block(0, y)
        block(1, cb)
        block(2, cr)
    return bw.flush()


def encode_flat_mcus(width, height, colour_at):
    """Baseline JPEG where each 16x8 MCU is one flat colour: colour_at(mx, my) -> RGB."""
    cols, rows = width // MCU_W, height // MCU_H
    out = bytearray(b"\xFF\xD8")
    out += segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    # With every quantizer at 8, a flat block's DC coefficient is just (value - 128).
    out += segment(0xDB, b"\x00" + bytes([8] * 64))
    out += segment(0xC0, struct.pack(">BHHB", 8, height, width, 3)
                   + bytes([1, 0x21, 0, 2, 0x11, 0, 3, 0x11, 0]))
    out += segment(0xC4, b"\x00" + bytes(DC_BITS) + bytes(DC_VALS))
    out += segment(0xC4, b"\x10" + bytes(AC_BITS) + bytes(AC_VALS))
    out += segment(0xDD, struct.pack(">H", cols))  # restart interval: one MCU row
    out += segment(0xDA, bytes([3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]))
    for my in range(rows):
        if my:
            out += bytes([0xFF, 0xD0 + (my - 1) % 8])
        out += encode_row(tuple(colour_at(mx, my) for mx in range(cols)))
    out += b"\xFF\xD9"
    return bytes(out)


def test_frame(width, height, n):
    cols, rows = width // MCU_W, height // MCU_H

    def colour_at(mx, my):
        if my == rows - 1 and mx < 16:
            return (255, 255, 255) if (n >> mx) & 1 else (0, 0, 0)
        return BARS[mx * len(BARS) // cols]

    return encode_flat_mcus(width, height, colour_at)


def set_format(fd, width, height, fps):
    pix = struct.pack("=12I", width, height, V4L2_PIX_FMT_MJPEG, V4L2_FIELD_NONE,
                      0, width * height * 4, V4L2_COLORSPACE_JPEG, 0, 0, 0, 0, 0)
    fmt = bytearray(struct.pack("=I4x", V4L2_BUF_TYPE_VIDEO_OUTPUT) + pix)
    fmt += bytes(208 - len(fmt))
    try:
        fcntl.ioctl(fd, VIDIOC_S_FMT, fmt)
    except OSError:
        # v4l2loopback refuses S_FMT once a format has been set by an earlier
        # writer; that format stays, so go on if it is the one we want.
        fmt = bytearray(struct.pack("=I4x", V4L2_BUF_TYPE_VIDEO_OUTPUT)) + bytes(200)
        fcntl.ioctl(fd, VIDIOC_G_FMT, fmt)
    got_w, got_h, got_fourcc = struct.unpack_from("=3I", fmt, 8)
    if (got_w, got_h, got_fourcc) != (width, height, V4L2_PIX_FMT_MJPEG):
        sys.exit(f"feed_mjpeg: driver set {got_w}x{got_h} {got_fourcc:#x}, not {width}x{height} MJPG")
    parm = bytearray(struct.pack("=IIIII", V4L2_BUF_TYPE_VIDEO_OUTPUT, 0, 0, 1, fps))
    parm += bytes(204 - len(parm))
    try:
        fcntl.ioctl(fd, VIDIOC_S_PARM, parm)
    except OSError as e:  # the frame rate is cosmetic; frames still flow
        print(f"feed_mjpeg: VIDIOC_S_PARM failed: {e}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="/dev/video1")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: until killed)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many frames (0: no limit)")
    ap.add_argument("--write-frame", metavar="FILE", help="write one generated frame to FILE and exit")
    ap.add_argument("jpegs", nargs="*", help="JPEG files to send in a loop instead of generated frames")
    args = ap.parse_args()
    if args.width % MCU_W or args.height % MCU_H:
        sys.exit(f"feed_mjpeg: size must be a multiple of {MCU_W}x{MCU_H}")
    if args.write_frame:
        with open(args.write_frame, "wb") as f:
            f.write(test_frame(args.width, args.height, 0))
        return
    files = [open(p, "rb").read() for p in args.jpegs]

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    fd = os.open(args.device, os.O_RDWR)
    set_format(fd, args.width, args.height, args.fps)
    period = 1.0 / args.fps
    start = time.monotonic()
    n = 0
    while True:
        frame = files[n % len(files)] if files else test_frame(args.width, args.height, n)
        os.write(fd, frame)
        n += 1
        if n == 1:
            # Readers wait for this: the capture side is a camera from now on.
            print("feeding", flush=True)
        if args.count and n >= args.count:
            break
        if args.seconds and time.monotonic() - start >= args.seconds:
            break
        time.sleep(max(0.0, start + n * period - time.monotonic()))
    os.close(fd)


if __name__ == "__main__":
    main()
