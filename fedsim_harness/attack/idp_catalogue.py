"""The hostile-SP catalogue as a whole (``CATALOGUE``: the baseline first,
then the cases of ``idp_cases``, ``idp_cases_profile`` and
``idp_cases_message``), and choosing among it by group or case id."""
from __future__ import annotations

from collections.abc import Iterable

from fedsim_harness.attack import idp_cases, idp_cases_message, idp_cases_profile
from fedsim_harness.attack.idp_cases import BASELINE, GROUPS, IdpCase

__all__ = ["BASELINE", "CATALOGUE", "GROUPS", "select"]


def _all() -> tuple[IdpCase, ...]:
    cases = (BASELINE, *idp_cases.CASES, *idp_cases_profile.CASES, *idp_cases_message.CASES)
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate case id {case.id}")
        if case.group not in GROUPS:
            raise ValueError(f"case {case.id}: unknown group {case.group}")
        seen.add(case.id)
    return cases


CATALOGUE: tuple[IdpCase, ...] = _all()


def select(groups: Iterable[str] = (), ids: Iterable[str] = ()) -> tuple[IdpCase, ...]:
    """The cases of ``groups`` and ``ids`` (all when both are empty), the
    baseline always first. Unknown names: ValueError."""
    groups, ids = set(groups), set(ids)
    unknown = (groups - set(GROUPS)) | (ids - {c.id for c in CATALOGUE})
    if unknown:
        raise ValueError(f"unknown group or case: {', '.join(sorted(unknown))}")
    chosen = [c for c in CATALOGUE if (not groups and not ids) or c.group in groups or c.id in ids]
    return (BASELINE, *[c for c in chosen if c is not BASELINE])
