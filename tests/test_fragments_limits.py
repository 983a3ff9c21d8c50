"""Fragment reassembly is bounded: datagrams at once, fragments per datagram, bytes per datagram and
age. Whatever goes over a limit is dropped and counted under its own name."""

from __future__ import annotations

from pathlib import Path

from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, Decoder
from packetshipper.decode.fragments import FRAGMENT_DEFAULTS, FragmentReassembler
from packetshipper.testing import run_pcap
from test_decode_framing import V4_CLIENT, V4_SERVER, ipv4_fragments, write_frames

KEY_A = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 1, 17)
KEY_B = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 2, 17)
KEY_C = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 3, 17)


def counters(r: FragmentReassembler) -> dict[str, int]:
    return {name: value for name, value in r.stats().items() if value}


def test_defaults_are_the_documented_limits() -> None:
    r = FragmentReassembler()
    assert (r.max_datagrams, r.max_fragments, r.max_datagram_bytes, r.timeout) == (4096, 64, 65535, 30.0)
    assert FRAGMENT_DEFAULTS == {"max_datagrams": 4096, "max_fragments": 64, "max_datagram_bytes": 65535,
                                 "timeout": 30.0}


def test_a_new_datagram_over_max_datagrams_is_dropped_and_counted() -> None:
    r = FragmentReassembler(max_datagrams=2)
    assert r.add(KEY_A, 0, True, b"a" * 8, 1.0) is None
    assert r.add(KEY_B, 0, True, b"b" * 8, 1.0) is None
    assert r.add(KEY_C, 0, True, b"c" * 8, 2.0) is None
    assert counters(r) == {"fragments": 3, "in_progress": 2, "dropped_table_full": 1}
    # Datagrams already in the table still complete.
    assert r.add(KEY_A, 8, False, b"A" * 4, 2.0) == b"a" * 8 + b"A" * 4


def test_a_full_table_makes_room_by_expiring_stale_datagrams_first() -> None:
    r = FragmentReassembler(max_datagrams=1, timeout=30.0)
    r.add(KEY_A, 0, True, b"a" * 8, 0.0)
    r.add(KEY_B, 0, True, b"b" * 8, 31.0)
    assert counters(r) == {"fragments": 2, "in_progress": 1, "timed_out": 1}
    assert r.add(KEY_B, 8, False, b"B", 31.5) == b"b" * 8 + b"B"


def test_more_fragments_than_max_fragments_drop_the_datagram() -> None:
    r = FragmentReassembler(max_fragments=3)
    for i in range(3):
        assert r.add(KEY_A, i * 8, True, b"x" * 8, 1.0) is None
    assert r.add(KEY_A, 24, False, b"x" * 8, 1.0) is None
    assert counters(r) == {"fragments": 4, "dropped_too_many_fragments": 1}
    assert len(r) == 0


def test_a_fragment_reaching_past_max_datagram_bytes_drops_the_datagram() -> None:
    r = FragmentReassembler()
    assert r.add(KEY_A, 0, True, b"x" * 1480, 1.0) is None
    # The largest offset IPv4 can express is 8191 * 8 = 65528: 8 more bytes fit, 16 do not.
    assert r.add(KEY_A, 65528, False, b"x" * 16, 1.0) is None
    assert counters(r) == {"fragments": 2, "dropped_too_big": 1}
    assert len(r) == 0


def test_a_datagram_of_exactly_max_datagram_bytes_is_accepted() -> None:
    r = FragmentReassembler(max_datagram_bytes=24)
    r.add(KEY_A, 0, True, b"x" * 16, 1.0)
    assert r.add(KEY_A, 16, False, b"y" * 8, 1.0) == b"x" * 16 + b"y" * 8


def test_two_different_ends_are_inconsistent() -> None:
    r = FragmentReassembler()
    r.add(KEY_A, 16, False, b"end", 1.0)  # ends at 19
    assert r.add(KEY_A, 8, False, b"x" * 8, 1.0) is None  # ends at 16
    assert counters(r) == {"fragments": 2, "dropped_inconsistent": 1}


