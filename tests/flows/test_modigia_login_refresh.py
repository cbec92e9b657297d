"""A Modigia login creates the learner once and then refreshes what the
identity provider sent (modigia_sp.services.user_from_login, on SQLAlchemy
Core); a pairwise NameID already known from another issuer is refused and
changes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from fedsim.db import Database
from fedsim.saml.errors import SamlRefused
from fedsim.saml.sp import SamlLogin
from fedsim_harness.stack import Federation
from modigia_sp.models import User
from modigia_sp.services import user_from_login

ISSUER = "http://localhost:5000/cerbere/metadata"


def login(name_id: str, issuer: str = ISSUER, **attributes: str) -> SamlLogin:
    return SamlLogin(issuer=issuer, name_id=name_id, attributes={k: [v] for k, v in attributes.items()},
                     authn_context=None, session_index=None, next_url="/")


def stored(federation: Federation, name_id: str) -> list[tuple]:
    with Database.factory(federation.apps["modigia_sp"])() as db:
        return [tuple(row) for row in db.execute(select(*User.__table__.columns).where(User.name_id == name_id))]


def test_a_later_login_refreshes_the_learner_and_keeps_its_id(federation: Federation) -> None:
    factory = Database.factory(federation.apps["modigia_sp"])
    fields = {"cerbereUsername": "ada.l", "givenName": "Ada", "surname": "Lovelace", "mail": "ada@example.org",
              "context": "Citoyen"}
    with factory() as db:
        first = user_from_login(db, login("pairwise-refresh-1", **fields), fields).id
    [created] = stored(federation, "pairwise-refresh-1")
    (user_id, _, issuer, username, given, surname, email, context, attributes, created_at, last_login) = created
    assert (user_id, issuer, username, given, surname, email, context) == \
        (first, ISSUER, "ada.l", "Ada", "Lovelace", "ada@example.org", "Citoyen")
    assert attributes == {k: [v] for k, v in fields.items()} and last_login == created_at

    changed = {"cerbereUsername": "ada.b", "givenName": "Ada", "surname": "Byron", "mail": "ada.b@example.org"}
    with factory() as db:
        again = user_from_login(db, login("pairwise-refresh-1", **changed), changed).id
    [refreshed] = stored(federation, "pairwise-refresh-1")
    assert again == first and refreshed[0] == first
    assert refreshed[3:8] == ("ada.b", "Ada", "Byron", "ada.b@example.org", "")  # no context sent: ""
    assert refreshed[8] == {k: [v] for k, v in changed.items()}
    assert refreshed[9] == created_at and refreshed[10] >= created_at


def test_a_name_id_known_from_another_issuer_is_refused_and_unchanged(federation: Federation) -> None:
    factory = Database.factory(federation.apps["modigia_sp"])
    fields = {"cerbereUsername": "bob", "givenName": "Bob", "surname": "Un", "mail": "bob@example.org"}
    with factory() as db:
        user_from_login(db, login("pairwise-taken-1", **fields))
    before = stored(federation, "pairwise-taken-1")
    with factory() as db, pytest.raises(SamlRefused, match="déjà celui d'un autre utilisateur de Modigia"):
        user_from_login(db, login("pairwise-taken-1", issuer="https://other-idp.example/metadata",
                                  cerbereUsername="mallory", givenName="Mal", surname="Lory", mail="m@example.org"))
    assert stored(federation, "pairwise-taken-1") == before and len(before) == 1
