"""Memcache text protocol lines (protocol.txt): what each command line and reply line says.

Each request line maps to (command, type) and the arguments it carries, as data: a table of argument
layouts by command name. A storage command is followed by a data block of `bytes` bytes; so is a
`VALUE` reply line. Numbers are checked as the server checks them; a line it would refuse
(`CLIENT_ERROR bad command line format`) becomes a message with a note, as the server goes on too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import codes as c

__all__ = ["TextLine", "parse_request_line", "parse_response_line", "BAD_FORMAT"]

BAD_FORMAT = "bad command line format"


@dataclass(slots=True)
class TextLine:
    """What one line says: its command and class, fields for the event, keys, and the data that follows."""

    command: str
    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    keys: list[bytes] = field(default_factory=list)
    data_length: int | None = None  # a data block of this many bytes follows
    note: str | None = None
    stat: tuple[bytes, bytes] | None = None
    unknown: bool = False


def _uint(token: bytes, bits: int = 64) -> int:
    if not token.isdigit() or len(token) > 20:
        raise ValueError(token)
    value = int(token)
    if value >= 1 << bits:
        raise ValueError(token)
    return value


def _int(token: bytes) -> int:
    if token[:1] == b"-":
        return -_uint(token[1:], 63)
    return _uint(token, 63)


# Argument layouts: names in order; "noreply?" is an optional trailing noreply.
_STORE = ("key", "flags", "exptime", "bytes", "noreply?")
_ARGS: dict[bytes, tuple[str, str, tuple[str, ...]]] = {
    b"set": ("set", c.STORE, _STORE),
    b"add": ("add", c.STORE, _STORE),
    b"replace": ("replace", c.STORE, _STORE),
    b"append": ("append", c.STORE, _STORE),
    b"prepend": ("prepend", c.STORE, _STORE),
    b"cas": ("cas", c.STORE, ("key", "flags", "exptime", "bytes", "cas_unique", "noreply?")),
    b"incr": ("incr", c.COUNTER, ("key", "delta", "noreply?")),
    b"decr": ("decr", c.COUNTER, ("key", "delta", "noreply?")),
    b"touch": ("touch", c.STORE, ("key", "exptime", "noreply?")),
    b"delete": ("delete", c.DELETE, ("key", "noreply?")),
    b"flush_all": ("flush_all", c.DELETE, ("exptime?", "noreply?")),
    b"verbosity": ("verbosity", c.INFO, ("verbosity", "noreply?")),
    b"version": ("version", c.INFO, ()),
    b"quit": ("quit", c.INFO, ()),
}
_SUBCOMMANDS: dict[bytes, dict[bytes, tuple[str, str, tuple[str, ...]]]] = {
    b"slabs": {
        b"reassign": ("slabs reassign", c.SLAB_CTRL, ("source_class", "dest_class")),
        b"automove": ("slabs automove", c.SLAB_CTRL, ("automove",)),
    },
    b"lru_crawler": {
        b"enable": ("lru_crawler enable", c.LRU_CRAWLER, ()),
        b"disable": ("lru_crawler disable", c.LRU_CRAWLER, ()),
        b"sleep": ("lru_crawler sleep", c.LRU_CRAWLER, ("sleep_us",)),
        b"tocrawl": ("lru_crawler tocrawl", c.LRU_CRAWLER, ("value",)),
        b"crawl": ("lru_crawler crawl", c.LRU_CRAWLER, ("raw_args*",)),
        b"metadump": ("lru_crawler metadump", c.LRU_CRAWLER, ("raw_args*",)),
        b"mgdump": ("lru_crawler mgdump", c.LRU_CRAWLER, ("raw_args*",)),
    },
}
_CONVERT: dict[str, Callable[[bytes], int]] = {
    "flags": lambda t: _uint(t, 32), "exptime": _int, "bytes": lambda t: _uint(t, 31),
    "cas_unique": _uint, "delta": _uint, "verbosity": _uint, "source_class": _int, "dest_class": _int,
    "automove": _uint, "sleep_us": _uint, "value": _uint,
}


def _apply(line: TextLine, layout: tuple[str, ...], args: list[bytes], raw_args: bytes) -> None:
    if args and args[-1] == b"noreply" and "noreply?" in layout:
        line.fields["noreply"] = True
        args = args[:-1]
    elif "noreply?" in layout:
        line.fields["noreply"] = False
    names = [n for n in layout if n != "noreply?"]
    for index, name in enumerate(names):
        if name == "raw_args*":
            line.fields["raw_args"] = raw_args
            return
        optional = name.endswith("?")
        name = name.rstrip("?")
        if index >= len(args):
            if not optional:
                line.note = BAD_FORMAT
            return
        token = args[index]
        if name == "key":
            line.keys.append(token)
            continue
        try:
            value = _CONVERT[name](token)
        except ValueError:
            line.note = BAD_FORMAT
            return
        if name == "bytes":
            line.data_length = value  # the builder counts it as the message's value_bytes
            continue
        line.fields[name] = value
    if len(args) > len(names):
        line.note = BAD_FORMAT


# Meta commands (memcached 1.6): name -> (class, whether a data length follows the key).
_META_REQUESTS = {b"mg": (c.LOAD, False), b"ms": (c.STORE, True), b"md": (c.DELETE, False),
                  b"ma": (c.COUNTER, False), b"mn": (c.INFO, False), b"me": (c.INFO, False)}
# Meta flags with a numeric token -> the field they fill (in requests, and in replies).
_META_REQUEST_NUMBERS = {ord("F"): "flags", ord("T"): "exptime", ord("C"): "cas_unique", ord("D"): "delta",
                         ord("J"): "initial"}
_META_REPLY_NUMBERS = {ord("f"): "flags", ord("c"): "cas_unique"}
_META_REPLIES = {b"VA": c.LOAD, b"HD": c.SUCCESS, b"EN": c.LOAD, b"NF": c.FAIL, b"NS": c.FAIL, b"EX": c.FAIL,
                 b"MN": c.INFO, b"ME": c.INFO}


def _meta_flags(out: TextLine, flags: list[bytes], numbers: dict[int, str]) -> None:
    """Meta flags: single letters, some with a token glued on (`T30`, `Oabc`, `kmykey`)."""
    for flag in flags:
        letter, token = flag[0], flag[1:]
        if letter == ord("q"):
            out.fields["quiet"] = True
        elif letter == ord("O"):
            out.fields["meta_opaque"] = token
        elif letter == ord("k") and token:
            out.keys.append(token)
        elif letter in numbers and token:
            try:
                out.fields[numbers[letter]] = _int(token) if letter == ord("T") else _uint(token)
            except ValueError:
                out.note = BAD_FORMAT


def _meta_request(name: bytes, args: list[bytes]) -> TextLine:
    kind, has_length = _META_REQUESTS[name]
    out = TextLine(name.decode(), kind)
    if name == b"mn":
        return out
    if not args:
        out.note = BAD_FORMAT
        return out
    out.keys.append(args[0])
    flags = args[1:]
    if has_length:
        try:
            out.data_length = _uint(flags[0], 31) if flags else -1
        except ValueError:
            out.data_length = -1
        if out.data_length < 0:
            out.data_length, out.note = None, BAD_FORMAT
        flags = flags[1:]
    out.fields["quiet"] = False
    _meta_flags(out, flags, _META_REQUEST_NUMBERS)
    return out


def _meta_reply(name: bytes, rest: bytes) -> TextLine | None:
    args = rest.split()
    out = TextLine(name.decode(), _META_REPLIES[name])
    if name == b"ME":
        out.fields["raw_args"] = rest
        return out
    if name == b"VA":
        try:
            out.data_length = _uint(args[0], 31)
        except (IndexError, ValueError):
            return None  # without its length the data block cannot be found
        args = args[1:]
    _meta_flags(out, args, _META_REPLY_NUMBERS)
    out.fields.pop("quiet", None)
    return out


def parse_request_line(line: bytes, *, parse_unknown: bool) -> TextLine | None:
    """The request a command line makes; None for a command the table does not know (unless parseunknown)."""
    tokens = line.split()
    name = tokens[0] if tokens else b""
    args = tokens[1:]
    if name in _META_REQUESTS:
        return _meta_request(name, args)
    rest = line.split(None, 1)[1] if len(tokens) > 1 else b""
    if name in (b"get", b"gets", b"gat", b"gats"):
        out = TextLine(name.decode(), c.LOAD)
        if name.startswith(b"gat"):
            try:
                out.fields["exptime"] = _int(args[0]) if args else 0
            except ValueError:
                out.note = BAD_FORMAT
            args = args[1:]
        out.keys.extend(args)
        if not args:
            out.note = BAD_FORMAT
        return out
    if name == b"stats":
        return TextLine("stats", c.STATS, {"raw_args": rest})
    spec = _ARGS.get(name)
    if spec is None and name in _SUBCOMMANDS and args:
        spec = _SUBCOMMANDS[name].get(args[0])
        if spec is not None:
            args = args[1:]
            rest = rest.split(None, 1)[1] if len(rest.split(None, 1)) > 1 else b""
    if spec is None:
        if not parse_unknown:
            return None
        return TextLine("UNKNOWN", c.UNKNOWN, {"line": line}, unknown=True)
    command, kind, layout = spec
    out = TextLine(command, kind)
    _apply(out, layout, args, rest)
    return out


_SUCCESS = {b"STORED", b"EXISTS", b"TOUCHED", b"DELETED", b"OK"}
_FAIL = {b"NOT_STORED", b"NOT_FOUND", b"ERROR"}
_FAIL_WITH_MESSAGE = {b"CLIENT_ERROR", b"SERVER_ERROR", b"BUSY", b"BADCLASS", b"NOSPARE", b"NOTFULL", b"UNSAFE",
                      b"SAME"}


def parse_response_line(line: bytes, *, parse_unknown: bool) -> TextLine | None:
    """What a reply line says; None if it is not a memcache reply (unless parseunknown)."""
    name, _, rest = line.partition(b" ")
    if name in _META_REPLIES:
        return _meta_reply(name, rest)
    if name == b"VALUE":
        args = rest.split()
        out = TextLine("VALUE", c.LOAD)
        try:
            out.keys.append(args[0])
            out.fields["flags"] = _uint(args[1], 32)
            out.data_length = _uint(args[2], 31)
            if len(args) > 3:
                out.fields["cas_unique"] = _uint(args[3])
        except (IndexError, ValueError):
            return None  # without its length the data block cannot be found
        return out
    if name == b"END":
        return TextLine("END", c.LOAD)
    if name == b"STAT":
        stat_name, _, value = rest.partition(b" ")
        return TextLine("STAT", c.STATS, stat=(stat_name, value))
    if name in (b"ITEM", b"PREFIX"):  # `stats cachedump` / `stats detail dump` lines, up to END like STAT
        stat_name, _, value = rest.partition(b" ")
        return TextLine("STAT", c.STATS, stat=(stat_name, value))
    if name.startswith(b"key="):  # `lru_crawler metadump` lines, up to END
        return TextLine("STAT", c.STATS, stat=(name[4:], rest))
    if name in _SUCCESS:
        return TextLine(name.decode(), c.SUCCESS)
    if name in _FAIL:
        return TextLine(name.decode(), c.FAIL)
    if name in _FAIL_WITH_MESSAGE:
        return TextLine(name.decode(), c.FAIL, {"error_msg": rest})
    if name == b"VERSION":
        return TextLine("VERSION", c.INFO, {"version": rest})
    if name.isdigit() and not rest:
        try:
            return TextLine("<counter_op_res>", c.COUNTER, {"value": _uint(name)})
        except ValueError:
            pass
    if not parse_unknown:
        return None
    return TextLine("UNKNOWN", c.UNKNOWN, {"line": line}, unknown=True)
