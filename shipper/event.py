"""The event envelope every event shares, and the transaction envelope of protocol events.

This is the only place in the core that names output fields; modules name their own in their
`event_fields` and the flow module in `modules/flows/event.py`.
"""

from __future__ import annotations

import base64
import itertools
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import hotpath
from .protocol import Connection, Status, Transaction
from .version import __version__

__all__ = [
    "ECS_VERSION",
    "Envelope",
    "iso_timestamp",
    "host_port",
    "duration_ns",
    "deep_merge",
    "OMIT",
    "transaction_event",
    "transaction_document",
    "IdStamper",
    "id_stamper",
    "EVENT_ID_KEY",
]

ECS_VERSION = "8.0.0"
AGENT_TYPE = "packetshipper"

_ECS = {"version": ECS_VERSION}
_second_cache: dict[int, str] = {}
_last: tuple[float, str] = (float("nan"), "")


def iso_timestamp(ts: float) -> str:
    """`2026-11-23T06:54:57.123456Z`: RFC 3339 UTC with microseconds, as Packetbeat 8 writes its times.

    Times here are libpcap records' (sec, usec) as floats; rounding to the nearest microsecond gives
    back the record's exact microsecond (a float near 1.7e15 us is exact to 0.25 us), which is what
    Go's truncating format gives for that record. Nothing finer than a microsecond is carried.
    """
    global _last
    last = _last  # one tuple, replaced whole, so threads never see a torn pair
    if last[0] == ts:  # a periodic flow report stamps thousands of events with one time
        return last[1]
    seconds, micros = divmod(round(ts * 1_000_000), 1_000_000)
    prefix = _second_cache.get(seconds)
    if prefix is None:
        if len(_second_cache) > 4096:
            _second_cache.clear()
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _second_cache[seconds] = prefix
    text = f"{prefix}.{micros:06d}Z"
    _last = (ts, text)
    return text


EVENT_ID_KEY = "_id"  # under `@metadata`, where Beats' Elasticsearch output takes the document id from


class IdStamper:
    """`stamp(event)` gives an event a unique `@metadata._id` unless it already has one; `next_id()`
    is the next id of the same sequence (for an event queued already encoded).

    Ids are a random prefix drawn once per stamper (16 URL-safe characters, 96 bits) and a hex
    counter: unique across processes and restarts without coordination, and cheap on the hot path
    (`map` over `itertools.count` formats in C; no Python frame per id). A counter under a shared
    prefix also keeps Elasticsearch's id lookups local in its terms index.
    """

    __slots__ = ("next_id",)

    def __init__(self) -> None:
        prefix = base64.urlsafe_b64encode(os.urandom(12)).decode()
        self.next_id: Callable[[], str] = map(f"{prefix}%x".__mod__, itertools.count()).__next__

    def __call__(self, event: dict[str, Any]) -> None:
        meta = event.get("@metadata")
        if meta is None:
            event["@metadata"] = {EVENT_ID_KEY: self.next_id()}
        elif isinstance(meta, dict) and EVENT_ID_KEY not in meta:
            event["@metadata"] = {**meta, EVENT_ID_KEY: self.next_id()}  # a copy: `meta` may be shared


def id_stamper() -> IdStamper:
    return IdStamper()


def host_port(ip: object, port: int | None) -> str:
    """`10.0.0.1:80`, `[::1]:80`, or the address alone without a port: how logs and reports name an endpoint."""
    if port is None:
        return str(ip)
    return f"[{ip}]:{port}" if ":" in str(ip) else f"{ip}:{port}"


def duration_ns(start: float, end: float) -> int:
    """Whole nanoseconds between two timestamps, robust to float rounding at microsecond scale."""
    return max(0, int(round((end - start) * 1e6)) * 1000)


class Envelope:
    """The fields every event carries: agent, ecs, host, plus configured tags and custom fields."""

    __slots__ = ("agent", "host", "tags", "fields", "fields_under_root")

    def __init__(
        self,
        name: str | None = None,
        tags: list[str] | None = None,
        fields: Mapping[str, Any] | None = None,
        fields_under_root: bool = False,
        agent_type: str = AGENT_TYPE,
    ) -> None:
        hostname = socket.gethostname()
        self.agent = {"type": agent_type, "name": name or hostname, "version": __version__}
        self.host = {"name": name or hostname}
        self.tags = list(tags or [])
        self.fields = dict(fields or {})
        self.fields_under_root = fields_under_root

    def wrap(self, event: dict[str, Any], tags: list[str] | None = None,
             fields: Mapping[str, Any] | None = None, fields_under_root: bool = False) -> dict[str, Any]:
        """Add the shared fields to `event` in place and return it.

        `agent`, `ecs` and `host` are the same dict objects in every event: events are read-only once
        built (outputs serialize them), and not copying them is measurably cheaper per event.
        """
        event["agent"] = self.agent
        event["ecs"] = _ECS
        own_host = event.get("host")  # a module's own (nfs: the client's hostname from its credentials)
        event["host"] = {**self.host, **own_host} if own_host else self.host
        if tags or self.tags:
            all_tags = self.tags + list(tags or [])
            if all_tags:
                event["tags"] = all_tags
        if not (fields or self.fields):
            return event
        for custom, under_root in ((self.fields, self.fields_under_root), (fields, fields_under_root)):
            if custom:
                if under_root:
                    deep_merge(event, dict(custom))
                else:
                    event["fields"] = deep_merge(event.get("fields", {}), dict(custom))
        return event


