"""Signature checks from many threads at once (an IdP under a burst of
journeys): every genuine message verifies, every tampered one is refused.
Covers the cached ``xmlsec.Key`` objects shared by all threads
(``verify_enveloped``), pysaml2's shared SecurityContext with its temp files
and the schema validation lock, and HTTP-Redirect query signatures."""
from __future__ import annotations

import base64
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from lxml import etree
from saml2.sigver import SignatureError

from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.xmlsec_backend import SignatureRefused, install, parse_document, verify_enveloped

THREADS = 16
ROUNDS = 50
SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    install()


@pytest.fixture
def messages(sp: ServiceProvider, idp: IdentityProvider, db) -> dict[str, str]:  # noqa: ANN001
    """A genuine signed AuthnRequest query and Response, and tampered copies."""
    url, _ = sp.start_login(db, "/")
    query = urlsplit(url).query
    info = idp.parse_redirect(query)
    form = idp.respond(info, subject="pairwise-subject", attributes={"givenName": ["Naïma"]},
                       authn_context="urn:be:fedict:iam:fas:Level500")
    xml = base64.b64decode(form.fields["SAMLResponse"]).decode("utf-8")
    assert "Naïma" in xml
    return {"query": query, "tampered_query": query.replace("RelayState=", "RelayState=x", 1),
            "xml": xml, "tampered_xml": xml.replace("Naïma", "Mallory")}


def _enveloped(xml: str, keys: list) -> None:  # noqa: ANN001 - xmlsec.Key
    root = parse_document(xml.encode("utf-8")).getroot()
    verify_enveloped(root, keys)
    verify_enveloped(root.find(f"{SAML}Assertion"), keys)


def test_signatures_verify_from_many_threads_at_once(sp: ServiceProvider, idp: IdentityProvider,
                                                    messages: dict[str, str]) -> None:
    keys = sp._idp_keys()  # the lru-cached xmlsec.Key objects every thread shares  # noqa: SLF001
    sec = sp.client.sec     # pysaml2's one SecurityContext of the SP (metadata keys, temp files)
    checks = {
        "enveloped": lambda xml: _enveloped(xml, keys),
        "pysaml2": lambda xml: sec.correctly_signed_response(xml, require_response_signature=True),
        "redirect": idp.parse_redirect,
    }
    inputs = {"enveloped": "xml", "pysaml2": "xml", "redirect": "query"}
    refusals = (SignatureRefused, SignatureError, SamlRefused)
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> Counter:
        seen: Counter = Counter()
        barrier.wait()
        for i in range(ROUNDS):
            kind = ("enveloped", "pysaml2", "redirect")[(n + i) % 3]
            try:
                checks[kind](messages[inputs[kind]])
                seen[(kind, "genuine", "ok")] += 1
            except Exception as exc:  # noqa: BLE001 - counted, then shown below
                seen[(kind, "genuine", f"{type(exc).__name__}: {getattr(exc, 'detail', '') or exc}"[:300])] += 1
            try:
                checks[kind](messages["tampered_" + inputs[kind]])
                seen[(kind, "tampered", "accepted")] += 1
            except refusals:
                seen[(kind, "tampered", "refused")] += 1
            except Exception as exc:  # noqa: BLE001
                seen[(kind, "tampered", f"{type(exc).__name__}: {exc}"[:300])] += 1
        return seen

    with ThreadPoolExecutor(THREADS) as pool:
        total = sum(pool.map(worker, range(THREADS)), Counter())
    per_kind = THREADS * ROUNDS // 3
    expected = {(kind, "genuine", "ok") for kind in checks} | {(kind, "tampered", "refused") for kind in checks}
    assert set(total) == expected, {k: v for k, v in total.items() if k not in expected}
    assert sum(total.values()) == 2 * THREADS * ROUNDS
    assert all(abs(count - per_kind) <= THREADS for count in total.values()), total


def test_tampered_response_is_really_refused_by_each_path(sp: ServiceProvider, messages: dict[str, str]) -> None:
    """Control: the tampered Response differs only in one attribute value."""
    with pytest.raises(SignatureRefused):
        _enveloped(messages["tampered_xml"], sp._idp_keys())  # noqa: SLF001
    with pytest.raises(SignatureError):
        sp.client.sec.correctly_signed_response(messages["tampered_xml"], require_response_signature=True)
    assert etree.fromstring(messages["xml"].encode()).tag == f"{SAMLP}Response"
