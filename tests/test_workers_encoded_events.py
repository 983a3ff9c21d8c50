"""Worker processes encode each event once, by the rules of the main process's publisher, and the main
process queues the bytes as they come: the file output's lines are those of one process byte for byte,
schema validation runs in the workers with its counters added up, and an event a worker cannot encode
is counted and dead-lettered in the main process as one process would.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from packetshipper.config import validate_config
from packetshipper.metrics import Metrics
from packetshipper.pipeline import build_publisher
from packetshipper.runner import build_shipper
from packetshipper.workers.child import ChannelPublisher
from packetshipper.workers.encoding import encoding_of
from packetshipper.workers.inbox import Inbox

PCAPS = Path(__file__).parent / "pcaps"
MINITWIT = PCAPS / "packetbeat/http_minitwit.pcap"  # several address pairs: both workers get a share
DNS_MX = PCAPS / "packetbeat/dns_mx.pcap"


def _config(tmp_path: Path, pcap: Path, workers: int, **extra: Any) -> dict[str, Any]:
    out = tmp_path / f"out{workers}"
    raw: dict[str, Any] = {
        "packetshipper": {"interfaces": {"file": str(pcap), "topspeed": True}, "workers": workers,
                          # @metadata on every HTTP event: the batches carry their metadata too
                          "protocols": [{"type": "http", "ports": [80], "index": "web-%{[http.request.method]}"},
                                        {"type": "dns", "ports": [53]}]},
        "output": {"file": {"path": str(out), "filename": "events"}},
        "tags": ["encoded-once"], "fields": {"site": "lab"},
        "path": {"data": str(tmp_path / f"data{workers}")},
        **extra,
    }
    return validate_config(raw)


def _run(config: dict[str, Any]) -> tuple[list[bytes], dict[str, Any]]:
    summary = build_shipper(config, metrics=Metrics()).run()
    out = Path(config["output"]["file"]["path"])
    lines = [line for path in sorted(out.iterdir()) for line in path.read_bytes().splitlines()]
    return lines, summary.stats


def test_two_workers_write_the_file_output_byte_for_byte_as_one_process(tmp_path: Path) -> None:
    one, _ = _run(_config(tmp_path, MINITWIT, 1))
    two, stats = _run(_config(tmp_path, MINITWIT, 2))
    assert Counter(two) == Counter(one)
    events = [json.loads(line) for line in one]
    assert {"http", "flow"} <= {event["type"] for event in events}
    assert any(event.get("@metadata", {}).get("raw_index") == "web-GET" for event in events)
    per_worker = stats["workers"]["per_worker"]
    assert all(entry["received"] > 0 for entry in per_worker.values()), per_worker
    assert stats["capture"]["events"] == len(two)
    assert stats["queue"]["dropped"]["encode_error"] == 0


@pytest.mark.parametrize("shapes", [0, 50])
def test_validation_runs_in_the_workers_and_their_counters_add_up(tmp_path: Path, shapes: int) -> None:
    lines, stats = _run(_config(tmp_path, MINITWIT, 2, validation={"enabled": True, "shapes": shapes}))
    assert lines
    validation = stats["validation"]
    assert validation["invalid"] == 0 and validation["checked"] == len(lines)
    if not shapes:  # every event goes through the schema check
        assert "shape_cache" not in validation
    else:  # each worker checks the first event of each shape it sees, and skips the rest
        cache = validation["shape_cache"]
        assert 0 < cache["skipped"] < len(lines) and cache["max_shapes"] == shapes


def _dead_letters(path: Path, ids: bool = False) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record.pop("@timestamp")
        if ids:  # stamped for Elasticsearch (each process draws its own prefix)
            assert record["event"]["@metadata"].pop("_id")
            if not record["event"]["@metadata"]:
                del record["event"]["@metadata"]
    return records


@pytest.mark.parametrize("output", [{"file": {"filename": "events"}}, {"elasticsearch": {"hosts": ["127.0.0.1:9"]}}])
def test_an_event_a_worker_cannot_encode_is_counted_and_dead_lettered_as_by_one_process(
        tmp_path: Path, output: dict[str, Any]) -> None:
    def config(name: str) -> dict[str, Any]:
        outputs = {kind: dict(settings, **({"path": str(tmp_path / name)} if kind == "file" else {}))
                   for kind, settings in output.items()}
        return validate_config({"packetshipper": {"interfaces": {"file": str(DNS_MX)}}, "output": outputs,
                                "setup": {"template": {"enabled": False}, "ilm": {"enabled": False}},
                                "dead_letter": {"path": str(tmp_path / f"{name}.dead")}})

    def events() -> list[dict[str, Any]]:  # JSON cannot hold bytes, nor a non-string key for Elasticsearch
        return [{"type": "x", "n": 1}, {"type": "x", "raw": b"\x00\x01"}, {"type": "x", "by_port": {53: "dns"}},
                {"type": "x", "n": 2}]

    single = build_publisher(config("single"), Metrics(), live=False)
    for event in events():
        single.publish(event)
    single.close(timeout=0.5)

    main = build_publisher(config("main"), Metrics(), live=False)
    inbox = Inbox(main)
    receiving, sending = multiprocessing.Pipe(duplex=False)
    worker = ChannelPublisher(sending, encoding_of(main), config("main"))
    for event in events():
        worker.publish(event)
    worker.flush()
    sending.close()
    while True:
        try:
            message = receiving.recv_bytes()
        except EOFError:
            break
        if message[:1] == b"E":
            inbox.events(message)
        elif message[:1] == b"U":
            inbox.unencodable(json.loads(message[1:]))
    main.close(timeout=0.5)

    dropped = single.stats()["queue"]["dropped"]["encode_error"]
    assert dropped == (1 if "file" in output else 2)  # the file output writes non-string keys as strings
    assert main.stats()["queue"]["dropped"]["encode_error"] == dropped
    ids = "elasticsearch" in output
    assert _dead_letters(tmp_path / "main.dead", ids) == _dead_letters(tmp_path / "single.dead", ids)
    assert len(_dead_letters(tmp_path / "main.dead")) == dropped
    if "file" in output:
        assert (tmp_path / "main" / "events").read_bytes() == (tmp_path / "single" / "events").read_bytes()


def test_an_event_whose_metadata_a_worker_cannot_encode_is_dead_lettered_and_the_batch_still_goes(
        tmp_path: Path) -> None:
    config = validate_config({"packetshipper": {"interfaces": {"file": str(DNS_MX)}},
                              "output": {"file": {"path": str(tmp_path / "out"), "filename": "events"}},
                              "dead_letter": {"path": str(tmp_path / "dead")}})
    main = build_publisher(config, Metrics(), live=False)
    inbox = Inbox(main)
    receiving, sending = multiprocessing.Pipe(duplex=False)
    worker = ChannelPublisher(sending, encoding_of(main), config)
    for event in ({"type": "x", "n": 1, "@metadata": {"pipeline": "p"}},
                  {"type": "x", "n": 2, "@metadata": {"raw": b"\x00"}}, {"type": "x", "n": 3}):
        worker.publish(event)
    worker.flush()
    sending.close()
    kinds = []
    while True:
        try:
            message = receiving.recv_bytes()
        except EOFError:
            break
        kinds.append(message[:1])
        if message[:1] == b"E":
            inbox.events(message)
        else:
            inbox.unencodable(json.loads(message[1:]))
    main.close(timeout=5)
    assert kinds == [b"U", b"E"]
    assert main.stats()["queue"]["dropped"]["encode_error"] == 1
    (dead,) = _dead_letters(tmp_path / "dead")
    assert dead["event"] == {"type": "x", "n": 2, "@metadata": {"raw": "b'\\x00'"}}
    assert dead["reason"].startswith("cannot encode as JSON")
    assert (tmp_path / "out" / "events").read_bytes() == (
        b'{"type":"x","n":1,"@metadata":{"pipeline":"p"}}\n{"type":"x","n":3}\n')
