"""The compiled flow event builder (shipper/_flow_event.pxi) makes the pure-Python reference's event, key
for key and in the same order; and the flow id keeps its definition: blake2b (15 bytes, URL-safe base64)
of the table id's repr, the key's bytes and the start time as a little-endian double."""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, Decoder
from packetshipper.engine import Engine
from packetshipper.flows import FLOW_SETTINGS, Flow, FlowTable
from packetshipper.settings import validate
from test_engine_fast_path_equivalence import batches_of
from test_hotpath_equivalence import COMPILED, hot_path, run_engine

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")


def mixed_capture() -> list[tuple[float, bytes]]:
    """TCP and UDP over IPv4 and IPv6, VLAN-tagged flows, ICMP echo both ways, a one-way UDP flow."""
    packets = list(g.generate_mixed(g.MixSpec(flows=300, packets=3000, duration=40.0, seed=3, vlan_share=0.2)))
    ts = packets[-1][0]
    extra = [
        g.icmp_frame("10.9.0.1", "10.9.0.2", 7, 1), g.icmp_frame("10.9.0.2", "10.9.0.1", 7, 1, reply=True),
        g.icmp_frame("fd00::1", "fd00::2", 8, 1), g.udp_frame("10.9.0.3", "10.9.0.4", 5353, 5353, b"one way"),
        g.tcp_frame("fd00::5", "fd00::6", 40000, 443, flags="S", vlans=(12,)),
    ]
    return packets + [(ts + 0.25 * (i + 1), frame) for i, frame in enumerate(extra)]


@pytest.mark.parametrize("flow_settings", [{}, {"enable_delta_flow_reporting": True, "period": "5s"},
                                           {"tcp_health": False, "period": -1}])
def test_compiled_flow_events_equal_the_reference_in_content_and_key_order(
        flow_settings: dict[str, Any], assert_valid_event: Callable[[dict[str, Any]], None]) -> None:
    batches = batches_of(mixed_capture(), [64, 7, 200])
    compiled = run_engine(True, LINK_ETHERNET, batches, flow_settings)[0]
    pure = run_engine(False, LINK_ETHERNET, batches, flow_settings)[0]
    assert len(compiled) > 300
    assert repr(compiled) == repr(pure)  # dicts' repr follows insertion order: same keys, same order
    kinds = {(event["network"]["type"], event["network"].get("transport")) for event, _, _ in compiled}
    assert {("ipv4", "tcp"), ("ipv6", "tcp"), ("ipv4", "udp"), ("ipv4", "icmp"), ("ipv6", "ipv6-icmp")} <= kinds
    assert any("vlan" in event["flow"] for event, _, _ in compiled)
    assert any("packets" not in event["destination"] for event, _, _ in compiled)
    for event, _, _ in compiled:
        assert_valid_event(event)


def test_the_flow_id_is_blake2b_of_table_key_and_start() -> None:
    cases = [(((), 6, -1), bytes([10, 0, 0, 1, 10, 0, 0, 2, 0x9C, 0x40, 0, 80]), 1_700_000_000.123456),
             (((5,), 17, -1), bytes(range(36)), 1_700_000_001.0),
             (((1, 2), 1, 7), b"\x7f\x00\x00\x01'\"\\\x00", 1e-06)]
    for table_id, key, ts in cases:
        flow = Flow(table_id, key, key, 4, ts, None, None, -1, -1)
        material = repr(table_id).encode() + key + struct.pack("<d", ts)
        digest = hashlib.blake2b(material, digest_size=15).digest()
        assert flow.flow_id == base64.urlsafe_b64encode(digest).decode()


V6A, V6B = bytes(15) + b"\x01", bytes.fromhex("fd000000000000000000000000000002")


@pytest.mark.parametrize("table_id, key, ip_version, macs", [
    (((), 6, -1), bytes([10, 0, 0, 1, 10, 0, 0, 2, 0x9C, 0x40, 0, 80]), 4, (b"\x0a" * 6, b"\xff" * 6)),
    (((7,), 132, -1), V6A + V6B + b"\x00\x01\x00\x02", 6, (None, None)),
    (((1, 2), 47, -1), bytes([192, 168, 0, 1, 192, 168, 0, 2]), 4, (b"", b"")),  # no ports; empty MACs
    (((), 6, -1), V6A + V6B, 6, (b"\x00\x01\x02\x03\x04\x05", None)),  # TCP without ports: port 0; one MAC only
    (((), 50, -1), bytes(range(9)), 4, (None, None)),  # a key of no address shape: the reference's answer
])
def test_compiled_static_parts_equal_the_reference(table_id: Any, key: bytes, ip_version: int,
                                                   macs: tuple[bytes | None, bytes | None]) -> None:
    from packetshipper.modules.flows import event as module

    def parts(compiled: bool) -> str:
        flow = Flow(table_id, key, key, ip_version, 1_700_000_000.5, macs[0], macs[1], -1, -1)
        with hot_path(compiled):
            try:
                return repr(module._static_parts(flow))
            except ValueError as error:  # the same failure both ways
                return f"ValueError {error}"

    assert parts(True) == parts(False)


