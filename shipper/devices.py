"""`packetshipper devices`, printed as Packetbeat prints them: `N: name (description) (addresses)`, from
libpcap's own pcap_findalldevs (through the library pcapy-ng is linked to), IPv4 and IPv6 addresses only."""

from __future__ import annotations

import ctypes
import socket
from dataclasses import dataclass

import pcapy

from .capture import CaptureError, list_devices

__all__ = ["Device", "describe_devices", "find_devices"]

NO_DESCRIPTION = "No description available"
NO_ADDRESS = "Not assigned ip address"


@dataclass(frozen=True, slots=True)
class Device:
    name: str
    description: str
    addresses: tuple[str, ...]


class _Sockaddr(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("data", ctypes.c_ubyte * 26)]  # covers sockaddr_in6 (28 bytes)


class _PcapAddr(ctypes.Structure):
    pass


_PcapAddr._fields_ = [("next", ctypes.POINTER(_PcapAddr)), ("addr", ctypes.POINTER(_Sockaddr)),
                      ("netmask", ctypes.POINTER(_Sockaddr)), ("broadaddr", ctypes.POINTER(_Sockaddr)),
                      ("dstaddr", ctypes.POINTER(_Sockaddr))]


class _PcapIf(ctypes.Structure):
    pass


_PcapIf._fields_ = [("next", ctypes.POINTER(_PcapIf)), ("name", ctypes.c_char_p), ("description", ctypes.c_char_p),
                    ("addresses", ctypes.POINTER(_PcapAddr)), ("flags", ctypes.c_uint)]

# Max devices and addresses per device walked: the lists come from the kernel, but are linked lists.
MAX_DEVICES = 4096
MAX_ADDRESSES = 1024


def _address(sockaddr: _Sockaddr) -> str | None:
    raw = bytes(sockaddr.data)
    if sockaddr.family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[2:6])  # after sin_port
    if sockaddr.family == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[6:22])  # after sin6_port, sin6_flowinfo
    return None


def find_devices() -> list[Device]:
    """Every capture device with its description and IP addresses; names only if libpcap cannot be called."""
    try:
        lib = ctypes.CDLL(pcapy.__file__)
        findalldevs, freealldevs = lib.pcap_findalldevs, lib.pcap_freealldevs
    except (OSError, AttributeError):
        return [Device(name, "", ()) for name in list_devices()]
    findalldevs.argtypes = [ctypes.POINTER(ctypes.POINTER(_PcapIf)), ctypes.c_char_p]
    freealldevs.argtypes = [ctypes.POINTER(_PcapIf)]
    head = ctypes.POINTER(_PcapIf)()
    errbuf = ctypes.create_string_buffer(256)
    if findalldevs(ctypes.byref(head), errbuf) != 0:
        raise CaptureError(f"cannot list devices: {errbuf.value.decode(errors='replace')}")
    devices: list[Device] = []
    try:
        node = head
        while node and len(devices) < MAX_DEVICES:
            item = node.contents
            addresses: list[str] = []
            address = item.addresses
            while address and len(addresses) < MAX_ADDRESSES:
                entry = address.contents
                text = _address(entry.addr.contents) if entry.addr else None
                if text is not None:
                    addresses.append(text)
                address = entry.next
            devices.append(Device((item.name or b"").decode(errors="replace"),
                                  (item.description or b"").decode(errors="replace"), tuple(addresses)))
            node = item.next
    finally:
        if head:
            freealldevs(head)
    return devices


def describe_devices(devices: list[Device]) -> list[str]:
    """Packetbeat's lines: `0: eth0 (No description available) (192.0.2.2 fe80::1)`."""
    return [f"{i}: {device.name} ({device.description or NO_DESCRIPTION}) "
            f"({' '.join(device.addresses) or NO_ADDRESS})" for i, device in enumerate(devices)]
