"""The YAML scenarios in a real Chromium (Debian's, through Playwright),
against a federation served on real ports (``fedsim_harness.serve``).

``Runner(ChromiumBrowser(...), urls)`` runs a scenario unchanged
(``fedsim_harness.scenario.chromium_browser``: the scripted browser's
interface on a Playwright page). :func:`run_in_chromium` runs scenarios one
after the other (the federation is reset before each; each gets a fresh
browser context, so no cookie is left over), with a screenshot after every
step (``BrowserStepResult.screenshot``, embedded by the HTML report) and,
for a scenario that fails, its Playwright trace kept in ``artifacts_dir``
(``BrowserScenarioResult.trace``).

Chromium: ``FEDSIM_CHROMIUM`` (default ``/usr/bin/chromium``)."""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from fedsim_harness.scenario.chromium_browser import ChromiumBrowser
from fedsim_harness.scenario.model import Scenario, Step
from fedsim_harness.serve import free_ports  # noqa: F401 - re-exported
from fedsim_harness.scenario.runner import Runner, ScenarioResult, StepResult, one_line

__all__ = ["CHROMIUM_ARGS", "BrowserScenarioResult", "BrowserStepResult", "Chromium", "ChromiumBrowser",
           "ChromiumRunner", "ChromiumUnavailable", "chromium_path", "free_ports", "run_in_chromium"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync")
VIEWPORT = {"width": 1280, "height": 800}
OnResult = Callable[[ScenarioResult], None]


class ChromiumUnavailable(RuntimeError):
    """Chromium is not there or does not start; the message (one line) says what to do."""


def chromium_path(environ: dict[str, str] | None = None) -> Path:
    """Chromium's executable (``FEDSIM_CHROMIUM``, default /usr/bin/chromium);
    :class:`ChromiumUnavailable` when there is none."""
    path = Path((os.environ if environ is None else environ).get("FEDSIM_CHROMIUM") or DEFAULT_CHROMIUM)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise ChromiumUnavailable(f"Chromium not found at {path}: install it (apt-get install chromium) "
                                  f"or set FEDSIM_CHROMIUM to its path.")
    return path


# -- results with what a browser run adds -------------------------------------------------


@dataclass
class BrowserStepResult(StepResult):
    screenshot: bytes = b""  # PNG of the page after the step


@dataclass
class BrowserScenarioResult(ScenarioResult):
    trace: str = ""  # the Playwright trace (zip) of a failed scenario: `playwright show-trace <file>`


# -- the browser process and one browser per scenario ----------------------------------------


class Chromium:
    """One Chromium process, launched once for a run; a fresh
    :class:`ChromiumBrowser` (its own context: cookies, trace) per scenario."""

    def __init__(self, executable: Path | None = None, *, headless: bool = True,
                 args: Sequence[str] = CHROMIUM_ARGS) -> None:
        executable = executable or chromium_path()
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(executable_path=str(executable), headless=headless,
                                                            args=list(args))
        except PlaywrightError as exc:
            self._playwright.stop()
            raise ChromiumUnavailable(f"Chromium at {executable} did not start: "
                                      f"{one_line(str(exc).splitlines()[0] if str(exc) else exc, 200)}") from None

    def new_browser(self, *, trace: bool = True, timeout_ms: float = 15_000, locale: str = "fr-BE") -> ChromiumBrowser:
        return ChromiumBrowser(self.browser.new_context(locale=locale, viewport=VIEWPORT), trace=trace,
                               timeout_ms=timeout_ms)

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- running scenarios ---------------------------------------------------------------------


class ChromiumRunner(Runner):
    """The runner, plus a screenshot after each step.

    The runner's step loop calls ``_do`` once at the start of each step: the
    page then is the page after the previous step; the page after the last
    step is taken once the run ends. The time a screenshot takes is not
    counted in the step's time."""

    def __init__(self, browser: ChromiumBrowser, urls: dict[str, str]) -> None:
        super().__init__(browser, urls)
        self._shots: list[tuple[bytes, float]] = []

    def run(self, scenario: Scenario) -> BrowserScenarioResult:
        self._shots = []
        result = super().run(scenario)
        if result.steps:
            self._shoot()  # the page after the last step
        steps = []
        for number, outcome in enumerate(result.steps, 1):  # shot n: taken as step n+1 began, or at the end
            values = {f.name: getattr(outcome, f.name) for f in fields(StepResult)}
            png = self._shots[number][0] if number < len(self._shots) else b""
            taken = self._shots[number - 1][1] if number - 1 < len(self._shots) else 0.0
            values["ms"] = max(0.0, outcome.ms - taken)
            steps.append(BrowserStepResult(**values, screenshot=png))
        return BrowserScenarioResult(result.scenario, steps, result.error)

    def _do(self, step: Step, persona) -> None:  # noqa: ANN001 - personas.Persona | None
        self._shoot()
        super()._do(step, persona)

    def _shoot(self) -> None:
        started = time.perf_counter()
        png = self.browser.screenshot() if self.browser.page is not None else b""
        self._shots.append((png, (time.perf_counter() - started) * 1000))


def run_in_chromium(scenarios: Sequence[Scenario], served, *, artifacts_dir: Path,  # noqa: ANN001
                    on_result: OnResult | None = None, headless: bool = True,
                    executable: Path | None = None) -> list[ScenarioResult]:
    """Run ``scenarios`` in Chromium against ``served`` (a started
    ``ServedFederation``, or anything with ``urls`` and ``reset()``), one
    after the other, the federation reset before each. Each result is a
    :class:`BrowserScenarioResult` whose steps carry their screenshot; the
    Playwright trace of a failed scenario is kept as
    ``artifacts_dir/<scenario>.trace.zip``. Raises
    :class:`ChromiumUnavailable` (one line) before running anything when
    Chromium is missing or does not start."""
    executable = executable or chromium_path()
    artifacts_dir = Path(artifacts_dir)
    results: list[ScenarioResult] = []
    with Chromium(executable, headless=headless) as chromium:
        for scenario in scenarios:
            result = _run_one(chromium, scenario, served, artifacts_dir)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def _run_one(chromium: Chromium, scenario: Scenario, served, artifacts_dir: Path) -> ScenarioResult:  # noqa: ANN001
    try:
        served.reset()
    except Exception as exc:  # noqa: BLE001 - the scenario fails, the run goes on
        return BrowserScenarioResult(scenario, error=f"the federation could not be reset first: "
                                                     f"{type(exc).__name__}: {one_line(exc)}")
    try:
        browser = chromium.new_browser(trace=True)
    except Exception as exc:  # noqa: BLE001
        return BrowserScenarioResult(scenario, error=f"Chromium could not open a new window: {one_line(exc)}")
    result = BrowserScenarioResult(scenario)
    try:
        result = ChromiumRunner(browser, dict(served.urls)).run(scenario)
    finally:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario.name) or "scenario"
        try:
            result.trace = browser.close(None if result.ok else artifacts_dir / f"{safe}.trace.zip")
        except Exception:  # noqa: BLE001 - the scenario's result stands without its trace
            result.trace = ""
    return result
