"""Config and command-line edges (issue 7, part 5): each mistake is one line naming the key, exit 1."""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pcapy
import pytest
import yaml
from packetshipper import cli, setup_commands
from packetshipper.capture import META, FileSource
from packetshipper.config import (
    MAX_YAML_DEPTH,
    _BoundedLoader,
    default_protocols,
    every_setting,
    parse_yaml,
    read_yaml,
)
from packetshipper.settings import MAX_QUOTE, ConfigError

DATA = Path(__file__).parent / "pcaps" / "packetbeat"
DNS_PCAP = DATA / "dns_google_com.pcap"  # two packets: a query and its answer


@pytest.fixture(autouse=True)
def _empty_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No packetshipper.yml is picked up by the in-process loads unless a test names one."""
    monkeypatch.chdir(tmp_path)


def _cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="packetshipper-edges-") as workdir:
        return subprocess.run([sys.executable, "-m", "packetshipper.cli", *args], capture_output=True, text=True,
                              timeout=120, cwd=cwd or workdir)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _args(*overrides: str, config: str | None = None, **flags: Any) -> argparse.Namespace:
    values: dict[str, Any] = {"config": config, "overrides": list(overrides), "command": "test", "read": None,
                              "interface": None, "topspeed": False, "loop": None, "bpf": None}
    values.update(flags)
    return argparse.Namespace(**values)


def _load(*overrides: str, **flags: Any) -> dict[str, Any]:
    return cli._load(_args(*overrides, **flags))


def _error(*overrides: str, **flags: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(*overrides, **flags)
    return caught.value


# --- -E values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["%{[agent.version]}", "%{[agent.version]}-%{+yyyy.MM.dd}", "a: b: c", "*not_an_alias", "@at", "`tick", "{[x]}"])
def test_an_E_value_that_is_not_yaml_is_taken_as_text(text: str) -> None:
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)  # the premise: PyYAML refuses each of these
    config = _load(f"output.elasticsearch.index={text}")
    assert config["output"]["elasticsearch"]["index"] == text


def test_an_E_value_that_is_yaml_is_read_as_yaml() -> None:
    config = _load("output.elasticsearch.hosts=[\"a:9200\", 'b:9201']", "packetshipper.flows.enabled=false",
                   "queue.mem.events=4096", "output.elasticsearch.index=")
    assert config["output"]["elasticsearch"]["hosts"] == ["a:9200", "b:9201"]
    assert config["packetshipper"]["flows"]["enabled"] is False
    assert config["queue"]["mem"]["events"] == 4096
    assert config["output"]["elasticsearch"]["index"] == ""


def test_E_addresses_a_list_element_by_number() -> None:
    defaults = [entry["type"] for entry in _load()["packetshipper"]["protocols"]]
    config = _load("packetshipper.protocols.1.ports=[81]")
    protocols = config["packetshipper"]["protocols"]
    assert [entry["type"] for entry in protocols] == defaults
    assert protocols[1] == {"type": defaults[1], "ports": [81]}
    assert all("ports" not in entry for i, entry in enumerate(protocols) if i != 1)


def test_E_list_element_in_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "ps.yml"
    path.write_text("packetshipper.protocols:\n  - type: dns\n  - type: http\n    ports: [80]\n")
    config = cli._load(_args("packetshipper.protocols.1.ports=[81, 82]", "packetshipper.protocols.2={type: icmp}",
                             config=str(path)))
    assert config["packetshipper"]["protocols"] == [{"type": "dns"}, {"type": "http", "ports": [81, 82]},
                                                    {"type": "icmp"}]
    from packetshipper.registry import build_modules

    http = next(m for m in build_modules(config["packetshipper"]["protocols"]) if m.name == "http")
    assert list(http.ports) == [81, 82]


MODULES = len(default_protocols())  # the list `packetshipper.protocols` is without a config file


@pytest.mark.parametrize("key", [f"packetshipper.protocols.{MODULES + 4}.ports", "packetshipper.protocols.http.ports",
                                 "packetshipper.protocols.-1.ports"])
def test_E_a_list_element_that_does_not_exist_names_the_key(key: str) -> None:
    error = _error(f"{key}=[81]")
    assert error.path == ".".join(key.split(".")[:3])
    assert f"this is a list of {MODULES}; give an element number from 0 to {MODULES - 1}" in error.reason


def test_a_leading_or_trailing_space_in_E_is_ignored() -> None:
    config = _load("  output.console.pretty = true  ", " packetshipper.flows.period=  20s ")
    assert config["output"]["console"]["pretty"] is True
    assert config["packetshipper"]["flows"]["period"] == 20.0


@pytest.mark.parametrize("item", ["novalue", "=true", "a..b=1", ".a=1", "a.=1", " = "])
def test_a_malformed_E_is_one_error(item: str) -> None:
    assert "-E expects KEY=VALUE" in str(_error(item))


def test_E_through_the_command_line() -> None:
    result = _cli("-E", "output.elasticsearch.index=%{[agent.version]}-x", "-E", " packetshipper.protocols.1.ports=[81] ",
                  "export", "config")
    assert result.returncode == 0, result.stderr
    exported = yaml.safe_load(result.stdout)
    assert exported["output"]["elasticsearch"]["index"] == "%{[agent.version]}-x"
    assert exported["packetshipper"]["protocols"][1]["ports"] == [81]
    line = _one_error_line(_cli("-E", f"packetshipper.protocols.{MODULES + 1}.ports=[81]", "test", "config"))
    assert line.startswith(f"packetshipper: config error: packetshipper.protocols.{MODULES + 1}: ")


# --- YAML bounds ----------------------------------------------------------------------------------------


def _nested_flow(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


def _nested_block(depth: int) -> str:
    return "".join(" " * i + "k:\n" for i in range(depth)) + " " * depth + "k: 1\n"


def test_yaml_nested_within_the_bound_loads() -> None:
    assert parse_yaml(_nested_flow(MAX_YAML_DEPTH - 2), "x") is not None
    assert parse_yaml(_nested_block(MAX_YAML_DEPTH - 2), "x") is not None


@pytest.mark.parametrize("text", [_nested_flow(MAX_YAML_DEPTH + 1), _nested_flow(100_000),
                                  _nested_block(MAX_YAML_DEPTH + 1), _nested_block(5_000)],
                         ids=["flow-65", "flow-100000", "block-65", "block-5000"])
def test_deeply_nested_yaml_is_one_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"refused YAML at line .*: nested more than {MAX_YAML_DEPTH} levels"):
        read_yaml(str(path))
    line = _one_error_line(_cli("-c", str(path), "test", "config"))
    assert str(path) in line and "nested more than" in line


def test_deeply_nested_E_value_is_one_error() -> None:
    assert "nested more than" in str(_error("fields.x=" + "[" * 10_000 + "]" * 10_000))
    assert "more than 64 dotted parts" in str(_error("fields." + ".".join(["a"] * 5_000) + "=1"))


def _laughs(levels: int, width: int = 9) -> str:
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "fields:\n" + "".join(f"  {line}\n" for line in lines)


@pytest.fixture
def never_constructed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if the YAML reader builds Python objects: a bomb must be refused before that."""

    def refuse(self: Any, node: Any) -> Any:
        raise AssertionError("the document was built before it was refused")

    monkeypatch.setattr(_BoundedLoader, "construct_document", refuse)


