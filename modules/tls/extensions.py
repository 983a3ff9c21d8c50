"""Hello extensions decoded into Packetbeat's `tls.detailed.*_hello.extensions` map.

Each decoder takes the extension's bytes and returns its value, or None when the content is not what
the RFC describes (the extension is then listed under `_unparsed_`, as Packetbeat does). GREASE
extensions (RFC 8701) are left out entirely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packetshipper.protocol import ProtocolError

from .cursor import Cursor
from .messages import Hello, HelloKind
from .names import group_name, is_grease, point_format_name, signature_scheme_name, version_name

__all__ = ["SNI", "ALPN", "SUPPORTED_VERSIONS", "SESSION_TICKET", "PRE_SHARED_KEY", "alpn_protocols",
           "decode_extensions", "server_names", "supported_versions"]

SNI, ALPN, SESSION_TICKET, SUPPORTED_VERSIONS, PRE_SHARED_KEY = 0, 16, 35, 43, 41


def _exact(data: bytes, length_bytes: int) -> Cursor:
    """The single length-prefixed vector that must fill `data` exactly."""
    cur = Cursor(data)
    inner = cur.vector(length_bytes)
    if cur.remaining:
        raise ProtocolError("bytes after the vector")
    return inner


def _sni(data: bytes) -> list[str] | None:
    names = _exact(data, 2)
    hosts = []
    while names.remaining:
        name_type = names.u8()
        host = names.vector(2).rest()
        if name_type == 0:
            hosts.append(host.decode("utf-8", "replace"))
    return hosts


def _alpn(data: bytes) -> list[str] | None:
    protos = _exact(data, 2)
    out = []
    while protos.remaining:
        out.append(protos.vector(1).rest().decode("utf-8", "replace"))
    return out


def _max_fragment_length(data: bytes) -> str | None:
    if len(data) != 1:
        return None
    value = data[0]
    return f"2^{8 + value}" if 0 < value < 5 else f"(unknown:{value})"


def _expect_empty(data: bytes) -> str:
    return "" if not data else f"(expected empty: found {len(data)} bytes)"


def _status_request(data: bytes) -> dict[str, Any] | None:
    if not data:
        return {"response": True}  # the server's acknowledgement
    cur = Cursor(data)
    kind = cur.u8()
    responders = cur.vector(2)
    extensions = cur.vector(2)
    return {"type": "ocsp" if kind == 1 else str(kind), "responder_id_list_length": responders.remaining,
            "request_extensions": extensions.remaining}


def _cert_type(data: bytes) -> list[str] | None:
    labels = {0: "X.509", 1: "OpenPGP", 2: "RawPubKey"}
    # RFC 6091: a list from the client, a single byte from the server.
    values = data if len(data) == 1 else _exact(data, 1).rest()
    return [labels.get(v, f"(unknown:{v})") for v in values]


def _groups(data: bytes) -> list[str] | None:
    return [group_name(g) for g in _exact(data, 2).u16_list() if not is_grease(g)]


def _point_formats(data: bytes) -> list[str] | None:
    return [point_format_name(v) for v in _exact(data, 1).rest()]


def _srp(data: bytes) -> str | None:
    return _exact(data, 1).rest().decode("utf-8", "replace")


def _signature_algorithms(data: bytes) -> list[str] | None:
    return [signature_scheme_name(v) for v in _exact(data, 2).u16_list()]


def _ticket(data: bytes) -> str:
    return f"({len(data)} bytes)" if data else ""


def _versions_client(data: bytes) -> list[str] | None:
    values = [v for v in _exact(data, 1).u16_list() if not is_grease(v)]
    return [version_name(v) for v in values] or None


def _version_server(data: bytes) -> str | None:
    return version_name(Cursor(data).u16()) if len(data) == 2 else None


def _ignored(data: bytes) -> None:
    return None


_Decoder = Callable[[bytes], Any]
_DECODERS: dict[int, tuple[str, _Decoder]] = {
    0: ("server_name_indication", _sni),
    1: ("max_fragment_length", _max_fragment_length),
    2: ("client_certificate_url", _expect_empty),
    3: ("trusted_ca_keys", _ignored),
    4: ("truncated_hmac", _expect_empty),
    5: ("status_request", _status_request),
    6: ("user_mapping", _ignored),
    7: ("client_authz", _ignored),
    8: ("server_authz", _ignored),
    9: ("cert_type", _cert_type),
    10: ("supported_groups", _groups),
    11: ("ec_points_formats", _point_formats),
    12: ("srp", _srp),
    13: ("signature_algorithms", _signature_algorithms),
    16: ("application_layer_protocol_negotiation", _alpn),
    35: ("session_ticket", _ticket),
    0xFF01: ("renegotiation_info", _ignored),
}


def _decode_one(kind: HelloKind, code: int, data: bytes) -> tuple[str, Any]:
    if code == SUPPORTED_VERSIONS:
        decoder: _Decoder = _versions_client if kind is HelloKind.CLIENT else _version_server
        label = "supported_versions"
    elif code in _DECODERS:
        label, decoder = _DECODERS[code]
    else:
        return str(code), None
    try:
        value = decoder(data)
    except ProtocolError:
        value = None
    if (code in (SNI, ALPN)) and not value:  # Packetbeat: an empty list is not a value
        value = None
    return label, value


def decode_extensions(hello: Hello) -> dict[str, Any] | None:
    """Packetbeat's extensions map: label -> decoded value, plus `_unparsed_` labels; None if none sent."""
    if not hello.extensions:
        return None
    parsed: dict[str, Any] = {}
    unparsed: list[str] = []
    for ext in hello.extensions:
        if is_grease(ext.code):
            continue
        label, value = _decode_one(hello.kind, ext.code, ext.data)
        if value is None:
            unparsed.append(label)
        else:
            parsed[label] = value
    if unparsed:
        parsed["_unparsed_"] = unparsed
    return parsed


def _value(hello: Hello | None, code: int) -> Any:
    if hello is None:
        return None
    data = hello.extension(code)
    return None if data is None else _decode_one(hello.kind, code, data)[1]


def server_names(hello: Hello | None) -> list[str]:
    return _value(hello, SNI) or []


def alpn_protocols(hello: Hello | None) -> list[str]:
    return _value(hello, ALPN) or []


def supported_versions(hello: Hello) -> list[int]:
    """The versions offered (client) or the one chosen (server) in supported_versions, GREASE removed."""
    data = hello.extension(SUPPORTED_VERSIONS)
    if data is None:
        return []
    try:
        if hello.kind is HelloKind.SERVER:
            return [Cursor(data).u16()] if len(data) == 2 else []
        return [v for v in _exact(data, 1).u16_list() if not is_grease(v)]
    except ProtocolError:
        return []
