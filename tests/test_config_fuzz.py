"""Fuzzed configs never give a traceback: a generated YAML document or `-E` value either loads or is one
ConfigError line (issue 7, part 5).

Documents are built from the real setting names (so they reach deep into validation) with hostile values,
then dumped to YAML text and sometimes mangled; `-E` items likewise. Each goes through the in-process path
of the commands that read a config (`cli._load`, then what `test config` and `export config` add); a few
go through the real command line. The big run (`-m slow`) checks over 10,000 documents and `-E` values.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packetshipper import cli, setup_commands
from packetshipper.capture import CaptureError
from packetshipper.config import every_setting
from packetshipper.registry import build_modules
from packetshipper.runner import open_source
from packetshipper.settings import ConfigError

# Hypothesis examples per run. Each document example checks two documents (as generated, and mangled);
# each -E example one to four values, alone and together: the slow run checks well over 10,000.
SMALL, BIG_EXAMPLES = 100, 2_400
_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example,
             HealthCheck.function_scoped_fixture]


def _budget(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None, suppress_health_check=_SUPPRESS)

DNS_PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "dns_google_com.pcap"
PATHS = sorted(path for path, _setting in every_setting())
TOP_PATHS = [p for p in PATHS if not p.startswith("packetshipper.protocols.")]
MODULE_KEYS = sorted({tuple(p.split(".", 3)[2:]) for p in PATHS if p.startswith("packetshipper.protocols.")})

# --- values ---------------------------------------------------------------------------------------------

EDGE_INTS = [0, 1, -1, 2, 63, 64, 65535, 65536, 2047, 2048, 2**31 - 1, 2**31, -(2**31) - 1, 2**63, -(2**63), 10**30]
UNITS = ["", "ns", "us", "ms", "s", "m", "h", "1m", "b", "k", "kb", "KiB", "MB", "mb", "GiB", "TB", "x", " s"]
YAML_CHARS = "ab01:-[]{},&*!|>'\"#%@` \n\t.?=$~^\\"

# Letters YAML and the converters treat specially, and a few beyond ASCII (line separators, NUL, µ).
_ALPHABET = "abkxyzAZ0159 _-+.,:;/\\'\"#&*!%@$={}[]()<>|?~^`\n\t\r\x00\x85\u2028µé日"
_text = st.text(alphabet=_ALPHABET, max_size=16)
_long_text = st.integers(200, 3000).map(lambda n: "v" * n)
_number_text = st.builds(lambda sign, n, frac, unit: f"{sign}{n}{frac}{unit}", st.sampled_from(["", "-", "+"]),
                         st.one_of(st.integers(0, 100), st.sampled_from(["9" * 400, "1" * 30])),
                         st.sampled_from(["", ".5", ".000001", "e3"]), st.sampled_from(UNITS))
_format_text = st.sampled_from(["%{[agent.version]}", "%{[", "%{}", "%{[a]:b}", "%{+yyyy.MM.dd}", "%{[host.name]}",
                                "packetshipper-%{[agent.version]}", "${HOME}", "${NOPE:x}", "*", "&a", "!!int"])
_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(EDGE_INTS),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.5, -1.5, 1e308, 5e-324, 1e-9]),
    _text, _long_text, _number_text, _format_text,
)
_key = st.one_of(_text, st.sampled_from(["type", "ports", "enabled", "hosts", "path", "index", "mem", "ssl"]))
# Flat draws rather than st.recursive: the same shapes (lists, mappings, lists of mappings) for a third of
# the generation time, so the fuzz budget goes to more documents.
_values = st.one_of(
    _scalar, _scalar, st.lists(_scalar, max_size=3), st.dictionaries(_key, _scalar, max_size=3),
    st.lists(st.dictionaries(_key, _scalar, max_size=2), max_size=2),
    st.dictionaries(_key, st.lists(_scalar, max_size=2), max_size=2),
)
# libyaml's when present, for the test's own YAML work: the fuzz budget goes to more documents.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _dump(value: Any, flow: bool | None) -> str:
    return yaml.dump(value, Dumper=_DUMPER, default_flow_style=flow, allow_unicode=True, width=10**6)


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    """The same settings as nested mappings instead of dotted keys (both forms are valid config)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):  # absent, or a null / scalar a longer key now nests under
                child = node[part] = {} if child is None else {}
            node = child
        node[parts[-1]] = value
    return out


@st.composite
def _documents(draw: st.DrawFn) -> Any:
    flat = draw(st.dictionaries(st.one_of(st.sampled_from(TOP_PATHS), _text), _values, max_size=4))
    if draw(st.booleans()):
        modules = draw(st.lists(st.tuples(st.sampled_from(MODULE_KEYS), _values), max_size=3))
        entries: dict[str, dict[str, Any]] = {}
        for (name, key), value in modules:
            entries.setdefault(name, {"type": name})[key] = value
        flat["packetshipper.protocols"] = list(entries.values())
    doc: Any = _nest(flat) if draw(st.booleans()) else flat
    if draw(st.integers(0, 9)) == 0:  # now and then a document that is not a mapping at all
        doc = draw(_values)
    return doc


def _mangle(text: str, cut: int, insert: str, where: int) -> str:
    where = where % (len(text) + 1)
    return text[: cut % (len(text) + 1)] if not insert else text[:where] + insert + text[where:]


_yaml_noise = st.text(alphabet=YAML_CHARS, max_size=12)


