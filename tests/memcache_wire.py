"""Memcache wire bytes built from meaning, following memcached's protocol.txt and the binary protocol
specification: text commands and replies, 24-byte binary headers, and the 8-byte UDP frame header."""

from __future__ import annotations

import struct

CRLF = b"\r\n"
HEADER = struct.Struct(">BBHBBHIIQ")  # magic, opcode, key length, extras length, data type, vbucket/status,
UDP = struct.Struct(">HHHH")  # request id, sequence, total datagrams, reserved       body length, opaque, cas

GET, SET, DELETE, INCREMENT, QUIT, GETQ, NOOP, VERSION, GETK, GETKQ, STAT, SETQ, QUITQ = (
    0x00, 0x01, 0x04, 0x05, 0x07, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x10, 0x11, 0x17)


def store(command: str, key: str, value: bytes, *, flags: int = 0, exptime: int = 0, noreply: bool = False,
          cas: int | None = None) -> bytes:
    line = f"{command} {key} {flags} {exptime} {len(value)}" + (f" {cas}" if cas is not None else "")
    return (line + (" noreply" if noreply else "")).encode() + CRLF + value + CRLF


def line(text: str) -> bytes:
    return text.encode() + CRLF


def value(key: str, data: bytes, *, flags: int = 0, cas: int | None = None) -> bytes:
    head = f"VALUE {key} {flags} {len(data)}" + (f" {cas}" if cas is not None else "")
    return head.encode() + CRLF + data + CRLF


def binary(opcode: int, *, request: bool = True, key: bytes = b"", extras: bytes = b"", body: bytes = b"",
           opaque: int = 0, cas: int = 0, status: int = 0) -> bytes:
    total = len(extras) + len(key) + len(body)
    head = HEADER.pack(0x80 if request else 0x81, opcode, len(key), len(extras), 0, 0 if request else status,
                       total, opaque, cas)
    return head + extras + key + body


def set_extras(flags: int = 0, exptime: int = 0) -> bytes:
    return struct.pack(">II", flags, exptime)


def counter_extras(delta: int, initial: int = 0, exptime: int = 0) -> bytes:
    return struct.pack(">QQI", delta, initial, exptime)


def udp_frames(request_id: int, payload: bytes, size: int = 1400) -> list[bytes]:
    """`payload` in datagrams of at most `size` payload bytes, each with its frame header."""
    parts = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    return [UDP.pack(request_id, seq, len(parts), 0) + part for seq, part in enumerate(parts)]
