"""Memory stays within the configured limits through the whole core: a 50 MB reply and 100,000 commands
that are never answered, fed as TCP segments to the dispatcher; the counters say what was left out."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import redis_wire as w
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.modules.redis import MODULE
from packetshipper.modules.redis.messages import RedisRequest
from packetshipper.protocol import COMMON_SETTINGS
from packetshipper.settings import validate
from plugin_example.packets import TcpConversation

SEGMENT = 65_000


def run(config: dict[str, Any]) -> tuple[Any, Dispatcher, list[dict[str, Any]], TcpConversation]:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "redis", **config}))
    events: list[dict[str, Any]] = []
    dispatcher = Dispatcher([module], events.append, Envelope("test"), {})
    conv = TcpConversation(server_port=6379)
    for pkt in conv.handshake():
        dispatcher.handle(pkt)
    return module, dispatcher, events, conv


def test_a_50_mb_reply_costs_max_message_size_not_its_size() -> None:
    module, dispatcher, events, conv = run({"max_message_size": "1MB"})
    dispatcher.handle(conv.send(True, w.command("GET", "big")))
    size = 50 * 1024 * 1024
    chunk = b"x" * SEGMENT
    tracemalloc.start()
    try:
        dispatcher.handle(conv.send(False, b"$%d\r\n" % size))
        left = size
        while left:
            part = chunk if left >= SEGMENT else chunk[:left]
            dispatcher.handle(conv.send(False, part))
            left -= len(part)
        dispatcher.handle(conv.send(False, b"\r\n"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # 1 MB kept, one segment in flight, the event: not 50 MB
    dispatcher.flush(conv.now + 1)
    (event,) = [e for e in events if e["type"] == "redis"]
    assert event["status"] == "OK" and len(event["redis"]["return_value"]) == 1024 * 1024
    assert event["destination"]["bytes"] == len(b"$%d\r\n" % size) + size + 2
    assert event["notes"] == ["Response longer than max_message_size: the rest was counted, not kept"]
    assert module.stats == {"messages_truncated": 1}


def test_100000_unanswered_commands_keep_at_most_queue_max_messages() -> None:
    module, dispatcher, events, conv = run({"queue_max_messages": 5000})
    published: list[str] = []
    dispatcher.runners[0].emit = lambda event: published.append(event["status"])  # count, do not keep
    batch = w.command("INCR", "counter") * 500
    for _ in range(200):
        dispatcher.handle(conv.send(True, batch))
    # What is held: the commands still queued (every live RedisRequest object), not all 100,000.
    assert sum(isinstance(o, RedisRequest) for o in gc.get_objects()) == 5000
    assert module.stats == {"requests_evicted": 95_000, "unmatched_requests": 95_000}
    assert len(published) == 95_000 and set(published) == {"Error"}
    dispatcher.flush(conv.now + 1)
    assert len(published) == 100_000
    assert dispatcher.stats()["modules"]["redis"]["unmatched"] == 100_000


def test_a_capture_begun_inside_a_reply_resyncs_and_pairs_what_follows() -> None:
    module, dispatcher, events, conv = run({})
    # The first bytes seen are the tail of a bulk string whose command was never captured.
    dispatcher.handle(conv.send(False, b"lo world, the rest of a value\r\n"))
    dispatcher.handle(conv.send(True, w.command("GET", "k")))
    dispatcher.handle(conv.send(False, w.bulk("v")))
    dispatcher.handle(conv.send(True, w.command("INCR", "n") + w.command("PING")))
    dispatcher.handle(conv.send(False, w.integer(1) + w.simple("PONG")))
    dispatcher.flush(conv.now + 1)
    assert [(e["method"], e["status"], e["redis"]["return_value"]) for e in events] == [
        ("GET", "OK", "v"), ("INCR", "OK", "1"), ("PING", "OK", "PONG")]
    assert dispatcher.stats()["modules"]["redis"]["protocol_errors"] == 1


def test_a_server_that_never_answers_gives_unmatched_requests_at_the_timeout() -> None:
    module, dispatcher, events, conv = run({"transaction_timeout": "2s"})
    dispatcher.handle(conv.send(True, w.command("GET", "a") + w.command("GET", "b")))
    dispatcher.tick(conv.now + 5)
    assert [(e["resource"], e["status"], e["error"]["message"]) for e in events] == [
        ("a", "Error", "Unmatched request"), ("b", "Error", "Unmatched request")]
