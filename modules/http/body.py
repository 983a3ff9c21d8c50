"""Kept bodies: undoing Content-Encoding (bounded) and sniffing a MIME type from the bytes."""

from __future__ import annotations

import zlib

_GZIP = "gzip"
_DEFLATE = "deflate"
_DECODERS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": _DEFLATE, "x-deflate": _DEFLATE, "identity": None}


class BodyDecodeError(Exception):
    pass


def decode_body(body: bytes, content_encoding: str, limit: int) -> tuple[bytes, str | None]:
    """Undo the codings in reverse order of application; returns (body, note or None).

    The output never exceeds `limit` bytes. On failure the note says which coding failed, and the body
    is what could be decoded so far (only for the outermost coding, as Packetbeat does).
    """
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for index in range(len(codings) - 1, -1, -1):
        coding = codings[index]
        try:
            body = _decode_one(body, coding, limit)
        except BodyDecodeError as exc:
            partial = exc.args[1] if len(exc.args) > 1 and index == 0 else b""
            return partial, f"unable to decode body using {coding} encoding: {exc.args[0]}"
    return body, None


def _decode_one(data: bytes, coding: str, limit: int) -> bytes:
    if coding not in _DECODERS:
        raise BodyDecodeError("decoder not found")
    kind = _DECODERS[coding]
    if kind is None:
        return data
    if kind == _GZIP:
        wbits = 16 + zlib.MAX_WBITS
    else:
        # "deflate" is zlib-wrapped per RFC 9110 8.4.1.2, but some servers send raw deflate.
        wbits = zlib.MAX_WBITS if _has_zlib_header(data) else -zlib.MAX_WBITS
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyDecodeError(str(exc), b"") from None
    if len(out) > limit:
        raise BodyDecodeError("body truncated due to size limitation", out[:limit])
    if not decoder.eof:
        raise BodyDecodeError("unexpected EOF", out)
    return out


def _has_zlib_header(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


# (offset, magic, MIME type): binary signatures, checked in order (WHATWG MIME Sniffing, section 7).
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "application/pdf"),
    (0, b"%!PS-Adobe-", "application/postscript"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"BM", "image/bmp"),
    (8, b"WEBPVP", "image/webp"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b\x08", "application/x-gzip"),
    (0, b"\x00asm", "application/wasm"),
    (0, b"wOFF", "font/woff"),
    (0, b"wOF2", "font/woff2"),
)
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div", b"<font",
                b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p", b"<!--")
_BINARY_BYTES = frozenset(range(0x00, 0x09)) | {0x0B} | frozenset(range(0x0E, 0x1B)) | frozenset(range(0x1C, 0x20))
_SNIFF_LEN = 512


def sniff_mime_type(body: bytes) -> str | None:
    """A MIME type for the body's bytes, in the manner of Go's http.DetectContentType; None if empty."""
    if not body:
        return None
    head = body[:_SNIFF_LEN]
    for offset, magic, mime in _SIGNATURES:
        if head.startswith(magic, offset):
            return mime
    text = head.lstrip(b"\t\n\x0c\r ")
    lowered = text[:16].lower()
    for tag in _HTML_STARTS:
        if lowered.startswith(tag) and len(lowered) > len(tag) and lowered[len(tag)] in b" >":
            return "text/html; charset=utf-8"
    if text.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    if any(byte in _BINARY_BYTES for byte in head):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def keeps_body(content_type: str, patterns: tuple[str, ...]) -> bool:
    """Packetbeat's include_*_body_for test: any configured pattern occurs in the Content-Type."""
    return bool(patterns) and any(pattern in content_type for pattern in patterns)
