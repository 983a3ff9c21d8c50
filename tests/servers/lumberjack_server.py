"""A Lumberjack (Beats protocol) server for tests, written from the protocol as Logstash's beats input speaks it.

Frames: version byte `1` or `2`, type byte, big-endian body.
- `W` window size: u32. Starts a batch of that many events.
- `J` (v2) JSON event: u32 sequence, u32 length, payload (a JSON object).
- `D` (v1) data event: u32 sequence, u32 pair count, then (u32 len, key, u32 len, value) pairs.
- `C` compressed: u32 length, zlib stream holding further frames.
The server answers `A` ACK frames (`2A` + u32 sequence): the highest sequence of the batch once all its
events arrived, optionally partial ACKs before that, and ACKs of sequence 0 as keep-alives.
Anything else (unknown version or type, bad zlib, bad JSON, a JSON value that is not an object, an
event before any window, a frame over the size limit) is a protocol error: the connection is closed.

Behaviour knobs (for failure tests) are plain attributes; change them while the server runs.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import ssl
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LumberjackServer", "ReceivedEvent"]

_U32 = struct.Struct(">I")
_ACK = struct.Struct(">2sI")


class FrameError(Exception):
    pass


@dataclass
class ReceivedEvent:
    connection: int
    sequence: int
    event: dict[str, Any]
    acked: bool = False


@dataclass
class _Batch:
    size: int
    events: list[ReceivedEvent] = field(default_factory=list)
    highest: int = 0
    acked_count: int = 0


class _Reader:
    """Exact reads from a byte source (socket or inflated buffer)."""

    def __init__(self, recv: Any) -> None:
        self._recv = recv
        self._buf = bytearray()

    def read(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self._recv(max(65536, n - len(self._buf)))
            if not chunk:
                if self._buf:
                    raise FrameError("connection closed in the middle of a frame")
                raise EOFError
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


class _BufferSource:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def __call__(self, n: int) -> bytes:
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        owner = self.server.owner
        conn_id = owner._new_connection()
        sock: socket.socket = self.request
        reader = _Reader(sock.recv)
        state: dict[str, Any] = {"batch": None, "events_on_conn": 0}
        try:
            while True:
                try:
                    self._frame(reader, sock, conn_id, state, nested=False)
                except EOFError:
                    return
        except (_Closed, OSError):
            return
        except FrameError as exc:
            owner._record_error(str(exc))
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _frame(self, reader: _Reader, sock: socket.socket, conn_id: int, state: dict[str, Any],
               nested: bool) -> None:
        owner = self.server.owner
        head = reader.read(2)
        version, kind = head[0:1], head[1:2]
        if version not in (b"1", b"2"):
            raise FrameError(f"unsupported protocol version {version!r}")
        if kind == b"W":
            size = _U32.unpack(reader.read(4))[0]
            if size == 0:
                raise FrameError("window size 0")
            state["batch"] = _Batch(size)
            return
        if kind == b"C":
            if nested:
                raise FrameError("compressed frame inside a compressed frame")
            length = _U32.unpack(reader.read(4))[0]
            if length > owner.max_frame_size:
                raise FrameError(f"compressed frame of {length} bytes exceeds the limit")
            try:
                inflater = zlib.decompressobj()
                data = inflater.decompress(reader.read(length), owner.max_frame_size + 1)
            except zlib.error as exc:
                raise FrameError(f"bad zlib data: {exc}") from None
            if len(data) > owner.max_frame_size or not inflater.eof:
                raise FrameError("compressed frame is truncated or inflates beyond the limit")
            inner = _Reader(_BufferSource(data))
            while True:
                try:
                    self._frame(inner, sock, conn_id, state, nested=True)
                except EOFError:
                    return
        if kind == b"J":
            if version != b"2":
                raise FrameError("JSON frame in protocol version 1")
            seq, length = struct.unpack(">II", reader.read(8))
            if length > owner.max_frame_size:
                raise FrameError(f"JSON frame of {length} bytes exceeds the limit")
            try:
                event = json.loads(reader.read(length))
            except (UnicodeDecodeError, ValueError) as exc:
                raise FrameError(f"bad JSON payload: {exc}") from None
            if not isinstance(event, dict):
                raise FrameError("JSON payload is not an object")
            self._event(sock, conn_id, state, seq, event)
            return
        if kind == b"D":
            seq, pairs = struct.unpack(">II", reader.read(8))
            event = {}
            for _ in range(pairs):
                key = reader.read(_U32.unpack(reader.read(4))[0])
                value = reader.read(_U32.unpack(reader.read(4))[0])
                try:
                    event[key.decode()] = value.decode()
                except UnicodeDecodeError:
                    raise FrameError("data frame field is not UTF-8") from None
            self._event(sock, conn_id, state, seq, event)
            return
        raise FrameError(f"unknown frame type {kind!r}")

    def _event(self, sock: socket.socket, conn_id: int, state: dict[str, Any], seq: int,
               event: dict[str, Any]) -> None:
        owner = self.server.owner
        batch: _Batch | None = state["batch"]
        if batch is None:
            raise FrameError("event before any window frame")
        record = ReceivedEvent(conn_id, seq, event)
        owner._record_event(record)
        batch.events.append(record)
        batch.highest = max(batch.highest, seq)
        state["events_on_conn"] += 1
        if owner.close_after is not None and state["events_on_conn"] >= owner.close_after:
            owner.close_after = None if owner.close_once else owner.close_after
            raise _Closed
        done = len(batch.events)
        if done == batch.size:
            self._ack(sock, batch, done)
            state["batch"] = None
        elif owner.partial_acks > 1 and done * owner.partial_acks // batch.size > (
            (done - 1) * owner.partial_acks // batch.size
        ):
            self._ack(sock, batch, done)

    def _ack(self, sock: socket.socket, batch: _Batch, upto: int) -> None:
        owner = self.server.owner
        for _ in range(owner.keepalives_before_ack):
            sock.sendall(_ACK.pack(b"2A", 0))
        if owner.ack_delay:
            time.sleep(owner.ack_delay)
        highest = max(e.sequence for e in batch.events[:upto])
        with owner._lock:
            for record in batch.events[batch.acked_count : upto]:
                record.acked = True
        batch.acked_count = upto
        owner._acks_sent(upto < batch.size)  # before sending: a test may look as soon as the ACK lands
        sock.sendall(_ACK.pack(b"2A", highest))


class _Closed(Exception):
    pass


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LumberjackServer

    def __init__(self, address: tuple[str, int], ssl_context: ssl.SSLContext | None) -> None:
        self.ssl_context = ssl_context
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.ssl_context is not None:
            sock.settimeout(10)
            sock = self.ssl_context.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        return sock, addr


class LumberjackServer:
    """`with LumberjackServer() as srv:` listens on 127.0.0.1:`srv.port`; `srv.events` is what arrived."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, max_frame_size: int = 64 * 1024 * 1024) -> None:
        self.max_frame_size = max_frame_size
        self.partial_acks = 1  # ACKs per window; 3 means about a third of the window each
        self.keepalives_before_ack = 0
        self.ack_delay = 0.0
        self.close_after: int | None = None  # close a connection once it has delivered this many events
        self.close_once = True
        self.received: list[ReceivedEvent] = []
        self.errors: list[str] = []
        self.connections = 0
        self.partial_acks_sent = 0
        self.full_acks_sent = 0
        self._lock = threading.Lock()
        self._server = _TCPServer(("127.0.0.1", 0), ssl_context)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LumberjackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def acked_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.event for r in self.received if r.acked]

    def _new_connection(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def _record_event(self, record: ReceivedEvent) -> None:
        with self._lock:
            self.received.append(record)

    def _record_error(self, message: str) -> None:
        with self._lock:
            self.errors.append(message)

    def _acks_sent(self, partial: bool) -> None:
        with self._lock:
            if partial:
                self.partial_acks_sent += 1
            else:
                self.full_acks_sent += 1
