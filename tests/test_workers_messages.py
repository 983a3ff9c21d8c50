"""The pieces the worker processes are built from: adding metrics up, the messages on their pipes."""

from __future__ import annotations

import struct

import pytest
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


def test_an_event_batch_is_its_lengths_then_its_documents_as_the_worker_encoded_them() -> None:
    docs = [b'{"type":"dns"}', b'{"type":"http","a":1}']
    message = channel.events_message(docs, None, None)
    assert message == b"E" + struct.pack("=II", 2, 0) + struct.pack("=II", 14, 21) + docs[0] + docs[1]
    assert channel.read_events(message) == (docs, None, None)


def test_an_event_batch_carries_metadata_and_routing_fields_as_one_json_array() -> None:
    docs = [b'{"a":1}', b'{"b":2}']
    metas, fields = [{"_id": "x1"}, None], [{"fields.k": "v"}, {}]
    extras = b'[[{"_id":"x1"},null],[{"fields.k":"v"},{}]]'
    message = channel.events_message(docs, metas, fields)
    assert message == b"E" + struct.pack("=II", 2, len(extras)) + struct.pack("=II", 7, 7) + extras + b"".join(docs)
    assert channel.read_events(message) == (docs, metas, fields)


@pytest.mark.parametrize("message", [
    b"E", b"E\x01\x00\x00\x00", b"E" + struct.pack("=III", 1, 0, 5) + b"{}",
    b"E" + struct.pack("=III", 1, 2, 2) + b"[]{}", b"E" + struct.pack("=III", 1, 12, 2) + b"[[1,2],null]{}",
    b"E" + struct.pack("=III", 1, 2, 2) + b"x]{}",
])
def test_an_event_batch_that_does_not_add_up_is_a_value_error(message: bytes) -> None:
    with pytest.raises(ValueError):
        channel.read_events(message)


def test_an_unencodable_event_goes_as_its_reason_and_its_repr_where_json_cannot_say_it() -> None:
    message = channel.unencodable_message("cannot encode", {"type": "x", "raw": b"\x01", 7: {1, 2}})
    assert message[:1] == channel.UNENCODABLE
    assert channel.decode(message) == (b"U", ["cannot encode", {"type": "x", "raw": "b'\\x01'", "7": "{1, 2}"}])
    assert channel.decode(channel.DONE) == (b"D", None)


def test_the_end_of_the_file_cannot_be_mistaken_for_a_batch_of_records() -> None:
    assert channel.read_end(channel.end_of_file(1700000000.25)) == (True, 1700000000.25)
    assert channel.read_end(channel.end_of_file(None)) == (True, None)
    one_record = struct.pack("=IIII", 0x444E4500, 0, 0, 60)  # 16 bytes, whatever they hold
    assert channel.read_end(one_record) == (False, None)
    assert channel.read_end(b"\x00END" + b"\x00" * 12) == (False, None)


def test_a_workers_document_sink_sends_documents_with_ids_and_routing_fields_in_the_next_batch() -> None:
    from multiprocessing import Pipe

    from packetshipper.workers.child import ChannelPublisher
    from packetshipper.workers.encoding import Encoding

    reader, writer = Pipe(duplex=False)
    publisher = ChannelPublisher(writer, Encoding(True, frozenset({"agent.version"}), event_ids=True))
    assert publisher.document_sink(frozenset({"type"})) is None  # cannot give what the output routes by
    sink = publisher.document_sink(frozenset({"agent.version", "type"}))
    assert sink is not None
    flows = [b'{"type":"flow","n":1}', b'{"type":"flow","n":2}']
    assert sink(flows, {"agent.version": "9.9.9", "type": "flow"}) == 2
    publisher.publish({"type": "dns", "agent": {"version": "9.9.9"}})
    publisher.flush()
    docs, metas, fields = channel.read_events(reader.recv_bytes())
    assert docs == flows + [b'{"type":"dns","agent":{"version":"9.9.9"}}']
    assert fields == [{"agent.version": "9.9.9"}] * 3
    assert metas is not None and len({meta["_id"] for meta in metas}) == 3  # one sequence, one id each
    validating = ChannelPublisher(writer, Encoding(True, validate=True), {"validation": {"enabled": True}})
    assert validating.document_sink(frozenset({"type"})) is None


def test_a_workers_document_sink_sends_many_documents_in_batches_of_at_most_flush_events() -> None:
    from multiprocessing import Pipe

    from packetshipper.workers.child import FLUSH_EVENTS, ChannelPublisher
    from packetshipper.workers.encoding import Encoding

    reader, writer = Pipe(duplex=False)
    publisher = ChannelPublisher(writer, Encoding(True))
    sink = publisher.document_sink(frozenset({"type"}))
    assert sink is not None
    publisher.publish({"type": "dns"})
    many = [b'{"type":"flow","n":%d}' % n for n in range(2 * FLUSH_EVENTS + 5)]
    assert sink(many, {"type": "flow"}) == len(many)
    publisher.flush()
    sent: list[bytes] = []
    while reader.poll(1):
        docs, metas, fields = channel.read_events(reader.recv_bytes())
        assert 0 < len(docs) <= FLUSH_EVENTS and metas is None
        sent.extend(docs)
    assert sent == [b'{"type":"dns"}'] + many


def test_receive_reads_what_send_bytes_sent_of_any_size_then_the_end() -> None:
    import threading
    from multiprocessing import Pipe

    receiving, sending = Pipe(duplex=False)
    messages = [b"", b"x", bytes(range(256)) * 3, b"big" * 700_000]  # the last is more than a pipe holds

    def send_all() -> None:
        for message in messages:
            sending.send_bytes(message)
        sending.close()

    writer = threading.Thread(target=send_all)
    writer.start()
    try:
        assert [channel.receive(receiving) for _ in messages] == messages
        with pytest.raises(EOFError):
            channel.receive(receiving)
    finally:
        writer.join()
        receiving.close()


def test_receive_of_a_message_cut_short_is_the_end_not_a_short_message() -> None:
    import os
    from multiprocessing import Pipe

    receiving, sending = Pipe(duplex=False)
    os.write(sending.fileno(), struct.pack("!i", 10) + b"12345")  # five of ten bytes, then the writer dies
    sending.close()
    with pytest.raises(EOFError):
        channel.receive(receiving)
    receiving.close()
