"""The SIP reader: start lines, headers, bodies, URIs and SDP (RFC 3261 sections 7, 18.3, 19.1, 20;
RFC 8866 section 5), over datagrams and TCP streams fed whole, a byte at a time, and with trailing
bytes. Wire bytes are built from meaning by `request` and `response` below."""

from __future__ import annotations

import pytest
from packetshipper.modules.sip.messages import SipMessage
from packetshipper.modules.sip.parser import (
    SipProtocolError,
    SipStreamParser,
    looks_like_sip,
    parse_datagram,
)
from packetshipper.modules.sip.sdp import parse_sdp
from packetshipper.modules.sip.uri import parse_name_addr, parse_uri

SDP = ("v=0\r\no=jdoe 3724394400 3724394405 IN IP4 198.51.100.1\r\ns=Call to John Smith\r\n"
       "c=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\nc=IN IP4 203.0.113.9\r\n")

BASE = [("Via", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"), ("Max-Forwards", "70"),
        ("To", "Bob <sip:bob@biloxi.com>"), ("From", "Alice <sip:alice@atlanta.com>;tag=1928301774"),
        ("Call-ID", "a84b4c76e66710@pc33.atlanta.com"), ("CSeq", "314159 INVITE"),
        ("Contact", "<sip:alice@pc33.atlanta.com>")]


def _message(start: str, headers: list[tuple[str, str]] | None, body: str, length: bool) -> bytes:
    lines = [start] + [f"{k}: {v}" for k, v in (BASE if headers is None else headers)]
    if body:
        lines.append("Content-Type: application/sdp")
    if length:
        lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def request(method: str = "INVITE", uri: str = "sip:bob@biloxi.com", headers: list[tuple[str, str]] | None = None,
            body: str = "", length: bool = True) -> bytes:
    return _message(f"{method} {uri} SIP/2.0", headers, body, length)


def response(code: int = 200, phrase: str = "OK", headers: list[tuple[str, str]] | None = None, body: str = "",
             length: bool = True) -> bytes:
    return _message(f"SIP/2.0 {code} {phrase}".rstrip(), headers, body, length)


def stream(chunks: list[bytes], max_size: int = 1 << 20) -> tuple[list[SipMessage], dict[str, int]]:
    counts: dict[str, int] = {}
    parser = SipStreamParser(max_size, lambda name: counts.__setitem__(name, counts.get(name, 0) + 1))
    out: list[SipMessage] = []
    for chunk in chunks:
        out += parser.receive_data(chunk, 1.0)
    return out, counts


def one(data: bytes, ts: float) -> SipMessage:
    msg = parse_datagram(data, ts)
    assert msg is not None
    return msg


# --- datagrams ------------------------------------------------------------------------------------

def test_invite_request_line_and_headers() -> None:
    msg = one(request(body=SDP), 5.0)
    assert msg.is_request and msg.method == "INVITE" and msg.uri == "sip:bob@biloxi.com"
    assert msg.version == "2.0" and msg.ts == 5.0
    assert msg.last("call-id") == "a84b4c76e66710@pc33.atlanta.com"
    assert msg.body == SDP.encode() and msg.has_content_length


def test_status_line() -> None:
    msg = one(response(180, "Ringing"), 1.0)
    assert not msg.is_request and msg.code == 180 and msg.phrase == "Ringing"


def test_status_line_without_reason_phrase() -> None:
    msg = one(b"SIP/2.0 200\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n", 1.0)
    assert msg.code == 200 and msg.phrase == ""


def test_compact_header_names_expand() -> None:
    # RFC 3261 7.3.3: i, m, f, t, v, l, c, k and s are Call-ID, Contact, From, To, Via, Content-Length, ...
    data = (b"BYE sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP h\r\nf: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: abc\r\n"
            b"k: timer\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n")
    msg = one(data, 1.0)
    assert msg.last("call-id") == "abc" and msg.last("via") == "SIP/2.0/UDP h"
    assert msg.last("from") == "<sip:x@y>;tag=1" and msg.last("supported") == "timer"
    assert msg.has_content_length


def test_folded_header_lines_join() -> None:
    # RFC 3261 7.3.1: a line starting with white space continues the previous header.
    data = b"OPTIONS sip:a@b SIP/2.0\r\nSubject: I know you're there,\r\n pick up the phone\r\nCSeq: 1 OPTIONS\r\n\r\n"
    msg = one(data, 1.0)
    assert msg.last("subject") == "I know you're there, pick up the phone"


def test_every_via_kept_in_order() -> None:
    data = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\nVia: SIP/2.0/UDP b, SIP/2.0/UDP c\r\n\r\n"
    assert one(data, 1.0).all("via") == ["SIP/2.0/UDP a", "SIP/2.0/UDP b, SIP/2.0/UDP c"]


def test_udp_body_cut_at_content_length() -> None:
    msg = one(request(body="v=0\r\n") + b"junk", 1.0)
    assert msg.body == b"v=0\r\n" and not msg.truncated


def test_udp_body_shorter_than_content_length_is_marked_truncated() -> None:
    msg = one(request(body=SDP)[:-10], 1.0)
    assert msg.truncated and msg.body == SDP.encode()[:-10]


def test_udp_body_without_content_length_runs_to_datagram_end() -> None:
    # RFC 3261 18.3: over UDP a missing Content-Length means the body is the rest of the datagram.
    msg = one(request(body="v=0\r\n", length=False), 1.0)
    assert msg.body == b"v=0\r\n" and not msg.has_content_length


def test_leading_crlf_ignored_and_keepalive_datagram() -> None:
    # RFC 3261 7.5: CRLFs before the start line are ignored; RFC 5626 keep-alives are bare CRLFs.
    assert one(b"\r\n" + response(), 1.0).code == 200
    assert parse_datagram(b"\r\n\r\n", 1.0) is None


@pytest.mark.parametrize("data", [
    b"", b"hello world", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"SIP/2.0 2000 OK\r\n\r\n", b"SIP/2.x 200 OK\r\n\r\n",
    b"INVITE sip:a@b\r\n\r\n", b"INVITE sip:a@b SIP/2\r\n\r\n", b"IN(VITE sip:a@b SIP/2.0\r\n\r\n", b"\x00" * 40,
])
def test_not_sip_raises_protocol_error(data: bytes) -> None:
    if data == b"":
        assert parse_datagram(data, 1.0) is None
        return
    with pytest.raises(SipProtocolError):
        one(data, 1.0)


def test_detection() -> None:
    assert looks_like_sip(request()) and looks_like_sip(response(100, "Trying"))
    assert not looks_like_sip(b"GET / HTTP/1.1\r\n\r\n") and not looks_like_sip(b"INVITE sip:a@b SIP/2.0")


# --- TCP streams ------------------------------------------------------------------------------------

MESSAGES = [request(body=SDP), response(100, "Trying"), response(200, "OK", body=SDP), request("ACK")]
WIRE = b"".join(MESSAGES)


def _shape(msgs: list[SipMessage]) -> list[tuple[bool, int, bytes, bytes]]:
    return [(m.is_request, m.code, m.body, m.raw) for m in msgs]


def test_stream_whole() -> None:
    out, _ = stream([WIRE])
    assert [m.raw for m in out] == MESSAGES


def test_stream_byte_by_byte_gives_the_same_messages() -> None:
    whole, _ = stream([WIRE])
    single, _ = stream([WIRE[i:i + 1] for i in range(len(WIRE))])
    assert _shape(single) == _shape(whole)


def test_stream_with_trailing_partial_message_waits() -> None:
    out, _ = stream([WIRE + MESSAGES[0][:30]])
    assert len(out) == 4


def test_stream_body_framed_by_content_length() -> None:
    out, _ = stream([request(body=SDP)])
    assert out[0].body == SDP.encode()


def test_stream_without_content_length_has_no_body() -> None:
    out, _ = stream([response(length=False) + response(486, "Busy Here")])
    assert [m.code for m in out] == [200, 486] and out[0].body == b""


def test_stream_keepalives_between_messages_are_skipped_and_counted() -> None:
    out, counts = stream([b"\r\n\r\n" + MESSAGES[1] + b"\r\n\r\n" + MESSAGES[3]])
    assert len(out) == 2 and counts["keepalives"] == 2


def test_stream_garbage_raises() -> None:
    with pytest.raises(SipProtocolError):
        stream([b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"])


def test_stream_header_block_over_max_message_size_raises_and_counts() -> None:
    counts: dict[str, int] = {}
    parser = SipStreamParser(256, lambda n: counts.__setitem__(n, counts.get(n, 0) + 1))
    parser.receive_data(b"INVITE sip:a@b SIP/2.0\r\n", 1.0)
    with pytest.raises(SipProtocolError):
        for _ in range(20):
            parser.receive_data(b"X-Filler: " + b"a" * 20 + b"\r\n", 1.0)
    assert counts["messages_too_large"] == 1
    assert len(parser._buf) <= 256 + 32


def test_stream_body_over_max_message_size_raises_before_buffering() -> None:
    counts: dict[str, int] = {}
    parser = SipStreamParser(1024, lambda n: counts.__setitem__(n, counts.get(n, 0) + 1))
    with pytest.raises(SipProtocolError):
        parser.receive_data(b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n", 1.0)
    assert counts["messages_too_large"] == 1


# --- URIs and name-addr (RFC 3261 19.1.3 examples) --------------------------------------------------

@pytest.mark.parametrize(("uri", "scheme", "user", "host", "port", "params"), [
    ("sip:alice@atlanta.com", "sip", "alice", "atlanta.com", 0, {}),
    ("sip:alice:secretword@atlanta.com;transport=tcp", "sip", "alice:secretword", "atlanta.com", 0,
     {"transport": "tcp"}),
    ("sips:alice@atlanta.com", "sips", "alice", "atlanta.com", 0, {}),
    ("sip:+1-212-555-1212:1234@gateway.com;user=phone", "sip", "+1-212-555-1212:1234", "gateway.com", 0,
     {"user": "phone"}),
    ("sip:alice@192.0.2.4", "sip", "alice", "192.0.2.4", 0, {}),
    ("sip:atlanta.com;method=REGISTER", "sip", "", "atlanta.com", 0, {"method": "REGISTER"}),
    ("sip:alice@registrar.com;method=REGISTER", "sip", "alice", "registrar.com", 0, {"method": "REGISTER"}),
    ("sip:bob@[2001:db8::10]:5070", "sip", "bob", "[2001:db8::10]", 5070, {}),
    ("sip:biloxi.com:5061", "sip", "", "biloxi.com", 5061, {}),
])
def test_uri(uri: str, scheme: str, user: str, host: str, port: int, params: dict[str, str]) -> None:
    got = parse_uri(uri)
    assert (got.scheme, got.username, got.host, got.port, got.params) == (scheme, user, host, port, params)


def test_name_addr_forms() -> None:
    # RFC 3261 20.20 / 20.39: quoted display name, bare name, no display, bare URI with parameters.
    a = parse_name_addr('"A. G. Bell" <sip:agb@bell-telephone.com> ;tag=a48s')
    assert (a.display_info, a.uri, a.params) == ("A. G. Bell", "sip:agb@bell-telephone.com", {"tag": "a48s"})
    b = parse_name_addr("Bob <sip:bob@biloxi.com>")
    assert (b.display_info, b.uri, b.params) == ("Bob", "sip:bob@biloxi.com", {})
    c = parse_name_addr("sip:+12125551212@server.phone2net.com;tag=887s")
    assert (c.display_info, c.uri, c.params) == ("", "sip:+12125551212@server.phone2net.com", {"tag": "887s"})


# --- SDP (RFC 8866 5 example) ------------------------------------------------------------------------

def test_sdp_session_fields_and_media_connection_ignored() -> None:
    sdp = parse_sdp(SDP)
    assert (sdp.version, sdp.owner_username, sdp.owner_session_id, sdp.owner_version, sdp.owner_ip) == (
        "0", "jdoe", "3724394400", "3724394405", "198.51.100.1")
    assert sdp.session_name == "Call to John Smith"
    assert (sdp.connection_info, sdp.connection_address) == ("IN IP4 198.51.100.1", "198.51.100.1")


def test_sdp_dash_user_and_session_are_left_out_and_bad_owner_counted() -> None:
    sdp = parse_sdp("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n")
    assert sdp.owner_username == "" and sdp.session_name == "" and sdp.owner_ip == "192.0.2.1"
    assert parse_sdp("o=only two\r\n").malformed_lines == 1


# --- detection by content ---------------------------------------------------------------------------

def test_probe_verdicts() -> None:
    from packetshipper.modules.sip import MODULE
    from packetshipper.protocol import COMMON_SETTINGS, Direction, Verdict
    from packetshipper.settings import validate

    both = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "sip", "transport": "both"}))
    udp_only = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "sip"}))
    req, resp = Direction.REQUEST, Direction.RESPONSE
    assert both.probe(request(), req, "udp") is Verdict.YES
    assert both.probe(response(100, "Trying"), resp, "tcp") is Verdict.YES
    assert both.probe(b"\r\n" + request("OPTIONS"), req, "tcp") is Verdict.YES
    assert both.probe(b"INVITE sip:bob@bil", req, "tcp") is Verdict.NEED_MORE
    assert both.probe(b"SIP/2", resp, "tcp") is Verdict.NEED_MORE
    assert both.probe(b"INVITE sip:bob@bil", req, "udp") is Verdict.NO
    assert both.probe(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", req, "tcp") is Verdict.NO
    assert both.probe(b"\x16\x03\x01\x02\x00", req, "tcp") is Verdict.NO
    assert both.probe(b"*1\r\n$4\r\nPING\r\n", req, "tcp") is Verdict.NO
    assert udp_only.probe(request(), req, "tcp") is Verdict.NO  # only the configured transport
