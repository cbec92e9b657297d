"""Every rule of the Web Browser SSO profile that fedsim.saml.profile
enforces, each broken alone in a Response that is then signed again with the
genuine IdP's key (assertion first, then the Response), exactly as a
compromised or buggy IdP would send it. The signatures verify, so each
refusal is the rule's own; the reason names it and nothing is stored."""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from lxml import etree
from sqlalchemy.orm import Session

from fedsim.federation import Settings, entities
from fedsim.saml.errors import AuthnContextUnavailable, IdpStatus, SamlRefused
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.xmlsec_backend import sign_enveloped, signing_key
from test_saml_sp import NS, Stored, answer, decode, encode, refused, start, stored

SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"
SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"
ELSEWHERE = "https://elsewhere.example/saml"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def forge(settings: Settings, genuine: str, change: Callable[[etree._Element], None]) -> str:
    """``genuine`` with its signatures removed, changed, and signed again
    with CSAM's own key: every assertion (innermost first), then the Response."""
    root = decode(genuine)
    for signature in root.xpath("//ds:Signature", namespaces=NS):
        signature.getparent().remove(signature)
    change(root)
    key = signing_key(str(settings.certs_dir / "csam-idp.key"), str(settings.certs_dir / "csam-idp.crt"))
    for assertion in reversed(root.xpath("//saml:Assertion", namespaces=NS)):
        sign_enveloped(assertion, key)
    sign_enveloped(root, key)
    return encode(root)


def one(root: etree._Element, xpath: str) -> etree._Element:
    found = root.xpath(xpath, namespaces=NS)
    assert len(found) == 1, f"{len(found)} nodes at {xpath}"
    return found[0]


