"""What `-d tls` says about counted anomalies (the transaction line comes from `describe`)."""

from __future__ import annotations

from packetshipper.debuglog import debug_log

__all__ = ["DEBUG", "REASONS"]

DEBUG = debug_log("tls")

REASONS = {
    "handshake_over_max_size": "a handshake message longer than max_handshake_size: this direction's state is dropped",
    "alerts_dropped": "more alerts than kept per direction: counted, not listed",
    "certificates_over_max": "a chain longer than max_certificates: the rest is not decoded",
    "certificates_unparsed": "a certificate the cryptography package could not decode: left out",
    "established": "",
    "not_established": "",
}
