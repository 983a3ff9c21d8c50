"""`output.kafka`: events as JSON to Kafka topics through librdkafka (the `confluent-kafka` package).

Settings are Beats': the topic comes from `topics` rules or the `topic` format string, the partition is
chosen here exactly as Beats' partitioners choose it (`hash` of the key or of fields with FNV-1a,
`random`, `round_robin`, `reachable_only`) from the topic's metadata, so events land where a Beats
producer would put them. A batch is produced, then flushed; each event's delivery report decides:
delivered (acknowledged as `required_acks` asks), rejected for good (too large, invalid: dead-lettered,
as Beats drops them), or anything else (broker down, leader moving, timeout: handed back for retry).
librdkafka's own queue is bounded by the batch (`bulk_max_size` events, `bulk_max_size` x
`max_message_bytes` bytes); a full queue makes produce wait for deliveries, counted in `queue_full`.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import socket
import struct
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from ..compat import Identity
from ..conditions import MISSING, Condition, build_condition, lookup
from ..settings import (
    ConfigError,
    Setting,
    Spec,
    at_least,
    between,
    duration,
    ignored,
    one_of,
    string,
    string_list,
)
from ..version import __version__
from .base import BatchResult, Output, OutputError
from .encoded import EncodedEvent, with_metadata
from .fields_used import format_fields, rule_fields
from .hosts import split_host_port
from .index_format import FormatString, SelectorError
from .tls import TLS_SETTINGS, tls_wanted

if TYPE_CHECKING:
    from confluent_kafka import KafkaError, Message, Producer

__all__ = ["KafkaOutput", "check_brokers", "beats_hash_partition", "fnv1a_32"]

log = logging.getLogger(__name__)

BEAT_NAME = "packetshipper"
DEFAULT_PORT = 9092
_COMPRESSIONS = ("none", "gzip", "snappy", "lz4", "zstd")
_VERSION = re.compile(r"^\d+\.\d+\.\d+(\.\d+)?$")


# --- settings ----------------------------------------------------------------------------------------

def _rules(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list of rules (topic, when, mappings, default)")
    return value


def _version(value: Any) -> str:
    text = string(value).strip()
    if not _VERSION.match(text):
        raise ValueError(f"expected a Kafka version such as 2.1.0, got {value!r}")
    return text


def _codec(value: Any) -> dict[str, Any]:
    """Beats' `codec.json: {pretty, escape_html}` or `codec.format: {string}`."""
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in ("json", "format"):
        raise ValueError("set one of codec.json (pretty, escape_html) or codec.format (string)")
    (name, options), = value.items()
    if options is not None and not isinstance(options, Mapping):
        raise ValueError(f"codec.{name}: expected a mapping of its settings")
    options = dict(options or {})
    allowed = {"json": {"pretty", "escape_html"}, "format": {"string"}}[name]
    if set(options) - allowed:
        raise ValueError(f"codec.{name}: unknown settings {', '.join(sorted(set(options) - allowed))}")
    if name == "format":
        if not isinstance(options.get("string"), str) or not options["string"]:
            raise ValueError("codec.format.string: expected a format string such as '%{[message]}'")
        return {"format": {"string": options["string"]}}
    for flag in ("pretty", "escape_html"):
        if not isinstance(options.get(flag, False), bool):
            raise ValueError(f"codec.json.{flag}: expected true or false")
    return {"json": {"pretty": options.get("pretty", False), "escape_html": options.get("escape_html", False)}}


def _headers(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        raise ValueError("expected a list of {key, value}")
    out = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) != {"key", "value"} \
                or not isinstance(item["key"], str) or not isinstance(item["value"], str | int | float | bool):
            raise ValueError(f"each header is {{key: <string>, value: <string>}}, got {item!r}")
        out.append((item["key"], str(item["value"])))
    return out


_PARTITIONERS: dict[str, dict[str, Any]] = {
    "random": {"reachable_only": False, "group_events": 1},
    "round_robin": {"reachable_only": False, "group_events": 1},
    "hash": {"reachable_only": False, "hash": [], "random": True},
}


