"""Parsing the `hosts` entries of the network outputs: `host`, `host:port`, `[v6]:port`, `scheme://...`."""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from .base import OutputError

__all__ = ["split_host_port", "HostFailover"]


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


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


class HostFailover(Generic[C]):
    """The connection of a stream output (Logstash, Redis) to one of its `hosts`.

    `connection()` returns the open one or opens the current host's, failing over to the next host on
    error; `rotate()` moves to the next host (load balancing, or after a failure); `drop()` closes.
    Subclasses implement `_open(host, port)` and keep a `stats` dict with `connects`/`connect_errors`.
    """

    hosts: list[tuple[str, int]]
    stats: dict[str, int]
    peer_name = "the server"
    connect_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self) -> None:
        self.conn: C | None = None
        self.host_index = 0

    def _open(self, host: str, port: int) -> C:
        raise NotImplementedError

    def connection(self) -> C:
        if self.conn is not None:
            return self.conn
        errors = []
        for _ in range(len(self.hosts)):
            host, port = self.hosts[self.host_index]
            try:
                self.conn = self._open(host, port)
                self.stats["connects"] += 1
                return self.conn
            except self.connect_errors as exc:
                self.stats["connect_errors"] += 1
                errors.append(f"{host}:{port}: {exc}")
                self.rotate()
        raise OutputError(f"cannot connect to {self.peer_name}: " + "; ".join(errors))

    def rotate(self) -> None:
        self.host_index = (self.host_index + 1) % len(self.hosts)

    def rotate_for_load_balancing(self, loadbalance: bool) -> None:
        """With `loadbalance`, each batch goes to the next host: close the current connection."""
        if loadbalance and len(self.hosts) > 1 and self.conn is not None:
            self.drop()
            self.rotate()

    def drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
