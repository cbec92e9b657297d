"""Tests for fedsim.saml.xmlsec_backend: the in-process python-xmlsec pysaml2 crypto backend."""

from __future__ import annotations

import base64
import copy
import datetime
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from lxml import etree

import saml2
import saml2.algsupport
import saml2.entity
import saml2.mdstore
import saml2.metadata
import saml2.response
import saml2.sigver as sigver
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, class_name, saml, samlp
from saml2.config import IdPConfig, SPConfig
from saml2.metadata import entity_descriptor
from saml2.s_utils import Unsupported, success_status_factory
from saml2.time_util import instant
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

from fedsim.saml import xmlsec_backend as xb

with warnings.catch_warnings():  # saml2.cryptography.symmetric touches cryptography's deprecated CFB mode
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from saml2.client import Saml2Client
    from saml2.server import Server

DS = "http://www.w3.org/2000/09/xmldsig#"
SAML = saml.NAMESPACE
SAMLP = samlp.NAMESPACE
ASSERTION = class_name(saml.Assertion())
RESPONSE = class_name(samlp.Response())
IDP_ID = "https://idp.test/idp"
SP_ID = "https://sp.test/sp"
ACS = "https://sp.test/acs"


@dataclass(frozen=True)
class Pki:
    key: str
    cert: str
    cert_b64: str
    key_pem: bytes


def _make_pki(directory: Path, name: str) -> Pki:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / f"{name}.key").write_bytes(key_pem)
    (directory / f"{name}.crt").write_bytes(cert_pem)
    cert_b64 = "".join(cert_pem.decode().strip().splitlines()[1:-1])
    return Pki(str(directory / f"{name}.key"), str(directory / f"{name}.crt"), cert_b64, key_pem)


@pytest.fixture(scope="session", autouse=True)
def _installed() -> None:
    xb.install()


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(scope="session")
def genuine(pki_dir: Path) -> Pki:
    return _make_pki(pki_dir, "genuine")


@pytest.fixture(scope="session")
def attacker(pki_dir: Path) -> Pki:
    return _make_pki(pki_dir, "attacker")


@pytest.fixture
def backend() -> xb.XmlsecBackend:
    return xb.XmlsecBackend()


def _sec(pki: Pki) -> sigver.SecurityContext:
    return sigver.SecurityContext(xb.XmlsecBackend(), pki.key, cert_file=pki.cert)


def make_response(pki: Pki, *, key_info: Pki | None = None, sign_response: bool = True) -> tuple[str, str, str]:
    """A samlp.Response with one signed Assertion (and signed Response), signed by ``pki`` via pysaml2."""
    key_info = key_info or pki
    sig = dict(public_key=key_info.cert_b64, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
    assertion = saml.Assertion(
        id="_assertion1", version="2.0", issue_instant=instant(), issuer=saml.Issuer(text=IDP_ID),
        subject=saml.Subject(name_id=saml.NameID(text="alice")),
        attribute_statement=saml.AttributeStatement(attribute=[saml.Attribute(
            name="mail", attribute_value=[saml.AttributeValue(text="alice@example.org")])]),
        signature=sigver.pre_signature_part("_assertion1", **sig),
    )
    response = samlp.Response(
        id="_response1", version="2.0", issue_instant=instant(), issuer=saml.Issuer(text=IDP_ID),
        status=success_status_factory(), assertion=assertion,
        signature=sigver.pre_signature_part("_response1", **sig) if sign_response else None,
    )
    to_sign = [(ASSERTION, assertion.id)] + ([(RESPONSE, response.id)] if sign_response else [])
    xml = sigver.signed_instance_factory(response, _sec(pki), to_sign)
    return xml, response.id, assertion.id


def verify(backend: xb.XmlsecBackend, xml: str | bytes, pki: Pki, node_id: str, node_name: str = ASSERTION) -> bool:
    return backend.validate_signature(xml, cert_file=pki.cert, cert_type="pem", node_name=node_name, node_id=node_id)


def parse(xml: str | bytes) -> etree._Element:
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml)


def dump(root: etree._Element) -> str:
    return etree.tostring(root, encoding="unicode")


def by_id(root: etree._Element, node_id: str) -> etree._Element:
    (element,) = root.xpath("//*[@ID=$i]", i=node_id)
    return element


