"""The trainer console in Chromium, as a trainer keeps it open beside the
demonstration: the trace refreshes itself (every 2 s, no reload) when a
login happens in another tab, and the clock buttons work from the page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_the_trace_shows_a_new_login_without_reloading_the_console(served, page: Page) -> None:
    urls = served.urls
    page.goto(urls["mailbox"] + "/formateur")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    rows = page.locator("#trace-rows")
    expect(rows).to_contain_text("Aucun message pour l'instant.")
    loaded_at = page.evaluate("performance.timeOrigin")

    demonstration = page.context.new_page()  # the demonstration, in another tab
    demonstration.goto(urls["monespace"] + "/")
    demonstration.get_by_role("link", name="Me connecter").click()
    expect(demonstration.get_by_role("heading", level=1)).to_have_text("S'identifier à l'administration en ligne")

    # The console's own script brings the AuthnRequest in, within a few polls.
    expect(rows).to_contain_text("Mon Espace → CSAM", timeout=10_000)
    expect(rows.locator("tr").first).to_contain_text(re.compile(r"\d\d:\d\d:\d\d"))
    assert page.evaluate("performance.timeOrigin") == loaded_at  # the same page: no reload happened
