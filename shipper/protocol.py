"""The protocol module API: what a module under `modules/` implements, and what the core gives it.

Modules are sans-IO. They never touch a socket or a clock: the core hands them bytes and packet
timestamps, and they hand back messages, transactions and event fields.

The data path for one TCP connection::

    segments --TCP layer--> StreamParser (one per direction) --messages--> Correlator (one per connection)
             --transactions--> ProtocolModule.event_fields() + core envelope --> publisher

For UDP each datagram goes through `ProtocolModule.parse_datagram`, then the same correlator (one per
UDP flow). ICMP uses `parse_datagram` with `transport == "icmp"`.

Rules a module follows:
- The only exception a parser or correlator may raise for bad peer input is `ProtocolError`. The core
  then drops that direction's parser state and resyncs with a fresh parser at the next segment. Any
  other exception is a bug: the core catches it, counts it under the module, logs it once and drops the
  connection's module state; capture goes on.
- Every buffer a parser keeps is bounded (`max_message_size` and the like), and going over it is counted.
- Partial data still yields a transaction, with `status="Error"` and an `error` saying why.
- Output field names live only in the module's `event_fields`; each is declared in its `fields.yml`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from . import settings as _s
from .records import record
from .settings import Setting, Spec

__all__ = [
    "ProtocolError",
    "Direction",
    "Status",
    "Endpoint",
    "Connection",
    "Transaction",
    "StreamParser",
    "Correlator",
    "ProtocolModule",
    "UNMATCHED_REQUEST",
    "UNMATCHED_RESPONSE",
    "COMMON_SETTINGS",
    "ModuleStats",
    "Verdict",
]

UNMATCHED_REQUEST = "Unmatched request"
UNMATCHED_RESPONSE = "Unmatched response"


class ProtocolError(Exception):
    """The peer sent something this protocol does not allow; the one error a parser may raise."""


class Direction(enum.IntEnum):
    """Which way data flows on a connection. The client is the side that opened it."""

    REQUEST = 0  # client -> server
    RESPONSE = 1  # server -> client

    @property
    def other(self) -> Direction:
        return Direction(1 - self)


class Status(enum.StrEnum):
    """Packetbeat's `status` field values."""

    OK = "OK"
    ERROR = "Error"
    SERVER_ERROR = "Server Error"
    CLIENT_ERROR = "Client Error"


class Verdict(enum.Enum):
    """A probe's answer about the first bytes of a connection on a port no module claims."""

    YES = "yes"  # these bytes are this protocol: the module takes the connection
    NO = "no"  # they are not: the module is not asked about this connection again
    NEED_MORE = "need_more"  # cannot tell yet: ask again with more bytes


@record
class Endpoint:
    ip: str
    port: int  # 0 where the transport has no ports (ICMP)
    mac: str | None = None  # "0A-00-27-00-00-00" form, when the link layer has one


@record
class Connection:
    """What a module knows about the connection (TCP), flow (UDP) or address pair (ICMP)."""

    transport: str  # "tcp", "udp" or "icmp"
    ip_version: int  # 4 or 6
    client: Endpoint
    server: Endpoint
    vlans: tuple[int, ...] = ()
    community_id: str | None = None
    connection_id: int = 0  # unique per connection within one run; lets a module key state


Req = TypeVar("Req")
Resp = TypeVar("Resp")


@record
class Transaction(Generic[Req, Resp]):
    """A request and its response (either may be missing), as the correlator pairs them.

    `start`/`end` are packet timestamps in seconds: when the request began and when the response
    began (Packetbeat's response time, first byte to first byte); an unmatched half has start == end. `request_bytes` and
    `response_bytes` are wire payload bytes of each side. `notes` are free-form remarks that end up in
    the event's `error.message` list when `status` is not OK, or alongside it (Packetbeat's `notes`).
    """

    connection: Connection
    request: Req | None
    response: Resp | None
    start: float
    end: float
    request_bytes: int = 0
    response_bytes: int = 0
    status: Status = Status.OK
    error: str | None = None
    notes: tuple[str, ...] = ()
    # TCP stream health while the transaction was in flight (gaps given up on, reordered, overlapping).
    gaps: int = 0
    out_of_order: int = 0
    overlaps: int = 0


class StreamParser(ABC):
    """Parses one direction of a TCP connection. Bytes and timestamps in, messages out."""

    @abstractmethod
    def receive_data(self, data: bytes, ts: float) -> list[Any]:
        """Consume the next in-order bytes of the stream; return the messages they complete."""

    def receive_gap(self, nbytes: int, ts: float) -> list[Any]:
        """`nbytes` were lost here. Default: the stream cannot be trusted, so raise and resync."""
        raise ProtocolError(f"{nbytes} bytes lost")

    def receive_eof(self, ts: float) -> list[Any]:
        """The sender closed this direction (FIN, RST or expiry); flush what can be flushed."""
        return []


class Correlator(ABC):
    """Pairs messages into transactions for one connection (or one UDP flow)."""

    @abstractmethod
    def on_message(self, direction: Direction, message: Any, ts: float) -> list[Transaction[Any, Any]]:
        """A parser produced `message` going `direction`; return the transactions it completes."""

    def expire(self, now: float) -> list[Transaction[Any, Any]]:
        """Return transactions whose counterpart did not arrive within `transaction_timeout`."""
        return []

    def close(self, now: float) -> list[Transaction[Any, Any]]:
        """The connection is gone: return everything still pending, as unmatched."""
        return []

    def has_pending(self) -> bool:
        """False when `expire` would return nothing, now or later, until another message arrives: the UDP
        and ICMP tables then leave this correlator out of their once-a-second pass. The default (True)
        has `expire` called every pass."""
        return True

    def note_gap(self, direction: Direction, nbytes: int, ts: float) -> None:  # noqa: B027
        """The TCP layer gave up on `nbytes` lost in `direction` (for counting on transactions)."""


