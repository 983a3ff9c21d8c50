"""The compiled EncodedEvent base and batch (`_encoded_event.pxi`) make exactly the events the Python
definitions make: the same four fields, the same defaults, ids from the stamper in order."""

from __future__ import annotations

import itertools
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packetshipper import hotpath
from packetshipper.event import EVENT_ID_KEY
from packetshipper.outputs import encoded
from packetshipper.outputs.console import event_documents
from packetshipper.outputs.encoded import NO_FIELDS, EncodedEvent, _EventFields
from packetshipper.workers import channel

pytestmark = pytest.mark.skipif(encoded.compiled_events is None, reason="needs the compiled hot path")


def fields_of(event: object) -> tuple:
    return (event.doc, event.meta, event.fields, event.paths)  # type: ignore[attr-defined]


def test_the_compiled_base_sets_what_the_python_one_sets() -> None:
    assert issubclass(EncodedEvent, hotpath.compiled.EncodedEventFields)  # type: ignore[union-attr]
    for args in [(b"{}",), (b'{"a":1}', {"_id": "x"}), (b"{}", None, {"k": 1}, frozenset({"k"}))]:
        made, reference = EncodedEvent(*args), _EventFields(*args)
        assert fields_of(made) == fields_of(reference)
        assert made.paths is reference.paths or made.paths == reference.paths
    assert EncodedEvent(b"{}").paths is NO_FIELDS
    with pytest.raises(AttributeError):
        EncodedEvent(b"{}").extra = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("stamped", [False, True])
@pytest.mark.parametrize("routed", [None, {"host.name": "a"}])
def test_the_compiled_batch_is_the_comprehension(stamped: bool, routed: dict | None) -> None:
    docs = [b'{"n":%d}' % i for i in range(5)]
    paths = frozenset(routed or ())
    ids = itertools.count(7)
    next_id = (lambda: f"id-{next(ids)}") if stamped else None
    made = encoded.compiled_events(EncodedEvent, docs, routed, paths, next_id, EVENT_ID_KEY)  # type: ignore[misc]
    expected = [_EventFields(doc, {EVENT_ID_KEY: f"id-{7 + i}"} if stamped else None, routed, paths)
                for i, doc in enumerate(docs)]
    assert all(type(event) is EncodedEvent for event in made)
    assert [fields_of(e) for e in made] == [fields_of(e) for e in expected]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30))
def test_a_workers_batch_splits_into_the_documents_the_slices_give(docs: list[bytes]) -> None:
    message = channel.events_message(docs, None, None)
    assert channel.read_events(message) == (docs, None, None)  # split in C (hotpath.enabled)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hotpath, "enabled", False)
        assert channel.read_events(message) == (docs, None, None)


def test_a_batch_whose_lengths_overrun_it_is_a_value_error_in_c_too() -> None:
    with pytest.raises(ValueError):
        hotpath.compiled.split_documents(b"E{}", 1, array("I", [2, 1]))  # type: ignore[union-attr]


class _Publishers:
    """What event_documents asks of an output: the publisher's events as they are."""

    @staticmethod
    def encoded(events: list, dead: list, why: object) -> list:
        return events


def test_the_compiled_documents_are_those_of_the_python_path(monkeypatch: pytest.MonkeyPatch) -> None:
    events = [EncodedEvent(b'{"a":1}'), None, EncodedEvent(b'{"b":2}', {"_id": "x"}),
              _EventFields(b'{"c":3}'), EncodedEvent(b"{}", {"k": 1})]
    expected = [b'{"a":1}', None, b'{"b":2,"@metadata":{"_id":"x"}}', b'{"c":3}', b'{"@metadata":{"k":1}}']
    for enabled in (True, False):
        monkeypatch.setattr(hotpath, "enabled", enabled)
        assert event_documents(_Publishers(), events) == (expected, [])  # type: ignore[arg-type]
