"""Records shipper/data/sample.pcap: real DNS, HTTP and ICMP traffic on the loopback interface.

Run as root with dnsmasq, dig and tcpdump installed: `python tests/tools/record_sample.py OUT.pcap`.
Not part of the test suite; the recorded file is committed and described in shipper/data/README.md.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

DNS_QUERIES = [("www.example.com", "A"), ("api.example.com", "AAAA"), ("example.com", "MX"),
               ("example.com", "TXT"), ("nosuch.example.com", "A")]
HTTP_REQUESTS = [("GET", "/", None), ("GET", "/data.json", None), ("GET", "/missing.html", None),
                 ("HEAD", "/", None), ("POST", "/form", b"name=packetshipper&kind=demo")]


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total & 0xFFFF) + (total >> 16)
    total += total >> 16
    return ~total & 0xFFFF


def _serve_http(root: str) -> ThreadingHTTPServer:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=root, **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 8000), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _ping(count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        for seq in range(count):
            body = b"packetshipper"
            header = struct.pack("!BBHHH", 8, 0, 0, 0x1234, seq)
            sock.sendto(struct.pack("!BBHHH", 8, 0, _checksum(header + body), 0x1234, seq) + body, ("127.0.0.1", 0))
            sock.recvfrom(1000)  # our own request, then the kernel's reply
            sock.recvfrom(1000)
            time.sleep(0.2)


def main(out: str) -> None:
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "index.html"), "w") as page:
        page.write("<html><body><h1>packetshipper sample</h1></body></html>\n")
    with open(os.path.join(root, "data.json"), "w") as data:
        data.write('{"hello": "world", "items": [1, 2, 3]}\n')
    http = _serve_http(root)
    dns = subprocess.Popen(["dnsmasq", "-k", "--no-resolv", "--no-hosts", "--listen-address=127.0.0.53",
                            "--bind-interfaces", "--port=53", "--user=root",
                            "--address=/www.example.com/192.0.2.10", "--address=/api.example.com/2001:db8::20",
                            "--mx-host=example.com,mail.example.com,10", "--txt-record=example.com,v=spf1 -all",
                            "--address=/nosuch.example.com/"])
    time.sleep(1)
    capture = subprocess.Popen(["tcpdump", "-i", "lo", "-w", out, "-U", "-s", "65535",
                                "host 127.0.0.53 or tcp port 8000 or icmp"], stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    try:
        for name, kind in DNS_QUERIES:
            subprocess.run(["dig", "@127.0.0.53", name, kind, "+tries=1", "+time=2"], capture_output=True, check=False)
        subprocess.run(["dig", "@127.0.0.53", "www.example.com", "A", "+tcp"], capture_output=True, check=False)
        for method, path, body in HTTP_REQUESTS:
            request = urllib.request.Request(f"http://127.0.0.1:8000{path}", data=body, method=method)
            with contextlib.suppress(urllib.error.HTTPError):  # 404 and 501 are part of the sample
                urllib.request.urlopen(request).read()
        _ping(2)
        time.sleep(1)
    finally:
        capture.terminate()
        capture.wait()
        dns.terminate()
        http.shutdown()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sample.pcap")
