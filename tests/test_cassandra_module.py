"""Module wiring: config keys and their errors, Packetbeat's defaults, the bounded table of negotiated
sessions, `packetshipper modules` listing, and the -d description."""

from __future__ import annotations

import pytest
from packetshipper.modules.cassandra import MODULE
from packetshipper.modules.cassandra.messages import Frame
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, Transaction
from packetshipper.settings import ConfigError, validate


def module(**raw: object) -> MODULE:  # type: ignore[valid-type]
    return MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "cassandra", **raw}, "cassandra"))


def conn(i: int) -> Connection:
    return Connection("tcp", 4, Endpoint("10.0.0.1", 40000 + i), Endpoint("10.0.0.2", 9042), connection_id=i)


def test_packetbeat_defaults() -> None:
    config = module().cassandra_config
    assert (config.send_request, config.send_response) == (True, True)
    assert (config.send_request_header, config.send_response_header) == (True, True)
    assert (config.compressor, config.ignored_ops) == ("", frozenset())
    assert MODULE.default_ports == (9042,)


@pytest.mark.parametrize(("key", "value", "words"), [("compressor", "zstd", "snappy, lz4"),
                                                     ("ignored_ops", ["OPTIONS", "NOPE"], "unknown frame op"),
                                                     ("max_message_size", 10, "at least")])
def test_bad_values_name_the_key(key: str, value: object, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        module(**{key: value})
    assert key in str(info.value) and words in str(info.value)


def test_ignored_ops_are_case_insensitive() -> None:
    assert module(ignored_ops=["options", " Register "]).cassandra_config.ignored_ops == {0x05, 0x0B}


def test_negotiated_sessions_are_bounded_and_released_at_close() -> None:
    m = module(max_sessions=3)
    for i in range(10):
        m.stream_parser(Direction.REQUEST, conn(i))
    assert len(m._sessions) == 3 and m.stats["sessions_evicted"] == 7
    m.correlator(conn(9)).close(1.0)
    assert 9 not in m._sessions


def test_both_directions_share_one_session() -> None:
    m = module()
    m.stream_parser(Direction.REQUEST, conn(1))
    m.stream_parser(Direction.RESPONSE, conn(1))
    assert len(m._sessions) == 1


def test_describe() -> None:
    q = Frame(ts=1.0, version=4, is_response=False, flags=0, stream=3, opcode=0x07, length=9, size=18,
              fields={"query": "SELECT 1"})
    r = Frame(ts=2.0, version=4, is_response=True, flags=0, stream=3, opcode=0x08, length=4, size=13,
              fields={"result": {"type": "void"}})
    assert module().describe(Transaction(conn(1), q, r, 1.0, 2.0)) == "QUERY stream 3 'SELECT 1' -> RESULT void"
