"""IPv4 options and IPv6 extension headers are stepped over; ICMP, SCTP and other protocols decode."""

from __future__ import annotations

import struct

from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, LINK_RAW, Decoded, Decoder
from test_decode_framing import (
    V4_CLIENT,
    V4_SERVER,
    V6_CLIENT,
    V6_SERVER,
    ipv6_extension,
    ipv6_fragment_header,
    tcp4,
)

ROUTER_ALERT = bytes([0x94, 0x04, 0x00, 0x00])  # RFC 2113: copied, option 20, length 4
HOP_BY_HOP, ROUTING, FRAGMENT, DEST_OPTS, AH, NO_NEXT = 0, 43, 44, 60, 51, 59


def decode_raw(packet: bytes) -> tuple[Decoder, Decoded | None]:
    decoder = Decoder(LINK_RAW)
    return decoder, decoder.decode(packet, 0, len(packet), len(packet), 1.0)


def v6_tcp_segment() -> bytes:
    return g.tcp(V6_CLIENT, V6_SERVER, 40000, 80, b"hello", flags="PA", seq=1000)


# --- IPv4 options ---------------------------------------------------------------------------------


def test_ipv4_router_alert_option_is_skipped() -> None:
    packet = tcp4(b"hello", ip_options=ROUTER_ALERT)
    assert packet[0] == 0x46  # IHL 6
    d = decode_raw(packet)[1]
    assert d is not None and (d.sport, d.dport, d.payload) == (40000, 80, b"hello")


def test_ipv4_with_forty_bytes_of_options_is_skipped() -> None:
    # Record route (RFC 791 3.1): type 7, length 39, pointer 4, nine empty slots; then end of list.
    record_route = bytes([7, 39, 4]) + bytes(36) + b"\x00"
    packet = tcp4(b"hello", ip_options=record_route)
    assert packet[0] == 0x4F  # IHL 15, the maximum
    d = decode_raw(packet)[1]
    assert d is not None and (d.proto, d.sport, d.payload) == (6, 40000, b"hello")


def test_ipv4_tcp_options_are_not_payload() -> None:
    mss_nop_wscale = bytes.fromhex("020405b4 01030307")
    d = decode_raw(tcp4(b"hello", options=mss_nop_wscale))[1]
    assert d is not None and d.payload == b"hello"
    assert d.data[d.poff - 8 : d.poff] == mss_nop_wscale


# --- IPv6 extension headers ----------------------------------------------------------------------


def test_hop_by_hop_routing_and_destination_options_then_tcp() -> None:
    routing = bytes([0, 0]) + bytes(4) + bytes(16)  # type 0, segments left 0, reserved, one address
    chain = (ipv6_extension(ROUTING, bytes([5, 2, 0, 0]))  # hop-by-hop with router alert
             + ipv6_extension(DEST_OPTS, routing)
             + ipv6_extension(6, bytes([1, 2, 0, 0])))  # destination options: one PadN
    assert len(chain) == 8 + 24 + 8
    decoder, d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, HOP_BY_HOP, chain + v6_tcp_segment()))
    assert d is not None
    assert (d.ip_version, d.proto, d.sport, d.dport, d.seq, d.payload) == (6, 6, 40000, 80, 1000, b"hello")
    assert decoder.decoded == 1


def test_authentication_header_length_counts_four_byte_units() -> None:
    # RFC 4302: payload length is (length in 4-byte units) - 2; 24 bytes here (12-byte ICV).
    ah = bytes([17, 4]) + bytes(2) + struct.pack("!II", 0x100, 1) + bytes(12)
    udp = g.udp(V6_CLIENT, V6_SERVER, 5000, 53, b"q")
    d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, AH, ah + udp))[1]
    assert d is not None and (d.proto, d.sport, d.dport, d.payload) == (17, 5000, 53, b"q")


def test_ipv4_authentication_header_is_not_stepped_over() -> None:
    # Only IPv6 walks extension headers; IPv4 AH is a protocol of its own.
    ah = bytes([6, 4]) + bytes(22)
    d = decode_raw(g.ipv4(V4_CLIENT, V4_SERVER, AH, ah))[1]
    assert d is not None and (d.proto, d.payload) == (AH, ah)


def test_no_next_header_decodes_with_nothing_after_it() -> None:
    d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, HOP_BY_HOP, ipv6_extension(NO_NEXT)))[1]
    assert d is not None and (d.proto, d.payload) == (NO_NEXT, b"")