@st.composite
def _yaml_texts(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.text(alphabet=YAML_CHARS, max_size=200))
    if kind == 1:  # nesting and aliases, within and beyond the bounds
        depth = draw(st.integers(1, 200))
        fan = draw(st.integers(1, 12))
        levels = draw(st.integers(1, 10))
        chain = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else "x"] * fan) + "]\n"
                        for i in range(levels))
        return draw(st.sampled_from([chain, "fields: " + "[" * depth + "]" * depth + "\n",
                                     "".join(" " * i + "k:\n" for i in range(depth)), "fields: &a [*a]\n"]))
    text = _dump(draw(_documents()), draw(st.sampled_from([None, True, False])))
    if kind <= 4:
        text = _mangle(text, draw(st.integers(0, 10**6)), draw(_yaml_noise), draw(st.integers(0, 10**6)))
    return text


_override_keys = st.one_of(
    st.sampled_from(TOP_PATHS),
    st.builds(lambda i, key: f"packetshipper.protocols.{i}.{key}", st.integers(-1, 5),
              st.sampled_from(sorted({k for _m, k in MODULE_KEYS}))),
    st.builds(".".join, st.lists(st.sampled_from(["a", "", "0", "packetshipper", "output", "fields", " x "]),
                                 min_size=1, max_size=6)),
    _text,
)
_override_values = st.one_of(
    _text, _long_text, _number_text, _format_text, st.text(alphabet=YAML_CHARS, max_size=40),
    _values.map(lambda v: _dump(v, True).removesuffix("\n...\n").strip()),
)
_overrides = st.lists(
    st.builds(lambda pad, key, sep, value: f"{pad}{key}{sep}{value}{pad}", st.sampled_from(["", " ", "  "]),
              _override_keys, st.sampled_from(["=", " = ", "", "=="]), _override_values),
    min_size=1, max_size=4)


# --- the property -----------------------------------------------------------------------------------------


def _args(config: str | None, overrides: list[str]) -> argparse.Namespace:
    return argparse.Namespace(config=config, overrides=overrides, command="test", read=None, interface=None,
                              topspeed=False, loop=None, bpf=None)


def _load_like_the_commands(args: argparse.Namespace) -> None:
    """What `test config` and `export config` do with a config, and how `run` opens the capture with it
    (on a real pcap); a ConfigError or CaptureError, one line, is the only way to fail."""
    try:
        config = cli._load(args)
        setup_commands.check_config(config)
        yaml.load(setup_commands.export_config(config), Loader=_LOADER)  # noqa: S506 - a safe loader
        config["packetshipper"]["interfaces"]["file"] = str(DNS_PCAP)
        open_source(config, build_modules(config["packetshipper"]["protocols"])).close()
    except (ConfigError, CaptureError) as exc:
        message = str(exc)
        assert "\n" not in message and 0 < len(message) <= 1500, message


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # An empty working directory: no packetshipper.yml is picked up; the config file is rewritten per example.
    previous = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="packetshipper-fuzz-") as path:
        os.chdir(path)
        try:
            yield Path(path)
        finally:
            os.chdir(previous)


def _check_document(workdir: Path, text: str) -> None:
    path = workdir / "packetshipper.yml"
    path.write_text(text, encoding="utf-8")
    _load_like_the_commands(_args(str(path), []))


def _check_overrides(overrides: list[str]) -> int:
    """Each -E item alone, then all of them together (an early error would hide the later ones)."""
    for item in overrides:
        _load_like_the_commands(_args(None, [item]))
    _load_like_the_commands(_args(None, overrides))
    return len(overrides)


def _run_documents(workdir: Path, examples: int) -> int:
    """Checks `examples` generated documents and a mangled variant of each; returns how many it checked."""
    checked = 0

    @_budget(examples)
    @given(text=_yaml_texts(), cut=st.integers(0, 10**6), noise=_yaml_noise)
    def check(text: str, cut: int, noise: str) -> None:
        nonlocal checked
        for variant in (text, _mangle(text, cut, noise, cut)):
            _check_document(workdir, variant)
            checked += 1

    check()
    return checked


def _run_overrides(examples: int) -> int:
    checked = 0

    @_budget(examples)
    @given(overrides=_overrides)
    def check(overrides: list[str]) -> None:
        nonlocal checked
        checked += _check_overrides(overrides)

    check()
    return checked


def test_generated_yaml_documents_load_or_give_one_config_error(workdir: Path) -> None:
    assert _run_documents(workdir, SMALL) >= SMALL


def test_generated_E_values_load_or_give_one_config_error(workdir: Path) -> None:
    assert _run_overrides(SMALL) >= SMALL


@pytest.mark.slow
def test_ten_thousand_generated_documents_and_E_values(workdir: Path) -> None:
    documents = _run_documents(workdir, BIG_EXAMPLES)
    overrides = _run_overrides(BIG_EXAMPLES)
    # Hypothesis may stop early once it has tried everything a strategy can make; these cannot.
    assert documents + overrides >= 10_000, (documents, overrides)


@_budget(6)
@given(text=_yaml_texts(), overrides=_overrides)
def test_generated_configs_through_the_command_line(workdir: Path, text: str, overrides: list[str]) -> None:
    path = workdir / "cli.yml"
    path.write_text(text, encoding="utf-8")
    # A command line cannot carry a NUL (the in-process tests cover -E values with one).
    argv = ["-c", str(path)] + [arg for item in overrides for arg in ("-E", item.replace("\x00", ""))]
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", *argv, "test", "config"],
                            capture_output=True, text=True, timeout=120, cwd=workdir)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode == 0:
        assert result.stdout.strip() == "Config OK"
        assert all(" WARNING " in line for line in lines), result.stderr
    else:
        assert result.returncode == 1, result
        assert [line for line in lines if " WARNING " not in line] == lines[-1:], result.stderr
        assert lines[-1].startswith(("packetshipper: config error: ", "packetshipper: usage error: ")), result.stderr
