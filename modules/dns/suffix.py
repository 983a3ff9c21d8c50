"""Registered domain and public suffix of a name, from the Public Suffix List (publicsuffix.org).

Reads the list in its published text form (Debian/Ubuntu package `publicsuffix` installs it at
`DEFAULT_LIST_PATH`). Matching follows the list's algorithm: the longest matching rule wins, an
exception rule (`!`) beats a wildcard (`*.`), and a name no rule matches has its last label as suffix.
"""

from __future__ import annotations

import functools

from packetshipper.records import record

__all__ = ["DEFAULT_LIST_PATH", "SuffixList", "DomainParts", "load_suffix_list"]

DEFAULT_LIST_PATH = "/usr/share/publicsuffix/public_suffix_list.dat"


@record
class DomainParts:
    registered_domain: str  # public suffix plus one label (Packetbeat's etld_plus_one)
    top_level_domain: str  # the public suffix
    subdomain: str  # what is left of the registered domain; "" if nothing


class SuffixList:
    __slots__ = ("_rules", "_wildcards", "_exceptions", "_tails")

    def __init__(self, text: str) -> None:
        rules: set[str] = set()
        wildcards: set[str] = set()
        exceptions: set[str] = set()
        for line in text.splitlines():
            rule = line.strip().split(" ", 1)[0].lower()
            if not rule or rule.startswith("//"):
                continue
            if rule.startswith("!"):
                exceptions.add(rule[1:])
            elif rule.startswith("*."):
                wildcards.add(rule[2:])
            else:
                rules.add(rule)
        self._rules = frozenset(rules)
        self._wildcards = frozenset(wildcards)
        self._exceptions = frozenset(exceptions)
        # Every entry's trailing labels (`co.uk`: `uk` and `co.uk`): a candidate outside this set is no
        # entry's tail, so no longer candidate can match, and the search stops there.
        self._tails = frozenset(
            ".".join(labels[start:]) for labels in (entry.split(".") for entry in rules | wildcards | exceptions)
            for start in range(len(labels))
        )

    def __len__(self) -> int:
        return len(self._rules) + len(self._wildcards) + len(self._exceptions)

    def suffix_labels(self, labels: list[str]) -> int:
        """How many trailing labels of the lowercase `labels` form the public suffix: the longest match wins.

        Candidates grow leftwards from the last label; at one length an exception beats a rule, and a
        rule beats a wildcard. A name no entry matches has its last label as suffix.
        """
        count = len(labels)
        found = 1
        candidate = ""
        for length in range(1, count + 1):
            parent = candidate
            label = labels[count - length]
            candidate = f"{label}.{parent}" if parent else label
            if candidate in self._exceptions:
                found = length - 1
            elif candidate in self._rules or (parent and parent in self._wildcards):
                found = length
            if candidate not in self._tails:
                break
        return found

    def split(self, name: str) -> DomainParts | None:
        """Parts of `name` (no trailing dot), or None if it has no label left over its public suffix."""
        labels = name.split(".")
        if len(labels) < 2 or "" in labels:
            return None
        # Lower-cased label by label: on the whole name, str.lower's final-sigma rule would see across dots.
        if name.isascii():
            lowered = labels if name.islower() else name.lower().split(".")
        else:
            lowered = [label.lower() for label in labels]
        suffix_count = self.suffix_labels(lowered)
        if suffix_count >= len(labels):
            return None
        registered = labels[-(suffix_count + 1) :]
        # registered_domain, top_level_domain, subdomain (positional: this runs once per DNS event)
        return DomainParts(".".join(registered), ".".join(registered[1:]), ".".join(labels[: -(suffix_count + 1)]))


@functools.lru_cache(maxsize=4)
def load_suffix_list(path: str) -> SuffixList:
    """Load and cache the list at `path`; raises OSError if it cannot be read."""
    with open(path, encoding="utf-8") as handle:
        return SuffixList(handle.read())
