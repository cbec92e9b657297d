"""Running a scenario with the scripted browser, step by step."""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

import pyotp

from fedsim import clock, personas
from fedsim_harness.scenario.browser import Browser, BrowserError, WsgiTransport
from fedsim_harness.scenario.model import Scenario, Step


@dataclass
class StepResult:
    index: int
    step: Step
    ok: bool
    ms: float
    url: str = ""
    status: int = 0
    error: str = ""
    page_said: str = ""
    requests: list[str] = field(default_factory=list)
    saml: list = field(default_factory=list)  # SamlMessage seen during this step


@dataclass
class ScenarioResult:
    scenario: Scenario
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps) and len(self.steps) == len(self.scenario.steps)

    @property
    def failure(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)

    @property
    def ms(self) -> float:
        return sum(s.ms for s in self.steps)

    def describe_failure(self) -> str:
        failed = self.failure
        if failed is None:
            return ""
        lines = [f"scenario {self.scenario.name}: step {failed.index} ({', '.join(failed.step.guide)} "
                 f"« {failed.step.say} ») failed: {failed.error}",
                 f"  page: {failed.url} (HTTP {failed.status})", f"  the page said: {failed.page_said}"]
        if failed.requests:
            lines.append("  requests of this step: " + " | ".join(failed.requests))
        for message in failed.saml:
            lines.append(f"  {message.kind} to {message.url}:\n    {message.xml[:3000]}")
        return "\n".join(lines)


