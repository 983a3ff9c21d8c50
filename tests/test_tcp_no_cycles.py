"""A TCP connection that ends is freed at once by reference counting: no cycle waits for the cyclic
collector (one per connection made the collector's passes the cost of a busy sensor's memory)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.protocol import COMMON_SETTINGS
from packetshipper.settings import validate
from packetshipper.tcp import TcpConnection
from plugin_example.lineproto import LineModule
from plugin_example.packets import TcpConversation


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _connections_alive() -> int:
    return sum(1 for obj in gc.get_objects() if type(obj) is TcpConnection)


@pytest.mark.parametrize("ending", ["fin", "rst", "flush"])
def test_an_ended_connection_leaves_no_garbage_cycle(collector_off: None, ending: str) -> None:
    module = LineModule(validate({**COMMON_SETTINGS, **LineModule.settings}, {"type": "lineproto"}))
    events: list[dict] = []
    dispatcher = Dispatcher([module], events.append, Envelope("test"), {})
    before = _connections_alive()
    for client_port in range(40000, 40020):
        conv = TcpConversation(client_port=client_port)
        for pkt in [*conv.handshake(), conv.send(True, b"q\n"), conv.send(False, b"a\n")]:
            dispatcher.handle(pkt)
        if ending == "fin":
            dispatcher.handle(conv.fin(True))
            dispatcher.handle(conv.fin(False))
        elif ending == "rst":
            dispatcher.handle(conv.rst(True))
    if ending == "flush":
        dispatcher.flush(100.0)
    assert len(events) == 20
    assert dispatcher.stats()["tcp"]["connections"] == 0
    assert _connections_alive() == before
