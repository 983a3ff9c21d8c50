"""A pcap replay with the output down for its first seconds, then up: nothing is lost.

dns_google_com.pcap holds one DNS query and its answer, which Packetbeat's test_0032_dns turns into one
dns event; read 300 times that is 300 dns events. The replay runs at top speed into a 100-event queue,
so it must wait on the full queue while the output is down (3 s, against a retry budget under 0.6 s).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from packetshipper.config import validate_config
from packetshipper.runner import Shipper

PCAP = Path(__file__).parent / "pcaps" / "packetbeat" / "dns_google_com.pcap"
LOOPS = 300


def test_replay_with_the_output_down_at_first_delivers_every_event(tmp_path: Path):
    out = tmp_path / "out"
    out.write_text("a file where the output directory should be: the output is down")
    config = validate_config({
        "packetshipper": {"interfaces": {"file": str(PCAP), "loop": LOOPS, "topspeed": True},
                          "protocols": [{"type": "dns"}]},
        "output": {"file": {"path": str(out), "backoff.init": "50ms", "backoff.max": "200ms"}},
        "queue": {"mem": {"events": 100, "flush.min_events": 10}},
        "path": {"data": str(tmp_path / "data")},
    })
    restore = threading.Timer(3.0, out.unlink)
    restore.start()
    try:
        summary = Shipper(config).run()
    finally:
        restore.cancel()

    events = [json.loads(line) for f in sorted(out.glob("packetshipper*")) for line in f.open()]
    assert sum(1 for e in events if e["type"] == "dns") == LOOPS
    assert len(events) == summary.events
    stats = summary.stats
    assert stats["output"]["connect_failures"] > 0  # it really was down while the replay ran
    assert stats["queue"]["blocked"] > 0 and stats["queue"]["dropped"]["full"] == 0
    assert stats["queue"]["acked"] == stats["output"]["events"]["acked"] == summary.events
    assert stats["output"]["events"]["given_up"] == 0 and stats["output"]["dead_letter"]["written"] == 0
