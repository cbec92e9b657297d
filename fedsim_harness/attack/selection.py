"""What both catalogues (hostile IdP, hostile SP) do with their cases:
check them once (unique ids, known groups), and choose among them by group
or case id, the baseline always first."""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Protocol, TypeVar


class _Case(Protocol):
    id: str
    group: str


C = TypeVar("C", bound=_Case)


def checked(cases: Sequence[C], groups: Collection[str]) -> tuple[C, ...]:
    """``cases`` as a tuple; ValueError on a duplicate id or an unknown group."""
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate case id {case.id}")
        if case.group not in groups:
            raise ValueError(f"case {case.id}: unknown group {case.group}")
        seen.add(case.id)
    return tuple(cases)


def choose(every: Sequence[C], baseline: C, group_names: Collection[str], groups: Iterable[str] = (),
           ids: Iterable[str] = ()) -> tuple[C, ...]:
    """The cases of ``groups`` and ``ids`` (all when both are empty), in
    catalogue order, the baseline always first. Unknown names: ValueError."""
    groups, ids = set(groups), set(ids)
    unknown = (groups - set(group_names)) | (ids - {c.id for c in every})
    if unknown:
        raise ValueError(f"unknown group or case: {', '.join(sorted(unknown))}")
    chosen = [c for c in every if (not groups and not ids) or c.group in groups or c.id in ids]
    return (baseline, *[c for c in chosen if c is not baseline])
