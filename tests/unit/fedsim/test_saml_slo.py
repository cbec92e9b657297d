"""fedsim.saml.slo between Mon Espace's SP and CSAM, with real keys and
metadata (conftest.py): what a LogoutRequest carries (NameID with its
qualifiers, SessionIndex), whether it concerns a session (``mismatch``),
freshness (IssueInstant, NotOnOrAfter) and replay, and the statuses a
LogoutResponse can say (Success, PartialLogout, UnknownPrincipal)."""
from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.saml import state
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.slo import LogoutService, ReceivedLogout
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.state import SeenLogoutRequest

PARTIAL_LOGOUT = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
UNKNOWN_PRINCIPAL = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"


@pytest.fixture
def sp_slo(sp: ServiceProvider) -> LogoutService:
    return LogoutService(sp.client)


@pytest.fixture
def idp_slo(idp: IdentityProvider) -> LogoutService:
    return LogoutService(idp.server)


def query(url: str) -> str:
    return urlsplit(url).query


def seen(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(SeenLogoutRequest))


def test_request_carries_name_id_qualifiers_and_session_index(sp_slo, idp_slo, sp, idp, db) -> None:
    url, request_id = sp_slo.request(idp.entity_id, "pairwise-1", "_csam-session", relay_state="r")
    received = idp_slo.receive(query(url), db)
    assert (received.kind, received.issuer, received.message_id) == ("request", sp.entity_id, request_id)
    assert received.name_id == "pairwise-1"
    assert (received.name_qualifier, received.sp_name_qualifier) == (idp.entity_id, sp.entity_id)
    assert received.session_indexes == ("_csam-session",)
    assert received.relay_state == "r"
    assert seen(db) == 1


def test_request_without_session_index_when_none_is_known(sp_slo, idp_slo, idp, db) -> None:
    url, _ = sp_slo.request(idp.entity_id, "pairwise-1", None)
    assert idp_slo.receive(query(url), db).session_indexes == ()


def test_request_with_a_transient_name_id_says_so(sp_slo, idp_slo, idp, db) -> None:
    url, _ = sp_slo.request(idp.entity_id, "_random", None, name_id_format=NAMEID_FORMAT_TRANSIENT)
    assert idp_slo.receive(query(url), db).name_id_format == NAMEID_FORMAT_TRANSIENT


@pytest.mark.parametrize("name_id, session_index, indexes, qualifiers, matches", [
    ("pairwise-1", "_s1", ("_s1",), {}, True),
    ("pairwise-1", "_s1", (), {}, True),                 # no SessionIndex: every session (core 3.7.3.2)
    ("pairwise-1", None, ("_s1",), {}, True),            # the session knows none: not compared
    ("pairwise-1", "_s1", ("_s0", "_s1"), {}, True),
    ("someone-else", "_s1", ("_s1",), {}, False),
    ("pairwise-1", "_s1", ("_s2",), {}, False),
    ("pairwise-1", "_s1", ("_s1",), {"name_qualifier": "https://other.example/idp"}, False),
    ("pairwise-1", "_s1", ("_s1",), {"sp_name_qualifier": "https://other.example/sp"}, False),
], ids=["same", "no-index-in-request", "no-index-in-session", "among-several", "other-name-id",
        "other-session-index", "other-name-qualifier", "other-sp-name-qualifier"])
def test_mismatch(idp_slo, sp, idp, name_id: str, session_index: str | None, indexes: tuple[str, ...],
                  qualifiers: dict, matches: bool) -> None:
    received = ReceivedLogout("request", sp.entity_id, "_id", name_id=name_id, session_indexes=indexes,
                              name_qualifier=idp.entity_id, sp_name_qualifier=sp.entity_id)
    received = replace(received, **qualifiers)
    why = idp_slo.mismatch(received, "pairwise-1", session_index)
    assert (why == "") == matches, why


# -- freshness and replay ------------------------------------------------------------


def test_replayed_request_is_refused(sp_slo, idp_slo, idp, db) -> None:
    url, _ = sp_slo.request(idp.entity_id, "pairwise-1", "_s1")
    idp_slo.receive(query(url), db)
    with pytest.raises(SamlRefused, match="rejouée"):
        idp_slo.receive(query(url), db)
    assert seen(db) == 1


