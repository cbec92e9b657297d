"""Personas files (issue #12): FEDSIM_PERSONAS adds or replaces personas on
top of the shipped ones; a wrong file is refused with one PersonaFileError
naming the file, the persona and the field; the shipped personas cover every
key and kind of person."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from fedsim import nrn, personas
from fedsim_harness.cli import cli

ZOE = ('  - {id: zoe, given_name: Zoé, surname: Martin, nrn: "%s", email: zoe.martin@example.be%s}\n'
       % (nrn.parse(nrn.make(date(1990, 6, 1), 42)).formatted, "%s"))


def _file(tmp_path: Path, body: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text("personas:\n" + body, encoding="utf-8")
    return path


@pytest.fixture
def overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def use(body: str) -> Path:
        path = _file(tmp_path, body)
        monkeypatch.setenv(personas.ENV_VARIABLE, str(path))
        return path
    return use


def test_the_file_adds_a_persona_and_replaces_one_by_id(overlay) -> None:
    shipped = personas.load()
    overlay(ZOE % ", language: nl, card: {number: \"593-0000001-11\", pin: \"1111\", puk: \"111111\"}"
            + '  - {id: lucas, given_name: Luc, surname: Lambert, nrn: "03.11.05-217-93", '
              'email: luc@example.be, demonstrates: "remplacé"}\n')
    people = {p.id: p for p in personas.load()}
    assert len(people) == len(shipped) + 1
    assert people["zoe"].language == "nl" and people["zoe"].card.pin == "1111"
    assert people["lucas"].given_name == "Luc" and people["lucas"].card is None  # replaced as a whole
    assert personas.by_id("zoe").surname == "Martin"
    assert people["jean"] == next(p for p in shipped if p.id == "jean")  # others untouched


def test_without_the_variable_only_the_shipped_personas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(personas.ENV_VARIABLE, raising=False)
    assert "zoe" not in {p.id for p in personas.load()}


def test_a_changed_file_is_read_again(overlay) -> None:
    path = overlay(ZOE % "")
    assert personas.by_id("zoe").language == "fr"
    path.write_text("personas:\n" + ZOE % ", language: de, demonstrates: \"Deutsch\"", encoding="utf-8")
    assert personas.by_id("zoe").language == "de"


@pytest.mark.parametrize(("body", "expected"), [
    ('  - {id: x, given_name: X, surname: Y, nrn: "85.03.12-154-32", email: x@example.be}\n',
     "persona 'x' (#1), field nrn: not a valid national register or BIS number (the check digits do not match)"),
    (ZOE % ", colour: red", "persona 'zoe' (#1), field colour: unknown key"),
    (ZOE % ", card: {number: 5921234567, pin: \"1234\", puk: \"123456\"}",
     "persona 'zoe' (#1), field card.number: must be a valid string, got int 5921234567"),
    (ZOE % ", card: {number: \"59-12345\", pin: \"1234\", puk: \"123456\"}",
     "persona 'zoe' (#1), field card.number: wrong format, got '59-12345'"),
    (ZOE % ", language: es", "persona 'zoe' (#1), field language: must be 'fr', 'nl', 'de' or 'en', got 'es'"),
    (ZOE % "" + ZOE % "", "persona 'zoe' (#2), field id: duplicate id (already persona #1)"),
    ('  - {given_name: X, surname: Y, nrn: "85.03.12-154-31", email: x@example.be}\n',
     "persona #1, field id: missing"),
    (ZOE % ", cards: [{number: \"593-0000002-22\", pin: \"1234\", puk: \"123456\", state: lost}]",
     "persona 'zoe' (#1), field cards.0.state: must be 'valid', 'expired' or 'revoked', got 'lost'"),
    (ZOE % ", itsme: {phone: \"+32 470 00 00 01\", code: \"12345\"}",
     "an itsme account needs a Belgian eID card"),
    (ZOE % ", card: {number: \"592-3841567-21\", pin: \"1234\", puk: \"123456\"}",
     "persona 'zoe', field card number: 592-3841567-21 is already persona 'naima''s"),
    (ZOE % ", attributes: {egovNRN: [\"1\"]}", "field attributes: egovNRN: CSAM releases it already"),
    (ZOE % ", eidas: {country: BE, national_id: \"1\", birth_date: 1990-06-01}",
     "field eidas.country: an eIDAS node of another country than BE"),
    (ZOE % ", bel_agent: {username: agent.x, password: court}", "field bel_agent.password: String should have"),
])
def test_a_wrong_file_says_where_and_what(tmp_path: Path, body: str, expected: str) -> None:
    path = _file(tmp_path, body)
    with pytest.raises(personas.PersonaFileError) as wrong:
        personas.check(path)
    message = str(wrong.value)
    assert message.startswith(f"{path}: ") and expected in message and "\n" not in message


def test_not_yaml_and_no_list_are_refused_too(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("personas: [\n", encoding="utf-8")
    with pytest.raises(personas.PersonaFileError, match="not YAML at line"):
        personas.check(bad)
    with pytest.raises(personas.PersonaFileError, match="cannot read it"):
        personas.check(tmp_path / "missing.yaml")


def test_a_wrong_overlay_fails_load_everywhere(overlay) -> None:
    overlay(ZOE % ", language: es")
    with pytest.raises(personas.PersonaFileError, match="field language"):
        personas.load()


def test_a_foreign_national_with_a_bis_number(tmp_path: Path) -> None:
    bis = nrn.make(date(1991, 2, 3), 7, bis="sex-known")
    body = (f'  - {{id: ola, given_name: Ola, surname: Nordmann, nrn: "{bis}", email: ola@example.no, '
            f'nationality: norvégienne, eidas: {{country: "NO", national_id: "03029112345", '
            f'birth_date: 1991-02-03, loa: high}}}}\n')
    ola = next(p for p in personas.check(_file(tmp_path, body)) if p.id == "ola")
    assert ola.is_bis and ola.birth_date == date(1991, 2, 3) and ola.nationality == "norvégienne"
    assert ola.eidas.person_identifier == "NO/BE/03029112345" and ola.eidas.loa == "high"
    with pytest.raises(personas.PersonaFileError, match="a BIS number is for a foreign national"):
        personas.check(_file(tmp_path, body.replace("nationality: norvégienne, ", ""), "belge.yaml"))


def test_the_cli_checks_a_file_in_one_line(tmp_path: Path) -> None:
    good = _file(tmp_path, ZOE % "", "good.yaml")
    done = CliRunner().invoke(cli, ["personas", "--check", str(good)])
    assert done.exit_code == 0 and done.output.startswith("OK: ") and "14 personas" in done.output
    bad = _file(tmp_path, ZOE % ", language: es", "bad.yaml")
    done = CliRunner().invoke(cli, ["personas", "--check", str(bad)])
    assert done.exit_code == 1 and done.output.count("\n") == 1
    assert "bad.yaml: persona 'zoe' (#1), field language" in done.output


def test_the_cli_lists_the_added_personas(overlay) -> None:
    overlay(ZOE % "")
    done = CliRunner().invoke(cli, ["personas"])
    assert done.exit_code == 0 and "zoe" in done.output and "Zoé Martin" in done.output


# -- what ships ---------------------------------------------------------------------------


def test_the_five_first_personas_are_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(personas.ENV_VARIABLE, raising=False)
    people = {p.id: p for p in personas.load()}
    assert (people["naima"].nrn, people["naima"].card.pin, people["naima"].csam.password) == (
        "85031215431", "1234", "Naima-CSAM-2024")
    assert people["jean"].monespace.cerbere_username == "jdupont" and people["jean"].card.number == "592-1029384-75"
    assert people["lucas"].card.pin == "2580" and people["sofie"].language == "nl"
    assert people["claire"].monespace.contexts == (
        "Citoyen", "Membre du personnel de l'enseignement", "Pouvoir organisateur")
    # moved from idp_csam/data/cards.yaml and itsme_users.yaml
    assert [(c.number, c.state) for c in people["naima"].cards] == [("591-2208734-12", "expired")]
    assert [(c.number, c.state) for c in people["jean"].cards] == [("591-8806125-40", "revoked")]
    assert (people["jean"].itsme.phone, people["jean"].itsme.code) == ("+32 471 23 45 67", "25836")


def test_the_shipped_personas_cover_every_key_and_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(personas.ENV_VARIABLE, raising=False)
    people = personas.load()
    assert len(people) >= 12 and all(p.demonstrates for p in people)
    assert any(p.card for p in people) and any(p.itsme for p in people) and any(p.csam for p in people)
    assert any(p.eidas for p in people) and any(p.bel_agent for p in people)
    states = {c.state for p in people for c in p.cards}
    assert {"expired", "revoked"} <= states
    assert any(p.birth_date and p.birth_date > date(2008, 1, 1) for p in people)  # a minor in 2026
    assert {"nl", "de"} <= {p.language for p in people}
    assert any(p.is_bis and p.csam and p.nationality != "belge" for p in people)  # registered at a BEL
    contexts = {c for p in people if p.monespace for c in p.monespace.contexts}
    assert {"Citoyen", "Membre du personnel de l'enseignement", "Pouvoir organisateur"} <= contexts
    assert any(p.monespace and p.monespace.cerbere_password for p in people)
    assert any(p.attributes for p in people)


def test_a_wrong_overlay_stops_any_command_in_one_line(overlay, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from fedsim_harness.cli import main
    from fedsim_harness.cli.exit import Exit

    path = overlay(ZOE % ", language: es")
    monkeypatch.setattr("sys.argv", ["fedsim", "scenario", "list"])
    assert main() == Exit.FAILED
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {path}: persona 'zoe' (#1), field language") and err.count("\n") == 1
