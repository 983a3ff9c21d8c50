"""Frame bodies decoded into Packetbeat's `cassandra.request.*` / `cassandra.response.*` values.

One function per opcode (a table, not an if-chain); each takes a cursor on the body (after the tracing
id, warnings and custom payload) and the protocol version, and returns the fields for that frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import codes as c
from .wire import BodyError, Cursor

__all__ = ["decode_body", "DECODERS"]

Fields = dict[str, Any]

# result kinds (spec 4.2.5)
_VOID, _ROWS, _SET_KEYSPACE, _PREPARED, _SCHEMA_CHANGE = 1, 2, 3, 4, 5
# rows metadata flags (4.2.5.2)
_GLOBAL_TABLES_SPEC, _HAS_MORE_PAGES, _NO_METADATA, _METADATA_CHANGED = 0x01, 0x02, 0x04, 0x08
# column type option ids (4.2.5.2)
_CUSTOM, _LIST, _MAP, _SET, _UDT, _TUPLE = 0x0000, 0x0020, 0x0021, 0x0022, 0x0030, 0x0031
_MAX_TYPE_DEPTH = 32


def _skip_type(cur: Cursor, depth: int = 0) -> None:
    """One column type [option], nested collection, UDT and tuple types included, read and dropped."""
    if depth > _MAX_TYPE_DEPTH:
        raise BodyError("column type nested too deep")
    kind = cur.short()
    if kind == _CUSTOM:
        cur.string()
    elif kind in (_LIST, _SET):
        _skip_type(cur, depth + 1)
    elif kind == _MAP:
        _skip_type(cur, depth + 1)
        _skip_type(cur, depth + 1)
    elif kind == _UDT:
        cur.string()
        cur.string()
        for _ in range(cur.short()):
            cur.string()
            _skip_type(cur, depth + 1)
    elif kind == _TUPLE:
        for _ in range(cur.short()):
            _skip_type(cur, depth + 1)
    elif kind > 0x0018:  # 0x0001-0x0018 are the native types; anything else is not a type
        raise BodyError(f"unknown column type 0x{kind:04x}")


def _metadata(cur: Cursor, version: int, prepared: bool) -> Fields:
    """Rows or prepared metadata: flags, column count, paging state, table spec; column specs skipped."""
    flags = cur.int32()
    count = cur.int32()
    if count < 0:
        raise BodyError(f"{count} columns")
    meta: Fields = {"flags": c.row_flag_names(flags), "col_count": count}
    if prepared and version >= 4:
        pk_count = cur.int32()
        if pk_count < 0:
            raise BodyError(f"{pk_count} partition key columns")
        meta["pkey_columns"] = [cur.short() for _ in range(pk_count)]
    if not prepared and flags & _HAS_MORE_PAGES:
        state = cur.value()
        if state is not None:
            meta["paging_state"] = state.hex().upper()
    if not prepared and version >= 5 and flags & _METADATA_CHANGED:
        cur.short_bytes()  # new_metadata_id
    if not prepared and flags & _NO_METADATA:
        return meta
    if flags & _GLOBAL_TABLES_SPEC:
        meta["keyspace"] = cur.string()
        meta["table"] = cur.string()
    for _ in range(count):
        if not flags & _GLOBAL_TABLES_SPEC:
            cur.string()
            cur.string()
        cur.string()
        _skip_type(cur)
    return meta


def _schema_change(cur: Cursor, version: int) -> Fields:
    if version <= 2:
        return {"change": cur.string(), "keyspace": cur.string(), "table": cur.string()}
    change, target = cur.string(), cur.string()
    out: Fields = {"change": change, "target": target}
    if target == "KEYSPACE":
        out["keyspace"] = cur.string()
    elif target in ("TABLE", "TYPE"):
        out["keyspace"] = cur.string()
        out["object"] = cur.string()
    elif target in ("FUNCTION", "AGGREGATE"):
        out["keyspace"] = cur.string()
        out["name"] = cur.string()
        out["args"] = cur.string_list()
    return out


def _prepared_id(raw: bytes) -> str:
    if len(raw) == 16:
        text = raw.hex()
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
    return raw.hex()


def _result(cur: Cursor, version: int) -> Fields:
    kind = cur.int32()
    if kind == _VOID:
        return {"result": {"type": "void"}}
    if kind == _ROWS:
        meta = _metadata(cur, version, prepared=False)
        rows = cur.int32()
        if rows < 0:
            raise BodyError(f"{rows} rows")
        return {"result": {"type": "rows", "rows": {"meta": meta, "num_rows": rows}}}
    if kind == _SET_KEYSPACE:
        return {"result": {"type": "set_keyspace", "keyspace": cur.string()}}
    if kind == _PREPARED:
        prepared: Fields = {"prepared_id": _prepared_id(cur.short_bytes())}
        if version >= 5:
            cur.short_bytes()  # result_metadata_id
        prepared["req_meta"] = _metadata(cur, version, prepared=True)
        if version >= 2:
            prepared["resp_meta"] = _metadata(cur, version, prepared=False)
        return {"result": {"type": "prepared", "prepared": prepared}}
    if kind == _SCHEMA_CHANGE:
        return {"result": {"type": "schemaChanged", "schema_change": _schema_change(cur, version)}}
    raise BodyError(f"unknown result kind {kind}")


def _error(cur: Cursor, version: int) -> Fields:
    code = cur.int32()
    error: Fields = {"code": code, "msg": cur.string(), "type": c.ERROR_TYPES.get(code, "ErrUnknown")}
    details: Fields = {}
    if code == 0x1000:  # unavailable
        details = {"read_consistency": cur.consistency(), "required": cur.int32(), "alive": cur.int32()}
    elif code == 0x1100:  # write timeout
        details = {"read_consistency": cur.consistency(), "received": cur.int32(), "blockfor": cur.int32(),
                   "write_type": cur.string()}
    elif code == 0x1200:  # read timeout
        details = {"read_consistency": cur.consistency(), "received": cur.int32(), "blockfor": cur.int32(),
                   "data_present": cur.byte() != 0}
    elif code == 0x1300:  # read failure: v5 replaces the failure count by a reason map
        details = {"read_consistency": cur.consistency(), "received": cur.int32(), "blockfor": cur.int32()}
        details["num_failures"] = _failures(cur, version)
        details["data_present"] = cur.byte() != 0
    elif code == 0x1500:  # write failure
        details = {"read_consistency": cur.consistency(), "received": cur.int32(), "blockfor": cur.int32()}
        details["num_failures"] = _failures(cur, version)
        details["write_type"] = cur.string()
    elif code == 0x1400:  # function failure
        details = {"keyspace": cur.string(), "function": cur.string(), "arg_types": cur.string_list()}
    elif code == 0x2400:  # already exists
        details = {"keyspace": cur.string(), "table": cur.string()}
    elif code == 0x2500:  # unprepared
        details = {"stmt_id": cur.short_bytes().hex()}
    if details:
        error["details"] = details
    return {"error": error}


def _failures(cur: Cursor, version: int) -> str:
    if version >= 5:
        count = cur.int32()
        for _ in range(max(count, 0)):
            size = cur.byte()
            cur.take(size)  # the endpoint's address
            cur.short()  # its failure code
        return str(count)
    return str(cur.int32())


def _event(cur: Cursor, version: int) -> Fields:
    kind = cur.string()
    event: Fields = {"type": kind}
    if kind in ("TOPOLOGY_CHANGE", "STATUS_CHANGE"):
        event["change"] = cur.string()
        event["host"], event["port"] = cur.inet()
    elif kind == "SCHEMA_CHANGE":
        event["schema_change"] = _schema_change(cur, version)
    return {"event": event}


def _query(cur: Cursor, version: int) -> Fields:
    return {"query": cur.long_string()}


def _nothing(cur: Cursor, version: int) -> Fields:
    return {}


def _startup(cur: Cursor, version: int) -> Fields:
    return {"_options": cur.string_map()}  # kept for the compression it names; not an output field


DECODERS: dict[int, Callable[[Cursor, int], Fields]] = {
    c.STARTUP: _startup,
    c.QUERY: _query,
    c.PREPARE: _query,
    c.ERROR: _error,
    c.RESULT: _result,
    c.SUPPORTED: lambda cur, version: {"supported": cur.string_multimap()},
    c.AUTHENTICATE: lambda cur, version: {"authentication": {"class": cur.string()}},
    c.EVENT: _event,
    c.REGISTER: lambda cur, version: {"_events": cur.string_list()},
}


def decode_body(opcode: int, flags: int, is_response: bool, version: int, body: bytes) -> Fields:
    """The fields of one (decompressed) body; BodyError when it does not hold what it should."""
    cur = Cursor(body)
    out: Fields = {}
    if is_response and flags & c.FLAG_TRACING:
        out["_trace_id"] = cur.uuid()
    if flags & c.FLAG_WARNING and is_response:
        out["warnings"] = cur.string_list()
    if flags & c.FLAG_CUSTOM_PAYLOAD:
        cur.bytes_map()
    out.update(DECODERS.get(opcode, _nothing)(cur, version))
    return out
