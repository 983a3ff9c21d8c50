"""The TLS record layer and handshake reassembly for one direction (RFC 8446 section 5, RFC 5246 6.2).

Records are collected until complete, handshake messages across records until complete. Once the
direction sends ChangeCipherSpec (or application data) everything after it is encrypted: the parser
then drops whatever it receives, keeping nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from packetshipper.protocol import ProtocolError, StreamParser

from .cursor import Cursor
from .hello import parse_hello
from .messages import Alert, Certificates, Closed, Encrypted, HandshakeFlag, HelloKind, Marker, TlsMessage

__all__ = ["TlsStreamParser", "MAX_RECORD_LENGTH", "DEFAULT_MAX_HANDSHAKE_SIZE", "parse_certificates"]

MAX_RECORD_LENGTH = (1 << 14) + 2048  # TLSCiphertext.length limit (RFC 5246 6.2.3)
DEFAULT_MAX_HANDSHAKE_SIZE = 1 << 16
RECORD_HEADER = 5
HANDSHAKE_HEADER = 4


class ContentType(enum.IntEnum):
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23
    HEARTBEAT = 24


class HandshakeType(enum.IntEnum):
    HELLO_REQUEST = 0
    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    CERTIFICATE = 11
    SERVER_KEY_EXCHANGE = 12
    CERTIFICATE_REQUEST = 13
    CLIENT_KEY_EXCHANGE = 16


_RECORD_TYPES = frozenset(int(t) for t in ContentType)
_FLAGS = {
    HandshakeType.HELLO_REQUEST: Marker.HELLO_REQUEST,
    HandshakeType.SERVER_KEY_EXCHANGE: Marker.SERVER_KEY_EXCHANGE,
    HandshakeType.CERTIFICATE_REQUEST: Marker.CERTIFICATE_REQUEST,
    HandshakeType.CLIENT_KEY_EXCHANGE: Marker.CLIENT_KEY_EXCHANGE,
}


def parse_certificates(body: bytes) -> tuple[bytes, ...]:
    """A TLS 1.2 Certificate body: a 24-bit-length list of 24-bit-length DER certificates."""
    cur = Cursor(body)
    chain = cur.vector(3)
    if cur.remaining:
        raise ProtocolError("bytes after the certificate list")
    ders = []
    while chain.remaining:
        ders.append(chain.vector(3).rest())
    return tuple(ders)


class TlsStreamParser(StreamParser):
    """Bytes of one direction in; `Hello`, `Certificates`, `HandshakeFlag`, `Alert`, `Encrypted` out."""

    def __init__(self, max_handshake_size: int = DEFAULT_MAX_HANDSHAKE_SIZE,
                 count: Callable[[str], None] | None = None) -> None:
        self.max_handshake_size = max_handshake_size
        self._count = count
        self._records = bytearray()  # at most one incomplete record (<= 5 + MAX_RECORD_LENGTH bytes)
        self._handshake = bytearray()  # at most one incomplete handshake message
        self._consumed = 0
        self._started: float | None = None
        self.encrypted = False

    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        if self.encrypted:
            return []
        if self._started is None:
            self._started = ts
        buf = self._records
        buf += data
        out: list[TlsMessage] = []
        pos, size = 0, len(buf)
        while size - pos >= RECORD_HEADER:
            rtype, major, length = buf[pos], buf[pos + 1], (buf[pos + 3] << 8) | buf[pos + 4]
            if rtype not in _RECORD_TYPES or major != 3 or length > MAX_RECORD_LENGTH:
                minor = buf[pos + 2]
                buf.clear()
                raise ProtocolError(f"not a TLS record (type {rtype}, version {major}.{minor}, length {length})")
            end = pos + RECORD_HEADER + length
            if end > size:
                break
            fragment = bytes(buf[pos + RECORD_HEADER:end])
            pos = end
            self._consumed += RECORD_HEADER + length
            if rtype == ContentType.CHANGE_CIPHER_SPEC or rtype == ContentType.APPLICATION_DATA:
                self._encrypt()
                out.append(Encrypted(ts, self._started, self._consumed))
                return out
            if rtype == ContentType.HANDSHAKE:
                out.extend(self._handshake_fragment(fragment, ts))
            elif rtype == ContentType.ALERT and length == 2:  # longer: an encrypted alert
                out.append(Alert(fragment[0], fragment[1], ts, self._started, self._consumed))
        del buf[:pos]
        return out

    def _encrypt(self) -> None:
        self.encrypted = True
        self._records = bytearray()
        self._handshake = bytearray()

    def _handshake_fragment(self, fragment: bytes, ts: float) -> list[TlsMessage]:
        hs = self._handshake
        hs += fragment
        out: list[TlsMessage] = []
        pos, size = 0, len(hs)
        started = self._started if self._started is not None else ts
        while size - pos >= HANDSHAKE_HEADER:
            htype = hs[pos]
            length = (hs[pos + 1] << 16) | (hs[pos + 2] << 8) | hs[pos + 3]
            if length > self.max_handshake_size:
                hs.clear()
                if self._count is not None:
                    self._count("handshake_over_max_size")
                raise ProtocolError(f"handshake message of {length} bytes (max_handshake_size {self.max_handshake_size})")
            end = pos + HANDSHAKE_HEADER + length
            if end > size:
                break
            body = bytes(hs[pos + HANDSHAKE_HEADER:end])
            pos = end
            message = self._message(htype, body, ts, started)
            if message is not None:
                out.append(message)
        del hs[:pos]
        return out

    def _message(self, htype: int, body: bytes, ts: float, started: float) -> TlsMessage | None:
        offset = self._consumed
        if htype == HandshakeType.CLIENT_HELLO:
            return parse_hello(HelloKind.CLIENT, body, ts, started, offset)
        if htype == HandshakeType.SERVER_HELLO:
            return parse_hello(HelloKind.SERVER, body, ts, started, offset)
        if htype == HandshakeType.CERTIFICATE:
            return Certificates(parse_certificates(body), ts, started, offset)
        flag = _FLAGS.get(htype)  # type: ignore[call-overload]
        if flag is not None:
            return HandshakeFlag(flag, ts, started, offset)
        return None  # Finished, NewSessionTicket, ServerHelloDone...: nothing to report

    def receive_eof(self, ts: float) -> list[Any]:
        return [Closed(ts)]

    def receive_gap(self, nbytes: int, ts: float) -> list[Any]:
        if self.encrypted:
            return []  # a hole in data we would drop anyway
        raise ProtocolError(f"{nbytes} bytes lost in the handshake")
