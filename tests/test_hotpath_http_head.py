"""The compiled HTTP head (_http_head.pxi) gives what the reference `parse_head` gives for the heads it
takes (all ASCII, a start line the text patterns accept, simple `name:value` field lines) and declines
(None) every other head, which the reference then reads, errors included. Both are held to the
reference run with the compiled path off, on built heads, heads just outside the shape, and any bytes."""

from __future__ import annotations

import contextlib
import importlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import hotpath
from packetshipper.modules.http import head as head_module
from packetshipper.protocol import ProtocolError

try:
    COMPILED: Any = importlib.import_module("packetshipper._hotpath")
except ImportError:  # pragma: no cover - the build failed: nothing to compare
    COMPILED = None

pytestmark = pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")

TOKEN = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
tokens = st.one_of(st.text(alphabet=TOKEN, min_size=1, max_size=12),
                   st.sampled_from(["Content-Length", "content-length", "Transfer-Encoding", "Connection"]))
lengths = st.sampled_from(["0", "913", " 5 ", "5, 5", "05", "1" * 18, "1" * 19, "-1", "+5", "", "12a"])
# Field values and targets: mostly printable ASCII, sometimes what the shape excludes (CR, LF, NUL,
# DEL, tabs, non-ASCII) so that both sides of every check are drawn.
value_chars = st.sampled_from([*"abcXYZ09 /:;=,\t", "\x00", "\x7f", "\r", "\n", "é", "\x80"])
values = st.lists(value_chars, max_size=14).map("".join)
targets = st.one_of(st.sampled_from(["/", "/item/7?page=3", "*", "http://a.example/x"]),
                    st.lists(st.sampled_from([*"/ab?=&%~", " ", "\x7f", "é"]), min_size=0, max_size=10).map("".join))
versions = st.sampled_from(["1.1", "1.0", "1.9", "2.0", "0.9", "1.", "1.1x", "11.1"])


clean_values = st.text(alphabet="abcXYZ09 /:;=,\t", max_size=14)


@st.composite
def clean_heads(draw: st.DrawFn) -> bytes:
    """Heads of the compiled path's shape."""
    if draw(st.booleans()):
        start = f"HTTP/1.{draw(st.sampled_from('019'))} {draw(st.integers(100, 999))}{draw(st.sampled_from(['', ' ', ' OK', ' a b']))}"
    else:
        start = f"{draw(tokens)} {draw(st.sampled_from(['/', '/a?b=1', '*']))} HTTP/1.{draw(st.sampled_from('01'))}"
    fields = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(tokens)
        value = draw(lengths) if name.lower() == "content-length" and draw(st.booleans()) else draw(clean_values)
        fields.append(f"{name}:{value}")
    return ("\r\n".join([start, *fields]) + "\r\n\r\n").encode()


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    """Heads of any shape near the compiled path's, either side of each of its checks."""
    if draw(st.booleans()):
        code = draw(st.sampled_from(["200", "404", "101", "99", "1000", "abc"]))
        phrase = draw(st.sampled_from(["", " ", " OK", " Not Found", " a\tb", " bad\x01", " \x7f", " é"]))
        start = f"HTTP/{draw(versions)} {code}{phrase}"
    else:
        method = draw(st.one_of(tokens, st.sampled_from(["", "G T", "GET\x00"])))
        start = f"{method} {draw(targets)} HTTP/{draw(versions)}"
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        shape = draw(st.sampled_from(["simple", "simple", "simple", "spaced name", "no colon", "fold", "long name"]))
        name = draw(tokens)
        if shape == "spaced name":
            name += " "
        elif shape == "long name":
            name = "x" * draw(st.sampled_from([255, 256, 257, 300]))
        line = name if shape == "no colon" else f"{name}:{draw(values)}"
        if shape == "fold":
            line = " " + line
        lines.append(line)
    end = draw(st.sampled_from(["\r\n\r\n", "\r\n\r\n", "\r\n", "\n\n", "\r\n\r\nextra"]))
    text = "\r\n".join([start, *lines]) + end
    return text.encode("utf-8")


def _reference(block: bytes) -> Any:
    enabled = hotpath.enabled
    hotpath.enabled = False
    try:
        return head_module.parse_head(block)
    except ProtocolError as exc:
        return ("error", str(exc))
    finally:
        hotpath.enabled = enabled


def _as_parsed(block: bytes) -> Any:
    try:
        return head_module.parse_head(block)
    except ProtocolError as exc:
        return ("error", str(exc))


def _check(block: bytes) -> None:
    expected = _reference(block)
    try:
        compiled = _compiled(block)
    except ProtocolError as exc:  # raised by the reference's _framing, which the compiled head calls
        compiled = ("error", str(exc))
    if compiled is not None:
        assert compiled == expected
        assert type(compiled) is type(expected)
    assert _as_parsed(block) == expected


def _compiled(block: bytes) -> Any:
    return COMPILED.http_head(block, head_module.Head, head_module._NO_TOKENS, head_module._framing)


@settings(max_examples=1500, deadline=None)
@given(st.one_of(clean_heads(), heads()))
def test_built_heads_read_as_the_reference_reads_them(block: bytes) -> None:
    _check(block)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_read_as_the_reference_reads_them(block: bytes) -> None:
    _check(block)
    _check(b"GET / HTTP/1.1\r\n" + block)
    _check(b"HTTP/1.1 200 OK\r\n" + block + b"\r\n\r\n")


@pytest.mark.parametrize("block", [
    b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nAccept: */*\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n",
    b"HTTP/1.0 404\r\n\r\n",
    b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nConnection: keep-alive, Upgrade\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",  # _framing's error
    b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",  # _framing's error
])
def test_the_common_heads_take_the_compiled_path(block: bytes) -> None:
    """The usual heads are the compiled path's (a check that the shape is not declined wholesale)."""
    with contextlib.suppress(ProtocolError):  # a head of the shape that _framing refuses raises
        assert _compiled(block) is not None

    _check(block)


@pytest.mark.parametrize("block", [
    b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n",  # non-ASCII: the reference decodes with replacement
    b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",  # obs-fold
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET  / HTTP/1.1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: 1\r\n",  # no empty line
    b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n",
])
def test_other_heads_are_declined_and_read_by_the_reference(block: bytes) -> None:
    assert _compiled(block) is None
    _check(block)
