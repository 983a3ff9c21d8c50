"""docs/packetbeat-system-tests.md's generated parts (the summary and every assertion) match the tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOL = Path(__file__).resolve().parent.parent / "tools" / "packetbeat_system_doc.py"


def test_the_doc_lists_the_tests_assertions_as_they_are() -> None:
    spec = importlib.util.spec_from_file_location("packetbeat_system_doc", TOOL)
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    text = tool.DOC.read_text()
    assert text == tool.current(text), f"stale: run `python {TOOL.relative_to(TOOL.parents[2])}`"
