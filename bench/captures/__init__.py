"""Generated captures for bench/bench_modules.py: one file per protocol module.

Each file `<module>.py` defines

    PROTOCOLS: list[dict]   the `packetshipper.protocols` entries to enable, e.g. [{"type": "redis"}]
    def generate(transactions: int) -> Iterator[tuple[float, bytes]]
                            (timestamp, Ethernet frame) pairs holding that many request/response
                            transactions, built with packetshipper.pcapgen (tcp_frame, udp_frame)
"""
