"""A password hash made at another cost (werkzeug's default scrypt, pbkdf2,
from a database older than fedsim.passwords) still opens the account, and is
replaced at the right login by one at fedsim.passwords' cost; a wrong
password changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash as werkzeug_hash

from fedsim import passwords
from fedsim.db import Database
from fedsim.personas import by_id
from fedsim_harness.stack import Federation
from idp_csam.credentials import CsamAccount, PasswordRefused
from monespace.accounts import AccountService, LoginRefused
from monespace.models import Account


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2:sha256"])
def test_csam_upgrades_an_older_hash_at_the_right_login(federation: Federation, method: str) -> None:
    app, naima, nrn = federation.apps["idp_csam"], by_id("naima").csam, by_id("naima").nrn
    with app.app_context(), Database.factory(app)() as db:
        db.execute(update(CsamAccount).where(CsamAccount.username == naima.username)
                   .values(password_hash=werkzeug_hash(naima.password, method=method)))
        db.commit()
        credentials = app.extensions["idp_csam.credentials"]
        with pytest.raises(PasswordRefused):
            credentials.verify(db, naima.username, "not-" + naima.password)
        assert db.scalar(select(CsamAccount.password_hash).where(CsamAccount.username == naima.username)) \
            .startswith(method.split(":")[0])  # a wrong password upgrades nothing
        assert credentials.verify(db, naima.username, naima.password).nrn == nrn
        stored = db.scalar(select(CsamAccount.password_hash).where(CsamAccount.username == naima.username))
    assert not passwords.needs_rehash(stored) and passwords.check_password_hash(stored, naima.password)


def test_cerbere_upgrades_an_older_hash_at_the_right_login(federation: Federation) -> None:
    app = federation.apps["monespace"]
    with Database.factory(app)() as db:
        jean = db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one()
        AccountService.set_password(db, jean, "Un-mot-de-passe-solide")
        db.execute(update(Account).where(Account.id == jean.id)
                   .values(cerbere_password_hash=werkzeug_hash("Un-mot-de-passe-solide")))
        db.commit()
    with app.app_context(), Database.factory(app)() as db:
        with pytest.raises(LoginRefused):
            AccountService.password_login(db, "jdupont", "faux")
        assert passwords.needs_rehash(db.scalar(select(Account.cerbere_password_hash)
                                                .where(Account.cerbere_username == "jdupont")))
        AccountService.password_login(db, "jdupont", "Un-mot-de-passe-solide")
        stored = db.scalar(select(Account.cerbere_password_hash).where(Account.cerbere_username == "jdupont"))
    assert not passwords.needs_rehash(stored) and passwords.check_password_hash(stored, "Un-mot-de-passe-solide")
