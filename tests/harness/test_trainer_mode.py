"""The trainer mode (`fedsim up --trainer`, FEDSIM_TRAINER=1) and CSAM's
quick login (`fedsim up --quick-login`, FEDSIM_QUICK_LOGIN=1, or CSAM's own
IDP_CSAM_QUICK_LOGIN): never both — the command refuses in one line, and
CSAM keeps its own setting off in trainer mode. The setting reaches CSAM
served on Werkzeug (over real HTTP here) and on gunicorn (its workers'
factory, ``wsgi_server.build``)."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from fedsim import trust
from fedsim.db import Database
from fedsim.federation import Settings
from fedsim_harness import daemon
from fedsim_harness.cli import cli
from fedsim_harness.scenario.chromium import free_ports
from fedsim_harness.serve import ServedFederation, settings_on_free_ports
from fedsim_harness.wsgi_server import AppSpec, ServerOptions, build

PORT_VARIABLES = ("FEDSIM_MONESPACE_PORT", "FEDSIM_CSAM_PORT", "FEDSIM_MODIGIA_PORT", "FEDSIM_MAILBOX_PORT",
                  "FEDSIM_SMTP_PORT")
REFUSED = ("Quick login is refused in trainer mode: drop --quick-login (FEDSIM_QUICK_LOGIN) "
           "or --trainer (FEDSIM_TRAINER).")
QUICK = "Connexion rapide (raccourci du simulateur)"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**dict(zip(PORT_VARIABLES, map(str, free_ports(5)))),
            "FEDSIM_INSTANCE_DIR": str(tmp_path / "instance"), "FEDSIM_CERTS_DIR": str(tmp_path / "certs"),
            "FEDSIM_QUICK_LOGIN": "", "FEDSIM_TRAINER": ""}


@pytest.mark.parametrize(("args", "extra"), [
    (["up", "--trainer", "--quick-login"], {}),
    (["up", "--detach", "--trainer", "--quick-login"], {}),
    (["up", "--quick-login"], {"FEDSIM_TRAINER": "1"}),
    (["up", "--trainer"], {"FEDSIM_QUICK_LOGIN": "1"}),
    (["up"], {"FEDSIM_TRAINER": "yes", "FEDSIM_QUICK_LOGIN": "on"}),
])
def test_up_refuses_quick_login_in_trainer_mode_in_one_line(env: dict[str, str], args: list[str],
                                                            extra: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, args, env={**env, **extra})
    assert result.exit_code == 1, result.output
    assert result.output.strip() == REFUSED and "Traceback" not in result.output
    assert not daemon.pid_path(Settings.from_env(env)).exists()  # nothing started
    assert not (Path(env["FEDSIM_INSTANCE_DIR"]) / "idp_csam").exists()


@pytest.mark.parametrize("variable", ["FEDSIM_QUICK_LOGIN", "FEDSIM_TRAINER", "IDP_CSAM_QUICK_LOGIN"])
def test_up_refuses_a_bad_value_in_one_line(env: dict[str, str], variable: str) -> None:
    result = CliRunner().invoke(cli, ["up"], env={**env, variable: "peut-être"})
    assert result.exit_code == 1
    assert result.output.strip() == f"{variable} must be 1 or 0, not 'peut-être'"


def test_up_help_names_both_options() -> None:
    result = CliRunner().invoke(cli, ["up", "--help"])
    assert "--quick-login" in result.output and "--trainer" in result.output
    assert "FEDSIM_QUICK_LOGIN" in result.output and "FEDSIM_TRAINER" in result.output


def test_options_read_the_environment_and_give_it_to_a_detached_child() -> None:
    assert ServerOptions.production(environ={}).quick_login is False
    assert ServerOptions.production(environ={}).trainer is False
    quick = ServerOptions.production(environ={"FEDSIM_QUICK_LOGIN": "1"})
    trainer = ServerOptions.production(trainer=True, environ={})
    assert quick.quick_login and not quick.trainer and trainer.trainer and not trainer.quick_login
    for options in (quick, trainer, ServerOptions.production(environ={})):
        assert ServerOptions.production(environ=options.environ()) == options  # what `up --detach` passes on
    with pytest.raises(ValueError, match="refused in trainer mode"):
        ServerOptions.production(quick_login=True, environ={"FEDSIM_TRAINER": "true"})


def test_options_tell_csam_and_keep_other_overrides() -> None:
    given = {"idp_csam": {"PERSONAS_FILE": "p.yaml"}, "monespace": {"X": 1}}
    plain = ServerOptions().app_overrides(given)
    assert "QUICK_LOGIN" not in plain["idp_csam"] and "TRAINER_MODE" not in plain["idp_csam"]  # CSAM decides
    quick = ServerOptions(quick_login=True).app_overrides(given)
    assert quick["idp_csam"]["QUICK_LOGIN"] is True and "TRAINER_MODE" not in quick["idp_csam"]
    assert quick["idp_csam"]["PERSONAS_FILE"] == "p.yaml" and quick["monespace"] == {"X": 1}
    assert ServerOptions(trainer=True).app_overrides(None)["idp_csam"]["TRAINER_MODE"] is True
    assert given == {"idp_csam": {"PERSONAS_FILE": "p.yaml"}, "monespace": {"X": 1}}  # not changed


def test_a_gunicorn_worker_builds_csam_with_the_options(tmp_path: Path) -> None:
    """What each gunicorn worker runs (``GunicornApp.load``): the spec's overrides reach CSAM."""
    settings = settings_on_free_ports(tmp_path)
    trust.ensure(settings)
    (settings.instance_dir / "idp_csam").mkdir(mode=0o700, parents=True, exist_ok=True)
    for options, served in ((ServerOptions("gunicorn", quick_login=True), True),
                            (ServerOptions("gunicorn", trainer=True), False)):
        overrides = {**options.app_overrides()["idp_csam"], "QUICK_LOGIN": True} if options.trainer \
            else options.app_overrides()["idp_csam"]
        app = build(AppSpec("idp_csam", settings, settings.csam_port, settings.smtp_port, options, overrides))
        try:
            assert app.config["QUICK_LOGIN"] is served
            assert app.test_client().get("/connexion-rapide").status_code == (200 if served else 404)
        finally:
            Database.factory(app).kw["bind"].dispose()