def raw_sign(root: etree._Element, node_id: str, pki: Pki) -> str:
    """Sign the pre-set template of ``node_id`` with bare python-xmlsec, bypassing every policy check."""
    target = by_id(root, node_id)
    ctx = xmlsec.SignatureContext()
    ctx.register_id(target, "ID")
    ctx.key = xmlsec.Key.from_memory(pki.key_pem, xmlsec.KeyFormat.PEM)
    ctx.sign(target.find(f"{{{DS}}}Signature"))
    return dump(root)


def raw_verify(xml: str, node_id: str, pki: Pki) -> None:
    """Unrestricted python-xmlsec verification: shows a refused document is cryptographically sound."""
    root = parse(xml)
    target = by_id(root, node_id)
    ctx = xmlsec.SignatureContext()
    ctx.register_id(target, "ID")
    ctx.key = xmlsec.Key.from_memory(Path(pki.cert).read_bytes(), xmlsec.KeyFormat.CERT_PEM)
    ctx.verify(target.find(f"{{{DS}}}Signature"))


def assert_refused(backend: xb.XmlsecBackend, xml: str | bytes, pki: Pki, node_id: str,
                   node_name: str = ASSERTION) -> None:
    with pytest.raises(sigver.SignatureError):
        verify(backend, xml, pki, node_id, node_name)


def unsigned_template(pki: Pki) -> etree._Element:
    """The genuine response with its assertion signature blanked back to a template (no Response signature)."""
    xml, _, aid = make_response(pki, sign_response=False)
    root = parse(xml)
    sig = by_id(root, aid).find(f"{{{DS}}}Signature")
    for name in ("SignatureValue", "SignedInfo/{%s}Reference/{%s}DigestValue" % (DS, DS)):
        sig.find(f"{{{DS}}}{name}").text = None
    return root


# 1. positive controls ---------------------------------------------------------------------------


def test_genuine_assertion_and_response_verify(backend: xb.XmlsecBackend, genuine: Pki) -> None:
    xml, rid, aid = make_response(genuine)
    assert verify(backend, xml, genuine, aid) is True
    assert verify(backend, xml, genuine, rid, RESPONSE) is True
    sec = _sec(genuine)
    assert sec.verify_signature(xml, genuine.cert, node_name=ASSERTION, node_id=aid) is True
    assert backend.version.count(".") == 2 and backend.version_nums >= (1, 3, 0)


def _configs(idp_pki: Pki, sp_pki: Pki) -> tuple[IdPConfig, SPConfig]:
    algs = {"signing_algorithm": SIG_RSA_SHA256, "digest_algorithm": DIGEST_SHA256}
    idp = {
        "entityid": IDP_ID, "key_file": idp_pki.key, "cert_file": idp_pki.cert,
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [("https://idp.test/sso", BINDING_HTTP_REDIRECT)]},
            "policy": {"default": {"lifetime": {"minutes": 15}}},
            "sign_response": True, "sign_assertion": True, **algs,
        }},
    }
    sp = {
        "entityid": SP_ID, "key_file": sp_pki.key, "cert_file": sp_pki.cert, "only_use_keys_in_metadata": True,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_POST)]},
            "want_response_signed": True, "want_assertions_signed": True, "allow_unsolicited": True, **algs,
        }},
    }
    idp_md = str(entity_descriptor(IdPConfig().load(copy.deepcopy(idp))))
    sp_md = str(entity_descriptor(SPConfig().load(copy.deepcopy(sp))))
    idp["metadata"] = {"inline": [sp_md]}
    sp["metadata"] = {"inline": [idp_md]}
    return IdPConfig().load(idp), SPConfig().load(sp)


def _idp_response(idp_conf: IdPConfig) -> str:
    server = Server(config=idp_conf)
    assert isinstance(server.sec.crypto, xb.XmlsecBackend)
    xml = server.create_authn_response(
        identity={"mail": ["alice@example.org"]}, in_response_to=None, destination=ACS, sp_entity_id=SP_ID,
        userid="alice", authn={"class_ref": saml2.saml.AUTHN_PASSWORD}, sign_response=True, sign_assertion=True,
        sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256,
    )
    return str(xml)


