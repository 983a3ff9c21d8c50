"""HTTP/1.1 over TCP, shaped as bench.py's http-dns profile: one GET per connection (handshake, request,
a 200 or 404 response of 200 to 2,400 body bytes in 1,448-byte segments, FIN both ways)."""

from __future__ import annotations

from collections.abc import Iterator

from packetshipper.pcapgen import http_request, http_response, tcp_frame

PROTOCOLS = [{"type": "http"}]
SEGMENT = 1448


def _conversation(i: int) -> list[bytes]:
    client, server = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", f"198.51.100.{i % 50 + 1}"
    sport, dport = 1024 + i % 60000, (80, 8080)[i % 2]
    request = http_request(f"/item/{i}?page={i % 7}", f"shop{i % 13}.example.com")
    status = "200 OK" if i % 10 else "404 Not Found"
    response = http_response(b"<html>" + b"x" * (200, 900, 2400)[i % 3] + b"</html>", status)
    c, s = 1000, 7000
    frames = [tcp_frame(client, server, sport, dport, flags="S", seq=c - 1),
              tcp_frame(server, client, dport, sport, flags="SA", seq=s - 1, ack=c),
              tcp_frame(client, server, sport, dport, flags="A", seq=c, ack=s),
              tcp_frame(client, server, sport, dport, request, flags="PA", seq=c, ack=s)]
    c += len(request)
    frames.append(tcp_frame(server, client, dport, sport, flags="A", seq=s, ack=c))
    for start in range(0, len(response), SEGMENT):
        chunk = response[start : start + SEGMENT]
        frames.append(tcp_frame(server, client, dport, sport, chunk, flags="PA", seq=s, ack=c))
        s += len(chunk)
    frames += [tcp_frame(client, server, sport, dport, flags="A", seq=c, ack=s),
               tcp_frame(client, server, sport, dport, flags="FA", seq=c, ack=s),
               tcp_frame(server, client, dport, sport, flags="FA", seq=s, ack=c + 1),
               tcp_frame(client, server, sport, dport, flags="A", seq=c + 1, ack=s + 1)]
    return frames


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for i in range(transactions):
        for frame in _conversation(i):
            yield ts, frame
            ts += 0.0001
