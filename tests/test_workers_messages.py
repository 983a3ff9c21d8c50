"""The pieces the worker processes are built from: adding metrics up, the messages on their pipes."""

from __future__ import annotations

import struct

from packetshipper.workers import channel
from packetshipper.workers.stats import add_up


def test_snapshots_add_up_key_by_key_and_keep_the_first_of_what_is_not_a_number() -> None:
    total = add_up([
        {"capture": {"received": 3, "bytes": 100, "linktype": "EN10MB"}, "flows": {"created": 1, "active": True}},
        {"capture": {"received": 4, "bytes": 50, "linktype": "EN10MB", "kernel_dropped": 2}},
        {"protocols": {"modules": {"dns": {"transactions": 5}}}},
    ])
    assert total == {"capture": {"received": 7, "bytes": 150, "linktype": "EN10MB", "kernel_dropped": 2},
                     "flows": {"created": 1, "active": True},
                     "protocols": {"modules": {"dns": {"transactions": 5}}}}
    assert add_up([]) == {}


def test_an_event_batch_is_one_json_array_after_its_kind_byte() -> None:
    message = channel.encode(channel.EVENTS, [{"type": "dns", 1: "a"}])
    assert message == b'E[{"type":"dns","1":"a"}]'
    assert channel.decode(message) == (b"E", [{"type": "dns", "1": "a"}])
    assert channel.decode(channel.DONE) == (b"D", None)


def test_the_end_of_the_file_cannot_be_mistaken_for_a_batch_of_records() -> None:
    assert channel.read_end(channel.end_of_file(1700000000.25)) == (True, 1700000000.25)
    assert channel.read_end(channel.end_of_file(None)) == (True, None)
    one_record = struct.pack("=IIII", 0x444E4500, 0, 0, 60)  # 16 bytes, whatever they hold
    assert channel.read_end(one_record) == (False, None)
    assert channel.read_end(b"\x00END" + b"\x00" * 12) == (False, None)
