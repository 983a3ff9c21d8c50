"""A tiny line-based protocol module, written against the public packetshipper module API only."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

from packetshipper import settings as _s
from packetshipper.protocol import (
    UNMATCHED_REQUEST,
    UNMATCHED_RESPONSE,
    Connection,
    Correlator,
    Direction,
    ProtocolError,
    ProtocolModule,
    Status,
    StreamParser,
    Transaction,
)
from packetshipper.settings import Setting, Spec

__all__ = ["LineModule", "Line", "LineParser", "LineCorrelator"]


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    size: int  # bytes on the wire, newline included
    start: float  # timestamp of the line's first byte


class LineParser(StreamParser):
    def __init__(self, max_line: int) -> None:
        self.buffer = bytearray()
        self.started = 0.0
        self.max_line = max_line

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        if not self.buffer:
            self.started = ts
        self.buffer += data
        lines = []
        while (end := self.buffer.find(b"\n")) >= 0:
            raw = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            lines.append(self._line(raw, self.started))
            self.started = ts
        if len(self.buffer) > self.max_line:
            raise ProtocolError(f"line longer than {self.max_line} bytes")
        return lines

    def _line(self, raw: bytes, start: float) -> Line:
        if b"\x00" in raw or len(raw) > self.max_line:
            raise ProtocolError("NUL byte or overlong line")
        return Line(raw.decode("utf-8", "replace"), len(raw) + 1, start)


class LineCorrelator(Correlator):
    def __init__(self, connection: Connection, timeout: float) -> None:
        self.connection = connection
        self.timeout = timeout
        self.waiting: deque[Line] = deque()

    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        if direction is Direction.REQUEST:
            self.waiting.append(message)
            return []
        if not self.waiting:
            return [Transaction(self.connection, None, message, message.start, ts, 0, message.size,
                                Status.ERROR, UNMATCHED_RESPONSE)]
        request = self.waiting.popleft()
        return [Transaction(self.connection, request, message, request.start, ts, request.size, message.size)]

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        out = []
        while self.waiting and self.waiting[0].start + self.timeout < now:
            out.append(self._unmatched(self.waiting.popleft()))
        return out

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        out = [self._unmatched(line) for line in self.waiting]
        self.waiting.clear()
        return out

    def _unmatched(self, line: Line) -> Transaction[Any, Any]:
        return Transaction(self.connection, line, None, line.start, line.start, line.size, 0,
                           Status.ERROR, UNMATCHED_REQUEST)


class LineModule(ProtocolModule):
    name: ClassVar[str] = "lineproto"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp", "udp"})
    default_ports: ClassVar[tuple[int, ...]] = (7777,)
    settings: ClassVar[Spec] = {
        "max_line": Setting(_s.at_least(1), 1024, "longest line accepted, in bytes"),
    }

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        return LineParser(self.config["max_line"])

    def parse_datagram(self, data: bytes, ts: float, direction: Direction, connection: Connection) -> list[Any]:
        return LineParser(self.config["max_line"]).receive_data(data if data.endswith(b"\n") else data + b"\n", ts)

    def correlator(self, connection: Connection) -> Correlator:
        return LineCorrelator(connection, self.transaction_timeout)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if transaction.request is not None:
            fields["request"] = transaction.request.text
        if transaction.response is not None:
            fields["response"] = transaction.response.text
        return {"lineproto": fields}
