"""The catalogue itself: size, ids, explanations, references, selection."""
from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from fedsim_harness.attack.catalogue import BASELINE, CATALOGUE, GROUPS, select
from fedsim_harness.attack.targets import Target


def test_the_catalogue_has_at_least_120_uniquely_named_cases() -> None:
    ids = [case.id for case in CATALOGUE]
    assert len(ids) >= 120
    assert len(set(ids)) == len(ids)


def test_every_case_explains_itself_and_cites_a_reference() -> None:
    for case in CATALOGUE:
        assert case.title.strip() and "\n" not in case.title, case.id
        assert case.reference.strip(), case.id
        assert case.group in GROUPS, case.id
        assert case.expect in ("refused", "login", "no_offsite"), case.id


def test_every_group_of_the_issue_has_cases() -> None:
    counts = Counter(case.group for case in CATALOGUE)
    assert set(counts) == set(GROUPS)
    assert counts["baseline"] == 1
    assert {f"xsw{n}" for n in range(1, 9)} <= {case.id for case in CATALOGUE}


def test_only_the_baselines_expect_a_login() -> None:
    """The catalogue's, and the encryption group's own."""
    assert [case.id for case in CATALOGUE if case.expect == "login"] == ["baseline", "encrypted-baseline"]
    assert CATALOGUE[0] is BASELINE


def test_the_encryption_group_covers_the_issue() -> None:
    ids = {case.id for case in CATALOGUE if case.group == "encryption"}
    assert {"encrypted-baseline", "encrypted-aes128-cbc", "encrypted-aes256-cbc", "encrypted-tripledes-cbc",
            "encrypted-key-rsa-1_5", "encrypted-assertion-unsigned", "encrypted-rogue-signed-victim",
            "encrypted-plain-victim-first", "encrypted-to-foreign-key", "encrypted-ciphertext-tampered",
            "encrypted-content-response-victim", "encrypted-content-nested-assertion-victim",
            "encrypted-plain-to-demanding-sp", "encrypted-content-doctype-victim",
            "encrypted-content-comment-victim"} <= ids


def test_encryption_cases_say_why_they_do_not_apply() -> None:
    """Against an SP without an encryption key only the foreign-key case
    runs (an SP must refuse what it cannot decrypt); against one that
    publishes a key but is not known to demand encryption, all run but the
    plain-assertion case."""
    plain = Target("https://sp.example/md", "cerbere", "https://sp.example/login", "https://sp.example/me")
    keyed = dataclasses.replace(plain, encryption_cert="MIIB")
    demanding = dataclasses.replace(keyed, demands_encryption=True)
    group = [case for case in CATALOGUE if case.group == "encryption"]
    runs = {name: {c.id for c in group if c.skip is None or not c.skip(target)}
            for name, target in (("plain", plain), ("keyed", keyed), ("demanding", demanding))}
    assert runs["plain"] == {"encrypted-to-foreign-key"}
    assert runs["keyed"] == {c.id for c in group} - {"encrypted-plain-to-demanding-sp"}
    assert runs["demanding"] == {c.id for c in group}
    assert "encryption key" in next(c for c in group if c.id == "encrypted-aes128-cbc").skip(plain)
    assert "not known to demand" in next(c for c in group if c.id == "encrypted-plain-to-demanding-sp").skip(keyed)


def test_selection_keeps_the_baseline_first() -> None:
    chosen = select(groups=["time"], ids=["xsw1"])
    assert chosen[0] is BASELINE
    assert {case.group for case in chosen[1:]} == {"time", "xsw"}
    assert select() == CATALOGUE


def test_selection_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="no-such-case"):
        select(ids=["no-such-case"])