def drop(xpath: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        node = one(root, xpath)
        node.getparent().remove(node)
    return change


def set_attr(xpath: str, name: str, value: str | None) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        node = one(root, xpath)
        if value is None:
            del node.attrib[name]
        else:
            node.set(name, value)
    return change


def set_text(xpath: str, text: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        one(root, xpath).text = text
    return change


RESPONSE = "/samlp:Response"
ASSERTION = "/samlp:Response/saml:Assertion"
SUBJECT = f"{ASSERTION}/saml:Subject"
CONFIRMATION = f"{SUBJECT}/saml:SubjectConfirmation"
CONFIRMATION_DATA = f"{CONFIRMATION}/saml:SubjectConfirmationData"
CONDITIONS = f"{ASSERTION}/saml:Conditions"
AUTHN = f"{ASSERTION}/saml:AuthnStatement"


def add_audience_restriction(audience: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        conditions = one(root, CONDITIONS)
        restriction = etree.SubElement(conditions, SAML + "AudienceRestriction")
        etree.SubElement(restriction, SAML + "Audience").text = audience
    return change


def extra_confirmation(method: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        confirmation = one(root, CONFIRMATION)
        other = copy.deepcopy(confirmation)
        other.set("Method", method)
        confirmation.addnext(other)
    return change


def second_assertion(root: etree._Element) -> None:
    assertion = one(root, ASSERTION)
    twin = copy.deepcopy(assertion)
    twin.set("ID", assertion.get("ID") + "-twin")
    assertion.addnext(twin)


def nested_in_advice(root: etree._Element) -> None:
    assertion = one(root, ASSERTION)
    inner = copy.deepcopy(assertion)
    inner.set("ID", assertion.get("ID") + "-inner")
    advice = etree.Element(SAML + "Advice")
    advice.append(inner)
    one(root, CONDITIONS).addnext(advice)


def error_status_with_assertion(root: etree._Element) -> None:
    one(root, f"{RESPONSE}/samlp:Status/samlp:StatusCode").set(
        "Value", "urn:oasis:names:tc:SAML:2.0:status:Responder")


def unknown_condition(root: etree._Element) -> None:
    condition = etree.SubElement(one(root, CONDITIONS), SAML + "Condition",
                                 nsmap={"xsi": "http://www.w3.org/2001/XMLSchema-instance",
                                        "ex": "urn:example:conditions"})
    condition.set("{http://www.w3.org/2001/XMLSchema-instance}type", "ex:Geofence")


def comment_in_name_id(root: etree._Element) -> None:
    name_id = one(root, f"{SUBJECT}/saml:NameID")
    name_id.text = "victim"
    comment = etree.Comment(" truncated here ")
    comment.tail = ".attacker"
    name_id.append(comment)


def in_future(minutes: int) -> str:
    return _stamp(_now() + timedelta(minutes=minutes))


def in_past(minutes: int) -> str:
    return _stamp(_now() - timedelta(minutes=minutes))


def acs(settings: Settings) -> str:
    return entities(settings)["monespace-sp"].url("acs")


# (case id, change, a fragment the refusal must contain)
RULES: list[tuple[str, Callable[[Settings], Callable[[etree._Element], None]], str]] = [
    ("response-destination-missing", lambda s: set_attr(RESPONSE, "Destination", None), "Destination absente"),
    ("response-destination-other", lambda s: set_attr(RESPONSE, "Destination", ELSEWHERE), "Destination incorrecte"),
    ("response-in-response-to-missing", lambda s: set_attr(RESPONSE, "InResponseTo", None), "InResponseTo"),
    ("response-in-response-to-other", lambda s: set_attr(RESPONSE, "InResponseTo", "id-other"), "InResponseTo"),
    ("response-issuer-missing", lambda s: drop(f"{RESPONSE}/saml:Issuer"), "Issuer absent de la Response"),
    ("response-issuer-other", lambda s: set_text(f"{RESPONSE}/saml:Issuer", ELSEWHERE), "Émetteur inattendu"),
    ("response-issuer-format", lambda s: set_attr(f"{RESPONSE}/saml:Issuer", "Format",
                                                  "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
     "format entity"),
    ("response-issuer-whitespace", lambda s: set_text(f"{RESPONSE}/saml:Issuer",
                                                      f"  {entities(s)['csam-idp'].entity_id}\n"),
     "entouré d'espaces"),
    ("response-issued-in-future", lambda s: set_attr(RESPONSE, "IssueInstant", in_future(30)), "futur"),
    ("response-issued-before-request", lambda s: set_attr(RESPONSE, "IssueInstant", in_past(60)),
     "antérieur à la demande"),
    ("response-version", lambda s: set_attr(RESPONSE, "Version", "2.1"), "Version"),
    ("error-status-with-assertion", lambda s: error_status_with_assertion, "accompagné d'une assertion"),
    # The schema itself requires the assertion's Issuer and a known type for a Condition.
    ("assertion-issuer-missing", lambda s: drop(f"{ASSERTION}/saml:Issuer"), "schéma SAML 2.0"),
    ("assertion-issuer-other", lambda s: set_text(f"{ASSERTION}/saml:Issuer", ELSEWHERE), "Émetteur inattendu"),
    ("assertion-issuer-whitespace", lambda s: set_text(f"{ASSERTION}/saml:Issuer",
                                                       f" {entities(s)['csam-idp'].entity_id} "),
     "entouré d'espaces"),
    ("assertion-version", lambda s: set_attr(ASSERTION, "Version", "2.1"), "Version"),
    ("two-assertions", lambda s: second_assertion, "assertions dans le message"),
    ("assertion-nested-in-advice", lambda s: nested_in_advice, "assertions dans le message"),
    ("conditions-missing", lambda s: drop(CONDITIONS), "Conditions absentes"),
    ("audience-restriction-missing", lambda s: drop(f"{CONDITIONS}/saml:AudienceRestriction"),
     "Aucune AudienceRestriction"),
    ("audience-other", lambda s: set_text(f"{CONDITIONS}/saml:AudienceRestriction/saml:Audience", ELSEWHERE),
     "Audience incorrecte"),
    ("second-restriction-without-us", lambda s: add_audience_restriction(ELSEWHERE), "Audience incorrecte"),
    ("conditions-not-yet-valid", lambda s: set_attr(CONDITIONS, "NotBefore", in_future(10)), "pas encore valide"),
    ("conditions-expired", lambda s: set_attr(CONDITIONS, "NotOnOrAfter", in_past(10)), "expiré"),
    ("unknown-condition", lambda s: unknown_condition, "schéma SAML 2.0"),
    ("subject-confirmation-missing", lambda s: drop(CONFIRMATION), "Aucune SubjectConfirmation"),
    ("method-sender-vouches", lambda s: set_attr(CONFIRMATION, "Method",
                                                 "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"),
     "Méthode de confirmation"),
    ("method-holder-of-key", lambda s: set_attr(CONFIRMATION, "Method",
                                                "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"),
     "Méthode de confirmation"),
    ("extra-holder-of-key-confirmation", lambda s: extra_confirmation(
        "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"), "Méthode de confirmation"),
    ("confirmation-data-missing", lambda s: drop(CONFIRMATION_DATA), "SubjectConfirmationData absent"),
    ("confirmation-not-on-or-after-missing", lambda s: set_attr(CONFIRMATION_DATA, "NotOnOrAfter", None),
     "sans NotOnOrAfter"),
    ("confirmation-expired", lambda s: set_attr(CONFIRMATION_DATA, "NotOnOrAfter", in_past(5)), "expiré"),
    ("confirmation-not-before", lambda s: set_attr(CONFIRMATION_DATA, "NotBefore", in_past(1)), "NotBefore"),
    ("recipient-missing", lambda s: set_attr(CONFIRMATION_DATA, "Recipient", None), "sans Recipient"),
    ("recipient-other", lambda s: set_attr(CONFIRMATION_DATA, "Recipient", ELSEWHERE), "Recipient incorrect"),
    ("confirmation-in-response-to-missing", lambda s: set_attr(CONFIRMATION_DATA, "InResponseTo", None),
     "InResponseTo de SubjectConfirmationData"),
    ("confirmation-in-response-to-other", lambda s: set_attr(CONFIRMATION_DATA, "InResponseTo", "id-other"),
     "InResponseTo de SubjectConfirmationData"),
    ("name-id-missing", lambda s: drop(f"{SUBJECT}/saml:NameID"), "NameID absent"),
    ("name-id-empty", lambda s: set_text(f"{SUBJECT}/saml:NameID", ""), "NameID vide"),
    ("name-id-blank", lambda s: set_text(f"{SUBJECT}/saml:NameID", "   "), "NameID vide"),
    ("name-id-format-email", lambda s: set_attr(f"{SUBJECT}/saml:NameID", "Format",
                                                "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
     "Format de NameID inattendu"),
    ("name-id-sp-qualifier-other", lambda s: set_attr(f"{SUBJECT}/saml:NameID", "SPNameQualifier", ELSEWHERE),
     "SPNameQualifier"),
    ("name-id-qualifier-other", lambda s: set_attr(f"{SUBJECT}/saml:NameID", "NameQualifier", ELSEWHERE),
     "NameQualifier"),
    ("comment-in-name-id", lambda s: comment_in_name_id, "commentaire"),
    ("authn-statement-missing", lambda s: drop(AUTHN), "Aucun AuthnStatement"),
    ("session-not-on-or-after-passed", lambda s: set_attr(AUTHN, "SessionNotOnOrAfter", in_past(1)),
     "session du fournisseur d'identité a expiré"),
    ("authn-instant-in-future", lambda s: set_attr(AUTHN, "AuthnInstant", in_future(30)), "futur"),
]


@pytest.mark.parametrize("change, fragment", [(c, f) for _, c, f in RULES], ids=[i for i, _, _ in RULES])
def test_rule_broken_alone_in_a_correctly_signed_response(sp: ServiceProvider, idp: IdentityProvider, db: Session,
                                                          engine, settings: Settings, change, fragment: str) -> None:
    login = start(sp, idp, db)
    message = forge(settings, answer(idp, login.info).fields["SAMLResponse"], change(settings))
    why = refused(sp, db, engine, message, login.relay_state, [login.relay_state])
    assert fragment in why.reason, why.reason
    assert "signature" not in why.reason.lower(), f"refused for its signature, not the rule: {why.reason}"


def test_forged_control_is_accepted(sp: ServiceProvider, idp: IdentityProvider, db: Session, engine,
                                    settings: Settings) -> None:
    """Signing again without a change gives a Response the SP accepts: the
    refusals above are the rules', not the forging's."""
    login = start(sp, idp, db)
    message = forge(settings, answer(idp, login.info).fields["SAMLResponse"], lambda root: None)
    result = sp.accept(db, message, login.relay_state, [login.relay_state])
    assert result.first("egovNRN") == "85031215431"
    assert stored(engine) == Stored(seen=1, outstanding=1, answered=1)


def test_second_audience_restriction_that_names_us_too_is_accepted(sp, idp, db, settings) -> None:
    """Every restriction must hold (Core §2.5.1.4): two that both name us do."""
    login = start(sp, idp, db)
    message = forge(settings, answer(idp, login.info).fields["SAMLResponse"],
                    add_audience_restriction(sp.entity_id))
    assert sp.accept(db, message, login.relay_state, [login.relay_state]).name_id == "pairwise-subject"


def test_login_reports_what_was_asserted(sp, idp, db) -> None:
    login = start(sp, idp, db)
    result = sp.accept(db, answer(idp, login.info).fields["SAMLResponse"], login.relay_state, [login.relay_state])
    assert result.name_id_format == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    assert result.authn_instant is not None and abs(result.authn_instant - _now()) < timedelta(minutes=1)
    assert result.session_index


def test_error_status_is_reported_with_its_code(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    form = idp.respond_error(login.info, message="Pas ce niveau-là")
    with pytest.raises(AuthnContextUnavailable) as caught:
        sp.accept(db, form.fields["SAMLResponse"], login.relay_state, [login.relay_state])
    assert caught.value.status.endswith(":NoAuthnContext")
    assert "Pas ce niveau-là" in caught.value.reason
    assert stored(engine) == Stored(seen=0, outstanding=1, answered=0)


def test_other_error_status_names_the_code(sp, idp, db, settings) -> None:
    login = start(sp, idp, db)
    form = idp.respond_error(login.info, status="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed")
    with pytest.raises(IdpStatus) as caught:
        sp.accept(db, form.fields["SAMLResponse"], login.relay_state, [login.relay_state])
    assert "AuthnFailed" in caught.value.reason


def test_expired_confirmation_within_skew_is_still_accepted(sp, idp, db) -> None:
    """The skew (60 s) applies to the delivery window too: 30 s late is fine."""
    login = start(sp, idp, db)
    message = answer(idp, login.info).fields["SAMLResponse"]
    deadline = datetime.strptime(one(decode(message), CONFIRMATION_DATA).get("NotOnOrAfter"),
                                 "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    with freeze_time(deadline + timedelta(seconds=30)):
        sp.accept(db, message, login.relay_state, [login.relay_state])


def test_oversized_message_refused_before_parsing(sp, idp, db, engine) -> None:
    login = start(sp, idp, db)
    why = refused(sp, db, engine, "A" * (600 * 1024), login.relay_state, [login.relay_state])
    assert "volumineuse" in why.reason


# -- concurrency -----------------------------------------------------------------


def test_one_response_posted_eight_times_at_once_logs_in_once(sp, idp, engine) -> None:
    """Eight threads, each with its own database session, post the same
    genuine Response at the same moment: exactly one login, seven refusals
    that say it was already answered, no other error."""
    with Session(engine, expire_on_commit=False) as db:
        login = start(sp, idp, db)
        message = answer(idp, login.info).fields["SAMLResponse"]
    barrier = threading.Barrier(8)
    outcomes: list[object] = []

    def post() -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                outcomes.append(sp.accept(own, message, login.relay_state, [login.relay_state]))
            except SamlRefused as exc:
                outcomes.append(exc)
            except Exception as exc:  # noqa: BLE001 - recorded, and the test fails on it
                outcomes.append(("unexpected", exc))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 8
    unexpected = [o for o in outcomes if isinstance(o, tuple)]
    assert not unexpected, unexpected
    logins = [o for o in outcomes if not isinstance(o, SamlRefused)]
    assert len(logins) == 1
    assert all("déjà" in o.reason or "rejou" in o.reason for o in outcomes if isinstance(o, SamlRefused))
    assert stored(engine) == Stored(seen=1, outstanding=1, answered=1)
