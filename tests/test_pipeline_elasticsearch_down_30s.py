"""The issue's scenario to the letter: Elasticsearch is down for the first 30 seconds of a pcap replay,
then comes up. Nothing is lost: every event the replay published is indexed exactly once, none is given
up on or dead-lettered, and the replay waited (a full queue blocks a file read) instead of dropping."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from packetshipper.config import validate_config
from packetshipper.runner import Shipper
from servers.es_server import EsServer

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "http_minitwit.pcap"
OUTAGE = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_elasticsearch_down_for_the_first_30_seconds_loses_nothing(tmp_path: Path) -> None:
    port = _free_port()
    config = validate_config({
        "packetshipper": {"interfaces": {"file": str(PCAP), "loop": 20, "topspeed": True},
                          "protocols": [{"type": "http", "ports": [80, 5000]}]},
        "output": {"elasticsearch": {"hosts": [f"http://127.0.0.1:{port}"], "backoff.init": "1s",
                                     "backoff.max": "4s"}},
        "queue": {"mem": {"events": 64, "flush.min_events": 16, "flush.timeout": "100ms"}},
        "path": {"data": str(tmp_path / "data")},
    })
    servers: list[EsServer] = []
    started = threading.Event()

    def bring_up() -> None:
        time.sleep(OUTAGE)  # nothing listens on the port until now: connections are refused
        servers.append(EsServer(port=port).__enter__())
        started.set()

    threading.Thread(target=bring_up, daemon=True).start()
    began = time.monotonic()
    try:
        summary = Shipper(config).run()
        assert started.is_set(), "the run ended before Elasticsearch came up"
        assert time.monotonic() - began >= OUTAGE
        documents = servers[0].all_documents()
    finally:
        for server in servers:
            server.__exit__()
    stats = summary.stats
    assert summary.events > 64  # more than the queue holds: the replay had to wait for the output
    assert len(documents) == summary.events
    assert stats["queue"]["dropped"]["full"] == 0 and stats["queue"]["blocked"] > 0
    assert stats["output"]["connect_failures"] > 0
    assert stats["output"]["events"]["given_up"] == 0 and stats["output"]["dead_letter"]["written"] == 0
    assert stats["queue"]["acked"] == summary.events
