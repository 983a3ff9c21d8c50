"""Community ID v1 against the specification's published baseline and Packetbeat's per-packet golden logs.

Expected values come from corelight/community-id-spec (baseline/README.md tables and
baseline/baseline_{deflt,seed1,nob64}.json) and from libbeat's flowhash golden logs copied into
tests/pcaps/packetbeat/communityid/golden/ (produced by the spec's reference script with dpkt).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packetshipper.community_id import community_id

GOLDEN = Path(__file__).parent / "pcaps" / "packetbeat" / "communityid" / "golden"


def raw(address: str) -> bytes:
    return ipaddress.ip_address(address).packed


# baseline/README.md: proto, src, dst, sport (ICMP type), dport (ICMP code),
# then the ID with defaults, with seed=1, and with seed=0 without base64.
README_TABLE = [
    (6, "1.2.3.4", "5.6.7.8", 1122, 3344,
     "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", "1:c026f7386ef200559e95a53276ed03fb5db908b3"),
    (6, "5.6.7.8", "1.2.3.4", 3344, 1122,
     "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=", "1:c026f7386ef200559e95a53276ed03fb5db908b3"),
    (17, "1.2.3.4", "5.6.7.8", 1122, 3344,
     "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=", "1:d0cbbd227431eb3e1988264cffb1d78b658c84e8"),
    (17, "5.6.7.8", "1.2.3.4", 3344, 1122,
     "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=", "1:d0cbbd227431eb3e1988264cffb1d78b658c84e8"),
    (132, "1.2.3.4", "5.6.7.8", 1122, 3344,
     "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=", "1:10ab7832cc6ec9a13a98bfa19ab12443d72c0c3f"),
    (132, "5.6.7.8", "1.2.3.4", 3344, 1122,
     "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=", "1:10ab7832cc6ec9a13a98bfa19ab12443d72c0c3f"),
    (1, "1.2.3.4", "5.6.7.8", 8, 0,
     "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", "1:72ba1d4472f6144b078dbbf752446b7dbb386d9d"),
    (1, "5.6.7.8", "1.2.3.4", 0, 0,
     "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=", "1:72ba1d4472f6144b078dbbf752446b7dbb386d9d"),
    (1, "1.2.3.4", "5.6.7.8", 11, 0,
     "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=", "1:1DD7cWGC/Yg91YGsQeni8du3pIA=", "1:7ff6224b25aa733ad381f5026650549ef1d170f9"),
    (58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 128, 0,
     "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", "1:d1b7fb872309530b777cc103ef3f0b21f46905ea"),
    (58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 129, 0,
     "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=", "1:d1b7fb872309530b777cc103ef3f0b21f46905ea"),
    (58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 146, 0,
     "1:fYC8+pz24E+EhANP1EZhpX0Dw10=", "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=", "1:7d80bcfa9cf6e04f8484034fd44661a57d03c35d"),
    (46, "1.2.3.4", "5.6.7.8", None, None,
     "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8=", "1:8a4bf79267fcf65b9fef758fcf58ceb38f52efaf"),
    (46, "5.6.7.8", "1.2.3.4", None, None,
     "1:ikv3kmf89luf73WPz1jOs49S768=", "1:/buhqeOmaRCopOZFy9HnoJd5XW8=", "1:8a4bf79267fcf65b9fef758fcf58ceb38f52efaf"),
    (46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", None, None,
     "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=", "1:c10ff69b0ae75cfe259897077462f978f8d1f9ed"),
    (46, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", None, None,
     "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=", "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=", "1:c10ff69b0ae75cfe259897077462f978f8d1f9ed"),
]

# baseline_deflt.json, baseline_seed1.json and baseline_nob64.json, row by row. For ICMP these list
# "port equivalents": the type, then the counterpart type (request/reply) or the code (one-way).
# Passing them as type and code is exact: a request/reply type's code is not hashed.
BASELINE_JSON = [
    (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=", "1:7461f21af8cc7e58e0e81a69c26ddb8342cef136"),
    (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=", "1:7461f21af8cc7e58e0e81a69c26ddb8342cef136"),
    (58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
     "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=", "1:cdabf24ff71ecd0af57e6226602c189cc5db81c9"),
    (58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135,
     "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=", "1:cdabf24ff71ecd0af57e6226602c189cc5db81c9"),
    (58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
     "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=", "1:d8e6d5060227dbca19be26d866164c06087b59d4"),
    (58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
     "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=", "1:84b65dd17196a23a33aefc6a13475607588ce91d"),
    (58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
     "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=", "1:f935be1ed2c7bd5d719c6855d65bfb5e826ba908"),
    (58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128,
     "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=", "1:f935be1ed2c7bd5d719c6855d65bfb5e826ba908"),
    (58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134,
     "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=", "1:84efac3781fe306e4c63ff2122b5cfa9ce19433d"),
    (58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133,
     "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=", "1:a64bc7a822fcf3fb60d64e1c3e282665752d2f4d"),
    (1, "192.168.0.89", "192.168.0.1", 8, 0,
     "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=", "1:5f4b27617a60c22bfd4d9b6a83ae2c833527e839"),
    (1, "192.168.0.1", "192.168.0.89", 0, 8,
     "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=", "1:5f4b27617a60c22bfd4d9b6a83ae2c833527e839"),
    (1, "10.0.0.1", "10.0.0.2", 11, 0,
     "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20=", "1:607c6d022ac21bfff43b391c540ba4a8a40df713"),
    (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=", "1:fea15a78047e8057b52988cccd50ec32ffb0814e"),
    (6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=", "1:fea15a78047e8057b52988cccd50ec32ffb0814e"),
    (132, "192.168.170.8", "192.168.170.56", 7, 7,
     "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=", "1:30fd84b5108050866f4f0e8cc491cb57b37b243b"),
    (132, "192.168.170.56", "192.168.170.8", 7, 7,
     "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=", "1:30fd84b5108050866f4f0e8cc491cb57b37b243b"),
    (6, "128.232.110.120", "66.35.250.204", 34855, 80,
     "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=", "1:2d053da9994af81e45dca0e67afea6e4f3226eb8"),
    (6, "66.35.250.204", "128.232.110.120", 80, 34855,
     "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=", "1:2d053da9994af81e45dca0e67afea6e4f3226eb8"),
    (17, "192.168.1.52", "8.8.8.8", 54585, 53,
     "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=", "1:77f14fe445b7c22635bc29dd87095e451287a304"),
    (17, "8.8.8.8", "192.168.1.52", 53, 54585,
     "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=", "1:77f14fe445b7c22635bc29dd87095e451287a304"),
    (46, "10.1.12.1", "10.1.12.2", None, None,
     "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=", "1:28794b920a095bb89f513c934a0c957e4147ccac"),
    (46, "10.1.12.2", "10.1.12.1", None, None,
     "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=", "1:28794b920a095bb89f513c934a0c957e4147ccac"),
]  # fmt: skip


def _ports(sport: int | None, dport: int | None) -> tuple[int, int]:
    return (sport or 0, dport or 0)


@pytest.mark.parametrize("row", README_TABLE + BASELINE_JSON, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}-{r[3]}")
def test_spec_baseline_with_default_seed_in_base64(row: tuple) -> None:
    proto, src, dst, sport, dport, expected, _, _ = row
    assert community_id(proto, raw(src), raw(dst), *_ports(sport, dport)) == expected


@pytest.mark.parametrize("row", README_TABLE + BASELINE_JSON, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}-{r[3]}")
def test_spec_baseline_with_seed_1(row: tuple) -> None:
    proto, src, dst, sport, dport, _, expected, _ = row
    assert community_id(proto, raw(src), raw(dst), *_ports(sport, dport), seed=1) == expected


@pytest.mark.parametrize("row", README_TABLE + BASELINE_JSON, ids=lambda r: f"{r[0]}-{r[1]}-{r[2]}-{r[3]}")
def test_spec_baseline_in_hex(row: tuple) -> None:
    proto, src, dst, sport, dport, _, _, expected = row
    assert community_id(proto, raw(src), raw(dst), *_ports(sport, dport), base64=False) == expected


def _golden_lines() -> list[tuple[str, int, str]]:
    """(file, line number, line) for every IP packet of every golden log."""
    out = []
    for path in sorted(GOLDEN.glob("*.pcap.log")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "<not IP>" not in line:
                out.append((path.name, number, line))
    return out


GOLDEN_LINES = _golden_lines()


def test_golden_logs_cover_every_protocol_the_spec_names() -> None:
    protos = {int(line.split("|")[2].split()[2]) for _, _, line in GOLDEN_LINES}
    assert protos == {1, 6, 17, 58, 132}
    assert len(GOLDEN_LINES) == 166  # 172 lines less the 6 ARP packets


@pytest.mark.parametrize("name,number,line", GOLDEN_LINES, ids=[f"{n}:{i}" for n, i, _ in GOLDEN_LINES])
def test_packetbeat_golden_log_packet(name: str, number: int, line: str) -> None:
    _, expected, flow = (part.strip() for part in line.split("|"))
    src, dst, proto, sport, dport = flow.split()
    assert community_id(int(proto), raw(src), raw(dst), int(sport), int(dport)) == expected


def test_icmp_one_way_message_is_not_reordered() -> None:
    # Time exceeded (11) is one-way: swapping the addresses gives a different ID (spec README table).
    there = community_id(1, raw("1.2.3.4"), raw("5.6.7.8"), 11, 0)
    back = community_id(1, raw("5.6.7.8"), raw("1.2.3.4"), 11, 0)
    assert there == "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="
    assert back != there


def test_icmp_code_of_a_request_reply_type_does_not_change_the_id() -> None:
    assert community_id(1, raw("1.2.3.4"), raw("5.6.7.8"), 8, 5) == "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="


def test_portless_protocol_ignores_ports() -> None:
    assert community_id(46, raw("1.2.3.4"), raw("5.6.7.8"), 1, 2) == "1:ikv3kmf89luf73WPz1jOs49S768="


@pytest.mark.parametrize(
    "args,message",
    [
        ((6, b"\x01\x02\x03\x04", b"\x05\x06\x07", 1, 2), "4 or 16 bytes"),
        ((6, raw("1.2.3.4"), raw("::1"), 1, 2), "4 or 16 bytes"),
        ((6, raw("1.2.3.4"), raw("5.6.7.8"), 1, 65536), "16 bits"),
        ((6, raw("1.2.3.4"), raw("5.6.7.8"), -1, 2), "16 bits"),
        ((1, raw("1.2.3.4"), raw("5.6.7.8"), 256, 0), "8 bits"),
        ((256, raw("1.2.3.4"), raw("5.6.7.8"), 0, 0), "8 bits"),
    ],
)
def test_bad_arguments_raise_value_error(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        community_id(*args)


def test_seed_outside_16_bits_raises_value_error() -> None:
    with pytest.raises(ValueError, match="seed"):
        community_id(6, raw("1.2.3.4"), raw("5.6.7.8"), 1, 2, seed=65536)


addresses = st.one_of(
    st.tuples(st.binary(min_size=4, max_size=4), st.binary(min_size=4, max_size=4)),
    st.tuples(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16)),
)


@given(addresses, st.sampled_from([6, 17, 132, 46, 0, 255]), st.integers(0, 65535), st.integers(0, 65535))
def test_both_directions_of_a_port_flow_share_one_id(pair: tuple[bytes, bytes], proto: int, sport: int, dport: int) -> None:
    src, dst = pair
    assert community_id(proto, src, dst, sport, dport) == community_id(proto, dst, src, dport, sport)


@given(addresses, st.sampled_from([(1, 8, 0), (1, 13, 14), (1, 17, 18), (58, 128, 129), (58, 135, 136), (58, 144, 145)]))
def test_icmp_request_and_its_reply_share_one_id(pair: tuple[bytes, bytes], types: tuple[int, int, int]) -> None:
    src, dst = pair
    proto, request, reply = types
    assert community_id(proto, src, dst, request, 0) == community_id(proto, dst, src, reply, 0)
