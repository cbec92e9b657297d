"""Keys, metadata and SAML services under tmp_path for the unit tests of
fedsim.saml: a genuine federation and an impostor with the same entity IDs
but keys of its own, an SP (Mon Espace toward CSAM) with its own database."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from fedsim import trust
from fedsim.db import make_engine
from fedsim.federation import Settings, entities
from fedsim.saml.idp import IdentityProvider
from fedsim.saml.sp import ServiceProvider
from fedsim.saml.state import SamlStateBase


def _settings(root: Path) -> Settings:
    return dataclasses.replace(Settings(), certs_dir=root / "certs", instance_dir=root / "instance")


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = _settings(tmp_path_factory.mktemp("genuine"))
    trust.ensure(s)
    return s


@pytest.fixture(scope="session")
def impostor_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Same hosts, ports and entity IDs, other keys: not the ones in our metadata."""
    s = _settings(tmp_path_factory.mktemp("impostor"))
    trust.ensure(s)
    return s


@pytest.fixture(scope="session")
def idp(settings: Settings) -> IdentityProvider:
    return IdentityProvider(trust.entity_config(settings, "csam-idp"))


@pytest.fixture(scope="session")
def sp(settings: Settings) -> ServiceProvider:
    return ServiceProvider(trust.entity_config(settings, "monespace-sp"),
                           idp_entity_id=entities(settings)["csam-idp"].entity_id)


@pytest.fixture
def engine(tmp_path: Path):
    eng = make_engine(f"sqlite:///{tmp_path / 'sp.sqlite3'}")
    SamlStateBase.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine) -> Session:
    with Session(engine, expire_on_commit=False) as session:
        yield session
