"""`packetshipper devices` prints devices as Packetbeat does: `N: name (description) (addresses)`, the
addresses those the kernel gives the interface (checked against `ip -o addr`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packetshipper.devices import Device, describe_devices

_LINE = re.compile(r"^(\d+): (\S+) \((.+?)\) \((.+)\)$")


def test_lines_are_in_packetbeats_shape() -> None:
    lines = describe_devices([Device("eth0", "", ("192.0.2.2", "fe80::1")), Device("any", "Pseudo-device", ()),
                              Device("lo", "Loopback", ("127.0.0.1",))])
    assert lines == ["0: eth0 (No description available) (192.0.2.2 fe80::1)",
                     "1: any (Pseudo-device) (Not assigned ip address)", "2: lo (Loopback) (127.0.0.1)"]


@pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip")
def test_devices_lists_every_interface_with_the_kernels_addresses(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "packetshipper.cli", "devices"], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, check=True)
    printed = {}
    for number, line in enumerate(result.stdout.splitlines()):
        match = _LINE.match(line)
        assert match, line
        assert int(match.group(1)) == number
        addresses = match.group(4)
        printed[match.group(2)] = set() if addresses == "Not assigned ip address" else set(addresses.split(" "))
    kernel: dict[str, set[str]] = {}
    for line in subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout.splitlines():
        fields = line.split()
        kernel.setdefault(fields[1], set()).add(fields[3].split("/")[0])
    assert printed["lo"] == kernel["lo"] and "127.0.0.1" in printed["lo"]
    for name, addresses in kernel.items():
        if name in printed:
            assert printed[name] == addresses, name
    assert printed["any"] == set()
