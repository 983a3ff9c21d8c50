"""TCP health on flow events, from crafted captures: every Zeek connection state and history letter (the
expectations are Zeek's documented semantics, conn/main.zeek and TCPSessionAdapter.cc), handshake and
running RTT with Karn's rule, retransmissions, out-of-order segments, gaps and zero windows (cross-checked
against tshark's own TCP analysis), the config switch, the memory bound, and the fast path agreeing with
the reference decoder."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, Decoder
from packetshipper.engine import Engine
from packetshipper.flows import FLOW_SETTINGS, Flow, FlowTable
from packetshipper.settings import validate
from packetshipper.tcp_health import CONNECTION_STATES, TcpHealth
from packetshipper.testing import run_pcap
from test_engine_fast_path_equivalence import ReferenceEngine, batches_of

T0 = 1_600_000_000.0
C, S = "10.0.0.1", "10.0.0.2"
CPORT, SPORT = 40000, 80


class Conversation:
    """TCP segments between a client and a server, built from meaning. Sequence numbers follow each side's
    next byte unless given; an ACK acknowledges everything the other side sent unless given."""

    def __init__(self, client: str = C, server: str = S, cport: int = CPORT, sport: int = SPORT) -> None:
        self.ends = {"c": (client, cport), "s": (server, sport)}
        self.nxt = {"c": 1000, "s": 5000}
        self.t = T0
        self.packets: list[tuple[float, bytes]] = []

    def send(self, who: str, flags: str, data: bytes | int = b"", *, seq: int | None = None, ack: int | None = None,
             window: int = 65535, dt: float = 0.01, extra_flags: int = 0) -> Conversation:
        payload = bytes(data) if isinstance(data, int) else data
        other = "s" if who == "c" else "c"
        (src, sport_), (dst, dport) = self.ends[who], self.ends[other]
        seq = self.nxt[who] if seq is None else seq
        ack = (self.nxt[other] if "A" in flags else 0) if ack is None else ack
        segment = bytearray(g.tcp(src, dst, sport_, dport, payload, flags=flags, seq=seq, ack=ack, window=window))
        segment[13] |= extra_flags  # ECE, CWR: bits pcapgen has no letter for (checksums are not checked)
        self.t += dt
        self.packets.append((self.t, g.ethernet(g.ipv4(src, dst, 6, bytes(segment)))))
        if "R" not in flags:
            end = seq + len(payload) + ("S" in flags) + ("F" in flags)
            self.nxt[who] = max(self.nxt[who], end)
        return self

    def handshake(self, dt: float = 0.01) -> Conversation:
        return self.send("c", "S", dt=dt).send("s", "SA", dt=dt).send("c", "A", dt=dt)


def tcp_flows(tmp_path: Path, packets: list[tuple[float, bytes]], **flows: object) -> list[dict[str, Any]]:
    path = tmp_path / "crafted.pcap"
    g.write_pcap(str(path), packets)
    result = run_pcap(str(path), {"packetshipper": {"flows": {"period": -1, **flows}}})  # events schema-checked
    return [e for e in result.events if e["type"] == "flow" and e["network"].get("transport") == "tcp"]


def health(tmp_path: Path, conversation: Conversation, **flows: object) -> dict[str, Any]:
    events = tcp_flows(tmp_path, conversation.packets, **flows)
    assert len(events) == 1, events
    return dict(events[0]["tcp"])


# --- Zeek's connection states ----------------------------------------------------------------------

STATE_CASES = {
    "S0": (lambda c: c.send("c", "S"), "S"),
    "S1": (lambda c: c.handshake().send("c", "PA", 10).send("s", "A"), "ShADa"),
    "SF": (lambda c: c.handshake().send("c", "FA").send("s", "FA").send("c", "A"), "ShAFf"),
    "REJ": (lambda c: c.send("c", "S").send("s", "RA", ack=1001), "Sr"),
    "S2": (lambda c: c.handshake().send("c", "FA"), "ShAF"),
    "S3": (lambda c: c.handshake().send("s", "FA"), "ShAf"),
    "RSTO": (lambda c: c.handshake().send("c", "PA", 10).send("c", "RA"), "ShADR"),
    "RSTR": (lambda c: c.handshake().send("c", "PA", 10).send("s", "RA"), "ShADr"),
    "RSTOS0": (lambda c: c.send("c", "S").send("c", "R"), "SR"),
    # The first packet is the server's SYN-ACK: its receiver is the client (Zeek's flipped direction, '^').
    "RSTRH": (lambda c: c.send("s", "SA", ack=1001).send("s", "R"), "^hr"),
    "SH": (lambda c: c.send("c", "S").send("c", "F"), "SF"),
    "SHR": (lambda c: c.send("s", "SA", ack=1001).send("s", "FA"), "^hf"),
    "OTH": (lambda c: c.send("c", "PA", 10, ack=5001).send("s", "A"), "Da"),
}


def test_every_state_has_a_case() -> None:
    assert sorted(STATE_CASES) == sorted(CONNECTION_STATES)


@pytest.mark.parametrize("state", sorted(STATE_CASES))
def test_connection_state_and_history(tmp_path: Path, state: str) -> None:
    build, history = STATE_CASES[state]
    tcp = health(tmp_path, build(Conversation()))
    assert (tcp["connection_state"], tcp["history"]) == (state, history)


def test_a_periodic_report_gives_the_state_so_far(tmp_path: Path) -> None:
    conversation = Conversation().handshake()
    conversation.send("c", "PA", 10, dt=12).send("s", "A").send("c", "FA", dt=12).send("s", "FA").send("c", "A")
    events = tcp_flows(tmp_path, conversation.packets, period="10s")
    assert [(e["flow"]["final"], e["tcp"]["connection_state"]) for e in events] == [
        (False, "S1"), (False, "S1"), (True, "SF")]


# --- history letters ------------------------------------------------------------------------------

def test_once_only_letters_appear_once_per_side(tmp_path: Path) -> None:
    conversation = Conversation().handshake()
    for _ in range(3):
        conversation.send("c", "PA", 10).send("s", "A").send("s", "PA", 20).send("c", "A")
    assert health(tmp_path, conversation)["history"] == "ShADad"


def test_syn_fin_and_rst_letters_repeat_only_with_a_new_sequence_number(tmp_path: Path) -> None:
    conversation = Conversation()
    conversation.send("c", "S", seq=1000).send("c", "S", seq=1000)  # a retransmission: no new letter
    conversation.send("c", "S", seq=7000)  # another initial number: 'S' again
    conversation.send("s", "SA", ack=7001).send("c", "A", seq=7001)
    conversation.send("c", "FA", seq=7001).send("c", "FA", seq=7001)  # the same FIN twice: one letter
    conversation.send("s", "RA", seq=5001).send("s", "RA", seq=5001).send("s", "RA", seq=5002)
    assert health(tmp_path, conversation)["history"] == "SShAFrr"


def test_fin_with_rst_is_i_and_syn_with_fin_or_rst_is_q(tmp_path: Path) -> None:
    assert health(tmp_path, Conversation().handshake().send("c", "FRA"))["history"] == "ShAI"
    other = Conversation(cport=40001).send("c", "SF").send("s", "SRA", ack=1001)
    assert health(tmp_path, other)["history"] == "Qq"


def test_retransmission_letters_are_logarithmic(tmp_path: Path) -> None:
    conversation = Conversation().handshake().send("s", "PA", 100)
    for _ in range(100):
        conversation.send("s", "PA", 100, seq=5001)
    tcp = health(tmp_path, conversation)
    assert tcp["history"] == "ShAdttt"  # the 1st, 10th and 100th retransmission
    assert (tcp["destination"]["retransmitted_packets"], tcp["destination"]["retransmitted_bytes"]) == (100, 10_000)


def test_zero_windows_count_and_write_w_logarithmically(tmp_path: Path) -> None:
    conversation = Conversation().handshake()
    for _ in range(10):
        conversation.send("c", "A", window=0)
    conversation.send("s", "A", window=0).send("c", "RA", window=0)  # a RST's zero window does not count
    tcp = health(tmp_path, conversation)
    assert tcp["history"] == "ShAWWawR"  # Zeek writes a packet's history letter before its window's
    assert (tcp["source"]["zero_windows"], tcp["destination"]["zero_windows"]) == (10, 1)


def test_a_content_gap_is_g_on_the_side_whose_bytes_are_missing(tmp_path: Path) -> None:
    conversation = Conversation().handshake()
    conversation.send("s", "PA", 100).send("s", "PA", 100, seq=5201)  # 5101..5200 never seen
    conversation.send("c", "A")  # acknowledges 5301: the receiver had the missing bytes
    tcp = health(tmp_path, conversation)
    assert tcp["history"] == "ShAdg"
    assert tcp["destination"]["gap_bytes"] == 100 and tcp["source"]["gap_bytes"] == 0
    assert tcp["destination"]["out_of_order"] == tcp["destination"]["retransmitted_packets"] == 0


def test_each_letter_in_the_other_case_too(tmp_path: Path) -> None:
    # Simultaneous open: the responder's SYN without ACK is 's'; the originator's SYN-ACK with a new
    # sequence number is 'H' (a SYN-ACK repeating its SYN's number writes nothing, as in Zeek).
    opening = Conversation().send("c", "S", seq=1000).send("s", "S", seq=5000).send("c", "SA", seq=1000, ack=5001)
    opening.send("c", "SA", seq=2000, ack=5001)
    assert health(tmp_path, opening)["history"] == "SsH"
    conversation = Conversation(cport=40002).handshake().send("c", "PA", 100)
    conversation.send("c", "PA", 100, seq=1201).send("s", "A")  # the server had 1101..1200: a client gap
    conversation.send("c", "PA", 100, seq=1001)  # a retransmission by the client
    conversation.send("s", "FRA")
    tcp = health(tmp_path, conversation)
    assert tcp["history"] == "ShADaGTi"
    assert (tcp["source"]["gap_bytes"], tcp["source"]["retransmitted_packets"]) == (100, 1)


def test_flags_seen_per_side(tmp_path: Path) -> None:
    conversation = Conversation().handshake().send("c", "PAU", 5, extra_flags=0x40).send("s", "A", extra_flags=0x80)
    tcp = health(tmp_path, conversation)
    assert tcp["source"]["flags"] == ["SYN", "PSH", "ACK", "URG", "ECE"]
    assert tcp["destination"]["flags"] == ["SYN", "ACK", "CWR"]


# --- sequence analysis ------------------------------------------------------------------------------

def test_out_of_order_fills_its_hole_and_is_no_gap_nor_retransmission(tmp_path: Path) -> None:
    conversation = Conversation().handshake()
    conversation.send("s", "PA", 100).send("s", "PA", 100, seq=5201).send("s", "PA", 100, seq=5101)
    conversation.send("c", "A")
    tcp = health(tmp_path, conversation)["destination"]
    assert (tcp["out_of_order"], tcp["gap_bytes"], tcp["retransmitted_packets"]) == (1, 0, 0)


def test_acknowledged_bytes_never_seen_are_gap_bytes_and_an_open_hole_counts_at_the_end(tmp_path: Path) -> None:
    conversation = Conversation().handshake()
    conversation.send("s", "PA", 100).send("c", "A", ack=5001 + 300)  # the client had 200 bytes more
    conversation.send("s", "PA", 50, seq=5301).send("s", "PA", 70, seq=5401)  # a 50-byte hole, never filled
    tcp = health(tmp_path, conversation)["destination"]
    assert tcp["gap_bytes"] == 200 + 50


def test_a_partial_retransmission_counts_only_the_bytes_seen_before(tmp_path: Path) -> None:
    conversation = Conversation().handshake().send("c", "PA", 100).send("c", "PA", 100, seq=1051)
    tcp = health(tmp_path, conversation)["source"]
    assert (tcp["retransmitted_packets"], tcp["retransmitted_bytes"]) == (1, 50)


def test_sequence_numbers_wrap(tmp_path: Path) -> None:
    conversation = Conversation()
    conversation.nxt["s"] = 0xFFFFFFF0
    conversation.send("c", "S").send("s", "SA").send("c", "A")
    conversation.send("s", "PA", 100, seq=0xFFFFFFF1).send("s", "PA", 100, seq=(0xFFFFFFF1 + 100) & 0xFFFFFFFF)
    conversation.send("c", "A", ack=(0xFFFFFFF1 + 200) & 0xFFFFFFFF)
    tcp = health(tmp_path, conversation)
    assert tcp["destination"]["gap_bytes"] == tcp["destination"]["retransmitted_packets"] == 0
    assert tcp["rtt"]["samples"] == 1


# --- timing ---------------------------------------------------------------------------------------

def test_handshake_halves_at_the_sensor(tmp_path: Path) -> None:
    conversation = Conversation().send("c", "S").send("s", "SA", dt=0.030).send("c", "A", dt=0.002)
    rtt = health(tmp_path, conversation)["rtt"]
    assert (rtt["server_us"], rtt["client_us"], rtt["handshake_us"]) == (30_000, 2_000, 32_000)


def test_a_retransmitted_syn_times_the_handshake_from_the_latest_syn(tmp_path: Path) -> None:
    conversation = Conversation().send("c", "S").send("c", "S", dt=1.0).send("s", "SA", dt=0.030).send("c", "A")
    assert health(tmp_path, conversation)["rtt"]["server_us"] == 30_000


def test_the_running_estimate_adds_both_halves_and_karn_drops_retransmitted_samples(tmp_path: Path) -> None:
    conversation = Conversation().send("c", "S").send("s", "SA", dt=0.030).send("c", "A", dt=0.002)
    conversation.send("c", "PA", 100, dt=0.001)  # timed ...
    conversation.send("c", "PA", 100, seq=1001, dt=0.200)  # ... then retransmitted: Karn drops the sample
    conversation.send("s", "A", dt=0.030)
    conversation.send("c", "PA", 100, dt=0.001).send("s", "A", dt=0.040)  # client data: 40 ms to the server
    conversation.send("c", "PA", 100, dt=0.001).send("s", "A", dt=0.020)  # and 20 ms
    conversation.send("s", "PA", 100, dt=0.001).send("c", "A", dt=0.004)  # server data: 4 ms to the client
    rtt = health(tmp_path, conversation)["rtt"]
    assert rtt["samples"] == 3
    assert rtt["mean_us"] == 30_000 + 4_000  # the means of the two halves
    assert rtt["stddev_us"] == 10_000  # the client half's samples, 40 and 20 ms


def test_without_samples_on_one_side_its_handshake_half_stands_in(tmp_path: Path) -> None:
    conversation = Conversation().send("c", "S").send("s", "SA", dt=0.030).send("c", "A", dt=0.002)
    conversation.send("s", "PA", 100, dt=0.001).send("c", "A", dt=0.005)
    rtt = health(tmp_path, conversation)["rtt"]
    assert (rtt["samples"], rtt["mean_us"], rtt["stddev_us"]) == (1, 30_000 + 5_000, 0)


def test_midstream_flows_have_no_handshake_and_no_estimate_without_both_halves(tmp_path: Path) -> None:
    conversation = Conversation().send("c", "PA", 10, ack=5001).send("s", "A", dt=0.02)
    assert health(tmp_path, conversation)["rtt"] == {"samples": 1}


# --- against tshark's TCP analysis -----------------------------------------------------------------

@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_retransmissions_and_zero_windows_agree_with_tshark(tmp_path: Path) -> None:
    conversation = Conversation().handshake()
    for i in range(12):
        conversation.send("s", "PA", 500, dt=0.010)
        if i % 4 == 3:
            conversation.send("s", "PA", 500, seq=conversation.nxt["s"] - 500, dt=0.200)  # a timeout's copy
        conversation.send("c", "A", window=0 if i % 5 == 0 else 65535, dt=0.010)
    path = tmp_path / "tshark.pcap"
    g.write_pcap(str(path), conversation.packets)

    def tshark_count(condition: str) -> int:
        out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", condition, "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        return len(out.split())

    tcp = health(tmp_path, conversation)
    assert tcp["destination"]["retransmitted_packets"] == tshark_count(
        f"tcp.srcport == {SPORT} && tcp.analysis.retransmission") == 3
    assert tcp["source"]["zero_windows"] == tshark_count(f"tcp.srcport == {CPORT} && tcp.analysis.zero_window") == 3


# --- wiring -----------------------------------------------------------------------------------------

def test_tcp_health_can_be_turned_off_and_never_appears_on_other_transports(tmp_path: Path) -> None:
    packets = Conversation().handshake().packets + [(T0 + 1, g.udp_frame(C, S, 5000, 53, b"q"))]
    path = tmp_path / "mixed.pcap"
    g.write_pcap(str(path), packets)
    on = run_pcap(str(path), {"packetshipper": {"flows": {"period": -1}}}).events
    off = run_pcap(str(path), {"packetshipper": {"flows": {"period": -1, "tcp_health": False}}}).events
    assert sorted(e["network"]["transport"] for e in on if "tcp" in e) == ["tcp"]
    assert not any("tcp" in e for e in off) and len(off) == len(on) == 2


def test_the_health_of_a_flow_is_a_bounded_handful_of_integers() -> None:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = []
    for i in range(1000):
        tcp = TcpHealth(True)
        tcp.update(0, 1.0, 0x02, 1000 + i, 0, 65535, 0)
        tcp.update(1, 1.1, 0x12, 900_000 + i, 1001 + i, 65535, 0)
        for k in range(50):  # a long conversation allocates nothing that stays
            tcp.update(0, 1.2 + k, 0x18, 1001 + i + 100 * k, 900_001 + i + 70 * k, 65535, 100)
            tcp.update(1, 1.25 + k, 0x18, 900_001 + i + 70 * k, 1101 + i + 100 * k, 65535, 70)
        kept.append(tcp)
    per_flow = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename")) / 1000
    tracemalloc.stop()
    assert per_flow < 1600, per_flow  # three slotted objects and their ints and floats
    assert sys.getsizeof(kept[0]) < 200


# --- the fast path and the reference decoder agree ------------------------------------------------

@st.composite
def tcp_conversations(draw: st.DrawFn) -> list[tuple[float, bytes]]:
    conversation = Conversation(cport=draw(st.sampled_from([40000, 80])))
    steps = draw(st.lists(st.tuples(
        st.sampled_from("cs"),
        st.sampled_from(["S", "SA", "A", "PA", "FA", "RA", "R", "F", "SF", "FRA"]),
        st.sampled_from([0, 0, 1, 100, 1448]),
        st.sampled_from([0, 0, 0, -100, 50, 3000]),  # sequence offset from the side's next byte
        st.sampled_from([0, 0, -1, 200]),  # acknowledgement offset
        st.sampled_from([65535, 65535, 0]),
        st.sampled_from([0.0, 0.001, 0.2, 11.0, 45.0])), min_size=1, max_size=30))
    for who, flags, size, seq_off, ack_off, window, dt in steps:
        other = "s" if who == "c" else "c"
        conversation.send(who, flags, size, seq=(conversation.nxt[who] + seq_off) & 0xFFFFFFFF,
                          ack=(conversation.nxt[other] + ack_off) & 0xFFFFFFFF if "A" in flags else 0,
                          window=window, dt=dt)
    return conversation.packets


def _health_reports(engine_class: type[Engine], batches: list[tuple[bytes, bytes]]) -> list[Any]:
    reports: list[Any] = []

    def emit(flow: Flow, now: float, final: bool, counts: tuple[int, int, int, int]) -> None:
        reports.append((flow.flow_id, final, counts, flow.tcp.fields(final) if flow.tcp else None))

    flows = FlowTable(validate(FLOW_SETTINGS, {"period": "10s", "timeout": "30s"}), emit)
    engine = engine_class(Decoder(LINK_ETHERNET), flows, None)
    for buf, meta in batches:
        engine.process_batch(buf, meta)
    engine.finish()
    return reports


@settings(max_examples=150, deadline=None)
@given(packets=tcp_conversations(), sizes=st.lists(st.integers(1, 10), max_size=5))
def test_fast_path_and_reference_decoder_give_the_same_tcp_health(packets: list[tuple[float, bytes]],
                                                                   sizes: list[int]) -> None:
    batches = batches_of(packets, sizes)
    fast = _health_reports(Engine, batches)
    assert fast == _health_reports(ReferenceEngine, batches)
    assert all(report[3] is not None for report in fast)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_gap_bytes_on_packetbeats_gap_capture_are_the_bytes_tshark_finds_missing() -> None:
    pcap = Path(__file__).parent / "pcaps" / "packetbeat" / "gap_in_stream.pcap"
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-Y", "tcp.srcport == 8000", "-T", "fields",
                          "-e", "tcp.seq", "-e", "tcp.len"], capture_output=True, text=True, check=True, timeout=60)
    seen: set[int] = set()
    for line in out.stdout.splitlines():
        seq, length = (int(x) for x in line.split())
        seen.update(range(seq, seq + length))
    missing = max(seen) + 1 - min(seen) - len(seen)
    (event,) = [e for e in run_pcap(str(pcap), {"packetshipper": {"flows": {"period": -1}}}).events
                if e["type"] == "flow" and "tcp" in e]
    assert event["destination"]["port"] == 8000
    assert event["tcp"]["destination"]["gap_bytes"] == missing > 0
    assert event["tcp"]["source"]["gap_bytes"] == 0 and "g" in event["tcp"]["history"]


@pytest.mark.parametrize("conversation", [
    lambda: Conversation().handshake().send("c", "PA", 10).send("s", "A", dt=-5.0),  # the data's ACK
    lambda: Conversation().send("c", "S").send("s", "SA", dt=-5.0).send("c", "A", dt=-5.0),  # the handshake
], ids=["data-ack", "handshake"])
def test_a_clock_going_back_gives_no_negative_times(tmp_path: Path, conversation: Any) -> None:
    # A damaged or unsorted capture (found by fuzzing a record's timestamp to 0): segments stamped before
    # what they answer give no negative RTT sample or handshake half (the events are schema-checked too).
    tcp = health(tmp_path, conversation())
    assert all(value >= 0 for value in tcp["rtt"].values())
