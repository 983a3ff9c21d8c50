"""A front for one mock broker that adds what librdkafka's mock cluster lacks: TLS and SASL.

The mock broker is told (rd_kafka_mock_broker_set_host_port) to advertise this proxy's address, so
clients reach it for every connection, not just the bootstrap one. With a TLS context the proxy
terminates TLS. With credentials it plays the broker's part of SASL (KIP-43/KIP-152): it adds
SaslHandshake (v0-1) and SaslAuthenticate (v0-1) to the broker's ApiVersions answer, answers those two
requests itself and only then pipes bytes to the broker. PLAIN checks the token (RFC 4616: authzid NUL
authcid NUL password); SCRAM-SHA-256/512 runs the server side of RFC 5802 (salted challenge, client proof
checked, server signature sent). Wrong credentials get SASL_AUTHENTICATION_FAILED (58).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import select
import socket
import ssl
import struct
import threading

__all__ = ["BrokerFront"]

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
SASL_AUTHENTICATION_FAILED = 58


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> bytes:
    (size,) = struct.unpack(">i", _read_exact(sock, 4))
    return _read_exact(sock, size)


def _auth_bytes(request: bytes) -> bytes:
    """The auth_bytes of a SaslAuthenticate v0/v1 request (header v1: key, version, id, client id)."""
    (client_id_len,) = struct.unpack_from(">h", request, 8)
    pos = 10 + max(client_id_len, 0)
    (size,) = struct.unpack_from(">i", request, pos)
    return request[pos + 4: pos + 4 + size]


def _frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _uvarint(value: int) -> bytes:
    out = b""
    while True:
        if value < 0x80:
            return out + bytes([value])
        out += bytes([(value & 0x7F) | 0x80])
        value >>= 7


def _with_sasl_apis(response: bytes, version: int) -> bytes:
    """The broker's ApiVersions response (header v0: correlation id) with the two SASL APIs added."""
    head, pos = response[:6], 6  # correlation id, error code
    extra = [(SASL_HANDSHAKE, 0, 1), (SASL_AUTHENTICATE, 0, 1)]
    if version >= 3:  # flexible: compact array, each entry followed by an empty tag buffer
        count, pos = _varint(response, pos)
        entries = response[pos: pos + (count - 1) * 7]
        added = b"".join(struct.pack(">hhhB", *e, 0) for e in extra)
        return head + _uvarint(count + len(extra)) + entries + added + response[pos + len(entries):]
    (count,) = struct.unpack_from(">i", response, pos)
    entries = response[pos + 4: pos + 4 + count * 6]
    added = b"".join(struct.pack(">hhh", *e) for e in extra)
    return head + struct.pack(">i", count + len(extra)) + entries + added + response[pos + 4 + len(entries):]


class BrokerFront:
    def __init__(self, upstream: tuple[str, int], tls: ssl.SSLContext | None = None,
                 credentials: tuple[str, str] | None = None, mechanism: str = "PLAIN") -> None:
        self.upstream, self.tls, self.credentials, self.mechanism = upstream, tls, credentials, mechanism
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.authenticated: list[str] = []
        self.refused: list[str] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        try:
            if self.tls is not None:
                client = self.tls.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(self.upstream)
            if self.credentials is not None and not self._sasl(client, upstream):
                return
            self._pipe(client, upstream)
        except (OSError, ConnectionError, ssl.SSLError, struct.error, IndexError):
            pass
        finally:
            with contextlib.suppress(OSError):
                client.close()
            if upstream is not None:
                upstream.close()

    def _sasl(self, client: socket.socket, upstream: socket.socket) -> bool:
        while True:
            request = _read_frame(client)
            api_key, version, correlation = struct.unpack_from(">hhi", request)
            if api_key == API_VERSIONS:
                upstream.sendall(_frame(request))
                client.sendall(_frame(_with_sasl_apis(_read_frame(upstream), version)))
            elif api_key == SASL_HANDSHAKE:
                name = self.mechanism.encode()
                body = struct.pack(">ihi", correlation, 0, 1) + struct.pack(">h", len(name)) + name
                client.sendall(_frame(body))
            elif api_key == SASL_AUTHENTICATE:
                reply, done, ok = self._authenticate(_auth_bytes(request))
                error, message = (0, b"") if ok else (SASL_AUTHENTICATION_FAILED, b"bad credentials")
                body = struct.pack(">ih", correlation, error)
                body += struct.pack(">h", len(message)) + message if message else struct.pack(">h", -1)
                body += struct.pack(">i", len(reply)) + reply
                if version >= 1:
                    body += struct.pack(">q", 0)  # session lifetime: none
                client.sendall(_frame(body))
                if done or not ok:
                    return ok
            else:
                return False  # nothing else before authentication

    def _authenticate(self, token: bytes) -> tuple[bytes, bool, bool]:
        """(bytes for the client, finished, still acceptable) for one SaslAuthenticate token."""
        assert self.credentials is not None
        if self.mechanism == "PLAIN":
            _authzid, user, password = token.decode().split("\0")
            return b"", True, self._verdict(user, (user, password) == self.credentials)
        digest = hashlib.sha256 if self.mechanism == "SCRAM-SHA-256" else hashlib.sha512
        text = token.decode()
        if text.startswith("n,"):  # client-first: gs2 header, then n=user,r=client nonce
            self._first_bare = text.split(",", 2)[2]
            attrs = dict(a.split("=", 1) for a in self._first_bare.split(","))
            self._user, self._salt = attrs["n"], os.urandom(16)
            self._nonce = attrs["r"] + base64.b64encode(os.urandom(12)).decode()
            self._server_first = f"r={self._nonce},s={base64.b64encode(self._salt).decode()},i=4096"
            return self._server_first.encode(), False, True
        without_proof, _, proof = text.rpartition(",p=")
        password = self.credentials[1] if self._user == self.credentials[0] else ""
        salted = hashlib.pbkdf2_hmac(digest().name, password.encode(), self._salt, 4096)
        client_key = hmac.new(salted, b"Client Key", digest).digest()
        message = f"{self._first_bare},{self._server_first},{without_proof}".encode()
        signature = hmac.new(digest(client_key).digest(), message, digest).digest()
        expected = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        ok = f"r={self._nonce}" in without_proof and hmac.compare_digest(base64.b64decode(proof), expected)
        server_key = hmac.new(salted, b"Server Key", digest).digest()
        final = b"v=" + base64.b64encode(hmac.new(server_key, message, digest).digest())
        return (final if ok else b""), True, self._verdict(self._user, ok)

    def _verdict(self, user: str, ok: bool) -> bool:
        (self.authenticated if ok else self.refused).append(user)
        return ok

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while True:
            ready, _, _ = select.select([a, b], [], [], 1.0)
            if isinstance(a, ssl.SSLSocket) and a.pending():
                ready = list(set(ready) | {a})
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                peers[sock].sendall(data)
