"""What the memcache parsers return: one frozen message per command or reply (multi-line replies merged)."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["McMessage", "UdpFragment"]


@record
class McMessage:
    """A text or binary command or reply. Only the fields its command has are set (None otherwise).

    `bytes` is the size of the data blocks (values) it carries, `count_values` how many; `values` the
    first `maxvalues` of them, each cut to `maxbytespervalue` (empty unless `maxvalues` is set).
    """

    ts: float
    size: int  # wire bytes
    is_request: bool
    binary: bool
    command: str
    type: str
    keys: tuple[bytes, ...] = ()
    noreply: bool | None = None  # text commands that take it: whether it was given
    quiet: bool = False
    flags: int | None = None
    exptime: int | None = None
    value_bytes: int | None = None
    count_values: int | None = None
    values: tuple[bytes, ...] = ()
    cas_unique: int | None = None
    delta: int | None = None
    initial: int | None = None
    value: int | None = None  # a counter's new value
    verbosity: int | None = None
    raw_args: bytes | None = None
    stats: tuple[tuple[bytes, bytes], ...] = ()
    version: bytes | None = None
    error_msg: bytes | None = None
    line: bytes | None = None  # an unknown command's line (parseunknown)
    sleep_us: int | None = None
    source_class: int | None = None
    dest_class: int | None = None
    automove: int | None = None
    # binary protocol header
    opcode: int | None = None
    opaque: int | None = None
    vbucket: int | None = None
    status: int | None = None
    request_id: int | None = None  # UDP frame header
    meta_opaque: bytes | None = None  # a meta command's O flag, echoed in its reply (not an event field)
    notes: tuple[str, ...] = ()
    kept: int = 64  # bytes of keys, values and stats held (plus a fixed overhead): what bounded queues count


    @property
    def expects_response(self) -> bool:
        return not (self.noreply or (self.command == "quit" and (not self.binary or self.quiet)))


@record
class UdpFragment:
    """One datagram of a message spread over several (the 8-byte UDP frame header says which)."""

    ts: float
    request_id: int
    sequence: int
    total: int
    payload: bytes
