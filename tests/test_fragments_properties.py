"""Properties of fragment reassembly: any split, order and duplication of a datagram gives it back;
any sequence of fragments stays within the limits and is counted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import pcapgen as g
from packetshipper.decode.decoder import LINK_ETHERNET, Decoder
from packetshipper.decode.fragments import FragmentReassembler

KEY = (4, b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", 77, 17)


@st.composite
def split_datagram(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, bool, bytes]]]:
    """A datagram and its fragments (offset, more, data): cut at random multiples of 8, shuffled, with
    some fragments sent twice."""
    datagram = draw(st.binary(min_size=1, max_size=3000))
    cuts = sorted(draw(st.sets(st.integers(1, (len(datagram) - 1) // 8), max_size=12))) if len(datagram) > 8 else []
    bounds = [0] + [c * 8 for c in cuts] + [len(datagram)]
    pieces = [(bounds[i], bounds[i + 1] < len(datagram), datagram[bounds[i] : bounds[i + 1]])
              for i in range(len(bounds) - 1)]
    pieces += draw(st.lists(st.sampled_from(pieces), max_size=3))  # duplicates
    return datagram, draw(st.permutations(pieces))


@settings(max_examples=300, deadline=None)
@given(split_datagram())
def test_any_split_order_and_duplication_gives_the_datagram_back_once(
        case: tuple[bytes, list[tuple[int, bool, bytes]]]) -> None:
    datagram, pieces = case
    r = FragmentReassembler()
    results = [r.add(KEY, offset, more, data, 1.0) for offset, more, data in pieces]
    completed = [result for result in results if result is not None]
    assert completed[0] == datagram
    # Duplicates of pieces that arrive after completion start a new datagram that never completes
    # (unless the duplicate is a whole datagram by itself).
    assert all(result == datagram for result in completed)
    assert r.reassembled == len(completed)


@settings(max_examples=150, deadline=None)
@given(split_datagram())
def test_the_decoder_reassembles_any_split_of_a_udp_datagram(
        case: tuple[bytes, list[tuple[int, bool, bytes]]]) -> None:
    body, pieces = case
    udp = g.udp("10.0.0.1", "10.0.0.2", 5000, 53, body)
    # Shift each piece by the 8-byte UDP header: the header travels in the first fragment.
    shifted = [(0, True, udp[:8])]
    shifted += [(offset + 8, more, data) for offset, more, data in pieces]
    decoder = Decoder(LINK_ETHERNET)
    results = []
    for offset, more, data in shifted:
        flags = (0x2000 if more else 0) | offset // 8
        frame = g.ethernet(g.ipv4("10.0.0.1", "10.0.0.2", 17, data, ident=77, flags_fragment=flags))
        results.append(decoder.decode(frame, 0, len(frame), len(frame), 1.0))
    done = [d for d in results if d is not None]
    assert done and done[0].payload == body and done[0].sport == 5000
    assert decoder.decoded + decoder.fragments_pending == len(shifted)


fragment_calls = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 70000), st.booleans(), st.binary(max_size=64),
              st.floats(0, 100, allow_nan=False)),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(fragment_calls)
def test_arbitrary_fragments_never_raise_and_stay_within_the_limits(
        calls: list[tuple[int, int, bool, bytes, float]]) -> None:
    r = FragmentReassembler(max_datagrams=2, max_fragments=4, max_datagram_bytes=1000, timeout=10.0)
    for ident, offset, more, data, ts in calls:
        result = r.add((4, b"a" * 4, b"b" * 4, ident, 17), offset, more, data, ts)
        assert result is None or len(result) <= 1000
        assert len(r) <= 2
    stats = r.stats()
    assert stats["fragments"] == len(calls)
