"""`output.redis`: events as JSON, RPUSHed to a list or PUBLISHed to a channel.

Commands of a batch are pipelined (one RPUSH per list key, one PUBLISH per event) and each reply is
checked: events whose command failed, or whose reply never came, are handed back for retry.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any, ClassVar

import orjson

from ..compat import Identity
from ..settings import (
    ConfigError,
    Setting,
    Spec,
    at_least,
    between,
    boolean,
    duration,
    one_of,
    string,
    string_list,
)
from ..version import __version__
from .base import BatchResult, Output, OutputError
from .encoded import with_metadata
from .fields_used import rule_fields
from .hosts import HostFailover, split_host_port
from .index_format import SelectorError, build_selector
from .resp import ProtocolError, RedisReplyError, ReplyParser, encode_command
from .tls import TLS_SETTINGS, client_context, tls_wanted

__all__ = ["RedisOutput"]

BEAT_NAME = "packetshipper"


def _rules(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list of rules")
    return value


class _Connection:
    __slots__ = ("sock", "parser", "pending")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.parser = ReplyParser()
        self.pending: list[Any] = []

    def call(self, *args: bytes | str | int) -> Any:
        self.sock.sendall(encode_command(*args))
        return self.replies(1)[0]

    def replies(self, count: int) -> list[Any]:
        """Read up to `count` replies; stops early (short list) only by raising, with `pending` kept."""
        while len(self.pending) < count:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("redis closed the connection")
            self.pending.extend(self.parser.feed(data))
        out, self.pending = self.pending[:count], self.pending[count:]
        return out

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class RedisOutput(Output, HostFailover["_Connection"]):

    peer_name = "redis"
    connect_errors = (OSError, ProtocolError, OutputError)
    name: ClassVar[str] = "redis"
    accepts_encoded = True
    settings: ClassVar[Spec] = {
        "hosts": Setting(string_list, None, "Redis servers, `host:port` (port from `port` if left out).",
                         required=True),
        "port": Setting(between(1, 65535), 6379, "Port for hosts given without one."),
        "password": Setting(string, None, "Sent with AUTH after connecting."),
        "db": Setting(at_least(0), 0, "Database selected after connecting."),
        "key": Setting(string, None, "List or channel name; a format string (default: packetshipper)."),
        "index": Setting(string, None, "Deprecated alias of `key`."),
        "keys": Setting(_rules, [], "Rules choosing the key per event: key, when, mappings, default."),
        "datatype": Setting(one_of("list", "channel"), "list", "RPUSH to a list or PUBLISH to a channel."),
        "timeout": Setting(duration, 5.0, "Connect and reply timeout."),
        "loadbalance": Setting(boolean, True, "Spread batches over all hosts; else use one and fail over."),
        "ssl": TLS_SETTINGS,
    }

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        path = "output.redis"
        if config.get("key") and config.get("index"):
            raise ConfigError(f"{path}.index", "set only `key` (`index` is its deprecated alias)")
        try:
            self.hosts = [split_host_port(h, config.get("port") or 6379) for h in config["hosts"]]
        except ValueError as exc:
            raise ConfigError(f"{path}.hosts", str(exc)) from None
        if not self.hosts:
            raise ConfigError(f"{path}.hosts", "at least one host is required")
        key = config.get("key") or config.get("index")
        rules = config.get("keys") or []
        self.selector = build_selector(key or (None if rules else BEAT_NAME), rules, "key", f"{path}.keys")
        # As Beats' JSON codec does, so Logstash configs reading the list work unchanged.
        self.metadata = {"beat": BEAT_NAME, "type": "_doc", "version": __version__}
        self._default_key = not (key or rules)
        tls = config.get("ssl") or {}
        self.ssl_context = client_context(tls, f"{path}.ssl") if tls_wanted(tls) else None
        HostFailover.__init__(self)
        self.stats = dict.fromkeys(
            ("batches", "events_acked", "events_retried", "events_dead", "command_errors", "connects",
             "connect_errors", "bytes_written"), 0)
        self.last_error = ""


    def use_identity(self, identity: Identity) -> None:
        """Beats' default list key is the beat's name; @metadata names the beat and its version."""
        super().use_identity(identity)
        if self._default_key:
            self.selector = build_selector(identity.beat, [], "key", "output.redis.keys")
        self.metadata = {"beat": identity.beat, "type": "_doc", "version": identity.version}

    def fields_used(self) -> frozenset[str]:
        key = self.config.get("key") or self.config.get("index")
        return frozenset(rule_fields(key, self.config.get("keys"), "key"))

    def connect(self) -> None:
        self._connection()

    def _connection(self) -> _Connection:
        return self.connection()

    def _open(self, host: str, port: int) -> _Connection:
        sock = socket.create_connection((host, port), timeout=self.config.get("timeout") or None)
        try:
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=host)
            conn = _Connection(sock)
            if self.config.get("password"):
                self._expect_ok(conn.call("AUTH", self.config["password"]), "AUTH")
            if self.config.get("db"):
                self._expect_ok(conn.call("SELECT", self.config["db"]), "SELECT")
            return conn
        except BaseException:
            sock.close()
            raise

    @staticmethod
    def _expect_ok(reply: Any, command: str) -> None:
        if isinstance(reply, RedisReplyError):
            raise OutputError(f"{command} failed: {reply.message}")

    def close(self) -> None:
        self.drop()

    def publish_batch(self, events: list[Any]) -> BatchResult:
        self.stats["batches"] += 1
        result = BatchResult()
        commands, owners = self._commands(events, result)
        self.rotate_for_load_balancing(bool(self.config.get("loadbalance")))
        confirmed = 0
        try:
            conn = self._connection()
            payload = b"".join(commands)
            conn.sock.sendall(payload)
            self.stats["bytes_written"] += len(payload)
            for i in range(len(commands)):
                reply = conn.replies(1)[0]
                confirmed = i + 1
                if isinstance(reply, RedisReplyError):
                    self.stats["command_errors"] += 1
                    self.last_error = reply.message
                    result.retry.extend(owners[i])
        except (OSError, ProtocolError, OutputError) as exc:
            self.last_error = str(exc)
            self.drop()
            if not self.config.get("loadbalance"):
                self.rotate()
            if confirmed == 0 and not result.dead:
                self.stats["events_retried"] += len(events)
                raise OutputError(f"redis: {exc}") from exc
            for owner in owners[confirmed:]:
                result.retry.extend(owner)
        result.retry.sort()
        self.stats["events_retried"] += len(result.retry)
        self.stats["events_acked"] += len(events) - len(result.retry) - len(result.dead)
        return result

    def _commands(self, events: list[Any], result: BatchResult) -> tuple[list[bytes], list[list[int]]]:
        """Encoded commands and, for each, the batch indexes of the events it carries."""
        by_key: dict[str, tuple[list[int], list[bytes]]] = {}
        select, base_meta = self.selector.select, self.metadata
        base_json = orjson.dumps(base_meta)
        for i, event in enumerate(self.encoded(events, result.dead, self._unencodable)):
            if event is None:
                continue
            own = event.meta
            try:
                key = select(event.fields)
                meta_json = orjson.dumps({**base_meta, **own}) if isinstance(own, dict) else base_json
            except (SelectorError, TypeError, orjson.JSONEncodeError) as exc:
                result.dead.append((i, self._unencodable(str(exc))))
                continue
            indexes, payloads = by_key.setdefault(key, ([], []))
            indexes.append(i)
            payloads.append(with_metadata(event.doc, meta_json))
        commands: list[bytes] = []
        owners: list[list[int]] = []
        if self.config.get("datatype", "list") == "list":
            for key, (indexes, payloads) in by_key.items():
                commands.append(encode_command("RPUSH", key, *payloads))
                owners.append(indexes)
        else:
            for key, (indexes, payloads) in by_key.items():
                for index, payload in zip(indexes, payloads, strict=True):
                    commands.append(encode_command("PUBLISH", key, payload))
                    owners.append([index])
        return commands, owners

    def _unencodable(self, reason: str) -> str:
        self.stats["events_dead"] += 1
        return f"redis: {reason}"
