"""What Packetbeat's system-test harness does, for packetshipper.

`render_config(**args)` builds the config that packetbeat/tests/system/config/packetbeat.yml.j2 renders
for the same `render_config_template(...)` arguments: every protocol of that template (the ones this
shipper has) on its default ports, the template's flow timeout and period when `flows=True`, and the
options the arguments switch on. It is written with `packetbeat.*` keys, as the template writes them.

`read_output(pcap, config, ...)` runs the pcap at top speed (`-t`, as run_packetbeat does) and returns the
events as Packetbeat's read_output does: flattened to dotted keys (objects declared `type: object`, the
header maps, kept whole), optionally only some types, after checking that each has the required fields
(the harness's own assertion, counted in docs/packetbeat-system-tests.md). Every event has already been
validated against fields/ (packetshipper.testing raises on any violation), which stands for the
harness's `all_fields_are_expected`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packetshipper.fields import FieldType, load_fields
from packetshipper.testing import run_pcap

PCAPS = Path(__file__).parent.parent / "pcaps" / "packetbeat"

# packetbeat/tests/system/packetbeat.py
TRANS_REQUIRED_FIELDS = ("@timestamp", "type", "status", "agent.type", "agent.name", "agent.version", "event.kind",
                         "event.category", "event.dataset", "event.start", "source.ip", "destination.ip", "client.ip",
                         "server.ip", "network.type", "network.transport", "network.community_id")
FLOWS_REQUIRED_FIELDS = ("@timestamp", "type", "agent.type", "agent.name", "agent.version", "event.kind",
                         "event.category", "event.dataset", "event.action", "event.start", "event.end",
                         "event.duration", "source.ip", "destination.ip", "flow.id", "network.type",
                         "network.transport", "network.community_id")

# The template's protocols with their default ports, in its order (dhcpv4 ... mongodb); icmp has none.
_DEFAULT_PORTS = {"dhcpv4": [67, 68], "dns": [53], "amqp": [5672], "cassandra": [9042], "http": [80],
                  "memcache": [11211], "mysql": [3306], "pgsql": [5432], "redis": [6379], "nfs": [2049],
                  "thrift": [9090], "tls": [443], "mongodb": [27017]}
# Template argument -> the key it sets in that protocol's section.
_HTTP_OPTIONS = ("send_request", "send_response", "send_all_headers", "split_cookie", "send_headers",
                 "real_ip_header", "include_body_for", "redact_authorization", "hide_keywords", "max_message_size",
                 "transaction_timeout")
_DNS_OPTIONS = ("include_authorities", "include_additionals", "send_request", "send_response")
_ICMP_OPTIONS = ("send_request", "send_response")


def _options(args: dict[str, Any], prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    # Jinja's `{% if x %}`: a false or empty value leaves the key out; `1` is rendered as `true`.
    out = {}
    for name in names:
        value = args.pop(f"{prefix}_{name}", None)
        if value:
            out[name] = True if value == 1 and name not in ("max_message_size",) else value
    return out


def render_config(**args: Any) -> dict[str, Any]:
    """The config packetbeat.yml.j2 renders for `args` (only the arguments these tests use)."""
    protocols: list[dict[str, Any]] = [{"type": "icmp", "enabled": True, **_options(args, "icmp", _ICMP_OPTIONS)}]
    for name, default in _DEFAULT_PORTS.items():
        ports = [int(p) for p in args.pop(f"{name}_ports", default)]
        entry: dict[str, Any] = {"type": name, "ports": ports}
        if not ports:
            # `ports: []` in Packetbeat analyses no port; here a module needs at least one, so it is off.
            entry = {"type": name, "enabled": False}
        if name == "http":
            entry.update(_options(args, "http", _HTTP_OPTIONS))
        elif name == "dns":
            entry.update(_options(args, "dns", _DNS_OPTIONS))
        elif name == "thrift":
            entry["transport_type"] = "socket"
        protocols.append(entry)
    packetbeat: dict[str, Any] = {"interfaces": {"device": "any"}, "protocols": protocols,
                                  "shutdown_timeout": args.pop("shutdown_timeout", "400ms")}
    flows_timeout = args.pop("flows_timeout", "2s")  # not a template argument: for deliberate differences
    if args.pop("flows", False):
        packetbeat["flows"] = {"timeout": flows_timeout, "period": "-1s"}
    else:
        # The template writes no packetbeat.flows section, which in Packetbeat means no flows; here flows
        # are on unless switched off.
        packetbeat["flows"] = {"enabled": False}
    config: dict[str, Any] = {"packetbeat": packetbeat, "tags": list(args.pop("agent_tags", None) or []),
                              "queue": {"mem": {"events": 4096, "flush.min_events": 8, "flush.timeout": "0.1s"}}}
    processors = args.pop("processors", None)
    if processors:
        config["processors"] = processors
    args.pop("iface_device", None)  # a file is read whatever the device
    assert not args, f"template arguments not translated: {sorted(args)}"
    return config


def _dict_fields() -> tuple[str, ...]:
    return tuple(sorted(f.name for f in load_fields() if f.type == FieldType.OBJECT))


DICT_FIELDS = _dict_fields()


def flatten(obj: dict[str, Any], keep_whole: tuple[str, ...] = DICT_FIELDS, prefix: str = "") -> dict[str, Any]:
    """Beats' flatten_object: dotted keys; lists and the `keep_whole` object fields kept whole."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and name not in keep_whole:
            out.update(flatten(value, keep_whole, name + "."))
        else:
            out[name] = value
    return out


def read_output(pcap: str, config: dict[str, Any], types: tuple[str, ...] | None = None,
                required_fields: tuple[str, ...] = TRANS_REQUIRED_FIELDS,
                keep_whole: tuple[str, ...] = DICT_FIELDS) -> list[dict[str, Any]]:
    """Run `pcap` (relative to tests/pcaps/packetbeat) with `config`; the flattened events, as Packetbeat's
    read_output returns them (every one checked for `required_fields`). test_0099 flattens the header
    maps too: `keep_whole=()`."""
    events = run_pcap(str(PCAPS / pcap), config).events
    docs = [flatten(e, keep_whole) for e in events if not types or e["type"] in types]
    for doc in docs:
        missing = [name for name in required_fields if name not in doc]
        assert not missing, f"{doc.get('type')} event lacks required fields {missing}"
    return docs


def raw_output(pcap: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    """The events unflattened, as Packetbeat's read_output_json returns them."""
    return run_pcap(str(PCAPS / pcap), config).events
