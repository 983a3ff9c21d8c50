"""Packetbeat's AMQP captures: every assertion of test_0051_amqp_publish.py, test_0052_amqp_emit_receive.py
and test_0053_amqp_channel_error.py (Packetbeat's flat keys read from our nested events; its old
top-level `port` is today's `server.port`)."""

from __future__ import annotations

from typing import Any

from golden import PCAPS, flatten
from packetshipper.testing import events_from_pcap


def amqp_events(pcap: str, **options: Any) -> list[dict[str, Any]]:
    config = {"packetshipper": {"protocols": [{"type": "amqp", "ports": [5672], **options}],
                                "flows": {"enabled": False}}}
    events = [e for e in events_from_pcap(str(PCAPS / pcap), config) if e["type"] == "amqp"]
    return [flatten(e) for e in sorted(events, key=lambda e: e["event"]["start"])]


def test_0051_amqp_publish() -> None:
    objs = amqp_events("amqp_publish.pcap", send_request=True)
    assert all(o["type"] == "amqp" for o in objs)
    assert len(objs) == 2
    assert all(o["server.port"] == 5672 for o in objs)

    assert objs[0]["method"] == "queue.declare"
    assert objs[0]["status"] == "OK"
    assert objs[0]["amqp.queue"] == "hello"
    assert objs[0]["amqp.durable"] is False
    assert objs[0]["amqp.auto-delete"] is False
    assert objs[0]["amqp.exclusive"] is False
    assert objs[0]["amqp.no-wait"] is False

    assert objs[1]["method"] == "basic.publish"
    assert objs[1]["status"] == "OK"
    assert objs[1]["request"] == "hello"
    assert objs[1]["amqp.routing-key"] == "hello"
    assert objs[1]["amqp.mandatory"] is False
    assert objs[1]["amqp.immediate"] is False
    assert objs[1]["amqp.content-type"] == "text/plain"


def test_0052_amqp_emit_receive() -> None:
    objs = amqp_events("amqp_emit_receive.pcap")
    assert all(o["type"] == "amqp" for o in objs)
    assert len(objs) == 7
    assert all(o["server.port"] == 5672 for o in objs)

    assert objs[0]["method"] == "exchange.declare"
    assert objs[0]["status"] == "OK"
    assert objs[0]["amqp.exchange"] == "logs"
    assert objs[0]["amqp.durable"]
    assert objs[0]["amqp.exchange-type"] == "fanout"
    assert objs[0]["amqp.passive"] is False
    assert objs[0]["amqp.no-wait"] is False

    assert objs[1]["method"] == "queue.declare"
    assert objs[1]["status"] == "OK"
    assert objs[1]["amqp.queue"] != ""
    assert objs[1]["amqp.exclusive"]
    assert objs[1]["amqp.no-wait"] is False
    assert objs[1]["amqp.durable"] is False
    assert objs[1]["amqp.auto-delete"] is False
    assert objs[1]["amqp.passive"] is False

    assert objs[2]["method"] == "queue.bind"
    assert objs[2]["status"] == "OK"
    assert objs[2]["amqp.queue"] != ""
    assert objs[2]["amqp.exchange"] == "logs"
    assert objs[2]["amqp.no-wait"] is False

    assert objs[3]["method"] == "basic.consume"
    assert objs[3]["status"] == "OK"
    assert objs[3]["amqp.queue"] != ""
    assert objs[3]["amqp.no-ack"]
    assert objs[3]["amqp.no-wait"] is False
    assert objs[3]["amqp.no-local"] is False
    assert objs[3]["amqp.exclusive"] is False

    assert objs[4]["method"] == "exchange.declare"
    assert objs[4]["status"] == "OK"
    assert objs[4]["amqp.exchange"] == "logs"
    assert objs[4]["amqp.durable"]
    assert objs[4]["amqp.exchange-type"] == "fanout"
    assert objs[4]["amqp.passive"] is False
    assert objs[4]["amqp.no-wait"] is False

    assert objs[5]["method"] == "basic.publish"
    assert objs[5]["status"] == "OK"
    assert objs[5]["amqp.content-type"] == "text/plain"
    assert objs[5]["amqp.exchange"] == "logs"
    assert objs[5]["amqp.immediate"] is False
    assert objs[5]["amqp.mandatory"] is False

    assert objs[6]["method"] == "basic.deliver"
    assert objs[6]["status"] == "OK"
    assert objs[6]["amqp.content-type"] == "text/plain"
    assert objs[6]["amqp.delivery-tag"] == 1
    assert objs[6]["amqp.exchange"] == "logs"
    assert objs[6]["amqp.redelivered"] is False


def test_0053_amqp_channel_error() -> None:
    objs = amqp_events("amqp_channel_error.pcap")
    assert all(o["type"] == "amqp" for o in objs)
    assert len(objs) == 3

    assert objs[0]["method"] == "exchange.declare"
    assert objs[0]["status"] == "OK"
    assert objs[0]["amqp.exchange"] == "titres"
    assert objs[0]["amqp.durable"] is True
    assert objs[0]["amqp.exchange-type"] == "fanout"
    assert objs[0]["amqp.passive"] is False
    assert objs[0]["amqp.no-wait"] is True

    assert objs[1]["method"] == "queue.declare"
    assert objs[1]["status"] == "OK"
    assert objs[1]["amqp.queue"] == "my_queue"
    assert objs[1]["amqp.exclusive"] is True
    assert objs[1]["amqp.no-wait"] is False
    assert objs[1]["amqp.durable"] is False
    assert objs[1]["amqp.auto-delete"] is False
    assert objs[1]["amqp.passive"] is False

    assert objs[2]["method"] == "channel.close"
    assert objs[2]["status"] == "Error"
    assert objs[2]["amqp.reply-code"] == 404
    assert objs[2]["amqp.reply-text"] == "NOT_FOUND - no exchange 'plop' in vhost '/'"
    assert objs[2]["amqp.class-id"] == 50
    assert objs[2]["amqp.method-id"] == 20


def test_event_action_and_connection_information_shown_when_asked() -> None:
    objs = amqp_events("amqp_publish.pcap", hide_connection_information=False)
    assert [o["event.action"] for o in objs][:4] == ["amqp.connection.start", "amqp.connection.tune",
                                                      "amqp.connection.open", "amqp.channel.open"]
    assert "amqp.channel.close" in [o["event.action"] for o in objs]
