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
import logging
import os
import stat
import sys
import time
from typing import Any, NoReturn

import orjson

from .capture import CaptureError
from .config import default_protocols, parse_override, read_yaml, validate_config
from .logs import setup_logging
from .outputs.base import OutputError
from .pipeline.api import Publisher
from .progress import FileProgress, wants_progress
from .report import command as report_command
from .settings import MAX_KEY_PARTS, ConfigError, quote
from .summary import human_summary
from .version import __version__

__all__ = ["main", "apply_max_procs"]

COMMANDS = ("run", "demo", "report", "devices", "version", "modules", "test", "export", "setup", "keystore")
DEFAULT_CONFIG = "packetshipper.yml"
log = logging.getLogger("packetshipper")


class _Parser(argparse.ArgumentParser):
    """A usage mistake is one line and exit status 1, like every other problem the user can fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"packetshipper: usage error: {message} (see {self.prog} --help)\n")


def _version_line() -> str:
    return f"packetshipper version {__version__} (python {sys.version.split()[0]})"


def _common_options(common: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    common.add_argument("-c", "--config", default=default(None), help=f"config file (default: {DEFAULT_CONFIG} if present)")
    common.add_argument("-E", dest="overrides", action="append", default=default([]), metavar="KEY=VALUE",
                        help="override a config setting, e.g. -E output.console.pretty=true")
    common.add_argument("-e", dest="stderr", action="store_true", default=default(False), help="log to stderr")
    common.add_argument("-d", dest="selectors", metavar="SELECTORS", default=default(None),
                        help="debug selectors, comma-separated (* = all)")
    for name in PATH_FLAGS:
        common.add_argument(f"--path.{name}", dest=f"path_{name}", metavar="PATH", default=default(None),
                            help=PATH_FLAGS[name])
    common.add_argument("--strict.perms", dest="strict_perms", nargs="?", const="true", default=default("true"),
                        choices=("true", "false"), help="refuse a config file others may write to, or that "
                        "belongs to another user than you or root (default: true; --strict.perms=false turns it off)")


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _common_options(common)
    # The same flags after a keystore action (`keystore add KEY --path.config x`), without defaults of their
    # own, so that they do not undo the same flags given before the action.
    after_action = _Parser(add_help=False)
    _common_options(after_action, defaults=False)
    capture = _Parser(add_help=False)
    _capture_options(capture)

    # The run flags are listed here too: `packetshipper -e -c x.yml` means `run`, as with Packetbeat.
    parser = _Parser(prog="packetshipper", description="Network traffic shipper for the ELK stack.",
                     parents=[common, capture], epilog="Without a command, `run` is meant: the flags above "
                     "are run's (e.g. packetshipper -e -c packetshipper.yml). `packetshipper COMMAND --help` "
                     "shows a command's flags.")
    parser.add_argument("--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="capture and ship events (the default)")
    _capture_options(run)
    demo = sub.add_parser("demo", parents=[common], help="read the bundled sample capture, events to the console")
    demo.add_argument("--pretty", action="store_true", help="indent the JSON events")
    demo.add_argument("--no-progress", action="store_true", help="no progress line")
    report_command.add_parser(sub, common)
    sub.add_parser("devices", parents=[common], help="list capture devices")
    sub.add_parser("version", parents=[common], help="print the version")
    sub.add_parser("modules", parents=[common], help="list protocol modules, their ports and whether enabled")
    test = sub.add_parser("test", parents=[common], help="check the config or the output")
    test.add_argument("what", choices=("config", "output"))
    export = sub.add_parser("export", parents=[common], help="print the effective config or the index template")
    export.add_argument("what", choices=("config", "template", "ilm-policy", "index-pattern"))
    setup = sub.add_parser("setup", parents=[common], help="set up Elasticsearch: with no flag, everything this "
                           "can set up (the lifecycle policy and the index template)")
    setup.add_argument("--index-management", action="store_true", help="install the lifecycle policy and the "
                       "composable index template")
    setup.add_argument("--pipelines", action="store_true", help="ingest pipelines: there are none to load (events "
                       "come out of packetshipper complete)")
    setup.add_argument("--dashboards", action="store_true", help="Kibana dashboards: not loaded here (use "
                       "Packetbeat's own, with packetshipper.compat.packetbeat)")
    keystore = sub.add_parser("keystore", parents=[common], help="manage the secrets keystore (${KEY} in the config)")
    actions = keystore.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", parents=[after_action], help="create an empty keystore (mode 0600)")
    create.add_argument("--force", action="store_true", help="replace an existing keystore")
    add = actions.add_parser("add", parents=[after_action], help="store a value (read from standard input) under KEY")
    add.add_argument("key", metavar="KEY")
    add.add_argument("--stdin", action="store_true", help="read the value from standard input (also the default)")
    add.add_argument("--force", action="store_true", help="replace the value of an existing KEY")
    actions.add_parser("list", parents=[after_action], help="list the keys (never the values)")
    remove = actions.add_parser("remove", parents=[after_action], help="remove keys")
    remove.add_argument("keys", metavar="KEY", nargs="+")
    return parser


def _cmd_keystore(args: argparse.Namespace) -> int:
    from .keystore import Keystore, keystore_path

    store = Keystore(keystore_path(args.path_config, args.path_home))
    if args.action == "create":
        store.create(force=args.force)
        print(f"Created packetshipper keystore {store.path}")
    elif args.action == "add":
        if sys.stdin.isatty() and not args.stdin:
            import getpass

            value = getpass.getpass(f"Enter value for {args.key}: ")
        else:
            value = sys.stdin.read().removesuffix("\n")
        store.add(args.key, value, force=args.force)
        print(f"Successfully updated the keystore ({args.key})")
    elif args.action == "list":
        for key in sorted(store.load()):
            print(key)
    else:
        store.remove(args.keys)
        print(f"Removed {', '.join(args.keys)} from the keystore")
    return 0


def _capture_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-I", "--read", metavar="FILE", help="read packets from a pcap or pcapng file")
    parser.add_argument("-i", "--interface", metavar="NAME", help="capture live on this interface (`any` for all)")
    parser.add_argument("-t", dest="topspeed", action="store_true", help="read the file as fast as possible")
    parser.add_argument("--bpf", metavar="FILTER", help="BPF filter (default: from the enabled modules' ports)")
    parser.add_argument("-l", "--loop", type=int, metavar="N", help="read the file N times (0: forever)")
    parser.add_argument("-N", dest="no_publish", action="store_true", help="disable publishing: everything runs "
                        "but the output; events are counted, not sent")
    parser.add_argument("--no-progress", action="store_true", help="no progress line while a file is read "
                        "(there is one only when standard error is a terminal)")
    parser.add_argument("-O", dest="one_at_a_time", action="store_true", help="read packets one at a time: "
                        "each after Enter is pressed (from standard input)")
    parser.add_argument("--dump", "-dump", metavar="FILE", help="write every captured packet to this pcap file")
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes sharing the flows out "
                        "(packetshipper.workers; live needs interfaces.type af_packet)")


PATH_FLAGS = {
    "home": "home directory: the base of the other paths (default: the working directory)",
    "config": "where the config file is looked for, and what a relative -c is relative to (default: path.home)",
    "data": "data directory: disk queue (default: path.home/data)",
    "logs": "log directory (default: path.home/logs)",
}


def _raw_config(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The config dict before validation, and where it came from (None: built-in defaults)."""
    base = getattr(args, "path_config", None) or getattr(args, "path_home", None) or ""
    path = args.config
    if path is not None:
        path = os.path.join(base, path)  # an absolute -c stays as it is
    elif args.command != "demo" and os.path.exists(os.path.join(base, DEFAULT_CONFIG)):
        path = os.path.join(base, DEFAULT_CONFIG)
    if path is None:
        return {}, None
    if getattr(args, "strict_perms", "true") == "true":
        _check_permissions(path)
    from .keystore import Keystore, keystore_path

    store = Keystore(keystore_path(getattr(args, "path_config", None), getattr(args, "path_home", None)))
    return read_yaml(path, store.load() if store.exists() else None), path


