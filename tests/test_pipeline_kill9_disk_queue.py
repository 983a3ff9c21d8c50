"""`kill -9` of a shipper using the disk queue, then a restart: every event the queue accepted reaches
the output at least once (counted by a unique id), none is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from packetshipper.metrics import Metrics
    from packetshipper.outputs import output_settings
    from packetshipper.pipeline import PIPELINE_SETTINGS, build_publisher
    from packetshipper.settings import validate

    work, first, count, bulk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    config = {
        "queue": validate(PIPELINE_SETTINGS, {"disk": {"path": work + "/queue", "max_size": "4MB",
                                                       "segment_size": "64KB"}}, "queue"),
        "output": {"file": validate(output_settings("file"), {"path": work + "/out", "bulk_max_size": bulk,
                                    "number_of_files": 10, "backoff.init": "10ms", "backoff.max": "20ms"},
                                    "output.file")},
        "path": {"data": work + "/data"},
    }
    metrics = Metrics()
    publisher = build_publisher(config, metrics, live=False)
    print(json.dumps({"recovered": metrics.snapshot()["queue"]["recovered"]}), flush=True)
    for i in range(first, first + count):
        publisher.publish({"id": i, "type": "flow"})
        print(i, flush=True)  # this id is on disk now
    if count:
        print("done", flush=True)
        time.sleep(600)  # wait for kill -9
    publisher.close(timeout=20)
    print(json.dumps(metrics.snapshot()), flush=True)
    """
)


def _start(tmp_path: Path, first: int, count: int, bulk: int) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path), str(first), str(count), str(bulk)],
                            stdout=subprocess.PIPE, text=True)


def _kill_after(child: subprocess.Popen[str], accepted_at_least: int) -> tuple[int, list[int]]:
    """Read the child's progress until `accepted_at_least` ids are on disk, then kill -9 it."""
    assert child.stdout is not None
    recovered = json.loads(child.stdout.readline())["recovered"]
    accepted: list[int] = []
    for line in child.stdout:
        if line.strip() == "done":
            break
        accepted.append(int(line))
        if len(accepted) >= accepted_at_least:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    accepted += [int(line) for line in child.stdout.read().split() if line.isdigit()]
    return recovered, accepted


def _restart(tmp_path: Path) -> tuple[int, dict]:
    child = _start(tmp_path, 0, 0, 100)
    out, _ = child.communicate(timeout=25)
    lines = out.splitlines()
    return json.loads(lines[0])["recovered"], json.loads(lines[-1])


def _delivered(tmp_path: Path) -> list[int]:
    return [json.loads(line)["id"] for f in (tmp_path / "out").glob("packetshipper*") for line in f.open()]


def test_kill_9_while_the_output_is_down_then_restart_delivers_every_accepted_event(tmp_path: Path):
    (tmp_path / "out").write_text("output down during the first run")
    _, accepted = _kill_after(_start(tmp_path, 0, 4000, 100), 4000)
    (tmp_path / "out").unlink()

    recovered, stats = _restart(tmp_path)
    delivered = _delivered(tmp_path)
    assert len(accepted) == 4000
    assert recovered == 4000  # nothing was acknowledged before the kill: all of it comes back
    assert sorted(delivered) == list(range(4000))
    assert stats["queue"]["events"] == 0 and stats["queue"]["corrupt_regions"] == 0


def test_kill_9_mid_delivery_then_restart_loses_nothing(tmp_path: Path):
    _, accepted = _kill_after(_start(tmp_path, 0, 20000, 5), 15000)
    before_restart = set(_delivered(tmp_path))

    recovered, stats = _restart(tmp_path)
    delivered = _delivered(tmp_path)
    assert len(accepted) >= 15000
    assert recovered > 0  # the kill did leave unacknowledged events behind
    assert set(accepted) <= set(delivered)  # every accepted id at least once
    assert len(before_restart) + recovered >= len(set(accepted))
    assert stats["queue"]["events"] == 0
    assert stats["output"]["events"]["acked"] == recovered
