"""What the Redis parser returns: one frozen message per command or reply."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["RedisRequest", "RedisResponse"]


@record
class RedisRequest:
    """A command: RESP array of arguments, or an inline command line.

    `query` is the arguments joined by spaces, as sent; `method` the command name upper-cased (with the
    subcommand for container commands such as `CONFIG GET`); `resource` the argument after it (the key).
    Kept text is bounded by `max_message_size`: `truncated` says some was left out.
    """

    ts: float
    size: int  # wire bytes
    method: str
    resource: bytes | None
    query: bytes
    argc: int
    inline: bool = False
    truncated: bool = False
    gap: bool = False

    @property
    def kept(self) -> int:
        return len(self.query)


@record
class RedisResponse:
    """A reply (or a RESP3 push). `text` is its human-readable rendering, as Packetbeat writes it.

    `kind` is the RESP type byte of the top-level value (`*`, `$`, `>`, ...); `head` holds the first
    elements of a top-level aggregate (up to three), enough to recognise pub/sub messages.
    """

    ts: float
    size: int
    kind: str
    text: bytes
    is_error: bool = False
    head: tuple[bytes, ...] = ()
    count: int = 0  # elements of a top-level aggregate
    truncated: bool = False
    gap: bool = False

    @property
    def kept(self) -> int:
        return len(self.text)
