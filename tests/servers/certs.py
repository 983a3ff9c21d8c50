"""A throw-away CA and a server certificate for the name localhost (not for 127.0.0.1), made with the openssl CLI."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["OPENSSL", "CertificateSet", "make_certificates"]

OPENSSL = shutil.which("openssl")


@dataclass(frozen=True)
class CertificateSet:
    ca: Path
    cert: Path
    key: Path
    other_ca: Path  # a CA that did not sign the server certificate

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


def _run(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL or "openssl", *args], cwd=cwd, check=True, capture_output=True)


def _ca(directory: Path, name: str) -> None:
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem",
         "-days", "2", "-subj", f"/CN={name}", cwd=directory)


def make_certificates(directory: Path) -> CertificateSet:
    _ca(directory, "ca")
    _ca(directory, "other-ca")
    _run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
         "-subj", "/CN=localhost", cwd=directory)
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    _run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=directory)
    return CertificateSet(directory / "ca.pem", directory / "server.pem", directory / "server.key",
                            directory / "other-ca.pem")
