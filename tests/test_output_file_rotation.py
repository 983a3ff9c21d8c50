"""output.file: ndjson lines, Beats' size rotation (`name`, `name.1` ... `name.N`), rotation on
startup, file permissions, and events too large for one file dead-lettered with the reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from packetshipper.outputs import output_settings
from packetshipper.outputs.file import FileOutput
from packetshipper.settings import ConfigError, validate


def _output(tmp_path: Path, **extra: object) -> FileOutput:
    return FileOutput(validate(output_settings("file"), {"path": str(tmp_path), **extra}, "output.file"))


def _event(i: int, pad: int = 0) -> dict[str, object]:
    return {"id": i, "pad": "x" * pad}


def _line(i: int, pad: int = 0) -> bytes:
    return json.dumps(_event(i, pad), separators=(",", ":")).encode() + b"\n"


def test_defaults_are_beats_defaults(tmp_path: Path):
    config = validate(output_settings("file"), {"path": str(tmp_path)}, "output.file")
    assert config["filename"] == "packetshipper"
    assert config["rotate_every_kb"] == 10240
    assert config["number_of_files"] == 7
    assert config["permissions"] == 0o600
    assert config["rotate_on_startup"] is True
    assert config["enabled"] is True and config["max_retries"] is None


def test_events_are_written_as_ndjson(tmp_path: Path):
    output = _output(tmp_path)
    output.connect()
    result = output.publish_batch([_event(1), {"type": "http", "nested": {"a": [1, 2.5, None, True]}}])
    output.close()
    lines = (tmp_path / "packetshipper").read_bytes().splitlines(keepends=True)
    assert lines[0] == _line(1)
    assert json.loads(lines[1]) == {"type": "http", "nested": {"a": [1, 2.5, None, True]}}
    assert result.retry == [] and result.dead == []
    assert output.stats["bytes"] == sum(len(line) for line in lines)


def _pad_for(i: int, size: int) -> int:
    """The pad that makes event `i`'s line exactly `size` bytes: {"id":I,"pad":"..."} plus newline."""
    return size - len(b'{"id":,"pad":""}\n') - len(str(i))


def test_rotates_before_a_write_would_pass_the_limit(tmp_path: Path):
    assert len(_line(3, _pad_for(3, 512))) == 512  # two lines fill one KiB exactly
    output = _output(tmp_path, rotate_every_kb=1, number_of_files=3)
    output.connect()
    for i in range(7):
        output.publish_batch([_event(i, pad=_pad_for(i, 512))])
    output.close()
    files = {p.name: [json.loads(x)["id"] for x in p.read_text().splitlines()] for p in tmp_path.iterdir()}
    # 7 lines, 2 per file: [0,1] [2,3] [4,5] [6]; with 3 backups kept, nothing is deleted yet
    assert files == {"packetshipper": [6], "packetshipper.1": [4, 5], "packetshipper.2": [2, 3],
                     "packetshipper.3": [0, 1]}


def test_only_number_of_files_backups_are_kept(tmp_path: Path):
    output = _output(tmp_path, rotate_every_kb=1, number_of_files=2)
    output.connect()
    for i in range(10):
        output.publish_batch([_event(i, pad=600)])  # one line per file
    output.close()
    files = {p.name: [json.loads(x)["id"] for x in p.read_text().splitlines()] for p in tmp_path.iterdir()}
    assert files == {"packetshipper": [9], "packetshipper.1": [8], "packetshipper.2": [7]}


def test_an_existing_file_is_rotated_at_startup(tmp_path: Path):
    (tmp_path / "packetshipper").write_bytes(_line(1))
    output = _output(tmp_path)
    output.publish_batch([_event(2)])
    output.close()
    assert (tmp_path / "packetshipper.1").read_bytes() == _line(1)
    assert (tmp_path / "packetshipper").read_bytes() == _line(2)


def test_without_rotate_on_startup_it_appends(tmp_path: Path):
    (tmp_path / "packetshipper").write_bytes(_line(1))
    output = _output(tmp_path, rotate_on_startup=False)
    output.publish_batch([_event(2)])
    output.close()
    assert (tmp_path / "packetshipper").read_bytes() == _line(1) + _line(2)
    assert not (tmp_path / "packetshipper.1").exists()


def test_files_get_the_configured_permissions(tmp_path: Path):
    previous = os.umask(0)
    try:
        output = _output(tmp_path / "sub", filename="events.ndjson", permissions="0640")
        output.publish_batch([_event(1)])
        output.close()
    finally:
        os.umask(previous)
    assert os.stat(tmp_path / "sub" / "events.ndjson").st_mode & 0o777 == 0o640
    assert os.stat(tmp_path / "sub").st_mode & 0o777 == 0o750


