"""A Playwright page with the scripted browser's interface (``open``,
``click``, ``submit``, ``has``, ``page``, ``history``, ``saml_trace``,
``transport``), so that the runner drives a real Chromium unchanged. Links
and buttons are found by their accessible name (Playwright locators,
case-sensitive substring, as the scripted browser matches text) and really
clicked — a link inside a closed ``<details>`` menu is revealed first, as a
person opens the ⋮ menu; forms are really filled and submitted; the page's
own script posts the SAML forms. SAML messages are captured from the
requests the page makes (query ``SAMLRequest``/``SAMLResponse``, POSTed
form data). Started by ``fedsim_harness.scenario.chromium``."""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from urllib.parse import parse_qsl

from fedsim_harness.scenario.browser import BrowserError, Page, SamlMessage, decode_messages
from fedsim_harness.scenario.runner import one_line

__all__ = ["ChromiumBrowser", "ChromiumTransport"]


class ChromiumTransport:
    """What the runner reads besides pages (the mailbox API), through the
    browser context's own HTTP client (its cookies)."""

    def __init__(self, context) -> None:  # noqa: ANN001 - playwright BrowserContext
        self.context = context

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> Page:
        from playwright.sync_api import Error as PlaywrightError

        try:
            response = self.context.request.fetch(url, method=method, form=data, max_redirects=0)
        except PlaywrightError as exc:
            raise BrowserError(f"{method} {url.split('?')[0]} failed: {_first_line(exc)}") from None
        return Page(url, response.status, dict(response.headers), response.body().decode("utf-8", "replace"))


