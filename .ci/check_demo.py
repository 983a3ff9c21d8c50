"""Checks what `packetshipper demo` printed against what the bundled sample holds (shipper/data/README.md,
checked there with tshark): 6 DNS and 5 HTTP transactions, 2 ICMP echo pairs, and flows.

usage: python3 .ci/check_demo.py DEMO_STDOUT LABEL  (stdlib only: it runs under Debian's bare Python)
"""

import collections
import json
import sys

EXPECTED_TRANSACTIONS = {"dns": 6, "http": 5, "icmp": 2}
EXPECTED_HTTP_STATUS = [200, 200, 200, 404, 501]


def main(path: str, label: str) -> int:
    with open(path, encoding="utf-8") as fh:
        events = [json.loads(line) for line in fh if line.strip()]
    kinds = collections.Counter(event.get("type") for event in events)
    problems = [f"{kinds[kind]} {kind} events, expected {count}" for kind, count in EXPECTED_TRANSACTIONS.items()
                if kinds[kind] != count]
    statuses = sorted(e["http"]["response"]["status_code"] for e in events if e.get("type") == "http")
    if statuses != EXPECTED_HTTP_STATUS:
        problems.append(f"HTTP status codes {statuses}, expected {EXPECTED_HTTP_STATUS}")
    if not kinds["flow"]:
        problems.append("no flow events")
    if problems:
        print(f"demo ({label}): " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"demo ({label}): {len(events)} events: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
