"""`-d <selector>` prints what was parsed, paired, dropped and why, rate-limited; nothing without `-d`.

Every capture goes through the real CLI (`packetshipper -I file -t -e -d ...`, a subprocess), and the
debug lines are checked against what tshark (or tcpdump, or the file output itself) says the same
capture holds: request paths and status codes, DNS ids, names and response codes, TCP connections and
their bytes per direction, ICMP echo ids, flows and their packets per direction.
"""

from __future__ import annotations

import collections
import logging
import math
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from packetshipper.debuglog import DebugLog
from packetshipper.pcapgen import generate_http_dns, write_pcap

ROOT = Path(__file__).resolve().parent.parent
PCAPS = ROOT / "tests" / "pcaps" / "packetbeat"
SAMPLE = ROOT / "shipper" / "data" / "sample.pcap"

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

# `2026-12-01 09:26:32,079 DEBUG   packetshipper.http: http: <message>`
_DEBUG_LINE = re.compile(r"^\S+ \S+ DEBUG\s+packetshipper\.(?P<logger>[\w.]+): (?P<selector>[\w]+): (?P<text>.*)$")

# RFC 1035 / IANA mnemonics of the numbers tshark prints for these captures.
QTYPES = {1: "A", 2: "NS", 15: "MX", 16: "TXT", 28: "AAAA", 43: "DS"}
RCODES = {0: "NOERROR", 3: "NXDOMAIN"}


@dataclass
class Run:
    returncode: int
    stderr: str
    seconds: float
    out_dir: Path

    def lines(self, selector: str | None = None) -> list[str]:
        """The text of the debug lines (of one selector), in order."""
        out = []
        for line in self.stderr.splitlines():
            match = _DEBUG_LINE.match(line)
            if match and (selector is None or match["selector"] == selector):
                out.append(match["text"])
        return out

    def selectors(self) -> set[str]:
        return {m["selector"] for line in self.stderr.splitlines() if (m := _DEBUG_LINE.match(line))}


