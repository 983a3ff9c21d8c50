"""The compiled EncodedEvent base and batch (`_encoded_event.pxi`) make exactly the events the Python
definitions make: the same four fields, the same defaults, ids from the stamper in order."""

from __future__ import annotations

import itertools

import pytest
from packetshipper import hotpath
from packetshipper.event import EVENT_ID_KEY
from packetshipper.outputs import encoded
from packetshipper.outputs.encoded import NO_FIELDS, EncodedEvent, _EventFields

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