def _refuse_spawn(*args: object, **kwargs: object) -> None:
    raise AssertionError("a child process was spawned")


def test_pysaml2_idp_to_sp_round_trip(monkeypatch: pytest.MonkeyPatch, genuine: Pki, attacker: Pki,
                                      pki_dir: Path) -> None:
    monkeypatch.setattr(sigver, "Popen", _refuse_spawn)
    monkeypatch.setattr(saml2.algsupport, "Popen", _refuse_spawn)
    sp_pki = _make_pki(pki_dir, "sp")
    idp_conf, sp_conf = _configs(genuine, sp_pki)
    xml = _idp_response(idp_conf)
    root = parse(xml)  # Response and Assertion both carry an enveloped signature
    assert root.find(f"{{{DS}}}Signature") is not None
    assert root.find(f"{{{SAML}}}Assertion/{{{DS}}}Signature") is not None
    client = Saml2Client(config=sp_conf)
    assert isinstance(client.sec.crypto, xb.XmlsecBackend)
    parsed = client.parse_authn_request_response(base64.b64encode(xml.encode()), BINDING_HTTP_POST)
    assert parsed.get_identity() == {"mail": ["alice@example.org"]}
    # Same IdP entityID but the attacker's key (its cert rides in KeyInfo): the SP must refuse it.
    forged_idp_conf, _ = _configs(attacker, sp_pki)
    forged = _idp_response(forged_idp_conf)
    with pytest.raises(sigver.SignatureError):
        Saml2Client(config=sp_conf).parse_authn_request_response(base64.b64encode(forged.encode()), BINDING_HTTP_POST)


def test_signed_metadata_through_mdstore(genuine: Pki, attacker: Pki, tmp_path: Path) -> None:
    """pysaml2 signs metadata and checks it in mdstore without a node ID, and ignores a False result."""
    from saml2.attribute_converter import ac_factory
    from saml2.mdstore import MetaDataFile
    from saml2.metadata import sign_entity_descriptor

    conf = IdPConfig().load({"entityid": IDP_ID, "key_file": genuine.key, "cert_file": genuine.cert, "service": {
        "idp": {"endpoints": {"single_sign_on_service": [("https://idp.test/sso", BINDING_HTTP_REDIRECT)]}}}})
    sec = saml2.metadata.security_context(conf)
    _, signed = sign_entity_descriptor(entity_descriptor(conf), "_md1", sec, SIG_RSA_SHA256, DIGEST_SHA256)
    path = tmp_path / "md.xml"

    def load(text: str, cert: Pki) -> bool:
        path.write_text(text)
        return MetaDataFile(ac_factory(), str(path), cert=cert.cert, security=sec).load()

    assert load(signed, genuine) is True
    with pytest.raises(sigver.SignatureError):
        load(signed, attacker)
    with pytest.raises(sigver.SignatureError):
        load(signed.replace(IDP_ID, "https://evil.test/idp"), genuine)


# 2. tampering -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"//{{{SAML}}}NameID", f"//{{{SAML}}}AttributeValue"])
def test_tampered_value_refused(backend: xb.XmlsecBackend, genuine: Pki, path: str) -> None:
    xml, rid, aid = make_response(genuine)
    root = parse(xml)
    (element,) = root.iterfind("." + path)
    element.text = "mallory"
    assert_refused(backend, dump(root), genuine, aid)
    assert_refused(backend, dump(root), genuine, rid, RESPONSE)


def test_tampered_attribute_refused(backend: xb.XmlsecBackend, genuine: Pki) -> None:
    xml, _, aid = make_response(genuine, sign_response=False)
    root = parse(xml)
    by_id(root, aid).find(f".//{{{SAML}}}Attribute").set("Name", "role")
    assert_refused(backend, dump(root), genuine, aid)


# 3. missing signature ---------------------------------------------------------------------------


def test_removed_signature_refused(backend: xb.XmlsecBackend, genuine: Pki) -> None:
    xml, rid, aid = make_response(genuine)
    root = parse(xml)
    assertion = by_id(root, aid)
    assertion.remove(assertion.find(f"{{{DS}}}Signature"))
    assert_refused(backend, dump(root), genuine, aid)


