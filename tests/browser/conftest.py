"""Browser tests drive Debian's Chromium through Playwright (browser
downloads are not possible here). Locally they skip, saying why, when
Chromium is absent; under CI (``CI`` set) a missing Chromium is a failure."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from fedsim_harness.serve import ServedFederation, settings_on_free_ports

CHROMIUM = os.environ.get("FEDSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture
def served(tmp_path: Path):
    """The federation on real (free) ports, as `fedsim up` serves it."""
    federation = ServedFederation(settings_on_free_ports(tmp_path)).start()
    yield federation
    federation.stop()


@pytest.fixture
def chromium_executable() -> Path:
    """Chromium's path: the test skips without it, saying why (fails under CI)."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set FEDSIM_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(message + " — CI must run the browser test")
        pytest.skip(message)
    return Path(CHROMIUM)


@pytest.fixture
def page(tmp_path: Path, chromium_executable: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_executable), headless=True,
                                             args=CHROMIUM_ARGS)
        context = browser.new_context(locale="fr-BE")
        context.set_default_timeout(15_000)
        yield context.new_page()
        context.close()
        browser.close()
