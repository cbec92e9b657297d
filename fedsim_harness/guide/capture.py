"""The guide's screenshots, taken in Chromium: each scenario the plan needs
runs (the federation reset first, a fresh browser context) only as far as
its last captured step, and the page is kept as a PNG (1280 px wide, whole
page) after each captured step — or, for an e-mail, the message in the
mailbox just before its link is followed."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from fedsim_harness.guide.steps import Capture, GuideError
from fedsim_harness.scenario.chromium import Chromium, ChromiumBrowser, ChromiumRunner
from fedsim_harness.scenario.model import Scenario, Step
from fedsim_harness.scenario.runner import Runner

__all__ = ["Shot", "take_shots"]

OnShot = Callable[[str], None]


@dataclass(frozen=True)
class Shot:
    guide_id: str
    png: bytes
    scenario: str  # the scenario's name
    say: str  # what the scenario step did
    url: str  # the page shown


class GuideRunner(ChromiumRunner):
    """The Chromium runner, plus, before each ``mail_link`` step listed in
    ``mail_at``, a picture of that e-mail as the mailbox shows it, and before
    each ``click`` step listed in ``reveal_at``, a picture of the page with
    the menu holding the click's target opened (the ⋮ menu of G13)."""

    def __init__(self, browser: ChromiumBrowser, urls: dict[str, str], mail_at: set[int],
                 reveal_at: set[int] = frozenset()) -> None:
        super().__init__(browser, urls)
        self.mail_at = mail_at
        self.reveal_at = reveal_at
        self.before_shots: dict[int, tuple[bytes, str]] = {}
        self._index = -1

    def _do(self, step: Step, persona) -> None:
        self._index += 1
        self._shoot()  # the page after the previous step, as ChromiumRunner does
        if self._index in self.mail_at and step.action == "mail_link":
            spec = {k: self._fill(v, persona) for k, v in dict(step.argument).items()}
            message = self._newest_mail(spec["to"], spec.get("subject", ""))
            url = self._url(f"mailbox:/messages/{message['id']}")
            self.browser.open(url)
            self.before_shots[self._index] = (self.browser.screenshot(), url)
        if self._index in self.reveal_at and step.action == "click":
            text, within = self._fill(step.argument, persona), self._fill(step.within, persona) if step.within else None
            self.browser.reveal(text, within)
            png = self.browser.screenshot(full_page=False)
            if not self.browser.shows(text, within):
                raise GuideError(f"the menu holding « {text} » closed before its picture was taken")
            self.before_shots[self._index] = (png, self.browser.page.url)
        Runner._do(self, step, persona)


def take_shots(captures: Sequence[Capture], served, chromium: Chromium,
               on_shot: OnShot | None = None) -> dict[str, Shot]:
    """The screenshot of each capture, by guide step id; :class:`GuideError`
    when a scenario fails (the screens no longer match it: the guide would be wrong)."""
    by_scenario: dict[str, list[Capture]] = {}
    for capture in captures:
        by_scenario.setdefault(capture.scenario.name, []).append(capture)
    shots: dict[str, Shot] = {}
    for wanted in by_scenario.values():
        scenario = wanted[0].scenario
        last = max(c.index for c in wanted)
        result, before_shots = _run(replace(scenario, steps=scenario.steps[:last + 1]), served, chromium,
                                    {c.index for c in wanted if c.mail}, {c.index for c in wanted if c.reveal})
        for capture in wanted:
            step = result.steps[capture.index]
            before = (capture.mail or capture.reveal) and before_shots.get(capture.index)
            png, url = before or (step.screenshot, step.url)
            if not png:
                raise GuideError(f"{capture.guide_id}: no screenshot after « {step.step.say} » "
                                 f"(scenario {scenario.name}, step {capture.index + 1})")
            shots[capture.guide_id] = Shot(capture.guide_id, png, scenario.name, step.step.say, url)
            if on_shot is not None:
                on_shot(capture.guide_id)
    return shots


def _run(scenario: Scenario, served, chromium: Chromium, mail_at: set[int], reveal_at: set[int]):
    started = time.perf_counter()
    served.reset()
    browser = chromium.new_browser(trace=False)
    try:
        runner = GuideRunner(browser, dict(served.urls), mail_at, reveal_at)
        result = runner.run(scenario)
    finally:
        browser.close(None)
    if not result.ok:
        raise GuideError(f"the scenario {scenario.name} failed after {time.perf_counter() - started:.1f} s, "
                         f"so its screens are not the guide's: {result.describe_failure()}")
    return result, runner.before_shots