def test_signature_must_be_direct_child(backend: xb.XmlsecBackend, genuine: Pki) -> None:
    xml, _, aid = make_response(genuine, sign_response=False)
    root = parse(xml)
    assertion = by_id(root, aid)
    signature = assertion.find(f"{{{DS}}}Signature")
    assertion.remove(signature)
    assertion.find(f"{{{SAML}}}Subject").append(signature)  # detached below the signed element
    assert_refused(backend, dump(root), genuine, aid)


# 4. key only from cert_file ---------------------------------------------------------------------


def test_attacker_key_with_keyinfo_cert_refused(backend: xb.XmlsecBackend, genuine: Pki, attacker: Pki) -> None:
    xml, rid, aid = make_response(attacker)  # attacker key, attacker cert in KeyInfo
    assert attacker.cert_b64 in xml and genuine.cert_b64 not in xml
    assert verify(backend, xml, attacker, aid) is True  # the signature itself is sound ...
    assert_refused(backend, xml, genuine, aid)  # ... yet refused under the metadata cert
    assert_refused(backend, xml, genuine, rid, RESPONSE)


def test_keyinfo_is_ignored(backend: xb.XmlsecBackend, genuine: Pki, attacker: Pki) -> None:
    xml, _, aid = make_response(genuine, key_info=attacker)  # genuine key, attacker cert in KeyInfo
    assert attacker.cert_b64 in xml and genuine.cert_b64 not in xml
    assert verify(backend, xml, genuine, aid) is True
    assert_refused(backend, xml, attacker, aid)


def test_cert_cache_follows_file_content(backend: xb.XmlsecBackend, genuine: Pki, attacker: Pki,
                                         tmp_path: Path) -> None:
    xml, _, aid = make_response(genuine)
    path = tmp_path / "md.pem"
    path.write_bytes(Path(genuine.cert).read_bytes())
    view = Pki(key="", cert=str(path), cert_b64="", key_pem=b"")
    assert verify(backend, xml, view, aid) is True
    path.write_bytes(Path(attacker.cert).read_bytes())
    assert_refused(backend, xml, view, aid)


# 5. duplicate IDs -------------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", ["ID", "Id", "AssertionID", "{http://www.w3.org/XML/1998/namespace}id"])
def test_duplicate_id_refused(backend: xb.XmlsecBackend, genuine: Pki, attribute: str) -> None:
    xml, rid, aid = make_response(genuine, sign_response=False)
    root = parse(xml)
    decoy = etree.SubElement(root, f"{{{SAML}}}Assertion", {attribute: aid})
    assert verify(backend, xml, genuine, aid) is True
    assert_refused(backend, dump(root), genuine, aid)
    decoy.getparent().remove(decoy)
    assert verify(backend, dump(root), genuine, aid) is True


# 6. signature wrapping --------------------------------------------------------------------------


def _forged_assertion(genuine_assertion: etree._Element, forged_id: str) -> etree._Element:
    forged = copy.deepcopy(genuine_assertion)
    forged.set("ID", forged_id)
    forged.remove(forged.find(f"{{{DS}}}Signature"))
    forged.find(f".//{{{SAML}}}NameID").text = "mallory"
    return forged


@pytest.mark.parametrize("where", ["child", "advice", "response-extensions"])
def test_wrapped_assertion_refused(backend: xb.XmlsecBackend, genuine: Pki, where: str) -> None:
    xml, _, aid = make_response(genuine, sign_response=False)
    root = parse(xml)
    signed = by_id(root, aid)
    forged = _forged_assertion(signed, "_forged")
    root.replace(signed, forged)
    if where == "child":
        forged.append(signed)
    elif where == "advice":
        advice = etree.Element(f"{{{SAML}}}Advice")
        forged.find(f"{{{SAML}}}Subject").addnext(advice)
        advice.append(signed)
    else:
        extensions = etree.Element(f"{{{SAMLP}}}Extensions")
        root.find(f"{{{SAML}}}Issuer").addnext(extensions)
        extensions.append(signed)
    doc = dump(root)
    assert verify(backend, doc, genuine, aid) is True  # the genuine assertion is still intact
    assert_refused(backend, doc, genuine, "_forged")


