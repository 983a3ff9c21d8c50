"""The disk queue stores events as the publisher encoded them (version 2 records), and still delivers
what a previous packetshipper left in it (version 1: the event as a msgpack map), with the fields the
output of this run routes by; records written for an output reading other fields are decoded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.metrics import Metrics
from packetshipper.outputs import output_settings
from packetshipper.outputs.encoded import EventCodec, pack_event, unpack_event
from packetshipper.pipeline import PIPELINE_SECTIONS, build_publisher
from packetshipper.pipeline.queue_disk import DiskQueue
from packetshipper.pipeline.spool_records import HEADER, encode_record
from packetshipper.settings import validate
from servers.es_server import EsServer

KB = 1024


def _event(i: int) -> dict[str, Any]:
    return {"@timestamp": "2015-07-11T21:47:24.428Z", "type": "dns" if i % 2 else "http", "id": i,
            "agent": {"version": "8.17.0"}, "@metadata": {"_id": f"id{i}"}}


def _old_segment(path: Path, events: list[dict[str, Any]]) -> None:
    """A queue directory as the previous release left it: msgpack records, nothing acknowledged."""
    path.mkdir(parents=True)
    (path / "0000000001.seg").write_bytes(b"".join(encode_record(msgpack.packb(e), version=1) for e in events))


def _drain(queue: DiskQueue) -> list[Any]:
    queue.close()
    out = []
    while (batch := queue.get(100)) is not None:
        out.extend(batch.events)
        queue.ack(batch)
    return out


def test_records_of_the_previous_format_are_delivered_with_this_runs_fields(tmp_path: Path):
    _old_segment(tmp_path / "q", [_event(i) for i in range(5)])
    codec = EventCodec(frozenset({"type", "agent.version"}))
    queue = DiskQueue(str(tmp_path / "q"), 1024 * KB, 64 * KB, fsync="never", codec=codec)
    assert queue.stats()["recovered"] == 5
    events = _drain(queue)
    assert [orjson.loads(e.doc) for e in events] == [{k: v for k, v in _event(i).items() if k != "@metadata"}
                                                      for i in range(5)]
    assert [e.meta for e in events] == [{"_id": f"id{i}"} for i in range(5)]
    assert [e.fields for e in events] == [{"type": _event(i)["type"], "agent.version": "8.17.0"} for i in range(5)]
    assert queue.stats()["legacy_records"] == 5 and queue.stats()["decode_errors"] == 0
    queue.release()


def test_old_and_new_records_in_one_directory_all_arrive_in_order(tmp_path: Path):
    _old_segment(tmp_path / "q", [_event(0), _event(1)])
    queue = DiskQueue(str(tmp_path / "q"), 1024 * KB, 64 * KB, fsync="never")
    assert queue.put(EventCodec().encode(_event(2)), block=False)
    queue.release()  # nothing acknowledged: all three wait for the next run
    reopened = DiskQueue(str(tmp_path / "q"), 1024 * KB, 64 * KB, fsync="never")
    assert [e.decoded()["id"] for e in _drain(reopened)] == [0, 1, 2]
    reopened.release()


def test_a_record_is_the_bytes_as_encoded(tmp_path: Path):
    codec = EventCodec(frozenset({"type"}))
    event = _event(1)
    queue = DiskQueue(str(tmp_path / "q"), 1024 * KB, 64 * KB, fsync="never", codec=codec)
    queue.put(codec.encode(event), block=False)
    queue.release()
    data = next((tmp_path / "q").glob("*.seg")).read_bytes()
    doc = orjson.dumps({k: v for k, v in event.items() if k != "@metadata"})
    assert data[2] == 2  # the record version
    assert doc in data[HEADER.size:] and b'{"_id":"id1"}' in data[HEADER.size:]
    assert b'[["type"],{"type":"dns"}]' in data[HEADER.size:]


def test_records_written_for_other_routing_fields_are_decoded_once_for_this_output(tmp_path: Path):
    first = DiskQueue(str(tmp_path / "q"), 1024 * KB, 64 * KB, fsync="never", codec=EventCodec())
    for i in range(3):
        first.put(first.codec.encode(_event(i)), block=False)
    first.release()
    codec = EventCodec(frozenset({"type"}))
    second = DiskQueue(str(tmp_path / "q"), 1024 * KB, 64 * KB, fsync="never", codec=codec)
    assert [e.fields for e in _drain(second)] == [{"type": "http"}, {"type": "dns"}, {"type": "http"}]
    assert codec.decoded == 3
    second.release()


def test_a_pipeline_restart_sends_what_the_previous_release_left_under_its_own_ids(tmp_path: Path):
    """Elasticsearch's exactly-once ids and the index rules hold for what an older run queued."""
    _old_segment(tmp_path / "data" / "diskqueue", [_event(i) for i in range(4)])
    with EsServer() as es:
        config = {
            "queue": validate(PIPELINE_SECTIONS["queue"], {"disk": {"max_size": "2MB"}}, "queue"),
            "output": {"elasticsearch": validate(output_settings("elasticsearch"), {
                "hosts": [es.url], "index": "ps-%{[type]}-%{+yyyy.MM.dd}"}, "output.elasticsearch")},
            "path": {"data": str(tmp_path / "data")},
        }
        publisher = build_publisher(config, Metrics(), live=False)
        assert publisher.publish({"@timestamp": "2015-07-12T00:00:00.000Z", "type": "flow", "id": 4})
        publisher.close(timeout=30)
        ids = es.document_ids()
        documents = es.all_documents()
    assert ids[:4] == [(f"ps-{_event(i)['type']}-2015.07.11", f"id{i}") for i in range(4)]
    assert ids[4][0] == "ps-flow-2015.07.12" and ids[4][1] not in {f"id{i}" for i in range(4)}
    assert sorted(d["id"] for d in documents) == [0, 1, 2, 3, 4]
    assert all("@metadata" not in d for d in documents)
    assert publisher.stats()["queue"]["legacy_records"] == 4


def test_a_damaged_new_record_is_counted_not_fatal(tmp_path: Path):
    (tmp_path / "q").mkdir()
    good = encode_record(b"\x00" * 12)  # lengths say nothing follows: not a document
    (tmp_path / "q" / "0000000001.seg").write_bytes(good + encode_record(msgpack.packb({"id": 9}), version=1))
    queue = DiskQueue(str(tmp_path / "q"), 1024 * KB, 64 * KB, fsync="never")
    assert [e.decoded() for e in _drain(queue)] == [{"id": 9}]
    assert queue.stats()["decode_errors"] == 1
    queue.release()


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                     max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=6), _json, max_size=6), st.none() | st.dictionaries(st.text(max_size=4), _json),
       st.sets(st.sampled_from(["a", "b.c", "@timestamp", "x"])))
def test_an_encoded_event_survives_packing_as_it_was(event: dict[str, Any], meta: Any, paths: set[str]):
    """What a record (or a worker's message) holds comes back unchanged; anything else is refused."""
    if meta is not None:
        event = {**event, "@metadata": meta}
    encoded = EventCodec(frozenset(paths)).encode(event)
    back = unpack_event(pack_event(encoded))
    assert (back.doc, back.meta, back.fields, back.paths) == (encoded.doc, encoded.meta, encoded.fields, encoded.paths)
    with pytest.raises(ValueError):
        unpack_event(pack_event(encoded)[:-1])
