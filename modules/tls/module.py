"""The TLS protocol module: settings (Packetbeat's keys), factories for the core, event fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from packetshipper import settings as s
from packetshipper.debuglog import noting_counter
from packetshipper.protocol import (
    Connection,
    Correlator,
    Direction,
    ProtocolModule,
    StreamParser,
    Transaction,
    Verdict,
)
from packetshipper.settings import Setting, Spec

from .correlator import TlsCorrelator
from .debug import DEBUG, REASONS
from .event import EventOptions, describe, tls_event_fields
from .parser import DEFAULT_MAX_HANDSHAKE_SIZE, TlsStreamParser
from .probe import probe as probe_first_bytes
from .x509 import HASHES, CertificateCache

__all__ = ["TlsModule"]


def _fingerprints(value: Any) -> list[str]:
    names = s.string_list(value)
    for name in names:
        if name not in HASHES:
            raise ValueError(f"unknown fingerprint algorithm {name!r} (known: {', '.join(HASHES)})")
    return names


class TlsModule(ProtocolModule):
    name: ClassVar[str] = "tls"
    transports: ClassVar[frozenset[str]] = frozenset({"tcp"})
    default_ports: ClassVar[tuple[int, ...]] = (443, 993, 995, 5223, 8443, 8883, 9243)
    settings: ClassVar[Spec] = {
        "send_certificates": Setting(
            s.boolean, True, "add the certificates' details (`tls.*.x509.*`, `tls.detailed.*_certificate_chain`)"),
        "include_raw_certificates": Setting(
            s.boolean, False, "add the certificates as PEM (`tls.client/server.certificate_chain`)"),
        "include_detailed_fields": Setting(s.boolean, True, "add `tls.detailed.*` and `tls.*.x509.*`"),
        "fingerprints": Setting(_fingerprints, ["sha1"], "certificate hashes in `tls.*.hash.*`: md5, sha1, sha256"),
        "include_ja3s": Setting(s.boolean, True, "add the server's JA3S fingerprint (`tls.server.ja3s`)"),
        "include_ja4": Setting(s.boolean, True, "add the client's JA4 fingerprint (`tls.client.ja4`)"),
        "max_handshake_size": Setting(
            s.at_least(1024, maximum=1 << 24), DEFAULT_MAX_HANDSHAKE_SIZE,
            "largest handshake message accepted, in bytes; larger ones drop that direction's state "
            "(tls.handshake_over_max_size)"),
        "certificate_cache_size": Setting(
            s.at_least(0), 1024, "distinct certificates whose decoded fields are kept for reuse; 0 turns the cache "
            "off (tls.certificate_cache_evictions)"),
        "max_certificates": Setting(
            s.at_least(1), 10, "certificates of a chain decoded per side; more are counted (tls.certificates_over_max)"),
    }
    probe_order: ClassVar[int] = 10

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        return probe_first_bytes(data, direction)

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self.max_handshake_size = int(config.get("max_handshake_size", DEFAULT_MAX_HANDSHAKE_SIZE))
        self.options = EventOptions(
            send_certificates=bool(config.get("send_certificates", True)),
            include_raw_certificates=bool(config.get("include_raw_certificates", False)),
            include_detailed_fields=bool(config.get("include_detailed_fields", True)),
            fingerprints=tuple(config.get("fingerprints", ["sha1"])),
            include_ja3s=bool(config.get("include_ja3s", True)),
            include_ja4=bool(config.get("include_ja4", True)),
            max_certificates=int(config.get("max_certificates", 10)),
        )
        self.certificates = CertificateCache(int(config.get("certificate_cache_size", 1024)), self.count)

    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        count = noting_counter(self.count, DEBUG, connection, REASONS) if DEBUG.enabled else self.count
        return TlsStreamParser(self.max_handshake_size, count)

    def correlator(self, connection: Connection) -> Correlator:
        count = noting_counter(self.count, DEBUG, connection, REASONS) if DEBUG.enabled else self.count
        return TlsCorrelator(connection, count)

    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        return tls_event_fields(transaction, self.options, self.count, self.certificates)

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        return describe(transaction)
