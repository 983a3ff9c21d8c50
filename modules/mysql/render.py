"""Rows as Packetbeat renders them for `response`: CSV the way Go's encoding/csv writes it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["csv_line", "render_csv", "cut_row"]


def _needs_quotes(field: str) -> bool:
    # Go quotes a field holding a comma, a quote, CR or LF, one starting with a space, and `\.`;
    # not an empty one.
    if not field:
        return False
    if field == "\\.":
        return True
    return any(c in field for c in ',"\r\n') or field[0].isspace()


def csv_line(fields: Iterable[str]) -> str:
    return ",".join(f'"{f.replace(chr(34), chr(34) * 2)}"' if _needs_quotes(f) else f for f in fields) + "\n"


def render_csv(names: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Header line (when there are column names), then one line per kept row."""
    out = [csv_line(name.replace("\n", "\\n") for name in names)] if names else []
    out.extend(csv_line(value.replace("\n", "\\n").replace("\r", "\\r") for value in row) for row in rows)
    return "".join(out)


def cut_row(values: Iterable[bytes], max_length: int) -> list[str]:
    """Packetbeat's max_row_length: values are kept while the row is shorter than the limit, the one
    crossing it cut to fit, the rest dropped."""
    row: list[str] = []
    length = 0
    for value in values:
        if length >= max_length:
            break
        if length + len(value) > max_length:
            value = value[:max_length - length]
        row.append(value.decode("utf-8", "replace"))
        length += len(value)
    return row
