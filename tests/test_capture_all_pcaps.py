"""Every pcap of Packetbeat's test corpus runs to its end through the real capture path (pcapy-ng file
source, engine, flow table, dispatcher with the HTTP, DNS and ICMP modules, flow events), whatever its
link type, and every packet is accounted for. Packet counts and link types come from INDEX.md; a few
captures are also checked packet by packet against tshark."""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from packetshipper.capture import FileSource
from packetshipper.decode.decoder import LINKTYPES
from packetshipper.testing import PcapRun, run_pcap

CORPUS = Path(__file__).parent / "pcaps" / "packetbeat"
PCAPS = sorted(CORPUS.rglob("*.pcap"))
CONFIG = {"packetshipper": {"protocols": [{"type": "http"}, {"type": "dns"}, {"type": "icmp"}]}}
INDEX_LINKTYPES = {"ether": "ethernet", "linux-sll": "linux-sll", "null": "null"}


@cache
def index() -> dict[str, tuple[int, str]]:
    """pcap path relative to the corpus -> (packets, link type name) from INDEX.md's table."""
    rows = {}
    row = re.compile(r"^\| `(?P<path>[^`]+\.pcap)` \| [^|]+ \| (?P<packets>\d+) \| \d+ \| (?P<link>[\w-]+) \|")
    for line in (CORPUS / "INDEX.md").read_text().splitlines():
        match = row.match(line)
        if match:
            rows[match["path"]] = (int(match["packets"]), INDEX_LINKTYPES[match["link"]])
    return rows


@cache
def run(relative: str) -> PcapRun:
    return run_pcap(str(CORPUS / relative), CONFIG)


def final_flow_totals(events: list[dict[str, Any]]) -> tuple[int, int]:
    finals = [e for e in events if e["type"] == "flow" and e["flow"]["final"]]
    return sum(e["network"]["packets"] for e in finals), sum(e["network"]["bytes"] for e in finals)


def test_the_corpus_is_the_117_pcaps_that_index_md_lists() -> None:
    assert len(PCAPS) == 117
    assert sorted(index()) == sorted(str(p.relative_to(CORPUS)) for p in PCAPS)


@pytest.mark.parametrize("relative", [str(p.relative_to(CORPUS)) for p in PCAPS])
def test_each_pcap_is_read_to_the_end_and_every_packet_accounted(relative: str) -> None:
    packets, linktype = index()[relative]
    assert LINKTYPES[FileSource(str(CORPUS / relative)).linktype] == linktype
    result = run(relative)
    capture = result.stats["capture"]
    assert capture["received"] == packets
    assert capture["received"] == (capture["fast_path"] + capture["decoded"] + capture["non_ip"]
                                   + capture["malformed_total"] + capture["fragments_pending"])
    # Every decoded packet went to a flow, and every flow ended with a final event holding its totals.
    flows = result.stats["flows"]
    assert flows["active"] == 0 and flows["created"] == flows["ended"]
    flow_packets, _ = final_flow_totals(result.events)
    assert flow_packets == capture["fast_path"] + capture["decoded"] - flows["packets_untracked"]


def test_the_corpus_covers_ethernet_linux_cooked_and_bsd_loopback() -> None:
    seen = {LINKTYPES[FileSource(str(p)).linktype] for p in PCAPS}
    assert {"ethernet", "linux-sll", "null"} <= seen


@pytest.mark.parametrize("relative", [name for name, (_, link) in index().items() if link == "null"])
def test_bsd_loopback_captures_take_the_reference_decoder_only(relative: str) -> None:
    capture = run(relative).stats["capture"]
    assert capture["fast_path"] == 0 and capture["decoded"] == capture["received"]


# --- known oddities of single captures ------------------------------------------------------------


def test_arp_capture_is_all_non_ip() -> None:
    capture = run("communityid/arp.pcap").stats["capture"]
    assert (capture["received"], capture["non_ip"]) == (6, 6)


