"""DHCPv4 messages one at a time, from RFC 2131 and RFC 2132: each header field and option as the event
reports it, option overload, long options, malformed values and truncation."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from dhcpv4_wire import CLIENT, build, event, ip, module, option
from packetshipper.pcapgen import udp_frame, write_pcap
from packetshipper.protocol import Connection, Direction, Endpoint, ProtocolError
from packetshipper.testing import events_from_pcap

SERVER_FLOW = Connection("udp", 4, Endpoint("10.1.1.1", 67), Endpoint("10.1.1.50", 68), connection_id=8)


def test_header_fields() -> None:
    e = event(build(op=1, mac=bytes.fromhex("0a1b2c3d4e5f"), hops=2, xid=0xDEADBEEF, secs=513, broadcast=True,
                    ciaddr="10.0.0.5", giaddr="10.9.9.1", options=[option(53, b"\x03")]))
    d = e["dhcpv4"]
    assert d == {"op_code": "bootrequest", "hardware_type": "Ethernet", "hops": 2, "transaction_id": "0xdeadbeef",
                 "seconds": 513, "flags": "broadcast", "client_mac": "0a:1b:2c:3d:4e:5f", "client_ip": "10.0.0.5",
                 "relay_ip": "10.9.9.1", "option": {"message_type": "request"}}
    assert e["related"]["ip"] == ["0.0.0.0", "10.0.0.5", "10.9.9.1", "255.255.255.255"]
    assert e["status"] == "OK" and e["network"]["bytes"] == 236 + 4 + 3 + 1


def test_a_reply_is_sent_by_the_server_to_the_client() -> None:
    e = event(build(op=2, yiaddr="10.1.1.50", siaddr="10.1.1.1", options=[option(53, b"\x05")]),
              from_client=True, connection=SERVER_FLOW)  # the flow's first sender was the server
    assert (e["source"]["ip"], e["destination"]["ip"]) == ("10.1.1.1", "10.1.1.50")
    assert (e["client"]["ip"], e["client"]["port"], e["server"]["ip"], e["server"]["port"]) == (
        "10.1.1.50", 68, "10.1.1.1", 67)
    assert e["server"]["bytes"] == e["source"]["bytes"] == e["network"]["bytes"] and e["client"]["bytes"] == 0
    assert e["dhcpv4"]["assigned_ip"] == "10.1.1.50" and e["dhcpv4"]["server_ip"] == "10.1.1.1"


def test_every_option_packetbeat_reports() -> None:
    vivc = struct.pack("!IB", 4491, 3) + b"abc" + struct.pack("!IB", 9, 0)
    options = [option(53, b"\x02"), option(55, bytes([1, 3, 6, 15, 42, 119, 252, 84])), option(50, ip("10.0.0.9")),
               option(54, ip("10.0.0.1")), option(28, ip("10.0.0.255")), option(57, b"\x05\xdc"),
               option(60, b"MSFT 5.0"), option(15, b"example.org"), option(6, ip("10.0.0.2") + ip("10.0.0.3")),
               option(124, vivc), option(1, ip("255.255.255.0")), option(2, struct.pack("!i", -18000)),
               option(3, ip("10.0.0.1")), option(4, ip("10.0.0.4")), option(42, ip("10.0.0.5") + ip("10.0.0.6")),
               option(12, b"laptop\0"), option(51, struct.pack("!I", 86400)), option(56, b"no leases left"),
               option(58, struct.pack("!I", 43200)), option(59, struct.pack("!I", 75600)), option(67, b"pxelinux.0"),
               option(61, b"\x01\x02\x00\x5e\x10\x20\x30"), option(81, b"\x00\x00\x00x")]
    assert event(build(options=options))["dhcpv4"]["option"] == {
        "message_type": "offer",
        "parameter_request_list": ["Subnet Mask", "Router", "Domain Name Server", "Domain Name", "NTP Servers",
                                   "DNS Domain Search List", "unknown (252)", "unknown (84)"],
        "requested_ip_address": "10.0.0.9", "server_identifier": "10.0.0.1", "broadcast_address": "10.0.0.255",
        "max_dhcp_message_size": 1500, "class_identifier": "MSFT 5.0", "domain_name": "example.org",
        "dns_servers": ["10.0.0.2", "10.0.0.3"],
        "vendor_identifying_options": [{"id": 4491, "data": "616263"}, {"id": 9, "data": ""}],
        "subnet_mask": "255.255.255.0", "utc_time_offset_sec": -18000, "router": ["10.0.0.1"],
        "time_servers": ["10.0.0.4"], "ntp_servers": ["10.0.0.5", "10.0.0.6"], "hostname": "laptop",
        "ip_address_lease_time_sec": 86400, "message": "no leases left", "renewal_time_sec": 43200,
        "rebinding_time_sec": 75600, "boot_file_name": "pxelinux.0"}


def test_zero_times_and_empty_strings_are_left_out_as_packetbeat_does() -> None:
    options = [option(51, b"\0\0\0\0"), option(58, b"\0\0\0\0"), option(12, b""), option(53, b"\x01")]
    assert event(build(options=options))["dhcpv4"]["option"] == {"message_type": "discover"}


def test_server_name_and_boot_file_and_option_overload() -> None:
    plain = event(build(op=2, sname=b"boot.example", file=b"/tftpboot/pxelinux.0"))["dhcpv4"]
    assert plain["server_name"] == "boot.example" and plain["boot_file_name"] == "/tftpboot/pxelinux.0"
    # option 52 = 3: both fields carry options, read after the options field (RFC 2131 4.1)
    overloaded = event(build(op=2, file=option(12, b"from-file") + b"\xff", sname=option(15, b"from.sname") + b"\xff",
                             options=[option(52, b"\x03"), option(53, b"\x05")]))["dhcpv4"]
    assert "server_name" not in overloaded and "boot_file_name" not in overloaded
    assert overloaded["option"] == {"message_type": "ack", "hostname": "from-file", "domain_name": "from.sname"}


def test_a_long_option_split_over_instances_is_concatenated() -> None:
    """RFC 3396: the values of every instance of one option, in order, are one value."""
    servers = [f"10.0.{i}.1" for i in range(70)]  # 280 bytes: more than one option can hold
    value = b"".join(ip(s) for s in servers)
    options = [option(6, value[:252]), option(53, b"\x02"), option(6, value[252:])]
    assert event(build(options=options))["dhcpv4"]["option"]["dns_servers"] == servers


@pytest.mark.parametrize(("bad", "code"), [(option(1, b"\xff\xff"), 1), (option(6, b"\x01\x02\x03"), 6),
                                           (option(53, b""), 53), (option(124, b"\0\0\0\1\x09ab"), 124),
                                           (option(57, b"\x01"), 57)])
def test_a_malformed_option_value_is_left_out_with_a_note(bad: bytes, code: int) -> None:
    e = event(build(options=[bad, option(12, b"host")]))
    assert e["dhcpv4"]["option"] == {"hostname": "host"} and e["notes"][0].startswith(f"option {code} (")


def test_options_running_past_the_end_keep_what_came_before() -> None:
    e = event(build(options=[option(53, b"\x01"), b"\x0c\x20abc"], end=False))
    assert e["dhcpv4"]["option"] == {"message_type": "discover"}
    assert e["notes"] == ["option 12 in options runs past the end of the message: dropped"]


def test_pads_and_bytes_after_end_are_ignored() -> None:
    data = build(options=[b"\0\0", option(53, b"\x07"), b"\0"]) + b"\x0c\x05junk" + bytes(20)
    assert event(data)["dhcpv4"]["option"] == {"message_type": "release"}


def test_unknown_codes_and_long_hardware_addresses() -> None:
    e = event(build(op=7, htype=99, mac=bytes(range(16)), hlen=20, options=[option(53, b"\x63")]))["dhcpv4"]
    assert (e["op_code"], e["hardware_type"], e["option"]["message_type"]) == ("unknown (7)", "Invalid", "unknown (99)")
    assert e["client_mac"] == ":".join(f"{i:02x}" for i in range(16))  # hlen is capped at chaddr's 16 bytes
    assert event(build(mac=b"", hlen=0))["dhcpv4"]["client_mac"] == ""


@pytest.mark.parametrize("data", [b"", bytes(239), build()[:239], build(cookie=b"\0\0\0\0"),
                                  build(cookie=b"\x63\x82\x53\x64")])
def test_short_messages_and_bootp_without_the_cookie_are_protocol_errors(data: bytes) -> None:
    m = module()
    with pytest.raises(ProtocolError):
        m.parse_datagram(data, 1.0, Direction.REQUEST, CLIENT)
    assert m.stats == {"not_dhcp": 1}


def test_every_truncation_of_a_message_is_an_event_or_a_protocol_error() -> None:
    data = build(options=[option(53, b"\x03"), option(55, b"\x01\x03\x06"), option(12, b"host"),
                          option(50, ip("10.0.0.7"))])
    for cut in range(len(data) + 1):
        try:
            e = event(data[:cut])
        except ProtocolError:
            assert cut < 240
        else:
            assert cut >= 240 and e["dhcpv4"]["transaction_id"] == "0x1234abcd"


def test_relayed_messages_through_the_core(tmp_path: Path) -> None:
    """A relay agent talks to the server from port 67 to port 67 (RFC 2131 4.1): the DHCP client of the
    event is the relay for its BOOTREQUEST (the sender) and for the BOOTREPLY to it (the receiver)."""
    relayed = build(hops=1, giaddr="10.0.0.254", options=[option(53, b"\x01")])
    answer = build(op=2, hops=1, giaddr="10.0.0.254", yiaddr="10.0.0.77", options=[option(53, b"\x02")])
    path = tmp_path / "relay.pcap"
    write_pcap(str(path), [(1.0, udp_frame("10.0.0.254", "10.0.1.1", 67, 67, relayed)),
                           (1.1, udp_frame("10.0.1.1", "10.0.0.254", 67, 67, answer))])
    events = [e for e in events_from_pcap(str(path), {"packetshipper": {"protocols": [{"type": "dhcpv4"}]}})
              if e["type"] == "dhcpv4"]
    assert [(e["source"]["ip"], e["client"]["ip"], e["server"]["ip"]) for e in events] == [
        ("10.0.0.254", "10.0.0.254", "10.0.1.1"), ("10.0.1.1", "10.0.0.254", "10.0.1.1")]
    assert [e["dhcpv4"]["relay_ip"] for e in events] == ["10.0.0.254", "10.0.0.254"]
    assert events[1]["dhcpv4"]["assigned_ip"] == "10.0.0.77" and events[0]["dhcpv4"]["hops"] == 1
