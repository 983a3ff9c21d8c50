"""The in-test Lumberjack server: a real sender (pylogbeat) works with it, and bad frames are refused."""

from __future__ import annotations

import socket
import struct
import zlib

import pylogbeat
import pytest
from servers.lumberjack_server import LumberjackServer


def raw_session(port: int, data: bytes, acks: int) -> list[int]:
    """Send `data`, read `acks` ACK frames (fewer if the server closes); their sequence numbers."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        buf = b""
        while len(out) < acks:
            chunk = sock.recv(4096)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 6:
                assert buf[:2] == b"2A"
                out.append(struct.unpack(">I", buf[2:6])[0])
                buf = buf[6:]
    return out


def json_frame(seq: int, payload: bytes) -> bytes:
    return b"2J" + struct.pack(">II", seq, len(payload)) + payload


def test_pylogbeat_delivers_batches_and_gets_its_acks() -> None:
    with LumberjackServer() as srv:
        with pylogbeat.PyLogBeatClient("127.0.0.1", srv.port, timeout=5) as client:
            client.send([{"a": 1}, {"b": 2}])
            client.send(["{\"c\": 3}"])
        assert srv.acked_events == [{"a": 1}, {"b": 2}, {"c": 3}]
        assert srv.errors == []


def test_the_ack_carries_the_highest_sequence_of_the_window() -> None:
    with LumberjackServer() as srv:
        frames = b"2W" + struct.pack(">I", 2) + json_frame(41, b"{}") + json_frame(42, b'{"x":1}')
        assert raw_session(srv.port, frames, 1) == [42]


def test_a_compressed_frame_and_a_version_1_data_frame_are_understood() -> None:
    data_frame = b"1D" + struct.pack(">II", 2, 1) + struct.pack(">I", 4) + b"line" + struct.pack(">I", 2) + b"hi"
    inner = json_frame(1, b'{"a":1}') + data_frame
    packed = zlib.compress(inner)
    with LumberjackServer() as srv:
        frames = b"2W" + struct.pack(">I", 2) + b"2C" + struct.pack(">I", len(packed)) + packed
        assert raw_session(srv.port, frames, 1) == [2]
        assert srv.acked_events == [{"a": 1}, {"line": "hi"}]


def test_partial_acks_report_progress_within_a_window() -> None:
    with LumberjackServer() as srv:
        srv.partial_acks = 3
        frames = b"2W" + struct.pack(">I", 6) + b"".join(json_frame(i, b"{}") for i in range(1, 7))
        assert raw_session(srv.port, frames, 3) == [2, 4, 6]


@pytest.mark.parametrize(("frames", "error"), [
    (b"3W\x00\x00\x00\x01", "unsupported protocol version"),
    (b"2W\x00\x00\x00\x01" + b"2X\x00\x00", "unknown frame type"),
    (b"2W\x00\x00\x00\x00", "window size 0"),
    (json_frame(1, b"{}"), "event before any window"),
    (b"2W\x00\x00\x00\x01" + json_frame(1, b"{not json"), "bad JSON"),
    (b"2W\x00\x00\x00\x01" + json_frame(1, b"[1, 2]"), "not an object"),
    (b"2W\x00\x00\x00\x01" + b"2C\x00\x00\x00\x04abcd", "bad zlib"),
    (b"2W\x00\x00\x00\x01" + b"2J\x00\x00\x00\x01\xff\xff\xff\xff", "exceeds the limit"),
])
def test_bad_frames_close_the_connection_without_an_ack(frames: bytes, error: str) -> None:
    with LumberjackServer() as srv:
        assert raw_session(srv.port, frames, 1) == []
        # The server records the error before it closes, so it is there once we saw the close.
        assert len(srv.errors) == 1 and error in srv.errors[0]
        assert srv.acked_events == []
