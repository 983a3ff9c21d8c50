"""The compiled transaction envelope (_txn_event.pxi) is event.transaction_event's: the same event, key for
key and in the same order, on random transactions and module fields (merged as deep_merge does, OMIT and
non-dict mappings included)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.event import OMIT, deep_merge, iso_timestamp, transaction_event
from packetshipper.protocol import Connection, Endpoint, Status, Transaction
from test_hotpath_equivalence import COMPILED

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")

T0 = 1_700_000_000.0

endpoints = st.builds(Endpoint, st.sampled_from(["10.0.0.1", "10.0.0.2", "fd00::1", "192.0.2.53"]),
                      st.sampled_from([0, 53, 80, 40000]), st.sampled_from([None, "", "02-00-00-00-00-01"]))
connections = st.builds(Connection, st.sampled_from(["tcp", "udp", "icmp"]), st.sampled_from([4, 6, 7]), endpoints,
                        endpoints, st.sampled_from([(), (7,), (7, 9)]), st.sampled_from([None, "", "1:abc="]),
                        st.integers(0, 9))
times = st.one_of(st.floats(T0, T0 + 100, allow_nan=False), st.integers(int(T0), int(T0) + 100),
                  st.sampled_from([T0 + 0.0000005, T0 + 0.0000015, T0 + 0.123456789]))
# Values a module's fields may hold: scalars, lists, nested dicts (to merge into the envelope's), OMIT.
leaves = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3), st.just(OMIT),
                   st.lists(st.integers(0, 3), max_size=2))
keys = st.sampled_from(["network", "event", "source", "related", "ip", "type", "transport", "bytes", "status",
                        "error", "notes", "dns", "x"])
values = st.recursive(leaves, lambda inner: st.one_of(
    st.dictionaries(keys, inner, max_size=4),
    st.dictionaries(keys, inner, max_size=3).map(MappingProxyType)), max_leaves=12)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction[Any, Any]:
    start = draw(times)
    end = draw(st.one_of(st.just(start), times))
    return Transaction(draw(connections), draw(st.sampled_from([None, "req"])), draw(st.sampled_from([None, "resp"])),
                       start, end, draw(st.integers(0, 5000)), draw(st.integers(0, 5000)), draw(st.sampled_from(Status)),
                       draw(st.sampled_from([None, "", "Unmatched request"])),
                       draw(st.sampled_from([(), ("a note",), ("a", "b")])), draw(st.integers(0, 2)),
                       draw(st.integers(0, 2)), draw(st.integers(0, 2)))


def _compiled(name: str, txn: Transaction[Any, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    return COMPILED.transaction_event(name, txn, fields, Status.OK, OMIT, Mapping, deep_merge,  # type: ignore[no-any-return]
                                      iso_timestamp)


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(["dns", "icmp", "http"]), txn=transactions(),
       fields=st.one_of(st.dictionaries(keys, values, max_size=5),
                        st.dictionaries(keys, values, max_size=3).map(MappingProxyType)))
def test_the_compiled_envelope_is_the_reference_key_for_key(name: str, txn: Transaction[Any, Any],
                                                           fields: Mapping[str, Any]) -> None:
    expected = transaction_event(name, txn, fields)
    got = _compiled(name, txn, fields)
    assert repr(got) == repr(expected)


def test_a_dns_answer_envelope_is_the_reference_key_for_key() -> None:
    conn = Connection("udp", 4, Endpoint("10.0.0.1", 40000, "02-00-00-00-00-01"), Endpoint("192.0.2.53", 53), (),
                      "1:abc=", 1)
    txn = Transaction(conn, "query", "answer", T0 + 0.000480, T0 + 0.004280, 38, 54, Status.OK)
    fields = {"dns": {"id": 1}, "method": "QUERY", "related": {"ip": ["10.0.0.1", "192.0.2.53", "203.0.113.7"]},
              "network": {"transport": "udp"}}
    got = _compiled("dns", txn, fields)
    assert repr(got) == repr(transaction_event("dns", txn, fields))
    assert got["event"]["duration"] == 3_800_000 and got["related"]["ip"][-1] == "203.0.113.7"
    assert list(got)[-3:] == ["related", "dns", "method"]