def _check_permissions(path: str) -> None:
    """Beats' strict.perms: a config file only its owner may write to, owned by this user or root."""
    try:
        info = os.stat(path)
    except OSError:
        return  # read_yaml names the problem
    if info.st_uid not in (os.geteuid(), 0):
        raise ConfigError("", f"config file ({path!r}) must be owned by the user identifier (uid={os.geteuid()}) or "
                          "root (or run with --strict.perms=false)")
    if info.st_mode & 0o022:
        raise ConfigError("", f"config file ({path!r}) can only be writable by the owner but the permissions are "
                          f"{stat.filemode(info.st_mode)!r} (to fix the permissions use: 'chmod go-w {path}', or run "
                          "with --strict.perms=false)")


def _quoted(path: str) -> str:
    """`path` as a JSON string, which -E reads back as a YAML double-quoted one."""
    return orjson.dumps(path).decode()


def _path_overrides(args: argparse.Namespace) -> list[str]:
    """--path.* flags, after -E (as in Beats, a flag wins); path.home's children follow it by default."""
    out = []
    for name in PATH_FLAGS:
        value = getattr(args, f"path_{name}", None)
        if value is not None:
            out.append(f"path.{name}={_quoted(value)}")
    home = getattr(args, "path_home", None)
    if home is not None:
        for name in ("data", "logs"):
            if getattr(args, f"path_{name}", None) is None:
                out.append(f"path.{name}={_quoted(os.path.join(home, name))}")
    return out


