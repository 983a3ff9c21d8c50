"""Memcache names as data: command classes, binary opcodes and status codes (Packetbeat's spellings)."""

from __future__ import annotations

__all__ = ["LOAD", "STORE", "DELETE", "COUNTER", "INFO", "SLAB_CTRL", "LRU_CRAWLER", "STATS", "SUCCESS", "FAIL",
           "AUTH", "UNKNOWN", "OPCODES", "QUIET_OPCODES", "STATUS_NAMES", "BinaryCommand", "BINARY_COMMANDS",
           "opcode_name", "status_name"]

# Command classification (`memcache.request.type` / `memcache.response.type`).
UNKNOWN, LOAD, STORE, DELETE, COUNTER, INFO = "UNKNOWN", "Load", "Store", "Delete", "Counter", "Info"
SLAB_CTRL, LRU_CRAWLER, STATS, SUCCESS, FAIL, AUTH = "SlabCtrl", "LRUCrawler", "Stats", "Success", "Fail", "Auth"

OPCODES: dict[int, str] = {
    0x00: "Get", 0x01: "Set", 0x02: "Add", 0x03: "Replace", 0x04: "Delete", 0x05: "Increment",
    0x06: "Decrement", 0x07: "Quit", 0x08: "Flush", 0x09: "GetQ", 0x0A: "No-op", 0x0B: "Version",
    0x0C: "GetK", 0x0D: "GetKQ", 0x0E: "Append", 0x0F: "Prepend", 0x10: "Stat", 0x11: "SetQ", 0x12: "AddQ",
    0x13: "ReplaceQ", 0x14: "DeleteQ", 0x15: "IncrementQ", 0x16: "DecrementQ", 0x17: "QuitQ", 0x18: "FlushQ",
    0x19: "AppendQ", 0x1A: "PrependQ", 0x1B: "Verbosity", 0x1C: "Touch", 0x1D: "GAT", 0x1E: "GATQ",
    0x20: "SASL list mechs", 0x21: "SASL Auth", 0x22: "SASL Step", 0x23: "GatK", 0x24: "GatKQ",
    0x30: "RGet", 0x31: "RSet", 0x32: "RSetQ", 0x33: "RAppend", 0x34: "RAppendQ", 0x35: "RPrepend",
    0x36: "RPrependQ", 0x37: "RDelete", 0x38: "RDeleteQ", 0x39: "RIncr", 0x3A: "RIncrQ", 0x3B: "RDecr",
    0x3C: "RDecrQ", 0x3D: "Set VBucket", 0x3E: "Get VBucket", 0x3F: "Del VBucket", 0x40: "TAP Connect",
    0x41: "TAP Mutation", 0x42: "TAP Delete", 0x43: "TAP Flush", 0x44: "TAP Opaque", 0x45: "TAP VBucket Set",
    0x46: "TAP Checkpoint Start", 0x47: "TAP Checkpoint End",
}

# Quiet opcodes: the server answers only on error (and, for the Get family, on a hit).
QUIET_OPCODES = frozenset({0x09, 0x0D, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1E, 0x24,
                           0x32, 0x34, 0x36, 0x38, 0x3A, 0x3C})

STATUS_NAMES: dict[int, str] = {
    0x00: "Success", 0x01: "Key not found", 0x02: "Key exists", 0x03: "Value too large",
    0x04: "Invalid arguments", 0x05: "Item not stored", 0x06: "Incr/Decr on non-numeric value.",
    0x07: "The vbucket belongs to another server", 0x20: "Authentication error",
    0x21: "Authentication continue", 0x81: "Unknown command", 0x82: "Out of memory", 0x83: "Not supported",
    0x84: "Internal error", 0x85: "Busy", 0x86: "Temporary failure",
}


def opcode_name(opcode: int) -> str:
    return OPCODES.get(opcode, f"0x{opcode:02x}")


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"0x{status:04x}")


class BinaryCommand:
    """What a binary opcode means: text command name, class, and the request extras it carries."""

    __slots__ = ("command", "type", "extras")

    def __init__(self, command: str, kind: str, extras: tuple[str, ...] = ()) -> None:
        self.command = command
        self.type = kind
        self.extras = extras  # field names, in wire order: flags/exptime/verbosity 4 bytes, delta/initial 8


def _commands() -> dict[int, BinaryCommand]:
    table: dict[int, BinaryCommand] = {}

    def define(opcodes: tuple[int, ...], command: str, kind: str, extras: tuple[str, ...] = ()) -> None:
        for opcode in opcodes:
            table[opcode] = BinaryCommand(command, kind, extras)

    define((0x00, 0x09, 0x0C, 0x0D), "get", LOAD)
    define((0x04, 0x14), "delete", DELETE)
    define((0x08, 0x18), "flush_all", DELETE, ("exptime",))
    define((0x01, 0x11), "set", STORE, ("flags", "exptime"))
    define((0x02, 0x12), "add", STORE, ("flags", "exptime"))
    define((0x03, 0x13), "replace", STORE, ("flags", "exptime"))
    define((0x0E, 0x19), "append", STORE)
    define((0x0F, 0x1A), "prepend", STORE)
    define((0x0A,), "noop", INFO)
    define((0x05, 0x15), "incr", COUNTER, ("delta", "initial", "exptime"))
    define((0x06, 0x16), "decr", COUNTER, ("delta", "initial", "exptime"))
    define((0x07, 0x17), "quit", INFO)
    define((0x0B,), "version", INFO)
    define((0x1C,), "touch", STORE, ("exptime",))
    define((0x1D, 0x1E, 0x23, 0x24), "gat", LOAD, ("exptime",))
    define((0x1B,), "verbosity", INFO, ("verbosity",))
    define((0x20,), "sasl_list", AUTH)
    define((0x21,), "sasl_auth", AUTH)
    define((0x22,), "sasl_step", AUTH)
    define((0x10,), "stats", STATS)
    return table


BINARY_COMMANDS = _commands()
UNKNOWN_BINARY = BinaryCommand("UNKNOWN", UNKNOWN)
