"""Memory stays within the configured limits through the whole core: 100,000 calls that never get a
reply, and a 50 MB WRITE record, fed as TCP segments to the dispatcher; the counters say what happened."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.modules.nfs import MODULE
from packetshipper.modules.nfs import wire as w
from packetshipper.modules.nfs.messages import RpcCall
from packetshipper.protocol import COMMON_SETTINGS
from packetshipper.settings import validate
from plugin_example.packets import TcpConversation

SEGMENT = 65_000


def run(config: dict[str, Any]) -> tuple[Any, Dispatcher, list[dict[str, Any]], TcpConversation]:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "nfs", **config}))
    events: list[dict[str, Any]] = []
    dispatcher = Dispatcher([module], events.append, Envelope("test"), {})
    conv = TcpConversation(server_port=2049)
    for pkt in conv.handshake():
        dispatcher.handle(pkt)
    return module, dispatcher, events, conv


def test_100000_unanswered_calls_keep_at_most_max_pending_calls() -> None:
    module, dispatcher, events, conv = run({"max_pending_calls": 2000})
    published: list[str] = []
    dispatcher.runners[0].emit = lambda event: published.append(event["error"]["message"])  # count, do not keep
    cred = w.unix_cred("client", 1, 1)
    for batch in range(100):
        segment = b"".join(w.record(w.call(batch * 1000 + i, 3, 1, w.opaque(b"f" * 32), cred=cred))
                           for i in range(1000))
        dispatcher.handle(conv.send(True, segment))
    assert sum(isinstance(o, RpcCall) for o in gc.get_objects()) == 2000
    assert module.stats == {"pending_calls_evicted": 98_000}
    assert len(published) == 98_000 and all(m.startswith("NO_REPLY") for m in published)
    dispatcher.flush(conv.now + 1)
    assert len(published) == 100_000 and published[-1] == "Unmatched request"
    assert dispatcher.stats()["modules"]["nfs"]["unmatched"] == 2000
    assert dispatcher.stats()["modules"]["nfs"]["errors"] == 100_000


def test_a_50_mb_write_costs_max_message_size_not_its_size() -> None:
    module, dispatcher, events, conv = run({"max_message_size": "4KB"})
    size = 50 * 1024 * 1024
    head = w.call(0x77, 4, 1, w.compound_args([w.op(53, w.sequence_args()), w.op(22, w.putfh_args(b"fh")),
                                               w.op(38, b"\0" * 24 + w.u32(size))], minor_version=1))
    body_len = len(head) + size
    chunk = b"x" * SEGMENT
    tracemalloc.start()
    try:
        dispatcher.handle(conv.send(True, w.u32(0x80000000 | body_len) + head))
        left = size
        while left:
            part = chunk if left >= SEGMENT else chunk[:left]
            dispatcher.handle(conv.send(True, part))
            left -= len(part)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024
    dispatcher.handle(conv.send(False, w.record(w.accepted_reply(0x77, 0, w.compound_result(0)))))
    (event,) = [e for e in events if e["type"] == "nfs"]
    assert event["nfs"]["opcode"] == "WRITE" and event["nfs"]["status"] == "NFS_OK"
    assert event["rpc"]["call_size"] == event["source"]["bytes"] == body_len
    assert module.stats == {"records_truncated": 1}
