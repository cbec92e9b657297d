"""The scenario format: YAML files in ``scenarios/``. Each step names the
guide step it covers (G01…G26), does one action and states what the page
must then show. See scenarios/README.md.

A file is checked against the schema (``fedsim_harness.scenario.schema``)
before anything runs; the dataclasses below, which the runner reads, are
built from the validated model."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from fedsim_harness.scenario import schema
from fedsim_harness.scenario.schema import ACTIONS, GUIDE_ID

__all__ = ["ACTIONS", "GUIDE_ID", "Scenario", "ScenarioError", "Step", "find", "load", "load_all"]


class ScenarioError(ValueError):
    """The scenario file itself is wrong."""


@dataclass(frozen=True)
class Step:
    guide: tuple[str, ...]
    say: str
    action: str
    argument: object
    within: str | None = None
    button: str | None = None
    repeat: bool = False  # click again and again while the link or button is there
    expect: tuple[str, ...] = ()
    expect_url: str | None = None
    expect_status: int | None = None
    remember: tuple[tuple[str, str], ...] = ()  # (name, regex): saved from the page for later steps


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    persona: str  # "" for a journey of someone who is not a persona (they type literal values)
    steps: tuple[Step, ...]
    path: Path | None = None

    @property
    def guide_steps(self) -> list[str]:
        return sorted({g for s in self.steps for g in s.guide})


def _step(spec: schema.StepSpec) -> Step:
    argument = getattr(spec, spec.action)
    if isinstance(argument, BaseModel):  # mail_link, mail_code, totp, oidc_*: the mapping as written
        argument = argument.model_dump(exclude_none=True)
    elif isinstance(argument, dict):
        argument = dict(argument)
    return Step(guide=spec.guide, say=spec.say, action=spec.action, argument=argument,
                within=spec.within, button=spec.button, repeat=spec.repeat, expect=spec.expect,
                expect_url=spec.expect_url, expect_status=spec.expect_status,
                remember=tuple(spec.remember.items()))


def load(path: Path) -> Scenario:
    """The scenario of the file ``path``; :class:`ScenarioError` listing every
    problem of the file (``file:line:column: message``, one a line) when it
    is not valid."""
    spec, problems = schema.check(path)
    if problems or spec is None:
        raise ScenarioError("\n".join(str(p) for p in problems))
    return Scenario(name=spec.name or path.stem, title=spec.title, persona=spec.persona or "",
                    steps=tuple(_step(s) for s in spec.steps), path=path)


def find(directory: Path, name: str) -> Scenario:
    path = directory / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise ScenarioError(f"no scenario {name!r} in {directory} (known: {known})")
    return load(path)


def load_all(directory: Path) -> list[Scenario]:
    return [load(p) for p in sorted(directory.glob("*.yaml"))]
