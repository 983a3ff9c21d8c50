"""The Redis output against a real redis-server started on a free loopback port."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packetshipper.outputs.base import OutputError
from packetshipper.outputs.redis import RedisOutput
from packetshipper.settings import ConfigError, validate
from packetshipper.version import __version__
from servers.redis_server import REDIS_SERVER, free_port, redis_command, redis_server

pytestmark = pytest.mark.skipif(REDIS_SERVER is None,
                                reason="redis-server is not installed (apt package redis-server; .ci/run installs it)")

META = {"beat": "packetshipper", "type": "_doc", "version": __version__}


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    with redis_server(tmp_path) as p:
        yield p


def make_output(port: int, **cfg: Any) -> RedisOutput:
    return RedisOutput(validate(RedisOutput.settings, {"hosts": [f"127.0.0.1:{port}"], **cfg}))


def stored(port: int, key: str, db: int | None = None) -> list[Any]:
    if db is None:
        raw = redis_command(port, "LRANGE", key, "0", "-1")
    else:  # SELECT is per connection, so ask with a Lua script that selects first
        raw = redis_command(port, "EVAL", f"redis.call('SELECT', {db}); return redis.call('LRANGE', KEYS[1], 0, -1)",
                            "1", key)
    assert isinstance(raw, list)
    return [json.loads(item) for item in raw]


def test_events_are_rpushed_as_json_to_the_default_key_in_order(port: int) -> None:
    output = make_output(port)
    result = output.publish_batch([{"n": 1}, {"n": 2}, {"n": 3}])
    assert result.retry == [] and result.dead == []
    assert stored(port, "packetshipper") == [{"n": 1, "@metadata": META}, {"n": 2, "@metadata": META},
                                             {"n": 3, "@metadata": META}]
    assert output.stats["events_acked"] == 3


def test_key_format_strings_and_rules_choose_the_list(port: int) -> None:
    output = make_output(port, key="ps-%{[type]}", keys=[{"key": "errors", "when.equals": {"status": "Error"}}])
    output.publish_batch([{"type": "http", "status": "OK"}, {"type": "dns", "status": "OK"},
                          {"type": "http", "status": "Error"}, {"status": "OK"}])
    assert [e["type"] for e in stored(port, "ps-http")] == ["http"]
    assert [e["type"] for e in stored(port, "ps-dns")] == ["dns"]
    assert [e["status"] for e in stored(port, "errors")] == ["Error"]


def test_an_event_without_a_key_is_dead_with_the_reason(port: int) -> None:
    result = make_output(port, key="ps-%{[type]}").publish_batch([{"n": 1}])
    assert result.dead == [(0, "redis: no target for this event: field 'type' is missing")]


def test_db_is_selected_after_connecting(port: int) -> None:
    make_output(port, db=3).publish_batch([{"n": 1}])
    assert stored(port, "packetshipper") == []
    assert stored(port, "packetshipper", db=3) == [{"n": 1, "@metadata": META}]


def test_password_is_sent_with_auth_and_a_wrong_one_fails(tmp_path: Path) -> None:
    with redis_server(tmp_path, "--requirepass", "s3cret") as p:
        make_output(p, password="s3cret").publish_batch([{"n": 1}])
        assert redis_command(p, "LLEN", "packetshipper", password="s3cret") == 1
        with pytest.raises(OutputError, match="AUTH failed"):
            make_output(p, password="wrong").publish_batch([{"n": 2}])


def test_datatype_channel_publishes_each_event(port: int) -> None:
    received: list[bytes] = []
    subscribed = threading.Event()

    def subscriber() -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, sock.makefile("rb") as stream:
            sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n")
            for _ in range(6):  # *3, $9, subscribe, $4, news, :1
                stream.readline()
            subscribed.set()
            while len(received) < 2:
                assert stream.readline() == b"*3\r\n"
                stream.readline(), stream.readline(), stream.readline(), stream.readline()  # $7 message $4 news
                length = int(stream.readline()[1:])
                received.append(stream.read(length + 2)[:-2])

    thread = threading.Thread(target=subscriber)
    thread.start()
    assert subscribed.wait(5)
    make_output(port, datatype="channel", key="news").publish_batch([{"n": 1}, {"n": 2}])
    thread.join(5)
    assert [json.loads(m) for m in received] == [{"n": 1, "@metadata": META}, {"n": 2, "@metadata": META}]


def test_a_command_error_retries_its_events_only(port: int) -> None:
    redis_command(port, "SET", "taken", "a string, not a list")
    result = make_output(port, key="%{[k]}").publish_batch([{"k": "taken"}, {"k": "fine"}, {"k": "taken"}])
    assert result.retry == [0, 2]
    assert len(stored(port, "fine")) == 1


def test_an_unreachable_server_raises_output_error() -> None:
    with pytest.raises(OutputError, match="cannot connect"):
        make_output(free_port(), timeout="2s").publish_batch([{"n": 1}])


def test_fail_over_to_the_second_host(port: int) -> None:
    output = RedisOutput(validate(RedisOutput.settings, {
        "hosts": [f"127.0.0.1:{free_port()}", f"127.0.0.1:{port}"], "loadbalance": False}))
    assert output.publish_batch([{"n": 1}]).retry == []
    assert len(stored(port, "packetshipper")) == 1


def test_key_and_index_together_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="index"):
        RedisOutput(validate(RedisOutput.settings, {"hosts": ["localhost"], "key": "a", "index": "b"}))
