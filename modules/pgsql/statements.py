"""SQL text helpers: a simple Query's statements, and the verb Packetbeat reports as `method`."""

from __future__ import annotations

import re

__all__ = ["split_statements", "method_of"]

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")
_VERB = re.compile(r"[A-Za-z_]+")
_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.S)


def split_statements(sql: str, limit: int) -> list[str]:
    """The statements of one Query message, trimmed, empty ones left out (at most `limit`; the last
    one then holds the rest of the text).

    Unlike Packetbeat's plain split on ';', a ';' inside a string, a quoted identifier, a
    dollar-quoted body or a comment does not end a statement.
    """
    if ";" not in sql:
        stripped = sql.strip()
        return [stripped] if stripped else []
    out: list[str] = []
    start = i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c == ";":
            if len(out) >= limit - 1:
                break  # the rest stays one statement
            _add(out, sql[start:i])
            start = i = i + 1
            continue
        if c == "'" or c == '"':
            close = sql.find(c, i + 1)
            while close >= 0 and close + 1 < n and sql[close + 1] == c:  # '' and "" are escaped quotes
                close = sql.find(c, close + 2)
            i = n if close < 0 else close + 1
        elif c == "-" and sql.startswith("--", i):
            close = sql.find("\n", i)
            i = n if close < 0 else close + 1
        elif c == "/" and sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif c == "$":
            tag = _DOLLAR_TAG.match(sql, i)
            if tag is None:
                i += 1
            else:
                close = sql.find(tag.group(), tag.end())
                i = n if close < 0 else close + len(tag.group())
        else:
            i += 1
    _add(out, sql[start:])
    return out


def _add(out: list[str], statement: str) -> None:
    statement = statement.strip()
    if statement:
        out.append(statement)


def method_of(statement: str) -> str:
    """`SELECT` for `select * from t`: the statement's first word, upper-cased, past leading comments."""
    body = statement[_LEADING_COMMENTS.match(statement).end():]  # type: ignore[union-attr]
    verb = _VERB.match(body)
    if verb is not None:
        return verb.group().upper()
    word = body.split(None, 1)
    return word[0].upper() if word else ""
