#!/usr/bin/env python3
"""Takes pictures of the VM's screen when the guest asks (runs on the host).

The guest cannot see its own screen as the monitor of a real machine shows
it: what reaches the display is what qemu's bochs-display scans out. qemu's
QMP `screendump` writes exactly that to a PPM file. run.sh starts this
script beside qemu; it watches DIR, the `screen/` directory of the VM's
writable share (the guest sees it as $PEERCALL_VM_SCREEN_DIR), and for each
request `NAME.want` the guest writes there it has qemu write `NAME.ppm`,
then removes the request. A failure leaves `NAME.error` with the reason
instead. Both appear whole: they are written under another name and renamed.

    screendump.py --qmp SOCKET --dir DIR --pid QEMU_PID

It exits when QEMU_PID does. Only the standard library is used.
"""

import argparse
import json
import os
import re
import socket
import sys
import time

# How often DIR is looked at: a request is served within this.
POLL_S = 0.05
# How long qemu may take to answer a command (a screendump of a small screen
# takes milliseconds; the guest's vCPUs keep qemu busy under TCG).
ANSWER_S = 30.0
# Request names the guest may use: they become file names here.
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Qmp:
    """One QMP connection: greeting, capabilities, then commands."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(ANSWER_S)
        self.sock.connect(path)
        self.buf = b""
        self.read()  # the greeting
        self.command("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("qemu closed the QMP connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            answer = self.read()
            # Events (e.g. RTC_CHANGE) may come before the answer.
            if "return" in answer:
                return answer["return"]
            if "error" in answer:
                raise OSError(answer["error"].get("desc", str(answer["error"])))

    def close(self):
        self.sock.close()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def write_whole(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def serve(qmp_path, directory, name):
    base = os.path.join(directory, name)
    try:
        qmp = Qmp(qmp_path)
        try:
            qmp.command("screendump", filename=base + ".ppm.tmp")
        finally:
            qmp.close()
        # qemu writes the file as the user it runs as: let the guest's root
        # (mapped to that user by the 9p share) read it either way.
        os.chmod(base + ".ppm.tmp", 0o644)
        os.rename(base + ".ppm.tmp", base + ".ppm")
    except (OSError, ValueError) as e:
        write_whole(base + ".error", f"screendump failed: {e}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qmp", required=True, help="qemu's QMP socket")
    ap.add_argument("--dir", required=True, help="where the guest puts requests")
    ap.add_argument("--pid", required=True, type=int, help="exit when this process does")
    args = ap.parse_args()
    while alive(args.pid):
        try:
            entries = os.listdir(args.dir)
        except FileNotFoundError:
            return 0
        for entry in sorted(entries):
            if not entry.endswith(".want"):
                continue
            name = entry[: -len(".want")]
            if NAME.match(name):
                serve(args.qmp, args.dir, name)
            else:
                write_whole(os.path.join(args.dir, "bad-request.error"),
                            f"bad request name {name!r}: use letters, digits, - and _\n")
            try:
                os.remove(os.path.join(args.dir, entry))
            except FileNotFoundError:
                pass
        time.sleep(POLL_S)
    return 0


if __name__ == "__main__":
    sys.exit(main())
