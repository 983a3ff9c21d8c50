"""What the DNS parser produces: one frozen record per message and per part of it."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["Header", "Question", "Record", "Edns", "DnsMessage", "Detail"]

Detail = tuple[str, "str | int"]


@record
class Header:
    id: int
    response: bool  # QR
    opcode: int
    authoritative: bool  # AA
    truncated: bool  # TC
    recursion_desired: bool  # RD
    recursion_available: bool  # RA
    authentic_data: bool  # AD (RFC 4035)
    checking_disabled: bool  # CD (RFC 4035)
    rcode: int  # the header's 4 bits; EDNS may extend it
    qdcount: int
    ancount: int
    nscount: int
    arcount: int


@record
class Question:
    name: str  # presentation form with the trailing dot: `www.example.com.`
    qtype: int
    qclass: int


@record
class Record:
    """A resource record with its RDATA decoded into Packetbeat's shape.

    `data` is the record's main value (address, target name, text, digest, ...); `details` are the
    type's other fields in Packetbeat's names (`preference`, `priority`, `key_tag`, ...). `address` is
    set for A and AAAA records. `malformed` says the RDATA did not match its type's layout, so `data`
    holds the raw RDATA in the generic escaped form instead.
    """

    name: str
    rtype: int
    rclass: int
    ttl: int
    data: str
    details: tuple[Detail, ...] = ()
    address: str | None = None
    malformed: bool = False


@record
class Edns:
    """The OPT pseudo-record (RFC 6891)."""

    udp_size: int
    ext_rcode: int  # the upper 8 bits of the extended response code, as sent
    version: int
    dnssec_ok: bool  # DO
    options: tuple[tuple[str, str], ...] = ()  # decoded options as (Packetbeat key, text)


@record
class DnsMessage:
    header: Header
    questions: tuple[Question, ...]
    answers: tuple[Record, ...]
    authorities: tuple[Record, ...]
    additionals: tuple[Record, ...]  # without the OPT pseudo-record
    edns: Edns | None
    ts: float  # when the message's first byte was seen
    length: int  # bytes on the wire, with the 2-byte length prefix over TCP
    trailing: int = 0  # bytes after the last record, ignored

    @property
    def question(self) -> Question | None:
        return self.questions[0] if self.questions else None

    @property
    def malformed_records(self) -> int:
        malformed = 0  # asked of every message parsed: plain loops, no concatenated tuple
        for records in (self.answers, self.authorities, self.additionals):
            for r in records:
                malformed += r.malformed
        return malformed
