"""SMTP on the wire, spoken in meaning (RFC 5321), and a harness that runs the smtp module's parsers and
correlator over a conversation as the dispatcher would: each side's bytes in order, a fresh parser
after a ProtocolError."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.smtp import MODULE
from packetshipper.protocol import (
    COMMON_SETTINGS,
    Connection,
    Direction,
    Endpoint,
    ProtocolError,
    Transaction,
)
from packetshipper.settings import validate

CONNECTION = Connection("tcp", 4, Endpoint("192.0.2.1", 50000), Endpoint("192.0.2.25", 25), connection_id=1)
C, S = True, False  # who speaks: client, server


def cmd(line: str) -> bytes:
    return line.encode() + b"\r\n"


def reply(code: int, *texts: str) -> bytes:
    """A reply of one line per text: `250-first`, ..., `250 last` (RFC 5321 4.2.1)."""
    texts = texts or ("",)
    return b"".join(f"{code}{'-' if i < len(texts) - 1 else ' '}{t}\r\n".encode() for i, t in enumerate(texts))


def message(headers: Iterable[tuple[str, str]], body: str) -> bytes:
    """The message as a client sends it after 354: CRLF lines, leading dots doubled, then `.`."""
    text = "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n" + body
    if not text.endswith("\r\n"):
        text += "\r\n"
    lines = text.encode().split(b"\r\n")[:-1]
    return b"".join((b"." + line if line.startswith(b".") else line) + b"\r\n" for line in lines) + b".\r\n"


def message_size(headers: Iterable[tuple[str, str]], body: str) -> int:
    """The message's own size: what the server stores, before the dot line and without stuffing."""
    text = "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n" + body
    return len(text.encode()) + (0 if text.endswith("\r\n") else 2)


def module(**options: Any) -> Any:
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "smtp", **options}))


class Harness:
    def __init__(self, **options: Any) -> None:
        self.module = module(**options)
        self.correlator = self.module.correlator(CONNECTION)
        self.parsers: dict[Direction, Any] = {}
        self.transactions: list[Transaction[Any, Any]] = []
        self.messages: list[Any] = []
        self.errors = 0
        self.ts = 1_000.0

    def feed(self, from_client: bool, data: bytes) -> None:
        direction = Direction.REQUEST if from_client else Direction.RESPONSE
        self.ts += 0.001
        parser = self.parsers.get(direction)
        if parser is None:
            parser = self.parsers[direction] = self.module.stream_parser(direction, CONNECTION)
        try:
            messages = parser.receive_data(data, self.ts)
        except ProtocolError:
            self.errors += 1
            del self.parsers[direction]
            return
        self.messages += messages
        for m in messages:
            self.transactions += self.correlator.on_message(direction, m, self.ts)

    def close(self) -> list[Transaction[Any, Any]]:
        self.transactions += self.correlator.close(self.ts + 1)
        return self.transactions

    def events(self) -> list[dict[str, Any]]:
        out = []
        for txn in self.transactions:
            event = transaction_event("smtp", txn, self.module.event_fields(txn))
            problems = validate_event(event)
            assert not problems, problems
            out.append(event)
        return out


def run(conversation: list[tuple[bool, bytes]], *, split: int | None = None, **options: Any) -> list[dict[str, Any]]:
    """Events of a conversation: each (side, bytes) whole, or cut into `split`-byte pieces."""
    h = Harness(**options)
    for side, data in conversation:
        if split is None:
            h.feed(side, data)
        else:
            for i in range(0, len(data), split):
                h.feed(side, data[i:i + split])
    h.close()
    return h.events()


EHLO_REPLY = reply(250, "mx.example Hello client.example", "SIZE 52428800", "8BITMIME", "PIPELINING",
                   "AUTH PLAIN LOGIN", "STARTTLS", "HELP")
GREETING = reply(220, "mx.example ESMTP ready")


def frames(conversation: list[tuple[bool, bytes]], *, client: str = "10.0.0.1", server: str = "10.0.0.25",
           sport: int = 40000, dport: int = 25, ts: float = 1_700_000_000.0, segment: int = 1400,
           ) -> list[tuple[float, bytes]]:
    """A whole TCP connection carrying the conversation: handshake, segments of at most `segment`
    bytes, FIN both ways."""
    from packetshipper.pcapgen import tcp_frame

    seq = {C: 1000, S: 5000}
    out: list[tuple[float, bytes]] = []

    def put(side: bool, payload: bytes = b"", flags: str = "PA") -> None:
        src, dst, a, b = (client, server, sport, dport) if side else (server, client, dport, sport)
        out.append((ts + len(out) * 0.001, tcp_frame(src, dst, a, b, payload, flags=flags, seq=seq[side],
                                                      ack=seq[not side])))
        seq[side] += len(payload) + (1 if "S" in flags or "F" in flags else 0)

    seq[C] -= 1
    seq[S] -= 1
    put(C, flags="S")
    put(S, flags="SA")
    put(C, flags="A")
    for side, data in conversation:
        for i in range(0, len(data), segment):
            put(side, data[i:i + segment])
    put(C, flags="FA")
    put(S, flags="FA")
    put(C, flags="A")
    return out
