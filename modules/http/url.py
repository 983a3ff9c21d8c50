"""URL pieces of a request, the way Packetbeat derives them: Host header, path, parameters, full URL."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from urllib.parse import quote, quote_from_bytes, unquote, unquote_to_bytes, urlsplit

SECRET_MASK = "xxxxx"
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Go's url.PathEscape set for paths: unreserved plus these sub-delims stay as they are.
_PATH_SAFE = "$&+,/:;=@"
# Fast paths for the common shapes, each taking only input that the general code would leave unchanged
# (or split the same way); everything else goes the general way.
_NOT_IP = re.compile(r"[^0-9A-Fa-f.:]")  # an address has only these, plus a scope id after "%"
_ORIGIN_FORM = re.compile(r"/(?!/)[^#\t\r\n]*")  # what urlsplit leaves without scheme, netloc, fragment
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~=&-]*")  # no escapes, nothing to escape but a second "="
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~$&+,/:;=@-]*")  # nothing quote() escapes


def split_host(header: str) -> tuple[str, int]:
    """(host, port) from a Host header value; port 0 when absent. IPv6 brackets are removed."""
    if not header or is_ip(header):
        return header, 0
    host, port = header, 0
    colon = header.rfind(":")
    if colon != -1:
        digits = header[colon + 1 :]
        if digits.isdigit() and 0 < int(digits) < 65536:
            host, port = header[:colon], int(digits)
    if len(host) > 2 and host[0] == "[" and host[-1] == "]" and is_ip(host[1:-1]):
        host = host[1:-1]
    return host, port


def is_ip(text: str) -> bool:
    if "%" not in text and _NOT_IP.search(text) is not None:
        return False  # a name: the common case, decided without ipaddress
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def split_target(target: str) -> tuple[str, str]:
    """(decoded path, raw query) of a request-target in origin or absolute form."""
    if _ORIGIN_FORM.fullmatch(target) is not None:
        path, _, query = target.partition("?")
        if "%" not in path:
            return path, query
    try:
        parts = urlsplit(target)
    except ValueError:
        return "", ""
    if _BAD_ESCAPE.search(parts.path):
        return "", parts.query
    return unquote(parts.path, errors="replace"), parts.query


def parse_query(raw: str) -> list[tuple[bytes, bytes]]:
    """Pairs of an application/x-www-form-urlencoded string; malformed pairs are skipped, as Go does."""
    pairs = []
    for part in raw.split("&"):
        if not part or ";" in part:
            continue
        key, _, value = part.partition("=")
        if _BAD_ESCAPE.search(key) or _BAD_ESCAPE.search(value):
            continue
        pairs.append((unquote_to_bytes(key.replace("+", " ")), unquote_to_bytes(value.replace("+", " "))))
    return pairs


def encode_params(url_query: str, form_body: str | None, hide_keywords: frozenset[str]) -> str:
    """URL and form parameters merged (form wins per key), secrets masked, keys sorted, re-encoded."""
    if not form_body and _PLAIN_QUERY.fullmatch(url_query) is not None:
        plain = _encode_plain_params(url_query, hide_keywords)
        if plain is not None:
            return plain
    merged: dict[bytes, list[bytes]] = {}
    for source in (url_query, form_body):
        if not source:
            continue
        values: dict[bytes, list[bytes]] = {}
        for key, value in parse_query(source):
            if key.decode("utf-8", "replace").lower() in hide_keywords:
                value = SECRET_MASK.encode()
            values.setdefault(key, []).append(value)
        merged.update(values)
    return "&".join(
        f"{_query_escape(key)}={_query_escape(value)}" for key in sorted(merged) for value in merged[key]
    )


def _encode_plain_params(url_query: str, hide_keywords: frozenset[str]) -> str | None:
    """`encode_params` of a query that needs no unescaping and no escaping; None if a value holds "="."""
    if "&" not in url_query and url_query:  # one parameter: nothing to merge or sort
        key, _, value = url_query.partition("=")
        if "=" in value:
            return None
        return f"{key}={SECRET_MASK if key.lower() in hide_keywords else value}"
    merged: dict[str, list[str]] = {}
    for part in url_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        if "=" in value:
            return None  # escaped as %3D on the way out: the general path does that
        if key.lower() in hide_keywords:
            value = SECRET_MASK
        merged.setdefault(key, []).append(value)
    return "&".join(f"{key}={value}" for key in sorted(merged) for value in merged[key])


def _query_escape(raw: bytes) -> str:
    return quote_from_bytes(raw, safe=" ").replace(" ", "+")


def full_url(domain: str, port: int, path: str, query: str) -> str:
    """`http://domain[:port]/path?query`, or "" when the domain is unknown (no Host header)."""
    if not domain or port <= 0:
        return ""
    if port != 80:
        host = f"[{domain}]:{port}" if ":" in domain else f"{domain}:{port}"
    else:
        host = f"[{domain}]" if ":" in domain else domain
    escaped = path if _PLAIN_PATH.fullmatch(path) is not None else quote(path, safe=_PATH_SAFE)
    if escaped and not escaped.startswith("/"):
        escaped = "/" + escaped
    return f"http://{host}{escaped}" + (f"?{query}" if query else "")


def extension(path: str) -> str:
    """The file extension of the last path segment, without the dot; "" when there is none."""
    segment = path.rsplit("/", 1)[-1]
    dot = segment.rfind(".")
    return segment[dot + 1 :] if dot != -1 else ""


def basic_auth_user(authorization: str | None) -> str:
    """The user name of `Authorization: Basic base64(user:password)`; "" for anything else."""
    if not authorization or authorization[:6].lower() != "basic ":
        return ""
    token = authorization[6:].strip()
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return ""
    user, colon, _ = decoded.partition(b":")
    return user.decode("utf-8", "replace") if colon else ""
