"""benchmarks/locustfile.py under Locust, headless, for a few seconds,
against a federation served here (benchmarks/load_federation.py) with a few
synthetic citizens: no failure, and each journey (first login, returning
user, SSO only) ran — alone, then as a master and two workers (who must
never take the same person: a second first login of one person fails)."""
from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fedsim_harness.serve import free_ports

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
LOCUST = Path(sys.executable).with_name("locust")
PEOPLE = 60
JOURNEYS = ("first-login", "returning", "sso-only")


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("load_federation", BENCHMARKS / "load_federation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    served = module.start(tmp_path_factory.mktemp("load"), PEOPLE, free_ports=True)
    try:
        yield {**os.environ, **module.environment(served, PEOPLE)}
    finally:
        served.stop()


def locust(env: dict[str, str], *options: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([str(LOCUST), "-f", str(BENCHMARKS / "locustfile.py"), *options], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def ended(process: subprocess.Popen, timeout: float) -> str:
    """What ``process`` printed, once it has ended (killed after ``timeout`` seconds)."""
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0] + f"\n(killed after {timeout} s)"


def headless(seconds: int) -> list[str]:
    return ["--headless", "-u", "3", "-r", "3", "-t", f"{seconds}s", "--only-summary", "--exit-code-on-error", "1",
            "--stop-timeout", "10", "--csv", "run"]  # journeys under way at the end finish


def outcome(master: subprocess.Popen, cwd: Path) -> dict[str, dict[str, str]]:
    """The run's statistics by « type name » (Locust's CSV), once it ended with 0."""
    output = ended(master, 60)
    print(output)
    assert master.returncode == 0, output[-3000:]
    with open(cwd / "run_stats.csv", encoding="utf-8") as fh:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(fh)}


def assert_every_journey_ran_without_failure(stats: dict[str, dict[str, str]]) -> None:
    assert stats["Aggregated"]["Failure Count"] == "0", stats["Aggregated"]
    for journey in JOURNEYS:
        assert int(stats[f"JOURNEY {journey}"]["Request Count"]) >= 1, sorted(stats)
    assert int(stats["GET first-login 05 mailbox API: activation e-mail"]["Request Count"]) >= 1


@pytest.mark.skipif(not LOCUST.exists(), reason="Locust is not installed (pip install -e '.[test]')")
def test_a_short_headless_run_has_no_failure(federation, tmp_path: Path):
    started = time.perf_counter()
    stats = outcome(locust(federation, *headless(7), cwd=tmp_path), tmp_path)
    assert_every_journey_ran_without_failure(stats)
    assert time.perf_counter() - started < 25


@pytest.mark.skipif(not LOCUST.exists(), reason="Locust is not installed (pip install -e '.[test]')")
def test_a_master_and_two_workers_share_the_people_out(federation, tmp_path: Path):
    port = str(free_ports(1, 5600, 5999)[0])
    master = locust(federation, "--master", "--master-bind-port", port, "--expect-workers", "2",
                    "--expect-workers-max-wait", "20", *headless(7), cwd=tmp_path)
    workers = [locust(federation, "--worker", "--master-port", port, cwd=tmp_path) for _ in range(2)]
    try:
        stats = outcome(master, tmp_path)
    finally:
        for worker in workers:
            ended(worker, 30)
    assert_every_journey_ran_without_failure(stats)
