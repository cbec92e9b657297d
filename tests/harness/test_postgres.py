"""The same schema and reset on PostgreSQL: each database's migrations build
its models' schema there too, and a snapshot comes back whole (JSON, NULLs,
sequences). Skipped when no server answers, unless FEDSIM_TEST_DATABASE is
postgresql (``make test-postgres``, CI): then a missing server fails."""
from __future__ import annotations

import pytest
from sqlalchemy import JSON, Integer, String, insert, null, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from fedsim.db import make_engine, migrate
from fedsim_harness import databases
from fedsim_harness.cli.db import LOCATIONS, drift, metadata_of
from fedsim_harness.reset import DatabaseSnapshot


@pytest.fixture(scope="module")
def server():
    why = databases.available()
    if why is not None:
        if databases.chosen() == "postgresql":
            pytest.fail(f"FEDSIM_TEST_DATABASE=postgresql but no PostgreSQL server answers: {why}")
        pytest.skip(f"no PostgreSQL server ({databases.SERVER_VARIABLE}): {why}")
    created = databases.PostgresDatabases()
    yield created
    created.drop_all()


@pytest.mark.parametrize("app", sorted(LOCATIONS))
def test_migrations_match_the_models_on_postgresql(server, app: str) -> None:
    assert drift(server.create(f"drift_{app}"), app) == [], f"run `fedsim db revision --app {app} -m …`"


def test_start_up_creates_then_upgrades_on_postgresql(server) -> None:
    engine = make_engine(server.create("startup"))
    metadata = metadata_of("idp_csam")
    assert migrate(engine, LOCATIONS["idp_csam"], metadata) == "created"
    assert migrate(engine, LOCATIONS["idp_csam"], metadata) == "upgraded"
    engine.dispose()


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "thing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict | None] = mapped_column(JSON)


def test_a_snapshot_comes_back_whole_on_postgresql(server) -> None:
    engine = make_engine(server.create("snapshot"))
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(Thing), [{"name": "a", "data": {"k": ["é", 1]}}, {"name": "b", "data": None}])
        connection.execute(insert(Thing).values(name="n", data=null()))  # SQL NULL, not JSON null
    snapshot = DatabaseSnapshot.take(engine)
    with engine.begin() as connection:
        connection.execute(Thing.__table__.delete().where(Thing.name == "a"))
        connection.execute(insert(Thing), [{"name": "c"}] * 3)
    snapshot.restore()
    with engine.begin() as connection:
        rows = connection.execute(select(Thing.id, Thing.name, Thing.data).order_by(Thing.id)).all()
        assert [tuple(r) for r in rows] == [(1, "a", {"k": ["é", 1]}), (2, "b", None), (3, "n", None)]
        assert connection.execute(text("SELECT data IS NULL FROM thing ORDER BY id")).scalars().all() == [
            False, False, True]
        # new rows are numbered as in the snapshot's database, not after the removed ones
        assert connection.execute(insert(Thing).values(name="d").returning(Thing.id)).scalar() == 4
    engine.dispose()
