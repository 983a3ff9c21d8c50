"""The SDP body fields Packetbeat reports (RFC 8866: v=, o=, s=, c= of the session part)."""

from __future__ import annotations

from packetshipper.records import record

__all__ = ["SdpSummary", "parse_sdp"]


@record
class SdpSummary:
    version: str = ""
    owner_username: str = ""
    owner_session_id: str = ""
    owner_version: str = ""
    owner_ip: str = ""
    session_name: str = ""
    connection_info: str = ""
    connection_address: str = ""
    malformed_lines: int = 0


def _owner(value: str) -> tuple[str, str, str, str] | None:
    """o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>; a quoted username as Packetbeat."""
    user = ""
    rest = value
    if value.startswith('"'):
        close = value.find('"', 1)
        if close == -1:
            return None
        user = value[1:close]
        rest = value[close + 1:]
        parts = rest.split(" ", 2)
        if len(parts) != 3:
            return None
        session, version, address = parts
    else:
        parts = value.split(" ", 3)
        if len(parts) != 4:
            return None
        user, session, version, address = parts
    if user == "-":
        user = ""
    return user, session, version, address.split(" ")[-1]


def parse_sdp(body: str) -> SdpSummary:
    fields: dict[str, str] = {}
    malformed = 0
    in_media = False
    for line in body.split("\r\n"):
        kv = line.split("=", 1)
        if len(kv) != 2:
            continue
        kind, value = kv[0].strip().lower(), kv[1].strip()
        if kind == "v":
            fields["version"] = value
        elif kind == "o":
            owner = _owner(value)
            if owner is None:
                malformed += 1
                continue
            (fields["owner_username"], fields["owner_session_id"], fields["owner_version"],
             fields["owner_ip"]) = owner
        elif kind == "s":
            if value != "-":
                fields["session_name"] = value
        elif kind == "c":
            if not in_media:  # the session-level connection, not a media one
                fields["connection_info"] = value
                fields["connection_address"] = value.split(" ")[-1]
        elif kind == "m":
            in_media = True
    return SdpSummary(malformed_lines=malformed, **fields)