def _partition(value: Any) -> dict[str, dict[str, Any]]:
    """Exactly one of partition.random / round_robin / hash, with its own keys (Beats' defaults)."""
    if not isinstance(value, Mapping) or len(value) != 1:
        raise ValueError("set exactly one of random, round_robin, hash")
    (name, options), = value.items()
    if name not in _PARTITIONERS:
        raise ValueError(f"unknown partitioner {name!r} (known: {', '.join(_PARTITIONERS)})")
    if options is not None and not isinstance(options, Mapping):
        raise ValueError(f"{name}: expected a mapping of its settings ({', '.join(_PARTITIONERS[name])})")
    options = dict(options or {})
    unknown = set(options) - set(_PARTITIONERS[name])
    if unknown:
        raise ValueError(f"{name}: unknown settings {', '.join(sorted(unknown))} "
                         f"(known: {', '.join(_PARTITIONERS[name])})")
    merged = {**_PARTITIONERS[name], **options}
    if not isinstance(merged["reachable_only"], bool):
        raise ValueError(f"{name}.reachable_only: expected true or false")
    if name == "hash":
        merged["hash"] = string_list(merged["hash"] or [])
        if not isinstance(merged["random"], bool):
            raise ValueError("hash.random: expected true or false")
    else:
        merged["group_events"] = int(at_least(1)(merged["group_events"]))
    return {name: merged}


KAFKA_SETTINGS: Spec = {
    "hosts": Setting(string_list, None, "Bootstrap brokers, `host:port` (port 9092 if left out).", required=True),
    "topic": Setting(string, None, "Topic; a format string such as `%{[type]}` (required unless `topics`)."),
    "topics": Setting(_rules, [], "Rules choosing the topic per event: topic, when, mappings, default."),
    "key": Setting(string, None, "Message key; a format string (no key if a field it names is missing)."),
    "partition": Setting(_partition, {"hash": dict(_PARTITIONERS["hash"])},
                         "One of `random: {group_events, reachable_only}`, `round_robin: {group_events, "
                         "reachable_only}`, `hash: {hash: [fields], random, reachable_only}` (hash of the "
                         "key when `hash` is empty; `random: false` drops events missing a hashed field)."),
    "headers": Setting(_headers, [], "Headers added to every message: a list of {key, value}."),
    "client_id": Setting(string, "beats", "Client ID sent to the brokers."),
    "version": Setting(_version, "2.1.0", "Kafka protocol version of the brokers (below 0.10: no version "
                       "negotiation)."),
    "username": Setting(string, None, "SASL user name (SASL is used once this is set)."),
    "password": Setting(string, None, "SASL password."),
    "sasl": {
        "mechanism": Setting(one_of("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"), "PLAIN", "SASL mechanism."),
    },
    "required_acks": Setting(between(-1, 1), 1, "0: no wait, 1: the leader's write, -1: all in-sync replicas."),
    "compression": Setting(one_of(*_COMPRESSIONS), "gzip", "Compression codec of message batches."),
    "compression_level": Setting(between(0, 9), 4, "gzip level (0: no compression); ignored by other codecs."),
    "max_message_bytes": Setting(at_least(1, maximum=999_000_000), 1000000,
                                 "Largest encoded event; a larger one is dead-lettered (Beats drops it)."),
    "bulk_max_size": Setting(at_least(1), 2048, "Most events per batch; also bounds librdkafka's queue."),
    "bulk_flush_frequency": Setting(duration, 0.0, "How long librdkafka may wait to fill a request (linger)."),
    "timeout": Setting(at_least(0.01, duration), 30.0,
                       "How long an event may wait for its delivery (and each broker answer) before retry."),
    "broker_timeout": Setting(at_least(0.01, duration), 10.0,
                              "How long a broker may wait for the replicas `required_acks` asks for."),
    "keep_alive": Setting(duration, 0.0, "TCP keep-alive on broker connections when above 0."),
    "metadata": {
        "refresh_frequency": Setting(at_least(0.01, duration), 600.0, "How often topic metadata is refreshed."),
        "retry": {
            "max": Setting(at_least(0), 3, "Metadata requests for an unknown topic before its events wait."),
            "backoff": Setting(at_least(0.0, duration), 0.25, "Wait between those metadata requests."),
        },
        "full": ignored("metadata is fetched for the topics in use"),
    },
    "channel_buffer_size": ignored("librdkafka's queue is bounded by bulk_max_size"),
    "codec": Setting(_codec, {"json": {"pretty": False, "escape_html": False}},
                     "`json: {pretty, escape_html}` (the event as JSON with @metadata) or `format: {string}` "
                     "(a format string rendered per event; an event it cannot render is dead-lettered)."),
    "kerberos": ignored("Kerberos (GSSAPI) is not supported"),
    "ssl": TLS_SETTINGS,
}


# --- partitioners (Beats' libbeat/outputs/kafka/partition.go) ---------------------------------------

