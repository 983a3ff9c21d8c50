"""AMQP 0-9-1 (RabbitMQ's protocol) with Packetbeat's `amqp.*` event fields."""

from .module import AmqpModule
from .wire import AmqpProtocolError

MODULE = AmqpModule

__all__ = ["MODULE", "AmqpModule", "AmqpProtocolError"]
