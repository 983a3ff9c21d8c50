"""Flow events made as JSON by the compiled path and queued as documents (`Publisher.document_sink`).

The reference is the dict path: the same run with schema validation on (which needs each event as a dict,
so no documents) must write the same bytes, line for line, to the file output; and Elasticsearch must
index the same documents, each with an id of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packetshipper import hotpath
from packetshipper.modules.flows import flow_event_json
from servers.es_server import EsServer

PCAPS = Path(__file__).parent / "pcaps"
CAPTURES = [  # TCP with health counters, UDP, ICMP and ICMPv6, IPv6, VLANs, many short flows
    "packetbeat/http_minitwit.pcap",
    "packetbeat/dns_mx.pcap",
    "packetbeat/communityid/icmp6.pcap",
    "packetbeat/icmp/icmp_2_pings.pcap",
    "packetbeat/icmp/icmp6_ping_over_vlan.pcap",
    "packetbeat/http_over_vlan.pcap",
    "packetbeat/ipv6_thrift.pcap",
    "packetbeat/802.1q-q-in-q-icmp.pcap",
    "packetbeat/mysql_with_whitespaces.pcap",
]

needs_compiled = pytest.mark.skipif(flow_event_json is None, reason="needs the compiled flow event builder")


def _run(tmp_path: Path, pcap: Path, *args: str) -> str:
    out = tmp_path / "out"
    tmp_path.mkdir(parents=True, exist_ok=True)  # a per-run directory under the test's own (the cwd)
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(pcap), "-t",
                             "-E", "output.console.enabled=false", "-E", "output.file.enabled=true",
                             "-E", f"output.file.path={out}", "-E", "output.file.filename=events", *args],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return (out / "events").read_text()


@needs_compiled
@pytest.mark.parametrize("name", CAPTURES)
def test_flow_documents_are_the_bytes_the_dict_path_writes(tmp_path: Path, name: str) -> None:
    pcap = PCAPS / name
    flows_only = ["-E", "packetshipper.protocols=[]"]
    documents = _run(tmp_path / "a", pcap, *flows_only)
    dicts = _run(tmp_path / "b", pcap, *flows_only, "-E", "validation.enabled=true")
    assert documents.count('"type":"flow"') > 0
    assert documents == dicts


@needs_compiled
def test_flow_documents_and_transactions_keep_their_order(tmp_path: Path) -> None:
    pcap = PCAPS / "packetbeat/http_minitwit.pcap"
    assert _run(tmp_path / "a", pcap) == _run(tmp_path / "b", pcap, "-E", "validation.enabled=true")


@needs_compiled
def test_elasticsearch_indexes_the_same_flow_documents_with_ids_of_their_own(tmp_path: Path) -> None:
    pcap = PCAPS / "packetbeat/http_minitwit.pcap"
    indexed: list[tuple[list[dict[str, Any]], list[tuple[str, str]]]] = []
    for extra in ([], ["-E", "validation.enabled=true"]):
        with EsServer() as es:
            result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(pcap), "-t",
                                     "-E", "packetshipper.protocols=[]", "-E", "output.console.enabled=false",
                                     "-E", f"output.elasticsearch.hosts=['127.0.0.1:{es.port}']", *extra],
                                    capture_output=True, text=True, timeout=120, cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            indexed.append((es.all_documents(), es.document_ids()))
    (documents, ids), (dicts, _) = indexed
    assert documents and all(doc["type"] == "flow" for doc in documents)
    assert documents == dicts
    # one id each, all of the run's own sequence: a 16-character prefix and a counter
    assert len(ids) == len(documents) == len({doc_id for _, doc_id in ids})
    assert len({doc_id[:16] for _, doc_id in ids}) == 1


def test_the_pure_path_builds_flow_events_as_dicts(monkeypatch: pytest.MonkeyPatch) -> None:
    if flow_event_json is not None:
        monkeypatch.setattr(hotpath, "enabled", False)
        assert flow_event_json(None, 0.0, True, (0, 0, 0, 0)) is None  # type: ignore[arg-type]


def test_validation_or_a_processor_keeps_flow_events_dicts(tmp_path: Path) -> None:
    pcap = PCAPS / "packetbeat/dns_mx.pcap"
    tagged = [json.loads(line) for line in _run(tmp_path, pcap, "-E", "packetshipper.flows.tags=[seen]").splitlines()]
    flows = [event for event in tagged if event["type"] == "flow"]
    assert flows and all(event["tags"] == ["seen"] for event in flows)


@needs_compiled
def test_two_workers_send_the_flow_documents_one_process_writes(tmp_path: Path) -> None:
    pcap = PCAPS / "packetbeat/http_minitwit.pcap"  # several address pairs: both workers get flows
    two = _run(tmp_path / "a", pcap, "-E", "packetshipper.workers=2").splitlines()
    one = _run(tmp_path / "b", pcap, "-E", "validation.enabled=true").splitlines()
    assert sum('"type":"flow"' in line for line in one) > 1
    assert sorted(two) == sorted(one)


@needs_compiled
def test_flow_documents_in_bulk_with_expiry_between_live_flows_and_a_small_queue(tmp_path: Path) -> None:
    """Periodic reports and final ones made many at a time (`FlowTable.report_many`, 256 a call): flows
    that time out while others go on, the end of file, and a queue much smaller than one report."""
    from packetshipper.pcapgen import MixSpec, generate_mixed, write_pcap

    early = MixSpec(flows=700, packets=7000, duration=25.0, seed=3, start=1_700_000_000.0)
    late = MixSpec(flows=500, packets=5000, duration=40.0, seed=4, start=1_700_000_040.0)
    pcap = tmp_path / "bulk.pcap"
    write_pcap(str(pcap), [*generate_mixed(early), *generate_mixed(late)])
    small_queue = ["-E", "packetshipper.protocols=[]", "-E", "queue.mem.events=64", "-E",
                   "queue.mem.flush.min_events=16"]
    documents = _run(tmp_path / "a", pcap, *small_queue)
    dicts = _run(tmp_path / "b", pcap, *small_queue, "-E", "validation.enabled=true")
    assert documents == dicts
    events = [json.loads(line) for line in documents.splitlines()]
    finals = [event["@timestamp"] for event in events if event["flow"]["final"]]
    assert len(finals) == len({event["flow"]["id"] for event in events}) >= 1000
    assert len(finals) < len(events)  # periodic reports too
    assert min(finals) < "2023-11-14T22:14:20"  # early flows ended by a sweep while late ones were live