@pytest.mark.parametrize("forged_id", ["_forged", "same"])
def test_wrapped_assertion_with_moved_signature_refused(backend: xb.XmlsecBackend, genuine: Pki,
                                                        forged_id: str) -> None:
    """The forged outer assertion carries the genuine signature as its own direct child."""
    xml, _, aid = make_response(genuine, sign_response=False)
    root = parse(xml)
    signed = by_id(root, aid)
    forged = _forged_assertion(signed, aid if forged_id == "same" else forged_id)
    root.replace(signed, forged)
    forged.find(f"{{{SAML}}}Issuer").addnext(signed.find(f"{{{DS}}}Signature"))
    advice = etree.Element(f"{{{SAML}}}Advice")
    forged.find(f"{{{SAML}}}Subject").addnext(advice)
    advice.append(signed)
    assert_refused(backend, dump(root), genuine, forged.get("ID"))


# 7. algorithms, transforms, DTDs, ds:Object -----------------------------------------------------

SIG_PATH = f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod"
DIGEST_PATH = f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}DigestMethod"
TRANSFORMS_PATH = f"{{{DS}}}SignedInfo/{{{DS}}}Reference/{{{DS}}}Transforms"
C14N_PATH = f"{{{DS}}}SignedInfo/{{{DS}}}CanonicalizationMethod"
INCLUSIVE_C14N_WC = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"


def _set(path: str, algorithm: str):
    def edit(sig: etree._Element) -> None:
        sig.find(path).set("Algorithm", algorithm)
    return edit


def _xpath_transform(sig: etree._Element) -> None:
    transform = etree.SubElement(sig.find(TRANSFORMS_PATH), f"{{{DS}}}Transform",
                                 Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116")
    etree.SubElement(transform, f"{{{DS}}}XPath").text = "not(self::*[local-name()='Foo'])"


def _inclusive_transform(sig: etree._Element) -> None:
    sig.find(TRANSFORMS_PATH)[1].set("Algorithm", INCLUSIVE_C14N_WC)


def _object(sig: etree._Element) -> None:
    etree.SubElement(sig, f"{{{DS}}}Object").text = "unsigned payload"


@pytest.mark.parametrize("edit", [
    pytest.param(_set(SIG_PATH, SIG_RSA_SHA1), id="rsa-sha1"),
    pytest.param(_set(DIGEST_PATH, DIGEST_SHA1), id="digest-sha1"),
    pytest.param(_xpath_transform, id="xpath-transform"),
    pytest.param(_inclusive_transform, id="c14n-inclusive-with-comments-transform"),
    pytest.param(_set(C14N_PATH, INCLUSIVE_C14N_WC), id="c14n-inclusive-signedinfo"),
    pytest.param(_object, id="ds-object"),
])
def test_disallowed_algorithms_refused(backend: xb.XmlsecBackend, genuine: Pki, edit) -> None:
    root = unsigned_template(genuine)
    assertion = by_id(root, "_assertion1")
    edit(assertion.find(f"{{{DS}}}Signature"))
    doc = raw_sign(root, "_assertion1", genuine)
    raw_verify(doc, "_assertion1", genuine)  # cryptographically valid: refusal is policy, not accident
    assert_refused(backend, doc, genuine, "_assertion1")
    with pytest.raises(sigver.SignatureError):  # and we never produce such a signature either
        backend.sign_statement(_template_with(edit, genuine), ASSERTION, genuine.key, "_assertion1")


def _template_with(edit, pki: Pki) -> str:
    root = unsigned_template(pki)
    edit(by_id(root, "_assertion1").find(f"{{{DS}}}Signature"))
    return dump(root)


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE samlp:Response [<!ENTITY x "alice">]>',
    "<!DOCTYPE samlp:Response>",
])
def test_doctype_refused(backend: xb.XmlsecBackend, genuine: Pki, doctype: str) -> None:
    xml, rid, aid = make_response(genuine)
    body = xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml
    assert verify(backend, body, genuine, aid) is True
    assert_refused(backend, doctype + body, genuine, aid)
    assert_refused(backend, doctype + body, genuine, rid, RESPONSE)


