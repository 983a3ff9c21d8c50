"""`export config` masks passwords, API keys, tokens and TLS key passphrases (issue 7, part 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packetshipper.config import every_setting, validate_config
from packetshipper.setup_commands import MASK, export_config, mask_secrets

SECRET = "s3cr3t-Value-42"


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, **(env or {})})


def _nested(path: str, value: Any) -> dict[str, Any]:
    node: Any = value
    for part in reversed(path.split(".")):
        node = {part: node}
    return node


SECRET_SETTINGS = sorted(path for path, _setting in every_setting()
                         if path.rsplit(".", 1)[-1] in ("password", "api_key", "key_passphrase", "token"))


def test_the_secret_settings_are_found() -> None:
    assert {"output.elasticsearch.password", "output.elasticsearch.api_key", "output.redis.password",
            "output.elasticsearch.ssl.key_passphrase", "output.logstash.ssl.key_passphrase",
            "output.redis.ssl.key_passphrase"} <= set(SECRET_SETTINGS)


@pytest.mark.parametrize("path", SECRET_SETTINGS)
def test_every_secret_setting_is_masked(path: str) -> None:
    output = path.split(".")[1]
    raw = _nested(path, SECRET)
    raw["output"][output].setdefault("hosts", ["127.0.0.1:1"])
    config = validate_config(raw)
    assert SECRET in repr(config)  # the premise: the validated config holds it
    text = export_config(config)
    assert SECRET not in text
    exported = yaml.safe_load(text)
    node = exported
    for part in path.split("."):
        node = node[part]
    assert node == MASK


def test_headers_urls_and_custom_fields_are_masked_but_the_rest_is_kept() -> None:
    config = validate_config({
        "output": {"elasticsearch": {
            "hosts": [f"https://elastic:{SECRET}@es1:9200", "es2:9200"],
            "username": "elastic",
            "headers": {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET, "X-Trace": "keep-me"},
            "ssl": {"key": "/etc/pki/client.key", "certificate": "/etc/pki/client.crt"},
        }},
        "fields": {"service_token": SECRET, "team": "net"},
    })
    text = export_config(config)
    assert SECRET not in text
    exported = yaml.safe_load(text)
    es = exported["output"]["elasticsearch"]
    assert es["hosts"] == [f"https://elastic:{MASK}@es1:9200", "es2:9200"]
    assert es["username"] == "elastic"
    assert es["headers"] == {"Authorization": MASK, "X-Api-Key": MASK, "X-Trace": "keep-me"}
    assert es["ssl"]["key"] == "/etc/pki/client.key"  # a path, not a secret
    assert exported["fields"] == {"service_token": MASK, "team": "net"}


def test_masking_leaves_unset_secrets_and_the_config_itself_alone() -> None:
    config = validate_config({"output": {"elasticsearch": {"password": SECRET}}})
    masked = mask_secrets(config)
    assert masked["output"]["elasticsearch"]["api_key"] is None
    assert config["output"]["elasticsearch"]["password"] == SECRET  # a copy was masked


def test_export_config_on_the_command_line_masks_a_secret_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "ps.yml"
    config.write_text("output.redis:\n  hosts: ['127.0.0.1:6379']\n  password: ${REDIS_PASSWORD}\n"
                      "  ssl.key_passphrase: ${KEY_PASS:fallback-" + SECRET + "}\n")
    result = _cli("-c", str(config), "export", "config", cwd=tmp_path, env={"REDIS_PASSWORD": SECRET})
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    redis = yaml.safe_load(result.stdout)["output"]["redis"]
    assert redis["password"] == MASK and redis["ssl"]["key_passphrase"] == MASK
    # What was exported is a config that loads again (with the secrets to be filled back in).
    (tmp_path / "exported.yml").write_text(result.stdout)
    again = _cli("-c", str(tmp_path / "exported.yml"), "test", "config", cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_dotted_property_names_are_masked_by_their_last_part() -> None:
    # librdkafka-style pass-through properties name secrets with dots.
    masked = mask_secrets({"properties": {"sasl.password": SECRET, "sasl.oauthbearer.client.secret": SECRET,
                                          "bootstrap.servers": "b:9092"}})
    assert masked == {"properties": {"sasl.password": MASK, "sasl.oauthbearer.client.secret": MASK,
                                     "bootstrap.servers": "b:9092"}}
