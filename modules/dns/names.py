"""Domain names on the wire: labels, compression pointers, and their presentation form.

A name may end in a pointer to an earlier name (RFC 1035 4.1.4). Each pointer must point below every
position read so far for this name, so pointer chains strictly descend and cannot loop; the name's
wire length is capped at 255 octets and the number of pointers at `MAX_POINTERS`.
"""

from __future__ import annotations

from .wire import DnsProtocolError, WireCursor

__all__ = ["read_name", "trim_dot", "MAX_NAME_LENGTH", "MAX_POINTERS"]

MAX_NAME_LENGTH = 255
MAX_POINTERS = 128

# Characters written as-is in a label; the rest become `\c` or `\DDD` (the zone-file convention).
_SPECIAL = b'.\\"()@; \''
_PLAIN = bytes(b for b in range(0x21, 0x7F) if b not in _SPECIAL)
_PLAIN_OR_DOT = _PLAIN + b"."
_ESCAPED = [
    (chr(b) if b in _PLAIN else f"\\{chr(b)}" if b in _SPECIAL else f"\\{b:03d}") for b in range(256)
]


def label_text(label: bytes) -> str:
    if not label.translate(None, _PLAIN):
        return label.decode("ascii")
    return "".join(_ESCAPED[b] for b in label)


def read_name(cur: WireCursor, what: str = "name") -> str:
    """Read a (possibly compressed) name at the cursor; return it as `www.example.com.` (root: `.`)."""
    data = cur.data
    pos = cur.pos
    end = cur.end  # labels before the first pointer must lie inside the cursor's bounds
    lowest = pos
    jumped = False
    pointers = 0
    wire_length = 1
    labels: list[bytes] = []
    while True:
        if pos >= end:
            raise DnsProtocolError(f"{what}: runs past the end of the data at offset {pos}")
        length = data[pos]
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= end:
                raise DnsProtocolError(f"{what}: compression pointer cut short at offset {pos}")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if not jumped:
                cur.pos = pos + 2
                jumped = True
            pointers += 1
            if target >= lowest or pointers > MAX_POINTERS:
                raise DnsProtocolError(f"{what}: compression pointer at offset {pos} to {target} loops")
            lowest = pos = target
            end = len(data)
            continue
        if kind:
            raise DnsProtocolError(f"{what}: unsupported label type {kind:#x} at offset {pos}")
        if length == 0:
            if not jumped:
                cur.pos = pos + 1
            break
        wire_length += length + 1
        if wire_length > MAX_NAME_LENGTH:
            raise DnsProtocolError(f"{what}: longer than {MAX_NAME_LENGTH} octets")
        pos += 1
        if pos + length > end:
            raise DnsProtocolError(f"{what}: label runs past the end of the data at offset {pos}")
        labels.append(data[pos : pos + length])
        pos += length
    if not labels:
        return "."
    name = b".".join(labels)
    if not name.translate(None, _PLAIN_OR_DOT) and name.count(b".") == len(labels) - 1:
        return name.decode("ascii") + "."  # every label plain: nothing to escape
    return ".".join([label_text(label) for label in labels]) + "."


def trim_dot(name: str) -> str:
    """`example.com.` -> `example.com`, as Packetbeat writes names; the root stays `.`."""
    # read_name always ends a non-root name with the separator dot, never with an escaped one.
    return name[:-1] if len(name) > 1 else name
