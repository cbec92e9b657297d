"""GET /health of each app factory and of the mailbox (fedsim.health)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import sessionmaker

from fedsim import health
from fedsim.db import make_engine
from fedsim.federation import Settings, entities
from fedsim.mailbox.app import create_app as create_mailbox
from fedsim.mailbox.store import MailboxBase


@pytest.fixture(scope="module")
def own_settings(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session's keys, databases of this module's own."""
    return dataclasses.replace(settings, instance_dir=tmp_path_factory.mktemp("health-instance"))


@pytest.mark.parametrize("name", ["idp_csam", "monespace", "modigia_sp"])
def test_each_app_factory_serves_health(own_settings: Settings, name: str):
    factory = __import__(name).create_app
    app = factory({"FEDSIM_SETTINGS": own_settings, "TESTING": True})
    cookie = app.config["SESSION_COOKIE_NAME"]
    answer = app.test_client().get("/health")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok", "app": name, "checks": {"database": "ok"},
                           "entity_ids": [e.entity_id for e in entities(own_settings).values() if e.app == name]}
    assert answer.json["entity_ids"]
    assert "Set-Cookie" not in answer.headers, "no session made for a health check"
    stale = app.test_client().get("/health", headers={"Cookie": f"{cookie}=not-a-session"})
    assert stale.status_code == 200 and stale.json["status"] == "ok"
    assert all(h.startswith(f"{cookie}=;") for h in stale.headers.getlist("Set-Cookie")), "at most forgotten"
    assert app.test_client().post("/health").status_code == 405


def test_mailbox_health_checks_its_database(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'mailbox.sqlite3'}")
    MailboxBase.metadata.create_all(engine)
    answer = create_mailbox(sessionmaker(engine)).test_client().get("/health")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok", "app": "mailbox", "entity_ids": [], "checks": {"mailbox database": "ok"}}


def test_a_failing_check_gives_503_and_its_reason_in_one_line():
    def broken() -> None:
        raise ConnectionRefusedError("[Errno 111] Connection refused\nsecond line")

    app = Flask("probe")
    health.init_app(app, name="probe", checks={"fine": lambda: None})
    health.add_checks(app, {"smtp": broken})
    answer = app.test_client().get("/health")
    assert answer.status_code == 503
    assert answer.json["status"] == "failing"
    assert answer.json["checks"] == {"fine": "ok", "smtp": "ConnectionRefusedError: [Errno 111] Connection refused"}


def test_smtp_check_fails_on_a_closed_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        health.smtp("127.0.0.1", port, timeout=1)()