class ChromiumBrowser:
    """The scripted browser's interface, on a Playwright page."""

    def __init__(self, context, *, trace: bool = True, timeout_ms: float = 15_000) -> None:  # noqa: ANN001
        self.context = context
        self.timeout_ms = timeout_ms
        context.set_default_timeout(timeout_ms)
        self.tracing = trace
        if trace:
            context.tracing.start(screenshots=True, snapshots=True)
        self.transport = ChromiumTransport(context)
        self.page: Page | None = None
        self.history: list[str] = []
        self.saml_trace: list[SamlMessage] = []
        self._navigations = 0  # documents committed in the main frame
        self._requested = 0  # navigations the main frame asked for (committed or not yet)
        self._downloads: list = []
        self._status, self._headers = 0, {}
        self._tab = context.new_page()
        self._tab.on("request", self._on_request)
        self._tab.on("response", self._on_response)
        self._tab.on("framenavigated", self._on_navigated)
        self._tab.on("download", lambda download: self._downloads.append(download))

    # -- what the page does --------------------------------------------------

    def _on_request(self, request) -> None:  # noqa: ANN001 - playwright Request
        if not request.is_navigation_request():
            return
        if request.frame.parent_frame is None:
            self._requested += 1
        data = dict(parse_qsl(request.post_data or "", keep_blank_values=True)) if request.method == "POST" else None
        self.saml_trace.extend(decode_messages(request.url, data))

    def _on_response(self, response) -> None:  # noqa: ANN001 - playwright Response
        request = response.request
        if not request.is_navigation_request() or request.frame.parent_frame is not None:
            return
        self.history.append(f"{request.method} {response.url.split('?')[0]} -> {response.status}")
        if not 300 <= response.status < 400:
            self._status, self._headers = response.status, dict(response.headers)

    def _on_navigated(self, frame) -> None:  # noqa: ANN001 - playwright Frame
        if frame.parent_frame is None:
            self._navigations += 1

    # -- the runner's interface ----------------------------------------------

    def open(self, url: str) -> Page:
        def go() -> None:
            try:
                self._tab.goto(url, wait_until="commit")
            except Exception as exc:  # noqa: BLE001 - playwright Error: said in words below
                if "Download is starting" not in str(exc):
                    raise
        return self._navigate(go, f"opening {url.split('?')[0]}")

    def click(self, text: str, within: str | None = None) -> Page:
        """Follow the link, or press the button, whose accessible name
        contains ``text`` (inside the smallest block containing ``within``
        when given)."""
        scope = self._scope(within)
        name = re.compile(re.escape(text))
        for role in ("link", "button"):
            found = scope.get_by_role(role, name=name, include_hidden=True)
            for index in range(found.count()):
                target = found.nth(index)
                if role == "link" and not target.get_attribute("href"):
                    continue
                return self._navigate(partial(self._press, target), f"clicking « {text} »")
        raise BrowserError(f"no link or button « {text} » on {self._tab.url}")

    def shows(self, text: str, within: str | None = None) -> bool:
        """Whether a link or button ``text`` is visible now (not merely in the page)."""
        scope = self._scope(within)
        name = re.compile(re.escape(text))
        return any(scope.get_by_role(role, name=name).first.is_visible()
                   for role in ("link", "button") if scope.get_by_role(role, name=name).count())

    def reveal(self, text: str, within: str | None = None) -> None:
        """Open the menu that holds the link or button ``text`` as a person
        would before choosing in it: a closed ``<details>``, or the toggle
        button (``aria-controls``, ``aria-expanded="false"``) of the element
        holding it. Nothing to do when the target is already visible."""
        scope = self._scope(within)
        name = re.compile(re.escape(text))
        targets = [scope.get_by_role(role, name=name, include_hidden=True) for role in ("link", "button")]
        target = next((found.first for found in targets if found.count()), None)
        if target is None:
            raise BrowserError(f"no link or button « {text} » on {self._tab.url}")
        if target.is_visible():
            return
        closed = target.locator("xpath=ancestor::details[not(@open)]/summary")
        if closed.count():
            closed.first.click()
        else:
            holder = target.evaluate("el => (el.closest('[id]') || {id: ''}).id")
            toggle = self._tab.locator(f"[aria-controls={_css_string(holder)}][aria-expanded=false]")
            if not holder or toggle.count() == 0:
                raise BrowserError(f"« {text} » is hidden and no menu button opens it on {self._tab.url}")
            toggle.first.click()
        target.wait_for(state="visible", timeout=5000)
        target.evaluate("el => el.scrollIntoView({block: 'center'})")

    def has(self, text: str) -> bool:
        name = re.compile(re.escape(text))
        return any(self._tab.get_by_role(role, name=name, include_hidden=True).count() for role in ("link", "button"))

    def submit(self, fields: dict[str, str], button: str | None = None) -> Page:
        """Fill the form holding the named fields and submit it (with the
        button whose name contains ``button``, when given). A form that the
        page's script submits as soon as a field changes (a check box that
        shows a section) is taken as submitted. As the scripted browser, it
        sets disabled fields and skips the browser's own form validation
        (noted in ``history``): the server's answer is what scenarios check."""
        forms = self._tab.locator("form")
        for field_name in fields:
            forms = forms.filter(has=self._tab.locator(f"[name={_css_string(field_name)}]"))
        if forms.count() == 0:
            raise BrowserError(f"no form with fields {sorted(fields)} on {self._tab.url}")
        form = forms.first
        since = self._mark()
        changes = [self._fill(form, field_name, value) for field_name, value in fields.items()]
        if any(changes):
            self._tab.wait_for_timeout(100)  # time for a script listening to « change » to submit
        if self._requested > since[1]:
            return self._navigate(lambda: None, "submitting the form (by the page's script)", since)
        pressed = None
        if button:
            pressed = form.get_by_role("button", name=re.compile(re.escape(button)), include_hidden=True)
            if pressed.count() == 0:
                raise BrowserError(f"no button « {button} » in the form on {self._tab.url}")
        problem = form.evaluate("f => f.checkValidity() ? '' : "
                                "([...f.elements].find(e => !e.checkValidity()) || {}).validationMessage || '?'")
        if problem:
            form.evaluate("f => { f.noValidate = true; }")
            self.history.append(f"(Chromium's own form check skipped, as the scripted browser does: {problem})")
        if pressed is not None:
            return self._navigate(lambda: self._press(pressed.first), f"submitting with « {button} »")
        return self._navigate(lambda: form.evaluate("form => form.requestSubmit()"), "submitting the form")

    # -- for reports -----------------------------------------------------------

    def screenshot(self, *, full_page: bool = True) -> bytes:
        """A PNG of the whole page as it is now, or of the window only (b""
        when it cannot be taken). Chromium takes a whole page by resizing the
        window, which closes an open menu: a page with a menu opened by
        :meth:`reveal` is taken as the window shows it."""
        try:
            return self._tab.screenshot(full_page=full_page, type="png", animations="disabled")
        except Exception:  # noqa: BLE001 - a missing picture is not the scenario's failure
            return b""

    def close(self, keep_trace: Path | None = None) -> str:
        """Close the context; keep the trace at ``keep_trace`` when given
        (returns its path, "" when none was kept)."""
        kept = ""
        try:
            if self.tracing:
                if keep_trace is not None:
                    keep_trace.parent.mkdir(parents=True, exist_ok=True)
                    self.context.tracing.stop(path=str(keep_trace))
                    kept = str(keep_trace)
                else:
                    self.context.tracing.stop()
        finally:
            self.context.close()
        return kept

    # -- helpers -------------------------------------------------------------

    def _scope(self, within: str | None):  # noqa: ANN202 - playwright Page or Locator
        if within is None:
            return self._tab
        blocks = self._tab.locator("tr, li, section, article, div, form").filter(
            has_text=re.compile(re.escape(within)))
        sizes = blocks.evaluate_all("els => els.map(el => el.textContent.length)")
        if not sizes:
            raise BrowserError(f"no block containing « {within} » on {self._tab.url}")
        return blocks.nth(sizes.index(min(sizes)))

    def _press(self, target) -> None:  # noqa: ANN001 - playwright Locator
        """Click ``target``, first opening the closed <details> it is in (a ⋮
        menu); one the page keeps hidden (a button its script hides) is
        pressed as the scripted browser would, without the mouse."""
        closed = target.locator("xpath=ancestor::details[not(@open)]/summary")
        for _ in range(5):
            if target.is_visible() or closed.count() == 0:
                break
            closed.first.click()
        if target.is_disabled():  # the scripted browser ignores « disabled »: forced, as with the developer tools
            target.evaluate("el => { el.disabled = false; }")
            self.history.append("(a disabled button enabled, as the scripted browser would press it)")
        if target.is_visible():
            target.click()
        else:
            target.evaluate("el => el.click()")

    def _fill(self, form, field_name: str, value: str) -> bool:  # noqa: ANN001 - playwright Locator
        """Set a field as a person would (select, check, type); True for a
        field whose change a script may act on (select, check box, radio)."""
        field = form.locator(f"[name={_css_string(field_name)}]")
        if field.count() > 1 and field.first.evaluate("el => el.type === 'checkbox' || el.type === 'radio'"):
            field = field.and_(form.locator(f"[value={_css_string(value)}]"))
            if field.count() == 0:
                raise BrowserError(f"no choice « {value} » for {field_name} on {self._tab.url}")
        target = field.first
        if target.is_disabled():  # the scripted browser sends it anyway: forced, as with the developer tools
            target.evaluate("el => { el.disabled = false; }")
            self.history.append(f"(disabled field {field_name} enabled, as the scripted browser would send it)")
        tag, kind = target.evaluate("el => [el.tagName.toLowerCase(), (el.type || '').toLowerCase()]")
        if tag == "select":
            try:
                target.select_option(value=value)
            except Exception:  # noqa: BLE001 - not a value: try it as the option's text
                target.select_option(label=value)
            return True
        if kind in ("checkbox", "radio"):
            checked = kind == "radio" or value.lower() not in ("", "0", "off", "false", "no")
            if target.is_visible():
                target.set_checked(checked)
            else:
                target.evaluate("(el, on) => { el.checked = on; el.dispatchEvent(new Event('change', "
                                "{bubbles: true})); }", checked)
            return True
        if kind == "hidden" or not target.is_visible() or not target.is_editable():
            target.evaluate("(el, value) => { el.value = value; }", value)
        else:
            target.fill(value)
        return False

    def _mark(self) -> tuple[int, int, int]:
        """Where the page is: documents committed, navigations asked, downloads."""
        return self._navigations, self._requested, len(self._downloads)

    def _navigate(self, action: Callable[[], object], what: str, since: tuple[int, int, int] | None = None) -> Page:
        """Do ``action``, which must load a page (counted from ``since``,
        default now); wait until the page has settled (the SAML forms its
        script posts, posted) and take it."""
        from playwright.sync_api import Error as PlaywrightError

        before, _, downloads = since or self._mark()
        try:
            action()
            self._wait_until(lambda: self._navigations > before or len(self._downloads) > downloads,
                             f"{what} loaded no page")
            if len(self._downloads) > downloads and self._navigations == before:
                self.page = self.transport.request("GET", self._downloads[-1].url)
                return self.page
            self._settle(what)
            self.page = Page(self._tab.url, self._status, self._headers, self._tab.content())
        except PlaywrightError as exc:
            raise BrowserError(f"{what}: {_first_line(exc)}") from None
        return self.page

    def _settle(self, what: str) -> None:
        from playwright.sync_api import Error as PlaywrightError

        deadline = time.monotonic() + self.timeout_ms / 1000
        while time.monotonic() < deadline:
            seen = self._navigations
            try:
                self._tab.wait_for_load_state("load")
                posting = self._tab.locator("form[data-autosubmit]").count()
            except PlaywrightError:  # the document went away under us: another navigation
                continue
            if posting:  # the page's script submits it
                self._wait_until(lambda seen=seen: self._navigations > seen, f"{what}: the SAML form was not posted")
            elif self._navigations == seen:
                return
        raise BrowserError(f"{what}: the page did not settle within {self.timeout_ms / 1000:.0f} s")

    def _wait_until(self, done: Callable[[], bool], failure: str) -> None:
        deadline = time.monotonic() + self.timeout_ms / 1000
        while not done():
            if time.monotonic() > deadline:
                raise BrowserError(f"{failure} within {self.timeout_ms / 1000:.0f} s (at {self._tab.url})")
            self._tab.wait_for_timeout(20)  # lets Playwright deliver the page's events


def _css_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if "ERR_CONNECTION_REFUSED" in text:
        first = "nothing answers there (connection refused)"
    return one_line(first, 300)