def test_data_past_the_known_end_is_inconsistent() -> None:
    r = FragmentReassembler()
    r.add(KEY_A, 8, False, b"x" * 8, 1.0)  # the datagram is 16 bytes
    assert r.add(KEY_A, 16, True, b"y" * 8, 1.0) is None
    assert counters(r) == {"fragments": 2, "dropped_inconsistent": 1}


def test_expire_drops_only_datagrams_older_than_the_timeout() -> None:
    r = FragmentReassembler(timeout=30.0)
    r.add(KEY_A, 0, True, b"a" * 8, 0.0)
    r.add(KEY_B, 0, True, b"b" * 8, 10.0)
    assert r.expire(30.0) == 0  # exactly the timeout old: kept
    assert r.expire(30.5) == 1
    assert counters(r) == {"fragments": 2, "in_progress": 1, "timed_out": 1}
    assert r.expire(41.0) == 1
    assert len(r) == 0 and r.timed_out == 2


def test_decoder_counts_each_fragment_it_absorbs_as_pending() -> None:
    datagram = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, b"z" * 3000)
    frames = [g.ethernet(p) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 17, datagram, 1480, 1)]
    decoder = Decoder(LINK_ETHERNET, FragmentReassembler(max_fragments=2))
    results = [decoder.decode(f, 0, len(f), len(f), 1.0) for f in frames]
    assert results == [None, None, None]
    # Every frame is accounted once: the first two wait, the third goes over the limit.
    assert decoder.fragments_pending == 3 and decoder.decoded == 0 and not decoder.malformed
    assert decoder.fragments.stats()["dropped_too_many_fragments"] == 1


def test_config_keys_set_the_limits_of_a_run(tmp_path: Path) -> None:
    frames = []
    for ident in range(1, 6):  # five datagrams, each missing its last fragment
        datagram = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, bytes([ident]) * 3000)
        frames += [g.ethernet(p) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 17, datagram, 1480, ident)[:2]]
    path = write_frames(tmp_path / "frags.pcap", LINK_ETHERNET, frames)
    config = {"packetshipper": {"ip_fragments": {"max_datagrams": 3, "max_fragments": 2, "timeout": "5s"}}}
    capture = run_pcap(str(path), config).stats["capture"]
    assert capture["fragments_pending"] == 10
    ip_fragments = capture["ip_fragments"]
    assert ip_fragments["fragments"] == 10
    assert ip_fragments["dropped_table_full"] == 4  # datagrams 4 and 5, two fragments each
    assert ip_fragments["in_progress"] == 3


def test_the_engine_expires_fragments_on_the_packet_clock(tmp_path: Path) -> None:
    datagram = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, b"z" * 3000)
    first = g.ethernet(ipv4_fragments(V4_CLIENT, V4_SERVER, 17, datagram, 1480, 1)[0])
    later = g.udp_frame(V4_CLIENT, V4_SERVER, 5001, 53, b"q")
    path = tmp_path / "late.pcap"
    g.write_pcap(str(path), [(100.0, first), (103.0, later), (106.5, later)])
    config = {"packetshipper": {"ip_fragments": {"timeout": "5s"}}}
    ip_fragments = run_pcap(str(path), config).stats["capture"]["ip_fragments"]
    assert ip_fragments["timed_out"] == 1 and ip_fragments["in_progress"] == 0


def test_max_datagram_bytes_from_the_config_drops_bigger_datagrams(tmp_path: Path) -> None:
    small = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, b"s" * 1000)  # 1008 bytes once reassembled
    big = g.udp(V4_CLIENT, V4_SERVER, 5000, 53, b"b" * 3000)  # 3008 bytes: over the limit
    frames = [g.ethernet(p) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 17, small, 512, 1)]
    frames += [g.ethernet(p) for p in ipv4_fragments(V4_CLIENT, V4_SERVER, 17, big, 1480, 2)]
    path = write_frames(tmp_path / "sizes.pcap", LINK_ETHERNET, frames)
    config = {"packetshipper": {"ip_fragments": {"max_datagram_bytes": 2048}}}
    ip_fragments = run_pcap(str(path), config).stats["capture"]["ip_fragments"]
    assert ip_fragments["reassembled"] == 1
    # The big datagram's second fragment (ending at byte 2960) and its third each go past 2048.
    assert ip_fragments["dropped_too_big"] == 2
    assert ip_fragments["in_progress"] == 0
