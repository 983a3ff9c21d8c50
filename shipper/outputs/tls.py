"""The `ssl` section shared by the network outputs, named as Beats names it, turned into an SSLContext.

`verification_mode`: `full` checks the chain and the host name, `strict` too (Python always insists on a
subjectAltName), `certificate` checks the chain only, `none` checks nothing (testing only).
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from requests.adapters import HTTPAdapter

from ..settings import ConfigError, Setting, Spec, one_of, string, string_list

__all__ = ["TLS_SETTINGS", "tls_wanted", "client_context", "TLSAdapter"]


def _optional_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError(f"expected true or false, got {value!r}")


_PROTOCOLS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _protocols(value: Any) -> list[str]:
    names = string_list(value)
    for name in names:
        if name not in _PROTOCOLS:
            raise ValueError(f"supported protocols are {', '.join(_PROTOCOLS)}; got {name!r}")
    return names


TLS_SETTINGS: Spec = {
    "enabled": Setting(_optional_bool, None, "Use TLS; on by default once any other ssl key is set."),
    "verification_mode": Setting(one_of("full", "strict", "certificate", "none"), "full",
                                 "How the server certificate is checked."),
    "certificate_authorities": Setting(string_list, [], "PEM files of the CAs to trust (else the system's)."),
    "certificate": Setting(string, None, "PEM client certificate for mutual TLS."),
    "key": Setting(string, None, "PEM key of the client certificate."),
    "key_passphrase": Setting(string, None, "Passphrase of `key`."),
    "supported_protocols": Setting(_protocols, ["TLSv1.2", "TLSv1.3"], "Allowed TLS versions."),
}


def tls_wanted(cfg: Mapping[str, Any], https_scheme: bool = False) -> bool:
    """TLS is on if asked for, if the URL scheme is https, or if CA/certificate files are configured."""
    if cfg.get("enabled") is not None:
        return bool(cfg["enabled"])
    return https_scheme or bool(cfg.get("certificate_authorities")) or bool(cfg.get("certificate"))


def client_context(cfg: Mapping[str, Any], path: str = "ssl") -> ssl.SSLContext:
    mode = cfg.get("verification_mode", "full")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    versions = [_PROTOCOLS[name] for name in cfg.get("supported_protocols") or list(_PROTOCOLS)]
    context.minimum_version, context.maximum_version = min(versions), max(versions)
    if mode == "none":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.check_hostname = mode in ("full", "strict")
        context.verify_mode = ssl.CERT_REQUIRED
        authorities = cfg.get("certificate_authorities") or []
        try:
            for ca in authorities:
                context.load_verify_locations(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{path}.certificate_authorities", f"cannot load CA file: {exc}") from None
        if not authorities:
            context.load_default_certs()
    if cfg.get("certificate"):
        if not cfg.get("key"):
            raise ConfigError(f"{path}.key", "a client certificate needs its key")
        try:
            context.load_cert_chain(cfg["certificate"], cfg["key"], cfg.get("key_passphrase"))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{path}.certificate", f"cannot load certificate or key: {exc}") from None
    return context


class TLSAdapter(HTTPAdapter):
    """Makes `requests` use our SSLContext as is, instead of its own CA bundle and checks."""

    def __init__(self, context: ssl.SSLContext, **kwargs: Any) -> None:
        self._context = context
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        if not self._context.check_hostname:
            kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Leave verification to the context (requests would load its default bundle here)."""