def test_utf16_document_with_external_entity_is_refused(
        backend: xb.XmlsecBackend, genuine: Pki, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    xml, _, aid = make_response(genuine)
    body = xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml
    doctype = f'<!DOCTYPE samlp:Response [<!ENTITY % x SYSTEM "file://{secret}"> %x;]>'
    document = ('<?xml version="1.0" encoding="UTF-16"?>' + doctype + body).encode("utf-16")
    assert_refused(backend, document, genuine, aid)  # the UTF-8 byte check cannot be dodged by UTF-16


def test_wrong_node_name_and_unknown_id_refused(backend: xb.XmlsecBackend, genuine: Pki) -> None:
    xml, rid, aid = make_response(genuine)
    assert_refused(backend, xml, genuine, aid, RESPONSE)
    assert_refused(backend, xml, genuine, "_nope")
    assert_refused(backend, "<not xml", genuine, aid)


def test_refusal_is_logged(backend: xb.XmlsecBackend, genuine: Pki, caplog: pytest.LogCaptureFixture) -> None:
    xml, _, aid = make_response(genuine)
    with caplog.at_level(logging.WARNING, logger=xb.__name__):
        assert_refused(backend, xml.replace(">alice<", ">mallory<"), genuine, aid)
    assert any(aid in record.getMessage() for record in caplog.records)


def test_encryption_unsupported(backend: xb.XmlsecBackend) -> None:
    for call in (lambda: backend.encrypt("x", "k", "t", "des"), lambda: backend.decrypt("x", "k"),
                 lambda: backend.encrypt_assertion("x", "k", "t", "des", None)):
        with pytest.raises(Unsupported):
            call()


# 8. install -------------------------------------------------------------------------------------


def test_install_routes_everything_through_backend(genuine: Pki, pki_dir: Path) -> None:
    xb.install()  # idempotent
    for module in (sigver, saml2.entity, saml2.metadata, saml2.mdstore, saml2.response):
        assert module.security_context is xb.security_context
    import saml2.tools.make_metadata as make_metadata
    assert make_metadata.security_context is xb.security_context
    conf = IdPConfig().load({"entityid": IDP_ID, "key_file": genuine.key, "cert_file": genuine.cert,
                             "crypto_backend": "xmlsec1", "only_use_keys_in_metadata": True})
    sec = saml2.entity.security_context(conf)
    assert isinstance(sec.crypto, xb.XmlsecBackend) and sec.only_use_keys_in_metadata is True
    assert isinstance(sec.sec_backend, sigver.RSACrypto)
    with pytest.raises(sigver.SigverError):
        sigver.get_xmlsec_binary()
    with pytest.raises(sigver.SigverError):
        saml2.algsupport.get_xmlsec_binary()
    with pytest.raises(sigver.SigverError):
        sigver.CryptoBackendXmlSec1("/usr/bin/xmlsec1")
    with pytest.raises(sigver.SigverError):
        sigver._get_xmlsec_cryptobackend()
    legacy = object.__new__(sigver.CryptoBackendXmlSec1)  # an instance made before install()
    with pytest.raises(sigver.SigverError):
        legacy.validate_signature("<x/>", genuine.cert, "pem", ASSERTION, "_x")
    with pytest.raises(sigver.SigverError):
        legacy.version  # noqa: B018


def test_verify_enveloped_tries_each_metadata_key_on_the_one_checked_signature(genuine: Pki, attacker: Pki) -> None:
    """Key rollover: a signature by the second of the issuer's keys holds; a
    signature by none of them is refused with the failure of each key."""
    xml, _rid, aid = make_response(genuine, sign_response=False)
    root = xb.parse_document(xml.encode("utf-8")).getroot()
    assertion = root.find(f"{{{SAML}}}Assertion")
    assert assertion.get("ID") == aid
    genuine_key, attacker_key = xb.certificate_key(genuine.cert_b64), xb.certificate_key(attacker.cert_b64)
    xb.verify_enveloped(assertion, [attacker_key, genuine_key])
    with pytest.raises(xb.SignatureRefused, match="does not verify") as caught:
        xb.verify_enveloped(assertion, [attacker_key, attacker_key])
    assert str(caught.value).count(";") == 1  # both keys tried
    assertion.find(f"{{{DS}}}Signature").append(etree.Element(f"{{{DS}}}Object"))
    with pytest.raises(xb.SignatureRefused, match="ds:Object"):  # the shape, refused before any key
        xb.verify_enveloped(assertion, [genuine_key])
