"""The pytest plugin as another project uses it: pytester writes a test
project in a temporary folder and runs pytest on it (in a subprocess, so the
plugin is loaded from its ``pytest11`` entry point as it would be there)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = (ROOT / "scenarios" / "eid-returning-user.yaml").read_text(encoding="utf-8")

# An outside service provider, as a developer would have one: its own keys
# and metadata, trusting Cerbère's metadata, a login page and a page that
# says who is logged in. (Built on fedsim.saml here to stay short; any SAML
# SP library would do.)
OUTSIDE_SP = '''
from pathlib import Path
from flask import Flask, redirect, request, session
from sqlalchemy.orm import Session
from fedsim import certs
from fedsim.db import make_engine
from fedsim.federation import Entity
from fedsim.saml import config as saml_config
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.state import SamlStateBase
from fedsim.trust import metadata_xml

ENTITY = Entity("labo-sp", "sp", "test", "http://localhost:5999", "Labo",
                {"metadata": "/saml/metadata", "acs": "/saml/acs", "slo": "/saml/slo"})


def make_sp(keys: Path, cerbere_metadata: Path):
    certs.ensure(keys, ENTITY.name, ENTITY.entity_id)
    conf = saml_config.config_dict(ENTITY, keys, [cerbere_metadata])
    sp = ServiceProvider(saml_config.load(conf), idp_entity_id="http://localhost:5000/cerbere/metadata")
    engine = make_engine("sqlite://")
    SamlStateBase.metadata.create_all(engine)
    db = Session(engine)
    app = Flask("labo")
    app.secret_key = "test"

    @app.get("/login")
    def login():
        location, relay = sp.start_login(db, "/moi")
        session["relay"] = relay
        return redirect(location)

    @app.post("/saml/acs")
    def acs():
        done = sp.accept(db, request.form["SAMLResponse"], request.form["RelayState"], [session["relay"]])
        session["who"] = done.first("givenName") + " " + done.first("surname") + " / " + done.first("context")
        return redirect(done.next_url)

    @app.get("/moi")
    def me():
        return f"<main>Connecté : {session.get('who', 'personne')}</main>"

    return app, metadata_xml(ENTITY, keys)
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


def test_scenarios_are_collected_and_run_as_items(project: pytest.Pytester) -> None:
    folder = project.mkdir("journeys")
    (folder / "returning.yaml").write_text(SCENARIO, encoding="utf-8")
    broken = SCENARIO.replace("MON TABLEAU DE BORD", "Un texte qui n'est sur aucune page", 1)
    (folder / "broken.yaml").write_text(broken.replace("name: eid-returning-user", "name: broken-expect"),
                                        encoding="utf-8")
    result = project.runpytest_subprocess("--fedsim-scenarios", str(folder), "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*broken.yaml::broken-expect FAILED*"])
    result.stdout.fnmatch_lines(["*returning.yaml::eid-returning-user PASSED*"])
    result.stdout.fnmatch_lines(["*step 4 (G03, G11*expected the page to show « Un texte qui n'est sur aucune page »"])
    assert "CryptographyDeprecationWarning" not in result.stdout.str()


def test_a_malformed_scenario_is_a_collection_error(project: pytest.Pytester) -> None:
    folder = project.mkdir("journeys")
    (folder / "bad.yaml").write_text("name: bad\nsteps:\n  - guide: G01\n    nothing: here\n", encoding="utf-8")
    result = project.runpytest_subprocess("--fedsim-scenarios", str(folder))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*bad.yaml*"])


def test_federation_fixture_is_reset_between_tests(project: pytest.Pytester) -> None:
    project.makepyfile(test_reset='''
        from sqlalchemy import func, select
        from fedsim.db import Database
        from monespace.models import Account

        def count(federation):
            with Database.factory(federation.apps["monespace"])() as db:
                return db.scalar(select(func.count()).select_from(Account))

        def test_first_removes_every_account(federation):
            with Database.factory(federation.apps["monespace"])() as db:
                for account in db.scalars(select(Account)):
                    db.delete(account)
                db.commit()
            assert count(federation) == 0

        def test_second_sees_the_seeded_accounts_again(federation):
            assert count(federation) > 0
    ''')
    project.runpytest_subprocess().assert_outcomes(passed=2)


def test_a_persona_is_logged_into_an_outside_sp_in_a_few_lines(project: pytest.Pytester) -> None:
    project.makepyfile(labo_sp=OUTSIDE_SP)
    project.makepyfile(test_my_service='''
        from fedsim_harness.outside import OutsideSP
        from labo_sp import make_sp

        def test_claire_logs_in_as_a_teacher(federation, fedsim_login, tmp_path):
            cerbere = federation.settings.certs_dir / "cerbere-idp.xml"
            app, metadata = make_sp(tmp_path / "keys", cerbere)
            sp = OutsideSP(metadata=metadata, login_url="http://localhost:5999/login", wsgi=app)
            browser = fedsim_login(sp, "claire", key="eid", context="Membre du personnel de l'enseignement")
            assert "Connecté : Claire Lejeune / Membre du personnel de l'enseignement" in browser.page.text

        def test_jean_with_the_email_code(federation, fedsim_login, tmp_path):
            app, metadata = make_sp(tmp_path / "keys", federation.settings.certs_dir / "cerbere-idp.xml")
            sp = OutsideSP(metadata=metadata, login_url="http://localhost:5999/login", wsgi=app)
            browser = fedsim_login(sp, "jean", level="urn:be:fedict:iam:fas:Level300")
            assert "Connecté : Jean Dupont / Citoyen" in browser.page.text
    ''')
    result = project.runpytest_subprocess()
    result.assert_outcomes(passed=2)
