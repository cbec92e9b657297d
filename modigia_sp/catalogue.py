"""Site policies and courses, read from YAML."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class PolicyDocument:
    code: str
    title: str
    version: str
    date: str
    pages: tuple[str, ...]


@dataclass(frozen=True)
class Lesson:
    code: str
    title: str
    body: str
    minutes: int = 0  # estimated time to read it; 0: not said


@dataclass(frozen=True)
class Module:
    title: str
    lessons: tuple[Lesson, ...]


@dataclass(frozen=True)
class Course:
    code: str
    title: str
    summary: str
    modules: tuple[Module, ...]
    demarche: str | None = None

    @property
    def lessons(self) -> tuple[Lesson, ...]:
        return tuple(lesson for module in self.modules for lesson in module.lessons)

    def lesson(self, code: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.code == code), None)


def load_policies(path: Path | None = None) -> tuple[PolicyDocument, ...]:
    with open(path or DATA / "policies.yaml", encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return tuple(PolicyDocument(d["code"], d["title"], str(d["version"]), str(d["date"]), tuple(d["pages"]))
                 for d in raw["documents"])


def load_courses(path: Path | None = None) -> tuple[Course, ...]:
    with open(path or DATA / "courses.yaml", encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return tuple(Course(c["code"], c["title"], c["summary"],
                        tuple(Module(m["title"], tuple(Lesson(**lesson) for lesson in m["lessons"]))
                              for m in c["modules"]),
                        c.get("demarche")) for c in raw["courses"])
