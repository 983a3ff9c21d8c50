"""The RESP2 reply parser used by the Redis output, checked against replies written from the spec."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packetshipper.outputs.resp import ProtocolError, RedisReplyError, ReplyParser, encode_command

# Replies as the RESP specification shows them, and what they mean.
CASES = [
    (b"+OK\r\n", "OK"),
    (b"-ERR unknown command 'FOO'\r\n", RedisReplyError("ERR unknown command 'FOO'")),
    (b":1000\r\n", 1000),
    (b":-3\r\n", -3),
    (b"$5\r\nhello\r\n", b"hello"),
    (b"$0\r\n\r\n", b""),
    (b"$-1\r\n", None),
    (b"*2\r\n$3\r\nfoo\r\n:7\r\n", [b"foo", 7]),
    (b"*0\r\n", []),
    (b"*-1\r\n", None),
    (b"*2\r\n*1\r\n+a\r\n$2\r\n\r\n\r\n", [["a"], b"\r\n"]),
]
STREAM = b"".join(data for data, _ in CASES)
EXPECTED = [value for _, value in CASES]


def test_commands_are_arrays_of_bulk_strings() -> None:
    assert encode_command("RPUSH", "k", b"v1", 12) == b"*4\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$2\r\nv1\r\n$2\r\n12\r\n"


def test_replies_parsed_whole() -> None:
    assert ReplyParser().feed(STREAM) == EXPECTED


def test_replies_parsed_one_byte_at_a_time() -> None:
    parser = ReplyParser()
    got = []
    for i in range(len(STREAM)):
        got += parser.feed(STREAM[i : i + 1])
    assert got == EXPECTED


def test_trailing_bytes_of_an_unfinished_reply_wait() -> None:
    parser = ReplyParser()
    assert parser.feed(STREAM + b"$10\r\nabc") == EXPECTED
    assert parser.feed(b"defghij\r\n") == [b"abcdefghij"]


@pytest.mark.parametrize("data", [b"?what\r\n", b":12x\r\n", b"$3\r\nabcd\r\n", b"$-5\r\n", b"*-2\r\n",
                                  b"$999999999999\r\n", b"+" + b"x" * 70000,
                                  b"*1\r\n" * 100000])
def test_malformed_replies_are_protocol_errors(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        ReplyParser().feed(data)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_nothing_but_protocol_error(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        ReplyParser().feed(data)


@given(st.lists(st.integers(0, len(STREAM)), max_size=12))
def test_random_splits_give_the_same_replies(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    parser = ReplyParser()
    got = []
    for start, end in zip([0, *points], [*points, len(STREAM)], strict=True):
        got += parser.feed(STREAM[start:end])
    assert got == EXPECTED
