"""Fixtures shared by every kind of test. ``federation`` is the pytest
plugin's (fedsim_harness.pytest_plugin): the whole federation in-process,
built once per test session and reset before each test — keys, databases
and mail sink under a temporary folder. Tests that need a federation built
another way (other settings, registered SPs) define their own."""
from __future__ import annotations

from pathlib import Path

import pytest

from fedsim_harness.scenario import model
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.scenario.runner import Runner
from fedsim_harness.stack import Federation

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


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
