"""The framer: one direction's bytes in, logical MySQL packets out (a `StreamParser`).

A packet is a 3-byte little-endian payload length, a sequence id and the payload. A payload of
0xFFFFFF bytes continues in the next packet, so a 40 MiB query is three wire packets and one logical
packet here. At most `max_message_size` bytes of a payload are kept; the rest is counted and skipped,
so memory stays bounded whatever the peer sends.
"""

from __future__ import annotations

from collections.abc import Callable

from packetshipper.protocol import Direction, StreamParser

from .messages import ConnectionState, MysqlPacket, StreamGap
from .wire import MAX_PACKET_PAYLOAD, Capability

__all__ = ["PacketFramer", "is_ssl_request"]

_HEADER = 4
_SSL_REQUEST_LENGTH = 32


def is_ssl_request(packet: MysqlPacket) -> bool:
    """The client's short handshake response that asks for TLS: capabilities, max size, charset, filler."""
    payload = packet.payload
    return (packet.seq == 1 and packet.length == _SSL_REQUEST_LENGTH and len(payload) == _SSL_REQUEST_LENGTH
            and bool(int.from_bytes(payload[:4], "little") & Capability.SSL) and not any(payload[9:28]))


class PacketFramer(StreamParser):
    __slots__ = ("_direction", "_state", "_max_keep", "_count", "_head", "_need", "_parts", "_kept",
                 "_length", "_wire", "_seq", "_last_seq", "_last_length", "_ts", "_in_packet", "_head_ts")

    def __init__(self, direction: Direction, state: ConnectionState, max_keep: int,
                 count: Callable[[str], None]) -> None:
        self._direction = direction
        self._state = state
        self._max_keep = max_keep
        self._count = count
        self._reset()

    def _reset(self) -> None:
        self._head = b""  # a header split across segments
        self._head_ts = 0.0
        self._need = 0  # payload bytes still to come in the current wire packet
        self._parts: list[bytes] = []
        self._kept = 0
        self._length = 0  # logical payload length so far
        self._wire = 0
        self._seq = 0
        self._last_seq = 0
        self._last_length = 0
        self._ts = 0.0
        self._in_packet = False  # inside a logical packet (its header has been read)

    def receive_data(self, data: bytes, ts: float) -> list[MysqlPacket]:
        state = self._state
        if state.opaque:
            self._reset()
            return []
        if state.resync_server and self._direction is Direction.RESPONSE:
            state.resync_server = False
            if self._in_packet or self._head:
                self._count("packets_dropped_on_resync")
            self._reset()
        out: list[MysqlPacket] = []
        pos, end = 0, len(data)
        max_keep = self._max_keep
        while pos < end:
            if self._need:
                take = min(self._need, end - pos)
                room = max_keep - self._kept
                if room > 0:
                    chunk = data[pos:pos + min(take, room)]
                    self._parts.append(chunk)
                    self._kept += len(chunk)
                self._need -= take
                pos += take
                if self._need:
                    break
                self._end_wire_packet(out)
                continue
            header_ts = ts
            if self._head or end - pos < _HEADER:
                if not self._head:
                    self._head_ts = ts
                header_ts = self._head_ts
                take = min(_HEADER - len(self._head), end - pos)
                self._head += data[pos:pos + take]
                pos += take
                if len(self._head) < _HEADER:
                    break
                header, self._head = self._head, b""
                length, seq = header[0] | header[1] << 8 | header[2] << 16, header[3]
            else:
                length = data[pos] | data[pos + 1] << 8 | data[pos + 2] << 16
                seq = data[pos + 3]
                pos += _HEADER
                if not self._in_packet and length < MAX_PACKET_PAYLOAD and length <= end - pos:
                    # The common case: a whole packet inside this segment.
                    stop = pos + length
                    payload = data[pos:stop] if length <= max_keep else data[pos:pos + max_keep]
                    if length > max_keep:
                        self._count("truncated_packets")
                    out.append(MysqlPacket(ts, seq, seq, payload, length, length + _HEADER))
                    pos = stop
                    if self._is_tls_switch(out[-1]):
                        return out
                    continue
            if not self._in_packet:
                self._in_packet = True
                self._ts = header_ts
                self._seq = seq
            self._last_seq = seq
            self._last_length = length
            self._length += length
            self._wire += length + _HEADER
            self._need = length
            if not length:
                self._end_wire_packet(out)
                if out and self._is_tls_switch(out[-1]):
                    return out
        return out

    def _end_wire_packet(self, out: list[MysqlPacket]) -> None:
        """A wire packet's payload is complete; a short one ends the logical packet."""
        if self._last_length == MAX_PACKET_PAYLOAD:
            return  # a full wire packet: the payload goes on in the next one
        payload = b"".join(self._parts)
        if len(payload) < self._length:
            self._count("truncated_packets")
        out.append(MysqlPacket(self._ts, self._seq, self._last_seq, payload, self._length, self._wire))
        self._parts = []
        self._kept = 0
        self._length = 0
        self._wire = 0
        self._in_packet = False

    def _is_tls_switch(self, packet: MysqlPacket) -> bool:
        if self._direction is Direction.REQUEST and is_ssl_request(packet):
            self._state.opaque = True
            self._reset()
            return True
        return False

    def receive_gap(self, nbytes: int, ts: float) -> list[MysqlPacket | StreamGap]:
        # Lengths frame everything, so nothing after a hole can be trusted: drop the packet it is
        # in and read the next segment as if it began a packet (a response usually does).
        self._reset()
        return [StreamGap(ts, nbytes)]

    def receive_eof(self, ts: float) -> list[MysqlPacket]:
        if self._in_packet or self._head:
            self._count("packets_cut_by_close")
        self._reset()
        return []
