"""What `packetshipper setup --index-management`, `export template`, `export config`, `test config`
and `test output` do.

Each takes the validated config: `output.<name>` sections validated by the output registry, the `setup`
section by SETUP_SETTINGS (part of the top-level spec, so `test config` rejects what `setup` would).
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from .compat import identity_of
from .outputs.base import OutputError
from .outputs.index_format import FormatString
from .settings import ConfigError, Setting, Spec, any_mapping, boolean, ignored, quote, string, validate
from .version import __version__

if TYPE_CHECKING:  # the Elasticsearch output (and requests) only for the commands that use them: a `run`
    from .outputs.elasticsearch import ElasticsearchOutput  # reads SETUP_SETTINGS from here

__all__ = ["SETUP_SETTINGS", "check_config", "export_config", "export_index_pattern", "export_template", "ilm_policy",
           "mask_secrets", "setup_index_management", "test_output"]

DEFAULT_NAME = "packetshipper-%{[agent.version]}"
DEFAULT_POLICY = "packetshipper"
_NAMING_EVENT = {"agent": {"version": __version__}}


def _template_name(value: Any) -> str:
    """A format string that must name a template from the agent version alone (checked at load)."""
    text = string(value)
    try:
        FormatString(text).render(_NAMING_EVENT)
    except Exception as exc:  # ConfigError or SelectorError: either way the setting is unusable
        raise ValueError(f"cannot name the template from {quote(text)}: {exc}") from None
    return text


SETUP_SETTINGS: Spec = {
    "template": {
        "enabled": Setting(boolean, True, "Install the index template."),
        "name": Setting(_template_name, DEFAULT_NAME, "Template name; a format string."),
        "pattern": Setting(_template_name, DEFAULT_NAME, "Index pattern the template applies to."),
        "overwrite": Setting(boolean, False, "Replace an existing template of that name."),
        "settings": any_mapping("Index settings merged over the defaults."),
        # Beats keys with no counterpart here: the template is always built from fields/.
        "fields": ignored("the template is built from fields/"),
        "append_fields": ignored("the template is built from fields/"),
        "json": ignored("the template is built from fields/"),
        "type": ignored("always a composable index template"),
    },
    "ilm": {
        "enabled": Setting(boolean, True, "Install the lifecycle policy and name it in the template."),
        "policy_name": Setting(string, DEFAULT_POLICY, "Lifecycle policy name."),
        "overwrite": Setting(boolean, False, "Replace an existing policy of that name."),
        "rollover_alias": ignored("events go to a data stream, which rolls over by itself"),
        "pattern": ignored("events go to a data stream, which rolls over by itself"),
        "policy_file": ignored("the policy is Beats' default"),
        "check_exists": ignored("the policy is checked before it is installed"),
    },
    "kibana": ignored("no Kibana set-up"),
    "dashboards": ignored("no dashboards are loaded"),
}


def _setup(config: Mapping[str, Any]) -> dict[str, Any]:
    """setup.*, with the default template and policy names of the Packetbeat that compat names."""
    setup = validate(SETUP_SETTINGS, config.get("setup"), "setup")
    identity = identity_of(config)
    if identity.compat:
        for key in ("name", "pattern"):
            if setup["template"][key] == DEFAULT_NAME:
                setup["template"][key] = identity.default_index
        if setup["ilm"]["policy_name"] == DEFAULT_POLICY:
            setup["ilm"]["policy_name"] = identity.policy_name
    return setup


def check_config(config: Mapping[str, Any]) -> None:
    """What `test config` adds to loading: the checks `run` makes later that need no capture and no
    connection, so that a setting only they refuse fails here too: the output is built (api_key with a
    password, a bad format string), the queue chosen (mem and disk both set), the BPF filter compiled."""
    from .outputs import output_class
    from .pipeline.config import queue_choice

    for name, section in (config.get("output") or {}).items():
        cls = output_class(name)
        own = {k: v for k, v in section.items() if k in cls.settings}
        cls(validate(cls.settings, own, f"output.{name}")).close()
    queue_choice(config.get("queue"))
    interfaces = config["packetshipper"]["interfaces"]
    if interfaces["bpf_filter"]:
        _compile_bpf(interfaces["bpf_filter"], interfaces["snaplen"])


# Link types a capture may have (Ethernet, Linux cooked v1 and v2, raw IP, BSD loopback, 802.11): a filter
# is refused only if it compiles for none of them, since the real one is known only once capture starts.
_LINK_TYPES = (1, 113, 276, 12, 0, 105)


def _compile_bpf(text: str, snaplen: int) -> None:
    import pcapy

    first_error = None
    for linktype in _LINK_TYPES:
        try:
            pcapy.compile(linktype, snaplen, text, 1, 0)
            return
        except (pcapy.PcapError, ValueError) as exc:
            first_error = first_error or exc
    raise ConfigError("packetshipper.interfaces.bpf_filter", f"bad BPF filter {quote(text)}: {first_error}")


# Keys whose values are credentials, anywhere in the config; and credentials inside URLs.
_SECRET_KEYS = frozenset({"password", "api_key", "key_passphrase", "passphrase", "token", "auth", "secret",
                          "access_token", "secret_token"})
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "cookie"})
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]*(?P<tail>@)", re.IGNORECASE)
MASK = "<redacted>"


def mask_secrets(value: Any, key: str = "", parent: str = "") -> Any:
    """A copy of `value` with every password, API key, token and TLS key passphrase replaced by MASK."""
    if isinstance(value, Mapping):
        return {k: mask_secrets(v, str(k), str(key)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(item, "", parent) for item in value]
    if value is None or value == "":
        return value
    lowered = key.lower().rsplit(".", 1)[-1]  # librdkafka-style keys: `sasl.password`
    if lowered in _SECRET_KEYS or lowered.endswith(("_password", "_token", "_secret")) or \
            (parent.lower() == "headers" and lowered in _SECRET_HEADERS):
        return MASK
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}{m.group('tail')}", value)
    return value


def export_config(config: Mapping[str, Any]) -> str:
    """The effective config as YAML, credentials masked."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's when present: same text, faster
    return yaml.dump(mask_secrets(config), Dumper=dumper, sort_keys=False)