def test_stale_request_is_refused_and_not_remembered(sp_slo, idp_slo, idp, db) -> None:
    url, _ = sp_slo.request(idp.entity_id, "pairwise-1", "_s1")
    with freeze_time(clock.now() + timedelta(minutes=6, seconds=30)):  # 5 minutes + 60 s of skew, passed
        with pytest.raises(SamlRefused, match="périmé"):
            idp_slo.receive(query(url), db)
    assert seen(db) == 0


def test_request_within_its_lifetime_is_accepted(sp_slo, idp_slo, idp, db) -> None:
    url, _ = sp_slo.request(idp.entity_id, "pairwise-1", "_s1")
    with freeze_time(clock.now() + timedelta(minutes=5, seconds=30)):
        idp_slo.receive(query(url), db)


def test_request_from_the_future_is_refused(sp_slo, idp_slo, idp, db) -> None:
    with freeze_time(clock.now() + timedelta(minutes=3)):
        url, _ = sp_slo.request(idp.entity_id, "pairwise-1", "_s1")
    with pytest.raises(SamlRefused, match="futur"):
        idp_slo.receive(query(url), db)


def test_request_past_its_not_on_or_after_is_refused(sp_slo, idp_slo, sp, idp, db) -> None:
    destination = idp_slo.entity.config.endpoint("single_logout_service", BINDING_HTTP_REDIRECT, "idp")[0]
    expire = (datetime.now(timezone.utc) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _, message = sp.client.create_logout_request(destination, idp.entity_id, name_id=NameID(text="pairwise-1"),
                                                 expire=expire, sign=False)
    url = sp_slo._redirect(message, destination, "", response=False)  # noqa: SLF001 - sign as request() does
    with pytest.raises(SamlRefused, match="NotOnOrAfter"):
        idp_slo.receive(query(url), db)


def test_remembered_ids_are_purged_once_useless(sp_slo, idp_slo, idp, db) -> None:
    url, _ = sp_slo.request(idp.entity_id, "pairwise-1", "_s1")
    idp_slo.receive(query(url), db)
    state.purge(db, clock.naive_utc_now())
    assert seen(db) == 1
    state.purge(db, clock.naive_utc_now() + timedelta(minutes=7))
    assert seen(db) == 0


# -- what the answer says ------------------------------------------------------------


def received_request(sp_slo: LogoutService, idp_slo: LogoutService, idp, db) -> ReceivedLogout:  # noqa: ANN001
    url, _ = sp_slo.request(idp.entity_id, "pairwise-1", "_s1")
    return idp_slo.receive(query(url), db)


def test_success(sp_slo, idp_slo, idp, db) -> None:
    asked = received_request(sp_slo, idp_slo, idp, db)
    answer = sp_slo.receive(query(idp_slo.respond(asked)), db)
    assert (answer.kind, answer.in_response_to) == ("response", asked.message_id)
    assert answer.success and answer.complete and not answer.partial


def test_partial_logout(sp_slo, idp_slo, idp, db) -> None:
    asked = received_request(sp_slo, idp_slo, idp, db)
    answer = sp_slo.receive(query(idp_slo.respond_partial(asked, "Déconnexion partielle : X n'a pas confirmé.")), db)
    assert answer.success and answer.partial and not answer.complete
    assert answer.status == PARTIAL_LOGOUT
    assert answer.status_message == "Déconnexion partielle : X n'a pas confirmé."


def test_unknown_principal(sp_slo, idp_slo, idp, db) -> None:
    asked = received_request(sp_slo, idp_slo, idp, db)
    answer = sp_slo.receive(query(idp_slo.respond_unknown(asked, "pas cette session.")), db)
    assert not answer.success and not answer.complete
    assert answer.status == UNKNOWN_PRINCIPAL
    assert "pas cette session" in answer.status_message
    assert seen(db) == 1  # responses are not kept: InResponseTo ties them to one request


def test_received_logout_survives_the_session(sp_slo, idp_slo, idp, db) -> None:
    """A logout plan keeps the initiator's request in the session (JSON)."""
    asked = received_request(sp_slo, idp_slo, idp, db)
    assert ReceivedLogout.from_dict(json.loads(json.dumps(asdict(asked)))) == asked


def test_peer_name_comes_from_metadata(idp_slo, sp) -> None:
    assert idp_slo.peer_name(sp.entity_id) == "Mon Espace"
    assert idp_slo.peer_name("https://unknown.example/sp") == "https://unknown.example/sp"
