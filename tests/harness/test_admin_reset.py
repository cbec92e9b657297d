"""POST /admin/reset on the mailbox (local only) and the `fedsim reset` command."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from fedsim.federation import Settings
from fedsim.mailbox.store import StoredMessage
from fedsim_harness.cli import cli
from fedsim_harness.scenario.chromium import free_ports
from fedsim_harness.serve import ServedFederation
from fedsim_harness.stack import Federation, start_in_process


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory):
    federation = start_in_process(tmp_path_factory.mktemp("admin"))
    yield federation
    federation.close()


def add_mail(federation: Federation) -> int:
    with federation.mailbox.extensions["mailbox.sessions"]() as db:
        db.add(StoredMessage(received_at=datetime(2024, 1, 1), mail_from="a@example.be", rcpt_tos="b@example.be",
                             subject="test", raw="Subject: test\n\nbody"))
        db.commit()
        return db.scalar(select(func.count()).select_from(StoredMessage))


def test_reset_from_this_machine_answers_json(fed: Federation):
    assert add_mail(fed) >= 1
    answer = fed.mailbox.test_client().post("/admin/reset")
    assert answer.status_code == 200
    assert answer.json["reset"] is True and answer.json["ms"] >= 0
    print(f"reset over HTTP took {answer.json['ms']} ms")
    with fed.mailbox.extensions["mailbox.sessions"]() as db:
        assert db.scalar(select(func.count()).select_from(StoredMessage)) == 0


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20", "2001:db8::1", ""])
def test_reset_is_refused_to_another_machine_and_changes_nothing(fed: Federation, address: str):
    fed.reset()
    count = add_mail(fed)
    answer = fed.mailbox.test_client().post("/admin/reset", environ_base={"REMOTE_ADDR": address})
    assert answer.status_code == 403
    assert answer.json["reset"] is False and "only a client on this machine" in answer.json["error"]
    with fed.mailbox.extensions["mailbox.sessions"]() as db:
        assert db.scalar(select(func.count()).select_from(StoredMessage)) == count


def test_reset_is_refused_to_a_page_of_another_site(fed: Federation):
    client = fed.mailbox.test_client()
    refused = client.post("/admin/reset", headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403 and "another site" in refused.json["error"]
    assert client.post("/admin/reset", headers={"Origin": "http://localhost"}).status_code == 200  # same origin


def test_reset_is_post_only(fed: Federation):
    assert fed.mailbox.test_client().get("/admin/reset").status_code == 405


def test_fedsim_reset_with_nothing_running_says_so_in_one_line():
    [port] = free_ports(1)
    result = CliRunner().invoke(cli, ["reset"], env={"FEDSIM_MAILBOX_PORT": str(port)})
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"No federation is running at http://localhost:{port} — start one with `fedsim up`."]
    assert "Traceback" not in result.output


def test_fedsim_reset_resets_a_served_federation(tmp_path: Path):
    ports = dict(zip(("monespace_port", "csam_port", "modigia_port", "mailbox_port", "smtp_port"), free_ports(5)))
    settings = dataclasses.replace(Settings(), certs_dir=tmp_path / "certs", instance_dir=tmp_path / "instance",
                                   **ports)
    served = ServedFederation(settings).start()
    try:
        result = CliRunner().invoke(cli, ["reset"], env={"FEDSIM_MAILBOX_PORT": str(settings.mailbox_port)})
        assert result.exit_code == 0, result.output
        assert result.output.startswith(f"Federation at http://localhost:{settings.mailbox_port} reset")
        assert len(result.output.strip().splitlines()) == 1
    finally:
        served.stop()
