"""Registered domain / public suffix split, with the Public Suffix List's matching rules."""

from __future__ import annotations

import pytest
from packetshipper.modules.dns.suffix import DEFAULT_LIST_PATH, DomainParts, SuffixList, load_suffix_list

# A small list in the published format: comments, a normal rule, a wildcard and its exception.
RULES = """
// ===BEGIN ICANN DOMAINS===
com
uk
co.uk
// wildcard and exception, as the list has for .ck
*.ck
!www.ck
jp
kyoto.jp
*.kobe.jp
!city.kobe.jp
"""


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("example.com", DomainParts("example.com", "com", "")),
        ("www.example.com", DomainParts("example.com", "com", "www")),
        ("a.b.example.co.uk", DomainParts("example.co.uk", "co.uk", "a.b")),
        ("example.uk", DomainParts("example.uk", "uk", "")),
        ("test.ck", None),  # *.ck makes test.ck a suffix
        ("b.test.ck", DomainParts("b.test.ck", "test.ck", "")),
        ("www.ck", DomainParts("www.ck", "ck", "")),  # the exception wins over the wildcard
        ("www.www.ck", DomainParts("www.ck", "ck", "www")),
        ("c.kobe.jp", None),
        ("b.c.kobe.jp", DomainParts("b.c.kobe.jp", "c.kobe.jp", "")),
        ("city.kobe.jp", DomainParts("city.kobe.jp", "kobe.jp", "")),
        ("www.city.kobe.jp", DomainParts("city.kobe.jp", "kobe.jp", "www")),
        ("example.unlisted", DomainParts("example.unlisted", "unlisted", "")),  # default rule `*`
        ("WWW.Example.COM", DomainParts("Example.COM", "COM", "WWW")),  # matched case-blind, case kept
        ("com", None),
        ("co.uk", None),
        ("a..com", None),
        ("", None),
    ],
)
def test_split(name: str, parts: DomainParts | None) -> None:
    assert SuffixList(RULES).split(name) == parts


def test_rules_ignore_comments_and_text_after_the_rule() -> None:
    suffixes = SuffixList("// comment\nnet extra words\n\n")
    assert len(suffixes) == 1
    assert suffixes.split("a.b.net") == DomainParts("b.net", "net", "a")


def test_installed_list_knows_multi_label_suffixes() -> None:
    suffixes = load_suffix_list(DEFAULT_LIST_PATH)
    assert len(suffixes) > 5000
    assert suffixes.split("www.bbc.co.uk") == DomainParts("bbc.co.uk", "co.uk", "www")
    assert suffixes.split("nothing.elastic.co") == DomainParts("elastic.co", "co", "nothing")
