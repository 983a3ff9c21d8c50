"""The compiled Connection maker (_connection.pxi) is Dispatcher._connection's: the same Connection, field
for field, on random packets (IPv4 and IPv6, MACs or none, VLANs, every transport), and None, for the
reference to answer, where an address's length is not its IP version's."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.community_id import community_id
from packetshipper.decode.packet import Packet
from packetshipper.dispatch import Dispatcher
from packetshipper.protocol import Connection, Endpoint
from test_hotpath_equivalence import COMPILED, hot_path

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")


@st.composite
def packets(draw: st.DrawFn) -> Packet:
    version = draw(st.sampled_from([4, 6]))
    size = 4 if version == 4 else 16
    address = st.binary(min_size=size, max_size=size)
    mac = st.one_of(st.none(), st.just(b""), st.binary(min_size=6, max_size=6))
    port = st.one_of(st.integers(0, 0xFFFF), st.just(70000))  # out of range: the reference's community id answers
    return Packet(1_700_000_000.0, 60, version, draw(address), draw(address), draw(st.sampled_from([1, 6, 17, 58, 132])),
                  draw(port), draw(port), b"", 0, 0, 0, 0, draw(st.sampled_from([(), (7,), (7, 9)])), draw(mac), draw(mac))


def _both(pkt: Packet, client_is_src: bool, transport: str) -> tuple[Any, Connection]:
    assert COMPILED is not None
    made = COMPILED.connection_of(pkt, client_is_src, transport, Endpoint, Connection, community_id, itertools.count(5))
    with hot_path(False):
        expected = Dispatcher._connection(SimpleNamespace(_ids=itertools.count(5)), pkt,  # type: ignore[arg-type]
                                          client_is_src, transport)
    return made, expected


@settings(max_examples=400, deadline=None)
@given(pkt=packets(), client_is_src=st.booleans(), transport=st.sampled_from(["tcp", "udp", "icmp"]))
def test_the_compiled_connection_is_the_reference(pkt: Packet, client_is_src: bool, transport: str) -> None:
    made, expected = _both(pkt, client_is_src, transport)
    assert made == expected
    assert type(made.client) is Endpoint and type(made.vlans) is tuple


def test_an_ipv6_pair_with_macs_over_vlans() -> None:
    pkt = Packet(0.0, 80, 6, bytes(15) + b"\x01", bytes.fromhex("fd000000000000000000000000000002"), 6, 40000, 80,
                 b"", 0, 0, 0, 0, (7, 9), bytes.fromhex("020000000001"), bytes.fromhex("0a00270000ff"))
    made, expected = _both(pkt, False, "tcp")
    assert made == expected
    assert made.client == Endpoint("fd00::2", 80, "0A-00-27-00-00-FF") and made.server.ip == "::1"
    assert made.vlans == (7, 9) and made.connection_id == 5 and made.community_id


@pytest.mark.parametrize("src, dst, version", [(bytes(16), bytes(4), 4), (bytes(4), bytes(4), 6), (bytes(3), bytes(3), 4)])
def test_an_address_of_another_length_is_left_to_the_reference(src: bytes, dst: bytes, version: int) -> None:
    assert COMPILED is not None
    pkt = Packet(0.0, 60, version, src, dst, 17, 1, 2, b"", 0, 0, 0, 0, (), None, None)
    assert COMPILED.connection_of(pkt, True, "udp", Endpoint, Connection, community_id, itertools.count()) is None