def _run(pcap: Path, tmp_path: Path, *args: str) -> Run:
    out_dir = tmp_path / "out"
    started = time.monotonic()
    # An empty working directory: no packetshipper.yml is picked up; flows and every built-in module run.
    proc = subprocess.run(
        [sys.executable, "-m", "packetshipper.cli", "-I", str(pcap), "-t", "-e", "-E", f"output.file.path={out_dir}",
         *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    run = Run(proc.returncode, proc.stderr, time.monotonic() - started, out_dir)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run


def _tshark(pcap: Path, display_filter: str, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", str(pcap), "-n", "-d", "tcp.port==5000,http", "-d", "tcp.port==8000,http",
            "-Y", display_filter, "-T", "fields", "-E", "separator=\t"]
    for field in fields:
        args += ["-e", field]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in proc.stdout.splitlines() if line.strip()]


def _address(ip: str, port: str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


# --- http ------------------------------------------------------------------------------------------

HTTP_PCAPS = [SAMPLE, PCAPS / "http_minitwit.pcap", PCAPS / "http_url_params.pcap", PCAPS / "http_post.pcap",
              PCAPS / "http_get_2k_file.pcap"]


def _tshark_http_exchanges(pcap: Path) -> collections.Counter[tuple[str, str, str, str]]:
    """(client -> server, method, target, status code) per exchange: requests and responses in order per stream."""
    requests: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
    codes: dict[str, list[str]] = collections.defaultdict(list)
    rows = _tshark(pcap, "http.request or http.response", "tcp.stream", "ip.src", "tcp.srcport", "ip.dst",
                   "tcp.dstport", "http.request.method", "http.request.uri", "http.response.code")
    for stream, src, sport, dst, dport, method, uri, code in rows:
        if method:
            requests[stream].append((f"tcp {_address(src, sport)} -> {_address(dst, dport)}", method, uri))
        else:
            codes[stream].append(code)
    exchanges: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    for stream, asked in requests.items():
        assert len(asked) == len(codes[stream]), (pcap, stream)
        for (where, method, uri), code in zip(asked, codes[stream], strict=True):
            exchanges[(where, method, uri, code)] += 1
    return exchanges


@needs_tshark
@pytest.mark.parametrize("pcap", HTTP_PCAPS, ids=lambda p: p.name)
def test_dash_d_http_names_each_request_and_status_tshark_sees(pcap: Path, tmp_path: Path) -> None:
    run = _run(pcap, tmp_path, "-d", "http")
    expected = _tshark_http_exchanges(pcap)
    assert expected, "the capture has HTTP exchanges"
    seen: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    for text in run.lines("http"):
        match = re.match(r"^(tcp \S+ -> \S+): (\S+) (\S+) -> (\d{3}) .*; (OK|Error).*, \d+/\d+ bytes, [\d.]+ ms$", text)
        assert match, text
        seen[(match[1], match[2], match[3], match[4])] += 1
    assert seen == expected
    assert run.selectors() == {"http"}


def test_dash_d_http_says_what_is_unmatched(tmp_path: Path) -> None:
    # http_unmatched.pcap (Packetbeat's test_0065): a request never answered (connection reset), then a 404
    # with no request, then GET /someotherthing -> 200 (tshark: frames 14 and 16, 502.1 ms apart).
    run = _run(PCAPS / "http_unmatched.pcap", tmp_path, "-d", "http")
    lines = run.lines("http")
    assert "tcp 127.0.0.1:63081 -> 127.0.0.1:8080: GET /something -> (no response); Error (Unmatched request)" \
        ", 70/0 bytes, 0.0 ms" in lines
    assert any(line.startswith("tcp 127.0.0.1:63082 -> 127.0.0.1:8080: (no request) -> 404 Not Found; "
                               "Error (Unmatched response)") for line in lines), lines
    assert "tcp 127.0.0.1:63082 -> 127.0.0.1:8080: GET /someotherthing -> 200 OK; OK, 75/113 bytes, 502.1 ms" in lines


# --- dns -------------------------------------------------------------------------------------------

DNS_PCAPS = [SAMPLE, PCAPS / "dns_google_com.pcap", PCAPS / "dns_mx.pcap", PCAPS / "dns_not_found.pcap",
             PCAPS / "dns_txt.pcap", PCAPS / "dns_ns.pcap", PCAPS / "dns_udp_edns_ds.pcap"]


def _tshark_dns_answers(pcap: Path) -> collections.Counter[tuple[str, str, str, str, str]]:
    """(id, type, name., rcode, answers) of each response."""
    rows = _tshark(pcap, "dns.flags.response == 1", "dns.id", "dns.qry.type", "dns.qry.name", "dns.flags.rcode",
                   "dns.count.answers")
    return collections.Counter(
        (f"0x{int(ident, 16):04x}", QTYPES[int(qtype)], name + ".", RCODES[int(rcode)], answers)
        for ident, qtype, name, rcode, answers in rows)


@needs_tshark
@pytest.mark.parametrize("pcap", DNS_PCAPS, ids=lambda p: p.name)
def test_dash_d_dns_names_each_query_tshark_sees_and_no_http(pcap: Path, tmp_path: Path) -> None:
    run = _run(pcap, tmp_path, "-d", "dns")
    expected = _tshark_dns_answers(pcap)
    assert expected, "the capture has DNS responses"
    seen: collections.Counter[tuple[str, ...]] = collections.Counter()
    for text in run.lines("dns"):
        match = re.match(r"^(?:udp|tcp) \S+ -> \S+: query id (0x[0-9a-f]{4}) (\S+) (\S+) -> (\w+), (\d+) answers?; ", text)
        assert match, text
        seen[match.groups()] += 1
    assert seen == expected
    # sample.pcap also holds HTTP, TCP and ICMP: none of it shows under -d dns.
    assert run.selectors() == {"dns"}


@needs_tshark
def test_a_response_without_its_query_is_named_with_its_id(tmp_path: Path) -> None:
    responses_only = tmp_path / "responses.pcap"
    subprocess.run(["tcpdump", "-r", str(PCAPS / "dns_google_com.pcap"), "-w", str(responses_only), "udp src port 53"],
                   capture_output=True, timeout=60, check=True)
    ((ident, name),) = _tshark(responses_only, "dns", "dns.id", "dns.qry.name")
    run = _run(responses_only, tmp_path, "-d", "dns")
    wanted = f"response id 0x{int(ident, 16):04x} A {name}. has no matching query: published alone, as Error"
    assert any(line.endswith(wanted) for line in run.lines("dns")), run.lines("dns")
    assert any(f"(no query) -> response id 0x{int(ident, 16):04x} A {name}. NOERROR" in line
               for line in run.lines("dns")), run.lines("dns")


# --- everything at once: sample.pcap with -d '*' -----------------------------------------------------

@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(SAMPLE, tmp_path_factory.mktemp("star"), "-d", "*")


def test_dash_d_star_shows_every_selector(everything: Run) -> None:
    assert {"http", "dns", "icmp", "tcp", "udp", "flows", "publisher"} <= everything.selectors()


@needs_tshark
def test_dash_d_tcp_reports_each_connection_as_tshark_sees_it(everything: Run) -> None:
    rows = _tshark(SAMPLE, "tcp", "tcp.stream", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.len",
                   "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset")
    client: dict[str, tuple[str, str]] = {}
    sent: dict[tuple[str, str], int] = collections.Counter()
    reset: set[str] = set()
    for stream, src, sport, dst, dport, length, syn, ack, rst in rows:
        if syn in ("1", "True") and ack in ("0", "False"):
            client[stream] = (_address(src, sport), _address(dst, dport))
        sent[(stream, _address(src, sport))] += int(length)
        if rst in ("1", "True"):
            reset.add(stream)
    assert client, "sample.pcap has TCP connections"
    lines = everything.lines("tcp")
    for stream, (cli, srv) in client.items():
        module = "dns" if srv.endswith(":53") else "http"
        how = "RST" if stream in reset else "FIN"
        opened = re.compile(rf"^connection #\d+ tcp {re.escape(cli)} -> {re.escape(srv)} opened for {module} "
                            r"\(SYN seen\)$")
        closed = re.compile(rf"^connection #\d+ tcp {re.escape(cli)} -> {re.escape(srv)} closed by {how} after "
                            rf"{sent[(stream, cli)]}/{sent[(stream, srv)]} bytes delivered \(request/response\), "
                            r"gaps 0, out of order 0, overlaps 0$")
        assert sum(bool(opened.match(line)) for line in lines) == 1, (cli, srv, lines)
        assert sum(bool(closed.match(line)) for line in lines) == 1, (cli, srv, how, lines)


@needs_tshark
def test_dash_d_tcp_names_a_gap_with_the_bytes_tshark_finds_missing(tmp_path: Path) -> None:
    # gap_in_stream.pcap: segments of the response were not captured. tshark's relative sequence numbers
    # say which bytes of each direction are there; what lies between them is the hole.
    pcap = PCAPS / "gap_in_stream.pcap"
    covered: dict[str, set[int]] = collections.defaultdict(set)
    ends: dict[str, tuple[str, str]] = {}
    for src, sport, dst, dport, seq, length in _tshark(pcap, "tcp", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport",
                                                       "tcp.seq", "tcp.len"):
        ends[sport] = (_address(src, sport), _address(dst, dport))
        covered[sport].update(range(int(seq), int(seq) + int(length)))
    server_port = "8000"
    (client_port,) = set(ends) - {server_port}
    have = covered[server_port]
    missing = max(have) + 1 - min(have) - len(have)
    assert missing > 0
    client, server = ends[client_port]
    run = _run(pcap, tmp_path, "-d", "tcp")
    lines = run.lines("tcp")
    assert f"connection #1 tcp {client} -> {server}: gap of {missing} bytes in the response stream given up on " \
        "(lost)" in lines, lines
    assert any(re.fullmatch(rf"connection #1 tcp {re.escape(client)} -> {re.escape(server)} .* after "
                            rf"{len(covered[client_port])}/{len(have)} bytes delivered \(request/response\), gaps 1, "
                            r"out of order \d+, overlaps 0", line) for line in lines), lines


@needs_tshark
def test_dash_d_icmp_pairs_each_echo_tshark_sees(everything: Run) -> None:
    requests = _tshark(SAMPLE, "icmp.type == 8", "ip.src", "ip.dst", "icmp.ident", "icmp.seq")
    assert requests
    lines = everything.lines("icmp")
    for src, dst, ident, seq in requests:
        wanted = f"icmp {src} -> {dst}: EchoRequest(0) id {ident} seq {seq} -> EchoReply(0); OK"
        assert sum(line.startswith(wanted) for line in lines) == 1, (wanted, lines)


@needs_tshark
def test_dash_d_flows_reports_each_flow_with_tsharks_packet_counts(everything: Run) -> None:
    rows = _tshark(SAMPLE, "ip", "ip.proto", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "udp.srcport",
                   "udp.dstport")
    names = {"1": "icmp", "6": "tcp", "17": "udp"}
    first: dict[tuple[str, frozenset[str]], tuple[str, str]] = {}
    packets: collections.Counter[tuple[str, frozenset[str], bool]] = collections.Counter()
    for proto, src, dst, tsport, tdport, usport, udport in rows:
        sport, dport = tsport or usport, tdport or udport
        a, b = (_address(src, sport), _address(dst, dport)) if sport else (src, dst)
        key = (names[proto], frozenset((a, b)))
        source = first.setdefault(key, (a, b))  # the flow's source is the first packet's sender
        packets[(*key, (a, b) == source)] += 1
    # A host talking to itself (the echo on 127.0.0.1) has no direction tshark could tell apart: only
    # its total is compared.
    expected = collections.Counter(
        (f"{name} {a} -> {b}", packets[(name, ends, True)], packets[(name, ends, False)]) if a != b
        else (f"{name} {a} -> {b}", packets[(name, ends, True)])
        for (name, ends), (a, b) in first.items())
    seen: collections.Counter[tuple[object, ...]] = collections.Counter()
    for line in everything.lines("flows"):
        match = re.match(r"^flow \S+ (\w+ (\S+) -> (\S+)): final report, (\d+) packets/\d+ bytes out, (\d+)/\d+ back, ",
                         line)
        assert match, line
        out, back = int(match[4]), int(match[5])
        seen[(match[1], out, back) if match[2] != match[3] else (match[1], out + back)] += 1
    assert seen == expected


def test_dash_d_publisher_counts_what_the_file_output_wrote(everything: Run) -> None:
    written = sum(len(path.read_text().splitlines()) for path in everything.out_dir.iterdir())
    assert written > 0
    acked = 0
    for line in everything.lines("publisher"):
        match = re.match(r"^batch of (\d+) events to file answered in [\d.]+ ms: (\d+) acked \(0 duplicates\), "
                         r"0 to retry, 0 dead-lettered$", line)
        assert match, line
        assert match[1] == match[2]
        acked += int(match[2])
    assert acked == written


# --- off, on by level, and limits ----------------------------------------------------------------

def test_without_dash_d_no_debug_line_appears(tmp_path: Path) -> None:
    run = _run(SAMPLE, tmp_path)
    assert run.lines() == []
    assert " DEBUG " not in run.stderr


def test_logging_level_debug_without_selectors_selects_all_as_beats_does(tmp_path: Path) -> None:
    run = _run(SAMPLE, tmp_path, "-E", "logging.level=debug")
    assert {"http", "dns", "tcp", "udp", "icmp", "flows", "publisher"} <= run.selectors()


def test_two_selectors_show_those_two_only(tmp_path: Path) -> None:
    run = _run(SAMPLE, tmp_path, "-d", "tcp,udp")
    assert run.selectors() == {"tcp", "udp"}


@needs_tshark
def test_a_flood_is_rate_limited_and_every_line_is_accounted_for(tmp_path: Path) -> None:
    flood = tmp_path / "flood.pcap"
    write_pcap(str(flood), generate_http_dns(20_000, duration=5.0))
    requests = len(_tshark(flood, "http.request", "frame.number"))
    assert requests > 1000
    limit = 20
    run = _run(flood, tmp_path, "-d", "http", "-E", f"logging.debug_rate_limit={limit}")
    lines = run.lines("http")
    summaries = [re.fullmatch(r"suppressed (\d+) debug lines \(over logging.debug_rate_limit: 20 a second\)", line)
                 for line in lines]
    suppressed = sum(int(m[1]) for m in summaries if m)
    shown = sum(1 for m in summaries if not m)
    assert suppressed > 0
    assert shown + suppressed == requests  # one line per transaction, written or counted
    # At most `limit` lines in each one-second window the run could have spanned.
    assert shown <= limit * (math.floor(run.seconds) + 1)


def test_the_rate_limit_must_be_a_count(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "packetshipper.cli", "-I", str(SAMPLE), "-t", "-E",
                           "logging.debug_rate_limit=-1"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 1
    assert "logging.debug_rate_limit" in proc.stderr and "Traceback" not in proc.stderr


# --- the limiter itself -----------------------------------------------------------------------------

class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Counted:
    """An argument that counts how often it is formatted."""

    def __init__(self) -> None:
        self.formatted = 0

    def __str__(self) -> str:
        self.formatted += 1
        return "x"


def test_the_limiter_writes_n_a_second_and_then_one_summary(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    debug = DebugLog("unit", limit=3, clock=clock)
    debug.enabled = True
    with caplog.at_level(logging.DEBUG, logger="packetshipper.unit"):
        for i in range(10):
            debug("line %d", i)
        clock.now += 0.5
        debug("still the same second")
        clock.now += 0.6
        debug("a new second")
        debug.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "unit: line 0", "unit: line 1", "unit: line 2",
        "unit: suppressed 8 debug lines (over logging.debug_rate_limit: 3 a second)",
        "unit: a new second",
    ]


def test_a_suppressed_count_is_reported_at_flush_and_not_twice(caplog: pytest.LogCaptureFixture) -> None:
    debug = DebugLog("unit", limit=1, clock=_Clock())
    debug.enabled = True
    with caplog.at_level(logging.DEBUG, logger="packetshipper.unit"):
        debug("one")
        debug("two")
        debug.flush()
        debug.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "unit: one", "unit: suppressed 1 debug lines (over logging.debug_rate_limit: 1 a second)"]


class _Keep(logging.Handler):
    """Keeps records without formatting them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_off_or_over_the_limit_no_record_is_made_and_nothing_formatted() -> None:
    logger = logging.getLogger("packetshipper.unit_format")
    keep = _Keep()
    saved = logger.level, logger.propagate
    logger.addHandler(keep)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        debug = DebugLog("unit_format", limit=1, clock=_Clock())
        arg = _Counted()
        debug("%s", arg)  # off
        debug.enabled = True
        debug("%s", arg)  # written
        debug("%s", arg)  # over the limit
    finally:
        logger.removeHandler(keep)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
    assert len(keep.records) == 1
    assert arg.formatted == 0  # nothing formatted it: the one record is formatted only by a handler that writes it
    assert debug.suppressed == 1


def test_a_limit_of_zero_means_no_limit(caplog: pytest.LogCaptureFixture) -> None:
    debug = DebugLog("unit", limit=0, clock=_Clock())
    debug.enabled = True
    with caplog.at_level(logging.DEBUG, logger="packetshipper.unit"):
        for i in range(500):
            debug("line %d", i)
    assert len(caplog.records) == 500 and debug.suppressed == 0
