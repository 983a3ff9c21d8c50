"""A model of an LRU cache for the tests of the modules' caches: what one of `size` entries forgets over a
sequence of keys, worked out with an OrderedDict (not with functools.lru_cache, which the modules use)."""

from __future__ import annotations

from collections import OrderedDict


def lru_evictions(keys: list[str], size: int) -> int:
    kept: OrderedDict[str, None] = OrderedDict()
    forgotten = 0
    for key in keys:
        if key in kept:
            kept.move_to_end(key)
            continue
        kept[key] = None
        if len(kept) > size:
            kept.popitem(last=False)
            forgotten += 1
    return forgotten
