"""The Logstash output over Lumberjack v2: windows, partial ACKs, cuts mid-batch, @metadata."""

from __future__ import annotations

import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from packetshipper.outputs.base import OutputError
from packetshipper.outputs.logstash import LogstashOutput
from packetshipper.outputs.lumberjack import encode_events, encode_window
from packetshipper.settings import validate
from packetshipper.version import __version__
from servers.certs import OPENSSL, make_certificates
from servers.lumberjack_server import LumberjackServer
from servers.redis_server import free_port


def make_output(*ports: int, **cfg: Any) -> LogstashOutput:
    hosts = [f"127.0.0.1:{p}" for p in ports]
    bulk_max_size = cfg.pop("bulk_max_size", 2048)  # a common output key, validated by the pipeline
    validated = validate(LogstashOutput.settings, {"hosts": hosts, "timeout": "10s", **cfg})
    validated["bulk_max_size"] = bulk_max_size
    return LogstashOutput(validated)


def events(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"seq": i, "message": f"event {i}"} for i in range(start, start + count)]


def test_frames_are_laid_out_as_the_protocol_says() -> None:
    assert encode_window(3) == b"2W\x00\x00\x00\x03"
    plain = encode_events([b'{"a":1}', b"{}"], 0)
    assert plain == b"2J\x00\x00\x00\x01\x00\x00\x00\x07{\"a\":1}" + b"2J\x00\x00\x00\x02\x00\x00\x00\x02{}"
    packed = encode_events([b'{"a":1}', b"{}"], 6)
    assert packed[:2] == b"2C" and int.from_bytes(packed[2:6], "big") == len(packed) - 6
    assert zlib.decompress(packed[6:]) == plain


def test_every_event_carries_metadata_beat_type_and_version() -> None:
    with LumberjackServer() as srv:
        make_output(srv.port).publish_batch([{"a": 1}, {"b": 2, "@metadata": {"pipeline": "p"}}])
        received = srv.acked_events
    assert received[0] == {"a": 1, "@metadata": {"beat": "packetshipper", "type": "_doc", "version": __version__}}
    assert received[1]["@metadata"] == {"beat": "packetshipper", "type": "_doc", "version": __version__,
                                        "pipeline": "p"}


def test_index_setting_names_metadata_beat() -> None:
    with LumberjackServer() as srv:
        make_output(srv.port, index="netdata").publish_batch([{"a": 1}])
        assert srv.acked_events[0]["@metadata"]["beat"] == "netdata"


def test_a_batch_acknowledged_in_three_partial_acks_is_delivered_once() -> None:
    with LumberjackServer() as srv:
        srv.partial_acks = 3
        output = make_output(srv.port, compression_level=0, pipelining=0)
        result = output.publish_batch(events(90))
        assert (srv.partial_acks_sent, srv.full_acks_sent) == (2, 1)
        assert [e["seq"] for e in srv.acked_events] == list(range(90))
    assert result.retry == [] and result.dead == []
    assert output.stats["partial_acks"] == 2
    assert output.stats["events_acked"] == 90


def test_keepalive_acks_of_sequence_zero_do_not_count_as_progress() -> None:
    with LumberjackServer() as srv:
        srv.keepalives_before_ack = 2
        output = make_output(srv.port)
        assert output.publish_batch(events(5)).retry == []
    assert output.stats["keepalive_acks"] == 2
    assert output.stats["events_acked"] == 5


def test_a_cut_mid_batch_resends_only_the_unacknowledged_tail() -> None:
    with LumberjackServer() as srv:
        srv.partial_acks = 4  # ACK after events 25, 50, 75 and 100 of the window
        srv.close_after = 60  # the connection is cut after the 60th event arrived
        output = make_output(srv.port, pipelining=0)
        batch = events(100)
        result = output.publish_batch(batch)
        assert result.retry == list(range(50, 100))
        assert output.publish_batch([batch[i] for i in result.retry]).retry == []
        sent = Counter(r.event["seq"] for r in srv.received)
        acked = [e["seq"] for e in srv.acked_events]
    assert sorted(acked) == list(range(100))  # nothing lost, nothing acknowledged twice
    assert {seq for seq, n in sent.items() if n > 1} == set(range(50, 60))  # only received-but-unacked
    assert srv.connections == 2


