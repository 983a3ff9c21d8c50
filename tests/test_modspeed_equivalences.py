"""What the speed work must not change: one HEAD log per connection however connections are numbered,
DNS errors that name where a read failed, and public suffixes as the Public Suffix List's algorithm gives
them."""

from __future__ import annotations

import struct

import pytest
from http_wire import request, response
from hypothesis import given
from hypothesis import strategies as st
from packetshipper.modules.dns.parser import parse_message
from packetshipper.modules.dns.suffix import SuffixList
from packetshipper.modules.dns.wire import DnsProtocolError
from packetshipper.modules.http import MODULE as HTTP
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint
from packetshipper.settings import validate


def _http_module() -> HTTP:
    return HTTP(validate({**COMMON_SETTINGS, **HTTP.settings}, {"type": "http"}))


def _connection(client_port: int, connection_id: int) -> Connection:
    return Connection("tcp", 4, Endpoint("10.0.0.1", client_port), Endpoint("10.0.0.2", 80),
                      connection_id=connection_id)


def test_connections_sharing_an_id_keep_their_own_request_methods() -> None:
    m = _http_module()
    first, second = _connection(1001, 0), _connection(1002, 0)  # hand-made: both numbered 0
    first_requests = m.stream_parser(Direction.REQUEST, first)
    second_requests = m.stream_parser(Direction.REQUEST, second)
    first_requests.receive_data(request("HEAD", "/"), 1.0)
    second_requests.receive_data(request("GET", "/"), 1.0)
    answer = response(200, "OK", headers=[("Content-Length", "4")])
    # HEAD: the answer ends at its head (RFC 9112 6.3); GET: its 4 body bytes are still to come.
    assert [r.body_bytes for r in m.stream_parser(Direction.RESPONSE, first).receive_data(answer, 2.0)] == [0]
    assert m.stream_parser(Direction.RESPONSE, second).receive_data(answer, 2.0) == []


def test_equal_connections_share_one_log() -> None:
    m = _http_module()
    requests = m.stream_parser(Direction.REQUEST, _connection(1003, 7))  # alive, as the core keeps it
    requests.receive_data(request("HEAD", "/"), 1.0)
    answer = response(200, "OK", headers=[("Content-Length", "4")])
    (head_answer,) = m.stream_parser(Direction.RESPONSE, _connection(1003, 7)).receive_data(answer, 2.0)
    assert head_answer.body_bytes == 0


# A query for `a.example.` (RFC 1035 4.1): 12-byte header, the name at offset 12 (11 bytes), type and class.
_QUESTION = b"\x01a\x07example\x00" + struct.pack("!HH", 1, 1)
_ANSWER_NAME = b"\xc0\x0c"  # a pointer to the question's name; the answer's fixed fields start at 29


def _message(qd: int, an: int, ns: int, ar: int, body: bytes) -> bytes:
    return struct.pack("!HHHHHH", 7, 0x8180, qd, an, ns, ar) + body


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (_message(1, 0, 0, 0, b"\x01a"), "question 0 name: runs past the end of the data at offset 14"),
        (_message(1, 0, 0, 0, _QUESTION[:-1]), "question 0 type and class: needs 4 bytes, 3 left at offset 23"),
        (_message(1, 1, 0, 0, _QUESTION + _ANSWER_NAME + b"\x00\x01\x00"),
         "answer 0 fields: needs 10 bytes, 3 left at offset 29"),
        (_message(1, 1, 0, 0, _QUESTION + _ANSWER_NAME + struct.pack("!HHIH", 1, 1, 60, 4) + b"\x01\x02"),
         "answer 0 rdata: needs 4 bytes, 2 left at offset 39"),
        (_message(1, 0, 1, 0, _QUESTION + b"\xc0\x1b"),
         "authority 0 name: compression pointer at offset 27 to 27 loops"),
        (_message(0, 0, 0, 2, b"\x00" + struct.pack("!HHIH", 41, 512, 0, 0) + b"\x00\x00"),
         "additional 1 fields: needs 10 bytes, 1 left at offset 24"),
    ],
)
def test_a_failed_read_names_its_section_record_and_part(data: bytes, error: str) -> None:
    with pytest.raises(DnsProtocolError) as raised:
        parse_message(data, 0.0)
    assert str(raised.value) == error


# Shaped as the published list is: exceptions only under wildcards, rules nested several deep.
_RULES = ["com", "uk", "co.uk", "ck", "*.ck", "!www.ck", "jp", "kyoto.jp", "*.kobe.jp", "!city.kobe.jp",
          "io", "github.io", "*.compute.example.io"]
_LABELS = ["www", "city", "kobe", "kyoto", "jp", "ck", "co", "uk", "com", "github", "io", "compute",
           "example", "a", "b", "unlisted"]


def _psl_suffix_labels(labels: list[str]) -> int:
    """The list's own algorithm (publicsuffix.org/list): a matching exception rule prevails, else the
    matching rule with the most labels, else `*`; an exception's suffix is the rule minus its first label."""
    best = 1
    for rule in _RULES:
        exception = rule.startswith("!")
        parts = rule.lstrip("!").split(".")
        if len(parts) > len(labels):
            continue
        tail = labels[len(labels) - len(parts):]
        if all(p == "*" or p == label for p, label in zip(parts, tail, strict=True)):
            if exception:
                return len(parts) - 1
            best = max(best, len(parts))
    return best


@given(st.lists(st.sampled_from(_LABELS), min_size=1, max_size=6))
def test_the_public_suffix_is_the_one_the_lists_algorithm_finds(labels: list[str]) -> None:
    assert SuffixList("\n".join(_RULES)).suffix_labels(labels) == _psl_suffix_labels(labels)