def _apply_overrides(raw: dict[str, Any], overrides: list[str]) -> None:
    """Beats' `-E key=value`: the value is YAML, or plain text where it is not valid YAML; a number in
    the key picks a list element (`packetshipper.protocols.1.ports=[81]`)."""
    for item in overrides:
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if key == "packetbeat" or key.startswith("packetbeat."):  # packetbeat.yml's spelling, as in files
            key = "packetshipper" + key[len("packetbeat"):]
        parts = key.split(".")
        if not eq or "" in parts:
            raise ConfigError("", f"-E expects KEY=VALUE with a dotted KEY, got {quote(item)}")
        if len(parts) > MAX_KEY_PARTS:
            raise ConfigError("", f"-E {quote(key)}: more than {MAX_KEY_PARTS} dotted parts")
        parsed = parse_override(value, f"-E {key}")
        node: Any = raw
        for depth, part in enumerate(parts[:-1]):
            node = _override_child(node, part, ".".join(parts[: depth + 1]))
        _override_set(node, parts[-1], parsed, key)


def _list_index(node: list[Any], part: str, path: str, *, extend: bool) -> int:
    last = len(node) if extend else len(node) - 1
    if not part.isdigit() or int(part) > last:
        raise ConfigError(path, f"-E: this is a list of {len(node)}; give an element number from 0 to {last}")
    return int(part)


def _override_child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, list):
        index = _list_index(node, part, path, extend=False)
        if not isinstance(node[index], dict | list):
            node[index] = {}
        return node[index]
    _fold_dotted(node, part)
    child = node.get(part)
    if not isinstance(child, dict | list):
        child = node[part] = {}
    return child


def _override_set(node: Any, part: str, value: Any, path: str) -> None:
    if isinstance(node, list):
        index = _list_index(node, part, path, extend=True)
        if index == len(node):
            node.append(value)
        else:
            node[index] = value
    else:
        _fold_dotted(node, part)
        node[part] = value


def _fold_dotted(node: dict[Any, Any], part: str) -> None:
    """`packetshipper.protocols: [...]` in a file is the `protocols` an -E key goes through: fold such
    dotted keys into `part` first, as validation would, so that both meet in one place."""
    prefix = f"{part}."
    for key in [k for k in node if isinstance(k, str) and k.startswith(prefix)]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node[part].setdefault(key[len(prefix):], node.pop(key))