def test_edns0_response_arrives_in_three_fragments_and_is_reassembled() -> None:
    capture = run("unit/decoder/testdata/udp_edns0_resp.pcap").stats["capture"]
    assert (capture["fragments_pending"], capture["decoded"]) == (2, 1)
    assert capture["ip_fragments"]["reassembled"] == 1


def test_snaplen_cut_tcp_capture_counts_three_cut_frames_at_their_wire_length() -> None:
    # tshark: frames 4, 6 and 8 are captured at 96 of 562, 1514 and 349 bytes; all twelve frames
    # together are 3035 bytes on the wire (sum of frame.len).
    result = run("communityid/tcp.pcap")
    assert result.stats["capture"]["snaplen_truncated"] == 3
    assert final_flow_totals(result.events) == (12, 3035)


def test_qinq_icmp_frame_gives_both_vlan_ids_outer_first() -> None:
    flows = [e for e in run("802.1q-q-in-q-icmp.pcap").events if e["type"] == "flow"]
    assert [f["flow"]["vlan"] for f in flows] == [[101, 600]]  # tshark: vlan.id 101,600


# --- packet by packet against tshark ------------------------------------------------------------

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def tshark(path: Path, display_filter: str) -> list[int]:
    """frame.len of each frame tshark's display filter keeps."""
    cmd = ["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T", "fields", "-e", "frame.len"]
    return [int(n) for n in subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout.split()]


# The frames the fast path is for, in tshark's words: TCP or UDP (not quoted inside an ICMP error) or
# ICMP/ICMPv6, not cut by the snaplen, IPv4 with a 20-byte header and not a fragment, or IPv6 with TCP,
# UDP or ICMPv6 right after the fixed header, at most one VLAN tag and that one 802.1Q.
FAST_PATH_SHAPE = (
    "(((tcp or udp) and !icmp and !icmpv6) or icmp or icmpv6) and frame.len == frame.cap_len"
    " and ((ip and !ipv6 and ip.hdr_len == 20 and ip.flags.mf == 0 and ip.frag_offset == 0)"
    " or (ipv6 and !ip and (ipv6.nxt == 6 or ipv6.nxt == 17 or ipv6.nxt == 58)))"
    " and (!vlan or (count(vlan.id) == 1 and eth.type == 0x8100))"
)
CROSS_CHECKED = [
    "http_post.pcap",  # ethernet
    "http_over_vlan.pcap",  # 802.1Q
    "802.1q-q-in-q-icmp.pcap",
    "icmp/icmp6_ping_over_vlan.pcap",
    "ipv6_thrift.pcap",
    "communityid/ipv6.pcap",
    "http_minitwit.pcap",  # linux-sll
    "pgsql_rt.pcap",
    "mysql_with_whitespaces.pcap",  # null
    "communityid/sctp.pcap",
    "communityid/icmp6.pcap",
    "communityid/tcp.pcap",  # snaplen-cut
    "unit/decoder/testdata/udp_edns0_resp.pcap",  # fragments
    "wsgi_drum.pcap",
]


@needs_tshark
@pytest.mark.parametrize("relative", CROSS_CHECKED)
def test_fast_path_takes_exactly_the_frames_tshark_finds_of_its_shape(relative: str) -> None:
    expected = 0 if index()[relative][1] == "null" else len(tshark(CORPUS / relative, FAST_PATH_SHAPE))
    assert run(relative).stats["capture"]["fast_path"] == expected


@needs_tshark
@pytest.mark.parametrize("relative", [r for r in CROSS_CHECKED if "edns0" not in r])
def test_flow_totals_equal_tsharks_ip_frame_totals(relative: str) -> None:
    # (The EDNS0 capture is left out: tshark counts its three fragments, a flow the one datagram.)
    frames = tshark(CORPUS / relative, "ip or ipv6")
    assert final_flow_totals(run(relative).events) == (len(frames), sum(frames))
