"""Our IdP (CSAM's, fedsim.saml.idp) answering an independent SAML SP:
python3-saml (OneLogin), with ``wantAssertionsEncrypted``, its own key and
certificate, and metadata it generated itself. python3-saml starts the
login (its signed AuthnRequest, HTTP-Redirect), our IdP answers, and
python3-saml decrypts (libxmlsec) and validates the Response as it would
in production: signatures with the IdP's certificate, Destination,
InResponseTo, audience, times, and that the assertion was encrypted."""
from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from fedsim import certs, trust
from fedsim.federation import Settings, entities
from fedsim.saml import config as saml_config
from fedsim.saml import encryption
from fedsim.saml.idp import IdentityProvider

SP_HOST = "onelogin-sp.example"
SP_ID = f"https://{SP_HOST}/metadata"
ACS = f"https://{SP_HOST}/acs"
LEVEL = "urn:be:fedict:iam:fas:Level500"
NRN = "85031215431"
NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol", "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "xenc": encryption.XENC}


def _pem_body(pem: bytes) -> str:
    return "".join(line for line in pem.decode().splitlines() if "-----" not in line)


def onelogin_settings(settings: Settings, sp_keys: certs.KeyPair, *, want_encrypted: bool = True) -> dict:
    csam = entities(settings)["csam-idp"]
    return {
        "strict": True,
        "debug": False,
        "sp": {"entityId": SP_ID,
               "assertionConsumerService": {"url": ACS,
                                            "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"},
               "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
               "x509cert": _pem_body(sp_keys.cert_file.read_bytes()),
               "privateKey": sp_keys.key_file.read_text()},
        "idp": {"entityId": csam.entity_id,
                "singleSignOnService": {"url": csam.url("sso"),
                                        "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"},
                "x509cert": _pem_body(certs.key_pair(settings.certs_dir, "csam-idp").cert_file.read_bytes())},
        "security": {"authnRequestsSigned": True, "wantMessagesSigned": True, "wantAssertionsSigned": True,
                     "wantAssertionsEncrypted": want_encrypted, "wantNameIdEncrypted": False,
                     "requestedAuthnContext": False, "rejectDeprecatedAlgorithm": True,
                     "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                     "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256"},
    }


def idp_trusting(settings: Settings, sp_metadata: str, folder: Path) -> IdentityProvider:
    """CSAM's IdP with the python3-saml SP's metadata (as it generated it) among its peers."""
    path = folder / "onelogin-sp.xml"
    path.write_text(sp_metadata, encoding="utf-8")
    table = entities(settings)
    peers = [saml_config.metadata_file(settings.certs_dir, table["monespace-sp"]), path]
    return IdentityProvider(saml_config.load(saml_config.config_dict(table["csam-idp"], settings.certs_dir, peers)))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, certs.KeyPair, Path]:
    root = tmp_path_factory.mktemp("onelogin")
    settings = dataclasses.replace(Settings(), certs_dir=root / "certs", instance_dir=root / "instance")
    trust.ensure(settings)
    return settings, certs.ensure(root / "onelogin", "sp", SP_ID), root


def acs_request(saml_response: str) -> dict:
    return {"https": "on", "http_host": SP_HOST, "script_name": "/acs",
            "get_data": {}, "post_data": {"SAMLResponse": saml_response}}


def round_trip(settings: Settings, conf: dict, idp: IdentityProvider) -> tuple[OneLogin_Saml2_Auth, str]:
    """python3-saml starts a login, our IdP answers it, python3-saml processes the answer."""
    start = OneLogin_Saml2_Auth({"https": "on", "http_host": SP_HOST, "script_name": "/login", "get_data": {}, "post_data": {}}, conf)
    url = start.login(return_to=f"https://{SP_HOST}/")
    request_id = start.get_last_request_id()
    info = idp.parse_redirect(urlsplit(url).query)  # its signature checked against its metadata
    assert info.sp_entity_id == SP_ID and info.acs_url == ACS and info.request_id == request_id
    answer = idp.respond(info, subject="pairwise-subject",
                         attributes={"egovNRN": [NRN], "givenName": ["Jean"], "surname": ["Dupont"]},
                         authn_context=LEVEL)
    saml_response = answer.fields["SAMLResponse"]
    auth = OneLogin_Saml2_Auth(acs_request(saml_response), conf)
    auth.process_response(request_id=request_id)
    return auth, saml_response


def test_python3_saml_decrypts_and_accepts_our_encrypted_response(world) -> None:
    settings, sp_keys, folder = world
    conf = onelogin_settings(settings, sp_keys)
    metadata = OneLogin_Saml2_Settings(conf).get_sp_metadata()
    text = metadata if isinstance(metadata, str) else metadata.decode()
    assert 'use="encryption"' in text  # python3-saml publishes its key for encryption too
    idp = idp_trusting(settings, text, folder)
    auth, saml_response = round_trip(settings, conf, idp)
    wire = base64.b64decode(saml_response)
    root = etree.fromstring(wire)
    assert root.find("saml:EncryptedAssertion", NS) is not None and root.find("saml:Assertion", NS) is None
    assert NRN.encode() not in wire
    data = root.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert data.find("xenc:EncryptionMethod", NS).get("Algorithm") == encryption.AES256_GCM
    # Its metadata lists no EncryptionMethod: the key is transported with rsa-oaep-mgf1p.
    method = data.find("{http://www.w3.org/2000/09/xmldsig#}KeyInfo/xenc:EncryptedKey/xenc:EncryptionMethod", NS)
    assert method.get("Algorithm") == encryption.RSA_OAEP_MGF1P
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.is_authenticated()
    assert auth.get_nameid() == "pairwise-subject"
    assert auth.get_attributes()["egovNRN"] == [NRN]


def test_python3_saml_refuses_a_plain_answer_when_it_wants_encryption(world) -> None:
    """The control: python3-saml does enforce wantAssertionsEncrypted. Our IdP
    reads metadata without an encryption key (generated with the option off),
    answers in clear, and python3-saml (demanding encryption) refuses."""
    settings, sp_keys, folder = world
    plain_metadata = OneLogin_Saml2_Settings(onelogin_settings(settings, sp_keys, want_encrypted=False)
                                             ).get_sp_metadata()
    text = plain_metadata if isinstance(plain_metadata, str) else plain_metadata.decode()
    assert 'use="encryption"' not in text
    idp = idp_trusting(settings, text, folder)
    auth, saml_response = round_trip(settings, onelogin_settings(settings, sp_keys), idp)
    assert etree.fromstring(base64.b64decode(saml_response)).find("saml:Assertion", NS) is not None
    assert not auth.is_authenticated()
    assert "encrypted" in (auth.get_last_error_reason() or "").lower()
