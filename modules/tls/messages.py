"""What the TLS parser hands the correlator: handshake messages seen in the clear, alerts, and the
moment a direction turns encrypted. Nothing of the encrypted data is kept."""

from __future__ import annotations

import enum

from packetshipper.records import record

__all__ = ["Alert", "Certificates", "Closed", "Encrypted", "Extension", "HandshakeFlag", "Hello", "HelloKind", "Marker",
           "TlsMessage"]


class HelloKind(enum.Enum):
    CLIENT = 1
    SERVER = 2


@record
class Extension:
    code: int
    data: bytes


@record
class Hello:
    """A ClientHello or ServerHello (RFC 8446 section 4.1.2/4.1.3), as sent (GREASE values kept)."""

    kind: HelloKind
    version: int  # legacy_version
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]  # offered (client) or the one selected (server)
    compression_methods: tuple[int, ...]  # offered, or the one selected
    extensions: tuple[Extension, ...]
    raw: bytes  # the handshake message body, for fingerprints computed elsewhere
    ts: float
    started: float  # when this direction's first byte arrived
    offset: int  # bytes of this direction consumed up to the end of the record that completed it

    def extension(self, code: int) -> bytes | None:
        for ext in self.extensions:
            if ext.code == code:
                return ext.data
        return None


@record
class Certificates:
    """A Certificate handshake message (TLS 1.2 and earlier): DER certificates, sender's first."""

    ders: tuple[bytes, ...]
    ts: float
    started: float
    offset: int


class Marker(enum.Enum):
    CERTIFICATE_REQUEST = 13
    SERVER_KEY_EXCHANGE = 12
    CLIENT_KEY_EXCHANGE = 16
    HELLO_REQUEST = 0


@record
class HandshakeFlag:
    """A handshake message whose content does not matter, only that it was sent."""

    marker: Marker
    ts: float
    started: float
    offset: int


@record
class Alert:
    level: int
    code: int
    ts: float
    started: float
    offset: int


@record
class Encrypted:
    """This direction sent ChangeCipherSpec (or application data): the rest of it is ignored."""

    ts: float
    started: float
    offset: int  # bytes of this direction up to and including that record


@record
class Closed:
    """This direction ended (FIN, RST or expiry): Packetbeat publishes the handshake at that point."""

    ts: float


TlsMessage = Closed | Hello | Certificates | HandshakeFlag | Alert | Encrypted
