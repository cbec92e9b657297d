"""Scenario files are checked against their schema before anything runs:
every problem of a file at once, each at its file:line:column."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from fedsim import personas
from fedsim_harness.cli import cli
from fedsim_harness.scenario import model, schema

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.yaml"))
SCHEMA_FILE = SCENARIOS / "scenario.schema.json"
EDITOR_LINE = "# yaml-language-server: $schema=./scenario.schema.json"

VALID = """\
name: fine
persona: jean
steps:
  - guide: G01
    say: Accueil
    open: "monespace:/"
    expect: ["Me connecter"]
"""


def problems(text: str) -> list[str]:
    return [str(p) for p in schema.check_text(text, "f.yaml")[1]]


def one_step_more(step: str, at: str, message: str) -> tuple[list[str], list[str]]:
    """The problems of VALID with ``step`` added (line 8), and the one
    expected: ``message`` at the column where ``at`` begins in ``step``."""
    line = f"  - {step}"
    return problems(VALID + line + "\n"), [f"f.yaml:8:{line.index(at) + 1}: step 2: {message}"]


# -- the shipped scenarios ------------------------------------------------------------------------

@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_is_valid_and_names_the_schema_for_editors(path: Path) -> None:
    assert schema.check(path)[1] == []
    assert path.read_text(encoding="utf-8").splitlines()[0] == EDITOR_LINE
    assert model.load(path).steps


def test_the_steps_built_from_the_model_are_what_the_runner_reads() -> None:
    steps = model.load(SCENARIOS / "bel-foreign-national.yaml").steps
    assert steps[0].guide == ("G20",) and steps[0].action == "open" and steps[0].argument == "idp_csam:/bel/"
    assert steps[1].action == "submit" and steps[1].button == "Connexion de l'agent"  # the BEL agent logs in
    assert isinstance(steps[0].expect, tuple) and steps[2].remember[0][0] == "paper_code"
    assert steps[3].argument == {"to": "elise.martin@example.fr", "subject": "CSAM — activez votre clé numérique",
                                 "link": "Activer ma clé numérique"}
    assert steps[-1].guide == ("G21", "G09") and steps[-1].action == "mail_code"
    assert steps[-1].argument["pattern"] == r"\b(\d{6})\b" and steps[-1].button == "Se connecter"
    totp = model.load(SCENARIOS / "app-code-login.yaml").steps[-1]
    assert totp.argument == {"field": "code", "secret_from_page": 'data-secret="([A-Z2-7]+)"'}


# -- what is refused, and where ---------------------------------------------------------------------

def test_a_typo_key_is_refused_at_its_line_and_column() -> None:
    text = VALID + '    expct: ["Bonjour"]\n'
    assert problems(text) == ["f.yaml:8:5: step 1: unknown key 'expct' in a step (did you mean 'expect'?)"]


def test_unknown_keys_inside_an_action_and_at_the_top_are_refused_too() -> None:
    text = "titel: x\n" + VALID + "  - {guide: G05, mail_link: {to: a, link: b, subjet: c}}\n"
    assert problems(text) == [
        "f.yaml:1:1: unknown key 'titel' in a scenario (did you mean 'title'?)",
        "f.yaml:9:46: step 2: unknown key 'subjet' in 'mail_link' (did you mean 'subject'?)"]


@pytest.mark.parametrize("step, at, message", [
    ("{guide: G01, open: 'monespace:/', expect_status: '200'}", "'200'",
     "'expect_status' must be a whole number, got the text '200'"),
    ("{guide: G01, open: 'monespace:/', expect_status: 700}", "700",
     "'expect_status' must be 599 or less, got the number 700"),
    ("{guide: G01, open: 'monespace:/', expect: 3}", "3}", ("'expect' must be a text or a list of texts, got the "
                                                           "number 3")),
    ("{guide: G01, click: Suivant, repeat: 'yes'}", "'yes'", "'repeat' must be true or false, got the text 'yes'"),
    ("{guide: G01, submit: {pin: 0000}}", "0000", "'submit.pin' must be a text, got the number 0"),
    ("{guide: G01, mail_link: 'Activer'}", "'Activer'", ("'mail_link' must be a mapping {key: value, …}, got the "
                                                        "text 'Activer'")),
    ("{guide: G01, say: [a, b], open: 'monespace:/'}", "[a", "'say' must be a text, got a list"),
    ("{guide: G01, advance_clock: 0}", "0}", "'advance_clock' must be more than 0, got the number 0"),
    ("{guide: G01, open: }", " }", "'open' is empty: give it a value or leave the key out"),
    ("{guide: G01, open: /tableau-de-bord}", "/", ("'open' must be app:path, the app first (\"monespace:/path\"), "
                                                  "got '/tableau-de-bord'")),
])
def test_a_value_of_the_wrong_type_is_refused_at_the_value(step: str, at: str, message: str) -> None:
    found, expected = one_step_more(step, at, message)
    assert found == expected


def test_an_unknown_action_is_an_unknown_key_and_leaves_the_step_without_action() -> None:
    step = "{guide: G01, visit: 'monespace:/'}"
    assert problems(VALID + f"  - {step}\n") == [
        ("f.yaml:8:5: step 2: exactly one action among open, click, submit, mail_link, totp, mail_code, "
        "advance_clock, oidc_login, oidc_callback is needed, this step has none"),
        ("f.yaml:8:18: step 2: unknown key 'visit' in a step (the keys of a step are guide, say, open, click, "
        "submit, mail_link, totp, mail_code, advance_clock, oidc_login, oidc_callback, within, repeat, button, expect, expect_url, "
        "expect_status, remember)")]


def test_two_actions_in_a_step_are_refused_at_the_second() -> None:
    text = VALID + "  - guide: G02\n    open: 'monespace:/'\n    click: Me connecter\n"
    assert problems(text) == [("f.yaml:10:5: step 2: exactly one action among open, click, submit, mail_link, "
                              "totp, mail_code, advance_clock, oidc_login, oidc_callback is needed, this step has "
                              "open and click")]


@pytest.mark.parametrize("step, at, message", [
    ("{guide: G01, open: 'monespace:/', remember: {code: '(\\d+'}}", "'(",
     "'remember.code' is not a valid regular expression: missing ), unterminated subpattern at position 0"),
    ("{guide: G05, mail_code: {to: a, field: code, pattern: '[0-9'}}", "'[",
     "'mail_code.pattern' is not a valid regular expression: unterminated character set at position 0"),
    ("{guide: G06, totp: {field: code, secret_from_page: '*x'}}", "'*",
     "'totp.secret_from_page' is not a valid regular expression: nothing to repeat at position 0"),
])
def test_a_regular_expression_that_does_not_compile_is_refused(step: str, at: str, message: str) -> None:
    found, expected = one_step_more(step, at, message)
    assert found == expected


@pytest.mark.parametrize("step, at, message", [
    ("{guide: G05, mail_code: {to: a, pattern: x}}", "{to", "'mail_code' needs 'field'"),
    ("{guide: G06, totp: {secret_from_page: x}}", "{secret", "'totp' needs 'field'"),
    ("{guide: G24, mail_link: {subject: x, link: y}}", "{subject", "'mail_link' needs 'to'"),
    ("{say: x, open: 'monespace:/'}", "{say", ("'guide' must name guide steps G01…G26 (G03, or a list [G03, G09]); "
                                              "it is missing")),
    ("{guide: [G01, G27], open: 'monespace:/'}", "[G01", ("'guide' must name guide steps G01…G26 (G03, or a list "
                                                         "[G03, G09]), got 'G27'")),
    ("{guide: G01, open: 'monespace:/', button: OK}", "button", ("'button' goes with submit or mail_code or totp, "
                                                                "not with open")),
    ("{guide: G01, submit: {q: x}, within: Santé}", "within", "'within' goes with click, not with submit"),
    ("{guide: G01, open: 'monespace:/{saved[code]}'}", "'monespace", ("'open' names {saved[code]}, but no earlier "
                                                                     "step remembers 'code' (remember: {code: "
                                                                     "'regex'})")),
    ("{guide: G01, open: 'monespace:/', expect: ['{persona.card.pn}']}", "'{persona",
     "'expect' (item 1) names {persona.card.pn}, but persona 'jean' has no 'card.pn'"),
])
def test_missing_sub_keys_bad_guide_ids_and_unfillable_values_are_refused(step: str, at: str, message: str) -> None:
    found, expected = one_step_more(step, at, message)
    assert found == expected


def test_a_persona_is_one_of_fedsim_personas_and_needed_by_persona_values() -> None:
    assert problems(VALID.replace("persona: jean", "persona: jeanne")) == [
        "f.yaml:2:10: 'persona' names no persona of fedsim/data/personas.yaml, got 'jeanne' (known: "
        + ", ".join(p.id for p in personas.load()) + ")"]
    assert problems(VALID.replace("persona: jean\n", "") + "  - {guide: G01, submit: {e: '{persona.email}'}}\n") \
        == ["f.yaml:7:30: step 2: 'submit.e' names {persona.email}, but the scenario names no persona"]


def test_every_problem_of_a_file_is_reported_in_file_order() -> None:
    text = ("name: 3\npersona: jeanne\nsteps:\n"
            "  - {guide: G01, open: 'monespace:/', expct: x}\n"
            "  - {guide: G01, open: 'monespace:/', click: x, expect_status: 99}\n"
            "  - {guide: G01, open: 'monespace:/', say: a, say: b}\n")
    found = problems(text)
    assert [p.split(": ", 1)[0] for p in found] == [
        "f.yaml:1:7", "f.yaml:2:10", "f.yaml:4:39", "f.yaml:5:39", "f.yaml:5:64", "f.yaml:6:47"]
    assert found[0].endswith("'name' must be a text, got the number 3")
    assert found[4].endswith("step 2: 'expect_status' must be 100 or more, got the number 99")
    assert found[5].endswith("duplicate key 'say' (YAML would keep only the last one)")


@pytest.mark.parametrize("text, expected", [
    ("steps:\n  - {guide: G01, open: 'monespace:/'\n", ("f.yaml:3:1: not valid YAML: expected ',' or '}', "
                                                        "but got '<stream end>'")),
    ("- a\n", ("f.yaml:1:1: a scenario is a mapping with 'name', 'title', 'persona' (optional) and a list of "
              "'steps'")),
    ("name: x\n", "f.yaml:1:1: 'steps' is missing: a scenario is a list of steps"),
    ("name: x\nsteps: []\n", "f.yaml:2:8: 'steps' must not be empty"),
])
def test_files_that_are_not_scenarios_at_all(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_load_refuses_a_file_listing_each_problem_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(VALID + '    expct: ["x"]\n  - {guide: G99, open: "monespace:/"}\n', encoding="utf-8")
    with pytest.raises(model.ScenarioError) as refused:
        model.load(path)
    assert str(refused.value).splitlines() == [
        f"{path}:8:5: step 1: unknown key 'expct' in a step (did you mean 'expect'?)",
        (f"{path}:9:13: step 2: 'guide' must name guide steps G01…G26 (G03, or a list [G03, G09]), got the text "
        "'G99'")]


# -- fedsim scenario check / schema -------------------------------------------------------------------

def test_check_prints_ok_per_valid_file_and_exits_0() -> None:
    result = CliRunner().invoke(cli, ["scenario", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:-1] == [f"OK {model.load(p).name}" for p in SHIPPED]
    assert lines[-1] == f"{len(SHIPPED)} scenario files checked: {len(SHIPPED)} valid"


def test_check_prints_each_problem_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "a-good.yaml").write_text(VALID, encoding="utf-8")
    (tmp_path / "b-bad.yaml").write_text(VALID + "    expct: x\n  - {guide: G01}\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a scenario", encoding="utf-8")
    result = CliRunner().invoke(cli, ["scenario", "check", str(tmp_path)])
    assert result.exit_code == 1
    bad = tmp_path / "b-bad.yaml"
    assert result.output.splitlines() == [
        "OK fine",
        f"{bad}:8:5: step 1: unknown key 'expct' in a step (did you mean 'expect'?)",
        (f"{bad}:9:5: step 2: exactly one action among open, click, submit, mail_link, totp, mail_code, "
        "advance_clock, oidc_login, oidc_callback is needed, this step has none"),
        "2 scenario files checked: 1 valid, 1 not valid (2 problems)"]
    one = CliRunner().invoke(cli, ["scenario", "check", str(tmp_path / "a-good.yaml")])
    assert (one.exit_code, one.output) == (0, "OK fine\n1 scenario file checked: 1 valid\n")


def test_check_refuses_a_path_that_names_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["scenario", "check", str(tmp_path / "nothing.yaml")])
    assert result.exit_code == 2 and "no scenario file or folder" in result.output
    result = CliRunner().invoke(cli, ["scenario", "check", str(tmp_path)])
    assert result.exit_code == 2 and "no scenario (*.yaml) in" in result.output


def test_the_committed_json_schema_is_what_the_model_generates() -> None:
    result = CliRunner().invoke(cli, ["scenario", "schema"])
    assert result.exit_code == 0 and result.output == schema.json_schema_text()
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema.json_schema_text(), (
        "scenarios/scenario.schema.json differs from the scenario model: regenerate it with "
        "`.venv/bin/fedsim scenario schema > scenarios/scenario.schema.json`")


def test_the_json_schema_describes_every_key() -> None:
    generated = schema.json_schema()
    assert generated["$schema"] == "http://json-schema.org/draft-07/schema#"
    objects = [generated, *generated["definitions"].values()]
    for described in objects:
        assert described["additionalProperties"] is False
        for key, prop in described["properties"].items():
            assert prop.get("description"), f"no description for {key!r}"
    step = generated["definitions"]["StepSpec"]
    assert step["oneOf"] == [{"required": [action]} for action in model.ACTIONS]


# -- the documentation lists the model's actions and keys ---------------------------------------------

def test_scenarios_readme_lists_the_models_actions_and_keys() -> None:
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    actions = re.search(r"# exactly one action:\n(.*?)# checks", readme, re.DOTALL)
    assert actions, "scenarios/README.md lost its « # exactly one action: » … « # checks » block"
    assert re.findall(r"^\s+(\w+):", actions.group(1), re.MULTILINE) == list(model.ACTIONS)
    for key in [*schema.StepSpec.model_fields, *schema.ScenarioSpec.model_fields]:
        assert f"{key}:" in readme, f"scenarios/README.md does not document {key!r}"


def test_root_readme_names_the_models_actions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = re.search(r"does one action \(([^)]*)\)", readme)
    assert sentence, "README.md lost « does one action (`open`, …) » in its Scenarios section"
    assert sorted(re.findall(r"`(\w+)`", sentence.group(1))) == sorted(model.ACTIONS)
