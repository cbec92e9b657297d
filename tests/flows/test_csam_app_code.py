"""G06: CSAM username + password, then a security code from an authenticator
app (TOTP, RFC 6238). The first time, the account is enrolled from a QR code;
the tests read the secret off the enrolment page, as a person would type it
into their app, and compute the codes with pyotp on a frozen clock."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from freezegun import freeze_time

from fedsim_harness.scenario.browser import Browser, Page, WsgiTransport
from fedsim_harness.stack import Federation
from idp_csam.methods.app_code import REUSED, WRONG_CODE, WRONG_FORMAT, CodeRefused, check_code

LABEL = "IDENTIFICATION avec un code de sécurité via une application mobile"
JEAN = {"username": "jean.dupont", "password": "Jean-CSAM-2024"}
STEP = 30


def _step_start() -> datetime:
    """Five seconds into the next 30-second TOTP step (now, in UTC)."""
    now = datetime.now(timezone.utc).timestamp()
    return datetime.fromtimestamp((now // STEP + 1) * STEP + 5, timezone.utc)


@pytest.fixture
def frozen():
    with freeze_time(_step_start()) as frozen:
        yield frozen


def password_step(browser: Browser, federation: Federation, credentials: dict[str, str] = JEAN) -> Page:
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click(LABEL)
    return browser.submit(credentials, button="Suivant")


def secret_on(page: Page) -> str:
    return page.tree.xpath("string(//code[contains(@class, 'totp-secret')]/@data-secret)")


def code_at(secret: str, steps: int = 0) -> str:
    """The app's code ``steps`` time steps from the (frozen) now."""
    return pyotp.TOTP(secret).at(datetime.now(timezone.utc) + timedelta(seconds=steps * STEP))


def enrol(browser: Browser, federation: Federation) -> str:
    """Enrol jean's app and log in with the first code; the secret."""
    page = password_step(browser, federation)
    secret = secret_on(page)
    page = browser.submit({"code": code_at(secret)}, button="Confirmer")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:500]
    return secret


def fresh_browser(federation: Federation) -> Browser:
    """Another browser: no CSAM or Mon Espace session."""
    return Browser(WsgiTransport(federation.wsgi_by_netloc()))


def test_enrolment_shows_a_qr_code_and_the_secret(federation: Federation, browser: Browser, frozen) -> None:
    page = password_step(browser, federation)
    assert page.status == 200 and "Activer votre application mobile" in page.text
    svg = page.tree.xpath("//figure[contains(@class, 'totp-qr')]/*[local-name()='svg']")
    assert svg and svg[0].xpath("*[local-name()='path']"), page.body[:1000]
    secret = secret_on(page)
    assert len(secret) == 32 and secret in page.text
    assert "CSAM (simulateur)" in page.text and "jean.dupont" in page.text
    # reloading shows the same secret: the app already scanned stays valid
    assert secret_on(browser.open(page.url)) == secret
    page = browser.submit({"code": code_at(secret)}, button="Confirmer")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:500]

    # next time: no enrolment, straight to the code page
    frozen.tick(STEP)
    other = fresh_browser(federation)
    page = password_step(other, federation)
    assert "Activer" not in page.text and "Étape 2 sur 2" in page.text
    assert not page.tree.xpath("//*[local-name()='svg']")
    page = other.submit({"code": code_at(secret)}, button="Se connecter")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:500]


def test_code_from_the_previous_step_is_accepted(federation: Federation, browser: Browser, frozen) -> None:
    secret = enrol(browser, federation)
    frozen.tick(2 * STEP)
    other = fresh_browser(federation)
    password_step(other, federation)
    page = other.submit({"code": code_at(secret, -1)}, button="Se connecter")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:500]


def test_code_two_steps_old_is_refused(federation: Federation, browser: Browser, frozen) -> None:
    secret = enrol(browser, federation)
    frozen.tick(3 * STEP)
    other = fresh_browser(federation)
    password_step(other, federation)
    old = code_at(secret, -2)
    assert old not in {code_at(secret, d) for d in (-1, 0, 1)}
    page = other.submit({"code": old}, button="Se connecter")
    assert page.status == 400 and WRONG_CODE in page.text
    assert "MON TABLEAU DE BORD" not in page.text


def test_replayed_code_is_refused(federation: Federation, browser: Browser, frozen) -> None:
    secret = enrol(browser, federation)
    used = code_at(secret)
    other = fresh_browser(federation)
    password_step(other, federation)
    page = other.submit({"code": used}, button="Se connecter")
    assert page.status == 400 and REUSED in page.text
    # the next code, once the app shows it, is fine
    frozen.tick(STEP)
    page = other.submit({"code": code_at(secret)}, button="Se connecter")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:500]