def _render(text: str, key: str) -> str:
    try:
        return FormatString(text).render(_NAMING_EVENT).lower()
    except Exception as exc:  # ConfigError or SelectorError: either way the setting is unusable
        raise ConfigError(key, f"cannot name the template from {quote(text)}: {exc}") from None


def ilm_policy() -> dict[str, Any]:
    """Beats' default policy: roll over at 50GB per primary shard or 30 days; never delete."""
    return {"policy": {"phases": {"hot": {"actions": {"rollover": {"max_primary_shard_size": "50gb",
                                                                    "max_age": "30d"}}}}}}


def export_template(config: Mapping[str, Any]) -> dict[str, Any]:
    """The composable index template body (`PUT _index_template/<name>`), built from fields/."""
    from packetshipper.fields import index_template

    setup = _setup(config)
    template, ilm = setup["template"], setup["ilm"]
    pattern = _render(template["pattern"], "setup.template.pattern")
    settings = dict(template["settings"])
    if ilm["enabled"]:
        settings.setdefault("index", {}).setdefault("lifecycle", {"name": ilm["policy_name"]})
    try:
        return index_template(pattern, data_stream=True, settings=settings)
    except ValueError as exc:
        raise ConfigError("setup.template.pattern", str(exc)) from None


# Kibana's field types for the index pattern, from the mapping types of fields/.
_KIBANA_TYPES = {"keyword": "string", "text": "string", "long": "number", "integer": "number", "double": "number",
                 "boolean": "boolean", "date": "date", "ip": "ip"}


def export_index_pattern(config: Mapping[str, Any]) -> dict[str, Any]:
    """Kibana's index-pattern saved object (`export index-pattern`, as Beats prints it): `<beat>-*`
    with `@timestamp` as its time field and every field of fields/ that is mapped (free-form objects
    are not fields of their own)."""
    from packetshipper.fields import load_fields

    title = f"{identity_of(config).beat}-*"
    fields = []
    for definition in sorted(load_fields(), key=lambda d: d.name):
        kind = _KIBANA_TYPES.get(str(definition.type))
        if kind is None:
            continue
        fields.append({"name": definition.name, "type": kind, "esTypes": [str(definition.type)], "count": 0,
                       "scripted": False, "searchable": True, "aggregatable": definition.type != "text",
                       "readFromDocValues": definition.type != "text"})
    attributes = {"title": title, "timeFieldName": "@timestamp", "fields": json.dumps(fields, separators=(",", ":")),
                  "fieldFormatMap": "{}"}
    return {"attributes": attributes, "id": title, "type": "index-pattern", "version": "1"}


def _es_output(config: Mapping[str, Any]) -> ElasticsearchOutput:
    from .outputs.elasticsearch import ElasticsearchOutput

    section = (config.get("output") or {}).get("elasticsearch")
    if section is None:
        raise ConfigError("output.elasticsearch", "index management needs the Elasticsearch output enabled")
    own = {k: v for k, v in section.items() if k in ElasticsearchOutput.settings}
    return ElasticsearchOutput(validate(ElasticsearchOutput.settings, own, "output.elasticsearch"))


def setup_index_management(config: Mapping[str, Any]) -> str:
    """Install the lifecycle policy and the index template; a report of what was done.

    Raises OutputError when Elasticsearch cannot be reached or refuses a request.
    """
    setup = _setup(config)
    output = _es_output(config)
    lines = []
    try:
        url = output._pick_url()
        if setup["ilm"]["enabled"]:
            name = setup["ilm"]["policy_name"]
            done = _put(output, f"{url}/_ilm/policy/{name}", ilm_policy(), setup["ilm"]["overwrite"])
            lines.append(f"ILM policy {name}: {done}")
        if setup["template"]["enabled"]:
            name = _render(setup["template"]["name"], "setup.template.name")
            body = export_template(config)
            done = _put(output, f"{url}/_index_template/{name}", body, setup["template"]["overwrite"])
            lines.append(f"Index template {name}: {done}")
    finally:
        output.close()
    lines.append("Index setup finished.")
    return "\n".join(lines)


