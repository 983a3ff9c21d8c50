"""MongoDB over TCP: connections of 10 operations each (OP_MSG find with a 5-document batch, insert with
a document sequence, update, a duplicate-key error, a legacy OP_QUERY command), each request in its
segment and its reply in the next, with handshake and FIN. Documents are encoded with pymongo's bson."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import bson
from packetshipper.pcapgen import tcp_frame

PROTOCOLS = [{"type": "mongodb"}]
SERVER = "192.0.2.17"
PER_CONNECTION = 10


def _frame(opcode: int, body: bytes, request_id: int, response_to: int = 0) -> bytes:
    return struct.pack("<iiii", 16 + len(body), request_id, response_to, opcode) + body


def _msg(body: dict[str, Any], request_id: int, response_to: int = 0, documents: list[dict[str, Any]] | None = None
         ) -> bytes:
    payload = b"\x00\x00\x00\x00\x00" + bson.encode(body)
    if documents is not None:
        section = b"documents\x00" + b"".join(bson.encode(d) for d in documents)
        payload += b"\x01" + struct.pack("<i", 4 + len(section)) + section
    return _frame(2013, payload, request_id, response_to)


def _exchange(i: int) -> tuple[bytes, bytes]:
    kind, rid = i % PER_CONNECTION, i & 0x7FFFFFFF
    if kind in (0, 3, 6):
        batch = [{"_id": i * 10 + j, "name": f"customer {j}", "region": i % 50} for j in range(5)]
        return (_msg({"find": "customers", "filter": {"region": i % 50}, "limit": 5, "$db": "shop"}, rid),
                _msg({"cursor": {"firstBatch": batch, "id": 0, "ns": "shop.customers"}, "ok": 1.0}, rid + 1, rid))
    if kind in (1, 4, 7):
        return (_msg({"insert": "orders", "ordered": True, "$db": "shop"}, rid,
                     documents=[{"customer": i, "total": 12.5}]),
                _msg({"n": 1, "ok": 1.0}, rid + 1, rid))
    if kind in (2, 5):
        return (_msg({"update": "stock", "updates": [{"q": {"item": i % 997}, "u": {"$inc": {"count": -1}}}],
                      "$db": "shop"}, rid),
                _msg({"n": 1, "nModified": 1, "ok": 1.0}, rid + 1, rid))
    if kind == 8:
        error = {"index": 0, "code": 11000, "errmsg": "E11000 duplicate key error collection: shop.orders"}
        return (_msg({"insert": "orders", "$db": "shop"}, rid, documents=[{"_id": 1}]),
                _msg({"n": 0, "writeErrors": [error], "ok": 1.0}, rid + 1, rid))
    query = b"\x00\x00\x00\x00admin.$cmd\x00" + struct.pack("<ii", 0, -1) + bson.encode({"ping": 1})
    reply = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode({"ok": 1.0})
    return _frame(2004, query, rid), _frame(1, reply, rid + 1, rid)


def generate(transactions: int) -> Iterator[tuple[float, bytes]]:
    ts = 1_700_000_000.0
    for conn in range((transactions + PER_CONNECTION - 1) // PER_CONNECTION):
        client, sport = f"10.17.{(conn >> 8) & 255}.{conn & 255}", 1024 + conn % 60000
        cseq, sseq = 1000, 5000
        yield ts, tcp_frame(client, SERVER, sport, 27017, flags="S", seq=cseq - 1)
        yield ts + 0.0001, tcp_frame(SERVER, client, 27017, sport, flags="SA", seq=sseq - 1, ack=cseq)
        yield ts + 0.0002, tcp_frame(client, SERVER, sport, 27017, seq=cseq, ack=sseq)
        ts += 0.0003
        for n in range(min(PER_CONNECTION, transactions - conn * PER_CONNECTION)):
            request, reply = _exchange(conn * PER_CONNECTION + n)
            yield ts, tcp_frame(client, SERVER, sport, 27017, request, flags="PA", seq=cseq, ack=sseq)
            cseq += len(request)
            yield ts + 0.0001, tcp_frame(SERVER, client, 27017, sport, reply, flags="PA", seq=sseq, ack=cseq)
            sseq += len(reply)
            ts += 0.0002
        yield ts, tcp_frame(client, SERVER, sport, 27017, flags="FA", seq=cseq, ack=sseq)
        yield ts + 0.0001, tcp_frame(SERVER, client, 27017, sport, flags="FA", seq=sseq, ack=cseq + 1)
        ts += 0.0002
