"""The address in `MAIL FROM:<...>` and `RCPT TO:<...>` (RFC 5321 4.1.2), and the parameters after it."""

from __future__ import annotations

__all__ = ["parse_path"]


def parse_path(arg: str, keyword: str) -> tuple[str | None, tuple[str, ...]]:
    """`FROM:<a@b> SIZE=10` -> ("a@b", ("SIZE=10",)); `<>` (the null sender) -> "". None: not that form."""
    head, colon, rest = arg.partition(":")
    if not colon or head.strip().upper() != keyword:
        return None, ()
    rest = rest.strip()
    if rest.startswith("<"):
        close = rest.find(">")
        if close < 0:
            address, params = rest[1:], ""
        else:
            address, params = rest[1:close], rest[close + 1:]
    else:
        address, _, params = rest.partition(" ")
    if address.startswith("@") and ":" in address:  # an obsolete source route: @relay,@relay:user@host
        address = address.partition(":")[2]
    return address, tuple(params.split())
