"""The SMTP parsers on their own, from RFC 5321: reply lines (4.2), command lines (4.1), the message
after DATA with its dot-stuffing (4.5.2), BDAT chunks (RFC 3030). Each case is fed whole, one byte at a
time, and followed by the start of a next line (which must yield nothing more)."""

from __future__ import annotations

from typing import Any

import pytest
from packetshipper.modules.smtp.content import ContentReader
from packetshipper.modules.smtp.messages import AuthResponse, Command, Content, Reply, SessionState
from packetshipper.modules.smtp.parser import ClientParser, Limits, ServerParser
from packetshipper.protocol import ProtocolError
from smtp_wire import cmd, message, message_size, reply

LIMITS = Limits(max_line_length=200, max_header_size=1024, max_reply_lines=5)


class Counts(dict[str, int]):
    def __call__(self, name: str, n: int = 1) -> None:
        self[name] = self.get(name, 0) + n


def feed(parser: Any, data: bytes, how: str) -> list[Any]:
    out: list[Any] = []
    if how == "whole":
        out += parser.receive_data(data, 1.0)
    elif how == "bytes":
        for i in range(len(data)):
            out += parser.receive_data(data[i:i + 1], 1.0)
    else:
        out += parser.receive_data(data + b"25", 1.0)
    return out


HOW = ["whole", "bytes", "trailing"]


def server(data: bytes, how: str, state: SessionState | None = None, counts: Counts | None = None) -> list[Any]:
    return feed(ServerParser(LIMITS, state or SessionState(), Counts() if counts is None else counts), data, how)


def client(data: bytes, how: str, state: SessionState | None = None, counts: Counts | None = None) -> list[Any]:
    return feed(ClientParser(LIMITS, state or SessionState(), Counts() if counts is None else counts), data, how)


