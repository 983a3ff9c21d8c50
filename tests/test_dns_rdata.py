"""RDATA decoding for each supported record type, in Packetbeat's shape, and the generic fallback."""

from __future__ import annotations

import dns_wire as w
import pytest
from packetshipper.modules.dns.messages import Record
from packetshipper.modules.dns.parser import parse_message


def answer(rtype: int, rdata: bytes, owner: str = "example.com") -> Record:
    msg = w.message(header_flags=w.flags(qr=True), questions=[w.question(owner, rtype)], answers=[w.rr(owner, rtype, rdata)])
    (record,) = parse_message(msg, 0.0).answers
    assert record.name == owner + "."
    assert record.rtype == rtype and record.rclass == w.IN and record.ttl == 300
    return record


def test_a() -> None:
    r = answer(w.A, bytes([192, 0, 2, 1]))
    assert (r.data, r.address, r.details, r.malformed) == ("192.0.2.1", "192.0.2.1", (), False)


def test_aaaa_is_written_in_rfc5952_short_form() -> None:
    r = answer(w.AAAA, bytes.fromhex("20010db8000000000000000000000001"))
    assert (r.data, r.address) == ("2001:db8::1", "2001:db8::1")


@pytest.mark.parametrize("rtype", [w.NS, w.CNAME, w.PTR])
def test_name_targets_lose_the_trailing_dot(rtype: int) -> None:
    r = answer(rtype, w.name("target.example.net"))
    assert (r.data, r.details, r.address) == ("target.example.net", (), None)


def test_mx() -> None:
    r = answer(w.MX, b"\x00\x0a" + w.name("mail.example.com"))
    assert r.data == "mail.example.com"
    assert r.details == (("preference", 10),)


def test_txt_joins_strings_with_a_space_and_escapes_quotes_and_binary() -> None:
    r = answer(w.TXT, w.character_strings(b"v=spf1 include:_spf.google.com ~all", b'say "hi"\x01'))
    assert r.data == 'v=spf1 include:_spf.google.com ~all say \\"hi\\"\\001'


def test_empty_txt_string() -> None:
    assert answer(w.TXT, b"\x00").data == ""


def test_soa() -> None:
    rdata = w.name("ns1.example.com") + w.name("hostmaster.example.com") + bytes.fromhex(
        "00000003" "0000003c" "00000258" "00015180" "00000e10"
    )
    r = answer(w.SOA, rdata)
    assert r.data == "ns1.example.com"
    assert dict(r.details) == {
        "rname": "hostmaster.example.com",
        "serial": 3,
        "refresh": 60,
        "retry": 600,
        "expire": 86400,
        "minimum": 3600,
    }


def test_srv() -> None:
    r = answer(w.SRV, bytes.fromhex("0001" "0005" "1f90") + w.name("sip.example.com"), owner="_sip._tcp.example.com")
    assert r.data == "sip.example.com"
    assert r.details == (("priority", 1), ("weight", 5), ("port", 8080))


def test_caa() -> None:
    r = answer(w.CAA, b"\x80\x05issueletsencrypt.org")
    assert r.data == "letsencrypt.org"
    assert r.details == (("flags", "128"), ("tag", "issue"))


def test_naptr() -> None:
    rdata = bytes.fromhex("0064" "000a") + b"\x01S\x07SIP+D2U\x00" + w.name("_sip._udp.example.com")
    r = answer(w.NAPTR, rdata)
    assert r.data == "_sip._udp.example.com"
    assert dict(r.details) == {"order": 100, "preference": 10, "flags": "S", "service": "SIP+D2U", "regexp": ""}


def test_ds_as_in_dns_udp_edns_ds_pcap() -> None:
    # Values as tshark shows them for the first answer of dns_udp_edns_ds.pcap.
    digest = bytes.fromhex("67fcd7e0b9e0366309f3b6f7476dff931d5226edc5348cd80fd82a081dfcf6ee")
    r = answer(w.DS, bytes.fromhex("b212" "05" "02") + digest, owner="ietf.org")
    assert r.data == "67FCD7E0B9E0366309F3B6F7476DFF931D5226EDC5348CD80FD82A081DFCF6EE"
    assert dict(r.details) == {"key_tag": "45586", "algorithm": "RSASHA1", "digest_type": "SHA256"}


