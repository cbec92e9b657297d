"""Browser mode without a browser: a missing Chromium is one clear line,
before anything runs; browser results cross process boundaries."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from fedsim_harness.scenario import model
from fedsim_harness.scenario.browser import SamlMessage
from fedsim_harness.scenario.chromium import (BrowserScenarioResult, BrowserStepResult, ChromiumUnavailable,
                                              chromium_path, free_ports, run_in_chromium)


def test_a_missing_chromium_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ChromiumUnavailable) as caught:
        chromium_path({"FEDSIM_CHROMIUM": str(tmp_path / "nowhere" / "chromium")})
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "nowhere" / "chromium") in message
    assert "FEDSIM_CHROMIUM" in message and "apt-get install chromium" in message

    monkeypatch.setenv("FEDSIM_CHROMIUM", str(tmp_path / "missing"))

    class NoFederation:  # never touched: the check comes first
        urls: dict = {}

        def reset(self) -> float:
            raise AssertionError("nothing may run without Chromium")

    scenario = model.Scenario(name="any", title="", persona="", steps=())
    with pytest.raises(ChromiumUnavailable):
        run_in_chromium([scenario], NoFederation(), artifacts_dir=tmp_path)


def test_browser_results_are_picklable() -> None:
    step = model.Step(guide=("G01",), say="Accueil", action="open", argument="monespace:/")
    scenario = model.Scenario(name="s", title="t", persona="", steps=(step,))
    message = SamlMessage("SAMLRequest", "u", "x", "raw", "q")
    result = BrowserScenarioResult(scenario, [BrowserStepResult(1, step, True, 1.0, saml=[message],
                                                                screenshot=b"\x89PNG")], trace="t.zip")
    again = pickle.loads(pickle.dumps(result))
    assert again == result and again.ok and again.steps[0].screenshot == b"\x89PNG"


def test_free_ports_stay_in_their_range() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5 and all(5000 <= p <= 5999 and p not in (5060, 5061) for p in ports)
