"""The forge: its baseline is what the IdP would send, signed with its key."""
from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
import xmlsec
from lxml import etree

from fedsim import trust
from fedsim.federation import Settings, entities
from fedsim.saml import profile
from fedsim.saml.xmlsec_backend import certificate_key
from fedsim_harness.attack import forge, targets


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("forge")
    made = dataclasses.replace(Settings(), certs_dir=root / "certs", instance_dir=root / "instance")
    trust.ensure(made)
    return made


def _forge(settings: Settings, idp: str = "cerbere") -> forge.Forge:
    sp = entities(settings)["modigia-sp" if idp == "cerbere" else "monespace-sp"]
    return forge.Forge(targets.signer(settings, idp), sp.entity_id, sp.url("acs"), "_request-1",
                       targets.identity(settings, idp, "jean", sp.entity_id),
                       targets.identity(settings, idp, "claire", sp.entity_id),
                       datetime.now(UTC), authority=targets.authority(settings, idp))


@pytest.mark.parametrize("idp", ["cerbere", "csam"])
def test_the_baseline_verifies_with_the_idp_certificate(settings: Settings, idp: str) -> None:
    f = _forge(settings, idp)
    root = etree.fromstring(forge.to_bytes(f.baseline()))
    cert = targets.signer(settings, idp).cert_pem
    forge.verify(forge.assertion_of(root), cert)
    forge.verify(root, cert)


def test_a_tampered_baseline_no_longer_verifies(settings: Settings) -> None:
    f = _forge(settings)
    root = etree.fromstring(forge.to_bytes(f.baseline()))
    forge.set_identity(forge.assertion_of(root), f.victim)
    with pytest.raises(xmlsec.Error):
        forge.verify(forge.assertion_of(root), targets.signer(settings, "cerbere").cert_pem)


def test_the_baseline_passes_the_strict_profile(settings: Settings) -> None:
    f = _forge(settings)
    expected = profile.Expected(sp_entity_id=f.sp_entity_id, acs_url=f.acs_url, idp_entity_id=f.signer.entity_id,
                                request_id=f.request_id, requested_at=f.now)
    der = "".join(f.signer.cert_pem.decode().split("-----")[2].split())
    checked = profile.read_response(forge.to_bytes(f.baseline()), expected, [certificate_key(der)],
                                    lambda fmt, name: name)
    assert checked.name_id == f.identity.name_id
    assert checked.attributes["cerbereUsername"] == ["jdupont"]


def test_the_answer_follows_the_request(settings: Settings) -> None:
    f = _forge(settings)
    root = f.response()
    assert root.get("InResponseTo") == "_request-1"
    assert root.get("Destination") == f.acs_url
    data = root.find(f".//{forge.q('saml', 'SubjectConfirmationData')}")
    assert (data.get("Recipient"), data.get("InResponseTo")) == (f.acs_url, "_request-1")
    assert root.findtext(f".//{forge.q('saml', 'Audience')}") == f.sp_entity_id


def test_what_each_idp_sends(settings: Settings) -> None:
    cerbere = targets.identity(settings, "cerbere", "jean", "sp")
    csam = targets.identity(settings, "csam", "jean", "sp")
    assert cerbere.attributes["cerbereUsername"] == ["jdupont"] and "egovNRN" not in cerbere.attributes
    assert csam.attributes["egovNRN"] == ["78020106109"]
    assert "Jean Dupont" in cerbere.markers


def test_a_seen_authn_request_is_read_back() -> None:
    import base64
    import zlib

    xml = (b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
           b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" AssertionConsumerServiceURL="http://sp/acs"'
           b' Destination="http://idp/sso"><saml:Issuer>http://sp/md</saml:Issuer></samlp:AuthnRequest>')
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    encoded = base64.b64encode(deflate.compress(xml) + deflate.flush()).decode()
    from urllib.parse import urlencode
    seen = forge.SeenRequest.from_redirect("http://idp/sso?" + urlencode({"SAMLRequest": encoded, "RelayState": "r1"}))
    assert (seen.request_id, seen.issuer, seen.acs_url, seen.relay_state) == \
        ("_r", "http://sp/md", "http://sp/acs", "r1")


@dataclasses.dataclass
class _Attack:
    forge: forge.Forge
    victim: forge.Identity


@pytest.mark.parametrize("case_id", ["comment-in-nameid", "comment-in-attributes", "comment-everywhere"])
def test_comment_truncation_keeps_the_genuine_signatures_valid(settings: Settings, case_id: str) -> None:
    from fedsim_harness.attack.catalogue import CATALOGUE

    f = _forge(settings)
    case = next(c for c in CATALOGUE if c.id == case_id)
    root = etree.fromstring(case.build(_Attack(f, f.victim)).xml)
    cert = targets.signer(settings, "cerbere").cert_pem
    forge.verify(forge.assertion_of(root), cert)
    forge.verify(root, cert)
    first_texts = {root.find(f".//{forge.q('saml', 'NameID')}").text,
                   root.find(f".//{forge.q('saml', 'AttributeValue')}").text}
    assert first_texts & {f.victim.name_id, "clejeune"}  # what a reader of the first text node takes
