"""A real redis-server (Debian's package) on loopback, driven by the real redis-cli, captured live.

Expected values are the server's own answers as redis-cli prints them, and the commands the test sent.
Needs permission to capture on lo (root or CAP_NET_RAW) and redis-server/redis-cli; skipped otherwise.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis_wire as w
from packetshipper.capture import CaptureError, LiveSource
from packetshipper.config import validate_config
from packetshipper.runner import Shipper
from packetshipper.testing import CollectingPublisher


def _cannot_run() -> str | None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return "redis-server / redis-cli not installed (install.sh --dev installs them)"
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return f"cannot capture on lo: {exc}"
    return None


pytestmark = [pytest.mark.live, pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = _free_port()
    data = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(data), "--daemonize", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if cli(port, "PING") == "PONG":
                break
            time.sleep(0.05)
        else:
            pytest.fail("redis-server did not start")
        yield port
    finally:
        server.terminate()
        server.wait(10)


def cli(port: int, *args: str, stdin: bytes | None = None, resp3: bool = False) -> str:
    command = ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *(["-3"] if resp3 else []), *args]
    done = subprocess.run(command, input=stdin, capture_output=True, timeout=20, check=False)
    return done.stdout.decode().rstrip("\n")


@contextmanager
def capturing(port: int, **options: Any) -> Iterator[tuple[list[dict[str, Any]], dict[str, int]]]:
    """Events (in start order) and the module's counters of what happens inside the block."""
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo", "bpf_filter": f"tcp port {port}"}, "flows": {"enabled": False},
        "protocols": [{"type": "redis", "ports": [port], **options}]}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    events: list[dict[str, Any]] = []
    counters: dict[str, int] = {}
    time.sleep(0.3)  # let libpcap settle before traffic starts
    try:
        yield events, counters
        time.sleep(0.5)
    finally:
        shipper.stop()
        runner.join(10)
    events.extend(sorted((e for e in publisher.events if e["type"] == "redis"), key=lambda e: e["event"]["start"]))
    counters.update(shipper.modules[0].stats)


def shown(event: dict[str, Any]) -> tuple[Any, ...]:
    redis = event.get("redis", {})
    return event.get("method"), event.get("resource"), event["status"], redis.get("return_value", redis.get("error"))


def test_redis_cli_commands_become_one_event_each(redis_port: int) -> None:
    with capturing(redis_port) as (events, _):
        answers = [cli(redis_port, "SET", "greeting", "hello"), cli(redis_port, "GET", "greeting"),
                   cli(redis_port, "LPUSH", "greeting", "x"), cli(redis_port, "INCR", "visits"),
                   cli(redis_port, "CONFIG", "GET", "maxclients"), cli(redis_port, "NOSUCHCMD", "a")]
    assert answers[2].startswith("WRONGTYPE") and answers[5].startswith("ERR unknown command")
    config_reply = answers[4].split("\n")
    assert [shown(e) for e in events] == [
        ("SET", "greeting", "OK", answers[0]),
        ("GET", "greeting", "OK", answers[1]),
        ("LPUSH", "greeting", "Error", answers[2]),
        ("INCR", "visits", "OK", answers[3]),
        ("CONFIG GET", "maxclients", "OK", f"[{', '.join(config_reply)}]"),
        ("NOSUCHCMD", "a", "Error", answers[5]),
    ]
    assert events[0]["query"] == "SET greeting hello"
    assert events[2]["error"]["message"] == answers[2]
    assert all(e["destination"]["port"] == redis_port and e["source"]["ip"] == "127.0.0.1" for e in events)


def test_resp3_session_shows_the_hello_map_and_a_map_reply(redis_port: int) -> None:
    cli(redis_port, "DEL", "profile")
    with capturing(redis_port) as (events, counters):
        cli(redis_port, "HSET", "profile", "name", "ada", resp3=True)
        pairs = cli(redis_port, "HGETALL", "profile", resp3=True)
        missing = cli(redis_port, "GET", "no-such-key", resp3=True)
    assert pairs == "name ada"  # redis-cli prints a map's pairs as `key value` lines
    assert missing == ""  # redis-cli prints a null as nothing when not on a terminal
    methods = [e["method"] for e in events]
    assert methods == ["HELLO", "HSET", "HELLO", "HGETALL", "HELLO", "GET"]  # redis-cli -3 says HELLO 3 first
    hello = events[0]["redis"]["return_value"]
    assert hello.startswith("{server: redis, version: ") and "proto: 3" in hello
    assert shown(events[3]) == ("HGETALL", "profile", "OK", "{name: ada}")
    assert shown(events[5]) == ("GET", "no-such-key", "OK", "nil")
    assert counters.get("pushes", 0) == 0


def test_a_pipelined_batch_with_an_error_gives_one_event_per_command(redis_port: int) -> None:
    cli(redis_port, "DEL", "batch:text")
    commands = [w.command("SET", f"batch:{i}", str(i)) for i in range(100)]
    commands += [w.command("SET", "batch:text", "words"), w.command("INCR", "batch:text"),
                 w.command("GET", "batch:7")]
    with capturing(redis_port) as (events, _):
        report = cli(redis_port, "--pipe", stdin=b"".join(commands))
    assert "errors: 1, replies: 103" in report  # the server's own count
    ours = [e for e in events if e["method"] != "ECHO"]  # redis-cli --pipe ends with an ECHO of a marker
    assert len(ours) == 103 and len(events) == 104
    assert [shown(e) for e in ours[:2]] == [("SET", "batch:0", "OK", "OK"), ("SET", "batch:1", "OK", "OK")]
    assert shown(ours[101]) == ("INCR", "batch:text", "Error", "ERR value is not an integer or out of range")
    assert shown(ours[102]) == ("GET", "batch:7", "OK", cli(redis_port, "GET", "batch:7"))
    assert sum(e["status"] == "Error" for e in events) == 1


