"""Running a scenario with the scripted browser, step by step.

Whatever goes wrong inside a scenario — a check that fails, a bad regular
expression, an unknown persona, a value of the wrong type, an unreachable
federation — ends that scenario with a failure and a one-line cause, never
an exception out of :meth:`Runner.run`. Results are plain picklable data, to
cross process boundaries (``fedsim_harness.scenario.parallel``)."""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pyotp
import requests

from fedsim import clock, personas
from fedsim_harness.scenario import oidc_rp
from fedsim_harness.scenario.browser import (
    Browser,
    BrowserError,
    HttpTransport,
    WsgiTransport,
)
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
    error: str = ""  # a failure outside any step: unknown persona, no federation to run it on, a file that does not load

    @property
    def ok(self) -> bool:
        return (not self.error and bool(self.steps) and all(s.ok for s in self.steps)
                and len(self.steps) == len(self.scenario.steps))

    @property
    def cause(self) -> str:
        """Why it failed, in one line ("" when it passed)."""
        failed = self.failure
        if self.error:
            return one_line(self.error)
        if failed is not None:
            return f"step {failed.index} ({', '.join(failed.step.guide)}): {one_line(failed.error)}"
        return "" if self.ok else "the scenario has no steps"

    def headline(self) -> str:
        """« PASS name (1.2 s) » or « FAIL name: step 4 (G03): cause »."""
        if self.ok:
            return f"PASS {self.scenario.name} ({self.ms / 1000:.1f} s)"
        return f"FAIL {self.scenario.name}: {self.cause}"

    @property
    def failure(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)

    @property
    def ms(self) -> float:
        return sum(s.ms for s in self.steps)

    def describe_failure(self) -> str:
        failed = self.failure
        if self.error:
            return f"scenario {self.scenario.name}: {self.error}"
        if failed is None:
            return ""
        said = f" « {failed.step.say} »" if failed.step.say else ""
        lines = [f"scenario {self.scenario.name}: step {failed.index} ({', '.join(failed.step.guide)}{said}) "
                 f"failed: {failed.error}",
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
        self.oidc = None  # the relying party of the oidc_login step (fedsim_harness.scenario.oidc_rp)

    def run(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario)
        self.saved = {}
        self.oidc = None
        transport = self.browser.transport
        clock_offset = os.environ.get("FEDSIM_CLOCK_OFFSET")
        try:
            persona = _persona(scenario.persona) if scenario.persona else None
            self._run_steps(scenario, persona, result)
        except Exception as exc:  # noqa: BLE001 - a crash is this scenario's failure, not the run's
            result.error = _crash(exc)
        finally:  # advance_clock moved the shared clock of this process: put it back
            self.browser.transport = transport  # oidc_login put the relying party's host in front of it
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
                self._check(step, persona)
                self._remember(step)
                outcome = StepResult(index, step, True, 0.0)
            except (BrowserError, AssertionError) as exc:
                outcome = StepResult(index, step, False, 0.0, error=str(exc))
            except Exception as exc:  # noqa: BLE001 - a crash is this step's failure
                outcome = StepResult(index, step, False, 0.0, error=_crash(exc))
            outcome.ms = (time.perf_counter() - started) * 1000
            outcome.saml = self.browser.saml_trace[seen_saml:]  # every step's: the HTML report shows them
            page = self.browser.page
            if page is not None:
                outcome.url, outcome.status = page.url, page.status
                if not outcome.ok:
                    outcome.page_said = page.main_text[:600]
                    outcome.requests = self.browser.history[seen_requests:]
            result.steps.append(outcome)
            if not outcome.ok:
                break

    # -- actions -------------------------------------------------------------

    def _url(self, target: str) -> str:
        app, _, path = target.partition(":")
        if app not in self.urls:
            raise BrowserError(f"unknown application {app!r} in {target!r} (known: {', '.join(self.urls)})")
        return urljoin(self.urls[app], path or "/")

    def _fill(self, value: object, persona: personas.Persona | None) -> str:
        """``value`` with each ``{persona.field…}`` and ``{saved[name]}``
        replaced; other braces are kept as typed."""
        text = str(value)

        def replace(found: re.Match) -> str:
            if found.group("saved") is not None:
                name = found.group("saved")
                if name not in self.saved:
                    raise BrowserError(f"nothing remembered as {name!r} for « {text} »")
                return self.saved[name]
            if persona is None:
                raise BrowserError(f"« {text} » names {found.group(0)} but the scenario names no persona")
            current: object = persona
            for part in found.group("path").split("."):
                if current is None:
                    break
                if not hasattr(current, part) or part.startswith("_"):
                    raise BrowserError(f"« {text} »: persona {persona.id!r} has no field {found.group('path')!r}")
                current = getattr(current, part)
            if current is None:
                raise BrowserError(f"« {text} »: persona {persona.id!r} has no {found.group('path')!r}")
            return str(current)

        return _PLACEHOLDER.sub(replace, text)

    def _do(self, step: Step, persona: personas.Persona | None) -> None:
        def fill(value: object) -> str:
            return self._fill(value, persona)
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
        elif step.action == "oidc_login":
            self._oidc_login({k: fill(v) for k, v in dict(step.argument).items()})
        elif step.action == "oidc_callback":
            self._oidc_callback(dict(step.argument).get("expect_error"))

    def _oidc_login(self, spec: dict[str, str]) -> None:
        """A relying party played by Authlib's client starts a login at CSAM;
        the browser opens it, and CSAM's redirect back stays with that party."""
        transport = self.browser.transport
        inner = transport.inner if isinstance(transport, oidc_rp.RelyingPartyHost) else transport
        if not isinstance(inner, (WsgiTransport, HttpTransport)):
            raise BrowserError("oidc_login runs with the scripted browser (in-process or against running "
                               "servers), not in Chromium: no server answers the relying party's rp.example")
        http = (oidc_rp.wsgi_session({n: c.application for n, c in inner.clients.items()})
                if isinstance(inner, WsgiTransport) else requests.Session())
        self.oidc = oidc_rp.RelyingParty(self.urls["idp_csam"], spec.get("client_id", oidc_rp.DEMO_CLIENT),
                                         oidc_rp.DEMO_REDIRECT, http=http)
        self.browser.transport = oidc_rp.RelyingPartyHost(inner, {urlsplit(oidc_rp.DEMO_REDIRECT).netloc})
        extra = {k: spec[k] for k in ("prompt",) if spec.get(k)}
        self.browser.open(self.oidc.authorization_url(scope=spec.get("scope", "openid profile email"),
                                                      acr_values=spec.get("acr_values", ""), **extra))

    def _oidc_callback(self, expect_error: str | None) -> None:
        if self.oidc is None:
            raise BrowserError("oidc_callback needs an earlier oidc_login step")
        page = self.browser.page
        if page is None or urlsplit(page.url).netloc != urlsplit(self.oidc.redirect_uri).netloc:
            raise AssertionError(f"CSAM did not send the browser back to the relying party: it is at "
                                 f"{page.url if page else 'no page'}")
        answer = dict(parse_qsl(urlsplit(page.url).query))
        if expect_error:
            if answer.get("error") != expect_error:
                raise AssertionError(f"expected the OAuth error {expect_error!r}, CSAM answered "
                                     f"{answer.get('error') or 'a code'} {answer.get('error_description', '')}")
            return
        login = self.oidc.callback(page.url)  # RelyingPartyError (an AssertionError) says what is wrong
        self.browser.page = oidc_rp.html_page(page.url, login.describe())

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
        transport = self.browser.transport
        if not isinstance(getattr(transport, "inner", transport), WsgiTransport):
            raise BrowserError("advance_clock works only in-process: the servers of `fedsim up` have "
                               "their own clock (start them with FEDSIM_CLOCK_OFFSET instead)")
        current = float(os.environ.get("FEDSIM_CLOCK_OFFSET", "0") or 0)
        os.environ["FEDSIM_CLOCK_OFFSET"] = str(current + minutes * 60)

    def _remember(self, step: Step) -> None:
        for name, pattern in step.remember:
            self.saved[name] = _match(pattern, self.browser.page.text, "the page")

    def _check(self, step: Step, persona: personas.Persona | None) -> None:
        page = self.browser.page
        if page is None:
            raise AssertionError("no page was loaded")
        expected_status = step.expect_status
        if expected_status is None and not 200 <= page.status < 300:
            raise AssertionError(f"expected a successful page, got HTTP {page.status}")
        if expected_status is not None and page.status != expected_status:
            raise AssertionError(f"expected HTTP {expected_status}, got {page.status}")
        expect_url = self._fill(step.expect_url, persona) if step.expect_url else None
        if expect_url and expect_url.partition(":")[0] in self.urls:  # "app:/path": that app's address
            expect_url = self._url(expect_url)
        if expect_url and expect_url not in page.url:
            raise AssertionError(f"expected the URL to contain « {expect_url} », got {page.url}")
        text = page.text
        for wanted in (self._fill(w, persona) for w in step.expect):
            if " ".join(wanted.split()) not in text:
                raise AssertionError(f"expected the page to show « {wanted} »")


# What ``_fill`` replaces: {persona.card.pin}, {persona.email}, {saved[name]}.
_PLACEHOLDER = re.compile(r"\{(?:persona\.(?P<path>\w+(?:\.\w+)*)|saved\[(?P<saved>[^\]]+)\])\}")


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _persona(persona_id: str) -> personas.Persona:
    try:
        return personas.by_id(persona_id)
    except KeyError:
        known = ", ".join(p.id for p in personas.load())
        raise BrowserError(f"unknown persona {persona_id!r} (known: {known})") from None


def _crash(exc: BaseException) -> str:
    """A readable cause for an exception the scenario did not expect."""
    if isinstance(exc, BrowserError):
        return str(exc)
    if isinstance(exc, re.error):
        return f"invalid regular expression {exc.pattern!r}: {exc.msg}"
    return f"the scenario crashed: {type(exc).__name__}: {exc}"


def _match(pattern: str, text: str, where: str) -> str:
    """The first match of ``pattern`` in ``text`` (its first group, if it has one)."""
    found = re.search(pattern, text)
    if found is None:
        raise AssertionError(f"nothing matching /{pattern}/ in {where}")
    return found.group(1) if found.re.groups else found.group(0)
