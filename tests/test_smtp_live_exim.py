"""A real MTA (Debian's exim4-daemon-light) on a loopback port with its own config, spool and log under
tmp_path, driven by Python's smtplib and captured live on lo.

Expected values come from the client's side (what smtplib sent and was answered) and from exim's own
log (sender, recipients, subject and Message-ID of each message it accepted, each recipient it
refused), never from the module. Needs exim4 and permission to capture on lo; skipped otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packetshipper.capture import CaptureError, LiveSource
from packetshipper.config import validate_config
from packetshipper.runner import Shipper
from packetshipper.testing import CollectingPublisher

EXIM = shutil.which("exim4") or shutil.which("exim")


def _cannot_run() -> str | None:
    if EXIM is None:
        return "exim4 not installed (install.sh --dev installs exim4-daemon-light)"
    if shutil.which("openssl") is None:
        return "openssl not installed"
    try:
        LiveSource("lo").close()
    except CaptureError as exc:
        return f"cannot capture on lo: {exc}"
    return None


pytestmark = [pytest.mark.live, pytest.mark.skipif(_cannot_run() is not None, reason=str(_cannot_run()))]

CONFIG = """\
primary_hostname = mx.test
qualify_domain = test
spool_directory = {dir}/spool
log_file_path = {dir}/log/%slog
pid_file_path = {dir}/exim.pid
never_users =
exim_user = root
exim_group = root
host_lookup =
rfc1413_hosts =
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
smtp_banner = mx.test ESMTP test server
log_selector = +subject +received_recipients
tls_advertise_hosts = *
tls_certificate = {dir}/cert.pem
tls_privatekey = {dir}/key.pem
auth_advertise_hosts = *
acl_smtp_rcpt = acl_rcpt
begin acl
acl_rcpt:
  deny message = no such user here
       local_parts = nobody
  accept
begin routers
all:
  driver = redirect
  data = :blackhole:
begin transports
begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${{if and {{{{eq{{$auth2}}{{user}}}}{{eq{{$auth3}}{{secret}}}}}}}}
"""


@dataclass
class Exim:
    port: int
    dir: Path

    def log(self) -> str:
        path = self.dir / "log" / "mainlog"
        return path.read_text() if path.exists() else ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def exim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exim]:
    assert EXIM is not None
    base = tmp_path_factory.mktemp("exim")
    (base / "spool").mkdir()
    (base / "log").mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(base / "key.pem"),
                    "-out", str(base / "cert.pem"), "-days", "2", "-subj", "/CN=mx.test"],
                   check=True, capture_output=True)
    port = _free_port()
    conf = base / "exim.conf"
    conf.write_text(CONFIG.format(dir=base, port=port))
    server = subprocess.Popen([EXIM, "-C", str(conf), "-bdf", "-oX", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"220"):
                        break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"exim exited: {server.stderr.read().decode() if server.stderr else ''}")
                time.sleep(0.05)
        else:
            pytest.fail("exim did not start")
        yield Exim(port, base)
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def capturing(port: int) -> Iterator[list[dict[str, Any]]]:
    config = validate_config({"packetshipper": {
        "interfaces": {"device": "lo", "bpf_filter": f"tcp port {port}"}, "flows": {"enabled": False},
        "protocols": [{"type": "smtp", "ports": [port]}]}})
    publisher = CollectingPublisher()
    shipper = Shipper(config, publisher=publisher)
    runner = threading.Thread(target=shipper.run)
    runner.start()
    events: list[dict[str, Any]] = []
    time.sleep(0.3)
    try:
        yield events
        time.sleep(0.5)
    finally:
        shipper.stop()
        runner.join(10)
    events.extend(sorted((e for e in publisher.events if e["type"] == "smtp"), key=lambda e: e["event"]["start"]))


def mail(subject: str, sender: str, to: list[str], msgid: str, body: str = "Hello.\r\n") -> str:
    return (f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
            f"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n{body}")


def received(log: str, msgid: str) -> dict[str, Any]:
    """exim's `<=` line for the message with that Message-ID: sender, subject, recipients."""
    for line in log.splitlines():
        if " <= " in line and f" id={msgid.strip('<>')} " in line:  # exim logs it without <>
            sender = line.split(" <= ", 1)[1].split(" ", 1)[0]
            subject = re.search(r' T="([^"]*)"', line)
            recipients = line.split(" for ", 1)[1].split() if " for " in line else []
            return {"from": sender, "subject": subject.group(1) if subject else None, "to": recipients,
                    "message_id": msgid}
    raise AssertionError(f"exim logged no message {msgid}:\n{log}")


def refused(log: str) -> list[tuple[str, str]]:
    return re.findall(r"F=<([^>]*)> rejected RCPT <([^>]*)>", log)


