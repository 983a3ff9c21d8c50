"""What each ICMP message type is: its role in a transaction, and its human-readable name.

Roles follow Packetbeat: a reply type is a response; the request/reply pair types wait for their
counterpart; every other type is a one-message transaction, and the error types make it `Error`.
Names follow Packetbeat's output (`EchoRequest(0)`, `DestinationUnreachable(Port)`).
"""

from __future__ import annotations

import enum

__all__ = ["Role", "role_of", "is_error", "describe"]


class Role(enum.Enum):
    PAIRED_REQUEST = "paired request"  # echo, timestamp, ... : waits for its reply
    RESPONSE = "response"  # the reply of a paired request
    SINGLE = "single"  # a message on its own (errors, router/neighbor discovery, ...)


_ROLES = {
    4: {0: Role.RESPONSE, 14: Role.RESPONSE, 16: Role.RESPONSE, 18: Role.RESPONSE,
        8: Role.PAIRED_REQUEST, 13: Role.PAIRED_REQUEST, 15: Role.PAIRED_REQUEST, 17: Role.PAIRED_REQUEST},
    6: {129: Role.RESPONSE, 128: Role.PAIRED_REQUEST},
}  # fmt: skip

_ERRORS = {4: frozenset({3, 4, 11, 12}), 6: frozenset({1, 2, 3, 4})}

_UNREACHABLE4 = {
    0: "Net", 1: "Host", 2: "Protocol", 3: "Port", 4: "FragmentationNeeded", 5: "SourceRoutingFailed",
    6: "NetUnknown", 7: "HostUnknown", 8: "SourceIsolated", 9: "NetAdminProhibited",
    10: "HostAdminProhibited", 11: "NetTOS", 12: "HostTOS", 13: "CommAdminProhibited",
    14: "HostPrecedence", 15: "PrecedenceCutoff",
}  # fmt: skip

# type -> (name, code names or None when the type has no named codes)
_NAMES: dict[int, dict[int, tuple[str, dict[int, str] | None]]] = {
    4: {
        0: ("EchoReply", None),
        3: ("DestinationUnreachable", _UNREACHABLE4),
        4: ("SourceQuench", None),
        5: ("Redirect", {0: "Net", 1: "Host", 2: "TOS+Net", 3: "TOS+Host"}),
        8: ("EchoRequest", None),
        9: ("RouterAdvertisement", None),
        10: ("RouterSolicitation", None),
        11: ("TimeExceeded", {0: "TTLExceeded", 1: "FragmentReassemblyTimeExceeded"}),
        12: ("ParameterProblem", {0: "PointerIndicatesError", 1: "MissingOption", 2: "BadLength"}),
        13: ("TimestampRequest", None),
        14: ("TimestampReply", None),
        15: ("InfoRequest", None),
        16: ("InfoReply", None),
        17: ("AddressMaskRequest", None),
        18: ("AddressMaskReply", None),
    },
    6: {
        1: ("DestinationUnreachable", {
            0: "NoRouteToDst", 1: "AdminProhibited", 2: "BeyondScopeOfSrc", 3: "AddressUnreachable",
            4: "PortUnreachable", 5: "SrcAddressFailedPolicy", 6: "RejectRouteToDst"}),
        2: ("PacketTooBig", None),
        3: ("TimeExceeded", {0: "HopLimitExceeded", 1: "FragmentReassemblyTimeExceeded"}),
        4: ("ParameterProblem", {
            0: "ErroneousHeaderField", 1: "UnrecognizedNextHeader", 2: "UnrecognizedIPv6Option"}),
        128: ("EchoRequest", None),
        129: ("EchoReply", None),
        133: ("RouterSolicitation", None),
        134: ("RouterAdvertisement", None),
        135: ("NeighborSolicitation", None),
        136: ("NeighborAdvertisement", None),
        137: ("Redirect", None),
    },
}  # fmt: skip


def role_of(version: int, icmp_type: int) -> Role:
    return _ROLES[version].get(icmp_type, Role.SINGLE)


def is_error(version: int, icmp_type: int) -> bool:
    return icmp_type in _ERRORS[version]


def describe(version: int, icmp_type: int, code: int) -> str:
    """`EchoRequest(0)`, `DestinationUnreachable(Port)`; numbers where a name is unknown."""
    named = _NAMED.get((version, icmp_type, code))
    if named is not None:
        return named
    return _describe(version, icmp_type, code)


def _describe(version: int, icmp_type: int, code: int) -> str:
    known = _NAMES[version].get(icmp_type)
    if known is None:
        return f"{icmp_type}({code})"
    name, codes = known
    code_name = codes.get(code) if codes else None
    return f"{name}({code_name if code_name is not None else code})"


# Every named type with each of its named codes (code 0 for the types without): the text, made once.
_NAMED: dict[tuple[int, int, int], str] = {
    (version, icmp_type, code): _describe(version, icmp_type, code)
    for version, types in _NAMES.items() for icmp_type, (_, codes) in types.items() for code in (codes or (0,))
}
