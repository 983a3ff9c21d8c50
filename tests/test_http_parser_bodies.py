"""Kept bodies: which are kept, Content-Encoding decoding within limits, and MIME sniffing."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest
from http_wire import feed_bytewise, feed_whole, request, response
from packetshipper.modules.http.body import decode_body, sniff_mime_type
from packetshipper.modules.http.parser import HttpStreamParser
from packetshipper.modules.http.settings import HttpConfig

TEXT = b"The quick brown fox jumps over the lazy dog. " * 20


def _parser(**config: Any) -> HttpStreamParser:
    return HttpStreamParser(HttpConfig.from_mapping(config))


def test_bodies_are_not_kept_by_default() -> None:
    (msg,) = feed_whole(_parser(), response(200, "OK", headers=[("Content-Type", "text/html")], body=TEXT))
    assert msg.body is None


def test_body_is_kept_when_its_content_type_matches() -> None:
    wire = response(200, "OK", headers=[("Content-Type", "text/html; charset=utf-8")], body=TEXT)
    (msg,) = feed_bytewise(_parser(include_response_body_for=["text/html"]), wire)
    assert msg.body == TEXT


def test_request_patterns_do_not_apply_to_responses() -> None:
    wire = response(200, "OK", headers=[("Content-Type", "text/html")], body=TEXT)
    (msg,) = feed_whole(_parser(include_request_body_for=["text/html"]), wire)
    assert msg.body is None


def test_form_body_is_kept_for_its_parameters() -> None:
    body = b"user=bob&password=secret"
    wire = request("POST", "/login", headers=[("Content-Type", "application/x-www-form-urlencoded")], body=body)
    (msg,) = feed_whole(_parser(), wire)
    assert msg.body == body


def test_chunked_body_is_kept_without_framing() -> None:
    wire = response(200, "OK", headers=[("Content-Type", "text/plain")], chunks=[b"abc", b"defg"])
    (msg,) = feed_bytewise(_parser(include_body_for=["text/plain"]), wire)
    assert msg.body == b"abcdefg"


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("deflate", zlib.compress),  # zlib-wrapped, as RFC 9110 defines deflate
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
])
def test_kept_body_is_decoded(encoding: str, encode: Any) -> None:
    encoded = encode(TEXT)
    wire = response(200, "OK", headers=[("Content-Type", "text/plain"), ("Content-Encoding", encoding)],
                    body=encoded)
    (msg,) = feed_whole(_parser(include_body_for=["text/plain"]), wire)
    assert msg.body == TEXT
    assert msg.body_bytes == len(encoded)  # the wire body, before decoding
    assert msg.notes == ()


def test_stacked_encodings_are_undone_in_reverse() -> None:
    encoded = gzip.compress(zlib.compress(TEXT))  # deflate applied first, then gzip
    body, note = decode_body(encoded, "deflate, gzip", 1 << 20)
    assert (body, note) == (TEXT, None)


def test_decode_body_off_keeps_the_encoded_bytes() -> None:
    encoded = gzip.compress(TEXT)
    wire = response(200, "OK", headers=[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
                    body=encoded)
    (msg,) = feed_whole(_parser(include_body_for=["text/plain"], decode_body=False), wire)
    assert msg.body == encoded


def test_corrupt_gzip_gives_a_note() -> None:
    wire = response(200, "OK", headers=[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
                    body=b"\x1f\x8b\x08\x00garbage-garbage")
    (msg,) = feed_whole(_parser(include_body_for=["text/plain"]), wire)
    assert len(msg.notes) == 1
    assert msg.notes[0].startswith("unable to decode body using gzip encoding: ")


def test_unknown_encoding_gives_a_note() -> None:
    body, note = decode_body(b"\x8b\x00", "br", 1000)
    assert note == "unable to decode body using br encoding: decoder not found"


def test_decoded_body_is_bounded() -> None:
    bomb = gzip.compress(b"\x00" * 100_000)
    body, note = decode_body(bomb, "gzip", 1000)
    assert len(body) == 1000
    assert note == "unable to decode body using gzip encoding: body truncated due to size limitation"


@pytest.mark.parametrize("data, mime", [
    (b"%PDF-1.4\n", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
    (b"GIF89a\x01\x00", "image/gif"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
    (b"PK\x03\x04\x14\x00", "application/zip"),
    (b"  <!DOCTYPE html><html></html>", "text/html; charset=utf-8"),
    (b"<html>", "text/html; charset=utf-8"),
    (b"<?xml version='1.0'?><a/>", "text/xml; charset=utf-8"),
    (b'{"a": 1}', "text/plain; charset=utf-8"),
    (b"\x00\x01\x02binary", "application/octet-stream"),
    (b"", None),
])
def test_mime_sniffing(data: bytes, mime: str | None) -> None:
    assert sniff_mime_type(data) == mime
