"""The application mix of the full-pipeline benchmark (modules: http, dns, icmp): HTTP, Redis, memcache, DNS and ICMP conversations,
about `concurrent` of them open at a time, interleaved, until `packets` packets.

Every started conversation is finished (the capture holds at least `packets` packets), so each request
has its response in the file and every TCP connection its handshake and FIN.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from captures import memcache, redis
from packetshipper.pcapgen import _dns_exchange, _http_conversation, icmp_frame, interleave, tcp_frame

# Issue 11's table: flows + HTTP + DNS + ICMP on a capture that also holds Redis and memcache (flows only).
PROTOCOLS = [{"type": "http"}, {"type": "dns"}, {"type": "icmp"}]
EXCHANGES_PER_CONNECTION = 10


def _tcp_session(client: str, server: str, sport: int, dport: int,
                 exchanges: list[tuple[bytes, bytes]]) -> list[bytes]:
    """Handshake, request/reply exchanges each in its own segment, FIN both ways."""
    c, s = 1000, 5000
    frames = [tcp_frame(client, server, sport, dport, flags="S", seq=c - 1),
              tcp_frame(server, client, dport, sport, flags="SA", seq=s - 1, ack=c),
              tcp_frame(client, server, sport, dport, seq=c, ack=s)]
    for request, reply in exchanges:
        frames.append(tcp_frame(client, server, sport, dport, request, flags="PA", seq=c, ack=s))
        c += len(request)
        frames.append(tcp_frame(server, client, dport, sport, reply, flags="PA", seq=s, ack=c))
        s += len(reply)
    frames += [tcp_frame(client, server, sport, dport, flags="FA", seq=c, ack=s),
               tcp_frame(server, client, dport, sport, flags="FA", seq=s, ack=c + 1),
               tcp_frame(client, server, sport, dport, seq=c + 1, ack=s + 1)]
    return frames


def _redis(i: int, rng: random.Random) -> list[bytes]:
    exchanges = [redis._exchange(i * EXCHANGES_PER_CONNECTION + n) for n in range(EXCHANGES_PER_CONNECTION)]
    return _tcp_session(f"10.79.{(i >> 8) & 255}.{i & 255}", redis.SERVER, 1024 + i % 60000, 6379, exchanges)


def _memcache(i: int, rng: random.Random) -> list[bytes]:
    exchange = memcache._text if i % 2 == 0 else memcache._bin
    exchanges = [exchange(i * EXCHANGES_PER_CONNECTION + n) for n in range(EXCHANGES_PER_CONNECTION)]
    return _tcp_session(f"10.112.{(i >> 8) & 255}.{i & 255}", memcache.SERVER, 1024 + i % 60000, 11211,
                        exchanges)


def _ping(i: int, rng: random.Random) -> list[bytes]:
    client, server = f"10.33.{(i >> 8) & 255}.{i & 255}", f"203.0.113.{i % 200 + 1}"
    frames = []
    for seq in range(4):
        frames += [icmp_frame(client, server, i & 0xFFFF, seq), icmp_frame(server, client, i & 0xFFFF, seq, reply=True)]
    return frames


def _dns(i: int, rng: random.Random) -> list[bytes]:
    return _dns_exchange(i)


# (weight, builder): by conversations; HTTP and the key-value stores dominate the packets.
MIX: list[tuple[int, Callable[[int, random.Random], list[bytes]]]] = [
    (4, _http_conversation), (4, _dns), (1, _redis), (1, _memcache), (1, _ping)]


def generate(packets: int = 1_000_000, duration: float = 40.0, seed: int = 23, start: float = 1_700_000_000.0,
             concurrent: int = 4000) -> Iterator[tuple[float, bytes]]:
    weights = [w for w, _ in MIX]
    builders = [b for _, b in MIX]

    def conversation(serial: int, rng: random.Random) -> list[bytes]:
        return rng.choices(builders, weights)[0](serial, rng)

    return interleave(conversation, packets, duration, seed, start, concurrent)
