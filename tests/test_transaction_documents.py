"""Transaction events written as JSON by the compiled path and queued as documents (`transaction_document`).

The reference is the dict path: `orjson.dumps(Envelope.wrap(transaction_event(...)))` on random
transactions and module fields (members merged as deep_merge merges them, OMIT, mappings that are not
dicts, what JSON cannot hold), and, for whole runs of every module's captures, the same run with schema
validation on (which needs each event as a dict, so no documents): the same bytes to the file output.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.event import ECS_VERSION, OMIT, Envelope, deep_merge, iso_timestamp, transaction_event
from packetshipper.protocol import Connection, Endpoint, Status, Transaction
from packetshipper.registry import available_modules
from test_flow_documents import _run as run_to_file
from test_hotpath_equivalence import COMPILED
from test_hotpath_transaction_event import transactions

needs_compiled = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")

PCAPS = Path(__file__).parent / "pcaps" / "packetbeat"
CAPTURES = [  # a capture or more of each module with one, their fields as varied as the corpus has them
    "http_minitwit.pcap", "http_post.pcap", "http_unmatched.pcap", "http_over_vlan.pcap", "dns_mx.pcap",
    "dns_additional.pcap", "dns_udp_edns_ds.pcap", "dns_tcp_axfr.pcap", "dns_not_found.pcap",
    "icmp/icmp_2_pings.pcap", "icmp/icmp6_ping_over_vlan.pcap", "tls-sample1.pcap", "tls-version-13.pcap",
    "mysql_prepare_statement.pcap", "mysql_err_database_not_selected.pcap", "pgsql_insert_error.pcap",
    "memcache/memcache_text_tcp_counter_ops.pcap", "mongodb_find.pcap", "amqp_channel_error.pcap", "thrift_tutorial.pcap", "nfs_v4.pcap",
    "sip_authenticated_register.pcap", "dhcp.pcap", "memcache/memcache_bin_tcp_multi_store_load.pcap",
]
ALL_MODULES = "packetshipper.protocols=[" + ", ".join(f"{{type: {name}}}" for name in sorted(available_modules())) + "]"
ENVELOPE = Envelope("sensor-1")
TAIL = b"," + orjson.dumps({"agent": ENVELOPE.agent, "ecs": {"version": ECS_VERSION}, "host": ENVELOPE.host})[1:]


def _document(name: str, txn: Transaction[Any, Any], fields: Any) -> bytes | None:
    assert COMPILED is not None
    return COMPILED.transaction_document(name, txn, fields, Status.OK, OMIT, Mapping,  # type: ignore[no-any-return]
                                         deep_merge, iso_timestamp, TAIL)


def _reference(name: str, txn: Transaction[Any, Any], fields: Any) -> bytes:
    return orjson.dumps(ENVELOPE.wrap(transaction_event(name, txn, fields)))


leaves = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 70), 1 << 70), st.floats(allow_nan=False),
                   st.text(max_size=4), st.just(OMIT), st.lists(st.integers(0, 3), max_size=2),
                   st.sampled_from([Status.ERROR, "\u00e9\"\\\n\x01"]))
keys = st.sampled_from(["@timestamp", "type", "status", "event", "network", "source", "destination", "client",
                        "server", "related", "error", "tcp", "notes", "ip", "bytes", "port", "outcome", "dns", "x"])
values = st.recursive(leaves, lambda inner: st.one_of(
    st.dictionaries(keys, inner, max_size=4),
    st.dictionaries(keys, inner, max_size=3).map(MappingProxyType)), max_leaves=12)


@needs_compiled
@settings(max_examples=500, deadline=None)
@given(name=st.sampled_from(["dns", "icmp", "http"]), txn=transactions(), fields=st.dictionaries(keys, values, max_size=6))
def test_the_document_is_the_encoded_reference_event(name: str, txn: Transaction[Any, Any],
                                                     fields: dict[str, Any]) -> None:
    try:
        expected: bytes | None = _reference(name, txn, fields)
    except TypeError:  # OMIT left inside a new member, say: orjson refuses the event
        expected = None
    assert _document(name, txn, fields) == expected


CONN = Connection("tcp", 4, Endpoint("10.0.0.1", 40000, "02-00-00-00-00-01"), Endpoint("10.0.0.2", 80), (7,), "1:a=", 3)
TXN = Transaction(CONN, "req", "resp", 1_700_000_000.25, 1_700_000_000.5, 100, 200, Status.OK, None, ("n",), 1)


@needs_compiled
@pytest.mark.parametrize("fields", [
    {"http": {"response": {"status_code": 200}}, "url": {"full": "http://x/"}},
    {"network": {"transport": "udp", "direction": "inbound"}, "related": {"ip": ["10.0.0.1", "192.0.2.1"]}},
    {"event": {"duration": OMIT}, "source": {"bytes": OMIT}, "destination": OMIT, "status": "Error"},
    {"error": {"message": "late"}, "tcp": {"gaps": 9}, "notes": ["replaced"], "x": OMIT},
    {"event": MappingProxyType({"outcome": "unknown"}), "network": MappingProxyType({"x": {"y": 1}})},
    {},
], ids=["new members", "merged members", "OMIT", "members the event may lack", "mappings", "no fields"])
def test_named_fields_give_the_reference_bytes(fields: dict[str, Any]) -> None:
    document = _document("http", TXN, fields)
    assert document == _reference("http", TXN, fields)


@needs_compiled
@pytest.mark.parametrize("fields", [
    MappingProxyType({"x": 1}),  # not a dict: merged by the dict path
    {"host": {"hostname": "client"}},  # the envelope's member: the dict path merges it into the envelope's
    {"agent": {}}, {"@metadata": {"raw_index": "x"}},
    {1: "a"}, {"x": {2: "b"}},  # keys only the output's encoder options decide about
    {"x": object()}, {"x": "\ud800"},  # what JSON cannot hold: the dict path says why
])
def test_fields_the_dict_path_must_take_give_none(fields: Any) -> None:
    assert _document("nfs", TXN, fields) is None


def _run(tmp_path: Path, pcap: Path, *args: str) -> str:
    return run_to_file(tmp_path, pcap, "-E", ALL_MODULES, *args)


@needs_compiled
@pytest.mark.parametrize("name", CAPTURES)
def test_transaction_documents_are_the_bytes_the_dict_path_writes(tmp_path: Path, name: str) -> None:
    documents = _run(tmp_path / "a", PCAPS / name)
    dicts = _run(tmp_path / "b", PCAPS / name, "-E", "validation.enabled=true")
    assert documents.count("\n") > documents.count('"type":"flow"')  # transactions too
    assert documents == dicts


@needs_compiled
def test_tags_or_a_processor_keep_transaction_events_dicts(tmp_path: Path) -> None:
    pcap = PCAPS / "dns_mx.pcap"
    tagged = _run(tmp_path / "a", pcap, "-E", "tags=[seen]").splitlines()
    added = _run(tmp_path / "b", pcap, "-E", "processors=[{add_fields: {fields: {seen: 1}}}]").splitlines()
    assert any('"type":"dns"' in line for line in tagged)
    assert all('"tags":["seen"]' in line for line in tagged)
    assert all('"fields":{"seen":1}' in line for line in added) and len(added) == len(tagged)


@needs_compiled
@pytest.mark.parametrize("name", ["http_minitwit.pcap", "dns_additional.pcap", "tls-version-13.pcap"])
def test_the_pure_path_writes_the_same_bytes(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    documents = _run(tmp_path / "a", PCAPS / name)
    monkeypatch.setenv("PACKETSHIPPER_PURE_PYTHON", "1")
    assert _run(tmp_path / "b", PCAPS / name) == documents


@needs_compiled
def test_elasticsearch_indexes_the_same_transaction_documents_with_ids_of_their_own(tmp_path: Path) -> None:
    from servers.es_server import EsServer

    pcap = PCAPS / "dns_additional.pcap"
    indexed: list[tuple[list[dict[str, Any]], list[tuple[str, str]]]] = []
    for extra in ([], ["-E", "validation.enabled=true"]):
        with EsServer() as es:
            result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(pcap), "-t", "-E", ALL_MODULES,
                                     "-E", "output.console.enabled=false",
                                     "-E", f"output.elasticsearch.hosts=['127.0.0.1:{es.port}']", *extra],
                                    capture_output=True, text=True, timeout=120, cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            indexed.append((es.all_documents(), es.document_ids()))
    (documents, ids), (dicts, _) = indexed
    assert any(doc["type"] == "dns" for doc in documents)
    assert documents == dicts
    assert len(ids) == len(documents) == len({doc_id for _, doc_id in ids})
