"""The engine's fused fast path accounts flows, and hands packets to modules, exactly as the reference
decoder does. Each capture runs twice: normally, and with the fast path switched off."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, LINK_LINUX_SLL, Decoder
from packetshipper.decode.packet import Packet
from packetshipper.engine import Engine
from packetshipper.flows import FLOW_SETTINGS, Flow, FlowTable
from packetshipper.settings import validate
from test_decode_framing import V6_CLIENT, V6_SERVER, link_frames, sll, tcp4, tcp6, udp4, udp6

META = struct.Struct("=IIII")
T0 = 1_700_000_000


class ReferenceEngine(Engine):
    """Every frame through the reference decoder: the fast path needs a known link-header length."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._l3 = -1


class RecordingDispatcher:
    tcp_ports = frozenset({80, 443})
    udp_ports = frozenset({53})
    wants_icmp = True

    def __init__(self) -> None:
        self.packets: list[tuple[object, ...]] = []

    def handle(self, p: Packet) -> None:
        self.packets.append((p.ts, p.length, p.ip_version, p.src, p.dst, p.proto, p.sport, p.dport, p.tcp_flags,
                             p.seq, p.ack, p.window, p.payload, p.vlans, p.src_mac, p.dst_mac, p.truncated))

    def tick(self, now: float) -> None:
        pass

    def flush(self, now: float) -> None:
        pass


Report = tuple[object, ...]


def batches_of(packets: list[tuple[float, bytes]], sizes: list[int]) -> list[tuple[bytes, bytes]]:
    out, i = [], 0
    for size in sizes + [len(packets)]:
        chunk = packets[i : i + max(size, 1)]
        if not chunk:
            break
        buf, meta = bytearray(), bytearray()
        for ts, frame in chunk:
            sec = int(ts)
            meta += META.pack(sec, round((ts - sec) * 1e6), len(buf), len(frame))
            buf += frame
        out.append((bytes(buf), bytes(meta)))
        i += len(chunk)
    return out


