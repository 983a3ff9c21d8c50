"""The module loader: which modules exist, how `packetshipper.protocols` entries are checked and built."""

from __future__ import annotations

import pytest
from packetshipper.registry import available_modules, build_modules, list_modules_table
from packetshipper.settings import ConfigError


def test_built_in_modules_are_found_and_flows_is_not_a_protocol() -> None:
    modules = available_modules()
    assert {"icmp", "http"} <= set(modules)
    assert "flows" not in modules
    assert modules["icmp"].name == "icmp"


def test_an_unknown_type_is_a_config_error_naming_the_entry_and_the_known_types() -> None:
    with pytest.raises(ConfigError) as caught:
        build_modules([{"type": "icmp"}, {"type": "gopher"}])
    assert caught.value.path == "packetshipper.protocols.1.type"
    assert "'gopher'" in caught.value.reason and "icmp" in caught.value.reason


def test_an_unknown_key_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError) as caught:
        build_modules([{"type": "icmp", "prots": [1]}])
    assert caught.value.path == "packetshipper.protocols.0.prots"


def test_a_missing_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        build_modules([{"ports": [80]}])
    assert caught.value.path == "packetshipper.protocols.0.type"


def test_a_bad_value_names_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        build_modules([{"type": "http", "ports": [80, 70000]}])
    assert caught.value.path == "packetshipper.protocols.0.ports"


def test_protocols_must_be_a_list_of_mappings() -> None:
    with pytest.raises(ConfigError) as caught:
        build_modules("http")  # type: ignore[arg-type]
    assert caught.value.path == "packetshipper.protocols"
    with pytest.raises(ConfigError) as caught:
        build_modules(["http"])
    assert caught.value.path == "packetshipper.protocols.0"


def test_common_settings_get_defaults_and_module_ports_default_to_its_own() -> None:
    (icmp, http) = build_modules([{"type": "icmp"}, {"type": "http", "ports": [8080, 8081]}])
    assert icmp.transaction_timeout == 10.0 and icmp.config["send_request"] is False
    assert http.ports == (8080, 8081)
    assert icmp.config["max_pending_requests"] == 1024


def test_disabled_entries_are_checked_but_not_built() -> None:
    assert build_modules([{"type": "icmp", "enabled": False}]) == []
    with pytest.raises(ConfigError):
        build_modules([{"type": "icmp", "enabled": False, "bogus": 1}])


def test_two_modules_on_one_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        build_modules([{"type": "http", "ports": [80]}, {"type": "http", "ports": [8080, 80]}])
    assert caught.value.path == "packetshipper.protocols.1.ports"
    assert "tcp port 80" in caught.value.reason and "packetshipper.protocols.0" in caught.value.reason


def test_the_modules_table_shows_defaults_enablement_and_configured_ports() -> None:
    table = list_modules_table([{"type": "http", "ports": [8080]}, {"type": "icmp", "enabled": False}])
    lines = {line.split()[0]: line.split() for line in table.splitlines()[1:] if line and not line.startswith("(")}
    assert table.splitlines()[0].split() == ["MODULE", "TRANSPORTS", "DEFAULT", "PORTS", "ENABLED", "PORTS"]
    assert lines["icmp"] == ["icmp", "icmp", "-", "no", "-"]
    assert lines["http"][1] == "tcp" and lines["http"][-2:] == ["yes", "8080"]
    assert lines["http"][2] == ",".join(str(p) for p in available_modules()["http"].default_ports)
