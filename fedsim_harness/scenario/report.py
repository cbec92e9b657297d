"""Reports of scenario runs: readable text, and JUnit XML for CI."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from fedsim_harness.scenario.runner import ScenarioResult


def text(results: list[ScenarioResult]) -> str:
    lines = []
    for result in results:
        mark = "OK " if result.ok else "ÉCHEC"
        lines.append(f"{mark} {result.scenario.name} ({result.ms:.0f} ms) — {result.scenario.title}")
        for step in result.steps:
            sign = "  ✓" if step.ok else "  ✗"
            lines.append(f"{sign} {step.index:2} {','.join(step.step.guide):12} {step.step.say or step.step.action}"
                         f" ({step.ms:.0f} ms)")
        if not result.ok:
            lines.append("    " + result.describe_failure().replace("\n", "\n    "))
    passed = sum(r.ok for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)


def write_junit(results: list[ScenarioResult], path: Path) -> None:
    suite = ET.Element("testsuite", name="fedsim-scenarios", tests=str(len(results)),
                       failures=str(sum(not r.ok for r in results)))
    for result in results:
        case = ET.SubElement(suite, "testcase", classname="scenarios", name=result.scenario.name,
                             time=f"{result.ms / 1000:.3f}")
        if not result.ok:
            failure = ET.SubElement(case, "failure", message=result.failure.error if result.failure else "failed")
            failure.text = result.describe_failure()
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