def _put(output: ElasticsearchOutput, url: str, body: dict[str, Any], overwrite: bool) -> str:
    import requests

    timeout = output.config.get("timeout") or None
    try:
        if not overwrite and output.session.get(url, timeout=timeout).status_code == 200:
            return "exists, left as is (set overwrite: true to replace it)"
        answer = output.session.put(url, json=body, timeout=timeout)
    except requests.RequestException as exc:
        raise OutputError(f"{url}: {exc}") from exc
    if answer.status_code != 200:
        raise OutputError(f"{url}: answered {answer.status_code}: {answer.text[:500]}")
    return "loaded"


def test_output(config: Mapping[str, Any]) -> str:
    """Check the configured output can be reached (and, for Elasticsearch, its version).

    Returns the report; raises OutputError carrying the report when a check fails.
    """
    outputs = config.get("output") or {}
    if "elasticsearch" in outputs:
        return _test_elasticsearch(config)
    if "kafka" in outputs:
        from .outputs.kafka import check_brokers

        return check_brokers(outputs["kafka"])
    for name in ("logstash", "redis"):
        if name in outputs:
            return _test_connect(name, outputs[name])
    if "file" in outputs:
        return _test_file(outputs["file"])
    if "console" in outputs:
        return _test_console()
    raise ConfigError("output", f"`test output` supports elasticsearch, kafka, logstash, redis, file and "
                      f"console, not {', '.join(outputs)}")


def _test_console() -> str:
    try:
        os.write(1, b"")  # fails (EBADF) if standard output is closed
    except OSError as exc:
        raise OutputError(f"console: standard output...\n  write... ERROR {exc.strerror or exc}") from exc
    return "console: standard output...\n  write... OK"


def _test_file(section: Mapping[str, Any]) -> str:
    """The file output's directory exists (or can be made) and a file can be created and written in it."""
    directory = section["path"]
    target = os.path.join(directory, section.get("filename") or "packetshipper")
    lines = [f"file: {target}..."]
    try:
        os.makedirs(directory, exist_ok=True)
        lines.append("  directory... OK")
        if os.path.exists(target) and not os.access(target, os.W_OK):
            raise PermissionError(f"{target} is not writable")
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".packetshipper-test-") as probe:
            probe.write(b"{}\n")
            probe.flush()
    except OSError as exc:
        lines.append(f"  write... ERROR {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        raise OutputError("\n".join(lines)) from exc
    lines.append("  write... OK")
    return "\n".join(lines)


def _test_elasticsearch(config: Mapping[str, Any]) -> str:
    output = _es_output(config)
    lines: list[str] = []
    try:
        for url in output.urls:
            lines.append(f"elasticsearch: {url}...")
            lines.extend(_dial(url.split("://", 1)[1].split("/", 1)[0]))
            lines.append("  TLS... " + ("OK" if url.startswith("https://") else "WARN secure connection disabled"))
            try:
                version = output.server_version(url)
            except OutputError as exc:
                lines.append(f"  talk to server... ERROR {exc}")
                raise OutputError("\n".join(lines)) from exc
            lines += ["  talk to server... OK", f"  version: {version}"]
    finally:
        output.close()
    return "\n".join(lines)


def _dial(hostport: str) -> list[str]:
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")
    lines = ["  connection..."]
    try:
        # str(): typeshed also allows non-IP sockaddrs; for AF_INET/AF_INET6 the address is already text
        addresses = sorted({str(info[4][0]) for info in socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)})
    except (OSError, ValueError) as exc:
        lines.append(f"    dns lookup... ERROR {exc}")
        raise OutputError("\n".join(lines)) from exc
    lines += ["    dns lookup... OK", f"    addresses: {', '.join(addresses)}"]
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        lines.append(f"    dial up... ERROR {exc}")
        raise OutputError("\n".join(lines)) from exc
    lines.append("    dial up... OK")
    return lines


def _test_connect(name: str, section: Mapping[str, Any]) -> str:
    from .outputs import output_class

    cls = output_class(name)
    own = {k: v for k, v in section.items() if k in cls.settings}
    output = cls(validate(cls.settings, own, f"output.{name}"))
    lines = [f"{name}: {', '.join(section.get('hosts') or [])}..."]
    try:
        output.connect()
    except OutputError as exc:
        lines.append(f"  connection... ERROR {exc}")
        raise OutputError("\n".join(lines)) from exc
    finally:
        output.close()
    lines.append("  connection... OK")
    return "\n".join(lines)
