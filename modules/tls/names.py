"""Names of TLS code points, as Packetbeat reports them: IANA names, `(unknown:0x....)` otherwise."""

from __future__ import annotations

from .ciphers import CIPHER_SUITES

__all__ = [
    "ALERTS",
    "ALERT_LEVELS",
    "GROUPS",
    "SIGNATURE_SCHEMES",
    "alert_level_name",
    "alert_name",
    "cipher_name",
    "compression_name",
    "group_name",
    "is_grease",
    "point_format_name",
    "signature_scheme_name",
    "version_name",
]

# TLS Supported Groups registry (RFC 8422, RFC 7919, RFC 8446).
GROUPS: dict[int, str] = {
    1: "sect163k1", 2: "sect163r1", 3: "sect163r2", 4: "sect193r1", 5: "sect193r2", 6: "sect233k1",
    7: "sect233r1", 8: "sect239k1", 9: "sect283k1", 10: "sect283r1", 11: "sect409k1", 12: "sect409r1",
    13: "sect571k1", 14: "sect571r1", 15: "secp160k1", 16: "secp160r1", 17: "secp160r2", 18: "secp192k1",
    19: "secp192r1", 20: "secp224k1", 21: "secp224r1", 22: "secp256k1", 23: "secp256r1", 24: "secp384r1",
    25: "secp521r1", 26: "brainpoolP256r1", 27: "brainpoolP384r1", 28: "brainpoolP512r1", 29: "x25519",
    30: "x448", 256: "ffdhe2048", 257: "ffdhe3072", 258: "ffdhe4096", 259: "ffdhe6144", 260: "ffdhe8192",
    0xFF01: "arbitrary_explicit_prime_curves", 0xFF02: "arbitrary_explicit_char2_curves",
}

# RFC 8446 section 4.2.3 (Packetbeat keeps the draft names rsa_pss_sha* for rsa_pss_rsae_sha*).
SIGNATURE_SCHEMES: dict[int, str] = {
    0x0401: "rsa_pkcs1_sha256", 0x0501: "rsa_pkcs1_sha384", 0x0601: "rsa_pkcs1_sha512",
    0x0403: "ecdsa_secp256r1_sha256", 0x0503: "ecdsa_secp384r1_sha384", 0x0603: "ecdsa_secp521r1_sha512",
    0x0804: "rsa_pss_sha256", 0x0805: "rsa_pss_sha384", 0x0806: "rsa_pss_sha512",
    0x0807: "ed25519", 0x0808: "ed448",
    0x0809: "rsa_pss_pss_sha256", 0x080A: "rsa_pss_pss_sha384", 0x080B: "rsa_pss_pss_sha512",
    0x0201: "rsa_pkcs1_sha1", 0x0203: "ecdsa_sha1",
}

_COMPRESSION = {0: "NULL", 1: "DEFLATE", 64: "LZS"}
_POINT_FORMATS = {0: "uncompressed", 1: "ansiX962_compressed_prime", 2: "ansiX962_compressed_char2"}

# TLS Alerts registry (RFC 8446 section 6 and earlier RFCs).
ALERTS: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
    22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
    42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
    50: "decode_error", 51: "decrypt_error", 60: "export_restriction", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
    100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
    111: "certificate_unobtainable", 112: "unrecognized_name", 113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value", 115: "unknown_psk_identity", 116: "certificate_required",
    120: "no_application_protocol",
}
ALERT_LEVELS = {1: "warning", 2: "fatal"}


def is_grease(value: int) -> bool:
    """RFC 8701: 0x0A0A, 0x1A1A, ..., 0xFAFA (both bytes equal, low nibbles 0xA)."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


def _unknown16(value: int) -> str:
    return f"(unknown:0x{value:04x})"


def cipher_name(code: int) -> str:
    return CIPHER_SUITES.get(code) or _unknown16(code)


def group_name(code: int) -> str:
    return GROUPS.get(code) or _unknown16(code)


def signature_scheme_name(code: int) -> str:
    return SIGNATURE_SCHEMES.get(code) or _unknown16(code)


def compression_name(code: int) -> str:
    return _COMPRESSION.get(code) or f"(unknown:0x{code:02x})"


def point_format_name(code: int) -> str:
    return _POINT_FORMATS.get(code) or f"(unknown:0x{code:02x})"


def alert_name(code: int) -> str:
    return ALERTS.get(code) or f"(unknown:{code})"


def alert_level_name(level: int) -> str:
    return ALERT_LEVELS.get(level) or f"(unknown:{level})"


def version_name(version: int) -> str:
    """0x0303 -> `TLS 1.2`, 0x0300 -> `SSL 3.0`, 0x7f1c -> `TLS 1.3 draft 28`."""
    major, minor = version >> 8, version & 0xFF
    if major == 3:
        return "SSL 3.0" if minor == 0 else f"TLS 1.{minor - 1}"
    if major == 0x7F:
        return f"TLS 1.3 draft {minor}"
    if version == 0x0002:
        return "SSL 2.0"
    return f"(raw {major}.{minor})"
