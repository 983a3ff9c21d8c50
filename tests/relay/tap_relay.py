"""A userspace link between two TAP devices that delays every frame, for tests (the kernels here have no
netem qdisc). Run as root: `python3 tap_relay.py --delay 0.05 tapA tapB`.

It creates both TAP devices (in its own network namespace; the test then moves them where it wants: the
open descriptors follow), prints `ready`, then copies each frame one device transmits into the other
after `--delay` seconds. `--blackhole-port P` drops every TCP segment to or from port P (a SYN nobody
answers); `--lossy-port P --loss F` drops the fraction F of the TCP segments with payload sent from port P
by the second device's side (seeded, so a run is repeatable). On SIGTERM it prints its counts as JSON.
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import json
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def tcp_ports_and_payload(frame: bytes) -> tuple[int, int, int] | None:
    """(source port, destination port, payload length) of an untagged IPv4 TCP frame, else None."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 0x0F) * 4
    total = frame[16] << 8 | frame[17]
    l4 = 14 + ihl
    if len(frame) < l4 + 20:
        return None
    sport, dport = struct.unpack_from("!HH", frame, l4)
    return sport, dport, total - ihl - (frame[l4 + 12] >> 4) * 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--blackhole-port", type=int, action="append", default=[])
    parser.add_argument("--lossy-port", type=int, action="append", default=[])
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    first, second = open_tap(args.first), open_tap(args.second)
    peer = {first: second, second: first}
    counts = {"relayed": 0, "blackholed": 0, "lost": 0, "write_errors": 0}

    def stop(_signum: int, _frame: object) -> None:
        print(json.dumps(counts), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    pending: list[tuple[float, int, int, bytes]] = []  # (due, serial, out fd, frame)
    serial = 0
    while True:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
        readable, _, _ = select.select([first, second], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    break  # the device went down
                tcp = tcp_ports_and_payload(frame)
                if tcp is not None:
                    sport, dport, payload = tcp
                    if sport in args.blackhole_port or dport in args.blackhole_port:
                        counts["blackholed"] += 1
                        continue
                    if fd == second and sport in args.lossy_port and payload > 0 and rng.random() < args.loss:
                        counts["lost"] += 1
                        continue
                serial += 1
                heapq.heappush(pending, (now + args.delay, serial, peer[fd], frame))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, out, frame = heapq.heappop(pending)
            try:
                os.write(out, frame)
                counts["relayed"] += 1
            except OSError:
                counts["write_errors"] += 1


if __name__ == "__main__":
    sys.exit(main())
