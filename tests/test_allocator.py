"""allocator.tune: glibc's malloc told to keep freed memory for the next batch, with the compiled path only."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
from packetshipper import hotpath

TUNE = "from packetshipper import allocator; print(allocator.tune(), allocator.tune())"


def run(env_extra: dict[str, str]) -> str:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", TUNE], env=env, capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(hotpath.compiled is None or platform.libc_ver()[0] != "glibc",
                    reason="needs the compiled hot path on glibc")
def test_glibc_takes_the_settings_once_per_process() -> None:
    assert run({"PACKETSHIPPER_PURE_PYTHON": "0"}).split() == ["True", "True"]


def test_the_pure_path_leaves_malloc_as_it_is() -> None:
    assert run({"PACKETSHIPPER_PURE_PYTHON": "1"}).split() == ["False", "False"]
