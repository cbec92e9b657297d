"""The Cerbère Citoyen username an activation gives: initial + surname,
ASCII, numbered past the ones already taken."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from fedsim import clock
from monespace.accounts import AccountService
from monespace.models import Account, Base


@pytest.fixture
def db() -> Session:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def _account(db: Session, nrn: str, *, username: str | None = None) -> Account:
    account = Account(nrn=nrn, given_name="Naïma", surname="Mremi", email=f"{nrn}@example.org", language="fr",
                      status="active" if username else "pending", cerbere_username=username, contexts=["Citoyen"],
                      created_at=clock.naive_utc_now())
    db.add(account)
    db.flush()
    return account


def _activate(db: Session, account: Account) -> Account:
    service = AccountService(mailer=None, base_url="http://monespace.test", link_lifetime=timedelta(days=1))
    urls = service._new_links(db, account)
    db.commit()
    token = parse_qs(urlsplit(urls["activate"]).query)["jeton"][0]
    return service.activate(db, token)


def test_the_first_one_gets_the_plain_name(db: Session) -> None:
    assert _activate(db, _account(db, "85031215431")).cerbere_username == "nmremi"


def test_taken_names_are_skipped(db: Session) -> None:
    _account(db, "85031215432", username="nmremi")
    _account(db, "85031215433", username="nmremi2")
    activated = _activate(db, _account(db, "85031215434"))
    assert activated.cerbere_username == "nmremi3" and activated.is_active