def fnv1a_32(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def beats_hash_partition(h: int, count: int) -> int:
    """Beats' hash2Partition: the hash as int32 with the sign bit cleared, modulo the partition count."""
    return (h & 0x7FFFFFFF) % count


class _Unhashable(Exception):
    pass


def _f32(value: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _go_float32_g(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 32): the shortest digits that round-trip as float32."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value) or math.isinf(_f32(value)):
        return "+Inf" if value > 0 else "-Inf"
    single = _f32(value)
    if single == 0:
        return "-0" if math.copysign(1.0, single) < 0 else "0"
    text = ""
    for digits in range(1, 10):
        text = f"{abs(single):.{digits - 1}e}"
        if _f32(float(text)) == abs(single):
            break
    mantissa, _, exp_text = text.partition("e")
    figures = mantissa.replace(".", "").rstrip("0") or "0"
    exponent = int(exp_text)
    sign = "-" if single < 0 else ""
    if exponent < -4 or exponent >= 6:  # Go's threshold for the shortest 'g' form
        tail = f".{figures[1:]}" if len(figures) > 1 else ""
        return f"{sign}{figures[0]}{tail}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{sign}0.{'0' * (-exponent - 1)}{figures}"
    whole = figures[: exponent + 1].ljust(exponent + 1, "0")
    fraction = figures[exponent + 1:]
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


def _field_bytes(value: Any) -> bytes:
    """The bytes Beats' hashFieldValue writes for a value (integers as 64-bit little-endian)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    if isinstance(value, float):
        return _go_float32_g(value).encode()
    if isinstance(value, bytes):
        return value
    raise _Unhashable(f"cannot hash a {type(value).__name__}")


class _Partitioner:
    """One topic's partitioner state; `choose` answers an index into the topic's candidate partitions."""

    def __init__(self, kind: str, options: Mapping[str, Any], rng: random.Random) -> None:
        self.kind = kind
        self.rng = rng
        self.group = int(options.get("group_events", 1))
        self.fields: list[str] = list(options.get("hash") or [])
        self.random_on_failure = bool(options.get("random", True))
        self.count = self.group
        self.current = rng.getrandbits(31)

    def choose(self, event: Mapping[str, Any], key: bytes | None, n: int) -> int:
        if self.kind == "random":
            if self.count == self.group:
                self.count = 0
                self.current = self.rng.getrandbits(31)
            self.count += 1
            return self.current % n
        if self.kind == "round_robin":
            if self.count == self.group:
                self.count = 0
                self.current += 1
                if self.current >= n:
                    self.current = 0
            self.count += 1
            return self.current % n
        if not self.fields:
            if key is None:
                return self.rng.getrandbits(31) % n
            return beats_hash_partition(fnv1a_32(key), n)
        try:
            data = b"".join(_field_bytes(self._field(event, f)) for f in self.fields)
        except _Unhashable as exc:
            if not self.random_on_failure:
                raise
            log.debug("kafka: %s; random partition", exc)
            return beats_hash_partition(self.rng.getrandbits(32), n)
        return beats_hash_partition(fnv1a_32(data), n)

    @staticmethod
    def _field(event: Mapping[str, Any], name: str) -> Any:
        value = lookup(event, name)
        if value is MISSING or value is None:
            raise _Unhashable(f"field {name!r} is missing")
        return value


# --- topic selection -----------------------------------------------------------------------------------

class _TopicRule:
    __slots__ = ("fmt", "when", "mappings", "default")

    def __init__(self, fmt: FormatString, when: Condition | None, mappings: dict[str, str] | None,
                 default: str) -> None:
        self.fmt, self.when, self.mappings, self.default = fmt, when, mappings, default

    def select(self, event: Mapping[str, Any]) -> str:
        if self.when is not None and not self.when(event):
            return ""
        try:
            name = self.fmt.render(event)
        except SelectorError:
            return self.default
        if self.mappings is not None:
            name = self.mappings.get(name, "")
        return name or self.default


def _format(text: Any, path: str) -> FormatString:
    if not isinstance(text, str) or not text:
        raise ConfigError(path, "expected a non-empty format string")
    try:
        return FormatString(text)
    except ConfigError as exc:
        raise ConfigError(path, exc.reason) from None


def build_topic_rules(topic: str | None, rules: list[Any], path: str) -> list[_TopicRule]:
    """`topics` rules (Beats' syntax, conditions from packetshipper.conditions), then `topic`."""
    built = []
    for i, raw in enumerate(rules):
        where = f"{path}.topics.{i}"
        if not isinstance(raw, Mapping):
            raise ConfigError(where, "each rule is a mapping with a `topic`")
        raw = dict(raw)
        dotted = {k[len("when."):]: raw.pop(k) for k in list(raw) if k.startswith("when.")}
        if dotted:
            if "when" in raw:
                raise ConfigError(f"{where}.when", "given both as `when` and as `when.<operator>`")
            raw["when"] = dotted
        unknown = set(raw) - {"topic", "when", "mappings", "default"}
        if unknown:
            raise ConfigError(where, f"unknown rule settings: {', '.join(sorted(unknown))}")
        mappings = raw.get("mappings")
        if mappings is not None and not isinstance(mappings, Mapping):
            raise ConfigError(f"{where}.mappings", "expected a mapping")
        when = build_condition(raw["when"], f"{where}.when") if "when" in raw else None
        built.append(_TopicRule(_format(raw.get("topic"), f"{where}.topic"), when,
                                {str(k): str(v) for k, v in mappings.items()} if mappings else None,
                                str(raw.get("default") or "")))
    if topic:
        built.append(_TopicRule(_format(topic, f"{path}.topic"), None, None, ""))
    if not built:
        raise ConfigError(f"{path}.topic", "set `topic` or at least one `topics` rule")
    return built


def select_topic(rules: list[_TopicRule], event: Mapping[str, Any]) -> str:
    for rule in rules:
        name = rule.select(event)
        if name:
            return name
    raise SelectorError("no topic could be selected for this event")


# --- librdkafka configuration ------------------------------------------------------------------------

def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def librdkafka_config(config: Mapping[str, Any], path: str = "output.kafka") -> dict[str, Any]:
    """The librdkafka properties for a validated `output.kafka` section."""
    try:
        hosts = [split_host_port(h, DEFAULT_PORT) for h in config["hosts"]]
    except ValueError as exc:
        raise ConfigError(f"{path}.hosts", str(exc)) from None
    if not hosts:
        raise ConfigError(f"{path}.hosts", "at least one broker is required")
    bulk = int(config.get("bulk_max_size") or 2048)
    max_bytes = int(config.get("max_message_bytes") or 1000000)
    timeout = float(config.get("timeout") or 30.0)
    acks = int(config.get("required_acks", 1))
    out: dict[str, Any] = {
        "bootstrap.servers": ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in hosts),
        "client.id": config.get("client_id") or "beats",
        "acks": "all" if acks == -1 else str(acks),
        "request.timeout.ms": _ms(float(config.get("broker_timeout") or 10.0)),
        "message.timeout.ms": _ms(timeout),
        "socket.timeout.ms": max(10, _ms(timeout)),
        "linger.ms": float(config.get("bulk_flush_frequency") or 0.0) * 1000,
        # A batch never exceeds what one message may be, so a broker that takes max_message_bytes
        # never rejects a whole request for one large neighbour.
        "batch.size": max(1, max_bytes),
        "message.max.bytes": max(1000, max_bytes + 65536),
        "batch.num.messages": min(bulk, 1000000),
        "queue.buffering.max.messages": bulk,
        "queue.buffering.max.kbytes": min(2147483647, max(1, math.ceil(bulk * (max_bytes + 1024) / 1024))),
        "topic.metadata.refresh.interval.ms": _ms(float(config.get("metadata", {}).get("refresh_frequency")
                                                        or 600.0)),
        "socket.keepalive.enable": float(config.get("keep_alive") or 0.0) > 0,
        "log.connection.close": False,
    }
    codec = config.get("compression") or "gzip"
    level = int(config.get("compression_level", 4))
    if codec == "gzip" and level == 0:
        codec = "none"
    out["compression.codec"] = codec
    if codec == "gzip":
        out["compression.level"] = level
    version = str(config.get("version") or "2.1.0")
    major_minor = tuple(int(p) for p in version.split(".")[:2])
    if major_minor < (0, 10):  # newer brokers tell their versions; only older ones need to be told
        out["api.version.request"] = False
        out["broker.version.fallback"] = version
    tls = config.get("ssl") or {}
    secure = tls_wanted(tls)
    sasl = bool(config.get("username"))
    out["security.protocol"] = {(False, False): "PLAINTEXT", (True, False): "SSL",
                                (False, True): "SASL_PLAINTEXT", (True, True): "SASL_SSL"}[(secure, sasl)]
    if sasl:
        out["sasl.mechanism"] = (config.get("sasl") or {}).get("mechanism") or "PLAIN"
        out["sasl.username"] = config["username"]
        out["sasl.password"] = config.get("password") or ""
    if secure:
        out.update(_tls_config(tls, f"{path}.ssl"))
    return out


def _tls_config(tls: Mapping[str, Any], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    mode = tls.get("verification_mode", "full")
    out["enable.ssl.certificate.verification"] = mode != "none"
    out["ssl.endpoint.identification.algorithm"] = "https" if mode in ("full", "strict") else "none"
    authorities = tls.get("certificate_authorities") or []
    if authorities:
        pems = []
        for ca in authorities:
            try:
                with open(ca, encoding="ascii") as handle:
                    pems.append(handle.read())
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}.certificate_authorities", f"cannot read CA file {ca}: {exc}") from None
        out["ssl.ca.pem"] = "\n".join(pems)  # several files, as Beats allows; librdkafka takes one PEM text
    if tls.get("certificate"):
        if not tls.get("key"):
            raise ConfigError(f"{path}.key", "a client certificate needs its key")
        for name in ("certificate", "key"):
            if not os.access(tls[name], os.R_OK):
                raise ConfigError(f"{path}.{name}", f"cannot read {tls[name]}")
        out["ssl.certificate.location"] = tls["certificate"]
        out["ssl.key.location"] = tls["key"]
        if tls.get("key_passphrase"):
            out["ssl.key.password"] = tls["key_passphrase"]
    if sorted(tls.get("supported_protocols") or ["TLSv1.2", "TLSv1.3"]) != ["TLSv1.2", "TLSv1.3"]:
        log.warning("%s.supported_protocols: no effect on Kafka; librdkafka negotiates TLS 1.2 or 1.3", path)
    return out


_HTML_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))


