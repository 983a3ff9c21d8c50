"""The `packetshipper` command, Packetbeat-style.

    packetshipper [run] [-c packetshipper.yml] [-I FILE [-t] | -i IFACE] [--bpf F] [-e] [-d SEL] [-E k=v]
    packetshipper demo             the bundled sample capture, every module, events to the console
    packetshipper devices | version | modules
    packetshipper test config | test output
    packetshipper export config | export template
    packetshipper setup --index-management

Problems the user can fix (a bad config key, a missing or unreadable capture) print one line naming the
problem and exit 1; nothing prints a traceback for them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from importlib import resources
from typing import Any

import yaml

from .capture import CaptureError, list_devices
from .config import default_config, read_yaml, validate_config
from .logs import setup_logging
from .outputs.base import OutputError
from .settings import ConfigError
from .version import __version__

__all__ = ["main"]

COMMANDS = ("run", "demo", "devices", "version", "modules", "test", "export", "setup")
DEFAULT_CONFIG = "packetshipper.yml"
log = logging.getLogger("packetshipper")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", help=f"config file (default: {DEFAULT_CONFIG} if present)")
    common.add_argument("-E", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config setting, e.g. -E output.console.pretty=true")
    common.add_argument("-e", dest="stderr", action="store_true", help="log to stderr")
    common.add_argument("-d", dest="selectors", metavar="SELECTORS", help="debug selectors, comma-separated (* = all)")

    parser = argparse.ArgumentParser(prog="packetshipper", description="Network traffic shipper for the ELK stack.")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", parents=[common], help="capture and ship events (the default)")
    _capture_options(run)
    demo = sub.add_parser("demo", parents=[common], help="read the bundled sample capture, events to the console")
    demo.add_argument("--pretty", action="store_true", help="indent the JSON events")
    sub.add_parser("devices", parents=[common], help="list capture devices")
    sub.add_parser("version", parents=[common], help="print the version")
    sub.add_parser("modules", parents=[common], help="list protocol modules, their ports and whether enabled")
    test = sub.add_parser("test", parents=[common], help="check the config or the output")
    test.add_argument("what", choices=("config", "output"))
    export = sub.add_parser("export", parents=[common], help="print the effective config or the index template")
    export.add_argument("what", choices=("config", "template"))
    setup = sub.add_parser("setup", parents=[common], help="install the index template into Elasticsearch")
    setup.add_argument("--index-management", action="store_true", help="install the composable index template")
    return parser


def _capture_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", "--read", metavar="FILE", help="read packets from a pcap or pcapng file")
    parser.add_argument("-i", "--interface", metavar="NAME", help="capture live on this interface (`any` for all)")
    parser.add_argument("-t", dest="topspeed", action="store_true", help="read the file as fast as possible")
    parser.add_argument("--bpf", metavar="FILTER", help="BPF filter (default: from the enabled modules' ports)")
    parser.add_argument("-l", "--loop", type=int, metavar="N", help="read the file N times")


def _raw_config(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The config dict before validation, and where it came from (None: built-in defaults)."""
    path = args.config
    if path is None and args.command != "demo" and os.path.exists(DEFAULT_CONFIG):
        path = DEFAULT_CONFIG
    if path is None:
        return {}, None
    return read_yaml(path), path


def _apply_overrides(raw: dict[str, Any], overrides: list[str]) -> None:
    for item in overrides:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError("", f"-E expects KEY=VALUE, got {item!r}")
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = yaml.safe_load(value) if value else ""


