"""Starts a real `redis-server` on a free loopback port for the Redis output tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["REDIS_SERVER", "free_port", "redis_server", "redis_command"]

REDIS_SERVER = shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_command(port: int, *args: str, password: str | None = None) -> object:
    """One command over a fresh connection; the decoded reply (bytes, int, str, list or Exception)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, sock.makefile("rb") as stream:
        if password:
            sock.sendall(_encode("AUTH", password))
            _read_reply(stream)
        sock.sendall(_encode(*args))
        return _read_reply(stream)


def _encode(*args: str) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def _read_reply(stream: BinaryIO) -> object:
    line = stream.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return Exception(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else stream.read(n + 2)[:-2]
    if kind == b"*":
        return [_read_reply(stream) for _ in range(int(rest))]
    raise ValueError(f"unexpected reply {line!r}")


@contextmanager
def redis_server(tmp_path: Path, *extra: str) -> Iterator[int]:
    """Yields the port of a fresh redis-server (no persistence) that is stopped afterwards."""
    assert REDIS_SERVER, "redis-server is not installed"
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
