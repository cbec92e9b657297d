"""The hostile-SP catalogue as a whole (``CATALOGUE``: the baseline first,
then the cases of ``idp_cases``, ``idp_cases_profile`` and
``idp_cases_message``), and choosing among it by group or case id."""
from __future__ import annotations

from collections.abc import Iterable

from fedsim_harness.attack import (
    idp_cases,
    idp_cases_message,
    idp_cases_profile,
    selection,
)
from fedsim_harness.attack.idp_cases import BASELINE, GROUPS, IdpCase

__all__ = ["BASELINE", "CATALOGUE", "GROUPS", "select"]

CATALOGUE: tuple[IdpCase, ...] = selection.checked(
    (BASELINE, *idp_cases.CASES, *idp_cases_profile.CASES, *idp_cases_message.CASES), GROUPS)


def select(groups: Iterable[str] = (), ids: Iterable[str] = ()) -> tuple[IdpCase, ...]:
    """The cases of ``groups`` and ``ids`` (all when both are empty), the
    baseline always first. Unknown names: ValueError."""
    return selection.choose(CATALOGUE, BASELINE, GROUPS, groups, ids)