@pytest.mark.parametrize("text", [_laughs(9), _laughs(6, 50), "fields: &a [*a]\n", "fields: &a {b: [1, *a]}\n",
                                  "a: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(101))],
                         ids=["laughs-9x9", "laughs-6x50", "self-list", "self-map", "101-aliases"])
def test_yaml_alias_bombs_are_refused_before_expanding(text: str, never_constructed: None) -> None:
    with pytest.raises(ConfigError, match="refused YAML at line") as caught:
        parse_yaml(text, "bomb.yml")
    assert any(phrase in str(caught.value) for phrase in ("aliases expand to more than", "refers to a list",
                                                          "more than 100 aliases"))


def test_a_few_aliases_still_work() -> None:
    text = "base: &base {hosts: ['a:9200'], timeout: 5s}\noutput:\n  elasticsearch:\n    <<: *base\n    index: x\n"
    raw = parse_yaml(text, "x")
    assert raw["output"]["elasticsearch"] == {"hosts": ["a:9200"], "timeout": "5s", "index": "x"}


def test_an_alias_bomb_in_E_or_a_file_is_one_error_line(tmp_path: Path) -> None:
    bomb = _laughs(9).replace("\n", "\n  ")  # indented under the `-E` key below
    assert "aliases expand" in str(_error("fields=" + "{" + ", ".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'lol'] * 9)}]" for i in range(9)) + "}"))
    path = tmp_path / "bomb.yml"
    path.write_text(bomb)
    line = _one_error_line(_cli("-c", str(path), "test", "config"))
    assert "aliases expand to more than" in line


