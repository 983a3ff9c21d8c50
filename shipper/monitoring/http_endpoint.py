"""The HTTP monitoring endpoint: `/` (who is running), `/stats` (the ledger) and `/state` (what runs), JSON;
`?pretty` indents."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

__all__ = ["StatsServer"]

log = logging.getLogger(__name__)

_REQUEST_TIMEOUT = 5.0  # a client that stalls cannot hold the (single) serving thread longer than this


class StatsServer:
    """Serves one request at a time from a daemon thread; the counters are read, never locked."""

    def __init__(self, host: str, port: int, info: Mapping[str, Any],
                 stats: Callable[[], Mapping[str, Any]],
                 state: Callable[[], Mapping[str, Any]] | None = None) -> None:
        routes: dict[str, Callable[[], Any]] = {"/": lambda: dict(info), "/stats": stats}
        if state is not None:
            routes["/state"] = state
        handler = type("_Handler", (_Handler,), {"routes": routes})
        self._server = HTTPServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="monitoring-http", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Callable[[], Any]]
    timeout = _REQUEST_TIMEOUT
    server_version = "packetshipper"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks for)
        url = urlsplit(self.path)
        route = self.routes.get(url.path)
        if route is None:
            self._send(404, {"error": f"no such endpoint: {url.path}"}, pretty=False)
            return
        pretty = "pretty" in parse_qs(url.query, keep_blank_values=True)
        try:
            body = route()
        except Exception:
            log.exception("building %s failed", url.path)
            self._send(500, {"error": "internal error"}, pretty=False)
            return
        self._send(200, body, pretty)

    def _send(self, status: int, body: Any, pretty: bool) -> None:
        option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if pretty else 0)
        data = orjson.dumps(body, option=option, default=repr)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("monitoring http: " + format, *args)
