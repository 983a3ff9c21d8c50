"""X.509 certificates (DER) into ECS `x509.*` maps, with the `cryptography` package.

Names follow Packetbeat (Go's crypto/x509 spellings: `SHA256-RSA`, `ECDSA-SHA256`, DNs in RFC 4514
order), so its dashboards and golden files keep matching.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID
from packetshipper.records import record

__all__ = ["CertificateCache", "CertificateSummary", "ParsedCertificate", "summarize", "parse_der", "pem", "x509_fields", "HASHES"]

HASHES = ("md5", "sha1", "sha256")

_GO_SIGNATURE_NAMES = {
    SignatureAlgorithmOID.RSA_WITH_MD5: "MD5-RSA",
    SignatureAlgorithmOID.RSA_WITH_SHA1: "SHA1-RSA",
    SignatureAlgorithmOID.RSA_WITH_SHA224: "SHA224-RSA",
    SignatureAlgorithmOID.RSA_WITH_SHA256: "SHA256-RSA",
    SignatureAlgorithmOID.RSA_WITH_SHA384: "SHA384-RSA",
    SignatureAlgorithmOID.RSA_WITH_SHA512: "SHA512-RSA",
    SignatureAlgorithmOID.RSASSA_PSS: "SHA256-RSAPSS",  # refined from the PSS parameters below
    SignatureAlgorithmOID.DSA_WITH_SHA1: "DSA-SHA1",
    SignatureAlgorithmOID.DSA_WITH_SHA256: "DSA-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA1: "ECDSA-SHA1",
    SignatureAlgorithmOID.ECDSA_WITH_SHA256: "ECDSA-SHA256",
    SignatureAlgorithmOID.ECDSA_WITH_SHA384: "ECDSA-SHA384",
    SignatureAlgorithmOID.ECDSA_WITH_SHA512: "ECDSA-SHA512",
    SignatureAlgorithmOID.ED25519: "Ed25519",
    SignatureAlgorithmOID.ED448: "Ed448",
}

_NAME_FIELDS = (
    ("common_name", NameOID.COMMON_NAME),
    ("country", NameOID.COUNTRY_NAME),
    ("locality", NameOID.LOCALITY_NAME),
    ("organization", NameOID.ORGANIZATION_NAME),
    ("organizational_unit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("state_or_province", NameOID.STATE_OR_PROVINCE_NAME),
)


@record
class ParsedCertificate:
    der: bytes
    cert: x509.Certificate


def parse_der(der: bytes) -> ParsedCertificate | None:
    """None if `cryptography` does not accept it as a certificate."""
    try:
        return ParsedCertificate(der, x509.load_der_x509_certificate(der))
    except Exception:  # cryptography raises ValueError and others on bad input
        return None


def pem(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def timestamp(value: datetime.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def fingerprint(der: bytes, algorithm: str) -> str:
    return hashlib.new(algorithm, der).hexdigest().upper()


def distinguished_name(name: x509.Name) -> str:
    try:
        return name.rfc4514_string()
    except Exception:
        return ""


def _name_map(name: x509.Name) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, oid in _NAME_FIELDS:
        try:
            values = name.get_attributes_for_oid(oid)
        except Exception:
            continue
        if values and values[0].value:
            value = values[0].value
            out[key] = value if isinstance(value, str) else value.decode("utf-8", "replace")
    dn = distinguished_name(name)
    if dn:
        out["distinguished_name"] = dn
    return out


def _public_key(cert: x509.Certificate) -> tuple[str | None, int | None]:
    try:
        key = cert.public_key()
    except Exception:
        return None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ECDSA", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    return None, None


def _signature_algorithm(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = _GO_SIGNATURE_NAMES.get(oid)
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        try:
            hash_algorithm = cert.signature_hash_algorithm
            name = f"{hash_algorithm.name.upper()}-RSAPSS" if hash_algorithm else name
        except Exception:
            pass
    return name or oid.dotted_string


def _alternative_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:
        return []
    names: list[str] = []
    names.extend(san.get_values_for_type(x509.DNSName))
    names.extend(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    names.extend(san.get_values_for_type(x509.RFC822Name))
    names.extend(san.get_values_for_type(x509.UniformResourceIdentifier))
    return names


def validity(cert: x509.Certificate) -> tuple[str, str]:
    return timestamp(cert.not_valid_before_utc), timestamp(cert.not_valid_after_utc)


def x509_fields(parsed: ParsedCertificate) -> dict[str, Any]:
    """ECS `x509.*` for one certificate."""
    cert = parsed.cert
    out: dict[str, Any] = {}
    names = _alternative_names(cert)
    if names:
        out["alternative_names"] = names
    issuer, subject = _name_map(cert.issuer), _name_map(cert.subject)
    if issuer:
        out["issuer"] = issuer
    if subject:
        out["subject"] = subject
    with contextlib.suppress(Exception):
        out["not_before"], out["not_after"] = validity(cert)
    algorithm, size = _public_key(cert)
    if algorithm:
        out["public_key_algorithm"] = algorithm
    if size:
        out["public_key_size"] = size
    out["serial_number"] = str(cert.serial_number)
    out["signature_algorithm"] = _signature_algorithm(cert)
    out["version_number"] = cert.version.value + 1
    return out


@record
class CertificateSummary:
    """Everything the event needs from one certificate, computed once per distinct certificate."""

    hashes: dict[str, str]
    issuer: str
    subject: str
    validity: tuple[str, str] | None
    x509: dict[str, Any]


def summarize(der: bytes) -> CertificateSummary | None:
    parsed = parse_der(der)
    if parsed is None:
        return None
    cert = parsed.cert
    try:
        dates: tuple[str, str] | None = validity(cert)
    except Exception:
        dates = None
    return CertificateSummary({name: fingerprint(der, name) for name in HASHES}, distinguished_name(cert.issuer),
                              distinguished_name(cert.subject), dates, x509_fields(parsed))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class CertificateCache:
    """Servers send the same chain to every client: decode each distinct certificate once.

    At most `max_entries` summaries are kept, least recently used evicted first (counted as
    `certificate_cache_evictions`). Values handed out are copies, so an event may be changed freely.
    """

    def __init__(self, max_entries: int, count: Callable[[str], None]) -> None:
        self.max_entries = max_entries
        self._count = count
        self._entries: OrderedDict[bytes, CertificateSummary | None] = OrderedDict()

    def get(self, der: bytes) -> CertificateSummary | None:
        entries = self._entries
        if der in entries:
            entries.move_to_end(der)
            summary = entries[der]
        else:
            summary = summarize(der)
            if self.max_entries > 0:
                entries[der] = summary
                if len(entries) > self.max_entries:
                    entries.popitem(last=False)
                    self._count("certificate_cache_evictions")
        return summary

    @staticmethod
    def x509_copy(summary: CertificateSummary) -> dict[str, Any]:
        copied: dict[str, Any] = _copy(summary.x509)
        return copied
