"""What `packetshipper setup --index-management`, `export template` and `test output` do.

Each takes the validated config (`output.<name>` sections validated by the output registry; the raw
`setup` section is checked here against SETUP_SETTINGS, named as Beats names them).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import requests

from .outputs.base import OutputError
from .outputs.elasticsearch import ElasticsearchOutput
from .outputs.index_format import FormatString
from .settings import ConfigError, Setting, Spec, any_mapping, boolean, string, validate
from .version import __version__

__all__ = ["SETUP_SETTINGS", "export_template", "ilm_policy", "setup_index_management", "test_output"]

DEFAULT_NAME = "packetshipper-%{[agent.version]}"

SETUP_SETTINGS: Spec = {
    "template": {
        "enabled": Setting(boolean, True, "Install the index template."),
        "name": Setting(string, DEFAULT_NAME, "Template name; a format string."),
        "pattern": Setting(string, DEFAULT_NAME, "Index pattern the template applies to."),
        "overwrite": Setting(boolean, False, "Replace an existing template of that name."),
        "settings": any_mapping("Index settings merged over the defaults."),
    },
    "ilm": {
        "enabled": Setting(boolean, True, "Install the lifecycle policy and name it in the template."),
        "policy_name": Setting(string, "packetshipper", "Lifecycle policy name."),
        "overwrite": Setting(boolean, False, "Replace an existing policy of that name."),
    },
}

_NAMING_EVENT = {"agent": {"version": __version__}}


def _setup(config: Mapping[str, Any]) -> dict[str, Any]:
    return validate(SETUP_SETTINGS, config.get("setup"), "setup")


def _render(text: str, key: str) -> str:
    try:
        return FormatString(text).render(_NAMING_EVENT).lower()
    except Exception as exc:  # ConfigError or SelectorError: either way the setting is unusable
        raise ConfigError(key, f"cannot name the template from {text!r}: {exc}") from None


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


def _es_output(config: Mapping[str, Any]) -> ElasticsearchOutput:
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
    for name in ("logstash", "redis"):
        if name in outputs:
            return _test_connect(name, outputs[name])
    raise ConfigError("output", f"`test output` supports elasticsearch, logstash and redis, not {', '.join(outputs)}")


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
