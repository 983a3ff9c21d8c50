"""Values rendered as Packetbeat renders them: `(1: 1, 2: "hi")` structs, `[..]` lists, `{..}` sets and
maps, Go-quoted strings (hex when not UTF-8), `...` after `collection_max_size` elements or
`string_max_size` bytes."""

from __future__ import annotations

__all__ = ["go_quote", "string_value", "struct_text"]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b",
            "\f": "\\f", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's strconv.Quote: printable characters kept, the rest escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def string_value(raw: bytes, max_size: int, obfuscate: bool = False) -> str:
    if not raw:
        return '""'
    if obfuscate:
        return '"*"'
    kept = raw[:max_size]
    suffix = b"..." if len(raw) > max_size else b""
    try:
        return go_quote((kept + suffix).decode("utf-8"))
    except UnicodeDecodeError:
        return (kept + suffix).hex()


def struct_text(fields: tuple[tuple[int, str], ...] | list[tuple[int, str]], max_items: int,
                names: dict[int, str] | None = None) -> str:
    parts = []
    for i, (fid, value) in enumerate(fields):
        if i == max_items:
            parts.append("...")
            break
        label = names.get(fid) if names else None
        parts.append(f"{label if label else fid}: {value}")
    return "(" + ", ".join(parts) + ")"