def mails(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event"]["action"] == "mail"]


def test_two_recipients_one_refused_and_a_reset(exim: Exim) -> None:
    body_dots = "Line one.\r\n.A line that starts with a dot.\r\n..two dots\r\n"
    first = mail("Two recipients", "alice@mx.test", ["bob@mx.test", "carol@mx.test"], "<m1@client.test>", body_dots)
    second = mail("One refused", "dave@mx.test", ["erin@mx.test", "nobody@mx.test"], "<m2@client.test>")
    with capturing(exim.port) as events, smtplib.SMTP("127.0.0.1", exim.port, local_hostname="client.test") as s:
        assert s.sendmail("alice@mx.test", ["bob@mx.test", "carol@mx.test"], first) == {}
        answer = s.sendmail("dave@mx.test", ["erin@mx.test", "nobody@mx.test"], second)
        s.mail("frank@mx.test")
        s.rcpt("grace@mx.test")
        rset = s.rset()
        s.quit()
    log = exim.log()
    assert answer == {"nobody@mx.test": (550, b"no such user here")}
    assert ("dave@mx.test", "nobody@mx.test") in refused(log)
    got = mails(events)
    assert len(got) == 3, json.dumps(events, indent=1)
    one, two, reset = (e["smtp"] for e in got)
    server_one = received(log, "<m1@client.test>")
    assert (one["from"], sorted(one["to"]), one["subject"]) == (server_one["from"], sorted(server_one["to"]),
                                                              server_one["subject"])
    assert one["message_id"] == server_one["message_id"] and one.get("rejected") is None
    assert one["size"] == len(first.encode())  # smtplib sent it CRLF-terminated; the dots are unstuffed
    assert one["helo"] == "client.test" and "PIPELINING" in one["extensions"]
    assert one["reply"]["code"] == 250 and got[0]["event"]["outcome"] == "success" and got[0]["status"] == "OK"
    server_two = received(log, "<m2@client.test>")
    assert (two["from"], two["to"], two["subject"]) == (server_two["from"], server_two["to"], server_two["subject"])
    assert two["rejected"] == [{"address": "nobody@mx.test", "code": 550, "text": "no such user here"}]
    assert got[1]["event"]["outcome"] == "success"
    assert reset["from"] == "frank@mx.test" and reset["to"] == ["grace@mx.test"] and reset["end"] == "rset"
    assert "size" not in reset and rset[0] == 250
    assert got[2]["event"]["outcome"] == "failure" and got[2]["error"]["message"].startswith("mail transaction reset")
    assert [e["event"]["action"] for e in events] == ["mail", "mail", "mail"]


def test_pipelined_session(exim: Exim) -> None:
    text = mail("Pipelined", "pat@mx.test", ["quinn@mx.test"], "<m3@client.test>")
    with capturing(exim.port) as events, smtplib.SMTP("127.0.0.1", exim.port, local_hostname="client.test") as s:
        s.ehlo()
        assert s.has_extn("pipelining")
        # RFC 2920: the whole group in one write, then the replies in order.
        s.send("MAIL FROM:<pat@mx.test>\r\nRCPT TO:<quinn@mx.test>\r\nRCPT TO:<nobody@mx.test>\r\nDATA\r\n")
        replies = [s.getreply()[0] for _ in range(4)]
        stuffed = "".join("." + line if line.startswith(".") else line for line in text.splitlines(keepends=True))
        s.send(stuffed + ".\r\n")
        final = s.getreply()
        s.quit()
    assert replies == [250, 250, 550, 354] and final[0] == 250
    server = received(exim.log(), "<m3@client.test>")
    (event,) = mails(events)
    got = event["smtp"]
    assert (got["from"], got["to"], got["subject"]) == (server["from"], server["to"], server["subject"])
    assert got["pipelined"] is True and got["commands"] == ["MAIL", "RCPT", "RCPT", "DATA"]
    assert got["rejected"][0]["address"] == "nobody@mx.test" and got["rejected"][0]["code"] == 550
    assert [r["code"] for r in got["recipients"]] == replies[1:3]  # what exim answered each RCPT
    assert got["reply"]["code"] == final[0] and got["reply"]["text"] == final[1].decode()
    assert got["size"] == len(text.encode())


def test_starttls_session_stops_parsing_and_auth_failure_is_an_event(exim: Exim) -> None:
    text = mail("Encrypted", "tls@mx.test", ["una@mx.test"], "<m4@client.test>")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with capturing(exim.port) as events, smtplib.SMTP("127.0.0.1", exim.port, local_hostname="client.test") as s:
        s.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            s.login("user", "wrong-password")
        s.login("user", "secret")
        s.sendmail("auth@mx.test", ["vic@mx.test"], mail("Authenticated", "auth@mx.test", ["vic@mx.test"],
                                                         "<m5@client.test>"))
        s.starttls(context=context)
        s.ehlo()
        assert s.sendmail("tls@mx.test", ["una@mx.test"], text) == {}
        s.quit()
    log = exim.log()
    assert received(log, "<m4@client.test>")["from"] == "tls@mx.test"  # exim did get the encrypted mail
    assert [e["event"]["action"] for e in events] == ["auth", "mail", "starttls"]
    auth, authed, tls = events
    assert auth["smtp"]["auth"] == {"mechanism": "PLAIN", "success": False}
    assert auth["smtp"]["reply"]["code"] == failed.value.smtp_code == 535 and auth["event"]["outcome"] == "failure"
    assert authed["smtp"]["auth"] == {"mechanism": "PLAIN", "success": True}
    assert authed["smtp"]["from"] == received(log, "<m5@client.test>")["from"]
    assert tls["smtp"]["starttls"] is True and tls["smtp"]["reply"]["code"] == 220
    assert tls["event"]["outcome"] == "success"
    dumped = json.dumps(events)
    assert "secret" not in dumped and "wrong-password" not in dumped and "dXNlcg" not in dumped
    assert "Encrypted" not in dumped  # nothing of what went over TLS