def _processors(value: Any) -> list[Any]:
    from .processors import processors_list  # checked in full by the registry, which knows the entry's path

    return processors_list(value)


# Keys every protocol accepts, as in packetbeat.yml's `packetbeat.protocols` entries.
COMMON_SETTINGS: dict[str, Setting] = {
    "type": Setting(_s.string, None, "module name", required=True),
    "enabled": Setting(_s.boolean, True, "set false to turn the module off"),
    "ports": Setting(_s.port_list, None, "ports to dissect; defaults to the module's own"),
    "send_request": Setting(_s.boolean, False, "include the raw request in the event (`request`)"),
    "send_response": Setting(_s.boolean, False, "include the raw response in the event (`response`)"),
    "transaction_timeout": Setting(_s.duration, 10.0, "how long a request waits for its response"),
    "tags": Setting(_s.string_list, [], "tags added to each event"),
    "fields": _s.any_mapping("custom fields added under `fields`"),
    "fields_under_root": Setting(_s.boolean, False, "put custom fields at the event root"),
    "index": Setting(_s.string, None, "index (or format string) for this module's events"),
    "processors": Setting(_processors, [], "Beats processors for this module's events, run before the global "
                          "ones"),
}


class ProtocolModule(ABC):
    """A protocol: its name, ports, settings and the factories the core calls.

    Subclasses set the class attributes and implement the factories for their transports. The name is
    the same everywhere: folder, registry key, config `type`, event `type` and `event.dataset`.
    """

    name: ClassVar[str]
    transports: ClassVar[frozenset[str]]  # subset of {"tcp", "udp", "icmp"}
    default_ports: ClassVar[tuple[int, ...]] = ()
    settings: ClassVar[Spec] = {}  # module-specific keys, beyond COMMON_SETTINGS

    def __init__(self, config: Mapping[str, Any]) -> None:
        # Validated config: COMMON_SETTINGS plus `settings`, defaults filled in.
        self.config: Mapping[str, Any] = config
        self.ports: tuple[int, ...] = tuple(config.get("ports") or self.default_ports)
        self.transaction_timeout: float = float(config.get("transaction_timeout", 10.0))
        self.stats: dict[str, int] = {}  # module counters, shown under the module's name in /stats

    def count(self, name: str, n: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + n

    def gauges(self) -> dict[str, int]:
        """Counters worked out when /stats is read rather than counted as they happen (a cache's
        evictions, say), shown beside `stats`."""
        return {}

    # --- TCP -------------------------------------------------------------------------------------
    def stream_parser(self, direction: Direction, connection: Connection) -> StreamParser:
        raise NotImplementedError(f"{self.name} does not run over TCP")

    # --- UDP and ICMP: one call per datagram --------------------------------------------------------
    def parse_datagram(
        self, data: bytes, ts: float, direction: Direction, connection: Connection
    ) -> list[Any]:
        raise NotImplementedError(f"{self.name} does not run over UDP")

    @abstractmethod
    def correlator(self, connection: Connection) -> Correlator:
        """A fresh correlator for one connection or flow."""

    @abstractmethod
    def event_fields(self, transaction: Transaction[Any, Any]) -> dict[str, Any]:
        """The module's own event fields (`http.*`, `url.*`, `method`, `query`, ...), nested dicts.

        The core adds the envelope (`@timestamp`, `type`, `event.*`, `network.*`, `source`,
        `destination`, `client`, `server`, `status`, `error.message`, `related.ip`, agent, host) and
        deep-merges these fields over it, so a module may override `status` or add to `related`.
        """

    def describe(self, transaction: Transaction[Any, Any]) -> str:
        """What the transaction was, in a few words (`GET /x -> 200 OK`), for the `-d <name>` debug line.

        Called only while that selector is on. The core adds the endpoints, status, sizes and time.
        """
        return ""

    # --- detection by content (`packetshipper.detect_protocols`) ------------------------------------
    # Probes run in ascending `probe_order`: a strict probe (a binary header, a magic number) goes before
    # a greedy one (a text command) so that the greedy one cannot take its connections.
    probe_order: ClassVar[int] = 100

    def probe(self, data: bytes, direction: Direction, transport: str) -> Verdict:
        """Is a connection on a port no module claims this protocol? `data` is the first bytes one side
        sent (TCP: that stream so far, from its start; UDP: one datagram), `direction` the side (as the
        core believes it: the SYN's sender, else the first sender, is the client). Sans-IO, no state, no
        exception. Default: NO (the module is found only on its ports)."""
        return Verdict.NO

    def direction_of(self, connection: Connection, src_port: int, dst_port: int) -> Direction | None:
        """For UDP: which way a datagram goes, given the module's ports. None: ask the core."""
        if dst_port in self.ports and src_port not in self.ports:
            return Direction.REQUEST
        if src_port in self.ports and dst_port not in self.ports:
            return Direction.RESPONSE
        return None


@dataclass(slots=True)
class ModuleStats:
    """Counters the core keeps per module (the module's own `stats` sit beside them)."""

    transactions: int = 0
    errors: int = 0
    unmatched: int = 0
    protocol_errors: int = 0
    bugs: int = 0
    extra: dict[str, int] = field(default_factory=dict)