def _escape_html(data: bytes) -> bytes:
    for raw, escape in _HTML_ESCAPES:
        data = data.replace(raw, escape)
    return data


def _encoder(codec: Mapping[str, Any], path: str) -> Callable[[dict[str, Any]], bytes]:
    """Event -> message value. Outside strings JSON has no <, > or &, so escaping them in the bytes is safe."""
    if "format" in codec:
        fmt = _format(codec["format"]["string"], f"{path}.format.string")
        return lambda event: fmt.render(event).encode()
    options = codec.get("json") or {}
    flags = orjson.OPT_INDENT_2 if options.get("pretty") else 0
    if not options.get("escape_html"):
        return lambda event: orjson.dumps(event, option=flags)
    return lambda event: _escape_html(orjson.dumps(event, option=flags))


def _confluent() -> Any:
    try:
        import confluent_kafka
    except ImportError:
        raise ConfigError("output.kafka", "needs the confluent-kafka package: pip install "
                          "'packetshipper[kafka]'") from None
    return confluent_kafka


class _ThrottledLog(logging.Filter):
    """librdkafka repeats a failing connection's line on every reconnect: one per kind per 30 s."""

    def __init__(self) -> None:
        super().__init__()
        self.last: dict[tuple[int, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.levelno, record.getMessage().split(" ", 1)[0])
        now = time.monotonic()
        if now - self.last.get(kind, -1e9) < 30.0:
            return False
        if len(self.last) > 256:
            self.last.clear()
        self.last[kind] = now
        return True


_silent = logging.getLogger("packetshipper.outputs.kafka.settings_check")
_silent.propagate = False
_silent.addHandler(logging.NullHandler())
_librdkafka_log = logging.getLogger("packetshipper.outputs.kafka.librdkafka")
_librdkafka_log.addFilter(_ThrottledLog())


# --- the output ----------------------------------------------------------------------------------------

class _Topic:
    """What the partitioners need of a topic: all partitions, those with a leader, when it was read."""

    __slots__ = ("all", "reachable", "read_at", "partitioner")

    def __init__(self, all_ids: list[int], reachable: list[int], partitioner: _Partitioner) -> None:
        self.all, self.reachable, self.read_at, self.partitioner = all_ids, reachable, time.monotonic(), partitioner


# librdkafka codes for a message the broker (or librdkafka) will never take: Beats drops these.
_PERMANENT_NAMES = ("MSG_SIZE_TOO_LARGE", "_MSG_SIZE_TOO_LARGE", "INVALID_MSG", "INVALID_MSG_SIZE",
                    "INVALID_RECORD", "RECORD_LIST_TOO_LARGE")
# Codes after which the topic's partition layout may be stale.
_STALE_NAMES = ("UNKNOWN_TOPIC_OR_PART", "_UNKNOWN_PARTITION", "_UNKNOWN_TOPIC", "NOT_LEADER_FOR_PARTITION",
                "LEADER_NOT_AVAILABLE")


class KafkaOutput(Output):
    name: ClassVar[str] = "kafka"
    accepts_encoded = True
    settings: ClassVar[Spec] = KAFKA_SETTINGS

    def __init__(self, config: Any, rng: random.Random | None = None) -> None:
        super().__init__(config)
        path = "output.kafka"
        self.kafka = _confluent()
        self.rules = build_topic_rules(config.get("topic"), list(config.get("topics") or []), path)
        key = config.get("key")
        self.key = _format(key, f"{path}.key") if key else None
        (self.partition_kind, self.partition_options), = (config.get("partition")
                                                          or {"hash": _PARTITIONERS["hash"]}).items()
        self.headers = [(k, v.encode()) for k, v in config.get("headers") or []]
        codec = config.get("codec") or {"json": {}}
        self.encode = _encoder(codec, f"{path}.codec")
        json_options = codec.get("json")
        # Compact JSON is the encoded document with @metadata added; `pretty` and `format` need the event.
        self._compact = json_options is not None and not json_options.get("pretty")
        self._escape = bool(json_options and json_options.get("escape_html"))
        self.max_bytes = int(config.get("max_message_bytes") or 1000000)
        self.timeout = float(config.get("timeout") or 30.0)
        self.properties = librdkafka_config(config, path)
        self._check_properties()
        self.metadata = {"beat": BEAT_NAME, "type": "_doc", "version": __version__}
        meta = config.get("metadata") or {}
        self.refresh = float(meta.get("refresh_frequency") or 600.0)
        retry = meta.get("retry") or {}
        self.metadata_tries = int(retry.get("max", 3)) + 1
        self.metadata_backoff = float(retry.get("backoff", 0.25))
        self.rng = rng or random.Random()
        codes = self.kafka.KafkaError
        self.permanent_codes = {getattr(codes, n) for n in _PERMANENT_NAMES if hasattr(codes, n)}
        self.stale_codes = {getattr(codes, n) for n in _STALE_NAMES if hasattr(codes, n)}
        self.producer: Producer | None = None
        self.topics: dict[str, _Topic] = {}
        self.brokers: dict[int, str] = {}
        self.stats = dict.fromkeys(
            ("batches", "events_acked", "events_retried", "events_dead", "bytes_written", "errors",
             "connects", "connect_errors", "queue_full", "metadata_requests", "keys_missing", "events_decoded"), 0)
        self.last_error = ""
        self.client_error = ""

    # --- connection --------------------------------------------------------------------------------

    def _producer(self) -> Producer:
        if self.producer is None:
            try:
                self.producer = self.kafka.Producer({**self.properties, "logger": _librdkafka_log,
                                                     "error_cb": self._client_error})
            except self.kafka.KafkaException as exc:  # _check_properties passed: unexpected, but be clear
                raise OutputError(f"kafka: librdkafka refused the settings: {exc}") from None
        assert self.producer is not None
        return self.producer

    def _check_properties(self) -> None:
        """Let librdkafka refuse a setting now (a bad PEM, an unreadable key file), not in the output thread;
        without bootstrap servers this client connects nowhere."""
        probe = {k: v for k, v in self.properties.items() if k != "bootstrap.servers"}
        try:
            self.kafka.Producer({**probe, "logger": _silent}).flush(0)
        except self.kafka.KafkaException as exc:
            raise ConfigError("output.kafka", f"librdkafka refused the settings: {exc.args[0].str()}") from None

    def _client_error(self, err: KafkaError) -> None:
        """librdkafka's own errors (authentication, all brokers down), kept to explain a failure."""
        self.client_error = err.str()

    def use_identity(self, identity: Identity) -> None:
        super().use_identity(identity)
        self.metadata = {"beat": identity.beat, "type": "_doc", "version": identity.version}

    def fields_used(self) -> frozenset[str]:
        """What topic rules, the key and the hash partitioner read (a `codec.format` string reads the
        decoded event instead)."""
        used = rule_fields(self.config.get("topic"), self.config.get("topics"), "topic")
        used |= format_fields(self.config.get("key"))
        used.update(self.partition_options.get("hash") or [])
        return frozenset(used)

    def _value(self, event: EncodedEvent, meta: Any) -> bytes:
        """The message value: the event with @metadata, as `encode` makes it from the event itself."""
        if self._compact:
            data = with_metadata(event.doc, orjson.dumps(meta))
            return _escape_html(data) if self._escape else data
        self.stats["events_decoded"] += 1
        return self.encode({**event.decoded(), "@metadata": meta})

    def connect(self) -> None:
        """Reach a broker and read the cluster's metadata; OutputError when none answers."""
        producer = self._producer()
        try:
            md = producer.list_topics(timeout=min(self.timeout, 10.0))
        except self.kafka.KafkaException as exc:
            producer.poll(0)  # serve librdkafka's log lines and error callbacks
            self.stats["connect_errors"] += 1
            why = exc.args[0].str() if exc.args else str(exc)
            if self.client_error and self.client_error not in why:
                why += f" ({self.client_error})"
            raise OutputError(f"kafka: no broker answers ({self.properties['bootstrap.servers']}): {why}") from None
        producer.poll(0)
        self.stats["connects"] += 1
        self.brokers = {b.id: f"{b.host}:{b.port}" for b in md.brokers.values()}

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(min(self.timeout, 1.0))
            self.producer.purge()
            self.producer.poll(0)
            self.producer = None

    # --- metadata ----------------------------------------------------------------------------------

    def _topic(self, name: str) -> _Topic | None:
        known = self.topics.get(name)
        if known is not None and time.monotonic() - known.read_at < self.refresh:
            return known
        producer = self._producer()
        for attempt in range(self.metadata_tries):
            if attempt:
                time.sleep(self.metadata_backoff)
            self.stats["metadata_requests"] += 1
            try:
                md = producer.list_topics(name, timeout=min(self.timeout, 10.0)).topics.get(name)
            except self.kafka.KafkaException as exc:
                self.last_error = str(exc)
                continue
            if md is None or md.error is not None or not md.partitions:
                self.last_error = f"topic {name}: {md.error.str() if md is not None and md.error else 'no partitions'}"
                continue
            ids = sorted(md.partitions)
            reachable = [p for p in ids if md.partitions[p].leader >= 0]
            partitioner = known.partitioner if known is not None else \
                _Partitioner(self.partition_kind, self.partition_options, self.rng)
            self.topics[name] = _Topic(ids, reachable, partitioner)
            return self.topics[name]
        if known is not None:  # keep publishing on the last layout seen
            known.read_at = time.monotonic()
            return known
        return None

    def _partition(self, topic: _Topic, event: Mapping[str, Any], key: bytes | None) -> int:
        candidates = topic.reachable if self.partition_options.get("reachable_only") else topic.all
        if not candidates:
            raise OutputError("no partition has a leader")
        return candidates[topic.partitioner.choose(event, key, len(candidates))]

    # --- publishing --------------------------------------------------------------------------------

    def publish_batch(self, events: list[Any]) -> BatchResult:
        self.stats["batches"] += 1
        result = BatchResult()
        encoded = self.encoded(events, result.dead, self._unencodable)
        producer = self._producer()
        outcome: dict[int, KafkaError | None] = {}
        retry: set[int] = set()
        deadline = time.monotonic() + 2 * self.timeout + 1.0
        topic_of: dict[int, str] = {}
        missing: set[str] = set()  # topics without metadata: asked once per batch
        for i, event in enumerate(encoded):
            if event is None:
                continue
            planned = self._plan(i, event, result, retry, missing)
            if planned is None:
                continue
            topic, partition, key, value = planned
            topic_of[i] = topic
            if not self._produce(producer, i, topic, partition, key, value, outcome, result, retry, deadline):
                retry.update(range(i, len(events)))
                retry.difference_update(j for j, _ in result.dead)
                break
        left = producer.flush(max(0.0, deadline - time.monotonic()))
        if left:  # librdkafka should have timed these out by now; their reports say _PURGE_*
            producer.purge()
            producer.poll(0)
        dead_indexes = {j for j, _ in result.dead}
        for i in range(len(events)):
            if i in dead_indexes or i in retry:
                continue
            if i not in outcome:
                retry.add(i)
                continue
            err = outcome[i]
            if err is None:
                continue
            self.stats["errors"] += 1
            self.last_error = err.str()
            if err.code() in self.permanent_codes:
                result.dead.append((i, f"kafka: rejected for good: {err.str()}"))
                self.stats["events_dead"] += 1
            else:
                if err.code() in self.stale_codes:
                    self.topics.pop(topic_of.get(i, ""), None)  # read its layout again
                retry.add(i)
        result.retry = sorted(retry)
        self.stats["events_retried"] += len(result.retry)
        acked = len(events) - len(result.retry) - len(result.dead)
        self.stats["events_acked"] += acked
        if result.retry and acked == 0 and not result.dead:
            raise OutputError(f"kafka: none of {len(events)} events delivered: {self.last_error}")
        return result

    def _plan(self, i: int, encoded: EncodedEvent, result: BatchResult, retry: set[int],
              missing: set[str]) -> tuple[str, int, bytes | None, bytes] | None:
        """Topic, partition, key and payload of one event; None if it is dead or must wait."""
        own, event = encoded.meta, encoded.fields
        meta = {**self.metadata, **own} if isinstance(own, dict) else self.metadata
        try:
            topic_name = select_topic(self.rules, event)
            value = self._value(encoded, meta)
        except (SelectorError, TypeError, orjson.JSONEncodeError) as exc:
            self._dead(result, i, f"kafka: {exc}")
            return None
        if len(value) > self.max_bytes:
            self._dead(result, i, f"kafka: event of {len(value)} bytes is over max_message_bytes "
                                  f"({self.max_bytes})")
            return None
        key: bytes | None = None
        if self.key is not None:
            try:
                key = self.key.render(event).encode()
            except SelectorError:
                self.stats["keys_missing"] += 1
        topic = None if topic_name in missing else self._topic(topic_name)
        if topic is None:
            missing.add(topic_name)
            retry.add(i)
            return None
        try:
            partition = self._partition(topic, event, key)
        except _Unhashable as exc:
            self._dead(result, i, f"kafka: hashing the partition key failed: {exc}")
            return None
        except OutputError as exc:
            self.last_error = f"topic {topic_name}: {exc}"
            retry.add(i)
            return None
        return topic_name, partition, key, value

    def _unencodable(self, reason: str) -> str:
        self.stats["events_dead"] += 1
        return f"kafka: {reason}"

    def _dead(self, result: BatchResult, i: int, why: str) -> None:
        result.dead.append((i, why))
        self.stats["events_dead"] += 1

    def _produce(self, producer: Producer, i: int, topic: str, partition: int, key: bytes | None,
                 value: bytes, outcome: dict[int, KafkaError | None], result: BatchResult,
                 retry: set[int], deadline: float) -> bool:
        """Hand one message to librdkafka; False when its queue stays full until the deadline."""
        def report(err: KafkaError | None, _msg: Message, i: int = i) -> None:
            outcome[i] = err

        while True:
            try:
                producer.produce(topic, value=value, key=key, partition=partition,
                                 headers=self.headers or None, on_delivery=report)
                self.stats["bytes_written"] += len(value)
                return True
            except BufferError:
                self.stats["queue_full"] += 1
                if time.monotonic() >= deadline:
                    return False
                producer.poll(0.05)
            except self.kafka.KafkaException as exc:
                err = exc.args[0]
                self.stats["errors"] += 1
                self.last_error = err.str()
                if err.code() in self.permanent_codes:
                    self._dead(result, i, f"kafka: rejected for good: {err.str()}")
                else:
                    retry.add(i)
                return True


def check_brokers(section: Mapping[str, Any]) -> str:
    """`test output` for Kafka: dial every bootstrap host, then read the cluster's metadata."""
    from ..settings import validate

    own = {k: v for k, v in section.items() if k in KAFKA_SETTINGS}
    config = validate(KAFKA_SETTINGS, own, "output.kafka")
    output = KafkaOutput(config)
    lines = [f"kafka: {', '.join(config['hosts'])}..."]
    failed = False
    for host, port in (split_host_port(h, DEFAULT_PORT) for h in config["hosts"]):
        try:
            socket.create_connection((host, port), timeout=min(output.timeout, 10.0)).close()
            lines.append(f"  {host}:{port}... dial up OK")
        except OSError as exc:
            lines.append(f"  {host}:{port}... dial up ERROR {exc.strerror or exc}")
            failed = True
    try:
        output.connect()
        brokers = ", ".join(f"{bid} {addr}" for bid, addr in sorted(output.brokers.items()))
        lines.append(f"  metadata... OK ({len(output.brokers)} brokers: {brokers})")
    except OutputError as exc:
        lines.append(f"  metadata... ERROR {exc}")
        failed = True
    finally:
        output.close()
    if failed:
        raise OutputError("\n".join(lines))
    return "\n".join(lines)
