"""Property tests: only ProtocolError escapes the RPC record reader, random splits of valid streams
give the same messages, and every transaction they make is an event that fits the schema."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper.event import transaction_event
from packetshipper.fields import validate_event
from packetshipper.modules.nfs import MODULE
from packetshipper.modules.nfs import wire as w
from packetshipper.modules.nfs.record import RecordParser
from packetshipper.protocol import COMMON_SETTINGS, Connection, Direction, Endpoint, ProtocolError
from packetshipper.settings import validate

CONN = Connection("tcp", 6, Endpoint("2001:db8::1", 700), Endpoint("2001:db8::2", 2049))
xids = st.integers(0, 2**32 - 1)
names = st.text(alphabet="abcdefghij.-", max_size=20)
creds = st.one_of(st.none(), st.builds(lambda m, u, g, gs: w.unix_cred(m, u, g, gs), names, xids, xids,
                                       st.lists(xids, max_size=16)))
v4_ops = st.lists(st.sampled_from([
    w.op(53, w.sequence_args()), w.op(22, w.putfh_args(b"fh")), w.op(9, w.getattr_args(1, 2)), w.op(10),
    w.op(15, w.lookup_args("x")), w.op(32), w.op(24), w.op(26, w.readdir_args()), w.op(4, w.close_args()),
    w.op(65, b"\0" * 8), w.op(10044)]), max_size=6)
calls = st.one_of(
    st.builds(lambda x, p, c, n: w.call(x, 3, p, w.v3_lookup_args(b"fh", n), cred=c), xids, st.integers(0, 30),
              creds, names),
    st.builds(lambda x, ops, t, m, c: w.call(x, 4, 1, w.compound_args(ops, tag=t, minor_version=m), cred=c),
              xids, v4_ops, names, st.integers(0, 2), creds),
    st.builds(lambda x: w.call(x, 4, 0), xids),
    st.builds(lambda x, p: w.call(x, 3, 1, program=p), xids, st.sampled_from([100227, 0x40000000])),
)
replies = st.one_of(
    st.builds(lambda x, s: w.accepted_reply(x, 0, w.u32(s)), xids, st.sampled_from([0, 2, 10004, 70, 12345])),
    st.builds(lambda x, a: w.accepted_reply(x, a), xids, st.integers(0, 9)),
    st.builds(lambda x, r: w.denied_reply(x, r), xids, st.integers(0, 1)),
)
streams = st.lists(st.tuples(st.one_of(calls, replies), st.integers(1, 3)), min_size=1, max_size=6)


def read(chunks: list[bytes], keep: int = 65536) -> list[Any]:
    parser = RecordParser(keep, lambda *a: None)
    out: list[Any] = []
    for chunk in chunks:
        out += parser.receive_data(chunk, 1.0)
    return out


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 40))
def test_arbitrary_bytes_raise_nothing_but_protocol_error(data: bytes, step: int) -> None:
    with contextlib.suppress(ProtocolError):
        read([data[i : i + step] for i in range(0, len(data), step)])


@settings(max_examples=200, deadline=None)
@given(streams, st.lists(st.integers(1, 97), min_size=1, max_size=30))
def test_random_splits_give_the_same_messages(messages: list[tuple[bytes, int]], cuts: list[int]) -> None:
    stream = b"".join(w.record(m, fragments=f) for m, f in messages)
    whole = read([stream])
    assert len(whole) == len(messages)
    chunks, pos, i = [], 0, 0
    while pos < len(stream):
        size = cuts[i % len(cuts)]
        chunks.append(stream[pos : pos + size])
        pos, i = pos + size, i + 1
    assert read(chunks) == whole
    assert read(chunks, keep=256) == [m for m in read([stream], keep=256)]


@settings(max_examples=200, deadline=None)
@given(st.lists(calls, min_size=1, max_size=5), st.lists(replies, max_size=5), xids)
def test_every_transaction_is_a_valid_event(call_list: list[bytes], reply_list: list[bytes], shift: int) -> None:
    module = MODULE(validate({**COMMON_SETTINGS, **MODULE.settings}, {"type": "nfs", "max_pending_calls": 3}))
    correlator = module.correlator(CONN)
    txns = []
    for call in call_list:
        for m in read([w.record(call)]):
            txns += correlator.on_message(Direction.REQUEST, m, 1.0)
    # answer some of the calls (same xid) and send some replies nobody asked for
    answers = [w.accepted_reply(int.from_bytes(c[:4], "big"), 0, w.u32(0)) for c in call_list[::2]] + reply_list
    for reply in answers:
        for m in read([w.record(reply)]):
            txns += correlator.on_message(Direction.RESPONSE, m, 2.0)
    txns += correlator.close(3.0)
    for txn in txns:
        assert validate_event(transaction_event("nfs", txn, module.event_fields(txn))) == []