@pytest.mark.parametrize("text", ["a: 2024-02-30\n", "a: !!int nope\n", "a: !!float x\n",
                                  "a: !!python/object/apply:os.system [true]\n", "a: !!bool maybe\n",
                                  "a: !!timestamp nope\n", "a: !!set [1]\n", "\x00"])
def test_yaml_values_pyyaml_cannot_build_are_one_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="invalid YAML"):
        read_yaml(str(path))


# --- messages quote at most 200 characters of a value ---------------------------------------------------


def _quoted_run(message: str, value: str) -> int:
    """The longest run of `value` that `message` quotes."""
    best = 0
    for size in range(1, len(value) + 1):
        if value[:size] not in message:
            break
        best = size
    return best


@pytest.mark.parametrize(("key", "template"), [
    ("packetshipper.interfaces.snaplen", "{v}"),            # integer
    ("packetshipper.flows.timeout", "{v}"),                 # duration
    ("queue.disk.max_size", "{v}"),                         # size
    ("output.file.permissions", "{v}"),                     # a converter outside settings.py
    ("output.logstash.compression_level", "{v}"),
    ("packetshipper.protocols", "[{{type: {v}}}]"),        # the module registry's message
    ("packetshipper.protocols.0.ports", "[{v}]"),
    ("setup.template.name", "'%{{[{v}]}}'"),
    ("logging.level", "{v}"),
])
def test_an_error_quotes_at_most_200_characters_of_the_value(key: str, template: str) -> None:
    value = "x" * 5000
    overrides = [f"{key}={template.format(v=value)}"]
    prerequisite = {"packetshipper.protocols.0": "packetshipper.protocols=[{type: http}]",
                    "output.file": "output.file.path=/tmp", "output.logstash": "output.logstash.hosts=[x]"}
    overrides[:0] = [item for prefix, item in prerequisite.items() if key.startswith(prefix)]
    error = _error(*overrides)
    assert "\n" not in str(error)
    assert 0 < _quoted_run(str(error), value) <= MAX_QUOTE, str(error)
    assert "more characters" in str(error)


def test_a_long_unknown_key_is_cut_too() -> None:
    key = "k" * 5000
    error = _error(f"packetshipper.{key}=1")
    assert _quoted_run(str(error), key) <= MAX_QUOTE
    line = _one_error_line(_cli("-E", f"packetshipper.flows.{key}=1", "test", "config"))
    assert len(line) < 1000


def test_a_value_with_newlines_still_gives_one_line() -> None:
    line = _one_error_line(_cli("-E", "packetshipper.interfaces.snaplen=|\n  one\n  two\n", "test", "config"))
    assert "packetshipper.interfaces.snaplen: expected an integer" in line


# --- numbers: NaN, infinity, negatives, ranges ----------------------------------------------------------


SETTINGS = [(path, setting) for path, setting in every_setting() if not setting.ignored]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 2**63, -(2**63), 10**400])
def test_no_setting_accepts_nan_infinity_or_a_huge_integer(value: Any) -> None:
    accepted = []
    for path, setting in SETTINGS:
        try:
            setting.convert(value)
        except (ValueError, TypeError, ConfigError):
            continue
        accepted.append(path)
    assert accepted == []


DURATIONS = [path for path, setting in SETTINGS if isinstance(setting.default, float)]


def test_the_duration_settings_are_found() -> None:
    assert {"packetshipper.flows.timeout", "queue.mem.flush.timeout", "output.elasticsearch.timeout",
            "packetshipper.protocols.http.transaction_timeout"} <= set(DURATIONS)


@pytest.mark.parametrize("value", ["-5s", "-1ms", -0.5, -3, ".nan", ".inf", "-.inf", "1" * 400 + "h", "366 * 24h",
                                   "9999999h", "1e400s"])
def test_every_duration_refuses_negative_nan_infinite_and_absurd_values(value: Any) -> None:
    if isinstance(value, str) and value.startswith((".", "-.")):
        value = yaml.safe_load(value)
    accepted = []
    for path, setting in SETTINGS:
        if path in DURATIONS:
            try:
                setting.convert(value)
            except (ValueError, ConfigError):
                continue
            accepted.append(path)
    assert accepted == []


