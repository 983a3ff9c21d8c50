"""SIP URIs and name-addr values (From, To, Contact) split as Packetbeat splits them.

Packetbeat's reading is kept on purpose, quirks included, so events match its golden files: a URI is
`scheme:[user@]host[:port][;params]`, the port is kept only when it is a number, and a value that is
not wrapped in `<...>` ends at its first `;`.
"""

from __future__ import annotations

from dataclasses import field

from packetshipper.records import record

__all__ = ["Uri", "NameAddr", "parse_uri", "parse_name_addr", "leading_int"]


@record
class Uri:
    original: str
    scheme: str = ""
    username: str = ""
    host: str = ""
    port: int = 0
    params: dict[str, str] = field(default_factory=dict)


@record
class NameAddr:
    display_info: str
    uri: str
    params: dict[str, str]


def leading_int(text: str) -> int:
    """The integer a value starts with (after blanks), 0 when there is none: Packetbeat's parseInt."""
    text = text.strip()
    end = 1 if text[:1] in ("+", "-") else 0
    while end < len(text) and text[end].isascii() and text[end].isdigit():
        end += 1
    digits = text[:end]
    return int(digits) if digits not in ("", "+", "-") else 0


def _port(text: str) -> int:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else 0


def parse_uri(raw: str) -> Uri:
    uri = raw.strip()
    colon = uri.find(":")
    if colon == -1:
        return Uri(original=raw)
    scheme = uri[:colon]
    pos, prev_pos = colon + 1, -1
    host: str | None = None
    username = ""
    in_ipv6 = False
    end = len(uri)
    has_params = False
    prev = ":"
    for idx in range(colon + 1, len(uri)):
        ch = uri[idx]
        escaped = prev == "\\"
        if ch == "[" and not escaped:
            in_ipv6 = True
        elif ch == "]" and not escaped:
            in_ipv6 = False
        elif ch == ";" and not escaped:
            has_params, end = True, idx
            break
        elif ch == "@":
            if host:  # a colon before the '@' belonged to the user part (user:password)
                pos, host = prev_pos, None
            username = uri[pos:idx]
            prev_pos, pos = pos, idx + 1
        elif ch == ":" and not in_ipv6:
            host = uri[pos:idx]
            prev_pos, pos = pos, idx + 1
        prev = ch
    port = 0
    if pos <= end:
        if not host:
            host = uri[pos:end].strip()
        else:
            port = _port(uri[pos:end])
    params: dict[str, str] = {}
    if has_params:
        for param in uri[end + 1:].split(";"):
            kv = param.split("=")
            if len(kv) == 2:
                params[kv[0].strip().lower()] = kv[1]
    return Uri(original=raw, scheme=scheme, username=username, host=host or "", port=port, params=params)


def parse_name_addr(value: str) -> NameAddr:
    """`"Bob" <sip:bob@example.com>;tag=1` -> display info, URI text and header parameters."""
    value = value.strip()
    lt = value.find("<")
    wrapped = lt != -1
    start = lt if wrapped else 0
    display = value[:start].strip("'\"\t ")
    end = value.find(">") if wrapped else value.find(";")
    if end == -1 or end < start:
        return NameAddr(display, value[start:], {})  # as Packetbeat: an unclosed '<' stays in the URI
    uri = value[start + 1 if wrapped else start:end]
    params: dict[str, str] = {}
    for param in value[end + 1:].split(";"):
        kv = param.split("=", 1)
        if len(kv) == 2:
            params[kv[0].strip().lower()] = kv[1]
    return NameAddr(display, uri, params)
