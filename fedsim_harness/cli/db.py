"""``fedsim db check|revision|upgrade|current``: the Alembic migrations of each
database (fedsim.db). Each app's database has its own migration folder:
``idp_csam/migrations``, ``monespace/migrations``, ``modigia_sp/migrations``,
``fedsim/mailbox/migrations``.

``fedsim db check`` fails when a model changed without a revision;
``fedsim db revision --app idp_csam -m "add foo.bar"`` compares the models
with the schema of the newest revision (built in a temporary SQLite file, so
no server is needed) and writes the difference as a new revision to read and
tidy. The apps upgrade their database at start-up; ``fedsim db upgrade``
does it without starting them (for PostgreSQL: ``--url``)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from fedsim.db import alembic_config, make_engine

LOCATIONS = {
    "idp_csam": "idp_csam:migrations",
    "monespace": "monespace:migrations",
    "modigia_sp": "modigia_sp:migrations",
    "mailbox": "fedsim.mailbox:migrations",
}


def config_for(app: str, url: str):  # noqa: ANN201 - alembic.config.Config
    config = alembic_config(LOCATIONS[app])
    config.stdout = sys.stdout  # what Alembic prints, through click's stream when it is redirected
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def metadata_of(app: str) -> list:
    """The MetaData of every table of ``app``'s database."""
    if app == "mailbox":
        from fedsim.mailbox.store import MailboxBase
        return [MailboxBase.metadata]
    import idp_csam
    import modigia_sp
    import monespace
    from idp_csam.methods import all_methods

    all_methods()  # the digital keys' modules bring their models
    return {"idp_csam": idp_csam.db, "monespace": monespace.db, "modigia_sp": modigia_sp.db}[app].metadata


def drift(url: str, app: str) -> list:
    """Upgrade the (new, empty) database of ``url`` by replaying every
    revision of ``app``, then the differences between the models and that
    schema (Alembic's compare_metadata): empty when no migration is missing."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(url)
    metadata = metadata_of(app)
    with engine.begin() as connection:
        command.upgrade(alembic_config(LOCATIONS[app], metadata, connection), "head")
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    engine.dispose()
    return diffs


def write_revision(app: str, message: str, autogenerate: bool = True) -> Path | None:
    """A new revision of ``app``'s database; the path of its file."""
    from alembic import command

    with tempfile.TemporaryDirectory(prefix="fedsim-db-") as folder:
        config = config_for(app, f"sqlite:///{Path(folder) / 'head.sqlite3'}")
        command.upgrade(config, "head")
        script = command.revision(config, message=message, autogenerate=autogenerate)
    scripts = script if isinstance(script, list) else [script]
    return Path(scripts[0].path) if scripts and scripts[0] is not None else None


def register(cli: click.Group) -> None:
    apps = click.Choice(sorted(LOCATIONS))

    @cli.group("db")
    def db() -> None:
        """Database migrations (Alembic), one set per app's database."""

    @db.command("revision")
    @click.option("--app", "app", type=apps, required=True, help="whose database")
    @click.option("-m", "--message", required=True, help="what the revision changes")
    @click.option("--empty", is_flag=True, help="an empty revision (no autogenerate), to fill by hand")
    def revision(app: str, message: str, empty: bool) -> None:
        """Write a new revision from the difference between the models and
        the newest revision's schema; read and tidy it, then commit it."""
        path = write_revision(app, message, autogenerate=not empty)
        click.echo(f"wrote {path}")

    @db.command("check")
    @click.option("--app", "app", type=apps, multiple=True, help="whose database (default: all)")
    def check(app: tuple[str, ...]) -> None:
        """Fail when a model differs from its newest revision's schema (a
        migration is missing)."""
        missing = False
        for name in app or sorted(LOCATIONS):
            with tempfile.TemporaryDirectory(prefix="fedsim-db-") as folder:
                diffs = drift(f"sqlite:///{Path(folder) / 'check.sqlite3'}", name)
            for diff in diffs:
                click.echo(f"{name}: {diff}")
            missing = missing or bool(diffs)
        if missing:
            raise click.ClickException("models changed without a migration: fedsim db revision --app … -m …")
        click.echo("every database's migrations match its models")

    @db.command("upgrade")
    @click.option("--app", "app", type=apps, required=True)
    @click.option("--url", required=True, help="the database's SQLAlchemy URL")
    def upgrade(app: str, url: str) -> None:
        """Upgrade a database to the newest revision (as start-up does)."""
        from alembic import command

        command.upgrade(config_for(app, url), "head")

    @db.command("current")
    @click.option("--app", "app", type=apps, required=True)
    @click.option("--url", required=True, help="the database's SQLAlchemy URL")
    def current(app: str, url: str) -> None:
        """The revision a database is at."""
        from alembic import command

        command.current(config_for(app, url))
