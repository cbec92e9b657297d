"""fedsim.saml.idp beyond the round trip of test_saml_sp.py, with real keys
and metadata (conftest.py): the signature of an AuthnRequest checked on the
query string as received (lower-case hex accepted), ForceAuthn and
IsPassive read, NameIDPolicy (persistent, transient, refused), the
AuthnStatement (AuthnInstant, SessionIndex, SessionNotOnOrAfter) and the
signed error answers NoPassive and InvalidNameIDPolicy."""
from __future__ import annotations

import base64
import re
import secrets
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from saml2 import BINDING_HTTP_REDIRECT
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, \
    NAMEID_FORMAT_UNSPECIFIED
from saml2.samlp import NameIDPolicy
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.federation import Settings
from fedsim.saml import redirect
from fedsim.saml.errors import NameIdPolicyRefused, PassiveUnavailable, SamlRefused
from fedsim.saml.idp import AuthnRequestInfo, PostForm
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.state import OutstandingRequest

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
LEVEL = "urn:be:fedict:iam:fas:Level500"
ATTRIBUTES = {"egovNRN": ["85031215431"], "givenName": ["Naïma"], "surname": ["Mremi"]}
REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
INVALID_NAME_ID_POLICY = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"


# -- helpers -----------------------------------------------------------------


def start(sp: ServiceProvider, db: Session, **pysaml2_args) -> tuple[str, str]:  # noqa: ANN003
    """A signed AuthnRequest as ServiceProvider.start_login makes it, with
    extra pysaml2 arguments (``name_id_policy``); recorded as outstanding so
    that the SP accepts its answer. (raw query string, relay state)"""
    relay_state = secrets.token_urlsafe(24)
    request_id, info = sp.client.prepare_for_authenticate(
        entityid=sp.idp_entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT, sign=True,
        sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, **pysaml2_args)
    db.add(OutstandingRequest(request_id=request_id, relay_state=relay_state, next_url="/",
                              expires_at=clock.naive_utc_now() + timedelta(minutes=15)))
    db.commit()
    return urlsplit(dict(info["headers"])["Location"]).query, relay_state


def decode(form: PostForm) -> etree._Element:
    return etree.fromstring(base64.b64decode(form.fields["SAMLResponse"]))


def status_codes(root: etree._Element) -> list[str]:
    return root.xpath("samlp:Status//samlp:StatusCode/@Value", namespaces=NS)


def assert_signed_error(root: etree._Element, info: AuthnRequestInfo) -> None:
    assert root.get("InResponseTo") == info.request_id and root.get("Destination") == info.acs_url
    assert root.xpath("ds:Signature/ds:SignedInfo/ds:Reference/@URI", namespaces=NS) == ["#" + root.get("ID")]
    assert not root.xpath("saml:Assertion", namespaces=NS)


def lower_hex(value: str) -> str:
    """Percent-encode every reserved character, with lower-case hex digits."""
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(value, safe=""))


