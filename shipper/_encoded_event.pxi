# outputs/encoded.EncodedEvent's fields, compiled (its base class with the compiled path), and the
# publisher's batch of them made in C: every event of a run is one, so its making was a Python call a
# document (about a quarter of a microsecond).

cdef object _no_fields = None  # encoded.NO_FIELDS and _EMPTY, once imported
cdef object _no_values = None


cdef int _encoded_defaults() except -1:
    global _no_fields, _no_values
    if _no_fields is None:  # imported here: encoded.py imports this module
        from packetshipper.outputs.encoded import _EMPTY, NO_FIELDS
        _no_fields, _no_values = NO_FIELDS, _EMPTY
    return 0


@cython.no_gc  # bytes, JSON values and frozensets of strings: no reference cycle runs through an event
cdef class EncodedEventFields:
    """doc, meta, fields, paths: what `EncodedEvent.__init__` sets, as it sets them."""

    cdef public object doc, meta, fields, paths

    def __init__(self, doc, meta=None, fields=None, paths=None):
        _encoded_defaults()
        self.doc = doc
        self.meta = meta
        self.fields = _no_values if fields is None else fields
        self.paths = _no_fields if paths is None else paths


def encoded_events(cls, docs, routed, paths, next_id, id_key) -> list:
    """[cls(doc, None if next_id is None else {id_key: next_id()}, routed, paths) for doc in docs], the
    events made without running `__init__` (`cls`: EncodedEvent)."""
    _encoded_defaults()
    cdef list out = []
    cdef EncodedEventFields event
    fields = _no_values if routed is None else routed
    for doc in docs:
        event = EncodedEventFields.__new__(cls)
        event.doc = doc
        event.meta = None if next_id is None else {id_key: next_id()}
        event.fields = fields
        event.paths = paths
        out.append(event)
    return out


def split_documents(bytes message, Py_ssize_t start, const unsigned int[::1] lengths) -> list:
    """The documents of a worker's `E` message (channel.read_events, which checked that `lengths` add up
    to the message from `start`): one bytes object each, made in C."""
    cdef list out = []
    cdef const char* data = message
    cdef Py_ssize_t i, at = start, size = len(message)
    for i in range(lengths.shape[0]):
        if at + <Py_ssize_t>lengths[i] > size:
            raise ValueError("the parts of an event batch do not add up")
        out.append(PyBytes_FromStringAndSize(data + at, lengths[i]))
        at += lengths[i]
    return out


def event_documents(list encoded, int option) -> list:
    """[None if e is None else e.doc if e.meta is None else e.document(option) for e in encoded]: the
    compact documents of a batch of EncodedEvents (outputs/console.py's event_documents)."""
    cdef list out = []
    for event in encoded:
        if event is None:
            out.append(None)
        elif isinstance(event, EncodedEventFields) and (<EncodedEventFields>event).meta is None:
            out.append((<EncodedEventFields>event).doc)
        elif event.meta is None:
            out.append(event.doc)
        else:
            out.append(event.document(option))
    return out
