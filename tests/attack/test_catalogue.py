"""The catalogue itself: size, ids, explanations, references, selection."""
from __future__ import annotations

from collections import Counter

import pytest

from fedsim_harness.attack.catalogue import BASELINE, CATALOGUE, GROUPS, select


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


def test_only_the_baseline_expects_a_login() -> None:
    assert [case for case in CATALOGUE if case.expect == "login"] == [BASELINE]


def test_selection_keeps_the_baseline_first() -> None:
    chosen = select(groups=["time"], ids=["xsw1"])
    assert chosen[0] is BASELINE
    assert {case.group for case in chosen[1:]} == {"time", "xsw"}
    assert select() == CATALOGUE


def test_selection_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="no-such-case"):
        select(ids=["no-such-case"])
