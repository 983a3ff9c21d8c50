"""AMQP 0-9-1 classes and methods (amqp0-9-1.pdf section 1), their arguments as data.

Argument kinds: B octet, H short, L long, Q longlong, s shortstr, S longstr, b bit (consecutive bits
share octets, section 4.2.5.2), T field table, - a reserved argument that is read and not reported.
"""

from __future__ import annotations

__all__ = ["METHODS", "CONNECTION_INFO", "CONTENT_METHODS", "RESPONSES"]

_R_SHORT = ("-", "H")
_R_STR = ("-", "s")
_CLOSE = (("reply-code", "H"), ("reply-text", "s"), ("class-id", "H"), ("method-id", "H"))

METHODS: dict[tuple[int, int], tuple[str, tuple[tuple[str, str], ...]]] = {
    (10, 10): ("connection.start", (("version-major", "B"), ("version-minor", "B"),
                                    ("server-properties", "T"), ("mechanisms", "S"), ("locales", "S"))),
    (10, 11): ("connection.start-ok", (("client-properties", "T"), ("mechanism", "s"), ("-", "S"),
                                       ("locale", "s"))),
    (10, 20): ("connection.secure", (("-", "S"),)),
    (10, 21): ("connection.secure-ok", (("-", "S"),)),
    (10, 30): ("connection.tune", (("channel-max", "H"), ("frame-max", "L"), ("heartbeat", "H"))),
    (10, 31): ("connection.tune-ok", (("channel-max", "H"), ("frame-max", "L"), ("heartbeat", "H"))),
    (10, 40): ("connection.open", (("virtual-host", "s"), _R_STR, ("-", "b"))),
    (10, 41): ("connection.open-ok", (_R_STR,)),
    (10, 50): ("connection.close", _CLOSE),
    (10, 51): ("connection.close-ok", ()),
    (10, 60): ("connection.blocked", (("reason", "s"),)),
    (10, 61): ("connection.unblocked", ()),
    (20, 10): ("channel.open", (_R_STR,)),
    (20, 11): ("channel.open-ok", (("-", "S"),)),
    (20, 20): ("channel.flow", (("active", "b"),)),
    (20, 21): ("channel.flow-ok", (("active", "b"),)),
    (20, 40): ("channel.close", _CLOSE),
    (20, 41): ("channel.close-ok", ()),
    (40, 10): ("exchange.declare", (_R_SHORT, ("exchange", "s"), ("exchange-type", "s"), ("passive", "b"),
                                    ("durable", "b"), ("auto-delete", "b"), ("internal", "b"), ("no-wait", "b"),
                                    ("arguments", "T"))),
    (40, 11): ("exchange.declare-ok", ()),
    (40, 20): ("exchange.delete", (_R_SHORT, ("exchange", "s"), ("if-unused", "b"), ("no-wait", "b"))),
    (40, 21): ("exchange.delete-ok", ()),
    (40, 30): ("exchange.bind", (_R_SHORT, ("destination", "s"), ("source", "s"), ("routing-key", "s"),
                                 ("no-wait", "b"), ("arguments", "T"))),
    (40, 31): ("exchange.bind-ok", ()),
    (40, 40): ("exchange.unbind", (_R_SHORT, ("destination", "s"), ("source", "s"), ("routing-key", "s"),
                                   ("no-wait", "b"), ("arguments", "T"))),
    (40, 51): ("exchange.unbind-ok", ()),
    (50, 10): ("queue.declare", (_R_SHORT, ("queue", "s"), ("passive", "b"), ("durable", "b"), ("exclusive", "b"),
                                 ("auto-delete", "b"), ("no-wait", "b"), ("arguments", "T"))),
    (50, 11): ("queue.declare-ok", (("queue", "s"), ("message-count", "L"), ("consumer-count", "L"))),
    (50, 20): ("queue.bind", (_R_SHORT, ("queue", "s"), ("exchange", "s"), ("routing-key", "s"), ("no-wait", "b"),
                              ("arguments", "T"))),
    (50, 21): ("queue.bind-ok", ()),
    (50, 30): ("queue.purge", (_R_SHORT, ("queue", "s"), ("no-wait", "b"))),
    (50, 31): ("queue.purge-ok", (("message-count", "L"),)),
    (50, 40): ("queue.delete", (_R_SHORT, ("queue", "s"), ("if-unused", "b"), ("if-empty", "b"), ("no-wait", "b"))),
    (50, 41): ("queue.delete-ok", (("message-count", "L"),)),
    (50, 50): ("queue.unbind", (_R_SHORT, ("queue", "s"), ("exchange", "s"), ("routing-key", "s"),
                                ("arguments", "T"))),
    (50, 51): ("queue.unbind-ok", ()),
    (60, 10): ("basic.qos", (("prefetch-size", "L"), ("prefetch-count", "H"), ("global", "b"))),
    (60, 11): ("basic.qos-ok", ()),
    (60, 20): ("basic.consume", (_R_SHORT, ("queue", "s"), ("consumer-tag", "s"), ("no-local", "b"),
                                 ("no-ack", "b"), ("exclusive", "b"), ("no-wait", "b"), ("arguments", "T"))),
    (60, 21): ("basic.consume-ok", (("consumer-tag", "s"),)),
    (60, 30): ("basic.cancel", (("consumer-tag", "s"), ("no-wait", "b"))),
    (60, 31): ("basic.cancel-ok", (("consumer-tag", "s"),)),
    (60, 40): ("basic.publish", (_R_SHORT, ("exchange", "s"), ("routing-key", "s"), ("mandatory", "b"),
                                 ("immediate", "b"))),
    (60, 50): ("basic.return", (("reply-code", "H"), ("reply-text", "s"), ("exchange", "s"), ("routing-key", "s"))),
    (60, 60): ("basic.deliver", (("consumer-tag", "s"), ("delivery-tag", "Q"), ("redelivered", "b"),
                                 ("exchange", "s"), ("routing-key", "s"))),
    (60, 70): ("basic.get", (_R_SHORT, ("queue", "s"), ("no-ack", "b"))),
    (60, 71): ("basic.get-ok", (("delivery-tag", "Q"), ("redelivered", "b"), ("exchange", "s"),
                                ("routing-key", "s"), ("message-count", "L"))),
    (60, 72): ("basic.get-empty", (_R_STR,)),
    (60, 80): ("basic.ack", (("delivery-tag", "Q"), ("multiple", "b"))),
    (60, 90): ("basic.reject", (("delivery-tag", "Q"), ("requeue", "b"))),
    (60, 100): ("basic.recover-async", (("requeue", "b"),)),
    (60, 110): ("basic.recover", (("requeue", "b"),)),
    (60, 111): ("basic.recover-ok", ()),
    (60, 120): ("basic.nack", (("delivery-tag", "Q"), ("multiple", "b"), ("requeue", "b"))),
    (85, 10): ("confirm.select", (("no-wait", "b"),)),
    (85, 11): ("confirm.select-ok", ()),
    (90, 10): ("tx.select", ()),
    (90, 11): ("tx.select-ok", ()),
    (90, 20): ("tx.commit", ()),
    (90, 21): ("tx.commit-ok", ()),
    (90, 30): ("tx.rollback", ()),
    (90, 31): ("tx.rollback-ok", ()),
}

# Left out with hide_connection_information (Packetbeat's default): the session's set-up chatter.
CONNECTION_INFO = frozenset({
    "connection.start", "connection.start-ok", "connection.secure", "connection.secure-ok", "connection.tune",
    "connection.tune-ok", "connection.open", "connection.open-ok", "channel.open", "channel.open-ok",
    "channel.flow", "channel.flow-ok", "basic.qos", "basic.qos-ok",
})

# Methods followed by a content header and body frames (section 2.3.5.2).
CONTENT_METHODS = frozenset({"basic.publish", "basic.return", "basic.deliver", "basic.get-ok"})

# Answers to a synchronous request, paired with it by the correlator.
RESPONSES = frozenset(name for name, _ in METHODS.values()
                      if name.endswith("-ok") and name not in CONTENT_METHODS) | {"basic.get-empty"}
