"""Packetbeat's `tls.*` event fields (ECS `tls.*` plus `tls.detailed.*`): the only place naming them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packetshipper.event import OMIT
from packetshipper.protocol import Transaction
from packetshipper.records import record

from .correlator import TlsHandshake
from .extensions import (
    PRE_SHARED_KEY,
    SESSION_TICKET,
    alpn_protocols,
    decode_extensions,
    server_names,
    supported_versions,
)
from .fingerprints import ja3, ja3s, ja4
from .messages import Alert, Hello
from .names import alert_level_name, alert_name, cipher_name, compression_name, is_grease, version_name
from .x509 import CertificateCache, pem

__all__ = ["EventOptions", "tls_event_fields", "negotiated_version", "resumption"]

TLS13 = 0x0304


@record
class EventOptions:
    send_certificates: bool = True
    include_raw_certificates: bool = False
    include_detailed_fields: bool = True
    fingerprints: tuple[str, ...] = ("sha1",)
    include_ja3s: bool = True
    include_ja4: bool = True
    max_certificates: int = 10


def negotiated_version(handshake: TlsHandshake) -> int | None:
    """The server's choice (supported_versions, else legacy_version); the client's offer without one."""
    server, client = handshake.server_hello, handshake.client_hello
    if server is not None:
        chosen = supported_versions(server)
        return chosen[0] if chosen else server.version
    return client.version if client is not None else None


def resumption(handshake: TlsHandshake) -> str | None:
    """"ticket" or "id" when the session was resumed, else None.

    TLS 1.3: resumed when the server accepted a pre-shared key. Earlier: no key exchange and the
    server echoed the session id or acknowledged the offered ticket. The method follows Packetbeat: a
    ticket offered (and acknowledged) means "ticket", anything else "id".
    """
    client, server = handshake.client_hello, handshake.server_hello
    if client is None or server is None:
        return None
    offered = client.extension(SESSION_TICKET)
    ticket = bool(offered) and server.extension(SESSION_TICKET) is not None
    if negotiated_version(handshake) == TLS13:
        resumed = server.extension(PRE_SHARED_KEY) is not None
    else:
        same_id = bool(client.session_id) and client.session_id == server.session_id
        resumed = not handshake.key_exchanged and (same_id or ticket)
    if not resumed:
        return None
    return "ticket" if ticket else "id"


def _hello_map(hello: Hello) -> dict[str, Any]:
    out: dict[str, Any] = {"version": f"{hello.version >> 8}.{hello.version & 0xFF}", "random": hello.random.hex()}
    if hello.session_id:
        out["session_id"] = hello.session_id.hex()
    if hello.kind.name == "CLIENT":
        out["supported_compression_methods"] = [compression_name(m) for m in hello.compression_methods]
    else:
        out["selected_compression_method"] = compression_name(hello.compression_methods[0])
    extensions = decode_extensions(hello)
    if extensions is not None:
        out["extensions"] = extensions
    return out


def _alert_map(alert: Alert, source: str) -> dict[str, Any]:
    return {"severity": alert_level_name(alert.level), "code": alert.code, "type": alert_name(alert.code),
            "source": source}


def _certificates(role: str, ders: tuple[bytes, ...], options: EventOptions, cache: CertificateCache,
                  tls: dict[str, Any], detailed: dict[str, Any], count: Callable[[str], None]) -> None:
    if not ders:
        return
    kept = ders[:options.max_certificates]
    if len(ders) > len(kept):
        count("certificates_over_max")
    ours: dict[str, Any] = {}
    if options.include_raw_certificates:
        ours["certificate_chain"] = [pem(d) for d in kept]
    summaries = []
    for der in kept:
        summary = cache.get(der)
        if summary is None:
            count("certificates_unparsed")
        summaries.append(summary)
    leaf = summaries[0]
    if leaf is not None:
        ours["hash"] = {name: leaf.hashes[name] for name in options.fingerprints}
        ours["issuer"] = leaf.issuer
        ours["subject"] = leaf.subject
        if leaf.validity is not None:
            ours["not_before"], ours["not_after"] = leaf.validity
        if options.send_certificates and options.include_detailed_fields:
            ours["x509"] = cache.x509_copy(leaf)
            rest = [cache.x509_copy(s) for s in summaries[1:] if s is not None]
            if rest:
                detailed[f"{role}_certificate_chain"] = rest
    if ours:
        tls.setdefault(role, {}).update(ours)


def _split_version(name: str) -> tuple[str, str] | None:
    protocol, _, number = name.partition(" ")
    if protocol in ("TLS", "SSL") and number and " " not in number:
        return protocol.lower(), number
    return None


def tls_event_fields(txn: Transaction[TlsHandshake, Any], options: EventOptions, count: Callable[[str], None],
                     cache: CertificateCache | None = None) -> dict[str, Any]:
    if cache is None:
        cache = CertificateCache(0, count)
    handshake = txn.request
    assert handshake is not None  # the correlator always sets it
    client, server = handshake.client_hello, handshake.server_hello
    method = resumption(handshake)
    tls: dict[str, Any] = {"established": handshake.established, "resumed": method is not None}
    detailed: dict[str, Any] = {"client_certificate_requested": handshake.certificate_requested}
    event: dict[str, Any] = {"tls": tls}
    version = negotiated_version(handshake)
    if version is not None:
        name = version_name(version)
        detailed["version"] = name
        split = _split_version(name)
        if split:
            tls["version_protocol"], tls["version"] = split
    if method is not None:
        detailed["resumption_method"] = method
    if client is not None:
        ours: dict[str, Any] = {"ja3": ja3(client),
                                "supported_ciphers": [cipher_name(c) for c in client.cipher_suites if not is_grease(c)]}
        if options.include_ja4:
            ours["ja4"] = ja4(client)
        names = server_names(client)
        if names:
            ours["server_name"] = names[0]
            event["destination"] = {"domain": names[0]}
            event["server"] = {"domain": names[0]}
        tls["client"] = ours
        detailed["client_hello"] = _hello_map(client)
    if server is not None:
        tls["cipher"] = cipher_name(server.cipher_suites[0])
        protocols = alpn_protocols(server)
        if protocols:
            tls["next_protocol"] = protocols[0]
        if options.include_ja3s:
            tls["server"] = {"ja3s": ja3s(server)}
        detailed["server_hello"] = _hello_map(server)
    _certificates("client", handshake.client_certificates, options, cache, tls, detailed, count)
    _certificates("server", handshake.server_certificates, options, cache, tls, detailed, count)
    alerts = [_alert_map(a, "client") for a in handshake.client_alerts]
    alerts += [_alert_map(a, "server") for a in handshake.server_alerts]
    if alerts:
        detailed["alerts"] = alerts
        detailed["alert_types"] = [a["type"] for a in alerts]
    if options.include_detailed_fields:
        tls["detailed"] = detailed
    conn = txn.connection
    ips = [conn.client.ip] if conn.client.ip == conn.server.ip else [conn.client.ip, conn.server.ip]
    event["related"] = {"ip": ips}  # Packetbeat's order: client first
    # As Packetbeat's: no byte counts (the handshake is not the connection's traffic), and no duration
    # for a handshake that did not finish.
    event["network"] = {"bytes": OMIT}
    for side in ("source", "destination", "client", "server"):
        event.setdefault(side, {})["bytes"] = OMIT
    if not handshake.established:
        event["event"] = {"duration": OMIT}
    return event


def describe(txn: Transaction[TlsHandshake, Any]) -> str:
    """`ClientHello example.com -> TLS 1.3 TLS_AES_128_GCM_SHA256, established`."""
    handshake = txn.request
    if handshake is None:
        return ""
    parts = []
    if handshake.client_hello is not None:
        names = server_names(handshake.client_hello)
        parts.append("ClientHello" + (f" {names[0]}" if names else ""))
    if handshake.server_hello is not None:
        version = negotiated_version(handshake)
        chosen = version_name(version) if version is not None else "?"
        parts.append(f"{chosen} {cipher_name(handshake.server_hello.cipher_suites[0])}")
    state = "established" if handshake.established else "not established"
    if resumption(handshake):
        state += ", resumed"
    return " -> ".join(parts) + ", " + state
