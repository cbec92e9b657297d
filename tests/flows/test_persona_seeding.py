"""What the personas file seeds besides cards: a Cerbère password (direct
login at once, G26), the persona's own attributes in CSAM's assertion, the
foreigners an eIDAS node knows, itsme accounts."""
from __future__ import annotations

from sqlalchemy import select

from downstream_sp import DownstreamSP, browser_with, log_in, publish, sp_entity
from fedsim import personas
from fedsim.db import Database
from idp_csam import eidas_node
from idp_csam.itsme_phone import normalize_phone
from idp_csam.models import Citizen
from fedsim_harness.stack import start_in_process


def test_a_preset_cerbere_password_logs_in_at_once(federation, browser) -> None:
    pieter = personas.by_id("pieter")
    browser.open(federation.urls["monespace"] + "/connexion/cerbere")
    page = browser.submit({"username": pieter.monespace.cerbere_username,
                           "password": pieter.monespace.cerbere_password}, button="Se connecter")
    assert page.status == 200, page.main_text[:400]
    assert "Membre du personnel de l'enseignement" in page.text  # two contexts: the choice (G10)


def test_csam_releases_the_personas_own_attributes(tmp_path) -> None:
    """To an SP that lists no RequestedAttributes (CSAM's release policy:
    one that lists some gets only those, as Mon Espace)."""
    pieter = personas.by_id("pieter")
    folder = tmp_path / "csam-sps"
    folder.mkdir()
    fed = start_in_process(tmp_path, overrides={"idp_csam": {"SP_METADATA_DIR": str(folder),
                                                             "SP_METADATA_CHECK_SECONDS": 0}})
    entity = sp_entity("csam-attrs", port=5993)
    sp = DownstreamSP(entity, tmp_path / "csam-attrs-certs", fed.settings, idp_name="csam-idp")
    try:
        with Database.factory(fed.apps["idp_csam"])() as db:
            assert db.get(Citizen, pieter.nrn).attributes == {k: list(v) for k, v in pieter.attributes.items()}
        publish(entity, tmp_path / "csam-attrs-certs", folder)
        page = log_in(browser_with(fed, sp), sp, pieter)
        assert page.url == "http://localhost:5993/saml/acs", (page.url, page.text[:300])
        login = sp.accept()
        assert login.attributes["urn:be:fwb:attr:matricule-enseignant"] == ["3870109133"]
        assert login.attributes["urn:be:fwb:attr:fonction"] == ["Instituteur primaire"]
        assert login.first("givenName") == pieter.given_name  # besides the standard ones
    finally:
        sp.close()
        fed.close()


def test_a_persona_without_attributes_gets_the_standard_ones_only(federation) -> None:
    with Database.factory(federation.apps["idp_csam"])() as db:
        assert db.get(Citizen, personas.by_id("jean").nrn).attributes is None


def test_the_eidas_node_knows_the_personas_foreigners(federation) -> None:
    daan = personas.by_id("daan")
    with federation.apps["idp_csam"].test_request_context("/"):
        known = {p.id: p for p in eidas_node._personas()["NL"]}  # noqa: SLF001 - what the node's page lists
    assert "sanne" in known  # the node's own people stay
    assert known["daan"].person_identifier == "NL/BE/876543210"
    assert known["daan"].loa.endswith("/substantial") and known["daan"].birth_date == daan.eidas.birth_date


def test_itsme_accounts_come_from_the_personas_file(federation) -> None:
    from idp_csam.itsme_op import ItsmePhone

    with Database.factory(federation.apps["idp_csam"])() as db:
        phones = dict(db.execute(select(ItsmePhone.phone, ItsmePhone.nrn)).all())
    for persona in personas.load():
        if persona.itsme:
            assert phones[normalize_phone(persona.itsme.phone)] == persona.nrn


def test_the_foreign_national_logs_in_with_an_e_mail_code(federation, browser) -> None:
    import re

    ana = personas.by_id("ana")
    browser.open(federation.urls["monespace"] + "/connexion")
    browser.click("IDENTIFICATION avec un code de sécurité envoyé par e-mail")
    browser.submit({"username": ana.csam.username, "password": ana.csam.password}, button="Suivant")
    [mail] = federation.mailbox.test_client().get(
        "/api/messages", query_string={"to": ana.email, "limit": 1}).get_json()["messages"]
    browser.submit({"code": re.search(r"\d{6}", mail["text"]).group()}, button="Se connecter")
    assert "VOTRE COMPTE MON ESPACE" in browser.page.text and "Ana Popescu" in browser.page.text
    response = next(m for m in browser.saml_trace if m.kind == "SAMLResponse").xml
    assert ana.nrn in response  # egovNRN: the BIS number


def test_a_cerbere_password_added_to_the_file_reaches_an_existing_account(federation) -> None:
    from fedsim.passwords import check_password_hash
    from monespace.accounts import AccountService
    from monespace.models import Account

    pieter = personas.by_id("pieter")
    with Database.factory(federation.apps["monespace"])() as db:
        account = db.scalars(select(Account).where(Account.nrn == pieter.nrn)).one()
        account.cerbere_password_hash = None  # seeded before the file set a password
        db.commit()
        AccountService.seed(db, personas.load())
        account = db.scalars(select(Account).where(Account.nrn == pieter.nrn)).one()
        assert check_password_hash(account.cerbere_password_hash, pieter.monespace.cerbere_password)
        jean = db.scalars(select(Account).where(Account.cerbere_username == "jdupont")).one()
        assert jean.cerbere_password_hash is None  # no password in the file: chosen at activation (G26)
