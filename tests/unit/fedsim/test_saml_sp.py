"""The strict SAML SP and the IdP services (fedsim.saml.sp / fedsim.saml.idp)
with real keys and metadata made under tmp_path: a real round trip as the
positive control, then every way a Response or an AuthnRequest must be
refused, each time checking that the SP stored nothing."""
from __future__ import annotations

import base64
import dataclasses
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from freezegun import freeze_time
from lxml import etree
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fedsim import trust
from fedsim.federation import Settings, entities
from fedsim.saml import config as saml_config
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider, PostForm
from fedsim.saml.sp import SamlLogin, ServiceProvider
from fedsim.saml.state import OutstandingRequest, SeenAssertion

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
LEVEL = "urn:be:fedict:iam:fas:Level500"
ATTRIBUTES = {"egovNRN": ["85031215431"], "givenName": ["Naïma"], "surname": ["Mremi"],
              "mail": ["naima.mremi@example.be"]}


# The federation under tmp_path (settings, idp, sp, engine, db…): conftest.py.


# -- helpers -----------------------------------------------------------------


def query_args(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclasses.dataclass
class Login:
    """One login started by the SP and accepted by the IdP."""
    args: dict[str, str]
    relay_state: str
    info: AuthnRequestInfo


def start(sp: ServiceProvider, idp: IdentityProvider, db: Session, next_url: str = "/tableau-de-bord") -> Login:
    url, relay_state = sp.start_login(db, next_url)
    args = query_args(url)
    return Login(args, relay_state, idp.parse_redirect(args))


def answer(idp: IdentityProvider, info: AuthnRequestInfo) -> PostForm:
    return idp.respond(info, subject="pairwise-subject", attributes=ATTRIBUTES, authn_context=LEVEL)


def answer_raw(idp: IdentityProvider, info: AuthnRequestInfo, *, sign_response: bool = True,
               sign_assertion: bool = True) -> str:
    """What IdentityProvider.respond does, with the signing switches exposed."""
    name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text="pairwise-subject",
                     name_qualifier=idp.entity_id, sp_name_qualifier=info.sp_entity_id)
    response = idp.server.create_authn_response(
        identity=ATTRIBUTES, in_response_to=info.request_id, destination=info.acs_url,
        sp_entity_id=info.sp_entity_id, name_id=name_id, authn={"class_ref": LEVEL},
        sign_response=sign_response, sign_assertion=sign_assertion,
        sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    return base64.b64encode(str(response).encode("utf-8")).decode("ascii")


def decode(saml_response: str) -> etree._Element:
    return etree.fromstring(base64.b64decode(saml_response))


def encode(root: etree._Element) -> str:
    return base64.b64encode(etree.tostring(root, xml_declaration=True, encoding="UTF-8")).decode("ascii")


def edit(saml_response: str, change: Callable[[etree._Element], None]) -> str:
    root = decode(saml_response)
    change(root)
    return encode(root)


@dataclasses.dataclass(frozen=True)
class Stored:
    seen: int
    outstanding: int
    answered: int


def stored(engine) -> Stored:
    """What is committed in the SP's database, read through a new session."""
    with Session(engine) as fresh:
        return Stored(
            seen=fresh.scalar(select(func.count()).select_from(SeenAssertion)),
            outstanding=fresh.scalar(select(func.count()).select_from(OutstandingRequest)),
            answered=fresh.scalar(select(func.count()).select_from(OutstandingRequest)
                                  .where(OutstandingRequest.answered_at.is_not(None))),
        )


def refused(sp: ServiceProvider, db: Session, engine, saml_response: str | None, relay_state: str | None,
            browser: list[str]) -> SamlRefused:
    """Accept must refuse, and leave the database exactly as it was."""
    before = stored(engine)
    with pytest.raises(SamlRefused) as caught:
        sp.accept(db, saml_response, relay_state, browser)
    assert not db.new and not db.dirty and not db.deleted, "accept left changes pending in the session"
    db.rollback()
    assert stored(engine) == before, "a refused response changed the SP's database"
    assert caught.value.reason, "a refusal must say why"
    return caught.value


# -- positive control ----------------------------------------------------------


def test_round_trip(sp: ServiceProvider, idp: IdentityProvider, db: Session, engine, settings: Settings) -> None:
    login = start(sp, idp, db, "/demarches/")
    assert login.info.sp_entity_id == sp.entity_id
    assert login.info.acs_url == entities(settings)["monespace-sp"].url("acs")
    assert login.info.relay_state == login.relay_state
    assert stored(engine) == Stored(seen=0, outstanding=1, answered=0)

    form = answer(idp, login.info)
    assert form.action == login.info.acs_url
    assert form.fields["RelayState"] == login.relay_state

    result = sp.accept(db, form.fields["SAMLResponse"], form.fields["RelayState"], [login.relay_state])
    assert isinstance(result, SamlLogin)
    assert result.issuer == idp.entity_id
    assert result.name_id == "pairwise-subject"
    assert result.attributes["egovNRN"] == ["85031215431"]
    assert result.first("givenName") == "Naïma"
    assert result.first("mail") == "naima.mremi@example.be"
    assert result.authn_context == LEVEL
    assert result.next_url == "/demarches/"
    assert stored(engine) == Stored(seen=1, outstanding=1, answered=1)


def test_answer_raw_with_both_signatures_is_accepted(sp: ServiceProvider, idp: IdentityProvider,
                                                     db: Session) -> None:
    """answer_raw with both signatures is as good as respond(): it is a fair
    base for the single-signature variants below."""
    login = start(sp, idp, db)
    result = sp.accept(db, answer_raw(idp, login.info), login.relay_state, [login.relay_state])
    assert result.first("egovNRN") == "85031215431"


# -- signatures ------------------------------------------------------------------


def _drop(xpath: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        found = root.xpath(xpath, namespaces=NS)
        assert found, f"nothing at {xpath}"
        for node in found:
            node.getparent().remove(node)
    return change


RESPONSE_SIGNATURE = "/samlp:Response/ds:Signature"
ASSERTION_SIGNATURE = "/samlp:Response/saml:Assertion/ds:Signature"


@pytest.mark.parametrize("xpath", [RESPONSE_SIGNATURE, ASSERTION_SIGNATURE,
                                   f"{RESPONSE_SIGNATURE}|{ASSERTION_SIGNATURE}"],
                         ids=["response-signature", "assertion-signature", "both"])
def test_signature_removed(sp, idp, db, engine, xpath: str) -> None:
    login = start(sp, idp, db)
    message = edit(answer(idp, login.info).fields["SAMLResponse"], _drop(xpath))
    why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "signature" in why.reason.lower()


def test_response_signed_but_assertion_unsigned_by_the_genuine_idp(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    message = answer_raw(idp, login.info, sign_response=True, sign_assertion=False)
    assert not decode(message).xpath(ASSERTION_SIGNATURE, namespaces=NS)
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


def test_assertion_signed_but_response_unsigned_by_the_genuine_idp(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    message = answer_raw(idp, login.info, sign_response=False, sign_assertion=True)
    assert not decode(message).xpath(RESPONSE_SIGNATURE, namespaces=NS)
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


@pytest.mark.parametrize("name, value", [("egovNRN", "78020106109"), ("givenName", "Mallory")])
def test_attribute_tampered_after_signing(sp, idp, db, engine, name: str, value: str) -> None:
    login = start(sp, idp, db)

    def change(root: etree._Element) -> None:
        values = root.xpath(f"//saml:Attribute[@Name='{name}']/saml:AttributeValue", namespaces=NS)
        assert values
        values[0].text = value

    message = edit(answer(idp, login.info).fields["SAMLResponse"], change)
    why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "signature" in why.reason.lower()


def test_authn_context_tampered_after_signing(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)

    def change(root: etree._Element) -> None:
        ref, = root.xpath("//saml:AuthnContextClassRef", namespaces=NS)
        ref.text = "urn:be:fedict:iam:fas:Level100"

    message = edit(answer(idp, login.info).fields["SAMLResponse"], change)
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


def test_signed_by_a_key_not_in_metadata(sp, idp, db, engine, impostor_settings: Settings) -> None:
    """Same entityID as CSAM, same endpoints, but a key of its own (its
    certificate travels in KeyInfo): the SP must only trust metadata."""
    login = start(sp, idp, db)
    impostor = IdentityProvider(trust.entity_config(impostor_settings, "csam-idp"))
    assert impostor.entity_id == idp.entity_id
    message = answer(impostor, login.info).fields["SAMLResponse"]
    assert decode(message).xpath("//ds:X509Certificate", namespaces=NS), "impostor should show its cert"
    why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "signature" in why.reason.lower() or "clé" in why.reason.lower()


def test_impostor_certificate_swapped_into_keyinfo_of_genuine_message(sp, idp, db, engine,
                                                                    impostor_settings: Settings) -> None:
    """Re-signing with another key and copying the genuine KeyInfo is no better."""
    login = start(sp, idp, db)
    impostor = IdentityProvider(trust.entity_config(impostor_settings, "csam-idp"))
    genuine_certs = [c.text for c in decode(answer(idp, login.info).fields["SAMLResponse"])
                     .xpath("//ds:X509Certificate", namespaces=NS)]

    def change(root: etree._Element) -> None:
        for cert, text in zip(root.xpath("//ds:X509Certificate", namespaces=NS), genuine_certs):
            cert.text = text  # KeyInfo is outside SignedInfo: this keeps the impostor's signatures intact

    message = edit(answer(impostor, login.info).fields["SAMLResponse"], change)
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


# -- time --------------------------------------------------------------------------


def _instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _issue_instant(saml_response: str) -> datetime:
    return _instant(decode(saml_response).get("IssueInstant"))


def test_still_valid_just_inside_lifetime(sp, idp, db) -> None:
    """Control for the expiry test: freezegun does move pysaml2's clock, and
    an answer used within its lifetime (5 min) is accepted."""
    login = start(sp, idp, db)
    message = answer(idp, login.info).fields["SAMLResponse"]
    with freeze_time(_issue_instant(message) + timedelta(minutes=4)):
        sp.accept(db, message, login.relay_state, [login.relay_state])


def test_expired_assertion_refused(sp, idp, db, engine) -> None:
    """Past NotOnOrAfter (issue + 5 min) plus the accepted skew (60 s); the
    SP's own request stays valid 15 min, so only the assertion is too old."""
    login = start(sp, idp, db)
    message = answer(idp, login.info).fields["SAMLResponse"]
    limit = min(_instant(t) for t in decode(message).xpath("//@NotOnOrAfter"))
    assert limit <= _issue_instant(message) + timedelta(minutes=5)
    with freeze_time(limit + timedelta(seconds=60 + 30)):
        why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "expiré" in why.reason


def test_not_yet_valid_refused(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    message = answer(idp, login.info).fields["SAMLResponse"]
    with freeze_time(_issue_instant(message) - timedelta(minutes=10)):
        refused(sp, db, engine, message, login.relay_state, [login.relay_state])


def test_request_expired_before_answer(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    with freeze_time(datetime.now(timezone.utc) + timedelta(minutes=16)):
        message = answer(idp, login.info).fields["SAMLResponse"]  # a fresh answer, to a stale request
        why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "expiré" in why.reason


# -- audience and destination -------------------------------------------------


@pytest.fixture
def idp_knowing_both_sps(settings: Settings) -> IdentityProvider:
    """The genuine CSAM key, but also trusting Modigia's metadata, so that it
    will sign an answer meant for Modigia."""
    table = entities(settings)
    peers = [saml_config.metadata_file(settings.certs_dir, table[n]) for n in ("monespace-sp", "modigia-sp")]
    return IdentityProvider(saml_config.load(saml_config.config_dict(table["csam-idp"], settings.certs_dir, peers)))


def test_wrong_audience(sp, idp, db, engine, settings, idp_knowing_both_sps) -> None:
    login = start(sp, idp, db)
    other = entities(settings)["modigia-sp"].entity_id
    info = dataclasses.replace(login.info, sp_entity_id=other)  # ACS and InResponseTo still ours
    message = answer(idp_knowing_both_sps, info).fields["SAMLResponse"]
    assert decode(message).xpath("//saml:Audience/text()", namespaces=NS) == [other]
    why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "audience" in why.reason.lower()


def test_wrong_destination(sp, idp, db, engine, settings, idp_knowing_both_sps) -> None:
    login = start(sp, idp, db)
    info = dataclasses.replace(login.info, acs_url=entities(settings)["modigia-sp"].url("acs"))
    message = answer(idp_knowing_both_sps, info).fields["SAMLResponse"]
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


def test_audience_tampered_after_signing(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)

    def change(root: etree._Element) -> None:
        audience, = root.xpath("//saml:Audience", namespaces=NS)
        audience.text = "https://elsewhere.example/sp"

    refused(sp, db, engine, edit(answer(idp, login.info).fields["SAMLResponse"], change),
            login.relay_state, [login.relay_state])


# -- replay and unsolicited -----------------------------------------------------


def test_same_response_twice(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    form = answer(idp, login.info)
    sp.accept(db, form.fields["SAMLResponse"], login.relay_state, [login.relay_state])
    assert stored(engine) == Stored(seen=1, outstanding=1, answered=1)
    why = refused(sp, db, engine, form.fields["SAMLResponse"], login.relay_state, [login.relay_state])
    assert "rejou" in why.reason


def test_same_assertion_under_a_new_request(sp, idp, db, engine) -> None:
    first = start(sp, idp, db)
    old = answer(idp, first.info).fields["SAMLResponse"]
    sp.accept(db, old, first.relay_state, [first.relay_state])
    second = start(sp, idp, db)
    refused(sp, db, engine, old, second.relay_state, [first.relay_state, second.relay_state])


def test_answer_to_one_request_posted_with_another_relay_state(sp, idp, db, engine) -> None:
    """Two logins pending in one browser: A's answer cannot complete B."""
    a, b = start(sp, idp, db), start(sp, idp, db)
    message = answer(idp, a.info).fields["SAMLResponse"]
    refused(sp, db, engine, message, b.relay_state, [a.relay_state, b.relay_state])
    # and A's own answer still works: nothing was consumed
    sp.accept(db, message, a.relay_state, [a.relay_state, b.relay_state])


def test_assertion_id_already_in_replay_cache(sp, idp, db, engine) -> None:
    """A fresh, genuine response whose assertion ID was seen before (e.g. the
    IdP re-sent it): the replay cache refuses it and the request stays open."""
    login = start(sp, idp, db)
    message = answer(idp, login.info).fields["SAMLResponse"]
    assertion_id, = decode(message).xpath("/samlp:Response/saml:Assertion/@ID", namespaces=NS)
    db.add(SeenAssertion(assertion_id=assertion_id, issuer=idp.entity_id,
                         seen_at=datetime.now(timezone.utc).replace(tzinfo=None)))
    db.commit()
    why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "rejou" in why.reason
    assert stored(engine).answered == 0


@pytest.mark.parametrize("case", ["no-relay-state", "empty-relay-state", "unknown-relay-state",
                                  "not-this-browser"])
def test_unsolicited(sp, idp, db, engine, case: str) -> None:
    login = start(sp, idp, db)
    message = answer(idp, login.info).fields["SAMLResponse"]
    relay, browser = {
        "no-relay-state": (None, [login.relay_state]),
        "empty-relay-state": ("", [login.relay_state, ""]),
        "unknown-relay-state": ("made-up-relay-state", [login.relay_state, "made-up-relay-state"]),
        "not-this-browser": (login.relay_state, []),
    }[case]
    refused(sp, db, engine, message, relay, browser)
    # the genuine login can still complete afterwards
    sp.accept(db, message, login.relay_state, [login.relay_state])


def test_idp_initiated_response_refused(sp, idp, db, engine) -> None:
    """A genuine, signed response to no request at all (no InResponseTo)."""
    login = start(sp, idp, db)
    message = answer_raw(idp, dataclasses.replace(login.info, request_id=None))
    assert decode(message).get("InResponseTo") is None
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


# -- malformed input -----------------------------------------------------------------


def test_doctype_refused(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    xml = base64.b64decode(answer(idp, login.info).fields["SAMLResponse"]).decode("utf-8")
    declaration, rest = xml.split("?>", 1)
    doctype = '<!DOCTYPE Response [<!ENTITY who "Mallory">]>'
    message = base64.b64encode(f"{declaration}?>{doctype}{rest}".encode("utf-8")).decode("ascii")
    why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert "DOCTYPE" in why.reason or "illisible" in why.reason


@pytest.mark.parametrize("message", [
    "",
    None,
    "%%% not base64 %%%",
    base64.b64encode(b"not xml at all").decode(),
    base64.b64encode(b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'>").decode(),
    base64.b64encode(b"<html><body>hello</body></html>").decode(),
    base64.b64encode(b"\xff\xfe\x00garbage").decode(),
])
def test_malformed_message(sp, idp, db, engine, message: str | None) -> None:
    login = start(sp, idp, db)
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


def test_truncated_genuine_message(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    xml = base64.b64decode(answer(idp, login.info).fields["SAMLResponse"])
    message = base64.b64encode(xml[: len(xml) // 2]).decode()
    refused(sp, db, engine, message, login.relay_state, [login.relay_state])


# -- the IdP side: AuthnRequests ---------------------------------------------------


def test_idp_accepts_genuine_request(sp, idp, db) -> None:
    login = start(sp, idp, db)
    assert login.args["SigAlg"] == SIG_RSA_SHA256
    assert login.info.request_id
    assert login.info.sp_entity_id == sp.entity_id


@pytest.mark.parametrize("missing", ["Signature", "SigAlg", "SAMLRequest"])
def test_idp_refuses_request_without(sp, idp, db, missing: str) -> None:
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    del args[missing]
    with pytest.raises(SamlRefused):
        idp.parse_redirect(args)


def test_idp_refuses_rsa_sha1(sp, idp, db) -> None:
    """A request really signed with RSA-SHA1 (not just relabelled)."""
    _, info = sp.client.prepare_for_authenticate(
        entityid=sp.idp_entity_id, relay_state="relay", binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        sign=True, sigalg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1)
    args = query_args(dict(info["headers"])["Location"])
    assert args["SigAlg"] == SIG_RSA_SHA1
    with pytest.raises(SamlRefused) as caught:
        idp.parse_redirect(args)
    assert "SHA256" in caught.value.reason


def test_idp_refuses_relabelled_sig_alg(sp, idp, db) -> None:
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    args["SigAlg"] = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    with pytest.raises(SamlRefused):
        idp.parse_redirect(args)


def _inflate(saml_request: str) -> str:
    return zlib.decompress(base64.b64decode(saml_request), -15).decode("utf-8")


def _deflate(xml: str) -> str:
    compressor = zlib.compressobj(wbits=-15)
    return base64.b64encode(compressor.compress(xml.encode("utf-8")) + compressor.flush()).decode("ascii")


@pytest.mark.parametrize("tamper", ["acs-url", "relay-state", "request-id", "signature-bit", "swap-request"])
def test_idp_refuses_tampered_query(sp, idp, db, settings, tamper: str) -> None:
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    if tamper == "acs-url":
        xml = _inflate(args["SAMLRequest"])
        acs = entities(settings)["monespace-sp"].url("acs")
        assert acs in xml
        args["SAMLRequest"] = _deflate(xml.replace(acs, "https://attacker.example/acs"))
    elif tamper == "relay-state":
        args["RelayState"] = args["RelayState"][:-1] + ("A" if args["RelayState"][-1] != "A" else "B")
    elif tamper == "request-id":
        xml = _inflate(args["SAMLRequest"])
        args["SAMLRequest"] = _deflate(xml.replace('ID="id-', 'ID="id-X', 1))
    elif tamper == "signature-bit":
        raw = bytearray(base64.b64decode(args["Signature"]))
        raw[10] ^= 0x01
        args["Signature"] = base64.b64encode(bytes(raw)).decode()
    else:
        other_url, _ = sp.start_login(db, "/")
        args["SAMLRequest"] = query_args(other_url)["SAMLRequest"]
    with pytest.raises(SamlRefused):
        idp.parse_redirect(args)


def test_idp_refuses_request_signed_by_key_not_in_metadata(idp, db, settings, impostor_settings) -> None:
    impostor_sp = ServiceProvider(trust.entity_config(impostor_settings, "monespace-sp"),
                                  idp_entity_id=entities(settings)["csam-idp"].entity_id)
    url, _ = impostor_sp.start_login(db, "/")
    with pytest.raises(SamlRefused):
        idp.parse_redirect(query_args(url))


def test_idp_refuses_malformed_request(idp) -> None:
    for bad in ("%%%", base64.b64encode(b"not deflated").decode(), _deflate("<not-saml/>")):
        with pytest.raises(SamlRefused):
            idp.parse_redirect({"SAMLRequest": bad, "SigAlg": SIG_RSA_SHA256,
                                "Signature": base64.b64encode(b"x" * 256).decode(),
                                "RelayState": "r"})


def test_idp_refuses_doctype_in_request(sp, idp, db) -> None:
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    xml = _inflate(args["SAMLRequest"])
    if xml.startswith("<?xml"):
        declaration, rest = xml.split("?>", 1)
        xml = f'{declaration}?><!DOCTYPE x [<!ENTITY e "e">]>{rest}'
    else:
        xml = f'<!DOCTYPE x [<!ENTITY e "e">]>{xml}'
    args["SAMLRequest"] = _deflate(xml)
    with pytest.raises(SamlRefused):
        idp.parse_redirect(args)


# -- the IdP side: requests re-signed with the genuine SP key ----------------------


def resign(args: dict[str, str], key_file: Path) -> dict[str, str]:
    """Sign an HTTP-Redirect query as the SAML bindings spec says (and as the
    SP would), with RSA-SHA256."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    signed = dict(args, SigAlg=SIG_RSA_SHA256)
    data = "&".join(urlencode({k: signed[k]}) for k in ("SAMLRequest", "RelayState", "SigAlg") if k in signed)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    signature = key.sign(data.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return dict(signed, Signature=base64.b64encode(signature).decode("ascii"))


@pytest.fixture
def sp_key(settings: Settings) -> Path:
    return settings.certs_dir / "monespace-sp.key"


def test_resign_control(sp, idp, db, sp_key: Path) -> None:
    """The re-signing helper makes requests the IdP accepts when unchanged."""
    url, relay_state = sp.start_login(db, "/")
    args = query_args(url)
    args["RelayState"] = "another-relay-state"
    info = idp.parse_redirect(resign(args, sp_key))
    assert info.relay_state == "another-relay-state"


def test_idp_refuses_doctype_even_when_signed(sp, idp, db, sp_key: Path) -> None:
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    xml = _inflate(args["SAMLRequest"])
    body = xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml
    args["SAMLRequest"] = _deflate('<!DOCTYPE x [<!ENTITY e "e">]>' + body)
    with pytest.raises(SamlRefused) as caught:
        idp.parse_redirect(resign(args, sp_key))
    assert "DOCTYPE" in caught.value.reason


def test_idp_refuses_acs_url_not_in_metadata_even_when_signed(sp, idp, db, settings, sp_key: Path) -> None:
    """Even the genuine SP cannot make the IdP post assertions to an address
    its metadata does not list."""
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    acs = entities(settings)["monespace-sp"].url("acs")
    args["SAMLRequest"] = _deflate(_inflate(args["SAMLRequest"]).replace(acs, "https://attacker.example/acs"))
    with pytest.raises(SamlRefused):
        idp.parse_redirect(resign(args, sp_key))


def test_idp_refuses_request_naming_another_issuer(sp, idp, db, settings, sp_key: Path) -> None:
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    xml = _inflate(args["SAMLRequest"])
    assert sp.entity_id in xml
    args["SAMLRequest"] = _deflate(xml.replace(sp.entity_id, entities(settings)["modigia-sp"].entity_id))
    with pytest.raises(SamlRefused):
        idp.parse_redirect(resign(args, sp_key))


def test_idp_refuses_unreadable_xml_even_when_signed(sp, idp, db, sp_key: Path) -> None:
    url, _ = sp.start_login(db, "/")
    args = query_args(url)
    xml = _inflate(args["SAMLRequest"])
    args["SAMLRequest"] = _deflate(xml[: len(xml) // 2])
    with pytest.raises(SamlRefused) as caught:
        idp.parse_redirect(resign(args, sp_key))
    assert "illisible" in caught.value.reason


def test_response_logged_with_its_id_and_issuer_only_when_someone_listens(sp, idp, db, caplog,
                                                                          monkeypatch) -> None:
    """The accepted Response's protocol line names the message; with the
    protocol logger off, the message is not decoded again to name it."""
    import logging

    from fedsim import protocol_log

    login = start(sp, idp, db)
    form = answer(idp, login.info)
    message_id = decode(form.fields["SAMLResponse"]).get("ID")
    caplog.clear()  # the lines of the request and the answer, when another test left the logger on
    with caplog.at_level(logging.INFO, logger="fedsim.protocol"):
        sp.accept(db, form.fields["SAMLResponse"], form.fields["RelayState"], [login.relay_state])
    lines = [r.getMessage() for r in caplog.records if r.name == "fedsim.protocol"]
    assert len(lines) == 1 and 'outcome="accepted"' in lines[0]
    assert f'message_id="{message_id}"' in lines[0] and f'issuer="{idp.entity_id}"' in lines[0]

    peeked = []
    monkeypatch.setattr(protocol_log, "peek", lambda head: peeked.append(head) or ("", ""))
    other = start(sp, idp, db)
    form = answer(idp, other.info)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="fedsim.protocol"):
        sp.accept(db, form.fields["SAMLResponse"], form.fields["RelayState"], [other.relay_state])
        with pytest.raises(SamlRefused):  # a replay: refusals are warnings, below ERROR too
            sp.accept(db, form.fields["SAMLResponse"], form.fields["RelayState"], [other.relay_state])
    assert peeked == [] and not [r for r in caplog.records if r.name == "fedsim.protocol"]
    with caplog.at_level(logging.WARNING, logger="fedsim.protocol"), pytest.raises(SamlRefused):
        sp.accept(db, form.fields["SAMLResponse"], form.fields["RelayState"], [other.relay_state])
    assert len(peeked) == 1
    assert [r for r in caplog.records if r.name == "fedsim.protocol" and 'outcome="refused"' in r.getMessage()]


def test_accepted_response_with_white_space_logged_with_its_id(sp, idp, db, caplog) -> None:
    """Base64 wrapped in lines (as many IdPs post it) names the same message
    in the log as the bare value."""
    import logging

    login = start(sp, idp, db)
    value = answer(idp, login.info).fields["SAMLResponse"]
    wrapped = "\r\n".join(value[i:i + 76] for i in range(0, len(value), 76)) + "\n"
    caplog.clear()  # the lines of the request and the answer, when another test left the logger on
    with caplog.at_level(logging.INFO, logger="fedsim.protocol"):
        sp.accept(db, wrapped, login.relay_state, [login.relay_state])
    lines = [r.getMessage() for r in caplog.records if r.name == "fedsim.protocol"]
    assert len(lines) == 1 and 'outcome="accepted"' in lines[0]
    assert f'message_id="{decode(value).get("ID")}"' in lines[0] and f'issuer="{idp.entity_id}"' in lines[0]
