"""Fixtures shared by every kind of test: a whole federation in-process
(fresh keys, databases and mail sink under tmp_path) and a scripted browser."""
from __future__ import annotations

from pathlib import Path

import pytest

from fedsim_harness.scenario import model
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.scenario.runner import Runner
from fedsim_harness.stack import Federation, start_in_process

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture
def federation(tmp_path: Path):
    fed = start_in_process(tmp_path)
    yield fed
    fed.close()


@pytest.fixture
def browser(federation: Federation) -> Browser:
    return Browser(WsgiTransport(federation.wsgi_by_netloc()))


@pytest.fixture
def run_scenario(federation: Federation, browser: Browser):
    """Run a scenario from scenarios/ in this test's federation and browser."""
    def run(name: str):
        result = Runner(browser, federation.urls).run(model.find(SCENARIOS, name))
        assert result.ok, result.describe_failure()
        return result
    return run
