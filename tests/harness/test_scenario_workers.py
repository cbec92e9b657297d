"""Many scenarios: worker processes with one federation each, and runs
against the servers of `fedsim up` with a reset before each scenario."""
from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path

import pytest
from click.testing import CliRunner

from fedsim import personas
from fedsim.federation import Settings
from fedsim_harness.cli import cli
from fedsim_harness.scenario import model, parallel
from fedsim_harness.scenario.chromium import free_ports
from fedsim_harness.serve import ServedFederation

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
QUICK = ["eidas-france-not-recognised", "help-centre-foreign-national", "teacher-chooses-citoyen", "search-naid",
         "eid-card-blocked-and-puk", "lost-activation-email", "logout-from-monespace", "eidas-netherlands"]
# Each would fail a second time on the same federation without a reset: a
# first login creates the account, the PUK changes the PIN, codes are mailed.
STATEFUL = ["eid-first-login", "eid-card-blocked-and-puk", "cancel-activation", "email-code-login",
            "lost-activation-email", "modigia-course-progress"]
PORT_NAMES = ("monespace_port", "csam_port", "modigia_port", "mailbox_port", "smtp_port")


def port_env(settings: Settings) -> dict[str, str]:
    return {f"FEDSIM_{name.upper()}": str(getattr(settings, name)) for name in PORT_NAMES}


def test_two_jobs_run_in_two_processes_and_report_every_scenario(tmp_path: Path):
    scenarios = [model.find(SCENARIOS, name) for name in QUICK]
    seen = []
    results = parallel.run_in_process(scenarios, 2, seen.append, root=tmp_path)
    assert [r.scenario.name for r in results] == QUICK  # in the order given
    assert sorted(r.scenario.name for r in seen) == sorted(QUICK)  # each reported as it finished
    assert all(r.ok for r in results), [r.cause for r in results if not r.ok]
    assert len(list(tmp_path.glob("worker-*"))) == 2  # two processes, each with its own federation


def test_a_crash_in_a_worker_is_that_scenario_s_failure(tmp_path: Path):
    home = model.Step(guide=("G01",), say="", action="open", argument="monespace:/")
    crashing = [  # as the runner could get them without the checks of loading a file
        model.Scenario("unknown-persona", "", "zed", (home,)),
        model.Scenario("bad-regex", "", "naima", (dataclasses.replace(home, remember=(("x", "(unclosed"),)),)),
        model.Scenario("wrong-type", "", "naima", (home, model.Step(("G02",), "", "submit", 42))),
    ]
    good = [model.find(SCENARIOS, name) for name in ("search-naid", "eid-card-blocked-and-puk")]
    results = parallel.run_in_process([good[0], *crashing, good[1]], 2, root=tmp_path)
    assert [r.headline() if not r.ok else r.headline().split(" (")[0] for r in results] == [
        "PASS search-naid",
        "FAIL unknown-persona: unknown persona 'zed' (known: " + ", ".join(p.id for p in personas.load()) + ")",
        "FAIL bad-regex: step 1 (G01): invalid regular expression '(unclosed': missing ), unterminated subpattern",
        "FAIL wrong-type: step 2 (G02): the scenario crashed: TypeError: 'int' object is not iterable",
        "PASS eid-card-blocked-and-puk"]


def test_workers_start_without_fork_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A threaded parent (pytest with servers running, say) does not fork its workers."""
    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context("spawn"))
    scenarios = [model.find(SCENARIOS, name) for name in ("search-naid", "eid-card-blocked-and-puk")]
    results = parallel.run_in_process(scenarios, 2, root=tmp_path)
    assert all(r.ok for r in results), [r.cause for r in results if not r.ok]


@pytest.fixture
def served(tmp_path: Path):
    settings = dataclasses.replace(Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance",
                                   **dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)))))
    federation = ServedFederation(settings).start()
    yield federation
    federation.stop()


def verdicts(output: str) -> list[str]:
    """« PASS name » / « FAIL name: cause » lines, without timings."""
    return [line.split(" (")[0] if line.startswith("PASS ") else line
            for line in output.splitlines() if line.startswith(("PASS ", "FAIL "))]


def test_running_twice_against_one_federation_gives_the_same_results(served: ServedFederation):
    env = port_env(served.settings)
    first = CliRunner().invoke(cli, ["scenario", "run", "--running", *STATEFUL], env=env)
    second = CliRunner().invoke(cli, ["scenario", "run", "--running", *STATEFUL], env=env)
    assert first.exit_code == 0, first.output
    assert verdicts(first.output) == verdicts(second.output) == [f"PASS {name}" for name in STATEFUL]
    assert second.exit_code == 0


def test_running_without_a_federation_says_so_in_one_line(tmp_path: Path):
    settings = dataclasses.replace(Settings(), **dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)))))
    result = CliRunner().invoke(cli, ["scenario", "run", "--running", "search-naid", "eid-first-login"],
                                env=port_env(settings))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    mailbox = f"http://localhost:{settings.mailbox_port}"
    assert result.output.strip().splitlines() == [
        f"No federation is running at {mailbox} — start one with `fedsim up` (or `fedsim up --detach`)."]
