"""The compiled Community ID, timestamp and flow id (shipper/_flow_ids.pxi) give the reference's strings:
the spec's baseline table (test_community_id.py), random tuples against community_id.py, random times
against event.iso_timestamp, BLAKE2b against hashlib and flow ids against their definition."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.community_id import community_id
from packetshipper.event import iso_timestamp
from packetshipper.flows import Flow, flow_id_material, id_prefix
from test_community_id import README_TABLE
from test_hotpath_equivalence import COMPILED, hot_path

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")


def compiled_id(proto: int, src: bytes, dst: bytes, sport: int, dport: int) -> str:
    assert COMPILED is not None
    value: str = COMPILED.community_id(proto, src, dst, sport, dport, community_id)
    return value


def ip(text: str) -> bytes:
    return ipaddress.ip_address(text).packed


@pytest.mark.parametrize("row", README_TABLE, ids=lambda row: f"{row[0]}-{row[1]}-{row[3]}")
def test_compiled_community_id_matches_the_spec_baseline(row: tuple) -> None:
    proto, src, dst, sport, dport, expected = row[:6]  # baseline/README.md, default seed, base64
    assert compiled_id(proto, ip(src), ip(dst), sport or 0, dport or 0) == expected


PROTOS = st.sampled_from([1, 6, 17, 58, 132, 0, 2, 47, 50, 255])
ICMP_TYPES = st.sampled_from([0, 3, 8, 9, 10, 13, 14, 15, 16, 17, 18, 128, 129, 130, 131, 132, 133, 134, 135, 136,
                              137, 139, 140, 144, 145, 255])


@settings(max_examples=400, deadline=None)
@given(proto=PROTOS, length=st.sampled_from([4, 16]), data=st.data())
def test_compiled_community_id_equals_the_reference_on_random_tuples(proto: int, length: int,
                                                                     data: st.DataObject) -> None:
    src = data.draw(st.binary(min_size=length, max_size=length))
    dst = data.draw(st.one_of(st.just(src), st.binary(min_size=length, max_size=length)))  # also to itself
    if proto in (1, 58):
        sport, dport = data.draw(ICMP_TYPES), data.draw(st.integers(0, 255))
    else:
        sport, dport = data.draw(st.integers(0, 0xFFFF)), data.draw(st.integers(0, 0xFFFF))
    assert compiled_id(proto, src, dst, sport, dport) == community_id(proto, src, dst, sport, dport)


@pytest.mark.parametrize("args", [(6, b"\x01" * 4, b"\x02" * 16, 1, 2), (6, b"\x01" * 5, b"\x02" * 5, 1, 2),
                                  (1, b"\x01" * 4, b"\x02" * 4, 300, 0), (6, b"\x01" * 4, b"\x02" * 4, 70000, 0),
                                  (256, b"\x01" * 4, b"\x02" * 4, 1, 2)])
def test_compiled_community_id_leaves_what_it_does_not_take_to_the_reference(args: tuple) -> None:
    with pytest.raises(ValueError) as reference:
        community_id(*args)
    with pytest.raises(ValueError) as compiled:
        compiled_id(*args)
    assert str(compiled.value) == str(reference.value)


def compiled_time(ts: float) -> str:
    assert COMPILED is not None
    value: str = COMPILED.iso_timestamp(ts, iso_timestamp)
    return value


@pytest.mark.parametrize("ts, expected", [
    (1_700_000_000.123456, "2023-11-14T22:13:20.123456Z"),
    (0.0, "1970-01-01T00:00:00.000000Z"),
    (0.5e-6, "1970-01-01T00:00:00.000000Z"),  # half a microsecond: to even
    (1.5e-6, "1970-01-01T00:00:00.000002Z"),
    (1_700_000_000.9999996, "2023-11-14T22:13:21.000000Z"),  # rounds into the next second
    (951_782_400.0, "2000-02-29T00:00:00.000000Z"),
    (2_147_483_647.999999, "2038-01-19T03:14:07.999999Z"),
    (253_402_300_799.0, "9999-12-31T23:59:59.000000Z"),
])
def test_compiled_timestamp_is_rfc3339_to_the_nearest_microsecond(ts: float, expected: str) -> None:
    assert iso_timestamp(ts) == expected
    assert compiled_time(ts) == expected


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.floats(0, 4e9), st.integers(0, 4_000_000_000_000_000).map(lambda us: us / 1e6),
                 st.floats(-1e9, 0), st.floats(1e11, 1e13)))
def test_compiled_timestamp_equals_the_reference_on_random_times(ts: float) -> None:
    try:
        expected = iso_timestamp(ts)
    except (OverflowError, OSError, ValueError) as error:
        with pytest.raises(type(error)):
            compiled_time(ts)
        return
    assert compiled_time(ts) == expected


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.binary(min_size=120, max_size=260)), st.integers(1, 64))
def test_compiled_blake2b_equals_hashlib(data: bytes, digest_size: int) -> None:
    assert COMPILED is not None
    assert COMPILED.blake2b_digest(data, digest_size) == hashlib.blake2b(data, digest_size=digest_size).digest()


def reference_flow_id(table_id: tuple, key: object, ts: object) -> str:
    """The definition, written out here: BLAKE2b (15 bytes, URL-safe base64) of repr(table_id), the key's
    bytes and the start as a little-endian double; for other keys or starts, NUL and the repr of all three."""
    if type(key) is bytes and type(ts) is float:
        material = repr(table_id).encode() + key + struct.pack("<d", ts)
    else:
        material = b"\x00" + repr((table_id, key, ts)).encode()
    return base64.urlsafe_b64encode(hashlib.blake2b(material, digest_size=15).digest()).decode()


KEYS = st.one_of(st.binary(max_size=40), st.binary(min_size=200, max_size=300),  # past the C stack buffer
                 st.tuples(st.integers(0, 255), st.binary(max_size=8)))
TIMES = st.one_of(st.floats(0, 4e9), st.floats(allow_nan=False), st.integers(0, 2**40), st.just(1e-06))


@settings(max_examples=300, deadline=None)
@given(vlans=st.lists(st.integers(0, 4095), max_size=3).map(tuple), proto=st.integers(0, 255), key=KEYS, ts=TIMES)
def test_compiled_flow_ids_are_the_definition(vlans: tuple[int, ...], proto: int, key: object, ts: float) -> None:
    assert COMPILED is not None
    table_id = (vlans, proto, -1)
    assert COMPILED.flow_id(repr(table_id).encode(), table_id, key, ts) == reference_flow_id(table_id, key, ts)


@pytest.mark.parametrize("compiled", [True, False])
def test_a_flow_gets_the_same_id_on_both_paths(compiled: bool) -> None:
    table_id, key, ts = ((3,), 17, -1), bytes(range(36)), 1_700_000_000.25
    with hot_path(compiled):
        flow = Flow(table_id, key, key, 6, ts, None, None, -1, -1)
    assert flow.flow_id == reference_flow_id(table_id, key, ts)


TABLE_IDS = st.tuples(st.lists(st.integers(0, 4095), max_size=2).map(tuple), st.integers(0, 255), st.integers(-1, 9))


@settings(max_examples=500, deadline=None)
@given(TABLE_IDS, KEYS, TIMES, TABLE_IDS, KEYS, TIMES)
def test_flow_id_material_is_never_the_same_for_two_flows(t1: tuple, k1: object, ts1: float, t2: tuple, k2: object,
                                                          ts2: float) -> None:
    first = flow_id_material(id_prefix(t1), t1, k1, ts1)
    second = flow_id_material(id_prefix(t2), t2, k2, ts2)
    same = (t1, k1, type(ts1), struct.pack("<d", ts1) if type(ts1) is float else ts1) == (
        t2, k2, type(ts2), struct.pack("<d", ts2) if type(ts2) is float else ts2)
    assert (first == second) == same


