"""Counters and allocations of CSAM under concurrent requests (issue #9):
the eID card's PIN and PUK tries and the BEL paper code's tries are claimed
in the database before each check (``fedsim.attempts``), so 30 guesses sent
at once check at most the limit; BEL registrations sent at once never share
a BIS number, and the same form sent several times makes one registration."""
from __future__ import annotations

import threading
from datetime import date, timedelta

from at_once import at_once, with_db
from sqlalchemy import func, select

from fedsim import clock, nrn
from fedsim.db import Database
from fedsim.personas import by_id
from idp_csam import bel
from idp_csam.bel import BelRegistration, PaperCodeRefused, Person
from idp_csam.eid import PinRefused
from idp_csam.models import Citizen, EidCard

THREADS = 30


def _at_once(app, guess, threads: int = THREADS, request: bool = False) -> list[object]:
    """``guess(db)`` in ``threads`` threads released together, each with its
    own database session (and request context when ``request``); outcomes,
    or the refusal raised."""
    return at_once(threads, with_db(app, guess, request=request), refusals=(PinRefused, PaperCodeRefused))


def _card(app, number: str) -> EidCard:
    with Database.factory(app)() as db:
        card = db.get(EidCard, number)
        db.expunge(card)
        return card


def test_thirty_wrong_pins_at_once_check_three_and_block_the_card(federation):
    app = federation.apps["idp_csam"]
    reader = app.extensions["idp_csam.reader"]
    number = by_id("jean").card.number
    outcomes = _at_once(app, lambda db: reader.verify_pin(db, number, "0000"))
    assert all(isinstance(o, PinRefused) for o in outcomes)
    checked = [o for o in outcomes if o.message.startswith("Code PIN erroné")]
    assert len(checked) == reader.max_tries, [o.message for o in outcomes]
    assert all(o.unblock == number for o in outcomes if "Il vous reste" not in o.message)  # then the PUK
    card = _card(app, number)
    assert card.failed_pin_tries == reader.max_tries and card.is_blocked


def test_thirty_right_pins_at_once_never_count_as_wrong(federation):
    app = federation.apps["idp_csam"]
    reader = app.extensions["idp_csam.reader"]
    jean = by_id("jean")
    outcomes = _at_once(app, lambda db: reader.verify_pin(db, jean.card.number, jean.card.pin).nrn)
    assert outcomes.count(jean.nrn) >= 1
    # a right PIN is never counted as wrong (one sent while three others are
    # being checked waits for nothing: it is refused, as by a blocked card)
    assert not [o for o in outcomes if isinstance(o, PinRefused) and o.message.startswith("Code PIN erroné")]
    card = _card(app, jean.card.number)  # the last right PIN gave the tries back
    assert card.failed_pin_tries == 0 and not card.is_blocked


def test_thirty_wrong_puks_at_once_check_three_and_block_the_card_for_good(federation):
    app = federation.apps["idp_csam"]
    reader = app.extensions["idp_csam.reader"]
    jean = by_id("jean")
    with app.app_context(), Database.factory(app)() as db:
        for _ in range(reader.max_tries):
            try:
                reader.verify_pin(db, jean.card.number, "0000")
            except PinRefused:
                pass
    assert _card(app, jean.card.number).is_blocked
    outcomes = _at_once(app, lambda db: reader.unblock(db, jean.card.number, "000000", "8642", "8642"))
    assert all(isinstance(o, PinRefused) for o in outcomes)
    checked = [o for o in outcomes if o.message.startswith("Code PUK erroné")]
    assert len(checked) == reader.max_tries, [o.message for o in outcomes]
    assert all("définitivement bloquée" in o.message for o in outcomes if "Il vous reste" not in o.message)
    card = _card(app, jean.card.number)
    assert card.failed_puk_tries == reader.max_tries and card.is_blocked
    with app.app_context(), Database.factory(app)() as db:  # even the right PUK can do nothing now
        try:
            reader.unblock(db, jean.card.number, jean.card.puk, "8642", "8642")
        except PinRefused as refused:
            assert "définitivement bloquée" in refused.message
        else:
            raise AssertionError("a card blocked for good was unblocked")


