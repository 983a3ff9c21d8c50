"""add_host_metadata: `host.*` of the machine packetshipper runs on, read once per `cache.timeout`."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import platform
import socket
import struct
import time
from collections.abc import Mapping
from typing import Any

from .. import settings as s
from ..settings import Setting
from . import specs
from .adding import merge_into
from .base import Event, Processor
from .fields import MISSING, flatten, get

__all__ = ["AddHostMetadata", "host_fields", "network_info"]

_SIOCGIFADDR = 0x8915
_IFF_LOOPBACK = 0x8


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (_read("/etc/os-release") or _read("/usr/lib/os-release")).splitlines():
        key, eq, value = line.partition("=")
        if eq:
            out[key.strip()] = value.strip().strip('"')
    return out


def _containerized() -> bool:
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return True
    cgroup = _read("/proc/1/cgroup")
    return any(word in cgroup for word in ("docker", "kubepods", "containerd", "lxc"))


def _ipv4_of(name: str) -> str | None:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        return socket.inet_ntoa(packed[20:24])
    return None


def network_info() -> tuple[list[str], list[str]]:
    """(addresses, MACs) of the non-loopback interfaces; MACs as 00-00-5E-00-53-23, as Beats writes them."""
    ips: list[str] = []
    macs: list[str] = []
    v6: dict[str, list[str]] = {}
    for line in _read("/proc/net/if_inet6").splitlines():
        parts = line.split()
        if len(parts) == 6:
            v6.setdefault(parts[5], []).append(str(ipaddress.IPv6Address(bytes.fromhex(parts[0]))))
    with contextlib.suppress(OSError):
        for _index, name in socket.if_nameindex():
            flags = _read(f"/sys/class/net/{name}/flags")
            if flags and int(flags, 16) & _IFF_LOOPBACK:
                continue
            mac = _read(f"/sys/class/net/{name}/address")
            if mac and mac != "00:00:00:00:00:00":
                macs.append(mac.upper().replace(":", "-"))
            address = _ipv4_of(name)
            if address:
                ips.append(address)
            ips.extend(v6.get(name, []))
    return list(dict.fromkeys(ips)), sorted(set(macs))


def host_fields(netinfo: bool) -> dict[str, Any]:
    """The `host` object libbeat's add_host_metadata builds."""
    release = _os_release()
    uname = platform.uname()
    hostname = socket.gethostname()
    host: dict[str, Any] = {
        "hostname": hostname,
        "name": hostname,
        "architecture": uname.machine,
        "containerized": _containerized(),
        "os": {k: v for k, v in {
            "type": uname.system.lower(),
            "kernel": uname.release,
            "platform": release.get("ID", ""),
            "name": release.get("NAME", ""),
            "family": (release.get("ID_LIKE", "").split() or [release.get("ID", "")])[0],
            "version": release.get("VERSION", release.get("VERSION_ID", "")),
            "codename": release.get("VERSION_CODENAME", ""),
        }.items() if v},
    }
    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")
    if machine_id:
        host["id"] = machine_id
    if netinfo:
        ips, macs = network_info()
        if ips:
            host["ip"] = ips
        if macs:
            host["mac"] = macs
    return host


_GEO = {key: Setting(s.string, None, f"host.geo.{key}") for key in (
    "name", "location", "continent_name", "country_name", "country_iso_code", "region_name", "region_iso_code",
    "city_name")}


def _geo(config: dict[str, str]) -> dict[str, Any]:
    """`location: "40.7, -73.9"` becomes {lat, lon}, as libbeat reads it."""
    geo: dict[str, Any] = dict(config)
    location = geo.get("location")
    if location is not None:
        lat, _, lon = location.partition(",")
        with contextlib.suppress(ValueError):
            geo["location"] = {"lat": float(lat), "lon": float(lon)}
    return geo


class AddHostMetadata(Processor):
    name = "add_host_metadata"
    spec = {
        "netinfo": {"enabled": specs.flag(True, "add host.ip and host.mac")},
        "cache": {"timeout": Setting(s.duration, 300.0, "how long the host's details are kept before reading "
                                     "them again")},
        "replace_fields": specs.flag(True, "replace host.* the event has; false: leave an event that has host "
                                     "fields besides host.name as it is"),
        "geo": _GEO,
    }

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.netinfo: bool = config["netinfo"]["enabled"]
        self.timeout: float = config["cache"]["timeout"]
        self.geo = {k: v for k, v in config["geo"].items() if v is not None}
        self._host: dict[str, Any] | None = None
        self._read_at = 0.0

    def _current(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._host is None or now - self._read_at >= self.timeout:
            host = host_fields(self.netinfo)
            if self.geo:
                host["geo"] = _geo(self.geo)
            self._host, self._read_at = host, now
        return self._host

    def run(self, event: Event) -> Event | None:
        if not self.config["replace_fields"]:
            existing = get(event, "host")
            if existing is not MISSING and isinstance(existing, Mapping) and any(
                    name != "name" for name, _ in flatten(existing)):
                return event
        if self.config["replace_fields"]:
            event["host"] = dict(self._current())  # the whole object, as libbeat replaces it
        else:
            merge_into(event, "host", self._current())
        return event
