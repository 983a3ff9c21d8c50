"""ICMP message parsing and naming (expected names from Packetbeat's icmp tests)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packetshipper.modules.icmp.kinds import Role, describe, is_error, role_of
from packetshipper.modules.icmp.messages import IcmpMessage
from packetshipper.modules.icmp.parser import parse_message
from packetshipper.protocol import ProtocolError

# From icmp/icmp4_ping.pcap: echo request, id 5, seq 1, data "test".
ECHO_REQUEST_4 = bytes.fromhex("080010200005000174657374")
# From icmp/icmp6_ping.pcap: echo reply, id 5, seq 1, data "test".
ECHO_REPLY_6 = bytes.fromhex("810096d60005000174657374")
# Destination unreachable (port), unused word, then the start of the offending datagram.
UNREACHABLE_4 = bytes.fromhex("0303abcd00000000") + bytes.fromhex("4500001c")


def test_an_echo_request_gives_type_code_id_seq_and_payload_length() -> None:
    assert parse_message(ECHO_REQUEST_4, 4) == IcmpMessage(4, 8, 0, 5, 1, 4)


def test_an_icmpv6_echo_reply_parses_the_same_way() -> None:
    assert parse_message(ECHO_REPLY_6, 6) == IcmpMessage(6, 129, 0, 5, 1, 4)


def test_types_outside_the_pairs_carry_no_identifier() -> None:
    assert parse_message(UNREACHABLE_4, 4) == IcmpMessage(4, 3, 3, 0, 0, 4)


def test_trailing_bytes_count_as_payload() -> None:
    assert parse_message(ECHO_REQUEST_4 + b"\x00" * 10, 4).length == 14


@pytest.mark.parametrize("cut", range(8))
def test_a_message_shorter_than_the_header_is_a_protocol_error(cut: int) -> None:
    with pytest.raises(ProtocolError):
        parse_message(ECHO_REQUEST_4[:cut], 4)


@given(data=st.binary(max_size=64), version=st.sampled_from([4, 6, 5]))
def test_arbitrary_input_raises_nothing_but_protocol_error(data: bytes, version: int) -> None:
    try:
        message = parse_message(data, version)
    except ProtocolError:
        return
    assert message.length == len(data) - 8
    assert describe(version, message.type, message.code)


@pytest.mark.parametrize(
    ("version", "icmp_type", "code", "text"),
    [
        (4, 8, 0, "EchoRequest(0)"),  # test_0050_icmp.py
        (4, 0, 0, "EchoReply(0)"),
        (6, 128, 0, "EchoRequest(0)"),
        (6, 129, 0, "EchoReply(0)"),
        (4, 3, 3, "DestinationUnreachable(Port)"),  # message_test.go
        (6, 1, 3, "DestinationUnreachable(AddressUnreachable)"),
        (4, 11, 0, "TimeExceeded(TTLExceeded)"),
        (4, 3, 99, "DestinationUnreachable(99)"),
        (4, 200, 7, "200(7)"),
        (6, 135, 0, "NeighborSolicitation(0)"),
    ],
)
def test_messages_are_named_as_packetbeat_names_them(version: int, icmp_type: int, code: int, text: str) -> None:
    assert describe(version, icmp_type, code) == text


def test_roles_follow_packetbeat() -> None:
    assert role_of(4, 8) is Role.PAIRED_REQUEST and role_of(4, 0) is Role.RESPONSE
    assert role_of(4, 13) is Role.PAIRED_REQUEST and role_of(4, 14) is Role.RESPONSE
    assert role_of(6, 128) is Role.PAIRED_REQUEST and role_of(6, 129) is Role.RESPONSE
    assert role_of(4, 3) is Role.SINGLE and role_of(6, 135) is Role.SINGLE
    assert is_error(4, 3) and is_error(6, 1) and not is_error(4, 0) and not is_error(6, 129)
