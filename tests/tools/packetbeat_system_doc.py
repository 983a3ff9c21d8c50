"""Writes the generated parts of docs/packetbeat-system-tests.md from tests/packetbeat_system.

`python tests/tools/packetbeat_system_doc.py` rewrites the two generated blocks of the doc (the result
summary and the table of every assertion); tests/packetbeat_system/test_doc_current.py fails when they are
stale. The rows are read from the tests' source: each `assert` of a test, each statement of the module's
`assert_common_*` helpers per call, each key of a `check_fields` / `check_event` dict, and a harness row
per run read through read_output (its required-fields and fields/ check). Tests whose assertions differ from
Packetbeat's on purpose are listed in SPECIAL with Packetbeat's own assertions and our result.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

from packetshipper.event import iso_timestamp

ROOT = Path(__file__).resolve().parent.parent.parent
TESTS = ROOT / "tests" / "packetbeat_system"
DOC = ROOT / "docs" / "packetbeat-system-tests.md"

PB_FILES = {"test_pb_system_dns.py": "test_0032_dns.py", "test_pb_system_icmp.py": "test_0050_icmp.py",
            "test_pb_system_flows.py": "test_0060_flows.py"}
# Class name -> Packetbeat file, where the snake case of the class is not the file's name.
PB_CLASS_FILES = {"Test0010Http10ConnectionClose": "test_0010_http_10_connection_close.py",
                  "Test0070Http100Continue": "test_0070_http_100_continue.py"}
# Our strict-xfail counterparts of open assertions: not Packetbeat tests of their own.
OURS_ONLY = ("test_A_microsecond_timestamps", "test_microsecond_timestamps")
# The tests' helpers that go through template.read_output (the harness check), as opposed to raw_output
# (Packetbeat's read_output_json, which checks nothing).
READERS = ("read_output", "_http", "_run", "_flows", "check_community_id")

HARNESS = "harness (read_output): every event has the required fields; every field declared (fields/)"
# As tests/packetbeat_system/timestamps.py: once timestamps have microseconds these rows pass (and the doc
# goes stale until this is run again).
MICROSECONDS = len(iso_timestamp(0.0).rstrip("Z").split(".")[1]) == 6
OPEN_T = "pass" if MICROSECONDS else "**open** (T): ours has milliseconds, the same instant to the ms"

Row = tuple[str, str, bool]  # assertion, result, counted (False: an assertion of ours)

_ICMP6_IDS = ["1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:GpbEQrKqfWtsfsFiqg8fufoZe5Y=", "1:bnQKq8A2r//dWnkRW2EYcMhShjc=",
              "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=",
              "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:jwuBy9UWZK1KUFqJV5cHdVpfrlY=",
              "1:MEixa66kuz0OMvlQqnAIzP3n2xg="]
_D1 = "**deliberate** (D1): pass with a 120 s timeout, in Packetbeat's order"
_SECOND, _THIRD = "pass (on the 2nd of our 3)", "pass (on the 3rd of our 3)"

SPECIAL: dict[tuple[str, str], list[Row]] = {
    ("test_0060_flows.py", "test_community_id_icmp6"): [
        (HARNESS, "pass", True),
        ("`len(objs) == 10`", "**deliberate** (D1): 18 with the template's 2 s timeout; pass with a 120 s one", True),
        *[(f'`objs[{i}]["network.community_id"] == "{cid}"`', _D1, True) for i, cid in enumerate(_ICMP6_IDS)],
        ("(ours) with the 2 s timeout: more than 10 flows, Packetbeat's 10 IDs all among them", "pass", False),
    ],
    **{("test_0060_flows.py", f"test_community_id_ipv4_{proto}"): [
        (HARNESS, "pass", True),
        (f'`assertEqual(o["network.community_id"], "{cid}")` for every flow', "pass", True),
        ("(ours) at least one flow (Packetbeat's loop also passes on none)", "pass", False),
    ] for proto, cid in (("tcp", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="), ("udp", "1:d/FP5EW3wiY1vCndhwleRRKHowQ="))},
    ("test_0065_unmatched_http.py", "test_unmatched_response"): [
        (HARNESS + " (this test's list: without event.start, with event.end)", "pass", True),
        ("`len(objs) == 2`", "**deliberate** (D2): 3, the first being the reset connection's `Unmatched request`",
         True),
        ('`objs[0]`: `type == "http"`', _SECOND, True),
        ('`objs[0]`: `status == "Error"`', _SECOND, True),
        ("`objs[0]`: `http.response.status_code == 404`", _SECOND, True),
        ('`objs[0]`: `error.message == "Unmatched response"`', _SECOND, True),
        ('`objs[1]`: `type == "http"`', _THIRD, True),
        ("`objs[1]`: `http.response.status_code == 200`", _THIRD, True),
        ('`objs[1]`: `http.request.headers == {"content-length": 0}`', _THIRD, True),
        ('`objs[1]`: `status == "OK"`', _THIRD, True),
        ('(ours) the first event: `type http`, `status Error`, `query "GET /something"`, '
         '`error.message "Unmatched request"`', "pass", False),
    ],
    ("test_0099_golden_files.py", "test_golden_files"): [
        (HARNESS, "pass", True),
        ("`len(objs) > 0`", "pass", True),
        ("`len(expected) == len(objs)` (case HTTP Basic Auth: 2 events, the pcap's DNS lookup and the HTTP GET)",
         "pass", True),
        ("the expected `dns` event is among ours (flattened, host keys cleaned)",
         "**deliberate** (D3, D4): pass once `related.ip` is compared sorted and `dns.answers[].ttl` as a number",
         True),
        ("the expected `http` event is among ours",
         "**deliberate** (D5): pass once our added ECS fields (`event.outcome`, `*.mac`) are removed", True),
        ("(ours) the golden file holds a `dns` and an `http` event, its `ttl` a string", "pass", False),
    ],
}

BEGIN_SUMMARY, END_SUMMARY = "<!-- summary: generated -->", "<!-- end of summary -->"
BEGIN_TABLES, END_TABLES = "<!-- assertions: generated -->", "<!-- end of assertions -->"


def _text(src: str, node: ast.AST) -> str:
    return " ".join((ast.get_source_segment(src, node) or "").split())


def _assertions(src: str, body: list[ast.stmt], helpers: dict[str, list[str]]) -> list[str]:
    rows: list[str] = []
    for st in body:
        value = st.value if isinstance(st, ast.Assign) else None
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in READERS:
            rows.append("HARNESS")
        elif isinstance(st, ast.Assert):
            rows.append(_text(src, st.test))
        elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and isinstance(st.value.func, ast.Name):
            call, name = st.value, st.value.func.id
            if name in ("check_fields", "check_event") and isinstance(call.args[1], ast.Dict):
                target = _text(src, call.args[0])
                rows += [f"{target}[{_text(src, k)}] == {_text(src, v)}"
                         for k, v in zip(call.args[1].keys, call.args[1].values, strict=True) if k is not None]
            elif name in helpers:
                arg = _text(src, call.args[0])
                rows += [f"[{name}({arg})] " + re.sub(r"^obj\[", f"{arg}[", r) for r in helpers[name]]
            elif name == "assert_same_instant":
                rows.append(f"SAME_INSTANT {_text(src, call.args[0])} == {_text(src, call.args[1])}")
        elif isinstance(st, (ast.For, ast.If, ast.With)):
            rows += _assertions(src, st.body, helpers)
    return rows


def _pb_file(test_file: str, cls: str | None) -> str:
    if cls is None:
        return PB_FILES[test_file]
    if cls in PB_CLASS_FILES:
        return PB_CLASS_FILES[cls]
    match = re.fullmatch(r"Test(\d{4})(\w+)", cls)
    assert match, cls
    snake = re.sub(r"(?<!^)([A-Z])", r"_\1", match.group(2)).lower()
    return f"test_{match.group(1)}_{snake}.py"


def collect() -> dict[str, list[tuple[str, list[Row]]]]:
    """Packetbeat file -> [(test name, rows)], in source order."""
    out: dict[str, list[tuple[str, list[Row]]]] = {}
    for path in sorted(TESTS.glob("test_pb_system_*.py")):
        src = path.read_text()
        tree = ast.parse(src)
        helpers = {n.name: _assertions(src, n.body, {}) for n in tree.body
                   if isinstance(n, ast.FunctionDef) and n.name.startswith("assert_common")}
        tests: list[tuple[str | None, ast.FunctionDef]] = []
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                tests += [(node.name, n) for n in node.body if isinstance(n, ast.FunctionDef)]
            elif isinstance(node, ast.FunctionDef):
                tests.append((None, node))
        for cls, fn in tests:
            if not fn.name.startswith("test_") or fn.name in OURS_ONLY:
                continue
            pb_file = _pb_file(path.name, cls)
            key = (pb_file, fn.name)
            if key in SPECIAL:
                rows = SPECIAL[key]
            else:
                rows = []
                for a in _assertions(src, fn.body, helpers):
                    if a == "HARNESS":
                        rows.append((HARNESS, "pass", True))
                    elif a.startswith("SAME_INSTANT "):
                        rows.append((f"`{a.removeprefix('SAME_INSTANT ')}`", OPEN_T, True))
                    else:
                        rows.append((f"`{a}`", "pass", True))
            out.setdefault(pb_file, []).append((fn.name, rows))
    return dict(sorted(out.items()))


def _kind(result: str) -> int:
    return 3 if "open" in result else 2 if "deliberate" in result else 1


def render() -> tuple[str, str]:
    """(summary block, assertion tables block)."""
    collected = collect()
    table = ["| Packetbeat file | tests | assertions | pass | deliberate | open |", "|---|---:|---:|---:|---:|---:|"]
    totals = [0] * 5
    sections = []
    for pb_file, tests in collected.items():
        counts = [len(tests), 0, 0, 0, 0]
        sections.append(f"### {pb_file}\n")
        for name, rows in tests:
            sections.append(f"#### {pb_file} `{name}`\n\n| # | assertion | result |\n|---:|---|---|")
            n = 0
            for assertion, result, counted in rows:
                cell = assertion.replace("|", "\\|")
                if counted:
                    n += 1
                    counts[1] += 1
                    counts[1 + _kind(result)] += 1
                sections.append(f"| {n if counted else '-'} | {cell} | {result} |")
            sections.append("")
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        table.append(f"| {pb_file} | " + " | ".join(map(str, counts)) + " |")
    table.append("| **all** | " + " | ".join(f"**{x}**" for x in totals) + " |")
    tests_n, total, passed, deliberate, still_open = totals
    summary = (f"**{tests_n} tests, {total} assertions: {passed} pass, {deliberate} deliberate differences (D1-D5, "
               f"each asserted in its alternative form with the reason beside it), {still_open} open.**\n\n" + "\n".join(table))
    return summary, "\n".join(sections).rstrip()


def _replace(text: str, begin: str, end: str, block: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{block}\n{end}{tail}"


def current(text: str) -> str:
    """`text` (the doc) with its generated blocks as the tests make them today."""
    summary, tables = render()
    return _replace(_replace(text, BEGIN_SUMMARY, END_SUMMARY, summary), BEGIN_TABLES, END_TABLES, tables)


def main() -> int:
    text = DOC.read_text()
    DOC.write_text(current(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
