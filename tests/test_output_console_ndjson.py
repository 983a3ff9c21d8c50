"""output.console: one JSON document per line on stdout; `pretty: true` indents."""

from __future__ import annotations

import io
import json

import pytest
from packetshipper.outputs import output_settings
from packetshipper.outputs.base import OutputError
from packetshipper.outputs.console import ConsoleOutput
from packetshipper.settings import validate

EVENT = {"@timestamp": "2015-07-11T21:47:24.428Z", "type": "http", "http": {"response": {"status_code": 200}}}


def _console(stream: io.BytesIO, **extra: object) -> ConsoleOutput:
    return ConsoleOutput(validate(output_settings("console"), extra, "output.console"), stream=stream)


def test_one_compact_json_document_per_line():
    stream = io.BytesIO()
    output = _console(stream)
    output.publish_batch([EVENT, {"id": 2}])
    assert stream.getvalue() == (
        b'{"@timestamp":"2015-07-11T21:47:24.428Z","type":"http","http":{"response":{"status_code":200}}}\n'
        b'{"id":2}\n'
    )
    assert output.stats["bytes"] == len(stream.getvalue())


def test_pretty_indents_each_document():
    stream = io.BytesIO()
    _console(stream, pretty=True).publish_batch([{"id": 2, "a": {"b": 1}}])
    assert stream.getvalue() == b'{\n  "id": 2,\n  "a": {\n    "b": 1\n  }\n}\n'
    assert json.loads(stream.getvalue()) == {"id": 2, "a": {"b": 1}}


def test_writes_to_stdout_by_default(capfdbinary: pytest.CaptureFixture[bytes]):
    ConsoleOutput(validate(output_settings("console"), {}, "output.console")).publish_batch([{"id": 1}])
    assert capfdbinary.readouterr().out == b'{"id":1}\n'


def test_unencodable_events_are_dead_lettered_and_the_rest_written():
    stream = io.BytesIO()
    result = _console(stream).publish_batch([{"id": 1}, {"n": 2**64}, {"id": 3}])
    assert [index for index, _ in result.dead] == [1]
    assert stream.getvalue() == b'{"id":1}\n{"id":3}\n'


def test_a_closed_stdout_is_an_output_error():
    stream = io.BytesIO()
    stream.close()
    with pytest.raises(OutputError, match="stdout"):
        _console(stream).publish_batch([{"id": 1}])