def test_flows_period_minus_one_still_means_only_final_reports() -> None:
    assert _load("packetshipper.flows.period=-1")["packetshipper"]["flows"]["period"] == -1.0
    assert "packetshipper.flows.period" in str(_error("packetshipper.flows.period=-2s"))


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("packetshipper.flows.timeout", ".nan", "expected a duration of 0 or more"),
    ("packetshipper.flows.timeout", ".inf", "at most 31536000s"),
    ("packetshipper.tcp.gap_timeout", "-2s", "expected a duration of 0 or more"),
    ("queue.disk.max_size", "-1", "expected a size from 0 to 1PiB"),
    ("queue.disk.max_size", "-10MB", "expected a size such as 10MB"),
    ("queue.disk.max_size", "99999999999999999999999999999999999999999999999999999999999999999999999999999TB",
     "expected a size from 0 to 1PiB"),
    ("packetshipper.tcp.max_message_size", ".inf", "expected a size such as 10MB"),
    ("packetshipper.interfaces.buffer_size_mb", "100000", "must be from 1 to 2047"),
    ("packetshipper.interfaces.snaplen", "1000000", "must be from 64 to 262144"),
    ("queue.mem.events", "99999999999999999999", "must be from"),
    ("packetshipper.flows.max_flows", "-1", "must be at least 1"),
    ("logging.files.keepfiles", "100000", "must be from 2 to 1024"),
    ("logging.files.permissions", "0o1777", "from 0 to 511"),
    ("http.port", "70000", "65535"),
])
def test_out_of_range_numbers_name_the_key(key: str, value: str, reason: str) -> None:
    error = _error(f"{key}={value}")
    assert error.path == key
    assert reason in error.reason


def test_buffer_size_bound_is_what_libpcap_takes() -> None:
    # 2047 MiB is the largest size libpcap's int argument holds; 2048 MiB overflows it (the crash the
    # bound prevents). No capture is started: set_buffer_size only records the size.
    handle = pcapy.create("lo")
    handle.set_buffer_size(2047 * 1024 * 1024)
    with pytest.raises(OverflowError):
        handle.set_buffer_size(2048 * 1024 * 1024)
    assert _load("packetshipper.interfaces.buffer_size_mb=2047")["packetshipper"]["interfaces"]["buffer_size_mb"] == 2047


def test_buffer_size_out_of_range_on_the_command_line_is_one_line() -> None:
    line = _one_error_line(_cli("-i", "lo", "-E", "packetshipper.interfaces.buffer_size_mb=100000"))
    assert line == ("packetshipper: config error: packetshipper.interfaces.buffer_size_mb: must be from 1 to 2047, "
                    "got 100000")


# --- -l, -i, -I ---------------------------------------------------------------------------------------------