def test_a_cut_before_any_ack_raises_output_error_and_shrinks_the_window() -> None:
    with LumberjackServer() as srv:
        srv.close_after = 3
        output = make_output(srv.port, slow_start=True)
        before = output.window.size
        with pytest.raises(OutputError, match="closed"):
            output.publish_batch(events(10))
        assert output.window.size == before // 2


def test_slow_start_grows_the_window_on_success_up_to_bulk_max_size() -> None:
    with LumberjackServer() as srv:
        output = make_output(srv.port, slow_start=True, bulk_max_size=40)
        sizes = []
        for _ in range(5):
            output.publish_batch(events(40))
            sizes.append(output.window.size)
        assert len(srv.acked_events) == 200
    # Batch 1: windows 10 (ok -> 15), 15 (ok -> 23), then 15 left: a window not filled teaches nothing.
    # Batch 2: 23 (ok -> 35), 17 left. Batch 3: 35 (ok -> 53, capped at 40), 5 left.
    assert sizes == [23, 35, 40, 40, 40]


def test_pipelining_sends_several_windows_before_waiting() -> None:
    with LumberjackServer() as srv:
        output = make_output(srv.port, pipelining=3, bulk_max_size=10)
        assert output.publish_batch(events(95)).retry == []
        assert [e["seq"] for e in srv.acked_events] == list(range(95))
    assert output.stats["windows_sent"] == 10


def test_fail_over_to_the_next_host_when_one_is_down() -> None:
    with LumberjackServer() as srv:
        output = make_output(free_port(), srv.port)
        assert output.publish_batch(events(3)).retry == []
        assert len(srv.acked_events) == 3
    assert output.stats["connect_errors"] == 1


def test_loadbalance_spreads_batches_over_hosts() -> None:
    with LumberjackServer() as one, LumberjackServer() as two:
        output = make_output(one.port, two.port, loadbalance=True)
        for i in range(4):
            output.publish_batch(events(1, i))
        assert (len(one.acked_events), len(two.acked_events)) == (2, 2)


def test_ttl_reconnects_once_a_connection_is_old() -> None:
    with LumberjackServer() as srv:
        output = make_output(srv.port, ttl="1ns")
        output.publish_batch(events(1))
        output.publish_batch(events(1))
        assert srv.connections == 2


def test_unencodable_events_are_dead_and_the_rest_delivered() -> None:
    with LumberjackServer() as srv:
        batch: list[dict[str, Any]] = events(3)
        batch[1]["bad"] = object()
        result = make_output(srv.port).publish_batch(batch)
        assert [e["seq"] for e in srv.acked_events] == [0, 2]
    assert [i for i, _ in result.dead] == [1]


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not installed (apt package openssl)")
def test_tls_with_the_configured_ca(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path)
    with LumberjackServer(ssl_context=certs.server_context()) as srv:
        good = LogstashOutput(validate(LogstashOutput.settings, {
            "hosts": [f"localhost:{srv.port}"], "ssl": {"certificate_authorities": [str(certs.ca)]}}))
        assert good.publish_batch(events(2)).retry == []
        bad = LogstashOutput(validate(LogstashOutput.settings, {
            "hosts": [f"localhost:{srv.port}"], "ssl": {"certificate_authorities": [str(certs.other_ca)]}}))
        with pytest.raises(OutputError, match="CERTIFICATE_VERIFY_FAILED"):
            bad.publish_batch(events(2))
        assert len(srv.acked_events) == 2