def sign(data: str, key_file: Path) -> str:
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    return base64.b64encode(key.sign(data.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


# -- the signature, on the query string as received --------------------------------


def test_lower_case_hex_query_signed_as_sent_is_accepted(sp, idp, db, settings: Settings) -> None:
    query, relay_state = start(sp, db)
    args = redirect.parse(query)
    signed = "&".join(f"{name}={lower_hex(args[name])}" for name in ("SAMLRequest", "RelayState", "SigAlg"))
    assert "%2f" in signed and "%2F" not in signed  # really encoded otherwise than pysaml2 would
    signature = sign(signed, settings.certs_dir / "monespace-sp.key")
    info = idp.parse_redirect(f"{signed}&Signature={lower_hex(signature)}")
    assert info.relay_state == relay_state and info.sp_entity_id == sp.entity_id
    # the same values, re-encoded in upper-case hex, are not what was signed
    with pytest.raises(SamlRefused, match="Signature absente ou invalide"):
        idp.parse_redirect(dict(args, Signature=signature))


def test_raw_query_from_pysaml2_is_accepted_as_is(sp, idp, db) -> None:
    query, relay_state = start(sp, db)
    assert idp.parse_redirect(query).relay_state == relay_state


def test_repeated_parameter_is_refused(sp, idp, db) -> None:
    query, _ = start(sp, db)
    with pytest.raises(SamlRefused, match="répété"):
        idp.parse_redirect(query + "&RelayState=other")


def test_request_naming_an_unknown_sp_says_so(sp, idp, db) -> None:
    query, _ = start(sp, db)
    args = redirect.parse(query)
    xml = zlib.decompress(base64.b64decode(args["SAMLRequest"]), -15).decode()
    compressor = zlib.compressobj(wbits=-15)
    deflated = compressor.compress(xml.replace(sp.entity_id, "https://inconnu.example/sp").encode())
    args["SAMLRequest"] = base64.b64encode(deflated + compressor.flush()).decode()
    with pytest.raises(SamlRefused, match="Service inconnu"):
        idp.parse_redirect(args)


# -- ForceAuthn, IsPassive -----------------------------------------------------------


@pytest.mark.parametrize("force_authn, is_passive", [(False, False), (True, False), (False, True), (True, True)])
def test_force_authn_and_is_passive_are_read(sp, idp, db, force_authn: bool, is_passive: bool) -> None:
    url, _ = sp.start_login(db, "/", force_authn=force_authn, is_passive=is_passive)
    info = idp.parse_redirect(urlsplit(url).query)
    assert (info.force_authn, info.is_passive) == (force_authn, is_passive)
    assert datetime.fromisoformat(info.received_at) <= clock.now()


def test_no_passive_is_a_signed_responder_error_the_sp_understands(sp, idp, db) -> None:
    query, relay_state = start(sp, db, is_passive="true")
    info = idp.parse_redirect(query)
    form = idp.respond_no_passive(info)
    root = decode(form)
    assert_signed_error(root, info)
    assert status_codes(root) == [RESPONDER, NO_PASSIVE]
    with pytest.raises(PassiveUnavailable):
        sp.accept(db, form.fields["SAMLResponse"], relay_state, [relay_state])


# -- NameIDPolicy --------------------------------------------------------------------


@pytest.mark.parametrize("policy, expected", [
    (None, NAMEID_FORMAT_PERSISTENT),
    (NameIDPolicy(format=NAMEID_FORMAT_PERSISTENT, allow_create="true"), NAMEID_FORMAT_PERSISTENT),
    (NameIDPolicy(format=NAMEID_FORMAT_UNSPECIFIED), NAMEID_FORMAT_PERSISTENT),
    (NameIDPolicy(allow_create="true"), NAMEID_FORMAT_PERSISTENT),
    (NameIDPolicy(format=NAMEID_FORMAT_TRANSIENT), NAMEID_FORMAT_TRANSIENT),
], ids=["none", "persistent", "unspecified", "no-format", "transient"])
def test_name_id_policy_that_can_be_met(sp, idp, db, policy: NameIDPolicy | None, expected: str) -> None:
    query, _ = start(sp, db, **({"name_id_policy": policy} if policy else {}))
    info = idp.parse_redirect(query)
    assert info.name_id_format == expected and not info.name_id_refusal
    assert idp.refuse_policy(info) is None
    answer = idp.respond(info, subject="pairwise-subject", attributes=ATTRIBUTES, authn_context=LEVEL)
    name_id, = decode(answer).xpath("saml:Assertion/saml:Subject/saml:NameID", namespaces=NS)
    assert name_id.get("Format") == expected == answer.name_id_format
    assert name_id.get("SPNameQualifier") == sp.entity_id and name_id.get("NameQualifier") == idp.entity_id
    assert (name_id.text == "pairwise-subject") == (expected == NAMEID_FORMAT_PERSISTENT)


def test_transient_name_id_is_fresh_for_every_response(sp, idp, db) -> None:
    query, relay_state = start(sp, db, name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_TRANSIENT))
    info = idp.parse_redirect(query)
    answers = [idp.respond(info, subject="pairwise-subject", attributes=ATTRIBUTES, authn_context=LEVEL)
               for _ in range(3)]
    values = {a.name_id for a in answers}
    assert len(values) == 3 and "pairwise-subject" not in values
    assert all(len(v) >= 32 for v in values)
    login = sp.accept(db, answers[0].fields["SAMLResponse"], relay_state, [relay_state])
    assert login.name_id == answers[0].name_id


@pytest.mark.parametrize("policy, why", [
    (NameIDPolicy(format=NAMEID_FORMAT_EMAILADDRESS), "Format d'identifiant non pris en charge"),
    (NameIDPolicy(format="urn:example:made-up-format"), "Format d'identifiant non pris en charge"),
    (NameIDPolicy(format=NAMEID_FORMAT_PERSISTENT, sp_name_qualifier="https://autre.example/sp"),
     "SPNameQualifier"),
], ids=["email", "unknown", "other-sp-name-qualifier"])
def test_name_id_policy_that_cannot_be_met_gets_invalid_name_id_policy(sp, idp, db, policy: NameIDPolicy,
                                                                       why: str) -> None:
    query, relay_state = start(sp, db, name_id_policy=policy)
    info = idp.parse_redirect(query)
    assert why in info.name_id_refusal
    form = idp.refuse_policy(info)
    root = decode(form)
    assert_signed_error(root, info)
    assert status_codes(root) == [REQUESTER, INVALID_NAME_ID_POLICY]
    assert why in root.xpath("string(samlp:Status/samlp:StatusMessage)", namespaces=NS)
    with pytest.raises(NameIdPolicyRefused):
        sp.accept(db, form.fields["SAMLResponse"], relay_state, [relay_state])


def test_sp_name_qualifier_naming_the_sp_itself_is_fine(sp, idp, db) -> None:
    query, _ = start(sp, db, name_id_policy=NameIDPolicy(format=NAMEID_FORMAT_PERSISTENT,
                                                          sp_name_qualifier=sp.entity_id))
    assert idp.refuse_policy(idp.parse_redirect(query)) is None


# -- the AuthnStatement -------------------------------------------------------------


def test_authn_statement_says_when_the_person_authenticated_and_until_when(sp, idp, db) -> None:
    query, relay_state = start(sp, db)
    info = idp.parse_redirect(query)
    authenticated = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    ends = clock.now().replace(microsecond=0) + timedelta(hours=7)
    answer = idp.respond(info, subject="s", attributes=ATTRIBUTES, authn_context=LEVEL,
                         authn_instant=authenticated, session_index="_csam-session-1",
                         session_not_on_or_after=ends)
    statement, = decode(answer).xpath("saml:Assertion/saml:AuthnStatement", namespaces=NS)
    assert statement.get("AuthnInstant") == "2024-05-06T07:08:09Z"
    assert statement.get("SessionIndex") == "_csam-session-1" == answer.session_index
    assert statement.get("SessionNotOnOrAfter") == ends.strftime("%Y-%m-%dT%H:%M:%SZ")
    login = sp.accept(db, answer.fields["SAMLResponse"], relay_state, [relay_state])
    assert login.session_index == "_csam-session-1"
    if hasattr(login, "authn_instant"):
        assert login.authn_instant == authenticated


def test_session_index_is_new_for_every_answer_unless_given(sp, idp, db) -> None:
    info = idp.parse_redirect(start(sp, db)[0])
    indexes = {idp.respond(info, subject="s", attributes=ATTRIBUTES, authn_context=LEVEL).session_index
               for _ in range(2)}
    assert len(indexes) == 2 and all(indexes)