def _load(args: argparse.Namespace) -> dict[str, Any]:
    raw, path = _raw_config(args)
    if path is None:  # built-in defaults first, so that `-E packetshipper.protocols.1...` finds the list
        raw["packetshipper"] = {"protocols": default_protocols()}
    _apply_overrides(raw, [*args.overrides, *_path_overrides(args)])
    ps = raw.setdefault("packetshipper", {})
    if not isinstance(ps, dict):
        raise ConfigError("packetshipper", "expected a mapping")
    if getattr(args, "read", None) and getattr(args, "interface", None):
        raise ConfigError("packetshipper.interfaces", "-i (capture live) and -I (read a file) exclude each other; "
                          "give one")
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
    if getattr(args, "loop", None) is not None:  # -l 0: forever, as in Packetbeat
        interfaces["loop"] = args.loop
    if getattr(args, "bpf", None):
        interfaces["bpf_filter"] = args.bpf
    if getattr(args, "workers", None) is not None:
        ps["workers"] = args.workers
    try:
        return validate_config(raw)
    except ConfigError as exc:
        if path:
            raise ConfigError(exc.path, f"{exc.reason} (in {path})") from None
        raise


def apply_max_procs(max_procs: int | None) -> list[int]:
    """Beats' `max_procs` (Go's GOMAXPROCS: how many CPUs run the process at once): the process is pinned
    to the first `max_procs` CPUs it may use now; the CPUs it runs on afterwards."""
    allowed = sorted(os.sched_getaffinity(0))
    if max_procs is None or max_procs >= len(allowed):
        return allowed
    os.sched_setaffinity(0, allowed[:max_procs])
    log.info("max_procs %d: running on CPU %s of %s", max_procs, ",".join(map(str, allowed[:max_procs])),
             ",".join(map(str, allowed)))
    return allowed[:max_procs]


class _NoPublishing(Publisher):
    """`-N`, as in Beats: everything runs but the output; events are counted and dropped."""

    def __init__(self) -> None:
        self.events = 0
        log.info("publishing is disabled (-N): events are counted, not sent")

    def publish(self, event: dict[str, Any]) -> bool:
        self.events += 1
        return True

    def close(self, timeout: float | None = None) -> None:
        pass

    def stats(self) -> dict[str, Any]:
        return {"queue": {"added": self.events, "acked": self.events},
                "output": {"type": "none (-N)", "events": {"total": self.events, "acked": self.events}}}

    def unsent(self) -> tuple[int, str]:
        return 0, "publishing disabled (-N)"


def _sample_pcap() -> str:
    from importlib import resources  # 8 ms to import (with tempfile): only the demo needs it

    return str(resources.files("packetshipper").joinpath("data/sample.pcap"))


def _capture_taps(shipper: Any, args: argparse.Namespace) -> None:
    """-O and --dump, on the source's batches: -O first, so the dump holds what was read."""
    from .dump import PcapDump
    from .step import OneAtATime

    if getattr(args, "one_at_a_time", False):
        shipper.batch_taps.append(OneAtATime().wrap)
    if getattr(args, "dump", None):
        dump = PcapDump(args.dump, shipper.source.linktype)
        shipper.batch_taps.append(dump.wrap)
        shipper.metrics.register("dump", dump.stats)