def _packets(batches: Any) -> int:
    return sum(len(meta) // META.size for _buf, meta in batches)


def test_l_0_reads_the_file_forever() -> None:
    once = _packets(FileSource(str(DNS_PCAP), loops=1).batches())
    assert once == 2
    assert _packets(FileSource(str(DNS_PCAP), loops=3).batches()) == 3 * once
    forever = FileSource(str(DNS_PCAP), loops=0)
    assert _packets(itertools.islice(forever.batches(), 50)) == 50 * once
    forever.close()
    config = _load(read=str(DNS_PCAP), loop=0)
    assert config["packetshipper"]["interfaces"]["loop"] == 0


def _dns_events_in(directory: Path) -> int:
    """DNS events in the file output and its rotated files: a fast replay rotates `events` between two reads."""
    return sum(path.read_text().count('"type":"dns"') for path in directory.glob("events*"))


def test_l_0_on_the_command_line_replays_until_stopped(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "packetshipper.cli", "-I", str(DNS_PCAP), "-t", "-l", "0",
         "-E", "packetshipper.protocols=[{type: dns}]", "-E", "queue.mem.flush.timeout=0s",
         "-E", f"output.file.path={tmp_path}", "-E", "output.file.filename=events"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        shipped = 0
        while time.monotonic() < deadline and process.poll() is None:
            shipped = _dns_events_in(tmp_path)
            if shipped >= 100:  # 100 passes of a 1-query file
                break
            time.sleep(0.2)
        assert process.poll() is None, "the replay ended by itself"
        assert shipped >= 100
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_l_negative_is_one_error_line() -> None:
    line = _one_error_line(_cli("-I", str(DNS_PCAP), "-t", "-l", "-1"))
    assert line.startswith("packetshipper: config error: packetshipper.interfaces.loop: must be at least 0")


def test_l_that_is_not_a_number_is_one_usage_line() -> None:
    line = _one_error_line(_cli("-I", str(DNS_PCAP), "-l", "twice"))
    assert line.startswith("packetshipper: usage error: argument -l/--loop: invalid int value")


def test_i_with_I_is_an_error() -> None:
    error = _error(read=str(DNS_PCAP), interface="lo")
    assert error.path == "packetshipper.interfaces" and "-i" in error.reason and "-I" in error.reason
    line = _one_error_line(_cli("-i", "lo", "-I", str(DNS_PCAP), "-t"))
    assert line.startswith("packetshipper: config error: packetshipper.interfaces: -i (capture live) and -I")


# --- test config agrees with the later commands -----------------------------------------------------------


BEATS_ONLY = ["setup.kibana.host=localhost:5601", "setup.kibana.space.id=x", "setup.dashboards.enabled=true",
              "setup.ilm.rollover_alias=packetbeat", "setup.ilm.pattern={now/d}-000001", "setup.ilm.check_exists=false",
              "setup.ilm.policy_file=/etc/policy.json", "setup.template.fields=fields.yml",
              "setup.template.append_fields=[{name: x, type: keyword}]", "setup.template.json.enabled=false",
              "setup.template.type=index"]


@pytest.mark.parametrize("override", BEATS_ONLY)
def test_beats_only_setup_keys_are_accepted_everywhere_with_a_warning(override: str,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="packetshipper.config"):
        config = _load(override, "output.elasticsearch.hosts=['127.0.0.1:1']")
    key = override.split("=")[0]
    setting = next(path for path, entry in every_setting() if entry.ignored and f"{key}.".startswith(f"{path}."))
    assert f"{setting}: has no effect in packetshipper; ignored" in caplog.text
    setup_commands.check_config(config)  # what `test config` adds
    assert setup_commands.export_template(config)["index_patterns"]  # `export template` takes it too


@pytest.mark.parametrize(("override", "key"), [
    ("setup.kibana2.host=x", "setup.kibana2"),
    ("setup.ilm.rollover=x", "setup.ilm.rollover"),
    ("setup.template.name=%{[host.name]}", "setup.template.name"),
    ("setup.template.pattern=%{[", "setup.template.pattern"),
    ("setup.template.settings=5", "setup.template.settings"),
])
def test_setup_keys_a_later_command_refuses_are_refused_by_test_config(override: str, key: str) -> None:
    line = _one_error_line(_cli("-E", override, "test", "config"))
    assert line.startswith(f"packetshipper: config error: {key}: ")
    # The command that uses the key refuses it with the same line.
    assert _one_error_line(_cli("-E", override, "export", "template")) == line


def test_test_config_builds_the_output_as_run_does() -> None:
    overrides = ["-E", "output.elasticsearch.api_key=id:key", "-E", "output.elasticsearch.password=pw"]
    line = _one_error_line(_cli(*overrides, "test", "config"))
    assert line == "packetshipper: config error: output.elasticsearch.api_key: cannot set both api_key and username/password"
    run = _one_error_line(_cli(*overrides, "-I", str(DNS_PCAP), "-t"))
    assert run == line


@pytest.mark.parametrize(("overrides", "line"), [
    (["queue.mem.events=100", "queue.disk.max_size=10MB"],
     "packetshipper: config error: queue: configure either queue.mem or queue.disk, not both"),
    (["queue.disk.max_size=1MB", "queue.disk.segment_size=2MB"],
     "packetshipper: config error: queue.disk.segment_size: must not be larger than queue.disk.max_size"),
    (["packetshipper.interfaces.bpf_filter=port port"],
     "packetshipper: config error: packetshipper.interfaces.bpf_filter: bad BPF filter 'port port': "
     "can't parse filter expression: syntax error"),
])
def test_test_config_refuses_what_run_refuses_before_capturing(overrides: list[str], line: str) -> None:
    argv = [arg for item in overrides for arg in ("-E", item)]
    assert _one_error_line(_cli(*argv, "test", "config")) == line
    run = _one_error_line(_cli(*argv, "-I", str(DNS_PCAP), "-t"))
    # run refuses it too, with the same reason (the BPF filter as a capture error, when libpcap compiles it)
    assert run.split(": ", 2)[2] in line


def test_test_config_accepts_a_filter_only_some_link_types_take() -> None:
    result = _cli("-E", "packetshipper.interfaces.bpf_filter=vlan and udp port 53", "test", "config")
    assert result.returncode == 0, result.stderr  # fine on Ethernet, refused on Linux cooked captures


@pytest.mark.parametrize("key", ["packetshipper.interfaces.bpf_filter", "output.file.path", "logging.files.name",
                                 "output.elasticsearch.hosts", "tags"])
def test_a_nul_character_in_text_is_a_config_error(tmp_path: Path, key: str) -> None:
    path = tmp_path / "nul.yml"
    value = '"a\\0b"' if key not in ("output.elasticsearch.hosts", "tags") else '["a\\0b"]'
    path.write_text(f"{key}: {value}\n" + ("output.file.filename: x\n" if key == "output.file.path" else ""))
    line = _one_error_line(_cli("-c", str(path), "-I", str(DNS_PCAP), "-t"))
    assert line.startswith(f"packetshipper: config error: {key}: must not contain a NUL character")


def test_test_config_warns_and_passes_for_a_packetbeat_style_setup(tmp_path: Path) -> None:
    path = tmp_path / "ps.yml"
    path.write_text("setup.kibana:\n  host: localhost:5601\nsetup.ilm.rollover_alias: packetbeat\n"
                    "setup.template.name: packetbeat\nsetup.template.pattern: packetbeat-*\n")
    result = _cli("-c", str(path), "test", "config")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Config OK"
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 2 and "setup.kibana" in warnings[1] and "setup.ilm.rollover_alias" in warnings[0]


# --- test output for the file output ----------------------------------------------------------------------


def test_test_output_for_a_writable_file_output(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir"
    result = _cli("-E", f"output.file.path={target}", "-E", "output.file.filename=events", "test", "output")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"file: {target / 'events'}...", "  directory... OK", "  write... OK"]
    assert list(target.iterdir()) == []  # the probe file is removed


@pytest.mark.parametrize("case", ["path_is_a_file", "under_a_file", "read_only_dir"])
def test_test_output_for_a_file_output_that_cannot_be_written(tmp_path: Path, case: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a directory\n")
    path = {"path_is_a_file": blocker, "under_a_file": blocker / "sub", "read_only_dir": tmp_path / "ro"}[case]
    if case == "read_only_dir":
        # As root, only a read-only mount refuses writes to a directory: /proc/1 is one everywhere.
        path = Path("/proc/1")
    result = _cli("-E", f"output.file.path={path}", "test", "output")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"packetshipper: output error: file: {path / 'packetshipper'}...")
    assert "ERROR" in result.stderr


def _largest_accepted(setting: Any) -> Any:
    """The largest value `setting` takes, by bisection from its default."""
    def accepts(value: Any) -> bool:
        try:
            setting.convert(value)
        except (ValueError, TypeError, ConfigError):
            return False
        return True

    low, high = setting.default, 2**63
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if accepts(middle) else (low, middle)
    return low


def test_every_number_at_the_top_of_its_range_still_runs() -> None:
    modules = {entry["type"]: i for i, entry in enumerate(default_protocols())}
    overrides = []
    for path, setting in SETTINGS:
        default = setting.default
        if isinstance(default, bool) or not isinstance(default, int | float) or path.endswith(".loop"):
            continue  # loop: the top is two billion passes over the file
        if path.startswith("packetshipper.protocols."):
            _, _, name, key = path.split(".", 3)
            path = f"packetshipper.protocols.{modules[name]}.{key}"
        elif not path.startswith(("packetshipper.", "queue.mem.", "output.console.", "logging.metrics.")):
            continue  # not used by a console run
        overrides += ["-E", f"{path}={_largest_accepted(setting)}"]
    assert len(overrides) > 60
    result = _cli("demo", *overrides)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    types = {line.split('"type":"', 1)[1].split('"', 1)[0] for line in result.stdout.splitlines() if '"type":"' in line}
    assert {"flow", "dns", "http", "icmp"} <= types


def test_test_output_for_the_console_checks_standard_output(tmp_path: Path) -> None:
    result = _cli("test", "output")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["console: standard output...", "  write... OK"]
    closed = subprocess.run([sys.executable, "-m", "packetshipper.cli", "test", "output"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=120, cwd=tmp_path,
                            preexec_fn=lambda: os.close(1))
    assert closed.returncode == 1 and "Traceback" not in closed.stderr
    assert "write... ERROR Bad file descriptor" in closed.stderr