class Runner:
    def __init__(self, browser: Browser, urls: dict[str, str]) -> None:
        self.browser = browser
        self.urls = urls  # app name -> base URL, "mailbox" included
        self.saved: dict[str, str] = {}  # values kept by ``remember``, as {saved[name]}
        self.totp_secret: str | None = None  # the last one read by a « totp » step

    def run(self, scenario: Scenario) -> ScenarioResult:
        persona = personas.by_id(scenario.persona) if scenario.persona else None
        result = ScenarioResult(scenario)
        self.saved = {}
        clock_offset = os.environ.get("FEDSIM_CLOCK_OFFSET")
        try:
            self._run_steps(scenario, persona, result)
        finally:  # advance_clock moved the shared clock of this process: put it back
            if clock_offset is None:
                os.environ.pop("FEDSIM_CLOCK_OFFSET", None)
            else:
                os.environ["FEDSIM_CLOCK_OFFSET"] = clock_offset
        return result

    def _run_steps(self, scenario: Scenario, persona: personas.Persona | None, result: ScenarioResult) -> None:
        for index, step in enumerate(scenario.steps, 1):
            seen_requests, seen_saml = len(self.browser.history), len(self.browser.saml_trace)
            started = time.perf_counter()
            try:
                self._do(step, persona)
                self._check(step)
                self._remember(step)
                outcome = StepResult(index, step, True, 0.0)
            except (BrowserError, AssertionError) as exc:
                outcome = StepResult(index, step, False, 0.0, error=str(exc))
            outcome.ms = (time.perf_counter() - started) * 1000
            page = self.browser.page
            if page is not None:
                outcome.url, outcome.status = page.url, page.status
                if not outcome.ok:
                    outcome.page_said = page.main_text[:600]
                    outcome.requests = self.browser.history[seen_requests:]
                    outcome.saml = self.browser.saml_trace[seen_saml:]
            result.steps.append(outcome)
            if not outcome.ok:
                break

    # -- actions -------------------------------------------------------------

    def _url(self, target: str) -> str:
        app, _, path = target.partition(":")
        if app not in self.urls:
            raise BrowserError(f"unknown application {app!r} in {target!r} (known: {', '.join(self.urls)})")
        return urljoin(self.urls[app], path or "/")

    def _do(self, step: Step, persona: personas.Persona | None) -> None:
        def fill(value: object) -> str:
            try:
                return str(value).format(persona=persona, saved=self.saved)
            except KeyError as exc:
                raise BrowserError(f"nothing remembered as {exc} for « {value} »") from None
            except AttributeError as exc:
                raise BrowserError(f"« {value} »: {exc} (does the scenario name a persona?)") from None
        if step.action == "advance_clock":
            self._advance_clock(float(step.argument))
        elif step.action == "open":
            self.browser.open(self._url(fill(step.argument)))
        elif step.action == "click" and step.repeat:
            for _ in range(100):
                if not self.browser.has(fill(step.argument)):
                    return
                self.browser.click(fill(step.argument))
            raise BrowserError(f"« {step.argument} » was still there after 100 clicks")
        elif step.action == "click":
            self.browser.click(fill(step.argument), within=fill(step.within) if step.within else None)
        elif step.action == "submit":
            fields = {k: fill(v) for k, v in dict(step.argument).items()}
            self.browser.submit(fields, button=fill(step.button) if step.button else None)
        elif step.action == "mail_link":
            spec = {k: fill(v) for k, v in dict(step.argument).items()}
            self.browser.open(self._mail_link(spec["to"], spec.get("subject", ""), spec["link"]))
        elif step.action == "mail_code":  # the pattern is a regex: braces are not {persona…}
            spec = {k: str(v) if k == "pattern" else fill(v) for k, v in dict(step.argument).items()}
            message = self._newest_mail(spec["to"], spec.get("subject", ""))
            code = _match(spec["pattern"], message["text"], f"the e-mail « {message['subject']} »")
            self.browser.submit({spec["field"]: code}, button=fill(step.button) if step.button else None)
        elif step.action == "totp":
            spec = dict(step.argument)
            code = self._totp_code(spec.get("secret_from_page"))  # a regex: braces are not {persona…}
            self.browser.submit({spec["field"]: code}, button=fill(step.button) if step.button else None)

    def _totp_code(self, pattern: str | None) -> str:
        """The authenticator app's current code (shared clock), for the secret
        the regex ``pattern`` finds on the page (its first group if it has
        one), or without a pattern for the secret read by an earlier step."""
        if pattern:
            found = re.search(pattern, self.browser.page.body)
            if found is None:
                raise BrowserError(f"no TOTP secret matching {pattern!r} on the page")
            self.totp_secret = found.group(1) if found.re.groups else found.group(0)
        if self.totp_secret is None:
            raise BrowserError("no TOTP secret: give secret_from_page")
        return pyotp.TOTP(self.totp_secret).at(clock.now())

    def _newest_mail(self, to: str, subject: str) -> dict:
        api = self._url("mailbox:/api/messages") + "?" + urlencode({"to": to, "subject": subject, "limit": 1})
        page = self.browser.transport.request("GET", api)
        if page.status != 200:
            raise BrowserError(f"the mailbox API answered HTTP {page.status}")
        messages = json.loads(page.body)["messages"]
        if not messages:
            raise BrowserError(f"no e-mail to {to} with subject « {subject} » in the mailbox")
        return messages[0]

    def _mail_link(self, to: str, subject: str, link_text: str) -> str:
        message = self._newest_mail(to, subject)
        for link in message["links"]:
            if link_text in link["text"]:
                return link["href"]
        raise BrowserError(f"the e-mail « {message['subject']} » has no link « {link_text} »")

    def _advance_clock(self, minutes: float) -> None:
        """Move the federation's shared clock (fedsim.clock) forward. Only the
        in-process apps share this process's clock; running servers do not."""
        if not isinstance(self.browser.transport, WsgiTransport):
            raise BrowserError("advance_clock works only in-process: the servers of `fedsim up` have "
                               "their own clock (start them with FEDSIM_CLOCK_OFFSET instead)")
        current = float(os.environ.get("FEDSIM_CLOCK_OFFSET", "0") or 0)
        os.environ["FEDSIM_CLOCK_OFFSET"] = str(current + minutes * 60)

    def _remember(self, step: Step) -> None:
        for name, pattern in step.remember:
            self.saved[name] = _match(pattern, self.browser.page.text, "the page")

    def _check(self, step: Step) -> None:
        page = self.browser.page
        if page is None:
            raise AssertionError("no page was loaded")
        expected_status = step.expect_status
        if expected_status is None and not 200 <= page.status < 300:
            raise AssertionError(f"expected a successful page, got HTTP {page.status}")
        if expected_status is not None and page.status != expected_status:
            raise AssertionError(f"expected HTTP {expected_status}, got {page.status}")
        if step.expect_url and step.expect_url not in page.url:
            raise AssertionError(f"expected the URL to contain « {step.expect_url} », got {page.url}")
        text = page.text
        for wanted in step.expect:
            if " ".join(wanted.split()) not in text:
                raise AssertionError(f"expected the page to show « {wanted} »")


def _match(pattern: str, text: str, where: str) -> str:
    """The first match of ``pattern`` in ``text`` (its first group, if it has one)."""
    found = re.search(pattern, text)
    if found is None:
        raise AssertionError(f"nothing matching /{pattern}/ in {where}")
    return found.group(1) if found.re.groups else found.group(0)
