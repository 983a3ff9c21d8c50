"""ICMP messages as the parser hands them to the correlator."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["IcmpMessage"]


@record
class IcmpMessage:
    version: int  # 4 or 6
    type: int
    code: int
    id: int  # identifier and sequence: meaningful for the request/reply pair types only
    seq: int
    length: int  # bytes after the 8-byte header, as Packetbeat counts source/destination.bytes
