"""SMTP sessions through the parsers and the correlator: which events a conversation makes and what
they say. Expected values are read off the conversations (RFC 5321 semantics); each conversation is
also fed one byte at a time and must give the same events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from smtp_wire import EHLO_REPLY, GREETING, C, Harness, S, cmd, message, message_size, reply, run

HEADERS = [("From", "Alice <alice@x.example>"), ("To", "bob@y.example, carol@y.example"),
           ("Cc", "dan@y.example"), ("Subject", "Quarterly report"), ("Date", "Tue, 1 Dec 2026 10:00:00 +0000"),
           ("Message-ID", "<q4@x.example>")]
BODY = "Numbers attached.\r\n.\r\n..\r\n"
HELLO = [(S, GREETING), (C, cmd("EHLO client.example")), (S, EHLO_REPLY)]


def events(conversation: list[tuple[bool, bytes]], **options: Any) -> list[dict[str, Any]]:
    whole = run(conversation, **options)
    byte_by_byte = run(conversation, split=1, **options)

    def timeless(e: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in e.items() if k not in ("@timestamp", "event")} | {
            "action": e["event"]["action"], "outcome": e["event"].get("outcome")}

    assert [timeless(e) for e in byte_by_byte] == [timeless(e) for e in whole]
    return whole


def mail(sender: str, recipients: list[tuple[str, int]], *, data: int = 354, final: int = 250,
         headers: list[tuple[str, str]] = HEADERS, body: str = BODY) -> list[tuple[bool, bytes]]:
    out = [(C, cmd(f"MAIL FROM:<{sender}>")), (S, reply(250, "OK"))]
    for address, code in recipients:
        out += [(C, cmd(f"RCPT TO:<{address}>")), (S, reply(code, "Accepted" if code < 400 else "No such user"))]
    out += [(C, cmd("DATA")), (S, reply(data, "Go ahead" if data == 354 else "No valid recipients"))]
    if data == 354:
        out += [(C, message(headers, body)), (S, reply(final, "OK queued as 1" if final < 400 else "Rejected"))]
    return out


def test_a_mail_to_two_recipients() -> None:
    (e,) = events(HELLO + mail("alice@x.example", [("bob@y.example", 250), ("carol@y.example", 251)])
                  + [(C, cmd("QUIT")), (S, reply(221, "bye"))])
    smtp = e["smtp"]
    assert smtp["from"] == "alice@x.example" and smtp["to"] == ["bob@y.example", "carol@y.example"]
    assert smtp["subject"] == "Quarterly report" and smtp["message_id"] == "<q4@x.example>"
    assert smtp["headers"] == {"from": "Alice <alice@x.example>", "to": "bob@y.example, carol@y.example",
                               "cc": "dan@y.example", "date": "Tue, 1 Dec 2026 10:00:00 +0000"}
    assert smtp["size"] == message_size(HEADERS, BODY)
    assert smtp["mail"] == {"code": 250, "text": "OK"} and smtp["data"] == {"code": 354, "text": "Go ahead"}
    assert smtp["reply"] == {"code": 250, "text": "OK queued as 1"} and smtp["end"] == "data"
    assert smtp["greeting"] == {"code": 220, "text": "mx.example ESMTP ready"} and smtp["helo"] == "client.example"
    assert smtp["extensions"] == ["SIZE 52428800", "8BITMIME", "PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS", "HELP"]
    assert smtp["commands"] == ["MAIL", "RCPT", "RCPT", "DATA"] and smtp["pipelined"] is False
    assert (e["status"], e["event"]["outcome"], e["event"]["action"], e["method"]) == ("OK", "success", "mail", "MAIL")
    assert "rejected" not in smtp and "error" not in e
    sent = sum(len(d) for side, d in HELLO[1:] + mail("alice@x.example", [("bob@y.example", 250),
                                                                          ("carol@y.example", 251)]) if side == C)
    assert e["source"]["bytes"] == sent - len(cmd("EHLO client.example"))


def test_a_refused_recipient_is_listed_with_its_code() -> None:
    (e,) = events(HELLO + mail("a@x", [("b@y", 250), ("nobody@y", 550), ("c@y", 452)]))
    assert e["smtp"]["to"] == ["b@y"]
    assert e["smtp"]["rejected"] == [{"address": "nobody@y", "code": 550, "text": "No such user"},
                                     {"address": "c@y", "code": 452, "text": "No such user"}]
    assert e["smtp"]["recipients"] == [{"address": "b@y", "code": 250}, {"address": "nobody@y", "code": 550},
                                       {"address": "c@y", "code": 452}]
    assert e["event"]["outcome"] == "success"


def test_all_recipients_refused_and_data_refused() -> None:
    (e,) = events(HELLO + mail("a@x", [("nobody@y", 550)], data=554) + [(C, cmd("RSET")), (S, reply(250, "Reset"))])
    smtp = e["smtp"]
    assert smtp["to"] == [] and smtp["data"]["code"] == 554 and smtp["reply"]["code"] == 554
    assert smtp["end"] == "rset" and "size" not in smtp
    assert e["status"] == "Error" and e["event"]["outcome"] == "failure"
    assert e["error"]["message"] == "554 No valid recipients"


def test_a_message_refused_after_data() -> None:
    (e,) = events(HELLO + mail("a@x", [("b@y", 250)], final=550))
    assert e["smtp"]["reply"] == {"code": 550, "text": "Rejected"} and e["event"]["outcome"] == "failure"
    assert e["smtp"]["size"] == message_size(HEADERS, BODY)


def test_rset_in_the_middle_of_a_transaction_ends_it() -> None:
    conversation = HELLO + [(C, cmd("MAIL FROM:<a@x>")), (S, reply(250, "OK")), (C, cmd("RCPT TO:<b@y>")),
                            (S, reply(250, "OK")), (C, cmd("NOOP")), (S, reply(250, "OK")), (C, cmd("RSET")),
                            (S, reply(250, "Reset OK"))] + mail("c@x", [("d@y", 250)])
    first, second = events(conversation)
    assert first["smtp"]["from"] == "a@x" and first["smtp"]["to"] == ["b@y"] and first["smtp"]["end"] == "rset"
    assert first["smtp"]["commands"] == ["MAIL", "RCPT", "NOOP", "RSET"] and "reply" not in first["smtp"]
    assert first["event"]["outcome"] == "failure" and first["error"]["message"].startswith("mail transaction reset")
    assert second["smtp"]["from"] == "c@x" and second["event"]["outcome"] == "success"


def test_pipelined_commands_pair_with_their_replies_in_order() -> None:
    group = cmd("MAIL FROM:<p@x>") + cmd("RCPT TO:<a@y>") + cmd("RCPT TO:<nobody@y>") + cmd("RCPT TO:<b@y>") \
        + cmd("DATA")
    replies = reply(250, "Sender OK") + reply(250, "a OK") + reply(550, "unknown") + reply(250, "b OK") \
        + reply(354, "Go")
    (e,) = events(HELLO + [(C, group), (S, replies), (C, message(HEADERS, BODY)), (S, reply(250, "Queued")),
                           (C, cmd("QUIT")), (S, reply(221, "Bye"))])
    smtp = e["smtp"]
    assert smtp["pipelined"] is True and smtp["to"] == ["a@y", "b@y"]
    assert smtp["rejected"] == [{"address": "nobody@y", "code": 550, "text": "unknown"}]
    assert smtp["mail"]["text"] == "Sender OK" and smtp["data"]["text"] == "Go" and smtp["reply"]["text"] == "Queued"


def test_a_refused_sender_makes_a_failed_transaction_and_the_next_one_starts_fresh() -> None:
    first, second = events(HELLO + [(C, cmd("MAIL FROM:<spam@x>")), (S, reply(550, "Sender refused"))]
                           + mail("ok@x", [("b@y", 250)]))
    assert first["smtp"]["from"] == "spam@x" and first["smtp"]["mail"]["code"] == 550
    assert first["smtp"]["end"] == "mail" and first["error"]["message"] == "550 Sender refused"
    assert second["smtp"]["from"] == "ok@x" and second["event"]["outcome"] == "success"


def test_a_nested_mail_refused_does_not_end_the_transaction() -> None:
    (e,) = events(HELLO + [(C, cmd("MAIL FROM:<a@x>")), (S, reply(250, "OK")), (C, cmd("MAIL FROM:<b@x>")),
                           (S, reply(503, "nested MAIL command")), (C, cmd("RCPT TO:<c@y>")), (S, reply(250, "OK")),
                           (C, cmd("DATA")), (S, reply(354, "go")), (C, message(HEADERS, BODY)), (S, reply(250, "OK"))])
    assert e["smtp"]["from"] == "a@x" and e["smtp"]["commands"] == ["MAIL", "MAIL", "RCPT", "DATA"]


def test_null_sender_and_mail_parameters() -> None:
    (e,) = events(HELLO + [(C, cmd("MAIL FROM:<> SIZE=1000 BODY=8BITMIME")), (S, reply(250, "OK")),
                           (C, cmd("RCPT TO:<@relay.example:b@y> NOTIFY=NEVER")), (S, reply(250, "OK")),
                           (C, cmd("QUIT")), (S, reply(221, "bye"))])
    assert e["smtp"]["from"] == "" and e["smtp"]["mail_parameters"] == ["SIZE=1000", "BODY=8BITMIME"]
    assert e["smtp"]["to"] == ["b@y"] and e["smtp"]["end"] == "quit" and e["event"]["outcome"] == "failure"


def test_a_multi_line_final_reply() -> None:
    conversation = HELLO + mail("a@x", [("b@y", 250)])[:-1] + [(S, reply(250, "Queued", "as ABC123"))]
    (e,) = events(conversation)
    assert e["smtp"]["reply"] == {"code": 250, "text": "Queued\nas ABC123"}


def test_starttls_accepted_stops_parsing_and_marks_an_event() -> None:
    tls_bytes = b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(range(200))
    h = Harness()
    for side, data in HELLO + [(C, cmd("STARTTLS")), (S, reply(220, "2.0.0 Ready to start TLS")), (C, tls_bytes),
                               (S, b"\x16\x03\x03" + bytes(300)), (C, b"\x17\x03\x03" + cmd("MAIL FROM:<x@y>")),
                               (S, reply(250, "OK"))]:
        h.feed(side, data)
    h.close()
    (e,) = h.events()
    assert h.errors == 0 and e["event"]["action"] == "starttls" and e["smtp"]["starttls"] is True
    assert e["smtp"]["reply"]["code"] == 220 and e["event"]["outcome"] == "success" and e["method"] == "STARTTLS"
    assert e["smtp"]["helo"] == "client.example" and "STARTTLS" in e["smtp"]["extensions"]


def test_starttls_refused_goes_on_in_the_clear() -> None:
    tls, mailed = events(HELLO + [(C, cmd("STARTTLS")), (S, reply(454, "TLS not available"))]
                         + mail("a@x", [("b@y", 250)]))
    assert tls["smtp"]["starttls"] is False and tls["event"]["outcome"] == "failure"
    assert tls["error"]["message"] == "454 TLS not available"
    assert mailed["smtp"]["from"] == "a@x" and mailed["event"]["outcome"] == "success"


def test_starttls_inside_a_transaction_ends_it_first() -> None:
    mailed, tls = events(HELLO + [(C, cmd("MAIL FROM:<a@x>")), (S, reply(250, "OK")), (C, cmd("STARTTLS")),
                                  (S, reply(220, "go"))])
    assert mailed["smtp"]["end"] == "starttls" and tls["event"]["action"] == "starttls"


def test_auth_login_keeps_no_credentials_and_a_failure_is_an_event() -> None:
    secret = "c2VjcmV0LXBhc3N3b3Jk"
    conversation = HELLO + [(C, cmd("AUTH LOGIN")), (S, reply(334, "VXNlcm5hbWU6")), (C, cmd("dXNlcg==")),
                            (S, reply(334, "UGFzc3dvcmQ6")), (C, cmd(secret)), (S, reply(535, "Authentication failed")),
                            (C, cmd("AUTH PLAIN " + secret)), (S, reply(235, "Authenticated"))] \
        + mail("a@x", [("b@y", 250)])
    failed, mailed = events(conversation, send_request=True, send_response=True)
    assert failed["event"]["action"] == "auth" and failed["smtp"]["auth"] == {"mechanism": "LOGIN", "success": False}
    assert failed["error"]["message"] == "535 Authentication failed" and failed["event"]["outcome"] == "failure"
    assert failed["source"]["bytes"] == len(cmd("AUTH LOGIN")) + len(cmd("dXNlcg==")) + len(cmd(secret))
    assert mailed["smtp"]["auth"] == {"mechanism": "PLAIN", "success": True}
    assert secret not in json.dumps([failed, mailed]) and "dXNlcg" not in json.dumps([failed, mailed])


def test_a_refused_greeting_is_an_event() -> None:
    (e,) = events([(S, reply(554, "mx.example no SMTP service here")), (C, cmd("QUIT")), (S, reply(221, "bye"))])
    assert e["event"]["action"] == "greeting" and e["smtp"]["greeting"]["code"] == 554
    assert e["status"] == "Error" and e["error"]["message"] == "554 mx.example no SMTP service here"


def test_a_session_without_mail_makes_no_event() -> None:
    assert events(HELLO + [(C, cmd("NOOP")), (S, reply(250, "OK")), (C, cmd("VRFY bob")),
                           (S, reply(252, "Cannot VRFY user")), (C, cmd("QUIT")), (S, reply(221, "bye"))]) == []


def test_a_connection_closed_mid_transaction() -> None:
    (e,) = events(HELLO + [(C, cmd("MAIL FROM:<a@x>")), (S, reply(250, "OK")), (C, cmd("RCPT TO:<b@y>"))])
    assert e["smtp"]["end"] == "close" and e["smtp"]["to"] == [] and e["event"]["outcome"] == "failure"


def test_a_new_ehlo_abandons_the_transaction() -> None:
    (e,) = events(HELLO + [(C, cmd("MAIL FROM:<a@x>")), (S, reply(250, "OK")), (C, cmd("EHLO again")),
                           (S, reply(250, "hi"))])
    assert e["smtp"]["end"] == "helo"


def test_early_talker_before_the_greeting() -> None:
    """PIPECONNECT-style: EHLO sent before the greeting arrives; the first 220 is still the greeting."""
    (e,) = events([(C, cmd("EHLO fast.example")), (S, GREETING + EHLO_REPLY)] + mail("a@x", [("b@y", 250)]))
    assert e["smtp"]["greeting"]["code"] == 220 and e["smtp"]["helo"] == "fast.example"


def test_bdat_transaction() -> None:
    chunk1, chunk2 = b"Subject: chunks\r\n\r\nfirst ", b"second\r\n"
    (e,) = events(HELLO + [(C, cmd("MAIL FROM:<a@x>")), (S, reply(250, "OK")), (C, cmd("RCPT TO:<b@y>")),
                           (S, reply(250, "OK")), (C, f"BDAT {len(chunk1)}\r\n".encode() + chunk1),
                           (S, reply(250, "chunk OK")), (C, f"BDAT {len(chunk2)} LAST\r\n".encode() + chunk2),
                           (S, reply(250, "Queued"))])
    assert e["smtp"]["size"] == len(chunk1) + len(chunk2) and e["smtp"]["subject"] == "chunks"
    assert e["smtp"]["commands"] == ["MAIL", "RCPT", "BDAT", "BDAT"] and e["event"]["outcome"] == "success"


def test_send_request_and_response() -> None:
    (e,) = events(HELLO + mail("a@x", [("b@y", 250)]), send_request=True, send_response=True)
    assert e["request"] == "MAIL FROM:<a@x>\nRCPT TO:<b@y>\nDATA"
    assert e["response"] == "250 OK\n250 Accepted\n354 Go ahead\n250 OK queued as 1"


def test_recipients_over_max_recipients_are_counted_and_noted() -> None:
    h = Harness(max_recipients=2)
    for side, data in HELLO + mail("a@x", [(f"r{i}@y", 250) for i in range(5)]):
        h.feed(side, data)
    (e,) = h.events()
    assert e["smtp"]["to"] == ["r0@y", "r1@y"] and e["notes"] == ["3 recipients over max_recipients not listed"]
    assert h.module.stats == {"recipients_dropped": 3}


def test_pending_commands_over_max_pending_are_evicted() -> None:
    h = Harness(max_pending=3)
    for side, data in HELLO + [(C, cmd("NOOP") * 5)]:
        h.feed(side, data)
    assert h.module.stats == {"commands_evicted": 2}
    h.close()
    assert h.module.stats == {"commands_evicted": 2, "unanswered_commands": 3}


def test_expiry_publishes_a_transaction_waiting_for_a_reply() -> None:
    h = Harness()
    for side, data in HELLO + [(C, cmd("MAIL FROM:<a@x>")), (S, reply(250, "OK")), (C, cmd("RCPT TO:<b@y>"))]:
        h.feed(side, data)
    assert h.correlator.expire(h.ts + 5) == []
    (txn,) = h.correlator.expire(h.ts + 11)
    assert txn.request.end == "timeout" and txn.error == "no reply within transaction_timeout"


def test_a_message_over_max_message_size_is_noted() -> None:
    h = Harness(max_message_size=100)
    for side, data in HELLO + mail("a@x", [("b@y", 250)], body="x" * 200):
        h.feed(side, data)
    (e,) = h.events()
    assert e["smtp"]["size"] == message_size(HEADERS, "x" * 200) and "over max_message_size" in e["notes"][0]


@pytest.mark.parametrize("garbage", [b"\x00\xff\xfe\r\n", b"HELLO WORLD" * 500])
def test_garbage_from_the_server_is_a_protocol_error_then_parsing_resumes(garbage: bytes) -> None:
    h = Harness()
    for side, data in [*HELLO, (S, garbage)] + mail("a@x", [("b@y", 250)]):
        h.feed(side, data)
    (e,) = h.events()
    assert h.errors >= 1 and e["event"]["outcome"] == "success"


def test_implicit_tls_as_on_port_465_is_counted_not_an_error() -> None:
    h = Harness()
    h.feed(C, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(160))
    h.feed(S, b"\x16\x03\x03\x00\x5a\x02\x00\x00\x56\x03\x03" + bytes(80))
    h.feed(C, b"\x17\x03\x03\x00\x20" + bytes(32))
    assert h.close() == [] and h.errors == 0 and h.module.stats == {"implicit_tls": 1}


def test_describe_for_the_debug_line() -> None:
    h = Harness()
    for side, data in HELLO + mail("a@x", [("b@y", 250), ("c@y", 550)]) + [(C, cmd("AUTH PLAIN")),
                                                                       (S, reply(504, "unrecognized"))]:
        h.feed(side, data)
    mailed, auth = (h.module.describe(t) for t in h.close())
    assert mailed == f"MAIL <a@x> -> 1 accepted, 1 rejected, {message_size(HEADERS, BODY)} bytes, ended by data: " \
        "250 OK queued as 1"
    assert auth == "AUTH PLAIN -> 504 unrecognized"
