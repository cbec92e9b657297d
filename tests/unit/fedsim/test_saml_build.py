"""fedsim.saml.build, the lxml + python-xmlsec fast path: the Responses and
AuthnRequests it writes are schema-valid, their signatures verify with our
xmlsec verifier and with pysaml2's own response parsing, and they say
exactly what pysaml2's builder said for the same input (the builder the IdP
used before: ``Server._authn_response`` / ``Server._response``)."""
from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from freezegun import freeze_time
from lxml import etree
from saml2 import BINDING_HTTP_POST, samlp
from saml2.assertion import authn_statement
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.samlp import STATUS_NO_PASSIVE, STATUS_RESPONDER
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from sqlalchemy.orm import Session

from fedsim.saml import build, redirect, schema
from fedsim.saml.idp import AuthnRequestInfo, IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.xmlsec_backend import certificate_key, parse_document, verify_enveloped

NS = {"samlp": build.SAMLP, "saml": build.SAML, "ds": build.DS}
LEVEL = "urn:be:fedict:iam:fas:Level500"
ATTRIBUTES = {"egovNRN": ["85031215431"], "givenName": ["Naïma"], "surname": ["Mremi"],
              "mail": ["naima.mremi@example.be"], "PrefLanguage": ["fr"], "unmapped": ["x", "y"]}
NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)
# Values that differ on every message by design.
VOLATILE = {"ID", "InResponseTo", "SessionIndex"}


def request(sp: ServiceProvider, idp: IdentityProvider, db: Session) -> AuthnRequestInfo:
    url, _ = sp.start_login(db, "/")
    return idp.parse_redirect(urlsplit(url).query)


def shape(root: etree._Element) -> list[tuple]:
    """What a message says, without its signatures, prefixes or volatile values."""
    out = []
    for element in root.iter(etree.Element):
        if element.tag == f"{{{build.DS}}}Signature" or any(
                a.tag == f"{{{build.DS}}}Signature" for a in element.iterancestors()):
            continue
        attributes = tuple(sorted((name, "*" if name in VOLATILE else value)
                                  for name, value in element.attrib.items()))
        out.append((element.tag, attributes, (element.text or "").strip()))
    return out


