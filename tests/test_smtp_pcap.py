"""SMTP through the whole core, from a capture file: a session on port 25 with a pipelined group and a
message over many segments, a STARTTLS session on 587, and one on a configured port. Expected values
are the conversations' own, and tshark's SMTP/IMF dissection of the same file where tshark is
installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from packetshipper.pcapgen import write_pcap
from packetshipper.testing import run_pcap
from smtp_wire import EHLO_REPLY, GREETING, C, S, cmd, frames, message, message_size, reply

HEADERS = [("From", "a@x.example"), ("To", "b@y.example"), ("Subject", "Over many segments"),
           ("Message-ID", "<seg@x.example>")]
BODY = "".join(f"line {i} of a long body\r\n" for i in range(2000)) + ".dot\r\n"
PIPELINED = [(S, GREETING), (C, cmd("EHLO c.example")), (S, EHLO_REPLY),
             (C, cmd("MAIL FROM:<a@x.example>") + cmd("RCPT TO:<b@y.example>") + cmd("RCPT TO:<nobody@y.example>")
              + cmd("DATA")),
             (S, reply(250, "OK") + reply(250, "OK") + reply(550, "5.1.1 No such user") + reply(354, "Go ahead")),
             (C, message(HEADERS, BODY)), (S, reply(250, "2.0.0 Ok: queued as 4ABC")),
             (C, cmd("QUIT")), (S, reply(221, "Bye"))]
STARTTLS = [(S, GREETING), (C, cmd("EHLO c.example")), (S, EHLO_REPLY), (C, cmd("STARTTLS")),
            (S, reply(220, "2.0.0 Ready to start TLS")), (C, b"\x16\x03\x01\x00\x05hello"), (S, b"\x16\x03\x03\x00\x02hi")]
PLAIN = [(S, GREETING), (C, cmd("HELO c")), (S, reply(250, "hello")), (C, cmd("MAIL FROM:<z@x>")),
         (S, reply(250, "OK")), (C, cmd("RCPT TO:<w@y>")), (S, reply(250, "OK")), (C, cmd("RSET")),
         (S, reply(250, "OK"))]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("smtp") / "smtp.pcap"
    packets = (frames(PIPELINED, sport=40001, dport=25)
               + frames(STARTTLS, sport=40002, dport=587, ts=1_700_000_010.0)
               + frames(PLAIN, sport=40003, dport=2525, ts=1_700_000_020.0))
    write_pcap(str(path), packets)
    return path


def smtp_events(path: Path, entry: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    run = run_pcap(str(path), {"packetshipper": {"flows": {"enabled": False}, "protocols": [entry]}})
    return [e for e in run.events if e["type"] == "smtp"], run.stats


def test_default_ports_25_and_587(capture: Path) -> None:
    events, _ = smtp_events(capture, {"type": "smtp"})
    assert [(e["server"]["port"], e["event"]["action"]) for e in events] == [(25, "mail"), (587, "starttls")]
    mail, tls = events
    smtp = mail["smtp"]
    assert smtp["from"] == "a@x.example" and smtp["to"] == ["b@y.example"] and smtp["pipelined"] is True
    assert smtp["rejected"] == [{"address": "nobody@y.example", "code": 550, "text": "5.1.1 No such user"}]
    assert smtp["size"] == message_size(HEADERS, BODY) and smtp["subject"] == "Over many segments"
    assert mail["source"]["bytes"] == sum(len(d) for side, d in PIPELINED[3:-2] if side == C)
    assert mail["destination"]["bytes"] == sum(len(d) for side, d in PIPELINED[3:-2] if side == S)
    assert mail["network"]["community_id"].startswith("1:") and mail["event"]["outcome"] == "success"
    assert tls["smtp"]["starttls"] is True


def test_a_configured_port(capture: Path) -> None:
    events, stats = smtp_events(capture, {"type": "smtp", "ports": [2525]})
    (e,) = events
    assert e["smtp"]["helo"] == "c" and e["smtp"]["end"] == "rset" and "extensions" not in e["smtp"]


def _tshark(path: Path, *fields: str, display: str) -> list[list[str]]:
    out = subprocess.run(["tshark", "-r", str(path), "-o", "tcp.desegment_tcp_streams:TRUE", "-d",
                          "tcp.port==2525,smtp", "-Y", display, "-T", "fields", "-E", "separator=|",
                          *[x for f in fields for x in ("-e", f)]], check=True, capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_against_tshark(capture: Path) -> None:
    events, _ = smtp_events(capture, {"type": "smtp", "ports": [25, 587, 2525]})
    imf = _tshark(capture, "imf.subject", "imf.message_id", "imf.from", display="imf")
    assert [[e["smtp"]["subject"], e["smtp"]["message_id"]] for e in events if "subject" in e["smtp"]] == \
        [row[:2] for row in imf]
    requests = _tshark(capture, "tcp.srcport", "smtp.req.command", "smtp.req.parameter", display="smtp.req")
    codes = _tshark(capture, "smtp.response.code", display="smtp.response.code")
    mail = events[0]["smtp"]
    # tshark's RCPT parameters on the first connection, in order, are our accepted then refused ones
    pairs = [pair for port, verbs, params in requests if port == "40001"
             for pair in zip(verbs.split(","), params.split(","), strict=False)]
    addresses = [param.removeprefix("TO:<").rstrip(">") for verb, param in pairs if verb == "RCPT"]
    assert addresses == mail["to"] + [r["address"] for r in mail["rejected"]]
    assert "550" in [c for row in codes for c in row[0].split(",")]
