"""itsme's phone confirmation is bound to the login that started it (issue
#9): only the one-time link (or QR code) of a waiting page opens the phone's
screen of that request, the link dies once the request is answered, pending
requests are never listed by phone number, and wrong itsme codes are counted
on the server: 3 refuse the request, even when 30 are sent at once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from at_once import at_once, with_db
from freezegun import freeze_time
from sqlalchemy import select
from test_csam_itsme import ITSME, JEAN_CODE, JEAN_PHONE, phone_link, start_itsme

from fedsim import clock
from fedsim.db import Database
from fedsim.personas import by_id
from fedsim.purge import GRACE
from fedsim_harness.scenario.browser import Browser, WsgiTransport
from fedsim_harness.stack import Federation
from idp_csam import itsme_op
from idp_csam.itsme_op import ItsmeAuthorization, ItsmePhone

THREADS = 30
WRONG = "11111"


def new_browser(federation: Federation) -> Browser:
    """Another device: its own cookies."""
    return Browser(WsgiTransport(federation.wsgi_by_netloc()))


@pytest.fixture
def phone(federation: Federation) -> Browser:
    return new_browser(federation)


def test_the_phone_number_route_shows_no_pending_request(federation: Federation, browser: Browser,
                                                         phone: Browser):
    start_itsme(browser, federation)
    for number in ("+32471234567", "0471234567", "+32499999999"):  # Jean's (pending), unknown: the same answer
        page = phone.open(f"{federation.urls['idp_csam']}/itsme-op/phone/{number}")
        assert page.status == 404 and "pas affichées par numéro de téléphone" in page.text
        assert "Demande de connexion" not in page.text and not page.tree.xpath("//form[@method='post']//input"
                                                                                  "[@name='code']")


def test_the_link_opens_its_own_request_only(federation: Federation, browser: Browser, phone: Browser):
    first = start_itsme(browser, federation)
    other_browser = new_browser(federation)
    second = start_itsme(other_browser, federation)  # a second login, same phone number
    first_link, second_link = phone_link(first), phone_link(second)
    assert first_link != second_link and "+32471234567" not in first_link

    # another browser opening the first waiting page is not shown its link
    assert "itsme-op/telephone/" not in new_browser(federation).open(first.url).body

    phone.open(first_link)
    assert phone.submit({"code": JEAN_CODE}, button="Confirmer").status == 200
    with Database.factory(federation.apps["idp_csam"])() as db:
        statuses = {r.id: r.status for r in db.execute(select(ItsmeAuthorization.id, ItsmeAuthorization.status))}
    assert statuses[first.url.rsplit("/", 1)[1]] == "approved"
    assert statuses[second.url.rsplit("/", 1)[1]] == "pending"  # untouched by the first link
    assert "Demande de connexion" in phone.open(second_link).text

    # answered: the first link is dead, before and after the browser hears of it
    again = phone.open(first_link)
    assert again.status == 410 and "ce lien ne sert plus" in again.text and "Confirmer" not in again.text
    assert "MON TABLEAU DE BORD" in browser.open(first.url).text
    assert phone.open(first_link).status == 410


@pytest.mark.parametrize("token", ["x" * 43, "A" * 43, "short", "a" * 5000, ".."])
def test_a_forged_or_guessed_link_is_a_clear_404(federation: Federation, browser: Browser, phone: Browser,
                                                  token: str):
    start_itsme(browser, federation)
    page = phone.open(f"{federation.urls['idp_csam']}/itsme-op/telephone/{token}")
    assert page.status == 404 and "lien itsme n'est pas (ou plus) valable" in page.text


def test_a_link_with_a_nul_character_is_refused_before_any_lookup(federation: Federation, browser: Browser,
                                                                  phone: Browser):
    start_itsme(browser, federation)
    page = phone.open(f"{federation.urls['idp_csam']}/itsme-op/telephone/%00")
    assert page.status == 400 and "caractère nul" in page.text


def test_the_link_stops_working_after_a_rejection_and_after_expiry(federation: Federation, browser: Browser,
                                                                   phone: Browser):
    waiting = start_itsme(browser, federation)
    phone.open(phone_link(waiting))
    assert "refusé la demande" in phone.click("Refuser").text
    page = phone.open(phone_link(waiting))
    assert page.status == 410 and "refusé cette demande" in page.text

    other = new_browser(federation)
    waiting = start_itsme(other, federation)
    with freeze_time(datetime.now(UTC) + timedelta(minutes=3, seconds=1)):
        page = phone.open(phone_link(waiting))
    assert page.status == 410 and "expiré" in page.text


def test_three_wrong_codes_refuse_the_request_and_csam_says_so(federation: Federation, browser: Browser,
                                                               phone: Browser):
    waiting = start_itsme(browser, federation)
    phone.open(phone_link(waiting))
    for left in (2, 1):
        page = phone.submit({"code": WRONG}, button="Confirmer")
        assert page.status == 400 and f"Il vous reste {left} essai" in page.text
    page = phone.submit({"code": WRONG}, button="Confirmer")
    assert page.status == 429 and "la demande est refusée" in page.text
    assert not page.tree.xpath("//input[@name='code']")  # nothing left to try on
    # even the right code cannot revive it
    page = phone.open(phone_link(waiting))
    assert page.status == 410 and "refusée après 3 codes itsme erronés" in page.text

    page = browser.open(waiting.url)  # the waiting page's next refresh: back to CSAM
    assert page.status == 400
    assert "refusée après 3 codes itsme erronés" in page.text
    assert "MON TABLEAU DE BORD" not in page.text
    with Database.factory(federation.apps["idp_csam"])() as db:
        auth = db.get(ItsmeAuthorization, waiting.url.rsplit("/", 1)[1])
        assert auth.tries == itsme_op.MAX_TRIES and auth.code is None


def test_a_malformed_code_is_not_a_try(federation: Federation, browser: Browser, phone: Browser):
    waiting = start_itsme(browser, federation)
    phone.open(phone_link(waiting))
    for code in ("12", "abcde", ""):
        page = phone.submit({"code": code}, button="Confirmer")
        assert page.status == 400 and "5 chiffres" in page.text
    page = phone.submit({"code": JEAN_CODE}, button="Confirmer")
    assert page.status == 200 and "Confirmé" in page.text


def test_overlong_fields_get_a_clear_400(federation: Federation, browser: Browser, phone: Browser):
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click(ITSME)
    page = browser.submit({"phone": "0" * 5000}, button="Envoyer une demande")
    assert page.status == 400 and "trop long" in page.text
    waiting = start_itsme(browser, federation, JEAN_PHONE)
    phone.open(phone_link(waiting))
    page = phone.submit({"code": "1" * 5000}, button="Confirmer")
    assert page.status == 400 and "5 chiffres" in page.text
    with Database.factory(federation.apps["idp_csam"])() as db:
        assert db.get(ItsmeAuthorization, waiting.url.rsplit("/", 1)[1]).tries == 0


def _pending_request(federation: Federation, request_id: str) -> None:
    app = federation.apps["idp_csam"]
    now = clock.naive_utc_now()
    with app.app_context(), Database.factory(app)() as db:
        phone = db.scalars(select(ItsmePhone.phone).where(ItsmePhone.nrn == by_id("jean").nrn)).first()
        db.add(ItsmeAuthorization(id=request_id, client_id=itsme_op.CLIENT_ID, redirect_uri="/", state="s",
                                  nonce="n", acr=itsme_op.ACR_ADVANCED, claims="[]", phone=phone, created_at=now,
                                  expires_at=now + itsme_op.REQUEST_LIFETIME,
                                  phone_link_digest=itsme_op.link_digest(itsme_op.phone_link_token(request_id))))
        db.commit()


def test_thirty_wrong_codes_at_once_check_three(federation: Federation):
    app = federation.apps["idp_csam"]
    _pending_request(federation, "race")
    outcomes = at_once(THREADS, with_db(app, lambda db: itsme_op.confirm(db, "race", WRONG)))
    assert sum(o.checked for o in outcomes) == itsme_op.MAX_TRIES
    assert {o.outcome for o in outcomes} <= {"wrong", "refused"}
    assert all(o.outcome == "refused" for o in outcomes if not o.checked)
    with Database.factory(app)() as db:
        auth = db.get(ItsmeAuthorization, "race")
        assert auth.tries == itsme_op.MAX_TRIES and auth.status == "refused" and auth.code is None


def test_the_right_code_after_the_limit_is_not_checked(federation: Federation):
    app = federation.apps["idp_csam"]
    _pending_request(federation, "limit")
    with app.app_context(), Database.factory(app)() as db:
        outcomes = [itsme_op.confirm(db, "limit", WRONG) for _ in range(itsme_op.MAX_TRIES)]
        assert [o.outcome for o in outcomes] == ["wrong", "wrong", "refused"]
        late = itsme_op.confirm(db, "limit", JEAN_CODE)
    assert late.outcome == "refused" and not late.checked


def test_purge_removes_refused_requests_and_their_link(federation: Federation):
    app = federation.apps["idp_csam"]
    _pending_request(federation, "old")
    with app.app_context(), Database.factory(app)() as db:
        for _ in range(itsme_op.MAX_TRIES):
            itsme_op.confirm(db, "old", WRONG)
        later = clock.naive_utc_now() + itsme_op.REQUEST_LIFETIME + GRACE + timedelta(minutes=1)
        assert itsme_op.purge(db, later) >= 1
        assert db.get(ItsmeAuthorization, "old") is None
        digest = itsme_op.link_digest(itsme_op.phone_link_token("old"))
        assert db.scalar(select(ItsmeAuthorization).where(ItsmeAuthorization.phone_link_digest == digest)) is None
