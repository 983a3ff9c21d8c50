"""Community ID v1 flow hashing (corelight/community-id-spec).

The ID is `"1:"` + base64 (or hex) of SHA1 over, in network byte order:
seed (2 bytes) . addr_a . addr_b . proto (1 byte) . 0 (1 byte) [. port_a (2) . port_b (2)]
where the endpoints are ordered so that (addr_a, port_a) is the smaller tuple. Ports take part only
for TCP, UDP, SCTP, ICMP and ICMPv6; for the ICMPs the "ports" are the message type and either the
type of its counterpart (request/reply pairs, hashed like a bidirectional flow) or the code (one-way
messages, never reordered), as Zeek does.
"""

from __future__ import annotations

import struct
from base64 import b64encode

__all__ = ["community_id", "ICMP", "ICMPV6", "TCP", "UDP", "SCTP"]

ICMP = 1
TCP = 6
UDP = 17
ICMPV6 = 58
SCTP = 132

_PORT_PROTOCOLS = frozenset((TCP, UDP, SCTP))

# Request/reply counterparts; any type not listed is one-way.
_ICMP4_COUNTERPART = {
    8: 0, 0: 8,  # echo request / reply
    13: 14, 14: 13,  # timestamp
    15: 16, 16: 15,  # information
    10: 9, 9: 10,  # router solicitation / advertisement
    17: 18, 18: 17,  # address mask
}  # fmt: skip
_ICMP6_COUNTERPART = {
    128: 129, 129: 128,  # echo request / reply
    130: 131, 131: 130,  # multicast listener query / report
    133: 134, 134: 133,  # router solicitation / advertisement
    135: 136, 136: 135,  # neighbor solicitation / advertisement
    139: 140, 140: 139,  # node information query / response ("who are you")
    144: 145, 145: 144,  # home agent address discovery request / reply
}  # fmt: skip

# (address length, with ports) -> the hash input layout
_LAYOUT = {
    (4, True): struct.Struct("!H4s4sBxHH"),
    (4, False): struct.Struct("!H4s4sBx"),
    (16, True): struct.Struct("!H16s16sBxHH"),
    (16, False): struct.Struct("!H16s16sBx"),
}


def community_id(
    proto: int,
    src: bytes,
    dst: bytes,
    sport: int,
    dport: int,
    seed: int = 0,
    *,
    base64: bool = True,
) -> str:
    """The Community ID of a flow; the same for both directions of it.

    `src`/`dst` are raw 4- or 16-byte addresses. For ICMP (1) and ICMPv6 (58) pass the message type as
    `sport` and its code as `dport`. Protocols without ports ignore `sport`/`dport`.
    Raises ValueError for addresses of unequal or unknown length and out-of-range numbers.
    """
    n = len(src)
    if n != len(dst) or (n != 4 and n != 16):
        raise ValueError(f"addresses must both be 4 or 16 bytes, got {n} and {len(dst)}")
    if not 0 <= seed <= 0xFFFF:
        raise ValueError(f"seed must fit in 16 bits, got {seed}")
    if not 0 <= proto <= 0xFF:
        raise ValueError(f"IP protocol must fit in 8 bits, got {proto}")

    if proto in (ICMP, ICMPV6):
        if not (0 <= sport <= 0xFF and 0 <= dport <= 0xFF):
            raise ValueError(f"ICMP type and code must fit in 8 bits, got {sport} and {dport}")
        counterpart = (_ICMP4_COUNTERPART if proto == ICMP else _ICMP6_COUNTERPART).get(sport)
        if counterpart is None:
            packed = _LAYOUT[n, True].pack(seed, src, dst, proto, sport, dport)
            return _render(packed, base64)
        dport = counterpart
        with_ports = True
    elif proto in _PORT_PROTOCOLS:
        if not (0 <= sport <= 0xFFFF and 0 <= dport <= 0xFFFF):
            raise ValueError(f"ports must fit in 16 bits, got {sport} and {dport}")
        with_ports = True
    else:
        with_ports = False

    if not (src < dst or (src == dst and sport < dport)):
        src, dst, sport, dport = dst, src, dport, sport
    layout = _LAYOUT[n, with_ports]
    packed = layout.pack(seed, src, dst, proto, sport, dport) if with_ports else layout.pack(seed, src, dst, proto)
    return _render(packed, base64)


def _render(packed: bytes, base64: bool) -> str:
    import hashlib  # here: hashlib's OpenSSL start-up is wasted on a run whose flows use the compiled path

    digest = hashlib.sha1(packed).digest()
    return "1:" + (b64encode(digest).decode("ascii") if base64 else digest.hex())
