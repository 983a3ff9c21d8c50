"""fingerprint and community_id: hashes of event fields."""

from __future__ import annotations

import base64
import ipaddress
import math
from collections.abc import Callable, Mapping
from typing import Any

from .. import settings as s
from ..community_id import ICMP, ICMPV6, SCTP, TCP, UDP, community_id
from ..settings import Setting
from . import specs
from .base import Event, Processor, ProcessorError
from .fields import MISSING, get, put

__all__ = ["Fingerprint", "CommunityId"]

_METHODS = ("md5", "sha1", "sha256", "sha384", "sha512", "xxhash")
_ENCODINGS: dict[str, Callable[[bytes], str]] = {
    "hex": bytes.hex,
    "base32": lambda digest: base64.b32encode(digest).decode("ascii"),
    "base64": lambda digest: base64.b64encode(digest).decode("ascii"),
}


def _go_text(value: Any) -> str:
    """A scalar as Go's %v writes it: true/false, integers plainly, floats without a trailing .0."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _method(value: Any) -> str:
    method = s.one_of(*_METHODS)(value)
    if method == "xxhash":
        try:
            import xxhash  # type: ignore[import-not-found]  # noqa: F401
        except ImportError:
            raise ValueError("xxhash needs the Python package xxhash, which is not installed; "
                             "use md5, sha1, sha256, sha384 or sha512") from None
    return method


class Fingerprint(Processor):
    """The hash of `|name1|value1|name2|value2|` over `fields` sorted by name, as libbeat computes it."""

    name = "fingerprint"
    spec = {
        "fields": specs.required(specs.field_names, "fields to hash (sorted by name first)"),
        "target_field": Setting(specs.field_name, "fingerprint", "where the hash goes"),
        "method": Setting(_method, "sha256", f"hash: {', '.join(_METHODS)}"),
        "encoding": Setting(s.one_of(*_ENCODINGS), "hex", "hex, base32 or base64"),
        "ignore_missing": specs.flag(False, "leave out fields that are not there instead of failing"),
    }
    fail_on_error = False  # libbeat's fingerprint changes nothing before it fails

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        self.fields = sorted(config["fields"])
        self.encode = _ENCODINGS[config["encoding"]]
        method = config["method"]
        if method == "xxhash":
            import xxhash

            self.new_hash: Callable[[], Any] = xxhash.xxh64
        else:
            import hashlib  # here: a run without this processor needs none of OpenSSL's start-up

            self.new_hash = getattr(hashlib, method)

    def run(self, event: Event) -> Event | None:
        digest = self.new_hash()
        for name in self.fields:
            value = get(event, name)
            if value is MISSING:
                if self.config["ignore_missing"]:
                    continue
                raise ProcessorError(f"failed to find field [{name}] in event")
            if isinstance(value, Mapping | list):
                raise ProcessorError(f"cannot compute fingerprint using non-scalar field [{name}]")
            digest.update(f"|{name}|{'' if value is None else _go_text(value)}".encode())
        digest.update(b"|")
        put(event, self.config["target_field"], self.encode(digest.digest()))
        return event


_TRANSPORTS = {"tcp": TCP, "udp": UDP, "sctp": SCTP, "icmp": ICMP, "ipv6-icmp": ICMPV6, "icmpv6": ICMPV6}
_FIELD_DEFAULTS = {
    "source_ip": "source.ip", "source_port": "source.port", "destination_ip": "destination.ip",
    "destination_port": "destination.port", "iana_number": "network.iana_number",
    "transport": "network.transport", "icmp_type": "icmp.type", "icmp_code": "icmp.code",
}


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class CommunityId(Processor):
    """`network.community_id` from the event's addresses, ports and protocol. An event that has it already,
    or lacks what the hash needs, is left as it is (libbeat's behaviour, not an error)."""

    name = "community_id"
    spec = {
        "fields": {key: Setting(specs.field_name, default, f"field holding the {key.replace('_', ' ')}")
                   for key, default in _FIELD_DEFAULTS.items()},
        "target": Setting(specs.field_name, "network.community_id", "where the ID goes"),
        "seed": Setting(s.between(0, 65535), 0, "seed of the hash (0 to 65535)"),
    }
    fail_on_error = False

    def run(self, event: Event) -> Event | None:
        if get(event, self.config["target"]) is not MISSING:
            return event
        flow = self._flow(event)
        if flow is None:
            return event
        try:
            value = community_id(*flow, seed=self.config["seed"])
        except ValueError:  # a port or ICMP type out of range: nothing to hash
            return event
        put(event, self.config["target"], value)
        return event

    def _flow(self, event: Event) -> tuple[int, bytes, bytes, int, int] | None:
        names = self.config["fields"]
        try:
            src = ipaddress.ip_address(get(event, names["source_ip"]))
            dst = ipaddress.ip_address(get(event, names["destination_ip"]))
        except (TypeError, ValueError):
            return None
        if src.version != dst.version:
            return None
        proto = _whole(get(event, names["iana_number"]))
        if proto is None:
            transport = get(event, names["transport"])
            proto = _TRANSPORTS.get(transport.lower()) if isinstance(transport, str) else None
        if proto is None or not 0 <= proto <= 255:
            return None
        if proto in (ICMP, ICMPV6):
            first, second = _whole(get(event, names["icmp_type"])), _whole(get(event, names["icmp_code"]))
        elif proto in (TCP, UDP, SCTP):
            first, second = _whole(get(event, names["source_port"])), _whole(get(event, names["destination_port"]))
        else:
            first, second = 0, 0
        if first is None or second is None:
            return None
        return proto, src.packed, dst.packed, first, second
