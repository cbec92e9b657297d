"""Levels of assurance in Mon Espace: the FAS order, whether a level meets a
RequestedAuthnContext, and what Cerbère asks CSAM for."""
from __future__ import annotations

import pytest

from monespace.identity import FAS_ORDER, LEVELS, satisfies, upstream_levels_for

L100, L200, L300, L400, L450, L500 = (f"urn:be:fedict:iam:fas:Level{n}" for n in (100, 200, 300, 400, 450, 500))
UNKNOWN = "urn:be:fedict:iam:fas:Level999"


def test_fas_order_weakest_first() -> None:
    assert FAS_ORDER == (L100, L200, L300, L400, L450, L500)


@pytest.mark.parametrize("level, requested, comparison, expected", [
    # no request: anything goes
    (L100, (), "exact", True),
    (L100, (), "minimum", True),
    # exact: one of the listed contexts, no more, no less
    (L500, (L500,), "exact", True),
    (L500, (L200,), "exact", False),
    (L500, (L200, L500), "exact", True),
    (L200, (L500,), "exact", False),
    (UNKNOWN, (UNKNOWN,), "exact", True),
    # minimum: at least as strong as one of them
    (L500, (L400,), "minimum", True),
    (L400, (L400,), "minimum", True),
    (L200, (L400,), "minimum", False),
    (L200, (L450, L200), "minimum", True),
    # better: strictly stronger than one of them
    (L400, (L400,), "better", False),
    (L450, (L400,), "better", True),
    (L500, (L500,), "better", False),
    # maximum: no stronger than one of them
    (L200, (L400,), "maximum", True),
    (L400, (L400,), "maximum", True),
    (L500, (L400,), "maximum", False),
    (L500, (L200, L500), "maximum", True),
    # contexts outside the FAS order cannot be compared
    (L500, (UNKNOWN,), "minimum", False),
    (L500, (UNKNOWN, L400), "minimum", True),
    (UNKNOWN, (L100,), "minimum", False),
    (L500, (UNKNOWN,), "maximum", False),
    # an unknown comparison never matches (fail closed)
    (L500, (L100,), "sideways", False),
])
def test_satisfies(level: str, requested: tuple[str, ...], comparison: str, expected: bool) -> None:
    assert satisfies(level, requested, comparison) is expected


def test_satisfies_defaults_to_exact_and_accepts_lists() -> None:
    assert satisfies(L400, [L400])
    assert not satisfies(L500, [L400])


def test_levels_map_every_fas_level() -> None:
    assert set(LEVELS) == set(FAS_ORDER)
    assert all(down in FAS_ORDER for down in LEVELS.values())


@pytest.mark.parametrize("requested, comparison, expected", [
    ((L400,), "minimum", (L400, L450, L500)),
    ((L500,), "exact", (L500,)),
    ((L200,), "exact", (L200,)),
    ((L400,), "better", (L450, L500)),
    ((L200,), "maximum", (L100, L200)),
    ((L500,), "better", ()),
    ((UNKNOWN,), "exact", ()),
    ((UNKNOWN,), "minimum", ()),
])
def test_upstream_levels_for(requested: tuple[str, ...], comparison: str, expected: tuple[str, ...]) -> None:
    assert upstream_levels_for(requested, comparison) == expected


def test_upstream_levels_follow_the_explicit_map(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Cerbère asks CSAM for is read through LEVELS, not assumed equal:
    with CSAM's Level450 asserted downstream as Level400, a downstream
    « exact Level400 » needs CSAM's Level400 or Level450."""
    monkeypatch.setitem(LEVELS, L450, L400)
    assert upstream_levels_for((L400,), "exact") == (L400, L450)
    assert upstream_levels_for((L450,), "exact") == ()