def test_dnskey() -> None:
    r = answer(w.DNSKEY, bytes.fromhex("0101" "03" "0d") + b"hello")
    assert r.data == "aGVsbG8="
    assert dict(r.details) == {"flags": "257", "protocol": "3", "algorithm": "ECDSAP256SHA256"}


def test_rrsig_times_are_utc_yyyymmddhhmmss() -> None:
    # Feb 7 2013 15:49:24 UTC = 1360252164, Jan 17 2013 14:49:24 UTC = 1358434164 (date -u +%s).
    fixed = bytes.fromhex("002b" "07" "02" "00015180") + (1360252164).to_bytes(4, "big") + (1358434164).to_bytes(4, "big")
    r = answer(w.RRSIG, fixed + bytes.fromhex("a33e") + w.name("org") + b"hello", owner="ietf.org")
    assert r.data == "aGVsbG8="
    assert dict(r.details) == {
        "type_covered": "DS",
        "algorithm": "RSASHA1-NSEC3-SHA1",
        "labels": "2",
        "original_ttl": "86400",
        "expiration": "20130207154924",
        "inception": "20130117144924",
        "key_tag": "41790",
        "signer_name": "org",
    }


def test_nsec_type_bitmap() -> None:
    # RFC 4034 4.3's example: A MX RRSIG NSEC TYPE1234
    bitmap = bytes.fromhex("0006400100000003" "041b" + "00" * 26 + "20")
    r = answer(w.NSEC, w.name("host.example.com") + bitmap)
    assert r.data == "host.example.com."  # Packetbeat keeps NSEC's trailing dot
    assert r.details == (("type_bits", "A MX RRSIG NSEC 1234"),)


def test_nsec_bitmap_window_of_bad_length_falls_back_to_generic() -> None:
    r = answer(w.NSEC, w.name("a") + b"\x00\x21" + b"\x00" * 33)
    assert r.malformed


def test_nsec3() -> None:
    rdata = bytes.fromhex("01" "01" "000a" "02" "abcd" "03" "00ff10") + bytes.fromhex("0001" "40")
    r = answer(50, rdata)
    assert r.data == "03VH0"
    assert dict(r.details) == {"hash": "SHA1", "flags": "1", "iterations": "10", "salt": "ABCD", "type_bits": "A"}


def test_nsec3param_empty_salt_is_a_dash() -> None:
    r = answer(51, bytes.fromhex("01" "00" "0000" "00"))
    assert r.data == "-"
    assert dict(r.details) == {"hash": "SHA1", "flags": "0", "iterations": "0"}


def test_unknown_type_is_shown_as_escaped_bytes_like_packetbeat() -> None:
    r = answer(65280, b'ab\x00"\\\t\r\n\xff')
    assert r.data == 'ab\\000\\"\\\\\\t\\r\\n\\255'
    assert not r.malformed


def test_known_type_with_wrong_length_is_marked_malformed_and_kept_generic() -> None:
    r = answer(w.A, b"\x01\x02\x03\x04\x05")
    assert r.malformed and r.address is None
    assert r.data == "\\001\\002\\003\\004\\005"


def test_rdata_name_may_point_back_into_the_message() -> None:
    # question name at offset 12; the CNAME target is "www" + pointer to offset 12
    msg = bytearray(w.message(header_flags=w.flags(qr=True), questions=[w.question("example.com", w.CNAME)]))
    msg[7] = 1  # ancount
    msg += b"\xc0\x0c" + bytes.fromhex("0005" "0001" "0000012c" "0006") + b"\x03www\xc0\x0c"
    (record,) = parse_message(bytes(msg), 0.0).answers
    assert (record.name, record.data) == ("example.com.", "www.example.com")
