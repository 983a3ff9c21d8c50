"""Property tests: only ProtocolError escapes the SMTP parsers, random splits of a valid session give the
same messages and events, and every event fits the schema."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.modules.smtp.messages import SessionState
from packetshipper.modules.smtp.parser import ClientParser, Limits, ServerParser
from packetshipper.protocol import ProtocolError
from smtp_wire import EHLO_REPLY, GREETING, C, Harness, S, cmd, message, reply

LIMITS = Limits(max_line_length=256, max_header_size=512, max_reply_lines=4)
addresses = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True)
texts = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_characters="\r\n"),
                max_size=30)
bodies = st.lists(st.sampled_from(["", ".", "..", ". x", "plain line", "=?utf-8?q?x?=", "\t"]), max_size=8).map(
    "\r\n".join)


def _ignore(name: str, n: int = 1) -> None:
    pass


@st.composite
def sessions(draw: Any) -> list[tuple[bool, bytes]]:
    out: list[tuple[bool, bytes]] = [(S, GREETING), (C, cmd("EHLO c.example")), (S, EHLO_REPLY)]
    for _ in range(draw(st.integers(1, 3))):
        out += [(C, cmd(f"MAIL FROM:<{draw(addresses)}>")), (S, reply(draw(st.sampled_from([250, 550])), "m"))]
        for _ in range(draw(st.integers(0, 3))):
            out += [(C, cmd(f"RCPT TO:<{draw(addresses)}>")),
                    (S, reply(draw(st.sampled_from([250, 251, 450, 550])), draw(texts)))]
        ending = draw(st.sampled_from(["data", "data-refused", "rset", "noop"]))
        if ending == "data":
            out += [(C, cmd("DATA")), (S, reply(354, "go")),
                    (C, message([("Subject", draw(texts)), ("Message-ID", "<x@y>")], draw(bodies))),
                    (S, reply(draw(st.sampled_from([250, 451, 554])), *draw(st.lists(texts, min_size=1, max_size=3))))]
        elif ending == "data-refused":
            out += [(C, cmd("DATA")), (S, reply(554, "no")), (C, cmd("RSET")), (S, reply(250, "ok"))]
        elif ending == "rset":
            out += [(C, cmd("RSET")), (S, reply(250, "ok"))]
        else:
            out += [(C, cmd("NOOP")), (S, reply(250, "ok"))]
    return out + [(C, cmd("QUIT")), (S, reply(221, "bye"))]


def _events(session: list[tuple[bool, bytes]], cuts: list[int] | None) -> list[dict[str, Any]]:
    h = Harness()
    for i, (side, data) in enumerate(session):
        if cuts is None or not data:
            h.feed(side, data)
            continue
        cut = cuts[i % len(cuts)] % len(data)
        for piece in (data[:cut], data[cut:]):
            if piece:
                h.feed(side, piece)
    h.close()
    return [{k: v for k, v in e.items() if k not in ("@timestamp", "event")} for e in h.events()]


@settings(max_examples=80)
@given(sessions(), st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_random_splits_give_the_same_events(session: list[tuple[bool, bytes]], cuts: list[int]) -> None:
    whole = _events(session, None)
    assert _events(session, cuts) == whole
    assert len(whole) == sum(1 for side, data in session if side and data.startswith(b"MAIL"))


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=80), max_size=8), st.booleans(), st.booleans())
def test_arbitrary_bytes_raise_only_protocol_error(chunks: list[bytes], from_client: bool, data_mode: bool) -> None:
    state = SessionState()
    parser = ClientParser(LIMITS, state, _ignore) if from_client else ServerParser(LIMITS, state, _ignore)
    with contextlib.suppress(ProtocolError):
        if from_client and data_mode:
            parser.receive_data(b"DATA\r\n", 0.0)
        for chunk in chunks:
            parser.receive_data(chunk, 0.0)
        parser.receive_eof(0.0)
    assert len(parser._buf) <= LIMITS.max_line_length + 1


@settings(max_examples=80)
@given(sessions(), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6))
def test_corrupted_sessions_give_only_valid_events(session: list[tuple[bool, bytes]],
                                                   edits: list[tuple[int, int]]) -> None:
    h = Harness()
    for i, (side, data) in enumerate(session):
        buf = bytearray(data)
        for pos, value in edits:
            if buf and pos % 7 == i % 7:
                buf[pos % len(buf)] = value
        h.feed(side, bytes(buf))
    h.close()
    h.events()  # each one checked against fields/ by the harness
