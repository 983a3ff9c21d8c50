"""Which hot path runs: the compiled one where it is built, the pure-Python one with
PACKETSHIPPER_PURE_PYTHON=1 (one info line) or without the extension (one warning)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_hotpath_equivalence import COMPILED

# Two engines, as a run with a report makes: still one line.
PROBE = """
import logging
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
from packetshipper import hotpath, sharing
from packetshipper.decode.decoder import Decoder
from packetshipper.engine import Engine
from packetshipper.flows import Flow
Engine(Decoder(1)); Engine(Decoder(1))
print("enabled", hotpath.enabled, Flow.__mro__[1].__name__)
"""


def probe(**env: str) -> tuple[str, list[str]]:
    environment = {k: v for k, v in os.environ.items() if k != "PACKETSHIPPER_PURE_PYTHON"}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**environment, **env}, capture_output=True,
                          text=True, timeout=60, check=True)
    return done.stdout.strip(), done.stderr.splitlines()


def test_the_environment_variable_turns_the_compiled_path_off_with_one_line() -> None:
    out, log = probe(PACKETSHIPPER_PURE_PYTHON="1")
    assert out == "enabled False object"
    assert log == ["INFO packets take the pure-Python path (slower): PACKETSHIPPER_PURE_PYTHON is set"]


@pytest.mark.skipif(COMPILED is None, reason="the compiled hot path is not built")
@pytest.mark.parametrize("value", ["", "0"])
def test_the_compiled_path_runs_by_default_and_says_nothing(value: str) -> None:
    out, log = probe(PACKETSHIPPER_PURE_PYTHON=value)
    assert out == "enabled True FlowCounters"
    assert log == []


def test_without_the_extension_the_pure_path_runs_and_names_why() -> None:
    # An import hook that hides the extension, as a build without a compiler leaves things.
    hide = ("import sys\nclass Hide:\n    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'packetshipper._hotpath': raise ImportError('hidden for the test')\n"
            "sys.meta_path.insert(0, Hide())\n")
    environment = {k: v for k, v in os.environ.items() if k != "PACKETSHIPPER_PURE_PYTHON"}
    done = subprocess.run([sys.executable, "-c", hide + PROBE], env=environment, capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "enabled False object"
    assert done.stderr.splitlines() == [
        "WARNING packets take the pure-Python path (slower): the compiled extension is not installed "
        "(hidden for the test)"]
