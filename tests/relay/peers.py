"""The two ends of the test connections, run inside the namespaces: `python3 peers.py server ADDRESS` and
`python3 peers.py client ADDRESS SCENARIO...`. The client prints one JSON line per scenario with the
local port it used, so the test can find each connection's flow.

Server ports: 5000 answers a request and closes after the client (SF), 5001 sends BULK_BYTES and closes,
5002 reads a request then aborts with a RST (RSTR), 5003 answers and waits for the client's RST (RSTO).
The client's `rej` scenario connects to the closed port 5999, `s0` to port 9, which the relay blackholes.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading

BULK_BYTES = 400_000
_LINGER_ABORT = struct.pack("ii", 1, 0)  # close() then sends a RST


def _serve(address: str, port: int, handle: object) -> None:
    listener = socket.create_server((address, port), backlog=16)

    def loop() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()  # type: ignore[arg-type]

    threading.Thread(target=loop, daemon=True).start()


def _answer_then_close(conn: socket.socket) -> None:
    with conn:
        request = conn.recv(1000)
        conn.sendall(b"answer to " + request)
        while conn.recv(1000):
            pass


def _bulk(conn: socket.socket) -> None:
    with conn:
        conn.sendall(bytes(range(256)) * (BULK_BYTES // 256) + bytes(BULK_BYTES % 256))
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(1000):
            pass


def _abort_after_request(conn: socket.socket) -> None:
    conn.recv(1000)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
    conn.close()


def _answer_then_wait(conn: socket.socket) -> None:
    with conn:
        conn.recv(1000)
        conn.sendall(b"ok")
        with contextlib.suppress(ConnectionResetError):
            while conn.recv(1000):
                pass


def server(address: str) -> None:
    for port, handle in ((5000, _answer_then_close), (5001, _bulk), (5002, _abort_after_request),
                         (5003, _answer_then_wait)):
        _serve(address, port, handle)
    print("listening", flush=True)
    sys.stdin.read()  # until the test closes our standard input


def _connect(address: str, port: int, timeout: float = 5.0) -> socket.socket:
    return socket.create_connection((address, port), timeout=timeout)


def client(address: str, scenario: str) -> dict[str, object]:
    if scenario == "sf":
        with _connect(address, 5000) as sock:
            sock.sendall(b"hello")
            answer = sock.recv(1000)
            sock.shutdown(socket.SHUT_WR)
            sock.recv(1000)
            return {"port": sock.getsockname()[1], "answer": answer.decode()}
    if scenario == "bulk":
        with _connect(address, 5001, timeout=60) as sock:
            got = 0
            while chunk := sock.recv(65536):
                got += len(chunk)
            return {"port": sock.getsockname()[1], "received": got}
    if scenario == "rstr":
        with _connect(address, 5002) as sock:
            sock.sendall(b"please reset")
            with contextlib.suppress(ConnectionResetError):
                sock.recv(1000)
            return {"port": sock.getsockname()[1]}
    if scenario == "rsto":
        sock = _connect(address, 5003)
        sock.sendall(b"hello")
        sock.recv(1000)
        port = sock.getsockname()[1]
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ABORT)
        sock.close()
        return {"port": port}
    if scenario in ("rej", "s0"):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("0.0.0.0", 0))
        port = sock.getsockname()[1]
        sock.settimeout(1.5)
        try:
            sock.connect((address, 5999 if scenario == "rej" else 9))
            outcome = "connected"
        except ConnectionRefusedError:
            outcome = "refused"
        except TimeoutError:
            outcome = "timeout"
        sock.close()
        return {"port": port, "outcome": outcome}
    raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2])
    else:
        for name in sys.argv[3:]:
            print(json.dumps({"scenario": name, **client(sys.argv[2], name)}), flush=True)
