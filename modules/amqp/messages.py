"""What the AMQP parser returns: one method, with its content when it carries one."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from packetshipper.records import record

__all__ = ["AmqpMessage"]


@record
class AmqpMessage:
    method: str  # "queue.declare"
    class_id: int
    method_id: int
    channel: int
    arguments: dict[str, Any]  # the method's arguments by Packetbeat's names (reserved ones left out)
    ts: float
    wire_bytes: int  # every frame of the message: method, content header and body frames
    properties: dict[str, Any] = field(default_factory=dict)  # content header properties
    body: bytes = b""  # up to max_body_length bytes of the content body
    body_size: int = 0  # the content body's whole size, from the content header