def run(engine_class: type[Engine], linktype: int, batches: list[tuple[bytes, bytes]],
        flow_settings: dict[str, Any] | None = None) -> tuple[list[Report], list[tuple[object, ...]], Engine]:
    reports: list[Report] = []

    def emit(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        reports.append((flow.flow_id, flow.community_id, flow.table_id, flow.key, flow.reverse_key,
                        flow.ip_version, flow.src_mac, flow.dst_mac, flow.start, flow.last, now, final, counts))

    dispatcher = RecordingDispatcher()
    flows = FlowTable(validate(FLOW_SETTINGS, flow_settings or {}), emit)
    engine = engine_class(Decoder(linktype), flows, dispatcher)
    for buf, meta in batches:
        engine.process_batch(buf, meta)
    engine.finish()
    return reports, dispatcher.packets, engine


def assert_same(linktype: int, packets: list[tuple[float, bytes]], sizes: list[int] | None = None,
                flow_settings: dict[str, Any] | None = None) -> tuple[Engine, Engine, list[Report]]:
    batches = batches_of(packets, sizes or [])
    fast_reports, fast_packets, fast = run(Engine, linktype, batches, flow_settings)
    ref_reports, ref_packets, ref = run(ReferenceEngine, linktype, batches, flow_settings)
    assert fast_reports == ref_reports
    assert fast_packets == ref_packets
    assert ref.fast_path == 0
    fast_stats, ref_stats = fast.stats(), ref.stats()
    assert fast_stats["received"] == ref_stats["received"] == len(packets)
    assert fast_stats["bytes"] == ref_stats["bytes"]
    assert fast.flows is not None and ref.flows is not None
    assert fast.flows.stats() == ref.flows.stats()
    return fast, ref, fast_reports


@st.composite
def captures(draw: st.DrawFn, linktype: int) -> tuple[list[tuple[float, bytes]], list[int]]:
    frames = draw(st.lists(link_frames(linktype), min_size=1, max_size=40))
    ts, packets = float(T0), []
    for frame in frames:
        ts += draw(st.sampled_from([0.0, 0.001, 0.5, 3.0, 11.0, 45.0]))  # gaps past the period and timeout
        packets.append((ts, frame))
    sizes = draw(st.lists(st.integers(1, 10), max_size=5))
    return packets, sizes


@pytest.mark.parametrize("linktype", [LINK_ETHERNET, LINK_LINUX_SLL])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fast_path_and_reference_decoder_give_identical_flows(linktype: int, data: st.DataObject) -> None:
    packets, sizes = data.draw(captures(linktype))
    fast, _ref, _reports = assert_same(linktype, packets, sizes)
    # The generated frames are all of the shapes the fast path takes, so the comparison means something.
    assert fast.fast_path == len(packets)


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_fast_path_equivalence_holds_for_delta_reports_and_a_full_flow_table(data: st.DataObject) -> None:
    packets, sizes = data.draw(captures(LINK_ETHERNET))
    flow_settings = {"enable_delta_flow_reporting": True, "max_flows": 3, "period": "5s", "timeout": "8s"}
    assert_same(LINK_ETHERNET, packets, sizes, flow_settings)


# --- which frames take the fast path ---------------------------------------------------------------


def one_frame_stats(linktype: int, frame: bytes) -> dict[str, Any]:
    fast, _ref, _ = assert_same(linktype, [(T0, frame)])
    return fast.stats()


@pytest.mark.parametrize(
    ("name", "linktype", "frame"),
    [
        ("ipv4-tcp", LINK_ETHERNET, g.ethernet(tcp4())),
        ("ipv4-udp", LINK_ETHERNET, g.ethernet(udp4())),
        ("ipv6-tcp", LINK_ETHERNET, g.ethernet(tcp6(), ethertype=0x86DD)),
        ("ipv6-udp", LINK_ETHERNET, g.ethernet(udp6(), ethertype=0x86DD)),
        ("vlan-ipv4", LINK_ETHERNET, g.ethernet(tcp4(), vlans=(12,))),
        ("vlan-ipv6", LINK_ETHERNET, g.ethernet(udp6(), ethertype=0x86DD, vlans=(12,))),
        ("sll-ipv4", LINK_LINUX_SLL, sll(tcp4())),
        ("sll-ipv6", LINK_LINUX_SLL, sll(udp6(), 0x86DD)),
        ("padded", LINK_ETHERNET, g.ethernet(udp4(b"")) + bytes(18)),
        ("icmp", LINK_ETHERNET, g.icmp_frame("10.0.0.1", "10.0.0.2", 1, 1)),
        ("icmpv6", LINK_ETHERNET, g.ethernet(g.ipv6(V6_CLIENT, V6_SERVER, 58, g.icmp_echo(1, 1, v6=True,
                                                                                         src=V6_CLIENT, dst=V6_SERVER)),
                                             ethertype=0x86DD)),
    ],
)
def test_common_shapes_take_the_fast_path(name: str, linktype: int, frame: bytes) -> None:
    stats = one_frame_stats(linktype, frame)
    assert (stats["fast_path"], stats["decoded"]) == (1, 0), name


@pytest.mark.parametrize(
    ("name", "frame"),
    [
        ("ipv4-options", g.ethernet(tcp4(ip_options=bytes([0x94, 4, 0, 0])))),
        ("qinq", g.ethernet(tcp4(), vlans=(1, 2))),
        ("802.1ad-single-tag", bytes(12) + bytes.fromhex("88a8 000c 0800") + tcp4()),
        ("ipv6-hop-by-hop", g.ethernet(g.ipv6(V6_CLIENT, V6_SERVER, 0, bytes([17, 0]) + bytes(6)
                                              + g.udp(V6_CLIENT, V6_SERVER, 1, 53)), ethertype=0x86DD)),
        ("icmp-ip-options", g.ethernet(g.ipv4("10.0.0.1", "10.0.0.2", 1, g.icmp_echo(1, 1), options=bytes(4)))),
        ("fragment", g.ethernet(g.ipv4("10.0.0.1", "10.0.0.2", 17, bytes(16), flags_fragment=0x2000))),
    ],
)
def test_other_shapes_take_the_reference_decoder(name: str, frame: bytes) -> None:
    stats = one_frame_stats(LINK_ETHERNET, frame)
    assert stats["fast_path"] == 0, name
    assert stats["decoded"] + stats["fragments_pending"] == 1


def test_a_cut_frame_takes_the_reference_decoder_and_counts_its_wire_length() -> None:
    frame = g.ethernet(tcp4(b"x" * 1000))
    for engine_class in (Engine, ReferenceEngine):
        reports, _, engine = run(engine_class, LINK_ETHERNET, [(frame, META.pack(T0, 0, 0, 100))])
        assert engine.stats()["fast_path"] == 0
        assert [r[-1] for r in reports] == [(1, len(frame), 0, 0)]


def test_ipv6_udp_with_a_zero_payload_length_does_not_read_past_the_batch() -> None:
    # Regression: the fast path read the UDP length field 4 bytes past a 54-byte frame ending the buffer.
    frame = g.ethernet(g.ipv6(V6_CLIENT, V6_SERVER, 17, b""), ethertype=0x86DD)
    stats = one_frame_stats(LINK_ETHERNET, frame)
    assert stats["malformed"] == {"truncated_udp": 1}


def test_udp_length_shorter_than_the_ip_payload_bounds_the_dispatched_payload() -> None:
    datagram = bytearray(g.udp("10.0.0.1", "10.0.0.2", 5000, 53, b"query+junk"))
    datagram[4:6] = struct.pack("!H", 8 + 5)
    frame = g.ethernet(g.ipv4("10.0.0.1", "10.0.0.2", 17, bytes(datagram)))
    _, packets, engine = run(Engine, LINK_ETHERNET, batches_of([(T0, frame)], []))
    assert engine.fast_path == 1
    assert [p[12] for p in packets] == [b"query"]
    assert_same(LINK_ETHERNET, [(T0, frame)])


def test_a_syn_after_fin_starts_a_new_flow_on_both_paths() -> None:
    c, s = "10.0.0.1", "10.0.0.2"
    conversation = [
        g.tcp_frame(c, s, 40000, 80, flags="S"), g.tcp_frame(s, c, 80, 40000, flags="SA"),
        g.tcp_frame(c, s, 40000, 80, flags="FA"), g.tcp_frame(s, c, 80, 40000, flags="FA"),
        g.tcp_frame(c, s, 40000, 80, flags="S"), g.tcp_frame(s, c, 80, 40000, flags="SA"),
    ]
    _fast, _ref, reports = assert_same(LINK_ETHERNET, [(T0 + i, f) for i, f in enumerate(conversation)])
    finals = [r[-1] for r in reports if r[-2]]
    assert finals == [(2, 108, 2, 108), (1, 54, 1, 54)]
