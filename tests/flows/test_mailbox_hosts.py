"""The mailbox answers only for the federation's host names: a page of
another site whose name was made to point at 127.0.0.1 (DNS rebinding)
reads no activation link or code, through the pages or the API, and
cannot reach the harness's admin pages mounted on the mailbox app. The
federation's own names (localhost, 127.0.0.1, [::1], any port) keep working."""
from __future__ import annotations

import pytest

from fedsim.mail import Mailer
from fedsim.mailbox.app import create_app
from fedsim_harness.stack import Federation

CODE, TOKEN, SUBJECT = "493817", "tok-3f9a7c21", "Votre code de connexion"
EVIL = ("evil.example", "evil.example:5025", "localhost.evil.example:5025", "127.0.0.1.evil.example")


@pytest.fixture
def mailed(federation: Federation) -> int:
    """One message in the mailbox, with a code and an activation link; its id."""
    port = federation.apps["modigia_sp"].config["SMTP_PORT"]
    Mailer("127.0.0.1", port, "CSAM", "noreply@csam.test").send(
        "ada@example.org", SUBJECT, f"Votre code : {CODE}\nhttp://localhost:5000/activer/{TOKEN}",
        html=f"<p>Votre code : <b>{CODE}</b> <a href='http://localhost:5000/activer/{TOKEN}'>Activer</a></p>")
    [message] = federation.mailbox.test_client().get("/api/messages").get_json()["messages"]
    return message["id"]


def assert_refused(answer, *, json: bool) -> None:  # noqa: ANN001 - a werkzeug TestResponse
    body = answer.get_data(as_text=True)
    assert answer.status_code == 400, (answer.status_code, body[:300])
    assert CODE not in body and TOKEN not in body and SUBJECT not in body and "ada@example.org" not in body
    if json:
        assert "FEDSIM_TRUSTED_HOSTS" in answer.get_json()["error"]
    else:
        assert "Hôte refusé" in body


def test_another_host_name_reads_nothing_of_the_mail(federation: Federation, mailed: int) -> None:
    client = federation.mailbox.test_client()
    for host in EVIL:
        for path in ("/", "/?to=ada@example.org", f"/messages/{mailed}"):
            assert_refused(client.get(path, headers={"Host": host}), json=False)
        for path in ("/api/messages", "/api/messages?to=ada@example.org", f"/api/messages/{mailed}"):
            assert_refused(client.get(path, headers={"Host": host}), json=True)
        assert_refused(client.delete("/api/messages", headers={"Host": host}), json=True)
    assert client.get(f"/api/messages/{mailed}").status_code == 200  # nothing deleted


@pytest.mark.parametrize("host", ["localhost", "localhost:5025", "127.0.0.1:5025", "[::1]:5025", "LOCALHOST:8025"])
def test_the_federations_own_names_read_the_mail(federation: Federation, mailed: int, host: str) -> None:
    client = federation.mailbox.test_client()
    listed = client.get("/api/messages", headers={"Host": host})
    assert listed.status_code == 200 and CODE in listed.get_data(as_text=True)
    assert client.get(f"/messages/{mailed}", headers={"Host": host}).status_code == 200
    assert client.get("/", headers={"Host": host}).status_code == 200
    assert client.get("/health", headers={"Host": host}).status_code == 200


def test_the_admin_pages_on_the_mailbox_refuse_another_host(federation: Federation, mailed: int) -> None:
    client = federation.mailbox.test_client()
    for host in EVIL:
        assert_refused(client.post("/admin/reset", headers={"Host": host}), json=True)
        answer = client.get("/admin/sps", headers={"Host": host})
        assert answer.status_code == 400 and "Hôte refusé" in answer.get_data(as_text=True)
        answer = client.post("/admin/sps/remove", data={"idp": "cerbere", "entity_id": "x"},
                             headers={"Host": host, "Origin": f"http://{host}"})
        assert answer.status_code == 400
    assert client.get(f"/api/messages/{mailed}").status_code == 200  # no reset ran
    assert client.get("/admin/sps", headers={"Host": "localhost:5025"}).status_code == 200


def test_the_trusted_names_are_the_federations(federation: Federation, tmp_path) -> None:  # noqa: ANN001
    trusted = federation.mailbox.config["FEDSIM_TRUSTED_HOSTS"]
    assert {"localhost", "127.0.0.1", "[::1]", federation.settings.host} <= set(trusted)
    assert "evil.example" not in trusted
    own = create_app(federation.mailbox.extensions["mailbox.sessions"], trusted_hosts=["fedsim.test"])
    assert own.test_client().get("/api/messages", headers={"Host": "fedsim.test:5025"}).status_code == 200
    assert own.test_client().get("/api/messages", headers={"Host": "localhost:5025"}).status_code == 400
