"""DNS over UDP: one A query and its answer per transaction (the pattern the other captures follow)."""

from __future__ import annotations

from collections.abc import Iterator

from packetshipper.pcapgen import dns_a_response, dns_query, udp_frame

PROTOCOLS = [{"type": "dns"}]


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for i in range(transactions):
        client, sport, name = f"10.200.{(i >> 8) & 255}.{i & 255}", 1024 + i % 60000, f"host{i % 5000}.example.org"
        ident = i & 0xFFFF
        yield ts, udp_frame(client, "192.0.2.53", sport, 53, dns_query(ident, name))
        yield ts + 0.0002, udp_frame("192.0.2.53", client, 53, sport, dns_a_response(ident, name, ["203.0.113.7"]))
        ts += 0.001
