"""Every database's migrations build exactly the schema of its models, so a
model changed without a revision fails here; start-up creates, upgrades and
adopts databases (fedsim.db.migrate)."""
from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from fedsim.db import alembic_config, make_engine, migrate
from fedsim_harness.cli import cli
from fedsim_harness.cli.db import LOCATIONS, drift, metadata_of

HOW_TO = 'a model changed without a migration: run `fedsim db revision --app {app} -m "…"`, read it, commit it'


@pytest.mark.parametrize("app", sorted(LOCATIONS))
def test_migrations_match_the_models(tmp_path: Path, app: str) -> None:
    assert drift(f"sqlite:///{tmp_path / 'db.sqlite3'}", app) == [], HOW_TO.format(app=app)


@pytest.mark.parametrize("app", sorted(LOCATIONS))
def test_each_database_has_one_head(app: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(LOCATIONS[app])).get_heads()
    assert len(heads) == 1, f"{app}: several heads {heads}: merge them (alembic merge)"


def test_start_up_creates_then_upgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'modigia.sqlite3'}"
    metadata = metadata_of("modigia_sp")
    assert migrate(make_engine(url), LOCATIONS["modigia_sp"], metadata) == "created"
    assert migrate(make_engine(url), LOCATIONS["modigia_sp"], metadata) == "upgraded"
    head = ScriptDirectory.from_config(alembic_config(LOCATIONS["modigia_sp"])).get_current_head()
    with make_engine(url).connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head


def test_a_database_made_before_alembic_is_adopted(tmp_path: Path) -> None:
    """CSAM's database of an older instance/: eid_card without its PUK and
    certificate columns (once added by hand-written ALTER TABLE), one card."""
    url = f"sqlite:///{tmp_path / 'csam.sqlite3'}"
    engine = make_engine(url)
    metadata = metadata_of("idp_csam")
    for meta in metadata:
        meta.create_all(engine)
    with engine.begin() as connection:
        for column in ("puk_digest", "failed_puk_tries", "cert_serial", "revoked_at"):
            connection.execute(text(f"ALTER TABLE eid_card DROP COLUMN {column}"))
        connection.execute(text("DROP TABLE bel_registration"))
        connection.execute(text("INSERT INTO citizen (nrn, persona_id, given_name, surname, email, language, fedid) "
                                "VALUES ('78020106109', 'jean', 'Jean', 'Dupont', 'jean@example.be', 'fr', 'f')"))
        connection.execute(text("INSERT INTO eid_card (number, holder_nrn, pin_digest, failed_pin_tries) "
                                "VALUES ('591123456789', '78020106109', 'x', 0)"))
    assert migrate(engine, LOCATIONS["idp_csam"], metadata) == "adopted"
    schema = inspect(engine)
    assert {"puk_digest", "failed_puk_tries", "cert_serial", "revoked_at"} <= {
        c["name"] for c in schema.get_columns("eid_card")}
    assert "bel_registration" in schema.get_table_names()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT failed_puk_tries FROM eid_card")).scalar() == 0
        assert connection.execute(select(text("version_num")).select_from(text("alembic_version"))).scalar()
    assert migrate(engine, LOCATIONS["idp_csam"], metadata) == "upgraded"


def test_fedsim_db_current_names_the_revision(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mailbox.sqlite3'}"
    migrate(make_engine(url), LOCATIONS["mailbox"], metadata_of("mailbox"))
    result = CliRunner().invoke(cli, ["db", "current", "--app", "mailbox", "--url", url])
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(alembic_config(LOCATIONS["mailbox"])).get_current_head()
    assert head in result.output


def test_fedsim_db_check_passes() -> None:
    result = CliRunner().invoke(cli, ["db", "check"])
    assert result.exit_code == 0, result.output
