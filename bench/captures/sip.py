"""SIP over UDP: an INVITE with an SDP body and its 200 OK per transaction (two events: SIP reports
every message)."""

from __future__ import annotations

from collections.abc import Iterator

from packetshipper.pcapgen import udp_frame

PROTOCOLS = [{"type": "sip"}]

_SDP = "v=0\r\no=- 42 42 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"


def _invite(client: str, i: int) -> bytes:
    body = _SDP.format(ip=client)
    return (f"INVITE sip:bob@192.0.2.5 SIP/2.0\r\nVia: SIP/2.0/UDP {client}:5060;branch=z9hG4bK-{i}\r\n"
            f"From: \"Alice\" <sip:alice@{client}>;tag={i}\r\nTo: <sip:bob@192.0.2.5>\r\nCall-ID: {i}@{client}\r\n"
            f"CSeq: 1 INVITE\r\nContact: <sip:alice@{client}:5060>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def _ok(client: str, i: int) -> bytes:
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {client}:5060;branch=z9hG4bK-{i}\r\n"
            f"From: \"Alice\" <sip:alice@{client}>;tag={i}\r\nTo: <sip:bob@192.0.2.5>;tag=b{i}\r\n"
            f"Call-ID: {i}@{client}\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@192.0.2.5>\r\n"
            "Allow: INVITE, ACK, BYE\r\nContent-Length: 0\r\n\r\n").encode()


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for i in range(transactions):
        client = f"10.60.{(i >> 8) & 255}.{i & 255}"
        yield ts, udp_frame(client, "192.0.2.5", 5060, 5060, _invite(client, i))
        yield ts + 0.0002, udp_frame("192.0.2.5", client, 5060, 5060, _ok(client, i))
        ts += 0.001