def test_wrong_code_and_wrong_format(federation: Federation, browser: Browser, frozen) -> None:
    page = password_step(browser, federation)
    secret = secret_on(page)
    window = {code_at(secret, d) for d in (-1, 0, 1)}
    wrong = next(c for c in (f"{n:06d}" for n in range(0, 10**6, 111111)) if c not in window)
    page = browser.submit({"code": wrong}, button="Confirmer")
    assert page.status == 400 and WRONG_CODE in page.text and "Il vous reste 4 essais" in page.text
    page = browser.submit({"code": "12ab"}, button="Confirmer")
    assert page.status == 400 and WRONG_FORMAT in page.text and "Il vous reste 3 essais" in page.text
    page = browser.submit({"code": ""}, button="Confirmer")
    assert page.status == 400 and "Tapez le code de sécurité." in page.text
    # spaces, as some apps show « 123 456 », are fine
    code = code_at(secret)
    page = browser.submit({"code": f"{code[:3]} {code[3:]}"}, button="Confirmer")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:500]


def test_too_many_attempts_restart_the_login(federation: Federation, browser: Browser, frozen) -> None:
    page = password_step(browser, federation)
    secret = secret_on(page)
    window = {code_at(secret, d) for d in (-1, 0, 1)}
    wrong = next(c for c in (f"{n:06d}" for n in range(0, 10**6, 111111)) if c not in window)
    for _ in range(4):
        page = browser.submit({"code": wrong}, button="Confirmer")
        assert page.status == 400
    assert "Il vous reste 1 essai." in page.text
    page = browser.submit({"code": wrong}, button="Confirmer")
    assert page.status == 429 and "Trop d'essais" in page.text and "recommencez" in page.text
    # the code page no longer takes codes, even the right one: back to the password
    page = browser.open(federation.urls["idp_csam"] + "/code-app/enrolement")
    assert "Étape 1 sur 2" in page.text
    # restarting works, with the same secret (not yet confirmed)
    page = browser.submit(JEAN, button="Suivant")
    assert secret_on(page) == secret
    page = browser.submit({"code": code_at(secret)}, button="Confirmer")
    assert "MON TABLEAU DE BORD" in page.text, page.text[:500]


def test_wrong_password(federation: Federation, browser: Browser) -> None:
    page = password_step(browser, federation, {"username": "jean.dupont", "password": "pas-le-bon"})
    assert page.status == 400 and "Nom d'utilisateur ou mot de passe incorrect." in page.text
    assert "Activer votre application mobile" not in page.text
    page = browser.open(federation.urls["idp_csam"] + "/code-app/code")
    assert "Étape 1 sur 2" in page.text


# -- the verification function -------------------------------------------------

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
T0 = datetime(2026, 3, 2, 10, 0, 5, tzinfo=timezone.utc)  # 5 s into a step


def _code(at: datetime) -> str:
    return pyotp.TOTP(SECRET).at(at)


def test_check_code_on_the_shared_clock() -> None:
    step = int(T0.timestamp()) // STEP
    with freeze_time(T0) as frozen:
        assert check_code(SECRET, _code(T0), None) == step
        frozen.tick(STEP)  # the previous step's code: one step of skew
        assert check_code(SECRET, _code(T0), None) == step
        assert check_code(SECRET, _code(T0 + timedelta(seconds=2 * STEP)), None) == step + 2  # phone ahead
        frozen.tick(STEP)  # two steps old: refused
        with pytest.raises(CodeRefused, match="incorrect"):
            check_code(SECRET, _code(T0), None)


def test_check_code_refuses_reuse_and_bad_format() -> None:
    with freeze_time(T0):
        step = check_code(SECRET, _code(T0), None)
        with pytest.raises(CodeRefused) as refused:
            check_code(SECRET, _code(T0), step)
        assert refused.value.message == REUSED
        # an older step after a newer one is a replay too
        with pytest.raises(CodeRefused, match="déjà été utilisé"):
            check_code(SECRET, _code(T0 - timedelta(seconds=STEP)), step)
        for bad in ("", "12345", "1234567", "12a456", None):
            with pytest.raises(CodeRefused) as refused:
                check_code(SECRET, bad, None)
            assert refused.value.message == WRONG_FORMAT


# -- the scenario runner's « totp » action --------------------------------------

def test_totp_scenario_step_needs_a_field(tmp_path) -> None:
    from fedsim_harness.scenario.model import ScenarioError, load
    path = tmp_path / "bad.yaml"
    path.write_text("persona: jean\nsteps:\n  - {guide: G06, totp: {secret_from_page: 'x'}}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="'totp' needs"):
        load(path)


def test_totp_scenario_step_without_a_secret_fails_clearly(federation: Federation, browser: Browser,
                                                           tmp_path) -> None:
    from fedsim_harness.scenario.model import load
    from fedsim_harness.scenario.runner import Runner
    path = tmp_path / "no-secret.yaml"
    path.write_text("persona: jean\nsteps:\n"
                    "  - {guide: G01, open: 'monespace:/'}\n"
                    "  - {guide: G06, totp: {field: code, secret_from_page: 'data-secret=\"([A-Z2-7]+)\"'}}\n"
                    "  - {guide: G06, totp: {field: code}}\n", encoding="utf-8")
    result = Runner(browser, federation.urls).run(load(path))
    assert not result.ok and result.failure.index == 2
    assert "no TOTP secret matching" in result.failure.error
    scenario = load(path)
    result = Runner(browser, federation.urls).run(replace(scenario, steps=scenario.steps[2:]))
    assert not result.ok and "no TOTP secret: give secret_from_page" in result.failure.error
