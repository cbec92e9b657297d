"""The scenario format: YAML files in ``scenarios/``. Each step names the
guide step it covers (G01…G26), does one action and states what the page
must then show. See scenarios/README.md."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

GUIDE_ID = re.compile(r"^G(0[1-9]|1[0-9]|2[0-6])$")
ACTIONS = ("open", "click", "submit", "mail_link", "totp", "mail_code", "advance_clock")


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


def _step(raw: dict, where: str) -> Step:
    guide = raw.get("guide")
    guide = tuple(guide if isinstance(guide, list) else [guide]) if guide else ()
    if not guide or not all(isinstance(g, str) and GUIDE_ID.match(g) for g in guide):
        raise ScenarioError(f"{where}: 'guide' must name guide steps G01…G26, got {raw.get('guide')!r}")
    actions = [a for a in ACTIONS if a in raw]
    if len(actions) != 1:
        raise ScenarioError(f"{where}: exactly one action among {', '.join(ACTIONS)} is needed, got {actions}")
    if actions[0] == "totp" and not (isinstance(raw["totp"], dict) and raw["totp"].get("field")):
        raise ScenarioError(f"{where}: 'totp' needs {{field: …, secret_from_page: regex}}")
    expect = raw.get("expect", [])
    expect = tuple([expect] if isinstance(expect, str) else expect)
    remember = raw.get("remember", {})
    if not isinstance(remember, dict) or not all(isinstance(v, str) for v in remember.values()):
        raise ScenarioError(f"{where}: 'remember' maps names to regular expressions, got {remember!r}")
    if actions[0] == "mail_code" and not {"to", "field", "pattern"} <= set(dict(raw["mail_code"])):
        raise ScenarioError(f"{where}: 'mail_code' needs 'to', 'field' and 'pattern'")
    return Step(guide=guide, say=raw.get("say", ""), action=actions[0], argument=raw[actions[0]],
                within=raw.get("within"), button=raw.get("button"), repeat=bool(raw.get("repeat")), expect=expect,
                expect_url=raw.get("expect_url"), expect_status=raw.get("expect_status"),
                remember=tuple(remember.items()))


def load(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list):
        raise ScenarioError(f"{path}: a scenario has 'name', 'persona' (optional) and a list of 'steps'")
    steps = tuple(_step(s, f"{path.name} step {i}") for i, s in enumerate(raw["steps"], 1))
    return Scenario(name=raw.get("name", path.stem), title=raw.get("title", ""),
                    persona=raw.get("persona") or "", steps=steps, path=path)


def find(directory: Path, name: str) -> Scenario:
    path = directory / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise ScenarioError(f"no scenario {name!r} in {directory} (known: {known})")
    return load(path)


def load_all(directory: Path) -> list[Scenario]:
    return [load(p) for p in sorted(directory.glob("*.yaml"))]