def brief(messages: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for m in messages:
        if isinstance(m, Reply):
            out.append(("reply", m.code, m.lines, m.size))
        elif isinstance(m, Command):
            out.append(("cmd", m.verb, m.arg, m.size, m.chunk, m.last, m.headers))
        elif isinstance(m, Content):
            out.append(("content", m.size, m.message_size, m.headers, m.headers_truncated))
        else:
            out.append(("auth", m.size))
    return out


# --- replies ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
def test_single_and_multi_line_replies(how: str) -> None:
    data = reply(220, "mx ESMTP") + reply(250, "mx Hello", "PIPELINING", "SIZE 100") + b"354\r\n" + b"221 bye\n"
    assert brief(server(data, how)) == [
        ("reply", 220, ("mx ESMTP",), len(b"220 mx ESMTP\r\n")),
        ("reply", 250, ("mx Hello", "PIPELINING", "SIZE 100"), 14 + 16 + 14),
        ("reply", 354, ("",), 5),
        ("reply", 221, ("bye",), 8),
    ]


@pytest.mark.parametrize("how", HOW)
def test_reply_lines_over_max_reply_lines_are_counted_not_kept(how: str) -> None:
    counts = Counts()
    (got,) = server(reply(250, *[f"EXT{i}" for i in range(8)]), how, counts=counts)
    assert got.lines == ("EXT0", "EXT1", "EXT2", "EXT3", "EXT4") and got.lines_dropped == 3
    assert counts == {"reply_lines_dropped": 3}


@pytest.mark.parametrize("line", [b"hello\r\n", b"25\r\n", b"2500 x\r\n", b"250+x\r\n", b"650 x\r\n", b"\x15\x03\x01\r\n"])
def test_lines_that_are_not_replies_are_protocol_errors(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        server(line, "whole")


def test_a_reply_line_over_max_line_length_is_a_protocol_error_even_before_its_end() -> None:
    counts = Counts()
    parser = ServerParser(LIMITS, SessionState(), counts)
    with pytest.raises(ProtocolError):
        for _ in range(30):
            parser.receive_data(b"250-" + b"x" * 10, 1.0)
    assert counts == {"lines_too_long": 1}


def test_after_starttls_the_server_parser_reads_nothing() -> None:
    state = SessionState()
    parser = ServerParser(LIMITS, state, Counts())
    assert len(parser.receive_data(reply(220, "go ahead"), 1.0)) == 1
    state.tls = True
    assert parser.receive_data(b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03" + bytes(100), 1.0) == []


# --- commands --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
def test_command_lines(how: str) -> None:
    data = cmd("EHLO client.example") + cmd("mail FROM:<a@x> SIZE=10") + b"RCPT TO:<b@x>\n" + cmd("NOOP") \
        + cmd("VRFY postmaster") + cmd("RSET") + cmd("QUIT")
    assert [(m.verb, m.arg, m.size) for m in client(data, how)] == [
        ("EHLO", "client.example", 21), ("MAIL", "FROM:<a@x> SIZE=10", 25), ("RCPT", "TO:<b@x>", 14),
        ("NOOP", "", 6), ("VRFY", "postmaster", 17), ("RSET", "", 6), ("QUIT", "", 6)]


@pytest.mark.parametrize("how", HOW[:2])
def test_auth_keeps_the_mechanism_only(how: str) -> None:
    state = SessionState()
    parser = ClientParser(LIMITS, state, Counts())
    (auth,) = feed(parser, cmd("AUTH plain AHVzZXIAc2VjcmV0"), how)
    assert (auth.verb, auth.arg) == ("AUTH", "PLAIN")
    state.auth_challenge = True  # the server answered 334: the next line is credentials
    (answer,) = parser.receive_data(cmd("dXNlcg=="), 2.0)
    assert answer == AuthResponse(2.0, 10) and state.auth_challenge is False
    assert brief(parser.receive_data(cmd("NOOP"), 3.0)) == [("cmd", "NOOP", "", 6, 0, False, ())]


def test_a_command_line_over_max_line_length_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        client(b"MAIL FROM:<" + b"a" * 300, "whole")
    with pytest.raises(ProtocolError):
        client(b"NOOP " + b"a" * 300 + b"\r\n", "whole")


# --- the message after DATA ------------------------------------------------------------------------------
HEADERS = [("Subject", "Hi there"), ("From", "Alice <a@x>"), ("To", "b@x"), ("Cc", "c@x"), ("X-Other", "no"),
           ("Date", "Tue, 1 Dec 2026 10:00:00 +0000"), ("Message-ID", "<1@x>")]
KEPT = (("subject", "Hi there"), ("from", "Alice <a@x>"), ("to", "b@x"), ("cc", "c@x"),
        ("date", "Tue, 1 Dec 2026 10:00:00 +0000"), ("message-id", "<1@x>"))


@pytest.mark.parametrize("how", HOW)
def test_data_message_with_stuffed_dots(how: str) -> None:
    body = "first\r\n.leading dot\r\n..two\r\n.\t\r\nlast"
    wire = message(HEADERS, body)
    got = client(cmd("DATA") + wire + cmd("QUIT"), how)
    assert brief(got) == [("cmd", "DATA", "", 6, 0, False, ()),
                          ("content", len(wire), message_size(HEADERS, body), KEPT, False),
                          ("cmd", "QUIT", "", 6, 0, False, ())]
    # the message's own size is its bytes with one dot taken off each stuffed line, without ".\r\n"
    assert message_size(HEADERS, body) == len(wire) - 3 - 3


@pytest.mark.parametrize("how", HOW)
def test_folded_and_encoded_headers_and_bare_line_feeds(how: str) -> None:
    wire = (b"Subject: =?utf-8?q?caf=C3=A9?=\n and more\nMessage-Id:\n <2@x>\nTo: a@x,\r\n\tb@x\n\nbody\n.\n")
    (_, content) = client(cmd("DATA") + wire, how)
    assert dict(content.headers) == {"subject": "café and more", "message-id": "<2@x>", "to": "a@x,\tb@x"}
    assert content.message_size == len(wire) - 2 and content.size == len(wire)


@pytest.mark.parametrize("how", HOW)
def test_a_message_without_headers_or_body(how: str) -> None:
    assert brief(client(cmd("DATA") + b".\r\n", how))[1] == ("content", 3, 0, (), False)
    assert brief(client(cmd("DATA") + b"\r\n.\r\n", how))[1] == ("content", 5, 2, (), False)


@pytest.mark.parametrize("cut", range(1, 12))
def test_the_terminator_split_anywhere(cut: int) -> None:
    wire = b"Subject: s\r\n\r\nx\r\n.\r\nNOOP\r\n"
    data = cmd("DATA") + wire
    parser = ClientParser(LIMITS, SessionState(), Counts())
    out = parser.receive_data(data[:6 + cut], 1.0) + parser.receive_data(data[6 + cut:], 1.0)
    assert [type(m).__name__ for m in out] == ["Command", "Content", "Command"]
    assert out[1].message_size == 17 and out[2].verb == "NOOP"


def test_a_header_section_over_max_header_size_is_cut_and_the_body_still_counted() -> None:
    headers = [("Subject", "kept"), *[(f"X-{i}", "v" * 50) for i in range(40)], ("Message-ID", "<late@x>")]
    body = "body\r\n" * 1000
    (_, content) = client(cmd("DATA") + message(headers, body), "whole")
    assert dict(content.headers) == {"subject": "kept"} and content.headers_truncated
    assert content.message_size == message_size(headers, body)


def test_a_long_body_line_is_streamed_not_kept() -> None:
    parser = ClientParser(LIMITS, SessionState(), Counts())
    parser.receive_data(cmd("DATA") + b"Subject: s\r\n\r\n", 1.0)
    for _ in range(1000):
        assert parser.receive_data(b"y" * 1000, 1.0) == []
        assert len(parser._buf) <= 2
    (content,) = parser.receive_data(b"\r\n.\r\n", 1.0)
    assert content.message_size == 14 + 1_000_000 + 2


def test_after_a_refused_data_the_next_lines_are_commands() -> None:
    state = SessionState()
    parser = ClientParser(LIMITS, state, Counts())
    assert brief(parser.receive_data(cmd("DATA"), 1.0))[0][1] == "DATA"
    state.data_accepted = False  # the correlator saw 554 to DATA
    assert brief(parser.receive_data(cmd("RSET"), 2.0)) == [("cmd", "RSET", "", 6, 0, False, ())]


def test_bytes_lost_inside_a_message_are_counted_into_it() -> None:
    counts = Counts()
    parser = ClientParser(LIMITS, SessionState(), counts)
    parser.receive_data(cmd("DATA") + b"Subject: s\r\n\r\nabc", 1.0)
    assert parser.receive_gap(100, 1.0) == []
    (content,) = parser.receive_data(b"def\r\n.\r\n", 1.0)
    assert content.gap and content.message_size == 14 + 3 + 100 + 5 and counts == {"gaps_in_messages": 1}


def test_bytes_lost_between_commands_are_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        ClientParser(LIMITS, SessionState(), Counts()).receive_gap(10, 1.0)
    with pytest.raises(ProtocolError):
        ServerParser(LIMITS, SessionState(), Counts()).receive_gap(10, 1.0)


# --- BDAT (RFC 3030) -------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", HOW)
def test_bdat_chunks(how: str) -> None:
    first = b"Subject: chunked\r\nMessage-ID: <c@x>\r\n"
    second = b"\r\nbody with\r\n.a dot that is not stuffed\r\n"
    data = f"BDAT {len(first)}\r\n".encode() + first + f"BDAT {len(second)} LAST\r\n".encode() + second + cmd("QUIT")
    got = brief(client(data, how))
    assert (len(first), len(second)) == (37, 41)
    assert got == [("cmd", "BDAT", "37", 9 + 37, 37, False, ()),
                   ("cmd", "BDAT", "41 LAST", 14 + 41, 41, True, (("subject", "chunked"), ("message-id", "<c@x>"))),
                   ("cmd", "QUIT", "", 6, 0, False, ())]


def test_bdat_without_a_size_reads_no_chunk() -> None:
    assert brief(client(cmd("BDAT x") + cmd("NOOP"), "whole")) == [("cmd", "BDAT", "x", 8, 0, False, ()),
                                                                  ("cmd", "NOOP", "", 6, 0, False, ())]


def test_content_reader_needs_more_bytes_only_at_a_possible_terminator() -> None:
    reader = ContentReader(1024)
    assert reader.feed(b"\r\nab", 0) == (4, False)
    assert reader.feed(b"\r\n.", 0) == (2, False)  # the dot may start ".\r\n": kept for the next call
    assert reader.feed(b".\r", 0) == (0, False)
    assert reader.feed(b".\r\n", 0) == (3, True)


def test_after_starttls_the_client_parser_reads_nothing() -> None:
    state = SessionState()
    parser = ClientParser(LIMITS, state, Counts())
    parser.receive_data(cmd("STARTTLS"), 1.0)
    state.tls = True
    assert parser.receive_data(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(300), 2.0) == []


@pytest.mark.parametrize("subject", ["=?utf\ufffd8?q?x?=", "=?nosuchcharset?q?x?="])
def test_encoded_words_that_do_not_decode_are_kept_as_sent(subject: str) -> None:
    """Found by the fuzz run: the email package raises CharsetError or LookupError here."""
    (_, content) = client(cmd("DATA") + message([("Subject", subject)], "x"), "whole")
    assert dict(content.headers)["subject"] == subject
