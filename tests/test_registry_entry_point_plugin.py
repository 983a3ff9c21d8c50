"""A module from outside the repository: pip-installed, found through the `packetshipper.modules`
entry point, and enabled by config alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packetshipper.dispatch import Dispatcher
from packetshipper.event import Envelope
from packetshipper.registry import available_modules, build_modules, list_modules_table
from plugin_example.packets import TcpConversation

PLUGIN_SOURCE = Path(__file__).parent / "plugin_example"


def _forget_plugin() -> None:
    for name in [n for n in sys.modules if n == "lineproto" or n.startswith("lineproto.")]:
        del sys.modules[name]
    available_modules.cache_clear()


@pytest.fixture
def installed_plugin(tmp_path: Path) -> Iterator[Path]:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "wheel_backend.py"):
        shutil.copy(PLUGIN_SOURCE / name, source)
    shutil.copytree(PLUGIN_SOURCE / "lineproto", source / "lineproto")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )
    sys.path.insert(0, str(target))
    _forget_plugin()
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        _forget_plugin()
        shutil.rmtree(target)


def test_before_installation_the_type_is_unknown() -> None:
    _forget_plugin()
    assert "lineproto" not in available_modules()


def test_an_installed_plugin_is_found_through_its_entry_point(installed_plugin: Path) -> None:
    modules = available_modules()
    assert "lineproto" in modules
    cls = modules["lineproto"]
    assert cls.__module__ == "lineproto"
    assert Path(sys.modules["lineproto"].__file__).is_relative_to(installed_plugin)
    assert cls.default_ports == (7777,)
    assert "lineproto" in list_modules_table([{"type": "lineproto"}])


def test_config_alone_enables_the_plugin_and_its_transactions_become_events(installed_plugin: Path) -> None:
    (module,) = build_modules([{"type": "lineproto", "max_line": 64, "tags": ["plugin"]}])
    assert module.name == "lineproto" and module.ports == (7777,)
    events: list[dict[str, Any]] = []
    dispatcher = Dispatcher([module], events.append, Envelope("test"), {})
    assert dispatcher.tcp_ports == frozenset({7777}) and dispatcher.udp_ports == frozenset({7777})
    conv = TcpConversation()
    for pkt in [*conv.handshake(), conv.send(True, b"ping\n"), conv.send(False, b"pong\n")]:
        dispatcher.handle(pkt)
    assert len(events) == 1
    assert events[0]["type"] == "lineproto" and events[0]["event"]["dataset"] == "lineproto"
    assert events[0]["lineproto"] == {"request": "ping", "response": "pong"}
    assert events[0]["tags"] == ["plugin"]
