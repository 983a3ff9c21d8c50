"""A real RabbitMQ (Debian's rabbitmq-server: its own node name, ports and mnesia dir under tmp_path)
driven by pika on loopback, captured live.

Expected values are the broker's own answers as pika returns them (queue.declare-ok's counts,
basic.get-ok's delivery tag, the channel.close a passive declare of a missing queue provokes) and
what the client sent. Needs rabbitmq-server, pika and permission to capture on lo.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from packetshipper.capture import CaptureError, LiveSource
from packetshipper.config import validate_config
from packetshipper.runner import Shipper
from packetshipper.testing import CollectingPublisher

pika = pytest.importorskip("pika")

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _cannot_run() -> str | None:
    if not os.access(SERVER, os.X_OK):
        return "rabbitmq-server not installed (install.sh --dev installs it)"
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return f"cannot capture on lo: {exc}"
    return None


pytestmark = [pytest.mark.live, pytest.mark.slow,
              pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    base = tmp_path_factory.mktemp("rabbitmq")
    port, dist = _free_port(), _free_port()
    node = f"pstest{port}@localhost"
    for sub in ("mnesia", "log"):
        (base / sub).mkdir()
    (base / "plugins").write_text("[].\n")
    env = {**os.environ, "HOME": str(base), "RABBITMQ_NODENAME": node, "RABBITMQ_NODE_PORT": str(port),
           "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
           "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "plugins"), "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
           "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"), "RABBITMQ_PID_FILE": str(base / "pid")}
    # The script under Debian's wrapper: it runs the broker as the calling user (the wrapper would switch
    # to the rabbitmq user, who cannot enter pytest's private tmp_path).
    server = subprocess.Popen([SERVER], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(240):
            try:
                pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port)).close()
                break
            except pika.exceptions.AMQPConnectionError:
                if server.poll() is not None:
                    pytest.fail("rabbitmq-server exited")
                time.sleep(0.25)
        else:
            pytest.fail("rabbitmq-server did not start")
        yield port
    finally:
        server.terminate()  # the broker stops cleanly on SIGTERM
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        # The Erlang port mapper the broker started outlives it: stop it too (it refuses while nodes remain).
        epmd = shutil.which("epmd") or next(iter(sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))), None)
        if epmd:
            subprocess.run([epmd, "-kill"], capture_output=True, timeout=10, env=env)


def _capture(port: int, drive: Any, **options: Any) -> list[dict[str, Any]]:
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo", "bpf_filter": f"tcp port {port}"}, "flows": {"enabled": False},
        "protocols": [{"type": "amqp", "ports": [port], **options}]}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    time.sleep(0.3)
    try:
        drive()
        time.sleep(0.5)
    finally:
        shipper.stop()
        runner.join(10)
    return sorted((e for e in publisher.events if e["type"] == "amqp"), key=lambda e: e["event"]["start"])


def test_declare_publish_get_and_a_channel_error(broker: int, assert_valid_event: Any) -> None:
    seen: dict[str, Any] = {}

    def drive() -> None:
        connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", broker))
        channel = connection.channel()
        declared = channel.queue_declare(queue="ps-live", durable=False, auto_delete=True)
        seen["declare"] = declared.method
        for i in range(3):
            channel.basic_publish("", "ps-live", f"message {i}".encode(), pika.BasicProperties(
                content_type="text/plain", delivery_mode=2, message_id=f"m{i}", user_id="guest",
                headers={"attempt": i}))
        seen["get"] = channel.basic_get("ps-live", auto_ack=True)
        try:
            channel.queue_declare(queue="ps-missing", passive=True)
        except pika.exceptions.ChannelClosedByBroker as error:
            seen["closed"] = error
        connection.close()

    events = _capture(broker, drive, send_request=True, send_response=True)
    for event in events:
        assert_valid_event(event)
    by_method: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_method.setdefault(event["method"], []).append(event)
    assert sorted(by_method) == ["basic.get", "basic.publish", "channel.close", "queue.declare"]

    declare = seen["declare"]
    # The passive declare got no declare-ok (the broker closed the channel instead): as Packetbeat, an
    # unanswered request is not published; only the first declare is.
    (ok_declare,) = by_method["queue.declare"]
    assert ok_declare["amqp"]["queue"] == declare.queue == "ps-live"
    assert ok_declare["amqp"]["message-count"] == declare.message_count
    assert ok_declare["amqp"]["consumer-count"] == declare.consumer_count
    assert ok_declare["amqp"]["auto-delete"] is True and ok_declare["status"] == "OK"

    publishes = by_method["basic.publish"]
    assert [p["request"] for p in publishes] == ["message 0", "message 1", "message 2"]
    for i, p in enumerate(publishes):
        assert p["amqp"]["routing-key"] == "ps-live" and p["amqp"]["content-type"] == "text/plain"
        assert p["amqp"]["delivery-mode"] == "persistent" and p["amqp"]["message-id"] == f"m{i}"
        assert p["amqp"]["headers"] == {"attempt": i} and p["user"]["id"] == "guest"
        assert p["event"]["action"] == "amqp.basic.publish"

    method, _properties, body = seen["get"]
    (got,) = by_method["basic.get"]
    assert got["amqp"]["delivery-tag"] == method.delivery_tag
    assert got["amqp"]["message-count"] == method.message_count
    assert got["response"] == body.decode() == "message 0"

    closed = seen["closed"]
    (close,) = by_method["channel.close"]
    assert close["status"] == "Error"
    assert close["amqp"]["reply-code"] == closed.reply_code == 404
    assert close["amqp"]["reply-text"] == closed.reply_text
    assert (close["amqp"]["class-id"], close["amqp"]["method-id"]) == (50, 10)  # queue.declare
    assert close["source"]["port"] == broker  # the broker sent the close
