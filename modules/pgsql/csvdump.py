"""Result rows as Packetbeat renders them in `response`: Go's encoding/csv, newlines escaped first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["dump_csv"]


def dump_csv(fields: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = []
    if fields:
        lines.append(_line(f.replace("\n", "\\n") for f in fields))
    for row in rows:
        lines.append(_line(v.replace("\n", "\\n").replace("\r", "\\r") for v in row))
    return "".join(line + "\n" for line in lines)


def _line(values: Iterable[str]) -> str:
    return ",".join(_quoted(v) if _needs_quotes(v) else v for v in values)


def _needs_quotes(value: str) -> bool:
    # encoding/csv's fieldNeedsQuotes: a delimiter, quote or line break anywhere, `\.`, or a leading space.
    if not value:
        return False
    if value == "\\." or "," in value or '"' in value or "\n" in value or "\r" in value:
        return True
    return value[0].isspace()


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'