def _load(args: argparse.Namespace) -> dict[str, Any]:
    raw, path = _raw_config(args)
    _apply_overrides(raw, args.overrides)
    ps = raw.setdefault("packetshipper", {})
    if not isinstance(ps, dict):
        raise ConfigError("packetshipper", "expected a mapping")
    if path is None and "protocols" not in ps:
        ps["protocols"] = default_config()["packetshipper"]["protocols"]
    interfaces = ps.setdefault("interfaces", {})
    if not isinstance(interfaces, dict):
        raise ConfigError("packetshipper.interfaces", "expected a mapping")
    if getattr(args, "read", None):
        interfaces["file"] = args.read
    if getattr(args, "interface", None):
        interfaces["device"] = args.interface
        interfaces["file"] = None
    if getattr(args, "topspeed", False):
        interfaces["topspeed"] = True
    if getattr(args, "loop", None):
        interfaces["loop"] = args.loop
    if getattr(args, "bpf", None):
        interfaces["bpf_filter"] = args.bpf
    try:
        return validate_config(raw)
    except ConfigError as exc:
        if path:
            raise ConfigError(exc.path, f"{exc.reason} (in {path})") from None
        raise


def _sample_pcap() -> str:
    return str(resources.files("packetshipper").joinpath("data/sample.pcap"))


def _cmd_run(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from .runner import Shipper

    shipper = Shipper(config)
    restore = shipper.install_signal_handlers()
    log.info("packetshipper %s reading %s", __version__, shipper.source.description)
    from .monitoring import Monitor

    monitor = Monitor(shipper.metrics, config, {"name": shipper.envelope.agent["name"], "version": __version__})
    monitor.start()
    try:
        summary = shipper.run()
    finally:
        monitor.stop()
        restore()
    capture = summary.stats.get("capture", {})
    log.info("done: %d packets, %d events in %.2fs; malformed %s", summary.packets, summary.events,
             summary.seconds, capture.get("malformed_total", 0))
    return 0


_VALUE_OPTIONS = frozenset({"-c", "--config", "-E", "-d", "-I", "--read", "-i", "--interface", "--bpf", "-l", "--loop"})


def _command_first(argv: list[str]) -> list[str]:
    """Beats accepts `-c x.yml test config`; argparse wants the command first. Default: `run`."""
    for i, token in enumerate(argv):
        if token in COMMANDS and (i == 0 or argv[i - 1] not in _VALUE_OPTIONS):
            return [token, *argv[:i], *argv[i + 1 :]]
    if argv and argv[0] in ("-h", "--help"):
        return argv
    return ["run", *argv]


def main(argv: list[str] | None = None) -> int:
    argv = _command_first(list(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(argv)
    setup_logging(to_stderr=args.stderr or args.command != "run", selectors=args.selectors)
    try:
        return _dispatch(args)
    except (ConfigError, CaptureError) as exc:
        kind = "config error" if isinstance(exc, ConfigError) else "capture error"
        print(f"packetshipper: {kind}: {exc}", file=sys.stderr)
        return 1
    except OutputError as exc:  # `test output` and `setup`: the output is unreachable or refused
        print(f"packetshipper: output error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `packetshipper ... | head`
        return 0


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command
    if command == "version":
        print(f"packetshipper version {__version__} (python {sys.version.split()[0]})")
        return 0
    if command == "devices":
        for i, name in enumerate(list_devices()):
            print(f"{i}: {name}")
        return 0
    if command == "demo":
        args.overrides = [f"packetshipper.interfaces.file={_sample_pcap()}", "packetshipper.interfaces.topspeed=true",
                          f"output.console.pretty={'true' if args.pretty else 'false'}", *args.overrides]
        config = _load(args)
        return _cmd_run(args, config)
    config = _load(args)
    setup_logging(config["logging"], to_stderr=args.stderr, selectors=args.selectors)
    if command == "run":
        return _cmd_run(args, config)
    if command == "modules":
        from .registry import list_modules_table

        print(list_modules_table(config["packetshipper"]["protocols"]))
        return 0
    if command == "test" and args.what == "config":
        print("Config OK")
        return 0
    if command == "export" and args.what == "config":
        print(yaml.safe_dump(config, sort_keys=False), end="")
        return 0
    from . import setup_commands

    if command == "test":
        print(setup_commands.test_output(config))
        return 0
    if command == "export":
        print(json.dumps(setup_commands.export_template(config), indent=2))
        return 0
    if command == "setup":
        if not args.index_management:
            raise ConfigError("", "setup needs --index-management")
        print(setup_commands.setup_index_management(config))
        return 0
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
