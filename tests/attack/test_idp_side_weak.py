"""The hostile-SP catalogue finds the holes of an IdP that checks nothing:
it answers any request, signed or not, with an assertion posted to
whatever ACS the request names; it also breaks (500) on a DOCTYPE. And an
IdP is reached by its metadata; the CLI runs the catalogue."""
from __future__ import annotations

import base64
import contextlib
import zlib
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from flask import Flask, request
from lxml import etree

from fedsim_harness.attack import idp_catalogue, idp_driver, idp_report, idp_targets
from fedsim_harness.attack.idp_driver import IdpTarget, origin
from fedsim_harness.attack.idp_forge import rogue_key
from fedsim_harness.cli import cli
from fedsim_harness.scenario.browser import WsgiTransport

HOST = "weak-idp.example"
SP = "https://sp.example/metadata"
ACS = "https://sp.example/acs"
METADATA = f"""<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://{HOST}/idp">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true">
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://{HOST}/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"""


def weak_idp() -> Flask:
    app = Flask(__name__)

    @app.get("/sso")
    def sso():
        acs = ACS
        try:
            xml = zlib.decompress(base64.b64decode(request.args.get("SAMLRequest", "")), -15)
        except Exception:  # noqa: BLE001 - weak: garbage is answered all the same
            xml = b""
        if b"<!DOCTYPE" in xml:
            raise RuntimeError("this weak IdP breaks on a DTD")
        with contextlib.suppress(Exception):
            acs = etree.fromstring(xml).get("AssertionConsumerServiceURL") or ACS
        response = ('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
                    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0">'
                    '<saml:Assertion ID="_a" Version="2.0"><saml:Subject><saml:NameID>jean</saml:NameID>'
                    '</saml:Subject></saml:Assertion></samlp:Response>')
        value = base64.b64encode(response.encode()).decode()
        return (f'<form method="post" action="{acs}" data-autosubmit><input type="hidden" name="SAMLResponse" '
                f'value="{value}"></form>')

    return app


def _target() -> IdpTarget:
    return IdpTarget("weak IdP", f"http://{HOST}/sso", rogue_key(SP), (ACS,), frozenset({origin(f"http://{HOST}")}),
                     rogue_key("https://other.example/metadata"))


def test_the_weak_idp_is_caught() -> None:
    app = weak_idp()
    cases = idp_catalogue.select(ids=["sig-unsigned", "sig-unknown-key", "acs-other-host", "acs-with-query",
                                  "issuer-unknown", "msg-not-xml", "msg-doctype", "session-passive-none"])
    results = {r.case.id: r for r in idp_driver.Runner(_target(), lambda: WsgiTransport({HOST: app})).run(cases)}
    verdicts = {case: r.verdict for case, r in results.items()}
    assert verdicts["baseline"] == idp_driver.ISSUED_OK
    for case in ("sig-unsigned", "sig-unknown-key", "issuer-unknown", "msg-not-xml", "session-passive-none"):
        assert verdicts[case] == idp_driver.ISSUED, (case, results[case].detail)
    for case in ("acs-other-host", "acs-with-query"):
        assert verdicts[case] == idp_driver.UNLISTED, (case, results[case].detail)
    assert verdicts["msg-doctype"] == idp_driver.SERVER_ERROR
    assert "<saml:Assertion" in results["sig-unsigned"].response_xml
    assert not idp_report.passed(list(results.values()))


def test_an_idp_by_metadata(tmp_path: Path) -> None:
    key = rogue_key(SP)
    from cryptography.hazmat.primitives import serialization
    key_file = tmp_path / "sp.key"
    key_file.write_bytes(key.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    target = idp_targets.from_metadata(METADATA.encode(), sp_entity_id=SP, sp_key_file=key_file,
                                       sp_cert_file=None, acs=(ACS,))
    assert (target.sso_url, target.acs, target.login) == (f"http://{HOST}/sso", (ACS,), None)
    with pytest.raises(idp_targets.IdpTargetError, match="--sp-acs"):
        idp_targets.from_metadata(METADATA.encode(), sp_entity_id=SP, sp_key_file=key_file, sp_cert_file=None,
                                  acs=())
    with pytest.raises(idp_targets.IdpTargetError, match="no IdP"):
        idp_targets.from_metadata(b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                                  b'entityID="x"/>', sp_entity_id=SP, sp_key_file=key_file, sp_cert_file=None,
                                  acs=(ACS,))


def test_cli_attack_idp_csam_writes_reports(tmp_path: Path) -> None:
    junit, report = tmp_path / "idp.xml", tmp_path / "idp.json"
    result = CliRunner().invoke(cli, ["attack", "idp", "csam", "--case", "sig-unsigned", "--case", "acs-other-host",
                                      "--junit", str(junit), "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert "PASS: 3 cases" in result.output
    assert [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")] == [
        "baseline", "sig-unsigned", "acs-other-host"]
    assert report.exists()


def test_cli_attack_idp_lists_and_refuses_bad_targets(tmp_path: Path) -> None:
    listed = CliRunner().invoke(cli, ["attack", "idp", "cerbere", "--list", "--group", "replay"])
    assert listed.exit_code == 0 and listed.output.splitlines()[0].startswith("baseline")
    assert CliRunner().invoke(cli, ["attack", "idp", "csam", "--case", "nope"]).exit_code == 2
    metadata = tmp_path / "idp.xml"
    metadata.write_text(METADATA)
    missing = CliRunner().invoke(cli, ["attack", "idp", str(metadata)])
    assert missing.exit_code == 2 and "--sp-key" in missing.output
