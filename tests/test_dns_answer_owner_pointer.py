"""An answer whose owner name is a compression pointer to the question (offset 12, RFC 1035 4.1.4) gets the
question's name, whatever the question's own form: plain, escaped, or itself compressed into the header."""

from __future__ import annotations

import struct

import dns_wire as w
import pytest
from packetshipper.modules.dns.parser import parse_message
from packetshipper.modules.dns.wire import DnsProtocolError

TO_QUESTION = b"\xc0\x0c"  # a pointer to offset 12: where the first question starts


def _answer(owner: bytes, address: str = "192.0.2.1") -> bytes:
    rdata = w.a(address)
    return owner + struct.pack("!HHIH", w.A, w.IN, 300, len(rdata)) + rdata


def _response(ident: int, question: bytes, *answers: bytes) -> bytes:
    return w.message(ident, w.flags(qr=True, rd=True, ra=True), [question], list(answers))


@pytest.mark.parametrize("trailing", [b"", b"\x00\x00"])
def test_a_pointer_to_a_plain_question_names_the_answer_after_it(trailing: bytes) -> None:
    msg = parse_message(_response(7, w.question("www.example.com"), _answer(TO_QUESTION)) + trailing, 0.0)
    assert [r.name for r in msg.answers] == ["www.example.com."]
    assert msg.answers[0].data == "192.0.2.1"
    assert msg.trailing == len(trailing)


def test_answers_mixing_pointers_and_written_out_names_keep_each_their_own() -> None:
    msg = parse_message(_response(7, w.question("a.example"), _answer(TO_QUESTION, "192.0.2.1"),
                                  _answer(w.name("b.example"), "192.0.2.2"), _answer(b"\x01c" + TO_QUESTION)),
                        0.0)
    assert [r.name for r in msg.answers] == ["a.example.", "b.example.", "c.a.example."]


def test_a_pointer_to_a_question_with_escaped_characters_gives_the_same_escaped_text() -> None:
    question = w.raw_name(b"a.b", b"ex ample", b"com") + struct.pack("!HH", w.A, w.IN)
    msg = parse_message(_response(7, question, _answer(TO_QUESTION)), 0.0)
    assert msg.question is not None and msg.question.name == "a\\.b.ex\\ ample.com."
    assert msg.answers[0].name == "a\\.b.ex\\ ample.com."


def test_a_pointer_to_a_question_that_is_itself_a_pointer_follows_both() -> None:
    # Id 0x0100 and zero flags spell a name at offset 0: one label holding the byte 0, then the root.
    question = b"\xc0\x00" + struct.pack("!HH", w.A, w.IN)
    msg = parse_message(w.message(0x0100, 0, [question], [_answer(TO_QUESTION)]), 0.0)
    assert msg.question is not None and msg.question.name == "\\000."
    assert msg.answers[0].name == "\\000."


def test_a_pointer_to_the_root_question_names_the_root() -> None:
    msg = parse_message(_response(7, w.question("."), _answer(TO_QUESTION)), 0.0)
    assert [r.name for r in msg.answers] == ["."]


def test_a_pointer_cut_off_by_the_end_of_the_message_is_an_error() -> None:
    data = _response(7, w.question("www.example.com"), _answer(TO_QUESTION))
    cut = data[: len(data) - len(_answer(TO_QUESTION)) + 1]  # the answer's first byte only
    with pytest.raises(DnsProtocolError, match="answer 0 name: compression pointer cut short"):
        parse_message(cut, 0.0)


def test_additional_records_pointing_to_the_question_are_named_after_it() -> None:
    response = w.message(7, w.flags(qr=True), [w.question("ns.example")], [], [], [_answer(TO_QUESTION)])
    msg = parse_message(response, 0.0)
    assert [r.name for r in msg.additionals] == ["ns.example."]