def old_response(idp: IdentityProvider, info: AuthnRequestInfo, **authn) -> etree._Element:  # noqa: ANN003
    """The signed Response pysaml2 built for IdentityProvider.respond before."""
    name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text="pairwise", name_qualifier=idp.entity_id,
                     sp_name_qualifier=info.sp_entity_id)
    statement = authn_statement(authn_class=LEVEL, authn_auth=authn.get("authority"),
                                authn_instant=int(authn["instant"].timestamp()),
                                session_not_on_or_after=build.saml_instant(authn["until"]))
    statement.session_index = "_session"
    response = idp.server._authn_response(  # noqa: SLF001
        info.request_id, info.acs_url, info.sp_entity_id, identity=ATTRIBUTES, name_id=name_id,
        authn_statement=statement, policy=idp.server.config.getattr("policy", "idp"),
        sign_assertion=True, sign_response=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    return etree.fromstring(str(response).encode("utf-8"))


def new_response(idp: IdentityProvider, info: AuthnRequestInfo, **authn) -> etree._Element:  # noqa: ANN003
    form = idp.respond(info, subject="pairwise", attributes=ATTRIBUTES, authn_context=LEVEL,
                       authenticating_authority=authn.get("authority"), authn_instant=authn["instant"],
                       session_index="_session", session_not_on_or_after=authn["until"])
    return etree.fromstring(base64.b64decode(form.fields["SAMLResponse"]))


@pytest.mark.parametrize("authority", [None, "https://eidas.example/node"])
def test_response_says_what_pysaml2_said(sp, idp, db, authority) -> None:  # noqa: ANN001
    authn = {"instant": NOW - timedelta(minutes=3), "until": NOW + timedelta(hours=8), "authority": authority}
    with freeze_time(NOW):
        info = request(sp, idp, db)
        old, new = old_response(idp, info, **authn), new_response(idp, info, **authn)
    assert shape(new) == shape(old)
    # Attributes the SP's metadata does not request are filtered as before.
    names = new.xpath("//saml:Attribute/@Name", namespaces=NS)
    assert names == old.xpath("//saml:Attribute/@Name", namespaces=NS) and "unmapped" not in names


def test_error_response_says_what_pysaml2_said(sp, idp, db) -> None:  # noqa: ANN001
    with freeze_time(NOW):
        info = request(sp, idp, db)
        status = samlp.Status(status_code=samlp.StatusCode(value=STATUS_RESPONDER,
                                                           status_code=samlp.StatusCode(value=STATUS_NO_PASSIVE)),
                              status_message=samlp.StatusMessage(text="Pas de session."))
        old = etree.fromstring(str(idp.server._response(  # noqa: SLF001
            info.request_id, info.acs_url, status, None, True, sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256)).encode("utf-8"))
        form = idp.respond_no_passive(info, "Pas de session.")
    assert shape(etree.fromstring(base64.b64decode(form.fields["SAMLResponse"]))) == shape(old)


def test_response_is_schema_valid_standard_and_signed_in_place(sp, idp, db) -> None:  # noqa: ANN001
    form = idp.respond(request(sp, idp, db), subject="s", attributes=ATTRIBUTES, authn_context=LEVEL)
    data = base64.b64decode(form.fields["SAMLResponse"])
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<samlp:Response ")
    tree = parse_document(data)
    schema.validate_tree(tree)
    root = tree.getroot()
    assertion = root.find("saml:Assertion", NS)
    for element in (root, assertion):  # Signature right after Issuer, referencing the element, KeyInfo kept
        children = [child.tag for child in element]
        assert children[:2] == [f"{{{build.SAML}}}Issuer", f"{{{build.DS}}}Signature"]
        assert element.xpath("ds:Signature/ds:SignedInfo/ds:Reference/@URI", namespaces=NS) == ["#" + element.get("ID")]
        assert element.xpath("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate/text()", namespaces=NS) \
            == [idp.signer.certificate_b64]
    values = assertion.findall(".//saml:AttributeValue", NS)
    assert values and all(v.get(f"{{{build.XSI}}}type") == "xs:string" and v.nsmap["xs"] == build.XS for v in values)
    keys = [certificate_key(idp.signer.certificate_b64)]
    verify_enveloped(assertion, keys)
    verify_enveloped(root, keys)


def test_response_tampered_after_signing_does_not_verify(sp, idp, db) -> None:  # noqa: ANN001
    form = idp.respond(request(sp, idp, db), subject="s", attributes=ATTRIBUTES, authn_context=LEVEL)
    root = parse_document(base64.b64decode(form.fields["SAMLResponse"])).getroot()
    root.find(".//saml:NameID", NS).text = "someone-else"
    from fedsim.saml.xmlsec_backend import SignatureRefused
    keys = [certificate_key(idp.signer.certificate_b64)]
    for element in (root.find("saml:Assertion", NS), root):
        with pytest.raises(SignatureRefused):
            verify_enveloped(element, keys)


def test_pysaml2_sp_accepts_the_response(sp, idp, db) -> None:  # noqa: ANN001
    """pysaml2's own SP code (its XML signature checks through our backend,
    its schema checks, its conditions) reads what the fast path writes."""
    info = request(sp, idp, db)
    form = idp.respond(info, subject="pairwise", attributes=ATTRIBUTES, authn_context=LEVEL)
    parsed = sp.client.parse_authn_request_response(form.fields["SAMLResponse"], BINDING_HTTP_POST,
                                                    outstanding={info.request_id: "/"})
    assert parsed.name_id.text == "pairwise" and parsed.name_id.format == NAMEID_FORMAT_PERSISTENT
    assert parsed.get_identity()["egovNRN"] == ["85031215431"]
    assert parsed.get_identity()["givenName"] == ["Naïma"]
    assert parsed.authn_info()[0][0] == LEVEL


def test_authn_request_is_what_pysaml2_wrote(sp, idp, db) -> None:  # noqa: ANN001
    with freeze_time(NOW):
        url, relay_state = sp.start_login(db, "/", ("urn:be:fedict:iam:fas:Level400",), "minimum",
                                          force_authn=True, is_passive=True)
        _, old = sp.client.prepare_for_authenticate(
            entityid=sp.idp_entity_id, relay_state=relay_state, binding="urn:oasis:names:tc:SAML:2.0:bindings:"
            "HTTP-Redirect", sign=True, sigalg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, force_authn="true",
            is_passive="true", requested_authn_context=samlp.RequestedAuthnContext(
                authn_context_class_ref=[samlp.saml.AuthnContextClassRef(text="urn:be:fedict:iam:fas:Level400")],
                comparison="minimum"))
    old_url = dict(old["headers"])["Location"]
    assert urlsplit(url)[:3] == urlsplit(old_url)[:3]
    read = [etree.fromstring(redirect.inflate(redirect.parse(urlsplit(u).query)["SAMLRequest"])) for u in (url, old_url)]
    assert shape(read[0]) == shape(read[1])
    schema.validate_tree(read[0].getroottree())
    params = redirect.parse(urlsplit(url).query)
    assert list(params) == ["SAMLRequest", "RelayState", "SigAlg", "Signature"] and params["RelayState"] == relay_state


def test_ids_are_ncnames_and_unique() -> None:
    ids = {build.new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("id-") and len(i) == 43 for i in ids)


def test_signer_reads_the_certificate_of_the_pair(idp) -> None:  # noqa: ANN001
    der = base64.b64decode(idp.signer.certificate_b64)
    assert der.startswith(b"\x30") and secrets.compare_digest(
        idp.signer.certificate_b64, base64.b64encode(der).decode("ascii"))


@pytest.mark.parametrize(("idp_name", "sp_name", "identity"), [
    # Modigia's metadata requests no attributes: all are released, an unmapped one without NameFormat.
    ("cerbere-idp", "modigia-sp", ATTRIBUTES),
    # The eIDAS profile: NameFormat uri, natural-person names.
    ("eidas-node-idp", "csam-eidas-sp", {"PersonIdentifier": ["BE/BE/123"], "CurrentFamilyName": ["Mremi"],
                                         "CurrentGivenName": ["Naïma"], "DateOfBirth": ["1985-03-12"]}),
])
def test_other_entities_get_what_pysaml2_gave(settings, idp_name, sp_name, identity) -> None:  # noqa: ANN001
    from fedsim import trust
    from fedsim.federation import entities

    table = entities(settings)
    other = IdentityProvider(trust.entity_config(settings, idp_name))
    sp_entity_id = table[sp_name].entity_id
    acs_url = other.server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)[0]["location"]
    info = AuthnRequestInfo(request_id="id-request", sp_entity_id=sp_entity_id, acs_url=acs_url, relay_state="")
    with freeze_time(NOW):
        name_id = NameID(format=NAMEID_FORMAT_PERSISTENT, text="pairwise", name_qualifier=other.entity_id,
                         sp_name_qualifier=sp_entity_id)
        statement = authn_statement(authn_class=LEVEL, authn_instant=int(NOW.timestamp()))
        statement.session_index = "_session"
        old = etree.fromstring(str(other.server._authn_response(  # noqa: SLF001
            info.request_id, acs_url, sp_entity_id, identity=dict(identity), name_id=name_id,
            authn_statement=statement, policy=other.server.config.getattr("policy", "idp"), sign_assertion=True,
            sign_response=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)).encode("utf-8"))
        form = other.respond(info, subject="pairwise", attributes=dict(identity), authn_context=LEVEL,
                             session_index="_session")
    new = etree.fromstring(base64.b64decode(form.fields["SAMLResponse"]))
    assert shape(new) == shape(old)
    assert len(new.findall(".//saml:Attribute", NS)) == len(identity)
    schema.validate_tree(new.getroottree())


# -- URL-encoding base64 (HTTP-Redirect): exactly quote_plus / unquote_plus --------------------


def test_base64_is_url_encoded_and_decoded_exactly_as_quote_plus_does() -> None:
    import base64
    import random
    from urllib.parse import quote_plus, unquote_plus

    from fedsim.saml.build import quote_base64
    from fedsim.saml.redirect import unquote_base64

    randomness = random.Random(7)
    for size in list(range(0, 70)) + [500, 3000]:
        text = base64.b64encode(randomness.randbytes(size)).decode("ascii")
        encoded = quote_base64(text)
        assert encoded == quote_plus(text)
        assert unquote_base64(encoded) == unquote_plus(encoded) == text
        lower = encoded.replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d")
        assert unquote_base64(lower) == text
    # anything else is unquote_plus's: other escapes, malformed ones, +, non-ASCII
    for odd in ("a+b", "%2", "%2%3D", "%252B", "%%3D", "%C3%A9", "%zz", "é%3D", "urn%3Aoasis", "%3D%", ""):
        assert unquote_base64(odd) == unquote_plus(odd), odd