def test_sixteen_extension_headers_decode_and_seventeen_are_too_many() -> None:
    def chain(n: int) -> bytes:
        return b"".join(ipv6_extension(DEST_OPTS if i < n - 1 else 17) for i in range(n))

    udp = g.udp(V6_CLIENT, V6_SERVER, 5000, 53, b"q")
    d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, DEST_OPTS, chain(16) + udp))[1]
    assert d is not None and d.dport == 53
    decoder, d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, DEST_OPTS, chain(17) + udp))
    assert d is None
    assert decoder.malformed == {"too_many_ipv6_extensions": 1}


def test_an_extension_header_longer_than_the_packet_is_truncated() -> None:
    too_long = bytes([6, 3]) + bytes(6)  # claims 32 bytes, has 8
    decoder, d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, HOP_BY_HOP, too_long))
    assert d is None
    assert decoder.malformed == {"truncated_ipv6_extension": 1}


def test_atomic_fragment_decodes_without_reassembly() -> None:
    # RFC 6946: a fragment header with offset 0 and M clear is a whole packet.
    body = ipv6_fragment_header(6, 0, False, 99) + v6_tcp_segment()
    decoder, d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, FRAGMENT, body))
    assert d is not None and (d.proto, d.payload) == (6, b"hello")
    assert decoder.fragments.stats()["fragments"] == 0 and decoder.fragments_pending == 0


# --- other transports ----------------------------------------------------------------------------


def test_icmpv4_echo_gives_type_code_and_identifier() -> None:
    message = g.icmp_echo(0x1234, 7)
    d = decode_raw(g.ipv4(V4_CLIENT, V4_SERVER, 1, message))[1]
    assert d is not None
    assert (d.proto, d.icmp_type, d.icmp_code, d.icmp_id) == (1, 8, 0, 0x1234)
    assert d.payload == message  # the whole ICMP message, header included


def test_icmpv6_echo_reply_gives_type_and_identifier() -> None:
    message = g.icmp_echo(77, 1, reply=True, v6=True, src=V6_CLIENT, dst=V6_SERVER)
    d = decode_raw(g.ipv6(V6_CLIENT, V6_SERVER, 58, message))[1]
    assert d is not None and (d.proto, d.icmp_type, d.icmp_code, d.icmp_id) == (58, 129, 0, 77)


def test_sctp_gives_ports_and_the_chunks_as_payload() -> None:
    chunk = bytes.fromhex("01000014") + bytes(16)  # INIT chunk header and body
    sctp = struct.pack("!HHII", 2905, 3868, 0, 0) + chunk
    d = decode_raw(g.ipv4(V4_CLIENT, V4_SERVER, 132, sctp))[1]
    assert d is not None and (d.proto, d.sport, d.dport, d.payload) == (132, 2905, 3868, chunk)


def test_other_protocols_decode_with_the_ip_payload() -> None:
    gre = bytes.fromhex("00000800") + b"inner"
    decoder, d = decode_raw(g.ipv4(V4_CLIENT, V4_SERVER, 47, gre))
    assert d is not None and (d.proto, d.sport, d.dport, d.payload) == (47, 0, 0, gre)
    assert decoder.decoded == 1


def test_udp_length_shorter_than_the_ip_payload_bounds_the_payload() -> None:
    udp = bytearray(g.udp(V4_CLIENT, V4_SERVER, 5000, 53, b"query"))
    udp[4:6] = struct.pack("!H", 8 + 3)  # the UDP length says 3 bytes of payload
    d = decode_raw(g.ipv4(V4_CLIENT, V4_SERVER, 17, bytes(udp)))[1]
    assert d is not None and d.payload == b"que"


def test_ethernet_vlan_and_ipv6_extension_headers_combine() -> None:
    chain = ipv6_extension(6, bytes(6))
    frame = g.ethernet(g.ipv6(V6_CLIENT, V6_SERVER, DEST_OPTS, chain + v6_tcp_segment()), ethertype=0x86DD,
                       vlans=(300,))
    decoder = Decoder(LINK_ETHERNET)
    d = decoder.decode(frame, 0, len(frame), len(frame), 1.0)
    assert d is not None and (d.vlans, d.proto, d.payload) == ((300,), 6, b"hello")