def test_a_long_list_reply_over_many_segments_is_one_event(redis_port: int) -> None:
    cli(redis_port, "DEL", "long")
    items = [f"item-{i:05d}-" + "x" * 40 for i in range(2000)]
    cli(redis_port, "--pipe", stdin=b"".join(w.command("RPUSH", "long", item) for item in items))
    with capturing(redis_port) as (events, _):
        listed = cli(redis_port, "LRANGE", "long", "0", "-1").split("\n")
        cli(redis_port, "STRLEN", "long")
    assert listed == items
    lrange, strlen = events
    assert shown(lrange) == ("LRANGE", "long", "OK", "[" + ", ".join(items) + "]")
    assert lrange["destination"]["bytes"] > 100_000  # well over one 64 KiB loopback segment
    assert strlen["status"] == "Error" and strlen["redis"]["error"].startswith("WRONGTYPE")


def test_pubsub_messages_are_pushes_not_unmatched_replies(redis_port: int) -> None:
    with capturing(redis_port) as (events, counters), socket.create_connection(("127.0.0.1", redis_port)) as sub:
        sub.settimeout(5)
        sub.sendall(w.command("SUBSCRIBE", "news", "sport"))
        confirmations = w.array(w.bulk("subscribe"), w.bulk("news"), w.integer(1)) + w.array(
            w.bulk("subscribe"), w.bulk("sport"), w.integer(2))
        received = b""
        while len(received) < len(confirmations):
            received += sub.recv(4096)
        assert received == confirmations  # what the spec says the server answers
        receivers = [cli(redis_port, "PUBLISH", "news", f"story {i}") for i in range(3)]
        time.sleep(0.2)
    assert receivers == ["1", "1", "1"]
    subscriber = [e for e in events if e["method"] == "SUBSCRIBE"]
    assert [shown(e) for e in subscriber] == [("SUBSCRIBE", "news", "OK", "[subscribe, news, 1]")]
    assert [shown(e) for e in events if e["method"] == "PUBLISH"] == [("PUBLISH", "news", "OK", "1")] * 3
    assert counters["pushes"] == 4  # the second confirmation and the three messages
    assert "unmatched_responses" not in counters and all(e["status"] == "OK" for e in events)


def test_inline_commands_are_split_as_the_server_splits_them(redis_port: int) -> None:
    with capturing(redis_port) as (events, _), socket.create_connection(("127.0.0.1", redis_port)) as raw:
        raw.settimeout(5)
        raw.sendall(b"SET \"inline key\" 'it\\'s here'\r\n")
        assert raw.recv(100) == b"+OK\r\n"
    assert cli(redis_port, "GET", "inline key") == "it's here"  # the server's view of the two arguments
    (event,) = events
    assert shown(event) == ("SET", "inline key", "OK", "OK")
    assert event["query"] == "SET inline key it's here"


def test_a_value_over_max_message_size_is_truncated_with_a_note(redis_port: int) -> None:
    value = "v" * 300_000
    cli(redis_port, "-x", "SET", "big", stdin=value.encode())
    with capturing(redis_port, max_message_size=1000) as (events, counters):
        got = cli(redis_port, "GET", "big")
    assert got == value
    (event,) = events
    assert event["redis"]["return_value"] == value[:1000]
    assert event["notes"] == ["Response longer than max_message_size: the rest was counted, not kept"]
    assert event["destination"]["bytes"] == len(w.bulk(value))
    assert counters["messages_truncated"] == 1


def test_client_reply_off_and_skip_as_the_server_applies_them(redis_port: int) -> None:
    pipeline = (w.command("CLIENT", "REPLY", "SKIP") + w.command("SET", "cr", "1") + w.command("GET", "cr")
                + w.command("CLIENT", "REPLY", "OFF") + w.command("INCR", "cr") + w.command("CLIENT", "REPLY", "ON")
                + w.command("GET", "cr"))
    expected = w.bulk("1") + w.simple("OK") + w.bulk("2")  # the replies the server sends, no more
    with capturing(redis_port) as (events, counters), socket.create_connection(("127.0.0.1", redis_port)) as raw:
        raw.settimeout(5)
        raw.sendall(pipeline)
        received = b""
        while len(received) < len(expected):
            received += raw.recv(4096)
        time.sleep(0.2)
        raw.settimeout(0.3)
        with pytest.raises(TimeoutError):
            received += raw.recv(4096)
    assert received == expected
    # One segment: the same start for all, so in the order published (unanswered ones first).
    assert [(e["query"], e.get("redis", {}).get("return_value")) for e in events] == [
        ("CLIENT REPLY SKIP", None), ("SET cr 1", None), ("CLIENT REPLY OFF", None), ("INCR cr", None),
        ("GET cr", "1"), ("CLIENT REPLY ON", "OK"), ("GET cr", "2")]
    assert all(e["status"] == "OK" for e in events)
    assert "unmatched_responses" not in counters and "unmatched_requests" not in counters