def _registration(app, given_name: str = "Marie", born: date = date(1990, 4, 17)) -> tuple[int, str]:
    """A BEL registration made in the database; its id and paper code."""
    person = Person(given_name=given_name, surname="Durand", birth_date=born, nationality="française",
                    email=f"{given_name.lower()}.durand@example.fr")
    with app.test_request_context(), Database.factory(app)() as db:
        done = bel.register_person(db, person)
        return done.registration.id, done.paper_code


def test_thirty_wrong_paper_codes_at_once_check_five(federation):
    app = federation.apps["idp_csam"]
    registration_id, _ = _registration(app)
    outcomes = _at_once(app, lambda db: bel.check_paper_code(db, db.get(BelRegistration, registration_id),
                                                             "AAAA-AAAA"))
    assert all(isinstance(o, PaperCodeRefused) for o in outcomes)
    checked = [o for o in outcomes if o.message.startswith("Code unique incorrect")]
    assert len(checked) == bel.PAPER_CODE_MAX_ATTEMPTS, [o.message for o in outcomes]
    assert len([o for o in outcomes if o.blocked]) >= THREADS - bel.PAPER_CODE_MAX_ATTEMPTS + 1
    with Database.factory(app)() as db:
        assert db.get(BelRegistration, registration_id).code_attempts == bel.PAPER_CODE_MAX_ATTEMPTS


def test_the_right_paper_code_gives_the_tries_back(federation):
    app = federation.apps["idp_csam"]
    registration_id, paper_code = _registration(app)
    with app.app_context(), Database.factory(app)() as db:
        registration = db.get(BelRegistration, registration_id)
        for _ in range(bel.PAPER_CODE_MAX_ATTEMPTS - 1):
            try:
                bel.check_paper_code(db, registration, "AAAA-AAAA")
            except PaperCodeRefused:
                pass
        bel.check_paper_code(db, registration, paper_code.lower())  # the last try, right
        assert db.get(BelRegistration, registration_id).code_attempts == 0


def test_five_identical_registrations_at_once_make_one(federation):
    app = federation.apps["idp_csam"]
    person = Person(given_name="Marie", surname="Durand", birth_date=date(1990, 4, 17), nationality="française",
                    email="marie.durand@example.fr")
    outcomes = _at_once(app, lambda db: bel.register_person(db, person, browser="one-browser"), threads=5,
                        request=True)
    assert len({(o.citizen.nrn, o.registration.id, o.paper_code) for o in outcomes}) == 1
    assert [o.again for o in outcomes].count(False) == 1
    with Database.factory(app)() as db:
        assert db.scalar(select(func.count()).select_from(BelRegistration)) == 1
        assert db.scalar(select(func.count()).select_from(Citizen).where(Citizen.persona_id.like("bel-%"))) == 1


def test_people_born_the_same_day_registered_at_once_get_distinct_bis_numbers(federation):
    app = federation.apps["idp_csam"]
    born = date(1990, 4, 17)
    names = iter(f"Personne{i}" for i in range(10))
    lock = threading.Lock()

    def register(db):
        with lock:
            name = next(names)
        return bel.register_person(db, Person(given_name=name, surname="Durand", birth_date=born,
                                              nationality="française", email=f"{name.lower()}@example.fr"))

    outcomes = _at_once(app, register, threads=10, request=True)
    numbers = [o.citizen.nrn for o in outcomes]
    assert len(set(numbers)) == 10
    for number in numbers:
        parsed = nrn.parse(number)
        assert parsed.is_bis and parsed.sex is None and parsed.birth_date == born


def test_the_same_person_registered_again_later_gets_a_new_registration(federation):
    app = federation.apps["idp_csam"]
    person = Person(given_name="Marie", surname="Durand", birth_date=date(1990, 4, 17), nationality="française",
                    email="marie.durand@example.fr")
    with app.test_request_context(), Database.factory(app)() as db:
        first = bel.register_person(db, person, browser="b")
        again = bel.register_person(db, person, browser="b")
        other_browser = bel.register_person(db, person, browser="c")
        db.execute(bel.BelSubmission.__table__.update().values(
            created_at=clock.naive_utc_now() - bel.DOUBLE_SUBMIT_WINDOW - timedelta(seconds=1)))
        db.commit()
        later = bel.register_person(db, person, browser="b")
    assert again.again and again.registration.id == first.registration.id and again.paper_code == first.paper_code
    assert not other_browser.again and other_browser.citizen.nrn != first.citizen.nrn
    assert not later.again and later.registration.id not in (first.registration.id, other_browser.registration.id)