def _served(tmp_path: Path, options: ServerOptions) -> ServedFederation:
    return ServedFederation(settings_on_free_ports(tmp_path), options=options).start()


def test_werkzeug_federation_with_quick_login_serves_it(tmp_path: Path) -> None:
    served = _served(tmp_path, ServerOptions("werkzeug", quick_login=True))
    try:
        csam = served.urls["idp_csam"]
        assert QUICK in requests.get(f"{csam}/", timeout=10).text
        page = requests.get(f"{csam}/connexion-rapide", timeout=10)
        assert page.status_code == 200 and 'name="persona"' in page.text
        console = requests.get(f"{served.urls['mailbox']}/formateur", timeout=10)
        assert console.status_code == 200 and "Mode formateur" not in console.text
        # a quick login (no SAML request pending: CSAM then says so) is a step of the trace
        browser = requests.Session()
        form = browser.get(f"{csam}/connexion-rapide", timeout=10).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
        answer = browser.post(f"{csam}/connexion-rapide", timeout=10, data={
            "csrf_token": token, "persona": "jean", "level": "urn:be:fedict:iam:fas:Level500", "method": "eid"})
        assert answer.status_code == 400 and "Aucune demande d'authentification en cours" in html.unescape(answer.text)
        trace = requests.get(f"{served.urls['mailbox']}/formateur/trace.json", timeout=10).json()["entries"]
        steps = [e for e in trace if e["event"] == "QuickLogin"]
        assert len(steps) == 1 and steps[0]["outcome"] == "issued", trace
        assert steps[0]["label"] == "Connexion rapide (raccourci du simulateur, CSAM)" and "jean" in steps[0]["reason"]
    finally:
        served.stop()


def test_trainer_mode_keeps_csam_config_off_and_the_console_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("IDP_CSAM_QUICK_LOGIN", "1")  # CSAM's own configuration asks for it
    served = _served(tmp_path, ServerOptions("werkzeug", trainer=True))
    try:
        assert served.apps["idp_csam"].config["QUICK_LOGIN"] is False
        csam = served.urls["idp_csam"]
        assert requests.get(f"{csam}/connexion-rapide", timeout=10).status_code == 404
        assert QUICK not in requests.get(f"{csam}/", timeout=10).text
        assert any("NOT enabled" in r.getMessage() and "trainer mode" in r.getMessage() for r in caplog.records)
        console = requests.get(f"{served.urls['mailbox']}/formateur", timeout=10)
        assert console.status_code == 200 and "Mode formateur" in console.text
    finally:
        served.stop()


def test_csam_config_alone_turns_it_on_without_trainer_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP_CSAM_QUICK_LOGIN", "true")
    monkeypatch.delenv("FEDSIM_TRAINER", raising=False)
    served = _served(tmp_path, ServerOptions("werkzeug"))
    try:
        assert served.apps["idp_csam"].config["QUICK_LOGIN"] is True
        assert requests.get(f"{served.urls['idp_csam']}/connexion-rapide", timeout=10).status_code == 200
    finally:
        served.stop()
