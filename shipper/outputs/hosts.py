"""Parsing the `hosts` entries of the network outputs: `host`, `host:port`, `[v6]:port`, `scheme://...`."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["split_host_port"]


def split_host_port(entry: str, default_port: int) -> tuple[str, int]:
    """(host, port) of a `hosts` entry; ValueError names what is wrong."""
    text = entry.strip()
    if "://" in text:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    else:
        parts = urlsplit(f"//{text}")
        host, port = parts.hostname, parts.port
    if not host:
        raise ValueError(f"no host name in {entry!r}")
    return host, port or default_port
