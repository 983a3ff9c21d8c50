"""add_network_direction and registered_domain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import settings as s
from ..direction import DirectionClassifier, internal_networks
from ..settings import ConfigError, Setting
from . import specs
from .base import Event, Processor, ProcessorError
from .fields import MISSING, get, put

__all__ = ["AddNetworkDirection", "RegisteredDomain"]


class AddNetworkDirection(Processor):
    """inbound, outbound, internal or external, from which of `source` and `destination` are in
    `internal_networks` (CIDRs and named sets: private, loopback, unicast, ...). An event without both
    addresses is left as it is."""

    name = "add_network_direction"
    spec = {
        "source": specs.required(specs.field_name, "field with the source address"),
        "destination": specs.required(specs.field_name, "field with the destination address"),
        "target": specs.required(specs.field_name, "where the direction goes"),
        "internal_networks": specs.required(internal_networks, "CIDRs and named networks that are inside"),
    }
    fail_on_error = False

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        if not config["internal_networks"]:
            raise ConfigError(f"{path}.internal_networks", "give at least one network")
        self.direction = DirectionClassifier(config["internal_networks"])

    def run(self, event: Event) -> Event | None:
        source, destination = get(event, self.config["source"]), get(event, self.config["destination"])
        if isinstance(source, str) and isinstance(destination, str):
            put(event, self.config["target"], self.direction(source, destination))
        return event


def _default_list() -> str:
    from packetshipper.modules.dns.suffix import DEFAULT_LIST_PATH

    return DEFAULT_LIST_PATH


class RegisteredDomain(Processor):
    """`www.example.co.uk` -> registered domain `example.co.uk`, eTLD `co.uk`, subdomain `www`."""

    name = "registered_domain"
    spec = {
        "field": specs.required(specs.field_name, "field with the domain name"),
        "target_field": specs.required(specs.field_name, "where the registered domain goes"),
        "target_etld_field": Setting(specs.field_name, None, "where the effective top-level domain goes"),
        "target_subdomain_field": Setting(specs.field_name, None, "where the subdomain goes (if any)"),
        "ignore_missing": specs.flag(False, "an event without the field is no error"),
        "ignore_failure": specs.flag(False, "a name with no registered domain is no error"),
        "id": Setting(str, None, "an identifier for this processor (debug messages)"),
        "public_suffix_list": Setting(s.string, None, "the Public Suffix List file (default: the one the "
                                      "dns module reads, from Debian's publicsuffix package)"),
    }
    fail_on_error = False

    def __init__(self, config: Mapping[str, Any], path: str) -> None:
        super().__init__(config, path)
        from packetshipper.modules.dns.suffix import load_suffix_list

        list_path = config["public_suffix_list"] or _default_list()
        try:
            self.suffixes = load_suffix_list(list_path)
        except OSError as exc:
            raise ConfigError(f"{path}.public_suffix_list", f"cannot read {list_path}: {exc.strerror or exc} "
                              "(install Debian's publicsuffix package or name the file)") from None

    def run(self, event: Event) -> Event | None:
        config = self.config
        value = get(event, config["field"])
        if value is MISSING:
            if config["ignore_missing"]:
                return event
            raise ProcessorError(f"field [{config['field']}] not found")
        parts = self.suffixes.split(value.rstrip(".")) if isinstance(value, str) else None
        if parts is None:
            if config["ignore_failure"]:
                return event
            raise ProcessorError(f"failed to find the registered domain of {value!r}")
        put(event, config["target_field"], parts.registered_domain)
        if config["target_etld_field"]:
            put(event, config["target_etld_field"], parts.top_level_domain)
        if config["target_subdomain_field"] and parts.subdomain:
            put(event, config["target_subdomain_field"], parts.subdomain)
        return event
