"""HTTP/1.1 over TCP, shaped as bench.py's http-dns profile: one GET per connection (handshake, request,
a 200 or 404 response of 200 to 2,400 body bytes in 1,448-byte segments, FIN both ways)."""

from __future__ import annotations

from collections.abc import Iterator

from packetshipper.pcapgen import HTTP_BODY_SIZES, http_conversation

PROTOCOLS = [{"type": "http"}]


def _conversation(i: int) -> list[bytes]:
    return http_conversation(i, HTTP_BODY_SIZES[i % 3])


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for i in range(transactions):
        for frame in _conversation(i):
            yield ts, frame
            ts += 0.0001
