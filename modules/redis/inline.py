"""Inline commands (`SET k v` typed as a line): split into arguments as the Redis server does.

Redis splits an inline line with `sdssplitargs`: whitespace separates arguments; "double quotes" allow
the escapes \\n \\r \\t \\b \\a \\xHH and \\<char>; 'single quotes' allow \\'; a closing quote must be
followed by whitespace or the end of the line, and an unterminated quote makes the whole line invalid.
"""

from __future__ import annotations

__all__ = ["split_args"]

_SPACE = frozenset(b" \t\n\r\v\f")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_DQ, _SQ, _BACKSLASH, _X = ord('"'), ord("'"), ord("\\"), ord("x")


def split_args(line: bytes) -> list[bytes] | None:
    """The arguments of an inline command line (without its line end); None if the quoting is broken."""
    args: list[bytes] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in _SPACE:
            i += 1
        if i >= n:
            return args
        word, i = _word(line, i, n)
        if word is None:
            return None
        args.append(word)


def _word(line: bytes, i: int, n: int) -> tuple[bytes | None, int]:
    current = bytearray()
    quote = 0  # 0, _DQ or _SQ
    while True:
        if i >= n:
            return (None, i) if quote else (bytes(current), i)
        c = line[i]
        if quote == _DQ:
            if c == _BACKSLASH and i + 3 < n and line[i + 1] == _X and line[i + 2] in _HEX and line[i + 3] in _HEX:
                current.append(int(line[i + 2:i + 4], 16))
                i += 3
            elif c == _BACKSLASH and i + 1 < n:
                i += 1
                current.append(_ESCAPES.get(line[i], line[i]))
            elif c == _DQ:
                if i + 1 < n and line[i + 1] not in _SPACE:
                    return None, i
                return bytes(current), i + 1
            else:
                current.append(c)
        elif quote == _SQ:
            if c == _BACKSLASH and i + 1 < n and line[i + 1] == _SQ:
                i += 1
                current.append(_SQ)
            elif c == _SQ:
                if i + 1 < n and line[i + 1] not in _SPACE:
                    return None, i
                return bytes(current), i + 1
            else:
                current.append(c)
        elif c in _SPACE:
            return bytes(current), i + 1
        elif c in (_DQ, _SQ):
            quote = c
        else:
            current.append(c)
        i += 1
