"""The protocol's numbered names, as Packetbeat spells them (native_protocol_v4.spec sections 2 and 9)."""

from __future__ import annotations

__all__ = [
    "OPCODES", "OPCODE_BY_NAME", "REQUEST_OPCODES", "RESPONSE_OPCODES", "ERROR_TYPES", "CONSISTENCY",
    "flag_names", "row_flag_names", "ERROR", "STARTUP", "READY", "AUTHENTICATE", "OPTIONS", "SUPPORTED",
    "QUERY", "RESULT", "PREPARE", "EXECUTE", "REGISTER", "EVENT", "BATCH", "AUTH_CHALLENGE",
    "AUTH_RESPONSE", "AUTH_SUCCESS", "FLAG_COMPRESS", "FLAG_TRACING", "FLAG_CUSTOM_PAYLOAD", "FLAG_WARNING",
]

ERROR, STARTUP, READY, AUTHENTICATE = 0x00, 0x01, 0x02, 0x03
OPTIONS, SUPPORTED, QUERY, RESULT = 0x05, 0x06, 0x07, 0x08
PREPARE, EXECUTE, REGISTER, EVENT = 0x09, 0x0A, 0x0B, 0x0C
BATCH, AUTH_CHALLENGE, AUTH_RESPONSE, AUTH_SUCCESS = 0x0D, 0x0E, 0x0F, 0x10

OPCODES = {
    ERROR: "ERROR", STARTUP: "STARTUP", READY: "READY", AUTHENTICATE: "AUTHENTICATE", OPTIONS: "OPTIONS",
    SUPPORTED: "SUPPORTED", QUERY: "QUERY", RESULT: "RESULT", PREPARE: "PREPARE", EXECUTE: "EXECUTE",
    REGISTER: "REGISTER", EVENT: "EVENT", BATCH: "BATCH", AUTH_CHALLENGE: "AUTH_CHALLENGE",
    AUTH_RESPONSE: "AUTH_RESPONSE", AUTH_SUCCESS: "AUTH_SUCCESS",
}
OPCODE_BY_NAME = {name: code for code, name in OPCODES.items()}
REQUEST_OPCODES = frozenset({STARTUP, AUTH_RESPONSE, OPTIONS, QUERY, PREPARE, EXECUTE, BATCH, REGISTER})
RESPONSE_OPCODES = frozenset({ERROR, READY, AUTHENTICATE, SUPPORTED, RESULT, EVENT, AUTH_CHALLENGE,
                              AUTH_SUCCESS})

FLAG_COMPRESS, FLAG_TRACING, FLAG_CUSTOM_PAYLOAD, FLAG_WARNING, FLAG_BETA = 0x01, 0x02, 0x04, 0x08, 0x10
_FLAG_NAMES = ((FLAG_COMPRESS, "Compress"), (FLAG_TRACING, "Tracing"), (FLAG_CUSTOM_PAYLOAD, "CustomPayload"),
               (FLAG_WARNING, "Warning"), (FLAG_BETA, "UseBeta"))

ERROR_TYPES = {
    0x0000: "errServer", 0x000A: "errProtocol", 0x0100: "errCredentials", 0x1000: "errUnavailable",
    0x1001: "errOverloaded", 0x1002: "errBootstrapping", 0x1003: "errTruncate", 0x1100: "errWriteTimeout",
    0x1200: "errReadTimeout", 0x1300: "errReadFailure", 0x1400: "errFunctionFailure",
    0x1500: "errWriteFailure", 0x1600: "errCDCWriteFailure", 0x1700: "errCASWriteUnknown",
    0x2000: "errSyntax", 0x2100: "errUnauthorized", 0x2200: "errInvalid", 0x2300: "errConfig",
    0x2400: "errAlreadyExists", 0x2500: "errUnprepared",
}

CONSISTENCY = {
    0x00: "ANY", 0x01: "ONE", 0x02: "TWO", 0x03: "THREE", 0x04: "QUORUM", 0x05: "ALL", 0x06: "LOCAL_QUORUM",
    0x07: "EACH_QUORUM", 0x08: "SERIAL", 0x09: "LOCAL_SERIAL", 0x0A: "LOCAL_ONE",
}

_ROW_FLAG_NAMES = ((0x01, "GlobalTableSpec"), (0x02, "HasMorePages"), (0x04, "NoMetaData"),
                   (0x08, "MetadataChanged"))


def _names(value: int, table: tuple[tuple[int, str], ...], none: str, unknown: str) -> str:
    if value == 0:
        return none
    names = [name for bit, name in table if value & bit]
    rest = value & ~sum(bit for bit, _ in table)
    if rest:
        names.append(f"{unknown}{rest}")
    return ",".join(names)


def flag_names(flags: int) -> str:
    """Packetbeat's names of header flags (`Default` for none); several set are joined by commas."""
    return _names(flags, _FLAG_NAMES, "Default", "UnknownFlag_")


def row_flag_names(flags: int) -> str:
    """Packetbeat's names of result metadata flags (`FLAG_0` for none, as Packetbeat writes it)."""
    return _names(flags, _ROW_FLAG_NAMES, "FLAG_0", "FLAG_")