def test_an_event_larger_than_a_whole_file_is_dead_lettered(tmp_path: Path):
    output = _output(tmp_path, rotate_every_kb=1)
    result = output.publish_batch([_event(1), _event(2, pad=2000), _event(3)])
    output.close()
    assert [index for index, _ in result.dead] == [1]
    assert "more than the 1024 bytes" in result.dead[0][1]
    assert (tmp_path / "packetshipper").read_bytes() == _line(1) + _line(3)


def test_an_event_json_cannot_express_is_dead_lettered(tmp_path: Path):
    output = _output(tmp_path)
    result = output.publish_batch([{"n": 2**70}, _event(1)])
    output.close()
    assert [index for index, _ in result.dead] == [0]
    assert "cannot encode as JSON" in result.dead[0][1]
    assert (tmp_path / "packetshipper").read_bytes() == _line(1)


def test_an_unusable_path_is_an_output_error_not_a_crash(tmp_path: Path):
    from packetshipper.outputs.base import OutputError

    (tmp_path / "blocker").write_text("not a directory")
    output = _output(tmp_path / "blocker")
    with pytest.raises(OutputError, match="cannot open"):
        output.connect()


@pytest.mark.parametrize(("key", "value"), [("number_of_files", 1), ("number_of_files", 1025),
                                            ("rotate_every_kb", 0), ("permissions", "0999"),
                                            ("permissions", 0o1777)])
def test_out_of_range_settings_name_the_key(tmp_path: Path, key: str, value: object):
    with pytest.raises(ConfigError) as info:
        validate(output_settings("file"), {"path": str(tmp_path), key: value}, "output.file")
    assert info.value.path == f"output.file.{key}"


def test_path_is_required():
    with pytest.raises(ConfigError) as info:
        validate(output_settings("file"), {}, "output.file")
    assert info.value.path == "output.file.path"


@pytest.mark.parametrize("compiled", [True, False])
def test_write_lines_writes_what_one_joined_write_writes(tmp_path: Path, compiled: bool) -> None:
    from packetshipper import hotpath
    from packetshipper.outputs import file as file_output

    if compiled and hotpath.compiled is None:
        pytest.skip("needs the compiled hot path")
    docs = [b'{"n":%d}' % i * (i % 5 + 1) for i in range(1500)]  # three writev calls' worth
    saved, hotpath.enabled = hotpath.enabled, compiled
    try:
        size = file_output.lines_size(docs)
        assert size == len(b"\n".join(docs)) + 1
        rotator = file_output.FileRotator(str(tmp_path / "whole"), 1 << 30, 2, 0o600)
        rotator.write(b"first\n")  # through the buffered file object: written before the lines
        rotator.write_lines(docs, size)
        rotator.close()
    finally:
        hotpath.enabled = saved
    assert (tmp_path / "whole").read_bytes() == b"first\n" + b"".join(doc + b"\n" for doc in docs)


def test_the_compiled_writer_writes_into_a_pipe_read_slowly() -> None:
    import threading
    import time

    from packetshipper import hotpath

    if hotpath.compiled is None:
        pytest.skip("needs the compiled hot path")
    docs = [bytes([65 + i % 26]) * 3000 for i in range(600)]  # 1.8 MB: many times what the pipe holds
    reader, writer = os.pipe()
    got = bytearray()

    def read_all() -> None:
        while chunk := os.read(reader, 70_000):
            got.extend(chunk)
            time.sleep(0.001)

    thread = threading.Thread(target=read_all)
    thread.start()
    try:
        assert hotpath.compiled.write_lines(writer, docs) == sum(len(d) + 1 for d in docs)
    finally:
        os.close(writer)
        thread.join(30)
        os.close(reader)
    assert bytes(got) == b"".join(doc + b"\n" for doc in docs)
    with pytest.raises(OSError):
        hotpath.compiled.write_lines(-1, [b"x"])
    with pytest.raises(TypeError):
        hotpath.compiled.write_lines(1, ["not bytes"])


def test_the_python_writer_writes_on_after_a_short_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from packetshipper.outputs import file as file_output

    docs = [b'{"n":%d}' % i * (i % 5 + 1) for i in range(1500)]
    real_writev = os.writev

    def short_writev(fd: int, vector: list[bytes]) -> int:  # a disk nearly full: less than asked, each time
        return real_writev(fd, vector[:3])

    monkeypatch.setattr(file_output.os, "writev", short_writev)
    with open(tmp_path / "short", "wb") as handle:
        file_output._write_lines(handle.fileno(), docs)
    assert (tmp_path / "short").read_bytes() == b"".join(doc + b"\n" for doc in docs)
