"""Memory stays within the configured limits through the whole core: a 50 MB value and 100,000 requests
that are never answered, fed as TCP segments to the dispatcher; the counters say what was left out."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import memcache_wire as w
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.modules.memcache import MODULE
from packetshipper.modules.memcache.messages import McMessage
from packetshipper.protocol import COMMON_SETTINGS
from packetshipper.settings import validate
from plugin_example.packets import TcpConversation

SEGMENT = 65_000


def run(config: dict[str, Any]) -> tuple[Any, Dispatcher, list[dict[str, Any]], TcpConversation]:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "memcache", **config}))
    events: list[dict[str, Any]] = []
    dispatcher = Dispatcher([module], events.append, Envelope("test"), {})
    conv = TcpConversation(server_port=11211)
    for pkt in conv.handshake():
        dispatcher.handle(pkt)
    return module, dispatcher, events, conv


def test_a_50_mb_value_costs_what_maxbytespervalue_keeps_not_its_size() -> None:
    module, dispatcher, events, conv = run({"maxvalues": 1, "maxbytespervalue": "1KB"})
    dispatcher.handle(conv.send(True, w.line("get big")))
    size = 50 * 1024 * 1024
    chunk = b"x" * SEGMENT
    tracemalloc.start()
    try:
        dispatcher.handle(conv.send(False, b"VALUE big 0 %d\r\n" % size))
        left = size
        while left:
            part = chunk if left >= SEGMENT else chunk[:left]
            dispatcher.handle(conv.send(False, part))
            left -= len(part)
        dispatcher.handle(conv.send(False, b"\r\nEND\r\n"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # one segment in flight and 1 KB kept: not 50 MB
    (event,) = [e for e in events if e["type"] == "memcache"]
    response = event["memcache"]["response"]
    assert event["status"] == "OK" and response["bytes"] == size and len(response["values"]) == 1
    assert event["destination"]["bytes"] == len(b"VALUE big 0 %d\r\n" % size) + size + len(b"\r\nEND\r\n")
    assert dispatcher.stats()["modules"]["memcache"]["protocol_errors"] == 0


def test_100000_unanswered_requests_keep_at_most_queue_max_messages() -> None:
    module, dispatcher, events, conv = run({"queue_max_messages": 5000})
    published: list[str] = []
    dispatcher.runners[0].emit = lambda event: published.append(event["status"])  # count, do not keep
    batch = w.line("get some:key") * 1000
    for _ in range(100):
        dispatcher.handle(conv.send(True, batch))
    # What is held: the requests still queued (every live McMessage object), not all 100,000.
    assert sum(isinstance(o, McMessage) for o in gc.get_objects()) == 5000
    assert module.stats == {"requests_evicted": 95_000, "unmatched_requests": 95_000}
    assert len(published) == 95_000 and set(published) == {"Server Error"}
    dispatcher.flush(conv.now + 1)
    assert len(published) == 100_000
    assert dispatcher.stats()["modules"]["memcache"]["unmatched"] == 100_000


def test_a_capture_begun_inside_a_value_resyncs_and_pairs_what_follows() -> None:
    module, dispatcher, events, conv = run({})
    dispatcher.handle(conv.send(False, b"the middle of some value nobody asked for\r\nEND\r\n"))
    dispatcher.handle(conv.send(True, w.line("get k")))
    dispatcher.handle(conv.send(False, w.value("k", b"v") + w.line("END")))
    dispatcher.handle(conv.send(True, w.store("set", "k", b"x")))
    dispatcher.handle(conv.send(False, w.line("STORED")))
    dispatcher.flush(conv.now + 1)
    assert [(e["memcache"]["request"]["command"], e["memcache"]["response"]["command"], e["status"])
            for e in events] == [("get", "VALUE", "OK"), ("set", "STORED", "OK")]
    assert dispatcher.stats()["modules"]["memcache"]["protocol_errors"] == 1


def test_a_server_that_never_answers_gives_unmatched_requests_at_the_timeout() -> None:
    module, dispatcher, events, conv = run({"transaction_timeout": "2s"})
    dispatcher.handle(conv.send(True, w.line("get a") + w.line("get b")))
    dispatcher.tick(conv.now + 5)
    assert [(e["memcache"]["request"]["keys"], e["status"], e["error"]["message"]) for e in events] == [
        (["a"], "Server Error", "Unmatched request"), (["b"], "Server Error", "Unmatched request")]
