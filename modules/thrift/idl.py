"""Names from Thrift IDL files (`idl_files`): for each method, its service and the names of its
arguments and exceptions by field id. A small reader of the IDL's service definitions; everything
else in the file (structs, enums, includes, comments) is skipped."""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path

from packetshipper.records import record

__all__ = ["Method", "Idl", "load_idl", "parse_idl"]

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*|#[^\n]*", re.S)
_SERVICE = re.compile(r"\bservice\s+(\w+)(?:\s+extends\s+[\w.]+)?\s*\{", re.S)
_FIELD = re.compile(r"^\s*(-?\d+)\s*:.*?(\w+)\s*(?:=.*)?$", re.S)
_METHOD = re.compile(r"(?:oneway\s+)?[\w.<>, ]+?\s+(\w+)\s*\(([^)]*)\)\s*(?:throws\s*\(([^)]*)\))?")


@record
class Method:
    service: str
    params: dict[int, str] = field(default_factory=dict)
    exceptions: dict[int, str] = field(default_factory=dict)


@record
class Idl:
    methods: dict[str, Method]


def _split(text: str) -> list[str]:
    """A field list split at its top-level commas (not those inside map<k, v>)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch in ",;" and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _fields(text: str | None) -> dict[int, str]:
    out = {}
    for part in _split(text or ""):
        m = _FIELD.match(part)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def _body(text: str, start: int) -> str:
    depth = 1
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    raise ValueError("a service definition is not closed")


def parse_idl(text: str) -> dict[str, Method]:
    text = _COMMENTS.sub("", text)
    methods: dict[str, Method] = {}
    for service in _SERVICE.finditer(text):
        body = _body(text, service.end())
        for m in _METHOD.finditer(body):
            methods[m.group(1)] = Method(service.group(1), _fields(m.group(2)), _fields(m.group(3)))
    return methods


def load_idl(paths: list[str]) -> Idl:
    methods: dict[str, Method] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read IDL file {path}: {exc.strerror}") from exc
        methods.update(parse_idl(text))
    return Idl(methods)
