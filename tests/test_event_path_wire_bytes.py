"""Events encoded once, at publish: each output sends exactly the bytes it sent when it encoded the event
itself -- the document as JSON, and where the receiver expects it `@metadata` as Beats sends it (the
event's own keys over beat/type/version). The expected bytes are orjson's encoding of the event dict."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from packetshipper.compat import DEFAULT_IDENTITY
from packetshipper.outputs import output_settings
from packetshipper.outputs.base import BatchResult
from packetshipper.outputs.console import ConsoleOutput
from packetshipper.outputs.elasticsearch import ElasticsearchOutput
from packetshipper.outputs.encoded import EncodedEvent, EventCodec
from packetshipper.outputs.file import FileOutput
from packetshipper.outputs.logstash import LogstashOutput
from packetshipper.outputs.redis import RedisOutput
from packetshipper.pipeline.dead_letter import DeadLetterFile
from packetshipper.settings import validate

EVENTS: list[dict[str, Any]] = [
    {"@timestamp": "2015-07-11T21:47:24.428Z", "type": "dns", "agent": {"version": "8.17.0"},
     "dns": {"question": {"name": "example.com"}}, "related": {"ip": ["10.0.0.1", "::1"]}, "rtt": 0.5},
    {"@timestamp": "2015-07-11T21:47:25.000Z", "type": "http", "url": {"full": "/a?b=1&c=<d>"}, "tags": [],
     "agent": {"version": "8.17.0"}, "note": "naïve \u2603 \"quoted\"\n", "@metadata": {"_id": "abc1", "pipeline": "P"}},
    {},
    {"@metadata": {"_id": "only"}},
    {"type": "flow", "agent": {"version": "8.17.0"}, "@metadata": "not a mapping"},
]


def _config(name: str, **settings: Any) -> dict[str, Any]:
    return validate(output_settings(name), settings, f"output.{name}")


def _encoded(output: Any, events: list[dict[str, Any]]) -> list[EncodedEvent]:
    codec: EventCodec = output.codec()
    return [codec.encode(dict(e)) for e in events]


def _beats(event: dict[str, Any], base: dict[str, Any]) -> bytes:
    """The event with @metadata as Beats' JSON codec sends it."""
    own = event.get("@metadata")
    meta = {**base, **own} if isinstance(own, dict) else base
    return orjson.dumps({**event, "@metadata": meta})


@pytest.mark.parametrize("pretty", [False, True])
def test_console_writes_the_document_as_it_always_did(pretty: bool):
    stream = io.BytesIO()
    output = ConsoleOutput(_config("console", pretty=pretty), stream=stream)
    assert output.publish_batch(_encoded(output, EVENTS)) == BatchResult()
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if pretty else 0)
    assert stream.getvalue() == b"".join(orjson.dumps(e, option=option) for e in EVENTS)
    # indenting needs the event itself: decoded (and counted); compact lines are the bytes as they are
    assert output.stats["events_decoded"] == (len(EVENTS) if pretty else 0)


def test_file_lines_are_the_encoded_bytes_and_non_string_keys_are_still_written(tmp_path: Path):
    output = FileOutput(_config("file", path=str(tmp_path)))
    odd = {"type": "x", "counts": {1: "one", 2: "two"}}
    output.publish_batch(_encoded(output, [*EVENTS, odd]))
    output.close()
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    assert (tmp_path / "packetshipper").read_bytes() == b"".join(orjson.dumps(e, option=option) for e in [*EVENTS, odd])


def test_elasticsearch_bulk_items_are_the_action_line_and_the_bytes():
    output = ElasticsearchOutput(_config("elasticsearch", index="ps-%{[type]:none}-%{+yyyy.MM.dd}"))
    output.use_identity(DEFAULT_IDENTITY)
    result = BatchResult()
    items = output._encode(_encoded(output, EVENTS), b"create", result)
    # without @timestamp no index can be named: dead, as before
    assert [i for i, _ in result.dead] == [2, 3, 4] and "no RFC 3339 @timestamp" in result.dead[0][1]
    expected_sources = [orjson.dumps({k: v for k, v in e.items() if k != "@metadata"}) for e in EVENTS[:2]]
    assert [item.source for item in items] == expected_sources
    assert [json.loads(item.action) for item in items] == [
        {"create": {"_index": "ps-dns-2015.07.11"}},
        {"create": {"_index": "ps-http-2015.07.11", "_id": "abc1", "pipeline": "p"}},
    ]


def test_logstash_frames_carry_the_event_with_beats_metadata():
    output = LogstashOutput(_config("logstash", hosts=["localhost:5044"]))
    output.use_identity(DEFAULT_IDENTITY)
    result = BatchResult()
    indexes, payloads = output._encode(_encoded(output, EVENTS), result)
    assert result == BatchResult() and indexes == list(range(len(EVENTS)))
    assert payloads == [_beats(e, output.metadata) for e in EVENTS]


def test_redis_commands_carry_the_event_with_beats_metadata_under_the_selected_key():
    output = RedisOutput(_config("redis", hosts=["localhost"], key="ps-%{[type]:other}"))
    output.use_identity(DEFAULT_IDENTITY)
    result = BatchResult()
    commands, owners = output._commands(_encoded(output, EVENTS), result)
    expected: dict[str, list[bytes]] = {}
    for event in EVENTS:
        expected.setdefault(f"ps-{event.get('type', 'other')}", []).append(_beats(event, output.metadata))
    from packetshipper.outputs.resp import encode_command

    assert commands == [encode_command("RPUSH", key, *payloads) for key, payloads in expected.items()]
    assert sorted(i for owner in owners for i in owner) == list(range(len(EVENTS)))


def test_a_dict_handed_straight_to_an_output_is_encoded_there_with_the_same_bytes():
    stream = io.BytesIO()
    output = ConsoleOutput(_config("console"), stream=stream)
    result = output.publish_batch([dict(e) for e in EVENTS] + [{"bad": b"bytes"}])
    assert [i for i, _ in result.dead] == [len(EVENTS)] and "cannot encode as JSON" in result.dead[0][1]
    option = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
    assert stream.getvalue() == b"".join(orjson.dumps(e, option=option) for e in EVENTS)


def test_a_dead_letter_line_of_an_encoded_event_is_the_line_of_the_event(tmp_path: Path):
    plain, encoded = DeadLetterFile(str(tmp_path / "a"), 10**6), DeadLetterFile(str(tmp_path / "b"), 10**6)
    codec = EventCodec()
    for event in EVENTS:
        plain.write(dict(event), "gave up: 503", now=1436651244.428)
        encoded.write(codec.encode(dict(event)), "gave up: 503", now=1436651244.428)
    plain.close()
    encoded.close()
    assert (tmp_path / "b").read_bytes() == (tmp_path / "a").read_bytes()
    assert json.loads((tmp_path / "b").read_text().splitlines()[1])["event"] == EVENTS[1]