def _cmd_run(args: argparse.Namespace, config: dict[str, Any]) -> int:
    from .monitoring import Monitor
    from .pipeline.publisher import call_within
    from .runner import StopSignals, build_shipper

    apply_max_procs(config.get("max_procs"))
    # Installed first, so a signal during start-up stops the run cleanly too; never restored: a late
    # signal must not become a KeyboardInterrupt while the process exits.
    signals = StopSignals(config["packetshipper"]["shutdown_timeout"])
    shipper = build_shipper(config, publisher=_NoPublishing() if getattr(args, "no_publish", False) else None)
    signals.attach(shipper)
    _capture_taps(shipper, args)
    log.info("packetshipper %s reading %s", __version__, shipper.source.description)
    from_file = not shipper.live
    if from_file and wants_progress(sys.stderr, getattr(args, "no_progress", False)):
        progress = FileProgress(config["packetshipper"]["interfaces"]["file"], lambda: shipper.events)
        shipper.batch_taps.append(progress.wrap)
    monitor = Monitor(shipper.metrics, config, {"beat": shipper.envelope.agent["type"], "name": shipper.envelope.agent["name"],
                                                "hostname": os.uname().nodename, "version": __version__})
    monitor.start()
    started = time.monotonic()
    try:
        summary = shipper.run()
    except CaptureError:  # a damaged file: what was read is still summed up, then the one-line error
        if from_file:
            print(human_summary(shipper.metrics.snapshot(), time.monotonic() - started), file=sys.stderr)
        raise
    finally:
        call_within(monitor.stop, 1.0, "monitoring-stop")  # a stalled /stats client cannot hold the exit
    capture = summary.stats.get("capture", {})
    unsent, fate = shipper.publisher.unsent()
    signals.final_line(logging.WARNING if unsent else logging.INFO,
                       f"done: {summary.packets} packets, {summary.events} events in {summary.seconds:.2f}s; "
                       f"malformed {capture.get('malformed_total', 0)}; unsent {unsent}: {fate}")
    if from_file:
        print(f"packetshipper: summary of {shipper.source.description}:\n"
              f"{human_summary(summary.stats, summary.seconds)}", file=sys.stderr)
    if args.command == "demo":
        print(f"packetshipper: for a readable report of this sample: packetshipper report -I {_sample_pcap()} "
              "-o sample-report.html", file=sys.stderr)
    signals.exit_if_stopped(0)
    return 0


_VALUE_OPTIONS = frozenset({"-c", "--config", "-E", "-d", "-I", "--read", "-i", "--interface", "--bpf", "-l", "--loop",
                            "--dump", "-dump", "--workers",
                            *(f"--path.{name}" for name in PATH_FLAGS)})


def _command_first(argv: list[str]) -> list[str]:
    """Beats accepts `-c x.yml test config`; argparse wants the command first. Default: `run`."""
    for i, token in enumerate(argv):
        if token in COMMANDS and (i == 0 or argv[i - 1] not in _VALUE_OPTIONS):
            return [token, *argv[:i], *argv[i + 1 :]]
    if "--version" in argv:
        return ["--version"]
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
        print(_version_line())
        return 0
    if command == "keystore":
        return _cmd_keystore(args)
    if command == "devices":
        from .devices import describe_devices, find_devices

        print("\n".join(describe_devices(find_devices())))
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
    if command == "report":
        return report_command.run(args, config)
    if command == "modules":
        from .registry import list_modules_table

        print(list_modules_table(config["packetshipper"]["protocols"]))
        return 0
    from . import setup_commands

    if command == "test" and args.what == "config":
        setup_commands.check_config(config)
        print("Config OK")
        return 0
    if command == "export" and args.what == "config":
        print(setup_commands.export_config(config), end="")
        return 0

    if command == "test":
        print(setup_commands.test_output(config))
        return 0
    if command == "export":
        exported = {"template": setup_commands.export_template, "ilm-policy": lambda _config: setup_commands.ilm_policy(),
                    "index-pattern": setup_commands.export_index_pattern}[args.what](config)
        import json

        print(json.dumps(exported, indent=2))
        return 0
    if command == "setup":
        everything = not (args.index_management or args.pipelines or args.dashboards)
        if args.index_management or everything:
            print(setup_commands.setup_index_management(config))
        if args.pipelines or everything:
            print("Ingest pipelines: none to load (events are complete as shipped).")
        if args.dashboards or everything:
            print("Dashboards: not loaded (no Kibana set-up here; Packetbeat's dashboards read the events with "
                  "packetshipper.compat.packetbeat).")
        return 0
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
