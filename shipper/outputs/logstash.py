"""`output.logstash`: events to Logstash's beats input over Lumberjack v2.

A batch is cut into windows (slow-start sized when `slow_start` is on, else `bulk_max_size`); up to
`pipelining` windows are in flight before their ACKs are awaited. ACKs may be partial (the server's
progress, also sent as keep-alives); everything acknowledged is final, so after a failure only the
unacknowledged tail of the batch is handed back for retry.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections import deque
from typing import Any, ClassVar

import orjson

from ..compat import Identity
from ..settings import ConfigError, Setting, Spec, at_least, boolean, duration, string, string_list
from ..version import __version__
from .base import BatchResult, Output, OutputError
from .encoded import with_metadata
from .hosts import HostFailover, split_host_port
from .lumberjack import AckParser, ProtocolError, encode_events, encode_window
from .tls import TLS_SETTINGS, client_context, tls_wanted
from .window import SlowStartWindow

__all__ = ["LogstashOutput"]

DEFAULT_PORT = 5044
BEAT_NAME = "packetshipper"
_RECV_SIZE = 65536


def _level(value: Any) -> int:
    level = at_least(0)(value)
    if level > 9:
        raise ValueError(f"must be from 0 to 9, got {value!r}")
    return int(level)


class _Connection:
    """One Lumberjack connection: write frames, read ACKs."""

    __slots__ = ("sock", "acks", "opened", "pending")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.acks = AckParser()
        self.opened = time.monotonic()
        self.pending: deque[int] = deque()

    def next_ack(self) -> int:
        while not self.pending:
            data = self.sock.recv(_RECV_SIZE)
            if not data:
                raise ConnectionError("server closed the connection")
            self.pending.extend(self.acks.feed(data))
        return self.pending.popleft()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class LogstashOutput(Output, HostFailover["_Connection"]):

    peer_name = "Logstash"
    connect_errors = (OSError, ssl.SSLError)
    name: ClassVar[str] = "logstash"
    accepts_encoded = True
    settings: ClassVar[Spec] = {
        "hosts": Setting(string_list, None, "Logstash beats inputs, `host:port` (port 5044 if left out).",
                         required=True),
        "index": Setting(string, None, "Sets @metadata.beat (default: packetshipper)."),
        "loadbalance": Setting(boolean, False, "Spread batches over all hosts; else use one and fail over."),
        "timeout": Setting(duration, 30.0, "How long to wait for the server (connect, each ACK)."),
        "ttl": Setting(duration, 0.0, "Reconnect after a connection is this old (0: never)."),
        "pipelining": Setting(at_least(0), 2, "Windows sent before waiting for their ACKs (0: one at a time)."),
        "compression_level": Setting(_level, 3, "zlib level of the compressed frame (0: send uncompressed)."),
        "slow_start": Setting(boolean, False, "Start with small windows, grow on success, halve on error."),
        "ssl": TLS_SETTINGS,
    }

    def use_identity(self, identity: Identity) -> None:
        super().use_identity(identity)
        self.metadata = {"beat": self.config.get("index") or identity.beat, "type": "_doc", "version": identity.version}

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        try:
            self.hosts = [split_host_port(h, DEFAULT_PORT) for h in config["hosts"]]
        except ValueError as exc:
            raise ConfigError("output.logstash.hosts", str(exc)) from None
        if not self.hosts:
            raise ConfigError("output.logstash.hosts", "at least one host is required")
        tls = config.get("ssl") or {}
        self.ssl_context = client_context(tls, "output.logstash.ssl") if tls_wanted(tls) else None
        self.metadata = {"beat": config.get("index") or BEAT_NAME, "type": "_doc", "version": __version__}
        self.window = SlowStartWindow(int(config.get("bulk_max_size") or 2048), config.get("slow_start", False))
        self.in_flight = max(1, config.get("pipelining", 2))
        HostFailover.__init__(self)
        self.stats = dict.fromkeys(
            ("batches", "events_acked", "events_retried", "events_dead", "windows_sent", "partial_acks",
             "keepalive_acks", "connects", "connect_errors", "write_errors", "bytes_written"), 0)
        self.stats["window_size"] = self.window.size
        self.last_error = ""

    # --- connection handling ---------------------------------------------------------------------

    def connect(self) -> None:
        self._connection()

    def _connection(self) -> _Connection:
        ttl = self.config.get("ttl") or 0.0
        if self.conn is not None and ttl > 0 and time.monotonic() - self.conn.opened >= ttl:
            self.drop()
        return self.connection()

    def _open(self, host: str, port: int) -> _Connection:
        return _Connection(self._socket(host, port))

    def _socket(self, host: str, port: int) -> socket.socket:
        timeout = self.config.get("timeout") or None
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            try:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=host)
            except (OSError, ssl.SSLError):
                sock.close()
                raise
        return sock

    def close(self) -> None:
        self.drop()

    # --- publishing --------------------------------------------------------------------------------

    def publish_batch(self, events: list[Any]) -> BatchResult:
        self.stats["batches"] += 1
        result = BatchResult()
        indexes, payloads = self._encode(events, result)
        self.rotate_for_load_balancing(bool(self.config.get("loadbalance")))
        acked = 0
        try:
            conn = self._connection()
            acked = self._send(conn, payloads)
        except (OSError, ProtocolError, OutputError) as exc:
            if isinstance(exc, _Progress):
                acked = exc.acked
            self.last_error = str(exc)
            self.drop()
            self.window.shrink()
            self.stats["window_size"] = self.window.size
            if not self.config.get("loadbalance"):
                self.rotate()
            self.stats["events_acked"] += acked
            if acked == 0 and not result.dead:
                self.stats["events_retried"] += len(events)
                raise OutputError(f"logstash: {exc}") from exc
            result.retry = indexes[acked:]
            self.stats["events_retried"] += len(result.retry)
            return result
        self.stats["events_acked"] += acked
        return result

    def _encode(self, events: list[Any], result: BatchResult) -> tuple[list[int], list[bytes]]:
        """Each event's document with @metadata as Beats sends it (its own keys over beat/type/version)."""
        indexes: list[int] = []
        payloads: list[bytes] = []
        base_meta = self.metadata
        base_json = orjson.dumps(base_meta)
        for i, event in enumerate(self.encoded(events, result.dead, self._unencodable)):
            if event is None:
                continue
            own, doc = event.meta, event.doc
            if isinstance(own, dict):
                try:
                    payloads.append(with_metadata(doc, orjson.dumps({**base_meta, **own})))
                except (TypeError, orjson.JSONEncodeError) as exc:
                    result.dead.append((i, self._unencodable(str(exc))))
                    continue
            else:
                payloads.append(with_metadata(doc, base_json))
            indexes.append(i)
        return indexes, payloads

    def _unencodable(self, reason: str) -> str:
        self.stats["events_dead"] += 1
        return f"event cannot be encoded as JSON: {reason}"

    def _send(self, conn: _Connection, payloads: list[bytes]) -> int:
        """Send all payloads in windows; return how many were acknowledged (raises after progress too)."""
        level = self.config.get("compression_level", 3)
        outstanding: deque[tuple[int, int]] = deque()  # (start, size) of windows sent, not fully acked
        next_start = 0
        acked = 0
        try:
            while acked < len(payloads):
                while next_start < len(payloads) and len(outstanding) < self.in_flight:
                    size = min(self.window.size, len(payloads) - next_start)
                    frame = encode_window(size) + encode_events(payloads[next_start : next_start + size], level)
                    conn.sock.sendall(frame)
                    self.stats["windows_sent"] += 1
                    self.stats["bytes_written"] += len(frame)
                    outstanding.append((next_start, size))
                    next_start += size
                start, size = outstanding[0]
                seq = conn.next_ack()
                done = acked - start
                if seq > size:
                    raise ProtocolError(f"ACK for sequence {seq} in a window of {size} events")
                if seq < done:
                    raise ProtocolError(f"ACK went backwards from {done} to {seq}")
                if seq == done:
                    self.stats["keepalive_acks"] += 1
                    continue
                acked = start + seq
                if seq < size:
                    self.stats["partial_acks"] += 1
                    continue
                outstanding.popleft()
                self.window.grow(size)
                self.stats["window_size"] = self.window.size
        except (OSError, ProtocolError) as exc:
            raise _Progress(acked, exc) from exc
        return acked


class _Progress(OSError):
    """A failure after `acked` events were acknowledged."""

    def __init__(self, acked: int, cause: Exception) -> None:
        super().__init__(str(cause))
        self.acked = acked
