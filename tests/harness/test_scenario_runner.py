"""The runner: {persona.…} everywhere, page text, and a crash inside a
scenario is that scenario's failure with a one-line cause."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from click.testing import CliRunner
from flask import Flask, request

from fedsim import personas
from fedsim.personas import by_id
from fedsim_harness.cli import cli
from fedsim_harness.scenario import model
from fedsim_harness.scenario.browser import Browser, Page, WsgiTransport
from fedsim_harness.scenario.runner import Runner


def tiny_app() -> Flask:
    """A page with a table, a link in a row and a form."""
    app = Flask(__name__)
    naima = by_id("naima")

    @app.get("/")
    def home():
        return (f"<html><body><main><table><tr><th>Titre</th><th>Action</th></tr>"
                f"<tr><td>{naima.email}</td><td><a href='/suite?qui={naima.id}'>Ouvrir</a></td></tr>"
                f"<tr><td>autre@example.be</td><td><a href='/suite?qui=autre'>Ouvrir</a></td></tr></table>"
                f"</main></body></html>")

    @app.get("/suite")
    def next_page():
        return (f"<main><p>Dossier de {request.args['qui']}</p><form method='post' action='/recu'>"
                f"<input name='x'><button>Envoyer à {naima.given_name}</button><button>Annuler</button>"
                f"</form></main>")

    @app.post("/recu")
    def received():
        return f"<main><p>Reçu pour {naima.given_name} : {request.form['x']}</p></main>"

    return app


def runner() -> Runner:
    return Runner(Browser(WsgiTransport({"app.test": tiny_app()})), {"app": "http://app.test"})


def scenario(tmp_path: Path, text: str) -> model.Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    return model.load(path)


def test_persona_fields_are_filled_in_every_value_expect_included(tmp_path: Path):
    result = runner().run(scenario(tmp_path, """
name: persona-everywhere
persona: naima
steps:
  - {guide: G01, open: "app:/", expect: ["{persona.email}", "Titre Action"]}
  - guide: G01
    click: Ouvrir
    within: "{persona.email}"
    expect_url: "qui={persona.id}"
    expect: "Dossier de {persona.id}"
  - guide: G01
    submit: {x: "{persona.card.pin}"}
    button: "Envoyer à {persona.given_name}"
    expect: ["Reçu pour {persona.given_name} : {persona.card.pin}"]
"""))
    assert result.ok, result.describe_failure()


def test_an_expectation_naming_another_persona_value_fails(tmp_path: Path):
    result = runner().run(scenario(tmp_path, """
name: wrong-person
persona: jean
steps:
  - {guide: G01, open: "app:/", expect: ["{persona.email}"]}
"""))
    assert not result.ok and "jean.dupont@example.be" in result.cause


def test_page_text_keeps_adjacent_cells_and_blocks_apart():
    page = Page("http://x/", 200, {"Content-Type": "text/html"},
                "<html><head><title>T</title><script>var a = 1;</script></head><body>"
                "<table><tr><th>Titre</th><th>Action</th></tr><tr><td>A</td><td>B</td></tr></table>"
                "<div>un</div><div>deux</div><p>Mon <strong>Esp</strong>ace<br>suite</p>"
                "<ul><li>x</li><li>y</li></ul><!-- caché --></body></html>")
    assert page.text == "Titre Action A B un deux Mon Espace suite x y"
    assert Page("http://x/", 200, {}, "<main><h1>Un</h1><p>deux</p></main>").main_text == "Un deux"


def unchecked(persona: str, *steps: model.Step) -> model.Scenario:
    """A scenario as the runner gets it, without the checks of loading a file."""
    return model.Scenario(name="unchecked", title="", persona=persona, steps=steps)


OPEN = model.Step(guide=("G01",), say="", action="open", argument="app:/")


def test_unknown_persona_and_crashes_are_failures_of_their_step():
    unknown = runner().run(unchecked("zed", OPEN))
    assert not unknown.ok and unknown.cause == ("unknown persona 'zed' (known: "
                                                   + ", ".join(p.id for p in personas.load()) + ")")

    bad_regex = runner().run(unchecked("", dataclasses.replace(OPEN, remember=(("x", "("),))))
    assert not bad_regex.ok and bad_regex.cause.startswith("step 1 (G01): invalid regular expression '('")

    wrong_type = runner().run(unchecked("naima", OPEN, model.Step(("G02",), "", "submit", 42)))
    assert wrong_type.cause == "step 2 (G02): the scenario crashed: TypeError: 'int' object is not iterable"

    crashing = runner()
    crashing.browser.open = lambda *args, **kwargs: 1 / 0
    crashed = crashing.run(unchecked("", OPEN))
    assert crashed.cause == "step 1 (G01): the scenario crashed: ZeroDivisionError: division by zero"
    assert [r.ok for r in (unknown, bad_regex, wrong_type, crashed)] == [False] * 4


BAD_SCENARIOS = {
    "good": "persona: naima\nsteps:\n  - {guide: G01, open: 'monespace:/', expect: ['Me connecter']}\n",
    "bad-regex": "persona: naima\nsteps:\n  - {guide: G01, open: 'monespace:/', remember: {x: '(unclosed'}}\n",
    "bad-totp-regex": ("persona: naima\nsteps:\n  - {guide: G01, open: 'monespace:/'}\n"
                       "  - {guide: G06, totp: {field: code, secret_from_page: '[z-a]'}}\n"),
    "unknown-persona": "persona: zed\nsteps:\n  - {guide: G01, open: 'monespace:/'}\n",
    "wrong-type": "persona: naima\nsteps:\n  - {guide: G01, open: 'monespace:/'}\n  - {guide: G02, submit: 42}\n",
    "not-a-scenario": "steps: 3\n",
    "missing-text": "persona: jean\nsteps:\n  - {guide: G01, open: 'monespace:/', expect: ['{persona.given_name}'],"
                 " expect_status: 200}\n",
}


def test_broken_scenario_files_fail_alone_with_a_one_line_cause(tmp_path: Path):
    """Caught when the file is loaded or when it runs: either way that
    scenario's failure, in one line, and the others run."""
    for name, text in BAD_SCENARIOS.items():
        (tmp_path / f"{name}.yaml").write_text(f"name: {name}\n{text}", encoding="utf-8")
    result = CliRunner().invoke(cli, ["scenario", "run", "-j", "2", str(tmp_path), "help-centre-foreign-national"])
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    headline = {line.split()[1].rstrip(":"): line for line in lines if line.startswith(("PASS ", "FAIL "))}
    assert set(headline) == {*BAD_SCENARIOS, "help-centre-foreign-national"}
    assert headline["good"].startswith("PASS good (")
    assert headline["help-centre-foreign-national"].startswith("PASS ")
    assert headline["bad-regex"].startswith("FAIL bad-regex: ") and "regular expression" in headline["bad-regex"]
    assert "regular expression" in headline["bad-totp-regex"] and "bad character range" in headline["bad-totp-regex"]
    assert headline["unknown-persona"].startswith("FAIL unknown-persona: ") and "'zed'" in headline["unknown-persona"]
    assert headline["wrong-type"].startswith("FAIL wrong-type: ")
    assert headline["not-a-scenario"].startswith("FAIL not-a-scenario: ")
    assert headline["missing-text"].startswith("FAIL missing-text: step 1 (G01): expected the page to show « Jean »")
    assert lines[-1].startswith("2 passed, 6 failed in ")
