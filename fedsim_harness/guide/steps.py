"""What the illustrated guide says (``data/steps.yaml`` beside this module: its
sections in the connection guide's order, a French title and explanation
per guide step) and where each step's screenshot comes from: the first
scenario step naming it, in the scenarios in the order ``steps.yaml``
prefers (then the others, alphabetically)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from fedsim_harness.scenario.model import Scenario

__all__ = [
    "GUIDE_IDS",
    "STEPS_FILE",
    "Book",
    "Capture",
    "GuideError",
    "GuideStep",
    "Section",
    "load_book",
    "parse_ids",
    "plan",
    "sources",
]

STEPS_FILE = Path(__file__).with_name("data") / "steps.yaml"  # data/*.yaml: shipped as package data
GUIDE_IDS = tuple(f"G{n:02d}" for n in range(1, 27))


class GuideError(ValueError):
    """The guide cannot be built as asked; the message says why."""


@dataclass(frozen=True)
class GuideStep:
    id: str
    title: str
    explanation: str
    mail: bool = False  # the picture is the e-mail in the mailbox, before its link is followed
    scenario: str = ""  # the scenario to take the picture from, when not the first one naming the step
    at: str = ""  # the scenario step (the start of its ``say``) after which the picture is taken
    reveal: bool = False  # the picture is taken before that step, its target's menu opened


@dataclass(frozen=True)
class Section:
    title: str
    steps: tuple[GuideStep, ...]


@dataclass(frozen=True)
class Book:
    title: str
    subtitle: str
    sections: tuple[Section, ...]
    scenario_order: tuple[str, ...]

    @property
    def steps(self) -> list[GuideStep]:
        return [step for section in self.sections for step in section.steps]

    def only(self, ids: Iterable[str]) -> Book:
        """The same book with only the guide steps ``ids`` (empty sections dropped)."""
        wanted = set(ids)
        sections = tuple(replace(s, steps=tuple(g for g in s.steps if g.id in wanted)) for s in self.sections)
        return replace(self, sections=tuple(s for s in sections if s.steps))


@dataclass(frozen=True)
class Capture:
    """Where a guide step's picture is taken: after step ``index`` (0-based)
    of ``scenario``, or, for an e-mail, just before it."""
    guide_id: str
    scenario: Scenario
    index: int
    mail: bool = False
    reveal: bool = False  # before step ``index``, with the menu holding its click target opened


def load_book(path: Path = STEPS_FILE) -> Book:
    """The guide's text; :class:`GuideError` when a step is missing, unknown or unexplained."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    explained = data.get("steps") or {}
    sections, placed = [], []
    for section in data.get("sections") or []:
        steps = []
        for guide_id in section["steps"]:
            spec = explained.get(guide_id) or {}
            if not str(spec.get("title", "")).strip() or not str(spec.get("explanation", "")).strip():
                raise GuideError(f"{path.name}: {guide_id} has no title or no explanation")
            steps.append(GuideStep(guide_id, spec["title"].strip(), " ".join(spec["explanation"].split()),
                                   bool(spec.get("mail", False)), str(spec.get("scenario", "")),
                                   str(spec.get("at", "")), bool(spec.get("reveal", False))))
            placed.append(guide_id)
        sections.append(Section(section["title"], tuple(steps)))
    if sorted(placed) != list(GUIDE_IDS):
        missing = sorted(set(GUIDE_IDS) - set(placed))
        twice = sorted({g for g in placed if placed.count(g) > 1})
        unknown = sorted(set(placed) - set(GUIDE_IDS))
        raise GuideError(f"{path.name}: the sections must place G01…G26 once each "
                         f"(missing {missing}, twice {twice}, unknown {unknown})")
    return Book(data["title"], data.get("subtitle", ""), tuple(sections), tuple(data.get("scenarios") or ()))


def parse_ids(text: str) -> list[str]:
    """``"G01,G02"`` or ``"G01-G05"`` (or both, comma-separated) as guide step ids."""
    ids: list[str] = []
    for part in filter(None, (p.strip().upper() for p in text.split(","))):
        found = re.fullmatch(r"(G\d\d)(?:\s*[-–]\s*(G\d\d))?", part)
        if not found or found.group(1) not in GUIDE_IDS or (found.group(2) or "G01") not in GUIDE_IDS:
            raise GuideError(f"« {part} » is not a guide step (G01…G26) nor a range like G01-G05")
        first, last = GUIDE_IDS.index(found.group(1)), GUIDE_IDS.index(found.group(2) or found.group(1))
        ids.extend(g for g in GUIDE_IDS[min(first, last):max(first, last) + 1] if g not in ids)
    return ids


def _ordered(book: Book, scenarios: Sequence[Scenario]) -> list[Scenario]:
    rank = {name: n for n, name in enumerate(book.scenario_order)}
    return sorted(scenarios, key=lambda s: (rank.get(s.name, len(rank)), s.name))


def sources(book: Book, scenarios: Sequence[Scenario]) -> dict[str, tuple[Scenario, int]]:
    """For each guide step some scenario names: (scenario, index of its first
    step naming it — or of the step ``at`` names), in the step's own
    ``scenario`` when it names one."""
    found: dict[str, tuple[Scenario, int]] = {}
    for scenario in _ordered(book, scenarios):
        for index, step in enumerate(scenario.steps):
            for guide_id in step.guide:
                found.setdefault(guide_id, (scenario, index))
    chosen = {s.name: s for s in scenarios}
    for guide_step in book.steps:
        if guide_step.scenario:
            scenario = chosen.get(guide_step.scenario)
            naming = [n for n, s in enumerate(scenario.steps) if guide_step.id in s.guide] if scenario else []
            if not naming:
                raise GuideError(f"{guide_step.id}: the scenario {guide_step.scenario!r} given in steps.yaml "
                                 f"is not there or has no step naming {guide_step.id}")
            found[guide_step.id] = (scenario, naming[0])
        if guide_step.at and guide_step.id in found:
            scenario = found[guide_step.id][0]
            naming = [n for n, s in enumerate(scenario.steps)
                      if guide_step.id in s.guide and s.say.startswith(guide_step.at)]
            if not naming:
                raise GuideError(f"{guide_step.id}: no step of the scenario {scenario.name} names "
                                 f"{guide_step.id} and says « {guide_step.at}… » (steps.yaml `at`)")
            found[guide_step.id] = (scenario, naming[0])
    return found


def plan(book: Book, scenarios: Sequence[Scenario]) -> list[Capture]:
    """One capture per guide step of ``book``; :class:`GuideError` naming the
    steps that no scenario covers."""
    found = sources(book, scenarios)
    uncovered = [g.id for g in book.steps if g.id not in found]
    if uncovered:
        raise GuideError(f"no scenario step names {', '.join(uncovered)}: no screenshot for them")
    return [Capture(g.id, *found[g.id], mail=g.mail, reveal=g.reveal) for g in book.steps]
