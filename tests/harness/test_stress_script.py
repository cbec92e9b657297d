"""benchmarks/stress_journeys.py keeps working: 3 complete journeys, 3 at
once, of 3 synthetic citizens, on a federation it serves on free ports."""
from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import pytest

from fedsim import nrn

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "stress_journeys.py"


@pytest.fixture(scope="module")
def stress():
    spec = importlib.util.spec_from_file_location("stress_journeys", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_synthetic_people_are_distinct_citizens_with_cards(stress):
    people = stress.synthetic_people(400)
    assert len({p.nrn for p in people}) == len({p.card.number for p in people}) == len({p.full_name for p in people}) \
        == len({p.email for p in people}) == 400
    assert all(nrn.is_valid(p.nrn) for p in people)


def test_three_concurrent_journeys_without_error_or_crossed_identity(stress, tmp_path: Path):
    started = time.perf_counter()
    people = stress.synthetic_people(3)
    with stress.served_federation(tmp_path, people) as federation:
        report = stress.run_stress(federation.urls, people, journeys=3, concurrency=3, r_ms=0.25)
    print("\n".join(report.lines()))
    assert (report.errors, report.crossed, report.done) == (0, 0, 3), report.lines()
    assert report.http_5xx == report.locked_in_responses == report.locked_in_logs == 0
    assert time.perf_counter() - started < 15


def test_a_profile_of_someone_else_counts_as_crossed(stress):
    from fedsim_harness.scenario.browser import Page

    alice, bob = stress.synthetic_people(2)
    body = (f"<html><body><h1>Mon profil</h1><dl class='profile'><dt>Nom</dt><dd>{bob.full_name}</dd>"
            f"<dt>E-mail</dt><dd>{bob.email}</dd></dl></body></html>")
    page = Page("http://modigia/profil", 200, {"Content-Type": "text/html"}, body)
    assert stress.identity_shown(page, bob) == ""
    assert bob.full_name in stress.identity_shown(page, alice)
