"""fedsim.saml.idp and fedsim.saml.authn_request refuse what the Web SSO
profile does not allow, each rule broken alone in a request re-signed with
the genuine SP's key: AssertionConsumerServiceURL with an index, a
ProtocolBinding other than HTTP-POST, an Issuer of another Format or with
white space around it, a signed request without Destination; and the replay
cache of AuthnRequest IDs (IdentityProvider.remember), purged once useless."""
from __future__ import annotations

import base64
import logging
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from freezegun import freeze_time
from lxml import etree
from saml2.xmldsig import SIG_RSA_SHA256
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fedsim import clock
from fedsim.federation import Settings
from fedsim.saml import state
from fedsim.saml.errors import SamlRefused
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.state import PendingAuthn, SeenAuthnRequest

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"


def _args(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _inflate(value: str) -> bytes:
    return zlib.decompress(base64.b64decode(value), -15)


def _deflate(xml: bytes) -> str:
    compressor = zlib.compressobj(wbits=-15)
    return base64.b64encode(compressor.compress(xml) + compressor.flush()).decode("ascii")


def _resign(args: dict[str, str], key_file: Path) -> dict[str, str]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    signed = dict(args, SigAlg=SIG_RSA_SHA256)
    data = "&".join(urlencode({k: signed[k]}) for k in ("SAMLRequest", "RelayState", "SigAlg") if k in signed)
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    return dict(signed, Signature=base64.b64encode(key.sign(data.encode("ascii"), padding.PKCS1v15(),
                                                            hashes.SHA256())).decode("ascii"))


def edited(sp: ServiceProvider, db: Session, settings: Settings,
           change: Callable[[etree._Element], None] | None = None) -> dict[str, str]:
    """A request of the SP, changed by ``change``, re-signed with its key."""
    url, _ = sp.start_login(db, "/")
    args = _args(url)
    if change is None:
        return args
    root = etree.fromstring(_inflate(args["SAMLRequest"]))
    change(root)
    args["SAMLRequest"] = _deflate(etree.tostring(root))
    return _resign(args, settings.certs_dir / "monespace-sp.key")


def attr(name: str, value: str | None) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        if value is None:
            root.attrib.pop(name, None)
        else:
            root.set(name, value)
    return change


def issuer(text: str | None = None, fmt: str | None = None) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = root.find(f"{{{SAML}}}Issuer")
        if text is not None:
            element.text = text.format(sp=element.text)
        if fmt is not None:
            element.set("Format", fmt)
    return change


def url_and_index(root: etree._Element) -> None:
    assert root.get("AssertionConsumerServiceURL")
    root.set("AssertionConsumerServiceIndex", "1")  # the index of that very URL in the SP's metadata


# (case id, change, a fragment the refusal must contain)
RULES = [
    ("acs-url-and-index", url_and_index, "s'excluent mutuellement (SAML Core §3.4.1)"),
    ("binding-artifact", attr("ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"),
     "ne répond qu'en HTTP-POST"),
    ("binding-redirect", attr("ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"),
     "ne répond qu'en HTTP-POST"),
    ("binding-unknown", attr("ProtocolBinding", "urn:example:made-up"), "ne répond qu'en HTTP-POST"),
    ("issuer-format-persistent", issuer(fmt="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
     "SAML Profiles §4.1.4.1"),
    ("issuer-format-empty", issuer(fmt=""), "SAML Profiles §4.1.4.1"),
    ("issuer-whitespace-around", issuer("  {sp}\n"), "entouré d'espaces"),
    ("issuer-whitespace-after", issuer("{sp} "), "entouré d'espaces"),
    ("destination-missing", attr("Destination", None), "SAML Bindings §3.4.5.2"),
    ("destination-empty", attr("Destination", ""), "Destination incorrecte"),
    ("id-too-long", attr("ID", "_" + "a" * 200), "trop long"),
]


@pytest.mark.parametrize("change, fragment", [(c, f) for _, c, f in RULES], ids=[i for i, _, _ in RULES])
def test_rule_broken_alone_in_a_signed_request_is_refused(sp, idp, db, settings, caplog, change,
                                                         fragment: str) -> None:
    with caplog.at_level(logging.WARNING, logger="fedsim.protocol"), pytest.raises(SamlRefused) as caught:
        idp.parse_redirect(edited(sp, db, settings, change))
    assert fragment in caught.value.reason, caught.value.reason
    assert "signature" not in caught.value.reason.lower()
    refusals = [r.getMessage() for r in caplog.records if 'outcome="refused"' in r.getMessage()]
    assert refusals and fragment in refusals[-1]


@pytest.mark.parametrize("change", [
    None, attr("ProtocolBinding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"),
    attr("ProtocolBinding", None), issuer(fmt=ENTITY),
], ids=["unchanged", "binding-post", "binding-absent", "issuer-format-entity"])
def test_what_the_profile_allows_is_accepted(sp, idp, db, settings, change) -> None:
    info = idp.parse_redirect(edited(sp, db, settings, change))
    assert info.sp_entity_id == sp.entity_id and info.accept_until


def test_index_alone_is_accepted(sp, idp, db, settings) -> None:
    def index_only(root: etree._Element) -> None:
        del root.attrib["AssertionConsumerServiceURL"]
        root.set("AssertionConsumerServiceIndex", "1")
    url, _ = sp.start_login(db, "/")
    expected = etree.fromstring(_inflate(_args(url)["SAMLRequest"])).get("AssertionConsumerServiceURL")
    assert idp.parse_redirect(edited(sp, db, settings, index_only)).acs_url == expected


# -- the replay cache -----------------------------------------------------------------


def _count(db: Session, model: type) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_a_request_is_remembered_once_then_refused_as_a_replay(sp, idp, db, settings, caplog) -> None:
    args = edited(sp, db, settings)
    info = idp.parse_redirect(args)
    key = idp.remember(db, info)
    assert idp.recall(db, key) == info  # re-reading the kept request is no replay
    assert idp.recall(db, key) == info
    again = idp.parse_redirect(args)  # reading it again is fine: keeping it again is the replay
    with caplog.at_level(logging.WARNING, logger="fedsim.protocol"), pytest.raises(SamlRefused, match="déjà reçue"):
        idp.remember(db, again)
    assert info.request_id in caplog.text and "replayed AuthnRequest ID" in caplog.text
    assert _count(db, PendingAuthn) == 1 and _count(db, SeenAuthnRequest) == 1  # the refusal stored nothing
    idp.recall(db, key)  # and the session is still usable


def test_a_new_request_reusing_an_id_is_refused(sp, idp, db, settings) -> None:
    first = idp.parse_redirect(edited(sp, db, settings))
    idp.remember(db, first)
    reused = idp.parse_redirect(edited(sp, db, settings, attr("ID", first.request_id)))
    assert reused.request_id == first.request_id
    with pytest.raises(SamlRefused, match="déjà reçue"):
        idp.remember(db, reused)


def test_the_same_id_from_another_sp_is_not_a_replay(sp, idp, db, settings) -> None:
    import dataclasses
    info = idp.parse_redirect(edited(sp, db, settings))
    idp.remember(db, info)
    idp.remember(db, dataclasses.replace(info, sp_entity_id="https://other-sp.example/metadata"))
    assert _count(db, SeenAuthnRequest) == 2


def test_replay_cache_is_kept_for_the_acceptance_window_then_purged(sp, idp, db, settings) -> None:
    info = idp.parse_redirect(edited(sp, db, settings))
    idp.remember(db, info)
    row = db.scalars(select(SeenAuthnRequest)).one()
    now = clock.naive_utc_now()
    assert now + timedelta(hours=23) < row.expires_at <= now + timedelta(days=1, minutes=10)
    state.purge(db, row.expires_at - timedelta(seconds=1))
    assert _count(db, SeenAuthnRequest) == 1
    state.purge(db, row.expires_at + timedelta(seconds=1))
    assert _count(db, SeenAuthnRequest) == 0


def test_past_the_window_the_replay_is_refused_as_too_old(sp, idp, db, settings) -> None:
    args = edited(sp, db, settings)
    idp.remember(db, idp.parse_redirect(args))
    row = db.scalars(select(SeenAuthnRequest)).one()
    later = row.expires_at + timedelta(seconds=1)
    state.purge(db, later)
    with freeze_time(later), pytest.raises(SamlRefused, match="hors délai"):
        idp.parse_redirect(args)


def test_two_identical_requests_at_once_are_kept_once(sp, idp, engine, settings, db) -> None:
    import threading
    info = idp.parse_redirect(edited(sp, db, settings))
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def keep() -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                idp.remember(session, info)
                outcomes.append("kept")
            except SamlRefused:
                outcomes.append("refused")

    threads = [threading.Thread(target=keep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["kept", "refused", "refused", "refused"]


def test_an_info_without_its_window_is_remembered_long_enough(idp: IdentityProvider, db) -> None:
    from fedsim.saml.idp import AuthnRequestInfo
    idp.remember(db, AuthnRequestInfo(request_id="_legacy", sp_entity_id="https://sp.example/metadata",
                                      acs_url="https://sp.example/acs", relay_state=""))
    row = db.scalars(select(SeenAuthnRequest)).one()
    assert row.expires_at >= clock.naive_utc_now() + timedelta(days=2)
