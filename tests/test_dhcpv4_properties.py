"""Property tests: only ProtocolError escapes the DHCPv4 reader, built messages read back field for field,
and any option bytes after a valid header give an event that fits the schema."""

from __future__ import annotations

import contextlib
import socket

from dhcpv4_wire import CLIENT, build, event, module, option
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.protocol import Direction, ProtocolError

addresses = st.integers(0, 2**32 - 1).map(lambda n: socket.inet_ntop(socket.AF_INET, n.to_bytes(4, "big")))


@settings(max_examples=300)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        module().parse_datagram(data, 0.0, Direction.REQUEST, CLIENT)


@settings(max_examples=200)
@given(st.binary(max_size=400), st.booleans())
def test_any_options_after_a_valid_header_make_a_valid_event(options: bytes, reply: bool) -> None:
    e = event(build(op=2 if reply else 1, options=[options], end=False))
    assert e["dhcpv4"]["transaction_id"] == "0x1234abcd"


@settings(max_examples=200)
@given(st.integers(1, 2), st.binary(min_size=0, max_size=16), st.integers(0, 255), st.integers(0, 2**32 - 1),
       st.integers(0, 65535), st.booleans(), addresses, addresses, addresses, st.integers(1, 8),
       st.lists(st.integers(1, 254), max_size=20))
def test_built_messages_read_back(op: int, mac: bytes, hops: int, xid: int, secs: int, broadcast: bool,
                                  ciaddr: str, yiaddr: str, giaddr: str, kind: int, requested: list[int]) -> None:
    options = [option(53, bytes([kind]))] + ([option(55, bytes(requested))] if requested else [])
    d = event(build(op=op, mac=mac, hops=hops, xid=xid, secs=secs, broadcast=broadcast, ciaddr=ciaddr, yiaddr=yiaddr,
                    giaddr=giaddr, options=options))["dhcpv4"]
    assert d["op_code"] == ("bootrequest" if op == 1 else "bootreply") and d["hops"] == hops
    assert int(d["transaction_id"], 16) == xid and d["seconds"] == secs
    assert d["flags"] == ("broadcast" if broadcast else "unicast") and bytes.fromhex(d["client_mac"].replace(":", "")) == mac
    for field, value in (("client_ip", ciaddr), ("assigned_ip", yiaddr), ("relay_ip", giaddr)):
        assert d.get(field, "0.0.0.0") == value
    assert d["option"]["message_type"] == ["discover", "offer", "request", "decline", "ack", "nak", "release",
                                           "inform"][kind - 1]
    assert len(d["option"].get("parameter_request_list", [])) == len(requested)