@pytest.mark.parametrize("table_id, key, ip_version, macs", [
    (((), 6, -1), bytes([0, 9, 10, 99, 100, 199, 200, 255, 0x9C, 0x40, 0, 80]), 4, (b"\x0a" * 6, b"\xff" * 6)),
    (((4095,), 17, -1), bytes([1, 2, 3, 4, 5, 6, 7, 8, 0, 53, 0xFF, 0xFF]), 4, (None, None)),
    (((7,), 132, -1), V6A + V6B + b"\x00\x01\x00\x02", 6, (None, None)),
    (((1, 2), 47, -1), bytes([192, 168, 0, 1, 192, 168, 0, 2]), 4, (b"", b"")),  # no ports; empty MACs
    (((), 6, -1), V6A + V6B, 6, (b"\x00\x01\x02\x03\x04\x05", None)),  # TCP without ports; one MAC
    (((), 255, -1), bytes(8), 4, (b"\x01" * 6, b"\x02" * 6)),  # no transport name: iana_number
    (((), 1, -1), bytes([10, 0, 0, 1, 10, 0, 0, 2, 1, 44, 0, 0]), 4, (None, None)),  # ICMP "ports" above 255
])
@pytest.mark.parametrize("start, last", [(1_700_000_000.5, 1_700_000_012.25), (0.0, 0.0000015), (5, 7.5)])
def test_flow_json_of_every_key_shape_is_orjsons_encoding_of_the_event(
        table_id: Any, key: bytes, ip_version: int, macs: tuple[bytes | None, bytes | None], start: float,
        last: float) -> None:
    from packetshipper.event import iso_timestamp
    from packetshipper.modules.flows import event as module

    def flow_of() -> Flow:
        flow = Flow(table_id, key, key, ip_version, start, macs[0], macs[1], -1, -1)
        flow.last, flow.packets0, flow.bytes0 = last, 3, 180
        return flow

    def outcome(make: Callable[[], bytes]) -> bytes | str:
        try:
            return make()
        except ValueError as error:  # the same failure both ways (a Community ID of ICMP "ports" > 255)
            return f"ValueError {error}"

    with hot_path(False):
        expected = outcome(lambda: orjson.dumps(module.flow_event(flow_of(), 1_700_000_020.0, True, (3, 180, 0, 0))))
    written = outcome(lambda: COMPILED.flow_event_json(flow_of(), 1_700_000_020.0, True, (3, 180, 0, 0),
                                                       module._static_parts, iso_timestamp))
    assert written == expected


@pytest.mark.parametrize("flow_settings", [{}, {"enable_delta_flow_reporting": True, "period": "5s"},
                                           {"tcp_health": False, "period": -1}])
def test_the_flow_event_written_straight_to_json_is_orjsons_encoding_of_the_event(
        flow_settings: dict[str, Any]) -> None:
    from packetshipper.event import iso_timestamp
    from packetshipper.modules.flows import event as module

    pairs: list[tuple[bytes, bytes]] = []

    def emit(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        expected = orjson.dumps(module.flow_event(flow, now, final, counts))
        pairs.append((COMPILED.flow_event_json(flow, now, final, counts, module._static_parts, iso_timestamp),
                      expected))

    flows = FlowTable(validate(FLOW_SETTINGS, flow_settings), emit)
    engine = Engine(Decoder(LINK_ETHERNET), flows, None)
    for buf, meta in batches_of(mixed_capture(), [64, 7, 200]):
        engine.process_batch(buf, meta)
    engine.finish()
    assert len(pairs) > 300
    assert [written for written, _ in pairs] == [expected for _, expected in pairs]
    assert any(b'"tcp":' in written for written, _ in pairs) == (flow_settings.get("tcp_health", True))


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(), st.floats(allow_nan=False),
              st.text(alphabet=st.characters(max_codepoint=0x7F))),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children,
                                                                                max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_the_compiled_json_writer_writes_what_orjson_writes(value: Any) -> None:
    assert COMPILED.dumps(value) == orjson.dumps(value)


@pytest.mark.parametrize("number", [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 10**9, 10**18, 2**63 - 1,
                                    -1, -9, -10, -99, -100, -(2**63), -(2**63) + 1])
def test_the_compiled_json_writer_writes_integers_at_their_digit_boundaries_as_str(number: int) -> None:
    assert COMPILED.dumps(number) == str(number).encode()