class _Omit:
    """The type of `OMIT`."""

    def __repr__(self) -> str:
        return "OMIT"


# A module's event_fields may map a key to OMIT to leave out a field the envelope writes (TLS events, as
# Packetbeat's, carry no byte counts, and no duration when the handshake did not finish).
OMIT: Any = _Omit()


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `extra` into `base` in place, recursing into dicts; lists and scalars replace; OMIT removes."""
    for key, value in extra.items():
        if key not in base and value is not OMIT:  # most keys are new: one test, then set
            base[key] = value
            continue
        if value is OMIT:
            base.pop(key, None)
            continue
        current = base.get(key)
        if isinstance(current, dict) and (type(value) is dict or isinstance(value, Mapping)):
            deep_merge(current, value)
        else:
            base[key] = value
    return base


def transaction_event(module_name: str, txn: Transaction[Any, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """A Packetbeat-shaped transaction event: the envelope below, with the module's fields merged in."""
    conn: Connection = txn.connection
    client, server = conn.client, conn.server
    start, end = txn.start, txn.end
    if _compiled_iso is not None and hotpath.enabled:  # the same text, formatted in C
        started = _compiled_iso(start, iso_timestamp)
        ended = started if end == start else _compiled_iso(end, iso_timestamp)
    else:
        started = iso_timestamp(start)
        ended = started if end == start else iso_timestamp(end)
    request_bytes, response_bytes = txn.request_bytes, txn.response_bytes
    status = txn.status
    event_part: dict[str, Any] = {
        "kind": "event",
        "category": ["network"],
        "type": ["connection", "protocol"],
        "dataset": module_name,
        "start": started,
        "end": ended,
        "duration": max(0, int(round((end - start) * 1e6)) * 1000),  # duration_ns, inlined
    }
    if status is not Status.OK:
        event_part["outcome"] = "failure"
    elif txn.response is not None:
        event_part["outcome"] = "success"
    network: dict[str, Any] = {
        "type": _IP_TYPES.get(conn.ip_version) or f"ipv{conn.ip_version}",
        "transport": conn.transport,
        "protocol": module_name,
        "bytes": request_bytes + response_bytes,
    }
    if conn.community_id:
        network["community_id"] = conn.community_id
    if conn.vlans:
        network["vlan"] = {"id": str(conn.vlans[0])}
    # Source and client (destination and server) are equal but separate dicts: a module may add to one.
    source = _endpoint(client, request_bytes)
    destination = _endpoint(server, response_bytes)
    client_ip, server_ip = client.ip, server.ip
    event: dict[str, Any] = {
        "@timestamp": started,
        "type": module_name,
        "status": str(status),
        "event": event_part,
        "network": network,
        "source": source,
        "destination": destination,
        "client": source.copy(),
        "server": destination.copy(),
        "related": {"ip": [client_ip, server_ip] if client_ip < server_ip else
                    [server_ip, client_ip] if server_ip < client_ip else [client_ip]},
    }
    if txn.error:
        event["error"] = {"message": txn.error}
    if txn.gaps or txn.out_of_order or txn.overlaps:
        # How the TCP stream under this transaction arrived: holes given up on, segments put back in
        # order, overlapping retransmissions trimmed. Absent when the stream arrived clean.
        event["tcp"] = {"gaps": txn.gaps, "out_of_order": txn.out_of_order, "overlaps": txn.overlaps}
    if txn.notes:
        event["notes"] = list(txn.notes)
    deep_merge(event, fields)
    return event


_IP_TYPES = {4: "ipv4", 6: "ipv6"}
_compiled_iso: Callable[[float, Callable[[float], str]], str] | None = getattr(hotpath.compiled, "iso_timestamp", None)
# `transaction_document(module_name, txn, fields, Status.OK, OMIT, Mapping, deep_merge, iso_timestamp, tail)`:
# `orjson.dumps(Envelope.wrap(transaction_event(module_name, txn, fields)))[:-1] + tail` written in C without
# building the event, or None for an event the dict path must build (see _txn_json.pxi). None itself
# without the compiled path; the caller checks `hotpath.enabled` per event, as for the others.
transaction_document: Callable[..., bytes | None] | None = getattr(hotpath.compiled, "transaction_document", None)


def _endpoint(endpoint: Any, nbytes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": endpoint.ip, "bytes": nbytes}
    if endpoint.port:
        out["port"] = endpoint.port
    if endpoint.mac:
        out["mac"] = endpoint.mac
    return out
